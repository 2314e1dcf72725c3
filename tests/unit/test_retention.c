#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/retention.h"
#include "unit.h"
#include "util/time.h"

#define MAX_ITEMS 128

/* A plan over items given as UTC times ("2026-11-24T03:15:00Z"); each item's id is its time text
 * unless ids is given. Decisions come back in the order of the input. */
struct plan {
    struct retention_item items[MAX_ITEMS];
    struct retention_decision d[MAX_ITEMS];
    size_t count;
};

static time_t utc(const char *iso)
{
    time_t t = 0;

    if (!time_parse_utc(iso, &t))
        unit_fail(__FILE__, __LINE__, "bad test time '%s'", iso);
    return t;
}

static void plan_run(struct plan *p, const char *const *times, const char *const *ids, size_t count,
                     struct keep_policy keep, const char *tz)
{
    CHECK(count <= MAX_ITEMS);
    memset(p, 0, sizeof(*p));
    p->count = count;
    for (size_t i = 0; i < count; i++) {
        p->items[i].id = ids ? ids[i] : times[i];
        p->items[i].time = utc(times[i]);
    }
    CHECK_OK(retention_plan(p->items, count, &keep, tz, p->d, unit_err()));
}

/* Fills times[] with `count` timestamps, `step` seconds apart going back from `newest`. */
static void times_back_from(const char *newest, time_t step, size_t count,
                            char times[][TIME_ISO_LEN], const char **ptrs)
{
    time_t t = utc(newest);

    for (size_t i = 0; i < count; i++) {
        time_format_iso(t - (time_t)i * step, times[i]);
        ptrs[i] = times[i];
    }
}

static size_t kept_count(const struct plan *p)
{
    size_t n = 0;

    for (size_t i = 0; i < p->count; i++)
        n += p->d[i].keep;
    return n;
}

#define CHECK_KEPT(p, i, want_reason)                                                              \
    do {                                                                                           \
        CHECK((p).d[i].keep);                                                                      \
        CHECK_STR_EQ((p).d[i].reason, want_reason);                                                \
    } while (0)

#define CHECK_REMOVED(p, i)                                                                        \
    do {                                                                                           \
        CHECK(!(p).d[i].keep);                                                                     \
        CHECK_STR_EQ((p).d[i].reason, "");                                                         \
    } while (0)

static void test_retention_all_zero_policy_keeps_everything(void)
{
    static const char *const times[] = {"2026-11-24T03:15:00Z", "2026-11-23T03:15:00Z",
                                        "2025-01-01T00:00:00Z"};
    struct keep_policy keep = {0};
    struct plan p;

    plan_run(&p, times, NULL, 3, keep, "UTC");
    CHECK_KEPT(p, 0, "newest, no keep policy");
    CHECK_KEPT(p, 1, "no keep policy");
    CHECK_KEPT(p, 2, "no keep policy");
}

static void test_retention_null_policy_keeps_everything(void)
{
    struct retention_item items[2] = {{"a", 100}, {"b", 200}};
    struct retention_decision d[2];

    CHECK_OK(retention_plan(items, 2, NULL, "UTC", d, unit_err()));
    CHECK(d[0].keep && d[1].keep);
    CHECK_STR_EQ(d[0].reason, "no keep policy");
    CHECK_STR_EQ(d[1].reason, "newest, no keep policy");
}

static void test_retention_empty_input_plans_nothing(void)
{
    struct keep_policy keep = {.daily = 7};
    struct retention_decision d[1] = {{true, "untouched"}};

    CHECK_OK(retention_plan(NULL, 0, &keep, "Europe/Berlin", d, unit_err()));
    CHECK_STR_EQ(d[0].reason, "untouched");
}

static void test_retention_last_n_keeps_the_n_newest(void)
{
    static const char *const times[] = {"2026-11-20T00:00:00Z", "2026-11-24T00:00:00Z",
                                        "2026-11-21T00:00:00Z", "2026-11-23T00:00:00Z",
                                        "2026-11-22T00:00:00Z"};
    struct keep_policy keep = {.last = 3};
    struct plan p;

    plan_run(&p, times, NULL, 5, keep, "UTC");
    CHECK_REMOVED(p, 0);
    CHECK_KEPT(p, 1, "newest, last 3");
    CHECK_REMOVED(p, 2);
    CHECK_KEPT(p, 3, "last 3");
    CHECK_KEPT(p, 4, "last 3");
}

