/* Applying a job's keep policy to the snapshots on its stores, and garbage-collecting unfinished
 * snapshots (directories without a manifest) left by failed or killed runs. */
#ifndef PERMAFROST_CORE_PRUNE_H
#define PERMAFROST_CORE_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/catalog.h"
#include "core/retention.h"
#include "stores/store.h"
#include "util/error.h"

struct prune_entry {
    char *job;
    char *store;
    char *id;
    bool is_kept;
    bool is_incomplete; /* no manifest: an unfinished snapshot, always removed */
    uint64_t bytes;
    char reason[RETENTION_REASON_LEN];
};

struct prune_report {
    struct prune_entry *entries;
    size_t count;
    size_t alloc;
    size_t removed;
    uint64_t removed_bytes;
};

/* Prunes `job` on store s with the job's policy for that store (config_job_keep_for: its
 * keep.STORE override, else keep; s is named as in the job's targets). The caller holds the job's
 * lock. With dry_run nothing is removed; the
 * report says what would be. A removal deletes the manifest first, so a half-removed snapshot is
 * never listed as complete. catalog may be NULL. */
int prune_job_store(struct store *s, const struct cfg_job *job, const char *timezone, bool dry_run,
                    struct catalog *catalog, struct prune_report *rep, struct error *err);

struct prune_request {
    const struct config *cfg;
    const char *const *jobs; /* names; all jobs when job_count is 0 */
    size_t job_count;
    bool dry_run;
    const char *state_dir;
};

/* Prunes every requested job on every one of its targets, taking each job's lock. */
int prune_run(const struct prune_request *req, struct prune_report *rep, struct error *err);
void prune_report_release(struct prune_report *rep);

#endif
