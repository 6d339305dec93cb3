/* Internal: how a quantizer's values are grouped under its scales, and the argument checks every quantizer
 * shares. For each granularity the groups are contiguous runs of the row-major tensor, in order: the tensor is
 * one run of rows*cols values, a channel a run of cols, a group a run of group_size. So a quantizer is a loop
 * over runs and never needs to know which granularity it serves. */
#ifndef BN_QUANT_GRANULARITY_H
#define BN_QUANT_GRANULARITY_H

#include "bitnet.h"

typedef struct bn_groups {
    int64_t values; /* rows * cols */
    int64_t count;  /* number of runs = number of scales */
    int64_t len;    /* values per run */
} bn_groups;

/* Checks rows, cols (>= 0, product within int64), granularity and group_size; fills *out. `fn` names the
 * public function in messages. */
bn_status bn_quant_groups(const char* fn, bn_granularity granularity, int64_t rows, int64_t cols,
                          int64_t group_size, bn_groups* out);

/* rows x cols with rows, cols >= 0 and the product representable: *n = rows * cols. */
bn_status bn_check_matrix(const char* fn, int64_t rows, int64_t cols, int64_t* n);

/* BN_ERR_BUFFER_TOO_SMALL naming `what` unless have >= need. */
bn_status bn_check_capacity(const char* fn, const char* what, int64_t have, int64_t need);

/* The index of the first NaN or infinity in x[0..n), or -1. */
int64_t bn_first_nonfinite(const float* x, int64_t n);

/* BN_ERR_NUMERIC for x[index] of a tensor with `cols` columns: "fn: what[row r, col c] is nan". */
bn_status bn_fail_nonfinite(const char* fn, const char* what, const float* x, int64_t index, int64_t cols);

#endif
