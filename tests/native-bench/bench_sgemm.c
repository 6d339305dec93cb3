/* bitnet-bench sgemm: GFLOP/s (2*M*N*K per call) of bn_sgemm on the shapes of a training step, on 1 and 2
 * threads (or --threads), with the dispatched kernels and with AVX-512 switched off (the AVX2 kernel) where
 * the CPU has it. Each figure is the best of 3 runs of >= --min-time seconds of back-to-back calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bitnet.h"

typedef struct sgemm_shape {
    const char* what;
    int32_t ta, tb;
    int64_t M, N, K;
} sgemm_shape;

/* d = 256 / 768 hidden, T = 2048 tokens, V = 4096 vocabulary (the training shapes), and a 2B4T projection */
static const sgemm_shape k_shapes[] = {
    {"dx = dout . W", 0, 0, 2048, 256, 768},
    {"dx = dout . W", 0, 0, 2048, 768, 256},
    {"dx = dout . W", 0, 0, 2048, 256, 256},
    {"dx = dout . W", 0, 0, 2048, 128, 256},
    {"dW = doutT . X", 1, 0, 768, 256, 2048},
    {"dW = doutT . X", 1, 0, 256, 768, 2048},
    {"dW = doutT . X", 1, 0, 256, 256, 2048},
    {"logits = H . ET", 0, 1, 2048, 4096, 256},
    {"dH = dlogits . E", 0, 0, 2048, 256, 4096},
    {"dE = dlogitsT . H", 1, 0, 4096, 256, 2048},
    {"2B4T dx = dout . W", 0, 0, 256, 2560, 6912},
};
#define N_SHAPES (sizeof k_shapes / sizeof k_shapes[0])

typedef struct sgemm_call {
    const sgemm_shape* s;
    const float *A, *B;
    float* C;
    bn_threadpool* pool;
} sgemm_call;

static int call_sgemm(void* ctx) {
    const sgemm_call* c = (const sgemm_call*)ctx;
    const sgemm_shape* s = c->s;
    const int64_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    return bn_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, c->A, lda, c->B, ldb, 0.0f, c->C, s->N, c->pool) != BN_OK;
}

static double best_seconds(const sgemm_shape* s, const float* A, const float* B, float* C, bn_threadpool* pool,
                           double min_time) {
    sgemm_call c = {s, A, B, C, pool};
    return bn_bench_best_seconds(call_sgemm, &c, min_time);
}

int bn_bench_sgemm(int argc, char** argv) {
    double min_time = 0.3;
    long long threads[2] = {1, 2};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--min-time") == 0 && i + 1 < argc) {
            min_time = atof(argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (!bn_bench_parse_thread_pair(argv[++i], threads)) return 2;
        } else {
            const int help = strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
            fprintf(help ? stdout : stderr,
                    "%susage: bitnet-bench sgemm [--min-time SECONDS] [--threads A,B]\n"
                    "  GFLOP/s of bn_sgemm on training shapes, on A and B threads (default 1,2); each figure is\n"
                    "  the best of 3 runs of >= SECONDS (0.3) of calls\n",
                    help ? "" : "bench sgemm: unknown option\n");
            return help ? 0 : 2;
        }
    }
    if (min_time <= 0) {
        fprintf(stderr, "bench sgemm: --min-time must be positive\n");
        return 2;
    }
    const uint64_t saved = bn_cpu_features_enabled();
    const int has_avx512 = (saved & BN_CPU_AVX512F) != 0;
    bn_threadpool* pools[2] = {NULL, NULL};
    for (int p = 0; p < 2; p++)
        if (threads[p] > 1 && bn_threadpool_create((int32_t)threads[p], &pools[p]) != BN_OK) {
            fprintf(stderr, "bench sgemm: %s\n", bn_last_error());
            return 1;
        }
    int64_t max_a = 0, max_b = 0, max_c = 0;
    for (size_t s = 0; s < N_SHAPES; s++) {
        const sgemm_shape* h = &k_shapes[s];
        if (h->M * h->K > max_a) max_a = h->M * h->K;
        if (h->K * h->N > max_b) max_b = h->K * h->N;
        if (h->M * h->N > max_c) max_c = h->M * h->N;
    }
    float* A = malloc((size_t)max_a * sizeof *A);
    float* B = malloc((size_t)max_b * sizeof *B);
    float* C = malloc((size_t)max_c * sizeof *C);
    if (!A || !B || !C) {
        fprintf(stderr, "bench sgemm: out of memory\n");
        free(A), free(B), free(C);
        return 1;
    }
    for (int64_t i = 0; i < max_a; i++) A[i] = (float)(i % 17) * 0.01f - 0.08f;
    for (int64_t i = 0; i < max_b; i++) B[i] = (float)(i % 13) * 0.02f - 0.12f;

    printf("## Float GEMM (%s), kernel %s\n\n", bn_cpu_name(), bn_bench_impl_of("sgemm_block"));
    printf("GFLOP/s (2MNK per call), best of 3 runs of >= %.2f s.\n\n", min_time);
    printf("| op | trans | M x N x K | %lld thr | %lld thr |%s\n", threads[0], threads[1],
           has_avx512 ? " avx2, 1 thr |" : "");
    printf("|---|---|---|---:|---:|%s\n", has_avx512 ? "---:|" : "");
    /* warm-up: lets the cores reach their vector clock before the first figure */
    (void)best_seconds(&k_shapes[0], A, B, C, pools[1], min_time);
    int status = 0;
    for (size_t s = 0; s < N_SHAPES && status == 0; s++) {
        const sgemm_shape* h = &k_shapes[s];
        const double flops = 2.0 * (double)h->M * (double)h->N * (double)h->K;
        double t[3] = {0, 0, 0};
        for (int p = 0; p < 2; p++) t[p] = best_seconds(h, A, B, C, pools[p], min_time);
        if (has_avx512) {
            bn_cpu_set_enabled(saved & ~(uint64_t)BN_CPU_AVX512F);
            t[2] = best_seconds(h, A, B, C, NULL, min_time);
            bn_cpu_set_enabled(saved);
        }
        if (t[0] < 0 || t[1] < 0 || t[2] < 0) {
            fprintf(stderr, "bench sgemm: %s\n", bn_last_error());
            status = 1;
            break;
        }
        printf("| %s | %s%s | %lld x %lld x %lld | %.1f | %.1f |", h->what, h->ta ? "T" : "N", h->tb ? "T" : "N",
               (long long)h->M, (long long)h->N, (long long)h->K, flops / t[0] * 1e-9, flops / t[1] * 1e-9);
        if (has_avx512) printf(" %.1f |", flops / t[2] * 1e-9);
        printf("\n");
        fflush(stdout);
    }
    for (int p = 0; p < 2; p++)
        if (pools[p]) bn_threadpool_destroy(pools[p]);
    free(A), free(B), free(C);
    return status;
}
