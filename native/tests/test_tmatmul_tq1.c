/* Ternary x int8 matmul over BN_TLAYOUT_TQ1 (kernels/tmatmul_tq1*.c): the bytes equal ggml's TQ1_0 as the
 * format packer (quant/format_tq1_0.c) writes them, pack/unpack round-trip, the scalar reference against a dense
 * integer dot over codes that the format unpacker decodes, every vector variant this CPU runs against the scalar
 * reference bit for bit, TQ1 results equal to I2_S results for the same ternary matrix, threads, dispatch, and the
 * checks of the public entry points. */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"
#include "kernels/kernels.h"

#define BN_TM_VARIANTS_LAYOUT tq1
#define BN_TM_VARIANTS_WITH_SCALAR 1
#include "tmatmul_variants.h"

static int64_t tq1_bytes(int64_t M, int64_t K) { return M * (K / 256) * 54; }

/* Sets every block's d to fp16 1.0, so that the format unpacker (which refuses non-finite d) reads random bytes. */
static void set_d_one(uint8_t* p, int64_t M, int64_t K) {
    for (int64_t b = 0; b < M * K / 256; b++) p[b * 54 + 52] = 0x00, p[b * 54 + 53] = 0x3C;
}

/* The codes -1..1 of TQ1 bytes as quant/format_tq1_0.c (ggml's dequantize order) decodes them. */
static void format_codes(const uint8_t* p, int64_t M, int64_t K, int8_t* codes) {
    const int64_t nb = M * K / 256;
    float* scales = malloc(sizeof(float) * (size_t)nb);
    BN_CHECK_OK(bn_format_unpack(BN_FORMAT_TQ1_0, p, tq1_bytes(M, K), M, K, codes, M * K, scales, nb));
    free(scales);
}

/* ---- layout, pack, unpack ---------------------------------------------------------------------------- */

BN_TEST(pack_equals_the_tq1_0_format_packer) {
    uint64_t rng = 0x7A11;
    /* at least two blocks: with one, bn_format_pack reads the one scale as a tensor scale (d = 0 if all zero) */
    const int64_t shapes[][2] = {{2, 256}, {3, 768}, {5, 2560}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t M = shapes[s][0], K = shapes[s][1], n = M * K, nb = n / 256, bytes = tq1_bytes(M, K);
        int8_t* w = malloc((size_t)n);
        float* wf = malloc(sizeof(float) * (size_t)n);
        float* ones = malloc(sizeof(float) * (size_t)nb);
        uint8_t* ours = malloc((size_t)bytes);
        uint8_t* ours_f = malloc((size_t)bytes);
        uint8_t* theirs = malloc((size_t)bytes);
        fill_ternary(&rng, w, (size_t)n);
        if (s == 0) memset(w, 0, 256); /* an all-zero block still gets d = 1.0 from us (and from per-block d) */
        for (int64_t i = 0; i < n; i++) wf[i] = (float)w[i];
        for (int64_t b = 0; b < nb; b++) ones[b] = 1.0f;
        size_t size = 0;
        BN_CHECK_OK(bn_tmatmul_packed_size(BN_TLAYOUT_TQ1, M, K, &size));
        BN_CHECK_EQ_I64((int64_t)size, bytes);
        BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_TQ1, w, M, K, ours, size));
        BN_CHECK_OK(bn_tmatmul_pack_f32(BN_TLAYOUT_TQ1, wf, M, K, ours_f, size));
        BN_CHECK_OK(bn_format_pack(BN_FORMAT_TQ1_0, w, M, K, ones, nb, theirs, bytes));
        BN_CHECK(memcmp(ours, theirs, (size_t)bytes) == 0);
        BN_CHECK(memcmp(ours_f, theirs, (size_t)bytes) == 0);
        for (int64_t b = 0; b < nb; b++) BN_CHECK(ours[b * 54 + 52] == 0x00 && ours[b * 54 + 53] == 0x3C);
        free(w), free(wf), free(ones), free(ours), free(ours_f), free(theirs);
    }
    /* one weight at a time where the header comment says it is: weight 161 = trit 0 of qs[33], weight 250 = trit 2
     * of qh[2]; a lone +1 (code 2) among zeros (code 1) */
    int8_t w[256] = {0};
    uint8_t p[54], c[256];
    w[161] = 1;
    w[250] = -1;
    BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_TQ1, w, 1, 256, p, sizeof p));
    bn_tq1_decode_block(p, c);
    for (int k = 0; k < 256; k++) BN_CHECK_EQ_I64(c[k], w[k] + 1);
    /* qs[0] holds codes 1 1 1 1 1: v = 121, ceil(121 * 256 / 243) = 128 */
    BN_CHECK_EQ_I64(p[0], 128);
    /* qs[33] holds 2 1 1 1 1: v = 2 * 81 + 40 = 202, ceil(202 * 256 / 243) = 213 */
    BN_CHECK_EQ_I64(p[33], 213);
    /* qh[2] holds 1 1 0 1 (then the 0 trit): v = 27 + 9 + 0 + 1 = 37, times 3 = 111, ceil(111 * 256 / 243) = 117 */
    BN_CHECK_EQ_I64(p[48 + 2], 117);
}

