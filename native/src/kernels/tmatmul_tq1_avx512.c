/* Ternary x int8 matmul over TQ1 rows: AVX-512 BW + VNNI (layout and the trit order: kernels/tmatmul_tq1.c;
 * arithmetic: kernels/tmatmul.c).
 *
 * Decoding is tmatmul_tq1_avx2.c's, on 512 bits: each 16-bit lane multiplies its even byte by (m << 8) and its odd
 * byte (masked to the high half) by m, so both products sit in a high byte; the high half of a product by 3 gives
 * the even trit ((y * 3) >> 8) in the low byte, and the high half of a product by 3 << 8 masked with 0xFF00 gives
 * the odd trit in the high byte (bits 8..9 of 3y), one vpternlogd merging the two. The multipliers vary per lane,
 * so a block is 4 vectors of 64 codes, each lined up with 64 consecutive activations (no VBMI needed: the byte
 * sources are 256- and 128-bit broadcasts):
 *     v0  qs[0..31]  x 1  | qs[0..31]  x 3                                        weights   0..63
 *     v1  qs[0..31]  x 9  | qs[0..31]  x 27                                       weights  64..127
 *     v2  qs[0..31]  x 81 | qs[32..47] x 1  | qs[32..47] x 3                      weights 128..191
 *     v3  qs[32..47] x 9  | qs[32..47] x 27 | qs[32..47] x 81 | qh[0..3] x4 x 1,3,9,27   weights 192..255
 * vpdpbusd multiplies 64 codes (unsigned) by 64 activations (signed) into 16 int32 lanes. A GEMV is bound by the
 * decode, not by memory: ~20 GB/s of TQ1 bytes per core on Zen 5 (docs/benchmarks.md), apparently by the multiply
 * ports that vpmullw, vpmulhuw and vpdpbusd share (see unpack; this VM has no PMU to confirm it). */
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/tmatmul.h"
#include "kernels/x86_avx512.h"

/* See tmatmul_avx512.c: gcc 12 copies the accumulator of the intrinsic around; the asm updates it in place. */
#if defined(__GNUC__) && !defined(__clang__)
BN_TM_INLINE __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "vm"(s8));
    return acc;
}
#else
#  define dpbusd _mm512_dpbusd_epi32
#endif

/* Byte multipliers of vectors 0, 2 and 3, per 16-byte quarter (qh's quarter: per 4 bytes), as word multipliers
 * for the even byte (m << 8) and the odd byte (m). Vector 1's are 9 times vector 0's (see unpack). */
#define Q4(m) m, m, m, m, m, m, m, m
#define W8(m) (uint16_t)((m) << 8)
#define Q4E(m) W8(m), W8(m), W8(m), W8(m), W8(m), W8(m), W8(m), W8(m)
static const _Alignas(64) uint16_t g_me[3][32] = {
    {Q4E(1), Q4E(1), Q4E(3), Q4E(3)},
    {Q4E(81), Q4E(81), Q4E(1), Q4E(3)},
    {Q4E(9), Q4E(27), Q4E(81), W8(1), W8(1), W8(3), W8(3), W8(9), W8(9), W8(27), W8(27)}};
static const _Alignas(64) uint16_t g_mo[3][32] = {{Q4(1), Q4(1), Q4(3), Q4(3)},
                                                  {Q4(81), Q4(81), Q4(1), Q4(3)},
                                                  {Q4(9), Q4(27), Q4(81), 1, 1, 3, 3, 9, 9, 27, 27}};
#undef Q4
#undef Q4E
#undef W8

typedef struct consts {
    __m512i hi, three, three8;
} consts;

BN_TM_INLINE consts make_consts(void) {
    consts c = {_mm512_set1_epi16((int16_t)0xFF00), _mm512_set1_epi16(3), _mm512_set1_epi16(3 << 8)};
    return c;
}

/* Codes from the products e (even bytes' y << 8) and o (odd bytes' y << 8): the even trit (3y >> 8) in the low
 * byte, the odd one in the high byte. */
BN_TM_INLINE __m512i trits(__m512i e, __m512i o, const consts* k) {
    const __m512i te = _mm512_mulhi_epu16(e, k->three), to = _mm512_mulhi_epu16(o, k->three8);
    return _mm512_ternarylogic_epi32(te, to, k->hi, 0xF8); /* te | (to & 0xFF00) */
}

/* Codes of bytes v (v_odd = v & 0xFF00) for multiplier row i of g_me / g_mo. */
BN_TM_INLINE __m512i decode(__m512i v, __m512i v_odd, int i, const consts* k) {
    return trits(_mm512_mullo_epi16(v, _mm512_load_si512(g_me[i])),
                 _mm512_mullo_epi16(v_odd, _mm512_load_si512(g_mo[i])), k);
}

