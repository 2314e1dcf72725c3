/* The only libcurl user. Every request runs on the client's multi handle, so connections are
 * pooled and reused by all of them (keep-alive), and parallel parts need no threads. Callbacks only
 * move bytes and record what happened; decisions are made by the caller after the request ends.
 * A streamed body is pulled: when the reader falls behind, the write callback pauses the transfer
 * (CURL_WRITEFUNC_PAUSE) and http_read resumes it, so a slow consumer (pg_restore) costs at most
 * HTTP_STREAM_BUFFER_CAP bytes of memory. */
#include "net/http.h"

#include <string.h>
#include <time.h>

#include <pthread.h>

#include <curl/curl.h>
#include <strings.h>

#include "util/cancel.h"
#include "util/xalloc.h"

#define HTTP_POLL_MS 100 /* how often a wait looks at cancellation */

struct http_xfer {
    struct http_client *client;
    struct http_request *req;
    CURL *easy;
    struct curl_slist *headers;
    struct buf stream; /* streamed body received and not yet read, from stream_pos on */
    size_t stream_pos;
    bool is_paused;
    bool is_in_multi;
    bool is_queued; /* on the done queue, waiting for http_wait */
    char errbuf[CURL_ERROR_SIZE];
};

struct http_done {
    struct http_request *req;
};

struct http_client {
    CURLM *multi;
    struct http_client_options opts;
    char *ca_file; /* our copy of opts.ca_file */
    CURL **idle;   /* easy handles kept for reuse */
    size_t idle_count;
    size_t idle_cap;
    struct http_done *done; /* ended non-stream requests not yet returned, oldest first */
    size_t done_count;
    size_t done_cap;
    size_t in_flight;
    uint64_t events; /* transfers ended, final headers or streamed bytes received: see http_drive */
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc = CURLE_OK;

static void http_global_init(void)
{
    http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_request_init(struct http_request *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->body, HTTP_DEFAULT_BODY_CAP);
    buf_init(&r->header_block, HTTP_HEADER_BLOCK_CAP);
}

void http_request_reset(struct http_request *r)
{
    ASSERT(!r->xfer || r->is_done);
    r->status = 0;
    r->is_headers_done = false;
    r->is_done = false;
    r->net_code = HTTP_NET_OK;
    r->net_error[0] = '\0';
    buf_reset(&r->body);
    buf_reset(&r->header_block);
    r->is_body_truncated = false;
    r->bytes_received = 0;
}

static void http_xfer_end(struct http_xfer *x);

void http_request_release(struct http_request *r)
{
    if (r->xfer)
        http_xfer_end(r->xfer);
    buf_release(&r->body);
    buf_release(&r->header_block);
}

int http_client_new(const struct http_client_options *opts, struct http_client **out,
                    struct error *err)
{
    struct http_client *c;

    *out = NULL;
    pthread_once(&http_once, http_global_init);
    if (http_global_rc != CURLE_OK)
        return error_set(err, ERR_NETWORK, "libcurl initialisation failed: %s",
                         curl_easy_strerror(http_global_rc));
    c = xcalloc(1, sizeof(*c));
    c->opts = *opts;
    c->ca_file = opts->ca_file ? xstrdup(opts->ca_file) : NULL;
    c->opts.ca_file = c->ca_file;
    if (c->opts.connect_timeout_ms <= 0)
        c->opts.connect_timeout_ms = 10000;
    if (c->opts.low_speed_time_ms <= 0)
        c->opts.low_speed_time_ms = 60000;
    c->multi = curl_multi_init();
    if (!c->multi) {
        xfree(c->ca_file);
        xfree(c);
        return error_set(err, ERR_NETWORK, "libcurl: cannot create a multi handle");
    }
    if (c->opts.max_host_connections > 0)
        (void)curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                                (long)c->opts.max_host_connections);
    /* The idle connections kept for reuse: more than the mirror's requests in flight (64
     * transfers and 16 listings by default), so a busy client never closes and reopens. */
    (void)curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 256L);
    *out = c;
    return 0;
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    /* Requests still in flight belong to callers that are unwinding; detach them. */
    ASSERT(c->in_flight == 0);
    for (size_t i = 0; i < c->idle_count; i++)
        curl_easy_cleanup(c->idle[i]);
    xfree(c->idle);
    xfree(c->done);
    curl_multi_cleanup(c->multi);
    xfree(c->ca_file);
    xfree(c);
}

