/* Training attention (src/train/attention.c), GQA with H = 4, Hkv = 2 over B = 2 sequences:
 * forward equals bn_attention over an F32 cache filled with the same k, v (per sequence) bit for bit, probs rows
 * are softmax rows with zeros past the diagonal; backward (dq, dk, dv) against central finite differences of a
 * double reference; accumulation; the same bits for 1, 2 and 3 threads; errors. At head_dim 64 and 72 over 37
 * tokens (whole and partial tiles and key blocks), under every dispatch: forward equals bn_attention bit for bit
 * and backward matches the double reference's analytic gradient; the attn_* tile kernels equal loops over the
 * dot_f32 / axpy_f32 slots bit for bit. */
#include <string.h>

#include "grad_check.h"
#include "kernels/kernels.h"

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
    int64_t wl;
    BN_CHECK_OK(bn_train_attention_work_size(NULL, T, &wl));
    float* work = gc_floats(wl);
    BN_CHECK_OK(bn_train_attention_backward(b.dout, b.q, b.k, b.v, b.probs, B, T, H, HKV, D, b.dq, b.dk, b.dv, work, wl,
                                            NULL));
    free(work);
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
    int64_t need;
    BN_CHECK_OK(bn_train_attention_work_size(NULL, T, &need));
    float* work = gc_floats(need);
    BN_CHECK_STATUS(bn_train_attention_forward(a.q, a.k, a.v, B, T, 3, HKV, D, a.probs, a.out, NULL), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_train_attention_forward(a.q, a.k, a.v, B, T, H, HKV, 0, a.probs, a.out, NULL),
                    BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_attention_forward(a.q, NULL, a.v, B, T, H, HKV, D, a.probs, a.out, NULL),
                    BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_attention_backward(a.dout, a.q, a.k, a.v, a.probs, B, T, H, HKV, D, a.dq, a.dk, a.dv, work,
                                                need - 1, NULL),
                    BN_ERR_BUFFER_TOO_SMALL);
    free(work);
    int64_t wl;
    BN_CHECK_STATUS(bn_train_attention_work_size(NULL, -1, &wl), BN_ERR_INVALID_ARGUMENT);
}

/* The dispatch masks to run under: scalar, AVX2, everything this CPU has. */
static const uint64_t g_masks[] = {0, BN_CPU_AVX2 | BN_CPU_FMA | BN_CPU_F16C, UINT64_MAX};

