/* Opening the stores a configuration names, and reading snapshots out of a store: the bridge
 * between the typed configuration and the one store interface. */
#ifndef PERMAFROST_CORE_TARGETS_H
#define PERMAFROST_CORE_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/manifest.h"
#include "stores/store.h"
#include "util/error.h"

/* Fills opts from the configured store cs; the strings and secrets stay borrowed from cs. */
void targets_store_options(const struct cfg_store *cs, struct store_options *opts);

/* Opens the store named `name` in cfg. *out: store_free. */
int targets_open(const struct config *cfg, const char *name, struct store **out, struct error *err);

/* One snapshot directory found in a store: <job>/<id>/... */
struct snapshot_dir {
    const char *job; /* borrowed for the callback */
    const char *id;
    bool has_manifest;
    uint64_t bytes; /* sum of the object sizes */
};

/* Returns 0 to continue, 1 to stop, -1 to fail. */
typedef int (*snapshot_dir_fn)(const struct snapshot_dir *d, void *ctx, struct error *err);

/* Calls fn for every snapshot directory of `job` (NULL: of every job) in the store, in id order.
 * Keys that do not look like <job>/<snapshot-id>/<file> are ignored. Unfinished writes are
 * included, so a directory that holds nothing else is reported (without a manifest). */
int targets_scan(struct store *s, const char *job, snapshot_dir_fn fn, void *ctx,
                 struct error *err);

/* Reads and parses <job>/<id>/manifest.json; ERR_INTEGRITY when it is unreadable or malformed. */
int targets_read_manifest(struct store *s, const char *job, const char *id, struct manifest *m,
                          struct error *err);

/* Copies the object at key from src to dst (same key): server-side when the stores allow it, else
 * streamed. *is_server_side (may be NULL) says which. */
int targets_copy_object(struct store *src, struct store *dst, const char *key, bool *is_server_side,
                        struct error *err);

#endif
