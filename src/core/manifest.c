/* The manifest's JSON form, written with util/json_writer and read with jansson (the only file that
 * includes jansson.h). Layout of format_version 1:
 *
 * {
 *   "format_version": 1,
 *   "job": "db",
 *   "kind": "postgres",
 *   "snapshot_id": "20261124T031500Z-k3f9",
 *   "started_at": "2026-11-24T03:15:00Z",
 *   "ended_at": "2026-11-24T03:17:42Z",
 *   "host": "mastodon-1",                      optional
 *   "permafrost_version": "0.1.0",             optional
 *   "artifacts": [                             at least one
 *     {
 *       "name": "mastodon_production.dump.zst",
 *       "content": "pg_dump-custom",
 *       "compression": "zstd",
 *       "compression_level": 3,
 *       "size_bytes": 1048576,                 stored bytes
 *       "raw_bytes": 4194304,                  before compression
 *       "sha256": "<64 lowercase hex digits of the stored bytes>",
 *       "encryption": "age"                    optional: the stored bytes are an age file
 *     }
 *   ],
 *   "encryption": {                            optional: present when any artifact is encrypted
 *     "format": "age",
 *     "recipients": ["age1..."],               the X25519 recipients, or
 *     "passphrase": true                       a scrypt passphrase (never the passphrase itself)
 *   },
 *   "postgres": {                              optional, as is each member
 *     "database": "mastodon_production",
 *     "server_version": "15.18",
 *     "server_version_num": 150018,
 *     "pg_dump_version": "15.18",
 *     "database_size_bytes": 123456789,
 *     "encoding": "UTF8",
 *     "collate": "C.UTF-8",
 *     "ctype": "C.UTF-8",
 *     "schema_migrations_head": "20240808124338",
 *     "row_counts": "exact",
 *     "tables": [
 *       {"schema": "public", "name": "statuses", "rows": 1234, "exact": true}
 *     ]
 *   },
 *   "redis": {                                 optional, as is each member (kind redis)
 *     "server": "redis",                       or "valkey"
 *     "version": "7.0.15",
 *     "method": "sync",                        or "logical"
 *     "transfer": "diskless",                  "disk", "diskless" or "logical"
 *     "fallback_reason": "...",                why auto used logical; absent otherwise
 *     "rdb_version": 10,
 *     "used_memory": 1142947840,
 *     "keyspace": [{"db": 0, "keys": 122000, "expires": 100000}],   INFO keyspace
 *     "keys": [{"db": 0, "keys": 122000, "expires": 100000}]        counted in the artifact
 *   }
 * }
 *
 * The writer leaves out what is not known (NULL strings, a server_version_num of 0, a negative
 * database_size_bytes, and the whole "postgres" object when it would be empty); the reader takes a
 * missing member or a null as "not known". Times are RFC 3339 UTC with a Z and no fraction. Numbers
 * are JSON integers: sizes go up to 2^63 - 1 exactly (jansson reads them as long long), far above
 * any real dump. Unknown members are ignored, so a newer permafrost may add members without raising
 * format_version; it raises format_version only for a change an older reader would misread.
 * Duplicate keys are refused: a reader must not have to guess which of two sha256 values counts. */
#include "core/manifest.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* util/json_writer.h and jansson both declare json_string() and json_null(). This file reads with
 * jansson but never calls those two constructors, so jansson's are renamed out of the way while its
 * header is read; the json_string/json_null below are json_writer's. */
#define json_string jansson_string_unused
#define json_null   jansson_null_unused
#include <jansson.h>
#undef json_string
#undef json_null

#include "core/snapshot_id.h"
#include "util/json_writer.h"
#include "util/time.h"
#include "util/xalloc.h"

/* Long enough for "postgres.tables[18446744073709551615].schema". */
#define MANIFEST_PATH_LEN 80

static int manifest_field_error(struct error *err, const char *path, const char *fmt, ...)
    PRINTF(3, 4);

/* Sets ERR_INTEGRITY "manifest: field 'path': <what is wrong>". */
static int manifest_field_error(struct error *err, const char *path, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return error_set(err, ERR_INTEGRITY, "manifest: field '%s': %s", path, what);
}

static void manifest_path(char out[MANIFEST_PATH_LEN], const char *parent, const char *key)
{
    if (parent)
        buf_format_fixed(out, MANIFEST_PATH_LEN, "%s.%s", parent, key);
    else
        buf_format_fixed(out, MANIFEST_PATH_LEN, "%s", key);
}

