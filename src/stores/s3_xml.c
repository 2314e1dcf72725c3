/* S3 XML bodies over expat. One small driver (struct xml_ctx) runs expat over a whole body, keeps
 * the stack of local element names, collects the text of leaf elements under a cap, and hands each
 * finished element to the parser of one response type. Every response type also understands an
 * <Error> root, because S3 may answer 200 with an error document (CompleteMultipartUpload,
 * CopyObject) and a caller that got an unexpected body deserves the S3 code, not "bad XML".
 *
 * Choices worth knowing:
 * - Expat runs without namespace processing and names are cut after the last ':', so <Key>,
 *   <s3:Key> and <Key xmlns="..."> all match "Key", and an unbound prefix is not an error.
 * - Any DOCTYPE is refused before expat reads its internal subset, so no entity is ever declared
 *   (no billion laughs, no external entities); expat itself rejects undeclared entity references.
 * - Only leaf elements carry text. Whitespace between elements never counts against the cap.
 * - Empty <NextContinuationToken/>, <NextMarker/> and the upload markers count as absent (NULL):
 *   an empty token would make a pager loop from the start.
 * - Leading whitespace is skipped: S3 may send blanks while a CompleteMultipartUpload runs, and
 *   then the XML declaration, which expat accepts only at the very start. */
#include "stores/s3_xml.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <expat.h>

#include "util/buf.h"
#include "util/strv.h"
#include "util/xalloc.h"

#define XML_MAX_DEPTH    32
#define XML_MAX_NAME     64 /* longer element names match nothing */
#define XML_MAX_PART     10000
#define XML_MAX_DELETE   1000
#define XML_S3_NAMESPACE "http://s3.amazonaws.com/doc/2006-03-01/"

struct xml_ctx;

/* Called at the start of every element below the root (ctx->depth counts the root as 1). */
typedef void xml_start_fn(struct xml_ctx *ctx);
/* Called at the end of every element below the root; text is the element's text when it had no
 * child elements, "" otherwise. */
typedef void xml_end_fn(struct xml_ctx *ctx, const char *text);

struct xml_ctx {
    XML_Parser parser;
    const char *what;      /* names the body in messages: "ListObjectsV2 response" */
    const char *want_root; /* the root element of a success body */
    const char *alt_root;  /* another accepted root, or NULL */
    xml_start_fn *on_start;
    xml_end_fn *on_end;
    void *result;

    int depth;
    char names[XML_MAX_DEPTH][XML_MAX_NAME];
    struct buf text;
    bool is_text_cut;
    bool is_leaf; /* no child element since the current element started */

    bool is_error_doc;
    struct s3_xml_error s3err;

    bool is_failed;
    struct error *err;
};

static void xml_fail(struct xml_ctx *ctx, const char *fmt, ...) PRINTF(2, 3);

static void xml_fail(struct xml_ctx *ctx, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    if (ctx->is_failed)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a cut message is fine */
    va_end(ap);
    error_set(ctx->err, ERR_REMOTE, "%s: %s", ctx->what, msg);
    ctx->is_failed = true;
    XML_StopParser(ctx->parser, XML_FALSE);
}

/* The name of the element at level (1 = root). */
static const char *xml_name(const struct xml_ctx *ctx, int level)
{
    return ctx->names[level - 1];
}

static bool xml_is(const struct xml_ctx *ctx, int level, const char *name)
{
    return strcmp(xml_name(ctx, level), name) == 0;
}

/* Copies src into a fixed array, cutting at a UTF-8 character boundary when it does not fit. */
static void xml_copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Replaces *dst with a copy of text. */
static void xml_set_str(char **dst, const char *text)
{
    xfree(*dst);
    *dst = xstrdup(text);
}

/* As xml_set_str, but an empty text leaves NULL (see the top of the file). */
static void xml_set_marker(char **dst, const char *text)
{
    xfree(*dst);
    *dst = text[0] ? xstrdup(text) : NULL;
}

/* An ETag without its surrounding quotes. */
static void xml_set_etag(char **dst, const char *text)
{
    size_t n = strlen(text);

    xfree(*dst);
    if (n >= 2 && text[0] == '"' && text[n - 1] == '"')
        *dst = xstrndup(text + 1, n - 2);
    else
        *dst = xstrdup(text);
}

static bool xml_parse_bool(struct xml_ctx *ctx, const char *name, const char *text)
{
    struct strv v = strv_trim(strv_from(text));

    if (strv_eq_nocase(v, "true"))
        return true;
    if (!strv_eq_nocase(v, "false"))
        xml_fail(ctx, "bad <%s> '%.64s' (wanted true or false)", name, text);
    return false;
}

