/* The catalog: a SQLite database (WAL) in the state directory with the runs and the snapshots known
 * on each store. It is a cache only: `catalog rebuild` recreates it from the manifests in the
 * stores. The only file that includes sqlite3.h. */
#ifndef PERMAFROST_CORE_CATALOG_H
#define PERMAFROST_CORE_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/manifest.h"
#include "util/error.h"

struct catalog;

/* Opens (creating and migrating) <state_dir>/catalog.db. *out: catalog_close. */
int catalog_open(const char *state_dir, struct catalog **out, struct error *err);
void catalog_close(struct catalog *c);

/* Records the start of a run; *run_id identifies it for catalog_run_end. */
int catalog_run_begin(struct catalog *c, const char *job, const char *snapshot_id,
                      time_t started_at, int64_t *run_id, struct error *err);
/* result: "ok", "failed", "cancelled", "partial". error_text may be NULL. */
int catalog_run_end(struct catalog *c, int64_t run_id, time_t ended_at, const char *result,
                    const char *error_text, uint64_t stored_bytes, uint64_t raw_bytes,
                    struct error *err);

/* Records that the complete snapshot described by m is on store (replacing an earlier row). */
int catalog_add_snapshot(struct catalog *c, const char *store, const struct manifest *m,
                         struct error *err);
int catalog_remove_snapshot(struct catalog *c, const char *job, const char *id, const char *store,
                            struct error *err);
/* An explicit transaction around several changes. */
int catalog_begin(struct catalog *c, struct error *err);
int catalog_commit(struct catalog *c, struct error *err);
int catalog_rollback(struct catalog *c, struct error *err);

/* Forgets every snapshot row (runs are kept). */
int catalog_clear_snapshots(struct catalog *c, struct error *err);

struct catalog_snapshot {
    char *job;
    char *id;
    time_t time;
    uint64_t stored_bytes;
    uint64_t raw_bytes;
    char *stores; /* comma-separated store names, in name order */
};

/* Lists snapshots (of job, or all when NULL), oldest first, one entry per (job, id). */
int catalog_list(struct catalog *c, const char *job, struct catalog_snapshot **out, size_t *count,
                 struct error *err);
void catalog_snapshots_free(struct catalog_snapshot *s, size_t count);

/* One check of one snapshot on one store by `permafrost verify` (or a kind = verify job). */
struct catalog_verification {
    char *job;
    char *snapshot_id;
    char *store;
    time_t time;        /* when the verify run started */
    const char *level;  /* "integrity" or "restore" (a literal) */
    const char *result; /* "ok" or "failed" (a literal) */
    char *detail;       /* what was checked, or why it failed; "" when none */
    int64_t duration_ms;
};

/* Records v (borrowed; detail may be NULL). */
int catalog_add_verification(struct catalog *c, const struct catalog_verification *v,
                             struct error *err);
/* The most recent verification of a snapshot on any store: of the latest run, a failure before a
 * success and a drill before an integrity check. *found = false (and 0 returned) when it was never
 * verified. On success with *found, *out is owned by the caller (catalog_verification_release). */
int catalog_last_verification(struct catalog *c, const char *job, const char *snapshot_id,
                              struct catalog_verification *out, bool *found, struct error *err);
void catalog_verification_release(struct catalog_verification *v);

/* Records the job's kind ("postgres", "mirror", "redis", "verify") on a run row. */
int catalog_run_set_kind(struct catalog *c, int64_t run_id, const char *kind, struct error *err);

/* What a mirror run changed on its destination. */
struct catalog_mirror_counts {
    uint64_t copied_objects; /* new and updated objects */
    uint64_t copied_bytes;
    uint64_t deleted_objects; /* deleted or moved to the trash */
    uint64_t deleted_bytes;
};

/* Records the counts of a mirror run (and kind = "mirror") on its run row. */
int catalog_run_set_mirror_counts(struct catalog *c, int64_t run_id,
                                  const struct catalog_mirror_counts *m, struct error *err);

/* The start time of the most recent run of job (finished or not; the daemon's catch_up). *found =
 * false (and 0 returned) when the job never ran. */
int catalog_last_run_started(struct catalog *c, const char *job, time_t *t, bool *found,
                             struct error *err);

/* One row of the runs table. */
struct catalog_run {
    int64_t id;
    char *job;
    char *kind;        /* NULL when the run did not record it */
    char *snapshot_id; /* NULL when none */
    time_t started_at;
    time_t ended_at;     /* 0 while running, or when the process died during the run */
    char *result;        /* "ok", "failed", "cancelled", "partial"; NULL while unfinished */
    char *error;         /* NULL when none */
    int64_t duration_ms; /* -1 while unfinished */
    uint64_t stored_bytes;
    uint64_t raw_bytes;
    bool has_mirror_counts;
    struct catalog_mirror_counts mirror;
};

/* The most recent run of job (by start time), or with is_ok_only the most recent with result
 * "ok". *found = false (and 0 returned) when there is none. On success with *found, *out is owned
 * by the caller (catalog_run_release). */
int catalog_last_run(struct catalog *c, const char *job, bool is_ok_only, struct catalog_run *out,
                     bool *found, struct error *err);
void catalog_run_release(struct catalog_run *r);

/* The number of finished runs of each job with each result ("ok", "failed", ...), ordered by job
 * and result. *out: catalog_run_counts_free. */
struct catalog_run_count {
    char *job;
    char *result;
    uint64_t count;
};
int catalog_run_counts(struct catalog *c, struct catalog_run_count **out, size_t *count,
                       struct error *err);
void catalog_run_counts_free(struct catalog_run_count *rc, size_t count);

/* The sums of the mirror counts over every recorded run of job (all zero when none). */
int catalog_mirror_totals(struct catalog *c, const char *job, struct catalog_mirror_counts *out,
                          struct error *err);

/* The snapshots each job has on each store, ordered by store and job. *out:
 * catalog_store_usage_free. */
struct catalog_store_usage {
    char *store;
    char *job;
    uint64_t snapshot_count;
    uint64_t stored_bytes;
    time_t newest; /* time of the newest snapshot */
};
int catalog_store_usage(struct catalog *c, struct catalog_store_usage **out, size_t *count,
                        struct error *err);
void catalog_store_usage_free(struct catalog_store_usage *u, size_t count);

/* When this catalog first knew of job: the earlier of its first run and the first call of
 * catalog_job_seen for it. catalog_job_seen records `now` as the job's first sighting unless one
 * is recorded already, and returns the recorded time in *first_seen. Status uses it so that a job
 * that never succeeded becomes stale only once it has been configured for longer than its
 * stale_after. */
int catalog_job_seen(struct catalog *c, const char *job, time_t now, time_t *first_seen,
                     struct error *err);

const char *catalog_sqlite_version(void);

#endif