static void manifest_free_artifact(struct manifest_artifact *a)
{
    xfree(a->name);
    xfree(a->content);
    xfree(a->compression);
    xfree(a->encryption);
    memset(a, 0, sizeof(*a));
}

static void manifest_free_table(struct manifest_table *t)
{
    xfree(t->schema);
    xfree(t->name);
    memset(t, 0, sizeof(*t));
}

void manifest_release(struct manifest *m)
{
    xfree(m->job);
    xfree(m->kind);
    xfree(m->snapshot_id);
    xfree(m->host);
    xfree(m->permafrost_version);
    for (size_t i = 0; i < m->artifact_count; i++)
        manifest_free_artifact(&m->artifacts[i]);
    xfree(m->artifacts);
    for (size_t i = 0; i < m->recipient_count; i++)
        xfree(m->recipients[i]);
    xfree(m->recipients);
    xfree(m->pg_database);
    xfree(m->pg_server_version);
    xfree(m->pg_dump_version);
    xfree(m->pg_encoding);
    xfree(m->pg_collate);
    xfree(m->pg_ctype);
    xfree(m->pg_schema_migrations_head);
    xfree(m->row_counts);
    for (size_t i = 0; i < m->table_count; i++)
        manifest_free_table(&m->tables[i]);
    xfree(m->tables);
    xfree(m->redis_server);
    xfree(m->redis_version);
    xfree(m->redis_method);
    xfree(m->redis_transfer);
    xfree(m->redis_fallback_reason);
    xfree(m->redis_keyspace);
    xfree(m->redis_keys);
    memset(m, 0, sizeof(*m));
}

static char *manifest_strdup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void manifest_add_artifact(struct manifest *m, const struct manifest_artifact *a)
{
    struct manifest_artifact *dst;

    m->artifacts = xreallocarray(m->artifacts, m->artifact_count + 1, sizeof(*m->artifacts));
    dst = &m->artifacts[m->artifact_count++];
    *dst = *a;
    dst->name = manifest_strdup_or_null(a->name);
    dst->content = manifest_strdup_or_null(a->content);
    dst->compression = manifest_strdup_or_null(a->compression);
    dst->encryption = manifest_strdup_or_null(a->encryption);
    dst->sha256[sizeof(dst->sha256) - 1] = '\0';
}

void manifest_add_table(struct manifest *m, const char *schema, const char *name, int64_t rows,
                        bool is_exact)
{
    struct manifest_table *dst;

    m->tables = xreallocarray(m->tables, m->table_count + 1, sizeof(*m->tables));
    dst = &m->tables[m->table_count++];
    dst->schema = manifest_strdup_or_null(schema);
    dst->name = manifest_strdup_or_null(name);
    dst->rows = rows;
    dst->is_exact = is_exact;
}

uint64_t manifest_stored_bytes(const struct manifest *m)
{
    uint64_t total = 0;

    for (size_t i = 0; i < m->artifact_count; i++)
        total = m->artifacts[i].size_bytes > UINT64_MAX - total
                    ? UINT64_MAX
                    : total + m->artifacts[i].size_bytes;
    return total;
}

uint64_t manifest_raw_bytes(const struct manifest *m)
{
    uint64_t total = 0;

    for (size_t i = 0; i < m->artifact_count; i++)
        total = m->artifacts[i].raw_bytes > UINT64_MAX - total ? UINT64_MAX
                                                               : total + m->artifacts[i].raw_bytes;
    return total;
}

const char *manifest_json_library_version(void)
{
    /* The library actually loaded, which may be newer than the headers we were built with. */
    return jansson_version_str();
}

/* ---- writing ---- */

static void manifest_key_optional_string(struct json_writer *w, const char *key, const char *s)
{
    if (s)
        json_key_string(w, key, s);
}

static void manifest_key_time(struct json_writer *w, const char *key, time_t t)
{
    char iso[TIME_ISO_LEN];

    time_format_iso(t, iso);
    json_key_string(w, key, iso);
}

static bool manifest_has_postgres(const struct manifest *m)
{
    return m->pg_database || m->pg_server_version || m->pg_server_version_num > 0 ||
           m->pg_dump_version || m->pg_database_size_bytes >= 0 || m->pg_encoding ||
           m->pg_collate || m->pg_ctype || m->pg_schema_migrations_head || m->row_counts ||
           m->table_count > 0;
}

