/* Dot products of a float row with a stored row (F32, F16, BF16, Q8_0, Q6_K, Q4_K) and axpy into a float row: the
 * arithmetic of the LM head and of attention. Scalar reference: sum in order of x[i] * w[i], with w[i] the
 * exact float value ggml's dequantize_row_* gives the stored element. */
#include <string.h>

#include "kernels/kernels.h"

static uint16_t load_u16(const uint8_t* p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

// x (n), y (n) -> sum
float bn_dot_f32_scalar(const float* x, const float* y, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

// x (n), y (n) fp16 -> sum
float bn_dot_f16_scalar(const float* x, const uint16_t* y, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += x[i] * bn_fp16_to_fp32(y[i]);
    return s;
}

// x (n), y (n) bf16 -> sum
float bn_dot_bf16_scalar(const float* x, const uint16_t* y, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += x[i] * bn_bf16_to_fp32(y[i]);
    return s;
}

// x (n), y (n/32 block_q8_0) -> sum; w = qs[j] * d
float bn_dot_q8_0_scalar(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    float s = 0.0f;
    for (int64_t i = 0; i < n; i += BN_Q8_0_BLOCK, b += BN_Q8_0_BYTES) {
        const float d = bn_fp16_to_fp32(load_u16(b));
        const int8_t* qs = (const int8_t*)(b + 2);
        for (int j = 0; j < BN_Q8_0_BLOCK; j++) s += x[i + j] * ((float)qs[j] * d);
    }
    return s;
}

// x (n), y (n/256 block_q6_K) -> sum; w = (d * scales[e/16]) * code
float bn_dot_q6_k_scalar(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    float s = 0.0f;
    for (int64_t i = 0; i < n; i += BN_Q6_K_BLOCK, b += BN_Q6_K_BYTES) {
        const float d = bn_fp16_to_fp32(load_u16(b + BN_Q6_K_D));
        const int8_t* sc = (const int8_t*)(b + BN_Q6_K_SCALES);
        for (int e = 0; e < BN_Q6_K_BLOCK; e++) s += x[i + e] * ((d * (float)sc[e / 16]) * (float)(bn_q6_k_code(b, e) - 32));
    }
    return s;
}

// x (n), y (n/256 block_q4_K) -> sum; w = (d * sc[j]) * q - (dmin * m[j]) for sub-block j = e/32, q the
// low nibble of qs[32*(e/64) + e%32] for e%64 < 32, else its high nibble
float bn_dot_q4_k_scalar(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    float s = 0.0f;
    for (int64_t i = 0; i < n; i += BN_Q4_K_BLOCK, b += BN_Q4_K_BYTES) {
        const float d = bn_fp16_to_fp32(load_u16(b + BN_Q4_K_D)), dmin = bn_fp16_to_fp32(load_u16(b + BN_Q4_K_DMIN));
        for (int j = 0; j < 8; j++) {
            int sc, m;
            bn_q4_k_scale_min(j, b + BN_Q4_K_SCALES, &sc, &m);
            const float ds = d * (float)sc, dm = dmin * (float)m;
            const uint8_t* q = b + BN_Q4_K_QS + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            for (int l = 0; l < 32; l++) s += x[i + 32 * j + l] * (ds * (float)((q[l] >> shift) & 0xF) - dm);
        }
    }
    return s;
}

// y (n) += a * x (n)
void bn_axpy_f32_scalar(float a, const float* x, int64_t n, float* y) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

// y (n) += a * x (n fp16)
void bn_axpy_f16_scalar(float a, const uint16_t* x, int64_t n, float* y) {
    for (int64_t i = 0; i < n; i++) y[i] += a * bn_fp16_to_fp32(x[i]);
}

void bn_install_dot_scalar(bn_kernel_table* t) {
#define BN_SET(op) t->op = bn_##op##_scalar; t->op##_impl = "scalar";
    BN_SET(dot_f32) BN_SET(dot_f16) BN_SET(dot_bf16) BN_SET(dot_q8_0) BN_SET(dot_q6_k) BN_SET(dot_q4_k) BN_SET(axpy_f32)
    BN_SET(axpy_f16)
#undef BN_SET
}
