/* RMSNorm for training (HF BitNetRMSNorm, Zhang & Sennrich 2019), llm.c style forward / backward pair.
 *   forward:  out[n,i] = (x[n,i] * r[n]) * w[i],  r[n] = 1/sqrt(mean_i x[n,i]² + eps)
 *             out through the rmsnorm_f32 kernel, so it equals bn_rmsnorm_f32 bit for bit; rstd (N) = r[n]
 *             (the mean taken in double) is kept for backward.
 *   backward: with g = dout[n] * w (elementwise),
 *             dx[n,i] += r g_i - (r³ / C) x_i sum_j g_j x_j
 *             dw[i]   += sum_n dout[n,i] x[n,i] r[n]
 * dx splits rows over the pool; dw splits columns, each column summing its rows in order, so neither depends
 * on the thread count. Every call adds its finished sum to the gradient once. */
#include <math.h>

#include "core/error.h"
#include "kernels/kernels.h"

static bn_status check_shape(const char* fn, int64_t N, int64_t C) {
    BN_REQUIRE_ARG(N >= 0 && C > 0, "%s: N (%lld) must be >= 0 and C (%lld) > 0", fn, (long long)N, (long long)C);
    return BN_OK;
}

// x (N,C), w (C) -> out (N,C), rstd (N)
bn_status bn_train_rmsnorm_forward(const float* x, const float* w, int64_t N, int64_t C, float eps, float* out,
                                   float* rstd) {
    static const char fn[] = "bn_train_rmsnorm_forward";
    bn_status st = check_shape(fn, N, C);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(x != NULL && w != NULL && out != NULL && rstd != NULL, "%s: x, w, out and rstd must not be null",
                   fn);
    BN_REQUIRE_ARG(eps >= 0.0f, "%s: eps (%g) must be >= 0", fn, (double)eps);
    bn_kernels_init();
    for (int64_t n = 0; n < N; n++) {
        const float* xr = x + n * C;
        double ss = 0.0;
        for (int64_t i = 0; i < C; i++) ss += (double)xr[i] * xr[i];
        rstd[n] = (float)(1.0 / sqrt(ss / (double)C + (double)eps));
        bn_kernels.rmsnorm_f32(xr, w, C, eps, out + n * C);
    }
    return BN_OK;
}

typedef struct rms_bwd_job {
    const float *dout, *x, *w, *rstd;
    int64_t N, C;
    float *dx, *dw;
} rms_bwd_job;

/* sum_i a[i] b[i] c[i] over 8 interleaved float lanes added in a fixed tree (vectorizable, order fixed) */
static float dot3(const float* a, const float* b, const float* c, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k] * c[i + k];
    for (int k = 0; i < n; i++, k++) acc[k] += a[i] * b[i] * c[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* rows [n0, n1) of dx */
static void rms_bwd_rows(void* ctx, int64_t n0, int64_t n1, int32_t worker) {
    (void)worker;
    const rms_bwd_job* j = ctx;
    const int64_t C = j->C;
    for (int64_t n = n0; n < n1; n++) {
        const float *g = j->dout + n * C, *xr = j->x + n * C, *w = j->w;
        float* d = j->dx + n * C;
        const float r = j->rstd[n];
        const float k = r * r * r / (float)C * dot3(g, w, xr, C);
        for (int64_t i = 0; i < C; i++) d[i] += r * (g[i] * w[i]) - k * xr[i];
    }
}

/* columns [c0, c1) of dw, in blocks of 64 kept on the stack */
static void rms_bwd_cols(void* ctx, int64_t c0, int64_t c1, int32_t worker) {
    (void)worker;
    const rms_bwd_job* j = ctx;
    const int64_t C = j->C;
    for (int64_t b0 = c0; b0 < c1; b0 += 64) {
        const int64_t m = c1 - b0 < 64 ? c1 - b0 : 64;
        float acc[64] = {0};
        for (int64_t n = 0; n < j->N; n++) {
            const float *g = j->dout + n * C + b0, *xr = j->x + n * C + b0;
            const float r = j->rstd[n];
            for (int64_t i = 0; i < m; i++) acc[i] += (g[i] * xr[i]) * r;
        }
        for (int64_t i = 0; i < m; i++) j->dw[b0 + i] += acc[i];
    }
}

// dout (N,C), x (N,C), w (C), rstd (N) -> dx (N,C) +=, dw (C) +=
bn_status bn_train_rmsnorm_backward(const float* dout, const float* x, const float* w, const float* rstd, int64_t N,
                                    int64_t C, float* dx, float* dw, bn_threadpool* pool) {
    static const char fn[] = "bn_train_rmsnorm_backward";
    bn_status st = check_shape(fn, N, C);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(dout != NULL && x != NULL && w != NULL && rstd != NULL && dx != NULL && dw != NULL,
                   "%s: dout, x, w, rstd, dx and dw must not be null", fn);
    rms_bwd_job j = {dout, x, w, rstd, N, C, dx, dw};
    st = bn_threadpool_parallel_for(pool, N, 1, rms_bwd_rows, &j);
    if (st != BN_OK) return st;
    return bn_threadpool_parallel_for(pool, C, 64, rms_bwd_cols, &j);
}
