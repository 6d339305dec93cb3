/* The trainer: a BitNet b1.58 decoder's forward and backward over one micro-batch, its float32 master weights,
 * gradients and optimizer state (llm.c's train_gpt2.c, for the model of bitnet.h "Model forward pass").
 *
 * Memory: one block from the caller's bn_pool, zeroed and carved at creation into
 *   params, grads, m, v   P floats each, the tensors in HF order (bitnet.h "Trainer"), each 64-byte aligned
 *   weff, packed, scales  the prepared (blended) ternary weights and, at blend 1, their I2_S codes
 *   activations           what backward needs, per layer, for (batch, seq_len) tokens
 *   scratch               the normed inputs of the projections, and the gradients flowing back through a layer
 * Nothing is allocated after creation.
 *
 * Forward, per layer (N = B*T tokens, C hidden, F ffn, KV = n_kv_heads * head_dim), exactly as context.c:
 *   xn = rmsnorm(x_in)                      -> q, k, v = bitlinear(xn)  (each call quantizes xn identically)
 *   rope(q), rope(k)                        -> att = attention(q, k, v)
 *   xn = rmsnorm(att)                       -> x_mid = o_proj(xn) + x_in
 *   xn = rmsnorm(x_mid)                     -> gate, up = bitlinear(xn)
 *   hmul = act(gate) * up; xn = rmsnorm(hmul) -> x_out = down_proj(xn) + x_mid
 * then logits = model.norm(x_out) . embed_tokensᵀ and the cross-entropy. Backward runs the same ops in reverse
 * with the ops' backward halves, which accumulate, so residual gradients need no extra buffers.
 *
 * Choices the header leaves open:
 *  - the prepared ternary weights are kept while the params are unchanged (no write to BN_TRAIN_PARAM and no
 *    optimizer step since) and the blend is the same, so micro-batches and evaluations of one step prepare once;
 *  - hidden and ffn need not be multiples of 128 (bitlinear then runs in float at blend 1: no inference twin);
 *  - a micro-batch whose targets are all -1 gives loss 0 and leaves the gradients as they are; evaluate accepts
 *    targets NULL (logits only, loss 0 over 0 targets). */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/carver.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "model/model.h"

#define TRY(expr)                                                                          \
    do {                                                                                   \
        bn_status bn_try_ = (expr);                                                        \
        if (bn_try_ != BN_OK) return bn_try_;                                              \
    } while (0)

/* Tensors of a layer, in the documented HF order. */
enum {
    T_IN_NORM = 0,
    T_Q,
    T_K,
    T_V,
    T_O,
    T_ATTN_SUB_NORM,
    T_POST_NORM,
    T_GATE,
    T_UP,
    T_DOWN,
    T_FFN_SUB_NORM,
    T_PER_LAYER
};
static const char* const k_layer_names[T_PER_LAYER] = {
    "input_layernorm",  "self_attn.q_proj",         "self_attn.k_proj", "self_attn.v_proj",
    "self_attn.o_proj", "self_attn.attn_sub_norm",  "post_attention_layernorm",
    "mlp.gate_proj",    "mlp.up_proj",              "mlp.down_proj",    "mlp.ffn_sub_norm"};

/* Elements per optimizer chunk: the update is elementwise, so slicing a tensor changes no bit. */
#define BN_OPT_CHUNK 32768
/* Elements per partial sum of the gradient norm: a fixed split, so the sum does not depend on the threads. */
#define BN_NORM_BLOCK 65536

typedef struct tensor {
    char name[64];
    int64_t rows, cols, n;
    int64_t off;        /* floats into params / grads / m / v */
    int32_t ternary;
    float decay;        /* weight-decay multiplier */
    int64_t weff_off;   /* ternary: floats into weff */
    int64_t packed_off; /* ternary: bytes into packed */
    int32_t tern_index; /* ternary: index into w_scale */
} tensor;

/* What backward needs of one layer (all (N, ·) for the largest N = batch * seq_len). */
typedef struct layer_acts {
    float* x_in;      /* (N,C) the layer's input (residual stream) */
    float* rstd_in;   /* (N) */
    float* xq_in;     /* (N,C) blended quantization of input_layernorm(x_in): the input of q, k, v */
    float* q;         /* (N,C) after RoPE */
    float* k;         /* (N,KV) after RoPE */
    float* v;         /* (N,KV) */
    float* probs;     /* (B,H,T,T) */
    float* att;       /* (N,C) attention output */
    float* rstd_att;  /* (N) */
    float* xq_att;    /* (N,C) the input of o_proj */
    float* x_mid;     /* (N,C) x_in + o_proj(...) */
    float* rstd_post; /* (N) */
    float* xq_post;   /* (N,C) the input of gate, up */
    float* gate;      /* (N,F) */
    float* up;        /* (N,F) */
    float* hmul;      /* (N,F) act(gate) * up */
    float* rstd_ffn;  /* (N) */
    float* xq_ffn;    /* (N,F) the input of down_proj */
} layer_acts;

struct bn_trainer {
    bn_model_config cfg;
    int64_t C, F, V, D, KV, H, Hkv, L;
    int64_t batch, seq_len;
    bn_pool* mem;
    bn_threadpool* threads;
    void* block;

    int32_t n_tensors;
    tensor* tensors;
    int32_t n_ternary;
    int32_t* ternary; /* tensor index of each ternary tensor */
    int64_t n_params; /* floats in each of params, grads, m, v (padding included) */
    int64_t weff_len, packed_len; /* floats of weff, bytes of packed */
    float *params, *grads, *m, *v;

    /* prepared ternary weights: valid for (param_version, blend) */
    float* weff;
    uint8_t* packed;
    float* w_scale;
    int64_t param_version, prepared_version;
    float prepared_blend;