BN_TEST(unpack_round_trips_and_decodes_every_byte_as_ggml) {
    uint64_t rng = 0x5151;
    const int64_t shapes[][2] = {{1, 256}, {7, 768}, {16, 6912}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t M = shapes[s][0], K = shapes[s][1], n = M * K, bytes = tq1_bytes(M, K);
        int8_t* w = malloc((size_t)n);
        int8_t* back = malloc((size_t)n);
        int8_t* fmt = malloc((size_t)n);
        uint8_t* p = malloc((size_t)bytes);
        fill_ternary(&rng, w, (size_t)n);
        BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_TQ1, w, M, K, p, (size_t)bytes));
        BN_CHECK_OK(bn_tmatmul_unpack_i8(BN_TLAYOUT_TQ1, p, M, K, back, (size_t)n));
        BN_CHECK(memcmp(w, back, (size_t)n) == 0);
        /* random bytes, the 13 unused values among them: our decode is the format's (ggml's) */
        fill_bytes(&rng, p, (size_t)bytes);
        set_d_one(p, M, K);
        BN_CHECK_OK(bn_tmatmul_unpack_i8(BN_TLAYOUT_TQ1, p, M, K, back, (size_t)n));
        format_codes(p, M, K, fmt);
        BN_CHECK(memcmp(fmt, back, (size_t)n) == 0);
        /* d is not read: a NaN d changes nothing */
        p[52] = 0xFF, p[53] = 0x7F;
        BN_CHECK_OK(bn_tmatmul_unpack_i8(BN_TLAYOUT_TQ1, p, M, K, back, (size_t)n));
        BN_CHECK(memcmp(fmt, back, (size_t)n) == 0);
        free(w), free(back), free(fmt), free(p);
    }
    /* every byte value in every position of qs and qh */
    uint8_t blk[54], c[256];
    int8_t fmt[256];
    for (int v = 0; v < 256; v++) {
        memset(blk, v, 52);
        blk[52] = 0x00, blk[53] = 0x3C;
        bn_tq1_decode_block(blk, c);
        format_codes(blk, 1, 256, fmt);
        for (int k = 0; k < 256; k++) BN_CHECK_MSG(c[k] == fmt[k] + 1, "byte %d weight %d", v, k);
    }
}

/* ---- the scalar reference against a dense integer dot ------------------------------------------------- */

