/* The store interface over S3. Writes are buffered into parts: an artifact smaller than one part is
 * a single PutObject; a larger one becomes a multipart upload with up to `concurrency` parts in
 * flight at once, so memory stays at (concurrency + 1) x part size. The part size doubles every
 * 1000 parts, so the 10,000-part limit covers any artifact without knowing its size in advance
 * (16 MiB parts: 16 GiB at 1000 parts, 48 GiB at 2000, ...). Nothing is visible under the key
 * until CompleteMultipartUpload succeeds; any failure aborts the upload. */
#include "stores/s3_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/digest.h"
#include "stores/s3_client.h"
#include "stores/s3_xml.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/log.h"
#include "util/xalloc.h"

#define S3_PART_SIZE_DEFAULT   (16u << 20)
#define S3_PART_SIZE_MIN       (5u << 20)
#define S3_CONCURRENCY_DEFAULT 4
#define S3_MAX_PARTS           10000
#define S3_PARTS_PER_DOUBLING  1000
#define S3_DELETE_BATCH        1000
#define S3_COPY_SINGLE_MAX     (5ull << 30) /* CopyObject's limit */
#define S3_COPY_PART_BYTES     (1ull << 30) /* UploadPartCopy ranges above that */
#define S3_MAX_UPLOADS_LISTED  100000       /* unfinished uploads looked at per listing */

struct s3_store {
    struct store base; /* first, so a struct store * converts back */
    struct s3_client *client;
    char *prefix; /* "" or "some/prefix/" */
    uint64_t part_size;
    int concurrency;
};

struct s3_done_part {
    int number;
    char *etag;
};

struct s3_slot {
    struct s3_writer *w;
    struct s3_call call;
    char *data;
    size_t len;
    int number;
    bool is_busy;    /* holds a part not yet acknowledged */
    bool is_waiting; /* busy, and waiting until retry_at_ms to be sent again */
    int64_t retry_at_ms;
    char query[512];
    char md5_line[64];
    char sha_hex[65];
    const char *headers[1];
};

struct s3_writer {
    struct store_writer base;
    struct s3_store *s3; /* borrowed: a store outlives its writers */
    char *key;           /* the full object key */
    char *upload_id;     /* NULL until the first part is sent */
    struct s3_slot *slots;
    size_t slot_count;
    char *cur; /* the part being filled */
    size_t cur_len;
    size_t cur_cap;
    int next_number;
    struct s3_done_part *done;
    size_t done_count;
    bool has_failed;
    struct error failure;
};

struct s3_reader {
    struct store_reader base;
    struct s3_store *s3;
    struct s3_call call;
    char *key; /* the full key, which call.key borrows */
};

static const struct store_ops s3_store_ops;
static const struct store_writer_ops s3_writer_ops;
static const struct store_reader_ops s3_reader_ops;

static struct s3_store *s3_store_of(struct store *s)
{
    ASSERT(s->ops == &s3_store_ops);
    return (struct s3_store *)s;
}

static int64_t s3_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *s3_full_key(const struct s3_store *s3, const char *key)
{
    return xasprintf("%s%s", s3->prefix, key);
}

static char *s3_query_value(const char *v)
{
    struct buf b;

    buf_init(&b, BUF_NO_CAP);
    s3_encode(&b, v, false);
    return buf_detach(&b, NULL);
}

/* ---- writer ---- */

static void s3_md5_header(const void *data, size_t len, char *line, size_t cap)
{
    unsigned char md5[DIGEST_MD5_LEN];
    char b64[32];

    digest_md5(data, len, md5);
    digest_base64(md5, sizeof(md5), b64);
    snprintf(line, cap, "Content-MD5: %s", b64);
}

static size_t s3_part_size_for(const struct s3_writer *w, int number)
{
    uint64_t size = w->s3->part_size;

    for (int n = number - 1; n >= S3_PARTS_PER_DOUBLING; n -= S3_PARTS_PER_DOUBLING)
        size *= 2;
    if (size > (5ull << 30))
        size = 5ull << 30;
    return (size_t)size;
}

static int s3_writer_fail(struct s3_writer *w, const struct error *e)
{
    if (!w->has_failed) {
        w->has_failed = true;
        w->failure = *e;
    }
    return -1;
}

static int s3_writer_initiate(struct s3_writer *w, struct error *err)
{
    struct s3_call call;
    int rc = -1;

    s3_call_init(&call);
    call.method = "POST";
    call.key = w->key;
    call.query = "uploads";
    if (s3_call_run(w->s3->client, &call, err) < 0)
        goto out;
    if (s3_xml_parse_initiate(call.req.body.data, call.req.body.len, &w->upload_id, err) < 0) {
        error_wrap(err, "s3 POST '%s' (start multipart upload)", w->key);
        goto out;
    }
    rc = 0;
out:
    s3_call_release(&call);
    return rc;
}

