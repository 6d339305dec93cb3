/* Embedding lookup: rows of a (vocab, C) table of any bn_dtype, by token id, as floats. Float rows go through
 * the conversion kernels (convert*.c); Q8_0/Q6_K/Q4_K rows (GGUF's token_embd is often Q6_K) through ggml's
 * dequantizers. */
#include <string.h>

#include "core/error.h"
#include "kernels/kernels.h"
#include "quant/ggml_blocks.h"

// table (vocab,C), ids (T) -> out (T,C)
bn_status bn_embedding_lookup(bn_dtype type, const void* table, int64_t vocab, int64_t C, const int32_t* ids,
                              int64_t T, float* out) {
    BN_REQUIRE_ARG(table != NULL && ids != NULL && out != NULL,
                   "bn_embedding_lookup: table, ids and out must not be null");
    BN_REQUIRE_ARG(vocab > 0 && C > 0 && T >= 0, "bn_embedding_lookup: vocab (%lld) and C (%lld) must be > 0, T (%lld) >= 0",
                   (long long)vocab, (long long)C, (long long)T);
    int64_t rb;
    bn_status st = bn_dtype_row_size(type, C, &rb);
    if (st != BN_OK) return st;
    for (int64_t t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= vocab)
            return bn_fail(BN_ERR_INVALID_ARGUMENT, "bn_embedding_lookup: token id %d at position %lld is outside the vocabulary 0..%lld",
                           ids[t], (long long)t, (long long)vocab - 1);
    bn_kernels_init();
    for (int64_t t = 0; t < T; t++) {
        const uint8_t* row = (const uint8_t*)table + (int64_t)ids[t] * rb;
        float* o = out + t * C;
        switch (type) {
        case BN_DTYPE_F32: memcpy(o, row, (size_t)C * sizeof *o); break;
        case BN_DTYPE_F16: bn_kernels.cvt_f16_f32((const uint16_t*)row, C, o); break;
        case BN_DTYPE_BF16: bn_kernels.cvt_bf16_f32((const uint16_t*)row, C, o); break;
        case BN_DTYPE_Q8_0: bn_q8_0_dequantize_row(row, C, o); break;
        case BN_DTYPE_Q6_K: bn_q6_k_dequantize_row(row, C, o); break;
        case BN_DTYPE_Q4_K: bn_q4_k_dequantize_row(row, C, o); break;
        }
    }
    return BN_OK;
}
