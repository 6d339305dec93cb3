/* RMSNorm (Zhang & Sennrich 2019) as HF's BitNetRMSNorm computes it in float32:
 *   variance = mean(x²); x = x * rsqrt(variance + eps); out = weight * x
 * Scalar reference and the public entry point. */
#include <math.h>

#include "core/error.h"
#include "kernels/kernels.h"

// x (n), weight (n) -> out (n); out may alias x
void bn_rmsnorm_f32_scalar(const float* x, const float* weight, int64_t n, float eps, float* out) {
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    const float r = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++) out[i] = (x[i] * r) * weight[i];
}

void bn_install_rmsnorm_scalar(bn_kernel_table* t) {
    t->rmsnorm_f32 = bn_rmsnorm_f32_scalar;
    t->rmsnorm_f32_impl = "scalar";
}

// x (T,C), weight (C) -> out (T,C)
bn_status bn_rmsnorm_f32(const float* x, const float* weight, int64_t T, int64_t C, float eps, float* out) {
    BN_REQUIRE_ARG(x != NULL && weight != NULL && out != NULL, "bn_rmsnorm_f32: x, weight and out must not be null");
    BN_REQUIRE_ARG(T >= 0 && C > 0, "bn_rmsnorm_f32: T (%lld) must be >= 0 and C (%lld) > 0", (long long)T,
                   (long long)C);
    BN_REQUIRE_ARG(eps >= 0.0f, "bn_rmsnorm_f32: eps (%g) must be >= 0", (double)eps);
    bn_kernels_init();
    for (int64_t t = 0; t < T; t++) bn_kernels.rmsnorm_f32(x + t * C, weight, C, eps, out + t * C);
    return BN_OK;
}
