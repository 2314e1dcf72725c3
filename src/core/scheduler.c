#include "core/scheduler.h"

#include <string.h>

#include "util/buf.h"
#include "util/tz.h"
#include "util/xalloc.h"

void scheduler_init(struct scheduler *s, scheduler_random_fn random, void *random_ctx)
{
    memset(s, 0, sizeof(*s));
    s->max_concurrent = 1;
    s->random = random;
    s->random_ctx = random_ctx;
}

static void sched_jobs_free(struct sched_job *jobs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        xfree(jobs[i].name);
        xfree(jobs[i].schedule);
    }
    xfree(jobs);
}

void scheduler_release(struct scheduler *s)
{
    sched_jobs_free(s->jobs, s->job_count);
    xfree(s->zone);
    memset(s, 0, sizeof(*s));
}

struct sched_job *scheduler_find(struct scheduler *s, const char *name)
{
    for (size_t i = 0; i < s->job_count; i++)
        if (strcmp(s->jobs[i].name, name) == 0)
            return &s->jobs[i];
    return NULL;
}

static bool sched_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* A delay in [0, jitter_ms], drawn once per due time. The modulo bias is irrelevant at these
 * ranges (at most 24 h in ms against 2^64). */
static int64_t sched_jitter(const struct scheduler *s, int jitter_ms)
{
    if (jitter_ms <= 0 || !s->random)
        return 0;
    return (int64_t)(s->random(s->random_ctx) % ((uint64_t)jitter_ms + 1));
}

static int sched_set_next(const struct scheduler *s, const char *zone, struct sched_job *j,
                          time_t after, struct error *err)
{
    time_t t = 0;

    if (cron_next(&j->expr, zone, after, &t, err) < 0)
        return -1;
    j->slot = t;
    j->due_ms = (int64_t)t * 1000 + sched_jitter(s, j->jitter_ms);
    return 0;
}

