/* The model handle: a checked config and references to weights the caller owns (nothing is copied). */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"

static const char* const proj_names[BN_N_PROJ] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                   "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                                   "mlp.down_proj"};
static const char* const norm_names[BN_N_NORM] = {"input_layernorm", "post_attention_layernorm",
                                                   "self_attn.attn_sub_norm", "mlp.ffn_sub_norm"};

void bn_model_proj_shape(const bn_model* m, bn_proj proj, int64_t* rows, int64_t* cols) {
    const int64_t C = m->cfg.hidden_size, F = m->cfg.ffn_size;
    switch (proj) {
    case BN_PROJ_K:
    case BN_PROJ_V: *rows = m->kv_dim, *cols = C; break;
    case BN_PROJ_GATE:
    case BN_PROJ_UP: *rows = F, *cols = C; break;
    case BN_PROJ_DOWN: *rows = C, *cols = F; break;
    default: *rows = C, *cols = C; break; /* q, o */
    }
}

/* The checks every user of a config makes (bn_model_create, bn_trainer_create): heads, head_dim, positions, RoPE,
 * epsilon, activation, reserved; errors name `fn`. */
bn_status bn_model_config_check_heads(const bn_model_config* c, const char* fn) {
    if (c->n_heads < 1 || c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads != 0)
        return bn_fail(BN_ERR_SHAPE, "%s: n_heads (%d) is not a positive multiple of n_kv_heads (%d)", fn,
                       c->n_heads, c->n_kv_heads);
    if (c->hidden_size % c->n_heads != 0)
        return bn_fail(BN_ERR_SHAPE, "%s: hidden_size (%lld) is not a multiple of n_heads (%d)", fn,
                       (long long)c->hidden_size, c->n_heads);
    const int64_t D = c->hidden_size / c->n_heads;
    if (D % 2 != 0 || D > 4096)
        return bn_fail(BN_ERR_SHAPE, "%s: head_dim (%lld) must be even and at most 4096", fn, (long long)D);
    if (c->max_positions < 1) return bn_fail(BN_ERR_SHAPE, "%s: max_positions (%d) < 1", fn, c->max_positions);
    BN_REQUIRE_ARG(isfinite(c->rope_theta) && c->rope_theta > 0.0f, "%s: rope_theta (%g) must be finite and > 0", fn,
                   (double)c->rope_theta);
    BN_REQUIRE_ARG(isfinite(c->rms_eps) && c->rms_eps >= 0.0f, "%s: rms_eps (%g) must be finite and >= 0", fn,
                   (double)c->rms_eps);
    BN_REQUIRE_ARG(c->activation == BN_ACT_RELU2 || c->activation == BN_ACT_SILU, "%s: unknown activation %d", fn,
                   c->activation);
    BN_REQUIRE_ARG(c->reserved == 0, "%s: reserved (%d) must be 0", fn, c->reserved);
    return BN_OK;
}

static bn_status check_config(const bn_model_config* c) {
    static const char fn[] = "bn_model_create";
    if (c->vocab_size < 1) return bn_fail(BN_ERR_SHAPE, "%s: vocab_size (%lld) < 1", fn, (long long)c->vocab_size);
    if (c->hidden_size < 128 || c->hidden_size % 128 != 0)
        return bn_fail(BN_ERR_SHAPE, "%s: hidden_size (%lld) is not a positive multiple of 128", fn,
                       (long long)c->hidden_size);
    if (c->ffn_size < 128 || c->ffn_size % 128 != 0)
        return bn_fail(BN_ERR_SHAPE, "%s: ffn_size (%lld) is not a positive multiple of 128", fn,
                       (long long)c->ffn_size);
    if (c->hidden_size > (1 << 22) || c->ffn_size > (1 << 22))
        return bn_fail(BN_ERR_SHAPE, "%s: hidden_size or ffn_size above 2^22", fn);
    if (c->n_layers < 1) return bn_fail(BN_ERR_SHAPE, "%s: n_layers (%d) < 1", fn, c->n_layers);
    return bn_model_config_check_heads(c, fn);
}

