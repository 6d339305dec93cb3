/* Float GEMM (kernels/sgemm*.c): every variant this CPU runs (scalar reference included), through the same
 * driver, against a double-precision reference on shapes around every tile, block and panel edge, in all four
 * transpose combinations, with strides wider than the rows; beta == 0 ignoring NaN in C; the same bits for 1, 2
 * and 3 threads; argument errors.
 *
 * Tolerance: |got - want| <= 2e-7 * (K + 4) * scale with scale = |alpha| * sum_k |a b| + |beta c|, about K float
 * roundings of the largest partial sum (the summation order differs between variants); one term of the sum
 * missing or counted twice is ~scale / K, far outside it for the K used here. */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"
#include "kernels/kernels.h"

typedef struct sg_variant {
    const char* name;
    bn_kernel_table t;
} sg_variant;

/* The scalar reference and the vector versions this CPU can run (the feature masks of core/dispatch.c). */
static int sg_variants(sg_variant* v) {
    int n = 0;
    memset(v, 0, 4 * sizeof *v);
    v[n].name = "scalar";
    bn_install_sgemm_scalar(&v[n++].t);
    uint64_t f = bn_cpu_features();
    (void)f;
#if defined(__x86_64__)
    const uint64_t avx2 = BN_CPU_AVX2 | BN_CPU_FMA | BN_CPU_F16C;
    const uint64_t avx512 = avx2 | BN_CPU_AVX512F | BN_CPU_AVX512BW | BN_CPU_AVX512VL | BN_CPU_AVX512VNNI;
    if ((f & avx2) == avx2) {
        v[n].name = "avx2";
        bn_install_sgemm_avx2(&v[n++].t);
    }
    if ((f & avx512) == avx512) {
        v[n].name = "avx512";
        bn_install_sgemm_avx512(&v[n++].t);
    }
#endif
#if defined(__aarch64__)
    v[n].name = "neon";
    bn_install_sgemm_neon(&v[n++].t);
#endif
    return n;
}

static void fill(float* x, int64_t n, uint64_t* rng) {
    for (int64_t i = 0; i < n; i++) x[i] = bn_test_rand_float(rng, -1.0f, 1.0f);
}

/* One case: op(A) (M,K), op(B) (K,N), strides = row width + pad; C starts as c0 (NaN everywhere when
 * nan_c, which beta must be 0 for). Checks every element against the double reference and that the padding
 * columns of C are untouched. Returns the number of bad elements. */
static int check_case(const bn_kernel_table* t, const char* name, int ta, int tb, int64_t M, int64_t N, int64_t K,
                      float alpha, float beta, int64_t pad, int nan_c, bn_threadpool* pool, uint64_t* rng) {
    int64_t a_rows = ta ? K : M, a_cols = ta ? M : K, b_rows = tb ? N : K, b_cols = tb ? K : N;
    int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
    float* A = malloc((size_t)(a_rows * lda + 1) * sizeof *A);
    float* B = malloc((size_t)(b_rows * ldb + 1) * sizeof *B);
    float* C = malloc((size_t)(M * ldc + 1) * sizeof *C);
    float* C0 = malloc((size_t)(M * ldc + 1) * sizeof *C0);
    fill(A, a_rows * lda, rng);
    fill(B, b_rows * ldb, rng);
    fill(C0, M * ldc, rng);
    if (nan_c)
        for (int64_t i = 0; i < M * ldc; i++) C0[i] = NAN;
    memcpy(C, C0, (size_t)(M * ldc) * sizeof *C);
    BN_CHECK_OK(bn_sgemm_with(t, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, pool));
    int bad = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            float got = C[i * ldc + j];
            if (j >= N) {
                /* padding: bit for bit what was there (NaN compares by bits) */
                if (memcmp(&got, &C0[i * ldc + j], sizeof got) != 0 && bad++ < 3)
                    bn_test_fail(__FILE__, __LINE__, "%s: padding C[%lld][%lld] was written", name, (long long)i,
                                 (long long)j);
                continue;
            }
            double sum = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = ta ? A[k * lda + i] : A[i * lda + k];
                double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                sum += a * b;
                mag += fabs(a * b);
            }
            double c0 = C0[i * ldc + j];
            double want = alpha * sum + (beta == 0.0f ? 0.0 : beta * c0);
            double scale = fabs(alpha) * mag + (beta == 0.0f ? 0.0 : fabs(beta * c0));
            if (!(fabs(got - want) <= 2e-7 * (double)(K + 4) * scale) && bad++ < 3)
                bn_test_fail(__FILE__, __LINE__,
                             "%s ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%lld: C[%lld][%lld] = %.9g, "
                             "want %.9g (scale %g)",
                             name, ta, tb, (long long)M, (long long)N, (long long)K, alpha, beta, (long long)pad,
                             (long long)i, (long long)j, got, want, scale);
        }
    free(A), free(B), free(C), free(C0);
    return bad;
}

