/* bitnet-bench pool: nanoseconds per allocate+free pair, bn_pool beside malloc/free and aligned_alloc(64)/free,
 * measured in the same run on the same threads.
 *
 * Patterns: one fixed size allocated and freed at once (64 B, 512 B, 4 KiB, 64 KiB: each served from the thread
 * cache after the first pair), and "mixed": 64 live blocks, each step frees one and allocates a block of a size
 * drawn log-uniformly from 16 B .. 64 KiB in its place. Every block gets one byte written so that no compiler
 * can elide a malloc/free pair.
 *
 * Each measurement runs on T threads at once (a barrier starts every repetition); a repetition's figure is the
 * slowest thread's time divided by its pairs, and the table gives the median over repetitions. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bitnet.h"

enum { BN_MIXED_LIVE = 64, BN_MIXED_SIZES = 1024 };
enum { ALLOC_POOL, ALLOC_MALLOC, ALLOC_ALIGNED, N_ALLOCATORS };
static const char* const k_alloc_names[N_ALLOCATORS] = {"bn_pool", "malloc", "aligned_alloc(64)"};

typedef struct pattern {
    const char* name;
    size_t size; /* 0: mixed */
} pattern;

static const pattern k_patterns[] = {
    {"64 B", 64}, {"512 B", 512}, {"4 KiB", 4096}, {"64 KiB", 65536}, {"mixed, 64 live", 0},
};
#define N_PATTERNS (sizeof k_patterns / sizeof k_patterns[0])

static bn_pool* g_pool;
static size_t g_mixed_sizes[BN_MIXED_SIZES];

static void die(const char* what) {
    fprintf(stderr, "bitnet-bench pool: %s failed: %s\n", what, bn_last_error());
    exit(1);
}

static inline void* pool_alloc(size_t size) {
    void* p;
    if (bn_pool_alloc(g_pool, size, &p) != BN_OK) die("bn_pool_alloc");
    return p;
}
static inline void pool_free(void* p) {
    if (bn_pool_free(g_pool, p) != BN_OK) die("bn_pool_free");
}
static inline void* malloc_alloc(size_t size) {
    void* p = malloc(size);
    if (!p) die("malloc");
    return p;
}
static inline void* aligned_alloc64(size_t size) {
    void* p = aligned_alloc(64, (size + 63) & ~(size_t)63); /* C11: the size must be a multiple of the alignment */
    if (!p) die("aligned_alloc");
    return p;
}

/* One set of loops per allocator, each with its calls inlined, so all three pay the same loop overhead. */
#define BN_DEFINE_LOOPS(NAME, ALLOC, FREE)                                                       \
    static void NAME##_fixed(size_t size, long long iters) {                                     \
        for (long long i = 0; i < iters; i++) {                                                  \
            void* p = ALLOC(size);                                                               \
            *(volatile unsigned char*)p = (unsigned char)i;                                      \
            FREE(p);                                                                             \
        }                                                                                        \
    }                                                                                            \
    static void NAME##_mixed_fill(void** live) {                                                 \
        for (int k = 0; k < BN_MIXED_LIVE; k++) live[k] = ALLOC(g_mixed_sizes[k]);               \
    }                                                                                            \
    static void NAME##_mixed(void** live, long long iters) {                                     \
        for (long long i = 0; i < iters; i++) {                                                  \
            unsigned k = (unsigned)i % BN_MIXED_LIVE;                                            \
            FREE(live[k]);                                                                       \
            live[k] = ALLOC(g_mixed_sizes[(unsigned)(i * 7 + 3) % BN_MIXED_SIZES]);              \
            *(volatile unsigned char*)live[k] = (unsigned char)i;                                \
        }                                                                                        \
    }                                                                                            \
    static void NAME##_mixed_drain(void** live) {                                                \
        for (int k = 0; k < BN_MIXED_LIVE; k++) FREE(live[k]);                                   \
    }

BN_DEFINE_LOOPS(pool, pool_alloc, pool_free)
BN_DEFINE_LOOPS(sys, malloc_alloc, free)
BN_DEFINE_LOOPS(al, aligned_alloc64, free)

