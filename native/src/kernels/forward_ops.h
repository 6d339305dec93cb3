/* Internal: the kernel-table slots of the forward-pass ops (RMSNorm, RoPE, softmax, the FFN gates, residual
 * add, row conversions, and the dot/axpy products that attention and the LM head are built from). kernels.h
 * includes this file and adds BN_FORWARD_KERNEL_OPS to its op list; each concept's files say what they
 * compute:
 *   rmsnorm*.c     rmsnorm_f32
 *   rope*.c        rope_f32
 *   softmax*.c     softmax_f32
 *   elementwise*.c add_f32, relu2_mul_f32, silu_mul_f32
 *   convert*.c     cvt_f16_f32, cvt_bf16_f32
 *   dot*.c         dot_f32, dot_f16, dot_bf16, dot_q8_0, dot_q6_k, dot_q4_k, axpy_f32, axpy_f16
 * Every version of an op computes the same float expression; vector versions differ only in the order of
 * the sums (and, for exp, in a polynomial within 1 ulp of exp), so tests compare them with a relative
 * tolerance, never bit for bit. */
#ifndef BN_KERNELS_FORWARD_OPS_H
#define BN_KERNELS_FORWARD_OPS_H

#include <stdint.h>

/* x (n), weight (n) -> out (n): out[i] = (x[i] * r) * weight[i], r = 1 / sqrtf(sum(x²)/n + eps) in float,
 * as HF's BitNetRMSNorm. out may alias x. */
typedef void bn_rmsnorm_f32_fn(const float* x, const float* weight, int64_t n, float eps, float* out);
/* x (2*half) in place, cos/sin (half): rotate-half (NeoX) RoPE of one head,
 *   x[i]      <- x[i] * cos[i] - x[i+half] * sin[i]
 *   x[i+half] <- x[i+half] * cos[i] + x[i] * sin[i]   (products rounded before the add, as torch does) */
typedef void bn_rope_f32_fn(float* x, const float* cos, const float* sin, int64_t half);
/* x (n) in place: x[i] = exp(x[i] - max) * (1 / sum); n >= 1, x finite or -inf (not all -inf). */
typedef void bn_softmax_f32_fn(float* x, int64_t n);
/* x (n) += y (n) */
typedef void bn_add_f32_fn(float* x, const float* y, int64_t n);
/* gate (n), up (n) -> out (n): relu2: (r * r) * up with r = max(gate, 0); silu: (gate / (1 + exp(-gate))) * up.
 * out may alias gate or up. */
typedef void bn_gate_mul_f32_fn(const float* gate, const float* up, int64_t n, float* out);
/* src (n) fp16 or bf16 bits -> dst (n) floats, exactly. */
typedef void bn_cvt_f32_fn(const uint16_t* src, int64_t n, float* dst);
/* Dot product of a float row x (n) with a stored row y (n values) in float: sum_i x[i] * w[i], where w is the
 * exact float value of y's element i (for Q8_0: qs*d; for Q6_K: (d*sc)*q; for Q4_K: (d*sc)*q - (dmin*m), as
 * ggml's dequantize_row_*). Q8_0 rows need n % 32 == 0, Q6_K and Q4_K rows n % 256 == 0. */
typedef float bn_dot_f32_fn(const float* x, const float* y, int64_t n);
typedef float bn_dot_u16_fn(const float* x, const uint16_t* y, int64_t n);
typedef float bn_dot_blocks_fn(const float* x, const void* y, int64_t n);
/* y (n) += a * x (n), x float or fp16. */
typedef void bn_axpy_f32_fn(float a, const float* x, int64_t n, float* y);
typedef void bn_axpy_f16_fn(float a, const uint16_t* x, int64_t n, float* y);

/* The slot types by slot name, for kernels.h's X-macro. */
typedef bn_gate_mul_f32_fn bn_relu2_mul_f32_fn;
typedef bn_gate_mul_f32_fn bn_silu_mul_f32_fn;
typedef bn_cvt_f32_fn bn_cvt_f16_f32_fn;
typedef bn_cvt_f32_fn bn_cvt_bf16_f32_fn;
typedef bn_dot_u16_fn bn_dot_f16_fn;
typedef bn_dot_u16_fn bn_dot_bf16_fn;
typedef bn_dot_blocks_fn bn_dot_q8_0_fn;
typedef bn_dot_blocks_fn bn_dot_q6_k_fn;
typedef bn_dot_blocks_fn bn_dot_q4_k_fn;

#define BN_FORWARD_KERNEL_OPS(X) \
    X(rmsnorm_f32) \
    X(rope_f32) \
    X(softmax_f32) \
    X(add_f32) \
    X(relu2_mul_f32) \
    X(silu_mul_f32) \
    X(cvt_f16_f32) \
    X(cvt_bf16_f32) \
    X(dot_f32) \
    X(dot_f16) \
    X(dot_bf16) \
    X(dot_q8_0) \
    X(dot_q6_k) \
    X(dot_q4_k) \
    X(axpy_f32) \
    X(axpy_f16)

/* ggml block layouts (ggml-common.h): block_q8_0 {fp16 d; int8 qs[32]} = 34 bytes per 32 values;
 * block_q6_K {uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d} = 210 bytes per 256 values;
 * block_q4_K {fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128]} = 144 bytes per 256 values.
 * Byte offsets, since the structs are read from unaligned file bytes. */
