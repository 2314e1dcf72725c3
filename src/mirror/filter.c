/* Stub: being written (issue 4). */
#include "mirror/filter.h"

#include <string.h>

#include "util/xalloc.h"

int mirror_filter_add(struct mirror_filter *f, bool is_include, const char *pattern,
                      struct error *err)
{
    (void)f;
    (void)is_include;
    (void)pattern;
    return error_set(err, ERR_CONFIG, "filters are not implemented yet");
}

void mirror_filter_release(struct mirror_filter *f)
{
    (void)f;
}

bool mirror_glob_match(const char *pattern, const char *key)
{
    return strcmp(pattern, key) == 0;
}

bool mirror_filter_allows(const struct mirror_filter *f, const char *key)
{
    (void)f;
    (void)key;
    return true;
}

bool mirror_filter_skips_prefix(const struct mirror_filter *f, const char *prefix)
{
    (void)f;
    (void)prefix;
    return false;
}
