/* Optimizer updates (src/train/optimizer.c) against PyTorch's formulas evaluated in double over 3 steps: AdamW
 * with and without weight decay, SGD plain / momentum / nesterov / weight decay; errors. */
#include "grad_check.h"

enum { N = 37, STEPS = 3 };

/* relative to the parameter scale: float rounding of a few ops per step */
static int close_to(const float* got, const double* want, int n, double tol) {
    for (int i = 0; i < n; i++)
        if (fabs(got[i] - want[i]) > tol * fmax(1.0, fabs(want[i]))) return 0;
    return 1;
}

static void check_adamw(float lr, float b1, float b2, float eps, float wd) {
    uint64_t rng = 1;
    float p[N], m[N] = {0}, v[N] = {0}, g[N];
    double pd[N], md[N] = {0}, vd[N] = {0};
    gc_fill(p, N, &rng, -1, 1);
    gc_to_double(p, N, pd);
    for (int step = 1; step <= STEPS; step++) {
        gc_fill(g, N, &rng, -2, 2);
        BN_CHECK_OK(bn_adamw_update(p, g, m, v, N, lr, b1, b2, eps, wd, step));
        const double bc1 = 1.0 - pow(b1, step), bc2 = 1.0 - pow(b2, step);
        for (int i = 0; i < N; i++) {
            pd[i] *= 1.0 - (double)lr * wd;
            md[i] = b1 * md[i] + (1.0 - b1) * g[i];
            vd[i] = b2 * vd[i] + (1.0 - b2) * (double)g[i] * g[i];
            pd[i] -= (lr / bc1) * md[i] / (sqrt(vd[i]) / sqrt(bc2) + eps);
        }
        BN_CHECK_MSG(close_to(p, pd, N, 1e-5), "adamw params, step %d (wd %g)", step, (double)wd);
        BN_CHECK_MSG(close_to(m, md, N, 1e-5), "adamw m, step %d", step);
        BN_CHECK_MSG(close_to(v, vd, N, 1e-5), "adamw v, step %d", step);
    }
}

BN_TEST(adamw_matches_torch_formula) {
    check_adamw(1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f);
    check_adamw(3e-2f, 0.8f, 0.95f, 1e-6f, 0.1f);
}

static void check_sgd(float lr, float momentum, float wd, int nesterov) {
    uint64_t rng = 2;
    float p[N], buf[N], g[N];
    double pd[N], bd[N];
    gc_fill(p, N, &rng, -1, 1);
    gc_to_double(p, N, pd);
    for (int step = 1; step <= STEPS; step++) {
        gc_fill(g, N, &rng, -2, 2);
        BN_CHECK_OK(bn_sgd_update(p, g, momentum != 0 ? buf : NULL, N, lr, momentum, wd, nesterov, step));
        for (int i = 0; i < N; i++) {
            double d = g[i] + (double)wd * pd[i];
            if (momentum != 0) {
                bd[i] = step == 1 ? d : momentum * bd[i] + d;
                d = nesterov ? d + momentum * bd[i] : bd[i];
            }
            pd[i] -= lr * d;
        }
        BN_CHECK_MSG(close_to(p, pd, N, 1e-6), "sgd params, step %d (momentum %g, wd %g, nesterov %d)", step,
                     (double)momentum, (double)wd, nesterov);
        if (momentum != 0) BN_CHECK_MSG(close_to(buf, bd, N, 1e-6), "sgd buf, step %d", step);
    }
}

BN_TEST(sgd_matches_torch_formula) {
    check_sgd(0.1f, 0.0f, 0.0f, 0);
    check_sgd(0.1f, 0.0f, 0.01f, 0);
    check_sgd(0.05f, 0.9f, 0.0f, 0);
    check_sgd(0.05f, 0.9f, 0.01f, 1);
}

BN_TEST(errors) {
    float p[4] = {0}, g[4] = {0}, m[4] = {0}, v[4] = {0};
    BN_CHECK_STATUS(bn_adamw_update(p, g, m, v, 4, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_adamw_update(p, g, m, v, 4, 1e-3f, 1.0f, 0.999f, 1e-8f, 0.0f, 1), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_adamw_update(p, g, NULL, v, 4, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_sgd_update(p, g, NULL, 4, 0.1f, 0.9f, 0.0f, 0, 1), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_sgd_update(p, g, NULL, 4, 0.1f, 0.0f, 0.0f, 1, 1), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_sgd_update(p, g, NULL, -1, 0.1f, 0.0f, 0.0f, 0, 1), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_sgd_update(p, g, NULL, 4, -0.1f, 0.0f, 0.0f, 0, 1), BN_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 4; i++) BN_CHECK(p[i] == 0.0f);
}