#define BN_Q8_0_BLOCK 32
#define BN_Q8_0_BYTES 34
#define BN_Q6_K_BLOCK 256
#define BN_Q6_K_BYTES 210
#define BN_Q6_K_QL 0
#define BN_Q6_K_QH 128
#define BN_Q6_K_SCALES 192
#define BN_Q6_K_D 208
#define BN_Q4_K_BLOCK 256
#define BN_Q4_K_BYTES 144
#define BN_Q4_K_D 0
#define BN_Q4_K_DMIN 2
#define BN_Q4_K_SCALES 4
#define BN_Q4_K_QS 16

/* The unsigned 6-bit code (0..63) of element e (0..255) of a block_q6_K (ggml's dequantize_row_q6_K layout): the low
 * 4 bits from ql, the high 2 from qh; the weight is d * scales[e / 16] * (code - 32). */
static inline int bn_q6_k_code(const uint8_t* blk, int e) {
    const uint8_t* ql = blk + BN_Q6_K_QL + (e / 128) * 64;
    const uint8_t* qh = blk + BN_Q6_K_QH + (e / 128) * 32;
    const int l = e % 32, k = (e % 128) / 32; /* k-th quarter of the half */
    const int lo = (k & 1) ? ql[l + 32] : ql[l];
    const int lo4 = (k & 2) ? lo >> 4 : lo & 0xF;
    return lo4 | (((qh[l] >> (2 * k)) & 3) << 4);
}

/* Sub-block j (0..7) of a block_q4_K's packed 6-bit scale and min (ggml's get_scale_min_k4). */
static inline void bn_q4_k_scale_min(int j, const uint8_t* scales, int* sc, int* m) {
    if (j < 4) {
        *sc = scales[j] & 63;
        *m = scales[j + 4] & 63;
    } else {
        *sc = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
        *m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
}

struct bn_kernel_table;
void bn_install_rmsnorm_scalar(struct bn_kernel_table* t);
void bn_install_rmsnorm_avx2(struct bn_kernel_table* t);
void bn_install_rmsnorm_avx512(struct bn_kernel_table* t);
void bn_install_rmsnorm_neon(struct bn_kernel_table* t);
void bn_install_rope_scalar(struct bn_kernel_table* t);
void bn_install_rope_avx2(struct bn_kernel_table* t);
void bn_install_rope_avx512(struct bn_kernel_table* t);
void bn_install_rope_neon(struct bn_kernel_table* t);
void bn_install_softmax_scalar(struct bn_kernel_table* t);
void bn_install_softmax_avx2(struct bn_kernel_table* t);
void bn_install_softmax_avx512(struct bn_kernel_table* t);
void bn_install_softmax_neon(struct bn_kernel_table* t);
void bn_install_elementwise_scalar(struct bn_kernel_table* t);
void bn_install_elementwise_avx2(struct bn_kernel_table* t);
void bn_install_elementwise_avx512(struct bn_kernel_table* t);
void bn_install_elementwise_neon(struct bn_kernel_table* t);
void bn_install_convert_scalar(struct bn_kernel_table* t);
void bn_install_convert_avx2(struct bn_kernel_table* t);
void bn_install_convert_avx512(struct bn_kernel_table* t);
void bn_install_convert_neon(struct bn_kernel_table* t);
void bn_install_dot_scalar(struct bn_kernel_table* t);
void bn_install_dot_avx2(struct bn_kernel_table* t);
void bn_install_dot_avx512(struct bn_kernel_table* t);
void bn_install_dot_neon(struct bn_kernel_table* t);

/* The variants themselves, for tests. */
#define BN_FORWARD_VARIANT_DECL(isa)                                                                            \
    void bn_rmsnorm_f32_##isa(const float* x, const float* weight, int64_t n, float eps, float* out);          \
    void bn_rope_f32_##isa(float* x, const float* cos, const float* sin, int64_t half);                        \
    void bn_softmax_f32_##isa(float* x, int64_t n);                                                            \
    void bn_add_f32_##isa(float* x, const float* y, int64_t n);                                                \
    void bn_relu2_mul_f32_##isa(const float* gate, const float* up, int64_t n, float* out);                    \
    void bn_silu_mul_f32_##isa(const float* gate, const float* up, int64_t n, float* out);                     \
    void bn_cvt_f16_f32_##isa(const uint16_t* src, int64_t n, float* dst);                                     \
    void bn_cvt_bf16_f32_##isa(const uint16_t* src, int64_t n, float* dst);                                    \
    float bn_dot_f32_##isa(const float* x, const float* y, int64_t n);                                         \
    float bn_dot_f16_##isa(const float* x, const uint16_t* y, int64_t n);                                      \
    float bn_dot_bf16_##isa(const float* x, const uint16_t* y, int64_t n);                                     \
    float bn_dot_q8_0_##isa(const float* x, const void* y, int64_t n);                                         \
    float bn_dot_q6_k_##isa(const float* x, const void* y, int64_t n);                                         \
    float bn_dot_q4_k_##isa(const float* x, const void* y, int64_t n);                                         \
    void bn_axpy_f32_##isa(float a, const float* x, int64_t n, float* y);                                      \
    void bn_axpy_f16_##isa(float a, const uint16_t* x, int64_t n, float* y);
BN_FORWARD_VARIANT_DECL(scalar)
BN_FORWARD_VARIANT_DECL(avx2)
BN_FORWARD_VARIANT_DECL(avx512)
BN_FORWARD_VARIANT_DECL(neon)
#undef BN_FORWARD_VARIANT_DECL

#endif
