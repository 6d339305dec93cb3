/* Symmetric / asymmetric 2-, 4-, 8-bit quantizers (quant/intn.c): the formulas of bitnet.h on known values,
 * error bounds on random data for every granularity, and bad input. */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

BN_TEST(symmetric_known_values) {
    /* max|x| = 7 at 4 bits: step 1; ties to even; the grid is -7..7 */
    const float x[6] = {7.0f, -7.0f, 2.5f, -3.5f, 0.4f, 6.5f};
    const int8_t expect[6] = {7, -7, 2, -4, 0, 6};
    int8_t q[6];
    float step, out[6];
    BN_CHECK_OK(bn_quantize_sym(x, 1, 6, 4, BN_GRANULARITY_TENSOR, 0, q, 6, &step, 1));
    BN_CHECK(step == 1.0f);
    for (int i = 0; i < 6; i++) BN_CHECK_MSG(q[i] == expect[i], "x=%g -> %d", (double)x[i], q[i]);
    BN_CHECK_OK(bn_dequantize_sym(q, 1, 6, 4, BN_GRANULARITY_TENSOR, 0, &step, 1, out, 6));
    for (int i = 0; i < 6; i++) BN_CHECK(out[i] == (float)expect[i]);
    /* 2 bits: ternary levels -1, 0, +1 times max|x| */
    const float y[4] = {0.5f, -2.0f, 0.9f, 1.1f};
    BN_CHECK_OK(bn_quantize_sym(y, 1, 4, 2, BN_GRANULARITY_TENSOR, 0, q, 4, &step, 1));
    BN_CHECK(step == 2.0f);
    BN_CHECK(q[0] == 0 && q[1] == -1 && q[2] == 0 && q[3] == 1); /* 0.25 -> 0, 0.45 -> 0, 0.55 -> 1 */
    /* an all-zero group: step 0, codes 0 */
    const float z[4] = {0};
    BN_CHECK_OK(bn_quantize_sym(z, 2, 2, 8, BN_GRANULARITY_CHANNEL, 0, q, 4, (float[2]){1, 1}, 2));
    BN_CHECK(q[0] == 0 && q[3] == 0);
}

BN_TEST(asymmetric_known_values) {
    /* x in [-1, 2] at 2 bits: L = 3, step = 1, zp = 1; codes = round(x) + 1 */
    const float x[5] = {-1.0f, 2.0f, 0.0f, 0.5f, 1.5f};
    uint8_t q[5];
    float step, out[5];
    int32_t zp;
    BN_CHECK_OK(bn_quantize_asym(x, 1, 5, 2, BN_GRANULARITY_TENSOR, 0, q, 5, &step, &zp, 1));
    BN_CHECK(step == 1.0f);
    BN_CHECK_EQ_I64(zp, 1);
    BN_CHECK(q[0] == 0 && q[1] == 3 && q[2] == 1 && q[3] == 1 && q[4] == 3); /* 0.5 -> 0 (even), 1.5 -> 2 */
    BN_CHECK_OK(bn_dequantize_asym(q, 1, 5, 2, BN_GRANULARITY_TENSOR, 0, &step, &zp, 1, out, 5));
    BN_CHECK(out[0] == -1.0f && out[1] == 2.0f && out[2] == 0.0f && out[3] == 0.0f && out[4] == 2.0f);
    /* all positive: the range still starts at 0, so zp = 0 and 0.0 is exact */
    const float p[3] = {1.0f, 3.0f, 2.0f};
    BN_CHECK_OK(bn_quantize_asym(p, 1, 3, 8, BN_GRANULARITY_TENSOR, 0, q, 3, &step, &zp, 1));
    BN_CHECK_EQ_I64(zp, 0);
    BN_CHECK(step == 3.0f / 255.0f);
    BN_CHECK_EQ_I64(q[1], 255);
    /* all negative: zp = L */
    const float m[2] = {-1.0f, -4.0f};
    BN_CHECK_OK(bn_quantize_asym(m, 1, 2, 4, BN_GRANULARITY_TENSOR, 0, q, 2, &step, &zp, 1));
    BN_CHECK_EQ_I64(zp, 15);
    BN_CHECK_EQ_I64(q[1], 0);
}

