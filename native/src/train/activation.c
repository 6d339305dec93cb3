/* Gated FFN activation backward. Forward (bn_gated_act_f32): out = act(gate) * up, elementwise.
 *   relu2: act(g) = max(g,0)²,        act'(g) = 2 max(g,0)
 *   silu:  act(g) = g σ(g),           act'(g) = σ(g) (1 + g (1 - σ(g)))
 *   dgate += dout * up * act'(gate);   dup += dout * act(gate) */
#include <math.h>

#include "core/error.h"

// dout (n), gate (n), up (n) -> dgate (n) +=, dup (n) +=
bn_status bn_train_gated_act_backward(bn_activation act, const float* dout, const float* gate, const float* up,
                                      int64_t n, float* dgate, float* dup) {
    static const char fn[] = "bn_train_gated_act_backward";
    BN_REQUIRE_ARG(dout != NULL && gate != NULL && up != NULL && dgate != NULL && dup != NULL,
                   "%s: dout, gate, up, dgate and dup must not be null", fn);
    BN_REQUIRE_ARG(n >= 0, "%s: n (%lld) is negative", fn, (long long)n);
    if (act == BN_ACT_RELU2) {
        for (int64_t i = 0; i < n; i++) {
            const float r = gate[i] > 0.0f ? gate[i] : 0.0f;
            dgate[i] += dout[i] * up[i] * (2.0f * r);
            dup[i] += dout[i] * (r * r);
        }
    } else if (act == BN_ACT_SILU) {
        for (int64_t i = 0; i < n; i++) {
            const float g = gate[i], sg = 1.0f / (1.0f + expf(-g));
            dgate[i] += dout[i] * up[i] * (sg * (1.0f + g * (1.0f - sg)));
            dup[i] += dout[i] * (g * sg);
        }
    } else {
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", fn, (int)act);
    }
    return BN_OK;
}
