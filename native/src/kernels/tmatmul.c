/* Ternary x int8 matmul: the I2_S layout, its pack/unpack, the scalar reference kernels (the definition of
 * correct for every vector version) and the public entry points (checks, threading, the fused float path).
 *
 * Layout (BN_TLAYOUT_I2S, bitnet.cpp's x86 I2_S order): a row of K weights is K/4 bytes, rows contiguous. Each
 * block of 128 weights is 32 bytes; byte j of a block holds the codes c = w + 1 of weights j, 32+j, 64+j, 96+j
 * at bits 7..6, 5..4, 3..2, 1..0. Shifting a block right by 6, 4, 2, 0 and masking with 3 gives four runs of 32
 * codes, each lining up with 32 consecutive activations: that is what the vector kernels load.
 *
 * Arithmetic (why the codes are unsigned): dot(w, q) = dot(c, q) - sum(q), and dot(c, q) is exactly what
 * unsigned-by-signed byte instructions compute (pmaddubsw, vpdpbusd). |dot(c, q)| <= 3 * 128 * K (a code 3,
 * which no packer writes, still gives a well-defined result, the same in every variant) stays far inside int32
 * for K <= 2^22. The subtraction of q_sum wraps (it is done on uint32) so a caller's wrong q_sum cannot make
 * undefined behaviour; the vector versions wrap the same way.
 *
 * Output: y[t*ldy + r] = (float)d * (w_scale / a[t]), d the int32 above; the quotient is one float division
 * per token and the product one float multiplication, so every variant rounds identically.
 *
 * BN_TLAYOUT_TQ1 (ggml's TQ1_0 rows, K % 256 == 0) has its own kernels (kernels/tmatmul_tq1*.c) with the same
 * arithmetic; the checks, pack/unpack entry points and threading below serve every layout.
 *
 * BN_TLAYOUT_I2S_X4 holds I2_S's blocks with each group of 4 rows interleaved in 64-byte runs (two blocks): the
 * 64 bytes at 64c of row r are at (r/4)*K + 256c + 64*(r%4) (i2_block() below). K % 256 == 0, M % 4 == 0. The
 * vector files run their I2_S tiles over it with bn_tm_block() addressing (kernels/tmatmul.h). Why: a GEMV tile of
 * 4 rows then reads its weights in address order, one stream per thread, and from DRAM that measured 88-98% of
 * the read bandwidth on Zen 5 (2560x2560 to 6912x2560, 1 and 2 threads) where the same tiles over I2_S rows, whose
 * 4-8 rows are K/4 bytes apart, measured 67-80%: the hardware prefetchers follow one ascending stream better than
 * several strided ones, and software prefetch (any distance, to L1 or L2, along rows or along addresses) did not
 * close that gap. */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/kernels.h"
#include "kernels/tmatmul.h"

#define BN_TM_BLOCK 128          /* weights per I2_S block */
#define BN_TM_MAX_K (1 << 22)    /* keeps 3 * 128 * K inside int32 */
/* Rows per unit of parallel work: a multiple of every microkernel's row block, so threads split a matrix only
 * between whole microkernel blocks. */
#define BN_TM_ROW_UNIT 16

/* ---- scalar reference ------------------------------------------------------------------------------- */

/* Byte offset of I2_S block b (weights 128b..128b+127) of row r of an M x K matrix: row-major (x4 == 0) or
 * BN_TLAYOUT_I2S_X4 (x4 == 1). */
static int64_t i2_block(int64_t K, int64_t r, int64_t b, int x4) {
    if (!x4) return r * (K / 4) + 32 * b;
    return (r / 4) * K + 256 * (b / 2) + 64 * (r % 4) + 32 * (b % 2);
}

