/* Ternary absmean weight quantization: HF transformers' BitNet WeightQuant (integrations/bitnet.py,
 *     scale = 1.0 / weight.abs().mean().clamp_(min=1e-5); (weight * scale).round().clamp(-1, 1)
 * in float32), per tensor as HF does it, or per output channel / per group. The elementwise work is the
 * kernel table's abs_sum_f64 and quantize_ternary (kernels/quantize.c defines them exactly). */
#include <math.h>

#include "core/error.h"
#include "kernels/kernels.h"
#include "quant/granularity.h"

bn_status bn_quantize_ternary_absmean(const float* w, int64_t rows, int64_t cols, bn_granularity granularity,
                                      int64_t group_size, int8_t* codes, int64_t codes_len, float* scales,
                                      int64_t scales_len) {
    static const char fn[] = "bn_quantize_ternary_absmean";
    bn_groups g = {0, 0, 0};
    bn_status st = bn_quant_groups(fn, granularity, rows, cols, group_size, &g);
    if (st != BN_OK) return st;
    if (g.values == 0) return BN_OK;
    BN_REQUIRE_ARG(w != NULL && codes != NULL && scales != NULL, "%s: w, codes and scales must not be null", fn);
    if ((st = bn_check_capacity(fn, "codes", codes_len, g.values)) != BN_OK) return st;
    if ((st = bn_check_capacity(fn, "scales", scales_len, g.count)) != BN_OK) return st;
    bn_kernels_init();
    for (int64_t k = 0; k < g.count; k++) {
        const float* x = w + k * g.len;
        const double sum = bn_kernels.abs_sum_f64(x, g.len);
        if (!isfinite(sum))
            return bn_fail_nonfinite(fn, "w", w, k * g.len + bn_first_nonfinite(x, g.len), cols);
        /* mean|W| rounded once to float (sum and division in double); then HF's float32 arithmetic */
        const float mean = (float)(sum / (double)g.len);
        const float s = 1.0f / (mean > 1e-5f ? mean : 1e-5f);
        bn_kernels.quantize_ternary(x, g.len, s, codes + k * g.len);
        scales[k] = s;
    }
    return BN_OK;
}
