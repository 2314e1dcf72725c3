/* PostgreSQL through libpq (the only file that includes libpq-fe.h): the preflight facts, the
 * exported snapshot that pg_dump joins, row counts inside that snapshot, and the small admin
 * queries restore needs. Every query uses PQexecParams; identifiers are quoted with
 * PQescapeIdentifier. */
#ifndef PERMAFROST_SOURCES_PG_H
#define PERMAFROST_SOURCES_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct pg_conn;

struct pg_facts {
    char *database;
    char *server_version; /* "15.18" (server_version, first word) */
    int server_version_num;
    int64_t database_size_bytes;
    char *encoding;
    char *collate;
    char *ctype;
    char *schema_migrations_head; /* NULL when there is no schema_migrations table */
    char *user;
    bool is_superuser;
};

struct pg_table_count {
    char *schema;
    char *name;
    int64_t rows; /* -1 when not counted */
    bool is_exact;
};

enum pg_count_mode { PG_COUNT_EXACT, PG_COUNT_ESTIMATE, PG_COUNT_OFF };

/* Connects with a libpq conninfo (key=value or URI) and an optional password (NULL: libpq's
 * defaults, e.g. ~/.pgpass). Adds application_name=permafrost and connect_timeout=10 unless the
 * conninfo sets them. Errors are ERR_NETWORK with libpq's message and a hint. *out: free with
 * pg_close. */
int pg_connect(const char *conninfo, const char *password, struct pg_conn **out, struct error *err);
/* Same, overriding the database name (for CREATE DATABASE through the maintenance database). */
int pg_connect_db(const char *conninfo, const char *dbname, const char *password,
                  struct pg_conn **out, struct error *err);
void pg_close(struct pg_conn *c);

int pg_read_facts(struct pg_conn *c, struct pg_facts *out, struct error *err);
void pg_facts_release(struct pg_facts *f);

/* BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_export_snapshot(). *snapshot_name is
 * owned by the caller (xfree). The snapshot stays valid while the transaction is open. */
int pg_export_snapshot(struct pg_conn *c, char **snapshot_name, struct error *err);
/* Lists the ordinary tables outside the system schemas, sorted by schema and name, with row counts
 * by mode, inside the current transaction. *out is an array of *count entries (pg_tables_free). */
int pg_count_tables(struct pg_conn *c, enum pg_count_mode mode, struct pg_table_count **out,
                    size_t *count, struct error *err);
void pg_tables_free(struct pg_table_count *t, size_t count);
/* Ends the transaction. */
int pg_end_transaction(struct pg_conn *c, struct error *err);

/* Number of user relations (tables, views, sequences, matviews) outside the system schemas. */
int pg_count_user_relations(struct pg_conn *c, int64_t *count, struct error *err);
/* The database name of a conninfo (after libpq's parsing and defaults); NULL when none is given. */
char *pg_conninfo_dbname(const char *conninfo);
int pg_database_exists(struct pg_conn *c, const char *dbname, bool *exists, struct error *err);
int pg_create_database(struct pg_conn *c, const char *dbname, const char *encoding,
                       struct error *err);

/* DROP DATABASE IF EXISTS (through a connection to another database). */
int pg_drop_database(struct pg_conn *c, const char *dbname, struct error *err);

/* "15.6" for PQlibVersion. */
const char *pg_client_version(void);

#endif
