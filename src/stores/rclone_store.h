/* type = rclone: a remote from rclone.conf. A remote whose section is type = s3 is served by the
 * native S3 client with that section's provider, endpoint, region and keys; any other remote type
 * (or an encrypted rclone.conf) goes through the rclone binary (rcat, cat, lsjson, moveto,
 * deletefile, purge) behind the same store interface. */
#ifndef PERMAFROST_STORES_RCLONE_STORE_H
#define PERMAFROST_STORES_RCLONE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "stores/rclone_conf.h"
#include "stores/store.h"
#include "util/secret.h"

/* Cap on the output of one `rclone lsjson` (about 150 bytes a file: some 400,000 files). */
#define RCLONE_STORE_LIST_MAX_BYTES (64u << 20)

/* Opens the store for opts->remote ("NAME:path"). *out: store_free. ERR_CONFIG when the remote is
 * not in rclone.conf or its s3 section lacks what the native client needs. */
int rclone_store_open(const struct store_options *opts, struct store **out, struct error *err);

/* The native S3 client's options for an rclone remote of type s3. opts borrows the strings and
 * secrets below, so it is valid until rclone_store_s3_options_release. */
struct rclone_s3_options {
    struct store_options opts;
    char *endpoint; /* "https://..." (rclone allows a bare host name) */
    char *region;
    char *bucket;
    char *prefix;
    struct secret access_key;
    struct secret secret_key;
    struct secret session_token;
};

/* Maps section (type = s3) and remote_path ("bucket/prefix", from "NAME:bucket/prefix") onto
 * out->opts, starting from a copy of base (name, ca_file, timeouts, ...: everything that is not
 * rclone's). remote names the remote in messages. Follows rclone's defaults: path style unless the
 * provider is one rclone addresses virtual-hosted (AWS, DigitalOcean, Wasabi, ...), "https://" for
 * an endpoint without a scheme, keys from the section or, with env_auth = true and no keys, from
 * the AWS_* variables. ERR_CONFIG (with a hint) for a missing bucket, half a key pair, no keys
 * without env_auth, or an option the native client cannot honour (v2_auth, server-side encryption
 * with customer keys or KMS, the accelerate endpoint); messages never contain key material. out is
 * released with rclone_store_s3_options_release, also after a failure. */
int rclone_store_s3_options_init(const struct rclone_conf_section *section, const char *remote,
                                 const char *remote_path, const struct store_options *base,
                                 struct rclone_s3_options *out, struct error *err);
void rclone_store_s3_options_release(struct rclone_s3_options *o);

/* Decides how opts->remote is served: *is_s3 true with *s3 filled (the native client's options)
 * for a remote of type s3 in a readable rclone.conf; false for any other remote (or an encrypted
 * config), which only the rclone binary can serve. *s3 is released with
 * rclone_store_s3_options_release in every case. */
int rclone_store_resolve(const struct store_options *opts, struct rclone_s3_options *s3,
                         bool *is_s3, struct error *err);

/* One file of an `rclone lsjson` listing. */
struct rclone_lsjson_entry {
    char *path; /* relative to the listed directory */
    uint64_t size_bytes;
    time_t mtime;
    bool is_dir;
};

/* Parses the output of `rclone lsjson` (an array of objects) or `rclone lsjson --stat` (one
 * object). Only Path, Size, ModTime and IsDir are read; other members (Name, MimeType, Hashes,
 * ...) are skipped whatever their type. An entry whose Path is empty or holds a NUL or control
 * character is left out (no key of ours has one). ERR_REMOTE "lsjson output: ..." on an object
 * without Path and on anything else that is not such JSON.
 * *entries (count *count) is freed with rclone_lsjson_free, and is NULL when the array is empty.
 * Pure; fuzzed with the rclone_conf target. */
int rclone_lsjson_parse(const char *text, size_t len, struct rclone_lsjson_entry **entries,
                        size_t *count, struct error *err);
void rclone_lsjson_free(struct rclone_lsjson_entry *entries, size_t count);

#endif
