/* BN_FORMAT_TQ2_0: ggml's block_tq2_0 (ggml/src/ggml-common.h; quantize_row_tq2_0_ref and dequantize_row_tq2_0
 * in ggml/src/ggml-quants.c), GGML_TYPE_TQ2_0 = 35. A block of 256 weights is 66 bytes:
 *   qs[64]  byte qs[h*32 + m] (h = 0, 1; m = 0..31) holds weights h*128 + m + 32n, n = 0..3, in bits 2n..2n+1,
 *           as code + 1 (0, 1, 2; 3 is never written)
 *   d       fp16 scale at byte 64; w = code * d. */
#include "quant/format_tq.h"

#define TQ2_BYTES 66

static void encode_block(const int8_t* q, uint16_t d, uint8_t* out) {
    for (int h = 0; h < 2; h++)
        for (int m = 0; m < 32; m++) {
            const int8_t* e = q + h * 128 + m;
            out[h * 32 + m] = (uint8_t)(bn_field_from_code(e[0]) | bn_field_from_code(e[32]) << 2 |
                                        bn_field_from_code(e[64]) << 4 | bn_field_from_code(e[96]) << 6);
        }
    bn_tq_put_d(out + 64, d);
}

static void pack(const int8_t* codes, int64_t rows, int64_t cols, const float* scales, int64_t n_scales,
                 uint8_t* dst) {
    bn_tq_pack_rows(codes, rows * cols, scales, n_scales, dst, TQ2_BYTES, encode_block);
}

static bn_status unpack(const char* fn, const uint8_t* src, int64_t rows, int64_t cols, int8_t* codes,
                        float* scales) {
    const int64_t nb = rows * cols / BN_TQ_BLOCK;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t* in = src + b * TQ2_BYTES;
        int8_t* q = codes + b * BN_TQ_BLOCK;
        for (int h = 0; h < 2; h++)
            for (int m = 0; m < 32; m++) {
                const uint8_t byte = in[h * 32 + m];
                for (int n = 0; n < 4; n++) {
                    const uint8_t c = (byte >> (2 * n)) & 3u;
                    if (c == 3)
                        return bn_fail(BN_ERR_FORMAT,
                                       "%s: TQ2_0 block %lld byte %d holds the 2-bit code 3 (bits %d..%d)", fn,
                                       (long long)b, h * 32 + m, 2 * n, 2 * n + 1);
                    q[h * 128 + m + 32 * n] = bn_code_from_field(c);
                }
            }
        bn_status st = bn_tq_unpack_d(fn, "TQ2_0", in + 64, b, &scales[b]);
        if (st != BN_OK) return st;
    }
    return BN_OK;
}

static bn_status quantize(const char* fn, const float* w, int64_t rows, int64_t cols, uint8_t* dst) {
    return bn_tq_quantize_rows(fn, w, rows * cols, dst, TQ2_BYTES, encode_block);
}

const bn_format_traits bn_format_tq2_0 = {
    .id = BN_FORMAT_TQ2_0,
    .name = "TQ2_0",
    .block_size = BN_TQ_BLOCK,
    .block_bytes = TQ2_BYTES,
    .ggml_type = 35,
    .scale_kind = BN_SCALE_PER_BLOCK,
    .row_multiple = 1,
    .col_multiple = BN_TQ_BLOCK,
    .tensor_extra_bytes = 0,
    .ternary = 1,
    .pack = pack,
    .unpack = unpack,
    .scale_ok = bn_tq_scale_ok,
    .quantize = quantize,
};
