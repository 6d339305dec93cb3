/* Ternary x int8 matmul (kernels/tmatmul*.c): the layout, pack/unpack, the scalar reference against a naive
 * computation written here from the layout's definition, every vector variant this CPU runs against the scalar
 * reference bit for bit, threads against serial, and the public entry points' checks. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "bn_test.h"
#include "kernels/kernels.h"

#define BN_TM_VARIANTS_LAYOUT i2
#define BN_TM_VARIANTS_WITH_SCALAR 0
#include "tmatmul_variants.h"

/* ---- helpers written from the layout's definition, independent of the library ----------------------- */

/* The 2-bit code of weight k of a row: block k/128, byte k%32 of it, field (k%128)/32 counted from the top. */
static int code_at(const uint8_t* row, int64_t k) {
    const uint8_t byte = row[(k / 128) * 32 + k % 32];
    return (byte >> (6 - 2 * ((k % 128) / 32))) & 3;
}

/* sum_k (c - 1) * q exactly. */
static int64_t naive_dot(const uint8_t* row, const int8_t* q, int64_t K) {
    int64_t d = 0;
    for (int64_t k = 0; k < K; k++) d += (int64_t)(code_at(row, k) - 1) * q[k];
    return d;
}

/* ---- layout, pack, unpack ---------------------------------------------------------------------------- */

BN_TEST(layout_matches_i2s_definition) {
    /* one row of 256: weight k = +1 for k in {0, 33, 66, 99, 128+31}, -1 for k = 127, else 0 */
    int8_t w[256] = {0};
    w[0] = 1;
    w[33] = 1;
    w[66] = 1;
    w[99] = 1;
    w[128 + 31] = 1;
    w[127] = -1;
    uint8_t p[64];
    BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, w, 1, 256, p, sizeof p));
    /* byte j = c[j]<<6 | c[32+j]<<4 | c[64+j]<<2 | c[96+j], c = w + 1 (0 -> code 1, so 0x55 everywhere else) */
    BN_CHECK_EQ_I64(p[0], 2 << 6 | 1 << 4 | 1 << 2 | 1);
    BN_CHECK_EQ_I64(p[1], 1 << 6 | 2 << 4 | 1 << 2 | 1);
    BN_CHECK_EQ_I64(p[2], 1 << 6 | 1 << 4 | 2 << 2 | 1);
    BN_CHECK_EQ_I64(p[3], 1 << 6 | 1 << 4 | 1 << 2 | 2);
    BN_CHECK_EQ_I64(p[31], 1 << 6 | 1 << 4 | 1 << 2 | 0);
    BN_CHECK_EQ_I64(p[32 + 31], 2 << 6 | 1 << 4 | 1 << 2 | 1);
    BN_CHECK_EQ_I64(p[4], 0x55);
    BN_CHECK_EQ_I64(p[32], 0x55);
    size_t size = 0;
    BN_CHECK_OK(bn_tmatmul_packed_size(BN_TLAYOUT_I2S, 2560, 6912, &size));
    BN_CHECK_EQ_I64(size, 2560 * 6912 / 4);
    BN_CHECK_OK(bn_tmatmul_packed_size(BN_TLAYOUT_I2S, 0, 128, &size));
    BN_CHECK_EQ_I64(size, 0);
}

