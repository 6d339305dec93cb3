/* Float GEMM: C (M,N) = alpha * op(A) . op(B) + beta * C, row-major (bitnet.h, "Float matrix multiply").
 * The driver here checks arguments, takes the scratch once per call, packs op(B) a panel at a time and hands
 * blocks of C to the pool; kernels/sgemm.h says how the work is cut and why the result does not depend on the
 * thread count. The scalar reference (the definition of correct) is at the bottom. */
#include "core/error.h"
#include "kernels/kernels.h"

/* K rows of B packed per parallel item: a few KB to a few tens of KB of a panel. */
#define PACK_ROWS 64

typedef struct sgemm_run {
    const bn_kernel_table* t;
    const bn_sgemm_job* g;
    bn_sgemm_panel panel; /* the current panel */
    int64_t mc, nc;       /* block size: <= BN_SGEMM_MC x BN_SGEMM_NC */
    int64_t blocks_n;     /* blocks across the panel */
    float* work;          /* BN_SGEMM_WORK_FLOATS per worker */
    int32_t n_workers;
} sgemm_run;

static void pack_items(void* ctx, int64_t b0, int64_t b1, int32_t worker) {
    (void)worker;
    const sgemm_run* r = (const sgemm_run*)ctx;
    int64_t k0 = r->panel.k0 + b0 * PACK_ROWS, k1 = r->panel.k0 + b1 * PACK_ROWS;
    r->t->sgemm_pack_b(r->g, &r->panel, k0, k1 < r->panel.k1 ? k1 : r->panel.k1);
}

static void block_items(void* ctx, int64_t b0, int64_t b1, int32_t worker) {
    const sgemm_run* r = (const sgemm_run*)ctx;
    /* a call nested inside another pool's job runs serially on one thread, so any one slot is free */
    float* work = r->work + (int64_t)(worker < r->n_workers ? worker : 0) * BN_SGEMM_WORK_FLOATS;
    for (int64_t b = b0; b < b1; b++) {
        int64_t i0 = (b / r->blocks_n) * r->mc, j0 = r->panel.j0 + (b % r->blocks_n) * r->nc;
        int64_t i1 = i0 + r->mc < r->g->M ? i0 + r->mc : r->g->M;
        int64_t j1 = j0 + r->nc < r->panel.j1 ? j0 + r->nc : r->panel.j1;
        r->t->sgemm_block(r->g, &r->panel, i0, i1, j0, j1, work);
    }
}

/* C = beta * C (0 when beta == 0, whatever C held): the whole answer when alpha == 0 or K == 0; A and B are
 * not read then, as in BLAS. */
static void scale_c(const bn_sgemm_job* g) {
    for (int64_t i = 0; i < g->M; i++) {
        float* c = g->C + i * g->ldc;
        for (int64_t j = 0; j < g->N; j++) c[j] = g->beta == 0.0f ? 0.0f : g->beta * c[j];
    }
}

