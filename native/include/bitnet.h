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
    uint64_t bytes_peak;     /* the highest bytes_in_use seen: exact while one thread allocates; with several
                              * at once it may be off by up to 256 KiB per other allocating thread */
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
 * report (count and bytes per class, the first addresses) in bn_last_error(). The default pool is refused
 * (BN_ERR_INVALID_ARGUMENT). */
BN_API bn_status bn_pool_destroy(bn_pool* pool);
/* The process-wide pool, created on first use and never destroyed. */
BN_API bn_pool* bn_pool_default(void);
/* size 0 is refused. *out is 64-byte aligned and at least `size` bytes. */
BN_API bn_status bn_pool_alloc(bn_pool* pool, size_t size, void** out);
/* As bn_pool_alloc, and the block is zeroed. */
BN_API bn_status bn_pool_calloc(bn_pool* pool, size_t size, void** out);
/* ptr NULL is refused with BN_ERR_INVALID_ARGUMENT (it is not counted as a bad free). */
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

/* Memory-mapped weights: tells the OS that the pages wholly inside [addr, addr + len) of a READ-ONLY file mapping
 * are not needed for now, so they leave the process's resident set (touching them again re-reads the file).
 * For weights that were converted into another layout at load: the mapped originals stop counting towards peak
 * memory. A hint: BN_OK where the OS has no such call. Never use it on memory that was written. */
BN_API bn_status bn_mapping_release(const void* addr, size_t len);

/* The memory-bandwidth floor (CLI.md "How speed is stated"): a STREAM-style read of a `bytes`-byte buffer (at least
 * 1 MiB; make it several times the last-level cache, e.g. 1 GiB) summed by the pool's threads (NULL: this
 * thread), `reps` timed passes after one untimed one. *median_gbps and *best_gbps (either may be NULL) receive
 * 1e9 bytes per second. The buffer is taken from the OS for the call and given back before it returns. */
BN_API bn_status bn_measure_read_bandwidth(bn_threadpool* pool, int64_t bytes, int32_t reps, double* median_gbps,
                                           double* best_gbps);

/* ---------------------------------------------------------------------------------------------------------
 * Ternary matmul
 *
 * y (T, M) = x (T, K) . W (M, K)^T for a ternary weight matrix W (values -1, 0, +1, and one per-tensor scale
 * w_scale = mean|W| as BitNet b1.58 checkpoints store it) and int8 activations quantized per token. One token
 * (T == 1) is a GEMV, more are a GEMM; both split the M output rows over `pool` (NULL = the calling thread only).
 * The calls allocate nothing and take no lock beyond the pool's own.
 *
 * The exact result, in every instruction set (the scalar code is the definition and the vector ones equal it
 * bit for bit): with c = w + 1 the stored codes,
 *     d[t][r] = sum_k c[r][k] * q[t][k] - q_sum[t]          (int32; equals sum_k w[r][k] * q[t][k])
 *     y[t*M + r] = (float)d[t][r] * (w_scale / a[t])         (one float division, then one float product)
 * ------------------------------------------------------------------------------------------------------- */
typedef enum bn_tlayout {
    /* bitnet.cpp's x86 I2_S order. Rows are contiguous, K/4 bytes each (row r at byte r*K/4), K a multiple
     * of 128. In each block of 128 weights (32 bytes) byte j = c[j]<<6 | c[32+j]<<4 | c[64+j]<<2 | c[96+j],
     * c = w + 1 in {0, 1, 2}. The tensor bytes of a GGUF that an x86 bitnet.cpp wrote as I2_S are this layout
     * (its trailing float scale excluded); ARM builds of bitnet.cpp use another block order. */
    BN_TLAYOUT_I2S = 0,
    /* ggml's TQ1_0 (GGML_TYPE_TQ1_0) exactly as llama.cpp writes it, so a memory-mapped GGUF tensor is used in
     * place. K a multiple of 256; a row is K/256 blocks of 54 bytes (row r at byte r*(K/256)*54): qs[48] five
     * trits a byte, qh[4] four trits a byte, then an fp16 d. Trits are the codes c = w + 1 (kernels/tmatmul_tq1.c
     * gives which weights share a byte). The kernels IGNORE d: the result is the formula above with the same
     * codes, so a TQ1 matmul equals the I2_S matmul of the same ternary matrix bit for bit, and w_scale is the
     * caller's (e.g. the d of the tensor's blocks, which BitNet b1.58 files give one value). The packers write
     * d = 1.0 (fp16 0x3C00) in every block; unpack ignores d. Every byte decodes (as ggml decodes it), so unpack
     * never fails on the codes. */
    BN_TLAYOUT_TQ1 = 1,
    /* BN_TLAYOUT_I2S's blocks with each group of 4 rows interleaved in 64-byte runs, so that a kernel working on 4
     * rows at a time reads its weights in address order (the hardware prefetchers keep up with one sequential
     * stream better than with 4 strided ones: +10-15 points of the read bandwidth in a GEMV from DRAM on Zen 5).
     * K a multiple of 256 and rows a multiple of 4. Bytes 64c..64c+63 of I2_S row r (its blocks 2c and 2c+1) sit
     * at byte (r/4)*K + 256c + 64*(r%4); the size is the same, rows * K/4. Same results as BN_TLAYOUT_I2S bit for
     * bit. bn_tmatmul_relayout converts between the two in place. */
    BN_TLAYOUT_I2S_X4 = 2
} bn_tlayout;

/* Bytes that a rows x cols matrix takes in `layout`. cols must be a multiple of the layout's block (128; 256 for
 * TQ1 and I2S_X4) and rows of 4 for I2S_X4. */
BN_API bn_status bn_tmatmul_packed_size(bn_tlayout layout, int64_t rows, int64_t cols, size_t* out);
/* Packs w (rows, cols), every value -1, 0 or +1, into out (out_size >= bn_tmatmul_packed_size). Any other
 * value is refused with BN_ERR_INVALID_ARGUMENT and its index. */
BN_API bn_status bn_tmatmul_pack_i8(bn_tlayout layout, const int8_t* w, int64_t rows, int64_t cols, uint8_t* out,
                                    size_t out_size);
/* The same from floats that are exactly -1.0f, 0.0f (or -0.0f) or +1.0f (already ternarized, scale removed). */
BN_API bn_status bn_tmatmul_pack_f32(bn_tlayout layout, const float* w, int64_t rows, int64_t cols, uint8_t* out,
                                     size_t out_size);
/* The inverse: writes rows * cols values -1, 0, +1 (out_count >= rows * cols). A 2-bit code 3, which no packer
 * writes, is refused with BN_ERR_FORMAT. */
BN_API bn_status bn_tmatmul_unpack_i8(bn_tlayout layout, const uint8_t* packed, int64_t rows, int64_t cols,
                                      int8_t* out, size_t out_count);

/* Rewrites a packed rows x cols matrix from layout `from` into layout `to` in place (the two must hold the same
 * bytes: I2S <-> I2S_X4, or from == to, which changes nothing). Touches only w's bytes; BN_ERR_INVALID_ARGUMENT
 * for a pair it cannot convert in place, BN_ERR_SHAPE for a shape `to` or `from` cannot hold. */
BN_API bn_status bn_tmatmul_relayout(bn_tlayout from, bn_tlayout to, uint8_t* w, int64_t rows, int64_t cols);
/* The layout in which this CPU's kernels multiply a rows x cols ternary matrix fastest, among those that hold the
 * same bytes as BN_TLAYOUT_I2S (so a caller holding I2_S can bn_tmatmul_relayout into it): I2S_X4 where the shape
 * allows it and the dispatched kernels for it are vector ones on x86 (measured there), I2S otherwise. */
