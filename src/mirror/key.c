/* Stub: being written (issue 4). */
#include "mirror/key.h"

const char *mirror_key_local_problem(const char *key, size_t len)
{
    (void)key;
    return len ? NULL : "empty key";
}

const char *mirror_key_s3_problem(const char *key, size_t len)
{
    (void)key;
    return len ? NULL : "empty key";
}
