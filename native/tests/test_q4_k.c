/* ggml Q4_K rows (quant/q4_k.c, kernels/dot*.c dot_q4_k, embedding and LM head): dequantize against an
 * independent per-element reference written here from ggml's dequantize_row_q4_K / get_scale_min_k4 on random
 * blocks (random scale and code bytes, random finite fp16 d and dmin), a hand-built block for the layout, every
 * dot_q4_k version against a double dot over the dequantized row (tolerance 1e-5 of sum |x_i * w_i|, see
 * forward_variants.h), and the embedding lookup and LM head over a Q4_K table against the F32 paths over its
 * dequantization. */
#include <stdlib.h>

#include "forward_variants.h"

#define QK 256
#define QB 144

/* A finite fp16 with exponent field in [lo_exp, hi_exp] (0 gives subnormals), random sign and mantissa. */
static uint16_t rand_fp16(uint64_t* rng, int lo_exp, int hi_exp) {
    const uint64_t r = bn_test_rand_u64(rng);
    const int e = lo_exp + (int)(r % (uint64_t)(hi_exp - lo_exp + 1));
    return (uint16_t)(((r >> 8) & 1) << 15 | (uint64_t)e << 10 | ((r >> 16) & 0x3FF));
}

/* n/256 random blocks: scales and qs random bytes; d and dmin finite fp16 of moderate size (exponent 5..17, about
 * 1e-3..4) or, in every 5th block, anything finite down to subnormals and zero. */
static void random_blocks(uint8_t* dst, int64_t n, uint64_t* rng) {
    for (int64_t b = 0; b < n / QK; b++) {
        uint8_t* blk = dst + b * QB;
        for (int i = 4; i < QB; i++) blk[i] = (uint8_t)bn_test_rand_u64(rng);
        const int wide = b % 5 == 4;
        const uint16_t d = rand_fp16(rng, wide ? 0 : 5, wide ? 20 : 17), dmin = rand_fp16(rng, wide ? 0 : 5, wide ? 20 : 17);
        blk[0] = (uint8_t)(d & 0xFF), blk[1] = (uint8_t)(d >> 8);
        blk[2] = (uint8_t)(dmin & 0xFF), blk[3] = (uint8_t)(dmin >> 8);
        if (b % 7 == 3) blk[2] = blk[3] = 0; /* dmin = 0: a pure scale block */
    }
}

/* Element e (0..255) of a block, from ggml's definition: sub-block j = e/32 has the 6-bit scale and min of
 * get_scale_min_k4 (j < 4: low 6 bits of scales[j] and scales[j+4]; j >= 4: the nibbles of scales[j+4] with the
 * top two bits of scales[j-4] and scales[j] above them); the code is the low nibble of qs[32*(e/64) + e%32] for
 * the first 32 of each 64 and the high nibble for the next 32; value (d*sc)*q - (dmin*m), products in float. */
static float ref_element(const uint8_t* blk, int e) {
    const uint8_t* s = blk + 4;
    const uint8_t* qs = blk + 16;
    const int j = e / 32;
    const int sc = j < 4 ? s[j] % 64 : (s[j + 4] % 16) + 16 * (s[j - 4] / 64);
    const int m = j < 4 ? s[j + 4] % 64 : (s[j + 4] / 16) + 16 * (s[j] / 64);
    const uint8_t byte = qs[32 * (e / 64) + e % 32];
    const int q = (e % 64) < 32 ? byte % 16 : byte / 16;
    const float d = bn_fp16_to_fp32((uint16_t)(blk[0] | blk[1] << 8));
    const float dmin = bn_fp16_to_fp32((uint16_t)(blk[2] | blk[3] << 8));
    const float ds = d * (float)sc, dm = dmin * (float)m;
    return ds * (float)q - dm;
}

BN_TEST(dequantize_matches_independent_reference) {
    uint64_t rng = 1212;
    enum { NB = 40 };
    uint8_t* q = malloc(NB * QB);
    float* got = malloc(NB * QK * sizeof *got);
    random_blocks(q, NB * QK, &rng);
    /* as 4 rows of 10 blocks and as one row of 40: the same floats, bit for bit */
    BN_CHECK_OK(bn_dtype_dequantize(BN_DTYPE_Q4_K, q, NB * QB, 4, 10 * QK, got));
    int bad = 0;
    for (int b = 0; b < NB && bad < 5; b++)
        for (int e = 0; e < QK && bad < 5; e++) {
            const float want = ref_element(q + b * QB, e), g = got[b * QK + e];
            if (memcmp(&want, &g, sizeof g) != 0) {
                bad++;
                BN_CHECK_MSG(0, "block %d element %d: %.9g vs %.9g", b, e, g, want);
            }
        }
    float* one = malloc(NB * QK * sizeof *one);
    BN_CHECK_OK(bn_dtype_dequantize(BN_DTYPE_Q4_K, q, NB * QB, 1, NB * QK, one));
    BN_CHECK(memcmp(one, got, NB * QK * sizeof *one) == 0);
    free(q), free(got), free(one);
}

