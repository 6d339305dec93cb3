/* The packed-format table and the public bn_format_* calls. Every check that does not depend on a layout
 * happens here, once, so each row (quant/format_*.c) only moves bits. Adding a format: its file with one
 * bn_format_traits, a line in g_formats below, and its enum value in bitnet.h. */
#include "quant/format.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/granularity.h"

static const bn_format_traits* const g_formats[] = {
    &bn_format_hf_2b4t, &bn_format_tq1_0, &bn_format_tq2_0, &bn_format_i2_s_x86, &bn_format_i2_s_arm,
};
#define BN_FORMAT_COUNT ((int32_t)(sizeof g_formats / sizeof g_formats[0]))

int32_t bn_format_count(void) { return BN_FORMAT_COUNT; }

static bn_status lookup(const char* fn, bn_format format, const bn_format_traits** out) {
    for (int32_t i = 0; i < BN_FORMAT_COUNT; i++)
        if (g_formats[i]->id == format) {
            *out = g_formats[i];
            return BN_OK;
        }
    return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: unknown format %d (formats are 0..%d)", fn, (int)format,
                   (int)BN_FORMAT_COUNT - 1);
}

bn_status bn_format_get_info(bn_format format, bn_format_info* out) {
    static const char fn[] = "bn_format_get_info";
    BN_REQUIRE_ARG(out != NULL, "%s: out must not be null", fn);
    const bn_format_traits* t = NULL;
    bn_status st = lookup(fn, format, &t);
    if (st != BN_OK) return st;
    memset(out, 0, sizeof *out);
    out->name = t->name;
    out->block_size = t->block_size;
    out->block_bytes = t->block_bytes;
    out->ggml_type = t->ggml_type;
    out->scale_kind = (int32_t)t->scale_kind;
    out->row_multiple = t->row_multiple;
    out->col_multiple = t->col_multiple;
    out->ternary = t->ternary;
    out->tensor_extra_bytes = t->tensor_extra_bytes;
    return BN_OK;
}

bn_status bn_format_from_name(const char* name, bn_format* out) {
    BN_REQUIRE_ARG(name != NULL && out != NULL, "bn_format_from_name: name and out must not be null");
    for (int32_t i = 0; i < BN_FORMAT_COUNT; i++)
        if (strcmp(g_formats[i]->name, name) == 0) {
            *out = g_formats[i]->id;
            return BN_OK;
        }
    return bn_fail(BN_ERR_INVALID_ARGUMENT, "bn_format_from_name: no format is called \"%s\"", name);
}

/* rows, cols positive and fitting the format; *n = rows * cols. */
static bn_status check_shape(const char* fn, const bn_format_traits* t, int64_t rows, int64_t cols, int64_t* n) {
    if (rows <= 0 || cols <= 0)
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: rows (%lld) and cols (%lld) must be positive", fn,
                       (long long)rows, (long long)cols);
    bn_status st = bn_check_matrix(fn, rows, cols, n);
    if (st != BN_OK) return st;
    if (rows % t->row_multiple != 0)
        return bn_fail(BN_ERR_SHAPE, "%s: %s needs rows to be a multiple of %d; rows is %lld", fn, t->name,
                       (int)t->row_multiple, (long long)rows);
    if (cols % t->col_multiple != 0)
        return bn_fail(BN_ERR_SHAPE, "%s: %s needs cols to be a multiple of its block (%d); cols is %lld", fn,
                       t->name, (int)t->col_multiple, (long long)cols);
    return BN_OK;
}

static int64_t packed_size(const bn_format_traits* t, int64_t n) {
    return n / t->block_size * t->block_bytes + t->tensor_extra_bytes;
}

static int64_t scale_count(const bn_format_traits* t, int64_t n) {
    switch (t->scale_kind) {
    case BN_SCALE_PER_TENSOR: return 1;
    case BN_SCALE_PER_BLOCK: return n / t->block_size;
    case BN_SCALE_OUTSIDE: break;
    }
    return 0;
}

bn_status bn_format_packed_size(bn_format format, int64_t rows, int64_t cols, int64_t* out) {
    static const char fn[] = "bn_format_packed_size";
    BN_REQUIRE_ARG(out != NULL, "%s: out must not be null", fn);
    const bn_format_traits* t = NULL;
    int64_t n = 0;
    bn_status st = lookup(fn, format, &t);
    if (st == BN_OK) st = check_shape(fn, t, rows, cols, &n);
    if (st == BN_OK) *out = packed_size(t, n);
    return st;
}

