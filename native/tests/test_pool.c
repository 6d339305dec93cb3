/* Tests of the memory pool (native/src/core/pool.c). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bn_test.h"

#define KIB ((size_t)1024)
#define MIB ((size_t)1024 * 1024)

static bn_pool_stats stats_of(bn_pool* pool) {
    bn_pool_stats s;
    BN_CHECK_OK(bn_pool_get_stats(pool, &s));
    return s;
}

static bn_pool_class_stats class_stats_of(bn_pool* pool, bn_size_class c) {
    bn_pool_class_stats s;
    BN_CHECK_OK(bn_pool_get_class_stats(pool, c, &s));
    return s;
}

/* The class a request belongs to by the header's definition. */
static bn_size_class expected_class(size_t size) {
    return size < KIB ? BN_SIZE_SMALL : size <= MIB ? BN_SIZE_MEDIUM : BN_SIZE_LARGE;
}

/* A word pattern unique to (tag, word index): two live blocks filled with different tags cannot overlap
 * without one of them failing its check. */
static uint64_t pattern_word(uint64_t tag, size_t i) { return (tag * 0x9E3779B97F4A7C15ull) ^ (uint64_t)i; }

static void fill(void* p, size_t bytes, uint64_t tag) {
    uint64_t* w = p;
    for (size_t i = 0; i < bytes / 8; i++) w[i] = pattern_word(tag, i);
}

static int verify(const void* p, size_t bytes, uint64_t tag) {
    const uint64_t* w = p;
    for (size_t i = 0; i < bytes / 8; i++)
        if (w[i] != pattern_word(tag, i)) return 0;
    return 1;
}

/* Checks the invariants that hold whenever no thread is allocating: per-class figures add up to the totals. */
static void check_class_sums(bn_pool* pool) {
    bn_pool_stats s = stats_of(pool);
    uint64_t allocs = 0, frees = 0, bytes = 0;
    for (int c = BN_SIZE_SMALL; c <= BN_SIZE_LARGE; c++) {
        bn_pool_class_stats cs = class_stats_of(pool, (bn_size_class)c);
        allocs += cs.allocations;
        frees += cs.frees;
        bytes += cs.bytes_in_use;
        BN_CHECK_EQ_I64(cs.cache_hits + cs.cache_misses, cs.allocations);
    }
    BN_CHECK_EQ_I64(allocs, s.allocations);
    BN_CHECK_EQ_I64(frees, s.frees);
    BN_CHECK_EQ_I64(bytes, s.bytes_in_use);
}

BN_TEST(sizes_in_every_class_and_boundaries) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    const size_t sizes[] = {1,        63,           64,          65,          100,     500,       960,
                            1000,     1023,         1024,        1025,        1500,    4096,      65536,
                            100000,   512 * KIB,    MIB - 1,     MIB,         MIB + 1, 3 * MIB,   5000000};
    uint64_t n_done = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t size = sizes[i];
        bn_size_class cls = expected_class(size);
        bn_pool_class_stats before = class_stats_of(pool, cls);
        void* p = NULL;
        BN_CHECK_OK(bn_pool_alloc(pool, size, &p));
        BN_CHECK(p != NULL);
        BN_CHECK_EQ_I64((uintptr_t)p % BN_POOL_ALIGNMENT, 0);
        size_t bs = 0;
        BN_CHECK_OK(bn_pool_block_size(pool, p, &bs));
        BN_CHECK_MSG(bs >= size, "block of %zu bytes for a request of %zu", bs, size);
        bn_pool_class_stats during = class_stats_of(pool, cls);
        BN_CHECK_MSG(during.allocations == before.allocations + 1, "size %zu was not counted in class %d", size,
                     (int)cls);
        BN_CHECK_EQ_I64(during.bytes_in_use, before.bytes_in_use + bs);
        fill(p, bs, i + 1); /* the whole block: ASan reports a write past it */
        BN_CHECK(verify(p, bs, i + 1));
        BN_CHECK_OK(bn_pool_free(pool, p));
        bn_pool_class_stats after = class_stats_of(pool, cls);
        BN_CHECK_EQ_I64(after.frees, before.frees + 1);
        BN_CHECK_EQ_I64(after.bytes_in_use, before.bytes_in_use);
        n_done++;
    }
    bn_pool_stats s = stats_of(pool);
    BN_CHECK_EQ_I64(s.allocations, n_done);
    BN_CHECK_EQ_I64(s.frees, n_done);
    BN_CHECK_EQ_I64(s.bytes_in_use, 0);
    BN_CHECK_EQ_I64(s.bad_frees, 0);
    check_class_sums(pool);
    BN_CHECK_OK(bn_pool_destroy(pool));
}

