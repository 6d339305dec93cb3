/* dot_q6_k_q8_k: Armv8.2-A NEON with the dot-product extension (arithmetic: kernels/dot_q8_k.h). Per sub-block
 * of 16: one sdot of the codes (0..63, read as signed bytes) with Q8_K into four int32 lanes, then a multiply-add
 * by the sub-block's scale; the -32 offset comes off once per block through bsums. */
#include "kernels/dot_q8_k_neon.h"

// w (n/256 block_q6_K), q (n/256 Q8_K) -> sum
float bn_dot_q6_k_q8_k_dotprod(const void* w, const bn_block_q8_k* q, int64_t n) {
    const uint8_t* b = (const uint8_t*)w;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / BN_Q6_K_BLOCK; i++, b += BN_Q6_K_BYTES, q++) {
        const int8_t* sc = (const int8_t*)(b + BN_Q6_K_SCALES);
        int32x4_t s0 = vdupq_n_s32(0), s1 = vdupq_n_s32(0);
        for (int h = 0; h < 2; h++) {
            int8x16_t c[8];
            bn_q6_k_codes_neon(b, h, c);
            for (int m = 0; m < 8; m += 2) {
                const int32x4_t d0 = vdotq_s32(vdupq_n_s32(0), c[m], vld1q_s8(q->qs + 128 * h + 16 * m));
                const int32x4_t d1 = vdotq_s32(vdupq_n_s32(0), c[m + 1], vld1q_s8(q->qs + 128 * h + 16 * m + 16));
                s0 = vmlaq_n_s32(s0, d0, sc[8 * h + m]);
                s1 = vmlaq_n_s32(s1, d1, sc[8 * h + m + 1]);
            }
        }
        const int32_t isum = vaddvq_s32(vaddq_s32(s0, s1)) - 32 * bn_q8_k_scale_bsums_neon(sc, q);
        acc = bn_q8_k_step(acc, bn_q6_k_d_neon(b), q->d, isum);
    }
    return acc;
}

/* s0, s1 + the codes c of a half-block . its Q8_K values q8, each sub-block times its scale sc[m] */
static inline void half_dot(int32x4_t* s0, int32x4_t* s1, const int8x16_t c[8], const int8_t* q8, const int8_t* sc) {
    for (int m = 0; m < 8; m += 2) {
        *s0 = vmlaq_n_s32(*s0, vdotq_s32(vdupq_n_s32(0), c[m], vld1q_s8(q8 + 16 * m)), sc[m]);
        *s1 = vmlaq_n_s32(*s1, vdotq_s32(vdupq_n_s32(0), c[m + 1], vld1q_s8(q8 + 16 * m + 16)), sc[m + 1]);
    }
}

// w (n/256 block_q6_K), nt tokens of q (n/256 Q8_K each, q_stride blocks apart) -> out (nt); four tokens share
// each unpacking of the weight block
void bn_dot_q6_k_q8_k_x4_dotprod(const void* w, const bn_block_q8_k* q, int64_t q_stride, int32_t nt, int64_t n,
                                 float* out) {
    if (nt != 4) {
        for (int32_t t = 0; t < nt; t++) out[t] = bn_dot_q6_k_q8_k_dotprod(w, q + t * q_stride, n);
        return;
    }
    const uint8_t* b = (const uint8_t*)w;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t i = 0; i < n / BN_Q6_K_BLOCK; i++, b += BN_Q6_K_BYTES) {
        const int8_t* sc = (const int8_t*)(b + BN_Q6_K_SCALES);
        const bn_block_q8_k* qb[4] = {q + i, q + q_stride + i, q + 2 * q_stride + i, q + 3 * q_stride + i};
        int32x4_t s0[4], s1[4];
        for (int t = 0; t < 4; t++) s0[t] = s1[t] = vdupq_n_s32(0);
        for (int h = 0; h < 2; h++) {
            int8x16_t c[8];
            bn_q6_k_codes_neon(b, h, c);
            for (int t = 0; t < 4; t++) half_dot(&s0[t], &s1[t], c, qb[t]->qs + 128 * h, sc + 8 * h);
        }
        const float d6 = bn_q6_k_d_neon(b);
        for (int t = 0; t < 4; t++) {
            const int32_t isum = vaddvq_s32(vaddq_s32(s0[t], s1[t])) - 32 * bn_q8_k_scale_bsums_neon(sc, qb[t]);
            acc[t] = bn_q8_k_step(acc[t], d6, qb[t]->d, isum);
        }
    }
    for (int t = 0; t < 4; t++) out[t] = acc[t];
}

void bn_install_dot_q8_k_dotprod(bn_kernel_table* t) {
    t->dot_q6_k_q8_k = bn_dot_q6_k_q8_k_dotprod;
    t->dot_q6_k_q8_k_impl = "dotprod";
    t->dot_q6_k_q8_k_x4 = bn_dot_q6_k_q8_k_x4_dotprod;
    t->dot_q6_k_q8_k_x4_impl = "dotprod";
}
