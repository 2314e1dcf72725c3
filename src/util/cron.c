/* Cron expressions and their run times.
 *
 * Parsing follows Vixie cron / cronie: a field is a comma list of items, an item is '*', N, A-B,
 * each optionally with "/STEP" ("A/STEP" runs from A to the field's maximum). Day-of-week 7 is
 * Sunday. A field "starts with '*'" exactly when cronie sets its DOM_STAR/DOW_STAR flag, and only
 * when neither day field does are the two ORed.
 *
 * Run times are searched in local wall-clock time, field by field (a month, day or hour that cannot
 * match is skipped whole), and each matching wall time W is then mapped to an instant:
 * - the instants whose local time is exactly W are found by trying t = W - offset for the offsets
 * in force around W (a day either side, and the offsets at those candidates);
 * - W occurring twice (clocks turned back) counts at its first instant only;
 * - W not occurring (clocks jumped over it) runs at the end of the gap, the instant found by
 *   bisection where local time passes W.
 * That map is non-decreasing in W, so the first matching W whose instant lies after `after` gives
 * the next run, and the last one whose instant is at or before `at` gives the previous run.
 *
 * Wall times are plain numbers (days from the civil date, Howard Hinnant's algorithm), so the
 * search needs neither timegm nor mktime, and glibc is asked only for localtime_r. */
#include "util/cron.h"

#include <stdio.h>
#include <string.h>

#include "util/strv.h"
#include "util/tz.h"

#define CRON_QUOTE_MAX    48
/* 400 Gregorian years are 146097 days, a whole number of weeks: the calendar repeats, so a
 * schedule that runs at all runs within 400 years of any time. */
#define CRON_SEARCH_YEARS 401
/* Matching wall times passed over in one call because their run was already due (the repeated
 * hour of a fall-back). Far more than any real zone needs; a bound against a broken zone file. */
#define CRON_SKIP_MAX     100000
#define CRON_DAY_SECS     86400LL
#define CRON_MINUTES_OK   ((1ULL << 60) - 1)

enum cron_field_index {
    CRON_FIELD_MINUTE,
    CRON_FIELD_HOUR,
    CRON_FIELD_DOM,
    CRON_FIELD_MONTH,
    CRON_FIELD_DOW,
    CRON_FIELD_COUNT
};

struct cron_field_spec {
    const char *name;
    int low;
    int high;
    const char *const *names; /* three-letter names for low.., or NULL */
    const char *what;         /* "a number" or "a number or a month name" */
    const char *allowed;      /* shown in messages */
};

static const char *const cron_month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                               "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const cron_day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct cron_field_spec cron_fields[CRON_FIELD_COUNT] = {
    {"minute", 0, 59, NULL, "a number", "0-59"},
    {"hour", 0, 23, NULL, "a number", "0-23"},
    {"day-of-month", 1, 31, NULL, "a number", "1-31"},
    {"month", 1, 12, cron_month_names, "a number or a month name", "1-12 or jan-dec"},
    {"day-of-week", 0, 7, cron_day_names, "a number or a day name", "0-7 or sun-sat"},
};

/* A local wall-clock time to the minute. */
struct cron_wall {
    long long year;
    int month; /* 1-12 */
    int day;   /* 1-31 */
    int hour;
    int minute;
};

/* ---- parsing ---- */

