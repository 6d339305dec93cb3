/* BN_FORMAT_HF_2B4T: the packing of HF transformers' BitNet integration (integrations/bitnet.py, pack_weights
 * and unpack_weights), used by microsoft/bitnet-b1.58-2B-4T's released *_proj.weight tensors. A [rows, cols]
 * ternary matrix becomes U8 [rows/4, cols]: the rows are cut into four consecutive quarters and byte [r, c]
 * holds W[i*rows/4 + r, c] + 1 in bits 2i..2i+1 (quarter 0 in the low bits). pack_weights rounds rows/4 up and
 * leaves a short last quarter; we take rows % 4 == 0 only (every BitNet projection has it). The scale is
 * not in these bytes: the checkpoint stores weight_scale (BF16, = mean|W|) beside each weight. No GGML type. */
#include "core/error.h"
#include "quant/format.h"

static void pack(const int8_t* codes, int64_t rows, int64_t cols, const float* scales, int64_t n_scales,
                 uint8_t* dst) {
    (void)scales, (void)n_scales;
    const int64_t quarter = rows / 4;
    for (int64_t r = 0; r < quarter; r++) {
        const int8_t* q0 = codes + r * cols;
        const int8_t* q1 = q0 + quarter * cols;
        const int8_t* q2 = q1 + quarter * cols;
        const int8_t* q3 = q2 + quarter * cols;
        uint8_t* out = dst + r * cols;
        for (int64_t c = 0; c < cols; c++)
            out[c] = (uint8_t)(bn_field_from_code(q0[c]) | bn_field_from_code(q1[c]) << 2 |
                               bn_field_from_code(q2[c]) << 4 | bn_field_from_code(q3[c]) << 6);
    }
}

static bn_status unpack(const char* fn, const uint8_t* src, int64_t rows, int64_t cols, int8_t* codes,
                        float* scales) {
    (void)scales;
    const int64_t quarter = rows / 4;
    for (int64_t r = 0; r < quarter; r++)
        for (int64_t c = 0; c < cols; c++) {
            const uint8_t byte = src[r * cols + c];
            for (int i = 0; i < 4; i++) {
                const uint8_t f = (byte >> (2 * i)) & 3u;
                if (f == 3)
                    return bn_fail(BN_ERR_FORMAT,
                                   "%s: HF_2B4T byte [%lld, %lld] holds the 2-bit code 3 in bits %d..%d", fn,
                                   (long long)r, (long long)c, 2 * i, 2 * i + 1);
                codes[(i * quarter + r) * cols + c] = bn_code_from_field(f);
            }
        }
    return BN_OK;
}

const bn_format_traits bn_format_hf_2b4t = {
    .id = BN_FORMAT_HF_2B4T,
    .name = "HF_2B4T",
    .block_size = 4, /* the 4 weights of one byte: rows r, r + rows/4, r + rows/2, r + 3 rows/4 of a column */
    .block_bytes = 1,
    .ggml_type = -1,
    .scale_kind = BN_SCALE_OUTSIDE,
    .row_multiple = 4,
    .col_multiple = 1,
    .tensor_extra_bytes = 0,
    .ternary = 1,
    .pack = pack,
    .unpack = unpack,
    .scale_ok = NULL,
    .quantize = NULL,
};