/* sum_k c[k] * q[k] over row r of K weights. */
static int32_t dot_codes_i2(const uint8_t* w, int64_t r, const int8_t* q, int64_t K, int x4) {
    int32_t acc = 0;
    for (int64_t b = 0; b < K / BN_TM_BLOCK; b++, q += BN_TM_BLOCK) {
        const uint8_t* p = w + i2_block(K, r, b, x4);
        for (int j = 0; j < 32; j++) {
            const int32_t x = p[j];
            acc += (x >> 6) * q[j] + ((x >> 4) & 3) * q[32 + j] + ((x >> 2) & 3) * q[64 + j] + (x & 3) * q[96 + j];
        }
    }
    return acc;
}

static float finish(int32_t dot, int32_t q_sum, float scale) {
    return (float)(int32_t)((uint32_t)dot - (uint32_t)q_sum) * scale;
}

static void gemm_scalar(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q, const int32_t* q_sum,
                        const float* a, float w_scale, int64_t T, float* y, int64_t ldy, int x4) {
    for (int64_t t = 0; t < T; t++) {
        const float scale = w_scale / a[t];
        for (int64_t r = r0; r < r1; r++)
            y[t * ldy + r] = finish(dot_codes_i2(w, r, q + t * K, K, x4), q_sum[t], scale);
    }
}

#define BN_TM_SCALAR_ENTRY_POINTS(lay, X)                                                                         \
    void bn_tmatmul_##lay##_gemv_scalar(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,     \
                                        int32_t q_sum, float a, float w_scale, float* y) {                         \
        gemm_scalar(w, K, r0, r1, q, &q_sum, &a, w_scale, 1, y, 0, X);                                            \
    }                                                                                                            \
    void bn_tmatmul_##lay##_gemm_scalar(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,     \
                                        const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,  \
                                        int64_t ldy) {                                                             \
        gemm_scalar(w, K, r0, r1, q, q_sum, a, w_scale, T, y, ldy, X);                                            \
    }
BN_TM_SCALAR_ENTRY_POINTS(i2, 0)
BN_TM_SCALAR_ENTRY_POINTS(x4, 1)
#undef BN_TM_SCALAR_ENTRY_POINTS

void bn_install_tmatmul_scalar(bn_kernel_table* t) { BN_TM_INSTALL(t, scalar); }

/* ---- shapes, pack, unpack --------------------------------------------------------------------------- */

static bn_status check_layout(const char* fn, bn_tlayout layout) {
    if (layout != BN_TLAYOUT_I2S && layout != BN_TLAYOUT_TQ1 && layout != BN_TLAYOUT_I2S_X4)
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: unknown layout %d", fn, (int)layout);
    return BN_OK;
}

/* Weights per block of a layout (for I2S_X4 the 256-weight run of a row that a group interleaves), and the bytes
 * of one row of K weights. */
static int64_t layout_block(bn_tlayout layout) { return layout == BN_TLAYOUT_I2S ? BN_TM_BLOCK : 256; }
static const char* layout_name(bn_tlayout layout) {
    return layout == BN_TLAYOUT_TQ1 ? "TQ1_0" : layout == BN_TLAYOUT_I2S_X4 ? "I2S_X4" : "I2_S";
}
static int64_t row_bytes(bn_tlayout layout, int64_t K) {
    return layout == BN_TLAYOUT_TQ1 ? BN_TQ1_ROW_BYTES(K) : K / 4;
}

/* rows >= 0 (a multiple of 4 for I2S_X4); cols a positive multiple of the layout's block (128 for I2_S, 256 for
 * TQ1 and I2S_X4), at most BN_TM_MAX_K; rows * cols / 4 fits in size_t (a TQ1 row is smaller: 54 bytes per 256
 * weights). */
