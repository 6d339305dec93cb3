/* ggml Q6_K rows (quant/q6_k.c through bn_dtype_*): quantize_ref bytes against an independent implementation
 * written here from ggml's quantize_row_q6_K_ref / make_qx_quants (structured differently: codes are placed
 * by a per-element position formula, rounding by rintf), a hand-built block for the layout, and dequantize. */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

/* Where element e (0..255) of a block keeps its code: ql byte, nibble shift, qh byte, bit shift. */
static void position(int e, int* qlb, int* qls, int* qhb, int* qhs) {
    const int half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
    *qlb = 64 * half + l + (quarter % 2) * 32;
    *qls = (quarter / 2) * 4;
    *qhb = 128 + 32 * half + l;
    *qhs = 2 * quarter;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The group scale search of make_qx_quants(16, 32, x, L, rmse_type 1, NULL): candidate inverse scales
 * -(32 + 0.1*is)/max for is = 0, -9..9; weights x²; keep the first strictly better sumlx²/suml2. */
static float group_scale(const float* x, int* L) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < 16; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), max = x[i];
    if (amax < 1e-15f) {
        for (int i = 0; i < 16; i++) L[i] = 0;
        return 0.0f;
    }
    float best = 0.0f, scale = 0.0f;
    for (int c = 0; c < 19; c++) {
        const int is = c == 0 ? 0 : (c <= 9 ? c - 10 : c - 9);
        const float iscale = c == 0 ? -32 / max : -(32 + 0.1f * is) / max;
        float sumlx = 0.0f, suml2 = 0.0f;
        int cand[16];
        for (int i = 0; i < 16; i++) {
            cand[i] = clampi((int)rintf(iscale * x[i]), -32, 31);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * cand[i];
            suml2 += w * cand[i] * cand[i];
        }
        int take;
        if (c == 0) {
            scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
            best = scale * sumlx;
            take = 1;
        } else {
            take = suml2 > 0.0f && sumlx * sumlx > best * suml2;
            if (take) scale = sumlx / suml2, best = scale * sumlx;
        }
        if (take)
            for (int i = 0; i < 16; i++) L[i] = cand[i] + 32;
    }
    return scale;
}

static void ref_quantize_block(const float* x, uint8_t* out) {
    int L[256];
    float sc[16], max_scale = 0.0f, max_abs = 0.0f;
    for (int g = 0; g < 16; g++) {
        sc[g] = group_scale(x + 16 * g, L + 16 * g);
        if (fabsf(sc[g]) > max_abs) max_abs = fabsf(sc[g]), max_scale = sc[g];
    }
    memset(out, 0, 210);
    if (max_abs < 1e-15f) return;
    const float iscale = -128.0f / max_scale;
    const uint16_t dh = bn_fp32_to_fp16(1.0f / iscale);
    out[208] = (uint8_t)(dh & 0xFF), out[209] = (uint8_t)(dh >> 8);
    int8_t q8[16];
    for (int g = 0; g < 16; g++) {
        int v = (int)rintf(iscale * sc[g]);
        q8[g] = (int8_t)(v > 127 ? 127 : v);
        out[192 + g] = (uint8_t)q8[g];
    }
    for (int g = 0; g < 16; g++) {
        const float d = bn_fp16_to_fp32(dh) * q8[g];
        if (d == 0.0f) continue;
        for (int i = 0; i < 16; i++) L[16 * g + i] = clampi((int)rintf(x[16 * g + i] / d), -32, 31) + 32;
    }
    for (int e = 0; e < 256; e++) {
        int qlb, qls, qhb, qhs;
        position(e, &qlb, &qls, &qhb, &qhs);
        out[qlb] |= (uint8_t)((L[e] & 0xF) << qls);
        out[qhb] |= (uint8_t)((L[e] >> 4) << qhs);
    }
}

