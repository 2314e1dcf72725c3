/* A small escaping JSON writer into a struct buf. It tracks nesting so commas come out right; keys
 * and strings are escaped per RFC 8259 (control characters as \u00XX; invalid UTF-8 bytes as
 * U+FFFD). */
#ifndef PERMAFROST_UTIL_JSON_WRITER_H
#define PERMAFROST_UTIL_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

#define JSON_WRITER_MAX_DEPTH 32

struct json_writer {
    struct buf *out; /* borrowed */
    int depth;
    bool need_comma[JSON_WRITER_MAX_DEPTH];
    bool after_key;
    int indent; /* 0: compact; >0: pretty-printed with this many spaces per level */
};

void json_writer_init(struct json_writer *w, struct buf *out);
void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);
void json_key(struct json_writer *w, const char *key);
void json_string(struct json_writer *w, const char *s);
void json_string_len(struct json_writer *w, const char *s, size_t len);
void json_int(struct json_writer *w, int64_t v);
void json_uint(struct json_writer *w, uint64_t v);
void json_double(struct json_writer *w, double v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);
/* key + value shorthands */
void json_key_string(struct json_writer *w, const char *key, const char *s); /* NULL writes null */
void json_key_int(struct json_writer *w, const char *key, int64_t v);
void json_key_uint(struct json_writer *w, const char *key, uint64_t v);
void json_key_bool(struct json_writer *w, const char *key, bool v);

#endif
