/* RMSNorm: AVX-512 (rmsnorm.c defines it); the tail goes through a mask, not a scalar loop. */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels.h"

// x (n), weight (n) -> out (n)
void bn_rmsnorm_f32_avx512(const float* x, const float* weight, int64_t n, float eps, float* out) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        a0 = _mm512_fmadd_ps(v0, v0, a0);
        a1 = _mm512_fmadd_ps(v1, v1, a1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = (__mmask16)(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1u);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        a0 = _mm512_fmadd_ps(v, v, a0);
    }
    const float ss = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    const float r = 1.0f / sqrtf(ss / (float)n + eps);
    const __m512 vr = _mm512_set1_ps(r);
    for (i = 0; i < n; i += 16) {
        __mmask16 m = (__mmask16)(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1u);
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vr), _mm512_maskz_loadu_ps(m, weight + i));
        _mm512_mask_storeu_ps(out + i, m, v);
    }
}

void bn_install_rmsnorm_avx512(bn_kernel_table* t) {
    t->rmsnorm_f32 = bn_rmsnorm_f32_avx512;
    t->rmsnorm_f32_impl = "avx512";
}
