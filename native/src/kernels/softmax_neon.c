/* Row softmax: NEON (softmax.c defines it; exp from exp_simd.h). */
#include <arm_neon.h>
#include <math.h>

#include "kernels/exp_simd.h"
#include "kernels/kernels.h"

// x (n) in place
void bn_softmax_f32_neon(float* x, int64_t n) {
    float32x4_t vm = vdupq_n_f32(-INFINITY);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vm = vmaxq_f32(vm, vld1q_f32(x + i));
    float m = vmaxvq_f32(vm);
    for (; i < n; i++)
        if (x[i] > m) m = x[i];
    const float32x4_t mv = vdupq_n_f32(m);
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t e = bn_exp_neon(vsubq_f32(vld1q_f32(x + i), mv));
        vst1q_f32(x + i, e);
        acc = vaddq_f32(acc, e);
    }
    float sum = vaddvq_f32(acc);
    for (; i < n; i++) {
        x[i] = expf(x[i] - m);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inv));
    for (; i < n; i++) x[i] *= inv;
}

void bn_install_softmax_neon(bn_kernel_table* t) {
    t->softmax_f32 = bn_softmax_f32_neon;
    t->softmax_f32_impl = "neon";
}
