/* util/cron: parsing and run times.
 *
 * Expected instants were worked out independently of this code: zone transitions from
 * `zdump -v -c 2026,2027 ZONE` (tzdata 2024a on Debian 12), and each local time converted with
 * e.g. `TZ=America/New_York date -u -d '2026-03-08 03:00 EDT' +%FT%TZ`. They are written as UTC ISO
 * strings; every test names its zone (NULL, the machine's zone, only where TZ is set by the test),
 * so results do not depend on the machine's TZ. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "util/cron.h"
#include "util/time.h"
#include "util/xalloc.h"

static time_t utc(const char *iso)
{
    time_t t = 0;

    if (!time_parse_utc(iso, &t))
        unit_fail(__FILE__, __LINE__, "bad test time '%s'", iso);
    return t;
}

static struct cron_expr parse_ok(const char *text)
{
    struct cron_expr e;
    struct error err = ERROR_INIT;

    memset(&e, 0, sizeof(e));
    if (cron_parse(text, &e, &err) != 0)
        unit_fail(__FILE__, __LINE__, "cron_parse('%s'): %s", text, err.msg);
    return e;
}

/* Checks a chain of next runs of text in zone from `from`: want is a NULL-ended list of instants.
 */
static void check_next_chain(int line, const char *text, const char *zone, const char *from,
                             const char *const *want)
{
    struct cron_expr e = parse_ok(text);
    struct error err = ERROR_INIT;
    time_t t = utc(from);
    char got[TIME_ISO_LEN];

    for (size_t i = 0; want[i]; i++) {
        time_t next = 0;
        time_t prev = 0;
        if (cron_next(&e, zone, t, &next, &err) != 0)
            unit_fail(__FILE__, line, "cron_next('%s', %s): %s", text, zone, err.msg);
        time_format_iso(next, got);
        if (strcmp(got, want[i]) != 0)
            unit_fail(__FILE__, line, "'%s' in %s, run %zu after %s: got %s, want %s", text,
                      zone ? zone : "local", i + 1, from, got, want[i]);
        /* The previous run at that instant is that instant. */
        if (cron_prev(&e, zone, next, &prev, &err) != 0 || prev != next)
            unit_fail(__FILE__, line, "cron_prev('%s', %s) at %s: %lld", text, zone, got,
                      (long long)prev);
        t = next;
    }
}

#define NEXT_CHAIN(text, zone, from, ...)                                                          \
    do {                                                                                           \
        static const char *const want_[] = {__VA_ARGS__, NULL};                                    \
        check_next_chain(__LINE__, text, zone, from, want_);                                       \
    } while (0)

static void check_prev(int line, const char *text, const char *zone, const char *at,
                       const char *want)
{
    struct cron_expr e = parse_ok(text);
    struct error err = ERROR_INIT;
    time_t prev = 0;
    char got[TIME_ISO_LEN];

    if (cron_prev(&e, zone, utc(at), &prev, &err) != 0)
        unit_fail(__FILE__, line, "cron_prev('%s', %s): %s", text, zone, err.msg);
    time_format_iso(prev, got);
    if (strcmp(got, want) != 0)
        unit_fail(__FILE__, line, "'%s' in %s, last run at %s: got %s, want %s", text,
                  zone ? zone : "local", at, got, want);
}

#define PREV(text, zone, at, want) check_prev(__LINE__, text, zone, at, want)

static uint64_t bits(const int *values, size_t count)
{
    uint64_t b = 0;

    for (size_t i = 0; i < count; i++)
        b |= 1ULL << values[i];
    return b;
}

#define BITS(...) bits((const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

/* ---- parsing ---- */

static void test_cron_parse_star_is_every_value(void)
{
    struct cron_expr e = parse_ok("* * * * *");

    CHECK(e.minutes == (1ULL << 60) - 1);
    CHECK_INT_EQ(e.hours, (1u << 24) - 1);
    CHECK_INT_EQ(e.days, 0xfffffffeu);
    CHECK_INT_EQ(e.months, 0x1ffe);
    CHECK_INT_EQ(e.weekdays, 0x7f);
    CHECK(e.is_dom_star);
    CHECK(e.is_dow_star);
}

