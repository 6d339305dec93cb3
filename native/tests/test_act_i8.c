/* bn_quantize_act_i8 (quant/act_i8.c): HF ActQuant per token, the same bytes under every kernel choice. */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

/* HF's ActQuant.forward on one row, transcribed from integrations/bitnet.py in float32:
 *   scale = 127 / x.abs().max().clamp(min=1e-5);  q = (x * scale).round().clamp(-128, 127) */
static float reference_row(const float* x, int64_t n, int8_t* q) {
    float m = 0.0f;
    for (int64_t i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    volatile float clamped = m < 1e-5f ? 1e-5f : m;
    volatile float scale = 127.0f / clamped;
    for (int64_t i = 0; i < n; i++) {
        volatile float p = x[i] * scale;
        float r = rintf(p); /* torch.round: half to even */
        q[i] = (int8_t)(r < -128.0f ? -128.0f : r > 127.0f ? 127.0f : r);
    }
    return scale;
}

BN_TEST(matches_hf_actquant_under_every_dispatch) {
    const int64_t rows = 5, cols = 2563;
    uint64_t rng = 99;
    float* x = malloc((size_t)(rows * cols) * sizeof *x);
    int8_t *want = malloc((size_t)(rows * cols)), *got = malloc((size_t)(rows * cols));
    float want_a[5], got_a[5];
    for (int64_t i = 0; i < rows * cols; i++) x[i] = bn_test_rand_float(&rng, -4.0f, 4.0f);
    x[3 * cols + 7] = 250.0f; /* one row with an outlier */
    for (int64_t i = 0; i < cols; i++) x[4 * cols + i] *= 1e-7f; /* one row under the 1e-5 floor */
    for (int64_t r = 0; r < rows; r++) want_a[r] = reference_row(x + r * cols, cols, want + r * cols);
    const uint64_t masks[] = {0, BN_CPU_AVX2 | BN_CPU_FMA | BN_CPU_F16C, UINT64_MAX};
    for (size_t m = 0; m < sizeof masks / sizeof masks[0]; m++) {
        BN_CHECK_OK(bn_cpu_set_enabled(masks[m]));
        BN_CHECK_OK(bn_quantize_act_i8(x, rows, cols, got, rows * cols, got_a, rows));
        BN_CHECK_MSG(memcmp(want, got, (size_t)(rows * cols)) == 0, "codes differ with feature mask 0x%llx",
                     (unsigned long long)masks[m]);
        BN_CHECK_MSG(memcmp(want_a, got_a, sizeof want_a) == 0, "scales differ with feature mask 0x%llx",
                     (unsigned long long)masks[m]);
    }
    BN_CHECK_OK(bn_cpu_set_enabled(UINT64_MAX));
    BN_CHECK(got_a[4] == 127.0f / 1e-5f);
    free(x), free(want), free(got);
}

BN_TEST(known_values) {
    /* max|x| = 127 gives a = 1: ties go to even, the max maps to +-127, nothing reaches -128 */
    const float x[8] = {127.0f, -127.0f, 2.5f, 3.5f, -2.5f, -0.5f, 0.49f, 126.5f};
    const int8_t expect[8] = {127, -127, 2, 4, -2, 0, 0, 126};
    int8_t q[8];
    float a;
    BN_CHECK_OK(bn_quantize_act_i8(x, 1, 8, q, 8, &a, 1));
    BN_CHECK(a == 1.0f);
    for (int i = 0; i < 8; i++)
        BN_CHECK_MSG(q[i] == expect[i], "x=%g -> %d, expected %d", (double)x[i], q[i], expect[i]);
    /* a is the float division 127.0f / max, not 1 / (max / 127) */
    const float y[2] = {3.0f, 1.0f};
    BN_CHECK_OK(bn_quantize_act_i8(y, 1, 2, q, 2, &a, 1));
    BN_CHECK(a == 127.0f / 3.0f);
    BN_CHECK_EQ_I64(q[0], 127);
    BN_CHECK_EQ_I64(q[1], 42); /* 42.333 */
}

BN_TEST(empty_batches_write_nothing) {
    int8_t q = 7;
    float a = 7.0f;
    BN_CHECK_OK(bn_quantize_act_i8(NULL, 0, 2560, &q, 0, &a, 0));
    BN_CHECK_OK(bn_quantize_act_i8(NULL, 3, 0, &q, 0, &a, 0));
    BN_CHECK(q == 7 && a == 7.0f);
}

BN_TEST(bad_input) {
    float x[12] = {0};
    int8_t q[12];
    float a[3];
    x[7] = NAN;
    BN_CHECK_STATUS(bn_quantize_act_i8(x, 3, 4, q, 12, a, 3), BN_ERR_NUMERIC);
    BN_CHECK_MSG(strstr(bn_last_error(), "x[7]") && strstr(bn_last_error(), "row 1, col 3"), "message: %s",
                 bn_last_error());
    x[7] = -INFINITY;
    BN_CHECK_STATUS(bn_quantize_act_i8(x, 3, 4, q, 12, a, 3), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "-infinity") != NULL);
    x[7] = 0.0f;
    BN_CHECK_STATUS(bn_quantize_act_i8(NULL, 3, 4, q, 12, a, 3), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_quantize_act_i8(x, 3, 4, NULL, 12, a, 3), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_quantize_act_i8(x, 3, 4, q, 12, NULL, 3), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_quantize_act_i8(x, -1, 4, q, 12, a, 3), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "negative") != NULL);
    BN_CHECK_STATUS(bn_quantize_act_i8(x, 3, -4, q, 12, a, 3), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_quantize_act_i8(x, 3, 4, q, 11, a, 3), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK(strstr(bn_last_error(), "codes") != NULL);
    BN_CHECK_STATUS(bn_quantize_act_i8(x, 3, 4, q, 12, a, 2), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK(strstr(bn_last_error(), "scales") != NULL);
    BN_CHECK_STATUS(bn_quantize_act_i8(x, INT64_MAX, 4, q, 12, a, 3), BN_ERR_SHAPE);
}
