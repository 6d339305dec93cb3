/* `bitnet-bench train`: training throughput of bn_trainer (one micro-batch forward + backward, then one AdamW step)
 * for a model shape, at 1 and 2 threads (or --threads N), as a markdown table or one JSON object.
 *
 *   tokens/s = batch * seq / (forward_backward + optimizer_step), the median over --steps timed steps after one
 *   warm-up step. The phases beside it are medians too: forward = bn_trainer_evaluate (forward and the loss, no
 *   gradients), backward = forward_backward - forward, optimizer = bn_trainer_optimizer_step, plus
 *   bn_trainer_grad_norm (what clipping costs). tokens/CPU-s divides by the process's CPU time of the same calls
 *   instead (on a shared, loaded machine the one-thread figure it gives is the one to trust; with two threads it
 *   counts the pool's spinning too). Blend 1 (ternary weights, int8 activations, as inference), random
 *   weights (uniform ±0.02, norms 1) and random tokens: the work does not depend on the values.
 * Default shape: vocab 4096, hidden 256, ffn 768, 6 layers, 4 heads / 2 kv heads, batch 8, seq 256. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "bitnet.h"

typedef struct train_opts {
    long long vocab, hidden, ffn, layers, heads, kv_heads, batch, seq, steps, threads;
    int json, ops;
} train_opts;

typedef struct train_result {
    int threads;
    double fwd_ms, fb_ms, opt_ms, norm_ms, tok_s;
    double tok_cpu_s; /* tokens per second of process CPU time: the figure that survives a loaded machine */
    double mib;       /* the trainer's memory (its own pool's bytes in use) */
    float loss;
} train_result;

static int fail(const char* what) {
    fprintf(stderr, "bitnet-bench train: %s failed: %s\n", what, bn_last_error());
    return 0;
}

