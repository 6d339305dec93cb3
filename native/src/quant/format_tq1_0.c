/* BN_FORMAT_TQ1_0: ggml's block_tq1_0 (ggml/src/ggml-common.h; quantize_row_tq1_0_ref and dequantize_row_tq1_0
 * in ggml/src/ggml-quants.c), GGML_TYPE_TQ1_0 = 34. A block of 256 weights is 54 bytes: qs[48], qh[4], fp16 d
 * at byte 52; w = code * d. Trits t = code + 1 (0, 1, 2) go five to a byte (4 in qh), the first trit most
 * significant: v = sum t_n 3^(4-n) (qh: four trits, then times 3), stored as ceil(v * 256 / 243) so that trit n
 * comes back as ((uint8)(byte * 3^n) * 3) >> 8. Which weights share a byte (ggml's index arithmetic):
 *   qs[m],      m = 0..31: weights m + 32n,        n = 0..4  (weights 0..159)
 *   qs[32 + m], m = 0..15: weights 160 + m + 16n,  n = 0..4  (weights 160..239)
 *   qh[j],      j = 0..3:  weights 240 + j + 4n,   n = 0..3  (weights 240..255) */
#include "kernels/kernels.h"
#include "quant/format_tq.h"

#define TQ1_BYTES 54

/* The trit codec of a block (qs and qh; kernels/tmatmul_tq1.c, which the TQ1 matmul layout shares) works on the
 * unsigned fields t = code + 1. */
static void encode_block(const int8_t* q, uint16_t d, uint8_t* out) {
    uint8_t t[BN_TQ_BLOCK];
    for (int i = 0; i < BN_TQ_BLOCK; i++) t[i] = bn_field_from_code(q[i]);
    bn_tq1_encode_block(t, out);
    bn_tq_put_d(out + 52, d);
}

static void pack(const int8_t* codes, int64_t rows, int64_t cols, const float* scales, int64_t n_scales,
                 uint8_t* dst) {
    bn_tq_pack_rows(codes, rows * cols, scales, n_scales, dst, TQ1_BYTES, encode_block);
}

/* Every byte decodes to trits 0..2, as in ggml's dequantize_row_tq1_0 (the 13 byte values that no encoder
 * writes decode too, to what ggml would read). */
static bn_status unpack(const char* fn, const uint8_t* src, int64_t rows, int64_t cols, int8_t* codes,
                        float* scales) {
    const int64_t nb = rows * cols / BN_TQ_BLOCK;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t* in = src + b * TQ1_BYTES;
        int8_t* q = codes + b * BN_TQ_BLOCK;
        uint8_t t[BN_TQ_BLOCK];
        bn_tq1_decode_block(in, t);
        for (int i = 0; i < BN_TQ_BLOCK; i++) q[i] = bn_code_from_field(t[i]);
        bn_status st = bn_tq_unpack_d(fn, "TQ1_0", in + 52, b, &scales[b]);
        if (st != BN_OK) return st;
    }
    return BN_OK;
}

static bn_status quantize(const char* fn, const float* w, int64_t rows, int64_t cols, uint8_t* dst) {
    return bn_tq_quantize_rows(fn, w, rows * cols, dst, TQ1_BYTES, encode_block);
}

const bn_format_traits bn_format_tq1_0 = {
    .id = BN_FORMAT_TQ1_0,
    .name = "TQ1_0",
    .block_size = BN_TQ_BLOCK,
    .block_bytes = TQ1_BYTES,
    .ggml_type = 34,
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
