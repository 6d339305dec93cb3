/* bitnet-bench icount: exact instruction counts of one kernel call per variant, for comparisons free of timing noise.
 *
 *   bitnet-icount -- bitnet-bench icount [--variants scalar,avx2,...] [--ops gemv,gemm,q6k] [--tokens T]
 *                                        [--q6k-rows R] [--full] [--layout i2s|tq1|x4] [--rows M]
 *                                                                     (bench/icount.sh runs it, prints the table)
 *
 * For every kernel variant this CPU runs (dispatch restricted with bn_cpu_set_enabled, as bitnet-bench matmul does),
 * one call each of
 *   gemv   bn_tmatmul_i8, I2_S 2560x2560 (q/o of bitnet-b1.58-2B4T), T = 1
 *   gemm   the same matrix, T = 128 (--tokens)
 *   q6k    bn_lm_head over R = 16 rows of a Q6_K table with C = 2560, T = 1 (the whole call: the LM head's
 *          Q6_K kernel, dot_q6_k_q8_k or dot_q6_k, and whatever the call does once per h)
 * --layout tq1 takes the same calls over TQ1 rows (random bytes: every byte decodes; the kernels have no branches on
 * weight values), --layout x4 over BN_TLAYOUT_I2S_X4 rows, --rows M another number of rows (a multiple of 8; K stays
 * 2560). Both the default: as above.
 * Each call runs on one thread (pool NULL: the job runs inline on the calling thread, the one the tracer steps), each after one
 * untraced warm-up call, between the marks of icount.h.
 *
 * Single-stepping runs ~40 k instructions per second on a 2-core VM (more on bare metal), and a GEMM of 2560 rows is 30 M
 * (AVX-512) to 3.2 G (scalar) instructions. The kernels have no branches on weight or activation values and walk
 * the rows in tiles of R rows (R divides 8), so a call's count is exactly affine in M for M a multiple of 8:
 *   GEMM (vector variants) and the scalar GEMV: calls on 8, 16 and 24 rows at the real T; the line through the
 *     first two must hit the third exactly, then it is evaluated at M = 2560;
 *   scalar GEMM: a loop over tokens around a loop over rows (kernels/tmatmul.c), A + T * (B + M * C): calls on
 *     (8 rows, T 2), (16, 2), (8, 3) fix A, B, C, and (16, 3) must match exactly.
 * The vector GEMVs and the Q6_K rows are measured whole. --full measures every call whole (the scalar GEMM then
 * takes hours). Each row of the table says which way its number was obtained.
 *
 * Counted: the call and its call site (call_op's dispatch, the arguments, the call: 26 instructions on x86-64 with
 * gcc 12, the difference to callgrind's inclusive count of bn_tmatmul_i8); the marks' own overhead (icount.h) is
 * measured with an empty region and subtracted. Without the tracer (BITNET_ICOUNT unset) the same calls run unmarked and
 * nothing is counted; built with valgrind's headers, CALLGRIND_TOGGLE_COLLECT then brackets each measured call, so
 * `valgrind --tool=callgrind --collect-atstart=no bitnet-bench icount --variants avx2 --ops gemv --full` counts the
 * same region plus the client requests' own instructions, which `--ops empty` (an empty bracket) measures
 * (valgrind 3.19 decodes scalar and AVX2 code, not AVX-VNNI nor AVX-512). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bitnet.h"
#include "icount.h"

/* Without the tracer, valgrind's client request brackets the same calls (the cross-check with callgrind). */
#if defined(__has_include)
#  if __has_include(<valgrind/callgrind.h>)
#    include <valgrind/callgrind.h>
#    define BN_CALLGRIND_TOGGLE() CALLGRIND_TOGGLE_COLLECT
#    define BN_CALLGRIND_BUILT 1
#  endif
#endif
#if !defined(BN_CALLGRIND_TOGGLE)
#  define BN_CALLGRIND_TOGGLE() ((void)0)
#  define BN_CALLGRIND_BUILT 0
#endif