static uint64_t next_rand(uint64_t* s) {
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static double ms_since(uint64_t t0) { return (double)(bn_bench_now_ns() - t0) * 1e-6; }

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One trainer on `threads` threads: warm-up step, then --steps timed steps. Returns 0 on failure. */
static int run(const train_opts* o, int threads, train_result* r) {
    bn_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.vocab_size = o->vocab, cfg.hidden_size = o->hidden, cfg.ffn_size = o->ffn, cfg.n_layers = (int32_t)o->layers;
    cfg.n_heads = (int32_t)o->heads, cfg.n_kv_heads = (int32_t)o->kv_heads, cfg.max_positions = (int32_t)o->seq;
    cfg.rope_theta = 500000.0f, cfg.rms_eps = 1e-5f, cfg.activation = BN_ACT_RELU2;
    bn_threadpool* tp = NULL;
    bn_trainer* tr = NULL;
    bn_pool* mem = NULL;
    int ok = 0;
    const int64_t N = o->batch * o->seq;
    int32_t* in = malloc((size_t)N * sizeof(int32_t));
    int32_t* tg = malloc((size_t)N * sizeof(int32_t));
    const int steps = (int)o->steps;
    double* fwd = calloc((size_t)steps, sizeof(double));
    double* fb = calloc((size_t)steps, sizeof(double));
    double* opt = calloc((size_t)steps, sizeof(double));
    double* nrm = calloc((size_t)steps, sizeof(double));
    double* tot = calloc((size_t)steps, sizeof(double));
    double* cpu = calloc((size_t)steps, sizeof(double));
    float* buf = NULL;
    if (!in || !tg || !fwd || !fb || !opt || !nrm || !tot || !cpu) goto done;
    if (bn_threadpool_create(threads, &tp) != BN_OK) {
        fail("bn_threadpool_create");
        goto done;
    }
    if (bn_pool_create(&mem) != BN_OK || bn_trainer_create(&cfg, o->batch, o->seq, mem, tp, &tr) != BN_OK) {
        fail("bn_trainer_create");
        goto done;
    }
    bn_pool_stats ps;
    if (bn_pool_get_stats(mem, &ps) == BN_OK) r->mib = (double)ps.bytes_in_use / (1024.0 * 1024.0);
    uint64_t s = 0x243f6a8885a308d3ull;
    int64_t most = 0;
    for (int32_t i = 0; i < bn_trainer_tensor_count(tr); i++) {
        int64_t rows = 0, cols = 0;
        bn_trainer_tensor_info(tr, i, NULL, &rows, &cols, NULL);
        most = rows * cols > most ? rows * cols : most;
    }
    buf = malloc((size_t)most * sizeof(float));
    if (!buf) goto done;
    for (int32_t i = 0; i < bn_trainer_tensor_count(tr); i++) {
        int64_t rows = 0, cols = 0;
        bn_trainer_tensor_info(tr, i, NULL, &rows, &cols, NULL);
        for (int64_t k = 0; k < rows * cols; k++)
            buf[k] = rows == 1 ? 1.0f : ((float)(next_rand(&s) >> 40) / (float)(1 << 24) - 0.5f) * 0.04f;
        if (bn_trainer_write(tr, BN_TRAIN_PARAM, i, buf, rows * cols) != BN_OK) {
            fail("bn_trainer_write");
            goto done;
        }
    }
    for (int64_t i = 0; i < N; i++) in[i] = (int32_t)(next_rand(&s) % (uint64_t)o->vocab);
    for (int64_t i = 0; i < N; i++) tg[i] = (int32_t)(next_rand(&s) % (uint64_t)o->vocab);
    bn_optimizer_params p;
    memset(&p, 0, sizeof p);
    p.kind = BN_OPT_ADAMW, p.lr = 1e-3f, p.beta1 = 0.9f, p.beta2 = 0.95f, p.eps = 1e-8f, p.weight_decay = 0.1f;
    for (int step = 0; step <= steps; step++) { /* step 0: warm-up, not timed */
        float loss = 0.0f;
        double norm = 0.0;
        p.step = step + 1;
        uint64_t t0 = bn_bench_now_ns();
        if (bn_trainer_evaluate(tr, in, tg, o->batch, o->seq, 1.0f, &loss, NULL, NULL, 0) != BN_OK) {
            fail("bn_trainer_evaluate");
            goto done;
        }
        const double t_fwd = ms_since(t0);
        const double c0 = cpu_s();
        t0 = bn_bench_now_ns();
        if (bn_trainer_zero_grad(tr) != BN_OK ||
            bn_trainer_forward_backward(tr, in, tg, o->batch, o->seq, 1.0f, 1.0f, &loss) != BN_OK) {
            fail("bn_trainer_forward_backward");
            goto done;
        }
        const double t_fb = ms_since(t0);
        double c_step = cpu_s() - c0;
        t0 = bn_bench_now_ns();
        if (bn_trainer_grad_norm(tr, &norm) != BN_OK) {
            fail("bn_trainer_grad_norm");
            goto done;
        }
        const double t_norm = ms_since(t0);
        const double c1 = cpu_s();
        t0 = bn_bench_now_ns();
        if (bn_trainer_optimizer_step(tr, &p) != BN_OK) {
            fail("bn_trainer_optimizer_step");
            goto done;
        }
        const double t_opt = ms_since(t0);
        c_step += cpu_s() - c1;
        r->loss = loss;
        if (step == 0) continue;
        fwd[step - 1] = t_fwd, fb[step - 1] = t_fb, nrm[step - 1] = t_norm, opt[step - 1] = t_opt;
        tot[step - 1] = t_fb + t_opt, cpu[step - 1] = c_step;
    }
    r->threads = threads;
    r->fwd_ms = bn_bench_median(fwd, (size_t)steps);
    r->fb_ms = bn_bench_median(fb, (size_t)steps);
    r->opt_ms = bn_bench_median(opt, (size_t)steps);
    r->norm_ms = bn_bench_median(nrm, (size_t)steps);
    r->tok_s = (double)N / (bn_bench_median(tot, (size_t)steps) * 1e-3);
    r->tok_cpu_s = (double)N / bn_bench_median(cpu, (size_t)steps);
    ok = 1;
done:
    if (tr) bn_trainer_destroy(tr);
    if (mem) bn_pool_destroy(mem);
    if (tp) bn_threadpool_destroy(tp);
    free(in), free(tg), free(fwd), free(fb), free(opt), free(nrm), free(tot), free(cpu), free(buf);
    return ok;
}


/* ---- --ops: where one step's time goes, op by op, on one thread ----------------------------------------------
 * Each op the trainer calls, run at the model's shapes on random data (the same public calls, NULL pool), timed in
 * CPU seconds (median of 3), times the calls per step. Their sum next to the measured step shows what the trainer
 * adds around them. */
typedef struct op_row {
    const char* name;
    double ms; /* per step */
} op_row;

static float* frand(int64_t n, uint64_t* s, float scale) {
    float* x = malloc((size_t)n * sizeof(float));
    if (x)
        for (int64_t i = 0; i < n; i++) x[i] = ((float)(next_rand(s) >> 40) / (float)(1 << 24) - 0.5f) * scale;
    return x;
}

#define TIME_OP(ms_out, calls, expr)                                                                            \
    do {                                                                                                        \
        double v_[3];                                                                                           \
        for (int r_ = 0; r_ < 3; r_++) {                                                                        \
            const double c_ = cpu_s();                                                                          \
            if ((expr) != BN_OK) {                                                                              \
                fprintf(stderr, "bitnet-bench train --ops: %s failed: %s\n", #expr, bn_last_error());          \
                ok = 0;                                                                                         \
            }                                                                                                   \
            v_[r_] = (cpu_s() - c_) * 1e3;                                                                      \
        }                                                                                                       \
        (ms_out) += (calls) * bn_bench_median(v_, 3);                                                           \
    } while (0)

static int ops_breakdown(const train_opts* o) {
    const int64_t B = o->batch, T = o->seq, N = B * T, C = o->hidden, F = o->ffn, V = o->vocab, L = o->layers;
    const int64_t H = o->heads, Hkv = o->kv_heads, D = C / H, KV = Hkv * D, MX = C > F ? C : F;
    uint64_t s = 7;
    int ok = 1;
    float *x = frand(N * MX, &s, 2.0f), *y = frand(N * MX, &s, 2.0f), *xe = frand(N * MX, &s, 1.0f);
    float *dx = frand(N * MX, &s, 1.0f), *dy = frand(N * MX, &s, 1.0f), *w = frand(MX * MX, &s, 0.04f), *weff = frand(MX * MX, &s, 0.04f);
    float *dw = frand(MX * MX, &s, 1.0f), *E = frand(V * C, &s, 0.04f), *dE = frand(V * C, &s, 1.0f);
    float *logits = frand(N * V, &s, 1.0f), *losses = frand(N, &s, 1.0f), *rstd = frand(N, &s, 1.0f);
    float *q = frand(N * C, &s, 1.0f), *k = frand(N * KV, &s, 1.0f), *v = frand(N * KV, &s, 1.0f);
    float *dq = frand(N * C, &s, 1.0f), *dk = frand(N * KV, &s, 1.0f), *dv = frand(N * KV, &s, 1.0f);
    float *probs = frand(B * H * T * T, &s, 1.0f), *nw = frand(MX, &s, 1.0f);
    float *cs = frand(T * D / 2, &s, 1.0f), *sn = frand(T * D / 2, &s, 1.0f);
    int32_t* ids = malloc((size_t)N * sizeof(int32_t));
    int32_t* pos = malloc((size_t)N * sizeof(int32_t));
    int64_t wl = 0, al = 0;
    bn_train_bitlinear_work_size(N, MX, &wl);
    bn_train_attention_work_size(NULL, T, &al);
    void* work = malloc((size_t)wl);
    float* awork = malloc((size_t)al * sizeof(float) + 64);
    uint8_t* packed = malloc((size_t)(MX * MX / 4));
    if (!x || !y || !xe || !dx || !dy || !w || !weff || !dw || !E || !dE || !logits || !losses || !rstd || !q || !k || !v ||
        !dq || !dk || !dv || !probs || !nw || !cs || !sn || !ids || !pos || !work || !awork || !packed) {
        fprintf(stderr, "bitnet-bench train --ops: out of memory\n");
        return 0;
    }
    for (int64_t i = 0; i < N; i++) ids[i] = (int32_t)(next_rand(&s) % (uint64_t)V), pos[i] = (int32_t)(i % T);
    bn_rope_table_f32(T, D, 500000.0f, cs, sn);
    float ws = 0.0f;
    /* the seven projections of a layer: (out, in) */
    const int64_t shp[7][2] = {{C, C}, {KV, C}, {KV, C}, {C, C}, {F, C}, {F, C}, {C, F}};
    op_row rows[12];
    memset(rows, 0, sizeof rows);
    rows[0].name = "prepare ternary weights (7 per layer)";
    rows[1].name = "bitlinear forward (7 per layer)";
    rows[2].name = "bitlinear backward (7 per layer)";
    rows[3].name = "attention forward";
    rows[4].name = "attention backward";
    rows[5].name = "rmsnorm forward + backward (4 per layer, final)";
    rows[6].name = "rope, gated act, residual add (fwd + bwd)";
    rows[7].name = "LM head forward";
    rows[8].name = "LM head backward";
    rows[9].name = "cross-entropy";
    rows[10].name = "embedding forward + backward";
    for (int p = 0; p < 7; p++) {
        const int64_t oc = shp[p][0], ic = shp[p][1];
        TIME_OP(rows[0].ms, L, bn_train_bitlinear_prepare(w, oc, ic, 1.0f, weff, packed, oc * ic / 4, &ws));
        TIME_OP(rows[1].ms, L,
                bn_train_bitlinear_forward(x, N, ic, weff, packed, ws, oc, 1.0f, xe, y, work, wl, NULL));
        TIME_OP(rows[2].ms, L, bn_train_bitlinear_backward(y, xe, weff, N, ic, oc, dx, dw, NULL));
    }
    TIME_OP(rows[3].ms, L, bn_train_attention_forward(q, k, v, B, T, H, Hkv, D, probs, y, NULL));
    TIME_OP(rows[4].ms, L,
            bn_train_attention_backward(y, q, k, v, probs, B, T, H, Hkv, D, dq, dk, dv, awork, al, NULL));
    TIME_OP(rows[5].ms, 3 * L + 1, bn_train_rmsnorm_forward(x, nw, N, C, 1e-5f, y, rstd));
    TIME_OP(rows[5].ms, L, bn_train_rmsnorm_forward(x, nw, N, F, 1e-5f, y, rstd));
    TIME_OP(rows[5].ms, 3 * L + 1, bn_train_rmsnorm_backward(y, x, nw, rstd, N, C, dx, dw, NULL));
    TIME_OP(rows[5].ms, L, bn_train_rmsnorm_backward(y, x, nw, rstd, N, F, dx, dw, NULL));
    TIME_OP(rows[6].ms, L, bn_rope_f32_table(q, N, H, D, pos, cs, sn, T));
    TIME_OP(rows[6].ms, L, bn_rope_f32_table(k, N, Hkv, D, pos, cs, sn, T));
    TIME_OP(rows[6].ms, L, bn_train_rope_backward(dq, N, H, D, pos, cs, sn, T));
    TIME_OP(rows[6].ms, L, bn_train_rope_backward(dk, N, Hkv, D, pos, cs, sn, T));
    TIME_OP(rows[6].ms, L, bn_gated_act_f32(BN_ACT_RELU2, x, xe, N * F, y));
    TIME_OP(rows[6].ms, L, bn_train_gated_act_backward(BN_ACT_RELU2, y, x, xe, N * F, dx, dy));
    TIME_OP(rows[6].ms, 2 * L, bn_add_f32(x, xe, N * C));
    TIME_OP(rows[7].ms, 1, bn_train_lm_head_forward(x, N, C, E, V, logits, NULL));
    TIME_OP(rows[8].ms, 1, bn_train_lm_head_backward(logits, x, E, N, C, V, dx, dE, NULL));
    for (int64_t i = 0; i < N; i++) ids[i] = (int32_t)(next_rand(&s) % (uint64_t)V);
    TIME_OP(rows[9].ms, 1, bn_train_cross_entropy(logits, ids, N, V, 1.0f / (float)N, losses, logits, NULL));
    TIME_OP(rows[10].ms, 1, bn_train_embedding_forward(ids, N, E, V, C, x));
    TIME_OP(rows[10].ms, 1, bn_train_embedding_backward(ids, N, dx, V, C, dE));
    double total = 0.0;
    for (int i = 0; i < 11; i++) total += rows[i].ms;
    printf("\nOne step op by op, 1 thread, CPU ms (median of 3 runs of each op at the model's shapes):\n\n");
    printf("| op | ms per step | share |\n|---|---:|---:|\n");
    for (int i = 0; i < 11; i++) printf("| %s | %.1f | %.0f%% |\n", rows[i].name, rows[i].ms, 100.0 * rows[i].ms / total);
    printf("| **sum** | %.1f | |\n", total);
    free(x), free(y), free(xe), free(dx), free(dy), free(w), free(weff), free(dw), free(E), free(dE), free(logits);
    free(losses), free(rstd), free(q), free(k), free(v), free(dq), free(dk), free(dv), free(probs), free(nw);
    free(cs), free(sn), free(ids), free(pos), free(work), free(awork), free(packed);
    return ok;
}

static void usage(FILE* f) {
    fprintf(f,
            "usage: bitnet-bench train [--vocab N] [--hidden N] [--ffn N] [--layers N] [--heads N] [--kv-heads N]\n"
            "                          [--batch N] [--seq N] [--steps N] [--threads N] [--json] [--ops]\n"
            "  training tokens/s (forward_backward + AdamW step) of bn_trainer at 1 and 2 threads (or N), with\n"
            "  the forward / backward / optimizer split. Defaults: vocab 4096, hidden 256, ffn 768, layers 6,\n"
            "  heads 4, kv-heads 2, batch 8, seq 256, steps 3. --ops adds one step's CPU time op by op (1 thread).\n");
}

int bn_bench_train(int argc, char** argv) {
    train_opts o = {4096, 256, 768, 6, 4, 2, 8, 256, 3, 0, 0, 0};
    static const struct {
        const char* name;
        size_t off;
    } k_opts[] = {
        {"--vocab", offsetof(train_opts, vocab)},   {"--hidden", offsetof(train_opts, hidden)},
        {"--ffn", offsetof(train_opts, ffn)},       {"--layers", offsetof(train_opts, layers)},
        {"--heads", offsetof(train_opts, heads)},   {"--kv-heads", offsetof(train_opts, kv_heads)},
        {"--batch", offsetof(train_opts, batch)},   {"--seq", offsetof(train_opts, seq)},
        {"--steps", offsetof(train_opts, steps)},   {"--threads", offsetof(train_opts, threads)},
    };
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--json")) {
            o.json = 1;
            continue;
        }
        if (!strcmp(argv[i], "--ops")) {
            o.ops = 1;
            continue;
        }
        size_t k = 0;
        while (k < sizeof k_opts / sizeof k_opts[0] && strcmp(argv[i], k_opts[k].name) != 0) k++;
        if (k == sizeof k_opts / sizeof k_opts[0]) {
            fprintf(stderr, "bitnet-bench train: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc || !bn_bench_parse_positive(argv[i], argv[i + 1], (long long*)((char*)&o + k_opts[k].off)))
            return 2;
        i++;
    }
    int counts[2] = {1, 2}, n_counts = 2;
    if (o.threads) counts[0] = (int)o.threads, n_counts = 1;
    train_result res[2];
    memset(res, 0, sizeof res);
    for (int i = 0; i < n_counts; i++)
        if (!run(&o, counts[i], &res[i])) return 1;

    const double tokens = (double)(o.batch * o.seq);
    if (o.json) {
        printf("{\"bench\":\"train\",\"cpu\":");
        bn_bench_json_string(bn_cpu_name());
        printf(",\"vocab\":%lld,\"hidden\":%lld,\"ffn\":%lld,\"layers\":%lld,\"heads\":%lld,\"kv_heads\":%lld,"
               "\"batch\":%lld,\"seq\":%lld,\"steps\":%lld,\"trainer_mib\":%.1f,\"results\":[",
               o.vocab, o.hidden, o.ffn, o.layers, o.heads, o.kv_heads, o.batch, o.seq, o.steps, res[0].mib);
        for (int i = 0; i < n_counts; i++)
            printf("%s{\"threads\":%d,\"tokens_per_s\":%.1f,\"forward_ms\":%.2f,\"forward_backward_ms\":%.2f,"
                   "\"backward_ms\":%.2f,\"optimizer_ms\":%.2f,\"grad_norm_ms\":%.2f,\"tokens_per_cpu_s\":%.1f,"
                   "\"loss\":%.4f}",
                   i ? "," : "", res[i].threads, res[i].tok_s, res[i].fwd_ms, res[i].fb_ms, res[i].fb_ms - res[i].fwd_ms,
                   res[i].opt_ms, res[i].norm_ms, res[i].tok_cpu_s, (double)res[i].loss);
        printf("]}\n");
        return 0;
    }
    printf("bn_trainer: vocab %lld, hidden %lld, ffn %lld, %lld layers, %lld/%lld heads, batch %lld x seq %lld "
           "(%.0f tokens), blend 1, AdamW; median of %lld steps\nCPU %s; trainer memory %.0f MiB\n\n",
           o.vocab, o.hidden, o.ffn, o.layers, o.heads, o.kv_heads, o.batch, o.seq, tokens, o.steps, bn_cpu_name(),
           res[0].mib);
    printf("| threads | tokens/s | tokens/CPU-s | forward ms | backward ms | optimizer ms | grad norm ms |\n");
    printf("|--------:|---------:|-------------:|-----------:|------------:|-------------:|-------------:|\n");
    for (int i = 0; i < n_counts; i++)
        printf("| %7d | %8.0f | %12.0f | %10.1f | %11.1f | %12.1f | %12.1f |\n", res[i].threads, res[i].tok_s,
               res[i].tok_cpu_s, res[i].fwd_ms, res[i].fb_ms - res[i].fwd_ms, res[i].opt_ms, res[i].norm_ms);
    if (o.ops && !ops_breakdown(&o)) return 1;
    return 0;
}
