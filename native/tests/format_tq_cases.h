/* The cases test_format_tq1_0.c and test_format_tq2_0.c share: each format against ggml's reference float path,
 * the codes+scale path against that float path, and the pack/unpack round trip. The including file defines
 * QK, BLOCK_BYTES, BN_TQ_FORMAT and its own independent references
 *     static void ref_quantize(const float* x, uint8_t* y, int64_t k);     ggml's quantize_row_tq*_0_ref
 *     static void ref_dequantize(const uint8_t* x, float* y, int64_t k);   ggml's dequantize_row_tq*_0
 * and calls the tq_* cases from its BN_TESTs (ctest registers the BN_TEST lines of the .c file). */
#ifndef BN_TESTS_FORMAT_TQ_CASES_H
#define BN_TESTS_FORMAT_TQ_CASES_H

#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

/* Ternary codes with every third block all zero (so blocks with d = 0 occur). */
static void random_codes(int8_t* q, int64_t n, uint64_t* rng) {
    for (int64_t i = 0; i < n; i++) q[i] = (int8_t)((int)(bn_test_rand_u64(rng) % 3) - 1);
    for (int64_t b = 0; b * QK < n; b += 3) memset(q + b * QK, 0, QK);
}

static const int64_t k_shapes[][2] = {{1, 256}, {3, 768}, {5, 512}, {2, 2560}, {7, 1280}};

static void tq_from_floats_equals_ggml_reference(void) {
    uint64_t rng = 1;
    for (size_t s = 0; s < sizeof k_shapes / sizeof k_shapes[0]; s++) {
        const int64_t rows = k_shapes[s][0], cols = k_shapes[s][1], n = rows * cols;
        float* w = malloc((size_t)n * sizeof *w);
        for (int64_t i = 0; i < n; i++) w[i] = bn_test_rand_float(&rng, -0.1f, 0.1f);
        for (int64_t i = 0; i < n; i += 7) w[i] = 0.0f;
        for (int64_t b = 0; b < n / QK; b++) { /* exact halves of the block max (1/16 and 1/32, so x * id is
                                                  exactly 0.5): lroundf sends them away from 0, rintf would not */
            w[b * QK + 1] = 0.0625f, w[b * QK + 2] = -0.03125f, w[b * QK + 3] = 0.03125f;
            w[b * QK + 4] = b % 2 ? 0.0625f : -0.0625f;
            for (int j = 5; j < QK; j++) w[b * QK + j] = fmaxf(-0.062f, fminf(0.062f, w[b * QK + j]));
        }
        int64_t size;
        BN_CHECK_OK(bn_format_packed_size(BN_TQ_FORMAT, rows, cols, &size));
        BN_CHECK_EQ_I64(size, n / QK * BLOCK_BYTES);
        uint8_t *want = malloc((size_t)size), *got = malloc((size_t)size);
        ref_quantize(w, want, n);
        BN_CHECK_OK(bn_format_quantize(BN_TQ_FORMAT, w, rows, cols, got, size));
        BN_CHECK_MSG(memcmp(want, got, (size_t)size) == 0, "%lldx%lld: bytes differ", (long long)rows, (long long)cols);
        /* the ties went away from zero: element 2 (-max/2) is -1, element 3 (+max/2) is +1 */
        int8_t* q = malloc((size_t)n);
        float* d = malloc((size_t)(n / QK) * sizeof *d);
        BN_CHECK_OK(bn_format_unpack(BN_TQ_FORMAT, got, size, rows, cols, q, n, d, n / QK));
        BN_CHECK(q[2] == -1 && q[3] == 1 && q[1] == 1);
        BN_CHECK(d[0] == 0.0625f);
        /* dequantize equals ggml's */
        float *want_f = malloc((size_t)n * sizeof(float)), *got_f = malloc((size_t)n * sizeof(float));
        ref_dequantize(got, want_f, n);
        BN_CHECK_OK(bn_format_dequantize(BN_TQ_FORMAT, got, size, rows, cols, 0.0f, got_f, n));
        BN_CHECK(memcmp(want_f, got_f, (size_t)n * sizeof(float)) == 0);
        free(w), free(want), free(got), free(q), free(d), free(want_f), free(got_f);
    }
}

