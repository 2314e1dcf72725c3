#include "net/http_serve.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

/* EWOULDBLOCK is EAGAIN on Linux: only EAGAIN is tested. */

#include <sys/socket.h>

#include "util/log.h"
#include "util/time.h"

#define HTTP_SERVE_BODY_MAX (64u << 20) /* an answer larger than this is a bug: 500 */

/* RFC 9110 tchar */
static bool http_serve_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The end of the line starting at p (the index of its '\n'), or -1 when there is none yet. */
static ptrdiff_t http_serve_line_end(const char *data, size_t start, size_t len)
{
    const char *nl = memchr(data + start, '\n', len - start);
    return nl ? nl - data : -1;
}

static enum http_serve_parse http_serve_parse_request_line(const char *line, size_t len,
                                                           struct http_serve_head *out)
{
    size_t i = 0;
    size_t m = 0;
    size_t p = 0;

    while (i < len && line[i] >= 'A' && line[i] <= 'Z') {
        if (m + 1 >= sizeof(out->method))
            return HTTP_SERVE_MALFORMED;
        out->method[m++] = line[i++];
    }
    out->method[m] = '\0';
    if (m == 0 || i >= len || line[i] != ' ')
        return HTTP_SERVE_MALFORMED;
    i++;
    if (i >= len || line[i] != '/')
        return HTTP_SERVE_MALFORMED;
    while (i < len && line[i] != ' ') {
        unsigned char c = (unsigned char)line[i];
        if (c <= 0x20 || c >= 0x7f)
            return HTTP_SERVE_MALFORMED;
        if (p + 1 >= sizeof(out->path))
            return HTTP_SERVE_TOO_LARGE;
        out->path[p++] = (char)c;
        i++;
    }
    out->path[p] = '\0';
    /* The query string is not part of the route. */
    {
        char *q = strchr(out->path, '?');
        if (q)
            *q = '\0';
    }
    if (i >= len || line[i] != ' ')
        return HTTP_SERVE_MALFORMED;
    i++;
    if (len - i != 8 || memcmp(line + i, "HTTP/1.", 7) != 0 ||
        (line[i + 7] != '0' && line[i + 7] != '1'))
        return HTTP_SERVE_MALFORMED;
    out->version_minor = line[i + 7] - '0';
    return HTTP_SERVE_COMPLETE;
}

static bool http_serve_header_ok(const char *line, size_t len)
{
    size_t i = 0;

    while (i < len && http_serve_is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i >= len || line[i] != ':')
        return false;
    for (i++; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

enum http_serve_parse http_serve_parse_head(const char *data, size_t len,
                                            struct http_serve_head *out)
{
    struct http_serve_head head;
    size_t pos = 0;
    size_t headers = 0;
    bool is_first = true;

    memset(&head, 0, sizeof(head));
    for (;;) {
        ptrdiff_t end = http_serve_line_end(data, pos, len);
        size_t line_len;
        enum http_serve_parse r;

        if (end < 0) {
            /* A request line that is already wrong need not wait for the rest. */
            if (is_first && len > pos) {
                for (size_t i = pos; i < len && i < pos + HTTP_SERVE_METHOD_MAX; i++) {
                    if (data[i] == ' ')
                        break;
                    if (data[i] < 'A' || data[i] > 'Z')
                        return HTTP_SERVE_MALFORMED;
                }
            }
            return len >= HTTP_SERVE_HEAD_MAX ? HTTP_SERVE_TOO_LARGE : HTTP_SERVE_INCOMPLETE;
        }
        if ((size_t)end + 1 > HTTP_SERVE_HEAD_MAX)
            return HTTP_SERVE_TOO_LARGE;
        line_len = (size_t)end - pos;
        if (line_len > 0 && data[pos + line_len - 1] == '\r')
            line_len--;
        if (is_first) {
            r = http_serve_parse_request_line(data + pos, line_len, &head);
            if (r != HTTP_SERVE_COMPLETE)
                return r;
            is_first = false;
        } else if (line_len == 0) {
            head.len = (size_t)end + 1;
            *out = head;
            return HTTP_SERVE_COMPLETE;
        } else {
            /* Obsolete line folding (a leading space) fails the token check. */
            if (!http_serve_header_ok(data + pos, line_len))
                return HTTP_SERVE_MALFORMED;
            if (++headers > HTTP_SERVE_HEADERS_MAX)
                return HTTP_SERVE_TOO_LARGE;
        }
        pos = (size_t)end + 1;
    }
}

const char *http_serve_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    default:
        return "Error";
    }
}

static int64_t http_serve_left_ms(int64_t deadline_ms)
{
    int64_t left = deadline_ms - time_mono_ms();
    return left > 0 ? left : 0;
}

/* Waits for events on fd until the deadline; false when it passed or poll failed. */
static bool http_serve_wait(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events, .revents = 0};
        int64_t left = http_serve_left_ms(deadline_ms);
        int r;

        if (left <= 0)
            return false;
        r = poll(&p, 1, (int)left);
        if (r > 0)
            return true;
        if (r == 0 || errno != EINTR)
            return false;
    }
}

