#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/manifest.h"
#include "unit.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define SHA_TEST "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

/* Hand-written, not the writer's output: the reader must not depend on the writer's spacing. */
static const char base_json[] =
    "{\"format_version\": 1, \"job\": \"db\", \"kind\": \"postgres\","
    " \"snapshot_id\": \"20261124T031500Z-k3f9\", \"started_at\": \"2026-11-24T03:15:00Z\","
    " \"ended_at\": \"2026-11-24T03:17:42Z\", \"host\": \"mastodon-1\","
    " \"permafrost_version\": \"0.1.0\","
    " \"artifacts\": [{\"name\": \"mastodon_production.dump.zst\", \"content\": \"pg_dump-custom\","
    " \"compression\": \"zstd\", \"compression_level\": 3, \"size_bytes\": 1048576,"
    " \"raw_bytes\": 4194304, \"sha256\": \"" SHA_TEST "\"}],"
    " \"postgres\": {\"database\": \"mastodon_production\", \"server_version\": \"15.18\","
    " \"server_version_num\": 150018, \"pg_dump_version\": \"15.18\","
    " \"database_size_bytes\": 123456789, \"encoding\": \"UTF8\", \"collate\": \"C.UTF-8\","
    " \"ctype\": \"C.UTF-8\", \"schema_migrations_head\": \"20240808124338\","
    " \"row_counts\": \"exact\","
    " \"tables\": [{\"schema\": \"public\", \"name\": \"statuses\", \"rows\": 1234,"
    " \"exact\": true}]}}";

/* Adds an artifact through manifest_add_artifact (which copies the strings). */
static void add_artifact(struct manifest *m, const char *name, const char *content,
                         const char *compression, int level, uint64_t size_bytes,
                         uint64_t raw_bytes, const char *sha256)
{
    struct manifest_artifact a;

    memset(&a, 0, sizeof(a));
    a.name = xstrdup(name);
    a.content = xstrdup(content);
    a.compression = xstrdup(compression);
    a.compression_level = level;
    a.size_bytes = size_bytes;
    a.raw_bytes = raw_bytes;
    (void)snprintf(a.sha256, sizeof(a.sha256), "%s", sha256);
    manifest_add_artifact(m, &a);
    xfree(a.name);
    xfree(a.content);
    xfree(a.compression);
}