static void test_retention_last_above_count_keeps_all(void)
{
    static const char *const times[] = {"2026-11-24T00:00:00Z", "2026-11-23T00:00:00Z"};
    struct keep_policy keep = {.last = 10};
    struct plan p;

    plan_run(&p, times, NULL, 2, keep, "UTC");
    CHECK_KEPT(p, 0, "newest, last 10");
    CHECK_KEPT(p, 1, "last 10");
}

static void test_retention_last_0_with_daily_keeps_by_day_only(void)
{
    static const char *const times[] = {"2026-11-24T10:00:00Z", "2026-11-24T09:00:00Z",
                                        "2026-11-23T10:00:00Z", "2026-11-22T10:00:00Z"};
    struct keep_policy keep = {.last = 0, .daily = 2};
    struct plan p;

    plan_run(&p, times, NULL, 4, keep, "UTC");
    CHECK_KEPT(p, 0, "newest, daily 2026-11-24");
    CHECK_REMOVED(p, 1);
    CHECK_KEPT(p, 2, "daily 2026-11-23");
    CHECK_REMOVED(p, 3);
}

static void test_retention_daily_keeps_only_newest_of_each_day(void)
{
    static const char *const times[] = {
        "2026-11-24T18:00:00Z", "2026-11-24T12:00:00Z", "2026-11-24T06:00:00Z",
        "2026-11-23T23:59:59Z", "2026-11-23T00:00:00Z", "2026-11-22T12:00:00Z",
    };
    struct keep_policy keep = {.daily = 7};
    struct plan p;

    plan_run(&p, times, NULL, 6, keep, "UTC");
    CHECK_KEPT(p, 0, "newest, daily 2026-11-24");
    CHECK_REMOVED(p, 1);
    CHECK_REMOVED(p, 2);
    CHECK_KEPT(p, 3, "daily 2026-11-23");
    CHECK_REMOVED(p, 4);
    CHECK_KEPT(p, 5, "daily 2026-11-22");
    CHECK_INT_EQ(kept_count(&p), 3);
}

static void test_retention_daily_gap_does_not_use_up_buckets(void)
{
    /* Four days, three weeks of nothing, then four more: daily 7 still finds 7 distinct days. */
    static const char *const times[] = {
        "2026-11-24T03:00:00Z", "2026-11-23T03:00:00Z", "2026-11-22T03:00:00Z",
        "2026-11-21T03:00:00Z", "2026-10-30T03:00:00Z", "2026-10-29T03:00:00Z",
        "2026-10-28T03:00:00Z", "2026-10-27T03:00:00Z",
    };
    struct keep_policy keep = {.daily = 7};
    struct plan p;

    plan_run(&p, times, NULL, 8, keep, "UTC");
    CHECK_INT_EQ(kept_count(&p), 7);
    CHECK_KEPT(p, 4, "daily 2026-10-30");
    CHECK_KEPT(p, 6, "daily 2026-10-28");
    CHECK_REMOVED(p, 7);
}

static void test_retention_hourly_keeps_newest_of_each_hour(void)
{
    static const char *const times[] = {"2026-11-24T03:45:00Z", "2026-11-24T03:15:00Z",
                                        "2026-11-24T02:59:59Z", "2026-11-24T01:00:00Z",
                                        "2026-11-23T23:30:00Z"};
    struct keep_policy keep = {.hourly = 3};
    struct plan p;

    plan_run(&p, times, NULL, 5, keep, "UTC");
    CHECK_KEPT(p, 0, "newest, hourly 2026-11-24 03");
    CHECK_REMOVED(p, 1);
    CHECK_KEPT(p, 2, "hourly 2026-11-24 02");
    CHECK_KEPT(p, 3, "hourly 2026-11-24 01");
    CHECK_REMOVED(p, 4); /* a fourth hour, past the limit */
}

