/* A session on a model: the KV cache, all scratch, and the forward pass of BitNet b1.58 (HF BitNetForCausalLM). */
#include <stdatomic.h>
#include <string.h>

#include "core/carver.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "model/model.h"

#define BN_DEFAULT_BATCH 512

#define TRY(expr)                                                                          \
    do {                                                                                   \
        bn_status bn_try_ = (expr);                                                        \
        if (bn_try_ != BN_OK) return bn_try_;                                              \
    } while (0)

struct bn_context {
    bn_model* model;
    bn_pool* mem;
    bn_threadpool* threads;
    bn_dtype kv_type;
    int64_t n_ctx;     /* positions the cache holds */
    int64_t max_batch; /* tokens per pass (B) */
    int64_t pos;       /* positions filled */
    void* block;       /* the one allocation everything below lives in */
    /* scratch, B = max_batch, C = hidden, F = ffn, KV = kv_dim */
    float* x;     /* (B, C) residual stream */
    float* xn;    /* (B, C) normed input of a block; the final norm */
    float* q;     /* (B, C) queries */
    float* k;     /* (B, KV) */
    float* v;     /* (B, KV) */
    float* att;   /* (B, C) attention output, then its sub-norm */
    float* gate;  /* (B, F) gate, then act(gate) * up, then its sub-norm */
    float* up;    /* (B, F) */
    float* y;     /* (B, C) output of o_proj / down_proj */
    int8_t* qx;   /* (B, max(C, F)) int8 activations */
    float* qa;    /* (B) activation scales */
    int32_t* qsum;/* (B) sums of qx rows */
    int32_t* positions; /* (B) */
    float* attn_work; int64_t attn_work_len;
    float* rope_cos; float* rope_sin; /* (n_ctx, D/2) */
    uint8_t* kv;  /* n_layers x {k, v} x (Hkv, n_ctx, D) of kv_type */
    int64_t kv_layer_bytes; /* bytes of one of k or v for one layer */
};

/* ---- creation: one block carved into 64-byte aligned pieces --------------------------------------------- */


static void layout(bn_context* s, carver* c) {
    const bn_model* m = s->model;
    const size_t B = (size_t)s->max_batch, C = (size_t)m->cfg.hidden_size, F = (size_t)m->cfg.ffn_size;
    const size_t KV = (size_t)m->kv_dim, D = (size_t)m->head_dim, N = (size_t)s->n_ctx;
    const size_t f = sizeof(float);
    s->x = carve(c, B * C * f);
    s->xn = carve(c, B * C * f);
    s->q = carve(c, B * C * f);
    s->k = carve(c, B * KV * f);
    s->v = carve(c, B * KV * f);
    s->att = carve(c, B * C * f);
    s->gate = carve(c, B * F * f);
    s->up = carve(c, B * F * f);
    s->y = carve(c, B * C * f);
    s->qx = carve(c, B * (C > F ? C : F));
    s->qa = carve(c, B * f);
    s->qsum = carve(c, B * sizeof(int32_t));
    s->positions = carve(c, B * sizeof(int32_t));
    s->attn_work = carve(c, (size_t)s->attn_work_len * f);
    s->rope_cos = carve(c, N * (D / 2) * f);
    s->rope_sin = carve(c, N * (D / 2) * f);
    s->kv = carve(c, 2 * (size_t)m->cfg.n_layers * (size_t)s->kv_layer_bytes);
}

