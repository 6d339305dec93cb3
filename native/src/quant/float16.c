/* IEEE binary16 (fp16) and bfloat16 conversions, written from the IEEE 754 definitions: round to nearest,
 * ties to even, for every float, subnormals included. They are what F16C's vcvtps2ph (imm 0) and torch's
 * float -> bfloat16 cast compute; test_float16.c checks the fp16 ones against the hardware instruction. */
#include <string.h>

#include "bitnet.h"

static uint32_t f32_bits(float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static float bits_f32(uint32_t b) {
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

uint16_t bn_fp32_to_fp16(float x) {
    const uint32_t b = f32_bits(x);
    const uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
    const uint32_t a = b & 0x7FFFFFFFu;
    if (a >= 0x7F800000u) { /* infinity, or NaN made quiet with the top 10 payload bits */
        if (a == 0x7F800000u) return (uint16_t)(sign | 0x7C00u);
        return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    }
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* >= 65520, the midpoint above 65504 */
    if (a >= 0x38800000u) {
        /* Normal in fp16 (>= 2^-14): drop 13 mantissa bits rounding half to even; a carry out of the mantissa
         * correctly bumps the exponent. 0x38000000 rebiases the exponent from 127 to 15. */
        uint32_t r = a + 0x0FFFu + ((a >> 13) & 1u);
        return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
    }
    if (a < 0x33000000u) return sign; /* below 2^-25, half the smallest subnormal: rounds to zero */
    /* fp16 subnormal: the value in units of 2^-24 is m * 2^(e - 126) with m the 24-bit significand. At
     * exactly 2^-25 this is a tie that goes to the even 0; a result of 0x400 is the smallest normal. */
    const uint32_t e = a >> 23, m = (a & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126u - e; /* 14 .. 24 */
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) r++;
    return (uint16_t)(sign | r);
}

float bn_fp16_to_fp32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1Fu) return bits_f32(sign | 0x7F800000u | (m << 13));
    if (e == 0) { /* zero or subnormal: m * 2^-24, exact in float */
        float v = (float)m * 0x1p-24f;
        return bits_f32(sign | f32_bits(v));
    }
    return bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

uint16_t bn_fp32_to_bf16(float x) {
    const uint32_t b = f32_bits(x);
    if ((b & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((b >> 16) | 0x0040u); /* quiet NaN */
    return (uint16_t)((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16); /* overflow carries into infinity */
}

float bn_bf16_to_fp32(uint16_t h) { return bits_f32((uint32_t)h << 16); }
