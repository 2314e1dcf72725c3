/* Restoring a redis snapshot: to a dump.rdb file (for a stopped server to load at start), or into
 * a running server by replaying RESTORE commands (RDB snapshots are converted entry by entry; the
 * logical ones are replayed as written). The artifact is first streamed to a file and checked
 * (SHA-256 against the manifest, zstd, and for RDB every entry and the CRC-64) so nothing of a
 * damaged snapshot reaches a server. */
#ifndef PERMAFROST_CORE_REDIS_RESTORE_H
#define PERMAFROST_CORE_REDIS_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/restore.h"
#include "util/error.h"

/* Artifact names and contents of redis snapshots (shared by backup and restore). */
#define REDIS_ARTIFACT_RDB  "dump.rdb.zst"
#define REDIS_ARTIFACT_RESP "dump.resp.zst"
#define REDIS_CONTENT_RDB   "redis-rdb"
#define REDIS_CONTENT_RESP  "redis-resp-restore"

struct redis_restore_request {
    const struct restore_request *base; /* cfg, job, snapshot, from_store, state_dir, progress */
    const char *to_file;                /* write dump.rdb here (a directory gets "dump.rdb") */
    bool force;                         /* replace an existing file */
    const char *to_url;                 /* or replay into this running server */
    const char *password;               /* for to_url; NULL: the URL's */
    const char *ca_file;                /* for a rediss:// to_url */
    bool tls_verify;
    const char *target_version; /* "redis-7.2", "valkey-8.0", "7.0"; NULL: not checked */
    const char *tmp_dir;        /* for the checked copy before a replay; NULL: $TMPDIR */
};

struct redis_restore_result {
    char snapshot_id[SNAPSHOT_ID_LEN];
    char *store;
    char *path; /* the file written (to_file) */
    int rdb_version;
    uint64_t keys;    /* keys written to the file or replayed */
    uint64_t expired; /* keys whose expiry had passed (left out by the server) */
    uint64_t stored_bytes;
    uint64_t raw_bytes;
    bool is_logical; /* the snapshot was a logical export */
    int64_t duration_ms;
};

int redis_restore_run(const struct redis_restore_request *req, struct redis_restore_result *res,
                      struct error *err);
void redis_restore_result_release(struct redis_restore_result *res);

#endif
