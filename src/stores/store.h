/* The one storage interface. core/ sees only this header, never a particular store. Keys are
 * relative,
 * '/'-separated paths ("db/20261124T031500Z-k3f9/manifest.json") without "." or ".." segments.
 *
 * Writes are atomic: bytes streamed into a writer become visible under the key only at commit; an
 * aborted (or crashed) writer leaves nothing under the key. */
#ifndef PERMAFROST_STORES_STORE_H
#define PERMAFROST_STORES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/error.h"
#include "util/secret.h"

struct store;
struct store_writer;
struct store_reader;

/* What core fills from the configuration to open a store. Borrowed by store_open for the call only.
 */
struct store_options {
    const char *name; /* the [store "name"] */
    const char *type; /* "local", "s3" or "rclone" */
    const char *path; /* local: the root directory, created (0700) when missing */

    /* s3 (and rclone remotes whose rclone.conf section is type = s3) */
    const char *endpoint; /* "https://nyc3.digitaloceanspaces.com"; NULL: AWS for region */
    const char *region;   /* NULL: "us-east-1" */
    const char *bucket;
    const char *prefix; /* key prefix inside the bucket, without leading/trailing '/' */
    int path_style;     /* 1 yes, 0 no (virtual-hosted), -1 default (yes for endpoint) */
    const struct secret *access_key;    /* unset: AWS_ACCESS_KEY_ID */
    const struct secret *secret_key;    /* unset: AWS_SECRET_ACCESS_KEY */
    const struct secret *session_token; /* unset: AWS_SESSION_TOKEN when set */
    const char *ca_file;
    double max_requests_per_second; /* 0: unlimited */
    uint64_t part_size_bytes;       /* 0: default (16 MiB) */
    int concurrency;                /* parts or requests in flight; 0: default (4) */
    int connect_timeout_ms;         /* 0: default */
    int low_speed_timeout_ms;       /* 0: default: fail a transfer stalled for this long */

    /* rclone */
    const char *remote;        /* "NAME:path" */
    const char *rclone_config; /* rclone.conf path; NULL: RCLONE_CONFIG, else the default */
    const char *rclone_binary; /* NULL: "rclone" from PATH */
};

struct store_entry {
    const char *key; /* borrowed for the duration of the callback */
    uint64_t size_bytes;
    time_t mtime;
    bool is_partial; /* an unfinished write of key (only from store_list_partial) */
};

enum store_list_flags {
    STORE_LIST_PARTIAL = 1 << 0, /* also report unfinished writes (temporary files, uploads) */
};

/* Returns 0 to continue, 1 to stop early (store_list then returns 0), or -1 with err set to fail.
 */
typedef int (*store_list_fn)(const struct store_entry *entry, void *ctx, struct error *err);

struct store_ops {
    int (*put_open)(struct store *s, const char *key, struct store_writer **out, struct error *err);
    int (*get_open)(struct store *s, const char *key, struct store_reader **out, struct error *err);
    int (*list)(struct store *s, const char *prefix, int flags, store_list_fn fn, void *ctx,
                struct error *err);
    int (*stat)(struct store *s, const char *key, struct store_entry *out, bool *exists,
                struct error *err);
    int (*remove)(struct store *s, const char *key, struct error *err);
    int (*remove_prefix)(struct store *s, const char *prefix, struct error *err);
    /* Optional (NULL: not supported): copies key from src into this store without the bytes
     * passing through us (S3 CopyObject). Returns 1 when it cannot for this pair of stores. */
    int (*copy_from)(struct store *dst, struct store *src, const char *key, struct error *err);
    void (*free)(struct store *s);
};

struct store_writer_ops {
    int (*write)(struct store_writer *w, const void *data, size_t len, struct error *err);
    int (*commit)(struct store_writer *w, struct error *err);
    void (*abort)(struct store_writer *w);
};

struct store_reader_ops {
    int (*read)(struct store_reader *r, void *data, size_t cap, size_t *got, struct error *err);
    void (*close)(struct store_reader *r);
};

struct store {
    const struct store_ops *ops;
    char *name;
    char *type;
    char *location; /* human-readable: a directory, "s3://bucket/prefix", ... */
};

