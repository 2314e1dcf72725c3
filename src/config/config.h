/* The typed configuration: one INI file (git-style subsections) parsed by ini.c, checked against
 * the one option table in schema.c, secrets resolved (env:NAME, file:PATH), cross-references
 * checked (targets name existing stores). Every error is reported as "FILE:LINE: message". */
#ifndef PERMAFROST_CONFIG_CONFIG_H
#define PERMAFROST_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/secret.h"

/* keep = last 3, hourly 24, daily 7, weekly 4, monthly 6, yearly 2 (restic's forget policy). A
 * field is 0 when not given. An unset or all-zero policy means "keep everything". */
struct keep_policy {
    int last;
    int hourly;
    int daily;
    int weekly;
    int monthly;
    int yearly;
};

enum job_kind { JOB_KIND_POSTGRES = 0 };
enum row_counts_mode { ROW_COUNTS_EXACT = 0, ROW_COUNTS_ESTIMATE, ROW_COUNTS_OFF };

struct cfg_global {
    char *state_dir; /* NULL when not set in the file */
    char *timezone;  /* IANA name; NULL: the machine's */
    int line;
};

struct cfg_store {
    char *name;
    char *type;          /* "local" (later issues: "s3", "rclone") */
    char *path;          /* local: the directory */
    char *remote;        /* rclone: "NAME:path" */
    char *rclone_config; /* rclone: rclone.conf path, or NULL for the default */
    int line;            /* line of the [store "name"] header */
};

struct cfg_job {
    char *name;
    enum job_kind kind;
    char *database;         /* libpq conninfo without a password */
    struct secret password; /* resolved from env:/file:/inline; unset when not configured */
    char *password_ref; /* "env:DB_PASS", "file:/run/...", "inline", or NULL (for config show) */
    char **targets;     /* store names, in order */
    size_t target_count;
    struct keep_policy keep; /* all zero: keep everything */
    char *keep_text;         /* the keep value as written, or NULL */
    bool globals;            /* also pg_dumpall --globals-only */
    int compression_level;   /* zstd level, 1..19, default 3 */
    int compression_threads; /* 0: all cores */
    enum row_counts_mode row_counts;
    char *pg_dump; /* explicit pg_dump path, or NULL to pick the newest installed */
    int line;      /* line of the [job "name"] header */
};

struct config {
    char *path; /* the file it was read from */
    struct cfg_global global;
    struct cfg_store *stores;
    size_t store_count;
    struct cfg_job *jobs;
    size_t job_count;
};

/* Parses text (the contents of the file named path, used in messages). On success fills *cfg
 * (release with config_release). On failure returns -1 with err->kind ERR_CONFIG and err->msg
 * "PATH:LINE: message", with a did-you-mean hint for unknown keys; *cfg is left empty. Reads the
 * environment and secret files. */
int config_parse(const char *path, const char *text, size_t len, struct config *cfg,
                 struct error *err);
/* Reads the file at path and parses it. */
int config_load(const char *path, struct config *cfg, struct error *err);
/* Frees everything (wipes secrets). Safe on a zeroed struct. */
void config_release(struct config *cfg);

const struct cfg_store *config_find_store(const struct config *cfg, const char *name);
const struct cfg_job *config_find_job(const struct config *cfg, const char *name);

/* Writes the effective configuration (defaults filled in) as INI to out, every secret redacted: the
 * reference (env:NAME / file:PATH) is shown, never the value. */
void config_show(const struct config *cfg, struct buf *out);

/* Parses a keep policy ("last 3, daily 7"). */
int config_parse_keep(const char *text, struct keep_policy *out, struct error *err);

/* Resolves a secret reference given outside the file (e.g. a command-line flag): "env:NAME" or
 * "file:PATH" (one trailing newline stripped). Inline values are refused here, so secrets never
 * have to pass through argv. The value never appears in an error message. */
int config_resolve_secret(const char *ref, struct secret *out, struct error *err);

#endif
