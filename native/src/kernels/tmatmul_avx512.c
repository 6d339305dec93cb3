/* Ternary x int8 matmul: AVX-512 VNNI (layout and arithmetic: kernels/tmatmul.c).
 *
 * A 32-byte I2_S block is broadcast into both halves of a 512-bit register; one variable word shift (6 in the
 * low half, 4 in the high half) and a mask give the codes of weights 0..63 in order, a second (2 and 0) those
 * of weights 64..127, so each lines up with 64 consecutive activations and needs no shuffle of the activations.
 * vpdpbusd then multiplies 64 codes (unsigned) by 64 activations (signed) into 16 int32 lanes. */
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/tmatmul.h"
#include "kernels/x86_avx512.h"

/* acc + 4-byte dot products of u8 (unsigned) and s8 (signed). gcc 12 copies the accumulator of
 * _mm512_dpbusd_epi32 around in register-blocked loops (register moves and spills in the 4 x 4 tile); an asm
 * statement that updates it in place gives the loop that clang makes of the intrinsic. */
#if defined(__GNUC__) && !defined(__clang__)
BN_TM_INLINE __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "vm"(s8));
    return acc;
}
#else
#  define dpbusd _mm512_dpbusd_epi32
#endif

/* The codes of one I2_S block at p: weights 0..63 in *lo, 64..127 in *hi. */
BN_TM_INLINE void unpack(const uint8_t* p, __m512i sh_lo, __m512i sh_hi, __m512i m3, __m512i* lo, __m512i* hi) {
    const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i*)p));
    *lo = _mm512_and_si512(_mm512_srlv_epi16(v, sh_lo), m3);
    *hi = _mm512_and_si512(_mm512_srlv_epi16(v, sh_hi), m3);
}

/* A GEMV tile's end: row r's sum is acc0[r] + acc1[r]; y[0..R) as bn_tm_store_rows_512 makes it (R == 1, 4, 8). */
BN_TM_INLINE void store_v(__m512i* acc0, const __m512i* acc1, int32_t q_sum, float a, float w_scale, float* y,
                          const int R) {
    for (int r = 0; r < R; r++) acc0[r] = _mm512_add_epi32(acc0[r], acc1[r]);
    if (R >= 4) bn_tm_store_rows_512(4, acc0[0], acc0[1], acc0[2], acc0[3], q_sum, a, w_scale, y);
    if (R == 8) bn_tm_store_rows_512(4, acc0[4], acc0[5], acc0[6], acc0[7], q_sum, a, w_scale, y + 4);
    if (R == 1) {
        bn_tm_store_rows_512(1, acc0[0], acc0[0], acc0[0], acc0[0], q_sum, a, w_scale, y);
    }
}

/* GEMV: R rows (1, 4 or 8) x one token of I2_S rows or (X) I2S_X4 ones. The two halves of a block go to separate
 * accumulators, which halves the vpdpbusd dependency chain. Eight I2_S rows rather than four: the same speed from
 * cache, and 5-8% more from DRAM (eight streams in flight). */
BN_TM_INLINE void tile_v(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                         float w_scale, float* y, const int R, const int X) {
    const __m512i m3 = _mm512_set1_epi8(3);
    const __m512i sh_lo = _mm512_inserti64x4(_mm512_set1_epi16(6), _mm256_set1_epi16(4), 1);
    const __m512i sh_hi = _mm512_inserti64x4(_mm512_set1_epi16(2), _mm256_set1_epi16(0), 1);
    const int64_t row_bytes = K / 4;
    __m512i acc0[8], acc1[8];
    for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm512_setzero_si512();
    int64_t k = 0;
    do { /* K >= 128; a do-while keeps gcc from giving the accumulators a stack home for the K == 0 path */
        const __m512i qlo = _mm512_loadu_si512(q + k), qhi = _mm512_loadu_si512(q + k + 64);
        for (int r = 0; r < R; r++) {
            __m512i lo, hi;
            const uint8_t* p = bn_tm_block(w, row_bytes, r, k, X);
            BN_TM_PREFETCH(p + BN_TM_PREFETCH_BYTES);
            unpack(p, sh_lo, sh_hi, m3, &lo, &hi);
            acc0[r] = dpbusd(acc0[r], lo, qlo);
            acc1[r] = dpbusd(acc1[r], hi, qhi);
        }
        k += 128;
    } while (k < K);
    store_v(acc0, acc1, q_sum[0], a[0], w_scale, y, R);
}