BN_API bn_status bn_tmatmul_preferred_layout(int64_t rows, int64_t cols, bn_tlayout* out);

/* Matmul on quantized activations.
 *   w      (M, K) packed in `layout`; w_scale finite
 *   q      (T, K) int8, token after token; a (T) the activation scales (x ~ q / a, finite and > 0);
 *   q_sum  (T) sum_k q[t][k] (int32)
 *   y      (T, M) floats as in the formula above
 * K must be a positive multiple of 128 and at most 2^22 (BN_ERR_SHAPE otherwise); M, T >= 0. */
BN_API bn_status bn_tmatmul_i8(bn_tlayout layout, const uint8_t* w, int64_t M, int64_t K, float w_scale,
                               const int8_t* q, const float* a, const int32_t* q_sum, int64_t T, float* y,
                               bn_threadpool* pool);

/* Bytes of scratch memory bn_tmatmul_f32 needs for T tokens of K values. */
BN_API bn_status bn_tmatmul_f32_work_size(int64_t T, int64_t K, size_t* out);
/* Quantize then matmul: x (T, K) floats are quantized per token exactly as HF's BitNet ActQuant does,
 *     a = 127.0f / max(max_k |x[t][k]|, 1e-5f);  q = clamp(round_half_even(x * a), -128, 127)   (float math)
 * into `work` (work_size >= bn_tmatmul_f32_work_size), then multiplied as bn_tmatmul_i8 does. A NaN or
 * infinity in x gives BN_ERR_NUMERIC and leaves y unspecified. */
BN_API bn_status bn_tmatmul_f32(bn_tlayout layout, const uint8_t* w, int64_t M, int64_t K, float w_scale,
                                const float* x, int64_t T, float* y, void* work, size_t work_size,
                                bn_threadpool* pool);

/* ---------------------------------------------------------------------------------------------------------
 * Quantization
 *
 * Conventions. A tensor is rows x cols floats, row-major; for a weight matrix a row is one output channel
 * (W is [out, in] as in PyTorch). Codes are one byte per value, in the same order. Two kinds of scale appear and
 * the names say which:
 *  - a *multiplier* (HF's convention for BitNet): q = round(x * s), so x ~ q / s;
 *  - a *step* (the usual int-N convention): q = round(x / step), so x ~ q * step.
 * round() is round-half-to-even everywhere (nearbyintf in the default rounding mode), except where a format's
 * origin uses another rounding and says so (ggml's TQ formats use lroundf: half away from zero).
 * NaN or infinity in any float input gives BN_ERR_NUMERIC naming the first bad index; nothing is written
 * for that call's outputs beyond what it had already finished.
 * ------------------------------------------------------------------------------------------------------- */

/* How many values share one scale. */
typedef enum bn_granularity {
    BN_GRANULARITY_TENSOR = 0,  /* one scale for the whole tensor */
    BN_GRANULARITY_CHANNEL = 1, /* one scale per row (output channel) */
    BN_GRANULARITY_GROUP = 2    /* one per group of group_size consecutive values of a row (cols % group_size == 0);
                                   scale index = row * (cols / group_size) + col / group_size */
} bn_granularity;

/* The number of scales (and zero points) a quantizer writes for this granularity: 1, rows, or
 * rows * cols / group_size. group_size is read only for BN_GRANULARITY_GROUP. */
BN_API bn_status bn_quant_scale_count(bn_granularity granularity, int64_t rows, int64_t cols, int64_t group_size,
                                      int64_t* out);

/* Ternary absmean weights, exactly HF transformers' BitNet WeightQuant in float32, per scale group g:
 *     m = mean |W| over g     (summed in double in a fixed order, then rounded once to float: see
 *                              kernels/quantize.c; torch sums in float, so its m may differ in the last bit)
 *     s = 1.0f / max(m, 1e-5f)                                  (float division: the multiplier)
 *     q = clamp(round_half_even(W * s), -1, 1)                  (the product in float)
 * codes (rows * cols) and scales (bn_quant_scale_count) receive q and s. The dequantized weight is q / s; HF's
 * packed checkpoints store weight_scale = 1/s rounded to bf16 (see BN_FORMAT_HF_2B4T). */
BN_API bn_status bn_quantize_ternary_absmean(const float* w, int64_t rows, int64_t cols, bn_granularity granularity,
                                             int64_t group_size, int8_t* codes, int64_t codes_len, float* scales,
                                             int64_t scales_len);

/* Int8 absmax activations per token (row), exactly HF transformers' BitNet ActQuant in float32:
 *     a = 127.0f / max(max |x_row|, 1e-5f)                      (float division: the multiplier)
 *     q = clamp(round_half_even(x * a), -128, 127)              (the product in float, then rounding)
 * codes (rows * cols) receive q, scales (rows) receive a; x ~ q / a. Vectorised; every instruction set gives
 * the same bytes as the scalar definition. */
BN_API bn_status bn_quantize_act_i8(const float* x, int64_t rows, int64_t cols, int8_t* codes, int64_t codes_len,
                                    float* scales, int64_t scales_len);

/* Symmetric int-N (bits = 2, 4 or 8), per scale group g, with qmax = 2^(bits-1) - 1 (1, 7, 127):
 *     step = max|x over g| / qmax                               (float division; 0 if the group is all zero)
 *     q    = clamp(round_half_even(x / step), -qmax, qmax)      (float division; q = 0 where step == 0)
 *     x'   = q * step                                           (bn_dequantize_sym)
 * The level -2^(bits-1) is never used, so the grid is symmetric about 0 (2 bits gives -1, 0, +1).
 * codes are int8 (one per value); steps has bn_quant_scale_count entries. */
BN_API bn_status bn_quantize_sym(const float* x, int64_t rows, int64_t cols, int32_t bits,
                                 bn_granularity granularity, int64_t group_size, int8_t* codes, int64_t codes_len,
                                 float* steps, int64_t steps_len);
/* out (rows * cols) = codes * step. A code outside [-qmax, qmax] is refused (BN_ERR_INVALID_ARGUMENT, its index);
 * a step that is negative, NaN or infinite gives BN_ERR_NUMERIC. */
BN_API bn_status bn_dequantize_sym(const int8_t* codes, int64_t rows, int64_t cols, int32_t bits,
                                   bn_granularity granularity, int64_t group_size, const float* steps,
                                   int64_t steps_len, float* out, int64_t out_len);

/* Asymmetric (affine) int-N (bits = 2, 4 or 8), per scale group g, with L = 2^bits - 1 (3, 15, 255); the range
 * always contains 0 so that 0 is exact:
 *     lo = min(min x, 0), hi = max(max x, 0)
 *     step = (hi - lo) / L                                      (float; 0 if the group is all zero)
 *     zp   = clamp(round_half_even(-lo / step), 0, L)           (the integer code of 0.0; 0 where step == 0)
 *     q    = clamp(round_half_even(x / step) + zp, 0, L)        (q = 0 where step == 0)
 *     x'   = (q - zp) * step                                    (bn_dequantize_asym)
 * hi - lo beyond the float range gives BN_ERR_NUMERIC. codes are uint8; steps and zero_points have
 * bn_quant_scale_count entries each. */
BN_API bn_status bn_quantize_asym(const float* x, int64_t rows, int64_t cols, int32_t bits,
                                  bn_granularity granularity, int64_t group_size, uint8_t* codes,
                                  int64_t codes_len, float* steps, int32_t* zero_points, int64_t steps_len);
BN_API bn_status bn_dequantize_asym(const uint8_t* codes, int64_t rows, int64_t cols, int32_t bits,
                                    bn_granularity granularity, int64_t group_size, const float* steps,
                                    const int32_t* zero_points, int64_t steps_len, float* out, int64_t out_len);

