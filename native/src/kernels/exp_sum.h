/* Internal: the kernel-table slot of the shifted exponential sum that the fused softmax cross-entropy of training
 * (train/cross_entropy.c) runs over each row of logits. kernels.h includes this file and adds
 * BN_EXP_SUM_KERNEL_OPS to its op list.
 *
 * exp_sum_f32: x (n) -> e (n) with e[i] = exp(x[i] - m), returning sum_i e[i] in double; e may be x, and e may be
 *   NULL (only the sum). m is the caller's (the row max, so every e[i] <= 1). The scalar version is expf with the
 *   sum in double in index order; vector versions use exp_simd.h's exp (within 1 ulp) and add float lane sums of
 *   blocks of BN_EXP_SUM_BLOCK values in double, so they agree with it to float rounding. */
#ifndef BN_KERNELS_EXP_SUM_H
#define BN_KERNELS_EXP_SUM_H

#include <stdint.h>

#define BN_EXP_SUM_BLOCK 1024

typedef double bn_exp_sum_f32_fn(const float* x, int64_t n, float m, float* e);

#define BN_EXP_SUM_KERNEL_OPS(X) X(exp_sum_f32)

struct bn_kernel_table;
void bn_install_exp_sum_scalar(struct bn_kernel_table* t);
void bn_install_exp_sum_avx2(struct bn_kernel_table* t);

double bn_exp_sum_f32_scalar(const float* x, int64_t n, float m, float* e);
double bn_exp_sum_f32_avx2(const float* x, int64_t n, float m, float* e);

#endif
