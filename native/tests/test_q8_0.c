/* ggml Q8_0 rows (quant/q8_0.c through bn_dtype_*): quantize_ref bytes against an independent implementation
 * written here from ggml's definition (quantize_row_q8_0_ref: d = amax/127, qs = roundf(x/d) half away from
 * zero, d stored as fp16), a hand-built block for the layout, and dequantize. */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

/* block = 2 bytes little-endian fp16 d, then 32 int8 */
static void ref_quantize(const float* x, int64_t n, uint8_t* out) {
    for (int64_t b = 0; b < n / 32; b++) {
        const float* xb = x + 32 * b;
        uint8_t* ob = out + 34 * b;
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            if (fabsf(xb[j]) > amax) amax = fabsf(xb[j]);
        const float d = amax / 127.0f;
        const float id = d == 0.0f ? 0.0f : 1.0f / d;
        const uint16_t dh = bn_fp32_to_fp16(d);
        ob[0] = (uint8_t)(dh & 0xFF);
        ob[1] = (uint8_t)(dh >> 8);
        for (int j = 0; j < 32; j++) {
            const long q = lroundf(xb[j] * id);
            ob[2 + j] = (uint8_t)(int8_t)q;
        }
    }
}

BN_TEST(quantize_ref_matches_independent_reference) {
    uint64_t rng = 31;
    enum { N = 32 * 40 };
    float x[N];
    uint8_t got[34 * 40], want[34 * 40];
    for (int rep = 0; rep < 20; rep++) {
        for (int i = 0; i < N; i++) {
            float s = (rep % 4 == 0) ? 1e-4f : (rep % 4 == 1) ? 100.0f : 1.0f;
            x[i] = bn_test_rand_float(&rng, -s, s);
        }
        for (int j = 0; j < 32; j++) x[32 + j] = 0.0f;                  /* an all-zero block: d = 0 */
        for (int j = 0; j < 32; j++) x[64 + j] = (float)(j - 16) * 0.5f; /* ties at k + 0.5 after scaling */
        x[64 + 31] = 63.5f;
        ref_quantize(x, N, want);
        BN_CHECK_OK(bn_dtype_quantize_ref(BN_DTYPE_Q8_0, x, 2, N / 2, got, sizeof got));
        BN_CHECK_MSG(memcmp(got, want, sizeof got) == 0, "rep %d: bytes differ", rep);
    }
}

BN_TEST(layout_and_dequantize) {
    uint8_t blk[34] = {0x00, 0x40}; /* d = fp16 2.0 */
    for (int j = 0; j < 32; j++) blk[2 + j] = (uint8_t)(int8_t)(j - 20);
    float y[32];
    BN_CHECK_OK(bn_dtype_dequantize(BN_DTYPE_Q8_0, blk, 34, 1, 32, y));
    for (int j = 0; j < 32; j++) BN_CHECK(y[j] == 2.0f * (float)(j - 20));
    int64_t rb;
    BN_CHECK_OK(bn_dtype_row_size(BN_DTYPE_Q8_0, 2560, &rb));
    BN_CHECK_EQ_I64(rb, 2560 / 32 * 34);
    BN_CHECK_STATUS(bn_dtype_row_size(BN_DTYPE_Q8_0, 33, &rb), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_dtype_dequantize(BN_DTYPE_Q8_0, blk, 33, 1, 32, y), BN_ERR_SHAPE);
}

BN_TEST(round_trip_error_is_half_a_step) {
    uint64_t rng = 8;
    float x[256], y[256];
    uint8_t q[34 * 8];
    for (int i = 0; i < 256; i++) x[i] = bn_test_rand_float(&rng, -3.0f, 3.0f);
    BN_CHECK_OK(bn_dtype_quantize_ref(BN_DTYPE_Q8_0, x, 1, 256, q, sizeof q));
    BN_CHECK_OK(bn_dtype_dequantize(BN_DTYPE_Q8_0, q, sizeof q, 1, 256, y));
    for (int b = 0; b < 8; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
        for (int j = 0; j < 32; j++) BN_CHECK(fabsf(y[32 * b + j] - x[32 * b + j]) <= amax / 127.0f * 0.502f);
    }
}
