/* BN_FORMAT_I2_S_X86 / BN_FORMAT_I2_S_ARM (quant/format_i2_s.c) against an independent reference written here
 * from bitnet.cpp's quantize_i2_s (microsoft/BitNet src/ggml-bitnet-mad.cpp: the ACT_PARALLEL branch that
 * include/gemm-config.h selects on x86 with QK_I2_S = 128, and the __ARM_NEON branch with QK_I2_S = 64) and
 * the fork's dequantize_row_i2_s (map 0 -> -1, 1 -> 0, 2 -> +1). */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

/* quantize_i2_s, step for step: max|x| in double, q8 = 1 where |x| < 1e-6 else (x * max > 0 ? 2 : 0), then
 * each block of QK: q8[j] << (6 - 2 * (j / (QK/4))) ORed into byte j % (QK/4); the float scale at n/4. The
 * 28 bytes after the scale are left as the buffer had them by quantize_i2_s; its Python converters write
 * zeros, and so does this reference. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__aarch64__)
/* aarch64 gcc 12 -O3 crashes (internal compiler error) vectorising the fmax-in-double reduction below */
__attribute__((optimize("no-tree-vectorize")))
#endif
static void ref_quantize_i2_s(int qk, const float* src, uint8_t* dst, int64_t n) {
    double max = 0;
    for (int64_t i = 0; i < n; ++i) max = fmax(max, (double)fabs((double)src[i]));
    double i2_scale = max;
    uint8_t* q8 = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) {
        if (fabs((double)(src[i])) < 1e-6) {
            q8[i] = 1;
            continue;
        }
        q8[i] = (double)src[i] * i2_scale > 0 ? 2 : 0;
    }
    memset(dst, 0, (size_t)(n / 4 + 32));
    const int group = qk / 4;
    for (int64_t i = 0; i < n / qk; i++)
        for (int j = 0; j < qk; j++) {
            int group_idx = j / group, group_pos = j % group;
            dst[i * group + group_pos] |= (uint8_t)(q8[i * qk + j] << (6 - 2 * group_idx));
        }
    float scale = (float)i2_scale;
    memcpy(dst + n / 4, &scale, sizeof scale); /* little-endian hosts, as bitnet.cpp assumes */
    free(q8);
}

static void ref_dequantize_i2_s(int qk, const uint8_t* x, float* y, int64_t n) {
    static const float map2bit[4] = {-1.0f, 0.0f, 1.0f, 0.0f};
    float scale;
    memcpy(&scale, x + n / 4, sizeof scale);
    const int group = qk / 4;
    for (int64_t b = 0; b < n / qk; b++)
        for (int gp = 0; gp < group; gp++) {
            const uint8_t byte = x[b * group + gp];
            for (int k = 0; k < 4; k++) y[b * qk + k * group + gp] = scale * map2bit[(byte >> (6 - 2 * k)) & 3];
        }
}

static const struct {
    bn_format f;
    int qk;
} k_layouts[2] = {{BN_FORMAT_I2_S_X86, 128}, {BN_FORMAT_I2_S_ARM, 64}};
static const int64_t k_shapes[][2] = {{1, 128}, {3, 384}, {5, 640}, {7, 256}, {2, 2560}};

