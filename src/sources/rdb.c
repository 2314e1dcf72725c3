/* The RDB reader, DUMP payloads and the RDB writer. Layout facts come from Redis's rdb.c/rdb.h
 * (7.0-8.x) and Valkey 8's; the reader walks the RDB-level framing of every value but treats the
 * ziplist/listpack/intset blobs inside as opaque strings.
 *
 * The reader is push-based. Each top-level item (the header, one opcode with its arguments, or one
 * key with its value) is a record, parsed only once all its bytes are present: a parse that runs
 * out of bytes is thrown away and retried later, so callbacks and counters only ever see whole
 * records. Records that fit in the chunk being fed are parsed in place, without a copy; an
 * incomplete tail is kept in r->rec and retried only once that holds max(what the failed parse
 * said it needs at least, twice what it held then) bytes, so a 100 MB value that arrives in 64 KiB
 * chunks is parsed O(log n) times, and the total work stays linear. */
#include "sources/rdb.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/crc64.h"
#include "util/xalloc.h"

/* Opcodes (rdb.h, RDB_OPCODE_*). */
#define RDB_OP_SLOT_INFO       0xF4 /* Redis 7.4+, Valkey 8: slot id, keys, expires (3 lengths) */
#define RDB_OP_FUNCTION2       0xF5
#define RDB_OP_FUNCTION_PRE_GA 0xF6 /* 7.0 release candidates only */
#define RDB_OP_MODULE_AUX      0xF7
#define RDB_OP_IDLE            0xF8
#define RDB_OP_FREQ            0xF9
#define RDB_OP_AUX             0xFA
#define RDB_OP_RESIZEDB        0xFB
#define RDB_OP_EXPIRETIME_MS   0xFC
#define RDB_OP_EXPIRETIME      0xFD
#define RDB_OP_SELECTDB        0xFE
#define RDB_OP_EOF             0xFF
/* Not an opcode: the pseudo-record for the 9-byte magic. */
#define RDB_REC_HEADER         0x100

/* Value types (rdb.h, RDB_TYPE_*). */
#define RDB_TYPE_STRING                  0
#define RDB_TYPE_LIST                    1
#define RDB_TYPE_SET                     2
#define RDB_TYPE_ZSET                    3
#define RDB_TYPE_HASH                    4
#define RDB_TYPE_ZSET_2                  5
#define RDB_TYPE_MODULE_PRE_GA           6
#define RDB_TYPE_MODULE_2                7
#define RDB_TYPE_HASH_ZIPMAP             9
#define RDB_TYPE_LIST_ZIPLIST            10
#define RDB_TYPE_SET_INTSET              11
#define RDB_TYPE_ZSET_ZIPLIST            12
#define RDB_TYPE_HASH_ZIPLIST            13
#define RDB_TYPE_LIST_QUICKLIST          14
#define RDB_TYPE_STREAM_LISTPACKS        15
#define RDB_TYPE_HASH_LISTPACK           16
#define RDB_TYPE_ZSET_LISTPACK           17
#define RDB_TYPE_LIST_QUICKLIST_2        18
#define RDB_TYPE_STREAM_LISTPACKS_2      19
#define RDB_TYPE_SET_LISTPACK            20
#define RDB_TYPE_STREAM_LISTPACKS_3      21
#define RDB_TYPE_HASH_METADATA_PRE_GA    22
#define RDB_TYPE_HASH_LISTPACK_EX_PRE_GA 23
#define RDB_TYPE_HASH_METADATA           24
#define RDB_TYPE_HASH_LISTPACK_EX        25

/* Module value opcodes (RDB_MODULE_OPCODE_*), used by module values and module aux records. */
#define RDB_MODULE_EOF    0
#define RDB_MODULE_SINT   1
#define RDB_MODULE_UINT   2
#define RDB_MODULE_FLOAT  3
#define RDB_MODULE_DOUBLE 4
#define RDB_MODULE_STRING 5

/* Special string encodings (the low 6 bits of a length byte whose top bits are 11). */
#define RDB_ENC_INT8  0
#define RDB_ENC_INT16 1
#define RDB_ENC_INT32 2
#define RDB_ENC_LZF   3
#define RDB_ENC_PLAIN (-1)

/* The DUMP footer: 2-byte RDB version and 8-byte CRC-64. */
#define RDB_FOOTER_LEN 10

#define RDB_DEFAULT_MAX_ENTRY ((size_t)1 << 30)

/* Parse results besides 0 (done) and -1 (error, err set). */
#define RDB_SHORT 1

enum rdb_state { RDB_STATE_HEADER, RDB_STATE_BODY, RDB_STATE_DONE, RDB_STATE_FAILED };

/* One string as stored: plain bytes, an integer, or LZF data. */
struct rdb_str {
    int enc;
    const unsigned char *p; /* plain: the bytes; int: the integer's bytes; LZF: compressed data */
    size_t len;             /* plain: length; int: 1, 2 or 4; LZF: compressed length */
    uint64_t raw_len;       /* LZF: the uncompressed length */
};

/* What one parsed record holds, applied only once it parsed whole. */
struct rdb_rec {
    int op; /* an RDB_OP_*, RDB_REC_HEADER, or a value type for a key */
    uint64_t a;
    struct rdb_str s1, s2;
    const unsigned char *value;
    size_t value_len;
};

/* Reads one record out of p[0..len) (the bytes from the record's start). */
struct rdb_cursor {
    const unsigned char *p;
    size_t len;
    size_t pos;
    size_t cap;       /* the record may not grow past this */
    size_t need;      /* on RDB_SHORT: the record is at least this long */
    uint64_t base;    /* file offset of p[0] */
    const char *what; /* what is being read, for errors */
    struct error *err;
};

struct rdb_reader {
    struct rdb_callbacks cb;
    void *ctx;
    size_t cap;
    enum rdb_state state;
    struct buf rec;    /* the start of an incomplete record */
    size_t want;       /* retry the parse of rec once it holds this many bytes */
    uint64_t offset;   /* file offset of the next record */
    uint64_t received; /* bytes fed */
    uint64_t crc;      /* over the bytes of every whole record so far */
    const char *what;  /* what the incomplete record in rec was found to be */
    int db;
    int64_t expire_ms;
    int64_t idle_s;
    int lfu_freq;
    struct buf key; /* a key or function body that needed decoding */
    struct buf aux_key;
    struct buf aux_val;
    size_t dbs_alloc;
    struct rdb_summary sum;
};

/* ---- the cursor ---- */

static int rdb_cur_error(struct rdb_cursor *c, const char *fmt, ...) PRINTF(2, 3);

static int rdb_cur_error(struct rdb_cursor *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return error_set(c->err, ERR_INTEGRITY, "at byte %" PRIu64 ", in %s at byte %" PRIu64 ": %s",
                     c->base + c->pos, c->what, c->base, msg);
}

