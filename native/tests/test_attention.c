/* Causal GQA attention over a KV cache (kernels/attention.c): against a naive double implementation of HF's
 * eager attention (F32 cache), the F16 cache against the same reference on fp16-rounded k/v and against the
 * F32 result, causal masking (a perturbed later position leaves earlier outputs bit for bit unchanged), the
 * GQA head mapping, prefill equal to token-by-token decode, threaded equal to serial, and the errors. */
#include <stdlib.h>

#include "forward_variants.h"

typedef struct setup {
    int64_t T, H, Hkv, D, max_ctx, p0;
    float *q, *k, *v; /* q (T,H,D); k, v (p0+T, Hkv, D): every position's keys and values */
} setup;

static void make(setup* s, int64_t T, int64_t H, int64_t Hkv, int64_t D, int64_t max_ctx, int64_t p0, uint64_t* rng) {
    *s = (setup){T, H, Hkv, D, max_ctx, p0, NULL, NULL, NULL};
    s->q = malloc((size_t)(T * H * D) * sizeof(float));
    s->k = malloc((size_t)((p0 + T) * Hkv * D) * sizeof(float));
    s->v = malloc((size_t)((p0 + T) * Hkv * D) * sizeof(float));
    fv_fill(s->q, T * H * D, rng, -1.5f, 1.5f);
    fv_fill(s->k, (p0 + T) * Hkv * D, rng, -1.5f, 1.5f);
    fv_fill(s->v, (p0 + T) * Hkv * D, rng, -1.0f, 1.0f);
}

static void drop(setup* s) { free(s->q), free(s->k), free(s->v); }

/* Append the prefix in one call, then the T new positions, then attend; out (T,H,D). */
static void run(const setup* s, bn_dtype type, bn_threadpool* pool, float* out) {
    const size_t es = type == BN_DTYPE_F32 ? 4 : 2;
    void* kc = calloc((size_t)(s->Hkv * s->max_ctx * s->D), es);
    void* vc = calloc((size_t)(s->Hkv * s->max_ctx * s->D), es);
    const int64_t row = s->Hkv * s->D;
    BN_CHECK_OK(bn_kv_cache_append(type, kc, vc, s->Hkv, s->max_ctx, s->D, 0, s->k, s->v, s->p0));
    BN_CHECK_OK(bn_kv_cache_append(type, kc, vc, s->Hkv, s->max_ctx, s->D, s->p0, s->k + s->p0 * row, s->v + s->p0 * row, s->T));
    int64_t wl;
    BN_CHECK_OK(bn_attention_work_size(pool, s->p0 + s->T, &wl));
    float* work = malloc((size_t)wl * sizeof *work);
    BN_CHECK_OK(bn_attention(type, s->q, s->T, s->H, s->Hkv, s->D, kc, vc, s->max_ctx, s->p0, out, work, wl, pool));
    free(work), free(kc), free(vc);
}

/* HF eager attention in double: repeat_kv, (q kᵀ) * D^-0.5, causal mask, softmax, · v. With round16, k and v
 * are first rounded to fp16 as the F16 cache stores them. */
static void reference(const setup* s, int round16, double* out) {
    const int64_t group = s->H / s->Hkv, kvn = (s->p0 + s->T) * s->Hkv * s->D;
    /* k and v as the cache holds them, in double (a copy keeps the sums below plain loops) */
    double* K = malloc((size_t)kvn * sizeof *K);
    double* Vv = malloc((size_t)kvn * sizeof *Vv);
    for (int64_t i = 0; i < kvn; i++) {
        K[i] = round16 ? bn_fp16_to_fp32(bn_fp32_to_fp16(s->k[i])) : s->k[i];
        Vv[i] = round16 ? bn_fp16_to_fp32(bn_fp32_to_fp16(s->v[i])) : s->v[i];
    }
    double* sc = malloc((size_t)(s->p0 + s->T) * sizeof *sc);
    for (int64_t t = 0; t < s->T; t++)
        for (int64_t h = 0; h < s->H; h++) {
            const int64_t kvh = h / group, n = s->p0 + t + 1;
            const float* q = s->q + (t * s->H + h) * s->D;
            double mx = -INFINITY, sum = 0;
            for (int64_t p = 0; p < n; p++) {
                double d = 0;
                for (int64_t i = 0; i < s->D; i++) d += (double)q[i] * K[(p * s->Hkv + kvh) * s->D + i];
                sc[p] = d / sqrt((double)s->D);
                if (sc[p] > mx) mx = sc[p];
            }
            for (int64_t p = 0; p < n; p++) sum += (sc[p] = exp(sc[p] - mx));
            double* o = out + (t * s->H + h) * s->D;
            for (int64_t i = 0; i < s->D; i++) {
                double acc = 0;
                for (int64_t p = 0; p < n; p++) acc += sc[p] / sum * Vv[(p * s->Hkv + kvh) * s->D + i];
                o[i] = acc;
            }
        }
    free(sc), free(K), free(Vv);
}