#define DIM 2560 /* M (unless --rows) and K of the measured matrix, C of the Q6_K rows */

static bn_tlayout g_layout = BN_TLAYOUT_I2S; /* --layout */
static int64_t g_M = DIM;                    /* --rows */

typedef struct options {
    const char* variants; /* comma-separated names, NULL = all this CPU runs */
    const char* ops;      /* comma-separated ops, NULL = all */
    int64_t tokens;       /* T of the GEMM */
    int64_t q6k_rows;
    int full;             /* measure every call whole, no extrapolation */
} options;

/* 1 when `name` is an item of the comma-separated `list` (NULL = everything). */
static int listed(const char* list, const char* name) {
    if (!list) return 1;
    const size_t n = strlen(name);
    for (const char* p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) return 1;
    return 0;
}

static const char* impl_of(const char* op) {
    for (int32_t i = 0; i < bn_kernel_count(); i++) {
        const char *o, *impl;
        if (bn_kernel_info(i, &o, &impl) == BN_OK && strcmp(o, op) == 0) return impl;
    }
    return "?";
}

/* Restricts dispatch to v; 1 when the CPU runs it (dispatch then names it for the ternary matmul). */
static int select_variant(const bn_bench_variant* v) {
    if ((bn_cpu_features() & v->mask) != v->mask) return 0;
    bn_cpu_set_enabled(v->mask);
    return strcmp(impl_of("tmatmul_i2_gemv"), v->name) == 0 && strcmp(impl_of("tmatmul_i2_gemm"), v->name) == 0;
}

/* ---- inputs ------------------------------------------------------------------------------------------- */

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1DULL;
}

typedef struct inputs {
    uint8_t* w;      /* (DIM, DIM/4) I2_S bytes, every 2-bit code 0..2 */
    int8_t* q;       /* (T, DIM) activations */
    float* a;        /* (T) */
    int32_t* q_sum;  /* (T) */
    float* y;        /* (T, DIM) */
    uint8_t* e;      /* (q6k_rows, DIM) Q6_K rows */
    float* h;        /* (DIM) */
    float* logits;   /* (q6k_rows) */
} inputs;

static int make_inputs(inputs* in, int64_t T, int64_t rows) {
    memset(in, 0, sizeof *in);
    int64_t row_bytes = 0;
    if (bn_dtype_row_size(BN_DTYPE_Q6_K, DIM, &row_bytes) != BN_OK) return 0;
    const int64_t w_rows = g_M > DIM ? g_M : DIM;
    const size_t w_bytes = (size_t)(g_layout == BN_TLAYOUT_TQ1 ? w_rows * (DIM / 256) * 54 : w_rows * DIM / 4);
    in->w = malloc(w_bytes);
    in->q = malloc((size_t)(T * DIM));
    in->a = malloc(sizeof(float) * (size_t)T);
    in->q_sum = malloc(sizeof(int32_t) * (size_t)T);
    in->y = malloc(sizeof(float) * (size_t)(T * DIM));
    in->e = malloc((size_t)(rows * row_bytes));
    in->h = malloc(sizeof(float) * DIM);
    in->logits = malloc(sizeof(float) * (size_t)rows);
    float* x = malloc(sizeof(float) * (size_t)(rows * DIM));
    if (!in->w || !in->q || !in->a || !in->q_sum || !in->y || !in->e || !in->h || !in->logits || !x) {
        free(x);
        return 0;
    }
    for (size_t i = 0; i < w_bytes; i++) {
        const uint64_t r = rnd();
        in->w[i] = g_layout == BN_TLAYOUT_TQ1 ? (uint8_t)r
                                              : (uint8_t)((r % 3) << 6 | (r >> 8) % 3 << 4 | (r >> 16) % 3 << 2 | (r >> 24) % 3);
    }
    for (int64_t t = 0; t < T; t++) {
        int32_t s = 0;
        for (int64_t k = 0; k < DIM; k++) s += in->q[t * DIM + k] = (int8_t)rnd();
        in->q_sum[t] = s;
        in->a[t] = 20.0f + (float)(t % 7);
    }
    for (int64_t i = 0; i < rows * DIM; i++) x[i] = (float)((int64_t)(rnd() % 2001) - 1000) * 1e-3f;
    for (int64_t i = 0; i < DIM; i++) in->h[i] = (float)((int64_t)(rnd() % 2001) - 1000) * 1e-3f;
    const int ok = bn_dtype_quantize_ref(BN_DTYPE_Q6_K, x, rows, DIM, in->e, rows * row_bytes) == BN_OK;
    free(x);
    return ok;
}

