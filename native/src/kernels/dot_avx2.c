/* Dot products and axpy: AVX2 + FMA + F16C (dot.c defines them). Each quantized block is dequantized into
 * registers exactly as ggml's dequantize_row_* would (same float products), then FMA'd with x. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

static float hsum(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}

static __m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }

static __m256 load_bf16(const uint16_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16));
}

static __m256i load_u8x8(const uint8_t* p) {
    int64_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(v));
}

static __m256 load_i8x8(const int8_t* p) {
    int64_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(v)));
}

// x (n), y (n) -> sum
float bn_dot_f32_avx2(const float* x, const float* y, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

// x (n), y (n) fp16 -> sum
float bn_dot_f16_avx2(const float* x, const uint16_t* y, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load_f16(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), load_f16(y + i + 8), a1);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load_f16(y + i), a0);
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += x[i] * bn_fp16_to_fp32(y[i]);
    return s;
}

// x (n), y (n) bf16 -> sum
float bn_dot_bf16_avx2(const float* x, const uint16_t* y, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load_bf16(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), load_bf16(y + i + 8), a1);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load_bf16(y + i), a0);
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += x[i] * bn_bf16_to_fp32(y[i]);
    return s;
}

// x (n), y (n/32 block_q8_0) -> sum
float bn_dot_q8_0_avx2(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += BN_Q8_0_BLOCK, b += BN_Q8_0_BYTES) {
        uint16_t dh;
        memcpy(&dh, b, sizeof dh);
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(dh));
        const int8_t* qs = (const int8_t*)(b + 2);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_mul_ps(load_i8x8(qs), d), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_mul_ps(load_i8x8(qs + 8), d), a1);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_mul_ps(load_i8x8(qs + 16), d), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_mul_ps(load_i8x8(qs + 24), d), a1);
    }
    return hsum(_mm256_add_ps(a0, a1));
}

// x (n), y (n/256 block_q6_K) -> sum
float bn_dot_q6_k_avx2(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    const __m256i m4 = _mm256_set1_epi32(0xF), m2 = _mm256_set1_epi32(3), off = _mm256_set1_epi32(32);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += BN_Q6_K_BLOCK, b += BN_Q6_K_BYTES) {
        uint16_t dh;
        memcpy(&dh, b + BN_Q6_K_D, sizeof dh);
        const float d = _cvtsh_ss(dh);
        for (int h = 0; h < 2; h++) {
            const uint8_t* ql = b + BN_Q6_K_QL + 64 * h;
            const uint8_t* qh = b + BN_Q6_K_QH + 32 * h;
            const int8_t* sc = (const int8_t*)(b + BN_Q6_K_SCALES) + 8 * h;
            const float* xh = x + i + 128 * h;
            for (int l = 0; l < 32; l += 8) {
                const int is = l / 16;
                const __m256i lo = load_u8x8(ql + l), hi = load_u8x8(ql + l + 32), q = load_u8x8(qh + l);
                const __m256i q1 = _mm256_or_si256(_mm256_and_si256(lo, m4), _mm256_slli_epi32(_mm256_and_si256(q, m2), 4));
                const __m256i q2 = _mm256_or_si256(_mm256_and_si256(hi, m4),
                                                   _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(q, 2), m2), 4));
                const __m256i q3 = _mm256_or_si256(_mm256_srli_epi32(lo, 4),
                                                   _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(q, 4), m2), 4));
                const __m256i q4 = _mm256_or_si256(_mm256_srli_epi32(hi, 4), _mm256_slli_epi32(_mm256_srli_epi32(q, 6), 4));
#define BN_Q6_FMA(acc, qv, k)                                                                                     \
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(xh + l + 32 * (k)),                                                     \
                          _mm256_mul_ps(_mm256_set1_ps(d * (float)sc[is + 2 * (k)]),                              \
                                        _mm256_cvtepi32_ps(_mm256_sub_epi32(qv, off))),                           \
                          acc)
                BN_Q6_FMA(a0, q1, 0);
                BN_Q6_FMA(a1, q2, 1);
                BN_Q6_FMA(a0, q3, 2);
                BN_Q6_FMA(a1, q4, 3);
#undef BN_Q6_FMA
            }
        }
    }
    return hsum(_mm256_add_ps(a0, a1));
}

// x (n), y (n/256 block_q4_K) -> sum; w = (d * sc) * q - (dmin * m) as two rounded float ops (mul, then sub,
// never fused), the scalar reference's products
float bn_dot_q4_k_avx2(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    const __m256i m4 = _mm256_set1_epi32(0xF);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += BN_Q4_K_BLOCK, b += BN_Q4_K_BYTES) {
        uint16_t dh, mh;
        memcpy(&dh, b + BN_Q4_K_D, sizeof dh);
        memcpy(&mh, b + BN_Q4_K_DMIN, sizeof mh);
        const float d = _cvtsh_ss(dh), dmin = _cvtsh_ss(mh);
        for (int j = 0; j < 8; j += 2) {
            int sc, m;
            bn_q4_k_scale_min(j, b + BN_Q4_K_SCALES, &sc, &m);
            const __m256 d1 = _mm256_set1_ps(d * (float)sc), m1 = _mm256_set1_ps(dmin * (float)m);
            bn_q4_k_scale_min(j + 1, b + BN_Q4_K_SCALES, &sc, &m);
            const __m256 d2 = _mm256_set1_ps(d * (float)sc), m2 = _mm256_set1_ps(dmin * (float)m);
            const uint8_t* q = b + BN_Q4_K_QS + 16 * j;
            const float* xj = x + i + 32 * j;
            for (int l = 0; l < 32; l += 8) {
                const __m256i v = load_u8x8(q + l);
                const __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(v, m4));
                const __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4));
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xj + l), _mm256_sub_ps(_mm256_mul_ps(d1, lo), m1), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xj + 32 + l), _mm256_sub_ps(_mm256_mul_ps(d2, hi), m2), a1);
            }
        }
    }
    return hsum(_mm256_add_ps(a0, a1));
}

// y (n) += a * x (n)
void bn_axpy_f32_avx2(float a, const float* x, int64_t n, float* y) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

// y (n) += a * x (n fp16)
void bn_axpy_f16_avx2(float a, const uint16_t* x, int64_t n, float* y) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * bn_fp16_to_fp32(x[i]);
}

void bn_install_dot_avx2(bn_kernel_table* t) {
#define BN_SET(op) t->op = bn_##op##_avx2; t->op##_impl = "avx2";
    BN_SET(dot_f32) BN_SET(dot_f16) BN_SET(dot_bf16) BN_SET(dot_q8_0) BN_SET(dot_q6_k) BN_SET(dot_q4_k) BN_SET(axpy_f32)
    BN_SET(axpy_f16)
#undef BN_SET
}
