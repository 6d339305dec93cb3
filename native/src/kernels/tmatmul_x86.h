/* Internal: the 256-bit pieces that the AVX2 and AVX-VNNI ternary matmul tiles of both layouts share
 * (tmatmul_avx2.c, tmatmul_avxvnni.c, tmatmul_tq1_avx2.c, tmatmul_tq1_avxvnni.c): lane sums, the int16 add that
 * keeps gcc's schedule, the end of a tile, the AVX2 tiles' int16-to-int32 flush and end from memory, and the
 * AVX-VNNI tiles' end. AVX2 instructions only, so each of those files' flags compile it.
 * Include after <immintrin.h> and "kernels/tmatmul.h". */
#ifndef BN_TMATMUL_X86_H
#define BN_TMATMUL_X86_H

/* Sums of each of four vectors, as four int32 lanes. */
BN_TM_INLINE __m128i hsum4(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
    const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

BN_TM_INLINE int32_t hsum(__m256i a) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* s + x in int16 lanes. The empty asm pins s in a register: without it gcc 12 reassociates a tile's chain of
 * additions into a tree over every product of a block (48 temporaries for 4 x 3) and spills. */
BN_TM_INLINE __m256i add_i16(__m256i s, __m256i x) {
    s = _mm256_add_epi16(s, x);
#if defined(__GNUC__)
    __asm__("" : "+x"(s));
#endif
    return s;
}

/* The end of a tile for one token: y[i] = (float)(d_i - q_sum) * scale for i < R (R in {1, 2, 4}), d_i the lane sum
 * of s_i (kernels/tmatmul.c's finish(): the subtraction wraps on uint32). With R == 2, pass s0, s1, s0, s1. */
BN_TM_INLINE void store_rows(const int R, __m256i s0, __m256i s1, __m256i s2, __m256i s3, int32_t q_sum, float scale,
                             float* y) {
    if (R >= 2) {
        const __m128i d = _mm_sub_epi32(hsum4(s0, s1, s2, s3), _mm_set1_epi32(q_sum));
        const __m128 out = _mm_mul_ps(_mm_cvtepi32_ps(d), _mm_set1_ps(scale));
        if (R == 4) _mm_storeu_ps(y, out);
        else _mm_storel_pi((__m64*)y, out);
    } else {
        y[0] = (float)(int32_t)((uint32_t)hsum(s0) - (uint32_t)q_sum) * scale;
    }
}

/* The AVX2 tiles' int16 sums s[r][n] (a chunk of blocks) widened and added into the int32 sums acc[r][n] kept in
 * memory (R rows x N tokens). */
BN_TM_INLINE void flush_i16(const int R, const int N, __m256i s[4][4], int32_t acc[4][4][8]) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++)
            _mm256_store_si256((__m256i*)acc[r][n], _mm256_add_epi32(_mm256_load_si256((const __m256i*)acc[r][n]),
                                                                     _mm256_madd_epi16(s[r][n], ones)));
}

/* The end of an AVX2 tile whose int32 sums are in acc (R rows x N tokens): store_rows for each token. */
BN_TM_INLINE void store_acc(const int R, const int N, int32_t acc[4][4][8], const int32_t* q_sum, const float* a,
                            float w_scale, float* y, int64_t ldy) {
    for (int n = 0; n < N; n++)
        store_rows(R, _mm256_load_si256((const __m256i*)acc[0][n]),
                   _mm256_load_si256((const __m256i*)acc[R >= 2 ? 1 : 0][n]),
                   _mm256_load_si256((const __m256i*)acc[R == 4 ? 2 : 0][n]),
                   _mm256_load_si256((const __m256i*)acc[R == 4 ? 3 : R >= 2 ? 1 : 0][n]), q_sum[n], w_scale / a[n],
                   y + n * ldy);
}

/* The end of an AVX-VNNI tile: row r, token n summed over its A accumulators acc[0..A)[r][n], then store_rows. */
BN_TM_INLINE void store_acc_vnni(const int R, const int N, const int A, __m256i acc[2][4][3], const int32_t* q_sum,
                                 const float* a, float w_scale, float* y, int64_t ldy) {
    for (int n = 0; n < N; n++) {
        __m256i s[4];
        for (int r = 0; r < R; r++) s[r] = A == 2 ? _mm256_add_epi32(acc[0][r][n], acc[1][r][n]) : acc[0][r][n];
        store_rows(R, s[0], s[R == 4 ? 1 : 0], s[R == 4 ? 2 : 0], s[R == 4 ? 3 : 0], q_sum[n], w_scale / a[n],
                   y + n * ldy);
    }
}

#endif
