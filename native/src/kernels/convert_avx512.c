/* fp16/bf16 -> float rows: AVX-512 (convert.c defines them), tails by mask. */
#include <immintrin.h>

#include "kernels/kernels.h"

static __mmask16 tail_mask(int64_t left) { return (__mmask16)(left >= 16 ? 0xFFFF : (1u << left) - 1u); }

// src (n) -> dst (n)
void bn_cvt_f16_f32_avx512(const uint16_t* src, int64_t n, float* dst) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(dst + i, k, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, src + i)));
    }
}

// src (n) -> dst (n): bf16 is the top half of a float
void bn_cvt_bf16_f32_avx512(const uint16_t* src, int64_t n, float* dst) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, src + i));
        _mm512_mask_storeu_ps(dst + i, k, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
    }
}

void bn_install_convert_avx512(bn_kernel_table* t) {
    t->cvt_f16_f32 = bn_cvt_f16_f32_avx512;
    t->cvt_f16_f32_impl = "avx512";
    t->cvt_bf16_f32 = bn_cvt_bf16_f32_avx512;
    t->cvt_bf16_f32_impl = "avx512";
}