struct store_writer {
    const struct store_writer_ops *ops;
    uint64_t bytes_written;
};

struct store_reader {
    const struct store_reader_ops *ops;
};

/* Opens the store described by opts. On success *out is owned by the caller (store_free). Fails
 * with ERR_CONFIG for an unknown type, ERR_IO when a local path cannot be created. */
int store_open(const struct store_options *opts, struct store **out, struct error *err);
void store_free(struct store *s);
const char *store_name(const struct store *s);
const char *store_location(const struct store *s);

/* Starts writing key. The writer is owned by the caller and is ended by exactly one of commit (data
 * becomes visible atomically and durably, the writer is freed whatever the result) or abort
 * (nothing visible, temporary data removed, writer freed). */
int store_put_open(struct store *s, const char *key, struct store_writer **out, struct error *err);
int store_writer_write(struct store_writer *w, const void *data, size_t len, struct error *err);
int store_writer_commit(struct store_writer *w, struct error *err);
void store_writer_abort(struct store_writer *w); /* NULL-safe */

/* Opens key for reading; ERR_IO with "not found" in the message when it does not exist. */
int store_get_open(struct store *s, const char *key, struct store_reader **out, struct error *err);
/* Reads up to cap bytes; *got = 0 means end of data. */
int store_reader_read(struct store_reader *r, void *data, size_t cap, size_t *got,
                      struct error *err);
void store_reader_close(struct store_reader *r); /* NULL-safe */

/* Calls fn for every key under prefix ("" for all; "db/" for a job), in ascending byte order of
 * key. Temporary files of unfinished writes are not listed. */
int store_list(struct store *s, const char *prefix, store_list_fn fn, void *ctx, struct error *err);
/* *exists = false (and 0 returned) when the key is absent. */
int store_stat(struct store *s, const char *key, struct store_entry *out, bool *exists,
               struct error *err);
/* Removes key; a missing key is not an error. */
int store_remove(struct store *s, const char *key, struct error *err);
/* Like store_list, but also reports the unfinished writes under prefix (a local temporary file, an
 * incomplete upload), with is_partial set and key naming what was being written (possibly cut
 * short). Used to find and garbage-collect what crashed runs left behind. */
int store_list_partial(struct store *s, const char *prefix, store_list_fn fn, void *ctx,
                       struct error *err);
/* Removes every key under prefix (which must end in '/'), including data of unfinished writes left
 * by a crashed process; used to garbage-collect unfinished snapshots. */
int store_remove_prefix(struct store *s, const char *prefix, struct error *err);
/* Copies key from src to dst (same key): server-side when both stores allow it (same S3 service
 * and credentials), else streamed through a 1 MiB buffer. *is_server_side (may be NULL) says
 * which. The copy is atomic like any write. */
int store_copy(struct store *src, struct store *dst, const char *key, bool *is_server_side,
               struct error *err);
/* Convenience: writes a whole small object (a manifest) atomically. */
int store_put_bytes(struct store *s, const char *key, const void *data, size_t len,
                    struct error *err);

/* For store implementations only (core/ never calls these). Fills the common part of a new store:
 * copies opts->name, opts->type and location. */
void store_base_init(struct store *s, const struct store_ops *ops, const struct store_options *opts,
                     const char *location);
/* Frees what store_base_init allocated (not s itself). */
void store_base_release(struct store *s);

#define STORE_KEY_MAX 1024

/* The key rules every store applies, so that a key means the same on each: a '/'-separated relative
 * path of at most STORE_KEY_MAX bytes, no control characters, every segment non-empty, not "." or
 * "..", and not shaped like a temporary name (such a key could be written but never listed). When
 * is_last_partial, the text after the last '/' is only the start of a name (a list prefix) and may
 * be anything, even empty. */
bool store_key_is_valid(const char *s, bool is_last_partial);
/* Temporary names of writers: ".<name>.tmp-XXXXXX". */
bool store_is_tmp_name(const char *name, size_t len);
/* Sets err (ERR_IO) to "invalid WHAT 'KEY'", the key quoted with control characters replaced (so
 * the message is safe to log) and cut at 256 bytes. Returns -1. */
int store_invalid_key(struct error *err, const char *what, const char *key);

#endif
