/* io/age.c: the C2SP age test kit (tests/fixtures/age/testkit, every vector, counted), round trips
 * through the filters fed in varied piece sizes, tampering and truncation, key and identity-file
 * parsing, and the error messages an operator reads. Passphrase tests use work factor 2^10 so they
 * stay fast. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>

#include <zlib.h>

#include "io/age.h"
#include "io/digest.h"
#include "io/filter.h"
#include "unit.h"
#include "util/bech32.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/xalloc.h"

#define TESTKIT_IDENTITY                                                                           \
    "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
#define TEST_LOG_N 10
#define CT_CHUNK   (AGE_CHUNK_BYTES + 16)

static void read_whole(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    char tmp[65536];
    size_t n;

    if (!f)
        unit_fail(__FILE__, __LINE__, "cannot open %s", path);
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        CHECK(buf_add(out, tmp, n));
    (void)fclose(f);
}

static void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

/* Feeds data through f in pieces of `piece` bytes (0: whole), then finish. Output goes to out even
 * when a step fails (what was released before the error). Returns the failing step's result. */
static int run_filter(struct filter *f, const uint8_t *data, size_t len, size_t piece,
                      struct buf *out, struct error *err)
{
    size_t pos = 0;

    if (piece == 0)
        piece = len ? len : 1;
    while (pos < len) {
        size_t n = len - pos < piece ? len - pos : piece;
        if (filter_process(f, data + pos, n, out, err) < 0)
            return -1;
        pos += n;
    }
    return filter_finish(f, out, err);
}

static int decrypt_with(const uint8_t *data, size_t len, const struct age_identity *ids,
                        size_t id_count, const char *pass, int max_log_n, size_t piece,
                        struct buf *out, struct error *err)
{
    struct age_decrypt_params p = {ids, id_count, pass, pass ? strlen(pass) : 0, max_log_n};
    struct filter *f = NULL;
    int rc;

    if (age_decrypt_new(&p, &f, err) < 0)
        return -1;
    rc = run_filter(f, data, len, piece, out, err);
    filter_free(f);
    return rc;
}

static void encrypt_with(const struct age_recipient *r, size_t r_count, const char *pass,
                         const uint8_t *data, size_t len, size_t piece, struct buf *out)
{
    struct age_encrypt_params p = {r, r_count, pass, pass ? strlen(pass) : 0, TEST_LOG_N};
    struct filter *f = NULL;

    CHECK_OK(age_encrypt_new(&p, &f, unit_err()));
    CHECK_OK(run_filter(f, data, len, piece, out, unit_err()));
    filter_free(f);
}

static void one_identity(const char *text, struct age_identity *out)
{
    struct age_identity *ids = NULL;
    size_t n = 0;

    CHECK_OK(age_identities_parse(text, strlen(text), &ids, &n, unit_err()));
    CHECK_INT_EQ(n, 1);
    *out = ids[0];
    age_identities_free(ids, n);
}

static void new_identity(struct age_identity *id, struct age_recipient *r)
{
    struct buf text;
    char rtext[AGE_RECIPIENT_TEXT_MAX];

    buf_init(&text, BUF_NO_CAP);
    CHECK_OK(age_keygen(&text, rtext, unit_err()));
    one_identity(text.data, id);
    age_identity_recipient(id, r);
    buf_release(&text);
}

/* ---- the test kit ---- */

struct testkit_vector {
    char expect[32];
    char payload_hex[65];
    char passphrase[128];
    char comment[200];
    char *identities[4];
    size_t identity_count;
    bool is_armored;
    bool is_compressed;
    struct buf body;
};

static void testkit_inflate(struct buf *body)
{
    z_stream zs;
    struct buf out;
    unsigned char tmp[65536];
    int zr;

    memset(&zs, 0, sizeof(zs));
    buf_init(&out, BUF_NO_CAP);
    CHECK(inflateInit(&zs) == Z_OK);
    zs.next_in = (unsigned char *)body->data;
    zs.avail_in = (uInt)body->len;
    do {
        zs.next_out = tmp;
        zs.avail_out = sizeof(tmp);
        zr = inflate(&zs, Z_NO_FLUSH);
        CHECK(zr == Z_OK || zr == Z_STREAM_END);
        CHECK(buf_add(&out, tmp, sizeof(tmp) - zs.avail_out));
    } while (zr != Z_STREAM_END);
    (void)inflateEnd(&zs);
    buf_release(body);
    *body = out;
}

