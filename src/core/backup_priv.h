/* Inside a backup run (core only): the run's state and the artifact writer that every source
 * streams through (zstd, SHA-256, the first target). backup.c drives the run; each source
 * (backup.c for postgres, redis_backup.c for redis) fills in the manifest's facts. */
#ifndef PERMAFROST_CORE_BACKUP_PRIV_H
#define PERMAFROST_CORE_BACKUP_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "core/backup.h"
#include "core/manifest.h"
#include "io/pipeline.h"
#include "sources/pg_dump.h"
#include "stores/store.h"

struct backup_ctx {
    const struct backup_request *req;
    const struct cfg_job *job;
    struct backup_result *res;
    struct store **stores; /* one per target, in target order */
    char *prefix;          /* "<job>/<id>/" */
    struct manifest m;
    struct pg_tool pg_dump;
    struct pg_tool pg_dumpall;
    struct pg_passfile passfile;
    int64_t start_mono_ms;
    int64_t last_progress_ms;
    uint64_t expected_raw_bytes;
    const char *phase;
    uint64_t stored_so_far;
};

/* One artifact being written: bytes in are compressed, hashed and streamed to the first target;
 * nothing is visible there until backup_artifact_commit, which also records it in the manifest. */
struct backup_artifact {
    struct backup_ctx *ctx;
    char *key;
    char *file_name;
    struct store_writer *w;
    struct pipeline pl;
    struct filter *hash; /* owned by pl */
    bool is_encrypted;   /* an age stage follows zstd; file_name ends in ".age" */
};

int backup_artifact_open(struct backup_ctx *ctx, const char *file_name, struct backup_artifact *a,
                         struct error *err);
int backup_artifact_write(struct backup_artifact *a, const void *data, size_t len,
                          struct error *err);
/* Ends the stream, commits the object and adds it to the manifest with the given content. */
int backup_artifact_commit(struct backup_artifact *a, const char *content, struct error *err);
/* Aborts an uncommitted artifact (nothing is left on the store); frees. Safe after commit. */
void backup_artifact_release(struct backup_artifact *a);
/* Reports progress (rate-limited unless force). */
void backup_progress_tick(struct backup_ctx *ctx, uint64_t raw, uint64_t stored, bool force);

/* The redis source (redis_backup.c): connects, streams the snapshot, fills the manifest. */
int backup_redis(struct backup_ctx *ctx, struct error *err);

#endif
