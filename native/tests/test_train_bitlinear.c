/* Training BitLinear (src/train/bitlinear.c):
 *  - prepare: weff at blend 1 is bn_quantize_ternary_absmean's codes / s bit for bit, w_scale = 1/s, the packed
 *    codes are bn_tmatmul_pack_i8's; blend 0 leaves w; a blend between mixes them;
 *  - forward at blend 1 with packed codes equals bn_tmatmul_i8 on bn_quantize_act_i8's codes bit for bit, and
 *    xeff = q / a; at blend 0 out = x . wᵀ;
 *  - backward at blend 0 (smooth) against central finite differences of a double reference; at blend 1 equal to
 *    the straight-through formula dx = dout . weff, dw = doutᵀ . xeff computed in double;
 *  - accumulation, the same bits for 1, 2 and 3 threads, errors. */
#include "grad_check.h"

enum { N = 5, C = 256, OC = 24 };

/* L = sum dout ⊙ (x . wᵀ) */
typedef struct lin_ref {
    double *x, *w;
    const float* dout;
} lin_ref;

static double lin_loss(void* p) {
    const lin_ref* r = p;
    double l = 0.0;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = 0.0;
            for (int c = 0; c < C; c++) s += r->x[n * C + c] * r->w[o * C + c];
            l += r->dout[n * OC + o] * s;
        }
    return l;
}

typedef struct lin_bufs {
    float *w, *x, *weff, *xeff, *out, *dout, *dx, *dw;
    uint8_t* packed;
    void* work;
    int64_t work_len;
    float w_scale;
} lin_bufs;

static lin_bufs lin_alloc(uint64_t seed) {
    lin_bufs b;
    uint64_t rng = seed;
    b.w = gc_floats(OC * C), b.x = gc_floats(N * C), b.weff = gc_floats(OC * C), b.xeff = gc_floats(N * C);
    b.out = gc_floats(N * OC), b.dout = gc_floats(N * OC), b.dx = gc_floats(N * C), b.dw = gc_floats(OC * C);
    b.packed = calloc(OC * C / 4, 1);
    gc_fill(b.w, OC * C, &rng, -0.1f, 0.1f);
    gc_fill(b.x, N * C, &rng, -2, 2);
    gc_fill(b.dout, N * OC, &rng, -1, 1);
    bn_train_bitlinear_work_size(N, C, &b.work_len);
    b.work = malloc((size_t)b.work_len);
    b.w_scale = 0;
    return b;
}

static void lin_free(lin_bufs* b) {
    free(b->w), free(b->x), free(b->weff), free(b->xeff), free(b->out), free(b->dout), free(b->dx), free(b->dw);
    free(b->packed), free(b->work);
}

BN_TEST(prepare_matches_absmean) {
    lin_bufs b = lin_alloc(1);
    int8_t* codes = malloc(OC * C);
    uint8_t* ref_packed = malloc(OC * C / 4);
    float s;
    BN_CHECK_OK(bn_quantize_ternary_absmean(b.w, OC, C, BN_GRANULARITY_TENSOR, 0, codes, OC * C, &s, 1));
    BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, codes, OC, C, ref_packed, OC * C / 4));
    BN_CHECK_OK(bn_train_bitlinear_prepare(b.w, OC, C, 1.0f, b.weff, b.packed, OC * C / 4, &b.w_scale));
    BN_CHECK(b.w_scale == 1.0f / s);
    int same = 1;
    for (int i = 0; i < OC * C; i++) same &= b.weff[i] == (float)codes[i] / s;
    BN_CHECK_MSG(same, "weff at blend 1 is not codes / s");
    BN_CHECK(memcmp(b.packed, ref_packed, OC * C / 4) == 0);
    /* blend 0: w itself (no packing asked) */
    BN_CHECK_OK(bn_train_bitlinear_prepare(b.w, OC, C, 0.0f, b.weff, NULL, 0, &b.w_scale));
    BN_CHECK(memcmp(b.weff, b.w, sizeof(float) * OC * C) == 0);
    /* blend 0.25: w + 0.25 (Q(w) - w) */
    BN_CHECK_OK(bn_train_bitlinear_prepare(b.w, OC, C, 0.25f, b.weff, NULL, 0, &b.w_scale));
    for (int i = 0; i < OC * C; i++) {
        const double want = b.w[i] + 0.25 * ((double)codes[i] / s - b.w[i]);
        if (fabs(b.weff[i] - want) > 1e-6) {
            BN_CHECK_MSG(0, "weff[%d] = %g at blend 0.25, expected %g", i, b.weff[i], want);
            break;
        }
    }
    free(codes), free(ref_packed);
    lin_free(&b);
}