bn_status bn_format_scale_count(bn_format format, int64_t rows, int64_t cols, int64_t* out) {
    static const char fn[] = "bn_format_scale_count";
    BN_REQUIRE_ARG(out != NULL, "%s: out must not be null", fn);
    const bn_format_traits* t = NULL;
    int64_t n = 0;
    bn_status st = lookup(fn, format, &t);
    if (st == BN_OK) st = check_shape(fn, t, rows, cols, &n);
    if (st == BN_OK) *out = scale_count(t, n);
    return st;
}

/* Codes must be -1, 0 or +1; *any_nonzero says whether one is not 0. */
static bn_status check_codes(const char* fn, const int8_t* codes, int64_t n, int* any_nonzero) {
    uint8_t bad = 0, any = 0; /* a branch-free pass the compiler vectorises; the index only on failure */
    for (int64_t i = 0; i < n; i++) {
        bad |= (uint8_t)((uint8_t)(codes[i] + 1) > 2);
        any |= (uint8_t)codes[i];
    }
    if (bad)
        for (int64_t i = 0; i < n; i++)
            if (codes[i] < -1 || codes[i] > 1)
                return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: codes[%lld] = %d is not ternary (-1, 0, +1)", fn,
                               (long long)i, (int)codes[i]);
    *any_nonzero = any != 0;
    return BN_OK;
}

/* The scales given to pack: how many the format takes, and their values (see bitnet.h). */
static bn_status check_scales(const char* fn, const bn_format_traits* t, int64_t n, const float* scales,
                              int64_t n_scales, int any_nonzero) {
    if (t->scale_kind == BN_SCALE_OUTSIDE) {
        if (n_scales != 0 && n_scales != 1)
            return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: %s stores no scale; n_scales must be 0 or 1, not %lld", fn,
                           t->name, (long long)n_scales);
        return BN_OK; /* not stored, so not read */
    }
    const int64_t blocks = n / t->block_size;
    const int per_block_ok = t->scale_kind == BN_SCALE_PER_BLOCK && n_scales == blocks;
    if (n_scales != 1 && !per_block_ok) {
        if (t->scale_kind == BN_SCALE_PER_BLOCK)
            return bn_fail(BN_ERR_INVALID_ARGUMENT,
                           "%s: %s takes 1 tensor scale or one per block (%lld); n_scales is %lld", fn, t->name,
                           (long long)blocks, (long long)n_scales);
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: %s takes 1 tensor scale; n_scales is %lld", fn, t->name,
                       (long long)n_scales);
    }
    BN_REQUIRE_ARG(scales != NULL, "%s: scales must not be null", fn);
    for (int64_t i = 0; i < n_scales; i++) {
        const float s = scales[i];
        if (!isfinite(s))
            return bn_fail(BN_ERR_NUMERIC, "%s: scales[%lld] is %g", fn, (long long)i, (double)s);
        if (n_scales == 1) {
            if (s < 0.0f)
                return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: the tensor scale (%g) must not be negative", fn,
                               (double)s);
            if (any_nonzero && s < FLT_MIN)
                return bn_fail(BN_ERR_NUMERIC,
                               "%s: the tensor scale (%g) must be a normal float (>= %g) to carry nonzero codes", fn,
                               (double)s, (double)FLT_MIN);
        }
        if (t->scale_ok) {
            bn_status st = t->scale_ok(fn, s, i);
            if (st != BN_OK) return st;
        }
    }
    return BN_OK;
}

static bn_status pack_checked(const char* fn, const bn_format_traits* t, const int8_t* codes, int64_t rows,
                              int64_t cols, int64_t n, const float* scales, int64_t n_scales, uint8_t* dst,
                              int64_t dst_len) {
    int any_nonzero = 0;
    bn_status st = check_codes(fn, codes, n, &any_nonzero);
    if (st == BN_OK) st = check_scales(fn, t, n, scales, n_scales, any_nonzero);
    if (st == BN_OK && dst_len < packed_size(t, n))
        st = bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: dst has %lld bytes; %s needs %lld for %lld x %lld", fn,
                     (long long)dst_len, t->name, (long long)packed_size(t, n), (long long)rows, (long long)cols);
    if (st == BN_OK) t->pack(codes, rows, cols, scales, n_scales, dst);
    return st;
}