static size_t http_on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct http_xfer *x = ud;
    struct http_request *r = x->req;
    size_t len = size * nmemb;

    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new response begins (after a 100 Continue, for one): keep only the final one. */
        buf_reset(&r->header_block);
        return len;
    }
    if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        long code = 0;
        (void)curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200) {
            r->status = code;
            r->is_headers_done = true;
            x->client->events++;
        }
        return len;
    }
    (void)buf_add(&r->header_block, data, len); /* past the cap, later headers are dropped */
    return len;
}

static bool http_is_streaming_body(const struct http_request *r)
{
    return r->is_stream && r->status >= 200 && r->status < 300;
}

static size_t http_on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct http_xfer *x = ud;
    struct http_request *r = x->req;
    size_t len = size * nmemb;

    if (http_is_streaming_body(r)) {
        size_t unread = x->stream.len - x->stream_pos;
        if (unread > 0 && unread + len > HTTP_STREAM_BUFFER_CAP) {
            x->is_paused = true;
            return CURL_WRITEFUNC_PAUSE; /* curl keeps the data and delivers it again later */
        }
        if (x->stream_pos > 0) {
            buf_consume(&x->stream, x->stream_pos);
            x->stream_pos = 0;
        }
        if (!buf_add(&x->stream, data, len))
            return 0; /* cannot happen: the stream buffer has no cap; fail the transfer */
        r->bytes_received += len;
        x->client->events++;
        return len;
    }
    r->bytes_received += len;
    if (!buf_add(&r->body, data, len))
        r->is_body_truncated = true;
    return len;
}

static enum http_net_code http_net_code_of(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return HTTP_NET_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return HTTP_NET_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return HTTP_NET_TIMEOUT;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return HTTP_NET_BROKEN;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return HTTP_NET_TLS;
    default:
        return HTTP_NET_OTHER;
    }
}

const char *http_net_code_text(enum http_net_code code)
{
    switch (code) {
    case HTTP_NET_OK:
        return "ok";
    case HTTP_NET_CONNECT:
        return "cannot connect";
    case HTTP_NET_TIMEOUT:
        return "timed out";
    case HTTP_NET_BROKEN:
        return "connection broken";
    case HTTP_NET_TLS:
        return "TLS failure";
    case HTTP_NET_OTHER:
        return "transfer failed";
    }
    return "transfer failed";
}

static CURL *http_easy_get(struct http_client *c)
{
    CURL *easy;

    if (c->idle_count > 0) {
        easy = c->idle[--c->idle_count];
        curl_easy_reset(easy); /* keeps the connection and DNS caches */
        return easy;
    }
    easy = curl_easy_init();
    ASSERT(easy != NULL); /* libcurl fails here only when out of memory */
    return easy;
}

static void http_easy_put(struct http_client *c, CURL *easy)
{
    if (c->idle_count == c->idle_cap) {
        c->idle_cap = c->idle_cap ? 2 * c->idle_cap : 8;
        c->idle = xreallocarray(c->idle, c->idle_cap, sizeof(*c->idle));
    }
    c->idle[c->idle_count++] = easy;
}

/* Removes the transfer from the multi and from the done queue, and frees it. */
static void http_xfer_end(struct http_xfer *x)
{
    struct http_client *c = x->client;

    if (x->is_in_multi) {
        (void)curl_multi_remove_handle(c->multi, x->easy);
        x->is_in_multi = false;
        c->in_flight--;
    } else if (x->is_queued) {
        c->in_flight--;
    }
    if (x->is_queued) {
        for (size_t i = 0; i < c->done_count; i++) {
            if (c->done[i].req == x->req) {
                memmove(&c->done[i], &c->done[i + 1], (c->done_count - i - 1) * sizeof(*c->done));
                c->done_count--;
                break;
            }
        }
    }
    http_easy_put(c, x->easy);
    curl_slist_free_all(x->headers);
    buf_release(&x->stream);
    x->req->xfer = NULL;
    xfree(x);
}

