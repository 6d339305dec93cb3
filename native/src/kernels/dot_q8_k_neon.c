/* dot_q6_k_q8_k: Armv8-A NEON (arithmetic: kernels/dot_q8_k.h; the loops: bn_dot_q6_k_q8_k_body_neon in
 * kernels/dot_q8_k_neon.h). The -32 offset comes off once per block through bsums. */
#include "kernels/dot_q8_k_neon.h"

/* Per sub-block of 16: two widening multiplies of the unsigned codes by Q8_K (each product at most 63 * 127, their
 * pairwise sums fit int16), then a widening multiply-add by the sub-block's scale into int32 (low half into s0,
 * high half into s1). */
static inline void pair_dot(int32x4_t* s0, int32x4_t* s1, int8x16_t c0, int8x16_t c1, const int8_t* q8, int8_t sc0,
                            int8_t sc1) {
    const int8x16_t c[2] = {c0, c1};
    const int8_t sc[2] = {sc0, sc1};
    for (int m = 0; m < 2; m++) {
        const int8x16_t v = vld1q_s8(q8 + 16 * m);
        const int16x8_t p = vaddq_s16(vmull_s8(vget_low_s8(c[m]), vget_low_s8(v)), vmull_high_s8(c[m], v));
        *s0 = vmlal_n_s16(*s0, vget_low_s16(p), sc[m]);
        *s1 = vmlal_high_n_s16(*s1, p, sc[m]);
    }
}

// w (n/256 block_q6_K), q (n/256 Q8_K) -> sum
float bn_dot_q6_k_q8_k_neon(const void* w, const bn_block_q8_k* q, int64_t n) {
    return bn_dot_q6_k_q8_k_body_neon(w, q, n, pair_dot);
}

// w (n/256 block_q6_K), nt tokens of q (n/256 Q8_K each, q_stride blocks apart) -> out (nt)
void bn_dot_q6_k_q8_k_x4_neon(const void* w, const bn_block_q8_k* q, int64_t q_stride, int32_t nt, int64_t n,
                              float* out) {
    bn_dot_q6_k_q8_k_x4_body_neon(w, q, q_stride, nt, n, out, pair_dot, bn_dot_q6_k_q8_k_neon);
}

void bn_install_dot_q8_k_neon(bn_kernel_table* t) {
    t->dot_q6_k_q8_k = bn_dot_q6_k_q8_k_neon;
    t->dot_q6_k_q8_k_impl = "neon";
    t->dot_q6_k_q8_k_x4 = bn_dot_q6_k_q8_k_x4_neon;
    t->dot_q6_k_q8_k_x4_impl = "neon";
}
