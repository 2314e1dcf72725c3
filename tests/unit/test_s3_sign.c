/* Tests of stores/s3_sign.c: AWS Signature Version 4 against AWS's published vectors
 * (tests/fixtures/sigv4, sources in its README), and the rules behind them one at a time. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <dirent.h>

#include "io/digest.h"
#include "stores/s3_sign.h"
#include "unit.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/xalloc.h"

/* ---- Published vectors ---------------------------------------------------------------------- */

static const char *const vector_names[] = {
    "get-header-value-trim",
    "get-space",
    "get-unreserved",
    "get-utf8",
    "get-vanilla",
    "get-vanilla-empty-query-key",
    "get-vanilla-query-order-key",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-order-value",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    "post-sts-header-before",
    "post-vanilla",
    "post-vanilla-empty-query-value",
    "post-vanilla-query",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
    "s3-get-bucket-lifecycle",
    "s3-get-object",
    "s3-list-objects",
    "s3-put-object",
};

#define VECTOR_MAX_HEADERS 16

/* One parsed `request` fixture. Every string points into text. */
struct vector {
    char *text;
    struct s3_sign_header headers[VECTOR_MAX_HEADERS];
    struct s3_sign_request req;
    char payload_hex[2 * DIGEST_SHA256_LEN + 1];
};

/* Reads tests/fixtures/sigv4/<name>/<file>; the caller frees the result. One trailing newline is
 * dropped (the expected strings themselves never end in one). */
static char *vector_read(const char *name, const char *file)
{
    char *path = xasprintf("%s/sigv4/%s/%s", unit_fixture_dir(), name, file);
    struct buf b;

    buf_init(&b, 1 << 20);
    CHECK_OK(fs_read_file(path, &b, unit_err()));
    if (b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    xfree(path);
    return buf_detach(&b, NULL);
}

static void vector_load(const char *name, struct vector *v)
{
    char *line;
    char *next;
    bool has_payload = false;

    memset(v, 0, sizeof(*v));
    v->text = vector_read(name, "request");
    for (line = v->text; line; line = next) {
        char *value = strchr(line, ' ');

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!*line)
            continue;
        if (!value)
            unit_fail(__FILE__, __LINE__, "%s/request: no value in line '%s'", name, line);
        *value++ = '\0';
        if (strcmp(line, "method") == 0) {
            v->req.method = value;
        } else if (strcmp(line, "path") == 0) {
            v->req.path = value;
        } else if (strcmp(line, "query") == 0) {
            v->req.query = value;
        } else if (strcmp(line, "header") == 0) {
            char *colon = strchr(value, ':');
            CHECK(colon != NULL);
            CHECK(v->req.header_count < VECTOR_MAX_HEADERS);
            *colon = '\0';
            v->headers[v->req.header_count].name = value;
            v->headers[v->req.header_count].value = colon + 1;
            v->req.header_count++;
        } else if (strcmp(line, "body") == 0) {
            unsigned char digest[DIGEST_SHA256_LEN];
            digest_sha256(value, strlen(value), digest);
            digest_hex(digest, sizeof(digest), v->payload_hex);
            v->req.payload_hash = v->payload_hex;
            has_payload = true;
        } else if (strcmp(line, "payload_hash") == 0) {
            v->req.payload_hash = value;
            has_payload = true;
        } else if (strcmp(line, "access_key") == 0) {
            v->req.access_key = value;
        } else if (strcmp(line, "secret_key") == 0) {
            v->req.secret_key = value;
        } else if (strcmp(line, "region") == 0) {
            v->req.region = value;
        } else if (strcmp(line, "service") == 0) {
            v->req.service = value;
        } else if (strcmp(line, "amz_date") == 0) {
            v->req.amz_date = value;
        } else {
            unit_fail(__FILE__, __LINE__, "%s/request: unknown key '%s'", name, line);
        }
    }
    if (!has_payload)
        v->req.payload_hash = S3_SIGN_EMPTY_SHA256;
    v->req.headers = v->headers;
}

/* Copies s without the blank after each comma: the S3 document prints "a,b", the suite "a, b". */
static char *without_comma_blanks(const char *s)
{
    char *copy = xstrdup(s);
    char *dst = copy;

    for (const char *p = s; *p; p++) {
        *dst++ = *p;
        if (*p == ',' && p[1] == ' ')
            p++;
    }
    *dst = '\0';
    return copy;
}

