/* Internal: how a failing call records its message. */
#ifndef BN_CORE_ERROR_H
#define BN_CORE_ERROR_H

#include "bitnet.h"

/* Records "<message>" as this thread's last error and returns status, so a failing path reads
 *   return bn_fail(BN_ERR_SHAPE, "n (%lld) is not a multiple of %d", (long long)n, 256);
 * An argument may be bn_last_error() itself, to pass a callee's message on with more context. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
bn_status bn_fail(bn_status status, const char* fmt, ...);

/* Guards for the top of public functions. */
#define BN_REQUIRE_ARG(cond, ...)                                                          \
    do {                                                                                   \
        if (!(cond)) return bn_fail(BN_ERR_INVALID_ARGUMENT, __VA_ARGS__);                 \
    } while (0)

#endif
