/* Training attention's tile ops (attention_tile.h): AVX-512, the same bits as dot_avx512.c's dot_f32 and
 * axpy_f32. A dot's lanes are summed as bn_dot_f32_avx512 sums them: four accumulators over 64-float steps, the
 * masked tail into the first, (a0 + a1) + (a2 + a3), then _mm512_reduce_add_ps's tree (lanes i and i+8, then
 * i and i+4, i and i+2, i and i+1). reduce16 runs that tree for 16 dots at once, transposed. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

static __mmask16 tail_mask(int64_t left) {
    return (__mmask16)(left >= 16 ? 0xFFFF : left <= 0 ? 0 : (1u << left) - 1u);
}

/* the lane vector of bn_dot_f32_avx512(x, y, n) before its horizontal sum */
static inline __m512 dot_lanes(const float* x, const float* y, int64_t n) {
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
    return _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
}

/* The tree, transposed over 16 dots. Step 1, per pair of dots (a, b): [a's lanes i + i+8, b's lanes i + i+8]. */
static inline __m512 tree_step1(__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
}

/* Steps 2-4 over w[0..8) (w[i] = tree_step1 of dots 2i, 2i+1), then the permute idx of the 16 sums. Before it,
 * element 4j + m holds dot 4m + j. */
static inline __m512 tree_rest(const __m512* w, __m512i idx) {
    __m512 x[4], y[2];
    for (int i = 0; i < 4; i++) /* lanes i + i+4: 128-bit lane j holds dot 4i + j */
        x[i] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0xDD));
    for (int i = 0; i < 2; i++) { /* i + i+2: 128-bit lane j holds dots 8i + j (floats 0,1), 8i + 4 + j (2,3) */
        const __m512d lo = _mm512_castps_pd(x[2 * i]), hi = _mm512_castps_pd(x[2 * i + 1]);
        y[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(lo, hi)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(lo, hi)));
    }
    const __m512 z = _mm512_add_ps(_mm512_shuffle_ps(y[0], y[1], _MM_SHUFFLE(2, 0, 2, 0)), /* i + i+1 */
                                   _mm512_shuffle_ps(y[0], y[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_permutexvar_ps(idx, z);
}

/* v[0..16) -> lane p = the reduce_add tree of v[p] */
static inline __m512 reduce16(const __m512* v) {
    __m512 w[8];
    for (int i = 0; i < 8; i++) w[i] = tree_step1(v[2 * i], v[2 * i + 1]);
    return tree_rest(w, _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
}

/* D == 64: dot_lanes(x, y, 64) is (x0 y0 + x1 y1) + (x2 y2 + x3 y3), each product an FMA into 0 as there */
static inline __m512 dot64(__m512 x0, __m512 x1, __m512 x2, __m512 x3, const float* y) {
    const __m512 z = _mm512_setzero_ps();
    return _mm512_add_ps(_mm512_add_ps(_mm512_fmadd_ps(x0, _mm512_loadu_ps(y), z),
                                       _mm512_fmadd_ps(x1, _mm512_loadu_ps(y + 16), z)),
                         _mm512_add_ps(_mm512_fmadd_ps(x2, _mm512_loadu_ps(y + 32), z),
                                       _mm512_fmadd_ps(x3, _mm512_loadu_ps(y + 48), z)));
}

/* D == 64, rows r, r+1 against keys p0..p0+7, both rows' q in registers: reduce16's dot 2j is (r, p0 + j), dot
 * 2j+1 is (r + 1, p0 + j), so its first step runs as each key's pair is done, and the last permute is reduce16's
 * followed by the split into the two rows' 8 scores */
static inline void scores64_2x8(const float* qa, const float* qb, const float* k, int64_t ks, __m512 vs, float* sa,
                                float* sb) {
    const __m512 a0 = _mm512_loadu_ps(qa), a1 = _mm512_loadu_ps(qa + 16), a2 = _mm512_loadu_ps(qa + 32),
                 a3 = _mm512_loadu_ps(qa + 48);
    const __m512 b0 = _mm512_loadu_ps(qb), b1 = _mm512_loadu_ps(qb + 16), b2 = _mm512_loadu_ps(qb + 32),
                 b3 = _mm512_loadu_ps(qb + 48);
    __m512 w[8];
    for (int j = 0; j < 8; j++)
        w[j] = tree_step1(dot64(a0, a1, a2, a3, k + j * ks), dot64(b0, b1, b2, b3, k + j * ks));
    /* reduce16's permute, then row a's 8 sums (dots 0, 2, ..) below row b's (1, 3, ..) */
    const __m512 o = _mm512_mul_ps(
        tree_rest(w, _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15)), vs);
    _mm256_storeu_ps(sa, _mm512_castps512_ps256(o));
    _mm256_storeu_ps(sb, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(o), 1)));
}

