/* The S3 protocol, one request at a time or several in flight: addressing (path-style or
 * virtual-hosted), SigV4 headers, the rate limit, retries with exponential backoff and full jitter,
 * and error documents turned into one-line messages with the S3 code and request id. Used by
 * s3_store.c (the store interface) and, later, the media mirror. Keys given here are full object
 * keys in the bucket (the store's prefix already applied). */
#ifndef PERMAFROST_STORES_S3_CLIENT_H
#define PERMAFROST_STORES_S3_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "net/http.h"
#include "stores/s3_xml.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/secret.h"

#define S3_MAX_ATTEMPTS_DEFAULT     8
#define S3_BACKOFF_BASE_MS          200
#define S3_BACKOFF_CAP_MS           20000
#define S3_RETRY_AFTER_CAP_MS       60000
#define S3_SMALL_REQUEST_TIMEOUT_MS 120000 /* total limit of a request without a body */

struct s3_client_options {
    const char *name;     /* the store name, for messages */
    const char *endpoint; /* "https://host[:port]"; NULL: https://s3.REGION.amazonaws.com */
    const char *region;   /* NULL: us-east-1 */
    const char *bucket;
    int path_style; /* 1, 0, or -1: yes when endpoint is given, else virtual-hosted */
    const struct secret *access_key;
    const struct secret *secret_key;
    const struct secret *session_token; /* may be unset */
    const char *ca_file;
    double max_requests_per_second; /* 0: unlimited */
    int max_connections;            /* per host; 0: unlimited */
    long connect_timeout_ms;
    long low_speed_time_ms;
    int max_attempts; /* 0: S3_MAX_ATTEMPTS_DEFAULT */
    /* Borrowed: send the requests through this client (one libcurl multi handle for several S3
     * clients, so the mirror waits on both sides at once). NULL: the client makes its own. */
    struct http_client *http;
};

/* What the requests sent were, for statistics (`run --json` of a mirror). */
enum s3_request_kind {
    S3_REQ_LIST = 0, /* GET on the bucket: ListObjectsV2, ListMultipartUploads */
    S3_REQ_HEAD,
    S3_REQ_GET,    /* GetObject (also Range resumes), GetObjectAcl */
    S3_REQ_PUT,    /* PutObject, UploadPart, and the multipart POSTs (create, complete) */
    S3_REQ_COPY,   /* CopyObject, UploadPartCopy */
    S3_REQ_DELETE, /* DeleteObject, AbortMultipartUpload, DeleteObjects (POST ?delete) */
    S3_REQ_KIND_COUNT,
};

struct s3_client_counters {
    uint64_t requests[S3_REQ_KIND_COUNT]; /* attempts sent, retries included */
    uint64_t retries;                     /* attempts after the first */
};

struct s3_client;

/* Checks the options and creates a client (no request is sent). Credentials missing from opts are
 * taken from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. ERR_CONFIG when the
 * endpoint is malformed or no credentials are found. *out: s3_client_free. */
int s3_client_new(const struct s3_client_options *opts, struct s3_client **out, struct error *err);
void s3_client_free(struct s3_client *c);
/* "s3://bucket" or "http://127.0.0.1:7480/bucket", for messages and `list`. */
const char *s3_client_location(const struct s3_client *c);
struct http_client *s3_client_http(struct s3_client *c);
/* True when both clients reach the same endpoint with the same access key, so a server-side copy
 * from one bucket to the other is possible. */
bool s3_client_same_service(const struct s3_client *a, const struct s3_client *b);
const char *s3_client_bucket(const struct s3_client *c);
/* Requests sent by this client so far. */
const struct s3_client_counters *s3_client_counters(const struct s3_client *c);

/* One S3 request: what to send and, after s3_call_* returns, what came back. */
struct s3_call {
    const char *method;
    const char *key;            /* full object key; NULL for the bucket itself */
    const char *query;          /* encoded, without '?'; NULL for none */
    const char *const *headers; /* extra "Name: value" lines (signed when x-amz-* or content-md5) */
    size_t header_count;
    const void *body;
    size_t body_len;
    const char *payload_hash; /* NULL: SHA-256 of body */
    bool is_stream;           /* GET whose body is read with s3_call_read */
    long timeout_ms;          /* whole request; 0: none */
    bool is_404_ok;           /* a 404 is an answer, not an error (HEAD, DELETE) */
    bool is_cleanup; /* sent even after SIGINT/SIGTERM, once (abort an upload); set timeout_ms */

    /* private and result */
    struct http_request req;
    struct buf lines; /* the header lines, NUL-separated */
    const char *line_ptrs[48];
    char *url;
    struct s3_xml_error s3err; /* code, message and request id of a failed answer */
    int attempts;
    uint64_t delivered; /* body bytes handed out by s3_call_read */
};

void s3_call_init(struct s3_call *call);
void s3_call_release(struct s3_call *call);

/* Sends the call, retrying what is worth retrying (connection failures, timeouts, 5xx, 429, 503
 * SlowDown, 400 RequestTimeout) up to max_attempts with backoff, honouring Retry-After. Returns 0
 * on a 2xx answer (or a 404 when is_404_ok; call->req.status tells), with the body in
 * call->req.body; -1 otherwise, with ERR_REMOTE ("s3 PUT 'key': 403 SignatureDoesNotMatch: ...
 * (request id ...)" plus a hint) or ERR_NETWORK. For is_stream calls it returns once a 2xx status
 * is known; read the body with s3_call_read. */
int s3_call_run(struct s3_client *c, struct s3_call *call, struct error *err);

/* Non-blocking variant for parallel requests: signs and starts the call. Its end is reported by
 * http_wait on s3_client_http(c) (the http_request is &call->req; call->req.user is left to the
 * caller). Then s3_call_finish interprets it: 0 for a 2xx answer; 1 when it failed and is worth
 * another try (*retry_in_ms set, after which s3_call_start again); -1 with err when it failed for
 * good. */
int s3_call_start(struct s3_client *c, struct s3_call *call, struct error *err);
int s3_call_finish(struct s3_client *c, struct s3_call *call, long *retry_in_ms, struct error *err);

/* Reads the streamed body of a successful is_stream call. A connection broken midway is resumed
 * transparently with a Range request from the next unread byte (If-Match on the ETag, so a changed
 * object fails instead of mixing versions). *got = 0 at the end. */
int s3_call_read(struct s3_client *c, struct s3_call *call, void *data, size_t cap, size_t *got,
                 struct error *err);

/* Exponential backoff with full jitter: a delay in [0, min(cap, base * 2^attempt)), at least
 * retry_after_ms when the server asked for it (capped at S3_RETRY_AFTER_CAP_MS). random is any
 * uniformly distributed 32-bit value. Pure. */
long s3_backoff_ms(int attempt, long retry_after_ms, uint32_t random);
/* Whether an answer is worth another try: transport failures other than TLS, 5xx, 429, and the
 * 400 RequestTimeout / 503 SlowDown codes. Pure. */
bool s3_is_retryable(enum http_net_code net, long status, const char *s3_code);
/* Parses an HTTP date ("Sun, 29 Nov 2026 08:13:40 GMT") or a Retry-After delay in seconds. */
bool s3_parse_http_date(const char *text, time_t *out);

/* The header lines of an answer. */
bool s3_call_header(const struct s3_call *call, const char *name, char *out, size_t cap);

/* Appends the URI encoding of a key (or query value) to out; '/' kept when keep_slash. */
void s3_encode(struct buf *out, const char *s, bool keep_slash);

#endif
