/* Optimizer updates over flat float arrays, PyTorch's single-tensor (foreach=False) formulas in float32, with the
 * per-step scalars computed in double as Python computes them:
 *   AdamW (torch.optim.AdamW, decoupled weight decay, Loshchilov & Hutter 2019):
 *     p *= 1 - lr wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²
 *     p -= (lr / (1 - b1^step)) m / (sqrt(v) / sqrt(1 - b2^step) + eps)
 *   SGD (torch.optim.SGD, dampening 0):
 *     d = g + wd p;  momentum: buf = d (step 1) or momentum buf + d;  d = nesterov ? d + momentum buf : buf
 *     p -= lr d
 * Elementwise loops without branches, so the compiler vectorizes them. */
#include <math.h>

#include "core/error.h"

// params, grads, m, v (n)
bn_status bn_adamw_update(float* params, const float* grads, float* m, float* v, int64_t n, float lr, float beta1,
                          float beta2, float eps, float weight_decay, int64_t step) {
    static const char fn[] = "bn_adamw_update";
    BN_REQUIRE_ARG(n >= 0, "%s: n (%lld) is negative", fn, (long long)n);
    BN_REQUIRE_ARG(n == 0 || (params != NULL && grads != NULL && m != NULL && v != NULL),
                   "%s: params, grads, m and v must not be null", fn);
    BN_REQUIRE_ARG(step >= 1, "%s: step (%lld) must be >= 1", fn, (long long)step);
    BN_REQUIRE_ARG(lr >= 0.0f && isfinite(lr), "%s: lr (%g) must be finite and >= 0", fn, (double)lr);
    BN_REQUIRE_ARG(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f,
                   "%s: beta1 (%g) and beta2 (%g) must be in [0, 1)", fn, (double)beta1, (double)beta2);
    BN_REQUIRE_ARG(eps >= 0.0f && isfinite(eps), "%s: eps (%g) must be finite and >= 0", fn, (double)eps);
    BN_REQUIRE_ARG(weight_decay >= 0.0f && isfinite(weight_decay), "%s: weight_decay (%g) must be finite and >= 0", fn,
                   (double)weight_decay);
    const float decay = (float)(1.0 - (double)lr * (double)weight_decay);
    const double bc1 = 1.0 - pow((double)beta1, (double)step), bc2 = 1.0 - pow((double)beta2, (double)step);
    const float step_size = (float)((double)lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    const float b1 = beta1, c1 = 1.0f - beta1, b2 = beta2, c2 = 1.0f - beta2;
    for (int64_t i = 0; i < n; i++) {
        const float g = grads[i];
        const float mi = b1 * m[i] + c1 * g, vi = b2 * v[i] + c2 * (g * g);
        m[i] = mi;
        v[i] = vi;
        params[i] = params[i] * decay - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
    return BN_OK;
}

// params, grads, buf (n; NULL when momentum == 0)
bn_status bn_sgd_update(float* params, const float* grads, float* buf, int64_t n, float lr, float momentum,
                        float weight_decay, int32_t nesterov, int64_t step) {
    static const char fn[] = "bn_sgd_update";
    BN_REQUIRE_ARG(n >= 0, "%s: n (%lld) is negative", fn, (long long)n);
    BN_REQUIRE_ARG(n == 0 || (params != NULL && grads != NULL), "%s: params and grads must not be null", fn);
    BN_REQUIRE_ARG(step >= 1, "%s: step (%lld) must be >= 1", fn, (long long)step);
    BN_REQUIRE_ARG(lr >= 0.0f && isfinite(lr), "%s: lr (%g) must be finite and >= 0", fn, (double)lr);
    BN_REQUIRE_ARG(momentum >= 0.0f && isfinite(momentum), "%s: momentum (%g) must be finite and >= 0", fn,
                   (double)momentum);
    BN_REQUIRE_ARG(weight_decay >= 0.0f && isfinite(weight_decay), "%s: weight_decay (%g) must be finite and >= 0", fn,
                   (double)weight_decay);
    BN_REQUIRE_ARG(!nesterov || momentum > 0.0f, "%s: nesterov needs momentum > 0 (as torch.optim.SGD)", fn);
    BN_REQUIRE_ARG(momentum == 0.0f || n == 0 || buf != NULL, "%s: buf must not be null when momentum (%g) is not 0",
                   fn, (double)momentum);
    if (momentum == 0.0f) {
        for (int64_t i = 0; i < n; i++) params[i] -= lr * (grads[i] + weight_decay * params[i]);
    } else if (step == 1) {
        for (int64_t i = 0; i < n; i++) {
            const float d = grads[i] + weight_decay * params[i];
            buf[i] = d;
            params[i] -= lr * (nesterov ? d + momentum * d : d);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            const float d = grads[i] + weight_decay * params[i], b = momentum * buf[i] + d;
            buf[i] = b;
            params[i] -= lr * (nesterov ? d + momentum * b : b);
        }
    }
    return BN_OK;
}
