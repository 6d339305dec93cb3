/* Dot products and axpy: AVX-512 (dot.c defines them). Tails by mask; a Q6_K scale group (16 values) is
 * exactly one vector. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

static __mmask16 tail_mask(int64_t left) { return (__mmask16)(left >= 16 ? 0xFFFF : (1u << left) - 1u); }

static __m512 load_f16(__mmask16 k, const uint16_t* p) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, p)); }

static __m512 load_bf16(__mmask16 k, const uint16_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, p)), 16));
}

// x (n), y (n) -> sum
float bn_dot_f32_avx512(const float* x, const float* y, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
    }
    for (; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, y + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// x (n), y (n) fp16 -> sum
float bn_dot_f16_avx512(const float* x, const uint16_t* y, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), load_f16(0xFFFF, y + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), load_f16(0xFFFF, y + i + 16), a1);
    }
    for (; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + i), load_f16(k, y + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

// x (n), y (n) bf16 -> sum
float bn_dot_bf16_avx512(const float* x, const uint16_t* y, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), load_bf16(0xFFFF, y + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), load_bf16(0xFFFF, y + i + 16), a1);
    }
    for (; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + i), load_bf16(k, y + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

// x (n), y (n/32 block_q8_0) -> sum
float bn_dot_q8_0_avx512(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += BN_Q8_0_BLOCK, b += BN_Q8_0_BYTES) {
        uint16_t dh;
        memcpy(&dh, b, sizeof dh);
        const __m512 d = _mm512_set1_ps(_cvtsh_ss(dh));
        const __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(b + 2))));
        const __m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(b + 18))));
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_mul_ps(w0, d), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_mul_ps(w1, d), a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

// x (n), y (n/256 block_q6_K) -> sum
float bn_dot_q6_k_avx512(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    const __m512i m4 = _mm512_set1_epi32(0xF), m2 = _mm512_set1_epi32(3), off = _mm512_set1_epi32(32);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += BN_Q6_K_BLOCK, b += BN_Q6_K_BYTES) {
        uint16_t dh;
        memcpy(&dh, b + BN_Q6_K_D, sizeof dh);
        const float d = _cvtsh_ss(dh);
        for (int h = 0; h < 2; h++) {
            const uint8_t* ql = b + BN_Q6_K_QL + 64 * h;
            const uint8_t* qh = b + BN_Q6_K_QH + 32 * h;
            const int8_t* sc = (const int8_t*)(b + BN_Q6_K_SCALES) + 8 * h;
            const float* xh = x + i + 128 * h;
            for (int l = 0; l < 32; l += 16) {
                const int is = l / 16;
                const __m512i lo = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(ql + l)));
                const __m512i hi = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(ql + l + 32)));
                const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(qh + l)));
                const __m512i q1 = _mm512_or_si512(_mm512_and_si512(lo, m4), _mm512_slli_epi32(_mm512_and_si512(q, m2), 4));
                const __m512i q2 = _mm512_or_si512(_mm512_and_si512(hi, m4),
                                                   _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(q, 2), m2), 4));
                const __m512i q3 = _mm512_or_si512(_mm512_srli_epi32(lo, 4),
                                                   _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(q, 4), m2), 4));
                const __m512i q4 = _mm512_or_si512(_mm512_srli_epi32(hi, 4), _mm512_slli_epi32(_mm512_srli_epi32(q, 6), 4));
#define BN_Q6_FMA(acc, qv, k)                                                                                     \
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(xh + l + 32 * (k)),                                                     \
                          _mm512_mul_ps(_mm512_set1_ps(d * (float)sc[is + 2 * (k)]),                              \
                                        _mm512_cvtepi32_ps(_mm512_sub_epi32(qv, off))),                           \
                          acc)
                BN_Q6_FMA(a0, q1, 0);
                BN_Q6_FMA(a1, q2, 1);
                BN_Q6_FMA(a0, q3, 2);
                BN_Q6_FMA(a1, q4, 3);
#undef BN_Q6_FMA
            }
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

// y (n) += a * x (n)
void bn_axpy_f32_avx512(float a, const float* x, int64_t n, float* y) {
    const __m512 va = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, y + i)));
    }
}

// y (n) += a * x (n fp16)
void bn_axpy_f16_avx512(float a, const uint16_t* x, int64_t n, float* y) {
    const __m512 va = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_fmadd_ps(va, load_f16(k, x + i), _mm512_maskz_loadu_ps(k, y + i)));
    }
}

void bn_install_dot_avx512(bn_kernel_table* t) {
#define BN_SET(op) t->op = bn_##op##_avx512; t->op##_impl = "avx512";
    BN_SET(dot_f32) BN_SET(dot_f16) BN_SET(dot_bf16) BN_SET(dot_q8_0) BN_SET(dot_q6_k) BN_SET(axpy_f32)
    BN_SET(axpy_f16)
#undef BN_SET
}