static void manifest_write_postgres(struct json_writer *w, const struct manifest *m)
{
    json_key(w, "postgres");
    json_begin_object(w);
    manifest_key_optional_string(w, "database", m->pg_database);
    manifest_key_optional_string(w, "server_version", m->pg_server_version);
    if (m->pg_server_version_num > 0)
        json_key_int(w, "server_version_num", m->pg_server_version_num);
    manifest_key_optional_string(w, "pg_dump_version", m->pg_dump_version);
    if (m->pg_database_size_bytes >= 0)
        json_key_int(w, "database_size_bytes", m->pg_database_size_bytes);
    manifest_key_optional_string(w, "encoding", m->pg_encoding);
    manifest_key_optional_string(w, "collate", m->pg_collate);
    manifest_key_optional_string(w, "ctype", m->pg_ctype);
    manifest_key_optional_string(w, "schema_migrations_head", m->pg_schema_migrations_head);
    manifest_key_optional_string(w, "row_counts", m->row_counts);
    if (m->table_count > 0) {
        json_key(w, "tables");
        json_begin_array(w);
        for (size_t i = 0; i < m->table_count; i++) {
            const struct manifest_table *t = &m->tables[i];

            json_begin_object(w);
            json_key_string(w, "schema", t->schema);
            json_key_string(w, "name", t->name);
            json_key_int(w, "rows", t->rows);
            json_key_bool(w, "exact", t->is_exact);
            json_end_object(w);
        }
        json_end_array(w);
    }
    json_end_object(w);
}

void manifest_add_redis_db(struct manifest_redis_db **list, size_t *count, int db, int64_t keys,
                           int64_t expires)
{
    *list = xreallocarray(*list, *count + 1, sizeof(**list));
    (*list)[*count].db = db;
    (*list)[*count].keys = keys;
    (*list)[*count].expires = expires;
    (*count)++;
}

int64_t manifest_redis_total(const struct manifest_redis_db *list, size_t count)
{
    int64_t total = 0;

    for (size_t i = 0; i < count; i++)
        total += list[i].keys;
    return total;
}

static void manifest_write_redis_dbs(struct json_writer *w, const char *key,
                                     const struct manifest_redis_db *list, size_t count)
{
    json_key(w, key);
    json_begin_array(w);
    for (size_t i = 0; i < count; i++) {
        json_begin_object(w);
        json_key_int(w, "db", list[i].db);
        json_key_int(w, "keys", list[i].keys);
        if (list[i].expires >= 0)
            json_key_int(w, "expires", list[i].expires);
        json_end_object(w);
    }
    json_end_array(w);
}

static bool manifest_has_redis(const struct manifest *m)
{
    return m->redis_server || m->redis_version || m->redis_method || m->redis_transfer ||
           m->redis_rdb_version > 0 || m->redis_keyspace || m->redis_keys;
}

static void manifest_write_redis(struct json_writer *w, const struct manifest *m)
{
    json_key(w, "redis");
    json_begin_object(w);
    manifest_key_optional_string(w, "server", m->redis_server);
    manifest_key_optional_string(w, "version", m->redis_version);
    manifest_key_optional_string(w, "method", m->redis_method);
    manifest_key_optional_string(w, "transfer", m->redis_transfer);
    manifest_key_optional_string(w, "fallback_reason", m->redis_fallback_reason);
    if (m->redis_rdb_version > 0)
        json_key_int(w, "rdb_version", m->redis_rdb_version);
    if (m->redis_used_memory >= 0)
        json_key_int(w, "used_memory", m->redis_used_memory);
    if (m->redis_keyspace)
        manifest_write_redis_dbs(w, "keyspace", m->redis_keyspace, m->redis_keyspace_count);
    if (m->redis_keys)
        manifest_write_redis_dbs(w, "keys", m->redis_keys, m->redis_keys_count);
    json_end_object(w);
}

