#include "core/status.h"

#include <stdio.h>
#include <string.h>

#include "util/tz.h"
#include "util/xalloc.h"

/* Time-of-day search window of status_max_gap_seconds: a year and a bit sees every month. */
#define STATUS_GAP_WINDOW_S  (400LL * 86400)
/* One iteration per day that has runs: at most one per day of the window, plus the last. */
#define STATUS_GAP_STEPS_MAX 410

int status_max_gap_seconds(const struct cron_expr *e, time_t from, int64_t *out, struct error *err)
{
    int first_min = -1;
    int last_min = -1;
    int prev_min = -1;
    int64_t max_gap = 0;
    struct tz_saved saved = TZ_SAVED_INIT;
    int rc = -1;
    time_t day_start;
    time_t t;
    time_t end;

    /* Within a day that has runs, they fall on the same minutes: the gaps inside one day follow
     * from the hour and minute sets alone. */
    for (int m = 0; m < 24 * 60; m++) {
        if (!((e->hours >> (m / 60)) & 1u) || !((e->minutes >> (m % 60)) & 1u))
            continue;
        if (first_min < 0)
            first_min = m;
        if (prev_min >= 0 && (int64_t)(m - prev_min) * 60 > max_gap)
            max_gap = (int64_t)(m - prev_min) * 60;
        prev_min = m;
        last_min = m;
    }
    if (first_min < 0)
        return error_set(err, ERR_CONFIG, "the schedule never runs");
    /* Between days: from the last run of a day with runs to the first run of the next such day,
     * found by cron itself (months, day-of-month and day-of-week rules). UTC days: a whole day's
     * runs are the same set of times, so the first run after a day's start is that day's first. */
    day_start = from - (from % 86400);
    /* One switch around the loop: the switches inside cron_next are then no-ops instead of a
     * zone file read each (hundreds per job, on every status and every scrape). */
    if (tz_switch("UTC", &saved, err) < 0)
        return -1;
    if (cron_next(e, "UTC", day_start - 1, &t, err) < 0)
        goto out;
    end = from + (time_t)STATUS_GAP_WINDOW_S;
    for (int i = 0; i < STATUS_GAP_STEPS_MAX; i++) {
        time_t last = t - (t % 86400) + (time_t)last_min * 60;
        time_t next;

        if (cron_next(e, "UTC", last, &next, err) < 0)
            goto out;
        if ((int64_t)(next - last) > max_gap)
            max_gap = (int64_t)(next - last);
        t = next;
        if (t > end)
            break;
    }
    *out = max_gap;
    rc = 0;
out:
    tz_restore(&saved);
    return rc;
}

/* The largest difference between two UTC offsets of zone in the year after from (seconds; 0 for
 * a zone without DST). DST periods last months: a sample every 6 hours sees each of them. */
static int status_zone_shift_seconds(const char *zone, time_t from, int64_t *out, struct error *err)
{
    struct tz_saved saved = TZ_SAVED_INIT;
    long lo = 0;
    long hi = 0;
    bool has_any = false;

    *out = 0;
    if (tz_switch(zone, &saved, err) < 0)
        return -1;
    for (time_t t = from; t < from + (time_t)370 * 86400; t += (time_t)6 * 3600) {
        struct tm tm;
        if (!localtime_r(&t, &tm))
            continue;
        if (!has_any || tm.tm_gmtoff < lo)
            lo = tm.tm_gmtoff;
        if (!has_any || tm.tm_gmtoff > hi)
            hi = tm.tm_gmtoff;
        has_any = true;
    }
    tz_restore(&saved);
    *out = (int64_t)(hi - lo);
    return 0;
}

