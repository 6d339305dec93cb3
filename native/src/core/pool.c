/* The memory pool: size-classed slabs with per-thread caches, direct mappings for large blocks, and bad-free
 * detection that never reads the memory a pointer points to.
 *
 * Size classes
 *   Requests below 1 KiB ("small") round up to a multiple of 64 bytes: 16 classes, 64 .. 1024, waste < 64 bytes.
 *   Requests of 1 KiB .. 1 MiB ("medium") round up to one of four classes per power of two (1024, 1280, 1536,
 *   1792, 2048, 2560, ... 1 MiB): 41 classes, waste < 25 %. Larger requests ("large") get a mapping of their own,
 *   rounded up to whole OS pages; from 2 MiB on it is aligned to 2 MiB and marked MADV_HUGEPAGE so transparent
 *   huge pages can back it. Every block starts on a 64-byte boundary.
 *
 * Segments, spans and metadata
 *   Small and medium blocks are carved from spans: 1 .. 64 contiguous 64 KiB pages of a segment, all of one class
 *   (about eight blocks per span or more). A segment is 4 MiB of address space aligned to 4 MiB, so the segment
 *   of an address is `addr & ~(4 MiB - 1)`, and a per-pool radix map takes segment numbers to descriptors.
 *   A descriptor lives apart from its segment and holds, per page, the class and first page of the span that
 *   covers it, and one atomic byte per 64-byte granule that is 1 exactly while a live block starts there.
 *   Freeing finds the descriptor, checks that the pointer is the start of a block of its span, then exchanges
 *   that byte 1 -> 0: a foreign, interior, misaligned or already freed pointer fails one of these checks before
 *   anything changes, and no check reads the memory the pointer points to. Large blocks are found in a hash set
 *   keyed by address. Free blocks are kept in arrays of pointers (thread caches, central lists), never in links
 *   stored inside freed blocks, so a write to freed memory cannot corrupt the pool.
 *   Segments stay reserved until the pool is destroyed; trim decommits their pages (MADV_DONTNEED on Linux,
 *   MEM_DECOMMIT on Windows). Descriptors are therefore never freed or reused for other addresses while the pool
 *   lives, and even a stale free racing with trim only ever reads the state of the addresses it names.
 *
 * Thread caches
 *   Each thread has up to BN_TLS_SLOTS slots keyed by the unique 64-bit id of a pool (ids are never reused, so
 *   the slot of a destroyed pool can never match a new pool created at the same address). A slot points at the
 *   thread's cache for that pool: per class a bounded stack of free blocks. Allocation pops and free pushes with
 *   no lock and no shared atomic read-modify-write except the block's own state byte; an empty stack refills
 *   half its capacity from the class's central list under that class's lock, a full one flushes half back.
 *   Cache objects belong to their pool (it keeps a list), so bn_pool_destroy frees the caches of every thread.
 *   A thread that exits hands its caches back to the pools that are still alive (pthread key destructor; it
 *   checks a process-wide registry of live pool ids under a mutex).
 *
 * Statistics
 *   Counters live in the thread caches (one writer each, relaxed atomic stores, summed by readers under the
 *   pool's list lock) and are folded into the pool's totals when a cache retires, so the fast path touches no
 *   shared counter. bytes_in_use is derived exactly from those counters (block sizes times allocations minus
 *   frees, per class). bytes_peak comes from a shared total to which each thread publishes its balance once it
 *   has drifted by BN_PUBLISH_BYTES (and on every large block, cache retirement and stats call), together with
 *   the highest balance it reached since its last publication: with one thread allocating the peak is exact;
 *   with several it can be off by up to BN_PUBLISH_BYTES per other thread allocating at the same time.
 *   bytes_reserved counts span pages and large mappings (in use or cached), not the pool's own metadata.
 *
 * Lock order: g_lock -> pool->tc_lock -> pool->central[c].lock -> pool->seg_lock. pool->large_lock nests in none.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#  define WIN32_LEAN_AND_MEAN
#  include <windows.h>
#  if defined(_MSC_VER)
#    include <intrin.h> /* _BitScanReverse64 */
#  endif
#else
#  include <pthread.h>
#  include <sys/mman.h>
#  include <unistd.h>
#endif

#include "core/error.h"

/* ---------------------------------------------------------------------------------------------------------
 * Portability: compiler hints, thread-local storage, AddressSanitizer annotations
 * ------------------------------------------------------------------------------------------------------- */
#if defined(__GNUC__) || defined(__clang__)
#  define BN_LIKELY(x) __builtin_expect(!!(x), 1)
#  define BN_UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define BN_NOINLINE __attribute__((noinline))
#  define BN_INLINE static inline __attribute__((always_inline))
#else
#  define BN_LIKELY(x) (x)
#  define BN_UNLIKELY(x) (x)
#  define BN_NOINLINE __declspec(noinline)
#  define BN_INLINE static __forceinline
#endif

#if defined(_MSC_VER)
#  define BN_TLS __declspec(thread)
#else
#  define BN_TLS _Thread_local
#endif

#if defined(__SANITIZE_ADDRESS__)
#  define BN_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define BN_ASAN 1
#  endif
#endif
#if defined(BN_ASAN)
/* Free blocks and unused span tails are poisoned, so ASan reports a use after free or an overrun into them. */
#  include <sanitizer/asan_interface.h>
#  define BN_POISON(p, n) ASAN_POISON_MEMORY_REGION((void*)(p), (n))
#  define BN_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((void*)(p), (n))
#else
#  define BN_POISON(p, n) ((void)(p), (void)(n))
#  define BN_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* ---------------------------------------------------------------------------------------------------------
 * Geometry
 * ------------------------------------------------------------------------------------------------------- */
#define BN_SEG_SHIFT 22 /* 4 MiB segments, aligned to their size */
#define BN_SEG_SIZE ((uintptr_t)1 << BN_SEG_SHIFT)
#define BN_PAGE_SHIFT 16 /* 64 KiB pages: the unit spans are made of */
#define BN_PAGE_SIZE ((size_t)1 << BN_PAGE_SHIFT)
#define BN_SEG_PAGES 64
#define BN_GRANULE_SHIFT 6 /* one state byte per 64-byte granule */
#define BN_SEG_GRANULES (BN_SEG_SIZE >> BN_GRANULE_SHIFT)
#define BN_GRANULES_PER_PAGE (BN_PAGE_SIZE >> BN_GRANULE_SHIFT)

#define BN_SMALL_LIMIT 1024u            /* requests below this are small */
#define BN_MEDIUM_LIMIT (1024u * 1024u) /* requests up to this are medium */
#define BN_N_SMALL 16
#define BN_N_MEDIUM 41
#define BN_N_CLASSES (BN_N_SMALL + BN_N_MEDIUM)
#define BN_LARGE_ROW BN_N_CLASSES /* the statistics row of large blocks */
#define BN_N_ROWS (BN_N_CLASSES + 1)

#define BN_MAGIC_SHIFT 44 /* see bn_class_info.magic */
/* A thread cache holds up to this much per class (at least 2 blocks, at most 128): half a MiB keeps the mixed
 * benchmark pattern (64 live blocks of 16 B .. 64 KiB) at < 1 % refills; 256 KiB gave 2.6 % and made two threads
 * contend on the central lists. Worst case, a thread that churns through every class holds ~30 MiB. */
#define BN_CACHE_BYTES (512u * 1024u)
#define BN_CACHE_MAX_BLOCKS 128u
#define BN_PUBLISH_BYTES ((int64_t)256 * 1024)
#define BN_TLS_SLOTS 8

#define BN_HUGE_SIZE ((size_t)2 << 20)
#define BN_LARGE_CACHE_SLOTS 16
#define BN_LARGE_CACHE_BYTES ((size_t)256 << 20)
/* Larger requests than this are refused up front: no mapping can be that big, and rounding must not wrap. */
#define BN_MAX_REQUEST (SIZE_MAX / 4)

/* Radix map from segment number (address >> 22) to descriptor: 13 + 13 bits cover 48-bit addresses. */
#define BN_RADIX_LEAF_BITS 13
#define BN_RADIX_TOP_BITS 13
#define BN_RADIX_LEAF_MASK (((uintptr_t)1 << BN_RADIX_LEAF_BITS) - 1)

/* ---------------------------------------------------------------------------------------------------------
 * Size classes
 * ------------------------------------------------------------------------------------------------------- */
typedef struct bn_class_info {
    uint32_t size;       /* block size in bytes, a multiple of 64 */
    uint32_t nblocks;    /* blocks per span */
    uint64_t magic;      /* ceil(2^44 / size): for offsets n < 4 MiB, (n * magic) >> 44 == n / size exactly */
    uint32_t span_pages; /* 64 KiB pages per span */
    uint32_t cache_cap;  /* blocks a thread cache holds at most */
    uint32_t batch;      /* blocks moved per refill or flush */
    uint32_t category;   /* bn_size_class */
} bn_class_info;

static bn_class_info g_classes[BN_N_CLASSES];

BN_INLINE unsigned bn_floor_log2(uint64_t x) {
#if defined(_MSC_VER)
    unsigned long i;
    _BitScanReverse64(&i, x);
    return (unsigned)i;
#else
    return 63u - (unsigned)__builtin_clzll(x);
#endif
}