static bn_status check_matrix(const char* fn, bn_tlayout layout, int64_t rows, int64_t cols) {
    if (rows < 0) return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: rows (%lld) is negative", fn, (long long)rows);
    const int64_t block = layout_block(layout);
    if (cols <= 0 || cols % block != 0 || cols > BN_TM_MAX_K)
        return bn_fail(BN_ERR_SHAPE, "%s: K (%lld) must be a positive multiple of %d (the %s block), at most %d", fn,
                       (long long)cols, (int)block, layout_name(layout), BN_TM_MAX_K);
    if (layout == BN_TLAYOUT_I2S_X4 && rows % 4 != 0)
        return bn_fail(BN_ERR_SHAPE, "%s: rows (%lld) must be a multiple of 4 (the I2S_X4 row group)", fn,
                       (long long)rows);
    if ((uint64_t)rows > (uint64_t)(SIZE_MAX / 2) / (uint64_t)cols)
        return bn_fail(BN_ERR_SHAPE, "%s: %lld x %lld is too large", fn, (long long)rows, (long long)cols);
    return BN_OK;
}

bn_status bn_tmatmul_packed_size(bn_tlayout layout, int64_t rows, int64_t cols, size_t* out) {
    BN_REQUIRE_ARG(out != NULL, "bn_tmatmul_packed_size: out must not be null");
    bn_status st = check_layout("bn_tmatmul_packed_size", layout);
    if (st == BN_OK) st = check_matrix("bn_tmatmul_packed_size", layout, rows, cols);
    if (st != BN_OK) return st;
    *out = (size_t)rows * (size_t)row_bytes(layout, cols);
    return BN_OK;
}

/* Common checks of pack and unpack; *bytes receives the packed size. */
static bn_status check_pack(const char* fn, bn_tlayout layout, const void* src, int64_t rows, int64_t cols,
                            const void* dst, size_t* bytes) {
    bn_status st = check_layout(fn, layout);
    if (st == BN_OK) st = check_matrix(fn, layout, rows, cols);
    if (st != BN_OK) return st;
    *bytes = (size_t)rows * (size_t)row_bytes(layout, cols);
    if (rows > 0 && (src == NULL || dst == NULL))
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: source and destination must not be null", fn);
    return BN_OK;
}

/* One 128-weight block of codes (c = w + 1) into 32 I2_S bytes. */
static void pack_block_codes(const uint8_t* c, uint8_t* out) {
    for (int j = 0; j < 32; j++)
        out[j] = (uint8_t)(c[j] << 6 | c[32 + j] << 4 | c[64 + j] << 2 | c[96 + j]);
}

/* The block of codes c of weights i.. (i a multiple of layout_block) of a matrix of `cols` columns into the layout
 * (I2_S: 128 codes, 32 bytes; TQ1: 256 codes, 54 bytes; I2S_X4: 256 codes, two I2_S blocks in their group). */
static void pack_block(bn_tlayout layout, const uint8_t* c, int64_t i, int64_t cols, uint8_t* out) {
    if (layout == BN_TLAYOUT_TQ1) {
        bn_tq1_encode_block(c, out + i / BN_TQ1_BLOCK * BN_TQ1_BLOCK_BYTES);
    } else if (layout == BN_TLAYOUT_I2S_X4) {
        uint8_t* p = out + i2_block(cols, i / cols, i % cols / BN_TM_BLOCK, 1);
        pack_block_codes(c, p);
        pack_block_codes(c + BN_TM_BLOCK, p + 32);
    } else {
        pack_block_codes(c, out + i / 4);
    }
}

bn_status bn_tmatmul_pack_i8(bn_tlayout layout, const int8_t* w, int64_t rows, int64_t cols, uint8_t* out,
                             size_t out_size) {
    size_t bytes;
    bn_status st = check_pack("bn_tmatmul_pack_i8", layout, w, rows, cols, out, &bytes);
    if (st != BN_OK) return st;
    if (out_size < bytes)
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "bn_tmatmul_pack_i8: out has %zu bytes, %zu needed", out_size,
                       bytes);
    const int64_t n = rows * cols, block = layout_block(layout);
    for (int64_t i = 0; i < n; i += block) {
        uint8_t c[BN_TQ1_BLOCK];
        for (int k = 0; k < block; k++) {
            const int8_t v = w[i + k];
            if (v < -1 || v > 1)
                return bn_fail(BN_ERR_INVALID_ARGUMENT,
                               "bn_tmatmul_pack_i8: w[%lld] = %d is not -1, 0 or +1 (row %lld, column %lld)",
                               (long long)(i + k), (int)v, (long long)((i + k) / cols), (long long)((i + k) % cols));
            c[k] = (uint8_t)(v + 1);
        }
        pack_block(layout, c, i, cols, out);
    }
    return BN_OK;
}