BN_TEST(pack_unpack_round_trip) {
    uint64_t rng = 0x1234;
    const int64_t shapes[][2] = {{1, 128}, {3, 256}, {17, 384}, {64, 2560}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t M = shapes[s][0], K = shapes[s][1];
        int8_t* w = malloc((size_t)(M * K));
        int8_t* back = malloc((size_t)(M * K));
        float* wf = malloc(sizeof(float) * (size_t)(M * K));
        uint8_t* p = malloc((size_t)(M * K / 4));
        uint8_t* pf = malloc((size_t)(M * K / 4));
        fill_ternary(&rng, w, (size_t)(M * K));
        for (int64_t i = 0; i < M * K; i++) wf[i] = (float)w[i];
        if (M * K > 1) wf[1] = w[1] == 0 ? -0.0f : wf[1]; /* -0.0f is a zero too */
        BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, w, M, K, p, (size_t)(M * K / 4)));
        BN_CHECK_OK(bn_tmatmul_pack_f32(BN_TLAYOUT_I2S, wf, M, K, pf, (size_t)(M * K / 4)));
        BN_CHECK(memcmp(p, pf, (size_t)(M * K / 4)) == 0);
        BN_CHECK_OK(bn_tmatmul_unpack_i8(BN_TLAYOUT_I2S, p, M, K, back, (size_t)(M * K)));
        BN_CHECK(memcmp(w, back, (size_t)(M * K)) == 0);
        /* the codes where the definition says they are */
        for (int64_t r = 0; r < M; r++)
            for (int64_t k = 0; k < K; k += 7) BN_CHECK_EQ_I64(code_at(p + r * K / 4, k) - 1, w[r * K + k]);
        free(w);
        free(back);
        free(wf);
        free(p);
        free(pf);
    }
}

BN_TEST(pack_and_unpack_refuse_bad_input) {
    int8_t w[2 * 128] = {0};
    float wf[128] = {0};
    uint8_t p[64];
    int8_t back[256];
    size_t size;
    w[77] = 2;
    BN_CHECK_STATUS(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, w, 1, 128, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "w[77]") != NULL);
    w[77] = -128;
    BN_CHECK_STATUS(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, w, 1, 128, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    w[77] = 0;
    wf[5] = 0.5f;
    BN_CHECK_STATUS(bn_tmatmul_pack_f32(BN_TLAYOUT_I2S, wf, 1, 128, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    wf[5] = NAN;
    BN_CHECK_STATUS(bn_tmatmul_pack_f32(BN_TLAYOUT_I2S, wf, 1, 128, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    wf[5] = 0.0f;
    BN_CHECK_OK(bn_tmatmul_pack_f32(BN_TLAYOUT_I2S, wf, 1, 128, p, 32));
    /* shapes, sizes, pointers, layouts */
    BN_CHECK_STATUS(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, w, 1, 100, p, sizeof p), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, w, 1, 0, p, sizeof p), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, w, -1, 128, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, w, 2, 128, p, 63), BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, NULL, 1, 128, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, w, 1, 128, NULL, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_pack_i8((bn_tlayout)7, w, 1, 128, p, sizeof p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_packed_size(BN_TLAYOUT_I2S, 1, 130, &size), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_packed_size(BN_TLAYOUT_I2S, INT64_MAX / 2, 1 << 20, &size), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_packed_size(BN_TLAYOUT_I2S, 1, 128, NULL), BN_ERR_INVALID_ARGUMENT);
    /* nothing to pack: null pointers are fine */
    BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, NULL, 0, 128, NULL, 0));
    /* unpack: code 3 is not a ternary value */
    BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, w, 2, 128, p, sizeof p));
    p[40] |= 0x0C;
    BN_CHECK_STATUS(bn_tmatmul_unpack_i8(BN_TLAYOUT_I2S, p, 2, 128, back, 256), BN_ERR_FORMAT);
    BN_CHECK(strstr(bn_last_error(), "byte 40") != NULL);
    BN_CHECK_STATUS(bn_tmatmul_unpack_i8(BN_TLAYOUT_I2S, p, 2, 128, back, 255), BN_ERR_BUFFER_TOO_SMALL);
}

/* ---- the scalar reference against the definition ---------------------------------------------------- */

