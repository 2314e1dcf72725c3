/* One line per event on stderr: UTC time, level, component (the source file's stem), message; or
 * one JSON object per line with --log-format=json. Below core/, modules log at debug or trace only.
 */
#ifndef PERMAFROST_UTIL_LOG_H
#define PERMAFROST_UTIL_LOG_H

#include <stdbool.h>

#include "util/buf.h"
#include "util/error.h"

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

void log_setup(enum log_level max_level, enum log_format format);
enum log_level log_max_level(void);
bool log_enabled(enum log_level level);
void log_write(enum log_level level, const char *file, const char *fmt, ...) PRINTF(3, 4);

/* The tail: while started, every line at info level or above (whether printed or not, in the
 * text format) is also kept in memory, the oldest lines dropped beyond LOG_TAIL_CAP bytes. A job's
 * failure notification carries it (healthchecks keeps it as the ping's log). Logs hold no
 * secrets, so neither does the tail. */
#define LOG_TAIL_CAP (32u << 10)
/* Starts keeping lines, forgetting what was kept before. */
void log_tail_start(void);
/* Stops keeping lines and forgets them. */
void log_tail_stop(void);
/* Appends the kept lines (whole lines, oldest first) to out. */
void log_tail_copy(struct buf *out);

#define log_error(...) log_write(LOG_ERROR, __FILE__, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __FILE__, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, __FILE__, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, __FILE__, __VA_ARGS__)
#define log_trace(...) log_write(LOG_TRACE, __FILE__, __VA_ARGS__)

#endif
