/* The RESP parser is a state machine fed in arbitrary pieces: a line state (type byte and header or
 * simple value, up to CRLF) and a bulk state (counted payload, then CRLF), with a stack of the
 * aggregates being filled. Children are built in place and copied into their parent's item array
 * when complete, so a failure at any point frees exactly what was built.
 *
 * Memory follows the bytes received, never a length a peer announced: a bulk string's storage
 * grows as its bytes arrive and an aggregate's item array as its elements complete. The caps are
 * checked on the header, before anything is allocated for it. The value in progress is also held
 * to twice max_bulk in total (strings plus the per-element bookkeeping), so a reply cannot grow
 * without bound by being wide instead of long. */
#include "sources/resp.h"

#include <inttypes.h>
#include <string.h>

#include "util/xalloc.h"

#define RESP_DEFAULT_MAX_BULK     ((size_t)512 * 1024 * 1024)
#define RESP_DEFAULT_MAX_ELEMENTS ((size_t)16 * 1024 * 1024)
#define RESP_DEFAULT_MAX_DEPTH    16u
#define RESP_DEFAULT_MAX_LINE     ((size_t)64 * 1024)
#define RESP_BULK_FIRST_ALLOC     ((size_t)64 * 1024)

enum resp_state { RESP_ST_LINE, RESP_ST_BULK };

struct resp_frame {
    struct resp_value v; /* ARRAY being filled: items[0..count) are complete */
    size_t want;         /* elements announced */
    size_t alloc;        /* items allocated */
};

struct resp_parser {
    struct resp_limits lim;
    size_t max_total;
    enum resp_state state;
    struct buf line;          /* current line without its LF, capped */
    uint64_t line_start;      /* stream offset of the line's type byte */
    struct resp_value bulk;   /* BULK/ERROR in progress: str grows, len = bytes so far */
    size_t bulk_want;         /* announced payload length */
    size_t bulk_alloc;        /* bytes allocated for bulk.str */
    size_t bulk_crlf;         /* bytes of the closing CRLF seen (0..2) */
    char bulk_kind;           /* '$', '!' or '=' */
    struct resp_frame *stack; /* open aggregates, outermost first */
    size_t depth;
    size_t stack_alloc;
    size_t held;     /* accounted bytes of the value in progress (completed parts) */
    uint64_t offset; /* bytes consumed since the parser was made */
};

struct resp_parser *resp_parser_new(const struct resp_limits *limits)
{
    struct resp_parser *p = xcalloc(1, sizeof(*p));

    if (limits)
        p->lim = *limits;
    if (!p->lim.max_bulk)
        p->lim.max_bulk = RESP_DEFAULT_MAX_BULK;
    if (!p->lim.max_elements)
        p->lim.max_elements = RESP_DEFAULT_MAX_ELEMENTS;
    if (!p->lim.max_depth)
        p->lim.max_depth = RESP_DEFAULT_MAX_DEPTH;
    if (!p->lim.max_line)
        p->lim.max_line = RESP_DEFAULT_MAX_LINE;
    p->max_total = p->lim.max_bulk > SIZE_MAX / 2 ? SIZE_MAX : p->lim.max_bulk * 2;
    /* type byte + max_line + CR */
    buf_init(&p->line, p->lim.max_line + 2);
    p->state = RESP_ST_LINE;
    return p;
}

static void resp_value_release_inner(struct resp_value *v)
{
    for (size_t i = 0; i < v->count; i++)
        resp_value_release_inner(&v->items[i]);
    xfree(v->items);
    xfree(v->str);
    v->items = NULL;
    v->str = NULL;
    v->count = 0;
}

void resp_value_free(struct resp_value *v)
{
    if (!v)
        return;
    resp_value_release_inner(v);
    xfree(v);
}

/* Drops any value in progress (after an error, or when freeing). */
static void resp_parser_reset_value(struct resp_parser *p)
{
    for (size_t i = 0; i < p->depth; i++)
        resp_value_release_inner(&p->stack[i].v);
    p->depth = 0;
    resp_value_release_inner(&p->bulk);
    p->bulk_alloc = 0;
    buf_reset(&p->line);
    p->held = 0;
    p->state = RESP_ST_LINE;
}

void resp_parser_free(struct resp_parser *p)
{
    if (!p)
        return;
    resp_parser_reset_value(p);
    xfree(p->stack);
    buf_release(&p->line);
    xfree(p);
}