static void http_setopts(struct http_client *c, struct http_xfer *x)
{
    struct http_request *r = x->req;
    CURL *e = x->easy;
    long low_speed_s = (c->opts.low_speed_time_ms + 999) / 1000;

    /* curl_easy_setopt only fails for unknown options or out of memory; every option here
     * exists in 7.88, so the results are not checked one by one. */
    (void)curl_easy_setopt(e, CURLOPT_URL, r->url);
    (void)curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    (void)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    (void)curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    (void)curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
    (void)curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    (void)curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, low_speed_s);
    if (r->timeout_ms > 0)
        (void)curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    (void)curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L); /* sign and send the path as given */
    (void)curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    (void)curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024L);
    (void)curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    (void)curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_on_header);
    (void)curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    (void)curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_on_body);
    (void)curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    if (c->opts.ca_file)
        (void)curl_easy_setopt(e, CURLOPT_CAINFO, c->opts.ca_file);
    if (strcmp(r->method, "GET") == 0) {
        (void)curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(r->method, "HEAD") == 0) {
        (void)curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        (void)curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
        if (r->send_data || strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
            /* POSTFIELDS sends straight from the caller's memory, without a copy. */
            (void)curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->send_len);
            (void)curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->send_data ? r->send_data : "");
        }
    }
}

static bool http_has_header(const struct http_request *r, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < r->header_count; i++)
        if (strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
            return true;
    return false;
}

int http_start(struct http_client *c, struct http_request *r, struct error *err)
{
    struct http_xfer *x;
    CURLMcode mc;

    ASSERT(!r->xfer);
    http_request_reset(r);
    x = xcalloc(1, sizeof(*x));
    x->client = c;
    x->req = r;
    x->easy = http_easy_get(c);
    buf_init(&x->stream, BUF_NO_CAP);
    for (size_t i = 0; i < r->header_count; i++)
        x->headers = curl_slist_append(x->headers, r->headers[i]);
    /* No "Expect: 100-continue" round trip before each part, and no form content type on PUT. */
    x->headers = curl_slist_append(x->headers, "Expect:");
    if (!http_has_header(r, "Content-Type"))
        x->headers = curl_slist_append(x->headers, "Content-Type:");
    ASSERT(x->headers != NULL); /* curl_slist_append fails only when out of memory */
    http_setopts(c, x);
    mc = curl_multi_add_handle(c->multi, x->easy);
    if (mc != CURLM_OK) {
        http_easy_put(c, x->easy);
        curl_slist_free_all(x->headers);
        buf_release(&x->stream);
        xfree(x);
        /* Not the URL: a notification channel's URL holds its token. */
        return error_set(err, ERR_NETWORK, "cannot start a %s request: %s", r->method,
                         curl_multi_strerror(mc));
    }
    x->is_in_multi = true;
    r->xfer = x;
    c->in_flight++;
    return 0;
}

/* Moves finished transfers out of the multi; non-stream ones go on the done queue. */
static void http_collect(struct http_client *c)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        struct http_xfer *x = NULL;
        struct http_request *r;

        if (m->msg != CURLMSG_DONE)
            continue;
        (void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        ASSERT(x != NULL);
        r = x->req;
        r->net_code = http_net_code_of(m->data.result);
        if (r->net_code != HTTP_NET_OK) {
            buf_format_fixed(r->net_error, sizeof(r->net_error), "%s",
                             x->errbuf[0] ? x->errbuf : curl_easy_strerror(m->data.result));
        } else if (!r->is_headers_done) {
            long code = 0;
            (void)curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
            r->status = code;
            r->is_headers_done = true;
        }
        r->is_done = true;
        c->events++;
        (void)curl_multi_remove_handle(c->multi, x->easy);
        x->is_in_multi = false;
        if (!r->is_stream) {
            if (c->done_count == c->done_cap) {
                c->done_cap = c->done_cap ? 2 * c->done_cap : 8;
                c->done = xreallocarray(c->done, c->done_cap, sizeof(*c->done));
            }
            c->done[c->done_count++].req = r;
            x->is_queued = true;
        } else {
            c->in_flight--; /* a stream is accounted for by its reader from now on */
        }
    }
}

/* Lets curl move bytes, then, when may_block and nothing a caller waits for happened (no transfer
 * ended, no final headers or streamed bytes arrived), sleeps until there is socket activity or
 * HTTP_POLL_MS pass. Without that check every wait would sleep after its request had already
 * ended: curl has no socket left to watch then, so each request cost a full HTTP_POLL_MS. */
