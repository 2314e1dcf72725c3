#include <stdint.h>
#include <string.h>

#include "config/config.h"
#include "core/scheduler.h"
#include "unit.h"
#include "util/buf.h"
#include "util/time.h"
#include "util/xalloc.h"

static int64_t ms(const char *iso)
{
    time_t t = 0;

    if (!time_parse_utc(iso, &t))
        unit_fail(__FILE__, __LINE__, "bad test time '%s'", iso);
    return (int64_t)t * 1000;
}

/* A configuration with [global] lines and one mirror job per (name, job lines) pair. */
static void sched_conf(struct config *cfg, const char *global, const char *const *jobs,
                       size_t count)
{
    struct buf text;

    buf_init(&text, BUF_NO_CAP);
    (void)buf_addf(&text,
                   "[global]\n%s\n[store \"a\"]\ntype = local\npath = /nonexistent/a\n"
                   "[store \"b\"]\ntype = local\npath = /nonexistent/b\n",
                   global);
    for (size_t i = 0; i < count; i++)
        (void)buf_addf(&text, "[job \"%s\"]\nkind = mirror\nsource = a\ndestination = b:%s\n%s\n",
                       jobs[2 * i], jobs[2 * i], jobs[2 * i + 1]);
    memset(cfg, 0, sizeof(*cfg));
    CHECK_OK(config_parse("sched.conf", text.data, text.len, cfg, unit_err()));
    buf_release(&text);
}

/* A scheduler over the jobs, configured at now. */
static void sched_setup(struct scheduler *s, const char *global, const char *const *jobs,
                        size_t count, int64_t now, scheduler_random_fn random, void *ctx)
{
    struct config cfg;

    sched_conf(&cfg, global, jobs, count);
    scheduler_init(s, random, ctx);
    CHECK_OK(scheduler_configure(s, &cfg, now, unit_err()));
    config_release(&cfg);
}

static const char *take_name(struct scheduler *s)
{
    struct sched_job *j = scheduler_take(s);
    return j ? j->name : "(none)";
}

static void test_scheduler_due_order_is_the_order_jobs_fell_due(void)
{
    static const char *const jobs[] = {
        "late", "schedule = 0 3 * * *", "early", "schedule = 30 2 * * *", "manual", ""};
    struct scheduler s;
    struct error err = ERROR_INIT;

    sched_setup(&s, "timezone = UTC\nmax_concurrent_jobs = 1", jobs, 3, ms("2026-11-29T00:00:00Z"),
                NULL, NULL);
    CHECK_INT_EQ(scheduler_next_due_ms(&s), ms("2026-11-29T02:30:00Z"));
    CHECK_INT_EQ(scheduler_find(&s, "late")->due_ms, ms("2026-11-29T03:00:00Z"));
    CHECK(scheduler_find(&s, "manual")->schedule == NULL);
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-11-29T02:29:59Z"), &err), 0);
    CHECK_STR_EQ(take_name(&s), "(none)");
    /* Both fall due in one step (the daemon was busy): the earlier time goes first. */
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-11-29T03:00:05Z"), &err), 2);
    CHECK_STR_EQ(err.msg, "");
    CHECK_STR_EQ(take_name(&s), "early");
    CHECK_STR_EQ(take_name(&s), "(none)"); /* max_concurrent_jobs = 1 */
    scheduler_finished(&s, "early");
    CHECK_STR_EQ(take_name(&s), "late");
    scheduler_finished(&s, "late");
    CHECK_INT_EQ(s.running_count, 0);
    /* The next due times are the next day's. */
    CHECK_INT_EQ(scheduler_find(&s, "early")->due_ms, ms("2026-11-30T02:30:00Z"));
    CHECK_INT_EQ(scheduler_find(&s, "late")->due_ms, ms("2026-11-30T03:00:00Z"));
    scheduler_release(&s);
}