BN_TEST(block_size_is_bounded_and_monotonic) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    size_t prev = 0;
    for (size_t size = 1; size <= 3 * MIB;) {
        void* p = NULL;
        BN_CHECK_OK(bn_pool_alloc(pool, size, &p));
        size_t bs = 0;
        BN_CHECK_OK(bn_pool_block_size(pool, p, &bs));
        BN_CHECK_MSG(bs >= size && bs % 64 == 0, "size %zu -> block %zu", size, bs);
        BN_CHECK_MSG(bs >= prev, "size %zu -> block %zu, smaller than %zu for a smaller request", size, bs, prev);
        if (size < KIB) BN_CHECK_MSG(bs < size + 64, "small size %zu wastes too much (block %zu)", size, bs);
        else if (size <= MIB) BN_CHECK_MSG(bs * 4 < size * 5, "medium size %zu wastes >= 25%% (block %zu)", size, bs);
        else BN_CHECK_MSG(bs < size + 64 * KIB, "large size %zu -> mapping %zu", size, bs);
        if (size < KIB) BN_CHECK_MSG(bs <= KIB, "small size %zu -> block %zu", size, bs);
        BN_CHECK_OK(bn_pool_free(pool, p));
        prev = bs;
        size += size < 4 * KIB ? 1 : size < 64 * KIB ? 61 : size / 97 + 1;
    }
    /* the class edges themselves */
    const size_t edges[] = {KIB, 1280, 1536, 1792, 2 * KIB, 2560, 64 * KIB, 80 * KIB, 768 * KIB, 896 * KIB, MIB};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        void* p = NULL;
        size_t bs = 0;
        BN_CHECK_OK(bn_pool_alloc(pool, edges[i], &p));
        BN_CHECK_OK(bn_pool_block_size(pool, p, &bs));
        BN_CHECK_MSG(bs == edges[i], "a request of exactly %zu got a block of %zu", edges[i], bs);
        BN_CHECK_OK(bn_pool_free(pool, p));
    }
    BN_CHECK_OK(bn_pool_destroy(pool));
}

BN_TEST(alignment_of_many_live_blocks) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    enum { N = 2000 };
    void** ptrs = calloc(N, sizeof *ptrs);
    uint64_t rng = 12345;
    for (int i = 0; i < N; i++) {
        size_t size = 1 + bn_test_rand_u64(&rng) % (i % 50 == 0 ? 2 * MIB : 8 * KIB);
        BN_CHECK_OK(bn_pool_alloc(pool, size, &ptrs[i]));
        BN_CHECK_MSG((uintptr_t)ptrs[i] % 64 == 0, "block %p for size %zu is not 64-byte aligned", ptrs[i], size);
    }
    for (int i = 0; i < N; i++) BN_CHECK_OK(bn_pool_free(pool, ptrs[i]));
    BN_CHECK_EQ_I64(stats_of(pool).bytes_in_use, 0);
    free(ptrs);
    BN_CHECK_OK(bn_pool_destroy(pool));
}

static int all_zero(const void* p, size_t n) {
    const unsigned char* b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

BN_TEST(calloc_zeroes_reused_blocks) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    const size_t sizes[] = {40, 700, 3000, 200 * KIB, 3 * MIB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void* p = NULL;
        size_t bs = 0;
        BN_CHECK_OK(bn_pool_alloc(pool, sizes[i], &p));
        BN_CHECK_OK(bn_pool_block_size(pool, p, &bs));
        memset(p, 0xAB, bs);
        BN_CHECK_OK(bn_pool_free(pool, p));
        void* q = NULL;
        BN_CHECK_OK(bn_pool_calloc(pool, sizes[i], &q));
        BN_CHECK_MSG(q == p, "size %zu: the freed block was not reused (so calloc was not tested on it)", sizes[i]);
        BN_CHECK_MSG(all_zero(q, bs), "calloc(%zu) left non-zero bytes", sizes[i]);
        BN_CHECK_OK(bn_pool_free(pool, q));
    }
    BN_CHECK_OK(bn_pool_destroy(pool));
}

BN_TEST(large_blocks_are_cached_and_trimmed) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    void* p = NULL;
    BN_CHECK_OK(bn_pool_alloc(pool, 8 * MIB, &p));
    BN_CHECK_EQ_I64((uintptr_t)p % (2 * MIB), 0); /* huge-page friendly */
    bn_pool_stats s1 = stats_of(pool);
    BN_CHECK_EQ_I64(s1.bytes_reserved, 8 * MIB);
    BN_CHECK_EQ_I64(s1.bytes_in_use, 8 * MIB);
    BN_CHECK_OK(bn_pool_free(pool, p));
    BN_CHECK_EQ_I64(stats_of(pool).bytes_reserved, 8 * MIB); /* kept for reuse */
    for (int i = 0; i < 5; i++) {
        void* q = NULL;
        BN_CHECK_OK(bn_pool_alloc(pool, 8 * MIB - 100, &q));
        BN_CHECK(q == p);
        BN_CHECK_OK(bn_pool_free(pool, q));
    }
    bn_pool_class_stats L = class_stats_of(pool, BN_SIZE_LARGE);
    BN_CHECK_EQ_I64(L.allocations, 6);
    BN_CHECK_EQ_I64(L.cache_misses, 1);
    BN_CHECK_EQ_I64(L.cache_hits, 5);
    BN_CHECK_EQ_I64(L.bytes_in_use, 0);
    /* a much smaller request does not take the big cached block */
    void* small_large = NULL;
    BN_CHECK_OK(bn_pool_alloc(pool, 2 * MIB, &small_large));
    BN_CHECK(small_large != p);
    BN_CHECK_OK(bn_pool_free(pool, small_large));
    BN_CHECK_EQ_I64(stats_of(pool).bytes_reserved, 10 * MIB);
    BN_CHECK_OK(bn_pool_trim(pool));
    BN_CHECK_EQ_I64(stats_of(pool).bytes_reserved, 0);
    BN_CHECK_OK(bn_pool_destroy(pool));
}

