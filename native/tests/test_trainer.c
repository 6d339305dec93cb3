/* The trainer (train/trainer.c): at blend 1 its logits are bn_context_forward's on the tiny fixture's master weights
 * (and within the README tolerances of the HF reference); its whole-model gradient at blend 0 matches central
 * finite differences; it memorises a batch; results do not depend on the thread count; two micro-batches at
 * grad_scale 0.5 equal one batch of both; the optimizer's per-tensor decay; bad arguments are refused by name. */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"
#include "safetensors_reader.h"

#define FIX(p) BN_FIXTURES_DIR "/" p

/* ---- helpers ----------------------------------------------------------------------------------------------- */

static bn_model_config make_config(int64_t V, int64_t C, int64_t F, int32_t L, int32_t H, int32_t Hkv, int32_t P) {
    bn_model_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = V, c.hidden_size = C, c.ffn_size = F, c.n_layers = L, c.n_heads = H, c.n_kv_heads = Hkv;
    c.max_positions = P, c.rope_theta = 500000.0f, c.rms_eps = 1e-5f, c.activation = BN_ACT_RELU2;
    return c;
}

/* The tiny fixture's config (fixtures README: vocab 512, hidden 256, ffn 768, 2 layers, 4 / 2 heads). */
static bn_model_config tiny_config(void) { return make_config(512, 256, 768, 2, 4, 2, 256); }

static int64_t tensor_n(const bn_trainer* tr, int32_t i) {
    int64_t r = 0, c = 0;
    BN_CHECK_OK(bn_trainer_tensor_info(tr, i, NULL, &r, &c, NULL));
    return r * c;
}

static int64_t max_tensor_n(const bn_trainer* tr) {
    int64_t mx = 0;
    for (int32_t i = 0; i < bn_trainer_tensor_count(tr); i++)
        if (tensor_n(tr, i) > mx) mx = tensor_n(tr, i);
    return mx;
}

/* Random weights: matrices uniform in ±scale, norms uniform in [0.8, 1.2] (not 1, so norm mistakes show). */
static void init_random(bn_trainer* tr, uint64_t seed, float scale) {
    uint64_t st = seed;
    float* buf = malloc((size_t)max_tensor_n(tr) * sizeof(float));
    for (int32_t i = 0; i < bn_trainer_tensor_count(tr); i++) {
        int64_t rows = 0, cols = 0;
        BN_CHECK_OK(bn_trainer_tensor_info(tr, i, NULL, &rows, &cols, NULL));
        for (int64_t k = 0; k < rows * cols; k++)
            buf[k] = rows == 1 ? bn_test_rand_float(&st, 0.8f, 1.2f) : bn_test_rand_float(&st, -scale, scale);
        BN_CHECK_OK(bn_trainer_write(tr, BN_TRAIN_PARAM, i, buf, rows * cols));
    }
    free(buf);
}

/* Copies every tensor of `from`'s buffer `which` into `to` (same config). */
static void copy_buffer(const bn_trainer* from, bn_trainer* to, bn_train_buffer which) {
    float* buf = malloc((size_t)max_tensor_n(from) * sizeof(float));
    for (int32_t i = 0; i < bn_trainer_tensor_count(from); i++) {
        BN_CHECK_OK(bn_trainer_read(from, which, i, buf, tensor_n(from, i)));
        BN_CHECK_OK(bn_trainer_write(to, which, i, buf, tensor_n(from, i)));
    }
    free(buf);
}

/* Every float of buffer `which`, tensor after tensor (caller frees). */
static float* read_all(const bn_trainer* tr, bn_train_buffer which, int64_t* total) {
    int64_t n = 0;
    for (int32_t i = 0; i < bn_trainer_tensor_count(tr); i++) n += tensor_n(tr, i);
    float* out = malloc((size_t)n * sizeof(float));
    int64_t o = 0;
    for (int32_t i = 0; i < bn_trainer_tensor_count(tr); i++) {
        BN_CHECK_OK(bn_trainer_read(tr, which, i, out + o, tensor_n(tr, i)));
        o += tensor_n(tr, i);
    }
    *total = n;
    return out;
}

static void random_tokens(uint64_t* st, int32_t* ids, int64_t n, int64_t V) {
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)(bn_test_rand_u64(st) % (uint64_t)V);
}

/* ---- 1. blend 1 == inference ------------------------------------------------------------------------------ */

static const char* const proj_names[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                          "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                          "mlp.down_proj"};
static const char* const norm_names[4] = {"input_layernorm", "post_attention_layernorm", "self_attn.attn_sub_norm",
                                          "mlp.ffn_sub_norm"};

/* A bn_model of master weights quantized as HF's online WeightQuant (as test_model.c does), the buffers it
 * references in owned[] (caller frees). */
static bn_model* build_model(const st_blob* w, const bn_model_config* cfg, void** owned, int* n_owned) {
    bn_model* m = NULL;
    BN_CHECK_OK(bn_model_create(cfg, &m));
    if (!m) return NULL;
    st_view v;
    memset(&v, 0, sizeof v);
    char name[160];
    for (int32_t l = 0; l < cfg->n_layers; l++) {
        for (int p = 0; p < 7; p++) {
            snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, proj_names[p]);
            BN_CHECK(st_find(w, name, &v) && strcmp(v.dtype, "F32") == 0);
            const int64_t rows = v.shape[0], cols = v.shape[1];
            int64_t size = 0;
            BN_CHECK_OK(bn_format_packed_size(BN_FORMAT_I2_S_X86, rows, cols, &size));
            uint8_t* dst = malloc((size_t)size);
            int8_t* codes = malloc((size_t)(rows * cols));
            float* wf = malloc((size_t)(rows * cols) * sizeof(float));
            memcpy(wf, v.data, (size_t)(rows * cols) * sizeof(float));
            float s = 0.0f;
            BN_CHECK_OK(bn_quantize_ternary_absmean(wf, rows, cols, BN_GRANULARITY_TENSOR, 0, codes, rows * cols, &s, 1));
            float w_scale = 1.0f / s;
            BN_CHECK_OK(bn_format_pack(BN_FORMAT_I2_S_X86, codes, rows, cols, &w_scale, 1, dst, size));
            BN_CHECK_OK(bn_model_set_projection(m, l, (bn_proj)p, dst, size, w_scale));
            free(codes), free(wf);
            owned[(*n_owned)++] = dst;
        }
        for (int n = 0; n < 4; n++) {
            snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, norm_names[n]);
            BN_CHECK(st_find(w, name, &v));
            float* x = malloc(v.nbytes);
            memcpy(x, v.data, v.nbytes);
            BN_CHECK_OK(bn_model_set_norm(m, l, (bn_norm)n, x, (int64_t)(v.nbytes / 4)));
            owned[(*n_owned)++] = x;
        }
    }
    BN_CHECK(st_find(w, "model.norm.weight", &v));
    float* fn = malloc(v.nbytes);
    memcpy(fn, v.data, v.nbytes);
    BN_CHECK_OK(bn_model_set_final_norm(m, fn, (int64_t)(v.nbytes / 4)));
    owned[(*n_owned)++] = fn;
    BN_CHECK(st_find(w, "model.embed_tokens.weight", &v));
    float* e = malloc(v.nbytes);
    memcpy(e, v.data, v.nbytes);
    BN_CHECK_OK(bn_model_set_embedding(m, BN_DTYPE_F32, e, (int64_t)v.nbytes));
    owned[(*n_owned)++] = e;
    BN_CHECK_OK(bn_model_check(m));
    return m;
}

