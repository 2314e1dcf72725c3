#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/xalloc.h"

static char buf_empty[1];

void buf_init(struct buf *b, size_t max_len)
{
    b->data = buf_empty;
    b->len = 0;
    b->alloc = 0;
    b->max_len = max_len;
}

void buf_release(struct buf *b)
{
    if (b->alloc)
        xfree(b->data);
    b->data = buf_empty;
    b->len = 0;
    b->alloc = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->alloc)
        b->data[0] = '\0';
}

bool buf_reserve(struct buf *b, size_t len)
{
    size_t need;
    size_t n;

    if (len > b->max_len - b->len)
        return false;
    need = b->len + len + 1;
    if (need <= b->alloc)
        return true;
    n = b->alloc < 64 ? 64 : b->alloc;
    while (n < need)
        n *= 2;
    if (n > b->max_len + 1)
        n = b->max_len + 1;
    if (b->alloc) {
        b->data = xreallocarray(b->data, n, 1);
    } else {
        b->data = xmalloc(n);
        b->data[0] = '\0';
    }
    b->alloc = n;
    return true;
}

bool buf_add(struct buf *b, const void *data, size_t len)
{
    if (!buf_reserve(b, len))
        return false;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return true;
}

bool buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

bool buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n))
        return false;
    va_start(ap, fmt);
    (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

void buf_add_tail(struct buf *b, const void *data, size_t len)
{
    const char *p = data;

    if (len >= b->max_len) {
        buf_reset(b);
        buf_add(b, p + (len - b->max_len), b->max_len);
        return;
    }
    if (b->len + len > b->max_len)
        buf_consume(b, b->len + len - b->max_len);
    buf_add(b, p, len);
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *buf_detach(struct buf *b, size_t *len_out)
{
    char *p;

    if (len_out)
        *len_out = b->len;
    if (!b->alloc) {
        p = xstrdup("");
    } else {
        p = b->data;
    }
    b->data = buf_empty;
    b->len = 0;
    b->alloc = 0;
    return p;
}

void buf_format_fixed(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (cap == 0)
        return;
    va_start(ap, fmt);
    if (vsnprintf(dst, cap, fmt, ap) < 0)
        dst[0] = '\0';
    va_end(ap);
}