void manifest_to_json(const struct manifest *m, struct buf *out)
{
    struct json_writer w;

    json_writer_init(&w, out);
    w.indent = 2;
    json_begin_object(&w);
    /* Always the version of the layout written here, whatever the struct came from. */
    json_key_int(&w, "format_version", MANIFEST_FORMAT_VERSION);
    json_key_string(&w, "job", m->job);
    json_key_string(&w, "kind", m->kind);
    json_key_string(&w, "snapshot_id", m->snapshot_id);
    manifest_key_time(&w, "started_at", m->started_at);
    manifest_key_time(&w, "ended_at", m->ended_at);
    manifest_key_optional_string(&w, "host", m->host);
    manifest_key_optional_string(&w, "permafrost_version", m->permafrost_version);
    json_key(&w, "artifacts");
    json_begin_array(&w);
    for (size_t i = 0; i < m->artifact_count; i++) {
        const struct manifest_artifact *a = &m->artifacts[i];

        /* The reader takes integers as long long; no file comes near 8 EiB. */
        ASSERT(a->size_bytes <= INT64_MAX && a->raw_bytes <= INT64_MAX);
        json_begin_object(&w);
        json_key_string(&w, "name", a->name);
        json_key_string(&w, "content", a->content);
        json_key_string(&w, "compression", a->compression);
        json_key_int(&w, "compression_level", a->compression_level);
        json_key_uint(&w, "size_bytes", a->size_bytes);
        json_key_uint(&w, "raw_bytes", a->raw_bytes);
        json_key_string(&w, "sha256", a->sha256);
        manifest_key_optional_string(&w, "encryption", a->encryption);
        json_end_object(&w);
    }
    json_end_array(&w);
    if (m->recipient_count || m->passphrase) {
        json_key(&w, "encryption");
        json_begin_object(&w);
        json_key_string(&w, "format", "age");
        if (m->recipient_count) {
            json_key(&w, "recipients");
            json_begin_array(&w);
            for (size_t i = 0; i < m->recipient_count; i++)
                json_string(&w, m->recipients[i]);
            json_end_array(&w);
        }
        if (m->passphrase)
            json_key_bool(&w, "passphrase", true);
        json_end_object(&w);
    }
    if (manifest_has_postgres(m))
        manifest_write_postgres(&w, m);
    if (manifest_has_redis(m))
        manifest_write_redis(&w, m);
    json_end_object(&w);
    buf_adds(out, "\n");
}

/* ---- reading ---- */

/* Member key of obj, or NULL when it is absent or null (both mean "not known"). */
static json_t *manifest_optional(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return v && !json_is_null(v) ? v : NULL;
}

/* Member key of obj, which must be there and not null. */
static int manifest_required(const json_t *obj, const char *parent, const char *key, json_t **out,
                             struct error *err)
{
    json_t *v = json_object_get(obj, key);
    char path[MANIFEST_PATH_LEN];

    *out = NULL;
    if (!v || json_is_null(v)) {
        manifest_path(path, parent, key);
        return manifest_field_error(err, path, v ? "must not be null" : "missing");
    }
    *out = v;
    return 0;
}

/* Either of the above. */
static int manifest_member(const json_t *obj, const char *parent, const char *key, bool is_required,
                           json_t **out, struct error *err)
{
    if (is_required)
        return manifest_required(obj, parent, key, out, err);
    *out = manifest_optional(obj, key);
    return 0;
}

/* Reads a string member into a new string (NULL when optional and absent); a required one must
 * not be empty. */
static int manifest_get_string(const json_t *obj, const char *parent, const char *key,
                               bool is_required, char **out, struct error *err)
{
    json_t *v;
    char path[MANIFEST_PATH_LEN];

    *out = NULL;
    if (manifest_member(obj, parent, key, is_required, &v, err) < 0)
        return -1;
    if (!v)
        return 0;
    manifest_path(path, parent, key);
    if (!json_is_string(v))
        return manifest_field_error(err, path, "expected a string");
    if (is_required && json_string_length(v) == 0)
        return manifest_field_error(err, path, "must not be empty");
    *out = xstrdup(json_string_value(v));
    return 0;
}

/* Reads an integer member within [min, max]; `absent` is stored when optional and absent. */
static int manifest_get_int(const json_t *obj, const char *parent, const char *key,
                            bool is_required, long long min, long long max, long long absent,
                            long long *out, struct error *err)
{
    json_t *v;
    char path[MANIFEST_PATH_LEN];
    long long n;

    if (manifest_member(obj, parent, key, is_required, &v, err) < 0)
        return -1;
    if (!v) {
        *out = absent;
        return 0;
    }
    manifest_path(path, parent, key);
    if (!json_is_integer(v))
        return manifest_field_error(err, path, "expected an integer");
    n = json_integer_value(v);
    if (n < min || n > max) {
        if (max == LLONG_MAX && min == 0)
            return manifest_field_error(err, path, "expected a non-negative integer, got %lld", n);
        if (max == LLONG_MAX)
            return manifest_field_error(err, path, "expected an integer >= %lld, got %lld", min, n);
        return manifest_field_error(err, path, "expected an integer from %lld to %lld, got %lld",
                                    min, max, n);
    }
    *out = n;
    return 0;
}

