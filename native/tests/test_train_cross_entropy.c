/* Fused softmax cross-entropy (src/train/cross_entropy.c): losses against the double formula, dlogits against
 * central finite differences of grad_scale * sum(losses) (ignored targets included), in place, large logits,
 * 1/2/3 threads bit for bit, targets out of range named; the exp_sum_f32 kernel's vector version against its
 * scalar reference. */
#include "grad_check.h"
#include "kernels/kernels.h"

enum { N = 5, V = 11 };
static const int32_t targets[N] = {3, -1, 0, 10, 3};

typedef struct ce_ref {
    double* z;
    double scale;
} ce_ref;

static double ce_row(const double* z, int t) {
    double m = z[0], s = 0.0;
    for (int v = 1; v < V; v++) m = fmax(m, z[v]);
    for (int v = 0; v < V; v++) s += exp(z[v] - m);
    return log(s) + m - z[t];
}

/* L = scale * sum of the losses of the rows whose target is not -1 */
static double ce_loss(void* p) {
    const ce_ref* r = p;
    double l = 0.0;
    for (int n = 0; n < N; n++)
        if (targets[n] >= 0) l += ce_row(r->z + n * V, targets[n]);
    return r->scale * l;
}

BN_TEST(losses_and_gradient) {
    uint64_t rng = 1;
    float z[N * V], losses[N], dz[N * V];
    double zd[N * V], fd[N * V];
    gc_fill(z, N * V, &rng, -4, 4);
    gc_to_double(z, N * V, zd);
    ce_ref r = {zd, 0.25};
    gc_fd(ce_loss, &r, zd, N * V, fd);
    BN_CHECK_OK(bn_train_cross_entropy(z, targets, N, V, 0.25f, losses, dz, NULL));
    for (int n = 0; n < N; n++) {
        const double want = targets[n] < 0 ? 0.0 : ce_row(zd + n * V, targets[n]);
        BN_CHECK_MSG(fabs(losses[n] - want) <= 1e-6 * fmax(1.0, want), "loss %d: %g vs %g", n, losses[n], want);
    }
    GC_CHECK_GRAD(dz, fd, N * V, "dlogits");
    for (int v = 0; v < V; v++) BN_CHECK(dz[1 * V + v] == 0.0f); /* ignored row */
    /* losses only, then in place (dlogits == logits): the same numbers */
    float l2[N], z2[N * V];
    BN_CHECK_OK(bn_train_cross_entropy(z, targets, N, V, 0.25f, l2, NULL, NULL));
    BN_CHECK(memcmp(l2, losses, sizeof l2) == 0);
    memcpy(z2, z, sizeof z2);
    BN_CHECK_OK(bn_train_cross_entropy(z2, targets, N, V, 0.25f, l2, z2, NULL));
    BN_CHECK(memcmp(l2, losses, sizeof l2) == 0);
    BN_CHECK(memcmp(z2, dz, sizeof z2) == 0);
}

BN_TEST(large_logits_are_stable) {
    float z[V], loss, dz[V];
    const int32_t t = 2;
    for (int v = 0; v < V; v++) z[v] = 1000.0f + (float)v;
    BN_CHECK_OK(bn_train_cross_entropy(z, &t, 1, V, 1.0f, &loss, dz, NULL));
    double zd[V];
    gc_to_double(z, V, zd);
    BN_CHECK(isfinite(loss) && fabs(loss - ce_row(zd, t)) < 1e-4);
    double s = 0;
    for (int v = 0; v < V; v++) s += dz[v];
    BN_CHECK(fabs(s) < 1e-6); /* softmax sums to 1, minus the one-hot */
}

BN_TEST(thread_count_independent) {
    enum { N2 = 37, V2 = 1000 };
    uint64_t rng = 2;
    float *z = gc_floats(N2 * V2), *dz[3], *ls[3];
    int32_t t[N2];
    gc_fill(z, N2 * V2, &rng, -5, 5);
    for (int n = 0; n < N2; n++) t[n] = n % 7 == 0 ? -1 : (int32_t)(bn_test_rand_u64(&rng) % V2);
    for (int k = 0; k < 3; k++) {
        bn_threadpool* tp = NULL;
        BN_CHECK_OK(bn_threadpool_create(k + 1, &tp));
        dz[k] = gc_floats(N2 * V2), ls[k] = gc_floats(N2);
        BN_CHECK_OK(bn_train_cross_entropy(z, t, N2, V2, 1.0f / N2, ls[k], dz[k], tp));
        bn_threadpool_destroy(tp);
    }
    for (int k = 1; k < 3; k++) {
        BN_CHECK_MSG(memcmp(ls[0], ls[k], sizeof(float) * N2) == 0, "losses, %d threads", k + 1);
        BN_CHECK_MSG(memcmp(dz[0], dz[k], sizeof(float) * N2 * V2) == 0, "dlogits, %d threads", k + 1);
    }
    for (int k = 0; k < 3; k++) free(dz[k]), free(ls[k]);
    free(z);
}

BN_TEST(targets_out_of_range_are_named) {
    float z[N * V] = {0}, losses[N] = {0}, dz[N * V];
    int32_t bad[N] = {1, 2, 11, 0, 0};
    BN_CHECK_STATUS(bn_train_cross_entropy(z, bad, N, V, 1.0f, losses, dz, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "target 11 at position 2") != NULL);
    bad[2] = -2;
    BN_CHECK_STATUS(bn_train_cross_entropy(z, bad, N, V, 1.0f, losses, dz, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "target -2 at position 2") != NULL);
    BN_CHECK_STATUS(bn_train_cross_entropy(z, targets, N, 0, 1.0f, losses, dz, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_cross_entropy(z, targets, N, V, 1.0f, NULL, dz, NULL), BN_ERR_INVALID_ARGUMENT);
}

BN_TEST(exp_sum_avx2_matches_scalar) {
#if defined(__x86_64__) || defined(_M_X64)
    const uint64_t avx2 = BN_CPU_AVX2 | BN_CPU_FMA | BN_CPU_F16C;
    if ((bn_cpu_features() & avx2) != avx2) return; /* nothing to compare on this CPU */
    static const int64_t lengths[] = {1, 7, 8, 9, 31, 1023, 1024, 1025, 3001, 128256};
    float *x = gc_floats(128256), *a = gc_floats(128256), *b = gc_floats(128256);
    uint64_t rng = 9;
    gc_fill(x, 128256, &rng, -30, 5);
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        const int64_t n = lengths[li];
        const double sa = bn_exp_sum_f32_scalar(x, n, 5.0f, a), sb = bn_exp_sum_f32_avx2(x, n, 5.0f, b);
        BN_CHECK_MSG(fabs(sa - sb) <= 1e-6 * sa, "n=%lld: sum %.9g vs %.9g", (long long)n, sb, sa);
        BN_CHECK(bn_exp_sum_f32_avx2(x, n, 5.0f, NULL) == sb); /* the sum alone is the same */
        int ok = 1;
        for (int64_t i = 0; i < n; i++) ok &= fabsf(a[i] - b[i]) <= 2.5e-7f * a[i] + 1e-37f;
        BN_CHECK_MSG(ok, "n=%lld: exp values differ by more than 2 ulp", (long long)n);
    }
    free(x), free(a), free(b);
#endif
}
