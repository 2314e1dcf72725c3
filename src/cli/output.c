#include "cli/output.h"

#include <stdio.h>

#include <sys/ioctl.h>
#include <unistd.h>

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

void output_escape_key(const char *key, struct buf *out)
{
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            buf_addf(out, "\\x%02x", *p);
        else
            buf_add(out, p, 1);
    }
}

/* Columns of the terminal on stderr; 0 when unknown. */
static size_t output_columns(void)
{
    struct winsize ws;

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 0;
}

void output_mirror_progress(const struct mirror_stats *st, void *arg)
{
    const struct output_mirror *om = arg;
    uint64_t done_bytes = st->copied.bytes + st->updated.bytes;
    uint64_t done = st->copied.objects + st->updated.objects;
    int64_t elapsed_ms = time_mono_ms() - om->start_ms;
    char to_copy[OUTPUT_SIZE_LEN];
    char copied[OUTPUT_SIZE_LEN];
    char rate_text[OUTPUT_SIZE_LEN];
    char eta[TIME_ISO_LEN];
    double rate = 0.0;
    size_t cols;
    struct buf line;

    if (!om->cli->is_tty || om->cli->is_quiet)
        return;
    buf_init(&line, BUF_NO_CAP);
    output_format_size(st->to_copy_bytes, to_copy);
    output_format_size(done_bytes, copied);
    if (elapsed_ms > 0)
        rate = (double)done_bytes / ((double)elapsed_ms / 1000.0);
    output_format_size((uint64_t)rate, rate_text);
    buf_addf(&line, "%s: listed %llu, to copy %llu (%s), copied %llu (%s), %s/s", om->job,
             (unsigned long long)st->source.objects, (unsigned long long)st->to_copy, to_copy,
             (unsigned long long)done, copied, rate_text);
    /* The total grows while the listing runs, so the ETA is a floor until it ends. */
    if (rate > 0 && st->to_copy_bytes > done_bytes) {
        time_format_duration((int64_t)((double)(st->to_copy_bytes - done_bytes) / rate * 1000.0),
                             eta);
        buf_addf(&line, ", ETA %s", eta);
    }
    buf_addf(&line, ", deleted %llu/%llu", (unsigned long long)st->deleted.objects,
             (unsigned long long)st->to_delete);
    if (st->failed.objects)
        buf_addf(&line, ", %llu failed", (unsigned long long)st->failed.objects);
    /* A line wider than the terminal wraps, and \r then redraws only its last row. */
    cols = output_columns();
    if (cols > 1 && line.len > cols - 1) {
        line.len = cols - 1;
        line.data[line.len] = '\0';
    }
    fprintf(stderr, "\r\033[K%s", line.data);
    (void)fflush(stderr);
    output_progress_drawn = true;
    buf_release(&line);
}

void output_mirror_plan(enum mirror_action action, const char *key, uint64_t size_bytes, void *arg)
{
    struct output_mirror *om = arg;
    struct mirror_count *c = action == MIRROR_ACTION_COPY     ? &om->plan_copy
                             : action == MIRROR_ACTION_UPDATE ? &om->plan_update
                                                              : &om->plan_delete;
    char size[OUTPUT_SIZE_LEN];
    struct buf shown;

    c->objects++;
    c->bytes += size_bytes;
    if (!om->is_plan_printed)
        return;
    buf_init(&shown, BUF_NO_CAP);
    output_escape_key(key, &shown);
    output_progress_end();
    output_format_size(size_bytes, size);
    switch (action) {
    case MIRROR_ACTION_COPY:
        printf("copy %s (%s)\n", shown.data, size);
        break;
    case MIRROR_ACTION_UPDATE:
        printf("update %s (%s)\n", shown.data, size);
        break;
    case MIRROR_ACTION_DELETE:
        printf("delete %s\n", shown.data);
        break;
    }
    buf_release(&shown);
}