void bn_attn_scores_f32_avx512(const float* q, int64_t qs, int64_t R, const float* k, int64_t ks, int64_t n,
                               int64_t D, float scale, float* s, int64_t ss) {
    const __m512 vs = _mm512_set1_ps(scale);
    if (D == 64) {
        const int64_t n8 = n & ~(int64_t)7, R2 = R & ~(int64_t)1;
        for (int64_t p0 = 0; p0 < n8; p0 += 8) /* 8 keys (in L1) against pairs of query rows */
            for (int64_t r = 0; r < R2; r += 2)
                scores64_2x8(q + r * qs, q + (r + 1) * qs, k + p0 * ks, ks, vs, s + r * ss + p0, s + (r + 1) * ss + p0);
        for (int64_t r = 0; r < R; r++) /* the odd row's and the last < 8 keys */
            for (int64_t p = r < R2 ? n8 : 0; p < n; p++)
                s[r * ss + p] = _mm512_reduce_add_ps(dot_lanes(q + r * qs, k + p * ks, D)) * scale;
        return;
    }
    int64_t p0 = 0;
    for (; p0 + 16 <= n; p0 += 16) /* 16 keys (in L1) against each query row */
        for (int64_t r = 0; r < R; r++) {
            __m512 v[16];
            for (int j = 0; j < 16; j++) v[j] = dot_lanes(q + r * qs, k + (p0 + j) * ks, D);
            _mm512_storeu_ps(s + r * ss + p0, _mm512_mul_ps(reduce16(v), vs));
        }
    if (p0 < n)
        for (int64_t r = 0; r < R; r++)
            for (int64_t p = p0; p < n; p++)
                s[r * ss + p] = _mm512_reduce_add_ps(dot_lanes(q + r * qs, k + p * ks, D)) * scale;
}

/* One 64-float column block [c, c + 64) of D (masks m[0..4) cut it at D) for wsum and outer */
typedef struct cols64 {
    __mmask16 m[4];
} cols64;

static inline cols64 cols_at(int64_t D, int64_t c) {
    cols64 k = {{tail_mask(D - c), tail_mask(D - c - 16), tail_mask(D - c - 32), tail_mask(D - c - 48)}};
    return k;
}

#define LOAD4(y, k, p)                                                                                              \
    y##0 = _mm512_maskz_loadu_ps((k).m[0], (p)), y##1 = _mm512_maskz_loadu_ps((k).m[1], (p) + 16),                 \
    y##2 = _mm512_maskz_loadu_ps((k).m[2], (p) + 32), y##3 = _mm512_maskz_loadu_ps((k).m[3], (p) + 48)