static void test_scheduler_max_concurrent_limits_and_then_serves_the_queue(void)
{
    static const char *const jobs[] = {"a", "schedule = * * * * *", "b", "schedule = * * * * *",
                                       "c", "schedule = * * * * *"};
    struct scheduler s;
    struct error err = ERROR_INIT;

    sched_setup(&s, "timezone = UTC\nmax_concurrent_jobs = 2", jobs, 3, ms("2026-11-29T10:00:30Z"),
                NULL, NULL);
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-11-29T10:01:00Z"), &err), 3);
    CHECK(scheduler_take(&s) != NULL);
    CHECK(scheduler_take(&s) != NULL);
    CHECK(scheduler_take(&s) == NULL);
    CHECK_INT_EQ(s.running_count, 2);
    scheduler_finished(&s, "a");
    CHECK_STR_EQ(take_name(&s), "c");
    CHECK_INT_EQ(s.running_count, 2);
    scheduler_release(&s);
}

static void test_scheduler_never_overlaps_and_coalesces_missed_times(void)
{
    static const char *const jobs[] = {"db", "schedule = * * * * *"};
    struct scheduler s;
    struct error err = ERROR_INIT;
    int64_t t = ms("2026-11-29T10:00:30Z");

    sched_setup(&s, "timezone = UTC", jobs, 1, t, NULL, NULL);
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-11-29T10:01:00Z"), &err), 1);
    CHECK_STR_EQ(take_name(&s), "db");
    /* Five more times pass while it runs: it is never started again meanwhile. */
    for (int m = 2; m <= 6; m++) {
        char iso[32];
        buf_format_fixed(iso, sizeof(iso), "2026-11-29T10:%02d:00Z", m);
        CHECK_INT_EQ(scheduler_advance(&s, ms(iso), &err), 1);
        CHECK_STR_EQ(take_name(&s), "(none)");
        CHECK(scheduler_find(&s, "db")->is_pending);
    }
    scheduler_finished(&s, "db");
    /* ... and runs once when the run ends, however many times passed. */
    CHECK_STR_EQ(take_name(&s), "db");
    CHECK_STR_EQ(take_name(&s), "(none)");
    scheduler_finished(&s, "db");
    CHECK_STR_EQ(take_name(&s), "(none)");
    CHECK_INT_EQ(scheduler_find(&s, "db")->due_ms, ms("2026-11-29T10:07:00Z"));
    scheduler_release(&s);
}

static void test_scheduler_skipped_times_while_suspended_queue_one_run(void)
{
    static const char *const jobs[] = {"db", "schedule = */10 * * * *"};
    struct scheduler s;
    struct error err = ERROR_INIT;

    sched_setup(&s, "timezone = UTC", jobs, 1, ms("2026-11-29T10:00:30Z"), NULL, NULL);
    /* The machine slept from 10:05 to 13:33: one run, and the next time is after now. */
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-11-29T13:33:00Z"), &err), 1);
    CHECK_STR_EQ(take_name(&s), "db");
    CHECK_INT_EQ(scheduler_find(&s, "db")->due_ms, ms("2026-11-29T13:40:00Z"));
    scheduler_release(&s);
}

/* The wall clock set back (NTP fixing a clock that ran ahead, an operator's mistake undone): the
 * next time follows the new clock instead of waiting for the old one to come round again. */
