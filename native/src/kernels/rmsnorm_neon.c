/* RMSNorm: NEON (rmsnorm.c defines it). */
#include <arm_neon.h>
#include <math.h>

#include "kernels/kernels.h"

// x (n), weight (n) -> out (n)
void bn_rmsnorm_f32_neon(const float* x, const float* weight, int64_t n, float eps, float* out) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
        a0 = vfmaq_f32(a0, v0, v0);
        a1 = vfmaq_f32(a1, v1, v1);
    }
    float ss = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++) ss += x[i] * x[i];
    const float r = 1.0f / sqrtf(ss / (float)n + eps);
    for (i = 0; i + 4 <= n; i += 4)
        vst1q_f32(out + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), r), vld1q_f32(weight + i)));
    for (; i < n; i++) out[i] = (x[i] * r) * weight[i];
}

void bn_install_rmsnorm_neon(bn_kernel_table* t) {
    t->rmsnorm_f32 = bn_rmsnorm_f32_neon;
    t->rmsnorm_f32_impl = "neon";
}
