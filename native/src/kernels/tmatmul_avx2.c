/* Ternary x int8 matmul: AVX2 (layout and arithmetic: kernels/tmatmul.c).
 *
 * One I2_S block (32 bytes) unpacks by shifts and masks into four runs of 32 codes, each lining up with 32
 * consecutive activations. pmaddubsw multiplies codes (unsigned) by activations (signed) into int16 pair sums,
 * |.| <= 2 * 3 * 128 = 768; int16 accumulators take up to 8 blocks (4 runs each: |.| <= 24576) before one
 * pmaddwd by ones widens them into int32. A GEMM tile is 2 rows x 4 tokens: one row's four code vectors and
 * 8 int16 sums fit in the 16 registers, and the int32 sums, touched once per 8 blocks, live in memory. */
#include <immintrin.h>
#include <stddef.h>

#include "kernels/kernels.h"
#include "kernels/tmatmul.h"
#include "kernels/tmatmul_x86.h"

/* Blocks per int16 accumulation. */
#define BN_TM_AVX2_CHUNK 8

/* R rows x N tokens (R in {1, 2, 4}, N <= 4) over all of K, I2_S rows or (X) I2S_X4 ones; see bn_tm_tile_fn. */
BN_TM_INLINE void tile(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                       float w_scale, float* y, int64_t ldy, const int R, const int N, const int X) {
    const __m256i m3 = _mm256_set1_epi8(3);
    const int64_t row_bytes = K / 4;
    /* int32 partial sums, touched once per chunk: kept in memory so the registers hold the int16 ones */
    _Alignas(32) int32_t acc[4][4][8];
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++) _mm256_store_si256((__m256i*)acc[r][n], _mm256_setzero_si256());
    int64_t k0 = 0;
    do { /* K >= 128; a do-while keeps gcc from giving the accumulators a stack home for the K == 0 path */
        const int64_t k1 = K - k0 > 128 * BN_TM_AVX2_CHUNK ? k0 + 128 * BN_TM_AVX2_CHUNK : K;
        __m256i s[4][4];
        for (int r = 0; r < R; r++)
            for (int n = 0; n < N; n++) s[r][n] = _mm256_setzero_si256();
        for (int64_t k = k0; k < k1; k += 128)
            for (int r = 0; r < R; r++) {
                const uint8_t* p = bn_tm_block(w, row_bytes, r, k, X);
                if (N == 1) BN_TM_PREFETCH(p + BN_TM_PREFETCH_BYTES);
                const __m256i v = _mm256_loadu_si256((const __m256i*)p);
                const __m256i c[4] = {_mm256_and_si256(_mm256_srli_epi16(v, 6), m3),
                                      _mm256_and_si256(_mm256_srli_epi16(v, 4), m3),
                                      _mm256_and_si256(_mm256_srli_epi16(v, 2), m3), _mm256_and_si256(v, m3)};
                for (int n = 0; n < N; n++)
                    for (int g = 0; g < 4; g++)
                        s[r][n] = add_i16(s[r][n], _mm256_maddubs_epi16(
                                                       c[g], _mm256_loadu_si256((const __m256i*)(q + n * K + k + 32 * g))));
            }
        flush_i16(R, N, s, acc);
        k0 = k1;
    } while (k0 < K);
    store_acc(R, N, acc, q_sum, a, w_scale, y, ldy);
}

#define BN_TM_TILE(R, N)                                                                                    \
    static void tile_##R##x##N(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum,         \
                               const float* a, float w_scale, float* y, int64_t ldy) {                     \
        tile(w, K, q, q_sum, a, w_scale, y, ldy, R, N, 0);                                                 \
    }                                                                                                       \
    static void xtile_##R##x##N(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum,        \
                                const float* a, float w_scale, float* y, int64_t ldy) {                    \
        tile(w, K, q, q_sum, a, w_scale, y, ldy, R, N, 1);                                                 \
    }
BN_TM_TILE(4, 1)
BN_TM_TILE(2, 1)
BN_TM_TILE(2, 2)
BN_TM_TILE(2, 3)
BN_TM_TILE(2, 4)
BN_TM_TILE(1, 1)
BN_TM_TILE(1, 2)
BN_TM_TILE(1, 3)
BN_TM_TILE(1, 4)
#undef BN_TM_TILE

static bn_tm_tile_fn* const tiles_4[] = {NULL, tile_4x1}; /* GEMV */
static bn_tm_tile_fn* const tiles_2[] = {NULL, tile_2x1, tile_2x2, tile_2x3, tile_2x4}; /* GEMM */
static bn_tm_tile_fn* const tiles_1[] = {NULL, tile_1x1, tile_1x2, tile_1x3, tile_1x4};
static bn_tm_tile_fn* const xtiles_4[] = {NULL, xtile_4x1}; /* the same over I2S_X4 */
static bn_tm_tile_fn* const xtiles_2[] = {NULL, xtile_2x1, xtile_2x2, xtile_2x3, xtile_2x4};
static bn_tm_tile_fn* const xtiles_1[] = {NULL, xtile_1x1, xtile_1x2, xtile_1x3, xtile_1x4};

BN_TM_ENTRY_POINTS(avx2, tiles_4, tiles_1, 4, tiles_2, tiles_1, 2, 4, xtiles_4, xtiles_1, xtiles_2, xtiles_1)