/* IEEE half (fp16) and bfloat16 conversions, round-to-nearest-even, exact for every value (subnormals,
 * infinities; a NaN stays a quiet NaN with its sign and the top bits of its payload). fp16 overflows to
 * infinity from 65520 up (the midpoint above 65504). */
BN_API uint16_t bn_fp32_to_fp16(float x);
BN_API float bn_fp16_to_fp32(uint16_t h);
BN_API uint16_t bn_fp32_to_bf16(float x);
BN_API float bn_bf16_to_fp32(uint16_t h);

/* ---------------------------------------------------------------------------------------------------------
 * Error metrics between a reference tensor and another (e.g. its quantize-dequantize), all in double.
 * ------------------------------------------------------------------------------------------------------- */
typedef struct bn_error_metrics {
    double mse;           /* mean of (test - ref)^2 */
    double sqnr_db;       /* 10 log10(sum ref^2 / sum (test - ref)^2); +inf when equal, -inf when ref is all 0 */
    double cosine;        /* <ref, test> / (|ref| |test|); 1 when both are all zero, 0 when only one is */
    double max_abs_error; /* max |test - ref| */
    int64_t max_abs_index;/* the first index where max_abs_error occurs (0 when n == 0) */
} bn_error_metrics;

BN_API bn_status bn_error_metrics_compute(const float* ref, const float* test, int64_t n, bn_error_metrics* out);

/* ---------------------------------------------------------------------------------------------------------
 * Calibration: a calibrator observes batches of float activations and proposes a symmetric clipping value.
 *
 * It keeps the exact running max |x|, the count of exact zeros and a histogram of |x| over [0, R) in n_bins
 * equal bins, where R is the smallest power of two >= max|x| seen so far. When a batch raises max|x| past R, R
 * doubles (as often as needed) and pairs of bins merge, so no observation is ever re-binned approximately.
 * Resolution: a bin is R / n_bins wide, i.e. between max|x| / n_bins and 2 max|x| / n_bins.
 * ------------------------------------------------------------------------------------------------------- */
typedef struct bn_calibrator bn_calibrator;

typedef enum bn_calib_method {
    /* clip = the running max |x| (exact). */
    BN_CALIB_ABSMAX = 0,
    /* clip = the upper edge of the histogram bin where the cumulative share of |x| reaches `percentile`
     * (0 < percentile <= 100), capped at max |x|: at most one bin width above the true percentile. */
    BN_CALIB_PERCENTILE = 1,
    /* clip = the candidate minimising the estimated mean squared error of symmetric `bits`-bit quantize-
     * dequantize (step = clip / qmax, values above clip saturate), estimated over the histogram with 4 points
     * per bin. Candidates: the bin upper edges up to max|x| (at most 1024 of them, evenly strided) and max|x|. */
    BN_CALIB_MSE = 2
} bn_calib_method;

typedef struct bn_calib_result {
    float clip;       /* the clipping value; 0 when only zeros were seen */
    float step;       /* clip / qmax with qmax = 2^(bits-1) - 1: the dequantization step (x ~ q * step) */
    float multiplier; /* qmax / clip, HF style (q = round(x * multiplier)); 0 when clip is 0 */
    int32_t bits;     /* the bit width the step and the MSE are for */
    double mse;       /* the histogram estimate of the quantize-dequantize MSE at this clip */
    int64_t count;    /* values observed */
} bn_calib_result;

/* n_bins: a power of two in [64, 1048576], or 0 for the default 8192. */
BN_API bn_status bn_calibrator_create(int32_t n_bins, bn_calibrator** out);
BN_API bn_status bn_calibrator_destroy(bn_calibrator* calibrator);
/* Observes rows x cols values (rows * cols may be 0). A batch with a NaN or infinity is refused whole
 * (BN_ERR_NUMERIC with its row and column) and changes nothing. */
BN_API bn_status bn_calibrator_observe(bn_calibrator* calibrator, const float* x, int64_t rows, int64_t cols);
/* Forgets every observation. */
BN_API bn_status bn_calibrator_reset(bn_calibrator* calibrator);
/* bits in [2, 16] (the step and the MSE estimate use it for every method); percentile is read only by
 * BN_CALIB_PERCENTILE. Before any observation: BN_ERR_INVALID_ARGUMENT. */
BN_API bn_status bn_calibrator_compute(const bn_calibrator* calibrator, bn_calib_method method, double percentile,
                                       int32_t bits, bn_calib_result* out);

/* ---------------------------------------------------------------------------------------------------------
 * Packed weight formats
 *
 * One table (quant/format.c) describes every format: its name, block, bytes per block, ggml type id, where its
 * scale lives, and its pack / unpack / dequantize / quantize functions. All formats so far are ternary: the
 * codes are int8 -1, 0, +1 and w = code * scale.
 *
 * BN_FORMAT_HF_2B4T  HF transformers' pack_weights (microsoft/bitnet-b1.58-2B-4T): U8 [rows/4, cols]; bits
 *                    2i..2i+1 of byte [r, c] hold code + 1 of W[i*rows/4 + r, c]. rows % 4 == 0. No scale
 *                    inside: the checkpoint's weight_scale (BF16, = mean|W| = 1/s) lives beside it.
 * BN_FORMAT_TQ1_0    ggml block_tq1_0 (type 34), 256 weights in 54 bytes: qs[48] (5 trits a byte), qh[4]
 *                    (4 trits a byte), fp16 d. cols % 256 == 0. One scale d per block.
 * BN_FORMAT_TQ2_0    ggml block_tq2_0 (type 35), 256 weights in 66 bytes: qs[64] (4 codes + 1 a byte), fp16 d.
 *                    cols % 256 == 0. One scale d per block.
 * BN_FORMAT_I2_S_X86 bitnet.cpp I2_S (its fork's type 36) as x86 builds write it: rows*cols/4 bytes of codes in
 *                    blocks of 128 weights / 32 bytes (byte j = c[j]<<6 | c[32+j]<<4 | c[64+j]<<2 | c[96+j],
 *                    c = code + 1), then 32 bytes: the fp32 tensor scale (little-endian) and 28 zero bytes.
 *                    cols % 128 == 0.
 * BN_FORMAT_I2_S_ARM The same as ARM builds write it: blocks of 64 weights / 16 bytes (byte j = c[j]<<6 |
 *                    c[16+j]<<4 | c[32+j]<<2 | c[48+j]). cols % 64 == 0. Same type id: files do not say which;
 *                    convert between the two with bn_format_convert.
 * ------------------------------------------------------------------------------------------------------- */
typedef enum bn_format {
    BN_FORMAT_HF_2B4T = 0,
    BN_FORMAT_TQ1_0 = 1,
    BN_FORMAT_TQ2_0 = 2,
    BN_FORMAT_I2_S_X86 = 3,
    BN_FORMAT_I2_S_ARM = 4
} bn_format;

/* Where a format keeps its dequantization scale (w = code * scale). */
typedef enum bn_scale_kind {
    BN_SCALE_OUTSIDE = 0,    /* not in the bytes: the caller keeps it */
    BN_SCALE_PER_TENSOR = 1, /* one per tensor, inside the bytes */
    BN_SCALE_PER_BLOCK = 2   /* one per block, inside each block */
} bn_scale_kind;

typedef struct bn_format_info {
    const char* name;         /* static string, e.g. "TQ2_0" */
    int32_t block_size;       /* weights per block */
    int32_t block_bytes;      /* bytes per block */
    int32_t ggml_type;        /* the GGML type id, -1 if none */
    int32_t scale_kind;       /* a bn_scale_kind */
    int32_t row_multiple;     /* rows must be a multiple of this */
    int32_t col_multiple;     /* cols must be a multiple of this */
    int32_t ternary;          /* 1 if the codes are -1, 0, +1 */
    int32_t tensor_extra_bytes; /* bytes after the blocks, once per tensor (I2_S: 32) */
} bn_format_info;

