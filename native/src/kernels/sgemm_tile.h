/* Internal: the packing and blocking that every vector sgemm shares (kernels/sgemm.h describes the layouts).
 * Each sgemm_<isa>.c includes this with its own compile flags and passes its MR, NR and MR x NR micro-kernel,
 * which are constants after inlining, so the copies and loops here are compiled for that instruction set.
 *
 * A micro-kernel computes, for one packed A strip a [kc][MR] and one packed B strip b [kc][NR],
 *   acc[r][c] = sum_{k ascending} a[k][r] * b[k][c]        (one FMA chain per element)
 *   C[r][c]   = alpha * acc[r][c]                (beta == 0: C is not read)
 *             = alpha * acc[r][c] + beta * C[r][c]   (otherwise; later K chunks pass beta = 1)
 * with the product alpha * acc rounded before the add, as the edge-tile merge below does. */
#ifndef BN_KERNELS_SGEMM_TILE_H
#define BN_KERNELS_SGEMM_TILE_H

#include <string.h>

#include "kernels/kernels.h"

#if defined(_MSC_VER) && !defined(__clang__)
#  define BN_SGEMM_INLINE static __forceinline
#else
#  define BN_SGEMM_INLINE static inline __attribute__((always_inline))
#endif

typedef void bn_sgemm_ukernel_fn(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                                 float beta);

/* Rows [k_from, k_to) of op(B)'s panel p into p->bp ([strip][k - p->k0][nr]), columns past p->j1 zeroed. */
BN_SGEMM_INLINE void bn_sgemm_pack_b_strips(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t k_from,
                                            int64_t k_to, const int nr) {
    int64_t kp = p->k1 - p->k0;
    for (int64_t j = p->j0; j < p->j1; j += nr) {
        int64_t w = p->j1 - j < nr ? p->j1 - j : nr;
        float* dst = p->bp + ((j - p->j0) / nr) * kp * nr - p->k0 * nr; /* indexed by absolute k */
        if (!g->trans_b) {
            /* B (K,N): a row of the strip is w contiguous floats */
            for (int64_t k = k_from; k < k_to; k++) {
                const float* src = g->B + k * g->ldb + j;
                float* d = dst + k * nr;
                for (int64_t c = 0; c < w; c++) d[c] = src[c];
                for (int64_t c = w; c < nr; c++) d[c] = 0.0f;
            }
        } else {
            /* B (N,K): column c of the strip is row j + c of B, contiguous in k */
            for (int64_t c = 0; c < w; c++) {
                const float* src = g->B + (j + c) * g->ldb;
                for (int64_t k = k_from; k < k_to; k++) dst[k * nr + c] = src[k];
            }
            for (int64_t k = k_from; k < k_to; k++)
                for (int64_t c = w; c < nr; c++) dst[k * nr + c] = 0.0f;
        }
    }
}

/* op(A)[i0:i1, k0:k0+kc] into ap as [strip][k][mr], rows past i1 zeroed. */
BN_SGEMM_INLINE void bn_sgemm_pack_a(const bn_sgemm_job* g, int64_t i0, int64_t i1, int64_t k0, int64_t kc,
                                     float* ap, const int mr) {
    for (int64_t i = i0; i < i1; i += mr) {
        int64_t h = i1 - i < mr ? i1 - i : mr;
        float* dst = ap + ((i - i0) / mr) * kc * mr;
        if (!g->trans_a) {
            /* A (M,K): row r of the strip is contiguous in k */
            for (int64_t r = 0; r < h; r++) {
                const float* src = g->A + (i + r) * g->lda + k0;
                for (int64_t k = 0; k < kc; k++) dst[k * mr + r] = src[k];
            }
            if (h < mr)
                for (int64_t k = 0; k < kc; k++)
                    for (int64_t r = h; r < mr; r++) dst[k * mr + r] = 0.0f;
        } else {
            /* A (K,M): a k of the strip is h contiguous floats */
            for (int64_t k = 0; k < kc; k++) {
                const float* src = g->A + (k0 + k) * g->lda + i;
                float* d = dst + k * mr;
                for (int64_t r = 0; r < h; r++) d[r] = src[r];
                for (int64_t r = h; r < mr; r++) d[r] = 0.0f;
            }
        }
    }
}

/* One block of C (sgemm.h's sgemm_block contract). */
BN_SGEMM_INLINE void bn_sgemm_block_tiles(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t i0, int64_t i1,
                                          int64_t j0, int64_t j1, float* work, const int mr, const int nr,
                                          bn_sgemm_ukernel_fn* uk) {
    float* ap = work;
    float* tile = work + (int64_t)BN_SGEMM_MC * BN_SGEMM_KC;
    int64_t kp = p->k1 - p->k0;
    for (int64_t k0 = p->k0; k0 < p->k1; k0 += BN_SGEMM_KC) {
        int64_t kc = p->k1 - k0 < BN_SGEMM_KC ? p->k1 - k0 : BN_SGEMM_KC;
        float beta = k0 == 0 ? g->beta : 1.0f;
        bn_sgemm_pack_a(g, i0, i1, k0, kc, ap, mr);
#ifdef IOUTER /*EXPERIMENT*/
        for (int64_t i = i0; i < i1; i += mr) {
                int64_t h = i1 - i < mr ? i1 - i : mr;
                const float* a = ap + ((i - i0) / mr) * kc * mr;
        for (int64_t j = j0; j < j1; j += nr) {
            int64_t w = j1 - j < nr ? j1 - j : nr;
            const float* b = p->bp + ((j - p->j0) / nr) * kp * nr + (k0 - p->k0) * nr;
#else
        for (int64_t j = j0; j < j1; j += nr) {
            int64_t w = j1 - j < nr ? j1 - j : nr;
            const float* b = p->bp + ((j - p->j0) / nr) * kp * nr + (k0 - p->k0) * nr;
            for (int64_t i = i0; i < i1; i += mr) {
                int64_t h = i1 - i < mr ? i1 - i : mr;
                const float* a = ap + ((i - i0) / mr) * kc * mr;
#endif /*EXPERIMENT*/
                float* c = g->C + i * g->ldc + j;
                if (h == mr && w == nr) {
                    uk(kc, a, b, c, g->ldc, g->alpha, beta);
                    continue;
                }
                /* edge tile: the full tile into scratch, then the valid h x w corner into C */
                uk(kc, a, b, tile, nr, g->alpha, 0.0f);
                for (int64_t r = 0; r < h; r++)
                    for (int64_t q = 0; q < w; q++) {
                        float v = tile[r * nr + q];
                        c[r * g->ldc + q] = beta == 0.0f ? v : v + beta * c[r * g->ldc + q];
                    }
            }
        }
    }
}

#endif
