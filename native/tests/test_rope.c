/* Rotate-half RoPE (kernels/rope*.c): vector versions against scalar, the public call against a naive double
 * implementation written from HF's apply_rotary_pos_emb (angles in float as HF), the table against the
 * on-the-fly path, and the NeoX pairing (i, i + D/2). */
#include <stdlib.h>

#include "forward_variants.h"

/* HF in double: q_embed = q * cos + rotate_half(q) * sin, rotate_half(q) = cat(-q[D/2:], q[:D/2]),
 * cos = cat(cos(freqs), cos(freqs)); the angle freqs[i] = pos * inv_freq[i] rounded to float, as torch does. */
static void ref_rope(const float* x, int64_t D, int32_t pos, float theta, double* out) {
    const int64_t half = D / 2;
    for (int64_t j = 0; j < D; j++) {
        const int64_t i = j % half;
        const float inv = 1.0f / powf(theta, (float)(2 * i) / (float)D);
        const double ang = (double)((float)pos * inv);
        const double rot = j < half ? -(double)x[j + half] : (double)x[j - half];
        out[j] = (double)x[j] * cos(ang) + rot * sin(ang);
    }
}

BN_TEST(variants_match_scalar) {
    fv_variant v[4];
    int nv = fv_variants(v);
    bn_kernel_table s = fv_scalar();
    uint64_t rng = 3;
    static const int64_t halves[] = {1, 3, 4, 7, 8, 15, 16, 17, 32, 33, 64, 65};
    for (size_t hi = 0; hi < sizeof halves / sizeof halves[0]; hi++) {
        int64_t half = halves[hi];
        float x[130] = {0}, c[65], sn[65], a[130], b[130];
        fv_fill(x, 2 * half, &rng, -2.0f, 2.0f);
        for (int64_t i = 0; i < half; i++) {
            float ang = bn_test_rand_float(&rng, -100.0f, 100.0f);
            c[i] = cosf(ang), sn[i] = sinf(ang);
        }
        memcpy(a, x, sizeof x);
        s.rope_f32(a, c, sn, half);
        for (int k = 0; k < nv; k++) {
            memcpy(b, x, sizeof x);
            v[k].t.rope_f32(b, c, sn, half);
            for (int64_t i = 0; i < 2 * half; i++)
                if (!FV_CLOSE(b[i], a[i], fmax(1.0, fabs(a[i])), "%s half=%lld i=%lld", v[k].name, (long long)half,
                              (long long)i))
                    break;
        }
    }
}

BN_TEST(matches_naive_double_hf) {
    enum { T = 5, H = 3, D = 128 };
    const float theta = 500000.0f;
    int32_t pos[T] = {0, 1, 17, 255, 4095};
    float* x = malloc(T * H * D * sizeof *x);
    float* y = malloc(T * H * D * sizeof *y);
    uint64_t rng = 9;
    fv_fill(x, T * H * D, &rng, -3.0f, 3.0f);
    memcpy(y, x, T * H * D * sizeof *x);
    BN_CHECK_OK(bn_rope_f32(y, T, H, D, pos, theta));
    double want[D];
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++) {
            ref_rope(x + (t * H + h) * D, D, pos[t], theta, want);
            for (int j = 0; j < D; j++)
                /* float cos/sin of the same float angle: a few ulp of |x| (3) */
                if (!FV_CLOSE(y[(t * H + h) * D + j], want[j], 3.0, "t=%d h=%d j=%d: %g vs %g", t, h, j,
                              y[(t * H + h) * D + j], want[j]))
                    break;
        }
    /* position 0 is the identity */
    BN_CHECK(memcmp(y, x, H * D * sizeof *x) == 0);
    free(x), free(y);
}

BN_TEST(table_equals_on_the_fly) {
    enum { T = 4, H = 2, D = 64, NPOS = 300 };
    int32_t pos[T] = {299, 0, 7, 128};
    float *c = malloc(NPOS * D / 2 * sizeof *c), *s = malloc(NPOS * D / 2 * sizeof *s);
    float x[T * H * D], y[T * H * D];
    uint64_t rng = 21;
    fv_fill(x, T * H * D, &rng, -1.0f, 1.0f);
    memcpy(y, x, sizeof x);
    BN_CHECK_OK(bn_rope_table_f32(NPOS, D, 10000.0f, c, s));
    BN_CHECK_OK(bn_rope_f32(x, T, H, D, pos, 10000.0f));
    BN_CHECK_OK(bn_rope_f32_table(y, T, H, D, pos, c, s, NPOS));
    BN_CHECK(memcmp(x, y, sizeof x) == 0);
    int32_t bad = NPOS;
    BN_CHECK_STATUS(bn_rope_f32_table(y, 1, H, D, &bad, c, s, NPOS), BN_ERR_SHAPE);
    free(c), free(s);
}

BN_TEST(pairs_are_rotate_half_not_interleaved) {
    /* D = 4, pos = 1, theta = 1: every inv_freq is 1, angle 1. A unit vector at index 0 rotates into index 2
     * (its rotate-half partner), never into index 1 (the interleaved/GPT-J partner). */
    float x[4] = {1, 0, 0, 0};
    int32_t pos = 1;
    BN_CHECK_OK(bn_rope_f32(x, 1, 1, 4, &pos, 1.0f));
    BN_CHECK(fabsf(x[0] - cosf(1.0f)) < 1e-6f);
    BN_CHECK(x[1] == 0.0f);
    BN_CHECK(fabsf(x[2] - sinf(1.0f)) < 1e-6f);
    BN_CHECK(x[3] == 0.0f);
}

BN_TEST(errors) {
    float x[8] = {0};
    int32_t pos = 0, neg = -1;
    BN_CHECK_STATUS(bn_rope_f32(x, 1, 1, 3, &pos, 10000.0f), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_rope_f32(x, 1, 1, 8, &neg, 10000.0f), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_rope_f32(x, 1, 1, 8, &pos, 0.0f), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_rope_f32(NULL, 1, 1, 8, &pos, 1.0f), BN_ERR_INVALID_ARGUMENT);
}