static void test_cron_parse_numbers_ranges_lists_and_steps(void)
{
    struct cron_expr e = parse_ok("5 1-3 1,15,31 2-4/2 0");

    CHECK(e.minutes == BITS(5));
    CHECK(e.hours == BITS(1, 2, 3));
    CHECK(e.days == BITS(1, 15, 31));
    CHECK(e.months == BITS(2, 4));
    CHECK(e.weekdays == BITS(0));
    CHECK(!e.is_dom_star);
    CHECK(!e.is_dow_star);

    e = parse_ok("*/15 */6 */10 */3 */2");
    CHECK(e.minutes == BITS(0, 15, 30, 45));
    CHECK(e.hours == BITS(0, 6, 12, 18));
    CHECK(e.days == BITS(1, 11, 21, 31));
    CHECK(e.months == BITS(1, 4, 7, 10));
    CHECK(e.weekdays == BITS(0, 2, 4, 6));
    CHECK(e.is_dom_star);
    CHECK(e.is_dow_star);

    /* a/n runs from a to the field's maximum. */
    e = parse_ok("50/5 20/2 28/2 11/1 5/1");
    CHECK(e.minutes == BITS(50, 55));
    CHECK(e.hours == BITS(20, 22));
    CHECK(e.days == BITS(28, 30));
    CHECK(e.months == BITS(11, 12));
    CHECK(e.weekdays == BITS(0, 5, 6)); /* 5, 6 and 7 = Sunday */

    e = parse_ok("0-59/20,7 0,12-14,23 1-5,10-12/2 1,6-7 1-5");
    CHECK(e.minutes == BITS(0, 7, 20, 40));
    CHECK(e.hours == BITS(0, 12, 13, 14, 23));
    CHECK(e.days == BITS(1, 2, 3, 4, 5, 10, 12));
    CHECK(e.months == BITS(1, 6, 7));
    CHECK(e.weekdays == BITS(1, 2, 3, 4, 5));

    /* Leading zeros are numbers too. */
    e = parse_ok("05 007 09 01 00");
    CHECK(e.minutes == BITS(5));
    CHECK(e.hours == BITS(7));
}

static void test_cron_parse_month_and_day_names_any_case(void)
{
    struct cron_expr e = parse_ok("0 0 * jan,MAR,Dec mon-FRI");

    CHECK(e.months == BITS(1, 3, 12));
    CHECK(e.weekdays == BITS(1, 2, 3, 4, 5));
    e = parse_ok("0 0 * feb-apr/2 sun,sat");
    CHECK(e.months == BITS(2, 4));
    CHECK(e.weekdays == BITS(0, 6));
    e = parse_ok("0 0 * jul-12 tue-7");
    CHECK(e.months == BITS(7, 8, 9, 10, 11, 12));
    CHECK(e.weekdays == BITS(0, 2, 3, 4, 5, 6));
    e = parse_ok("0 0 * * Wed/2");
    CHECK(e.weekdays == BITS(3, 5, 0)); /* 3, 5, 7 */
}

static void test_cron_parse_seven_is_sunday(void)
{
    CHECK(parse_ok("0 0 * * 7").weekdays == BITS(0));
    CHECK(parse_ok("0 0 * * 5-7").weekdays == BITS(0, 5, 6));
    CHECK(parse_ok("0 0 * * 0-7").weekdays == 0x7f);
    CHECK(parse_ok("0 0 * * 0,7").weekdays == BITS(0));
    CHECK(parse_ok("0 0 * * */7").weekdays == BITS(0));
}

static void test_cron_parse_star_flags_follow_first_character(void)
{
    struct cron_expr e = parse_ok("0 0 1-31 * 0-6");

    /* Vixie cron: the flags say how the field was written, not which days it selects. */
    CHECK(!e.is_dom_star);
    CHECK(!e.is_dow_star);
    e = parse_ok("0 0 */2 * mon");
    CHECK(e.is_dom_star);
    CHECK(!e.is_dow_star);
    e = parse_ok("0 0 1 * */1");
    CHECK(!e.is_dom_star);
    CHECK(e.is_dow_star);
}

static void test_cron_parse_whitespace_trimmed_and_tabs(void)
{
    struct cron_expr a = parse_ok("  \t 15  3\t* *   1-5 \t ");
    struct cron_expr b = parse_ok("15 3 * * 1-5");

    CHECK(memcmp(&a, &b, sizeof(a)) == 0);
}