BN_TEST(scalar_matches_dense_int_reference) {
    uint64_t rng = 31337;
    const int64_t M = 21, K = 768, T = 3;
    uint8_t* w = malloc((size_t)tq1_bytes(M, K));
    int8_t* codes = malloc((size_t)(M * K));
    int8_t* q = malloc((size_t)(T * K));
    int32_t qs[3];
    float y[3 * 21], yv[21];
    fill_bytes(&rng, w, (size_t)tq1_bytes(M, K));
    set_d_one(w, M, K);
    format_codes(w, M, K, codes);
    fill_q(&rng, q, (size_t)(T * K));
    sums(q, T, K, qs);
    const float a[3] = {3.7f, 127.0f / 2.5f, 0.01f}, ws = 0.8125f;
    bn_tmatmul_tq1_gemm_scalar(w, K, 0, M, q, qs, a, ws, T, y, M);
    for (int64_t t = 0; t < T; t++)
        for (int64_t r = 0; r < M; r++) {
            int64_t d = 0;
            for (int64_t k = 0; k < K; k++) d += (int64_t)codes[r * K + k] * q[t * K + k];
            const float want = (float)d * (ws / a[t]);
            BN_CHECK_MSG(memcmp(&y[t * M + r], &want, sizeof want) == 0, "t %lld r %lld: %.9g, expected %.9g",
                         (long long)t, (long long)r, (double)y[t * M + r], (double)want);
        }
    bn_tmatmul_tq1_gemv_scalar(w, K, 0, M, q + K, qs[1], a[1], ws, yv);
    BN_CHECK(first_diff(yv, y + M, M) < 0);
    free(w), free(codes), free(q);
}

/* ---- every variant against the scalar reference ------------------------------------------------------ */

/* Every variant against the scalar reference on rows [r0, M) of one problem (tmatmul_variants.h). */
static void compare_variants(uint64_t seed, int64_t M, int64_t K, int64_t T, int64_t r0, const uint8_t* w_in,
                             const int8_t* q_in) {
    compare_variants_of(bn_tmatmul_tq1_gemv_scalar, bn_tmatmul_tq1_gemm_scalar, tq1_bytes(M, K), seed, M, K, T, r0,
                        w_in, q_in);
}

/* M not a multiple of 16 nor of any row block (1, 2, 4, 8); T = 1..9 and 33 (beyond every token tile). */
static void shapes_for_k(int64_t K, uint64_t seed) {
    const int64_t Ms[] = {1, 3, 13, 37};
    for (size_t j = 0; j < sizeof Ms / sizeof Ms[0]; j++) {
        for (int64_t T = 1; T <= 9; T++) compare_variants(seed++, Ms[j], K, T, 0, NULL, NULL);
        compare_variants(seed++, Ms[j], K, 33, 0, NULL, NULL);
    }
}
BN_TEST(variants_match_scalar_k256) { shapes_for_k(256, 1000); }
BN_TEST(variants_match_scalar_k768) { shapes_for_k(768, 2000); }
BN_TEST(variants_match_scalar_k2560) { shapes_for_k(2560, 3000); }
BN_TEST(variants_match_scalar_k6912) { shapes_for_k(6912, 4000); }

BN_TEST(variants_match_scalar_on_row_subranges_and_2b4t_shapes) {
    const int64_t r0s[] = {1, 5, 16, 62};
    for (size_t i = 0; i < sizeof r0s / sizeof r0s[0]; i++) {
        compare_variants(100 + i, 69, 512, 1, r0s[i], NULL, NULL);
        compare_variants(200 + i, 69, 512, 5, r0s[i], NULL, NULL);
    }
    /* 2B4T projections: q/o 2560x2560, k/v 640x2560, gate/up 6912x2560, down 2560x6912 */
    const int64_t shapes[][2] = {{2560, 2560}, {640, 2560}, {6912, 2560}, {2560, 6912}};
    for (size_t s = 0; s < 4; s++) {
        compare_variants(300 + s, shapes[s][0], shapes[s][1], 1, 0, NULL, NULL);
        compare_variants(400 + s, shapes[s][0], shapes[s][1], 4, 0, NULL, NULL);
    }
}

