/* Internal: the pieces the NEON and dot-product versions of dot_q6_k_q8_k share (kernels/dot_q8_k.h states the
 * arithmetic). Included only by arm64 kernel files. */
#ifndef BN_KERNELS_DOT_Q8_K_NEON_H
#define BN_KERNELS_DOT_Q8_K_NEON_H

#include <arm_neon.h>
#include <string.h>

#include "kernels/kernels.h"

/* Half h (0, 1) of a block_q6_K as eight vectors of 16 unsigned codes (0..63): c[m] holds elements
 * 128h + 16m .. +16, i.e. sub-block 8h + m. Quarter k = m / 2 takes ql[l] (k = 0, 2) or ql[l + 32] (k = 1, 3),
 * its low nibble for k < 2 and its high nibble for k >= 2, and bits 2k, 2k+1 of qh[l] as bits 4, 5. */
static inline void bn_q6_k_codes_neon(const uint8_t* blk, int h, int8x16_t c[8]) {
    const uint8_t* ql = blk + BN_Q6_K_QL + 64 * h;
    const uint8_t* qh = blk + BN_Q6_K_QH + 32 * h;
    const uint8x16_t m4 = vdupq_n_u8(0xF), m2 = vdupq_n_u8(0x30);
    for (int half = 0; half < 2; half++) { /* l in 0..15, then 16..31 */
        const uint8x16_t a = vld1q_u8(ql + 16 * half), b = vld1q_u8(ql + 32 + 16 * half);
        const uint8x16_t hb = vld1q_u8(qh + 16 * half);
        c[0 + half] = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(a, m4), vandq_u8(vshlq_n_u8(hb, 4), m2)));
        c[2 + half] = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(b, m4), vandq_u8(vshlq_n_u8(hb, 2), m2)));
        c[4 + half] = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(a, 4), vandq_u8(hb, m2)));
        c[6 + half] = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(b, 4), vandq_u8(vshrq_n_u8(hb, 2), m2)));
    }
}

/* sum_k scales[k] * bsums[k] of one block (times 32 it is the offset of the unsigned codes in isum). */
static inline int32_t bn_q8_k_scale_bsums_neon(const int8_t* sc, const bn_block_q8_k* q) {
    const int8x16_t s = vld1q_s8(sc);
    int32x4_t acc = vmull_s16(vget_low_s16(vmovl_s8(vget_low_s8(s))), vld1_s16(q->bsums));
    acc = vmlal_s16(acc, vget_high_s16(vmovl_s8(vget_low_s8(s))), vld1_s16(q->bsums + 4));
    acc = vmlal_s16(acc, vget_low_s16(vmovl_high_s8(s)), vld1_s16(q->bsums + 8));
    acc = vmlal_s16(acc, vget_high_s16(vmovl_high_s8(s)), vld1_s16(q->bsums + 12));
    return vaddvq_s32(acc);
}

static inline float bn_q6_k_d_neon(const uint8_t* blk) {
    uint16_t dh;
    memcpy(&dh, blk + BN_Q6_K_D, sizeof dh);
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(dh))), 0);
}

/* The NEON and dot-product versions differ only in pair_dot: *s0, *s1 + the codes of sub-blocks m, m+1 (c0, c1)
 * times their 32 Q8_K values at q8, each sub-block times its scale (sc0, sc1), spread over the int32 lanes of s0 and
 * s1 in whatever way suits the instructions (only the sum of all eight lanes counts). Each file passes its own; the
 * bodies below are inlined into its entry points, and the call through the pointer with them. */
typedef void bn_q6_k_pair_dot_fn(int32x4_t* s0, int32x4_t* s1, int8x16_t c0, int8x16_t c1, const int8_t* q8,
                                 int8_t sc0, int8_t sc1);

