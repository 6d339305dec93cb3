/* BitLinear for quantization-aware training (HF transformers' BitNet AutoBitLinear: WeightQuant on the weight,
 * ActQuant on the input), with progressive quantization by `blend` in [0,1] and the straight-through estimator:
 *   prepare:  Q(w) = q / s, q = clamp(rne(w s), -1, 1), s = 1/max(mean|w|, 1e-5)   per tensor, exactly as
 *             bn_quantize_ternary_absmean (abs_sum_f64 and quantize_ternary kernels)
 *             weff (OC,C) = w + blend (Q(w) - w)          (blend 0: w itself; blend 1: Q(w) itself)
 *   forward:  Q(x) = q / a per row, HF ActQuant (quantize_act_i8 kernel, as inference)
 *             xeff (N,C) = x + blend (Q(x) - x);  out (N,OC) = xeff . weffᵀ
 *             blend 1 with packed codes: out = bn_tmatmul_i8 of the same int8 codes, inference's numbers exactly
 *   backward: the quantizers pass gradients through unchanged (STE), so
 *             dx (N,C) += dout (N,OC) . weff (OC,C);   dw (OC,C) += doutᵀ (OC,N) . xeff (N,C)
 * The float products are bn_sgemm (thread-count independent). */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "core/error.h"
#include "kernels/kernels.h"

static bn_status check_blend(const char* fn, float blend) {
    BN_REQUIRE_ARG(blend >= 0.0f && blend <= 1.0f, "%s: blend (%g) must be in [0, 1]", fn, (double)blend);
    return BN_OK;
}

/* v + blend (q - v), with the end points exact */
static inline float mix(float v, float q, float blend) {
    if (blend == 1.0f) return q;
    if (blend == 0.0f) return v;
    return v + blend * (q - v);
}

// w (OC,C) -> weff (OC,C), packed (OC*C/4 bytes, I2_S) or NULL, *w_scale = 1/s
bn_status bn_train_bitlinear_prepare(const float* w, int64_t OC, int64_t C, float blend, float* weff,
                                     uint8_t* packed, int64_t packed_len, float* w_scale) {
    static const char fn[] = "bn_train_bitlinear_prepare";
    BN_REQUIRE_ARG(w != NULL && weff != NULL && w_scale != NULL, "%s: w, weff and w_scale must not be null", fn);
    BN_REQUIRE_ARG(OC > 0 && C > 0, "%s: OC (%lld) and C (%lld) must be > 0", fn, (long long)OC, (long long)C);
    bn_status st = check_blend(fn, blend);
    if (st != BN_OK) return st;
    if (packed != NULL) {
        if (C % 128 != 0)
            return bn_fail(BN_ERR_SHAPE, "%s: C (%lld) must be a multiple of 128 for packed I2_S codes", fn,
                           (long long)C);
        if (packed_len < OC * C / 4)
            return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: packed has %lld bytes, %lld needed", fn,
                           (long long)packed_len, (long long)(OC * C / 4));
    }
    bn_kernels_init();
    const double sum = bn_kernels.abs_sum_f64(w, OC * C);
    if (!isfinite(sum)) return bn_fail(BN_ERR_NUMERIC, "%s: w holds a NaN or an infinity", fn);
    /* as bn_quantize_ternary_absmean: mean|W| rounded once to float, then HF's float32 arithmetic */
    const float mean = (float)(sum / (double)(OC * C));
    const float s = 1.0f / (mean > 1e-5f ? mean : 1e-5f);
    enum { CHUNK = 1024 }; /* a multiple of the I2_S block (128): a row packs chunk by chunk */
    int8_t q[CHUNK];
    for (int64_t r = 0; r < OC; r++)
        for (int64_t c0 = 0; c0 < C; c0 += CHUNK) {
            const int64_t len = C - c0 < CHUNK ? C - c0 : CHUNK, off = r * C + c0;
            bn_kernels.quantize_ternary(w + off, len, s, q);
            for (int64_t i = 0; i < len; i++) weff[off + i] = mix(w[off + i], (float)q[i] / s, blend);
            if (packed != NULL) {
                st = bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, q, 1, len, packed + off / 4, (size_t)(len / 4));
                if (st != BN_OK) return st;
            }
        }
    *w_scale = 1.0f / s;
    return BN_OK;
}

/* work = [q (N,C) int8][a (N) float][q_sum (N) int32] from the first 64-byte boundary of the caller's block */
static int64_t codes_bytes(int64_t N, int64_t C) { return (N * C + 63) / 64 * 64; }

bn_status bn_train_bitlinear_work_size(int64_t N, int64_t C, int64_t* out) {
    BN_REQUIRE_ARG(out != NULL, "bn_train_bitlinear_work_size: out must not be null");
    BN_REQUIRE_ARG(N >= 0 && C > 0, "bn_train_bitlinear_work_size: N (%lld) must be >= 0 and C (%lld) > 0",
                   (long long)N, (long long)C);
    *out = 64 + codes_bytes(N, C) + N * (int64_t)(sizeof(float) + sizeof(int32_t));
    return BN_OK;
}