bn_status bn_context_create(bn_model* model, int64_t n_ctx, bn_dtype kv_type, int64_t max_batch, bn_pool* mem,
                            bn_threadpool* threads, bn_context** out) {
    static const char fn[] = "bn_context_create";
    BN_REQUIRE_ARG(out != NULL, "%s: out must not be null", fn);
    *out = NULL;
    BN_REQUIRE_ARG(model != NULL, "%s: model must not be null", fn);
    TRY(bn_model_check(model));
    const bn_model_config* cfg = &model->cfg;
    BN_REQUIRE_ARG(kv_type == BN_DTYPE_F32 || kv_type == BN_DTYPE_F16, "%s: kv_type %d is not F32 or F16", fn,
                   (int)kv_type);
    if (n_ctx == 0) n_ctx = cfg->max_positions;
    if (n_ctx < 1 || n_ctx > cfg->max_positions)
        return bn_fail(BN_ERR_SHAPE, "%s: n_ctx (%lld) is outside 1..max_positions (%d)", fn, (long long)n_ctx,
                       cfg->max_positions);
    if (max_batch == 0) max_batch = BN_DEFAULT_BATCH;
    if (max_batch > n_ctx) max_batch = n_ctx;
    if (max_batch < 1) return bn_fail(BN_ERR_SHAPE, "%s: max_batch (%lld) is negative", fn, (long long)max_batch);
    if (!mem) mem = bn_pool_default();

    bn_context tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.model = model, tmp.mem = mem, tmp.threads = threads, tmp.kv_type = kv_type;
    tmp.n_ctx = n_ctx, tmp.max_batch = max_batch;
    TRY(bn_attention_work_size(threads, n_ctx, &tmp.attn_work_len));
    tmp.kv_layer_bytes = cfg->n_kv_heads * n_ctx * model->head_dim * (kv_type == BN_DTYPE_F32 ? 4 : 2);
    carver c = {NULL, 0};
    layout(&tmp, &c);

    bn_context* ctx = NULL;
    TRY(bn_pool_alloc(mem, sizeof *ctx, (void**)&ctx));
    *ctx = tmp;
    bn_status st = bn_pool_alloc(mem, c.off, &ctx->block);
    if (st != BN_OK) {
        bn_pool_free(mem, ctx);
        return st;
    }
    c.base = ctx->block, c.off = 0;
    layout(ctx, &c);
    const int64_t D = model->head_dim;
    st = bn_rope_table_f32(n_ctx, D, cfg->rope_theta, ctx->rope_cos, ctx->rope_sin);
    if (st != BN_OK) {
        bn_pool_free(mem, ctx->block);
        bn_pool_free(mem, ctx);
        return st;
    }
    atomic_fetch_add(&model->n_contexts, 1);
    *out = ctx;
    return BN_OK;
}

bn_status bn_context_destroy(bn_context* ctx) {
    BN_REQUIRE_ARG(ctx != NULL, "bn_context_destroy: ctx must not be null");
    bn_pool* mem = ctx->mem;
    atomic_fetch_sub(&ctx->model->n_contexts, 1);
    bn_status st = bn_pool_free(mem, ctx->block);
    bn_status st2 = bn_pool_free(mem, ctx);
    return st != BN_OK ? st : st2;
}

int64_t bn_context_position(const bn_context* ctx) { return ctx ? ctx->pos : 0; }
int64_t bn_context_size(const bn_context* ctx) { return ctx ? ctx->n_ctx : 0; }
int64_t bn_context_max_batch(const bn_context* ctx) { return ctx ? ctx->max_batch : 0; }

bn_status bn_context_reset(bn_context* ctx) {
    BN_REQUIRE_ARG(ctx != NULL, "bn_context_reset: ctx must not be null");
    ctx->pos = 0;
    return BN_OK;
}

bn_status bn_context_truncate(bn_context* ctx, int64_t pos) {
    BN_REQUIRE_ARG(ctx != NULL, "bn_context_truncate: ctx must not be null");
    BN_REQUIRE_ARG(pos >= 0 && pos <= ctx->pos, "bn_context_truncate: pos (%lld) is outside 0..%lld", (long long)pos,
                   (long long)ctx->pos);
    ctx->pos = pos;
    return BN_OK;
}

/* ---- the forward pass ------------------------------------------------------------------------------------ */

/* HF ActQuant per token: x (T, K) -> ctx->qx (T, K) int8, qa (T), qsum (T). Tokens split over the threads. */
typedef struct quant_job {
    const float* x;
    int64_t K;
    int8_t* q;
    float* a;
    int32_t* sum;
    atomic_int bad;
} quant_job;