/* Runs `iters` pairs of the pattern with the allocator; returns the nanoseconds the pairs took. */
static uint64_t run_once(int allocator, const pattern* pat, long long iters) {
    void* live[BN_MIXED_LIVE];
    uint64_t t0, t1;
    if (pat->size) {
        t0 = bn_bench_now_ns();
        if (allocator == ALLOC_POOL) pool_fixed(pat->size, iters);
        else if (allocator == ALLOC_MALLOC) sys_fixed(pat->size, iters);
        else al_fixed(pat->size, iters);
        t1 = bn_bench_now_ns();
        return t1 - t0;
    }
    if (allocator == ALLOC_POOL) pool_mixed_fill(live);
    else if (allocator == ALLOC_MALLOC) sys_mixed_fill(live);
    else al_mixed_fill(live);
    t0 = bn_bench_now_ns();
    if (allocator == ALLOC_POOL) pool_mixed(live, iters);
    else if (allocator == ALLOC_MALLOC) sys_mixed(live, iters);
    else al_mixed(live, iters);
    t1 = bn_bench_now_ns();
    if (allocator == ALLOC_POOL) pool_mixed_drain(live);
    else if (allocator == ALLOC_MALLOC) sys_mixed_drain(live);
    else al_mixed_drain(live);
    return t1 - t0;
}

typedef struct worker {
    pthread_t thread;
    int allocator;
    const pattern* pat;
    long long iters;
    int reps;
    pthread_barrier_t* barrier;
    double* ns_per_pair; /* [reps] */
} worker;

static void* worker_main(void* argp) {
    worker* w = argp;
    run_once(w->allocator, w->pat, w->iters / 4 + 1); /* warm-up: caches filled, pages touched */
    for (int r = 0; r < w->reps; r++) {
        pthread_barrier_wait(w->barrier);
        w->ns_per_pair[r] = (double)run_once(w->allocator, w->pat, w->iters) / (double)w->iters;
    }
    return NULL;
}

/* The median over repetitions of the slowest thread's ns per pair. */
static double measure(int allocator, const pattern* pat, int threads, long long iters, int reps) {
    worker* ws = calloc((size_t)threads, sizeof *ws);
    double* per = calloc((size_t)threads * (size_t)reps, sizeof *per);
    double* worst = calloc((size_t)reps, sizeof *worst);
    if (!ws || !per || !worst) die("calloc");
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++) {
        ws[t] = (worker){0, allocator, pat, iters, reps, &barrier, per + (size_t)t * (size_t)reps};
        if (pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]) != 0) die("pthread_create");
    }
    for (int t = 0; t < threads; t++) pthread_join(ws[t].thread, NULL);
    for (int r = 0; r < reps; r++)
        for (int t = 0; t < threads; t++)
            if (per[(size_t)t * (size_t)reps + (size_t)r] > worst[r]) worst[r] = per[(size_t)t * (size_t)reps + (size_t)r];
    double m = bn_bench_median(worst, (size_t)reps);
    pthread_barrier_destroy(&barrier);
    free(ws);
    free(per);
    free(worst);
    return m;
}

static void usage(void) {
    fprintf(stderr, "usage: bitnet-bench pool [--threads N] [--iters N] [--reps N] [--json]\n"
                    "  --threads N  the multi-threaded rows use N threads (default 2; 1 gives single-threaded only)\n"
                    "  --iters N    allocate+free pairs per thread per repetition (default 200000)\n"
                    "  --reps N     repetitions; the median is reported (default 7)\n"
                    "  --json       one JSON object on stdout instead of a markdown table\n");
}