bn_status bn_tmatmul_pack_f32(bn_tlayout layout, const float* w, int64_t rows, int64_t cols, uint8_t* out,
                              size_t out_size) {
    size_t bytes;
    bn_status st = check_pack("bn_tmatmul_pack_f32", layout, w, rows, cols, out, &bytes);
    if (st != BN_OK) return st;
    if (out_size < bytes)
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "bn_tmatmul_pack_f32: out has %zu bytes, %zu needed", out_size,
                       bytes);
    const int64_t n = rows * cols, block = layout_block(layout);
    for (int64_t i = 0; i < n; i += block) {
        uint8_t c[BN_TQ1_BLOCK];
        for (int k = 0; k < block; k++) {
            const float v = w[i + k];
            if (v == 0.0f) c[k] = 1;
            else if (v == 1.0f) c[k] = 2;
            else if (v == -1.0f) c[k] = 0;
            else
                return bn_fail(BN_ERR_INVALID_ARGUMENT,
                               "bn_tmatmul_pack_f32: w[%lld] = %g is not -1, 0 or +1 (row %lld, column %lld)",
                               (long long)(i + k), (double)v, (long long)((i + k) / cols),
                               (long long)((i + k) % cols));
        }
        pack_block(layout, c, i, cols, out);
    }
    return BN_OK;
}

bn_status bn_tmatmul_unpack_i8(bn_tlayout layout, const uint8_t* packed, int64_t rows, int64_t cols, int8_t* out,
                               size_t out_count) {
    size_t bytes;
    bn_status st = check_pack("bn_tmatmul_unpack_i8", layout, packed, rows, cols, out, &bytes);
    if (st != BN_OK) return st;
    const int64_t n = rows * cols;
    if (out_count < (uint64_t)n)
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "bn_tmatmul_unpack_i8: out has %zu values, %lld needed", out_count,
                       (long long)n);
    if (layout == BN_TLAYOUT_TQ1) { /* every byte decodes to codes 0..2; d is not read */
        for (int64_t i = 0; i < n; i += BN_TQ1_BLOCK) {
            uint8_t c[BN_TQ1_BLOCK];
            bn_tq1_decode_block(packed + i / BN_TQ1_BLOCK * BN_TQ1_BLOCK_BYTES, c);
            for (int k = 0; k < BN_TQ1_BLOCK; k++) out[i + k] = (int8_t)(c[k] - 1);
        }
        return BN_OK;
    }
    for (int64_t i = 0; i < n; i += BN_TM_BLOCK) {
        const uint8_t* p = packed + i2_block(cols, i / cols, i % cols / BN_TM_BLOCK, layout == BN_TLAYOUT_I2S_X4);
        for (int j = 0; j < 32; j++) {
            for (int g = 0; g < 4; g++) {
                const int c = (p[j] >> (6 - 2 * g)) & 3;
                if (c == 3)
                    return bn_fail(BN_ERR_FORMAT, "bn_tmatmul_unpack_i8: byte %lld holds the unused code 3",
                                   (long long)(p - packed + j));
                out[i + 32 * g + j] = (int8_t)(c - 1);
            }
        }
    }
    return BN_OK;
}