BN_TEST(from_floats_equals_quantize_i2_s) {
    uint64_t rng = 5;
    for (int l = 0; l < 2; l++)
        for (size_t s = 0; s < sizeof k_shapes / sizeof k_shapes[0]; s++) {
            const int64_t rows = k_shapes[s][0], cols = k_shapes[s][1], n = rows * cols, size = n / 4 + 32;
            float* w = malloc((size_t)n * sizeof *w);
            for (int64_t i = 0; i < n; i++) {
                w[i] = bn_test_rand_float(&rng, -0.05f, 0.05f);
                if (i % 5 == 0) w[i] = 0.0f;
                if (i % 11 == 0) w[i] = (i % 2 ? 9e-7f : -9.9e-7f); /* under the 1e-6 threshold: code 0 */
                if (i % 13 == 0) w[i] = -1.0001e-6f;                  /* just over it: -1 */
            }
            int64_t got_size;
            BN_CHECK_OK(bn_format_packed_size(k_layouts[l].f, rows, cols, &got_size));
            BN_CHECK_EQ_I64(got_size, size);
            uint8_t *want = malloc((size_t)size), *got = malloc((size_t)size);
            ref_quantize_i2_s(k_layouts[l].qk, w, want, n);
            memset(got, 0xAA, (size_t)size);
            BN_CHECK_OK(bn_format_quantize(k_layouts[l].f, w, rows, cols, got, size));
            BN_CHECK_MSG(memcmp(want, got, (size_t)size) == 0, "qk %d %lldx%lld: bytes differ", k_layouts[l].qk,
                         (long long)rows, (long long)cols);
            float *fw = malloc((size_t)n * sizeof(float)), *fg = malloc((size_t)n * sizeof(float));
            ref_dequantize_i2_s(k_layouts[l].qk, got, fw, n);
            BN_CHECK_OK(bn_format_dequantize(k_layouts[l].f, got, size, rows, cols, 0.0f, fg, n));
            BN_CHECK(memcmp(fw, fg, (size_t)n * sizeof(float)) == 0);
            free(w), free(want), free(got), free(fw), free(fg);
        }
}

BN_TEST(codes_and_scale_equal_quantize_i2_s_on_their_floats) {
    /* quantize_i2_s zeroes |w| < 1e-6 (in double), so the codes survive its float path only for scales >= 1e-6;
     * 1e-6f itself is just below 1e-6 */
    const float scales[] = {1.0f, 0.0123f, 1.0001e-6f, 2.5e3f};
    uint64_t rng = 6;
    for (int l = 0; l < 2; l++)
        for (size_t s = 0; s < sizeof k_shapes / sizeof k_shapes[0]; s++)
            for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
                const int64_t rows = k_shapes[s][0], cols = k_shapes[s][1], n = rows * cols, size = n / 4 + 32;
                int8_t *q = malloc((size_t)n), *back = malloc((size_t)n);
                float* f = malloc((size_t)n * sizeof *f);
                uint8_t *want = malloc((size_t)size), *got = malloc((size_t)size);
                for (int64_t i = 0; i < n; i++) q[i] = (int8_t)((int)(bn_test_rand_u64(&rng) % 3) - 1);
                for (int64_t i = 0; i < n; i++) f[i] = (float)q[i] * scales[k];
                ref_quantize_i2_s(k_layouts[l].qk, f, want, n);
                BN_CHECK_OK(bn_format_pack(k_layouts[l].f, q, rows, cols, &scales[k], 1, got, size));
                BN_CHECK_MSG(memcmp(want, got, (size_t)size) == 0, "qk %d s=%g: bytes differ", k_layouts[l].qk,
                             (double)scales[k]);
                float scale_back;
                BN_CHECK_OK(bn_format_unpack(k_layouts[l].f, got, size, rows, cols, back, n, &scale_back, 1));
                BN_CHECK(memcmp(q, back, (size_t)n) == 0);
                BN_CHECK(scale_back == scales[k]);
                free(q), free(back), free(f), free(want), free(got);
            }
}

BN_TEST(all_zero_codes_store_scale_zero) {
    int8_t q[128] = {0};
    uint8_t p[64];
    float s = 0.25f, back;
    BN_CHECK_OK(bn_format_pack(BN_FORMAT_I2_S_X86, q, 1, 128, &s, 1, p, sizeof p));
    BN_CHECK_OK(bn_format_unpack(BN_FORMAT_I2_S_X86, p, sizeof p, 1, 128, q, 128, &back, 1));
    BN_CHECK(back == 0.0f); /* what quantize_i2_s writes for all-zero floats: max|w| = 0 */
    for (int i = 0; i < 32; i++) BN_CHECK(p[i] == 0x55);
}

