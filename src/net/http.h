/* HTTP over libcurl: the only file that includes curl. One client owns a curl multi handle, so
 * every request, blocking or not, shares one pool of keep-alive connections, and several requests
 * (multipart parts) can be in flight at once without threads.
 *
 * Requests are described by the caller in a struct http_request, which also receives the result.
 * A request ends in one of two ways: a response was received (status set, net_code 0, whatever the
 * status) or the transfer failed (net_code set: connection refused, reset, timeout, truncated
 * body). Retrying is the caller's business (the S3 store knows which answers are worth another
 * try). The library never logs a header value: Authorization lives only in the header array. */
#ifndef PERMAFROST_NET_HTTP_H
#define PERMAFROST_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

#define HTTP_DEFAULT_BODY_CAP  (1u << 20) /* collected bodies: S3 XML answers, error documents */
#define HTTP_HEADER_BLOCK_CAP  (64u << 10)
#define HTTP_STREAM_BUFFER_CAP (4u << 20) /* streamed GET: received but not yet read */

struct http_client;
struct http_xfer;

struct http_client_options {
    const char *ca_file;      /* NULL: the system's trust store */
    long connect_timeout_ms;  /* 0: 10 s */
    long low_speed_time_ms;   /* 0: 60 s: a transfer under 1 byte/s for this long fails */
    int max_host_connections; /* 0: no limit */
};

enum http_net_code {
    HTTP_NET_OK = 0,
    HTTP_NET_CONNECT, /* could not resolve or connect */
    HTTP_NET_TIMEOUT, /* connect, low-speed or total timeout */
    HTTP_NET_BROKEN,  /* reset, closed or truncated in the middle of the exchange */
    HTTP_NET_TLS,     /* certificate or handshake failure: retrying will not help */
    HTTP_NET_OTHER,   /* anything else curl reports */
};

struct http_request {
    /* Set by the caller before http_start/http_perform; borrowed until the request ends. */
    const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *url;
    const char *const *headers; /* "Name: value" lines */
    size_t header_count;
    const void *send_data; /* request body, sent as is; NULL with send_len 0 for none */
    size_t send_len;
    bool is_stream;  /* the response body is pulled with http_read instead of collected */
    long timeout_ms; /* whole-transfer limit; 0: none (low-speed limit still applies) */
    bool is_cleanup; /* http_perform runs it even after SIGINT/SIGTERM (aborting an upload on the
                      * way out); give it a timeout_ms */
    void *user;      /* the caller's tag, untouched */

    /* Results. */
    long status;          /* final HTTP status; 0 when no response arrived */
    bool is_headers_done; /* the final response's headers have arrived */
    bool is_done;         /* the request has ended (see the file comment) */
    enum http_net_code net_code;
    char net_error[256];     /* curl's message for net_code, "" when none */
    struct buf body;         /* collected body (also the error body of a failed stream) */
    bool is_body_truncated;  /* more body arrived than the cap allowed; the rest was dropped */
    struct buf header_block; /* the final response's header lines, "name: value\r\n" */
    uint64_t bytes_received; /* response body bytes received so far */

    struct http_xfer *xfer; /* private: the transfer while the request is in flight */
};

/* Prepares r for use (body cap HTTP_DEFAULT_BODY_CAP). Must be paired with http_request_release. */
void http_request_init(struct http_request *r);
/* Resets the results so r can be sent again (a retry); the request fields stay. */
void http_request_reset(struct http_request *r);
/* Frees the result buffers. The request must not be in flight (see http_cancel). */
void http_request_release(struct http_request *r);

/* Creates a client. *out: http_client_free. Fails only when libcurl cannot be set up. */
int http_client_new(const struct http_client_options *opts, struct http_client **out,
                    struct error *err);
/* Cancels what is still in flight and frees the client. NULL-safe. */
void http_client_free(struct http_client *c);

/* Starts r without waiting. It makes progress whenever the client is driven (http_wait,
 * http_perform, http_read on any request). */
int http_start(struct http_client *c, struct http_request *r, struct error *err);
/* Drives the client until one started, non-stream request ends, and returns it in *done; after
 * timeout_ms (-1: no limit) returns 0 with *done = NULL. Fails with ERR_USAGE when nothing is in
 * flight and ERR_CANCELLED on SIGINT/SIGTERM. */
int http_wait(struct http_client *c, long timeout_ms, struct http_request **done,
              struct error *err);
/* Starts r and drives the client until r ends (other requests progress meanwhile; those that end
 * are returned by later http_wait calls). Returns 0 when r ended, whatever its outcome; -1 only
 * on cancellation. */
int http_perform(struct http_client *c, struct http_request *r, struct error *err);
/* For is_stream requests: drives until the final status is known or the request failed. A status
 * outside 2xx is read to the end into r->body (the error document) before returning. */
int http_stream_open(struct http_client *c, struct http_request *r, struct error *err);
/* Reads up to cap bytes of a 2xx streamed body; *got = 0 at its end. When the transfer breaks
 * midway, returns -1 with ERR_NETWORK (r->net_code says why; r->bytes_received minus the bytes
 * still unread tells where to resume). */
int http_read(struct http_client *c, struct http_request *r, void *data, size_t cap, size_t *got,
              struct error *err);
/* Abandons r if it is in flight (the connection is closed, not reused). Safe when r has ended. */
void http_cancel(struct http_client *c, struct http_request *r);
/* Number of started requests that have not been returned by http_wait/http_perform yet. */
size_t http_in_flight(const struct http_client *c);

/* Finds response header name (case-insensitive) in r->header_block and copies its value, trimmed,
 * into out (cut to cap). Returns false when absent. */
bool http_header_get(const struct http_request *r, const char *name, char *out, size_t cap);

/* An e-mail sent with libcurl's SMTP client (the notifications' smtp:// channel). */
struct http_smtp_request {
    const char *url;  /* "smtp://host:587" (STARTTLS per is_tls_required) or "smtps://host:465" */
    const char *user; /* NULL: no AUTH */
    const char *password;          /* never logged */
    const char *from;              /* envelope sender, a bare address */
    const char *const *recipients; /* bare addresses */
    size_t recipient_count;
    const char *message; /* the whole RFC 5322 message, CRLF line ends */
    size_t message_len;
    const char *ca_file;     /* NULL: the system's trust store */
    bool is_tls_required;    /* smtp://: STARTTLS or fail (CURLUSESSL_ALL); false: plain (a local
                              * relay only) */
    long timeout_ms;         /* whole-transfer limit; 0: 30 s */
    long connect_timeout_ms; /* 0: 10 s */
    /* Results. */
    long reply_code;   /* the server's last SMTP reply code, 0 when none */
    bool is_retryable; /* a network failure or a 4xx (transient) reply */
};

/* Sends one message, blocking (within timeout_ms). Returns 0 when the server accepted it; -1 with
 * ERR_NETWORK (no or broken connection, TLS) or ERR_REMOTE ("SMTP reply 550"), and r's results
 * set. The message never contains the password. */
int http_smtp_send(struct http_smtp_request *r, struct error *err);

/* libcurl's version string, for `permafrost version`. */
const char *http_version(void);
/* Human words for a net code, for messages ("connection reset"). */
const char *http_net_code_text(enum http_net_code code);

#endif
