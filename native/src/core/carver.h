/* Internal: carving one allocation into 64-byte aligned pieces. An object lays out its buffers twice with the same
 * code: once with base NULL to measure (off = bytes needed), then over the allocated block. */
#ifndef BN_CORE_CARVER_H
#define BN_CORE_CARVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct carver {
    uint8_t* base; /* NULL while measuring */
    size_t off;
} carver;

static inline void* carve(carver* c, size_t bytes) {
    c->off = (c->off + 63) & ~(size_t)63;
    void* p = c->base ? c->base + c->off : NULL;
    c->off += bytes;
    return p;
}

#endif
