/* Training attention (src/train/attention.c), GQA with H = 4, Hkv = 2 over B = 2 sequences:
 * forward equals bn_attention over an F32 cache filled with the same k, v (per sequence) bit for bit, probs rows
 * are softmax rows with zeros past the diagonal; backward (dq, dk, dv) against central finite differences of a
 * double reference; accumulation; the same bits for 1, 2 and 3 threads; errors. */
#include "grad_check.h"

enum { B = 2, T = 5, H = 4, HKV = 2, D = 8 };
enum { NQ = B * T * H * D, NK = B * T * HKV * D, NP = B * H * T * T };

typedef struct attn_ref {
    double *q, *k, *v;
    const float* dout;
} attn_ref;

/* L = sum dout ⊙ attention(q, k, v), causal, head h on kv head h / (H / Hkv) */
static double attn_loss(void* p) {
    const attn_ref* r = p;
    const double scale = 1.0 / sqrt((double)D);
    double l = 0.0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                const int kvh = h / (H / HKV);
                const double* q = r->q + ((b * T + t) * H + h) * D;
                double s[T], m = -INFINITY, z = 0.0;
                for (int p2 = 0; p2 <= t; p2++) {
                    const double* k = r->k + ((b * T + p2) * HKV + kvh) * D;
                    s[p2] = 0.0;
                    for (int i = 0; i < D; i++) s[p2] += q[i] * k[i];
                    s[p2] *= scale;
                    m = fmax(m, s[p2]);
                }
                for (int p2 = 0; p2 <= t; p2++) z += exp(s[p2] - m);
                for (int i = 0; i < D; i++) {
                    double o = 0.0;
                    for (int p2 = 0; p2 <= t; p2++) o += exp(s[p2] - m) / z * r->v[((b * T + p2) * HKV + kvh) * D + i];
                    l += r->dout[((b * T + t) * H + h) * D + i] * o;
                }
            }
    return l;
}

typedef struct attn_bufs {
    float q[NQ], k[NK], v[NK], dout[NQ], out[NQ], probs[NP], dq[NQ], dk[NK], dv[NK];
} attn_bufs;

static void attn_fill(attn_bufs* a, uint64_t seed) {
    uint64_t rng = seed;
    memset(a, 0, sizeof *a);
    gc_fill(a->q, NQ, &rng, -1.5f, 1.5f);
    gc_fill(a->k, NK, &rng, -1.5f, 1.5f);
    gc_fill(a->v, NK, &rng, -1, 1);
    gc_fill(a->dout, NQ, &rng, -1, 1);
}

static void attn_run(attn_bufs* a, bn_threadpool* tp) {
    int64_t wl;
    BN_CHECK_OK(bn_train_attention_work_size(tp, T, &wl));
    float* work = gc_floats(wl);
    BN_CHECK_OK(bn_train_attention_forward(a->q, a->k, a->v, B, T, H, HKV, D, a->probs, a->out, tp));
    BN_CHECK_OK(bn_train_attention_backward(a->dout, a->q, a->k, a->v, a->probs, B, T, H, HKV, D, a->dq, a->dk, a->dv,
                                            work, wl, tp));
    free(work);
}

BN_TEST(forward_equals_inference) {
    static attn_bufs a;
    attn_fill(&a, 1);
    BN_CHECK_OK(bn_train_attention_forward(a.q, a.k, a.v, B, T, H, HKV, D, a.probs, a.out, NULL));
    float kc[HKV * T * D], vc[HKV * T * D], ref[T * H * D], work[T];
    for (int b = 0; b < B; b++) {
        BN_CHECK_OK(bn_kv_cache_append(BN_DTYPE_F32, kc, vc, HKV, T, D, 0, a.k + b * T * HKV * D,
                                       a.v + b * T * HKV * D, T));
        BN_CHECK_OK(bn_attention(BN_DTYPE_F32, a.q + b * T * H * D, T, H, HKV, D, kc, vc, T, 0, ref, work, T, NULL));
        BN_CHECK_MSG(memcmp(a.out + b * T * H * D, ref, sizeof ref) == 0, "sequence %d differs from bn_attention", b);
    }
    for (int r = 0; r < B * H * T; r++) {
        const int t = r % T;
        double s = 0;
        for (int p = 0; p < T; p++) {
            if (p > t) BN_CHECK(a.probs[r * T + p] == 0.0f);
            else BN_CHECK(a.probs[r * T + p] > 0.0f);
            s += a.probs[r * T + p];
        }
        BN_CHECK(fabs(s - 1.0) < 1e-5);
    }
}

