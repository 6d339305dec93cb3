/* bn_quantize_ternary_absmean (quant/ternary.c): HF WeightQuant per tensor, per channel and per group. */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

/* HF's WeightQuant.forward on one scale group, transcribed from integrations/bitnet.py in float32 (mean in
 * long double here: an independent route to the correctly rounded mean; see quant/ternary.c):
 *   scale = 1.0 / w.abs().mean().clamp(min=1e-5);  q = (w * scale).round().clamp(-1, 1) */
static float reference_group(const float* w, int64_t n, int8_t* q) {
    long double sum = 0.0L;
    for (int64_t i = 0; i < n; i++) sum += fabsl((long double)w[i]);
    volatile float mean = (float)(sum / (long double)n);
    volatile float scale = 1.0f / (mean < 1e-5f ? 1e-5f : mean);
    for (int64_t i = 0; i < n; i++) {
        volatile float p = w[i] * scale;
        float r = rintf(p);
        q[i] = (int8_t)(r < -1.0f ? -1.0f : r > 1.0f ? 1.0f : r);
    }
    return scale;
}

static void check_granularity(bn_granularity g, int64_t rows, int64_t cols, int64_t group, uint64_t seed) {
    const int64_t n = rows * cols;
    int64_t ns = 0;
    BN_CHECK_OK(bn_quant_scale_count(g, rows, cols, group, &ns));
    const int64_t len = n / ns;
    float* w = malloc((size_t)n * sizeof *w);
    int8_t *want = malloc((size_t)n), *got = malloc((size_t)n);
    float *ws = malloc((size_t)ns * sizeof *ws), *gs = malloc((size_t)ns * sizeof *gs);
    for (int64_t i = 0; i < n; i++) w[i] = bn_test_rand_float(&seed, -0.08f, 0.08f) * (1.0f + (float)(i / len % 3));
    for (int64_t k = 0; k < ns; k++) ws[k] = reference_group(w + k * len, len, want + k * len);
    const uint64_t masks[] = {0, UINT64_MAX};
    for (int m = 0; m < 2; m++) {
        BN_CHECK_OK(bn_cpu_set_enabled(masks[m]));
        BN_CHECK_OK(bn_quantize_ternary_absmean(w, rows, cols, g, group, got, n, gs, ns));
        BN_CHECK_MSG(memcmp(want, got, (size_t)n) == 0, "granularity %d %lldx%lld/%lld mask %d: codes differ", (int)g,
                     (long long)rows, (long long)cols, (long long)group, m);
        BN_CHECK_MSG(memcmp(ws, gs, (size_t)ns * sizeof *gs) == 0, "granularity %d: scales differ", (int)g);
    }
    BN_CHECK_OK(bn_cpu_set_enabled(UINT64_MAX));
    free(w), free(want), free(got), free(ws), free(gs);
}

BN_TEST(per_tensor_channel_group_match_hf) {
    check_granularity(BN_GRANULARITY_TENSOR, 37, 101, 0, 1);
    check_granularity(BN_GRANULARITY_TENSOR, 64, 2560, 0, 2);
    check_granularity(BN_GRANULARITY_CHANNEL, 37, 101, 0, 3);
    check_granularity(BN_GRANULARITY_GROUP, 6, 96, 32, 4);
    check_granularity(BN_GRANULARITY_GROUP, 3, 768, 256, 5);
    check_granularity(BN_GRANULARITY_GROUP, 5, 21, 7, 6);
}

BN_TEST(known_values_and_ties) {
    /* mean|w| = 0.5, s = 2: 0.25 -> 0.5 -> 0 (tie to even), 0.75 -> 1.5 -> 2 -> 1, -0.25 -> 0, 1.0 -> 2 -> 1 */
    const float w[4] = {0.25f, 0.75f, -0.25f, -0.75f};
    int8_t q[4];
    float s;
    BN_CHECK_OK(bn_quantize_ternary_absmean(w, 1, 4, BN_GRANULARITY_TENSOR, 0, q, 4, &s, 1));
    BN_CHECK(s == 2.0f);
    BN_CHECK(q[0] == 0 && q[1] == 1 && q[2] == 0 && q[3] == -1);
    /* all-zero and tiny weights: the 1e-5 floor gives s = 1e5 */
    const float z[3] = {0.0f, 1e-6f, -2e-5f};
    BN_CHECK_OK(bn_quantize_ternary_absmean(z, 1, 3, BN_GRANULARITY_TENSOR, 0, q, 3, &s, 1));
    BN_CHECK(s == 1.0f / 1e-5f);
    BN_CHECK(q[0] == 0 && q[1] == 0 && q[2] == -1);
    /* per channel: each row its own mean */
    const float w2[6] = {1.0f, -1.0f, 1.0f, 0.25f, 0.5f, -0.75f};
    float s2[2];
    int8_t q2[6];
    BN_CHECK_OK(bn_quantize_ternary_absmean(w2, 2, 3, BN_GRANULARITY_CHANNEL, 0, q2, 6, s2, 2));
    BN_CHECK(s2[0] == 1.0f && s2[1] == 2.0f);
    BN_CHECK(q2[0] == 1 && q2[1] == -1 && q2[3] == 0 && q2[4] == 1 && q2[5] == -1); /* 0.25*2 = 0.5 -> 0 */
}

BN_TEST(bad_input) {
    float w[12] = {0};
    int8_t q[12];
    float s[4];
    int64_t n;
    w[5] = NAN;
    BN_CHECK_STATUS(bn_quantize_ternary_absmean(w, 3, 4, BN_GRANULARITY_TENSOR, 0, q, 12, s, 1), BN_ERR_NUMERIC);
    BN_CHECK_MSG(strstr(bn_last_error(), "w[5]") != NULL, "%s", bn_last_error());
    BN_CHECK_STATUS(bn_quantize_ternary_absmean(w, 3, 4, BN_GRANULARITY_GROUP, 2, q, 12, s, 6), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "row 1, col 1") != NULL);
    w[5] = 0.0f;
    BN_CHECK_STATUS(bn_quantize_ternary_absmean(w, 3, 4, BN_GRANULARITY_GROUP, 3, q, 12, s, 4), BN_ERR_SHAPE);
    BN_CHECK_MSG(strstr(bn_last_error(), "cols (4) is not a multiple of group_size (3)") != NULL, "%s",
                 bn_last_error());
    BN_CHECK_STATUS(bn_quantize_ternary_absmean(w, 3, 4, BN_GRANULARITY_GROUP, 0, q, 12, s, 4),
                    BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_quantize_ternary_absmean(w, 3, 4, (bn_granularity)9, 0, q, 12, s, 4), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_quantize_ternary_absmean(w, 3, 4, BN_GRANULARITY_CHANNEL, 0, q, 12, s, 2),
                    BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_quantize_ternary_absmean(w, 3, 4, BN_GRANULARITY_CHANNEL, 0, q, 11, s, 3),
                    BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_quantize_ternary_absmean(NULL, 3, 4, BN_GRANULARITY_CHANNEL, 0, q, 12, s, 3),
                    BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_quantize_ternary_absmean(w, -3, 4, BN_GRANULARITY_CHANNEL, 0, q, 12, s, 3),
                    BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_quant_scale_count(BN_GRANULARITY_GROUP, 2, 64, 16, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_OK(bn_quant_scale_count(BN_GRANULARITY_GROUP, 2, 64, 16, &n));
    BN_CHECK_EQ_I64(n, 8);
    BN_CHECK_OK(bn_quant_scale_count(BN_GRANULARITY_CHANNEL, 2, 64, 0, &n));
    BN_CHECK_EQ_I64(n, 2);
}
