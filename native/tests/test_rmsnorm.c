/* RMSNorm (kernels/rmsnorm*.c): every vector version against the scalar reference, the scalar reference
 * against the formula in double, and the public call (rows, in place, errors). Tolerance: forward_variants.h. */
#include <stdlib.h>

#include "forward_variants.h"

static double ref_rmsnorm(const float* x, const float* w, int64_t n, float eps, int64_t i) {
    double ss = 0;
    for (int64_t k = 0; k < n; k++) ss += (double)x[k] * x[k];
    return (double)x[i] / sqrt(ss / (double)n + eps) * w[i];
}

BN_TEST(variants_match_scalar) {
    fv_variant v[4];
    int nv = fv_variants(v);
    bn_kernel_table s = fv_scalar();
    uint64_t rng = 11;
    float *x = malloc(7000 * sizeof *x), *w = malloc(7000 * sizeof *w), *a = malloc(7000 * sizeof *a),
          *b = malloc(7000 * sizeof *b);
    for (int li = 0; li < FV_N_LENGTHS; li++) {
        int64_t n = fv_lengths[li];
        fv_fill(x, n, &rng, -3.0f, 3.0f);
        fv_fill(w, n, &rng, 0.5f, 1.5f);
        s.rmsnorm_f32(x, w, n, 1e-5f, a);
        for (int64_t i = 0; i < n; i++)
            FV_CLOSE(a[i], ref_rmsnorm(x, w, n, 1e-5f, i), fmax(1.0, fabs(a[i])), "scalar n=%lld i=%lld", (long long)n,
                     (long long)i);
        for (int k = 0; k < nv; k++) {
            v[k].t.rmsnorm_f32(x, w, n, 1e-5f, b);
            for (int64_t i = 0; i < n; i++)
                if (!FV_CLOSE(b[i], a[i], fmax(1.0, fabs(a[i])), "%s n=%lld i=%lld: %g vs %g", v[k].name, (long long)n,
                              (long long)i, b[i], a[i]))
                    break;
        }
    }
    free(x), free(w), free(a), free(b);
}

BN_TEST(eps_matters_for_tiny_rows) {
    /* mean(x²) = 1e-6: eps 1e-5 dominates, so out = x / sqrt(1.1e-5) * w, not x / 1e-3 * w */
    float x[4] = {1e-3f, -1e-3f, 1e-3f, -1e-3f}, w[4] = {1, 1, 1, 2}, out[4];
    BN_CHECK_OK(bn_rmsnorm_f32(x, w, 1, 4, 1e-5f, out));
    BN_CHECK(fabs(out[3] - (-2e-3 / sqrt(1.1e-5))) < 1e-5);
}

BN_TEST(rows_in_place_and_errors) {
    enum { T = 3, C = 37 };
    float x[T * C], w[C], out[T * C];
    uint64_t rng = 5;
    fv_fill(x, T * C, &rng, -2.0f, 2.0f);
    fv_fill(w, C, &rng, -1.0f, 1.0f);
    BN_CHECK_OK(bn_rmsnorm_f32(x, w, T, C, 1e-5f, out));
    for (int t = 0; t < T; t++)
        for (int i = 0; i < C; i++)
            FV_CLOSE(out[t * C + i], ref_rmsnorm(x + t * C, w, C, 1e-5f, i), 1.0, "row %d col %d", t, i);
    BN_CHECK_OK(bn_rmsnorm_f32(x, w, T, C, 1e-5f, x));
    BN_CHECK(memcmp(x, out, sizeof out) == 0);
    BN_CHECK_STATUS(bn_rmsnorm_f32(NULL, w, T, C, 1e-5f, out), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_rmsnorm_f32(x, w, T, 0, 1e-5f, out), BN_ERR_INVALID_ARGUMENT);
}