BN_TEST(backward_matches_finite_differences) {
    static attn_bufs a;
    static double qd[NQ], kd[NK], vd[NK], fq[NQ], fk[NK], fv[NK];
    attn_fill(&a, 2);
    gc_to_double(a.q, NQ, qd);
    gc_to_double(a.k, NK, kd);
    gc_to_double(a.v, NK, vd);
    attn_ref r = {qd, kd, vd, a.dout};
    gc_fd(attn_loss, &r, qd, NQ, fq);
    gc_fd(attn_loss, &r, kd, NK, fk);
    gc_fd(attn_loss, &r, vd, NK, fv);
    attn_run(&a, NULL);
    GC_CHECK_GRAD(a.dq, fq, NQ, "dq");
    GC_CHECK_GRAD(a.dk, fk, NK, "dk");
    GC_CHECK_GRAD(a.dv, fv, NK, "dv");
}

BN_TEST(backward_accumulates) {
    static attn_bufs a, b;
    attn_fill(&a, 3);
    attn_fill(&b, 3);
    attn_run(&a, NULL);
    attn_run(&b, NULL);
    float work[T];
    BN_CHECK_OK(bn_train_attention_backward(b.dout, b.q, b.k, b.v, b.probs, B, T, H, HKV, D, b.dq, b.dk, b.dv, work, T,
                                            NULL));
    BN_CHECK(gc_doubled(a.dq, b.dq, NQ, 0)); /* dq: each call adds its finished row once */
    BN_CHECK(gc_doubled(a.dk, b.dk, NK, 1e-6));
    BN_CHECK(gc_doubled(a.dv, b.dv, NK, 1e-6));
}

BN_TEST(thread_count_independent) {
    static attn_bufs a[3];
    for (int k = 0; k < 3; k++) {
        bn_threadpool* tp = NULL;
        BN_CHECK_OK(bn_threadpool_create(k + 1, &tp));
        attn_fill(&a[k], 4);
        attn_run(&a[k], tp);
        bn_threadpool_destroy(tp);
    }
    for (int k = 1; k < 3; k++) {
        BN_CHECK_MSG(memcmp(a[0].out, a[k].out, sizeof a[0].out) == 0, "out, %d threads", k + 1);
        BN_CHECK_MSG(memcmp(a[0].probs, a[k].probs, sizeof a[0].probs) == 0, "probs, %d threads", k + 1);
        BN_CHECK_MSG(memcmp(a[0].dq, a[k].dq, sizeof a[0].dq) == 0, "dq, %d threads", k + 1);
        BN_CHECK_MSG(memcmp(a[0].dk, a[k].dk, sizeof a[0].dk) == 0, "dk, %d threads", k + 1);
        BN_CHECK_MSG(memcmp(a[0].dv, a[k].dv, sizeof a[0].dv) == 0, "dv, %d threads", k + 1);
    }
}

BN_TEST(errors) {
    static attn_bufs a;
    float work[T];
    BN_CHECK_STATUS(bn_train_attention_forward(a.q, a.k, a.v, B, T, 3, HKV, D, a.probs, a.out, NULL), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_train_attention_forward(a.q, a.k, a.v, B, T, H, HKV, 0, a.probs, a.out, NULL),
                    BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_attention_forward(a.q, NULL, a.v, B, T, H, HKV, D, a.probs, a.out, NULL),
                    BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_attention_backward(a.dout, a.q, a.k, a.v, a.probs, B, T, H, HKV, D, a.dq, a.dk, a.dv, work,
                                                T - 1, NULL),
                    BN_ERR_BUFFER_TOO_SMALL);
    int64_t wl;
    BN_CHECK_STATUS(bn_train_attention_work_size(NULL, -1, &wl), BN_ERR_INVALID_ARGUMENT);
}