/* "DDDD-DD-DDTDD:DD:DDZ": strptime alone takes "202-11-24T..." as the year 202. */
static bool manifest_is_rfc3339_shape(const char *s)
{
    static const char shape[] = "0000-00-00T00:00:00Z";

    if (strlen(s) != sizeof(shape) - 1)
        return false;
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == '0' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return false;
    }
    return true;
}

static int manifest_get_time(const json_t *obj, const char *key, time_t *out, struct error *err)
{
    char *s = NULL;
    char again[TIME_ISO_LEN];
    time_t t = 0;
    bool is_valid = false;
    int rc = -1;

    if (manifest_get_string(obj, NULL, key, true, &s, err) < 0)
        goto out;
    ASSERT(s != NULL); /* required: present or an error */
    /* Formatting back must give the same text: that refuses the compact form, 2026-02-30, blanks
     * and any other spelling strptime lets through. */
    is_valid = manifest_is_rfc3339_shape(s) && time_parse_utc(s, &t);
    if (is_valid) {
        time_format_iso(t, again);
        is_valid = strcmp(again, s) == 0;
    }
    if (!is_valid) {
        manifest_field_error(err, key, "expected an RFC 3339 UTC time like 2026-11-24T03:15:00Z");
        goto out;
    }
    *out = t;
    rc = 0;
out:
    xfree(s);
    return rc;
}

/* A plain file name: what can safely be joined to a directory path and shown in a terminal. Refuses
 * C0 controls, DEL and the C1 controls U+0080..U+009F (UTF-8 C2 80..C2 9F); jansson has already
 * refused invalid UTF-8. */