/* A manifest with every field set, built through the public add functions. */
static void fill_full(struct manifest *m)
{
    memset(m, 0, sizeof(*m));
    m->format_version = MANIFEST_FORMAT_VERSION;
    m->job = xstrdup("db");
    m->kind = xstrdup("postgres");
    m->snapshot_id = xstrdup("20261124T031500Z-k3f9");
    m->started_at = 1795490100; /* 2026-11-24T03:15:00Z */
    m->ended_at = 1795490262;
    m->host = xstrdup("mastodon-1");
    m->permafrost_version = xstrdup("0.1.0");

    add_artifact(m, "mastodon_production.dump.zst", "pg_dump-custom", "zstd", 19, 1048576, 4194304,
                 SHA_TEST);
    /* zstd's fast levels are negative */
    add_artifact(m, "globals.sql.zst", "sql", "zstd", -5, 0, 0,
                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    m->pg_database = xstrdup("mastodon_production");
    m->pg_server_version = xstrdup("15.18");
    m->pg_server_version_num = 150018;
    m->pg_dump_version = xstrdup("16.4");
    m->pg_database_size_bytes = 123456789;
    m->pg_encoding = xstrdup("UTF8");
    m->pg_collate = xstrdup("en_US.UTF-8");
    m->pg_ctype = xstrdup("en_US.UTF-8");
    m->pg_schema_migrations_head = xstrdup("20240808124338");
    m->row_counts = xstrdup("exact");
    manifest_add_table(m, "public", "statuses", 1234, true);
    manifest_add_table(m, "public", "accounts", -1, false);
    manifest_add_table(m, "public", "empty", 0, true);
}

static void check_str_or_null(const char *a, const char *b, const char *what)
{
    if (!a && !b)
        return;
    if (!a || !b || strcmp(a, b) != 0)
        unit_fail(__FILE__, __LINE__, "%s: \"%s\" != \"%s\"", what, a ? a : "(null)",
                  b ? b : "(null)");
}

static void check_manifest_equal(const struct manifest *a, const struct manifest *b)
{
    CHECK_INT_EQ(a->format_version, b->format_version);
    check_str_or_null(a->job, b->job, "job");
    check_str_or_null(a->kind, b->kind, "kind");
    check_str_or_null(a->snapshot_id, b->snapshot_id, "snapshot_id");
    CHECK_INT_EQ(a->started_at, b->started_at);
    CHECK_INT_EQ(a->ended_at, b->ended_at);
    check_str_or_null(a->host, b->host, "host");
    check_str_or_null(a->permafrost_version, b->permafrost_version, "permafrost_version");
    CHECK_INT_EQ(a->artifact_count, b->artifact_count);
    for (size_t i = 0; i < a->artifact_count; i++) {
        const struct manifest_artifact *x = &a->artifacts[i];
        const struct manifest_artifact *y = &b->artifacts[i];

        check_str_or_null(x->name, y->name, "artifact name");
        check_str_or_null(x->content, y->content, "artifact content");
        check_str_or_null(x->compression, y->compression, "artifact compression");
        CHECK_INT_EQ(x->compression_level, y->compression_level);
        CHECK(x->size_bytes == y->size_bytes);
        CHECK(x->raw_bytes == y->raw_bytes);
        CHECK_STR_EQ(x->sha256, y->sha256);
    }
    check_str_or_null(a->pg_database, b->pg_database, "pg_database");
    check_str_or_null(a->pg_server_version, b->pg_server_version, "pg_server_version");
    CHECK_INT_EQ(a->pg_server_version_num, b->pg_server_version_num);
    check_str_or_null(a->pg_dump_version, b->pg_dump_version, "pg_dump_version");
    CHECK(a->pg_database_size_bytes == b->pg_database_size_bytes);
    check_str_or_null(a->pg_encoding, b->pg_encoding, "pg_encoding");
    check_str_or_null(a->pg_collate, b->pg_collate, "pg_collate");
    check_str_or_null(a->pg_ctype, b->pg_ctype, "pg_ctype");
    check_str_or_null(a->pg_schema_migrations_head, b->pg_schema_migrations_head,
                      "pg_schema_migrations_head");
    check_str_or_null(a->row_counts, b->row_counts, "row_counts");
    CHECK_INT_EQ(a->table_count, b->table_count);
    for (size_t i = 0; i < a->table_count; i++) {
        check_str_or_null(a->tables[i].schema, b->tables[i].schema, "table schema");
        check_str_or_null(a->tables[i].name, b->tables[i].name, "table name");
        CHECK(a->tables[i].rows == b->tables[i].rows);
        CHECK_INT_EQ(a->tables[i].is_exact, b->tables[i].is_exact);
    }
}

/* to_json, then from_json into *back (released by the caller). */
static void round_trip(const struct manifest *m, struct manifest *back)
{
    struct buf json;

    buf_init(&json, BUF_NO_CAP);
    manifest_to_json(m, &json);
    memset(back, 0, sizeof(*back));
    if (manifest_from_json(json.data, json.len, back, unit_err()) != 0)
        unit_fail(__FILE__, __LINE__, "%s\n%s", unit_err()->msg, json.data);
    buf_release(&json);
}

static void test_manifest_round_trip_keeps_every_field(void)
{
    struct manifest m;
    struct manifest back;

    fill_full(&m);
    round_trip(&m, &back);
    check_manifest_equal(&m, &back);
    manifest_release(&back);
    manifest_release(&m);
}

static void test_manifest_writes_documented_layout(void)
{
    static const char want[] = "{\n"
                               "  \"format_version\": 1,\n"
                               "  \"job\": \"db\",\n"
                               "  \"kind\": \"postgres\",\n"
                               "  \"snapshot_id\": \"20261124T031500Z-k3f9\",\n"
                               "  \"started_at\": \"2026-11-24T03:15:00Z\",\n"
                               "  \"ended_at\": \"2026-11-24T03:17:42Z\",\n"
                               "  \"artifacts\": [\n"
                               "    {\n"
                               "      \"name\": \"x.dump.zst\",\n"
                               "      \"content\": \"pg_dump-custom\",\n"
                               "      \"compression\": \"zstd\",\n"
                               "      \"compression_level\": 3,\n"
                               "      \"size_bytes\": 10,\n"
                               "      \"raw_bytes\": 20,\n"
                               "      \"sha256\": \"" SHA_TEST "\"\n"
                               "    }\n"
                               "  ],\n"
                               "  \"postgres\": {\n"
                               "    \"database\": \"mastodon_production\",\n"
                               "    \"server_version_num\": 150018,\n"
                               "    \"tables\": [\n"
                               "      {\n"
                               "        \"schema\": \"public\",\n"
                               "        \"name\": \"statuses\",\n"
                               "        \"rows\": 5,\n"
                               "        \"exact\": false\n"
                               "      }\n"
                               "    ]\n"
                               "  }\n"
                               "}\n";
    struct manifest m;
    struct buf json;

    memset(&m, 0, sizeof(m));
    m.format_version = 1;
    m.job = xstrdup("db");
    m.kind = xstrdup("postgres");
    m.snapshot_id = xstrdup("20261124T031500Z-k3f9");
    m.started_at = 1795490100;
    m.ended_at = 1795490262;
    add_artifact(&m, "x.dump.zst", "pg_dump-custom", "zstd", 3, 10, 20, SHA_TEST);
    m.pg_database = xstrdup("mastodon_production");
    m.pg_server_version_num = 150018;
    m.pg_database_size_bytes = -1;
    manifest_add_table(&m, "public", "statuses", 5, false);
    buf_init(&json, BUF_NO_CAP);
    manifest_to_json(&m, &json);
    CHECK_STR_EQ(json.data, want);
    buf_release(&json);
    manifest_release(&m);
}

static void test_manifest_writer_omits_postgres_when_nothing_known(void)
{
    struct manifest m;
    struct manifest back;
    struct buf json;

    memset(&m, 0, sizeof(m));
    m.format_version = 1;
    m.job = xstrdup("cache");
    m.kind = xstrdup("redis");
    m.snapshot_id = xstrdup("20261124T031500Z-k3f9");
    m.pg_database_size_bytes = -1;
    add_artifact(&m, "r.rdb.zst", "rdb", "zstd", 3, 1, 1, SHA_TEST);
    buf_init(&json, BUF_NO_CAP);
    manifest_to_json(&m, &json);
    CHECK(!strstr(json.data, "postgres"));
    CHECK(!strstr(json.data, "host"));
    CHECK_OK(manifest_from_json(json.data, json.len, &back, unit_err()));
    check_manifest_equal(&m, &back);
    CHECK(back.pg_database_size_bytes == -1);
    manifest_release(&back);
    buf_release(&json);
    manifest_release(&m);
}

static void test_manifest_redis_facts_round_trip(void)
{
    struct manifest m;
    struct manifest back;
    struct buf json;

    memset(&m, 0, sizeof(m));
    m.format_version = 1;
    m.job = xstrdup("redis");
    m.kind = xstrdup("redis");
    m.snapshot_id = xstrdup("20261124T031500Z-k3f9");
    m.pg_database_size_bytes = -1;
    add_artifact(&m, "dump.rdb.zst", "redis-rdb", "zstd", 3, 10, 20, SHA_TEST);
    m.redis_server = xstrdup("valkey");
    m.redis_version = xstrdup("8.0.2");
    m.redis_method = xstrdup("logical");
    m.redis_transfer = xstrdup("logical");
    m.redis_fallback_reason = xstrdup("the server refused SYNC: NOPERM");
    m.redis_rdb_version = 11;
    m.redis_used_memory = 0;
    manifest_add_redis_db(&m.redis_keyspace, &m.redis_keyspace_count, 0, 122000, 100000);
    manifest_add_redis_db(&m.redis_keyspace, &m.redis_keyspace_count, 3, 5, -1);
    manifest_add_redis_db(&m.redis_keys, &m.redis_keys_count, 0, 121999, 99999);
    buf_init(&json, BUF_NO_CAP);
    manifest_to_json(&m, &json);
    CHECK(strstr(json.data, "\"redis\": {\n    \"server\": \"valkey\",\n"));
    CHECK(strstr(json.data, "\"rdb_version\": 11"));
    CHECK(strstr(json.data, "\"used_memory\": 0"));
    CHECK(!strstr(json.data, "postgres"));
    CHECK_OK(manifest_from_json(json.data, json.len, &back, unit_err()));
    CHECK_STR_EQ(back.redis_server, "valkey");
    CHECK_STR_EQ(back.redis_version, "8.0.2");
    CHECK_STR_EQ(back.redis_method, "logical");
    CHECK_STR_EQ(back.redis_transfer, "logical");
    CHECK_STR_EQ(back.redis_fallback_reason, "the server refused SYNC: NOPERM");
    CHECK_INT_EQ(back.redis_rdb_version, 11);
    CHECK_INT_EQ(back.redis_used_memory, 0);
    CHECK_INT_EQ(back.redis_keyspace_count, 2);
    CHECK_INT_EQ(back.redis_keyspace[1].db, 3);
    CHECK_INT_EQ(back.redis_keyspace[1].keys, 5);
    CHECK_INT_EQ(back.redis_keyspace[1].expires, -1);
    CHECK_INT_EQ(back.redis_keys_count, 1);
    CHECK_INT_EQ(manifest_redis_total(back.redis_keys, back.redis_keys_count), 121999);
    manifest_release(&back);
    /* A bad member of the redis object is named. */
    {
        static const char bad[] =
            "{\"format_version\": 1, \"job\": \"r\", \"kind\": \"redis\", "
            "\"snapshot_id\": \"20261124T031500Z-k3f9\", "
            "\"started_at\": \"2026-11-24T03:15:00Z\", \"ended_at\": \"2026-11-24T03:17:42Z\", "
            "\"artifacts\": [{\"name\": \"a\", \"content\": \"redis-rdb\", \"compression\": "
            "\"zstd\", \"compression_level\": 3, \"size_bytes\": 1, \"raw_bytes\": 1, "
            "\"sha256\": \"" SHA_TEST "\"}], \"redis\": {\"keys\": [{\"db\": -1, \"keys\": 1}]}}";
        struct error err = ERROR_INIT;
        CHECK(manifest_from_json(bad, strlen(bad), &back, &err) < 0);
        CHECK(strstr(err.msg, "redis.keys[0].db") != NULL);
    }
    buf_release(&json);
    manifest_release(&m);
}

static void test_manifest_encryption_round_trips_and_unknown_is_refused(void)
{
    struct manifest m;
    struct manifest back;
    struct buf json;
    struct error err = ERROR_INIT;
    char *bad;

    memset(&m, 0, sizeof(m));
    m.format_version = 1;
    m.job = xstrdup("db");
    m.kind = xstrdup("postgres");
    m.snapshot_id = xstrdup("20261124T031500Z-k3f9");
    m.pg_database_size_bytes = -1;
    add_artifact(&m, "db.dump.zst.age", "pg_dump-custom", "zstd", 3, 10, 20, SHA_TEST);
    m.artifacts[0].encryption = xstrdup("age");
    m.recipients = xcalloc(2, sizeof(*m.recipients));
    m.recipients[0] = xstrdup("age1ndedzva9nktrgcx8ttj08eleg2flt0zqk3hrnkyl94ejcaxm3qcqdhy572");
    m.recipients[1] = xstrdup("age1second");
    m.recipient_count = 2;
    buf_init(&json, BUF_NO_CAP);
    manifest_to_json(&m, &json);
    CHECK(strstr(json.data, "\"encryption\": \"age\"") != NULL);
    CHECK(strstr(json.data, "\"format\": \"age\"") != NULL);
    CHECK(strstr(json.data, "\"passphrase\"") == NULL);
    CHECK_OK(manifest_from_json(json.data, json.len, &back, unit_err()));
    CHECK_STR_EQ(back.artifacts[0].encryption, "age");
    CHECK_INT_EQ(back.recipient_count, 2);
    CHECK_STR_EQ(back.recipients[1], "age1second");
    CHECK(!back.passphrase);
    manifest_release(&back);

    /* a passphrase is recorded as a fact, with no recipients */
    for (size_t i = 0; i < m.recipient_count; i++)
        xfree(m.recipients[i]);
    xfree(m.recipients);
    m.recipients = NULL;
    m.recipient_count = 0;
    m.passphrase = true;
    buf_reset(&json);
    manifest_to_json(&m, &json);
    CHECK(strstr(json.data, "\"recipients\"") == NULL);
    CHECK_OK(manifest_from_json(json.data, json.len, &back, unit_err()));
    CHECK(back.passphrase);
    CHECK_INT_EQ(back.recipient_count, 0);
    manifest_release(&back);

    /* an encryption this reader does not know is not read as plain zstd */
    bad = xstrdup(json.data);
    memcpy(strstr(bad, "\"encryption\": \"age\"") + 15, "gpg", 3);
    CHECK_ERR(manifest_from_json(bad, strlen(bad), &back, &err), err, ERR_INTEGRITY,
              "manifest: field 'artifacts[0].encryption': unknown encryption (expected \"age\"); "
              "upgrade permafrost");
    manifest_release(&back);
    xfree(bad);
    buf_release(&json);
    manifest_release(&m);
}

static void test_manifest_reads_hand_written_json(void)
{
    struct manifest m;

    CHECK_OK(manifest_from_json(base_json, strlen(base_json), &m, unit_err()));
    CHECK_INT_EQ(m.format_version, 1);
    CHECK_STR_EQ(m.job, "db");
    CHECK_STR_EQ(m.snapshot_id, "20261124T031500Z-k3f9");
    CHECK_INT_EQ(m.started_at, 1795490100);
    CHECK_INT_EQ(m.ended_at, 1795490262);
    CHECK_INT_EQ(m.artifact_count, 1);
    CHECK_STR_EQ(m.artifacts[0].sha256, SHA_TEST);
    CHECK_INT_EQ(m.artifacts[0].compression_level, 3);
    CHECK(m.artifacts[0].size_bytes == 1048576);
    CHECK_INT_EQ(m.pg_server_version_num, 150018);
    CHECK(m.pg_database_size_bytes == 123456789);
    CHECK_STR_EQ(m.row_counts, "exact");
    CHECK_INT_EQ(m.table_count, 1);
    CHECK_STR_EQ(m.tables[0].name, "statuses");
    CHECK(m.tables[0].rows == 1234);
    CHECK(m.tables[0].is_exact);
    manifest_release(&m);
}

static void test_manifest_missing_optional_fields_read_as_unknown(void)
{
    static const char json[] =
        "{\"format_version\": 1, \"job\": \"db\", \"kind\": \"postgres\","
        " \"snapshot_id\": \"20261124T031500Z-k3f9\", \"started_at\": \"2026-11-24T03:15:00Z\","
        " \"ended_at\": \"2026-11-24T03:17:42Z\", \"host\": null,"
        " \"artifacts\": [{\"name\": \"a\", \"content\": \"sql\", \"compression\": \"none\","
        " \"compression_level\": 0, \"size_bytes\": 0, \"raw_bytes\": 0, \"sha256\": \"" SHA_TEST
        "\"}], \"postgres\": {\"database_size_bytes\": null, \"tables\": null}}";
    struct manifest m;

    CHECK_OK(manifest_from_json(json, strlen(json), &m, unit_err()));
    CHECK(m.host == NULL);
    CHECK(m.permafrost_version == NULL);
    CHECK(m.pg_database == NULL);
    CHECK(m.row_counts == NULL);
    CHECK_INT_EQ(m.pg_server_version_num, 0);
    CHECK(m.pg_database_size_bytes == -1);
    CHECK_INT_EQ(m.table_count, 0);
    manifest_release(&m);
}

static void test_manifest_tables_with_unusual_names_round_trip(void)
{
    static const char *const names[] = {
        "with \"quotes\"",
        "back\\slash\\",
        "\303\274ber_\346\227\245\346\234\254_\360\237\220\230", /* über_日本_🐘 */
        "ctl\x01\x02\x1f\t\n\r\x7f end",
        " ",
        "/slash/and..dots",
        "{\"json\": [1, 2]}",
        "\\u0041 not an escape",
    };
    struct manifest m;
    struct manifest back;

    fill_full(&m);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        manifest_add_table(&m, names[(i + 1) % 8], names[i], (int64_t)i, i % 2 == 0);
    xfree(m.host);
    m.host = xstrdup("h\xc3\xb6st \"x\"\\");
    /* Non-ASCII artifact names are fine; only control characters are refused. */
    add_artifact(&m, "d\xc3\xbcmp \xe6\x97\xa5 'q'.zst", "sql", "zstd", 1, 1, 1, SHA_TEST);
    round_trip(&m, &back);
    check_manifest_equal(&m, &back);
    manifest_release(&back);
    manifest_release(&m);
}

static void test_manifest_big_sizes_round_trip_exactly(void)
{
    static const uint64_t sizes[] = {
        (1ull << 53) + 1, /* the first integer a double cannot hold */
        (1ull << 62) + 12345, (uint64_t)INT64_MAX, 4294967296ull, /* 2^32 */
    };
    struct manifest m;
    struct manifest back;

    fill_full(&m);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        m.artifacts[0].size_bytes = sizes[i];
        m.artifacts[0].raw_bytes = sizes[(i + 1) % 4];
        m.pg_database_size_bytes = (int64_t)sizes[(i + 2) % 4];
        m.tables[0].rows = (int64_t)sizes[(i + 3) % 4];
        round_trip(&m, &back);
        check_manifest_equal(&m, &back);
        manifest_release(&back);
    }
    manifest_release(&m);
}