static void quant_tokens(void* p, int64_t t0, int64_t t1, int32_t worker) {
    (void)worker;
    quant_job* j = p;
    if (bn_quantize_act_i8(j->x + t0 * j->K, t1 - t0, j->K, j->q + t0 * j->K, (t1 - t0) * j->K, j->a + t0,
                           t1 - t0) != BN_OK) {
        atomic_store(&j->bad, 1);
        return;
    }
    for (int64_t t = t0; t < t1; t++) {
        const int8_t* q = j->q + t * j->K;
        int32_t s = 0;
        for (int64_t k = 0; k < j->K; k++) s += q[k];
        j->sum[t] = s;
    }
}

static bn_status quantize(bn_context* ctx, const float* x, int64_t T, int64_t K) {
    quant_job j = {x, K, ctx->qx, ctx->qa, ctx->qsum, 0};
    if (T == 1) quant_tokens(&j, 0, 1, 0); /* decode: not worth waking the pool */
    else TRY(bn_threadpool_parallel_for(ctx->threads, T, 1, quant_tokens, &j));
    if (atomic_load(&j.bad))
        return bn_fail(BN_ERR_NUMERIC, "bn_context_forward: an activation is NaN or infinite (position %lld..%lld)",
                       (long long)ctx->pos, (long long)(ctx->pos + T - 1));
    return BN_OK;
}

/* y (T, rows) = projection `p` of layer l applied to the activations quantize() left in ctx. */
static bn_status project(bn_context* ctx, const bn_layer_weights* w, bn_proj p, int64_t T, float* y) {
    int64_t rows, cols;
    bn_model_proj_shape(ctx->model, p, &rows, &cols);
    return bn_tmatmul_i8(w->proj_layout[p], w->proj[p], rows, cols, w->proj_scale[p], ctx->qx, ctx->qa, ctx->qsum,
                         T, y, ctx->threads);
}

/* Projections p[0..n) of one layer, all with the input width K, on the activations quantize() left in ctx, as
 * one parallel job (bn_tmatmul_i8_multi): q, k, v after input_layernorm and gate, up after
 * post_attention_layernorm. y[i] (T, rows of p[i]). A job has one layout, so projections stored in different
 * layouts run as one job per layout (every output is the same bits either way). */
static bn_status project_group(bn_context* ctx, const bn_layer_weights* w, const bn_proj* p, int32_t n, int64_t T,
                               float* const* y) {
    const uint8_t* wp[BN_TMATMUL_MULTI_MAX];
    int64_t rows[BN_TMATMUL_MULTI_MAX], cols = 0;
    float scale[BN_TMATMUL_MULTI_MAX];
    float* yp[BN_TMATMUL_MULTI_MAX];
    unsigned taken = 0; /* bit i: p[i] is in a job already */
    for (int32_t i0 = 0; i0 < n; i0++) {
        if (taken & (1u << i0)) continue;
        const bn_tlayout layout = w->proj_layout[p[i0]];
        int32_t g = 0;
        for (int32_t i = i0; i < n; i++) {
            if ((taken & (1u << i)) || w->proj_layout[p[i]] != layout) continue;
            taken |= 1u << i;
            bn_model_proj_shape(ctx->model, p[i], &rows[g], &cols);
            wp[g] = w->proj[p[i]], scale[g] = w->proj_scale[p[i]], yp[g] = y[i];
            g++;
        }
        TRY(bn_tmatmul_i8_multi(layout, g, wp, rows, cols, scale, ctx->qx, ctx->qa, ctx->qsum, T, yp,
                                ctx->threads));
    }
    return BN_OK;
}

/* One sequence's part of a pass: its tokens go to ctx's KV cache at positions p0 .. p0+n-1 and are rows
 * row0 .. row0+n-1 of the pass. */
typedef struct seq_rows {
    bn_context* ctx;
    int64_t n, p0, row0;
} seq_rows;

/* A pass over T rows (T <= s->max_batch) from n_seq sequences, in the scratch of s (whose pool runs the
 * matmuls): the projections, norms and FFN run once over all rows, RoPE, the cache and attention per sequence
 * (each on its own context's cache, table and attention scratch). logits: all rows (mode ALL, at row t_off of
 * the caller's output) or, when last_chunk, each sequence's last row (mode LAST, row i for sequence i).
 * hidden: (L + 1, n_total, C), rows t_off.. (one sequence only). */
