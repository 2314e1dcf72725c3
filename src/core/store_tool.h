/* Direct access to the objects of one configured store, for operators (`permafrost store`): copy
 * a file in or out under a key, list keys, remove a key, with the same credentials and options the
 * jobs use. Nothing here knows about snapshots or manifests. */
#ifndef PERMAFROST_CORE_STORE_TOOL_H
#define PERMAFROST_CORE_STORE_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "util/error.h"

/* The read(2) size of store_tool_put and the write size of store_tool_get. */
#define STORE_TOOL_CHUNK_BYTES ((size_t)1 << 20)

/* Streams the file at path into key of the store named store_name in cfg, in
 * STORE_TOOL_CHUNK_BYTES reads; the object appears only when the whole file is written (an
 * existing object under key is replaced). *bytes (may be NULL) gets the object's size. Fails with
 * ERR_CONFIG for an unknown store, ERR_IO when the file cannot be read, or the store's error, each
 * naming the store and the key; ERR_CANCELLED on SIGINT/SIGTERM (nothing is left under key). */
int store_tool_put(const struct config *cfg, const char *store_name, const char *key,
                   const char *path, uint64_t *bytes, struct error *err);

/* Writes the object at key to path ("-": standard output). A file is created with mode 0600 as a
 * temporary file next to path, fsynced and renamed over path, so path is either left as it was or
 * holds the whole object. *bytes (may be NULL) gets the number of bytes written. Errors as for
 * store_tool_put; a missing key is ERR_IO with "not found" in the message. */
int store_tool_get(const struct config *cfg, const char *store_name, const char *key,
                   const char *path, uint64_t *bytes, struct error *err);

struct store_tool_entry {
    const char *key; /* borrowed for the duration of the callback */
    uint64_t size_bytes;
    time_t mtime;
};

/* Returns 0 to continue, 1 to stop, -1 with err set to fail. */
typedef int (*store_tool_list_fn)(const struct store_tool_entry *e, void *ctx, struct error *err);

/* Calls fn for every key under prefix ("" for all), in ascending byte order. Unfinished writes are
 * not listed. */
int store_tool_list(const struct config *cfg, const char *store_name, const char *prefix,
                    store_tool_list_fn fn, void *ctx, struct error *err);

/* Removes key. *existed (may be NULL) tells whether it was there; a missing key is not an error. */
int store_tool_remove(const struct config *cfg, const char *store_name, const char *key,
                      bool *existed, struct error *err);

#endif
