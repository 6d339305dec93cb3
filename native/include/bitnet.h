/*
 * bitnet.h — the one public header of the BitNetNative C library.
 *
 * Contract (see README.md, "The C ABI"):
 *  - opaque handles only; every object has an explicit create/destroy pair;
 *  - every call that can fail returns bn_status; on failure bn_last_error() gives a thread-local message
 *    naming the problem (it is left unchanged by calls that succeed);
 *  - plain C types only: fixed-width integers, float, pointers, and the few plain structs below whose
 *    layout is spelled out here (the bindings generator reads them from this file);
 *  - BN_VERSION / bn_version() say which ABI a caller links against.
 */
#ifndef BITNET_H
#define BITNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(BN_BUILDING_LIBRARY)
#    define BN_API __declspec(dllexport)
#  else
#    define BN_API
#  endif
#else
#  define BN_API __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------------------------- */
#define BN_VERSION_MAJOR 0
#define BN_VERSION_MINOR 1
#define BN_VERSION_PATCH 0
/* major * 10000 + minor * 100 + patch */
#define BN_VERSION (BN_VERSION_MAJOR * 10000 + BN_VERSION_MINOR * 100 + BN_VERSION_PATCH)

/* The version of the library actually loaded, encoded as BN_VERSION is. */
BN_API uint32_t bn_version(void);
/* The same as "major.minor.patch"; a static string. */
BN_API const char* bn_version_string(void);

/* ---------------------------------------------------------------------------------------------------------
 * Status and errors
 * ------------------------------------------------------------------------------------------------------- */
typedef enum bn_status {
    BN_OK = 0,
    BN_ERR_INVALID_ARGUMENT = 1, /* a null pointer, a negative or impossible size, an unknown enum value */
    BN_ERR_OUT_OF_MEMORY = 2,    /* the OS or the pool could not provide memory */
    BN_ERR_INVALID_POINTER = 3,  /* a pointer this object never handed out, or one already freed */
    BN_ERR_UNSUPPORTED = 4,      /* valid request this build or CPU cannot serve */
    BN_ERR_SHAPE = 5,            /* lengths or shapes that do not fit together (e.g. not a multiple of a block) */
    BN_ERR_NUMERIC = 6,          /* NaN or infinity where finite values are required */
    BN_ERR_BUFFER_TOO_SMALL = 7, /* an output buffer shorter than the result */
    BN_ERR_FORMAT = 8,           /* bytes that do not follow the format they claim to be */
    BN_ERR_IO = 9,               /* the operating system refused a file operation */
    BN_ERR_LEAK = 10,            /* an object was destroyed while memory it handed out was still in use */
    BN_ERR_INTERNAL = 11         /* a bug in this library: please report it */
} bn_status;

/* A static English name for a status ("invalid argument", ...). Unknown values give "unknown status". */
BN_API const char* bn_status_string(bn_status status);
/* The message of the last failing call on this thread ("" if none). Valid until the next failing call
 * on this thread. */
BN_API const char* bn_last_error(void);
/* Forget the last error on this thread. */
BN_API void bn_clear_error(void);

/* ---------------------------------------------------------------------------------------------------------
 * CPU features and kernel dispatch
 * ------------------------------------------------------------------------------------------------------- */
typedef enum bn_cpu_feature {
    BN_CPU_SSE41 = 1 << 0,
    BN_CPU_AVX = 1 << 1,
    BN_CPU_AVX2 = 1 << 2,
    BN_CPU_FMA = 1 << 3,
    BN_CPU_F16C = 1 << 4,
    BN_CPU_AVX512F = 1 << 5,
    BN_CPU_AVX512BW = 1 << 6,
    BN_CPU_AVX512VL = 1 << 7,
    BN_CPU_AVX512VNNI = 1 << 8,
    BN_CPU_AVXVNNI = 1 << 9,
    BN_CPU_AVX512BF16 = 1 << 10,
    BN_CPU_NEON = 1 << 16,
    BN_CPU_DOTPROD = 1 << 17,
    BN_CPU_FP16 = 1 << 18
} bn_cpu_feature;

/* Bits of bn_cpu_feature that this CPU and OS support (the OS must save the vector state). */
BN_API uint64_t bn_cpu_features(void);
/* Bits of bn_cpu_feature that kernel dispatch is currently allowed to use (all supported ones by default). */
BN_API uint64_t bn_cpu_features_enabled(void);
/* Restrict dispatch to the supported features in `mask` and choose every kernel again (0 = scalar only,
 * UINT64_MAX = everything supported). For tests and benchmarks; not safe while other threads run kernels. */
BN_API bn_status bn_cpu_set_enabled(uint64_t mask);
/* A static, human-readable name of the CPU ("AMD EPYC ...", "unknown"). */
BN_API const char* bn_cpu_name(void);