/* (M, N, K): single elements, sizes that fill no tile, cross a tile, the MC = 96 / NC = 384 blocks, the KC = 256
 * chunk, and several B panels (K = 2100: three K panels of <= 1024 rows, 768 columns wide). */
static const int64_t g_shapes[][3] = {{1, 1, 1},    {7, 13, 5},    {33, 65, 129},  {6, 16, 8},   {12, 32, 3},
                                      {13, 33, 17}, {97, 385, 300}, {25, 20, 513}, {2, 800, 2100}, {100, 3, 1}};
#define N_SHAPES ((int)(sizeof g_shapes / sizeof g_shapes[0]))

BN_TEST(every_variant_matches_double_reference) {
    sg_variant v[4];
    int nv = sg_variants(v);
    bn_threadpool* pool;
    BN_CHECK_OK(bn_threadpool_create(2, &pool));
    uint64_t rng = 20261123;
    for (int vi = 0; vi < nv; vi++) {
        int bad = 0;
        for (int s = 0; s < N_SHAPES && bad < 5; s++)
            for (int tr = 0; tr < 4; tr++) {
                int64_t pad = (s + tr) % 3 == 0 ? 0 : 3 + s;
                bad += check_case(&v[vi].t, v[vi].name, tr & 1, tr >> 1, g_shapes[s][0], g_shapes[s][1],
                                  g_shapes[s][2], 1.0f, 0.0f, pad, 0, s % 2 ? pool : NULL, &rng);
            }
        printf("%s: %d bad\n", v[vi].name, bad);
    }
    BN_CHECK_OK(bn_threadpool_destroy(pool));
}

BN_TEST(alpha_beta_and_nan_in_c) {
    sg_variant v[4];
    int nv = sg_variants(v);
    uint64_t rng = 77;
    const float ab[][2] = {{0.5f, -1.25f}, {-2.0f, 1.0f}, {1.0f, 0.0f}, {3.0f, 0.75f}};
    for (int vi = 0; vi < nv; vi++)
        for (int tr = 0; tr < 4; tr++) {
            for (int i = 0; i < 4; i++) {
                check_case(&v[vi].t, v[vi].name, tr & 1, tr >> 1, 33, 65, 129, ab[i][0], ab[i][1], 2, 0, NULL, &rng);
                check_case(&v[vi].t, v[vi].name, tr & 1, tr >> 1, 14, 40, 300, ab[i][0], ab[i][1], 0, 0, NULL, &rng);
            }
            /* beta == 0: C's NaN must not leak into the result (padding stays NaN, checked by bits) */
            check_case(&v[vi].t, v[vi].name, tr & 1, tr >> 1, 33, 65, 129, 1.5f, 0.0f, 1, 1, NULL, &rng);
            check_case(&v[vi].t, v[vi].name, tr & 1, tr >> 1, 13, 35, 270, -1.0f, 0.0f, 0, 1, NULL, &rng);
        }
}

BN_TEST(same_bits_for_any_thread_count) {
    sg_variant v[4];
    int nv = sg_variants(v);
    bn_threadpool* pools[3] = {NULL, NULL, NULL};
    BN_CHECK_OK(bn_threadpool_create(2, &pools[1]));
    BN_CHECK_OK(bn_threadpool_create(3, &pools[2]));
    uint64_t rng = 99;
    const int64_t shapes[][3] = {{200, 500, 300}, {7, 900, 2100}, {301, 40, 70}};
    for (int s = 0; s < 3; s++)
        for (int tr = 0; tr < 4; tr++) {
            int ta = tr & 1, tb = tr >> 1;
            int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            float* A = malloc((size_t)(M * K) * sizeof *A);
            float* B = malloc((size_t)(K * N) * sizeof *B);
            float* C[3];
            fill(A, M * K, &rng);
            fill(B, K * N, &rng);
            for (int vi = 0; vi < nv; vi++) {
                for (int p = 0; p < 3; p++) {
                    C[p] = malloc((size_t)(M * N) * sizeof *C[p]);
                    for (int64_t i = 0; i < M * N; i++) C[p][i] = 0.25f * (float)(i % 7);
                    BN_CHECK_OK(bn_sgemm_with(&v[vi].t, ta, tb, M, N, K, 0.75f, A, ta ? M : K, B, tb ? K : N, -0.5f,
                                              C[p], N, pools[p]));
                }
                BN_CHECK_MSG(memcmp(C[0], C[1], (size_t)(M * N) * sizeof *C[0]) == 0 &&
                                 memcmp(C[0], C[2], (size_t)(M * N) * sizeof *C[0]) == 0,
                             "%s ta=%d tb=%d %lldx%lldx%lld: 1, 2 and 3 threads differ", v[vi].name, ta, tb,
                             (long long)M, (long long)N, (long long)K);
                for (int p = 0; p < 3; p++) free(C[p]);
            }
            free(A), free(B);
        }
    BN_CHECK_OK(bn_threadpool_destroy(pools[1]));
    BN_CHECK_OK(bn_threadpool_destroy(pools[2]));
}

