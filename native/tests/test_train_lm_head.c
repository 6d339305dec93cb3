/* Tied LM head for training (src/train/lm_head.c): forward against the double product, backward (dh, dE)
 * against central finite differences of a double reference, accumulation, 1/2/3 threads bit for bit, errors. */
#include "grad_check.h"

enum { N = 6, C = 20, V = 33 };

typedef struct head_ref {
    double *h, *E;
    const float* dlogits;
} head_ref;

/* L = sum dlogits ⊙ (h . Eᵀ) */
static double head_loss(void* p) {
    const head_ref* r = p;
    double l = 0.0;
    for (int n = 0; n < N; n++)
        for (int v = 0; v < V; v++) {
            double s = 0.0;
            for (int c = 0; c < C; c++) s += r->h[n * C + c] * r->E[v * C + c];
            l += r->dlogits[n * V + v] * s;
        }
    return l;
}

BN_TEST(forward_is_h_times_e_transposed) {
    uint64_t rng = 1;
    float h[N * C], E[V * C], logits[N * V];
    gc_fill(h, N * C, &rng, -1, 1);
    gc_fill(E, V * C, &rng, -1, 1);
    BN_CHECK_OK(bn_train_lm_head_forward(h, N, C, E, V, logits, NULL));
    for (int n = 0; n < N; n++)
        for (int v = 0; v < V; v++) {
            double s = 0;
            for (int c = 0; c < C; c++) s += (double)h[n * C + c] * E[v * C + c];
            BN_CHECK(fabs(logits[n * V + v] - s) <= 1e-5 * (1.0 + fabs(s)));
        }
}

BN_TEST(backward_matches_finite_differences) {
    uint64_t rng = 2;
    float h[N * C], E[V * C], dl[N * V], dh[N * C] = {0}, dE[V * C] = {0};
    double hd[N * C], Ed[V * C], fh[N * C], fE[V * C];
    gc_fill(h, N * C, &rng, -1, 1);
    gc_fill(E, V * C, &rng, -1, 1);
    gc_fill(dl, N * V, &rng, -1, 1);
    gc_to_double(h, N * C, hd);
    gc_to_double(E, V * C, Ed);
    head_ref r = {hd, Ed, dl};
    gc_fd(head_loss, &r, hd, N * C, fh);
    gc_fd(head_loss, &r, Ed, V * C, fE);
    BN_CHECK_OK(bn_train_lm_head_backward(dl, h, E, N, C, V, dh, dE, NULL));
    GC_CHECK_GRAD(dh, fh, N * C, "dh");
    GC_CHECK_GRAD(dE, fE, V * C, "dE");
    float dh2[N * C] = {0}, dE2[V * C] = {0};
    BN_CHECK_OK(bn_train_lm_head_backward(dl, h, E, N, C, V, dh2, dE2, NULL));
    BN_CHECK_OK(bn_train_lm_head_backward(dl, h, E, N, C, V, dh2, dE2, NULL));
    BN_CHECK(gc_doubled(dh, dh2, N * C, 1e-6));
    BN_CHECK(gc_doubled(dE, dE2, V * C, 1e-6));
}

BN_TEST(thread_count_independent) {
    enum { N2 = 100, C2 = 300, V2 = 500 };
    uint64_t rng = 3;
    float *h = gc_floats(N2 * C2), *E = gc_floats(V2 * C2), *dl = gc_floats(N2 * V2);
    float *lg[3], *dh[3], *dE[3];
    gc_fill(h, N2 * C2, &rng, -1, 1);
    gc_fill(E, V2 * C2, &rng, -1, 1);
    gc_fill(dl, N2 * V2, &rng, -1, 1);
    for (int k = 0; k < 3; k++) {
        bn_threadpool* tp = NULL;
        BN_CHECK_OK(bn_threadpool_create(k + 1, &tp));
        lg[k] = gc_floats(N2 * V2), dh[k] = gc_floats(N2 * C2), dE[k] = gc_floats(V2 * C2);
        BN_CHECK_OK(bn_train_lm_head_forward(h, N2, C2, E, V2, lg[k], tp));
        BN_CHECK_OK(bn_train_lm_head_backward(dl, h, E, N2, C2, V2, dh[k], dE[k], tp));
        bn_threadpool_destroy(tp);
    }
    for (int k = 1; k < 3; k++) {
        BN_CHECK_MSG(memcmp(lg[0], lg[k], sizeof(float) * N2 * V2) == 0, "logits, %d threads", k + 1);
        BN_CHECK_MSG(memcmp(dh[0], dh[k], sizeof(float) * N2 * C2) == 0, "dh, %d threads", k + 1);
        BN_CHECK_MSG(memcmp(dE[0], dE[k], sizeof(float) * V2 * C2) == 0, "dE, %d threads", k + 1);
    }
    for (int k = 0; k < 3; k++) free(lg[k]), free(dh[k]), free(dE[k]);
    free(h), free(E), free(dl);
}

BN_TEST(errors) {
    float a[16] = {0};
    BN_CHECK_STATUS(bn_train_lm_head_forward(a, 2, 0, a, 2, a, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_lm_head_forward(NULL, 2, 2, a, 2, a, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_lm_head_backward(a, a, a, 2, 2, 2, a, NULL, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_lm_head_backward(a, a, a, 2, 2, -2, a, a, NULL), BN_ERR_INVALID_ARGUMENT);
}
