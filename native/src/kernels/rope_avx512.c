/* Rotate-half RoPE of one head: AVX-512 (rope.c defines it), tail by mask. head_dim 128 is 4 vectors. */
#include <immintrin.h>

#include "kernels/kernels.h"

// x (2*half) in place, cos (half), sin (half)
void bn_rope_f32_avx512(float* x, const float* cos, const float* sin, int64_t half) {
    for (int64_t i = 0; i < half; i += 16) {
        __mmask16 m = (__mmask16)(half - i >= 16 ? 0xFFFF : (1u << (half - i)) - 1u);
        __m512 x1 = _mm512_maskz_loadu_ps(m, x + i), x2 = _mm512_maskz_loadu_ps(m, x + i + half);
        __m512 c = _mm512_maskz_loadu_ps(m, cos + i), s = _mm512_maskz_loadu_ps(m, sin + i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_sub_ps(_mm512_mul_ps(x1, c), _mm512_mul_ps(x2, s)));
        _mm512_mask_storeu_ps(x + i + half, m, _mm512_add_ps(_mm512_mul_ps(x2, c), _mm512_mul_ps(x1, s)));
    }
}

void bn_install_rope_avx512(bn_kernel_table* t) {
    t->rope_f32 = bn_rope_f32_avx512;
    t->rope_f32_impl = "avx512";
}
