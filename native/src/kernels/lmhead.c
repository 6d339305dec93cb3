/* LM head: logits (T,V) = h (T,C) · Eᵀ with E (V,C) stored as any bn_dtype (tied to the embedding table in
 * BitNet b1.58; GGUF files keep it as Q6_K, Q4_K, Q8_0, F16 or BF16). Threads split E's rows; each thread reads
 * one row of E and dots it with every row of h while it is in cache.
 *
 * Q6_K tables take llama.cpp's integer path: each row of h is rounded once to ggml's Q8_K (8 bits per value, one
 * float scale per 256) and every logit is dot_q6_k_q8_k (kernels/dot_q8_k.h): integer multiply-adds per block and
 * one float step per block, the same bits on every instruction set (dot_q6_k_q8_k_x4 serves up to four tokens per
 * unpacking of a weight row). Rounding h moves each logit by at most sum_i |w_i| * |d8_i| / 2 (d8 = max|h| / 127 of
 * i's block), next to the weights' own 6-bit rounding. Other types, and an h holding a NaN or infinity, take the
 * float dot product of h's row with E's row as ggml dequantizes it (kernels/dot*.c). */
#include "core/error.h"
#include "kernels/kernels.h"
#include "kernels/tmatmul.h" /* BN_TM_PREFETCH */

#define LMHEAD_TOKENS 8
#define LMHEAD_STACK_BLOCKS 80 /* 23 KB: 8 tokens at C = 2560 */

typedef struct lmhead_job {
    bn_dtype type;
    const uint8_t* E;
    int64_t row_bytes, V, C, T;
    const float* h;
    const bn_block_q8_k* q; /* (T, C/256) Q8_K rows of h for the integer path, or NULL */
    float* logits;
} lmhead_job;

/* Rows of E ahead of the one being read that the float path prefetches (~16 KB at C = 2560 in Q6_K, as the ternary
 * GEMV): the head reads each row once per call, and the hardware prefetcher alone keeps too few lines in flight to
 * reach the read bandwidth (measured on 2 Xeon cores: 16.5 GB/s without, against 25 GB/s for the GEMVs). The
 * integer path's dots prefetch block by block themselves (BN_Q6_K_PREFETCH_BYTES, kernels/dot_q8_k.h). */
#define LMHEAD_PREFETCH_ROWS 8

static void prefetch_row(const lmhead_job* j, int64_t r) {
    if (r >= j->V) return;
    const uint8_t* p = j->E + r * j->row_bytes;
    for (int64_t o = 0; o < j->row_bytes; o += 64) BN_TM_PREFETCH(p + o);
}

static void lmhead_rows(void* ctx, int64_t r0, int64_t r1, int32_t worker) {
    (void)worker;
    const lmhead_job* j = (const lmhead_job*)ctx;
    if (j->q) {
        /* tokens in groups of LMHEAD_TOKENS: a group's Q8_K rows (23 KB at C = 2560) stay in L1 while the chunk's
         * weight rows (64 x 2100 bytes) stream past them from L2, so a long prompt does not re-read all T rows of
         * activations for every weight row */
        const int64_t nb = j->C / BN_Q8_K_BLOCK;
        for (int64_t t0 = 0; t0 < j->T; t0 += LMHEAD_TOKENS) {
            const int64_t t1 = t0 + LMHEAD_TOKENS < j->T ? t0 + LMHEAD_TOKENS : j->T;
            for (int64_t r = r0; r < r1; r++) {
                const void* row = j->E + r * j->row_bytes;
                for (int64_t t = t0; t < t1; t += 4) { /* up to 4 tokens per unpacking of the row */
                    const int32_t nt = (int32_t)(t1 - t < 4 ? t1 - t : 4);
                    float out[4];
                    if (nt == 1) out[0] = bn_kernels.dot_q6_k_q8_k(row, j->q + t * nb, j->C);
                    else bn_kernels.dot_q6_k_q8_k_x4(row, j->q + t * nb, nb, nt, j->C, out);
                    for (int32_t k = 0; k < nt; k++) j->logits[(t + k) * j->V + r] = out[k];
                }
            }
        }
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        const void* row = j->E + r * j->row_bytes;
        prefetch_row(j, r + LMHEAD_PREFETCH_ROWS);
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
    lmhead_job j = {type, (const uint8_t*)E, 0, V, C, T, h, NULL, logits};
    bn_status st = bn_dtype_row_size(type, C, &j.row_bytes);
    if (st != BN_OK) return st;
    bn_kernels_init();
    /* the Q8_K rows of h, T * C/256 blocks of 292 bytes: on the stack when they fit (decoding: T = the number of
     * sequences, up to 8 at C = 2560), so a forward call allocates nothing; else (all-logits prefill) from the
     * pool, whose thread cache makes that no system call after the first */
    bn_block_q8_k stack_q[LMHEAD_STACK_BLOCKS];
    bn_block_q8_k* q = NULL;
    const int64_t blocks = T * (C / BN_Q8_K_BLOCK);
    if (type == BN_DTYPE_Q6_K && T > 0 && V > 0) {
        if (blocks <= LMHEAD_STACK_BLOCKS) {
            q = stack_q;
        } else {
            st = bn_pool_alloc(bn_pool_default(), (size_t)blocks * sizeof *q, (void**)&q);
            if (st != BN_OK) return st;
        }
        int nonfinite = 0;
        for (int64_t t = 0; t < T && !nonfinite; t++)
            nonfinite = bn_quantize_row_q8_k(h + t * C, C, q + t * (C / BN_Q8_K_BLOCK));
        if (!nonfinite) j.q = q;
    }
    /* a few tokens (decode): E is read once, from memory, so the rows go in one contiguous range per thread
     * (bn_parallel_stream); a long prompt is bound by arithmetic and takes 64 rows a chunk, a few hundred KB of E,
     * enough work to hide the counter */
    st = T <= LMHEAD_TOKENS ? bn_parallel_stream(pool, V, lmhead_rows, &j)
                            : bn_threadpool_parallel_for(pool, V, 64, lmhead_rows, &j);
    if (q && q != stack_q) bn_pool_free(bn_pool_default(), q);
    return st;
}
