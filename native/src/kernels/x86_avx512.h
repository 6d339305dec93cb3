/* Internal: AVX-512 pieces that several AVX-512 kernel files share (tmatmul_avx512.c, tmatmul_tq1_avx512.c,
 * dot_q8_k_avx512.c). Include only from files compiled with AVX-512 F. */
#ifndef BN_KERNELS_X86_AVX512_H
#define BN_KERNELS_X86_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/* The sums of the 16 int32 lanes of a0, a1, a2, a3, as the four lanes of the result (in that order): per 128-bit
 * lane l, [sum of a0's lane l, a1's, a2's, a3's], then the four lanes added. */
static inline __m128i bn_hsum4_epi32_512(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
    const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
    const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
    const __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* The end of an AVX-512 ternary matmul tile for one token: y[0..R) = (float)(s_i - q_sum) * (w_scale / a) for the
 * lane sums s_i of s0..s3 (R == 1: s0 only, or 4); the subtraction wraps on uint32 (kernels/tmatmul.c's finish()). */
static inline void bn_tm_store_rows_512(int R, __m512i s0, __m512i s1, __m512i s2, __m512i s3, int32_t q_sum, float a,
                                        float w_scale, float* y) {
    const float scale = w_scale / a;
    if (R == 4) {
        const __m128i d = _mm_sub_epi32(bn_hsum4_epi32_512(s0, s1, s2, s3), _mm_set1_epi32(q_sum));
        _mm_storeu_ps(y, _mm_mul_ps(_mm_cvtepi32_ps(d), _mm_set1_ps(scale)));
    } else {
        y[0] = (float)(int32_t)((uint32_t)_mm512_reduce_add_epi32(s0) - (uint32_t)q_sum) * scale;
    }
}

/* The end of a GEMM tile: bn_tm_store_rows_512 for each of N tokens, acc[n][r] the sums of row r, token n. */
static inline void bn_tm_store_tokens_512(int R, int N, __m512i acc[4][4], const int32_t* q_sum, const float* a,
                                          float w_scale, float* y, int64_t ldy) {
    for (int n = 0; n < N; n++)
        bn_tm_store_rows_512(R, acc[n][0], acc[n][R == 4 ? 1 : 0], acc[n][R == 4 ? 2 : 0], acc[n][R == 4 ? 3 : 0],
                             q_sum[n], a[n], w_scale, y + n * ldy);
}

#endif
