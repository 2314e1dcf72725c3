/* TZ switching, shared by the retention planner and the cron scheduler. A ':' with an absolute path
 * makes glibc load exactly the file tz_zone_exists checked, whatever TZDIR says. */
#include "util/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/strv.h"
#include "util/xalloc.h"

#define TZ_ZONEINFO_DIR "/usr/share/zoneinfo"
#define TZ_QUOTE_MAX    64

bool tz_zone_exists(const char *name)
{
    char path[sizeof(TZ_ZONEINFO_DIR) + TZ_NAME_MAX + 2];
    char magic[4];
    struct stat st;
    bool ok = false;
    int fd;

    if (strcmp(name, "UTC") == 0)
        return true;
    if (name[0] == '\0' || strnlen(name, TZ_NAME_MAX + 1) > TZ_NAME_MAX || name[0] == '/' ||
        strstr(name, ".."))
        return false;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    (void)snprintf(path, sizeof(path), "%s/%s", TZ_ZONEINFO_DIR, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) && memcmp(magic, "TZif", 4) == 0)
        ok = true;
    close(fd);
    return ok;
}

int tz_switch(const char *name, struct tz_saved *saved, struct error *err)
{
    const char *old;
    char *value;
    char quoted[TZ_QUOTE_MAX];

    if (!name || !name[0]) {
        tzset();
        return 0;
    }
    /* "UTC0" is a POSIX TZ string, so UTC works even where tzdata is not installed. */
    if (strcmp(name, "UTC") == 0)
        value = xstrdup("UTC0");
    else
        value = xasprintf(":%s/%s", TZ_ZONEINFO_DIR, name);
    old = getenv("TZ");
    /* Already in force (an outer switch around a loop of cron_next calls): nothing to check, set
     * or restore, and glibc keeps the zone it loaded instead of reading the file again. */
    if (old && strcmp(old, value) == 0) {
        xfree(value);
        return 0;
    }
    if (!tz_zone_exists(name)) {
        xfree(value);
        return error_set(err, ERR_CONFIG, "unknown timezone '%s'",
                         strv_printable(strv_from(name), quoted, sizeof(quoted)));
    }
    saved->is_changed = true;
    saved->was_set = old != NULL;
    saved->value = old ? xstrdup(old) : NULL;
    /* setenv fails only without memory, which is fatal everywhere else (xalloc) too. */
    if (setenv("TZ", value, 1) != 0)
        error_assert_fail(__FILE__, __LINE__, "setenv TZ"); /* LCOV_EXCL_LINE: out of memory */
    xfree(value);
    tzset();
    return 0;
}

void tz_restore(struct tz_saved *saved)
{
    if (!saved->is_changed)
        return;
    if (saved->was_set ? setenv("TZ", saved->value, 1) != 0 : unsetenv("TZ") != 0)
        error_assert_fail(__FILE__, __LINE__, "restore TZ"); /* LCOV_EXCL_LINE: out of memory */
    tzset();
    xfree(saved->value);
    saved->value = NULL;
    saved->is_changed = false;
}