/* 1 <= size <= 1 MiB -> class index. */
BN_INLINE unsigned bn_class_of(size_t size) {
    if (size < BN_SMALL_LIMIT) return (unsigned)((size + 63) >> 6) - 1;
    if (size == BN_SMALL_LIMIT) return BN_N_SMALL;
    /* size in (2^b, 2^(b+1)]: four classes 2^b + k * 2^(b-2), k = 1..4 */
    uint64_t s1 = (uint64_t)size - 1;
    unsigned b = bn_floor_log2(s1);
    unsigned k = (unsigned)(s1 >> (b - 2)) & 3u;
    return BN_N_SMALL + (b - 10) * 4 + k + 1;
}

static void bn_classes_init(void) {
    for (unsigned c = 0; c < BN_N_CLASSES; c++) {
        bn_class_info* ci = &g_classes[c];
        uint64_t size;
        if (c < BN_N_SMALL) {
            size = (uint64_t)(c + 1) * 64;
            ci->category = BN_SIZE_SMALL;
        } else {
            unsigned m = c - BN_N_SMALL;
            if (m == 0) {
                size = 1024;
            } else {
                unsigned b = 10 + (m - 1) / 4, k = (m - 1) % 4;
                size = ((uint64_t)1 << b) + (uint64_t)(k + 1) * ((uint64_t)1 << (b - 2));
            }
            ci->category = BN_SIZE_MEDIUM;
        }
        ci->size = (uint32_t)size;
        ci->magic = (((uint64_t)1 << BN_MAGIC_SHIFT) + size - 1) / size;
        /* About eight blocks per span at least; among up to twice that many pages take the one that wastes the
         * smallest fraction of the span on its tail. */
        uint64_t n0 = (8 * size + BN_PAGE_SIZE - 1) / BN_PAGE_SIZE;
        if (n0 > BN_SEG_PAGES) n0 = BN_SEG_PAGES;
        uint64_t best = n0, best_waste = (n0 * BN_PAGE_SIZE) % size;
        for (uint64_t n = n0 + 1; n <= 2 * n0 && n <= BN_SEG_PAGES; n++) {
            uint64_t waste = (n * BN_PAGE_SIZE) % size;
            if (waste * best < best_waste * n) {
                best = n;
                best_waste = waste;
            }
        }
        ci->span_pages = (uint32_t)best;
        ci->nblocks = (uint32_t)(best * BN_PAGE_SIZE / size);
        uint64_t cap = BN_CACHE_BYTES / size;
        if (cap > BN_CACHE_MAX_BLOCKS) cap = BN_CACHE_MAX_BLOCKS;
        if (cap < 2) cap = 2;
        ci->cache_cap = (uint32_t)cap;
        ci->batch = (uint32_t)(cap / 2);
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * Operating system: mutexes, once-init, thread exit, memory
 * ------------------------------------------------------------------------------------------------------- */
#if defined(_WIN32)
typedef SRWLOCK bn_mutex;
#  define BN_MUTEX_INIT SRWLOCK_INIT
static void bn_mutex_init(bn_mutex* m) { InitializeSRWLock(m); }
static void bn_mutex_destroy(bn_mutex* m) { (void)m; }
static void bn_mutex_lock(bn_mutex* m) { AcquireSRWLockExclusive(m); }
static void bn_mutex_unlock(bn_mutex* m) { ReleaseSRWLockExclusive(m); }
#else
typedef pthread_mutex_t bn_mutex;
#  define BN_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
static void bn_mutex_init(bn_mutex* m) { pthread_mutex_init(m, NULL); }
static void bn_mutex_destroy(bn_mutex* m) { pthread_mutex_destroy(m); }
static void bn_mutex_lock(bn_mutex* m) { pthread_mutex_lock(m); }
static void bn_mutex_unlock(bn_mutex* m) { pthread_mutex_unlock(m); }
#endif

static size_t g_os_page = 4096;

#if defined(_WIN32)
static size_t bn_os_page_size(void) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwPageSize;
}
/* Zeroed, committed memory for metadata. */
static void* bn_os_map(size_t size) { return VirtualAlloc(NULL, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE); }
static void bn_os_unmap(void* p, size_t size) {
    (void)size;
    VirtualFree(p, 0, MEM_RELEASE);
}
/* Address space aligned to `align`, not yet committed. */
static void* bn_os_reserve_aligned(size_t size, size_t align) {
    for (int attempt = 0; attempt < 16; attempt++) {
        char* p = VirtualAlloc(NULL, size + align, MEM_RESERVE, PAGE_NOACCESS);
        if (!p) return NULL;
        uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
        VirtualFree(p, 0, MEM_RELEASE);
        void* q = VirtualAlloc((void*)a, size, MEM_RESERVE, PAGE_NOACCESS);
        if (q) return q;
    }
    return NULL;
}
static int bn_os_commit(void* p, size_t size) { return VirtualAlloc(p, size, MEM_COMMIT, PAGE_READWRITE) != NULL; }
static void bn_os_decommit(void* p, size_t size) { VirtualFree(p, size, MEM_DECOMMIT); }
static void bn_os_release(void* p, size_t size) {
    (void)size;
    VirtualFree(p, 0, MEM_RELEASE);
}
/* A large block: zeroed and committed. */
static void* bn_os_map_large(size_t size) { return bn_os_map(size); }
#else
static size_t bn_os_page_size(void) {
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}
static void* bn_os_map(size_t size) {
    void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
static void bn_os_unmap(void* p, size_t size) { munmap(p, size); }
static void* bn_os_reserve_aligned(size_t size, size_t align) {
    size_t span = size + align;
    char* p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uintptr_t a = (uintptr_t)p, aligned = (a + align - 1) & ~(uintptr_t)(align - 1);
    if (aligned > a) munmap(p, aligned - a);
    if (a + span > aligned + size) munmap((void*)(aligned + size), a + span - (aligned + size));
    return (void*)aligned;
}
/* Linux commits anonymous pages on first touch. */
static int bn_os_commit(void* p, size_t size) {
    (void)p;
    (void)size;
    return 1;
}
static void bn_os_decommit(void* p, size_t size) { madvise(p, size, MADV_DONTNEED); }
static void bn_os_release(void* p, size_t size) { munmap(p, size); }
static void* bn_os_map_large(size_t size) {
    if (size < BN_HUGE_SIZE) return bn_os_map(size);
    /* Aligned to 2 MiB so that every whole 2 MiB of the block can be a transparent huge page. */
    void* p = bn_os_reserve_aligned(size, BN_HUGE_SIZE);
#  if defined(MADV_HUGEPAGE)
    if (p) madvise(p, size, MADV_HUGEPAGE);
#  endif
    return p;
}
#endif

/* ---------------------------------------------------------------------------------------------------------
 * Data structures
 * ------------------------------------------------------------------------------------------------------- */
typedef struct bn_segment {
    uintptr_t base;
    uint64_t used_pages; /* bit per page that belongs to a span; under seg_lock */
    /* per page: 0 if in no span, else (class + 1) | (first page of the span << 8); written under seg_lock */
    atomic_uint_least32_t page_map[BN_SEG_PAGES];
    /* at a span's first page: blocks of the span not in the central list (live or in thread caches); guarded
     * by the lock of the span's class */
    uint32_t span_used[BN_SEG_PAGES];
    atomic_uchar state[BN_SEG_GRANULES]; /* 1 while a live block starts at this granule */
} bn_segment;

typedef struct bn_radix_leaf {
    _Atomic(bn_segment*) seg[(size_t)1 << BN_RADIX_LEAF_BITS];
} bn_radix_leaf;

typedef struct bn_central {
    _Alignas(64) bn_mutex lock;
    void** blocks; /* free blocks of the class not in any thread cache; a stack */
    size_t n;
    size_t cap;   /* allocated length of blocks */
    size_t total; /* blocks in all spans of the class: blocks never needs more room than this */
} bn_central;

typedef struct bn_large_entry {
    uintptr_t addr; /* 0: empty slot, 1: deleted slot (blocks are page aligned, so neither is an address) */
    size_t size;
} bn_large_entry;
#define BN_LH_EMPTY ((uintptr_t)0)
#define BN_LH_DELETED ((uintptr_t)1)

/* Counters of one thread cache for one row (a class, or large blocks). Single writer. */
typedef struct bn_row {
    atomic_uint_least64_t allocs, frees, misses;
} bn_row;

/* Counters of retired caches and of the rare allocations made without a cache; under tc_lock. */
typedef struct bn_totals {
    uint64_t allocs[BN_N_ROWS], frees[BN_N_ROWS], misses[BN_N_ROWS];
    uint64_t large_bytes_alloc, large_bytes_freed;
} bn_totals;

typedef struct bn_bin {
    uint32_t count, cap;
    void** items; /* items[count - 1] is the next block handed out */
} bn_bin;

typedef struct bn_tcache {
    struct bn_tcache *prev, *next; /* in the pool's list; under tc_lock */
    int64_t pend;                  /* bytes allocated minus freed since the last publication; owner only */
    int64_t pend_max;              /* the highest pend since the last publication; owner only */
    bn_bin bins[BN_N_CLASSES];
    bn_row rows[BN_N_ROWS];
    atomic_uint_least64_t large_bytes_alloc, large_bytes_freed;
    void* storage[]; /* the items of every bin */
} bn_tcache;

struct bn_pool {
    uint64_t id;
    int is_default;
    atomic_int_least64_t published;   /* bytes in use as published by the threads (see Statistics) */
    atomic_uint_least64_t peak;       /* highest published bytes in use */
    atomic_uint_least64_t reserved;   /* span pages + large mappings */
    atomic_uint_least64_t bad_frees;

    bn_mutex tc_lock;
    bn_tcache* tcaches;
    bn_totals retired;

    bn_mutex seg_lock;
    bn_segment** segs;
    size_t n_segs, cap_segs;

    bn_mutex large_lock;
    bn_large_entry* lh; /* live large blocks: open addressing, linear probing */
    size_t lh_cap, lh_live, lh_deleted;
    bn_large_entry lcache[BN_LARGE_CACHE_SLOTS]; /* freed large blocks kept for reuse, oldest first */
    size_t n_lcache, lcache_bytes;

    bn_central central[BN_N_CLASSES];
    _Atomic(bn_radix_leaf*) radix[(size_t)1 << BN_RADIX_TOP_BITS];
};

/* ---------------------------------------------------------------------------------------------------------
 * Process-wide state: one-time init, live pool registry, thread slots
 * ------------------------------------------------------------------------------------------------------- */
typedef struct bn_live_pool {
    uint64_t id;
    bn_pool* pool;
} bn_live_pool;

typedef struct bn_tls_slot {
    uint64_t pool_id; /* 0: empty */
    bn_tcache* tc;
} bn_tls_slot;

static bn_mutex g_lock = BN_MUTEX_INIT; /* guards the registry and every thread's slot retirement */
static bn_live_pool* g_live;
static size_t g_n_live, g_cap_live;
static atomic_uint_least64_t g_next_id = 1;
static int g_init_ok;
static bn_pool* g_default;

static BN_TLS bn_tls_slot tl_slots[BN_TLS_SLOTS]; /* most recently used first */
static BN_TLS int tl_exit_hook;                   /* the thread-exit hook is armed for this thread */

static void bn_tls_exit(void* arg);

#if defined(_WIN32)
static INIT_ONCE g_init_once = INIT_ONCE_STATIC_INIT;
static INIT_ONCE g_default_once = INIT_ONCE_STATIC_INIT;
static DWORD g_fls = FLS_OUT_OF_INDEXES;
static void NTAPI bn_fls_exit(void* arg) { bn_tls_exit(arg); }
static int bn_exit_key_create(void) {
    g_fls = FlsAlloc(bn_fls_exit);
    return g_fls != FLS_OUT_OF_INDEXES;
}
static void bn_exit_hook_arm(void) { FlsSetValue(g_fls, (void*)tl_slots); }
#else
static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static pthread_once_t g_default_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_exit_key;
static int bn_exit_key_create(void) { return pthread_key_create(&g_exit_key, bn_tls_exit) == 0; }
static void bn_exit_hook_arm(void) { pthread_setspecific(g_exit_key, (void*)tl_slots); }
#endif

static void bn_global_init(void) {
    bn_classes_init();
    g_os_page = bn_os_page_size();
    g_init_ok = bn_exit_key_create();
}

#if defined(_WIN32)
static BOOL CALLBACK bn_global_init_cb(PINIT_ONCE once, PVOID param, PVOID* ctx) {
    (void)once, (void)param, (void)ctx;
    bn_global_init();
    return TRUE;
}
static void bn_global_init_once(void) { InitOnceExecuteOnce(&g_init_once, bn_global_init_cb, NULL, NULL); }
#else
static void bn_global_init_once(void) { pthread_once(&g_init_once, bn_global_init); }
#endif

/* Under g_lock. */
static bn_pool* bn_live_find(uint64_t id) {
    for (size_t i = 0; i < g_n_live; i++)
        if (g_live[i].id == id) return g_live[i].pool;
    return NULL;
}

/* ---------------------------------------------------------------------------------------------------------
 * Counters
 * ------------------------------------------------------------------------------------------------------- */
/* Single-writer increment: readers may see the old or the new value, never a torn one. */
BN_INLINE void bn_bump(atomic_uint_least64_t* c, uint64_t v) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static void bn_peak_raise(bn_pool* p, uint64_t v) {
    uint64_t cur = atomic_load_explicit(&p->peak, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(&p->peak, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
}

/* Adds this cache's balance to the shared total and raises the peak by the highest point it reached. */
BN_NOINLINE static void bn_publish(bn_pool* p, bn_tcache* tc) {
    int64_t before = atomic_fetch_add_explicit(&p->published, tc->pend, memory_order_relaxed);
    int64_t high = before + tc->pend_max;
    if (high > 0) bn_peak_raise(p, (uint64_t)high);
    tc->pend = 0;
    tc->pend_max = 0;
}

/* Bytes allocated without a cache go straight to the shared total. */
static void bn_publish_direct(bn_pool* p, int64_t delta) {
    int64_t after = atomic_fetch_add_explicit(&p->published, delta, memory_order_relaxed) + delta;
    if (after > 0) bn_peak_raise(p, (uint64_t)after);
}

/* ---------------------------------------------------------------------------------------------------------
 * Segments and spans
 * ------------------------------------------------------------------------------------------------------- */
BN_INLINE bn_segment* bn_seg_lookup(const bn_pool* p, uintptr_t a) {
    uintptr_t idx = a >> BN_SEG_SHIFT;
    if (idx >> (BN_RADIX_TOP_BITS + BN_RADIX_LEAF_BITS)) return NULL;
    bn_radix_leaf* leaf = atomic_load_explicit(&p->radix[idx >> BN_RADIX_LEAF_BITS], memory_order_acquire);
    if (!leaf) return NULL;
    return atomic_load_explicit(&leaf->seg[idx & BN_RADIX_LEAF_MASK], memory_order_acquire);
}

/* The segment and first page of the span holding a block this pool handed out. */
BN_INLINE uint32_t* bn_span_used_of(const bn_pool* p, const void* block) {
    uintptr_t a = (uintptr_t)block;
    bn_segment* s = bn_seg_lookup(p, a);
    uint32_t pm = atomic_load_explicit(&s->page_map[(a & (BN_SEG_SIZE - 1)) >> BN_PAGE_SHIFT],
                                       memory_order_relaxed);
    return &s->span_used[pm >> 8];
}

/* A new 4 MiB segment, entered in the radix map. Under seg_lock. */
static bn_segment* bn_seg_reserve(bn_pool* p) {
    if (p->n_segs == p->cap_segs) {
        size_t cap = p->cap_segs ? 2 * p->cap_segs : 8;
        bn_segment** segs = realloc(p->segs, cap * sizeof *segs);
        if (!segs) return NULL;
        p->segs = segs;
        p->cap_segs = cap;
    }
    uintptr_t base = (uintptr_t)bn_os_reserve_aligned(BN_SEG_SIZE, BN_SEG_SIZE);
    if (!base) return NULL;
    uintptr_t idx = base >> BN_SEG_SHIFT;
    if (idx >> (BN_RADIX_TOP_BITS + BN_RADIX_LEAF_BITS)) { /* beyond 48-bit addresses: not representable */
        bn_os_release((void*)base, BN_SEG_SIZE);
        return NULL;
    }
    bn_segment* s = bn_os_map(sizeof *s); /* zeroed: no pages used, every state byte 0 */
    if (!s) {
        bn_os_release((void*)base, BN_SEG_SIZE);
        return NULL;
    }
    _Atomic(bn_radix_leaf*)* slot = &p->radix[idx >> BN_RADIX_LEAF_BITS];
    bn_radix_leaf* leaf = atomic_load_explicit(slot, memory_order_relaxed);
    if (!leaf) {
        leaf = bn_os_map(sizeof *leaf);
        if (!leaf) {
            bn_os_unmap(s, sizeof *s);
            bn_os_release((void*)base, BN_SEG_SIZE);
            return NULL;
        }
        atomic_store_explicit(slot, leaf, memory_order_release);
    }
    s->base = base;
    BN_POISON(base, BN_SEG_SIZE);
    atomic_store_explicit(&leaf->seg[idx & BN_RADIX_LEAF_MASK], s, memory_order_release);
    p->segs[p->n_segs++] = s;
    return s;
}

/* First page of a run of n free pages in `used`, or -1. */
static int bn_find_run(uint64_t used, unsigned n) {
    uint64_t mask = n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1);
    for (unsigned start = 0; start + n <= BN_SEG_PAGES; start++)
        if (((used >> start) & mask) == 0) return (int)start;
    return -1;
}

/* Carves a span for class c and pushes its blocks on the central list. Under central[c].lock. */
static bn_status bn_span_new(bn_pool* p, unsigned c) {
    const bn_class_info* ci = &g_classes[c];
    bn_central* ce = &p->central[c];
    if (ce->cap < ce->total + ci->nblocks) {
        size_t cap = 2 * ce->cap;
        if (cap < ce->total + ci->nblocks) cap = ce->total + ci->nblocks;
        void** blocks = realloc(ce->blocks, cap * sizeof *blocks);
        if (!blocks) return bn_fail(BN_ERR_OUT_OF_MEMORY, "bn_pool_alloc: out of memory for the free list of the "
                                                          "%u-byte class", (unsigned)ci->size);
        ce->blocks = blocks;
        ce->cap = cap;
    }
    size_t span_bytes = (size_t)ci->span_pages * BN_PAGE_SIZE;
    bn_mutex_lock(&p->seg_lock);
    bn_segment* seg = NULL;
    int first = -1;
    for (size_t i = 0; i < p->n_segs && first < 0; i++) {
        first = bn_find_run(p->segs[i]->used_pages, ci->span_pages);
        seg = p->segs[i];
    }
    if (first < 0) {
        seg = bn_seg_reserve(p);
        first = 0;
    }
    if (!seg || !bn_os_commit((void*)(seg->base + ((uintptr_t)first << BN_PAGE_SHIFT)), span_bytes)) {
        bn_mutex_unlock(&p->seg_lock);
        return bn_fail(BN_ERR_OUT_OF_MEMORY, "bn_pool_alloc: the OS refused %zu bytes for a span of %u-byte blocks",
                       span_bytes, (unsigned)ci->size);
    }
    uint64_t mask = ci->span_pages >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << ci->span_pages) - 1);
    seg->used_pages |= mask << first;
    seg->span_used[first] = 0;
    for (unsigned i = 0; i < ci->span_pages; i++)
        atomic_store_explicit(&seg->page_map[first + (int)i], (uint32_t)(c + 1) | ((uint32_t)first << 8),
                              memory_order_release);
    bn_mutex_unlock(&p->seg_lock);
    atomic_fetch_add_explicit(&p->reserved, span_bytes, memory_order_relaxed);
    /* Pushed from the top down so the lowest address is handed out first. */
    uintptr_t start = seg->base + ((uintptr_t)first << BN_PAGE_SHIFT);
    for (uint32_t i = ci->nblocks; i-- > 0;) ce->blocks[ce->n++] = (void*)(start + (uintptr_t)i * ci->size);
    ce->total += ci->nblocks;
    return BN_OK;
}

/* Returns a span's pages to the segment and their memory to the OS. Under central[c].lock and seg_lock; every
 * block of the span is free and out of the central list. */
static void bn_span_release(bn_pool* p, bn_segment* seg, unsigned first, const bn_class_info* ci) {
    size_t span_bytes = (size_t)ci->span_pages * BN_PAGE_SIZE;
    void* start = (void*)(seg->base + ((uintptr_t)first << BN_PAGE_SHIFT));
    for (unsigned i = 0; i < ci->span_pages; i++)
        atomic_store_explicit(&seg->page_map[first + i], 0, memory_order_release);
    uint64_t mask = ci->span_pages >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << ci->span_pages) - 1);
    seg->used_pages &= ~(mask << first);
    seg->span_used[first] = 0;
    BN_UNPOISON(start, span_bytes);
    bn_os_decommit(start, span_bytes);
    BN_POISON(start, span_bytes);
    atomic_fetch_sub_explicit(&p->reserved, span_bytes, memory_order_relaxed);
}