static void test_manifest_unknown_fields_are_ignored(void)
{
    static const char json[] =
        "{\"format_version\": 1, \"future\": {\"deep\": [1, {\"x\": null}]}, \"job\": \"db\","
        " \"kind\": \"postgres\", \"snapshot_id\": \"20261124T031500Z-k3f9\","
        " \"started_at\": \"2026-11-24T03:15:00Z\", \"ended_at\": \"2026-11-24T03:17:42Z\","
        " \"encryption\": {\"recipients\": [\"age1xyz\"]}, \"cluster\": 5,"
        " \"artifacts\": [{\"name\": \"a\", \"content\": \"sql\", \"compression\": \"zstd\","
        " \"compression_level\": 3, \"size_bytes\": 1, \"raw_bytes\": 2, \"sha256\": \"" SHA_TEST
        "\", \"chunks\": [], \"md5\": 1.5}],"
        " \"postgres\": {\"extensions\": [\"pg_trgm\"], \"tables\": [{\"schema\": \"s\","
        " \"name\": \"t\", \"rows\": 3, \"exact\": false, \"bytes\": 99}]}}";
    struct manifest m;

    CHECK_OK(manifest_from_json(json, strlen(json), &m, unit_err()));
    CHECK_STR_EQ(m.artifacts[0].name, "a");
    CHECK_INT_EQ(m.table_count, 1);
    CHECK(m.tables[0].rows == 3);
    manifest_release(&m);
}