BN_TEST(variants_match_scalar_on_extreme_values) {
    const int64_t M = 19, K = 768, T = 5, bytes = tq1_bytes(M, K);
    uint8_t* w = malloc((size_t)bytes);
    int8_t* q = malloc((size_t)(T * K));
    /* 0: every code 0 (w = -1); 0xFF: the largest byte; 243 (ceil(242 * 256 / 243) = 255 too) and 0xF3; 128 */
    const uint8_t wbytes[] = {0x00, 0xFF, 0xF3, 0x80, 0x55};
    const int8_t qvals[] = {-128, 127};
    for (size_t i = 0; i < sizeof wbytes; i++)
        for (size_t j = 0; j < sizeof qvals; j++) {
            memset(w, wbytes[i], (size_t)bytes);
            memset(q, (uint8_t)qvals[j], (size_t)(T * K));
            compare_variants(7, M, K, T, 0, w, q);
            compare_variants(8, M, K, 1, 0, w, q);
        }
    /* every code 2 (w = +1) against 127: the largest dot */
    int8_t* plus = malloc((size_t)(M * K));
    memset(plus, 1, (size_t)(M * K));
    BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_TQ1, plus, M, K, w, (size_t)bytes));
    memset(q, 127, (size_t)(T * K));
    compare_variants(9, M, K, T, 0, w, q);
    float y[19];
    bn_tmatmul_tq1_gemv_scalar(w, K, 0, M, q, 127 * (int32_t)K, 1.0f, 1.0f, y);
    BN_CHECK(y[0] == (float)(127 * K));
    free(plus), free(w), free(q);
}

/* ---- the GEMM through I2_S panels (bn_tmatmul_tq1_gemm_panels) --------------------------------------- */

typedef struct converter {
    const char* name;
    uint64_t needs;
    bn_tq1_to_i2_fn* fn;
} converter;

static const converter g_converters[] = {
    {"scalar", 0, bn_tq1_to_i2_scalar},
#if defined(__x86_64__)
    {"avx2", X86_AVX2, bn_tq1_to_i2_avx2},
    {"avx512", X86_AVX512, bn_tq1_to_i2_avx512},
#elif defined(__aarch64__)
    {"neon", BN_CPU_NEON, bn_tq1_to_i2_neon},
#endif
};

/* Every converter gives the bytes that bn_tmatmul_pack_i8 (I2_S) writes for the codes bn_tmatmul_unpack_i8 (TQ1)
 * reads, on random bytes (every byte value, the 13 unused ones too) and on encoded matrices; it writes exactly
 * rows * K/4 bytes (the buffers are exact: ASan sees a stray read or write). */
BN_TEST(tq1_to_i2_equals_unpack_then_pack) {
    uint64_t rng = 0x12C0;
    const int64_t shapes[][2] = {{1, 256}, {3, 768}, {16, 2560}, {5, 6912}, {2, 8448}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int encoded = 0; encoded < 2; encoded++) {
            const int64_t M = shapes[s][0], K = shapes[s][1], n = M * K, bytes = tq1_bytes(M, K);
            uint8_t* w = malloc((size_t)bytes);
            int8_t* codes = malloc((size_t)n);
            uint8_t* want = malloc((size_t)(n / 4));
            uint8_t* got = malloc((size_t)(n / 4));
            if (encoded) {
                fill_ternary(&rng, codes, (size_t)n);
                BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_TQ1, codes, M, K, w, (size_t)bytes));
            } else {
                fill_bytes(&rng, w, (size_t)bytes);
            }
            BN_CHECK_OK(bn_tmatmul_unpack_i8(BN_TLAYOUT_TQ1, w, M, K, codes, (size_t)n));
            BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, codes, M, K, want, (size_t)(n / 4)));
            for (size_t v = 0; v < sizeof g_converters / sizeof g_converters[0]; v++) {
                if ((bn_cpu_features() & g_converters[v].needs) != g_converters[v].needs) continue;
                memset(got, 0xAA, (size_t)(n / 4));
                g_converters[v].fn(w, K, M, got);
                int64_t d = -1;
                for (int64_t i = 0; i < n / 4 && d < 0; i++)
                    if (got[i] != want[i]) d = i;
                BN_CHECK_MSG(d < 0, "%s %lldx%lld %s: byte %lld = 0x%02x, expected 0x%02x", g_converters[v].name,
                             (long long)M, (long long)K, encoded ? "encoded" : "random", (long long)d,
                             d < 0 ? 0 : got[d], d < 0 ? 0 : want[d]);
            }
            free(w), free(codes), free(want), free(got);
        }
}