BN_TEST(scalar_matches_naive_integer_dot) {
    uint64_t rng = 99;
    const int64_t M = 37, K = 640, T = 3;
    uint8_t* w = malloc((size_t)(M * K / 4));
    int8_t* q = malloc((size_t)(T * K));
    int32_t qs[3];
    float a[3] = {1.0f, 1.0f, 1.0f}, y[3 * 37];
    fill_bytes(&rng, w, (size_t)(M * K / 4)); /* every byte, code 3 included */
    fill_q(&rng, q, (size_t)(T * K));
    sums(q, T, K, qs);
    bn_tmatmul_i2_gemm_scalar(w, K, 0, M, q, qs, a, 1.0f, T, y, M);
    for (int64_t t = 0; t < T; t++)
        for (int64_t r = 0; r < M; r++) {
            const int64_t d = naive_dot(w + r * K / 4, q + t * K, K);
            BN_CHECK_MSG(y[t * M + r] == (float)d, "t %lld r %lld: %g, expected %lld", (long long)t, (long long)r,
                         (double)y[t * M + r], (long long)d);
        }
    /* with scales: the documented expression, (float)d * (w_scale / a) */
    const float a2[3] = {3.7f, 127.0f / 2.5f, 0.01f}, ws = 0.8125f;
    bn_tmatmul_i2_gemm_scalar(w, K, 0, M, q, qs, a2, ws, T, y, M);
    for (int64_t t = 0; t < T; t++)
        for (int64_t r = 0; r < M; r++) {
            const float want = (float)naive_dot(w + r * K / 4, q + t * K, K) * (ws / a2[t]);
            BN_CHECK(memcmp(&y[t * M + r], &want, sizeof want) == 0);
        }
    /* gemv is gemm's T == 1 */
    float yv[37];
    bn_tmatmul_i2_gemv_scalar(w, K, 0, M, q + K, qs[1], a2[1], ws, yv);
    BN_CHECK(first_diff(yv, y + M, M) < 0);
    free(w);
    free(q);
}

/* ---- every vector variant against the scalar reference ---------------------------------------------- */

/* Every variant against the scalar reference on rows [r0, M) of one problem (tmatmul_variants.h). */
static void compare_variants(uint64_t seed, int64_t M, int64_t K, int64_t T, int64_t r0, const uint8_t* w_in,
                             const int8_t* q_in) {
    compare_variants_of(bn_tmatmul_i2_gemv_scalar, bn_tmatmul_i2_gemm_scalar, M * K / 4, seed, M, K, T, r0, w_in, q_in);
}

BN_TEST(variants_match_scalar_small_shapes) {
    const int64_t Ks[] = {128, 256, 384, 640};
    const int64_t Ms[] = {1, 3, 17, 63, 65};
    const int64_t Ts[] = {1, 2, 3, 5, 8, 17};
    uint64_t seed = 1;
    for (size_t i = 0; i < sizeof Ks / sizeof Ks[0]; i++)
        for (size_t j = 0; j < sizeof Ms / sizeof Ms[0]; j++)
            for (size_t k = 0; k < sizeof Ts / sizeof Ts[0]; k++) compare_variants(seed++, Ms[j], Ks[i], Ts[k], 0, NULL, NULL);
}

BN_TEST(variants_match_scalar_on_row_subranges) {
    /* threads hand kernels row ranges that start anywhere */
    const int64_t r0s[] = {1, 5, 16, 62};
    for (size_t i = 0; i < sizeof r0s / sizeof r0s[0]; i++) {
        compare_variants(100 + i, 65, 384, 1, r0s[i], NULL, NULL);
        compare_variants(200 + i, 65, 384, 5, r0s[i], NULL, NULL);
    }
}

BN_TEST(variants_match_scalar_on_extreme_values) {
    const int64_t M = 19, K = 768, T = 5;
    uint8_t* w = malloc((size_t)(M * K / 4));
    int8_t* q = malloc((size_t)(T * K));
    const uint8_t wbytes[] = {0x00, 0xAA, 0xFF, 0x55}; /* all -1, all +1, all code 3, all 0 */
    const int8_t qvals[] = {-128, 127};
    for (size_t i = 0; i < sizeof wbytes; i++)
        for (size_t j = 0; j < sizeof qvals; j++) {
            memset(w, wbytes[i], (size_t)(M * K / 4));
            memset(q, (uint8_t)qvals[j], (size_t)(T * K));
            compare_variants(7, M, K, T, 0, w, q);
            compare_variants(8, M, K, 1, 0, w, q);
            /* and the value itself: sum_k (c - 1) * q */
            float y[19];
            int32_t qs = (int32_t)qvals[j] * (int32_t)K;
            const int c = wbytes[i] & 3;
            bn_tmatmul_i2_gemv_scalar(w, K, 0, M, q, qs, 1.0f, 1.0f, y);
            BN_CHECK(y[0] == (float)((int64_t)(c - 1) * qvals[j] * K));
        }
    /* mixed: alternating -128 / 127 against alternating -1 / +1 */
    for (int64_t i = 0; i < M * K / 4; i++) w[i] = (uint8_t)(i % 2 ? 0xAA : 0x00);
    for (int64_t i = 0; i < T * K; i++) q[i] = (int8_t)(i % 3 ? -128 : 127);
    compare_variants(9, M, K, T, 0, w, q);
    free(w);
    free(q);
}

