/* verify without servers: the catalog's verifications table (and its migration from a schema-1
 * catalog), how `list` shows a verification, scratch names and conninfos, and verify_run over a
 * local store holding a snapshot with a "sql" artifact: ok, a flipped byte, a removed artifact,
 * a wrong manifest hash, a job that is not there. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "cli/commands.h"
#include "config/config.h"
#include "core/catalog.h"
#include "core/manifest.h"
#include "core/verify.h"
#include "io/filter.h"
#include "sources/pg.h"
#include "unit.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/xalloc.h"

static void add_verification(struct catalog *c, const char *store, time_t t, const char *level,
                             const char *result, const char *detail)
{
    struct catalog_verification v;

    memset(&v, 0, sizeof(v));
    v.job = (char *)(uintptr_t) "db";
    v.snapshot_id = (char *)(uintptr_t) "20261124T031500Z-k3f9";
    v.store = (char *)(uintptr_t)store;
    v.time = t;
    v.level = level;
    v.result = result;
    v.detail = (char *)(uintptr_t)detail;
    v.duration_ms = 1234;
    CHECK_OK(catalog_add_verification(c, &v, unit_err()));
}

static void test_catalog_never_verified_snapshot_is_not_found(void)
{
    struct catalog *c = NULL;
    struct catalog_verification v;
    bool found = true;

    CHECK_OK(catalog_open(unit_tmp_dir(), &c, unit_err()));
    CHECK_OK(catalog_last_verification(c, "db", "20261124T031500Z-k3f9", &v, &found, unit_err()));
    CHECK(!found);
    catalog_close(c);
}

static void test_catalog_last_verification_is_the_newest(void)
{
    struct catalog *c = NULL;
    struct catalog_verification v;
    bool found = false;

    CHECK_OK(catalog_open(unit_tmp_dir(), &c, unit_err()));
    add_verification(c, "local", 1000, "restore", "ok", "drill");
    add_verification(c, "local", 2000, "integrity", "ok", "sha256, zstd");
    CHECK_OK(catalog_last_verification(c, "db", "20261124T031500Z-k3f9", &v, &found, unit_err()));
    CHECK(found);
    CHECK_STR_EQ(v.level, "integrity");
    CHECK_STR_EQ(v.result, "ok");
    CHECK_STR_EQ(v.store, "local");
    CHECK_STR_EQ(v.detail, "sha256, zstd");
    CHECK_INT_EQ(v.time, 2000);
    CHECK_INT_EQ(v.duration_ms, 1234);
    catalog_verification_release(&v);
    /* Another snapshot's rows do not count. */
    CHECK_OK(catalog_last_verification(c, "db", "20261125T031500Z-aaaa", &v, &found, unit_err()));
    CHECK(!found);
    catalog_close(c);
}

static void test_catalog_in_one_run_a_failure_outranks_a_success_and_a_drill_a_check(void)
{
    struct catalog *c = NULL;
    struct catalog_verification v;
    bool found = false;

    CHECK_OK(catalog_open(unit_tmp_dir(), &c, unit_err()));
    add_verification(c, "a", 3000, "restore", "ok", "drill");
    add_verification(c, "b", 3000, "integrity", "ok", "");
    CHECK_OK(catalog_last_verification(c, "db", "20261124T031500Z-k3f9", &v, &found, unit_err()));
    CHECK_STR_EQ(v.level, "restore");
    CHECK_STR_EQ(v.store, "a");
    catalog_verification_release(&v);
    add_verification(c, "c", 3000, "integrity", "failed", "sha256 mismatch");
    CHECK_OK(catalog_last_verification(c, "db", "20261124T031500Z-k3f9", &v, &found, unit_err()));
    CHECK_STR_EQ(v.result, "failed");
    CHECK_STR_EQ(v.store, "c");
    CHECK_STR_EQ(v.detail, "sha256 mismatch");
    catalog_verification_release(&v);
    catalog_close(c);
}

