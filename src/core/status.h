/* The operator's view (`permafrost status`, the metrics): per job its last run, last success, next
 * run and whether it is stale; per store its snapshots. Built from the config and the catalog only
 * (a cache of the stores' manifests), so it is fast and never contacts a store. */
#ifndef PERMAFROST_CORE_STATUS_H
#define PERMAFROST_CORE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "core/catalog.h"
#include "util/cron.h"
#include "util/error.h"

#define STATUS_REASON_LEN 192

struct status_job {
    const struct cfg_job *job; /* borrowed from the config */
    const char *kind;          /* "postgres", "mirror", "redis", "verify" */
    time_t next_run;           /* the schedule's next run after now (none when unscheduled) */
    int64_t stale_after_ms;    /* in effect: configured, or derived from the schedule; 0: never */
    int64_t period_s;          /* the schedule's longest gap between two runs; 0: unscheduled */
    time_t first_seen;         /* when the catalog first knew of the job (first run or status) */
    struct catalog_mirror_counts mirror_totals; /* kind = mirror: over every recorded run */
    struct catalog_verification verification;   /* of the last success's snapshot */
    struct catalog_run last_run;                /* the most recent run, finished or not */
    struct catalog_run last_success;            /* the most recent run whose result is "ok" */
    bool has_last_run;
    bool has_last_success;
    bool has_next_run;
    bool is_stale_after_derived;
    bool is_stale;
    bool is_last_run_failed; /* the last finished run's result is "failed" or "partial" */
    bool has_verification;
    char stale_reason[STATUS_REASON_LEN]; /* "last success 3 days ago, expected every 1 day" */
};

struct status_store {
    const struct cfg_store *store; /* borrowed from the config */
    uint64_t snapshot_count;       /* (job, snapshot) pairs the catalog knows on this store */
    uint64_t stored_bytes;
    time_t newest; /* 0: no snapshot */
};

struct status_report {
    time_t now;
    struct status_job *jobs; /* config order */
    size_t job_count;
    struct status_store *stores; /* config order */
    size_t store_count;
    struct catalog_store_usage *usage; /* per store and job */
    size_t usage_count;
    struct catalog_run_count *run_counts; /* per job and result */
    size_t run_count_count;
    size_t stale_count;  /* jobs that are stale */
    size_t failed_count; /* jobs whose last finished run failed */
};

/* Builds the report at time now from cfg and <state_dir>/catalog.db (created when missing; each
 * configured job's first sighting is recorded in it). *out: status_report_release; it borrows
 * from cfg, which must outlive it. Fails when the catalog cannot be read or a schedule or the
 * timezone is invalid. */
int status_collect(const struct config *cfg, const char *state_dir, time_t now,
                   struct status_report *out, struct error *err);
void status_report_release(struct status_report *r);

/* The longest gap in seconds between two consecutive runs of e, searched over the 400 days after
 * `from` (and the gap that ends beyond them), in UTC wall-clock time (status_stale_after_ms adds
 * the zone's DST shift). */
int status_max_gap_seconds(const struct cron_expr *e, time_t from, int64_t *out, struct error *err);

/* The stale_after in effect for job: its stale_after_ms when set, else one and a half times the
 * longest gap of its schedule plus the largest clock change of zone (NULL: the machine's) in the
 * coming year (a fall-back lengthens one gap by it: an hourly job waits two hours for its next
 * run), else 0 (never stale). *is_derived tells which. */
int status_stale_after_ms(const struct cfg_job *job, const char *zone, time_t now, int64_t *out,
                          bool *is_derived, struct error *err);

/* "3 days", "5 h", "40 min", "30 s": a rounded age for messages. */
void status_format_age(int64_t seconds, char *out, size_t cap);

#endif
