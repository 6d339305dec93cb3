/* Test helper: reads a whole little-endian safetensors file (8-byte header length, JSON header, tensor bytes)
 * and finds tensors by name. Enough for the fixtures (flat header, simple names); not a general JSON parser. */
#ifndef BN_TEST_SAFETENSORS_READER_H
#define BN_TEST_SAFETENSORS_READER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct st_blob {
    unsigned char* bytes;
    size_t size, data_start;
    char* json; /* NUL-terminated copy of the header */
} st_blob;

typedef struct st_view {
    char dtype[8];
    int64_t shape[4];
    int rank;
    const void* data;
    size_t nbytes;
} st_view;

static inline int st_blob_open(const char* path, st_blob* b) {
    memset(b, 0, sizeof *b);
    FILE* f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    b->bytes = malloc((size_t)size);
    int ok = size > 8 && b->bytes && fread(b->bytes, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    uint64_t hl = 0;
    if (ok) memcpy(&hl, b->bytes, 8);
    if (!ok || hl > (uint64_t)size - 8) {
        free(b->bytes);
        b->bytes = NULL;
        return 0;
    }
    b->size = (size_t)size;
    b->data_start = 8 + (size_t)hl;
    b->json = malloc((size_t)hl + 1);
    memcpy(b->json, b->bytes + 8, (size_t)hl);
    b->json[hl] = '\0';
    return 1;
}

static inline void st_blob_close(st_blob* b) { free(b->bytes), free(b->json); }

/* Up to max integers of the JSON array starting at p ('['); returns how many, -1 if malformed. */
static inline int st_ints(const char* p, int64_t* out, int max) {
    if (*p != '[') return -1;
    int n = 0;
    for (p++;;) {
        while (*p == ' ') p++;
        if (*p == ']') return n;
        char* end;
        long long v = strtoll(p, &end, 10);
        if (end == p || n == max) return -1;
        out[n++] = v;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
    }
}

static inline int st_find(const st_blob* b, const char* name, st_view* v) {
    char pat[256];
    snprintf(pat, sizeof pat, "\"%s\":", name);
    const char* obj = strstr(b->json, pat);
    if (!obj) return 0;
    obj += strlen(pat);
    const char* end = strchr(obj, '}');
    const char* dt = strstr(obj, "\"dtype\":\"");
    const char* sh = strstr(obj, "\"shape\":");
    const char* off = strstr(obj, "\"data_offsets\":");
    if (!end || !dt || !sh || !off || dt > end || sh > end || off > end) return 0;
    dt += strlen("\"dtype\":\"");
    size_t len = strcspn(dt, "\"");
    if (len >= sizeof v->dtype) return 0;
    memcpy(v->dtype, dt, len);
    v->dtype[len] = '\0';
    int64_t offs[2];
    v->rank = st_ints(sh + strlen("\"shape\":"), v->shape, 4);
    if (v->rank < 0 || st_ints(off + strlen("\"data_offsets\":"), offs, 2) != 2) return 0;
    if (offs[0] < 0 || offs[1] < offs[0] || b->data_start + (size_t)offs[1] > b->size) return 0;
    v->data = b->bytes + b->data_start + offs[0];
    v->nbytes = (size_t)(offs[1] - offs[0]);
    return 1;
}

#endif