static int s3_slot_send(struct s3_slot *slot, struct error *err)
{
    struct s3_writer *w = slot->w;

    slot->is_waiting = false;
    slot->call.req.user = slot;
    return s3_call_start(w->s3->client, &slot->call, err);
}

static void s3_writer_record(struct s3_writer *w, int number, const char *etag)
{
    w->done = xreallocarray(w->done, w->done_count + 1, sizeof(*w->done));
    w->done[w->done_count].number = number;
    w->done[w->done_count].etag = xstrdup(etag);
    w->done_count++;
}

/* Handles one finished part request. */
static int s3_writer_finished(struct s3_writer *w, struct s3_slot *slot, struct error *err)
{
    long retry_in_ms = 0;
    char etag[256];
    int r = s3_call_finish(w->s3->client, &slot->call, &retry_in_ms, err);

    if (r < 0) {
        error_wrap(err, "part %d", slot->number);
        return s3_writer_fail(w, err);
    }
    if (r == 1) {
        slot->is_waiting = true;
        slot->retry_at_ms = s3_now_ms() + retry_in_ms;
        return 0;
    }
    if (!s3_call_header(&slot->call, "ETag", etag, sizeof(etag)) || !etag[0]) {
        error_set(err, ERR_REMOTE, "s3 PUT '%s' part %d: the answer has no ETag", w->key,
                  slot->number);
        return s3_writer_fail(w, err);
    }
    s3_writer_record(w, slot->number, etag);
    slot->is_busy = false;
    xfree(slot->data);
    slot->data = NULL;
    return 0;
}

/* Waits until at least one part request ends (or a retry falls due) and handles it. */
static int s3_writer_pump(struct s3_writer *w, struct error *err)
{
    struct http_client *http = s3_client_http(w->s3->client);
    struct http_request *done = NULL;
    int64_t now = s3_now_ms();
    int64_t next_retry = INT64_MAX;

    for (size_t i = 0; i < w->slot_count; i++) {
        struct s3_slot *slot = &w->slots[i];
        if (!slot->is_waiting)
            continue;
        if (slot->retry_at_ms <= now) {
            if (s3_slot_send(slot, err) < 0)
                return s3_writer_fail(w, err);
        } else if (slot->retry_at_ms < next_retry) {
            next_retry = slot->retry_at_ms;
        }
    }
    if (http_in_flight(http) == 0) {
        if (next_retry == INT64_MAX)
            return 0;
        while (s3_now_ms() < next_retry && !cancel_requested()) {
            struct timespec ts = {0, 20 * 1000000L};
            (void)nanosleep(&ts, NULL);
        }
        if (cancel_requested())
            return error_set(err, ERR_CANCELLED, "cancelled");
        return 0;
    }
    if (http_wait(http, next_retry == INT64_MAX ? -1 : (long)(next_retry - now), &done, err) < 0)
        return s3_writer_fail(w, err);
    if (done)
        return s3_writer_finished(w, done->user, err);
    return 0;
}

static bool s3_writer_busy(const struct s3_writer *w)
{
    for (size_t i = 0; i < w->slot_count; i++)
        if (w->slots[i].is_busy)
            return true;
    return false;
}

/* Hands the filled part to a free slot (waiting for one) and starts its upload. */
static int s3_writer_send_part(struct s3_writer *w, struct error *err)
{
    struct s3_slot *slot = NULL;
    char *upload_id_q;

    if (!w->upload_id && s3_writer_initiate(w, err) < 0)
        return s3_writer_fail(w, err);
    if (w->next_number > S3_MAX_PARTS) {
        error_set(err, ERR_IO, "s3 PUT '%s': more than %d parts", w->key, S3_MAX_PARTS);
        return s3_writer_fail(w, err);
    }
    for (;;) {
        for (size_t i = 0; i < w->slot_count && !slot; i++)
            if (!w->slots[i].is_busy)
                slot = &w->slots[i];
        if (slot)
            break;
        if (s3_writer_pump(w, err) < 0)
            return -1;
    }
    s3_call_release(&slot->call);
    s3_call_init(&slot->call);
    slot->data = w->cur;
    slot->len = w->cur_len;
    slot->number = w->next_number++;
    slot->is_busy = true;
    w->cur = NULL;
    w->cur_len = 0;
    w->cur_cap = 0;
    upload_id_q = s3_query_value(w->upload_id);
    snprintf(slot->query, sizeof(slot->query), "partNumber=%d&uploadId=%s", slot->number,
             upload_id_q);
    xfree(upload_id_q);
    s3_md5_header(slot->data, slot->len, slot->md5_line, sizeof(slot->md5_line));
    {
        unsigned char h[DIGEST_SHA256_LEN];
        digest_sha256(slot->data, slot->len, h);
        digest_hex(h, sizeof(h), slot->sha_hex);
    }
    slot->headers[0] = slot->md5_line;
    slot->call.method = "PUT";
    slot->call.key = w->key;
    slot->call.query = slot->query;
    slot->call.headers = slot->headers;
    slot->call.header_count = 1;
    slot->call.body = slot->data;
    slot->call.body_len = slot->len;
    slot->call.payload_hash = slot->sha_hex;
    if (s3_slot_send(slot, err) < 0)
        return s3_writer_fail(w, err);
    return 0;
}