BN_TEST(x86_and_arm_layouts_convert_both_ways) {
    uint64_t rng = 7;
    for (size_t s = 0; s < sizeof k_shapes / sizeof k_shapes[0]; s++) {
        const int64_t rows = k_shapes[s][0], cols = k_shapes[s][1], n = rows * cols, size = n / 4 + 32;
        int8_t* q = malloc((size_t)n);
        uint8_t *x86 = malloc((size_t)size), *arm = malloc((size_t)size), *conv = malloc((size_t)size);
        for (int64_t i = 0; i < n; i++) q[i] = (int8_t)((int)(bn_test_rand_u64(&rng) % 3) - 1);
        const float scale = 0.731f;
        BN_CHECK_OK(bn_format_pack(BN_FORMAT_I2_S_X86, q, rows, cols, &scale, 1, x86, size));
        BN_CHECK_OK(bn_format_pack(BN_FORMAT_I2_S_ARM, q, rows, cols, &scale, 1, arm, size));
        BN_CHECK(memcmp(x86, arm, (size_t)(n / 4)) != 0); /* the layouts do differ */
        BN_CHECK_OK(bn_format_convert(BN_FORMAT_I2_S_X86, x86, size, BN_FORMAT_I2_S_ARM, rows, cols, 0.0f, conv, size));
        BN_CHECK(memcmp(conv, arm, (size_t)size) == 0);
        BN_CHECK_OK(bn_format_convert(BN_FORMAT_I2_S_ARM, arm, size, BN_FORMAT_I2_S_X86, rows, cols, 0.0f, conv, size));
        BN_CHECK(memcmp(conv, x86, (size_t)size) == 0);
        free(q), free(x86), free(arm), free(conv);
    }
    /* an ARM tensor whose rows are not whole x86 blocks cannot become x86 */
    int8_t q[192] = {0};
    uint8_t arm[80], x86[80];
    float s = 1.0f;
    BN_CHECK_OK(bn_format_pack(BN_FORMAT_I2_S_ARM, q, 1, 192, &s, 1, arm, sizeof arm));
    BN_CHECK_STATUS(bn_format_convert(BN_FORMAT_I2_S_ARM, arm, sizeof arm, BN_FORMAT_I2_S_X86, 1, 192, 0.0f, x86,
                                      sizeof x86),
                    BN_ERR_SHAPE);
    BN_CHECK_MSG(strstr(bn_last_error(), "I2_S_X86 needs cols to be a multiple of its block (128); cols is 192"), "%s",
                 bn_last_error());
}

BN_TEST(bad_bytes) {
    int8_t q[128] = {0};
    uint8_t p[64];
    float s = 0.5f, back;
    q[3] = 1;
    BN_CHECK_OK(bn_format_pack(BN_FORMAT_I2_S_X86, q, 1, 128, &s, 1, p, sizeof p));
    p[9] |= 0x30; /* a field of 3 in bits 4..5 of byte 9 */
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_I2_S_X86, p, sizeof p, 1, 128, q, 128, &back, 1), BN_ERR_FORMAT);
    BN_CHECK_MSG(strstr(bn_last_error(), "byte 9") && strstr(bn_last_error(), "bits 4..5"), "%s", bn_last_error());
    p[9] &= 0xCF;
    const float nan = NAN, neg = -2.0f;
    memcpy(p + 32, &nan, 4);
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_I2_S_X86, p, sizeof p, 1, 128, q, 128, &back, 1), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "byte 32") != NULL);
    memcpy(p + 32, &neg, 4);
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_I2_S_X86, p, sizeof p, 1, 128, q, 128, &back, 1), BN_ERR_FORMAT);
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_I2_S_X86, p, 63, 1, 128, q, 128, &back, 1), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_I2_S_X86, p, 64, 1, 128, q, 128, NULL, 1), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_I2_S_X86, p, 64, 1, 128, q, 128, &back, 0), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_I2_S_ARM, q, 1, 100, &s, 1, p, sizeof p), BN_ERR_SHAPE);
    float two[2] = {1.0f, 1.0f};
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_I2_S_X86, q, 1, 128, two, 2, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "takes 1 tensor scale") != NULL);
}
