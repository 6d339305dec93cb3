/* Internal: AVX-512 pieces that several AVX-512 kernel files share (tmatmul_avx512.c, tmatmul_tq1_avx512.c,
 * dot_q8_k_avx512.c). Include only from files compiled with AVX-512 F. */
#ifndef BN_KERNELS_X86_AVX512_H
#define BN_KERNELS_X86_AVX512_H

#include <immintrin.h>

/* The sums of the 16 int32 lanes of a0, a1, a2, a3, as the four lanes of the result (in that order): per 128-bit
 * lane l, [sum of a0's lane l, a1's, a2's, a3's], then the four lanes added. */
static inline __m128i bn_hsum4_epi32_512(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
    const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
    const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
    const __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

#endif
