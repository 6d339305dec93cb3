/* CPU feature detection. x86: CPUID plus XGETBV, because a feature is only usable when the OS saves the
 * register state it needs (YMM for AVX/AVX2, ZMM and opmask for AVX-512). arm64: the kernel's HWCAP bits. */
#include "bitnet.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#  include <cpuid.h>
#  define BN_CPU_X86 1
#elif defined(__aarch64__) && defined(__linux__)
#  include <sys/auxv.h>
#  define BN_CPU_ARM64_LINUX 1
#endif

#if defined(_WIN32)
#  include <windows.h>
#else
#  include <unistd.h>
#endif

static char g_cpu_name[64] = "unknown";

#if BN_CPU_X86
static uint64_t xgetbv0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static uint64_t detect(void) {
    unsigned a, b, c, d, max_leaf;
    uint64_t f = 0;
    if (!__get_cpuid(0, &max_leaf, &b, &c, &d)) return 0;
    __get_cpuid(1, &a, &b, &c, &d);
    int osxsave = (c >> 27) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_ok = (xcr0 & 0x6) == 0x6;     /* SSE + AVX state */
    int zmm_ok = (xcr0 & 0xE6) == 0xE6;   /* + opmask, ZMM_Hi256, Hi16_ZMM */
    if ((c >> 19) & 1) f |= BN_CPU_SSE41;
    if (ymm_ok && ((c >> 28) & 1)) f |= BN_CPU_AVX;
    if (ymm_ok && ((c >> 12) & 1)) f |= BN_CPU_FMA;
    if (ymm_ok && ((c >> 29) & 1)) f |= BN_CPU_F16C;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (ymm_ok && ((b >> 5) & 1)) f |= BN_CPU_AVX2;
        if (zmm_ok && ((b >> 16) & 1)) f |= BN_CPU_AVX512F;
        if (zmm_ok && ((b >> 30) & 1)) f |= BN_CPU_AVX512BW;
        if (zmm_ok && ((b >> 31) & 1)) f |= BN_CPU_AVX512VL;
        if (zmm_ok && ((c >> 11) & 1)) f |= BN_CPU_AVX512VNNI;
        unsigned a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        (void)b1; (void)c1; (void)d1;
        if (ymm_ok && ((a1 >> 4) & 1)) f |= BN_CPU_AVXVNNI;
        if (zmm_ok && ((a1 >> 5) & 1)) f |= BN_CPU_AVX512BF16;
    }
    unsigned ext = 0;
    __get_cpuid(0x80000000, &ext, &b, &c, &d);
    if (ext >= 0x80000004) {
        unsigned r[12];
        for (unsigned i = 0; i < 3; i++) __get_cpuid(0x80000002 + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
        char raw[49];
        memcpy(raw, r, 48);
        raw[48] = '\0';
        const char* s = raw;
        while (*s == ' ') s++;
        strncpy(g_cpu_name, s, sizeof g_cpu_name - 1);
        size_t n = strlen(g_cpu_name);
        while (n > 0 && g_cpu_name[n - 1] == ' ') g_cpu_name[--n] = '\0';
    }
    return f;
}
#elif BN_CPU_ARM64_LINUX
static uint64_t detect(void) {
    unsigned long hw = getauxval(AT_HWCAP);
    uint64_t f = BN_CPU_NEON; /* Advanced SIMD is mandatory on arm64 */
    if (hw & (1UL << 20)) f |= BN_CPU_DOTPROD; /* HWCAP_ASIMDDP */
    if (hw & (1UL << 10)) f |= BN_CPU_FP16;    /* HWCAP_ASIMDHP */
    strncpy(g_cpu_name, "arm64", sizeof g_cpu_name - 1);
    return f;
}
#elif defined(__aarch64__) || defined(_M_ARM64)
static uint64_t detect(void) {
    strncpy(g_cpu_name, "arm64", sizeof g_cpu_name - 1);
    return BN_CPU_NEON;
}
#else
static uint64_t detect(void) { return 0; }
#endif

/* Written once by the library constructor (and again harmlessly by the first caller if constructors did not
 * run): the result is the same every time, so the benign race stores identical values. */
static volatile uint64_t g_features;
static volatile int g_detected;

uint64_t bn_cpu_features(void) {
    if (!g_detected) {
        g_features = detect();
        g_detected = 1;
    }
    return g_features;
}

const char* bn_cpu_name(void) {
    (void)bn_cpu_features();
    return g_cpu_name;
}

int32_t bn_cpu_count(void) {
#if defined(_WIN32)
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return (int32_t)si.dwNumberOfProcessors;
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)n : 1;
#endif
}