    /* optimizer chunks: (tensor, begin) pairs */
    int64_t n_chunks;
    int32_t* chunk_tensor;
    int64_t* chunk_begin;

    /* activations */
    layer_acts* layers;
    float* x_out;    /* (N,C) the last layer's output */
    float* rstd_f;   /* (N) */
    float* xn_f;     /* (N,C) model.norm(x_out): the LM head's input */
    float* logits;   /* (N,V) logits, then dlogits */
    float* losses;   /* (N) */
    int32_t* pos;    /* (N) position of each token in its sequence */
    float *rope_cos, *rope_sin; /* (seq_len, D/2) */

    /* scratch */
    float* xn;       /* (N, max(C,F)) a normed projection input */
    void* bl_work; int64_t bl_work_len;
    float* attn_work; int64_t attn_work_len;
    float* dres;     /* (N,C) gradient of the residual stream */
    float* dxn;      /* (N,C) gradient of a normed projection input (q,k,v / gate,up share one) */
    float* datt;     /* (N,C) gradient of the attention output */
    float* dq;       /* (N,C) */
    float* dk;       /* (N,KV) */
    float* dv;       /* (N,KV) */
    float* df1;      /* (N,F) gradient of down_proj's input, then of gate */
    float* df2;      /* (N,F) gradient of hmul */
    float* df3;      /* (N,F) gradient of up */
    double* norm_partial; /* one per BN_NORM_BLOCK of grads */
    int64_t n_norm_blocks;
};

/* ---- creation ---------------------------------------------------------------------------------------------- */


static bn_status check_config(const bn_model_config* c, int64_t batch, int64_t seq_len) {
    static const char fn[] = "bn_trainer_create";
    if (c->vocab_size < 1) return bn_fail(BN_ERR_SHAPE, "%s: vocab_size (%lld) < 1", fn, (long long)c->vocab_size);
    if (c->vocab_size > (1 << 24))
        return bn_fail(BN_ERR_SHAPE, "%s: vocab_size (%lld) above 2^24", fn, (long long)c->vocab_size);
    if (c->hidden_size < 1 || c->ffn_size < 1 || c->hidden_size > (1 << 16) || c->ffn_size > (1 << 18))
        return bn_fail(BN_ERR_SHAPE, "%s: hidden_size (%lld) or ffn_size (%lld) outside 1..2^16 / 1..2^18", fn,
                       (long long)c->hidden_size, (long long)c->ffn_size);
    if (c->n_layers < 1 || c->n_layers > 1024)
        return bn_fail(BN_ERR_SHAPE, "%s: n_layers (%d) outside 1..1024", fn, c->n_layers);
    TRY(bn_model_config_check_heads(c, fn));
    if (batch < 1) return bn_fail(BN_ERR_SHAPE, "%s: batch (%lld) < 1", fn, (long long)batch);
    if (seq_len < 1 || seq_len > c->max_positions)
        return bn_fail(BN_ERR_SHAPE, "%s: seq_len (%lld) is outside 1..max_positions (%d)", fn, (long long)seq_len,
                       c->max_positions);
    if (batch > (1 << 20) || batch * seq_len > (1 << 24))
        return bn_fail(BN_ERR_SHAPE, "%s: batch * seq_len (%lld * %lld) above 2^24 tokens", fn, (long long)batch,
                       (long long)seq_len);
    return BN_OK;
}

/* Names, shapes and offsets of every tensor into t (NULL: only count): sets n_tensors, n_ternary, n_params and
 * the lengths of weff and packed. Offsets are rounded up to 64 bytes. */
static void describe_tensors(bn_trainer* s, tensor* t) {
    const int64_t C = s->C, F = s->F, KV = s->KV;
    int32_t i = 0, tern = 0;
    int64_t off = 0, weff_off = 0, packed_off = 0;
    tensor scratch;
    for (int64_t k = -1; k <= s->L * T_PER_LAYER; k++) { /* -1: embed_tokens, L * T_PER_LAYER: model.norm */
        tensor* x = t ? &t[i] : &scratch;
        int64_t r = 1, c = C;
        int is_tern = 0;
        if (k < 0) {
            snprintf(x->name, sizeof x->name, "model.embed_tokens.weight");
            r = s->V;
        } else if (k == s->L * T_PER_LAYER) {
            snprintf(x->name, sizeof x->name, "model.norm.weight");
        } else {
            const int kind = (int)(k % T_PER_LAYER);
            is_tern = 1;
            switch (kind) {
            case T_IN_NORM: case T_ATTN_SUB_NORM: case T_POST_NORM: is_tern = 0; break;
            case T_FFN_SUB_NORM: is_tern = 0, c = F; break;
            case T_Q: case T_O: r = C; break;
            case T_K: case T_V: r = KV; break;
            case T_GATE: case T_UP: r = F; break;
            default: r = C, c = F; break; /* T_DOWN */
            }
            snprintf(x->name, sizeof x->name, "model.layers.%lld.%s.weight", (long long)(k / T_PER_LAYER),
                     k_layer_names[kind]);
        }
        x->rows = r, x->cols = c, x->n = r * c;
        x->off = off, off += (x->n + 15) & ~(int64_t)15;
        x->ternary = is_tern, x->decay = 1.0f;
        x->weff_off = x->packed_off = 0, x->tern_index = -1;
        if (is_tern) {
            x->weff_off = weff_off, weff_off += (x->n + 15) & ~(int64_t)15;
            x->packed_off = packed_off, packed_off += ((x->n + 3) / 4 + 63) & ~(int64_t)63;
            x->tern_index = tern++;
        }
        i++;
    }
    s->n_tensors = i, s->n_ternary = tern, s->n_params = off;
    s->weff_len = weff_off, s->packed_len = packed_off;
}