BN_TEST(forward_blend1_equals_tmatmul) {
    lin_bufs b = lin_alloc(2);
    int8_t* q = malloc(N * C);
    float a[N], *ref = gc_floats(N * OC);
    int32_t qsum[N];
    BN_CHECK_OK(bn_train_bitlinear_prepare(b.w, OC, C, 1.0f, b.weff, b.packed, OC * C / 4, &b.w_scale));
    BN_CHECK_OK(bn_train_bitlinear_forward(b.x, N, C, b.weff, b.packed, b.w_scale, OC, 1.0f, b.xeff, b.out, b.work,
                                           b.work_len, NULL));
    BN_CHECK_OK(bn_quantize_act_i8(b.x, N, C, q, N * C, a, N));
    for (int n = 0; n < N; n++) {
        qsum[n] = 0;
        for (int c = 0; c < C; c++) qsum[n] += q[n * C + c];
    }
    BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S, b.packed, OC, C, b.w_scale, q, a, qsum, N, ref, NULL));
    BN_CHECK(memcmp(b.out, ref, sizeof(float) * N * OC) == 0);
    int same = 1;
    for (int i = 0; i < N * C; i++) same &= b.xeff[i] == (float)q[i] / a[i / C];
    BN_CHECK_MSG(same, "xeff at blend 1 is not q / a");
    /* without packed codes the float path computes the same product to rounding */
    BN_CHECK_OK(bn_train_bitlinear_forward(b.x, N, C, b.weff, NULL, b.w_scale, OC, 1.0f, b.xeff, b.out, b.work,
                                           b.work_len, NULL));
    for (int i = 0; i < N * OC; i++) BN_CHECK(fabsf(b.out[i] - ref[i]) <= 1e-4f * (1.0f + fabsf(ref[i])));
    free(q), free(ref);
    lin_free(&b);
}

BN_TEST(forward_blend0_is_float_matmul) {
    lin_bufs b = lin_alloc(3);
    BN_CHECK_OK(bn_train_bitlinear_prepare(b.w, OC, C, 0.0f, b.weff, NULL, 0, &b.w_scale));
    BN_CHECK_OK(bn_train_bitlinear_forward(b.x, N, C, b.weff, NULL, b.w_scale, OC, 0.0f, b.xeff, b.out, NULL, 0, NULL));
    BN_CHECK(memcmp(b.xeff, b.x, sizeof(float) * N * C) == 0);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = 0;
            for (int c = 0; c < C; c++) s += (double)b.x[n * C + c] * b.w[o * C + c];
            BN_CHECK(fabs(b.out[n * OC + o] - s) <= 1e-5 * (1.0 + fabs(s)));
        }
    lin_free(&b);
}

BN_TEST(backward_blend0_matches_finite_differences) {
    lin_bufs b = lin_alloc(4);
    double *xd = gc_doubles(N * C), *wd = gc_doubles(OC * C), *fdx = gc_doubles(N * C), *fdw = gc_doubles(OC * C);
    gc_to_double(b.x, N * C, xd);
    gc_to_double(b.w, OC * C, wd);
    lin_ref r = {xd, wd, b.dout};
    gc_fd(lin_loss, &r, xd, N * C, fdx);
    gc_fd(lin_loss, &r, wd, OC * C, fdw);
    BN_CHECK_OK(bn_train_bitlinear_prepare(b.w, OC, C, 0.0f, b.weff, NULL, 0, &b.w_scale));
    BN_CHECK_OK(bn_train_bitlinear_forward(b.x, N, C, b.weff, NULL, b.w_scale, OC, 0.0f, b.xeff, b.out, b.work,
                                           b.work_len, NULL));
    BN_CHECK_OK(bn_train_bitlinear_backward(b.dout, b.xeff, b.weff, N, C, OC, b.dx, b.dw, NULL));
    GC_CHECK_GRAD(b.dx, fdx, N * C, "dx");
    GC_CHECK_GRAD(b.dw, fdw, OC * C, "dw");
    free(xd), free(wd), free(fdx), free(fdw);
    lin_free(&b);
}