/* T from BN_TQ1_PANEL_MIN_T on takes the panels (K <= 8192), M not a multiple of the 16-row panel, and row ranges
 * that start inside a panel; K = 8448 (panels do not fit) keeps the TQ1 tiles. Every variant against scalar. */
BN_TEST(panel_gemm_matches_scalar) {
    BN_CHECK(BN_TQ1_PANEL_MIN_T <= 16 && BN_TQ1_PANEL_ROWS * 8192 / 4 <= BN_TQ1_PANEL_BYTES);
    const int64_t Ts[] = {BN_TQ1_PANEL_MIN_T - 1, BN_TQ1_PANEL_MIN_T, 16, 33, 128};
    uint64_t seed = 5000;
    for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
        compare_variants(seed++, 37, 2560, Ts[i], 0, NULL, NULL);
        compare_variants(seed++, 53, 768, Ts[i], 3, NULL, NULL);
        compare_variants(seed++, 21, 6912, Ts[i], 0, NULL, NULL);
    }
    compare_variants(seed++, 35, 8448, 16, 0, NULL, NULL);
    compare_variants(seed++, 100, 512, 128, 17, NULL, NULL);
}

/* ---- TQ1 against I2_S, public entry points ----------------------------------------------------------- */

typedef struct pair {
    int64_t M, K, T;
    int8_t* wt;
    uint8_t *tq1, *i2s;
    int8_t* q;
    int32_t* qs;
    float* a;
    float* x;
} pair;

/* One random ternary matrix packed in both layouts, and T tokens of activations (ints and floats). */
static pair make_pair(uint64_t seed, int64_t M, int64_t K, int64_t T) {
    uint64_t rng = seed;
    pair p = {M,
              K,
              T,
              malloc((size_t)(M * K)),
              malloc((size_t)tq1_bytes(M, K) + 1),
              malloc((size_t)(M * K / 4) + 1),
              malloc((size_t)(T * K)),
              malloc(sizeof(int32_t) * (size_t)T),
              malloc(sizeof(float) * (size_t)T),
              malloc(sizeof(float) * (size_t)(T * K))};
    fill_ternary(&rng, p.wt, (size_t)(M * K));
    BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_TQ1, p.wt, M, K, p.tq1, (size_t)tq1_bytes(M, K)));
    BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, p.wt, M, K, p.i2s, (size_t)(M * K / 4)));
    fill_q(&rng, p.q, (size_t)(T * K));
    sums(p.q, T, K, p.qs);
    for (int64_t t = 0; t < T; t++) p.a[t] = bn_test_rand_float(&rng, 1.0f, 100.0f);
    for (int64_t i = 0; i < T * K; i++) p.x[i] = bn_test_rand_float(&rng, -2.0f, 2.0f);
    return p;
}

static void free_pair(pair* p) { free(p->wt), free(p->tq1), free(p->i2s), free(p->q), free(p->qs), free(p->a), free(p->x); }