/* s0, s1 + the codes c of a half-block . its Q8_K values q8, each sub-block m times its scale sc[m] */
#define BN_Q6_K_INLINE static inline __attribute__((always_inline))
BN_Q6_K_INLINE void bn_q6_k_half_dot_neon(int32x4_t* s0, int32x4_t* s1, const int8x16_t c[8], const int8_t* q8,
                                          const int8_t* sc, bn_q6_k_pair_dot_fn* pair_dot) {
    for (int m = 0; m < 8; m += 2) pair_dot(s0, s1, c[m], c[m + 1], q8 + 16 * m, sc[m], sc[m + 1]);
}

/* isum of a block from its lane sums s0 + s1: minus 32 * sum_k scales[k] * bsums[k] (the codes' offset). */
static inline int32_t bn_q6_k_isum_neon(int32x4_t s0, int32x4_t s1, const int8_t* sc, const bn_block_q8_k* q) {
    return vaddvq_s32(vaddq_s32(s0, s1)) - 32 * bn_q8_k_scale_bsums_neon(sc, q);
}

BN_Q6_K_INLINE float bn_dot_q6_k_q8_k_body_neon(const void* w, const bn_block_q8_k* q, int64_t n,
                                                bn_q6_k_pair_dot_fn* pair_dot) {
    const uint8_t* b = (const uint8_t*)w;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / BN_Q6_K_BLOCK; i++, b += BN_Q6_K_BYTES, q++) {
        bn_q6_k_prefetch(b);
        const int8_t* sc = (const int8_t*)(b + BN_Q6_K_SCALES);
        int32x4_t s0 = vdupq_n_s32(0), s1 = vdupq_n_s32(0);
        for (int h = 0; h < 2; h++) {
            int8x16_t c[8];
            bn_q6_k_codes_neon(b, h, c);
            bn_q6_k_half_dot_neon(&s0, &s1, c, q->qs + 128 * h, sc + 8 * h, pair_dot);
        }
        acc = bn_q8_k_step(acc, bn_q6_k_d_neon(b), q->d, bn_q6_k_isum_neon(s0, s1, sc, q));
    }
    return acc;
}

/* Four tokens share each unpacking of the weight block; nt != 4 takes single, the file's own single dot. */
BN_Q6_K_INLINE void bn_dot_q6_k_q8_k_x4_body_neon(const void* w, const bn_block_q8_k* q, int64_t q_stride, int32_t nt,
                                                  int64_t n, float* out, bn_q6_k_pair_dot_fn* pair_dot,
                                                  bn_dot_q6_k_q8_k_fn* single) {
    if (bn_dot_q6_k_q8_k_x4_singles(w, q, q_stride, nt, n, out, single)) return;
    const uint8_t* b = (const uint8_t*)w;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t i = 0; i < n / BN_Q6_K_BLOCK; i++, b += BN_Q6_K_BYTES) {
        bn_q6_k_prefetch(b);
        const int8_t* sc = (const int8_t*)(b + BN_Q6_K_SCALES);
        const bn_block_q8_k* qb[4] = {q + i, q + q_stride + i, q + 2 * q_stride + i, q + 3 * q_stride + i};
        int32x4_t s0[4], s1[4];
        for (int t = 0; t < 4; t++) s0[t] = s1[t] = vdupq_n_s32(0);
        for (int h = 0; h < 2; h++) {
            int8x16_t c[8];
            bn_q6_k_codes_neon(b, h, c);
            for (int t = 0; t < 4; t++)
                bn_q6_k_half_dot_neon(&s0[t], &s1[t], c, qb[t]->qs + 128 * h, sc + 8 * h, pair_dot);
        }
        const float d6 = bn_q6_k_d_neon(b);
        for (int t = 0; t < 4; t++)
            acc[t] = bn_q8_k_step(acc[t], d6, qb[t]->d, bn_q6_k_isum_neon(s0[t], s1[t], sc, qb[t]));
    }
    for (int t = 0; t < 4; t++) out[t] = acc[t];
}

#endif
