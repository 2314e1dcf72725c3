/* mirror/mirror.c: the pure parts (merge decisions, partitions). */
#include <string.h>

#include "mirror/mirror.h"
#include "unit.h"

static void test_mirror_request_names(void)
{
    CHECK_STR_EQ(mirror_request_name(MIRROR_REQ_DELETE), "DELETE");
}

const struct unit_test mirror_tests[] = {
    {"mirror_request_names", test_mirror_request_names},
    {NULL, NULL},
};
