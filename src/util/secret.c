#include "util/secret.h"

#include <string.h>

#include "util/xalloc.h"

void secret_set(struct secret *s, const char *value, size_t len)
{
    secret_release(s);
    s->value = xmalloc(len + 1);
    memcpy(s->value, value, len);
    s->value[len] = '\0';
    s->len = len;
}

bool secret_is_set(const struct secret *s)
{
    return s->value != NULL;
}

void secret_release(struct secret *s)
{
    if (s->value) {
        explicit_bzero(s->value, s->len);
        xfree(s->value);
    }
    s->value = NULL;
    s->len = 0;
}
