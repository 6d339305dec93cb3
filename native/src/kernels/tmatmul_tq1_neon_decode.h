/* Internal: the NEON decoding of one TQ1 block, shared by tmatmul_tq1_neon.c and tmatmul_tq1_dotprod.c (baseline
 * Armv8-A NEON only, so either file's flags compile it). Layout and trit order: kernels/tmatmul_tq1.c. Include
 * after <arm_neon.h> and "kernels/tmatmul.h".
 *
 * Trit n of a byte x is ((uint8_t)(x * 3^n) * 3) >> 8: vmul.u8 gives y = x * 3^n mod 256, and
 * ((y + (y >> 1)) >> 1) >> 6 (uhadd keeps the 9-bit sum) is floor(floor(floor(3y / 2) / 2) / 64) = (3y) >> 8
 * exactly, for every byte. A block is 16 vectors of 16 codes, vector i lining up with activations 16i..16i+15:
 *     i = 2n, 2n+1 (n = 0..4)   qs[0..15], qs[16..31] times 3^n          weights   0..159
 *     i = 10 + n   (n = 0..4)   qs[32..47] times 3^n                     weights 160..239
 *     i = 15                    qh[0..3] four times, times 1, 3, 9, 27   weights 240..255 */
#ifndef BN_TMATMUL_TQ1_NEON_DECODE_H
#define BN_TMATMUL_TQ1_NEON_DECODE_H

#include <string.h>

/* The byte sources of a block: qs[0..15], qs[16..31], qs[32..47], qh[0..3] four times. */
typedef struct tq1_src {
    uint8x16_t a0, a1, b, h;
} tq1_src;

BN_TM_INLINE tq1_src tq1_load(const uint8_t* p) {
    uint32_t qh;
    memcpy(&qh, p + 48, 4);
    tq1_src s = {vld1q_u8(p), vld1q_u8(p + 16), vld1q_u8(p + 32), vreinterpretq_u8_u32(vdupq_n_u32(qh))};
    return s;
}

/* Codes 0..2 of vector i (0..15) of the block whose sources are s. */
BN_TM_INLINE int8x16_t tq1_codes(const tq1_src* s, int i) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    static const uint8_t qh_mul[16] = {1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27};
    uint8x16_t y;
    if (i < 10) {
        const uint8x16_t x = i % 2 ? s->a1 : s->a0;
        y = i < 2 ? x : vmulq_u8(x, vdupq_n_u8(pow3[i / 2]));
    } else if (i < 15) {
        y = i == 10 ? s->b : vmulq_u8(s->b, vdupq_n_u8(pow3[i - 10]));
    } else {
        y = vmulq_u8(s->h, vld1q_u8(qh_mul));
    }
    return vreinterpretq_s8_u8(vshrq_n_u8(vhaddq_u8(y, vshrq_n_u8(y, 1)), 6));
}

#endif
