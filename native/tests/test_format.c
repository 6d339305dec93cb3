/* The format table (quant/format.c): what each row says about itself, conversions between every pair of
 * ternary formats through their codes, and every refusal of bad arguments. The byte layouts themselves are
 * tested against their origins in test_format_<name>.c. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

BN_TEST(table_describes_each_format) {
    const struct {
        bn_format f;
        const char* name;
        int32_t block, bytes, ggml, scale_kind, row_mul, col_mul, extra;
    } want[] = {
        {BN_FORMAT_HF_2B4T, "HF_2B4T", 4, 1, -1, BN_SCALE_OUTSIDE, 4, 1, 0},
        {BN_FORMAT_TQ1_0, "TQ1_0", 256, 54, 34, BN_SCALE_PER_BLOCK, 1, 256, 0},
        {BN_FORMAT_TQ2_0, "TQ2_0", 256, 66, 35, BN_SCALE_PER_BLOCK, 1, 256, 0},
        {BN_FORMAT_I2_S_X86, "I2_S_X86", 128, 32, 36, BN_SCALE_PER_TENSOR, 1, 128, 32},
        {BN_FORMAT_I2_S_ARM, "I2_S_ARM", 64, 16, 36, BN_SCALE_PER_TENSOR, 1, 64, 32},
    };
    BN_CHECK_EQ_I64(bn_format_count(), 5);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bn_format_info info;
        BN_CHECK_OK(bn_format_get_info(want[i].f, &info));
        BN_CHECK_MSG(strcmp(info.name, want[i].name) == 0, "format %d is %s", (int)want[i].f, info.name);
        BN_CHECK_EQ_I64(info.block_size, want[i].block);
        BN_CHECK_EQ_I64(info.block_bytes, want[i].bytes);
        BN_CHECK_EQ_I64(info.ggml_type, want[i].ggml);
        BN_CHECK_EQ_I64(info.scale_kind, want[i].scale_kind);
        BN_CHECK_EQ_I64(info.row_multiple, want[i].row_mul);
        BN_CHECK_EQ_I64(info.col_multiple, want[i].col_mul);
        BN_CHECK_EQ_I64(info.tensor_extra_bytes, want[i].extra);
        BN_CHECK_EQ_I64(info.ternary, 1);
        bn_format back;
        BN_CHECK_OK(bn_format_from_name(want[i].name, &back));
        BN_CHECK_EQ_I64(back, want[i].f);
    }
    /* sizes of a 2B4T-shaped projection (2560 x 6912): bits per weight 2, 1.6875, 2.0625, 2 (+32 bytes) */
    const int64_t n = 2560LL * 6912;
    const int64_t expect[5] = {n / 4, n / 256 * 54, n / 256 * 66, n / 4 + 32, n / 4 + 32};
    const int64_t scales[5] = {0, n / 256, n / 256, 1, 1};
    for (int f = 0; f < 5; f++) {
        int64_t size, ns;
        BN_CHECK_OK(bn_format_packed_size((bn_format)f, 2560, 6912, &size));
        BN_CHECK_EQ_I64(size, expect[f]);
        BN_CHECK_OK(bn_format_scale_count((bn_format)f, 2560, 6912, &ns));
        BN_CHECK_EQ_I64(ns, scales[f]);
    }
}

static void random_codes(int8_t* q, int64_t n, uint64_t* rng) {
    for (int64_t i = 0; i < n; i++) q[i] = (int8_t)((int)(bn_test_rand_u64(rng) % 3) - 1);
    for (int64_t i = 512; i < n && i < 768; i++) q[i] = 0; /* an all-zero 256-block */
}