static void free_inputs(inputs* in) {
    free(in->w);
    free(in->q);
    free(in->a);
    free(in->q_sum);
    free(in->y);
    free(in->e);
    free(in->h);
    free(in->logits);
}

/* ---- measured calls ----------------------------------------------------------------------------------- */

typedef enum op { OP_GEMV, OP_GEMM, OP_Q6K } op;

#if defined(_MSC_VER)
#  define BN_NOINLINE __declspec(noinline)
#else
#  define BN_NOINLINE __attribute__((noinline))
#endif

static int g_active;      /* under bitnet-icount */
static uint64_t g_empty;  /* raw count of an empty region: the marks' overhead */

/* One unmarked warm-up call (one-time work: lazy binding into libc, the default pool's creation), then the call
 * between the marks; returns its count with the marks' overhead subtracted (0 when not traced). Not traced, the
 * second call is bracketed by CALLGRIND_TOGGLE_COLLECT instead (when built with valgrind's headers), so that
 * valgrind --tool=callgrind --collect-atstart=no counts the same region. M rows of the matrix, T tokens; q6k: M
 * rows of E. */
static BN_NOINLINE bn_status call_op(const inputs* in, op o, int64_t M, int64_t T) {
    if (o == OP_Q6K) return bn_lm_head(BN_DTYPE_Q6_K, in->e, M, DIM, in->h, 1, in->logits, NULL);
    return bn_tmatmul_i8(g_layout, in->w, M, DIM, 0.75f, in->q, in->a, in->q_sum, T, in->y, NULL);
}

/* Out of line, like call_op: every region then has the same instructions around the call (the caller's argument
 * set-up, call_op's dispatch on `o`), whichever row of the table it belongs to. */
static BN_NOINLINE uint64_t measure(const inputs* in, op o, int64_t M, int64_t T, const char* label) {
    uint64_t raw = 0;
    bn_status st = BN_OK;
    for (int pass = 0; pass < 2 && st == BN_OK; pass++) {
        if (pass == 1) {
            if (g_active) bn_icount_begin(label);
            else BN_CALLGRIND_TOGGLE();
        }
        st = call_op(in, o, M, T);
        if (pass == 1) {
            if (g_active) bn_icount_end(&raw);
            else BN_CALLGRIND_TOGGLE();
        }
    }
    if (st != BN_OK) {
        fprintf(stderr, "bitnet-bench icount: %s failed: %s\n", label, bn_last_error());
        exit(1);
    }
    return raw > g_empty ? raw - g_empty : 0;
}

typedef struct row {
    char variant[16];
    char op[64];
    char kernel[16];
    uint64_t count;
    char how[160];
} row;

#define MAX_ROWS 32
static row g_rows[MAX_ROWS];
static int g_n_rows;

static void add_row(const char* v, const char* opname, const char* kernel, uint64_t count, const char* how) {
    if (g_n_rows == MAX_ROWS) return;
    row* r = &g_rows[g_n_rows++];
    snprintf(r->variant, sizeof r->variant, "%s", v);
    snprintf(r->op, sizeof r->op, "%s", opname);
    snprintf(r->kernel, sizeof r->kernel, "%s", kernel);
    r->count = count;
    snprintf(r->how, sizeof r->how, "%s", how);
}

/* Rows used to extrapolate: multiples of every tile's row count R (8 for the AVX-512 GEMV, 4 or 2 elsewhere) */
#define ROWS_A 8
#define ROWS_B 16
#define ROWS_C 24

