/* bitnet-bench matmul / bitnet-bench stream: the ternary matmul kernels against the memory bandwidth floor.
 *
 *   stream   STREAM-style read bandwidth: every thread sums its share of a buffer far larger than the last-level
 *            cache (default 1 GiB), median of repetitions, 1 and 2 threads.
 *   matmul   the same bandwidth measurement, then GEMV (T = 1) and GEMM (T = 128) on the bitnet-b1.58-2B4T shapes
 *            (q/o 2560x2560, k/v 640x2560, gate/up 6912x2560, down 2560x6912), for every kernel variant this CPU
 *            runs (dispatch restricted with bn_cpu_set_enabled) and 1 and 2 threads, in two regimes:
 *              resident   one matrix, called again and again (it stays in L2/L3);
 *              streaming  the 210 matrices of the 30-layer model (~540 MB packed), called in model order, so
 *                         every call reads its weights from DRAM: the regime of a real decode step.
 *            Reported: median time per call, weight bytes per second and its share of the measured bandwidth
 *            (the bandwidth floor of CLI.md), GOPS (2 * M * K * T / time) for GEMM, and one line per streaming
 *            sweep over the whole model.
 *            --layout picks the weight layouts, a comma list: i2_s (the default, the tables as before), tq1 (ggml's
 *            TQ1_0 blocks read in place, 54 bytes per 256 weights: weight GB/s counts those bytes), x4 (I2_S blocks
 *            with groups of 4 rows interleaved, BN_TLAYOUT_I2S_X4), both (i2_s,tq1) or all; one set of tables per
 *            layout, for comparing them on the same run.
 * Markdown by default, --json for a machine-readable document. Only the public C API is used. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bitnet.h"

#if defined(_WIN32)
#  include <malloc.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#  include <immintrin.h>
#  define BN_BENCH_X86 1
#endif

/* ---- small utilities ---------------------------------------------------------------------------------- */

static double now_s(void) { return (double)bn_bench_now_ns() * 1e-9; }

static void* alloc64(size_t n) {
#if defined(_WIN32)
    return _aligned_malloc(n, 64);
#else
    void* p = NULL;
    return posix_memalign(&p, 64, n) == 0 ? p : NULL;
#endif
}

static void free64(void* p) {
#if defined(_WIN32)
    _aligned_free(p);
#else
    free(p);
#endif
}

static double median(double* v, int n) { return n > 0 ? bn_bench_median(v, (size_t)n) : 0.0; }

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1DULL;
}

/* Random bytes, 8 at a time. */
static void fill_random(void* p, size_t n) {
    uint8_t* b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint64_t r = rnd();
        memcpy(b + i, &r, 8);
    }
    for (; i < n; i++) b[i] = (uint8_t)rnd();
}

/* Random valid TQ1_0 bytes: each one of the 243 encodings of five trits, ceil(v * 256 / 243) (the kernels read
 * qh and the d bytes as they read any byte, so their speed does not depend on which bytes these are). */
static void fill_weights_tq1(uint8_t* w, size_t n) {
    static uint8_t table[243];
    static int ready;
    if (!ready) {
        for (int v = 0; v < 243; v++) table[v] = (uint8_t)((v * 256 + 242) / 243);
        ready = 1;
    }
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = rnd();
        for (size_t j = i; j < i + 8 && j < n; j++, r >>= 8) w[j] = table[(r & 0xFF) % 243];
    }
}

/* Random valid I2_S bytes (every 2-bit code 0..2), the way a packed model looks. */
static void fill_weights(uint8_t* w, size_t n) {
    static uint8_t table[81];
    static int ready;
    if (!ready) {
        for (int i = 0; i < 81; i++) table[i] = (uint8_t)((i / 27) << 6 | (i / 9 % 3) << 4 | (i / 3 % 3) << 2 | i % 3);
        ready = 1;
    }
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = rnd();
        for (size_t j = i; j < i + 8 && j < n; j++, r >>= 8) w[j] = table[(r & 0xFF) % 81];
    }
}

typedef struct options {
    int json;
    int reps;         /* repetitions of each resident measurement */
    int sweeps;       /* streaming passes over the model */
    int layers;       /* layers of the streaming model */
    int gemm_tokens;  /* T of the GEMM measurements */
    int stream_mib;   /* size of the bandwidth buffer */
    int threads[4];
    int n_threads;
    int do_gemv, do_gemm, do_resident, do_streaming;
    int scalar_streaming_gemm; /* the scalar GEMM over the whole model takes minutes: off unless asked */
    const char* only;          /* comma-separated variant names, NULL = all */
    int layouts;               /* bit l: bn_tlayout l */
} options;