static void layout(bn_trainer* s, carver* c) {
    const size_t N = (size_t)(s->batch * s->seq_len), C = (size_t)s->C, F = (size_t)s->F, KV = (size_t)s->KV;
    const size_t f = sizeof(float), MX = C > F ? C : F;
    const size_t nt = (size_t)s->n_tensors;
    s->tensors = carve(c, nt * sizeof(tensor));
    s->ternary = carve(c, (size_t)s->n_ternary * sizeof(int32_t));
    s->params = carve(c, (size_t)s->n_params * f);
    s->grads = carve(c, (size_t)s->n_params * f);
    s->m = carve(c, (size_t)s->n_params * f);
    s->v = carve(c, (size_t)s->n_params * f);
    s->w_scale = carve(c, (size_t)s->n_ternary * f);
    s->chunk_tensor = carve(c, (size_t)s->n_chunks * sizeof(int32_t));
    s->chunk_begin = carve(c, (size_t)s->n_chunks * sizeof(int64_t));
    s->norm_partial = carve(c, (size_t)s->n_norm_blocks * sizeof(double));
    s->layers = carve(c, (size_t)s->L * sizeof(layer_acts));
    s->weff = carve(c, (size_t)s->weff_len * f);
    s->packed = carve(c, (size_t)s->packed_len);
    for (int64_t l = 0; l < s->L; l++) {
        layer_acts a;
        a.x_in = carve(c, N * C * f);
        a.rstd_in = carve(c, N * f);
        a.xq_in = carve(c, N * C * f);
        a.q = carve(c, N * C * f);
        a.k = carve(c, N * KV * f);
        a.v = carve(c, N * KV * f);
        a.probs = carve(c, N * (size_t)s->H * (size_t)s->seq_len * f);
        a.att = carve(c, N * C * f);
        a.rstd_att = carve(c, N * f);
        a.xq_att = carve(c, N * C * f);
        a.x_mid = carve(c, N * C * f);
        a.rstd_post = carve(c, N * f);
        a.xq_post = carve(c, N * C * f);
        a.gate = carve(c, N * F * f);
        a.up = carve(c, N * F * f);
        a.hmul = carve(c, N * F * f);
        a.rstd_ffn = carve(c, N * f);
        a.xq_ffn = carve(c, N * F * f);
        if (c->base) s->layers[l] = a;
    }
    s->x_out = carve(c, N * C * f);
    s->rstd_f = carve(c, N * f);
    s->xn_f = carve(c, N * C * f);
    s->logits = carve(c, N * (size_t)s->V * f);
    s->losses = carve(c, N * f);
    s->pos = carve(c, N * sizeof(int32_t));
    s->rope_cos = carve(c, (size_t)s->seq_len * (size_t)(s->D / 2) * f);
    s->rope_sin = carve(c, (size_t)s->seq_len * (size_t)(s->D / 2) * f);
    s->xn = carve(c, N * MX * f);
    s->bl_work = carve(c, (size_t)s->bl_work_len);
    s->attn_work = carve(c, (size_t)s->attn_work_len * f);
    s->dres = carve(c, N * C * f);
    s->dxn = carve(c, N * C * f);
    s->datt = carve(c, N * C * f);
    s->dq = carve(c, N * C * f);
    s->dk = carve(c, N * KV * f);
    s->dv = carve(c, N * KV * f);
    s->df1 = carve(c, N * F * f);
    s->df2 = carve(c, N * F * f);
    s->df3 = carve(c, N * F * f);
}

bn_status bn_trainer_create(const bn_model_config* config, int64_t batch, int64_t seq_len, bn_pool* mem,
                            bn_threadpool* threads, bn_trainer** out) {
    static const char fn[] = "bn_trainer_create";
    BN_REQUIRE_ARG(out != NULL, "%s: out must not be null", fn);
    *out = NULL;
    BN_REQUIRE_ARG(config != NULL, "%s: config must not be null", fn);
    TRY(check_config(config, batch, seq_len));
    if (!mem) mem = bn_pool_default();
    bn_kernels_init(); /* here, once, before prepare() calls kernels from pool threads */

    bn_trainer tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.cfg = *config;
    tmp.C = config->hidden_size, tmp.F = config->ffn_size, tmp.V = config->vocab_size, tmp.L = config->n_layers;
    tmp.H = config->n_heads, tmp.Hkv = config->n_kv_heads, tmp.D = tmp.C / tmp.H, tmp.KV = tmp.Hkv * tmp.D;
    tmp.batch = batch, tmp.seq_len = seq_len, tmp.mem = mem, tmp.threads = threads;
    describe_tensors(&tmp, NULL); /* counts and lengths; the table itself is written into the block below */
    const int64_t N = batch * seq_len;
    TRY(bn_train_bitlinear_work_size(N, tmp.C > tmp.F ? tmp.C : tmp.F, &tmp.bl_work_len));
    TRY(bn_train_attention_work_size(threads, seq_len, &tmp.attn_work_len));
    tmp.n_norm_blocks = (tmp.n_params + BN_NORM_BLOCK - 1) / BN_NORM_BLOCK;
    /* optimizer chunks: ceil(n / BN_OPT_CHUNK) per tensor, at most n_params / BN_OPT_CHUNK + n_tensors in all */
    tmp.n_chunks = tmp.n_params / BN_OPT_CHUNK + tmp.n_tensors;
    carver c = {NULL, 0};
    layout(&tmp, &c);

    bn_trainer* s = NULL;
    TRY(bn_pool_alloc(mem, sizeof *s, (void**)&s));
    *s = tmp;
    bn_status st = bn_pool_calloc(mem, c.off, &s->block);
    if (st != BN_OK) {
        bn_pool_free(mem, s);
        return st;
    }
    c.base = s->block, c.off = 0;
    layout(s, &c);
    describe_tensors(s, s->tensors);
    int64_t nc = 0;
    for (int32_t i = 0, k = 0; i < s->n_tensors; i++) {
        if (s->tensors[i].ternary) s->ternary[k++] = i;
        for (int64_t b = 0; b < s->tensors[i].n; b += BN_OPT_CHUNK) s->chunk_tensor[nc] = i, s->chunk_begin[nc++] = b;
    }
    s->n_chunks = nc;
    s->param_version = 1, s->prepared_version = 0;
    st = bn_rope_table_f32(seq_len, s->D, config->rope_theta, s->rope_cos, s->rope_sin);
    if (st != BN_OK) {
        bn_pool_free(mem, s->block);
        bn_pool_free(mem, s);
        return st;
    }
    *out = s;
    return BN_OK;
}