/* ---------------------------------------------------------------------------------------------------------
 * Central lists
 * ------------------------------------------------------------------------------------------------------- */
/* Moves up to `want` free blocks of class c into dst (dst[n-1] is the lowest address). Returns how many; 0 with
 * the error set when the OS refuses memory. */
static uint32_t bn_central_take(bn_pool* p, unsigned c, void** dst, uint32_t want) {
    bn_central* ce = &p->central[c];
    bn_mutex_lock(&ce->lock);
    if (ce->n == 0 && bn_span_new(p, c) != BN_OK) {
        bn_mutex_unlock(&ce->lock);
        return 0;
    }
    uint32_t got = ce->n < want ? (uint32_t)ce->n : want;
    ce->n -= got;
    memcpy(dst, ce->blocks + ce->n, got * sizeof *dst);
    for (uint32_t i = 0; i < got; i++) *bn_span_used_of(p, dst[i]) += 1;
    bn_mutex_unlock(&ce->lock);
    return got;
}

static void bn_central_put(bn_pool* p, unsigned c, void* const* src, uint32_t n) {
    bn_central* ce = &p->central[c];
    bn_mutex_lock(&ce->lock);
    for (uint32_t i = 0; i < n; i++) {
        *bn_span_used_of(p, src[i]) -= 1;
        ce->blocks[ce->n++] = src[i];
    }
    bn_mutex_unlock(&ce->lock);
}