/* The 2B4T projection shapes (hidden 2560, 640 for k/v, FFN 6912). */
static void model_shape(int64_t M, int64_t K) {
    compare_variants((uint64_t)(M * 31 + K), M, K, 1, 0, NULL, NULL);
    compare_variants((uint64_t)(M * 37 + K), M, K, 4, 0, NULL, NULL);
}
BN_TEST(variants_match_scalar_2b4t_q_o) { model_shape(2560, 2560); }
BN_TEST(variants_match_scalar_2b4t_k_v) { model_shape(640, 2560); }
BN_TEST(variants_match_scalar_2b4t_gate_up) { model_shape(6912, 2560); }
BN_TEST(variants_match_scalar_2b4t_down) { model_shape(2560, 6912); }

/* ---- public entry points ------------------------------------------------------------------------------ */

typedef struct problem {
    int64_t M, K, T;
    uint8_t* w;
    int8_t* q;
    int32_t* qs;
    float* a;
    float ws;
} problem;

static problem make_problem(uint64_t seed, int64_t M, int64_t K, int64_t T) {
    uint64_t rng = seed;
    problem p = {M, K, T, malloc((size_t)(M * K / 4)), malloc((size_t)(T * K)), malloc(sizeof(int32_t) * (size_t)T),
                 malloc(sizeof(float) * (size_t)T), 0.0f};
    fill_bytes(&rng, p.w, (size_t)(M * K / 4));
    fill_q(&rng, p.q, (size_t)(T * K));
    sums(p.q, T, K, p.qs);
    for (int64_t t = 0; t < T; t++) p.a[t] = bn_test_rand_float(&rng, 1.0f, 100.0f);
    p.ws = 0.37f;
    return p;
}

static void free_problem(problem* p) {
    free(p->w);
    free(p->q);
    free(p->qs);
    free(p->a);
}

BN_TEST(threaded_equals_serial) {
    const int64_t shapes[][3] = {{65, 384, 1}, {65, 384, 5}, {2560, 2560, 1}, {640, 2560, 4}, {17, 128, 17}};
    bn_threadpool* pools[2] = {NULL, NULL};
    BN_CHECK_OK(bn_threadpool_create(2, &pools[0]));
    BN_CHECK_OK(bn_threadpool_create(3, &pools[1]));
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        problem p = make_problem(500 + s, shapes[s][0], shapes[s][1], shapes[s][2]);
        const size_t ny = (size_t)(p.M * p.T);
        float* serial = malloc(sizeof(float) * ny);
        float* threaded = malloc(sizeof(float) * ny);
        BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S, p.w, p.M, p.K, p.ws, p.q, p.a, p.qs, p.T, serial, NULL));
        for (int i = 0; i < 2; i++)
            for (int rep = 0; rep < 3; rep++) {
                memset(threaded, 0, sizeof(float) * ny);
                BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S, p.w, p.M, p.K, p.ws, p.q, p.a, p.qs, p.T, threaded, pools[i]));
                BN_CHECK_MSG(first_diff(serial, threaded, (int64_t)ny) < 0, "%lldx%lld T=%lld, %d threads",
                             (long long)p.M, (long long)p.K, (long long)p.T, i + 2);
            }
        free(serial);
        free(threaded);
        free_problem(&p);
    }
    bn_threadpool_destroy(pools[0]);
    bn_threadpool_destroy(pools[1]);
}