static int http_drive(struct http_client *c, bool may_block, bool is_cleanup, struct error *err)
{
    int running = 0;
    uint64_t events = c->events;
    CURLMcode mc;

    if (cancel_requested() && !is_cleanup)
        return error_set(err, ERR_CANCELLED, "cancelled");
    mc = curl_multi_perform(c->multi, &running);
    if (mc != CURLM_OK)
        return error_set(err, ERR_NETWORK, "libcurl: %s", curl_multi_strerror(mc));
    http_collect(c);
    if (may_block && c->events == events) {
        mc = curl_multi_poll(c->multi, NULL, 0, HTTP_POLL_MS, NULL);
        if (mc != CURLM_OK)
            return error_set(err, ERR_NETWORK, "libcurl: %s", curl_multi_strerror(mc));
    }
    return 0;
}

static void http_dequeue(struct http_client *c, struct http_request *r)
{
    struct http_xfer *x = r->xfer;

    ASSERT(x && x->is_queued && x->client == c);
    http_xfer_end(x);
}

static int64_t http_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_wait(struct http_client *c, long timeout_ms, struct http_request **done, struct error *err)
{
    int64_t deadline = timeout_ms >= 0 ? http_now_ms() + timeout_ms : INT64_MAX;

    *done = NULL;
    for (;;) {
        if (c->done_count > 0) {
            struct http_request *r = c->done[0].req;
            http_dequeue(c, r);
            *done = r;
            return 0;
        }
        if (c->in_flight == 0)
            return error_set(err, ERR_USAGE, "http_wait: nothing in flight");
        if (http_now_ms() >= deadline)
            return 0;
        if (http_drive(c, true, false, err) < 0)
            return -1;
        http_collect(c);
    }
}

int http_perform(struct http_client *c, struct http_request *r, struct error *err)
{
    ASSERT(!r->is_stream);
    if (http_start(c, r, err) < 0)
        return -1;
    while (!r->is_done) {
        if (http_drive(c, !r->is_done, r->is_cleanup, err) < 0) {
            http_cancel(c, r);
            return -1;
        }
        http_collect(c);
    }
    http_dequeue(c, r);
    return 0;
}

int http_stream_open(struct http_client *c, struct http_request *r, struct error *err)
{
    ASSERT(r->is_stream);
    if (http_start(c, r, err) < 0)
        return -1;
    for (;;) {
        http_collect(c);
        if (r->is_done || (r->is_headers_done && http_is_streaming_body(r)))
            return 0;
        /* Not 2xx: the body is an error document, collected to the end. */
        if (http_drive(c, true, false, err) < 0) {
            http_cancel(c, r);
            return -1;
        }
    }
}

int http_read(struct http_client *c, struct http_request *r, void *data, size_t cap, size_t *got,
              struct error *err)
{
    struct http_xfer *x = r->xfer;

    *got = 0;
    if (!x) /* already read to the end, or abandoned */
        return 0;
    for (;;) {
        size_t unread = x->stream.len - x->stream_pos;
        if (unread > 0) {
            size_t n = unread < cap ? unread : cap;
            memcpy(data, x->stream.data + x->stream_pos, n);
            x->stream_pos += n;
            *got = n;
            if (x->is_paused && x->stream.len - x->stream_pos < HTTP_STREAM_BUFFER_CAP / 2) {
                x->is_paused = false;
                (void)curl_easy_pause(x->easy, CURLPAUSE_CONT);
            }
            return 0;
        }
        if (r->is_done) {
            if (r->net_code != HTTP_NET_OK)
                return error_set(err, ERR_NETWORK, "%s after %llu bytes: %s",
                                 http_net_code_text(r->net_code),
                                 (unsigned long long)r->bytes_received, r->net_error);
            return 0; /* end of body */
        }
        if (x->is_paused) {
            /* Unpausing hands curl's held-back data to http_on_body right away: look at it
             * before waiting for more. */
            x->is_paused = false;
            (void)curl_easy_pause(x->easy, CURLPAUSE_CONT);
            continue;
        }
        if (http_drive(c, true, false, err) < 0)
            return -1;
        http_collect(c);
    }
}

void http_cancel(struct http_client *c, struct http_request *r)
{
    ASSERT(!r->xfer || r->xfer->client == c);
    if (r->xfer) {
        /* A half-read response must not be reused as a keep-alive connection. */
        if (r->xfer->is_in_multi)
            (void)curl_easy_setopt(r->xfer->easy, CURLOPT_FORBID_REUSE, 1L);
        http_xfer_end(r->xfer);
    }
}

