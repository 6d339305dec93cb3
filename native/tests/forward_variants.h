/* Test helper for the forward-pass kernels (kernels/forward_ops.h): the vector versions this CPU can run, by
 * the same feature masks as core/dispatch.c, and the lengths and tolerance the tests share.
 *
 * Tolerance: vector versions sum in another order (and use a polynomial exp within 2 ulp), so results are
 * compared with |got - want| <= 1e-5 * scale, where scale is max(|want|, 1) for elementwise ops and the sum of
 * |terms| for a reduction (the size of the rounding error of any summation order is proportional to it). */
#ifndef BN_TEST_FORWARD_VARIANTS_H
#define BN_TEST_FORWARD_VARIANTS_H

#include <math.h>
#include <stdio.h>

#include "bn_test.h"
#include "kernels/kernels.h"

#define FV_TOL 1e-5

typedef struct fv_variant {
    const char* name;
    bn_kernel_table t; /* the slots of forward_ops.h filled by this instruction set's installers */
} fv_variant;

static inline void fv_install(fv_variant* v, const char* name, void (*const* inst)(bn_kernel_table*), int n) {
    v->name = name;
    memset(&v->t, 0, sizeof v->t);
    for (int i = 0; i < n; i++) inst[i](&v->t);
}

/* Fills v with the vector versions this CPU can run; returns how many. */
static inline int fv_variants(fv_variant* v) {
    int n = 0;
    uint64_t f = bn_cpu_features();
    (void)f;
#if defined(__x86_64__)
    const uint64_t avx2 = BN_CPU_AVX2 | BN_CPU_FMA | BN_CPU_F16C;
    const uint64_t avx512 = avx2 | BN_CPU_AVX512F | BN_CPU_AVX512BW | BN_CPU_AVX512VL | BN_CPU_AVX512VNNI;
    if ((f & avx2) == avx2) {
        void (*const inst[])(bn_kernel_table*) = {bn_install_rmsnorm_avx2, bn_install_rope_avx2,
                                                   bn_install_softmax_avx2, bn_install_elementwise_avx2,
                                                   bn_install_convert_avx2, bn_install_dot_avx2};
        fv_install(&v[n++], "avx2", inst, 6);
    }
    if ((f & avx512) == avx512) {
        void (*const inst[])(bn_kernel_table*) = {bn_install_rmsnorm_avx512, bn_install_rope_avx512,
                                                   bn_install_softmax_avx512, bn_install_elementwise_avx512,
                                                   bn_install_convert_avx512, bn_install_dot_avx512};
        fv_install(&v[n++], "avx512", inst, 6);
    }
#endif
#if defined(__aarch64__)
    {
        void (*const inst[])(bn_kernel_table*) = {bn_install_rmsnorm_neon, bn_install_rope_neon,
                                                   bn_install_softmax_neon, bn_install_elementwise_neon,
                                                   bn_install_convert_neon, bn_install_dot_neon};
        fv_install(&v[n++], "neon", inst, 6);
    }
#endif
    printf("vector variants on this CPU:");
    for (int i = 0; i < n; i++) printf(" %s", v[i].name);
    printf("%s\n", n ? "" : " none");
    return n;
}

/* The scalar reference slots. */
static inline bn_kernel_table fv_scalar(void) {
    bn_kernel_table t;
    memset(&t, 0, sizeof t);
    bn_install_rmsnorm_scalar(&t);
    bn_install_rope_scalar(&t);
    bn_install_softmax_scalar(&t);
    bn_install_elementwise_scalar(&t);
    bn_install_convert_scalar(&t);
    bn_install_dot_scalar(&t);
    return t;
}

/* Lengths around every vector width and block, and the model's sizes. */
static const int64_t fv_lengths[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 47, 63, 64, 65, 100, 127, 128, 129, 255,
                                     257, 1000, 2560, 2561, 6912, 6913};
#define FV_N_LENGTHS ((int)(sizeof fv_lengths / sizeof fv_lengths[0]))

static inline void fv_fill(float* x, int64_t n, uint64_t* rng, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = bn_test_rand_float(rng, lo, hi);
}

/* |got - want| <= FV_TOL * scale; reports the first miss of a call site (returns 0 then). */
#define FV_CLOSE(got, want, scale, ...)                                                                           \
    (fabs((double)(got) - (double)(want)) <= FV_TOL * (double)(scale)                                             \
         ? 1                                                                                                      \
         : (bn_test_fail(__FILE__, __LINE__, __VA_ARGS__), 0))

#endif