/* A catalog written by the previous release (schema 1) gains the table and keeps its rows. */
static void test_catalog_migrates_a_schema_1_catalog(void)
{
    char *path = xasprintf("%s/catalog.db", unit_tmp_dir());
    sqlite3 *db = NULL;
    struct catalog *c = NULL;
    struct catalog_snapshot *snaps = NULL;
    struct catalog_verification v;
    size_t count = 0;
    bool found = false;

    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TABLE runs (id INTEGER PRIMARY KEY, job TEXT NOT NULL,"
                       " snapshot_id TEXT, started_at INTEGER NOT NULL, ended_at INTEGER,"
                       " result TEXT, error TEXT, stored_bytes INTEGER, raw_bytes INTEGER);"
                       "CREATE INDEX runs_job ON runs(job, started_at);"
                       "CREATE TABLE snapshots (job TEXT NOT NULL, id TEXT NOT NULL,"
                       " store TEXT NOT NULL, time INTEGER NOT NULL, stored_bytes INTEGER NOT NULL,"
                       " raw_bytes INTEGER NOT NULL, kind TEXT NOT NULL,"
                       " PRIMARY KEY (job, id, store));"
                       "INSERT INTO snapshots VALUES ('db', '20261124T031500Z-k3f9', 'local',"
                       " 1795000000, 100, 400, 'postgres');"
                       "PRAGMA user_version = 1;",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);

    CHECK_OK(catalog_open(unit_tmp_dir(), &c, unit_err()));
    CHECK_OK(catalog_list(c, NULL, &snaps, &count, unit_err()));
    CHECK_INT_EQ(count, 1);
    CHECK_STR_EQ(snaps[0].id, "20261124T031500Z-k3f9");
    catalog_snapshots_free(snaps, count);
    add_verification(c, "local", 5000, "integrity", "ok", NULL);
    CHECK_OK(catalog_last_verification(c, "db", "20261124T031500Z-k3f9", &v, &found, unit_err()));
    CHECK(found);
    CHECK_STR_EQ(v.detail, "");
    catalog_verification_release(&v);
    catalog_close(c);

    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    {
        sqlite3_stmt *st = NULL;
        CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(st) == SQLITE_ROW);
        CHECK(sqlite3_column_int(st, 0) >= 2); /* later schemas migrate on */
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    xfree(path);
}

static void test_list_formats_the_last_verification(void)
{
    struct catalog_verification v;
    char out[LIST_VERIFIED_LEN];

    list_format_verified(NULL, out);
    CHECK_STR_EQ(out, "never");
    memset(&v, 0, sizeof(v));
    v.time = 1795971780; /* 2026-11-29T17:03:00Z */
    v.level = "restore";
    v.result = "ok";
    list_format_verified(&v, out);
    CHECK_STR_EQ(out, "restore ok 2026-11-29 17:03");
    v.level = "integrity";
    v.result = "failed";
    list_format_verified(&v, out);
    CHECK_STR_EQ(out, "integrity FAILED 2026-11-29 17:03");
}

static void test_verify_scratch_name_is_safe_and_within_63_bytes(void)
{
    char *name = verify_scratch_name("db", "0a1b2c3d");
    char *long_name = verify_scratch_name("Mastodon-Production.DB with spaces and a very long name "
                                          "that goes on",
                                          "0a1b2c3d");

    CHECK_STR_EQ(name, "permafrost_verify_db_0a1b2c3d");
    CHECK(strlen(long_name) <= 63);
    CHECK(strncmp(long_name, "permafrost_verify_mastodon_production_db_with_", 46) == 0);
    CHECK(strcmp(long_name + strlen(long_name) - 9, "_0a1b2c3d") == 0);
    for (const char *p = long_name; *p; p++)
        CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
    xfree(name);
    xfree(long_name);
}

