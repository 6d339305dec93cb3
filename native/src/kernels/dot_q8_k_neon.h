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

#endif
