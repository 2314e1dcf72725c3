/* The manifest: JSON beside the artifacts of a snapshot, written last (the commit point). It
 * records what is needed to check and restore the snapshot without Permafrost's catalog. Never
 * holds a secret. */
#ifndef PERMAFROST_CORE_MANIFEST_H
#define PERMAFROST_CORE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"
#include "util/error.h"

#define MANIFEST_FORMAT_VERSION 1
#define MANIFEST_MAX_BYTES      ((size_t)16 * 1024 * 1024) /* cap when reading one from a store */

struct manifest_artifact {
    char *name;        /* file name in the snapshot directory: "mastodon_production.dump.zst" */
    char *content;     /* "pg_dump-custom", "sql" (globals) */
    char *compression; /* "zstd" */
    int compression_level;
    uint64_t size_bytes; /* stored bytes */
    uint64_t raw_bytes;  /* bytes before compression */
    char sha256[65];     /* of the stored bytes, lowercase hex */
    char *encryption;    /* "age" when the stored bytes are an age file (zstd inside); NULL */
};

struct manifest_table {
    char *schema;
    char *name;
    int64_t rows;  /* -1 when not counted */
    bool is_exact; /* count(*) in the dump's snapshot, or pg_class.reltuples estimate */
};

struct manifest_redis_db {
    int db;
    int64_t keys;
    int64_t expires; /* keys with a TTL; -1 when not known */
};

struct manifest {
    int format_version;
    char *job;
    char *kind; /* "postgres" */
    char *snapshot_id;
    time_t started_at;
    time_t ended_at;
    char *host; /* machine that took it */
    char *permafrost_version;

    struct manifest_artifact *artifacts;
    size_t artifact_count;

    /* encryption: the age recipients ("age1...") the artifacts were encrypted to, or passphrase
     * true for a scrypt passphrase (never the passphrase itself); none when not encrypted */
    char **recipients;
    size_t recipient_count;
    bool passphrase;

    /* postgres facts (NULL / 0 / -1 when not known) */
    char *pg_database;
    char *pg_server_version;   /* "15.18" */
    int pg_server_version_num; /* 150018 */
    char *pg_dump_version;     /* "15.18" */
    int64_t pg_database_size_bytes;
    char *pg_encoding;
    char *pg_collate;
    char *pg_ctype;
    char *pg_schema_migrations_head; /* Mastodon: max(version) of schema_migrations */
    char *row_counts;                /* "exact", "estimate", "off" */
    struct manifest_table *tables;
    size_t table_count;

    /* redis facts (NULL / 0 / -1 when not known) */
    char *redis_server;          /* "redis" or "valkey" */
    char *redis_version;         /* "7.0.15" (valkey_version for Valkey) */
    char *redis_method;          /* "sync" or "logical" */
    char *redis_transfer;        /* "disk", "diskless" or "logical" */
    char *redis_fallback_reason; /* why auto fell back to logical; NULL when it did not */
    int redis_rdb_version;       /* RDB version of the artifact (or of the DUMP payloads) */
    int64_t redis_used_memory;   /* INFO memory used_memory */
    struct manifest_redis_db *redis_keyspace; /* INFO keyspace when the snapshot began */
    size_t redis_keyspace_count;
    struct manifest_redis_db *redis_keys; /* keys in the artifact itself, per database */
    size_t redis_keys_count;
};

/* Serialises m as pretty-printed JSON into out. */
void manifest_to_json(const struct manifest *m, struct buf *out);
/* Parses JSON (at most MANIFEST_MAX_BYTES). On success fills *m (release with manifest_release); on
 * any malformed, missing or out-of-range field returns -1 with ERR_INTEGRITY naming the field.
 * Unknown fields are ignored (forward compatibility); a format_version above ours is refused. */
int manifest_from_json(const char *text, size_t len, struct manifest *m, struct error *err);
/* Frees everything; safe on a zeroed struct. */
void manifest_release(struct manifest *m);
/* Totals over the artifacts. */
uint64_t manifest_stored_bytes(const struct manifest *m);
uint64_t manifest_raw_bytes(const struct manifest *m);
/* Appends a copy of a (name etc. duplicated) to m's artifact list; a table likewise. */
void manifest_add_artifact(struct manifest *m, const struct manifest_artifact *a);
void manifest_add_table(struct manifest *m, const char *schema, const char *name, int64_t rows,
                        bool is_exact);

void manifest_add_redis_db(struct manifest_redis_db **list, size_t *count, int db, int64_t keys,
                           int64_t expires);
/* Total keys over a list. */
int64_t manifest_redis_total(const struct manifest_redis_db *list, size_t count);

/* The version of the JSON library that parses manifests, for `permafrost version`. */
const char *manifest_json_library_version(void);

#endif
