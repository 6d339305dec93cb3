/* Residual add and gated activations: NEON (elementwise.c defines them; exp from exp_simd.h). */
#include <arm_neon.h>
#include <math.h>

#include "kernels/exp_simd.h"
#include "kernels/kernels.h"

// x (n) += y (n)
void bn_add_f32_neon(float* x, const float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vaddq_f32(vld1q_f32(x + i), vld1q_f32(y + i)));
    for (; i < n; i++) x[i] += y[i];
}

// gate (n), up (n) -> out (n)
void bn_relu2_mul_f32_neon(const float* gate, const float* up, int64_t n, float* out) {
    const float32x4_t zero = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t r = vmaxq_f32(vld1q_f32(gate + i), zero);
        vst1q_f32(out + i, vmulq_f32(vmulq_f32(r, r), vld1q_f32(up + i)));
    }
    for (; i < n; i++) {
        const float r = gate[i] > 0.0f ? gate[i] : 0.0f;
        out[i] = (r * r) * up[i];
    }
}

// gate (n), up (n) -> out (n)
void bn_silu_mul_f32_neon(const float* gate, const float* up, int64_t n, float* out) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t g = vld1q_f32(gate + i);
        float32x4_t s = vdivq_f32(g, vaddq_f32(one, bn_exp_neon(vnegq_f32(g))));
        vst1q_f32(out + i, vmulq_f32(s, vld1q_f32(up + i)));
    }
    for (; i < n; i++) {
        const float g = gate[i];
        out[i] = (g / (1.0f + expf(-g))) * up[i];
    }
}

void bn_install_elementwise_neon(bn_kernel_table* t) {
    t->add_f32 = bn_add_f32_neon;
    t->add_f32_impl = "neon";
    t->relu2_mul_f32 = bn_relu2_mul_f32_neon;
    t->relu2_mul_f32_impl = "neon";
    t->silu_mul_f32 = bn_silu_mul_f32_neon;
    t->silu_mul_f32_impl = "neon";
}
