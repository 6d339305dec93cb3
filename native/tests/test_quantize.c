/* The quantizer kernels (kernels/quantize*.c): every vector version the CPU can run equals the scalar
 * definition bit for bit, on lengths that are not multiples of any vector width, on values that sit exactly
 * on rounding ties, and on NaN/infinity. */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"
#include "kernels/kernels.h"

typedef struct variant {
    const char* name;
    bn_quantize_act_i8_fn* act;
    bn_abs_sum_f64_fn* sum;
    bn_quantize_ternary_fn* ternary;
} variant;

/* The vector versions this CPU can run (dispatch.c's feature masks). */
static int runnable_variants(variant* v) {
    int n = 0;
    uint64_t f = bn_cpu_features();
    (void)f;
#if defined(__x86_64__)
    if ((f & BN_CPU_AVX2) && (f & BN_CPU_FMA) && (f & BN_CPU_F16C))
        v[n++] = (variant){"avx2", bn_quantize_act_i8_avx2, bn_abs_sum_f64_avx2, bn_quantize_ternary_avx2};
    if ((f & BN_CPU_AVX512F) && (f & BN_CPU_AVX512BW) && (f & BN_CPU_AVX512VL))
        v[n++] = (variant){"avx512", bn_quantize_act_i8_avx512, bn_abs_sum_f64_avx512, bn_quantize_ternary_avx512};
#endif
#if defined(__aarch64__)
    v[n++] = (variant){"neon", bn_quantize_act_i8_neon, bn_abs_sum_f64_neon, bn_quantize_ternary_neon};
#endif
    printf("vector variants on this CPU:");
    for (int i = 0; i < n; i++) printf(" %s", v[i].name);
    printf("%s\n", n ? "" : " none");
    return n;
}

/* Random floats with a spread of magnitudes, plus exact ties for the act quantizer: with max|x| = 127 the
 * multiplier is exactly 1, so k + 0.5 must round to the even neighbour. */
static void fill(float* x, int64_t n, uint64_t* rng, int ties) {
    for (int64_t i = 0; i < n; i++) {
        float v = bn_test_rand_float(rng, -1.0f, 1.0f);
        switch (bn_test_rand_u64(rng) % 4) {
        case 0: v *= 1e-3f; break;
        case 1: v *= 40.0f; break;
        default: break;
        }
        if (ties) v = (float)((int)(bn_test_rand_u64(rng) % 200) - 100) + 0.5f;
        x[i] = v;
    }
    if (ties && n > 0) x[bn_test_rand_u64(rng) % (uint64_t)n] = -127.0f;
}

static const int64_t k_lengths[] = {0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 127, 128,
                                    129, 255, 256, 257, 1000, 2560, 2561, 6912, 6913};

BN_TEST(act_i8_variants_equal_scalar) {
    variant v[4];
    int nv = runnable_variants(v);
    uint64_t rng = 0x1234567ULL;
    float* x = malloc(7000 * sizeof *x);
    int8_t *want = malloc(7000), *got = malloc(7000);
    for (int ties = 0; ties < 2; ties++)
        for (size_t li = 0; li < sizeof k_lengths / sizeof k_lengths[0]; li++) {
            int64_t n = k_lengths[li];
            fill(x, n, &rng, ties);
            float aw = -1.0f, ag = -2.0f;
            BN_CHECK_EQ_I64(bn_quantize_act_i8_scalar(x, n, want, &aw), 0);
            for (int k = 0; k < nv; k++) {
                memset(got, 0x55, 7000);
                BN_CHECK_EQ_I64(v[k].act(x, n, got, &ag), 0);
                BN_CHECK_MSG(memcmp(&aw, &ag, sizeof aw) == 0, "%s n=%lld: a %a != scalar %a", v[k].name,
                             (long long)n, (double)ag, (double)aw);
                BN_CHECK_MSG(n == 0 || memcmp(want, got, (size_t)n) == 0, "%s n=%lld ties=%d: codes differ",
                             v[k].name, (long long)n, ties);
                BN_CHECK_MSG(got[n] == 0x55, "%s n=%lld wrote past the end", v[k].name, (long long)n);
            }
            if (ties && n > 1) { /* the scalar definition itself: ties to even */
                BN_CHECK(aw == 1.0f);
                for (int64_t i = 0; i < n; i++) {
                    float r = x[i];
                    int e = (int)floorf(r); /* r = e + 0.5: the even one of e, e + 1 */
                    int expect = (e % 2 == 0) ? e : e + 1;
                    if (r == -127.0f) expect = -127;
                    BN_CHECK_MSG(want[i] == expect, "x=%g gave %d, expected %d", (double)r, want[i], expect);
                }
            }
        }
    free(x), free(want), free(got);
}

BN_TEST(act_i8_small_rows_use_the_1e5_floor) {
    float x[3] = {1e-7f, -3e-6f, 0.0f};
    int8_t q[3];
    float a;
    BN_CHECK_EQ_I64(bn_quantize_act_i8_scalar(x, 3, q, &a), 0);
    BN_CHECK(a == 127.0f / 1e-5f);
    BN_CHECK_EQ_I64(q[0], 1);   /* 1e-7 * 1.27e7 = 1.27 */
    BN_CHECK_EQ_I64(q[1], -38); /* -3e-6 * 1.27e7 = -38.1 */
    BN_CHECK_EQ_I64(q[2], 0);
}

