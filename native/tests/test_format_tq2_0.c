/* BN_FORMAT_TQ2_0 (quant/format_tq2_0.c) against an independent reference written here from ggml's
 * quantize_row_tq2_0_ref and dequantize_row_tq2_0 (ggml-org/llama.cpp ggml/src/ggml-quants.c) and its
 * block_tq2_0 {uint8_t qs[64]; ggml_half d;} (ggml/src/ggml-common.h). */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

enum { QK = 256, BLOCK_BYTES = 66 };

/* ggml's quantize_row_tq2_0_ref, loop for loop: x advances 4*32 floats per 32 bytes of qs. */
static void ref_quantize(const float* x, uint8_t* y, int64_t k) {
    for (int64_t i = 0; i < k / QK; i++, y += BLOCK_BYTES) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        const float d = amax;
        const float id = d ? 1.0f / d : 0.0f;
        const uint16_t h = bn_fp32_to_fp16(d);
        for (size_t j = 0; j < 64; j += 32) {
            for (size_t m = 0; m < 32; ++m) {
                uint8_t q = 0;
                for (size_t n = 0; n < 4; ++n) {
                    int xi = (int)lroundf(x[m + n * 32] * id) + 1;
                    q += (uint8_t)((xi & 3) << (2 * n));
                }
                y[j + m] = q;
            }
            x += 4 * 32;
        }
        y[64] = (uint8_t)(h & 0xFF), y[65] = (uint8_t)(h >> 8); /* ggml_half, little-endian */
    }
}

/* ggml's dequantize_row_tq2_0. */
static void ref_dequantize(const uint8_t* x, float* y, int64_t k) {
    for (int64_t i = 0; i < k / QK; i++, x += BLOCK_BYTES) {
        const float d = bn_fp16_to_fp32((uint16_t)(x[64] | x[65] << 8));
        for (size_t j = 0; j < 64; j += 32)
            for (size_t l = 0; l < 4; ++l)
                for (size_t m = 0; m < 32; ++m) {
                    int8_t q = (int8_t)((x[j + m] >> (l * 2)) & 3);
                    *y++ = (float)(q - 1) * d;
                }
    }
}

#define BN_TQ_FORMAT BN_FORMAT_TQ2_0
#include "format_tq_cases.h"

BN_TEST(from_floats_equals_ggml_reference) { tq_from_floats_equals_ggml_reference(); }
BN_TEST(codes_and_scale_equal_ggml_on_their_floats) { tq_codes_and_scale_equal_ggml_on_their_floats(); }
BN_TEST(round_trip_is_identity) { tq_round_trip_is_identity(); }

BN_TEST(bad_bytes_and_scales) {
    int8_t q[512] = {0};
    uint8_t p[2 * BLOCK_BYTES];
    float d[2], s = 0.5f;
    q[300] = 1;
    BN_CHECK_OK(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 512, &s, 1, p, sizeof p));
    p[BLOCK_BYTES + 5] |= 0xC0; /* a 2-bit field of 3 in block 1, byte 5, bits 6..7 */
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_TQ2_0, p, sizeof p, 1, 512, q, 512, d, 2), BN_ERR_FORMAT);
    BN_CHECK_MSG(strstr(bn_last_error(), "block 1 byte 5") && strstr(bn_last_error(), "bits 6..7"), "%s",
                 bn_last_error());
    p[BLOCK_BYTES + 5] &= 0x3F;
    p[BLOCK_BYTES + 65] = 0x7C, p[BLOCK_BYTES + 64] = 0x00; /* d = +infinity */
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_TQ2_0, p, sizeof p, 1, 512, q, 512, d, 2), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "block 1") != NULL);
    float w[256];
    for (int i = 0; i < 256; i++) w[i] = 1.0f;
    w[17] = -70000.0f; /* a block max beyond fp16: ggml would store d = inf */
    BN_CHECK_STATUS(bn_format_quantize(BN_FORMAT_TQ2_0, w, 1, 256, p, sizeof p), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "block 0") != NULL);
    s = 65520.0f; /* rounds to an infinite fp16 d */
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 512, &s, 1, p, sizeof p), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "fp16") != NULL);
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ2_0, q, 1, 300, &s, 1, p, sizeof p), BN_ERR_SHAPE);
    BN_CHECK_MSG(strstr(bn_last_error(), "multiple of its block (256); cols is 300") != NULL, "%s", bn_last_error());
}
