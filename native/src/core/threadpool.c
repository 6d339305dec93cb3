/* A fork-join thread pool for kernels.
 *
 * n_threads - 1 workers plus the calling thread share each parallel_for. Work is handed out in chunks through
 * one atomic counter, so uneven chunks balance themselves. Between jobs, workers spin on the job generation for
 * a while (a decode step issues hundreds of small jobs back to back, and a futex wake costs microseconds), then
 * sleep on a condition variable. The spin/sleep handshake is Dekker-style: a worker announces itself in
 * `sleeping` before re-reading `generation` under the mutex, and the submitter bumps `generation` before reading
 * `sleeping`; both are sequentially consistent, so one of them always sees the other.
 *
 * A job is over when all of its items are done, not when every worker has checked in: the caller takes chunks
 * too, so when another process holds a worker's core (2 cores shared with a build, say) the caller runs the whole
 * job alone instead of waiting a scheduler tick for a worker that has nothing left to do. A worker that wakes late
 * must then not read a job descriptor that is being rewritten: it registers in `active` and re-checks
 * `generation` before touching the job, while the submitter makes `generation` odd ("being rewritten") before it
 * waits for `active` to drain and writes the next job, then even again to publish it. Both sides are sequentially
 * consistent, so either the worker sees the odd generation and backs off or the submitter sees it in `active` and
 * waits the few instructions until it leaves. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#  include <immintrin.h>
#  define BN_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#  define BN_CPU_RELAX() __asm__ volatile("yield")
#else
#  define BN_CPU_RELAX() ((void)0)
#endif

/* How long an idle worker spins before sleeping: ~50-100 us on current cores. */
#define BN_SPIN_ROUNDS 20000

struct bn_threadpool {
    int32_t n_threads; /* including the caller */
    pthread_t* threads;
    pthread_mutex_t submit_lock; /* serialises outside callers */
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    atomic_uint_fast64_t generation;
    atomic_int sleeping;
    atomic_int stop;
    /* the current job, written before generation is bumped */
    bn_parallel_fn fn;
    void* ctx;
    int64_t n;
    int64_t grain;
    atomic_int_fast64_t next;
    atomic_int_fast64_t done; /* items of the current job finished */
    atomic_int active;        /* workers between registering for a job and leaving it */
};

typedef struct bn_worker_arg {
    bn_threadpool* pool;
    int32_t index;
} bn_worker_arg;

static _Thread_local int tl_inside_job;
static _Thread_local int32_t tl_worker_index;

static void run_chunks(bn_threadpool* p, int32_t worker) {
    const int64_t n = p->n, grain = p->grain;
    tl_inside_job = 1;
    tl_worker_index = worker;
    for (;;) {
        int64_t begin = atomic_fetch_add_explicit(&p->next, grain, memory_order_relaxed);
        if (begin >= n) break;
        int64_t end = begin + grain < n ? begin + grain : n;
        p->fn(p->ctx, begin, end, worker);
        atomic_fetch_add_explicit(&p->done, end - begin, memory_order_release);
    }
    tl_inside_job = 0;
}

static void* worker_main(void* argp) {
    bn_worker_arg arg = *(bn_worker_arg*)argp;
    free(argp);
    bn_threadpool* p = arg.pool;
    uint64_t seen = 0;
    for (;;) {
        /* wait for a published job (an even generation) newer than the last one seen */
        uint64_t g = atomic_load(&p->generation);
        for (int spin = 0; (g == seen || (g & 1)) && spin < BN_SPIN_ROUNDS; spin++) {
            BN_CPU_RELAX();
            g = atomic_load_explicit(&p->generation, memory_order_acquire);
        }
        if (g == seen || (g & 1)) {
            pthread_mutex_lock(&p->sleep_lock);
            atomic_fetch_add(&p->sleeping, 1);
            while ((g = atomic_load(&p->generation)) == seen || (g & 1)) pthread_cond_wait(&p->wake, &p->sleep_lock);
            atomic_fetch_sub(&p->sleeping, 1);
            pthread_mutex_unlock(&p->sleep_lock);
        }
        seen = g;
        if (atomic_load(&p->stop)) break;
        atomic_fetch_add(&p->active, 1);
        if (atomic_load(&p->generation) == g) run_chunks(p, arg.index); /* else the job is over and rewritten */
        atomic_fetch_sub_explicit(&p->active, 1, memory_order_release);
    }
    return NULL;
}