static void test_manifest_newer_format_is_refused(void)
{
    static const char json[] = "{\"format_version\": 2, \"job\": 7, \"artifacts\": \"moved\"}";
    struct manifest m;
    struct error err = ERROR_INIT;

    CHECK_ERR(manifest_from_json(json, strlen(json), &m, &err), err, ERR_INTEGRITY,
              "manifest format version 2 is newer than this permafrost understands (1); "
              "upgrade permafrost");
}

static void test_manifest_truncated_json_is_refused(void)
{
    struct manifest m;
    struct manifest full;
    struct buf json;
    struct error err = ERROR_INIT;

    fill_full(&full);
    buf_init(&json, BUF_NO_CAP);
    manifest_to_json(&full, &json);
    /* Every prefix that stops before the closing brace. */
    for (size_t len = 0; json.data[len] != '\0' && len + 2 < json.len; len++) {
        char *copy = xstrndup(json.data, len);

        if (manifest_from_json(copy, len, &m, &err) == 0)
            unit_fail(__FILE__, __LINE__, "prefix of %zu bytes was accepted", len);
        CHECK_INT_EQ(err.kind, ERR_INTEGRITY);
        CHECK(strstr(err.msg, "manifest: invalid JSON"));
        xfree(copy);
    }
    buf_release(&json);
    manifest_release(&full);
}