BN_TEST(peak_is_exact_on_one_thread) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    void* p[40];
    size_t total = 0;
    for (int i = 0; i < 40; i++) {
        BN_CHECK_OK(bn_pool_alloc(pool, 64 * KIB, &p[i])); /* 64 KiB class: 40 blocks cross the publish step */
        total += 64 * KIB;
    }
    for (int i = 0; i < 20; i++) BN_CHECK_OK(bn_pool_free(pool, p[i]));
    void* big = NULL;
    BN_CHECK_OK(bn_pool_alloc(pool, 100, &big));
    bn_pool_stats s = stats_of(pool);
    BN_CHECK_EQ_I64(s.bytes_peak, total);
    BN_CHECK_EQ_I64(s.bytes_in_use, total / 2 + 128);
    for (int i = 20; i < 40; i++) BN_CHECK_OK(bn_pool_free(pool, p[i]));
    BN_CHECK_OK(bn_pool_free(pool, big));
    s = stats_of(pool);
    BN_CHECK_EQ_I64(s.bytes_peak, total);
    BN_CHECK_EQ_I64(s.bytes_in_use, 0);
    BN_CHECK_OK(bn_pool_destroy(pool));
}

/* ---- 8 threads ---- */
typedef struct stress_arg {
    bn_pool* pool;
    int tid;
    int iters;
    uint64_t allocs, frees;
    uint64_t per_class_allocs[3];
    int failures;
} stress_arg;

static size_t stress_size(uint64_t* rng) {
    uint64_t r = bn_test_rand_u64(rng);
    switch (r % 16) {
    case 0: return MIB + 1 + (size_t)(r >> 8) % (2 * MIB); /* large */
    case 1: case 2: case 3: return KIB + (size_t)(r >> 8) % (256 * KIB); /* medium */
    case 4: return 960 + (size_t)(r >> 8) % 130; /* around the small/medium edge */
    default: return 1 + (size_t)(r >> 8) % (KIB - 1); /* small */
    }
}

/* How much of a block the stress test fills: all of small and medium blocks, the ends of large ones. */
static void stress_fill(void* p, size_t bs, uint64_t tag) {
    if (bs <= MIB) {
        fill(p, bs, tag);
    } else {
        fill(p, 4096, tag);
        fill((char*)p + bs - 4096, 4096, tag ^ 1);
    }
}

static int stress_verify(const void* p, size_t bs, uint64_t tag) {
    if (bs <= MIB) return verify(p, bs, tag);
    return verify(p, 4096, tag) && verify((const char*)p + bs - 4096, 4096, tag ^ 1);
}

static void* stress_thread(void* argp) {
    stress_arg* a = argp;
    enum { LIVE = 48 };
    void* ptr[LIVE] = {0};
    size_t bsz[LIVE] = {0};
    uint64_t tag[LIVE] = {0};
    uint64_t rng = 0x1234567ull + (uint64_t)a->tid * 7919;
    for (int it = 0; it < a->iters; it++) {
        int k = (int)(bn_test_rand_u64(&rng) % LIVE);
        if (ptr[k]) {
            if (!stress_verify(ptr[k], bsz[k], tag[k])) a->failures++;
            if (bn_pool_free(a->pool, ptr[k]) != BN_OK) a->failures++;
            a->frees++;
            ptr[k] = NULL;
        }
        size_t size = stress_size(&rng);
        if (bn_pool_alloc(a->pool, size, &ptr[k]) != BN_OK || !ptr[k] || (uintptr_t)ptr[k] % 64) {
            a->failures++;
            ptr[k] = NULL;
            continue;
        }
        a->allocs++;
        a->per_class_allocs[expected_class(size)]++;
        if (bn_pool_block_size(a->pool, ptr[k], &bsz[k]) != BN_OK || bsz[k] < size) a->failures++;
        tag[k] = ((uint64_t)a->tid << 40) | (uint64_t)it;
        stress_fill(ptr[k], bsz[k], tag[k]);
    }
    for (int k = 0; k < LIVE; k++) {
        if (!ptr[k]) continue;
        if (!stress_verify(ptr[k], bsz[k], tag[k])) a->failures++;
        if (bn_pool_free(a->pool, ptr[k]) != BN_OK) a->failures++;
        a->frees++;
    }
    return NULL;
}

BN_TEST(stress_eight_threads) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    enum { T = 8 };
    pthread_t th[T];
    stress_arg args[T];
    for (int t = 0; t < T; t++) {
        memset(&args[t], 0, sizeof args[t]);
        args[t].pool = pool;
        args[t].tid = t + 1;
        args[t].iters = 20000;
        BN_CHECK(pthread_create(&th[t], NULL, stress_thread, &args[t]) == 0);
    }
    uint64_t allocs = 0, frees = 0, per_class[3] = {0, 0, 0};
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        BN_CHECK_MSG(args[t].failures == 0, "thread %d saw %d failures (overlapping blocks or refused calls)", t,
                     args[t].failures);
        allocs += args[t].allocs;
        frees += args[t].frees;
        for (int c = 0; c < 3; c++) per_class[c] += args[t].per_class_allocs[c];
    }
    BN_CHECK_EQ_I64(allocs, frees);
    bn_pool_stats s = stats_of(pool);
    BN_CHECK_EQ_I64(s.bytes_in_use, 0);
    BN_CHECK_EQ_I64(s.allocations, allocs);
    BN_CHECK_EQ_I64(s.frees, frees);
    BN_CHECK_EQ_I64(s.bad_frees, 0);
    BN_CHECK(s.bytes_peak > 0);
    for (int c = 0; c < 3; c++) {
        bn_pool_class_stats cs = class_stats_of(pool, (bn_size_class)c);
        BN_CHECK_EQ_I64(cs.allocations, per_class[c]);
        BN_CHECK_EQ_I64(cs.frees, per_class[c]);
        BN_CHECK_EQ_I64(cs.bytes_in_use, 0);
    }
    check_class_sums(pool);
    /* every thread exited, so every cache came back: trimming from here returns all memory */
    BN_CHECK(s.bytes_reserved > 0);
    BN_CHECK_OK(bn_pool_trim(pool));
    BN_CHECK_EQ_I64(stats_of(pool).bytes_reserved, 0);
    BN_CHECK_OK(bn_pool_destroy(pool));
}

