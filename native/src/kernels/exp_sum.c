/* Shifted exponential sum (exp_sum.h defines it): the scalar reference. */
#include <math.h>

#include "kernels/kernels.h"

// x (n) -> e (n) = exp(x - m) or NULL; returns sum e
double bn_exp_sum_f32_scalar(const float* x, int64_t n, float m, float* e) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float v = expf(x[i] - m);
        if (e) e[i] = v;
        s += v;
    }
    return s;
}

void bn_install_exp_sum_scalar(bn_kernel_table* t) {
    t->exp_sum_f32 = bn_exp_sum_f32_scalar;
    t->exp_sum_f32_impl = "scalar";
}