static time_t xml_parse_time_or_fail(struct xml_ctx *ctx, const char *name, const char *text)
{
    time_t t = 0;

    if (!s3_xml_parse_time(text, &t))
        xml_fail(ctx, "bad <%s> '%.64s' (wanted 2006-01-02T15:04:05.000Z)", name, text);
    return t;
}

static void XMLCALL xml_on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
    struct xml_ctx *ctx = data;
    const char *local = strrchr(name, ':');

    (void)attrs;
    if (ctx->is_failed)
        return;
    local = local ? local + 1 : name;
    if (ctx->depth >= XML_MAX_DEPTH) {
        xml_fail(ctx, "elements nested deeper than %d", XML_MAX_DEPTH);
        return;
    }
    ctx->depth++;
    if (strlen(local) < XML_MAX_NAME)
        memcpy(ctx->names[ctx->depth - 1], local, strlen(local) + 1);
    else
        ctx->names[ctx->depth - 1][0] = '\0';
    /* Text seen so far belonged to the parent, which is therefore no leaf. */
    buf_reset(&ctx->text);
    ctx->is_text_cut = false;
    ctx->is_leaf = true;

    if (ctx->depth == 1) {
        /* Checked first, so that s3_xml_parse_error (want_root "Error") collects it too. */
        if (strcmp(local, "Error") == 0)
            ctx->is_error_doc = true;
        else if (strcmp(local, ctx->want_root) != 0 &&
                 !(ctx->alt_root && strcmp(local, ctx->alt_root) == 0))
            xml_fail(ctx, "unexpected root element <%.64s> (wanted <%s>)", local, ctx->want_root);
        return;
    }
    if (!ctx->is_error_doc && ctx->on_start)
        ctx->on_start(ctx);
}

/* Fields of an <Error> document; values are cut to fit, never refused, so an oversized message
 * cannot hide the code. */
static void xml_end_error_field(struct xml_ctx *ctx, const char *text)
{
    struct s3_xml_error *e = &ctx->s3err;

    if (ctx->depth != 2)
        return;
    if (xml_is(ctx, 2, "Code"))
        xml_copy_cut(e->code, sizeof(e->code), text);
    else if (xml_is(ctx, 2, "Message"))
        xml_copy_cut(e->message, sizeof(e->message), text);
    else if (xml_is(ctx, 2, "RequestId"))
        xml_copy_cut(e->request_id, sizeof(e->request_id), text);
    else if (xml_is(ctx, 2, "Resource") || (xml_is(ctx, 2, "Key") && e->resource[0] == '\0'))
        xml_copy_cut(e->resource, sizeof(e->resource), text);
    else if (xml_is(ctx, 2, "Region"))
        xml_copy_cut(e->region, sizeof(e->region), text);
}

static void XMLCALL xml_on_end(void *data, const XML_Char *name)
{
    struct xml_ctx *ctx = data;
    const char *text = ctx->is_leaf ? ctx->text.data : "";

    (void)name;
    if (ctx->is_failed)
        return;
    if (ctx->is_error_doc) {
        xml_end_error_field(ctx, text);
    } else if (ctx->is_leaf && ctx->is_text_cut) {
        xml_fail(ctx, "value of <%s> longer than %u bytes", xml_name(ctx, ctx->depth),
                 (unsigned)S3_XML_MAX_KEY_BYTES);
    } else if (ctx->depth > 1 && ctx->on_end) {
        ctx->on_end(ctx, text);
    }
    buf_reset(&ctx->text);
    ctx->is_text_cut = false;
    ctx->is_leaf = false;
    ctx->depth--;
}

static void XMLCALL xml_on_text(void *data, const XML_Char *s, int len)
{
    struct xml_ctx *ctx = data;
    size_t n = (size_t)len;
    size_t room;

    if (ctx->is_failed || !ctx->is_leaf || len <= 0)
        return;
    room = ctx->text.max_len - ctx->text.len;
    if (n > room) {
        n = room;
        ctx->is_text_cut = true;
    }
    if (n > 0 && !buf_add(&ctx->text, s, n))
        ctx->is_text_cut = true; /* LCOV_EXCL_LINE: n fits by construction */
}

static void XMLCALL xml_on_doctype(void *data, const XML_Char *name, const XML_Char *sysid,
                                   const XML_Char *pubid, int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    xml_fail(data, "DOCTYPE refused (S3 never sends one)");
}

static void XMLCALL xml_on_entity_decl(void *data, const XML_Char *name, int is_param,
                                       const XML_Char *value, int value_len, const XML_Char *base,
                                       const XML_Char *sysid, const XML_Char *pubid,
                                       const XML_Char *notation)
{
    (void)name;
    (void)is_param;
    (void)value;
    (void)value_len;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    xml_fail(data, "entity declaration refused");
}

