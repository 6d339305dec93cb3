/* The forward pass (model/model.c, model/context.c) against the HF float32 reference fixtures
 * (/work/shared/fixtures, README "Tolerances"): logits, hidden states, greedy decoding with the KV cache; and the
 * session's own contract: prefill+decode == prefill, chunked == whole, threaded == serial bit for bit, the context
 * limit, truncate/reset, a missing weight named. */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"
#include "safetensors_reader.h"

#define FIX(p) BN_FIXTURES_DIR "/" p

/* ---- loading a fixture model -------------------------------------------------------------------------- */

typedef struct fixture {
    st_blob weights;
    bn_model* model;
    bn_model_config cfg;
    void* owned[512]; /* converted weights the model references */
    int n_owned;
} fixture;

static void* own(fixture* f, size_t bytes) {
    void* p = malloc(bytes);
    if (f->n_owned < (int)(sizeof f->owned / sizeof f->owned[0])) f->owned[f->n_owned++] = p;
    return p;
}

static double json_num(const char* json, const char* key) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char* p = strstr(json, pat);
    BN_CHECK_MSG(p != NULL, "config.json has no %s", key);
    return p ? strtod(p + strlen(pat), NULL) : 0.0;
}

static int read_config(const char* path, bn_model_config* c) {
    FILE* f = fopen(path, "rb");
    if (!f) return 0;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    memset(c, 0, sizeof *c);
    c->vocab_size = (int64_t)json_num(buf, "vocab_size");
    c->hidden_size = (int64_t)json_num(buf, "hidden_size");
    c->ffn_size = (int64_t)json_num(buf, "intermediate_size");
    c->n_layers = (int32_t)json_num(buf, "num_hidden_layers");
    c->n_heads = (int32_t)json_num(buf, "num_attention_heads");
    c->n_kv_heads = (int32_t)json_num(buf, "num_key_value_heads");
    c->max_positions = (int32_t)json_num(buf, "max_position_embeddings");
    c->rope_theta = (float)json_num(buf, "rope_theta");
    c->rms_eps = (float)json_num(buf, "rms_norm_eps");
    c->activation = strstr(buf, "\"hidden_act\": \"relu2\"") || strstr(buf, "\"hidden_act\":\"relu2\"") ? BN_ACT_RELU2
                                                                                                         : BN_ACT_SILU;
    return 1;
}

/* A BF16 or F32 tensor as n floats (a copy the fixture owns). */
static const float* to_f32(fixture* f, const st_view* v, int64_t n) {
    float* out = own(f, (size_t)n * sizeof(float));
    if (strcmp(v->dtype, "BF16") == 0 && v->nbytes == (size_t)n * 2) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, (const uint8_t*)v->data + 2 * i, 2);
            out[i] = bn_bf16_to_fp32(h);
        }
    } else {
        BN_CHECK_MSG(strcmp(v->dtype, "F32") == 0 && v->nbytes == (size_t)n * 4, "unexpected tensor %s of %zu bytes",
                     v->dtype, v->nbytes);
        memcpy(out, v->data, (size_t)n * sizeof(float));
    }
    return out;
}

static const char* const proj_names[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                          "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                          "mlp.down_proj"};
static const char* const norm_names[4] = {"input_layernorm", "post_attention_layernorm", "self_attn.attn_sub_norm",
                                          "mlp.ffn_sub_norm"};

/* One projection to I2_S x86 + w_scale: packed = HF 2B4T U8 [out/4, in] with a BF16 weight_scale (offline,
 * multiply); master = F32 [out, in] quantized here as HF's online WeightQuant (w_scale = 1/s). With tq1 the
 * same codes are set in BN_TLAYOUT_TQ1 instead: the I2_S bytes converted to GGUF TQ1_0 blocks (d = w_scale in
 * every block with a nonzero code, as llama.cpp writes a BitNet model). */
static void load_projection(fixture* f, int32_t l, int p, int packed, int tq1) {
    char name[160];
    st_view v, s;
    memset(&s, 0, sizeof s);
    snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, proj_names[p]);
    if (!st_find(&f->weights, name, &v)) {
        BN_CHECK_MSG(0, "fixture has no %s", name);
        return;
    }
    int64_t rows = packed ? v.shape[0] * 4 : v.shape[0], cols = v.shape[1], size;
    BN_CHECK_OK(bn_format_packed_size(BN_FORMAT_I2_S_X86, rows, cols, &size));
    uint8_t* dst = own(f, (size_t)size);
    float w_scale = 0.0f;
    if (packed) {
        snprintf(name, sizeof name, "model.layers.%d.%s.weight_scale", l, proj_names[p]);
        BN_CHECK(st_find(&f->weights, name, &s) && strcmp(s.dtype, "BF16") == 0);
        uint16_t h;
        memcpy(&h, s.data, 2);
        w_scale = bn_bf16_to_fp32(h);
        BN_CHECK_OK(bn_format_convert(BN_FORMAT_HF_2B4T, v.data, (int64_t)v.nbytes, BN_FORMAT_I2_S_X86, rows, cols,
                                      w_scale, dst, size));
    } else {
        const float* w = to_f32(f, &v, rows * cols);
        int8_t* codes = malloc((size_t)(rows * cols));
        float sc = 0.0f;
        BN_CHECK_OK(bn_quantize_ternary_absmean(w, rows, cols, BN_GRANULARITY_TENSOR, 0, codes, rows * cols, &sc, 1));
        w_scale = 1.0f / sc;
        BN_CHECK_OK(bn_format_pack(BN_FORMAT_I2_S_X86, codes, rows, cols, &w_scale, 1, dst, size));
        free(codes);
    }
    if (tq1) {
        int64_t tq_size;
        BN_CHECK_OK(bn_format_packed_size(BN_FORMAT_TQ1_0, rows, cols, &tq_size));
        uint8_t* tq = own(f, (size_t)tq_size);
        BN_CHECK_OK(bn_format_convert(BN_FORMAT_I2_S_X86, dst, size, BN_FORMAT_TQ1_0, rows, cols, 0.0f, tq, tq_size));
        BN_CHECK_OK(bn_model_set_projection_layout(f->model, l, (bn_proj)p, BN_TLAYOUT_TQ1, tq, tq_size, w_scale));
        return;
    }
    BN_CHECK_OK(bn_model_set_projection(f->model, l, (bn_proj)p, dst, size, w_scale));
}

/* skip_layer/skip_proj: leave that projection unset (-1: set everything). Bit 7 * layer + proj of tq1_mask: set
 * that projection in BN_TLAYOUT_TQ1 (else I2_S). */
