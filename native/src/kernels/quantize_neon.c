/* Quantizer kernels: NEON. Same results as quantize.c bit for bit: integer max on the bits, single float
 * multiplies, vrndnq_f32 (round to nearest, ties to even), clamp in float, exact conversion, saturating
 * narrowing (which cannot bite after the clamp). The double sum keeps the scalar version's 16 lanes. */
#include <arm_neon.h>

#include "kernels/kernels.h"
#include "kernels/quantize_common.h"

static inline int16x8_t round_clamp_s16(float32x4_t a, float32x4_t b, float32x4_t lo, float32x4_t hi) {
    a = vminq_f32(vmaxq_f32(vrndnq_f32(a), lo), hi);
    b = vminq_f32(vmaxq_f32(vrndnq_f32(b), lo), hi);
    return vcombine_s16(vqmovn_s32(vcvtq_s32_f32(a)), vqmovn_s32(vcvtq_s32_f32(b)));
}

static void scale_round_clamp(const float* x, int64_t n, float s, float lo, float hi, int8_t* q) {
    const float32x4_t vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t v0 = vmulq_n_f32(vld1q_f32(x + i), s);
        float32x4_t v1 = vmulq_n_f32(vld1q_f32(x + i + 4), s);
        float32x4_t v2 = vmulq_n_f32(vld1q_f32(x + i + 8), s);
        float32x4_t v3 = vmulq_n_f32(vld1q_f32(x + i + 12), s);
        int16x8_t h0 = round_clamp_s16(v0, v1, vlo, vhi), h1 = round_clamp_s16(v2, v3, vlo, vhi);
        vst1q_s8(q + i, vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1)));
    }
    for (; i < n; i++) q[i] = bn_round_clamp_i8(x[i] * s, lo, hi);
}

int bn_quantize_act_i8_neon(const float* x, int64_t n, int8_t* q, float* a) {
    const uint32x4_t abs_mask = vdupq_n_u32(0x7FFFFFFFu);
    uint32x4_t m0 = vdupq_n_u32(0), m1 = vdupq_n_u32(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        m0 = vmaxq_u32(m0, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + i)), abs_mask));
        m1 = vmaxq_u32(m1, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + i + 4)), abs_mask));
    }
    uint32_t m = vmaxvq_u32(vmaxq_u32(m0, m1));
    for (; i < n; i++) {
        uint32_t b = bn_abs_bits(x[i]);
        if (b > m) m = b;
    }
    if (m >= BN_NONFINITE_BITS) return 1;
    const float s = bn_act_i8_multiplier(bn_bits_to_float(m));
    scale_round_clamp(x, n, s, -128.0f, 127.0f, q);
    *a = s;
    return 0;
}

double bn_abs_sum_f64_neon(const float* x, int64_t n) {
    float64x2_t l[8];
    for (int k = 0; k < 8; k++) l[k] = vdupq_n_f64(0.0);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int k = 0; k < 4; k++) {
            float32x4_t v = vabsq_f32(vld1q_f32(x + i + 4 * k));
            l[2 * k] = vaddq_f64(l[2 * k], vcvt_f64_f32(vget_low_f32(v)));
            l[2 * k + 1] = vaddq_f64(l[2 * k + 1], vcvt_high_f64_f32(v));
        }
    }
    double lanes[BN_ABS_SUM_LANES];
    for (int k = 0; k < 8; k++) vst1q_f64(lanes + 2 * k, l[k]);
    for (; i < n; i++) lanes[i % BN_ABS_SUM_LANES] += fabs((double)x[i]);
    return bn_abs_sum_fold(lanes);
}

void bn_quantize_ternary_neon(const float* x, int64_t n, float s, int8_t* q) {
    scale_round_clamp(x, n, s, -1.0f, 1.0f, q);
}

void bn_install_quantize_neon(bn_kernel_table* t) {
    t->quantize_act_i8 = bn_quantize_act_i8_neon;
    t->quantize_act_i8_impl = "neon";
    t->abs_sum_f64 = bn_abs_sum_f64_neon;
    t->abs_sum_f64_impl = "neon";
    t->quantize_ternary = bn_quantize_ternary_neon;
    t->quantize_ternary_impl = "neon";
}
