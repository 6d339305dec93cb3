/* Int8 absmax activation quantization per token: HF transformers' BitNet ActQuant (integrations/bitnet.py,
 *     scale = 127 / activation.abs().max(dim=-1, keepdim=True).values.clamp_(min=1e-5)
 *     (activation * scale).round().clamp(-128, 127)
 * in float32). One kernel call per row: kernels/quantize.c defines it and its vector versions equal it. */
#include "core/error.h"
#include "kernels/kernels.h"
#include "quant/granularity.h"

bn_status bn_quantize_act_i8(const float* x, int64_t rows, int64_t cols, int8_t* codes, int64_t codes_len,
                             float* scales, int64_t scales_len) {
    static const char fn[] = "bn_quantize_act_i8";
    int64_t n = 0;
    bn_status st = bn_check_matrix(fn, rows, cols, &n);
    if (st != BN_OK) return st;
    if (n == 0) return BN_OK;
    BN_REQUIRE_ARG(x != NULL && codes != NULL && scales != NULL, "%s: x, codes and scales must not be null", fn);
    if ((st = bn_check_capacity(fn, "codes", codes_len, n)) != BN_OK) return st;
    if ((st = bn_check_capacity(fn, "scales", scales_len, rows)) != BN_OK) return st;
    bn_kernels_init();
    for (int64_t r = 0; r < rows; r++) {
        const float* row = x + r * cols;
        if (bn_kernels.quantize_act_i8(row, cols, codes + r * cols, &scales[r]) != 0)
            return bn_fail_nonfinite(fn, "x", x, r * cols + bn_first_nonfinite(row, cols), cols);
    }
    return BN_OK;
}
