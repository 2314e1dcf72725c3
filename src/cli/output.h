/* Text helpers for the commands: human sizes, a progress line on a terminal, table padding. */
#ifndef PERMAFROST_CLI_OUTPUT_H
#define PERMAFROST_CLI_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/backup.h"

#define OUTPUT_SIZE_LEN 32

/* "0 B", "512 B", "1.5 KiB", "302.4 MiB", "1.57 GiB" */
void output_format_size(uint64_t bytes, char out[OUTPUT_SIZE_LEN]);

/* A progress callback for core: redraws one line on stderr when ctx->is_tty (a struct cli_ctx). */
void output_progress(const struct backup_progress *p, void *ctx);
/* Clears the progress line, if one was drawn. */
void output_progress_end(void);

#endif
