/* bn_error_metrics_compute (quant/metrics.c): each metric on values worked out by hand, the edge cases, and
 * bad input. */
#include <math.h>

#include "bn_test.h"

static int near(double a, double b, double tol) { return fabs(a - b) <= tol; }

BN_TEST(known_values) {
    const float ref[4] = {1.0f, -2.0f, 3.0f, 0.0f};
    const float test[4] = {1.5f, -2.0f, 2.0f, 0.0f};
    bn_error_metrics m;
    BN_CHECK_OK(bn_error_metrics_compute(ref, test, 4, &m));
    /* errors 0.5, 0, -1, 0: mse = 1.25 / 4; signal 14, noise 1.25; max 1 at index 2 */
    BN_CHECK(near(m.mse, 1.25 / 4.0, 1e-15));
    BN_CHECK(near(m.sqnr_db, 10.0 * log10(14.0 / 1.25), 1e-12));
    const double dot = 1.5 + 4.0 + 6.0, nr = sqrt(14.0), nt = sqrt(2.25 + 4.0 + 4.0);
    BN_CHECK(near(m.cosine, dot / (nr * nt), 1e-15));
    BN_CHECK(m.max_abs_error == 1.0);
    BN_CHECK_EQ_I64(m.max_abs_index, 2);
}

BN_TEST(edge_cases) {
    const float a[3] = {1.0f, 2.0f, 3.0f}, neg[3] = {-1.0f, -2.0f, -3.0f}, z[3] = {0};
    bn_error_metrics m;
    BN_CHECK_OK(bn_error_metrics_compute(a, a, 3, &m));
    BN_CHECK(m.mse == 0.0 && isinf(m.sqnr_db) && m.sqnr_db > 0 && near(m.cosine, 1.0, 1e-15));
    BN_CHECK_OK(bn_error_metrics_compute(a, neg, 3, &m));
    BN_CHECK(near(m.cosine, -1.0, 1e-15));
    BN_CHECK(m.max_abs_error == 6.0 && m.max_abs_index == 2);
    BN_CHECK_OK(bn_error_metrics_compute(z, a, 3, &m));
    BN_CHECK(isinf(m.sqnr_db) && m.sqnr_db < 0 && m.cosine == 0.0);
    BN_CHECK_OK(bn_error_metrics_compute(z, z, 3, &m));
    BN_CHECK(m.cosine == 1.0 && m.mse == 0.0);
    BN_CHECK_OK(bn_error_metrics_compute(NULL, NULL, 0, &m));
    BN_CHECK(m.mse == 0.0 && m.max_abs_index == 0);
}

BN_TEST(ternary_quantization_error_is_what_theory_says) {
    /* uniform weights in [-1, 1]: mean|w| = 0.5, s = 2, so |w| > 0.25 becomes +-0.5 and the rest 0. Then
     * cosine = E[|w|; |w| > 1/4] / sqrt(E[w^2] * 3/4) = (15/32) / (1/2) = 0.9375, and the error power is
     * int_0^1/4 u^2 du + int_1/4^1 (u - 1/2)^2 du = 1/192 + 9/192 = 5/96, so SQNR = 10 log10((1/3) / (5/96)) =
     * 10 log10(6.4) dB. */
    enum { N = 20000 };
    static float w[N], back[N];
    static int8_t q[N];
    uint64_t rng = 5;
    for (int i = 0; i < N; i++) w[i] = bn_test_rand_float(&rng, -1.0f, 1.0f);
    float s;
    BN_CHECK_OK(bn_quantize_ternary_absmean(w, 1, N, BN_GRANULARITY_TENSOR, 0, q, N, &s, 1));
    for (int i = 0; i < N; i++) back[i] = (float)q[i] / s;
    bn_error_metrics m;
    BN_CHECK_OK(bn_error_metrics_compute(w, back, N, &m));
    BN_CHECK_MSG(near(m.cosine, 0.9375, 0.005), "cosine %g, theory 0.9375", m.cosine);
    BN_CHECK_MSG(near(m.sqnr_db, 10.0 * log10(6.4), 0.1), "SQNR %g dB, theory %g", m.sqnr_db, 10.0 * log10(6.4));
    BN_CHECK_MSG(near(m.mse, 5.0 / 96.0, 0.002), "MSE %g, theory %g", m.mse, 5.0 / 96.0);
    double max_err = 0.0;
    for (int i = 0; i < N; i++) { /* (not fmax: aarch64 gcc 12 -O3 crashes vectorising that reduction) */
        const double e = fabs((double)back[i] - (double)w[i]);
        if (e > max_err) max_err = e;
    }
    BN_CHECK(m.max_abs_error == max_err && max_err > 0.45 && max_err < 0.55);
    BN_CHECK(fabs((double)back[m.max_abs_index] - (double)w[m.max_abs_index]) == max_err);
}

BN_TEST(bad_input) {
    const float a[2] = {1.0f, NAN}, b[2] = {1.0f, 2.0f};
    bn_error_metrics m;
    BN_CHECK_STATUS(bn_error_metrics_compute(a, b, 2, &m), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "ref[1]") != NULL);
    BN_CHECK_STATUS(bn_error_metrics_compute(b, a, 2, &m), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "test[1]") != NULL);
    BN_CHECK_STATUS(bn_error_metrics_compute(b, b, -1, &m), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_error_metrics_compute(NULL, b, 2, &m), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_error_metrics_compute(b, b, 2, NULL), BN_ERR_INVALID_ARGUMENT);
}
