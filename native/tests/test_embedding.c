/* Embedding lookup (kernels/embedding.c): every stored type gives the rows bn_dtype_dequantize gives, token by
 * token; an id outside the vocabulary is an error that names it and writes nothing. */
#include <stdlib.h>

#include "bn_test.h"
#include "safetensors_reader.h"

BN_TEST(rows_of_every_type) {
    enum { V = 13, C = 256, T = 6 };
    const bn_dtype types[] = {BN_DTYPE_F32, BN_DTYPE_F16, BN_DTYPE_BF16, BN_DTYPE_Q8_0, BN_DTYPE_Q6_K};
    uint64_t rng = 17;
    float* w = malloc(V * C * sizeof *w);
    float* deq = malloc(V * C * sizeof *deq);
    float out[T * C];
    const int32_t ids[T] = {0, 12, 5, 5, 7, 1};
    for (int i = 0; i < V * C; i++) w[i] = bn_test_rand_float(&rng, -1.0f, 1.0f);
    for (int ti = 0; ti < 5; ti++) {
        int64_t rb;
        BN_CHECK_OK(bn_dtype_row_size(types[ti], C, &rb));
        uint8_t* table = malloc((size_t)(V * rb));
        BN_CHECK_OK(bn_dtype_quantize_ref(types[ti], w, V, C, table, V * rb));
        BN_CHECK_OK(bn_dtype_dequantize(types[ti], table, V * rb, V, C, deq));
        BN_CHECK_OK(bn_embedding_lookup(types[ti], table, V, C, ids, T, out));
        for (int t = 0; t < T; t++)
            BN_CHECK_MSG(memcmp(out + t * C, deq + ids[t] * C, C * sizeof *out) == 0, "type %d token %d", (int)types[ti], t);
        if (types[ti] == BN_DTYPE_F32) BN_CHECK(memcmp(out + C, w + 12 * C, C * sizeof *out) == 0);
        free(table);
    }
    free(w), free(deq);
}

BN_TEST(out_of_range_id_is_an_error_naming_it) {
    enum { V = 4, C = 8 };
    uint16_t table[V * C] = {0};
    float out[3 * C];
    for (int i = 0; i < 3 * C; i++) out[i] = 42.0f;
    const int32_t ids[3] = {1, 4, 0};
    BN_CHECK_STATUS(bn_embedding_lookup(BN_DTYPE_BF16, table, V, C, ids, 3, out), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_MSG(strstr(bn_last_error(), "token id 4 at position 1") != NULL, "message: %s", bn_last_error());
    for (int i = 0; i < 3 * C; i++) BN_CHECK(out[i] == 42.0f);
    const int32_t neg[1] = {-3};
    BN_CHECK_STATUS(bn_embedding_lookup(BN_DTYPE_F16, table, V, C, neg, 1, out), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "-3") != NULL);
    BN_CHECK_STATUS(bn_embedding_lookup(BN_DTYPE_Q6_K, table, V, C, ids, 1, out), BN_ERR_SHAPE); /* C % 256 */
    BN_CHECK_STATUS(bn_embedding_lookup((bn_dtype)99, table, V, C, ids, 1, out), BN_ERR_INVALID_ARGUMENT);
}

BN_TEST(fixture_embedding_equals_hf_hidden_state_0) {
    /* HF's hidden_state.0 is embed_tokens(input_ids): our lookup of the master F32 table must equal it exactly */
    st_blob model = {0}, ref = {0};
    const int ok = st_blob_open(BN_FIXTURES_DIR "/bitnet-tiny/master/model.safetensors", &model) &&
                   st_blob_open(BN_FIXTURES_DIR "/bitnet-tiny/reference-master.safetensors", &ref);
    BN_CHECK_MSG(ok, "cannot read the bitnet-tiny fixture under %s", BN_FIXTURES_DIR);
    if (!ok) {
        st_blob_close(&model), st_blob_close(&ref);
        return;
    }
    st_view E = {0}, ids = {0}, h0 = {0};
    const int found = st_find(&model, "model.embed_tokens.weight", &E) && strcmp(E.dtype, "F32") == 0 &&
                      E.rank == 2 && st_find(&ref, "input_ids", &ids) && strcmp(ids.dtype, "I32") == 0 &&
                      st_find(&ref, "hidden_state.0", &h0) && strcmp(h0.dtype, "F32") == 0;
    BN_CHECK_MSG(found, "fixture tensors missing or of unexpected types");
    if (!found) {
        st_blob_close(&model), st_blob_close(&ref);
        return;
    }
    const int64_t T = ids.shape[1], C = E.shape[1];
    BN_CHECK_EQ_I64(h0.shape[0] * h0.shape[1], T * C);
    float* out = malloc((size_t)(T * C) * sizeof *out);
    int32_t* id = malloc((size_t)T * sizeof *id);
    memcpy(id, ids.data, (size_t)T * sizeof *id);
    BN_CHECK_OK(bn_embedding_lookup(BN_DTYPE_F32, E.data, E.shape[0], C, id, T, out));
    BN_CHECK(memcmp(out, h0.data, (size_t)(T * C) * sizeof *out) == 0);
    free(out), free(id);
    st_blob_close(&model), st_blob_close(&ref);
}
