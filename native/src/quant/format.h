/* Internal: the packed-format traits table. Every format is one row (a bn_format_traits in its own file,
 * format_<name>.c) and one line in the table of quant/format.c; nothing else knows its name. format.c does
 * every argument check that does not depend on the layout (pointers, shapes against row_multiple and
 * col_multiple, buffer sizes, code values, scale values, NaN in floats) before it calls a row's functions, so
 * those functions only translate bytes.
 *
 * All functions see a whole tensor: rows x cols codes, row-major. Codes are int8 -1, 0, +1 (ternary rows). */
#ifndef BN_QUANT_FORMAT_H
#define BN_QUANT_FORMAT_H

#include "bitnet.h"

typedef struct bn_format_traits {
    bn_format id;
    const char* name;
    int32_t block_size;
    int32_t block_bytes;
    int32_t ggml_type;          /* -1: none */
    bn_scale_kind scale_kind;
    int32_t row_multiple;
    int32_t col_multiple;
    int32_t tensor_extra_bytes; /* bytes after the blocks */
    int32_t ternary;            /* codes are -1, 0, +1: convertible through codes to every other ternary row */
    /* codes -> bytes. scales: n_scales == 1 (one tensor scale), or one per block for BN_SCALE_PER_BLOCK;
     * ignored by BN_SCALE_OUTSIDE. Every code is -1..1 and every scale valid for this format (format.c checks
     * scale_ok below first). */
    void (*pack)(const int8_t* codes, int64_t rows, int64_t cols, const float* scales, int64_t n_scales,
                 uint8_t* dst);
    /* bytes -> codes and scales (scale_count of them). Returns BN_ERR_FORMAT / BN_ERR_NUMERIC for bytes that
     * no packer writes, with a message that names the byte; `fn` is the public function's name. */
    bn_status (*unpack)(const char* fn, const uint8_t* src, int64_t rows, int64_t cols, int8_t* codes,
                        float* scales);
    /* The format's own check of a scale before packing (NULL: any finite scale >= 0 is fine), e.g. that it
     * fits fp16. Returns BN_OK or a failure with a message. */
    bn_status (*scale_ok)(const char* fn, float scale, int64_t index);
    /* floats -> bytes the way the format's origin quantizes (NULL: the format has no float path of its own).
     * The floats are finite. */
    bn_status (*quantize)(const char* fn, const float* w, int64_t rows, int64_t cols, uint8_t* dst);
} bn_format_traits;

/* The rows, defined in quant/format_*.c. */
extern const bn_format_traits bn_format_hf_2b4t;
extern const bn_format_traits bn_format_tq1_0;
extern const bn_format_traits bn_format_tq2_0;
extern const bn_format_traits bn_format_i2_s_x86;
extern const bn_format_traits bn_format_i2_s_arm;

/* Shared by the rows: the ternary code of a 2-bit field c = code + 1 (0, 1, 2); 3 is not a code. */
static inline int8_t bn_code_from_field(uint8_t c) { return (int8_t)((int)c - 1); }
static inline uint8_t bn_field_from_code(int8_t q) { return (uint8_t)(q + 1); }

#endif
