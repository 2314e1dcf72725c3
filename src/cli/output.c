#include "cli/output.h"

#include <stdio.h>

#include "cli/commands.h"
#include "util/time.h"

static bool output_progress_drawn;

void output_format_size(uint64_t bytes, char out[OUTPUT_SIZE_LEN])
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;

    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(out, OUTPUT_SIZE_LEN, "%llu B", (unsigned long long)bytes);
    else
        snprintf(out, OUTPUT_SIZE_LEN, v < 10.0 ? "%.2f %s" : "%.1f %s", v, units[u]);
}

void output_progress(const struct backup_progress *p, void *arg)
{
    const struct cli_ctx *ctx = arg;
    char raw[OUTPUT_SIZE_LEN];
    char stored[OUTPUT_SIZE_LEN];
    char elapsed[TIME_ISO_LEN];
    double rate = 0.0;

    if (!ctx->is_tty || ctx->is_quiet)
        return;
    output_format_size(p->raw_bytes, raw);
    output_format_size(p->stored_bytes, stored);
    time_format_duration(p->elapsed_ms, elapsed);
    if (p->elapsed_ms > 0)
        rate = (double)p->raw_bytes / 1048576.0 / ((double)p->elapsed_ms / 1000.0);
    fprintf(stderr, "\r\033[K%s: %s: %s read, %s stored, %.0f MiB/s, %s", p->job, p->phase, raw,
            stored, rate, elapsed);
    (void)fflush(stderr);
    output_progress_drawn = true;
}

void output_progress_end(void)
{
    if (output_progress_drawn) {
        fprintf(stderr, "\r\033[K");
        (void)fflush(stderr);
        output_progress_drawn = false;
    }
}