static void check_text(const char *vector, const char *what, const char *got, const char *want)
{
    if (strcmp(got, want) != 0)
        unit_fail(__FILE__, __LINE__, "%s: %s differs\n--- got:\n%s\n--- want:\n%s", vector, what,
                  got, want);
}

static void check_vector(const char *name)
{
    struct vector v;
    struct buf out;
    struct s3_sign_debug debug;
    char *want_creq = vector_read(name, "creq");
    char *want_sts = vector_read(name, "sts");
    char *want_authz = vector_read(name, "authz");
    char *got_authz_cmp;
    char *want_authz_cmp;

    vector_load(name, &v);
    buf_init(&out, BUF_NO_CAP);
    buf_init(&debug.canonical_request, BUF_NO_CAP);
    buf_init(&debug.string_to_sign, BUF_NO_CAP);
    if (s3_sign(&v.req, &out, &debug, unit_err()) != 0)
        unit_fail(__FILE__, __LINE__, "%s: s3_sign failed: %s", name, unit_err()->msg);

    check_text(name, "canonical request", debug.canonical_request.data, want_creq);
    check_text(name, "string to sign", debug.string_to_sign.data, want_sts);
    got_authz_cmp = without_comma_blanks(out.data);
    want_authz_cmp = without_comma_blanks(want_authz);
    check_text(name, "authorization", got_authz_cmp, want_authz_cmp);
    /* Our own form is the one with ", " (as the suite writes it). */
    CHECK(strstr(out.data, ", SignedHeaders=") != NULL);
    CHECK(strstr(out.data, ", Signature=") != NULL);

    xfree(got_authz_cmp);
    xfree(want_authz_cmp);
    xfree(want_creq);
    xfree(want_sts);
    xfree(want_authz);
    xfree(v.text);
    buf_release(&out);
    buf_release(&debug.canonical_request);
    buf_release(&debug.string_to_sign);
}

static void test_published_vectors(void)
{
    size_t count = sizeof(vector_names) / sizeof(vector_names[0]);

    for (size_t i = 0; i < count; i++)
        check_vector(vector_names[i]);
}

/* A fixture directory that is not in vector_names would never run. */
static void test_every_fixture_directory_is_checked(void)
{
    char *dir_path = xasprintf("%s/sigv4", unit_fixture_dir());
    DIR *dir = opendir(dir_path);
    struct dirent *de;
    size_t dirs = 0;

    CHECK(dir != NULL);
    while ((de = readdir(dir)) != NULL) {
        bool listed = false;

        if (de->d_name[0] == '.' || strcmp(de->d_name, "README.md") == 0)
            continue;
        for (size_t i = 0; i < sizeof(vector_names) / sizeof(vector_names[0]); i++)
            listed = listed || strcmp(vector_names[i], de->d_name) == 0;
        if (!listed)
            unit_fail(__FILE__, __LINE__, "fixture '%s' is not in vector_names", de->d_name);
        dirs++;
    }
    closedir(dir);
    xfree(dir_path);
    CHECK_INT_EQ(dirs, sizeof(vector_names) / sizeof(vector_names[0]));
}

/* ---- A base request (the S3 document's GET Object) that single tests modify -------------------
 */

#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DOC_DATE   "20130524T000000Z"
#define DOC_GET_OBJECT_SIGNATURE                                                                   \
    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"

struct sample {
    struct s3_sign_header headers[8];
    struct s3_sign_request req;
    struct buf out;
    struct s3_sign_debug debug;
};

static void sample_init(struct sample *s)
{
    memset(s, 0, sizeof(*s));
    s->headers[0] = (struct s3_sign_header){"Host", "examplebucket.s3.amazonaws.com"};
    s->headers[1] = (struct s3_sign_header){"Range", "bytes=0-9"};
    s->headers[2] = (struct s3_sign_header){"x-amz-content-sha256", S3_SIGN_EMPTY_SHA256};
    s->headers[3] = (struct s3_sign_header){"x-amz-date", DOC_DATE};
    s->req = (struct s3_sign_request){
        .method = "GET",
        .path = "/test.txt",
        .query = NULL,
        .headers = s->headers,
        .header_count = 4,
        .payload_hash = S3_SIGN_EMPTY_SHA256,
        .access_key = "AKIAIOSFODNN7EXAMPLE",
        .secret_key = DOC_SECRET,
        .region = "us-east-1",
        .service = "s3",
        .amz_date = DOC_DATE,
    };
    buf_init(&s->out, BUF_NO_CAP);
    buf_init(&s->debug.canonical_request, BUF_NO_CAP);
    buf_init(&s->debug.string_to_sign, BUF_NO_CAP);
}