/* The four code vectors of the block at p. */
BN_TM_INLINE void unpack(const uint8_t* p, const consts* k, __m512i c[4]) {
    int32_t qh;
    memcpy(&qh, p + 48, 4);
    const __m256i a = _mm256_loadu_si256((const __m256i*)p);
    const __m128i b = _mm_loadu_si128((const __m128i*)(p + 32));
    const __m512i aa = _mm512_broadcast_i64x4(a);
    const __m512i ab = _mm512_inserti64x4(aa, _mm256_broadcastsi128_si256(b), 1);
    const __m512i bh = _mm512_inserti32x4(_mm512_broadcast_i32x4(b), _mm_set1_epi32(qh), 3);
    const __m512i aa_odd = _mm512_and_si512(aa, k->hi);
    const __m512i e0 = _mm512_mullo_epi16(aa, _mm512_load_si512(g_me[0]));
    const __m512i o0 = _mm512_mullo_epi16(aa_odd, _mm512_load_si512(g_mo[0]));
    c[0] = trits(e0, o0, k);
    /* Vector 1's multipliers are 9 times vector 0's, and 9 * (y << 8) = (9y mod 256) << 8 mod 2^16: its products
     * by shift and add, which moves two of the 16 multiplies per block and row off the multiply ports: 7% faster
     * on Zen 5; doing the same for vector 0's odd bytes, or replacing mulhi by shifts and averages, was slower. */
    c[1] = trits(_mm512_add_epi16(_mm512_slli_epi16(e0, 3), e0), _mm512_add_epi16(_mm512_slli_epi16(o0, 3), o0), k);
    c[2] = decode(ab, _mm512_and_si512(ab, k->hi), 1, k);
    c[3] = decode(bh, _mm512_and_si512(bh, k->hi), 2, k);
}

/* GEMV: R rows (1 or 8) x one token; one accumulator per row (the 8 rows' chains are independent, and a second
 * set of accumulators would spill). */
BN_TM_INLINE void tile_v(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                         float w_scale, float* y, const int R) {
    const consts k = make_consts();
    const int64_t row_bytes = BN_TQ1_ROW_BYTES(K);
    __m512i acc0[8];
    for (int r = 0; r < R; r++) acc0[r] = _mm512_setzero_si512();
    int64_t kk = 0;
    const uint8_t* wb = w;
    do { /* K >= 256 */
        BN_TM_UNROLL
        for (int r = 0; r < R; r++) {
            __m512i c[4];
            BN_TM_PREFETCH(wb + r * row_bytes + BN_TM_PREFETCH_BYTES);
            unpack(wb + r * row_bytes, &k, c);
            acc0[r] = dpbusd(acc0[r], c[0], _mm512_loadu_si512(q + kk));
            acc0[r] = dpbusd(acc0[r], c[1], _mm512_loadu_si512(q + kk + 64));
            acc0[r] = dpbusd(acc0[r], c[2], _mm512_loadu_si512(q + kk + 128));
            acc0[r] = dpbusd(acc0[r], c[3], _mm512_loadu_si512(q + kk + 192));
        }
        kk += BN_TQ1_BLOCK;
        wb += BN_TQ1_BLOCK_BYTES;
    } while (kk < K);
    if (R == 8) {
        bn_tm_store_rows_512(4, acc0[0], acc0[1], acc0[2], acc0[3], q_sum[0], a[0], w_scale, y);
        bn_tm_store_rows_512(4, acc0[4], acc0[5], acc0[6], acc0[7], q_sum[0], a[0], w_scale, y + 4);
    } else {
        bn_tm_store_rows_512(1, acc0[0], acc0[0], acc0[0], acc0[0], q_sum[0], a[0], w_scale, y);
    }
}

/* GEMM: R rows (1 or 4) x N tokens (N <= 4); each decoded block serves N tokens. */
BN_TM_INLINE void tile(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a,
                       float w_scale, float* y, int64_t ldy, const int R, const int N) {
    const consts k = make_consts();
    const int64_t row_bytes = BN_TQ1_ROW_BYTES(K);
    __m512i acc[4][4];
    for (int n = 0; n < N; n++)
        for (int r = 0; r < R; r++) acc[n][r] = _mm512_setzero_si512();
    int64_t kk = 0;
    const uint8_t* wb = w;
    do { /* K >= 256 */
        BN_TM_UNROLL
        for (int r = 0; r < R; r++) {
            __m512i c[4];
            unpack(wb + r * row_bytes, &k, c);
            BN_TM_UNROLL
            for (int n = 0; n < N; n++)
                BN_TM_UNROLL
                for (int i = 0; i < 4; i++)
                    acc[n][r] = dpbusd(acc[n][r], c[i], _mm512_loadu_si512(q + n * K + kk + 64 * i));
        }
        kk += BN_TQ1_BLOCK;
        wb += BN_TQ1_BLOCK_BYTES;
    } while (kk < K);
    bn_tm_store_tokens_512(R, N, acc, q_sum, a, w_scale, y, ldy);
}

