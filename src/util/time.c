#include "util/time.h"

#include <stdio.h>
#include <string.h>

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void time_format_iso(time_t t, char out[TIME_ISO_LEN])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    (void)strftime(out, TIME_ISO_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void time_format_compact(time_t t, char out[TIME_ISO_LEN])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    (void)strftime(out, TIME_ISO_LEN, "%Y%m%dT%H%M%SZ", &tm);
}

/* True when s has exactly the digits and separators of pattern ('9' = a digit). */
static bool time_matches(const char *s, const char *pattern)
{
    for (; *pattern; pattern++, s++) {
        if (*pattern == '9' ? (*s < '0' || *s > '9') : *s != *pattern)
            return false;
    }
    return *s == '\0';
}

bool time_parse_utc(const char *s, time_t *out)
{
    struct tm tm;
    const char *end;

    /* strptime alone accepts blanks, one-digit fields and seconds up to 61: check the shape first.
     */
    if (!time_matches(s, "9999-99-99T99:99:99Z") && !time_matches(s, "99999999T999999Z"))
        return false;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) {
        memset(&tm, 0, sizeof(tm));
        end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
        if (!end || *end)
            return false;
    }
    if (tm.tm_sec > 59)
        return false;
    *out = timegm(&tm);
    return *out != (time_t)-1;
}

void time_format_duration(int64_t ms, char out[TIME_ISO_LEN])
{
    if (ms < 0)
        ms = 0;
    if (ms < 60000) {
        snprintf(out, TIME_ISO_LEN, "%d.%d s", (int)(ms / 1000), (int)(ms % 1000 / 100));
    } else if (ms < 3600000) {
        snprintf(out, TIME_ISO_LEN, "%d min %d s", (int)(ms / 60000), (int)(ms % 60000 / 1000));
    } else {
        snprintf(out, TIME_ISO_LEN, "%d h %d min", (int)(ms / 3600000),
                 (int)(ms % 3600000 / 60000));
    }
}
