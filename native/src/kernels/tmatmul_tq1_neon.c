/* Ternary x int8 matmul over TQ1 rows: Armv8-A NEON without the dot-product extension (layout and trit order:
 * kernels/tmatmul_tq1.c; arithmetic: kernels/tmatmul.c). Decoding: kernels/tmatmul_tq1_neon_decode.h (a byte
 * multiply and three shifts/halving adds per 16 codes). Codes (0..2) times activations are formed by smull/smlal
 * into int16 lanes: a lane collects 16 products per block, |.| <= 16 * 2 * 128 = 4096, then sadalp widens it into
 * int32 once per block. */
#include <arm_neon.h>
#include <stddef.h>

#include "kernels/kernels.h"
#include "kernels/tmatmul.h"
#include "kernels/tmatmul_tq1_neon_decode.h"

/* R rows x N tokens (R in {1, 4}, N <= 4). */
BN_TM_INLINE void tile(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                       float w_scale, float* y, int64_t ldy, const int R, const int N) {
    const int64_t row_bytes = BN_TQ1_ROW_BYTES(K);
    int32x4_t acc[4][4];
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++) acc[r][n] = vdupq_n_s32(0);
    const uint8_t* wb = w;
    for (int64_t k = 0; k < K; k += BN_TQ1_BLOCK, wb += BN_TQ1_BLOCK_BYTES) {
        BN_TM_UNROLL
        for (int r = 0; r < R; r++) {
            const int8_t* qr = q;
            if (N > 1) BN_TM_LAUNDER(qr);
            if (N == 1) BN_TM_PREFETCH(wb + r * row_bytes + BN_TM_PREFETCH_BYTES);
            const tq1_src s = tq1_load(wb + r * row_bytes);
            int16x8_t lo[4], hi[4];
            BN_TM_UNROLL
            for (int i = 0; i < 16; i++) {
                const int8x16_t c = tq1_codes(&s, i);
                BN_TM_UNROLL
                for (int n = 0; n < N; n++) {
                    const int8x16_t x = vld1q_s8(qr + n * K + k + 16 * i);
                    if (i == 0) {
                        lo[n] = vmull_s8(vget_low_s8(c), vget_low_s8(x));
                        hi[n] = vmull_high_s8(c, x);
                    } else {
                        lo[n] = vmlal_s8(lo[n], vget_low_s8(c), vget_low_s8(x));
                        hi[n] = vmlal_high_s8(hi[n], c, x);
                    }
                }
            }
            for (int n = 0; n < N; n++) acc[r][n] = vpadalq_s16(vpadalq_s16(acc[r][n], lo[n]), hi[n]);
        }
    }
    for (int n = 0; n < N; n++)
        bn_tm_store_rows_neon(R, acc[0][n], acc[R == 4 ? 1 : 0][n], acc[R == 4 ? 2 : 0][n], acc[R == 4 ? 3 : 0][n],
                              q_sum[n], w_scale / a[n], y + n * ldy);
}

#define BN_TM_TILE(R, N)                                                                                    \
    static void tile_##R##x##N(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum,         \
                               const float* a, float w_scale, float* y, int64_t ldy) {                     \
        tile(w, K, q, q_sum, a, w_scale, y, ldy, R, N);                                                    \
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

/* bn_tq1_to_i2_fn. Rows are contiguous in both layouts, so the rows are one run of blocks. A block's code vector i
 * (tq1_codes) holds codes 16i..16i+15, so bytes 16m..16m+15 of I2_S block h (m = 0, 1) are vectors
 * v = 8h + m + {0, 2, 4, 6} packed as v0 << 6 | v2 << 4 | v4 << 2 | v6, by three shift-and-inserts (vsli keeps the
 * low bits of its first operand: codes <= 2, so they hold the lower codes exactly). */
void bn_tq1_to_i2_neon(const uint8_t* w, int64_t K, int64_t rows, uint8_t* out) {
    const int64_t nb = rows * (K / BN_TQ1_BLOCK);
    for (int64_t b = 0; b < nb; b++, w += BN_TQ1_BLOCK_BYTES, out += 64) {
        const tq1_src s = tq1_load(w);
        BN_TM_UNROLL
        for (int v = 0; v < 16; v += 8)
            BN_TM_UNROLL
            for (int m = 0; m < 2; m++) {
                uint8x16_t x = vreinterpretq_u8_s8(tq1_codes(&s, v + m + 6));
                x = vsliq_n_u8(x, vreinterpretq_u8_s8(tq1_codes(&s, v + m + 4)), 2);
                x = vsliq_n_u8(x, vreinterpretq_u8_s8(tq1_codes(&s, v + m + 2)), 4);
                x = vsliq_n_u8(x, vreinterpretq_u8_s8(tq1_codes(&s, v + m)), 6);
                vst1q_u8(out + 4 * v + 16 * m, x);
            }
    }
}

void bn_tmatmul_tq1_gemv_neon(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q, int32_t q_sum,
                              float a, float w_scale, float* y) {
    bn_tm_drive_rows(tiles_4, tiles_1, 4, 1, w, BN_TQ1_ROW_BYTES(K), K, r0, r1, q, &q_sum, &a, w_scale, 1, y, 0, 0);
}

void bn_tmatmul_tq1_gemm_neon(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                              const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,
                              int64_t ldy) {
    if (bn_tmatmul_tq1_gemm_panels(bn_tq1_to_i2_neon, bn_tmatmul_i2_gemm_neon, w, K, r0, r1, q, q_sum, a, w_scale,
                                   T, y, ldy))
        return;
    bn_tm_drive_rows(tiles_4, tiles_1, 4, 4, w, BN_TQ1_ROW_BYTES(K), K, r0, r1, q, q_sum, a, w_scale, T, y, ldy, 0);
}

void bn_install_tmatmul_tq1_neon(bn_kernel_table* t) {
    t->tmatmul_tq1_gemv = bn_tmatmul_tq1_gemv_neon;
    t->tmatmul_tq1_gemv_impl = "neon";
    t->tmatmul_tq1_gemm = bn_tmatmul_tq1_gemm_neon;
    t->tmatmul_tq1_gemm_impl = "neon";
}