static bn_status forward_pass(bn_context* s, const seq_rows* seqs, int32_t n_seq, const int32_t* tokens, int64_t T,
                              float* logits, bn_logits_mode mode, int last_chunk, float* hidden, int64_t n_total,
                              int64_t t_off) {
    const bn_model* m = s->model;
    const bn_model_config* cfg = &m->cfg;
    const int64_t C = cfg->hidden_size, F = cfg->ffn_size, V = cfg->vocab_size, D = m->head_dim;
    const int64_t H = cfg->n_heads, Hkv = cfg->n_kv_heads, L = cfg->n_layers, KV = m->kv_dim;
    const float eps = cfg->rms_eps;
    const void* head = bn_model_head(m);
    const bn_dtype head_type = bn_model_head_type(m);
    bn_threadpool* tp = s->threads;
    float *x = s->x, *xn = s->xn;
    static const bn_proj qkv[3] = {BN_PROJ_Q, BN_PROJ_K, BN_PROJ_V}, gate_up[2] = {BN_PROJ_GATE, BN_PROJ_UP};
    float* const qkv_out[3] = {s->q, s->k, s->v};
    float* const gate_up_out[2] = {s->gate, s->up};

    for (int32_t i = 0; i < n_seq; i++)
        for (int64_t t = 0; t < seqs[i].n; t++) s->positions[seqs[i].row0 + t] = (int32_t)(seqs[i].p0 + t);
    TRY(bn_embedding_lookup(m->embedding_type, m->embedding, V, C, tokens, T, x));
    if (hidden) memcpy(hidden + t_off * C, x, (size_t)(T * C) * sizeof(float));

    for (int64_t l = 0; l < L; l++) {
        const bn_layer_weights* w = &m->layers[l];

        /* attention block: q, k, v from one quantization of input_layernorm(x) */
        TRY(bn_rmsnorm_f32(x, w->norm[BN_NORM_INPUT], T, C, eps, xn));
        TRY(quantize(s, xn, T, C));
        TRY(project_group(s, w, qkv, 3, T, qkv_out));
        for (int32_t i = 0; i < n_seq; i++) {
            bn_context* c = seqs[i].ctx;
            const int64_t r0 = seqs[i].row0, n = seqs[i].n;
            uint8_t* kc = c->kv + (size_t)(2 * l) * (size_t)c->kv_layer_bytes;
            uint8_t* vc = kc + c->kv_layer_bytes;
            TRY(bn_rope_f32_table(s->q + r0 * C, n, H, D, s->positions + r0, c->rope_cos, c->rope_sin, c->n_ctx));
            TRY(bn_rope_f32_table(s->k + r0 * KV, n, Hkv, D, s->positions + r0, c->rope_cos, c->rope_sin, c->n_ctx));
            TRY(bn_kv_cache_append(c->kv_type, kc, vc, Hkv, c->n_ctx, D, seqs[i].p0, s->k + r0 * KV, s->v + r0 * KV,
                                   n));
            TRY(bn_attention(c->kv_type, s->q + r0 * C, n, H, Hkv, D, kc, vc, c->n_ctx, seqs[i].p0, s->att + r0 * C,
                             c->attn_work, c->attn_work_len, c->threads));
        }
        TRY(bn_rmsnorm_f32(s->att, w->norm[BN_NORM_ATTN_SUB], T, C, eps, s->att));
        TRY(quantize(s, s->att, T, C));
        TRY(project(s, w, BN_PROJ_O, T, s->y));
        TRY(bn_add_f32(x, s->y, T * C));

        /* FFN block: gate, up from one quantization of post_attention_layernorm(h) */
        TRY(bn_rmsnorm_f32(x, w->norm[BN_NORM_POST_ATTENTION], T, C, eps, xn));
        TRY(quantize(s, xn, T, C));
        TRY(project_group(s, w, gate_up, 2, T, gate_up_out));
        TRY(bn_gated_act_f32((bn_activation)cfg->activation, s->gate, s->up, T * F, s->gate));
        TRY(bn_rmsnorm_f32(s->gate, w->norm[BN_NORM_FFN_SUB], T, F, eps, s->gate));
        TRY(quantize(s, s->gate, T, F));
        TRY(project(s, w, BN_PROJ_DOWN, T, s->y));
        TRY(bn_add_f32(x, s->y, T * C));

        if (hidden && l + 1 < L) memcpy(hidden + ((l + 1) * n_total + t_off) * C, x, (size_t)(T * C) * sizeof(float));
    }

    /* final norm: every row when all of them are wanted, else only each sequence's last one */
    const int want_last = mode == BN_LOGITS_LAST && last_chunk;
    if (hidden || mode == BN_LOGITS_ALL) {
        TRY(bn_rmsnorm_f32(x, m->final_norm, T, C, eps, xn));
        if (hidden) memcpy(hidden + (L * n_total + t_off) * C, xn, (size_t)(T * C) * sizeof(float));
        if (mode == BN_LOGITS_ALL) TRY(bn_lm_head(head_type, head, V, C, xn, T, logits + t_off * V, tp));
        else if (want_last)
            for (int32_t i = 0; i < n_seq; i++)
                TRY(bn_lm_head(head_type, head, V, C, xn + (seqs[i].row0 + seqs[i].n - 1) * C, 1, logits + i * V, tp));
    } else if (want_last) {
        for (int32_t i = 0; i < n_seq; i++)
            TRY(bn_rmsnorm_f32(x + (seqs[i].row0 + seqs[i].n - 1) * C, m->final_norm, 1, C, eps, xn + i * C));
        TRY(bn_lm_head(head_type, head, V, C, xn, n_seq, logits, tp));
    }
    return BN_OK;
}