/* Group g (4 rows, K bytes at w + g*K) between I2_S rows and I2S_X4 order through tmp (K bytes). */
static void relayout_group(uint8_t* g, int64_t K, int to_x4, uint8_t* tmp) {
    memcpy(tmp, g, (size_t)K);
    const int64_t row = K / 4;
    for (int64_t r = 0; r < 4; r++)
        for (int64_t c = 0; c < K / 256; c++) {
            uint8_t* x4 = g + 256 * c + 64 * r;
            uint8_t* rm = g + r * row + 64 * c;
            if (to_x4) memcpy(x4, tmp + (rm - g), 64);
            else memcpy(rm, tmp + (x4 - g), 64);
        }
}

bn_status bn_tmatmul_relayout(bn_tlayout from, bn_tlayout to, uint8_t* w, int64_t rows, int64_t cols) {
    static const char fn[] = "bn_tmatmul_relayout";
    bn_status st = check_layout(fn, from);
    if (st == BN_OK) st = check_layout(fn, to);
    if (st == BN_OK) st = check_matrix(fn, from, rows, cols);
    if (st == BN_OK) st = check_matrix(fn, to, rows, cols);
    if (st != BN_OK) return st;
    if (from == to || rows == 0) return BN_OK;
    if (from == BN_TLAYOUT_TQ1 || to == BN_TLAYOUT_TQ1)
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: %s and %s do not hold the same bytes (only I2_S <-> I2S_X4)", fn,
                       layout_name(from), layout_name(to));
    BN_REQUIRE_ARG(w != NULL, "%s: w must not be null", fn);
    uint8_t* tmp = malloc((size_t)cols); /* one group: 4 rows of cols / 4 bytes */
    if (tmp == NULL)
        return bn_fail(BN_ERR_OUT_OF_MEMORY, "%s: no memory for one row group (%lld bytes)", fn, (long long)cols);
    for (int64_t g = 0; g < rows / 4; g++) relayout_group(w + g * cols, cols, to == BN_TLAYOUT_I2S_X4, tmp);
    free(tmp);
    return BN_OK;
}

bn_status bn_tmatmul_preferred_layout(int64_t rows, int64_t cols, bn_tlayout* out) {
    BN_REQUIRE_ARG(out != NULL, "bn_tmatmul_preferred_layout: out must not be null");
    bn_status st = check_matrix("bn_tmatmul_preferred_layout", BN_TLAYOUT_I2S, rows, cols);
    if (st != BN_OK) return st;
    bn_kernels_init();
    *out = BN_TLAYOUT_I2S;
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
    if (rows % 4 == 0 && cols % 256 == 0 && strcmp(bn_kernels.tmatmul_x4_gemv_impl, "scalar") != 0)
        *out = BN_TLAYOUT_I2S_X4;
#endif
    return BN_OK;
}

/* ---- matmul ----------------------------------------------------------------------------------------- */

/* One parallel job over the output rows of n matrices of one K, all multiplied by the same activations. The
 * work items are units of BN_TM_ROW_UNIT rows numbered across the matrices: matrix i owns units
 * [u_off[i], u_off[i + 1]). */
typedef struct tm_job {
    int32_t n;
    const uint8_t* w[BN_TMATMUL_MULTI_MAX];
    int64_t M[BN_TMATMUL_MULTI_MAX];
    float w_scale[BN_TMATMUL_MULTI_MAX];
    float* y[BN_TMATMUL_MULTI_MAX];
    int64_t u_off[BN_TMATMUL_MULTI_MAX + 1];
    int64_t K, T;
    bn_tlayout layout;
    const int8_t* q;
    const float* a;
    const int32_t* q_sum;
    bn_tmatmul_i2_gemv_fn* gemv;
    bn_tmatmul_i2_gemm_fn* gemm;
} tm_job;

