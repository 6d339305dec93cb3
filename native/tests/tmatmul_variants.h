/* The ternary matmul variants of one layout (LAY: i2, x4 or tq1; kernels.h declares bn_tmatmul_<LAY>_gemv_<isa>),
 * for the tests that compare each with the scalar reference: g_variants[] lists the vector ones this build has,
 * after scalar when BN_TM_VARIANTS_WITH_SCALAR is 1, and runs() says whether this CPU has what dispatch.c asks
 * for before installing one. Define BN_TM_VARIANTS_LAYOUT before including. */
#ifndef BN_TESTS_TMATMUL_VARIANTS_H
#define BN_TESTS_TMATMUL_VARIANTS_H

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

#endif