/* The call on DIM rows and T tokens from calls on ROWS_A, ROWS_B and ROWS_C rows at the same T: every variant walks
 * the rows in tiles whose instructions do not depend on the data, so the count is A + M * C for M a multiple of the
 * tile height; the third call must match the line exactly. 0 when it does not (`how` then shows the counts). */
static uint64_t rows_extrapolated(const inputs* in, const char* v, op o, int64_t T, char* how, size_t how_cap) {
    const int64_t ms[3] = {ROWS_A, ROWS_B, ROWS_C};
    uint64_t c[3];
    char label[BN_ICOUNT_LABEL_MAX];
    for (int i = 0; i < 3; i++) {
        snprintf(label, sizeof label, "%s %s %" PRId64 "x%d T=%" PRId64, v, o == OP_GEMV ? "gemv" : "gemm", ms[i],
                 DIM, T);
        c[i] = measure(in, o, ms[i], T, label);
    }
    if (!g_active) return 0;
    const int64_t d = (int64_t)(c[1] - c[0]);
    if (d % (ROWS_B - ROWS_A) == 0 && (int64_t)c[2] == (int64_t)c[1] + d / (ROWS_B - ROWS_A) * (ROWS_C - ROWS_B)) {
        const int64_t C = d / (ROWS_B - ROWS_A), A = (int64_t)c[0] - ROWS_A * C;
        snprintf(how, how_cap, "from %d, %d, %d rows: %" PRId64 " + M * %" PRId64 " (exact on the 3rd)", ROWS_A,
                 ROWS_B, ROWS_C, A, C);
        return (uint64_t)(A + g_M * C);
    }
    snprintf(how, how_cap, "not affine in M: %" PRIu64 ", %" PRIu64 ", %" PRIu64, c[0], c[1], c[2]);
    return 0;
}

/* The scalar GEMM of DIM rows and T tokens from four small calls (see the top of the file); 0 if the model
 * A + T * (B + M * C) does not reproduce the fourth call exactly (then `how` says so). */
static uint64_t scalar_gemm_extrapolated(const inputs* in, int64_t T, char* how, size_t how_cap) {
    const int64_t m0 = ROWS_A, m1 = ROWS_B, t0 = 2, t1 = 3;
    char label[BN_ICOUNT_LABEL_MAX];
    uint64_t c[4];
    const int64_t ms[4] = {m0, m1, m0, m1}, ts[4] = {t0, t0, t1, t1};
    for (int i = 0; i < 4; i++) {
        snprintf(label, sizeof label, "scalar gemm %" PRId64 "x%d T=%" PRId64, ms[i], DIM, ts[i]);
        c[i] = measure(in, OP_GEMM, ms[i], ts[i], label);
    }
    if (!g_active) return 0;
    const int64_t d_rows = (int64_t)(c[1] - c[0]); /* t0 * (m1 - m0) * C */
    const int64_t d_tok = (int64_t)(c[2] - c[0]);  /* (t1 - t0) * (B + m0 * C) */
    if (d_rows % (t0 * (m1 - m0)) == 0 && d_tok % (t1 - t0) == 0) {
        const int64_t C = d_rows / (t0 * (m1 - m0));
        const int64_t B = d_tok / (t1 - t0) - m0 * C;
        const int64_t A = (int64_t)c[0] - t0 * (B + m0 * C);
        if (A + t1 * (B + m1 * C) == (int64_t)c[3]) {
            snprintf(how, how_cap,
                     "from %d and %d rows at T = 2, 3: %" PRId64 " + T * (%" PRId64 " + M * %" PRId64
                     ") (exact on the 4th)",
                     ROWS_A, ROWS_B, A, B, C);
            return (uint64_t)(A + T * (B + g_M * C));
        }
    }
    snprintf(how, how_cap, "not affine: %" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64, c[0], c[1], c[2], c[3]);
    return 0;
}

