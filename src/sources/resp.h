/* RESP (the Redis serialization protocol, RESP2 plus the RESP3 types a server may send): an
 * incremental parser that takes bytes as they arrive and yields whole values, with caps on bulk
 * length, element count, total size and nesting so a hostile or broken server cannot make it
 * allocate without bound; and the command encoder. Used for replies from servers and for the
 * logical-snapshot artifact (a stream of RESP commands, replayed on restore). */
#ifndef PERMAFROST_SOURCES_RESP_H
#define PERMAFROST_SOURCES_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

enum resp_type {
    RESP_SIMPLE = 1, /* +OK */
    RESP_ERROR,      /* -ERR ... (and RESP3 !<len> blob errors) */
    RESP_INTEGER,    /* :42 */
    RESP_BULK,       /* $3 foo (and RESP3 = verbatim strings, ( big numbers, , doubles as text) */
    RESP_NIL,        /* $-1, *-1, RESP3 _ */
    RESP_ARRAY,      /* * (and RESP3 ~ sets, > pushes; % maps as a flat key, value array) */
    RESP_BOOL,       /* RESP3 #t / #f in integer */
};

struct resp_value {
    enum resp_type type;
    int64_t integer;          /* RESP_INTEGER, RESP_BOOL */
    char *str;                /* SIMPLE, ERROR, BULK: NUL-terminated copy; binary safe with len */
    size_t len;               /* length of str */
    struct resp_value *items; /* ARRAY */
    size_t count;             /* ARRAY */
};

struct resp_limits {
    size_t max_bulk;     /* longest bulk string; 0: 512 MiB (Redis's proto-max-bulk-len) */
    size_t max_elements; /* elements in one aggregate; 0: 16 Mi */
    size_t max_depth;    /* nesting of aggregates; 0: 16 */
    size_t max_line;     /* longest simple string / error / number line; 0: 64 KiB */
};

struct resp_parser;

/* limits may be NULL (all defaults). Free with resp_parser_free. */
struct resp_parser *resp_parser_new(const struct resp_limits *limits);
void resp_parser_free(struct resp_parser *p);
/* Consumes bytes from data[0..len) up to the end of the first complete value (*consumed says how
 * many) and returns 1 with *out set (resp_value_free), or consumes everything and returns 0 when
 * the value is not complete yet (state is kept; call again with the next bytes). Returns -1 with
 * ERR_REMOTE on a protocol error or a cap exceeded, naming the offset and what was expected; the
 * parser must not be fed again after that. */
int resp_parser_feed(struct resp_parser *p, const void *data, size_t len, size_t *consumed,
                     struct resp_value **out, struct error *err);
/* True when a value has been started but not completed (for "connection closed mid-reply"). */
bool resp_parser_is_mid_value(const struct resp_parser *p);
/* Bytes held for the value in progress (memory accounting, tests). */
size_t resp_parser_buffered(const struct resp_parser *p);

void resp_value_free(struct resp_value *v);
/* For messages: the value as one line, strings shown up to max_chars with non-printables escaped
 * (e.g. "-NOPERM this user has no permissions to run the 'sync' command"). */
void resp_value_describe(const struct resp_value *v, size_t max_chars, struct buf *out);
/* True for an array whose every element is a bulk string (a command). */
bool resp_value_is_command(const struct resp_value *v);

/* Appends the RESP encoding of a command: *argc, then $len arg for each. lens may be NULL (every
 * argv[i] is a C string). */
void resp_append_command(struct buf *out, size_t argc, const char *const *argv, const size_t *lens);

#endif