static void testkit_load(const char *path, struct testkit_vector *v)
{
    struct buf raw;
    size_t pos = 0;

    memset(v, 0, sizeof(*v));
    buf_init(&raw, BUF_NO_CAP);
    buf_init(&v->body, BUF_NO_CAP);
    read_whole(path, &raw);
    for (;;) {
        const char *nl = memchr(raw.data + pos, '\n', raw.len - pos);
        size_t line_len;
        char line[1024];
        const char *colon;
        const char *value;

        CHECK(nl != NULL);
        line_len = (size_t)(nl - (raw.data + pos));
        if (line_len == 0) {
            pos++;
            break;
        }
        CHECK(line_len < sizeof(line));
        memcpy(line, raw.data + pos, line_len);
        line[line_len] = '\0';
        pos += line_len + 1;
        colon = strchr(line, ':');
        CHECK(colon != NULL && colon[1] == ' ');
        value = colon + 2;
        if (strncmp(line, "expect:", 7) == 0)
            buf_format_fixed(v->expect, sizeof(v->expect), "%s", value);
        else if (strncmp(line, "payload:", 8) == 0)
            buf_format_fixed(v->payload_hex, sizeof(v->payload_hex), "%s", value);
        else if (strncmp(line, "passphrase:", 11) == 0)
            buf_format_fixed(v->passphrase, sizeof(v->passphrase), "%s", value);
        else if (strncmp(line, "comment:", 8) == 0)
            buf_format_fixed(v->comment, sizeof(v->comment), "%s", value);
        else if (strncmp(line, "identity:", 9) == 0) {
            CHECK(v->identity_count < 4);
            v->identities[v->identity_count++] = xstrdup(value);
        } else if (strncmp(line, "armored:", 8) == 0)
            v->is_armored = strcmp(value, "yes") == 0;
        else if (strncmp(line, "compressed:", 11) == 0) {
            CHECK_STR_EQ(value, "zlib");
            v->is_compressed = true;
        } else
            CHECK(strncmp(line, "file key:", 9) == 0);
    }
    CHECK(buf_add(&v->body, raw.data + pos, raw.len - pos));
    if (v->is_compressed)
        testkit_inflate(&v->body);
    buf_release(&raw);
}

