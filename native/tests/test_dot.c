/* Dot products and axpy (kernels/dot*.c): every vector version against the scalar reference, and the scalar
 * reference against a double sum over ggml-dequantized values. Tolerance: 1e-5 of sum |x_i * w_i|. */
#include <stdlib.h>

#include "forward_variants.h"

typedef struct row {
    bn_dtype type;
    int64_t n;
    uint8_t* bytes;
    float* w; /* dequantized */
    double abs_dot, dot;
} row;

static void make_row(row* r, bn_dtype type, int64_t n, const float* x, uint64_t* rng) {
    int64_t rb;
    BN_CHECK_OK(bn_dtype_row_size(type, n, &rb));
    float* src = malloc((size_t)n * sizeof *src);
    fv_fill(src, n, rng, -2.0f, 2.0f);
    r->type = type, r->n = n;
    r->bytes = malloc((size_t)rb);
    r->w = malloc((size_t)n * sizeof *r->w);
    BN_CHECK_OK(bn_dtype_quantize_ref(type, src, 1, n, r->bytes, rb));
    BN_CHECK_OK(bn_dtype_dequantize(type, r->bytes, rb, 1, n, r->w));
    r->abs_dot = r->dot = 0;
    for (int64_t i = 0; i < n; i++) {
        r->dot += (double)x[i] * r->w[i];
        r->abs_dot += fabs((double)x[i] * r->w[i]);
    }
    free(src);
}

static float call_dot(const bn_kernel_table* t, const row* r, const float* x) {
    switch (r->type) {
    case BN_DTYPE_F32: return t->dot_f32(x, (const float*)r->bytes, r->n);
    case BN_DTYPE_F16: return t->dot_f16(x, (const uint16_t*)r->bytes, r->n);
    case BN_DTYPE_BF16: return t->dot_bf16(x, (const uint16_t*)r->bytes, r->n);
    case BN_DTYPE_Q8_0: return t->dot_q8_0(x, r->bytes, r->n);
    case BN_DTYPE_Q6_K: return t->dot_q6_k(x, r->bytes, r->n);
    case BN_DTYPE_Q4_K: return t->dot_q4_k(x, r->bytes, r->n);
    }
    return NAN;
}

BN_TEST(dots_match_scalar_and_dequantized_reference) {
    fv_variant v[4];
    int nv = fv_variants(v);
    bn_kernel_table s = fv_scalar();
    uint64_t rng = 1234;
    float* x = malloc(7000 * sizeof *x);
    const bn_dtype types[] = {BN_DTYPE_F32, BN_DTYPE_F16, BN_DTYPE_BF16, BN_DTYPE_Q8_0, BN_DTYPE_Q6_K};
    const char* names[] = {"F32", "F16", "BF16", "Q8_0", "Q6_K"};
    int checked = 0;
    for (int ti = 0; ti < 5; ti++)
        for (int li = 0; li < FV_N_LENGTHS; li++) {
            const int64_t n = fv_lengths[li];
            int32_t block;
            BN_CHECK_OK(bn_dtype_block_size(types[ti], &block));
            if (n % block != 0) continue;
            fv_fill(x, n, &rng, -1.5f, 1.5f);
            row r;
            make_row(&r, types[ti], n, x, &rng);
            const float ref = call_dot(&s, &r, x);
            FV_CLOSE(ref, r.dot, r.abs_dot, "%s scalar n=%lld: %g vs %g", names[ti], (long long)n, ref, r.dot);
            for (int k = 0; k < nv; k++) {
                const float got = call_dot(&v[k].t, &r, x);
                FV_CLOSE(got, ref, r.abs_dot, "%s %s n=%lld: %g vs %g", v[k].name, names[ti], (long long)n, got, ref);
            }
            checked++;
            free(r.bytes), free(r.w);
        }
    /* and the blocked types on the model's sizes */
    for (int ti = 3; ti < 5; ti++) {
        const int64_t sizes[] = {256, 512, 2560, 6912};
        for (int si = 0; si < 4; si++) {
            fv_fill(x, sizes[si], &rng, -1.5f, 1.5f);
            row r;
            make_row(&r, types[ti], sizes[si], x, &rng);
            const float ref = call_dot(&s, &r, x);
            FV_CLOSE(ref, r.dot, r.abs_dot, "%s scalar n=%lld", names[ti], (long long)sizes[si]);
            for (int k = 0; k < nv; k++)
                FV_CLOSE(call_dot(&v[k].t, &r, x), ref, r.abs_dot, "%s %s n=%lld", v[k].name, names[ti],
                         (long long)sizes[si]);
            checked++;
            free(r.bytes), free(r.w);
        }
    }
    BN_CHECK(checked > 60);
    free(x);
}

BN_TEST(axpy_matches_scalar) {
    fv_variant v[4];
    int nv = fv_variants(v);
    bn_kernel_table s = fv_scalar();
    uint64_t rng = 8;
    float x[300] = {0}, yinit[300] = {0}, a[300], b[300];
    uint16_t xh[300] = {0};
    for (int len = 0; len <= 300; len += (len < 40 ? 1 : 37)) {
        fv_fill(x, len, &rng, -2.0f, 2.0f);
        fv_fill(yinit, len, &rng, -2.0f, 2.0f);
        for (int i = 0; i < len; i++) xh[i] = bn_fp32_to_fp16(x[i]);
        const float alpha = bn_test_rand_float(&rng, -1.0f, 1.0f);
        for (int k = 0; k < nv; k++) {
            memcpy(a, yinit, sizeof a), memcpy(b, yinit, sizeof b);
            s.axpy_f32(alpha, x, len, a);
            v[k].t.axpy_f32(alpha, x, len, b);
            for (int i = 0; i < len; i++)
                FV_CLOSE(b[i], a[i], fmax(1.0, fabs(a[i])), "%s axpy_f32 len=%d i=%d", v[k].name, len, i);
            memcpy(a, yinit, sizeof a), memcpy(b, yinit, sizeof b);
            s.axpy_f16(alpha, xh, len, a);
            v[k].t.axpy_f16(alpha, xh, len, b);
            for (int i = 0; i < len; i++)
                FV_CLOSE(b[i], a[i], fmax(1.0, fabs(a[i])), "%s axpy_f16 len=%d i=%d", v[k].name, len, i);
        }
    }
}