/* bn_parallel_stream hands out every item of [0, n) exactly once, in ranges, on 1 to 4 threads: sizes below, at and
 * above the guided split's threshold (4 * threads * BN_TM_GEMV_TAIL items), shares that do not divide, and n = 0. */
typedef struct stream_count {
    _Atomic int* hits;
    _Atomic int ranges;
} stream_count;

static void count_items(void* ctx, int64_t i0, int64_t i1, int32_t worker) {
    (void)worker;
    stream_count* c = ctx;
    for (int64_t i = i0; i < i1; i++) c->hits[i]++;
    c->ranges++;
}

BN_TEST(parallel_stream_covers_each_item_once) {
    const int64_t sizes[] = {0, 1, 7, 31, 32, 33, 47, 48, 49, 64, 65, 127, 301, 1000, 128256};
    for (int threads = 1; threads <= 4; threads++) {
        bn_threadpool* pool = NULL;
        if (threads > 1) BN_CHECK_OK(bn_threadpool_create(threads, &pool));
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            const int64_t n = sizes[s];
            stream_count c = {calloc((size_t)n + 1, sizeof(_Atomic int)), 0};
            BN_CHECK_OK(bn_parallel_stream(pool, n, count_items, &c));
            int64_t bad = -1;
            for (int64_t i = 0; i < n && bad < 0; i++)
                if (c.hits[i] != 1) bad = i;
            BN_CHECK_MSG(bad < 0, "n=%lld, %d threads: item %lld done %d times", (long long)n, threads,
                         (long long)bad, bad < 0 ? 1 : (int)c.hits[bad]);
            /* big inputs go in a few long ranges (one per thread plus a tail), not in hundreds of chunks */
            if (n >= 1000 && threads > 1)
                BN_CHECK_MSG(c.ranges <= threads + 2 * 4 * threads, "n=%lld, %d threads: %d ranges", (long long)n,
                             threads, (int)c.ranges);
            free((void*)c.hits);
        }
        if (pool) BN_CHECK_OK(bn_threadpool_destroy(pool));
    }
}

/* bn_tmatmul_i8_multi: n matrices of one K as one job equal n separate serial calls bit for bit, at 1, 2 and 3
 * threads, for GEMV and GEMM, with row counts that are not multiples of the 16-row unit (so a thread's range
 * starts and ends inside different matrices), an empty matrix in the group, and the 2B4T q/k/v group. */
