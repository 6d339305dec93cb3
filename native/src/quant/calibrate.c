/* Activation calibration: a running absmax, percentile clipping and MSE-optimal clipping, all from one
 * histogram of |x| (bitnet.h describes the methods and the resolution).
 *
 * The histogram covers [0, R) with R = 2^range_exp the smallest power of two >= max|x|, in n_bins (a power of
 * two) bins: the bin of v > 0 is floor(v * 2^(log2(n_bins) - range_exp)), a multiplication by a power of two,
 * so it is exact. When R has to grow it doubles, and bin i of the new histogram is bins 2i and 2i+1 of the
 * old one: the same bins an exact re-binning would give, so the order of batches never matters. Exact zeros
 * are counted apart (they quantize without error). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/granularity.h"

#define BN_CALIB_DEFAULT_BINS 8192
#define BN_CALIB_MAX_CANDIDATES 1024
#define BN_CALIB_SAMPLES_PER_BIN 4

struct bn_calibrator {
    int32_t n_bins;
    int32_t log2_bins;
    int32_t has_range;
    int32_t range_exp; /* R = 2^range_exp, valid when has_range */
    float absmax;
    int64_t count;
    int64_t zeros;
    uint64_t* bins;
};

bn_status bn_calibrator_create(int32_t n_bins, bn_calibrator** out) {
    BN_REQUIRE_ARG(out != NULL, "bn_calibrator_create: out must not be null");
    *out = NULL;
    if (n_bins == 0) n_bins = BN_CALIB_DEFAULT_BINS;
    if (n_bins < 64 || n_bins > (1 << 20) || (n_bins & (n_bins - 1)) != 0)
        return bn_fail(BN_ERR_INVALID_ARGUMENT,
                       "bn_calibrator_create: n_bins (%d) must be a power of two in 64..1048576 (or 0 for %d)",
                       (int)n_bins, BN_CALIB_DEFAULT_BINS);
    bn_calibrator* c = calloc(1, sizeof *c);
    if (c) c->bins = calloc((size_t)n_bins, sizeof *c->bins);
    if (!c || !c->bins) {
        free(c);
        return bn_fail(BN_ERR_OUT_OF_MEMORY, "bn_calibrator_create: no memory for %d bins", (int)n_bins);
    }
    c->n_bins = n_bins;
    while ((1 << c->log2_bins) < n_bins) c->log2_bins++;
    *out = c;
    return BN_OK;
}

bn_status bn_calibrator_destroy(bn_calibrator* c) {
    if (c == NULL) return BN_OK;
    free(c->bins);
    free(c);
    return BN_OK;
}

bn_status bn_calibrator_reset(bn_calibrator* c) {
    BN_REQUIRE_ARG(c != NULL, "bn_calibrator_reset: calibrator must not be null");
    memset(c->bins, 0, (size_t)c->n_bins * sizeof *c->bins);
    c->has_range = 0;
    c->range_exp = 0;
    c->absmax = 0.0f;
    c->count = 0;
    c->zeros = 0;
    return BN_OK;
}

/* The exponent e of the smallest power of two 2^e >= m (m > 0, finite). */
static int32_t ceil_log2(float m) {
    int e;
    float f = frexpf(m, &e); /* m = f * 2^e, f in [0.5, 1) */
    return f == 0.5f ? e - 1 : e;
}

static int64_t bin_of(const bn_calibrator* c, float v) {
    int64_t i = (int64_t)ldexp((double)v, c->log2_bins - c->range_exp);
    return i < c->n_bins ? i : c->n_bins - 1; /* v == R lands in the last bin */
}

static void grow_range(bn_calibrator* c, int32_t new_exp) {
    for (int32_t e = c->range_exp; e < new_exp; e++) {
        for (int32_t i = 0; i < c->n_bins / 2; i++) c->bins[i] = c->bins[2 * i] + c->bins[2 * i + 1];
        for (int32_t i = c->n_bins / 2; i < c->n_bins; i++) c->bins[i] = 0;
    }
    c->range_exp = new_exp;
}

bn_status bn_calibrator_observe(bn_calibrator* c, const float* x, int64_t rows, int64_t cols) {
    static const char fn[] = "bn_calibrator_observe";
    BN_REQUIRE_ARG(c != NULL, "%s: calibrator must not be null", fn);
    int64_t n = 0;
    bn_status st = bn_check_matrix(fn, rows, cols, &n);
    if (st != BN_OK) return st;
    if (n == 0) return BN_OK;
    BN_REQUIRE_ARG(x != NULL, "%s: x must not be null", fn);
    float m = 0.0f;
    for (int64_t i = 0; i < n; i++) { /* the whole batch is checked before anything changes */
        if (!isfinite(x[i])) return bn_fail_nonfinite(fn, "x", x, i, cols);
        m = fmaxf(m, fabsf(x[i]));
    }
    if (m > 0.0f) {
        const int32_t e = ceil_log2(m);
        if (!c->has_range) {
            c->range_exp = e; /* everything so far was zero: nothing to re-bin */
            c->has_range = 1;
        } else if (e > c->range_exp) {
            grow_range(c, e);
        }
    }
    for (int64_t i = 0; i < n; i++) {
        const float v = fabsf(x[i]);
        if (v == 0.0f) c->zeros++;
        else c->bins[bin_of(c, v)]++;
    }
    c->absmax = fmaxf(c->absmax, m);
    c->count += n;
    return BN_OK;
}