static int s3_writer_write(struct store_writer *base, const void *data, size_t len,
                           struct error *err)
{
    struct s3_writer *w = (struct s3_writer *)base;
    const char *p = data;

    if (w->has_failed) {
        *err = w->failure;
        return -1;
    }
    while (len > 0) {
        size_t room;
        if (!w->cur) {
            w->cur_cap = s3_part_size_for(w, w->next_number);
            w->cur = xmalloc(w->cur_cap);
            w->cur_len = 0;
        }
        room = w->cur_cap - w->cur_len;
        if (room > len)
            room = len;
        memcpy(w->cur + w->cur_len, p, room);
        w->cur_len += room;
        p += room;
        len -= room;
        if (w->cur_len == w->cur_cap && s3_writer_send_part(w, err) < 0)
            return -1;
    }
    return 0;
}

static void s3_writer_free(struct s3_writer *w)
{
    struct http_client *http = s3_client_http(w->s3->client);

    for (size_t i = 0; i < w->slot_count; i++) {
        http_cancel(http, &w->slots[i].call.req);
        s3_call_release(&w->slots[i].call);
        xfree(w->slots[i].data);
    }
    for (size_t i = 0; i < w->done_count; i++)
        xfree(w->done[i].etag);
    xfree(w->done);
    xfree(w->slots);
    xfree(w->cur);
    xfree(w->key);
    xfree(w->upload_id);
    xfree(w);
}

static void s3_abort_upload(struct s3_store *s3, const char *key, const char *upload_id)
{
    struct s3_call call;
    struct error err = ERROR_INIT;
    char *id_q = s3_query_value(upload_id);
    char *query = xasprintf("uploadId=%s", id_q);

    s3_call_init(&call);
    call.method = "DELETE";
    call.key = key;
    call.query = query;
    call.is_404_ok = true; /* already gone */
    if (s3_call_run(s3->client, &call, &err) < 0)
        log_warn("store '%s': abort the upload of '%s': %s", s3->base.name, key, err.msg);
    s3_call_release(&call);
    xfree(query);
    xfree(id_q);
}

static void s3_writer_abort(struct store_writer *base)
{
    struct s3_writer *w = (struct s3_writer *)base;
    struct http_client *http = s3_client_http(w->s3->client);

    for (size_t i = 0; i < w->slot_count; i++)
        http_cancel(http, &w->slots[i].call.req);
    if (w->upload_id)
        s3_abort_upload(w->s3, w->key, w->upload_id);
    s3_writer_free(w);
}

static int s3_done_part_cmp(const void *a, const void *b)
{
    const struct s3_done_part *x = a;
    const struct s3_done_part *y = b;

    return (x->number > y->number) - (x->number < y->number);
}

static int s3_writer_put_single(struct s3_writer *w, struct error *err)
{
    struct s3_call call;
    char md5_line[64];
    const char *headers[1];
    int rc;

    s3_md5_header(w->cur ? w->cur : "", w->cur_len, md5_line, sizeof(md5_line));
    headers[0] = md5_line;
    s3_call_init(&call);
    call.method = "PUT";
    call.key = w->key;
    call.headers = headers;
    call.header_count = 1;
    call.body = w->cur ? w->cur : "";
    call.body_len = w->cur_len;
    rc = s3_call_run(w->s3->client, &call, err);
    s3_call_release(&call);
    return rc;
}