BN_TEST(multi_equals_separate_calls) {
    const int64_t groups[][5] = {/* K, T, rows of up to 3 matrices */
                                 {384, 1, 65, 17, 40},
                                 {384, 5, 65, 0, 33},
                                 {256, 3, 1, 129, 16},
                                 {2560, 1, 2560, 640, 640},
                                 {2560, 2, 2560, 640, 640}};
    bn_threadpool* pools[3] = {NULL, NULL, NULL};
    BN_CHECK_OK(bn_threadpool_create(2, &pools[1]));
    BN_CHECK_OK(bn_threadpool_create(3, &pools[2]));
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        const int64_t K = groups[g][0], T = groups[g][1];
        problem p[3];
        const uint8_t* w[3];
        int64_t M[3];
        float ws[3], *sep[3], *got[3];
        for (int i = 0; i < 3; i++) {
            p[i] = make_problem(900 + 10 * g + i, groups[g][2 + i], K, T);
            if (i > 0) memcpy(p[i].q, p[0].q, (size_t)(T * K)), memcpy(p[i].qs, p[0].qs, sizeof(int32_t) * (size_t)T),
                    memcpy(p[i].a, p[0].a, sizeof(float) * (size_t)T); /* one set of activations */
            w[i] = p[i].w, M[i] = p[i].M, ws[i] = 0.21f + 0.1f * (float)i;
            sep[i] = malloc(sizeof(float) * (size_t)(M[i] * T + 1));
            got[i] = malloc(sizeof(float) * (size_t)(M[i] * T + 1));
            BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S, w[i], M[i], K, ws[i], p[0].q, p[0].a, p[0].qs, T, sep[i], NULL));
        }
        for (int n = 1; n <= 3; n++)
            for (int th = 0; th < 3; th++) {
                for (int i = 0; i < n; i++) memset(got[i], 0xFF, sizeof(float) * (size_t)(M[i] * T + 1));
                BN_CHECK_OK(bn_tmatmul_i8_multi(BN_TLAYOUT_I2S, n, w, M, K, ws, p[0].q, p[0].a, p[0].qs, T, got,
                                                pools[th]));
                for (int i = 0; i < n; i++)
                    BN_CHECK_MSG(first_diff(sep[i], got[i], M[i] * T) < 0, "group %zu, n=%d, matrix %d, pool %d", g, n,
                                 i, th + 1);
            }
        for (int i = 0; i < 3; i++) free(sep[i]), free(got[i]), free_problem(&p[i]);
    }
    const uint8_t* w1[1] = {NULL};
    int64_t M1[1] = {16};
    float ws1[1] = {1.0f};
    float* y1[1] = {NULL};
    BN_CHECK(bn_tmatmul_i8_multi(BN_TLAYOUT_I2S, 0, w1, M1, 128, ws1, NULL, NULL, NULL, 1, y1, NULL) ==
             BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(bn_tmatmul_i8_multi(BN_TLAYOUT_I2S, BN_TMATMUL_MULTI_MAX + 1, w1, M1, 128, ws1, NULL, NULL, NULL, 1, y1,
                                 NULL) == BN_ERR_INVALID_ARGUMENT);
    bn_threadpool_destroy(pools[1]);
    bn_threadpool_destroy(pools[2]);
}

BN_TEST(every_dispatch_choice_matches_scalar) {
    /* the public call through the kernel table, with dispatch restricted to each variant in turn */
    problem p = make_problem(77, 129, 512, 6);
    const size_t ny = (size_t)(p.M * p.T);
    float* ref = malloc(sizeof(float) * ny);
    float* got = malloc(sizeof(float) * ny);
    float* ref1 = malloc(sizeof(float) * (size_t)p.M);
    float* got1 = malloc(sizeof(float) * (size_t)p.M);
    BN_CHECK_OK(bn_cpu_set_enabled(0));
    BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S, p.w, p.M, p.K, p.ws, p.q, p.a, p.qs, p.T, ref, NULL));
    BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S, p.w, p.M, p.K, p.ws, p.q, p.a, p.qs, 1, ref1, NULL));
    for (int v = 0; v < N_VARIANTS; v++) {
        if (!runs(&g_variants[v])) continue;
        BN_CHECK_OK(bn_cpu_set_enabled(g_variants[v].needs));
        check_ops_chose("tmatmul_i2_", &g_variants[v]);
        BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S, p.w, p.M, p.K, p.ws, p.q, p.a, p.qs, p.T, got, NULL));
        BN_CHECK_MSG(first_diff(ref, got, (int64_t)ny) < 0, "%s gemm", g_variants[v].name);
        BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S, p.w, p.M, p.K, p.ws, p.q, p.a, p.qs, 1, got1, NULL));
        BN_CHECK_MSG(first_diff(ref1, got1, p.M) < 0, "%s gemv", g_variants[v].name);
    }
    BN_CHECK_OK(bn_cpu_set_enabled(UINT64_MAX));
    free(ref);
    free(got);
    free(ref1);
    free(got1);
    free_problem(&p);
}