static void sample_release(struct sample *s)
{
    buf_release(&s->out);
    buf_release(&s->debug.canonical_request);
    buf_release(&s->debug.string_to_sign);
}

/* Signs s (emptying the outputs first) and returns the canonical request. */
static const char *sample_sign(struct sample *s)
{
    buf_reset(&s->out);
    buf_reset(&s->debug.canonical_request);
    buf_reset(&s->debug.string_to_sign);
    CHECK_OK(s3_sign(&s->req, &s->out, &s->debug, unit_err()));
    return s->debug.canonical_request.data;
}

/* Returns line n (0-based) of text in a static buffer. */
static const char *line_of(const char *text, int n)
{
    static char line[4096];
    const char *end;

    for (; n > 0 && text; n--) {
        text = strchr(text, '\n');
        if (text)
            text++;
    }
    CHECK(text != NULL);
    end = strchr(text, '\n');
    if (!end)
        end = text + strlen(text);
    CHECK((size_t)(end - text) < sizeof(line));
    memcpy(line, text, (size_t)(end - text));
    line[end - text] = '\0';
    return line;
}

static void test_sample_matches_the_document(void)
{
    struct sample s;

    sample_init(&s);
    sample_sign(&s);
    CHECK(strstr(s.out.data, DOC_GET_OBJECT_SIGNATURE) != NULL);
    sample_release(&s);
}

/* ---- s3_sign_uri_encode ------------------------------------------------------------------- */

static char *encoded(const char *s, size_t len, bool keep_slash)
{
    struct buf b;

    buf_init(&b, BUF_NO_CAP);
    CHECK(s3_sign_uri_encode(&b, s, len, keep_slash));
    return buf_detach(&b, NULL);
}

#define CHECK_ENCODED(in, keep_slash, want)                                                        \
    do {                                                                                           \
        char *got_ = encoded((in), sizeof(in) - 1, (keep_slash));                                  \
        CHECK_STR_EQ(got_, (want));                                                                \
        xfree(got_);                                                                               \
    } while (0)

static void test_uri_encode_escapes_reserved_bytes(void)
{
    CHECK_ENCODED("a b", false, "a%20b");
    CHECK_ENCODED("a+b", false, "a%2Bb");
    CHECK_ENCODED("100%", false, "100%25");
    CHECK_ENCODED("a=b&c", false, "a%3Db%26c");
    CHECK_ENCODED("test$file.text", true, "test%24file.text");
    CHECK_ENCODED("*()!'", false, "%2A%28%29%21%27");
    CHECK_ENCODED("\x00\x7f\xff", false, "%00%7F%FF");
}

static void test_uri_encode_keeps_unreserved(void)
{
    CHECK_ENCODED("AZaz09-._~", false, "AZaz09-._~");
    CHECK_ENCODED("~user", true, "~user");
    CHECK_ENCODED("", false, "");
}

static void test_uri_encode_utf8_bytes_upper_hex(void)
{
    CHECK_ENCODED("\xe1\x88\xb4", false, "%E1%88%B4"); /* U+1234, the suite's character */
    CHECK_ENCODED("caf\xc3\xa9", true, "caf%C3%A9");
    CHECK_ENCODED("\xf0\x9f\x98\x80", false, "%F0%9F%98%80");
}

static void test_uri_encode_slash_only_with_keep_slash(void)
{
    CHECK_ENCODED("db/2026/x y", true, "db/2026/x%20y");
    CHECK_ENCODED("db/2026/x y", false, "db%2F2026%2Fx%20y");
    CHECK_ENCODED("//", true, "//");
}

