/* Rotate-half RoPE of one head: AVX2 (rope.c defines it). Written as products then add, like the scalar
 * version; the compiler may fuse them into FMAs (GNU C contracts by default), so results agree to rounding. */
#include <immintrin.h>

#include "kernels/kernels.h"

// x (2*half) in place, cos (half), sin (half)
void bn_rope_f32_avx2(float* x, const float* cos, const float* sin, int64_t half) {
    int64_t i = 0;
    for (; i + 8 <= half; i += 8) {
        __m256 x1 = _mm256_loadu_ps(x + i), x2 = _mm256_loadu_ps(x + i + half);
        __m256 c = _mm256_loadu_ps(cos + i), s = _mm256_loadu_ps(sin + i);
        _mm256_storeu_ps(x + i, _mm256_sub_ps(_mm256_mul_ps(x1, c), _mm256_mul_ps(x2, s)));
        _mm256_storeu_ps(x + i + half, _mm256_add_ps(_mm256_mul_ps(x2, c), _mm256_mul_ps(x1, s)));
    }
    for (; i < half; i++) {
        const float x1 = x[i], x2 = x[i + half];
        const float a = x1 * cos[i], b = x2 * sin[i], c = x2 * cos[i], d = x1 * sin[i];
        x[i] = a - b;
        x[i + half] = c + d;
    }
}

void bn_install_rope_avx2(bn_kernel_table* t) {
    t->rope_f32 = bn_rope_f32_avx2;
    t->rope_f32_impl = "avx2";
}