bn_status bn_sgemm_with(const bn_kernel_table* t, int32_t trans_a, int32_t trans_b, int64_t M, int64_t N,
                        int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                        float beta, float* C, int64_t ldc, bn_threadpool* pool) {
    BN_REQUIRE_ARG(M >= 0 && N >= 0 && K >= 0, "bn_sgemm: M (%lld), N (%lld) and K (%lld) must be >= 0",
                   (long long)M, (long long)N, (long long)K);
    BN_REQUIRE_ARG(A != NULL || M == 0 || K == 0, "bn_sgemm: A must not be null (M %lld, K %lld)", (long long)M,
                   (long long)K);
    BN_REQUIRE_ARG(B != NULL || N == 0 || K == 0, "bn_sgemm: B must not be null (K %lld, N %lld)", (long long)K,
                   (long long)N);
    BN_REQUIRE_ARG(C != NULL || M == 0 || N == 0, "bn_sgemm: C must not be null (M %lld, N %lld)", (long long)M,
                   (long long)N);
    int64_t a_cols = trans_a ? M : K, b_cols = trans_b ? K : N;
    BN_REQUIRE_ARG(lda >= a_cols && lda >= 0, "bn_sgemm: lda (%lld) is less than A's row width %lld (%s)",
                   (long long)lda, (long long)a_cols, trans_a ? "M, A is (K,M)" : "K, A is (M,K)");
    BN_REQUIRE_ARG(ldb >= b_cols && ldb >= 0, "bn_sgemm: ldb (%lld) is less than B's row width %lld (%s)",
                   (long long)ldb, (long long)b_cols, trans_b ? "K, B is (N,K)" : "N, B is (K,N)");
    BN_REQUIRE_ARG(ldc >= N, "bn_sgemm: ldc (%lld) is less than C's row width N (%lld)", (long long)ldc,
                   (long long)N);
    if (M == 0 || N == 0) return BN_OK;
    bn_sgemm_job g = {trans_a != 0, trans_b != 0, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc};
    if (K == 0 || alpha == 0.0f) {
        scale_c(&g);
        return BN_OK;
    }

    int64_t kp = K < BN_SGEMM_KP ? K : BN_SGEMM_KP;
    int64_t np = bn_sgemm_panel_cols(kp);
    if (np > N) np = N;
    int32_t n_workers = pool ? bn_threadpool_size(pool) : 1;
    if (n_workers < 1) n_workers = 1;
    int64_t bp_floats = kp * (np + BN_SGEMM_NR_MAX);
    int64_t work_floats = (int64_t)n_workers * BN_SGEMM_WORK_FLOATS;
    float* scratch = NULL;
    bn_status st = bn_pool_alloc(bn_pool_default(), (size_t)(bp_floats + work_floats) * sizeof(float),
                                 (void**)&scratch);
    if (st != BN_OK) return st;

    sgemm_run r = {t, &g, {0, 0, 0, 0, scratch}, BN_SGEMM_MC, BN_SGEMM_NC, 0, scratch + bp_floats, n_workers};
    /* Smaller blocks where a panel would give each thread under 4 (sgemm.h: this changes no bit of C). Narrower
     * first: a block repacks its rows of A per K chunk, whatever its width. */
    while (n_workers > 1 && r.nc > BN_SGEMM_MIN_NC &&
           ((M + r.mc - 1) / r.mc) * ((np + r.nc - 1) / r.nc) < 4 * (int64_t)n_workers)
        r.nc /= 2;
    while (n_workers > 1 && r.mc > BN_SGEMM_MIN_MC &&
           ((M + r.mc - 1) / r.mc) * ((np + r.nc - 1) / r.nc) < 4 * (int64_t)n_workers)
        r.mc /= 2;
    int64_t blocks_m = (M + r.mc - 1) / r.mc;
    /* panels column-major: a block of C takes its K panels in ascending order, one after the other */
    for (int64_t j0 = 0; j0 < N && st == BN_OK; j0 += np) {
        r.panel.j0 = j0;
        r.panel.j1 = j0 + np < N ? j0 + np : N;
        r.blocks_n = (r.panel.j1 - j0 + r.nc - 1) / r.nc;
        for (int64_t k0 = 0; k0 < K && st == BN_OK; k0 += kp) {
            r.panel.k0 = k0;
            r.panel.k1 = k0 + kp < K ? k0 + kp : K;
            st = bn_threadpool_parallel_for(pool, (r.panel.k1 - k0 + PACK_ROWS - 1) / PACK_ROWS, 1, pack_items, &r);
            if (st == BN_OK) st = bn_threadpool_parallel_for(pool, blocks_m * r.blocks_n, 1, block_items, &r);
        }
    }
    bn_status fst = bn_pool_free(bn_pool_default(), scratch);
    return st != BN_OK ? st : fst;
}

bn_status bn_sgemm(int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                   int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                   bn_threadpool* pool) {
    bn_kernels_init();
    return bn_sgemm_with(&bn_kernels, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, pool);
}

/* ---- scalar reference: each element summed over a panel's K rows in one float, k ascending, in place ---- */

static void sgemm_pack_b_scalar(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t k_from, int64_t k_to) {
    (void)g, (void)p, (void)k_from, (void)k_to;
}

static void sgemm_block_scalar(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t i0, int64_t i1, int64_t j0,
                               int64_t j1, float* work) {
    (void)work;
    /* op(A)[i][k] and op(B)[k][j] as element strides */
    int64_t a_si = g->trans_a ? 1 : g->lda, a_sk = g->trans_a ? g->lda : 1;
    int64_t b_sk = g->trans_b ? 1 : g->ldb, b_sj = g->trans_b ? g->ldb : 1;
    float beta = p->k0 == 0 ? g->beta : 1.0f;
    for (int64_t i = i0; i < i1; i++) {
        const float* a = g->A + i * a_si;
        float* c = g->C + i * g->ldc;
        for (int64_t j = j0; j < j1; j++) {
            const float* b = g->B + j * b_sj;
            float acc = 0.0f;
            for (int64_t k = p->k0; k < p->k1; k++) acc += a[k * a_sk] * b[k * b_sk];
            c[j] = beta == 0.0f ? g->alpha * acc : g->alpha * acc + beta * c[j];
        }
    }
}

void bn_install_sgemm_scalar(bn_kernel_table* t) {
    t->sgemm_pack_b = sgemm_pack_b_scalar;
    t->sgemm_pack_b_impl = "scalar";
    t->sgemm_block = sgemm_block_scalar;
    t->sgemm_block_impl = "scalar";
}