#define STORE4(p, k, y)                                                                                             \
    _mm512_mask_storeu_ps((p), (k).m[0], y##0), _mm512_mask_storeu_ps((p) + 16, (k).m[1], y##1),                   \
    _mm512_mask_storeu_ps((p) + 32, (k).m[2], y##2), _mm512_mask_storeu_ps((p) + 48, (k).m[3], y##3)
/* y += a * x, four registers */
#define FMA4(y, a, x)                                                                                               \
    y##0 = _mm512_fmadd_ps((a), x##0, y##0), y##1 = _mm512_fmadd_ps((a), x##1, y##1),                              \
    y##2 = _mm512_fmadd_ps((a), x##2, y##2), y##3 = _mm512_fmadd_ps((a), x##3, y##3)

/* Four rows r..r+3 at once (row i summing n + i keys), sharing each loaded v row; then single rows. Masked
 * lanes are neither loaded nor stored. */
void bn_attn_wsum_f32_avx512(const float* s, int64_t ss, int64_t R, int64_t n0, const float* v, int64_t vs,
                             int64_t D, float* out, int64_t os) {
    for (int64_t c = 0; c < D; c += 64) {
        const cols64 k = cols_at(D, c);
        int64_t r = 0;
        for (; r + 4 <= R; r += 4) {
            const float *s0 = s + r * ss, *s1 = s0 + ss, *s2 = s1 + ss, *s3 = s2 + ss;
            const int64_t n = n0 + r; /* keys every row sums */
            __m512 a0, a1, a2, a3, b0, b1, b2, b3, e0, e1, e2, e3, f0, f1, f2, f3, x0, x1, x2, x3;
            a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = e0 = e1 = e2 = e3 = f0 = f1 = f2 = f3 = _mm512_setzero_ps();
            const float* vp = v + c;
            for (int64_t p = 0; p < n; p++, vp += vs) {
                LOAD4(x, k, vp);
                FMA4(a, _mm512_set1_ps(s0[p]), x);
                FMA4(b, _mm512_set1_ps(s1[p]), x);
                FMA4(e, _mm512_set1_ps(s2[p]), x);
                FMA4(f, _mm512_set1_ps(s3[p]), x);
            }
            LOAD4(x, k, vp); /* key n: rows 1..3 */
            FMA4(b, _mm512_set1_ps(s1[n]), x);
            FMA4(e, _mm512_set1_ps(s2[n]), x);
            FMA4(f, _mm512_set1_ps(s3[n]), x);
            vp += vs;
            LOAD4(x, k, vp); /* key n + 1: rows 2, 3 */
            FMA4(e, _mm512_set1_ps(s2[n + 1]), x);
            FMA4(f, _mm512_set1_ps(s3[n + 1]), x);
            vp += vs;
            LOAD4(x, k, vp); /* key n + 2: row 3 */
            FMA4(f, _mm512_set1_ps(s3[n + 2]), x);
            float* o = out + r * os + c;
            STORE4(o, k, a);
            STORE4(o + os, k, b);
            STORE4(o + 2 * os, k, e);
            STORE4(o + 3 * os, k, f);
        }
        for (; r < R; r++) {
            const float* sr = s + r * ss;
            const float* vp = v + c;
            __m512 y0, y1, y2, y3, x0, x1, x2, x3;
            y0 = y1 = y2 = y3 = _mm512_setzero_ps();
            for (int64_t p = 0; p < n0 + r; p++, vp += vs) {
                LOAD4(x, k, vp);
                FMA4(y, _mm512_set1_ps(sr[p]), x);
            }
            STORE4(out + r * os + c, k, y);
        }
    }
}

/* Two key rows p, p+1 at once, sharing each loaded x row; then a single last one */
void bn_attn_outer_f32_avx512(const float* a, int64_t as, int64_t R, const float* x, int64_t xs, int64_t n,
                              int64_t D, float* y, int64_t ys) {
    for (int64_t c = 0; c < D; c += 64) {
        const cols64 k = cols_at(D, c);
        int64_t p = 0;
        for (; p + 2 <= n; p += 2) {
            float *yp = y + p * ys + c, *yq = yp + ys;
            __m512 g0, g1, g2, g3, h0, h1, h2, h3, w0, w1, w2, w3;
            LOAD4(g, k, yp);
            LOAD4(h, k, yq);
            const float* xr = x + c;
            for (int64_t r = 0; r < R; r++, xr += xs) {
                LOAD4(w, k, xr);
                FMA4(g, _mm512_set1_ps(a[r * as + p]), w);
                FMA4(h, _mm512_set1_ps(a[r * as + p + 1]), w);
            }
            STORE4(yp, k, g);
            STORE4(yq, k, h);
        }
        if (p < n) {
            float* yp = y + p * ys + c;
            __m512 g0, g1, g2, g3, w0, w1, w2, w3;
            LOAD4(g, k, yp);
            const float* xr = x + c;
            for (int64_t r = 0; r < R; r++, xr += xs) {
                LOAD4(w, k, xr);
                FMA4(g, _mm512_set1_ps(a[r * as + p]), w);
            }
            STORE4(yp, k, g);
        }
    }
}

#undef LOAD4
#undef STORE4
#undef FMA4

void bn_install_attn_tile_avx512(bn_kernel_table* t) {
#define BN_SET(op) t->op = bn_##op##_avx512; t->op##_impl = "avx512";
    BN_SET(attn_scores_f32) BN_SET(attn_wsum_f32) BN_SET(attn_outer_f32)
#undef BN_SET
}