static void test_cron_parse_every_nickname(void)
{
    static const char *const pairs[][2] = {{"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
                                           {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
                                           {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
                                           {"@annually", "0 0 1 1 *"}, {" @DAILY\t", "0 0 * * *"}};

    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        struct cron_expr a = parse_ok(pairs[i][0]);
        struct cron_expr b = parse_ok(pairs[i][1]);
        if (memcmp(&a, &b, sizeof(a)) != 0)
            unit_fail(__FILE__, __LINE__, "'%s' differs from '%s'", pairs[i][0], pairs[i][1]);
    }
}

static void test_cron_parse_invalid_expressions_have_exact_messages(void)
{
    static const char *const five =
        "expected 5 fields (minute hour day-of-month month day-of-week) or "
        "@hourly/@daily/@weekly/@monthly, got ";
    static const struct {
        const char *text;
        const char *msg; /* a leading '+' means: `five` followed by the rest */
    } bad[] = {
        {"", "+0"},
        {" \t ", "+0"},
        {"* * * *", "+4"},
        {"* * * * * *", "+6"},
        {"0 0 * * * /bin/backup", "+6"},
        {"60 * * * *", "minute field: '60' is out of range (0-59)"},
        {"* 24 * * *", "hour field: '24' is out of range (0-23)"},
        {"* * 0 * *", "day-of-month field: '0' is out of range (1-31)"},
        {"* * 32 * *", "day-of-month field: '32' is out of range (1-31)"},
        {"* * * 0 *", "month field: '0' is out of range (1-12)"},
        {"* * * 13 *", "month field: '13' is out of range (1-12)"},
        {"* * * * 8", "day-of-week field: '8' is out of range (0-7)"},
        {"99999999999999999999 * * * *",
         "minute field: '99999999999999999999' is out of range (0-59)"},
        {"a * * * *", "minute field: 'a' is not a number (0-59)"},
        {"-1 * * * *", "minute field: range '-1' lacks its start"},
        {"+1 * * * *", "minute field: '+1' is not a number (0-59)"},
        {"* * mon * *", "day-of-month field: 'mon' is not a number (1-31)"},
        {"* * * foo *", "month field: 'foo' is not a number or a month name (1-12 or jan-dec)"},
        {"* * * january *",
         "month field: 'january' is not a number or a month name (1-12 or jan-dec)"},
        {"* * * * monday",
         "day-of-week field: 'monday' is not a number or a day name (0-7 or sun-sat)"},
        {"* * * * jan", "day-of-week field: 'jan' is not a number or a day name (0-7 or sun-sat)"},
        {"*/0 * * * *", "minute field: step '0' is out of range (1-59)"},
        {"*/60 * * * *", "minute field: step '60' is out of range (1-59)"},
        {"* */24 * * *", "hour field: step '24' is out of range (1-23)"},
        {"* * * * */8", "day-of-week field: step '8' is out of range (1-7)"},
        {"*/x * * * *", "minute field: step 'x' is not a number (1-59)"},
        {"*/ * * * *", "minute field: '*/' lacks a step after '/'"},
        {"1/2/3 * * * *", "minute field: '1/2/3' has more than one '/'"},
        {"/5 * * * *", "minute field: '/5' lacks a value before '/'"},
        {"30-10 * * * *",
         "minute field: range '30-10' runs backwards (the start must not be after the end)"},
        {"* * * * sat-sun",
         "day-of-week field: range 'sat-sun' runs backwards (the start must not be after the end)"},
        {"5- * * * *", "minute field: range '5-' lacks its end"},
        {"1-2-3 * * * *", "minute field: range '1-2-3' has more than one '-'"},
        {"1-70 * * * *", "minute field: '70' is out of range (0-59)"},
        {"1,,2 * * * *", "minute field: empty item in list '1,,2'"},
        {"1, * * * *", "minute field: empty item in list '1,'"},
        {",1 * * * *", "minute field: empty item in list ',1'"},
        {"*-5 * * * *", "minute field: '*-5' is not valid: '*' stands alone or with a step"},
        {"** * * * *", "minute field: '**' is not valid: '*' stands alone or with a step"},
        {"\x01\x7f * * * *", "minute field: '?"
                             "?' is not a number (0-59)"},
        {"0 0 * * *\n", "day-of-week field: '*?' is not valid: '*' stands alone or with a step"},
        {"0 0 30 2 *", "day-of-month field: '30' never occurs in month field '2', so the "
                       "schedule would never run"},
        {"0 0 31 4,6,9,11 *", "day-of-month field: '31' never occurs in month field '4,6,9,11', "
                              "so the schedule would never run"},
        {"0 0 30,31 feb *", "day-of-month field: '30,31' never occurs in month field 'feb', so "
                            "the schedule would never run"},
        {"@reboot", "'@reboot' is not supported: jobs run on a schedule, not when the daemon "
                    "starts (catch_up = yes runs a missed job at start-up)"},
        {"@every", "unknown nickname '@every' (use @hourly, @daily, @midnight, @weekly, @monthly, "
                   "@yearly or @annually)"},
        {"@", "unknown nickname '@' (use @hourly, @daily, @midnight, @weekly, @monthly, "
              "@yearly or @annually)"},
        {"@daily 0", "'@daily' takes no fields: write a nickname or 5 fields, not both"},
        {"* * * * *@daily", "day-of-week field: '*@daily' is not valid: '*' stands alone or "
                            "with a step"},
    };
    struct error err = ERROR_INIT;
    char want[512];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cron_expr e;
        const char *msg = bad[i].msg;
        if (msg[0] == '+') {
            (void)snprintf(want, sizeof(want), "%s%s", five, msg + 1);
            msg = want;
        }
        error_clear(&err);
        if (cron_parse(bad[i].text, &e, &err) == 0)
            unit_fail(__FILE__, __LINE__, "'%s' parsed", bad[i].text);
        if (err.kind != ERR_CONFIG || strcmp(err.msg, msg) != 0)
            unit_fail(__FILE__, __LINE__, "'%s': kind %d, message\n  \"%s\", want\n  \"%s\"",
                      bad[i].text, (int)err.kind, err.msg, msg);
    }
}

static void test_cron_parse_long_token_is_cut_in_message(void)
{
    char text[200];
    struct cron_expr e;
    struct error err = ERROR_INIT;

    memset(text, 'x', 100);
    memcpy(text + 100, " * * * *", 9);
    CHECK_ERR(cron_parse(text, &e, &err), err, ERR_CONFIG,
              "minute field: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is not a number");
    CHECK(strlen(err.msg) < 120);
}

static void test_cron_parse_length_is_capped(void)
{
    char text[CRON_TEXT_MAX + 2];
    struct cron_expr e;
    struct error err = ERROR_INIT;

    /* CRON_TEXT_MAX characters are accepted; one more is refused without reading further. */
    memset(text, ' ', sizeof(text));
    memcpy(text, "0 0 * * *", 9);
    text[CRON_TEXT_MAX] = '\0';
    CHECK_OK(cron_parse(text, &e, unit_err()));
    text[CRON_TEXT_MAX] = ' ';
    text[CRON_TEXT_MAX + 1] = '\0';
    CHECK_ERR(cron_parse(text, &e, &err), err, ERR_CONFIG,
              "schedule is longer than 256 characters");
}

static void test_cron_parse_feb_29_and_never_firing_accepted_forms(void)
{
    struct cron_expr e;

    CHECK_OK(cron_parse("0 0 29 2 *", &e, unit_err()));
    CHECK_OK(cron_parse("0 0 31 * *", &e, unit_err()));
    CHECK_OK(cron_parse("0 0 31 2,3 *", &e, unit_err()));
    /* Both day fields restricted: ORed, so February Mondays make it run. */
    CHECK_OK(cron_parse("0 0 30 2 mon", &e, unit_err()));
}

static void test_cron_parse_failure_leaves_output_alone(void)
{
    struct cron_expr e;
    struct cron_expr before;
    struct error err = ERROR_INIT;

    memset(&e, 0xab, sizeof(e));
    before = e;
    CHECK_ERR(cron_parse("0 0 30 2 *", &e, &err), err, ERR_CONFIG, "never");
    CHECK_ERR(cron_parse("1-2-3 * * * *", &e, &err), err, ERR_CONFIG, "more than one");
    CHECK(memcmp(&e, &before, sizeof(e)) == 0);
}

/* ---- run times in UTC: calendar ---- */

static void test_cron_next_basic_utc(void)
{
    NEXT_CHAIN("*/15 * * * *", "UTC", "2026-05-05T10:07:30Z", "2026-05-05T10:15:00Z",
               "2026-05-05T10:30:00Z", "2026-05-05T10:45:00Z", "2026-05-05T11:00:00Z");
    /* Strictly after: a run time is not its own next run. */
    NEXT_CHAIN("0 3 * * *", "UTC", "2026-05-05T03:00:00Z", "2026-05-06T03:00:00Z");
    NEXT_CHAIN("0 3 * * *", "UTC", "2026-05-05T02:59:59Z", "2026-05-05T03:00:00Z");
    NEXT_CHAIN("59 23 31 12 *", "UTC", "2026-05-05T00:00:00Z", "2026-12-31T23:59:00Z",
               "2027-12-31T23:59:00Z");
    NEXT_CHAIN("@weekly", "UTC", "2026-05-05T00:00:00Z", "2026-05-10T00:00:00Z",
               "2026-05-17T00:00:00Z");
    NEXT_CHAIN("@monthly", "UTC", "2026-12-15T00:00:00Z", "2027-01-01T00:00:00Z",
               "2027-02-01T00:00:00Z");
    NEXT_CHAIN("@yearly", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
    NEXT_CHAIN("@hourly", "UTC", "2026-05-05T23:30:00Z", "2026-05-06T00:00:00Z");
    /* Weekdays only: Friday 2026-05-08, then Monday. */
    NEXT_CHAIN("30 6 * * mon-fri", "UTC", "2026-05-08T00:00:00Z", "2026-05-08T06:30:00Z",
               "2026-05-11T06:30:00Z");
}

static void test_cron_next_dom_dow_or_rule(void)
{
    /* 2026-02: the 1st is a Sunday, the 13th a Friday. "13th or Friday". */
    NEXT_CHAIN("0 0 13 * 5", "UTC", "2026-02-01T00:00:00Z", "2026-02-06T00:00:00Z",
               "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z", "2026-02-27T00:00:00Z",
               "2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z");
    /* "1st or Monday": Sunday 2026-03-01 is the 1st, Monday the 2nd. */
    NEXT_CHAIN("0 0 1 * mon", "UTC", "2026-02-28T12:00:00Z", "2026-03-01T00:00:00Z",
               "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z");
    /* Day-of-month written with '*': ANDed (Vixie). Odd days that are Mondays: 9th, 23rd. */
    NEXT_CHAIN("0 0 */2 * 1", "UTC", "2026-03-01T00:00:00Z", "2026-03-09T00:00:00Z",
               "2026-03-23T00:00:00Z");
    /* Day-of-week written with '*': only the day of month counts. */
    NEXT_CHAIN("0 0 15 * *", "UTC", "2026-03-01T00:00:00Z", "2026-03-15T00:00:00Z");
}

static void test_cron_next_month_ends(void)
{
    /* The 31st exists only in long months. */
    NEXT_CHAIN("0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z",
               "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z",
               "2026-10-31T00:00:00Z", "2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z");
    NEXT_CHAIN("0 12 30 * *", "UTC", "2026-01-30T12:00:00Z", "2026-03-30T12:00:00Z");
    /* February and April have no 31st; March does. */
    NEXT_CHAIN("0 0 31 2-4 *", "UTC", "2026-01-01T00:00:00Z", "2026-03-31T00:00:00Z",
               "2027-03-31T00:00:00Z");
}

static void test_cron_next_feb_29_across_years(void)
{
    NEXT_CHAIN("0 0 29 2 *", "UTC", "2025-01-01T00:00:00Z", "2028-02-29T00:00:00Z",
               "2032-02-29T00:00:00Z");
    /* 2100 is not a leap year (divisible by 100, not by 400); 2000 was. */
    NEXT_CHAIN("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z");
    NEXT_CHAIN("0 0 29 2 *", "UTC", "1997-01-01T00:00:00Z", "2000-02-29T00:00:00Z");
    PREV("0 0 29 2 *", "UTC", "2031-01-01T00:00:00Z", "2028-02-29T00:00:00Z");
    PREV("0 0 29 2 *", "UTC", "2104-02-28T00:00:00Z", "2096-02-29T00:00:00Z");
}

static void test_cron_next_sparse_schedule_decades_away(void)
{
    /* Feb 29 on a Sunday (day-of-week written with '*', so ANDed): 2088, then 2128 (2100 is no
     * leap year). Found by skipping whole months, not minute by minute. */
    NEXT_CHAIN("0 0 29 2 */7", "UTC", "2089-01-01T00:00:00Z", "2128-02-29T00:00:00Z");
    PREV("0 0 29 2 */7", "UTC", "2128-02-28T00:00:00Z", "2088-02-29T00:00:00Z");
    /* Far in the future too, still fast: 2999-12-31 is a Tuesday. */
    NEXT_CHAIN("59 23 31 12 *", "UTC", "2999-12-31T23:58:00Z", "2999-12-31T23:59:00Z");
}

static void test_cron_prev_basic_utc(void)
{
    PREV("0 3 * * *", "UTC", "2026-05-05T03:00:00Z", "2026-05-05T03:00:00Z");
    PREV("0 3 * * *", "UTC", "2026-05-05T02:59:59Z", "2026-05-04T03:00:00Z");
    PREV("*/15 * * * *", "UTC", "2026-01-01T00:14:59Z", "2026-01-01T00:00:00Z");
    PREV("*/15 * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    PREV("0 0 31 * *", "UTC", "2026-05-01T00:00:00Z", "2026-03-31T00:00:00Z");
    PREV("@yearly", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    PREV("@yearly", "UTC", "2025-12-31T23:59:59Z", "2025-01-01T00:00:00Z");
}

/* ---- run times across DST ---- */

static void test_cron_next_new_york_spring_forward_runs_once_at_end_of_gap(void)
{
    /* 2026-03-08 02:00 EST jumps to 03:00 EDT (07:00Z); 02:30 does not exist that day. */
    NEXT_CHAIN("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z",
               "2026-03-09T06:30:00Z");
    /* Four run times in the gap, one run. */
    NEXT_CHAIN("*/15 2 * * *", "America/New_York", "2026-03-08T05:00:00Z", "2026-03-08T07:00:00Z",
               "2026-03-09T06:00:00Z");
    /* A run at 03:00 itself coincides with the gap's run: still one. */
    NEXT_CHAIN("30 2,3 * * *", "America/New_York", "2026-03-08T05:00:00Z", "2026-03-08T07:00:00Z",
               "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z");
    NEXT_CHAIN("0 * * * *", "America/New_York", "2026-03-08T05:30:00Z", "2026-03-08T06:00:00Z",
               "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z");
    PREV("30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z");
    PREV("30 2 * * *", "America/New_York", "2026-03-08T06:59:59Z", "2026-03-07T07:30:00Z");
}

static void test_cron_next_new_york_fall_back_runs_once_in_repeated_hour(void)
{
    /* 2026-11-01 02:00 EDT falls back to 01:00 EST (06:00Z); 01:00-01:59 happens twice. */
    NEXT_CHAIN("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z",
               "2026-11-02T06:30:00Z");
    /* Asked during the second 01:xx, 01:30 was already due. */
    NEXT_CHAIN("30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z", "2026-11-02T06:30:00Z");
    /* Hourly: 01:00 EDT, not 01:00 EST, then 02:00 EST. */
    NEXT_CHAIN("0 * * * *", "America/New_York", "2026-11-01T04:30:00Z", "2026-11-01T05:00:00Z",
               "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z");
    NEXT_CHAIN("0 * * * *", "America/New_York", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z");
    /* Every 15 minutes pauses for the repeated hour (docs/operations.md says so). */
    NEXT_CHAIN("*/15 * * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T05:45:00Z",
               "2026-11-01T07:00:00Z", "2026-11-01T07:15:00Z");
    NEXT_CHAIN("@daily", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T04:00:00Z",
               "2026-11-02T05:00:00Z");
    /* The last run as seen from the second 01:30 (EST) is the first 01:30 (EDT), and from 01:50
     * EST an hourly's last run is 01:00 EDT. */
    PREV("30 1 * * *", "America/New_York", "2026-11-01T06:45:00Z", "2026-11-01T05:30:00Z");
    PREV("45 1 * * *", "America/New_York", "2026-11-01T06:30:00Z", "2026-11-01T05:45:00Z");
    PREV("0 * * * *", "America/New_York", "2026-11-01T06:50:00Z", "2026-11-01T05:00:00Z");
}

static void test_cron_next_berlin_both_changes(void)
{
    /* 2026-03-29 02:00 CET -> 03:00 CEST at 01:00Z; 2026-10-25 03:00 CEST -> 02:00 CET at 01:00Z.
     */
    NEXT_CHAIN("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z",
               "2026-03-30T00:30:00Z");
    NEXT_CHAIN("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z",
               "2026-10-26T01:30:00Z");
    NEXT_CHAIN("0 3 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T02:00:00Z");
    NEXT_CHAIN("0 * * * *", "Europe/Berlin", "2026-10-24T23:30:00Z", "2026-10-25T00:00:00Z",
               "2026-10-25T02:00:00Z");
}

static void test_cron_next_lord_howe_half_hour_shift(void)
{
    /* 2026-04-05 02:00 +11 falls back to 01:30 +1030 (15:00Z): 01:30-01:59 twice. */
    NEXT_CHAIN("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00Z", "2026-04-04T14:45:00Z",
               "2026-04-05T15:15:00Z");
    NEXT_CHAIN("0 * * * *", "Australia/Lord_Howe", "2026-04-04T13:30:00Z", "2026-04-04T14:00:00Z",
               "2026-04-04T15:30:00Z");
    /* 2026-10-04 02:00 +1030 jumps to 02:30 +11 (15:30Z): 02:00, 02:10, 02:20 and the real
     * 02:30 are one run. */
    NEXT_CHAIN("*/10 2 * * *", "Australia/Lord_Howe", "2026-10-03T15:00:00Z",
               "2026-10-03T15:30:00Z", "2026-10-03T15:40:00Z", "2026-10-03T15:50:00Z",
               "2026-10-04T15:00:00Z");
    PREV("*/10 2 * * *", "Australia/Lord_Howe", "2026-10-03T15:35:00Z", "2026-10-03T15:30:00Z");
}

static void test_cron_next_midnight_transitions(void)
{
    /* Sao Paulo 2018-11-04 00:00 -03 jumped to 01:00 -02 (03:00Z): no midnight that day. */
    NEXT_CHAIN("0 0 * * *", "America/Sao_Paulo", "2018-11-03T12:00:00Z", "2018-11-04T03:00:00Z",
               "2018-11-05T02:00:00Z");
    /* 2019-02-17 00:00 -02 fell back to 2019-02-16 23:00 -03: 23:30 on the 16th came twice. */
    NEXT_CHAIN("30 23 * * *", "America/Sao_Paulo", "2019-02-16T12:00:00Z", "2019-02-17T01:30:00Z",
               "2019-02-18T02:30:00Z");
    NEXT_CHAIN("0 0 * * *", "America/Sao_Paulo", "2019-02-16T12:00:00Z", "2019-02-17T03:00:00Z");
    /* Havana 2026-03-08 00:00 CST -> 01:00 CDT (05:00Z); 2026-11-01 01:00 CDT -> 00:00 CST. */
    NEXT_CHAIN("0 0 * * *", "America/Havana", "2026-03-07T12:00:00Z", "2026-03-08T05:00:00Z",
               "2026-03-09T04:00:00Z");
    NEXT_CHAIN("0 0 * * *", "America/Havana", "2026-10-31T12:00:00Z", "2026-11-01T04:00:00Z",
               "2026-11-02T05:00:00Z");
    /* Beirut 2026-03-29 00:00 EET -> 01:00 EEST (22:00Z on the 28th); 2026-10-25 00:00 EEST ->
     * 23:00 EET on the 24th. */
    NEXT_CHAIN("0 0 * * *", "Asia/Beirut", "2026-03-28T12:00:00Z", "2026-03-28T22:00:00Z",
               "2026-03-29T21:00:00Z");
    NEXT_CHAIN("30 23 * * *", "Asia/Beirut", "2026-10-24T12:00:00Z", "2026-10-24T20:30:00Z",
               "2026-10-25T21:30:00Z");
}

static void test_cron_next_kolkata_fixed_offset(void)
{
    NEXT_CHAIN("0 9 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-01-01T03:30:00Z",
               "2026-01-02T03:30:00Z");
    NEXT_CHAIN("0 0 1 1 *", "Asia/Kolkata", "2026-06-01T00:00:00Z", "2026-12-31T18:30:00Z");
}

static void test_cron_next_null_zone_is_process_local_time(void)
{
    const char *old = getenv("TZ");
    char *saved = old ? xstrdup(old) : NULL;

    /* A POSIX TZ string: New York's rules without tzdata. */
    CHECK(setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1) == 0);
    NEXT_CHAIN("30 2 * * *", NULL, "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z",
               "2026-03-09T06:30:00Z");
    CHECK(setenv("TZ", "UTC0", 1) == 0);
    NEXT_CHAIN("30 2 * * *", NULL, "2026-03-07T12:00:00Z", "2026-03-08T02:30:00Z");
    /* An empty zone name means the same. */
    NEXT_CHAIN("30 2 * * *", "", "2026-03-07T12:00:00Z", "2026-03-08T02:30:00Z");
    /* A named zone leaves the process's TZ as it was. */
    NEXT_CHAIN("30 2 * * *", "Asia/Kolkata", "2026-03-07T12:00:00Z", "2026-03-07T21:00:00Z");
    CHECK_STR_EQ(getenv("TZ"), "UTC0");
    if (saved ? setenv("TZ", saved, 1) != 0 : unsetenv("TZ") != 0)
        unit_fail(__FILE__, __LINE__, "restore TZ");
    xfree(saved);
}

static void test_cron_next_unknown_zone_is_a_config_error(void)
{
    struct cron_expr e = parse_ok("@daily");
    struct error err = ERROR_INIT;
    time_t t = 0;

    CHECK(unsetenv("TZ") == 0);
    CHECK_ERR(cron_next(&e, "Mars/Olympus_Mons", 0, &t, &err), err, ERR_CONFIG,
              "unknown timezone 'Mars/Olympus_Mons'");
    CHECK_ERR(cron_prev(&e, "../../etc/passwd", 0, &t, &err), err, ERR_CONFIG,
              "unknown timezone '../../etc/passwd'");
    CHECK_ERR(cron_next(&e, "Europe/Berlin\n", 0, &t, &err), err, ERR_CONFIG,
              "unknown timezone 'Europe/Berlin?'");
    CHECK(getenv("TZ") == NULL);
    CHECK_INT_EQ(t, 0);
}

static void test_cron_next_time_beyond_calendar_is_an_error(void)
{
    struct cron_expr e = parse_ok("@daily");
    struct error err = ERROR_INIT;
    time_t t = 0;

    CHECK_ERR(cron_next(&e, "UTC", (time_t)INT64_MAX, &t, &err), err, ERR_CONFIG,
              "beyond the calendar");
    CHECK_ERR(cron_prev(&e, "UTC", (time_t)INT64_MIN, &t, &err), err, ERR_CONFIG,
              "beyond the calendar");
}

static void test_cron_next_hand_built_empty_expression_fails(void)
{
    struct cron_expr e;
    struct error err = ERROR_INIT;
    time_t t = 0;

    memset(&e, 0, sizeof(e));
    CHECK_ERR(cron_next(&e, "UTC", 0, &t, &err), err, ERR_CONFIG, "no run within 401 years");
    CHECK_ERR(cron_prev(&e, "UTC", 0, &t, &err), err, ERR_CONFIG, "no run within 401 years");
}

/* ---- chains ---- */

static void test_cron_chains_move_forward_and_agree_with_prev(void)
{
    static const char *const exprs[] = {
        "* * * * *",  "*/7 * * * *", "30 1,2 * * *", "0 * * * *",    "15 0 * * 0", "*/20 0-3 * * *",
        "0 0 29 2 *", "0 23 * * *",  "45 1 * * *",   "0 0 13 * fri", "@monthly",   "0,30 * * * *"};
    /* Sparse expressions get shorter chains: 400 leap days span 1600 years and every step
     * reloads the zone, while the DST cases they exercise come in the first few steps. */
    static const int steps[] = {400, 400, 400, 400, 100, 400, 30, 400, 400, 40, 40, 400};
    static const struct {
        const char *zone;
        const char *start;
    } starts[] = {/* a few hours before each transition, so the dense chains cross it */
                  {"America/New_York", "2026-11-01T03:00:00Z"},
                  {"America/New_York", "2026-03-08T04:00:00Z"},
                  {"Europe/Berlin", "2026-10-24T22:00:00Z"},
                  {"Australia/Lord_Howe", "2026-04-04T12:00:00Z"},
                  {"Australia/Lord_Howe", "2026-10-03T12:30:00Z"},
                  {"America/Sao_Paulo", "2018-11-04T00:00:00Z"},
                  {"America/Sao_Paulo", "2019-02-16T23:00:00Z"},
                  {"Asia/Beirut", "2026-10-24T18:00:00Z"},
                  {"UTC", "2026-01-01T00:00:00Z"}};

    for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
        for (size_t x = 0; x < sizeof(exprs) / sizeof(exprs[0]); x++) {
            struct cron_expr e = parse_ok(exprs[x]);
            time_t t = utc(starts[s].start);
            time_t last = 0;
            for (int i = 0; i < steps[x]; i++) {
                time_t next = 0;
                time_t prev = 0;
                CHECK_OK(cron_next(&e, starts[s].zone, t, &next, unit_err()));
                if (next <= t)
                    unit_fail(__FILE__, __LINE__, "'%s' %s: next %lld after %lld", exprs[x],
                              starts[s].zone, (long long)next, (long long)t);
                CHECK_OK(cron_prev(&e, starts[s].zone, next, &prev, unit_err()));
                if (prev != next)
                    unit_fail(__FILE__, __LINE__, "'%s' %s: prev(%lld) = %lld", exprs[x],
                              starts[s].zone, (long long)next, (long long)prev);
                /* Just before a run, the last run is the chain's previous element. */
                if (i > 0) {
                    CHECK_OK(cron_prev(&e, starts[s].zone, next - 1, &prev, unit_err()));
                    if (prev != last)
                        unit_fail(__FILE__, __LINE__, "'%s' %s: prev(%lld - 1) = %lld, not %lld",
                                  exprs[x], starts[s].zone, (long long)next, (long long)prev,
                                  (long long)last);
                }
                last = next;
                t = next;
            }
        }
    }
}

static void test_cron_chain_every_minute_skips_repeated_hour(void)
{
    struct cron_expr e = parse_ok("* * * * *");
    time_t t = utc("2026-11-01T05:58:00Z"); /* 01:58 EDT */
    time_t next = 0;

    CHECK_OK(cron_next(&e, "America/New_York", t, &next, unit_err()));
    CHECK_INT_EQ(next, utc("2026-11-01T05:59:00Z"));
    /* 01:00-01:59 EST already ran (as EDT): the next is 02:00 EST. */
    CHECK_OK(cron_next(&e, "America/New_York", next, &next, unit_err()));
    CHECK_INT_EQ(next, utc("2026-11-01T07:00:00Z"));
}

const struct unit_test cron_tests[] = {
    {"test_cron_parse_star_is_every_value", test_cron_parse_star_is_every_value},
    {"test_cron_parse_numbers_ranges_lists_and_steps",
     test_cron_parse_numbers_ranges_lists_and_steps},
    {"test_cron_parse_month_and_day_names_any_case", test_cron_parse_month_and_day_names_any_case},
    {"test_cron_parse_seven_is_sunday", test_cron_parse_seven_is_sunday},
    {"test_cron_parse_star_flags_follow_first_character",
     test_cron_parse_star_flags_follow_first_character},
    {"test_cron_parse_whitespace_trimmed_and_tabs", test_cron_parse_whitespace_trimmed_and_tabs},
    {"test_cron_parse_every_nickname", test_cron_parse_every_nickname},
    {"test_cron_parse_invalid_expressions_have_exact_messages",
     test_cron_parse_invalid_expressions_have_exact_messages},
    {"test_cron_parse_long_token_is_cut_in_message", test_cron_parse_long_token_is_cut_in_message},
    {"test_cron_parse_length_is_capped", test_cron_parse_length_is_capped},
    {"test_cron_parse_feb_29_and_never_firing_accepted_forms",
     test_cron_parse_feb_29_and_never_firing_accepted_forms},
    {"test_cron_parse_failure_leaves_output_alone", test_cron_parse_failure_leaves_output_alone},
    {"test_cron_next_basic_utc", test_cron_next_basic_utc},
    {"test_cron_next_dom_dow_or_rule", test_cron_next_dom_dow_or_rule},
    {"test_cron_next_month_ends", test_cron_next_month_ends},
    {"test_cron_next_feb_29_across_years", test_cron_next_feb_29_across_years},
    {"test_cron_next_sparse_schedule_decades_away", test_cron_next_sparse_schedule_decades_away},
    {"test_cron_prev_basic_utc", test_cron_prev_basic_utc},
    {"test_cron_next_new_york_spring_forward_runs_once_at_end_of_gap",
     test_cron_next_new_york_spring_forward_runs_once_at_end_of_gap},
    {"test_cron_next_new_york_fall_back_runs_once_in_repeated_hour",
     test_cron_next_new_york_fall_back_runs_once_in_repeated_hour},
    {"test_cron_next_berlin_both_changes", test_cron_next_berlin_both_changes},
    {"test_cron_next_lord_howe_half_hour_shift", test_cron_next_lord_howe_half_hour_shift},
    {"test_cron_next_midnight_transitions", test_cron_next_midnight_transitions},
    {"test_cron_next_kolkata_fixed_offset", test_cron_next_kolkata_fixed_offset},
    {"test_cron_next_null_zone_is_process_local_time",
     test_cron_next_null_zone_is_process_local_time},
    {"test_cron_next_unknown_zone_is_a_config_error",
     test_cron_next_unknown_zone_is_a_config_error},
    {"test_cron_next_time_beyond_calendar_is_an_error",
     test_cron_next_time_beyond_calendar_is_an_error},
    {"test_cron_next_hand_built_empty_expression_fails",
     test_cron_next_hand_built_empty_expression_fails},
    {"test_cron_chains_move_forward_and_agree_with_prev",
     test_cron_chains_move_forward_and_agree_with_prev},
    {"test_cron_chain_every_minute_skips_repeated_hour",
     test_cron_chain_every_minute_skips_repeated_hour},
    {NULL, NULL},
};