static void test_verify_conninfo_points_at_the_scratch_database(void)
{
    static const char *const cases[] = {
        "host=127.0.0.1 dbname=mastodon_production user=mastodon",
        "host=/run/postgresql user=postgres",
        "postgresql://mastodon@db.example/mastodon_production",
        "postgresql://mastodon@db.example/mastodon_production?sslmode=require",
        "",
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *to = verify_conninfo_with_db(cases[i], "permafrost_verify_db_1");
        char *db = pg_conninfo_dbname(to);
        CHECK_STR_EQ(db, "permafrost_verify_db_1");
        xfree(db);
        xfree(to);
    }
}

/* ---- verify_run over a local store ---- */

static const char sql_text[] = "CREATE ROLE mastodon;\nALTER ROLE mastodon WITH LOGIN;\n";

/* A store "local" with one snapshot of job "db" whose one artifact is zstd-compressed SQL. Returns
 * the snapshot directory (xfree). */
static char *make_snapshot(struct config *cfg)
{
    const char *id = "20261124T031500Z-k3f9";
    char *conf = xasprintf("[global]\nstate_dir = %s/state\n\n[store \"local\"]\ntype = local\n"
                           "path = %s/store\n\n[job \"db\"]\nkind = postgres\n"
                           "database = host=127.0.0.1 dbname=x\ntargets = local\n",
                           unit_tmp_dir(), unit_tmp_dir());
    char *dir = xasprintf("%s/store/db/%s", unit_tmp_dir(), id);
    char *path = xasprintf("%s/globals.sql.zst", dir);
    char *mpath = xasprintf("%s/manifest.json", dir);
    struct filter *z = zstd_compress_new(3, 1);
    struct filter *h = sha256_filter_new();
    struct buf zout;
    struct buf hout;
    struct buf json;
    struct manifest m;
    struct manifest_artifact a;

    buf_init(&zout, BUF_NO_CAP);
    buf_init(&hout, BUF_NO_CAP);
    buf_init(&json, BUF_NO_CAP);
    CHECK_OK(config_parse("test.conf", conf, strlen(conf), cfg, unit_err()));
    CHECK_OK(fs_mkdir_p(dir, 0700, unit_err()));
    CHECK_OK(fs_mkdir_p(cfg->global.state_dir, 0700, unit_err()));
    CHECK_OK(filter_process(z, sql_text, sizeof(sql_text) - 1, &zout, unit_err()));
    CHECK_OK(filter_finish(z, &zout, unit_err()));
    CHECK_OK(filter_process(h, zout.data, zout.len, &hout, unit_err()));
    CHECK_OK(filter_finish(h, &hout, unit_err()));
    CHECK_OK(fs_write_atomic(path, zout.data, zout.len, 0600, unit_err()));

    memset(&m, 0, sizeof(m));
    memset(&a, 0, sizeof(a));
    m.format_version = MANIFEST_FORMAT_VERSION;
    m.job = xstrdup("db");
    m.kind = xstrdup("postgres");
    m.snapshot_id = xstrdup(id);
    m.started_at = 1795000000;
    m.ended_at = 1795000010;
    a.name = (char *)(uintptr_t) "globals.sql.zst";
    a.content = (char *)(uintptr_t) "sql";
    a.compression = (char *)(uintptr_t) "zstd";
    a.compression_level = 3;
    a.size_bytes = zout.len;
    a.raw_bytes = sizeof(sql_text) - 1;
    sha256_filter_hex(h, a.sha256);
    manifest_add_artifact(&m, &a);
    manifest_to_json(&m, &json);
    CHECK_OK(fs_write_atomic(mpath, json.data, json.len, 0600, unit_err()));

    manifest_release(&m);
    filter_free(z);
    filter_free(h);
    buf_release(&zout);
    buf_release(&hout);
    buf_release(&json);
    xfree(conf);
    xfree(path);
    xfree(mpath);
    return dir;
}

