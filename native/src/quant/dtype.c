/* The element types of stored float rows (bn_dtype): one row per type in one table, ggml style: block size,
 * bytes per block, the reference quantizer (NULL for read-only types) and the dequantizer. Nothing else switches on a type's layout. */
#include <string.h>

#include "core/error.h"
#include "kernels/forward_ops.h"
#include "quant/ggml_blocks.h"

typedef struct dtype_traits {
    bn_dtype type;
    const char* name;
    int32_t block;
    int32_t block_bytes;
    void (*quantize_ref)(const float* x, int64_t n, uint8_t* dst);
    void (*dequantize)(const uint8_t* src, int64_t n, float* dst);
} dtype_traits;

static void f32_from(const float* x, int64_t n, uint8_t* dst) { memcpy(dst, x, (size_t)n * sizeof *x); }
static void f32_to(const uint8_t* src, int64_t n, float* dst) { memcpy(dst, src, (size_t)n * sizeof *dst); }

static void f16_from(const float* x, int64_t n, uint8_t* dst) {
    for (int64_t i = 0; i < n; i++) {
        const uint16_t h = bn_fp32_to_fp16(x[i]);
        memcpy(dst + 2 * i, &h, 2);
    }
}
static void f16_to(const uint8_t* src, int64_t n, float* dst) {
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = bn_fp16_to_fp32(h);
    }
}
static void bf16_from(const float* x, int64_t n, uint8_t* dst) {
    for (int64_t i = 0; i < n; i++) {
        const uint16_t h = bn_fp32_to_bf16(x[i]);
        memcpy(dst + 2 * i, &h, 2);
    }
}
static void bf16_to(const uint8_t* src, int64_t n, float* dst) {
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = bn_bf16_to_fp32(h);
    }
}

static const dtype_traits k_traits[] = {
    {BN_DTYPE_F32, "F32", 1, 4, f32_from, f32_to},
    {BN_DTYPE_F16, "F16", 1, 2, f16_from, f16_to},
    {BN_DTYPE_BF16, "BF16", 1, 2, bf16_from, bf16_to},
    {BN_DTYPE_Q8_0, "Q8_0", BN_Q8_0_BLOCK, BN_Q8_0_BYTES, bn_q8_0_quantize_row_ref, bn_q8_0_dequantize_row},
    {BN_DTYPE_Q6_K, "Q6_K", BN_Q6_K_BLOCK, BN_Q6_K_BYTES, bn_q6_k_quantize_row_ref, bn_q6_k_dequantize_row},
    {BN_DTYPE_Q4_K, "Q4_K", BN_Q4_K_BLOCK, BN_Q4_K_BYTES, NULL, bn_q4_k_dequantize_row},
};

static const dtype_traits* find(bn_dtype type) {
    for (size_t i = 0; i < sizeof k_traits / sizeof k_traits[0]; i++)
        if (k_traits[i].type == type) return &k_traits[i];
    return NULL;
}

bn_status bn_dtype_block_size(bn_dtype type, int32_t* out) {
    BN_REQUIRE_ARG(out != NULL, "bn_dtype_block_size: out must not be null");
    const dtype_traits* t = find(type);
    if (!t) return bn_fail(BN_ERR_INVALID_ARGUMENT, "bn_dtype_block_size: unknown dtype %d", (int)type);
    *out = t->block;
    return BN_OK;
}

bn_status bn_dtype_row_size(bn_dtype type, int64_t n, int64_t* out) {
    BN_REQUIRE_ARG(out != NULL, "bn_dtype_row_size: out must not be null");
    const dtype_traits* t = find(type);
    if (!t) return bn_fail(BN_ERR_INVALID_ARGUMENT, "bn_dtype_row_size: unknown dtype %d", (int)type);
    if (n < 0 || n % t->block != 0)
        return bn_fail(BN_ERR_SHAPE, "bn_dtype_row_size: %lld values are not a whole number of %s blocks of %d",
                       (long long)n, t->name, (int)t->block);
    if (n / t->block > INT64_MAX / t->block_bytes)
        return bn_fail(BN_ERR_SHAPE, "bn_dtype_row_size: %lld values overflow", (long long)n);
    *out = n / t->block * t->block_bytes;
    return BN_OK;
}

/* Row size in bytes of (rows, cols), with the checks the bulk calls share. */
static bn_status matrix_bytes(const char* fn, const dtype_traits* t, bn_dtype type, int64_t rows, int64_t cols,
                              int64_t* row_bytes, int64_t* total) {
    if (!t) return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: unknown dtype %d", fn, (int)type);
    BN_REQUIRE_ARG(rows >= 0 && cols >= 0, "%s: rows (%lld) and cols (%lld) must be >= 0", fn, (long long)rows,
                   (long long)cols);
    if (cols % t->block != 0)
        return bn_fail(BN_ERR_SHAPE, "%s: cols (%lld) is not a multiple of the %s block (%d)", fn, (long long)cols,
                       t->name, (int)t->block);
    *row_bytes = cols / t->block * t->block_bytes;
    if (rows > 0 && *row_bytes > INT64_MAX / rows) return bn_fail(BN_ERR_SHAPE, "%s: rows * cols overflows", fn);
    *total = rows * *row_bytes;
    return BN_OK;
}

bn_status bn_dtype_quantize_ref(bn_dtype type, const float* x, int64_t rows, int64_t cols, void* dst,
                                int64_t dst_len) {
    BN_REQUIRE_ARG(x != NULL && dst != NULL, "bn_dtype_quantize_ref: x and dst must not be null");
    const dtype_traits* t = find(type);
    int64_t rb, total;
    bn_status st = matrix_bytes("bn_dtype_quantize_ref", t, type, rows, cols, &rb, &total);
    if (st != BN_OK) return st;
    if (!t->quantize_ref)
        return bn_fail(BN_ERR_UNSUPPORTED, "bn_dtype_quantize_ref: %s has no reference quantizer here (read-only: "
                       "dequantize, embedding lookup and LM head only; llama-quantize writes it)", t->name);
    if (dst_len < total)
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "bn_dtype_quantize_ref: dst has %lld bytes, %s needs %lld",
                       (long long)dst_len, t->name, (long long)total);
    for (int64_t r = 0; r < rows; r++) t->quantize_ref(x + r * cols, cols, (uint8_t*)dst + r * rb);
    return BN_OK;
}

bn_status bn_dtype_dequantize(bn_dtype type, const void* src, int64_t src_len, int64_t rows, int64_t cols,
                              float* out) {
    BN_REQUIRE_ARG(src != NULL && out != NULL, "bn_dtype_dequantize: src and out must not be null");
    const dtype_traits* t = find(type);
    int64_t rb, total;
    bn_status st = matrix_bytes("bn_dtype_dequantize", t, type, rows, cols, &rb, &total);
    if (st != BN_OK) return st;
    if (src_len < total)
        return bn_fail(BN_ERR_SHAPE, "bn_dtype_dequantize: src has %lld bytes, %lld x %lld %s needs %lld",
                       (long long)src_len, (long long)rows, (long long)cols, t->name, (long long)total);
    for (int64_t r = 0; r < rows; r++) t->dequantize((const uint8_t*)src + r * rb, cols, out + r * cols);
    return BN_OK;
}