BN_TEST(tq1_equals_i2s_for_the_same_matrix) {
    const int64_t shapes[][3] = {{37, 256, 1}, {37, 768, 5}, {640, 2560, 1}, {70, 2560, 9}, {33, 6912, 2}};
    bn_threadpool* pool = NULL;
    BN_CHECK_OK(bn_threadpool_create(2, &pool));
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        pair p = make_pair(77 + s, shapes[s][0], shapes[s][1], shapes[s][2]);
        const int64_t ny = p.M * p.T;
        float* yi = malloc(sizeof(float) * (size_t)ny);
        float* yt = malloc(sizeof(float) * (size_t)ny);
        float* yt2 = malloc(sizeof(float) * (size_t)ny);
        const float ws = 0.4142f;
        BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S, p.i2s, p.M, p.K, ws, p.q, p.a, p.qs, p.T, yi, NULL));
        BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_TQ1, p.tq1, p.M, p.K, ws, p.q, p.a, p.qs, p.T, yt, NULL));
        BN_CHECK_MSG(first_diff(yi, yt, ny) < 0, "i8 %lldx%lld T=%lld", (long long)p.M, (long long)p.K,
                     (long long)p.T);
        BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_TQ1, p.tq1, p.M, p.K, ws, p.q, p.a, p.qs, p.T, yt2, pool));
        BN_CHECK_MSG(first_diff(yt, yt2, ny) < 0, "threaded %lldx%lld T=%lld", (long long)p.M, (long long)p.K,
                     (long long)p.T);
        /* the fused float path too */
        size_t work_size = 0;
        BN_CHECK_OK(bn_tmatmul_f32_work_size(p.T, p.K, &work_size));
        void* work = malloc(work_size);
        BN_CHECK_OK(bn_tmatmul_f32(BN_TLAYOUT_I2S, p.i2s, p.M, p.K, ws, p.x, p.T, yi, work, work_size, pool));
        BN_CHECK_OK(bn_tmatmul_f32(BN_TLAYOUT_TQ1, p.tq1, p.M, p.K, ws, p.x, p.T, yt, work, work_size, pool));
        BN_CHECK_MSG(first_diff(yi, yt, ny) < 0, "f32 %lldx%lld T=%lld", (long long)p.M, (long long)p.K,
                     (long long)p.T);
        free(work), free(yi), free(yt), free(yt2);
        free_pair(&p);
    }
    bn_threadpool_destroy(pool);
}

/* The panel path through the public entry point, threaded (each worker converts its own panels): TQ1 equals I2_S
 * for prefill-sized T, 2B4T row counts not a multiple of 16 included. */
BN_TEST(tq1_equals_i2s_for_prefill_gemms) {
    const int64_t shapes[][3] = {{53, 2560, 16}, {640, 2560, 33}, {37, 6912, 128}, {2570, 256, 128}};
    bn_threadpool* pool = NULL;
    BN_CHECK_OK(bn_threadpool_create(2, &pool));
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        pair p = make_pair(900 + s, shapes[s][0], shapes[s][1], shapes[s][2]);
        const int64_t ny = p.M * p.T;
        float* yi = malloc(sizeof(float) * (size_t)ny);
        float* yt = malloc(sizeof(float) * (size_t)ny);
        for (int th = 0; th < 2; th++) {
            BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S, p.i2s, p.M, p.K, 0.7f, p.q, p.a, p.qs, p.T, yi, th ? pool : NULL));
            BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_TQ1, p.tq1, p.M, p.K, 0.7f, p.q, p.a, p.qs, p.T, yt, th ? pool : NULL));
            BN_CHECK_MSG(first_diff(yi, yt, ny) < 0, "%lldx%lld T=%lld threads %d", (long long)p.M, (long long)p.K,
                         (long long)p.T, th + 1);
        }
        free(yi), free(yt);
        free_pair(&p);
    }
    bn_threadpool_destroy(pool);
}