/* Units [u0, u1) of BN_TM_ROW_UNIT output rows, every token; a range may span several matrices. */
static void tm_rows(void* ctx, int64_t u0, int64_t u1, int32_t worker) {
    (void)worker;
    const tm_job* j = ctx;
    for (int32_t i = 0; i < j->n; i++) {
        const int64_t b = u0 > j->u_off[i] ? u0 : j->u_off[i], e = u1 < j->u_off[i + 1] ? u1 : j->u_off[i + 1];
        if (b >= e) continue;
        const int64_t M = j->M[i], r0 = (b - j->u_off[i]) * BN_TM_ROW_UNIT;
        const int64_t r1 = (e - j->u_off[i]) * BN_TM_ROW_UNIT < M ? (e - j->u_off[i]) * BN_TM_ROW_UNIT : M;
        if (j->T == 1) j->gemv(j->w[i], j->K, r0, r1, j->q, j->q_sum[0], j->a[0], j->w_scale[i], j->y[i]);
        else j->gemm(j->w[i], j->K, r0, r1, j->q, j->q_sum, j->a, j->w_scale[i], j->T, j->y[i], M);
    }
}

/* The checks both public matmuls share; *done is set when there is nothing to compute. */
static bn_status check_matmul(const char* fn, bn_tlayout layout, const uint8_t* w, int64_t M, int64_t K,
                              float w_scale, int64_t T, const void* x, const float* y, int* done) {
    bn_status st = check_layout(fn, layout);
    if (st == BN_OK) st = check_matrix(fn, layout, M, K);
    if (st != BN_OK) return st;
    if (T < 0) return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: T (%lld) is negative", fn, (long long)T);
    if ((uint64_t)T > (uint64_t)(SIZE_MAX / 8) / (uint64_t)K ||
        (M > 0 && (uint64_t)T > (uint64_t)(SIZE_MAX / 8) / (uint64_t)M))
        return bn_fail(BN_ERR_SHAPE, "%s: T (%lld) is too large", fn, (long long)T);
    *done = M == 0 || T == 0;
    if (*done) return BN_OK;
    if (w == NULL || x == NULL || y == NULL)
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: w, the activations and y must not be null", fn);
    if (!isfinite(w_scale)) return bn_fail(BN_ERR_NUMERIC, "%s: w_scale is not finite", fn);
    return BN_OK;
}

/* 1/BN_TM_GEMV_TAIL of each thread's share of a streaming pass goes in small self-balancing ranges (0: one range
 * each). */
#ifndef BN_TM_GEMV_TAIL
#  define BN_TM_GEMV_TAIL 4
#endif

typedef struct stream_job {
    bn_parallel_fn fn;
    void* ctx;
    int64_t n, n_big, big, small;
} stream_job;

/* Items [i0, i1) of a guided split: n_big ranges of big units, then ranges of small units. */
static void stream_items(void* ctx, int64_t i0, int64_t i1, int32_t worker) {
    const stream_job* j = ctx;
    const int64_t head = j->n_big * j->big;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t u0 = i < j->n_big ? i * j->big : head + (i - j->n_big) * j->small;
        const int64_t u1 = i < j->n_big ? u0 + j->big : (u0 + j->small < j->n ? u0 + j->small : j->n);
        j->fn(j->ctx, u0, u1, worker);
    }
}

bn_status bn_parallel_stream(bn_threadpool* pool, int64_t n, bn_parallel_fn fn, void* ctx) {
    const int32_t threads = bn_threadpool_size(pool);
    if (threads > 1 && BN_TM_GEMV_TAIL > 0 && n >= 4 * (int64_t)threads * BN_TM_GEMV_TAIL) {
        /* Guided split: each thread first takes one contiguous range of (1 - 1/BN_TM_GEMV_TAIL) of its share; the
         * rest goes in ranges of half that tail to whichever thread is free first, so a thread that started late
         * or was slowed does not leave the others waiting at the end of the job. */
        const int64_t share = n / threads, tail = BN_TM_GEMV_TAIL > 0 ? BN_TM_GEMV_TAIL : 1;
        stream_job j = {fn, ctx, n, threads, share - share / tail, share / (2 * tail)};
        const int64_t rest = n - j.n_big * j.big;
        return bn_threadpool_parallel_for(pool, j.n_big + (rest + j.small - 1) / j.small, 1, stream_items, &j);
    }
    return bn_threadpool_parallel_for(pool, n, threads > 1 ? (n + threads - 1) / threads : 0, fn, ctx);
}

