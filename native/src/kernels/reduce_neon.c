/* Reductions over float rows: NEON. */
#include <arm_neon.h>
#include <math.h>

#include "kernels/kernels.h"

float bn_abs_max_f32_neon(const float* x, int64_t n) {
    float32x4_t m0 = vdupq_n_f32(0.0f), m1 = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        m0 = vmaxq_f32(m0, vabsq_f32(vld1q_f32(x + i)));
        m1 = vmaxq_f32(m1, vabsq_f32(vld1q_f32(x + i + 4)));
    }
    float m = vmaxvq_f32(vmaxq_f32(m0, m1));
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > m) m = a;
    }
    return m;
}

void bn_install_reduce_neon(bn_kernel_table* t) {
    t->abs_max_f32 = bn_abs_max_f32_neon;
    t->abs_max_f32_impl = "neon";
}