static void testkit_release(struct testkit_vector *v)
{
    for (size_t i = 0; i < v->identity_count; i++)
        xfree(v->identities[i]);
    buf_release(&v->body);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What we must do with post-quantum vectors: their identities are not ours, so each is run with
 * the X25519 identities it lists, or the kit's usual X25519 identity, and must end in "no match"
 * (the hybrid stanza is an unknown type, skipped) unless the header itself is malformed for us. */
static const char *testkit_pq_expect(const char *name)
{
    static const char *const header_failures[] = {
        "hybrid_not_canonical_body", /* body base64 is checked for every stanza type */
        "hybrid_x25519_arg",         /* an X25519 stanza with a hybrid-sized share */
    };
    for (size_t i = 0; i < sizeof(header_failures) / sizeof(header_failures[0]); i++)
        if (strcmp(name, header_failures[i]) == 0)
            return "header failure";
    return "no match";
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[32];

    digest_sha256(data, len, d);
    digest_hex(d, sizeof(d), out);
}

/* Checks one vector against `expect` with the given identities and passphrase, feeding the file in
 * pieces of `piece` bytes. */
static void testkit_check(const char *name, const struct testkit_vector *v, const char *expect,
                          const struct age_identity *ids, size_t id_count, size_t piece)
{
    struct buf out;
    struct error err = ERROR_INIT;
    char hex[65];
    int rc;

    buf_init(&out, BUF_NO_CAP);
    rc = decrypt_with((const uint8_t *)v->body.data, v->body.len, ids, id_count,
                      v->passphrase[0] ? v->passphrase : NULL, 0, piece, &out, &err);
    sha256_hex(out.data, out.len, hex);
    if (strcmp(expect, "success") == 0) {
        if (rc != 0)
            unit_fail(__FILE__, __LINE__, "%s: wanted success, got: %s", name, err.msg);
        if (strcmp(hex, v->payload_hex) != 0)
            unit_fail(__FILE__, __LINE__, "%s: plaintext digest %s, wanted %s", name, hex,
                      v->payload_hex);
    } else {
        bool is_header_msg = strncmp(err.msg, "age: header", 11) == 0;
        if (rc == 0)
            unit_fail(__FILE__, __LINE__, "%s: wanted %s, decrypted", name, expect);
        if (strcmp(expect, "header failure") == 0) {
            /* We refuse an expensive work factor as a configuration matter (ERR_CONFIG). */
            bool is_cap = strcmp(name, "scrypt_work_factor_23") == 0;
            if (is_cap ? (err.kind != ERR_CONFIG || !strstr(err.msg, "above the cap"))
                       : (err.kind != ERR_INTEGRITY || !is_header_msg ||
                          strstr(err.msg, "MAC does not match")))
                unit_fail(__FILE__, __LINE__, "%s: wanted a header failure, got (%d) %s", name,
                          (int)err.kind, err.msg);
            if (out.len != 0)
                unit_fail(__FILE__, __LINE__, "%s: released plaintext", name);
        } else if (strcmp(expect, "HMAC failure") == 0) {
            if (err.kind != ERR_INTEGRITY || !strstr(err.msg, "header MAC does not match"))
                unit_fail(__FILE__, __LINE__, "%s: wanted a MAC failure, got %s", name, err.msg);
            if (out.len != 0)
                unit_fail(__FILE__, __LINE__, "%s: released plaintext", name);
        } else if (strcmp(expect, "no match") == 0) {
            if (err.kind != ERR_CONFIG)
                unit_fail(__FILE__, __LINE__, "%s: wanted no match, got (%d) %s", name,
                          (int)err.kind, err.msg);
            if (out.len != 0)
                unit_fail(__FILE__, __LINE__, "%s: released plaintext", name);
        } else if (strcmp(expect, "payload failure") == 0) {
            if (err.kind != ERR_INTEGRITY || is_header_msg)
                unit_fail(__FILE__, __LINE__, "%s: wanted a payload failure, got (%d) %s", name,
                          (int)err.kind, err.msg);
            if (v->payload_hex[0] && strcmp(hex, v->payload_hex) != 0)
                unit_fail(__FILE__, __LINE__, "%s: released plaintext digest %s, wanted %s", name,
                          hex, v->payload_hex);
        } else {
            unit_fail(__FILE__, __LINE__, "%s: unknown expectation '%s'", name, expect);
        }
    }
    buf_release(&out);
}

static void test_age_testkit_every_vector(void)
{
    char *dir_path = xasprintf("%s/age/testkit", unit_fixture_dir());
    DIR *dir = opendir(dir_path);
    char **names = NULL;
    size_t count = 0;
    size_t alloc = 0;
    size_t passed = 0;
    size_t na_armor = 0;
    size_t na_pq = 0;
    struct dirent *de;

    CHECK(dir != NULL);
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        XGROW(names, count + 1, alloc);
        names[count++] = xstrdup(de->d_name);
    }
    (void)closedir(dir);
    if (!names)
        unit_fail(__FILE__, __LINE__, "no test vectors in %s", dir_path);
    qsort(names, count, sizeof(*names), cmp_names);
    CHECK_INT_EQ(count, 143);
    for (size_t i = 0; i < count; i++) {
        char *path = xasprintf("%s/%s", dir_path, names[i]);
        struct testkit_vector v;
        struct age_identity ids[4];
        size_t id_count = 0;
        bool has_pq = false;
        const char *expect;

        testkit_load(path, &v);
        if (v.is_armored) {
            fprintf(stderr, "    not applicable: %s (ASCII armor is not implemented)\n", names[i]);
            na_armor++;
            goto next;
        }
        for (size_t k = 0; k < v.identity_count; k++) {
            if (strncmp(v.identities[k], "AGE-SECRET-KEY-PQ-", 18) == 0)
                has_pq = true;
            else
                one_identity(v.identities[k], &ids[id_count++]);
        }
        expect = v.expect;
        if (has_pq) {
            expect = testkit_pq_expect(names[i]);
            fprintf(stderr,
                    "    not applicable: %s (expects %s with an mlkem768x25519 identity; "
                    "checked as %s with X25519 identities)\n",
                    names[i], v.expect, expect);
            if (id_count == 0)
                one_identity(TESTKIT_IDENTITY, &ids[id_count++]);
            na_pq++;
        }
        if (id_count == 0 && !v.passphrase[0])
            one_identity(TESTKIT_IDENTITY, &ids[id_count++]); /* "empty" lists no key */
        testkit_check(names[i], &v, expect, ids, id_count, 0);
        /* The same in awkward pieces: the result must not depend on how input arrives. */
        testkit_check(names[i], &v, expect, ids, id_count, 4099);
        if (v.body.len < 200000)
            testkit_check(names[i], &v, expect, ids, id_count, 1);
        if (!has_pq)
            passed++;
    next:
        testkit_release(&v);
        xfree(path);
        xfree(names[i]);
    }
    fprintf(stderr,
            "    age testkit: %zu vectors: %zu checked as specified, %zu not applicable (%zu "
            "armored, %zu post-quantum)\n",
            count, passed, na_armor + na_pq, na_armor, na_pq);
    CHECK_INT_EQ(na_armor, 33);
    CHECK_INT_EQ(passed + na_armor + na_pq, count);
    xfree(names);
    xfree(dir_path);
}

/* ---- round trips ---- */

