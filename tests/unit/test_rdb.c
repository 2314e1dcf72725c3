/* Tests of util/crc64.c and sources/rdb.c: the CRC, the streaming reader over a real Redis 7.0 RDB
 * (tests/fixtures/rdb, made by make-fixtures.sh) and over hand-made files for the types 7.0 cannot
 * write, DUMP payloads against what the server's DUMP returned, and the writer. */
#include <stdlib.h>
#include <string.h>

#include "sources/rdb.h"
#include "unit.h"
#include "util/buf.h"
#include "util/crc64.h"
#include "util/fs.h"
#include "util/xalloc.h"

/* ---- helpers ---- */

static void read_fixture(const char *name, struct buf *out)
{
    char *path = xasprintf("%s/rdb/%s", unit_fixture_dir(), name);

    buf_init(out, BUF_NO_CAP);
    CHECK_OK(fs_read_file(path, out, unit_err()));
    xfree(path);
}

static void hex_encode(const void *data, size_t len, struct buf *out)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++)
        CHECK(buf_addf(out, "%02x", p[i]));
}

/* What the callbacks saw: one line per key "db key-hex payload-hex", and the function bodies. */
struct seen {
    struct buf lines;
    struct buf payload;
    size_t entries;
    int version;
    int64_t last_expire_ms;
    int64_t last_idle_s;
    int last_freq;
    unsigned last_type;
    size_t last_value_len;
    struct buf last_key;
    size_t functions;
    struct buf function_body;
};

static void seen_init(struct seen *s, int version)
{
    memset(s, 0, sizeof(*s));
    buf_init(&s->lines, BUF_NO_CAP);
    buf_init(&s->payload, BUF_NO_CAP);
    buf_init(&s->last_key, BUF_NO_CAP);
    buf_init(&s->function_body, BUF_NO_CAP);
    s->version = version;
}

static void seen_release(struct seen *s)
{
    buf_release(&s->lines);
    buf_release(&s->payload);
    buf_release(&s->last_key);
    buf_release(&s->function_body);
}

static int seen_entry(void *ctx, const struct rdb_entry *e, struct error *err)
{
    struct seen *s = ctx;
    int version = 0;

    buf_reset(&s->payload);
    rdb_entry_payload(e, s->version, &s->payload);
    if (rdb_payload_check((const unsigned char *)s->payload.data, s->payload.len, &version, err))
        return -1;
    CHECK_INT_EQ(version, s->version);
    CHECK(buf_addf(&s->lines, "%d ", e->db));
    hex_encode(e->key, e->key_len, &s->lines);
    CHECK(buf_adds(&s->lines, " "));
    hex_encode(s->payload.data, s->payload.len, &s->lines);
    CHECK(buf_adds(&s->lines, "\n"));
    s->entries++;
    s->last_expire_ms = e->expire_ms;
    s->last_idle_s = e->idle_s;
    s->last_freq = e->lfu_freq;
    s->last_type = e->type;
    s->last_value_len = e->value_len;
    buf_reset(&s->last_key);
    CHECK(buf_add(&s->last_key, e->key, e->key_len));
    return 0;
}

static int seen_function(void *ctx, const unsigned char *body, size_t len, struct error *err)
{
    struct seen *s = ctx;

    (void)err;
    s->functions++;
    buf_reset(&s->function_body);
    CHECK(buf_add(&s->function_body, body, len));
    return 0;
}

static const struct rdb_callbacks seen_callbacks = {seen_entry, seen_function};

/* Feeds data in chunks of `chunk` bytes (0: all at once) and finishes. */
static int read_chunked(struct rdb_reader *r, const void *data, size_t len, size_t chunk,
                        struct error *err)
{
    const unsigned char *p = data;
    size_t step = chunk ? chunk : len;

    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        if (rdb_reader_feed(r, p + off, n, err) < 0)
            return -1;
    }
    return rdb_reader_finish(r, err);
}

/* Reads a whole buffer with callbacks into s; returns the reader (caller frees) or fails. */
static int read_all(const void *data, size_t len, size_t chunk, size_t cap, struct seen *s,
                    struct error *err)
{
    struct rdb_reader *r = rdb_reader_new(&seen_callbacks, s, cap);
    int rc = read_chunked(r, data, len, chunk, err);

    rdb_reader_free(r);
    return rc;
}

/* Hand-made RDB files. */
struct rdbb {
    struct buf b;
};

static void rb_init(struct rdbb *w, int version)
{
    buf_init(&w->b, BUF_NO_CAP);
    CHECK(buf_addf(&w->b, "REDIS%04d", version));
}

static void rb_byte(struct rdbb *w, unsigned v)
{
    unsigned char c = (unsigned char)v;

    CHECK(buf_add(&w->b, &c, 1));
}

static void rb_bytes(struct rdbb *w, const void *p, size_t n)
{
    CHECK(buf_add(&w->b, p, n));
}

static void rb_le(struct rdbb *w, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        rb_byte(w, (unsigned)(v >> (8 * i)) & 0xff);
}

static void rb_len(struct rdbb *w, uint64_t v)
{
    if (v < 64) {
        rb_byte(w, (unsigned)v);
    } else if (v < 16384) {
        rb_byte(w, 0x40 | (unsigned)(v >> 8));
        rb_byte(w, (unsigned)v & 0xff);
    } else if (v <= UINT32_MAX) {
        rb_byte(w, 0x80);
        for (int i = 3; i >= 0; i--)
            rb_byte(w, (unsigned)(v >> (8 * i)) & 0xff);
    } else {
        rb_byte(w, 0x81);
        for (int i = 7; i >= 0; i--)
            rb_byte(w, (unsigned)(v >> (8 * i)) & 0xff);
    }
}

static void rb_str(struct rdbb *w, const char *s)
{
    rb_len(w, strlen(s));
    rb_bytes(w, s, strlen(s));
}