/* The master embedding table (V, C) floats. */
static const void* master_embedding(const st_blob* w) {
    st_view v;
    memset(&v, 0, sizeof v);
    BN_CHECK(st_find(w, "model.embed_tokens.weight", &v) && strcmp(v.dtype, "F32") == 0);
    return v.data;
}

/* Every trainer tensor from the master safetensors by its HF name. */
static void load_master(bn_trainer* tr, const st_blob* w) {
    for (int32_t i = 0; i < bn_trainer_tensor_count(tr); i++) {
        const char* name = NULL;
        int64_t rows = 0, cols = 0;
        BN_CHECK_OK(bn_trainer_tensor_info(tr, i, &name, &rows, &cols, NULL));
        st_view v;
        memset(&v, 0, sizeof v);
        const int ok = st_find(w, name, &v) && strcmp(v.dtype, "F32") == 0 && v.nbytes == (size_t)(rows * cols) * 4;
        BN_CHECK_MSG(ok, "master weights have no F32 %s of %lld floats", name, (long long)(rows * cols));
        if (ok) BN_CHECK_OK(bn_trainer_write(tr, BN_TRAIN_PARAM, i, v.data, rows * cols));
    }
}

/* README tolerances for logits (T, V) against the reference: mean KL <= 1e-3, max |Δ| <= 0.25, top-1 equal
 * where the reference's top-2 margin > 0.1. */
static void check_reference(const char* what, const float* ref, const float* got, int64_t T, int64_t V) {
    double max_abs = 0.0, kl_sum = 0.0;
    int bad = 0, checked = 0;
    for (int64_t t = 0; t < T; t++) {
        const float *r = ref + t * V, *g = got + t * V;
        double mr = -INFINITY, mg = -INFINITY, second = -INFINITY, zr = 0.0, zg = 0.0, kl = 0.0;
        int64_t ar = 0, ag = 0;
        for (int64_t i = 0; i < V; i++) {
            double d = fabs((double)r[i] - g[i]);
            if (!(d <= max_abs)) max_abs = d;
            if (r[i] > mr) mr = r[i], ar = i;
            if (g[i] > mg) mg = g[i], ag = i;
        }
        for (int64_t i = 0; i < V; i++) {
            zr += exp(r[i] - mr), zg += exp(g[i] - mg);
            if (i != ar && r[i] > second) second = r[i];
        }
        for (int64_t i = 0; i < V; i++) {
            double lr = r[i] - mr - log(zr), lg = g[i] - mg - log(zg);
            kl += exp(lr) * (lr - lg);
        }
        kl_sum += kl;
        if (mr - second > 0.1) checked++, bad += ar != ag;
    }
    printf("  %-34s max|dlogit| %.4f  mean KL %.3g  top-1 %d/%d\n", what, max_abs, kl_sum / (double)T, checked - bad,
           checked);
    BN_CHECK_MSG(max_abs <= 0.25, "%s: max |dlogit| %g > 0.25", what, max_abs);
    BN_CHECK_MSG(kl_sum / (double)T <= 1e-3, "%s: mean KL %g > 1e-3", what, kl_sum / (double)T);
    BN_CHECK_MSG(bad == 0, "%s: top-1 differs on %d of %d confident rows", what, bad, checked);
}

/* max |a - b| and whether every bit is equal. */
static double max_diff(const float* a, const float* b, int64_t n, int* identical) {
    double mx = 0.0;
    *identical = memcmp(a, b, (size_t)n * sizeof(float)) == 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= mx)) mx = d;
    }
    return mx;
}

BN_TEST(blend1_logits_equal_inference_on_fixture) {
    st_blob w, ref;
    if (!st_blob_open(FIX("bitnet-tiny/master/model.safetensors"), &w) ||
        !st_blob_open(FIX("bitnet-tiny/reference-master.safetensors"), &ref)) {
        BN_CHECK_MSG(0, "cannot read the bitnet-tiny fixtures under %s", BN_FIXTURES_DIR);
        return;
    }
    const bn_model_config cfg = tiny_config();
    const int64_t V = cfg.vocab_size;
    void* owned[64];
    int n_owned = 0;
    bn_model* model = build_model(&w, &cfg, owned, &n_owned);
    st_view iv, bv, lv, blv;
    memset(&iv, 0, sizeof iv), memset(&bv, 0, sizeof bv), memset(&lv, 0, sizeof lv), memset(&blv, 0, sizeof blv);
    if (!st_find(&ref, "input_ids", &iv) || !st_find(&ref, "batch_input_ids", &bv) || bv.rank != 2 ||
        !st_find(&ref, "logits", &lv) || !st_find(&ref, "batch_logits", &blv)) {
        BN_CHECK_MSG(0, "reference-master.safetensors lacks input_ids, batch_input_ids, logits or batch_logits");
        return;
    }
    const int32_t* ids = iv.data;
    const int64_t T = (int64_t)(iv.nbytes / 4), BB = bv.shape[0], BT = bv.shape[1];
    const int32_t* bids = bv.data;

    bn_threadpool* tp = NULL;
    BN_CHECK_OK(bn_threadpool_create(2, &tp));
    bn_context* ctx = NULL;
    BN_CHECK_OK(bn_context_create(model, 0, BN_DTYPE_F32, 0, NULL, tp, &ctx));
    bn_trainer* tr = NULL;
    BN_CHECK_OK(bn_trainer_create(&cfg, BB, T, NULL, tp, &tr));
    if (!ctx || !tr) goto done;
    load_master(tr, &w);

    float* want = malloc((size_t)(T * V) * sizeof(float));
    float* got = malloc((size_t)(BB * T * V) * sizeof(float));
    int identical = 0;
    /* one sequence of the reference's input_ids */
    const int64_t C = cfg.hidden_size, L = cfg.n_layers;
    float* hidden = malloc((size_t)((L + 1) * T * C) * sizeof(float));
    float* via_sgemm = malloc((size_t)(T * V) * sizeof(float));
    BN_CHECK_OK(bn_context_forward(ctx, ids, T, want, T * V, BN_LOGITS_ALL, hidden, (L + 1) * T * C));
    BN_CHECK_OK(bn_trainer_evaluate(tr, ids, NULL, 1, T, 1.0f, NULL, NULL, got, T * V));
    double d = max_diff(want, got, T * V, &identical);
    printf("  trainer vs bn_context_forward, T=%lld: max|d| %.3g (%s)\n", (long long)T, d,
           identical ? "bit-identical" : "not bit-identical");
    BN_CHECK_MSG(d <= 1e-5, "trainer logits differ from inference by %g > 1e-5", d);
    /* The only difference is the LM head's summation order (bn_lm_head's per-row dot products vs the trainer's
     * bn_sgemm): the trainer's logits are bn_sgemm of inference's final hidden state, bit for bit, so every layer
     * before it (int8 quantization, ternary matmuls, RoPE, attention, norms) computed the same bits. */
    BN_CHECK_OK(bn_sgemm(0, 1, T, V, C, 1.0f, hidden + L * T * C, C, (const float*)master_embedding(&w), C, 0.0f,
                         via_sgemm, V, NULL));
    BN_CHECK_MSG(memcmp(via_sgemm, got, (size_t)(T * V) * sizeof(float)) == 0,
                 "trainer logits are not bn_sgemm of inference's final hidden state bit for bit (max|d| %g)",
                 max_diff(via_sgemm, got, T * V, &identical));
    free(hidden), free(via_sgemm);
    check_reference("trainer vs HF reference (input_ids)", lv.data, got, T, V);

    /* the reference batch as one (B, T) micro-batch: each row as inference computes that sequence alone */
    BN_CHECK_OK(bn_trainer_evaluate(tr, bids, NULL, BB, BT, 1.0f, NULL, NULL, got, BB * BT * V));
    for (int64_t b = 0; b < BB; b++) {
        BN_CHECK_OK(bn_context_reset(ctx));
        BN_CHECK_OK(bn_context_forward(ctx, bids + b * BT, BT, want, BT * V, BN_LOGITS_ALL, NULL, 0));
        d = max_diff(want, got + b * BT * V, BT * V, &identical);
        printf("  trainer batch row %lld vs bn_context_forward: max|d| %.3g (%s)\n", (long long)b, d,
               identical ? "bit-identical" : "not bit-identical");
        BN_CHECK_MSG(d <= 1e-5, "batch row %lld: trainer logits differ from inference by %g", (long long)b, d);
        char what[64];
        snprintf(what, sizeof what, "trainer vs HF reference (batch %lld)", (long long)b);
        check_reference(what, (const float*)blv.data + b * BT * V, got + b * BT * V, BT, V);
    }
    free(want), free(got);
done:
    if (tr) BN_CHECK_OK(bn_trainer_destroy(tr));
    if (ctx) BN_CHECK_OK(bn_context_destroy(ctx));
    if (model) BN_CHECK_OK(bn_model_destroy(model));
    for (int i = 0; i < n_owned; i++) free(owned[i]);
    bn_threadpool_destroy(tp);
    st_blob_close(&w), st_blob_close(&ref);
}

