/* Row conversions fp16 -> float and bf16 -> float (exact): scalar reference. The embedding lookup and the
 * fp16 KV cache use them. */
#include "kernels/kernels.h"

// src (n) -> dst (n)
void bn_cvt_f16_f32_scalar(const uint16_t* src, int64_t n, float* dst) {
    for (int64_t i = 0; i < n; i++) dst[i] = bn_fp16_to_fp32(src[i]);
}

// src (n) -> dst (n)
void bn_cvt_bf16_f32_scalar(const uint16_t* src, int64_t n, float* dst) {
    for (int64_t i = 0; i < n; i++) dst[i] = bn_bf16_to_fp32(src[i]);
}

void bn_install_convert_scalar(bn_kernel_table* t) {
    t->cvt_f16_f32 = bn_cvt_f16_f32_scalar;
    t->cvt_f16_f32_impl = "scalar";
    t->cvt_bf16_f32 = bn_cvt_bf16_f32_scalar;
    t->cvt_bf16_f32_impl = "scalar";
}