BN_TEST(layout_known_block) {
    uint8_t blk[QB] = {0};
    blk[0] = 0x00, blk[1] = 0x3C; /* d = 1.0 */
    blk[2] = 0x00, blk[3] = 0x38; /* dmin = 0.5 */
    blk[4 + 0] = 5;               /* sub-block 0: sc = 5 */
    blk[4 + 4] = 3;               /* sub-block 0: m = 3 */
    blk[4 + 1] = 0x40 | 7;        /* sub-block 1: sc = 7; top bits 01 -> sub-block 5's sc high bits = 1 */
    blk[4 + 5] = 0x80 | 2;        /* sub-block 1: m = 2; top bits 10 -> sub-block 5's m high bits = 2 */
    blk[4 + 9] = 0x3A;            /* sub-block 5: sc low nibble 0xA, m low nibble 0x3 */
    blk[16 + 4] = 0x9C;           /* element 4: code 0xC (sub-block 0); element 36: code 0x9 (sub-block 1) */
    blk[16 + 64 + 6] = 0xE1;      /* element 134: code 0x1 (sub-block 4); element 166: code 0xE (sub-block 5) */
    float y[QK];
    BN_CHECK_OK(bn_dtype_dequantize(BN_DTYPE_Q4_K, blk, QB, 1, QK, y));
    BN_CHECK(y[4] == 5.0f * 12 - 0.5f * 3);
    BN_CHECK(y[36] == 7.0f * 9 - 0.5f * 2);
    BN_CHECK(y[0] == -1.5f);                                /* code 0: -dmin*m */
    BN_CHECK(y[134] == 0.0f);                               /* sub-block 4: sc = m = 0 */
    BN_CHECK(y[166] == (float)(0xA | 1 << 4) * 14 - 0.5f * (float)(0x3 | 2 << 4));
    int32_t block;
    int64_t rb;
    BN_CHECK_OK(bn_dtype_block_size(BN_DTYPE_Q4_K, &block));
    BN_CHECK_EQ_I64(block, 256);
    BN_CHECK_OK(bn_dtype_row_size(BN_DTYPE_Q4_K, 2560, &rb));
    BN_CHECK_EQ_I64(rb, 1440);
    BN_CHECK_STATUS(bn_dtype_row_size(BN_DTYPE_Q4_K, 300, &rb), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_dtype_dequantize(BN_DTYPE_Q4_K, blk, QB - 1, 1, QK, y), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_dtype_quantize_ref(BN_DTYPE_Q4_K, y, 1, QK, blk, QB), BN_ERR_UNSUPPORTED);
    BN_CHECK(strstr(bn_last_error(), "Q4_K") != NULL);
}