#define LAYOUT_BIT(l) (1 << (int)(l))
#define N_LAYOUTS 3
static const char* layout_name(bn_tlayout l) {
    return l == BN_TLAYOUT_TQ1 ? "tq1" : l == BN_TLAYOUT_I2S_X4 ? "x4" : "i2_s";
}

/* "i2_s,x4" -> the layouts' bits; 0 for a name it does not know. */
static int parse_layouts(const char* v) {
    int bits = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", v);
    for (char* t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        if (strcmp(t, "both") == 0) bits |= LAYOUT_BIT(BN_TLAYOUT_I2S) | LAYOUT_BIT(BN_TLAYOUT_TQ1);
        else if (strcmp(t, "all") == 0) bits |= (1 << N_LAYOUTS) - 1;
        else {
            int found = 0;
            for (int l = 0; l < N_LAYOUTS; l++)
                if (strcmp(t, layout_name((bn_tlayout)l)) == 0) bits |= LAYOUT_BIT(l), found = 1;
            if (!found) return 0;
        }
    }
    return bits;
}

static int parse_threads(const char* s, options* o) {
    o->n_threads = 0;
    while (*s && o->n_threads < 4) {
        char* end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 256) return 0;
        o->threads[o->n_threads++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return 0;
    }
    return o->n_threads > 0;
}

static void usage_matmul(FILE* to) {
    fprintf(to,
            "usage: bitnet-bench matmul [--json] [--threads 1,2] [--reps N] [--sweeps N] [--layers N]\n"
            "                           [--tokens T] [--stream-mib N] [--variants avx2,avx512,...]\n"
            "                           [--gemv-only | --gemm-only] [--resident-only | --streaming-only]\n"
            "                           [--scalar-streaming-gemm] [--quick] [--layout i2_s,tq1,x4|both|all]\n");
}

/* 1: parsed; 0: a bad option (message printed); -1: --help. */
static int parse(int argc, char** argv, options* o, int for_stream) {
    *o = (options){0, 15, 3, 30, 128, 1024, {1, 2}, 2, 1, 1, 1, 1, 0, NULL, LAYOUT_BIT(BN_TLAYOUT_I2S)};
    if (for_stream) o->reps = 7;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                                                        \
    do {                                                                                                    \
        if (!v) {                                                                                           \
            fprintf(stderr, "%s needs a value\n", a);                                                       \
            return 0;                                                                                       \
        }                                                                                                   \
        i++;                                                                                                \
    } while (0)
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return -1;
        else if (strcmp(a, "--json") == 0) o->json = 1;
        else if (strcmp(a, "--threads") == 0) {
            NEED_VALUE();
            if (!parse_threads(v, o)) {
                fprintf(stderr, "--threads wants a list such as 1,2\n");
                return 0;
            }
        } else if (strcmp(a, "--reps") == 0) {
            NEED_VALUE();
            o->reps = atoi(v);
        } else if (strcmp(a, "--sweeps") == 0) {
            NEED_VALUE();
            o->sweeps = atoi(v);
        } else if (strcmp(a, "--layers") == 0) {
            NEED_VALUE();
            o->layers = atoi(v);
        } else if (strcmp(a, "--tokens") == 0) {
            NEED_VALUE();
            o->gemm_tokens = atoi(v);
        } else if (strcmp(a, "--stream-mib") == 0 || strcmp(a, "--mib") == 0) {
            NEED_VALUE();
            o->stream_mib = atoi(v);
        } else if (strcmp(a, "--variants") == 0) {
            NEED_VALUE();
            o->only = v;
        } else if (strcmp(a, "--layout") == 0) {
            NEED_VALUE();
            o->layouts = parse_layouts(v);
            if (o->layouts == 0) {
                fprintf(stderr, "--layout wants a comma list of i2_s, tq1, x4, both, all\n");
                return 0;
            }
        } else if (strcmp(a, "--gemv-only") == 0) o->do_gemm = 0;
        else if (strcmp(a, "--gemm-only") == 0) o->do_gemv = 0;
        else if (strcmp(a, "--resident-only") == 0) o->do_streaming = 0;
        else if (strcmp(a, "--streaming-only") == 0) o->do_resident = 0;
        else if (strcmp(a, "--scalar-streaming-gemm") == 0) o->scalar_streaming_gemm = 1;
        else if (strcmp(a, "--quick") == 0) {
            o->reps = 5;
            o->sweeps = 1;
            o->stream_mib = 1024;
        } else {
            fprintf(stderr, "unknown option %s\n", a);
            return 0;
        }
#undef NEED_VALUE
    }
    if (o->reps < 1 || o->sweeps < 1 || o->layers < 1 || o->layers > 1000 || o->gemm_tokens < 2 ||
        o->gemm_tokens > 8192 || o->stream_mib < 16) {
        fprintf(stderr, "an option is out of range (reps, sweeps >= 1; 1 <= layers <= 1000; "
                        "2 <= tokens <= 8192; stream-mib >= 16)\n");
        return 0;
    }
    return 1;
}