/* Makes sure n more bytes are present; RDB_SHORT (need set) when they are not yet, -1 past the
 * cap. The cap is checked first, so a declared length of 2^40 fails at once. */
static inline int rdb_cur_ensure(struct rdb_cursor *c, uint64_t n)
{
    if (n > (uint64_t)(c->cap - c->pos))
        return rdb_cur_error(
            c, "a length of %" PRIu64 " bytes makes it larger than the cap of %zu bytes", n,
            c->cap);
    if (n > (uint64_t)(c->len - c->pos)) {
        c->need = c->pos + (size_t)n;
        return RDB_SHORT;
    }
    return 0;
}

static inline int rdb_cur_take(struct rdb_cursor *c, uint64_t n, const unsigned char **out)
{
    int rc = rdb_cur_ensure(c, n);

    if (rc != 0)
        return rc;
    *out = c->p + c->pos;
    c->pos += (size_t)n;
    return 0;
}

static inline uint64_t rdb_load_le(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t rdb_load_be(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A length: 6-bit, 14-bit, 32-bit or 64-bit; *is_encoded for the 11xxxxxx special encodings,
 * whose low 6 bits come back in *v. */
static int rdb_read_len(struct rdb_cursor *c, uint64_t *v, bool *is_encoded)
{
    const unsigned char *q;
    int rc = rdb_cur_ensure(c, 1);
    unsigned b;

    *v = 0;
    *is_encoded = false;
    if (rc != 0)
        return rc;
    b = c->p[c->pos];
    switch (b >> 6) {
    case 0:
        *v = b & 0x3f;
        c->pos++;
        return 0;
    case 1:
        if ((rc = rdb_cur_take(c, 2, &q)) != 0)
            return rc;
        *v = ((uint64_t)(b & 0x3f) << 8) | q[1];
        return 0;
    case 2:
        if (b == 0x80) {
            if ((rc = rdb_cur_take(c, 5, &q)) != 0)
                return rc;
            *v = rdb_load_be(q + 1, 4);
            return 0;
        }
        if (b == 0x81) {
            if ((rc = rdb_cur_take(c, 9, &q)) != 0)
                return rc;
            *v = rdb_load_be(q + 1, 8);
            return 0;
        }
        return rdb_cur_error(c, "bad length encoding 0x%02x", b);
    default:
        *is_encoded = true;
        *v = b & 0x3f;
        c->pos++;
        return 0;
    }
}

/* A plain length used as a number (an ID, a TTL, a module integer): no cap applies. */
static int rdb_read_number(struct rdb_cursor *c, uint64_t *v, const char *of)
{
    bool is_encoded;
    int rc = rdb_read_len(c, v, &is_encoded);

    if (rc != 0)
        return rc;
    if (is_encoded)
        return rdb_cur_error(c, "a string encoding where the %s should be (0x%" PRIx64 ")", of,
                             *v | 0xc0);
    return 0;
}

/* A length that must be plain, and a count of items of at least one byte each: a count that could
 * not fit in the cap fails now rather than after a long loop. */
static int rdb_read_count(struct rdb_cursor *c, uint64_t *v, const char *of)
{
    int rc = rdb_read_number(c, v, of);

    if (rc != 0)
        return rc;
    if (*v > (uint64_t)(c->cap - c->pos))
        return rdb_cur_error(c, "the %s %" PRIu64 " cannot fit in the entry cap", of, *v);
    return 0;
}

static int rdb_read_string(struct rdb_cursor *c, struct rdb_str *s)
{
    uint64_t v;
    bool is_encoded;
    int rc = rdb_read_len(c, &v, &is_encoded);

    if (rc != 0)
        return rc;
    if (!is_encoded) {
        s->enc = RDB_ENC_PLAIN;
        s->len = (size_t)v;
        return rdb_cur_take(c, v, &s->p);
    }
    s->enc = (int)v;
    switch (v) {
    case RDB_ENC_INT8:
        s->len = 1;
        return rdb_cur_take(c, 1, &s->p);
    case RDB_ENC_INT16:
        s->len = 2;
        return rdb_cur_take(c, 2, &s->p);
    case RDB_ENC_INT32:
        s->len = 4;
        return rdb_cur_take(c, 4, &s->p);
    case RDB_ENC_LZF:
        if ((rc = rdb_read_count(c, &v, "compressed length")) != 0)
            return rc;
        if ((rc = rdb_read_len(c, &s->raw_len, &is_encoded)) != 0)
            return rc;
        if (is_encoded)
            return rdb_cur_error(c, "bad LZF uncompressed length encoding %" PRIu64, s->raw_len);
        s->len = (size_t)v;
        return rdb_cur_take(c, v, &s->p);
    default:
        return rdb_cur_error(c, "unknown string encoding %" PRIu64, v);
    }
}

static inline int rdb_skip_string(struct rdb_cursor *c)
{
    struct rdb_str s;

    return rdb_read_string(c, &s);
}

static int rdb_skip_strings(struct rdb_cursor *c, int n)
{
    int rc;

    for (int i = 0; i < n; i++) {
        if ((rc = rdb_skip_string(c)) != 0)
            return rc;
    }
    return 0;
}

static inline int rdb_skip(struct rdb_cursor *c, uint64_t n)
{
    const unsigned char *q;

    return rdb_cur_take(c, n, &q);
}

static int rdb_skip_numbers(struct rdb_cursor *c, int n, const char *of)
{
    uint64_t v;
    int rc;

    for (int i = 0; i < n; i++) {
        if ((rc = rdb_read_number(c, &v, of)) != 0)
            return rc;
    }
    return 0;
}

/* ---- values ---- */

/* Module values and module aux data: opcode-tagged items up to RDB_MODULE_EOF. */
static int rdb_walk_module(struct rdb_cursor *c)
{
    uint64_t op;
    uint64_t v;
    int rc;

    for (;;) {
        if ((rc = rdb_read_number(c, &op, "module opcode")) != 0)
            return rc;
        switch (op) {
        case RDB_MODULE_EOF:
            return 0;
        case RDB_MODULE_SINT:
        case RDB_MODULE_UINT:
            rc = rdb_read_number(c, &v, "module integer");
            break;
        case RDB_MODULE_FLOAT:
            rc = rdb_skip(c, 4);
            break;
        case RDB_MODULE_DOUBLE:
            rc = rdb_skip(c, 8);
            break;
        case RDB_MODULE_STRING:
            rc = rdb_skip_string(c);
            break;
        default:
            return rdb_cur_error(c, "unknown module opcode %" PRIu64, op);
        }
        if (rc != 0)
            return rc;
    }
}

/* Streams: the listpacks with their master IDs, the metadata, then the consumer groups, each with
 * its PEL (raw 16-byte IDs, 8-byte delivery time, delivery count) and its consumers (name, seen
 * time, active time from version 3, and a PEL of raw IDs). */
static int rdb_walk_stream(struct rdb_cursor *c, unsigned type)
{
    uint64_t n;
    uint64_t groups;
    int rc;

    if ((rc = rdb_read_count(c, &n, "stream listpack count")) != 0)
        return rc;
    for (uint64_t i = 0; i < n; i++) {
        if ((rc = rdb_skip_strings(c, 2)) != 0)
            return rc;
    }
    /* length, last ID; from version 2: first ID, max deleted ID, entries added */
    if ((rc = rdb_skip_numbers(c, type >= RDB_TYPE_STREAM_LISTPACKS_2 ? 8 : 3,
                               "stream metadata")) != 0)
        return rc;
    if ((rc = rdb_read_count(c, &groups, "consumer group count")) != 0)
        return rc;
    for (uint64_t g = 0; g < groups; g++) {
        uint64_t pel;
        uint64_t consumers;

        if ((rc = rdb_skip_string(c)) != 0)
            return rc;
        if ((rc = rdb_skip_numbers(c, type >= RDB_TYPE_STREAM_LISTPACKS_2 ? 3 : 2,
                                   "consumer group ID")) != 0)
            return rc;
        if ((rc = rdb_read_count(c, &pel, "PEL size")) != 0)
            return rc;
        for (uint64_t i = 0; i < pel; i++) {
            if ((rc = rdb_skip(c, 16 + 8)) != 0 ||
                (rc = rdb_skip_numbers(c, 1, "delivery count")) != 0)
                return rc;
        }
        if ((rc = rdb_read_count(c, &consumers, "consumer count")) != 0)
            return rc;
        for (uint64_t k = 0; k < consumers; k++) {
            if ((rc = rdb_skip_string(c)) != 0)
                return rc;
            if ((rc = rdb_skip(c, type >= RDB_TYPE_STREAM_LISTPACKS_3 ? 16 : 8)) != 0)
                return rc;
            if ((rc = rdb_read_count(c, &pel, "consumer PEL size")) != 0)
                return rc;
            if ((rc = rdb_skip(c, pel * 16)) != 0)
                return rc;
        }
    }
    return 0;
}

static bool rdb_type_is_known(unsigned type)
{
    return type <= RDB_TYPE_HASH_LISTPACK_EX && type != 8;
}

static int rdb_walk_value(struct rdb_cursor *c, unsigned type)
{
    uint64_t n;
    uint64_t v;
    const unsigned char *q;
    int rc;

    switch (type) {
    case RDB_TYPE_STRING:
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET_LISTPACK:
    case RDB_TYPE_SET_LISTPACK:
    case RDB_TYPE_HASH_LISTPACK_EX_PRE_GA:
        return rdb_skip_string(c);
    case RDB_TYPE_HASH_LISTPACK_EX:
        if ((rc = rdb_skip(c, 8)) != 0) /* the smallest field expiry */
            return rc;
        return rdb_skip_string(c);
    case RDB_TYPE_LIST:
    case RDB_TYPE_SET:
    case RDB_TYPE_LIST_QUICKLIST:
        if ((rc = rdb_read_count(c, &n, "element count")) != 0)
            return rc;
        for (uint64_t i = 0; i < n; i++) {
            if ((rc = rdb_skip_string(c)) != 0)
                return rc;
        }
        return 0;
    case RDB_TYPE_HASH:
        if ((rc = rdb_read_count(c, &n, "field count")) != 0)
            return rc;
        for (uint64_t i = 0; i < n; i++) {
            if ((rc = rdb_skip_strings(c, 2)) != 0)
                return rc;
        }
        return 0;
    case RDB_TYPE_ZSET:
        /* member, then the score as text after a length byte (253-255: NaN, +inf, -inf) */
        if ((rc = rdb_read_count(c, &n, "member count")) != 0)
            return rc;
        for (uint64_t i = 0; i < n; i++) {
            if ((rc = rdb_skip_string(c)) != 0 || (rc = rdb_cur_take(c, 1, &q)) != 0)
                return rc;
            if (q[0] < 253 && (rc = rdb_skip(c, q[0])) != 0)
                return rc;
        }
        return 0;
    case RDB_TYPE_ZSET_2:
        if ((rc = rdb_read_count(c, &n, "member count")) != 0)
            return rc;
        for (uint64_t i = 0; i < n; i++) {
            if ((rc = rdb_skip_string(c)) != 0 || (rc = rdb_skip(c, 8)) != 0)
                return rc;
        }
        return 0;
    case RDB_TYPE_LIST_QUICKLIST_2:
        if ((rc = rdb_read_count(c, &n, "quicklist node count")) != 0)
            return rc;
        for (uint64_t i = 0; i < n; i++) {
            if ((rc = rdb_read_number(c, &v, "quicklist container")) != 0)
                return rc;
            if (v != 1 && v != 2)
                return rdb_cur_error(c, "bad quicklist container %" PRIu64, v);
            if ((rc = rdb_skip_string(c)) != 0)
                return rc;
        }
        return 0;
    case RDB_TYPE_HASH_METADATA_PRE_GA:
    case RDB_TYPE_HASH_METADATA:
        /* [smallest expiry, 8 bytes], count, then per field: TTL (a length), field, value */
        if (type == RDB_TYPE_HASH_METADATA && (rc = rdb_skip(c, 8)) != 0)
            return rc;
        if ((rc = rdb_read_count(c, &n, "field count")) != 0)
            return rc;
        for (uint64_t i = 0; i < n; i++) {
            if ((rc = rdb_read_number(c, &v, "field TTL")) != 0 || (rc = rdb_skip_string(c)) != 0 ||
                (rc = rdb_skip_string(c)) != 0)
                return rc;
        }
        return 0;
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
    case RDB_TYPE_STREAM_LISTPACKS_3:
        return rdb_walk_stream(c, type);
    case RDB_TYPE_MODULE_2:
        if ((rc = rdb_read_number(c, &v, "module id")) != 0)
            return rc;
        return rdb_walk_module(c);
    case RDB_TYPE_MODULE_PRE_GA:
        return rdb_cur_error(c,
                             "value type %" PRIu64 " (pre-release module format) is not supported",
                             (uint64_t)type);
    default:
        return rdb_cur_error(c, "unknown value type %" PRIu64, (uint64_t)type);
    }
}

/* ---- records ---- */

static int rdb_parse_header(struct rdb_cursor *c, struct rdb_rec *rec)
{
    static const char redis_magic[] = "REDIS";
    static const char valkey_magic[] = "VALKEY";
    size_t have = c->len < 9 ? c->len : 9;
    size_t redis_cmp = have < 5 ? have : 5;
    size_t valkey_cmp = have < 6 ? have : 6;
    const unsigned char *q;
    int version = 0;
    int rc;

    c->what = "the header";
    if (memcmp(c->p, redis_magic, redis_cmp) != 0 && memcmp(c->p, valkey_magic, valkey_cmp) != 0)
        return error_set(c->err, ERR_INTEGRITY,
                         "at byte 0: bad magic: not an RDB file (no REDIS header)");
    if ((rc = rdb_cur_take(c, 9, &q)) != 0)
        return rc;
    if (memcmp(q, valkey_magic, 6) == 0) {
        return error_set(c->err, ERR_INTEGRITY,
                         "at byte 0: magic '%.9s' is Valkey 9's own RDB format, which this reader "
                         "does not read (it reads RDB versions %d-%d)",
                         (const char *)q, RDB_VERSION_MIN, RDB_VERSION_MAX);
    }
    if (memcmp(q, redis_magic, 5) != 0)
        return error_set(c->err, ERR_INTEGRITY, "at byte 0: bad magic: not an RDB file");
    for (int i = 5; i < 9; i++) {
        if (q[i] < '0' || q[i] > '9')
            return error_set(c->err, ERR_INTEGRITY,
                             "at byte 0: bad magic: the RDB version is not 4 digits");
        version = version * 10 + (q[i] - '0');
    }
    if (version < RDB_VERSION_MIN)
        return error_set(c->err, ERR_INTEGRITY,
                         "at byte 0: RDB version %d is older than %d, the oldest this reader "
                         "reads (%d-%d)",
                         version, RDB_VERSION_MIN, RDB_VERSION_MIN, RDB_VERSION_MAX);
    if (version > RDB_VERSION_MAX)
        return error_set(c->err, ERR_INTEGRITY,
                         "at byte 0: RDB version %d is newer than this reader (%d-%d)", version,
                         RDB_VERSION_MIN, RDB_VERSION_MAX);
    rec->op = RDB_REC_HEADER;
    rec->a = (uint64_t)version;
    return 0;
}

static int rdb_parse_record(const struct rdb_reader *r, struct rdb_cursor *c, struct rdb_rec *rec)
{
    const unsigned char *q;
    uint64_t v;
    int rc;

    memset(rec, 0, sizeof(*rec));
    rec->s1.enc = RDB_ENC_PLAIN;
    rec->s1.p = (const unsigned char *)"";
    rec->s2 = rec->s1;
    if (r->state == RDB_STATE_HEADER)
        return rdb_parse_header(c, rec);
    c->what = "a record";
    if ((rc = rdb_cur_take(c, 1, &q)) != 0)
        return rc;
    rec->op = q[0];
    switch (rec->op) {
    case RDB_OP_AUX:
        c->what = "an AUX field";
        if ((rc = rdb_read_string(c, &rec->s1)) != 0)
            return rc;
        return rdb_read_string(c, &rec->s2);
    case RDB_OP_RESIZEDB:
        c->what = "a RESIZEDB record";
        return rdb_skip_numbers(c, 2, "table size");
    case RDB_OP_SLOT_INFO:
        c->what = "a SLOT_INFO record";
        return rdb_skip_numbers(c, 3, "slot info");
    case RDB_OP_EXPIRETIME_MS:
        c->what = "an EXPIRETIME_MS record";
        if ((rc = rdb_cur_take(c, 8, &q)) != 0)
            return rc;
        rec->a = rdb_load_le(q, 8);
        return 0;
    case RDB_OP_EXPIRETIME:
        c->what = "an EXPIRETIME record";
        if ((rc = rdb_cur_take(c, 4, &q)) != 0)
            return rc;
        rec->a = rdb_load_le(q, 4);
        return 0;
    case RDB_OP_SELECTDB:
        c->what = "a SELECTDB record";
        if ((rc = rdb_read_number(c, &rec->a, "database number")) != 0)
            return rc;
        if (rec->a > INT_MAX)
            return rdb_cur_error(c, "database number %" PRIu64 " is out of range", rec->a);
        return 0;
    case RDB_OP_IDLE:
        c->what = "an IDLE record";
        return rdb_read_number(c, &rec->a, "idle time");
    case RDB_OP_FREQ:
        c->what = "a FREQ record";
        if ((rc = rdb_cur_take(c, 1, &q)) != 0)
            return rc;
        rec->a = q[0];
        return 0;
    case RDB_OP_MODULE_AUX:
        c->what = "a module aux record";
        if ((rc = rdb_read_number(c, &v, "module id")) != 0)
            return rc;
        if ((rc = rdb_read_number(c, &v, "module aux when-opcode")) != 0)
            return rc;
        if (v != RDB_MODULE_UINT)
            return rdb_cur_error(c, "bad module aux when-opcode %" PRIu64, v);
        if ((rc = rdb_read_number(c, &v, "module aux when")) != 0)
            return rc;
        return rdb_walk_module(c);
    case RDB_OP_FUNCTION_PRE_GA:
        c->what = "a function record";
        return rdb_cur_error(c,
                             "opcode 0x%" PRIx64 " is the pre-release function format of "
                             "Redis 7.0 release candidates, which is not supported",
                             (uint64_t)RDB_OP_FUNCTION_PRE_GA);
    case RDB_OP_FUNCTION2:
        c->what = "a function library";
        return rdb_read_string(c, &rec->s1);
    case RDB_OP_EOF:
        c->what = "the checksum";
        if ((rc = rdb_cur_take(c, 8, &q)) != 0)
            return rc;
        rec->a = rdb_load_le(q, 8);
        return 0;
    default:
        break;
    }
    if (!rdb_type_is_known((unsigned)rec->op))
        return rdb_cur_error(c, "unknown opcode or value type %" PRIu64, (uint64_t)rec->op);
    c->what = "a key";
    if ((rc = rdb_read_string(c, &rec->s1)) != 0)
        return rc;
    rec->value = c->p + c->pos;
    if ((rc = rdb_walk_value(c, (unsigned)rec->op)) != 0)
        return rc;
    rec->value_len = (size_t)(c->p + c->pos - rec->value);
    return 0;
}

/* LZF (liblzf's format): a control byte below 32 starts a literal run of ctrl+1 bytes; otherwise
 * its top 3 bits (7: plus the next byte) + 2 is a length to copy from (low 5 bits << 8 | next
 * byte) + 1 bytes back. Returns false unless the input decodes to exactly out_len bytes. */
static bool rdb_lzf_decompress(const unsigned char *in, size_t in_len, unsigned char *out,
                               size_t out_len)
{
    size_t ip = 0;
    size_t op = 0;

    while (ip < in_len) {
        size_t ctrl = in[ip++];
        size_t run;
        size_t back;

        if (ctrl < 32) {
            run = ctrl + 1;
            if (run > in_len - ip || run > out_len - op)
                return false;
            memcpy(out + op, in + ip, run);
            ip += run;
            op += run;
            continue;
        }
        run = ctrl >> 5;
        if (run == 7) {
            if (ip >= in_len)
                return false;
            run += in[ip++];
        }
        if (ip >= in_len)
            return false;
        back = ((ctrl & 0x1f) << 8) + in[ip++] + 1;
        run += 2;
        if (back > op || run > out_len - op)
            return false;
        for (size_t i = 0; i < run; i++) /* overlapping copies repeat a pattern */
            out[op + i] = out[op - back + i];
        op += run;
    }
    return op == out_len;
}

/* The bytes of a string: plain ones in place, others decoded into scratch. */
static int rdb_decode_string(const struct rdb_reader *r, const struct rdb_str *s,
                             struct buf *scratch, uint64_t at, const unsigned char **out,
                             size_t *out_len, struct error *err)
{
    int64_t n;

    *out = (const unsigned char *)"";
    *out_len = 0;
    if (s->enc == RDB_ENC_PLAIN) {
        *out = s->p;
        *out_len = s->len;
        return 0;
    }
    buf_reset(scratch);
    if (s->enc == RDB_ENC_LZF) {
        if (s->raw_len > r->cap || !buf_reserve(scratch, (size_t)s->raw_len + 1))
            return error_set(err, ERR_INTEGRITY,
                             "at byte %" PRIu64 ": an LZF string of %" PRIu64
                             " bytes is larger than the cap of %zu bytes",
                             at, s->raw_len, r->cap);
        if (!rdb_lzf_decompress(s->p, s->len, (unsigned char *)scratch->data, (size_t)s->raw_len))
            return error_set(err, ERR_INTEGRITY, "at byte %" PRIu64 ": corrupt LZF string", at);
        scratch->len = (size_t)s->raw_len;
        scratch->data[scratch->len] = '\0';
    } else {
        if (s->enc == RDB_ENC_INT8)
            n = s->p[0] < 128 ? (int64_t)s->p[0] : (int64_t)s->p[0] - 256;
        else if (s->enc == RDB_ENC_INT16)
            n = (int16_t)(uint16_t)rdb_load_le(s->p, 2);
        else
            n = (int32_t)(uint32_t)rdb_load_le(s->p, 4);
        ASSERT(buf_addf(scratch, "%" PRId64, n));
    }
    *out = (const unsigned char *)scratch->data;
    *out_len = scratch->len;
    return 0;
}

static struct rdb_db_count *rdb_db_slot(struct rdb_reader *r, int db)
{
    struct rdb_summary *s = &r->sum;
    size_t i;

    if (s->db_count > 0 && s->dbs[s->db_count - 1].db == db)
        return &s->dbs[s->db_count - 1];
    for (i = 0; i < s->db_count && s->dbs[i].db < db; i++)
        ;
    if (i < s->db_count && s->dbs[i].db == db)
        return &s->dbs[i];
    XGROW(s->dbs, s->db_count + 1, r->dbs_alloc);
    memmove(&s->dbs[i + 1], &s->dbs[i], (s->db_count - i) * sizeof(s->dbs[0]));
    s->db_count++;
    s->dbs[i].db = db;
    s->dbs[i].keys = 0;
    s->dbs[i].expires = 0;
    return &s->dbs[i];
}

static int64_t rdb_parse_int(const unsigned char *p, size_t len)
{
    int64_t v = 0;
    bool neg = len > 0 && p[0] == '-';

    for (size_t i = neg ? 1 : 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return neg ? -v : v;
}

static int rdb_apply_aux(struct rdb_reader *r, const struct rdb_rec *rec, struct error *err)
{
    const unsigned char *k;
    const unsigned char *v;
    size_t klen;
    size_t vlen;

    if (rdb_decode_string(r, &rec->s1, &r->aux_key, r->offset, &k, &klen, err) < 0 ||
        rdb_decode_string(r, &rec->s2, &r->aux_val, r->offset, &v, &vlen, err) < 0)
        return -1;
    if (klen == 9 && memcmp(k, "redis-ver", 9) == 0)
        buf_format_fixed(r->sum.redis_ver, sizeof(r->sum.redis_ver), "%.*s",
                         (int)(vlen < 31 ? vlen : 31), (const char *)v);
    else if (klen == 5 && memcmp(k, "ctime", 5) == 0)
        r->sum.ctime = rdb_parse_int(v, vlen);
    else if (klen == 8 && memcmp(k, "used-mem", 8) == 0)
        r->sum.used_mem = rdb_parse_int(v, vlen);
    return 0;
}

static int rdb_apply_key(struct rdb_reader *r, const struct rdb_rec *rec, struct error *err)
{
    struct rdb_entry e;
    struct rdb_db_count *slot;

    e.db = r->db;
    e.type = (uint8_t)rec->op;
    e.value = rec->value;
    e.value_len = rec->value_len;
    e.expire_ms = r->expire_ms;
    e.idle_s = r->idle_s;
    e.lfu_freq = r->lfu_freq;
    r->expire_ms = -1;
    r->idle_s = -1;
    r->lfu_freq = -1;
    slot = rdb_db_slot(r, e.db);
    slot->keys++;
    if (e.expire_ms >= 0)
        slot->expires++;
    r->sum.keys++;
    if (!r->cb.entry)
        return 0;
    if (rdb_decode_string(r, &rec->s1, &r->key, r->offset, &e.key, &e.key_len, err) < 0)
        return -1;
    if (r->cb.entry(r->ctx, &e, err) != 0) {
        if (err->kind == ERR_NONE)
            error_set(err, ERR_FAILED, "entry callback failed");
        return -1;
    }
    return 0;
}

static int rdb_apply_record(struct rdb_reader *r, const struct rdb_rec *rec, struct error *err)
{
    const unsigned char *body;
    size_t body_len;

    switch (rec->op) {
    case RDB_REC_HEADER:
        r->sum.version = (int)rec->a;
        r->state = RDB_STATE_BODY;
        return 0;
    case RDB_OP_AUX:
        return rdb_apply_aux(r, rec, err);
    case RDB_OP_RESIZEDB:
    case RDB_OP_SLOT_INFO:
        return 0;
    case RDB_OP_EXPIRETIME_MS:
        r->expire_ms = rec->a > INT64_MAX ? INT64_MAX : (int64_t)rec->a;
        return 0;
    case RDB_OP_EXPIRETIME:
        r->expire_ms = (int64_t)(int32_t)(uint32_t)rec->a * 1000;
        if (r->expire_ms < 0)
            r->expire_ms = 0;
        return 0;
    case RDB_OP_SELECTDB:
        r->db = (int)rec->a;
        return 0;
    case RDB_OP_IDLE:
        r->idle_s = rec->a > INT64_MAX ? INT64_MAX : (int64_t)rec->a;
        return 0;
    case RDB_OP_FREQ:
        r->lfu_freq = (int)rec->a;
        return 0;
    case RDB_OP_MODULE_AUX:
        r->sum.module_aux++;
        return 0;
    case RDB_OP_FUNCTION2:
        r->sum.functions++;
        if (!r->cb.function)
            return 0;
        if (rdb_decode_string(r, &rec->s1, &r->key, r->offset, &body, &body_len, err) < 0)
            return -1;
        if (r->cb.function(r->ctx, body, body_len, err) != 0) {
            if (err->kind == ERR_NONE)
                error_set(err, ERR_FAILED, "function callback failed");
            return -1;
        }
        return 0;
    case RDB_OP_EOF:
        r->sum.stored_crc = rec->a;
        r->state = RDB_STATE_DONE;
        return 0;
    default:
        return rdb_apply_key(r, rec, err);
    }
}

/* Parses whole records from p[0..len) and applies them. *used: the bytes they took; when bytes
 * are left, they start an incomplete record that needs at least *need bytes. */
static int rdb_parse_span(struct rdb_reader *r, const unsigned char *p, size_t len, size_t *used,
                          size_t *need, struct error *err)
{
    size_t pos = 0;
    size_t crc_from = 0;
    bool crc_open = true;

    *need = 0;
    while (pos < len) {
        struct rdb_cursor c = {p + pos, len - pos, 0, r->cap, 0, r->offset, "a record", err};
        struct rdb_rec rec;
        int rc;

        if (r->state == RDB_STATE_DONE)
            return error_set(err, ERR_INTEGRITY,
                             "at byte %" PRIu64 ": trailing bytes after the checksum", r->offset);
        rc = rdb_parse_record(r, &c, &rec);
        if (rc < 0)
            return -1;
        if (rc == RDB_SHORT) {
            *need = c.need;
            r->what = c.what;
            break;
        }
        if (rec.op == RDB_OP_EOF) {
            /* The CRC covers everything up to and including the EOF opcode. */
            r->crc = crc64_update(r->crc, p + crc_from, pos + 1 - crc_from);
            crc_open = false;
        }
        if (rdb_apply_record(r, &rec, err) < 0)
            return -1;
        pos += c.pos;
        r->offset += c.pos;
    }
    if (crc_open)
        r->crc = crc64_update(r->crc, p + crc_from, pos - crc_from);
    *used = pos;
    return 0;
}

static size_t rdb_next_want(const struct rdb_reader *r, size_t need, size_t have)
{
    size_t want = have > r->cap / 2 ? r->cap : have * 2;

    return need > want ? need : want;
}

/* Parses what r->rec holds; keeps the incomplete tail. */
static int rdb_drain(struct rdb_reader *r, struct error *err)
{
    size_t used = 0;
    size_t need = 0;

    if (rdb_parse_span(r, (const unsigned char *)r->rec.data, r->rec.len, &used, &need, err) < 0)
        return -1;
    if (used == r->rec.len) {
        buf_reset(&r->rec);
        r->want = 0;
        return 0;
    }
    buf_consume(&r->rec, used);
    r->want = rdb_next_want(r, need, r->rec.len);
    return 0;
}

struct rdb_reader *rdb_reader_new(const struct rdb_callbacks *cb, void *ctx, size_t max_entry_bytes)
{
    struct rdb_reader *r = xcalloc(1, sizeof(*r));

    if (cb)
        r->cb = *cb;
    r->ctx = ctx;
    r->cap = max_entry_bytes ? max_entry_bytes : RDB_DEFAULT_MAX_ENTRY;
    if (r->cap < 64) /* room for the header and the EOF record */
        r->cap = 64;
    r->state = RDB_STATE_HEADER;
    buf_init(&r->rec, r->cap);
    buf_init(&r->key, BUF_NO_CAP);
    buf_init(&r->aux_key, BUF_NO_CAP);
    buf_init(&r->aux_val, BUF_NO_CAP);
    r->expire_ms = -1;
    r->idle_s = -1;
    r->lfu_freq = -1;
    r->sum.ctime = -1;
    r->sum.used_mem = -1;
    return r;
}

int rdb_reader_feed(struct rdb_reader *r, const void *data, size_t len, struct error *err)
{
    const unsigned char *p = data;

    if (r->state == RDB_STATE_FAILED)
        return error_set(err, ERR_INTEGRITY, "rdb reader: fed after an error");
    if (r->state == RDB_STATE_DONE && len > 0) {
        r->state = RDB_STATE_FAILED;
        return error_set(err, ERR_INTEGRITY,
                         "at byte %" PRIu64 ": trailing bytes after the checksum", r->offset);
    }
    r->received += len;
    while (len > 0) {
        size_t add;

        if (r->rec.len == 0) {
            size_t used = 0;
            size_t need = 0;

            if (rdb_parse_span(r, p, len, &used, &need, err) < 0)
                goto fail;
            p += used;
            len -= used;
            if (len == 0)
                break;
            ASSERT(buf_add(&r->rec, p, len)); /* need > len and need <= cap */
            r->want = rdb_next_want(r, need, len);
            break;
        }
        add = r->want - r->rec.len;
        if (add > len)
            add = len;
        ASSERT(buf_add(&r->rec, p, add));
        p += add;
        len -= add;
        if (r->rec.len < r->want)
            break;
        if (rdb_drain(r, err) < 0)
            goto fail;
    }
    return 0;
fail:
    r->state = RDB_STATE_FAILED;
    return -1;
}

int rdb_reader_finish(struct rdb_reader *r, struct error *err)
{
    if (r->state == RDB_STATE_FAILED)
        return error_set(err, ERR_INTEGRITY, "rdb reader: finished after an error");
    /* The retry threshold may ask for more than the file has left: parse what is here. */
    if (r->rec.len > 0 && rdb_drain(r, err) < 0) {
        r->state = RDB_STATE_FAILED;
        return -1;
    }
    if (r->state != RDB_STATE_DONE) {
        if (r->rec.len > 0)
            error_set(err, ERR_INTEGRITY,
                      "truncated at byte %" PRIu64 ", inside %s at byte %" PRIu64, r->received,
                      r->what ? r->what : "a record", r->offset);
        else if (r->state == RDB_STATE_HEADER)
            error_set(err, ERR_INTEGRITY, "truncated at byte %" PRIu64 ", inside the header",
                      r->received);
        else
            error_set(err, ERR_INTEGRITY,
                      "truncated at byte %" PRIu64 ", between records (no EOF opcode)",
                      r->received);
        r->state = RDB_STATE_FAILED;
        return -1;
    }
    r->sum.bytes = r->offset;
    if (r->sum.stored_crc == 0) {
        r->sum.crc_checked = false;
        return 0;
    }
    if (r->sum.stored_crc != r->crc) {
        r->state = RDB_STATE_FAILED;
        return error_set(err, ERR_INTEGRITY,
                         "checksum mismatch: file says %016" PRIx64 ", computed %016" PRIx64,
                         r->sum.stored_crc, r->crc);
    }
    r->sum.crc_checked = true;
    return 0;
}

const struct rdb_summary *rdb_reader_summary(const struct rdb_reader *r)
{
    return &r->sum;
}

void rdb_reader_free(struct rdb_reader *r)
{
    if (!r)
        return;
    buf_release(&r->rec);
    buf_release(&r->key);
    buf_release(&r->aux_key);
    buf_release(&r->aux_val);
    xfree(r->sum.dbs);
    xfree(r);
}

/* ---- DUMP payloads ---- */

static void rdb_put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Appends the DUMP footer for out->data[start..]: version and CRC. */
static void rdb_add_footer(struct buf *out, size_t start, int rdb_version)
{
    unsigned char foot[RDB_FOOTER_LEN];
    uint64_t crc;

    rdb_put_le(foot, (uint64_t)rdb_version, 2);
    ASSERT(buf_add(out, foot, 2));
    crc = crc64_update(0, out->data + start, out->len - start);
    rdb_put_le(foot, crc, 8);
    ASSERT(buf_add(out, foot, 8));
}

/* A plain (never int-encoded or compressed) RDB length prefix; returns its size. */
static size_t rdb_encode_len(unsigned char *p, uint64_t v)
{
    if (v < 64) {
        p[0] = (unsigned char)v;
        return 1;
    }
    if (v < 16384) {
        p[0] = (unsigned char)(0x40 | (v >> 8));
        p[1] = (unsigned char)v;
        return 2;
    }
    if (v <= UINT32_MAX) {
        p[0] = 0x80;
        for (int i = 0; i < 4; i++)
            p[1 + i] = (unsigned char)(v >> (24 - 8 * i));
        return 5;
    }
    p[0] = 0x81;
    for (int i = 0; i < 8; i++)
        p[1 + i] = (unsigned char)(v >> (56 - 8 * i));
    return 9;
}

void rdb_entry_payload(const struct rdb_entry *e, int rdb_version, struct buf *out)
{
    size_t start = out->len;

    ASSERT(buf_reserve(out, 1 + e->value_len + RDB_FOOTER_LEN));
    ASSERT(buf_add(out, &e->type, 1));
    ASSERT(buf_add(out, e->value, e->value_len));
    rdb_add_footer(out, start, rdb_version);
}

/* Bodies go out as plain strings: FUNCTION RESTORE reads those as well as LZF ones, and the result
 * is byte for byte what FUNCTION DUMP returns on a server with rdbcompression no. */
void rdb_functions_payload(const unsigned char *const *bodies, const size_t *lens, size_t count,
                           int rdb_version, struct buf *out)
{
    size_t start = out->len;

    for (size_t i = 0; i < count; i++) {
        unsigned char head[10];
        size_t n;

        head[0] = RDB_OP_FUNCTION2;
        n = rdb_encode_len(head + 1, lens[i]);
        ASSERT(buf_add(out, head, 1 + n));
        ASSERT(buf_add(out, bodies[i], lens[i]));
    }
    rdb_add_footer(out, start, rdb_version);
}

int rdb_payload_check(const unsigned char *payload, size_t len, int *rdb_version, struct error *err)
{
    uint64_t stored;
    uint64_t crc;

    if (len < 1 + RDB_FOOTER_LEN)
        return error_set(err, ERR_INTEGRITY, "DUMP payload of %zu bytes is too short", len);
    stored = rdb_load_le(payload + len - 8, 8);
    crc = crc64_update(0, payload, len - 8);
    if (stored != crc)
        return error_set(err, ERR_INTEGRITY,
                         "DUMP payload checksum mismatch: payload says %016" PRIx64
                         ", computed %016" PRIx64,
                         stored, crc);
    *rdb_version = (int)rdb_load_le(payload + len - RDB_FOOTER_LEN, 2);
    return 0;
}

/* ---- the writer ---- */

struct rdb_writer {
    int version;
    rdb_sink_fn sink;
    void *ctx;
    uint64_t crc;
    int db;
    bool failed;
};

static int rdb_writer_emit(struct rdb_writer *w, const void *data, size_t len, struct error *err)
{
    if (len == 0)
        return 0;
    w->crc = crc64_update(w->crc, data, len);
    if (w->sink(w->ctx, data, len, err) != 0) {
        w->failed = true;
        if (err->kind == ERR_NONE)
            error_set(err, ERR_IO, "rdb writer: sink failed");
        return -1;
    }
    return 0;
}

static void rdb_add_string(struct buf *b, const void *s, size_t len)
{
    unsigned char head[9];

    ASSERT(buf_add(b, head, rdb_encode_len(head, len)));
    ASSERT(buf_add(b, s, len));
}

static void rdb_add_aux(struct buf *b, const char *key, const char *value)
{
    unsigned char op = RDB_OP_AUX;

    ASSERT(buf_add(b, &op, 1));
    rdb_add_string(b, key, strlen(key));
    rdb_add_string(b, value, strlen(value));
}

struct rdb_writer *rdb_writer_begin(int rdb_version, rdb_sink_fn sink, void *ctx, struct error *err)
{
    struct rdb_writer *w = NULL;
    struct buf head;
    char text[32];

    if (rdb_version < RDB_VERSION_MIN || rdb_version > RDB_VERSION_MAX) {
        error_set(err, ERR_USAGE, "cannot write RDB version %d (this writer writes %d-%d)",
                  rdb_version, RDB_VERSION_MIN, RDB_VERSION_MAX);
        return NULL;
    }
    w = xcalloc(1, sizeof(*w));
    w->version = rdb_version;
    w->sink = sink;
    w->ctx = ctx;
    w->db = -1;
    buf_init(&head, BUF_NO_CAP);
    ASSERT(buf_addf(&head, "REDIS%04d", rdb_version));
    rdb_add_aux(&head, "redis-ver", "permafrost");
    rdb_add_aux(&head, "redis-bits", "64");
    buf_format_fixed(text, sizeof(text), "%lld", (long long)time(NULL));
    rdb_add_aux(&head, "ctime", text);
    if (rdb_writer_emit(w, head.data, head.len, err) < 0) {
        buf_release(&head);
        xfree(w);
        return NULL;
    }
    buf_release(&head);
    return w;
}

int rdb_writer_key(struct rdb_writer *w, int db, const unsigned char *key, size_t key_len,
                   int64_t expire_ms, const unsigned char *payload, size_t payload_len,
                   struct error *err)
{
    unsigned char rec[16];
    struct buf head;
    int version = 0;
    int rc = -1;

    buf_init(&head, BUF_NO_CAP);
    if (w->failed) {
        error_set(err, ERR_IO, "rdb writer: write after a failure");
        goto out;
    }
    if (rdb_payload_check(payload, payload_len, &version, err) < 0)
        goto out;
    if (version > w->version) {
        error_set(err, ERR_INTEGRITY,
                  "a DUMP payload of RDB version %d cannot go into an RDB version %d file", version,
                  w->version);
        goto out;
    }
    if (!rdb_type_is_known(payload[0]) || payload[0] == RDB_TYPE_MODULE_PRE_GA) {
        error_set(err, ERR_INTEGRITY, "DUMP payload has unknown value type %u", payload[0]);
        goto out;
    }
    if (db < 0) {
        error_set(err, ERR_USAGE, "database number %d is negative", db);
        goto out;
    }
    if (db != w->db) {
        rec[0] = RDB_OP_SELECTDB;
        ASSERT(buf_add(&head, rec, 1 + rdb_encode_len(rec + 1, (uint64_t)db)));
        w->db = db;
    }
    if (expire_ms >= 0) {
        rec[0] = RDB_OP_EXPIRETIME_MS;
        rdb_put_le(rec + 1, (uint64_t)expire_ms, 8);
        ASSERT(buf_add(&head, rec, 9));
    }
    ASSERT(buf_add(&head, payload, 1));
    rdb_add_string(&head, key, key_len);
    if (rdb_writer_emit(w, head.data, head.len, err) < 0)
        goto out;
    /* The value goes to the sink straight from the payload, without a copy. */
    if (rdb_writer_emit(w, payload + 1, payload_len - 1 - RDB_FOOTER_LEN, err) < 0)
        goto out;
    rc = 0;
out:
    buf_release(&head);
    return rc;
}

int rdb_writer_functions(struct rdb_writer *w, const unsigned char *payload, size_t payload_len,
                         struct error *err)
{
    struct rdb_cursor c;
    int version = 0;

    if (w->failed)
        return error_set(err, ERR_IO, "rdb writer: write after a failure");
    if (rdb_payload_check(payload, payload_len, &version, err) < 0)
        return -1;
    if (version > w->version)
        return error_set(err, ERR_INTEGRITY,
                         "a FUNCTION DUMP payload of RDB version %d cannot go into an RDB version "
                         "%d file",
                         version, w->version);
    /* The body must be FUNCTION2 records only: they go into the file as they are. */
    memset(&c, 0, sizeof(c));
    c.p = payload;
    c.len = payload_len - RDB_FOOTER_LEN;
    c.cap = c.len;
    c.what = "FUNCTION DUMP payload";
    c.err = err;
    while (c.pos < c.len) {
        if (c.p[c.pos] != RDB_OP_FUNCTION2)
            return error_set(err, ERR_INTEGRITY,
                             "FUNCTION DUMP payload: byte %zu is 0x%02x, not a function library",
                             c.pos, c.p[c.pos]);
        c.pos++;
        if (rdb_skip_string(&c) != 0) {
            if (err->kind == ERR_NONE)
                error_set(err, ERR_INTEGRITY, "FUNCTION DUMP payload: a library ends early");
            return -1;
        }
    }
    return rdb_writer_emit(w, payload, payload_len - RDB_FOOTER_LEN, err);
}

int rdb_writer_end(struct rdb_writer *w, struct error *err)
{
    unsigned char tail[9];

    if (w->failed)
        return error_set(err, ERR_IO, "rdb writer: end after a failure");
    tail[0] = RDB_OP_EOF;
    if (rdb_writer_emit(w, tail, 1, err) < 0)
        return -1;
    rdb_put_le(tail, w->crc, 8);
    /* The CRC does not cover itself; emit would fold it in, so send it past emit. */
    if (w->sink(w->ctx, tail, 8, err) != 0) {
        w->failed = true;
        if (err->kind == ERR_NONE)
            error_set(err, ERR_IO, "rdb writer: sink failed");
        return -1;
    }
    return 0;
}

void rdb_writer_free(struct rdb_writer *w)
{
    xfree(w);
}

/* ---- versions ---- */

/* "X.Y" or "X.Y.Z" with small numbers; false when malformed. */
static bool rdb_parse_version(const char *s, int *major, int *minor)
{
    int parts[3] = {0, 0, 0};
    int count = 0;
    const char *p = s;

    for (;;) {
        int v = 0;
        int digits = 0;

        while (*p >= '0' && *p <= '9') {
            if (digits++ >= 4)
                return false;
            v = v * 10 + (*p++ - '0');
        }
        if (digits == 0 || count == 3)
            return false;
        parts[count++] = v;
        if (*p == '\0')
            break;
        if (*p++ != '.')
            return false;
    }
    if (count < 2)
        return false;
    *major = parts[0];
    *minor = parts[1];
    return true;
}

int rdb_target_max_version(const char *target, int *max_version, struct error *err)
{
    static const char forms[] =
        "use redis-X.Y, valkey-X.Y or a bare X.Y (Redis), e.g. redis-7.2 or valkey-8.0";
    const char *ver = target;
    bool is_valkey = false;
    int major;
    int minor;

    if (strncmp(target, "redis-", 6) == 0) {
        ver = target + 6;
    } else if (strncmp(target, "valkey-", 7) == 0) {
        ver = target + 7;
        is_valkey = true;
    } else if (strchr(target, '-')) {
        return error_set(err, ERR_USAGE, "unknown target engine in '%s': %s", target, forms);
    }
    if (!rdb_parse_version(ver, &major, &minor))
        return error_set(err, ERR_USAGE, "malformed target version '%s': %s", target, forms);
    if (is_valkey) {
        /* Valkey began at 7.2 and writes RDB 11 up to 8.x; 9 adds its own version 80, which this
         * writer does not produce, and still loads 11. */
        if (major < 7 || (major == 7 && minor < 2))
            return error_set(err, ERR_USAGE, "unknown Valkey version '%s' (Valkey began at 7.2)",
                             target);
        *max_version = 11;
        return 0;
    }
    if (major < 5)
        return error_set(err, ERR_USAGE,
                         "Redis %d.%d loads RDB versions older than %d only, which this tool does "
                         "not write",
                         major, minor, RDB_VERSION_MIN);
    if (major <= 6)
        *max_version = 9;
    else if (major == 7 && minor < 2)
        *max_version = 10;
    else if (major == 7 && minor < 4)
        *max_version = 11;
    else
        *max_version = 12;
    return 0;
}