static bool cron_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static struct strv cron_trim(struct strv s)
{
    while (s.len && cron_is_blank(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && cron_is_blank(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

static bool cron_has_char(struct strv s, char c)
{
    return s.len && memchr(s.ptr, c, s.len) != NULL;
}

static bool cron_is_digits(struct strv s)
{
    if (!s.len)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
    return true;
}

/* Sets err to "<field> field: <before>'<tok>'<after>", tok quoted only as far as printable. */
static int cron_field_error(struct error *err, const struct cron_field_spec *f, const char *before,
                            struct strv tok, const char *after)
{
    char quoted[CRON_QUOTE_MAX];

    return error_set(err, ERR_CONFIG, "%s field: %s'%s'%s", f->name, before,
                     strv_printable(tok, quoted, sizeof(quoted)), after);
}

/* One value: digits, or a three-letter name where the field has names. */
static int cron_parse_value(const struct cron_field_spec *f, struct strv tok, int *out,
                            struct error *err)
{
    char detail[128];
    uint64_t n = 0;

    if (cron_is_digits(tok)) {
        if (tok.len > 9 || !strv_to_u64(tok, &n) || n < (uint64_t)f->low || n > (uint64_t)f->high) {
            (void)snprintf(detail, sizeof(detail), " is out of range (%d-%d)", f->low, f->high);
            return cron_field_error(err, f, "", tok, detail);
        }
        *out = (int)n;
        return 0;
    }
    for (int i = 0; f->names && f->names[i]; i++) {
        if (strv_eq_nocase(tok, f->names[i])) {
            *out = f->low + i;
            return 0;
        }
    }
    (void)snprintf(detail, sizeof(detail), " is not %s (%s)", f->what, f->allowed);
    return cron_field_error(err, f, "", tok, detail);
}

/* One list item: '*', N or A-B, each with an optional /STEP; adds its values to *bits. */
static int cron_parse_item(const struct cron_field_spec *f, struct strv item, uint64_t *bits,
                           struct error *err)
{
    struct strv step_text = item;
    struct strv base;
    bool has_step = strv_cut(&step_text, '/', &base);
    int lo = f->low;
    int hi = f->high;
    int step = 1;
    char detail[128];

    if (has_step) {
        uint64_t n = 0;
        if (cron_has_char(step_text, '/'))
            return cron_field_error(err, f, "", item, " has more than one '/'");
        if (!step_text.len)
            return cron_field_error(err, f, "", item, " lacks a step after '/'");
        (void)snprintf(detail, sizeof(detail), " is %s (1-%d)",
                       cron_is_digits(step_text) ? "out of range" : "not a number",
                       f->high - f->low);
        if (!cron_is_digits(step_text) || step_text.len > 9 || !strv_to_u64(step_text, &n) ||
            n < 1 || n > (uint64_t)(f->high - f->low))
            return cron_field_error(err, f, "step ", step_text, detail);
        step = (int)n;
    }

    if (!base.len)
        return cron_field_error(err, f, "", item, " lacks a value before '/'");
    if (base.ptr[0] == '*') {
        if (base.len != 1)
            return cron_field_error(err, f, "", item,
                                    " is not valid: '*' stands alone or with a step");
        if (f == &cron_fields[CRON_FIELD_DOW])
            hi = 6; /* '*' is every day once; 7 would only repeat Sunday */
    } else if (cron_has_char(base, '-')) {
        struct strv end = base;
        struct strv start;
        (void)strv_cut(&end, '-', &start);
        if (!start.len)
            return cron_field_error(err, f, "range ", item, " lacks its start");
        if (!end.len)
            return cron_field_error(err, f, "range ", item, " lacks its end");
        if (cron_has_char(end, '-'))
            return cron_field_error(err, f, "range ", item, " has more than one '-'");
        if (cron_parse_value(f, start, &lo, err) < 0 || cron_parse_value(f, end, &hi, err) < 0)
            return -1;
        if (lo > hi)
            return cron_field_error(err, f, "range ", item,
                                    " runs backwards (the start must not be after the end)");
    } else {
        if (cron_parse_value(f, base, &lo, err) < 0)
            return -1;
        if (!has_step)
            hi = lo;
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ULL << v;
    return 0;
}

/* A whole field: a comma list of items. */
static int cron_parse_field(const struct cron_field_spec *f, struct strv field, uint64_t *bits,
                            struct error *err)
{
    struct strv rest = field;
    bool is_more = true;

    *bits = 0;
    while (is_more) {
        struct strv item;
        is_more = strv_cut(&rest, ',', &item);
        if (!item.len)
            return cron_field_error(err, f, "empty item in list ", field, "");
        if (cron_parse_item(f, item, bits, err) < 0)
            return -1;
    }
    return 0;
}

static bool cron_is_leap(long long year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int cron_days_in_month(long long year, int month)
{
    static const int days[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return month == 2 && cron_is_leap(year) ? 29 : days[month];
}

/* True when some selected day of month occurs in some selected month (Feb 29 counts). */
static bool cron_days_exist(const struct cron_expr *e)
{
    for (int m = 1; m <= 12; m++) {
        if (!(e->months & (1u << m)))
            continue;
        for (int d = 1; d <= cron_days_in_month(2000, m); d++)
            if (e->days & (1u << d))
                return true;
    }
    return false;
}

struct cron_nickname {
    const char *name;
    const char *fields;
};

static const struct cron_nickname cron_nicknames[] = {
    {"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"}};

static int cron_parse_fields(struct strv text, struct cron_expr *out, struct error *err);

static int cron_parse_nickname(struct strv text, struct cron_expr *out, struct error *err)
{
    char quoted[CRON_QUOTE_MAX];
    struct strv word = text;

    for (size_t i = 0; i < text.len; i++) {
        if (cron_is_blank(text.ptr[i])) {
            word.len = i;
            return error_set(err, ERR_CONFIG,
                             "'%s' takes no fields: write a nickname or 5 fields, not both",
                             strv_printable(word, quoted, sizeof(quoted)));
        }
    }
    for (size_t i = 0; i < sizeof(cron_nicknames) / sizeof(cron_nicknames[0]); i++)
        if (strv_eq_nocase(text, cron_nicknames[i].name))
            return cron_parse_fields(strv_from(cron_nicknames[i].fields), out, err);
    if (strv_eq_nocase(text, "@reboot"))
        return error_set(err, ERR_CONFIG,
                         "'@reboot' is not supported: jobs run on a schedule, not when the daemon "
                         "starts (catch_up = yes runs a missed job at start-up)");
    return error_set(err, ERR_CONFIG,
                     "unknown nickname '%s' (use @hourly, @daily, @midnight, @weekly, @monthly, "
                     "@yearly or @annually)",
                     strv_printable(text, quoted, sizeof(quoted)));
}

static int cron_parse_fields(struct strv text, struct cron_expr *out, struct error *err)
{
    struct strv fields[CRON_FIELD_COUNT];
    uint64_t bits[CRON_FIELD_COUNT];
    struct cron_expr e;
    size_t count = 0;
    size_t i = 0;

    while (i < text.len) {
        size_t start = i;
        while (i < text.len && !cron_is_blank(text.ptr[i]))
            i++;
        if (count < CRON_FIELD_COUNT)
            fields[count] = strv_make(text.ptr + start, i - start);
        count++;
        while (i < text.len && cron_is_blank(text.ptr[i]))
            i++;
    }
    if (count != CRON_FIELD_COUNT)
        return error_set(err, ERR_CONFIG,
                         "expected 5 fields (minute hour day-of-month month day-of-week) or "
                         "@hourly/@daily/@weekly/@monthly, got %zu",
                         count);
    for (int f = 0; f < CRON_FIELD_COUNT; f++)
        if (cron_parse_field(&cron_fields[f], fields[f], &bits[f], err) < 0)
            return -1;

    memset(&e, 0, sizeof(e));
    e.minutes = bits[CRON_FIELD_MINUTE];
    e.hours = (uint32_t)bits[CRON_FIELD_HOUR];
    e.days = (uint32_t)bits[CRON_FIELD_DOM];
    e.months = (uint16_t)bits[CRON_FIELD_MONTH];
    /* Bit 7 (Sunday written as 7) joins bit 0. */
    e.weekdays = (uint8_t)((bits[CRON_FIELD_DOW] | bits[CRON_FIELD_DOW] >> 7) & 0x7f);
    e.is_dom_star = fields[CRON_FIELD_DOM].ptr[0] == '*';
    e.is_dow_star = fields[CRON_FIELD_DOW].ptr[0] == '*';

    /* With both day fields restricted a weekday always comes round; otherwise the selected days
     * must exist in a selected month (over the years every such date falls on every weekday). */
    if ((e.is_dom_star || e.is_dow_star) && !cron_days_exist(&e)) {
        char quoted[CRON_QUOTE_MAX];
        char detail[128];

        (void)snprintf(detail, sizeof(detail),
                       " never occurs in month field '%s', so the schedule would never run",
                       strv_printable(fields[CRON_FIELD_MONTH], quoted, sizeof(quoted)));
        return cron_field_error(err, &cron_fields[CRON_FIELD_DOM], "", fields[CRON_FIELD_DOM],
                                detail);
    }
    *out = e;
    return 0;
}

int cron_parse(const char *text, struct cron_expr *out, struct error *err)
{
    size_t len = strnlen(text, CRON_TEXT_MAX + 1);
    struct strv s;

    if (len > CRON_TEXT_MAX)
        return error_set(err, ERR_CONFIG, "schedule is longer than %d characters", CRON_TEXT_MAX);
    s = cron_trim(strv_make(text, len));
    if (s.len && s.ptr[0] == '@')
        return cron_parse_nickname(s, out, err);
    return cron_parse_fields(s, out, err);
}

/* ---- calendar arithmetic on wall times ---- */

static long long cron_floor_div(long long a, long long b)
{
    long long q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static long long cron_days_from_civil(long long y, int m, int d)
{
    long long era;
    long long yoe;
    long long doy;
    long long doe;

    y -= m <= 2;
    era = cron_floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static long long cron_wall_secs(const struct cron_wall *w)
{
    return cron_days_from_civil(w->year, w->month, w->day) * CRON_DAY_SECS + w->hour * 3600LL +
           w->minute * 60LL;
}

static struct cron_wall cron_wall_from_secs(long long secs)
{
    struct cron_wall w;
    long long z = cron_floor_div(secs, CRON_DAY_SECS);
    long long rem = secs - z * CRON_DAY_SECS;
    long long era;
    long long doe;
    long long yoe;
    long long doy;
    long long mp;

    z += 719468;
    era = cron_floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    w.day = (int)(doy - (153 * mp + 2) / 5 + 1);
    w.month = (int)(mp < 10 ? mp + 3 : mp - 9);
    w.year = yoe + era * 400 + (w.month <= 2);
    w.hour = (int)(rem / 3600);
    w.minute = (int)(rem % 3600 / 60);
    return w;
}

static bool cron_day_matches(const struct cron_expr *e, const struct cron_wall *w)
{
    long long days = cron_days_from_civil(w->year, w->month, w->day);
    int weekday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    bool is_dom = (e->days >> w->day) & 1u;
    bool is_dow = (e->weekdays >> weekday) & 1u;

    if (e->is_dom_star || e->is_dow_star)
        return is_dom && is_dow;
    return is_dom || is_dow;
}

static void cron_wall_next_month(struct cron_wall *w)
{
    w->day = 1;
    w->hour = 0;
    w->minute = 0;
    if (++w->month > 12) {
        w->month = 1;
        w->year++;
    }
}

static void cron_wall_next_day(struct cron_wall *w)
{
    w->hour = 0;
    w->minute = 0;
    if (++w->day > cron_days_in_month(w->year, w->month))
        cron_wall_next_month(w);
}

static void cron_wall_next_hour(struct cron_wall *w)
{
    w->minute = 0;
    if (++w->hour > 23)
        cron_wall_next_day(w);
}

/* Moves *w to the first matching wall time at or after it; false past year_limit. */
static bool cron_wall_next_match(const struct cron_expr *e, struct cron_wall *w,
                                 long long year_limit)
{
    for (;;) {
        uint64_t minutes;

        if (w->year > year_limit)
            return false;
        if (!((e->months >> w->month) & 1u)) {
            cron_wall_next_month(w);
            continue;
        }
        if (!cron_day_matches(e, w)) {
            cron_wall_next_day(w);
            continue;
        }
        if (!((e->hours >> w->hour) & 1u)) {
            cron_wall_next_hour(w);
            continue;
        }
        minutes = e->minutes & CRON_MINUTES_OK & (~0ULL << w->minute);
        if (!minutes) {
            cron_wall_next_hour(w);
            continue;
        }
        w->minute = __builtin_ctzll(minutes);
        return true;
    }
}

static void cron_wall_prev_month(struct cron_wall *w)
{
    if (--w->month < 1) {
        w->month = 12;
        w->year--;
    }
    w->day = cron_days_in_month(w->year, w->month);
    w->hour = 23;
    w->minute = 59;
}

static void cron_wall_prev_day(struct cron_wall *w)
{
    w->hour = 23;
    w->minute = 59;
    if (--w->day < 1)
        cron_wall_prev_month(w);
}

static void cron_wall_prev_hour(struct cron_wall *w)
{
    w->minute = 59;
    if (--w->hour < 0)
        cron_wall_prev_day(w);
}

/* Moves *w to the last matching wall time at or before it; false before year_limit. */
static bool cron_wall_prev_match(const struct cron_expr *e, struct cron_wall *w,
                                 long long year_limit)
{
    for (;;) {
        uint64_t minutes;

        if (w->year < year_limit)
            return false;
        if (!((e->months >> w->month) & 1u)) {
            cron_wall_prev_month(w);
            continue;
        }
        if (!cron_day_matches(e, w)) {
            cron_wall_prev_day(w);
            continue;
        }
        if (!((e->hours >> w->hour) & 1u)) {
            cron_wall_prev_hour(w);
            continue;
        }
        minutes = e->minutes & CRON_MINUTES_OK & ((2ULL << w->minute) - 1);
        if (!minutes) {
            cron_wall_prev_hour(w);
            continue;
        }
        w->minute = 63 - __builtin_clzll(minutes);
        return true;
    }
}

/* ---- wall time to instants (TZ already switched) ---- */

/* The local wall time of t in seconds (as cron_wall_secs counts them) and its UTC offset. */
static bool cron_local(long long t, long long *wall, long long *offset)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!localtime_r(&tt, &tm))
        return false;
    *wall = cron_days_from_civil((long long)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) *
                CRON_DAY_SECS +
            tm.tm_hour * 3600LL + tm.tm_min * 60LL + tm.tm_sec;
    *offset = tm.tm_gmtoff;
    return true;
}

static void cron_add_offset(long long *offsets, int *count, long long offset)
{
    for (int i = 0; i < *count; i++)
        if (offsets[i] == offset)
            return;
    offsets[(*count)++] = offset;
}

/* The instant a run at wall time `wall` happens: its first occurrence, or the end of the gap it
 * falls in. False when local time cannot be computed there (beyond glibc's calendar). */
static bool cron_run_instant(long long wall, long long *out)
{
    long long offsets[6];
    int offset_count = 0;
    long long found = 0;
    bool is_found = false;
    long long local;
    long long offset;
    long long lo;
    long long hi;

    for (long long d = -1; d <= 1; d++) {
        if (!cron_local(wall + d * CRON_DAY_SECS, &local, &offset))
            return false;
        cron_add_offset(offsets, &offset_count, offset);
    }
    for (int i = 0, n = offset_count; i < n; i++) {
        if (!cron_local(wall - offsets[i], &local, &offset))
            return false;
        cron_add_offset(offsets, &offset_count, offset);
    }
    for (int i = 0; i < offset_count; i++) {
        long long t = wall - offsets[i];
        if (!cron_local(t, &local, &offset))
            return false;
        if (local == wall && (!is_found || t < found)) {
            found = t;
            is_found = true;
        }
    }
    if (is_found) {
        *out = found;
        return true;
    }

    /* No instant shows this wall time: local time jumps over it. Bisect for the jump, keeping
     * local(lo) <= wall < local(hi); offsets stay within a day, so two days either side bracket. */
    lo = wall - 2 * CRON_DAY_SECS;
    hi = wall + 2 * CRON_DAY_SECS;
    while (hi - lo > 1) {
        long long mid = lo + (hi - lo) / 2;
        if (!cron_local(mid, &local, &offset))
            return false;
        if (local > wall)
            hi = mid;
        else
            lo = mid;
    }
    if (!cron_local(lo, &local, &offset))
        return false;
    *out = local == wall ? lo : hi;
    return true;
}

static int cron_range_error(struct error *err, long long t)
{
    return error_set(err, ERR_CONFIG, "time %lld is beyond the calendar of the timezone", t);
}

int cron_next(const struct cron_expr *e, const char *zone, time_t after, time_t *out,
              struct error *err)
{
    struct tz_saved saved = TZ_SAVED_INIT;
    struct cron_wall w;
    long long local;
    long long offset;
    long long year_limit;
    int rc = -1;

    if (tz_switch(zone, &saved, err) < 0)
        return -1;
    if (!cron_local(after, &local, &offset)) {
        cron_range_error(err, (long long)after);
        goto out;
    }
    /* Every wall time up to local(after) has its run at or before `after`. */
    w = cron_wall_from_secs(cron_floor_div(local, 60) * 60 + 60);
    year_limit = w.year + CRON_SEARCH_YEARS;
    for (int skipped = 0; skipped < CRON_SKIP_MAX; skipped++) {
        long long wall;
        long long run;

        if (!cron_wall_next_match(e, &w, year_limit)) {
            error_set(err, ERR_CONFIG, "the schedule has no run within %d years",
                      CRON_SEARCH_YEARS);
            goto out;
        }
        wall = cron_wall_secs(&w);
        if (!cron_run_instant(wall, &run)) {
            cron_range_error(err, wall);
            goto out;
        }
        if (run > (long long)after) {
            *out = (time_t)run;
            rc = 0;
            goto out;
        }
        /* Already due: a repeated wall time whose first occurrence has passed, or a gap whose end
         * has. */
        w = cron_wall_from_secs(wall + 60);
    }
    error_set(err, ERR_CONFIG, "local time repeats too often to schedule in");
out:
    tz_restore(&saved);
    return rc;
}

int cron_prev(const struct cron_expr *e, const char *zone, time_t at, time_t *out,
              struct error *err)
{
    struct tz_saved saved = TZ_SAVED_INIT;
    struct cron_wall w;
    long long local;
    long long offset;
    long long highest;
    long long year_limit;
    int rc = -1;

    if (tz_switch(zone, &saved, err) < 0)
        return -1;
    if (!cron_local(at, &local, &offset)) {
        cron_range_error(err, (long long)at);
        goto out;
    }
    /* After clocks were turned back, wall times later than local(at) may already have had their
     * (first) run: start as high as local time stood in the last two days. */
    highest = local;
    for (long long d = 1; d <= 2; d++) {
        long long past_local;
        long long past_offset;
        if (cron_local((long long)at - d * CRON_DAY_SECS, &past_local, &past_offset) &&
            past_offset > offset && local + (past_offset - offset) > highest)
            highest = local + (past_offset - offset);
    }
    w = cron_wall_from_secs(cron_floor_div(highest, 60) * 60);
    year_limit = w.year - CRON_SEARCH_YEARS;
    for (int skipped = 0; skipped < CRON_SKIP_MAX; skipped++) {
        long long wall;
        long long run;

        if (!cron_wall_prev_match(e, &w, year_limit)) {
            error_set(err, ERR_CONFIG, "the schedule has no run within %d years",
                      CRON_SEARCH_YEARS);
            goto out;
        }
        wall = cron_wall_secs(&w);
        if (!cron_run_instant(wall, &run)) {
            cron_range_error(err, wall);
            goto out;
        }
        if (run <= (long long)at) {
            *out = (time_t)run;
            rc = 0;
            goto out;
        }
        w = cron_wall_from_secs(wall - 60);
    }
    error_set(err, ERR_CONFIG, "local time repeats too often to schedule in");
out:
    tz_restore(&saved);
    return rc;
}
