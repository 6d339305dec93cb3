/* BN_FORMAT_HF_2B4T (quant/format_hf_2b4t.c): against a reference written here from HF transformers'
 * pack_weights / unpack_weights (src/transformers/integrations/bitnet.py), and against the packed fixture:
 * quantizing every master *_proj.weight of bitnet-tiny with the per-tensor absmean quantizer and packing it
 * must give exactly the bytes of the packed checkpoint, and bf16(1/s) its weight_scale. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

/* pack_weights: row_dim = rows/4; for i in 0..3: packed[0:row_dim] |= (W[i*row_dim : (i+1)*row_dim] + 1) << 2i */
static void ref_pack(const int8_t* w, int64_t rows, int64_t cols, uint8_t* packed) {
    const int64_t row_dim = (rows + 3) / 4;
    memset(packed, 0, (size_t)(row_dim * cols));
    for (int i = 0; i < 4; i++) {
        const int64_t start = i * row_dim, end = start + row_dim < rows ? start + row_dim : rows;
        for (int64_t r = 0; r < end - start; r++)
            for (int64_t c = 0; c < cols; c++)
                packed[r * cols + c] |= (uint8_t)((uint8_t)(w[(start + r) * cols + c] + 1) << (2 * i));
    }
}

/* unpack_weights: unpacked[i*row_dim + r] = ((packed[r] >> 2i) & 3) - 1 */
static void ref_unpack(const uint8_t* packed, int64_t rows, int64_t cols, int8_t* w) {
    const int64_t row_dim = rows / 4;
    for (int i = 0; i < 4; i++)
        for (int64_t r = 0; r < row_dim; r++)
            for (int64_t c = 0; c < cols; c++)
                w[(i * row_dim + r) * cols + c] = (int8_t)(((packed[r * cols + c] >> (2 * i)) & 3) - 1);
}

BN_TEST(round_trip_and_reference_on_awkward_shapes) {
    const int64_t shapes[][2] = {{4, 1}, {4, 3}, {8, 7}, {12, 255}, {20, 257}, {36, 33}, {256, 768}};
    uint64_t rng = 9;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        int64_t size, ns;
        BN_CHECK_OK(bn_format_packed_size(BN_FORMAT_HF_2B4T, rows, cols, &size));
        BN_CHECK_EQ_I64(size, n / 4);
        BN_CHECK_OK(bn_format_scale_count(BN_FORMAT_HF_2B4T, rows, cols, &ns));
        BN_CHECK_EQ_I64(ns, 0);
        int8_t *q = malloc((size_t)n), *back = malloc((size_t)n), *ref_back = malloc((size_t)n);
        uint8_t *want = malloc((size_t)size), *got = malloc((size_t)size);
        for (int64_t i = 0; i < n; i++) q[i] = (int8_t)((int)(bn_test_rand_u64(&rng) % 3) - 1);
        ref_pack(q, rows, cols, want);
        BN_CHECK_OK(bn_format_pack(BN_FORMAT_HF_2B4T, q, rows, cols, NULL, 0, got, size));
        BN_CHECK_MSG(memcmp(want, got, (size_t)size) == 0, "%lldx%lld: bytes differ", (long long)rows,
                     (long long)cols);
        BN_CHECK_OK(bn_format_unpack(BN_FORMAT_HF_2B4T, got, size, rows, cols, back, n, NULL, 0));
        ref_unpack(got, rows, cols, ref_back);
        BN_CHECK(memcmp(q, back, (size_t)n) == 0);
        BN_CHECK(memcmp(q, ref_back, (size_t)n) == 0);
        /* dequantize multiplies by the weight_scale the caller passes */
        float* f = malloc((size_t)n * sizeof *f);
        BN_CHECK_OK(bn_format_dequantize(BN_FORMAT_HF_2B4T, got, size, rows, cols, 0.5f, f, n));
        for (int64_t i = 0; i < n; i++) BN_CHECK(f[i] == 0.5f * (float)q[i]);
        free(q), free(back), free(ref_back), free(want), free(got), free(f);
    }
}

