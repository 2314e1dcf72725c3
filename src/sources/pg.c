#include "sources/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "util/buf.h"
#include "util/cancel.h"
#include "util/xalloc.h"

struct pg_conn {
    PGconn *conn;
};

static void pg_copy_error(PGconn *conn, char *dst, size_t cap)
{
    const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
    size_t n = strlen(msg);

    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, msg, n);
    dst[n] = '\0';
    /* libpq messages span lines ("connection to server ... failed: FATAL: ..."): keep one line. */
    for (char *p = dst; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

static bool pg_conninfo_has(PQconninfoOption *opts, const char *key)
{
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0 && o->val && *o->val)
            return true;
    return false;
}

int pg_connect_db(const char *conninfo, const char *dbname, const char *password,
                  struct pg_conn **out, struct error *err)
{
    const char *keys[8];
    const char *vals[8];
    int n = 0;
    char *parse_err = NULL;
    PQconninfoOption *opts = NULL;
    PGconn *conn = NULL;
    char msg[768];
    int rc = -1;

    *out = NULL;
    opts = PQconninfoParse(conninfo, &parse_err);
    if (!opts) {
        error_set(err, ERR_CONFIG, "invalid connection string: %s",
                  parse_err ? parse_err : "out of memory");
        goto out;
    }
    keys[n] = "dbname";
    vals[n++] = conninfo;
    if (!pg_conninfo_has(opts, "application_name")) {
        keys[n] = "application_name";
        vals[n++] = "permafrost";
    }
    if (!pg_conninfo_has(opts, "connect_timeout")) {
        keys[n] = "connect_timeout";
        vals[n++] = "10";
    }
    if (password) {
        keys[n] = "password";
        vals[n++] = password;
    }
    if (dbname) {
        /* A later dbname is not expanded: it overrides the one inside the conninfo. */
        keys[n] = "dbname";
        vals[n++] = dbname;
    }
    keys[n] = NULL;
    vals[n] = NULL;
    conn = PQconnectdbParams(keys, vals, 1);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        pg_copy_error(conn, msg, sizeof(msg));
        error_set(err, ERR_NETWORK, "connect to PostgreSQL: %s", msg);
        if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied"))
            error_hint(err, "check the job's 'password' (env:NAME or file:PATH) and the user in "
                            "'database'");
        else if (strstr(msg, "Connection refused") || strstr(msg, "timeout") ||
                 strstr(msg, "could not translate host name"))
            error_hint(err, "is PostgreSQL running and listening on that host and port? connect "
                            "directly to PostgreSQL, not through PgBouncer");
        goto out;
    }
    *out = xcalloc(1, sizeof(**out));
    (*out)->conn = conn;
    conn = NULL;
    rc = 0;
out:
    if (conn)
        PQfinish(conn);
    PQconninfoFree(opts);
    PQfreemem(parse_err);
    return rc;
}

int pg_connect(const char *conninfo, const char *password, struct pg_conn **out, struct error *err)
{
    return pg_connect_db(conninfo, NULL, password, out, err);
}

void pg_close(struct pg_conn *c)
{
    if (!c)
        return;
    PQfinish(c->conn);
    xfree(c);
}

