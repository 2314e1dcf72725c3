#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/json_writer.h"

static enum log_level log_level_max = LOG_INFO;
static enum log_format log_fmt = LOG_FORMAT_TEXT;

/* The tail (see log.h): a buffer of whole lines; when a line would pass LOG_TAIL_CAP, the oldest
 * lines are dropped first (a memmove per dropped batch, at most LOG_TAIL_CAP bytes). */
static struct buf log_tail_buf;
static bool log_is_tail_on;

static const char *const log_level_names[] = {"error", "warn", "info", "debug", "trace"};

void log_setup(enum log_level max_level, enum log_format format)
{
    log_level_max = max_level;
    log_fmt = format;
}

enum log_level log_max_level(void)
{
    return log_level_max;
}

bool log_enabled(enum log_level level)
{
    return level <= log_level_max;
}

void log_tail_start(void)
{
    if (!log_is_tail_on)
        buf_init(&log_tail_buf, BUF_NO_CAP);
    buf_reset(&log_tail_buf);
    log_is_tail_on = true;
}

void log_tail_stop(void)
{
    if (log_is_tail_on)
        buf_release(&log_tail_buf);
    log_is_tail_on = false;
}

void log_tail_copy(struct buf *out)
{
    if (log_is_tail_on && log_tail_buf.len)
        (void)buf_add(out, log_tail_buf.data, log_tail_buf.len);
}

/* Keeps line (text format, without its newline) in the tail. */
static void log_tail_keep(const char *line)
{
    size_t n = strlen(line);
    size_t drop = 0;

    if (n + 1 > LOG_TAIL_CAP)
        n = LOG_TAIL_CAP - 1;
    if (log_tail_buf.len + n + 1 > LOG_TAIL_CAP) {
        size_t need = log_tail_buf.len + n + 1 - LOG_TAIL_CAP;
        const char *nl;
        while (drop < need) {
            nl = memchr(log_tail_buf.data + drop, '\n', log_tail_buf.len - drop);
            drop = nl ? (size_t)(nl - log_tail_buf.data) + 1 : log_tail_buf.len;
        }
        memmove(log_tail_buf.data, log_tail_buf.data + drop, log_tail_buf.len - drop);
        log_tail_buf.len -= drop;
        log_tail_buf.data[log_tail_buf.len] = '\0';
    }
    (void)buf_add(&log_tail_buf, line, n);
    (void)buf_adds(&log_tail_buf, "\n");
}

/* "src/core/backup.c" -> "backup" */
static void log_component(const char *file, char *out, size_t cap)
{
    const char *base = strrchr(file, '/');
    size_t n;

    base = base ? base + 1 : file;
    n = strcspn(base, ".");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, base, n);
    out[n] = '\0';
}

void log_write(enum log_level level, const char *file, const char *fmt, ...)
{
    char msg[4096];
    char stamp[32];
    char component[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    bool is_kept = log_is_tail_on && level <= LOG_INFO;

    if (!log_enabled(level) && !is_kept)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    (void)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    buf_format_fixed(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%03dZ",
                     (int)(ts.tv_nsec / 1000000));
    log_component(file, component, sizeof(component));
    if (is_kept) {
        char line[sizeof(msg) + 128];
        buf_format_fixed(line, sizeof(line), "%s %-5s %s: %s", stamp, log_level_names[level],
                         component, msg);
        log_tail_keep(line);
    }
    if (!log_enabled(level))
        return;
    if (log_fmt == LOG_FORMAT_JSON) {
        struct buf b;
        struct json_writer w;

        buf_init(&b, BUF_NO_CAP);
        json_writer_init(&w, &b);
        json_begin_object(&w);
        json_key_string(&w, "time", stamp);
        json_key_string(&w, "level", log_level_names[level]);
        json_key_string(&w, "component", component);
        json_key_string(&w, "msg", msg);
        json_end_object(&w);
        fprintf(stderr, "%s\n", b.data);
        buf_release(&b);
    } else {
        fprintf(stderr, "%s %-5s %s: %s\n", stamp, log_level_names[level], component, msg);
    }
}