bn_status bn_model_create(const bn_model_config* config, bn_model** out) {
    BN_REQUIRE_ARG(out != NULL, "bn_model_create: out must not be null");
    *out = NULL;
    BN_REQUIRE_ARG(config != NULL, "bn_model_create: config must not be null");
    bn_status st = check_config(config);
    if (st != BN_OK) return st;
    bn_model* m = calloc(1, sizeof *m);
    bn_layer_weights* layers = calloc((size_t)config->n_layers, sizeof *layers);
    if (!m || !layers) {
        free(m), free(layers);
        return bn_fail(BN_ERR_OUT_OF_MEMORY, "bn_model_create: no memory for %d layers", config->n_layers);
    }
    m->cfg = *config;
    m->head_dim = config->hidden_size / config->n_heads;
    m->kv_dim = config->n_kv_heads * m->head_dim;
    m->layers = layers;
    atomic_init(&m->n_contexts, 0);
    *out = m;
    return BN_OK;
}

bn_status bn_model_destroy(bn_model* model) {
    BN_REQUIRE_ARG(model != NULL, "bn_model_destroy: model must not be null");
    int live = atomic_load(&model->n_contexts);
    BN_REQUIRE_ARG(live == 0, "bn_model_destroy: %d context(s) on this model are still alive", live);
    free(model->layers);
    free(model);
    return BN_OK;
}

bn_status bn_model_get_config(const bn_model* model, bn_model_config* out) {
    BN_REQUIRE_ARG(model != NULL && out != NULL, "bn_model_get_config: model and out must not be null");
    *out = model->cfg;
    return BN_OK;
}

static bn_status check_layer(const char* fn, const bn_model* m, int32_t layer) {
    BN_REQUIRE_ARG(m != NULL, "%s: model must not be null", fn);
    BN_REQUIRE_ARG(layer >= 0 && layer < m->cfg.n_layers, "%s: layer %d is outside 0..%d", fn, layer,
                   m->cfg.n_layers - 1);
    return BN_OK;
}

/* The checks and the store behind both projection setters; messages start with `fn`. */
static bn_status set_projection(const char* fn, bn_model* model, int32_t layer, bn_proj proj, bn_tlayout layout,
                                const uint8_t* weight, int64_t size, float w_scale) {
    bn_status st = check_layer(fn, model, layer);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG((int)proj >= 0 && (int)proj < BN_N_PROJ, "%s: unknown projection %d", fn, (int)proj);
    BN_REQUIRE_ARG(weight != NULL, "%s: weight of layer %d %s must not be null", fn, layer, proj_names[proj]);
    BN_REQUIRE_ARG(isfinite(w_scale) && w_scale > 0.0f, "%s: w_scale (%g) of layer %d %s must be finite and > 0", fn,
                   (double)w_scale, layer, proj_names[proj]);
    int64_t rows, cols;
    bn_model_proj_shape(model, proj, &rows, &cols);
    size_t need;
    st = bn_tmatmul_packed_size(layout, rows, cols, &need);
    if (st != BN_OK) /* an unknown layout, or a shape the layout cannot hold (TQ1: cols % 256) */
        return bn_fail(st, "%s: layer %d %s (%lld x %lld) in layout %d: %s", fn, layer, proj_names[proj],
                       (long long)rows, (long long)cols, (int)layout, bn_last_error());
    if (size < 0 || (uint64_t)size < (uint64_t)need)
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: layer %d %s (%lld x %lld) in layout %d needs %zu bytes, got %lld",
                       fn, layer, proj_names[proj], (long long)rows, (long long)cols, (int)layout, need,
                       (long long)size);
    model->layers[layer].proj[proj] = weight;
    model->layers[layer].proj_layout[proj] = layout;
    model->layers[layer].proj_scale[proj] = w_scale;
    return BN_OK;
}

bn_status bn_model_set_projection(bn_model* model, int32_t layer, bn_proj proj, const uint8_t* weight, int64_t size,
                                  float w_scale) {
    return set_projection("bn_model_set_projection", model, layer, proj, BN_TLAYOUT_I2S, weight, size, w_scale);
}

bn_status bn_model_set_projection_layout(bn_model* model, int32_t layer, bn_proj proj, bn_tlayout layout,
                                         const uint8_t* weight, int64_t size, float w_scale) {
    return set_projection("bn_model_set_projection_layout", model, layer, proj, layout, weight, size, w_scale);
}

