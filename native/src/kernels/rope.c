/* Rotary position embedding, HF "default" rope with rotate_half (GPT-NeoX style): for head_dim D the pairs
 * are (i, i + D/2), i < D/2, rotated by angle pos * inv_freq[i]. Angles are computed in float32 exactly as
 * HF's LlamaRotaryEmbedding does:
 *   inv_freq[i] = 1 / (theta ** (2i / D))   (torch: 1.0 / base ** (arange(0, D, 2).float() / D))
 *   freqs = pos * inv_freq[i] (float), cos/sin of that in float
 * Scalar reference, the cos/sin table and the public entry points. */
#include <math.h>

#include "core/error.h"
#include "kernels/kernels.h"

// x (2*half) in place, cos (half), sin (half)
void bn_rope_f32_scalar(float* x, const float* cos, const float* sin, int64_t half) {
    for (int64_t i = 0; i < half; i++) {
        const float x1 = x[i], x2 = x[i + half];
        const float a = x1 * cos[i], b = x2 * sin[i], c = x2 * cos[i], d = x1 * sin[i];
        x[i] = a - b;
        x[i + half] = c + d;
    }
}

void bn_install_rope_scalar(bn_kernel_table* t) {
    t->rope_f32 = bn_rope_f32_scalar;
    t->rope_f32_impl = "scalar";
}

/* inv_freq (D/2), float as torch computes it: the exponent 2i/D in float, pow in float (powf is correctly
 * rounded to within an ulp like torch's), then 1/x. */
static void inv_freq(int64_t D, float theta, float* out) {
    for (int64_t i = 0; i < D / 2; i++) out[i] = 1.0f / powf(theta, (float)(2 * i) / (float)D);
}

/* cos/sin (D/2) for one position. */
static void angles(float pos, const float* inv, int64_t half, float* c, float* s) {
    for (int64_t i = 0; i < half; i++) {
        const float f = pos * inv[i];
        c[i] = cosf(f);
        s[i] = sinf(f);
    }
}

static bn_status check_dims(const char* fn, int64_t D, float theta) {
    if (D <= 0 || D % 2 != 0 || D > 4096)
        return bn_fail(BN_ERR_SHAPE, "%s: head_dim (%lld) must be even and in 2..4096", fn, (long long)D);
    if (!(theta > 0.0f) || isinf(theta))
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: theta (%g) must be finite and > 0", fn, (double)theta);
    return BN_OK;
}

// -> cos (n_pos, D/2), sin (n_pos, D/2) for positions 0..n_pos-1
bn_status bn_rope_table_f32(int64_t n_pos, int64_t D, float theta, float* cos, float* sin) {
    BN_REQUIRE_ARG(cos != NULL && sin != NULL, "bn_rope_table_f32: cos and sin must not be null");
    BN_REQUIRE_ARG(n_pos >= 0, "bn_rope_table_f32: n_pos (%lld) is negative", (long long)n_pos);
    bn_status st = check_dims("bn_rope_table_f32", D, theta);
    if (st != BN_OK) return st;
    float inv[2048];
    inv_freq(D, theta, inv);
    for (int64_t p = 0; p < n_pos; p++) angles((float)p, inv, D / 2, cos + p * (D / 2), sin + p * (D / 2));
    return BN_OK;
}

static bn_status check_apply(const char* fn, const float* x, int64_t T, int64_t H, int64_t D, const int32_t* pos) {
    BN_REQUIRE_ARG(x != NULL && pos != NULL, "%s: x and pos must not be null", fn);
    BN_REQUIRE_ARG(T >= 0 && H > 0, "%s: T (%lld) must be >= 0 and H (%lld) > 0", fn, (long long)T, (long long)H);
    for (int64_t t = 0; t < T; t++)
        if (pos[t] < 0) return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: pos[%lld] (%d) is negative", fn, (long long)t, pos[t]);
    (void)D;
    return BN_OK;
}

// x (T,H,D) in place, pos (T)
bn_status bn_rope_f32(float* x, int64_t T, int64_t H, int64_t D, const int32_t* pos, float theta) {
    bn_status st = check_dims("bn_rope_f32", D, theta);
    if (st != BN_OK) return st;
    st = check_apply("bn_rope_f32", x, T, H, D, pos);
    if (st != BN_OK) return st;
    bn_kernels_init();
    float inv[2048], c[2048], s[2048];
    inv_freq(D, theta, inv);
    for (int64_t t = 0; t < T; t++) {
        angles((float)pos[t], inv, D / 2, c, s);
        for (int64_t h = 0; h < H; h++) bn_kernels.rope_f32(x + (t * H + h) * D, c, s, D / 2);
    }
    return BN_OK;
}

// x (T,H,D) in place, pos (T), cos/sin (n_pos, D/2) from bn_rope_table_f32
bn_status bn_rope_f32_table(float* x, int64_t T, int64_t H, int64_t D, const int32_t* pos, const float* cos,
                            const float* sin, int64_t n_pos) {
    BN_REQUIRE_ARG(cos != NULL && sin != NULL, "bn_rope_f32_table: cos and sin must not be null");
    if (D <= 0 || D % 2 != 0)
        return bn_fail(BN_ERR_SHAPE, "bn_rope_f32_table: head_dim (%lld) must be even and > 0", (long long)D);
    bn_status st = check_apply("bn_rope_f32_table", x, T, H, D, pos);
    if (st != BN_OK) return st;
    for (int64_t t = 0; t < T; t++)
        if (pos[t] >= n_pos)
            return bn_fail(BN_ERR_SHAPE, "bn_rope_f32_table: pos[%lld] (%d) is outside the table's %lld positions",
                           (long long)t, pos[t], (long long)n_pos);
    bn_kernels_init();
    const int64_t half = D / 2;
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++)
            bn_kernels.rope_f32(x + (t * H + h) * D, cos + pos[t] * half, sin + pos[t] * half, half);
    return BN_OK;
}
