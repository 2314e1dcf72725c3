/* The retention planner. It follows restic's `forget`: items are walked newest first, `last N`
 * keeps the N newest, and each bucket kind keeps the newest item of each new bucket until it has
 * kept N buckets. Buckets are calendar units in local time of the job's timezone, so "daily" means
 * the day as the operator sees it, DST included.
 *
 * Notes on the choices made here:
 * - A negative count in the policy means "unlimited" (restic's -1). The config parser does not
 *   produce one today; treating it as unlimited keeps more, never less.
 * - Buckets are tracked as a set of kept bucket keys rather than restic's "differs from the last
 *   one". The two agree while local time only moves forward; they differ where a zone turns its
 *   clocks back across a bucket edge (Brazil used to fall back at midnight, so 23:xx of the
 *   previous day came again), and there only the set keeps one item per bucket.
 * - Local time comes from glibc through util/tz.h (TZ pointed at the zone file, then restored), so
 *   it must not run while another thread reads TZ (the planner runs on the scheduler's one
 *   thread). */

#include "core/retention.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/tz.h"
#include "util/xalloc.h"

enum retention_kind {
    RETENTION_HOURLY,
    RETENTION_DAILY,
    RETENTION_WEEKLY,
    RETENTION_MONTHLY,
    RETENTION_YEARLY,
    RETENTION_KIND_COUNT
};

/* One item with what the planner needs, sorted newest first. */
struct retention_entry {
    const char *id;
    time_t time;
    size_t index; /* into the caller's items and decisions */
    struct tm local;
};

/* The keys of the buckets one kind has kept so far. Keys only need to be equal for equal buckets;
 * they are also ordered (year, then month...), which gives a cheap "certainly new" test. */
struct retention_bucket_set {
    int limit; /* -1: unlimited */
    long long *keys;
    size_t count;
    long long min_key;
};

static int retention_entry_cmp(const void *pa, const void *pb)
{
    const struct retention_entry *a = pa;
    const struct retention_entry *b = pb;
    int c;

    if (a->time != b->time)
        return a->time > b->time ? -1 : 1;
    c = strcmp(a->id ? a->id : "", b->id ? b->id : "");
    if (c != 0)
        return c > 0 ? -1 : 1;
    /* Equal ids too: keep the caller's order, so the plan does not depend on qsort's whims. */
    return a->index < b->index ? -1 : (a->index > b->index);
}

