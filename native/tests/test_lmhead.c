/* LM head (kernels/lmhead.c): logits for every stored type against a dequantize-then-naive double reference
 * (tolerance 1e-5 of sum |h_i * w_i|, see forward_variants.h), and threaded equal to serial bit for bit. */
#include <stdlib.h>

#include "forward_variants.h"
#include "safetensors_reader.h"

static void check_type(bn_dtype type, int64_t V, int64_t C, int64_t T, bn_threadpool* pool, uint64_t* rng) {
    float* w = malloc((size_t)(V * C) * sizeof *w);
    float* deq = malloc((size_t)(V * C) * sizeof *deq);
    float* h = malloc((size_t)(T * C) * sizeof *h);
    float* a = malloc((size_t)(T * V) * sizeof *a);
    float* b = malloc((size_t)(T * V) * sizeof *b);
    fv_fill(w, V * C, rng, -0.1f, 0.1f);
    fv_fill(h, T * C, rng, -3.0f, 3.0f);
    int64_t rb;
    BN_CHECK_OK(bn_dtype_row_size(type, C, &rb));
    uint8_t* E = malloc((size_t)(V * rb));
    BN_CHECK_OK(bn_dtype_quantize_ref(type, w, V, C, E, V * rb));
    BN_CHECK_OK(bn_dtype_dequantize(type, E, V * rb, V, C, deq));
    BN_CHECK_OK(bn_lm_head(type, E, V, C, h, T, a, NULL));
    int bad = 0;
    for (int64_t t = 0; t < T && bad < 3; t++)
        for (int64_t r = 0; r < V && bad < 3; r++) {
            double want = 0, mag = 0;
            for (int64_t i = 0; i < C; i++) {
                want += (double)h[t * C + i] * deq[r * C + i];
                mag += fabs((double)h[t * C + i] * deq[r * C + i]);
            }
            if (!FV_CLOSE(a[t * V + r], want, mag, "type %d t=%lld r=%lld: %g vs %g", (int)type, (long long)t,
                          (long long)r, a[t * V + r], want))
                bad++;
        }
    BN_CHECK_OK(bn_lm_head(type, E, V, C, h, T, b, pool));
    BN_CHECK_MSG(memcmp(a, b, (size_t)(T * V) * sizeof *a) == 0, "type %d: threaded differs from serial", (int)type);
    free(w), free(deq), free(h), free(a), free(b), free(E);
}

BN_TEST(every_type_matches_dequantized_reference) {
    bn_threadpool* pool;
    BN_CHECK_OK(bn_threadpool_create(3, &pool));
    uint64_t rng = 5150;
    const bn_dtype types[] = {BN_DTYPE_F32, BN_DTYPE_F16, BN_DTYPE_BF16, BN_DTYPE_Q8_0, BN_DTYPE_Q6_K};
    for (int ti = 0; ti < 5; ti++) {
        check_type(types[ti], 301, 512, 3, pool, &rng);
        check_type(types[ti], 7, 256, 1, pool, &rng);
        if (ti < 3) check_type(types[ti], 65, 75, 2, pool, &rng); /* C not a multiple of any vector width */
    }
    check_type(BN_DTYPE_Q8_0, 40, 2560 + 32, 2, pool, &rng);
    BN_CHECK_OK(bn_threadpool_destroy(pool));
}

BN_TEST(errors) {
    float h[64] = {0}, logits[4];
    uint8_t E[1024] = {0};
    BN_CHECK_STATUS(bn_lm_head(BN_DTYPE_Q8_0, E, 2, 48, h, 1, logits, NULL), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_lm_head((bn_dtype)3, E, 2, 64, h, 1, logits, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_lm_head(BN_DTYPE_F32, NULL, 2, 64, h, 1, logits, NULL), BN_ERR_INVALID_ARGUMENT);
}

BN_TEST(fixture_logits_from_final_hidden_state) {
    /* tied LM head: HF's logits = hidden_state.L · embed_tokensᵀ (bitnet-tiny, master, L = 2). With the F32
     * table we must match to float noise; the stored types show what their rounding costs. */
    st_blob model = {0}, ref = {0};
    const int ok = st_blob_open(BN_FIXTURES_DIR "/bitnet-tiny/master/model.safetensors", &model) &&
                   st_blob_open(BN_FIXTURES_DIR "/bitnet-tiny/reference-master.safetensors", &ref);
    BN_CHECK_MSG(ok, "cannot read the bitnet-tiny fixture under %s", BN_FIXTURES_DIR);
    if (!ok) {
        st_blob_close(&model), st_blob_close(&ref);
        return;
    }
    st_view E = {0}, h = {0}, lg = {0};
    const int found = st_find(&model, "model.embed_tokens.weight", &E) && strcmp(E.dtype, "F32") == 0 &&
                      st_find(&ref, "hidden_state.2", &h) && strcmp(h.dtype, "F32") == 0 &&
                      st_find(&ref, "logits", &lg) && strcmp(lg.dtype, "F32") == 0;
    BN_CHECK_MSG(found, "fixture tensors missing or of unexpected types");
    if (!found) {
        st_blob_close(&model), st_blob_close(&ref);
        return;
    }
    const int64_t V = E.shape[0], C = E.shape[1], T = h.shape[0];
    BN_CHECK_EQ_I64(lg.shape[0] * lg.shape[1], T * V);
    float* w = malloc((size_t)(V * C) * sizeof *w);
    float* x = malloc((size_t)(T * C) * sizeof *x);
    float* want = malloc((size_t)(T * V) * sizeof *want);
    float* got = malloc((size_t)(T * V) * sizeof *got);
    memcpy(w, E.data, (size_t)(V * C) * sizeof *w);
    memcpy(x, h.data, (size_t)(T * C) * sizeof *x);
    memcpy(want, lg.data, (size_t)(T * V) * sizeof *want);
    const bn_dtype types[] = {BN_DTYPE_F32, BN_DTYPE_F16, BN_DTYPE_BF16, BN_DTYPE_Q8_0, BN_DTYPE_Q6_K};
    const char* names[] = {"F32", "F16", "BF16", "Q8_0", "Q6_K"};
    /* max |Δlogit| allowed: float noise for F32; for the others well under the fixture README's 0.25 */
    const double limit[] = {1e-4, 0.01, 0.05, 0.05, 0.1};
    bn_threadpool* pool;
    BN_CHECK_OK(bn_threadpool_create(2, &pool));
    for (int ti = 0; ti < 5; ti++) {
        int64_t rb;
        BN_CHECK_OK(bn_dtype_row_size(types[ti], C, &rb));
        uint8_t* Eq = malloc((size_t)(V * rb));
        BN_CHECK_OK(bn_dtype_quantize_ref(types[ti], w, V, C, Eq, V * rb));
        BN_CHECK_OK(bn_lm_head(types[ti], Eq, V, C, x, T, got, pool));
        double worst = 0;
        for (int64_t i = 0; i < T * V; i++) {
            const double d = fabs((double)got[i] - want[i]);
            if (d > worst) worst = d;
        }
        printf("%s LM head: max |logit - HF| = %.3g\n", names[ti], worst);
        BN_CHECK_MSG(worst <= limit[ti], "%s: max |logit - HF| = %g > %g", names[ti], worst, limit[ti]);
        free(Eq);
    }
    BN_CHECK_OK(bn_threadpool_destroy(pool));
    free(w), free(x), free(want), free(got);
    st_blob_close(&model), st_blob_close(&ref);
}