static time_t sched_seconds(int64_t ms)
{
    return (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
}

int scheduler_configure(struct scheduler *s, const struct config *cfg, int64_t now_ms,
                        struct error *err)
{
    const char *zone = cfg->global.timezone;
    bool is_zone_changed = !sched_str_eq(s->zone, zone);
    size_t cap = cfg->job_count + s->job_count;
    struct sched_job *jobs = xcalloc(cap ? cap : 1, sizeof(*jobs));
    size_t n = 0;
    int rc = -1;

    for (size_t i = 0; i < cfg->job_count; i++) {
        const struct cfg_job *cj = &cfg->jobs[i];
        const struct sched_job *old = scheduler_find(s, cj->name);
        struct sched_job *j = &jobs[n++];
        struct error e = ERROR_INIT;

        j->name = xstrdup(cj->name);
        j->jitter_ms = cj->jitter_ms;
        j->catch_up = cj->catch_up;
        j->is_configured = true;
        if (old) {
            j->is_running = old->is_running;
            j->queue_seq = old->queue_seq;
        }
        if (!cj->schedule)
            continue;
        j->schedule = xstrdup(cj->schedule);
        if (cron_parse(cj->schedule, &j->expr, &e) < 0) {
            error_set(err, ERR_CONFIG, "%s:%d: job '%s': schedule '%s': %s", cfg->path, cj->line,
                      cj->name, cj->schedule, e.msg);
            goto out;
        }
        if (old && old->schedule && !is_zone_changed && strcmp(old->schedule, cj->schedule) == 0) {
            /* Unchanged: the due time (and its jitter) stands, so a reload neither skips nor
             * repeats a run. */
            j->slot = old->slot;
            j->due_ms = old->due_ms;
        } else if (sched_set_next(s, zone, j, sched_seconds(now_ms), &e) < 0) {
            error_set(err, ERR_CONFIG, "%s: job '%s': %s", cfg->path, cj->name, e.msg);
            goto out;
        }
        if (old) {
            /* A run that fell due stays due; without a schedule it would be a surprise. */
            j->is_queued = old->is_queued;
            j->is_pending = old->is_pending;
        }
    }
    /* Runs of jobs the new file dropped go on; they are forgotten when they end. */
    for (size_t i = 0; i < s->job_count; i++) {
        const struct sched_job *old = &s->jobs[i];
        struct sched_job *j;

        if (!old->is_running || config_find_job(cfg, old->name))
            continue;
        j = &jobs[n++];
        j->name = xstrdup(old->name);
        j->is_running = true;
        j->is_configured = false;
    }
    sched_jobs_free(s->jobs, s->job_count);
    s->jobs = jobs;
    s->job_count = n;
    jobs = NULL;
    n = 0;
    xfree(s->zone);
    s->zone = zone ? xstrdup(zone) : NULL;
    s->max_concurrent = cfg->global.max_concurrent_jobs > 0 ? cfg->global.max_concurrent_jobs : 1;
    s->last_now_ms = now_ms;
    rc = 0;
out:
    sched_jobs_free(jobs, n);
    return rc;
}

int scheduler_check_missed(struct scheduler *s, struct sched_job *j, bool has_last,
                           time_t last_started, int64_t now_ms, enum sched_missed *out,
                           time_t *missed_slot, struct error *err)
{
    time_t prev = 0;

    *out = SCHED_MISSED_NONE;
    *missed_slot = 0;
    if (!j->schedule || !j->is_configured)
        return 0;
    if (cron_prev(&j->expr, s->zone, sched_seconds(now_ms), &prev, err) < 0)
        return -1;
    *missed_slot = prev;
    /* A job that never ran has no run that was missed: its first run is its first due time. */
    if (!has_last || last_started >= prev)
        return 0;
    if (!j->catch_up) {
        *out = SCHED_MISSED_SKIPPED;
        return 0;
    }
    if (!j->is_queued && !j->is_running) {
        j->is_queued = true;
        j->queue_seq = s->next_seq++;
    }
    *out = SCHED_MISSED_CAUGHT_UP;
    return 0;
}

/* The scheduled job that fell due first at or before now_ms, or NULL. */
static struct sched_job *sched_earliest_due(struct scheduler *s, int64_t now_ms)
{
    struct sched_job *best = NULL;

    for (size_t i = 0; i < s->job_count; i++) {
        struct sched_job *j = &s->jobs[i];
        if (!j->schedule || !j->is_configured || j->due_ms > now_ms)
            continue;
        if (!best || j->due_ms < best->due_ms)
            best = j;
    }
    return best;
}

/* The clock went back to now_ms: a slot computed from the later clock could be days, or (a clock
 * that started a year ahead) a year away. Each slot is the first cron time after the previous slot
 * or the clock, so an earlier cron time after now exists only when the clock went back past it. */
static void sched_follow_clock_back(struct scheduler *s, int64_t now_ms)
{
    time_t now = sched_seconds(now_ms);

    for (size_t i = 0; i < s->job_count; i++) {
        struct sched_job *j = &s->jobs[i];
        struct error e = ERROR_INIT;
        time_t t = 0;

        if (!j->schedule || !j->is_configured || j->slot <= now)
            continue;
        /* A failure (a zone gone from disk) leaves the slot; advance reports it. */
        if (cron_next(&j->expr, s->zone, now, &t, &e) == 0 && t < j->slot)
            (void)sched_set_next(s, s->zone, j, now, &e);
    }
}

size_t scheduler_advance(struct scheduler *s, int64_t now_ms, struct error *err)
{
    struct sched_job *j;
    size_t fell_due = 0;
    int failures = 0;

    if (now_ms < s->last_now_ms)
        sched_follow_clock_back(s, now_ms);
    s->last_now_ms = now_ms;
    while ((j = sched_earliest_due(s, now_ms)) != NULL) {
        time_t after = j->slot > sched_seconds(now_ms) ? j->slot : sched_seconds(now_ms);

        fell_due++;
        if (j->is_running) {
            /* Coalesced: however many times pass while it runs, it runs once afterwards. */
            if (!j->is_pending) {
                j->is_pending = true;
                j->queue_seq = s->next_seq++;
            }
        } else if (!j->is_queued) {
            j->is_queued = true;
            j->queue_seq = s->next_seq++;
        }
        if (sched_set_next(s, s->zone, j, after, err) < 0) {
            /* Only a zone that vanished from disk gets here; the job stops rather than spin. */
            error_wrap(err, "job '%s'", j->name);
            j->due_ms = INT64_MAX;
            failures++;
        }
    }
    if (!failures)
        error_clear(err);
    return fell_due;
}

struct sched_job *scheduler_take(struct scheduler *s)
{
    struct sched_job *best = NULL;

    if (s->running_count >= (size_t)s->max_concurrent)
        return NULL;
    for (size_t i = 0; i < s->job_count; i++) {
        struct sched_job *j = &s->jobs[i];
        if (!j->is_queued || j->is_running)
            continue;
        if (!best || j->queue_seq < best->queue_seq)
            best = j;
    }
    if (!best)
        return NULL;
    best->is_queued = false;
    best->is_running = true;
    s->running_count++;
    return best;
}

void scheduler_finished(struct scheduler *s, const char *name)
{
    struct sched_job *j = scheduler_find(s, name);
    size_t i;

    if (!j || !j->is_running)
        return;
    j->is_running = false;
    s->running_count--;
    if (!j->is_configured) {
        i = (size_t)(j - s->jobs);
        xfree(j->name);
        xfree(j->schedule);
        memmove(&s->jobs[i], &s->jobs[i + 1], (s->job_count - i - 1) * sizeof(*j));
        s->job_count--;
        return;
    }
    if (j->is_pending) {
        j->is_pending = false;
        j->is_queued = true; /* keeps the sequence number of when it fell due */
    }
}

void scheduler_clear_queue(struct scheduler *s)
{
    for (size_t i = 0; i < s->job_count; i++) {
        s->jobs[i].is_queued = false;
        s->jobs[i].is_pending = false;
    }
}

int64_t scheduler_next_due_ms(const struct scheduler *s)
{
    int64_t best = INT64_MAX;

    for (size_t i = 0; i < s->job_count; i++)
        if (s->jobs[i].schedule && s->jobs[i].is_configured && s->jobs[i].due_ms < best)
            best = s->jobs[i].due_ms;
    return best;
}

int scheduler_upcoming(const struct scheduler *s, const struct sched_job *j, time_t after,
                       time_t *out, size_t count, struct error *err)
{
    for (size_t i = 0; i < count; i++) {
        if (cron_next(&j->expr, s->zone, after, &out[i], err) < 0)
            return -1;
        after = out[i];
    }
    return 0;
}

void scheduler_format_time(const struct scheduler *s, int64_t ms, char out[SCHED_TIME_LEN])
{
    struct tz_saved saved = TZ_SAVED_INIT;
    struct error e = ERROR_INIT;
    time_t t = sched_seconds(ms);
    struct tm tm;
    bool is_local = tz_switch(s->zone, &saved, &e) == 0;

    if (is_local)
        localtime_r(&t, &tm);
    else
        gmtime_r(&t, &tm);
    if (strftime(out, SCHED_TIME_LEN, tm.tm_sec ? "%Y-%m-%d %H:%M:%S %Z" : "%Y-%m-%d %H:%M %Z",
                 &tm) == 0)
        buf_format_fixed(out, SCHED_TIME_LEN, "%lld", (long long)t);
    tz_restore(&saved);
}
