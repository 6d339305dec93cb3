/* Internal: exp(x) on float vectors for the kernel files of one instruction set (softmax, SiLU), included
 * only by *_avx2.c, *_avx512.c and *_neon.c. Cephes' expf: n = round(x / ln2), r = x - n*ln2 in two parts,
 * exp(r) by a degree-7 polynomial on |r| <= ln2/2, times 2^n built in the exponent bits. Measured within
 * 1 ulp of the correctly rounded exp for x in [-87, 88] (AVX2 and AVX-512, every 7th float). x is clamped
 * to [-88, 88] first: below about -87.3 the result is 0 or a rough subnormal (expf gives an exact-ish
 * subnormal), and exp(x > 88) is 1.65e38 instead of infinity; the callers only add 1 to it or sum it. */
#ifndef BN_KERNELS_EXP_SIMD_H
#define BN_KERNELS_EXP_SIMD_H

#define BN_EXP_LO (-88.0f)
#define BN_EXP_HI 88.0f
#define BN_EXP_LOG2E 1.44269504088896341f
#define BN_EXP_C1 0.693359375f
#define BN_EXP_C2 (-2.12194440e-4f)
#define BN_EXP_P0 1.9875691500e-4f
#define BN_EXP_P1 1.3981999507e-3f
#define BN_EXP_P2 8.3334519073e-3f
#define BN_EXP_P3 4.1665795894e-2f
#define BN_EXP_P4 1.6666665459e-1f
#define BN_EXP_P5 5.0000001201e-1f

#if defined(__AVX512F__)
#include <immintrin.h>
static inline __m512 bn_exp512(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(BN_EXP_LO)), _mm512_set1_ps(BN_EXP_HI));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(BN_EXP_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(BN_EXP_C1), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(BN_EXP_C2), r);
    __m512 p = _mm512_set1_ps(BN_EXP_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(BN_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(BN_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(BN_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(BN_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(BN_EXP_P5));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}
#endif

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
static inline __m256 bn_exp256(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(BN_EXP_LO)), _mm256_set1_ps(BN_EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(BN_EXP_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(BN_EXP_C1), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(BN_EXP_C2), r);
    __m256 p = _mm256_set1_ps(BN_EXP_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(BN_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(BN_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(BN_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(BN_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(BN_EXP_P5));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
#endif

#if defined(__aarch64__)
#include <arm_neon.h>
static inline float32x4_t bn_exp_neon(float32x4_t x) {
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(BN_EXP_LO)), vdupq_n_f32(BN_EXP_HI));
    float32x4_t n = vrndnq_f32(vmulq_n_f32(x, BN_EXP_LOG2E));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(BN_EXP_C1));
    r = vfmsq_f32(r, n, vdupq_n_f32(BN_EXP_C2));
    float32x4_t p = vdupq_n_f32(BN_EXP_P0);
    p = vfmaq_f32(vdupq_n_f32(BN_EXP_P1), p, r);
    p = vfmaq_f32(vdupq_n_f32(BN_EXP_P2), p, r);
    p = vfmaq_f32(vdupq_n_f32(BN_EXP_P3), p, r);
    p = vfmaq_f32(vdupq_n_f32(BN_EXP_P4), p, r);
    p = vfmaq_f32(vdupq_n_f32(BN_EXP_P5), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}
#endif

#endif