static void rb_raw_str(struct rdbb *w, size_t n, unsigned fill)
{
    rb_len(w, n);
    for (size_t i = 0; i < n; i++)
        rb_byte(w, fill);
}

static void rb_finish(struct rdbb *w)
{
    rb_byte(w, 0xff);
    rb_le(w, crc64_update(0, w->b.data, w->b.len), 8);
}

/* Reads a hand-made file whole, 1 byte and 5 bytes at a time; all three must agree. With
 * PERMAFROST_RDB_CORPUS_DIR set, also saves the file there (how tests/fuzz/corpus/rdb got its
 * hand-made seeds). */
static void check_reads(const struct rdbb *w, struct seen *out, uint64_t want_keys)
{
    static const size_t chunks[] = {0, 1, 5};
    const char *corpus = getenv("PERMAFROST_RDB_CORPUS_DIR");

    if (corpus) {
        char *path = xasprintf("%s/hand-%016" PRIx64 ".rdb", corpus,
                               crc64_update(0, w->b.data, w->b.len - 8));
        CHECK_OK(fs_write_atomic(path, w->b.data, w->b.len, 0644, unit_err()));
        xfree(path);
    }

    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        struct seen s;
        struct rdb_reader *r;

        seen_init(&s, 10);
        r = rdb_reader_new(&seen_callbacks, &s, 0);
        CHECK_OK(read_chunked(r, w->b.data, w->b.len, chunks[i], unit_err()));
        CHECK_INT_EQ(rdb_reader_summary(r)->keys, want_keys);
        CHECK(rdb_reader_summary(r)->crc_checked);
        CHECK_INT_EQ(rdb_reader_summary(r)->bytes, w->b.len);
        CHECK_INT_EQ(s.entries, want_keys);
        rdb_reader_free(r);
        if (i == 0) {
            *out = s;
        } else {
            CHECK_STR_EQ(s.lines.data, out->lines.data);
            seen_release(&s);
        }
    }
}

/* ---- crc64 ---- */

static void test_crc64_check_value(void)
{
    CHECK(crc64_update(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    CHECK(crc64_update(0, "", 0) == 0);
}

static void test_crc64_incremental_equals_one_shot(void)
{
    unsigned char data[4099];
    uint64_t whole;

    srand(7);
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)rand();
    whole = crc64_update(0, data, sizeof(data));
    for (int round = 0; round < 200; round++) {
        uint64_t crc = 0;
        size_t off = 0;
        while (off < sizeof(data)) {
            size_t n = (size_t)rand() % 37;
            if (n > sizeof(data) - off)
                n = sizeof(data) - off;
            crc = crc64_update(crc, data + off, n);
            off += n;
        }
        CHECK(crc == whole);
    }
    /* unaligned starts take the same path as aligned ones */
    CHECK(crc64_update(crc64_update(0, data, 3), data + 3, sizeof(data) - 3) == whole);
}

/* ---- the Redis 7.0 fixture ---- */

static void keyspace_of(const struct rdb_summary *sum, struct buf *out)
{
    for (size_t i = 0; i < sum->db_count; i++)
        CHECK(buf_addf(out, "db%d keys=%" PRIu64 " expires=%" PRIu64 "\n", sum->dbs[i].db,
                       sum->dbs[i].keys, sum->dbs[i].expires));
}

static void check_fixture_reads(const char *name, int version)
{
    static const size_t chunks[] = {1, 7, 4096, 0};
    struct buf file;
    struct buf keyspace;

    read_fixture(name, &file);
    read_fixture("keyspace.txt", &keyspace);
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        struct seen s;
        struct buf got;
        struct rdb_reader *r;
        const struct rdb_summary *sum;

        seen_init(&s, version);
        r = rdb_reader_new(&seen_callbacks, &s, 0);
        CHECK_OK(read_chunked(r, file.data, file.len, chunks[i], unit_err()));
        sum = rdb_reader_summary(r);
        CHECK_INT_EQ(sum->version, version);
        CHECK(sum->crc_checked);
        CHECK_INT_EQ(sum->bytes, file.len);
        CHECK_STR_EQ(sum->redis_ver, "7.0.15");
        CHECK(sum->ctime > 1600000000);
        CHECK(sum->used_mem > 0);
        CHECK_INT_EQ(sum->functions, 1);
        CHECK_INT_EQ(sum->keys, 25);
        buf_init(&got, BUF_NO_CAP);
        keyspace_of(sum, &got);
        CHECK_STR_EQ(got.data, keyspace.data);
        CHECK_INT_EQ(s.entries, 25);
        CHECK_INT_EQ(s.functions, 1);
        CHECK(strstr(s.function_body.data, "#!lua name=permafrost_fixture\n") ==
              s.function_body.data);
        buf_release(&got);
        rdb_reader_free(r);
        seen_release(&s);
    }
    buf_release(&keyspace);
    buf_release(&file);
}

static void test_fixture_counts_equal_info_keyspace_in_every_chunking(void)
{
    check_fixture_reads("dump.rdb", 10);
}

static void test_reheaded_versions_9_11_12_are_read(void)
{
    /* Their content is version 10 content with the version number changed (and the CRC
     * recomputed): this checks that the versions are accepted, not version-specific types. */
    check_fixture_reads("v9.rdb", 9);
    check_fixture_reads("v11.rdb", 11);
    check_fixture_reads("v12.rdb", 12);
}

/* Every key whose DUMP the fixture script recorded has the same payload when built from the RDB
 * entry (both version 10, as the server was 7.0). */
static void test_entry_payloads_equal_recorded_dumps(void)
{
    struct buf file;
    struct buf dumps;
    struct seen s;
    size_t matched = 0;
    char *line;
    char *save = NULL;

    read_fixture("dump.rdb", &file);
    read_fixture("dumps.txt", &dumps);
    seen_init(&s, 10);
    CHECK_OK(read_all(file.data, file.len, 4096, 0, &s, unit_err()));
    for (line = strtok_r(dumps.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line);
        const char *hit = strstr(s.lines.data, line);
        CHECK(hit != NULL);
        CHECK(hit[n] == '\n');
        matched++;
    }
    CHECK_INT_EQ(matched, 20);
    seen_release(&s);
    buf_release(&dumps);
    buf_release(&file);
}