static void roundtrip(size_t size, int mode)
{
    static const size_t pieces[] = {0, 1, 7, 4096};
    struct age_identity ids[3];
    struct age_recipient rs[3];
    uint8_t *plain = xmalloc(size + 1);
    const char *pass = mode == 2 ? "correct horse battery staple" : NULL;
    size_t r_count = mode == 1 ? 3 : 1;

    fill_pattern(plain, size, (uint32_t)size);
    for (size_t i = 0; i < 3; i++)
        new_identity(&ids[i], &rs[i]);
    for (size_t e = 0; e < 4; e++) {
        struct buf ct;
        size_t chunks = size == 0 ? 1 : (size + AGE_CHUNK_BYTES - 1) / AGE_CHUNK_BYTES;
        struct age_header h;

        if ((pieces[e] == 1 || pieces[e] == 7) && size > 200000)
            continue;
        buf_init(&ct, BUF_NO_CAP);
        encrypt_with(pass ? NULL : rs, pass ? 0 : r_count, pass, plain, size, pieces[e], &ct);
        CHECK_INT_EQ(age_header_parse((const uint8_t *)ct.data, ct.len, &h, unit_err()), 1);
        CHECK_INT_EQ(h.stanza_count, pass ? 1 : r_count);
        CHECK_STR_EQ(h.stanzas[0].type, pass ? "scrypt" : "X25519");
        CHECK_INT_EQ(ct.len, h.len + 16 + size + 16 * chunks);
        age_header_release(&h);
        for (size_t d = 0; d < 4; d++) {
            struct buf out;
            buf_init(&out, BUF_NO_CAP);
            /* With three recipients the last identity opens the file. */
            CHECK_OK(decrypt_with((const uint8_t *)ct.data, ct.len, pass ? NULL : &ids[r_count - 1],
                                  pass ? 0 : 1, pass, 0, pieces[d], &out, unit_err()));
            CHECK_INT_EQ(out.len, size);
            CHECK(size == 0 || memcmp(out.data, plain, size) == 0);
            buf_release(&out);
        }
        buf_release(&ct);
    }
    xfree(plain);
}

static const size_t roundtrip_sizes[] = {0, 1, 65535, 65536, 65537, 131072, 1000003};

static void test_age_roundtrip_one_recipient(void)
{
    for (size_t i = 0; i < sizeof(roundtrip_sizes) / sizeof(roundtrip_sizes[0]); i++)
        roundtrip(roundtrip_sizes[i], 0);
}

static void test_age_roundtrip_three_recipients(void)
{
    for (size_t i = 0; i < sizeof(roundtrip_sizes) / sizeof(roundtrip_sizes[0]); i++)
        roundtrip(roundtrip_sizes[i], 1);
}

static void test_age_roundtrip_passphrase(void)
{
    for (size_t i = 0; i < sizeof(roundtrip_sizes) / sizeof(roundtrip_sizes[0]); i++)
        roundtrip(roundtrip_sizes[i], 2);
}

/* A file of three chunks (two full, one of 100 bytes) for the tamper and truncation tests. */
struct sample {
    struct age_identity id;
    uint8_t *plain;
    size_t plain_len;
    struct buf ct;
    size_t payload_start; /* after the header and the nonce */
};

static void sample_make(struct sample *s, size_t plain_len)
{
    struct age_recipient r;
    struct age_header h;

    new_identity(&s->id, &r);
    s->plain_len = plain_len;
    s->plain = xmalloc(plain_len + 1);
    fill_pattern(s->plain, plain_len, 7);
    buf_init(&s->ct, BUF_NO_CAP);
    encrypt_with(&r, 1, NULL, s->plain, plain_len, 0, &s->ct);
    CHECK_INT_EQ(age_header_parse((const uint8_t *)s->ct.data, s->ct.len, &h, unit_err()), 1);
    s->payload_start = h.len + 16;
    age_header_release(&h);
}

static void sample_release(struct sample *s)
{
    xfree(s->plain);
    buf_release(&s->ct);
}

static void test_age_tamper_header_byte_fails_without_output(void)
{
    struct sample s;

    sample_make(&s, 2 * AGE_CHUNK_BYTES + 100);
    for (size_t i = 0; i < s.payload_start - 16; i++) {
        struct buf out;
        struct error err = ERROR_INIT;
        buf_init(&out, BUF_NO_CAP);
        s.ct.data[i] ^= 0x01;
        if (decrypt_with((const uint8_t *)s.ct.data, s.ct.len, &s.id, 1, NULL, 0, 0, &out, &err) ==
            0)
            unit_fail(__FILE__, __LINE__, "header byte %zu flipped: decrypted", i);
        CHECK(err.kind == ERR_INTEGRITY || err.kind == ERR_CONFIG);
        CHECK_INT_EQ(out.len, 0);
        s.ct.data[i] ^= 0x01;
        buf_release(&out);
    }
    sample_release(&s);
}

