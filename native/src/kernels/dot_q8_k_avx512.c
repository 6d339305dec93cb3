/* dot_q6_k_q8_k: AVX-512 BW + VNNI (arithmetic: kernels/dot_q8_k.h). A 64-byte load of ql holds a half-block's
 * low nibbles in element order (ql[0..32) for elements 0..31, ql[32..64) for 32..63) and its high nibbles for
 * elements 64..127; qh, broadcast to both 256-bit halves, gives the top two bits with a per-half shift. Per 64
 * elements: vpmaddubsw (codes x Q8_K into int16 pairs, at most 2 * 63 * 127) then vpdpwssd (x sub-block scales,
 * into int32). The x4 version unpacks each weight block once for four tokens. */
#include "kernels/dot_q8_k_x86.h"
#include "kernels/x86_avx512.h"

typedef struct q6_consts {
    __m512i m4, m30, sh_lo, sh_hi;
    __m512i sidx[4]; /* scale index per int16 lane of a 64-element product: sub-block base + lane / 8 */
} q6_consts;

static inline q6_consts make_consts(void) {
    q6_consts k;
    k.m4 = _mm512_set1_epi8(0xF);
    k.m30 = _mm512_set1_epi8(0x30);
    /* qh bits to bits 4-5 of each byte, per 256-bit half: elements 0..31 take bits 0-1 (<< 4), 32..63 bits 2-3
     * (<< 2), 64..95 bits 4-5 (as they are), 96..127 bits 6-7 (>> 2). 16-bit shifts carry bits across bytes;
     * the 0x30 mask keeps each byte's own. */
    k.sh_lo = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    k.sh_hi = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    for (int m = 0; m < 4; m++) {
        int16_t ix[32];
        for (int j = 0; j < 32; j++) ix[j] = (int16_t)(4 * m + j / 8);
        k.sidx[m] = _mm512_loadu_si512(ix);
    }
    return k;
}

/* Half h of a block_q6_K: c[0] the unsigned codes of elements 128h .. +64, c[1] of 128h + 64 .. +64. */
static inline void codes_512(const q6_consts* k, const uint8_t* b, int h, __m512i c[2]) {
    const __m512i l = _mm512_loadu_si512(b + BN_Q6_K_QL + 64 * h);
    const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i*)(b + BN_Q6_K_QH + 32 * h)));
    const __m512i top0 = _mm512_and_si512(_mm512_sllv_epi16(hb, k->sh_lo), k->m30);
    const __m512i top1 = _mm512_and_si512(_mm512_srlv_epi16(hb, k->sh_hi), k->m30);
    /* (a & b) | c in one vpternlogd: the low nibble and the top two bits side by side */
    c[0] = _mm512_ternarylogic_epi32(l, k->m4, top0, 0xEA);
    c[1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 4), k->m4, top1, 0xEA);
}

/* s + codes . Q8_K values of half h, times the sub-block scales (sc_lo, sc_hi for c[0], c[1]) */
static inline __m512i half_dot(__m512i s, const __m512i c[2], const int8_t* q8, __m512i sc_lo, __m512i sc_hi) {
    s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(c[0], _mm512_loadu_si512(q8)), sc_lo);
    return _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(c[1], _mm512_loadu_si512(q8 + 64)), sc_hi);
}

/* isum of one block from its lane sums: minus 32 * sum_k scales[k] * bsums[k] (the codes' offset) */
static inline int32_t block_isum(__m512i s, __m128i sc8, const bn_block_q8_k* q) {
    return _mm512_reduce_add_epi32(_mm512_sub_epi32(s, _mm512_zextsi256_si512(bn_q8_k_offset_256(sc8, q))));
}

/* Lane sums of one block whose lanes add up to its isum: codes . Q8_K values times the sub-block scales (the first
 * product by vpmaddwd, which needs no zeroed accumulator), minus the codes' offset. Every lane stays far inside
 * int32 (4 products of at most 2 * 63 * 127 * 128). */