static int s3_writer_complete(struct s3_writer *w, struct error *err)
{
    struct s3_call call;
    struct buf body;
    struct s3_xml_part *parts = NULL;
    char *id_q = s3_query_value(w->upload_id);
    char *query = xasprintf("uploadId=%s", id_q);
    char *etag = NULL;
    int rc = -1;

    s3_call_init(&call);
    buf_init(&body, BUF_NO_CAP);
    qsort(w->done, w->done_count, sizeof(*w->done), s3_done_part_cmp);
    parts = xcalloc(w->done_count ? w->done_count : 1, sizeof(*parts));
    for (size_t i = 0; i < w->done_count; i++) {
        parts[i].part_number = w->done[i].number;
        parts[i].etag = w->done[i].etag;
    }
    if (s3_xml_write_complete(&body, parts, w->done_count, err) < 0)
        goto out;
    call.method = "POST";
    call.key = w->key;
    call.query = query;
    call.body = body.data;
    call.body_len = body.len;
    if (s3_call_run(w->s3->client, &call, err) < 0)
        goto out;
    /* A 200 answer can still carry an <Error>: the upload is not complete then. */
    if (s3_xml_parse_complete(call.req.body.data, call.req.body.len, &etag, NULL, err) < 0) {
        error_wrap(err, "s3 POST '%s' (complete multipart upload)", w->key);
        goto out;
    }
    rc = 0;
out:
    xfree(etag);
    xfree(parts);
    buf_release(&body);
    s3_call_release(&call);
    xfree(query);
    xfree(id_q);
    return rc;
}

static int s3_writer_commit(struct store_writer *base, struct error *err)
{
    struct s3_writer *w = (struct s3_writer *)base;
    int rc = -1;

    if (w->has_failed) {
        *err = w->failure;
        goto out;
    }
    if (!w->upload_id) {
        rc = s3_writer_put_single(w, err);
        goto out;
    }
    if (w->cur_len > 0 && s3_writer_send_part(w, err) < 0)
        goto out;
    while (s3_writer_busy(w)) {
        if (s3_writer_pump(w, err) < 0)
            goto out;
    }
    if (w->has_failed) {
        *err = w->failure;
        goto out;
    }
    rc = s3_writer_complete(w, err);
out:
    if (rc < 0) {
        s3_writer_abort(base);
        return -1;
    }
    s3_writer_free(w);
    return 0;
}

static const struct store_writer_ops s3_writer_ops = {
    .write = s3_writer_write,
    .commit = s3_writer_commit,
    .abort = s3_writer_abort,
};

static int s3_put_open(struct store *s, const char *key, struct store_writer **out,
                       struct error *err)
{
    struct s3_store *s3 = s3_store_of(s);
    struct s3_writer *w = xcalloc(1, sizeof(*w));

    w->base.ops = &s3_writer_ops;
    w->s3 = s3;
    w->key = s3_full_key(s3, key);
    w->slot_count = (size_t)s3->concurrency;
    w->slots = xcalloc(w->slot_count, sizeof(*w->slots));
    for (size_t i = 0; i < w->slot_count; i++) {
        w->slots[i].w = w;
        s3_call_init(&w->slots[i].call);
    }
    w->next_number = 1;
    (void)err;
    *out = &w->base;
    return 0;
}

/* ---- reader ---- */

static int s3_reader_read(struct store_reader *base, void *data, size_t cap, size_t *got,
                          struct error *err)
{
    struct s3_reader *r = (struct s3_reader *)base;

    return s3_call_read(r->s3->client, &r->call, data, cap, got, err);
}

static void s3_reader_close(struct store_reader *base)
{
    struct s3_reader *r = (struct s3_reader *)base;

    http_cancel(s3_client_http(r->s3->client), &r->call.req);
    xfree(r->key);
    s3_call_release(&r->call);
    xfree(r);
}

static const struct store_reader_ops s3_reader_ops = {
    .read = s3_reader_read,
    .close = s3_reader_close,
};

static int s3_get_open(struct store *s, const char *key, struct store_reader **out,
                       struct error *err)
{
    struct s3_store *s3 = s3_store_of(s);
    struct s3_reader *r = xcalloc(1, sizeof(*r));

    r->base.ops = &s3_reader_ops;
    r->s3 = s3;
    r->key = s3_full_key(s3, key);
    s3_call_init(&r->call);
    r->call.method = "GET";
    r->call.key = r->key;
    r->call.is_stream = true;
    r->call.is_404_ok = true;
    if (s3_call_run(s3->client, &r->call, err) < 0)
        goto fail;
    if (r->call.req.status == 404) {
        error_set(err, ERR_IO, "'%s' not found in %s", key, s3_client_location(s3->client));
        goto fail;
    }
    *out = &r->base;
    return 0;
fail:
    s3_reader_close(&r->base);
    return -1;
}

