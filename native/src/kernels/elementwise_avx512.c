/* Residual add and gated activations: AVX-512 (elementwise.c defines them; exp from exp_simd.h), tails by
 * mask. */
#include <immintrin.h>

#include "kernels/exp_simd.h"
#include "kernels/kernels.h"

static __mmask16 tail_mask(int64_t left) { return (__mmask16)(left >= 16 ? 0xFFFF : (1u << left) - 1u); }

// x (n) += y (n)
void bn_add_f32_avx512(float* x, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, y + i)));
    }
}

// gate (n), up (n) -> out (n)
void bn_relu2_mul_f32_avx512(const float* gate, const float* up, int64_t n, float* out) {
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 r = _mm512_max_ps(_mm512_maskz_loadu_ps(k, gate + i), zero);
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(_mm512_mul_ps(r, r), _mm512_maskz_loadu_ps(k, up + i)));
    }
}

// gate (n), up (n) -> out (n)
void bn_silu_mul_f32_avx512(const float* gate, const float* up, int64_t n, float* out) {
    const __m512 one = _mm512_set1_ps(1.0f), neg = _mm512_set1_ps(-0.0f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 g = _mm512_maskz_loadu_ps(k, gate + i);
        __m512 e = bn_exp512(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(g), _mm512_castps_si512(neg))));
        __m512 s = _mm512_div_ps(g, _mm512_add_ps(one, e));
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(k, up + i)));
    }
}

void bn_install_elementwise_avx512(bn_kernel_table* t) {
    t->add_f32 = bn_add_f32_avx512;
    t->add_f32_impl = "avx512";
    t->relu2_mul_f32 = bn_relu2_mul_f32_avx512;
    t->relu2_mul_f32_impl = "avx512";
    t->silu_mul_f32 = bn_silu_mul_f32_avx512;
    t->silu_mul_f32_impl = "avx512";
}
