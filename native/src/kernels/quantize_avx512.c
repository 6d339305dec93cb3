/* Quantizer kernels: AVX-512 (F and BW only; tails use masks, so there is no scalar loop). Same results as
 * quantize.c bit for bit, for the reasons quantize_avx2.c gives; vrndscaleps with _MM_FROUND_TO_NEAREST_INT
 * is round-half-even, and masked-off lanes load as +0.0, which changes neither a max nor a sum of |x|. */
#include <immintrin.h>

#include "kernels/kernels.h"
#include "kernels/quantize_common.h"

/* round half to even, no exceptions (an immediate: a macro, since clang wants a literal constant) */
#define BN_ROUND_NEAREST_EVEN (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

static void scale_round_clamp(const float* x, int64_t n, float s, float lo, float hi, int8_t* q) {
    const __m512 vs = _mm512_set1_ps(s), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 v0 = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vs), BN_ROUND_NEAREST_EVEN);
        __m512 v1 = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i + 16), vs), BN_ROUND_NEAREST_EVEN);
        v0 = _mm512_min_ps(_mm512_max_ps(v0, vlo), vhi);
        v1 = _mm512_min_ps(_mm512_max_ps(v1, vlo), vhi);
        _mm_storeu_si128((__m128i*)(q + i), _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(v0)));
        _mm_storeu_si128((__m128i*)(q + i + 16), _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(v1)));
    }
    for (; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 v = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vs), BN_ROUND_NEAREST_EVEN);
        v = _mm512_min_ps(_mm512_max_ps(v, vlo), vhi);
        _mm512_mask_cvtsepi32_storeu_epi8(q + i, k, _mm512_cvttps_epi32(v));
    }
}

int bn_quantize_act_i8_avx512(const float* x, int64_t n, int8_t* q, float* a) {
    const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF);
    __m512i m0 = _mm512_setzero_si512(), m1 = _mm512_setzero_si512();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_epu32(m0, _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(x + i)), abs_mask));
        m1 = _mm512_max_epu32(m1, _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(x + i + 16)), abs_mask));
    }
    for (; i < n; i += 16) {
        __m512i v = _mm512_castps_si512(_mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
        m0 = _mm512_max_epu32(m0, _mm512_and_si512(v, abs_mask));
    }
    uint32_t m = (uint32_t)_mm512_reduce_max_epu32(_mm512_max_epu32(m0, m1));
    if (m >= BN_NONFINITE_BITS) return 1;
    const float s = bn_act_i8_multiplier(bn_bits_to_float(m));
    scale_round_clamp(x, n, s, -128.0f, 127.0f, q);
    *a = s;
    return 0;
}

double bn_abs_sum_f64_avx512(const float* x, int64_t n) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m512d l0 = _mm512_setzero_pd(), l1 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        l0 = _mm512_add_pd(l0, _mm512_cvtps_pd(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask)));
        l1 = _mm512_add_pd(l1, _mm512_cvtps_pd(_mm256_and_ps(_mm256_loadu_ps(x + i + 8), abs_mask)));
    }
    if (i < n) { /* lanes past n add +0.0, which leaves them unchanged */
        __mmask16 k = tail_mask(n - i);
        __m512 v = _mm512_abs_ps(_mm512_maskz_loadu_ps(k, x + i));
        l0 = _mm512_add_pd(l0, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        l1 = _mm512_add_pd(l1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
    }
    double l[BN_ABS_SUM_LANES];
    _mm512_storeu_pd(l, l0);
    _mm512_storeu_pd(l + 8, l1);
    return bn_abs_sum_fold(l);
}

void bn_quantize_ternary_avx512(const float* x, int64_t n, float s, int8_t* q) {
    scale_round_clamp(x, n, s, -1.0f, 1.0f, q);
}

void bn_install_quantize_avx512(bn_kernel_table* t) {
    t->quantize_act_i8 = bn_quantize_act_i8_avx512;
    t->quantize_act_i8_impl = "avx512";
    t->abs_sum_f64 = bn_abs_sum_f64_avx512;
    t->abs_sum_f64_impl = "avx512";
    t->quantize_ternary = bn_quantize_ternary_avx512;
    t->quantize_ternary_impl = "avx512";
}
