/* ggml Q8_0 (type 8): blocks of 32 values, {fp16 d; int8 qs[32]} = 34 bytes. Written from ggml's definition:
 * d = max|x| / 127, qs = roundf(x * (1/d)) (half away from zero), value = qs * d. */
#include <math.h>
#include <string.h>

#include "bitnet.h"
#include "kernels/forward_ops.h"
#include "quant/ggml_blocks.h"

// x (n) -> dst (n/32 blocks)
void bn_q8_0_quantize_row_ref(const float* x, int64_t n, uint8_t* dst) {
    for (int64_t i = 0; i < n; i += BN_Q8_0_BLOCK, dst += BN_Q8_0_BYTES) {
        float amax = 0.0f;
        for (int j = 0; j < BN_Q8_0_BLOCK; j++) amax = fmaxf(amax, fabsf(x[i + j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const uint16_t dh = bn_fp32_to_fp16(d);
        memcpy(dst, &dh, sizeof dh);
        for (int j = 0; j < BN_Q8_0_BLOCK; j++) dst[2 + j] = (uint8_t)(int8_t)roundf(x[i + j] * id);
    }
}

// src (n/32 blocks) -> dst (n)
void bn_q8_0_dequantize_row(const uint8_t* src, int64_t n, float* dst) {
    for (int64_t i = 0; i < n; i += BN_Q8_0_BLOCK, src += BN_Q8_0_BYTES) {
        uint16_t dh;
        memcpy(&dh, src, sizeof dh);
        const float d = bn_fp16_to_fp32(dh);
        for (int j = 0; j < BN_Q8_0_BLOCK; j++) dst[i + j] = (float)(int8_t)src[2 + j] * d;
    }
}
