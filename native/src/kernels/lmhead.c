/* LM head: logits (T,V) = h (T,C) · Eᵀ with E (V,C) stored as any bn_dtype (tied to the embedding table in
 * BitNet b1.58; GGUF files keep it as Q6_K, Q4_K, Q8_0, F16 or BF16). Each logit is the float dot product of a row of
 * h with a row of E as ggml dequantizes it (kernels/dot*.c). Threads split E's rows; each thread reads one row
 * of E and dots it with every row of h while it is in cache. */
#include "core/error.h"
#include "kernels/kernels.h"

typedef struct lmhead_job {
    bn_dtype type;
    const uint8_t* E;
    int64_t row_bytes, V, C, T;
    const float* h;
    float* logits;
} lmhead_job;

static void lmhead_rows(void* ctx, int64_t r0, int64_t r1, int32_t worker) {
    (void)worker;
    const lmhead_job* j = (const lmhead_job*)ctx;
    for (int64_t r = r0; r < r1; r++) {
        const void* row = j->E + r * j->row_bytes;
        for (int64_t t = 0; t < j->T; t++) {
            const float* x = j->h + t * j->C;
            float v = 0.0f;
            switch (j->type) {
            case BN_DTYPE_F32: v = bn_kernels.dot_f32(x, (const float*)row, j->C); break;
            case BN_DTYPE_F16: v = bn_kernels.dot_f16(x, (const uint16_t*)row, j->C); break;
            case BN_DTYPE_BF16: v = bn_kernels.dot_bf16(x, (const uint16_t*)row, j->C); break;
            case BN_DTYPE_Q8_0: v = bn_kernels.dot_q8_0(x, row, j->C); break;
            case BN_DTYPE_Q6_K: v = bn_kernels.dot_q6_k(x, row, j->C); break;
            case BN_DTYPE_Q4_K: v = bn_kernels.dot_q4_k(x, row, j->C); break;
            }
            j->logits[t * j->V + r] = v;
        }
    }
}

// h (T,C), E (V,C) -> logits (T,V)
bn_status bn_lm_head(bn_dtype type, const void* E, int64_t V, int64_t C, const float* h, int64_t T, float* logits,
                     bn_threadpool* pool) {
    BN_REQUIRE_ARG(E != NULL && h != NULL && logits != NULL, "bn_lm_head: E, h and logits must not be null");
    BN_REQUIRE_ARG(V >= 0 && C > 0 && T >= 0, "bn_lm_head: V (%lld) and T (%lld) must be >= 0, C (%lld) > 0",
                   (long long)V, (long long)T, (long long)C);
    lmhead_job j = {type, (const uint8_t*)E, 0, V, C, T, h, logits};
    bn_status st = bn_dtype_row_size(type, C, &j.row_bytes);
    if (st != BN_OK) return st;
    bn_kernels_init();
    /* 64 rows a chunk: a few hundred KB of E, enough work to hide the counter */
    return bn_threadpool_parallel_for(pool, V, 64, lmhead_rows, &j);
}
