/* Causal grouped-query attention for training over B sequences of T tokens (positions 0..T-1), HF eager
 * attention in float32, the same arithmetic as inference's bn_attention (dot_f32, softmax_f32 and axpy_f32
 * kernels in the same order), so forward equals bn_attention over a cache holding the same k and v.
 * Layouts: q, dq, out, dout (B,T,H,D); k, v, dk, dv (B,T,Hkv,D); probs (B,H,T,T), row t holding t+1 values.
 * Head h reads kv head h / (H/Hkv) (repeat_kv). With scale = D^-0.5 (rounded to float as HF does):
 *   forward:  s_tp = (q_t . k_p) scale (p <= t);  P_t = softmax(s_t);  out_t = sum_p P_tp v_p
 *   backward: dP_tp = dout_t . v_p;  dS_tp = P_tp (dP_tp - sum_p' P_tp' dP_tp') scale
 *             dq_t += sum_p dS_tp k_p;   dk_p += sum_t dS_tp q_t;   dv_p += sum_t P_tp dout_t
 * Forward splits the B*H*T query rows over the pool. Backward splits the B*Hkv kv heads: a kv head's query
 * heads are walked by one thread in a fixed order (h, then t, then p), so dk and dv need no atomics and no
 * result depends on the thread count. work: T floats per thread (one row of dS); as bn_attention, do not call
 * it from inside another pool's job. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "kernels/kernels.h"

static bn_status check_shape(const char* fn, int64_t B, int64_t T, int64_t H, int64_t Hkv, int64_t D) {
    BN_REQUIRE_ARG(B >= 0 && T >= 0 && H > 0 && Hkv > 0 && D > 0,
                   "%s: B (%lld) and T (%lld) must be >= 0, H (%lld), Hkv (%lld) and D (%lld) > 0", fn, (long long)B,
                   (long long)T, (long long)H, (long long)Hkv, (long long)D);
    if (H % Hkv != 0)
        return bn_fail(BN_ERR_SHAPE, "%s: H (%lld) is not a multiple of Hkv (%lld)", fn, (long long)H,
                       (long long)Hkv);
    if (D > 4096) return bn_fail(BN_ERR_SHAPE, "%s: head_dim (%lld) is over 4096", fn, (long long)D);
    return BN_OK;
}

bn_status bn_train_attention_work_size(const bn_threadpool* pool, int64_t T, int64_t* out) {
    BN_REQUIRE_ARG(out != NULL, "bn_train_attention_work_size: out must not be null");
    BN_REQUIRE_ARG(T >= 0, "bn_train_attention_work_size: T (%lld) is negative", (long long)T);
    *out = (pool ? bn_threadpool_size(pool) : 1) * T;
    return BN_OK;
}

typedef struct attn_job {
    const float *q, *k, *v, *dout, *probs;
    int64_t T, H, Hkv, D;
    float scale;
    float *out, *probs_out, *dq, *dk, *dv, *work;
} attn_job;

/* HF multiplies the float scores by the Python float head_dim**-0.5, which torch rounds to float */
static float attn_scale(int64_t D) { return (float)(1.0 / sqrt((double)D)); }

/* query rows [u0, u1) of B*H*T, u = (b*H + h)*T + t */
static void attn_fwd_rows(void* ctx, int64_t u0, int64_t u1, int32_t worker) {
    (void)worker;
    const attn_job* j = ctx;
    const int64_t T = j->T, H = j->H, Hkv = j->Hkv, D = j->D;
    for (int64_t u = u0; u < u1; u++) {
        const int64_t t = u % T, bh = u / T, h = bh % H, b = bh / H, kvh = h / (H / Hkv);
        const float* qv = j->q + ((b * T + t) * H + h) * D;
        const float* K = j->k + (b * T * Hkv + kvh) * D; /* row p at K + p*Hkv*D */
        const float* V = j->v + (b * T * Hkv + kvh) * D;
        float* s = j->probs_out + u * T;
        float* o = j->out + ((b * T + t) * H + h) * D;
        const int64_t n = t + 1;
        for (int64_t p = 0; p < n; p++) s[p] = bn_kernels.dot_f32(qv, K + p * Hkv * D, D) * j->scale;
        bn_kernels.softmax_f32(s, n);
        memset(s + n, 0, (size_t)(T - n) * sizeof *s);
        memset(o, 0, (size_t)D * sizeof *o);
        for (int64_t p = 0; p < n; p++) bn_kernels.axpy_f32(s[p], V + p * Hkv * D, D, o);
    }
}