static void test_functions_payload_equals_function_dump(void)
{
    struct buf file;
    struct buf want;
    struct buf payload;
    struct buf hex;
    struct seen s;
    const unsigned char *body;
    size_t len;
    int version = 0;

    read_fixture("dump.rdb", &file);
    read_fixture("functions.hex", &want);
    seen_init(&s, 10);
    CHECK_OK(read_all(file.data, file.len, 0, 0, &s, unit_err()));
    buf_init(&payload, BUF_NO_CAP);
    buf_init(&hex, BUF_NO_CAP);
    body = (const unsigned char *)s.function_body.data;
    len = s.function_body.len;
    rdb_functions_payload(&body, &len, 1, 10, &payload);
    hex_encode(payload.data, payload.len, &hex);
    CHECK(buf_adds(&hex, "\n"));
    CHECK_STR_EQ(hex.data, want.data);
    CHECK_OK(
        rdb_payload_check((const unsigned char *)payload.data, payload.len, &version, unit_err()));
    CHECK_INT_EQ(version, 10);
    buf_release(&hex);
    buf_release(&payload);
    seen_release(&s);
    buf_release(&want);
    buf_release(&file);
}

static int read_bytes_fails(const void *data, size_t len, size_t chunk, size_t cap,
                            struct error *err)
{
    struct rdb_reader *r = rdb_reader_new(NULL, NULL, cap);
    int rc = read_chunked(r, data, len, chunk, err);

    rdb_reader_free(r);
    return rc;
}

static void test_bad_fixtures_are_refused_with_offsets(void)
{
    struct error err = ERROR_INIT;
    struct buf file;

    read_fixture("v13.rdb", &file);
    CHECK_ERR(read_bytes_fails(file.data, file.len, 0, 0, &err), err, ERR_INTEGRITY,
              "RDB version 13 is newer than this reader (9-12)");
    CHECK_ERR(read_bytes_fails(file.data, file.len, 1, 0, &err), err, ERR_INTEGRITY,
              "RDB version 13 is newer than this reader (9-12)");
    buf_release(&file);

    read_fixture("badmagic.rdb", &file);
    CHECK_ERR(read_bytes_fails(file.data, file.len, 1, 0, &err), err, ERR_INTEGRITY,
              "at byte 0: bad magic");
    buf_release(&file);

    read_fixture("flipped.rdb", &file);
    CHECK_ERR(read_bytes_fails(file.data, file.len, 7, 0, &err), err, ERR_INTEGRITY,
              "checksum mismatch: file says ");
    buf_release(&file);

    read_fixture("truncated.rdb", &file);
    for (size_t chunk = 0; chunk < 5000; chunk = chunk ? chunk * 64 : 1) {
        CHECK_ERR(read_bytes_fails(file.data, file.len, chunk, 0, &err), err, ERR_INTEGRITY,
                  "truncated at byte 16171, inside a key at byte ");
    }
    buf_release(&file);

    read_fixture("eofmark.rdb", &file);
    CHECK_ERR(read_bytes_fails(file.data, file.len, 0, 0, &err), err, ERR_INTEGRITY,
              "at byte 24257: trailing bytes after the checksum");
    CHECK_ERR(read_bytes_fails(file.data, file.len, 4096, 0, &err), err, ERR_INTEGRITY,
              "at byte 24257: trailing bytes after the checksum");
    CHECK_ERR(read_bytes_fails(file.data, file.len, 1, 0, &err), err, ERR_INTEGRITY,
              "at byte 24257: trailing bytes after the checksum");
    buf_release(&file);
}

static void test_zero_crc_is_not_checked(void)
{
    struct buf file;
    struct rdb_reader *r = rdb_reader_new(NULL, NULL, 0);

    read_fixture("nocrc.rdb", &file);
    CHECK_OK(read_chunked(r, file.data, file.len, 4096, unit_err()));
    CHECK(!rdb_reader_summary(r)->crc_checked);
    CHECK(rdb_reader_summary(r)->stored_crc == 0);
    CHECK_INT_EQ(rdb_reader_summary(r)->keys, 25);
    rdb_reader_free(r);
    buf_release(&file);
}

static void test_header_versions_and_magics(void)
{
    struct error err = ERROR_INIT;

    CHECK_ERR(read_bytes_fails("REDIS0008\xff", 10, 0, 0, &err), err, ERR_INTEGRITY,
              "RDB version 8 is older than 9");
    CHECK_ERR(read_bytes_fails("VALKEY080\xff", 10, 0, 0, &err), err, ERR_INTEGRITY,
              "'VALKEY080' is Valkey 9's own RDB format");
    CHECK_ERR(read_bytes_fails("VALKEY080\xff", 10, 1, 0, &err), err, ERR_INTEGRITY,
              "'VALKEY080' is Valkey 9's own RDB format");
    CHECK_ERR(read_bytes_fails("REDIS00x0", 9, 0, 0, &err), err, ERR_INTEGRITY, "bad magic");
    CHECK_ERR(read_bytes_fails("GET / HTTP/1.1\r\n", 16, 1, 0, &err), err, ERR_INTEGRITY,
              "at byte 0: bad magic");
    CHECK_ERR(read_bytes_fails("REDIS", 5, 0, 0, &err), err, ERR_INTEGRITY,
              "truncated at byte 5, inside the header");
    CHECK_ERR(read_bytes_fails("", 0, 0, 0, &err), err, ERR_INTEGRITY,
              "truncated at byte 0, inside the header");
    CHECK_ERR(read_bytes_fails("REDIS0010\xfa", 10, 0, 0, &err), err, ERR_INTEGRITY,
              "truncated at byte 10, inside an AUX field at byte 9");
    CHECK_ERR(read_bytes_fails("REDIS0010", 9, 0, 0, &err), err, ERR_INTEGRITY,
              "truncated at byte 9, between records (no EOF opcode)");
}

