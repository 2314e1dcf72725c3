/* The PostgreSQL client programs as child processes: pg_dump, pg_dumpall, pg_restore. Picks the
 * newest installed major version (Debian keeps them in /usr/lib/postgresql/<major>/bin), reads
 * their versions, and passes the password through a private 0600 passfile (PGPASSFILE), never argv.
 */
#ifndef PERMAFROST_SOURCES_PG_DUMP_H
#define PERMAFROST_SOURCES_PG_DUMP_H

#include <stdbool.h>

#include "io/proc.h"
#include "util/error.h"

struct pg_tool {
    char *path;    /* absolute path or a bare name found in PATH */
    char *version; /* "15.18" */
    int major;     /* 15 */
};

/* Finds `name` ("pg_dump", "pg_restore", "pg_dumpall"). explicit_path (may be NULL) wins; else the
 * highest /usr/lib/postgresql/N/bin/NAME; else NAME in PATH. Runs `NAME --version`. */
int pg_tool_find(const char *name, const char *explicit_path, struct pg_tool *out,
                 struct error *err);
/* Finds `name` next to an already found tool (pg_dumpall beside a configured pg_dump), falling back
 * to pg_tool_find's search when the directory has none. */
int pg_tool_find_sibling(const char *name, const struct pg_tool *beside, struct pg_tool *out,
                         struct error *err);
void pg_tool_release(struct pg_tool *t);
/* Parses "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" into "15.18" and 15. */
bool pg_tool_parse_version(const char *text, char **version, int *major);

/* A passfile that never touches a disk: a memfd (mode 0600) holding "*:*:*:*:PASSWORD" with ':' and
 * '\' escaped, inherited by the child processes and named to libpq as PGPASSFILE=/proc/self/fd/N.
 * It disappears with the last process holding it, even after kill -9. env_entry goes to
 * proc_spawn. */
struct pg_passfile {
    int fd;
    char *env_entry;
};

int pg_passfile_create(const char *password, struct pg_passfile *pf, struct error *err);
/* Closes the memfd (the kernel frees its pages); safe on a zeroed struct. */
void pg_passfile_remove(struct pg_passfile *pf);

#endif
