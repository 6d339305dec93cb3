/* Ternary x int8 matmul over TQ1 rows: AVX-VNNI, the VEX-encoded vpdpbusd on 256-bit vectors (layout and trit
 * order: kernels/tmatmul_tq1.c; arithmetic: kernels/tmatmul.c). Decoding is AVX2's (kernels/tmatmul_tq1_x86.h,
 * described in tmatmul_tq1_avx2.c: 8 vectors of 32 codes per block); vpdpbusd multiplies 32 codes (unsigned) by
 * 32 activations (signed) and adds groups of four into int32 lanes in one instruction, where AVX2 needs pmaddubsw,
 * an int16 add and a periodic widening. */
#include <immintrin.h>
#include <stddef.h>

#include "kernels/kernels.h"
#include "kernels/tmatmul.h"
#include "kernels/tmatmul_tq1_x86.h"

/* See tmatmul_avxvnni.c: the asm keeps gcc 12 from copying the accumulator, and {vex} keeps the encoding that
 * CPUs with AVX-VNNI but no AVX-512 run. */
#if defined(__GNUC__) && !defined(__clang__)
BN_TM_INLINE __m256i dpbusd(__m256i acc, __m256i u8, __m256i s8) {
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u8), "xm"(s8));
    return acc;
}
#else
#  define dpbusd _mm256_dpbusd_avx_epi32
#endif

/* R rows x N tokens (R in {1, 4}, N <= 3) over all of K; A accumulators per output (2 halves the vpdpbusd chain
 * of a GEMV). */
BN_TM_INLINE void tile(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                       float w_scale, float* y, int64_t ldy, const int R, const int N, const int A) {
    const __m256i hi = _mm256_set1_epi16((int16_t)0xFF00), three = _mm256_set1_epi16(3);
    const int64_t row_bytes = BN_TQ1_ROW_BYTES(K);
    __m256i acc[2][4][3];
    for (int i = 0; i < A; i++)
        for (int r = 0; r < R; r++)
            for (int n = 0; n < N; n++) acc[i][r][n] = _mm256_setzero_si256();
    int64_t k = 0;
    const uint8_t* wb = w;
    do { /* K >= 256 */
        BN_TM_UNROLL
        for (int r = 0; r < R; r++) {
            const uint8_t* p = wb + r * row_bytes;
            if (N == 1) BN_TM_PREFETCH(p + BN_TM_PREFETCH_BYTES);
            const tq1_src src = tq1_load(p, hi);
            BN_TM_UNROLL
            for (int g = 0; g < 8; g++) {
                const __m256i c = tq1_codes(g, &src, three);
                BN_TM_UNROLL
                for (int n = 0; n < N; n++)
                    acc[g % A][r][n] =
                        dpbusd(acc[g % A][r][n], c, _mm256_loadu_si256((const __m256i*)(q + n * K + k + 32 * g)));
            }
        }
        k += BN_TQ1_BLOCK;
        wb += BN_TQ1_BLOCK_BYTES;
    } while (k < K);
    store_acc_vnni(R, N, A, acc, q_sum, a, w_scale, y, ldy);
}

#define BN_TM_TILE(R, N, A)                                                                                 \
    static void tile_##R##x##N(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum,         \
                               const float* a, float w_scale, float* y, int64_t ldy) {                     \
        tile(w, K, q, q_sum, a, w_scale, y, ldy, R, N, A);                                                 \
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

void bn_tmatmul_tq1_gemv_avxvnni(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                                 int32_t q_sum, float a, float w_scale, float* y) {
    bn_tm_drive_rows(tiles_4, tiles_1, 4, 1, w, BN_TQ1_ROW_BYTES(K), K, r0, r1, q, &q_sum, &a, w_scale, 1, y, 0, 0);
}

void bn_tmatmul_tq1_gemm_avxvnni(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                                 const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,
                                 int64_t ldy) {
    /* the converter is AVX2's (the same decode, tmatmul_tq1_x86.h); the I2_S GEMM this file's instruction set's */
    if (bn_tmatmul_tq1_gemm_panels(bn_tq1_to_i2_avx2, bn_tmatmul_i2_gemm_avxvnni, w, K, r0, r1, q, q_sum, a,
                                   w_scale, T, y, ldy))
        return;
    bn_tm_drive_rows(tiles_4, tiles_1, 4, 3, w, BN_TQ1_ROW_BYTES(K), K, r0, r1, q, q_sum, a, w_scale, T, y, ldy, 0);
}

void bn_install_tmatmul_tq1_avxvnni(bn_kernel_table* t) {
    t->tmatmul_tq1_gemv = bn_tmatmul_tq1_gemv_avxvnni;
    t->tmatmul_tq1_gemv_impl = "avxvnni";
    t->tmatmul_tq1_gemm = bn_tmatmul_tq1_gemm_avxvnni;
    t->tmatmul_tq1_gemm_impl = "avxvnni";
}
