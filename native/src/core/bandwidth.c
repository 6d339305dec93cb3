/* The memory-bandwidth floor: a STREAM-style read (bitnet.h, bn_measure_read_bandwidth). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bitnet.h"
#include "core/error.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#endif

typedef struct read_job {
    const uint64_t* buf;
    int64_t n_words, words_per_chunk;
    uint64_t sink[64 * 8]; /* one cache line per worker, so the sums are not optimised away */
} read_job;

/* Sums words with 8 independent accumulators: enough loads in flight to keep a core's share of DRAM busy. */
static uint64_t read_words(const uint64_t* p, int64_t n) {
    uint64_t a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += p[i + k];
    for (; i < n; i++) a[0] += p[i];
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

static void read_chunks(void* ctx, int64_t c0, int64_t c1, int32_t worker) {
    read_job* j = ctx;
    const int64_t i = c0 * j->words_per_chunk;
    const int64_t end = c1 * j->words_per_chunk < j->n_words ? c1 * j->words_per_chunk : j->n_words;
    j->sink[(worker & 63) * 8] += read_words(j->buf + i, end - i);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void* a, const void* b) {
    const double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

bn_status bn_measure_read_bandwidth(bn_threadpool* pool, int64_t bytes, int32_t reps, double* median_gbps,
                                    double* best_gbps) {
    static const char fn[] = "bn_measure_read_bandwidth";
    BN_REQUIRE_ARG(bytes >= (1 << 20), "%s: bytes (%lld) must be at least 1 MiB", fn, (long long)bytes);
    BN_REQUIRE_ARG(reps >= 1 && reps <= 1000, "%s: reps (%d) is outside 1..1000", fn, (int)reps);
    const size_t size = (size_t)bytes & ~(size_t)63;
#if defined(__unix__) || defined(__APPLE__)
    void* mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return bn_fail(BN_ERR_OUT_OF_MEMORY, "%s: cannot map %zu bytes", fn, size);
#else
    void* mem = malloc(size);
    if (!mem) return bn_fail(BN_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", fn, size);
#endif
    memset(mem, 1, size); /* every page faulted in before timing */
    read_job* job = calloc(1, sizeof *job);
    double* t = malloc(sizeof(double) * (size_t)reps);
    bn_status st = BN_OK;
    if (!job || !t) st = bn_fail(BN_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    if (st == BN_OK) {
        job->buf = mem;
        job->n_words = (int64_t)(size / 8);
        job->words_per_chunk = (4 << 20) / 8; /* 4 MiB chunks, handed out dynamically */
        const int64_t chunks = (job->n_words + job->words_per_chunk - 1) / job->words_per_chunk;
        st = bn_threadpool_parallel_for(pool, chunks, 1, read_chunks, job); /* untimed pass */
        for (int32_t r = 0; st == BN_OK && r < reps; r++) {
            const double t0 = now_s();
            st = bn_threadpool_parallel_for(pool, chunks, 1, read_chunks, job);
            t[r] = now_s() - t0;
        }
    }
    if (st == BN_OK) {
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        const double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
        if (median_gbps) *median_gbps = (double)size / med / 1e9;
        if (best_gbps) *best_gbps = (double)size / t[0] / 1e9;
    }
    free(t);
    free(job);
#if defined(__unix__) || defined(__APPLE__)
    munmap(mem, size);
#else
    free(mem);
#endif
    return st;
}