bn_status bn_trainer_destroy(bn_trainer* trainer) {
    BN_REQUIRE_ARG(trainer != NULL, "bn_trainer_destroy: trainer must not be null");
    bn_pool* mem = trainer->mem;
    bn_status st = bn_pool_free(mem, trainer->block);
    bn_status st2 = bn_pool_free(mem, trainer);
    return st != BN_OK ? st : st2;
}

/* ---- tensors ----------------------------------------------------------------------------------------------- */

int32_t bn_trainer_tensor_count(const bn_trainer* trainer) { return trainer ? trainer->n_tensors : 0; }

#define REQUIRE_INDEX(fn, s, index)                                                                            \
    BN_REQUIRE_ARG((index) >= 0 && (index) < (s)->n_tensors, "%s: tensor index %d is outside 0..%d", fn,      \
                   (int)(index), (int)(s)->n_tensors - 1)

bn_status bn_trainer_tensor_info(const bn_trainer* trainer, int32_t index, const char** name, int64_t* rows,
                                 int64_t* cols, int32_t* is_ternary) {
    static const char fn[] = "bn_trainer_tensor_info";
    BN_REQUIRE_ARG(trainer != NULL, "%s: trainer must not be null", fn);
    REQUIRE_INDEX(fn, trainer, index);
    const tensor* t = &trainer->tensors[index];
    if (name) *name = t->name;
    if (rows) *rows = t->rows;
    if (cols) *cols = t->cols;
    if (is_ternary) *is_ternary = t->ternary;
    return BN_OK;
}

bn_status bn_trainer_find_tensor(const bn_trainer* trainer, const char* name, int32_t* index) {
    static const char fn[] = "bn_trainer_find_tensor";
    BN_REQUIRE_ARG(trainer != NULL, "%s: trainer must not be null", fn);
    BN_REQUIRE_ARG(name != NULL, "%s: name must not be null", fn);
    BN_REQUIRE_ARG(index != NULL, "%s: index must not be null", fn);
    for (int32_t i = 0; i < trainer->n_tensors; i++)
        if (strcmp(trainer->tensors[i].name, name) == 0) {
            *index = i;
            return BN_OK;
        }
    return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: no tensor named '%.200s'", fn, name);
}

static float* buffer_of(const bn_trainer* s, bn_train_buffer which) {
    switch (which) {
    case BN_TRAIN_PARAM: return s->params;
    case BN_TRAIN_GRAD: return s->grads;
    case BN_TRAIN_MOMENT1: return s->m;
    case BN_TRAIN_MOMENT2: return s->v;
    }
    return NULL;
}

static bn_status check_access(const char* fn, const bn_trainer* s, bn_train_buffer which, int32_t index,
                              const void* data, int64_t n) {
    BN_REQUIRE_ARG(s != NULL, "%s: trainer must not be null", fn);
    BN_REQUIRE_ARG(buffer_of(s, which) != NULL, "%s: unknown buffer %d", fn, (int)which);
    REQUIRE_INDEX(fn, s, index);
    BN_REQUIRE_ARG(data != NULL, "%s: the float array must not be null", fn);
    const tensor* t = &s->tensors[index];
    if (n != t->n)
        return bn_fail(BN_ERR_SHAPE, "%s: %s is (%lld, %lld) = %lld floats, n is %lld", fn, t->name,
                       (long long)t->rows, (long long)t->cols, (long long)t->n, (long long)n);
    return BN_OK;
}

bn_status bn_trainer_read(const bn_trainer* trainer, bn_train_buffer which, int32_t index, float* dst, int64_t n) {
    TRY(check_access("bn_trainer_read", trainer, which, index, dst, n));
    memcpy(dst, buffer_of(trainer, which) + trainer->tensors[index].off, (size_t)n * sizeof(float));
    return BN_OK;
}

bn_status bn_trainer_write(bn_trainer* trainer, bn_train_buffer which, int32_t index, const float* src, int64_t n) {
    TRY(check_access("bn_trainer_write", trainer, which, index, src, n));
    memcpy(buffer_of(trainer, which) + trainer->tensors[index].off, src, (size_t)n * sizeof(float));
    if (which == BN_TRAIN_PARAM) trainer->param_version++; /* the prepared ternary weights are stale */
    return BN_OK;
}

bn_status bn_trainer_set_decay(bn_trainer* trainer, int32_t index, float multiplier) {
    static const char fn[] = "bn_trainer_set_decay";
    BN_REQUIRE_ARG(trainer != NULL, "%s: trainer must not be null", fn);
    REQUIRE_INDEX(fn, trainer, index);
    BN_REQUIRE_ARG(isfinite(multiplier) && multiplier >= 0.0f, "%s: multiplier (%g) for %s must be finite and >= 0",
                   fn, (double)multiplier, trainer->tensors[index].name);
    trainer->tensors[index].decay = multiplier;
    return BN_OK;
}