static void test_uri_encode_appends_and_respects_cap(void)
{
    struct buf b;

    buf_init(&b, 8);
    CHECK(buf_adds(&b, "k="));
    CHECK(s3_sign_uri_encode(&b, "a b", 3, false));
    CHECK_STR_EQ(b.data, "k=a%20b");
    /* "%20" needs 3 bytes, 1 is left: nothing is written. */
    CHECK(!s3_sign_uri_encode(&b, " ", 1, false));
    CHECK_STR_EQ(b.data, "k=a%20b");
    CHECK(s3_sign_uri_encode(&b, "z", 1, false));
    CHECK_STR_EQ(b.data, "k=a%20bz");
    buf_release(&b);
}

/* ---- Headers ----------------------------------------------------------------------------------
 */

static void test_header_values_are_trimmed_and_collapsed(void)
{
    struct sample s;
    const char *creq;

    sample_init(&s);
    s.headers[4] = (struct s3_sign_header){"x-amz-meta-a", "  one \t two   three\t"};
    s.headers[5] = (struct s3_sign_header){"x-amz-meta-b", " \t "};
    s.headers[6] = (struct s3_sign_header){"x-amz-meta-c", "\"q  uoted\""};
    s.req.header_count = 7;
    creq = sample_sign(&s);
    CHECK(strstr(creq, "\nx-amz-meta-a:one two three\n") != NULL);
    CHECK(strstr(creq, "\nx-amz-meta-b:\n") != NULL);
    CHECK(strstr(creq, "\nx-amz-meta-c:\"q uoted\"\n") != NULL);
    sample_release(&s);
}

static void test_header_names_are_lowercased_and_sorted(void)
{
    struct sample s;
    const char *creq;

    sample_init(&s);
    s.headers[0] = (struct s3_sign_header){"X-Amz-Date", DOC_DATE};
    s.headers[1] = (struct s3_sign_header){"RANGE", "bytes=0-9"};
    s.headers[2] = (struct s3_sign_header){"hOsT", "examplebucket.s3.amazonaws.com"};
    s.headers[3] = (struct s3_sign_header){"X-Amz-Content-SHA256", S3_SIGN_EMPTY_SHA256};
    creq = sample_sign(&s);
    CHECK_STR_EQ(line_of(creq, 3), "host:examplebucket.s3.amazonaws.com");
    CHECK_STR_EQ(line_of(creq, 4), "range:bytes=0-9");
    CHECK_STR_EQ(line_of(creq, 8), "host;range;x-amz-content-sha256;x-amz-date");
    /* Same request as the document's, only spelt and ordered differently. */
    CHECK(strstr(s.out.data, DOC_GET_OBJECT_SIGNATURE) != NULL);
    sample_release(&s);
}

static void test_session_token_header_is_signed(void)
{
    struct sample s;
    char *without;
    const char *creq;

    sample_init(&s);
    sample_sign(&s);
    without = xstrdup(s.out.data);
    s.headers[4] = (struct s3_sign_header){"X-Amz-Security-Token", "FQoGZXIvYXdzEXAMPLE/+="};
    s.req.header_count = 5;
    creq = sample_sign(&s);
    CHECK(strstr(creq, "\nx-amz-security-token:FQoGZXIvYXdzEXAMPLE/+=\n") != NULL);
    CHECK(
        strstr(s.out.data,
               "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token,") !=
        NULL);
    CHECK(strcmp(strstr(s.out.data, "Signature="), strstr(without, "Signature=")) != 0);
    xfree(without);
    sample_release(&s);
}

/* ---- Path and query ---------------------------------------------------------------------------
 */

static void test_path_is_not_normalised(void)
{
    struct sample s;

    sample_init(&s);
    s.req.path = "/bucket//a/../b/./c%20d/";
    CHECK_STR_EQ(line_of(sample_sign(&s), 1), "/bucket//a/../b/./c%20d/");
    sample_release(&s);
}

static void test_query_is_sorted_by_name_then_value(void)
{
    struct sample s;

    sample_init(&s);
    s.req.query = "prefix=db%2F&list-type=2&b=2&a=2&a=10&a=1";
    CHECK_STR_EQ(line_of(sample_sign(&s), 2), "a=1&a=10&a=2&b=2&list-type=2&prefix=db%2F");
    sample_release(&s);
}

