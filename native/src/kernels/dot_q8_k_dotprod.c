/* dot_q6_k_q8_k: Armv8.2-A NEON with the dot-product extension (arithmetic: kernels/dot_q8_k.h; the loops:
 * bn_dot_q6_k_q8_k_body_neon in kernels/dot_q8_k_neon.h). The -32 offset comes off once per block through bsums. */
#include "kernels/dot_q8_k_neon.h"

/* Per sub-block of 16: one sdot of the codes (0..63, read as signed bytes) with Q8_K into four int32 lanes, then a
 * multiply-add by the sub-block's scale (sub-block m into s0, m + 1 into s1). */
static inline void pair_dot(int32x4_t* s0, int32x4_t* s1, int8x16_t c0, int8x16_t c1, const int8_t* q8, int8_t sc0,
                            int8_t sc1) {
    *s0 = vmlaq_n_s32(*s0, vdotq_s32(vdupq_n_s32(0), c0, vld1q_s8(q8)), sc0);
    *s1 = vmlaq_n_s32(*s1, vdotq_s32(vdupq_n_s32(0), c1, vld1q_s8(q8 + 16)), sc1);
}

// w (n/256 block_q6_K), q (n/256 Q8_K) -> sum
float bn_dot_q6_k_q8_k_dotprod(const void* w, const bn_block_q8_k* q, int64_t n) {
    return bn_dot_q6_k_q8_k_body_neon(w, q, n, pair_dot);
}

// w (n/256 block_q6_K), nt tokens of q (n/256 Q8_K each, q_stride blocks apart) -> out (nt)
void bn_dot_q6_k_q8_k_x4_dotprod(const void* w, const bn_block_q8_k* q, int64_t q_stride, int32_t nt, int64_t n,
                                 float* out) {
    bn_dot_q6_k_q8_k_x4_body_neon(w, q, q_stride, nt, n, out, pair_dot, bn_dot_q6_k_q8_k_dotprod);
}

void bn_install_dot_q8_k_dotprod(bn_kernel_table* t) {
    t->dot_q6_k_q8_k = bn_dot_q6_k_q8_k_dotprod;
    t->dot_q6_k_q8_k_impl = "dotprod";
    t->dot_q6_k_q8_k_x4 = bn_dot_q6_k_q8_k_x4_dotprod;
    t->dot_q6_k_q8_k_x4_impl = "dotprod";
}