bn_status bn_trainer_zero_grad(bn_trainer* trainer) {
    BN_REQUIRE_ARG(trainer != NULL, "bn_trainer_zero_grad: trainer must not be null");
    memset(trainer->grads, 0, (size_t)trainer->n_params * sizeof(float));
    return BN_OK;
}

/* ---- preparing the ternary weights ------------------------------------------------------------------------- */

/* Ternary tensor k's prepare call; packed codes only at blend 1 (the forward then runs bn_tmatmul_i8). */
static bn_status prepare_one(bn_trainer* s, int32_t k, float blend) {
    const tensor* t = &s->tensors[s->ternary[k]];
    const int packed = blend == 1.0f && t->cols % 128 == 0;
    return bn_train_bitlinear_prepare(s->params + t->off, t->rows, t->cols, blend, s->weff + t->weff_off,
                                      packed ? s->packed + t->packed_off : NULL, packed ? (t->n + 3) / 4 : 0,
                                      &s->w_scale[k]);
}

typedef struct prepare_job {
    bn_trainer* s;
    float blend;
    atomic_int first_bad; /* the lowest failing ternary index, or INT32_MAX */
} prepare_job;

static void prepare_range(void* p, int64_t k0, int64_t k1, int32_t worker) {
    (void)worker;
    prepare_job* j = p;
    for (int64_t k = k0; k < k1; k++)
        if (prepare_one(j->s, (int32_t)k, j->blend) != BN_OK) {
            int cur = atomic_load(&j->first_bad);
            while ((int)k < cur && !atomic_compare_exchange_weak(&j->first_bad, &cur, (int)k)) {}
        }
}

/* weff, packed codes and w_scale of every projection for this blend, unless the params have not changed since
 * they were last prepared for it. Tensors are spread over the threads (each prepare is one serial call). */
static bn_status prepare(bn_trainer* s, float blend, const char* fn) {
    if (s->prepared_version == s->param_version && s->prepared_blend == blend) return BN_OK;
    prepare_job j = {s, blend, INT32_MAX};
    TRY(bn_threadpool_parallel_for(s->threads, s->n_ternary, 1, prepare_range, &j));
    const int bad = atomic_load(&j.first_bad);
    if (bad != INT32_MAX) {
        /* the message was recorded on a worker thread: run the failing call again here to get it */
        bn_status st = prepare_one(s, bad, blend);
        s->prepared_version = 0;
        return bn_fail(st == BN_OK ? BN_ERR_INTERNAL : st, "%s: %s: %s", fn, s->tensors[s->ternary[bad]].name,
                       bn_last_error());
    }
    s->prepared_version = s->param_version, s->prepared_blend = blend;
    return BN_OK;
}

/* ---- forward and backward ---------------------------------------------------------------------------------- */

static float* P(const bn_trainer* s, int64_t layer, int kind) {
    return s->params + s->tensors[1 + layer * T_PER_LAYER + kind].off;
}
static float* G(const bn_trainer* s, int64_t layer, int kind) {
    return s->grads + s->tensors[1 + layer * T_PER_LAYER + kind].off;
}

/* out (N, rows) = bitlinear of projection `kind` of layer l on x (N, cols); xeff receives its blended input. */
static bn_status project(bn_trainer* s, int64_t l, int kind, const float* x, int64_t N, float blend, float* xeff,
                         float* out) {
    const tensor* t = &s->tensors[1 + l * T_PER_LAYER + kind];
    const int packed = blend == 1.0f && t->cols % 128 == 0;
    return bn_train_bitlinear_forward(x, N, t->cols, s->weff + t->weff_off, packed ? s->packed + t->packed_off : NULL,
                                      s->w_scale[t->tern_index], t->rows, blend, xeff, out, s->bl_work,
                                      s->bl_work_len, s->threads);
}

/* dx (N, cols) += , dW += from dout (N, rows) of projection `kind` of layer l, whose input was xeff. */
static bn_status project_backward(bn_trainer* s, int64_t l, int kind, const float* dout, const float* xeff,
                                  int64_t N, float* dx) {
    const tensor* t = &s->tensors[1 + l * T_PER_LAYER + kind];
    return bn_train_bitlinear_backward(dout, xeff, s->weff + t->weff_off, N, t->cols, t->rows, dx,
                                       s->grads + t->off, s->threads);
}