/* ---- read bandwidth ----------------------------------------------------------------------------------- */

typedef uint64_t read_fn(const uint64_t* p, int64_t n);
typedef struct stream_job {
    read_fn* read;
    const uint64_t* buf;
    int64_t words_per_chunk;
    int64_t n_words;
    uint64_t sink[256 * 8]; /* one cache line per worker */
} stream_job;

/* Sum of p[0..n) 64-bit words. The floor must be the fastest read the CPU can do, so on x86 the widest loads
 * it runs are used whatever flags this file is compiled with (SSE2 loads read ~20% slower on one core here). */
static uint64_t read_generic(const uint64_t* p, int64_t n) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
        s4 += p[i + 4];
        s5 += p[i + 5];
        s6 += p[i + 6];
        s7 += p[i + 7];
    }
    for (; i < n; i++) s0 += p[i];
    return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
}

#if BN_BENCH_X86
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint64_t* p, int64_t n) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_add_epi64(s0, _mm256_load_si256((const __m256i*)(p + i)));
        s1 = _mm256_add_epi64(s1, _mm256_load_si256((const __m256i*)(p + i + 4)));
        s2 = _mm256_add_epi64(s2, _mm256_load_si256((const __m256i*)(p + i + 8)));
        s3 = _mm256_add_epi64(s3, _mm256_load_si256((const __m256i*)(p + i + 12)));
    }
    uint64_t out[4];
    _mm256_storeu_si256((__m256i*)out, _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3)));
    return out[0] + out[1] + out[2] + out[3] + read_generic(p + i, n - i);
}

__attribute__((target("avx512f"))) static uint64_t read_avx512(const uint64_t* p, int64_t n) {
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_add_epi64(s0, _mm512_load_si512(p + i));
        s1 = _mm512_add_epi64(s1, _mm512_load_si512(p + i + 8));
        s2 = _mm512_add_epi64(s2, _mm512_load_si512(p + i + 16));
        s3 = _mm512_add_epi64(s3, _mm512_load_si512(p + i + 24));
    }
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3))) +
           read_generic(p + i, n - i);
}
#endif

static const char* g_read_name = "64-bit loads";

static read_fn* pick_read(const char** name) {
#if BN_BENCH_X86
    const uint64_t f = bn_cpu_features();
    if (f & BN_CPU_AVX512F) {
        *name = "avx512 loads";
        return read_avx512;
    }
    if (f & BN_CPU_AVX2) {
        *name = "avx2 loads";
        return read_avx2;
    }
#endif
    *name = "64-bit loads";
    return read_generic;
}

/* Sums chunks [c0, c1) of the buffer. */
static void stream_chunks(void* ctx, int64_t c0, int64_t c1, int32_t worker) {
    stream_job* j = ctx;
    const int64_t i = c0 * j->words_per_chunk;
    const int64_t end = c1 * j->words_per_chunk < j->n_words ? c1 * j->words_per_chunk : j->n_words;
    j->sink[(worker & 255) * 8] += j->read(j->buf + i, end - i);
}

/* The STREAM-style read: one buffer of `mib` MiB, faulted in, read by a pool's threads in 4 MiB chunks. */
static stream_job g_stream; /* large sink array: not on the stack */

static int stream_open(int mib) {
    const size_t bytes = (size_t)mib << 20;
    uint64_t* buf = alloc64(bytes);
    if (!buf) return 0;
    memset(buf, 1, bytes); /* fault every page in before timing */
    g_stream.read = pick_read(&g_read_name);
    g_stream.buf = buf;
    g_stream.n_words = (int64_t)(bytes / 8);
    g_stream.words_per_chunk = (4 << 20) / 8; /* 4 MiB chunks, handed out dynamically */
    return 1;
}

static void stream_close(void) {
    free64((void*)g_stream.buf);
    g_stream.buf = NULL;
}

/* GB/s (1e9 bytes per second) of one full read of the open buffer with the pool's threads. */
static double stream_once(bn_threadpool* pool) {
    const int64_t chunks = (g_stream.n_words + g_stream.words_per_chunk - 1) / g_stream.words_per_chunk;
    const double t0 = now_s();
    bn_threadpool_parallel_for(pool, chunks, 1, stream_chunks, &g_stream);
    const double dt = now_s() - t0;
    return dt > 0 ? (double)g_stream.n_words * 8 / dt / 1e9 : 0.0;
}

