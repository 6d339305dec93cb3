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

/* The AVX2 and AVX-VNNI versions differ only in one step, scale_add(s, p, sc): s + the int16 pairs p times the
 * int16 scale pairs sc, in int32 (vpmaddwd + vpaddd, or vpdpwssd). Each file passes its own; the bodies below are
 * inlined into its entry points, and the call through the pointer with them. */
typedef __m256i bn_q6_k_scale_add_fn(__m256i s, __m256i p, __m256i sc);

/* Per 32 elements, vpmaddubsw multiplies the unsigned 6-bit codes by the signed Q8_K values into int16 pairs (at
 * most 2 * 63 * 127, no saturation) and scale_add multiplies those by the sub-block scales into int32; the -32
 * offset comes off once per block through bsums. */
static inline __attribute__((always_inline)) float bn_dot_q6_k_q8_k_256(const void* w, const bn_block_q8_k* q,
                                                                         int64_t n, bn_q6_k_scale_add_fn* scale_add) {
    const uint8_t* b = (const uint8_t*)w;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / BN_Q6_K_BLOCK; i++, b += BN_Q6_K_BYTES, q++) {
        bn_q6_k_prefetch(b);
        const __m128i sc8 = _mm_loadu_si128((const __m128i*)(b + BN_Q6_K_SCALES));
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i c[4];
            bn_q6_k_codes_256(b, h, c);
            const int8_t* q8 = q->qs + 128 * h;
            for (int k = 0; k < 4; k += 2) {
                const __m256i p0 = _mm256_maddubs_epi16(c[k], _mm256_loadu_si256((const __m256i*)(q8 + 32 * k)));
                const __m256i p1 =
                    _mm256_maddubs_epi16(c[k + 1], _mm256_loadu_si256((const __m256i*)(q8 + 32 * k + 32)));
                s0 = scale_add(s0, p0, bn_q6_k_scale_pair(sc8, 8 * h + 2 * k));
                s1 = scale_add(s1, p1, bn_q6_k_scale_pair(sc8, 8 * h + 2 * k + 2));
            }
        }
        const __m256i s = _mm256_sub_epi32(_mm256_add_epi32(s0, s1), bn_q8_k_offset_256(sc8, q));
        acc = bn_q8_k_step(acc, bn_q6_k_d(b), q->d, bn_hsum_i32_256(s));
    }
    return acc;
}

/* Four tokens share each unpacking of the weight block; nt != 4 takes single, the file's own single dot. */
static inline __attribute__((always_inline)) void bn_dot_q6_k_q8_k_x4_256(const void* w, const bn_block_q8_k* q,
                                                                           int64_t q_stride, int32_t nt, int64_t n,
                                                                           float* out, bn_q6_k_scale_add_fn* scale_add,
                                                                           bn_dot_q6_k_q8_k_fn* single) {
    if (bn_dot_q6_k_q8_k_x4_singles(w, q, q_stride, nt, n, out, single)) return;
    const uint8_t* b = (const uint8_t*)w;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t i = 0; i < n / BN_Q6_K_BLOCK; i++, b += BN_Q6_K_BYTES) {
        bn_q6_k_prefetch(b);
        const __m128i sc8 = _mm_loadu_si128((const __m128i*)(b + BN_Q6_K_SCALES));
        const bn_block_q8_k* qb[4] = {q + i, q + q_stride + i, q + 2 * q_stride + i, q + 3 * q_stride + i};
        __m256i s[4];
        for (int t = 0; t < 4; t++) s[t] = _mm256_sub_epi32(_mm256_setzero_si256(), bn_q8_k_offset_256(sc8, qb[t]));
        for (int h = 0; h < 2; h++) {
            __m256i c[4], sc[4];
            bn_q6_k_codes_256(b, h, c);
            for (int k = 0; k < 4; k++) sc[k] = bn_q6_k_scale_pair(sc8, 8 * h + 2 * k);
            for (int t = 0; t < 4; t++) {
                const int8_t* q8 = qb[t]->qs + 128 * h;
                for (int k = 0; k < 4; k++) {
                    const __m256i p = _mm256_maddubs_epi16(c[k], _mm256_loadu_si256((const __m256i*)(q8 + 32 * k)));
                    s[t] = scale_add(s[t], p, sc[k]);
                }
            }
        }
        const float d6 = bn_q6_k_d(b);
        for (int t = 0; t < 4; t++) acc[t] = bn_q8_k_step(acc[t], d6, qb[t]->d, bn_hsum_i32_256(s[t]));
    }
    for (int t = 0; t < 4; t++) out[t] = acc[t];
}

#endif