static void test_scheduler_clock_set_back_follows_the_new_time(void)
{
    static const char *const jobs[] = {"db", "schedule = 0 3 * * *", "m",
                                       "schedule = */10 * * * *"};
    struct scheduler s;
    struct error err = ERROR_INIT;

    /* Started with the clock a year ahead: the next times are in 2027. */
    sched_setup(&s, "timezone = UTC\nmax_concurrent_jobs = 2", jobs, 2, ms("2027-11-29T10:00:30Z"),
                NULL, NULL);
    CHECK_INT_EQ(scheduler_find(&s, "db")->due_ms, ms("2027-11-30T03:00:00Z"));
    /* The clock is corrected: the jobs run on today's times, not in a year. */
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-11-29T10:00:40Z"), &err), 0);
    CHECK_STR_EQ(err.msg, "");
    CHECK_INT_EQ(scheduler_find(&s, "db")->due_ms, ms("2026-11-30T03:00:00Z"));
    CHECK_INT_EQ(scheduler_find(&s, "m")->due_ms, ms("2026-11-29T10:10:00Z"));
    CHECK_INT_EQ(scheduler_next_due_ms(&s), ms("2026-11-29T10:10:00Z"));
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-11-29T10:10:00Z"), &err), 1);
    CHECK_STR_EQ(take_name(&s), "m");
    scheduler_finished(&s, "m");
    /* A clock that moves on normally, or back by less than to the time before, changes nothing. */
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-11-29T10:10:01Z"), &err), 0);
    CHECK_INT_EQ(scheduler_find(&s, "m")->due_ms, ms("2026-11-29T10:20:00Z"));
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-11-29T10:10:00Z"), &err), 0);
    CHECK_INT_EQ(scheduler_find(&s, "m")->due_ms, ms("2026-11-29T10:20:00Z"));
    CHECK_INT_EQ(scheduler_find(&s, "db")->due_ms, ms("2026-11-30T03:00:00Z"));
    scheduler_release(&s);
}

struct fake_random {
    uint64_t values[8];
    size_t count;
    size_t next;
};

static uint64_t fake_random_next(void *ctx)
{
    struct fake_random *r = ctx;
    uint64_t v = r->values[r->next % r->count];
    r->next++;
    return v;
}

static uint64_t lcg_next(void *ctx)
{
    uint64_t *state = ctx;
    *state = *state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return *state;
}

static void test_scheduler_jitter_is_drawn_once_per_due_time_within_bounds(void)
{
    static const char *const jobs[] = {"db", "schedule = 0 3 * * *\njitter = 10m"};
    struct fake_random r = {{0, 599999, 600000, UINT64_MAX}, 4, 0};
    struct scheduler s;
    struct error err = ERROR_INIT;
    int64_t day = ms("2026-11-30T03:00:00Z");
    const int64_t want[] = {0, 599999, 600000, (int64_t)(UINT64_MAX % 600001)};

    sched_setup(&s, "timezone = UTC", jobs, 1, ms("2026-11-29T12:00:00Z"), fake_random_next, &r);
    for (size_t i = 0; i < 4; i++) {
        struct sched_job *j = scheduler_find(&s, "db");
        CHECK_INT_EQ(j->slot * 1000, day);
        CHECK_INT_EQ(j->due_ms, day + want[i]);
        /* Not due one millisecond before its jittered time; due at it. */
        CHECK_INT_EQ(scheduler_advance(&s, j->due_ms - 1, &err), 0);
        CHECK_INT_EQ(scheduler_advance(&s, j->due_ms, &err), 1);
        CHECK_STR_EQ(take_name(&s), "db");
        scheduler_finished(&s, "db");
        day += 86400 * 1000;
    }
    CHECK_INT_EQ(r.next, 5); /* one draw per due time: the four above and the next one */
    scheduler_release(&s);

    /* Many draws from a real-looking source stay within [0, jitter]. */
    {
        static const char *const jobs2[] = {"m", "schedule = * * * * *\njitter = 45s"};
        uint64_t state = 42;
        int64_t t = ms("2026-11-29T12:00:30Z");
        bool saw_low = false;
        bool saw_high = false;

        sched_setup(&s, "timezone = UTC", jobs2, 1, t, lcg_next, &state);
        for (int i = 0; i < 2000; i++) {
            struct sched_job *j = scheduler_find(&s, "m");
            int64_t jitter = j->due_ms - (int64_t)j->slot * 1000;
            CHECK(jitter >= 0 && jitter <= 45000);
            saw_low = saw_low || jitter < 5000;
            saw_high = saw_high || jitter > 40000;
            scheduler_advance(&s, j->due_ms, &err);
            CHECK_STR_EQ(take_name(&s), "m");
            scheduler_finished(&s, "m");
        }
        CHECK(saw_low && saw_high);
        scheduler_release(&s);
    }
}