static void test_query_name_without_equals_signs_as_empty_value(void)
{
    struct sample s;
    char *bare;

    sample_init(&s);
    s.req.method = "POST";
    s.req.path = "/bucket/key";
    s.req.query = "uploads";
    CHECK_STR_EQ(line_of(sample_sign(&s), 2), "uploads=");
    bare = xstrdup(s.out.data);
    s.req.query = "uploads=";
    sample_sign(&s);
    CHECK_STR_EQ(s.out.data, bare);
    s.req.query = "uploadId=abc&partNumber=3&delete";
    CHECK_STR_EQ(line_of(sample_sign(&s), 2), "delete=&partNumber=3&uploadId=abc");
    xfree(bare);
    sample_release(&s);
}

static void test_query_empty_segments_are_skipped(void)
{
    struct sample s;
    char *none;

    sample_init(&s);
    s.req.query = NULL;
    CHECK_STR_EQ(line_of(sample_sign(&s), 2), "");
    none = xstrdup(s.out.data);
    s.req.query = "";
    sample_sign(&s);
    CHECK_STR_EQ(s.out.data, none);
    s.req.query = "&b=2&&a=1&";
    CHECK_STR_EQ(line_of(sample_sign(&s), 2), "a=1&b=2");
    xfree(none);
    sample_release(&s);
}

static void test_unsigned_payload(void)
{
    struct sample s;
    const char *creq;

    sample_init(&s);
    s.headers[2].value = S3_SIGN_UNSIGNED_PAYLOAD;
    s.req.payload_hash = S3_SIGN_UNSIGNED_PAYLOAD;
    creq = sample_sign(&s);
    CHECK_STR_EQ(line_of(creq, 9), "UNSIGNED-PAYLOAD");
    CHECK(strstr(s.out.data, DOC_GET_OBJECT_SIGNATURE) == NULL);
    sample_release(&s);
}

static void test_secret_never_appears_in_output(void)
{
    struct sample s;

    sample_init(&s);
    sample_sign(&s);
    CHECK(strstr(s.out.data, DOC_SECRET) == NULL);
    CHECK(strstr(s.debug.canonical_request.data, DOC_SECRET) == NULL);
    CHECK(strstr(s.debug.string_to_sign.data, DOC_SECRET) == NULL);
    CHECK(strstr(s.out.data,
                 "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ") != NULL);
    sample_release(&s);
}

static void test_output_is_appended_and_debug_is_optional(void)
{
    struct sample s;
    struct buf out;

    sample_init(&s);
    buf_init(&out, BUF_NO_CAP);
    CHECK(buf_adds(&out, "Authorization: "));
    CHECK_OK(s3_sign(&s.req, &out, NULL, unit_err()));
    CHECK(strncmp(out.data, "Authorization: AWS4-HMAC-SHA256 Credential=", 43) == 0);
    CHECK(strstr(out.data, DOC_GET_OBJECT_SIGNATURE) != NULL);
    buf_release(&out);
    sample_release(&s);
}

/* ---- Errors -----------------------------------------------------------------------------------
 */

/* Signs s into an output holding "keep" and checks that a failure leaves it so. */
static int sign_keeps_output(struct sample *s, struct error *err)
{
    int rc;

    buf_reset(&s->out);
    CHECK(buf_adds(&s->out, "keep"));
    rc = s3_sign(&s->req, &s->out, NULL, err);
    if (rc != 0)
        CHECK_STR_EQ(s->out.data, "keep");
    if (strstr(err->msg, DOC_SECRET))
        unit_fail(__FILE__, __LINE__, "error message shows the secret key");
    return rc;
}

static void test_missing_fields_fail(void)
{
    static const char *const names[] = {"method",     "path",   "payload_hash", "access_key",
                                        "secret_key", "region", "service",      "amz_date"};
    struct error err = ERROR_INIT;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        for (int empty = 0; empty <= 1; empty++) {
            struct sample s;
            const char **fields[] = {&s.req.method,     &s.req.path,       &s.req.payload_hash,
                                     &s.req.access_key, &s.req.secret_key, &s.req.region,
                                     &s.req.service,    &s.req.amz_date};
            char want[64];

            sample_init(&s);
            *fields[i] = empty ? "" : NULL;
            buf_format_fixed(want, sizeof(want), "missing '%s'", names[i]);
            CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, want);
            sample_release(&s);
        }
    }
}

