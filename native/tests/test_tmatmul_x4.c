/* BN_TLAYOUT_I2S_X4 (kernels/tmatmul.c): its byte order checked against the definition in bitnet.h written out here,
 * pack/unpack/relayout, every variant's X4 kernels against the I2_S scalar reference on the same codes bit for bit
 * (gemv, gemm, row subranges, the 2B4T shapes), the public call through every dispatch choice and threads, the
 * preferred-layout query and the refusals. */
#include <stdlib.h>

#include "bn_test.h"
#include "kernels/kernels.h"

#define BN_TM_VARIANTS_LAYOUT x4
#define BN_TM_VARIANTS_WITH_SCALAR 1
#include "tmatmul_variants.h"

/* A random ternary matrix, packed as I2_S (the reference) and as I2S_X4. */
typedef struct mats {
    int64_t M, K;
    uint8_t *i2s, *x4;
} mats;

static mats make_mats(uint64_t* rng, int64_t M, int64_t K) {
    mats m = {M, K, malloc((size_t)(M * K / 4)), malloc((size_t)(M * K / 4))};
    int8_t* w = malloc((size_t)(M * K));
    for (int64_t i = 0; i < M * K; i++) w[i] = (int8_t)(bn_test_rand_u64(rng) % 3) - 1;
    BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S, w, M, K, m.i2s, (size_t)(M * K / 4)));
    BN_CHECK_OK(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S_X4, w, M, K, m.x4, (size_t)(M * K / 4)));
    free(w);
    return m;
}

static void free_mats(mats* m) {
    free(m->i2s);
    free(m->x4);
}

BN_TEST(layout_matches_its_definition) {
    /* bitnet.h: bytes 64c..64c+63 of I2_S row r sit at (r/4)*K + 256c + 64*(r%4) */
    uint64_t rng = 11;
    const int64_t shapes[][2] = {{4, 256}, {8, 512}, {12, 2560}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        mats m = make_mats(&rng, shapes[s][0], shapes[s][1]);
        const int64_t K = m.K;
        int bad = 0;
        for (int64_t r = 0; r < m.M; r++)
            for (int64_t c = 0; c < K / 256; c++)
                bad |= memcmp(m.x4 + (r / 4) * K + 256 * c + 64 * (r % 4), m.i2s + r * (K / 4) + 64 * c, 64) != 0;
        BN_CHECK_MSG(!bad, "%lld x %lld", (long long)m.M, (long long)K);
        size_t bytes = 0;
        BN_CHECK_OK(bn_tmatmul_packed_size(BN_TLAYOUT_I2S_X4, m.M, K, &bytes));
        BN_CHECK_EQ_I64((int64_t)bytes, m.M * K / 4);
        free_mats(&m);
    }
}

BN_TEST(relayout_and_unpack_round_trip) {
    uint64_t rng = 12;
    mats m = make_mats(&rng, 36, 768);
    const size_t n = (size_t)(m.M * m.K / 4);
    uint8_t* w = malloc(n);
    memcpy(w, m.i2s, n);
    BN_CHECK_OK(bn_tmatmul_relayout(BN_TLAYOUT_I2S, BN_TLAYOUT_I2S_X4, w, m.M, m.K));
    BN_CHECK(memcmp(w, m.x4, n) == 0);
    BN_CHECK_OK(bn_tmatmul_relayout(BN_TLAYOUT_I2S_X4, BN_TLAYOUT_I2S, w, m.M, m.K));
    BN_CHECK(memcmp(w, m.i2s, n) == 0);
    BN_CHECK_OK(bn_tmatmul_relayout(BN_TLAYOUT_I2S, BN_TLAYOUT_I2S, w, m.M, m.K)); /* same layout: unchanged */
    BN_CHECK(memcmp(w, m.i2s, n) == 0);
    int8_t* a = malloc((size_t)(m.M * m.K));
    int8_t* b = malloc((size_t)(m.M * m.K));
    BN_CHECK_OK(bn_tmatmul_unpack_i8(BN_TLAYOUT_I2S, m.i2s, m.M, m.K, a, (size_t)(m.M * m.K)));
    BN_CHECK_OK(bn_tmatmul_unpack_i8(BN_TLAYOUT_I2S_X4, m.x4, m.M, m.K, b, (size_t)(m.M * m.K)));
    BN_CHECK(memcmp(a, b, (size_t)(m.M * m.K)) == 0);
    free(a);
    free(b);
    free(w);
    free_mats(&m);
}