/* Releases every span of class c whose blocks are all in the central list. */
static void bn_trim_class(bn_pool* p, unsigned c) {
    const bn_class_info* ci = &g_classes[c];
    bn_central* ce = &p->central[c];
    const uint32_t releasing = UINT32_MAX;
    bn_mutex_lock(&ce->lock);
    bn_mutex_lock(&p->seg_lock);
    size_t n_release = 0;
    for (size_t i = 0; i < p->n_segs; i++) {
        bn_segment* s = p->segs[i];
        for (unsigned pg = 0; pg < BN_SEG_PAGES; pg++) {
            uint32_t pm = atomic_load_explicit(&s->page_map[pg], memory_order_relaxed);
            if (pm == (uint32_t)(c + 1) + (pg << 8) && s->span_used[pg] == 0) {
                s->span_used[pg] = releasing;
                n_release++;
            }
        }
    }
    if (n_release) {
        size_t kept = 0;
        for (size_t i = 0; i < ce->n; i++)
            if (*bn_span_used_of(p, ce->blocks[i]) != releasing) ce->blocks[kept++] = ce->blocks[i];
        ce->n = kept;
        for (size_t i = 0; i < p->n_segs; i++) {
            bn_segment* s = p->segs[i];
            for (unsigned pg = 0; pg < BN_SEG_PAGES; pg++) {
                uint32_t pm = atomic_load_explicit(&s->page_map[pg], memory_order_relaxed);
                if (pm == (uint32_t)(c + 1) + (pg << 8) && s->span_used[pg] == releasing)
                    bn_span_release(p, s, pg, ci);
            }
        }
        ce->total -= n_release * ci->nblocks;
    }
    bn_mutex_unlock(&p->seg_lock);
    bn_mutex_unlock(&ce->lock);
}

/* ---------------------------------------------------------------------------------------------------------
 * Thread caches
 * ------------------------------------------------------------------------------------------------------- */
static bn_tcache* bn_tcache_create(bn_pool* p) {
    size_t items = 0;
    for (unsigned c = 0; c < BN_N_CLASSES; c++) items += g_classes[c].cache_cap;
    bn_tcache* tc = calloc(1, sizeof *tc + items * sizeof(void*));
    if (!tc) return NULL;
    void** next = tc->storage;
    for (unsigned c = 0; c < BN_N_CLASSES; c++) {
        tc->bins[c].cap = g_classes[c].cache_cap;
        tc->bins[c].items = next;
        next += g_classes[c].cache_cap;
    }
    bn_mutex_lock(&p->tc_lock);
    tc->next = p->tcaches;
    if (p->tcaches) p->tcaches->prev = tc;
    p->tcaches = tc;
    bn_mutex_unlock(&p->tc_lock);
    return tc;
}

static void bn_tcache_flush_all(bn_pool* p, bn_tcache* tc) {
    for (unsigned c = 0; c < BN_N_CLASSES; c++) {
        bn_bin* b = &tc->bins[c];
        if (b->count) bn_central_put(p, c, (void* const*)b->items, b->count);
        b->count = 0;
    }
}

/* Under tc_lock. */
static void bn_totals_add(bn_totals* t, const bn_tcache* tc) {
    for (unsigned r = 0; r < BN_N_ROWS; r++) {
        t->allocs[r] += atomic_load_explicit(&tc->rows[r].allocs, memory_order_relaxed);
        t->frees[r] += atomic_load_explicit(&tc->rows[r].frees, memory_order_relaxed);
        t->misses[r] += atomic_load_explicit(&tc->rows[r].misses, memory_order_relaxed);
    }
    t->large_bytes_alloc += atomic_load_explicit(&tc->large_bytes_alloc, memory_order_relaxed);
    t->large_bytes_freed += atomic_load_explicit(&tc->large_bytes_freed, memory_order_relaxed);
}

/* Hands a cache's blocks and counters back to its (live) pool and frees it. Called by the cache's thread. */
static void bn_tcache_retire(bn_pool* p, bn_tcache* tc) {
    bn_tcache_flush_all(p, tc);
    bn_publish(p, tc);
    bn_mutex_lock(&p->tc_lock);
    bn_totals_add(&p->retired, tc);
    if (tc->prev) tc->prev->next = tc->next;
    else p->tcaches = tc->next;
    if (tc->next) tc->next->prev = tc->prev;
    bn_mutex_unlock(&p->tc_lock);
    free(tc);
}

/* Thread exit: caches go back to the pools still alive; those of destroyed pools were freed with them. */
static void bn_tls_exit(void* arg) {
    (void)arg;
    bn_mutex_lock(&g_lock);
    for (int i = 0; i < BN_TLS_SLOTS; i++) {
        if (!tl_slots[i].pool_id) continue;
        bn_pool* p = bn_live_find(tl_slots[i].pool_id);
        if (p) bn_tcache_retire(p, tl_slots[i].tc);
        tl_slots[i].pool_id = 0;
        tl_slots[i].tc = NULL;
    }
    tl_exit_hook = 0;
    bn_mutex_unlock(&g_lock);
}

/* This thread's cache for p if it has one. */
static bn_tcache* bn_tls_find(const bn_pool* p) {
    for (int i = 0; i < BN_TLS_SLOTS; i++)
        if (tl_slots[i].pool_id == p->id) return tl_slots[i].tc;
    return NULL;
}

