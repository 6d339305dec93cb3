/* dot_q6_k_q8_k: AVX2 (arithmetic: kernels/dot_q8_k.h). Per 32 elements, vpmaddubsw multiplies the unsigned
 * 6-bit codes by the signed Q8_K values into int16 pairs (at most 2 * 63 * 127, no saturation) and vpmaddwd
 * multiplies those by the sub-block scales into int32; the -32 offset comes off once per block through bsums. */
#include "kernels/dot_q8_k_x86.h"

// w (n/256 block_q6_K), q (n/256 Q8_K) -> sum
float bn_dot_q6_k_q8_k_avx2(const void* w, const bn_block_q8_k* q, int64_t n) {
    const uint8_t* b = (const uint8_t*)w;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / BN_Q6_K_BLOCK; i++, b += BN_Q6_K_BYTES, q++) {
        const __m128i sc8 = _mm_loadu_si128((const __m128i*)(b + BN_Q6_K_SCALES));
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i c[4];
            bn_q6_k_codes_256(b, h, c);
            const int8_t* q8 = q->qs + 128 * h;
            for (int k = 0; k < 4; k += 2) {
                const __m256i p0 = _mm256_maddubs_epi16(c[k], _mm256_loadu_si256((const __m256i*)(q8 + 32 * k)));
                const __m256i p1 =
                    _mm256_maddubs_epi16(c[k + 1], _mm256_loadu_si256((const __m256i*)(q8 + 32 * k + 32)));
                s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, bn_q6_k_scale_pair(sc8, 8 * h + 2 * k)));
                s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, bn_q6_k_scale_pair(sc8, 8 * h + 2 * k + 2)));
            }
        }
        const __m256i s = _mm256_sub_epi32(_mm256_add_epi32(s0, s1), bn_q8_k_offset_256(sc8, q));
        acc = bn_q8_k_step(acc, bn_q6_k_d(b), q->d, bn_hsum_i32_256(s));
    }
    return acc;
}

/* s + the codes c of a half-block . its Q8_K values q8, times the scale pairs sc (vpmaddwd + vpaddd) */
static inline __m256i half_dot(__m256i s, const __m256i c[4], const int8_t* q8, const __m256i sc[4]) {
    for (int k = 0; k < 4; k++) {
        const __m256i p = _mm256_maddubs_epi16(c[k], _mm256_loadu_si256((const __m256i*)(q8 + 32 * k)));
        s = _mm256_add_epi32(s, _mm256_madd_epi16(p, sc[k]));
    }
    return s;
}

// w (n/256 block_q6_K), nt tokens of q (n/256 Q8_K each, q_stride blocks apart) -> out (nt); four tokens share
// each unpacking of the weight block
void bn_dot_q6_k_q8_k_x4_avx2(const void* w, const bn_block_q8_k* q, int64_t q_stride, int32_t nt, int64_t n,
                              float* out) {
    if (nt != 4) {
        for (int32_t t = 0; t < nt; t++) out[t] = bn_dot_q6_k_q8_k_avx2(w, q + t * q_stride, n);
        return;
    }
    const uint8_t* b = (const uint8_t*)w;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t i = 0; i < n / BN_Q6_K_BLOCK; i++, b += BN_Q6_K_BYTES) {
        const __m128i sc8 = _mm_loadu_si128((const __m128i*)(b + BN_Q6_K_SCALES));
        const bn_block_q8_k* qb[4] = {q + i, q + q_stride + i, q + 2 * q_stride + i, q + 3 * q_stride + i};
        __m256i s[4];
        for (int t = 0; t < 4; t++) s[t] = _mm256_sub_epi32(_mm256_setzero_si256(), bn_q8_k_offset_256(sc8, qb[t]));
        for (int h = 0; h < 2; h++) {
            __m256i c[4], sc[4];
            bn_q6_k_codes_256(b, h, c);
            for (int k = 0; k < 4; k++) sc[k] = bn_q6_k_scale_pair(sc8, 8 * h + 2 * k);
            for (int t = 0; t < 4; t++) s[t] = half_dot(s[t], c, qb[t]->qs + 128 * h, sc);
        }
        const float d6 = bn_q6_k_d(b);
        for (int t = 0; t < 4; t++) acc[t] = bn_q8_k_step(acc[t], d6, qb[t]->d, bn_hsum_i32_256(s[t]));
    }
    for (int t = 0; t < 4; t++) out[t] = acc[t];
}

void bn_install_dot_q8_k_avx2(bn_kernel_table* t) {
    t->dot_q6_k_q8_k = bn_dot_q6_k_q8_k_avx2;
    t->dot_q6_k_q8_k_impl = "avx2";
    t->dot_q6_k_q8_k_x4 = bn_dot_q6_k_q8_k_x4_avx2;
    t->dot_q6_k_q8_k_x4_impl = "avx2";
}