typedef struct nonempty_bin {
    double lo, hi; /* the part of the bin that can hold values: [i*w, min((i+1)*w, absmax)] */
    double count;
} nonempty_bin;

/* Estimated sum of squared quantize-dequantize errors at clip (symmetric, qmax levels a side), sampling each
 * bin at the centres of BN_CALIB_SAMPLES_PER_BIN equal parts. */
static double sum_sq_error(const nonempty_bin* b, int64_t nb, double clip, double qmax) {
    if (clip <= 0.0) { /* everything becomes 0 */
        double s = 0.0;
        for (int64_t k = 0; k < nb; k++)
            for (int j = 0; j < BN_CALIB_SAMPLES_PER_BIN; j++) {
                double v = b[k].lo + (b[k].hi - b[k].lo) * (j + 0.5) / BN_CALIB_SAMPLES_PER_BIN;
                s += b[k].count / BN_CALIB_SAMPLES_PER_BIN * v * v;
            }
        return s;
    }
    const double step = clip / qmax;
    double s = 0.0;
    for (int64_t k = 0; k < nb; k++) {
        double e = 0.0;
        for (int j = 0; j < BN_CALIB_SAMPLES_PER_BIN; j++) {
            const double v = b[k].lo + (b[k].hi - b[k].lo) * (j + 0.5) / BN_CALIB_SAMPLES_PER_BIN;
            const double q = fmin(nearbyint(v / step), qmax);
            e += (v - q * step) * (v - q * step);
        }
        s += b[k].count * e / BN_CALIB_SAMPLES_PER_BIN;
    }
    return s;
}

bn_status bn_calibrator_compute(const bn_calibrator* c, bn_calib_method method, double percentile, int32_t bits,
                                bn_calib_result* out) {
    static const char fn[] = "bn_calibrator_compute";
    BN_REQUIRE_ARG(c != NULL && out != NULL, "%s: calibrator and out must not be null", fn);
    BN_REQUIRE_ARG(bits >= 2 && bits <= 16, "%s: bits (%d) must be in 2..16", fn, (int)bits);
    BN_REQUIRE_ARG(method == BN_CALIB_ABSMAX || method == BN_CALIB_PERCENTILE || method == BN_CALIB_MSE,
                   "%s: unknown method %d", fn, (int)method);
    if (method == BN_CALIB_PERCENTILE && !(percentile > 0.0 && percentile <= 100.0))
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: percentile (%g) must be in (0, 100]", fn, percentile);
    if (c->count == 0) return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: nothing has been observed yet", fn);
    const double qmax = (double)((1 << (bits - 1)) - 1);
    const double width = c->has_range ? ldexp(1.0, c->range_exp - c->log2_bins) : 0.0;

    int64_t nb = 0, last = -1;
    for (int64_t i = 0; i < c->n_bins; i++)
        if (c->bins[i]) nb++, last = i;
    nonempty_bin* b = NULL;
    if (nb > 0) {
        b = malloc((size_t)nb * sizeof *b);
        if (!b) return bn_fail(BN_ERR_OUT_OF_MEMORY, "%s: no memory for %lld bins", fn, (long long)nb);
        for (int64_t i = 0, k = 0; i < c->n_bins; i++)
            if (c->bins[i]) {
                b[k].lo = (double)i * width;
                b[k].hi = fmin((double)(i + 1) * width, (double)c->absmax);
                b[k].count = (double)c->bins[i];
                k++;
            }
    }

    double clip = c->absmax;
    if (method == BN_CALIB_PERCENTILE) {
        const double target = percentile / 100.0 * (double)c->count;
        double cum = (double)c->zeros;
        clip = 0.0;
        if (cum < target) {
            for (int64_t i = 0; i <= last; i++) {
                cum += (double)c->bins[i];
                if (cum >= target) {
                    clip = fmin((double)(i + 1) * width, (double)c->absmax);
                    break;
                }
            }
            if (cum < target) clip = c->absmax; /* rounding in target: the whole range */
        }
    } else if (method == BN_CALIB_MSE && nb > 0) {
        const int64_t n_edges = last + 1; /* upper edges of bins 0..last; the last one is capped at absmax */
        const int64_t stride = (n_edges + BN_CALIB_MAX_CANDIDATES - 1) / BN_CALIB_MAX_CANDIDATES;
        double best = sum_sq_error(b, nb, (double)c->absmax, qmax);
        clip = c->absmax;
        for (int64_t i = stride - 1; i < n_edges; i += stride) {
            const double cand = fmin((double)(i + 1) * width, (double)c->absmax);
            const double e = sum_sq_error(b, nb, cand, qmax);
            if (e < best) {
                best = e;
                clip = cand;
            }
        }
    }

    memset(out, 0, sizeof *out);
    out->clip = (float)clip;
    out->bits = bits;
    out->step = (float)(clip / qmax);
    out->multiplier = clip > 0.0 ? (float)(qmax / clip) : 0.0f;
    out->mse = (nb > 0 ? sum_sq_error(b, nb, clip, qmax) : 0.0) / (double)c->count;
    out->count = c->count;
    free(b);
    return BN_OK;
}
