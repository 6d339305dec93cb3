/* `bitnet-bench quant`: throughput of the quantizers and packers on BitNet b1.58 2B4T shapes (hidden 2560,
 * FFN 6912), scalar against whatever kernel dispatch picks on this CPU, as a markdown table.
 *
 *   GB/s = bytes of input read per second: floats for the quantizers (4 bytes a value), int8 codes for the
 *   packers (1 byte a value). Each figure is the best of 3 runs, each run repeating the call for at least
 *   --min-time seconds (default 0.2) after one warm-up call. One thread.
 * The scalar column restricts dispatch to no instruction-set extension (bn_cpu_set_enabled(0)); the packers
 * have only a scalar implementation (they run once per model load), so their two columns measure the same
 * code and show the noise of the measurement. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bitnet.h"

typedef struct bench_ctx {
    int64_t rows, cols;
    const float* x;
    const int8_t* codes;
    int8_t* q;
    float* scales;
    uint8_t* packed;
    int64_t packed_len;
    bn_format format;
    float scale;
} bench_ctx;

typedef bn_status (*bench_fn)(bench_ctx* c);

static bn_status run_act(bench_ctx* c) {
    return bn_quantize_act_i8(c->x, c->rows, c->cols, c->q, c->rows * c->cols, c->scales, c->rows);
}
static bn_status run_ternary(bench_ctx* c) {
    return bn_quantize_ternary_absmean(c->x, c->rows, c->cols, BN_GRANULARITY_TENSOR, 0, c->q, c->rows * c->cols,
                                       c->scales, 1);
}
static bn_status run_ternary_channel(bench_ctx* c) {
    return bn_quantize_ternary_absmean(c->x, c->rows, c->cols, BN_GRANULARITY_CHANNEL, 0, c->q, c->rows * c->cols,
                                       c->scales, c->rows);
}
static bn_status run_pack(bench_ctx* c) {
    return bn_format_pack(c->format, c->codes, c->rows, c->cols, &c->scale, 1, c->packed, c->packed_len);
}
static bn_status run_quantize_format(bench_ctx* c) {
    return bn_format_quantize(c->format, c->x, c->rows, c->cols, c->packed, c->packed_len);
}

typedef struct quant_call {
    bench_fn fn;
    bench_ctx* c;
} quant_call;

static int call_quant(void* ctx) {
    const quant_call* q = (const quant_call*)ctx;
    return q->fn(q->c) != BN_OK;
}

/* Best seconds per call over 3 runs; negative if the call fails. */
static double time_call(bench_fn fn, bench_ctx* c, double min_time) {
    if (fn(c) != BN_OK) return -1.0; /* warm-up */
    quant_call q = {fn, c};
    return bn_bench_best_seconds(call_quant, &q, min_time);
}

static void row(const char* what, const char* shape, const char* impl, bench_fn fn, bench_ctx* c, double bytes,
                double min_time) {
    bn_cpu_set_enabled(0);
    const double t_scalar = time_call(fn, c, min_time);
    bn_cpu_set_enabled(UINT64_MAX);
    const double t_best = time_call(fn, c, min_time);
    if (t_scalar < 0 || t_best < 0) {
        printf("| %s | %s | failed: %s | | | |\n", what, shape, bn_last_error());
        return;
    }
    printf("| %s | %s | %.2f | %.2f | %s | %.1fx |\n", what, shape, bytes / t_scalar * 1e-9, bytes / t_best * 1e-9,
           impl, t_scalar / t_best);
}