static void test_retention_daily_weekly_monthly_over_85_days(void)
{
    /* One snapshot a day at 03:15 from 2026-09-01 to 2026-11-24 (a Tuesday in 2026-W48). */
    char buf[85][TIME_ISO_LEN];
    const char *times[85];
    struct keep_policy keep = {.daily = 7, .weekly = 4, .monthly = 6};
    struct plan p;

    times_back_from("2026-11-24T03:15:00Z", 86400, 85, buf, times);
    CHECK_STR_EQ(times[84], "2026-09-01T03:15:00Z");
    plan_run(&p, times, NULL, 85, keep, "UTC");
    CHECK_KEPT(p, 0, "newest, daily 2026-11-24, weekly 2026-W48, monthly 2026-11");
    CHECK_KEPT(p, 6, "daily 2026-11-18");
    CHECK_REMOVED(p, 7); /* Nov 17: W47 is already the 22nd's */
    CHECK_KEPT(p, 2, "daily 2026-11-22, weekly 2026-W47");
    CHECK_KEPT(p, 9, "weekly 2026-W46");  /* Sun Nov 15 */
    CHECK_KEPT(p, 16, "weekly 2026-W45"); /* Sun Nov 8 */
    CHECK_KEPT(p, 24, "monthly 2026-10"); /* Oct 31 */
    CHECK_KEPT(p, 55, "monthly 2026-09"); /* Sep 30 */
    CHECK_INT_EQ(kept_count(&p), 11);
}

static void test_retention_weekly_iso_week_spans_year_boundary(void)
{
    /* 2026-12-31 (Thu) and 2027-01-01 (Fri) are both in 2026-W53; 2027-01-04 starts 2027-W01. */
    static const char *const times[] = {"2027-01-04T12:00:00Z", "2027-01-01T12:00:00Z",
                                        "2026-12-31T12:00:00Z", "2026-12-28T12:00:00Z",
                                        "2026-12-27T12:00:00Z", "2026-12-20T12:00:00Z"};
    struct keep_policy keep = {.weekly = 3};
    struct plan p;

    plan_run(&p, times, NULL, 6, keep, "UTC");
    CHECK_KEPT(p, 0, "newest, weekly 2027-W01");
    CHECK_KEPT(p, 1, "weekly 2026-W53");
    CHECK_REMOVED(p, 2);
    CHECK_REMOVED(p, 3);
    CHECK_KEPT(p, 4, "weekly 2026-W52");
    CHECK_REMOVED(p, 5);
}

static void test_retention_weekly_matches_strftime_iso_week_every_day(void)
{
    /* 1990..2060 covers every pattern of 52/53-week years and the leap-year cases. */
    struct keep_policy keep = {.weekly = 1};
    time_t start = utc("1990-01-01T12:00:00Z");
    time_t end = utc("2060-12-31T12:00:00Z");

    for (time_t t = start; t <= end; t += 86400) {
        struct retention_item item = {"x", t};
        struct retention_decision d;
        char want[64];
        struct tm tm;

        gmtime_r(&t, &tm);
        (void)strftime(want, sizeof(want), "newest, weekly %G-W%V", &tm);
        CHECK_OK(retention_plan(&item, 1, &keep, "UTC", &d, unit_err()));
        if (strcmp(d.reason, want) != 0)
            unit_fail(__FILE__, __LINE__, "%lld: \"%s\" != \"%s\"", (long long)t, d.reason, want);
    }
}

static void test_retention_monthly_month_ends_in_leap_year(void)
{
    static const char *const times[] = {"2028-03-01T00:00:00Z", "2028-02-29T23:59:59Z",
                                        "2028-02-28T12:00:00Z", "2028-01-31T23:59:59Z",
                                        "2027-12-31T23:59:59Z"};
    struct keep_policy keep = {.monthly = 3};
    struct plan p;

    plan_run(&p, times, NULL, 5, keep, "UTC");
    CHECK_KEPT(p, 0, "newest, monthly 2028-03");
    CHECK_KEPT(p, 1, "monthly 2028-02");
    CHECK_REMOVED(p, 2);
    CHECK_KEPT(p, 3, "monthly 2028-01");
    CHECK_REMOVED(p, 4);
}