static int run_verify(struct config *cfg, struct verify_result *res, struct error *err)
{
    struct verify_request req;

    memset(&req, 0, sizeof(req));
    req.cfg = cfg;
    req.state_dir = cfg->global.state_dir;
    req.tmp_dir = unit_tmp_dir();
    return verify_run(&req, res, err);
}

static void test_verify_run_passes_a_good_snapshot_and_records_it(void)
{
    struct config cfg;
    struct verify_result res;
    struct catalog *c = NULL;
    struct catalog_verification v;
    bool found = false;
    char *dir;

    memset(&cfg, 0, sizeof(cfg));
    dir = make_snapshot(&cfg);
    CHECK_OK(run_verify(&cfg, &res, unit_err()));
    CHECK_INT_EQ(res.item_count, 1);
    CHECK_INT_EQ(res.failed, 0);
    CHECK(res.items[0].is_ok);
    CHECK_STR_EQ(res.items[0].store, "local");
    CHECK_STR_EQ(res.items[0].snapshot_id, "20261124T031500Z-k3f9");
    CHECK(strstr(res.items[0].detail, "globals.sql.zst: sha256, zstd") != NULL);
    verify_result_release(&res);
    CHECK_OK(catalog_open(cfg.global.state_dir, &c, unit_err()));
    CHECK_OK(catalog_last_verification(c, "db", "20261124T031500Z-k3f9", &v, &found, unit_err()));
    CHECK(found);
    CHECK_STR_EQ(v.result, "ok");
    CHECK_STR_EQ(v.level, "integrity");
    catalog_verification_release(&v);
    catalog_close(c);
    config_release(&cfg);
    xfree(dir);
}

static void flip_byte(const char *path)
{
    struct buf b;

    buf_init(&b, BUF_NO_CAP);
    CHECK_OK(fs_read_file(path, &b, unit_err()));
    CHECK(b.len > 8);
    b.data[b.len / 2] ^= 0x20;
    CHECK_OK(fs_write_atomic(path, b.data, b.len, 0600, unit_err()));
    buf_release(&b);
}

static void test_verify_run_fails_a_flipped_byte_as_integrity(void)
{
    struct config cfg;
    struct verify_result res;
    struct error err = ERROR_INIT;
    char *dir;
    char *path;

    memset(&cfg, 0, sizeof(cfg));
    dir = make_snapshot(&cfg);
    path = xasprintf("%s/globals.sql.zst", dir);
    flip_byte(path);
    CHECK_ERR(run_verify(&cfg, &res, &err), err, ERR_INTEGRITY,
              "snapshot '20261124T031500Z-k3f9' on store 'local'");
    CHECK_INT_EQ(res.failed, 1);
    CHECK(!res.items[0].is_ok);
    verify_result_release(&res);
    config_release(&cfg);
    xfree(path);
    xfree(dir);
}

static void test_verify_run_fails_a_removed_artifact_as_integrity(void)
{
    struct config cfg;
    struct verify_result res;
    struct error err = ERROR_INIT;
    char *dir;
    char *path;

    memset(&cfg, 0, sizeof(cfg));
    dir = make_snapshot(&cfg);
    path = xasprintf("%s/globals.sql.zst", dir);
    CHECK(remove(path) == 0);
    CHECK_ERR(run_verify(&cfg, &res, &err), err, ERR_INTEGRITY,
              "artifact 'globals.sql.zst': missing from the store");
    verify_result_release(&res);
    config_release(&cfg);
    xfree(path);
    xfree(dir);
}