/* ---- listing ---- */

struct s3_upload_list {
    struct s3_xml_upload *items;
    size_t count;
};

static int s3_upload_cmp(const void *a, const void *b)
{
    const struct s3_xml_upload *x = a;
    const struct s3_xml_upload *y = b;

    return strcmp(x->key, y->key);
}

static void s3_upload_list_release(struct s3_upload_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        xfree(l->items[i].key);
        xfree(l->items[i].upload_id);
    }
    xfree(l->items);
    l->items = NULL;
    l->count = 0;
}

/* Collects the unfinished multipart uploads under full_prefix, sorted by key. */
static int s3_list_uploads(struct s3_store *s3, const char *full_prefix, struct s3_upload_list *out,
                           struct error *err)
{
    char *key_marker = NULL;
    char *id_marker = NULL;
    char *prefix_q = s3_query_value(full_prefix);
    int rc = -1;

    for (;;) {
        struct s3_call call;
        struct s3_xml_uploads page;
        struct buf q;

        memset(&page, 0, sizeof(page));
        buf_init(&q, BUF_NO_CAP);
        buf_addf(&q, "prefix=%s&uploads", prefix_q);
        if (key_marker) {
            buf_adds(&q, "&key-marker=");
            s3_encode(&q, key_marker, false);
            buf_adds(&q, "&upload-id-marker=");
            s3_encode(&q, id_marker ? id_marker : "", false);
        }
        s3_call_init(&call);
        call.method = "GET";
        call.query = q.data;
        if (s3_call_run(s3->client, &call, err) < 0 ||
            s3_xml_parse_uploads(call.req.body.data, call.req.body.len, &page, err) < 0) {
            s3_call_release(&call);
            buf_release(&q);
            s3_xml_uploads_release(&page);
            goto out;
        }
        s3_call_release(&call);
        buf_release(&q);
        for (size_t i = 0; i < page.upload_count; i++) {
            if (out->count >= S3_MAX_UPLOADS_LISTED)
                break;
            out->items = xreallocarray(out->items, out->count + 1, sizeof(*out->items));
            out->items[out->count] = page.uploads[i];
            memset(&page.uploads[i], 0, sizeof(page.uploads[i]));
            out->count++;
        }
        xfree(key_marker);
        xfree(id_marker);
        key_marker = NULL;
        id_marker = NULL;
        if (page.is_truncated && page.next_key_marker && out->count < S3_MAX_UPLOADS_LISTED) {
            key_marker = xstrdup(page.next_key_marker);
            id_marker = page.next_upload_id_marker ? xstrdup(page.next_upload_id_marker) : NULL;
            s3_xml_uploads_release(&page);
            continue;
        }
        s3_xml_uploads_release(&page);
        break;
    }
    qsort(out->items, out->count, sizeof(*out->items), s3_upload_cmp);
    rc = 0;
out:
    xfree(key_marker);
    xfree(id_marker);
    xfree(prefix_q);
    return rc;
}

static bool s3_strip_prefix(const struct s3_store *s3, const char *full, const char **key)
{
    size_t n = strlen(s3->prefix);

    if (strncmp(full, s3->prefix, n) != 0 || full[n] == '\0')
        return false;
    *key = full + n;
    return true;
}

static int s3_emit_upload(struct s3_store *s3, const struct s3_xml_upload *u, store_list_fn fn,
                          void *ctx, struct error *err)
{
    struct store_entry e;
    const char *key;

    if (!s3_strip_prefix(s3, u->key, &key))
        return 0;
    memset(&e, 0, sizeof(e));
    e.key = key;
    e.mtime = u->initiated;
    e.is_partial = true;
    return fn(&e, ctx, err);
}

static int s3_list(struct store *s, const char *prefix, int flags, store_list_fn fn, void *ctx,
                   struct error *err)
{
    struct s3_store *s3 = s3_store_of(s);
    struct s3_upload_list uploads = {NULL, 0};
    size_t next_upload = 0;
    char *full_prefix = s3_full_key(s3, prefix);
    char *prefix_q = s3_query_value(full_prefix);
    char *token = NULL;
    int rc = -1;
    int r = 0;

