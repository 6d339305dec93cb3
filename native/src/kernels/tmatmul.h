/* Internal: the loop nest that every vector ternary matmul shares (layout and arithmetic: kernels/tmatmul.c).
 *
 * A vector file supplies register-blocked tiles: a tile computes R output rows x N tokens over the whole of K,
 * so each 2-bit weight it unpacks is used N times and each activation it loads R times. The driver walks a row
 * range [r0, r1) in tiles of R rows (then single rows), and the tokens in tiles of N (then the N-1.. rest), one
 * activation panel at a time so that the panel stays in L2 while the rows of the range pass over it. */
#ifndef BN_KERNELS_TMATMUL_H
#define BN_KERNELS_TMATMUL_H

#include <stdint.h>

/* Rows [r, r+R) x tokens [t, t+N):
 *   w     row r (R rows of K/4 bytes follow, contiguous)
 *   q     token t (N tokens of K bytes follow); q_sum, a: token t
 *   y     &y[t*ldy + r]; the tile writes y[n*ldy + i] for n < N, i < R. */
typedef void bn_tm_tile_fn(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                           float w_scale, float* y, int64_t ldy);

/* Activation bytes per panel: most of a 512 KiB-2 MiB L2, leaving room for the weights of a row range. */
#define BN_TM_PANEL_BYTES (192 * 1024)

#if defined(__GNUC__)
#  define BN_TM_INLINE static inline __attribute__((always_inline))
#else
#  define BN_TM_INLINE static inline
#endif

/* Where row r starts: rows row_bytes apart (x4 == 0), or BN_TLAYOUT_I2S_X4 (x4 == 1: groups of 4 rows, K bytes
 * each, whose rows' 64-byte runs alternate; row_bytes = K/4). A tile of R <= 4 rows that starts at a multiple of R
 * stays inside one group. */
BN_TM_INLINE const uint8_t* bn_tm_row(const uint8_t* w, int64_t row_bytes, int64_t r, const int x4) {
    return x4 ? w + (r & ~(int64_t)3) * row_bytes + (r & 3) * 64 : w + r * row_bytes;
}

/* The 32-byte I2_S block of weights k..k+127 (k % 128 == 0) of row i of a tile whose row 0 starts at w: rows
 * row_bytes apart, or (x4) 64 bytes apart with each row's next 64 bytes 256 further on. */
BN_TM_INLINE const uint8_t* bn_tm_block(const uint8_t* w, int64_t row_bytes, int i, int64_t k, const int x4) {
    return x4 ? w + 64 * i + (k >> 8) * 256 + (k & 128) / 4 : w + i * row_bytes + k / 4;
}

/* tiles_r[n] computes R rows x n tokens, tiles_1[n] one row x n tokens, for n = 1..N (index 0 unused). Rows
 * are row_bytes apart (K/4 for I2_S, bn_tm_drive; K/256 * 54 for TQ1), or in BN_TLAYOUT_I2S_X4 order (x4, with
 * R <= 4 and r0 % 4 == 0; the tiles then address their rows with bn_tm_block). */
static inline void bn_tm_drive_rows(bn_tm_tile_fn* const* tiles_r, bn_tm_tile_fn* const* tiles_1, int R, int N,
                                    const uint8_t* w, int64_t row_bytes, int64_t K, int64_t r0, int64_t r1,
                                    const int8_t* q, const int32_t* q_sum, const float* a, float w_scale, int64_t T,
                                    float* y, int64_t ldy, const int x4) {
    int64_t panel = BN_TM_PANEL_BYTES / K / N * N;
    if (panel < N) panel = N;
    for (int64_t t0 = 0; t0 < T; t0 += panel) {
        const int64_t t1 = T - t0 > panel ? t0 + panel : T;
        for (int64_t r = r0; r < r1;) {
            const int full = r1 - r >= R;
            bn_tm_tile_fn* const* tiles = full ? tiles_r : tiles_1;
            for (int64_t t = t0; t < t1; t += N) {
                const int n = t1 - t < N ? (int)(t1 - t) : N;
                tiles[n](bn_tm_row(w, row_bytes, r, x4), K, q + t * K, q_sum + t, a + t, w_scale, y + t * ldy + r, ldy);
            }
            r += full ? R : 1;
        }
    }
}

/* I2_S (x4 == 0) or I2S_X4 (x4 == 1) rows. */
static inline void bn_tm_drive(bn_tm_tile_fn* const* tiles_r, bn_tm_tile_fn* const* tiles_1, int R, int N,
                               const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                               const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,
                               int64_t ldy, const int x4) {
    bn_tm_drive_rows(tiles_r, tiles_1, R, N, w, K / 4, K, r0, r1, q, q_sum, a, w_scale, T, y, ldy, x4);
}

/* The GEMV and GEMM entry points of a vector file over one layout (lay: i2 or x4, X = 0 or 1), from its tile
 * tables: GEMV tiles tv (tv1: single rows) of RV rows; GEMM tiles tm (tm1) of RM rows x up to N tokens. */