/* Runs a query with text parameters; *res is set on success (PQclear it). */
static int pg_query(struct pg_conn *c, const char *sql, int nparams, const char *const *params,
                    PGresult **res, struct error *err)
{
    char msg[768];
    ExecStatusType st;

    *res = PQexecParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    st = PQresultStatus(*res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    pg_copy_error(c->conn, msg, sizeof(msg));
    PQclear(*res);
    *res = NULL;
    return error_set(err, ERR_REMOTE, "query failed: %s", msg);
}

static char *pg_value_dup(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return xstrdup(PQgetvalue(res, row, col));
}

static int64_t pg_value_i64(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return -1;
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int pg_read_facts(struct pg_conn *c, struct pg_facts *out, struct error *err)
{
    PGresult *res = NULL;
    int rc = -1;
    struct pg_facts f;

    memset(&f, 0, sizeof(f));
    if (pg_query(
            c,
            "SELECT current_database(), split_part(current_setting('server_version'), ' ', 1),"
            " current_setting('server_version_num')::int, pg_database_size(current_database()),"
            " pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, current_user,"
            " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),"
            " to_regclass('public.schema_migrations') IS NOT NULL"
            " FROM pg_database d WHERE d.datname = current_database()",
            0, NULL, &res, err) < 0)
        goto out;
    if (PQntuples(res) != 1) {
        error_set(err, ERR_REMOTE, "cannot read the current database from pg_database");
        goto out;
    }
    f.database = pg_value_dup(res, 0, 0);
    f.server_version = pg_value_dup(res, 0, 1);
    f.server_version_num = (int)pg_value_i64(res, 0, 2);
    f.database_size_bytes = pg_value_i64(res, 0, 3);
    f.encoding = pg_value_dup(res, 0, 4);
    f.collate = pg_value_dup(res, 0, 5);
    f.ctype = pg_value_dup(res, 0, 6);
    f.user = pg_value_dup(res, 0, 7);
    f.is_superuser = strcmp(PQgetvalue(res, 0, 8), "t") == 0;
    if (strcmp(PQgetvalue(res, 0, 9), "t") == 0) {
        PQclear(res);
        res = NULL;
        /* Mastodon's schema version: the newest applied migration. */
        if (pg_query(c, "SELECT max(version)::text FROM public.schema_migrations", 0, NULL, &res,
                     err) < 0)
            goto out;
        if (PQntuples(res) == 1)
            f.schema_migrations_head = pg_value_dup(res, 0, 0);
    }
    *out = f;
    memset(&f, 0, sizeof(f));
    rc = 0;
out:
    PQclear(res);
    pg_facts_release(&f);
    return rc;
}

void pg_facts_release(struct pg_facts *f)
{
    xfree(f->database);
    xfree(f->server_version);
    xfree(f->encoding);
    xfree(f->collate);
    xfree(f->ctype);
    xfree(f->schema_migrations_head);
    xfree(f->user);
    memset(f, 0, sizeof(*f));
}

int pg_export_snapshot(struct pg_conn *c, char **snapshot_name, struct error *err)
{
    PGresult *res = NULL;
    int rc = -1;

    *snapshot_name = NULL;
    /* This session sits idle in its transaction while pg_dump runs, and counts whole tables: a
     * server or role default for these timeouts would kill it and fail a good dump. */
    if (pg_query(c, "SET idle_in_transaction_session_timeout = 0", 0, NULL, &res, err) < 0)
        goto out;
    PQclear(res);
    if (pg_query(c, "SET statement_timeout = 0", 0, NULL, &res, err) < 0)
        goto out;
    PQclear(res);
    res = NULL;
    if (pg_query(c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL, &res, err) < 0)
        goto out;
    PQclear(res);
    res = NULL;
    if (pg_query(c, "SELECT pg_export_snapshot()", 0, NULL, &res, err) < 0)
        goto out;
    *snapshot_name = xstrdup(PQgetvalue(res, 0, 0));
    rc = 0;
out:
    PQclear(res);
    if (rc < 0)
        error_wrap(err, "export a snapshot");
    return rc;
}

int pg_end_transaction(struct pg_conn *c, struct error *err)
{
    PGresult *res = NULL;

    if (pg_query(c, "COMMIT", 0, NULL, &res, err) < 0)
        return -1;
    PQclear(res);
    return 0;
}

void pg_tables_free(struct pg_table_count *t, size_t count)
{
    for (size_t i = 0; t && i < count; i++) {
        xfree(t[i].schema);
        xfree(t[i].name);
    }
    xfree(t);
}

int pg_count_tables(struct pg_conn *c, enum pg_count_mode mode, struct pg_table_count **out,
                    size_t *count, struct error *err)
{
    PGresult *res = NULL;
    PGresult *cnt = NULL;
    struct pg_table_count *t = NULL;
    size_t n = 0;
    int rc = -1;

    *out = NULL;
    *count = 0;
    /* Ordinary tables (and partitions) that pg_dump dumps data for; extension-owned tables are
     * skipped, as pg_dump skips their data unless marked as configuration tables. */
    if (pg_query(c,
                 "SELECT n.nspname, c.relname, c.reltuples::bigint FROM pg_class c"
                 " JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                 " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
                 " AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid ="
                 " 'pg_class'::regclass AND dep.objid = c.oid AND dep.deptype = 'e')"
                 " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
                 0, NULL, &res, err) < 0)
        goto out;
    n = (size_t)PQntuples(res);
    t = xcalloc(n ? n : 1, sizeof(*t));
    for (size_t i = 0; i < n; i++) {
        int row = (int)i;
        t[i].schema = pg_value_dup(res, row, 0);
        t[i].name = pg_value_dup(res, row, 1);
        t[i].rows = -1;
        if (mode == PG_COUNT_ESTIMATE) {
            int64_t est = pg_value_i64(res, row, 2);
            t[i].rows = est < 0 ? -1 : est; /* -1: never analyzed */
        } else if (mode == PG_COUNT_EXACT) {
            if (cancel_requested()) {
                error_set(err, ERR_CANCELLED, "cancelled while counting rows");
                goto out;
            }
            char *qs = PQescapeIdentifier(c->conn, t[i].schema, strlen(t[i].schema));
            char *qn = PQescapeIdentifier(c->conn, t[i].name, strlen(t[i].name));
            char *sql = xasprintf("SELECT count(*) FROM %s.%s", qs ? qs : "", qn ? qn : "");
            int r;

            PQfreemem(qs);
            PQfreemem(qn);
            r = pg_query(c, sql, 0, NULL, &cnt, err);
            xfree(sql);
            if (r < 0) {
                error_wrap(err, "count rows of '%s.%s'", t[i].schema, t[i].name);
                goto out;
            }
            t[i].rows = pg_value_i64(cnt, 0, 0);
            t[i].is_exact = true;
            PQclear(cnt);
            cnt = NULL;
        }
    }
    *out = t;
    *count = n;
    t = NULL;
    rc = 0;
out:
    PQclear(res);
    PQclear(cnt);
    pg_tables_free(t, n);
    return rc;
}

int pg_count_user_relations(struct pg_conn *c, int64_t *count, struct error *err)
{
    PGresult *res = NULL;

    if (pg_query(c,
                 "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
                 " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                 " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'",
                 0, NULL, &res, err) < 0)
        return -1;
    *count = pg_value_i64(res, 0, 0);
    PQclear(res);
    return 0;
}

char *pg_conninfo_dbname(const char *conninfo)
{
    char *parse_err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &parse_err);
    char *name = NULL;

    PQfreemem(parse_err);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "dbname") == 0 && o->val && *o->val)
            name = xstrdup(o->val);
    PQconninfoFree(opts);
    return name;
}