BN_TEST(matches_naive_double_f32_and_f16) {
    uint64_t rng = 424242;
    /* (T, H, Hkv, D, max_ctx, p0): decode, prefill, prefill after a prefix, odd sizes, the 2B4T head shape */
    const int64_t cases[][6] = {{1, 4, 2, 64, 32, 9}, {7, 4, 2, 64, 16, 0}, {5, 8, 2, 33, 40, 11},
                                {3, 3, 1, 17, 8, 2},  {2, 20, 5, 128, 300, 250}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        setup s;
        make(&s, cases[c][0], cases[c][1], cases[c][2], cases[c][3], cases[c][4], cases[c][5], &rng);
        const int64_t n = s.T * s.H * s.D;
        float* o32 = malloc((size_t)n * sizeof *o32);
        float* o16 = malloc((size_t)n * sizeof *o16);
        double* ref = malloc((size_t)n * sizeof *ref);
        run(&s, BN_DTYPE_F32, NULL, o32);
        reference(&s, 0, ref);
        /* outputs are convex combinations of v in [-1, 1]: absolute 1e-5 */
        for (int64_t i = 0; i < n; i++)
            if (!FV_CLOSE(o32[i], ref[i], 1.0, "case %zu F32 i=%lld: %g vs %g", c, (long long)i, o32[i], ref[i])) break;
        run(&s, BN_DTYPE_F16, NULL, o16);
        reference(&s, 1, ref);
        for (int64_t i = 0; i < n; i++)
            if (!FV_CLOSE(o16[i], ref[i], 1.0, "case %zu F16 i=%lld: %g vs %g", c, (long long)i, o16[i], ref[i])) break;
        /* fp16 storage itself: k, v rounded to 11 bits move the output by at most a few 1e-3 */
        int64_t far = 0;
        for (int64_t i = 0; i < n; i++) far += fabs((double)o16[i] - o32[i]) >= 5e-3;
        BN_CHECK_MSG(far == 0, "case %zu: F16 cache differs from F32 by 5e-3 or more at %lld outputs", c, (long long)far);
        free(o32), free(o16), free(ref);
        drop(&s);
    }
}

BN_TEST(causal_mask_future_cannot_leak) {
    uint64_t rng = 7;
    setup s;
    make(&s, 6, 4, 2, 32, 16, 3, &rng);
    const int64_t n = s.T * s.H * s.D, row = s.Hkv * s.D, last = s.p0 + s.T - 1;
    float* a = malloc((size_t)n * sizeof *a);
    float* b = malloc((size_t)n * sizeof *b);
    for (int ci = 0; ci < 2; ci++) {
        const bn_dtype type = ci ? BN_DTYPE_F16 : BN_DTYPE_F32;
        run(&s, type, NULL, a);
        for (int64_t i = 0; i < row; i++) s.k[last * row + i] += 5.0f, s.v[last * row + i] -= 3.0f;
        run(&s, type, NULL, b);
        for (int64_t i = 0; i < row; i++) s.k[last * row + i] -= 5.0f, s.v[last * row + i] += 3.0f;
        /* every query before the last position is unchanged; the last one does see it */
        const int64_t before = (s.T - 1) * s.H * s.D;
        BN_CHECK_MSG(memcmp(a, b, (size_t)before * sizeof *a) == 0, "type %d: a later position changed an earlier output",
                     (int)type);
        BN_CHECK(memcmp(a + before, b + before, (size_t)(n - before) * sizeof *a) != 0);
    }
    free(a), free(b);
    drop(&s);
}

