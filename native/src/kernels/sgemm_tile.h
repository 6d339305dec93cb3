/* Internal: the packing and blocking that every vector sgemm shares (kernels/sgemm.h describes the layouts).
 * Each sgemm_<isa>.c includes this with its own compile flags and passes its MR, NR and MR x NR micro-kernel,
 * which are constants after inlining, so the copies and loops here are compiled for that instruction set.
 *
 * A micro-kernel computes, for one packed A strip a [kc][MR] and one packed B strip b [kc][NR],
 *   acc[r][c] = sum_{k ascending} a[k][r] * b[k][c]        (one FMA chain per element)
 *   C[r][c]   = alpha * acc[r][c]                        (beta == 0: C is not read)
 *             = fma(beta, C[r][c], alpha * acc[r][c])    (otherwise; later K chunks pass beta = 1)
 * exactly as the edge-tile merge below does it: an explicit fma in both, so neither depends on whether the
 * compiler contracts a * b + c. */
#ifndef BN_KERNELS_SGEMM_TILE_H
#define BN_KERNELS_SGEMM_TILE_H

#include <math.h>

#include "kernels/kernels.h"

#if defined(_MSC_VER) && !defined(__clang__)
#  define BN_SGEMM_INLINE static __forceinline
#else
#  define BN_SGEMM_INLINE static inline __attribute__((always_inline))
#endif

typedef void bn_sgemm_ukernel_fn(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                                 float beta);

/* Rows [k_from, k_to) of op(B)'s panel p into p->bp ([strip][k - p->k0][nr]), columns past p->j1 zeroed.
 * Loops run along the rows of the source, so a source row is read once, front to back, whatever its stride
 * (a power-of-two stride would otherwise map the rows of one strip onto a few cache sets). */
BN_SGEMM_INLINE void bn_sgemm_pack_b_strips(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t k_from,
                                            int64_t k_to, const int nr) {
    int64_t kp = p->k1 - p->k0, n = p->j1 - p->j0;
    float* bp = p->bp - p->k0 * nr; /* indexed by absolute k */
    if (!g->trans_b) {
        /* B (K,N): row k of B is row k of every strip, nr floats each */
        for (int64_t k = k_from; k < k_to; k++) {
            const float* src = g->B + k * g->ldb + p->j0;
            for (int64_t j = 0; j < n; j += nr) {
                float* d = bp + (j / nr) * kp * nr + k * nr;
                int64_t w = n - j < nr ? n - j : nr;
                for (int64_t c = 0; c < w; c++) d[c] = src[j + c];
                for (int64_t c = w; c < nr; c++) d[c] = 0.0f;
            }
        }
    } else {
        /* B (N,K): row j of B is column j of the panel, contiguous in k */
        for (int64_t j = 0; j < n; j += nr) {
            float* d = bp + (j / nr) * kp * nr;
            int64_t w = n - j < nr ? n - j : nr;
            for (int64_t c = 0; c < w; c++) {
                const float* src = g->B + (p->j0 + j + c) * g->ldb;
                for (int64_t k = k_from; k < k_to; k++) d[k * nr + c] = src[k];
            }
            for (int64_t k = k_from; k < k_to; k++)
                for (int64_t c = w; c < nr; c++) d[k * nr + c] = 0.0f;
        }
    }
}

/* op(A)[i0:i1, k0:k0+kc] into ap as [strip][k][mr], rows past i1 zeroed (loops along source rows, as above). */
BN_SGEMM_INLINE void bn_sgemm_pack_a(const bn_sgemm_job* g, int64_t i0, int64_t i1, int64_t k0, int64_t kc,
                                     float* ap, const int mr) {
    int64_t m = i1 - i0;
    if (!g->trans_a) {
        /* A (M,K): row i of A is column i % mr of strip i / mr, contiguous in k */
        for (int64_t i = 0; i < m; i += mr) {
            float* d = ap + (i / mr) * kc * mr;
            int64_t h = m - i < mr ? m - i : mr;
            for (int64_t r = 0; r < h; r++) {
                const float* src = g->A + (i0 + i + r) * g->lda + k0;
                for (int64_t k = 0; k < kc; k++) d[k * mr + r] = src[k];
            }
            for (int64_t k = 0; k < kc; k++)
                for (int64_t r = h; r < mr; r++) d[k * mr + r] = 0.0f;
        }
    } else {
        /* A (K,M): row k of A is row k of every strip, mr floats each */
        for (int64_t k = 0; k < kc; k++) {
            const float* src = g->A + (k0 + k) * g->lda + i0;
            for (int64_t i = 0; i < m; i += mr) {
                float* d = ap + (i / mr) * kc * mr + k * mr;
                int64_t h = m - i < mr ? m - i : mr;
                for (int64_t r = 0; r < h; r++) d[r] = src[i + r];
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
        for (int64_t j = j0; j < j1; j += nr) {
            int64_t w = j1 - j < nr ? j1 - j : nr;
            const float* b = p->bp + ((j - p->j0) / nr) * kp * nr + (k0 - p->k0) * nr;
            for (int64_t i = i0; i < i1; i += mr) {
                int64_t h = i1 - i < mr ? i1 - i : mr;
                const float* a = ap + ((i - i0) / mr) * kc * mr;
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
                        c[r * g->ldc + q] = beta == 0.0f ? v : fmaf(beta, c[r * g->ldc + q], v);
                    }
            }
        }
    }
}

#endif
