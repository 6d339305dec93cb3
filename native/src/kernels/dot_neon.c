/* Dot products and axpy: NEON (dot.c defines them). Each quantized block is dequantized into registers exactly
 * as ggml's dequantize_row_* would (same float products), then FMA'd with x. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/kernels.h"

/* One fp16 scale to float in a register (the library's bn_fp16_to_fp32 is an out-of-line call). */
static float fp16_scalar(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

static float32x4_t load_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
static float32x4_t load_bf16(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }

// x (n), y (n) -> sum
float bn_dot_f32_neon(const float* x, const float* y, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vfmaq_f32(a0, vld1q_f32(x + i), vld1q_f32(y + i));
        a1 = vfmaq_f32(a1, vld1q_f32(x + i + 4), vld1q_f32(y + i + 4));
        a2 = vfmaq_f32(a2, vld1q_f32(x + i + 8), vld1q_f32(y + i + 8));
        a3 = vfmaq_f32(a3, vld1q_f32(x + i + 12), vld1q_f32(y + i + 12));
    }
    for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, vld1q_f32(x + i), vld1q_f32(y + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

// x (n), y (n) fp16 -> sum
float bn_dot_f16_neon(const float* x, const uint16_t* y, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = vfmaq_f32(a0, vld1q_f32(x + i), load_f16(y + i));
        a1 = vfmaq_f32(a1, vld1q_f32(x + i + 4), load_f16(y + i + 4));
    }
    for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, vld1q_f32(x + i), load_f16(y + i));
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++) s += x[i] * bn_fp16_to_fp32(y[i]);
    return s;
}

// x (n), y (n) bf16 -> sum
float bn_dot_bf16_neon(const float* x, const uint16_t* y, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = vfmaq_f32(a0, vld1q_f32(x + i), load_bf16(y + i));
        a1 = vfmaq_f32(a1, vld1q_f32(x + i + 4), load_bf16(y + i + 4));
    }
    for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, vld1q_f32(x + i), load_bf16(y + i));
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++) s += x[i] * bn_bf16_to_fp32(y[i]);
    return s;
}

// x (n), y (n/32 block_q8_0) -> sum
float bn_dot_q8_0_neon(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    for (int64_t i = 0; i < n; i += BN_Q8_0_BLOCK, b += BN_Q8_0_BYTES) {
        uint16_t dh;
        memcpy(&dh, b, sizeof dh);
        const float d = fp16_scalar(dh);
        for (int j = 0; j < 32; j += 16) {
            const int8x16_t q = vld1q_s8((const int8_t*)(b + 2 + j));
            const int16x8_t q0 = vmovl_s8(vget_low_s8(q)), q1 = vmovl_s8(vget_high_s8(q));
            const float* xj = x + i + j;
            a0 = vfmaq_f32(a0, vld1q_f32(xj), vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(q0))), d));
            a1 = vfmaq_f32(a1, vld1q_f32(xj + 4), vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_high_s16(q0))), d));
            a0 = vfmaq_f32(a0, vld1q_f32(xj + 8), vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(q1))), d));
            a1 = vfmaq_f32(a1, vld1q_f32(xj + 12), vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_high_s16(q1))), d));
        }
    }
    return vaddvq_f32(vaddq_f32(a0, a1));
}

/* acc += x (16) * (s * (q - 32)) for 16 codes q. */
static float32x4_t fma16(float32x4_t acc, const float* x, uint8x16_t q, float s) {
    const int16x8_t lo = vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(q))), vdupq_n_s16(32));
    const int16x8_t hi = vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(q))), vdupq_n_s16(32));
    acc = vfmaq_f32(acc, vld1q_f32(x), vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), s));
    acc = vfmaq_f32(acc, vld1q_f32(x + 4), vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo))), s));
    acc = vfmaq_f32(acc, vld1q_f32(x + 8), vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), s));
    acc = vfmaq_f32(acc, vld1q_f32(x + 12), vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi))), s));
    return acc;
}