/* Formats are numbered 0 .. bn_format_count() - 1. */
BN_API int32_t bn_format_count(void);
BN_API bn_status bn_format_get_info(bn_format format, bn_format_info* out);
/* Looks a format up by its name (case-sensitive, as bn_format_info.name spells it). */
BN_API bn_status bn_format_from_name(const char* name, bn_format* out);
/* Bytes of a rows x cols tensor (BN_ERR_SHAPE, naming the numbers, if the shape does not fit the format). */
BN_API bn_status bn_format_packed_size(bn_format format, int64_t rows, int64_t cols, int64_t* out);
/* The number of scales bn_format_unpack writes: 0 (outside), 1 (per tensor) or the number of blocks. */
BN_API bn_status bn_format_scale_count(bn_format format, int64_t rows, int64_t cols, int64_t* out);

/* Packs ternary codes (rows * cols, each -1, 0 or +1) with their dequantization scale(s):
 *  - n_scales == 1: one tensor scale (e.g. 1/s of bn_quantize_ternary_absmean, HF's weight_scale). TQ formats
 *    then give every block that has a nonzero code d = fp16(scale) and every other block d = 0, which is
 *    byte for byte what ggml's quantize_row_tq*_0_ref writes for the floats code * scale; I2_S stores the
 *    scale, or 0 when every code is 0 (what bitnet.cpp's quantize_i2_s writes for those floats).
 *    The scale must be finite, >= 0, and normal (>= FLT_MIN) unless every code is 0; TQ needs fp16(scale) finite.
 *  - n_scales == the number of blocks (per-block formats only): block b gets d = fp16(scales[b]) as given.
 *  - BN_FORMAT_HF_2B4T stores no scale: n_scales may be 0 (scales NULL) or 1 (ignored).
 * A code outside -1..1 is refused with BN_ERR_INVALID_ARGUMENT and its index. */
BN_API bn_status bn_format_pack(bn_format format, const int8_t* codes, int64_t rows, int64_t cols,
                                const float* scales, int64_t n_scales, uint8_t* dst, int64_t dst_len);
/* The inverse: codes (rows * cols) and scales (bn_format_scale_count of them; may be NULL when that is 0).
 * Bytes that no packer writes (a 2-bit code 3, a non-finite scale) give BN_ERR_FORMAT naming the byte. */
BN_API bn_status bn_format_unpack(bn_format format, const uint8_t* src, int64_t src_len, int64_t rows, int64_t cols,
                                  int8_t* codes, int64_t codes_len, float* scales, int64_t scales_len);
/* out (rows * cols) = code * scale, with the format's own scales; `scale` is used only by formats that keep
 * theirs outside (BN_FORMAT_HF_2B4T: pass weight_scale) and ignored by the others. */
BN_API bn_status bn_format_dequantize(bn_format format, const uint8_t* src, int64_t src_len, int64_t rows,
                                      int64_t cols, float scale, float* out, int64_t out_len);
/* Quantizes floats the way the format's origin does:
 *  - TQ1_0 / TQ2_0: ggml's quantize_row_tq1_0_ref / quantize_row_tq2_0_ref (per block d = max|w|,
 *    q = lroundf(w * (1/d)), half away from zero), byte for byte;
 *  - I2_S: bitnet.cpp's quantize_i2_s: scale = max|w| of the tensor, q = 0 where |w| < 1e-6, else sign(w).
 *    It expects weights that are already ternary x scale: for master weights run bn_quantize_ternary_absmean
 *    and bn_format_pack with 1/s, which is what bitnet.cpp's converter followed by quantize_i2_s gives.
 *  - HF_2B4T: BN_ERR_UNSUPPORTED (its scale lives outside: use bn_quantize_ternary_absmean + bn_format_pack). */
BN_API bn_status bn_format_quantize(bn_format format, const float* w, int64_t rows, int64_t cols, uint8_t* dst,
                                    int64_t dst_len);
/* Converts packed bytes from one ternary format to another through the codes (never through floats).
 * The scale carried over: the source's tensor scale; for a source that keeps it outside, `scale`; from per-block
 * to per-block formats with the same blocks, each block's d. From per-block to a per-tensor format every block
 * with a nonzero code must have the same d (else BN_ERR_UNSUPPORTED naming two blocks). Into HF_2B4T the
 * scale is dropped (the caller keeps it). */
BN_API bn_status bn_format_convert(bn_format from, const uint8_t* src, int64_t src_len, bn_format to, int64_t rows,
                                   int64_t cols, float scale, uint8_t* dst, int64_t dst_len);
/* The one tensor scale of packed bytes, read in place (nothing converted or kept): a per-tensor format's stored
 * scale; for a per-block format the d that every block with a nonzero code carries (0 when every code is 0),
 * by the rule of bn_format_convert into a per-tensor format (BN_ERR_UNSUPPORTED naming two blocks whose d
 * differ). Bytes that bn_format_unpack refuses are refused the same way; a format that keeps its scale outside
 * gives BN_ERR_UNSUPPORTED. */
BN_API bn_status bn_format_tensor_scale(bn_format format, const uint8_t* src, int64_t src_len, int64_t rows,
                                        int64_t cols, float* out);

/* ---------------------------------------------------------------------------------------------------------
 * Forward-pass ops
 *
 * The float ops of a BitNet b1.58 forward pass besides the ternary matmul, each computed as Hugging Face's
 * BitNetForCausalLM does in float32. Shapes are written on each call, row-major, llm.c style: x (T,C) is T rows
 * of C floats. Every op runs the kernel that dispatch chose (bn_kernel_info lists them); vector kernels agree
 * with the scalar reference to float rounding (sums in another order), not bit for bit.
 * ------------------------------------------------------------------------------------------------------- */
/* Element types of stored rows (embeddings, LM head, KV cache). The values are ggml's type ids, as in GGUF.
 * Q8_0: blocks of 32 values in 34 bytes {fp16 d; int8 qs[32]}, value = qs * d.
 * Q6_K: blocks of 256 values in 210 bytes {uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d},
 *       value = (d * scales[i/16]) * (6-bit code - 32), the code's low 4 bits in ql and high 2 in qh.
 * Q4_K: blocks of 256 values in 144 bytes {fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128]}: 8 sub-blocks of
 *       32, each with a 6-bit scale sc and 6-bit min m packed in scales[12] (ggml's get_scale_min_k4: sub-block
 *       j < 4: sc = scales[j] & 63, m = scales[j+4] & 63; j >= 4: sc = (scales[j+4] & 15) | (scales[j-4] >> 6) << 4,
 *       m = (scales[j+4] >> 4) | (scales[j] >> 6) << 4); value = (d * sc) * q - (dmin * m), q the 4-bit code:
 *       qs[32k + l] holds element 64k + l in its low nibble and 64k + 32 + l in its high nibble. No quantizer
 *       (bn_dtype_quantize_ref gives BN_ERR_UNSUPPORTED); llama-quantize writes these. */
typedef enum bn_dtype {
    BN_DTYPE_F32 = 0,
    BN_DTYPE_F16 = 1,
    BN_DTYPE_Q8_0 = 8,
    BN_DTYPE_Q4_K = 12,
    BN_DTYPE_Q6_K = 14,
    BN_DTYPE_BF16 = 30
} bn_dtype;

