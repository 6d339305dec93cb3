/* Causal grouped-query attention for training over B sequences of T tokens (positions 0..T-1), HF eager
 * attention in float32, the same arithmetic as inference's bn_attention: the attn_* tile kernels
 * (kernels/attention_tile.h) give, bit for bit, the dot_f32 / softmax_f32 / axpy_f32 sequence bn_attention runs,
 * so forward equals bn_attention over a cache holding the same k and v.
 * Layouts: q, dq, out, dout (B,T,H,D); k, v, dk, dv (B,T,Hkv,D); probs (B,H,T,T), row t holding t+1 values.
 * Head h reads kv head h / (H / Hkv) (repeat_kv). With scale = D^-0.5 (rounded to float as HF does):
 *   forward:  s_tp = (q_t . k_p) scale (p <= t);  P_t = softmax(s_t);  out_t = sum_p P_tp v_p
 *   backward: dP_tp = dout_t . v_p;  dS_tp = P_tp (dP_tp - sum_p' P_tp' dP_tp') scale
 *             dq_t += sum_p dS_tp k_p;   dk_p += sum_t dS_tp q_t;   dv_p += sum_t P_tp dout_t
 * Both walk tiles of ATTN_TILE query rows (t0..t0+R-1 of one head) against keys 0..t0+R-1, so each key row is
 * loaded once per tile, not once per query row; the few scores past the diagonal inside a tile are computed and
 * then dropped (forward: overwritten by the softmax row's zeros; backward: dS and P set to 0 there, which adds
 * exact zeros to dk and dv).
 * Forward splits the B*H*(T/ATTN_TILE) tiles over the pool (rows are independent). Backward splits the B*Hkv kv
 * heads: a kv head's query heads are walked by one thread in a fixed order (h, then tile, then key p, then row),
 * so dk and dv need no atomics and no result depends on the thread count. work: 2 ATTN_TILE T floats per thread
 * (a tile's dS and masked P); as bn_attention, do not call it from inside another pool's job. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "kernels/kernels.h"

enum { ATTN_TILE = 16,    /* query rows per tile */
       ATTN_DQ_CHUNK = 64 /* columns of a tile's dq rows summed at a time (a stack buffer) */ };

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
    *out = (pool ? bn_threadpool_size(pool) : 1) * 2 * ATTN_TILE * T;
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

static int64_t n_tiles(int64_t T) { return (T + ATTN_TILE - 1) / ATTN_TILE; }

