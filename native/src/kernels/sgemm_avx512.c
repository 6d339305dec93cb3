/* Float GEMM, AVX-512: a 12 x 32 register tile (24 zmm accumulators; per k two loads of B and twelve
 * broadcasts of A, which the compiler folds into the FMAs as {1to16} memory operands). Packing and blocking
 * are kernels/sgemm_tile.h's. */
#include <immintrin.h>

#include "kernels/sgemm_tile.h"

#define MR 12
#define NR 32

/* the epilogue of one row: c = fma(beta, c, alpha * acc), or alpha * acc when beta == 0 */
#define STORE_ROW(r)                                                                                            \
    do {                                                                                                        \
        float* cr = c + (r) * ldc;                                                                              \
        __m512 t0 = _mm512_mul_ps(va, c##r##0), t1 = _mm512_mul_ps(va, c##r##1);                                \
        if (beta != 0.0f) {                                                                                     \
            t0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr), t0);                                                  \
            t1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr + 16), t1);                                             \
        }                                                                                                       \
        _mm512_storeu_ps(cr, t0);                                                                               \
        _mm512_storeu_ps(cr + 16, t1);                                                                          \
    } while (0)

#define FMA_ROW(r)                                                                                              \
    do {                                                                                                        \
        __m512 av = _mm512_set1_ps(a[r]);                                                                       \
        c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0);                                                             \
        c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);                                                             \
    } while (0)

// a (kc, 12) packed, b (kc, 32) packed -> c (12, 32) with row stride ldc
static void ukernel_12x32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                          float beta) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
           c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00,
           c80 = c00, c81 = c00, c90 = c00, c91 = c00, c100 = c00, c101 = c00, c110 = c00, c111 = c00;
    for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        FMA_ROW(0); FMA_ROW(1); FMA_ROW(2); FMA_ROW(3); FMA_ROW(4); FMA_ROW(5);
        FMA_ROW(6); FMA_ROW(7); FMA_ROW(8); FMA_ROW(9); FMA_ROW(10); FMA_ROW(11);
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    STORE_ROW(0); STORE_ROW(1); STORE_ROW(2); STORE_ROW(3); STORE_ROW(4); STORE_ROW(5);
    STORE_ROW(6); STORE_ROW(7); STORE_ROW(8); STORE_ROW(9); STORE_ROW(10); STORE_ROW(11);
}

static void sgemm_pack_b_avx512(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t k_from, int64_t k_to) {
    bn_sgemm_pack_b_strips(g, p, k_from, k_to, NR);
}

static void sgemm_block_avx512(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t i0, int64_t i1, int64_t j0,
                               int64_t j1, float* work) {
    bn_sgemm_block_tiles(g, p, i0, i1, j0, j1, work, MR, NR, ukernel_12x32);
}

void bn_install_sgemm_avx512(bn_kernel_table* t) {
    t->sgemm_pack_b = sgemm_pack_b_avx512;
    t->sgemm_pack_b_impl = "avx512";
    t->sgemm_block = sgemm_block_avx512;
    t->sgemm_block_impl = "avx512";
}
