/* Internal: the AVX2 decoding of TQ1 blocks, shared by tmatmul_tq1_avx2.c and tmatmul_tq1_avxvnni.c (AVX2
 * instructions only, so either file's flags compile it). The method and the vector layout are described in
 * tmatmul_tq1_avx2.c. Include after <immintrin.h> and "kernels/tmatmul.h". */
#ifndef BN_TMATMUL_TQ1_X86_H
#define BN_TMATMUL_TQ1_X86_H

#include <string.h>

#include "kernels/tmatmul_x86.h"

/* Word multipliers of vectors 5, 6, 7: for the even byte (m << 8) and the odd byte (m). */
#define W8(m) (uint16_t)((m) << 8)
static const _Alignas(32) uint16_t g_me[3][16] = {
    {W8(1), W8(1), W8(1), W8(1), W8(1), W8(1), W8(1), W8(1), W8(3), W8(3), W8(3), W8(3), W8(3), W8(3), W8(3), W8(3)},
    {W8(9), W8(9), W8(9), W8(9), W8(9), W8(9), W8(9), W8(9), W8(27), W8(27), W8(27), W8(27), W8(27), W8(27), W8(27),
     W8(27)},
    {W8(81), W8(81), W8(81), W8(81), W8(81), W8(81), W8(81), W8(81), W8(1), W8(1), W8(3), W8(3), W8(9), W8(9), W8(27),
     W8(27)}};
static const _Alignas(32) uint16_t g_mo[3][16] = {{1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3},
                                                  {9, 9, 9, 9, 9, 9, 9, 9, 27, 27, 27, 27, 27, 27, 27, 27},
                                                  {81, 81, 81, 81, 81, 81, 81, 81, 1, 1, 3, 3, 9, 9, 27, 27}};
#undef W8

/* The codes of bytes v (vodd = v & 0xFF00) for word multipliers me (even byte, m << 8) and mo (odd byte, m). */
BN_TM_INLINE __m256i decode(__m256i v, __m256i vodd, __m256i me, __m256i mo, __m256i three) {
    const __m256i te = _mm256_mulhi_epu16(_mm256_mullo_epi16(v, me), three);
    const __m256i to = _mm256_mulhi_epu16(_mm256_mullo_epi16(vodd, mo), three);
    return _mm256_or_si256(te, _mm256_slli_epi16(to, 8));
}

/* The byte sources of the block at p: a = qs[0..31], b = qs[32..47] in both halves, c = qs[32..47] | qh[0..3]
 * four times, and their odd bytes (v & 0xFF00). */
typedef struct tq1_src {
    __m256i a, a_odd, b, b_odd, c, c_odd;
} tq1_src;

BN_TM_INLINE tq1_src tq1_load(const uint8_t* p, __m256i hi) {
    int32_t qh;
    memcpy(&qh, p + 48, 4);
    const __m128i q16 = _mm_loadu_si128((const __m128i*)(p + 32));
    tq1_src s;
    s.a = _mm256_loadu_si256((const __m256i*)p);
    s.b = _mm256_broadcastsi128_si256(q16);
    s.c = _mm256_inserti128_si256(_mm256_castsi128_si256(q16), _mm_set1_epi32(qh), 1);
    s.a_odd = _mm256_and_si256(s.a, hi), s.b_odd = _mm256_and_si256(s.b, hi), s.c_odd = _mm256_and_si256(s.c, hi);
    return s;
}

/* Code vector g (0..7) of the block whose sources are s (tq1_load). */
BN_TM_INLINE __m256i tq1_codes(int g, const tq1_src* s, __m256i three) {
    static const int16_t pow3[5] = {1, 3, 9, 27, 81};
    if (g == 0) return _mm256_or_si256(_mm256_mulhi_epu16(_mm256_slli_epi16(s->a, 8), three),
                                       _mm256_slli_epi16(_mm256_mulhi_epu16(s->a_odd, three), 8));
    if (g < 5)
        return decode(s->a, s->a_odd, _mm256_set1_epi16((int16_t)(pow3[g] << 8)), _mm256_set1_epi16(pow3[g]), three);
    const __m256i me = _mm256_load_si256((const __m256i*)g_me[g - 5]), mo = _mm256_load_si256((const __m256i*)g_mo[g - 5]);
    return g == 7 ? decode(s->c, s->c_odd, me, mo, three) : decode(s->b, s->b_odd, me, mo, three);
}

#endif
