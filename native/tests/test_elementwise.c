/* Residual add and the gated activations (kernels/elementwise*.c): vector versions against scalar, scalar
 * against the formulas in double, aliasing, and the activation enum. */
#include <stdlib.h>

#include "forward_variants.h"

static double ref_relu2(double g, double u) { return (g > 0 ? g * g : 0.0) * u; }
static double ref_silu(double g, double u) { return g / (1.0 + exp(-g)) * u; }

BN_TEST(variants_match_scalar_and_double) {
    fv_variant v[4];
    int nv = fv_variants(v);
    bn_kernel_table s = fv_scalar();
    uint64_t rng = 99;
    float *g = malloc(7000 * sizeof *g), *u = malloc(7000 * sizeof *u), *a = malloc(7000 * sizeof *a),
          *b = malloc(7000 * sizeof *b);
    for (int li = 0; li < FV_N_LENGTHS; li++) {
        int64_t n = fv_lengths[li];
        fv_fill(g, n, &rng, -12.0f, 12.0f);
        fv_fill(u, n, &rng, -3.0f, 3.0f);
        if (n > 2) g[1] = -100.0f, g[2] = 100.0f; /* exp far out of range both ways */
        /* relu² */
        s.relu2_mul_f32(g, u, n, a);
        for (int64_t i = 0; i < n; i++)
            FV_CLOSE(a[i], ref_relu2(g[i], u[i]), fmax(1.0, fabs(a[i])), "relu2 scalar i=%lld", (long long)i);
        for (int k = 0; k < nv; k++) {
            v[k].t.relu2_mul_f32(g, u, n, b);
            BN_CHECK_MSG(memcmp(a, b, (size_t)n * sizeof *a) == 0, "%s relu2 n=%lld differs", v[k].name, (long long)n);
        }
        /* SiLU */
        s.silu_mul_f32(g, u, n, a);
        for (int64_t i = 0; i < n; i++)
            FV_CLOSE(a[i], ref_silu(g[i], u[i]), fmax(1.0, fabs(a[i])), "silu scalar i=%lld", (long long)i);
        for (int k = 0; k < nv; k++) {
            v[k].t.silu_mul_f32(g, u, n, b);
            for (int64_t i = 0; i < n; i++)
                if (!FV_CLOSE(b[i], a[i], fmax(1e-3, fabs(a[i])), "%s silu n=%lld i=%lld g=%g: %g vs %g", v[k].name,
                              (long long)n, (long long)i, g[i], b[i], a[i]))
                    break;
        }
        /* add */
        for (int k = 0; k < nv; k++) {
            memcpy(a, g, (size_t)n * sizeof *a);
            memcpy(b, g, (size_t)n * sizeof *b);
            s.add_f32(a, u, n);
            v[k].t.add_f32(b, u, n);
            BN_CHECK_MSG(memcmp(a, b, (size_t)n * sizeof *a) == 0, "%s add n=%lld differs", v[k].name, (long long)n);
        }
    }
    free(g), free(u), free(a), free(b);
}

BN_TEST(public_calls) {
    float g[5] = {-1.0f, 0.0f, 0.5f, 2.0f, -0.25f}, u[5] = {3.0f, 1.0f, 4.0f, -1.0f, 2.0f}, out[5];
    BN_CHECK_OK(bn_gated_act_f32(BN_ACT_RELU2, g, u, 5, out));
    BN_CHECK(out[0] == 0.0f && out[1] == 0.0f && out[2] == 1.0f && out[3] == -4.0f && out[4] == 0.0f);
    BN_CHECK_OK(bn_gated_act_f32(BN_ACT_SILU, g, u, 5, out));
    for (int i = 0; i < 5; i++) BN_CHECK(fabs(out[i] - ref_silu(g[i], u[i])) < 1e-6);
    /* in place over up */
    float u2[5];
    memcpy(u2, u, sizeof u);
    BN_CHECK_OK(bn_gated_act_f32(BN_ACT_SILU, g, u2, 5, u2));
    BN_CHECK(memcmp(u2, out, sizeof out) == 0);
    BN_CHECK_STATUS(bn_gated_act_f32((bn_activation)7, g, u, 5, out), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_OK(bn_add_f32(g, u, 5));
    BN_CHECK(g[0] == 2.0f && g[3] == 1.0f);
    BN_CHECK_STATUS(bn_add_f32(g, NULL, 5), BN_ERR_INVALID_ARGUMENT);
}