/* Makes the generation odd: no worker enters the current job from now on; then waits for those inside it. */
static void retire(bn_threadpool* p) {
    atomic_fetch_add(&p->generation, 1);
    for (int spin = 0; atomic_load(&p->active) > 0; spin++) {
        if (spin < BN_SPIN_ROUNDS) BN_CPU_RELAX();
        else sched_yield();
    }
}

/* Makes the generation even again: the job written since retire() is open to the workers. */
static void publish(bn_threadpool* p) {
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleeping) > 0) {
        pthread_mutex_lock(&p->sleep_lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->sleep_lock);
    }
}

static void stop_workers(bn_threadpool* p, int32_t started) {
    retire(p);
    atomic_store(&p->stop, 1);
    publish(p);
    for (int32_t i = 0; i < started; i++) pthread_join(p->threads[i], NULL);
}

bn_status bn_threadpool_create(int32_t n_threads, bn_threadpool** out) {
    BN_REQUIRE_ARG(out != NULL, "bn_threadpool_create: out must not be null");
    *out = NULL;
    BN_REQUIRE_ARG(n_threads >= 0 && n_threads <= 1024,
                   "bn_threadpool_create: n_threads %d is outside 0..1024", (int)n_threads);
    if (n_threads == 0) n_threads = bn_cpu_count();
    bn_threadpool* p = calloc(1, sizeof *p);
    if (!p) return bn_fail(BN_ERR_OUT_OF_MEMORY, "bn_threadpool_create: out of memory");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->submit_lock, NULL);
    pthread_mutex_init(&p->sleep_lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->sleeping, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->active, 0);
    if (n_threads > 1) {
        p->threads = calloc((size_t)(n_threads - 1), sizeof(pthread_t));
        if (!p->threads) {
            free(p);
            return bn_fail(BN_ERR_OUT_OF_MEMORY, "bn_threadpool_create: out of memory");
        }
    }
    for (int32_t i = 0; i < n_threads - 1; i++) {
        bn_worker_arg* arg = malloc(sizeof *arg);
        int rc = -1;
        if (arg) {
            arg->pool = p;
            arg->index = i + 1;
            rc = pthread_create(&p->threads[i], NULL, worker_main, arg);
        }
        if (rc != 0) {
            free(arg);
            stop_workers(p, i);
            free(p->threads);
            free(p);
            return bn_fail(BN_ERR_OUT_OF_MEMORY, "bn_threadpool_create: could not start thread %d of %d", (int)i + 1,
                           (int)n_threads - 1);
        }
    }
    *out = p;
    return BN_OK;
}

bn_status bn_threadpool_destroy(bn_threadpool* p) {
    if (!p) return BN_OK;
    pthread_mutex_lock(&p->submit_lock);
    stop_workers(p, p->n_threads - 1);
    pthread_mutex_unlock(&p->submit_lock);
    pthread_mutex_destroy(&p->submit_lock);
    pthread_mutex_destroy(&p->sleep_lock);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
    return BN_OK;
}

int32_t bn_threadpool_size(const bn_threadpool* p) { return p ? p->n_threads : 0; }

bn_status bn_threadpool_parallel_for(bn_threadpool* p, int64_t n, int64_t grain, bn_parallel_fn fn, void* ctx) {
    BN_REQUIRE_ARG(fn != NULL, "bn_threadpool_parallel_for: fn must not be null");
    BN_REQUIRE_ARG(n >= 0, "bn_threadpool_parallel_for: n (%lld) is negative", (long long)n);
    BN_REQUIRE_ARG(grain >= 0, "bn_threadpool_parallel_for: grain (%lld) is negative", (long long)grain);
    if (n == 0) return BN_OK;
    /* Serial: no pool, a one-thread pool, or a nested call from inside a job. */
    if (!p || p->n_threads == 1 || tl_inside_job) {
        fn(ctx, 0, n, tl_inside_job ? tl_worker_index : 0);
        return BN_OK;
    }
    if (grain == 0) {
        /* about 4 chunks per thread: enough to even out stragglers, few enough to keep the counter cold */
        grain = n / ((int64_t)p->n_threads * 4);
        if (grain < 1) grain = 1;
    }
    pthread_mutex_lock(&p->submit_lock);
    retire(p); /* workers still leaving the previous job (they found no chunk left) go first */
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->grain = grain;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    publish(p);
    run_chunks(p, 0);
    for (int spin = 0; atomic_load_explicit(&p->done, memory_order_acquire) < n; spin++) {
        if (spin < BN_SPIN_ROUNDS) BN_CPU_RELAX();
        else sched_yield();
    }
    pthread_mutex_unlock(&p->submit_lock);
    return BN_OK;
}