/* Every variant's X4 gemv (T == 1) and gemm on rows [r0, M) against the I2_S scalar reference on the same codes. */
static void compare(uint64_t seed, int64_t M, int64_t K, int64_t T, int64_t r0) {
    uint64_t rng = seed;
    mats m = make_mats(&rng, M, K);
    int8_t* q = malloc((size_t)(T * K));
    int32_t* qs = malloc(sizeof(int32_t) * (size_t)T);
    float* a = malloc(sizeof(float) * (size_t)T);
    fill_q(&rng, q, (size_t)(T * K));
    sums(q, T, K, qs);
    for (int64_t t = 0; t < T; t++) a[t] = bn_test_rand_float(&rng, 0.5f, 300.0f);
    const float ws = bn_test_rand_float(&rng, 0.1f, 2.0f);
    check_variants(bn_tmatmul_i2_gemv_scalar, bn_tmatmul_i2_gemm_scalar, m.i2s, m.x4, M, K, T, r0, q, qs, a, ws);
    free(q);
    free(qs);
    free(a);
    free_mats(&m);
}

BN_TEST(variants_match_i2s_scalar_small_shapes) {
    const int64_t Ks[] = {256, 512, 768, 16640}; /* 16640: past the AVX-512 whole-line GEMV's stack buffer */
    const int64_t Ms[] = {4, 8, 12, 68};
    const int64_t Ts[] = {1, 2, 3, 5, 17};
    uint64_t seed = 1;
    for (size_t i = 0; i < sizeof Ks / sizeof Ks[0]; i++)
        for (size_t j = 0; j < sizeof Ms / sizeof Ms[0]; j++)
            for (size_t k = 0; k < sizeof Ts / sizeof Ts[0]; k++) compare(seed++, Ms[j], Ks[i], Ts[k], 0);
}

BN_TEST(variants_match_i2s_scalar_on_row_subranges) {
    const int64_t r0s[] = {4, 16, 60}; /* threads hand out ranges of whole groups */
    for (size_t i = 0; i < sizeof r0s / sizeof r0s[0]; i++) {
        compare(100 + i, 68, 512, 1, r0s[i]);
        compare(200 + i, 68, 512, 5, r0s[i]);
    }
}

BN_TEST(variants_match_i2s_scalar_2b4t_shapes) {
    const int64_t shapes[][2] = {{2560, 2560}, {640, 2560}, {6912, 2560}, {2560, 6912}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        compare(300 + s, shapes[s][0], shapes[s][1], 1, 0);
        compare(400 + s, shapes[s][0], shapes[s][1], 4, 0);
    }
}

BN_TEST(public_call_equals_i2s_in_every_dispatch_choice_and_thread_count) {
    uint64_t rng = 13;
    mats m = make_mats(&rng, 132, 1024);
    const int64_t T = 6;
    int8_t* q = malloc((size_t)(T * m.K));
    int32_t qs[6] = {0};
    float a[6];
    for (int64_t i = 0; i < T * m.K; i++) {
        q[i] = (int8_t)bn_test_rand_u64(&rng);
        qs[i / m.K] += q[i];
    }
    for (int64_t t = 0; t < T; t++) a[t] = bn_test_rand_float(&rng, 1.0f, 100.0f);
    float* ref = malloc(sizeof(float) * (size_t)(m.M * T));
    float* got = malloc(sizeof(float) * (size_t)(m.M * T));
    bn_threadpool* pool = NULL;
    BN_CHECK_OK(bn_threadpool_create(2, &pool));
    for (int64_t tt = 1; tt <= T; tt += T - 1) { /* the GEMV and the GEMM path */
        BN_CHECK_OK(bn_cpu_set_enabled(0));
        BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S, m.i2s, m.M, m.K, 0.37f, q, a, qs, tt, ref, NULL));
        for (int v = 0; v < N_VARIANTS; v++) {
            if (!runs(&g_variants[v])) continue;
            BN_CHECK_OK(bn_cpu_set_enabled(g_variants[v].needs));
            check_ops_chose("tmatmul_x4_", &g_variants[v]);
            for (int p = 0; p < 2; p++) {
                BN_CHECK_OK(bn_tmatmul_i8(BN_TLAYOUT_I2S_X4, m.x4, m.M, m.K, 0.37f, q, a, qs, tt, got, p ? pool : NULL));
                BN_CHECK_MSG(first_diff(ref, got, m.M * tt) < 0, "%s T=%lld threads=%d", g_variants[v].name,
                             (long long)tt, p + 1);
            }
        }
    }
    BN_CHECK_OK(bn_cpu_set_enabled(UINT64_MAX));
    bn_threadpool_destroy(pool);
    free(q);
    free(ref);
    free(got);
    free_mats(&m);
}

