/* One error type for the whole program: a kind (mapped to an exit code in cli/exit_codes.c only)
 * and a message that grows context on its way up ("outer: inner: root cause"). Never allocated. */
#ifndef PERMAFROST_UTIL_ERROR_H
#define PERMAFROST_UTIL_ERROR_H

#define PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define NORETURN                 __attribute__((noreturn))

enum err_kind {
    ERR_NONE = 0,
    ERR_USAGE = 1,
    ERR_CONFIG,
    ERR_IO,
    ERR_NETWORK,
    ERR_REMOTE,
    ERR_INTEGRITY,
    ERR_LOCKED,
    ERR_CANCELLED,
    ERR_FAILED, /* a job or subprocess failed for a reason that has no better kind */
};

struct error {
    enum err_kind kind;
    int sys_errno;  /* errno at the failure site, or 0 */
    char msg[1024]; /* "outer context: inner context: root cause" */
    char hint[256]; /* optional "what to try" line, empty when none */
};

#define ERROR_INIT                                                                                 \
    {                                                                                              \
        ERR_NONE, 0, "", ""                                                                        \
    }

/* Each sets *err and returns -1, so callers can write `return error_set(...)`. */
int error_set(struct error *err, enum err_kind kind, const char *fmt, ...) PRINTF(3, 4);
/* Like error_set, and appends ": strerror(errno)" using the errno at the time of the call. */
int error_errno(struct error *err, enum err_kind kind, const char *fmt, ...) PRINTF(3, 4);
/* Prepends "context: " to the message, keeping kind, errno and hint. */
int error_wrap(struct error *err, const char *fmt, ...) PRINTF(2, 3);
/* Sets the hint line (replaces any earlier one). Returns -1. */
int error_hint(struct error *err, const char *fmt, ...) PRINTF(2, 3);
/* Resets *err to ERROR_INIT. */
void error_clear(struct error *err);

/* Aborts with file:line and the failed expression; on in release builds too (git's BUG()). */
#define ASSERT(x)                                                                                  \
    do {                                                                                           \
        if (!(x))                                                                                  \
            error_assert_fail(__FILE__, __LINE__, #x);                                             \
    } while (0)
NORETURN void error_assert_fail(const char *file, int line, const char *expr);

#endif
