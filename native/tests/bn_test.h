/* A minimal test harness for the native tests.
 *
 *   BN_TEST(name) { ... BN_CHECK(cond); BN_CHECK_OK(call); ... }
 *
 * Each BN_TEST registers itself before main runs. `test_x` alone runs every case of the file; `test_x name`
 * runs one (that is how ctest calls it: see CMakeLists.txt). A failed check prints where and why and marks the
 * case failed; the case goes on so one run shows every failure. Exit status 0 only if every case passed. */
#ifndef BN_TEST_H
#define BN_TEST_H

/* Debian's aarch64-linux-gnu-gcc 12 crashes vectorising some of the tests' reductions at -O3 ("internal compiler
 * error: in vect_transform_reduction"). Test code gains nothing from vectorisation (the library it tests is built
 * separately, vectorised), so there gcc does not try. */
#if defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-vectorize")
#endif

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bitnet.h"

typedef void (*bn_test_fn)(void);
void bn_test_register(const char* name, bn_test_fn fn);
void bn_test_fail(const char* file, int line, const char* fmt, ...);
/* Deterministic pseudo-random numbers for tests (xorshift64*); seed with any non-zero value. */
uint64_t bn_test_rand_u64(uint64_t* state);
/* Uniform in [lo, hi). */
float bn_test_rand_float(uint64_t* state, float lo, float hi);

#define BN_TEST(name)                                                                      \
    static void bn_test_case_##name(void);                                                 \
    __attribute__((constructor)) static void bn_test_register_##name(void) {               \
        bn_test_register(#name, bn_test_case_##name);                                      \
    }                                                                                      \
    static void bn_test_case_##name(void)

#define BN_CHECK(cond)                                                                     \
    do {                                                                                   \
        if (!(cond)) bn_test_fail(__FILE__, __LINE__, "check failed: %s", #cond);          \
    } while (0)

#define BN_CHECK_MSG(cond, ...)                                                            \
    do {                                                                                   \
        if (!(cond)) bn_test_fail(__FILE__, __LINE__, __VA_ARGS__);                        \
    } while (0)

#define BN_CHECK_STATUS(expr, expected)                                                    \
    do {                                                                                   \
        bn_status bn_st_ = (expr);                                                         \
        if (bn_st_ != (expected))                                                          \
            bn_test_fail(__FILE__, __LINE__, "%s returned %s, expected %s (last error: %s)", \
                         #expr, bn_status_string(bn_st_), bn_status_string(expected),      \
                         bn_last_error());                                                 \
    } while (0)

#define BN_CHECK_OK(expr) BN_CHECK_STATUS(expr, BN_OK)

#define BN_CHECK_EQ_I64(a, b)                                                              \
    do {                                                                                   \
        long long bn_a_ = (long long)(a), bn_b_ = (long long)(b);                          \
        if (bn_a_ != bn_b_)                                                                \
            bn_test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, bn_a_, #b, bn_b_); \
    } while (0)

#endif