/* Values per block (1 for float types) and bytes of a row of n values (n a multiple of the block). */
BN_API bn_status bn_dtype_block_size(bn_dtype type, int32_t* out);
BN_API bn_status bn_dtype_row_size(bn_dtype type, int64_t n, int64_t* out);
/* x (rows,cols) -> dst (rows * row_size(cols) bytes), rounding as ggml's reference quantizers do, byte for byte:
 * quantize_row_q8_0_ref, quantize_row_q6_K_ref (fp16 and bf16: round to nearest even). cols must be a multiple
 * of the block; x finite. Q4_K: BN_ERR_UNSUPPORTED (read-only type). */
BN_API bn_status bn_dtype_quantize_ref(bn_dtype type, const float* x, int64_t rows, int64_t cols, void* dst,
                                       int64_t dst_len);
/* src (rows * row_size(cols) bytes) -> out (rows,cols), as ggml's dequantize_row_* (exact float products). */
BN_API bn_status bn_dtype_dequantize(bn_dtype type, const void* src, int64_t src_len, int64_t rows, int64_t cols,
                                     float* out);

/* RMSNorm: x (T,C), weight (C) -> out (T,C); out = (x * rsqrt(mean(x²) + eps)) * weight, mean in float.
 * out may be x. */
BN_API bn_status bn_rmsnorm_f32(const float* x, const float* weight, int64_t T, int64_t C, float eps, float* out);

/* Rotary embedding, HF "default" rope with rotate_half (NeoX pairs (i, i + D/2)):
 * inv_freq[i] = 1 / theta^(2i/D) and angle = pos * inv_freq[i], both in float as HF computes them.
 * bn_rope_table_f32: -> cos (n_pos, D/2), sin (n_pos, D/2) for positions 0..n_pos-1.
 * bn_rope_f32:       x (T,H,D) in place, rotated by the angles of pos (T); D even, at most 4096.
 * bn_rope_f32_table: the same with the table's cos/sin (n_pos rows); same results. Call once for q (T,H,D),
 * once for k (T,Hkv,D). */
BN_API bn_status bn_rope_table_f32(int64_t n_pos, int64_t D, float theta, float* cos, float* sin);
BN_API bn_status bn_rope_f32(float* x, int64_t T, int64_t H, int64_t D, const int32_t* pos, float theta);
BN_API bn_status bn_rope_f32_table(float* x, int64_t T, int64_t H, int64_t D, const int32_t* pos, const float* cos,
                                   const float* sin, int64_t n_pos);

/* Softmax of each row: x (rows,n) in place, exp(x - max) / sum in float. */
BN_API bn_status bn_softmax_f32(float* x, int64_t rows, int64_t n);

/* The KV cache: k_cache, v_cache (Hkv, max_ctx, D) of F32 or F16 (fp16 bits, rounded to nearest even).
 * bn_kv_cache_append: k (T,Hkv,D), v (T,Hkv,D) -> cache positions p0..p0+T-1.
 * bn_attention: causal grouped-query attention of q (T,H,D) at positions p0..p0+T-1 over cache positions
 *   0..p0+t (the new keys appended first) -> out (T,H,D). Head h reads kv head h / (H/Hkv); scores are
 *   (q·k) * D^-0.5 in float, softmax with the max subtracted, then the weighted sum of v. Work (T*H query
 *   heads) is split over the pool's threads (NULL: this thread); work (work_len floats, at least
 *   bn_attention_work_size) holds each thread's scores. Do not call it from inside another pool's job. */
BN_API bn_status bn_kv_cache_append(bn_dtype cache_type, void* k_cache, void* v_cache, int64_t Hkv, int64_t max_ctx,
                                    int64_t D, int64_t p0, const float* k, const float* v, int64_t T);
BN_API bn_status bn_attention_work_size(const bn_threadpool* pool, int64_t n_ctx, int64_t* out);
BN_API bn_status bn_attention(bn_dtype cache_type, const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t D,
                              const void* k_cache, const void* v_cache, int64_t max_ctx, int64_t p0, float* out,
                              float* work, int64_t work_len, bn_threadpool* pool);

/* Gated FFN activation: gate (n), up (n) -> out (n) (n = T*F); out may be gate or up.
 * BN_ACT_RELU2: relu(gate)² * up (bitnet-b1.58-2B-4T); BN_ACT_SILU: silu(gate) * up (older models). */
typedef enum bn_activation { BN_ACT_RELU2 = 0, BN_ACT_SILU = 1 } bn_activation;
BN_API bn_status bn_gated_act_f32(bn_activation act, const float* gate, const float* up, int64_t n, float* out);

/* Residual add: x (n) += y (n). */
BN_API bn_status bn_add_f32(float* x, const float* y, int64_t n);

/* Embedding lookup: table (vocab, C) of any bn_dtype, ids (T) -> out (T,C) floats. An id outside 0..vocab-1
 * gives BN_ERR_INVALID_ARGUMENT naming it and its position, and writes nothing. */
BN_API bn_status bn_embedding_lookup(bn_dtype type, const void* table, int64_t vocab, int64_t C, const int32_t* ids,
                                     int64_t T, float* out);

/* LM head: h (T,C), E (V,C) of any bn_dtype -> logits (T,V) = h · Eᵀ (tied embeddings: E is the embedding table).
 * Q6_K tables: each row of h is rounded once to ggml's Q8_K and each logit is the integer Q6_K x Q8_K dot, as
 * llama.cpp computes it (within sum |w| * max|h of the block| / 254 of the float dot). Other types, and a row of h
 * that holds a NaN or infinity: the float dot product of h's row with E's row dequantized. Rows of E are split
 * over the pool's threads (NULL: this thread). */
BN_API bn_status bn_lm_head(bn_dtype type, const void* E, int64_t V, int64_t C, const float* h, int64_t T,
                            float* logits, bn_threadpool* pool);

/* ---------------------------------------------------------------------------------------------------------
 * Model forward pass
 *
 * A BitNet b1.58 decoder (HF BitNetForCausalLM) run by one call per step. Per layer, exactly as HF computes it:
 *     h   = x + o_proj(attn_sub_norm(attention(rope(q), rope(k), v)))     q, k, v = *_proj(input_layernorm(x))
 *     out = h + down_proj(ffn_sub_norm(act(gate) * up))                   gate, up = *_proj(post_attention_layernorm(h))
 * then logits = norm(out of the last layer) . embeddingᵀ (tied LM head; bn_model_set_lm_head unties it). Every
 * projection quantizes its input per token (HF ActQuant, bn_quantize_act_i8) and multiplies as bn_tmatmul_i8
 * does: y = d * (w_scale / a). The normed input is quantized once for q, k, v and once for gate, up.
 *
 * A bn_model holds the config and REFERENCES weight memory the caller owns (e.g. memory-mapped files): nothing is
 * copied, and that memory must outlive the model and every context on it. A bn_context holds the KV cache and all
 * scratch, allocated once at creation; forward calls allocate nothing. A model may serve several contexts; one
 * context must not be used by two threads at once.
 * ------------------------------------------------------------------------------------------------------- */
typedef struct bn_model bn_model;
typedef struct bn_context bn_context;

/* Shapes and hyper-parameters (HF config.json names in brackets). head_dim = hidden / heads. */
typedef struct bn_model_config {
    int64_t vocab_size;    /* [vocab_size] rows of the embedding / LM head */
    int64_t hidden_size;   /* [hidden_size] a multiple of 128 and of n_heads */
    int64_t ffn_size;      /* [intermediate_size] a multiple of 128 */
    int32_t n_layers;      /* [num_hidden_layers] >= 1 */
    int32_t n_heads;       /* [num_attention_heads] head_dim even, at most 4096 */
    int32_t n_kv_heads;    /* [num_key_value_heads] divides n_heads */
    int32_t max_positions; /* [max_position_embeddings] the largest context a bn_context may have */
    float rope_theta;      /* [rope_theta] > 0 (500000 for bitnet-b1.58-2B-4T) */
    float rms_eps;         /* [rms_norm_eps] >= 0 (1e-5) */
    int32_t activation;    /* a bn_activation ([hidden_act] relu2: BN_ACT_RELU2) */
    int32_t reserved;      /* 0 */
} bn_model_config;