BN_TEST(public_entry_uses_dispatched_kernel) {
    /* bn_sgemm (the dispatched table) on the 2B4T-like projection dx = dout (64,2560) . W (2560,640) */
    uint64_t rng = 4;
    int bad = check_case(&bn_kernels, "dispatched", 0, 0, 64, 640, 2560, 1.0f, 0.0f, 0, 0, NULL, &rng);
    BN_CHECK(bad == 0);
    int found = 0;
    for (int32_t i = 0; i < bn_kernel_count(); i++) {
        const char *op, *impl;
        BN_CHECK_OK(bn_kernel_info(i, &op, &impl));
        if (strcmp(op, "sgemm_block") == 0) found = 1, printf("sgemm_block: %s\n", impl);
    }
    BN_CHECK(found);
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, -1, 2, 0.5f, 1}, C[4];
    /* (2,3) . (3,2) = [[1-2+1.5, 0+4+3] , [4-5+3, 0+10+6]] */
    BN_CHECK_OK(bn_sgemm(0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2, NULL));
    BN_CHECK(C[0] == 0.5f && C[1] == 7.0f && C[2] == 2.0f && C[3] == 16.0f);
}

BN_TEST(alpha_zero_and_k_zero_scale_c_only) {
    float A[4] = {NAN, NAN, NAN, NAN}, B[4] = {1, 2, 3, 4};
    float C[4] = {1, 2, 3, 4};
    BN_CHECK_OK(bn_sgemm(0, 0, 2, 2, 2, 0.0f, A, 2, B, 2, 2.0f, C, 2, NULL));
    BN_CHECK(C[0] == 2.0f && C[1] == 4.0f && C[2] == 6.0f && C[3] == 8.0f);
    float D[4] = {NAN, NAN, 1, 1};
    BN_CHECK_OK(bn_sgemm(0, 0, 2, 2, 0, 1.0f, NULL, 0, NULL, 2, 0.0f, D, 2, NULL));
    BN_CHECK(D[0] == 0.0f && D[1] == 0.0f && D[2] == 0.0f && D[3] == 0.0f);
    /* empty C: nothing to do, nothing read */
    BN_CHECK_OK(bn_sgemm(0, 0, 0, 5, 3, 1.0f, NULL, 3, B, 5, 0.0f, NULL, 5, NULL));
}

static void expect_error(bn_status st, const char* word) {
    BN_CHECK_STATUS(st, BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_MSG(strstr(bn_last_error(), word) != NULL, "message \"%s\" does not name %s", bn_last_error(), word);
}

BN_TEST(argument_errors) {
    float A[64] = {0}, B[64] = {0}, C[64] = {0};
    expect_error(bn_sgemm(0, 0, -1, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2, NULL), "M (-1)");
    expect_error(bn_sgemm(0, 0, 2, -3, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2, NULL), "N (-3)");
    expect_error(bn_sgemm(0, 0, 2, 2, -4, 1.0f, A, 2, B, 2, 0.0f, C, 2, NULL), "K (-4)");
    expect_error(bn_sgemm(0, 0, 2, 2, 2, 1.0f, NULL, 2, B, 2, 0.0f, C, 2, NULL), "A must not be null");
    expect_error(bn_sgemm(0, 0, 2, 2, 2, 1.0f, A, 2, NULL, 2, 0.0f, C, 2, NULL), "B must not be null");
    expect_error(bn_sgemm(0, 0, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, NULL, 2, NULL), "C must not be null");
    /* A (3,5): lda >= 5; transposed A (5,3): lda >= 3 */
    expect_error(bn_sgemm(0, 0, 3, 2, 5, 1.0f, A, 4, B, 2, 0.0f, C, 2, NULL), "lda (4)");
    BN_CHECK_OK(bn_sgemm(1, 0, 3, 2, 5, 1.0f, A, 3, B, 2, 0.0f, C, 2, NULL));
    expect_error(bn_sgemm(1, 0, 3, 2, 5, 1.0f, A, 2, B, 2, 0.0f, C, 2, NULL), "lda (2)");
    /* B (5,2): ldb >= 2; transposed B (2,5): ldb >= 5 */
    expect_error(bn_sgemm(0, 0, 3, 2, 5, 1.0f, A, 5, B, 1, 0.0f, C, 2, NULL), "ldb (1)");
    expect_error(bn_sgemm(0, 1, 3, 2, 5, 1.0f, A, 5, B, 4, 0.0f, C, 2, NULL), "ldb (4)");
    expect_error(bn_sgemm(0, 0, 3, 2, 5, 1.0f, A, 5, B, 2, 0.0f, C, 1, NULL), "ldc (1)");
}
