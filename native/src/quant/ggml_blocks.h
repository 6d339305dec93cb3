/* Internal: ggml's Q8_0, Q6_K and Q4_K rows (layouts in bitnet.h at bn_dtype and kernels/forward_ops.h), written
 * from ggml's definitions (ggml-common.h, ggml-quants.c). n is a multiple of the block; the quantizers give
 * the bytes of ggml's quantize_row_*_ref, the dequantizers the floats of dequantize_row_* (Q4_K: no quantizer). */
#ifndef BN_QUANT_GGML_BLOCKS_H
#define BN_QUANT_GGML_BLOCKS_H

#include <stdint.h>

void bn_q8_0_quantize_row_ref(const float* x, int64_t n, uint8_t* dst);
void bn_q8_0_dequantize_row(const uint8_t* src, int64_t n, float* dst);
void bn_q6_k_quantize_row_ref(const float* x, int64_t n, uint8_t* dst);
void bn_q6_k_dequantize_row(const uint8_t* src, int64_t n, float* dst);
void bn_q4_k_dequantize_row(const uint8_t* src, int64_t n, float* dst);

#endif