static void test_bad_amz_date_fails(void)
{
    static const char *const bad[] = {
        "2013-05-24T00:00:00Z", "20130524T000000",  "20130524T0000000Z", "20131324T000000Z",
        "20130500T000000Z",     "20130524T240000Z", "20130524 000000Z",  "2013052AT000000Z",
    };
    struct error err = ERROR_INIT;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sample s;

        sample_init(&s);
        s.req.amz_date = bad[i];
        s.headers[3].value = bad[i];
        CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE,
                  "is not in the form YYYYMMDDTHHMMSSZ");
        sample_release(&s);
    }
}

static void test_duplicate_header_fails(void)
{
    struct sample s;
    struct error err = ERROR_INIT;

    sample_init(&s);
    s.headers[4] = (struct s3_sign_header){"RANGE", "bytes=10-19"};
    s.req.header_count = 5;
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "duplicate header 'R");
    sample_release(&s);
}

static void test_required_headers_are_checked(void)
{
    struct sample s;
    struct error err = ERROR_INIT;

    sample_init(&s);
    s.headers[0].name = "x-amz-meta-host";
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "missing header 'host'");
    sample_release(&s);
    sample_init(&s);
    s.req.header_count = 3;
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "missing header 'x-amz-date'");
    sample_release(&s);
    sample_init(&s);
    s.headers[3].value = "20130524T000001Z";
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "'x-amz-date' differs from amz_date");
    sample_release(&s);
    sample_init(&s);
    s.headers[2].name = "x-amz-meta-sha";
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "missing header 'x-amz-content-sha256'");
    sample_release(&s);
    sample_init(&s);
    s.req.payload_hash = S3_SIGN_UNSIGNED_PAYLOAD;
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE,
              "'x-amz-content-sha256' differs from payload_hash");
    sample_release(&s);
    sample_init(&s);
    s.req.header_count = 0;
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "missing header 'host'");
    sample_release(&s);
    sample_init(&s);
    s.req.headers = NULL;
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "missing 'headers'");
    sample_release(&s);
}

static void test_malformed_headers_fail(void)
{
    struct sample s;
    struct error err = ERROR_INIT;

    sample_init(&s);
    s.req.header_count = 5;
    s.headers[4] = (struct s3_sign_header){"x-amz-meta bad", "v"};
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "header name 'x-amz-meta bad'");
    s.headers[4] = (struct s3_sign_header){"a:b", "v"};
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "is not a token");
    s.headers[4] = (struct s3_sign_header){"", "v"};
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "header 4 has no name");
    s.headers[4] = (struct s3_sign_header){"x-amz-meta-a", NULL};
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "'x-amz-meta-a' has no value");
    s.headers[4] = (struct s3_sign_header){"x-amz-meta-a", "one\r\nInjected: yes"};
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "contains a line break");
    sample_release(&s);
}

static void test_unencoded_path_and_query_fail(void)
{
    static const char *const bad_paths[] = {"/a b", "/a%2fb", "/a%2", "/caf\xc3\xa9", "/a+b"};
    static const char *const bad_queries[] = {"prefix=a/b", "a=b=c", "=x", "a=%zz", "k=v%2f"};
    struct sample s;
    struct error err = ERROR_INIT;

    sample_init(&s);
    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
        s.req.path = bad_paths[i];
        CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "is not URI-encoded");
    }
    s.req.path = "test.txt";
    CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "does not start with '/'");
    s.req.path = "/test.txt";
    for (size_t i = 0; i < sizeof(bad_queries) / sizeof(bad_queries[0]); i++) {
        s.req.query = bad_queries[i];
        CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "sigv4: query");
    }
    sample_release(&s);
}

static void test_bad_payload_hash_fails(void)
{
    static const char *const bad[] = {
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "unsigned-payload",
    };
    struct error err = ERROR_INIT;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sample s;

        sample_init(&s);
        s.req.payload_hash = bad[i];
        s.headers[2].value = bad[i];
        CHECK_ERR(sign_keeps_output(&s, &err), err, ERR_USAGE, "payload_hash is neither");
        sample_release(&s);
    }
}

static void test_output_at_its_cap_fails_unchanged(void)
{
    struct sample s;
    struct buf small;
    struct error err = ERROR_INIT;

    sample_init(&s);
    buf_init(&small, 100);
    CHECK(buf_adds(&small, "keep"));
    CHECK_ERR(s3_sign(&s.req, &small, NULL, &err), err, ERR_USAGE, "does not fit");
    CHECK_STR_EQ(small.data, "keep");
    buf_release(&small);
    sample_release(&s);
}

