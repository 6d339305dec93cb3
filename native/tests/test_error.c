#include <pthread.h>

#include <string.h>

#include "bn_test.h"
#include "core/error.h"

BN_TEST(status_strings_are_distinct) {
    for (int a = BN_OK; a <= BN_ERR_INTERNAL; a++) {
        BN_CHECK(strcmp(bn_status_string((bn_status)a), "unknown status") != 0);
        for (int b = a + 1; b <= BN_ERR_INTERNAL; b++)
            BN_CHECK(strcmp(bn_status_string((bn_status)a), bn_status_string((bn_status)b)) != 0);
    }
    BN_CHECK(strcmp(bn_status_string((bn_status)999), "unknown status") == 0);
}

static void* fail_in_thread(void* arg) {
    (void)arg;
    bn_threadpool* p = NULL;
    bn_threadpool_create(-5, &p);
    return (void*)(strstr(bn_last_error(), "-5") != NULL ? (void*)1 : NULL);
}

BN_TEST(last_error_is_thread_local) {
    bn_clear_error();
    BN_CHECK(bn_last_error()[0] == '\0');
    pthread_t t;
    void* ok = NULL;
    pthread_create(&t, NULL, fail_in_thread, NULL);
    pthread_join(t, &ok);
    BN_CHECK(ok != NULL);
    BN_CHECK(bn_last_error()[0] == '\0'); /* the other thread's failure is not ours */
    bn_threadpool* p = NULL;
    BN_CHECK_STATUS(bn_threadpool_create(5000, &p), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "5000") != NULL);
}

/* A failing path may pass a callee's message on inside its own (model.c, format.c do): bn_last_error() as an argument of
 * bn_fail, at the front of the new message or behind a prefix. */
BN_TEST(fail_can_wrap_the_last_error) {
    BN_CHECK(bn_fail(BN_ERR_SHAPE, "inner %d", 7) == BN_ERR_SHAPE);
    BN_CHECK(bn_fail(BN_ERR_FORMAT, "outer: %s (more)", bn_last_error()) == BN_ERR_FORMAT);
    BN_CHECK_MSG(strcmp(bn_last_error(), "outer: inner 7 (more)") == 0, "got '%s'", bn_last_error());
    bn_fail(BN_ERR_FORMAT, "%s, again", bn_last_error());
    BN_CHECK_MSG(strcmp(bn_last_error(), "outer: inner 7 (more), again") == 0, "got '%s'", bn_last_error());
}

BN_TEST(version_matches_header) {
    BN_CHECK_EQ_I64(bn_version(), BN_VERSION);
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", BN_VERSION_MAJOR, BN_VERSION_MINOR, BN_VERSION_PATCH);
    BN_CHECK(strcmp(bn_version_string(), expected) == 0);
}