int status_stale_after_ms(const struct cfg_job *job, const char *zone, time_t now, int64_t *out,
                          bool *is_derived, struct error *err)
{
    struct cron_expr e;
    int64_t gap_s = 0;
    int64_t shift_s = 0;

    *is_derived = false;
    if (job->stale_after_ms > 0) {
        *out = job->stale_after_ms;
        return 0;
    }
    if (!job->schedule) {
        *out = 0;
        return 0;
    }
    if (cron_parse(job->schedule, &e, err) < 0 ||
        status_max_gap_seconds(&e, now, &gap_s, err) < 0 ||
        status_zone_shift_seconds(zone, now, &shift_s, err) < 0)
        return error_wrap(err, "job '%s': schedule", job->name);
    *out = gap_s * 1000 * 3 / 2 + shift_s * 1000;
    *is_derived = true;
    return 0;
}

void status_format_age(int64_t seconds, char *out, size_t cap)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds >= 86400 && (seconds % 86400 == 0 || seconds >= 2 * (int64_t)86400))
        snprintf(out, cap, "%lld day%s", (long long)(seconds / 86400),
                 seconds / 86400 == 1 ? "" : "s");
    else if (seconds >= 3600 && (seconds % 3600 == 0 || seconds >= 2 * (int64_t)3600))
        snprintf(out, cap, "%lld h", (long long)(seconds / 3600));
    else if (seconds >= 60 && (seconds % 60 == 0 || seconds >= 2 * (int64_t)60))
        snprintf(out, cap, "%lld min", (long long)(seconds / 60));
    else
        snprintf(out, cap, "%lld s", (long long)seconds);
}

/* What the operator is told about the expected cadence. */
static void status_format_expected(const struct status_job *sj, char *out, size_t cap)
{
    char period[32];
    char limit[32];

    status_format_age(sj->stale_after_ms / 1000, limit, sizeof(limit));
    if (sj->is_stale_after_derived) {
        status_format_age(sj->period_s, period, sizeof(period));
        snprintf(out, cap, "expected every %s", period);
    } else {
        snprintf(out, cap, "expected within %s", limit);
    }
}

/* A job is stale when its last success is older than stale_after. A job that never succeeded gets
 * one stale_after from the time the catalog first knew of it (its first run, or the first status
 * or metrics rendering that saw it configured): a job added today with a daily schedule is not
 * reported before its first day and a half have passed. */
static void status_judge(struct status_job *sj, time_t now)
{
    char age[32];
    char expected[96];
    time_t since;
    int64_t age_s;

    sj->is_stale = false;
    sj->stale_reason[0] = '\0';
    if (sj->stale_after_ms <= 0)
        return;
    if (sj->has_last_success)
        since = sj->last_success.ended_at ? sj->last_success.ended_at : sj->last_success.started_at;
    else
        since = sj->first_seen;
    age_s = (int64_t)(now - since);
    if (age_s * 1000 <= sj->stale_after_ms)
        return;
    sj->is_stale = true;
    status_format_age(age_s, age, sizeof(age));
    status_format_expected(sj, expected, sizeof(expected));
    if (sj->has_last_success)
        snprintf(sj->stale_reason, sizeof(sj->stale_reason), "last success %s ago, %s", age,
                 expected);
    else if (sj->has_last_run)
        snprintf(sj->stale_reason, sizeof(sj->stale_reason), "no success in %s, %s", age, expected);
    else
        snprintf(sj->stale_reason, sizeof(sj->stale_reason), "never ran in %s, %s", age, expected);
}

