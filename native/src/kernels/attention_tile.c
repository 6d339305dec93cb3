/* Training attention's tile ops (attention_tile.h), defined as loops over the dot_f32 / axpy_f32 slots: the
 * reference every vector version equals bit for bit, and the version an instruction set without its own uses
 * (then over that set's dot and axpy, e.g. NEON's). */
#include <string.h>

#include "kernels/kernels.h"

void bn_attn_scores_f32_scalar(const float* q, int64_t qs, int64_t R, const float* k, int64_t ks, int64_t n,
                                int64_t D, float scale, float* s, int64_t ss) {
    for (int64_t r = 0; r < R; r++)
        for (int64_t p = 0; p < n; p++) s[r * ss + p] = bn_kernels.dot_f32(q + r * qs, k + p * ks, D) * scale;
}

void bn_attn_wsum_f32_scalar(const float* s, int64_t ss, int64_t R, int64_t n0, const float* v, int64_t vs,
                              int64_t D, float* out, int64_t os) {
    for (int64_t r = 0; r < R; r++) {
        float* o = out + r * os;
        memset(o, 0, (size_t)D * sizeof *o);
        for (int64_t p = 0; p < n0 + r; p++) bn_kernels.axpy_f32(s[r * ss + p], v + p * vs, D, o);
    }
}

void bn_attn_outer_f32_scalar(const float* a, int64_t as, int64_t R, const float* x, int64_t xs, int64_t n,
                               int64_t D, float* y, int64_t ys) {
    for (int64_t p = 0; p < n; p++)
        for (int64_t r = 0; r < R; r++) bn_kernels.axpy_f32(a[r * as + p], x + r * xs, D, y + p * ys);
}

void bn_install_attn_tile_scalar(bn_kernel_table* t) {
#define BN_SET(op) t->op = bn_##op##_scalar; t->op##_impl = "scalar";
    BN_SET(attn_scores_f32) BN_SET(attn_wsum_f32) BN_SET(attn_outer_f32)
#undef BN_SET
}