    if ((flags & STORE_LIST_PARTIAL) && s3_list_uploads(s3, full_prefix, &uploads, err) < 0)
        goto out;
    for (;;) {
        struct s3_call call;
        struct s3_xml_list page;
        struct buf q;

        memset(&page, 0, sizeof(page));
        buf_init(&q, BUF_NO_CAP);
        buf_adds(&q, "list-type=2");
        if (token) {
            buf_adds(&q, "&continuation-token=");
            s3_encode(&q, token, false);
        }
        buf_addf(&q, "&prefix=%s", prefix_q);
        s3_call_init(&call);
        call.method = "GET";
        call.query = q.data;
        if (s3_call_run(s3->client, &call, err) < 0 ||
            s3_xml_parse_list(call.req.body.data, call.req.body.len, &page, err) < 0) {
            s3_call_release(&call);
            buf_release(&q);
            s3_xml_list_release(&page);
            goto out;
        }
        s3_call_release(&call);
        buf_release(&q);
        for (size_t i = 0; i < page.object_count && r == 0; i++) {
            const struct s3_xml_object *o = &page.objects[i];
            struct store_entry e;
            const char *key;
            /* Unfinished uploads sort in among the objects, as the interface promises. */
            while (r == 0 && next_upload < uploads.count &&
                   strcmp(uploads.items[next_upload].key, o->key) <= 0)
                r = s3_emit_upload(s3, &uploads.items[next_upload++], fn, ctx, err);
            if (r != 0 || !s3_strip_prefix(s3, o->key, &key))
                continue;
            memset(&e, 0, sizeof(e));
            e.key = key;
            e.size_bytes = o->size_bytes;
            e.mtime = o->last_modified;
            r = fn(&e, ctx, err);
        }
        xfree(token);
        token = NULL;
        if (r == 0 && page.is_truncated && page.next_continuation_token) {
            token = xstrdup(page.next_continuation_token);
            s3_xml_list_release(&page);
            continue;
        }
        s3_xml_list_release(&page);
        break;
    }
    while (r == 0 && next_upload < uploads.count)
        r = s3_emit_upload(s3, &uploads.items[next_upload++], fn, ctx, err);
    rc = r < 0 ? -1 : 0;
out:
    if (rc < 0)
        error_wrap(err, "list '%s' in %s", prefix, s3_client_location(s3->client));
    s3_upload_list_release(&uploads);
    xfree(token);
    xfree(prefix_q);
    xfree(full_prefix);
    return rc;
}

static int s3_stat(struct store *s, const char *key, struct store_entry *out, bool *exists,
                   struct error *err)
{
    struct s3_store *s3 = s3_store_of(s);
    struct s3_call call;
    char v[128];
    char *full = s3_full_key(s3, key);
    int rc = -1;

    s3_call_init(&call);
    call.method = "HEAD";
    call.key = full;
    call.is_404_ok = true;
    if (s3_call_run(s3->client, &call, err) < 0)
        goto out;
    if (call.req.status != 404) {
        char *end = NULL;
        time_t t;
        memset(out, 0, sizeof(*out));
        out->key = key;
        if (s3_call_header(&call, "Content-Length", v, sizeof(v)))
            out->size_bytes = strtoull(v, &end, 10);
        if (s3_call_header(&call, "Last-Modified", v, sizeof(v)) && s3_parse_http_date(v, &t))
            out->mtime = t;
        *exists = true;
    }
    rc = 0;
out:
    s3_call_release(&call);
    xfree(full);
    return rc;
}

static int s3_remove(struct store *s, const char *key, struct error *err)
{
    struct s3_store *s3 = s3_store_of(s);
    struct s3_call call;
    char *full = s3_full_key(s3, key);
    int rc;

    s3_call_init(&call);
    call.method = "DELETE";
    call.key = full;
    call.is_404_ok = true;
    rc = s3_call_run(s3->client, &call, err);
    s3_call_release(&call);
    xfree(full);
    return rc;
}

/* DeleteObjects for up to 1000 full keys. */
static int s3_delete_batch(struct s3_store *s3, char **keys, size_t count, struct error *err)
{
    struct s3_call call;
    struct s3_xml_delete_result res;
    struct buf body;
    char md5_line[64];
    const char *headers[1];
    int rc = -1;

    memset(&res, 0, sizeof(res));
    buf_init(&body, BUF_NO_CAP);
    s3_call_init(&call);
    if (s3_xml_write_delete(&body, (const char *const *)keys, count, err) < 0)
        goto out;
    s3_md5_header(body.data, body.len, md5_line, sizeof(md5_line)); /* required by S3 */
    headers[0] = md5_line;
    call.method = "POST";
    call.query = "delete";
    call.headers = headers;
    call.header_count = 1;
    call.body = body.data;
    call.body_len = body.len;
    if (s3_call_run(s3->client, &call, err) < 0)
        goto out;
    if (s3_xml_parse_delete(call.req.body.data, call.req.body.len, &res, err) < 0)
        goto out;
    if (res.failure_count > 0) {
        error_set(err, ERR_REMOTE, "s3 delete: %zu of %zu keys failed, first '%s': %s %s",
                  res.failure_count, count, res.failures[0].key ? res.failures[0].key : "",
                  res.failures[0].code, res.failures[0].message);
        goto out;
    }
    rc = 0;
out:
    s3_xml_delete_result_release(&res);
    s3_call_release(&call);
    buf_release(&body);
    return rc;
}