BN_TEST(quantize_ref_matches_independent_reference) {
    uint64_t rng = 606;
    enum { NB = 12 };
    float* x = malloc(256 * NB * sizeof *x);
    uint8_t got[210 * NB], want[210 * NB];
    for (int rep = 0; rep < 12; rep++) {
        for (int i = 0; i < 256 * NB; i++) {
            float s = (rep % 3 == 0) ? 1e-3f : (rep % 3 == 1) ? 50.0f : 1.0f;
            x[i] = bn_test_rand_float(&rng, -s, s);
            if (rep % 4 == 3) x[i] = x[i] * x[i] * x[i]; /* heavy-tailed groups */
        }
        for (int i = 0; i < 256; i++) x[256 + i] = 0.0f;   /* an all-zero block */
        for (int i = 0; i < 16; i++) x[512 + 16 * 3 + i] = 0.0f; /* one all-zero group */
        for (int i = 0; i < 16; i++) x[768 + i] = 1e-9f * (float)(i - 8); /* a group too small for its scale */
        for (int b = 0; b < NB; b++) ref_quantize_block(x + 256 * b, want + 210 * b);
        /* as 3 rows of 4 blocks and as one row of 12: the same bytes */
        BN_CHECK_OK(bn_dtype_quantize_ref(BN_DTYPE_Q6_K, x, 3, 1024, got, sizeof got));
        for (int b = 0; b < NB; b++)
            BN_CHECK_MSG(memcmp(got + 210 * b, want + 210 * b, 210) == 0, "rep %d block %d: bytes differ", rep, b);
        memset(got, 0xAA, sizeof got);
        BN_CHECK_OK(bn_dtype_quantize_ref(BN_DTYPE_Q6_K, x, 1, 256 * NB, got, sizeof got));
        BN_CHECK(memcmp(got, want, sizeof got) == 0);
    }
    free(x);
}

BN_TEST(layout_known_block) {
    uint8_t blk[210] = {0};
    blk[208] = 0x00, blk[209] = 0x3C; /* d = 1.0 */
    for (int g = 0; g < 16; g++) blk[192 + g] = (uint8_t)(int8_t)(g + 1);
    blk[5] = 0x3A;          /* element 5: low nibble 0xA; element 69: 0x3 */
    blk[37] = 0x7C;         /* element 37: 0xC; element 101: 0x7 */
    blk[128 + 5] = 0xE4;    /* high bits: element 5 -> 0, 37 -> 1, 69 -> 2, 101 -> 3 */
    blk[64 + 0] = 0x0F;     /* second half, element 128: low nibble 0xF, high bits 0 */
    float y[256];
    BN_CHECK_OK(bn_dtype_dequantize(BN_DTYPE_Q6_K, blk, 210, 1, 256, y));
    BN_CHECK(y[5] == 1.0f * (0x0A - 32));           /* group 0, scale 1 */
    BN_CHECK(y[37] == 3.0f * ((0x0C | 1 << 4) - 32)); /* group 2, scale 3 */
    BN_CHECK(y[69] == 5.0f * ((0x03 | 2 << 4) - 32)); /* group 4, scale 5 */
    BN_CHECK(y[101] == 7.0f * ((0x07 | 3 << 4) - 32)); /* group 6, scale 7 */
    BN_CHECK(y[128] == 9.0f * (0x0F - 32));         /* group 8, scale 9 */
    BN_CHECK(y[0] == 1.0f * -32);
    int64_t rb;
    BN_CHECK_OK(bn_dtype_row_size(BN_DTYPE_Q6_K, 2560, &rb));
    BN_CHECK_EQ_I64(rb, 2100);
    BN_CHECK_STATUS(bn_dtype_quantize_ref(BN_DTYPE_Q6_K, y, 1, 200, blk, 210), BN_ERR_SHAPE);
}

BN_TEST(round_trip_is_close) {
    uint64_t rng = 2;
    float x[512], y[512];
    uint8_t q[420];
    for (int i = 0; i < 512; i++) x[i] = bn_test_rand_float(&rng, -1.0f, 1.0f);
    BN_CHECK_OK(bn_dtype_quantize_ref(BN_DTYPE_Q6_K, x, 1, 512, q, sizeof q));
    BN_CHECK_OK(bn_dtype_dequantize(BN_DTYPE_Q6_K, q, sizeof q, 1, 512, y));
    double err = 0, ss = 0;
    for (int i = 0; i < 512; i++) err += (x[i] - y[i]) * (x[i] - y[i]), ss += x[i] * x[i];
    BN_CHECK_MSG(sqrt(err / ss) < 0.03, "relative rms error %g", sqrt(err / ss)); /* 6 bits: ~1% */
}