size_t http_in_flight(const struct http_client *c)
{
    return c->in_flight;
}

bool http_header_get(const struct http_request *r, const char *name, char *out, size_t cap)
{
    size_t name_len = strlen(name);
    const char *p = r->header_block.data;
    const char *end = p + r->header_block.len;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        if ((size_t)(line_end - p) > name_len && strncasecmp(p, name, name_len) == 0 &&
            p[name_len] == ':') {
            const char *v = p + name_len + 1;
            const char *ve = line_end;
            size_t n;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            n = (size_t)(ve - v);
            if (cap > 0) {
                if (n >= cap)
                    n = cap - 1;
                memcpy(out, v, n);
                out[n] = '\0';
            }
            return true;
        }
        p = eol ? eol + 1 : end;
    }
    return false;
}

/* ---- SMTP ---- */

struct http_smtp_reader {
    const char *data;
    size_t len;
    size_t pos;
};

static size_t http_smtp_read(char *dst, size_t size, size_t nmemb, void *ud)
{
    struct http_smtp_reader *rd = ud;
    size_t n = size * nmemb;

    if (n > rd->len - rd->pos)
        n = rd->len - rd->pos;
    memcpy(dst, rd->data + rd->pos, n);
    rd->pos += n;
    return n;
}

int http_smtp_send(struct http_smtp_request *r, struct error *err)
{
    struct http_smtp_reader rd = {r->message, r->message_len, 0};
    struct curl_slist *rcpt = NULL;
    char errbuf[CURL_ERROR_SIZE];
    char *from = NULL;
    CURL *e = NULL;
    CURLcode rc;
    long code = 0;
    int ret = -1;

    r->reply_code = 0;
    r->is_retryable = false;
    pthread_once(&http_once, http_global_init);
    if (http_global_rc != CURLE_OK)
        return error_set(err, ERR_NETWORK, "libcurl initialisation failed: %s",
                         curl_easy_strerror(http_global_rc));
    e = curl_easy_init();
    if (!e)
        return error_set(err, ERR_NETWORK, "libcurl: cannot create a handle");
    errbuf[0] = '\0';
    from = xasprintf("<%s>", r->from);
    for (size_t i = 0; i < r->recipient_count; i++) {
        char *to = xasprintf("<%s>", r->recipients[i]);
        rcpt = curl_slist_append(rcpt, to);
        xfree(to);
        ASSERT(rcpt != NULL); /* fails only when out of memory */
    }
    (void)curl_easy_setopt(e, CURLOPT_URL, r->url);
    (void)curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    (void)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    (void)curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                           r->connect_timeout_ms > 0 ? r->connect_timeout_ms : 10000L);
    (void)curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 30000L);
    if (r->is_tls_required)
        (void)curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (r->ca_file)
        (void)curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
    if (r->user) {
        (void)curl_easy_setopt(e, CURLOPT_USERNAME, r->user);
        (void)curl_easy_setopt(e, CURLOPT_PASSWORD, r->password ? r->password : "");
    }
    (void)curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
    (void)curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
    (void)curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    (void)curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->message_len);
    (void)curl_easy_setopt(e, CURLOPT_READFUNCTION, http_smtp_read);
    (void)curl_easy_setopt(e, CURLOPT_READDATA, &rd);
    rc = curl_easy_perform(e);
    (void)curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    r->reply_code = code;
    if (rc == CURLE_OK) {
        ret = 0;
        goto out;
    }
    if (code >= 400) {
        /* A reply: 4xx is transient (try later), 5xx permanent. */
        r->is_retryable = code < 500;
        error_set(err, ERR_REMOTE, "SMTP reply %ld (%s)", code, curl_easy_strerror(rc));
    } else {
        enum http_net_code nc = http_net_code_of(rc);
        r->is_retryable = nc != HTTP_NET_TLS && rc != CURLE_USE_SSL_FAILED &&
                          rc != CURLE_LOGIN_DENIED && rc != CURLE_URL_MALFORMAT;
        error_set(err, ERR_NETWORK, "SMTP: %s", curl_easy_strerror(rc));
    }
out:
    curl_easy_cleanup(e);
    curl_slist_free_all(rcpt);
    xfree(from);
    return ret;
}

const char *http_version(void)
{
    return curl_version();
}