/* ---- hand-made files for what Redis 7.0 cannot write ---- */

static void test_old_encodings_zipmap_ziplist_quicklist(void)
{
    struct rdbb w;
    struct seen s;

    rb_init(&w, 9);
    rb_byte(&w, 9); /* zipmap */
    rb_str(&w, "zm");
    rb_raw_str(&w, 12, 0x02);
    rb_byte(&w, 10); /* list ziplist */
    rb_str(&w, "zl");
    rb_raw_str(&w, 20, 0x03);
    rb_byte(&w, 12); /* zset ziplist */
    rb_str(&w, "zz");
    rb_raw_str(&w, 20, 0x04);
    rb_byte(&w, 13); /* hash ziplist */
    rb_str(&w, "zh");
    rb_raw_str(&w, 20, 0x05);
    rb_byte(&w, 14); /* quicklist of 2 ziplists */
    rb_str(&w, "ql");
    rb_len(&w, 2);
    rb_raw_str(&w, 30, 0x06);
    rb_raw_str(&w, 300, 0x07);
    rb_finish(&w);
    check_reads(&w, &s, 5);
    CHECK_INT_EQ(s.last_type, 14);
    CHECK_INT_EQ(s.last_value_len, 1 + 1 + 30 + 2 + 300);
    CHECK_STR_EQ(s.last_key.data, "ql");
    seen_release(&s);
    buf_release(&w.b);
}

static void add_stream(struct rdbb *w, unsigned type)
{
    static const unsigned char id[16] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};

    rb_byte(w, type);
    rb_str(w, "st");
    rb_len(w, 1); /* listpacks */
    rb_len(w, 16);
    rb_bytes(w, id, 16);
    rb_raw_str(w, 40, 0x10);
    rb_len(w, 3); /* length */
    rb_len(w, 5); /* last id */
    rb_len(w, 0);
    if (type >= 19) {
        rb_len(w, 1); /* first id */
        rb_len(w, 0);
        rb_len(w, 2); /* max deleted */
        rb_len(w, 0);
        rb_len(w, 5); /* entries added */
    }
    rb_len(w, 2); /* consumer groups */
    for (int g = 0; g < 2; g++) {
        rb_str(w, g ? "g2" : "g1");
        rb_len(w, 5);
        rb_len(w, 0);
        if (type >= 19)
            rb_len(w, 3); /* entries read */
        rb_len(w, 2);     /* PEL */
        for (int i = 0; i < 2; i++) {
            rb_bytes(w, id, 16);
            rb_le(w, 1700000000000ULL, 8);
            rb_len(w, 1);
        }
        rb_len(w, 1); /* consumers */
        rb_str(w, "alice");
        rb_le(w, 1700000000000ULL, 8);
        if (type >= 21)
            rb_le(w, 1700000000001ULL, 8);
        rb_len(w, 2);
        rb_bytes(w, id, 16);
        rb_bytes(w, id, 16);
    }
}

static void test_stream_listpacks_1_2_3(void)
{
    for (unsigned type = 15; type <= 21; type += (type == 15 ? 4 : 2)) {
        struct rdbb w;
        struct seen s;

        rb_init(&w, type == 15 ? 9 : 11);
        add_stream(&w, type);
        rb_byte(&w, 0); /* a string after it: the stream's framing must end exactly */
        rb_str(&w, "after");
        rb_str(&w, "x");
        rb_finish(&w);
        check_reads(&w, &s, 2);
        CHECK_STR_EQ(s.last_key.data, "after");
        seen_release(&s);
        buf_release(&w.b);
    }
}

static void test_v11_and_v12_types(void)
{
    struct rdbb w;
    struct seen s;

    rb_init(&w, 12);
    rb_byte(&w, 0xf4); /* slot info */
    rb_len(&w, 1234);
    rb_len(&w, 3);
    rb_len(&w, 1);
    rb_byte(&w, 20); /* set listpack */
    rb_str(&w, "setlp");
    rb_raw_str(&w, 25, 0x11);
    rb_byte(&w, 22); /* hash metadata, pre-GA: count, then TTL, field, value */
    rb_str(&w, "hm0");
    rb_len(&w, 2);
    rb_len(&w, 1700000000000ULL);
    rb_str(&w, "f1");
    rb_str(&w, "v1");
    rb_len(&w, 0);
    rb_str(&w, "f2");
    rb_str(&w, "v2");
    rb_byte(&w, 23); /* hash listpack ex, pre-GA */
    rb_str(&w, "hl0");
    rb_raw_str(&w, 33, 0x12);
    rb_byte(&w, 24); /* hash metadata: min expire first */
    rb_str(&w, "hm");
    rb_le(&w, 1700000000000ULL, 8);
    rb_len(&w, 1);
    rb_len(&w, 5);
    rb_str(&w, "f");
    rb_str(&w, "v");
    rb_byte(&w, 25); /* hash listpack ex: min expire, listpack */
    rb_str(&w, "hl");
    rb_le(&w, 1700000000000ULL, 8);
    rb_raw_str(&w, 70, 0x13);
    rb_finish(&w);
    check_reads(&w, &s, 5);
    CHECK_INT_EQ(s.last_type, 25);
    CHECK_INT_EQ(s.last_value_len, 8 + 2 + 70);
    seen_release(&s);
    buf_release(&w.b);
}

static void add_module_values(struct rdbb *w)
{
    rb_len(w, 1); /* SINT */
    rb_len(w, 42);
    rb_len(w, 2); /* UINT */
    rb_len(w, 1ULL << 40);
    rb_len(w, 3); /* FLOAT */
    rb_le(w, 0x3f800000, 4);
    rb_len(w, 4); /* DOUBLE */
    rb_le(w, 0x3ff0000000000000ULL, 8);
    rb_len(w, 5); /* STRING */
    rb_str(w, "module payload");
    rb_len(w, 0); /* EOF */
}

