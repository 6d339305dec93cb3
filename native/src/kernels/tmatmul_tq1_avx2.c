/* Ternary x int8 matmul over TQ1 rows: AVX2 (layout and the trit order: kernels/tmatmul_tq1.c; arithmetic:
 * kernels/tmatmul.c).
 *
 * Decoding. Trit n of a byte x is ((uint8_t)(x * 3^n) * 3) >> 8. AVX2 has no byte multiply, so each 16-bit
 * lane does two bytes: with the even byte x_e and the odd byte x_o of a word v,
 *     e = v * (m << 8)            mod 2^16  = ((x_e * m) mod 256) << 8     (x_o * m << 16 falls off)
 *     o = (v & 0xFF00) * m        mod 2^16  = ((x_o * m) mod 256) << 8
 * and the unsigned high half of a product by 3 is (y * 3) >> 8 for y << 8, so mulhi(e, 3) is the even trit in the
 * low byte and mulhi(o, 3) << 8 the odd trit in the high byte: code byte pairs in place, 6 operations per 32 codes.
 * The multiplier m may differ per byte pair, which lets one vector hold trits of two different powers.
 *
 * A block (256 weights, 54 bytes) becomes 8 vectors of 32 codes, vector g lining up with activations 32g..32g+31:
 *     g = 0..4   qs[0..31] times 3^g                       weights 32g .. 32g+31
 *     g = 5, 6   qs[32..47] in both halves, times 3^(2g-10) | 3^(2g-9)        weights 160..223
 *     g = 7      qs[32..47] times 81 | qh[0..3] four times, times 1, 3, 9, 27  weights 224..255
 * pmaddubsw multiplies codes (unsigned, 0..2) by activations (signed) into int16 pair sums, |.| <= 2*2*128 = 512;
 * int16 accumulators take 4 blocks (32 products: |.| <= 16384) before one pmaddwd by ones widens them to int32.
 * Every byte value decodes exactly as the scalar reference decodes it (the 13 that no encoder writes too). */
#include <immintrin.h>
#include <stddef.h>

#include "kernels/kernels.h"
#include "kernels/tmatmul.h"
#include "kernels/tmatmul_tq1_x86.h"

/* Blocks per int16 accumulation. */
#define BN_TQ1_AVX2_CHUNK 4

/* R rows x N tokens (R in {1, 2, 4}, N <= 4) over all of K; rows row_bytes apart. */
BN_TM_INLINE void tile(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                       float w_scale, float* y, int64_t ldy, const int R, const int N) {
    const __m256i hi = _mm256_set1_epi16((int16_t)0xFF00), three = _mm256_set1_epi16(3);
    const int64_t row_bytes = BN_TQ1_ROW_BYTES(K), nb = K / BN_TQ1_BLOCK;
    _Alignas(32) int32_t acc[4][4][8];
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++) _mm256_store_si256((__m256i*)acc[r][n], _mm256_setzero_si256());
    int64_t b0 = 0;
    do { /* nb >= 1 */
        const int64_t b1 = nb - b0 > BN_TQ1_AVX2_CHUNK ? b0 + BN_TQ1_AVX2_CHUNK : nb;
        __m256i s[4][4];
        for (int r = 0; r < R; r++)
            for (int n = 0; n < N; n++) s[r][n] = _mm256_setzero_si256();
        for (int64_t b = b0; b < b1; b++)
            BN_TM_UNROLL
            for (int r = 0; r < R; r++) {
                const uint8_t* p = w + r * row_bytes + b * BN_TQ1_BLOCK_BYTES;
                if (N == 1) BN_TM_PREFETCH(p + BN_TM_PREFETCH_BYTES);
                const tq1_src src = tq1_load(p, hi);
                const int8_t* qb = q + b * BN_TQ1_BLOCK;
                BN_TM_UNROLL
                for (int g = 0; g < 8; g++) {
                    const __m256i c = tq1_codes(g, &src, three);
                    BN_TM_UNROLL
                    for (int n = 0; n < N; n++)
                        s[r][n] = add_i16(s[r][n], _mm256_maddubs_epi16(
                                                       c, _mm256_loadu_si256((const __m256i*)(qb + n * K + 32 * g))));
                }
            }
        flush_i16(R, N, s, acc);
        b0 = b1;
    } while (b0 < nb);
    store_acc(R, N, acc, q_sum, a, w_scale, y, ldy);
}

