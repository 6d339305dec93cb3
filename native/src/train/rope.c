/* RoPE backward. Forward (bn_rope_f32_table) rotates each pair (i, i + D/2) of a head by the angle of its
 * position:  y_i = x_i cos - x_{i+h} sin,  y_{i+h} = x_{i+h} cos + x_i sin.  The Jacobian is that rotation,
 * so the gradient is its transpose, the rotation by minus the angle:
 *   dx_i = dy_i cos + dy_{i+h} sin,  dx_{i+h} = dy_{i+h} cos - dy_i sin
 * computed in place by the forward rope_f32 kernel with -sin. Forward: bn_rope_f32_table. */
#include "core/error.h"
#include "kernels/kernels.h"

// dx (N,H,D) in place, pos (N), cos/sin (n_pos, D/2)
bn_status bn_train_rope_backward(float* dx, int64_t N, int64_t H, int64_t D, const int32_t* pos, const float* cos,
                                 const float* sin, int64_t n_pos) {
    static const char fn[] = "bn_train_rope_backward";
    BN_REQUIRE_ARG(dx != NULL && pos != NULL && cos != NULL && sin != NULL,
                   "%s: dx, pos, cos and sin must not be null", fn);
    BN_REQUIRE_ARG(N >= 0 && H > 0, "%s: N (%lld) must be >= 0 and H (%lld) > 0", fn, (long long)N, (long long)H);
    if (D <= 0 || D % 2 != 0 || D > 4096)
        return bn_fail(BN_ERR_SHAPE, "%s: head_dim (%lld) must be even, > 0 and at most 4096", fn, (long long)D);
    for (int64_t n = 0; n < N; n++)
        if (pos[n] < 0 || pos[n] >= n_pos)
            return bn_fail(BN_ERR_SHAPE, "%s: pos[%lld] (%d) is outside the table's %lld positions", fn,
                           (long long)n, pos[n], (long long)n_pos);
    bn_kernels_init();
    const int64_t half = D / 2;
    float neg_sin[2048];
    for (int64_t n = 0; n < N; n++) {
        const float* s = sin + (int64_t)pos[n] * half;
        for (int64_t i = 0; i < half; i++) neg_sin[i] = -s[i];
        for (int64_t h = 0; h < H; h++) bn_kernels.rope_f32(dx + (n * H + h) * D, cos + (int64_t)pos[n] * half, neg_sin, half);
    }
    return BN_OK;
}
