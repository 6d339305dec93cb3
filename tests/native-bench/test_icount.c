/* Test of bitnet-icount (icount.c): run as `bitnet-icount -- test_icount` (ctest does; exit 77 = skipped where ptrace
 * is not permitted). Hand-written loops of known length between the marks of icount.h must count exactly:
 *   x86-64   mov $N, %rcx; 1: dec %rcx; jnz 1b          = 1 + 2N instructions
 *            the same with an AVX-512 vpaddd zmm, or a VEX vpdpbusd ymm (AVX-VNNI), in the body = 1 + 3N, run only
 *            where the CPU has them (valgrind 3.19 decodes neither; the tracer must count them like any other)
 *   aarch64  mov x9, #N; 1: subs x9, x9, #1; b.ne 1b    = 1 + 2N
 * Every region is the same out-of-line code around a call through a function pointer (count_region), so the
 * instructions around the loop are identical in every region whatever the compiler or sanitizer does: a loop's
 * count minus the count of an empty body is its own length, exactly. */
#include <inttypes.h>
#include <stdio.h>

#include "icount.h"

static int g_failures;

static void check(int ok, const char* what, uint64_t got, uint64_t want) {
    printf("%s %s: %" PRIu64 " (want %" PRIu64 ")\n", ok ? "ok  " : "FAIL", what, got, want);
    if (!ok) g_failures++;
}

#if defined(__x86_64__)
#  define LOOP(N) __asm__ volatile("mov %0, %%rcx\n1:\n\tdec %%rcx\n\tjnz 1b" : : "i"(N) : "rcx", "cc")
/* vpaddd %zmm0, %zmm0, %zmm0 in the body */
#  define LOOP_AVX512(N)                                                                                       \
    __asm__ volatile("mov %0, %%rcx\n1:\n\tvpaddd %%zmm0, %%zmm0, %%zmm0\n\tdec %%rcx\n\tjnz 1b"               \
                     :                                                                                         \
                     : "i"(N)                                                                                  \
                     : "rcx", "cc", "xmm0")
/* {vex} vpdpbusd %ymm2, %ymm1, %ymm0 (VEX.256.66.0F38.W0 50 /r), as bytes for assemblers without AVX-VNNI */
#  define LOOP_AVXVNNI(N)                                                                                      \
    __asm__ volatile("mov %0, %%rcx\n1:\n\t.byte 0xc4, 0xe2, 0x75, 0x50, 0xc2\n\tdec %%rcx\n\tjnz 1b"          \
                     :                                                                                         \
                     : "i"(N)                                                                                  \
                     : "rcx", "cc", "xmm0")
#elif defined(__aarch64__)
#  define LOOP(N) __asm__ volatile("mov x9, %0\n1:\n\tsubs x9, x9, #1\n\tb.ne 1b" : : "i"(N) : "x9", "cc")
#endif

#define N_SHORT 1000
#define N_LONG 5000

#if defined(LOOP)
#  define BODY(name, stmt) __attribute__((noinline)) static void name(void) { stmt; }
BODY(empty_body, __asm__ volatile(""))
BODY(loop_short, LOOP(N_SHORT))
BODY(loop_long, LOOP(N_LONG))
#  if defined(__x86_64__)
BODY(avx512_short, LOOP_AVX512(N_SHORT))
BODY(avx512_long, LOOP_AVX512(N_LONG))
BODY(avxvnni_short, LOOP_AVXVNNI(N_SHORT))
BODY(avxvnni_long, LOOP_AVXVNNI(N_LONG))
#  endif

/* The raw count of one region around body() (marks, the indirect call and body's return included). */
__attribute__((noinline)) static uint64_t count_region(const char* label, void (*volatile body)(void)) {
    uint64_t n = 0;
    bn_icount_begin(label);
    body();
    bn_icount_end(&n);
    return n;
}

/* short_body and long_body run the same loop N_SHORT and N_LONG times, `per` instructions an iteration. */
static void check_loop(const char* name, void (*short_body)(void), void (*long_body)(void), uint64_t per,
                       uint64_t empty) {
    char what[96];
    const uint64_t s = count_region(name, short_body) - empty, l = count_region(name, long_body) - empty;
    snprintf(what, sizeof what, "%s, %d iterations", name, N_SHORT);
    check(s == 1 + per * N_SHORT, what, s, 1 + per * N_SHORT);
    snprintf(what, sizeof what, "%s, %d iterations", name, N_LONG);
    check(l == 1 + per * N_LONG, what, l, 1 + per * N_LONG);
}
#endif

int main(void) {
    if (!bn_icount_active()) {
        fprintf(stderr, "test_icount: run it under bitnet-icount (ctest does: bitnet-icount -- test_icount)\n");
        return 1;
    }
#if defined(LOOP)
    const uint64_t e1 = count_region("empty", empty_body), e2 = count_region("empty", empty_body);
    check(e1 > 0 && e1 == e2, "two empty regions agree (the overhead)", e2, e1);
    check_loop("dec/jnz loop", loop_short, loop_long, 2, e1);
#  if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) check_loop("AVX-512 vpaddd loop", avx512_short, avx512_long, 3, e1);
    else printf("skip AVX-512 loop: the CPU has no AVX-512F\n");
    /* AVX-VNNI is CPUID.(EAX=7,ECX=1):EAX bit 4; gcc 12's __builtin_cpu_supports does not know it */
    unsigned a = 7, b, c = 1, d;
    __asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    if (a & (1u << 4) && __builtin_cpu_supports("avx2"))
        check_loop("AVX-VNNI vpdpbusd loop", avxvnni_short, avxvnni_long, 3, e1);
    else printf("skip AVX-VNNI loop: the CPU has no AVX-VNNI\n");
#  endif
    return g_failures ? 1 : 0;
#else
    printf("test_icount: no loop of known length for this architecture\n");
    return 77;
#endif
}