/* Every value that is not clipped lands within half a step of where it started. */
BN_TEST(round_trip_error_is_at_most_half_a_step) {
    const int bits_list[3] = {2, 4, 8};
    const struct {
        bn_granularity g;
        int64_t group;
    } grans[3] = {{BN_GRANULARITY_TENSOR, 0}, {BN_GRANULARITY_CHANNEL, 0}, {BN_GRANULARITY_GROUP, 16}};
    const int64_t rows = 7, cols = 48, n = rows * cols;
    uint64_t rng = 31;
    float x[7 * 48], out[7 * 48], steps[7 * 48];
    int8_t qs[7 * 48];
    uint8_t qa[7 * 48];
    int32_t zps[7 * 48];
    for (int64_t i = 0; i < n; i++) x[i] = bn_test_rand_float(&rng, -3.0f, 5.0f) * (float)(1 + i / cols);
    for (int b = 0; b < 3; b++)
        for (int k = 0; k < 3; k++) {
            const int bits = bits_list[b];
            int64_t ns;
            BN_CHECK_OK(bn_quant_scale_count(grans[k].g, rows, cols, grans[k].group, &ns));
            const int64_t len = n / ns;
            BN_CHECK_OK(bn_quantize_sym(x, rows, cols, bits, grans[k].g, grans[k].group, qs, n, steps, ns));
            BN_CHECK_OK(bn_dequantize_sym(qs, rows, cols, bits, grans[k].g, grans[k].group, steps, ns, out, n));
            const int qmax = (1 << (bits - 1)) - 1;
            for (int64_t i = 0; i < n; i++) {
                BN_CHECK(qs[i] >= -qmax && qs[i] <= qmax);
                BN_CHECK_MSG(fabsf(out[i] - x[i]) <= 0.5f * steps[i / len] * (1.0f + 1e-5f),
                             "sym bits=%d g=%d i=%lld: %g -> %g (step %g)", bits, (int)grans[k].g, (long long)i,
                             (double)x[i], (double)out[i], (double)steps[i / len]);
            }
            BN_CHECK_OK(bn_quantize_asym(x, rows, cols, bits, grans[k].g, grans[k].group, qa, n, steps, zps, ns));
            BN_CHECK_OK(bn_dequantize_asym(qa, rows, cols, bits, grans[k].g, grans[k].group, steps, zps, ns, out, n));
            for (int64_t i = 0; i < n; i++) {
                /* the zero point is rounded, so the range may shift by up to half a step: allow one step */
                BN_CHECK_MSG(fabsf(out[i] - x[i]) <= steps[i / len] * (1.0f + 1e-5f),
                             "asym bits=%d g=%d i=%lld: %g -> %g (step %g)", bits, (int)grans[k].g, (long long)i,
                             (double)x[i], (double)out[i], (double)steps[i / len]);
            }
        }
}

BN_TEST(bad_input) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, steps[8], out[8];
    int8_t q[8];
    uint8_t u[8];
    int32_t zp[8];
    BN_CHECK_STATUS(bn_quantize_sym(x, 2, 4, 3, BN_GRANULARITY_TENSOR, 0, q, 8, steps, 1), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "bits is 3") != NULL);
    BN_CHECK_STATUS(bn_quantize_asym(x, 2, 4, 16, BN_GRANULARITY_TENSOR, 0, u, 8, steps, zp, 1),
                    BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_quantize_sym(x, 2, 4, 4, BN_GRANULARITY_GROUP, 3, q, 8, steps, 8), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_quantize_sym(x, 2, 4, 4, BN_GRANULARITY_CHANNEL, 0, q, 8, steps, 1), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_quantize_asym(x, 2, 4, 4, BN_GRANULARITY_CHANNEL, 0, u, 7, steps, zp, 2),
                    BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_quantize_asym(x, 2, 4, 4, BN_GRANULARITY_CHANNEL, 0, u, 8, steps, NULL, 2),
                    BN_ERR_INVALID_ARGUMENT);
    x[6] = INFINITY;
    BN_CHECK_STATUS(bn_quantize_sym(x, 2, 4, 4, BN_GRANULARITY_CHANNEL, 0, q, 8, steps, 2), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "x[6]") != NULL);
    BN_CHECK_STATUS(bn_quantize_asym(x, 2, 4, 4, BN_GRANULARITY_CHANNEL, 0, u, 8, steps, zp, 2), BN_ERR_NUMERIC);
    x[6] = 3e38f, x[7] = -3e38f; /* finite, but hi - lo is not */
    BN_CHECK_STATUS(bn_quantize_asym(x, 2, 4, 4, BN_GRANULARITY_CHANNEL, 0, u, 8, steps, zp, 2), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "group 1") != NULL);
    /* dequantize: codes outside the grid, bad steps and zero points */
    for (int i = 0; i < 8; i++) q[i] = 0, u[i] = 0, steps[i] = 1.0f, zp[i] = 0;
    q[5] = -8;
    BN_CHECK_STATUS(bn_dequantize_sym(q, 2, 4, 4, BN_GRANULARITY_TENSOR, 0, steps, 1, out, 8), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "codes[5] = -8") != NULL);
    q[5] = 0;
    steps[0] = NAN;
    BN_CHECK_STATUS(bn_dequantize_sym(q, 2, 4, 4, BN_GRANULARITY_TENSOR, 0, steps, 1, out, 8), BN_ERR_NUMERIC);
    steps[0] = -1.0f;
    BN_CHECK_STATUS(bn_dequantize_asym(u, 2, 4, 4, BN_GRANULARITY_TENSOR, 0, steps, zp, 1, out, 8), BN_ERR_NUMERIC);
    steps[0] = 1.0f;
    u[2] = 16;
    BN_CHECK_STATUS(bn_dequantize_asym(u, 2, 4, 4, BN_GRANULARITY_TENSOR, 0, steps, zp, 1, out, 8),
                    BN_ERR_INVALID_ARGUMENT);
    u[2] = 0;
    zp[0] = 16;
    BN_CHECK_STATUS(bn_dequantize_asym(u, 2, 4, 4, BN_GRANULARITY_TENSOR, 0, steps, zp, 1, out, 8),
                    BN_ERR_INVALID_ARGUMENT);
    zp[0] = 0;
    BN_CHECK_STATUS(bn_dequantize_asym(u, 2, 4, 4, BN_GRANULARITY_TENSOR, 0, steps, zp, 1, out, 7),
                    BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_dequantize_sym(q, 2, 4, 4, BN_GRANULARITY_CHANNEL, 0, steps, 1, out, 8),
                    BN_ERR_BUFFER_TOO_SMALL);
}