static bool http_serve_send_all(int fd, const char *data, size_t len, int64_t deadline_ms)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN && http_serve_wait(fd, POLLOUT, deadline_ms))
            continue;
        return false;
    }
    return true;
}

static void http_serve_answer(int fd, const struct http_serve_head *head,
                              struct http_serve_response *res, int64_t deadline_ms)
{
    char top[256];
    bool is_head = head && strcmp(head->method, "HEAD") == 0;
    int n;

    n = snprintf(top, sizeof(top),
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\nCache-Control: no-store\r\n\r\n",
                 res->status, http_serve_reason(res->status),
                 res->content_type ? res->content_type : "text/plain; charset=utf-8",
                 res->body.len);
    if (n < 0 || (size_t)n >= sizeof(top))
        return;
    if (!http_serve_send_all(fd, top, (size_t)n, deadline_ms))
        return;
    if (!is_head)
        (void)http_serve_send_all(fd, res->body.data, res->body.len, deadline_ms);
}

static void http_serve_error(int fd, int status, int64_t deadline_ms)
{
    struct http_serve_response res;

    res.status = status;
    res.content_type = "text/plain; charset=utf-8";
    buf_init(&res.body, 256);
    (void)buf_addf(&res.body, "%s\n", http_serve_reason(status));
    http_serve_answer(fd, NULL, &res, deadline_ms);
    buf_release(&res.body);
}

static void http_serve_one(int fd, int deadline_ms, http_serve_handler_fn handler, void *ctx)
{
    char data[HTTP_SERVE_HEAD_MAX];
    size_t len = 0;
    int64_t deadline = time_mono_ms() + deadline_ms;
    struct http_serve_head head;
    enum http_serve_parse r = HTTP_SERVE_INCOMPLETE;

    while (r == HTTP_SERVE_INCOMPLETE) {
        ssize_t n;

        if (len == sizeof(data)) {
            r = HTTP_SERVE_TOO_LARGE;
            break;
        }
        n = recv(fd, data + len, sizeof(data) - len, 0);
        if (n > 0) {
            len += (size_t)n;
            r = http_serve_parse_head(data, len, &head);
            continue;
        }
        if (n == 0) {
            log_debug("http server: a client closed its connection before a complete request");
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            log_debug("http server: receive: %s", strerror(errno));
            return;
        }
        if (http_serve_wait(fd, POLLIN, deadline))
            continue;
        log_debug("http server: no complete request within %d ms; answered 408", deadline_ms);
        http_serve_error(fd, 408, time_mono_ms() + 100);
        return;
    }
    switch (r) {
    case HTTP_SERVE_COMPLETE: {
        struct http_serve_response res;

        res.status = 500;
        res.content_type = "text/plain; charset=utf-8";
        buf_init(&res.body, HTTP_SERVE_BODY_MAX);
        handler(&head, &res, ctx);
        http_serve_answer(fd, &head, &res, deadline);
        buf_release(&res.body);
        break;
    }
    case HTTP_SERVE_MALFORMED:
        log_debug("http server: malformed request; answered 400");
        http_serve_error(fd, 400, deadline);
        break;
    case HTTP_SERVE_TOO_LARGE:
        log_debug("http server: request head too large; answered 431");
        http_serve_error(fd, 431, deadline);
        break;
    case HTTP_SERVE_INCOMPLETE:
        break;
    }
}

/* Closing a socket with unread input sends a reset, which can make the client lose the answer
 * (an oversized head, a request with a body): half-close, then read what is still arriving for a
 * moment. */
static void http_serve_drain(int fd)
{
    char sink[4096];
    int64_t deadline = time_mono_ms() + 200;
    size_t total = 0;

    (void)shutdown(fd, SHUT_WR);
    while (total < (1u << 20)) {
        ssize_t n = recv(fd, sink, sizeof(sink), 0);
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN && http_serve_wait(fd, POLLIN, deadline))
            continue;
        break;
    }
}

int http_serve_spare_open(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Out of descriptors, the pending connection would stay queued and keep the listening socket
 * readable, so a poll loop would spin on it: give up the spare descriptor for a moment to accept
 * the connection and close it at once. */
static void http_serve_shed(int listen_fd, int *spare_fd)
{
    int fd;

    if (!spare_fd || *spare_fd < 0)
        return;
    close(*spare_fd);
    *spare_fd = -1;
    fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    *spare_fd = http_serve_spare_open();
}

size_t http_serve_pending(int listen_fd, int deadline_ms, size_t max_connections, int *spare_fd,
                          http_serve_handler_fn handler, void *ctx)
{
    size_t served = 0;

    while (served < max_connections) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                log_debug("http server: accept: %s; connection dropped", strerror(errno));
                http_serve_shed(listen_fd, spare_fd);
                served++;
                continue;
            }
            if (errno != EAGAIN)
                log_debug("http server: accept: %s", strerror(errno));
            break;
        }
        http_serve_one(fd, deadline_ms, handler, ctx);
        http_serve_drain(fd);
        close(fd);
        served++;
    }
    return served;
}