BN_TEST(kernel_info_names_the_ops) {
    int found = 0;
    for (int32_t i = 0; i < bn_kernel_count(); i++) {
        const char *op, *impl;
        BN_CHECK_OK(bn_kernel_info(i, &op, &impl));
        if (strcmp(op, "tmatmul_i2_gemv") == 0 || strcmp(op, "tmatmul_i2_gemm") == 0) {
            found++;
            /* the richest variant this CPU runs */
            const char* best = "scalar";
            for (int v = 0; v < N_VARIANTS; v++)
                if (runs(&g_variants[v])) best = g_variants[v].name;
            BN_CHECK_MSG(strcmp(impl, best) == 0, "%s chose %s, expected %s", op, impl, best);
        }
    }
    BN_CHECK_EQ_I64(found, 2);
}

/* HF ActQuant written out here, in float: a = 127 / max(max|x|, 1e-5), q = clamp(rint(x * a), -128, 127). */
static float act_quant(const float* x, int64_t K, int8_t* q) {
    float m = 0.0f;
    for (int64_t k = 0; k < K; k++) m = fabsf(x[k]) > m ? fabsf(x[k]) : m;
    const float a = 127.0f / (m > 1e-5f ? m : 1e-5f);
    for (int64_t k = 0; k < K; k++) {
        const float v = rintf(x[k] * a);
        q[k] = (int8_t)(v < -128.0f ? -128.0f : v > 127.0f ? 127.0f : v);
    }
    return a;
}

BN_TEST(fused_float_path_matches_naive_float_matmul) {
    uint64_t rng = 4242;
    const int64_t M = 70, K = 1024, T = 3;
    int8_t* wt = malloc((size_t)(M * K));
    uint8_t* w = malloc((size_t)(M * K / 4));
    float* x = malloc(sizeof(float) * (size_t)(T * K));
    int8_t* q = malloc((size_t)(T * K));
    float y[3 * 70], y8[3 * 70], a[3];
    int32_t qs[3];
    fill_ternary(&rng, wt, (size_t)(M * K));
    BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, wt, M, K, w, (size_t)(M * K / 4)));
    for (int64_t i = 0; i < T * K; i++) x[i] = bn_test_rand_float(&rng, -3.0f, 3.0f);
    x[5] = 9.5f; /* one outlier sets token 0's scale */
    for (int64_t k = 0; k < K; k++) x[2 * K + k] *= 1e-7f; /* token 2 below the 1e-5 floor */
    const float ws = 0.6180339f;
    size_t work_size = 0;
    BN_CHECK_OK(bn_tmatmul_f32_work_size(T, K, &work_size));
    void* work = malloc(work_size);
    bn_threadpool* pool = NULL;
    BN_CHECK_OK(bn_threadpool_create(2, &pool));
    BN_CHECK_OK(bn_tmatmul_f32(BN_TLAYOUT_I2S, w, M, K, ws, x, T, y, work, work_size, pool));
    for (int64_t t = 0; t < T; t++) {
        a[t] = act_quant(x + t * K, K, q + t * K);
        /* naive float: (x_q . W) * w_scale / a in double, then compared with a float tolerance */
        for (int64_t r = 0; r < M; r++) {
            double d = 0;
            for (int64_t k = 0; k < K; k++) d += (double)q[t * K + k] * wt[r * K + k];
            const double want = d * ws / a[t];
            BN_CHECK_MSG(fabs(y[t * M + r] - want) <= 1e-6 * fabs(want) + 1e-30, "t %lld r %lld: %.9g vs %.9g",
                         (long long)t, (long long)r, (double)y[t * M + r], want);
        }
    }
    BN_CHECK(a[2] == 127.0f / 1e-5f);
    /* and the fused path is exactly quantize + bn_tmatmul_i8 */
    sums(q, T, K, qs);
    BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S, w, M, K, ws, q, a, qs, T, y8, NULL));
    BN_CHECK(first_diff(y, y8, T * M) < 0);
    /* a NaN or an infinity is refused */
    const float keep = x[K + 3];
    x[K + 3] = NAN;
    BN_CHECK_STATUS(bn_tmatmul_f32(BN_TLAYOUT_I2S, w, M, K, ws, x, T, y, work, work_size, pool), BN_ERR_NUMERIC);
    x[K + 3] = INFINITY;
    BN_CHECK_STATUS(bn_tmatmul_f32(BN_TLAYOUT_I2S, w, M, K, ws, x, T, y, work, work_size, NULL), BN_ERR_NUMERIC);
    x[K + 3] = keep;
    BN_CHECK_STATUS(bn_tmatmul_f32(BN_TLAYOUT_I2S, w, M, K, ws, x, T, y, work, work_size - 1, NULL),
                    BN_ERR_BUFFER_TOO_SMALL);
    BN_CHECK_STATUS(bn_tmatmul_f32(BN_TLAYOUT_I2S, w, M, K, ws, x, T, y, NULL, work_size, NULL),
                    BN_ERR_INVALID_ARGUMENT);
    /* the scratch block need not be aligned */
    BN_CHECK_OK(bn_tmatmul_f32_work_size(T, K, &work_size));
    uint8_t* big = malloc(work_size + 3);
    BN_CHECK_OK(bn_tmatmul_f32(BN_TLAYOUT_I2S, w, M, K, ws, x, T, y8, big + 3, work_size, NULL));
    BN_CHECK(first_diff(y, y8, T * M) < 0);
    free(big);
    bn_threadpool_destroy(pool);
    free(work);
    free(wt);
    free(w);
    free(x);
    free(q);
}