BN_TEST(every_pair_converts_through_codes) {
    /* a scale that fp16 holds exactly, so that TQ's d and I2_S's fp32 scale agree */
    const float scale = 0.0234375f;
    const int64_t shapes[2][2] = {{8, 512}, {4, 2560}};
    uint64_t rng = 41;
    for (int s = 0; s < 2; s++) {
        const int64_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        int8_t* q = malloc((size_t)n);
        random_codes(q, n, &rng);
        for (int a = 0; a < 5; a++)
            for (int b = 0; b < 5; b++) {
                int64_t size_a, size_b;
                BN_CHECK_OK(bn_format_packed_size((bn_format)a, rows, cols, &size_a));
                BN_CHECK_OK(bn_format_packed_size((bn_format)b, rows, cols, &size_b));
                uint8_t *pa = malloc((size_t)size_a), *pb = malloc((size_t)size_b), *direct = malloc((size_t)size_b);
                BN_CHECK_OK(bn_format_pack((bn_format)a, q, rows, cols, &scale, 1, pa, size_a));
                BN_CHECK_OK(bn_format_pack((bn_format)b, q, rows, cols, &scale, 1, direct, size_b));
                BN_CHECK_OK(bn_format_convert((bn_format)a, pa, size_a, (bn_format)b, rows, cols, scale, pb, size_b));
                BN_CHECK_MSG(memcmp(pb, direct, (size_t)size_b) == 0, "%d -> %d (%lldx%lld): bytes differ", a, b,
                             (long long)rows, (long long)cols);
                /* and back to the same codes and floats */
                int8_t* back = malloc((size_t)n);
                int64_t ns;
                BN_CHECK_OK(bn_format_scale_count((bn_format)b, rows, cols, &ns));
                float* sc = malloc((size_t)(ns + 1) * sizeof *sc);
                BN_CHECK_OK(bn_format_unpack((bn_format)b, pb, size_b, rows, cols, back, n, sc, ns));
                BN_CHECK(memcmp(back, q, (size_t)n) == 0);
                float* f = malloc((size_t)n * sizeof *f);
                BN_CHECK_OK(bn_format_dequantize((bn_format)b, pb, size_b, rows, cols, scale, f, n));
                for (int64_t i = 0; i < n; i++) BN_CHECK(f[i] == (float)q[i] * scale);
                free(pa), free(pb), free(direct), free(back), free(sc), free(f);
            }
        free(q);
    }
}

BN_TEST(per_block_scales_convert_where_they_fit) {
    /* TQ2_0 from floats has one d per block; TQ1_0 takes them block for block, a per-tensor format cannot */
    const int64_t rows = 2, cols = 512, n = rows * cols;
    float w[1024];
    uint64_t rng = 43;
    for (int64_t i = 0; i < n; i++) w[i] = bn_test_rand_float(&rng, -1.0f, 1.0f) * (float)(1 + i / 256);
    uint8_t tq2[4 * 66], tq1[4 * 54], i2s[n / 4 + 32], hf[n / 4];
    BN_CHECK_OK(bn_format_quantize(BN_FORMAT_TQ2_0, w, rows, cols, tq2, sizeof tq2));
    BN_CHECK_OK(
        bn_format_convert(BN_FORMAT_TQ2_0, tq2, sizeof tq2, BN_FORMAT_TQ1_0, rows, cols, 0.0f, tq1, sizeof tq1));
    float f2[1024], f1[1024];
    BN_CHECK_OK(bn_format_dequantize(BN_FORMAT_TQ2_0, tq2, sizeof tq2, rows, cols, 0.0f, f2, n));
    BN_CHECK_OK(bn_format_dequantize(BN_FORMAT_TQ1_0, tq1, sizeof tq1, rows, cols, 0.0f, f1, n));
    BN_CHECK(memcmp(f1, f2, sizeof f1) == 0);
    uint8_t tq1_direct[4 * 54];
    BN_CHECK_OK(bn_format_quantize(BN_FORMAT_TQ1_0, w, rows, cols, tq1_direct, sizeof tq1_direct));
    BN_CHECK(memcmp(tq1, tq1_direct, sizeof tq1) == 0); /* same as quantizing the floats as TQ1_0 */
    BN_CHECK_STATUS(bn_format_convert(BN_FORMAT_TQ2_0, tq2, sizeof tq2, BN_FORMAT_I2_S_X86, rows, cols, 0.0f, i2s,
                                      sizeof i2s),
                    BN_ERR_UNSUPPORTED);
    BN_CHECK_MSG(strstr(bn_last_error(), "blocks 0 and 1 have different scales"), "%s", bn_last_error());
    /* into HF the scale is dropped, so any blocks go */
    BN_CHECK_OK(bn_format_convert(BN_FORMAT_TQ2_0, tq2, sizeof tq2, BN_FORMAT_HF_2B4T, rows * 2, cols / 2, 0.0f, hf,
                                  sizeof hf));
}

/* bn_format_tensor_scale reads the one scale in place: the shared d of the nonzero blocks (a row at a time: the
 * blocks compared and the bad d found sit in different rows), a per-tensor format's stored scale, and refuses
 * per-block scales that differ, a non-finite d (naming its row) and a scale kept outside. */
