/* Kernel dispatch: fills bn_kernels once from the installers below, in order, each only if the CPU has (and
 * the caller has not disabled) the features it needs. Later rows override earlier ones, so each file's
 * rows go from the plainest instruction set to the richest. */
#include <stddef.h>

#include "core/error.h"
#include "kernels/kernels.h"

#define BN_X86_AVX2 (BN_CPU_AVX2 | BN_CPU_FMA | BN_CPU_F16C)
#define BN_X86_AVX512 (BN_X86_AVX2 | BN_CPU_AVX512F | BN_CPU_AVX512BW | BN_CPU_AVX512VL | BN_CPU_AVX512VNNI)
#define BN_X86_AVXVNNI (BN_X86_AVX2 | BN_CPU_AVXVNNI)

typedef struct bn_installer {
    uint64_t needs;
    void (*install)(bn_kernel_table* t);
} bn_installer;

static const bn_installer g_installers[] = {
    {0, bn_install_reduce_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_reduce_avx2},
    {BN_X86_AVX512, bn_install_reduce_avx512},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {BN_CPU_NEON, bn_install_reduce_neon},
#endif
    {0, bn_install_quantize_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_quantize_avx2},
    {BN_X86_AVX512, bn_install_quantize_avx512},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {BN_CPU_NEON, bn_install_quantize_neon},
#endif
    {0, bn_install_tmatmul_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_tmatmul_avx2},
    {BN_X86_AVXVNNI, bn_install_tmatmul_avxvnni},
    {BN_X86_AVX512, bn_install_tmatmul_avx512},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {BN_CPU_NEON, bn_install_tmatmul_neon},
    {BN_CPU_NEON | BN_CPU_DOTPROD, bn_install_tmatmul_dotprod},
#endif
    {0, bn_install_tmatmul_tq1_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_tmatmul_tq1_avx2},
    {BN_X86_AVXVNNI, bn_install_tmatmul_tq1_avxvnni},
    {BN_X86_AVX512, bn_install_tmatmul_tq1_avx512},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {BN_CPU_NEON, bn_install_tmatmul_tq1_neon},
    {BN_CPU_NEON | BN_CPU_DOTPROD, bn_install_tmatmul_tq1_dotprod},
#endif
    {0, bn_install_rmsnorm_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_rmsnorm_avx2},
    {BN_X86_AVX512, bn_install_rmsnorm_avx512},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {BN_CPU_NEON, bn_install_rmsnorm_neon},
#endif
    {0, bn_install_rope_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_rope_avx2},
    {BN_X86_AVX512, bn_install_rope_avx512},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {BN_CPU_NEON, bn_install_rope_neon},
#endif
    {0, bn_install_softmax_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_softmax_avx2},
    {BN_X86_AVX512, bn_install_softmax_avx512},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {BN_CPU_NEON, bn_install_softmax_neon},
#endif
    {0, bn_install_elementwise_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_elementwise_avx2},
    {BN_X86_AVX512, bn_install_elementwise_avx512},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {BN_CPU_NEON, bn_install_elementwise_neon},
#endif
    {0, bn_install_convert_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_convert_avx2},
    {BN_X86_AVX512, bn_install_convert_avx512},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {BN_CPU_NEON, bn_install_convert_neon},
#endif
    {0, bn_install_dot_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_dot_avx2},
    {BN_X86_AVX512, bn_install_dot_avx512},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {BN_CPU_NEON, bn_install_dot_neon},
#endif
    {0, bn_install_dot_q8_k_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_dot_q8_k_avx2},
    {BN_X86_AVXVNNI, bn_install_dot_q8_k_avxvnni},
    {BN_X86_AVX512, bn_install_dot_q8_k_avx512},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {BN_CPU_NEON, bn_install_dot_q8_k_neon},
    {BN_CPU_NEON | BN_CPU_DOTPROD, bn_install_dot_q8_k_dotprod},
#endif
    {0, bn_install_sgemm_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_sgemm_avx2},
    {BN_X86_AVX512, bn_install_sgemm_avx512},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {BN_CPU_NEON, bn_install_sgemm_neon},
#endif
    {0, bn_install_exp_sum_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_exp_sum_avx2},
#endif
    /* the same needs as the dot rows: each version equals the dot_f32 / axpy_f32 it is installed with */
    {0, bn_install_attn_tile_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {BN_X86_AVX2, bn_install_attn_tile_avx2},
    {BN_X86_AVX512, bn_install_attn_tile_avx512},
#endif
};

bn_kernel_table bn_kernels;
static uint64_t g_enabled = UINT64_MAX;
static int g_initialised;

static void select_kernels(void) {
    uint64_t have = bn_cpu_features() & g_enabled;
    bn_kernel_table t = {0};
    for (size_t i = 0; i < sizeof g_installers / sizeof g_installers[0]; i++)
        if ((g_installers[i].needs & have) == g_installers[i].needs) g_installers[i].install(&t);
    bn_kernels = t;
    g_initialised = 1;
}

#if defined(__GNUC__)
__attribute__((constructor))
#endif
void bn_kernels_init(void) {
    if (!g_initialised) select_kernels();
}

uint64_t bn_cpu_features_enabled(void) { return bn_cpu_features() & g_enabled; }

bn_status bn_cpu_set_enabled(uint64_t mask) {
    g_enabled = mask;
    select_kernels();
    return BN_OK;
}

static const char* const g_op_names[] = {
#define BN_KERNEL_NAME(op) #op,
    BN_KERNEL_OPS(BN_KERNEL_NAME)
#undef BN_KERNEL_NAME
};

int32_t bn_kernel_count(void) { return (int32_t)(sizeof g_op_names / sizeof g_op_names[0]); }

bn_status bn_kernel_info(int32_t index, const char** op, const char** impl) {
    BN_REQUIRE_ARG(op != NULL && impl != NULL, "bn_kernel_info: op and impl must not be null");
    if (index < 0 || index >= bn_kernel_count())
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "bn_kernel_info: index %d is outside 0..%d", (int)index,
                       (int)bn_kernel_count() - 1);
    bn_kernels_init();
    const char* impls[] = {
#define BN_KERNEL_IMPL(op) bn_kernels.op##_impl,
        BN_KERNEL_OPS(BN_KERNEL_IMPL)
#undef BN_KERNEL_IMPL
    };
    *op = g_op_names[index];
    *impl = impls[index];
    return BN_OK;
}