static void test_scheduler_catch_up_decisions(void)
{
    static const char *const jobs[] = {"yes",    "schedule = 0 3 * * *\ncatch_up = yes",
                                       "no",     "schedule = 0 3 * * *",
                                       "manual", "catch_up = yes"};
    struct scheduler s;
    struct error err = ERROR_INIT;
    int64_t now = ms("2026-11-29T12:00:00Z");
    time_t before = (time_t)(ms("2026-11-28T03:00:05Z") / 1000); /* yesterday's run */
    time_t after = (time_t)(ms("2026-11-29T03:00:07Z") / 1000);  /* today's run */
    enum sched_missed m;
    time_t slot;

    sched_setup(&s, "timezone = UTC", jobs, 3, now, NULL, NULL);
    /* Today's 03:00 passed while down and the last run is yesterday's. */
    CHECK_OK(scheduler_check_missed(&s, scheduler_find(&s, "yes"), true, before, now, &m, &slot,
                                    unit_err()));
    CHECK_INT_EQ(m, SCHED_MISSED_CAUGHT_UP);
    CHECK_INT_EQ((int64_t)slot * 1000, ms("2026-11-29T03:00:00Z"));
    CHECK(scheduler_find(&s, "yes")->is_queued);
    CHECK_OK(scheduler_check_missed(&s, scheduler_find(&s, "no"), true, before, now, &m, &slot,
                                    unit_err()));
    CHECK_INT_EQ(m, SCHED_MISSED_SKIPPED);
    CHECK(!scheduler_find(&s, "no")->is_queued);
    /* It ran today: nothing missed. */
    CHECK_OK(scheduler_check_missed(&s, scheduler_find(&s, "no"), true, after, now, &m, &slot,
                                    unit_err()));
    CHECK_INT_EQ(m, SCHED_MISSED_NONE);
    /* Never ran, or not scheduled: nothing to catch up. */
    CHECK_OK(
        scheduler_check_missed(&s, scheduler_find(&s, "no"), false, 0, now, &m, &slot, unit_err()));
    CHECK_INT_EQ(m, SCHED_MISSED_NONE);
    CHECK_OK(scheduler_check_missed(&s, scheduler_find(&s, "manual"), true, before, now, &m, &slot,
                                    unit_err()));
    CHECK_INT_EQ(m, SCHED_MISSED_NONE);
    /* The caught-up run starts at once, and only once. */
    CHECK_STR_EQ(take_name(&s), "yes");
    CHECK_STR_EQ(take_name(&s), "(none)");
    CHECK_INT_EQ(scheduler_advance(&s, now + 1000, &err), 0);
    CHECK_INT_EQ(scheduler_find(&s, "yes")->due_ms, ms("2026-11-30T03:00:00Z"));
    scheduler_release(&s);
}

