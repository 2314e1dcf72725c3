/* Key checks of the media mirror. Both checks are single passes over the bytes with no allocation;
 * they run once per listed key, millions of times on a Mastodon bucket. */
#include "mirror/key.h"

#include <string.h>

#include "stores/store.h"

#define MIRROR_KEY_SEGMENT_MAX 255 /* NAME_MAX of Linux file systems */

size_t mirror_key_decode_utf8(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char lo = 0x80; /* allowed range of the second byte: rules out overlong forms, */
    unsigned char hi = 0xbf; /* surrogates and code points above U+10FFFF (RFC 3629 table) */
    size_t need;
    uint32_t value;

    if (len == 0)
        return 0;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] >= 0xc2 && u[0] <= 0xdf) {
        need = 2;
        value = u[0] & 0x1fu;
    } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
        need = 3;
        value = u[0] & 0x0fu;
        if (u[0] == 0xe0)
            lo = 0xa0;
        else if (u[0] == 0xed)
            hi = 0x9f;
    } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
        need = 4;
        value = u[0] & 0x07u;
        if (u[0] == 0xf0)
            lo = 0x90;
        else if (u[0] == 0xf4)
            hi = 0x8f;
    } else {
        return 0; /* a continuation byte, C0/C1 (always overlong) or F5..FF */
    }
    if (len < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if (u[i] < lo || u[i] > hi)
            return 0;
        lo = 0x80;
        hi = 0xbf;
        value = (value << 6) | (u[i] & 0x3fu);
    }
    *cp = value;
    return need;
}

/* The problem with one segment of a local key, or NULL. */
static const char *mirror_key_segment_problem(const char *seg, size_t len)
{
    if (len == 0)
        return "empty segment";
    if (len == 1 && seg[0] == '.')
        return "'.' segment";
    if (len == 2 && seg[0] == '.' && seg[1] == '.')
        return "'..' segment";
    if (len > MIRROR_KEY_SEGMENT_MAX)
        return "segment longer than 255 bytes";
    /* Such a file would be taken for an unfinished write of the local store and never listed. */
    if (store_is_tmp_name(seg, len))
        return "temporary-file name";
    return NULL;
}

const char *mirror_key_local_problem(const char *key, size_t len)
{
    size_t start = 0;

    if (len == 0)
        return "empty key";
    if (len > MIRROR_KEY_LOCAL_MAX)
        return "key longer than 4000 bytes";
    if (memchr(key, '\0', len))
        return "NUL byte";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x20 || c == 0x7f)
            return "control character";
    }
    if (key[0] == '/')
        return "absolute path";
    for (size_t i = 0; i <= len; i++) {
        const char *problem;

        if (i < len && key[i] != '/')
            continue;
        problem = mirror_key_segment_problem(key + start, i - start);
        if (problem)
            return problem;
        start = i + 1;
    }
    return NULL;
}

const char *mirror_key_s3_problem(const char *key, size_t len)
{
    size_t i = 0;

    if (len == 0)
        return "empty key";
    if (len > MIRROR_KEY_S3_MAX)
        return "key longer than 1024 bytes";
    while (i < len) {
        uint32_t cp = 0;
        size_t n = mirror_key_decode_utf8(key + i, len - i, &cp);

        if (n == 0)
            return "invalid UTF-8";
        if (cp == 0)
            return "NUL byte";
        /* XML 1.0's Char production: a listing could not carry the key. */
        if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')
            return "control character";
        if (cp == 0xfffe || cp == 0xffff)
            return "character U+FFFE or U+FFFF";
        i += n;
    }
    return NULL;
}
