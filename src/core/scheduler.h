/* The daemon's scheduling state, kept apart from processes and clocks so that tests can drive it:
 * per job its cron expression and next due time (the next cron time after the previous one, plus a
 * random jitter drawn once per due time), the queue of due jobs in the order they fell due, and the
 * running set under max_concurrent_jobs. A job is never started while it runs: a due time that
 * passes meanwhile makes it run once when the run ends, however many of its times passed. The
 * caller (cli/cmd_daemon.c) supplies the time (milliseconds since the epoch) to every call, starts
 * and reaps the runs, and logs. */
#ifndef PERMAFROST_CORE_SCHEDULER_H
#define PERMAFROST_CORE_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "util/cron.h"
#include "util/error.h"

/* A random number source for the jitter; returns any 64-bit value. */
typedef uint64_t (*scheduler_random_fn)(void *ctx);

struct sched_job {
    char *name;
    char *schedule;        /* the expression as written; NULL: not scheduled */
    struct cron_expr expr; /* parsed schedule */
    int jitter_ms;
    bool catch_up;
    time_t slot;    /* the cron time of the next due run (seconds); 0 when not scheduled */
    int64_t due_ms; /* when that run starts: slot plus its jitter */
    bool is_queued; /* fell due (or caught up) and waits for a free slot */
    uint64_t queue_seq;
    bool is_running;
    bool is_pending;    /* fell due while running: queued when the run ends */
    bool is_configured; /* false: removed from the configuration by a reload, still running */
};

struct scheduler {
    struct sched_job *jobs; /* configuration order; removed-but-running jobs at the end */
    size_t job_count;
    char *zone; /* [global] timezone, NULL: the machine's */
    int max_concurrent;
    size_t running_count;
    uint64_t next_seq;
    int64_t last_now_ms; /* the latest time given to configure or advance: a clock set back */
    scheduler_random_fn random;
    void *random_ctx;
};

/* Initialises an empty scheduler. random (with random_ctx) draws the jitter; NULL draws none. */
void scheduler_init(struct scheduler *s, scheduler_random_fn random, void *random_ctx);
/* Frees the job table. */
void scheduler_release(struct scheduler *s);

/* Replaces the job table with cfg's jobs (at start-up, and on reload). A job whose schedule (and
 * the zone) is unchanged keeps its due time; a new or changed schedule gets the first cron time
 * after now_ms. Running jobs stay running (and stay counted) even when cfg no longer has them or
 * no longer schedules them; a queued job that lost its schedule leaves the queue. On failure
 * (ERR_CONFIG "PATH:LINE: job 'NAME': schedule ...": an expression cron_parse refuses, or an
 * unknown zone) the scheduler is left unchanged. cfg is borrowed (names are copied). */
int scheduler_configure(struct scheduler *s, const struct config *cfg, int64_t now_ms,
                        struct error *err);

/* The job called name, or NULL. */
struct sched_job *scheduler_find(struct scheduler *s, const char *name);

/* What start-up does about a job's run missed while the daemon was down. */
enum sched_missed {
    SCHED_MISSED_NONE = 0,  /* not scheduled, never run, or the last run is after the last time */
    SCHED_MISSED_SKIPPED,   /* missed, catch_up = no: only logged */
    SCHED_MISSED_CAUGHT_UP, /* missed, catch_up = yes: queued to run now */
};

/* At start-up: compares the start of the job's last run (has_last false: it never ran) with the
 * last cron time at or before now_ms. When that time is later, the run was missed: with catch_up
 * the job is queued now. *missed_slot gets the missed cron time. */
int scheduler_check_missed(struct scheduler *s, struct sched_job *j, bool has_last,
                           time_t last_started, int64_t now_ms, enum sched_missed *out,
                           time_t *missed_slot, struct error *err);

/* Moves every job whose due time is at or before now_ms into the queue (or marks it pending when it
 * runs), and computes its next due time: the first cron time after both the due slot and now, so
 * that slots that passed unseen (a suspended machine) add no extra runs. When now_ms is earlier
 * than the time of the previous call (the clock was set back), a job whose next cron time after now
 * comes before its due slot gets that time instead of waiting for the old one. Returns how many
 * jobs fell due. */
size_t scheduler_advance(struct scheduler *s, int64_t now_ms, struct error *err);

/* The queued job to start now, in the order the jobs fell due, or NULL when none is queued or
 * max_concurrent runs are going. The job is marked running. */
struct sched_job *scheduler_take(struct scheduler *s);

/* The run of job name ended: a pending due time queues it again. A job removed by a reload is
 * forgotten. */
void scheduler_finished(struct scheduler *s, const char *name);

/* Empties the queue and forgets pending runs (shutdown). */
void scheduler_clear_queue(struct scheduler *s);

/* The earliest due time of any scheduled job (ms), or INT64_MAX when none is scheduled. */
int64_t scheduler_next_due_ms(const struct scheduler *s);

/* The next count cron times of j after after (for `daemon --check`). */
int scheduler_upcoming(const struct scheduler *s, const struct sched_job *j, time_t after,
                       time_t *out, size_t count, struct error *err);

#define SCHED_TIME_LEN 48
/* "2026-11-30 03:00 CET" (seconds shown only when not zero) in the scheduler's zone. */
void scheduler_format_time(const struct scheduler *s, int64_t ms, char out[SCHED_TIME_LEN]);

#endif
