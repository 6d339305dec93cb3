/* LM head (kernels/lmhead.c): logits for every stored type against a dequantize-then-naive double reference,
 * and threaded equal to serial bit for bit. Float-path types: tolerance 1e-5 of sum |h_i * w_i| (see
 * forward_variants.h). Q6_K takes the integer path (h rounded to Q8_K, kernels/dot_q8_k.h): against the double
 * dot of the dequantized weights with h as Q8_K dequantizes it, the only error is float rounding (1e-5 of the
 * magnitude again); against the double dot with h itself, rounding h adds at most sum_i |w_i| * |d8_i| / 2, with
 * d8 = max|h| / 127 of i's block (round to nearest, and 1/iscale and iscale * x are each within 2^-24 relative,
 * so 0.5 + 1e-4 covers it). */
#include <stdlib.h>

#include "forward_variants.h"
#include "kernels/dot_q8_k.h"
#include "safetensors_reader.h"

/* h (T, C) as the Q6_K head sees it: through Q8_K and back (x ~ d * qs); d8 (T, C/256) the block scales. */
static void q8_k_roundtrip(const float* h, int64_t T, int64_t C, float* out, float* d8) {
    const int64_t nb = C / BN_Q8_K_BLOCK;
    bn_block_q8_k* q = malloc((size_t)(T * nb) * sizeof *q);
    for (int64_t t = 0; t < T; t++) BN_CHECK_EQ_I64(bn_quantize_row_q8_k(h + t * C, C, q + t * nb), 0);
    for (int64_t b = 0; b < T * nb; b++) {
        d8[b] = q[b].d;
        for (int j = 0; j < BN_Q8_K_BLOCK; j++) out[b * BN_Q8_K_BLOCK + j] = q[b].d * q[b].qs[j];
    }
    free(q);
}

