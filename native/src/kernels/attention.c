/* Causal grouped-query attention over a KV cache, as HF's eager attention computes it in float32:
 *   scores = (q · kᵀ) * D^-0.5;  p = softmax(scores) (max subtracted);  out = p · v
 * for query position p0 + t over cache positions 0..p0+t (a later position never contributes: causal mask).
 * Head h uses kv head h / (H / Hkv) (repeat_kv). The cache holds F32 or F16 rows; the arithmetic is the dot,
 * softmax and axpy kernels (dot*.c, softmax*.c), so every instruction set shares this file.
 * Layouts: q (T,H,D), cache (Hkv, max_ctx, D), out (T,H,D). */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "kernels/kernels.h"

static bn_status check_cache(const char* fn, bn_dtype type, const void* kc, const void* vc, int64_t Hkv,
                             int64_t max_ctx, int64_t D, int64_t p0, int64_t T) {
    BN_REQUIRE_ARG(kc != NULL && vc != NULL, "%s: k_cache and v_cache must not be null", fn);
    if (type != BN_DTYPE_F32 && type != BN_DTYPE_F16)
        return bn_fail(BN_ERR_UNSUPPORTED, "%s: the cache must be F32 or F16 (dtype %d)", fn, (int)type);
    BN_REQUIRE_ARG(Hkv > 0 && D > 0 && max_ctx > 0 && p0 >= 0 && T >= 0,
                   "%s: Hkv (%lld), D (%lld) and max_ctx (%lld) must be > 0, p0 (%lld) and T (%lld) >= 0", fn,
                   (long long)Hkv, (long long)D, (long long)max_ctx, (long long)p0, (long long)T);
    if (p0 > max_ctx - T)
        return bn_fail(BN_ERR_SHAPE, "%s: positions %lld..%lld do not fit a cache of %lld", fn, (long long)p0,
                       (long long)(p0 + T - 1), (long long)max_ctx);
    return BN_OK;
}

// k (T,Hkv,D), v (T,Hkv,D) -> k_cache, v_cache (Hkv,max_ctx,D) at positions p0..p0+T-1
bn_status bn_kv_cache_append(bn_dtype cache_type, void* k_cache, void* v_cache, int64_t Hkv, int64_t max_ctx,
                             int64_t D, int64_t p0, const float* k, const float* v, int64_t T) {
    bn_status st = check_cache("bn_kv_cache_append", cache_type, k_cache, v_cache, Hkv, max_ctx, D, p0, T);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(k != NULL && v != NULL, "bn_kv_cache_append: k and v must not be null");
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < Hkv; h++) {
            const int64_t src = (t * Hkv + h) * D, dst = (h * max_ctx + p0 + t) * D;
            if (cache_type == BN_DTYPE_F32) {
                memcpy((float*)k_cache + dst, k + src, (size_t)D * sizeof(float));
                memcpy((float*)v_cache + dst, v + src, (size_t)D * sizeof(float));
            } else {
                uint16_t* kd = (uint16_t*)k_cache + dst;
                uint16_t* vd = (uint16_t*)v_cache + dst;
                for (int64_t i = 0; i < D; i++) {
                    kd[i] = bn_fp32_to_fp16(k[src + i]);
                    vd[i] = bn_fp32_to_fp16(v[src + i]);
                }
            }
        }
    return BN_OK;
}

bn_status bn_attention_work_size(const bn_threadpool* pool, int64_t n_ctx, int64_t* out) {
    BN_REQUIRE_ARG(out != NULL, "bn_attention_work_size: out must not be null");
    BN_REQUIRE_ARG(n_ctx >= 0, "bn_attention_work_size: n_ctx (%lld) is negative", (long long)n_ctx);
    const int64_t threads = pool ? bn_threadpool_size(pool) : 1;
    *out = threads * n_ctx;
    return BN_OK;
}

typedef struct attn_job {
    bn_dtype type;
    const float* q;
    int64_t T, H, group, D, max_ctx, p0, n_ctx;
    const void* kc;
    const void* vc;
    float* out;
    float* work;
    float scale;
} attn_job;

/* Query heads [u0, u1) of the T*H (t-major: u = t*H + h). */
static void attn_heads(void* ctx, int64_t u0, int64_t u1, int32_t worker) {
    const attn_job* j = (const attn_job*)ctx;
    float* s = j->work + (int64_t)worker * j->n_ctx;
    const int64_t D = j->D;
    for (int64_t u = u0; u < u1; u++) {
        const int64_t t = u / j->H, h = u % j->H, kvh = h / j->group, n = j->p0 + t + 1;
        const float* qv = j->q + u * D;
        float* o = j->out + u * D;
        const int64_t base = kvh * j->max_ctx * D;
        if (j->type == BN_DTYPE_F32) {
            const float* K = (const float*)j->kc + base;
            for (int64_t p = 0; p < n; p++) s[p] = bn_kernels.dot_f32(qv, K + p * D, D) * j->scale;
        } else {
            const uint16_t* K = (const uint16_t*)j->kc + base;
            for (int64_t p = 0; p < n; p++) s[p] = bn_kernels.dot_f16(qv, K + p * D, D) * j->scale;
        }
        bn_kernels.softmax_f32(s, n);
        memset(o, 0, (size_t)D * sizeof *o);
        if (j->type == BN_DTYPE_F32) {
            const float* V = (const float*)j->vc + base;
            for (int64_t p = 0; p < n; p++) bn_kernels.axpy_f32(s[p], V + p * D, D, o);
        } else {
            const uint16_t* V = (const uint16_t*)j->vc + base;
            for (int64_t p = 0; p < n; p++) bn_kernels.axpy_f16(s[p], V + p * D, D, o);
        }
    }
}

// q (T,H,D), caches (Hkv,max_ctx,D) holding positions 0..p0+T-1 -> out (T,H,D)
bn_status bn_attention(bn_dtype cache_type, const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t D,
                       const void* k_cache, const void* v_cache, int64_t max_ctx, int64_t p0, float* out, float* work,
                       int64_t work_len, bn_threadpool* pool) {
    bn_status st = check_cache("bn_attention", cache_type, k_cache, v_cache, Hkv, max_ctx, D, p0, T);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(q != NULL && out != NULL && work != NULL, "bn_attention: q, out and work must not be null");
    BN_REQUIRE_ARG(H > 0, "bn_attention: H (%lld) must be > 0", (long long)H);
    if (H % Hkv != 0)
        return bn_fail(BN_ERR_SHAPE, "bn_attention: H (%lld) is not a multiple of Hkv (%lld)", (long long)H,
                       (long long)Hkv);
    int64_t need;
    st = bn_attention_work_size(pool, p0 + T, &need);
    if (st != BN_OK) return st;
    if (work_len < need)
        return bn_fail(BN_ERR_BUFFER_TOO_SMALL, "bn_attention: work has %lld floats, %lld needed", (long long)work_len,
                       (long long)need);
    bn_kernels_init();
    /* HF multiplies the float scores by the Python float head_dim**-0.5, which torch rounds to float */
    attn_job j = {cache_type, q,       T,       H,   H / Hkv, D, max_ctx, p0, p0 + T, k_cache, v_cache,
                  out,        work, (float)(1.0 / sqrt((double)D))};
    return bn_threadpool_parallel_for(pool, T * H, 1, attn_heads, &j);
}