/* ---- bad frees ---- */
typedef struct live_set {
    void* p[6];
    size_t bs[6];
} live_set;

static void check_unchanged(bn_pool* pool, const bn_pool_stats* before, uint64_t extra_bad_frees) {
    bn_pool_stats now = stats_of(pool);
    BN_CHECK_EQ_I64(now.bytes_in_use, before->bytes_in_use);
    BN_CHECK_EQ_I64(now.allocations, before->allocations);
    BN_CHECK_EQ_I64(now.frees, before->frees);
    BN_CHECK_EQ_I64(now.bytes_reserved, before->bytes_reserved);
    BN_CHECK_EQ_I64(now.bad_frees, before->bad_frees + extra_bad_frees);
}

static void expect_bad_free(bn_pool* pool, void* ptr, const char* what) {
    bn_pool_stats before = stats_of(pool);
    bn_clear_error();
    bn_status st = bn_pool_free(pool, ptr);
    BN_CHECK_MSG(st == BN_ERR_INVALID_POINTER, "freeing %s (%p) returned %s", what, ptr, bn_status_string(st));
    BN_CHECK_MSG(strstr(bn_last_error(), "bn_pool_free") != NULL, "no message for %s: '%s'", what, bn_last_error());
    check_unchanged(pool, &before, 1);
}

BN_TEST(bad_frees_are_refused_and_change_nothing) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    const size_t sizes[6] = {64, 200, 4096, 100 * KIB, 3 * MIB, 5 * MIB};
    live_set L;
    for (int i = 0; i < 6; i++) {
        BN_CHECK_OK(bn_pool_alloc(pool, sizes[i], &L.p[i]));
        BN_CHECK_OK(bn_pool_block_size(pool, L.p[i], &L.bs[i]));
        fill(L.p[i], L.bs[i], 100 + (uint64_t)i);
    }
    /* a freed large block (kept in the large cache, then unmapped by trim) */
    void* gone = NULL;
    BN_CHECK_OK(bn_pool_alloc(pool, 2 * MIB + 12345, &gone));
    BN_CHECK_OK(bn_pool_free(pool, gone));
    /* a freed small block of a class nobody else uses */
    void* freed_small = NULL;
    BN_CHECK_OK(bn_pool_alloc(pool, 900, &freed_small));
    BN_CHECK_OK(bn_pool_free(pool, freed_small));

    char* b = L.p[1]; /* a 256-byte block */
    expect_bad_free(pool, b + 64, "an interior pointer on a 64-byte boundary");
    expect_bad_free(pool, b + 1, "a misaligned pointer");
    expect_bad_free(pool, b + 255, "the last byte of a block");
    expect_bad_free(pool, (char*)L.p[2] + 2048, "the middle of a medium block");
    expect_bad_free(pool, (char*)L.p[4] + 4096, "a page inside a large block");
    expect_bad_free(pool, (char*)L.p[4] + 64, "an interior pointer of a large block");
    expect_bad_free(pool, gone, "a freed (cached) large block");
    expect_bad_free(pool, (char*)gone + 8192, "a pointer into a freed large block");
    expect_bad_free(pool, freed_small, "a block already freed (in the thread cache)");
    void* m = malloc(128);
    expect_bad_free(pool, m, "a malloc'd pointer");
    int on_stack = 0;
    expect_bad_free(pool, &on_stack, "a stack pointer");
    expect_bad_free(pool, (void*)(uintptr_t)64, "a tiny address");
    expect_bad_free(pool, (void*)(~(uintptr_t)0 & ~(uintptr_t)63), "the top of the address space");
    /* an unused page of a segment: past the span of the first block, in the same 4 MiB segment */
    uintptr_t seg = (uintptr_t)L.p[0] & ~(uintptr_t)(4 * MIB - 1);
    expect_bad_free(pool, (void*)(seg + 4 * MIB - 64 * KIB), "an unused page of a segment");
    BN_CHECK_OK(bn_pool_trim(pool));
    expect_bad_free(pool, gone, "an unmapped former large block");
    expect_bad_free(pool, freed_small, "a block of a span released by trim");

    bn_pool* other = NULL;
    BN_CHECK_OK(bn_pool_create(&other));
    void* foreign = NULL;
    BN_CHECK_OK(bn_pool_alloc(other, 64, &foreign));
    expect_bad_free(pool, foreign, "a block of another pool");
    BN_CHECK_EQ_I64(stats_of(other).bad_frees, 0);
    BN_CHECK_OK(bn_pool_free(other, foreign));
    BN_CHECK_OK(bn_pool_destroy(other));

    size_t bs = 0;
    BN_CHECK_STATUS(bn_pool_block_size(pool, b + 64, &bs), BN_ERR_INVALID_POINTER);
    BN_CHECK_STATUS(bn_pool_block_size(pool, m, &bs), BN_ERR_INVALID_POINTER);
    BN_CHECK_EQ_I64(bs, 0);
    free(m);

    /* the live blocks were not touched */
    for (int i = 0; i < 6; i++) {
        BN_CHECK_MSG(verify(L.p[i], L.bs[i], 100 + (uint64_t)i), "live block %d was changed", i);
        BN_CHECK_OK(bn_pool_free(pool, L.p[i]));
    }
    bn_pool_stats s = stats_of(pool);
    BN_CHECK_EQ_I64(s.bad_frees, 17);
    BN_CHECK_EQ_I64(s.bytes_in_use, 0);
    BN_CHECK_EQ_I64(s.allocations, s.frees);
    BN_CHECK_OK(bn_pool_destroy(pool));
}