int bn_bench_pool_main(int argc, char** argv) {
    long long threads = 2, iters = 200000, reps = 7;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--iters") || !strcmp(a, "--reps")) {
            long long v;
            if (i + 1 >= argc || !bn_bench_parse_positive(a, argv[i + 1], &v)) {
                if (i + 1 >= argc) fprintf(stderr, "bitnet-bench pool: %s needs a value\n", a);
                usage();
                return 2;
            }
            i++;
            if (!strcmp(a, "--threads")) threads = v;
            else if (!strcmp(a, "--iters")) iters = v;
            else reps = v;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "bitnet-bench pool: unknown option '%s'\n", a);
            usage();
            return 2;
        }
    }
    if (threads > 256 || reps > 1000) {
        fprintf(stderr, "bitnet-bench pool: --threads is at most 256 and --reps at most 1000\n");
        return 2;
    }
    /* log-uniform sizes in 16 B .. 64 KiB, from a fixed seed */
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < BN_MIXED_SIZES; i++) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        uint64_t r = s * 0x2545F4914F6CDD1Dull;
        unsigned bits = 4 + (unsigned)(r % 13); /* 2^4 .. 2^16 */
        g_mixed_sizes[i] = ((size_t)1 << bits) + (size_t)((r >> 16) % ((uint64_t)1 << bits));
        if (g_mixed_sizes[i] > 65536) g_mixed_sizes[i] = 65536;
    }
    if (bn_pool_create(&g_pool) != BN_OK) die("bn_pool_create");

    int thread_counts[2] = {1, (int)threads};
    int n_counts = threads > 1 ? 2 : 1;
    double results[N_PATTERNS][2][N_ALLOCATORS];
    for (size_t p = 0; p < N_PATTERNS; p++)
        for (int tc = 0; tc < n_counts; tc++)
            for (int a = 0; a < N_ALLOCATORS; a++)
                results[p][tc][a] = measure(a, &k_patterns[p], thread_counts[tc], iters, (int)reps);

    bn_pool_stats st;
    bn_pool_class_stats cls[3];
    bn_pool_get_stats(g_pool, &st);
    uint64_t hits = 0, misses = 0;
    for (int c = 0; c < 3; c++) {
        bn_pool_get_class_stats(g_pool, (bn_size_class)c, &cls[c]);
        hits += cls[c].cache_hits;
        misses += cls[c].cache_misses;
    }
    if (bn_pool_destroy(g_pool) != BN_OK) die("bn_pool_destroy");

    if (json) {
        printf("{\"bench\":\"pool\",\"cpu\":");
        bn_bench_json_string(bn_cpu_name());
        printf(",\"iters\":%lld,\"reps\":%lld,\"unit\":\"ns per allocate+free pair\",\"results\":[", iters, reps);
        int first = 1;
        for (size_t p = 0; p < N_PATTERNS; p++)
            for (int tc = 0; tc < n_counts; tc++) {
                printf("%s{\"pattern\":", first ? "" : ",");
                bn_bench_json_string(k_patterns[p].name);
                printf(",\"threads\":%d,\"bn_pool_ns\":%.2f,\"malloc_ns\":%.2f,\"aligned_alloc_ns\":%.2f}",
                       thread_counts[tc], results[p][tc][ALLOC_POOL], results[p][tc][ALLOC_MALLOC],
                       results[p][tc][ALLOC_ALIGNED]);
                first = 0;
            }
        printf("],\"pool_allocations\":%llu,\"pool_cache_hits\":%llu,\"pool_cache_misses\":%llu}\n",
               (unsigned long long)st.allocations, (unsigned long long)hits, (unsigned long long)misses);
        return 0;
    }
    printf("bitnet-bench pool: ns per allocate+free pair (median of %lld repetitions of %lld pairs per thread; "
           "with several threads, the slowest thread)\nCPU: %s\n\n",
           reps, iters, bn_cpu_name());
    printf("| pattern | threads | %s | %s | %s |\n|---|---:|---:|---:|---:|\n", k_alloc_names[0], k_alloc_names[1],
           k_alloc_names[2]);
    for (size_t p = 0; p < N_PATTERNS; p++)
        for (int tc = 0; tc < n_counts; tc++)
            printf("| %s | %d | %.1f | %.1f | %.1f |\n", k_patterns[p].name, thread_counts[tc],
                   results[p][tc][ALLOC_POOL], results[p][tc][ALLOC_MALLOC], results[p][tc][ALLOC_ALIGNED]);
    printf("\nbn_pool: %llu allocations, %.4f%% served from a thread cache\n", (unsigned long long)st.allocations,
           hits + misses ? 100.0 * (double)hits / (double)(hits + misses) : 0.0);
    return 0;
}