static void test_modules_and_hints(void)
{
    struct rdbb w;
    struct seen s;
    struct rdb_reader *r;

    rb_init(&w, 10);
    rb_byte(&w, 0xf7); /* module aux */
    rb_len(&w, 0x123456789abcdULL);
    rb_len(&w, 2);
    rb_len(&w, 1);
    add_module_values(&w);
    rb_byte(&w, 0xfe);
    rb_len(&w, 5);
    rb_byte(&w, 0xfb);
    rb_len(&w, 1);
    rb_len(&w, 1);
    rb_byte(&w, 0xf8); /* idle */
    rb_len(&w, 3600);
    rb_byte(&w, 0xfd); /* expiry in seconds */
    rb_le(&w, 2000000000, 4);
    rb_byte(&w, 7); /* module value */
    rb_str(&w, "mod");
    rb_len(&w, 0x123456789abcdULL);
    add_module_values(&w);
    rb_byte(&w, 0xf9); /* freq */
    rb_byte(&w, 77);
    rb_byte(&w, 3); /* zset with text scores */
    rb_str(&w, "oldzset");
    rb_len(&w, 3);
    rb_str(&w, "a");
    rb_byte(&w, 3);
    rb_bytes(&w, "1.5", 3);
    rb_str(&w, "b");
    rb_byte(&w, 254); /* +inf */
    rb_str(&w, "c");
    rb_byte(&w, 253); /* nan */
    rb_finish(&w);
    check_reads(&w, &s, 2);
    CHECK_STR_EQ(s.last_key.data, "oldzset");
    CHECK_INT_EQ(s.last_freq, 77);
    CHECK_INT_EQ(s.last_idle_s, -1);
    CHECK_INT_EQ(s.last_expire_ms, -1);
    CHECK(strstr(s.lines.data, "5 6d6f64 07") == s.lines.data); /* db 5, "mod", type 7 */
    seen_release(&s);

    /* the module aux record is counted; both keys are in db 5, the first with an expiry */
    seen_init(&s, 10);
    r = rdb_reader_new(&seen_callbacks, &s, 0);
    CHECK_OK(rdb_reader_feed(r, w.b.data, w.b.len, unit_err()));
    CHECK_OK(rdb_reader_finish(r, unit_err()));
    CHECK_INT_EQ(rdb_reader_summary(r)->module_aux, 1);
    CHECK_INT_EQ(rdb_reader_summary(r)->db_count, 1);
    CHECK_INT_EQ(rdb_reader_summary(r)->dbs[0].db, 5);
    CHECK_INT_EQ(rdb_reader_summary(r)->dbs[0].keys, 2);
    CHECK_INT_EQ(rdb_reader_summary(r)->dbs[0].expires, 1);
    rdb_reader_free(r);
    seen_release(&s);
    buf_release(&w.b);
}

static int first_entry_hints(void *ctx, const struct rdb_entry *e, struct error *err)
{
    struct seen *s = ctx;

    (void)err;
    if (s->entries++ == 0) {
        s->last_idle_s = e->idle_s;
        s->last_expire_ms = e->expire_ms;
    }
    return 0;
}

static void test_idle_and_seconds_expiry_reach_the_entry(void)
{
    static const struct rdb_callbacks cb = {first_entry_hints, NULL};
    struct rdbb w;
    struct seen s;
    struct rdb_reader *r;

    rb_init(&w, 9);
    rb_byte(&w, 0xf8);
    rb_len(&w, 3600);
    rb_byte(&w, 0xfd);
    rb_le(&w, 2000000000, 4);
    rb_byte(&w, 0);
    rb_str(&w, "k");
    rb_str(&w, "v");
    rb_finish(&w);
    seen_init(&s, 9);
    r = rdb_reader_new(&cb, &s, 0);
    CHECK_OK(read_chunked(r, w.b.data, w.b.len, 1, unit_err()));
    CHECK_INT_EQ(s.last_idle_s, 3600);
    CHECK_INT_EQ(s.last_expire_ms, 2000000000000LL);
    rdb_reader_free(r);
    seen_release(&s);
    buf_release(&w.b);
}

static void test_encoded_keys_are_decoded(void)
{
    /* "aaaaaaaaa" as LZF: a literal 'a', then 8 bytes copied from 1 back */
    static const unsigned char lzf[] = {0x00, 'a', 0xc0, 0x00};
    struct rdbb w;
    struct seen s;

    rb_init(&w, 10);
    rb_byte(&w, 0);
    rb_byte(&w, 0xc3);
    rb_len(&w, sizeof(lzf));
    rb_len(&w, 9);
    rb_bytes(&w, lzf, sizeof(lzf));
    rb_str(&w, "v");
    rb_byte(&w, 0);
    rb_byte(&w, 0xc1); /* int16 key -300 */
    rb_le(&w, (uint16_t)-300, 2);
    rb_str(&w, "v");
    rb_finish(&w);
    check_reads(&w, &s, 2);
    CHECK_STR_EQ(s.last_key.data, "-300");
    CHECK(strstr(s.lines.data, "0 616161616161616161 ") == s.lines.data);
    seen_release(&s);
    buf_release(&w.b);
}