static void bn_tls_to_front(int i) {
    bn_tls_slot s = tl_slots[i];
    memmove(&tl_slots[1], &tl_slots[0], (size_t)i * sizeof s);
    tl_slots[0] = s;
}

/* Finds or makes this thread's cache for p and moves its slot to the front. NULL only when out of memory. */
BN_NOINLINE static bn_tcache* bn_tls_cache_slow(bn_pool* p) {
    for (int i = 1; i < BN_TLS_SLOTS; i++)
        if (tl_slots[i].pool_id == p->id) {
            bn_tls_to_front(i);
            return tl_slots[0].tc;
        }
    bn_mutex_lock(&g_lock);
    if (!tl_exit_hook) {
        bn_exit_hook_arm();
        tl_exit_hook = 1;
    }
    int free_slot = -1;
    for (int i = 0; i < BN_TLS_SLOTS; i++) {
        if (tl_slots[i].pool_id && !bn_live_find(tl_slots[i].pool_id)) { /* its pool was destroyed */
            tl_slots[i].pool_id = 0;
            tl_slots[i].tc = NULL;
        }
        if (!tl_slots[i].pool_id && free_slot < 0) free_slot = i;
    }
    bn_tcache* tc = bn_tcache_create(p);
    if (!tc) {
        bn_mutex_unlock(&g_lock);
        return NULL;
    }
    if (free_slot < 0) { /* every slot serves a live pool: the least recently used one gives its cache back */
        free_slot = BN_TLS_SLOTS - 1;
        bn_tcache_retire(bn_live_find(tl_slots[free_slot].pool_id), tl_slots[free_slot].tc);
    }
    tl_slots[free_slot].pool_id = p->id;
    tl_slots[free_slot].tc = tc;
    bn_tls_to_front(free_slot);
    bn_mutex_unlock(&g_lock);
    return tc;
}

/* One thread-local address computation per call: in the shared library (global-dynamic TLS model) each one is
 * a call to __tls_get_addr; executables get it relaxed to a %fs-relative load. */
BN_INLINE bn_tcache* bn_tls_cache(bn_pool* p) {
    const bn_tls_slot* front = &tl_slots[0];
#if defined(__GNUC__) || defined(__clang__)
    __asm__("" : "+r"(front)); /* keeps GCC from recomputing the address (a second __tls_get_addr call) */
#endif
    if (BN_LIKELY(front->pool_id == p->id)) return front->tc;
    return bn_tls_cache_slow(p);
}

/* Refills an empty bin from the central list. */
BN_NOINLINE static bn_status bn_tcache_refill(bn_pool* p, bn_tcache* tc, unsigned c) {
    bn_bin* b = &tc->bins[c];
    uint32_t got = bn_central_take(p, c, b->items, g_classes[c].batch);
    if (!got) return BN_ERR_OUT_OF_MEMORY;
    b->count = got;
    bn_bump(&tc->rows[c].misses, 1);
    return BN_OK;
}

/* Moves the older half of a full bin to the central list. */
BN_NOINLINE static void bn_tcache_flush(bn_pool* p, bn_tcache* tc, unsigned c) {
    bn_bin* b = &tc->bins[c];
    uint32_t n = g_classes[c].batch;
    bn_central_put(p, c, (void* const*)b->items, n);
    memmove(b->items, b->items + n, (b->count - n) * sizeof(void*));
    b->count -= n;
}

/* ---------------------------------------------------------------------------------------------------------
 * Large blocks
 * ------------------------------------------------------------------------------------------------------- */
static size_t bn_lh_home(uintptr_t a, size_t cap) {
    uint64_t h = (uint64_t)(a >> 12) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* Index of addr in the set, or SIZE_MAX. Under large_lock. */
static size_t bn_lh_find(const bn_pool* p, uintptr_t a) {
    if (!p->lh_cap || a == BN_LH_EMPTY || a == BN_LH_DELETED) return SIZE_MAX;
    for (size_t i = bn_lh_home(a, p->lh_cap), n = 0; n < p->lh_cap; i = (i + 1) & (p->lh_cap - 1), n++) {
        if (p->lh[i].addr == a) return i;
        if (p->lh[i].addr == BN_LH_EMPTY) return SIZE_MAX;
    }
    return SIZE_MAX;
}

/* Under large_lock. 0 when out of memory. */
static int bn_lh_insert(bn_pool* p, uintptr_t a, size_t size) {
    if ((p->lh_live + p->lh_deleted + 1) * 2 > p->lh_cap) {
        size_t cap = 16;
        while ((p->lh_live + 1) * 4 > cap) cap *= 2; /* at most a quarter full after rehashing */
        bn_large_entry* t = calloc(cap, sizeof *t);
        if (!t) return 0;
        for (size_t i = 0; i < p->lh_cap; i++) {
            uintptr_t k = p->lh[i].addr;
            if (k == BN_LH_EMPTY || k == BN_LH_DELETED) continue;
            size_t j = bn_lh_home(k, cap);
            while (t[j].addr != BN_LH_EMPTY) j = (j + 1) & (cap - 1);
            t[j] = p->lh[i];
        }
        free(p->lh);
        p->lh = t;
        p->lh_cap = cap;
        p->lh_deleted = 0;
    }
    size_t i = bn_lh_home(a, p->lh_cap);
    while (p->lh[i].addr != BN_LH_EMPTY && p->lh[i].addr != BN_LH_DELETED) i = (i + 1) & (p->lh_cap - 1);
    if (p->lh[i].addr == BN_LH_DELETED) p->lh_deleted--;
    p->lh[i].addr = a;
    p->lh[i].size = size;
    p->lh_live++;
    return 1;
}

static void bn_large_unmap(bn_pool* p, uintptr_t a, size_t size) {
    BN_UNPOISON(a, size);
    bn_os_release((void*)a, size);
    atomic_fetch_sub_explicit(&p->reserved, size, memory_order_relaxed);
}

/* Under large_lock: drops cache entry i, keeping the order oldest first. */
static bn_large_entry bn_lcache_take(bn_pool* p, size_t i) {
    bn_large_entry e = p->lcache[i];
    memmove(&p->lcache[i], &p->lcache[i + 1], (p->n_lcache - i - 1) * sizeof e);
    p->n_lcache--;
    p->lcache_bytes -= e.size;
    return e;
}

static bn_status bn_large_alloc(bn_pool* p, size_t size, void** out, size_t* block, int* fresh) {
    size_t need = (size + g_os_page - 1) & ~(g_os_page - 1);
    uintptr_t a = 0;
    size_t got = 0;
    /* A cached block serves a request it exceeds by at most a quarter. */
    bn_mutex_lock(&p->large_lock);
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < p->n_lcache; i++)
        if (p->lcache[i].size >= need && p->lcache[i].size - need <= need / 4 &&
            (best == SIZE_MAX || p->lcache[i].size < p->lcache[best].size))
            best = i;
    if (best != SIZE_MAX) {
        bn_large_entry e = bn_lcache_take(p, best);
        a = e.addr;
        got = e.size;
    }
    bn_mutex_unlock(&p->large_lock);
    *fresh = a == 0;
    if (!a) {
        a = (uintptr_t)bn_os_map_large(need);
        if (!a) return bn_fail(BN_ERR_OUT_OF_MEMORY, "bn_pool_alloc: the OS refused a mapping of %zu bytes", need);
        got = need;
        atomic_fetch_add_explicit(&p->reserved, got, memory_order_relaxed);
    } else {
        BN_UNPOISON(a, got);
    }
    bn_mutex_lock(&p->large_lock);
    int ok = bn_lh_insert(p, a, got);
    bn_mutex_unlock(&p->large_lock);
    if (!ok) {
        bn_large_unmap(p, a, got);
        return bn_fail(BN_ERR_OUT_OF_MEMORY, "bn_pool_alloc: out of memory for the table of large blocks");
    }
    *out = (void*)a;
    *block = got;
    return BN_OK;
}