/* The kernel table: which implementation dispatch chose for each operation. */
BN_API int32_t bn_kernel_count(void);
/* op and impl are static strings (e.g. "quantize_act_i8", "avx2"). */
BN_API bn_status bn_kernel_info(int32_t index, const char** op, const char** impl);

/* ---------------------------------------------------------------------------------------------------------
 * Thread pool
 * ------------------------------------------------------------------------------------------------------- */
typedef struct bn_threadpool bn_threadpool;

/* Work over [begin, end) of a parallel range; worker is 0 for the calling thread, 1..n-1 for pool threads. */
typedef void (*bn_parallel_fn)(void* ctx, int64_t begin, int64_t end, int32_t worker);

/* n_threads counts the calling thread: n_threads - 1 threads are started. 0 means one per core. */
BN_API bn_status bn_threadpool_create(int32_t n_threads, bn_threadpool** out);
BN_API bn_status bn_threadpool_destroy(bn_threadpool* pool);
BN_API int32_t bn_threadpool_size(const bn_threadpool* pool);
/* Runs fn over [0, n) split into chunks of at least `grain` items (0 = choose), on all threads of the pool,
 * and returns when every chunk is done. A call made from inside fn runs serially on the calling thread.
 * Calls from several outside threads are serialised. */
BN_API bn_status bn_threadpool_parallel_for(bn_threadpool* pool, int64_t n, int64_t grain, bn_parallel_fn fn,
                                            void* ctx);
/* The number of logical cores the OS reports. */
BN_API int32_t bn_cpu_count(void);

/* ---------------------------------------------------------------------------------------------------------
 * Memory pool
 *
 * Size classes: small (< 1 KiB), medium (1 KiB .. 1 MiB), large (> 1 MiB, mmap-backed, transparent huge
 * pages where the OS allows). Every block is 64-byte aligned. Thread-safe; each thread keeps a cache per
 * class so the common allocate/free path takes no lock. A pointer the pool did not hand out, or one freed
 * twice, is refused with BN_ERR_INVALID_POINTER and changes nothing.
 * ------------------------------------------------------------------------------------------------------- */
typedef struct bn_pool bn_pool;

typedef enum bn_size_class {
    BN_SIZE_SMALL = 0,
    BN_SIZE_MEDIUM = 1,
    BN_SIZE_LARGE = 2
} bn_size_class;

#define BN_POOL_ALIGNMENT 64

typedef struct bn_pool_stats {
    uint64_t bytes_in_use;   /* bytes of the blocks handed out and not freed (block sizes, not requests) */
    uint64_t bytes_peak;     /* the highest bytes_in_use seen */
    uint64_t bytes_reserved; /* bytes the pool holds from the OS, in use or cached */
    uint64_t allocations;    /* successful allocations */
    uint64_t frees;          /* successful frees */
    uint64_t bad_frees;      /* frees refused with BN_ERR_INVALID_POINTER */
} bn_pool_stats;

typedef struct bn_pool_class_stats {
    uint64_t allocations;
    uint64_t frees;
    uint64_t cache_hits;   /* allocations served from a thread cache or a cached block */
    uint64_t cache_misses; /* allocations that had to refill from the shared pool or the OS */
    uint64_t bytes_in_use;
} bn_pool_class_stats;

BN_API bn_status bn_pool_create(bn_pool** out);
/* Frees everything. If blocks are still in use it frees them too, returns BN_ERR_LEAK and leaves the leak
 * report (count and bytes per class, the first addresses) in bn_last_error(). */
BN_API bn_status bn_pool_destroy(bn_pool* pool);
/* The process-wide pool, created on first use and never destroyed. */
BN_API bn_pool* bn_pool_default(void);
/* size 0 is refused. *out is 64-byte aligned and at least `size` bytes. */
BN_API bn_status bn_pool_alloc(bn_pool* pool, size_t size, void** out);
/* As bn_pool_alloc, and the block is zeroed. */
BN_API bn_status bn_pool_calloc(bn_pool* pool, size_t size, void** out);
BN_API bn_status bn_pool_free(bn_pool* pool, void* ptr);
/* The usable size of a live block (its size class), or BN_ERR_INVALID_POINTER. */
BN_API bn_status bn_pool_block_size(bn_pool* pool, const void* ptr, size_t* out);
/* Returns cached memory to the OS: the calling thread's cache, empty slabs and cached large blocks. */
BN_API bn_status bn_pool_trim(bn_pool* pool);
BN_API bn_status bn_pool_get_stats(bn_pool* pool, bn_pool_stats* out);
BN_API bn_status bn_pool_get_class_stats(bn_pool* pool, bn_size_class size_class, bn_pool_class_stats* out);
/* Writes a NUL-terminated report of the blocks still in use into buf (truncated to cap bytes);
 * *needed (optional) receives the full length plus one. */
BN_API bn_status bn_pool_leak_report(bn_pool* pool, char* buf, size_t cap, size_t* needed);

#ifdef __cplusplus
}
#endif

#endif /* BITNET_H */