BN_TEST(backward_blend1_is_straight_through) {
    lin_bufs b = lin_alloc(5);
    double *wdx = gc_doubles(N * C), *wdw = gc_doubles(OC * C);
    BN_CHECK_OK(bn_train_bitlinear_prepare(b.w, OC, C, 1.0f, b.weff, b.packed, OC * C / 4, &b.w_scale));
    BN_CHECK_OK(bn_train_bitlinear_forward(b.x, N, C, b.weff, b.packed, b.w_scale, OC, 1.0f, b.xeff, b.out, b.work,
                                           b.work_len, NULL));
    BN_CHECK_OK(bn_train_bitlinear_backward(b.dout, b.xeff, b.weff, N, C, OC, b.dx, b.dw, NULL));
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int o = 0; o < OC; o++) wdx[n * C + c] += (double)b.dout[n * OC + o] * b.weff[o * C + c];
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++)
            for (int n = 0; n < N; n++) wdw[o * C + c] += (double)b.dout[n * OC + o] * b.xeff[n * C + c];
    GC_CHECK_GRAD(b.dx, wdx, N * C, "dx (STE)");
    GC_CHECK_GRAD(b.dw, wdw, OC * C, "dw (STE)");
    /* the straight-through gradient is not the float one: weff and xeff differ from w and x */
    BN_CHECK(memcmp(b.weff, b.w, sizeof(float) * OC * C) != 0);
    /* accumulate: a second call doubles (to the rounding of the matmul's partial sums) */
    float *dx2 = gc_floats(N * C), *dw2 = gc_floats(OC * C);
    BN_CHECK_OK(bn_train_bitlinear_backward(b.dout, b.xeff, b.weff, N, C, OC, dx2, dw2, NULL));
    BN_CHECK_OK(bn_train_bitlinear_backward(b.dout, b.xeff, b.weff, N, C, OC, dx2, dw2, NULL));
    BN_CHECK(gc_doubled(b.dx, dx2, N * C, 1e-6));
    BN_CHECK(gc_doubled(b.dw, dw2, OC * C, 1e-6));
    free(wdx), free(wdw), free(dx2), free(dw2);
    lin_free(&b);
}