// x (n), y (n/256 block_q6_K) -> sum
float bn_dot_q6_k_neon(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    const uint8x16_t m4 = vdupq_n_u8(0xF), m2 = vdupq_n_u8(3);
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    for (int64_t i = 0; i < n; i += BN_Q6_K_BLOCK, b += BN_Q6_K_BYTES) {
        uint16_t dh;
        memcpy(&dh, b + BN_Q6_K_D, sizeof dh);
        const float d = fp16_scalar(dh);
        for (int h = 0; h < 2; h++) {
            const uint8_t* ql = b + BN_Q6_K_QL + 64 * h;
            const uint8_t* qh = b + BN_Q6_K_QH + 32 * h;
            const int8_t* sc = (const int8_t*)(b + BN_Q6_K_SCALES) + 8 * h;
            const float* xh = x + i + 128 * h;
            for (int l = 0; l < 32; l += 16) {
                const int is = l / 16;
                const uint8x16_t lo = vld1q_u8(ql + l), hi = vld1q_u8(ql + l + 32), q = vld1q_u8(qh + l);
                const uint8x16_t q1 = vorrq_u8(vandq_u8(lo, m4), vshlq_n_u8(vandq_u8(q, m2), 4));
                const uint8x16_t q2 = vorrq_u8(vandq_u8(hi, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(q, 2), m2), 4));
                const uint8x16_t q3 = vorrq_u8(vshrq_n_u8(lo, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(q, 4), m2), 4));
                const uint8x16_t q4 = vorrq_u8(vshrq_n_u8(hi, 4), vshlq_n_u8(vshrq_n_u8(q, 6), 4));
                a0 = fma16(a0, xh + l, q1, d * (float)sc[is]);
                a1 = fma16(a1, xh + l + 32, q2, d * (float)sc[is + 2]);
                a0 = fma16(a0, xh + l + 64, q3, d * (float)sc[is + 4]);
                a1 = fma16(a1, xh + l + 96, q4, d * (float)sc[is + 6]);
            }
        }
    }
    return vaddvq_f32(vaddq_f32(a0, a1));
}

/* 16 four-bit codes (u8) -> acc += x[0..15] * ((ds * q) - dm), mul then sub as two roundings (never fused). */
static float32x4_t fma16_q4(float32x4_t acc, const float* x, uint8x16_t q, float ds, float dm) {
    const uint16x8_t lo = vmovl_u8(vget_low_u8(q)), hi = vmovl_u8(vget_high_u8(q));
    const float32x4_t vm = vdupq_n_f32(dm);
    acc = vfmaq_f32(acc, vld1q_f32(x), vsubq_f32(vmulq_n_f32(vcvtq_f32_u32(vmovl_u16(vget_low_u16(lo))), ds), vm));
    acc = vfmaq_f32(acc, vld1q_f32(x + 4), vsubq_f32(vmulq_n_f32(vcvtq_f32_u32(vmovl_u16(vget_high_u16(lo))), ds), vm));
    acc = vfmaq_f32(acc, vld1q_f32(x + 8), vsubq_f32(vmulq_n_f32(vcvtq_f32_u32(vmovl_u16(vget_low_u16(hi))), ds), vm));
    acc = vfmaq_f32(acc, vld1q_f32(x + 12), vsubq_f32(vmulq_n_f32(vcvtq_f32_u32(vmovl_u16(vget_high_u16(hi))), ds), vm));
    return acc;
}

// x (n), y (n/256 block_q4_K) -> sum; w = (d * sc) * q - (dmin * m)
float bn_dot_q4_k_neon(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    const uint8x16_t m4 = vdupq_n_u8(0xF);
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    for (int64_t i = 0; i < n; i += BN_Q4_K_BLOCK, b += BN_Q4_K_BYTES) {
        uint16_t dh, mh;
        memcpy(&dh, b + BN_Q4_K_D, sizeof dh);
        memcpy(&mh, b + BN_Q4_K_DMIN, sizeof mh);
        const float d = fp16_scalar(dh), dmin = fp16_scalar(mh);
        for (int j = 0; j < 8; j += 2) {
            int sc, m;
            bn_q4_k_scale_min(j, b + BN_Q4_K_SCALES, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            bn_q4_k_scale_min(j + 1, b + BN_Q4_K_SCALES, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            const uint8_t* q = b + BN_Q4_K_QS + 16 * j;
            const float* xj = x + i + 32 * j;
            for (int l = 0; l < 32; l += 16) {
                const uint8x16_t v = vld1q_u8(q + l);
                a0 = fma16_q4(a0, xj + l, vandq_u8(v, m4), d1, m1);
                a1 = fma16_q4(a1, xj + 32 + l, vshrq_n_u8(v, 4), d2, m2);
            }
        }
    }
    return vaddvq_f32(vaddq_f32(a0, a1));
}

// y (n) += a * x (n)
void bn_axpy_f32_neon(float a, const float* x, int64_t n, float* y) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    for (; i < n; i++) y[i] += a * x[i];
}

// y (n) += a * x (n fp16)
void bn_axpy_f16_neon(float a, const uint16_t* x, int64_t n, float* y) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), load_f16(x + i), a));
    for (; i < n; i++) y[i] += a * bn_fp16_to_fp32(x[i]);
}

void bn_install_dot_neon(bn_kernel_table* t) {
#define BN_SET(op) t->op = bn_##op##_neon; t->op##_impl = "neon";
    BN_SET(dot_f32) BN_SET(dot_f16) BN_SET(dot_bf16) BN_SET(dot_q8_0) BN_SET(dot_q6_k) BN_SET(dot_q4_k) BN_SET(axpy_f32)
    BN_SET(axpy_f16)
#undef BN_SET
}