static int fixture_load_layouts(fixture* f, const char* dir, int packed, int skip_layer, int skip_proj,
                                uint64_t tq1_mask) {
    memset(f, 0, sizeof *f);
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!read_config(path, &f->cfg)) {
        BN_CHECK_MSG(0, "cannot read %s", path);
        return 0;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!st_blob_open(path, &f->weights)) {
        BN_CHECK_MSG(0, "cannot read %s", path);
        return 0;
    }
    BN_CHECK_OK(bn_model_create(&f->cfg, &f->model));
    if (!f->model) return 0;
    const int64_t C = f->cfg.hidden_size, F = f->cfg.ffn_size, V = f->cfg.vocab_size;
    st_view v;
    char name[160];
    for (int32_t l = 0; l < f->cfg.n_layers; l++) {
        for (int p = 0; p < 7; p++)
            if (!(l == skip_layer && p == skip_proj))
                load_projection(f, l, p, packed, (int)(tq1_mask >> (7 * l + p)) & 1);
        for (int n = 0; n < 4; n++) {
            snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, norm_names[n]);
            const int64_t len = n == BN_NORM_FFN_SUB ? F : C;
            BN_CHECK(st_find(&f->weights, name, &v));
            BN_CHECK_OK(bn_model_set_norm(f->model, l, (bn_norm)n, to_f32(f, &v, len), len));
        }
    }
    BN_CHECK(st_find(&f->weights, "model.norm.weight", &v));
    BN_CHECK_OK(bn_model_set_final_norm(f->model, to_f32(f, &v, C), C));
    BN_CHECK(st_find(&f->weights, "model.embed_tokens.weight", &v));
    if (strcmp(v.dtype, "BF16") == 0) { /* the LM head reads BF16 as stored (copied only for alignment) */
        void* e = own(f, v.nbytes);
        memcpy(e, v.data, v.nbytes);
        BN_CHECK_OK(bn_model_set_embedding(f->model, BN_DTYPE_BF16, e, (int64_t)v.nbytes));
    } else {
        BN_CHECK_OK(bn_model_set_embedding(f->model, BN_DTYPE_F32, to_f32(f, &v, V * C), V * C * 4));
    }
    return 1;
}

static int fixture_load(fixture* f, const char* dir, int packed, int skip_layer, int skip_proj) {
    return fixture_load_layouts(f, dir, packed, skip_layer, skip_proj, 0);
}

static void fixture_free(fixture* f) {
    if (f->model) BN_CHECK_OK(bn_model_destroy(f->model));
    for (int i = 0; i < f->n_owned; i++) free(f->owned[i]);
    st_blob_close(&f->weights);
}

/* ---- comparing with the reference ----------------------------------------------------------------------- */

static const int32_t* ref_ids(const st_blob* ref, const char* name, int64_t* n) {
    st_view v;
    if (!st_find(ref, name, &v) || strcmp(v.dtype, "I32") != 0) return NULL;
    *n = (int64_t)(v.nbytes / 4);
    return v.data;
}

static const float* ref_f32(const st_blob* ref, const char* name, int64_t n) {
    st_view v;
    if (!st_find(ref, name, &v) || strcmp(v.dtype, "F32") != 0 || v.nbytes != (size_t)n * 4) return NULL;
    return v.data;
}

/* README tolerances for logits (T, V): mean KL(ref || ours) <= 1e-3, max |Δ| <= 0.25, top-1 equal where the
 * reference's top-2 margin > 0.1. */
static void check_logits(const char* what, const float* ref, const float* got, int64_t T, int64_t V) {
    double max_abs = 0.0, kl_sum = 0.0;
    int top1_bad = 0, top1_checked = 0;
    for (int64_t t = 0; t < T; t++) {
        const float* r = ref + t * V;
        const float* g = got + t * V;
        double mr = -INFINITY, mg = -INFINITY;
        int64_t ar = 0, ag = 0;
        for (int64_t i = 0; i < V; i++) {
            double d = fabs((double)r[i] - g[i]);
            if (!(d <= max_abs)) max_abs = d; /* NaN sticks */
            if (r[i] > mr) mr = r[i], ar = i;
            if (g[i] > mg) mg = g[i], ag = i;
        }
        double zr = 0.0, zg = 0.0, second = -INFINITY;
        for (int64_t i = 0; i < V; i++) {
            zr += exp(r[i] - mr), zg += exp(g[i] - mg);
            if (i != ar && r[i] > second) second = r[i];
        }
        double kl = 0.0;
        for (int64_t i = 0; i < V; i++) {
            double lpr = r[i] - mr - log(zr), lpg = g[i] - mg - log(zg);
            kl += exp(lpr) * (lpr - lpg);
        }
        kl_sum += kl;
        if (mr - second > 0.1) {
            top1_checked++;
            if (ar != ag) top1_bad++;
        }
    }
    const double kl_mean = kl_sum / (double)T;
    printf("  %-28s rows %3lld  max|dlogit| %.4f  mean KL %.3g  top-1 %d/%d\n", what, (long long)T, max_abs, kl_mean,
           top1_checked - top1_bad, top1_checked);
    BN_CHECK_MSG(max_abs <= 0.25, "%s: max |dlogit| %g > 0.25", what, max_abs);
    BN_CHECK_MSG(kl_mean <= 1e-3, "%s: mean KL %g > 1e-3", what, kl_mean);
    BN_CHECK_MSG(top1_bad == 0, "%s: top-1 differs on %d of %d confident rows", what, top1_bad, top1_checked);
}

static void check_close(const char* what, const float* ref, const float* got, int64_t n, double tol) {
    double max_abs = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)ref[i] - got[i]);
        if (!(d <= max_abs)) max_abs = d;
    }
    printf("  %-28s max|d| %.3g (tolerance %.g)\n", what, max_abs, tol);
    BN_CHECK_MSG(max_abs <= tol, "%s: max |d| %g > %g", what, max_abs, tol);
}

static bn_context* new_ctx(const fixture* f, bn_threadpool* tp, int64_t max_batch) {
    bn_context* ctx = NULL;
    BN_CHECK_OK(bn_context_create(f->model, 0, BN_DTYPE_F32, max_batch, NULL, tp, &ctx));
    return ctx;
}