/* Median GB/s of `reps` full reads of a `mib` MiB buffer with `threads` threads; *best the fastest. */
static double measure_bandwidth(int mib, int threads, int reps, double* best) {
    bn_threadpool* pool = NULL;
    if (!stream_open(mib)) return 0.0;
    if (threads > 1 && bn_threadpool_create(threads, &pool) != BN_OK) {
        stream_close();
        return 0.0;
    }
    double* g = malloc(sizeof(double) * (size_t)reps);
    stream_once(pool); /* warm-up pass */
    for (int r = 0; r < reps; r++) g[r] = stream_once(pool);
    const double m = median(g, reps);
    if (best) {
        *best = 0;
        for (int r = 0; r < reps; r++) *best = g[r] > *best ? g[r] : *best;
    }
    free(g);
    bn_threadpool_destroy(pool);
    stream_close();
    return m;
}

/* ---- variants ----------------------------------------------------------------------------------------- */


/* The implementation dispatch chose for `op` ("" if the op is unknown). */
static const char* impl_of(const char* op) {
    for (int32_t i = 0; i < bn_kernel_count(); i++) {
        const char *o, *impl;
        if (bn_kernel_info(i, &o, &impl) == BN_OK && strcmp(o, op) == 0) return impl;
    }
    return "";
}

/* Restricts dispatch to variant v; returns 1 when the CPU runs it and dispatch names it for both ops of the layout
 * (a variant that a layout lacks, e.g. avxvnni for TQ1, is skipped rather than measured under another name). */
static int select_variant(const bn_bench_variant* v, bn_tlayout layout) {
    if ((bn_cpu_features() & v->mask) != v->mask) return 0;
    bn_cpu_set_enabled(v->mask);
    const char* op = layout == BN_TLAYOUT_TQ1 ? "tq1" : layout == BN_TLAYOUT_I2S_X4 ? "x4" : "i2";
    char gemv[32], gemm[32];
    snprintf(gemv, sizeof gemv, "tmatmul_%s_gemv", op);
    snprintf(gemm, sizeof gemm, "tmatmul_%s_gemm", op);
    return strcmp(impl_of(gemv), v->name) == 0 && strcmp(impl_of(gemm), v->name) == 0;
}

/* Packed bytes of an M x K matrix in the layout. */
static size_t packed_bytes(bn_tlayout layout, int64_t M, int64_t K) {
    size_t n = 0;
    return bn_tmatmul_packed_size(layout, M, K, &n) == BN_OK ? n : 0;
}

static void fill_layout(bn_tlayout layout, uint8_t* w, size_t n) {
    if (layout == BN_TLAYOUT_TQ1) fill_weights_tq1(w, n);
    else fill_weights(w, n);
}

