/* RMSNorm: AVX2 (rmsnorm.c defines it). */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels.h"

static float hsum256(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}

// x (n), weight (n) -> out (n)
void bn_rmsnorm_f32_avx2(const float* x, const float* weight, int64_t n, float eps, float* out) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        a0 = _mm256_fmadd_ps(v0, v0, a0);
        a1 = _mm256_fmadd_ps(v1, v1, a1);
    }
    float ss = hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++) ss += x[i] * x[i];
    const float r = 1.0f / sqrtf(ss / (float)n + eps);
    const __m256 vr = _mm256_set1_ps(r);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vr), _mm256_loadu_ps(weight + i)));
    for (; i < n; i++) out[i] = (x[i] * r) * weight[i];
}

void bn_install_rmsnorm_avx2(bn_kernel_table* t) {
    t->rmsnorm_f32 = bn_rmsnorm_f32_avx2;
    t->rmsnorm_f32_impl = "avx2";
}