static void test_scheduler_reload_keeps_due_times_and_running_jobs(void)
{
    static const char *const first[] = {"same",    "schedule = 0 3 * * *\njitter = 1h",
                                        "changed", "schedule = 0 4 * * *",
                                        "dropped", "schedule = * * * * *",
                                        "unsched", "schedule = * * * * *"};
    static const char *const second[] = {"same",    "schedule = 0 3 * * *\njitter = 1h",
                                         "changed", "schedule = 0 5 * * *",
                                         "unsched", "",
                                         "added",   "schedule = 0 6 * * *"};
    uint64_t state = 7;
    struct scheduler s;
    struct config cfg;
    struct error err = ERROR_INIT;
    int64_t now = ms("2026-11-29T10:00:30Z");
    int64_t same_due;

    sched_setup(&s, "timezone = UTC\nmax_concurrent_jobs = 4", first, 4, now, lcg_next, &state);
    same_due = scheduler_find(&s, "same")->due_ms;
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-11-29T10:01:00Z"), &err), 2);
    CHECK(scheduler_take(&s) != NULL);
    CHECK(scheduler_take(&s) != NULL);
    CHECK(scheduler_find(&s, "dropped")->is_running);
    CHECK(scheduler_find(&s, "unsched")->is_running);
    CHECK_INT_EQ(s.running_count, 2);

    sched_conf(&cfg, "timezone = UTC\nmax_concurrent_jobs = 3", second, 4);
    CHECK_OK(scheduler_configure(&s, &cfg, ms("2026-11-29T10:01:10Z"), unit_err()));
    config_release(&cfg);
    CHECK_INT_EQ(s.max_concurrent, 3);
    /* Unchanged: the same due time, jitter not drawn again. */
    CHECK_INT_EQ(scheduler_find(&s, "same")->due_ms, same_due);
    CHECK_INT_EQ(scheduler_find(&s, "changed")->due_ms, ms("2026-11-29T05:00:00Z") + 86400000);
    CHECK_INT_EQ(scheduler_find(&s, "added")->due_ms, ms("2026-11-30T06:00:00Z"));
    /* Running jobs keep running, counted, even when dropped or unscheduled. */
    CHECK_INT_EQ(s.running_count, 2);
    CHECK(scheduler_find(&s, "dropped")->is_running);
    CHECK(!scheduler_find(&s, "dropped")->is_configured);
    CHECK(scheduler_find(&s, "unsched")->is_running);
    CHECK(scheduler_find(&s, "unsched")->schedule == NULL);
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-11-29T10:05:00Z"), &err), 0);
    scheduler_finished(&s, "dropped");
    CHECK(scheduler_find(&s, "dropped") == NULL);
    scheduler_finished(&s, "unsched");
    CHECK_INT_EQ(s.running_count, 0);
    CHECK_STR_EQ(take_name(&s), "(none)");

    /* A changed zone moves every schedule. */
    sched_conf(&cfg, "timezone = Europe/Berlin", second, 4);
    CHECK_OK(scheduler_configure(&s, &cfg, ms("2026-11-29T10:01:10Z"), unit_err()));
    config_release(&cfg);
    CHECK_INT_EQ(scheduler_find(&s, "changed")->due_ms, ms("2026-11-30T04:00:00Z"));
    scheduler_release(&s);
}

static void test_scheduler_reload_with_a_bad_schedule_changes_nothing(void)
{
    static const char *const good[] = {"db", "schedule = 0 3 * * *"};
    static const char *const bad[] = {"db", "schedule = 0 3 * * *", "media",
                                      "schedule = 0 4 * * *"};
    struct scheduler s;
    struct config cfg;
    struct error err = ERROR_INIT;

    sched_setup(&s, "timezone = UTC", good, 1, ms("2026-11-29T10:00:00Z"), NULL, NULL);
    sched_conf(&cfg, "timezone = UTC", bad, 2);
    /* config_parse refuses such a schedule; the scheduler checks again rather than trust it. */
    CHECK_STR_EQ(cfg.jobs[1].name, "media");
    xfree(cfg.jobs[1].schedule);
    cfg.jobs[1].schedule = xstrdup("0 24 * * *");
    CHECK_ERR(scheduler_configure(&s, &cfg, ms("2026-11-29T10:00:00Z"), &err), err, ERR_CONFIG,
              "sched.conf:");
    CHECK(strstr(err.msg, "job 'media'") != NULL);
    CHECK(strstr(err.msg, "24") != NULL);
    config_release(&cfg);
    CHECK_INT_EQ(s.job_count, 1);
    CHECK_INT_EQ(scheduler_find(&s, "db")->due_ms, ms("2026-11-30T03:00:00Z"));
    scheduler_release(&s);
}