/* Counts a large allocation or free in the calling thread's cache, or in the pool totals without one. */
static void bn_large_count(bn_pool* p, size_t bytes, int is_alloc, int miss) {
    bn_tcache* tc = bn_tls_cache(p);
    if (tc) {
        if (is_alloc) {
            bn_bump(&tc->rows[BN_LARGE_ROW].allocs, 1);
            if (miss) bn_bump(&tc->rows[BN_LARGE_ROW].misses, 1);
            bn_bump(&tc->large_bytes_alloc, bytes);
            tc->pend += (int64_t)bytes;
            if (tc->pend > tc->pend_max) tc->pend_max = tc->pend;
        } else {
            bn_bump(&tc->rows[BN_LARGE_ROW].frees, 1);
            bn_bump(&tc->large_bytes_freed, bytes);
            tc->pend -= (int64_t)bytes;
        }
        bn_publish(p, tc);
        return;
    }
    bn_mutex_lock(&p->tc_lock);
    if (is_alloc) {
        p->retired.allocs[BN_LARGE_ROW]++;
        p->retired.misses[BN_LARGE_ROW] += miss ? 1u : 0u;
        p->retired.large_bytes_alloc += bytes;
    } else {
        p->retired.frees[BN_LARGE_ROW]++;
        p->retired.large_bytes_freed += bytes;
    }
    bn_mutex_unlock(&p->tc_lock);
    bn_publish_direct(p, is_alloc ? (int64_t)bytes : -(int64_t)bytes);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
BN_NOINLINE static bn_status bn_bad_free(bn_pool* p, const char* fmt, ...) {
    atomic_fetch_add_explicit(&p->bad_frees, 1, memory_order_relaxed);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bn_fail(BN_ERR_INVALID_POINTER, "bn_pool_free: %s", msg);
}

BN_NOINLINE static bn_status bn_large_free(bn_pool* p, void* ptr) {
    uintptr_t a = (uintptr_t)ptr;
    bn_mutex_lock(&p->large_lock);
    size_t i = bn_lh_find(p, a);
    if (i == SIZE_MAX) {
        bn_mutex_unlock(&p->large_lock);
        return bn_bad_free(p, "%p was not handed out by this pool, or was already freed", ptr);
    }
    size_t size = p->lh[i].size;
    p->lh[i].addr = BN_LH_DELETED;
    p->lh_live--;
    p->lh_deleted++;
    /* Keep it for reuse; the oldest cached blocks make room. Blocks too big for the cache are unmapped. */
    int keep = size <= BN_LARGE_CACHE_BYTES;
    while (keep && (p->n_lcache == BN_LARGE_CACHE_SLOTS || p->lcache_bytes + size > BN_LARGE_CACHE_BYTES)) {
        bn_large_entry e = bn_lcache_take(p, 0);
        bn_large_unmap(p, e.addr, e.size);
    }
    if (keep) {
        BN_POISON(a, size);
        p->lcache[p->n_lcache].addr = a;
        p->lcache[p->n_lcache].size = size;
        p->n_lcache++;
        p->lcache_bytes += size;
    } else {
        bn_large_unmap(p, a, size);
    }
    bn_mutex_unlock(&p->large_lock);
    bn_large_count(p, size, 0, 0);
    return BN_OK;
}

/* ---------------------------------------------------------------------------------------------------------
 * Locating a pointer
 * ------------------------------------------------------------------------------------------------------- */
typedef enum bn_where {
    BN_WHERE_NO_SEGMENT, /* not in any segment of this pool: maybe a large block */
    BN_WHERE_NO_SPAN,    /* in a segment page that holds no blocks */
    BN_WHERE_INTERIOR,   /* in a span, but not at the start of a block */
    BN_WHERE_BLOCK       /* the start of a block (live or not: see its state byte) */
} bn_where;

typedef struct bn_loc {
    bn_segment* seg;
    unsigned cls;
    uintptr_t off;  /* offset of the pointer in its segment */
    uintptr_t span; /* offset of its span in the segment */
} bn_loc;

/* Reads only the pool's own metadata, never the memory at a. */
BN_INLINE bn_where bn_locate(const bn_pool* p, uintptr_t a, bn_loc* loc) {
    bn_segment* s = bn_seg_lookup(p, a);
    if (BN_UNLIKELY(!s)) return BN_WHERE_NO_SEGMENT;
    uintptr_t off = a & (BN_SEG_SIZE - 1);
    uint32_t pm = atomic_load_explicit(&s->page_map[off >> BN_PAGE_SHIFT], memory_order_acquire);
    loc->seg = s;
    loc->off = off;
    if (BN_UNLIKELY(pm == 0)) return BN_WHERE_NO_SPAN;
    unsigned c = (pm & 0xffu) - 1;
    const bn_class_info* ci = &g_classes[c];
    uintptr_t span = (uintptr_t)(pm >> 8) << BN_PAGE_SHIFT;
    uint64_t rel = off - span;
    uint64_t q = (rel * ci->magic) >> BN_MAGIC_SHIFT;
    loc->cls = c;
    loc->span = span;
    if (BN_UNLIKELY(q * ci->size != rel || q >= ci->nblocks)) return BN_WHERE_INTERIOR;
    return BN_WHERE_BLOCK;
}

BN_NOINLINE static bn_status bn_bad_slab_free(bn_pool* p, void* ptr, bn_where where, const bn_loc* loc) {
    if (where == BN_WHERE_NO_SPAN)
        return bn_bad_free(p, "%p lies in memory of this pool that holds no block: it was never handed out", ptr);
    const bn_class_info* ci = &g_classes[loc->cls];
    if (where == BN_WHERE_INTERIOR) {
        uint64_t q = (loc->off - loc->span) / ci->size;
        if (q >= ci->nblocks)
            return bn_bad_free(p, "%p lies past the last %u-byte block of its slab: it was never handed out", ptr,
                               (unsigned)ci->size);
        uintptr_t start = loc->seg->base + loc->span + (uintptr_t)(q * ci->size);
        return bn_bad_free(p, "%p points %llu bytes into the %u-byte block at %p; only the start of a block can be "
                              "freed", ptr, (unsigned long long)((uintptr_t)ptr - start), (unsigned)ci->size,
                           (void*)start);
    }
    return bn_bad_free(p, "%p (a %u-byte block) is not in use: freed twice, or never handed out", ptr,
                       (unsigned)ci->size);
}

/* ---------------------------------------------------------------------------------------------------------
 * Small and medium blocks
 * ------------------------------------------------------------------------------------------------------- */
/* An allocation made without a thread cache (the thread could not get memory for one). */
BN_NOINLINE static bn_status bn_uncached_alloc(bn_pool* p, unsigned c, void** ptr) {
    if (!bn_central_take(p, c, ptr, 1)) return BN_ERR_OUT_OF_MEMORY;
    bn_mutex_lock(&p->tc_lock);
    p->retired.allocs[c]++;
    p->retired.misses[c]++;
    bn_mutex_unlock(&p->tc_lock);
    bn_publish_direct(p, g_classes[c].size);
    return BN_OK;
}

BN_NOINLINE static void bn_uncached_free(bn_pool* p, unsigned c, void* ptr) {
    bn_central_put(p, c, &ptr, 1);
    bn_mutex_lock(&p->tc_lock);
    p->retired.frees[c]++;
    bn_mutex_unlock(&p->tc_lock);
    bn_publish_direct(p, -(int64_t)g_classes[c].size);
}

BN_INLINE bn_status bn_slab_alloc(bn_pool* p, size_t size, void** out, size_t* block) {
    unsigned c = bn_class_of(size);
    const uint32_t bsize = g_classes[c].size;
    bn_tcache* tc = bn_tls_cache(p);
    void* ptr;
    if (BN_LIKELY(tc != NULL)) {
        bn_bin* b = &tc->bins[c];
        if (BN_UNLIKELY(b->count == 0)) {
            bn_status st = bn_tcache_refill(p, tc, c);
            if (st != BN_OK) return st;
        }
        ptr = b->items[--b->count];
        bn_bump(&tc->rows[c].allocs, 1);
        tc->pend += bsize;
        if (tc->pend > tc->pend_max) {
            tc->pend_max = tc->pend;
            if (BN_UNLIKELY(tc->pend_max >= BN_PUBLISH_BYTES)) bn_publish(p, tc);
        }
    } else {
        bn_status st = bn_uncached_alloc(p, c, &ptr);
        if (st != BN_OK) return st;
    }
    uintptr_t a = (uintptr_t)ptr;
    bn_segment* s = bn_seg_lookup(p, a);
    atomic_store_explicit(&s->state[(a & (BN_SEG_SIZE - 1)) >> BN_GRANULE_SHIFT], 1, memory_order_relaxed);
    BN_UNPOISON(ptr, bsize);
    *out = ptr;
    *block = bsize;
    return BN_OK;
}

/* ---------------------------------------------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------------------------------------------- */
/* The pool object comes from the C heap, not from a mapping: LeakSanitizer then sees the heap objects it points
 * to (thread caches, free-list arrays) as reachable while the pool lives, the default pool included. It is
 * cache-line aligned for the central lists. */
static bn_pool* bn_pool_struct_alloc(void) {
    size_t size = (sizeof(bn_pool) + 63) & ~(size_t)63;
#if defined(_WIN32)
    bn_pool* p = _aligned_malloc(size, 64);
#else
    bn_pool* p = aligned_alloc(64, size);
#endif
    if (p) memset(p, 0, size);
    return p;
}

static void bn_pool_struct_free(bn_pool* p) {
#if defined(_WIN32)
    _aligned_free(p);
#else
    free(p);
#endif
}

bn_status bn_pool_create(bn_pool** out) {
    BN_REQUIRE_ARG(out != NULL, "bn_pool_create: out must not be null");
    *out = NULL;
    bn_global_init_once();
    if (!g_init_ok) return bn_fail(BN_ERR_INTERNAL, "bn_pool_create: could not create the thread-exit key");
    bn_pool* p = bn_pool_struct_alloc();
    if (!p) return bn_fail(BN_ERR_OUT_OF_MEMORY, "bn_pool_create: out of memory");
    p->id = atomic_fetch_add(&g_next_id, 1);
    bn_mutex_init(&p->tc_lock);
    bn_mutex_init(&p->seg_lock);
    bn_mutex_init(&p->large_lock);
    for (unsigned c = 0; c < BN_N_CLASSES; c++) bn_mutex_init(&p->central[c].lock);
    bn_mutex_lock(&g_lock);
    if (g_n_live == g_cap_live) {
        size_t cap = g_cap_live ? 2 * g_cap_live : 8;
        bn_live_pool* live = realloc(g_live, cap * sizeof *live);
        if (!live) {
            bn_mutex_unlock(&g_lock);
            for (unsigned c = 0; c < BN_N_CLASSES; c++) bn_mutex_destroy(&p->central[c].lock);
            bn_mutex_destroy(&p->tc_lock);
            bn_mutex_destroy(&p->seg_lock);
            bn_mutex_destroy(&p->large_lock);
            bn_pool_struct_free(p);
            return bn_fail(BN_ERR_OUT_OF_MEMORY, "bn_pool_create: out of memory");
        }
        g_live = live;
        g_cap_live = cap;
    }
    g_live[g_n_live].id = p->id;
    g_live[g_n_live].pool = p;
    g_n_live++;
    bn_mutex_unlock(&g_lock);
    *out = p;
    return BN_OK;
}

static void bn_default_init(void) {
    bn_pool* p = NULL;
    if (bn_pool_create(&p) == BN_OK) {
        p->is_default = 1;
        g_default = p;
    }
}

#if defined(_WIN32)
static BOOL CALLBACK bn_default_init_cb(PINIT_ONCE once, PVOID param, PVOID* ctx) {
    (void)once, (void)param, (void)ctx;
    bn_default_init();
    return TRUE;
}
bn_pool* bn_pool_default(void) {
    InitOnceExecuteOnce(&g_default_once, bn_default_init_cb, NULL, NULL);
    return g_default;
}
#else
bn_pool* bn_pool_default(void) {
    pthread_once(&g_default_once, bn_default_init);
    return g_default;
}
#endif

typedef struct bn_leak_summary {
    uint64_t count[3], bytes[3];
    uintptr_t first[8];
    size_t first_size[8];
    unsigned n_first;
} bn_leak_summary;

static void bn_leak_note(bn_leak_summary* L, unsigned category, uintptr_t a, size_t size) {
    L->count[category]++;
    L->bytes[category] += size;
    if (L->n_first < 8) {
        L->first[L->n_first] = a;
        L->first_size[L->n_first] = size;
        L->n_first++;
    }
}

/* Scans the state bytes of every segment and the large set: the blocks handed out and not freed. */
static void bn_leak_scan(bn_pool* p, bn_leak_summary* L) {
    memset(L, 0, sizeof *L);
    bn_mutex_lock(&p->seg_lock);
    for (size_t i = 0; i < p->n_segs; i++) {
        bn_segment* s = p->segs[i];
        for (unsigned pg = 0; pg < BN_SEG_PAGES; pg++) {
            uint32_t pm = atomic_load_explicit(&s->page_map[pg], memory_order_relaxed);
            if (!pm) continue;
            const bn_class_info* ci = &g_classes[(pm & 0xffu) - 1];
            for (size_t g = (size_t)pg * BN_GRANULES_PER_PAGE; g < (size_t)(pg + 1) * BN_GRANULES_PER_PAGE; g++)
                if (atomic_load_explicit(&s->state[g], memory_order_relaxed))
                    bn_leak_note(L, ci->category, s->base + (g << BN_GRANULE_SHIFT), ci->size);
        }
    }
    bn_mutex_unlock(&p->seg_lock);
    bn_mutex_lock(&p->large_lock);
    for (size_t i = 0; i < p->lh_cap; i++)
        if (p->lh[i].addr != BN_LH_EMPTY && p->lh[i].addr != BN_LH_DELETED)
            bn_leak_note(L, BN_SIZE_LARGE, p->lh[i].addr, p->lh[i].size);
    bn_mutex_unlock(&p->large_lock);
}

typedef struct bn_strbuf {
    char* buf;
    size_t cap, len; /* len counts what the whole text needs, even past cap */
} bn_strbuf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void bn_sb_printf(bn_strbuf* sb, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sb->len < sb->cap ? sb->buf + sb->len : NULL, sb->len < sb->cap ? sb->cap - sb->len : 0,
                      fmt, ap);
    va_end(ap);
    if (n > 0) sb->len += (size_t)n;
}