/* The seven ternary projections of a layer. */
typedef enum bn_proj {
    BN_PROJ_Q = 0,    /* self_attn.q_proj  (hidden, hidden) */
    BN_PROJ_K = 1,    /* self_attn.k_proj  (n_kv_heads * head_dim, hidden) */
    BN_PROJ_V = 2,    /* self_attn.v_proj  (n_kv_heads * head_dim, hidden) */
    BN_PROJ_O = 3,    /* self_attn.o_proj  (hidden, hidden) */
    BN_PROJ_GATE = 4, /* mlp.gate_proj     (ffn, hidden) */
    BN_PROJ_UP = 5,   /* mlp.up_proj       (ffn, hidden) */
    BN_PROJ_DOWN = 6  /* mlp.down_proj     (hidden, ffn) */
} bn_proj;

/* The four RMSNorm weights of a layer. */
typedef enum bn_norm {
    BN_NORM_INPUT = 0,          /* input_layernorm          (hidden) */
    BN_NORM_POST_ATTENTION = 1, /* post_attention_layernorm (hidden) */
    BN_NORM_ATTN_SUB = 2,       /* self_attn.attn_sub_norm  (hidden) */
    BN_NORM_FFN_SUB = 3         /* mlp.ffn_sub_norm         (ffn) */
} bn_norm;

/* Checks the config (BN_ERR_SHAPE / BN_ERR_INVALID_ARGUMENT naming the field) and creates a model with no
 * weights set. */
BN_API bn_status bn_model_create(const bn_model_config* config, bn_model** out);
/* Refused (BN_ERR_INVALID_ARGUMENT) while contexts created on the model are alive. */
BN_API bn_status bn_model_destroy(bn_model* model);
BN_API bn_status bn_model_get_config(const bn_model* model, bn_model_config* out);

/* A projection (rows, cols) as in bn_proj: `weight` in BN_TLAYOUT_I2S (bitnet.cpp x86 I2_S order, rows * cols / 4
 * bytes; a trailing I2_S scale block may follow and is ignored: size >= rows * cols / 4), and the per-tensor
 * scale w_scale = mean|W| (HF weight_scale of the offline/autobitlinear checkpoints; 1/s for master weights
 * quantized with bn_quantize_ternary_absmean), finite and > 0. Convert other packings with bn_format_convert. */
BN_API bn_status bn_model_set_projection(bn_model* model, int32_t layer, bn_proj proj, const uint8_t* weight,
                                         int64_t size, float w_scale);
/* The same for a projection stored in any bn_tlayout (size >= bn_tmatmul_packed_size(layout, rows, cols); a shape
 * the layout cannot hold gives its BN_ERR_SHAPE, an unknown layout BN_ERR_INVALID_ARGUMENT). The forward pass
 * multiplies each projection in its own layout, so e.g. a GGUF's TQ1_0 bytes (BN_TLAYOUT_TQ1) run straight from
 * the mapped file; the logits do not depend on which layout holds the same codes and w_scale.
 * bn_model_set_projection is this with BN_TLAYOUT_I2S. */
BN_API bn_status bn_model_set_projection_layout(bn_model* model, int32_t layer, bn_proj proj, bn_tlayout layout,
                                                const uint8_t* weight, int64_t size, float w_scale);
/* A norm weight: n floats (n = hidden, or ffn for BN_NORM_FFN_SUB). */
BN_API bn_status bn_model_set_norm(bn_model* model, int32_t layer, bn_norm norm, const float* weight, int64_t n);
/* The final RMSNorm (model.norm): hidden floats. */
BN_API bn_status bn_model_set_final_norm(bn_model* model, const float* weight, int64_t n);
/* The embedding table (vocab, hidden) of any bn_dtype, also the LM head (tied); size >= vocab * row size. */
BN_API bn_status bn_model_set_embedding(bn_model* model, bn_dtype type, const void* table, int64_t size);
/* An untied LM head (HF lm_head.weight, GGUF output.weight): (vocab, hidden) of any bn_dtype, size >= vocab * row
 * size. Without one (or after table NULL) the head is the embedding (tied, as bitnet-b1.58-2B-4T). */
BN_API bn_status bn_model_set_lm_head(bn_model* model, bn_dtype type, const void* table, int64_t size);
/* BN_OK if every weight is set; else BN_ERR_INVALID_ARGUMENT naming the first missing one in HF terms
 * ("model.layers.1.self_attn.k_proj.weight is not set"). */
BN_API bn_status bn_model_check(const bn_model* model);

/* Which rows of logits bn_context_forward writes. */
typedef enum bn_logits_mode {
    BN_LOGITS_NONE = 0, /* none (e.g. a prefill whose logits are not needed); logits may be NULL */
    BN_LOGITS_ALL = 1,  /* (n_tokens, vocab) */
    BN_LOGITS_LAST = 2  /* (1, vocab): the last token's */
} bn_logits_mode;

/* A session on a checked model (bn_model_check must pass): a KV cache of `kv_type` (BN_DTYPE_F32 or F16) for
 * n_ctx positions (1 .. max_positions; 0 = max_positions) and scratch for max_batch tokens per pass (0 = 512,
 * at most n_ctx), all from `mem` (NULL = bn_pool_default()). `threads` (NULL = the calling thread only) runs
 * the matmuls, attention and LM head; results do not depend on the number of threads. The model and the pools
 * must outlive the context. */
BN_API bn_status bn_context_create(bn_model* model, int64_t n_ctx, bn_dtype kv_type, int64_t max_batch,
                                   bn_pool* mem, bn_threadpool* threads, bn_context** out);
BN_API bn_status bn_context_destroy(bn_context* ctx);
/* The number of positions held (the next token's position), and the capacity n_ctx. */
BN_API int64_t bn_context_position(const bn_context* ctx);
BN_API int64_t bn_context_size(const bn_context* ctx);
/* Tokens per pass (max_batch as created, after its default and the cap at n_ctx): the most one
 * bn_context_forward_batch may carry with this context first. */
BN_API int64_t bn_context_max_batch(const bn_context* ctx);
/* Runs tokens (n_tokens >= 1, ids in 0..vocab-1) at positions position .. position + n_tokens - 1 (prefill or
 * decode; longer than max_batch runs in chunks) and appends them to the KV cache.
 *   logits        per logits_mode, logits_len >= rows * vocab floats
 *   hidden_states optional (NULL): (n_layers + 1, n_tokens, hidden) floats, HF output_hidden_states order:
 *                 [0] the embeddings, [i] the output of layer i-1 (0 < i < n_layers), [n_layers] the final
 *                 RMSNorm of the last layer's output; hidden_len >= that count.
 * position + n_tokens > n_ctx gives BN_ERR_SHAPE ("context full") and changes nothing; so do bad ids or short
 * buffers. After any other failure the context's position is unchanged and the cache beyond it unspecified. */
BN_API bn_status bn_context_forward(bn_context* ctx, const int32_t* tokens, int64_t n_tokens, float* logits,
                                    int64_t logits_len, bn_logits_mode logits_mode, float* hidden_states,
                                    int64_t hidden_len);
