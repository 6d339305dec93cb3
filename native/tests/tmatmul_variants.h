/* The ternary matmul variants of one layout (LAY: i2, x4 or tq1; kernels.h declares bn_tmatmul_<LAY>_gemv_<isa>),
 * for the tests that compare each with the scalar reference: g_variants[] lists the vector ones this build has,
 * after scalar when BN_TM_VARIANTS_WITH_SCALAR is 1, and runs() says whether this CPU has what dispatch.c asks
 * for before installing one. Define BN_TM_VARIANTS_LAYOUT before including. */
#ifndef BN_TESTS_TMATMUL_VARIANTS_H
#define BN_TESTS_TMATMUL_VARIANTS_H

#include <stdlib.h>
#include <string.h>

#include "bn_test.h"
#include "kernels/kernels.h"

typedef struct variant {
    const char* name;
    uint64_t needs; /* the features dispatch.c asks for before installing it */
    bn_tmatmul_i2_gemv_fn* gemv;
    bn_tmatmul_i2_gemm_fn* gemm;
} variant;

#define BN_TM_CAT4(a, b, c, d) a##b##c##d
#define BN_TM_VARIANT(lay, isa, needs) \
    {#isa, needs, BN_TM_CAT4(bn_tmatmul_, lay, _gemv_, isa), BN_TM_CAT4(bn_tmatmul_, lay, _gemm_, isa)}

#define X86_AVX2 (BN_CPU_AVX2 | BN_CPU_FMA | BN_CPU_F16C)
#define X86_AVX512 (X86_AVX2 | BN_CPU_AVX512F | BN_CPU_AVX512BW | BN_CPU_AVX512VL | BN_CPU_AVX512VNNI)

static const variant g_variants[] = {
#if BN_TM_VARIANTS_WITH_SCALAR
    BN_TM_VARIANT(BN_TM_VARIANTS_LAYOUT, scalar, 0),
#endif
#if defined(__x86_64__)
    BN_TM_VARIANT(BN_TM_VARIANTS_LAYOUT, avx2, X86_AVX2),
    BN_TM_VARIANT(BN_TM_VARIANTS_LAYOUT, avxvnni, X86_AVX2 | BN_CPU_AVXVNNI),
    BN_TM_VARIANT(BN_TM_VARIANTS_LAYOUT, avx512, X86_AVX512),
#elif defined(__aarch64__)
    BN_TM_VARIANT(BN_TM_VARIANTS_LAYOUT, neon, BN_CPU_NEON),
    BN_TM_VARIANT(BN_TM_VARIANTS_LAYOUT, dotprod, BN_CPU_NEON | BN_CPU_DOTPROD),
#endif
};
#define N_VARIANTS ((int)(sizeof g_variants / sizeof g_variants[0]))

static int runs(const variant* v) { return (bn_cpu_features() & v->needs) == v->needs; }

/* ---- random problems and bitwise comparison, shared by the matmul tests ---------------------------------- */

/* With dispatch restricted to variant v: checks that every kernel op whose name starts with prefix chose v, and
 * returns how many such ops there are. */
static inline int check_ops_chose(const char* prefix, const variant* v) {
    int found = 0;
    for (int32_t i = 0; i < bn_kernel_count(); i++) {
        const char *op, *impl;
        BN_CHECK_OK(bn_kernel_info(i, &op, &impl));
        if (strncmp(op, prefix, strlen(prefix)) == 0) {
            found++;
            BN_CHECK_MSG(strcmp(impl, v->name) == 0, "%s: %s chose %s", v->name, op, impl);
        }
    }
    return found;
}

static inline void fill_bytes(uint64_t* rng, uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)bn_test_rand_u64(rng);
}

static inline void fill_q(uint64_t* rng, int8_t* q, size_t n) {
    for (size_t i = 0; i < n; i++) q[i] = (int8_t)bn_test_rand_u64(rng);
}

/* A random ternary matrix as int8 values. */
static inline void fill_ternary(uint64_t* rng, int8_t* w, size_t n) {
    for (size_t i = 0; i < n; i++) w[i] = (int8_t)(bn_test_rand_u64(rng) % 3) - 1;
}

