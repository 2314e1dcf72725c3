/* Cron schedules: the 5-field expressions of Vixie cron / cronie (minute hour day-of-month month
 * day-of-week; ranges, lists, steps, month and weekday names, 7 for Sunday, day-of-month and
 * day-of-week ORed when both are restricted) and the nicknames @hourly, @daily (@midnight),
 * @weekly, @monthly, @yearly (@annually). Next and previous run times are computed in an IANA time
 * zone, with the DST rules an operator expects: a run whose local time falls in a skipped hour runs
 * at the end of the gap (once, however many of its times fell in the gap), and a local time that
 * occurs twice runs only at its first occurrence. */
#ifndef PERMAFROST_UTIL_CRON_H
#define PERMAFROST_UTIL_CRON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "util/error.h"

#define CRON_TEXT_MAX 256 /* longest expression accepted */

struct cron_expr {
    uint64_t minutes; /* bit m: minute m (0-59) */
    uint32_t hours;   /* bit h: hour h (0-23) */
    uint32_t days;    /* bit d: day of month d (1-31) */
    uint16_t months;  /* bit m: month m (1-12) */
    uint8_t weekdays; /* bit w: weekday w (0 = Sunday .. 6) */
    bool is_dom_star; /* day-of-month was '*' (or '*' with a step) */
    bool is_dow_star; /* day-of-week was '*' (or '*' with a step) */
};

/* Parses text. On failure returns -1 with err (ERR_CONFIG) saying which field and token is wrong
 * and what is allowed ("hour field: '24' is out of range (0-23)"); text is quoted only as far as it
 * is printable. An expression that can never fire ("0 0 31 2 *") is refused too. Leading and
 * trailing spaces and tabs are ignored; text longer than CRON_TEXT_MAX is refused unread. */
int cron_parse(const char *text, struct cron_expr *out, struct error *err);

/* The first run time strictly after `after`, in zone (an IANA name such as "Europe/Berlin", "UTC",
 * or NULL for the machine's local time). Fails (ERR_CONFIG) only when zone cannot be loaded, or
 * for a time beyond the calendar, or for a hand-made expression with no run in 401 years. Switches
 * TZ while it runs (util/tz.h), so it is not for use while other threads read local time. */
int cron_next(const struct cron_expr *e, const char *zone, time_t after, time_t *out,
              struct error *err);

/* The last run time at or before `at` (catch-up and staleness), with the same DST rules. */
int cron_prev(const struct cron_expr *e, const char *zone, time_t at, time_t *out,
              struct error *err);

#endif
