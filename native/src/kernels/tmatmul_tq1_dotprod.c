/* Ternary x int8 matmul over TQ1 rows: Armv8.2-A NEON with the dot-product extension (layout and trit order:
 * kernels/tmatmul_tq1.c; arithmetic: kernels/tmatmul.c). Decoding is shared with the plain NEON file
 * (kernels/tmatmul_tq1_neon_decode.h); sdot multiplies 16 codes (0..2, exact as signed bytes) by 16 activations
 * and adds groups of four into int32 lanes. */
#include <arm_neon.h>
#include <stddef.h>

#include "kernels/kernels.h"
#include "kernels/tmatmul.h"
#include "kernels/tmatmul_tq1_neon_decode.h"

/* R rows x N tokens (R in {1, 4}, N <= 4); A accumulators per output (2 halves the sdot dependency chain when
 * few outputs are in flight, as in a GEMV). */
BN_TM_INLINE void tile(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                       float w_scale, float* y, int64_t ldy, const int R, const int N, const int A) {
    const int64_t row_bytes = BN_TQ1_ROW_BYTES(K);
    int32x4_t acc[4][4][2];
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++)
            for (int i = 0; i < A; i++) acc[r][n][i] = vdupq_n_s32(0);
    const uint8_t* wb = w;
    for (int64_t k = 0; k < K; k += BN_TQ1_BLOCK, wb += BN_TQ1_BLOCK_BYTES) {
        BN_TM_UNROLL
        for (int r = 0; r < R; r++) {
            const int8_t* qr = q;
            if (N > 1) BN_TM_LAUNDER(qr);
            if (N == 1) BN_TM_PREFETCH(wb + r * row_bytes + BN_TM_PREFETCH_BYTES);
            const tq1_src s = tq1_load(wb + r * row_bytes);
            BN_TM_UNROLL
            for (int i = 0; i < 16; i++) {
                const int8x16_t c = tq1_codes(&s, i);
                BN_TM_UNROLL
                for (int n = 0; n < N; n++)
                    acc[r][n][i % A] = vdotq_s32(acc[r][n][i % A], c, vld1q_s8(qr + n * K + k + 16 * i));
            }
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
        tile(w, K, q, q_sum, a, w_scale, y, ldy, R, N, A);                                                 \
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

void bn_tmatmul_tq1_gemv_dotprod(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                                 int32_t q_sum, float a, float w_scale, float* y) {
    bn_tm_drive_rows(tiles_4, tiles_1, 4, 1, w, BN_TQ1_ROW_BYTES(K), K, r0, r1, q, &q_sum, &a, w_scale, 1, y, 0, 0);
}

void bn_tmatmul_tq1_gemm_dotprod(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                                 const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,
                                 int64_t ldy) {
    /* the converter is plain NEON's (the same decode, tmatmul_tq1_neon_decode.h); the I2_S GEMM this file's */
    if (bn_tmatmul_tq1_gemm_panels(bn_tq1_to_i2_neon, bn_tmatmul_i2_gemm_dotprod, w, K, r0, r1, q, q_sum, a,
                                   w_scale, T, y, ldy))
        return;
    bn_tm_drive_rows(tiles_4, tiles_1, 4, 4, w, BN_TQ1_ROW_BYTES(K), K, r0, r1, q, q_sum, a, w_scale, T, y, ldy, 0);
}

void bn_install_tmatmul_tq1_dotprod(bn_kernel_table* t) {
    t->tmatmul_tq1_gemv = bn_tmatmul_tq1_gemv_dotprod;
    t->tmatmul_tq1_gemv_impl = "dotprod";
    t->tmatmul_tq1_gemm = bn_tmatmul_tq1_gemm_dotprod;
    t->tmatmul_tq1_gemm_impl = "dotprod";
}
