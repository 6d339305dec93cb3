/* fp16/bf16 -> float rows: NEON (convert.c defines them). Both conversions are exact. */
#include <arm_neon.h>

#include "kernels/kernels.h"

// src (n) -> dst (n)
void bn_cvt_f16_f32_neon(const uint16_t* src, int64_t n, float* dst) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
    for (; i < n; i++) dst[i] = bn_fp16_to_fp32(src[i]);
}

// src (n) -> dst (n): bf16 is the top half of a float
void bn_cvt_bf16_f32_neon(const uint16_t* src, int64_t n, float* dst) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(src + i), 16)));
    for (; i < n; i++) dst[i] = bn_bf16_to_fp32(src[i]);
}

void bn_install_convert_neon(bn_kernel_table* t) {
    t->cvt_f16_f32 = bn_cvt_f16_f32_neon;
    t->cvt_f16_f32_impl = "neon";
    t->cvt_bf16_f32 = bn_cvt_bf16_f32_neon;
    t->cvt_bf16_f32_impl = "neon";
}
