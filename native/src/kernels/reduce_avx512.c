/* Reductions over float rows: AVX-512 (the tail uses a mask, so there is no scalar loop). */
#include <immintrin.h>

#include "kernels/kernels.h"

float bn_abs_max_f32_avx512(const float* x, int64_t n) {
    __m512 m0 = _mm512_setzero_ps(), m1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(m0, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
        m1 = _mm512_max_ps(m1, _mm512_abs_ps(_mm512_loadu_ps(x + i + 16)));
    }
    for (; i < n; i += 16) {
        int64_t left = n - i;
        __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        m0 = _mm512_max_ps(m0, _mm512_abs_ps(_mm512_maskz_loadu_ps(k, x + i)));
    }
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

void bn_install_reduce_avx512(bn_kernel_table* t) {
    t->abs_max_f32 = bn_abs_max_f32_avx512;
    t->abs_max_f32_impl = "avx512";
}