bn_status bn_model_set_norm(bn_model* model, int32_t layer, bn_norm norm, const float* weight, int64_t n) {
    static const char fn[] = "bn_model_set_norm";
    bn_status st = check_layer(fn, model, layer);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG((int)norm >= 0 && (int)norm < BN_N_NORM, "%s: unknown norm %d", fn, (int)norm);
    BN_REQUIRE_ARG(weight != NULL, "%s: weight of layer %d %s must not be null", fn, layer, norm_names[norm]);
    const int64_t want = norm == BN_NORM_FFN_SUB ? model->cfg.ffn_size : model->cfg.hidden_size;
    if (n != want)
        return bn_fail(BN_ERR_SHAPE, "%s: layer %d %s has %lld values, expected %lld", fn, layer, norm_names[norm],
                       (long long)n, (long long)want);
    model->layers[layer].norm[norm] = weight;
    return BN_OK;
}

bn_status bn_model_set_final_norm(bn_model* model, const float* weight, int64_t n) {
    BN_REQUIRE_ARG(model != NULL && weight != NULL, "bn_model_set_final_norm: model and weight must not be null");
    if (n != model->cfg.hidden_size)
        return bn_fail(BN_ERR_SHAPE, "bn_model_set_final_norm: %lld values, expected %lld", (long long)n,
                       (long long)model->cfg.hidden_size);
    model->final_norm = weight;
    return BN_OK;
}

/* A (vocab, hidden) table of `type` in `size` bytes: checks the size for the function `fn` names. */
static bn_status check_table(const bn_model* model, const char* fn, bn_dtype type, int64_t size) {
    int64_t row;
    bn_status st = bn_dtype_row_size(type, model->cfg.hidden_size, &row);
    if (st != BN_OK) return st;
    const int64_t V = model->cfg.vocab_size;
    if (size < 0 || row > INT64_MAX / V || size < row * V)
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: (%lld, %lld) needs %lld bytes, got %lld", fn, (long long)V,
                       (long long)model->cfg.hidden_size, row > INT64_MAX / V ? -1LL : (long long)(row * V),
                       (long long)size);
    return BN_OK;
}

bn_status bn_model_set_embedding(bn_model* model, bn_dtype type, const void* table, int64_t size) {
    static const char fn[] = "bn_model_set_embedding";
    BN_REQUIRE_ARG(model != NULL && table != NULL, "%s: model and table must not be null", fn);
    bn_status st = check_table(model, fn, type, size);
    if (st != BN_OK) return st;
    model->embedding = table;
    model->embedding_type = type;
    return BN_OK;
}

bn_status bn_model_set_lm_head(bn_model* model, bn_dtype type, const void* table, int64_t size) {
    static const char fn[] = "bn_model_set_lm_head";
    BN_REQUIRE_ARG(model != NULL, "%s: model must not be null", fn);
    if (!table) { /* back to the tied head */
        model->lm_head = NULL;
        return BN_OK;
    }
    bn_status st = check_table(model, fn, type, size);
    if (st != BN_OK) return st;
    model->lm_head = table;
    model->lm_head_type = type;
    return BN_OK;
}

bn_status bn_model_check(const bn_model* model) {
    BN_REQUIRE_ARG(model != NULL, "bn_model_check: model must not be null");
    if (!model->embedding) return bn_fail(BN_ERR_INVALID_ARGUMENT, "model.embed_tokens.weight is not set");
    for (int32_t l = 0; l < model->cfg.n_layers; l++) {
        const bn_layer_weights* w = &model->layers[l];
        for (int i = 0; i < BN_N_NORM; i++)
            if (!w->norm[i])
                return bn_fail(BN_ERR_INVALID_ARGUMENT, "model.layers.%d.%s.weight is not set", l, norm_names[i]);
        for (int i = 0; i < BN_N_PROJ; i++)
            if (!w->proj[i])
                return bn_fail(BN_ERR_INVALID_ARGUMENT, "model.layers.%d.%s.weight is not set", l, proj_names[i]);
    }
    if (!model->final_norm) return bn_fail(BN_ERR_INVALID_ARGUMENT, "model.norm.weight is not set");
    return BN_OK;
}