/* ---- 2. gradient vs central finite differences at blend 0 -------------------------------------------------- */

/* Mean cross-entropy over counted targets, from the trainer's float logits but summed in double (log-sum-exp in
 * double), so the finite differences see the logits' rounding only, not the loss's. */
static double loss_double(bn_trainer* tr, const int32_t* in, const int32_t* tg, int64_t B, int64_t T, int64_t V,
                          float* logits) {
    BN_CHECK_OK(bn_trainer_evaluate(tr, in, tg, B, T, 0.0f, NULL, NULL, logits, B * T * V));
    double sum = 0.0;
    int64_t n = 0;
    for (int64_t i = 0; i < B * T; i++) {
        if (tg[i] < 0) continue;
        const float* row = logits + i * V;
        double mx = row[0], z = 0.0;
        for (int64_t j = 1; j < V; j++) mx = row[j] > mx ? row[j] : mx;
        for (int64_t j = 0; j < V; j++) z += exp((double)row[j] - mx);
        sum += mx + log(z) - (double)row[tg[i]];
        n++;
    }
    return sum / (double)n;
}

static const float* g_sort_key; /* qsort has no context argument */
static int by_abs_desc(const void* a, const void* b) {
    const float x = fabsf(g_sort_key[*(const int64_t*)a]), y = fabsf(g_sort_key[*(const int64_t*)b]);
    return (x < y) - (x > y);
}

BN_TEST(gradient_matches_finite_differences_at_blend0) {
    st_blob w;
    if (!st_blob_open(FIX("bitnet-tiny/master/model.safetensors"), &w)) {
        BN_CHECK_MSG(0, "cannot read the bitnet-tiny master weights under %s", BN_FIXTURES_DIR);
        return;
    }
    const bn_model_config cfg = tiny_config();
    const int64_t B = 2, T = 8, V = cfg.vocab_size;
    bn_trainer* tr = NULL;
    BN_CHECK_OK(bn_trainer_create(&cfg, B, T, NULL, NULL, &tr));
    if (!tr) return;
    load_master(tr, &w);
    uint64_t st = 0x9e3779b97f4a7c15ull;
    int32_t in[16], tg[16];
    random_tokens(&st, in, B * T, V);
    random_tokens(&st, tg, B * T, V);
    tg[5] = -1; /* an ignored target */
    float loss = 0.0f;
    BN_CHECK_OK(bn_trainer_zero_grad(tr));
    BN_CHECK_OK(bn_trainer_forward_backward(tr, in, tg, B, T, 0.0f, 1.0f, &loss));
    float* logits = malloc((size_t)(B * T * V) * sizeof(float));
    const double base = loss_double(tr, in, tg, B, T, V, logits);
    printf("  loss %.6f (float, trainer) %.9f (double from logits)\n", (double)loss, base);
    BN_CHECK(fabs(base - loss) < 1e-4);

    /* one tensor of every kind: the embedding, the five norms, the seven projections (layers alternate) */
    static const char* const kinds[] = {
        "model.embed_tokens.weight",
        "model.layers.0.input_layernorm.weight",  "model.layers.1.self_attn.attn_sub_norm.weight",
        "model.layers.0.post_attention_layernorm.weight", "model.layers.1.mlp.ffn_sub_norm.weight",
        "model.norm.weight",
        "model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
        "model.layers.0.self_attn.v_proj.weight", "model.layers.1.self_attn.o_proj.weight",
        "model.layers.0.mlp.gate_proj.weight",    "model.layers.1.mlp.up_proj.weight",
        "model.layers.0.mlp.down_proj.weight"};
    /* The five-point stencil, with eps 3e-2 where |g| < 0.1 and 1e-2 above: the float noise of the loss (~1e-6)
     * over eps must stay below 1e-3 of the gradient, and its O(eps^4) truncation error too (the embedding's
     * largest gradients, ~0.9, curve enough to reach 1.4e-3 at 3e-2). Measured: the plain three-point difference
     * at eps 1e-2 and 1e-3 gives 2e-3 .. 6e-2, bound by that noise. */
    /* Under qemu (the arm64 suites set BN_QEMU_CPU) a forward pass is ~100x slower: 5 coordinates per kind keep
     * the case inside ctest's time limit and still cover every kind. */
    const int coords_per_kind = getenv("BN_QEMU_CPU") ? 5 : 20;
    double worst = 0.0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        int32_t idx = -1;
        BN_CHECK_OK(bn_trainer_find_tensor(tr, kinds[k], &idx));
        if (idx < 0) continue;
        const int64_t n = tensor_n(tr, idx);
        float* p = malloc((size_t)n * sizeof(float));
        float* g = malloc((size_t)n * sizeof(float));
        BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_PARAM, idx, p, n));
        BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_GRAD, idx, g, n));
        /* 20 coordinates drawn among the tensor's 100 largest |gradient|s: a wrong gradient formula is wrong there
         * too, and there the finite difference stands clear of the forward's float noise (the loss moves by ~1e-6
         * under rounding alone, which swamps gradients below ~1e-3 at any usable eps) */
        int64_t* order = malloc((size_t)n * sizeof(int64_t));
        for (int64_t i = 0; i < n; i++) order[i] = i;
        g_sort_key = g;
        qsort(order, (size_t)n, sizeof *order, by_abs_desc);
        const int64_t top = n < 100 ? n : 100;
        const double gmax = fabs(g[order[0]]);
        double kind_worst = 0.0, err2 = 0.0, ref2 = 0.0;
        int sampled = 0;
        for (; sampled < coords_per_kind; sampled++) {
            const int64_t i = order[bn_test_rand_u64(&st) % (uint64_t)top];
            const float eps = fabsf(g[i]) < 0.1f ? 3e-2f : 1e-2f;
            /* five-point central difference, truncation error O(eps^4) */
            double l[4];
            static const double k_off[4] = {2.0, 1.0, -1.0, -2.0};
            const float orig = p[i];
            for (int j = 0; j < 4; j++) {
                p[i] = orig + (float)k_off[j] * eps;
                BN_CHECK_OK(bn_trainer_write(tr, BN_TRAIN_PARAM, idx, p, n));
                l[j] = loss_double(tr, in, tg, B, T, V, logits);
            }
            p[i] = orig;
            const double fd = (8.0 * (l[1] - l[2]) - (l[0] - l[3])) / (12.0 * (double)eps);
            const double rel = fabs(fd - g[i]) / fmax(fabs(fd), fabs(g[i]));
            if (!(rel <= kind_worst)) kind_worst = rel;
            err2 += (fd - g[i]) * (fd - g[i]);
            ref2 += fd * fd;
        }
        /* The bound is on the sampled coordinates' error vector relative to the finite differences' (an L2 ratio):
         * a wrong formula is off by O(1) there, while a single coordinate's relative error is noise-bound where
         * |g| is small (1.04e-3 on attn_sub_norm's gradients of ~0.03 under arm64, 7e-4 on x86). */
        const double kind_rel = ref2 > 0 ? sqrt(err2 / ref2) : sqrt(err2);
        free(order);
        BN_CHECK_OK(bn_trainer_write(tr, BN_TRAIN_PARAM, idx, p, n));
        printf("  %-48s max|g| %.3g  %d coords  L2 rel err %.2e  (worst coordinate %.2e)\n", kinds[k], gmax, sampled,
               kind_rel, kind_worst);
        BN_CHECK_MSG(kind_rel <= 1e-3, "%s: gradient relative error %g > 1e-3", kinds[k], kind_rel);
        if (kind_rel > worst) worst = kind_rel;
        free(p), free(g);
    }
    printf("  worst L2 relative error %.2e\n", worst);
    free(logits);
    BN_CHECK_OK(bn_trainer_destroy(tr));
    st_blob_close(&w);
}

