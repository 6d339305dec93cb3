/* Quantizer kernels: AVX2. Same results as quantize.c bit for bit: the max is taken on integer bits (exact
 * in any order), products are single float multiplies, rounding is round-half-even (vroundps with
 * _MM_FROUND_TO_NEAREST_INT, the same as nearbyintf in the default mode), and the clamp happens in float
 * before the exact float -> int conversion. The double sum keeps the scalar version's 16 lanes. */
#include <immintrin.h>

#include "kernels/kernels.h"
#include "kernels/quantize_common.h"

/* round half to even, no exceptions (an immediate: a macro, since clang wants a literal constant) */
#define BN_ROUND_NEAREST_EVEN (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* Rounds, clamps and narrows 32 floats (already multiplied) to 32 int8 in order. */
static inline __m256i round_clamp_pack32(__m256 v0, __m256 v1, __m256 v2, __m256 v3, __m256 lo, __m256 hi) {
    v0 = _mm256_min_ps(_mm256_max_ps(_mm256_round_ps(v0, BN_ROUND_NEAREST_EVEN), lo), hi);
    v1 = _mm256_min_ps(_mm256_max_ps(_mm256_round_ps(v1, BN_ROUND_NEAREST_EVEN), lo), hi);
    v2 = _mm256_min_ps(_mm256_max_ps(_mm256_round_ps(v2, BN_ROUND_NEAREST_EVEN), lo), hi);
    v3 = _mm256_min_ps(_mm256_max_ps(_mm256_round_ps(v3, BN_ROUND_NEAREST_EVEN), lo), hi);
    __m256i p01 = _mm256_packs_epi32(_mm256_cvttps_epi32(v0), _mm256_cvttps_epi32(v1));
    __m256i p23 = _mm256_packs_epi32(_mm256_cvttps_epi32(v2), _mm256_cvttps_epi32(v3));
    __m256i b = _mm256_packs_epi16(p01, p23); /* dwords: v0[0:4] v1[0:4] v2[0:4] v3[0:4] v0[4:8] ... */
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static void scale_round_clamp(const float* x, int64_t n, float s, float lo, float hi, int8_t* q) {
    const __m256 vs = _mm256_set1_ps(s), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 v0 = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
        __m256 v1 = _mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vs);
        __m256 v2 = _mm256_mul_ps(_mm256_loadu_ps(x + i + 16), vs);
        __m256 v3 = _mm256_mul_ps(_mm256_loadu_ps(x + i + 24), vs);
        _mm256_storeu_si256((__m256i*)(q + i), round_clamp_pack32(v0, v1, v2, v3, vlo, vhi));
    }
    for (; i < n; i++) q[i] = bn_round_clamp_i8(x[i] * s, lo, hi);
}

int bn_quantize_act_i8_avx2(const float* x, int64_t n, int8_t* q, float* a) {
    const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF);
    __m256i m0 = _mm256_setzero_si256(), m1 = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_epu32(m0, _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(x + i)), abs_mask));
        m1 = _mm256_max_epu32(m1, _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(x + i + 8)), abs_mask));
    }
    m0 = _mm256_max_epu32(m0, m1);
    __m128i h = _mm_max_epu32(_mm256_castsi256_si128(m0), _mm256_extracti128_si256(m0, 1));
    h = _mm_max_epu32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    h = _mm_max_epu32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
    uint32_t m = (uint32_t)_mm_cvtsi128_si32(h);
    for (; i < n; i++) {
        uint32_t b = bn_abs_bits(x[i]);
        if (b > m) m = b;
    }
    if (m >= BN_NONFINITE_BITS) return 1;
    const float s = bn_act_i8_multiplier(bn_bits_to_float(m));
    scale_round_clamp(x, n, s, -128.0f, 127.0f, q);
    *a = s;
    return 0;
}

double bn_abs_sum_f64_avx2(const float* x, int64_t n) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256d l0 = _mm256_setzero_pd(), l1 = _mm256_setzero_pd(), l2 = _mm256_setzero_pd(), l3 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask);
        __m256 b = _mm256_and_ps(_mm256_loadu_ps(x + i + 8), abs_mask);
        l0 = _mm256_add_pd(l0, _mm256_cvtps_pd(_mm256_castps256_ps128(a)));
        l1 = _mm256_add_pd(l1, _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)));
        l2 = _mm256_add_pd(l2, _mm256_cvtps_pd(_mm256_castps256_ps128(b)));
        l3 = _mm256_add_pd(l3, _mm256_cvtps_pd(_mm256_extractf128_ps(b, 1)));
    }
    double l[BN_ABS_SUM_LANES];
    _mm256_storeu_pd(l, l0);
    _mm256_storeu_pd(l + 4, l1);
    _mm256_storeu_pd(l + 8, l2);
    _mm256_storeu_pd(l + 12, l3);
    for (; i < n; i++) l[i % BN_ABS_SUM_LANES] += fabs((double)x[i]);
    return bn_abs_sum_fold(l);
}

void bn_quantize_ternary_avx2(const float* x, int64_t n, float s, int8_t* q) {
    scale_round_clamp(x, n, s, -1.0f, 1.0f, q);
}

void bn_install_quantize_avx2(bn_kernel_table* t) {
    t->quantize_act_i8 = bn_quantize_act_i8_avx2;
    t->quantize_act_i8_impl = "avx2";
    t->abs_sum_f64 = bn_abs_sum_f64_avx2;
    t->abs_sum_f64_impl = "avx2";
    t->quantize_ternary = bn_quantize_ternary_avx2;
    t->quantize_ternary_impl = "avx2";
}