static void test_age_tamper_payload_names_the_chunk(void)
{
    struct sample s;
    size_t chunk_count = 3;

    sample_make(&s, 2 * AGE_CHUNK_BYTES + 100);
    CHECK_INT_EQ(s.ct.len, s.payload_start + 2 * CT_CHUNK + 116);
    for (size_t c = 0; c < chunk_count; c++) {
        size_t start = s.payload_start + c * CT_CHUNK;
        size_t end = c + 1 < chunk_count ? start + CT_CHUNK : s.ct.len;
        size_t spots[] = {start, start + 50, end - 17, end - 16, end - 1};
        for (size_t k = 0; k < sizeof(spots) / sizeof(spots[0]); k++) {
            struct buf out;
            struct error err = ERROR_INIT;
            char want[80];
            buf_init(&out, BUF_NO_CAP);
            s.ct.data[spots[k]] ^= 0x40;
            CHECK_ERR(decrypt_with((const uint8_t *)s.ct.data, s.ct.len, &s.id, 1, NULL, 0, 4096,
                                   &out, &err),
                      err, ERR_INTEGRITY, "failed authentication (altered or truncated)");
            buf_format_fixed(want, sizeof(want), "age: payload chunk %zu failed", c + 1);
            CHECK(strstr(err.msg, want) != NULL);
            /* The chunks before the damaged one were released, nothing after. */
            CHECK_INT_EQ(out.len, c * AGE_CHUNK_BYTES);
            CHECK(memcmp(out.data, s.plain, out.len) == 0);
            s.ct.data[spots[k]] ^= 0x40;
            buf_release(&out);
        }
    }
    /* The nonce: every chunk key changes, the first chunk fails. */
    {
        struct error err = ERROR_INIT;
        struct buf out;
        buf_init(&out, BUF_NO_CAP);
        s.ct.data[s.payload_start - 1] ^= 1;
        CHECK_ERR(
            decrypt_with((const uint8_t *)s.ct.data, s.ct.len, &s.id, 1, NULL, 0, 0, &out, &err),
            err, ERR_INTEGRITY, "age: payload chunk 1 failed authentication");
        CHECK_INT_EQ(out.len, 0);
        buf_release(&out);
    }
    sample_release(&s);
}

static void test_age_truncation_at_every_chunk_boundary_fails(void)
{
    struct sample s;

    sample_make(&s, 3 * AGE_CHUNK_BYTES); /* three full chunks, the last one final */
    CHECK_INT_EQ(s.ct.len, s.payload_start + 3 * CT_CHUNK);
    for (size_t b = 0; b <= 3; b++) {
        for (int delta = -1; delta <= 1; delta++) {
            size_t cut = s.payload_start + b * CT_CHUNK + (size_t)(long)delta;
            struct buf out;
            struct error err = ERROR_INIT;
            int rc;
            if (cut >= s.ct.len)
                continue;
            buf_init(&out, BUF_NO_CAP);
            rc = decrypt_with((const uint8_t *)s.ct.data, cut, &s.id, 1, NULL, 0, 0, &out, &err);
            if (rc == 0)
                unit_fail(__FILE__, __LINE__, "cut at %zu of %zu: decrypted", cut, s.ct.len);
            CHECK_INT_EQ(err.kind, ERR_INTEGRITY);
            CHECK(out.len <= s.plain_len && memcmp(out.data, s.plain, out.len) == 0);
            CHECK(out.len % AGE_CHUNK_BYTES == 0);
            if (delta == 0 && b > 0)
                CHECK(strstr(err.msg, "file ends before its final chunk (truncated)"));
            buf_release(&out);
        }
    }
    /* Trailing data after the final chunk. */
    {
        struct buf out;
        struct error err = ERROR_INIT;
        buf_init(&out, BUF_NO_CAP);
        CHECK(buf_add(&s.ct, "x", 1));
        CHECK_ERR(
            decrypt_with((const uint8_t *)s.ct.data, s.ct.len, &s.id, 1, NULL, 0, 0, &out, &err),
            err, ERR_INTEGRITY, "data follows the final payload chunk");
        CHECK_INT_EQ(out.len, 3 * AGE_CHUNK_BYTES);
        buf_release(&out);
    }
    sample_release(&s);
}

static void test_age_wrong_identity_names_the_recipients(void)
{
    struct age_identity ids[3];
    struct age_recipient rs[3];
    struct buf ct;
    struct buf out;
    struct error err = ERROR_INIT;

    for (size_t i = 0; i < 3; i++)
        new_identity(&ids[i], &rs[i]);
    buf_init(&ct, BUF_NO_CAP);
    buf_init(&out, BUF_NO_CAP);
    encrypt_with(rs, 2, NULL, (const uint8_t *)"hello", 5, 0, &ct);
    CHECK_ERR(decrypt_with((const uint8_t *)ct.data, ct.len, &ids[2], 1, NULL, 0, 0, &out, &err),
              err, ERR_CONFIG,
              "no identity matches: the file is encrypted to 2 recipients (X25519); set identity "
              "= file:... to the matching key");
    CHECK_INT_EQ(out.len, 0);
    /* Identity file given, passphrase file. */
    buf_reset(&ct);
    encrypt_with(NULL, 0, "pw", (const uint8_t *)"hello", 5, 0, &ct);
    CHECK_ERR(decrypt_with((const uint8_t *)ct.data, ct.len, &ids[0], 1, NULL, 0, 0, &out, &err),
              err, ERR_CONFIG, "the file is passphrase-encrypted; set encrypt_passphrase");
    CHECK_ERR(decrypt_with((const uint8_t *)ct.data, ct.len, NULL, 0, "wrong", 0, 0, &out, &err),
              err, ERR_CONFIG, "wrong passphrase");
    CHECK(strstr(err.msg, "wrong\"") == NULL && strstr(err.msg, "'wrong'") == NULL);
    /* Passphrase given, file encrypted to a recipient. */
    buf_reset(&ct);
    encrypt_with(rs, 1, NULL, (const uint8_t *)"hello", 5, 0, &ct);
    CHECK_ERR(decrypt_with((const uint8_t *)ct.data, ct.len, NULL, 0, "pw", 0, 0, &out, &err), err,
              ERR_CONFIG, "encrypted to 1 recipient (X25519), not to a passphrase");
    CHECK_INT_EQ(out.len, 0);
    buf_release(&ct);
    buf_release(&out);
}

