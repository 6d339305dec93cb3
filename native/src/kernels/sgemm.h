/* Internal: the kernel-table slots of the float GEMM (bn_sgemm, kernels/sgemm.c). kernels.h includes this file
 * and adds BN_SGEMM_KERNEL_OPS to its op list.
 *
 * How the work is cut (GotoBLAS / BLIS): op(B) is packed a panel at a time, up to BN_SGEMM_KP rows of K by
 * bn_sgemm_panel_cols() columns (about 4 MiB), into strips NR columns wide laid out k-major, [strip][k][NR],
 * zero-padded. C's columns of the panel are then split into blocks of at most BN_SGEMM_MC rows x BN_SGEMM_NC
 * columns, one block per parallel item. A block walks the panel's K rows in chunks of BN_SGEMM_KC: it packs
 * its rows of op(A) for the chunk into strips MR rows tall, [strip][k][MR], and runs an MR x NR register-tile
 * micro-kernel over every (A strip, B strip) pair, adding the chunk's sum into C. MR and NR belong to an
 * instruction set (AVX2 6x16, AVX-512 12x32, NEON 8x12).
 *
 * Why the thread count cannot change a bit: an element of C is summed k ascending with one partial sum per K
 * chunk, and the chunks (KC within KP panels) are constants; blocks start at multiples of BN_SGEMM_MIN_MC rows
 * and BN_SGEMM_MIN_NC columns, multiples of every MR and NR, so the grid of register tiles (and which of them
 * are edge tiles) is the same however C is cut into blocks. The driver therefore cuts smaller blocks when a
 * panel has few blocks for many threads.
 *
 * The scalar reference sums each element over a panel's K rows (all of K when K <= BN_SGEMM_KP) in one float,
 * k ascending, reading A and B in place (its pack_b does nothing); vector versions differ from it only by float
 * rounding (their per-chunk partial sums). */
#ifndef BN_KERNELS_SGEMM_H
#define BN_KERNELS_SGEMM_H

#include <stdint.h>

#include "bitnet.h"

/* C (M,N) = alpha * op(A) . op(B) + beta * C as bn_sgemm was given it (arguments already checked). */
typedef struct bn_sgemm_job {
    int32_t trans_a, trans_b;
    int64_t M, N, K;
    float alpha, beta;
    const float* A;
    int64_t lda;
    const float* B;
    int64_t ldb;
    float* C;
    int64_t ldc;
} bn_sgemm_job;

#define BN_SGEMM_MC 96
#define BN_SGEMM_NC 384
#define BN_SGEMM_KC 256
#define BN_SGEMM_KP 1024
#define BN_SGEMM_MIN_MC 24
#define BN_SGEMM_MIN_NC 96
/* The widest NR of any instruction set: a packed panel of n columns takes (n + BN_SGEMM_NR_MAX) floats per row. */
#define BN_SGEMM_NR_MAX 32
/* The scratch one block needs (floats): packed A (MC x KC) and one MR x NR edge tile. */
#define BN_SGEMM_WORK_FLOATS ((int64_t)BN_SGEMM_MC * BN_SGEMM_KC + 32 * 32)

/* One packed panel of op(B): rows [k0, k1) and columns [j0, j1), bp holding it as [strip][k - k0][NR]. */
typedef struct bn_sgemm_panel {
    int64_t k0, k1, j0, j1;
    float* bp;
} bn_sgemm_panel;

/* pack_b: packs rows [k_from, k_to) of the panel (several calls with disjoint ranges fill it in parallel).
 * block: C[i0:i1, j0:j1] (i1 - i0 <= MC, j1 - j0 <= NC, j0 - the panel's j0 a multiple of BN_SGEMM_MIN_NC) gets
 *   alpha * sum over the panel's k of op(A)[i][k] op(B)[k][j], added to beta * C when the panel starts at k 0
 *   and to C otherwise; `work` (BN_SGEMM_WORK_FLOATS floats) is scratch. alpha != 0 and K > 0 (the driver
 *   handles the other cases). */
typedef void bn_sgemm_pack_b_fn(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t k_from, int64_t k_to);
typedef void bn_sgemm_block_fn(const bn_sgemm_job* g, const bn_sgemm_panel* p, int64_t i0, int64_t i1, int64_t j0,
                               int64_t j1, float* work);

#define BN_SGEMM_KERNEL_OPS(X) \
    X(sgemm_pack_b) \
    X(sgemm_block)

/* The columns of a panel of kp rows: a multiple of BN_SGEMM_NC that keeps the panel near 4 MiB. */
static inline int64_t bn_sgemm_panel_cols(int64_t kp) {
    int64_t cols = ((int64_t)1 << 20) / (kp > 0 ? kp : 1) / BN_SGEMM_NC * BN_SGEMM_NC;
    return cols < BN_SGEMM_NC ? BN_SGEMM_NC : cols;
}

struct bn_kernel_table;
void bn_install_sgemm_scalar(struct bn_kernel_table* t);
void bn_install_sgemm_avx2(struct bn_kernel_table* t);
void bn_install_sgemm_avx512(struct bn_kernel_table* t);
void bn_install_sgemm_neon(struct bn_kernel_table* t);

/* bn_sgemm with the sgemm slots of table t (tests run every variant through the same driver). */
bn_status bn_sgemm_with(const struct bn_kernel_table* t, int32_t trans_a, int32_t trans_b, int64_t M, int64_t N,
                        int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                        float beta, float* C, int64_t ldc, bn_threadpool* pool);

#endif