/* Runs a job whose matrices, activations and u_off are filled in. */
static bn_status run_matmul(tm_job* job, bn_threadpool* pool) {
    bn_kernels_init();
    job->gemv = job->layout == BN_TLAYOUT_TQ1      ? bn_kernels.tmatmul_tq1_gemv
                : job->layout == BN_TLAYOUT_I2S_X4 ? bn_kernels.tmatmul_x4_gemv
                                                   : bn_kernels.tmatmul_i2_gemv;
    job->gemm = job->layout == BN_TLAYOUT_TQ1      ? bn_kernels.tmatmul_tq1_gemm
                : job->layout == BN_TLAYOUT_I2S_X4 ? bn_kernels.tmatmul_x4_gemm
                                                   : bn_kernels.tmatmul_i2_gemm;
    const int64_t units = job->u_off[job->n];
    if (units == 0) return BN_OK;
    /* A GEMV reads each weight once and is bound by memory: bn_parallel_stream. All matrices of a job have the
     * same K, so equal units are equal weight bytes. A GEMM is bound by arithmetic and keeps the pool's smaller,
     * self-balancing chunks. */
    if (job->T == 1) return bn_parallel_stream(pool, units, tm_rows, job);
    return bn_threadpool_parallel_for(pool, units, 0, tm_rows, job);
}

/* Appends matrix (w, M) to job as the next range of units. */
static void add_matrix(tm_job* job, const uint8_t* w, int64_t M, float w_scale, float* y) {
    const int32_t i = job->n++;
    job->w[i] = w, job->M[i] = M, job->w_scale[i] = w_scale, job->y[i] = y;
    job->u_off[i + 1] = job->u_off[i] + (M + BN_TM_ROW_UNIT - 1) / BN_TM_ROW_UNIT;
}

static bn_status check_scales(const char* fn, const float* a, int64_t T) {
    for (int64_t t = 0; t < T; t++)
        if (!(a[t] > 0.0f && a[t] <= FLT_MAX))
            return bn_fail(BN_ERR_NUMERIC, "%s: a[%lld] = %g is not a finite positive scale", fn, (long long)t,
                           (double)a[t]);
    return BN_OK;
}

bn_status bn_tmatmul_i8(bn_tlayout layout, const uint8_t* w, int64_t M, int64_t K, float w_scale,
                        const int8_t* q, const float* a, const int32_t* q_sum, int64_t T, float* y,
                        bn_threadpool* pool) {
    return bn_tmatmul_i8_multi(layout, 1, &w, &M, K, &w_scale, q, a, q_sum, T, &y, pool);
}

bn_status bn_tmatmul_i8_multi(bn_tlayout layout, int32_t n, const uint8_t* const* w, const int64_t* M, int64_t K,
                              const float* w_scale, const int8_t* q, const float* a, const int32_t* q_sum,
                              int64_t T, float* const* y, bn_threadpool* pool) {
    static const char fn[] = "bn_tmatmul_i8";
    BN_REQUIRE_ARG(n >= 1 && n <= BN_TMATMUL_MULTI_MAX, "%s: n (%d) is outside 1..%d", fn, (int)n,
                   BN_TMATMUL_MULTI_MAX);
    BN_REQUIRE_ARG(w != NULL && M != NULL && w_scale != NULL && y != NULL, "%s: the matrix arrays must not be null",
                   fn);
    tm_job job;
    memset(&job, 0, sizeof job);
    job.K = K, job.T = T, job.layout = layout, job.q = q, job.a = a, job.q_sum = q_sum;
    for (int32_t i = 0; i < n; i++) {
        int done = 0;
        bn_status st = check_matmul(fn, layout, w[i], M[i], K, w_scale[i], T, q, y[i], &done);
        if (st != BN_OK) return st;
        if (!done) add_matrix(&job, w[i], M[i], w_scale[i], y[i]);
    }
    if (job.n == 0) return BN_OK;
    if (a == NULL || q_sum == NULL) return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: a and q_sum must not be null", fn);
    bn_status st = check_scales(fn, a, T);
    if (st != BN_OK) return st;
    return run_matmul(&job, pool);
}