/* ---- 3. memorisation at blend 1 ---------------------------------------------------------------------------- */

static bn_optimizer_params adamw(float lr, float wd, int64_t step) {
    bn_optimizer_params p;
    memset(&p, 0, sizeof p);
    p.kind = BN_OPT_ADAMW, p.lr = lr, p.beta1 = 0.9f, p.beta2 = 0.95f, p.eps = 1e-8f, p.weight_decay = wd;
    p.step = step;
    return p;
}

/* Norms and the embedding exempt from weight decay, as usual for LLM training. */
static void decay_projections_only(bn_trainer* tr) {
    for (int32_t i = 0; i < bn_trainer_tensor_count(tr); i++) {
        int32_t tern = 0;
        BN_CHECK_OK(bn_trainer_tensor_info(tr, i, NULL, NULL, NULL, &tern));
        BN_CHECK_OK(bn_trainer_set_decay(tr, i, tern ? 1.0f : 0.0f));
    }
}

BN_TEST(memorises_a_batch_at_blend1) {
    const bn_model_config cfg = make_config(64, 128, 256, 2, 2, 1, 64);
    const int64_t B = 4, T = 16, V = cfg.vocab_size;
    bn_threadpool* tp = NULL;
    BN_CHECK_OK(bn_threadpool_create(2, &tp));
    bn_trainer* tr = NULL;
    BN_CHECK_OK(bn_trainer_create(&cfg, B, T, NULL, tp, &tr));
    if (!tr) return;
    init_random(tr, 7, 0.05f);
    decay_projections_only(tr);
    uint64_t st = 42;
    int32_t seq[4 * 17], in[4 * 16], tg[4 * 16];
    random_tokens(&st, seq, B * (T + 1), V);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) in[b * T + t] = seq[b * (T + 1) + t], tg[b * T + t] = seq[b * (T + 1) + t + 1];
    float first = 0.0f, loss = 0.0f;
    int step = 0;
    for (step = 1; step <= 400; step++) {
        BN_CHECK_OK(bn_trainer_zero_grad(tr));
        BN_CHECK_OK(bn_trainer_forward_backward(tr, in, tg, B, T, 1.0f, 1.0f, &loss));
        if (step == 1) first = loss;
        if (step % 50 == 1) printf("  step %3d loss %.4f\n", step, (double)loss);
        if (loss < 0.03f) break;
        double norm = 0.0;
        BN_CHECK_OK(bn_trainer_grad_norm(tr, &norm));
        if (norm > 1.0) BN_CHECK_OK(bn_trainer_scale_grads(tr, (float)(1.0 / norm))); /* clip at 1 */
        const bn_optimizer_params p = adamw(3e-3f, 0.01f, step);
        BN_CHECK_OK(bn_trainer_optimizer_step(tr, &p));
    }
    float eval = 0.0f;
    int64_t counted = 0;
    BN_CHECK_OK(bn_trainer_evaluate(tr, in, tg, B, T, 1.0f, &eval, &counted, NULL, 0));
    printf("  step %3d loss %.4f (first %.4f; evaluate %.4f over %lld targets)\n", step, (double)loss, (double)first,
           (double)eval, (long long)counted);
    BN_CHECK(first > 3.0f); /* about ln 64 = 4.16 at the start */
    BN_CHECK_MSG(eval < 0.05f, "loss %g did not fall below 0.05", (double)eval);
    BN_CHECK_EQ_I64(counted, B * T);
    BN_CHECK_OK(bn_trainer_destroy(tr));
    bn_threadpool_destroy(tp);
}

/* ---- 4. thread-count independence ------------------------------------------------------------------------- */

