/* Internal: the kernel table. Every hot operation has one slot here; dispatch (core/dispatch.c) fills each
 * slot once, at initialisation, with the best implementation this CPU can run, and records its name so that
 * `bitnet info` can say what was chosen.
 *
 * Adding an operation: a typedef bn_<op>_fn below, one X(<op>) line in BN_KERNEL_OPS, a scalar version
 * (the definition of correct) installed by a bn_install_*_scalar function, vector versions installed by
 * bn_install_*_<isa> functions, and one row per installer in core/dispatch.c. Tests compare every vector
 * version with the scalar one. */
#ifndef BN_KERNELS_H
#define BN_KERNELS_H

#include <stdint.h>

#include "bitnet.h"
#include "kernels/forward_ops.h"
#include "kernels/sgemm.h"
#include "kernels/exp_sum.h"
#include "kernels/attention_tile.h"
#include "kernels/dot_q8_k.h"

/* max |x[i]| over x[0..n) (0 for n == 0). NaN handling is the caller's: inputs are finite. */
typedef float bn_abs_max_f32_fn(const float* x, int64_t n);

/* Ternary x int8 matmul over the I2_S layout (kernels/tmatmul.c documents it and the exact float expression).
 * Both work on output rows [r0, r1) only, so threads can split a matrix by rows.
 *   w    (M, K/4) bytes, I2_S rows; K a multiple of 128
 *   q    (T, K) int8 activations, q_sum (T) their row sums, a (T) their scales (x ~ q / a)
 *   y    (T, ldy) floats: y[t*ldy + r] = (float)(dot(c_r, q_t) - q_sum[t]) * (w_scale / a[t])
 * gemv is the T == 1 case (y[r]). */
typedef void bn_tmatmul_i2_gemv_fn(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                                   int32_t q_sum, float a, float w_scale, float* y);
typedef void bn_tmatmul_i2_gemm_fn(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                                   const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,
                                   int64_t ldy);

/* The same over BN_TLAYOUT_I2S_X4 (I2_S blocks, groups of 4 rows interleaved in 64-byte runs; K % 256 == 0,
 * r0 % 4 == 0 and r1 % 4 == 0): the same y bit for bit as the I2_S kernels give for the same codes. */
typedef bn_tmatmul_i2_gemv_fn bn_tmatmul_x4_gemv_fn;
typedef bn_tmatmul_i2_gemm_fn bn_tmatmul_x4_gemm_fn;

/* The same over the TQ1 layout (ggml's block_tq1_0 rows; kernels/tmatmul_tq1.c documents it): w is (M, K/256)
 * blocks of BN_TQ1_BLOCK_BYTES, K a multiple of 256, and y is the same float bit for bit as the I2_S kernels give
 * for the same ternary matrix (the blocks' d is not read). */
typedef bn_tmatmul_i2_gemv_fn bn_tmatmul_tq1_gemv_fn;
typedef bn_tmatmul_i2_gemm_fn bn_tmatmul_tq1_gemm_fn;
#define BN_TQ1_BLOCK 256
#define BN_TQ1_BLOCK_BYTES 54
#define BN_TQ1_ROW_BYTES(K) ((K) / BN_TQ1_BLOCK * BN_TQ1_BLOCK_BYTES)
/* One block: 256 codes (0..2) into 54 bytes with d = 1.0 (fp16 0x3C00), and back (every byte decodes). */
void bn_tq1_encode_block(const uint8_t* codes, uint8_t* out);
void bn_tq1_decode_block(const uint8_t* in, uint8_t* codes);
/* TQ1 rows into I2_S rows: `rows` rows of K weights at w (TQ1 rows, BN_TQ1_ROW_BYTES(K) apart) into rows * K/4
 * bytes at out (I2_S rows, K/4 apart) holding the same codes; every TQ1 byte decodes (to 0..2). The TQ1 GEMM of
 * the vector variants multiplies panels of rows converted this way with the I2_S GEMM kernel of its instruction
 * set (bn_tmatmul_tq1_gemm_panels, kernels/tmatmul_tq1.c). Per variant: scalar (the reference), avx2 (AVX-VNNI
 * uses it too), avx512, neon (dotprod too). */