/* bn_tmatmul_i8_multi over TQ1 matrices equals separate TQ1 calls and the I2_S multi call, at 1..3 threads. */
BN_TEST(multi_equals_separate_calls_and_i2s) {
    const int64_t K = 768, rows[3] = {65, 17, 40};
    bn_threadpool* pools[3] = {NULL, NULL, NULL};
    BN_CHECK_OK(bn_threadpool_create(2, &pools[1]));
    BN_CHECK_OK(bn_threadpool_create(3, &pools[2]));
    for (int64_t T = 1; T <= 3; T += 2) {
        pair p[3];
        const uint8_t *wt[3], *wi[3];
        int64_t M[3];
        float ws[3], *sep[3], *got[3], *goti[3];
        for (int i = 0; i < 3; i++) {
            p[i] = make_pair(600 + 10 * (uint64_t)T + (uint64_t)i, rows[i], K, T);
            wt[i] = p[i].tq1, wi[i] = p[i].i2s, M[i] = rows[i], ws[i] = 0.3f + 0.1f * (float)i;
            sep[i] = malloc(sizeof(float) * (size_t)(M[i] * T));
            got[i] = malloc(sizeof(float) * (size_t)(M[i] * T));
            goti[i] = malloc(sizeof(float) * (size_t)(M[i] * T));
            BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_TQ1, wt[i], M[i], K, ws[i], p[0].q, p[0].a, p[0].qs, T, sep[i], NULL));
        }
        for (int th = 0; th < 3; th++) {
            BN_CHECK_OK(bn_tmatmul_i8_multi(BN_TLAYOUT_TQ1, 3, wt, M, K, ws, p[0].q, p[0].a, p[0].qs, T, got, pools[th]));
            BN_CHECK_OK(bn_tmatmul_i8_multi(BN_TLAYOUT_I2S, 3, wi, M, K, ws, p[0].q, p[0].a, p[0].qs, T, goti, pools[th]));
            for (int i = 0; i < 3; i++) {
                BN_CHECK_MSG(first_diff(sep[i], got[i], M[i] * T) < 0, "T=%lld matrix %d pool %d", (long long)T, i, th);
                BN_CHECK_MSG(first_diff(goti[i], got[i], M[i] * T) < 0, "vs I2_S T=%lld matrix %d pool %d",
                             (long long)T, i, th);
            }
        }
        for (int i = 0; i < 3; i++) free(sep[i]), free(got[i]), free(goti[i]), free_pair(&p[i]);
    }
    bn_threadpool_destroy(pools[1]);
    bn_threadpool_destroy(pools[2]);
}

BN_TEST(every_dispatch_choice_matches_scalar_and_is_named) {
    pair p = make_pair(91, 129, 512, 6);
    const int64_t ny = p.M * p.T;
    float* ref = malloc(sizeof(float) * (size_t)ny);
    float* got = malloc(sizeof(float) * (size_t)ny);
    float* ref1 = malloc(sizeof(float) * (size_t)p.M);
    float* got1 = malloc(sizeof(float) * (size_t)p.M);
    fill_bytes(&(uint64_t){5}, p.tq1, (size_t)tq1_bytes(p.M, p.K)); /* every byte value, not only encoded ones */
    BN_CHECK_OK(bn_cpu_set_enabled(0));
    BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_TQ1, p.tq1, p.M, p.K, 0.5f, p.q, p.a, p.qs, p.T, ref, NULL));
    BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_TQ1, p.tq1, p.M, p.K, 0.5f, p.q, p.a, p.qs, 1, ref1, NULL));
    const char* best = "scalar";
    for (int v = 0; v < N_VARIANTS; v++) {
        if (!runs(&g_variants[v])) continue;
        best = g_variants[v].name;
        BN_CHECK_OK(bn_cpu_set_enabled(g_variants[v].needs));
        BN_CHECK_EQ_I64(check_ops_chose("tmatmul_tq1_", &g_variants[v]), 2);
        BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_TQ1, p.tq1, p.M, p.K, 0.5f, p.q, p.a, p.qs, p.T, got, NULL));
        BN_CHECK_MSG(first_diff(ref, got, ny) < 0, "%s gemm", g_variants[v].name);
        BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_TQ1, p.tq1, p.M, p.K, 0.5f, p.q, p.a, p.qs, 1, got1, NULL));
        BN_CHECK_MSG(first_diff(ref1, got1, p.M) < 0, "%s gemv", g_variants[v].name);
    }
    BN_CHECK_OK(bn_cpu_set_enabled(UINT64_MAX));
    /* with every feature on, the richest variant this CPU runs */
    for (int32_t i = 0; i < bn_kernel_count(); i++) {
        const char *op, *impl;
        BN_CHECK_OK(bn_kernel_info(i, &op, &impl));
        if (strncmp(op, "tmatmul_tq1_", 12) == 0) BN_CHECK_MSG(strcmp(impl, best) == 0, "%s: %s, not %s", op, impl, best);
    }
    free(ref), free(got), free(ref1), free(got1);
    free_pair(&p);
}