/* Writes the report into buf (NUL-terminated, truncated to cap) and returns its full length. */
static size_t bn_leak_format(const bn_leak_summary* L, char* buf, size_t cap) {
    static const char* names[3] = {"small", "medium", "large"};
    bn_strbuf sb = {buf, cap, 0};
    uint64_t n = L->count[0] + L->count[1] + L->count[2];
    uint64_t bytes = L->bytes[0] + L->bytes[1] + L->bytes[2];
    if (n == 0) {
        bn_sb_printf(&sb, "no blocks in use");
    } else {
        bn_sb_printf(&sb, "%llu block%s (%llu bytes) still in use:", (unsigned long long)n, n == 1 ? "" : "s",
                     (unsigned long long)bytes);
        for (int k = 0; k < 3; k++)
            bn_sb_printf(&sb, "%s %s %llu (%llu bytes)", k ? "," : "", names[k], (unsigned long long)L->count[k],
                         (unsigned long long)L->bytes[k]);
        bn_sb_printf(&sb, "; first:");
        for (unsigned i = 0; i < L->n_first; i++)
            bn_sb_printf(&sb, "%s %p (%zu bytes)", i ? "," : "", (void*)L->first[i], L->first_size[i]);
        if (n > L->n_first) bn_sb_printf(&sb, ", ...");
    }
    if (cap) buf[sb.len < cap ? sb.len : cap - 1] = '\0';
    return sb.len;
}

bn_status bn_pool_destroy(bn_pool* pool) {
    BN_REQUIRE_ARG(pool != NULL, "bn_pool_destroy: pool must not be null");
    BN_REQUIRE_ARG(!pool->is_default, "bn_pool_destroy: the default pool (bn_pool_default) is never destroyed");
    /* Once the id is out of the registry, no exiting thread touches this pool's caches. */
    bn_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_n_live; i++)
        if (g_live[i].id == pool->id) {
            g_live[i] = g_live[--g_n_live];
            break;
        }
    bn_mutex_unlock(&g_lock);
    for (int i = 0; i < BN_TLS_SLOTS; i++)
        if (tl_slots[i].pool_id == pool->id) {
            tl_slots[i].pool_id = 0;
            tl_slots[i].tc = NULL;
        }

    bn_leak_summary leaks;
    bn_leak_scan(pool, &leaks);
    char report[768];
    bn_leak_format(&leaks, report, sizeof report);
    int leaked = leaks.count[0] + leaks.count[1] + leaks.count[2] > 0;

    for (bn_tcache *tc = pool->tcaches, *next; tc; tc = next) {
        next = tc->next;
        free(tc);
    }
    for (size_t i = 0; i < pool->n_segs; i++) {
        bn_segment* s = pool->segs[i];
        BN_UNPOISON(s->base, BN_SEG_SIZE);
        bn_os_release((void*)s->base, BN_SEG_SIZE);
        bn_os_unmap(s, sizeof *s);
    }
    free(pool->segs);
    for (size_t i = 0; i < ((size_t)1 << BN_RADIX_TOP_BITS); i++) {
        bn_radix_leaf* leaf = atomic_load_explicit(&pool->radix[i], memory_order_relaxed);
        if (leaf) bn_os_unmap(leaf, sizeof *leaf);
    }
    for (size_t i = 0; i < pool->lh_cap; i++)
        if (pool->lh[i].addr != BN_LH_EMPTY && pool->lh[i].addr != BN_LH_DELETED)
            bn_large_unmap(pool, pool->lh[i].addr, pool->lh[i].size);
    for (size_t i = 0; i < pool->n_lcache; i++) bn_large_unmap(pool, pool->lcache[i].addr, pool->lcache[i].size);
    free(pool->lh);
    for (unsigned c = 0; c < BN_N_CLASSES; c++) {
        free(pool->central[c].blocks);
        bn_mutex_destroy(&pool->central[c].lock);
    }
    bn_mutex_destroy(&pool->tc_lock);
    bn_mutex_destroy(&pool->seg_lock);
    bn_mutex_destroy(&pool->large_lock);
    bn_pool_struct_free(pool);
    if (leaked) return bn_fail(BN_ERR_LEAK, "bn_pool_destroy: %s", report);
    return BN_OK;
}

BN_INLINE bn_status bn_alloc_impl(bn_pool* pool, size_t size, void** out, size_t* block, int* fresh,
                                  const char* fn) {
    if (BN_UNLIKELY(out == NULL)) return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: out must not be null", fn);
    *out = NULL;
    if (BN_UNLIKELY(pool == NULL)) return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: pool must not be null", fn);
    if (BN_UNLIKELY(size == 0)) return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: size 0 is refused", fn);
    if (BN_LIKELY(size <= BN_MEDIUM_LIMIT)) {
        *fresh = 0;
        return bn_slab_alloc(pool, size, out, block);
    }
    if (size > BN_MAX_REQUEST)
        return bn_fail(BN_ERR_OUT_OF_MEMORY, "%s: %zu bytes is more than any mapping can hold", fn, size);
    bn_status st = bn_large_alloc(pool, size, out, block, fresh);
    if (st == BN_OK) bn_large_count(pool, *block, 1, *fresh);
    return st;
}

bn_status bn_pool_alloc(bn_pool* pool, size_t size, void** out) {
    size_t block = 0;
    int fresh = 0;
    return bn_alloc_impl(pool, size, out, &block, &fresh, "bn_pool_alloc");
}

bn_status bn_pool_calloc(bn_pool* pool, size_t size, void** out) {
    size_t block = 0;
    int fresh = 0;
    bn_status st = bn_alloc_impl(pool, size, out, &block, &fresh, "bn_pool_calloc");
    if (st == BN_OK && !fresh) memset(*out, 0, block); /* fresh mappings are zero already */
    return st;
}

