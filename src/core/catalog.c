#include "core/catalog.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "util/xalloc.h"

struct catalog {
    sqlite3 *db;
    char *path;
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

static int catalog_migrate(struct catalog *c, struct error *err)
{
    sqlite3_stmt *st = NULL;
    int version;
    int count = (int)(sizeof(catalog_migrations) / sizeof(catalog_migrations[0]));

    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return catalog_fail(c, "read schema version", err);
    }
    version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > count)
        return error_set(err, ERR_IO,
                         "catalog '%s' was written by a newer permafrost (schema %d, this one "
                         "knows %d)",
                         c->path, version, count);
    for (int i = version; i < count; i++) {
        char pragma[64];

        if (catalog_exec(c, "BEGIN IMMEDIATE", err) < 0)
            return -1;
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", i + 1);
        if (catalog_exec(c, catalog_migrations[i], err) < 0 || catalog_exec(c, pragma, err) < 0) {
            catalog_exec(c, "ROLLBACK", err);
            return error_wrap(err, "migrate catalog to schema %d", i + 1);
        }
        if (catalog_exec(c, "COMMIT", err) < 0)
            return -1;
    }
    return 0;
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
    int rc = -1;

    if (catalog_prepare(c,
                        "UPDATE runs SET ended_at = ?, result = ?, error = ?, stored_bytes = ?,"
                        " raw_bytes = ? WHERE id = ?",
                        &st, err) < 0)
        goto out;
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

/* The text of a column, or NULL when it is NULL. */
static char *catalog_column_dup_null(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? xstrdup((const char *)t) : NULL;
}

int catalog_last_run(struct catalog *c, const char *job, struct catalog_run *out, bool *found,
                     struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    int r;

    *found = false;
    if (catalog_prepare(c,
                        "SELECT id, snapshot_id, started_at, ended_at, result, error, stored_bytes,"
                        " raw_bytes FROM runs WHERE job = ? ORDER BY started_at DESC, id DESC"
                        " LIMIT 1",
                        &st, err) < 0)
        goto out;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_TRANSIENT);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->id = (int64_t)sqlite3_column_int64(st, 0);
        out->snapshot_id = catalog_column_dup_null(st, 1);
        out->started_at = (time_t)sqlite3_column_int64(st, 2);
        out->ended_at = (time_t)sqlite3_column_int64(st, 3);
        out->result = catalog_column_dup_null(st, 4);
        out->error = catalog_column_dup_null(st, 5);
        out->stored_bytes = (uint64_t)sqlite3_column_int64(st, 6);
        out->raw_bytes = (uint64_t)sqlite3_column_int64(st, 7);
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
    if (!r)
        return;
    xfree(r->snapshot_id);
    xfree(r->result);
    xfree(r->error);
    memset(r, 0, sizeof(*r));
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

const char *catalog_sqlite_version(void)
{
    return sqlite3_libversion();
}
