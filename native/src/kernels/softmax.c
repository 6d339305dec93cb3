/* Softmax over a row in float32 with the maximum subtracted first (as torch.softmax): scalar reference and
 * the public entry point. */
#include <math.h>

#include "core/error.h"
#include "kernels/kernels.h"

// x (n) in place
void bn_softmax_f32_scalar(float* x, int64_t n) {
    float m = x[0];
    for (int64_t i = 1; i < n; i++)
        if (x[i] > m) m = x[i];
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

void bn_install_softmax_scalar(bn_kernel_table* t) {
    t->softmax_f32 = bn_softmax_f32_scalar;
    t->softmax_f32_impl = "scalar";
}

// x (rows,n) in place, each row separately
bn_status bn_softmax_f32(float* x, int64_t rows, int64_t n) {
    BN_REQUIRE_ARG(x != NULL, "bn_softmax_f32: x must not be null");
    BN_REQUIRE_ARG(rows >= 0 && n > 0, "bn_softmax_f32: rows (%lld) must be >= 0 and n (%lld) > 0", (long long)rows,
                   (long long)n);
    bn_kernels_init();
    for (int64_t r = 0; r < rows; r++) bn_kernels.softmax_f32(x + r * n, n);
    return BN_OK;
}
