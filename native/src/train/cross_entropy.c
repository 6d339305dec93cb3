/* Cross-entropy fused with the softmax (llm.c crossentropy_softmax_backward, in one pass per row):
 *   m = max_v z_v;  S = sum_v exp(z_v - m) (in double);  loss = log S + m - z_target
 *   dlogits_v = (exp(z_v - m) / S - [v == target]) * grad_scale        (overwritten, not accumulated)
 * The exponentials and S are the exp_sum_f32 kernel's (kernels/exp_sum.h: vectorized exp). A target of -1 is
 * ignored: loss 0 and a zero gradient row. Rows split over the pool; each row is one thread's work, so the
 * results do not depend on the thread count. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "kernels/kernels.h"

typedef struct ce_job {
    const float* logits;
    const int32_t* targets;
    int64_t V;
    float grad_scale;
    float* losses;
    float* dlogits;
} ce_job;

static void ce_rows(void* ctx, int64_t n0, int64_t n1, int32_t worker) {
    (void)worker;
    const ce_job* j = ctx;
    const int64_t V = j->V;
    for (int64_t n = n0; n < n1; n++) {
        const float* z = j->logits + n * V;
        float* d = j->dlogits ? j->dlogits + n * V : NULL; /* may be z itself */
        const int32_t t = j->targets[n];
        if (t < 0) {
            j->losses[n] = 0.0f;
            if (d) memset(d, 0, (size_t)V * sizeof *d);
            continue;
        }
        float m = z[0];
        for (int64_t v = 1; v < V; v++) m = z[v] > m ? z[v] : m;
        const float zt = z[t]; /* read before d (maybe z) is overwritten */
        const double S = bn_kernels.exp_sum_f32(z, V, m, d);
        if (d) {
            const float k = (float)(1.0 / S) * j->grad_scale;
            for (int64_t v = 0; v < V; v++) d[v] *= k;
            d[t] -= j->grad_scale;
        }
        j->losses[n] = (float)(log(S) + (double)m - (double)zt);
    }
}

// logits (N,V), targets (N) -> losses (N), dlogits (N,V) or NULL
bn_status bn_train_cross_entropy(const float* logits, const int32_t* targets, int64_t N, int64_t V, float grad_scale,
                                 float* losses, float* dlogits, bn_threadpool* pool) {
    static const char fn[] = "bn_train_cross_entropy";
    BN_REQUIRE_ARG(logits != NULL && targets != NULL && losses != NULL, "%s: logits, targets and losses must not be null",
                   fn);
    BN_REQUIRE_ARG(N >= 0 && V > 0, "%s: N (%lld) must be >= 0 and V (%lld) > 0", fn, (long long)N, (long long)V);
    for (int64_t n = 0; n < N; n++)
        BN_REQUIRE_ARG(targets[n] >= -1 && targets[n] < V, "%s: target %d at position %lld is outside -1..%lld", fn,
                       targets[n], (long long)n, (long long)(V - 1));
    bn_kernels_init();
    ce_job j = {logits, targets, V, grad_scale, losses, dlogits};
    return bn_threadpool_parallel_for(pool, N, 1, ce_rows, &j);
}
