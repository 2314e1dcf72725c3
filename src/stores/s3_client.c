/* S3 requests: addressing, signing, pacing, retrying and explaining failures. Every attempt is
 * signed afresh (x-amz-date moves on), so a retry after a long backoff is never refused as stale.
 */
#include "stores/s3_client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/random.h>

#include <strings.h>

#include "io/digest.h"
#include "stores/s3_sign.h"
#include "util/cancel.h"
#include "util/log.h"
#include "util/xalloc.h"

#define S3_MAX_HEADER_LINES 48 /* with room for an object's metadata */

struct s3_client {
    char *name;
    char *scheme_host; /* "http://127.0.0.1:7480" (no trailing slash) */
    char *host;        /* the Host header: "127.0.0.1:7480" or "bucket.s3.amazonaws.com" */
    char *service;     /* the endpoint without the bucket: "https://nyc3.digitaloceanspaces.com" */
    char *region;
    char *bucket;
    bool path_style;
    char *location;
    struct secret access_key;
    struct secret secret_key;
    struct secret session_token;
    double max_rps;
    struct timespec next_slot; /* the rate limit: the earliest start of the next request */
    int max_attempts;
    struct http_client *http;
    bool is_http_owned;
    struct s3_client_counters counters;
};

static bool s3_is_unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

void s3_encode(struct buf *out, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (s3_is_unreserved(*p) || (keep_slash && *p == '/')) {
            (void)buf_add(out, p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            (void)buf_add(out, esc, 3);
        }
    }
}

static void s3_secret_from(struct secret *dst, const struct secret *given, const char *env_name)
{
    const char *v;

    if (given && secret_is_set(given)) {
        secret_set(dst, given->value, given->len);
        return;
    }
    v = getenv(env_name);
    if (v && *v)
        secret_set(dst, v, strlen(v));
}

/* Splits "scheme://host[:port][/]" and refuses anything else (a path, user info, a query). */
static int s3_parse_endpoint(const char *endpoint, char **scheme, char **host, struct error *err)
{
    const char *rest;
    size_t host_len;

    if (strncmp(endpoint, "https://", 8) == 0) {
        *scheme = xstrdup("https");
        rest = endpoint + 8;
    } else if (strncmp(endpoint, "http://", 7) == 0) {
        *scheme = xstrdup("http");
        rest = endpoint + 7;
    } else {
        return error_set(err, ERR_CONFIG, "endpoint '%s' must start with https:// or http://",
                         endpoint);
    }
    host_len = strcspn(rest, "/?#@");
    if (host_len == 0 || (rest[host_len] != '\0' && strcmp(rest + host_len, "/") != 0)) {
        xfree(*scheme);
        *scheme = NULL;
        return error_set(err, ERR_CONFIG,
                         "endpoint '%s' must be scheme://host[:port] with no path (the bucket is "
                         "set with 'bucket')",
                         endpoint);
    }
    *host = xstrndup(rest, host_len);
    return 0;
}