BN_TEST(bad_arguments_fail_with_a_message) {
    pair p = make_pair(3, 8, 256, 2);
    float y[16];
    int8_t back[8 * 256];
    size_t size;
    const bn_tlayout L = BN_TLAYOUT_TQ1;
    /* K a multiple of 128 but not of 256: fine for I2_S, refused for TQ1 */
    BN_CHECK_OK(bn_tmatmul_packed_size(BN_TLAYOUT_I2S, 1, 384, &size));
    BN_CHECK_STATUS(bn_tmatmul_packed_size(L, 1, 384, &size), BN_ERR_SHAPE);
    BN_CHECK(strstr(bn_last_error(), "multiple of 256") != NULL);
    BN_CHECK(strstr(bn_last_error(), "TQ1_0") != NULL);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.tq1, 8, 128, 1.0f, p.q, p.a, p.qs, 2, y, NULL), BN_ERR_SHAPE);
    BN_CHECK(strstr(bn_last_error(), "bn_tmatmul_i8") != NULL && strstr(bn_last_error(), "256") != NULL);
    BN_CHECK_STATUS(bn_tmatmul_pack_i8(L, p.wt, 2, 384, p.tq1, 1000), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_unpack_i8(L, p.tq1, 1, 640, back, sizeof back), BN_ERR_SHAPE);
    const uint8_t* w1[1] = {p.tq1};
    int64_t M1[1] = {8};
    float ws1[1] = {1.0f}, *y1[1] = {y};
    BN_CHECK_STATUS(bn_tmatmul_i8_multi(L, 1, w1, M1, 384, ws1, p.q, p.a, p.qs, 1, y1, NULL), BN_ERR_SHAPE);
    /* sizes: 8 x 256 is 8 * 54 bytes */
    BN_CHECK_OK(bn_tmatmul_packed_size(L, 8, 256, &size));
    BN_CHECK_EQ_I64((int64_t)size, 8 * 54);
    BN_CHECK_OK(bn_tmatmul_packed_size(L, 2560, 6912, &size));
    BN_CHECK_EQ_I64((int64_t)size, 2560LL * 27 * 54);
    BN_CHECK_STATUS(bn_tmatmul_pack_i8(L, p.wt, 8, 256, p.tq1, 8 * 54 - 1), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK(strstr(bn_last_error(), "432 needed") != NULL);
    BN_CHECK_STATUS(bn_tmatmul_unpack_i8(L, p.tq1, 8, 256, back, 8 * 256 - 1), BN_ERR_BUFFER_TOO_SMALL);
    /* values: not ternary */
    p.wt[300] = 2;
    BN_CHECK_STATUS(bn_tmatmul_pack_i8(L, p.wt, 8, 256, p.tq1, 8 * 54), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "w[300]") != NULL && strstr(bn_last_error(), "row 1") != NULL);
    float wf[256] = {0};
    wf[9] = 0.5f;
    BN_CHECK_STATUS(bn_tmatmul_pack_f32(L, wf, 1, 256, p.tq1, 54), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "w[9]") != NULL);
    /* pointers, layouts, scales */
    BN_CHECK_STATUS(bn_tmatmul_i8(L, NULL, 8, 256, 1.0f, p.q, p.a, p.qs, 2, y, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.tq1, 8, 256, NAN, p.q, p.a, p.qs, 2, y, NULL), BN_ERR_NUMERIC);
    BN_CHECK_STATUS(bn_tmatmul_i8((bn_tlayout)9, p.tq1, 8, 256, 1.0f, p.q, p.a, p.qs, 2, y, NULL),
                    BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "unknown layout 9") != NULL);
    const float bad_a[2] = {1.0f, 0.0f};
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.tq1, 8, 256, 1.0f, p.q, bad_a, p.qs, 2, y, NULL), BN_ERR_NUMERIC);
    BN_CHECK_OK(bn_tmatmul_i8(L, NULL, 0, 256, 1.0f, NULL, NULL, NULL, 2, NULL, NULL));
    free_pair(&p);
}
