/* Internal: the model handle (config + references to caller-owned weights), shared by model.c and context.c. */
#ifndef BN_MODEL_MODEL_H
#define BN_MODEL_MODEL_H

#include <stdatomic.h>

#include "bitnet.h"

#define BN_N_PROJ 7
#define BN_N_NORM 4

typedef struct bn_layer_weights {
    const uint8_t* proj[BN_N_PROJ];    /* codes in proj_layout[i], (rows, cols) of bn_model_proj_shape */
    bn_tlayout proj_layout[BN_N_PROJ]; /* each projection's own layout (0 = BN_TLAYOUT_I2S until set) */
    float proj_scale[BN_N_PROJ];       /* w_scale = mean|W| */
    const float* norm[BN_N_NORM];      /* RMSNorm weights, indexed by bn_norm */
} bn_layer_weights;

struct bn_model {
    bn_model_config cfg;
    int64_t head_dim; /* hidden / n_heads */
    int64_t kv_dim;   /* n_kv_heads * head_dim */
    bn_layer_weights* layers; /* n_layers */
    const float* final_norm;  /* hidden */
    const void* embedding;    /* (vocab, hidden) of embedding_type; also the tied LM head */
    bn_dtype embedding_type;
    const void* lm_head;      /* (vocab, hidden) of lm_head_type: an untied head, or NULL (tied: the embedding) */
    bn_dtype lm_head_type;
    atomic_int n_contexts; /* live contexts: the model may not be destroyed under them */
};

/* (rows, cols) = (out, in) of a projection: the matmul's (M, K). */
/* The LM head the forward pass multiplies by: the untied head when set, else the embedding. */
static inline const void* bn_model_head(const bn_model* m) { return m->lm_head ? m->lm_head : m->embedding; }
static inline bn_dtype bn_model_head_type(const bn_model* m) { return m->lm_head ? m->lm_head_type : m->embedding_type; }

/* Checks of a config shared by bn_model_create and bn_trainer_create (heads, head_dim, positions, RoPE, epsilon,
 * activation, reserved); error messages start with `fn`. */
bn_status bn_model_config_check_heads(const bn_model_config* c, const char* fn);

void bn_model_proj_shape(const bn_model* m, bn_proj proj, int64_t* rows, int64_t* cols);

#endif
