#include "core/catalog.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "util/time.h"
#include "util/xalloc.h"

/* A run begun on this handle: its monotonic start, so that catalog_run_end can record a duration
 * finer than the wall-clock seconds of started_at and ended_at. */
struct catalog_open_run {
    int64_t run_id;
    int64_t start_mono_ms;
};

#define CATALOG_OPEN_RUNS_MAX 8

struct catalog {
    sqlite3 *db;
    char *path;
    struct catalog_open_run open_runs[CATALOG_OPEN_RUNS_MAX];
    size_t open_run_count;
};

/* Migrations, applied in order; PRAGMA user_version counts how many have run. */
static const char *const catalog_migrations[] = {
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " job TEXT NOT NULL,"
    " snapshot_id TEXT,"
    " started_at INTEGER NOT NULL,"
    " ended_at INTEGER,"
    " result TEXT,"
    " error TEXT,"
    " stored_bytes INTEGER,"
    " raw_bytes INTEGER);"
    "CREATE INDEX runs_job ON runs(job, started_at);"
    "CREATE TABLE snapshots ("
    " job TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " store TEXT NOT NULL,"
    " time INTEGER NOT NULL,"
    " stored_bytes INTEGER NOT NULL,"
    " raw_bytes INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " PRIMARY KEY (job, id, store));",
    /* 2: verify results (issue 6); time is the start of the verify run, so that the items of one
     * run sort together. */
    "CREATE TABLE verifications ("
    " id INTEGER PRIMARY KEY,"
    " job TEXT NOT NULL,"
    " snapshot_id TEXT NOT NULL,"
    " store TEXT NOT NULL,"
    " time INTEGER NOT NULL,"
    " level TEXT NOT NULL,"
    " result TEXT NOT NULL,"
    " detail TEXT,"
    " duration_ms INTEGER NOT NULL);"
    "CREATE INDEX verifications_snapshot ON verifications(job, snapshot_id, time);",
    /* 3: what `status` and the metrics need (issue 7). Existing rows get what can be derived: the
     * kind of a backup run from its snapshot, a duration from the wall-clock times, and each job's
     * first run as the time it was first seen. */
    "ALTER TABLE runs ADD COLUMN kind TEXT;"
    "ALTER TABLE runs ADD COLUMN duration_ms INTEGER;"
    "ALTER TABLE runs ADD COLUMN mirror_copied_objects INTEGER;"
    "ALTER TABLE runs ADD COLUMN mirror_copied_bytes INTEGER;"
    "ALTER TABLE runs ADD COLUMN mirror_deleted_objects INTEGER;"
    "ALTER TABLE runs ADD COLUMN mirror_deleted_bytes INTEGER;"
    "UPDATE runs SET kind = (SELECT s.kind FROM snapshots s WHERE s.job = runs.job"
    " AND s.id = runs.snapshot_id LIMIT 1) WHERE snapshot_id IS NOT NULL;"
    "UPDATE runs SET duration_ms = (ended_at - started_at) * 1000 WHERE ended_at IS NOT NULL;"
    "CREATE INDEX runs_job_result ON runs(job, result, started_at);"
    "CREATE TABLE jobs_seen ("
    " job TEXT PRIMARY KEY,"
    " first_seen INTEGER NOT NULL);"
    "INSERT INTO jobs_seen (job, first_seen) SELECT job, min(started_at) FROM runs GROUP BY job;",
};

static int catalog_fail(struct catalog *c, const char *what, struct error *err)
{
    return error_set(err, ERR_IO, "catalog '%s': %s: %s", c->path, what, sqlite3_errmsg(c->db));
}

static int catalog_exec(struct catalog *c, const char *sql, struct error *err)
{
    char *msg = NULL;

    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        error_set(err, ERR_IO, "catalog '%s': %s", c->path, msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int catalog_read_version(struct catalog *c, int *version, struct error *err)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return catalog_fail(c, "read schema version", err);
    }
    *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return 0;
}

