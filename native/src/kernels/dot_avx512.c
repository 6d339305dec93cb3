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

/* The 128 six-bit codes of half h of a Q6_K block, minus 32, as int8 in element order: out[0..63] from the low
 * nibbles of ql[0..63] (quarters 0 and 1: qh bits 0-1 and 2-3), out[64..127] from the high nibbles (quarters 2
 * and 3: qh bits 4-5 and 6-7). qh's 32 bytes are broadcast into both 256-bit halves and shifted per half with one
 * variable 16-bit shift, so each quarter's two bits land at bits 4-5 of their byte; a bit select (vpternlogd
 * 0xE4: C ? A : B with C = 0x0F) joins them to the nibble, and the mask 0x3F drops what the 16-bit shifts carried
 * in from the neighbouring byte. */
static inline void q6_codes_half(const uint8_t* ql, const uint8_t* qh, int8_t out[128]) {
    const __m512i nib = _mm512_set1_epi8(0x0F), m6 = _mm512_set1_epi8(0x3F), off = _mm512_set1_epi8(32);
    const __m512i sh_lo = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1); /* left */
    const __m512i sh_hi = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1); /* right */
    const __m512i l = _mm512_loadu_si512(ql);
    const __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i*)qh));
    const __m512i c_lo = _mm512_ternarylogic_epi32(l, _mm512_sllv_epi16(h, sh_lo), nib, 0xE4);
    const __m512i c_hi = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 4), _mm512_srlv_epi16(h, sh_hi), nib, 0xE4);
    _mm512_storeu_si512(out, _mm512_sub_epi8(_mm512_and_si512(c_lo, m6), off));
    _mm512_storeu_si512(out + 64, _mm512_sub_epi8(_mm512_and_si512(c_hi, m6), off));
}

/* x (n), y (n/256 block_q6_K) -> sum. Each 16-element scale group is one vector: w = (d * scales[g]) * code, the
 * same float products as the scalar reference, FMA'd into one of 8 accumulators (one per group of a half) so the
 * FMA latency does not bound the loop (the two accumulators before made it ~1.25x slower from cache). The
 * block's 16 group scales d * scales[g] are made in one vector; the codes are unpacked 64 at a time on bytes.
 * (Tried: widening each code with one vpermb (AVX512-VBMI) into the float 2^23 + c, 10% slower here.) */
float bn_dot_q6_k_avx512(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    __m512 acc[8];
    for (int g = 0; g < 8; g++) acc[g] = _mm512_setzero_ps();
    _Alignas(64) int8_t codes[128];
    _Alignas(64) float scale[16];
    for (int64_t i = 0; i < n; i += BN_Q6_K_BLOCK, b += BN_Q6_K_BYTES) {
        uint16_t dh;
        memcpy(&dh, b + BN_Q6_K_D, sizeof dh);
        const __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(b + BN_Q6_K_SCALES))));
        _mm512_store_ps(scale, _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(dh)), sc));
        for (int h = 0; h < 2; h++) {
            q6_codes_half(b + BN_Q6_K_QL + 64 * h, b + BN_Q6_K_QH + 32 * h, codes);
            const float* xh = x + i + 128 * h;
            for (int g = 0; g < 8; g++) {
                const __m512 c = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_load_si128((const __m128i*)(codes + 16 * g))));
                const __m512 w = _mm512_mul_ps(_mm512_set1_ps(scale[8 * h + g]), c);
                acc[g] = _mm512_fmadd_ps(_mm512_loadu_ps(xh + 16 * g), w, acc[g]);
            }
        }
    }
    const __m512 s0 = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    const __m512 s1 = _mm512_add_ps(_mm512_add_ps(acc[4], acc[5]), _mm512_add_ps(acc[6], acc[7]));
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* x (n), y (n/256 block_q4_K) -> sum. A pair of sub-blocks is 32 bytes of qs: 16 bytes widened at a time, low
 * nibbles for the first sub-block, high for the second; w = (d * sc) * q - (dmin * m) as mul then sub (never
 * fused), the scalar reference's products; 4 accumulators. */
float bn_dot_q4_k_avx512(const float* x, const void* y, int64_t n) {
    const uint8_t* b = (const uint8_t*)y;
    const __m512i m4 = _mm512_set1_epi32(0xF);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += BN_Q4_K_BLOCK, b += BN_Q4_K_BYTES) {
        uint16_t dh, mh;
        memcpy(&dh, b + BN_Q4_K_D, sizeof dh);
        memcpy(&mh, b + BN_Q4_K_DMIN, sizeof mh);
        const float d = _cvtsh_ss(dh), dmin = _cvtsh_ss(mh);
        for (int j = 0; j < 8; j += 2) {
            int sc, m;
            bn_q4_k_scale_min(j, b + BN_Q4_K_SCALES, &sc, &m);
            const __m512 d1 = _mm512_set1_ps(d * (float)sc), m1 = _mm512_set1_ps(dmin * (float)m);
            bn_q4_k_scale_min(j + 1, b + BN_Q4_K_SCALES, &sc, &m);
            const __m512 d2 = _mm512_set1_ps(d * (float)sc), m2 = _mm512_set1_ps(dmin * (float)m);
            const uint8_t* q = b + BN_Q4_K_QS + 16 * j;
            const float* xj = x + i + 32 * j;
            const __m512i v0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)q));
            const __m512i v1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(q + 16)));
            const __m512 lo0 = _mm512_cvtepi32_ps(_mm512_and_si512(v0, m4)), lo1 = _mm512_cvtepi32_ps(_mm512_and_si512(v1, m4));
            const __m512 hi0 = _mm512_cvtepi32_ps(_mm512_srli_epi32(v0, 4)), hi1 = _mm512_cvtepi32_ps(_mm512_srli_epi32(v1, 4));
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(xj), _mm512_sub_ps(_mm512_mul_ps(d1, lo0), m1), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(xj + 16), _mm512_sub_ps(_mm512_mul_ps(d1, lo1), m1), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(xj + 32), _mm512_sub_ps(_mm512_mul_ps(d2, hi0), m2), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(xj + 48), _mm512_sub_ps(_mm512_mul_ps(d2, hi1), m2), a3);
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
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
    BN_SET(dot_f32) BN_SET(dot_f16) BN_SET(dot_bf16) BN_SET(dot_q8_0) BN_SET(dot_q6_k) BN_SET(dot_q4_k) BN_SET(axpy_f32)
    BN_SET(axpy_f16)
#undef BN_SET
}
