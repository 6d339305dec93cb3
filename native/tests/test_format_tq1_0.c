/* BN_FORMAT_TQ1_0 (quant/format_tq1_0.c) against an independent reference written here from ggml's
 * quantize_row_tq1_0_ref and dequantize_row_tq1_0 (ggml-org/llama.cpp ggml/src/ggml-quants.c) and its
 * block_tq1_0 {uint8_t qs[48]; uint8_t qh[4]; ggml_half d;} (ggml/src/ggml-common.h). */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

enum { QK = 256, BLOCK_BYTES = 54 };

/* ggml's quantize_row_tq1_0_ref, loop for loop: 32 bytes of 5 trits (stride 32), 16 bytes of 5 trits
 * (stride 16), then 4 bytes of 4 trits (stride 4) shifted up one trit; each v stored as ceil(v * 256 / 243). */
static void ref_quantize(const float* x, uint8_t* y, int64_t k) {
    for (int64_t i = 0; i < k / QK; i++, y += BLOCK_BYTES) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        const float d = amax;
        const float id = d ? 1.0f / d : 0.0f;
        const uint16_t h = bn_fp32_to_fp16(d);
        uint8_t* qs = y;      /* 48 bytes */
        uint8_t* qh = y + 48; /* 4 bytes */
        for (size_t j = 0; j < 48 - 48 % 32; j += 32) {
            for (size_t m = 0; m < 32; ++m) {
                uint8_t q = 0;
                for (size_t n = 0; n < 5; ++n) {
                    int xi = (int)lroundf(x[m + n * 32] * id) + 1;
                    q = (uint8_t)(q * 3 + xi);
                }
                qs[j + m] = (uint8_t)(((uint16_t)q * 256 + (243 - 1)) / 243);
            }
            x += 5 * 32;
        }
        for (size_t j = 48 - 48 % 32; j < 48; j += 16) {
            for (size_t m = 0; m < 16; ++m) {
                uint8_t q = 0;
                for (size_t n = 0; n < 5; ++n) {
                    int xi = (int)lroundf(x[m + n * 16] * id) + 1;
                    q = (uint8_t)(q * 3 + xi);
                }
                qs[j + m] = (uint8_t)(((uint16_t)q * 256 + (243 - 1)) / 243);
            }
            x += 5 * 16;
        }
        for (size_t j = 0; j < 4; ++j) {
            uint8_t q = 0;
            for (size_t m = 0; m < 4; ++m) {
                int xi = (int)lroundf(x[j + m * 4] * id) + 1;
                q = (uint8_t)(q * 3 + xi);
            }
            q = (uint8_t)(q * 3);
            qh[j] = (uint8_t)(((uint16_t)q * 256 + (243 - 1)) / 243);
        }
        x += 4 * 4;
        y[52] = (uint8_t)(h & 0xFF), y[53] = (uint8_t)(h >> 8); /* ggml_half, little-endian */
    }
}

/* ggml's dequantize_row_tq1_0: trit n of a byte is ((uint8)(byte * 3^n) * 3) >> 8. */
static void ref_dequantize(const uint8_t* x, float* y, int64_t k) {
    static const uint8_t pow3[6] = {1, 3, 9, 27, 81, 243};
    for (int64_t i = 0; i < k / QK; i++, x += BLOCK_BYTES) {
        const float d = bn_fp16_to_fp32((uint16_t)(x[52] | x[53] << 8));
        for (size_t j = 0; j < 32; j += 32)
            for (size_t n = 0; n < 5; ++n)
                for (size_t m = 0; m < 32; ++m) {
                    uint8_t q = (uint8_t)(x[j + m] * pow3[n]);
                    int16_t xi = (int16_t)(((uint16_t)q * 3) >> 8);
                    *y++ = (float)(xi - 1) * d;
                }
        for (size_t j = 32; j < 48; j += 16)
            for (size_t n = 0; n < 5; ++n)
                for (size_t m = 0; m < 16; ++m) {
                    uint8_t q = (uint8_t)(x[j + m] * pow3[n]);
                    int16_t xi = (int16_t)(((uint16_t)q * 3) >> 8);
                    *y++ = (float)(xi - 1) * d;
                }
        for (size_t n = 0; n < 4; ++n)
            for (size_t j = 0; j < 4; ++j) {
                uint8_t q = (uint8_t)(x[48 + j] * pow3[n]);
                int16_t xi = (int16_t)(((uint16_t)q * 3) >> 8);
                *y++ = (float)(xi - 1) * d;
            }
    }
}

#define BN_TQ_FORMAT BN_FORMAT_TQ1_0
#include "format_tq_cases.h"

BN_TEST(from_floats_equals_ggml_reference) { tq_from_floats_equals_ggml_reference(); }
BN_TEST(codes_and_scale_equal_ggml_on_their_floats) { tq_codes_and_scale_equal_ggml_on_their_floats(); }
BN_TEST(round_trip_is_identity) { tq_round_trip_is_identity(); }

/* TQ1_0 has no invalid trit (every byte decodes to trits 0..2, as in ggml), but 13 byte values are never
 * written; they decode as ggml decodes them. d must be finite, and fit fp16 when packing. */
BN_TEST(every_byte_decodes_as_ggml_does) {
    uint8_t p[BLOCK_BYTES];
    int8_t q[QK];
    float d, f[QK], want[QK];
    for (int v = 0; v < 256; v++) {
        memset(p, v, 52);
        p[52] = 0x00, p[53] = 0x3C; /* d = 1 */
        BN_CHECK_OK(bn_format_unpack(BN_FORMAT_TQ1_0, p, sizeof p, 1, QK, q, QK, &d, 1));
        BN_CHECK_OK(bn_format_dequantize(BN_FORMAT_TQ1_0, p, sizeof p, 1, QK, 0.0f, f, QK));
        ref_dequantize(p, want, QK);
        BN_CHECK_MSG(memcmp(f, want, sizeof f) == 0, "byte 0x%02x decodes differently", v);
        for (int i = 0; i < QK; i++) BN_CHECK(q[i] >= -1 && q[i] <= 1 && (float)q[i] == want[i]);
    }
}

BN_TEST(bad_bytes_and_scales) {
    int8_t q[512] = {0};
    uint8_t p[2 * BLOCK_BYTES];
    float d[2], s = 0.5f;
    q[300] = 1;
    BN_CHECK_OK(bn_format_pack(BN_FORMAT_TQ1_0, q, 1, 512, &s, 1, p, sizeof p));
    p[BLOCK_BYTES + 53] = 0x7E, p[BLOCK_BYTES + 52] = 0x00; /* d = NaN */
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_TQ1_0, p, sizeof p, 1, 512, q, 512, d, 2), BN_ERR_NUMERIC);
    BN_CHECK(strstr(bn_last_error(), "block 1") != NULL);
    float w[256];
    for (int i = 0; i < 256; i++) w[i] = 1.0f;
    w[17] = 1e6f;
    BN_CHECK_STATUS(bn_format_quantize(BN_FORMAT_TQ1_0, w, 1, 256, p, sizeof p), BN_ERR_NUMERIC);
    s = 1e5f;
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ1_0, q, 1, 512, &s, 1, p, sizeof p), BN_ERR_NUMERIC);
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_TQ1_0, q, 2, 128, &s, 1, p, sizeof p), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_TQ1_0, p, sizeof p - 1, 1, 512, q, 512, d, 2), BN_ERR_SHAPE);
    BN_CHECK(strstr(bn_last_error(), "src has 107 bytes") != NULL);
}
