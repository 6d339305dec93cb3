/* Residual add and gated activations: AVX2 (elementwise.c defines them; exp from exp_simd.h). */
#include <immintrin.h>
#include <math.h>

#include "kernels/exp_simd.h"
#include "kernels/kernels.h"

// x (n) += y (n)
void bn_add_f32_avx2(float* x, const float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) x[i] += y[i];
}

// gate (n), up (n) -> out (n)
void bn_relu2_mul_f32_avx2(const float* gate, const float* up, int64_t n, float* out) {
    const __m256 zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r = _mm256_max_ps(_mm256_loadu_ps(gate + i), zero);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(r, r), _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) {
        const float r = gate[i] > 0.0f ? gate[i] : 0.0f;
        out[i] = (r * r) * up[i];
    }
}

// gate (n), up (n) -> out (n)
void bn_silu_mul_f32_avx2(const float* gate, const float* up, int64_t n, float* out) {
    const __m256 one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 s = _mm256_div_ps(g, _mm256_add_ps(one, bn_exp256(_mm256_xor_ps(g, neg))));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) {
        const float g = gate[i];
        out[i] = (g / (1.0f + expf(-g))) * up[i];
    }
}

void bn_install_elementwise_avx2(bn_kernel_table* t) {
    t->add_f32 = bn_add_f32_avx2;
    t->add_f32_impl = "avx2";
    t->relu2_mul_f32 = bn_relu2_mul_f32_avx2;
    t->relu2_mul_f32_impl = "avx2";
    t->silu_mul_f32 = bn_silu_mul_f32_avx2;
    t->silu_mul_f32_impl = "avx2";
}