BN_TEST(preferred_layout) {
    bn_tlayout l = BN_TLAYOUT_TQ1;
    BN_CHECK_OK(bn_tmatmul_preferred_layout(2560, 2560, &l));
#if defined(__x86_64__)
    /* x86 with any vector kernel prefers the interleaved rows; scalar-only dispatch keeps I2_S */
    BN_CHECK(l == ((bn_cpu_features() & X86_AVX2) == X86_AVX2 ? BN_TLAYOUT_I2S_X4 : BN_TLAYOUT_I2S));
#else
    BN_CHECK(l == BN_TLAYOUT_I2S);
#endif
    BN_CHECK_OK(bn_tmatmul_preferred_layout(6, 2560, &l)); /* rows not in groups of 4 */
    BN_CHECK(l == BN_TLAYOUT_I2S);
    BN_CHECK_OK(bn_tmatmul_preferred_layout(8, 384, &l)); /* K not a multiple of 256 */
    BN_CHECK(l == BN_TLAYOUT_I2S);
    BN_CHECK_STATUS(bn_tmatmul_preferred_layout(8, 100, &l), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_preferred_layout(8, 256, NULL), BN_ERR_INVALID_ARGUMENT);
}

BN_TEST(refuses_shapes_and_pairs_it_cannot_hold) {
    size_t bytes;
    uint8_t w[6 * 64] = {0};
    int8_t q[256] = {0};
    float a = 1.0f, y[8];
    int32_t qs = 0;
    BN_CHECK_STATUS(bn_tmatmul_packed_size(BN_TLAYOUT_I2S_X4, 6, 256, &bytes), BN_ERR_SHAPE); /* rows % 4 */
    BN_CHECK(strstr(bn_last_error(), "multiple of 4") != NULL);
    BN_CHECK_STATUS(bn_tmatmul_packed_size(BN_TLAYOUT_I2S_X4, 4, 128, &bytes), BN_ERR_SHAPE); /* K % 256 */
    BN_CHECK(strstr(bn_last_error(), "I2S_X4") != NULL);
    BN_CHECK_STATUS(bn_tmatmul_i8(BN_TLAYOUT_I2S_X4, w, 6, 256, 1.0f, q, &a, &qs, 1, y, NULL), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_relayout(BN_TLAYOUT_I2S, BN_TLAYOUT_I2S_X4, w, 6, 256), BN_ERR_SHAPE);
    BN_CHECK_STATUS(bn_tmatmul_relayout(BN_TLAYOUT_I2S, BN_TLAYOUT_TQ1, w, 4, 256), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_relayout(BN_TLAYOUT_I2S, (bn_tlayout)7, w, 4, 256), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_tmatmul_relayout(BN_TLAYOUT_I2S, BN_TLAYOUT_I2S_X4, NULL, 4, 256), BN_ERR_INVALID_ARGUMENT);
    int8_t bad[4 * 256] = {0};
    bad[1000] = 2;
    BN_CHECK_STATUS(bn_tmatmul_pack_i8(BN_TLAYOUT_I2S_X4, bad, 4, 256, w, sizeof w), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "row 3, column 232") != NULL);
}

