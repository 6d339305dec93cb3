/* Q8_K activations and the integer Q6_K x Q8_K dot (kernels/dot_q8_k*.c): the quantizer against ggml's
 * quantize_row_q8_K_ref on hand-checkable blocks and against a copy of its definition written here (ggml's
 * nearest_int magic add rather than nearbyintf), the scalar dot against an independent int64 computation of the
 * same definition, and every vector version equal to the scalar one bit for bit. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_test.h"
#include "kernels/kernels.h"

/* ggml's nearest_int: adding 1.5 * 2^23 leaves round-to-nearest-even(v) in the low mantissa bits. */
static int nearest_int(float v) {
    const float val = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &val, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* quantize_row_q8_K_ref for one block, structured as ggml writes it. */
static void ggml_q8_k_block(const float* x, bn_block_q8_k* y) {
    float max = 0, amax = 0;
    for (int j = 0; j < 256; ++j)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
    memset(y, 0, sizeof *y);
    if (!amax) return;
    const float iscale = -127.f / max;
    for (int j = 0; j < 256; ++j) {
        const int v = nearest_int(iscale * x[j]);
        y->qs[j] = (int8_t)(v < 127 ? v : 127);
    }
    for (int j = 0; j < 16; ++j) {
        int sum = 0;
        for (int ii = 0; ii < 16; ++ii) sum += y->qs[j * 16 + ii];
        y->bsums[j] = (int16_t)sum;
    }
    y->d = 1 / iscale;
}

static int same_block(const bn_block_q8_k* a, const bn_block_q8_k* b) {
    return memcmp(&a->d, &b->d, sizeof a->d) == 0 && memcmp(a->qs, b->qs, sizeof a->qs) == 0 &&
           memcmp(a->bsums, b->bsums, sizeof a->bsums) == 0;
}

BN_TEST(quantizer_hand_cases) {
    float x[512] = {0};
    bn_block_q8_k y[2];
    /* block 0 all zero: d = 0, qs = 0, bsums = 0 */
    memset(y, 0x5A, sizeof y);
    /* block 1: the largest magnitude is 2, first reached by -2 (negative max): iscale = -127 / -2 = 63.5, so
     * q = rne(63.5 * x): -2 -> -127, 2 -> 127, 0.25 -> 15.875 -> 16, -0.5 -> -31.75 -> -32, 1/64 -> 0.99 -> 1,
     * 1 -> 63.5 -> 64 (tie to even) */
    x[256] = -2.0f;
    x[257] = 0.25f;
    x[258] = -0.5f;
    x[259] = 1.0f / 64.0f;
    x[260] = 2.0f;
    x[272] = 1.0f; /* sub-block 1 */
    BN_CHECK_EQ_I64(bn_quantize_row_q8_k(x, 512, y), 0);
    BN_CHECK(y[0].d == 0.0f);
    for (int j = 0; j < 256; j++) BN_CHECK_EQ_I64(y[0].qs[j], 0);
    for (int k = 0; k < 16; k++) BN_CHECK_EQ_I64(y[0].bsums[k], 0);
    BN_CHECK(y[1].d == 1.0f / 63.5f);
    const int want1[5] = {-127, 16, -32, 1, 127};
    for (int j = 0; j < 5; j++) BN_CHECK_EQ_I64(y[1].qs[j], want1[j]);
    BN_CHECK_EQ_I64(y[1].qs[16], 64);
    BN_CHECK_EQ_I64(y[1].bsums[0], -15);
    BN_CHECK_EQ_I64(y[1].bsums[1], 64);
    for (int k = 2; k < 16; k++) BN_CHECK_EQ_I64(y[1].bsums[k], 0);

    /* exact ties: max = 127 gives iscale = -1 exactly, so q = -rne(x) and every .5 is a tie */
    float t[256] = {0};
    t[0] = 127.0f;
    t[1] = 0.5f, t[2] = 1.5f, t[3] = 2.5f, t[4] = -0.5f, t[5] = -1.5f, t[6] = -126.5f, t[7] = -127.0f;
    bn_block_q8_k z;
    BN_CHECK_EQ_I64(bn_quantize_row_q8_k(t, 256, &z), 0);
    const int want[8] = {-127, 0, -2, -2, 0, 2, 126, 127};
    for (int j = 0; j < 8; j++) BN_CHECK_EQ_I64(z.qs[j], want[j]);
    BN_CHECK(z.d == -1.0f);
    BN_CHECK_EQ_I64(z.bsums[0], 124);

    /* a NaN or infinity is reported */
    t[9] = NAN;
    BN_CHECK_EQ_I64(bn_quantize_row_q8_k(t, 256, &z), 1);
    t[9] = -INFINITY;
    BN_CHECK_EQ_I64(bn_quantize_row_q8_k(t, 256, &z), 1);
}

BN_TEST(quantizer_matches_ggml_definition) {
    uint64_t rng = 77;
    float x[256];
    bn_block_q8_k got, want;
    for (int it = 0; it < 2000; it++) {
        const float scale = ldexpf(1.0f, (int)(bn_test_rand_u64(&rng) % 40) - 20);
        for (int j = 0; j < 256; j++) x[j] = bn_test_rand_float(&rng, -scale, scale);
        if (it % 3 == 0) /* coarse values: many ties and repeated magnitudes */
            for (int j = 0; j < 256; j++) x[j] = (float)(int)(x[j] * 8.0f / scale) * 0.25f;
        if (it % 7 == 0) memset(x + 16 * (it % 16), 0, 16 * sizeof *x);
        BN_CHECK_EQ_I64(bn_quantize_row_q8_k(x, 256, &got), 0);
        ggml_q8_k_block(x, &want);
        if (!same_block(&got, &want)) {
            BN_CHECK_MSG(0, "block %d differs from ggml's quantize_row_q8_K_ref", it);
            break;
        }
    }
}

/* Random Q6_K rows: quantize_ref of random floats, or raw random bytes (every code, every int8 scale including
 * -128) with a finite fp16 d; and the extreme block (all codes 63 or 0, scales -128 / 127). */
static void fill_q6_k(uint8_t* w, int64_t nb, int mode, uint64_t* rng) {
    if (mode == 0) {
        float* f = malloc((size_t)(nb * 256) * sizeof *f);
        for (int64_t i = 0; i < nb * 256; i++) f[i] = bn_test_rand_float(rng, -0.2f, 0.2f);
        BN_CHECK_OK(bn_dtype_quantize_ref(BN_DTYPE_Q6_K, f, 1, nb * 256, w, nb * BN_Q6_K_BYTES));
        free(f);
        return;
    }
    for (int64_t b = 0; b < nb; b++) {
        uint8_t* blk = w + b * BN_Q6_K_BYTES;
        for (int i = 0; i < BN_Q6_K_D; i++)
            blk[i] = mode == 1 ? (uint8_t)bn_test_rand_u64(rng) : (b % 2 ? 0xFF : 0x00);
        if (mode == 2)
            for (int k = 0; k < 16; k++) blk[BN_Q6_K_SCALES + k] = (uint8_t)(k % 2 ? 0x80 : 0x7F);
        const uint16_t d = bn_fp32_to_fp16(bn_test_rand_float(rng, 1e-4f, 2e-2f));
        memcpy(blk + BN_Q6_K_D, &d, 2);
    }
}

/* The definition, independently: codes placed by a per-element position formula, isum in int64. */
static float ref_dot(const uint8_t* w, const bn_block_q8_k* q, int64_t nb) {
    float acc = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t* blk = w + b * BN_Q6_K_BYTES;
        int64_t isum = 0;
        for (int e = 0; e < 256; e++) {
            const int half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
            const int lo = (blk[64 * half + l + (quarter % 2) * 32] >> ((quarter / 2) * 4)) & 0xF;
            const int hi = (blk[128 + 32 * half + l] >> (2 * quarter)) & 3;
            isum += (int64_t)(int8_t)blk[BN_Q6_K_SCALES + e / 16] * ((lo | (hi << 4)) - 32) * q[b].qs[e];
        }
        BN_CHECK(isum >= INT32_MIN && isum <= INT32_MAX);
        uint16_t dh;
        memcpy(&dh, blk + BN_Q6_K_D, 2);
        const float d = bn_fp16_to_fp32(dh) * q[b].d;
        const float p = d * (float)isum;
        acc += p;
    }
    return acc;
}