static void run_variant(const options* o, const bn_bench_variant* v, const inputs* in) {
    char label[BN_ICOUNT_LABEL_MAX], opname[64], how[160];
    const int scalar = strcmp(v->name, "scalar") == 0;
    const int tq1 = g_layout == BN_TLAYOUT_TQ1;
    const char* lname = tq1 ? "TQ1 " : g_layout == BN_TLAYOUT_I2S_X4 ? "I2S_X4 " : "";
    if (listed(o->ops, "gemv")) {
        snprintf(opname, sizeof opname, "%sGEMV %" PRId64 "x%d, T = 1", lname, g_M, DIM);
        uint64_t n;
        if (scalar && !o->full) {
            n = rows_extrapolated(in, v->name, OP_GEMV, 1, how, sizeof how);
        } else {
            snprintf(label, sizeof label, "%s gemv %" PRId64 "x%d T=1", v->name, g_M, DIM);
            n = measure(in, OP_GEMV, g_M, 1, label);
            snprintf(how, sizeof how, "measured");
        }
        add_row(v->name, opname, impl_of(tq1 ? "tmatmul_tq1_gemv" : "tmatmul_i2_gemv"), n, how);
    }
    if (listed(o->ops, "gemm")) {
        snprintf(opname, sizeof opname, "%sGEMM %" PRId64 "x%d, T = %" PRId64, lname, g_M, DIM, o->tokens);
        uint64_t n;
        if (o->full) {
            snprintf(label, sizeof label, "%s gemm %" PRId64 "x%d T=%" PRId64, v->name, g_M, DIM, o->tokens);
            n = measure(in, OP_GEMM, g_M, o->tokens, label);
            snprintf(how, sizeof how, "measured");
        } else if (scalar) {
            n = scalar_gemm_extrapolated(in, o->tokens, how, sizeof how);
        } else {
            n = rows_extrapolated(in, v->name, OP_GEMM, o->tokens, how, sizeof how);
        }
        add_row(v->name, opname, impl_of(tq1 ? "tmatmul_tq1_gemm" : "tmatmul_i2_gemm"), n, how);
    }
    if (listed(o->ops, "q6k")) {
        /* the LM head's Q6_K kernel: dot_q6_k_q8_k where the library has it (activations rounded to Q8_K), else
         * the float dot_q6_k */
        const char* kernel = impl_of("dot_q6_k_q8_k");
        if (strcmp(kernel, "?") == 0) kernel = impl_of("dot_q6_k");
        snprintf(label, sizeof label, "%s lm_head q6_k %" PRId64 "x%d", v->name, o->q6k_rows, DIM);
        const uint64_t n = measure(in, OP_Q6K, o->q6k_rows, 1, label);
        snprintf(opname, sizeof opname, "Q6_K LM head %" PRId64 "x%d, T = 1", o->q6k_rows, DIM);
        add_row(v->name, opname, impl_of("dot_q6_k_q8_k"), n, "measured");
    }
}

static void usage(FILE* f) {
    fprintf(f, "usage: bitnet-icount -- bitnet-bench icount [--variants scalar,avx2,...] [--ops gemv,gemm,q6k]\n"
               "                                            [--tokens T] [--q6k-rows R] [--full]\n"
               "                                            [--layout i2s|tq1|x4] [--rows M (a multiple of 8)]\n"
               "Without bitnet-icount the calls run unmarked, each bracketed by CALLGRIND_TOGGLE_COLLECT (valgrind\n"
               "--tool=callgrind --collect-atstart=no counts them; --ops empty counts the bracket alone).\n");
}