bn_status bn_pool_free(bn_pool* pool, void* ptr) {
    if (BN_UNLIKELY(pool == NULL)) return bn_fail(BN_ERR_INVALID_ARGUMENT, "bn_pool_free: pool must not be null");
    if (BN_UNLIKELY(ptr == NULL)) return bn_fail(BN_ERR_INVALID_ARGUMENT, "bn_pool_free: ptr must not be null");
    bn_loc loc;
    bn_where where = bn_locate(pool, (uintptr_t)ptr, &loc);
    if (BN_UNLIKELY(where == BN_WHERE_NO_SEGMENT)) return bn_large_free(pool, ptr);
    if (BN_UNLIKELY(where != BN_WHERE_BLOCK)) return bn_bad_slab_free(pool, ptr, where, &loc);
    /* The exchange decides: of two frees of one block, racing or not, exactly one sees 1. */
    if (BN_UNLIKELY(atomic_exchange_explicit(&loc.seg->state[loc.off >> BN_GRANULE_SHIFT], 0,
                                             memory_order_relaxed) != 1))
        return bn_bad_slab_free(pool, ptr, BN_WHERE_BLOCK, &loc);
    const unsigned c = loc.cls;
    const uint32_t bsize = g_classes[c].size;
    BN_POISON(ptr, bsize);
    bn_tcache* tc = bn_tls_cache(pool);
    if (BN_LIKELY(tc != NULL)) {
        bn_bin* b = &tc->bins[c];
        if (BN_UNLIKELY(b->count == b->cap)) bn_tcache_flush(pool, tc, c);
        b->items[b->count++] = ptr;
        bn_bump(&tc->rows[c].frees, 1);
        tc->pend -= bsize;
        if (BN_UNLIKELY(tc->pend <= -BN_PUBLISH_BYTES)) bn_publish(pool, tc);
    } else {
        bn_uncached_free(pool, c, ptr);
    }
    return BN_OK;
}

bn_status bn_pool_block_size(bn_pool* pool, const void* ptr, size_t* out) {
    BN_REQUIRE_ARG(out != NULL, "bn_pool_block_size: out must not be null");
    *out = 0;
    BN_REQUIRE_ARG(pool != NULL, "bn_pool_block_size: pool must not be null");
    BN_REQUIRE_ARG(ptr != NULL, "bn_pool_block_size: ptr must not be null");
    bn_loc loc;
    bn_where where = bn_locate(pool, (uintptr_t)ptr, &loc);
    if (where == BN_WHERE_BLOCK) {
        if (!atomic_load_explicit(&loc.seg->state[loc.off >> BN_GRANULE_SHIFT], memory_order_relaxed))
            return bn_fail(BN_ERR_INVALID_POINTER, "bn_pool_block_size: %p is not in use (freed, or never handed out)",
                           ptr);
        *out = g_classes[loc.cls].size;
        return BN_OK;
    }
    if (where == BN_WHERE_NO_SEGMENT) {
        bn_mutex_lock(&pool->large_lock);
        size_t i = bn_lh_find(pool, (uintptr_t)ptr);
        if (i != SIZE_MAX) *out = pool->lh[i].size;
        bn_mutex_unlock(&pool->large_lock);
        if (i != SIZE_MAX) return BN_OK;
    }
    return bn_fail(BN_ERR_INVALID_POINTER, "bn_pool_block_size: %p is not the start of a block in use in this pool",
                   ptr);
}

bn_status bn_pool_trim(bn_pool* pool) {
    BN_REQUIRE_ARG(pool != NULL, "bn_pool_trim: pool must not be null");
    bn_tcache* tc = bn_tls_find(pool);
    if (tc) {
        bn_tcache_flush_all(pool, tc);
        bn_publish(pool, tc);
    }
    for (unsigned c = 0; c < BN_N_CLASSES; c++) bn_trim_class(pool, c);
    bn_mutex_lock(&pool->large_lock);
    while (pool->n_lcache) {
        bn_large_entry e = bn_lcache_take(pool, pool->n_lcache - 1);
        bn_large_unmap(pool, e.addr, e.size);
    }
    bn_mutex_unlock(&pool->large_lock);
    return BN_OK;
}

/* Sums every cache's counters and the retired totals. Frees are read before allocations so that a free
 * counted always has its allocation counted too. */
static void bn_sum_totals(bn_pool* p, bn_totals* t) {
    bn_tcache* own = bn_tls_find(p);
    if (own) bn_publish(p, own);
    memset(t, 0, sizeof *t);
    bn_mutex_lock(&p->tc_lock);
    for (unsigned r = 0; r < BN_N_ROWS; r++) t->frees[r] = p->retired.frees[r];
    t->large_bytes_freed = p->retired.large_bytes_freed;
    for (const bn_tcache* tc = p->tcaches; tc; tc = tc->next) {
        for (unsigned r = 0; r < BN_N_ROWS; r++)
            t->frees[r] += atomic_load_explicit(&tc->rows[r].frees, memory_order_relaxed);
        t->large_bytes_freed += atomic_load_explicit(&tc->large_bytes_freed, memory_order_relaxed);
    }
    atomic_thread_fence(memory_order_acquire);
    for (unsigned r = 0; r < BN_N_ROWS; r++) {
        t->allocs[r] = p->retired.allocs[r];
        t->misses[r] = p->retired.misses[r];
    }
    t->large_bytes_alloc = p->retired.large_bytes_alloc;
    for (const bn_tcache* tc = p->tcaches; tc; tc = tc->next) {
        for (unsigned r = 0; r < BN_N_ROWS; r++) {
            t->allocs[r] += atomic_load_explicit(&tc->rows[r].allocs, memory_order_relaxed);
            t->misses[r] += atomic_load_explicit(&tc->rows[r].misses, memory_order_relaxed);
        }
        t->large_bytes_alloc += atomic_load_explicit(&tc->large_bytes_alloc, memory_order_relaxed);
    }
    bn_mutex_unlock(&p->tc_lock);
}

static uint64_t bn_row_bytes(const bn_totals* t, unsigned r) {
    if (r == BN_LARGE_ROW)
        return t->large_bytes_alloc > t->large_bytes_freed ? t->large_bytes_alloc - t->large_bytes_freed : 0;
    return t->allocs[r] > t->frees[r] ? (t->allocs[r] - t->frees[r]) * g_classes[r].size : 0;
}

static unsigned bn_row_category(unsigned r) { return r == BN_LARGE_ROW ? BN_SIZE_LARGE : g_classes[r].category; }

bn_status bn_pool_get_stats(bn_pool* pool, bn_pool_stats* out) {
    BN_REQUIRE_ARG(out != NULL, "bn_pool_get_stats: out must not be null");
    memset(out, 0, sizeof *out);
    BN_REQUIRE_ARG(pool != NULL, "bn_pool_get_stats: pool must not be null");
    bn_totals t;
    bn_sum_totals(pool, &t);
    for (unsigned r = 0; r < BN_N_ROWS; r++) {
        out->allocations += t.allocs[r];
        out->frees += t.frees[r];
        out->bytes_in_use += bn_row_bytes(&t, r);
    }
    bn_peak_raise(pool, out->bytes_in_use);
    out->bytes_peak = atomic_load_explicit(&pool->peak, memory_order_relaxed);
    out->bytes_reserved = atomic_load_explicit(&pool->reserved, memory_order_relaxed);
    out->bad_frees = atomic_load_explicit(&pool->bad_frees, memory_order_relaxed);
    return BN_OK;
}

bn_status bn_pool_get_class_stats(bn_pool* pool, bn_size_class size_class, bn_pool_class_stats* out) {
    BN_REQUIRE_ARG(out != NULL, "bn_pool_get_class_stats: out must not be null");
    memset(out, 0, sizeof *out);
    BN_REQUIRE_ARG(pool != NULL, "bn_pool_get_class_stats: pool must not be null");
    BN_REQUIRE_ARG(size_class == BN_SIZE_SMALL || size_class == BN_SIZE_MEDIUM || size_class == BN_SIZE_LARGE,
                   "bn_pool_get_class_stats: unknown size class %d", (int)size_class);
    bn_totals t;
    bn_sum_totals(pool, &t);
    for (unsigned r = 0; r < BN_N_ROWS; r++) {
        if (bn_row_category(r) != (unsigned)size_class) continue;
        out->allocations += t.allocs[r];
        out->frees += t.frees[r];
        out->cache_misses += t.misses[r];
        out->cache_hits += t.allocs[r] > t.misses[r] ? t.allocs[r] - t.misses[r] : 0;
        out->bytes_in_use += bn_row_bytes(&t, r);
    }
    return BN_OK;
}

bn_status bn_pool_leak_report(bn_pool* pool, char* buf, size_t cap, size_t* needed) {
    if (needed) *needed = 0;
    BN_REQUIRE_ARG(pool != NULL, "bn_pool_leak_report: pool must not be null");
    BN_REQUIRE_ARG(buf != NULL || cap == 0, "bn_pool_leak_report: buf is null but cap is %zu", cap);
    bn_leak_summary leaks;
    bn_leak_scan(pool, &leaks);
    size_t len = bn_leak_format(&leaks, buf, cap);
    if (needed) *needed = len + 1;
    return BN_OK;
}