typedef void bn_tq1_to_i2_fn(const uint8_t* w, int64_t K, int64_t rows, uint8_t* out);
void bn_tq1_to_i2_scalar(const uint8_t* w, int64_t K, int64_t rows, uint8_t* out);
void bn_tq1_to_i2_avx2(const uint8_t* w, int64_t K, int64_t rows, uint8_t* out);
void bn_tq1_to_i2_avx512(const uint8_t* w, int64_t K, int64_t rows, uint8_t* out);
void bn_tq1_to_i2_neon(const uint8_t* w, int64_t K, int64_t rows, uint8_t* out);
/* Rows [r0, r1) x T tokens of a TQ1 GEMM (bn_tmatmul_tq1_gemm_fn's arguments) as panels of BN_TQ1_PANEL_ROWS
 * rows that to_i2 converts into a stack buffer of BN_TQ1_PANEL_BYTES and i2_gemm multiplies with all T tokens; y
 * is bit for bit the TQ1 kernels' (the I2_S kernels compute the same int32 dot and float expression). Returns 1
 * when done, 0 (touching nothing) when T < BN_TQ1_PANEL_MIN_T or a panel does not fit the buffer (K > 8192):
 * then the caller's TQ1 tiles, which decode each block once per tile of at most 4 tokens, are the better (or the
 * only) choice. From 5 tokens on those tiles decode every block at least twice and the panels were faster on
 * every x86 variant (Zen 5, 2B4T shapes: 5-20% at T = 5, 7-19% slower at T = 4 except AVX-VNNI, whose tiles
 * take 3 tokens). */
#define BN_TQ1_PANEL_ROWS 16
#define BN_TQ1_PANEL_BYTES (32 * 1024)
#define BN_TQ1_PANEL_MIN_T 5
int bn_tmatmul_tq1_gemm_panels(bn_tq1_to_i2_fn* to_i2, bn_tmatmul_i2_gemm_fn* i2_gemm, const uint8_t* w,
                                int64_t K, int64_t r0, int64_t r1, const int8_t* q, const int32_t* q_sum,
                                const float* a, float w_scale, int64_t T, float* y, int64_t ldy);

/* Several matrices of one K over the same activations as ONE parallel job (q, k, v of a layer; gate, up): the
 * output rows of all n matrices are one range that the threads split, so a layer pays one fork/join where it
 * paid n, and a GEMV gives each thread an equal share of the weight bytes of the whole group. Matrix i is
 * (M[i], K) at w[i] with scale w_scale[i] and writes y[i] (T, M[i]); every element is bit-identical to
 * bn_tmatmul_i8 on that matrix alone. n in 1..BN_TMATMUL_MULTI_MAX. */
#define BN_TMATMUL_MULTI_MAX 4
bn_status bn_tmatmul_i8_multi(bn_tlayout layout, int32_t n, const uint8_t* const* w, const int64_t* M, int64_t K,
                              const float* w_scale, const int8_t* q, const float* a, const int32_t* q_sum,
                              int64_t T, float* const* y, bn_threadpool* pool);

/* Runs fn over [0, n) split for a pass that reads each of its items' bytes once from memory (a GEMV, the LM head of
 * a decode step): one contiguous range per thread keeps one prefetch stream per core and no cold chunk starts
 * (2 threads, k/v 640x2560: 45 GB/s against 35 with the pool's 4 chunks per thread; the Q6_K head 2x128256 rows:
 * ~100% of the read bandwidth against ~85% in chunks of 64 rows), with a tail of small ranges that balances a thread
 * that started late (kernels/tmatmul.c). Equal items should be equal bytes. */
bn_status bn_parallel_stream(bn_threadpool* pool, int64_t n, bn_parallel_fn fn, void* ctx);

/* Quantizers (kernels/quantize.c defines each exactly; vector versions give the same bytes).
 * quantize_act_i8: HF ActQuant on one row: a = 127.0f / max(max|x|, 1e-5f), q[i] = clamp(rne(x[i] * a), -128, 127);
 *   returns 0, or 1 when x holds a NaN or infinity (then q and *a are unspecified).
 * abs_sum_f64: sum of |x[i]| in double over 16 interleaved lanes combined in a fixed tree, so every version
 *   rounds the same way; a NaN or infinity in x makes the result non-finite.
 * quantize_ternary: q[i] = clamp(rne(x[i] * s), -1, 1) with the product in float; x finite. */
typedef int bn_quantize_act_i8_fn(const float* x, int64_t n, int8_t* q, float* a);
typedef double bn_abs_sum_f64_fn(const float* x, int64_t n);
typedef void bn_quantize_ternary_fn(const float* x, int64_t n, float s, int8_t* q);

#define BN_KERNEL_OPS(X) \
    X(abs_max_f32) \
    X(tmatmul_i2_gemv) \
    X(tmatmul_i2_gemm) \
    X(tmatmul_x4_gemv) \
    X(tmatmul_x4_gemm) \
    X(tmatmul_tq1_gemv) \
    X(tmatmul_tq1_gemm) \
    X(quantize_act_i8) \
    X(abs_sum_f64) \
    X(quantize_ternary) \
    BN_FORWARD_KERNEL_OPS(X) \
    BN_SGEMM_KERNEL_OPS(X) \
    BN_EXP_SUM_KERNEL_OPS(X) \
    BN_ATTN_TILE_KERNEL_OPS(X) \
    BN_DOT_Q8_K_KERNEL_OPS(X)

