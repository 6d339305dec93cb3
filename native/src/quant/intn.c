/* Symmetric and asymmetric (affine) 2-, 4- and 8-bit quantizers with their dequantizers, per tensor, per
 * channel or per group. The formulas, in float32 with round-half-to-even (bitnet.h says the same):
 *   symmetric,  qmax = 2^(bits-1) - 1:  step = max|x| / qmax;  q = clamp(rne(x / step), -qmax, qmax);  x' = q*step
 *   asymmetric, L = 2^bits - 1:         lo = min(min x, 0), hi = max(max x, 0), step = (hi - lo) / L,
 *                                       zp = clamp(rne(-lo / step), 0, L), q = clamp(rne(x / step) + zp, 0, L),
 *                                       x' = (q - zp) * step
 * A group of zeros gets step 0 (and zp 0), and all its codes are 0. The symmetric grid leaves -2^(bits-1)
 * unused so that it is symmetric about 0; the asymmetric range always holds 0, so 0 quantizes exactly (the
 * convention of PyTorch's MinMaxObserver with affine quantization). Not hot: plain scalar code. */
#include <math.h>

#include "core/error.h"
#include "quant/granularity.h"

static bn_status check_bits(const char* fn, int32_t bits) {
    if (bits != 2 && bits != 4 && bits != 8)
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: bits is %d; 2, 4 and 8 are supported", fn, (int)bits);
    return BN_OK;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

bn_status bn_quantize_sym(const float* x, int64_t rows, int64_t cols, int32_t bits, bn_granularity granularity,
                          int64_t group_size, int8_t* codes, int64_t codes_len, float* steps, int64_t steps_len) {
    static const char fn[] = "bn_quantize_sym";
    bn_status st = check_bits(fn, bits);
    if (st != BN_OK) return st;
    bn_groups g = {0, 0, 0};
    if ((st = bn_quant_groups(fn, granularity, rows, cols, group_size, &g)) != BN_OK) return st;
    if (g.values == 0) return BN_OK;
    BN_REQUIRE_ARG(x != NULL && codes != NULL && steps != NULL, "%s: x, codes and steps must not be null", fn);
    if ((st = bn_check_capacity(fn, "codes", codes_len, g.values)) != BN_OK) return st;
    if ((st = bn_check_capacity(fn, "steps", steps_len, g.count)) != BN_OK) return st;
    const float qmax = (float)((1 << (bits - 1)) - 1);
    for (int64_t k = 0; k < g.count; k++) {
        const float* v = x + k * g.len;
        float amax = 0.0f;
        for (int64_t i = 0; i < g.len; i++) {
            if (!isfinite(v[i])) return bn_fail_nonfinite(fn, "x", x, k * g.len + i, cols);
            amax = fmaxf(amax, fabsf(v[i]));
        }
        const float step = amax / qmax;
        int8_t* q = codes + k * g.len;
        for (int64_t i = 0; i < g.len; i++)
            q[i] = step > 0.0f ? (int8_t)clampf(nearbyintf(v[i] / step), -qmax, qmax) : 0;
        steps[k] = step;
    }
    return BN_OK;
}

bn_status bn_dequantize_sym(const int8_t* codes, int64_t rows, int64_t cols, int32_t bits,
                            bn_granularity granularity, int64_t group_size, const float* steps, int64_t steps_len,
                            float* out, int64_t out_len) {
    static const char fn[] = "bn_dequantize_sym";
    bn_status st = check_bits(fn, bits);
    if (st != BN_OK) return st;
    bn_groups g = {0, 0, 0};
    if ((st = bn_quant_groups(fn, granularity, rows, cols, group_size, &g)) != BN_OK) return st;
    if (g.values == 0) return BN_OK;
    BN_REQUIRE_ARG(codes != NULL && steps != NULL && out != NULL, "%s: codes, steps and out must not be null", fn);
    if ((st = bn_check_capacity(fn, "steps", steps_len, g.count)) != BN_OK) return st;
    if ((st = bn_check_capacity(fn, "out", out_len, g.values)) != BN_OK) return st;
    const int qmax = (1 << (bits - 1)) - 1;
    for (int64_t k = 0; k < g.count; k++) {
        const float step = steps[k];
        if (!isfinite(step) || step < 0.0f)
            return bn_fail(BN_ERR_NUMERIC, "%s: steps[%lld] is %g; steps must be finite and >= 0", fn,
                           (long long)k, (double)step);
        for (int64_t i = 0; i < g.len; i++) {
            const int64_t j = k * g.len + i;
            if (codes[j] < -qmax || codes[j] > qmax)
                return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: codes[%lld] = %d is outside -%d..%d for %d bits", fn,
                               (long long)j, (int)codes[j], qmax, qmax, (int)bits);
            out[j] = (float)codes[j] * step;
        }
    }
    return BN_OK;
}