typedef struct q8k_variant {
    const char* name;
    bn_dot_q6_k_q8_k_fn* fn;
    bn_dot_q6_k_q8_k_x4_fn* x4;
} q8k_variant;

/* The vector versions this CPU can run, by the same feature masks as core/dispatch.c. */
static int q8k_variants(q8k_variant* v) {
    int n = 0;
    const uint64_t f = bn_cpu_features();
    (void)f;
#if defined(__x86_64__)
    const uint64_t avx2 = BN_CPU_AVX2 | BN_CPU_FMA | BN_CPU_F16C;
    const uint64_t avx512 = avx2 | BN_CPU_AVX512F | BN_CPU_AVX512BW | BN_CPU_AVX512VL | BN_CPU_AVX512VNNI;
    if ((f & avx2) == avx2) v[n++] = (q8k_variant){"avx2", bn_dot_q6_k_q8_k_avx2, bn_dot_q6_k_q8_k_x4_avx2};
    if ((f & (avx2 | BN_CPU_AVXVNNI)) == (avx2 | BN_CPU_AVXVNNI))
        v[n++] = (q8k_variant){"avxvnni", bn_dot_q6_k_q8_k_avxvnni, bn_dot_q6_k_q8_k_x4_avxvnni};
    if ((f & avx512) == avx512) v[n++] = (q8k_variant){"avx512", bn_dot_q6_k_q8_k_avx512, bn_dot_q6_k_q8_k_x4_avx512};
#endif
#if defined(__aarch64__)
    v[n++] = (q8k_variant){"neon", bn_dot_q6_k_q8_k_neon, bn_dot_q6_k_q8_k_x4_neon};
    if (f & BN_CPU_DOTPROD) v[n++] = (q8k_variant){"dotprod", bn_dot_q6_k_q8_k_dotprod, bn_dot_q6_k_q8_k_x4_dotprod};
#endif
    printf("dot_q6_k_q8_k variants on this CPU:");
    for (int i = 0; i < n; i++) printf(" %s", v[i].name);
    printf("%s\n", n ? "" : " none");
    return n;
}