/* inputs (B,T) -> every activation and logits (N,V). */
static bn_status forward(bn_trainer* s, const int32_t* inputs, int64_t B, int64_t T, float blend) {
    const int64_t N = B * T, C = s->C, F = s->F, V = s->V, D = s->D, H = s->H, Hkv = s->Hkv;
    const float eps = s->cfg.rms_eps;
    bn_threadpool* tp = s->threads;
    for (int64_t i = 0; i < N; i++) s->pos[i] = (int32_t)(i % T);

    TRY(bn_train_embedding_forward(inputs, N, s->params + s->tensors[0].off, V, C, s->layers[0].x_in));
    for (int64_t l = 0; l < s->L; l++) {
        layer_acts* a = &s->layers[l];
        float* x_next = l + 1 < s->L ? s->layers[l + 1].x_in : s->x_out;
        /* attention block: q, k, v each quantize input_layernorm(x) the same way (same bits as context.c's once) */
        TRY(bn_train_rmsnorm_forward(a->x_in, P(s, l, T_IN_NORM), N, C, eps, s->xn, a->rstd_in));
        TRY(project(s, l, T_Q, s->xn, N, blend, a->xq_in, a->q));
        TRY(project(s, l, T_K, s->xn, N, blend, a->xq_in, a->k));
        TRY(project(s, l, T_V, s->xn, N, blend, a->xq_in, a->v));
        TRY(bn_rope_f32_table(a->q, N, H, D, s->pos, s->rope_cos, s->rope_sin, s->seq_len));
        TRY(bn_rope_f32_table(a->k, N, Hkv, D, s->pos, s->rope_cos, s->rope_sin, s->seq_len));
        TRY(bn_train_attention_forward(a->q, a->k, a->v, B, T, H, Hkv, D, a->probs, a->att, tp));
        TRY(bn_train_rmsnorm_forward(a->att, P(s, l, T_ATTN_SUB_NORM), N, C, eps, s->xn, a->rstd_att));
        TRY(project(s, l, T_O, s->xn, N, blend, a->xq_att, a->x_mid));
        TRY(bn_add_f32(a->x_mid, a->x_in, N * C)); /* o + x == x + o: float addition commutes */
        /* FFN block: gate, up from post_attention_layernorm(h) */
        TRY(bn_train_rmsnorm_forward(a->x_mid, P(s, l, T_POST_NORM), N, C, eps, s->xn, a->rstd_post));
        TRY(project(s, l, T_GATE, s->xn, N, blend, a->xq_post, a->gate));
        TRY(project(s, l, T_UP, s->xn, N, blend, a->xq_post, a->up));
        TRY(bn_gated_act_f32((bn_activation)s->cfg.activation, a->gate, a->up, N * F, a->hmul));
        TRY(bn_train_rmsnorm_forward(a->hmul, P(s, l, T_FFN_SUB_NORM), N, F, eps, s->xn, a->rstd_ffn));
        TRY(project(s, l, T_DOWN, s->xn, N, blend, a->xq_ffn, x_next));
        TRY(bn_add_f32(x_next, a->x_mid, N * C));
    }
    const float* final_norm = s->params + s->tensors[s->n_tensors - 1].off;
    TRY(bn_train_rmsnorm_forward(s->x_out, final_norm, N, C, eps, s->xn_f, s->rstd_f));
    TRY(bn_train_lm_head_forward(s->xn_f, N, C, s->params + s->tensors[0].off, V, s->logits, tp));
    return BN_OK;
}

static void zero(float* p, int64_t n) { memset(p, 0, (size_t)n * sizeof(float)); }

/* dlogits (N,V) in s->logits -> grads += (every parameter). */
static bn_status backward(bn_trainer* s, const int32_t* inputs, int64_t B, int64_t T) {
    const int64_t N = B * T, C = s->C, F = s->F, V = s->V, D = s->D, H = s->H, Hkv = s->Hkv, KV = s->KV;
    bn_threadpool* tp = s->threads;
    float* wte = s->params + s->tensors[0].off;
    float* dwte = s->grads + s->tensors[0].off;
    const tensor* fnorm = &s->tensors[s->n_tensors - 1];

    zero(s->dxn, N * C);
    TRY(bn_train_lm_head_backward(s->logits, s->xn_f, wte, N, C, V, s->dxn, dwte, tp));
    zero(s->dres, N * C);
    TRY(bn_train_rmsnorm_backward(s->dxn, s->x_out, s->params + fnorm->off, s->rstd_f, N, C, s->dres,
                                  s->grads + fnorm->off, tp));
    for (int64_t l = s->L - 1; l >= 0; l--) {
        const layer_acts* a = &s->layers[l];
        /* FFN block; dres is the gradient of the layer's output, and of x_mid through the residual */
        zero(s->df1, N * F);
        TRY(project_backward(s, l, T_DOWN, s->dres, a->xq_ffn, N, s->df1));
        zero(s->df2, N * F);
        TRY(bn_train_rmsnorm_backward(s->df1, a->hmul, P(s, l, T_FFN_SUB_NORM), a->rstd_ffn, N, F, s->df2,
                                      G(s, l, T_FFN_SUB_NORM), tp));
        zero(s->df1, N * F);
        zero(s->df3, N * F);
        TRY(bn_train_gated_act_backward((bn_activation)s->cfg.activation, s->df2, a->gate, a->up, N * F, s->df1,
                                        s->df3));
        zero(s->dxn, N * C);
        TRY(project_backward(s, l, T_GATE, s->df1, a->xq_post, N, s->dxn));
        TRY(project_backward(s, l, T_UP, s->df3, a->xq_post, N, s->dxn));
        TRY(bn_train_rmsnorm_backward(s->dxn, a->x_mid, P(s, l, T_POST_NORM), a->rstd_post, N, C, s->dres,
                                      G(s, l, T_POST_NORM), tp));
        /* attention block; dres is now the gradient of x_mid, and of x_in through the residual */
        zero(s->dxn, N * C);
        TRY(project_backward(s, l, T_O, s->dres, a->xq_att, N, s->dxn));
        zero(s->datt, N * C);
        TRY(bn_train_rmsnorm_backward(s->dxn, a->att, P(s, l, T_ATTN_SUB_NORM), a->rstd_att, N, C, s->datt,
                                      G(s, l, T_ATTN_SUB_NORM), tp));
        zero(s->dq, N * C);
        zero(s->dk, N * KV);
        zero(s->dv, N * KV);
        TRY(bn_train_attention_backward(s->datt, a->q, a->k, a->v, a->probs, B, T, H, Hkv, D, s->dq, s->dk, s->dv,
                                        s->attn_work, s->attn_work_len, tp));
        TRY(bn_train_rope_backward(s->dq, N, H, D, s->pos, s->rope_cos, s->rope_sin, s->seq_len));
        TRY(bn_train_rope_backward(s->dk, N, Hkv, D, s->pos, s->rope_cos, s->rope_sin, s->seq_len));
        zero(s->dxn, N * C);
        TRY(project_backward(s, l, T_Q, s->dq, a->xq_in, N, s->dxn));
        TRY(project_backward(s, l, T_K, s->dk, a->xq_in, N, s->dxn));
        TRY(project_backward(s, l, T_V, s->dv, a->xq_in, N, s->dxn));
        TRY(bn_train_rmsnorm_backward(s->dxn, a->x_in, P(s, l, T_IN_NORM), a->rstd_in, N, C, s->dres,
                                      G(s, l, T_IN_NORM), tp));
    }
    return bn_train_embedding_backward(inputs, N, s->dres, V, C, dwte);
}

