/* The server side of HTTP/1.x for small local endpoints (metrics): a pure parser of a request head
 * (fuzzed: it reads outside input) and a loop that answers the connections pending on a listening
 * socket, one request per connection, each under a deadline. No request bodies, no keep-alive. */
#ifndef PERMAFROST_NET_HTTP_SERVE_H
#define PERMAFROST_NET_HTTP_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define HTTP_SERVE_HEAD_MAX    8192 /* request line and headers */
#define HTTP_SERVE_METHOD_MAX  16   /* with the NUL */
#define HTTP_SERVE_PATH_MAX    1024 /* with the NUL */
#define HTTP_SERVE_HEADERS_MAX 64

enum http_serve_parse {
    HTTP_SERVE_INCOMPLETE = 0, /* no blank line yet: read more */
    HTTP_SERVE_COMPLETE,       /* the head is complete and well formed */
    HTTP_SERVE_MALFORMED,      /* not an HTTP/1.0 or 1.1 request head: answer 400 */
    HTTP_SERVE_TOO_LARGE,      /* longer than HTTP_SERVE_HEAD_MAX, or too many headers: 431 */
};

struct http_serve_head {
    char method[HTTP_SERVE_METHOD_MAX]; /* "GET", as sent (methods are case-sensitive) */
    char path[HTTP_SERVE_PATH_MAX];     /* the target up to any '?' */
    int version_minor;                  /* 0 or 1 */
    size_t len;                         /* bytes of the head, blank line included */
};

/* Parses the request head at the start of data[0..len) (not NUL-terminated; bytes after the blank
 * line are ignored). Lines end in CRLF or LF. The request line must be METHOD SP TARGET SP
 * HTTP/1.x with an upper-case token method and an origin-form target ('/' then visible ASCII);
 * header lines must be NAME ':' VALUE with a token name and no control characters but tab. *out is
 * filled only on HTTP_SERVE_COMPLETE. */
enum http_serve_parse http_serve_parse_head(const char *data, size_t len,
                                            struct http_serve_head *out);

/* What a handler answers. body starts empty with a cap; the server drops it for HEAD. */
struct http_serve_response {
    int status; /* 200, 404, ... */
    const char *content_type;
    struct buf body;
};

/* Called for each well-formed request; sets res->status, content_type and body. */
typedef void (*http_serve_handler_fn)(const struct http_serve_head *req,
                                      struct http_serve_response *res, void *ctx);

/* A spare descriptor for http_serve_pending (-1 when none could be opened). */
int http_serve_spare_open(void);

/* Accepts the connections pending on the non-blocking listening socket listen_fd (at most
 * max_connections) and answers each with handler: read the head, answer, close. A connection gets
 * at most deadline_ms for reading its request and writing the answer, and the whole call at most
 * max_connections * deadline_ms. Malformed heads get 400, oversized 431, a method other than
 * GET/HEAD is the handler's to refuse. When the process is out of descriptors, a connection is
 * accepted with *spare_fd (from http_serve_spare_open; closed and reopened here) and closed
 * unanswered, so that it does not stay pending; spare_fd may be NULL. Returns the number of
 * connections served or dropped. */
size_t http_serve_pending(int listen_fd, int deadline_ms, size_t max_connections, int *spare_fd,
                          http_serve_handler_fn handler, void *ctx);

/* "OK", "Not Found", ... for the status codes used here; "Error" for others. */
const char *http_serve_reason(int status);

#endif
