#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

static void error_vformat(char *dst, size_t cap, const char *fmt, va_list ap) PRINTF(3, 0);

static void error_vformat(char *dst, size_t cap, const char *fmt, va_list ap)
{
    int n = vsnprintf(dst, cap, fmt, ap);
    if (n < 0)
        snprintf(dst, cap, "(unformattable error message)");
}

int error_set(struct error *err, enum err_kind kind, const char *fmt, ...)
{
    va_list ap;

    err->kind = kind;
    err->sys_errno = 0;
    err->hint[0] = '\0';
    va_start(ap, fmt);
    error_vformat(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int error_errno(struct error *err, enum err_kind kind, const char *fmt, ...)
{
    int saved = errno;
    size_t used;
    va_list ap;

    err->kind = kind;
    err->sys_errno = saved;
    err->hint[0] = '\0';
    va_start(ap, fmt);
    error_vformat(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    used = strlen(err->msg);
    snprintf(err->msg + used, sizeof(err->msg) - used, ": %s", strerror(saved));
    return -1;
}

int error_wrap(struct error *err, const char *fmt, ...)
{
    char prefix[512];
    char old[sizeof(err->msg)];
    va_list ap;

    va_start(ap, fmt);
    error_vformat(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    buf_format_fixed(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
    if (err->kind == ERR_NONE)
        err->kind = ERR_FAILED;
    return -1;
}

int error_hint(struct error *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vformat(err->hint, sizeof(err->hint), fmt, ap);
    va_end(ap);
    return -1;
}

void error_clear(struct error *err)
{
    err->kind = ERR_NONE;
    err->sys_errno = 0;
    err->msg[0] = '\0';
    err->hint[0] = '\0';
}

void error_assert_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "BUG: %s:%d: assertion failed: %s\n", file, line, expr);
    abort();
}
