/* fp16/bf16 -> float rows: AVX2 + F16C (convert.c defines them). Both conversions are exact. */
#include <immintrin.h>

#include "kernels/kernels.h"

// src (n) -> dst (n)
void bn_cvt_f16_f32_avx2(const uint16_t* src, int64_t n, float* dst) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(src + i))));
    for (; i < n; i++) dst[i] = bn_fp16_to_fp32(src[i]);
}

// src (n) -> dst (n): bf16 is the top half of a float
void bn_cvt_bf16_f32_avx2(const uint16_t* src, int64_t n, float* dst) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)(src + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
    }
    for (; i < n; i++) dst[i] = bn_bf16_to_fp32(src[i]);
}

void bn_install_convert_avx2(bn_kernel_table* t) {
    t->cvt_f16_f32 = bn_cvt_f16_f32_avx2;
    t->cvt_f16_f32_impl = "avx2";
    t->cvt_bf16_f32 = bn_cvt_bf16_f32_avx2;
    t->cvt_bf16_f32_impl = "avx2";
}
