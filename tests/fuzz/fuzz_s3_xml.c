/* Fuzzes every S3 XML parser with the same input, and the two request writers with the input's
 * lines as keys and ETags. Invariants: a failure is ERR_REMOTE (parsers) or ERR_USAGE (writers)
 * with a message and leaves the result untouched; a success gives NUL-terminated strings within
 * the caps and counts that match the arrays; an <Error> body is seen as one by every parser; a
 * time that parses prints back to the same time; whatever the writers accept reads back through
 * the list parser (expat) to the same keys and ETags; release leaves a zeroed struct. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "stores/s3_xml.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ITEMS 1000

static bool fuzz_is_zero(const void *p, size_t len)
{
    const unsigned char *c = p;

    for (size_t i = 0; i < len; i++)
        if (c[i])
            return false;
    return true;
}

/* A string owned by a result: present, NUL-terminated within the cap. */
static void fuzz_check_str(const char *s, bool may_be_null, bool may_be_empty)
{
    if (!s) {
        ASSERT(may_be_null);
        return;
    }
    ASSERT(strnlen(s, S3_XML_MAX_KEY_BYTES + 1) <= S3_XML_MAX_KEY_BYTES);
    ASSERT(may_be_empty || s[0] != '\0');
}

static void fuzz_check_failure(const struct error *err, enum err_kind kind)
{
    ASSERT(err->kind == kind);
    ASSERT(err->msg[0] != '\0');
}

static void fuzz_check_fixed(const char *s, size_t cap)
{
    ASSERT(strnlen(s, cap) < cap);
}

/* Returns true when the body is an S3 <Error> document. */
static bool fuzz_error(const char *body, size_t len, struct s3_xml_error *e)
{
    struct error err = ERROR_INIT;

    memset(e, 0, sizeof(*e));
    if (s3_xml_parse_error(body, len, e, &err) != 0) {
        fuzz_check_failure(&err, ERR_REMOTE);
        ASSERT(fuzz_is_zero(e, sizeof(*e)));
        return false;
    }
    fuzz_check_fixed(e->code, sizeof(e->code));
    fuzz_check_fixed(e->message, sizeof(e->message));
    fuzz_check_fixed(e->request_id, sizeof(e->request_id));
    fuzz_check_fixed(e->resource, sizeof(e->resource));
    fuzz_check_fixed(e->region, sizeof(e->region));
    return true;
}

static void fuzz_list(const char *body, size_t len, bool is_error_doc)
{
    struct s3_xml_list l;
    struct error err = ERROR_INIT;

    memset(&l, 0, sizeof(l));
    if (s3_xml_parse_list(body, len, &l, &err) != 0) {
        fuzz_check_failure(&err, ERR_REMOTE);
        ASSERT(fuzz_is_zero(&l, sizeof(l)));
        ASSERT(!is_error_doc || strstr(err.msg, "S3 error"));
        return;
    }
    ASSERT(!is_error_doc);
    ASSERT((l.objects == NULL) == (l.object_count == 0));
    for (size_t i = 0; i < l.object_count; i++) {
        fuzz_check_str(l.objects[i].key, false, true);
        fuzz_check_str(l.objects[i].etag, true, true);
        fuzz_check_str(l.objects[i].storage_class, true, true);
    }
    ASSERT((l.common_prefixes == NULL) == (l.common_prefix_count == 0));
    for (size_t i = 0; i < l.common_prefix_count; i++)
        fuzz_check_str(l.common_prefixes[i], false, true);
    fuzz_check_str(l.next_continuation_token, true, false);
    fuzz_check_str(l.next_marker, true, false);
    fuzz_check_str(l.key_count_text, true, true);
    s3_xml_list_release(&l);
    ASSERT(fuzz_is_zero(&l, sizeof(l)));
}

static void fuzz_uploads(const char *body, size_t len, bool is_error_doc)
{
    struct s3_xml_uploads u;
    struct error err = ERROR_INIT;

    memset(&u, 0, sizeof(u));
    if (s3_xml_parse_uploads(body, len, &u, &err) != 0) {
        fuzz_check_failure(&err, ERR_REMOTE);
        ASSERT(fuzz_is_zero(&u, sizeof(u)));
        ASSERT(!is_error_doc || strstr(err.msg, "S3 error"));
        return;
    }
    ASSERT(!is_error_doc);
    ASSERT((u.uploads == NULL) == (u.upload_count == 0));
    for (size_t i = 0; i < u.upload_count; i++) {
        fuzz_check_str(u.uploads[i].key, false, true);
        fuzz_check_str(u.uploads[i].upload_id, false, false);
    }
    fuzz_check_str(u.next_key_marker, true, false);
    fuzz_check_str(u.next_upload_id_marker, true, false);
    s3_xml_uploads_release(&u);
    ASSERT(fuzz_is_zero(&u, sizeof(u)));
}

