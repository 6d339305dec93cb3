/* Shifted exponential sum (exp_sum.h defines it): AVX2, exp from exp_simd.h. Eight float lanes per block of
 * BN_EXP_SUM_BLOCK values, each block's lanes added in double, so the sum of a 128k-entry vocabulary row keeps
 * float-lane rounding to one block. */
#include <immintrin.h>
#include <math.h>

#include "kernels/exp_simd.h"
#include "kernels/kernels.h"

static double hsum(__m256 v) {
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m256d d = _mm256_cvtps_pd(s4);
    __m128d d2 = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
    return _mm_cvtsd_f64(_mm_add_sd(d2, _mm_unpackhi_pd(d2, d2)));
}

// x (n) -> e (n) = exp(x - m) or NULL; returns sum e
double bn_exp_sum_f32_avx2(const float* x, int64_t n, float m, float* e) {
    const __m256 mv = _mm256_set1_ps(m);
    double s = 0.0;
    int64_t i = 0;
    while (i + 8 <= n) {
        const int64_t end = i + BN_EXP_SUM_BLOCK < n ? i + BN_EXP_SUM_BLOCK : n;
        __m256 acc = _mm256_setzero_ps();
        for (; i + 8 <= end; i += 8) {
            const __m256 v = bn_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
            if (e) _mm256_storeu_ps(e + i, v);
            acc = _mm256_add_ps(acc, v);
        }
        s += hsum(acc);
    }
    for (; i < n; i++) {
        const float v = expf(x[i] - m);
        if (e) e[i] = v;
        s += v;
    }
    return s;
}

void bn_install_exp_sum_avx2(bn_kernel_table* t) {
    t->exp_sum_f32 = bn_exp_sum_f32_avx2;
    t->exp_sum_f32_impl = "avx2";
}