typedef struct bn_kernel_table {
#define BN_KERNEL_FIELD(op) bn_##op##_fn* op; const char* op##_impl;
    BN_KERNEL_OPS(BN_KERNEL_FIELD)
#undef BN_KERNEL_FIELD
} bn_kernel_table;

/* The chosen kernels. Valid after bn_kernels_init() (run by the library constructor). */
extern bn_kernel_table bn_kernels;
void bn_kernels_init(void);

/* Installers: each sets the slots its file implements and their names. */
void bn_install_reduce_scalar(bn_kernel_table* t);
void bn_install_reduce_avx2(bn_kernel_table* t);
void bn_install_reduce_avx512(bn_kernel_table* t);
void bn_install_reduce_neon(bn_kernel_table* t);
void bn_install_quantize_scalar(bn_kernel_table* t);
void bn_install_quantize_avx2(bn_kernel_table* t);
void bn_install_quantize_avx512(bn_kernel_table* t);
void bn_install_quantize_neon(bn_kernel_table* t);
void bn_install_tmatmul_scalar(bn_kernel_table* t);
void bn_install_tmatmul_avx2(bn_kernel_table* t);
void bn_install_tmatmul_avxvnni(bn_kernel_table* t);
void bn_install_tmatmul_avx512(bn_kernel_table* t);
void bn_install_tmatmul_neon(bn_kernel_table* t);
void bn_install_tmatmul_dotprod(bn_kernel_table* t);
void bn_install_tmatmul_tq1_scalar(bn_kernel_table* t);
void bn_install_tmatmul_tq1_avx2(bn_kernel_table* t);
void bn_install_tmatmul_tq1_avxvnni(bn_kernel_table* t);
void bn_install_tmatmul_tq1_avx512(bn_kernel_table* t);
void bn_install_tmatmul_tq1_neon(bn_kernel_table* t);
void bn_install_tmatmul_tq1_dotprod(bn_kernel_table* t);

/* The variants themselves, for tests that compare them with the scalar reference. */
float bn_abs_max_f32_scalar(const float* x, int64_t n);
float bn_abs_max_f32_avx2(const float* x, int64_t n);
float bn_abs_max_f32_avx512(const float* x, int64_t n);
float bn_abs_max_f32_neon(const float* x, int64_t n);

#define BN_QUANTIZE_VARIANT_DECL(isa)                                                                           \
    int bn_quantize_act_i8_##isa(const float* x, int64_t n, int8_t* q, float* a);                               \
    double bn_abs_sum_f64_##isa(const float* x, int64_t n);                                                     \
    void bn_quantize_ternary_##isa(const float* x, int64_t n, float s, int8_t* q);
BN_QUANTIZE_VARIANT_DECL(scalar)
BN_QUANTIZE_VARIANT_DECL(avx2)
BN_QUANTIZE_VARIANT_DECL(avx512)
BN_QUANTIZE_VARIANT_DECL(neon)
#undef BN_QUANTIZE_VARIANT_DECL

#define BN_TMATMUL_VARIANT_DECL(isa)                                                                            \
    void bn_tmatmul_i2_gemv_##isa(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,        \
                                  int32_t q_sum, float a, float w_scale, float* y);                             \
    void bn_tmatmul_i2_gemm_##isa(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,        \
                                  const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,    \
                                  int64_t ldy);                                                                 \
    void bn_tmatmul_x4_gemv_##isa(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,        \
                                  int32_t q_sum, float a, float w_scale, float* y);                             \
    void bn_tmatmul_x4_gemm_##isa(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,        \
                                  const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,    \
                                  int64_t ldy);
BN_TMATMUL_VARIANT_DECL(scalar)
BN_TMATMUL_VARIANT_DECL(avx2)
BN_TMATMUL_VARIANT_DECL(avxvnni)
BN_TMATMUL_VARIANT_DECL(avx512)
BN_TMATMUL_VARIANT_DECL(neon)
BN_TMATMUL_VARIANT_DECL(dotprod)
#undef BN_TMATMUL_VARIANT_DECL

#define BN_TMATMUL_TQ1_VARIANT_DECL(isa)                                                                        \
    void bn_tmatmul_tq1_gemv_##isa(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,       \
                                   int32_t q_sum, float a, float w_scale, float* y);                            \
    void bn_tmatmul_tq1_gemm_##isa(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,       \
                                   const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,   \
                                   int64_t ldy);
BN_TMATMUL_TQ1_VARIANT_DECL(scalar)
BN_TMATMUL_TQ1_VARIANT_DECL(avx2)
BN_TMATMUL_TQ1_VARIANT_DECL(avxvnni)
BN_TMATMUL_TQ1_VARIANT_DECL(avx512)
BN_TMATMUL_TQ1_VARIANT_DECL(neon)
BN_TMATMUL_TQ1_VARIANT_DECL(dotprod)
#undef BN_TMATMUL_TQ1_VARIANT_DECL

#endif