static void test_manifest_over_size_cap_is_refused(void)
{
    struct manifest m;
    struct error err = ERROR_INIT;

    /* The length alone is refused: nothing past the first bytes is read. */
    CHECK_ERR(manifest_from_json("{}", (size_t)MANIFEST_MAX_BYTES + 1, &m, &err), err,
              ERR_INTEGRITY, "over the limit");
}

struct bad_case {
    const char *from; /* occurs once in base_json */
    const char *to;
    const char *want; /* in the error message */
};

static const struct bad_case bad_cases[] = {
    {"\"format_version\": 1", "\"format_version\": \"1\"",
     "manifest: field 'format_version': expected an integer"},
    {"\"format_version\": 1", "\"format_version\": 0",
     "field 'format_version': expected an integer from 1 to"},
    {"\"format_version\": 1,", "", "field 'format_version': missing"},
    {"\"format_version\": 1", "\"format_version\": 1.0",
     "field 'format_version': expected an integer"},
    {"\"job\": \"db\", ", "", "field 'job': missing"},
    {"\"job\": \"db\"", "\"job\": 5", "field 'job': expected a string"},
    {"\"job\": \"db\"", "\"job\": \"\"", "field 'job': must not be empty"},
    {"\"job\": \"db\"", "\"job\": \"a/b\"", "field 'job': expected a job name"},
    {"\"job\": \"db\"", "\"job\": \"..\"", "field 'job': expected a job name"},
    {"\"kind\": \"postgres\"", "\"kind\": null", "field 'kind': must not be null"},
    {"\"kind\": \"postgres\"", "\"kind\": [\"postgres\"]", "field 'kind': expected a string"},
    {"20261124T031500Z-k3f9", "20261124T031500Z-K3F9",
     "field 'snapshot_id': expected a snapshot id"},
    {"20261124T031500Z-k3f9", "20261332T031500Z-k3f9",
     "field 'snapshot_id': expected a snapshot id"},
    {"\"started_at\": \"2026-11-24T03:15:00Z\"", "\"started_at\": \"2026-11-24 03:15:00\"",
     "field 'started_at': expected an RFC 3339 UTC time"},
    {"\"started_at\": \"2026-11-24T03:15:00Z\"", "\"started_at\": \"20261124T031500Z\"",
     "field 'started_at': expected an RFC 3339 UTC time"},
    {"\"started_at\": \"2026-11-24T03:15:00Z\"", "\"started_at\": \"2026-11-24T03:15:00+01:00\"",
     "field 'started_at': expected an RFC 3339 UTC time"},
    {"\"started_at\": \"2026-11-24T03:15:00Z\"", "\"started_at\": 1795490100",
     "field 'started_at': expected a string"},
    {"\"ended_at\": \"2026-11-24T03:17:42Z\"", "\"ended_at\": \"2026-02-30T03:17:42Z\"",
     "field 'ended_at': expected an RFC 3339 UTC time"},
    {"\"ended_at\": \"2026-11-24T03:17:42Z\"", "\"ended_at\": \" 2026-11-24T03:17:42Z\"",
     "field 'ended_at': expected an RFC 3339 UTC time"},
    {"\"ended_at\": \"2026-11-24T03:17:42Z\"", "\"ended_at\": \"202-11-24T03:17:42Z\"",
     "field 'ended_at': expected an RFC 3339 UTC time"},
    {"\"ended_at\": \"2026-11-24T03:17:42Z\"", "\"ended_at\": \"2026-11-24T03:17:42.5Z\"",
     "field 'ended_at': expected an RFC 3339 UTC time"},
    {"\"ended_at\": \"2026-11-24T03:17:42Z\"", "\"ended_at\": \"2026-11-24t03:17:42z\"",
     "field 'ended_at': expected an RFC 3339 UTC time"},
    {"\"host\": \"mastodon-1\"", "\"host\": 5", "field 'host': expected a string"},
    {"\"permafrost_version\": \"0.1.0\"", "\"permafrost_version\": {}",
     "field 'permafrost_version': expected a string"},
    {"\"artifacts\": [{", "\"artefacts\": [{", "field 'artifacts': missing"},
    {"\"artifacts\": [{\"name\"", "\"artifacts\": 1, \"x\": [{\"name\"",
     "field 'artifacts': expected a non-empty array"},
    {"\"artifacts\": [{\"name\"", "\"artifacts\": [], \"x\": [{\"name\"",
     "field 'artifacts': expected a non-empty array"},
    {"\"artifacts\": [{\"name\"", "\"artifacts\": [7, {\"name\"",
     "field 'artifacts[0]': expected an object"},
    {"\"name\": \"mastodon_production.dump.zst\"", "\"name\": \"../x\"",
     "field 'artifacts[0].name': expected a plain file name"},
    {"\"name\": \"mastodon_production.dump.zst\"", "\"name\": \"a/b\"",
     "field 'artifacts[0].name': expected a plain file name"},
    {"\"name\": \"mastodon_production.dump.zst\"", "\"name\": \".\"",
     "field 'artifacts[0].name': expected a plain file name"},
    {"\"name\": \"mastodon_production.dump.zst\"", "\"name\": \"..\"",
     "field 'artifacts[0].name': expected a plain file name"},
    {"\"name\": \"mastodon_production.dump.zst\"", "\"name\": \"x\\u0001y\"",
     "field 'artifacts[0].name': expected a plain file name"},
    {"\"name\": \"mastodon_production.dump.zst\"", "\"name\": \"x\\u007f\"",
     "field 'artifacts[0].name': expected a plain file name"},
    {"\"name\": \"mastodon_production.dump.zst\"", "\"name\": \"x\\u0085y\"",
     "field 'artifacts[0].name': expected a plain file name"},
    {"\"name\": \"mastodon_production.dump.zst\"", "\"name\": \"manifest.json\"",
     "field 'artifacts[0].name': expected a plain file name"},
    {"\"name\": \"mastodon_production.dump.zst\"", "\"name\": \"\"",
     "field 'artifacts[0].name': must not be empty"},
    {"\"content\": \"pg_dump-custom\", ", "", "field 'artifacts[0].content': missing"},
    {"\"compression\": \"zstd\"", "\"compression\": 1",
     "field 'artifacts[0].compression': expected a string"},
    {"\"compression_level\": 3", "\"compression_level\": 3.0",
     "field 'artifacts[0].compression_level': expected an integer"},
    {"\"compression_level\": 3", "\"compression_level\": 2147483648",
     "field 'artifacts[0].compression_level': expected an integer from -2147483648 to 2147483647"},
    {"\"size_bytes\": 1048576", "\"size_bytes\": -1",
     "field 'artifacts[0].size_bytes': expected a non-negative integer, got -1"},
    {"\"size_bytes\": 1048576", "\"size_bytes\": true",
     "field 'artifacts[0].size_bytes': expected an integer"},
    {"\"raw_bytes\": 4194304", "\"raw_bytes\": \"4194304\"",
     "field 'artifacts[0].raw_bytes': expected an integer"},
    {"\"raw_bytes\": 4194304, ", "", "field 'artifacts[0].raw_bytes': missing"},
    {SHA_TEST, "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
     "field 'artifacts[0].sha256': expected 64 hex characters"},
    {SHA_TEST, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0",
     "field 'artifacts[0].sha256': expected 64 hex characters"},
    {SHA_TEST, SHA_TEST "0", "field 'artifacts[0].sha256': expected 64 hex characters"},
    {"\"" SHA_TEST "\"", "5", "field 'artifacts[0].sha256': expected a string"},
    {SHA_TEST, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g",
     "field 'artifacts[0].sha256': expected 64 hex characters"},
    {"}], \"postgres\"",
     "}, {\"name\": \"mastodon_production.dump.zst\", \"content\": \"sql\", \"compression\": "
     "\"zstd\", \"compression_level\": 3, \"size_bytes\": 1, \"raw_bytes\": 1, \"sha256\": "
     "\"" SHA_TEST "\"}], \"postgres\"",
     "field 'artifacts[1].name': duplicate name 'mastodon_production.dump.zst'"},
    {"}], \"postgres\"", "}, {}], \"postgres\"", "field 'artifacts[1].name': missing"},
    {"\"postgres\": {\"database\"", "\"postgres\": [], \"x\": {\"database\"",
     "field 'postgres': expected an object"},
    {"\"database\": \"mastodon_production\"", "\"database\": false",
     "field 'postgres.database': expected a string"},
    {"\"server_version_num\": 150018", "\"server_version_num\": -1",
     "field 'postgres.server_version_num': expected an integer from 0 to 2147483647"},
    {"\"server_version_num\": 150018", "\"server_version_num\": \"150018\"",
     "field 'postgres.server_version_num': expected an integer"},
    {"\"database_size_bytes\": 123456789", "\"database_size_bytes\": -5",
     "field 'postgres.database_size_bytes': expected a non-negative integer"},
    {"\"encoding\": \"UTF8\"", "\"encoding\": 8", "field 'postgres.encoding': expected a string"},
    {"\"row_counts\": \"exact\"", "\"row_counts\": 1",
     "field 'postgres.row_counts': expected a string"},
    {"\"tables\": [{", "\"tables\": \"none\", \"t2\": [{",
     "field 'postgres.tables': expected an array"},
    {"\"tables\": [{", "\"tables\": [\"x\", {", "field 'postgres.tables[0]': expected an object"},
    {"\"schema\": \"public\", ", "", "field 'postgres.tables[0].schema': missing"},
    {"\"name\": \"statuses\"", "\"name\": 1", "field 'postgres.tables[0].name': expected a string"},
    {"\"rows\": 1234", "\"rows\": -2",
     "field 'postgres.tables[0].rows': expected an integer >= -1, got -2"},
    {"\"rows\": 1234", "\"rows\": 12.5", "field 'postgres.tables[0].rows': expected an integer"},
    {"\"exact\": true", "\"exact\": \"yes\"",
     "field 'postgres.tables[0].exact': expected true or false"},
    {"\"exact\": true", "\"exact\": 1", "field 'postgres.tables[0].exact': expected true or false"},
    {"\"exact\": true", "\"other\": true", "field 'postgres.tables[0].exact': missing"},
    /* Not valid JSON at all, or not an object. */
    {"\"job\": \"db\"", "\"job\": \"db\", \"job\": \"other\"", "manifest: invalid JSON"},
    {"\"size_bytes\": 1048576", "\"size_bytes\": 99999999999999999999", "manifest: invalid JSON"},
    {"\"job\": \"db\"", "\"job\": \"d\\u0000b\"", "manifest: invalid JSON"},
    {"\"job\": \"db\"", "\"job\": \"d\xff\"", "manifest: invalid JSON"},
    {"\"exact\": true}]}}", "\"exact\": true}]}} {}", "manifest: invalid JSON"},
    {"\"exact\": true}]}}", "\"exact\": true}]}]", "manifest: invalid JSON"},
    {"{\"format_version\": 1,", "[{\"format_version\": 1,", "manifest: invalid JSON"},
};

