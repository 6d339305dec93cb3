/* Softmax (kernels/softmax*.c): vector versions against scalar, scalar against double, -inf entries, large
 * offsets (the max subtraction), and the public call. */
#include <stdlib.h>

#include "forward_variants.h"

BN_TEST(variants_match_scalar_and_double) {
    fv_variant v[4];
    int nv = fv_variants(v);
    bn_kernel_table s = fv_scalar();
    uint64_t rng = 77;
    float *x = malloc(7000 * sizeof *x), *a = malloc(7000 * sizeof *a), *b = malloc(7000 * sizeof *b);
    for (int li = 0; li < FV_N_LENGTHS; li++) {
        int64_t n = fv_lengths[li];
        fv_fill(x, n, &rng, -30.0f, 30.0f);
        if (n % 2) /* on odd lengths shift the row: exp without the max subtraction would overflow */
            for (int64_t i = 0; i < n; i++) x[i] += 1000.0f;
        double mx = x[0], sum = 0;
        for (int64_t i = 1; i < n; i++)
            if (x[i] > mx) mx = x[i];
        for (int64_t i = 0; i < n; i++) sum += exp((double)x[i] - mx);
        memcpy(a, x, (size_t)n * sizeof *x);
        s.softmax_f32(a, n);
        for (int64_t i = 0; i < n; i++)
            if (!FV_CLOSE(a[i], exp((double)x[i] - mx) / sum, fmax(fabs(a[i]), 1e-30), "scalar n=%lld i=%lld",
                          (long long)n, (long long)i))
                break;
        for (int k = 0; k < nv; k++) {
            memcpy(b, x, (size_t)n * sizeof *x);
            v[k].t.softmax_f32(b, n);
            /* entries below 1e-30 are where the vector exp may flush: absolute check there */
            for (int64_t i = 0; i < n; i++)
                if (!FV_CLOSE(b[i], a[i], fmax(fabs(a[i]), 1e-30), "%s n=%lld i=%lld: %g vs %g", v[k].name,
                              (long long)n, (long long)i, b[i], a[i]))
                    break;
        }
    }
    free(x), free(a), free(b);
}

BN_TEST(minus_infinity_gets_zero) {
    fv_variant v[4];
    int nv = fv_variants(v);
    bn_kernel_table s = fv_scalar();
    for (int k = -1; k < nv; k++) {
        float x[19];
        for (int i = 0; i < 19; i++) x[i] = (i % 3 == 0) ? -INFINITY : (float)i * 0.1f;
        (k < 0 ? s : v[k].t).softmax_f32(x, 19);
        double sum = 0;
        for (int i = 0; i < 19; i++) {
            if (i % 3 == 0) BN_CHECK_MSG(x[i] == 0.0f, "%s: x[%d] = %g", k < 0 ? "scalar" : v[k].name, i, x[i]);
            sum += x[i];
        }
        BN_CHECK(fabs(sum - 1.0) < 1e-5);
    }
}

BN_TEST(rows_and_errors) {
    float x[6] = {1, 2, 3, 0, 0, 0};
    BN_CHECK_OK(bn_softmax_f32(x, 2, 3));
    BN_CHECK(fabsf(x[3] - 1.0f / 3.0f) < 1e-6f);
    BN_CHECK(x[2] > x[1] && x[1] > x[0]);
    BN_CHECK_STATUS(bn_softmax_f32(x, 1, 0), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_softmax_f32(NULL, 1, 3), BN_ERR_INVALID_ARGUMENT);
}