static void test_age_many_stanzas_are_described_in_part(void)
{
    /* 40 stanzas of unknown types (as a damaged or hostile header may hold 100,000): the message
     * describes the first ones that fit and says that more follow. */
    struct age_identity id;
    struct age_recipient r;
    struct buf hdr;
    struct buf out;
    struct error err = ERROR_INIT;

    new_identity(&id, &r);
    buf_init(&hdr, BUF_NO_CAP);
    buf_init(&out, BUF_NO_CAP);
    buf_adds(&hdr, "age-encryption.org/v1\n");
    for (int i = 0; i < 40; i++)
        buf_addf(&hdr, "-> t%02d\n\n", i);
    buf_adds(&hdr, "--- IOXiQYStkoT1mvZW2tFOqZdhRVvj58egABx/sWfZQbc\n0123456789abcdef");
    CHECK_ERR(decrypt_with((const uint8_t *)hdr.data, hdr.len, &id, 1, NULL, 0, 0, &out, &err), err,
              ERR_CONFIG, "encrypted to 40 recipients (");
    CHECK(strstr(err.msg, "1 t00, 1 t01") != NULL);
    CHECK(strstr(err.msg, "t32") == NULL);
    CHECK(strstr(err.msg, ", , ") == NULL);
    CHECK(strstr(err.msg, "...") != NULL);
    CHECK_INT_EQ(out.len, 0);
    buf_release(&hdr);
    buf_release(&out);
}

static void test_age_work_factor_above_cap_refused_before_scrypt(void)
{
    /* 2^40 would need 1 TiB: had scrypt run, it would have failed differently (or not ended). The
     * MAC is garbage too, which is only checked after the stanza opens. */
    static const char header[] = "age-encryption.org/v1\n"
                                 "-> scrypt rF0/NwblUHHTpgQgRpe5CQ 40\n"
                                 "gUjEymFKMVXQEKdMMHL24oYexjE3TIC0O0zGSqJ2aUY\n"
                                 "--- IOXiQYStkoT1mvZW2tFOqZdhRVvj58egABx/sWfZQbc\n"
                                 "0123456789abcdef";
    struct buf out;
    struct buf ct;
    struct error err = ERROR_INIT;

    buf_init(&out, BUF_NO_CAP);
    buf_init(&ct, BUF_NO_CAP);
    CHECK_ERR(decrypt_with((const uint8_t *)header, sizeof(header) - 1, NULL, 0, "password", 0, 0,
                           &out, &err),
              err, ERR_CONFIG, "work factor 2^40 above the cap 2^22");
    CHECK(err.hint[0] != '\0');
    /* A caller's lower cap applies to a real file. */
    encrypt_with(NULL, 0, "pw", (const uint8_t *)"x", 1, 0, &ct);
    CHECK_ERR(decrypt_with((const uint8_t *)ct.data, ct.len, NULL, 0, "pw", 9, 0, &out, &err), err,
              ERR_CONFIG, "work factor 2^10 above the cap 2^9");
    CHECK_OK(
        decrypt_with((const uint8_t *)ct.data, ct.len, NULL, 0, "pw", 10, 0, &out, unit_err()));
    CHECK_INT_EQ(out.len, 1);
    buf_release(&out);
    buf_release(&ct);
}

static void test_age_encrypt_params_are_checked(void)
{
    struct age_identity id;
    struct age_recipient r;
    struct filter *f = NULL;
    struct error err = ERROR_INIT;
    struct age_encrypt_params both = {&r, 1, "pw", 2, 0};
    struct age_encrypt_params none = {NULL, 0, NULL, 0, 0};
    struct age_decrypt_params dnone = {NULL, 0, NULL, 0, 0};

    new_identity(&id, &r);
    CHECK_ERR(age_encrypt_new(&both, &f, &err), err, ERR_CONFIG, "only one of them");
    CHECK(f == NULL);
    CHECK_ERR(age_encrypt_new(&none, &f, &err), err, ERR_CONFIG, "no recipient");
    CHECK_ERR(age_decrypt_new(&dnone, &f, &err), err, ERR_CONFIG, "no identity and no passphrase");
}

/* ---- keys ---- */

