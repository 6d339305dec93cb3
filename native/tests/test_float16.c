/* fp16 / bf16 conversions (quant/float16.c), against the hardware: F16C's vcvtps2ph / vcvtph2ps on x86, the
 * __fp16 conversions (fcvt) on arm64; bf16 against its definition on chosen values. */
#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("f16c"))) static uint16_t hw_to_fp16(float x) {
    return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(x), _MM_FROUND_TO_NEAREST_INT), 0);
}
__attribute__((target("f16c"))) static float hw_from_fp16(uint16_t h) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}
static int have_hw(void) { return (bn_cpu_features() & BN_CPU_F16C) != 0; }
#elif defined(__aarch64__)
static uint16_t hw_to_fp16(float x) {
    __fp16 h = (__fp16)x;
    uint16_t b;
    memcpy(&b, &h, 2);
    return b;
}
static float hw_from_fp16(uint16_t b) {
    __fp16 h;
    memcpy(&h, &b, 2);
    return (float)h;
}
static int have_hw(void) { return 1; }
#else
static uint16_t hw_to_fp16(float x) { return bn_fp32_to_fp16(x); }
static float hw_from_fp16(uint16_t h) { return bn_fp16_to_fp32(h); }
static int have_hw(void) { return 0; }
#endif

static uint32_t bits(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    return b;
}
static float from_bits(uint32_t b) {
    float x;
    memcpy(&x, &b, 4);
    return x;
}

BN_TEST(every_fp16_value_converts_to_float_exactly) {
    if (!have_hw()) {
        printf("no hardware fp16 conversion here: skipped\n");
        return;
    }
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float want = hw_from_fp16((uint16_t)h), got = bn_fp16_to_fp32((uint16_t)h);
        int nan = isnan(want);
        if (nan ? !isnan(got) || (bits(got) & 0x80000000u) != (bits(want) & 0x80000000u) : bits(want) != bits(got)) {
            if (bad++ < 5)
                bn_test_fail(__FILE__, __LINE__, "fp16 0x%04x: %a, hardware %a", h, (double)got, (double)want);
        }
        /* and back: every fp16 value round-trips exactly */
        if (!nan) BN_CHECK_EQ_I64(bn_fp32_to_fp16(got), h);
    }
}

BN_TEST(float_to_fp16_matches_hardware) {
    if (!have_hw()) {
        printf("no hardware fp16 conversion here: skipped\n");
        return;
    }
    int bad = 0;
    long checked = 0;
    /* (1) every float next to a rounding boundary: each fp16 value's float, the midpoints to its neighbour,
     * and one float either side of each of those */
    for (uint32_t h = 0; h < 0x7C00; h++) {
        const float lo = bn_fp16_to_fp32((uint16_t)h), hi = bn_fp16_to_fp32((uint16_t)(h + 1));
        const float mid = (float)(((double)lo + (double)hi) / 2.0); /* exact: fp16 values have few bits */
        const float probes[6] = {lo, mid, from_bits(bits(mid) + 1), from_bits(bits(mid) - 1), -mid,
                                 -from_bits(bits(mid) + 1)};
        for (int k = 0; k < 6; k++) {
            const float x = probes[k];
            const uint16_t want = hw_to_fp16(x), got = bn_fp32_to_fp16(x);
            checked++;
            if (want != got && bad++ < 5)
                bn_test_fail(__FILE__, __LINE__, "%a: 0x%04x, hardware 0x%04x", (double)x, got, want);
        }
    }
    /* (2) a stride through all 2^32 bit patterns (NaNs, infinities, huge and tiny values included) */
    for (uint64_t b = 0; b < (1ull << 32); b += 65521) {
        const float x = from_bits((uint32_t)b);
        const uint16_t want = hw_to_fp16(x), got = bn_fp32_to_fp16(x);
        checked++;
        if (want != got && bad++ < 5)
            bn_test_fail(__FILE__, __LINE__, "bits 0x%08x: 0x%04x, hardware 0x%04x", (unsigned)b, got, want);
    }
    printf("compared %ld conversions with the hardware\n", checked);
}

