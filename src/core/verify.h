/* `permafrost verify` and kind = verify jobs: every matching snapshot on every store is read back
 * and checked (size and SHA-256 against its manifest, zstd decoded to the end, age authenticated
 * when a key is at hand, the format: a pg_dump archive's header and table of contents through
 * `pg_restore --list`, an RDB file's entries, CRC-64 and keys per database against the manifest);
 * with restore drills, a postgres snapshot is restored into a scratch database whose row counts
 * are compared with the manifest's (the database is dropped afterwards whatever happens), and a
 * redis snapshot is loaded into a throwaway redis-server/valkey-server on a free loopback port
 * whose key counts are compared again. Each result is recorded in the catalog. core/ never
 * prints: each finished item goes to a callback. */
#ifndef PERMAFROST_CORE_VERIFY_H
#define PERMAFROST_CORE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/backup.h"
#include "core/snapshot_id.h"
#include "util/error.h"
#include "util/secret.h"

/* The result of checking one snapshot of one job on one store. */
struct verify_item {
    char *job;
    char snapshot_id[SNAPSHOT_ID_LEN]; /* "" when no snapshot was found to check */
    char *store;
    const char *level; /* "integrity", or "restore" when a drill ran on this copy */
    bool is_ok;
    bool is_digest_only; /* encrypted and no identity: size and SHA-256 checked only */
    enum err_kind kind;  /* of the failure; ERR_NONE when ok */
    char *detail;        /* ok: what was checked; failed: the error (naming snapshot and store) */
    uint64_t bytes;      /* stored bytes read */
    int64_t duration_ms;
};

typedef void (*verify_item_fn)(const struct verify_item *item, void *ctx);

struct verify_request {
    const struct config *cfg;
    const char *const *jobs; /* job names; none: every postgres and redis job */
    size_t job_count;
    const char *from_store;    /* one store (any configured store); NULL: see stores */
    const char *const *stores; /* kind = verify's targets; none: each job's own targets */
    size_t store_count;
    const char *snapshot; /* an id, "latest", or NULL: every complete snapshot */
    bool restore;         /* restore drills (once per snapshot, from the first good copy) */
    const char *scratch;  /* conninfo for the drills; NULL: each job's scratch or server */
    const struct secret *identity; /* --identity text; NULL: each job's identity/passphrase */
    const char *tmp_dir;           /* NULL: $TMPDIR or /tmp */
    const char *state_dir;
    const struct cfg_job *run_job; /* the kind = verify job being run (locked, recorded as a
                                      run), or NULL */
    verify_item_fn on_item;        /* each item when it is final; may be NULL */
    void *item_ctx;
    backup_progress_fn progress; /* may be NULL */
    void *progress_ctx;
};

struct verify_result {
    struct verify_item *items;
    size_t item_count;
    size_t failed;
    int64_t duration_ms;
};

/* Verifies as requested. Returns 0 when every item is ok. Otherwise -1 with err set: a usage
 * error (unknown job or store, a job that keeps no snapshots), or, when items failed, the most
 * telling failure (cancelled > locked > integrity > the rest) prefixed with how many failed, so
 * that ERR_INTEGRITY, naming snapshot and store, means a copy is damaged. res holds every item
 * either way: verify_result_release. */
int verify_run(const struct verify_request *req, struct verify_result *res, struct error *err);
void verify_result_release(struct verify_result *res);

/* The name of a drill's scratch database: "permafrost_verify_<job>_<suffix>", the job name
 * lowercased with anything but [a-z0-9_] turned into '_', cut so the whole stays within 63 bytes.
 * Caller frees. */
char *verify_scratch_name(const char *job, const char *suffix);
/* conninfo (key=value or URI) with its database replaced by dbname. Caller frees. */
char *verify_conninfo_with_db(const char *conninfo, const char *dbname);

#endif