BN_TEST(double_free_is_refused) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    const size_t sizes[] = {10, 5000, 2 * MIB};
    for (size_t i = 0; i < 3; i++) {
        void *p = NULL, *keep = NULL;
        BN_CHECK_OK(bn_pool_alloc(pool, sizes[i], &p));
        BN_CHECK_OK(bn_pool_alloc(pool, sizes[i], &keep));
        fill(keep, sizes[i] & ~(size_t)7, 7);
        BN_CHECK_OK(bn_pool_free(pool, p));
        bn_pool_stats before = stats_of(pool);
        BN_CHECK_STATUS(bn_pool_free(pool, p), BN_ERR_INVALID_POINTER);
        BN_CHECK(strstr(bn_last_error(), "bn_pool_free") != NULL);
        check_unchanged(pool, &before, 1);
        size_t bs = 0;
        BN_CHECK_STATUS(bn_pool_block_size(pool, p, &bs), BN_ERR_INVALID_POINTER);
        /* the pool still works: the block comes back once, and the other block is intact */
        void* again = NULL;
        BN_CHECK_OK(bn_pool_alloc(pool, sizes[i], &again));
        BN_CHECK(again == p);
        void* another = NULL;
        BN_CHECK_OK(bn_pool_alloc(pool, sizes[i], &another));
        BN_CHECK(another != p && another != keep);
        BN_CHECK(verify(keep, sizes[i] & ~(size_t)7, 7));
        BN_CHECK_OK(bn_pool_free(pool, again));
        BN_CHECK_OK(bn_pool_free(pool, another));
        BN_CHECK_OK(bn_pool_free(pool, keep));
    }
    bn_pool_stats s = stats_of(pool);
    BN_CHECK_EQ_I64(s.bad_frees, 3);
    BN_CHECK_EQ_I64(s.bytes_in_use, 0);
    BN_CHECK_OK(bn_pool_destroy(pool));
}

typedef struct racer_arg {
    bn_pool* pool;
    void** ptrs;
    int n;
    pthread_barrier_t* barrier;
    int ok;
} racer_arg;

static void* racer(void* argp) {
    racer_arg* a = argp;
    pthread_barrier_wait(a->barrier);
    for (int i = 0; i < a->n; i++)
        if (bn_pool_free(a->pool, a->ptrs[i]) == BN_OK) a->ok++;
    return NULL;
}

BN_TEST(racing_double_frees_free_each_block_once) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    enum { N = 3000, T = 4 };
    void** ptrs = calloc(N, sizeof *ptrs);
    for (int i = 0; i < N; i++) BN_CHECK_OK(bn_pool_alloc(pool, 64 + (size_t)(i % 5) * 300, &ptrs[i]));
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, T);
    pthread_t th[T];
    racer_arg args[T];
    for (int t = 0; t < T; t++) {
        args[t] = (racer_arg){pool, ptrs, N, &barrier, 0};
        pthread_create(&th[t], NULL, racer, &args[t]);
    }
    int ok = 0;
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        ok += args[t].ok;
    }
    BN_CHECK_EQ_I64(ok, N);
    bn_pool_stats s = stats_of(pool);
    BN_CHECK_EQ_I64(s.bad_frees, (T - 1) * N);
    BN_CHECK_EQ_I64(s.frees, N);
    BN_CHECK_EQ_I64(s.bytes_in_use, 0);
    pthread_barrier_destroy(&barrier);
    free(ptrs);
    BN_CHECK_OK(bn_pool_destroy(pool));
}

/* ---- leaks ---- */
BN_TEST(leak_report_and_destroy_with_live_blocks) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    char buf[1024];
    size_t needed = 0;
    BN_CHECK_OK(bn_pool_leak_report(pool, buf, sizeof buf, &needed));
    BN_CHECK(strcmp(buf, "no blocks in use") == 0);
    BN_CHECK_EQ_I64(needed, strlen(buf) + 1);

    void *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
    BN_CHECK_OK(bn_pool_alloc(pool, 100, &a));      /* small, 128 */
    BN_CHECK_OK(bn_pool_alloc(pool, 5000, &b));     /* medium, 5120 */
    BN_CHECK_OK(bn_pool_alloc(pool, 3 * MIB, &c));  /* large */
    BN_CHECK_OK(bn_pool_alloc(pool, 64, &d));       /* freed: not a leak */
    BN_CHECK_OK(bn_pool_alloc(pool, 2 * MIB + 1, &e)); /* freed: not a leak */
    BN_CHECK_OK(bn_pool_free(pool, d));
    BN_CHECK_OK(bn_pool_free(pool, e));
    BN_CHECK_OK(bn_pool_leak_report(pool, buf, sizeof buf, &needed));
    BN_CHECK_EQ_I64(needed, strlen(buf) + 1);
    char expect[256];
    snprintf(expect, sizeof expect, "3 blocks (%zu bytes) still in use", (size_t)128 + 5120 + 3 * MIB);
    BN_CHECK_MSG(strstr(buf, expect) != NULL, "report '%s' lacks '%s'", buf, expect);
    BN_CHECK_MSG(strstr(buf, "small 1 (128 bytes)") && strstr(buf, "medium 1 (5120 bytes)") &&
                     strstr(buf, "large 1 (3145728 bytes)"),
                 "report '%s' lacks the per-class figures", buf);
    char addr[32];
    snprintf(addr, sizeof addr, "%p", c);
    BN_CHECK_MSG(strstr(buf, addr) != NULL, "report '%s' lacks the address %s", buf, addr);
    snprintf(addr, sizeof addr, "%p", d);
    BN_CHECK_MSG(strstr(buf, addr) == NULL || d == a, "report '%s' names the freed block %s", buf, addr);

    /* truncation: still NUL-terminated, and needed gives the full length */
    char small[20];
    size_t needed2 = 0;
    BN_CHECK_OK(bn_pool_leak_report(pool, small, sizeof small, &needed2));
    BN_CHECK_EQ_I64(needed2, needed);
    BN_CHECK_EQ_I64(strlen(small), sizeof small - 1);
    BN_CHECK(strncmp(small, buf, sizeof small - 1) == 0);
    BN_CHECK_OK(bn_pool_leak_report(pool, NULL, 0, &needed2));
    BN_CHECK_EQ_I64(needed2, needed);

    bn_clear_error();
    BN_CHECK_STATUS(bn_pool_destroy(pool), BN_ERR_LEAK);
    BN_CHECK_MSG(strstr(bn_last_error(), "3 blocks") != NULL, "destroy's message: '%s'", bn_last_error());
    BN_CHECK(strstr(bn_last_error(), "bn_pool_destroy") != NULL);
}