BN_TEST(tensor_scale_is_read_in_place) {
    enum { ROWS = 3, COLS = 512, N = ROWS * COLS };
    static const bn_format per_block[2] = {BN_FORMAT_TQ1_0, BN_FORMAT_TQ2_0};
    int8_t q[N];
    uint64_t rng = 7;
    for (int i = 0; i < N; i++) q[i] = (int8_t)((int)(bn_test_rand_u64(&rng) % 3) - 1);
    memset(q, 0, 256); /* block 0 all zero: ggml gives it d = 0, which does not count */
    const float scale = 0.375f;
    float got = -1.0f;
    for (int f = 0; f < 2; f++) {
        const bn_format fmt = per_block[f];
        const int64_t bb = fmt == BN_FORMAT_TQ1_0 ? 54 : 66, size = N / 256 * bb;
        uint8_t p[6 * 66];
        BN_CHECK_OK(bn_format_pack(fmt, q, ROWS, COLS, &scale, 1, p, size));
        BN_CHECK_OK(bn_format_tensor_scale(fmt, p, size, ROWS, COLS, &got));
        BN_CHECK_MSG(got == scale, "%d: %g", f, (double)got);
        BN_CHECK_STATUS(bn_format_tensor_scale(fmt, p, size - 1, ROWS, COLS, &got), BN_ERR_SHAPE);
        /* block 4 (row 2) gets another d: refused naming blocks 1 and 4, as bn_format_convert does */
        uint8_t bad[6 * 66];
        memcpy(bad, p, (size_t)size);
        const uint16_t half = 0x3C00; /* 1.0 */
        memcpy(bad + 4 * bb + bb - 2, &half, 2);
        BN_CHECK_STATUS(bn_format_tensor_scale(fmt, bad, size, ROWS, COLS, &got), BN_ERR_UNSUPPORTED);
        BN_CHECK_MSG(strstr(bn_last_error(), "blocks 1 and 4 have different scales (0.375, 1)"), "%s", bn_last_error());
        /* a NaN d in block 3 (row 1's second block) is refused with its row */
        memcpy(bad, p, (size_t)size);
        const uint16_t nan = 0x7E00;
        memcpy(bad + 3 * bb + bb - 2, &nan, 2);
        BN_CHECK_STATUS(bn_format_tensor_scale(fmt, bad, size, ROWS, COLS, &got), BN_ERR_NUMERIC);
        BN_CHECK_MSG(strstr(bn_last_error(), "block 1 has d") && strstr(bn_last_error(), "in row 1, whose first block is block 2"),
                     "%s", bn_last_error());
        /* every code zero: the scale is 0 */
        int8_t zero[N] = {0};
        BN_CHECK_OK(bn_format_pack(fmt, zero, ROWS, COLS, &scale, 1, p, size));
        BN_CHECK_OK(bn_format_tensor_scale(fmt, p, size, ROWS, COLS, &got));
        BN_CHECK(got == 0.0f);
    }
    uint8_t i2s[N / 4 + 32], hf[N / 4];
    BN_CHECK_OK(bn_format_pack(BN_FORMAT_I2_S_X86, q, ROWS, COLS, &scale, 1, i2s, sizeof i2s));
    BN_CHECK_OK(bn_format_tensor_scale(BN_FORMAT_I2_S_X86, i2s, sizeof i2s, ROWS, COLS, &got));
    BN_CHECK(got == scale);
    BN_CHECK_OK(bn_format_pack(BN_FORMAT_HF_2B4T, q, ROWS * 4, COLS / 4, NULL, 0, hf, sizeof hf));
    BN_CHECK_STATUS(bn_format_tensor_scale(BN_FORMAT_HF_2B4T, hf, sizeof hf, ROWS * 4, COLS / 4, &got),
                    BN_ERR_UNSUPPORTED);
    BN_CHECK_STATUS(bn_format_tensor_scale(BN_FORMAT_TQ1_0, hf, sizeof hf, ROWS, COLS, NULL), BN_ERR_INVALID_ARGUMENT);
}