/* big enough that the pool splits every stage: ActQuant rows, the ternary matmul's rows, bn_sgemm's blocks */
BN_TEST(thread_count_independent) {
    enum { N2 = 150, C2 = 384, OC2 = 200 };
    const float blends[2] = {1.0f, 0.5f};
    uint64_t rng = 6;
    float *w = gc_floats(OC2 * C2), *x = gc_floats(N2 * C2), *dout = gc_floats(N2 * OC2);
    gc_fill(w, OC2 * C2, &rng, -0.1f, 0.1f);
    gc_fill(x, N2 * C2, &rng, -2, 2);
    gc_fill(dout, N2 * OC2, &rng, -1, 1);
    int64_t wl;
    BN_CHECK_OK(bn_train_bitlinear_work_size(N2, C2, &wl));
    void* work = malloc((size_t)wl);
    for (int bi = 0; bi < 2; bi++) {
        float *weff[3], *xeff[3], *out[3], *dx[3], *dw[3];
        uint8_t* packed[3];
        for (int k = 0; k < 3; k++) {
            bn_threadpool* tp = NULL;
            float ws;
            BN_CHECK_OK(bn_threadpool_create(k + 1, &tp));
            weff[k] = gc_floats(OC2 * C2), xeff[k] = gc_floats(N2 * C2), out[k] = gc_floats(N2 * OC2);
            dx[k] = gc_floats(N2 * C2), dw[k] = gc_floats(OC2 * C2), packed[k] = calloc(OC2 * C2 / 4, 1);
            BN_CHECK_OK(bn_train_bitlinear_prepare(w, OC2, C2, blends[bi], weff[k], packed[k], OC2 * C2 / 4, &ws));
            BN_CHECK_OK(bn_train_bitlinear_forward(x, N2, C2, weff[k], packed[k], ws, OC2, blends[bi], xeff[k], out[k],
                                                   work, wl, tp));
            BN_CHECK_OK(bn_train_bitlinear_backward(dout, xeff[k], weff[k], N2, C2, OC2, dx[k], dw[k], tp));
            bn_threadpool_destroy(tp);
        }
        for (int k = 1; k < 3; k++) {
            BN_CHECK_MSG(memcmp(out[0], out[k], sizeof(float) * N2 * OC2) == 0, "out, blend %g, %d threads",
                         blends[bi], k + 1);
            BN_CHECK_MSG(memcmp(xeff[0], xeff[k], sizeof(float) * N2 * C2) == 0, "xeff, blend %g, %d threads",
                         blends[bi], k + 1);
            BN_CHECK_MSG(memcmp(dx[0], dx[k], sizeof(float) * N2 * C2) == 0, "dx, blend %g, %d threads", blends[bi],
                         k + 1);
            BN_CHECK_MSG(memcmp(dw[0], dw[k], sizeof(float) * OC2 * C2) == 0, "dw, blend %g, %d threads",
                         blends[bi], k + 1);
        }
        for (int k = 0; k < 3; k++) free(weff[k]), free(xeff[k]), free(out[k]), free(dx[k]), free(dw[k]), free(packed[k]);
    }
    free(w), free(x), free(dout), free(work);
}

BN_TEST(errors) {
    lin_bufs b = lin_alloc(7);
    BN_CHECK_STATUS(bn_train_bitlinear_prepare(b.w, OC, C, 1.5f, b.weff, NULL, 0, &b.w_scale), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_bitlinear_prepare(b.w, OC, C, NAN, b.weff, NULL, 0, &b.w_scale), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_bitlinear_prepare(b.w, OC, 100, 1.0f, b.weff, b.packed, OC * C / 4, &b.w_scale),
                    BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_train_bitlinear_prepare(b.w, OC, C, 1.0f, b.weff, b.packed, OC * C / 4 - 1, &b.w_scale),
                    BN_ERR_BUFFER_TOO_SMALL);
    b.w[3] = NAN;
    BN_CHECK_STATUS(bn_train_bitlinear_prepare(b.w, OC, C, 1.0f, b.weff, NULL, 0, &b.w_scale), BN_ERR_NUMERIC);
    BN_CHECK_STATUS(bn_train_bitlinear_forward(b.x, N, C, b.weff, NULL, 1.0f, OC, 0.5f, b.xeff, b.out, b.work,
                                               b.work_len - 1, NULL),
                    BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_train_bitlinear_forward(b.x, N, C, NULL, NULL, 1.0f, OC, 0.5f, b.xeff, b.out, b.work,
                                               b.work_len, NULL),
                    BN_ERR_INVALID_ARGUMENT);
    b.x[7] = INFINITY;
    BN_CHECK_STATUS(bn_train_bitlinear_forward(b.x, N, C, b.weff, NULL, 1.0f, OC, 0.5f, b.xeff, b.out, b.work,
                                               b.work_len, NULL),
                    BN_ERR_NUMERIC);
    BN_CHECK_STATUS(bn_train_bitlinear_backward(b.dout, b.xeff, b.weff, N, 0, OC, b.dx, b.dw, NULL),
                    BN_ERR_INVALID_ARGUMENT);
    int64_t ws;
    BN_CHECK_STATUS(bn_train_bitlinear_work_size(-1, C, &ws), BN_ERR_INVALID_ARGUMENT);
    lin_free(&b);
}