/* Arguments shared by forward_backward and evaluate. */
static bn_status check_batch(const char* fn, const bn_trainer* s, const int32_t* inputs, const int32_t* targets,
                             int64_t B, int64_t T, float blend) {
    BN_REQUIRE_ARG(s != NULL, "%s: trainer must not be null", fn);
    BN_REQUIRE_ARG(inputs != NULL, "%s: inputs must not be null", fn);
    if (B < 1 || B > s->batch)
        return bn_fail(BN_ERR_SHAPE, "%s: B (%lld) is outside 1..batch (%lld)", fn, (long long)B, (long long)s->batch);
    if (T < 1 || T > s->seq_len)
        return bn_fail(BN_ERR_SHAPE, "%s: T (%lld) is outside 1..seq_len (%lld)", fn, (long long)T,
                       (long long)s->seq_len);
    BN_REQUIRE_ARG(isfinite(blend) && blend >= 0.0f && blend <= 1.0f, "%s: blend (%g) is outside [0, 1]", fn,
                   (double)blend);
    for (int64_t i = 0; i < B * T; i++) {
        if (inputs[i] < 0 || inputs[i] >= s->V)
            return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: inputs[%lld][%lld] (id %d) is outside 0..%lld", fn,
                           (long long)(i / T), (long long)(i % T), inputs[i], (long long)(s->V - 1));
        if (targets && (targets[i] < -1 || targets[i] >= s->V))
            return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: targets[%lld][%lld] (id %d) is outside -1..%lld", fn,
                           (long long)(i / T), (long long)(i % T), targets[i], (long long)(s->V - 1));
    }
    return BN_OK;
}

static int64_t count_targets(const int32_t* targets, int64_t N) {
    int64_t n = 0;
    for (int64_t i = 0; i < N; i++) n += targets[i] >= 0;
    return n;
}

/* The mean of the counted rows' losses, summed in double in row order (so independent of the threads). */
static float mean_loss(const float* losses, int64_t N, int64_t n_targets) {
    double sum = 0.0;
    for (int64_t i = 0; i < N; i++) sum += losses[i];
    return n_targets > 0 ? (float)(sum / (double)n_targets) : 0.0f;
}

bn_status bn_trainer_forward_backward(bn_trainer* trainer, const int32_t* inputs, const int32_t* targets, int64_t B,
                                      int64_t T, float blend, float grad_scale, float* loss) {
    static const char fn[] = "bn_trainer_forward_backward";
    TRY(check_batch(fn, trainer, inputs, targets, B, T, blend));
    BN_REQUIRE_ARG(targets != NULL, "%s: targets must not be null", fn);
    BN_REQUIRE_ARG(isfinite(grad_scale), "%s: grad_scale (%g) must be finite", fn, (double)grad_scale);
    bn_trainer* s = trainer;
    const int64_t N = B * T;
    TRY(prepare(s, blend, fn));
    TRY(forward(s, inputs, B, T, blend));
    const int64_t n_targets = count_targets(targets, N);
    if (n_targets == 0) { /* nothing to learn from: loss 0, gradients unchanged */
        if (loss) *loss = 0.0f;
        return BN_OK;
    }
    /* d(mean loss * grad_scale)/dlogits = (softmax - onehot) * grad_scale / n_targets, into logits in place */
    TRY(bn_train_cross_entropy(s->logits, targets, N, s->V, grad_scale / (float)n_targets, s->losses, s->logits,
                               s->threads));
    if (loss) *loss = mean_loss(s->losses, N, n_targets);
    return backward(s, inputs, B, T);
}

bn_status bn_trainer_evaluate(bn_trainer* trainer, const int32_t* inputs, const int32_t* targets, int64_t B,
                              int64_t T, float blend, float* loss, int64_t* n_targets, float* logits,
                              int64_t logits_len) {
    static const char fn[] = "bn_trainer_evaluate";
    TRY(check_batch(fn, trainer, inputs, targets, B, T, blend));
    bn_trainer* s = trainer;
    const int64_t N = B * T;
    if (logits && logits_len < N * s->V)
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: logits has %lld floats, B*T*V = %lld needed", fn,
                       (long long)logits_len, (long long)(N * s->V));
    TRY(prepare(s, blend, fn));
    TRY(forward(s, inputs, B, T, blend));
    /* targets NULL: logits only, loss 0 over 0 targets */
    const int64_t n = targets ? count_targets(targets, N) : 0;
    if (n > 0) TRY(bn_train_cross_entropy(s->logits, targets, N, s->V, 1.0f, s->losses, NULL, s->threads));
    if (loss) *loss = n > 0 ? mean_loss(s->losses, N, n) : 0.0f;
    if (n_targets) *n_targets = n;
    if (logits) memcpy(logits, s->logits, (size_t)(N * s->V) * sizeof(float));
    return BN_OK;
}

/* ---- gradients and the optimizer --------------------------------------------------------------------------- */