BN_TEST(gqa_head_mapping) {
    /* v of kv head j is the constant j + 1: query head h must output h / (H/Hkv) + 1 everywhere */
    uint64_t rng = 3;
    setup s;
    make(&s, 2, 8, 2, 16, 8, 1, &rng);
    for (int64_t p = 0; p < s.p0 + s.T; p++)
        for (int64_t j = 0; j < s.Hkv; j++)
            for (int64_t i = 0; i < s.D; i++) s.v[(p * s.Hkv + j) * s.D + i] = (float)(j + 1);
    float out[2 * 8 * 16];
    run(&s, BN_DTYPE_F32, NULL, out);
    for (int64_t t = 0; t < s.T; t++)
        for (int64_t h = 0; h < s.H; h++)
            for (int64_t i = 0; i < s.D; i++)
                BN_CHECK_MSG(fabsf(out[(t * s.H + h) * s.D + i] - (float)(h / 4 + 1)) < 1e-5f, "t=%lld h=%lld: %g",
                             (long long)t, (long long)h, out[(t * s.H + h) * s.D + i]);
    drop(&s);
}

BN_TEST(prefill_equals_decode_and_threads_equal_serial) {
    uint64_t rng = 99;
    setup s;
    make(&s, 5, 20, 5, 128, 64, 0, &rng);
    const int64_t n = s.T * s.H * s.D, hd = s.H * s.D, row = s.Hkv * s.D;
    float* pre = malloc((size_t)n * sizeof *pre);
    float* thr = malloc((size_t)n * sizeof *thr);
    float* dec = malloc((size_t)n * sizeof *dec);
    bn_threadpool* pool;
    BN_CHECK_OK(bn_threadpool_create(3, &pool));
    run(&s, BN_DTYPE_F32, NULL, pre);
    run(&s, BN_DTYPE_F32, pool, thr);
    BN_CHECK(memcmp(pre, thr, (size_t)n * sizeof *pre) == 0);
    /* one token at a time through one cache */
    float* kc = calloc((size_t)(s.Hkv * s.max_ctx * s.D), sizeof(float));
    float* vc = calloc((size_t)(s.Hkv * s.max_ctx * s.D), sizeof(float));
    float work[64 * 3];
    for (int64_t t = 0; t < s.T; t++) {
        BN_CHECK_OK(bn_kv_cache_append(BN_DTYPE_F32, kc, vc, s.Hkv, s.max_ctx, s.D, t, s.k + t * row, s.v + t * row, 1));
        BN_CHECK_OK(bn_attention(BN_DTYPE_F32, s.q + t * hd, 1, s.H, s.Hkv, s.D, kc, vc, s.max_ctx, t, dec + t * hd,
                                 work, 64 * 3, pool));
    }
    BN_CHECK(memcmp(pre, dec, (size_t)n * sizeof *pre) == 0);
    /* the cache layout is (Hkv, max_ctx, D): kv head 3 at position 2 is k[2][3][:] */
    BN_CHECK(memcmp(kc + (3 * s.max_ctx + 2) * s.D, s.k + (2 * s.Hkv + 3) * s.D, (size_t)s.D * sizeof(float)) == 0);
    BN_CHECK_OK(bn_threadpool_destroy(pool));
    free(pre), free(thr), free(dec), free(kc), free(vc);
    drop(&s);
}

BN_TEST(errors) {
    float q[64] = {0}, out[64], kc[256] = {0}, vc[256] = {0}, work[16];
    BN_CHECK_STATUS(bn_attention(BN_DTYPE_F32, q, 1, 3, 2, 8, kc, vc, 8, 0, out, work, 16, NULL), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_attention(BN_DTYPE_F32, q, 2, 2, 2, 8, kc, vc, 8, 7, out, work, 16, NULL), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_attention(BN_DTYPE_F32, q, 1, 2, 2, 8, kc, vc, 8, 5, out, work, 5, NULL), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_attention(BN_DTYPE_BF16, q, 1, 2, 2, 8, kc, vc, 8, 0, out, work, 16, NULL), BN_ERR_UNSUPPORTED);
    BN_CHECK_STATUS(bn_kv_cache_append(BN_DTYPE_F32, kc, vc, 2, 8, 8, 8, q, q, 1), BN_ERR_SHAPE);
    BN_CHECK_OK(bn_attention(BN_DTYPE_F32, q, 1, 2, 2, 8, kc, vc, 8, 5, out, work, 6, NULL));
}