BN_TEST(nonfinite_is_reported_by_every_variant) {
    variant v[4];
    int nv = runnable_variants(v);
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    float x[70];
    int8_t q[70];
    for (int b = 0; b < 3; b++)
        for (int at = 0; at < 70; at += 23) {
            for (int i = 0; i < 70; i++) x[i] = (float)i * 0.25f - 3.0f;
            x[at] = bad[b];
            float a;
            BN_CHECK_EQ_I64(bn_quantize_act_i8_scalar(x, 70, q, &a), 1);
            BN_CHECK(!isfinite(bn_abs_sum_f64_scalar(x, 70)));
            for (int k = 0; k < nv; k++) {
                BN_CHECK_MSG(v[k].act(x, 70, q, &a) == 1, "%s missed %g at %d", v[k].name, (double)bad[b], at);
                BN_CHECK_MSG(!isfinite(v[k].sum(x, 70)), "%s sum missed %g at %d", v[k].name, (double)bad[b], at);
            }
        }
}

BN_TEST(abs_sum_variants_equal_scalar) {
    variant v[4];
    int nv = runnable_variants(v);
    uint64_t rng = 0xABCDEFULL;
    float* x = malloc(7000 * sizeof *x);
    for (size_t li = 0; li < sizeof k_lengths / sizeof k_lengths[0]; li++) {
        int64_t n = k_lengths[li];
        fill(x, n, &rng, 0);
        double want = bn_abs_sum_f64_scalar(x, n);
        double exact = 0.0; /* a plain double sum: the lane order may differ from it only in rounding */
        for (int64_t i = 0; i < n; i++) exact += fabs((double)x[i]);
        BN_CHECK_MSG(fabs(want - exact) <= 1e-12 * exact, "n=%lld: %.17g vs %.17g", (long long)n, want, exact);
        for (int k = 0; k < nv; k++) {
            double got = v[k].sum(x, n);
            BN_CHECK_MSG(memcmp(&want, &got, sizeof got) == 0, "%s n=%lld: %a != scalar %a", v[k].name,
                         (long long)n, got, want);
        }
    }
    free(x);
}

BN_TEST(ternary_variants_equal_scalar) {
    variant v[4];
    int nv = runnable_variants(v);
    uint64_t rng = 0x5EED5ULL;
    float* x = malloc(7000 * sizeof *x);
    int8_t *want = malloc(7000), *got = malloc(7000);
    for (size_t li = 0; li < sizeof k_lengths / sizeof k_lengths[0]; li++) {
        int64_t n = k_lengths[li];
        fill(x, n, &rng, 0);
        for (int64_t i = 0; i < n; i += 3) x[i] = (float)((int)(bn_test_rand_u64(&rng) % 5) - 2) * 0.25f;
        const float s = 2.0f; /* 0.25 * 2 = 0.5 and 0.75 * 2 = 1.5: ties; big values clamp */
        bn_quantize_ternary_scalar(x, n, s, want);
        for (int64_t i = 0; i < n; i++) {
            float p = x[i] * s;
            int expect = p >= 1.5f ? 1 : p > 0.5f ? 1 : p >= -0.5f ? 0 : -1; /* 0.5 -> 0, 1.5 -> 2 -> 1 */
            BN_CHECK_MSG(want[i] == expect, "x=%g: %d, expected %d", (double)x[i], want[i], expect);
        }
        for (int k = 0; k < nv; k++) {
            memset(got, 0x55, 7000);
            v[k].ternary(x, n, s, got);
            BN_CHECK_MSG(n == 0 || memcmp(want, got, (size_t)n) == 0, "%s n=%lld: codes differ", v[k].name,
                         (long long)n);
            BN_CHECK_MSG(got[n] == 0x55, "%s n=%lld wrote past the end", v[k].name, (long long)n);
        }
    }
    /* products that overflow float must clamp, not wrap */
    float big[19];
    int8_t qb[19], qv[19];
    for (int i = 0; i < 19; i++) big[i] = (i % 2 ? -1.0f : 1.0f) * 3e38f;
    bn_quantize_ternary_scalar(big, 19, 1e5f, qb);
    for (int i = 0; i < 19; i++) BN_CHECK_EQ_I64(qb[i], i % 2 ? -1 : 1);
    for (int k = 0; k < nv; k++) {
        v[k].ternary(big, 19, 1e5f, qv);
        BN_CHECK_MSG(memcmp(qb, qv, 19) == 0, "%s: overflowing products", v[k].name);
    }
    free(x), free(want), free(got);
}

BN_TEST(dispatch_picks_the_richest_variant) {
    BN_CHECK_OK(bn_cpu_set_enabled(UINT64_MAX));
    bn_kernels_init();
    const uint64_t f = bn_cpu_features();
    const char* expect = "scalar";
    (void)f;
#if defined(__x86_64__)
    if ((f & BN_CPU_AVX2) && (f & BN_CPU_FMA) && (f & BN_CPU_F16C)) expect = "avx2";
    if ((f & BN_CPU_AVX512F) && (f & BN_CPU_AVX512BW) && (f & BN_CPU_AVX512VL) && (f & BN_CPU_AVX512VNNI) &&
        strcmp(expect, "avx2") == 0)
        expect = "avx512";
#elif defined(__aarch64__)
    expect = "neon";
#endif
    BN_CHECK_MSG(strcmp(bn_kernels.quantize_act_i8_impl, expect) == 0, "act: %s, expected %s",
                 bn_kernels.quantize_act_i8_impl, expect);
    BN_CHECK(strcmp(bn_kernels.abs_sum_f64_impl, expect) == 0);
    BN_CHECK(strcmp(bn_kernels.quantize_ternary_impl, expect) == 0);
    BN_CHECK_OK(bn_cpu_set_enabled(0));
    BN_CHECK(strcmp(bn_kernels.quantize_act_i8_impl, "scalar") == 0);
    BN_CHECK_OK(bn_cpu_set_enabled(UINT64_MAX));
}
