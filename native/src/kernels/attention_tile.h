/* Internal: the kernel-table slots of training attention's tiles (train/attention.c): a block of R query rows
 * against the key / value rows of one (sequence, kv head), with every row addressed by a stride (in floats).
 * kernels.h includes this file and adds BN_ATTN_TILE_KERNEL_OPS to its op list.
 *   attn_scores_f32: s[r*ss + p] = dot_f32(q + r*qs, k + p*ks, D) * scale          r < R, p < n
 *   attn_wsum_f32:   out[r*os + i] = sum over p < n0 + r of s[r*ss + p] * v[p*vs + i]  r < R, i < D
 *                    (the axpy_f32 sequence from 0: y = fma(s_p, v_p, y) for p = 0, 1, ...)
 *   attn_outer_f32:  y[p*ys + i] += sum over r < R of a[r*as + p] * x[r*xs + i]      p < n, i < D
 *                    (axpy_f32(a[r][p], x_r, D, y_p) for r = 0, 1, ...)
 * Every version gives, bit for bit, what the dot_f32 / axpy_f32 slots of the same instruction set give, so a
 * forward built from these equals bn_attention (built from those). The scalar version (attention_tile.c) is that
 * definition: loops over the chosen dot_f32 / axpy_f32 slots (the scalar ones when nothing else is enabled).
 * Vector versions save the calls and the loads: scores reduce the lanes of 16 (AVX-512; at D == 64, 8 keys x 2
 * query rows held in registers) or 8 (AVX2) dots together, transposed, with the same adds in the same tree as
 * the dot kernel's horizontal sum; wsum and outer keep output rows in registers and share each loaded row
 * between 4 (AVX-512) or 2 (AVX2) output rows (wsum) or 2 key rows (outer). */
#ifndef BN_KERNELS_ATTENTION_TILE_H
#define BN_KERNELS_ATTENTION_TILE_H

#include <stdint.h>

typedef void bn_attn_scores_f32_fn(const float* q, int64_t qs, int64_t R, const float* k, int64_t ks, int64_t n,
                                   int64_t D, float scale, float* s, int64_t ss);
typedef void bn_attn_wsum_f32_fn(const float* s, int64_t ss, int64_t R, int64_t n0, const float* v, int64_t vs,
                                 int64_t D, float* out, int64_t os);
typedef void bn_attn_outer_f32_fn(const float* a, int64_t as, int64_t R, const float* x, int64_t xs, int64_t n,
                                  int64_t D, float* y, int64_t ys);

#define BN_ATTN_TILE_KERNEL_OPS(X) \
    X(attn_scores_f32) \
    X(attn_wsum_f32) \
    X(attn_outer_f32)

struct bn_kernel_table;
void bn_install_attn_tile_scalar(struct bn_kernel_table* t);
void bn_install_attn_tile_avx2(struct bn_kernel_table* t);
void bn_install_attn_tile_avx512(struct bn_kernel_table* t);

/* The variants themselves, for tests. */
#define BN_ATTN_TILE_VARIANT_DECL(isa)                                                                          \
    void bn_attn_scores_f32_##isa(const float* q, int64_t qs, int64_t R, const float* k, int64_t ks, int64_t n, \
                                  int64_t D, float scale, float* s, int64_t ss);                                \
    void bn_attn_wsum_f32_##isa(const float* s, int64_t ss, int64_t R, int64_t n0, const float* v, int64_t vs,  \
                                int64_t D, float* out, int64_t os);                                             \
    void bn_attn_outer_f32_##isa(const float* a, int64_t as, int64_t R, const float* x, int64_t xs, int64_t n,  \
                                 int64_t D, float* y, int64_t ys);
BN_ATTN_TILE_VARIANT_DECL(scalar)
BN_ATTN_TILE_VARIANT_DECL(avx2)
BN_ATTN_TILE_VARIANT_DECL(avx512)
#undef BN_ATTN_TILE_VARIANT_DECL

#endif