BN_TEST(every_variant_equals_scalar_bit_for_bit) {
    q8k_variant v[5];
    const int nv = q8k_variants(v);
    uint64_t rng = 4242;
    const int64_t nb_max = 4096 / 256;
    uint8_t* w = malloc((size_t)(nb_max * BN_Q6_K_BYTES));
    float* x = malloc((size_t)(nb_max * 256) * sizeof *x);
    bn_block_q8_k* q = malloc((size_t)nb_max * sizeof *q);
    int checked = 0;
    for (int64_t nb = 1; nb <= nb_max; nb++)
        for (int mode = 0; mode < 3; mode++)
            for (int rep = 0; rep < 3; rep++) {
                fill_q6_k(w, nb, mode, &rng);
                for (int64_t i = 0; i < nb * 256; i++) x[i] = bn_test_rand_float(&rng, -4.0f, 4.0f);
                if (mode == 2) /* Q8_K values at +-127 everywhere: the largest integer sums */
                    for (int64_t i = 0; i < nb * 256; i++) x[i] = (i % 3 == 0) ? -4.0f : 4.0f;
                BN_CHECK_EQ_I64(bn_quantize_row_q8_k(x, nb * 256, q), 0);
                const float ref = ref_dot(w, q, nb);
                const float s = bn_dot_q6_k_q8_k_scalar(w, q, nb * 256);
                BN_CHECK_MSG(memcmp(&s, &ref, sizeof s) == 0, "scalar nb=%lld mode=%d: %.9g vs definition %.9g",
                             (long long)nb, mode, s, ref);
                for (int k = 0; k < nv; k++) {
                    const float g = v[k].fn(w, q, nb * 256);
                    BN_CHECK_MSG(memcmp(&g, &s, sizeof g) == 0, "%s nb=%lld mode=%d: %.9g vs scalar %.9g", v[k].name,
                                 (long long)nb, mode, g, s);
                }
                checked++;
            }
    BN_CHECK_EQ_I64(checked, nb_max * 9);
    free(w), free(x), free(q);
}

BN_TEST(x4_equals_single_dots_bit_for_bit) {
    /* 1..4 tokens of one weight row, token rows a stride apart (not adjacent) */
    q8k_variant v[5];
    int nv = q8k_variants(v);
    v[nv++] = (q8k_variant){"scalar", bn_dot_q6_k_q8_k_scalar, bn_dot_q6_k_q8_k_x4_scalar};
    uint64_t rng = 515;
    const int64_t nb_max = 16, stride = nb_max + 3;
    uint8_t* w = malloc((size_t)(nb_max * BN_Q6_K_BYTES));
    float* x = malloc((size_t)(stride * 4 * 256) * sizeof *x);
    bn_block_q8_k* q = malloc((size_t)(stride * 4) * sizeof *q);
    for (int64_t nb = 1; nb <= nb_max; nb += 3)
        for (int mode = 0; mode < 3; mode++) {
            fill_q6_k(w, nb, mode, &rng);
            for (int64_t i = 0; i < stride * 4 * 256; i++) x[i] = bn_test_rand_float(&rng, -4.0f, 4.0f);
            BN_CHECK_EQ_I64(bn_quantize_row_q8_k(x, stride * 4 * 256, q), 0);
            for (int32_t nt = 1; nt <= 4; nt++) {
                float want[4];
                for (int32_t t = 0; t < nt; t++) want[t] = bn_dot_q6_k_q8_k_scalar(w, q + t * stride, nb * 256);
                for (int k = 0; k < nv; k++) {
                    float got[4] = {NAN, NAN, NAN, NAN};
                    v[k].x4(w, q, stride, nt, nb * 256, got);
                    BN_CHECK_MSG(memcmp(got, want, (size_t)nt * sizeof *got) == 0,
                                 "%s x4 nb=%lld mode=%d nt=%d differs from the single dots", v[k].name, (long long)nb,
                                 mode, (int)nt);
                }
            }
        }
    free(w), free(x), free(q);
}

BN_TEST(dispatch_reports_the_chosen_variant) {
    const char *op = NULL, *impl = NULL;
    int found = 0;
    for (int32_t i = 0; i < bn_kernel_count(); i++) {
        BN_CHECK_OK(bn_kernel_info(i, &op, &impl));
        if (strcmp(op, "dot_q6_k_q8_k") == 0) {
            found = 1;
            printf("dot_q6_k_q8_k: %s\n", impl);
            BN_CHECK(impl != NULL && impl[0] != '\0');
        }
    }
    BN_CHECK(found);
}
