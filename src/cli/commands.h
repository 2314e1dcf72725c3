/* The command table (git's builtins): one cmd_<name>.c per command, each with its getopt_long table
 * next to its usage text. main.c parses the shared flags, loads the config for commands that need
 * it, and dispatches here. */
#ifndef PERMAFROST_CLI_COMMANDS_H
#define PERMAFROST_CLI_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"
#include "util/error.h"
#include "util/secret.h"

enum command_flags { NEEDS_CONFIG = 1 << 0 };

struct cli_ctx {
    const char *config_path;    /* the file loaded (or that would be) */
    struct config *cfg;         /* loaded when the command has NEEDS_CONFIG */
    const char *state_dir_flag; /* --state-dir, or NULL */
    bool is_json;
    bool is_quiet;
    int verbosity;
    bool is_tty; /* stderr is a terminal: show progress */
};

/* A command returns 0, or -1 with err set (main prints it once and maps it to an exit code). A
 * command that failed but already reported its failures (e.g. some jobs of several) sets err too.
 */
typedef int (*command_fn)(int argc, char **argv, struct cli_ctx *ctx, struct error *err);

struct command {
    const char *name;
    command_fn fn;
    const char *summary;
    int flags;
};

const struct command *commands_find(const char *name);

struct catalog_verification;
#define LIST_VERIFIED_LEN 64
/* How `list` shows a snapshot's last verification: "restore ok 2026-11-29 17:03", "integrity
 * FAILED 2026-11-29 17:03", or "never" when v is NULL. */
void list_format_verified(const struct catalog_verification *v, char out[LIST_VERIFIED_LEN]);
void commands_print_usage(FILE *out);

int cmd_run(int argc, char **argv, struct cli_ctx *ctx, struct error *err);
int cmd_list(int argc, char **argv, struct cli_ctx *ctx, struct error *err);
int cmd_restore(int argc, char **argv, struct cli_ctx *ctx, struct error *err);
int cmd_verify(int argc, char **argv, struct cli_ctx *ctx, struct error *err);
int cmd_status(int argc, char **argv, struct cli_ctx *ctx, struct error *err);
int cmd_prune(int argc, char **argv, struct cli_ctx *ctx, struct error *err);
int cmd_config(int argc, char **argv, struct cli_ctx *ctx, struct error *err);
int cmd_catalog(int argc, char **argv, struct cli_ctx *ctx, struct error *err);
int cmd_store(int argc, char **argv, struct cli_ctx *ctx, struct error *err);
int cmd_version(int argc, char **argv, struct cli_ctx *ctx, struct error *err);
int cmd_daemon(int argc, char **argv, struct cli_ctx *ctx, struct error *err);
int cmd_notify(int argc, char **argv, struct cli_ctx *ctx, struct error *err);
int cmd_keygen(int argc, char **argv, struct cli_ctx *ctx, struct error *err);

/* Reads an age identity file (restore/verify --identity) into out; ERR_USAGE when unreadable. */
int cli_read_identity(const char *path, struct secret *out, struct error *err);

#endif
