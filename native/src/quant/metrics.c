/* Error metrics between a reference tensor and an approximation of it, accumulated in double:
 *   MSE = mean (t - r)^2; SQNR = 10 log10(sum r^2 / sum (t - r)^2) dB; cosine = <r, t> / (|r| |t|);
 *   max |t - r| and its first index. Edge cases are fixed so that callers never see NaN from finite inputs:
 *   SQNR is +inf when t == r, -inf when r is all zero and t is not; cosine is 1 when both are all zero and
 *   0 when exactly one is. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "quant/granularity.h"

bn_status bn_error_metrics_compute(const float* ref, const float* test, int64_t n, bn_error_metrics* out) {
    static const char fn[] = "bn_error_metrics_compute";
    BN_REQUIRE_ARG(out != NULL, "%s: out must not be null", fn);
    BN_REQUIRE_ARG(n >= 0, "%s: n (%lld) must not be negative", fn, (long long)n);
    BN_REQUIRE_ARG(n == 0 || (ref != NULL && test != NULL), "%s: ref and test must not be null", fn);
    double err2 = 0.0, ref2 = 0.0, test2 = 0.0, dot = 0.0, max_err = 0.0;
    int64_t max_at = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(ref[i])) return bn_fail_nonfinite(fn, "ref", ref, i, 0);
        if (!isfinite(test[i])) return bn_fail_nonfinite(fn, "test", test, i, 0);
        const double r = ref[i], t = test[i], e = t - r;
        err2 += e * e;
        ref2 += r * r;
        test2 += t * t;
        dot += r * t;
        if (fabs(e) > max_err) {
            max_err = fabs(e);
            max_at = i;
        }
    }
    memset(out, 0, sizeof *out);
    out->mse = n > 0 ? err2 / (double)n : 0.0;
    if (err2 == 0.0) out->sqnr_db = INFINITY;
    else if (ref2 == 0.0) out->sqnr_db = -INFINITY;
    else out->sqnr_db = 10.0 * log10(ref2 / err2);
    if (ref2 == 0.0 && test2 == 0.0) out->cosine = 1.0;
    else if (ref2 == 0.0 || test2 == 0.0) out->cosine = 0.0;
    else out->cosine = fmax(-1.0, fmin(1.0, dot / (sqrt(ref2) * sqrt(test2)))); /* rounding can step past 1 */
    out->max_abs_error = max_err;
    out->max_abs_index = max_at;
    return BN_OK;
}
