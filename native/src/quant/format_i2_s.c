/* BN_FORMAT_I2_S_X86 and BN_FORMAT_I2_S_ARM: bitnet.cpp's I2_S (microsoft/BitNet src/ggml-bitnet-mad.cpp,
 * quantize_i2_s; GGML_TYPE_I2_S = 36 in its llama.cpp fork, whose ggml.c sizes a tensor as n/4 + 32 bytes).
 * The tensor is taken as one flat run of n = rows*cols codes c = code + 1 (0, 1, 2), cut into blocks of QK
 * weights, QK = 128 in x86 builds (QK_I2_S under __AVX__/__AVX2__/__AVX512F__/__SSSE3__, with the ACT_PARALLEL
 * layout that include/gemm-config.h selects) and 64 in ARM NEON builds. Block k is QK/4 bytes at k*QK/4;
 * its byte j (j < QK/4, G = QK/4) is
 *     c[kQK + j] << 6 | c[kQK + G + j] << 4 | c[kQK + 2G + j] << 2 | c[kQK + 3G + j]
 * (the first quarter in the high bits). After the n/4 code bytes come 32 bytes: the fp32 tensor scale
 * (little-endian) at byte n/4, then 28 bytes that quantize_i2_s never writes (its Python converters write
 * zeros; so do we, and we ignore them when reading). w = code * scale.
 * quantize_i2_s itself: scale = max|w| (in double, stored as float), c = 1 where |w| < 1e-6, else 2 for w > 0
 * and 0 for w < 0. Since the two builds disagree on QK and a GGUF does not record which one wrote it, the
 * two layouts are two rows of the table and bn_format_convert moves between them. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "quant/format.h"

#define I2S_EXTRA 32

static void put_f32(uint8_t* p, float v) {
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(b >> (8 * i));
}

static float get_f32(const uint8_t* p) {
    uint32_t b = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* codes of one block (qk of them) -> qk/4 bytes; fields are c = code + 1 */
static void encode_fields(const uint8_t* c, int qk, uint8_t* out) {
    const int g = qk / 4;
    for (int j = 0; j < g; j++)
        out[j] = (uint8_t)(c[j] << 6 | c[g + j] << 4 | c[2 * g + j] << 2 | c[3 * g + j]);
}

static void write_tail(uint8_t* tail, float scale) {
    memset(tail, 0, I2S_EXTRA);
    put_f32(tail, scale);
}

static void pack_qk(int qk, const int8_t* codes, int64_t n, const float* scales, uint8_t* dst) {
    uint8_t c[128];
    int any = 0;
    for (int64_t k = 0; k < n / qk; k++) {
        for (int i = 0; i < qk; i++) {
            c[i] = bn_field_from_code(codes[k * qk + i]);
            any |= codes[k * qk + i] != 0;
        }
        encode_fields(c, qk, dst + k * (qk / 4));
    }
    /* quantize_i2_s stores max|w|: the scale when a code is nonzero, else 0 */
    write_tail(dst + n / 4, any ? scales[0] : 0.0f);
}

static bn_status unpack_qk(int qk, const char* fn, const char* name, const uint8_t* src, int64_t n, int8_t* codes,
                           float* scales) {
    const int g = qk / 4;
    for (int64_t k = 0; k < n / qk; k++)
        for (int j = 0; j < g; j++) {
            const uint8_t byte = src[k * g + j];
            for (int quarter = 0; quarter < 4; quarter++) {
                const uint8_t f = (byte >> (6 - 2 * quarter)) & 3u;
                if (f == 3)
                    return bn_fail(BN_ERR_FORMAT, "%s: %s byte %lld holds the 2-bit code 3 in bits %d..%d", fn, name,
                                   (long long)(k * g + j), 6 - 2 * quarter, 7 - 2 * quarter);
                codes[k * qk + quarter * g + j] = bn_code_from_field(f);
            }
        }
    const float scale = get_f32(src + n / 4);
    if (!isfinite(scale))
        return bn_fail(BN_ERR_NUMERIC, "%s: %s tensor scale (byte %lld) is %g", fn, name, (long long)(n / 4),
                       (double)scale);
    if (scale < 0.0f)
        return bn_fail(BN_ERR_FORMAT, "%s: %s tensor scale (byte %lld) is negative (%g); quantize_i2_s writes max|w|",
                       fn, name, (long long)(n / 4), (double)scale);
    scales[0] = scale;
    return BN_OK;
}