/* input_ids -> logits (one pass, all rows); batch rows each in a fresh context. */
static void check_reference_logits(const fixture* f, const st_blob* ref, const char* label, bn_threadpool* tp) {
    const int64_t V = f->cfg.vocab_size;
    int64_t T = 0, nb = 0;
    const int32_t* ids = ref_ids(ref, "input_ids", &T);
    BN_CHECK(ids != NULL);
    if (!ids) return;
    const float* want = ref_f32(ref, "logits", T * V);
    BN_CHECK(want != NULL);
    float* got = malloc((size_t)(T * V) * sizeof *got);
    bn_context* ctx = new_ctx(f, tp, 0);
    if (!ctx || !want) goto done;
    BN_CHECK_OK(bn_context_forward(ctx, ids, T, got, T * V, BN_LOGITS_ALL, NULL, 0));
    char what[96];
    snprintf(what, sizeof what, "%s logits", label);
    check_logits(what, want, got, T, V);

    const int32_t* bids = ref_ids(ref, "batch_input_ids", &nb);
    st_view bv;
    memset(&bv, 0, sizeof bv);
    BN_CHECK(bids != NULL && st_find(ref, "batch_input_ids", &bv) && bv.rank == 2);
    if (bids && bv.rank == 2) {
        const int64_t B = bv.shape[0], S = bv.shape[1];
        const float* bwant = ref_f32(ref, "batch_logits", B * S * V);
        BN_CHECK(bwant != NULL);
        float* bgot = malloc((size_t)(S * V) * sizeof *bgot);
        for (int64_t b = 0; b < B && bwant; b++) {
            BN_CHECK_OK(bn_context_reset(ctx));
            BN_CHECK_OK(bn_context_forward(ctx, bids + b * S, S, bgot, S * V, BN_LOGITS_ALL, NULL, 0));
            snprintf(what, sizeof what, "%s batch row %lld", label, (long long)b);
            check_logits(what, bwant + b * S * V, bgot, S, V);
        }
        free(bgot);
    }
done:
    if (ctx) BN_CHECK_OK(bn_context_destroy(ctx));
    free(got);
}

/* Prompt, then greedy decoding one token per step with the KV cache; equal to the reference token for token up to
 * the first step where our own top-2 margin is below 0.1 (README); the count of leading matches is printed. */