int s3_client_new(const struct s3_client_options *opts, struct s3_client **out, struct error *err)
{
    struct s3_client *c = xcalloc(1, sizeof(*c));
    struct http_client_options ho;
    char *scheme = NULL;
    char *host = NULL;
    int rc = -1;

    *out = NULL;
    c->name = xstrdup(opts->name ? opts->name : "");
    c->region = xstrdup(opts->region && *opts->region ? opts->region : "us-east-1");
    if (!opts->bucket || !*opts->bucket) {
        error_set(err, ERR_CONFIG, "no bucket");
        error_hint(err, "set 'bucket = NAME' in the store section");
        goto out;
    }
    c->bucket = xstrdup(opts->bucket);
    if (opts->endpoint && *opts->endpoint) {
        if (s3_parse_endpoint(opts->endpoint, &scheme, &host, err) < 0)
            goto out;
        c->path_style = opts->path_style != 0;
    } else {
        scheme = xstrdup("https");
        host = xasprintf("s3.%s.amazonaws.com", c->region);
        /* A bucket name with a dot cannot be a virtual host under TLS: the certificate's
         * *.s3.REGION.amazonaws.com covers one label only. AWS SDKs switch to path style too. */
        c->path_style = opts->path_style == 1 || (opts->path_style < 0 && strchr(c->bucket, '.'));
    }
    if (c->path_style) {
        c->host = xstrdup(host);
        c->location = xasprintf("%s://%s/%s", scheme, host, c->bucket);
    } else {
        c->host = xasprintf("%s.%s", c->bucket, host);
        c->location = xasprintf("s3://%s (%s)", c->bucket, host);
    }
    c->scheme_host = xasprintf("%s://%s", scheme, c->host);
    c->service = xasprintf("%s://%s", scheme, host);
    s3_secret_from(&c->access_key, opts->access_key, "AWS_ACCESS_KEY_ID");
    s3_secret_from(&c->secret_key, opts->secret_key, "AWS_SECRET_ACCESS_KEY");
    s3_secret_from(&c->session_token, opts->session_token, "AWS_SESSION_TOKEN");
    if (!secret_is_set(&c->access_key) || !secret_is_set(&c->secret_key)) {
        error_set(err, ERR_CONFIG,
                  "no credentials: access_key and secret_key are not set and "
                  "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not in the "
                  "environment");
        error_hint(err, "set 'access_key = env:NAME' and 'secret_key = file:PATH' in the store "
                        "section");
        goto out;
    }
    c->max_rps = opts->max_requests_per_second;
    c->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : S3_MAX_ATTEMPTS_DEFAULT;
    memset(&ho, 0, sizeof(ho));
    ho.ca_file = opts->ca_file;
    ho.connect_timeout_ms = opts->connect_timeout_ms;
    ho.low_speed_time_ms = opts->low_speed_time_ms;
    ho.max_host_connections = opts->max_connections;
    if (opts->http) {
        c->http = opts->http;
    } else {
        if (http_client_new(&ho, &c->http, err) < 0)
            goto out;
        c->is_http_owned = true;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    xfree(scheme);
    xfree(host);
    s3_client_free(c);
    return rc;
}

void s3_client_free(struct s3_client *c)
{
    if (!c)
        return;
    if (c->is_http_owned)
        http_client_free(c->http);
    secret_release(&c->access_key);
    secret_release(&c->secret_key);
    secret_release(&c->session_token);
    xfree(c->name);
    xfree(c->scheme_host);
    xfree(c->host);
    xfree(c->service);
    xfree(c->region);
    xfree(c->bucket);
    xfree(c->location);
    xfree(c);
}

const char *s3_client_location(const struct s3_client *c)
{
    return c->location;
}

struct http_client *s3_client_http(struct s3_client *c)
{
    return c->http;
}

const char *s3_client_bucket(const struct s3_client *c)
{
    return c->bucket;
}

const struct s3_client_counters *s3_client_counters(const struct s3_client *c)
{
    return &c->counters;
}

static enum s3_request_kind s3_call_kind(const struct s3_call *call)
{
    const char *m = call->method;

    if (strcmp(m, "GET") == 0)
        return call->key ? S3_REQ_GET : S3_REQ_LIST;
    if (strcmp(m, "HEAD") == 0)
        return S3_REQ_HEAD;
    if (strcmp(m, "DELETE") == 0)
        return S3_REQ_DELETE;
    if (strcmp(m, "POST") == 0)
        return call->query && strncmp(call->query, "delete", 6) == 0 ? S3_REQ_DELETE : S3_REQ_PUT;
    for (size_t i = 0; i < call->header_count; i++)
        if (strncasecmp(call->headers[i], "x-amz-copy-source:", 18) == 0)
            return S3_REQ_COPY;
    return S3_REQ_PUT;
}

/* Counts one attempt about to be sent. */
static void s3_count(struct s3_client *c, const struct s3_call *call)
{
    c->counters.requests[s3_call_kind(call)]++;
    if (call->attempts > 0)
        c->counters.retries++;
}

bool s3_client_same_service(const struct s3_client *a, const struct s3_client *b)
{
    /* The endpoint, not the addressing style, says where a bucket lives: two virtual-hosted
     * endpoints (nyc3 and ams3 Spaces) may share keys and the region name "us-east-1". */
    bool same_host = strcmp(a->service, b->service) == 0 && strcmp(a->region, b->region) == 0;

    return same_host && strcmp(a->access_key.value, b->access_key.value) == 0 &&
           strcmp(a->secret_key.value, b->secret_key.value) == 0;
}

void s3_call_init(struct s3_call *call)
{
    memset(call, 0, sizeof(*call));
    http_request_init(&call->req);
    buf_init(&call->lines, 64u << 10);
}

void s3_call_release(struct s3_call *call)
{
    http_request_release(&call->req);
    explicit_bzero(call->lines.data, call->lines.len); /* the session token */
    buf_release(&call->lines);
    xfree(call->url);
    call->url = NULL;
}

long s3_backoff_ms(int attempt, long retry_after_ms, uint32_t random)
{
    uint64_t ceiling = S3_BACKOFF_BASE_MS;
    uint64_t delay;

    for (int i = 0; i < attempt && ceiling < S3_BACKOFF_CAP_MS; i++)
        ceiling *= 2;
    if (ceiling > S3_BACKOFF_CAP_MS)
        ceiling = S3_BACKOFF_CAP_MS;
    delay = (uint64_t)random % ceiling;
    if (retry_after_ms > 0) {
        uint64_t ra = (uint64_t)retry_after_ms;
        if (ra > S3_RETRY_AFTER_CAP_MS)
            ra = S3_RETRY_AFTER_CAP_MS;
        if (delay < ra)
            delay = ra;
    }
    return (long)delay;
}

bool s3_is_retryable(enum http_net_code net, long status, const char *s3_code)
{
    if (net == HTTP_NET_TLS)
        return false;
    if (net != HTTP_NET_OK)
        return true;
    if (status >= 500 || status == 429)
        return true;
    return s3_code && (strcmp(s3_code, "RequestTimeout") == 0 || strcmp(s3_code, "SlowDown") == 0 ||
                       strcmp(s3_code, "InternalError") == 0);
}

bool s3_parse_http_date(const char *text, time_t *out)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0')
        return false;
    *out = timegm(&tm);
    return true;
}