static void norm_blocks(void* p, int64_t b0, int64_t b1, int32_t worker) {
    (void)worker;
    bn_trainer* s = p;
    for (int64_t b = b0; b < b1; b++) {
        const int64_t i0 = b * BN_NORM_BLOCK;
        const int64_t i1 = i0 + BN_NORM_BLOCK < s->n_params ? i0 + BN_NORM_BLOCK : s->n_params;
        double sum = 0.0;
        for (int64_t i = i0; i < i1; i++) sum += (double)s->grads[i] * (double)s->grads[i];
        s->norm_partial[b] = sum;
    }
}

bn_status bn_trainer_grad_norm(const bn_trainer* trainer, double* out) {
    BN_REQUIRE_ARG(trainer != NULL, "bn_trainer_grad_norm: trainer must not be null");
    BN_REQUIRE_ARG(out != NULL, "bn_trainer_grad_norm: out must not be null");
    bn_trainer* s = (bn_trainer*)trainer; /* norm_partial is scratch */
    TRY(bn_threadpool_parallel_for(s->threads, s->n_norm_blocks, 1, norm_blocks, s));
    double sum = 0.0; /* partial sums added in block order: the same for any thread count */
    for (int64_t b = 0; b < s->n_norm_blocks; b++) sum += s->norm_partial[b];
    *out = sqrt(sum);
    return BN_OK;
}

bn_status bn_trainer_scale_grads(bn_trainer* trainer, float factor) {
    BN_REQUIRE_ARG(trainer != NULL, "bn_trainer_scale_grads: trainer must not be null");
    BN_REQUIRE_ARG(isfinite(factor), "bn_trainer_scale_grads: factor (%g) must be finite", (double)factor);
    float* g = trainer->grads;
    for (int64_t i = 0; i < trainer->n_params; i++) g[i] *= factor;
    return BN_OK;
}

typedef struct opt_job {
    bn_trainer* s;
    const bn_optimizer_params* p;
    atomic_int bad;
} opt_job;

static void opt_chunks(void* ctx, int64_t c0, int64_t c1, int32_t worker) {
    (void)worker;
    opt_job* j = ctx;
    bn_trainer* s = j->s;
    const bn_optimizer_params* p = j->p;
    for (int64_t c = c0; c < c1; c++) {
        const tensor* t = &s->tensors[s->chunk_tensor[c]];
        const int64_t b = s->chunk_begin[c], o = t->off + b;
        const int64_t n = t->n - b < BN_OPT_CHUNK ? t->n - b : BN_OPT_CHUNK;
        const float wd = p->weight_decay * t->decay;
        bn_status st;
        if (p->kind == BN_OPT_ADAMW)
            st = bn_adamw_update(s->params + o, s->grads + o, s->m + o, s->v + o, n, p->lr, p->beta1, p->beta2,
                                 p->eps, wd, p->step);
        else
            st = bn_sgd_update(s->params + o, s->grads + o, s->m + o, n, p->lr, p->momentum, wd, p->nesterov,
                               p->step);
        if (st != BN_OK) atomic_store(&j->bad, 1);
    }
}

bn_status bn_trainer_optimizer_step(bn_trainer* trainer, const bn_optimizer_params* params) {
    static const char fn[] = "bn_trainer_optimizer_step";
    BN_REQUIRE_ARG(trainer != NULL, "%s: trainer must not be null", fn);
    BN_REQUIRE_ARG(params != NULL, "%s: params must not be null", fn);
    const bn_optimizer_params* p = params;
    /* checked here, before any tensor changes (the ranges torch.optim accepts) */
    BN_REQUIRE_ARG(p->kind == BN_OPT_ADAMW || p->kind == BN_OPT_SGD, "%s: unknown optimizer kind %d", fn, p->kind);
    BN_REQUIRE_ARG(isfinite(p->lr) && p->lr >= 0.0f, "%s: lr (%g) must be finite and >= 0", fn, (double)p->lr);
    BN_REQUIRE_ARG(isfinite(p->weight_decay) && p->weight_decay >= 0.0f, "%s: weight_decay (%g) must be finite and >= 0",
                   fn, (double)p->weight_decay);
    BN_REQUIRE_ARG(p->step >= 1, "%s: step (%lld) must be >= 1", fn, (long long)p->step);
    if (p->kind == BN_OPT_ADAMW) {
        BN_REQUIRE_ARG(p->beta1 >= 0.0f && p->beta1 < 1.0f, "%s: beta1 (%g) is outside [0, 1)", fn, (double)p->beta1);
        BN_REQUIRE_ARG(p->beta2 >= 0.0f && p->beta2 < 1.0f, "%s: beta2 (%g) is outside [0, 1)", fn, (double)p->beta2);
        BN_REQUIRE_ARG(isfinite(p->eps) && p->eps >= 0.0f, "%s: eps (%g) must be finite and >= 0", fn, (double)p->eps);
    } else {
        BN_REQUIRE_ARG(isfinite(p->momentum) && p->momentum >= 0.0f, "%s: momentum (%g) must be finite and >= 0", fn,
                       (double)p->momentum);
        BN_REQUIRE_ARG(!p->nesterov || p->momentum > 0.0f, "%s: nesterov needs momentum > 0", fn);
    }
    for (int32_t i = 0; i < trainer->n_tensors; i++)
        BN_REQUIRE_ARG(isfinite(p->weight_decay * trainer->tensors[i].decay),
                       "%s: weight_decay (%g) times the decay multiplier of %s (%g) is not finite", fn,
                       (double)p->weight_decay, trainer->tensors[i].name, (double)trainer->tensors[i].decay);
    opt_job j = {trainer, p, 0};
    TRY(bn_threadpool_parallel_for(trainer->threads, trainer->n_chunks, 1, opt_chunks, &j));
    trainer->param_version++;
    if (atomic_load(&j.bad))
        return bn_fail(BN_ERR_INTERNAL, "%s: an update of checked arguments failed", fn);
    return BN_OK;
}
