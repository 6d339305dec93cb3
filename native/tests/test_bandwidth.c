/* bn_measure_read_bandwidth: a positive, consistent rate and clear argument errors. */
#include "bn_test.h"

BN_TEST(measures_a_positive_rate_with_and_without_a_pool) {
    double median = 0, best = 0;
    BN_CHECK_OK(bn_measure_read_bandwidth(NULL, 16 << 20, 3, &median, &best));
    BN_CHECK_MSG(median > 0.05 && best >= median, "median %g best %g GB/s", median, best);
    bn_threadpool* pool = NULL;
    BN_CHECK_OK(bn_threadpool_create(2, &pool));
    double m2 = 0;
    BN_CHECK_OK(bn_measure_read_bandwidth(pool, (16 << 20) + 100, 2, &m2, NULL)); /* odd size, no best */
    BN_CHECK(m2 > 0.05);
    BN_CHECK_OK(bn_threadpool_destroy(pool));
}

BN_TEST(arguments) {
    double m = -1;
    BN_CHECK_STATUS(bn_measure_read_bandwidth(NULL, 1000, 3, &m, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(strstr(bn_last_error(), "1 MiB") != NULL);
    BN_CHECK_STATUS(bn_measure_read_bandwidth(NULL, 1 << 20, 0, &m, NULL), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK(m == -1);
}
