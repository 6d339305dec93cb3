/* ggml Q4_K (type 12): super-blocks of 256 values in 144 bytes {fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128]},
 * 8 sub-blocks of 32 with a 6-bit scale and a 6-bit min each (bitnet.h at bn_dtype). Read-only here: written from
 * ggml's dequantize_row_q4_K; llama.cpp puts Q4_K on token_embd/output in some quantization mixes. */
#include <string.h>

#include "bitnet.h"
#include "kernels/forward_ops.h"
#include "quant/ggml_blocks.h"

// src (n/256 blocks) -> dst (n); y = (d*sc) * q - (dmin*m), both products in float first as ggml does
void bn_q4_k_dequantize_row(const uint8_t* src, int64_t n, float* dst) {
    for (int64_t b = 0; b < n; b += BN_Q4_K_BLOCK, src += BN_Q4_K_BYTES) {
        uint16_t dh, mh;
        memcpy(&dh, src + BN_Q4_K_D, sizeof dh);
        memcpy(&mh, src + BN_Q4_K_DMIN, sizeof mh);
        const float d = bn_fp16_to_fp32(dh), dmin = bn_fp16_to_fp32(mh);
        const uint8_t* q = src + BN_Q4_K_QS;
        float* y = dst + b;
        for (int j = 0; j < 8; j += 2, q += 32, y += 64) {
            int sc, m;
            bn_q4_k_scale_min(j, src + BN_Q4_K_SCALES, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            bn_q4_k_scale_min(j + 1, src + BN_Q4_K_SCALES, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) y[l] = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) y[32 + l] = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}