BN_TEST(leak_report_lists_the_first_addresses) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    void* p[20];
    for (int i = 0; i < 20; i++) BN_CHECK_OK(bn_pool_alloc(pool, 64, &p[i]));
    char buf[2048];
    BN_CHECK_OK(bn_pool_leak_report(pool, buf, sizeof buf, NULL));
    BN_CHECK(strstr(buf, "20 blocks (1280 bytes)") != NULL);
    char addr[32];
    snprintf(addr, sizeof addr, "%p", p[0]);
    BN_CHECK_MSG(strstr(buf, addr) != NULL, "report '%s' lacks %s", buf, addr);
    BN_CHECK(strstr(buf, ", ...") != NULL);
    for (int i = 0; i < 20; i++) BN_CHECK_OK(bn_pool_free(pool, p[i]));
    BN_CHECK_OK(bn_pool_leak_report(pool, buf, sizeof buf, NULL));
    BN_CHECK(strcmp(buf, "no blocks in use") == 0);
    BN_CHECK_OK(bn_pool_destroy(pool));
}

/* ---- trim ---- */
BN_TEST(trim_lowers_bytes_reserved) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    enum { N = 600 };
    void* p[N];
    for (int i = 0; i < N; i++) BN_CHECK_OK(bn_pool_alloc(pool, (size_t)(i % 7 == 0 ? 20000 : 64 + i % 900), &p[i]));
    bn_pool_stats s1 = stats_of(pool);
    BN_CHECK(s1.bytes_reserved >= s1.bytes_in_use && s1.bytes_in_use > 0);
    /* trim with live blocks keeps them intact and releases nothing they need */
    fill(p[0], 64, 5);
    BN_CHECK_OK(bn_pool_trim(pool));
    BN_CHECK(verify(p[0], 64, 5));
    BN_CHECK(stats_of(pool).bytes_reserved >= s1.bytes_in_use);
    /* free half: the spans of freed-up classes can go */
    for (int i = 0; i < N; i += 2) BN_CHECK_OK(bn_pool_free(pool, p[i]));
    for (int i = 1; i < N; i += 2) BN_CHECK_OK(bn_pool_free(pool, p[i]));
    bn_pool_stats s2 = stats_of(pool);
    BN_CHECK_EQ_I64(s2.bytes_in_use, 0);
    BN_CHECK(s2.bytes_reserved > 0);
    BN_CHECK_OK(bn_pool_trim(pool));
    BN_CHECK_EQ_I64(stats_of(pool).bytes_reserved, 0);
    /* and the pool works after trimming */
    void* q = NULL;
    BN_CHECK_OK(bn_pool_alloc(pool, 300, &q));
    fill(q, 320, 9);
    BN_CHECK(stats_of(pool).bytes_reserved > 0);
    BN_CHECK_OK(bn_pool_free(pool, q));
    BN_CHECK_OK(bn_pool_destroy(pool));
}

/* ---- thread exit ---- */
typedef struct exiting_arg {
    bn_pool* pool;
    void* handed_back; /* a block the thread leaves live for the main thread to free */
    int failures;
} exiting_arg;

static void* exiting_thread(void* argp) {
    exiting_arg* a = argp;
    void* p[100];
    for (int i = 0; i < 100; i++)
        if (bn_pool_alloc(a->pool, (size_t)(32 + i * 97), &p[i]) != BN_OK) a->failures++;
    for (int i = 0; i < 100; i++)
        if (bn_pool_free(a->pool, p[i]) != BN_OK) a->failures++;
    /* the cache now holds every block; the thread exits holding them */
    if (bn_pool_alloc(a->pool, 5000, &a->handed_back) != BN_OK) a->failures++;
    return NULL;
}

BN_TEST(exiting_thread_returns_its_cache) {
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    exiting_arg arg = {pool, NULL, 0};
    pthread_t th;
    BN_CHECK(pthread_create(&th, NULL, exiting_thread, &arg) == 0);
    pthread_join(th, NULL);
    BN_CHECK_EQ_I64(arg.failures, 0);
    bn_pool_stats s = stats_of(pool);
    BN_CHECK_EQ_I64(s.allocations, 101);
    BN_CHECK_EQ_I64(s.frees, 100);
    BN_CHECK_EQ_I64(s.bytes_in_use, 5120);
    /* a block allocated on the dead thread can be freed here */
    BN_CHECK_OK(bn_pool_free(pool, arg.handed_back));
    s = stats_of(pool);
    BN_CHECK_EQ_I64(s.bytes_in_use, 0);
    BN_CHECK_EQ_I64(s.allocations, s.frees);
    check_class_sums(pool);
    /* Only blocks out of every cache but ours can be released by our trim: all of them must be. */
    BN_CHECK(s.bytes_reserved > 0);
    BN_CHECK_OK(bn_pool_trim(pool));
    BN_CHECK_EQ_I64(stats_of(pool).bytes_reserved, 0);
    BN_CHECK_OK(bn_pool_destroy(pool));
}