typedef struct act_job {
    const float* x;
    int64_t C;
    float blend;
    int8_t* q;
    float* a;
    int32_t* q_sum;
    float* xeff;
    atomic_int bad; /* a row held a NaN or an infinity */
} act_job;

/* rows [n0, n1): HF ActQuant, the code sums for bn_tmatmul_i8, and xeff */
static void act_rows(void* ctx, int64_t n0, int64_t n1, int32_t worker) {
    (void)worker;
    act_job* j = ctx;
    const int64_t C = j->C;
    for (int64_t n = n0; n < n1; n++) {
        const float* x = j->x + n * C;
        int8_t* q = j->q + n * C;
        float* xe = j->xeff + n * C;
        if (bn_kernels.quantize_act_i8(x, C, q, &j->a[n]) != 0) {
            atomic_store(&j->bad, 1);
            continue;
        }
        const float a = j->a[n];
        int32_t s = 0;
        for (int64_t i = 0; i < C; i++) {
            s += q[i];
            xe[i] = mix(x[i], (float)q[i] / a, j->blend);
        }
        j->q_sum[n] = s;
    }
}

// x (N,C), weff (OC,C) or packed (OC*C/4 bytes) -> xeff (N,C), out (N,OC)
bn_status bn_train_bitlinear_forward(const float* x, int64_t N, int64_t C, const float* weff, const uint8_t* packed,
                                     float w_scale, int64_t OC, float blend, float* xeff, float* out, void* work,
                                     int64_t work_len, bn_threadpool* pool) {
    static const char fn[] = "bn_train_bitlinear_forward";
    BN_REQUIRE_ARG(x != NULL && xeff != NULL && out != NULL, "%s: x, xeff and out must not be null", fn);
    BN_REQUIRE_ARG(N >= 0 && C > 0 && OC > 0, "%s: N (%lld) must be >= 0, C (%lld) and OC (%lld) > 0", fn,
                   (long long)N, (long long)C, (long long)OC);
    bn_status st = check_blend(fn, blend);
    if (st != BN_OK) return st;
    const int ternary = blend == 1.0f && packed != NULL; /* inference's integer matmul */
    BN_REQUIRE_ARG(ternary || weff != NULL, "%s: weff must not be null unless blend is 1 and packed is given", fn);
    if (ternary && C % 128 != 0)
        return bn_fail(BN_ERR_SHAPE, "%s: C (%lld) must be a multiple of 128 for packed I2_S codes", fn,
                       (long long)C);
    if (N == 0) return BN_OK;
    if (blend == 0.0f) {
        if (xeff != x) memcpy(xeff, x, (size_t)(N * C) * sizeof(float)); /* xeff may be x */
    } else {
        int64_t need;
        st = bn_train_bitlinear_work_size(N, C, &need);
        if (st != BN_OK) return st;
        BN_REQUIRE_ARG(work != NULL, "%s: work must not be null", fn);
        if (work_len < need)
            return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "%s: work has %lld bytes, %lld needed", fn, (long long)work_len,
                           (long long)need);
        uint8_t* base = (uint8_t*)(((uintptr_t)work + 63) & ~(uintptr_t)63);
        act_job j = {x, C, blend, (int8_t*)base, NULL, NULL, xeff, 0};
        j.a = (float*)(base + codes_bytes(N, C));
        j.q_sum = (int32_t*)(j.a + N);
        bn_kernels_init();
        st = bn_threadpool_parallel_for(pool, N, 1, act_rows, &j);
        if (st != BN_OK) return st;
        if (atomic_load(&j.bad)) return bn_fail(BN_ERR_NUMERIC, "%s: x holds a NaN or an infinity", fn);
        if (ternary)
            return bn_tmatmul_i8(BN_TLAYOUT_I2S, packed, OC, C, w_scale, j.q, j.a, j.q_sum, N, out, pool);
    }
    return bn_sgemm(0, 1, N, OC, C, 1.0f, xeff, C, weff, C, 0.0f, out, OC, pool);
}

// dout (N,OC), xeff (N,C), weff (OC,C) -> dx (N,C) +=, dw (OC,C) +=
bn_status bn_train_bitlinear_backward(const float* dout, const float* xeff, const float* weff, int64_t N, int64_t C,
                                      int64_t OC, float* dx, float* dw, bn_threadpool* pool) {
    static const char fn[] = "bn_train_bitlinear_backward";
    BN_REQUIRE_ARG(dout != NULL && xeff != NULL && weff != NULL && dx != NULL && dw != NULL,
                   "%s: dout, xeff, weff, dx and dw must not be null", fn);
    BN_REQUIRE_ARG(N >= 0 && C > 0 && OC > 0, "%s: N (%lld) must be >= 0, C (%lld) and OC (%lld) > 0", fn,
                   (long long)N, (long long)C, (long long)OC);
    if (N == 0) return BN_OK;
    bn_status st = bn_sgemm(0, 0, N, C, OC, 1.0f, dout, OC, weff, C, 1.0f, dx, C, pool);
    if (st != BN_OK) return st;
    return bn_sgemm(1, 0, OC, C, N, 1.0f, dout, OC, xeff, C, 1.0f, dw, C, pool);
}
