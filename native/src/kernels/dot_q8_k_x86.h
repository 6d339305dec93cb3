/* Internal: the 256-bit pieces the AVX2 and AVX-VNNI versions of dot_q6_k_q8_k share (kernels/dot_q8_k.h states
 * the arithmetic). Included only by files compiled with AVX2. */
#ifndef BN_KERNELS_DOT_Q8_K_X86_H
#define BN_KERNELS_DOT_Q8_K_X86_H

#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

/* Half h (0, 1) of a block_q6_K as four vectors of 32 unsigned codes (0..63): c[k] holds elements
 * 128h + 32k .. +32. Quarter k takes ql[l] (k = 0, 2) or ql[l + 32] (k = 1, 3), its low nibble for k < 2 and
 * its high nibble for k >= 2, and bits 2k, 2k+1 of qh[l] as bits 4, 5. */
static inline void bn_q6_k_codes_256(const uint8_t* blk, int h, __m256i c[4]) {
    const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3);
    const __m256i l0 = _mm256_loadu_si256((const __m256i*)(blk + BN_Q6_K_QL + 64 * h));
    const __m256i l1 = _mm256_loadu_si256((const __m256i*)(blk + BN_Q6_K_QL + 64 * h + 32));
    const __m256i hb = _mm256_loadu_si256((const __m256i*)(blk + BN_Q6_K_QH + 32 * h));
    /* 16-bit shifts move bits across bytes; the masks keep each byte's own */
    c[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
    c[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
    c[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
    c[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
}

/* The 16 int8 scales of a block as int16 pairs for one 32-element vector: scales[s] in the low 8 lanes,
 * scales[s + 1] in the high 8 (sub-blocks s, s+1 are that vector's two halves). */
static inline __m256i bn_q6_k_scale_pair(__m128i sc8, int s) {
    const __m128i idx = _mm_add_epi8(_mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                                     _mm_set1_epi8((char)s));
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, idx));
}

/* 32 * sum_k scales[k] * bsums[k] for one block: the offset of the unsigned codes (code - 32) in isum. */
static inline __m256i bn_q8_k_offset_256(__m128i sc8, const bn_block_q8_k* q) {
    const __m256i bs = _mm256_loadu_si256((const __m256i*)q->bsums);
    return _mm256_slli_epi32(_mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), bs), 5);
}

static inline int32_t bn_hsum_i32_256(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

static inline float bn_q6_k_d(const uint8_t* blk) {
    uint16_t dh;
    memcpy(&dh, blk + BN_Q6_K_D, sizeof dh);
    return _cvtsh_ss(dh);
}

#endif