BN_TEST(scale_rules) {
    int8_t q[256] = {0};
    uint8_t p[66];
    float s = FLT_MIN / 2; /* subnormal */
    BN_CHECK_OK(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 256, &s, 1, p, sizeof p)); /* all zero: any scale >= 0 */
    q[9] = -1;
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 256, &s, 1, p, sizeof p), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "normal float") != NULL);
    s = 0.0f;
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_I2_S_X86, q, 2, 128, &s, 1, p, sizeof p), BN_ERR_NUMERIC);
    s = -1.0f;
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 256, &s, 1, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "must not be negative") != NULL);
    s = NAN;
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 256, &s, 1, p, sizeof p), BN_ERR_NUMERIC);
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 256, NULL, 1, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    float two[2] = {1.0f, 1.0f};
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 256, two, 2, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_MSG(strstr(bn_last_error(), "1 tensor scale or one per block (1)"), "%s", bn_last_error());
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 256, two, 0, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    /* converting from HF needs a usable scale */
    uint8_t hf[64];
    int8_t z[256] = {1};
    BN_CHECK_OK(bn_format_pack(BN_FORMAT_HF_2B4T, z, 4, 64, NULL, 0, hf, sizeof hf));
    BN_CHECK_STATUS(bn_format_convert(BN_FORMAT_HF_2B4T, hf, sizeof hf, BN_FORMAT_TQ2_0, 4, 64, INFINITY, p, sizeof p),
                    BN_ERR_SHAPE); /* 64 columns are not a TQ block */
    uint8_t i2s[4 * 64 / 4 + 32];
    BN_CHECK_STATUS(bn_format_convert(BN_FORMAT_HF_2B4T, hf, sizeof hf, BN_FORMAT_I2_S_ARM, 4, 64, INFINITY, i2s,
                                      sizeof i2s),
                    BN_ERR_NUMERIC);
    BN_CHECK_OK(bn_format_convert(BN_FORMAT_HF_2B4T, hf, sizeof hf, BN_FORMAT_I2_S_ARM, 4, 64, 0.5f, i2s, sizeof i2s));
    float back;
    BN_CHECK_OK(bn_format_unpack(BN_FORMAT_I2_S_ARM, i2s, sizeof i2s, 4, 64, z, 256, &back, 1));
    BN_CHECK(back == 0.5f && z[0] == 1 && z[1] == 0);
}

BN_TEST(bad_arguments) {
    int8_t q[512] = {0};
    uint8_t p[200];
    float s = 1.0f, f[512];
    int64_t v;
    bn_format_info info;
    bn_format fmt;
    BN_CHECK_STATUS(bn_format_get_info((bn_format)99, &info), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "unknown format 99") != NULL);
    BN_CHECK_STATUS(bn_format_get_info(BN_FORMAT_TQ2_0, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_from_name("Q4_0", &fmt), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "\"Q4_0\"") != NULL);
    BN_CHECK_STATUS(bn_format_from_name(NULL, &fmt), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_packed_size(BN_FORMAT_TQ2_0, 0, 256, &v), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_packed_size(BN_FORMAT_TQ2_0, -2, 256, &v), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_packed_size(BN_FORMAT_TQ2_0, INT64_MAX / 256 + 1, 512, &v), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_format_packed_size(BN_FORMAT_TQ2_0, 1, 256, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_scale_count((bn_format)-1, 1, 256, &v), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ2_0, NULL, 1, 256, &s, 1, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 256, &s, 1, NULL, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 256, &s, 1, p, 65), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_MSG(strstr(bn_last_error(), "dst has 65 bytes; TQ2_0 needs 66"), "%s", bn_last_error());
    q[100] = -2;
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ1_0, q, 1, 256, &s, 1, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "codes[100] = -2 is not ternary") != NULL);
    q[100] = 0;
    BN_CHECK_OK(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 256, &s, 1, p, sizeof p));
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_TQ2_0, p, 66, 1, 256, q, 255, &s, 1), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_TQ2_0, p, 66, 1, 256, q, 256, &s, 0), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_TQ2_0, NULL, 66, 1, 256, q, 256, &s, 1), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_TQ2_0, p, 66, 1, 256, NULL, 256, &s, 1), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_dequantize(BN_FORMAT_TQ2_0, p, 66, 1, 256, 0.0f, NULL, 256), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_dequantize(BN_FORMAT_TQ2_0, p, 65, 1, 256, 0.0f, f, 256), BN_ERR_SHAPE);
    for (int i = 0; i < 256; i++) f[i] = 0.5f;
    f[200] = NAN;
    BN_CHECK_STATUS(bn_format_quantize(BN_FORMAT_TQ2_0, f, 1, 256, p, sizeof p), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "w[200]") != NULL);
    f[200] = 0.5f;
    BN_CHECK_STATUS(bn_format_quantize(BN_FORMAT_TQ2_0, f, 1, 256, p, 10), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_format_quantize(BN_FORMAT_TQ2_0, NULL, 1, 256, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_convert(BN_FORMAT_TQ2_0, p, 66, BN_FORMAT_TQ1_0, 1, 256, 0.0f, p + 66, 53),
                    BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_format_convert(BN_FORMAT_TQ2_0, p, 66, (bn_format)42, 1, 256, 0.0f, p + 66, 100),
                    BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_format_convert(BN_FORMAT_TQ2_0, p, 66, BN_FORMAT_HF_2B4T, 1, 256, 0.0f, p + 66, 100),
                    BN_ERR_SHAPE); /* one row is not a multiple of 4 */
    BN_CHECK_STATUS(bn_format_convert(BN_FORMAT_TQ2_0, p, 66, BN_FORMAT_TQ1_0, 1, 256, 0.0f, NULL, 100),
                    BN_ERR_INVALID_ARGUMENT);
}