static void test_scheduler_crosses_dst_changes(void)
{
    static const char *const jobs[] = {"db", "schedule = 30 2 * * *", "hourly",
                                       "schedule = 0 * * * *"};
    struct scheduler s;
    struct error err = ERROR_INIT;
    char text[SCHED_TIME_LEN];

    /* Spring: 02:30 does not exist on 2026-03-29 in Berlin; it runs at 03:00 CEST (01:00Z). */
    sched_setup(&s, "timezone = Europe/Berlin", jobs, 2, ms("2026-03-28T23:30:00Z"), NULL, NULL);
    CHECK_INT_EQ(scheduler_find(&s, "db")->due_ms, ms("2026-03-29T01:00:00Z"));
    scheduler_format_time(&s, scheduler_find(&s, "db")->due_ms, text);
    CHECK_STR_EQ(text, "2026-03-29 03:00 CEST");
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-03-29T00:00:00Z"), &err), 1); /* 01:00 CET */
    CHECK_STR_EQ(take_name(&s), "hourly");
    scheduler_finished(&s, "hourly");
    /* 02:00 local does not exist either: the hourly job's next is 03:00 CEST, together with db. */
    CHECK_INT_EQ(scheduler_find(&s, "hourly")->due_ms, ms("2026-03-29T01:00:00Z"));
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-03-29T01:00:00Z"), &err), 2);
    CHECK(scheduler_take(&s) != NULL);
    CHECK(scheduler_take(&s) != NULL);
    scheduler_finished(&s, "db");
    scheduler_finished(&s, "hourly");
    CHECK_INT_EQ(scheduler_find(&s, "db")->due_ms, ms("2026-03-30T00:30:00Z"));
    scheduler_release(&s);

    /* Autumn: 02:30 happens twice on 2026-10-25; it runs at the first (00:30Z) only. */
    sched_setup(&s, "timezone = Europe/Berlin", jobs, 1, ms("2026-10-24T22:00:00Z"), NULL, NULL);
    CHECK_INT_EQ(scheduler_find(&s, "db")->due_ms, ms("2026-10-25T00:30:00Z"));
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-10-25T00:30:00Z"), &err), 1);
    CHECK_STR_EQ(take_name(&s), "db");
    scheduler_finished(&s, "db");
    CHECK_INT_EQ(scheduler_find(&s, "db")->due_ms, ms("2026-10-26T01:30:00Z"));
    CHECK_INT_EQ(scheduler_advance(&s, ms("2026-10-25T01:30:00Z"), &err), 0);
    scheduler_release(&s);
}

static void test_scheduler_upcoming_lists_the_next_times(void)
{
    static const char *const jobs[] = {"db", "schedule = 15 */6 * * *"};
    struct scheduler s;
    time_t out[3];

    sched_setup(&s, "timezone = UTC", jobs, 1, ms("2026-11-29T10:00:00Z"), NULL, NULL);
    CHECK_OK(scheduler_upcoming(&s, scheduler_find(&s, "db"),
                                (time_t)(ms("2026-11-29T10:00:00Z") / 1000), out, 3, unit_err()));
    CHECK_INT_EQ((int64_t)out[0] * 1000, ms("2026-11-29T12:15:00Z"));
    CHECK_INT_EQ((int64_t)out[1] * 1000, ms("2026-11-29T18:15:00Z"));
    CHECK_INT_EQ((int64_t)out[2] * 1000, ms("2026-11-30T00:15:00Z"));
    scheduler_release(&s);
}

const struct unit_test scheduler_tests[] = {
    {"due_order_is_the_order_jobs_fell_due", test_scheduler_due_order_is_the_order_jobs_fell_due},
    {"max_concurrent_limits_and_then_serves_the_queue",
     test_scheduler_max_concurrent_limits_and_then_serves_the_queue},
    {"never_overlaps_and_coalesces_missed_times",
     test_scheduler_never_overlaps_and_coalesces_missed_times},
    {"skipped_times_while_suspended_queue_one_run",
     test_scheduler_skipped_times_while_suspended_queue_one_run},
    {"clock_set_back_follows_the_new_time", test_scheduler_clock_set_back_follows_the_new_time},
    {"jitter_is_drawn_once_per_due_time_within_bounds",
     test_scheduler_jitter_is_drawn_once_per_due_time_within_bounds},
    {"catch_up_decisions", test_scheduler_catch_up_decisions},
    {"reload_keeps_due_times_and_running_jobs",
     test_scheduler_reload_keeps_due_times_and_running_jobs},
    {"reload_with_a_bad_schedule_changes_nothing",
     test_scheduler_reload_with_a_bad_schedule_changes_nothing},
    {"crosses_dst_changes", test_scheduler_crosses_dst_changes},
    {"upcoming_lists_the_next_times", test_scheduler_upcoming_lists_the_next_times},
    {NULL, NULL},
};
