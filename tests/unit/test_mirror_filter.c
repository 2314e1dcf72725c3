/* mirror/filter.c and mirror/key.c. */
#include <string.h>

#include "mirror/filter.h"
#include "mirror/key.h"
#include "unit.h"

static void test_mirror_glob_placeholder(void)
{
    CHECK(mirror_glob_match("a", "a"));
}

const struct unit_test mirror_filter_tests[] = {
    {"mirror_glob_placeholder", test_mirror_glob_placeholder},
    {NULL, NULL},
};