bool resp_parser_is_mid_value(const struct resp_parser *p)
{
    return p->state == RESP_ST_BULK || p->depth > 0 || p->line.len > 0;
}

size_t resp_parser_buffered(const struct resp_parser *p)
{
    return p->held + p->line.len + p->bulk.len;
}

/* Places a complete value: into the innermost open aggregate, closing every aggregate it
 * completes, or as the result. Returns 1 with *out set when the outermost value is complete. */
static int resp_emit(struct resp_parser *p, struct resp_value v, struct resp_value **out)
{
    for (;;) {
        struct resp_frame *f;

        if (p->depth == 0) {
            *out = xmalloc(sizeof(**out));
            **out = v;
            p->held = 0;
            return 1;
        }
        f = &p->stack[p->depth - 1];
        if (f->v.count == f->alloc) {
            size_t n = f->alloc < 8 ? 8 : f->alloc * 2;
            if (n > f->want)
                n = f->want;
            f->v.items = xreallocarray(f->v.items, n, sizeof(*f->v.items));
            f->alloc = n;
        }
        f->v.items[f->v.count++] = v;
        p->held += sizeof(struct resp_value);
        if (f->v.count < f->want)
            return 0;
        v = f->v;
        p->depth--;
    }
}

/* Strict decimal: optional sign, 1..19 digits, no overflow. */
static bool resp_parse_i64(const char *s, size_t n, int64_t *out)
{
    bool is_neg = false;
    uint64_t v = 0;
    size_t i = 0;

    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        is_neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (is_neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

static int resp_fail(struct resp_parser *p, uint64_t at, struct error *err, const char *what)
{
    error_set(err, ERR_REMOTE, "protocol error at byte %" PRIu64 ": %s", at, what);
    resp_parser_reset_value(p);
    return -1;
}

static struct resp_value resp_text_value(enum resp_type type, const char *s, size_t n)
{
    struct resp_value v;

    memset(&v, 0, sizeof(v));
    v.type = type;
    v.str = xstrndup(s, n);
    v.len = n;
    return v;
}

/* Handles one complete line (type byte + rest, CRLF removed). Returns 1 when a whole value is
 * complete, 0 to go on, -1 on error. */
static int resp_handle_line(struct resp_parser *p, const char *s, size_t n, struct resp_value **out,
                            struct error *err)
{
    char t = s[0];
    const char *rest = s + 1;
    size_t rest_len = n - 1;
    struct resp_value v;
    int64_t num = 0;
    char msg[160];

    memset(&v, 0, sizeof(v));
    /* Every element starts with a line: the place to stop a reply that grows too wide. */
    if (p->held > p->max_total) {
        buf_format_fixed(msg, sizeof(msg), "reply larger than the cap of %zu bytes", p->max_total);
        return resp_fail(p, p->line_start, err, msg);
    }
    switch (t) {
    case '+':
    case '-':
        p->held += rest_len;
        return resp_emit(p, resp_text_value(t == '+' ? RESP_SIMPLE : RESP_ERROR, rest, rest_len),
                         out);
    case ',':
    case '(':
        p->held += rest_len;
        return resp_emit(p, resp_text_value(RESP_BULK, rest, rest_len), out);
    case ':':
        if (!resp_parse_i64(rest, rest_len, &num))
            return resp_fail(p, p->line_start, err, "integer expected after ':'");
        v.type = RESP_INTEGER;
        v.integer = num;
        return resp_emit(p, v, out);
    case '#':
        if (rest_len != 1 || (rest[0] != 't' && rest[0] != 'f'))
            return resp_fail(p, p->line_start, err, "'t' or 'f' expected after '#'");
        v.type = RESP_BOOL;
        v.integer = rest[0] == 't';
        return resp_emit(p, v, out);
    case '_':
        if (rest_len != 0)
            return resp_fail(p, p->line_start, err, "CRLF expected after '_'");
        v.type = RESP_NIL;
        return resp_emit(p, v, out);
    case '$':
    case '!':
    case '=':
        if (!resp_parse_i64(rest, rest_len, &num))
            return resp_fail(p, p->line_start, err, "length expected after a bulk type byte");
        if (num == -1 && t == '$') {
            v.type = RESP_NIL;
            return resp_emit(p, v, out);
        }
        if (num < 0)
            return resp_fail(p, p->line_start, err, "negative bulk length");
        if ((uint64_t)num > p->lim.max_bulk) {
            buf_format_fixed(msg, sizeof(msg), "bulk length %" PRId64 " exceeds the cap of %zu",
                             num, p->lim.max_bulk);
            return resp_fail(p, p->line_start, err, msg);
        }
        if ((uint64_t)num > p->max_total - p->held) { /* held <= max_total: checked above */
            buf_format_fixed(msg, sizeof(msg), "reply larger than the cap of %zu bytes",
                             p->max_total);
            return resp_fail(p, p->line_start, err, msg);
        }
        p->bulk.type = t == '!' ? RESP_ERROR : RESP_BULK;
        p->bulk_kind = t;
        p->bulk_want = (size_t)num;
        p->bulk_alloc =
            p->bulk_want + 1 < RESP_BULK_FIRST_ALLOC ? p->bulk_want + 1 : RESP_BULK_FIRST_ALLOC;
        p->bulk.str = xmalloc(p->bulk_alloc);
        p->bulk.len = 0;
        p->bulk_crlf = 0;
        p->state = RESP_ST_BULK;
        return 0;
    case '*':
    case '~':
    case '>':
    case '%':
        if (!resp_parse_i64(rest, rest_len, &num))
            return resp_fail(p, p->line_start, err, "element count expected after an aggregate");
        if (num == -1 && t == '*') {
            v.type = RESP_NIL;
            return resp_emit(p, v, out);
        }
        if (num < 0)
            return resp_fail(p, p->line_start, err, "negative element count");
        if ((uint64_t)num > p->lim.max_elements / (t == '%' ? 2 : 1)) {
            buf_format_fixed(msg, sizeof(msg), "%" PRId64 " elements exceed the cap of %zu", num,
                             p->lim.max_elements);
            return resp_fail(p, p->line_start, err, msg);
        }
        v.type = RESP_ARRAY;
        if (num == 0)
            return resp_emit(p, v, out);
        if (p->depth >= p->lim.max_depth) {
            buf_format_fixed(msg, sizeof(msg), "nesting deeper than %zu", p->lim.max_depth);
            return resp_fail(p, p->line_start, err, msg);
        }
        XGROW(p->stack, p->depth + 1, p->stack_alloc);
        memset(&p->stack[p->depth], 0, sizeof(p->stack[p->depth]));
        p->stack[p->depth].v = v;
        p->stack[p->depth].want = (size_t)num * (t == '%' ? 2 : 1);
        p->depth++;
        return 0;
    case '|':
        return resp_fail(p, p->line_start, err, "RESP3 attributes ('|') are not supported");
    default:
        if ((unsigned char)t >= 0x20 && (unsigned char)t < 0x7f)
            buf_format_fixed(msg, sizeof(msg), "unexpected type byte '%c'", t);
        else
            buf_format_fixed(msg, sizeof(msg), "unexpected type byte 0x%02x", (unsigned char)t);
        return resp_fail(p, p->line_start, err, msg);
    }
    return resp_fail(p, p->line_start, err, "unreachable");
}

/* Ends a bulk payload: a verbatim string loses its "fmt:" prefix. */
static int resp_finish_bulk(struct resp_parser *p, struct resp_value **out)
{
    struct resp_value v = p->bulk;

    memset(&p->bulk, 0, sizeof(p->bulk));
    p->bulk_alloc = 0;
    p->state = RESP_ST_LINE;
    v.str[v.len] = '\0';
    if (p->bulk_kind == '=' && v.len >= 4 && v.str[3] == ':') {
        memmove(v.str, v.str + 4, v.len - 4 + 1);
        v.len -= 4;
    }
    p->held += v.len;
    return resp_emit(p, v, out);
}

int resp_parser_feed(struct resp_parser *p, const void *data, size_t len, size_t *consumed,
                     struct resp_value **out, struct error *err)
{
    const char *d = data;
    size_t i = 0;

    *out = NULL;
    *consumed = 0;
    while (i < len) {
        int r;

        if (p->state == RESP_ST_LINE) {
            const char *lf = memchr(d + i, '\n', len - i);
            size_t end = lf ? (size_t)(lf - d) : len;

            if (p->line.len == 0)
                p->line_start = p->offset + i;
            if (!buf_add(&p->line, d + i, end - i)) {
                char msg[96];
                buf_format_fixed(msg, sizeof(msg), "line longer than the cap of %zu bytes",
                                 p->lim.max_line);
                return resp_fail(p, p->line_start, err, msg);
            }
            if (!lf)
                break; /* the line goes on in the next piece */
            i = end + 1;
            if (p->line.len == 0 || p->line.data[p->line.len - 1] != '\r')
                return resp_fail(p, p->offset + end, err,
                                 p->line.len == 0 ? "type byte expected, got LF"
                                                  : "CRLF expected, got a bare LF");
            if (p->line.len == 1)
                return resp_fail(p, p->line_start, err, "type byte expected, got CRLF");
            if (memchr(p->line.data, '\r', p->line.len - 1))
                return resp_fail(p, p->line_start, err, "CR inside a line");
            r = resp_handle_line(p, p->line.data, p->line.len - 1, out, err);
            buf_reset(&p->line);
        } else {
            size_t want = p->bulk_want - p->bulk.len;
            size_t take = len - i < want ? len - i : want;

            if (take > 0) {
                if (p->bulk.len + take + 1 > p->bulk_alloc) {
                    size_t n = p->bulk_alloc * 2;
                    if (n < p->bulk.len + take + 1)
                        n = p->bulk.len + take + 1;
                    if (n > p->bulk_want + 1)
                        n = p->bulk_want + 1;
                    p->bulk.str = xreallocarray(p->bulk.str, n, 1);
                    p->bulk_alloc = n;
                }
                memcpy(p->bulk.str + p->bulk.len, d + i, take);
                p->bulk.len += take;
                i += take;
            }
            while (i < len && p->bulk.len == p->bulk_want && p->bulk_crlf < 2) {
                char want_c = p->bulk_crlf == 0 ? '\r' : '\n';
                if (d[i] != want_c)
                    return resp_fail(p, p->offset + i, err, "CRLF expected after the bulk payload");
                p->bulk_crlf++;
                i++;
            }
            if (p->bulk_crlf < 2)
                continue;
            r = resp_finish_bulk(p, out);
        }
        if (r < 0)
            return -1;
        if (r == 1) {
            p->offset += i;
            *consumed = i;
            return 1;
        }
    }
    p->offset += len;
    *consumed = len;
    return 0;
}

static void resp_describe_str(const char *s, size_t n, size_t max_chars, struct buf *out)
{
    size_t shown = n < max_chars ? n : max_chars;

    for (size_t i = 0; i < shown; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\\' || ch == '"')
            buf_addf(out, "\\%c", ch);
        else if (ch >= 0x20 && ch < 0x7f)
            buf_add(out, &s[i], 1);
        else
            buf_addf(out, "\\x%02x", ch);
    }
    if (shown < n)
        buf_adds(out, "...");
}

void resp_value_describe(const struct resp_value *v, size_t max_chars, struct buf *out)
{
    switch (v->type) {
    case RESP_SIMPLE:
        buf_adds(out, "+");
        resp_describe_str(v->str, v->len, max_chars, out);
        return;
    case RESP_ERROR:
        buf_adds(out, "-");
        resp_describe_str(v->str, v->len, max_chars, out);
        return;
    case RESP_INTEGER:
        buf_addf(out, ":%" PRId64, v->integer);
        return;
    case RESP_BOOL:
        buf_adds(out, v->integer ? "#t" : "#f");
        return;
    case RESP_NIL:
        buf_adds(out, "(nil)");
        return;
    case RESP_BULK:
        buf_adds(out, "\"");
        resp_describe_str(v->str, v->len, max_chars, out);
        buf_adds(out, "\"");
        return;
    case RESP_ARRAY:
        buf_adds(out, "[");
        for (size_t i = 0; i < v->count; i++) {
            if (i > 0)
                buf_adds(out, ", ");
            if (i == 8) {
                buf_addf(out, "... %zu more", v->count - i);
                break;
            }
            resp_value_describe(&v->items[i], max_chars, out);
        }
        buf_adds(out, "]");
        return;
    }
}

bool resp_value_is_command(const struct resp_value *v)
{
    if (v->type != RESP_ARRAY || v->count == 0)
        return false;
    for (size_t i = 0; i < v->count; i++) {
        if (v->items[i].type != RESP_BULK)
            return false;
    }
    return true;
}

void resp_append_command(struct buf *out, size_t argc, const char *const *argv, const size_t *lens)
{
    /* Callers pass buffers sized for what they queue; a silently cut command would be sent or
     * stored as a different one, so running into the cap is a bug, not an error to report. */
    ASSERT(buf_addf(out, "*%zu\r\n", argc));
    for (size_t i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        ASSERT(buf_addf(out, "$%zu\r\n", n));
        ASSERT(buf_add(out, argv[i], n));
        ASSERT(buf_add(out, "\r\n", 2));
    }
}