BN_TEST(one_and_two_threads_give_the_same_bits) {
    const bn_model_config cfg = make_config(300, 128, 384, 2, 4, 2, 32);
    const int64_t B = 3, T = 11, V = cfg.vocab_size;
    bn_threadpool *tp1 = NULL, *tp2 = NULL;
    BN_CHECK_OK(bn_threadpool_create(1, &tp1));
    BN_CHECK_OK(bn_threadpool_create(2, &tp2));
    bn_trainer *a = NULL, *b = NULL;
    BN_CHECK_OK(bn_trainer_create(&cfg, B, T, NULL, tp1, &a));
    BN_CHECK_OK(bn_trainer_create(&cfg, B, T, NULL, tp2, &b));
    if (!a || !b) return;
    init_random(a, 11, 0.05f);
    copy_buffer(a, b, BN_TRAIN_PARAM);
    uint64_t st = 5;
    int32_t in[33], tg[33];
    random_tokens(&st, in, B * T, V);
    random_tokens(&st, tg, B * T, V);
    tg[3] = tg[20] = -1;
    const float blends[] = {1.0f, 0.5f, 0.0f};
    for (int k = 0; k < 3; k++) {
        float la = 0.0f, lb = 0.0f;
        for (int s = 1; s <= 2; s++) { /* two steps, so the optimizer state and the update are compared too */
            BN_CHECK_OK(bn_trainer_zero_grad(a));
            BN_CHECK_OK(bn_trainer_zero_grad(b));
            BN_CHECK_OK(bn_trainer_forward_backward(a, in, tg, B, T, blends[k], 1.0f, &la));
            BN_CHECK_OK(bn_trainer_forward_backward(b, in, tg, B, T, blends[k], 1.0f, &lb));
            BN_CHECK_MSG(memcmp(&la, &lb, sizeof la) == 0, "blend %g: loss %.9g (1 thread) != %.9g (2 threads)",
                         (double)blends[k], (double)la, (double)lb);
            int64_t n = 0;
            float* ga = read_all(a, BN_TRAIN_GRAD, &n);
            float* gb = read_all(b, BN_TRAIN_GRAD, &n);
            BN_CHECK_MSG(memcmp(ga, gb, (size_t)n * sizeof(float)) == 0, "blend %g: gradients differ in bits",
                         (double)blends[k]);
            double na = 0.0, nb = 0.0;
            BN_CHECK_OK(bn_trainer_grad_norm(a, &na));
            BN_CHECK_OK(bn_trainer_grad_norm(b, &nb));
            BN_CHECK(memcmp(&na, &nb, sizeof na) == 0 && na > 0.0);
            const bn_optimizer_params p = adamw(1e-3f, 0.1f, 2 * k + s);
            BN_CHECK_OK(bn_trainer_optimizer_step(a, &p));
            BN_CHECK_OK(bn_trainer_optimizer_step(b, &p));
            float* pa = read_all(a, BN_TRAIN_PARAM, &n);
            float* pb = read_all(b, BN_TRAIN_PARAM, &n);
            BN_CHECK_MSG(memcmp(pa, pb, (size_t)n * sizeof(float)) == 0, "blend %g: updated params differ in bits",
                         (double)blends[k]);
            free(ga), free(gb), free(pa), free(pb);
        }
        printf("  blend %.1f: loss %.6f, equal bits on 1 and 2 threads\n", (double)blends[k], (double)la);
    }
    BN_CHECK_OK(bn_trainer_destroy(a));
    BN_CHECK_OK(bn_trainer_destroy(b));
    bn_threadpool_destroy(tp1);
    bn_threadpool_destroy(tp2);
}

/* ---- 5. gradient accumulation ------------------------------------------------------------------------------ */

BN_TEST(two_micro_batches_at_half_scale_equal_one_batch) {
    const bn_model_config cfg = make_config(200, 128, 256, 2, 2, 2, 16);
    const int64_t B = 2, T = 9, V = cfg.vocab_size;
    bn_trainer *micro = NULL, *whole = NULL;
    BN_CHECK_OK(bn_trainer_create(&cfg, B, T, NULL, NULL, &micro));
    BN_CHECK_OK(bn_trainer_create(&cfg, 2 * B, T, NULL, NULL, &whole));
    if (!micro || !whole) return;
    init_random(micro, 3, 0.05f);
    copy_buffer(micro, whole, BN_TRAIN_PARAM);
    uint64_t st = 77;
    int32_t in[36], tg[36];
    random_tokens(&st, in, 2 * B * T, V);
    random_tokens(&st, tg, 2 * B * T, V);
    tg[4] = tg[4 + B * T] = -1; /* the same count of targets in each half, so the means weigh alike */
    const float blends[] = {1.0f, 0.3f};
    for (int k = 0; k < 2; k++) {
        float l1 = 0.0f, l2 = 0.0f, lw = 0.0f;
        BN_CHECK_OK(bn_trainer_zero_grad(micro));
        BN_CHECK_OK(bn_trainer_forward_backward(micro, in, tg, B, T, blends[k], 0.5f, &l1));
        BN_CHECK_OK(bn_trainer_forward_backward(micro, in + B * T, tg + B * T, B, T, blends[k], 0.5f, &l2));
        BN_CHECK_OK(bn_trainer_zero_grad(whole));
        BN_CHECK_OK(bn_trainer_forward_backward(whole, in, tg, 2 * B, T, blends[k], 1.0f, &lw));
        BN_CHECK_MSG(fabs(0.5 * (l1 + l2) - lw) <= 1e-5 * fabs(lw), "blend %g: mean of micro losses %.7g vs %.7g",
                     (double)blends[k], 0.5 * (l1 + l2), (double)lw);
        double worst = 0.0;
        for (int32_t i = 0; i < bn_trainer_tensor_count(micro); i++) {
            const int64_t n = tensor_n(micro, i);
            float* ga = malloc((size_t)n * sizeof(float));
            float* gb = malloc((size_t)n * sizeof(float));
            BN_CHECK_OK(bn_trainer_read(micro, BN_TRAIN_GRAD, i, ga, n));
            BN_CHECK_OK(bn_trainer_read(whole, BN_TRAIN_GRAD, i, gb, n));
            double mx = 0.0, d = 0.0;
            for (int64_t j = 0; j < n; j++) {
                mx = fmax(mx, fabs(gb[j]));
                d = fmax(d, fabs((double)ga[j] - gb[j]));
            }
            BN_CHECK(mx > 0.0);
            worst = fmax(worst, d / mx);
            free(ga), free(gb);
        }
        printf("  blend %.1f: loss %.6f, max |Δgrad| / max |grad| per tensor %.2e\n", (double)blends[k], (double)lw,
               worst);
        BN_CHECK_MSG(worst <= 1e-5, "blend %g: accumulated gradients differ by %g of the largest", (double)blends[k],
                     worst);
    }
    BN_CHECK_OK(bn_trainer_destroy(micro));
    BN_CHECK_OK(bn_trainer_destroy(whole));
}

/* ---- the optimizer, the prepared-weight cache, tensor bookkeeping ----------------------------------------- */