/* GEMV over whole cache lines: R rows (1, 4 or 8) x one token of I2_S rows or (X) I2S_X4 ones, K % 256 == 0, q
 * permuted by permute_q(). A 64-byte load
 * holds two I2_S blocks A (weights 0..127 of a 256-run) and B (128..255); shifting it right by 6, 4, 2, 0 and masking
 * gives, in one vector, A's weights 32j..32j+31 in bytes 0..31 and B's 128+32j.. in bytes 32..63 (j = 0..3), which
 * line up with the permuted activations. Per 64 weight bytes: one load, three shifts, four masks, four vpdpbusd
 * (tile_v: two broadcast loads, four shifts, four masks, four vpdpbusd). The integer sums are the same, so the
 * output is the same bits. */
BN_TM_INLINE void tile_w(const uint8_t* w, int64_t K, const int8_t* qp, const int32_t* q_sum, const float* a,
                         float w_scale, float* y, const int R, const int X) {
    const __m512i m3 = _mm512_set1_epi8(3);
    const int64_t row_bytes = K / 4;
    __m512i acc0[8], acc1[8];
    for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm512_setzero_si512();
    int64_t k = 0;
    do { /* K >= 256 (see tile_v) */
        const __m512i q0 = _mm512_loadu_si512(qp + k), q1 = _mm512_loadu_si512(qp + k + 64);
        const __m512i q2 = _mm512_loadu_si512(qp + k + 128), q3 = _mm512_loadu_si512(qp + k + 192);
        for (int r = 0; r < R; r++) {
            const uint8_t* p = bn_tm_block(w, row_bytes, r, k, X);
            BN_TM_PREFETCH(p + BN_TM_PREFETCH_BYTES);
            const __m512i v = _mm512_loadu_si512(p);
            acc0[r] = dpbusd(acc0[r], _mm512_and_si512(_mm512_srli_epi16(v, 6), m3), q0);
            acc1[r] = dpbusd(acc1[r], _mm512_and_si512(_mm512_srli_epi16(v, 4), m3), q1);
            acc0[r] = dpbusd(acc0[r], _mm512_and_si512(_mm512_srli_epi16(v, 2), m3), q2);
            acc1[r] = dpbusd(acc1[r], _mm512_and_si512(v, m3), q3);
        }
        k += 256;
    } while (k < K);
    store_v(acc0, acc1, q_sum[0], a[0], w_scale, y, R);
}

/* The activation order tile_w reads: per 256-run, [q 0..31, q 128..159], [32..63, 160..191], [64..95, 192..223],
 * [96..127, 224..255]. */
static void permute_q(const int8_t* q, int64_t K, int8_t* qp) {
    for (int64_t k = 0; k < K; k += 256)
        for (int j = 0; j < 4; j++) {
            memcpy(qp + k + 64 * j, q + k + 32 * j, 32);
            memcpy(qp + k + 64 * j + 32, q + k + 128 + 32 * j, 32);
        }
}

/* GEMM: R rows (1 or 4) x N tokens (N <= 4) of I2_S rows or (X) I2S_X4 ones; each unpacked block serves N
 * tokens. */
BN_TM_INLINE void tile(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                       float w_scale, float* y, int64_t ldy, const int R, const int N, const int X) {
    const __m512i m3 = _mm512_set1_epi8(3);
    const __m512i sh_lo = _mm512_inserti64x4(_mm512_set1_epi16(6), _mm256_set1_epi16(4), 1);
    const __m512i sh_hi = _mm512_inserti64x4(_mm512_set1_epi16(2), _mm256_set1_epi16(0), 1);
    const int64_t row_bytes = K / 4;
    __m512i acc[4][4];
    for (int n = 0; n < N; n++)
        for (int r = 0; r < R; r++) acc[n][r] = _mm512_setzero_si512();
    int64_t k = 0;
    do { /* K >= 128 (see tile_v) */
        for (int r = 0; r < R; r++) {
            __m512i lo, hi;
            unpack(bn_tm_block(w, row_bytes, r, k, X), sh_lo, sh_hi, m3, &lo, &hi);
            for (int n = 0; n < N; n++) {
                acc[n][r] = dpbusd(acc[n][r], lo, _mm512_loadu_si512(q + n * K + k));
                acc[n][r] = dpbusd(acc[n][r], hi, _mm512_loadu_si512(q + n * K + k + 64));
            }
        }
        k += 128;
    } while (k < K);
    bn_tm_store_tokens_512(R, N, acc, q_sum, a, w_scale, y, ldy);
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
/* GEMV tiles: tile_v##R / tile_w##R over I2_S rows, xtile_v##R / xtile_w##R over I2S_X4 ones */
#define BN_TM_TILE_GEMV(V, R, X, P)                                                                         \
    static void P##tile_##V##R(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum,         \
                               const float* a, float w_scale, float* y, int64_t ldy) {                     \
        (void)ldy;                                                                                          \
        tile_##V(w, K, q, q_sum, a, w_scale, y, R, X);                                                      \
    }
