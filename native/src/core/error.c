#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#if defined(_MSC_VER)
#  define BN_THREAD_LOCAL __declspec(thread)
#else
#  define BN_THREAD_LOCAL _Thread_local
#endif

static BN_THREAD_LOCAL char tl_last_error[1024];

bn_status bn_fail(bn_status status, const char* fmt, ...) {
    /* formatted aside first: an argument may be bn_last_error() itself (a message wrapped in more context) */
    char msg[sizeof tl_last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(tl_last_error, msg, sizeof msg);
    return status;
}

const char* bn_last_error(void) { return tl_last_error; }

void bn_clear_error(void) { tl_last_error[0] = '\0'; }

const char* bn_status_string(bn_status status) {
    switch (status) {
    case BN_OK: return "ok";
    case BN_ERR_INVALID_ARGUMENT: return "invalid argument";
    case BN_ERR_OUT_OF_MEMORY: return "out of memory";
    case BN_ERR_INVALID_POINTER: return "invalid pointer";
    case BN_ERR_UNSUPPORTED: return "unsupported";
    case BN_ERR_SHAPE: return "shape mismatch";
    case BN_ERR_NUMERIC: return "non-finite value";
    case BN_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case BN_ERR_FORMAT: return "malformed data";
    case BN_ERR_IO: return "i/o error";
    case BN_ERR_LEAK: return "memory leaked";
    case BN_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}
