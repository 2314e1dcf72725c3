/* Running a kind = mirror job: the job's configuration turned into mirror_options (the two stores,
 * filters with the preset's, trash, ACL, deletion guard, command-line overrides), the job lock
 * taken as for any run, the run recorded in the catalog, and mirror_run called. core/ never
 * prints: the plan (--dry-run) and progress go to callbacks. */
#ifndef PERMAFROST_CORE_MIRROR_JOB_H
#define PERMAFROST_CORE_MIRROR_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "mirror/mirror.h"
#include "util/error.h"

struct mirror_job_request {
    const struct config *cfg;
    const struct cfg_job *job; /* kind = mirror */
    const char *state_dir;
    bool is_dry_run;  /* list and compare only: report the plan, take no lock, record nothing */
    bool is_checksum; /* compare content hashes in this run (as with checksum = yes) */
    /* --max-delete: replaces the job's max_delete for this run when has_max_delete. */
    bool has_max_delete;
    int64_t max_delete_count; /* >= 0: a count; -1: max_delete_percent */
    double max_delete_percent;
    mirror_plan_fn plan;         /* may be NULL */
    mirror_progress_fn progress; /* may be NULL */
    void *ctx;                   /* for plan and progress */
};

enum mirror_job_outcome {
    MIRROR_JOB_OK = 0,
    MIRROR_JOB_FAILED,    /* nothing or not everything could be compared (or a setup error) */
    MIRROR_JOB_PARTIAL,   /* the listings were complete, some objects failed */
    MIRROR_JOB_CANCELLED, /* SIGINT/SIGTERM */
    MIRROR_JOB_REFUSED,   /* the deletion guard refused the deletions (copies were made) */
};

struct mirror_job_result {
    enum mirror_job_outcome outcome;
    bool has_started;          /* mirror_run was called (the lock was taken, the setup valid) */
    struct mirror_stats stats; /* zero when the mirror did not start */
};

/* What mirror_job_run hands to mirror_run, built from the configuration alone (no I/O). */
struct mirror_job_setup {
    struct store_options source;
    struct store_options destination;
    char *source_prefix; /* "" or "media/" */
    char *destination_prefix;
    char **include; /* the job's include patterns */
    size_t include_count;
    char **exclude; /* the job's, then the preset's, then the trash's when it is inside the tree */
    size_t exclude_count;
    char *trash_prefix;         /* ".trash/", or NULL */
    struct mirror_options opts; /* points into this struct and into req->cfg */
};

/* Fills setup from req (pure: no I/O, patterns not parsed; mirror_job_run checks them with the
 * mirror's filter parser before the lock and any request). ERR_CONFIG when a store is missing.
 * setup borrows from req->cfg; release it with mirror_job_setup_release, on failure too. */
int mirror_job_setup_init(const struct mirror_job_request *req, struct mirror_job_setup *setup,
                          struct error *err);
void mirror_job_setup_release(struct mirror_job_setup *setup);

/* "ok", "failed", "partial", "cancelled", "refused". */
const char *mirror_job_outcome_name(enum mirror_job_outcome o);

/* Runs the job. Returns 0 when the destination is an exact copy of the included source keys (or,
 * with is_dry_run, when the plan is complete); -1 with err set otherwise ("job 'media': ..."),
 * with the kinds of mirror_run plus ERR_LOCKED (another run of the job holds the lock) and
 * ERR_CONFIG (a store or filter the mirror cannot use). res is filled in every case. */
int mirror_job_run(const struct mirror_job_request *req, struct mirror_job_result *res,
                   struct error *err);

#endif