static void s3_sleep_ms(long ms)
{
    struct timespec ts;

    while (ms > 0 && !cancel_requested()) {
        long step = ms < 100 ? ms : 100;
        ts.tv_sec = 0;
        ts.tv_nsec = step * 1000000L;
        (void)nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* Waits for the next request slot of max_requests_per_second (a token spacing, which is what
 * providers' per-second limits count). */
static void s3_pace(struct s3_client *c)
{
    struct timespec now;
    int64_t now_ns;
    int64_t slot_ns;
    int64_t step_ns;

    if (c->max_rps <= 0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    slot_ns = (int64_t)c->next_slot.tv_sec * 1000000000 + c->next_slot.tv_nsec;
    step_ns = (int64_t)(1e9 / c->max_rps);
    if (slot_ns > now_ns)
        s3_sleep_ms((long)((slot_ns - now_ns) / 1000000));
    else
        slot_ns = now_ns;
    slot_ns += step_ns;
    c->next_slot.tv_sec = (time_t)(slot_ns / 1000000000);
    c->next_slot.tv_nsec = (long)(slot_ns % 1000000000);
}

/* Appends one NUL-terminated header line, head followed by value, to call->lines and records its
 * offset (pointers are made at the end, since the buffer may move while it grows). No fixed-size
 * copy: an STS session token has no documented maximum length. */
static void s3_add_line(struct s3_call *call, size_t *off, size_t *n, const char *head,
                        const char *value)
{
    ASSERT(*n < S3_MAX_HEADER_LINES);
    off[(*n)++] = call->lines.len;
    ASSERT(buf_adds(&call->lines, head) && buf_adds(&call->lines, value) &&
           buf_add(&call->lines, "", 1));
}

/* Builds the URL and the signed header lines of one attempt. */
static int s3_call_prepare(struct s3_client *c, struct s3_call *call, struct error *err)
{
    struct buf path;
    struct buf auth;
    struct s3_sign_header sh[S3_MAX_HEADER_LINES];
    struct s3_sign_request sr;
    size_t sh_count = 0;
    size_t n = 0;
    char amz_date[17];
    char hash_hex[65];
    const char *payload_hash = call->payload_hash;
    char *names[S3_MAX_HEADER_LINES];
    size_t name_count = 0;
    size_t off[S3_MAX_HEADER_LINES];
    int rc = -1;

    buf_init(&path, BUF_NO_CAP);
    buf_init(&auth, 4096);
    buf_reset(&call->lines);
    if (!payload_hash) {
        unsigned char h[DIGEST_SHA256_LEN];
        digest_sha256(call->body ? call->body : "", call->body_len, h);
        digest_hex(h, sizeof(h), hash_hex);
        payload_hash = hash_hex;
    }
    if (c->path_style) {
        buf_adds(&path, "/");
        s3_encode(&path, c->bucket, false);
        if (call->key) {
            buf_adds(&path, "/");
            s3_encode(&path, call->key, true);
        } else {
            buf_adds(&path, "/");
        }
    } else {
        buf_adds(&path, "/");
        if (call->key)
            s3_encode(&path, call->key, true);
    }
    xfree(call->url);
    call->url = xasprintf("%s%s%s%s", c->scheme_host, path.data,
                          call->query && *call->query ? "?" : "", call->query ? call->query : "");
    s3_sign_format_date((long long)time(NULL), amz_date);

    s3_add_line(call, off, &n, "Host: ", c->host);
    s3_add_line(call, off, &n, "x-amz-date: ", amz_date);
    s3_add_line(call, off, &n, "x-amz-content-sha256: ", payload_hash);
    if (secret_is_set(&c->session_token))
        s3_add_line(call, off, &n, "x-amz-security-token: ", c->session_token.value);
    for (size_t i = 0; i < call->header_count; i++)
        s3_add_line(call, off, &n, "", call->headers[i]);

    /* Sign Host, every x-amz-* header, Content-MD5, Content-Type and Range. */
    for (size_t i = 0; i < n; i++) {
        const char *line = call->lines.data + off[i];
        const char *colon = strchr(line, ':');
        size_t name_len = (size_t)(colon - line);
        bool sign = (name_len == 4 && strncasecmp(line, "host", 4) == 0) ||
                    (name_len > 6 && strncasecmp(line, "x-amz-", 6) == 0) ||
                    (name_len == 11 && strncasecmp(line, "content-md5", 11) == 0) ||
                    (name_len == 12 && strncasecmp(line, "content-type", 12) == 0) ||
                    (name_len == 5 && strncasecmp(line, "range", 5) == 0);
        if (!sign)
            continue;
        names[name_count] = xstrndup(line, name_len);
        sh[sh_count].name = names[name_count++];
        sh[sh_count].value = colon + 1;
        sh_count++;
    }
    memset(&sr, 0, sizeof(sr));
    sr.method = call->method;
    sr.path = path.data;
    sr.query = call->query;
    sr.headers = sh;
    sr.header_count = sh_count;
    sr.payload_hash = payload_hash;
    sr.access_key = c->access_key.value;
    sr.secret_key = c->secret_key.value;
    sr.region = c->region;
    sr.service = "s3";
    sr.amz_date = amz_date;
    if (s3_sign(&sr, &auth, NULL, err) < 0)
        goto out;
    ASSERT(n < S3_MAX_HEADER_LINES);
    off[n++] = call->lines.len;
    ASSERT(buf_adds(&call->lines, "Authorization: "));
    ASSERT(buf_add(&call->lines, auth.data, auth.len + 1));
    for (size_t i = 0; i < n; i++)
        call->line_ptrs[i] = call->lines.data + off[i];
    call->req.method = call->method;
    call->req.url = call->url;
    call->req.headers = call->line_ptrs;
    call->req.header_count = n;
    call->req.send_data = call->body;
    call->req.send_len = call->body_len;
    call->req.is_stream = call->is_stream;
    call->req.timeout_ms = call->timeout_ms;
    /* Small requests (listings, HEAD, DELETE, starting an upload) get a total time limit on top of
     * the low-speed one. Part uploads, streamed GETs and CompleteMultipartUpload (which a server
     * may answer slowly for a large object while it keeps the connection alive) have none, so a
     * slow but moving transfer is never cut off. */
    if (call->timeout_ms == 0 && !call->is_stream && call->body_len == 0 &&
        !(call->query && strncmp(call->query, "uploadId=", 9) == 0))
        call->req.timeout_ms = S3_SMALL_REQUEST_TIMEOUT_MS;
    call->req.is_cleanup = call->is_cleanup;
    rc = 0;
out:
    for (size_t i = 0; i < name_count; i++)
        xfree(names[i]);
    buf_release(&path);
    explicit_bzero(auth.data, auth.len);
    buf_release(&auth);
    return rc;
}

static const char *s3_hint_for(const char *code)
{
    static const struct {
        const char *code;
        const char *hint;
    } hints[] = {
        {"SignatureDoesNotMatch", "check secret_key: the server computed another signature"},
        {"InvalidAccessKeyId", "check access_key: the server does not know this key"},
        {"RequestTimeTooSkewed", "this machine's clock is off by more than 15 minutes: sync it "
                                 "(chrony, systemd-timesyncd)"},
        {"NoSuchBucket", "check 'bucket', or create the bucket first"},
        {"AccessDenied", "check the key's permissions on this bucket and prefix"},
        {"AuthorizationHeaderMalformed", "check 'region': it must match the bucket's region"},
        {"PermanentRedirect", "check 'region' and 'endpoint': the bucket lives elsewhere"},
        {"InvalidBucketName", "bucket names are 3-63 characters: lowercase letters, digits, '-'"},
        {"SlowDown", "the provider is throttling: lower max_requests_per_second or concurrency"},
        {"InvalidLocationConstraint", "check 'region': the server expects another region name"},
    };

    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
        if (strcmp(hints[i].code, code) == 0)
            return hints[i].hint;
    return NULL;
}

/* Turns a finished non-2xx answer or transport failure into err. */
static int s3_call_fail(struct s3_client *c, struct s3_call *call, struct error *err)
{
    const char *what = call->key ? call->key : c->bucket;
    const struct http_request *r = &call->req;
    const char *hint;

    if (r->net_code != HTTP_NET_OK) {
        error_set(err, ERR_NETWORK, "s3 %s '%s': %s: %s (after %d attempt%s)", call->method, what,
                  http_net_code_text(r->net_code), r->net_error, call->attempts,
                  call->attempts == 1 ? "" : "s");
        if (r->net_code == HTTP_NET_CONNECT)
            error_hint(err, "check 'endpoint' (%s) and that the server is reachable",
                       c->scheme_host);
        else if (r->net_code == HTTP_NET_TLS)
            error_hint(err, "check the server's certificate, or set 'ca_file'");
        return -1;
    }
    if (call->s3err.code[0]) {
        error_set(err, ERR_REMOTE, "s3 %s '%s': %ld %s%s%s (request id %s)", call->method, what,
                  r->status, call->s3err.code, call->s3err.message[0] ? ": " : "",
                  call->s3err.message, call->s3err.request_id[0] ? call->s3err.request_id : "none");
    } else {
        char rid[128] = "";
        (void)http_header_get(r, "x-amz-request-id", rid, sizeof(rid));
        error_set(err, ERR_REMOTE, "s3 %s '%s': HTTP %ld%s (request id %s)", call->method, what,
                  r->status, r->status == 404 ? " not found" : "", rid[0] ? rid : "none");
    }
    hint = s3_hint_for(call->s3err.code);
    if (hint)
        error_hint(err, "%s", hint);
    else if (r->status == 404 && !call->key)
        error_hint(err, "check 'bucket': it does not exist at %s", c->scheme_host);
    return -1;
}

/* Reads the S3 error document of a finished answer into call->s3err (empty when none). */
static void s3_call_read_error(struct s3_call *call)
{
    struct error ignored = ERROR_INIT;

    memset(&call->s3err, 0, sizeof(call->s3err));
    if (call->req.net_code != HTTP_NET_OK || call->req.status < 300)
        return;
    if (call->req.body.len > 0 &&
        s3_xml_parse_error(call->req.body.data, call->req.body.len, &call->s3err, &ignored) < 0)
        memset(&call->s3err, 0, sizeof(call->s3err));
    if (!call->s3err.request_id[0])
        (void)http_header_get(&call->req, "x-amz-request-id", call->s3err.request_id,
                              sizeof(call->s3err.request_id));
}

static uint32_t s3_random(void)
{
    uint32_t v = 0;

    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
        v = (uint32_t)time(NULL) * 2654435761u;
    return v;
}

static long s3_retry_after_ms(const struct s3_call *call)
{
    char v[64];
    char *end = NULL;
    unsigned long secs;
    time_t when;

    if (!http_header_get(&call->req, "Retry-After", v, sizeof(v)))
        return 0;
    errno = 0;
    secs = strtoul(v, &end, 10);
    if (errno == 0 && end != v && *end == '\0')
        return secs > 3600 ? 3600000L : (long)secs * 1000L;
    if (s3_parse_http_date(v, &when)) {
        time_t now = time(NULL);
        return when > now ? (long)(when - now) * 1000L : 0;
    }
    return 0;
}

int s3_call_start(struct s3_client *c, struct s3_call *call, struct error *err)
{
    if (s3_call_prepare(c, call, err) < 0)
        return -1;
    s3_pace(c);
    s3_count(c, call);
    call->attempts++;
    return http_start(c->http, &call->req, err);
}

int s3_call_finish(struct s3_client *c, struct s3_call *call, long *retry_in_ms, struct error *err)
{
    const struct http_request *r = &call->req;

    *retry_in_ms = 0;
    if (r->net_code == HTTP_NET_OK &&
        ((r->status >= 200 && r->status < 300) || (r->status == 404 && call->is_404_ok)))
        return 0;
    s3_call_read_error(call);
    if (call->attempts < c->max_attempts &&
        s3_is_retryable(r->net_code, r->status, call->s3err.code)) {
        *retry_in_ms = s3_backoff_ms(call->attempts - 1, s3_retry_after_ms(call), s3_random());
        log_debug("store '%s': s3 %s '%s': %s%s%ld %s, retry %d in %ld ms", c->name, call->method,
                  call->key ? call->key : c->bucket,
                  r->net_code != HTTP_NET_OK ? http_net_code_text(r->net_code) : "",
                  r->net_code != HTTP_NET_OK ? " " : "", r->status, call->s3err.code,
                  call->attempts, *retry_in_ms);
        return 1;
    }
    return s3_call_fail(c, call, err);
}

int s3_call_run(struct s3_client *c, struct s3_call *call, struct error *err)
{
    for (;;) {
        long retry_in_ms = 0;
        int r;

        if (s3_call_prepare(c, call, err) < 0)
            return -1;
        s3_pace(c);
        s3_count(c, call);
        call->attempts++;
        if (call->is_stream) {
            if (http_stream_open(c->http, &call->req, err) < 0)
                return -1;
        } else if (http_perform(c->http, &call->req, err) < 0) {
            return -1;
        }
        /* A stream whose 2xx headers arrived is handed to the reader even if it already broke:
         * what was received is delivered first, and the reader resumes from there. */
        if (call->is_stream && call->req.is_headers_done && call->req.status >= 200 &&
            call->req.status < 300)
            return 0;
        r = s3_call_finish(c, call, &retry_in_ms, err);
        if (call->is_stream)
            http_cancel(c->http, &call->req);
        if (r <= 0)
            return r;
        if (cancel_requested()) /* a cleanup call gets one attempt after a signal */
            return error_set(err, ERR_CANCELLED, "cancelled");
        s3_sleep_ms(retry_in_ms);
        if (cancel_requested())
            return error_set(err, ERR_CANCELLED, "cancelled");
    }
}

int s3_call_read(struct s3_client *c, struct s3_call *call, void *data, size_t cap, size_t *got,
                 struct error *err)
{
    char etag[256] = "";
    uint64_t delivered;

    (void)http_header_get(&call->req, "ETag", etag, sizeof(etag));
    for (;;) {
        struct error rerr = ERROR_INIT;
        const char *extra[2];
        char range[64];
        char if_match[300];
        const char *const *saved_headers;
        size_t saved_count;
        int r;

        if (http_read(c->http, &call->req, data, cap, got, &rerr) == 0) {
            call->delivered += *got;
            return 0;
        }
        if (rerr.kind != ERR_NETWORK || call->attempts >= c->max_attempts) {
            *err = rerr;
            return error_wrap(err, "s3 GET '%s'", call->key);
        }
        /* Resume from the first byte not handed out yet. */
        delivered = call->delivered;
        log_debug("store '%s': s3 GET '%s' broke after %" PRIu64 " bytes (%s); resuming", c->name,
                  call->key, delivered, rerr.msg);
        http_cancel(c->http, &call->req);
        s3_sleep_ms(s3_backoff_ms(call->attempts - 1, 0, s3_random()));
        snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-", delivered);
        extra[0] = range;
        if (etag[0]) {
            snprintf(if_match, sizeof(if_match), "If-Match: %s", etag);
            extra[1] = if_match;
        }
        saved_headers = call->headers;
        saved_count = call->header_count;
        call->headers = extra;
        call->header_count = etag[0] ? 2 : 1;
        r = s3_call_run(c, call, err);
        call->headers = saved_headers;
        call->header_count = saved_count;
        if (r < 0)
            return error_wrap(err, "resume at byte %" PRIu64, delivered);
        if (call->req.status != 206)
            return error_set(err, ERR_REMOTE,
                             "s3 GET '%s': resume at byte %" PRIu64 " answered %ld, not 206",
                             call->key, delivered, call->req.status);
    }
}

bool s3_call_header(const struct s3_call *call, const char *name, char *out, size_t cap)
{
    return http_header_get(&call->req, name, out, cap);
}
