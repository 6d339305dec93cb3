/* The calibrator (quant/calibrate.c) on synthetic data whose right answers are known: exact absmax, a
 * percentile that ignores outliers to within the documented resolution, re-binning that does not depend on the
 * order of batches, and an MSE-optimal clip that beats absmax on heavy tails and matches a brute-force search. */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

static float gaussian(uint64_t* rng) {
    float u1 = bn_test_rand_float(rng, 1e-7f, 1.0f), u2 = bn_test_rand_float(rng, 0.0f, 1.0f);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

static float laplace(uint64_t* rng) {
    float u = bn_test_rand_float(rng, 1e-7f, 1.0f);
    return (bn_test_rand_u64(rng) & 1 ? 1.0f : -1.0f) * -logf(u);
}

/* The real quantize-dequantize MSE of x at `clip`, symmetric with qmax levels a side. */
static double actual_mse(const float* x, int64_t n, double clip, int bits) {
    const double qmax = (double)((1 << (bits - 1)) - 1), step = clip / qmax;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double q = fmax(-qmax, fmin(qmax, nearbyint((double)x[i] / step)));
        s += ((double)x[i] - q * step) * ((double)x[i] - q * step);
    }
    return s / (double)n;
}

static int cmp_float(const void* a, const void* b) {
    float x = *(const float*)a, y = *(const float*)b;
    return (x > y) - (x < y);
}

