/* Elementwise ops of the forward pass: the residual add and the gated FFN activations
 *   relu²: relu(gate)² * up   (BitNet b1.58 2B4T, hidden_act "relu2")
 *   SiLU:  silu(gate) * up    (older BitNet/Llama-style models), silu(g) = g / (1 + exp(-g))
 * Scalar reference and the public entry points. */
#include <math.h>

#include "core/error.h"
#include "kernels/kernels.h"

// x (n) += y (n)
void bn_add_f32_scalar(float* x, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

// gate (n), up (n) -> out (n)
void bn_relu2_mul_f32_scalar(const float* gate, const float* up, int64_t n, float* out) {
    for (int64_t i = 0; i < n; i++) {
        const float r = gate[i] > 0.0f ? gate[i] : 0.0f;
        out[i] = (r * r) * up[i];
    }
}

// gate (n), up (n) -> out (n)
void bn_silu_mul_f32_scalar(const float* gate, const float* up, int64_t n, float* out) {
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        out[i] = (g / (1.0f + expf(-g))) * up[i];
    }
}

void bn_install_elementwise_scalar(bn_kernel_table* t) {
    t->add_f32 = bn_add_f32_scalar;
    t->add_f32_impl = "scalar";
    t->relu2_mul_f32 = bn_relu2_mul_f32_scalar;
    t->relu2_mul_f32_impl = "scalar";
    t->silu_mul_f32 = bn_silu_mul_f32_scalar;
    t->silu_mul_f32_impl = "scalar";
}

// x (n) += y (n)
bn_status bn_add_f32(float* x, const float* y, int64_t n) {
    BN_REQUIRE_ARG(x != NULL && y != NULL, "bn_add_f32: x and y must not be null");
    BN_REQUIRE_ARG(n >= 0, "bn_add_f32: n (%lld) is negative", (long long)n);
    bn_kernels_init();
    bn_kernels.add_f32(x, y, n);
    return BN_OK;
}

// gate (n), up (n) -> out (n), n = T*F
bn_status bn_gated_act_f32(bn_activation act, const float* gate, const float* up, int64_t n, float* out) {
    BN_REQUIRE_ARG(gate != NULL && up != NULL && out != NULL, "bn_gated_act_f32: gate, up and out must not be null");
    BN_REQUIRE_ARG(n >= 0, "bn_gated_act_f32: n (%lld) is negative", (long long)n);
    bn_kernels_init();
    switch (act) {
    case BN_ACT_RELU2: bn_kernels.relu2_mul_f32(gate, up, n, out); return BN_OK;
    case BN_ACT_SILU: bn_kernels.silu_mul_f32(gate, up, n, out); return BN_OK;
    }
    return bn_fail(BN_ERR_INVALID_ARGUMENT, "bn_gated_act_f32: unknown activation %d", (int)act);
}