#define BN_TM_TILE(R, N)                                                                                    \
    static void tile_##R##x##N(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum,         \
                               const float* a, float w_scale, float* y, int64_t ldy) {                     \
        tile(w, K, q, q_sum, a, w_scale, y, ldy, R, N);                                                    \
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

static bn_tm_tile_fn* const tiles_4[] = {NULL, tile_4x1};                               /* GEMV */
static bn_tm_tile_fn* const tiles_2[] = {NULL, tile_2x1, tile_2x2, tile_2x3, tile_2x4}; /* GEMM */
static bn_tm_tile_fn* const tiles_1[] = {NULL, tile_1x1, tile_1x2, tile_1x3, tile_1x4};

/* bn_tq1_to_i2_fn. Rows are contiguous in both layouts, so the rows are one run of blocks: each TQ1 block's 8 code
 * vectors (tq1_codes: vector g is codes 32g..32g+31) become its two I2_S blocks, c0 << 6 | c1 << 4 | c2 << 2 | c3
 * and the same of c4..c7 (codes <= 2, so 16-bit shifts move no bit across a byte). */
void bn_tq1_to_i2_avx2(const uint8_t* w, int64_t K, int64_t rows, uint8_t* out) {
    const __m256i hi = _mm256_set1_epi16((int16_t)0xFF00), three = _mm256_set1_epi16(3);
    const int64_t nb = rows * (K / BN_TQ1_BLOCK);
    for (int64_t b = 0; b < nb; b++, w += BN_TQ1_BLOCK_BYTES, out += 64) {
        const tq1_src src = tq1_load(w, hi);
        BN_TM_UNROLL
        for (int h = 0; h < 2; h++) {
            const __m256i c01 = _mm256_or_si256(_mm256_slli_epi16(tq1_codes(4 * h, &src, three), 6),
                                                _mm256_slli_epi16(tq1_codes(4 * h + 1, &src, three), 4));
            const __m256i c23 = _mm256_or_si256(_mm256_slli_epi16(tq1_codes(4 * h + 2, &src, three), 2),
                                                tq1_codes(4 * h + 3, &src, three));
            _mm256_storeu_si256((__m256i*)(out + 32 * h), _mm256_or_si256(c01, c23));
        }
    }
}

void bn_tmatmul_tq1_gemv_avx2(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q, int32_t q_sum,
                              float a, float w_scale, float* y) {
    bn_tm_drive_rows(tiles_4, tiles_1, 4, 1, w, BN_TQ1_ROW_BYTES(K), K, r0, r1, q, &q_sum, &a, w_scale, 1, y, 0, 0);
}

void bn_tmatmul_tq1_gemm_avx2(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                              const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,
                              int64_t ldy) {
    if (bn_tmatmul_tq1_gemm_panels(bn_tq1_to_i2_avx2, bn_tmatmul_i2_gemm_avx2, w, K, r0, r1, q, q_sum, a, w_scale,
                                   T, y, ldy))
        return;
    bn_tm_drive_rows(tiles_2, tiles_1, 2, 4, w, BN_TQ1_ROW_BYTES(K), K, r0, r1, q, q_sum, a, w_scale, T, y, ldy, 0);
}

void bn_install_tmatmul_tq1_avx2(bn_kernel_table* t) {
    t->tmatmul_tq1_gemv = bn_tmatmul_tq1_gemv_avx2;
    t->tmatmul_tq1_gemv_impl = "avx2";
    t->tmatmul_tq1_gemm = bn_tmatmul_tq1_gemm_avx2;
    t->tmatmul_tq1_gemm_impl = "avx2";
}