static void test_verify_run_fails_a_wrong_manifest_hash_as_integrity(void)
{
    struct config cfg;
    struct verify_result res;
    struct error err = ERROR_INIT;
    struct buf b;
    char *dir;
    char *mpath;
    char *at;

    memset(&cfg, 0, sizeof(cfg));
    dir = make_snapshot(&cfg);
    mpath = xasprintf("%s/manifest.json", dir);
    buf_init(&b, BUF_NO_CAP);
    CHECK_OK(fs_read_file(mpath, &b, unit_err()));
    at = strstr(b.data, "\"sha256\": \"");
    CHECK(at != NULL);
    at += strlen("\"sha256\": \"");
    *at = *at == '0' ? '1' : '0';
    CHECK_OK(fs_write_atomic(mpath, b.data, b.len, 0600, unit_err()));
    CHECK_ERR(run_verify(&cfg, &res, &err), err, ERR_INTEGRITY, "does not match its manifest");
    CHECK(strstr(err.msg, "store 'local'") != NULL);
    verify_result_release(&res);
    buf_release(&b);
    config_release(&cfg);
    xfree(mpath);
    xfree(dir);
}

static void test_verify_run_refuses_unknown_jobs_and_bad_ids(void)
{
    struct config cfg;
    struct verify_result res;
    struct verify_request req;
    struct error err = ERROR_INIT;
    const char *jobs[] = {"nosuch"};
    char *dir;

    memset(&cfg, 0, sizeof(cfg));
    dir = make_snapshot(&cfg);
    memset(&req, 0, sizeof(req));
    req.cfg = &cfg;
    req.state_dir = cfg.global.state_dir;
    req.jobs = jobs;
    req.job_count = 1;
    CHECK_ERR(verify_run(&req, &res, &err), err, ERR_USAGE, "unknown job 'nosuch'");
    CHECK_INT_EQ(res.item_count, 0);
    verify_result_release(&res);
    req.job_count = 0;
    req.snapshot = "yesterday";
    CHECK_ERR(verify_run(&req, &res, &err), err, ERR_USAGE, "'yesterday' is not a snapshot id");
    verify_result_release(&res);
    req.snapshot = "20000101T000000Z-aaaa";
    CHECK_ERR(verify_run(&req, &res, &err), err, ERR_FAILED, "no complete snapshot");
    verify_result_release(&res);
    req.snapshot = NULL;
    req.from_store = "elsewhere";
    CHECK_ERR(verify_run(&req, &res, &err), err, ERR_USAGE, "unknown store 'elsewhere'");
    verify_result_release(&res);
    config_release(&cfg);
    xfree(dir);
}

const struct unit_test verify_tests[] = {
    {"test_catalog_never_verified_snapshot_is_not_found",
     test_catalog_never_verified_snapshot_is_not_found},
    {"test_catalog_last_verification_is_the_newest", test_catalog_last_verification_is_the_newest},
    {"test_catalog_in_one_run_a_failure_outranks_a_success_and_a_drill_a_check",
     test_catalog_in_one_run_a_failure_outranks_a_success_and_a_drill_a_check},
    {"test_catalog_migrates_a_schema_1_catalog", test_catalog_migrates_a_schema_1_catalog},
    {"test_list_formats_the_last_verification", test_list_formats_the_last_verification},
    {"test_verify_scratch_name_is_safe_and_within_63_bytes",
     test_verify_scratch_name_is_safe_and_within_63_bytes},
    {"test_verify_conninfo_points_at_the_scratch_database",
     test_verify_conninfo_points_at_the_scratch_database},
    {"test_verify_run_passes_a_good_snapshot_and_records_it",
     test_verify_run_passes_a_good_snapshot_and_records_it},
    {"test_verify_run_fails_a_flipped_byte_as_integrity",
     test_verify_run_fails_a_flipped_byte_as_integrity},
    {"test_verify_run_fails_a_removed_artifact_as_integrity",
     test_verify_run_fails_a_removed_artifact_as_integrity},
    {"test_verify_run_fails_a_wrong_manifest_hash_as_integrity",
     test_verify_run_fails_a_wrong_manifest_hash_as_integrity},
    {"test_verify_run_refuses_unknown_jobs_and_bad_ids",
     test_verify_run_refuses_unknown_jobs_and_bad_ids},
    {NULL, NULL},
};
