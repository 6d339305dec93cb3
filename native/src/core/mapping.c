/* Residency hints for memory-mapped model files (bitnet.h, "Memory pool"). */
#include "bitnet.h"
#include "core/error.h"

#include <stdint.h>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#endif

bn_status bn_mapping_release(const void* addr, size_t len) {
    if (len == 0) return BN_OK;
    if (!addr) return bn_fail(BN_ERR_INVALID_ARGUMENT, "bn_mapping_release: addr is NULL");
#if defined(__unix__) || defined(__APPLE__)
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return BN_OK;
    /* Only pages wholly inside the range: a neighbour tensor sharing the edge pages keeps them. */
    uintptr_t begin = ((uintptr_t)addr + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t end = ((uintptr_t)addr + len) & ~((uintptr_t)page - 1);
    if (end <= begin) return BN_OK;
    /* MADV_DONTNEED on a clean, read-only file mapping drops the pages from this process; their contents stay
     * the file's, so a later read faults them back in unchanged. */
    if (madvise((void*)begin, end - begin, MADV_DONTNEED) != 0)
        return bn_fail(BN_ERR_INVALID_ARGUMENT, "bn_mapping_release: madvise failed on [%p, +%zu): not a mapping?",
                       (void*)begin, (size_t)(end - begin));
#endif
    return BN_OK;
}
