/* Q8_K activations and the integer Q6_K x Q8_K dot product: the scalar versions, which are the definitions
 * (kernels/dot_q8_k.h states both). The quantizer follows ggml's quantize_row_q8_K_ref value for value. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

// x (n) -> y (n/256 blocks); 0, or 1 when x holds a NaN or infinity (then y is unspecified)
int bn_quantize_row_q8_k(const float* x, int64_t n, bn_block_q8_k* y) {
    for (int64_t i = 0; i < n / BN_Q8_K_BLOCK; i++, x += BN_Q8_K_BLOCK, y++) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < BN_Q8_K_BLOCK; j++) {
            const float ax = fabsf(x[j]);
            if (!(ax <= FLT_MAX)) return 1; /* NaN or infinity: the rounding below would be undefined */
            if (ax > amax) {                /* strict: the first element of largest magnitude, with its sign */
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            memset(y, 0, sizeof *y);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < BN_Q8_K_BLOCK; j++) {
            /* ggml's nearest_int (a 1.5*2^23 magic add) is round-half-to-even for |v| < 2^22, as nearbyintf in
             * the default rounding mode; |iscale * x[j]| <= 127 (rounded) here */
            const int v = (int)nearbyintf(iscale * x[j]);
            y->qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int k = 0; k < BN_Q8_K_BLOCK / 16; k++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += y->qs[16 * k + l];
            y->bsums[k] = (int16_t)s;
        }
        y->d = 1.0f / iscale;
    }
    return 0;
}

// w (n/256 block_q6_K), q (n/256 Q8_K) -> sum over blocks of (d6 * d8) * isum
float bn_dot_q6_k_q8_k_scalar(const void* w, const bn_block_q8_k* q, int64_t n) {
    const uint8_t* b = (const uint8_t*)w;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / BN_Q6_K_BLOCK; i++, b += BN_Q6_K_BYTES, q++) {
        const int8_t* sc = (const int8_t*)(b + BN_Q6_K_SCALES);
        int32_t isum = 0;
        for (int k = 0; k < 16; k++) {
            int32_t dot = 0;
            for (int l = 0; l < 16; l++) dot += (bn_q6_k_code(b, 16 * k + l) - 32) * q->qs[16 * k + l];
            isum += sc[k] * dot;
        }
        uint16_t dh;
        memcpy(&dh, b + BN_Q6_K_D, sizeof dh);
        acc = bn_q8_k_step(acc, bn_fp16_to_fp32(dh), q->d, isum);
    }
    return acc;
}

// w (n/256 block_q6_K), nt tokens of q (n/256 Q8_K each, q_stride blocks apart) -> out (nt): the definition
void bn_dot_q6_k_q8_k_x4_scalar(const void* w, const bn_block_q8_k* q, int64_t q_stride, int32_t nt, int64_t n,
                                float* out) {
    for (int32_t t = 0; t < nt; t++) out[t] = bn_dot_q6_k_q8_k_scalar(w, q + t * q_stride, n);
}

void bn_install_dot_q8_k_scalar(bn_kernel_table* t) {
    t->dot_q6_k_q8_k = bn_dot_q6_k_q8_k_scalar;
    t->dot_q6_k_q8_k_impl = "scalar";
    t->dot_q6_k_q8_k_x4 = bn_dot_q6_k_q8_k_x4_scalar;
    t->dot_q6_k_q8_k_x4_impl = "scalar";
}
