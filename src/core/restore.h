/* Restoring a postgres snapshot with pg_restore: from the first store (or --from) that holds it,
 * the artifact streamed through SHA-256 and zstd into pg_restore (one transaction, so a failed or
 * corrupt restore leaves nothing behind), or, for a parallel restore, decompressed to a temporary
 * file first. */
#ifndef PERMAFROST_CORE_RESTORE_H
#define PERMAFROST_CORE_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/backup.h"
#include "core/snapshot_id.h"
#include "util/error.h"
#include "util/secret.h"

struct restore_request {
    const struct config *cfg;
    const struct cfg_job *job;
    const char *snapshot;   /* an id, or "latest" (NULL means latest) */
    const char *from_store; /* NULL: the job's targets in order */
    const char *to;         /* target conninfo */
    const char *password;   /* for the target; NULL: libpq defaults (PGPASSWORD, ~/.pgpass) */
    int jobs;               /* pg_restore --jobs; > 1 decompresses to a temporary file */
    bool create;            /* CREATE DATABASE first */
    bool clean;             /* allow a non-empty target: pg_restore --clean --if-exists */
    bool no_owner;          /* pg_restore --no-owner */
    const char *tmp_dir;    /* for --jobs > 1; NULL: $TMPDIR or /tmp */
    const char *state_dir;
    /* encrypted snapshots: the text of an identity file (--identity); NULL: the job's identity or
     * encrypt_passphrase */
    const struct secret *identity;
    /* restore_stream on an encrypted artifact with no key to open it: check the size and SHA-256
     * only (verify) instead of failing; the sink then receives nothing */
    bool digest_only_if_locked;
    backup_progress_fn progress;
    void *progress_ctx;
};

struct restore_result {
    char snapshot_id[SNAPSHOT_ID_LEN];
    char *store;
    char *database; /* target database name */
    uint64_t stored_bytes;
    uint64_t raw_bytes;
    int64_t duration_ms;
};

int restore_run(const struct restore_request *req, struct restore_result *res, struct error *err);
void restore_result_release(struct restore_result *res);

#endif