static void test_age_identity_file_parsing(void)
{
    static const char good[] = "# created: 2024-01-01T00:00:00Z\r\n"
                               "# public key: age1...\r\n"
                               "\r\n" TESTKIT_IDENTITY "\r\n"
                               "\n"
                               "# a second key\n" TESTKIT_IDENTITY;
    struct age_identity *ids = NULL;
    size_t n = 0;
    struct error err = ERROR_INIT;
    struct age_recipient r;
    char text[AGE_RECIPIENT_TEXT_MAX];
    char bad[256];

    CHECK_OK(age_identities_parse(good, strlen(good), &ids, &n, unit_err()));
    CHECK_INT_EQ(n, 2);
    age_identity_recipient(&ids[0], &r);
    age_recipient_format(&r, text);
    CHECK(strncmp(text, "age1", 4) == 0);
    CHECK(memcmp(ids[0].sk, ids[1].sk, 32) == 0);
    age_identities_free(ids, n);

    CHECK_ERR(age_identities_parse("# only a comment\n\n", 18, &ids, &n, &err), err, ERR_CONFIG,
              "no identity found");
    CHECK(ids == NULL && n == 0);
    /* A bad checksum on line 3; the message must not quote the key. */
    buf_format_fixed(bad, sizeof(bad), "# c\n\n%s", TESTKIT_IDENTITY);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'Q' ? 'P' : 'Q';
    CHECK_ERR(age_identities_parse(bad, strlen(bad), &ids, &n, &err), err, ERR_CONFIG,
              "line 3: malformed identity");
    CHECK(strstr(err.msg, "EGTZVFFV") == NULL);
    /* Lowercase identity, leading space, a recipient in the key file, post-quantum keys. */
    buf_format_fixed(bad, sizeof(bad), "%s\n",
                     "age-secret-key-1egtzvffv20835nwyv6270lxyvk2vknx2mm"
                     "dkwyklmgr48uawx40q2p2lm0");
    CHECK_ERR(age_identities_parse(bad, strlen(bad), &ids, &n, &err), err, ERR_CONFIG,
              "line 1: not an age identity");
    CHECK(strstr(err.msg, "egtzvffv") == NULL);
    buf_format_fixed(bad, sizeof(bad), "# x\n %s\n", TESTKIT_IDENTITY);
    CHECK_ERR(age_identities_parse(bad, strlen(bad), &ids, &n, &err), err, ERR_CONFIG,
              "line 2: not an age identity");
    CHECK_ERR(age_identities_parse("AGE-SECRET-KEY-PQ-1ABC\n", 23, &ids, &n, &err), err, ERR_CONFIG,
              "line 1: post-quantum");
    CHECK_ERR(age_identities_parse("age1xyz\n", 8, &ids, &n, &err), err, ERR_CONFIG,
              "line 1: not an age identity");
}

static void test_age_recipient_parse_errors(void)
{
    struct age_recipient r;
    struct age_recipient back;
    struct error err = ERROR_INIT;
    char text[AGE_RECIPIENT_TEXT_MAX];
    char upper[AGE_RECIPIENT_TEXT_MAX];
    struct age_identity id;

    one_identity(TESTKIT_IDENTITY, &id);
    age_identity_recipient(&id, &r);
    age_recipient_format(&r, text);
    CHECK_OK(age_recipient_parse(text, &back, unit_err()));
    CHECK(memcmp(back.pk, r.pk, 32) == 0);
    for (size_t i = 0; text[i]; i++)
        upper[i] = (char)(text[i] >= 'a' && text[i] <= 'z' ? text[i] - 32 : text[i]);
    upper[strlen(text)] = '\0';
    CHECK_ERR(age_recipient_parse(upper, &back, &err), err, ERR_CONFIG, "lowercase 'age1...'");
    CHECK_ERR(age_recipient_parse("", &back, &err), err, ERR_CONFIG, "not an age recipient");
    CHECK_ERR(age_recipient_parse(TESTKIT_IDENTITY, &back, &err), err, ERR_CONFIG,
              "is an identity (secret key)");
    CHECK(strstr(err.msg, "EGTZ") == NULL);
    CHECK_ERR(age_recipient_parse("ssh-ed25519 AAAAC3Nza", &back, &err), err, ERR_CONFIG,
              "SSH keys are not supported");
    text[10] = text[10] == 'q' ? 'p' : 'q';
    CHECK_ERR(age_recipient_parse(text, &back, &err), err, ERR_CONFIG, "recipient 'age1");
    /* Right checksum, wrong length: 31 bytes. */
    {
        struct buf b;
        buf_init(&b, BUF_NO_CAP);
        bech32_encode("age", r.pk, 31, false, &b);
        CHECK_ERR(age_recipient_parse(b.data, &back, &err), err, ERR_CONFIG, "32-byte");
        buf_release(&b);
    }
}