/* Several sequences in one pass: n_seqs distinct contexts on one model, sequence i's n_tokens[i] tokens (>= 1)
 * concatenated in `tokens`, each run at its own context's position and appended to its own cache. The
 * projections stream each weight once for all sequences (a GEMM over every row), so decoding n sequences costs
 * about one sequence's weight traffic. The pass uses ctxs[0]'s scratch and threads: the total token count must
 * be at most ctxs[0]'s max_batch (BN_ERR_SHAPE otherwise). logits: BN_LOGITS_ALL gives every row (total,
 * vocab) in sequence order, BN_LOGITS_LAST one row per sequence (n_seqs, vocab). Each sequence's logits equal
 * those of bn_context_forward on its context alone. Nothing changes on any argument error or full context. */
BN_API bn_status bn_context_forward_batch(bn_context* const* ctxs, int32_t n_seqs, const int32_t* tokens,
                                          const int64_t* n_tokens, float* logits, int64_t logits_len,
                                          bn_logits_mode logits_mode);
/* Forgets every position (position 0). */
BN_API bn_status bn_context_reset(bn_context* ctx);
/* Keeps positions 0 .. pos-1 (pos <= position), e.g. to drop a rejected continuation. */
BN_API bn_status bn_context_truncate(bn_context* ctx, int64_t pos);

/* ---------------------------------------------------------------------------------------------------------
 * Float matrix multiply
 *
 * C (M,N) = alpha * op(A) . op(B) + beta * C, row-major; op(X) is X, or Xᵀ when trans_x != 0. A is (M,K), or
 * (K,M) when trans_a; B is (K,N), or (N,K) when trans_b; lda/ldb/ldc are row strides in floats. beta == 0
 * ignores C's old contents (NaN included). Split over the pool's threads (NULL: this thread) by blocks of C;
 * every element is summed over k in one fixed order, so the result does not depend on the thread count. The
 * backward passes of training and the float LM head are built on it.
 * ------------------------------------------------------------------------------------------------------- */
BN_API bn_status bn_sgemm(int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                          int64_t ldc, bn_threadpool* pool);

/* ---------------------------------------------------------------------------------------------------------
 * Training ops: forward / backward pairs (quantization-aware training, straight-through estimator)
 *
 * llm.c style: each op's forward and backward side by side, float32, shapes on the signature; N = B*T rows.
 * Backward calls ACCUMULATE (+=) into every gradient they write (parameter and input gradients alike), so
 * residual branches and gradient accumulation need no extra buffers: zero them first where that is wanted.
 * Forwards compute what inference computes (bitlinear at blend 1 is bn_tmatmul_i8 bit for bit). Ops with a pool
 * argument split work over its threads (NULL: this thread) and give the same bits for any thread count.
 * Forward ops that inference already has are used as they are: RoPE forward is bn_rope_f32_table, the gated
 * activation forward is bn_gated_act_f32, a residual add (and its backward, dx += dout) is bn_add_f32.
 * ------------------------------------------------------------------------------------------------------- */
/* Embedding: ids (N) in 0..V-1, wte (V,C) -> out (N,C). Backward: dwte (V,C) += dout (N,C) rows, scattered by id. */
BN_API bn_status bn_train_embedding_forward(const int32_t* ids, int64_t N, const float* wte, int64_t V, int64_t C,
                                            float* out);
BN_API bn_status bn_train_embedding_backward(const int32_t* ids, int64_t N, const float* dout, int64_t V,
                                             int64_t C, float* dwte);

/* RMSNorm: x (N,C), w (C) -> out (N,C) as bn_rmsnorm_f32, and rstd (N) = 1/sqrt(mean(x²) + eps) for backward.
 * Backward: dx (N,C) += , dw (C) += from dout (N,C). */
BN_API bn_status bn_train_rmsnorm_forward(const float* x, const float* w, int64_t N, int64_t C, float eps,
                                          float* out, float* rstd);
BN_API bn_status bn_train_rmsnorm_backward(const float* dout, const float* x, const float* w, const float* rstd,
                                           int64_t N, int64_t C, float* dx, float* dw, bn_threadpool* pool);

/* BitLinear (HF AutoBitLinear / BitLinear with WeightQuant and ActQuant), progressive quantization by `blend`
 * in [0,1] (0: full precision, 1: ternary weights and int8 activations, exactly as inference):
 * prepare, once per step per weight: w (OC,C) master -> weff (OC,C) = w + blend * (Q(w) - w), Q(w) the absmean
 *   ternary codes / s with s = 1/max(mean|w|, 1e-5) (bn_quantize_ternary_absmean, per tensor); *w_scale = 1/s.
 *   With packed != NULL (packed_len >= OC*C/4, C % 128 == 0) also the codes in BN_TLAYOUT_I2S for forward.
 * forward: x (N,C) -> xeff (N,C) = x + blend * (Q(x) - x), Q HF ActQuant per row (kept for backward), and
 *   out (N,OC) = xeff . weffᵀ; at blend == 1 with packed codes out is computed as bn_tmatmul_i8 computes it.
 *   work: bn_train_bitlinear_work_size(N, C) bytes (int8 codes and per-row scales).
 * backward (straight-through: identity gradient through both quantizers): dx (N,C) += dout . weff,
 *   dw (OC,C) += doutᵀ . xeff. */
BN_API bn_status bn_train_bitlinear_prepare(const float* w, int64_t OC, int64_t C, float blend, float* weff,
                                            uint8_t* packed, int64_t packed_len, float* w_scale);
BN_API bn_status bn_train_bitlinear_work_size(int64_t N, int64_t C, int64_t* out);
BN_API bn_status bn_train_bitlinear_forward(const float* x, int64_t N, int64_t C, const float* weff,
                                            const uint8_t* packed, float w_scale, int64_t OC, float blend,
                                            float* xeff, float* out, void* work, int64_t work_len,
                                            bn_threadpool* pool);
BN_API bn_status bn_train_bitlinear_backward(const float* dout, const float* xeff, const float* weff, int64_t N,
                                             int64_t C, int64_t OC, float* dx, float* dw, bn_threadpool* pool);

/* RoPE backward: the gradient dx (N,H,D) of rotated q or k, in place, rotated back (the transpose of forward),
 * with the positions and table that bn_rope_f32_table was given. */
BN_API bn_status bn_train_rope_backward(float* dx, int64_t N, int64_t H, int64_t D, const int32_t* pos,
                                        const float* cos, const float* sin, int64_t n_pos);

/* Causal grouped-query attention over B sequences of T tokens (positions 0..T-1):
 * q (B,T,H,D), k, v (B,T,Hkv,D) -> out (B,T,H,D), and probs (B,H,T,T): the softmax rows for backward (row t
 * holds t+1 values, the rest 0). Scores (q.k) * D^-0.5 as bn_attention. Backward: dq (B,T,H,D) +=,
 * dk, dv (B,T,Hkv,D) += from dout. work: bn_train_attention_work_size floats. */
BN_API bn_status bn_train_attention_work_size(const bn_threadpool* pool, int64_t T, int64_t* out);
BN_API bn_status bn_train_attention_forward(const float* q, const float* k, const float* v, int64_t B, int64_t T,
                                            int64_t H, int64_t Hkv, int64_t D, float* probs, float* out,
                                            bn_threadpool* pool);
BN_API bn_status bn_train_attention_backward(const float* dout, const float* q, const float* k, const float* v,
                                             const float* probs, int64_t B, int64_t T, int64_t H, int64_t Hkv,
                                             int64_t D, float* dq, float* dk, float* dv, float* work,
                                             int64_t work_len, bn_threadpool* pool);

/* Gated activation backward (forward: bn_gated_act_f32): dgate (n) +=, dup (n) += from dout (n). */
BN_API bn_status bn_train_gated_act_backward(bn_activation act, const float* dout, const float* gate,
                                             const float* up, int64_t n, float* dgate, float* dup);

