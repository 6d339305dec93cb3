/* Internal: what ggml's two ternary block formats, TQ1_0 and TQ2_0 (ggml/src/ggml-common.h, ggml-quants.c),
 * have in common: blocks of QK_K = 256 weights along a row, each ending in an fp16 scale d (little-endian),
 * and the same float quantizer: d = max|x| over the block, id = d ? 1/d : 0, q = lroundf(x * id) (half away
 * from zero; never beyond +-1 since |x| <= d). Included by format_tq1_0.c and format_tq2_0.c only. */
#ifndef BN_QUANT_FORMAT_TQ_H
#define BN_QUANT_FORMAT_TQ_H

#include <math.h>

#include "core/error.h"
#include "quant/format.h"

#define BN_TQ_BLOCK 256

static inline void bn_tq_put_d(uint8_t* p, uint16_t d) {
    p[0] = (uint8_t)(d & 0xFF);
    p[1] = (uint8_t)(d >> 8);
}

static inline uint16_t bn_tq_get_d(const uint8_t* p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* The d of block b when packing codes: one tensor scale gives fp16(scale) to blocks with a nonzero code and 0
 * to the others (exactly what the float quantizer writes for the floats code * scale: their max is scale or
 * 0); per-block scales are taken as they are. */
static inline uint16_t bn_tq_pack_d(const int8_t* block_codes, const float* scales, int64_t n_scales, int64_t b) {
    if (n_scales != 1) return bn_fp32_to_fp16(scales[b]);
    for (int i = 0; i < BN_TQ_BLOCK; i++)
        if (block_codes[i] != 0) return bn_fp32_to_fp16(scales[0]);
    return 0;
}

/* ggml's float path for one block: codes q[256] and d. Fails if d does not fit fp16 (ggml would store inf). */
static inline bn_status bn_tq_quantize_block(const char* fn, const float* x, int64_t b, int8_t* q, uint16_t* d) {
    float amax = 0.0f;
    for (int j = 0; j < BN_TQ_BLOCK; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    const float id = amax != 0.0f ? 1.0f / amax : 0.0f;
    *d = bn_fp32_to_fp16(amax);
    if ((*d & 0x7C00u) == 0x7C00u)
        return bn_fail(BN_ERR_NUMERIC, "%s: block %lld has max|w| = %g, beyond fp16 (65504): d would be infinite",
                       fn, (long long)b, (double)amax);
    for (int j = 0; j < BN_TQ_BLOCK; j++) q[j] = (int8_t)lroundf(x[j] * id);
    return BN_OK;
}

/* Encodes one block of 256 codes with its fp16 d (each TQ format has its own). */
typedef void bn_tq_encode_fn(const int8_t* q, uint16_t d, uint8_t* out);

/* Packing from codes: each block gets d from bn_tq_pack_d. */
static inline void bn_tq_pack_rows(const int8_t* codes, int64_t n, const float* scales, int64_t n_scales,
                                   uint8_t* dst, int64_t block_bytes, bn_tq_encode_fn* encode) {
    for (int64_t b = 0; b < n / BN_TQ_BLOCK; b++) {
        const int8_t* q = codes + b * BN_TQ_BLOCK;
        encode(q, bn_tq_pack_d(q, scales, n_scales, b), dst + b * block_bytes);
    }
}

/* ggml's float path over whole blocks (quantize_row_tq*_0_ref). */
static inline bn_status bn_tq_quantize_rows(const char* fn, const float* w, int64_t n, uint8_t* dst,
                                            int64_t block_bytes, bn_tq_encode_fn* encode) {
    int8_t q[BN_TQ_BLOCK];
    for (int64_t b = 0; b < n / BN_TQ_BLOCK; b++) {
        uint16_t d;
        bn_status st = bn_tq_quantize_block(fn, w + b * BN_TQ_BLOCK, b, q, &d);
        if (st != BN_OK) return st;
        encode(q, d, dst + b * block_bytes);
    }
    return BN_OK;
}

/* d of block b when unpacking: fp16 -> float, refusing infinities and NaN. */
static inline bn_status bn_tq_unpack_d(const char* fn, const char* name, const uint8_t* p, int64_t b, float* d) {
    *d = bn_fp16_to_fp32(bn_tq_get_d(p));
    if (!isfinite(*d))
        return bn_fail(BN_ERR_NUMERIC, "%s: %s block %lld has d = %g (fp16 0x%04x): not a finite scale", fn, name,
                       (long long)b, (double)*d, (unsigned)bn_tq_get_d(p));
    return BN_OK;
}

/* A scale to be stored as fp16 d must stay finite there. */
static inline bn_status bn_tq_scale_ok(const char* fn, float scale, int64_t index) {
    if ((bn_fp32_to_fp16(scale) & 0x7C00u) == 0x7C00u)
        return bn_fail(BN_ERR_NUMERIC, "%s: scales[%lld] = %g does not fit fp16 (max 65504)", fn, (long long)index,
                       (double)scale);
    return BN_OK;
}

#endif