BN_TEST(bad_input) {
    int8_t q[24] = {0};
    uint8_t p[6];
    float f[24];
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_HF_2B4T, q, 6, 4, NULL, 0, p, sizeof p), BN_ERR_SHAPE);
    BN_CHECK_MSG(strstr(bn_last_error(), "HF_2B4T needs rows to be a multiple of 4; rows is 6"), "%s", bn_last_error());
    q[13] = 2;
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_HF_2B4T, q, 4, 6, NULL, 0, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "codes[13] = 2") != NULL);
    q[13] = 0;
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_HF_2B4T, q, 4, 6, NULL, 0, p, 5), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_format_pack(BN_FORMAT_HF_2B4T, q, 4, 6, NULL, 2, p, 6), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_OK(bn_format_pack(BN_FORMAT_HF_2B4T, q, 4, 6, NULL, 0, p, 6));
    p[4] = 0x0C; /* field 3 in bits 2..3 of byte [0, 4] */
    BN_CHECK_STATUS(bn_format_unpack(BN_FORMAT_HF_2B4T, p, 6, 4, 6, q, 24, NULL, 0), BN_ERR_FORMAT);
    BN_CHECK_MSG(strstr(bn_last_error(), "byte [0, 4]") && strstr(bn_last_error(), "bits 2..3"), "%s",
                 bn_last_error());
    p[4] = 0x55;
    BN_CHECK_STATUS(bn_format_dequantize(BN_FORMAT_HF_2B4T, p, 6, 4, 6, NAN, f, 24), BN_ERR_NUMERIC);
    BN_CHECK_STATUS(bn_format_dequantize(BN_FORMAT_HF_2B4T, p, 6, 4, 6, 1.0f, f, 23), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_format_quantize(BN_FORMAT_HF_2B4T, f, 4, 6, p, 6), BN_ERR_UNSUPPORTED);
    BN_CHECK(strstr(bn_last_error(), "bn_quantize_ternary_absmean") != NULL);
}

/* ---- a minimal safetensors reader: 8-byte little-endian header length, a JSON header, the data ---- */

typedef struct st_file {
    uint8_t* bytes;
    size_t size;
    const char* json; /* NUL-terminated copy of the header */
    size_t data_start;
} st_file;

typedef struct st_tensor {
    char dtype[8];
    int64_t shape[4];
    int rank;
    const uint8_t* data;
    size_t nbytes;
} st_tensor;

static int st_open(const char* path, st_file* f) {
    memset(f, 0, sizeof *f);
    FILE* fp = fopen(path, "rb");
    if (!fp) return 0;
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->bytes = malloc((size_t)size);
    f->size = (size_t)size;
    int ok = f->bytes && fread(f->bytes, 1, f->size, fp) == f->size && f->size >= 8;
    fclose(fp);
    if (!ok) return 0;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f->bytes[i];
    if (hlen > f->size - 8) return 0;
    char* json = malloc(hlen + 1);
    memcpy(json, f->bytes + 8, hlen);
    json[hlen] = '\0';
    f->json = json;
    f->data_start = 8 + hlen;
    return 1;
}

static void st_close(st_file* f) {
    free(f->bytes);
    free((void*)f->json);
}

static const char* skip_ws(const char* p) {
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
    return p;
}

/* Reads up to 4 integers of a JSON array at p ("[1, 2]"); returns how many, or -1. */
static int read_ints(const char* p, int64_t* out, int max) {
    p = skip_ws(p);
    if (*p++ != '[') return -1;
    int n = 0;
    for (;;) {
        p = skip_ws(p);
        if (*p == ']') return n;
        char* end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || n >= max) return -1;
        out[n++] = v;
        p = skip_ws(end);
        if (*p == ',') p++;
    }
}

/* The value of key inside the object that starts at obj (keys here are unique and simple). */
static const char* find_key(const char* obj, const char* obj_end, const char* key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    for (const char* p = strstr(obj, pat); p && p < obj_end; p = strstr(p + 1, pat)) {
        const char* q = skip_ws(p + strlen(pat));
        if (*q == ':') return skip_ws(q + 1);
    }
    return NULL;
}

static int st_get(const st_file* f, const char* name, st_tensor* t) {
    char pat[256];
    snprintf(pat, sizeof pat, "\"%s\"", name);
    const char* p = strstr(f->json, pat);
    if (!p) return 0;
    p = skip_ws(p + strlen(pat));
    if (*p != ':') return 0;
    const char* obj = skip_ws(p + 1);
    const char* obj_end = strchr(obj, '}');
    if (*obj != '{' || !obj_end) return 0;
    const char* dt = find_key(obj, obj_end, "dtype");
    const char* sh = find_key(obj, obj_end, "shape");
    const char* off = find_key(obj, obj_end, "data_offsets");
    int64_t offs[4];
    if (!dt || !sh || !off || *dt != '"' || read_ints(off, offs, 4) != 2) return 0;
    size_t len = strcspn(dt + 1, "\"");
    if (len >= sizeof t->dtype) return 0;
    memcpy(t->dtype, dt + 1, len);
    t->dtype[len] = '\0';
    t->rank = read_ints(sh, t->shape, 4);
    if (t->rank < 0 || offs[0] < 0 || offs[1] < offs[0] || f->data_start + (size_t)offs[1] > f->size) return 0;
    t->data = f->bytes + f->data_start + offs[0];
    t->nbytes = (size_t)(offs[1] - offs[0]);
    return 1;
}

