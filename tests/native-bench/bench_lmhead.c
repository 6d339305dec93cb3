/* bitnet-bench lmhead: the Q6_K LM head of a 2B4T-shaped model (vocab 128256 x hidden 2560, 269 MB), T tokens,
 * on 1 and 2 threads (or --threads): the float path (each Q6_K row dequantized in registers and FMA'd with h,
 * kernels/dot*.c's dot_q6_k, as bn_lm_head computed it before the integer path) against bn_lm_head's integer
 * path (h rounded to Q8_K once, then dot_q6_k_q8_k per row, kernels/dot_q8_k.h), with the dispatched kernels
 * and, where the CPU has AVX-512, with it switched off. ms per call and GB/s of table bytes read; each figure
 * is the best of 3 runs of >= --min-time seconds of back-to-back calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bitnet.h"
#include "kernels/kernels.h"

typedef struct float_job {
    const uint8_t* E;
    int64_t row_bytes, V, C, T;
    const float* h;
    float* logits;
} float_job;

/* The float path over rows [r0, r1): what bn_lm_head's Q6_K case ran before the integer path. */
static void float_rows(void* ctx, int64_t r0, int64_t r1, int32_t worker) {
    (void)worker;
    const float_job* j = (const float_job*)ctx;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t t = 0; t < j->T; t++)
            j->logits[t * j->V + r] = bn_kernels.dot_q6_k(j->h + t * j->C, j->E + r * j->row_bytes, j->C);
}

static bn_status run_once(int integer, const float_job* j, bn_threadpool* pool) {
    if (integer) return bn_lm_head(BN_DTYPE_Q6_K, j->E, j->V, j->C, j->h, j->T, j->logits, pool);
    return bn_threadpool_parallel_for(pool, j->V, 64, float_rows, (void*)j);
}

typedef struct head_call {
    int integer;
    const float_job* j;
    bn_threadpool* pool;
} head_call;

static int call_head(void* ctx) {
    const head_call* c = (const head_call*)ctx;
    return run_once(c->integer, c->j, c->pool) != BN_OK;
}

static double best_seconds(int integer, const float_job* j, bn_threadpool* pool, double min_time) {
    head_call c = {integer, j, pool};
    return bn_bench_best_seconds(call_head, &c, min_time);
}

/* Random Q6_K blocks: every code and scale equally likely, d a small finite fp16 (the timing does not depend on
 * the values; quantizing 328M floats would take longer than the benchmark). */
static void fill_table(uint8_t* E, int64_t blocks) {
    uint64_t s = 0x9E3779B97F4A7C15ull;
    const uint16_t d = bn_fp32_to_fp16(0.002f);
    for (int64_t b = 0; b < blocks; b++) {
        uint8_t* blk = E + b * 210;
        for (int i = 0; i < 208; i += 8) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            memcpy(blk + i, &s, 8);
        }
        memcpy(blk + 208, &d, 2);
    }
}

int bn_bench_lmhead(int argc, char** argv) {
    double min_time = 0.5;
    long long threads[2] = {1, 2}, T = 1, V = 128256, C = 2560;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--min-time") == 0 && i + 1 < argc) {
            min_time = atof(argv[++i]);
        } else if (strcmp(argv[i], "--tokens") == 0 && i + 1 < argc) {
            if (!bn_bench_parse_positive("--tokens", argv[++i], &T)) return 2;
        } else if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc) {
            if (!bn_bench_parse_positive("--vocab", argv[++i], &V)) return 2;
        } else if (strcmp(argv[i], "--hidden") == 0 && i + 1 < argc) {
            if (!bn_bench_parse_positive("--hidden", argv[++i], &C)) return 2;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (!bn_bench_parse_thread_pair(argv[++i], threads)) return 2;
        } else {
            const int help = strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
            fprintf(help ? stdout : stderr,
                    "%susage: bitnet-bench lmhead [--min-time SECONDS] [--threads A,B] [--tokens T] [--vocab V]\n"
                    "                             [--hidden C]\n"
                    "  the Q6_K LM head (V x C, default 128256 x 2560), T tokens (1): float path vs integer\n"
                    "  (Q8_K) path, ms per call and GB/s of table read, on A and B threads (default 1,2); each\n"
                    "  figure is the best of 3 runs of >= SECONDS (0.5) of calls\n",
                    help ? "" : "bench lmhead: unknown option\n");
            return help ? 0 : 2;
        }
    }
    if (min_time <= 0 || C % 256 != 0) {
        fprintf(stderr, "bench lmhead: --min-time must be positive and --hidden a multiple of 256\n");
        return 2;
    }
    float_job j = {NULL, C / 256 * 210, V, C, T, NULL, NULL};
    const double bytes = (double)V * (double)j.row_bytes;
    uint8_t* E = malloc((size_t)bytes);
    float* h = malloc((size_t)(T * C) * sizeof *h);
    float* logits = malloc((size_t)(T * V) * sizeof *logits);
    bn_threadpool* pools[2] = {NULL, NULL};
    int status = 0;
    if (!E || !h || !logits) {
        fprintf(stderr, "bench lmhead: out of memory\n");
        status = 1;
        goto done;
    }
    fill_table(E, V * (C / 256));
    for (int64_t i = 0; i < T * C; i++) h[i] = (float)((i * 7919) % 2003) * 0.003f - 3.0f;
    j.E = E, j.h = h, j.logits = logits;
    for (int p = 0; p < 2; p++)
        if (threads[p] > 1 && bn_threadpool_create((int32_t)threads[p], &pools[p]) != BN_OK) {
            fprintf(stderr, "bench lmhead: %s\n", bn_last_error());
            status = 1;
            goto done;
        }

    const uint64_t saved = bn_cpu_features_enabled();
    const int has_avx512 = (saved & BN_CPU_AVX512F) != 0;
    printf("## Q6_K LM head (%s), %lld x %lld (%.0f MB), T = %lld\n\n", bn_cpu_name(), V, C, bytes * 1e-6, T);
    printf("ms per call and GB/s of table bytes, best of 3 runs of >= %.2f s.\n\n", min_time);
    printf("| path | kernel | %lld thr ms | GB/s | %lld thr ms | GB/s |\n|---|---|---:|---:|---:|---:|\n", threads[0],
           threads[1]);
    (void)best_seconds(0, &j, pools[1], min_time); /* warm-up: page in the table, reach the vector clock */
    for (int masked = 0; masked <= has_avx512 && status == 0; masked++) {
        if (masked) bn_cpu_set_enabled(saved & ~(uint64_t)BN_CPU_AVX512F);
        for (int integer = 0; integer < 2 && status == 0; integer++) {
            double t[2];
            for (int p = 0; p < 2; p++) t[p] = best_seconds(integer, &j, pools[p], min_time);
            if (t[0] < 0 || t[1] < 0) {
                fprintf(stderr, "bench lmhead: %s\n", bn_last_error());
                status = 1;
                break;
            }
            printf("| %s | %s %s | %.2f | %.1f | %.2f | %.1f |\n", integer ? "integer (Q8_K)" : "float",
                   integer ? "dot_q6_k_q8_k" : "dot_q6_k", bn_bench_impl_of(integer ? "dot_q6_k_q8_k" : "dot_q6_k"),
                   t[0] * 1e3, bytes / t[0] * 1e-9, t[1] * 1e3, bytes / t[1] * 1e-9);
            fflush(stdout);
        }
        if (masked) bn_cpu_set_enabled(saved);
    }
done:
    for (int p = 0; p < 2; p++)
        if (pools[p]) bn_threadpool_destroy(pools[p]);
    free(E), free(h), free(logits);
    return status;
}
