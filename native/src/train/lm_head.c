/* Tied LM head for training: the embedding table E (V,C) read as the output projection.
 *   forward:  logits (N,V) = h (N,C) . Eᵀ
 *   backward: dh (N,C) += dlogits (N,V) . E (V,C);   dE (V,C) += dlogitsᵀ (V,N) . h (N,C)
 * All three are bn_sgemm: split over the pool, the same bits for any thread count. */
#include "core/error.h"

static bn_status check(const char* fn, int64_t N, int64_t C, int64_t V) {
    BN_REQUIRE_ARG(N >= 0 && C > 0 && V > 0, "%s: N (%lld) must be >= 0, C (%lld) and V (%lld) > 0", fn,
                   (long long)N, (long long)C, (long long)V);
    return BN_OK;
}

// h (N,C), E (V,C) -> logits (N,V)
bn_status bn_train_lm_head_forward(const float* h, int64_t N, int64_t C, const float* E, int64_t V, float* logits,
                                   bn_threadpool* pool) {
    static const char fn[] = "bn_train_lm_head_forward";
    bn_status st = check(fn, N, C, V);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(h != NULL && E != NULL && logits != NULL, "%s: h, E and logits must not be null", fn);
    if (N == 0) return BN_OK;
    return bn_sgemm(0, 1, N, V, C, 1.0f, h, C, E, C, 0.0f, logits, V, pool);
}

// dlogits (N,V), h (N,C), E (V,C) -> dh (N,C) +=, dE (V,C) +=
bn_status bn_train_lm_head_backward(const float* dlogits, const float* h, const float* E, int64_t N, int64_t C,
                                    int64_t V, float* dh, float* dE, bn_threadpool* pool) {
    static const char fn[] = "bn_train_lm_head_backward";
    bn_status st = check(fn, N, C, V);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(dlogits != NULL && h != NULL && E != NULL && dh != NULL && dE != NULL,
                   "%s: dlogits, h, E, dh and dE must not be null", fn);
    if (N == 0) return BN_OK;
    st = bn_sgemm(0, 0, N, C, V, 1.0f, dlogits, V, E, C, 1.0f, dh, C, pool);
    if (st != BN_OK) return st;
    return bn_sgemm(1, 0, V, C, N, 1.0f, dlogits, V, h, C, 1.0f, dE, C, pool);
}
