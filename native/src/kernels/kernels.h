/* Internal: the kernel table. Every hot operation has one slot here; dispatch (core/dispatch.c) fills each
 * slot once, at initialisation, with the best implementation this CPU can run, and records its name so that
 * `bitnet info` can say what was chosen.
 *
 * Adding an operation: a typedef bn_<op>_fn below, one X(<op>) line in BN_KERNEL_OPS, a scalar version
 * (the definition of correct) installed by a bn_install_*_scalar function, vector versions installed by
 * bn_install_*_<isa> functions, and one row per installer in core/dispatch.c. Tests compare every vector
 * version with the scalar one. */
#ifndef BN_KERNELS_H
#define BN_KERNELS_H

#include <stdint.h>

#include "bitnet.h"

/* max |x[i]| over x[0..n) (0 for n == 0). NaN handling is the caller's: inputs are finite. */
typedef float bn_abs_max_f32_fn(const float* x, int64_t n);

#define BN_KERNEL_OPS(X) \
    X(abs_max_f32)

typedef struct bn_kernel_table {
#define BN_KERNEL_FIELD(op) bn_##op##_fn* op; const char* op##_impl;
    BN_KERNEL_OPS(BN_KERNEL_FIELD)
#undef BN_KERNEL_FIELD
} bn_kernel_table;

/* The chosen kernels. Valid after bn_kernels_init() (run by the library constructor). */
extern bn_kernel_table bn_kernels;
void bn_kernels_init(void);

/* Installers: each sets the slots its file implements and their names. */
void bn_install_reduce_scalar(bn_kernel_table* t);
void bn_install_reduce_avx2(bn_kernel_table* t);
void bn_install_reduce_avx512(bn_kernel_table* t);
void bn_install_reduce_neon(bn_kernel_table* t);

/* The variants themselves, for tests that compare them with the scalar reference. */
float bn_abs_max_f32_scalar(const float* x, int64_t n);
float bn_abs_max_f32_avx2(const float* x, int64_t n);
float bn_abs_max_f32_avx512(const float* x, int64_t n);
float bn_abs_max_f32_neon(const float* x, int64_t n);

#endif
