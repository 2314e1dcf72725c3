#include "util/strv.h"

#include <string.h>

#include <strings.h>

#include "util/xalloc.h"

struct strv strv_from(const char *s)
{
    struct strv v = {s, s ? strlen(s) : 0};
    return v;
}

struct strv strv_make(const char *ptr, size_t len)
{
    struct strv v = {ptr, len};
    return v;
}

static bool strv_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct strv strv_trim(struct strv s)
{
    while (s.len && strv_is_blank(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && strv_is_blank(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

bool strv_cut(struct strv *rest, char sep, struct strv *head)
{
    const char *p = rest->len ? memchr(rest->ptr, sep, rest->len) : NULL;

    if (!p) {
        *head = *rest;
        rest->ptr += rest->len;
        rest->len = 0;
        return false;
    }
    head->ptr = rest->ptr;
    head->len = (size_t)(p - rest->ptr);
    rest->len -= head->len + 1;
    rest->ptr = p + 1;
    return true;
}

bool strv_eq(struct strv s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

bool strv_eq_nocase(struct strv s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && (n == 0 || strncasecmp(s.ptr, lit, n) == 0);
}

bool strv_starts_with(struct strv s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len >= n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

bool strv_to_u64(struct strv s, uint64_t *out)
{
    uint64_t v = 0;

    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d;
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        d = (unsigned)(s.ptr[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

char *strv_dup(struct strv s)
{
    return xstrndup(s.ptr ? s.ptr : "", s.len);
}

const char *strv_printable(struct strv s, char *out, size_t cap)
{
    size_t keep = s.len < cap ? s.len : cap - 4;
    size_t i;

    for (i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        out[i] = (char)(c >= 0x20 && c < 0x7f ? c : '?');
    }
    if (keep < s.len) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}