#define BN_TM_LAYOUT_ENTRY_POINTS(lay, isa, X, tv, tv1, RV, tm, tm1, RM, N)                                      \
    void bn_tmatmul_##lay##_gemv_##isa(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,   \
                                       int32_t q_sum, float a, float w_scale, float* y) {                        \
        bn_tm_drive(tv, tv1, RV, 1, w, K, r0, r1, q, &q_sum, &a, w_scale, 1, y, 0, X);                           \
    }                                                                                                            \
    void bn_tmatmul_##lay##_gemm_##isa(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,   \
                                       const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y, \
                                       int64_t ldy) {                                                            \
        bn_tm_drive(tm, tm1, RM, N, w, K, r0, r1, q, q_sum, a, w_scale, T, y, ldy, X);                            \
    }

/* Both layouts' entry points and the installer of a vector file; xtv, xtv1, xtm, xtm1 are its tiles built for
 * I2S_X4 addressing. */
#define BN_TM_ENTRY_POINTS(isa, tv, tv1, RV, tm, tm1, RM, N, xtv, xtv1, xtm, xtm1)                               \
    BN_TM_LAYOUT_ENTRY_POINTS(i2, isa, 0, tv, tv1, RV, tm, tm1, RM, N)                                           \
    BN_TM_LAYOUT_ENTRY_POINTS(x4, isa, 1, xtv, xtv1, RV, xtm, xtm1, RM, N)                                       \
    void bn_install_tmatmul_##isa(bn_kernel_table* t) { BN_TM_INSTALL(t, isa); }

/* Points the I2_S and I2S_X4 slots of t at bn_tmatmul_{i2,x4}_{gemv,gemm}_<isa> and names them. */
#define BN_TM_INSTALL(t, isa)                                                                                     \
    do {                                                                                                         \
        (t)->tmatmul_i2_gemv = bn_tmatmul_i2_gemv_##isa, (t)->tmatmul_i2_gemv_impl = #isa;                       \
        (t)->tmatmul_i2_gemm = bn_tmatmul_i2_gemm_##isa, (t)->tmatmul_i2_gemm_impl = #isa;                       \
        (t)->tmatmul_x4_gemv = bn_tmatmul_x4_gemv_##isa, (t)->tmatmul_x4_gemv_impl = #isa;                       \
        (t)->tmatmul_x4_gemm = bn_tmatmul_x4_gemm_##isa, (t)->tmatmul_x4_gemm_impl = #isa;                       \
    } while (0)

#if defined(__GNUC__)
#  define BN_TM_PREFETCH(p) __builtin_prefetch((p), 0, 3)
/* Unroll the next loop completely. gcc 12 keeps the row loop of a large tile (a NEON 4 x 4 tile is ~200
 * instructions) rolled, which puts the accumulators in memory; clang unrolls these loops by itself. */
#  if defined(__clang__)
#    define BN_TM_UNROLL
#  else
#    define BN_TM_UNROLL _Pragma("GCC unroll 16")
#  endif
/* Hides where pointer p points from the optimiser. Applied to the activation pointer at each row of a NEON tile,
 * it makes the compiler load a block's activations again for every row instead of holding all of them (8
 * vectors per token) in registers across the rows, which spills; the reloads hit L1. */
#  define BN_TM_LAUNDER(p) __asm__ __volatile__("" : "+r"(p))
#else
#  define BN_TM_UNROLL
#  define BN_TM_LAUNDER(p) ((void)0)
#  define BN_TM_PREFETCH(p) ((void)(p))
#endif

#if defined(__aarch64__) && defined(__ARM_NEON)
#  include <arm_neon.h>
/* The end of a NEON tile for one token (tmatmul_neon.c, tmatmul_tq1_neon.c): y[i] = (float)(d_i - q_sum) * scale for
 * i < R (R in {1, 4}), d_i the lane sum of a_i (kernels/tmatmul.c's finish(); with R == 1 only a0 is read). */
BN_TM_INLINE void bn_tm_store_rows_neon(const int R, int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3,
                                        int32_t q_sum, float scale, float* y) {
    if (R == 4) {
        const int32x4_t d = vsubq_s32(vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3)), vdupq_n_s32(q_sum));
        vst1q_f32(y, vmulq_f32(vcvtq_f32_s32(d), vdupq_n_f32(scale)));
    } else {
        y[0] = (float)(int32_t)((uint32_t)vaddvq_s32(a0) - (uint32_t)q_sum) * scale;
    }
}
#endif

/* How far ahead of its reads a GEMV tile prefetches the weights, in bytes. A GEMV reads each weight once, so
 * when the matrix is not in cache its speed is set by how many cache lines are in flight; the out-of-order
 * window alone keeps ~30 (about half the read bandwidth of one core here). Rows are contiguous and tiles walk
 * them in order, so "this row's position + D" is read soon by this tile or the next; prefetches never fault, so
 * running past the end of the matrix is harmless. */
#ifndef BN_TM_PREFETCH_BYTES
#  define BN_TM_PREFETCH_BYTES 16384
#endif

#endif
