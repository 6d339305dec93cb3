/* Float GEMM, NEON: an 8 x 12 register tile (24 q accumulators; per k three loads of B, two of A, and FMAs by
 * lane). Packing and blocking are kernels/sgemm_tile.h's. */
#include <arm_neon.h>

#include "kernels/sgemm_tile.h"

#define MR 8
#define NR 12

/* the epilogue of one row: c = fma(beta, c, alpha * acc), or alpha * acc when beta == 0 */
#define STORE_ROW(r)                                                                                            \
    do {                                                                                                        \
        float* cr = c + (r) * ldc;                                                                              \
        float32x4_t t0 = vmulq_n_f32(c##r##0, alpha), t1 = vmulq_n_f32(c##r##1, alpha),                         \
                    t2 = vmulq_n_f32(c##r##2, alpha);                                                           \
        if (beta != 0.0f) {                                                                                     \
            t0 = vfmaq_n_f32(t0, vld1q_f32(cr), beta);                                                          \
            t1 = vfmaq_n_f32(t1, vld1q_f32(cr + 4), beta);                                                      \
            t2 = vfmaq_n_f32(t2, vld1q_f32(cr + 8), beta);                                                      \
        }                                                                                                       \
        vst1q_f32(cr, t0);                                                                                      \
        vst1q_f32(cr + 4, t1);                                                                                  \
        vst1q_f32(cr + 8, t2);                                                                                  \
    } while (0)

#define FMA_ROW(r, av, lane)                                                                                    \
    do {                                                                                                        \
        c##r##0 = vfmaq_laneq_f32(c##r##0, b0, av, lane);                                                       \
        c##r##1 = vfmaq_laneq_f32(c##r##1, b1, av, lane);                                                       \
        c##r##2 = vfmaq_laneq_f32(c##r##2, b2, av, lane);                                                       \
    } while (0)

// a (kc, 8) packed, b (kc, 12) packed -> c (8, 12) with row stride ldc
static void ukernel_8x12(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                         float beta) {
    float32x4_t c00 = vdupq_n_f32(0.0f), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00, c20 = c00,
                c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00, c40 = c00, c41 = c00, c42 = c00,
                c50 = c00, c51 = c00, c52 = c00, c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00,
                c72 = c00;
    for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
        float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
        FMA_ROW(0, a0, 0); FMA_ROW(1, a0, 1); FMA_ROW(2, a0, 2); FMA_ROW(3, a0, 3);
        FMA_ROW(4, a1, 0); FMA_ROW(5, a1, 1); FMA_ROW(6, a1, 2); FMA_ROW(7, a1, 3);
    }
    STORE_ROW(0); STORE_ROW(1); STORE_ROW(2); STORE_ROW(3); STORE_ROW(4); STORE_ROW(5); STORE_ROW(6);
    STORE_ROW(7);
}

static void sgemm_pack_b_neon(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t k_from, int64_t k_to) {
    bn_sgemm_pack_b_strips(g, p, k_from, k_to, NR);
}

static void sgemm_block_neon(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t i0, int64_t i1, int64_t j0,
                             int64_t j1, float* work) {
    bn_sgemm_block_tiles(g, p, i0, i1, j0, j1, work, MR, NR, ukernel_8x12);
}

void bn_install_sgemm_neon(bn_kernel_table* t) {
    t->sgemm_pack_b = sgemm_pack_b_neon;
    t->sgemm_pack_b_impl = "neon";
    t->sgemm_block = sgemm_block_neon;
    t->sgemm_block_impl = "neon";
}
