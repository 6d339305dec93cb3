/* Training attention's tile ops (attention_tile.h): AVX2 + FMA, the same bits as dot_avx2.c's dot_f32 and
 * axpy_f32. A dot's lanes are summed as bn_dot_f32_avx2 sums them: four accumulators over 32-float steps, then
 * 8-float steps into the first, (a0 + a1) + (a2 + a3), then hsum's tree (lanes i and i+4, then i and i+2, then
 * i and i+1). reduce8 runs that tree for 8 dots at once, transposed. Rows whose D is not a multiple of 8 (the
 * dot and axpy kernels finish those with scalar code) go through bn_dot_f32_avx2 / bn_axpy_f32_avx2 themselves. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

/* the lane vector of bn_dot_f32_avx2(x, y, n) before its horizontal sum; n % 8 == 0 */
static inline __m256 dot_lanes(const float* x, const float* y, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    return _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
}

/* v[0..8) -> lane p = hsum's tree of v[p] */
static inline __m256 reduce8(const __m256* v) {
    __m256 w[4], x[2];
    for (int i = 0; i < 4; i++) /* 128-bit halves: [v_2i lo + hi, v_2i+1 lo + hi] */
        w[i] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * i], v[2 * i + 1], 0x20),
                             _mm256_permute2f128_ps(v[2 * i], v[2 * i + 1], 0x31));
    for (int i = 0; i < 2; i++) { /* floats 0,1 + 2,3: 128-bit lane j holds dots 4i + j, 4i + 2 + j */
        const __m256d lo = _mm256_castps_pd(w[2 * i]), hi = _mm256_castps_pd(w[2 * i + 1]);
        x[i] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(lo, hi)),
                             _mm256_castpd_ps(_mm256_unpackhi_pd(lo, hi)));
    }
    /* float 0 + 1: element 4j + m holds dot 2m + j */
    const __m256 z = _mm256_add_ps(_mm256_shuffle_ps(x[0], x[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm256_shuffle_ps(x[0], x[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm256_permutevar8x32_ps(z, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static float hsum(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}

void bn_attn_scores_f32_avx2(const float* q, int64_t qs, int64_t R, const float* k, int64_t ks, int64_t n,
                             int64_t D, float scale, float* s, int64_t ss) {
    if (D % 8 != 0) {
        for (int64_t r = 0; r < R; r++)
            for (int64_t p = 0; p < n; p++) s[r * ss + p] = bn_dot_f32_avx2(q + r * qs, k + p * ks, D) * scale;
        return;
    }
    const __m256 vs = _mm256_set1_ps(scale);
    int64_t p0 = 0;
    if (D == 64) { /* the row's q in registers: dot_lanes(q, k, 64) is two 32-float steps of four FMAs */
        for (int64_t r = 0; r < R; r++) {
            const float* qr = q + r * qs;
            __m256 x[8];
            for (int i = 0; i < 8; i++) x[i] = _mm256_loadu_ps(qr + 8 * i);
            for (p0 = 0; p0 + 8 <= n; p0 += 8) {
                __m256 v[8];
                for (int j = 0; j < 8; j++) {
                    const float* y = k + (p0 + j) * ks;
                    __m256 a[4];
                    for (int i = 0; i < 4; i++) /* into 0 as there (not a multiply: -0 products give +0) */
                        a[i] = _mm256_fmadd_ps(x[i], _mm256_loadu_ps(y + 8 * i), _mm256_setzero_ps());
                    for (int i = 0; i < 4; i++) a[i] = _mm256_fmadd_ps(x[4 + i], _mm256_loadu_ps(y + 32 + 8 * i), a[i]);
                    v[j] = _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]));
                }
                _mm256_storeu_ps(s + r * ss + p0, _mm256_mul_ps(reduce8(v), vs));
            }
        }
    }
    for (; p0 + 8 <= n; p0 += 8) /* 8 keys (in L1) against each query row */
        for (int64_t r = 0; r < R; r++) {
            __m256 v[8];
            for (int j = 0; j < 8; j++) v[j] = dot_lanes(q + r * qs, k + (p0 + j) * ks, D);
            _mm256_storeu_ps(s + r * ss + p0, _mm256_mul_ps(reduce8(v), vs));
        }
    if (p0 < n)
        for (int64_t r = 0; r < R; r++)
            for (int64_t p = p0; p < n; p++) s[r * ss + p] = hsum(dot_lanes(q + r * qs, k + p * ks, D)) * scale;
}

/* Two rows r, r+1 (summing n and n + 1 keys) and 32 columns at a time in eight registers, sharing each loaded v
 * row (eight independent FMA chains); then 8 columns, and the odd last row, one register at a time */
void bn_attn_wsum_f32_avx2(const float* s, int64_t ss, int64_t R, int64_t n0, const float* v, int64_t vs,
                           int64_t D, float* out, int64_t os) {
    if (D % 8 != 0) {
        for (int64_t r = 0; r < R; r++) {
            float* o = out + r * os;
            memset(o, 0, (size_t)D * sizeof *o);
            for (int64_t p = 0; p < n0 + r; p++) bn_axpy_f32_avx2(s[r * ss + p], v + p * vs, D, o);
        }
        return;
    }
    int64_t r = 0, c = 0;
    for (; r + 2 <= R; r += 2)
        for (c = 0; c + 32 <= D; c += 32) {
            const float *sa = s + r * ss, *sb = sa + ss, *vp = v + c;
            const int64_t n = n0 + r;
            __m256 g[4], h[4];
            for (int i = 0; i < 4; i++) g[i] = h[i] = _mm256_setzero_ps();
            for (int64_t p = 0; p < n; p++, vp += vs) {
                const __m256 wa = _mm256_set1_ps(sa[p]), wb = _mm256_set1_ps(sb[p]);
                for (int i = 0; i < 4; i++) {
                    const __m256 vi = _mm256_loadu_ps(vp + 8 * i);
                    g[i] = _mm256_fmadd_ps(wa, vi, g[i]);
                    h[i] = _mm256_fmadd_ps(wb, vi, h[i]);
                }
            }
            const __m256 wb = _mm256_set1_ps(sb[n]); /* key n: row r + 1 only */
            for (int i = 0; i < 4; i++) h[i] = _mm256_fmadd_ps(wb, _mm256_loadu_ps(vp + 8 * i), h[i]);
            float* o = out + r * os + c;
            for (int i = 0; i < 4; i++) _mm256_storeu_ps(o + 8 * i, g[i]), _mm256_storeu_ps(o + os + 8 * i, h[i]);
        }
    for (int64_t r1 = 0; r1 < R; r1++) /* what is left: columns c.. of rows < r, all columns of the odd row */
        for (int64_t c1 = r1 < r ? c : 0; c1 < D; c1 += 8) {
            const float *sr = s + r1 * ss, *vp = v + c1;
            __m256 g = _mm256_setzero_ps();
            for (int64_t p = 0; p < n0 + r1; p++, vp += vs) g = _mm256_fmadd_ps(_mm256_set1_ps(sr[p]), _mm256_loadu_ps(vp), g);
            _mm256_storeu_ps(out + r1 * os + c1, g);
        }
}

void bn_attn_outer_f32_avx2(const float* a, int64_t as, int64_t R, const float* x, int64_t xs, int64_t n,
                            int64_t D, float* y, int64_t ys) {
    if (D % 8 != 0) {
        for (int64_t p = 0; p < n; p++)
            for (int64_t r = 0; r < R; r++) bn_axpy_f32_avx2(a[r * as + p], x + r * xs, D, y + p * ys);
        return;
    }
    /* 32 columns of two key rows p, p+1 in eight registers, sharing each loaded x row; then 8 columns, one row */
    int64_t p = 0, c = 0;
    for (; p + 2 <= n; p += 2)
        for (c = 0; c + 32 <= D; c += 32) {
            float *yp = y + p * ys + c, *yq = yp + ys;
            __m256 g[4], h[4];
            for (int i = 0; i < 4; i++) g[i] = _mm256_loadu_ps(yp + 8 * i), h[i] = _mm256_loadu_ps(yq + 8 * i);
            const float* xr = x + c;
            for (int64_t r = 0; r < R; r++, xr += xs) {
                const __m256 wp = _mm256_set1_ps(a[r * as + p]), wq = _mm256_set1_ps(a[r * as + p + 1]);
                for (int i = 0; i < 4; i++) {
                    const __m256 xi = _mm256_loadu_ps(xr + 8 * i);
                    g[i] = _mm256_fmadd_ps(wp, xi, g[i]);
                    h[i] = _mm256_fmadd_ps(wq, xi, h[i]);
                }
            }
            for (int i = 0; i < 4; i++) _mm256_storeu_ps(yp + 8 * i, g[i]), _mm256_storeu_ps(yq + 8 * i, h[i]);
        }
    for (int64_t p1 = 0; p1 < n; p1++) /* what is left: columns c.. of rows < p, all columns of row p */
        for (int64_t c1 = p1 < p ? c : 0; c1 < D; c1 += 8) {
            float* yp = y + p1 * ys + c1;
            __m256 g = _mm256_loadu_ps(yp);
            const float* xr = x + c1;
            for (int64_t r = 0; r < R; r++, xr += xs)
                g = _mm256_fmadd_ps(_mm256_set1_ps(a[r * as + p1]), _mm256_loadu_ps(xr), g);
            _mm256_storeu_ps(yp, g);
        }
}

void bn_install_attn_tile_avx2(bn_kernel_table* t) {
#define BN_SET(op) t->op = bn_##op##_avx2; t->op##_impl = "avx2";
    BN_SET(attn_scores_f32) BN_SET(attn_wsum_f32) BN_SET(attn_outer_f32)
#undef BN_SET
}
