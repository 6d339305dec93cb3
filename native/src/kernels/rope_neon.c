/* Rotate-half RoPE of one head: NEON (rope.c defines it). */
#include <arm_neon.h>

#include "kernels/kernels.h"

// x (2*half) in place, cos (half), sin (half)
void bn_rope_f32_neon(float* x, const float* cos, const float* sin, int64_t half) {
    int64_t i = 0;
    for (; i + 4 <= half; i += 4) {
        float32x4_t x1 = vld1q_f32(x + i), x2 = vld1q_f32(x + i + half);
        float32x4_t c = vld1q_f32(cos + i), s = vld1q_f32(sin + i);
        vst1q_f32(x + i, vsubq_f32(vmulq_f32(x1, c), vmulq_f32(x2, s)));
        vst1q_f32(x + i + half, vaddq_f32(vmulq_f32(x2, c), vmulq_f32(x1, s)));
    }
    for (; i < half; i++) {
        const float x1 = x[i], x2 = x[i + half];
        const float a = x1 * cos[i], b = x2 * sin[i], c = x2 * cos[i], d = x1 * sin[i];
        x[i] = a - b;
        x[i + half] = c + d;
    }
}

void bn_install_rope_neon(bn_kernel_table* t) {
    t->rope_f32 = bn_rope_f32_neon;
    t->rope_f32_impl = "neon";
}
