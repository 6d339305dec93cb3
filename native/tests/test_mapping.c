/* bn_mapping_release: mapped pages leave the resident set and read back unchanged. */
#include "bn_test.h"

#include <stdlib.h>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

/* Resident pages of this process (second field of /proc/self/statm). */
static long resident_pages(void) {
    FILE* f = fopen("/proc/self/statm", "r");
    long size = 0, resident = -1;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
        fclose(f);
    }
    return resident;
}

BN_TEST(released_pages_leave_rss_and_read_back) {
    const size_t len = (size_t)32 << 20;
    char path[] = "/tmp/bn_mapping_XXXXXX";
    int fd = mkstemp(path);
    BN_CHECK(fd >= 0);
    if (fd < 0) return;
    unlink(path);
    unsigned char* data = malloc(1 << 20);
    BN_CHECK(data != NULL);
    uint64_t rng = 7;
    for (int i = 0; i < (1 << 20); i++) data[i] = (unsigned char)bn_test_rand_u64(&rng);
    for (size_t off = 0; off < len; off += (size_t)1 << 20) BN_CHECK(write(fd, data, (size_t)1 << 20) == 1 << 20);
    const unsigned char* map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    BN_CHECK(map != MAP_FAILED);
    if (map == MAP_FAILED) { close(fd); free(data); return; }

    uint64_t sum = 0;
    for (size_t i = 0; i < len; i += 64) sum += map[i];
    long touched = resident_pages();
    long page = sysconf(_SC_PAGESIZE);
    BN_CHECK_OK(bn_mapping_release(map, len));
    long released = resident_pages();
    /* 32 MiB of touched pages: at least 3/4 of them must have left. */
    BN_CHECK_MSG(touched - released >= (long)(len / (size_t)page) * 3 / 4,
                 "resident pages %ld -> %ld after releasing %zu bytes", touched, released, len);

    uint64_t again = 0;
    for (size_t i = 0; i < len; i += 64) again += map[i];
    BN_CHECK(again == sum);
    BN_CHECK(memcmp(map + ((size_t)5 << 20), data, 1 << 20) == 0);

    /* Unaligned ranges release only whole pages inside them: the edges stay readable and equal. */
    BN_CHECK_OK(bn_mapping_release(map + 100, (size_t)page * 3));
    BN_CHECK(memcmp(map, data, 1 << 20) == 0);
    munmap((void*)map, len);
    close(fd);
    free(data);
}
#endif

BN_TEST(arguments) {
    BN_CHECK(bn_mapping_release(NULL, 4096) == BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "NULL") != NULL);
    BN_CHECK_OK(bn_mapping_release(NULL, 0));
    int x = 0;
    BN_CHECK_OK(bn_mapping_release(&x, sizeof x)); /* no whole page inside: nothing to do */
}