/* Rows of logits that mode asks for, given `all` rows in total and `last` last rows; -1 for an unknown mode. */
static int64_t logits_rows(bn_logits_mode mode, int64_t all, int64_t last) {
    switch (mode) {
    case BN_LOGITS_NONE: return 0;
    case BN_LOGITS_ALL: return all;
    case BN_LOGITS_LAST: return last;
    default: return -1;
    }
}

static bn_status check_tokens(const char* fn, const int32_t* tokens, int64_t n, int64_t V, int64_t first) {
    for (int64_t t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= V)
            return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: token %lld (id %d) is outside 0..%lld", fn,
                           (long long)(first + t), tokens[t], (long long)(V - 1));
    return BN_OK;
}

bn_status bn_context_forward(bn_context* ctx, const int32_t* tokens, int64_t n_tokens, float* logits,
                             int64_t logits_len, bn_logits_mode logits_mode, float* hidden_states,
                             int64_t hidden_len) {
    static const char fn[] = "bn_context_forward";
    BN_REQUIRE_ARG(ctx != NULL, "%s: ctx must not be null", fn);
    BN_REQUIRE_ARG(tokens != NULL, "%s: tokens must not be null", fn);
    BN_REQUIRE_ARG(n_tokens >= 1, "%s: n_tokens (%lld) < 1", fn, (long long)n_tokens);
    const bn_model_config* cfg = &ctx->model->cfg;
    if (n_tokens > ctx->n_ctx - ctx->pos)
        return bn_fail(BN_ERR_SHAPE, "%s: context full: %lld positions held + %lld new tokens > n_ctx %lld", fn,
                       (long long)ctx->pos, (long long)n_tokens, (long long)ctx->n_ctx);
    const int64_t V = cfg->vocab_size, C = cfg->hidden_size;
    const int64_t rows = logits_rows(logits_mode, n_tokens, 1);
    if (rows < 0) return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: unknown logits_mode %d", fn, (int)logits_mode);
    if (rows > 0) {
        BN_REQUIRE_ARG(logits != NULL, "%s: logits must not be null", fn);
        if (logits_len < rows * V)
            return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: logits has %lld floats, %lld needed", fn,
                           (long long)logits_len, (long long)(rows * V));
    }
    if (hidden_states) {
        const int64_t need = (int64_t)(cfg->n_layers + 1) * n_tokens * C;
        if (hidden_len < need)
            return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: hidden_states has %lld floats, %lld needed", fn,
                           (long long)hidden_len, (long long)need);
    }
    TRY(check_tokens(fn, tokens, n_tokens, V, 0));

    for (int64_t t0 = 0; t0 < n_tokens; t0 += ctx->max_batch) {
        const int64_t T = n_tokens - t0 < ctx->max_batch ? n_tokens - t0 : ctx->max_batch;
        const seq_rows seq = {ctx, T, ctx->pos + t0, 0};
        TRY(forward_pass(ctx, &seq, 1, tokens + t0, T, logits, logits_mode, t0 + T == n_tokens, hidden_states,
                         n_tokens, t0));
    }
    ctx->pos += n_tokens;
    return BN_OK;
}