BN_TEST(optimizer_step_per_tensor_decay_and_sgd) {
    const bn_model_config cfg = make_config(16, 128, 128, 1, 2, 2, 8);
    bn_trainer* tr = NULL;
    BN_CHECK_OK(bn_trainer_create(&cfg, 1, 4, NULL, NULL, &tr));
    if (!tr) return;
    init_random(tr, 9, 0.1f);
    /* known gradients: 0.01 * (i % 7 - 3) */
    for (int32_t i = 0; i < bn_trainer_tensor_count(tr); i++) {
        const int64_t n = tensor_n(tr, i);
        float* g = malloc((size_t)n * sizeof(float));
        for (int64_t j = 0; j < n; j++) g[j] = 0.01f * (float)(j % 7 - 3);
        BN_CHECK_OK(bn_trainer_write(tr, BN_TRAIN_GRAD, i, g, n));
        free(g);
    }
    int32_t norm = -1, q = -1;
    BN_CHECK_OK(bn_trainer_find_tensor(tr, "model.layers.0.input_layernorm.weight", &norm));
    BN_CHECK_OK(bn_trainer_find_tensor(tr, "model.layers.0.self_attn.q_proj.weight", &q));
    BN_CHECK_OK(bn_trainer_set_decay(tr, norm, 0.0f));
    BN_CHECK_OK(bn_trainer_set_decay(tr, q, 2.0f));
    const int64_t nn = tensor_n(tr, norm), nq = tensor_n(tr, q);
    float *p0n = malloc((size_t)nn * 4), *p1n = malloc((size_t)nn * 4), *p0q = malloc((size_t)nq * 4),
          *p1q = malloc((size_t)nq * 4), *g = malloc((size_t)nq * 4);
    BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_PARAM, norm, p0n, nn));
    BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_PARAM, q, p0q, nq));
    /* SGD without momentum: p -= lr * (g + wd * decay * p) */
    bn_optimizer_params p;
    memset(&p, 0, sizeof p);
    p.kind = BN_OPT_SGD, p.lr = 0.5f, p.weight_decay = 0.1f, p.step = 1;
    BN_CHECK_OK(bn_trainer_optimizer_step(tr, &p));
    BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_PARAM, norm, p1n, nn));
    BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_PARAM, q, p1q, nq));
    BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_GRAD, q, g, nq));
    double dn = 0.0, dq = 0.0;
    for (int64_t j = 0; j < nn; j++) {
        const double want = p0n[j] - 0.5 * (0.01 * (double)(j % 7 - 3)); /* decay multiplier 0 */
        dn = fmax(dn, fabs(p1n[j] - want));
    }
    for (int64_t j = 0; j < nq; j++) {
        const double want = p0q[j] - 0.5 * ((double)g[j] + 0.1 * 2.0 * p0q[j]); /* multiplier 2 */
        dq = fmax(dq, fabs(p1q[j] - want));
    }
    printf("  SGD: max |p - want| norm %.2g, q_proj %.2g\n", dn, dq);
    BN_CHECK(dn <= 1e-6 && dq <= 1e-6);
    /* AdamW at step 1 moves every coordinate with a nonzero gradient by about lr (m/sqrt(v) = sign(g)) */
    const bn_optimizer_params a = adamw(1e-2f, 0.0f, 1);
    BN_CHECK_OK(bn_trainer_optimizer_step(tr, &a));
    BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_PARAM, q, p0q, nq));
    double worst = 0.0;
    for (int64_t j = 0; j < nq; j++) {
        const double want = p1q[j] - (g[j] > 0 ? 1e-2 : g[j] < 0 ? -1e-2 : 0.0);
        worst = fmax(worst, fabs(p0q[j] - want));
    }
    float* m1 = malloc((size_t)nq * 4);
    BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_MOMENT1, q, m1, nq));
    printf("  AdamW step 1: max |p - (p - lr sign g)| %.2g, m[1] %.4g (g %.4g)\n", worst, (double)m1[1], (double)g[1]);
    BN_CHECK(worst <= 1e-6);
    BN_CHECK(fabs(m1[1] - 0.1 * g[1]) <= 1e-8);
    free(p0n), free(p1n), free(p0q), free(p1q), free(g), free(m1);
    BN_CHECK_OK(bn_trainer_destroy(tr));
}

BN_TEST(new_weights_are_used_by_the_next_pass) {
    const bn_model_config cfg = make_config(32, 128, 128, 1, 2, 1, 8);
    const int64_t T = 6, V = cfg.vocab_size;
    bn_trainer* tr = NULL;
    BN_CHECK_OK(bn_trainer_create(&cfg, 1, T, NULL, NULL, &tr));
    if (!tr) return;
    /* a new trainer holds zeros in every buffer */
    int64_t n = 0;
    float* z = read_all(tr, BN_TRAIN_MOMENT2, &n);
    int nonzero = 0;
    for (int64_t i = 0; i < n; i++) nonzero += z[i] != 0.0f;
    BN_CHECK(nonzero == 0 && n > 0);
    free(z);
    init_random(tr, 21, 0.1f);
    int32_t in[6] = {1, 5, 9, 2, 31, 0};
    float *l1 = malloc((size_t)(T * V) * 4), *l2 = malloc((size_t)(T * V) * 4), *l3 = malloc((size_t)(T * V) * 4);
    BN_CHECK_OK(bn_trainer_evaluate(tr, in, NULL, 1, T, 1.0f, NULL, NULL, l1, T * V));
    int32_t q = -1;
    BN_CHECK_OK(bn_trainer_find_tensor(tr, "model.layers.0.self_attn.v_proj.weight", &q));
    const int64_t nq = tensor_n(tr, q);
    float *w = malloc((size_t)nq * 4), *w2 = malloc((size_t)nq * 4);
    BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_PARAM, q, w, nq));
    for (int64_t i = 0; i < nq; i++) w2[i] = -w[i];
    BN_CHECK_OK(bn_trainer_write(tr, BN_TRAIN_PARAM, q, w2, nq));
    BN_CHECK_OK(bn_trainer_evaluate(tr, in, NULL, 1, T, 1.0f, NULL, NULL, l2, T * V));
    BN_CHECK_MSG(memcmp(l1, l2, (size_t)(T * V) * 4) != 0, "a written weight did not change the logits");
    BN_CHECK_OK(bn_trainer_write(tr, BN_TRAIN_PARAM, q, w, nq));
    BN_CHECK_OK(bn_trainer_evaluate(tr, in, NULL, 1, T, 1.0f, NULL, NULL, l3, T * V));
    BN_CHECK_MSG(memcmp(l1, l3, (size_t)(T * V) * 4) == 0, "restoring the weight did not restore the logits");
    /* another blend, then back */
    BN_CHECK_OK(bn_trainer_evaluate(tr, in, NULL, 1, T, 0.0f, NULL, NULL, l2, T * V));
    BN_CHECK(memcmp(l1, l2, (size_t)(T * V) * 4) != 0);
    BN_CHECK_OK(bn_trainer_evaluate(tr, in, NULL, 1, T, 1.0f, NULL, NULL, l3, T * V));
    BN_CHECK(memcmp(l1, l3, (size_t)(T * V) * 4) == 0);
    /* an optimizer step changes the weights the next pass uses */
    int32_t tg[6] = {5, 9, 2, 31, 0, 1};
    float loss0 = 0.0f, loss1 = 0.0f;
    BN_CHECK_OK(bn_trainer_forward_backward(tr, in, tg, 1, T, 1.0f, 1.0f, &loss0));
    const bn_optimizer_params p = adamw(1e-2f, 0.0f, 1);
    BN_CHECK_OK(bn_trainer_optimizer_step(tr, &p));
    BN_CHECK_OK(bn_trainer_evaluate(tr, in, tg, 1, T, 1.0f, &loss1, NULL, NULL, 0));
    printf("  loss %.5f -> %.5f after one AdamW step\n", (double)loss0, (double)loss1);
    BN_CHECK(loss1 < loss0);
    free(l1), free(l2), free(l3), free(w), free(w2);
    BN_CHECK_OK(bn_trainer_destroy(tr));
}

