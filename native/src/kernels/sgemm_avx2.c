/* Float GEMM, AVX2 + FMA: a 6 x 16 register tile (12 ymm accumulators; per k two loads of B and six
 * broadcasts of A). Packing and blocking are kernels/sgemm_tile.h's. */
#include <immintrin.h>

#include "kernels/sgemm_tile.h"

#define MR 6
#define NR 16

/* the epilogue of one row: c = fma(beta, c, alpha * acc), or alpha * acc when beta == 0 */
#define STORE_ROW(r)                                                                                            \
    do {                                                                                                        \
        float* cr = c + (r) * ldc;                                                                              \
        __m256 t0 = _mm256_mul_ps(va, c##r##0), t1 = _mm256_mul_ps(va, c##r##1);                                \
        if (beta != 0.0f) {                                                                                     \
            t0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), t0);                                                  \
            t1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), t1);                                              \
        }                                                                                                       \
        _mm256_storeu_ps(cr, t0);                                                                               \
        _mm256_storeu_ps(cr + 8, t1);                                                                           \
    } while (0)

#define FMA_ROW(r)                                                                                              \
    do {                                                                                                        \
        __m256 av = _mm256_broadcast_ss(a + (r));                                                               \
        c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);                                                             \
        c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1);                                                             \
    } while (0)

// a (kc, 6) packed, b (kc, 16) packed -> c (6, 16) with row stride ldc
static void ukernel_6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                         float beta) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
           c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        FMA_ROW(0); FMA_ROW(1); FMA_ROW(2); FMA_ROW(3); FMA_ROW(4); FMA_ROW(5);
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    STORE_ROW(0); STORE_ROW(1); STORE_ROW(2); STORE_ROW(3); STORE_ROW(4); STORE_ROW(5);
}

static void sgemm_pack_b_avx2(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t k_from, int64_t k_to) {
    bn_sgemm_pack_b_strips(g, p, k_from, k_to, NR);
}

static void sgemm_block_avx2(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t i0, int64_t i1, int64_t j0,
                             int64_t j1, float* work) {
    bn_sgemm_block_tiles(g, p, i0, i1, j0, j1, work, MR, NR, ukernel_6x16);
}

void bn_install_sgemm_avx2(bn_kernel_table* t) {
    t->sgemm_pack_b = sgemm_pack_b_avx2;
    t->sgemm_pack_b_impl = "avx2";
    t->sgemm_block = sgemm_block_avx2;
    t->sgemm_block_impl = "avx2";
}