BN_TEST(tile_kernels_equal_dot_axpy_under_every_dispatch) {
    static const int64_t Ds[] = {8, 20, 64, 72, 128, 136}, Rs[] = {1, 2, 7, 8}, ns[] = {1, 7, 8, 9, 16, 17, 33};
    enum { MAXR = 8, MAXN = 33, MAXD = 136, QS = MAXD + 3, KS = 2 * MAXD + 1, SS = MAXN + 2 };
    static float q[MAXR * QS], k[MAXN * KS], s[MAXR * SS], want[MAXR * SS], o[MAXR * QS], ow[MAXR * QS];
    static float y[MAXN * KS], yw[MAXN * KS];
    uint64_t rng = 21;
    gc_fill(q, MAXR * QS, &rng, -1, 1);
    gc_fill(k, MAXN * KS, &rng, -1, 1);
    gc_fill(s, MAXR * SS, &rng, -1, 1);
    for (size_t m = 0; m < sizeof g_masks / sizeof g_masks[0]; m++) {
        BN_CHECK_OK(bn_cpu_set_enabled(g_masks[m]));
        int bad_s = 0, bad_w = 0, bad_o = 0;
        for (size_t di = 0; di < sizeof Ds / sizeof Ds[0]; di++)
            for (size_t ri = 0; ri < sizeof Rs / sizeof Rs[0]; ri++)
                for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                    const int64_t D = Ds[di], R = Rs[ri], n = ns[ni];
                    float got[MAXR * SS];
                    bn_kernels.attn_scores_f32(q, QS, R, k, KS, n, D, 0.125f, got, SS);
                    for (int64_t r = 0; r < R; r++)
                        for (int64_t p = 0; p < n; p++)
                            want[r * SS + p] = bn_kernels.dot_f32(q + r * QS, k + p * KS, D) * 0.125f;
                    for (int64_t r = 0; r < R; r++) bad_s |= memcmp(got + r * SS, want + r * SS, (size_t)n * 4) != 0;
                    /* wsum: row r sums n0 + r keys */
                    const int64_t n0 = n - R + 1 > 1 ? n - R + 1 : 1;
                    bn_kernels.attn_wsum_f32(s, SS, R, n0, k, KS, D, o, QS);
                    for (int64_t r = 0; r < R; r++) {
                        memset(ow + r * QS, 0, (size_t)D * sizeof(float));
                        for (int64_t p = 0; p < n0 + r; p++)
                            bn_kernels.axpy_f32(s[r * SS + p], k + p * KS, D, ow + r * QS);
                        bad_w |= memcmp(o + r * QS, ow + r * QS, (size_t)D * 4) != 0;
                    }
                    /* outer: y_p += sum_r s[r][p] q_r on top of what y holds */
                    for (int64_t i = 0; i < n * KS; i++) y[i] = yw[i] = (float)(i % 7) - 3.0f;
                    bn_kernels.attn_outer_f32(s, SS, R, q, QS, n, D, y, KS);
                    for (int64_t p = 0; p < n; p++)
                        for (int64_t r = 0; r < R; r++) bn_kernels.axpy_f32(s[r * SS + p], q + r * QS, D, yw + p * KS);
                    bad_o |= memcmp(y, yw, (size_t)(n * KS) * 4) != 0; /* the gaps between rows untouched too */
                }
        BN_CHECK_MSG(!bad_s, "attn_scores_f32 (%s) differs from dot_f32, mask 0x%llx", bn_kernels.attn_scores_f32_impl,
                     (unsigned long long)g_masks[m]);
        BN_CHECK_MSG(!bad_w, "attn_wsum_f32 (%s) differs from axpy_f32, mask 0x%llx", bn_kernels.attn_wsum_f32_impl,
                     (unsigned long long)g_masks[m]);
        BN_CHECK_MSG(!bad_o, "attn_outer_f32 (%s) differs from axpy_f32, mask 0x%llx", bn_kernels.attn_outer_f32_impl,
                     (unsigned long long)g_masks[m]);
    }
    BN_CHECK_OK(bn_cpu_set_enabled(UINT64_MAX));
}

/* Analytic gradients in double of L = sum dout . attention(q, k, v) for one sequence (b = 1), H = 4, Hkv = 2 */
static void attn_grad_ref(const float* q, const float* k, const float* v, const float* dout, int64_t T, int64_t D,
                          double* dq, double* dk, double* dv) {
    const int64_t H4 = 4, Hk = 2;
    const double scale = 1.0 / sqrt((double)D);
    double* P = gc_doubles(T);
    double* dP = gc_doubles(T);
    for (int64_t h = 0; h < H4; h++)
        for (int64_t t = 0; t < T; t++) {
            const int64_t kvh = h / (H4 / Hk);
            const float *qt = q + (t * H4 + h) * D, *dot = dout + (t * H4 + h) * D;
            double m = -INFINITY, z = 0.0, pdp = 0.0;
            for (int64_t p = 0; p <= t; p++) {
                double a = 0.0;
                for (int64_t i = 0; i < D; i++) a += (double)qt[i] * k[(p * Hk + kvh) * D + i];
                P[p] = a * scale;
                m = fmax(m, P[p]);
            }
            for (int64_t p = 0; p <= t; p++) z += (P[p] = exp(P[p] - m));
            for (int64_t p = 0; p <= t; p++) {
                P[p] /= z;
                dP[p] = 0.0;
                for (int64_t i = 0; i < D; i++) dP[p] += (double)dot[i] * v[(p * Hk + kvh) * D + i];
                pdp += P[p] * dP[p];
            }
            for (int64_t p = 0; p <= t; p++) {
                const double ds = P[p] * (dP[p] - pdp) * scale;
                for (int64_t i = 0; i < D; i++) {
                    dq[(t * H4 + h) * D + i] += ds * k[(p * Hk + kvh) * D + i];
                    dk[(p * Hk + kvh) * D + i] += ds * qt[i];
                    dv[(p * Hk + kvh) * D + i] += P[p] * dot[i];
                }
            }
        }
    free(P), free(dP);
}