bn_status bn_format_pack(bn_format format, const int8_t* codes, int64_t rows, int64_t cols, const float* scales,
                         int64_t n_scales, uint8_t* dst, int64_t dst_len) {
    static const char fn[] = "bn_format_pack";
    const bn_format_traits* t = NULL;
    int64_t n = 0;
    bn_status st = lookup(fn, format, &t);
    if (st == BN_OK) st = check_shape(fn, t, rows, cols, &n);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(codes != NULL && dst != NULL, "%s: codes and dst must not be null", fn);
    return pack_checked(fn, t, codes, rows, cols, n, scales, n_scales, dst, dst_len);
}

static bn_status check_src(const char* fn, const bn_format_traits* t, const uint8_t* src, int64_t src_len,
                           int64_t rows, int64_t cols, int64_t n) {
    BN_REQUIRE_ARG(src != NULL, "%s: src must not be null", fn);
    if (src_len < packed_size(t, n))
        return bn_fail(BN_ERR_SHAPE, "%s: src has %lld bytes but a %lld x %lld %s tensor takes %lld", fn,
                       (long long)src_len, (long long)rows, (long long)cols, t->name, (long long)packed_size(t, n));
    return BN_OK;
}

/* The checks every reader of packed bytes starts with: a known format, a valid shape (n = rows * cols) and enough
 * source bytes. */
static bn_status open_src(const char* fn, bn_format format, const uint8_t* src, int64_t src_len, int64_t rows,
                          int64_t cols, const bn_format_traits** t, int64_t* n) {
    bn_status st = lookup(fn, format, t);
    if (st == BN_OK) st = check_shape(fn, *t, rows, cols, n);
    if (st == BN_OK) st = check_src(fn, *t, src, src_len, rows, cols, *n);
    return st;
}

bn_status bn_format_unpack(bn_format format, const uint8_t* src, int64_t src_len, int64_t rows, int64_t cols,
                           int8_t* codes, int64_t codes_len, float* scales, int64_t scales_len) {
    static const char fn[] = "bn_format_unpack";
    const bn_format_traits* t = NULL;
    int64_t n = 0;
    bn_status st = open_src(fn, format, src, src_len, rows, cols, &t, &n);
    if (st != BN_OK) return st;
    const int64_t ns = scale_count(t, n);
    BN_REQUIRE_ARG(codes != NULL, "%s: codes must not be null", fn);
    BN_REQUIRE_ARG(ns == 0 || scales != NULL, "%s: scales must not be null (%s has %lld)", fn, t->name,
                   (long long)ns);
    if ((st = bn_check_capacity(fn, "codes", codes_len, n)) != BN_OK) return st;
    if ((st = bn_check_capacity(fn, "scales", scales_len, ns)) != BN_OK) return st;
    return t->unpack(fn, src, rows, cols, codes, scales);
}

/* Unpacks into freshly allocated codes and scales (the caller frees both). */
static bn_status unpack_alloc(const char* fn, const bn_format_traits* t, const uint8_t* src, int64_t rows,
                              int64_t cols, int64_t n, int8_t** codes, float** scales) {
    const int64_t ns = scale_count(t, n);
    *codes = malloc((size_t)n);
    *scales = malloc((size_t)(ns > 0 ? ns : 1) * sizeof **scales);
    if (!*codes || !*scales) {
        free(*codes), free(*scales);
        *codes = NULL, *scales = NULL;
        return bn_fail(BN_ERR_OUT_OF_MEMORY, "%s: no memory for %lld codes", fn, (long long)n);
    }
    bn_status st = t->unpack(fn, src, rows, cols, *codes, *scales);
    if (st != BN_OK) {
        free(*codes), free(*scales);
        *codes = NULL, *scales = NULL;
    }
    return st;
}

