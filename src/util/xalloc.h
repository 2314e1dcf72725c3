/* Allocation that aborts on out-of-memory (git, tmux, OpenSSH): callers never check for NULL. The
 * only file allowed to call malloc/free directly is xalloc.c. */
#ifndef PERMAFROST_UTIL_XALLOC_H
#define PERMAFROST_UTIL_XALLOC_H

#include <stddef.h>

#include "util/error.h"

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
/* Grows or shrinks ptr to count * size bytes, checking the multiplication for overflow. */
void *xreallocarray(void *ptr, size_t count, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);
/* Returns a newly allocated formatted string; the caller frees it with xfree. */
char *xasprintf(const char *fmt, ...) PRINTF(1, 2);
/* NULL-safe free. */
void xfree(void *ptr);

/* Grows an array so that it holds at least `need` elements; `alloc` is the current capacity. */
#define XGROW(ptr, need, alloc)                                                                    \
    do {                                                                                           \
        if ((need) > (alloc)) {                                                                    \
            size_t xgrow_n_ = (alloc) < 8 ? 8 : (alloc)*2;                                         \
            while (xgrow_n_ < (need))                                                              \
                xgrow_n_ *= 2;                                                                     \
            (ptr) = xreallocarray((ptr), xgrow_n_, sizeof(*(ptr)));                                \
            (alloc) = xgrow_n_;                                                                    \
        }                                                                                          \
    } while (0)

#endif