int bn_bench_quant(int argc, char** argv) {
    double min_time = 0.2;
    int64_t act_rows = 64, weight_rows = 256;
    for (int i = 1; i < argc; i++) { /* argv[0] is the subcommand's name */
        if (strcmp(argv[i], "--min-time") == 0 && i + 1 < argc) min_time = atof(argv[++i]);
        else if (strcmp(argv[i], "--tokens") == 0 && i + 1 < argc) act_rows = atoll(argv[++i]);
        else if (strcmp(argv[i], "--weight-rows") == 0 && i + 1 < argc) weight_rows = atoll(argv[++i]);
        else {
            const int help = strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
            fprintf(help ? stdout : stderr,
                    "%susage: bitnet-bench quant [--min-time SECONDS] [--tokens T] [--weight-rows R]\n"
                    "  T tokens of activations (default 64) and R-row weight matrices (default 256, a multiple of\n"
                    "  4), each with 2560 and 6912 columns; each figure repeats its call for >= SECONDS (0.2)\n",
                    help ? "" : "bench quant: unknown option\n");
            return help ? 0 : 2;
        }
    }
    if (min_time <= 0 || act_rows <= 0 || weight_rows <= 0 || weight_rows % 4 != 0) {
        fprintf(stderr,
                "bench quant: --min-time, --tokens and --weight-rows must be positive (rows a multiple of 4)\n");
        return 2;
    }
    const uint64_t saved = bn_cpu_features_enabled();
    printf("## Quantization and packing, one thread (%s)\n\n", bn_cpu_name());
    printf("GB/s of input read (floats for quantizers, int8 codes for packers); best of 3 runs of >= %.2f s.\n\n",
           min_time);
    printf("| operation | shape | scalar GB/s | dispatched GB/s | dispatched | speedup |\n");
    printf("|---|---|---:|---:|---|---:|\n");

    const int64_t cols_list[2] = {2560, 6912};
    const int64_t max_rows = act_rows > weight_rows ? act_rows : weight_rows;
    const int64_t max_n = max_rows * 6912;
    float* x = malloc((size_t)max_n * sizeof *x);
    int8_t* codes = malloc((size_t)max_n);
    int8_t* q = malloc((size_t)max_n);
    float* scales = malloc((size_t)max_rows * sizeof *scales);
    uint8_t* packed = malloc((size_t)max_n + 64); /* every format takes under a byte per weight, + 32 */
    if (!x || !codes || !q || !scales || !packed) {
        fprintf(stderr, "bench quant: out of memory\n");
        free(x), free(codes), free(q), free(scales), free(packed);
        return 1;
    }
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    for (int64_t i = 0; i < max_n; i++) {
        rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
        const uint64_t r = rng * 0x2545F4914F6CDD1DULL;
        x[i] = ((float)(r >> 40) / (float)(1 << 24) - 0.5f) * 0.1f;
        codes[i] = (int8_t)((int)((r >> 20) % 3) - 1);
    }
    char shape[64];
    for (int k = 0; k < 2; k++) {
        bench_ctx c = {act_rows, cols_list[k], x, codes, q, scales, packed, max_n + 64, BN_FORMAT_HF_2B4T, 0.02f};
        snprintf(shape, sizeof shape, "%lld x %lld", (long long)c.rows, (long long)c.cols);
        row("activations int8 absmax (per token)", shape, bn_bench_impl_of("quantize_act_i8"), run_act, &c,
            (double)(c.rows * c.cols) * 4.0, min_time);
    }
    for (int k = 0; k < 2; k++) {
        bench_ctx c = {weight_rows, cols_list[k], x, codes, q, scales, packed, max_n + 64, BN_FORMAT_HF_2B4T, 0.02f};
        snprintf(shape, sizeof shape, "%lld x %lld", (long long)c.rows, (long long)c.cols);
        row("weights ternary absmean (per tensor)", shape, bn_bench_impl_of("quantize_ternary"), run_ternary, &c,
            (double)(c.rows * c.cols) * 4.0, min_time);
        row("weights ternary absmean (per channel)", shape, bn_bench_impl_of("quantize_ternary"), run_ternary_channel, &c,
            (double)(c.rows * c.cols) * 4.0, min_time);
    }
    for (int32_t f = 0; f < bn_format_count(); f++) {
        bn_format_info info;
        if (bn_format_get_info((bn_format)f, &info) != BN_OK) continue;
        for (int k = 0; k < 2; k++) {
            bench_ctx c = {weight_rows, cols_list[k], x, codes, q, scales, packed, max_n + 64, (bn_format)f,
                           0.0234375f};
            if (c.cols % info.col_multiple != 0) continue;
            char what[96];
            snprintf(shape, sizeof shape, "%lld x %lld", (long long)c.rows, (long long)c.cols);
            snprintf(what, sizeof what, "pack int8 codes -> %s", info.name);
            row(what, shape, "scalar only", run_pack, &c, (double)(c.rows * c.cols), min_time);
        }
    }
    for (int32_t f = 0; f < bn_format_count(); f++) {
        bn_format_info info;
        if (bn_format_get_info((bn_format)f, &info) != BN_OK || info.scale_kind == BN_SCALE_OUTSIDE) continue;
        bench_ctx c = {weight_rows, 2560, x, codes, q, scales, packed, max_n + 64, (bn_format)f, 0.0f};
        char what[96];
        snprintf(shape, sizeof shape, "%lld x %lld", (long long)c.rows, (long long)c.cols);
        snprintf(what, sizeof what, "quantize floats -> %s (origin's path)", info.name);
        row(what, shape, "scalar only", run_quantize_format, &c, (double)(c.rows * c.cols) * 4.0, min_time);
    }
    bn_cpu_set_enabled(saved);
    free(x), free(codes), free(q), free(scales), free(packed);
    return 0;
}