typedef struct late_exit_arg {
    bn_pool* pool;
    pthread_barrier_t* used;      /* the thread has a cache in the pool */
    pthread_barrier_t* destroyed; /* the main thread has destroyed the pool */
    int failures;
} late_exit_arg;

static void* use_then_exit_late(void* argp) {
    late_exit_arg* a = argp;
    void* p = NULL;
    if (bn_pool_alloc(a->pool, 128, &p) != BN_OK || bn_pool_free(a->pool, p) != BN_OK) a->failures++;
    pthread_barrier_wait(a->used);
    pthread_barrier_wait(a->destroyed);
    return NULL; /* exits with a slot naming a destroyed pool */
}

BN_TEST(thread_exits_after_its_pool_was_destroyed) {
    /* The exit hook must leave the destroyed pool's cache alone (ASan would report a use of freed memory), and
     * the destroy must free that cache (LeakSanitizer would report it otherwise). */
    bn_pool* pool = NULL;
    BN_CHECK_OK(bn_pool_create(&pool));
    pthread_barrier_t used, destroyed;
    pthread_barrier_init(&used, NULL, 2);
    pthread_barrier_init(&destroyed, NULL, 2);
    late_exit_arg arg = {pool, &used, &destroyed, 0};
    pthread_t th;
    BN_CHECK(pthread_create(&th, NULL, use_then_exit_late, &arg) == 0);
    pthread_barrier_wait(&used);
    BN_CHECK_EQ_I64(stats_of(pool).allocations, 1);
    BN_CHECK_OK(bn_pool_destroy(pool));
    bn_pool* next = NULL;
    BN_CHECK_OK(bn_pool_create(&next)); /* may well reuse the address */
    pthread_barrier_wait(&destroyed);
    pthread_join(th, NULL);
    BN_CHECK_EQ_I64(arg.failures, 0);
    bn_pool_stats s = stats_of(next);
    BN_CHECK_EQ_I64(s.allocations, 0);
    BN_CHECK_EQ_I64(s.frees, 0);
    pthread_barrier_destroy(&used);
    pthread_barrier_destroy(&destroyed);
    BN_CHECK_OK(bn_pool_destroy(next));
}

/* ---- several pools ---- */
BN_TEST(two_pools_at_once) {
    bn_pool *a = NULL, *b = NULL;
    BN_CHECK_OK(bn_pool_create(&a));
    BN_CHECK_OK(bn_pool_create(&b));
    BN_CHECK(a != b);
    void *pa[50], *pb[50];
    for (int i = 0; i < 50; i++) {
        BN_CHECK_OK(bn_pool_alloc(a, 64, &pa[i]));
        BN_CHECK_OK(bn_pool_alloc(b, 64, &pb[i]));
        fill(pa[i], 64, 1000 + (uint64_t)i);
        fill(pb[i], 64, 2000 + (uint64_t)i);
    }
    for (int i = 0; i < 50; i++)
        for (int j = 0; j < 50; j++) BN_CHECK(pa[i] != pb[j]);
    BN_CHECK_STATUS(bn_pool_free(b, pa[0]), BN_ERR_INVALID_POINTER);
    BN_CHECK_STATUS(bn_pool_free(a, pb[0]), BN_ERR_INVALID_POINTER);
    bn_pool_stats sa = stats_of(a), sb = stats_of(b);
    BN_CHECK_EQ_I64(sa.allocations, 50);
    BN_CHECK_EQ_I64(sb.allocations, 50);
    BN_CHECK_EQ_I64(sa.bad_frees, 1);
    BN_CHECK_EQ_I64(sb.bad_frees, 1);
    for (int i = 0; i < 50; i++) {
        BN_CHECK(verify(pa[i], 64, 1000 + (uint64_t)i));
        BN_CHECK(verify(pb[i], 64, 2000 + (uint64_t)i));
        BN_CHECK_OK(bn_pool_free(a, pa[i]));
    }
    BN_CHECK_EQ_I64(stats_of(a).bytes_in_use, 0);
    BN_CHECK_EQ_I64(stats_of(b).bytes_in_use, 50 * 64);
    BN_CHECK_OK(bn_pool_destroy(a));
    for (int i = 0; i < 50; i++) BN_CHECK_OK(bn_pool_free(b, pb[i]));
    BN_CHECK_OK(bn_pool_destroy(b));
}

BN_TEST(destroy_then_create_does_not_reuse_stale_cache) {
    for (int round = 0; round < 30; round++) {
        bn_pool* pool = NULL;
        BN_CHECK_OK(bn_pool_create(&pool));
        void* p = NULL;
        BN_CHECK_OK(bn_pool_alloc(pool, 64, &p));
        BN_CHECK_OK(bn_pool_free(pool, p));
        BN_CHECK_OK(bn_pool_alloc(pool, 3000, &p));
        BN_CHECK_OK(bn_pool_free(pool, p));
        bn_pool_stats s = stats_of(pool);
        BN_CHECK_EQ_I64(s.allocations, 2);
        BN_CHECK_EQ_I64(s.frees, 2);
        bn_pool_class_stats cs = class_stats_of(pool, BN_SIZE_SMALL);
        BN_CHECK_EQ_I64(cs.cache_misses, 1); /* a fresh cache: the first allocation missed */
        BN_CHECK_OK(bn_pool_destroy(pool));
    }
}