struct s3_collect {
    struct s3_store *s3;
    char **keys;
    size_t count;
};

static int s3_collect_key(const struct store_entry *e, void *ctx, struct error *err)
{
    struct s3_collect *c = ctx;

    (void)err;
    if (e->is_partial)
        return 0;
    c->keys = xreallocarray(c->keys, c->count + 1, sizeof(*c->keys));
    c->keys[c->count++] = s3_full_key(c->s3, e->key);
    return 0;
}

static int s3_remove_prefix(struct store *s, const char *prefix, struct error *err)
{
    struct s3_store *s3 = s3_store_of(s);
    struct s3_collect col = {s3, NULL, 0};
    struct s3_upload_list uploads = {NULL, 0};
    char *full_prefix = s3_full_key(s3, prefix);
    int rc = -1;

    /* A snapshot holds a handful of objects, so collecting the keys first is cheap. */
    if (s3_list(s, prefix, 0, s3_collect_key, &col, err) < 0)
        goto out;
    for (size_t i = 0; i < col.count; i += S3_DELETE_BATCH) {
        size_t n = col.count - i < S3_DELETE_BATCH ? col.count - i : S3_DELETE_BATCH;
        if (s3_delete_batch(s3, col.keys + i, n, err) < 0)
            goto out;
    }
    if (s3_list_uploads(s3, full_prefix, &uploads, err) < 0)
        goto out;
    for (size_t i = 0; i < uploads.count; i++)
        s3_abort_upload(s3, uploads.items[i].key, uploads.items[i].upload_id);
    rc = 0;
out:
    if (rc < 0)
        error_wrap(err, "remove '%s' from %s", prefix, s3_client_location(s3->client));
    for (size_t i = 0; i < col.count; i++)
        xfree(col.keys[i]);
    xfree(col.keys);
    s3_upload_list_release(&uploads);
    xfree(full_prefix);
    return rc;
}

/* ---- server-side copy ---- */

static int s3_copy_request(struct s3_store *dst, const char *dst_key, const char *query,
                           const char *source_line, const char *range_line, char **etag,
                           struct error *err)
{
    struct s3_call call;
    const char *headers[2];
    int rc = -1;

    s3_call_init(&call);
    headers[0] = source_line;
    headers[1] = range_line;
    call.method = "PUT";
    call.key = dst_key;
    call.query = query;
    call.headers = headers;
    call.header_count = range_line ? 2 : 1;
    if (s3_call_run(dst->client, &call, err) < 0)
        goto out;
    if (s3_xml_parse_copy(call.req.body.data, call.req.body.len, etag, NULL, err) < 0) {
        error_wrap(err, "s3 copy to '%s'", dst_key);
        goto out;
    }
    rc = 0;
out:
    s3_call_release(&call);
    return rc;
}

static int s3_copy_from(struct store *dst_base, struct store *src_base, const char *key,
                        struct error *err)
{
    struct s3_store *dst = s3_store_of(dst_base);
    struct s3_store *src;
    struct store_entry st;
    bool exists = false;
    struct buf source;
    char *dst_key = NULL;
    char *src_key = NULL;
    char *etag = NULL;
    struct s3_writer *w = NULL;
    int rc = -1;

