/* RoPE backward (src/train/rope.c) against central finite differences of a double reference of the forward
 * (bn_rope_f32_table with the same cos/sin table), in place; a backward of a forward gives back the input;
 * positions out of the table are named. */
#include "grad_check.h"

enum { N = 4, H = 3, D = 10, NPOS = 9 };
static const int32_t pos[N] = {0, 3, 8, 5};

typedef struct rope_ref {
    double* x;
    const float *cos, *sin, *dout;
} rope_ref;

/* L = sum dout ⊙ rope(x) with the table's angles (NeoX pairs (i, i + D/2)) */
static double rope_loss(void* p) {
    const rope_ref* r = p;
    double l = 0.0;
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++) {
            const double* x = r->x + (n * H + h) * D;
            const float* g = r->dout + (n * H + h) * D;
            for (int i = 0; i < D / 2; i++) {
                const double c = r->cos[pos[n] * (D / 2) + i], s = r->sin[pos[n] * (D / 2) + i];
                l += g[i] * (x[i] * c - x[i + D / 2] * s) + g[i + D / 2] * (x[i + D / 2] * c + x[i] * s);
            }
        }
    return l;
}

BN_TEST(backward_matches_finite_differences) {
    uint64_t rng = 1;
    float cs[NPOS * D / 2], sn[NPOS * D / 2], x[N * H * D], dx[N * H * D];
    double xd[N * H * D], fd[N * H * D];
    BN_CHECK_OK(bn_rope_table_f32(NPOS, D, 10000.0f, cs, sn));
    gc_fill(x, N * H * D, &rng, -1, 1);
    gc_fill(dx, N * H * D, &rng, -1, 1);
    gc_to_double(x, N * H * D, xd);
    rope_ref r = {xd, cs, sn, dx};
    gc_fd(rope_loss, &r, xd, N * H * D, fd);
    BN_CHECK_OK(bn_train_rope_backward(dx, N, H, D, pos, cs, sn, NPOS));
    GC_CHECK_GRAD(dx, fd, N * H * D, "dx");
}

BN_TEST(backward_undoes_forward) {
    uint64_t rng = 2;
    float cs[NPOS * D / 2], sn[NPOS * D / 2], x[N * H * D], y[N * H * D];
    BN_CHECK_OK(bn_rope_table_f32(NPOS, D, 500000.0f, cs, sn));
    gc_fill(x, N * H * D, &rng, -1, 1);
    memcpy(y, x, sizeof y);
    BN_CHECK_OK(bn_rope_f32_table(y, N, H, D, pos, cs, sn, NPOS));
    BN_CHECK(memcmp(x, y, sizeof y) != 0);
    BN_CHECK_OK(bn_train_rope_backward(y, N, H, D, pos, cs, sn, NPOS)); /* a rotation's transpose is its inverse */
    for (int i = 0; i < N * H * D; i++) BN_CHECK(fabsf(y[i] - x[i]) <= 1e-6f);
}

BN_TEST(errors) {
    float cs[NPOS * D / 2] = {0}, sn[NPOS * D / 2] = {0}, x[N * H * D] = {0};
    const int32_t bad[N] = {0, 9, 1, 2};
    BN_CHECK_STATUS(bn_train_rope_backward(x, N, H, D, bad, cs, sn, NPOS), BN_ERR_SHAPE);
    BN_CHECK(strstr(bn_last_error(), "pos[1] (9)") != NULL);
    BN_CHECK_STATUS(bn_train_rope_backward(x, N, H, 7, pos, cs, sn, NPOS), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_train_rope_backward(x, N, 0, D, pos, cs, sn, NPOS), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_rope_backward(x, N, H, D, pos, NULL, sn, NPOS), BN_ERR_INVALID_ARGUMENT);
}
