/* Token embedding for training (llm.c encoder without positions: BitNet uses RoPE instead).
 *   forward:  out[n] = wte[ids[n]]                   ids (N), wte (V,C) -> out (N,C)
 *   backward: dwte[ids[n]] += dout[n]                 dout (N,C) -> dwte (V,C), rows scattered by id
 * Backward walks n in order on one thread: a repeated id sums its rows in a fixed order. */
#include <string.h>

#include "core/error.h"

static bn_status check_ids(const char* fn, const int32_t* ids, int64_t N, int64_t V, int64_t C) {
    BN_REQUIRE_ARG(ids != NULL || N == 0, "%s: ids must not be null", fn);
    BN_REQUIRE_ARG(N >= 0 && V > 0 && C > 0, "%s: N (%lld) must be >= 0, V (%lld) and C (%lld) > 0", fn,
                   (long long)N, (long long)V, (long long)C);
    for (int64_t n = 0; n < N; n++)
        BN_REQUIRE_ARG(ids[n] >= 0 && ids[n] < V, "%s: id %d at position %lld is outside 0..%lld", fn, ids[n],
                       (long long)n, (long long)(V - 1));
    return BN_OK;
}

// ids (N), wte (V,C) -> out (N,C)
bn_status bn_train_embedding_forward(const int32_t* ids, int64_t N, const float* wte, int64_t V, int64_t C,
                                     float* out) {
    static const char fn[] = "bn_train_embedding_forward";
    bn_status st = check_ids(fn, ids, N, V, C);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(wte != NULL && out != NULL, "%s: wte and out must not be null", fn);
    for (int64_t n = 0; n < N; n++) memcpy(out + n * C, wte + (int64_t)ids[n] * C, (size_t)C * sizeof(float));
    return BN_OK;
}

// dout (N,C), ids (N) -> dwte (V,C) +=
bn_status bn_train_embedding_backward(const int32_t* ids, int64_t N, const float* dout, int64_t V, int64_t C,
                                      float* dwte) {
    static const char fn[] = "bn_train_embedding_backward";
    bn_status st = check_ids(fn, ids, N, V, C);
    if (st != BN_OK) return st;
    BN_REQUIRE_ARG(dout != NULL && dwte != NULL, "%s: dout and dwte must not be null", fn);
    for (int64_t n = 0; n < N; n++) {
        float* d = dwte + (int64_t)ids[n] * C;
        const float* g = dout + n * C;
        for (int64_t c = 0; c < C; c++) d[c] += g[c];
    }
    return BN_OK;
}