static bn_status quantize_qk(int qk, const float* w, int64_t n, uint8_t* dst) {
    /* max|w| in float, then widened: the same value as bitnet.cpp's max in double (w is finite and |w| widens
     * exactly); written this way because aarch64 gcc 12 -O3 crashes vectorising the fmax-in-double loop */
    float fmax_abs = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        const float a = fabsf(w[i]);
        if (a > fmax_abs) fmax_abs = a;
    }
    const double max = (double)fmax_abs;
    uint8_t c[128];
    for (int64_t k = 0; k < n / qk; k++) {
        for (int i = 0; i < qk; i++) {
            const double v = (double)w[k * qk + i];
            c[i] = fabs(v) < 1e-6 ? 1 : (v * max > 0 ? 2 : 0);
        }
        encode_fields(c, qk, dst + k * (qk / 4));
    }
    write_tail(dst + n / 4, (float)max);
    return BN_OK;
}

static void pack_x86(const int8_t* codes, int64_t rows, int64_t cols, const float* scales, int64_t n_scales,
                     uint8_t* dst) {
    (void)n_scales;
    pack_qk(128, codes, rows * cols, scales, dst);
}
static void pack_arm(const int8_t* codes, int64_t rows, int64_t cols, const float* scales, int64_t n_scales,
                     uint8_t* dst) {
    (void)n_scales;
    pack_qk(64, codes, rows * cols, scales, dst);
}
static bn_status unpack_x86(const char* fn, const uint8_t* src, int64_t rows, int64_t cols, int8_t* codes,
                            float* scales) {
    return unpack_qk(128, fn, "I2_S_X86", src, rows * cols, codes, scales);
}
static bn_status unpack_arm(const char* fn, const uint8_t* src, int64_t rows, int64_t cols, int8_t* codes,
                            float* scales) {
    return unpack_qk(64, fn, "I2_S_ARM", src, rows * cols, codes, scales);
}
static bn_status quantize_x86(const char* fn, const float* w, int64_t rows, int64_t cols, uint8_t* dst) {
    (void)fn;
    return quantize_qk(128, w, rows * cols, dst);
}
static bn_status quantize_arm(const char* fn, const float* w, int64_t rows, int64_t cols, uint8_t* dst) {
    (void)fn;
    return quantize_qk(64, w, rows * cols, dst);
}

const bn_format_traits bn_format_i2_s_x86 = {
    .id = BN_FORMAT_I2_S_X86,
    .name = "I2_S_X86",
    .block_size = 128,
    .block_bytes = 32,
    .ggml_type = 36,
    .scale_kind = BN_SCALE_PER_TENSOR,
    .row_multiple = 1,
    .col_multiple = 128,
    .tensor_extra_bytes = I2S_EXTRA,
    .ternary = 1,
    .pack = pack_x86,
    .unpack = unpack_x86,
    .scale_ok = NULL,
    .quantize = quantize_x86,
};

const bn_format_traits bn_format_i2_s_arm = {
    .id = BN_FORMAT_I2_S_ARM,
    .name = "I2_S_ARM",
    .block_size = 64,
    .block_bytes = 16,
    .ggml_type = 36,
    .scale_kind = BN_SCALE_PER_TENSOR,
    .row_multiple = 1,
    .col_multiple = 64,
    .tensor_extra_bytes = I2S_EXTRA,
    .ternary = 1,
    .pack = pack_arm,
    .unpack = unpack_arm,
    .scale_ok = NULL,
    .quantize = quantize_arm,
};
