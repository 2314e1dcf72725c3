/* Local time in a named IANA zone through glibc: TZ is pointed at the zone file, tzset() runs, the
 * caller uses localtime_r, and TZ is put back. This touches the process environment, so it must not
 * run while another thread reads TZ (retention and the scheduler run on one thread). */
#ifndef PERMAFROST_UTIL_TZ_H
#define PERMAFROST_UTIL_TZ_H

#include <stdbool.h>

#include "util/error.h"

#define TZ_NAME_MAX 255

/* The process's TZ as it was before tz_switch changed it. */
struct tz_saved {
    bool is_changed;
    bool was_set;
    char *value;
};

#define TZ_SAVED_INIT                                                                              \
    {                                                                                              \
        false, false, NULL                                                                         \
    }

/* True when name is "UTC" or a zone in the system's tz database: a relative path inside
 * /usr/share/zoneinfo that names a TZif file. glibc silently falls back to UTC on a name it cannot
 * load, hence the check. */
bool tz_zone_exists(const char *name);

/* Makes name the zone of localtime_r until tz_restore(saved). NULL or "" means the machine's local
 * time: TZ is left alone (tzset() still runs, so a changed TZ is seen). "UTC" works without tzdata.
 * Returns 0, or -1 with err (ERR_CONFIG "unknown timezone 'NAME'") and nothing changed. saved must
 * be TZ_SAVED_INIT; tz_restore is safe to call either way. */
int tz_switch(const char *name, struct tz_saved *saved, struct error *err);

/* Puts TZ back as it was before tz_switch; does nothing when nothing was changed. */
void tz_restore(struct tz_saved *saved);

#endif
