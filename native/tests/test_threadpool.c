#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "bn_test.h"

typedef struct sum_ctx {
    const int32_t* values;
    atomic_llong total;
    atomic_int calls;
    int32_t* owner; /* which worker handled each index */
    int32_t n_threads;
    atomic_int bad_worker;
} sum_ctx;

static void sum_range(void* ctxp, int64_t begin, int64_t end, int32_t worker) {
    sum_ctx* c = ctxp;
    long long s = 0;
    for (int64_t i = begin; i < end; i++) {
        s += c->values[i];
        c->owner[i] += 1; /* every index must be visited exactly once */
    }
    if (worker < 0 || worker >= c->n_threads) atomic_store(&c->bad_worker, 1);
    atomic_fetch_add(&c->total, s);
    atomic_fetch_add(&c->calls, 1);
}

static void check_sum(bn_threadpool* pool, int32_t n_threads, int64_t n, int64_t grain) {
    int32_t* values = malloc((size_t)(n > 0 ? n : 1) * sizeof *values);
    int32_t* owner = calloc((size_t)(n > 0 ? n : 1), sizeof *owner);
    long long expected = 0;
    for (int64_t i = 0; i < n; i++) {
        values[i] = (int32_t)((i * 7919) % 1000) - 500;
        expected += values[i];
    }
    sum_ctx c = {.values = values, .owner = owner, .n_threads = n_threads};
    atomic_init(&c.total, 0);
    atomic_init(&c.calls, 0);
    atomic_init(&c.bad_worker, 0);
    BN_CHECK_OK(bn_threadpool_parallel_for(pool, n, grain, sum_range, &c));
    BN_CHECK_EQ_I64(atomic_load(&c.total), expected);
    for (int64_t i = 0; i < n; i++)
        if (owner[i] != 1) {
            BN_CHECK_MSG(0, "index %lld visited %d times (n=%lld grain=%lld)", (long long)i, owner[i], (long long)n,
                         (long long)grain);
            break;
        }
    BN_CHECK(atomic_load(&c.bad_worker) == 0);
    if (n_threads > 1 && grain > 0 && n > 0) BN_CHECK_EQ_I64(atomic_load(&c.calls), (n + grain - 1) / grain);
    free(values);
    free(owner);
}

BN_TEST(covers_every_index_once) {
    for (int32_t threads = 1; threads <= 4; threads++) {
        bn_threadpool* pool = NULL;
        BN_CHECK_OK(bn_threadpool_create(threads, &pool));
        BN_CHECK_EQ_I64(bn_threadpool_size(pool), threads);
        int64_t sizes[] = {0, 1, 2, 3, 7, 64, 1000, 100003};
        int64_t grains[] = {0, 1, 5, 4096};
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++) check_sum(pool, threads, sizes[s], grains[g]);
        BN_CHECK_OK(bn_threadpool_destroy(pool));
    }
}

BN_TEST(many_small_jobs_back_to_back) {
    /* the decode-step pattern: hundreds of tiny jobs in a row; any lost wake-up would hang here */
    bn_threadpool* pool = NULL;
    BN_CHECK_OK(bn_threadpool_create(3, &pool));
    for (int rep = 0; rep < 5000; rep++) check_sum(pool, 3, 17, 1);
    BN_CHECK_OK(bn_threadpool_destroy(pool));
}

static void sleepy_range(void* ctxp, int64_t begin, int64_t end, int32_t worker) {
    (void)worker;
    atomic_llong* total = ctxp;
    for (int64_t i = begin; i < end; i++) atomic_fetch_add(total, i);
}

BN_TEST(wakes_sleeping_workers) {
    /* jobs separated by pauses long enough that the workers go to sleep between them */
    bn_threadpool* pool = NULL;
    BN_CHECK_OK(bn_threadpool_create(2, &pool));
    for (int rep = 0; rep < 5; rep++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        atomic_llong total;
        atomic_init(&total, 0);
        BN_CHECK_OK(bn_threadpool_parallel_for(pool, 1000, 1, sleepy_range, &total));
        BN_CHECK_EQ_I64(atomic_load(&total), 999LL * 1000 / 2);
    }
    BN_CHECK_OK(bn_threadpool_destroy(pool));
}

typedef struct nested_ctx {
    bn_threadpool* pool;
    atomic_llong total;
} nested_ctx;

static void inner(void* ctxp, int64_t begin, int64_t end, int32_t worker) {
    (void)worker;
    nested_ctx* c = ctxp;
    atomic_fetch_add(&c->total, end - begin);
}

static void outer(void* ctxp, int64_t begin, int64_t end, int32_t worker) {
    (void)worker;
    nested_ctx* c = ctxp;
    for (int64_t i = begin; i < end; i++) bn_threadpool_parallel_for(c->pool, 10, 0, inner, c);
}

BN_TEST(nested_calls_run_serially) {
    nested_ctx c;
    BN_CHECK_OK(bn_threadpool_create(2, &c.pool));
    atomic_init(&c.total, 0);
    BN_CHECK_OK(bn_threadpool_parallel_for(c.pool, 50, 1, outer, &c));
    BN_CHECK_EQ_I64(atomic_load(&c.total), 500);
    BN_CHECK_OK(bn_threadpool_destroy(c.pool));
}

typedef struct caller_arg {
    bn_threadpool* pool;
    int ok;
} caller_arg;

static void* outside_caller(void* argp) {
    caller_arg* a = argp;
    a->ok = 1;
    for (int rep = 0; rep < 300; rep++) {
        atomic_llong total;
        atomic_init(&total, 0);
        if (bn_threadpool_parallel_for(a->pool, 500, 7, sleepy_range, &total) != BN_OK) a->ok = 0;
        if (atomic_load(&total) != 499LL * 500 / 2) a->ok = 0;
    }
    return NULL;
}

BN_TEST(concurrent_outside_callers_are_serialised) {
    bn_threadpool* pool = NULL;
    BN_CHECK_OK(bn_threadpool_create(2, &pool));
    pthread_t t[3];
    caller_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i].pool = pool;
        pthread_create(&t[i], NULL, outside_caller, &args[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        BN_CHECK(args[i].ok);
    }
    BN_CHECK_OK(bn_threadpool_destroy(pool));
}

BN_TEST(bad_arguments) {
    bn_threadpool* pool = NULL;
    BN_CHECK_STATUS(bn_threadpool_create(-1, &pool), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "n_threads") != NULL);
    BN_CHECK_STATUS(bn_threadpool_create(2, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_OK(bn_threadpool_create(0, &pool));
    BN_CHECK_EQ_I64(bn_threadpool_size(pool), bn_cpu_count());
    BN_CHECK_STATUS(bn_threadpool_parallel_for(pool, 10, 0, NULL, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_threadpool_parallel_for(pool, -1, 0, sleepy_range, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_OK(bn_threadpool_destroy(pool));
    BN_CHECK_OK(bn_threadpool_destroy(NULL));
}