static void test_retention_monthly_month_ends_in_common_year(void)
{
    static const char *const times[] = {"2026-03-01T00:30:00Z", "2026-02-28T23:30:00Z",
                                        "2026-02-01T00:00:00Z", "2026-01-31T23:59:59Z"};
    struct keep_policy keep = {.monthly = 12};
    struct plan p;

    plan_run(&p, times, NULL, 4, keep, "UTC");
    CHECK_KEPT(p, 0, "newest, monthly 2026-03");
    CHECK_KEPT(p, 1, "monthly 2026-02");
    CHECK_REMOVED(p, 2);
    CHECK_KEPT(p, 3, "monthly 2026-01");
}

static void test_retention_monthly_bucket_uses_local_date(void)
{
    /* 2026-01-31T23:30Z is 00:30 on February 1 in Berlin; 2026-02-28T23:30Z is March 1 there. */
    static const char *const times[] = {"2026-02-28T23:30:00Z", "2026-02-28T22:30:00Z",
                                        "2026-01-31T23:30:00Z", "2026-01-31T22:30:00Z"};
    struct keep_policy keep = {.monthly = 12};
    struct plan p;

    plan_run(&p, times, NULL, 4, keep, "Europe/Berlin");
    CHECK_KEPT(p, 0, "newest, monthly 2026-03");
    CHECK_KEPT(p, 1, "monthly 2026-02");
    CHECK_REMOVED(p, 2);
    CHECK_KEPT(p, 3, "monthly 2026-01");
}

static void test_retention_yearly_keeps_newest_of_each_year(void)
{
    static const char *const times[] = {"2026-06-01T00:00:00Z", "2026-01-01T00:00:00Z",
                                        "2025-12-31T23:59:59Z", "2024-02-29T00:00:00Z",
                                        "2023-12-31T00:00:00Z"};
    struct keep_policy keep = {.yearly = 3};
    struct plan p;

    plan_run(&p, times, NULL, 5, keep, "UTC");
    CHECK_KEPT(p, 0, "newest, yearly 2026");
    CHECK_REMOVED(p, 1);
    CHECK_KEPT(p, 2, "yearly 2025");
    CHECK_KEPT(p, 3, "yearly 2024");
    CHECK_REMOVED(p, 4);
}

static void test_retention_berlin_spring_forward_has_no_hour_02(void)
{
    /* 2026-03-29: 02:00 CET jumps to 03:00 CEST. Every 30 minutes from 00:00 to 03:30 local. */
    static const char *const times[] = {
        "2026-03-29T01:30:00Z", /* 03:30 CEST */
        "2026-03-29T01:00:00Z", /* 03:00 CEST */
        "2026-03-29T00:30:00Z", /* 01:30 CET */
        "2026-03-29T00:00:00Z", /* 01:00 CET */
        "2026-03-28T23:30:00Z", /* 00:30 CET, already March 29 locally */
        "2026-03-28T22:30:00Z", /* 23:30 CET on March 28 */
    };
    struct keep_policy keep = {.hourly = 24, .daily = 7};
    struct plan p;

    plan_run(&p, times, NULL, 6, keep, "Europe/Berlin");
    CHECK_KEPT(p, 0, "newest, hourly 2026-03-29 03, daily 2026-03-29");
    CHECK_REMOVED(p, 1);
    CHECK_KEPT(p, 2, "hourly 2026-03-29 01");
    CHECK_REMOVED(p, 3);
    CHECK_KEPT(p, 4, "hourly 2026-03-29 00");
    CHECK_KEPT(p, 5, "hourly 2026-03-28 23, daily 2026-03-28");
}