bn_status bn_format_dequantize(bn_format format, const uint8_t* src, int64_t src_len, int64_t rows, int64_t cols,
                               float scale, float* out, int64_t out_len) {
    static const char fn[] = "bn_format_dequantize";
    const bn_format_traits* t = NULL;
    int64_t n = 0;
    bn_status st = open_src(fn, format, src, src_len, rows, cols, &t, &n);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(out != NULL, "%s: out must not be null", fn);
    if ((st = bn_check_capacity(fn, "out", out_len, n)) != BN_OK) return st;
    if (t->scale_kind == BN_SCALE_OUTSIDE && !isfinite(scale))
        return bn_fail(BN_ERR_NUMERIC, "%s: scale is %g; %s needs its finite weight scale", fn, (double)scale,
                       t->name);
    int8_t* codes;
    float* scales;
    if ((st = unpack_alloc(fn, t, src, rows, cols, n, &codes, &scales)) != BN_OK) return st;
    for (int64_t i = 0; i < n; i++) {
        const float s = t->scale_kind == BN_SCALE_OUTSIDE     ? scale
                        : t->scale_kind == BN_SCALE_PER_TENSOR ? scales[0]
                                                               : scales[i / t->block_size];
        out[i] = (float)codes[i] * s;
    }
    free(codes);
    free(scales);
    return BN_OK;
}

bn_status bn_format_quantize(bn_format format, const float* w, int64_t rows, int64_t cols, uint8_t* dst,
                             int64_t dst_len) {
    static const char fn[] = "bn_format_quantize";
    const bn_format_traits* t = NULL;
    int64_t n = 0;
    bn_status st = lookup(fn, format, &t);
    if (st == BN_OK) st = check_shape(fn, t, rows, cols, &n);
    if (st != BN_OK) return st;
    if (t->quantize == NULL)
        return bn_fail(BN_ERR_UNSUPPORTED,
                       "%s: %s keeps its scale outside the bytes, so it has no float path: quantize with "
                       "bn_quantize_ternary_absmean and pack the codes with bn_format_pack",
                       fn, t->name);
    BN_REQUIRE_ARG(w != NULL && dst != NULL, "%s: w and dst must not be null", fn);
    if (dst_len < packed_size(t, n))
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: dst has %lld bytes; %s needs %lld for %lld x %lld", fn,
                       (long long)dst_len, t->name, (long long)packed_size(t, n), (long long)rows, (long long)cols);
    const int64_t bad = bn_first_nonfinite(w, n);
    if (bad >= 0) return bn_fail_nonfinite(fn, "w", w, bad, cols);
    return t->quantize(fn, w, rows, cols, dst);
}

/* One tensor scale out of per-block ones: every block that has a nonzero code must carry the same d (ggml
 * writes d = 0 into all-zero blocks, so those are skipped). codes and scales hold blocks b0 .. b0+nb-1; *first
 * (-1 until a nonzero block is seen) and *d carry the search from one call to the next. The message names the
 * two blocks and ends with `into` (the per-tensor format asked for), or says no one scale exists when NULL. */
static bn_status agree_block_scales(const char* fn, const bn_format_traits* t, const char* into, const int8_t* codes,
                                    const float* scales, int64_t b0, int64_t nb, int64_t* first, float* d) {
    for (int64_t j = 0; j < nb; j++) {
        int nonzero = 0;
        for (int64_t i = j * t->block_size; i < (j + 1) * t->block_size; i++) nonzero |= codes[i] != 0;
        if (!nonzero) continue;
        if (*first < 0) *first = b0 + j, *d = scales[j];
        else if (scales[j] != *d)
            return bn_fail(BN_ERR_UNSUPPORTED, "%s: %s blocks %lld and %lld have different scales (%g, %g); %s%s", fn,
                           t->name, (long long)*first, (long long)(b0 + j), (double)*d, (double)scales[j],
                           into ? into : "the tensor has no one scale", into ? " holds one per tensor" : "");
    }
    return BN_OK;
}

