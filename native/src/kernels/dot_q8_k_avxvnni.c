/* dot_q6_k_q8_k: AVX-VNNI (arithmetic: kernels/dot_q8_k.h; the loops: bn_dot_q6_k_q8_k_256 in
 * kernels/dot_q8_k_x86.h). The scale step is the VEX-encoded vpdpwssd: vpmaddwd's
 * multiply and the int32 add in one instruction. */
#include "kernels/dot_q8_k_x86.h"

static inline __m256i scale_add(__m256i s, __m256i p, __m256i sc) {
    return _mm256_dpwssd_avx_epi32(s, p, sc);
}

// w (n/256 block_q6_K), q (n/256 Q8_K) -> sum
float bn_dot_q6_k_q8_k_avxvnni(const void* w, const bn_block_q8_k* q, int64_t n) {
    return bn_dot_q6_k_q8_k_256(w, q, n, scale_add);
}

// w (n/256 block_q6_K), nt tokens of q (n/256 Q8_K each, q_stride blocks apart) -> out (nt)
void bn_dot_q6_k_q8_k_x4_avxvnni(const void* w, const bn_block_q8_k* q, int64_t q_stride, int32_t nt, int64_t n,
                                 float* out) {
    bn_dot_q6_k_q8_k_x4_256(w, q, q_stride, nt, n, out, scale_add, bn_dot_q6_k_q8_k_avxvnni);
}

void bn_install_dot_q8_k_avxvnni(bn_kernel_table* t) {
    t->dot_q6_k_q8_k = bn_dot_q6_k_q8_k_avxvnni;
    t->dot_q6_k_q8_k_impl = "avxvnni";
    t->dot_q6_k_q8_k_x4 = bn_dot_q6_k_q8_k_x4_avxvnni;
    t->dot_q6_k_q8_k_x4_impl = "avxvnni";
}
