/* ggml Q6_K (type 14): super-blocks of 256 values in 210 bytes {uint8 ql[128]; uint8 qh[64]; int8 scales[16];
 * fp16 d}. Sixteen groups of 16 values each get a signed 8-bit scale; a value is (d * scale) * (code - 32) with
 * a 6-bit code. Written from ggml's quantize_row_q6_K_ref / make_qx_quants (rmse_type 1: weights x², a search
 * over 18 nearby inverse scales) and dequantize_row_q6_K.
 *
 * Code placement within each half of 128 values (ql += 64, qh += 32 per half), for l in 0..31:
 *   value l      : low nibble of ql[l],      bits 0-1 of qh[l]
 *   value l + 32 : low nibble of ql[l + 32], bits 2-3 of qh[l]
 *   value l + 64 : high nibble of ql[l],     bits 4-5 of qh[l]
 *   value l + 96 : high nibble of ql[l + 32], bits 6-7 of qh[l] */
#include <math.h>
#include <string.h>

#include "bitnet.h"
#include "kernels/forward_ops.h"
#include "quant/ggml_blocks.h"

#define GROUP_MAX_EPS 1e-15f

/* ggml's nearest_int: round half to even through the float mantissa (|v| <= 2^22). */
static int nearest_int(float v) {
    float f = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return (i & 0x007FFFFF) - 0x00400000;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* make_qx_quants(n, nmax, x, L, rmse_type = 1, qw = NULL): the scale of one group, its codes L (0..2*nmax-1). */
static float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = -nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0.0f;
        for (int i = 0; i < n; i++) {
            const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

// x (n) -> dst (n/256 blocks)
void bn_q6_k_quantize_row_ref(const float* x, int64_t n, uint8_t* dst) {
    for (int64_t b = 0; b < n; b += BN_Q6_K_BLOCK, x += BN_Q6_K_BLOCK, dst += BN_Q6_K_BYTES) {
        int8_t L[BN_Q6_K_BLOCK];
        float scales[16];
        float max_scale = 0.0f, max_abs_scale = 0.0f;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            if (fabsf(scales[ib]) > max_abs_scale) {
                max_abs_scale = fabsf(scales[ib]);
                max_scale = scales[ib];
            }
        }
        memset(dst, 0, BN_Q6_K_BYTES);
        if (max_abs_scale < GROUP_MAX_EPS) continue; /* all zero, d = +0 */
        const float iscale = -128.0f / max_scale;
        const uint16_t dh = bn_fp32_to_fp16(1.0f / iscale);
        memcpy(dst + BN_Q6_K_D, &dh, sizeof dh);
        int8_t* sc = (int8_t*)(dst + BN_Q6_K_SCALES);
        for (int ib = 0; ib < 16; ib++) {
            const int v = nearest_int(iscale * scales[ib]);
            sc[ib] = (int8_t)(v < 127 ? v : 127);
        }
        const float dd = bn_fp16_to_fp32(dh);
        for (int j = 0; j < 16; j++) {
            const float d = dd * (float)sc[j];
            if (d == 0.0f) continue; /* keeps make_qx_quants' codes, as ggml does */
            for (int ii = 0; ii < 16; ii++) L[16 * j + ii] = (int8_t)(clampi(nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
        }
        uint8_t* ql = dst + BN_Q6_K_QL;
        uint8_t* qh = dst + BN_Q6_K_QH;
        for (int j = 0; j < BN_Q6_K_BLOCK; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                const uint8_t c0 = (uint8_t)L[j + l], c1 = (uint8_t)L[j + l + 32], c2 = (uint8_t)L[j + l + 64],
                              c3 = (uint8_t)L[j + l + 96];
                ql[l] = (uint8_t)((c0 & 0xF) | ((c2 & 0xF) << 4));
                ql[l + 32] = (uint8_t)((c1 & 0xF) | ((c3 & 0xF) << 4));
                qh[l] = (uint8_t)((c0 >> 4) | ((c1 >> 4) << 2) | ((c2 >> 4) << 4) | ((c3 >> 4) << 6));
            }
        }
    }
}

// src (n/256 blocks) -> dst (n)
void bn_q6_k_dequantize_row(const uint8_t* src, int64_t n, float* dst) {
    for (int64_t b = 0; b < n; b += BN_Q6_K_BLOCK, src += BN_Q6_K_BYTES) {
        uint16_t dh;
        memcpy(&dh, src + BN_Q6_K_D, sizeof dh);
        const float d = bn_fp16_to_fp32(dh);
        const int8_t* sc = (const int8_t*)(src + BN_Q6_K_SCALES);
        for (int h = 0; h < 2; h++) {
            const uint8_t* ql = src + BN_Q6_K_QL + 64 * h;
            const uint8_t* qh = src + BN_Q6_K_QH + 32 * h;
            float* y = dst + b + 128 * h;
            for (int l = 0; l < 32; l++) {
                const int is = 8 * h + l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}