static int catalog_migrate(struct catalog *c, struct error *err)
{
    int version = 0;
    int count = (int)(sizeof(catalog_migrations) / sizeof(catalog_migrations[0]));

    if (catalog_read_version(c, &version, err) < 0)
        return -1;
    if (version > count)
        return error_set(err, ERR_IO,
                         "catalog '%s' was written by a newer permafrost (schema %d, this one "
                         "knows %d)",
                         c->path, version, count);
    if (version == count)
        return 0;
    /* Another process (a run and a scrape, started together after an upgrade) may be migrating
     * too: the version that counts is the one read under the write lock. */
    if (catalog_exec(c, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    if (catalog_read_version(c, &version, err) < 0)
        goto fail;
    if (version > count) {
        error_set(err, ERR_IO,
                  "catalog '%s' was written by a newer permafrost (schema %d, this one knows %d)",
                  c->path, version, count);
        goto fail;
    }
    for (int i = version; i < count; i++) {
        char pragma[64];

        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", i + 1);
        if (catalog_exec(c, catalog_migrations[i], err) < 0 || catalog_exec(c, pragma, err) < 0) {
            error_wrap(err, "migrate catalog to schema %d", i + 1);
            goto fail;
        }
    }
    if (catalog_exec(c, "COMMIT", err) < 0)
        goto fail;
    return 0;
fail : {
    struct error ignored = ERROR_INIT;
    (void)catalog_exec(c, "ROLLBACK", &ignored);
}
    return -1;
}

int catalog_open(const char *state_dir, struct catalog **out, struct error *err)
{
    struct catalog *c = xcalloc(1, sizeof(*c));
    int rc = -1;

    *out = NULL;
    c->path = xasprintf("%s/catalog.db", state_dir);
    if (sqlite3_open_v2(c->path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        catalog_fail(c, "open", err);
        goto out;
    }
    sqlite3_busy_timeout(c->db, 10000);
    if (catalog_exec(c, "PRAGMA journal_mode = WAL", err) < 0 ||
        catalog_exec(c, "PRAGMA foreign_keys = ON", err) < 0 ||
        catalog_exec(c, "PRAGMA synchronous = NORMAL", err) < 0)
        goto out;
    if (catalog_migrate(c, err) < 0)
        goto out;
    *out = c;
    c = NULL;
    rc = 0;
out:
    catalog_close(c);
    return rc;
}

void catalog_close(struct catalog *c)
{
    if (!c)
        return;
    sqlite3_close(c->db);
    xfree(c->path);
    xfree(c);
}

static int catalog_prepare(struct catalog *c, const char *sql, sqlite3_stmt **st, struct error *err)
{
    if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK)
        return catalog_fail(c, "prepare", err);
    return 0;
}

static int catalog_step_done(struct catalog *c, sqlite3_stmt *st, const char *what,
                             struct error *err)
{
    int r = sqlite3_step(st);
    if (r != SQLITE_DONE)
        return catalog_fail(c, what, err);
    return 0;
}

int catalog_run_begin(struct catalog *c, const char *job, const char *snapshot_id,
                      time_t started_at, int64_t *run_id, struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (catalog_prepare(c, "INSERT INTO runs (job, snapshot_id, started_at) VALUES (?, ?, ?)", &st,
                        err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, snapshot_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)started_at);
    if (catalog_step_done(c, st, "record run", err) < 0)
        goto out;
    *run_id = (int64_t)sqlite3_last_insert_rowid(c->db);
    if (c->open_run_count < CATALOG_OPEN_RUNS_MAX) {
        c->open_runs[c->open_run_count].run_id = *run_id;
        c->open_runs[c->open_run_count].start_mono_ms = time_mono_ms();
        c->open_run_count++;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (catalog_prepare(c, "INSERT OR IGNORE INTO jobs_seen (job, first_seen) VALUES (?, ?)", &st,
                        err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)started_at);
    if (catalog_step_done(c, st, "record job", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int catalog_run_end(struct catalog *c, int64_t run_id, time_t ended_at, const char *result,
                    const char *error_text, uint64_t stored_bytes, uint64_t raw_bytes,
                    struct error *err)
{
    sqlite3_stmt *st = NULL;
    int64_t duration_ms = -1;
    int rc = -1;

    for (size_t i = 0; i < c->open_run_count; i++) {
        if (c->open_runs[i].run_id == run_id) {
            duration_ms = time_mono_ms() - c->open_runs[i].start_mono_ms;
            c->open_runs[i] = c->open_runs[--c->open_run_count];
            break;
        }
    }
    /* A run begun on another handle falls back to the wall-clock seconds. */
    if (catalog_prepare(c,
                        "UPDATE runs SET ended_at = ?1, result = ?2, error = ?3, stored_bytes = ?4,"
                        " raw_bytes = ?5, duration_ms = coalesce(?7, (?1 - started_at) * 1000)"
                        " WHERE id = ?6",
                        &st, err) < 0)
        goto out;
    if (duration_ms >= 0)
        sqlite3_bind_int64(st, 7, (sqlite3_int64)duration_ms);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)ended_at);
    sqlite3_bind_text(st, 2, result, -1, SQLITE_TRANSIENT);
    if (error_text)
        sqlite3_bind_text(st, 3, error_text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)stored_bytes);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)raw_bytes);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)run_id);
    if (catalog_step_done(c, st, "record run result", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int catalog_add_snapshot(struct catalog *c, const char *store, const struct manifest *m,
                         struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (catalog_prepare(c,
                        "INSERT OR REPLACE INTO snapshots (job, id, store, time, stored_bytes,"
                        " raw_bytes, kind) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, m->job, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, m->snapshot_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, store, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)m->started_at);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)manifest_stored_bytes(m));
    sqlite3_bind_int64(st, 6, (sqlite3_int64)manifest_raw_bytes(m));
    sqlite3_bind_text(st, 7, m->kind, -1, SQLITE_TRANSIENT);
    if (catalog_step_done(c, st, "record snapshot", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int catalog_remove_snapshot(struct catalog *c, const char *job, const char *id, const char *store,
                            struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (catalog_prepare(c, "DELETE FROM snapshots WHERE job = ? AND id = ? AND store = ?", &st,
                        err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, store, -1, SQLITE_TRANSIENT);
    if (catalog_step_done(c, st, "forget snapshot", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int catalog_begin(struct catalog *c, struct error *err)
{
    return catalog_exec(c, "BEGIN IMMEDIATE", err);
}

int catalog_commit(struct catalog *c, struct error *err)
{
    return catalog_exec(c, "COMMIT", err);
}

int catalog_rollback(struct catalog *c, struct error *err)
{
    if (sqlite3_get_autocommit(c->db))
        return 0;
    return catalog_exec(c, "ROLLBACK", err);
}

int catalog_clear_snapshots(struct catalog *c, struct error *err)
{
    return catalog_exec(c, "DELETE FROM snapshots", err);
}

static char *catalog_column_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return xstrdup(t ? (const char *)t : "");
}

int catalog_list(struct catalog *c, const char *job, struct catalog_snapshot **out, size_t *count,
                 struct error *err)
{
    sqlite3_stmt *st = NULL;
    struct catalog_snapshot *list = NULL;
    size_t n = 0;
    size_t alloc = 0;
    int rc = -1;
    int r;

    *out = NULL;
    *count = 0;
    if (catalog_prepare(c,
                        "SELECT job, id, min(time), max(stored_bytes), max(raw_bytes),"
                        " group_concat(store, ',') FROM (SELECT * FROM snapshots"
                        " WHERE ?1 IS NULL OR job = ?1 ORDER BY store)"
                        " GROUP BY job, id ORDER BY id, job",
                        &st, err) < 0)
        goto out;
    if (job)
        sqlite3_bind_text(st, 1, job, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 1);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        XGROW(list, n + 1, alloc);
        list[n].job = catalog_column_dup(st, 0);
        list[n].id = catalog_column_dup(st, 1);
        list[n].time = (time_t)sqlite3_column_int64(st, 2);
        list[n].stored_bytes = (uint64_t)sqlite3_column_int64(st, 3);
        list[n].raw_bytes = (uint64_t)sqlite3_column_int64(st, 4);
        list[n].stores = catalog_column_dup(st, 5);
        n++;
    }
    if (r != SQLITE_DONE) {
        catalog_fail(c, "list snapshots", err);
        goto out;
    }
    *out = list;
    *count = n;
    list = NULL;
    n = 0;
    rc = 0;
out:
    sqlite3_finalize(st);
    catalog_snapshots_free(list, n);
    return rc;
}

void catalog_snapshots_free(struct catalog_snapshot *s, size_t count)
{
    for (size_t i = 0; s && i < count; i++) {
        xfree(s[i].job);
        xfree(s[i].id);
        xfree(s[i].stores);
    }
    xfree(s);
}

/* The stored level and result map back to the literals catalog.h promises. */
static const char *catalog_level_literal(const unsigned char *t)
{
    return t && strcmp((const char *)t, "restore") == 0 ? "restore" : "integrity";
}

static const char *catalog_result_literal(const unsigned char *t)
{
    return t && strcmp((const char *)t, "ok") == 0 ? "ok" : "failed";
}

int catalog_add_verification(struct catalog *c, const struct catalog_verification *v,
                             struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (catalog_prepare(c,
                        "INSERT INTO verifications (job, snapshot_id, store, time, level, result,"
                        " detail, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, v->job, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, v->snapshot_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, v->store, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)v->time);
    sqlite3_bind_text(st, 5, v->level, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, v->result, -1, SQLITE_TRANSIENT);
    if (v->detail)
        sqlite3_bind_text(st, 7, v->detail, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)v->duration_ms);
    if (catalog_step_done(c, st, "record verification", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int catalog_last_verification(struct catalog *c, const char *job, const char *snapshot_id,
                              struct catalog_verification *out, bool *found, struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    int r;

    *found = false;
    /* Within one run (same time) a failure on any store outranks the successes, and a drill
     * outranks an integrity check. */
    if (catalog_prepare(c,
                        "SELECT store, time, level, result, detail, duration_ms FROM verifications"
                        " WHERE job = ? AND snapshot_id = ? ORDER BY time DESC,"
                        " result = 'failed' DESC, level = 'restore' DESC, id DESC LIMIT 1",
                        &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, snapshot_id, -1, SQLITE_TRANSIENT);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->job = xstrdup(job);
        out->snapshot_id = xstrdup(snapshot_id);
        out->store = catalog_column_dup(st, 0);
        out->time = (time_t)sqlite3_column_int64(st, 1);
        out->level = catalog_level_literal(sqlite3_column_text(st, 2));
        out->result = catalog_result_literal(sqlite3_column_text(st, 3));
        out->detail = catalog_column_dup(st, 4);
        out->duration_ms = (int64_t)sqlite3_column_int64(st, 5);
        *found = true;
    } else if (r != SQLITE_DONE) {
        catalog_fail(c, "read verifications", err);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

void catalog_verification_release(struct catalog_verification *v)
{
    xfree(v->job);
    xfree(v->snapshot_id);
    xfree(v->store);
    xfree(v->detail);
    memset(v, 0, sizeof(*v));
}

int catalog_run_set_kind(struct catalog *c, int64_t run_id, const char *kind, struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (catalog_prepare(c, "UPDATE runs SET kind = ? WHERE id = ?", &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)run_id);
    if (catalog_step_done(c, st, "record run kind", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int catalog_run_set_mirror_counts(struct catalog *c, int64_t run_id,
                                  const struct catalog_mirror_counts *m, struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (catalog_prepare(c,
                        "UPDATE runs SET kind = 'mirror', mirror_copied_objects = ?,"
                        " mirror_copied_bytes = ?, mirror_deleted_objects = ?,"
                        " mirror_deleted_bytes = ? WHERE id = ?",
                        &st, err) < 0)
        goto out;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)m->copied_objects);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)m->copied_bytes);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)m->deleted_objects);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)m->deleted_bytes);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)run_id);
    if (catalog_step_done(c, st, "record mirror counts", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int catalog_last_run_started(struct catalog *c, const char *job, time_t *t, bool *found,
                             struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    int r;

    *found = false;
    if (catalog_prepare(c, "SELECT max(started_at) FROM runs WHERE job = ?", &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_TRANSIENT);
    r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        catalog_fail(c, "read runs", err);
        goto out;
    }
    if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *t = (time_t)sqlite3_column_int64(st, 0);
        *found = true;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static char *catalog_column_dup_or_null(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? xstrdup((const char *)t) : NULL;
}

static uint64_t catalog_column_u64(sqlite3_stmt *st, int col)
{
    sqlite3_int64 v = sqlite3_column_int64(st, col);
    return v > 0 ? (uint64_t)v : 0;
}

int catalog_last_run(struct catalog *c, const char *job, bool is_ok_only, struct catalog_run *out,
                     bool *found, struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    int r;

    *found = false;
    if (catalog_prepare(c,
                        "SELECT id, kind, snapshot_id, started_at, ended_at, result, error,"
                        " duration_ms, stored_bytes, raw_bytes, mirror_copied_objects,"
                        " mirror_copied_bytes, mirror_deleted_objects, mirror_deleted_bytes"
                        " FROM runs WHERE job = ?1 AND (?2 = 0 OR result = 'ok')"
                        " ORDER BY started_at DESC, id DESC LIMIT 1",
                        &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, is_ok_only ? 1 : 0);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->id = (int64_t)sqlite3_column_int64(st, 0);
        out->job = xstrdup(job);
        out->kind = catalog_column_dup_or_null(st, 1);
        out->snapshot_id = catalog_column_dup_or_null(st, 2);
        out->started_at = (time_t)sqlite3_column_int64(st, 3);
        out->ended_at = (time_t)sqlite3_column_int64(st, 4);
        out->result = catalog_column_dup_or_null(st, 5);
        out->error = catalog_column_dup_or_null(st, 6);
        out->duration_ms =
            sqlite3_column_type(st, 7) == SQLITE_NULL ? -1 : (int64_t)sqlite3_column_int64(st, 7);
        out->stored_bytes = catalog_column_u64(st, 8);
        out->raw_bytes = catalog_column_u64(st, 9);
        out->has_mirror_counts = sqlite3_column_type(st, 10) != SQLITE_NULL;
        out->mirror.copied_objects = catalog_column_u64(st, 10);
        out->mirror.copied_bytes = catalog_column_u64(st, 11);
        out->mirror.deleted_objects = catalog_column_u64(st, 12);
        out->mirror.deleted_bytes = catalog_column_u64(st, 13);
        *found = true;
    } else if (r != SQLITE_DONE) {
        catalog_fail(c, "read runs", err);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

void catalog_run_release(struct catalog_run *r)
{
    xfree(r->job);
    xfree(r->kind);
    xfree(r->snapshot_id);
    xfree(r->result);
    xfree(r->error);
    memset(r, 0, sizeof(*r));
}

int catalog_run_counts(struct catalog *c, struct catalog_run_count **out, size_t *count,
                       struct error *err)
{
    sqlite3_stmt *st = NULL;
    struct catalog_run_count *list = NULL;
    size_t n = 0;
    size_t alloc = 0;
    int rc = -1;
    int r;

    *out = NULL;
    *count = 0;
    if (catalog_prepare(c,
                        "SELECT job, result, count(*) FROM runs WHERE result IS NOT NULL"
                        " GROUP BY job, result ORDER BY job, result",
                        &st, err) < 0)
        goto out;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        XGROW(list, n + 1, alloc);
        list[n].job = catalog_column_dup(st, 0);
        list[n].result = catalog_column_dup(st, 1);
        list[n].count = catalog_column_u64(st, 2);
        n++;
    }
    if (r != SQLITE_DONE) {
        catalog_fail(c, "count runs", err);
        goto out;
    }
    *out = list;
    *count = n;
    list = NULL;
    n = 0;
    rc = 0;
out:
    sqlite3_finalize(st);
    catalog_run_counts_free(list, n);
    return rc;
}

void catalog_run_counts_free(struct catalog_run_count *rc, size_t count)
{
    for (size_t i = 0; rc && i < count; i++) {
        xfree(rc[i].job);
        xfree(rc[i].result);
    }
    xfree(rc);
}

int catalog_mirror_totals(struct catalog *c, const char *job, struct catalog_mirror_counts *out,
                          struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (catalog_prepare(c,
                        "SELECT total(mirror_copied_objects), total(mirror_copied_bytes),"
                        " total(mirror_deleted_objects), total(mirror_deleted_bytes)"
                        " FROM runs WHERE job = ?",
                        &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        catalog_fail(c, "sum mirror counts", err);
        goto out;
    }
    out->copied_objects = (uint64_t)sqlite3_column_double(st, 0);
    out->copied_bytes = (uint64_t)sqlite3_column_double(st, 1);
    out->deleted_objects = (uint64_t)sqlite3_column_double(st, 2);
    out->deleted_bytes = (uint64_t)sqlite3_column_double(st, 3);
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int catalog_store_usage(struct catalog *c, struct catalog_store_usage **out, size_t *count,
                        struct error *err)
{
    sqlite3_stmt *st = NULL;
    struct catalog_store_usage *list = NULL;
    size_t n = 0;
    size_t alloc = 0;
    int rc = -1;
    int r;

    *out = NULL;
    *count = 0;
    if (catalog_prepare(c,
                        "SELECT store, job, count(*), total(stored_bytes), max(time)"
                        " FROM snapshots GROUP BY store, job ORDER BY store, job",
                        &st, err) < 0)
        goto out;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        XGROW(list, n + 1, alloc);
        list[n].store = catalog_column_dup(st, 0);
        list[n].job = catalog_column_dup(st, 1);
        list[n].snapshot_count = catalog_column_u64(st, 2);
        list[n].stored_bytes = (uint64_t)sqlite3_column_double(st, 3);
        list[n].newest = (time_t)sqlite3_column_int64(st, 4);
        n++;
    }
    if (r != SQLITE_DONE) {
        catalog_fail(c, "sum snapshots", err);
        goto out;
    }
    *out = list;
    *count = n;
    list = NULL;
    n = 0;
    rc = 0;
out:
    sqlite3_finalize(st);
    catalog_store_usage_free(list, n);
    return rc;
}

void catalog_store_usage_free(struct catalog_store_usage *u, size_t count)
{
    for (size_t i = 0; u && i < count; i++) {
        xfree(u[i].store);
        xfree(u[i].job);
    }
    xfree(u);
}

/* The recorded first sighting of job, or the start of its first run when that is earlier. */
static int catalog_job_first_seen(struct catalog *c, const char *job, time_t *first_seen,
                                  bool *found, struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    int r;

    *found = false;
    if (catalog_prepare(c,
                        "SELECT min(first_seen, coalesce((SELECT min(started_at) FROM runs"
                        " WHERE job = ?1), first_seen)) FROM jobs_seen WHERE job = ?1",
                        &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_TRANSIENT);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *first_seen = (time_t)sqlite3_column_int64(st, 0);
        *found = true;
    } else if (r != SQLITE_DONE) {
        catalog_fail(c, "read job", err);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int catalog_job_seen(struct catalog *c, const char *job, time_t now, time_t *first_seen,
                     struct error *err)
{
    sqlite3_stmt *st = NULL;
    bool found = false;
    int rc = -1;

    /* Read first: a known job (the usual case, every scrape) needs no write lock, so a run that
     * holds one never makes status or the metrics endpoint wait. */
    if (catalog_job_first_seen(c, job, first_seen, &found, err) < 0)
        goto out;
    if (found) {
        rc = 0;
        goto out;
    }
    if (catalog_prepare(c, "INSERT OR IGNORE INTO jobs_seen (job, first_seen) VALUES (?, ?)", &st,
                        err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
    if (catalog_step_done(c, st, "record job", err) < 0)
        goto out;
    if (catalog_job_first_seen(c, job, first_seen, &found, err) < 0)
        goto out;
    if (!found)
        *first_seen = now;
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

const char *catalog_sqlite_version(void)
{
    return sqlite3_libversion();
}