/* Tied LM head: h (N,C), E (V,C) -> logits (N,V) = h . Eᵀ. Backward: dh (N,C) += dlogits . E,
 * dE (V,C) += dlogitsᵀ . h. */
BN_API bn_status bn_train_lm_head_forward(const float* h, int64_t N, int64_t C, const float* E, int64_t V,
                                          float* logits, bn_threadpool* pool);
BN_API bn_status bn_train_lm_head_backward(const float* dlogits, const float* h, const float* E, int64_t N,
                                           int64_t C, int64_t V, float* dh, float* dE, bn_threadpool* pool);

/* Cross-entropy fused with the softmax: logits (N,V), targets (N) (-1: ignored) -> losses (N) (0 where
 * ignored), and where dlogits != NULL, dlogits (N,V) = (softmax(logits) - onehot(target)) * grad_scale
 * (overwritten, not accumulated; 0 rows where ignored). dlogits may be logits. */
BN_API bn_status bn_train_cross_entropy(const float* logits, const int32_t* targets, int64_t N, int64_t V,
                                        float grad_scale, float* losses, float* dlogits, bn_threadpool* pool);

/* Optimizer updates over n floats, as PyTorch computes them.
 * AdamW (torch.optim.AdamW, decoupled decay): p *= 1 - lr*wd; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g²;
 *   p -= (lr / (1 - b1^step)) * m / (sqrt(v) / sqrt(1 - b2^step) + eps); step >= 1.
 * SGD (torch.optim.SGD, dampening 0): d = g + wd*p; with momentum: buf = d at step 1, else momentum*buf + d;
 *   d = nesterov ? d + momentum*buf : buf; p -= lr * d. buf may be NULL when momentum == 0. */
BN_API bn_status bn_adamw_update(float* params, const float* grads, float* m, float* v, int64_t n, float lr,
                                 float beta1, float beta2, float eps, float weight_decay, int64_t step);
BN_API bn_status bn_sgd_update(float* params, const float* grads, float* buf, int64_t n, float lr, float momentum,
                               float weight_decay, int32_t nesterov, int64_t step);

/* ---------------------------------------------------------------------------------------------------------
 * Trainer: a whole model's forward and backward in one call per micro-batch
 *
 * A bn_trainer owns float32 master weights, their gradients, optimizer state and the activations of one
 * micro-batch of up to `batch` sequences of up to `seq_len` tokens (seq_len <= max_positions), for the model of
 * bn_model_config: the same decoder as bn_context (see "Model forward pass"), so at blend 1 its logits are the
 * inference logits of the same weights quantized. Tensors are indexed in this order, with HF names:
 *   model.embed_tokens.weight (V,C; also the tied LM head), then for each layer i
 *   model.layers.i.input_layernorm.weight, self_attn.{q,k,v,o}_proj.weight, self_attn.attn_sub_norm.weight,
 *   post_attention_layernorm.weight, mlp.{gate,up,down}_proj.weight, mlp.ffn_sub_norm.weight; then
 *   model.norm.weight.
 * New trainers hold zeros; the caller writes initial weights (bn_trainer_write). Results do not depend on the
 * number of threads.
 * ------------------------------------------------------------------------------------------------------- */
typedef struct bn_trainer bn_trainer;

/* Which float buffer of a tensor bn_trainer_read / bn_trainer_write address. */
typedef enum bn_train_buffer {
    BN_TRAIN_PARAM = 0,   /* master weights */
    BN_TRAIN_GRAD = 1,    /* accumulated gradients */
    BN_TRAIN_MOMENT1 = 2, /* AdamW first moment m, or the SGD momentum buffer */
    BN_TRAIN_MOMENT2 = 3  /* AdamW second moment v */
} bn_train_buffer;

typedef enum bn_optimizer_kind { BN_OPT_ADAMW = 0, BN_OPT_SGD = 1 } bn_optimizer_kind;

/* One optimizer step's settings (schedules are the caller's: it passes this step's lr and weight decay). */
typedef struct bn_optimizer_params {
    int32_t kind;         /* a bn_optimizer_kind */
    int32_t nesterov;     /* SGD only */
    float lr;
    float beta1;          /* AdamW */
    float beta2;          /* AdamW */
    float eps;            /* AdamW */
    float weight_decay;   /* times each tensor's decay multiplier (bn_trainer_set_decay, default 1) */
    float momentum;       /* SGD */
    int64_t step;         /* 1-based count of optimizer steps, this one included (AdamW bias correction) */
} bn_optimizer_params;

/* Scratch and activations for (batch, seq_len) come from `mem` (NULL: bn_pool_default()); `threads` (NULL: this
 * thread) runs the work. The pools must outlive the trainer. */
BN_API bn_status bn_trainer_create(const bn_model_config* config, int64_t batch, int64_t seq_len, bn_pool* mem,
                                   bn_threadpool* threads, bn_trainer** out);
BN_API bn_status bn_trainer_destroy(bn_trainer* trainer);
BN_API int32_t bn_trainer_tensor_count(const bn_trainer* trainer);
/* name: the HF name (valid while the trainer lives); rows, cols: its shape (norms: rows 1, cols n);
 * is_ternary: 1 for the seven projections of each layer (BitLinear), 0 otherwise. */
BN_API bn_status bn_trainer_tensor_info(const bn_trainer* trainer, int32_t index, const char** name, int64_t* rows,
                                        int64_t* cols, int32_t* is_ternary);
BN_API bn_status bn_trainer_find_tensor(const bn_trainer* trainer, const char* name, int32_t* index);
/* Copies a tensor's buffer out / in (n = rows*cols floats exactly). */
BN_API bn_status bn_trainer_read(const bn_trainer* trainer, bn_train_buffer which, int32_t index, float* dst,
                                 int64_t n);
BN_API bn_status bn_trainer_write(bn_trainer* trainer, bn_train_buffer which, int32_t index, const float* src,
                                  int64_t n);
/* A tensor's weight-decay multiplier (default 1; e.g. 0 to exempt norms). */
BN_API bn_status bn_trainer_set_decay(bn_trainer* trainer, int32_t index, float multiplier);

BN_API bn_status bn_trainer_zero_grad(bn_trainer* trainer);
/* One micro-batch: inputs, targets (B,T) (B <= batch, T <= seq_len; targets -1 are ignored). *loss = mean
 * cross-entropy over the counted targets; grads += d(loss * grad_scale)/dparams (grad_scale 1/k for k
 * accumulated micro-batches). blend: progressive quantization, as bn_train_bitlinear_prepare. */
BN_API bn_status bn_trainer_forward_backward(bn_trainer* trainer, const int32_t* inputs, const int32_t* targets,
                                             int64_t B, int64_t T, float blend, float grad_scale, float* loss);
/* Forward only: *loss as above and *n_targets the count of targets counted; logits (B,T,V) when not NULL. */
BN_API bn_status bn_trainer_evaluate(bn_trainer* trainer, const int32_t* inputs, const int32_t* targets, int64_t B,
                                     int64_t T, float blend, float* loss, int64_t* n_targets, float* logits,
                                     int64_t logits_len);
/* The global L2 norm of all gradients (summed in double), and a scale of all gradients (clipping: by
 * max_norm / norm when norm > max_norm). */
BN_API bn_status bn_trainer_grad_norm(const bn_trainer* trainer, double* out);
BN_API bn_status bn_trainer_scale_grads(bn_trainer* trainer, float factor);
/* One optimizer step over every tensor with the accumulated gradients (which it leaves as they are). */
BN_API bn_status bn_trainer_optimizer_step(bn_trainer* trainer, const bn_optimizer_params* params);

#ifdef __cplusplus
}
#endif

#endif /* BITNET_H */