static int status_collect_job(struct catalog *catalog, const struct config *cfg,
                              const struct cfg_job *job, time_t now, struct status_job *sj,
                              struct error *err)
{
    sj->job = job;
    sj->kind = config_job_kind_name(job->kind);
    if (catalog_last_run(catalog, job->name, false, &sj->last_run, &sj->has_last_run, err) < 0 ||
        catalog_last_run(catalog, job->name, true, &sj->last_success, &sj->has_last_success, err) <
            0 ||
        catalog_job_seen(catalog, job->name, now, &sj->first_seen, err) < 0)
        return -1;
    if (job->schedule) {
        struct cron_expr e;
        if (cron_parse(job->schedule, &e, err) < 0 ||
            cron_next(&e, cfg->global.timezone, now, &sj->next_run, err) < 0 ||
            status_max_gap_seconds(&e, now, &sj->period_s, err) < 0)
            return error_wrap(err, "job '%s': schedule", job->name);
        sj->has_next_run = true;
    }
    if (status_stale_after_ms(job, cfg->global.timezone, now, &sj->stale_after_ms,
                              &sj->is_stale_after_derived, err) < 0)
        return -1;
    if (sj->has_last_success && sj->last_success.snapshot_id &&
        catalog_last_verification(catalog, job->name, sj->last_success.snapshot_id,
                                  &sj->verification, &sj->has_verification, err) < 0)
        return -1;
    if (job->kind == JOB_KIND_MIRROR &&
        catalog_mirror_totals(catalog, job->name, &sj->mirror_totals, err) < 0)
        return -1;
    sj->is_last_run_failed =
        sj->has_last_run && sj->last_run.result &&
        (strcmp(sj->last_run.result, "failed") == 0 || strcmp(sj->last_run.result, "partial") == 0);
    status_judge(sj, now);
    return 0;
}

int status_collect(const struct config *cfg, const char *state_dir, time_t now,
                   struct status_report *out, struct error *err)
{
    struct status_report r;
    struct catalog *catalog = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    memset(&r, 0, sizeof(r));
    r.now = now;
    if (catalog_open(state_dir, &catalog, err) < 0)
        goto out;
    r.jobs = xcalloc(cfg->job_count ? cfg->job_count : 1, sizeof(*r.jobs));
    for (size_t i = 0; i < cfg->job_count; i++) {
        r.job_count++;
        if (status_collect_job(catalog, cfg, &cfg->jobs[i], now, &r.jobs[i], err) < 0)
            goto out;
        if (r.jobs[i].is_stale)
            r.stale_count++;
        if (r.jobs[i].is_last_run_failed)
            r.failed_count++;
    }
    if (catalog_store_usage(catalog, &r.usage, &r.usage_count, err) < 0 ||
        catalog_run_counts(catalog, &r.run_counts, &r.run_count_count, err) < 0)
        goto out;
    r.stores = xcalloc(cfg->store_count ? cfg->store_count : 1, sizeof(*r.stores));
    r.store_count = cfg->store_count;
    for (size_t i = 0; i < cfg->store_count; i++) {
        struct status_store *ss = &r.stores[i];

        ss->store = &cfg->stores[i];
        for (size_t u = 0; u < r.usage_count; u++) {
            if (strcmp(r.usage[u].store, ss->store->name) != 0)
                continue;
            ss->snapshot_count += r.usage[u].snapshot_count;
            ss->stored_bytes += r.usage[u].stored_bytes;
            if (r.usage[u].newest > ss->newest)
                ss->newest = r.usage[u].newest;
        }
    }
    *out = r;
    memset(&r, 0, sizeof(r));
    rc = 0;
out:
    if (rc < 0)
        error_wrap(err, "status");
    status_report_release(&r);
    catalog_close(catalog);
    return rc;
}

void status_report_release(struct status_report *r)
{
    for (size_t i = 0; r->jobs && i < r->job_count; i++) {
        if (r->jobs[i].has_last_run)
            catalog_run_release(&r->jobs[i].last_run);
        if (r->jobs[i].has_last_success)
            catalog_run_release(&r->jobs[i].last_success);
        if (r->jobs[i].has_verification)
            catalog_verification_release(&r->jobs[i].verification);
    }
    xfree(r->jobs);
    xfree(r->stores);
    catalog_store_usage_free(r->usage, r->usage_count);
    catalog_run_counts_free(r->run_counts, r->run_count_count);
    memset(r, 0, sizeof(*r));
}