static void test_retention_berlin_fall_back_repeated_hour_is_one_bucket(void)
{
    /* 2026-10-25: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice. */
    static const char *const times[] = {
        "2026-10-25T02:30:00Z", /* 03:30 CET */
        "2026-10-25T01:30:00Z", /* 02:30 CET, the second 02:30 */
        "2026-10-25T00:30:00Z", /* 02:30 CEST, the first 02:30 */
        "2026-10-24T23:30:00Z", /* 01:30 CEST */
        "2026-10-24T22:30:00Z", /* 00:30 CEST on October 25 */
        "2026-10-24T21:30:00Z", /* 23:30 CEST on October 24 */
    };
    struct keep_policy keep = {.hourly = 24, .daily = 7};
    struct plan p;

    plan_run(&p, times, NULL, 6, keep, "Europe/Berlin");
    CHECK_KEPT(p, 0, "newest, hourly 2026-10-25 03, daily 2026-10-25");
    CHECK_KEPT(p, 1, "hourly 2026-10-25 02");
    CHECK_REMOVED(p, 2); /* same local hour as the one above */
    CHECK_KEPT(p, 3, "hourly 2026-10-25 01");
    CHECK_KEPT(p, 4, "hourly 2026-10-25 00");
    CHECK_KEPT(p, 5, "hourly 2026-10-24 23, daily 2026-10-24");
}

static void test_retention_fall_back_day_has_one_daily_bucket(void)
{
    /* A 25-hour local day: both 02:30s and everything else on October 25 is one daily bucket. */
    static const char *const times[] = {"2026-10-25T22:59:59Z", "2026-10-25T01:30:00Z",
                                        "2026-10-25T00:30:00Z", "2026-10-24T22:00:00Z",
                                        "2026-10-24T21:59:59Z"};
    struct keep_policy keep = {.daily = 7};
    struct plan p;

    plan_run(&p, times, NULL, 5, keep, "Europe/Berlin");
    CHECK_KEPT(p, 0, "newest, daily 2026-10-25"); /* 23:59:59 CET */
    CHECK_REMOVED(p, 1);
    CHECK_REMOVED(p, 2);
    CHECK_REMOVED(p, 3);                  /* 00:00:00 CEST */
    CHECK_KEPT(p, 4, "daily 2026-10-24"); /* 23:59:59 CEST */
}

static void test_retention_new_york_fall_back_and_local_midnight(void)
{
    static const char *const times[] = {
        "2026-11-02T05:30:00Z", /* 00:30 EST on November 2 */
        "2026-11-02T04:30:00Z", /* 23:30 EST on November 1 */
        "2026-11-01T06:30:00Z", /* 01:30 EST, the second 01:30 */
        "2026-11-01T05:30:00Z", /* 01:30 EDT, the first 01:30 */
        "2026-11-01T04:30:00Z", /* 00:30 EDT */
    };
    struct keep_policy keep = {.hourly = 24, .daily = 7};
    struct plan p;

    plan_run(&p, times, NULL, 5, keep, "America/New_York");
    CHECK_KEPT(p, 0, "newest, hourly 2026-11-02 00, daily 2026-11-02");
    CHECK_KEPT(p, 1, "hourly 2026-11-01 23, daily 2026-11-01");
    CHECK_KEPT(p, 2, "hourly 2026-11-01 01");
    CHECK_REMOVED(p, 3);
    CHECK_KEPT(p, 4, "hourly 2026-11-01 00");

    /* The same snapshots in UTC: the first two share a day, the two 01:30s do not share an hour. */
    plan_run(&p, times, NULL, 5, keep, "UTC");
    CHECK_KEPT(p, 0, "newest, hourly 2026-11-02 05, daily 2026-11-02");
    CHECK_KEPT(p, 1, "hourly 2026-11-02 04");
    CHECK_KEPT(p, 2, "hourly 2026-11-01 06, daily 2026-11-01");
    CHECK_KEPT(p, 3, "hourly 2026-11-01 05");
}

static void test_retention_new_york_spring_forward(void)
{
    /* 2026-03-08: 02:00 EST jumps to 03:00 EDT. */
    static const char *const times[] = {"2026-03-08T07:30:00Z", "2026-03-08T06:59:59Z",
                                        "2026-03-08T06:30:00Z"};
    struct keep_policy keep = {.hourly = 24};
    struct plan p;

    plan_run(&p, times, NULL, 3, keep, "America/New_York");
    CHECK_KEPT(p, 0, "newest, hourly 2026-03-08 03");
    CHECK_KEPT(p, 1, "hourly 2026-03-08 01");
    CHECK_REMOVED(p, 2);
}

