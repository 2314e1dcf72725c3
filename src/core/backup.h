/* Running a postgres job: preflight, exported snapshot and row counts, pg_dump streamed through
 * zstd and SHA-256 into the first target, globals, the manifest written last, copies to the other
 * targets, the catalog updated, retention applied. core/ never prints: progress goes to a callback.
 */
#ifndef PERMAFROST_CORE_BACKUP_H
#define PERMAFROST_CORE_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/snapshot_id.h"
#include "util/error.h"

struct backup_progress {
    const char *job;
    const char *phase;           /* "dump", "globals", "copy to 'x'", "prune" */
    uint64_t raw_bytes;          /* read from the source so far */
    uint64_t stored_bytes;       /* written to the first target so far */
    uint64_t expected_raw_bytes; /* a rough total (database size), 0 if unknown */
    int64_t elapsed_ms;
};

typedef void (*backup_progress_fn)(const struct backup_progress *p, void *ctx);

struct backup_request {
    const struct config *cfg;
    const struct cfg_job *job;
    const char *state_dir;
    bool skip_prune;
    backup_progress_fn progress; /* may be NULL */
    void *progress_ctx;
};

struct backup_target_result {
    char *store;
    bool is_ok;
    bool is_server_side; /* copied by the S3 service itself (CopyObject), not through us */
    char error[1024];
};

struct backup_result {
    char snapshot_id[SNAPSHOT_ID_LEN];
    bool is_ok; /* every target has the complete snapshot */
    int64_t duration_ms;
    uint64_t raw_bytes;
    uint64_t stored_bytes;
    char *database;
    char *server_version;
    char *pg_dump_version;
    int64_t database_size_bytes;
    size_t table_count;
    int64_t total_rows; /* -1 when not counted */
    /* redis jobs (NULL / 0 / -1 otherwise) */
    char *redis_server; /* "redis" / "valkey" */
    char *redis_version;
    char *redis_method;          /* "sync" / "logical" */
    char *redis_transfer;        /* "disk" / "diskless" / "logical" */
    char *redis_fallback_reason; /* set when auto fell back to logical */
    int redis_rdb_version;
    int64_t redis_keys;        /* keys in the snapshot */
    int64_t redis_used_memory; /* -1 when not known */
    /* encryption: the number of age recipients, or passphrase; neither when not encrypted */
    size_t recipient_count;
    bool passphrase;
    struct backup_target_result *targets;
    size_t target_count;
    size_t pruned;
    char prune_error[1024];
};

/* Runs one job. Returns 0 when the snapshot is complete on every target; -1 with err set otherwise
 * (res then says which targets, if any, hold a complete snapshot). res: backup_result_release. */
int backup_run(const struct backup_request *req, struct backup_result *res, struct error *err);
void backup_result_release(struct backup_result *res);

#endif