BN_TEST(absmax_is_exact_across_batches) {
    bn_calibrator* c;
    BN_CHECK_OK(bn_calibrator_create(0, &c));
    const float b1[6] = {0.5f, -1.25f, 0.0f, 0.75f, 1.0f, -0.125f};
    const float b2[4] = {3.0f, -0.1f, 2.0f, 0.0f};
    const float b3[2] = {-7.3f, 1.0f};
    BN_CHECK_OK(bn_calibrator_observe(c, b1, 2, 3));
    BN_CHECK_OK(bn_calibrator_observe(c, b2, 1, 4));
    BN_CHECK_OK(bn_calibrator_observe(c, b3, 2, 1));
    bn_calib_result r;
    BN_CHECK_OK(bn_calibrator_compute(c, BN_CALIB_ABSMAX, 0, 8, &r));
    BN_CHECK(r.clip == 7.3f);
    BN_CHECK(r.step == (float)(7.3f / 127.0));
    BN_CHECK(r.multiplier == (float)(127.0 / 7.3f));
    BN_CHECK_EQ_I64(r.count, 12);
    BN_CHECK_EQ_I64(r.bits, 8);
    BN_CHECK(r.mse > 0.0 && r.mse < r.step * r.step); /* about step^2 / 12 */
    BN_CHECK_OK(bn_calibrator_reset(c));
    BN_CHECK_STATUS(bn_calibrator_compute(c, BN_CALIB_ABSMAX, 0, 8, &r), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_OK(bn_calibrator_destroy(c));
}

BN_TEST(percentile_clips_outliers_within_one_bin) {
    enum { N = 200000 };
    static float x[N], sorted[N];
    uint64_t rng = 11;
    for (int i = 0; i < N; i++) x[i] = bn_test_rand_float(&rng, -1.0f, 1.0f);
    for (int i = 0; i < 20; i++) x[bn_test_rand_u64(&rng) % N] = (i % 2 ? -100.0f : 100.0f); /* 0.01% */
    bn_calibrator* c;
    const int32_t bins = 8192;
    BN_CHECK_OK(bn_calibrator_create(bins, &c));
    BN_CHECK_OK(bn_calibrator_observe(c, x, 100, N / 100));
    for (int i = 0; i < N; i++) sorted[i] = fabsf(x[i]);
    qsort(sorted, N, sizeof *sorted, cmp_float);
    const double ps[3] = {99.9, 99.0, 50.0};
    const double width = 128.0 / bins; /* R = 128, the power of two above 100 */
    for (int k = 0; k < 3; k++) {
        bn_calib_result r;
        BN_CHECK_OK(bn_calibrator_compute(c, BN_CALIB_PERCENTILE, ps[k], 8, &r));
        /* the smallest value with at least p% of |x| at or below it */
        const float truth = sorted[(int64_t)ceil(ps[k] / 100.0 * N) - 1];
        BN_CHECK_MSG(r.clip >= truth && r.clip <= truth + width + 1e-6, "p=%g: clip %g, true %g, bin %g", ps[k],
                     (double)r.clip, (double)truth, width);
    }
    bn_calib_result all;
    BN_CHECK_OK(bn_calibrator_compute(c, BN_CALIB_PERCENTILE, 100.0, 8, &all));
    BN_CHECK(all.clip == 100.0f);
    BN_CHECK_OK(bn_calibrator_destroy(c));
}

BN_TEST(order_of_batches_does_not_matter) {
    /* growing the range merges bins exactly: small-then-large and large-then-small give the same histogram */
    enum { N = 30000 };
    static float small[N], large[N];
    uint64_t rng = 3;
    for (int i = 0; i < N; i++) small[i] = bn_test_rand_float(&rng, -0.3f, 0.3f), large[i] = laplace(&rng) * 20.0f;
    bn_calibrator *a, *b;
    BN_CHECK_OK(bn_calibrator_create(1024, &a));
    BN_CHECK_OK(bn_calibrator_create(1024, &b));
    BN_CHECK_OK(bn_calibrator_observe(a, small, 1, N));
    BN_CHECK_OK(bn_calibrator_observe(a, large, 1, N));
    BN_CHECK_OK(bn_calibrator_observe(b, large, 1, N));
    BN_CHECK_OK(bn_calibrator_observe(b, small, 1, N));
    const bn_calib_method methods[3] = {BN_CALIB_ABSMAX, BN_CALIB_PERCENTILE, BN_CALIB_MSE};
    for (int m = 0; m < 3; m++) {
        bn_calib_result ra, rb;
        BN_CHECK_OK(bn_calibrator_compute(a, methods[m], 60.0, 4, &ra));
        BN_CHECK_OK(bn_calibrator_compute(b, methods[m], 60.0, 4, &rb));
        BN_CHECK_MSG(ra.clip == rb.clip && ra.mse == rb.mse, "method %d: %g/%g vs %g/%g", m, (double)ra.clip, ra.mse,
                     (double)rb.clip, rb.mse);
    }
    BN_CHECK_OK(bn_calibrator_destroy(a));
    BN_CHECK_OK(bn_calibrator_destroy(b));
}

BN_TEST(mse_beats_absmax_on_heavy_tails) {
    enum { N = 100000 };
    static float x[N];
    uint64_t rng = 17;
    for (int i = 0; i < N; i++) x[i] = laplace(&rng);
    x[123] = 40.0f; /* a lone outlier far out in the tail */
    bn_calibrator* c;
    BN_CHECK_OK(bn_calibrator_create(0, &c));
    BN_CHECK_OK(bn_calibrator_observe(c, x, 1, N));
    bn_calib_result mse, amax;
    BN_CHECK_OK(bn_calibrator_compute(c, BN_CALIB_MSE, 0, 4, &mse));
    BN_CHECK_OK(bn_calibrator_compute(c, BN_CALIB_ABSMAX, 0, 4, &amax));
    const double e_mse = actual_mse(x, N, mse.clip, 4), e_amax = actual_mse(x, N, amax.clip, 4);
    printf("4-bit Laplace: absmax clip %g MSE %g; MSE-optimal clip %g MSE %g (estimated %g)\n", (double)amax.clip,
           e_amax, (double)mse.clip, e_mse, mse.mse);
    BN_CHECK(mse.clip < amax.clip / 4.0f);
    BN_CHECK_MSG(e_mse < e_amax / 4.0, "MSE-optimal %g is not well below absmax %g", e_mse, e_amax);
    BN_CHECK_MSG(fabs(mse.mse - e_mse) < 0.05 * e_mse, "estimate %g vs actual %g", mse.mse, e_mse);
    BN_CHECK_OK(bn_calibrator_destroy(c));
}

BN_TEST(mse_matches_brute_force_on_gaussian) {
    enum { N = 50000 };
    static float x[N];
    uint64_t rng = 23;
    for (int i = 0; i < N; i++) x[i] = gaussian(&rng);
    bn_calibrator* c;
    BN_CHECK_OK(bn_calibrator_create(0, &c));
    BN_CHECK_OK(bn_calibrator_observe(c, x, 50, N / 50));
    const int bits_list[2] = {3, 4};
    for (int k = 0; k < 2; k++) {
        const int bits = bits_list[k];
        bn_calib_result r;
        BN_CHECK_OK(bn_calibrator_compute(c, BN_CALIB_MSE, 0, bits, &r));
        double best = INFINITY, best_clip = 0;
        for (int j = 1; j <= 200; j++) { /* clip from 0.025 to 5 standard deviations */
            double clip = 0.025 * j, e = actual_mse(x, N, clip, bits);
            if (e < best) best = e, best_clip = clip;
        }
        const double got = actual_mse(x, N, r.clip, bits);
        printf("%d-bit Gaussian: calibrator clip %g (MSE %g), brute force clip %g (MSE %g)\n", bits, (double)r.clip,
               got, best_clip, best);
        BN_CHECK_MSG(got <= best * 1.01, "%d bits: calibrator MSE %g vs best %g", bits, got, best);
    }
    BN_CHECK_OK(bn_calibrator_destroy(c));
}

BN_TEST(mse_keeps_the_range_of_uniform_data) {
    enum { N = 50000 };
    static float x[N];
    uint64_t rng = 29;
    for (int i = 0; i < N; i++) x[i] = bn_test_rand_float(&rng, -1.0f, 1.0f);
    bn_calibrator* c;
    BN_CHECK_OK(bn_calibrator_create(0, &c));
    BN_CHECK_OK(bn_calibrator_observe(c, x, 1, N));
    bn_calib_result r;
    BN_CHECK_OK(bn_calibrator_compute(c, BN_CALIB_MSE, 0, 8, &r));
    BN_CHECK_MSG(r.clip > 0.97f && r.clip <= 1.0f, "clip %g", (double)r.clip);
    BN_CHECK_OK(bn_calibrator_destroy(c));
}

BN_TEST(only_zeros) {
    bn_calibrator* c;
    BN_CHECK_OK(bn_calibrator_create(64, &c));
    const float z[5] = {0};
    BN_CHECK_OK(bn_calibrator_observe(c, z, 1, 5));
    bn_calib_result r;
    for (int m = 0; m < 3; m++) {
        BN_CHECK_OK(bn_calibrator_compute(c, (bn_calib_method)m, 50.0, 8, &r));
        BN_CHECK(r.clip == 0.0f && r.step == 0.0f && r.multiplier == 0.0f && r.mse == 0.0 && r.count == 5);
    }
    /* zeros first, then real values: the zeros stay counted */
    const float v[3] = {1.0f, 2.0f, 3.0f};
    BN_CHECK_OK(bn_calibrator_observe(c, v, 1, 3));
    BN_CHECK_OK(bn_calibrator_compute(c, BN_CALIB_PERCENTILE, 50.0, 8, &r));
    BN_CHECK(r.clip == 0.0f); /* 5 of 8 values are 0 */
    BN_CHECK_OK(bn_calibrator_compute(c, BN_CALIB_PERCENTILE, 70.0, 8, &r));
    BN_CHECK(r.clip > 1.0f && r.clip <= 1.0f + 4.0f / 64.0f); /* R = 4 */
    BN_CHECK_OK(bn_calibrator_destroy(c));
}

BN_TEST(bad_input) {
    bn_calibrator* c = (bn_calibrator*)1;
    BN_CHECK_STATUS(bn_calibrator_create(100, &c), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(c == NULL);
    BN_CHECK(strstr(bn_last_error(), "power of two") != NULL);
    BN_CHECK_STATUS(bn_calibrator_create(32, &c), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_calibrator_create(1 << 21, &c), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_calibrator_create(64, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_OK(bn_calibrator_create(64, &c));
    bn_calib_result r;
    BN_CHECK_STATUS(bn_calibrator_compute(c, BN_CALIB_ABSMAX, 0, 8, &r), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "nothing has been observed") != NULL);
    const float ok[4] = {1, 2, 3, 4};
    float bad[4] = {1, 2, NAN, 4};
    BN_CHECK_OK(bn_calibrator_observe(c, ok, 2, 2));
    BN_CHECK_STATUS(bn_calibrator_observe(c, bad, 2, 2), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "row 1, col 0") != NULL);
    bad[2] = 1000.0f, bad[3] = INFINITY;
    BN_CHECK_STATUS(bn_calibrator_observe(c, bad, 1, 4), BN_ERR_NUMERIC);
    BN_CHECK_OK(bn_calibrator_compute(c, BN_CALIB_ABSMAX, 0, 8, &r));
    BN_CHECK(r.count == 4 && r.clip == 4.0f); /* the refused batches changed nothing */
    BN_CHECK_STATUS(bn_calibrator_observe(c, NULL, 2, 2), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_calibrator_observe(c, ok, -2, 2), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_calibrator_observe(NULL, ok, 2, 2), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_calibrator_compute(c, BN_CALIB_ABSMAX, 0, 1, &r), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_calibrator_compute(c, BN_CALIB_ABSMAX, 0, 17, &r), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_calibrator_compute(c, BN_CALIB_PERCENTILE, 0.0, 8, &r), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_calibrator_compute(c, BN_CALIB_PERCENTILE, 100.5, 8, &r), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_calibrator_compute(c, BN_CALIB_PERCENTILE, NAN, 8, &r), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_calibrator_compute(c, (bn_calib_method)7, 0, 8, &r), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_calibrator_compute(c, BN_CALIB_MSE, 0, 8, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_calibrator_reset(NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_OK(bn_calibrator_destroy(c));
    BN_CHECK_OK(bn_calibrator_destroy(NULL));
}