BN_TEST(fp16_known_values) {
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(1.0f), 0x3C00);
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(-2.0f), 0xC000);
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(65504.0f), 0x7BFF);
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(65519.996f), 0x7BFF);
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(65520.0f), 0x7C00); /* the midpoint ties to even: infinity */
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(0x1p-24f), 0x0001);  /* smallest subnormal */
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(0x1p-25f), 0x0000);  /* half of it: tie to even 0 */
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(0x1.8p-24f), 0x0002); /* 1.5 units: tie to even 2 */
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(0x1.000002p-25f), 0x0001);
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(0x1.ff8p-15f), 0x03FF);   /* largest subnormal, 1023 * 2^-24 */
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(0x1.ffbffep-15f), 0x03FF); /* just below the tie with 2^-14 */
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(0x1.ffcp-15f), 0x0400);   /* the tie: even is the smallest normal */
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(-0.0f), 0x8000);
    BN_CHECK_EQ_I64(bn_fp32_to_fp16(INFINITY), 0x7C00);
    BN_CHECK((bn_fp32_to_fp16(NAN) & 0x7E00) == 0x7E00);
    BN_CHECK(bn_fp16_to_fp32(0x0001) == 0x1p-24f);
    BN_CHECK(bn_fp16_to_fp32(0x7BFF) == 65504.0f);
    BN_CHECK(isnan(bn_fp16_to_fp32(0x7E00)));
}

BN_TEST(bf16_round_to_nearest_even) {
    BN_CHECK_EQ_I64(bn_fp32_to_bf16(1.0f), 0x3F80);
    BN_CHECK_EQ_I64(bn_fp32_to_bf16(from_bits(0x3F808000u)), 0x3F80); /* tie, even stays */
    BN_CHECK_EQ_I64(bn_fp32_to_bf16(from_bits(0x3F818000u)), 0x3F82); /* tie, odd rounds up */
    BN_CHECK_EQ_I64(bn_fp32_to_bf16(from_bits(0x3F808001u)), 0x3F81);
    BN_CHECK_EQ_I64(bn_fp32_to_bf16(from_bits(0x7F7FFFFFu)), 0x7F80); /* FLT_MAX rounds to infinity */
    BN_CHECK_EQ_I64(bn_fp32_to_bf16(-INFINITY), 0xFF80);
    BN_CHECK_EQ_I64(bn_fp32_to_bf16(from_bits(0x00018000u)), 0x0002); /* subnormal tie, odd up */
    BN_CHECK((bn_fp32_to_bf16(NAN) & 0x7FC0) == 0x7FC0);
    BN_CHECK((bn_fp32_to_bf16(from_bits(0x7F800001u)) & 0x7FC0) == 0x7FC0); /* a NaN never becomes infinity */
    /* against the definition on random floats: the nearer of the two bf16 neighbours, ties to even */
    uint64_t rng = 7;
    for (int i = 0; i < 100000; i++) {
        const uint32_t b = (uint32_t)bn_test_rand_u64(&rng) & 0x7F7FFFFFu;
        const float x = from_bits(b);
        const uint16_t lo = (uint16_t)(b >> 16), hi = (uint16_t)(lo + 1);
        /* above the largest bf16 the next step up is 2^128, where rounding overflows to infinity */
        const double vhi = hi == 0x7F80 ? ldexp(1.0, 128) : (double)bn_bf16_to_fp32(hi);
        const double dlo = (double)x - (double)bn_bf16_to_fp32(lo), dhi = vhi - (double)x;
        const uint16_t want = dlo < dhi ? lo : dhi < dlo ? hi : ((lo & 1) ? hi : lo);
        BN_CHECK_EQ_I64(bn_fp32_to_bf16(x), want);
        BN_CHECK(bn_bf16_to_fp32(bn_fp32_to_bf16(bn_bf16_to_fp32(lo))) == bn_bf16_to_fp32(lo));
    }
}