int bn_bench_icount(int argc, char** argv) {
    options o = {NULL, NULL, 128, 16, 0};
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--full")) o.full = 1;
        else if (!strcmp(a, "--variants") && v) o.variants = argv[++i];
        else if (!strcmp(a, "--ops") && v) o.ops = argv[++i];
        else if (!strcmp(a, "--layout") && v) {
            if (!strcmp(v, "i2s")) g_layout = BN_TLAYOUT_I2S;
            else if (!strcmp(v, "tq1")) g_layout = BN_TLAYOUT_TQ1;
            else if (!strcmp(v, "x4")) g_layout = BN_TLAYOUT_I2S_X4;
            else {
                fprintf(stderr, "bitnet-bench icount: --layout wants i2s, tq1 or x4, not '%s'\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--rows") && v) {
            if (!bn_bench_parse_positive(a, argv[++i], &n)) return 2;
            if (n % 8 != 0 || n > 65536) {
                fprintf(stderr, "bitnet-bench icount: --rows wants a multiple of 8 up to 65536\n");
                return 2;
            }
            g_M = n;
        }
        else if (!strcmp(a, "--tokens") && v) {
            if (!bn_bench_parse_positive(a, argv[++i], &n)) return 2;
            if (n < 2 || n > 4096) {
                fprintf(stderr, "bitnet-bench icount: --tokens wants 2..4096 (T = 1 is the GEMV)\n");
                return 2;
            }
            o.tokens = n;
        } else if (!strcmp(a, "--q6k-rows") && v) {
            if (!bn_bench_parse_positive(a, argv[++i], &n)) return 2;
            if (n > 4096) {
                fprintf(stderr, "bitnet-bench icount: --q6k-rows wants 1..4096\n");
                return 2;
            }
            o.q6k_rows = n;
        } else {
            fprintf(stderr, "bitnet-bench icount: unknown option or missing value '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    g_active = bn_icount_active();
    if (!g_active)
        fprintf(stderr, "bitnet-bench icount: not under bitnet-icount (%s unset): running the calls unmarked, "
                        "counting nothing (bench/icount.sh counts)%s\n",
                BN_ICOUNT_ENV,
                BN_CALLGRIND_BUILT ? "; CALLGRIND_TOGGLE_COLLECT brackets each measured call" : "");

    inputs in;
    /* at least 4 tokens: the scalar GEMM's small calls use up to 4 */
    if (!make_inputs(&in, o.tokens < 4 ? 4 : o.tokens, o.q6k_rows)) {
        fprintf(stderr, "bitnet-bench icount: out of memory\n");
        free_inputs(&in);
        return 1;
    }
    if (g_active) {
        /* the marks' overhead, twice: the two must agree or the counts are not deterministic here */
        uint64_t e1 = 0, e2 = 0;
        bn_icount_begin("empty region");
        bn_icount_end(&e1);
        bn_icount_begin("empty region");
        bn_icount_end(&e2);
        if (e1 == 0 || e1 != e2) {
            fprintf(stderr, "bitnet-bench icount: empty regions counted %" PRIu64 " and %" PRIu64 " instructions: "
                            "not deterministic, or the tracer did not write the counts\n", e1, e2);
            free_inputs(&in);
            return 1;
        }
        g_empty = e1;
    }
    if (!g_active && o.ops && listed(o.ops, "empty")) {
        /* the client requests' own instructions: callgrind's count of this empty bracket, to subtract */
        BN_CALLGRIND_TOGGLE();
        BN_CALLGRIND_TOGGLE();
    }
    const uint64_t all = bn_cpu_features_enabled();
    int any = 0;
    for (int i = 0; i < BN_BENCH_N_VARIANTS; i++) {
        if (!listed(o.variants, bn_bench_variants[i].name) || !select_variant(&bn_bench_variants[i])) continue;
        any = 1;
        run_variant(&o, &bn_bench_variants[i], &in);
    }
    bn_cpu_set_enabled(all);
    free_inputs(&in);
    if (!any) {
        fprintf(stderr, "bitnet-bench icount: this CPU runs none of the variants asked for\n");
        return 1;
    }
    if (!g_active) return 0;
    printf("Instructions per call (bitnet-icount, ptrace single-step; the marks' overhead of %" PRIu64
           " instructions subtracted), %s:\n\n",
           g_empty, bn_cpu_name());
    printf("| variant | op | kernel | instructions | how |\n|---|---|---|---:|---|\n");
    for (int i = 0; i < g_n_rows; i++) {
        const row* r = &g_rows[i];
        printf("| %s | %s | %s | %" PRIu64 " | %s |\n", r->variant, r->op, r->kernel, r->count, r->how);
    }
    return 0;
}