bn_status bn_context_forward_batch(bn_context* const* ctxs, int32_t n_seqs, const int32_t* tokens,
                                   const int64_t* n_tokens, float* logits, int64_t logits_len,
                                   bn_logits_mode logits_mode) {
    static const char fn[] = "bn_context_forward_batch";
    enum { MAX_SEQS = 256 };
    BN_REQUIRE_ARG(ctxs != NULL && tokens != NULL && n_tokens != NULL, "%s: ctxs, tokens and n_tokens must not be null",
                   fn);
    BN_REQUIRE_ARG(n_seqs >= 1 && n_seqs <= MAX_SEQS, "%s: n_seqs (%d) is outside 1..%d", fn, (int)n_seqs, MAX_SEQS);
    bn_context* s = ctxs[0];
    BN_REQUIRE_ARG(s != NULL, "%s: ctxs[0] must not be null", fn);
    const bn_model* m = s->model;
    const int64_t V = m->cfg.vocab_size;
    seq_rows seqs[MAX_SEQS];
    int64_t total = 0;
    for (int32_t i = 0; i < n_seqs; i++) {
        bn_context* c = ctxs[i];
        BN_REQUIRE_ARG(c != NULL, "%s: ctxs[%d] must not be null", fn, (int)i);
        BN_REQUIRE_ARG(c->model == m, "%s: ctxs[%d] runs another model than ctxs[0]", fn, (int)i);
        for (int32_t j = 0; j < i; j++)
            BN_REQUIRE_ARG(ctxs[j] != c, "%s: ctxs[%d] and ctxs[%d] are the same context", fn, (int)j, (int)i);
        BN_REQUIRE_ARG(n_tokens[i] >= 1, "%s: n_tokens[%d] (%lld) < 1", fn, (int)i, (long long)n_tokens[i]);
        if (n_tokens[i] > c->n_ctx - c->pos)
            return bn_fail(BN_ERR_SHAPE, "%s: context %d full: %lld positions held + %lld new tokens > n_ctx %lld", fn,
                           (int)i, (long long)c->pos, (long long)n_tokens[i], (long long)c->n_ctx);
        TRY(check_tokens(fn, tokens + total, n_tokens[i], V, total));
        seqs[i] = (seq_rows){c, n_tokens[i], c->pos, total};
        total += n_tokens[i];
    }
    if (total > s->max_batch)
        return bn_fail(BN_ERR_SHAPE, "%s: %lld tokens in all exceed ctxs[0]'s max_batch %lld", fn, (long long)total,
                       (long long)s->max_batch);
    const int64_t rows = logits_rows(logits_mode, total, n_seqs);
    if (rows < 0) return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: unknown logits_mode %d", fn, (int)logits_mode);
    if (rows > 0) {
        BN_REQUIRE_ARG(logits != NULL, "%s: logits must not be null", fn);
        if (logits_len < rows * V)
            return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: logits has %lld floats, %lld needed", fn,
                           (long long)logits_len, (long long)(rows * V));
    }
    TRY(forward_pass(s, seqs, n_seqs, tokens, total, logits, logits_mode, 1, NULL, total, 0));
    for (int32_t i = 0; i < n_seqs; i++) ctxs[i]->pos += n_tokens[i];
    return BN_OK;
}
