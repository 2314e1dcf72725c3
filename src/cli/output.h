/* Text helpers for the commands: human sizes, a progress line on a terminal, table padding. */
#ifndef PERMAFROST_CLI_OUTPUT_H
#define PERMAFROST_CLI_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

struct cli_ctx;

#include "core/backup.h"
#include "mirror/mirror.h"
#include "util/buf.h"

#define OUTPUT_SIZE_LEN 32

/* "0 B", "512 B", "1.5 KiB", "302.4 MiB", "1.57 GiB" */
void output_format_size(uint64_t bytes, char out[OUTPUT_SIZE_LEN]);

/* A progress callback for core: redraws one line on stderr when ctx->is_tty (a struct cli_ctx). */
void output_progress(const struct backup_progress *p, void *ctx);
/* Clears the progress line, if one was drawn. */
void output_progress_end(void);

/* State of one mirror run's output: the ctx of output_mirror_progress and output_mirror_plan. */
struct output_mirror {
    const struct cli_ctx *cli;
    const char *job;
    int64_t start_ms;     /* time_mono_ms() when the run started */
    bool is_plan_printed; /* print the plan lines (text output of --dry-run) */
    /* What the plan holds so far (--dry-run). */
    struct mirror_count plan_copy;
    struct mirror_count plan_update;
    struct mirror_count plan_delete;
};

/* A mirror progress callback: on a terminal (and not --quiet), redraws one line on stderr with the
 * objects listed, to copy, copied, bytes, rate, ETA and deletions. Quiet otherwise. */
void output_mirror_progress(const struct mirror_stats *st, void *ctx);
/* A mirror plan callback: counts the action and, when is_plan_printed, prints "copy KEY (SIZE)",
 * "update KEY (SIZE)" or "delete KEY" on stdout, the key's control bytes escaped as \xNN. */
void output_mirror_plan(enum mirror_action action, const char *key, uint64_t size_bytes, void *ctx);
/* Appends key to out for a terminal: bytes below 0x20, 0x7f and '\\' escaped, the rest as is. */
void output_escape_key(const char *key, struct buf *out);

#endif
