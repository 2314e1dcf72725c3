/* Keys, passwords and tokens. The value is wiped with explicit_bzero on release and must never be
 * formatted with %s into anything that reaches a log, argv, a notification or a manifest. */
#ifndef PERMAFROST_UTIL_SECRET_H
#define PERMAFROST_UTIL_SECRET_H

#include <stdbool.h>
#include <stddef.h>

struct secret {
    char *value; /* NUL-terminated, or NULL when unset */
    size_t len;
};

#define SECRET_INIT                                                                                \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/* Copies len bytes of value into s (replacing any earlier value). */
void secret_set(struct secret *s, const char *value, size_t len);
bool secret_is_set(const struct secret *s);
/* Wipes and frees the value. */
void secret_release(struct secret *s);

#endif
