#include "bitnet.h"

#define BN_STR2(x) #x
#define BN_STR(x) BN_STR2(x)

uint32_t bn_version(void) { return BN_VERSION; }

const char* bn_version_string(void) {
    return BN_STR(BN_VERSION_MAJOR) "." BN_STR(BN_VERSION_MINOR) "." BN_STR(BN_VERSION_PATCH);
}