/* Shapes inference cannot run (hidden, ffn not multiples of 128): the projections stay in float at blend 1. */
BN_TEST(trains_shapes_without_i2s_blocks) {
    const bn_model_config cfg = make_config(40, 64, 96, 1, 2, 1, 12);
    const int64_t B = 2, T = 12, V = cfg.vocab_size;
    bn_trainer* tr = NULL;
    BN_CHECK_OK(bn_trainer_create(&cfg, B, T, NULL, NULL, &tr));
    if (!tr) return;
    init_random(tr, 33, 0.1f);
    uint64_t st = 8;
    int32_t in[24], tg[24];
    random_tokens(&st, in, B * T, V);
    random_tokens(&st, tg, B * T, V);
    float first = 0.0f, loss = 0.0f;
    for (int step = 1; step <= 30; step++) {
        BN_CHECK_OK(bn_trainer_zero_grad(tr));
        BN_CHECK_OK(bn_trainer_forward_backward(tr, in, tg, B, T, 1.0f, 1.0f, &loss));
        if (step == 1) first = loss;
        const bn_optimizer_params p = adamw(1e-2f, 0.0f, step);
        BN_CHECK_OK(bn_trainer_optimizer_step(tr, &p));
    }
    printf("  hidden 64, ffn 96: loss %.4f -> %.4f in 30 steps at blend 1\n", (double)first, (double)loss);
    BN_CHECK(isfinite(loss) && loss < 0.5f * first);
    BN_CHECK_OK(bn_trainer_destroy(tr));
}

BN_TEST(tensors_in_hf_order) {
    const bn_model_config cfg = make_config(100, 128, 256, 2, 4, 2, 16);
    bn_trainer* tr = NULL;
    BN_CHECK_OK(bn_trainer_create(&cfg, 2, 8, NULL, NULL, &tr));
    if (!tr) return;
    BN_CHECK_EQ_I64(bn_trainer_tensor_count(tr), 1 + 11 * 2 + 1);
    static const char* const layer0[11] = {
        "model.layers.0.input_layernorm.weight",   "model.layers.0.self_attn.q_proj.weight",
        "model.layers.0.self_attn.k_proj.weight",  "model.layers.0.self_attn.v_proj.weight",
        "model.layers.0.self_attn.o_proj.weight",  "model.layers.0.self_attn.attn_sub_norm.weight",
        "model.layers.0.post_attention_layernorm.weight", "model.layers.0.mlp.gate_proj.weight",
        "model.layers.0.mlp.up_proj.weight",       "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.mlp.ffn_sub_norm.weight"};
    static const int64_t shapes[11][2] = {{1, 128},  {128, 128}, {64, 128}, {64, 128},  {128, 128}, {1, 128},
                                          {1, 128},  {256, 128}, {256, 128}, {128, 256}, {1, 256}};
    const char* name = NULL;
    int64_t r = 0, c = 0;
    int32_t tern = -1, idx = -1;
    BN_CHECK_OK(bn_trainer_tensor_info(tr, 0, &name, &r, &c, &tern));
    BN_CHECK(strcmp(name, "model.embed_tokens.weight") == 0 && r == 100 && c == 128 && tern == 0);
    for (int k = 0; k < 11; k++) {
        BN_CHECK_OK(bn_trainer_tensor_info(tr, 1 + k, &name, &r, &c, &tern));
        BN_CHECK_MSG(strcmp(name, layer0[k]) == 0 && r == shapes[k][0] && c == shapes[k][1], "tensor %d: %s (%lld, %lld)",
                     1 + k, name, (long long)r, (long long)c);
        BN_CHECK(tern == (shapes[k][0] > 1));
    }
    BN_CHECK_OK(bn_trainer_tensor_info(tr, 23, &name, &r, &c, &tern));
    BN_CHECK(strcmp(name, "model.norm.weight") == 0 && r == 1 && c == 128 && tern == 0);
    for (int32_t i = 0; i < bn_trainer_tensor_count(tr); i++) {
        BN_CHECK_OK(bn_trainer_tensor_info(tr, i, &name, NULL, NULL, NULL));
        BN_CHECK_OK(bn_trainer_find_tensor(tr, name, &idx));
        BN_CHECK_EQ_I64(idx, i);
    }
    /* read / write round trip in every buffer, and buffers are separate */
    for (int which = BN_TRAIN_PARAM; which <= BN_TRAIN_MOMENT2; which++) {
        float x[128], y[128];
        for (int j = 0; j < 128; j++) x[j] = (float)(which * 1000 + j);
        BN_CHECK_OK(bn_trainer_write(tr, (bn_train_buffer)which, 23, x, 128));
        BN_CHECK_OK(bn_trainer_read(tr, (bn_train_buffer)which, 23, y, 128));
        BN_CHECK(memcmp(x, y, sizeof x) == 0);
    }
    float y[128];
    BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_GRAD, 23, y, 128));
    BN_CHECK(y[5] == 1005.0f);
    BN_CHECK_OK(bn_trainer_zero_grad(tr));
    BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_GRAD, 23, y, 128));
    BN_CHECK(y[5] == 0.0f);
    BN_CHECK_OK(bn_trainer_read(tr, BN_TRAIN_MOMENT1, 23, y, 128));
    BN_CHECK(y[5] == 2005.0f);
    BN_CHECK_OK(bn_trainer_destroy(tr));
}

/* ---- 6. errors --------------------------------------------------------------------------------------------- */

#define CHECK_ERR(expr, status, text)                                                                          \
    do {                                                                                                       \
        BN_CHECK_STATUS(expr, status);                                                                         \
        BN_CHECK_MSG(strstr(bn_last_error(), text) != NULL, "message '%s' does not name '%s'", bn_last_error(), \
                     text);                                                                                    \
    } while (0)