BN_TM_TILE_GEMV(v, 8, 0, )
BN_TM_TILE_GEMV(v, 1, 0, )
BN_TM_TILE_GEMV(w, 8, 0, )
BN_TM_TILE_GEMV(w, 1, 0, )
BN_TM_TILE_GEMV(v, 4, 1, x)
BN_TM_TILE_GEMV(v, 1, 1, x)
BN_TM_TILE_GEMV(w, 4, 1, x)
BN_TM_TILE_GEMV(w, 1, 1, x)
#undef BN_TM_TILE_GEMV
BN_TM_TILE(4, 1)
BN_TM_TILE(4, 2)
BN_TM_TILE(4, 3)
BN_TM_TILE(4, 4)
BN_TM_TILE(1, 2)
BN_TM_TILE(1, 3)
BN_TM_TILE(1, 4)
#undef BN_TM_TILE

static bn_tm_tile_fn* const tiles_8[] = {NULL, tile_v8};                          /* GEMV */
static bn_tm_tile_fn* const tiles_4[] = {NULL, tile_4x1, tile_4x2, tile_4x3, tile_4x4}; /* GEMM */
static bn_tm_tile_fn* const tiles_1[] = {NULL, tile_v1, tile_1x2, tile_1x3, tile_1x4};

static bn_tm_tile_fn* const tiles_w8[] = {NULL, tile_w8}; /* GEMV over whole lines, permuted activations */
static bn_tm_tile_fn* const tiles_w1[] = {NULL, tile_w1};

/* The same over I2S_X4: 4-row GEMV tiles (one group: its 4 rows' next lines are 256 consecutive bytes) */
static bn_tm_tile_fn* const xtiles_v4[] = {NULL, xtile_v4};
static bn_tm_tile_fn* const xtiles_4[] = {NULL, xtile_4x1, xtile_4x2, xtile_4x3, xtile_4x4};
static bn_tm_tile_fn* const xtiles_1[] = {NULL, xtile_v1, xtile_1x2, xtile_1x3, xtile_1x4};
static bn_tm_tile_fn* const xtiles_w4[] = {NULL, xtile_w4};
static bn_tm_tile_fn* const xtiles_w1[] = {NULL, xtile_w1};

/* Activations up to this many bytes are permuted on the stack for tile_w; longer rows take tile_v. */
#define BN_TM_WIDE_MAX_K 16384

/* A GEMV over whole lines (K % 256 == 0, short enough rows) or blocks; R-row tiles, I2_S or (X) I2S_X4 rows. */
static void gemv(bn_tm_tile_fn* const* w_r, bn_tm_tile_fn* const* w_1, bn_tm_tile_fn* const* v_r,
                 bn_tm_tile_fn* const* v_1, int R, const uint8_t* w, int64_t K, int64_t r0, int64_t r1,
                 const int8_t* q, int32_t q_sum, float a, float w_scale, float* y, int X) {
    if (K % 256 == 0 && K <= BN_TM_WIDE_MAX_K) {
        _Alignas(64) int8_t qp[BN_TM_WIDE_MAX_K];
        permute_q(q, K, qp);
        bn_tm_drive(w_r, w_1, R, 1, w, K, r0, r1, qp, &q_sum, &a, w_scale, 1, y, 0, X);
        return;
    }
    bn_tm_drive(v_r, v_1, R, 1, w, K, r0, r1, q, &q_sum, &a, w_scale, 1, y, 0, X);
}

void bn_tmatmul_i2_gemv_avx512(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                               int32_t q_sum, float a, float w_scale, float* y) {
    gemv(tiles_w8, tiles_w1, tiles_8, tiles_1, 8, w, K, r0, r1, q, q_sum, a, w_scale, y, 0);
}

void bn_tmatmul_i2_gemm_avx512(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                               const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,
                               int64_t ldy) {
    bn_tm_drive(tiles_4, tiles_1, 4, 4, w, K, r0, r1, q, q_sum, a, w_scale, T, y, ldy, 0);
}

void bn_tmatmul_x4_gemv_avx512(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                               int32_t q_sum, float a, float w_scale, float* y) {
    gemv(xtiles_w4, xtiles_w1, xtiles_v4, xtiles_1, 4, w, K, r0, r1, q, q_sum, a, w_scale, y, 1);
}

void bn_tmatmul_x4_gemm_avx512(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                               const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,
                               int64_t ldy) {
    bn_tm_drive(xtiles_4, xtiles_1, 4, 4, w, K, r0, r1, q, q_sum, a, w_scale, T, y, ldy, 1);
}

void bn_install_tmatmul_avx512(bn_kernel_table* t) { BN_TM_INSTALL(t, avx512); }