bn_status bn_quantize_asym(const float* x, int64_t rows, int64_t cols, int32_t bits, bn_granularity granularity,
                           int64_t group_size, uint8_t* codes, int64_t codes_len, float* steps,
                           int32_t* zero_points, int64_t steps_len) {
    static const char fn[] = "bn_quantize_asym";
    bn_status st = check_bits(fn, bits);
    if (st != BN_OK) return st;
    bn_groups g = {0, 0, 0};
    if ((st = bn_quant_groups(fn, granularity, rows, cols, group_size, &g)) != BN_OK) return st;
    if (g.values == 0) return BN_OK;
    BN_REQUIRE_ARG(x != NULL && codes != NULL && steps != NULL && zero_points != NULL,
                   "%s: x, codes, steps and zero_points must not be null", fn);
    if ((st = bn_check_capacity(fn, "codes", codes_len, g.values)) != BN_OK) return st;
    if ((st = bn_check_capacity(fn, "steps", steps_len, g.count)) != BN_OK) return st;
    const float levels = (float)((1 << bits) - 1);
    for (int64_t k = 0; k < g.count; k++) {
        const float* v = x + k * g.len;
        float lo = 0.0f, hi = 0.0f;
        for (int64_t i = 0; i < g.len; i++) {
            if (!isfinite(v[i])) return bn_fail_nonfinite(fn, "x", x, k * g.len + i, cols);
            lo = fminf(lo, v[i]);
            hi = fmaxf(hi, v[i]);
        }
        const float range = hi - lo;
        if (!isfinite(range))
            return bn_fail(BN_ERR_NUMERIC, "%s: group %lld spans %g .. %g, a range beyond the float range", fn,
                           (long long)k, (double)lo, (double)hi);
        const float step = range / levels;
        uint8_t* q = codes + k * g.len;
        float zp = 0.0f;
        if (step > 0.0f) {
            zp = clampf(nearbyintf(-lo / step), 0.0f, levels);
            for (int64_t i = 0; i < g.len; i++) q[i] = (uint8_t)clampf(nearbyintf(v[i] / step) + zp, 0.0f, levels);
        } else {
            for (int64_t i = 0; i < g.len; i++) q[i] = 0;
        }
        steps[k] = step;
        zero_points[k] = (int32_t)zp;
    }
    return BN_OK;
}

bn_status bn_dequantize_asym(const uint8_t* codes, int64_t rows, int64_t cols, int32_t bits,
                             bn_granularity granularity, int64_t group_size, const float* steps,
                             const int32_t* zero_points, int64_t steps_len, float* out, int64_t out_len) {
    static const char fn[] = "bn_dequantize_asym";
    bn_status st = check_bits(fn, bits);
    if (st != BN_OK) return st;
    bn_groups g = {0, 0, 0};
    if ((st = bn_quant_groups(fn, granularity, rows, cols, group_size, &g)) != BN_OK) return st;
    if (g.values == 0) return BN_OK;
    BN_REQUIRE_ARG(codes != NULL && steps != NULL && zero_points != NULL && out != NULL,
                   "%s: codes, steps, zero_points and out must not be null", fn);
    if ((st = bn_check_capacity(fn, "steps", steps_len, g.count)) != BN_OK) return st;
    if ((st = bn_check_capacity(fn, "out", out_len, g.values)) != BN_OK) return st;
    const int levels = (1 << bits) - 1;
    for (int64_t k = 0; k < g.count; k++) {
        const float step = steps[k];
        const int32_t zp = zero_points[k];
        if (!isfinite(step) || step < 0.0f)
            return bn_fail(BN_ERR_NUMERIC, "%s: steps[%lld] is %g; steps must be finite and >= 0", fn,
                           (long long)k, (double)step);
        if (zp < 0 || zp > levels)
            return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: zero_points[%lld] = %d is outside 0..%d for %d bits", fn,
                           (long long)k, (int)zp, levels, (int)bits);
        for (int64_t i = 0; i < g.len; i++) {
            const int64_t j = k * g.len + i;
            if (codes[j] > levels)
                return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: codes[%lld] = %d is outside 0..%d for %d bits", fn,
                               (long long)j, (int)codes[j], levels, (int)bits);
            out[j] = (float)((int32_t)codes[j] - zp) * step;
        }
    }
    return BN_OK;
}