static bool manifest_is_plain_name(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (!s[0] || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (; *p; p++) {
        if (*p == '/' || *p < 0x20 || *p == 0x7f)
            return false;
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return false;
    }
    return true;
}

static bool manifest_is_sha256_hex(const char *s)
{
    size_t i;

    for (i = 0; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == 64;
}

static int manifest_parse_artifact(const json_t *v, const char *path, struct manifest_artifact *a,
                                   struct error *err)
{
    char *sha = NULL;
    long long n = 0;
    char field[MANIFEST_PATH_LEN];
    int rc = -1;

    if (!json_is_object(v)) {
        manifest_field_error(err, path, "expected an object");
        goto out;
    }
    if (manifest_get_string(v, path, "name", true, &a->name, err) < 0)
        goto out;
    ASSERT(a->name != NULL);
    if (!manifest_is_plain_name(a->name) || strcmp(a->name, "manifest.json") == 0) {
        manifest_path(field, path, "name");
        manifest_field_error(err, field,
                             "expected a plain file name (no '/', '.', '..', control characters "
                             "or 'manifest.json')");
        goto out;
    }
    if (manifest_get_string(v, path, "content", true, &a->content, err) < 0 ||
        manifest_get_string(v, path, "compression", true, &a->compression, err) < 0)
        goto out;
    if (manifest_get_int(v, path, "compression_level", true, INT_MIN, INT_MAX, 0, &n, err) < 0)
        goto out;
    a->compression_level = (int)n;
    if (manifest_get_int(v, path, "size_bytes", true, 0, LLONG_MAX, 0, &n, err) < 0)
        goto out;
    a->size_bytes = (uint64_t)n;
    if (manifest_get_int(v, path, "raw_bytes", true, 0, LLONG_MAX, 0, &n, err) < 0)
        goto out;
    a->raw_bytes = (uint64_t)n;
    if (manifest_get_string(v, path, "sha256", true, &sha, err) < 0)
        goto out;
    ASSERT(sha != NULL);
    if (!manifest_is_sha256_hex(sha)) {
        manifest_path(field, path, "sha256");
        manifest_field_error(err, field, "expected 64 hex characters");
        goto out;
    }
    memcpy(a->sha256, sha, sizeof(a->sha256));
    if (manifest_get_string(v, path, "encryption", false, &a->encryption, err) < 0)
        goto out;
    /* An encryption this reader does not know must not be read as plain zstd. */
    if (a->encryption && strcmp(a->encryption, "age") != 0) {
        manifest_path(field, path, "encryption");
        manifest_field_error(err, field,
                             "unknown encryption (expected \"age\"); upgrade permafrost");
        goto out;
    }
    rc = 0;
out:
    xfree(sha);
    return rc;
}

struct manifest_name_ref {
    const char *name;
    size_t index;
};

static int manifest_name_ref_cmp(const void *pa, const void *pb)
{
    const struct manifest_name_ref *a = pa;
    const struct manifest_name_ref *b = pb;
    int c = strcmp(a->name, b->name);

    if (c != 0)
        return c;
    return a->index < b->index ? -1 : (a->index > b->index);
}

/* Two artifacts with one name would be one file in the snapshot directory. Sorted, so that a
 * hostile manifest with many artifacts costs n log n, not n^2. */
static int manifest_check_unique_names(const struct manifest *m, struct error *err)
{
    struct manifest_name_ref *refs = NULL;
    char path[MANIFEST_PATH_LEN];
    int rc = -1;

    refs = xcalloc(m->artifact_count, sizeof(*refs));
    for (size_t i = 0; i < m->artifact_count; i++) {
        refs[i].name = m->artifacts[i].name;
        refs[i].index = i;
    }
    qsort(refs, m->artifact_count, sizeof(*refs), manifest_name_ref_cmp);
    for (size_t i = 1; i < m->artifact_count; i++) {
        if (strcmp(refs[i - 1].name, refs[i].name) == 0) {
            (void)snprintf(path, sizeof(path), "artifacts[%zu].name", refs[i].index);
            manifest_field_error(err, path, "duplicate name '%s'", refs[i].name);
            goto out;
        }
    }
    rc = 0;
out:
    xfree(refs);
    return rc;
}

static int manifest_parse_artifacts(const json_t *root, struct manifest *m, struct error *err)
{
    json_t *list;
    char path[MANIFEST_PATH_LEN];

    if (manifest_required(root, NULL, "artifacts", &list, err) < 0)
        return -1;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return manifest_field_error(err, "artifacts", "expected a non-empty array");
    for (size_t i = 0; i < json_array_size(list); i++) {
        struct manifest_artifact a;

        memset(&a, 0, sizeof(a));
        (void)snprintf(path, sizeof(path), "artifacts[%zu]", i);
        if (manifest_parse_artifact(json_array_get(list, i), path, &a, err) < 0) {
            manifest_free_artifact(&a);
            return -1;
        }
        /* Moves a's strings into m: no copy, so nothing to free here. */
        m->artifacts = xreallocarray(m->artifacts, m->artifact_count + 1, sizeof(*m->artifacts));
        m->artifacts[m->artifact_count++] = a;
    }
    return manifest_check_unique_names(m, err);
}

static int manifest_parse_table(const json_t *v, const char *path, struct manifest_table *t,
                                struct error *err)
{
    json_t *exact;
    long long rows = 0;
    char field[MANIFEST_PATH_LEN];

    if (!json_is_object(v))
        return manifest_field_error(err, path, "expected an object");
    if (manifest_get_string(v, path, "schema", true, &t->schema, err) < 0 ||
        manifest_get_string(v, path, "name", true, &t->name, err) < 0)
        return -1;
    if (manifest_get_int(v, path, "rows", true, -1, LLONG_MAX, 0, &rows, err) < 0)
        return -1;
    t->rows = rows;
    if (manifest_required(v, path, "exact", &exact, err) < 0)
        return -1;
    if (!json_is_boolean(exact)) {
        manifest_path(field, path, "exact");
        return manifest_field_error(err, field, "expected true or false");
    }
    t->is_exact = json_is_true(exact);
    return 0;
}

static int manifest_parse_postgres(const json_t *root, struct manifest *m, struct error *err)
{
    static const char pg[] = "postgres";
    json_t *obj;
    json_t *tables;
    long long n = 0;
    char path[MANIFEST_PATH_LEN];

    m->pg_database_size_bytes = -1;
    obj = manifest_optional(root, pg);
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return manifest_field_error(err, pg, "expected an object");
    if (manifest_get_string(obj, pg, "database", false, &m->pg_database, err) < 0 ||
        manifest_get_string(obj, pg, "server_version", false, &m->pg_server_version, err) < 0 ||
        manifest_get_string(obj, pg, "pg_dump_version", false, &m->pg_dump_version, err) < 0 ||
        manifest_get_string(obj, pg, "encoding", false, &m->pg_encoding, err) < 0 ||
        manifest_get_string(obj, pg, "collate", false, &m->pg_collate, err) < 0 ||
        manifest_get_string(obj, pg, "ctype", false, &m->pg_ctype, err) < 0 ||
        manifest_get_string(obj, pg, "schema_migrations_head", false, &m->pg_schema_migrations_head,
                            err) < 0 ||
        manifest_get_string(obj, pg, "row_counts", false, &m->row_counts, err) < 0)
        return -1;
    if (manifest_get_int(obj, pg, "server_version_num", false, 0, INT_MAX, 0, &n, err) < 0)
        return -1;
    m->pg_server_version_num = (int)n;
    if (manifest_get_int(obj, pg, "database_size_bytes", false, 0, LLONG_MAX, -1, &n, err) < 0)
        return -1;
    m->pg_database_size_bytes = n;

    tables = manifest_optional(obj, "tables");
    if (!tables)
        return 0;
    if (!json_is_array(tables))
        return manifest_field_error(err, "postgres.tables", "expected an array");
    for (size_t i = 0; i < json_array_size(tables); i++) {
        struct manifest_table t;

        memset(&t, 0, sizeof(t));
        (void)snprintf(path, sizeof(path), "postgres.tables[%zu]", i);
        if (manifest_parse_table(json_array_get(tables, i), path, &t, err) < 0) {
            manifest_free_table(&t);
            return -1;
        }
        m->tables = xreallocarray(m->tables, m->table_count + 1, sizeof(*m->tables));
        m->tables[m->table_count++] = t;
    }
    return 0;
}

static int manifest_parse_redis_dbs(const json_t *obj, const char *key,
                                    struct manifest_redis_db **list, size_t *count,
                                    struct error *err)
{
    json_t *arr = manifest_optional(obj, key);
    char path[MANIFEST_PATH_LEN];

    if (!arr)
        return 0;
    if (!json_is_array(arr)) {
        (void)snprintf(path, sizeof(path), "redis.%s", key);
        return manifest_field_error(err, path, "expected an array");
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        long long db = 0;
        long long keys = 0;
        long long expires = -1;

        (void)snprintf(path, sizeof(path), "redis.%s[%zu]", key, i);
        if (!json_is_object(v))
            return manifest_field_error(err, path, "expected an object");
        if (manifest_get_int(v, path, "db", true, 0, INT_MAX, 0, &db, err) < 0 ||
            manifest_get_int(v, path, "keys", true, 0, LLONG_MAX, 0, &keys, err) < 0 ||
            manifest_get_int(v, path, "expires", false, 0, LLONG_MAX, -1, &expires, err) < 0)
            return -1;
        manifest_add_redis_db(list, count, (int)db, keys, expires);
    }
    if (*list == NULL)
        *list = xcalloc(1, sizeof(**list)); /* present but empty: an empty server */
    return 0;
}

static int manifest_parse_redis(const json_t *root, struct manifest *m, struct error *err)
{
    static const char rd[] = "redis";
    json_t *obj;
    long long n = 0;

    m->redis_used_memory = -1;
    obj = manifest_optional(root, rd);
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return manifest_field_error(err, rd, "expected an object");
    if (manifest_get_string(obj, rd, "server", false, &m->redis_server, err) < 0 ||
        manifest_get_string(obj, rd, "version", false, &m->redis_version, err) < 0 ||
        manifest_get_string(obj, rd, "method", false, &m->redis_method, err) < 0 ||
        manifest_get_string(obj, rd, "transfer", false, &m->redis_transfer, err) < 0 ||
        manifest_get_string(obj, rd, "fallback_reason", false, &m->redis_fallback_reason, err) < 0)
        return -1;
    if (manifest_get_int(obj, rd, "rdb_version", false, 1, 65535, 0, &n, err) < 0)
        return -1;
    m->redis_rdb_version = (int)n;
    if (manifest_get_int(obj, rd, "used_memory", false, 0, LLONG_MAX, -1, &n, err) < 0)
        return -1;
    m->redis_used_memory = n;
    if (manifest_parse_redis_dbs(obj, "keyspace", &m->redis_keyspace, &m->redis_keyspace_count,
                                 err) < 0 ||
        manifest_parse_redis_dbs(obj, "keys", &m->redis_keys, &m->redis_keys_count, err) < 0)
        return -1;
    return 0;
}

static int manifest_parse_encryption(const json_t *root, struct manifest *m, struct error *err)
{
    static const char en[] = "encryption";
    json_t *obj = manifest_optional(root, en);
    json_t *list;
    json_t *pp;
    char path[MANIFEST_PATH_LEN];

    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return manifest_field_error(err, en, "expected an object");
    list = manifest_optional(obj, "recipients");
    if (list) {
        if (!json_is_array(list))
            return manifest_field_error(err, "encryption.recipients", "expected an array");
        m->recipients = xcalloc(json_array_size(list) + 1, sizeof(*m->recipients));
        for (size_t i = 0; i < json_array_size(list); i++) {
            const json_t *v = json_array_get(list, i);
            (void)snprintf(path, sizeof(path), "encryption.recipients[%zu]", i);
            if (!json_is_string(v) || strncmp(json_string_value(v), "age1", 4) != 0)
                return manifest_field_error(err, path, "expected an age recipient (age1...)");
            m->recipients[m->recipient_count++] = xstrdup(json_string_value(v));
        }
    }
    pp = manifest_optional(obj, "passphrase");
    if (pp) {
        if (!json_is_boolean(pp))
            return manifest_field_error(err, "encryption.passphrase", "expected true or false");
        m->passphrase = json_is_true(pp);
    }
    return 0;
}

static int manifest_parse_root(const json_t *root, struct manifest *m, struct error *err)
{
    long long version = 0;

    if (!json_is_object(root))
        return error_set(err, ERR_INTEGRITY, "manifest: expected a JSON object");
    /* First, so that a newer layout is refused as such rather than for some field it changed. */
    if (manifest_get_int(root, NULL, "format_version", true, 1, INT_MAX, 0, &version, err) < 0)
        return -1;
    if (version > MANIFEST_FORMAT_VERSION)
        return error_set(err, ERR_INTEGRITY,
                         "manifest format version %lld is newer than this permafrost understands "
                         "(%d); upgrade permafrost",
                         version, MANIFEST_FORMAT_VERSION);
    m->format_version = (int)version;

    if (manifest_get_string(root, NULL, "job", true, &m->job, err) < 0)
        return -1;
    ASSERT(m->job != NULL);
    /* The job names a directory in the store. */
    if (!manifest_is_plain_name(m->job))
        return manifest_field_error(
            err, "job", "expected a job name (no '/', '.', '..' or control characters)");
    if (manifest_get_string(root, NULL, "kind", true, &m->kind, err) < 0 ||
        manifest_get_string(root, NULL, "snapshot_id", true, &m->snapshot_id, err) < 0)
        return -1;
    if (!snapshot_id_parse(m->snapshot_id, NULL))
        return manifest_field_error(err, "snapshot_id",
                                    "expected a snapshot id like 20261124T031500Z-k3f9");
    if (manifest_get_time(root, "started_at", &m->started_at, err) < 0 ||
        manifest_get_time(root, "ended_at", &m->ended_at, err) < 0)
        return -1;
    if (manifest_get_string(root, NULL, "host", false, &m->host, err) < 0 ||
        manifest_get_string(root, NULL, "permafrost_version", false, &m->permafrost_version, err) <
            0)
        return -1;
    if (manifest_parse_artifacts(root, m, err) < 0 || manifest_parse_encryption(root, m, err) < 0 ||
        manifest_parse_postgres(root, m, err) < 0)
        return -1;
    return manifest_parse_redis(root, m, err);
}

int manifest_from_json(const char *text, size_t len, struct manifest *m, struct error *err)
{
    struct manifest tmp;
    json_t *root = NULL;
    json_error_t jerr;
    int rc = -1;

    memset(&tmp, 0, sizeof(tmp));
    if (len > (size_t)MANIFEST_MAX_BYTES) {
        error_set(err, ERR_INTEGRITY, "manifest: %zu bytes is over the limit of %zu bytes", len,
                  MANIFEST_MAX_BYTES);
        goto out;
    }
    root = json_loadb(text ? text : "", text ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson quotes the input near the error; keep control bytes out of our logs. */
        for (char *p = jerr.text; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
        error_set(err, ERR_INTEGRITY, "manifest: invalid JSON at line %d column %d: %s", jerr.line,
                  jerr.column, jerr.text);
        goto out;
    }
    if (manifest_parse_root(root, &tmp, err) < 0)
        goto out;
    *m = tmp;
    memset(&tmp, 0, sizeof(tmp));
    rc = 0;
out:
    manifest_release(&tmp);
    json_decref(root);
    return rc;
}
