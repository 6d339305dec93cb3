/* Quantizer kernels: the scalar versions, which are the definitions of correct. The vector versions
 * (quantize_avx2.c, quantize_avx512.c, quantize_neon.c) give the same bytes and bits for every input.
 *
 * quantize_act_i8 is HF transformers' BitNet ActQuant (src/transformers/integrations/bitnet.py) on one token,
 * in float32: a = 127 / max(max|x|, 1e-5), q = clamp(round(x * a), -128, 127), round = half to even.
 * abs_sum_f64 gives the sum behind WeightQuant's mean|W|: torch sums in float32 (its own blocked order);
 * we sum exactly-converted |x| in double, in a fixed lane order, and the caller rounds sum / n to float once.
 * For the tensor sizes of real models the double sum is within an ulp or so of the exact one, so the float
 * mean is the correctly rounded mean except in rare ties; torch's float sum can be off by more.
 * quantize_ternary is WeightQuant's elementwise step: q = clamp(round(w * s), -1, 1), product in float. */
#include "kernels/kernels.h"
#include "kernels/quantize_common.h"

int bn_quantize_act_i8_scalar(const float* x, int64_t n, int8_t* q, float* a) {
    uint32_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t b = bn_abs_bits(x[i]);
        if (b > m) m = b;
    }
    if (m >= BN_NONFINITE_BITS) return 1;
    const float s = bn_act_i8_multiplier(bn_bits_to_float(m));
    for (int64_t i = 0; i < n; i++) q[i] = bn_round_clamp_i8(x[i] * s, -128.0f, 127.0f);
    *a = s;
    return 0;
}

double bn_abs_sum_f64_scalar(const float* x, int64_t n) {
    double l[BN_ABS_SUM_LANES] = {0};
    for (int64_t i = 0; i < n; i++) l[i % BN_ABS_SUM_LANES] += fabs((double)x[i]);
    return bn_abs_sum_fold(l);
}

void bn_quantize_ternary_scalar(const float* x, int64_t n, float s, int8_t* q) {
    for (int64_t i = 0; i < n; i++) q[i] = bn_round_clamp_i8(x[i] * s, -1.0f, 1.0f);
}

void bn_install_quantize_scalar(bn_kernel_table* t) {
    t->quantize_act_i8 = bn_quantize_act_i8_scalar;
    t->quantize_act_i8_impl = "scalar";
    t->abs_sum_f64 = bn_abs_sum_f64_scalar;
    t->abs_sum_f64_impl = "scalar";
    t->quantize_ternary = bn_quantize_ternary_scalar;
    t->quantize_ternary_impl = "scalar";
}