/* s[t] = sum_k q[t][k] for T rows of K. */
static inline void sums(const int8_t* q, int64_t T, int64_t K, int32_t* s) {
    for (int64_t t = 0; t < T; t++) {
        s[t] = 0;
        for (int64_t k = 0; k < K; k++) s[t] += q[t * K + k];
    }
}

/* First index where the bit patterns of two float arrays differ, or -1. */
static inline int64_t first_diff(const float* x, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&x[i], &y[i], sizeof(float)) != 0) return i;
    return -1;
}

/* Rows [r0, M) x T tokens: the reference (ref_gemv when T == 1, else ref_gemm) over w_ref, then every variant this
 * CPU runs other than the reference itself over w (the same matrix, perhaps in another layout), bit for bit: its
 * gemv and its gemm with one token when T == 1, its gemm otherwise. y has row stride M + 3 and starts at -7 so that
 * writes outside the tile show. */
static inline void check_variants(bn_tmatmul_i2_gemv_fn* ref_gemv, bn_tmatmul_i2_gemm_fn* ref_gemm,
                                  const uint8_t* w_ref, const uint8_t* w, int64_t M, int64_t K, int64_t T, int64_t r0,
                                  const int8_t* q, const int32_t* qs, const float* a, float ws) {
    const int64_t ldy = M + 3, n = T * ldy;
    float* ref = malloc(sizeof(float) * (size_t)n);
    float* got = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) ref[i] = -7.0f;
    if (T == 1) ref_gemv(w_ref, K, r0, M, q, qs[0], a[0], ws, ref);
    else ref_gemm(w_ref, K, r0, M, q, qs, a, ws, T, ref, ldy);
    for (int v = 0; v < N_VARIANTS; v++) {
        if (!runs(&g_variants[v]) || g_variants[v].gemm == ref_gemm) continue;
        for (int pass = 0; pass < (T == 1 ? 2 : 1); pass++) { /* T == 1: gemv, then gemm with one token */
            for (int64_t i = 0; i < n; i++) got[i] = -7.0f;
            if (T == 1 && pass == 0) g_variants[v].gemv(w, K, r0, M, q, qs[0], a[0], ws, got);
            else g_variants[v].gemm(w, K, r0, M, q, qs, a, ws, T, got, ldy);
            const int64_t d = first_diff(ref, got, n);
            BN_CHECK_MSG(d < 0, "%s %s M=%lld K=%lld T=%lld r0=%lld: y[%lld] = %.9g, reference %.9g",
                         g_variants[v].name, T == 1 && pass == 0 ? "gemv" : "gemm", (long long)M, (long long)K,
                         (long long)T, (long long)r0, (long long)d, d < 0 ? 0.0 : (double)got[d],
                         d < 0 ? 0.0 : (double)ref[d]);
        }
    }
    free(ref);
    free(got);
}

/* check_variants on one problem of `bytes` weight bytes in one layout: w_in/q_in, or random bytes where NULL
 * (w is exactly the matrix, so a read past its end shows under ASan); random scales. */
static inline void compare_variants_of(bn_tmatmul_i2_gemv_fn* ref_gemv, bn_tmatmul_i2_gemm_fn* ref_gemm,
                                       int64_t bytes, uint64_t seed, int64_t M, int64_t K, int64_t T, int64_t r0,
                                       const uint8_t* w_in, const int8_t* q_in) {
    uint64_t rng = seed;
    uint8_t* w = malloc((size_t)bytes);
    int8_t* q = malloc((size_t)(T * K));
    int32_t* qs = malloc(sizeof(int32_t) * (size_t)T);
    float* a = malloc(sizeof(float) * (size_t)T);
    if (w_in) memcpy(w, w_in, (size_t)bytes);
    else fill_bytes(&rng, w, (size_t)bytes);
    if (q_in) memcpy(q, q_in, (size_t)(T * K));
    else fill_q(&rng, q, (size_t)(T * K));
    sums(q, T, K, qs);
    for (int64_t t = 0; t < T; t++) a[t] = bn_test_rand_float(&rng, 0.5f, 300.0f);
    const float ws = bn_test_rand_float(&rng, 0.1f, 2.0f);
    check_variants(ref_gemv, ref_gemm, w, w, M, K, T, r0, q, qs, a, ws);
    free(w);
    free(q);
    free(qs);
    free(a);
}

#endif