static void tq_codes_and_scale_equal_ggml_on_their_floats(void) {
    /* path (b): ternary codes + one tensor scale s, never through floats, must give the bytes that ggml's float
     * path (a) writes for the floats code * s; s covers fp16 normals, subnormals, underflow to 0, and 65504 */
    const float scales[] = {1.0f, 0.0123f, 0.8761f, 3e-8f, 1e-30f, 65504.0f, 65519.0f, 1.17549435e-38f};
    uint64_t rng = 2;
    for (size_t s = 0; s < sizeof k_shapes / sizeof k_shapes[0]; s++)
        for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
            const int64_t rows = k_shapes[s][0], cols = k_shapes[s][1], n = rows * cols, size = n / QK * BLOCK_BYTES;
            int8_t* q = malloc((size_t)n);
            float* f = malloc((size_t)n * sizeof *f);
            uint8_t *want = malloc((size_t)size), *got = malloc((size_t)size);
            random_codes(q, n, &rng);
            for (int64_t i = 0; i < n; i++) f[i] = (float)q[i] * scales[k];
            ref_quantize(f, want, n);
            BN_CHECK_OK(bn_format_pack(BN_TQ_FORMAT, q, rows, cols, &scales[k], 1, got, size));
            BN_CHECK_MSG(memcmp(want, got, (size_t)size) == 0, "%lldx%lld s=%g: bytes differ", (long long)rows,
                         (long long)cols, (double)scales[k]);
            free(q), free(f), free(want), free(got);
        }
}

static void tq_round_trip_is_identity(void) {
    uint64_t rng = 3;
    for (size_t s = 0; s < sizeof k_shapes / sizeof k_shapes[0]; s++) {
        const int64_t rows = k_shapes[s][0], cols = k_shapes[s][1], n = rows * cols, nb = n / QK;
        const int64_t size = nb * BLOCK_BYTES;
        int8_t *q = malloc((size_t)n), *back = malloc((size_t)n);
        float *d = malloc((size_t)nb * sizeof *d), *per_block = malloc((size_t)nb * sizeof *d);
        uint8_t* packed = malloc((size_t)size);
        random_codes(q, n, &rng);
        const float scale = 0.0371f;
        BN_CHECK_OK(bn_format_pack(BN_TQ_FORMAT, q, rows, cols, &scale, 1, packed, size));
        BN_CHECK_OK(bn_format_unpack(BN_TQ_FORMAT, packed, size, rows, cols, back, n, d, nb));
        BN_CHECK(memcmp(q, back, (size_t)n) == 0);
        for (int64_t b = 0; b < nb; b++) /* zero blocks carry d = 0, the others fp16(scale) */
            BN_CHECK(d[b] == (b % 3 == 0 ? 0.0f : bn_fp16_to_fp32(bn_fp32_to_fp16(scale))));
        /* one scale per block, e.g. from per-group absmean with group 256 */
        for (int64_t b = 0; b < nb; b++) per_block[b] = 0.01f * (float)(b + 1);
        BN_CHECK_OK(bn_format_pack(BN_TQ_FORMAT, q, rows, cols, per_block, nb, packed, size));
        BN_CHECK_OK(bn_format_unpack(BN_TQ_FORMAT, packed, size, rows, cols, back, n, d, nb));
        BN_CHECK(memcmp(q, back, (size_t)n) == 0);
        for (int64_t b = 0; b < nb; b++) { /* with one block, one scale is the tensor scale: a zero block gets 0 */
            const float expect = nb == 1 && b % 3 == 0 ? 0.0f : bn_fp16_to_fp32(bn_fp32_to_fp16(per_block[b]));
            BN_CHECK(d[b] == expect);
        }
        free(q), free(back), free(d), free(per_block), free(packed);
    }
}

#endif