static int wanted(const options* o, const char* name) {
    if (!o->only) return 1;
    const size_t n = strlen(name);
    for (const char* p = o->only; (p = strstr(p, name)) != NULL; p += n)
        if ((p == o->only || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) return 1;
    return 0;
}

/* ---- the model's matrices ----------------------------------------------------------------------------- */

typedef struct shape {
    const char* name;
    int64_t M, K;
} shape;

/* One 2B4T layer in call order; q/o, k/v and gate/up share a shape. */
static const shape g_layer[] = {{"q", 2560, 2560},    {"k", 640, 2560},     {"v", 640, 2560}, {"o", 2560, 2560},
                                {"gate", 6912, 2560}, {"up", 6912, 2560}, {"down", 2560, 6912}};
#define LAYER_MATS 7
/* The distinct shapes, each reported once. */
static const shape g_shapes[] = {{"q,o", 2560, 2560}, {"k,v", 640, 2560}, {"gate,up", 6912, 2560}, {"down", 2560, 6912}};
#define N_SHAPES 4

static int shape_of(int64_t M, int64_t K) {
    for (int s = 0; s < N_SHAPES; s++)
        if (g_shapes[s].M == M && g_shapes[s].K == K) return s;
    return 0;
}

/* Activations for T tokens of K = 2560 and of K = 6912, with their scales and sums. */
typedef struct acts {
    int64_t T;
    int8_t* q[2];
    float* a;
    int32_t* sums[2];
    float* y;
} acts;

static int make_acts(acts* x, int64_t T) {
    const int64_t Ks[2] = {2560, 6912};
    x->T = T;
    x->a = malloc(sizeof(float) * (size_t)T);
    x->y = alloc64(sizeof(float) * (size_t)(T * 6912));
    if (!x->a || !x->y) return 0;
    for (int i = 0; i < 2; i++) {
        x->q[i] = alloc64((size_t)(T * Ks[i]));
        x->sums[i] = malloc(sizeof(int32_t) * (size_t)T);
        if (!x->q[i] || !x->sums[i]) return 0;
        fill_random(x->q[i], (size_t)(T * Ks[i]));
        for (int64_t t = 0; t < T; t++) {
            int32_t s = 0;
            for (int64_t k = 0; k < Ks[i]; k++) s += x->q[i][t * Ks[i] + k];
            x->sums[i][t] = s;
        }
    }
    for (int64_t t = 0; t < T; t++) x->a[t] = 20.0f + (float)(t % 7);
    return 1;
}

static void free_acts(acts* x) {
    for (int i = 0; i < 2; i++) {
        free64(x->q[i]);
        free(x->sums[i]);
    }
    free(x->a);
    free64(x->y);
}

static bn_status call(bn_tlayout layout, const uint8_t* w, int64_t M, int64_t K, const acts* x, int64_t T,
                      bn_threadpool* pool) {
    const int i = K == 2560 ? 0 : 1;
    return bn_tmatmul_i8(layout, w, M, K, 0.75f, x->q[i], x->a, x->sums[i], T, x->y, pool);
}

/* ---- results ------------------------------------------------------------------------------------------ */

typedef struct result {
    bn_tlayout layout;
    const char* op;      /* "gemv" or "gemm" */
    const char* variant;
    const char* regime;  /* "resident" or "streaming" */
    int threads;
    int shape;           /* index into g_shapes, or -1 for a whole-model sweep */
    int64_t T;
    double seconds;      /* median per call (per sweep when shape == -1) */
    double bytes;        /* weight bytes per call (per sweep) */
    double ops;          /* 2 * M * K * T per call (per sweep) */
    double bandwidth;    /* measured read GB/s for this thread count */
} result;

#define MAX_RESULTS 1024
static result g_results[MAX_RESULTS];
static int g_n_results;

static void add_result(result r) {
    if (g_n_results < MAX_RESULTS) g_results[g_n_results++] = r;
}

/* ---- the measurements --------------------------------------------------------------------------------- */

/* Resident: one matrix of each shape, warmed up, then `reps` timed calls. */
static void run_resident(const options* o, bn_tlayout layout, const bn_bench_variant* v, int threads, bn_threadpool* pool,
                         const acts* x1, const acts* xt, double bw) {
    for (int s = 0; s < N_SHAPES; s++) {
        const int64_t M = g_shapes[s].M, K = g_shapes[s].K;
        const size_t bytes = packed_bytes(layout, M, K);
        uint8_t* w = alloc64(bytes);
        if (!w) continue;
        fill_layout(layout, w, bytes);
        for (int op = 0; op < 2; op++) {
            if ((op == 0 && !o->do_gemv) || (op == 1 && !o->do_gemm)) continue;
            const acts* x = op == 0 ? x1 : xt;
            const int64_t T = x->T;
            /* the scalar GEMM is slow: fewer repetitions */
            const int reps = op == 1 && strcmp(v->name, "scalar") == 0 ? 1 : (op == 0 ? o->reps * 4 : o->reps);
            double* t = malloc(sizeof(double) * (size_t)reps);
            for (int i = 0; i < (op == 0 ? 5 : 1); i++) call(layout, w, M, K, x, T, pool);
            for (int r = 0; r < reps; r++) {
                const double t0 = now_s();
                call(layout, w, M, K, x, T, pool);
                t[r] = now_s() - t0;
            }
            add_result((result){layout, op == 0 ? "gemv" : "gemm", v->name, "resident", threads, s, T,
                                median(t, reps), (double)bytes, 2.0 * (double)M * (double)K * (double)T, bw});
            free(t);
        }
        free64(w);
    }
}

/* Streaming: `sweeps` passes over the whole model in call order; every call is timed on its own. Right before each
 * pass the STREAM-style read runs once on the same pool (when its buffer is open), and the rows' bandwidth is the
 * median of those readings rather than the one taken at the start: this VM's read bandwidth moves (46-80 GB/s seen
 * on 2 threads within minutes), and a floor read next to the sweeps is the fair one. */
static void run_streaming(const options* o, bn_tlayout layout, const bn_bench_variant* v, int threads, bn_threadpool* pool,
                          uint8_t* const* mats, const acts* x1, const acts* xt, double bw) {
    const int n_mats = LAYER_MATS * o->layers;
    for (int op = 0; op < 2; op++) {
        if ((op == 0 && !o->do_gemv) || (op == 1 && !o->do_gemm)) continue;
        if (op == 1 && strcmp(v->name, "scalar") == 0 && !o->scalar_streaming_gemm) continue;
        const acts* x = op == 0 ? x1 : xt;
        const int64_t T = x->T;
        const int sweeps = op == 0 ? o->sweeps * 3 : o->sweeps;
        double* per_shape[N_SHAPES];
        int counts[N_SHAPES] = {0};
        for (int s = 0; s < N_SHAPES; s++) per_shape[s] = malloc(sizeof(double) * (size_t)(n_mats * sweeps));
        double* sweep_t = malloc(sizeof(double) * (size_t)sweeps);
        double* sweep_bw = malloc(sizeof(double) * (size_t)sweeps);
        double sweep_bytes = 0, sweep_ops = 0;
        /* one untimed pass so that the first timed one does not pay for page-table walks of a cold process */
        for (int m = 0; m < n_mats; m++)
            call(layout, mats[m], g_layer[m % LAYER_MATS].M, g_layer[m % LAYER_MATS].K, x, T, pool);
        for (int sw = 0; sw < sweeps; sw++) {
            sweep_bw[sw] = g_stream.buf ? stream_once(pool) : bw;
            double total = 0;
            sweep_bytes = sweep_ops = 0;
            for (int m = 0; m < n_mats; m++) {
                const int64_t M = g_layer[m % LAYER_MATS].M, K = g_layer[m % LAYER_MATS].K;
                const double t0 = now_s();
                call(layout, mats[m], M, K, x, T, pool);
                const double dt = now_s() - t0;
                const int s = shape_of(M, K);
                per_shape[s][counts[s]++] = dt;
                total += dt;
                sweep_bytes += (double)packed_bytes(layout, M, K);
                sweep_ops += 2.0 * (double)M * (double)K * (double)T;
            }
            sweep_t[sw] = total;
        }
        const double bw_beside = median(sweep_bw, sweeps);
        free(sweep_bw);
        for (int s = 0; s < N_SHAPES; s++) {
            add_result((result){layout, op == 0 ? "gemv" : "gemm", v->name, "streaming", threads, s, T,
                                median(per_shape[s], counts[s]), (double)packed_bytes(layout, g_shapes[s].M, g_shapes[s].K),
                                2.0 * (double)g_shapes[s].M * (double)g_shapes[s].K * (double)T, bw_beside});
            free(per_shape[s]);
        }
        add_result((result){layout, op == 0 ? "gemv" : "gemm", v->name, "streaming", threads, -1, T,
                            median(sweep_t, sweeps), sweep_bytes, sweep_ops, bw_beside});
        free(sweep_t);
    }
}

/* ---- output ------------------------------------------------------------------------------------------- */

/* "I2_S", "I2_S and TQ1", ... for the layouts of o (upper case), or "i2_s,tq1" (JSON). */
static const char* layouts_text(const options* o, int json) {
    static char buf[64];
    static const char* upper[N_LAYOUTS] = {"I2_S", "TQ1", "I2S_X4"};
    buf[0] = 0;
    int n = 0;
    for (int l = 0; l < N_LAYOUTS; l++)
        if (o->layouts & LAYOUT_BIT(l)) {
            const size_t len = strlen(buf);
            snprintf(buf + len, sizeof buf - len, "%s%s", n++ ? (json ? "," : " and ") : "",
                     json ? layout_name((bn_tlayout)l) : upper[l]);
        }
    return buf;
}

static void print_markdown(const options* o, const double* bws, const double* bw_best) {
    printf("## Ternary matmul (%s), %s\n\n", layouts_text(o, 0), bn_cpu_name());
    printf("Read bandwidth (STREAM-style sum over %d MiB with %s, median of %d):\n\n", o->stream_mib, g_read_name,
           o->reps);
    printf("| threads | GB/s | best GB/s |\n|---:|---:|---:|\n");
    for (int i = 0; i < o->n_threads; i++) printf("| %d | %.1f | %.1f |\n", o->threads[i], bws[i], bw_best[i]);
    for (int tab = 0; tab < 2 * N_LAYOUTS; tab++) {
        const int op = tab % 2;
        const bn_tlayout layout = (bn_tlayout)(tab / 2);
        const char* opname = op == 0 ? "gemv" : "gemm";
        int any = 0;
        for (int i = 0; i < g_n_results; i++)
            any |= strcmp(g_results[i].op, opname) == 0 && g_results[i].layout == layout;
        if (!any) continue;
        /* the I2_S tables keep their titles (bench/compare.sh reads them); TQ1's say so */
        const char* which = layout == BN_TLAYOUT_TQ1      ? ", TQ1 layout (ggml TQ1_0 blocks read in place)"
                            : layout == BN_TLAYOUT_I2S_X4 ? ", I2S_X4 layout (I2_S, groups of 4 rows interleaved)"
                                                          : "";
        if (op == 0)
            printf("\nGEMV (T = 1)%s: median time per call; weight GB/s = packed bytes / time; %% of the read bandwidth "
                   "at the same thread count (resident: the reading above; streaming: the median of the readings taken "
                   "right before each sweep, last column).\n\n"
                   "| variant | threads | regime | shape (M x K) | us/call | weight GB/s | %% of bandwidth | read GB/s |\n"
                   "|---|---:|---|---|---:|---:|---:|---:|\n",
                   which);
        else
            printf("\nGEMM (T = %d)%s: median time per call; GOPS = 2 * M * K * T / time.\n\n"
                   "| variant | threads | regime | shape (M x K) | ms/call | GOPS | weight GB/s |\n"
                   "|---|---:|---|---|---:|---:|---:|\n",
                   o->gemm_tokens, which);
        for (int i = 0; i < g_n_results; i++) {
            const result* r = &g_results[i];
            if (strcmp(r->op, opname) != 0 || r->layout != layout) continue;
            char shape[64];
            if (r->shape < 0) snprintf(shape, sizeof shape, "whole model (%d matrices)", LAYER_MATS * o->layers);
            else snprintf(shape, sizeof shape, "%s %lldx%lld", g_shapes[r->shape].name, (long long)g_shapes[r->shape].M,
                          (long long)g_shapes[r->shape].K);
            const double gbps = r->bytes / r->seconds / 1e9;
            if (op == 0)
                printf("| %s | %d | %s | %s | %.1f | %.1f | %.0f%% | %.1f |\n", r->variant, r->threads, r->regime, shape,
                       r->seconds * 1e6, gbps, 100.0 * gbps / r->bandwidth, r->bandwidth);
            else
                printf("| %s | %d | %s | %s | %.2f | %.1f | %.2f |\n", r->variant, r->threads, r->regime, shape,
                       r->seconds * 1e3, r->ops / r->seconds / 1e9, gbps);
        }
    }
}

static void print_json(const options* o, const double* bws, const double* bw_best) {
    printf("{\n  \"cpu\": ");
    bn_bench_json_string(bn_cpu_name());
    printf(",\n  \"layout\": \"%s\",\n  \"stream_mib\": %d,\n  \"stream_loads\": \"%s\",\n  \"bandwidth\": [",
           layouts_text(o, 1), o->stream_mib, g_read_name);
    for (int i = 0; i < o->n_threads; i++)
        printf("%s{\"threads\": %d, \"gbps\": %.3f, \"best_gbps\": %.3f}", i ? ", " : "", o->threads[i], bws[i],
               bw_best[i]);
    printf("],\n  \"results\": [\n");
    for (int i = 0; i < g_n_results; i++) {
        const result* r = &g_results[i];
        const double gbps = r->bytes / r->seconds / 1e9;
        printf("    {\"layout\": \"%s\", \"op\": \"%s\", \"variant\": \"%s\", \"threads\": %d, \"regime\": \"%s\", \"shape\": \"%s\", "
               "\"m\": %lld, \"k\": %lld, \"t\": %lld, \"seconds\": %.9f, \"weight_bytes\": %.0f, "
               "\"weight_gbps\": %.3f, \"pct_bandwidth\": %.2f, \"read_gbps\": %.3f, \"gops\": %.3f}%s\n",
               layout_name(r->layout), r->op, r->variant, r->threads, r->regime, r->shape < 0 ? "model" : g_shapes[r->shape].name,
               (long long)(r->shape < 0 ? 0 : g_shapes[r->shape].M), (long long)(r->shape < 0 ? 0 : g_shapes[r->shape].K),
               (long long)r->T, r->seconds, r->bytes, gbps, 100.0 * gbps / r->bandwidth, r->bandwidth, r->ops / r->seconds / 1e9,
               i + 1 < g_n_results ? "," : "");
    }
    printf("  ]\n}\n");
}

/* ---- entry points ------------------------------------------------------------------------------------- */

int bn_bench_stream(int argc, char** argv) {
    options o;
    const int parsed = parse(argc, argv, &o, 1);
    if (parsed != 1) {
        fprintf(parsed < 0 ? stdout : stderr, "usage: bitnet-bench stream [--json] [--threads 1,2] [--reps N] [--mib N]\n");
        return parsed < 0 ? 0 : 2;
    }
    double bws[4], best[4];
    for (int i = 0; i < o.n_threads; i++) bws[i] = measure_bandwidth(o.stream_mib, o.threads[i], o.reps, &best[i]);
    if (o.json) {
        printf("{\"cpu\": ");
        bn_bench_json_string(bn_cpu_name());
        printf(", \"loads\": \"%s\", \"mib\": %d, \"reps\": %d, \"bandwidth\": [", g_read_name, o.stream_mib, o.reps);
        for (int i = 0; i < o.n_threads; i++)
            printf("%s{\"threads\": %d, \"gbps\": %.3f, \"best_gbps\": %.3f}", i ? ", " : "", o.threads[i], bws[i],
                   best[i]);
        printf("]}\n");
    } else {
        printf("Read bandwidth, %s (STREAM-style sum over %d MiB with %s, median of %d):\n\n", bn_cpu_name(),
               o.stream_mib, g_read_name, o.reps);
        printf("| threads | GB/s | best GB/s |\n|---:|---:|---:|\n");
        for (int i = 0; i < o.n_threads; i++) printf("| %d | %.1f | %.1f |\n", o.threads[i], bws[i], best[i]);
    }
    for (int i = 0; i < o.n_threads; i++)
        if (bws[i] <= 0) return 1;
    return 0;
}

int bn_bench_matmul(int argc, char** argv) {
    options o;
    const int parsed = parse(argc, argv, &o, 0);
    if (parsed != 1) {
        usage_matmul(parsed < 0 ? stdout : stderr);
        return parsed < 0 ? 0 : 2;
    }
    double bws[4], best[4];
    for (int i = 0; i < o.n_threads; i++) {
        bws[i] = measure_bandwidth(o.stream_mib, o.threads[i], o.reps, &best[i]);
        if (bws[i] <= 0) {
            fprintf(stderr, "could not measure the bandwidth (out of memory?)\n");
            return 1;
        }
    }
    acts x1 = {0}, xt = {0};
    if ((o.do_streaming && !stream_open(o.stream_mib)) || !make_acts(&x1, 1) || !make_acts(&xt, o.gemm_tokens)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    const int n_mats = LAYER_MATS * o.layers;
    const uint64_t saved = bn_cpu_features_enabled();
    for (int l = 0; l < N_LAYOUTS; l++) {
        const bn_tlayout layout = (bn_tlayout)l;
        if (!(o.layouts & LAYOUT_BIT(layout))) continue;
        /* the streaming model: 7 matrices per layer, each its own allocation, in call order (one layout at a time) */
        uint8_t** mats = NULL;
        if (o.do_streaming) {
            mats = calloc((size_t)n_mats, sizeof *mats);
            for (int m = 0; mats && m < n_mats; m++) {
                const size_t bytes = packed_bytes(layout, g_layer[m % LAYER_MATS].M, g_layer[m % LAYER_MATS].K);
                mats[m] = alloc64(bytes);
                if (!mats[m]) {
                    fprintf(stderr, "out of memory for the streaming model\n");
                    return 1;
                }
                fill_layout(layout, mats[m], bytes);
            }
        }
        for (int v = 0; v < BN_BENCH_N_VARIANTS; v++) {
            if (!wanted(&o, bn_bench_variants[v].name) || !select_variant(&bn_bench_variants[v], layout)) continue;
            for (int i = 0; i < o.n_threads; i++) {
                bn_threadpool* pool = NULL;
                if (o.threads[i] > 1 && bn_threadpool_create(o.threads[i], &pool) != BN_OK) continue;
                if (!o.json)
                    fprintf(stderr, "%s %s, %d thread(s)...\n", layout_name(layout), bn_bench_variants[v].name, o.threads[i]);
                if (o.do_resident) run_resident(&o, layout, &bn_bench_variants[v], o.threads[i], pool, &x1, &xt, bws[i]);
                if (o.do_streaming)
                    run_streaming(&o, layout, &bn_bench_variants[v], o.threads[i], pool, mats, &x1, &xt, bws[i]);
                bn_threadpool_destroy(pool);
            }
        }
        for (int m = 0; mats && m < n_mats; m++) free64(mats[m]);
        free(mats);
    }
    bn_cpu_set_enabled(saved);
    if (o.json) print_json(&o, bws, best);
    else print_markdown(&o, bws, best);
    free_acts(&x1);
    free_acts(&xt);
    stream_close();
    return 0;
}