static void test_unsupported_records_are_refused(void)
{
    struct error err = ERROR_INIT;
    struct rdbb w;

    rb_init(&w, 10);
    rb_byte(&w, 8);
    CHECK_ERR(read_bytes_fails(w.b.data, w.b.len, 0, 0, &err), err, ERR_INTEGRITY,
              "at byte 10, in a record at byte 9: unknown opcode or value type 8");
    buf_release(&w.b);

    rb_init(&w, 10);
    rb_byte(&w, 6);
    rb_str(&w, "k");
    rb_len(&w, 1);
    CHECK_ERR(read_bytes_fails(w.b.data, w.b.len, 0, 0, &err), err, ERR_INTEGRITY,
              "pre-release module format");
    buf_release(&w.b);

    rb_init(&w, 10);
    rb_byte(&w, 0xf6);
    CHECK_ERR(read_bytes_fails(w.b.data, w.b.len, 1, 0, &err), err, ERR_INTEGRITY,
              "pre-release function format");
    buf_release(&w.b);

    rb_init(&w, 10);
    rb_byte(&w, 18);
    rb_str(&w, "k");
    rb_len(&w, 1);
    rb_len(&w, 3);
    CHECK_ERR(read_bytes_fails(w.b.data, w.b.len, 0, 0, &err), err, ERR_INTEGRITY,
              "bad quicklist container 3");
    buf_release(&w.b);

    rb_init(&w, 10);
    rb_byte(&w, 0);
    rb_byte(&w, 0xc7);
    CHECK_ERR(read_bytes_fails(w.b.data, w.b.len, 0, 0, &err), err, ERR_INTEGRITY,
              "unknown string encoding 7");
    buf_release(&w.b);

    rb_init(&w, 10);
    rb_byte(&w, 0);
    rb_byte(&w, 0x85);
    CHECK_ERR(read_bytes_fails(w.b.data, w.b.len, 0, 0, &err), err, ERR_INTEGRITY,
              "bad length encoding 0x85");
    buf_release(&w.b);
}

static void test_huge_declared_lengths_fail_at_once(void)
{
    struct error err = ERROR_INIT;
    struct rdbb w;
    struct rdb_reader *r;

    /* a string of 2^40 bytes: refused as soon as the length is read, before any allocation */
    rb_init(&w, 10);
    rb_byte(&w, 0);
    rb_str(&w, "key");
    rb_len(&w, 1ULL << 40);
    r = rdb_reader_new(NULL, NULL, 0);
    CHECK_ERR(rdb_reader_feed(r, w.b.data, w.b.len, &err), err, ERR_INTEGRITY,
              "in a key at byte 9: a length of 1099511627776 bytes makes it larger than the cap");
    rdb_reader_free(r);
    /* byte by byte, the retry threshold may wait for more bytes: the error comes by finish */
    CHECK_ERR(read_bytes_fails(w.b.data, w.b.len, 1, 0, &err), err, ERR_INTEGRITY,
              "in a key at byte 9: a length of 1099511627776 bytes makes it larger than the cap");
    buf_release(&w.b);

    /* a list of 2^40 elements */
    rb_init(&w, 10);
    rb_byte(&w, 1);
    rb_str(&w, "key");
    rb_len(&w, 1ULL << 40);
    CHECK_ERR(read_bytes_fails(w.b.data, w.b.len, 0, 0, &err), err, ERR_INTEGRITY,
              "the element count 1099511627776 cannot fit in the entry cap");
    buf_release(&w.b);

    /* LZF with a huge uncompressed length: the key is never decoded past the cap */
    rb_init(&w, 10);
    rb_byte(&w, 0);
    rb_byte(&w, 0xc3);
    rb_len(&w, 2);
    rb_len(&w, 1ULL << 40);
    rb_bytes(&w, "\x00z", 2);
    rb_str(&w, "v");
    rb_finish(&w);
    {
        struct seen s;
        seen_init(&s, 10);
        CHECK_ERR(read_all(w.b.data, w.b.len, 0, 0, &s, &err), err, ERR_INTEGRITY,
                  "an LZF string of 1099511627776 bytes is larger than the cap");
        seen_release(&s);
    }
    buf_release(&w.b);
}

static void test_max_entry_bytes_is_enforced(void)
{
    struct error err = ERROR_INIT;
    struct rdbb w;

    rb_init(&w, 10);
    rb_byte(&w, 0);
    rb_str(&w, "small");
    rb_raw_str(&w, 1000, 'x');
    rb_byte(&w, 0);
    rb_str(&w, "big");
    rb_raw_str(&w, 5000, 'y');
    rb_finish(&w);
    CHECK_OK(read_bytes_fails(w.b.data, w.b.len, 0, 8192, unit_err()));
    CHECK_ERR(read_bytes_fails(w.b.data, w.b.len, 0, 4096, &err), err, ERR_INTEGRITY,
              "in a key at byte 1018: a length of 5000 bytes makes it larger than the cap of "
              "4096 bytes");
    CHECK_ERR(read_bytes_fails(w.b.data, w.b.len, 100, 4096, &err), err, ERR_INTEGRITY,
              "in a key at byte 1018");
    buf_release(&w.b);
}

/* A value of many small elements fed in small chunks: read correctly, and each byte of the
 * value is parsed a bounded number of times (the retry threshold doubles). */
static void test_large_value_in_small_chunks(void)
{
    struct rdbb w;
    struct seen s;

    rb_init(&w, 10);
    rb_byte(&w, 1);
    rb_str(&w, "biglist");
    rb_len(&w, 200000);
    for (int i = 0; i < 200000; i++)
        rb_str(&w, "element");
    rb_byte(&w, 0);
    rb_str(&w, "next");
    rb_raw_str(&w, 3000000, 'z');
    rb_finish(&w);
    for (size_t chunk = 1000; chunk <= 65536; chunk *= 8) {
        seen_init(&s, 10);
        CHECK_OK(read_all(w.b.data, w.b.len, chunk, 0, &s, unit_err()));
        CHECK_INT_EQ(s.entries, 2);
        CHECK_INT_EQ(s.last_value_len, 5 + 3000000);
        seen_release(&s);
    }
    buf_release(&w.b);
}

static int failing_entry(void *ctx, const struct rdb_entry *e, struct error *err)
{
    (void)ctx;
    (void)e;
    return error_set(err, ERR_IO, "sink is full");
}