BN_TEST(packed_fixture_equals_quantize_and_pack_of_master) {
    st_file master, packed;
    const char* dir = BN_FIXTURES_DIR "/bitnet-tiny";
    char path[512];
    snprintf(path, sizeof path, "%s/master/model.safetensors", dir);
    int have_master = st_open(path, &master);
    snprintf(path, sizeof path, "%s/packed/model.safetensors", dir);
    int have_packed = st_open(path, &packed);
    BN_CHECK_MSG(have_master && have_packed, "cannot read the bitnet-tiny fixture under %s", dir);
    if (!have_master || !have_packed) return;

    int tensors = 0, bytes_equal = 0, scales_equal = 0, scales_equal_mean = 0;
    int64_t bytes_total = 0, bytes_differing = 0;
    /* every master tensor whose name ends in _proj.weight, in header order */
    for (const char* p = strstr(master.json, "_proj.weight\""); p; p = strstr(p + 1, "_proj.weight\"")) {
        const char* start = p;
        while (start > master.json && start[-1] != '"') start--;
        char name[200];
        size_t len = (size_t)(p - start) + strlen("_proj.weight");
        BN_CHECK(len < sizeof name);
        if (len >= sizeof name) continue;
        memcpy(name, start, len);
        name[len] = '\0';
        st_tensor w, pw, ps;
        char scale_name[220];
        snprintf(scale_name, sizeof scale_name, "%s_scale", name);
        BN_CHECK_MSG(st_get(&master, name, &w), "master: %s", name);
        BN_CHECK_MSG(st_get(&packed, name, &pw), "packed: %s", name);
        BN_CHECK_MSG(st_get(&packed, scale_name, &ps), "packed: %s", scale_name);
        if (strcmp(w.dtype, "F32") || w.rank != 2 || strcmp(pw.dtype, "U8") || pw.rank != 2 ||
            strcmp(ps.dtype, "BF16") || ps.nbytes != 2) {
            bn_test_fail(__FILE__, __LINE__, "%s: unexpected dtypes/shapes %s/%s/%s", name, w.dtype, pw.dtype,
                         ps.dtype);
            continue;
        }
        const int64_t rows = w.shape[0], cols = w.shape[1], n = rows * cols;
        BN_CHECK_EQ_I64(pw.shape[0], rows / 4);
        BN_CHECK_EQ_I64(pw.shape[1], cols);
        float* wf = malloc((size_t)n * sizeof *wf);
        memcpy(wf, w.data, (size_t)n * sizeof *wf); /* little-endian F32, as our hosts */
        int8_t* q = malloc((size_t)n);
        float s;
        BN_CHECK_OK(bn_quantize_ternary_absmean(wf, rows, cols, BN_GRANULARITY_TENSOR, 0, q, n, &s, 1));
        int64_t size;
        BN_CHECK_OK(bn_format_packed_size(BN_FORMAT_HF_2B4T, rows, cols, &size));
        BN_CHECK_EQ_I64((int64_t)pw.nbytes, size);
        uint8_t* ours = malloc((size_t)size);
        const float scale = 1.0f / s; /* the dequantization scale: mean|W| */
        BN_CHECK_OK(bn_format_pack(BN_FORMAT_HF_2B4T, q, rows, cols, &scale, 1, ours, size));
        int64_t diff = 0;
        for (int64_t i = 0; i < size; i++) diff += ours[i] != pw.data[i];
        bytes_total += size, bytes_differing += diff;
        bytes_equal += diff == 0;
        const uint16_t stored = (uint16_t)(ps.data[0] | ps.data[1] << 8);
        scales_equal += bn_fp32_to_bf16(1.0f / s) == stored;
        double mean = 0;
        for (int64_t i = 0; i < n; i++) mean += fabs((double)wf[i]);
        scales_equal_mean += bn_fp32_to_bf16((float)(mean / (double)n)) == stored;
        BN_CHECK_MSG(diff == 0, "%s: %lld of %lld packed bytes differ", name, (long long)diff, (long long)size);
        BN_CHECK_MSG(bn_fp32_to_bf16(1.0f / s) == stored, "%s: bf16(1/s) = 0x%04x, weight_scale 0x%04x", name,
                     bn_fp32_to_bf16(1.0f / s), stored);
        tensors++;
        free(wf), free(q), free(ours);
    }
    printf("bitnet-tiny: %d *_proj.weight tensors; packed bytes equal in %d (%lld of %lld bytes differ); "
           "bf16(1/s) == weight_scale in %d, bf16(mean|W|) == weight_scale in %d\n",
           tensors, bytes_equal, (long long)bytes_differing, (long long)bytes_total, scales_equal,
           scales_equal_mean);
    BN_CHECK_EQ_I64(tensors, 14); /* 2 layers x (q, k, v, o, gate, up, down) */
    st_close(&master);
    st_close(&packed);
}
