/* Row softmax: AVX-512 (softmax.c defines it; exp from exp_simd.h), tails by mask. */
#include <immintrin.h>
#include <math.h>

#include "kernels/exp_simd.h"
#include "kernels/kernels.h"

static __mmask16 tail_mask(int64_t left) { return (__mmask16)(left >= 16 ? 0xFFFF : (1u << left) - 1u); }

// x (n) in place
void bn_softmax_f32_avx512(float* x, int64_t n) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 vm = ninf;
    for (int64_t i = 0; i < n; i += 16) vm = _mm512_max_ps(vm, _mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i));
    const __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 e = _mm512_maskz_mov_ps(k, bn_exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mv)));
        _mm512_mask_storeu_ps(x + i, k, e);
        acc = _mm512_add_ps(acc, e);
    }
    const __m512 iv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(acc));
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), iv));
    }
}

void bn_install_softmax_avx512(bn_kernel_table* t) {
    t->softmax_f32 = bn_softmax_f32_avx512;
    t->softmax_f32_impl = "avx512";
}