static void test_callback_error_stops_the_reader(void)
{
    static const struct rdb_callbacks cb = {failing_entry, NULL};
    struct error err = ERROR_INIT;
    struct buf file;
    struct rdb_reader *r = rdb_reader_new(&cb, NULL, 0);

    read_fixture("dump.rdb", &file);
    CHECK_ERR(rdb_reader_feed(r, file.data, file.len, &err), err, ERR_IO, "sink is full");
    CHECK_ERR(rdb_reader_feed(r, file.data, 1, &err), err, ERR_INTEGRITY, "after an error");
    CHECK_ERR(rdb_reader_finish(r, &err), err, ERR_INTEGRITY, "after an error");
    rdb_reader_free(r);
    buf_release(&file);
}

/* ---- payloads ---- */

static void test_payload_check(void)
{
    struct error err = ERROR_INIT;
    struct rdb_entry e = {0};
    struct buf p;
    int version = 0;

    buf_init(&p, BUF_NO_CAP);
    e.type = 0;
    e.value = (const unsigned char *)"\x05hello";
    e.value_len = 6;
    rdb_entry_payload(&e, 10, &p);
    /* redis-cli DUMP of SET str:short hello on 7.0 (dumps.txt) */
    {
        struct buf hex;
        buf_init(&hex, BUF_NO_CAP);
        hex_encode(p.data, p.len, &hex);
        CHECK_STR_EQ(hex.data, "000568656c6c6f0a006372df766534200a");
        buf_release(&hex);
    }
    CHECK_OK(rdb_payload_check((const unsigned char *)p.data, p.len, &version, unit_err()));
    CHECK_INT_EQ(version, 10);
    p.data[3] ^= 1;
    CHECK_ERR(rdb_payload_check((const unsigned char *)p.data, p.len, &version, &err), err,
              ERR_INTEGRITY, "DUMP payload checksum mismatch");
    CHECK_ERR(rdb_payload_check((const unsigned char *)p.data, 10, &version, &err), err,
              ERR_INTEGRITY, "too short");
    buf_release(&p);
}

/* ---- the writer ---- */

static int collect_sink(void *ctx, const void *data, size_t len, struct error *err)
{
    (void)err;
    CHECK(buf_add(ctx, data, len));
    return 0;
}

static size_t hex_decode(const char *hex, size_t hex_len, struct buf *out)
{
    buf_reset(out);
    for (size_t i = 0; i + 1 < hex_len + 1 && i < hex_len; i += 2) {
        char pair[3] = {hex[i], hex[i + 1], 0};
        unsigned char c = (unsigned char)strtoul(pair, NULL, 16);
        CHECK(buf_add(out, &c, 1));
    }
    return out->len;
}

/* The writer builds an RDB from the recorded DUMP payloads; the reader reads it back with the
 * same keys and payloads; it equals the committed written.rdb (which make-fixtures.sh had
 * redis-check-rdb accept and a server load) except for the ctime value and so the CRC. */