static void fuzz_delete(const char *body, size_t len, bool is_error_doc)
{
    struct s3_xml_delete_result r;
    struct error err = ERROR_INIT;

    memset(&r, 0, sizeof(r));
    if (s3_xml_parse_delete(body, len, &r, &err) != 0) {
        fuzz_check_failure(&err, ERR_REMOTE);
        ASSERT(fuzz_is_zero(&r, sizeof(r)));
        ASSERT(!is_error_doc || strstr(err.msg, "S3 error"));
        return;
    }
    ASSERT(!is_error_doc);
    ASSERT((r.failures == NULL) == (r.failure_count == 0));
    for (size_t i = 0; i < r.failure_count; i++) {
        fuzz_check_str(r.failures[i].key, false, true);
        fuzz_check_fixed(r.failures[i].code, sizeof(r.failures[i].code));
        fuzz_check_fixed(r.failures[i].message, sizeof(r.failures[i].message));
    }
    s3_xml_delete_result_release(&r);
    ASSERT(fuzz_is_zero(&r, sizeof(r)));
}

/* Initiate, Complete and Copy: one string out, or an S3 error that matches s3_xml_parse_error. */
static void fuzz_single_values(const char *body, size_t len, const struct s3_xml_error *doc)
{
    struct error err = ERROR_INIT;
    struct s3_xml_error e;
    static char sentinel[] = "not set";
    char *value = sentinel;

    if (s3_xml_parse_initiate(body, len, &value, &err) == 0) {
        ASSERT(!doc);
        fuzz_check_str(value, false, false);
        xfree(value);
    } else {
        fuzz_check_failure(&err, ERR_REMOTE);
        ASSERT(value == NULL);
    }

    memset(&e, 0, sizeof(e));
    value = sentinel;
    if (s3_xml_parse_complete(body, len, &value, &e, &err) == 0) {
        ASSERT(!doc);
        fuzz_check_str(value, true, false); /* NULL: an empty <ETag/>, as radosgw sends */
        xfree(value);
    } else {
        fuzz_check_failure(&err, ERR_REMOTE);
        ASSERT(value == NULL);
        ASSERT(!doc || memcmp(&e, doc, sizeof(e)) == 0);
    }

    memset(&e, 0, sizeof(e));
    value = sentinel;
    if (s3_xml_parse_copy(body, len, &value, doc ? &e : NULL, &err) == 0) {
        ASSERT(!doc);
        fuzz_check_str(value, false, false);
        xfree(value);
    } else {
        fuzz_check_failure(&err, ERR_REMOTE);
        ASSERT(value == NULL);
        ASSERT(!doc || strcmp(e.code, doc->code) == 0);
    }
}

/* GetObjectAcl: a yes/no answer, or an ERR_REMOTE failure (an <Error> body included). */
static void fuzz_acl(const char *body, size_t len, bool is_error_doc)
{
    struct error err = ERROR_INIT;
    bool is_public = false;

    if (s3_xml_parse_acl(body, len, &is_public, &err) == 0) {
        ASSERT(!is_error_doc);
        return;
    }
    fuzz_check_failure(&err, ERR_REMOTE);
}

static void fuzz_time(const uint8_t *data, size_t size)
{
    char text[48];
    char back[48];
    time_t t = 0;
    time_t t2 = 0;
    struct tm tm;
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;

    memcpy(text, data, n);
    text[n] = '\0';
    if (!s3_xml_parse_time(text, &t))
        return;
    ASSERT(gmtime_r(&t, &tm) != NULL);
    ASSERT(strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0);
    ASSERT(s3_xml_parse_time(back, &t2) && t2 == t);
    ASSERT(strncmp(text, back, 19) == 0);
}

/* Rewrites a request body's tags into a ListBucketResult. The writers escape '<', so the tags
 * cannot occur inside values. */
