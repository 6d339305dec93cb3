/* Ternary x int8 matmul: Armv8-A NEON without the dot-product extension (layout and arithmetic:
 * kernels/tmatmul.c).
 *
 * An I2_S block is two 16-byte vectors; byte shifts and masks give each run of 32 codes as two vectors of 16,
 * lined up with 32 consecutive activations. Codes (0..3) times activations are formed by smull/smlal into int16
 * lanes: a lane collects 8 products per block, |.| <= 8 * 3 * 128, then sadalp widens it into int32 once per
 * block. */
#include <arm_neon.h>
#include <stddef.h>

#include "kernels/kernels.h"
#include "kernels/tmatmul.h"
#include "kernels/tmatmul_neon_unpack.h"

/* R rows x N tokens (R in {1, 4}, N <= 4) of I2_S rows or (X) I2S_X4 ones. */
BN_TM_INLINE void tile(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                       float w_scale, float* y, int64_t ldy, const int R, const int N, const int X) {
    const int64_t row_bytes = K / 4;
    int32x4_t acc[4][4];
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++) acc[r][n] = vdupq_n_s32(0);
    for (int64_t k = 0; k < K; k += 128) {
        BN_TM_UNROLL
        for (int r = 0; r < R; r++) {
            int8x16_t c[8];
            const int8_t* qr = q;
            if (N > 1) BN_TM_LAUNDER(qr);
            if (N == 1) BN_TM_PREFETCH(bn_tm_block(w, row_bytes, r, k, X) + BN_TM_PREFETCH_BYTES);
            unpack(bn_tm_block(w, row_bytes, r, k, X), c);
            BN_TM_UNROLL
            for (int n = 0; n < N; n++) {
                const int8_t* qk = qr + n * K + k;
                int8x16_t x = vld1q_s8(qk);
                int16x8_t lo = vmull_s8(vget_low_s8(c[0]), vget_low_s8(x));
                int16x8_t hi = vmull_high_s8(c[0], x);
                BN_TM_UNROLL
                for (int i = 1; i < 8; i++) {
                    x = vld1q_s8(qk + 16 * i);
                    lo = vmlal_s8(lo, vget_low_s8(c[i]), vget_low_s8(x));
                    hi = vmlal_high_s8(hi, c[i], x);
                }
                acc[r][n] = vpadalq_s16(vpadalq_s16(acc[r][n], lo), hi);
            }
        }
    }
    for (int n = 0; n < N; n++)
        bn_tm_store_rows_neon(R, acc[0][n], acc[R == 4 ? 1 : 0][n], acc[R == 4 ? 2 : 0][n], acc[R == 4 ? 3 : 0][n],
                              q_sum[n], w_scale / a[n], y + n * ldy);
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
BN_TM_TILE(4, 2)
BN_TM_TILE(4, 3)
BN_TM_TILE(4, 4)
BN_TM_TILE(1, 1)
BN_TM_TILE(1, 2)
BN_TM_TILE(1, 3)
BN_TM_TILE(1, 4)
#undef BN_TM_TILE

static bn_tm_tile_fn* const tiles_4[] = {NULL, tile_4x1, tile_4x2, tile_4x3, tile_4x4};
static bn_tm_tile_fn* const tiles_1[] = {NULL, tile_1x1, tile_1x2, tile_1x3, tile_1x4};
static bn_tm_tile_fn* const xtiles_4[] = {NULL, xtile_4x1, xtile_4x2, xtile_4x3, xtile_4x4}; /* over I2S_X4 */
static bn_tm_tile_fn* const xtiles_1[] = {NULL, xtile_1x1, xtile_1x2, xtile_1x3, xtile_1x4};

BN_TM_ENTRY_POINTS(neon, tiles_4, tiles_1, 4, tiles_4, tiles_1, 4, 4, xtiles_4, xtiles_1, xtiles_4, xtiles_1)