static void test_retention_item_kept_for_several_reasons(void)
{
    static const char *const times[] = {"2026-11-24T03:15:00Z", "2026-11-23T03:15:00Z",
                                        "2026-10-01T03:15:00Z"};
    struct keep_policy keep = {.last = 1, .daily = 2, .weekly = 2, .monthly = 2, .yearly = 1};
    struct plan p;

    plan_run(&p, times, NULL, 3, keep, "UTC");
    CHECK_KEPT(p, 0,
               "newest, last 1, daily 2026-11-24, weekly 2026-W48, monthly 2026-11, yearly 2026");
    CHECK_KEPT(p, 1, "daily 2026-11-23");
    CHECK_KEPT(p, 2, "weekly 2026-W40, monthly 2026-10");
}

static void test_retention_long_reason_is_cut_at_a_boundary(void)
{
    struct retention_item item = {"x", 1795490100};
    struct keep_policy keep = {
        .last = 2000000000, .hourly = 1, .daily = 1, .weekly = 1, .monthly = 1, .yearly = 1};
    struct retention_decision d;
    size_t len;

    CHECK_OK(retention_plan(&item, 1, &keep, "UTC", &d, unit_err()));
    len = strlen(d.reason);
    CHECK(d.keep);
    CHECK(len < RETENTION_REASON_LEN);
    CHECK(strncmp(d.reason, "newest, last 2000000000, hourly 2026-11-24 03, daily 2026-11-24",
                  63) == 0);
    CHECK_STR_EQ(d.reason + len - 5, ", ...");
}

static void test_retention_newest_kept_when_policy_selects_nothing_older(void)
{
    static const char *const times[] = {"2026-11-24T03:15:00Z", "2026-11-24T02:15:00Z",
                                        "2026-11-24T01:15:00Z"};
    struct keep_policy keep = {.yearly = 1};
    struct plan p;

    plan_run(&p, times, NULL, 3, keep, "UTC");
    CHECK_KEPT(p, 0, "newest, yearly 2026");
    CHECK_REMOVED(p, 1);
    CHECK_REMOVED(p, 2);
}

static void test_retention_negative_count_means_unlimited(void)
{
    static const char *const times[] = {"2026-11-24T00:00:00Z", "2026-11-23T00:00:00Z",
                                        "2020-11-22T00:00:00Z"};
    struct keep_policy keep = {.daily = -1};
    struct plan p;

    plan_run(&p, times, NULL, 3, keep, "UTC");
    CHECK_INT_EQ(kept_count(&p), 3);
    CHECK_KEPT(p, 2, "daily 2020-11-22");
    keep = (struct keep_policy){.last = -1};
    plan_run(&p, times, NULL, 3, keep, "UTC");
    CHECK_KEPT(p, 2, "last (unlimited)");
}

static void test_retention_unsorted_input_maps_decisions_to_input_order(void)
{
    static const char *const times[] = {"2026-11-22T12:00:00Z", "2026-11-24T06:00:00Z",
                                        "2026-11-23T12:00:00Z", "2026-11-24T12:00:00Z",
                                        "2026-11-22T18:00:00Z"};
    struct keep_policy keep = {.daily = 2};
    struct plan p;

    plan_run(&p, times, NULL, 5, keep, "UTC");
    CHECK_REMOVED(p, 0);
    CHECK_REMOVED(p, 1);
    CHECK_KEPT(p, 2, "daily 2026-11-23");
    CHECK_KEPT(p, 3, "newest, daily 2026-11-24");
    CHECK_REMOVED(p, 4);
}

static void test_retention_identical_times_ordered_by_id(void)
{
    static const char *const times[] = {"2026-11-24T03:15:00Z", "2026-11-24T03:15:00Z",
                                        "2026-11-24T03:15:00Z"};
    static const char *const ids[] = {"20261124T031500Z-bbbb", "20261124T031500Z-cccc",
                                      "20261124T031500Z-aaaa"};
    struct keep_policy keep = {.daily = 5};
    struct plan p;

    /* The largest id counts as the newest, so it alone gets the day. */
    plan_run(&p, times, ids, 3, keep, "UTC");
    CHECK_REMOVED(p, 0);
    CHECK_KEPT(p, 1, "newest, daily 2026-11-24");
    CHECK_REMOVED(p, 2);

    keep = (struct keep_policy){.last = 2};
    plan_run(&p, times, ids, 3, keep, "UTC");
    CHECK_KEPT(p, 0, "last 2");
    CHECK_KEPT(p, 1, "newest, last 2");
    CHECK_REMOVED(p, 2);
}