static void fuzz_as_listing(const char *body, struct buf *out)
{
    static const char *const map[][2] = {
        {"<Delete ", "<ListBucketResult "},
        {"</Delete>", "</ListBucketResult>"},
        {"<CompleteMultipartUpload ", "<ListBucketResult "},
        {"</CompleteMultipartUpload>", "</ListBucketResult>"},
        {"<Object>", "<Contents>"},
        {"</Object>", "</Contents>"},
        {"<Part>", "<Contents>"},
        {"</Part>", "</Contents>"},
        {"<PartNumber>", "<Key>"},
        {"</PartNumber>", "</Key>"},
    };
    const char *p = body;

    buf_init(out, BUF_NO_CAP);
    while (*p) {
        size_t i;
        for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
            size_t n = strlen(map[i][0]);
            if (strncmp(p, map[i][0], n) == 0) {
                buf_adds(out, map[i][1]);
                p += n;
                break;
            }
        }
        if (i == sizeof(map) / sizeof(map[0]))
            buf_add(out, p++, 1);
    }
}

/* The input's non-empty lines, as NUL-terminated copies in one allocation. */
static size_t fuzz_lines(const uint8_t *data, size_t size, char **storage, const char **lines)
{
    size_t count = 0;
    char *copy = xmalloc(size + 1);

    memcpy(copy, data, size);
    copy[size] = '\0';
    for (char *p = copy; p < copy + size && count < FUZZ_MAX_ITEMS;) {
        char *nl = memchr(p, '\n', (size_t)(copy + size - p));
        char *end = nl ? nl : copy + size;
        *end = '\0';
        if (end > p && strlen(p) == (size_t)(end - p))
            lines[count++] = p;
        p = end + 1;
    }
    *storage = copy;
    return count;
}

static void fuzz_writers(const uint8_t *data, size_t size)
{
    const char **lines = xcalloc(FUZZ_MAX_ITEMS, sizeof(*lines));
    struct s3_xml_part *parts = xcalloc(FUZZ_MAX_ITEMS, sizeof(*parts));
    char *storage = NULL;
    size_t count = fuzz_lines(data, size, &storage, lines);
    struct buf body;
    struct buf listing;
    struct s3_xml_list l;
    struct error err = ERROR_INIT;

    buf_init(&body, BUF_NO_CAP);
    memset(&l, 0, sizeof(l));
    if (count > 0 && s3_xml_write_delete(&body, lines, count, &err) == 0) {
        fuzz_as_listing(body.data, &listing);
        if (s3_xml_parse_list(listing.data, listing.len, &l, &err) != 0)
            error_assert_fail(__FILE__, __LINE__, err.msg);
        ASSERT(l.object_count == count);
        for (size_t i = 0; i < count; i++)
            ASSERT(strcmp(l.objects[i].key, lines[i]) == 0);
        s3_xml_list_release(&l);
        buf_release(&listing);
    } else if (count > 0) {
        fuzz_check_failure(&err, ERR_USAGE);
        ASSERT(body.len == 0);
    }

    buf_reset(&body);
    for (size_t i = 0; i < count; i++) {
        parts[i].part_number = (int)i + 1;
        parts[i].etag = lines[i];
    }
    if (count > 0 && s3_xml_write_complete(&body, parts, count, &err) == 0) {
        fuzz_as_listing(body.data, &listing);
        if (s3_xml_parse_list(listing.data, listing.len, &l, &err) != 0)
            error_assert_fail(__FILE__, __LINE__, err.msg);
        ASSERT(l.object_count == count);
        for (size_t i = 0; i < count; i++) {
            const char *etag = lines[i];
            size_t n = strlen(etag);
            char number[24];
            snprintf(number, sizeof(number), "%zu", i + 1);
            ASSERT(strcmp(l.objects[i].key, number) == 0);
            /* The writer drops one pair of surrounding quotes and adds its own; the parser drops
             * them again. */
            if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
                etag++;
                n -= 2;
            }
            ASSERT(strlen(l.objects[i].etag) == n && memcmp(l.objects[i].etag, etag, n) == 0);
        }
        s3_xml_list_release(&l);
        buf_release(&listing);
    } else if (count > 0) {
        fuzz_check_failure(&err, ERR_USAGE);
        ASSERT(body.len == 0);
    }

    buf_release(&body);
    xfree(storage);
    xfree(parts);
    xfree(lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct s3_xml_error doc;
    bool is_error_doc;

    if (size > S3_XML_MAX_BODY)
        return 0;
    is_error_doc = fuzz_error(body, size, &doc);
    fuzz_list(body, size, is_error_doc);
    fuzz_uploads(body, size, is_error_doc);
    fuzz_delete(body, size, is_error_doc);
    fuzz_acl(body, size, is_error_doc);
    fuzz_single_values(body, size, is_error_doc ? &doc : NULL);
    fuzz_time(data, size);
    fuzz_writers(data, size);
    return 0;
}