static void check_type(bn_dtype type, int64_t V, int64_t C, int64_t T, bn_threadpool* pool, uint64_t* rng) {
    float* w = malloc((size_t)(V * C) * sizeof *w);
    float* deq = malloc((size_t)(V * C) * sizeof *deq);
    float* h = malloc((size_t)(T * C) * sizeof *h);
    float* hq = malloc((size_t)(T * C) * sizeof *hq);
    float* d8 = malloc((size_t)(T * C / 256 + 1) * sizeof *d8);
    float* a = malloc((size_t)(T * V) * sizeof *a);
    float* b = malloc((size_t)(T * V) * sizeof *b);
    fv_fill(w, V * C, rng, -0.1f, 0.1f);
    fv_fill(h, T * C, rng, -3.0f, 3.0f);
    const int integer = type == BN_DTYPE_Q6_K;
    if (integer) q8_k_roundtrip(h, T, C, hq, d8);
    else memcpy(hq, h, (size_t)(T * C) * sizeof *h);
    int64_t rb;
    BN_CHECK_OK(bn_dtype_row_size(type, C, &rb));
    uint8_t* E = malloc((size_t)(V * rb));
    BN_CHECK_OK(bn_dtype_quantize_ref(type, w, V, C, E, V * rb));
    BN_CHECK_OK(bn_dtype_dequantize(type, E, V * rb, V, C, deq));
    BN_CHECK_OK(bn_lm_head(type, E, V, C, h, T, a, NULL));
    int bad = 0;
    double worst_h = 0; /* the largest |logit - h . w| as a fraction of its bound (integer path) */
    for (int64_t t = 0; t < T && bad < 3; t++)
        for (int64_t r = 0; r < V && bad < 3; r++) {
            double want = 0, mag = 0, exact = 0, bound = 0;
            for (int64_t i = 0; i < C; i++) {
                want += (double)hq[t * C + i] * deq[r * C + i];
                mag += fabs((double)hq[t * C + i] * deq[r * C + i]);
                exact += (double)h[t * C + i] * deq[r * C + i];
                if (integer) bound += fabs((double)deq[r * C + i]) * fabs((double)d8[(t * C + i) / 256]) * (0.5 + 1e-4);
            }
            if (!FV_CLOSE(a[t * V + r], want, mag, "type %d t=%lld r=%lld: %g vs %g", (int)type, (long long)t,
                          (long long)r, a[t * V + r], want))
                bad++;
            if (integer) {
                const double err = fabs((double)a[t * V + r] - exact), lim = bound + FV_TOL * mag;
                if (err / lim > worst_h) worst_h = err / lim;
                if (err > lim) {
                    BN_CHECK_MSG(0, "Q6_K t=%lld r=%lld: |%g - %g| > %g (Q8_K rounding bound)", (long long)t,
                                 (long long)r, a[t * V + r], exact, lim);
                    bad++;
                }
            }
        }
    if (integer) printf("Q6_K V=%lld C=%lld T=%lld: worst |logit - h.w| = %.3f of the Q8_K bound\n", (long long)V,
                        (long long)C, (long long)T, worst_h);
    BN_CHECK_OK(bn_lm_head(type, E, V, C, h, T, b, pool));
    BN_CHECK_MSG(memcmp(a, b, (size_t)(T * V) * sizeof *a) == 0, "type %d: threaded differs from serial", (int)type);
    free(w), free(deq), free(h), free(hq), free(d8), free(a), free(b), free(E);
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

BN_TEST(q6_k_integer_path_shapes) {
    /* C = 256 .. 4096 in whole Q6_K blocks, V not a multiple of the 64-row chunk, T = 1 .. 5 */
    bn_threadpool* pool;
    BN_CHECK_OK(bn_threadpool_create(3, &pool));
    uint64_t rng = 6061;
    const int64_t Cs[] = {256, 512, 768, 1280, 2560, 4096};
    for (int ci = 0; ci < 6; ci++) check_type(BN_DTYPE_Q6_K, 67 + 10 * ci, Cs[ci], 1 + ci % 5, pool, &rng);
    /* the Q8_K rows on lmhead.c's stack buffer (80 blocks: exactly full at T = 5, C = 4096) and from the pool */
    check_type(BN_DTYPE_Q6_K, 131, 4096, 5, pool, &rng);
    check_type(BN_DTYPE_Q6_K, 65, 4096, 6, pool, &rng);
    check_type(BN_DTYPE_Q6_K, 64, 256, 81, pool, &rng);
    BN_CHECK_OK(bn_threadpool_destroy(pool));
}

BN_TEST(q6_k_same_logits_on_every_instruction_set) {
    /* the integer path is bit-identical across versions: the dispatched kernels and scalar-only agree */
    uint64_t rng = 99;
    const int64_t V = 70, C = 2560, T = 3;
    float* w = malloc((size_t)(V * C) * sizeof *w);
    float* h = malloc((size_t)(T * C) * sizeof *h);
    float* a = malloc((size_t)(T * V) * sizeof *a);
    float* b = malloc((size_t)(T * V) * sizeof *b);
    fv_fill(w, V * C, &rng, -0.1f, 0.1f);
    fv_fill(h, T * C, &rng, -3.0f, 3.0f);
    int64_t rb;
    BN_CHECK_OK(bn_dtype_row_size(BN_DTYPE_Q6_K, C, &rb));
    uint8_t* E = malloc((size_t)(V * rb));
    BN_CHECK_OK(bn_dtype_quantize_ref(BN_DTYPE_Q6_K, w, V, C, E, V * rb));
    BN_CHECK_OK(bn_lm_head(BN_DTYPE_Q6_K, E, V, C, h, T, a, NULL));
    const uint64_t was = bn_cpu_features_enabled();
    BN_CHECK_OK(bn_cpu_set_enabled(0));
    BN_CHECK_OK(bn_lm_head(BN_DTYPE_Q6_K, E, V, C, h, T, b, NULL));
    BN_CHECK_OK(bn_cpu_set_enabled(was));
    BN_CHECK_MSG(memcmp(a, b, (size_t)(T * V) * sizeof *a) == 0, "dispatched and scalar Q6_K logits differ");
    /* an h holding a NaN takes the float path: that token's logits are NaN, not rounded garbage */
    h[C + 5] = NAN;
    BN_CHECK_OK(bn_lm_head(BN_DTYPE_Q6_K, E, V, C, h, T, a, NULL));
    for (int64_t r = 0; r < V; r++) BN_CHECK(isnan(a[V + r]));
    BN_CHECK(!isnan(a[0]) && !isnan(a[2 * V]));
    free(w), free(h), free(a), free(b), free(E);
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