BN_TEST(more_pools_than_thread_slots) {
    enum { N = 13 };
    bn_pool* pools[N];
    void* held[N];
    for (int i = 0; i < N; i++) {
        BN_CHECK_OK(bn_pool_create(&pools[i]));
        BN_CHECK_OK(bn_pool_alloc(pools[i], 100 + (size_t)i, &held[i]));
        fill(held[i], 64, (uint64_t)i);
    }
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < N; i++) {
            void* p = NULL;
            BN_CHECK_OK(bn_pool_alloc(pools[i], 2000, &p));
            BN_CHECK_OK(bn_pool_free(pools[i], p));
        }
    for (int i = 0; i < N; i++) {
        bn_pool_stats s = stats_of(pools[i]);
        BN_CHECK_EQ_I64(s.allocations, 4);
        BN_CHECK_EQ_I64(s.frees, 3);
        BN_CHECK_EQ_I64(s.bytes_in_use, 128);
        BN_CHECK(verify(held[i], 64, (uint64_t)i));
        BN_CHECK_OK(bn_pool_free(pools[i], held[i]));
        BN_CHECK_OK(bn_pool_trim(pools[i]));
        BN_CHECK_EQ_I64(stats_of(pools[i]).bytes_reserved, 0);
        BN_CHECK_OK(bn_pool_destroy(pools[i]));
    }
}

/* ---- the default pool ---- */
static void* get_default(void* out) {
    *(bn_pool**)out = bn_pool_default();
    return NULL;
}

BN_TEST(default_pool_is_one_pool) {
    enum { T = 4 };
    pthread_t th[T];
    bn_pool* seen[T];
    for (int t = 0; t < T; t++) pthread_create(&th[t], NULL, get_default, &seen[t]);
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    bn_pool* d = bn_pool_default();
    BN_CHECK(d != NULL);
    for (int t = 0; t < T; t++) BN_CHECK(seen[t] == d);
    void* p = NULL;
    BN_CHECK_OK(bn_pool_alloc(d, 256, &p));
    BN_CHECK_OK(bn_pool_free(d, p));
    BN_CHECK_STATUS(bn_pool_destroy(d), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_OK(bn_pool_alloc(d, 256, &p)); /* still alive */
    BN_CHECK_OK(bn_pool_free(d, p));
}

/* ---- arguments ---- */
BN_TEST(null_and_zero_size_arguments) {
    bn_pool* pool = NULL;
    BN_CHECK_STATUS(bn_pool_create(NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_OK(bn_pool_create(&pool));
    BN_CHECK_STATUS(bn_pool_destroy(NULL), BN_ERR_INVALID_ARGUMENT);

    void* p = (void*)0x1;
    BN_CHECK_STATUS(bn_pool_alloc(pool, 0, &p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(p == NULL);
    BN_CHECK(strstr(bn_last_error(), "size 0") != NULL);
    p = (void*)0x1;
    BN_CHECK_STATUS(bn_pool_calloc(pool, 0, &p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(p == NULL);
    BN_CHECK_STATUS(bn_pool_alloc(NULL, 16, &p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_pool_alloc(pool, 16, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_pool_alloc(pool, SIZE_MAX, &p), BN_ERR_OUT_OF_MEMORY);
    BN_CHECK(p == NULL);
    BN_CHECK_STATUS(bn_pool_alloc(pool, SIZE_MAX / 2, &p), BN_ERR_OUT_OF_MEMORY);
    BN_CHECK_STATUS(bn_pool_alloc(pool, (size_t)1 << 50, &p), BN_ERR_OUT_OF_MEMORY); /* 1 PiB: the OS refuses */
    BN_CHECK(p == NULL);

    BN_CHECK_STATUS(bn_pool_free(NULL, &p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_pool_free(pool, NULL), BN_ERR_INVALID_ARGUMENT);
    size_t bs = 1;
    BN_CHECK_STATUS(bn_pool_block_size(pool, NULL, &bs), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_pool_block_size(NULL, &bs, &bs), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_pool_block_size(pool, &bs, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_pool_trim(NULL), BN_ERR_INVALID_ARGUMENT);
    bn_pool_stats s;
    BN_CHECK_STATUS(bn_pool_get_stats(NULL, &s), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_pool_get_stats(pool, NULL), BN_ERR_INVALID_ARGUMENT);
    bn_pool_class_stats cs;
    BN_CHECK_STATUS(bn_pool_get_class_stats(pool, (bn_size_class)3, &cs), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "size class 3") != NULL);
    BN_CHECK_STATUS(bn_pool_get_class_stats(pool, (bn_size_class)-1, &cs), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_pool_get_class_stats(pool, BN_SIZE_SMALL, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_pool_get_class_stats(NULL, BN_SIZE_SMALL, &cs), BN_ERR_INVALID_ARGUMENT);
    char buf[8];
    BN_CHECK_STATUS(bn_pool_leak_report(NULL, buf, sizeof buf, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_pool_leak_report(pool, NULL, 8, NULL), BN_ERR_INVALID_ARGUMENT);

    /* none of this counted as an allocation, a free or a bad free */
    s = stats_of(pool);
    BN_CHECK_EQ_I64(s.allocations, 0);
    BN_CHECK_EQ_I64(s.frees, 0);
    BN_CHECK_EQ_I64(s.bad_frees, 0);
    BN_CHECK_EQ_I64(s.bytes_reserved, 0);
    BN_CHECK_OK(bn_pool_destroy(pool));
}
