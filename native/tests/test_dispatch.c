/* CPU detection and kernel dispatch. */
#include <stdio.h>
#include <stdlib.h>

#include "bn_test.h"
#include "kernels/kernels.h"

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
/* Does /proc/cpuinfo's flags (x86) or Features (arm64) line list `flag` as a whole word? */
static int cpuinfo_has(const char* flag) {
    FILE* f = fopen("/proc/cpuinfo", "r");
    if (!f) return -1;
    char line[8192];
    int found = -1;
    while (fgets(line, sizeof line, f)) {
#if defined(__aarch64__)
        /* arm64 lists "Features"; under qemu-user /proc/cpuinfo is the x86 host's, which has none: then we
         * cannot compare, and say so with -1 */
        if (strncmp(line, "Features", 8) != 0) continue;
#else
        if (strncmp(line, "flags", 5) != 0) continue;
#endif
        found = 0;
        size_t n = strlen(flag);
        for (char* p = strstr(line, flag); p; p = strstr(p + 1, flag))
            if ((p[-1] == ' ' || p[-1] == '\t') && (p[n] == ' ' || p[n] == '\n')) found = 1;
        break;
    }
    fclose(f);
    return found;
}
#endif

BN_TEST(features_agree_with_proc_cpuinfo) {
    uint64_t f = bn_cpu_features();
#if defined(__linux__) && defined(__x86_64__)
    /* /proc/cpuinfo lists what the CPU and kernel support; our bits must agree */
    struct {
        const char* flag;
        uint64_t bit;
    } map[] = {{"avx2", BN_CPU_AVX2},         {"fma", BN_CPU_FMA},           {"f16c", BN_CPU_F16C},
               {"avx512f", BN_CPU_AVX512F}, {"avx512bw", BN_CPU_AVX512BW}, {"avx512vl", BN_CPU_AVX512VL},
               {"avx512_vnni", BN_CPU_AVX512VNNI}, {"avx_vnni", BN_CPU_AVXVNNI}, {"sse4_1", BN_CPU_SSE41}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        int has = cpuinfo_has(map[i].flag);
        if (has < 0) break;
        BN_CHECK_MSG(has == ((f & map[i].bit) != 0), "feature %s: /proc/cpuinfo says %d, bn_cpu_features says %d",
                     map[i].flag, has, (f & map[i].bit) != 0);
    }
#elif defined(__aarch64__)
    BN_CHECK(f & BN_CPU_NEON);
    int dp = cpuinfo_has("asimddp");
    if (dp >= 0) BN_CHECK_EQ_I64(dp, (f & BN_CPU_DOTPROD) != 0);
#else
    (void)f;
#endif
    BN_CHECK(strlen(bn_cpu_name()) > 0);
    BN_CHECK(bn_cpu_count() >= 1);
}

static const char* impl_of(const char* op) {
    for (int32_t i = 0; i < bn_kernel_count(); i++) {
        const char *o, *impl;
        if (bn_kernel_info(i, &o, &impl) == BN_OK && strcmp(o, op) == 0) return impl;
    }
    return NULL;
}

BN_TEST(mask_restricts_dispatch) {
    BN_CHECK(bn_kernel_count() > 0);
    BN_CHECK_OK(bn_cpu_set_enabled(0));
    BN_CHECK_EQ_I64(bn_cpu_features_enabled(), 0);
    /* with nothing enabled every op must fall back to its scalar reference */
    for (int32_t i = 0; i < bn_kernel_count(); i++) {
        const char *op, *impl;
        BN_CHECK_OK(bn_kernel_info(i, &op, &impl));
        BN_CHECK_MSG(strcmp(impl, "scalar") == 0, "op %s chose %s with all features disabled", op, impl);
    }
    BN_CHECK_OK(bn_cpu_set_enabled(UINT64_MAX));
    BN_CHECK_EQ_I64(bn_cpu_features_enabled(), bn_cpu_features());
    const char* best = impl_of("abs_max_f32");
    BN_CHECK(best != NULL);
    uint64_t f = bn_cpu_features();
    if (f & BN_CPU_AVX512F && f & BN_CPU_AVX512BW && f & BN_CPU_AVX512VNNI) BN_CHECK(strcmp(best, "avx512") == 0);
    else if (f & BN_CPU_AVX2) BN_CHECK(strcmp(best, "avx2") == 0);
    else if (f & BN_CPU_NEON) BN_CHECK(strcmp(best, "neon") == 0);
    if (f & BN_CPU_AVX2) {
        BN_CHECK_OK(bn_cpu_set_enabled(BN_CPU_AVX2 | BN_CPU_FMA | BN_CPU_F16C));
        BN_CHECK(strcmp(impl_of("abs_max_f32"), "avx2") == 0);
        BN_CHECK_OK(bn_cpu_set_enabled(UINT64_MAX));
    }
}

BN_TEST(kernel_info_bad_index) {
    const char *op, *impl;
    BN_CHECK_STATUS(bn_kernel_info(-1, &op, &impl), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_kernel_info(bn_kernel_count(), &op, &impl), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_kernel_info(0, NULL, &impl), BN_ERR_INVALID_ARGUMENT);
}

typedef float (*abs_max_fn)(const float*, int64_t);

static void compare_abs_max(abs_max_fn fn, const char* name) {
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    for (int64_t n = 0; n <= 300; n++) {
        float* x = malloc((size_t)(n + 1) * sizeof *x);
        for (int64_t i = 0; i < n; i++) x[i] = bn_test_rand_float(&rng, -3.0f, 3.0f);
        if (n > 0) x[bn_test_rand_u64(&rng) % (uint64_t)n] = -7.5f; /* the max is a negative value somewhere */
        float want = bn_abs_max_f32_scalar(x, n), got = fn(x, n);
        BN_CHECK_MSG(want == got, "%s n=%lld: %g != scalar %g", name, (long long)n, got, want);
        free(x);
    }
}

BN_TEST(abs_max_variants_equal_scalar) {
    uint64_t f = bn_cpu_features();
    int ran = 0;
#if defined(__x86_64__)
    if ((f & BN_CPU_AVX2) && (f & BN_CPU_FMA)) compare_abs_max(bn_abs_max_f32_avx2, "avx2"), ran++;
    if ((f & BN_CPU_AVX512F) && (f & BN_CPU_AVX512BW)) compare_abs_max(bn_abs_max_f32_avx512, "avx512"), ran++;
#endif
#if defined(__aarch64__)
    compare_abs_max(bn_abs_max_f32_neon, "neon"), ran++;
#endif
    printf("compared %d vector variant(s) with scalar (features 0x%llx)\n", ran, (unsigned long long)f);
}