static void xml_ctx_init(struct xml_ctx *ctx, const char *what, const char *want_root,
                         xml_start_fn *on_start, xml_end_fn *on_end, void *result,
                         struct error *err)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->what = what;
    ctx->want_root = want_root;
    ctx->on_start = on_start;
    ctx->on_end = on_end;
    ctx->result = result;
    ctx->err = err;
    buf_init(&ctx->text, S3_XML_MAX_KEY_BYTES);
}

static void xml_ctx_release(struct xml_ctx *ctx)
{
    if (ctx->parser)
        XML_ParserFree(ctx->parser);
    ctx->parser = NULL;
    buf_release(&ctx->text);
}

/* Sets err from an <Error> document: "what: S3 error Code: Message (request id X)". */
static int xml_error_doc_fail(const struct xml_ctx *ctx)
{
    const struct s3_xml_error *e = &ctx->s3err;

    return error_set(ctx->err, ERR_REMOTE, "%s: S3 error %s%s%s%s%s%s", ctx->what,
                     e->code[0] ? e->code : "(no code)", e->message[0] ? ": " : "", e->message,
                     e->request_id[0] ? " (request id " : "", e->request_id,
                     e->request_id[0] ? ")" : "");
}

/* Parses the whole body. Returns 0 on a well-formed body (ctx->is_error_doc tells which root it
 * had), or -1 with err set. */
static int xml_ctx_run(struct xml_ctx *ctx, const char *body, size_t len)
{
    enum XML_Status status;

    if (len > S3_XML_MAX_BODY)
        return error_set(ctx->err, ERR_REMOTE, "%s: body of %zu bytes is over the %u byte cap",
                         ctx->what, len, (unsigned)S3_XML_MAX_BODY);
    while (len > 0 && (*body == ' ' || *body == '\t' || *body == '\r' || *body == '\n')) {
        body++;
        len--;
    }
    if (len == 0)
        return error_set(ctx->err, ERR_REMOTE, "%s: empty body", ctx->what);

    ctx->parser = XML_ParserCreate(NULL);
    if (!ctx->parser)
        error_assert_fail(__FILE__, __LINE__, "XML_ParserCreate: out of memory");
    XML_SetUserData(ctx->parser, ctx);
    XML_SetElementHandler(ctx->parser, xml_on_start, xml_on_end);
    XML_SetCharacterDataHandler(ctx->parser, xml_on_text);
    XML_SetStartDoctypeDeclHandler(ctx->parser, xml_on_doctype);
    XML_SetEntityDeclHandler(ctx->parser, xml_on_entity_decl);
    XML_SetParamEntityParsing(ctx->parser, XML_PARAM_ENTITY_PARSING_NEVER);

    status = XML_Parse(ctx->parser, body, (int)len, XML_TRUE);
    if (ctx->is_failed)
        return -1;
    if (status != XML_STATUS_OK) {
        enum XML_Error code = XML_GetErrorCode(ctx->parser);
        return error_set(ctx->err, ERR_REMOTE, "%s: malformed XML at line %lu column %lu: %s",
                         ctx->what, (unsigned long)XML_GetCurrentLineNumber(ctx->parser),
                         (unsigned long)XML_GetCurrentColumnNumber(ctx->parser) + 1,
                         XML_ErrorString(code));
    }
    return 0;
}

/* Runs a parser whose success body has no fields besides what on_end collects; an <Error> body
 * becomes ERR_REMOTE with *s3err filled (s3err may be NULL). */
static int xml_run_expecting(struct xml_ctx *ctx, const char *body, size_t len,
                             struct s3_xml_error *s3err)
{
    if (xml_ctx_run(ctx, body, len) < 0)
        return -1;
    if (ctx->is_error_doc) {
        if (s3err)
            *s3err = ctx->s3err;
        return xml_error_doc_fail(ctx);
    }
    return 0;
}

int s3_xml_parse_error(const char *body, size_t len, struct s3_xml_error *out, struct error *err)
{
    struct xml_ctx ctx;
    int rc = -1;

    xml_ctx_init(&ctx, "S3 error body", "Error", NULL, NULL, NULL, err);
    if (xml_ctx_run(&ctx, body, len) < 0)
        goto out;
    ASSERT(ctx.is_error_doc); /* any other root failed in xml_on_start */
    *out = ctx.s3err;
    rc = 0;
out:
    xml_ctx_release(&ctx);
    return rc;
}

/* ---- ListObjectsV2 ---- */

