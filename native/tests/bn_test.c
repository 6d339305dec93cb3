#include "bn_test.h"

#include <stdarg.h>
#include <stdlib.h>

#define BN_TEST_MAX 512

static struct {
    const char* name;
    bn_test_fn fn;
} g_cases[BN_TEST_MAX];
static int g_count;
static int g_failed_checks;

void bn_test_register(const char* name, bn_test_fn fn) {
    if (g_count == BN_TEST_MAX) {
        fprintf(stderr, "bn_test: more than %d cases in one file\n", BN_TEST_MAX);
        exit(2);
    }
    g_cases[g_count].name = name;
    g_cases[g_count].fn = fn;
    g_count++;
}

void bn_test_fail(const char* file, int line, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    g_failed_checks++;
}

uint64_t bn_test_rand_u64(uint64_t* state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

float bn_test_rand_float(uint64_t* state, float lo, float hi) {
    double u = (double)(bn_test_rand_u64(state) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(lo + (hi - lo) * u);
}

static int run_case(int i) {
    int before = g_failed_checks;
    g_cases[i].fn();
    int ok = g_failed_checks == before;
    printf("%s %s\n", ok ? "PASS" : "FAIL", g_cases[i].name);
    return ok;
}

int main(int argc, char** argv) {
    int failed = 0, ran = 0;
    for (int i = 0; i < g_count; i++) {
        if (argc > 1) {
            int wanted = 0;
            for (int a = 1; a < argc; a++) wanted |= strcmp(argv[a], g_cases[i].name) == 0;
            if (!wanted) continue;
        }
        ran++;
        failed += !run_case(i);
    }
    if (ran == 0) {
        fprintf(stderr, "bn_test: no case matched\n");
        return 2;
    }
    printf("%d cases, %d failed\n", ran, failed);
    return failed ? 1 : 0;
}
