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

/* One row of the runs table. */
struct catalog_run {
    int64_t id;
    char *snapshot_id; /* NULL for a mirror run */
    time_t started_at;
    time_t ended_at; /* 0 while the run is going (or when it died without recording) */
    char *result;    /* "ok", "failed", ...; NULL while going */
    char *error;     /* NULL when none */
    uint64_t stored_bytes;
    uint64_t raw_bytes;
};

/* The most recent run of job (the latest start, any result). *found = false (and 0 returned) when
 * the job never ran. On success with *found, *out is the caller's (catalog_run_release). */
int catalog_last_run(struct catalog *c, const char *job, struct catalog_run *out, bool *found,
                     struct error *err);
void catalog_run_release(struct catalog_run *r);

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

const char *catalog_sqlite_version(void);

#endif
