/* Internal: the NEON unpacking of one I2_S block, shared by tmatmul_neon.c and tmatmul_dotprod.c (it needs only
 * baseline Armv8-A NEON, so either file's flags compile it). Include after <arm_neon.h> and "kernels/tmatmul.h". */
#ifndef BN_TMATMUL_NEON_UNPACK_H
#define BN_TMATMUL_NEON_UNPACK_H

/* The eight code vectors of one block: codes of weights 16i..16i+15 in c[i]. */
BN_TM_INLINE void unpack(const uint8_t* p, int8x16_t c[8]) {
    const uint8x16_t m3 = vdupq_n_u8(3);
    const uint8x16_t v0 = vld1q_u8(p), v1 = vld1q_u8(p + 16);
    c[0] = vreinterpretq_s8_u8(vshrq_n_u8(v0, 6));
    c[1] = vreinterpretq_s8_u8(vshrq_n_u8(v1, 6));
    c[2] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v0, 4), m3));
    c[3] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v1, 4), m3));
    c[4] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v0, 2), m3));
    c[5] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v1, 2), m3));
    c[6] = vreinterpretq_s8_u8(vandq_u8(v0, m3));
    c[7] = vreinterpretq_s8_u8(vandq_u8(v1, m3));
}

#endif
