/* Internal: integer dot products of K-quant weight rows with activations quantized to ggml's Q8_K, the
 * arithmetic of llama.cpp's LM head (ggml_vec_dot_q6_K_q8_K): the activation row is rounded to 8 bits once per
 * token, so each weight block costs integer multiply-adds instead of a dequantization and float FMAs.
 * kernels.h includes this file and adds BN_DOT_Q8_K_KERNEL_OPS to its op list.
 *
 * Q8_K (ggml's block_q8_K, quantize_row_q8_K_ref), per block of 256 values x[0..256):
 *   max   = the first x[j] of largest |x[j]| (0 for an all-zero block: then d = 0, qs = 0, bsums = 0)
 *   iscale = -127.0f / max,  qs[j] = min(127, rne(iscale * x[j])),  d = 1.0f / iscale   (x ~ d * qs)
 *   bsums[k] = sum of qs[16k .. 16k+16)
 * The sign flip makes qs of the extreme element -127; every qs lies in [-127, 127].
 *
 * dot_q6_k_q8_k: w (n/256 block_q6_K), q (n/256 Q8_K blocks) -> float. Every version computes, per block i, the
 * exact integer
 *   isum_i = sum_{k<16} scales[k] * sum_{l<16} (code[16k+l] - 32) * qs[16k+l]        (|isum_i| < 2^28)
 * (vector versions as sum_k scales[k] * (dot(code, qs) - 32 * bsums[k]), equal because bsums are the sums
 * of qs), and then the one float step of bn_q8_k_step in block order. So every version returns the same float
 * bits as the scalar one. */
#ifndef BN_KERNELS_DOT_Q8_K_H
#define BN_KERNELS_DOT_Q8_K_H

#include <stdint.h>

#define BN_Q8_K_BLOCK 256

typedef struct bn_block_q8_k {
    float d;
    int8_t qs[BN_Q8_K_BLOCK];
    int16_t bsums[BN_Q8_K_BLOCK / 16];
} bn_block_q8_k;

/* x (n) -> y (n/256 blocks), n a multiple of 256: the definition above. Returns 0, or 1 when x holds a NaN or
 * infinity (then y is unspecified). One row per token is cheap next to the weight rows it is dotted with, so
 * there is one (scalar) version. */
int bn_quantize_row_q8_k(const float* x, int64_t n, bn_block_q8_k* y);

/* acc + (d6 * d8) * isum, rounded as written: each product in its own statement, so no compiler contracts the
 * step into an FMA in one file and not in another. */
static inline float bn_q8_k_step(float acc, float d6, float d8, int32_t isum) {
    const float d = d6 * d8;
    const float p = d * (float)isum;
    return acc + p;
}

/* The vector dots prefetch the weight bytes BN_Q6_K_PREFETCH_BYTES past each block they read (four lines per
 * 210-byte block, spread through the computation). The LM head reads its 269 MB table once per decode step, and a
 * core keeps enough lines in flight only this way: 1 thread 29 -> 38 GB/s of a 41 GB/s read, 2 threads 42-44 -> 50-55
 * GB/s (bitnet-bench lmhead, Zen 5), where the head used to prefetch each whole row 8 rows ahead in one burst. A
 * prefetch past the end of the table is harmless (prefetches never fault). */
#define BN_Q6_K_PREFETCH_BYTES 16384
#if defined(__GNUC__)
static inline void bn_q6_k_prefetch(const void* blk) {
    const char* p = (const char*)blk + BN_Q6_K_PREFETCH_BYTES;
    __builtin_prefetch(p, 0, 3), __builtin_prefetch(p + 64, 0, 3);
    __builtin_prefetch(p + 128, 0, 3), __builtin_prefetch(p + 192, 0, 3);
}
#else
static inline void bn_q6_k_prefetch(const void* blk) { (void)blk; }
#endif

typedef float bn_dot_q6_k_q8_k_fn(const void* w, const bn_block_q8_k* q, int64_t n);

/* dot_q6_k_q8_k_x4: one weight row with nt (1..4) tokens, token t's Q8_K row at q + t * q_stride (blocks) ->
 * out[t], each bit-identical to dot_q6_k_q8_k(w, q + t * q_stride, n). Vector versions unpack each weight block
 * once for four tokens (the LM head of a batch, or of an all-logits prefill); nt < 4 is their single dot nt times. */
typedef void bn_dot_q6_k_q8_k_x4_fn(const void* w, const bn_block_q8_k* q, int64_t q_stride, int32_t nt, int64_t n,
                                    float* out);

/* The vector x4 dots' nt != 4 case: `single` (the file's own single dot) nt times. Returns 1 when it served the call,
 * 0 for nt == 4. */
static inline int bn_dot_q6_k_q8_k_x4_singles(const void* w, const bn_block_q8_k* q, int64_t q_stride, int32_t nt,
                                              int64_t n, float* out, bn_dot_q6_k_q8_k_fn* single) {
    if (nt == 4) return 0;
    for (int32_t t = 0; t < nt; t++) out[t] = single(w, q + t * q_stride, n);
    return 1;
}

#define BN_DOT_Q8_K_KERNEL_OPS(X) X(dot_q6_k_q8_k) X(dot_q6_k_q8_k_x4)

struct bn_kernel_table;
void bn_install_dot_q8_k_scalar(struct bn_kernel_table* t);
void bn_install_dot_q8_k_avx2(struct bn_kernel_table* t);
void bn_install_dot_q8_k_avxvnni(struct bn_kernel_table* t);
void bn_install_dot_q8_k_avx512(struct bn_kernel_table* t);
void bn_install_dot_q8_k_neon(struct bn_kernel_table* t);
void bn_install_dot_q8_k_dotprod(struct bn_kernel_table* t);

float bn_dot_q6_k_q8_k_scalar(const void* w, const bn_block_q8_k* q, int64_t n);
float bn_dot_q6_k_q8_k_avx2(const void* w, const bn_block_q8_k* q, int64_t n);
float bn_dot_q6_k_q8_k_avxvnni(const void* w, const bn_block_q8_k* q, int64_t n);
float bn_dot_q6_k_q8_k_avx512(const void* w, const bn_block_q8_k* q, int64_t n);
float bn_dot_q6_k_q8_k_neon(const void* w, const bn_block_q8_k* q, int64_t n);
float bn_dot_q6_k_q8_k_dotprod(const void* w, const bn_block_q8_k* q, int64_t n);
#define BN_DOT_Q6_K_Q8_K_X4_DECL(isa)                                                                           \
    void bn_dot_q6_k_q8_k_x4_##isa(const void* w, const bn_block_q8_k* q, int64_t q_stride, int32_t nt,         \
                                   int64_t n, float* out);
BN_DOT_Q6_K_Q8_K_X4_DECL(scalar)
BN_DOT_Q6_K_Q8_K_X4_DECL(avx2)
BN_DOT_Q6_K_Q8_K_X4_DECL(avxvnni)
BN_DOT_Q6_K_Q8_K_X4_DECL(avx512)
BN_DOT_Q6_K_Q8_K_X4_DECL(neon)
BN_DOT_Q6_K_Q8_K_X4_DECL(dotprod)
#undef BN_DOT_Q6_K_Q8_K_X4_DECL

#endif
