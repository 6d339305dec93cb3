/* Scale groups and the argument checks the quantizers share (see granularity.h). */
#include "quant/granularity.h"

#include <math.h>
#include <stdio.h>

#include "core/error.h"

bn_status bn_check_matrix(const char* fn, int64_t rows, int64_t cols, int64_t* n) {
    if (rows < 0 || cols < 0)
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: rows (%lld) and cols (%lld) must not be negative", fn,
                       (long long)rows, (long long)cols);
    if (cols > 0 && rows > INT64_MAX / cols)
        return bn_fail(BN_ERR_SHAPE, "%s: rows (%lld) x cols (%lld) overflows a 64-bit count", fn,
                       (long long)rows, (long long)cols);
    *n = rows * cols;
    return BN_OK;
}

bn_status bn_quant_groups(const char* fn, bn_granularity granularity, int64_t rows, int64_t cols,
                          int64_t group_size, bn_groups* out) {
    BN_REQUIRE_ARG(out != NULL, "%s: out must not be null", fn);
    int64_t n = 0;
    bn_status st = bn_check_matrix(fn, rows, cols, &n);
    if (st != BN_OK) return st;
    out->values = n;
    switch (granularity) {
    case BN_GRANULARITY_TENSOR:
        out->count = 1;
        out->len = n;
        return BN_OK;
    case BN_GRANULARITY_CHANNEL:
        out->count = rows;
        out->len = cols;
        return BN_OK;
    case BN_GRANULARITY_GROUP:
        if (group_size <= 0)
            return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: group_size (%lld) must be positive", fn,
                           (long long)group_size);
        if (cols % group_size != 0)
            return bn_fail(BN_ERR_SHAPE, "%s: cols (%lld) is not a multiple of group_size (%lld)", fn,
                           (long long)cols, (long long)group_size);
        out->count = n / group_size;
        out->len = group_size;
        return BN_OK;
    }
    return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: unknown granularity %d", fn, (int)granularity);
}

bn_status bn_quant_scale_count(bn_granularity granularity, int64_t rows, int64_t cols, int64_t group_size,
                               int64_t* out) {
    BN_REQUIRE_ARG(out != NULL, "bn_quant_scale_count: out must not be null");
    bn_groups g = {0, 0, 0};
    bn_status st = bn_quant_groups("bn_quant_scale_count", granularity, rows, cols, group_size, &g);
    if (st == BN_OK) *out = g.count;
    return st;
}

bn_status bn_check_capacity(const char* fn, const char* what, int64_t have, int64_t need) {
    if (have < need)
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: %s holds %lld values but %lld are needed", fn, what,
                       (long long)have, (long long)need);
    return BN_OK;
}

int64_t bn_first_nonfinite(const float* x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

bn_status bn_fail_nonfinite(const char* fn, const char* what, const float* x, int64_t index, int64_t cols) {
    const char* kind = isnan(x[index]) ? "NaN" : (x[index] > 0 ? "+infinity" : "-infinity");
    if (cols > 0)
        return bn_fail(BN_ERR_NUMERIC, "%s: %s[%lld] (row %lld, col %lld) is %s", fn, what, (long long)index,
                       (long long)(index / cols), (long long)(index % cols), kind);
    return bn_fail(BN_ERR_NUMERIC, "%s: %s[%lld] is %s", fn, what, (long long)index, kind);
}