BN_TEST(matmul_refuses_bad_arguments) {
    problem p = make_problem(3, 8, 256, 2);
    float y[16];
    const bn_tlayout L = BN_TLAYOUT_I2S;
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.w, 8, 200, p.ws, p.q, p.a, p.qs, 2, y, NULL), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.w, 8, 0, p.ws, p.q, p.a, p.qs, 2, y, NULL), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.w, 8, (int64_t)1 << 23, p.ws, p.q, p.a, p.qs, 2, y, NULL), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.w, -8, 256, p.ws, p.q, p.a, p.qs, 2, y, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.w, 8, 256, p.ws, p.q, p.a, p.qs, -2, y, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_i8((bn_tlayout)3, p.w, 8, 256, p.ws, p.q, p.a, p.qs, 2, y, NULL),
                    BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, NULL, 8, 256, p.ws, p.q, p.a, p.qs, 2, y, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.w, 8, 256, p.ws, NULL, p.a, p.qs, 2, y, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.w, 8, 256, p.ws, p.q, NULL, p.qs, 2, y, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.w, 8, 256, p.ws, p.q, p.a, NULL, 2, y, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.w, 8, 256, p.ws, p.q, p.a, p.qs, 2, NULL, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.w, 8, 256, NAN, p.q, p.a, p.qs, 2, y, NULL), BN_ERR_NUMERIC);
    BN_CHECK_STATUS(bn_tmatmul_i8(L, p.w, 8, 256, INFINITY, p.q, p.a, p.qs, 2, y, NULL), BN_ERR_NUMERIC);
    const float bad_a[][2] = {{1.0f, 0.0f}, {-1.0f, 1.0f}, {1.0f, NAN}, {INFINITY, 1.0f}};
    for (int i = 0; i < 4; i++) {
        BN_CHECK_STATUS(bn_tmatmul_i8(L, p.w, 8, 256, p.ws, p.q, bad_a[i], p.qs, 2, y, NULL), BN_ERR_NUMERIC);
        BN_CHECK(strstr(bn_last_error(), "a[") != NULL);
    }
    /* nothing to compute: fine, even with null buffers */
    BN_CHECK_OK(bn_tmatmul_i8(L, NULL, 0, 256, p.ws, NULL, NULL, NULL, 2, NULL, NULL));
    BN_CHECK_OK(bn_tmatmul_i8(L, NULL, 8, 256, p.ws, NULL, NULL, NULL, 0, NULL, NULL));
    size_t ws;
    BN_CHECK_STATUS(bn_tmatmul_f32_work_size(1, 100, &ws), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_f32_work_size(-1, 128, &ws), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_f32_work_size(1, 128, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_f32(L, p.w, 8, 256, p.ws, NULL, 2, y, y, sizeof y, NULL), BN_ERR_INVALID_ARGUMENT);
    free_problem(&p);
}