    if (src_base->ops != &s3_store_ops)
        return 1;
    src = s3_store_of(src_base);
    if (!s3_client_same_service(src->client, dst->client))
        return 1;
    buf_init(&source, BUF_NO_CAP);
    if (s3_stat(src_base, key, &st, &exists, err) < 0)
        goto out;
    if (!exists) {
        error_set(err, ERR_IO, "'%s' not found in %s", key, s3_client_location(src->client));
        goto out;
    }
    src_key = s3_full_key(src, key);
    dst_key = s3_full_key(dst, key);
    buf_adds(&source, "x-amz-copy-source: /");
    s3_encode(&source, s3_client_bucket(src->client), false);
    buf_adds(&source, "/");
    s3_encode(&source, src_key, true);
    if (st.size_bytes <= S3_COPY_SINGLE_MAX) {
        rc = s3_copy_request(dst, dst_key, NULL, source.data, NULL, &etag, err);
        goto out;
    }
    /* Above 5 GiB: a multipart upload whose parts are ranges copied by the server. */
    w = xcalloc(1, sizeof(*w));
    w->s3 = dst;
    w->key = xstrdup(dst_key);
    if (s3_writer_initiate(w, err) < 0)
        goto out;
    for (uint64_t off = 0; off < st.size_bytes; off += S3_COPY_PART_BYTES) {
        uint64_t end =
            off + S3_COPY_PART_BYTES < st.size_bytes ? off + S3_COPY_PART_BYTES : st.size_bytes;
        char *id_q = s3_query_value(w->upload_id);
        int number = (int)(off / S3_COPY_PART_BYTES) + 1;
        char *query = xasprintf("partNumber=%d&uploadId=%s", number, id_q);
        char range[96];
        int r;
        snprintf(range, sizeof(range), "x-amz-copy-source-range: bytes=%" PRIu64 "-%" PRIu64, off,
                 end - 1);
        r = s3_copy_request(dst, dst_key, query, source.data, range, &etag, err);
        xfree(query);
        xfree(id_q);
        if (r < 0)
            goto out;
        s3_writer_record(w, number, etag);
        xfree(etag);
        etag = NULL;
    }
    rc = s3_writer_complete(w, err);
out:
    if (w) {
        if (rc < 0 && w->upload_id)
            s3_abort_upload(dst, w->key, w->upload_id);
        s3_writer_free(w);
    }
    if (rc < 0)
        error_wrap(err, "server-side copy of '%s' from %s", key, s3_client_location(src->client));
    xfree(etag);
    xfree(src_key);
    xfree(dst_key);
    buf_release(&source);
    return rc;
}

static void s3_store_free(struct store *s)
{
    struct s3_store *s3 = s3_store_of(s);

    s3_client_free(s3->client);
    xfree(s3->prefix);
    store_base_release(&s3->base);
    xfree(s3);
}

static const struct store_ops s3_store_ops = {
    .put_open = s3_put_open,
    .get_open = s3_get_open,
    .list = s3_list,
    .stat = s3_stat,
    .remove = s3_remove,
    .remove_prefix = s3_remove_prefix,
    .copy_from = s3_copy_from,
    .free = s3_store_free,
};

static char *s3_clean_prefix(const char *prefix)
{
    size_t start = 0;
    size_t end;

    if (!prefix)
        return xstrdup("");
    end = strlen(prefix);
    while (start < end && prefix[start] == '/')
        start++;
    while (end > start && prefix[end - 1] == '/')
        end--;
    if (end == start)
        return xstrdup("");
    return xasprintf("%.*s/", (int)(end - start), prefix + start);
}

int s3_store_open(const struct store_options *opts, struct store **out, struct error *err)
{
    struct s3_client_options co;
    struct s3_store *s3 = NULL;
    struct s3_client *client = NULL;
    char *location = NULL;

    *out = NULL;
    memset(&co, 0, sizeof(co));
    co.name = opts->name;
    co.endpoint = opts->endpoint;
    co.region = opts->region;
    co.bucket = opts->bucket;
    co.path_style = opts->path_style;
    co.access_key = opts->access_key;
    co.secret_key = opts->secret_key;
    co.session_token = opts->session_token;
    co.ca_file = opts->ca_file;
    co.max_requests_per_second = opts->max_requests_per_second;
    co.connect_timeout_ms = opts->connect_timeout_ms;
    co.low_speed_time_ms = opts->low_speed_timeout_ms;
    if (opts->part_size_bytes != 0 && opts->part_size_bytes < S3_PART_SIZE_MIN)
        return error_set(err, ERR_CONFIG, "store '%s': part_size must be at least 5 MiB",
                         opts->name);
    if (s3_client_new(&co, &client, err) < 0)
        return error_wrap(err, "store '%s'", opts->name);
    s3 = xcalloc(1, sizeof(*s3));
    s3->client = client;
    s3->prefix = s3_clean_prefix(opts->prefix);
    s3->part_size = opts->part_size_bytes ? opts->part_size_bytes : S3_PART_SIZE_DEFAULT;
    s3->concurrency = opts->concurrency > 0 ? opts->concurrency : S3_CONCURRENCY_DEFAULT;
    location = xasprintf("%s/%s", s3_client_location(client), s3->prefix);
    if (location[strlen(location) - 1] == '/')
        location[strlen(location) - 1] = '\0';
    store_base_init(&s3->base, &s3_store_ops, opts, location);
    xfree(location);
    *out = &s3->base;
    return 0;
}
