/* fp16/bf16 -> float row conversions (kernels/convert*.c): every vector version equals the scalar one bit for
 * bit on every non-NaN fp16 value and on random bf16 values, at every tail length. */
#include <stdlib.h>

#include "forward_variants.h"

BN_TEST(all_fp16_values) {
    fv_variant v[4];
    int nv = fv_variants(v);
    bn_kernel_table s = fv_scalar();
    uint16_t* h = malloc(65536 * sizeof *h);
    float *a = malloc(65536 * sizeof *a), *b = malloc(65536 * sizeof *b);
    int64_t n = 0;
    for (uint32_t i = 0; i < 65536; i++)
        if (((i >> 10) & 0x1F) != 0x1F || (i & 0x3FF) == 0) h[n++] = (uint16_t)i; /* NaN payloads: hardware quiets */
    s.cvt_f16_f32(h, n, a);
    for (int k = 0; k < nv; k++)
        for (int64_t len = n - 17; len <= n; len++) {
            memset(b, 0, (size_t)n * sizeof *b);
            v[k].t.cvt_f16_f32(h, len, b);
            BN_CHECK_MSG(memcmp(a, b, (size_t)len * sizeof *a) == 0, "%s fp16 len=%lld", v[k].name, (long long)len);
            BN_CHECK_MSG(len == n || b[len] == 0.0f, "%s wrote past len %lld", v[k].name, (long long)len);
        }
    free(h), free(a), free(b);
}

BN_TEST(bf16_values) {
    fv_variant v[4];
    int nv = fv_variants(v);
    bn_kernel_table s = fv_scalar();
    uint64_t rng = 4;
    uint16_t h[300];
    float a[300], b[300];
    for (int i = 0; i < 300; i++) h[i] = (uint16_t)bn_test_rand_u64(&rng);
    s.cvt_bf16_f32(h, 300, a);
    for (int i = 0; i < 300; i++) BN_CHECK(memcmp(&a[i], &(uint32_t){(uint32_t)h[i] << 16}, 4) == 0);
    for (int k = 0; k < nv; k++)
        for (int len = 0; len <= 40; len++) {
            v[k].t.cvt_bf16_f32(h + 3, len, b);
            BN_CHECK_MSG(memcmp(a + 3, b, (size_t)len * sizeof *a) == 0, "%s bf16 len=%d", v[k].name, len);
        }
}