// q (B,T,H,D), k, v (B,T,Hkv,D) -> probs (B,H,T,T), out (B,T,H,D)
bn_status bn_train_attention_forward(const float* q, const float* k, const float* v, int64_t B, int64_t T, int64_t H,
                                     int64_t Hkv, int64_t D, float* probs, float* out, bn_threadpool* pool) {
    static const char fn[] = "bn_train_attention_forward";
    bn_status st = check_shape(fn, B, T, H, Hkv, D);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(q != NULL && k != NULL && v != NULL && probs != NULL && out != NULL,
                   "%s: q, k, v, probs and out must not be null", fn);
    bn_kernels_init();
    attn_job j = {q, k, v, NULL, NULL, T, H, Hkv, D, attn_scale(D), out, probs, NULL, NULL, NULL, NULL};
    return bn_threadpool_parallel_for(pool, B * H * T, 1, attn_fwd_rows, &j);
}

/* kv heads [g0, g1) of B*Hkv, g = b*Hkv + kvh, with the query heads that read them */
static void attn_bwd_heads(void* ctx, int64_t g0, int64_t g1, int32_t worker) {
    const attn_job* j = ctx;
    const int64_t T = j->T, H = j->H, Hkv = j->Hkv, D = j->D, group = H / Hkv;
    const int64_t qs = H * D, ks = Hkv * D; /* row strides of q and k */
    float* ds = j->work + (int64_t)worker * T;
    float dq_row[4096];
    for (int64_t g = g0; g < g1; g++) {
        const int64_t b = g / Hkv, kvh = g % Hkv;
        const float* K = j->k + (b * T * Hkv + kvh) * D;
        const float* V = j->v + (b * T * Hkv + kvh) * D;
        float* dK = j->dk + (b * T * Hkv + kvh) * D;
        float* dV = j->dv + (b * T * Hkv + kvh) * D;
        for (int64_t h = kvh * group; h < (kvh + 1) * group; h++)
            for (int64_t t = 0; t < T; t++) {
                const float* P = j->probs + ((b * H + h) * T + t) * T;
                const float* dO = j->dout + (b * T + t) * qs + h * D;
                const float* Q = j->q + (b * T + t) * qs + h * D;
                const int64_t n = t + 1;
                /* dP, then dS = P (dP - P.dP) scale; the row sum over 8 fixed lanes */
                float acc[8] = {0};
                for (int64_t p = 0; p < n; p++) {
                    ds[p] = bn_kernels.dot_f32(dO, V + p * ks, D);
                    acc[p & 7] += P[p] * ds[p];
                }
                const float pdp = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
                for (int64_t p = 0; p < n; p++) ds[p] = P[p] * (ds[p] - pdp) * j->scale;
                memset(dq_row, 0, (size_t)D * sizeof *dq_row);
                for (int64_t p = 0; p < n; p++) {
                    bn_kernels.axpy_f32(ds[p], K + p * ks, D, dq_row);
                    bn_kernels.axpy_f32(ds[p], Q, D, dK + p * ks);
                    bn_kernels.axpy_f32(P[p], dO, D, dV + p * ks);
                }
                bn_kernels.add_f32(j->dq + (b * T + t) * qs + h * D, dq_row, D);
            }
    }
}

// dout (B,T,H,D), q, k, v, probs -> dq (B,T,H,D) +=, dk, dv (B,T,Hkv,D) +=
bn_status bn_train_attention_backward(const float* dout, const float* q, const float* k, const float* v,
                                      const float* probs, int64_t B, int64_t T, int64_t H, int64_t Hkv, int64_t D,
                                      float* dq, float* dk, float* dv, float* work, int64_t work_len,
                                      bn_threadpool* pool) {
    static const char fn[] = "bn_train_attention_backward";
    bn_status st = check_shape(fn, B, T, H, Hkv, D);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(dout != NULL && q != NULL && k != NULL && v != NULL && probs != NULL && dq != NULL && dk != NULL &&
                       dv != NULL && work != NULL,
                   "%s: dout, q, k, v, probs, dq, dk, dv and work must not be null", fn);
    int64_t need;
    st = bn_train_attention_work_size(pool, T, &need);
    if (st != BN_OK) return st;
    if (work_len < need)
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: work has %lld floats, %lld needed", fn, (long long)work_len,
                       (long long)need);
    bn_kernels_init();
    attn_job j = {q, k, v, dout, probs, T, H, Hkv, D, attn_scale(D), NULL, NULL, dq, dk, dv, work};
    return bn_threadpool_parallel_for(pool, B * Hkv, 1, attn_bwd_heads, &j);
}