static bool retention_is_leap_year(long long year)
{
    return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

/* 53 when a year whose January 1 falls on jan1_weekday (Monday = 0) has 53 ISO weeks: it starts on
 * a Thursday, or is a leap year starting on a Wednesday. Else 52. */
static int retention_iso_weeks_in_year(long long year, int jan1_weekday)
{
    if (jan1_weekday == 3 || (jan1_weekday == 2 && retention_is_leap_year(year)))
        return 53;
    return 52;
}

/* ISO 8601 week and week-year of a date: the week with the year's first Thursday is week 1, so
 * 2026-12-31 is in 2026-W53 and 2027-01-01 (a Friday) still is too. */
static void retention_iso_week(const struct tm *tm, long long *iso_year, int *week)
{
    int weekday = (tm->tm_wday + 6) % 7; /* Monday = 0 */
    int jan1_weekday = ((weekday - tm->tm_yday) % 7 + 7) % 7;
    long long year = tm->tm_year + 1900LL;
    int w = (tm->tm_yday - weekday + 10) / 7;

    if (w < 1) {
        /* Early January, in the last week of the year before. */
        int prev_days = retention_is_leap_year(year - 1) ? 366 : 365;

        year--;
        w = retention_iso_weeks_in_year(year, ((jan1_weekday - prev_days) % 7 + 7) % 7);
    } else if (w > retention_iso_weeks_in_year(year, jan1_weekday)) {
        /* Late December, in week 1 of the year after. */
        year++;
        w = 1;
    }
    *iso_year = year;
    *week = w;
}

/* The bucket of a local time for one kind: an ordered key and its label ("daily 2026-11-24"). */
static long long retention_bucket_of(enum retention_kind kind, const struct tm *tm, char *label,
                                     size_t label_len)
{
    long long year = tm->tm_year + 1900LL;
    int month = tm->tm_mon + 1;
    long long iso_year;
    int week;

    switch (kind) {
    case RETENTION_HOURLY:
        (void)snprintf(label, label_len, "hourly %04lld-%02d-%02d %02d", year, month, tm->tm_mday,
                       tm->tm_hour);
        return ((year * 100 + month) * 100 + tm->tm_mday) * 100 + tm->tm_hour;
    case RETENTION_DAILY:
        (void)snprintf(label, label_len, "daily %04lld-%02d-%02d", year, month, tm->tm_mday);
        return (year * 100 + month) * 100 + tm->tm_mday;
    case RETENTION_WEEKLY:
        retention_iso_week(tm, &iso_year, &week);
        (void)snprintf(label, label_len, "weekly %04lld-W%02d", iso_year, week);
        return iso_year * 100 + week;
    case RETENTION_MONTHLY:
        (void)snprintf(label, label_len, "monthly %04lld-%02d", year, month);
        return year * 100 + month;
    case RETENTION_YEARLY:
        (void)snprintf(label, label_len, "yearly %04lld", year);
        return year;
    case RETENTION_KIND_COUNT: /* LCOV_EXCL_START: not a bucket kind; the callers loop below it */
        break;
    }
    error_assert_fail(__FILE__, __LINE__, "unreachable bucket kind");
    /* LCOV_EXCL_STOP */
}

/* Takes the bucket `key` when the set has room and has not seen it; true when taken. */
static bool retention_bucket_take(struct retention_bucket_set *set, long long key)
{
    if (set->limit >= 0 && set->count >= (size_t)set->limit)
        return false;
    /* Walking newest first, keys nearly always fall, so a key below every kept one is new. */
    if (set->count > 0 && key >= set->min_key) {
        for (size_t i = 0; i < set->count; i++)
            if (set->keys[i] == key)
                return false;
    }
    set->keys[set->count++] = key;
    if (set->count == 1 || key < set->min_key)
        set->min_key = key;
    return true;
}

/* Appends ", piece" (or just piece); the caller's buffer has room for every piece there is. */
static void retention_reason_add(char *reasons, size_t len, const char *piece)
{
    size_t used = strlen(reasons);

    buf_format_fixed(reasons + used, len - used, "%s%s", used ? ", " : "", piece);
}

/* Copies reasons into dst; when too long, cuts at a ", " boundary and ends with ", ...". */
static void retention_reason_store(char dst[RETENTION_REASON_LEN], const char *reasons)
{
    static const char more[] = ", ...";
    size_t len = strlen(reasons);
    size_t cut = 0;

    if (len < RETENTION_REASON_LEN) {
        memcpy(dst, reasons, len + 1);
        return;
    }
    for (size_t i = 0; i + 1 < len; i++) {
        if (reasons[i] == ',' && reasons[i + 1] == ' ' && i + sizeof(more) <= RETENTION_REASON_LEN)
            cut = i;
    }
    /* No boundary that fits can only mean one huge piece, which our labels never are: cut it. */
    if (cut == 0)
        cut = RETENTION_REASON_LEN - sizeof(more); /* LCOV_EXCL_LINE: see above */
    memcpy(dst, reasons, cut);
    memcpy(dst + cut, more, sizeof(more));
}

static bool retention_policy_is_empty(const struct keep_policy *keep)
{
    return !keep || (keep->last == 0 && keep->hourly == 0 && keep->daily == 0 &&
                     keep->weekly == 0 && keep->monthly == 0 && keep->yearly == 0);
}

static int retention_count_limit(int n)
{
    return n < 0 ? -1 : n;
}

/* The zone parameter is `timezone` in the header; renamed here because glibc declares a global
 * `timezone`, which the definition would shadow. */
int retention_plan(const struct retention_item *items, size_t count, const struct keep_policy *keep,
                   const char *zone, struct retention_decision *decisions, struct error *err)
{
    int rc = -1;
    struct retention_entry *entries = NULL;
    struct retention_decision *plan = NULL;
    struct retention_bucket_set sets[RETENTION_KIND_COUNT];
    struct tz_saved saved = TZ_SAVED_INIT;
    bool has_zone = zone && zone[0];
    bool is_empty_policy = retention_policy_is_empty(keep);
    int last_limit = 0;

    memset(sets, 0, sizeof(sets));
    if (count == 0)
        return 0;
    if (has_zone && !tz_zone_exists(zone)) {
        error_set(err, ERR_CONFIG, "unknown timezone '%s'", zone);
        goto out;
    }

    entries = xcalloc(count, sizeof(*entries));
    plan = xcalloc(count, sizeof(*plan));
    for (size_t i = 0; i < count; i++) {
        entries[i].id = items[i].id;
        entries[i].time = items[i].time;
        entries[i].index = i;
    }
    qsort(entries, count, sizeof(*entries), retention_entry_cmp);

    /* Cannot fail: the zone was checked above (before the work, and with the message the
     * planner has always given). */
    if (tz_switch(zone, &saved, err) < 0)
        goto out; /* LCOV_EXCL_LINE: checked above */
    for (size_t i = 0; i < count; i++) {
        if (!localtime_r(&entries[i].time, &entries[i].local)) {
            error_set(err, ERR_INTEGRITY, "snapshot '%s': time %lld is out of range",
                      entries[i].id ? entries[i].id : "", (long long)entries[i].time);
            goto out;
        }
    }
    tz_restore(&saved);

    if (!is_empty_policy) {
        const int limits[RETENTION_KIND_COUNT] = {keep->hourly, keep->daily, keep->weekly,
                                                  keep->monthly, keep->yearly};

        last_limit = retention_count_limit(keep->last);
        for (int k = 0; k < RETENTION_KIND_COUNT; k++) {
            sets[k].limit = retention_count_limit(limits[k]);
            if (sets[k].limit != 0)
                sets[k].keys = xcalloc(count, sizeof(*sets[k].keys));
        }
    }

    for (size_t pos = 0; pos < count; pos++) {
        struct retention_decision *d = &plan[entries[pos].index];
        char reasons[512] = "";
        char piece[64];

        /* The newest is kept whatever the policy: retention never removes the last good backup. */
        if (pos == 0)
            retention_reason_add(reasons, sizeof(reasons), "newest");
        if (is_empty_policy) {
            retention_reason_add(reasons, sizeof(reasons), "no keep policy");
        } else {
            if (last_limit < 0 || pos < (size_t)last_limit) {
                if (last_limit < 0)
                    (void)snprintf(piece, sizeof(piece), "last (unlimited)");
                else
                    (void)snprintf(piece, sizeof(piece), "last %d", last_limit);
                retention_reason_add(reasons, sizeof(reasons), piece);
            }
            for (int k = 0; k < RETENTION_KIND_COUNT; k++) {
                long long key;

                if (sets[k].limit == 0)
                    continue;
                key = retention_bucket_of((enum retention_kind)k, &entries[pos].local, piece,
                                          sizeof(piece));
                if (retention_bucket_take(&sets[k], key))
                    retention_reason_add(reasons, sizeof(reasons), piece);
            }
        }
        d->keep = reasons[0] != '\0';
        retention_reason_store(d->reason, reasons);
    }

    memcpy(decisions, plan, count * sizeof(*plan));
    rc = 0;
out:
    tz_restore(&saved);
    for (int k = 0; k < RETENTION_KIND_COUNT; k++)
        xfree(sets[k].keys);
    xfree(plan);
    xfree(entries);
    return rc;
}