/* tiles [u0, u1) of B*H*n_tiles(T), u = (b*H + h)*n_tiles + i: query rows t0 = i*ATTN_TILE.. of head h */
static void attn_fwd_tiles(void* ctx, int64_t u0, int64_t u1, int32_t worker) {
    (void)worker;
    const attn_job* j = ctx;
    const int64_t T = j->T, H = j->H, Hkv = j->Hkv, D = j->D, nt = n_tiles(T);
    const int64_t qs = H * D, ks = Hkv * D; /* row strides of q and k */
    for (int64_t u = u0; u < u1; u++) {
        const int64_t i = u % nt, bh = u / nt, h = bh % H, b = bh / H, kvh = h / (H / Hkv);
        const int64_t t0 = i * ATTN_TILE, R = T - t0 < ATTN_TILE ? T - t0 : ATTN_TILE, n = t0 + R;
        const float* K = j->k + (b * T * Hkv + kvh) * D; /* row p at K + p*ks */
        const float* V = j->v + (b * T * Hkv + kvh) * D;
        float* S = j->probs_out + (bh * T + t0) * T; /* row r at S + r*T */
        bn_kernels.attn_scores_f32(j->q + ((b * T + t0) * H + h) * D, qs, R, K, ks, n, D, j->scale, S, T);
        for (int64_t r = 0; r < R; r++) {
            const int64_t m = t0 + r + 1; /* keys 0..t */
            bn_kernels.softmax_f32(S + r * T, m);
            memset(S + r * T + m, 0, (size_t)(T - m) * sizeof *S);
        }
        bn_kernels.attn_wsum_f32(S, T, R, t0 + 1, V, ks, D, j->out + ((b * T + t0) * H + h) * D, qs);
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
    return bn_threadpool_parallel_for(pool, B * H * n_tiles(T), 1, attn_fwd_tiles, &j);
}

/* kv heads [g0, g1) of B*Hkv, g = b*Hkv + kvh, with the query heads that read them */
static void attn_bwd_heads(void* ctx, int64_t g0, int64_t g1, int32_t worker) {
    const attn_job* j = ctx;
    const int64_t T = j->T, H = j->H, Hkv = j->Hkv, D = j->D, group = H / Hkv, nt = n_tiles(T);
    const int64_t qs = H * D, ks = Hkv * D; /* row strides of q and k */
    float* ds = j->work + (int64_t)worker * 2 * ATTN_TILE * T; /* (ATTN_TILE, T): dP, then dS */
    float* pm = ds + ATTN_TILE * T;                             /* (ATTN_TILE, T): P, 0 past the diagonal */
    float dq_rows[ATTN_TILE * ATTN_DQ_CHUNK];
    for (int64_t g = g0; g < g1; g++) {
        const int64_t b = g / Hkv, kvh = g % Hkv;
        const float* K = j->k + (b * T * Hkv + kvh) * D;
        const float* V = j->v + (b * T * Hkv + kvh) * D;
        float* dK = j->dk + (b * T * Hkv + kvh) * D;
        float* dV = j->dv + (b * T * Hkv + kvh) * D;
        for (int64_t h = kvh * group; h < (kvh + 1) * group; h++)
            for (int64_t i = 0; i < nt; i++) {
                const int64_t t0 = i * ATTN_TILE, R = T - t0 < ATTN_TILE ? T - t0 : ATTN_TILE, n = t0 + R;
                const int64_t row0 = (b * T + t0) * qs + h * D; /* row r of q, dq, dout at row0 + r*qs */
                const float* P = j->probs + ((b * H + h) * T + t0) * T;
                const float* dO = j->dout + row0;
                const float* Q = j->q + row0;
                bn_kernels.attn_scores_f32(dO, qs, R, V, ks, n, D, 1.0f, ds, T); /* dP (x 1.0f: exact) */
                for (int64_t r = 0; r < R; r++) {
                    const int64_t m = t0 + r + 1; /* keys 0..t */
                    const float* Pr = P + r * T;
                    float *d = ds + r * T, *pr = pm + r * T;
                    /* dS = P (dP - P.dP) scale; the row sum over 8 fixed lanes (lane p % 8), in blocks of 8 so
                     * that the compiler keeps the lanes in vector registers */
                    float acc[8] = {0};
                    int64_t p = 0;
                    for (; p + 8 <= m; p += 8)
                        for (int l = 0; l < 8; l++) acc[l] += Pr[p + l] * d[p + l];
                    for (; p < m; p++) acc[p & 7] += Pr[p] * d[p];
                    const float pdp =
                        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
                    for (p = 0; p < m; p++) d[p] = Pr[p] * (d[p] - pdp) * j->scale;
                    memcpy(pr, Pr, (size_t)m * sizeof *pr);
                    for (p = m; p < n; p++) d[p] = pr[p] = 0.0f;
                }
                /* dq rows: each tile's sum from 0, then added once (so a second call adds the same value) */
                for (int64_t c = 0; c < D; c += ATTN_DQ_CHUNK) {
                    const int64_t w = D - c < ATTN_DQ_CHUNK ? D - c : ATTN_DQ_CHUNK;
                    bn_kernels.attn_wsum_f32(ds, T, R, t0 + 1, K + c, ks, w, dq_rows, ATTN_DQ_CHUNK);
                    for (int64_t r = 0; r < R; r++)
                        bn_kernels.add_f32(j->dq + row0 + r * qs + c, dq_rows + r * ATTN_DQ_CHUNK, w);
                }
                bn_kernels.attn_outer_f32(ds, T, R, Q, qs, n, D, dK, ks); /* dk_p += sum_r dS_rp q_r */
                bn_kernels.attn_outer_f32(pm, T, R, dO, qs, n, D, dV, ks); /* dv_p += sum_r P_rp dout_r */
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
