#include "util/json_writer.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void json_writer_init(struct json_writer *w, struct buf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

static void json_newline(struct json_writer *w)
{
    if (!w->indent)
        return;
    buf_adds(w->out, "\n");
    for (int i = 0; i < w->depth * w->indent; i++)
        buf_adds(w->out, " ");
}

/* Called before every value or key: writes the comma between siblings. */
static void json_before_value(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->need_comma[w->depth])
            buf_adds(w->out, ",");
        w->need_comma[w->depth] = true;
        json_newline(w);
    }
}

static void json_open(struct json_writer *w, const char *c)
{
    json_before_value(w);
    buf_adds(w->out, c);
    ASSERT(w->depth + 1 < JSON_WRITER_MAX_DEPTH);
    w->depth++;
    w->need_comma[w->depth] = false;
}

static void json_close(struct json_writer *w, const char *c)
{
    bool had_members;

    ASSERT(w->depth > 0);
    had_members = w->need_comma[w->depth];
    w->depth--;
    if (had_members)
        json_newline(w);
    buf_adds(w->out, c);
}

void json_begin_object(struct json_writer *w)
{
    json_open(w, "{");
}

void json_end_object(struct json_writer *w)
{
    json_close(w, "}");
}

void json_begin_array(struct json_writer *w)
{
    json_open(w, "[");
}

void json_end_array(struct json_writer *w)
{
    json_close(w, "]");
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when the bytes are not valid UTF-8. */
static size_t json_utf8_len(const unsigned char *p, size_t avail)
{
    size_t n;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xE0) == 0xC0) {
        n = 2;
        cp = p[0] & 0x1Fu;
    } else if ((p[0] & 0xF0) == 0xE0) {
        n = 3;
        cp = p[0] & 0x0Fu;
    } else if ((p[0] & 0xF8) == 0xF0) {
        n = 4;
        cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

void json_string_len(struct json_writer *w, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    json_before_value(w);
    buf_adds(w->out, "\"");
    while (i < len) {
        unsigned char c = p[i];
        size_t n;

        if (c == '"') {
            buf_adds(w->out, "\\\"");
        } else if (c == '\\') {
            buf_adds(w->out, "\\\\");
        } else if (c == '\n') {
            buf_adds(w->out, "\\n");
        } else if (c == '\r') {
            buf_adds(w->out, "\\r");
        } else if (c == '\t') {
            buf_adds(w->out, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            buf_addf(w->out, "\\u%04x", (unsigned)c);
        } else {
            n = json_utf8_len(p + i, len - i);
            if (n == 0) {
                buf_adds(w->out, "\\ufffd");
            } else {
                buf_add(w->out, p + i, n);
                i += n;
                continue;
            }
        }
        i++;
    }
    buf_adds(w->out, "\"");
}

void json_string(struct json_writer *w, const char *s)
{
    if (!s) {
        json_null(w);
        return;
    }
    json_string_len(w, s, strlen(s));
}

void json_key(struct json_writer *w, const char *key)
{
    json_string(w, key);
    buf_adds(w->out, w->indent ? ": " : ":");
    w->after_key = true;
}

void json_int(struct json_writer *w, int64_t v)
{
    json_before_value(w);
    buf_addf(w->out, "%" PRId64, v);
}

void json_uint(struct json_writer *w, uint64_t v)
{
    json_before_value(w);
    buf_addf(w->out, "%" PRIu64, v);
}

void json_double(struct json_writer *w, double v)
{
    json_before_value(w);
    if (isfinite(v))
        buf_addf(w->out, "%.4g", v);
    else
        buf_adds(w->out, "null");
}

void json_bool(struct json_writer *w, bool v)
{
    json_before_value(w);
    buf_adds(w->out, v ? "true" : "false");
}

void json_null(struct json_writer *w)
{
    json_before_value(w);
    buf_adds(w->out, "null");
}

void json_key_string(struct json_writer *w, const char *key, const char *s)
{
    json_key(w, key);
    json_string(w, s);
}

void json_key_int(struct json_writer *w, const char *key, int64_t v)
{
    json_key(w, key);
    json_int(w, v);
}

void json_key_uint(struct json_writer *w, const char *key, uint64_t v)
{
    json_key(w, key);
    json_uint(w, v);
}

void json_key_bool(struct json_writer *w, const char *key, bool v)
{
    json_key(w, key);
    json_bool(w, v);
}