static void test_retention_duplicate_items_are_planned_deterministically(void)
{
    struct retention_item items[3] = {{"same", 1000}, {"same", 1000}, {NULL, 1000}};
    struct keep_policy keep = {.last = 1};
    struct retention_decision d[3];

    /* Equal time and id: the first in the input counts as newer; a NULL id sorts as "". */
    CHECK_OK(retention_plan(items, 3, &keep, "UTC", d, unit_err()));
    CHECK(d[0].keep);
    CHECK(!d[1].keep);
    CHECK(!d[2].keep);
}

static void test_retention_unknown_timezone_is_a_config_error(void)
{
    static const char *const bad[] = {"Mars/Olympus_Mons",       "Europe/Berln", "../../etc/passwd",
                                      "/usr/share/zoneinfo/UTC", "zone.tab",     "Europe",
                                      "Europe/Berlin\n"};
    struct retention_item item = {"x", 1795490100};
    struct keep_policy keep = {.daily = 1};
    struct retention_decision d = {true, "untouched"};
    struct error err = ERROR_INIT;
    char want[128];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        (void)snprintf(want, sizeof(want), "unknown timezone '%s'", bad[i]);
        CHECK_ERR(retention_plan(&item, 1, &keep, bad[i], &d, &err), err, ERR_CONFIG, want);
    }
    CHECK_STR_EQ(d.reason, "untouched");
}

static void test_retention_time_beyond_calendar_is_an_error(void)
{
    struct retention_item items[2] = {{"ok", 1795490100}, {"huge", (time_t)INT64_MAX}};
    struct keep_policy keep = {.daily = 1};
    struct retention_decision d[2];
    struct error err = ERROR_INIT;

    setenv("TZ", "America/New_York", 1);
    CHECK_ERR(retention_plan(items, 2, &keep, "Europe/Berlin", d, &err), err, ERR_INTEGRITY,
              "snapshot 'huge': time 9223372036854775807 is out of range");
    CHECK_STR_EQ(getenv("TZ"), "America/New_York");
}

static void test_retention_restores_tz_environment(void)
{
    struct retention_item item = {"x", 1795490100};
    struct keep_policy keep = {.hourly = 1};
    struct retention_decision d;
    struct error err = ERROR_INIT;
    struct tm tm;
    time_t t = 1795490100;

    setenv("TZ", "America/New_York", 1);
    tzset();
    CHECK_OK(retention_plan(&item, 1, &keep, "Europe/Berlin", &d, unit_err()));
    CHECK_STR_EQ(d.reason, "newest, hourly 2026-11-24 04");
    CHECK_STR_EQ(getenv("TZ"), "America/New_York");
    localtime_r(&t, &tm);
    CHECK_INT_EQ(tm.tm_hour, 22); /* 22:15 EST on November 23 */

    unsetenv("TZ");
    tzset();
    CHECK_OK(retention_plan(&item, 1, &keep, "UTC", &d, unit_err()));
    CHECK(getenv("TZ") == NULL);
    CHECK_ERR(retention_plan(&item, 1, &keep, "Nowhere/Else", &d, &err), err, ERR_CONFIG,
              "unknown timezone");
    CHECK(getenv("TZ") == NULL);
}

static void test_retention_no_timezone_uses_process_zone(void)
{
    struct retention_item item = {"x", 1795490100}; /* 03:15 UTC */
    struct keep_policy keep = {.hourly = 1};
    struct retention_decision d;

    setenv("TZ", "Asia/Kolkata", 1); /* UTC+05:30 */
    CHECK_OK(retention_plan(&item, 1, &keep, NULL, &d, unit_err()));
    CHECK_STR_EQ(d.reason, "newest, hourly 2026-11-24 08");
    CHECK_OK(retention_plan(&item, 1, &keep, "", &d, unit_err()));
    CHECK_STR_EQ(d.reason, "newest, hourly 2026-11-24 08");
    CHECK_STR_EQ(getenv("TZ"), "Asia/Kolkata");
}

