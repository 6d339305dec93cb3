/* Ternary x int8 matmul: Armv8.2-A NEON with the dot-product extension (layout and arithmetic:
 * kernels/tmatmul.c). Unpacking is shared with the plain NEON file (kernels/tmatmul_neon_unpack.h: byte
 * shifts and masks, two 16-byte vectors per run of 32 codes); sdot multiplies 16 codes (0..3, exact as signed
 * bytes) by 16 activations and adds groups of four into int32 lanes. */
#include <arm_neon.h>
#include <stddef.h>

#include "kernels/kernels.h"
#include "kernels/tmatmul.h"
#include "kernels/tmatmul_neon_unpack.h"

/* R rows x N tokens (R in {1, 4}, N <= 4) of I2_S rows or (X) I2S_X4 ones; A accumulators per output (2 halves the
 * sdot dependency chain when few outputs are in flight, as in a GEMV). */
BN_TM_INLINE void tile(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                       float w_scale, float* y, int64_t ldy, const int R, const int N, const int A, const int X) {
    const int64_t row_bytes = K / 4;
    int32x4_t acc[4][4][2];
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++)
            for (int i = 0; i < A; i++) acc[r][n][i] = vdupq_n_s32(0);
    for (int64_t k = 0; k < K; k += 128) {
        BN_TM_UNROLL
        for (int r = 0; r < R; r++) {
            int8x16_t c[8];
            const int8_t* qr = q;
            if (N > 1) BN_TM_LAUNDER(qr);
            if (N == 1) BN_TM_PREFETCH(bn_tm_block(w, row_bytes, r, k, X) + BN_TM_PREFETCH_BYTES);
            unpack(bn_tm_block(w, row_bytes, r, k, X), c);
            BN_TM_UNROLL
            for (int n = 0; n < N; n++)
                BN_TM_UNROLL
                for (int i = 0; i < 8; i++)
                    acc[r][n][i % A] = vdotq_s32(acc[r][n][i % A], c[i], vld1q_s8(qr + n * K + k + 16 * i));
        }
    }
    for (int n = 0; n < N; n++) {
        int32x4_t s[4];
        for (int r = 0; r < R; r++) s[r] = A == 2 ? vaddq_s32(acc[r][n][0], acc[r][n][1]) : acc[r][n][0];
        bn_tm_store_rows_neon(R, s[0], s[R == 4 ? 1 : 0], s[R == 4 ? 2 : 0], s[R == 4 ? 3 : 0], q_sum[n], w_scale / a[n],
                              y + n * ldy);
    }
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
BN_TM_TILE(4, 4, 1)
BN_TM_TILE(1, 1, 2)
BN_TM_TILE(1, 2, 1)
BN_TM_TILE(1, 3, 1)
BN_TM_TILE(1, 4, 1)
#undef BN_TM_TILE

static bn_tm_tile_fn* const tiles_4[] = {NULL, tile_4x1, tile_4x2, tile_4x3, tile_4x4};
static bn_tm_tile_fn* const tiles_1[] = {NULL, tile_1x1, tile_1x2, tile_1x3, tile_1x4};
static bn_tm_tile_fn* const xtiles_4[] = {NULL, xtile_4x1, xtile_4x2, xtile_4x3, xtile_4x4}; /* over I2S_X4 */
static bn_tm_tile_fn* const xtiles_1[] = {NULL, xtile_1x1, xtile_1x2, xtile_1x3, xtile_1x4};

BN_TM_ENTRY_POINTS(dotprod, tiles_4, tiles_1, 4, tiles_4, tiles_1, 4, 4, xtiles_4, xtiles_1, xtiles_4, xtiles_1)
