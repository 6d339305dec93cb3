/* Ternary x int8 matmul over the TQ1 layout (BN_TLAYOUT_TQ1): block encode/decode and the scalar reference
 * kernels, the definition of correct for every vector version (tmatmul_tq1_<isa>.c). Checks, threading and the
 * public entry points are kernels/tmatmul.c's, shared with I2_S.
 *
 * Layout: ggml's block_tq1_0 (ggml/src/ggml-common.h; quantize_row_tq1_0_ref / dequantize_row_tq1_0 in
 * ggml-quants.c), as llama.cpp writes it into a GGUF. A row of K weights (K % 256 == 0) is K/256 blocks of 54
 * bytes, rows contiguous: qs[48], qh[4], fp16 d (little-endian) at byte 52. The trits are the codes c = w + 1 in
 * {0, 1, 2}, five to a byte in qs and four in qh. A byte holds its trits t_0..t_4 (t_4 = 0 in qh) as
 * v = sum_n t_n 3^(4-n), stored as ceil(v * 256 / 243); trit n comes back as
 *     t_n = ((uint8_t)(byte * 3^n) * 3) >> 8                                      (ggml's decode)
 * which every byte value decodes to 0, 1 or 2, including the 13 that no encoder writes. Which weights share a
 * byte (ggml's index arithmetic; quant/format_tq1_0.c is the same order):
 *     qs[m],      m = 0..31: trit n is weight       m + 32n,  n = 0..4   (weights   0..159)
 *     qs[32 + m], m = 0..15: trit n is weight 160 + m + 16n,  n = 0..4   (weights 160..239)
 *     qh[j],      j = 0..3:  trit n is weight 240 + j +  4n,  n = 0..3   (weights 240..255)
 * so trit n of a whole run of bytes is a run of consecutive weights, lined up with consecutive activations: that
 * is what the vector kernels decode (one multiply by 3^n per byte, then the top bits of 3 * product).
 *
 * Arithmetic: exactly I2_S's (kernels/tmatmul.c): d = sum_k c[k] * q[k] - q_sum in int32 (the subtraction on
 * uint32), y = (float)d * (w_scale / a). d of the block is ignored, so for the same ternary matrix the TQ1 and
 * I2_S results are the same bits. |sum c * q| <= 2 * 128 * K stays inside int32 for K <= 2^22.
 *
 * GEMM through I2_S panels. A TQ1 tile decodes each block once per tile of N <= 4 tokens, and the decode (two
 * 16-bit multiplies per 32 codes per trit on x86) costs more than the multiply-adds it feeds: a prefill GEMM ran at
 * ~0.55x the I2_S GEMM. So from T = BN_TQ1_PANEL_MIN_T tokens on, the vector variants convert a panel of rows
 * into I2_S bytes on the stack (bn_tq1_to_i2_<isa>: decode, then byte j of each 128-weight run packed as
 * c[j] << 6 | c[32+j] << 4 | c[64+j] << 2 | c[96+j]) and run their own instruction set's I2_S GEMM on it with all
 * T tokens: each block is decoded once per call, and the I2_S unpack (shifts and masks) is cheap. The int32 dot
 * and the float expression are the I2_S kernels', so y does not change by a bit. */
#include <string.h>

#include "kernels/kernels.h"

static const uint8_t g_pow3[5] = {1, 3, 9, 27, 81};

/* The three runs of bytes of a block: first byte, bytes, first weight, weight stride between trits, trits. */
static const struct tq1_segment {
    int byte0, bytes, weight0, stride, trits;
} g_segments[3] = {{0, 32, 0, 32, 5}, {32, 16, 160, 16, 5}, {48, 4, 240, 4, 4}};

void bn_tq1_encode_block(const uint8_t* codes, uint8_t* out) {
    for (int s = 0; s < 3; s++) {
        const struct tq1_segment* g = &g_segments[s];
        for (int m = 0; m < g->bytes; m++) {
            unsigned v = 0;
            for (int n = 0; n < 5; n++) /* a 4-trit byte ends in a 0 trit: ggml's "times 3" */
                v = v * 3u + (n < g->trits ? codes[g->weight0 + m + g->stride * n] : 0u);
            out[g->byte0 + m] = (uint8_t)((v * 256u + 242u) / 243u);
        }
    }
    out[52] = 0x00, out[53] = 0x3C; /* d = 1.0 in fp16, little-endian; the kernels do not read it */
}

void bn_tq1_decode_block(const uint8_t* in, uint8_t* codes) {
    for (int s = 0; s < 3; s++) {
        const struct tq1_segment* g = &g_segments[s];
        for (int m = 0; m < g->bytes; m++)
            for (int n = 0; n < g->trits; n++)
                codes[g->weight0 + m + g->stride * n] = (uint8_t)(((uint8_t)(in[g->byte0 + m] * g_pow3[n]) * 3u) >> 8);
    }
}