int pg_database_exists(struct pg_conn *c, const char *dbname, bool *exists, struct error *err)
{
    PGresult *res = NULL;
    const char *params[1] = {dbname};

    if (pg_query(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, params, &res, err) < 0)
        return -1;
    *exists = PQntuples(res) > 0;
    PQclear(res);
    return 0;
}

int pg_create_database(struct pg_conn *c, const char *dbname, const char *encoding,
                       struct error *err)
{
    PGresult *res = NULL;
    char *qn = PQescapeIdentifier(c->conn, dbname, strlen(dbname));
    char *qe = encoding ? PQescapeLiteral(c->conn, encoding, strlen(encoding)) : NULL;
    char *sql;
    int rc;

    if (!qn) {
        PQfreemem(qe);
        return error_set(err, ERR_USAGE, "invalid database name '%s'", dbname);
    }
    /* template0, so the new database holds nothing but what the dump brings. */
    sql = qe ? xasprintf("CREATE DATABASE %s TEMPLATE template0 ENCODING %s", qn, qe)
             : xasprintf("CREATE DATABASE %s TEMPLATE template0", qn);
    rc = pg_query(c, sql, 0, NULL, &res, err);
    if (rc < 0)
        error_wrap(err, "create database '%s'", dbname);
    PQclear(res);
    xfree(sql);
    PQfreemem(qn);
    PQfreemem(qe);
    return rc;
}

int pg_drop_database(struct pg_conn *c, const char *dbname, struct error *err)
{
    PGresult *res = NULL;
    char *qn = PQescapeIdentifier(c->conn, dbname, strlen(dbname));
    char *sql;
    int rc;

    if (!qn)
        return error_set(err, ERR_USAGE, "invalid database name '%s'", dbname);
    sql = xasprintf("DROP DATABASE IF EXISTS %s", qn);
    rc = pg_query(c, sql, 0, NULL, &res, err);
    if (rc < 0)
        error_wrap(err, "drop database '%s'", dbname);
    PQclear(res);
    xfree(sql);
    PQfreemem(qn);
    return rc;
}

const char *pg_client_version(void)
{
    static char v[32];
    int n = PQlibVersion();

    if (n >= 100000)
        snprintf(v, sizeof(v), "%d.%d", n / 10000, n % 10000);
    else
        snprintf(v, sizeof(v), "%d.%d.%d", n / 10000, n / 100 % 100, n % 100);
    return v;
}
