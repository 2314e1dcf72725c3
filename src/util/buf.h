/* Growable byte buffer with a hard cap (curl's dynbuf). data is never NULL and always
 * NUL-terminated, so text can be used as a C string. Every buffer fed from outside input (network,
 * child stderr, files) gets a cap; a write past the cap fails and leaves the contents unchanged. */
#ifndef PERMAFROST_UTIL_BUF_H
#define PERMAFROST_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

struct buf {
    char *data;
    size_t len;
    size_t alloc;   /* bytes allocated for data; 0 while data points at the shared empty string */
    size_t max_len; /* hard cap on len */
};

#define BUF_NO_CAP ((size_t)-1 / 2)

/* Initialises an empty buffer holding at most max_len bytes. */
void buf_init(struct buf *b, size_t max_len);
/* Frees the storage and leaves an empty buffer with the same cap. NULL-safe on the struct's data.
 */
void buf_release(struct buf *b);
/* Empties the buffer, keeping its storage. */
void buf_reset(struct buf *b);
/* Appends; false (contents unchanged) when the result would exceed the cap. */
bool buf_add(struct buf *b, const void *data, size_t len);
bool buf_adds(struct buf *b, const char *s);
bool buf_addf(struct buf *b, const char *fmt, ...) PRINTF(2, 3);
/* Makes room for `len` more bytes without changing len; false past the cap. */
bool buf_reserve(struct buf *b, size_t len);
/* Appends, but when the cap is reached keeps only the last max_len bytes (for stderr tails). */
void buf_add_tail(struct buf *b, const void *data, size_t len);
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hands the storage to the caller (free with xfree) and leaves an empty buffer. */
char *buf_detach(struct buf *b, size_t *len_out);

/* snprintf into a fixed array that truncates silently (messages, reasons): for text where a cut-off
 * end is acceptable. Always NUL-terminates. */
void buf_format_fixed(char *dst, size_t cap, const char *fmt, ...) PRINTF(3, 4);

#endif