static void list_on_start(struct xml_ctx *ctx)
{
    struct s3_xml_list *l = ctx->result;

    if (ctx->depth == 2 && xml_is(ctx, 2, "Contents")) {
        l->objects = xreallocarray(l->objects, l->object_count + 1, sizeof(*l->objects));
        memset(&l->objects[l->object_count], 0, sizeof(*l->objects));
        l->object_count++;
    }
}

static void list_end_object(struct xml_ctx *ctx, struct s3_xml_object *o, const char *text)
{
    const char *name = xml_name(ctx, 3);

    if (strcmp(name, "Key") == 0) {
        xml_set_str(&o->key, text);
    } else if (strcmp(name, "Size") == 0) {
        if (!strv_to_u64(strv_trim(strv_from(text)), &o->size_bytes))
            xml_fail(ctx, "bad <Size> '%.64s'", text);
    } else if (strcmp(name, "LastModified") == 0) {
        o->last_modified = xml_parse_time_or_fail(ctx, name, text);
    } else if (strcmp(name, "ETag") == 0) {
        xml_set_etag(&o->etag, text);
    } else if (strcmp(name, "StorageClass") == 0) {
        xml_set_str(&o->storage_class, text);
    }
}

static void list_on_end(struct xml_ctx *ctx, const char *text)
{
    struct s3_xml_list *l = ctx->result;

    if (ctx->depth == 2) {
        const char *name = xml_name(ctx, 2);
        if (strcmp(name, "IsTruncated") == 0)
            l->is_truncated = xml_parse_bool(ctx, name, text);
        else if (strcmp(name, "NextContinuationToken") == 0)
            xml_set_marker(&l->next_continuation_token, text);
        else if (strcmp(name, "NextMarker") == 0)
            xml_set_marker(&l->next_marker, text);
        else if (strcmp(name, "KeyCount") == 0)
            xml_set_str(&l->key_count_text, text);
        else if (strcmp(name, "EncodingType") == 0)
            l->is_url_encoded = strcasecmp(text, "url") == 0;
        else if (strcmp(name, "Contents") == 0 && !l->objects[l->object_count - 1].key)
            xml_fail(ctx, "<Contents> number %zu has no <Key>", l->object_count);
    } else if (ctx->depth == 3 && xml_is(ctx, 2, "Contents")) {
        list_end_object(ctx, &l->objects[l->object_count - 1], text);
    } else if (ctx->depth == 3 && xml_is(ctx, 2, "CommonPrefixes") && xml_is(ctx, 3, "Prefix")) {
        l->common_prefixes = xreallocarray(l->common_prefixes, l->common_prefix_count + 1,
                                           sizeof(*l->common_prefixes));
        l->common_prefixes[l->common_prefix_count++] = xstrdup(text);
    }
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Undoes encoding-type=url in place, as the AWS SDKs do ('+' is a space, %XX a byte). A NUL or a
 * malformed escape fails. */
static bool list_url_decode(char *s)
{
    char *w = s;

    for (const char *r = s; *r; r++) {
        if (*r == '+') {
            *w++ = ' ';
        } else if (*r == '%') {
            int hi = hex_val(r[1]);
            int lo = hi < 0 ? -1 : hex_val(r[2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return false;
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return true;
}

int s3_xml_parse_list(const char *body, size_t len, struct s3_xml_list *out, struct error *err)
{
    struct s3_xml_list l;
    struct xml_ctx ctx;
    int rc = -1;

    memset(&l, 0, sizeof(l));
    xml_ctx_init(&ctx, "ListObjectsV2 response", "ListBucketResult", list_on_start, list_on_end, &l,
                 err);
    if (xml_run_expecting(&ctx, body, len, NULL) < 0)
        goto out;
    for (size_t i = 0; l.is_url_encoded && i < l.object_count; i++) {
        if (!list_url_decode(l.objects[i].key)) {
            error_set(err, ERR_REMOTE, "ListObjectsV2 response: bad URL encoding in <Key> '%.64s'",
                      l.objects[i].key);
            goto out;
        }
    }
    for (size_t i = 0; l.is_url_encoded && i < l.common_prefix_count; i++) {
        if (!list_url_decode(l.common_prefixes[i])) {
            error_set(err, ERR_REMOTE,
                      "ListObjectsV2 response: bad URL encoding in <Prefix> '%.64s'",
                      l.common_prefixes[i]);
            goto out;
        }
    }
    *out = l;
    memset(&l, 0, sizeof(l));
    rc = 0;
out:
    xml_ctx_release(&ctx);
    s3_xml_list_release(&l);
    return rc;
}

void s3_xml_list_release(struct s3_xml_list *l)
{
    for (size_t i = 0; i < l->object_count; i++) {
        xfree(l->objects[i].key);
        xfree(l->objects[i].etag);
        xfree(l->objects[i].storage_class);
    }
    xfree(l->objects);
    for (size_t i = 0; i < l->common_prefix_count; i++)
        xfree(l->common_prefixes[i]);
    xfree(l->common_prefixes);
    xfree(l->next_continuation_token);
    xfree(l->next_marker);
    xfree(l->key_count_text);
    memset(l, 0, sizeof(*l));
}

/* ---- Single-value results: Initiate, Complete, Copy ---- */

/* Collects the depth-2 element named `field` into `value`. */
struct xml_one {
    const char *field;
    bool is_etag;
    char *value;
};

static void one_on_end(struct xml_ctx *ctx, const char *text)
{
    struct xml_one *one = ctx->result;

    if (ctx->depth != 2 || !xml_is(ctx, 2, one->field))
        return;
    if (one->is_etag)
        xml_set_etag(&one->value, text);
    else
        xml_set_str(&one->value, text);
}

/* Parses a body with the given root (or alt_root) and returns its one field in *value (xfree). */
static int xml_parse_one(const char *what, const char *root, const char *alt_root,
                         const char *field, bool is_etag, bool is_optional, const char *body,
                         size_t len, char **value, struct s3_xml_error *s3err, struct error *err)
{
    struct xml_one one = {field, is_etag, NULL};
    struct xml_ctx ctx;
    int rc = -1;

    *value = NULL;
    xml_ctx_init(&ctx, what, root, NULL, one_on_end, &one, err);
    ctx.alt_root = alt_root;
    if (xml_run_expecting(&ctx, body, len, s3err) < 0)
        goto out;
    if ((!one.value || !one.value[0]) && !is_optional) {
        error_set(err, ERR_REMOTE, "%s: no <%s> in <%s>", what, field, xml_name(&ctx, 1));
        goto out;
    }
    if (one.value && one.value[0]) {
        *value = one.value;
        one.value = NULL;
    }
    rc = 0;
out:
    xfree(one.value);
    xml_ctx_release(&ctx);
    return rc;
}

int s3_xml_parse_initiate(const char *body, size_t len, char **upload_id, struct error *err)
{
    return xml_parse_one("InitiateMultipartUpload response", "InitiateMultipartUploadResult", NULL,
                         "UploadId", false, false, body, len, upload_id, NULL, err);
}

int s3_xml_parse_complete(const char *body, size_t len, char **etag, struct s3_xml_error *s3err,
                          struct error *err)
{
    /* radosgw (Ceph 16) answers a successful completion with an empty <ETag></ETag>: the root
     * element, not the ETag, says the upload is complete. */
    return xml_parse_one("CompleteMultipartUpload response", "CompleteMultipartUploadResult", NULL,
                         "ETag", true, true, body, len, etag, s3err, err);
}

int s3_xml_parse_copy(const char *body, size_t len, char **etag, struct s3_xml_error *s3err,
                      struct error *err)
{
    return xml_parse_one("CopyObject response", "CopyObjectResult", "CopyPartResult", "ETag", true,
                         false, body, len, etag, s3err, err);
}

/* ---- ListMultipartUploads ---- */

static void uploads_on_start(struct xml_ctx *ctx)
{
    struct s3_xml_uploads *u = ctx->result;

    if (ctx->depth == 2 && xml_is(ctx, 2, "Upload")) {
        u->uploads = xreallocarray(u->uploads, u->upload_count + 1, sizeof(*u->uploads));
        memset(&u->uploads[u->upload_count], 0, sizeof(*u->uploads));
        u->upload_count++;
    }
}

static void uploads_on_end(struct xml_ctx *ctx, const char *text)
{
    struct s3_xml_uploads *u = ctx->result;

    if (ctx->depth == 2) {
        const char *name = xml_name(ctx, 2);
        if (strcmp(name, "IsTruncated") == 0) {
            u->is_truncated = xml_parse_bool(ctx, name, text);
        } else if (strcmp(name, "NextKeyMarker") == 0) {
            xml_set_marker(&u->next_key_marker, text);
        } else if (strcmp(name, "NextUploadIdMarker") == 0) {
            xml_set_marker(&u->next_upload_id_marker, text);
        } else if (strcmp(name, "Upload") == 0) {
            const struct s3_xml_upload *up = &u->uploads[u->upload_count - 1];
            if (!up->key || !up->upload_id || !up->upload_id[0])
                xml_fail(ctx, "<Upload> number %zu lacks <Key> or <UploadId>", u->upload_count);
        }
    } else if (ctx->depth == 3 && xml_is(ctx, 2, "Upload")) {
        struct s3_xml_upload *up = &u->uploads[u->upload_count - 1];
        const char *name = xml_name(ctx, 3);
        if (strcmp(name, "Key") == 0)
            xml_set_str(&up->key, text);
        else if (strcmp(name, "UploadId") == 0)
            xml_set_str(&up->upload_id, text);
        else if (strcmp(name, "Initiated") == 0)
            up->initiated = xml_parse_time_or_fail(ctx, name, text);
    }
}

int s3_xml_parse_uploads(const char *body, size_t len, struct s3_xml_uploads *out,
                         struct error *err)
{
    struct s3_xml_uploads u;
    struct xml_ctx ctx;
    int rc = -1;

    memset(&u, 0, sizeof(u));
    xml_ctx_init(&ctx, "ListMultipartUploads response", "ListMultipartUploadsResult",
                 uploads_on_start, uploads_on_end, &u, err);
    if (xml_run_expecting(&ctx, body, len, NULL) < 0)
        goto out;
    *out = u;
    memset(&u, 0, sizeof(u));
    rc = 0;
out:
    xml_ctx_release(&ctx);
    s3_xml_uploads_release(&u);
    return rc;
}

void s3_xml_uploads_release(struct s3_xml_uploads *u)
{
    for (size_t i = 0; i < u->upload_count; i++) {
        xfree(u->uploads[i].key);
        xfree(u->uploads[i].upload_id);
    }
    xfree(u->uploads);
    xfree(u->next_key_marker);
    xfree(u->next_upload_id_marker);
    memset(u, 0, sizeof(*u));
}

/* ---- GetObjectAcl ---- */

struct acl_state {
    bool is_public_read;
    bool grant_all_users; /* the current <Grant>'s grantee is the AllUsers group */
    bool grant_read;      /* and its permission lets anyone read */
};

static void acl_on_start(struct xml_ctx *ctx)
{
    struct acl_state *a = ctx->result;

    if (ctx->depth == 3 && xml_is(ctx, 2, "AccessControlList") && xml_is(ctx, 3, "Grant")) {
        a->grant_all_users = false;
        a->grant_read = false;
    }
}

static void acl_on_end(struct xml_ctx *ctx, const char *text)
{
    struct acl_state *a = ctx->result;

    if (ctx->depth < 3 || !xml_is(ctx, 2, "AccessControlList") || !xml_is(ctx, 3, "Grant"))
        return;
    if (ctx->depth == 5 && xml_is(ctx, 4, "Grantee") && xml_is(ctx, 5, "URI"))
        a->grant_all_users = strcmp(text, "http://acs.amazonaws.com/groups/global/AllUsers") == 0;
    else if (ctx->depth == 4 && xml_is(ctx, 4, "Permission"))
        a->grant_read = strcmp(text, "READ") == 0 || strcmp(text, "FULL_CONTROL") == 0;
    else if (ctx->depth == 3 && a->grant_all_users && a->grant_read)
        a->is_public_read = true;
}

int s3_xml_parse_acl(const char *body, size_t len, bool *is_public_read, struct error *err)
{
    struct acl_state a;
    struct xml_ctx ctx;
    int rc = -1;

    memset(&a, 0, sizeof(a));
    xml_ctx_init(&ctx, "GetObjectAcl response", "AccessControlPolicy", acl_on_start, acl_on_end, &a,
                 err);
    if (xml_run_expecting(&ctx, body, len, NULL) < 0)
        goto out;
    *is_public_read = a.is_public_read;
    rc = 0;
out:
    xml_ctx_release(&ctx);
    return rc;
}

/* ---- DeleteObjects ---- */

static void delete_on_start(struct xml_ctx *ctx)
{
    struct s3_xml_delete_result *r = ctx->result;

    if (ctx->depth == 2 && xml_is(ctx, 2, "Error")) {
        r->failures = xreallocarray(r->failures, r->failure_count + 1, sizeof(*r->failures));
        memset(&r->failures[r->failure_count], 0, sizeof(*r->failures));
        r->failure_count++;
    }
}

/* A failure always has a key (empty when the server left it out), so callers can print it. */
static void delete_on_end(struct xml_ctx *ctx, const char *text)
{
    struct s3_xml_delete_result *r = ctx->result;

    if (ctx->depth == 2 && xml_is(ctx, 2, "Deleted")) {
        r->deleted_count++;
    } else if (ctx->depth == 2 && xml_is(ctx, 2, "Error")) {
        struct s3_xml_delete_failure *f = &r->failures[r->failure_count - 1];
        if (!f->key)
            f->key = xstrdup("");
    } else if (ctx->depth == 3 && xml_is(ctx, 2, "Error")) {
        struct s3_xml_delete_failure *f = &r->failures[r->failure_count - 1];
        if (xml_is(ctx, 3, "Key"))
            xml_set_str(&f->key, text);
        else if (xml_is(ctx, 3, "Code"))
            xml_copy_cut(f->code, sizeof(f->code), text);
        else if (xml_is(ctx, 3, "Message"))
            xml_copy_cut(f->message, sizeof(f->message), text);
    }
}

int s3_xml_parse_delete(const char *body, size_t len, struct s3_xml_delete_result *out,
                        struct error *err)
{
    struct s3_xml_delete_result r;
    struct xml_ctx ctx;
    int rc = -1;

    memset(&r, 0, sizeof(r));
    xml_ctx_init(&ctx, "DeleteObjects response", "DeleteResult", delete_on_start, delete_on_end, &r,
                 err);
    if (xml_run_expecting(&ctx, body, len, NULL) < 0)
        goto out;
    *out = r;
    memset(&r, 0, sizeof(r));
    rc = 0;
out:
    xml_ctx_release(&ctx);
    s3_xml_delete_result_release(&r);
    return rc;
}

void s3_xml_delete_result_release(struct s3_xml_delete_result *r)
{
    for (size_t i = 0; i < r->failure_count; i++)
        xfree(r->failures[i].key);
    xfree(r->failures);
    memset(r, 0, sizeof(*r));
}

/* ---- Request bodies ---- */

/* Length of the UTF-8 sequence at s (at most n bytes) when it encodes a character XML 1.0 allows
 * (tab, LF, CR, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF), else 0. */
static size_t xml_char_len(const unsigned char *s, size_t n)
{
    uint32_t cp;
    size_t need;

    if (s[0] < 0x80) {
        if (s[0] < 0x20 && s[0] != '\t' && s[0] != '\n' && s[0] != '\r')
            return 0;
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        need = 2;
        cp = s[0] & 0x1Fu;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        need = 3;
        cp = s[0] & 0x0Fu;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        need = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    /* Overlong forms, surrogates, the two non-characters XML excludes, and past U+10FFFF. */
    if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    return need;
}

/* Appends text XML-escaped. Tab, LF and CR become character references, since a parser would
 * turn a raw CR into LF. Returns false when text holds a character XML cannot carry. */
static bool xml_add_escaped(struct buf *out, const char *text, bool *is_full)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text);

    while (n > 0) {
        size_t clen = xml_char_len(s, n);
        const char *rep = NULL;
        bool ok;
        if (clen == 0)
            return false;
        switch (s[0]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '\t':
            rep = "&#9;";
            break;
        case '\n':
            rep = "&#10;";
            break;
        case '\r':
            rep = "&#13;";
            break;
        default:
            break;
        }
        ok = rep ? buf_adds(out, rep) : buf_add(out, s, clen);
        if (!ok) {
            *is_full = true;
            return false;
        }
        s += clen;
        n -= clen;
    }
    return true;
}

/* Undoes a partial append to out (the contract: on failure out is as it was). */
static void xml_write_undo(struct buf *out, size_t start)
{
    if (out->alloc > 0) {
        out->len = start;
        out->data[start] = '\0';
    }
}

static int xml_write_full(struct error *err, const struct buf *out)
{
    return error_set(err, ERR_USAGE, "S3 request body would exceed its cap of %zu bytes",
                     out->max_len);
}

int s3_xml_write_complete(struct buf *out, const struct s3_xml_part *parts, size_t part_count,
                          struct error *err)
{
    size_t start = out->len;
    char *bare = NULL;
    bool is_full = false;
    int rc = -1;

    if (part_count == 0 || part_count > XML_MAX_PART) {
        error_set(err, ERR_USAGE, "CompleteMultipartUpload with %zu parts (allowed 1 to %d)",
                  part_count, XML_MAX_PART);
        goto out;
    }
    if (!buf_adds(out, "<CompleteMultipartUpload xmlns=\"" XML_S3_NAMESPACE "\">")) {
        is_full = true;
        goto out;
    }
    for (size_t i = 0; i < part_count; i++) {
        const char *etag = parts[i].etag ? parts[i].etag : "";
        size_t etag_len = strlen(etag);

        /* S3 answers InvalidPartOrder otherwise; catching it here names the bug. */
        if (parts[i].part_number < 1 || parts[i].part_number > XML_MAX_PART ||
            (i > 0 && parts[i].part_number <= parts[i - 1].part_number)) {
            error_set(err, ERR_USAGE,
                      "CompleteMultipartUpload: part number %d out of range or order",
                      parts[i].part_number);
            goto out;
        }
        if (etag_len >= 2 && etag[0] == '"' && etag[etag_len - 1] == '"')
            bare = xstrndup(etag + 1, etag_len - 2);
        else
            bare = xstrdup(etag);
        if (!bare[0] || strlen(bare) > S3_XML_MAX_KEY_BYTES) {
            error_set(err, ERR_USAGE, "CompleteMultipartUpload: part %d has %s",
                      parts[i].part_number, bare[0] ? "an ETag too long" : "no ETag");
            goto out;
        }
        if (!buf_addf(out, "<Part><PartNumber>%d</PartNumber><ETag>\"", parts[i].part_number)) {
            is_full = true;
            goto out;
        }
        if (!xml_add_escaped(out, bare, &is_full)) {
            if (!is_full)
                error_set(err, ERR_USAGE,
                          "CompleteMultipartUpload: the ETag of part %d has a character XML "
                          "cannot carry",
                          parts[i].part_number);
            goto out;
        }
        if (!buf_adds(out, "\"</ETag></Part>")) {
            is_full = true;
            goto out;
        }
        xfree(bare);
        bare = NULL;
    }
    if (!buf_adds(out, "</CompleteMultipartUpload>")) {
        is_full = true;
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        xml_write_undo(out, start);
        if (is_full)
            xml_write_full(err, out);
    }
    xfree(bare);
    return rc;
}

int s3_xml_write_delete(struct buf *out, const char *const *keys, size_t key_count,
                        struct error *err)
{
    size_t start = out->len;
    bool is_full = false;
    int rc = -1;

    if (key_count == 0 || key_count > XML_MAX_DELETE) {
        error_set(err, ERR_USAGE, "DeleteObjects with %zu keys (allowed 1 to %d)", key_count,
                  XML_MAX_DELETE);
        goto out;
    }
    if (!buf_adds(out, "<Delete xmlns=\"" XML_S3_NAMESPACE "\"><Quiet>true</Quiet>")) {
        is_full = true;
        goto out;
    }
    for (size_t i = 0; i < key_count; i++) {
        size_t key_len = keys[i] ? strlen(keys[i]) : 0;
        if (key_len == 0 || key_len > S3_XML_MAX_KEY_BYTES) {
            error_set(err, ERR_USAGE, "DeleteObjects: key number %zu is %s", i + 1,
                      key_len ? "too long" : "empty");
            goto out;
        }
        if (!buf_adds(out, "<Object><Key>")) {
            is_full = true;
            goto out;
        }
        if (!xml_add_escaped(out, keys[i], &is_full)) {
            /* The key may be binary junk: name it by number only. */
            if (!is_full)
                error_set(err, ERR_USAGE,
                          "DeleteObjects: key number %zu has a character XML cannot carry "
                          "(a control character or invalid UTF-8)",
                          i + 1);
            goto out;
        }
        if (!buf_adds(out, "</Key></Object>")) {
            is_full = true;
            goto out;
        }
    }
    if (!buf_adds(out, "</Delete>")) {
        is_full = true;
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        xml_write_undo(out, start);
        if (is_full)
            xml_write_full(err, out);
    }
    return rc;
}

/* ---- Time and version ---- */

/* Reads exactly n digits at *p and advances; false when any is not a digit. */
static bool xml_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool xml_expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

bool s3_xml_parse_time(const char *text, time_t *out)
{
    const char *p = text;
    int year, month, day, hour, minute, second;
    struct tm tm;
    struct tm back;
    time_t t;

    if (!xml_digits(&p, 4, &year) || !xml_expect(&p, '-') || !xml_digits(&p, 2, &month) ||
        !xml_expect(&p, '-') || !xml_digits(&p, 2, &day) || !xml_expect(&p, 'T') ||
        !xml_digits(&p, 2, &hour) || !xml_expect(&p, ':') || !xml_digits(&p, 2, &minute) ||
        !xml_expect(&p, ':') || !xml_digits(&p, 2, &second))
        return false;
    if (*p == '.') {
        size_t n;
        p++;
        n = strspn(p, "0123456789");
        if (n == 0 || n > 9)
            return false;
        p += n; /* S3 times are second-granular in practice: the fraction is dropped */
    }
    if (!xml_expect(&p, 'Z') || *p != '\0')
        return false;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
        return false;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    t = timegm(&tm);
    /* timegm normalises 2026-02-30 to March 2: a date that does not come back is not a date. */
    if (!gmtime_r(&t, &back) || back.tm_year != year - 1900 || back.tm_mon != month - 1 ||
        back.tm_mday != day)
        return false;
    *out = t;
    return true;
}

const char *s3_xml_version(void)
{
    return XML_ExpatVersion();
}