/* bn_tq1_to_i2_fn, the reference: decode a block (bn_tq1_decode_block), then pack each 128-code half as I2_S. */
void bn_tq1_to_i2_scalar(const uint8_t* w, int64_t K, int64_t rows, uint8_t* out) {
    const int64_t nb = K / BN_TQ1_BLOCK;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t b = 0; b < nb; b++, w += BN_TQ1_BLOCK_BYTES, out += 64) {
            uint8_t c[BN_TQ1_BLOCK];
            bn_tq1_decode_block(w, c);
            for (int h = 0; h < 2; h++)
                for (int j = 0; j < 32; j++) {
                    const uint8_t* ch = c + 128 * h;
                    out[32 * h + j] = (uint8_t)(ch[j] << 6 | ch[32 + j] << 4 | ch[64 + j] << 2 | ch[96 + j]);
                }
        }
}

int bn_tmatmul_tq1_gemm_panels(bn_tq1_to_i2_fn* to_i2, bn_tmatmul_i2_gemm_fn* i2_gemm, const uint8_t* w,
                                int64_t K, int64_t r0, int64_t r1, const int8_t* q, const int32_t* q_sum,
                                const float* a, float w_scale, int64_t T, float* y, int64_t ldy) {
    /* 16 rows a panel (a multiple of every I2_S tile's row block, so that only a matrix's last rows take the
     * single-row tiles): 10 KiB at K = 2560, 27 KiB at K = 6912, which stay in L1 while the I2_S kernel passes
     * all T tokens over them. Filling the buffer instead (48 rows at K = 2560) measured the same. */
    const int64_t row_bytes = BN_TQ1_ROW_BYTES(K);
    if (T < BN_TQ1_PANEL_MIN_T || BN_TQ1_PANEL_ROWS * (K / 4) > BN_TQ1_PANEL_BYTES) return 0;
    _Alignas(64) uint8_t panel[BN_TQ1_PANEL_BYTES];
    for (int64_t r = r0; r < r1; r += BN_TQ1_PANEL_ROWS) {
        const int64_t n = r1 - r < BN_TQ1_PANEL_ROWS ? r1 - r : BN_TQ1_PANEL_ROWS;
        to_i2(w + r * row_bytes, K, n, panel);
        i2_gemm(panel, K, 0, n, q, q_sum, a, w_scale, T, y + r, ldy);
    }
    return 1;
}

/* sum_k c[k] * q[k] over one TQ1 row of K weights. */
static int32_t dot_codes_tq1(const uint8_t* w, const int8_t* q, int64_t K) {
    int32_t acc = 0;
    uint8_t c[BN_TQ1_BLOCK];
    for (int64_t b = 0; b < K; b += BN_TQ1_BLOCK, w += BN_TQ1_BLOCK_BYTES, q += BN_TQ1_BLOCK) {
        bn_tq1_decode_block(w, c);
        for (int k = 0; k < BN_TQ1_BLOCK; k++) acc += c[k] * q[k];
    }
    return acc;
}

/* kernels/tmatmul.c's finish(): the same expression, so the layouts round alike. */
static float finish(int32_t dot, int32_t q_sum, float scale) {
    return (float)(int32_t)((uint32_t)dot - (uint32_t)q_sum) * scale;
}

void bn_tmatmul_tq1_gemv_scalar(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                                int32_t q_sum, float a, float w_scale, float* y) {
    const float scale = w_scale / a;
    const int64_t row_bytes = BN_TQ1_ROW_BYTES(K);
    for (int64_t r = r0; r < r1; r++) y[r] = finish(dot_codes_tq1(w + r * row_bytes, q, K), q_sum, scale);
}

void bn_tmatmul_tq1_gemm_scalar(const uint8_t* w, int64_t K, int64_t r0, int64_t r1, const int8_t* q,
                                const int32_t* q_sum, const float* a, float w_scale, int64_t T, float* y,
                                int64_t ldy) {
    const int64_t row_bytes = BN_TQ1_ROW_BYTES(K);
    for (int64_t t = 0; t < T; t++) {
        const float scale = w_scale / a[t];
        for (int64_t r = r0; r < r1; r++)
            y[t * ldy + r] = finish(dot_codes_tq1(w + r * row_bytes, q + t * K, K), q_sum[t], scale);
    }
}

void bn_install_tmatmul_tq1_scalar(bn_kernel_table* t) {
    t->tmatmul_tq1_gemv = bn_tmatmul_tq1_gemv_scalar;
    t->tmatmul_tq1_gemv_impl = "scalar";
    t->tmatmul_tq1_gemm = bn_tmatmul_tq1_gemm_scalar;
    t->tmatmul_tq1_gemm_impl = "scalar";
}
