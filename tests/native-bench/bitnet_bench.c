/* bitnet-bench: native benchmarks of BitNetNative, one subcommand each.
 *
 *   bitnet-bench <subcommand> [options]     bitnet-bench --help
 *
 * Adding a benchmark: write bench_<name>.c with `int bn_bench_<name>_main(int argc, char** argv)`, declare it in
 * bench.h, add one row to k_commands below and the file to CMakeLists.txt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "bitnet.h"

typedef struct bn_bench_command {
    const char* name;
    const char* usage;
    bn_bench_main_fn main;
} bn_bench_command;

static const bn_bench_command k_commands[] = {
    {"pool", "pool [--threads N] [--iters N] [--reps N] [--json]   ns per allocate+free pair: bn_pool vs malloc",
     bn_bench_pool_main},
    {"quant", "quant [--min-time S] [--tokens T] [--weight-rows R]   GB/s of activation/weight quantization and packing: scalar vs dispatched",
     bn_bench_quant},
    {"stream", "stream [--json]   STREAM-style read bandwidth, 1 and 2 threads (the bandwidth floor)", bn_bench_stream},
    {"matmul", "matmul [--help]   ternary GEMV/GEMM on the 2B4T shapes, cache-resident and streaming", bn_bench_matmul},
    {"train", "train [--help]   bn_trainer tokens/s (forward_backward + AdamW step) at 1 and 2 threads, by phase",
     bn_bench_train},
    {"sgemm", "sgemm [--min-time S] [--threads A,B]   GFLOP/s of the float GEMM (bn_sgemm) on training shapes",
     bn_bench_sgemm},
    {"icount", "icount [--help]   instructions of one ternary GEMV/GEMM and Q6_K LM-head call per kernel variant "
               "(run under bitnet-icount: bench/icount.sh)",
     bn_bench_icount},
    {"lmhead", "lmhead [--help]   the 128256 x 2560 Q6_K LM head, 1 and 2 threads: float path vs integer (Q8_K) path",
     bn_bench_lmhead},
};
#define BN_N_COMMANDS (sizeof k_commands / sizeof k_commands[0])

uint64_t bn_bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const bn_bench_variant bn_bench_variants[BN_BENCH_N_VARIANTS] = {
    {"scalar", 0},
    {"avx2", BN_CPU_AVX2 | BN_CPU_FMA | BN_CPU_F16C},
    {"avxvnni", BN_CPU_AVX2 | BN_CPU_FMA | BN_CPU_F16C | BN_CPU_AVXVNNI},
    {"avx512", BN_CPU_AVX2 | BN_CPU_FMA | BN_CPU_F16C | BN_CPU_AVX512F | BN_CPU_AVX512BW | BN_CPU_AVX512VL |
                   BN_CPU_AVX512VNNI},
    {"neon", BN_CPU_NEON},
    {"dotprod", BN_CPU_NEON | BN_CPU_DOTPROD},
};

double bn_bench_best_seconds(bn_bench_call_fn fn, void* ctx, double min_time) {
    double best = 1e30;
    for (int run = 0; run < 3; run++) {
        int64_t iters = 0;
        uint64_t t0 = bn_bench_now_ns(), t;
        do {
            if (fn(ctx) != 0) return -1.0;
            iters++;
            t = bn_bench_now_ns();
        } while ((double)(t - t0) * 1e-9 < min_time);
        const double per = (double)(t - t0) * 1e-9 / (double)iters;
        if (per < best) best = per;
    }
    return best;
}

const char* bn_bench_impl_of(const char* op) {
    for (int32_t i = 0; i < bn_kernel_count(); i++) {
        const char *o, *impl;
        if (bn_kernel_info(i, &o, &impl) == BN_OK && strcmp(o, op) == 0) return impl;
    }
    return "?";
}

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

double bn_bench_median(double* v, size_t n) {
    if (n == 0) return 0.0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int bn_bench_parse_positive(const char* option, const char* text, long long* out) {
    char* end = NULL;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (!text || *text == '\0' || *end != '\0' || v <= 0) {
        fprintf(stderr, "bitnet-bench: %s needs a positive integer, got '%s'\n", option, text ? text : "");
        return 0;
    }
    *out = v;
    return 1;
}

int bn_bench_parse_thread_pair(const char* text, long long threads[2]) {
    char first[32];
    const char* comma = strchr(text, ',');
    const size_t n = comma ? (size_t)(comma - text) : strlen(text);
    if (n >= sizeof first) return bn_bench_parse_positive("--threads", text, &threads[0]); /* too long: refused */
    memcpy(first, text, n);
    first[n] = '\0';
    if (!bn_bench_parse_positive("--threads", first, &threads[0])) return 0;
    if (!comma) return threads[1] = threads[0], 1;
    return bn_bench_parse_positive("--threads", comma + 1, &threads[1]);
}

void bn_bench_json_string(const char* s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void usage(FILE* f) {
    fprintf(f, "usage: bitnet-bench <subcommand> [options]\n\nsubcommands:\n");
    for (size_t i = 0; i < BN_N_COMMANDS; i++) fprintf(f, "  %s\n", k_commands[i].usage);
    fprintf(f, "\nlibrary %s, CPU %s\n", bn_version_string(), bn_cpu_name());
}

int main(int argc, char** argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < BN_N_COMMANDS; i++)
        if (!strcmp(argv[1], k_commands[i].name)) return k_commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "bitnet-bench: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