static inline __m512i block_lanes(const q6_consts* k, const uint8_t* b, const bn_block_q8_k* q) {
    const __m128i sc8 = _mm_loadu_si128((const __m128i*)(b + BN_Q6_K_SCALES));
    const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(sc8)); /* indices 0..15 only */
    __m512i c[2];
    codes_512(k, b, 0, c);
    __m512i s = _mm512_madd_epi16(_mm512_maddubs_epi16(c[0], _mm512_loadu_si512(q->qs)),
                                  _mm512_permutexvar_epi16(k->sidx[0], sc16));
    s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(c[1], _mm512_loadu_si512(q->qs + 64)),
                            _mm512_permutexvar_epi16(k->sidx[1], sc16));
    codes_512(k, b, 1, c);
    s = half_dot(s, c, q->qs + 128, _mm512_permutexvar_epi16(k->sidx[2], sc16),
                 _mm512_permutexvar_epi16(k->sidx[3], sc16));
    return _mm512_sub_epi32(s, _mm512_zextsi256_si512(bn_q8_k_offset_256(sc8, q)));
}

// w (n/256 block_q6_K), q (n/256 Q8_K) -> sum
float bn_dot_q6_k_q8_k_avx512(const void* w, const bn_block_q8_k* q, int64_t n) {
    const q6_consts k = make_consts();
    const uint8_t* b = (const uint8_t*)w;
    const int64_t nb = n / BN_Q6_K_BLOCK;
    float acc = 0.0f;
    /* four blocks' integer sums reduced together, then their float steps in block order (the same bits) */
    for (int64_t i = 0; i < nb; i += 4) {
        const int64_t m = nb - i < 4 ? nb - i : 4;
        __m512i v[4];
        for (int64_t j = 0; j < 4; j++) {
            bn_q6_k_prefetch(b + j * BN_Q6_K_BYTES);
            v[j] = j < m ? block_lanes(&k, b + j * BN_Q6_K_BYTES, q + i + j) : _mm512_setzero_si512();
        }
        int32_t isum[4];
        _mm_storeu_si128((__m128i*)isum, bn_hsum4_epi32_512(v[0], v[1], v[2], v[3]));
        for (int64_t j = 0; j < m; j++) acc = bn_q8_k_step(acc, bn_q6_k_d(b + j * BN_Q6_K_BYTES), q[i + j].d, isum[j]);
        b += m * BN_Q6_K_BYTES;
    }
    return acc;
}

// w (n/256 block_q6_K), nt tokens of q (n/256 Q8_K each, q_stride blocks apart) -> out (nt)
void bn_dot_q6_k_q8_k_x4_avx512(const void* w, const bn_block_q8_k* q, int64_t q_stride, int32_t nt, int64_t n,
                                float* out) {
    if (bn_dot_q6_k_q8_k_x4_singles(w, q, q_stride, nt, n, out, bn_dot_q6_k_q8_k_avx512)) return;
    const q6_consts k = make_consts();
    const uint8_t* b = (const uint8_t*)w;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t i = 0; i < n / BN_Q6_K_BLOCK; i++, b += BN_Q6_K_BYTES) {
        bn_q6_k_prefetch(b);
        const __m128i sc8 = _mm_loadu_si128((const __m128i*)(b + BN_Q6_K_SCALES));
        const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(sc8));
        const bn_block_q8_k* qb[4] = {q + i, q + q_stride + i, q + 2 * q_stride + i, q + 3 * q_stride + i};
        __m512i s[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                        _mm512_setzero_si512()};
        for (int h = 0; h < 2; h++) {
            __m512i c[2];
            codes_512(&k, b, h, c);
            const __m512i lo = _mm512_permutexvar_epi16(k.sidx[2 * h], sc16);
            const __m512i hi = _mm512_permutexvar_epi16(k.sidx[2 * h + 1], sc16);
            for (int t = 0; t < 4; t++) s[t] = half_dot(s[t], c, qb[t]->qs + 128 * h, lo, hi);
        }
        const float d6 = bn_q6_k_d(b);
        for (int t = 0; t < 4; t++) acc[t] = bn_q8_k_step(acc[t], d6, qb[t]->d, block_isum(s[t], sc8, qb[t]));
    }
    for (int t = 0; t < 4; t++) out[t] = acc[t];
}

void bn_install_dot_q8_k_avx512(bn_kernel_table* t) {
    t->dot_q6_k_q8_k = bn_dot_q6_k_q8_k_avx512;
    t->dot_q6_k_q8_k_impl = "avx512";
    t->dot_q6_k_q8_k_x4 = bn_dot_q6_k_q8_k_x4_avx512;
    t->dot_q6_k_q8_k_x4_impl = "avx512";
}
