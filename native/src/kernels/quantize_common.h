/* Internal: the pieces every version of the quantizer kernels (kernels/quantize*.c) shares, so that the
 * scalar and vector versions cannot drift apart in the parts that decide the result. */
#ifndef BN_KERNELS_QUANTIZE_COMMON_H
#define BN_KERNELS_QUANTIZE_COMMON_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* |x| as IEEE bits. For non-negative floats the unsigned order of the bits is the numeric order, and every
 * NaN or infinity has bits >= BN_NONFINITE_BITS: one integer max over abs_bits gives max |x| exactly (max is
 * associative, so any order gives the same answer) and says whether a NaN/infinity was present. */
#define BN_NONFINITE_BITS 0x7F800000u
static inline uint32_t bn_abs_bits(float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b & 0x7FFFFFFFu;
}
static inline float bn_bits_to_float(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* HF ActQuant's multiplier, as torch computes it in float32:
 * 127 / activation.abs().max(dim=-1).clamp_(min=1e-5) -> 127.0f / max(absmax, 1e-5f). */
static inline float bn_act_i8_multiplier(float absmax) { return 127.0f / (absmax > 1e-5f ? absmax : 1e-5f); }

/* round half to even (the default rounding mode), then clamp; v is a float product, never NaN here. */
static inline int8_t bn_round_clamp_i8(float v, float lo, float hi) {
    float r = nearbyintf(v);
    if (r < lo) r = lo;
    if (r > hi) r = hi;
    return (int8_t)r;
}

/* abs_sum_f64 adds |x[i]| into lane i % 16 (in double, in increasing i), then folds the lanes in this tree:
 * l[k] += l[k+8] (k < 8), l[k] += l[k+4] (k < 4), l[k] += l[k+2], l[0] += l[1]. Vector versions keep 16
 * lanes in registers and end with this same function. */
#define BN_ABS_SUM_LANES 16
static inline double bn_abs_sum_fold(double l[BN_ABS_SUM_LANES]) {
    for (int w = BN_ABS_SUM_LANES / 2; w >= 1; w /= 2)
        for (int k = 0; k < w; k++) l[k] += l[k + w];
    return l[0];
}

#endif