/* ---- s3_sign_format_date ------------------------------------------------------------------ */

static void check_date(long long t, const char *want)
{
    char got[17];

    memset(got, 'x', sizeof(got));
    s3_sign_format_date(t, got);
    CHECK_STR_EQ(got, want);
}

static void test_format_date_known_values(void)
{
    check_date(0, "19700101T000000Z");
    check_date(1369353600, "20130524T000000Z"); /* the S3 document's examples */
    check_date(1440938160, "20150830T123600Z"); /* the test suite's */
    check_date(951782400, "20000229T000000Z");
    check_date(4107542399, "21000228T235959Z");
    check_date(-1, "19691231T235959Z");
    check_date(253402300799, "99991231T235959Z");
    check_date(-62167219200, "00000101T000000Z");
}

/* Agrees with the C library over 1900..2300, a step that is coprime with days and hours. */
static void test_format_date_agrees_with_gmtime(void)
{
    for (long long t = -2208988800LL; t < 10413792000LL; t += 7919LL * 3601) {
        time_t tt = (time_t)t;
        struct tm tm;
        char want[32];
        char got[17];

        CHECK(gmtime_r(&tt, &tm) != NULL);
        CHECK(strftime(want, sizeof(want), "%Y%m%dT%H%M%SZ", &tm) == 16);
        s3_sign_format_date(t, got);
        if (strcmp(got, want) != 0)
            unit_fail(__FILE__, __LINE__, "t=%lld: %s != %s", t, got, want);
    }
}

const struct unit_test s3_sign_tests[] = {
    {"test_published_vectors", test_published_vectors},
    {"test_every_fixture_directory_is_checked", test_every_fixture_directory_is_checked},
    {"test_sample_matches_the_document", test_sample_matches_the_document},
    {"test_uri_encode_escapes_reserved_bytes", test_uri_encode_escapes_reserved_bytes},
    {"test_uri_encode_keeps_unreserved", test_uri_encode_keeps_unreserved},
    {"test_uri_encode_utf8_bytes_upper_hex", test_uri_encode_utf8_bytes_upper_hex},
    {"test_uri_encode_slash_only_with_keep_slash", test_uri_encode_slash_only_with_keep_slash},
    {"test_uri_encode_appends_and_respects_cap", test_uri_encode_appends_and_respects_cap},
    {"test_header_values_are_trimmed_and_collapsed", test_header_values_are_trimmed_and_collapsed},
    {"test_header_names_are_lowercased_and_sorted", test_header_names_are_lowercased_and_sorted},
    {"test_session_token_header_is_signed", test_session_token_header_is_signed},
    {"test_path_is_not_normalised", test_path_is_not_normalised},
    {"test_query_is_sorted_by_name_then_value", test_query_is_sorted_by_name_then_value},
    {"test_query_name_without_equals_signs_as_empty_value",
     test_query_name_without_equals_signs_as_empty_value},
    {"test_query_empty_segments_are_skipped", test_query_empty_segments_are_skipped},
    {"test_unsigned_payload", test_unsigned_payload},
    {"test_secret_never_appears_in_output", test_secret_never_appears_in_output},
    {"test_output_is_appended_and_debug_is_optional",
     test_output_is_appended_and_debug_is_optional},
    {"test_missing_fields_fail", test_missing_fields_fail},
    {"test_bad_amz_date_fails", test_bad_amz_date_fails},
    {"test_duplicate_header_fails", test_duplicate_header_fails},
    {"test_required_headers_are_checked", test_required_headers_are_checked},
    {"test_malformed_headers_fail", test_malformed_headers_fail},
    {"test_unencoded_path_and_query_fail", test_unencoded_path_and_query_fail},
    {"test_bad_payload_hash_fails", test_bad_payload_hash_fails},
    {"test_output_at_its_cap_fails_unchanged", test_output_at_its_cap_fails_unchanged},
    {"test_format_date_known_values", test_format_date_known_values},
    {"test_format_date_agrees_with_gmtime", test_format_date_agrees_with_gmtime},
    {NULL, NULL},
};
