/* Ternary x int8 matmul: AVX-VNNI, the VEX-encoded vpdpbusd on 256-bit vectors (layout and arithmetic:
 * kernels/tmatmul.c). Unpacking is AVX2's (three shifts, four masks per 32-byte block); vpdpbusd multiplies
 * 32 codes (unsigned) by 32 activations (signed) and adds groups of four into int32 lanes in one instruction,
 * so 12 accumulators (4 rows x 3 tokens) fit in the 16 registers beside one code vector and the mask. */
#include <immintrin.h>
#include <stddef.h>

#include "kernels/kernels.h"
#include "kernels/tmatmul.h"
#include "kernels/tmatmul_x86.h"

/* acc + 4-byte dot products of u8 (unsigned) and s8 (signed), VEX-encoded. gcc 12 copies the accumulator of
 * the intrinsic around in register-blocked loops; an asm statement updates it in place ({vex} keeps the
 * assembler from choosing the EVEX form, which CPUs with AVX-VNNI but no AVX-512 cannot run). */
#if defined(__GNUC__) && !defined(__clang__)
BN_TM_INLINE __m256i dpbusd(__m256i acc, __m256i u8, __m256i s8) {
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u8), "xm"(s8));
    return acc;
}
#else
#  define dpbusd _mm256_dpbusd_avx_epi32
#endif

/* Run g (0..3) of the codes of the block at p. */
BN_TM_INLINE __m256i codes(const uint8_t* p, int g, __m256i m3) {
    const __m256i v = _mm256_loadu_si256((const __m256i*)p);
    return g == 3 ? _mm256_and_si256(v, m3) : _mm256_and_si256(_mm256_srli_epi16(v, 6 - 2 * g), m3);
}

/* R rows x N tokens (R in {1, 4}, N <= 3) of I2_S rows or (X) I2S_X4 ones, group by group so that one code vector
 * is live at a time; A accumulators per output (2 halves the vpdpbusd dependency chain when few outputs are in
 * flight, as in a GEMV). */
BN_TM_INLINE void tile(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                       float w_scale, float* y, int64_t ldy, const int R, const int N, const int A, const int X) {
    const __m256i m3 = _mm256_set1_epi8(3);
    const int64_t row_bytes = K / 4;
    __m256i acc[2][4][3];
    for (int i = 0; i < A; i++)
        for (int r = 0; r < R; r++)
            for (int n = 0; n < N; n++) acc[i][r][n] = _mm256_setzero_si256();
    int64_t k = 0;
    do { /* K >= 128; a do-while keeps gcc from giving the accumulators a stack home for the K == 0 path */
        if (N == 1)
            for (int r = 0; r < R; r++) BN_TM_PREFETCH(bn_tm_block(w, row_bytes, r, k, X) + BN_TM_PREFETCH_BYTES);
        for (int g = 0; g < 4; g++)
            for (int r = 0; r < R; r++) {
                const __m256i c = codes(bn_tm_block(w, row_bytes, r, k, X), g, m3);
                for (int n = 0; n < N; n++)
                    acc[g % A][r][n] =
                        dpbusd(acc[g % A][r][n], c, _mm256_loadu_si256((const __m256i*)(q + n * K + k + 32 * g)));
            }
        k += 128;
    } while (k < K);
    store_acc_vnni(R, N, A, acc, q_sum, a, w_scale, y, ldy);
}

#define BN_TM_TILE(R, N, A)                                                                                 \
    static void tile_##R##x##N(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum,         \
                               const float* a, float w_scale, float* y, int64_t ldy) {                     \
        tile(w, K, q, q_sum, a, w_scale, y, ldy, R, N, A, 0);                                              \
    }                                                                                                       \
    static void xtile_##R##x##N(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum,        \
                                const float* a, float w_scale, float* y, int64_t ldy) {                    \
        tile(w, K, q, q_sum, a, w_scale, y, ldy, R, N, A, 1);                                              \
    }
BN_TM_TILE(4, 1, 2)
BN_TM_TILE(4, 2, 1)
BN_TM_TILE(4, 3, 1)
BN_TM_TILE(1, 1, 2)
BN_TM_TILE(1, 2, 1)
BN_TM_TILE(1, 3, 1)
#undef BN_TM_TILE

static bn_tm_tile_fn* const tiles_4[] = {NULL, tile_4x1, tile_4x2, tile_4x3};
static bn_tm_tile_fn* const tiles_1[] = {NULL, tile_1x1, tile_1x2, tile_1x3};
static bn_tm_tile_fn* const xtiles_4[] = {NULL, xtile_4x1, xtile_4x2, xtile_4x3}; /* the same over I2S_X4 */
static bn_tm_tile_fn* const xtiles_1[] = {NULL, xtile_1x1, xtile_1x2, xtile_1x3};

BN_TM_ENTRY_POINTS(avxvnni, tiles_4, tiles_1, 4, tiles_4, tiles_1, 4, 3, xtiles_4, xtiles_1, xtiles_4, xtiles_1)