BN_TEST(bad_arguments_are_refused_by_name) {
    bn_model_config cfg = make_config(50, 128, 256, 1, 2, 1, 16);
    bn_trainer* tr = NULL;
    /* creation */
    CHECK_ERR(bn_trainer_create(&cfg, 2, 17, NULL, NULL, &tr), BN_ERR_SHAPE, "seq_len (17)");
    BN_CHECK(tr == NULL);
    CHECK_ERR(bn_trainer_create(&cfg, 0, 8, NULL, NULL, &tr), BN_ERR_SHAPE, "batch (0)");
    CHECK_ERR(bn_trainer_create(NULL, 2, 8, NULL, NULL, &tr), BN_ERR_INVALID_ARGUMENT, "config");
    bn_model_config bad = cfg;
    bad.n_heads = 3;
    CHECK_ERR(bn_trainer_create(&bad, 2, 8, NULL, NULL, &tr), BN_ERR_SHAPE, "n_heads (3)");
    bad = cfg, bad.activation = 7;
    CHECK_ERR(bn_trainer_create(&bad, 2, 8, NULL, NULL, &tr), BN_ERR_INVALID_ARGUMENT, "activation 7");
    bad = cfg, bad.rope_theta = 0.0f;
    CHECK_ERR(bn_trainer_create(&bad, 2, 8, NULL, NULL, &tr), BN_ERR_INVALID_ARGUMENT, "rope_theta");
    BN_CHECK_OK(bn_trainer_create(&cfg, 2, 8, NULL, NULL, &tr));
    if (!tr) return;
    init_random(tr, 1, 0.1f);

    int32_t in[24] = {0}, tg[24] = {0};
    float loss = 0.0f, logits[16 * 50];
    CHECK_ERR(bn_trainer_forward_backward(tr, in, tg, 3, 8, 1.0f, 1.0f, &loss), BN_ERR_SHAPE, "B (3)");
    CHECK_ERR(bn_trainer_forward_backward(tr, in, tg, 1, 9, 1.0f, 1.0f, &loss), BN_ERR_SHAPE, "T (9)");
    CHECK_ERR(bn_trainer_forward_backward(tr, in, tg, 0, 8, 1.0f, 1.0f, &loss), BN_ERR_SHAPE, "B (0)");
    in[11] = 50;
    CHECK_ERR(bn_trainer_forward_backward(tr, in, tg, 2, 8, 1.0f, 1.0f, &loss), BN_ERR_INVALID_ARGUMENT,
              "inputs[1][3] (id 50)");
    in[11] = -2;
    CHECK_ERR(bn_trainer_evaluate(tr, in, tg, 2, 8, 1.0f, &loss, NULL, NULL, 0), BN_ERR_INVALID_ARGUMENT,
              "inputs[1][3] (id -2)");
    in[11] = 0;
    tg[6] = -2;
    CHECK_ERR(bn_trainer_forward_backward(tr, in, tg, 2, 8, 1.0f, 1.0f, &loss), BN_ERR_INVALID_ARGUMENT,
              "targets[0][6] (id -2)");
    tg[6] = 0;
    CHECK_ERR(bn_trainer_forward_backward(tr, in, tg, 2, 8, 1.5f, 1.0f, &loss), BN_ERR_INVALID_ARGUMENT, "blend");
    CHECK_ERR(bn_trainer_forward_backward(tr, in, tg, 2, 8, NAN, 1.0f, &loss), BN_ERR_INVALID_ARGUMENT, "blend");
    CHECK_ERR(bn_trainer_forward_backward(tr, in, tg, 2, 8, 1.0f, INFINITY, &loss), BN_ERR_INVALID_ARGUMENT,
              "grad_scale");
    CHECK_ERR(bn_trainer_forward_backward(tr, in, NULL, 2, 8, 1.0f, 1.0f, &loss), BN_ERR_INVALID_ARGUMENT, "targets");
    CHECK_ERR(bn_trainer_forward_backward(tr, NULL, tg, 2, 8, 1.0f, 1.0f, &loss), BN_ERR_INVALID_ARGUMENT, "inputs");
    CHECK_ERR(bn_trainer_evaluate(tr, in, tg, 2, 8, 1.0f, &loss, NULL, logits, 16 * 50 - 1), BN_ERR_BUFFER_TOO_SMALL,
              "logits");
    /* every target ignored: loss 0, nothing learnt */
    int32_t none[16];
    for (int i = 0; i < 16; i++) none[i] = -1;
    int64_t counted = 7;
    BN_CHECK_OK(bn_trainer_zero_grad(tr));
    BN_CHECK_OK(bn_trainer_forward_backward(tr, in, none, 2, 8, 1.0f, 1.0f, &loss));
    BN_CHECK(loss == 0.0f);
    double norm = 1.0;
    BN_CHECK_OK(bn_trainer_grad_norm(tr, &norm));
    BN_CHECK(norm == 0.0);
    BN_CHECK_OK(bn_trainer_evaluate(tr, in, none, 2, 8, 1.0f, &loss, &counted, NULL, 0));
    BN_CHECK(loss == 0.0f && counted == 0);

    /* tensors */
    float buf[256];
    CHECK_ERR(bn_trainer_read(tr, BN_TRAIN_PARAM, 1, buf, 127), BN_ERR_SHAPE,
              "model.layers.0.input_layernorm.weight is (1, 128) = 128 floats, n is 127");
    CHECK_ERR(bn_trainer_write(tr, BN_TRAIN_GRAD, 0, buf, 256), BN_ERR_SHAPE, "model.embed_tokens.weight");
    CHECK_ERR(bn_trainer_read(tr, BN_TRAIN_PARAM, 13, buf, 128), BN_ERR_INVALID_ARGUMENT, "tensor index 13");
    CHECK_ERR(bn_trainer_read(tr, BN_TRAIN_PARAM, -1, buf, 128), BN_ERR_INVALID_ARGUMENT, "tensor index -1");
    CHECK_ERR(bn_trainer_read(tr, (bn_train_buffer)4, 1, buf, 128), BN_ERR_INVALID_ARGUMENT, "unknown buffer 4");
    CHECK_ERR(bn_trainer_write(tr, BN_TRAIN_PARAM, 1, NULL, 128), BN_ERR_INVALID_ARGUMENT, "null");
    int32_t idx = -1;
    CHECK_ERR(bn_trainer_find_tensor(tr, "model.layers.1.input_layernorm.weight", &idx), BN_ERR_INVALID_ARGUMENT,
              "no tensor named 'model.layers.1.input_layernorm.weight'");
    CHECK_ERR(bn_trainer_tensor_info(tr, 99, NULL, NULL, NULL, NULL), BN_ERR_INVALID_ARGUMENT, "tensor index 99");
    CHECK_ERR(bn_trainer_set_decay(tr, 1, -1.0f), BN_ERR_INVALID_ARGUMENT, "input_layernorm");
    CHECK_ERR(bn_trainer_scale_grads(tr, NAN), BN_ERR_INVALID_ARGUMENT, "factor");

    /* a NaN weight is named when the step prepares it */
    int32_t q = -1;
    BN_CHECK_OK(bn_trainer_find_tensor(tr, "model.layers.0.self_attn.q_proj.weight", &q));
    float* w = calloc(128 * 128, sizeof(float));
    w[77] = NAN;
    BN_CHECK_OK(bn_trainer_write(tr, BN_TRAIN_PARAM, q, w, 128 * 128));
    CHECK_ERR(bn_trainer_forward_backward(tr, in, tg, 2, 8, 1.0f, 1.0f, &loss), BN_ERR_NUMERIC,
              "model.layers.0.self_attn.q_proj.weight");
    free(w);

    /* the optimizer's settings are checked before anything changes */
    bn_optimizer_params p = adamw(1e-3f, 0.0f, 0);
    CHECK_ERR(bn_trainer_optimizer_step(tr, &p), BN_ERR_INVALID_ARGUMENT, "step (0)");
    p = adamw(1e-3f, 0.0f, 1), p.kind = 5;
    CHECK_ERR(bn_trainer_optimizer_step(tr, &p), BN_ERR_INVALID_ARGUMENT, "kind 5");
    p = adamw(-1.0f, 0.0f, 1);
    CHECK_ERR(bn_trainer_optimizer_step(tr, &p), BN_ERR_INVALID_ARGUMENT, "lr");
    p = adamw(1e-3f, 0.0f, 1), p.beta2 = 1.0f;
    CHECK_ERR(bn_trainer_optimizer_step(tr, &p), BN_ERR_INVALID_ARGUMENT, "beta2");
    CHECK_ERR(bn_trainer_optimizer_step(tr, NULL), BN_ERR_INVALID_ARGUMENT, "params");
    BN_CHECK_STATUS(bn_trainer_destroy(NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_EQ_I64(bn_trainer_tensor_count(NULL), 0);
    BN_CHECK_OK(bn_trainer_destroy(tr));
}