static void check_greedy(const fixture* f, const st_blob* ref, const char* label, bn_threadpool* tp) {
    const int64_t V = f->cfg.vocab_size;
    int64_t P = 0, G = 0;
    const int32_t* prompt = ref_ids(ref, "greedy_prompt_ids", &P);
    const int32_t* want = ref_ids(ref, "greedy_ids", &G);
    if (!prompt || !want) {
        printf("  %s: no greedy reference\n", label);
        return;
    }
    BN_CHECK(G > P && memcmp(prompt, want, (size_t)P * 4) == 0);
    bn_context* ctx = new_ctx(f, tp, 0);
    if (!ctx) return;
    float* logits = malloc((size_t)V * sizeof *logits);
    BN_CHECK_OK(bn_context_forward(ctx, prompt, P, logits, V, BN_LOGITS_LAST, NULL, 0));
    /* every step is compared; a mismatch is allowed only at or after a step where our top-2 margin was < 0.1 */
    int matched = 0, first_low = -1, mismatch = -1;
    for (int64_t step = 0; step < G - P; step++) {
        int64_t best = 0;
        for (int64_t i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        float second = -INFINITY;
        for (int64_t i = 0; i < V; i++)
            if (i != best && logits[i] > second) second = logits[i];
        if (first_low < 0 && logits[best] - second < 0.1f) first_low = (int)step;
        if (best != want[P + step]) {
            mismatch = (int)step;
            break;
        }
        matched++;
        const int32_t tok = (int32_t)best;
        if (step + 1 < G - P) BN_CHECK_OK(bn_context_forward(ctx, &tok, 1, logits, V, BN_LOGITS_LAST, NULL, 0));
    }
    printf("  %-28s %d/%lld tokens match", label, matched, (long long)(G - P));
    if (first_low >= 0) printf(" (own top-2 margin first < 0.1 at step %d)", first_low);
    if (mismatch >= 0) printf(" (first mismatch at step %d)", mismatch);
    printf("\n");
    BN_CHECK_MSG(mismatch < 0 || (first_low >= 0 && first_low <= mismatch),
                 "%s: step %d differs from the reference while every margin up to it was >= 0.1", label, mismatch);

    /* teacher-forced: feed the reference's tokens; every step where our margin is >= 0.1 must pick its next token */
    BN_CHECK_OK(bn_context_reset(ctx));
    BN_CHECK_OK(bn_context_forward(ctx, prompt, P, logits, V, BN_LOGITS_LAST, NULL, 0));
    int tf_checked = 0, tf_equal = 0, tf_all = 0;
    for (int64_t step = 0; step < G - P; step++) {
        int64_t best = 0;
        for (int64_t i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        float second = -INFINITY;
        for (int64_t i = 0; i < V; i++)
            if (i != best && logits[i] > second) second = logits[i];
        tf_all += best == want[P + step];
        if (logits[best] - second >= 0.1f) {
            tf_checked++;
            tf_equal += best == want[P + step];
            BN_CHECK_MSG(best == want[P + step], "%s teacher-forced step %lld: %lld (margin %.3f), reference %d", label,
                         (long long)step, (long long)best, (double)(logits[best] - second), want[P + step]);
        }
        if (step + 1 < G - P) BN_CHECK_OK(bn_context_forward(ctx, &want[P + step], 1, logits, V, BN_LOGITS_LAST, NULL, 0));
    }
    printf("  %-28s teacher-forced: %d/%lld argmax equal, %d/%d where own margin >= 0.1\n", label, tf_all,
           (long long)(G - P), tf_equal, tf_checked);
    free(logits);
    BN_CHECK_OK(bn_context_destroy(ctx));
}

/* ---- against the fixtures ------------------------------------------------------------------------------- */

static void check_packed(const char* dir, const char* ref_path, const char* label) {
    fixture f;
    st_blob ref;
    if (!fixture_load(&f, dir, 1, -1, -1)) return;
    BN_CHECK_OK(bn_model_check(f.model));
    BN_CHECK(st_blob_open(ref_path, &ref));
    if (ref.bytes) {
        check_reference_logits(&f, &ref, label, NULL);
        char g[96];
        snprintf(g, sizeof g, "%s greedy", label);
        check_greedy(&f, &ref, g, NULL);
        st_blob_close(&ref);
    }
    fixture_free(&f);
}

BN_TEST(tiny_packed_matches_reference) {
    check_packed(FIX("bitnet-tiny/packed"), FIX("bitnet-tiny/reference-packed.safetensors"), "tiny/packed");
}

BN_TEST(small_packed_matches_reference) {
    check_packed(FIX("bitnet-small/packed"), FIX("bitnet-small/reference-packed.safetensors"), "small/packed");
}

BN_TEST(tiny_master_matches_reference) {
    fixture f;
    st_blob ref;
    if (!fixture_load(&f, FIX("bitnet-tiny/master"), 0, -1, -1)) return;
    BN_CHECK(st_blob_open(FIX("bitnet-tiny/reference-master.safetensors"), &ref));
    if (!ref.bytes) {
        fixture_free(&f);
        return;
    }
    const int64_t C = f.cfg.hidden_size, L = f.cfg.n_layers;
    int64_t T = 0;
    const int32_t* ids = ref_ids(&ref, "input_ids", &T);
    BN_CHECK(ids != NULL);
    float* hidden = malloc((size_t)((L + 1) * T * C) * sizeof *hidden);
    bn_context* ctx = new_ctx(&f, NULL, 0);
    if (ids && ctx) {
        BN_CHECK_OK(bn_context_forward(ctx, ids, T, NULL, 0, BN_LOGITS_NONE, hidden, (L + 1) * T * C));
        for (int64_t i = 0; i <= L; i++) {
            char name[64];
            snprintf(name, sizeof name, "hidden_state.%lld", (long long)i);
            const float* want = ref_f32(&ref, name, T * C);
            BN_CHECK_MSG(want != NULL, "reference has no %s", name);
            if (!want) continue;
            /* .0 is the embedding (exact), .1 one layer of float-order noise, later ones step-function noise */
            check_close(name, want, hidden + i * T * C, T * C, i == 0 ? 0.0 : i == 1 ? 1e-3 : 5e-2);
        }
        BN_CHECK_OK(bn_context_destroy(ctx));
    }
    free(hidden);
    check_reference_logits(&f, &ref, "tiny/master", NULL);
    check_greedy(&f, &ref, "tiny/master greedy", NULL);
    st_blob_close(&ref);
    fixture_free(&f);
}

/* ---- the session's own contract (tiny packed) ------------------------------------------------------------ */

static int tiny_ids(st_blob* ref, const int32_t** ids, int64_t* T) {
    if (!st_blob_open(FIX("bitnet-tiny/reference-packed.safetensors"), ref)) return 0;
    *ids = ref_ids(ref, "input_ids", T);
    return *ids != NULL;
}

BN_TEST(prefill_then_decode_equals_one_prefill) {
    fixture f;
    st_blob ref;
    const int32_t* ids = NULL;
    int64_t T = 0;
    if (!fixture_load(&f, FIX("bitnet-tiny/packed"), 1, -1, -1)) return;
    if (!tiny_ids(&ref, &ids, &T)) T = 0;
    BN_CHECK(T > 2);
    const int64_t V = f.cfg.vocab_size;
    float* a = malloc((size_t)V * sizeof *a);
    float* b = malloc((size_t)V * sizeof *b);
    bn_context* one = new_ctx(&f, NULL, 0);
    bn_context* two = new_ctx(&f, NULL, 0);
    if (one && two && T > 2) {
        BN_CHECK_OK(bn_context_forward(one, ids, T, a, V, BN_LOGITS_LAST, NULL, 0));
        BN_CHECK_OK(bn_context_forward(two, ids, T - 1, NULL, 0, BN_LOGITS_NONE, NULL, 0));
        BN_CHECK_EQ_I64(bn_context_position(two), T - 1);
        BN_CHECK_OK(bn_context_forward(two, ids + T - 1, 1, b, V, BN_LOGITS_LAST, NULL, 0));
        BN_CHECK_EQ_I64(bn_context_position(two), T);
        check_close("prefill T-1 + decode 1", a, b, V, 1e-4);
        /* truncate drops the last position; running it again gives the same logits */
        BN_CHECK_OK(bn_context_truncate(two, T - 1));
        BN_CHECK_OK(bn_context_forward(two, ids + T - 1, 1, b, V, BN_LOGITS_LAST, NULL, 0));
        check_close("truncate + decode again", a, b, V, 1e-4);
        BN_CHECK_STATUS(bn_context_truncate(two, T + 1), BN_ERR_INVALID_ARGUMENT);
        /* token by token from empty */
        BN_CHECK_OK(bn_context_reset(two));
        BN_CHECK_EQ_I64(bn_context_position(two), 0);
        for (int64_t t = 0; t < T; t++) BN_CHECK_OK(bn_context_forward(two, ids + t, 1, b, V, BN_LOGITS_LAST, NULL, 0));
        check_close("token by token", a, b, V, 1e-4);
    }
    if (one) BN_CHECK_OK(bn_context_destroy(one));
    if (two) BN_CHECK_OK(bn_context_destroy(two));
    free(a), free(b);
    st_blob_close(&ref);
    fixture_free(&f);
}

BN_TEST(threaded_and_chunked_equal_serial_bit_for_bit) {
    fixture f;
    st_blob ref;
    const int32_t* ids = NULL;
    int64_t T = 0;
    if (!fixture_load(&f, FIX("bitnet-tiny/packed"), 1, -1, -1)) return;
    if (!tiny_ids(&ref, &ids, &T)) T = 0;
    BN_CHECK(T > 2);
    const int64_t V = f.cfg.vocab_size, C = f.cfg.hidden_size, L = f.cfg.n_layers;
    const int64_t nl = T * V, nh = (L + 1) * T * C;
    float *la = malloc((size_t)nl * 4), *lb = malloc((size_t)nl * 4), *lc = malloc((size_t)nl * 4);
    float *ha = malloc((size_t)nh * 4), *hb = malloc((size_t)nh * 4), *hc = malloc((size_t)nh * 4);
    bn_threadpool* tp = NULL;
    BN_CHECK_OK(bn_threadpool_create(4, &tp));
    bn_context* serial = new_ctx(&f, NULL, 0);
    bn_context* threaded = new_ctx(&f, tp, 0);
    bn_context* chunked = new_ctx(&f, tp, 7); /* 45 tokens in chunks of 7 */
    if (serial && threaded && chunked) {
        BN_CHECK_OK(bn_context_forward(serial, ids, T, la, nl, BN_LOGITS_ALL, ha, nh));
        BN_CHECK_OK(bn_context_forward(threaded, ids, T, lb, nl, BN_LOGITS_ALL, hb, nh));
        BN_CHECK_OK(bn_context_forward(chunked, ids, T, lc, nl, BN_LOGITS_ALL, hc, nh));
        BN_CHECK_MSG(memcmp(la, lb, (size_t)nl * 4) == 0, "threaded logits differ from serial");
        BN_CHECK_MSG(memcmp(ha, hb, (size_t)nh * 4) == 0, "threaded hidden states differ from serial");
        BN_CHECK_MSG(memcmp(la, lc, (size_t)nl * 4) == 0, "chunked logits differ from one pass");
        BN_CHECK_MSG(memcmp(ha, hc, (size_t)nh * 4) == 0, "chunked hidden states differ from one pass");
        /* last-row mode gives the last row of all-rows mode */
        BN_CHECK_OK(bn_context_reset(threaded));
        BN_CHECK_OK(bn_context_forward(threaded, ids, T, lb, V, BN_LOGITS_LAST, NULL, 0));
        BN_CHECK_MSG(memcmp(la + (T - 1) * V, lb, (size_t)V * 4) == 0, "last-row logits differ");
        BN_CHECK_OK(bn_context_reset(chunked));
        BN_CHECK_OK(bn_context_forward(chunked, ids, T, lc, V, BN_LOGITS_LAST, NULL, 0));
        BN_CHECK_MSG(memcmp(la + (T - 1) * V, lc, (size_t)V * 4) == 0, "chunked last-row logits differ");
    }
    if (serial) BN_CHECK_OK(bn_context_destroy(serial));
    if (threaded) BN_CHECK_OK(bn_context_destroy(threaded));
    if (chunked) BN_CHECK_OK(bn_context_destroy(chunked));
    BN_CHECK_OK(bn_threadpool_destroy(tp));
    free(la), free(lb), free(lc), free(ha), free(hb), free(hc);
    st_blob_close(&ref);
    fixture_free(&f);
}

/* Three sequences at different positions in one pass equal each run on its own context, bit for bit: rows of
 * the matmuls, norms and quantizers do not depend on their neighbours, and each sequence attends only to its
 * own cache. */
BN_TEST(batch_of_sequences_equals_each_alone) {
    fixture f;
    st_blob ref;
    const int32_t* ids = NULL;
    int64_t T = 0;
    if (!fixture_load(&f, FIX("bitnet-tiny/packed"), 1, -1, -1)) return;
    if (!tiny_ids(&ref, &ids, &T)) T = 0;
    BN_CHECK(T >= 12);
    const int64_t V = f.cfg.vocab_size;
    bn_threadpool* tp = NULL;
    BN_CHECK_OK(bn_threadpool_create(2, &tp));
    bn_context *a = new_ctx(&f, tp, 16), *b = new_ctx(&f, NULL, 0), *c = new_ctx(&f, NULL, 0);
    bn_context *solo = new_ctx(&f, NULL, 0);
    BN_CHECK_EQ_I64(bn_context_max_batch(a), 16);
    float* got = malloc((size_t)(8 * V) * 4);
    float* want = malloc((size_t)(8 * V) * 4);
    if (a && b && c && solo && T >= 12) {
        /* histories: a holds ids[0..5), b ids[0..10), c nothing */
        BN_CHECK_OK(bn_context_forward(a, ids, 5, NULL, 0, BN_LOGITS_NONE, NULL, 0));
        BN_CHECK_OK(bn_context_forward(b, ids, 10, NULL, 0, BN_LOGITS_NONE, NULL, 0));
        /* the pass: a gets ids[5..8), b ids[10..11), c ids[0..4) */
        int32_t toks[8];
        memcpy(toks, ids + 5, 3 * 4), memcpy(toks + 3, ids + 10, 4), memcpy(toks + 4, ids, 4 * 4);
        const int64_t n[3] = {3, 1, 4};
        bn_context* ctxs[3] = {a, b, c};
        BN_CHECK_OK(bn_context_forward_batch(ctxs, 3, toks, n, got, 8 * V, BN_LOGITS_ALL));
        BN_CHECK_EQ_I64(bn_context_position(a), 8);
        BN_CHECK_EQ_I64(bn_context_position(b), 11);
        BN_CHECK_EQ_I64(bn_context_position(c), 4);
        const int64_t hist[3] = {5, 10, 0};
        int64_t row = 0;
        for (int i = 0; i < 3; i++) {
            BN_CHECK_OK(bn_context_reset(solo));
            if (hist[i]) BN_CHECK_OK(bn_context_forward(solo, ids, hist[i], NULL, 0, BN_LOGITS_NONE, NULL, 0));
            BN_CHECK_OK(bn_context_forward(solo, toks + row, n[i], want, n[i] * V, BN_LOGITS_ALL, NULL, 0));
            BN_CHECK_MSG(memcmp(want, got + row * V, (size_t)(n[i] * V) * 4) == 0,
                         "sequence %d's logits differ from its own pass", i);
            row += n[i];
        }
        /* LAST: one row per sequence; the caches moved on, so decode one more token each and compare */
        const int32_t next[3] = {ids[8], ids[11], ids[4]};
        const int64_t one[3] = {1, 1, 1};
        BN_CHECK_OK(bn_context_forward_batch(ctxs, 3, next, one, got, 3 * V, BN_LOGITS_LAST));
        const int64_t upto[3] = {9, 12, 5};
        for (int i = 0; i < 3; i++) {
            BN_CHECK_OK(bn_context_reset(solo));
            BN_CHECK_OK(bn_context_forward(solo, ids, upto[i], want, V, BN_LOGITS_LAST, NULL, 0));
            BN_CHECK_MSG(memcmp(want, got + i * V, (size_t)V * 4) == 0, "decode row %d differs", i);
        }
        /* errors change nothing: the same context twice, too many tokens for ctxs[0]'s batch, a bad id */
        bn_context* twice[2] = {b, b};
        BN_CHECK_STATUS(bn_context_forward_batch(twice, 2, next, one, got, 2 * V, BN_LOGITS_LAST),
                        BN_ERR_INVALID_ARGUMENT);
        int32_t many[20] = {0};
        const int64_t n_many[2] = {10, 10};
        bn_context* ab[2] = {a, b};
        BN_CHECK_STATUS(bn_context_forward_batch(ab, 2, many, n_many, NULL, 0, BN_LOGITS_NONE), BN_ERR_SHAPE);
        BN_CHECK_MSG(strstr(bn_last_error(), "max_batch") != NULL, "message: %s", bn_last_error());
        const int32_t bad[2] = {1, (int32_t)V};
        BN_CHECK_STATUS(bn_context_forward_batch(ab, 2, bad, one, got, 2 * V, BN_LOGITS_LAST), BN_ERR_INVALID_ARGUMENT);
        BN_CHECK_MSG(strstr(bn_last_error(), "token 1") != NULL, "message: %s", bn_last_error());
        BN_CHECK_EQ_I64(bn_context_position(a), 9);
        BN_CHECK_EQ_I64(bn_context_position(b), 12);
    }
    bn_context* all[4] = {a, b, c, solo};
    for (int i = 0; i < 4; i++)
        if (all[i]) BN_CHECK_OK(bn_context_destroy(all[i]));
    BN_CHECK_OK(bn_threadpool_destroy(tp));
    free(got), free(want);
    st_blob_close(&ref);
    fixture_free(&f);
}

/* ---- projections in the TQ1 layout (GGUF TQ1_0 blocks used in place) ------------------------------------ */

/* What one model gives for ids: every row's logits and the hidden states in one pass on a pool of 3 threads;
 * the logits of each step decoding token by token on this thread (the GEMV path); and a batch of two sequences
 * (ids[0..5) and ids[0..3)) in one bn_context_forward_batch. */
typedef struct layout_run {
    float *logits, *hidden, *steps, *batch;
} layout_run;

static void run_for_layouts(const fixture* f, const int32_t* ids, int64_t T, bn_threadpool* tp, layout_run* o) {
    const int64_t V = f->cfg.vocab_size, C = f->cfg.hidden_size, L = f->cfg.n_layers;
    o->logits = calloc((size_t)(T * V), 4), o->hidden = calloc((size_t)((L + 1) * T * C), 4);
    o->steps = calloc((size_t)(T * V), 4), o->batch = calloc((size_t)(8 * V), 4);
    bn_context *a = new_ctx(f, tp, 0), *b = new_ctx(f, NULL, 0);
    if (a && b) {
        BN_CHECK_OK(bn_context_forward(a, ids, T, o->logits, T * V, BN_LOGITS_ALL, o->hidden, (L + 1) * T * C));
        for (int64_t t = 0; t < T; t++)
            BN_CHECK_OK(bn_context_forward(b, ids + t, 1, o->steps + t * V, V, BN_LOGITS_LAST, NULL, 0));
        BN_CHECK_OK(bn_context_reset(a));
        BN_CHECK_OK(bn_context_reset(b));
        int32_t toks[8];
        memcpy(toks, ids, 5 * 4), memcpy(toks + 5, ids, 3 * 4);
        const int64_t n[2] = {5, 3};
        bn_context* ab[2] = {a, b};
        BN_CHECK_OK(bn_context_forward_batch(ab, 2, toks, n, o->batch, 8 * V, BN_LOGITS_ALL));
    }
    if (a) BN_CHECK_OK(bn_context_destroy(a));
    if (b) BN_CHECK_OK(bn_context_destroy(b));
}

static void layout_run_free(layout_run* o) { free(o->logits), free(o->hidden), free(o->steps), free(o->batch); }

/* A model whose projections (all, or some: then q, k, v and gate, up mix layouts inside one fused group) are
 * TQ1_0 blocks gives exactly the logits and hidden states of the same codes in I2_S: the TQ1 kernels ignore the
 * blocks' d and compute the I2_S expression. */
static void check_tq1_equals_i2s(const char* dir, const uint64_t* masks, int n_masks) {
    fixture ref, f;
    st_blob r;
    const int32_t* ids = NULL;
    int64_t T = 0;
    if (!tiny_ids(&r, &ids, &T)) T = 0;
    BN_CHECK(T >= 8);
    if (T < 8 || !fixture_load(&ref, dir, 1, -1, -1)) {
        st_blob_close(&r);
        return;
    }
    if (T > 24) T = 24;
    const int64_t V = ref.cfg.vocab_size, C = ref.cfg.hidden_size, L = ref.cfg.n_layers;
    bn_threadpool* tp = NULL;
    BN_CHECK_OK(bn_threadpool_create(3, &tp));
    layout_run want, got;
    run_for_layouts(&ref, ids, T, tp, &want);
    for (int m = 0; m < n_masks; m++) {
        if (!fixture_load_layouts(&f, dir, 1, -1, -1, masks[m])) break;
        BN_CHECK_OK(bn_model_check(f.model));
        run_for_layouts(&f, ids, T, tp, &got);
        BN_CHECK_MSG(memcmp(want.logits, got.logits, (size_t)(T * V) * 4) == 0, "%s mask %#llx: logits differ", dir,
                     (unsigned long long)masks[m]);
        BN_CHECK_MSG(memcmp(want.hidden, got.hidden, (size_t)((L + 1) * T * C) * 4) == 0,
                     "%s mask %#llx: hidden states differ", dir, (unsigned long long)masks[m]);
        BN_CHECK_MSG(memcmp(want.steps, got.steps, (size_t)(T * V) * 4) == 0, "%s mask %#llx: decode steps differ",
                     dir, (unsigned long long)masks[m]);
        BN_CHECK_MSG(memcmp(want.batch, got.batch, (size_t)(8 * V) * 4) == 0, "%s mask %#llx: batch differs", dir,
                     (unsigned long long)masks[m]);
        layout_run_free(&got);
        fixture_free(&f);
    }
    /* a nonzero result: the comparison is not of two empty buffers */
    double sum = 0.0;
    for (int64_t i = 0; i < T * V; i++) sum += fabs(want.logits[i]);
    BN_CHECK(sum > 0.0);
    layout_run_free(&want);
    BN_CHECK_OK(bn_threadpool_destroy(tp));
    fixture_free(&ref);
    st_blob_close(&r);
}

BN_TEST(tq1_projections_equal_i2s_bit_for_bit) {
    /* all TQ1; then mixed per layer: layer 0 q, v, up, down TQ1 (k, o, gate I2_S), layer 1 the others */
    const uint64_t masks[2] = {(1u << 14) - 1, 0x65u | (0x1Au << 7)};
    check_tq1_equals_i2s(FIX("bitnet-tiny/packed"), masks, 2);
    const uint64_t all_small = (1u << 28) - 1;
    check_tq1_equals_i2s(FIX("bitnet-small/packed"), &all_small, 1);
}

/* The layout setter checks the layout, the layout's shape rule and the size, naming the projection. */
BN_TEST(projection_layout_is_checked) {
    bn_model_config cfg = {512, 256, 768, 2, 4, 2, 256, 500000.0f, 1e-5f, BN_ACT_RELU2, 0};
    bn_model* m = NULL;
    BN_CHECK_OK(bn_model_create(&cfg, &m));
    static uint8_t w[768 * 54]; /* gate (768, 256): one TQ1 block a row */
    BN_CHECK_OK(bn_model_set_projection_layout(m, 0, BN_PROJ_GATE, BN_TLAYOUT_TQ1, w, sizeof w, 0.5f));
    BN_CHECK_STATUS(bn_model_set_projection_layout(m, 1, BN_PROJ_GATE, BN_TLAYOUT_TQ1, w, sizeof w - 1, 0.5f),
                    BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_MSG(strstr(bn_last_error(), "layer 1 mlp.gate_proj (768 x 256) in layout 1 needs 41472 bytes, got 41471"),
                 "message: %s", bn_last_error());
    BN_CHECK_STATUS(bn_model_set_projection_layout(m, 0, BN_PROJ_UP, (bn_tlayout)7, w, sizeof w, 0.5f),
                    BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_MSG(strstr(bn_last_error(), "bn_model_set_projection_layout: layer 0 mlp.up_proj") &&
                     strstr(bn_last_error(), "unknown layout 7"),
                 "message: %s", bn_last_error());
    BN_CHECK_STATUS(bn_model_set_projection_layout(m, 0, BN_PROJ_UP, BN_TLAYOUT_TQ1, w, sizeof w, NAN),
                    BN_ERR_INVALID_ARGUMENT);
    /* I2_S through the layout setter is bn_model_set_projection */
    BN_CHECK_OK(bn_model_set_projection_layout(m, 0, BN_PROJ_UP, BN_TLAYOUT_I2S, w, 768 * 256 / 4, 0.5f));
    BN_CHECK_STATUS(bn_model_set_projection_layout(m, 0, BN_PROJ_UP, BN_TLAYOUT_I2S, w, 768 * 256 / 4 - 1, 0.5f),
                    BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_OK(bn_model_destroy(m));

    /* hidden 128: TQ1 blocks are 256 wide, so q (128, 128) cannot be TQ1; I2_S (blocks of 128) can */
    bn_model_config narrow = {512, 128, 256, 1, 2, 1, 64, 10000.0f, 1e-5f, BN_ACT_RELU2, 0};
    BN_CHECK_OK(bn_model_create(&narrow, &m));
    BN_CHECK_STATUS(bn_model_set_projection_layout(m, 0, BN_PROJ_Q, BN_TLAYOUT_TQ1, w, sizeof w, 0.5f), BN_ERR_SHAPE);
    BN_CHECK_MSG(strstr(bn_last_error(), "layer 0 self_attn.q_proj (128 x 128) in layout 1"), "message: %s",
                 bn_last_error());
    BN_CHECK_OK(bn_model_set_projection_layout(m, 0, BN_PROJ_Q, BN_TLAYOUT_I2S, w, 128 * 128 / 4, 0.5f));
    BN_CHECK_OK(bn_model_destroy(m));
}

/* An untied head replaces the embedding in the logits only: a head that is zero but for a row of ones gives
 * that row's logit = sum of the final hidden state and 0 elsewhere; unsetting it restores the tied logits. */
BN_TEST(untied_lm_head) {
    fixture f;
    if (!fixture_load(&f, FIX("bitnet-tiny/packed"), 1, -1, -1)) return;
    const int64_t V = f.cfg.vocab_size, C = f.cfg.hidden_size, L = f.cfg.n_layers;
    const int32_t ids[4] = {0, 7, 42, 9};
    float* head = calloc((size_t)(V * C), 4);
    float *tied = malloc((size_t)(4 * V) * 4), *got = malloc((size_t)(4 * V) * 4);
    float* hidden = malloc((size_t)((L + 1) * 4 * C) * 4);
    for (int64_t c = 0; c < C; c++) head[3 * C + c] = 1.0f;
    bn_context* ctx = new_ctx(&f, NULL, 0);
    if (ctx) {
        BN_CHECK_OK(bn_context_forward(ctx, ids, 4, tied, 4 * V, BN_LOGITS_ALL, NULL, 0));
        BN_CHECK_OK(bn_model_set_lm_head(f.model, BN_DTYPE_F32, head, V * C * 4));
        BN_CHECK_OK(bn_context_reset(ctx));
        BN_CHECK_OK(bn_context_forward(ctx, ids, 4, got, 4 * V, BN_LOGITS_ALL, hidden, (L + 1) * 4 * C));
        for (int64_t t = 0; t < 4; t++) {
            double sum = 0;
            for (int64_t c = 0; c < C; c++) sum += hidden[(L * 4 + t) * C + c];
            BN_CHECK_MSG(fabs(got[t * V + 3] - sum) <= 1e-4 * (1 + fabs(sum)), "row %lld: %g vs %g", (long long)t,
                         got[t * V + 3], sum);
            BN_CHECK(got[t * V + 0] == 0.0f && got[t * V + V - 1] == 0.0f);
        }
        BN_CHECK_STATUS(bn_model_set_lm_head(f.model, BN_DTYPE_F32, head, V * C * 4 - 1), BN_ERR_BUFFER_TOO_SMALL);
        BN_CHECK_OK(bn_model_set_lm_head(f.model, BN_DTYPE_F32, NULL, 0));
        BN_CHECK_OK(bn_context_reset(ctx));
        BN_CHECK_OK(bn_context_forward(ctx, ids, 4, got, 4 * V, BN_LOGITS_ALL, NULL, 0));
        BN_CHECK_MSG(memcmp(tied, got, (size_t)(4 * V) * 4) == 0, "tied logits changed after unsetting the head");
        BN_CHECK_OK(bn_context_destroy(ctx));
    }
    free(head), free(tied), free(got), free(hidden);
    fixture_free(&f);
}

BN_TEST(f16_kv_cache_meets_reference_tolerances) {
    fixture f;
    st_blob ref;
    const int32_t* ids = NULL;
    int64_t T = 0;
    if (!fixture_load(&f, FIX("bitnet-tiny/packed"), 1, -1, -1)) return;
    if (!tiny_ids(&ref, &ids, &T)) T = 0;
    BN_CHECK(T > 2);
    const int64_t V = f.cfg.vocab_size;
    const float* want = ref_f32(&ref, "logits", T * V);
    float* got = malloc((size_t)(T * V) * 4);
    bn_context* ctx = NULL;
    BN_CHECK_OK(bn_context_create(f.model, 64, BN_DTYPE_F16, 16, NULL, NULL, &ctx));
    if (ctx && want) {
        BN_CHECK_EQ_I64(bn_context_size(ctx), 64);
        BN_CHECK_OK(bn_context_forward(ctx, ids, T, got, T * V, BN_LOGITS_ALL, NULL, 0));
        check_logits("tiny/packed F16 KV", want, got, T, V);
        BN_CHECK_OK(bn_context_destroy(ctx));
    }
    free(got);
    st_blob_close(&ref);
    fixture_free(&f);
}

BN_TEST(context_limit_and_bad_input_change_nothing) {
    fixture f;
    if (!fixture_load(&f, FIX("bitnet-tiny/packed"), 1, -1, -1)) return;
    const int64_t V = f.cfg.vocab_size;
    bn_context* ctx = NULL;
    BN_CHECK_OK(bn_context_create(f.model, 8, BN_DTYPE_F32, 4, NULL, NULL, &ctx));
    float* logits = malloc((size_t)(8 * V) * 4);
    const int32_t ids[9] = {0, 5, 17, 99, 3, 42, 7, 11, 13};
    if (ctx) {
        BN_CHECK_OK(bn_context_forward(ctx, ids, 6, logits, 6 * V, BN_LOGITS_ALL, NULL, 0));
        BN_CHECK_STATUS(bn_context_forward(ctx, ids + 6, 3, logits, V, BN_LOGITS_LAST, NULL, 0), BN_ERR_SHAPE);
        BN_CHECK_MSG(strstr(bn_last_error(), "context full") != NULL, "message: %s", bn_last_error());
        BN_CHECK_EQ_I64(bn_context_position(ctx), 6);
        const int32_t bad[2] = {3, (int32_t)V};
        BN_CHECK_STATUS(bn_context_forward(ctx, bad, 2, logits, V, BN_LOGITS_LAST, NULL, 0), BN_ERR_INVALID_ARGUMENT);
        BN_CHECK_STATUS(bn_context_forward(ctx, ids, 1, logits, V - 1, BN_LOGITS_LAST, NULL, 0),
                        BN_ERR_BUFFER_TOO_SMALL);
        BN_CHECK_STATUS(bn_context_forward(ctx, ids, 1, NULL, 0, BN_LOGITS_LAST, NULL, 0), BN_ERR_INVALID_ARGUMENT);
        BN_CHECK_STATUS(bn_context_forward(ctx, ids, 1, NULL, 0, BN_LOGITS_NONE, logits, 1), BN_ERR_BUFFER_TOO_SMALL);
        BN_CHECK_EQ_I64(bn_context_position(ctx), 6);
        BN_CHECK_OK(bn_context_forward(ctx, ids + 6, 2, logits, V, BN_LOGITS_LAST, NULL, 0));
        BN_CHECK_EQ_I64(bn_context_position(ctx), 8);
        BN_CHECK_STATUS(bn_context_forward(ctx, ids + 8, 1, logits, V, BN_LOGITS_LAST, NULL, 0), BN_ERR_SHAPE);
        /* the model may not go while a context is on it */
        BN_CHECK_STATUS(bn_model_destroy(f.model), BN_ERR_INVALID_ARGUMENT);
        BN_CHECK_OK(bn_context_destroy(ctx));
    }
    ctx = NULL;
    BN_CHECK_STATUS(bn_context_create(f.model, f.cfg.max_positions + 1, BN_DTYPE_F32, 0, NULL, NULL, &ctx),
                    BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_context_create(f.model, 8, BN_DTYPE_Q8_0, 0, NULL, NULL, &ctx), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(ctx == NULL);
    free(logits);
    fixture_free(&f);
}

BN_TEST(missing_weight_is_named) {
    fixture f;
    if (!fixture_load(&f, FIX("bitnet-tiny/packed"), 1, 1, BN_PROJ_K)) return;
    BN_CHECK_STATUS(bn_model_check(f.model), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_MSG(strstr(bn_last_error(), "model.layers.1.self_attn.k_proj.weight") != NULL, "message: %s",
                 bn_last_error());
    bn_context* ctx = NULL;
    BN_CHECK_STATUS(bn_context_create(f.model, 0, BN_DTYPE_F32, 0, NULL, NULL, &ctx), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(ctx == NULL);
    fixture_free(&f);

    /* a fresh model names the embedding first */
    bn_model_config cfg = {512, 256, 768, 2, 4, 2, 256, 500000.0f, 1e-5f, BN_ACT_RELU2, 0};
    bn_model* m = NULL;
    BN_CHECK_OK(bn_model_create(&cfg, &m));
    BN_CHECK_STATUS(bn_model_check(m), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_MSG(strstr(bn_last_error(), "model.embed_tokens.weight") != NULL, "message: %s", bn_last_error());
    /* setters check shapes and sizes */
    static uint8_t w[768 * 256 / 4];
    static float norm[768];
    BN_CHECK_STATUS(bn_model_set_projection(m, 0, BN_PROJ_GATE, w, 768 * 256 / 4 - 1, 0.5f), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_model_set_projection(m, 2, BN_PROJ_Q, w, sizeof w, 0.5f), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_model_set_projection(m, 0, BN_PROJ_Q, w, sizeof w, 0.0f), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_OK(bn_model_set_projection(m, 0, BN_PROJ_GATE, w, sizeof w, 0.5f));
    BN_CHECK_STATUS(bn_model_set_norm(m, 0, BN_NORM_FFN_SUB, norm, 256), BN_ERR_SHAPE);
    BN_CHECK_OK(bn_model_set_norm(m, 0, BN_NORM_FFN_SUB, norm, 768));
    BN_CHECK_STATUS(bn_model_set_embedding(m, BN_DTYPE_F32, w, sizeof w), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_OK(bn_model_destroy(m));
}

BN_TEST(config_is_checked) {
    const bn_model_config good = {512, 256, 768, 2, 4, 2, 256, 500000.0f, 1e-5f, BN_ACT_RELU2, 0};
    bn_model* m = NULL;
    bn_model_config c = good;
    c.hidden_size = 200;
    BN_CHECK_STATUS(bn_model_create(&c, &m), BN_ERR_SHAPE);
    c = good, c.n_kv_heads = 3;
    BN_CHECK_STATUS(bn_model_create(&c, &m), BN_ERR_SHAPE);
    c = good, c.activation = 7;
    BN_CHECK_STATUS(bn_model_create(&c, &m), BN_ERR_INVALID_ARGUMENT);
    c = good, c.rope_theta = NAN;
    BN_CHECK_STATUS(bn_model_create(&c, &m), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(m == NULL);
    BN_CHECK_OK(bn_model_create(&good, &m));
    bn_model_config back;
    BN_CHECK_OK(bn_model_get_config(m, &back));
    BN_CHECK(memcmp(&back, &good, sizeof back) == 0);
    BN_CHECK_OK(bn_model_destroy(m));
}
