/* Training embedding (src/train/embedding.c): forward copies rows, backward against central finite differences
 * of a double reference (repeated ids included), accumulation, and ids out of range. */
#include "grad_check.h"

enum { N = 6, V = 5, C = 7 };
static const int32_t ids[N] = {3, 0, 3, 4, 1, 3};

typedef struct emb_ref {
    double* wte;
    const float* dout;
} emb_ref;

/* L = sum_n dout[n] . wte[ids[n]] */
static double emb_loss(void* p) {
    const emb_ref* r = p;
    double l = 0.0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) l += r->dout[n * C + c] * r->wte[ids[n] * C + c];
    return l;
}

BN_TEST(forward_copies_rows) {
    uint64_t rng = 1;
    float wte[V * C], out[N * C];
    gc_fill(wte, V * C, &rng, -1, 1);
    BN_CHECK_OK(bn_train_embedding_forward(ids, N, wte, V, C, out));
    for (int n = 0; n < N; n++) BN_CHECK(memcmp(out + n * C, wte + ids[n] * C, sizeof(float) * C) == 0);
}

BN_TEST(backward_matches_finite_differences) {
    uint64_t rng = 2;
    float wte[V * C], dout[N * C], dwte[V * C] = {0};
    double wd[V * C], fd[V * C];
    gc_fill(wte, V * C, &rng, -1, 1);
    gc_fill(dout, N * C, &rng, -1, 1);
    gc_to_double(wte, V * C, wd);
    emb_ref r = {wd, dout};
    gc_fd(emb_loss, &r, wd, V * C, fd);
    BN_CHECK_OK(bn_train_embedding_backward(ids, N, dout, V, C, dwte));
    GC_CHECK_GRAD(dwte, fd, V * C, "dwte");
    /* row 2 is never looked up: its gradient stays exactly 0 */
    for (int c = 0; c < C; c++) BN_CHECK(dwte[2 * C + c] == 0.0f);
}

BN_TEST(backward_accumulates) {
    uint64_t rng = 3;
    float dout[N * C], once[V * C] = {0}, twice[V * C] = {0};
    gc_fill(dout, N * C, &rng, -1, 1);
    BN_CHECK_OK(bn_train_embedding_backward(ids, N, dout, V, C, once));
    BN_CHECK_OK(bn_train_embedding_backward(ids, N, dout, V, C, twice));
    BN_CHECK_OK(bn_train_embedding_backward(ids, N, dout, V, C, twice));
    BN_CHECK(gc_doubled(once, twice, V * C, 1e-6));
}

BN_TEST(ids_out_of_range_are_named) {
    float wte[V * C] = {0}, out[N * C], dwte[V * C] = {0};
    int32_t bad[3] = {0, 5, 1};
    BN_CHECK_STATUS(bn_train_embedding_forward(bad, 3, wte, V, C, out), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "id 5 at position 1") != NULL);
    bad[1] = -1;
    BN_CHECK_STATUS(bn_train_embedding_backward(bad, 3, out, V, C, dwte), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "id -1 at position 1") != NULL);
    for (int i = 0; i < V * C; i++) BN_CHECK(dwte[i] == 0.0f);
    BN_CHECK_STATUS(bn_train_embedding_forward(ids, N, NULL, V, C, out), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_embedding_forward(ids, N, wte, V, 0, out), BN_ERR_INVALID_ARGUMENT);
}