/* ---- the fused float path --------------------------------------------------------------------------- */

/* work = [q (T, K) int8][a (T) float][q_sum (T) int32], from the first 64-byte boundary of the caller's block */
static bn_status work_bytes(int64_t T, int64_t K, size_t* out) {
    *out = 64 + (size_t)T * (size_t)K + (size_t)T * (sizeof(float) + sizeof(int32_t));
    return BN_OK;
}

bn_status bn_tmatmul_f32_work_size(int64_t T, int64_t K, size_t* out) {
    BN_REQUIRE_ARG(out != NULL, "bn_tmatmul_f32_work_size: out must not be null");
    bn_status st = check_matrix("bn_tmatmul_f32_work_size", BN_TLAYOUT_I2S, 1, K);
    if (st != BN_OK) return st;
    if (T < 0 || (uint64_t)T > (uint64_t)(SIZE_MAX / 8) / (uint64_t)K)
        return bn_fail(BN_ERR_SHAPE, "bn_tmatmul_f32_work_size: T (%lld) is negative or too large", (long long)T);
    return work_bytes(T, K, out);
}

typedef struct tq_job {
    const float* x;
    int64_t K;
    int8_t* q;
    float* a;
    int32_t* q_sum;
    atomic_int bad; /* set by any token that holds a NaN or an infinity */
} tq_job;

/* Tokens [t0, t1): HF ActQuant through the quantize_act_i8 kernel, then the row sums of q. */
static void tq_tokens(void* ctx, int64_t t0, int64_t t1, int32_t worker) {
    (void)worker;
    tq_job* j = ctx;
    for (int64_t t = t0; t < t1; t++) {
        int8_t* q = j->q + t * j->K;
        if (bn_kernels.quantize_act_i8(j->x + t * j->K, j->K, q, &j->a[t]) != 0) {
            atomic_store_explicit(&j->bad, 1, memory_order_relaxed);
            continue;
        }
        int32_t sum = 0;
        for (int64_t k = 0; k < j->K; k++) sum += q[k];
        j->q_sum[t] = sum;
    }
}

bn_status bn_tmatmul_f32(bn_tlayout layout, const uint8_t* w, int64_t M, int64_t K, float w_scale,
                         const float* x, int64_t T, float* y, void* work, size_t work_size,
                         bn_threadpool* pool) {
    static const char fn[] = "bn_tmatmul_f32";
    int done = 0;
    bn_status st = check_matmul(fn, layout, w, M, K, w_scale, T, x, y, &done);
    if (st != BN_OK || done) return st;
    size_t need;
    work_bytes(T, K, &need);
    if (work == NULL) return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: work must not be null", fn);
    if (work_size < need)
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: work has %zu bytes, %zu needed", fn, work_size, need);
    uint8_t* base = (uint8_t*)(((uintptr_t)work + 63) & ~(uintptr_t)63);
    bn_kernels_init();
    tq_job tq = {x, K, (int8_t*)base, (float*)(base + T * K), (int32_t*)(base + T * K + T * (int64_t)sizeof(float)),
                 0};
    st = bn_threadpool_parallel_for(pool, T, 1, tq_tokens, &tq);
    if (st != BN_OK) return st;
    if (atomic_load(&tq.bad)) return bn_fail(BN_ERR_NUMERIC, "%s: x holds a NaN or an infinity", fn);
    tm_job job;
    memset(&job, 0, sizeof job);
    job.K = K, job.T = T, job.layout = layout, job.q = tq.q, job.a = tq.a, job.q_sum = tq.q_sum;
    add_matrix(&job, w, M, w_scale, y);
    return run_matmul(&job, pool);
}
