/* Reductions over float rows: scalar reference versions. */
#include <math.h>

#include "kernels/kernels.h"

float bn_abs_max_f32_scalar(const float* x, int64_t n) {
    float m = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > m) m = a;
    }
    return m;
}

void bn_install_reduce_scalar(bn_kernel_table* t) {
    t->abs_max_f32 = bn_abs_max_f32_scalar;
    t->abs_max_f32_impl = "scalar";
}