BN_TEST(head_dim_64_and_72_under_every_dispatch) {
    enum { TT = 37, HH = 4, HK = 2 };
    static const int64_t Ds[] = {64, 72};
    for (size_t di = 0; di < 2; di++) {
        const int64_t D = Ds[di], nq = TT * HH * D, nk = TT * HK * D;
        float *q = gc_floats(nq), *k = gc_floats(nk), *v = gc_floats(nk), *dout = gc_floats(nq), *out = gc_floats(nq);
        float *probs = gc_floats(HH * TT * TT), *ref = gc_floats(nq), *kc = gc_floats(nk), *vc = gc_floats(nk);
        float *dq = gc_floats(nq), *dk = gc_floats(nk), *dv = gc_floats(nk), *aw = gc_floats(TT);
        double *rq = gc_doubles(nq), *rk = gc_doubles(nk), *rv = gc_doubles(nk);
        uint64_t rng = 30 + di;
        gc_fill(q, nq, &rng, -1, 1);
        gc_fill(k, nk, &rng, -1, 1);
        gc_fill(v, nk, &rng, -1, 1);
        gc_fill(dout, nq, &rng, -1, 1);
        attn_grad_ref(q, k, v, dout, TT, D, rq, rk, rv);
        int64_t wl;
        BN_CHECK_OK(bn_train_attention_work_size(NULL, TT, &wl));
        float* work = gc_floats(wl);
        for (size_t m = 0; m < sizeof g_masks / sizeof g_masks[0]; m++) {
            BN_CHECK_OK(bn_cpu_set_enabled(g_masks[m]));
            BN_CHECK_OK(bn_train_attention_forward(q, k, v, 1, TT, HH, HK, D, probs, out, NULL));
            BN_CHECK_OK(bn_kv_cache_append(BN_DTYPE_F32, kc, vc, HK, TT, D, 0, k, v, TT));
            BN_CHECK_OK(bn_attention(BN_DTYPE_F32, q, TT, HH, HK, D, kc, vc, TT, 0, ref, aw, TT, NULL));
            BN_CHECK_MSG(memcmp(out, ref, (size_t)nq * sizeof(float)) == 0,
                         "D=%lld, mask 0x%llx: forward differs from bn_attention", (long long)D,
                         (unsigned long long)g_masks[m]);
            memset(dq, 0, (size_t)nq * sizeof(float));
            memset(dk, 0, (size_t)nk * sizeof(float));
            memset(dv, 0, (size_t)nk * sizeof(float));
            BN_CHECK_OK(
                bn_train_attention_backward(dout, q, k, v, probs, 1, TT, HH, HK, D, dq, dk, dv, work, wl, NULL));
            const double eq = gc_rel_err(dq, rq, nq), ek = gc_rel_err(dk, rk, nk), ev = gc_rel_err(dv, rv, nk);
            BN_CHECK_MSG(eq < 1e-5 && ek < 1e-5 && ev < 1e-5, "D=%lld, mask 0x%llx: dq %.3g, dk %.3g, dv %.3g",
                         (long long)D, (unsigned long long)g_masks[m], eq, ek, ev);
        }
        BN_CHECK_OK(bn_cpu_set_enabled(UINT64_MAX));
        free(q), free(k), free(v), free(dout), free(out), free(probs), free(ref), free(kc), free(vc), free(dq);
        free(dk), free(dv), free(aw), free(rq), free(rk), free(rv), free(work);
    }
}