/* base_json with the one occurrence of from replaced by to; free with xfree. */
static char *replace_once(const char *from, const char *to)
{
    const char *at = strstr(base_json, from);
    struct buf out;

    if (!at || strstr(at + 1, from))
        unit_fail(__FILE__, __LINE__, "'%s' is not in the base JSON exactly once", from);
    buf_init(&out, BUF_NO_CAP);
    buf_add(&out, base_json, (size_t)(at - base_json));
    buf_adds(&out, to);
    buf_adds(&out, at + strlen(from));
    return buf_detach(&out, NULL);
}

static void test_manifest_malformed_fields_are_refused_naming_the_field(void)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        char *json = replace_once(c->from, c->to);
        struct manifest m;
        struct error err = ERROR_INIT;

        if (manifest_from_json(json, strlen(json), &m, &err) == 0)
            unit_fail(__FILE__, __LINE__, "case %zu accepted: %s", i, json);
        if (err.kind != ERR_INTEGRITY || !strstr(err.msg, c->want))
            unit_fail(__FILE__, __LINE__, "case %zu: kind %d, message \"%s\" lacks \"%s\"", i,
                      (int)err.kind, err.msg, c->want);
        xfree(json);
    }
}

static void test_manifest_root_must_be_an_object(void)
{
    static const char *const docs[] = {"[]", "\"manifest\"", "42", "null"};
    struct manifest m;
    struct error err = ERROR_INIT;

    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        /* jansson refuses some top-level scalars itself: either way, an integrity error. */
        CHECK_ERR(manifest_from_json(docs[i], strlen(docs[i]), &m, &err), err, ERR_INTEGRITY,
                  "manifest: ");
    }
    CHECK_ERR(manifest_from_json("[]", 2, &m, &err), err, ERR_INTEGRITY,
              "manifest: expected a JSON object");
    CHECK_ERR(manifest_from_json(NULL, 0, &m, &err), err, ERR_INTEGRITY, "manifest: invalid JSON");
}