BN_TEST(dot_every_variant_matches_dequantized_reference) {
    fv_variant v[4];
    const int nv = fv_variants(v);
    const bn_kernel_table s = fv_scalar();
    uint64_t rng = 4242;
    const int64_t sizes[] = {256, 512, 768, 1024, 2560, 6912, 8192};
    int checked = 0;
    for (int si = 0; si < 7; si++)
        for (int rep = 0; rep < 4; rep++) {
            const int64_t n = sizes[si];
            uint8_t* q = malloc((size_t)(n / QK * QB));
            float* w = malloc((size_t)n * sizeof *w);
            float* x = malloc((size_t)n * sizeof *x);
            random_blocks(q, n, &rng);
            fv_fill(x, n, &rng, -1.5f, 1.5f);
            BN_CHECK_OK(bn_dtype_dequantize(BN_DTYPE_Q4_K, q, n / QK * QB, 1, n, w));
            double want = 0, mag = 0;
            for (int64_t i = 0; i < n; i++) want += (double)x[i] * w[i], mag += fabs((double)x[i] * w[i]);
            const float ref = s.dot_q4_k(x, q, n);
            FV_CLOSE(ref, want, mag, "scalar n=%lld: %g vs %g", (long long)n, ref, want);
#ifndef __FP_FAST_FMAF /* where FMA is native a compiler may contract a*b - c (clang's default): skip */
            const float f32 = s.dot_f32(x, w, n); /* same products summed in the same order: equal */
            BN_CHECK_MSG(ref == f32, "scalar n=%lld: q4_k %.9g vs f32 over dequantized %.9g", (long long)n, ref, f32);
#endif
            for (int k = 0; k < nv; k++) {
                BN_CHECK_MSG(v[k].t.dot_q4_k != NULL, "%s has no dot_q4_k", v[k].name);
                if (!v[k].t.dot_q4_k) continue;
                const float got = v[k].t.dot_q4_k(x, q, n);
                FV_CLOSE(got, want, mag, "%s n=%lld: %g vs %g", v[k].name, (long long)n, got, want);
            }
            checked++;
            free(q), free(w), free(x);
        }
    BN_CHECK_EQ_I64(checked, 28);
    /* the dispatched kernel is one of them */
    bn_kernels_init();
    BN_CHECK(bn_kernels.dot_q4_k != NULL);
    printf("dispatched dot_q4_k: %s\n", bn_kernels.dot_q4_k_impl);
}

BN_TEST(embedding_and_lm_head_equal_f32_paths) {
    bn_threadpool* pool;
    BN_CHECK_OK(bn_threadpool_create(3, &pool));
    uint64_t rng = 77;
    const int64_t V = 131, C = 512, T = 3;
    const int64_t rb = C / QK * QB;
    uint8_t* E = malloc((size_t)(V * rb));
    float* deq = malloc((size_t)(V * C) * sizeof *deq);
    float* h = malloc((size_t)(T * C) * sizeof *h);
    float* a = malloc((size_t)(T * V) * sizeof *a);
    float* b = malloc((size_t)(T * V) * sizeof *b);
    float* c = malloc((size_t)(T * V) * sizeof *c);
    random_blocks(E, V * C, &rng);
    fv_fill(h, T * C, &rng, -3.0f, 3.0f);
    BN_CHECK_OK(bn_dtype_dequantize(BN_DTYPE_Q4_K, E, V * rb, V, C, deq));
    /* embedding: rows equal the dequantized rows exactly */
    const int32_t ids[5] = {0, 130, 7, 7, 64};
    float* out = malloc(5 * (size_t)C * sizeof *out);
    BN_CHECK_OK(bn_embedding_lookup(BN_DTYPE_Q4_K, E, V, C, ids, 5, out));
    for (int t = 0; t < 5; t++)
        BN_CHECK_MSG(memcmp(out + t * C, deq + (int64_t)ids[t] * C, (size_t)C * sizeof *out) == 0, "row %d", ids[t]);
    BN_CHECK_STATUS(bn_embedding_lookup(BN_DTYPE_Q4_K, E, V, 500, ids, 1, out), BN_ERR_SHAPE); /* C % 256 */
    /* LM head: Q4_K logits within 1e-5 of sum |h*w| of the F32 head over the dequantized table; threaded equal
     * to serial bit for bit */
    BN_CHECK_OK(bn_lm_head(BN_DTYPE_Q4_K, E, V, C, h, T, a, NULL));
    BN_CHECK_OK(bn_lm_head(BN_DTYPE_F32, deq, V, C, h, T, b, NULL));
    BN_CHECK_OK(bn_lm_head(BN_DTYPE_Q4_K, E, V, C, h, T, c, pool));
    int bad = 0;
    for (int64_t t = 0; t < T && bad < 3; t++)
        for (int64_t r = 0; r < V && bad < 3; r++) {
            double mag = 0;
            for (int64_t i = 0; i < C; i++) mag += fabs((double)h[t * C + i] * deq[r * C + i]);
            if (!FV_CLOSE(a[t * V + r], b[t * V + r], mag, "t=%lld r=%lld: %g vs %g", (long long)t, (long long)r,
                          a[t * V + r], b[t * V + r]))
                bad++;
        }
    BN_CHECK(memcmp(a, c, (size_t)(T * V) * sizeof *a) == 0);
    BN_CHECK_STATUS(bn_lm_head(BN_DTYPE_Q4_K, E, V, 300, h, T, a, NULL), BN_ERR_SHAPE);
    free(E), free(deq), free(h), free(a), free(b), free(c), free(out);
    BN_CHECK_OK(bn_threadpool_destroy(pool));
}