#define BN_TM_TILE(R, N)                                                                                    \
    static void tile_##R##x##N(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum,         \
                               const float* a, float w_scale, float* y, int64_t ldy) {                     \
        tile(w, K, q, q_sum, a, w_scale, y, ldy, R, N);                                                    \
    }
#define BN_TM_TILE_V(R)                                                                                     \
    static void tile_v##R(const uint8_t* w, int64_t K, const int8_t* q, const int32_t* q_sum, const float* a, \
                          float w_scale, float* y, int64_t ldy) {                                           \
        (void)ldy;                                                                                          \
        tile_v(w, K, q, q_sum, a, w_scale, y, R);                                                           \
    }
BN_TM_TILE_V(8)
BN_TM_TILE_V(1)
BN_TM_TILE(4, 1)
BN_TM_TILE(4, 2)
BN_TM_TILE(4, 3)
BN_TM_TILE(4, 4)
BN_TM_TILE(1, 2)
BN_TM_TILE(1, 3)
BN_TM_TILE(1, 4)
#undef BN_TM_TILE
#undef BN_TM_TILE_V

static bn_tm_tile_fn* const tiles_8[] = {NULL, tile_v8};                                /* GEMV */
static bn_tm_tile_fn* const tiles_4[] = {NULL, tile_4x1, tile_4x2, tile_4x3, tile_4x4}; /* GEMM */
static bn_tm_tile_fn* const tiles_1[] = {NULL, tile_v1, tile_1x2, tile_1x3, tile_1x4};

/* bn_tq1_to_i2_fn. Rows are contiguous in both layouts, so the rows are one run of blocks. A block's code vectors
 * (unpack) hold codes 0..63, 64..127, 128..191, 192..255; u0 = c0 << 4 | c1 holds c[j] << 4 | c[64+j] in its low
 * half and c[32+j] << 4 | c[96+j] in its high half (j = 0..31), so I2_S block 0 is lo(u0) << 2 | hi(u0), block 1
 * the same of u1 = c2 << 4 | c3: both at once from [lo u0, lo u1] and [hi u0, hi u1]. Codes <= 2: 16-bit shifts
 * move no bit across a byte. */
void bn_tq1_to_i2_avx512(const uint8_t* w, int64_t K, int64_t rows, uint8_t* out) {
    const consts k = make_consts();
    const int64_t nb = rows * (K / BN_TQ1_BLOCK);
    for (int64_t b = 0; b < nb; b++, w += BN_TQ1_BLOCK_BYTES, out += 64) {
        __m512i c[4];
        unpack(w, &k, c);
        const __m512i u0 = _mm512_or_si512(_mm512_slli_epi16(c[0], 4), c[1]);
        const __m512i u1 = _mm512_or_si512(_mm512_slli_epi16(c[2], 4), c[3]);
        const __m512i lo = _mm512_shuffle_i64x2(u0, u1, 0x44), hi = _mm512_shuffle_i64x2(u0, u1, 0xEE);
        _mm512_storeu_si512(out, _mm512_or_si512(_mm512_slli_epi16(lo, 2), hi));
    }
}

void bn_tmatmul_tq1_gemv_avx512(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                                int32_t q_sum, float a, float w_scale, float* y) {
    bn_tm_drive_rows(tiles_8, tiles_1, 8, 1, w, BN_TQ1_ROW_BYTES(K), K, r0, r1, q, &q_sum, &a, w_scale, 1, y, 0, 0);
}

void bn_tmatmul_tq1_gemm_avx512(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                                const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,
                                int64_t ldy) {
    if (bn_tmatmul_tq1_gemm_panels(bn_tq1_to_i2_avx512, bn_tmatmul_i2_gemm_avx512, w, K, r0, r1, q, q_sum, a,
                                   w_scale, T, y, ldy))
        return;
    bn_tm_drive_rows(tiles_4, tiles_1, 4, 4, w, BN_TQ1_ROW_BYTES(K), K, r0, r1, q, q_sum, a, w_scale, T, y, ldy, 0);
}

void bn_install_tmatmul_tq1_avx512(bn_kernel_table* t) {
    t->tmatmul_tq1_gemv = bn_tmatmul_tq1_gemv_avx512;
    t->tmatmul_tq1_gemv_impl = "avx512";
    t->tmatmul_tq1_gemm = bn_tmatmul_tq1_gemm_avx512;
    t->tmatmul_tq1_gemm_impl = "avx512";
}