static void test_manifest_json_error_keeps_control_bytes_out_of_message(void)
{
    static const char json[] = "{\"job\": \x01\x1b[31m}";
    struct manifest m;
    struct error err = ERROR_INIT;

    CHECK_ERR(manifest_from_json(json, strlen(json), &m, &err), err, ERR_INTEGRITY,
              "manifest: invalid JSON at line 1 column 9: invalid token near '?'");
    for (const char *p = err.msg; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void test_manifest_failed_parse_leaves_output_untouched(void)
{
    char *json = replace_once(SHA_TEST, "nope");
    struct manifest m;
    struct error err = ERROR_INIT;

    memset(&m, 0x5a, sizeof(m));
    CHECK_ERR(manifest_from_json(json, strlen(json), &m, &err), err, ERR_INTEGRITY, "sha256");
    for (size_t i = 0; i < sizeof(m); i++)
        CHECK(((const unsigned char *)&m)[i] == 0x5a);
    xfree(json);
}

static void test_manifest_release_is_safe_on_zeroed_and_released(void)
{
    struct manifest m;

    memset(&m, 0, sizeof(m));
    manifest_release(&m);
    fill_full(&m);
    manifest_release(&m);
    manifest_release(&m);
    CHECK(m.artifacts == NULL && m.artifact_count == 0 && m.job == NULL);
}

static void test_manifest_totals_sum_artifacts(void)
{
    struct manifest m;

    fill_full(&m);
    CHECK(manifest_stored_bytes(&m) == 1048576);
    CHECK(manifest_raw_bytes(&m) == 4194304);
    m.artifacts[1].size_bytes = 10;
    m.artifacts[1].raw_bytes = 20;
    CHECK(manifest_stored_bytes(&m) == 1048586);
    CHECK(manifest_raw_bytes(&m) == 4194324);
    m.artifacts[0].size_bytes = UINT64_MAX - 5; /* saturates rather than wrapping */
    CHECK(manifest_stored_bytes(&m) == UINT64_MAX);
    manifest_release(&m);

    memset(&m, 0, sizeof(m));
    CHECK(manifest_stored_bytes(&m) == 0);
    CHECK(manifest_raw_bytes(&m) == 0);
}

static void test_manifest_add_copies_its_arguments(void)
{
    char name[] = "a.zst";
    char content[] = "sql";
    char compression[] = "zstd";
    char schema[] = "public";
    struct manifest_artifact a = {name, content, compression, 1, 2, 3, SHA_TEST, NULL};
    struct manifest m;

    memset(&m, 0, sizeof(m));
    manifest_add_artifact(&m, &a);
    manifest_add_table(&m, schema, "t", 7, true);
    name[0] = 'X';
    schema[0] = 'X';
    CHECK_STR_EQ(m.artifacts[0].name, "a.zst");
    CHECK(m.artifacts[0].name != name);
    CHECK_STR_EQ(m.artifacts[0].sha256, SHA_TEST);
    CHECK_STR_EQ(m.tables[0].schema, "public");
    CHECK(m.tables[0].rows == 7 && m.tables[0].is_exact);
    for (int i = 0; i < 100; i++)
        manifest_add_table(&m, "s", "t", i, false);
    CHECK_INT_EQ(m.table_count, 101);
    CHECK(m.tables[100].rows == 99);
    manifest_release(&m);
}

static void test_manifest_writer_always_writes_current_format_version(void)
{
    struct manifest m;
    struct manifest back;

    fill_full(&m);
    m.format_version = 0;
    round_trip(&m, &back);
    CHECK_INT_EQ(back.format_version, MANIFEST_FORMAT_VERSION);
    manifest_release(&back);
    manifest_release(&m);
}

static void test_manifest_json_library_version_is_dotted(void)
{
    const char *v = manifest_json_library_version();

    CHECK(v != NULL);
    CHECK(v[0] >= '2' && v[0] <= '9');
    CHECK(strchr(v, '.') != NULL);
}

const struct unit_test manifest_tests[] = {
    {"test_manifest_round_trip_keeps_every_field", test_manifest_round_trip_keeps_every_field},
    {"test_manifest_writes_documented_layout", test_manifest_writes_documented_layout},
    {"test_manifest_writer_omits_postgres_when_nothing_known",
     test_manifest_writer_omits_postgres_when_nothing_known},
    {"test_manifest_redis_facts_round_trip", test_manifest_redis_facts_round_trip},
    {"test_manifest_encryption_round_trips_and_unknown_is_refused",
     test_manifest_encryption_round_trips_and_unknown_is_refused},
    {"test_manifest_reads_hand_written_json", test_manifest_reads_hand_written_json},
    {"test_manifest_missing_optional_fields_read_as_unknown",
     test_manifest_missing_optional_fields_read_as_unknown},
    {"test_manifest_tables_with_unusual_names_round_trip",
     test_manifest_tables_with_unusual_names_round_trip},
    {"test_manifest_big_sizes_round_trip_exactly", test_manifest_big_sizes_round_trip_exactly},
    {"test_manifest_unknown_fields_are_ignored", test_manifest_unknown_fields_are_ignored},
    {"test_manifest_newer_format_is_refused", test_manifest_newer_format_is_refused},
    {"test_manifest_truncated_json_is_refused", test_manifest_truncated_json_is_refused},
    {"test_manifest_over_size_cap_is_refused", test_manifest_over_size_cap_is_refused},
    {"test_manifest_malformed_fields_are_refused_naming_the_field",
     test_manifest_malformed_fields_are_refused_naming_the_field},
    {"test_manifest_root_must_be_an_object", test_manifest_root_must_be_an_object},
    {"test_manifest_json_error_keeps_control_bytes_out_of_message",
     test_manifest_json_error_keeps_control_bytes_out_of_message},
    {"test_manifest_failed_parse_leaves_output_untouched",
     test_manifest_failed_parse_leaves_output_untouched},
    {"test_manifest_release_is_safe_on_zeroed_and_released",
     test_manifest_release_is_safe_on_zeroed_and_released},
    {"test_manifest_totals_sum_artifacts", test_manifest_totals_sum_artifacts},
    {"test_manifest_add_copies_its_arguments", test_manifest_add_copies_its_arguments},
    {"test_manifest_writer_always_writes_current_format_version",
     test_manifest_writer_always_writes_current_format_version},
    {"test_manifest_json_library_version_is_dotted", test_manifest_json_library_version_is_dotted},
    {NULL, NULL},
};
