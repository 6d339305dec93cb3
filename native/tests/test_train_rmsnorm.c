/* Training RMSNorm (src/train/rmsnorm.c): forward equals bn_rmsnorm_f32 bit for bit and rstd the double formula;
 * backward (dx and dw) against central finite differences of a double reference; accumulation; the same bits
 * for 1, 2 and 3 threads; errors. */
#include "grad_check.h"

typedef struct rms_ref {
    double *x, *w;
    const float* dout;
    int64_t N, C;
    double eps;
} rms_ref;

/* L = sum dout ⊙ (x / sqrt(mean(x²) + eps)) w */
static double rms_loss(void* p) {
    const rms_ref* r = p;
    double l = 0.0;
    for (int64_t n = 0; n < r->N; n++) {
        const double* x = r->x + n * r->C;
        double ss = 0.0;
        for (int64_t i = 0; i < r->C; i++) ss += x[i] * x[i];
        const double rs = 1.0 / sqrt(ss / (double)r->C + r->eps);
        for (int64_t i = 0; i < r->C; i++) l += r->dout[n * r->C + i] * x[i] * rs * r->w[i];
    }
    return l;
}

BN_TEST(forward_equals_inference) {
    enum { N = 5, C = 300 };
    uint64_t rng = 1;
    float *x = gc_floats(N * C), w[C], *out = gc_floats(N * C), *ref = gc_floats(N * C), rstd[N];
    gc_fill(x, N * C, &rng, -3, 3);
    gc_fill(w, C, &rng, 0.5f, 1.5f);
    BN_CHECK_OK(bn_train_rmsnorm_forward(x, w, N, C, 1e-5f, out, rstd));
    BN_CHECK_OK(bn_rmsnorm_f32(x, w, N, C, 1e-5f, ref));
    BN_CHECK(memcmp(out, ref, sizeof(float) * N * C) == 0);
    for (int n = 0; n < N; n++) {
        double ss = 0;
        for (int i = 0; i < C; i++) ss += (double)x[n * C + i] * x[n * C + i];
        BN_CHECK(fabs(rstd[n] - 1.0 / sqrt(ss / C + 1e-5f)) <= 1e-6 * rstd[n]);
    }
    free(x), free(out), free(ref);
}

BN_TEST(backward_matches_finite_differences) {
    enum { N = 4, C = 37 };
    uint64_t rng = 2;
    float x[N * C], w[C], dout[N * C], out[N * C], rstd[N], dx[N * C] = {0}, dw[C] = {0};
    double xd[N * C], wd[C], fdx[N * C], fdw[C];
    gc_fill(x, N * C, &rng, -2, 2);
    gc_fill(w, C, &rng, -1.5f, 1.5f);
    gc_fill(dout, N * C, &rng, -1, 1);
    gc_to_double(x, N * C, xd);
    gc_to_double(w, C, wd);
    rms_ref r = {xd, wd, dout, N, C, 1e-5f};
    gc_fd(rms_loss, &r, xd, N * C, fdx);
    gc_fd(rms_loss, &r, wd, C, fdw);
    BN_CHECK_OK(bn_train_rmsnorm_forward(x, w, N, C, 1e-5f, out, rstd));
    BN_CHECK_OK(bn_train_rmsnorm_backward(dout, x, w, rstd, N, C, dx, dw, NULL));
    GC_CHECK_GRAD(dx, fdx, N * C, "dx");
    GC_CHECK_GRAD(dw, fdw, C, "dw");
    /* accumulate: bit for bit, since each call adds its finished sum once */
    float dx2[N * C] = {0}, dw2[C] = {0};
    BN_CHECK_OK(bn_train_rmsnorm_backward(dout, x, w, rstd, N, C, dx2, dw2, NULL));
    BN_CHECK_OK(bn_train_rmsnorm_backward(dout, x, w, rstd, N, C, dx2, dw2, NULL));
    BN_CHECK(gc_doubled(dx, dx2, N * C, 0));
    BN_CHECK(gc_doubled(dw, dw2, C, 0));
}

BN_TEST(thread_count_independent) {
    enum { N = 33, C = 520 };
    uint64_t rng = 3;
    float *x = gc_floats(N * C), w[C], *dout = gc_floats(N * C), *out = gc_floats(N * C), rstd[N];
    float *dx[3], *dw[3];
    gc_fill(x, N * C, &rng, -2, 2);
    gc_fill(w, C, &rng, -1.5f, 1.5f);
    gc_fill(dout, N * C, &rng, -1, 1);
    BN_CHECK_OK(bn_train_rmsnorm_forward(x, w, N, C, 1e-5f, out, rstd));
    for (int k = 0; k < 3; k++) {
        bn_threadpool* tp = NULL;
        BN_CHECK_OK(bn_threadpool_create(k + 1, &tp));
        dx[k] = gc_floats(N * C), dw[k] = gc_floats(C);
        BN_CHECK_OK(bn_train_rmsnorm_backward(dout, x, w, rstd, N, C, dx[k], dw[k], tp));
        bn_threadpool_destroy(tp);
    }
    for (int k = 1; k < 3; k++) {
        BN_CHECK_MSG(memcmp(dx[0], dx[k], sizeof(float) * N * C) == 0, "dx differs with %d threads", k + 1);
        BN_CHECK_MSG(memcmp(dw[0], dw[k], sizeof(float) * C) == 0, "dw differs with %d threads", k + 1);
    }
    for (int k = 0; k < 3; k++) free(dx[k]), free(dw[k]);
    free(x), free(dout), free(out);
}

BN_TEST(errors) {
    float x[8] = {1}, w[4] = {1}, out[8], rstd[2];
    BN_CHECK_STATUS(bn_train_rmsnorm_forward(x, w, 2, 0, 1e-5f, out, rstd), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_rmsnorm_forward(x, w, 2, 4, -1.0f, out, rstd), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_rmsnorm_forward(x, w, 2, 4, 1e-5f, out, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_rmsnorm_backward(x, x, w, rstd, 2, 4, out, NULL, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_rmsnorm_backward(x, x, w, rstd, -1, 4, out, w, NULL), BN_ERR_INVALID_ARGUMENT);
}