const struct unit_test retention_tests[] = {
    {"test_retention_all_zero_policy_keeps_everything",
     test_retention_all_zero_policy_keeps_everything},
    {"test_retention_null_policy_keeps_everything", test_retention_null_policy_keeps_everything},
    {"test_retention_empty_input_plans_nothing", test_retention_empty_input_plans_nothing},
    {"test_retention_last_n_keeps_the_n_newest", test_retention_last_n_keeps_the_n_newest},
    {"test_retention_last_above_count_keeps_all", test_retention_last_above_count_keeps_all},
    {"test_retention_last_0_with_daily_keeps_by_day_only",
     test_retention_last_0_with_daily_keeps_by_day_only},
    {"test_retention_daily_keeps_only_newest_of_each_day",
     test_retention_daily_keeps_only_newest_of_each_day},
    {"test_retention_daily_gap_does_not_use_up_buckets",
     test_retention_daily_gap_does_not_use_up_buckets},
    {"test_retention_hourly_keeps_newest_of_each_hour",
     test_retention_hourly_keeps_newest_of_each_hour},
    {"test_retention_daily_weekly_monthly_over_85_days",
     test_retention_daily_weekly_monthly_over_85_days},
    {"test_retention_weekly_iso_week_spans_year_boundary",
     test_retention_weekly_iso_week_spans_year_boundary},
    {"test_retention_weekly_matches_strftime_iso_week_every_day",
     test_retention_weekly_matches_strftime_iso_week_every_day},
    {"test_retention_monthly_month_ends_in_leap_year",
     test_retention_monthly_month_ends_in_leap_year},
    {"test_retention_monthly_month_ends_in_common_year",
     test_retention_monthly_month_ends_in_common_year},
    {"test_retention_monthly_bucket_uses_local_date",
     test_retention_monthly_bucket_uses_local_date},
    {"test_retention_yearly_keeps_newest_of_each_year",
     test_retention_yearly_keeps_newest_of_each_year},
    {"test_retention_berlin_spring_forward_has_no_hour_02",
     test_retention_berlin_spring_forward_has_no_hour_02},
    {"test_retention_berlin_fall_back_repeated_hour_is_one_bucket",
     test_retention_berlin_fall_back_repeated_hour_is_one_bucket},
    {"test_retention_fall_back_day_has_one_daily_bucket",
     test_retention_fall_back_day_has_one_daily_bucket},
    {"test_retention_new_york_fall_back_and_local_midnight",
     test_retention_new_york_fall_back_and_local_midnight},
    {"test_retention_new_york_spring_forward", test_retention_new_york_spring_forward},
    {"test_retention_item_kept_for_several_reasons", test_retention_item_kept_for_several_reasons},
    {"test_retention_long_reason_is_cut_at_a_boundary",
     test_retention_long_reason_is_cut_at_a_boundary},
    {"test_retention_newest_kept_when_policy_selects_nothing_older",
     test_retention_newest_kept_when_policy_selects_nothing_older},
    {"test_retention_negative_count_means_unlimited",
     test_retention_negative_count_means_unlimited},
    {"test_retention_unsorted_input_maps_decisions_to_input_order",
     test_retention_unsorted_input_maps_decisions_to_input_order},
    {"test_retention_identical_times_ordered_by_id", test_retention_identical_times_ordered_by_id},
    {"test_retention_duplicate_items_are_planned_deterministically",
     test_retention_duplicate_items_are_planned_deterministically},
    {"test_retention_unknown_timezone_is_a_config_error",
     test_retention_unknown_timezone_is_a_config_error},
    {"test_retention_time_beyond_calendar_is_an_error",
     test_retention_time_beyond_calendar_is_an_error},
    {"test_retention_restores_tz_environment", test_retention_restores_tz_environment},
    {"test_retention_no_timezone_uses_process_zone", test_retention_no_timezone_uses_process_zone},
    {NULL, NULL},
};