static void test_writer_round_trip(void)
{
    /* offset of the 10-digit ctime value: magic 9, redis-ver aux 22, redis-bits aux 15, then
     * 0xfa, 0x05 "ctime" and the length byte */
    enum { CTIME_AT = 9 + 22 + 15 + 1 + 1 + 5 + 1, CTIME_LEN = 10 };
    struct buf dumps;
    struct buf out;
    struct buf key;
    struct buf payload;
    struct buf want;
    struct rdb_writer *w;
    struct seen s;
    char *line;
    char *save = NULL;
    const char *out_path = getenv("PERMAFROST_RDB_WRITTEN_OUT");
    int64_t expire = 4102444800000LL; /* 2100-01-01 */
    size_t count = 0;

    read_fixture("dumps.txt", &dumps);
    buf_init(&out, BUF_NO_CAP);
    buf_init(&key, BUF_NO_CAP);
    buf_init(&payload, BUF_NO_CAP);
    w = rdb_writer_begin(10, collect_sink, &out, unit_err());
    CHECK(w != NULL);
    for (line = strtok_r(dumps.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp1 = strchr(line, ' ');
        char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        CHECK(sp2 != NULL);
        hex_decode(sp1 + 1, (size_t)(sp2 - sp1 - 1), &key);
        hex_decode(sp2 + 1, strlen(sp2 + 1), &payload);
        CHECK_OK(rdb_writer_key(w, line[0] - '0', (const unsigned char *)key.data, key.len,
                                count % 3 == 0 ? expire : -1, (const unsigned char *)payload.data,
                                payload.len, unit_err()));
        count++;
    }
    CHECK_OK(rdb_writer_end(w, unit_err()));
    rdb_writer_free(w);
    if (out_path)
        CHECK_OK(fs_write_atomic(out_path, out.data, out.len, 0644, unit_err()));

    /* read back: the same lines as dumps.txt, in order */
    seen_init(&s, 10);
    {
        struct rdb_reader *r = rdb_reader_new(&seen_callbacks, &s, 0);
        const struct rdb_summary *sum;
        CHECK_OK(read_chunked(r, out.data, out.len, 3, unit_err()));
        sum = rdb_reader_summary(r);
        CHECK_INT_EQ(sum->keys, count);
        CHECK(sum->crc_checked);
        CHECK_STR_EQ(sum->redis_ver, "permafrost");
        CHECK_INT_EQ(sum->db_count, 3);
        CHECK_INT_EQ(sum->dbs[0].expires, 6); /* every third of the 18 */
        rdb_reader_free(r);
    }
    buf_release(&dumps);
    read_fixture("dumps.txt", &dumps);
    CHECK_STR_EQ(s.lines.data, dumps.data);

    read_fixture("written.rdb", &want);
    CHECK_INT_EQ(out.len, want.len);
    CHECK(memcmp(out.data, want.data, CTIME_AT) == 0);
    CHECK(memcmp(out.data + CTIME_AT + CTIME_LEN, want.data + CTIME_AT + CTIME_LEN,
                 out.len - CTIME_AT - CTIME_LEN - 8) == 0);
    buf_release(&want);
    read_fixture("written.check.txt", &want);
    CHECK(strstr(want.data, "RDB looks OK") != NULL);
    CHECK(strstr(want.data, "Checksum OK") != NULL);

    seen_release(&s);
    buf_release(&want);
    buf_release(&payload);
    buf_release(&key);
    buf_release(&out);
    buf_release(&dumps);
}

static void test_writer_refuses_bad_payloads(void)
{
    struct error err = ERROR_INIT;
    struct buf out;
    struct buf p;
    struct rdb_entry e = {0};
    struct rdb_writer *w;

    buf_init(&out, BUF_NO_CAP);
    buf_init(&p, BUF_NO_CAP);
    CHECK(rdb_writer_begin(13, collect_sink, &out, &err) == NULL);
    CHECK_INT_EQ(err.kind, ERR_USAGE);
    w = rdb_writer_begin(9, collect_sink, &out, unit_err());
    CHECK(w != NULL);
    e.type = 18;
    e.value = (const unsigned char *)"\x00";
    e.value_len = 1;
    rdb_entry_payload(&e, 10, &p);
    CHECK_ERR(rdb_writer_key(w, 0, (const unsigned char *)"k", 1, -1, (const unsigned char *)p.data,
                             p.len, &err),
              err, ERR_INTEGRITY, "RDB version 10 cannot go into an RDB version 9 file");
    buf_reset(&p);
    e.type = 8;
    rdb_entry_payload(&e, 9, &p);
    CHECK_ERR(rdb_writer_key(w, 0, (const unsigned char *)"k", 1, -1, (const unsigned char *)p.data,
                             p.len, &err),
              err, ERR_INTEGRITY, "unknown value type 8");
    p.data[1] ^= 1;
    CHECK_ERR(rdb_writer_key(w, 0, (const unsigned char *)"k", 1, -1, (const unsigned char *)p.data,
                             p.len, &err),
              err, ERR_INTEGRITY, "checksum mismatch");
    rdb_writer_free(w);
    buf_release(&p);
    buf_release(&out);
}

/* ---- target versions ---- */

static void test_target_max_version(void)
{
    static const struct {
        const char *target;
        int want;
    } cases[] = {
        {"redis-6.2", 9},     {"redis-6.0", 9},   {"redis-7.0", 10},  {"7.0", 10},
        {"redis-7.0.15", 10}, {"redis-7.2", 11},  {"7.2.4", 11},      {"redis-7.4", 12},
        {"redis-8.0", 12},    {"redis-8.2", 12},  {"valkey-7.2", 11}, {"valkey-8.0", 11},
        {"valkey-8.1", 11},   {"valkey-9.0", 11},
    };
    struct error err = ERROR_INIT;
    int v = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        v = 0;
        CHECK_OK(rdb_target_max_version(cases[i].target, &v, unit_err()));
        if (v != cases[i].want)
            unit_fail(__FILE__, __LINE__, "%s: %d, wanted %d", cases[i].target, v, cases[i].want);
    }
    CHECK_ERR(rdb_target_max_version("keydb-6.3", &v, &err), err, ERR_USAGE,
              "use redis-X.Y, valkey-X.Y or a bare X.Y");
    CHECK_ERR(rdb_target_max_version("redis-7", &v, &err), err, ERR_USAGE, "malformed");
    CHECK_ERR(rdb_target_max_version("redis-7.x", &v, &err), err, ERR_USAGE, "malformed");
    CHECK_ERR(rdb_target_max_version("", &v, &err), err, ERR_USAGE, "malformed");
    CHECK_ERR(rdb_target_max_version("7..0", &v, &err), err, ERR_USAGE, "malformed");
    CHECK_ERR(rdb_target_max_version("redis-4.0", &v, &err), err, ERR_USAGE, "older than 9");
    CHECK_ERR(rdb_target_max_version("valkey-7.0", &v, &err), err, ERR_USAGE, "7.2");
}

const struct unit_test rdb_tests[] = {
    {"test_crc64_check_value", test_crc64_check_value},
    {"test_crc64_incremental_equals_one_shot", test_crc64_incremental_equals_one_shot},
    {"test_fixture_counts_equal_info_keyspace_in_every_chunking",
     test_fixture_counts_equal_info_keyspace_in_every_chunking},
    {"test_reheaded_versions_9_11_12_are_read", test_reheaded_versions_9_11_12_are_read},
    {"test_entry_payloads_equal_recorded_dumps", test_entry_payloads_equal_recorded_dumps},
    {"test_functions_payload_equals_function_dump", test_functions_payload_equals_function_dump},
    {"test_bad_fixtures_are_refused_with_offsets", test_bad_fixtures_are_refused_with_offsets},
    {"test_zero_crc_is_not_checked", test_zero_crc_is_not_checked},
    {"test_header_versions_and_magics", test_header_versions_and_magics},
    {"test_old_encodings_zipmap_ziplist_quicklist", test_old_encodings_zipmap_ziplist_quicklist},
    {"test_stream_listpacks_1_2_3", test_stream_listpacks_1_2_3},
    {"test_v11_and_v12_types", test_v11_and_v12_types},
    {"test_modules_and_hints", test_modules_and_hints},
    {"test_idle_and_seconds_expiry_reach_the_entry", test_idle_and_seconds_expiry_reach_the_entry},
    {"test_encoded_keys_are_decoded", test_encoded_keys_are_decoded},
    {"test_unsupported_records_are_refused", test_unsupported_records_are_refused},
    {"test_huge_declared_lengths_fail_at_once", test_huge_declared_lengths_fail_at_once},
    {"test_max_entry_bytes_is_enforced", test_max_entry_bytes_is_enforced},
    {"test_large_value_in_small_chunks", test_large_value_in_small_chunks},
    {"test_callback_error_stops_the_reader", test_callback_error_stops_the_reader},
    {"test_payload_check", test_payload_check},
    {"test_writer_round_trip", test_writer_round_trip},
    {"test_writer_refuses_bad_payloads", test_writer_refuses_bad_payloads},
    {"test_target_max_version", test_target_max_version},
    {NULL, NULL},
};