bn_status bn_format_convert(bn_format from, const uint8_t* src, int64_t src_len, bn_format to, int64_t rows,
                            int64_t cols, float scale, uint8_t* dst, int64_t dst_len) {
    static const char fn[] = "bn_format_convert";
    const bn_format_traits *s = NULL, *d = NULL;
    int64_t n = 0;
    bn_status st = lookup(fn, from, &s);
    if (st == BN_OK) st = lookup(fn, to, &d);
    if (st == BN_OK) st = check_shape(fn, s, rows, cols, &n);
    if (st == BN_OK) st = check_shape(fn, d, rows, cols, &n);
    if (st == BN_OK) st = check_src(fn, s, src, src_len, rows, cols, n);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(dst != NULL, "%s: dst must not be null", fn);
    if (!s->ternary || !d->ternary)
        return bn_fail(BN_ERR_UNSUPPORTED, "%s: %s -> %s: only ternary formats convert through their codes", fn,
                       s->name, d->name);
    if (dst_len < packed_size(d, n))
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: dst has %lld bytes; %s needs %lld for %lld x %lld", fn,
                       (long long)dst_len, d->name, (long long)packed_size(d, n), (long long)rows, (long long)cols);
    int8_t* codes;
    float* scales;
    if ((st = unpack_alloc(fn, s, src, rows, cols, n, &codes, &scales)) != BN_OK) return st;

    const float* pass = scales;
    int64_t n_pass = 1;
    float tensor_scale = 0.0f;
    if (d->scale_kind == BN_SCALE_OUTSIDE) {
        n_pass = 0; /* dropped: the caller keeps the scale */
    } else if (s->scale_kind == BN_SCALE_PER_BLOCK && d->scale_kind == BN_SCALE_PER_BLOCK &&
               s->block_size == d->block_size) {
        n_pass = n / s->block_size; /* block for block */
    } else {
        if (s->scale_kind == BN_SCALE_OUTSIDE) {
            tensor_scale = scale;
        } else if (s->scale_kind == BN_SCALE_PER_TENSOR) {
            tensor_scale = scales[0];
        } else { /* one tensor scale out of per-block ones */
            int64_t first = -1;
            st = agree_block_scales(fn, s, d->name, codes, scales, 0, n / s->block_size, &first, &tensor_scale);
        }
        pass = &tensor_scale;
    }
    if (st == BN_OK) st = pack_checked(fn, d, codes, rows, cols, n, pass, n_pass, dst, dst_len);
    free(codes);
    free(scales);
    return st;
}

bn_status bn_format_tensor_scale(bn_format format, const uint8_t* src, int64_t src_len, int64_t rows, int64_t cols,
                                 float* out) {
    static const char fn[] = "bn_format_tensor_scale";
    const bn_format_traits* t = NULL;
    int64_t n = 0;
    bn_status st = open_src(fn, format, src, src_len, rows, cols, &t, &n);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(out != NULL, "%s: out must not be null", fn);
    if (t->scale_kind == BN_SCALE_OUTSIDE)
        return bn_fail(BN_ERR_UNSUPPORTED, "%s: %s keeps its scale outside the bytes (the caller holds it)", fn,
                       t->name);
    /* Per-block formats whose blocks run along rows (TQ1_0, TQ2_0) are read a row at a time, so the scratch is
     * one row of codes, not the tensor's; a per-tensor scale sits after all the codes and takes one pass. */
    const int by_row = t->scale_kind == BN_SCALE_PER_BLOCK && t->tensor_extra_bytes == 0 && t->row_multiple == 1;
    const int64_t chunk = by_row ? 1 : rows, row_blocks = cols / t->block_size;
    const int64_t ns = by_row ? row_blocks : scale_count(t, n);
    int8_t* codes = malloc((size_t)(chunk * cols));
    float* scales = malloc((size_t)ns * sizeof *scales);
    if (!codes || !scales) {
        free(codes), free(scales);
        return bn_fail(BN_ERR_OUT_OF_MEMORY, "%s: no memory for %lld codes", fn, (long long)(chunk * cols));
    }
    int64_t first = -1;
    float d = 0.0f;
    for (int64_t r = 0; r < rows && st == BN_OK; r += chunk) {
        st = t->unpack(fn, src + (by_row ? r * packed_size(t, cols) : 0), chunk, cols, codes, scales);
        if (st != BN_OK && by_row) /* the row's unpack counted blocks from the row's start */
            st = bn_fail(st, "%s (in row %lld, whose first block is block %lld)", bn_last_error(), (long long)r,
                         (long long)(r * row_blocks));
        if (st != BN_OK) break;
        if (t->scale_kind == BN_SCALE_PER_TENSOR) d = scales[0];
        else st = agree_block_scales(fn, t, NULL, codes, scales, r * row_blocks, chunk * row_blocks, &first, &d);
    }
    free(codes);
    free(scales);
    if (st == BN_OK) *out = d;
    return st;
}