static void test_age_keygen_output_parses_back(void)
{
    struct buf text;
    char recipient[AGE_RECIPIENT_TEXT_MAX];
    struct age_identity *ids = NULL;
    size_t n = 0;
    struct age_recipient r;
    char again[AGE_RECIPIENT_TEXT_MAX];
    char *line2;

    buf_init(&text, BUF_NO_CAP);
    CHECK_OK(age_keygen(&text, recipient, unit_err()));
    CHECK(strncmp(text.data, "# created: ", 11) == 0);
    line2 = strchr(text.data, '\n') + 1;
    CHECK(strncmp(line2, "# public key: ", 14) == 0);
    CHECK(strncmp(line2 + 14, recipient, strlen(recipient)) == 0);
    CHECK(strstr(text.data, "\nAGE-SECRET-KEY-1") != NULL);
    CHECK(text.data[text.len - 1] == '\n');
    CHECK_OK(age_identities_parse(text.data, text.len, &ids, &n, unit_err()));
    CHECK_INT_EQ(n, 1);
    age_identity_recipient(&ids[0], &r);
    age_recipient_format(&r, again);
    CHECK_STR_EQ(again, recipient);
    CHECK_INT_EQ(strlen(recipient), 62);
    age_identities_free(ids, n);
    buf_release(&text);
}

/* ---- the header parser on its own ---- */

static void test_age_header_parse_is_incremental(void)
{
    struct age_recipient rs[2];
    struct age_identity ids[2];
    struct buf ct;
    struct age_header h;
    struct error err = ERROR_INIT;
    size_t full;

    for (size_t i = 0; i < 2; i++)
        new_identity(&ids[i], &rs[i]);
    buf_init(&ct, BUF_NO_CAP);
    encrypt_with(rs, 2, NULL, (const uint8_t *)"abc", 3, 0, &ct);
    CHECK_INT_EQ(age_header_parse((const uint8_t *)ct.data, ct.len, &h, unit_err()), 1);
    full = h.len;
    CHECK_INT_EQ(h.stanza_count, 2);
    CHECK_INT_EQ(h.stanzas[1].body_len, 32);
    CHECK_INT_EQ(h.stanzas[1].arg_count, 1);
    CHECK_INT_EQ(strlen(h.stanzas[1].args[0]), 43);
    CHECK(memcmp(ct.data + h.mac_input_len - 4, "\n---", 4) == 0);
    age_header_release(&h);
    for (size_t n = 0; n < full; n++)
        CHECK_INT_EQ(age_header_parse((const uint8_t *)ct.data, n, &h, unit_err()), 0);
    CHECK_INT_EQ(age_header_parse((const uint8_t *)"PK\003\004", 4, &h, &err), -1);
    CHECK_INT_EQ(err.kind, ERR_INTEGRITY);
    CHECK(strstr(err.msg, "not an age file") != NULL);
    buf_release(&ct);
}

static void test_age_not_age_input_fails_at_once(void)
{
    /* A large non-age first piece must not be buffered up to the header cap before failing. */
    uint8_t *junk = xcalloc(100000, 1);
    struct age_identity id;
    struct age_recipient r;
    struct age_decrypt_params p = {&id, 1, NULL, 0, 0};
    struct filter *f = NULL;
    struct buf out;
    struct error err = ERROR_INIT;

    new_identity(&id, &r);
    buf_init(&out, BUF_NO_CAP);
    CHECK_OK(age_decrypt_new(&p, &f, unit_err()));
    CHECK_ERR(filter_process(f, junk, 100000, &out, &err), err, ERR_INTEGRITY, "not an age file");
    CHECK_ERR(filter_finish(f, &out, &err), err, ERR_INTEGRITY, "already failed");
    filter_free(f);
    CHECK_OK(age_decrypt_new(&p, &f, unit_err()));
    CHECK_ERR(filter_finish(f, &out, &err), err, ERR_INTEGRITY, "the file is empty");
    filter_free(f);
    buf_release(&out);
    xfree(junk);
}

const struct unit_test age_tests[] = {
    {"testkit_every_vector", test_age_testkit_every_vector},
    {"roundtrip_one_recipient", test_age_roundtrip_one_recipient},
    {"roundtrip_three_recipients", test_age_roundtrip_three_recipients},
    {"roundtrip_passphrase", test_age_roundtrip_passphrase},
    {"tamper_header_byte_fails_without_output", test_age_tamper_header_byte_fails_without_output},
    {"tamper_payload_names_the_chunk", test_age_tamper_payload_names_the_chunk},
    {"truncation_at_every_chunk_boundary_fails", test_age_truncation_at_every_chunk_boundary_fails},
    {"wrong_identity_names_the_recipients", test_age_wrong_identity_names_the_recipients},
    {"many_stanzas_are_described_in_part", test_age_many_stanzas_are_described_in_part},
    {"work_factor_above_cap_refused_before_scrypt",
     test_age_work_factor_above_cap_refused_before_scrypt},
    {"encrypt_params_are_checked", test_age_encrypt_params_are_checked},
    {"identity_file_parsing", test_age_identity_file_parsing},
    {"recipient_parse_errors", test_age_recipient_parse_errors},
    {"keygen_output_parses_back", test_age_keygen_output_parses_back},
    {"header_parse_is_incremental", test_age_header_parse_is_incremental},
    {"not_age_input_fails_at_once", test_age_not_age_input_fails_at_once},
    {NULL, NULL},
};
