/* Shared pieces of bitnet-bench: the subcommand signature, timing, statistics and argument parsing. */
#ifndef BN_BENCH_H
#define BN_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* A subcommand: argv[0] is its name; returns the process exit status. */
typedef int (*bn_bench_main_fn)(int argc, char** argv);

/* Subcommands (one file each). */
int bn_bench_pool_main(int argc, char** argv);
int bn_bench_quant(int argc, char** argv);
int bn_bench_matmul(int argc, char** argv);
int bn_bench_stream(int argc, char** argv);
int bn_bench_train(int argc, char** argv);
int bn_bench_sgemm(int argc, char** argv);
int bn_bench_icount(int argc, char** argv);
int bn_bench_lmhead(int argc, char** argv);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
uint64_t bn_bench_now_ns(void);
/* A kernel variant: what bn_cpu_set_enabled gets so that dispatch picks the variant of that name. */
typedef struct bn_bench_variant {
    const char* name;
    uint64_t mask;
} bn_bench_variant;
#define BN_BENCH_N_VARIANTS 6
/* scalar, avx2, avxvnni, avx512, neon, dotprod */
extern const bn_bench_variant bn_bench_variants[BN_BENCH_N_VARIANTS];

/* One timed call: 0 on success. */
typedef int (*bn_bench_call_fn)(void* ctx);
/* Seconds per call of fn(ctx): the best of 3 runs, each repeating the call for at least min_time seconds;
 * negative if a call fails. */
double bn_bench_best_seconds(bn_bench_call_fn fn, void* ctx, double min_time);
/* The implementation dispatch chose for kernel op `op` (bn_kernel_info), "?" if there is no such op. */
const char* bn_bench_impl_of(const char* op);
/* Median of n values (sorts v in place). */
double bn_bench_median(double* v, size_t n);
/* Parses a positive integer option value; prints an error naming the option and returns 0 if it is not one. */
int bn_bench_parse_positive(const char* option, const char* text, long long* out);
/* Parses "--threads A,B" (or "A", meaning A twice) into threads[0], threads[1]; 0 with a message if it is not that. */
int bn_bench_parse_thread_pair(const char* text, long long threads[2]);
/* Writes s as a JSON string literal (with quotes) to stdout. */
void bn_bench_json_string(const char* s);

#endif
