/* The only libssl user. The socket stays non-blocking from connect to close and every wait is a
 * poll() with the connection's timeout, so a silent server costs at most that long; TLS reads and
 * writes are retried on WANT_READ/WANT_WRITE after polling for the direction OpenSSL asked for.
 * Plain sends use MSG_NOSIGNAL; TLS goes through a socket BIO whose write also uses MSG_NOSIGNAL,
 * so a peer that hangs up is an EPIPE error here even where SIGPIPE is not ignored (the unit
 * tests).
 */
#include "net/conn.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "util/buf.h"
#include "util/cancel.h"
#include "util/xalloc.h"

#define CONN_DEFAULT_CONNECT_MS 10000
#define CONN_DEFAULT_IO_MS      60000

struct net_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int io_timeout_ms;
    bool is_broken; /* a fatal TLS error: no close_notify may be sent */
    char peer[320];
};

static int64_t conn_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "12 s" or "250 ms" for messages. */
static void conn_format_ms(char *dst, size_t cap, int ms)
{
    if (ms % 1000 == 0)
        buf_format_fixed(dst, cap, "%d s", ms / 1000);
    else
        buf_format_fixed(dst, cap, "%d ms", ms);
}

/* Waits until fd is ready for events or the deadline passes. Returns 1 ready, 0 timed out, -1 with
 * err set (poll failed, or cancelled by a signal). */
static int conn_wait(int fd, short events, int64_t deadline_ms, struct error *err)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
        int64_t left = deadline_ms - conn_now_ms();
        int r;

        if (left <= 0)
            return 0;
        r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return error_errno(err, ERR_NETWORK, "poll");
        if (cancel_requested())
            return error_set(err, ERR_CANCELLED, "cancelled");
    }
}

static bool conn_errno_is_again(int e)
{
#if EAGAIN != EWOULDBLOCK
    if (e == EWOULDBLOCK)
        return true;
#endif
    return e == EAGAIN;
}

/* A socket BIO whose writes never raise SIGPIPE: the stock socket method with write replaced. */
static BIO_METHOD *conn_bio_method;
static pthread_once_t conn_bio_once = PTHREAD_ONCE_INIT;

static int conn_bio_write(BIO *b, const char *data, int len)
{
    int fd = -1;
    ssize_t n;

    (void)BIO_get_fd(b, &fd);
    BIO_clear_retry_flags(b);
    n = send(fd, data, (size_t)len, MSG_NOSIGNAL);
    if (n < 0) {
        if (conn_errno_is_again(errno) || errno == EINTR)
            BIO_set_retry_write(b);
        return -1;
    }
    return (int)n;
}

static void conn_bio_init(void)
{
    const BIO_METHOD *sock = BIO_s_socket();
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "permafrost socket");

    if (!m)
        return;
    if (!BIO_meth_set_write(m, conn_bio_write) || !BIO_meth_set_read(m, BIO_meth_get_read(sock)) ||
        !BIO_meth_set_puts(m, BIO_meth_get_puts(sock)) ||
        !BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) ||
        !BIO_meth_set_create(m, BIO_meth_get_create(sock)) ||
        !BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock))) {
        BIO_meth_free(m);
        return;
    }
    conn_bio_method = m;
}

/* The reason of the last OpenSSL error in the queue, or what ret/errno say. */
static void conn_ssl_reason(char *dst, size_t cap)
{
    unsigned long e = ERR_peek_last_error();

    if (e) {
        const char *r = ERR_reason_error_string(e);
        if (r)
            buf_format_fixed(dst, cap, "%s", r);
        else
            ERR_error_string_n(e, dst, cap);
    } else if (errno) {
        buf_format_fixed(dst, cap, "%s", strerror(errno));
    } else {
        buf_format_fixed(dst, cap, "connection closed by the server");
    }
}

static bool conn_host_is_ip(const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* Connects one resolved address before the deadline. Returns the socket, or -1 with *sys_errno
 * set (ETIMEDOUT when the deadline passed). */
static int conn_connect_addr(const struct addrinfo *ai, int64_t deadline_ms, int *sys_errno,
                             struct error *err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    int soerr = 0;
    socklen_t slen = sizeof(soerr);
    int r;

    if (fd < 0) {
        *sys_errno = errno;
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        goto connected;
    if (errno != EINPROGRESS) {
        *sys_errno = errno;
        goto fail;
    }
    r = conn_wait(fd, POLLOUT, deadline_ms, err);
    if (r < 0) {
        *sys_errno = -1; /* err is set (cancelled) */
        goto fail;
    }
    if (r == 0) {
        *sys_errno = ETIMEDOUT;
        goto fail;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0)
        soerr = errno;
    if (soerr != 0) {
        *sys_errno = soerr;
        goto fail;
    }
connected:
    /* Commands are small and pipelined by the caller; Nagle would only add latency. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    return fd;
fail:
    close(fd);
    return -1;
}

static int conn_tcp_connect(struct net_conn *c, const struct net_conn_options *o,
                            int64_t deadline_ms, int connect_ms, struct error *err)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    char port[16];
    int last_errno = 0;
    int r;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    buf_format_fixed(port, sizeof(port), "%d", o->port);
    /* getaddrinfo cannot be bounded without a helper thread; its time counts against the connect
     * deadline, which then limits the TCP and TLS steps. */
    r = getaddrinfo(o->host, port, &hints, &res);
    if (r != 0) {
        if (r == EAI_SYSTEM)
            return error_errno(err, ERR_NETWORK, "resolve '%s'", o->host);
        error_set(err, ERR_NETWORK, "resolve '%s': %s", o->host, gai_strerror(r));
        return error_hint(err, "check the host name in the URL");
    }
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int sys = 0;
        c->fd = conn_connect_addr(ai, deadline_ms, &sys, err);
        if (c->fd >= 0)
            break;
        if (sys == -1) {
            freeaddrinfo(res);
            return -1;
        }
        last_errno = sys;
        if (sys == ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    if (c->fd >= 0)
        return 0;
    if (last_errno == ETIMEDOUT) {
        char t[32];
        conn_format_ms(t, sizeof(t), connect_ms);
        error_set(err, ERR_NETWORK, "connect to %s: no answer within %s", c->peer, t);
        return error_hint(err, "is the host reachable and the port open (firewall)?");
    }
    errno = last_errno;
    error_errno(err, ERR_NETWORK, "connect to %s", c->peer);
    if (last_errno == ECONNREFUSED)
        error_hint(err, "is the server running? check host and port");
    return -1;
}

static int conn_tls_handshake(struct net_conn *c, const struct net_conn_options *o,
                              int64_t deadline_ms, struct error *err)
{
    BIO *bio = NULL;
    char reason[256];

    (void)pthread_once(&conn_bio_once, conn_bio_init);
    if (!conn_bio_method)
        return error_set(err, ERR_NETWORK, "TLS setup: cannot create the socket BIO");
    ERR_clear_error();
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx)
        return error_set(err, ERR_NETWORK, "TLS setup: SSL_CTX_new failed");
    if (!SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION))
        return error_set(err, ERR_NETWORK, "TLS setup: cannot require TLS 1.2");
    /* Framing is RESP's lengths and the RDB's own end; a missing close_notify is just a close. */
    SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (o->tls_verify) {
        if (o->ca_file) {
            if (SSL_CTX_load_verify_locations(c->ctx, o->ca_file, NULL) != 1) {
                conn_ssl_reason(reason, sizeof(reason));
                error_set(err, ERR_CONFIG, "ca_file '%s': cannot load: %s", o->ca_file, reason);
                return error_hint(err, "ca_file must be a PEM file of CA certificates");
            }
        } else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
            return error_set(err, ERR_NETWORK, "TLS setup: cannot load the system CA store");
        }
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    }
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl)
        return error_set(err, ERR_NETWORK, "TLS setup: SSL_new failed");
    if (!conn_host_is_ip(o->host) && !SSL_set_tlsext_host_name(c->ssl, o->host))
        return error_set(err, ERR_NETWORK, "TLS setup: cannot set the server name");
    if (o->tls_verify) {
        int ok = conn_host_is_ip(o->host)
                     ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), o->host)
                     : SSL_set1_host(c->ssl, o->host);
        if (!ok)
            return error_set(err, ERR_NETWORK, "TLS setup: cannot set the expected host name");
    }
    bio = BIO_new(conn_bio_method);
    if (!bio)
        return error_set(err, ERR_NETWORK, "TLS setup: BIO_new failed");
    BIO_set_fd(bio, c->fd, BIO_NOCLOSE);
    SSL_set_bio(c->ssl, bio, bio);

    for (;;) {
        int r;
        int e;
        short ev;

        ERR_clear_error();
        errno = 0;
        r = SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int w;
            ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
            w = conn_wait(c->fd, ev, deadline_ms, err);
            if (w < 0)
                return -1;
            if (w == 0) {
                error_set(err, ERR_NETWORK, "TLS handshake with %s: no answer in time", c->peer);
                return error_hint(err, "is the port TLS-enabled? (rediss:// needs a TLS port)");
            }
            continue;
        }
        long v = SSL_get_verify_result(c->ssl);
        if (o->tls_verify && v != X509_V_OK) {
            error_set(err, ERR_NETWORK, "TLS handshake with %s: certificate verify failed: %s",
                      c->peer, X509_verify_cert_error_string(v));
            return error_hint(err, "set ca_file to the CA that signed the server's certificate, "
                                   "or tls_verify = no to skip the check (unsafe)");
        }
        conn_ssl_reason(reason, sizeof(reason));
        error_set(err, ERR_NETWORK, "TLS handshake with %s failed: %s", c->peer, reason);
        return error_hint(err, "is the port TLS-enabled? use redis:// for a plain port");
    }
}

int net_conn_open(const struct net_conn_options *o, struct net_conn **out, struct error *err)
{
    struct net_conn *c = xcalloc(1, sizeof(*c));
    int connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : CONN_DEFAULT_CONNECT_MS;
    int64_t deadline = conn_now_ms() + connect_ms;
    int rc = -1;

    *out = NULL;
    c->fd = -1;
    c->io_timeout_ms = o->io_timeout_ms > 0 ? o->io_timeout_ms : CONN_DEFAULT_IO_MS;
    if (strchr(o->host, ':'))
        buf_format_fixed(c->peer, sizeof(c->peer), "[%s]:%d", o->host, o->port);
    else
        buf_format_fixed(c->peer, sizeof(c->peer), "%s:%d", o->host, o->port);
    if (o->port < 1 || o->port > 65535) {
        error_set(err, ERR_CONFIG, "port %d out of range", o->port);
        goto out;
    }
    if (conn_tcp_connect(c, o, deadline, connect_ms, err) < 0)
        goto out;
    if (o->tls && conn_tls_handshake(c, o, deadline, err) < 0)
        goto out;
    *out = c;
    c = NULL;
    rc = 0;
out:
    net_conn_close(c);
    return rc;
}

static int conn_timeout_error(struct net_conn *c, bool is_write, struct error *err)
{
    char t[32];

    conn_format_ms(t, sizeof(t), c->io_timeout_ms);
    if (is_write)
        return error_set(err, ERR_NETWORK, "%s took no data for %s", c->peer, t);
    return error_set(err, ERR_NETWORK, "no data from %s for %s", c->peer, t);
}

/* One TLS read or write attempt loop: returns bytes moved (> 0), 0 for a clean close on read, or
 * -1 with err set. */
static int conn_tls_io(struct net_conn *c, void *data, size_t len, bool is_write, struct error *err)
{
    int n = len > INT_MAX ? INT_MAX : (int)len;
    int64_t deadline = conn_now_ms() + c->io_timeout_ms;
    char reason[256];

    for (;;) {
        int r;
        int e;
        int w;

        ERR_clear_error();
        errno = 0;
        r = is_write ? SSL_write(c->ssl, data, n) : SSL_read(c->ssl, data, n);
        if (r > 0)
            return r;
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN && !is_write)
            return 0;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            w = conn_wait(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, err);
            if (w < 0)
                return -1;
            if (w == 0)
                return conn_timeout_error(c, is_write, err);
            continue;
        }
        if (e == SSL_ERROR_SYSCALL && errno == EINTR) {
            if (cancel_requested())
                return error_set(err, ERR_CANCELLED, "cancelled");
            continue;
        }
        c->is_broken = true;
        conn_ssl_reason(reason, sizeof(reason));
        return error_set(err, ERR_NETWORK, "%s %s: %s", is_write ? "send to" : "receive from",
                         c->peer, reason);
    }
}

int net_conn_write_all(struct net_conn *c, const void *data, size_t len, struct error *err)
{
    const char *p = data;
    int64_t deadline = conn_now_ms() + c->io_timeout_ms;

    while (len > 0) {
        ssize_t n;

        if (c->ssl) {
            int r = conn_tls_io(c, (void *)(uintptr_t)p, len, true, err);
            if (r < 0)
                return -1;
            n = r;
        } else {
            n = send(c->fd, p, len, MSG_NOSIGNAL);
            if (n < 0) {
                int w;
                if (errno == EINTR) {
                    if (cancel_requested())
                        return error_set(err, ERR_CANCELLED, "cancelled");
                    continue;
                }
                if (!conn_errno_is_again(errno))
                    return error_errno(err, ERR_NETWORK, "send to %s", c->peer);
                w = conn_wait(c->fd, POLLOUT, deadline, err);
                if (w < 0)
                    return -1;
                if (w == 0)
                    return conn_timeout_error(c, true, err);
                continue;
            }
        }
        p += n;
        len -= (size_t)n;
        deadline = conn_now_ms() + c->io_timeout_ms;
    }
    return 0;
}

int net_conn_read(struct net_conn *c, void *data, size_t cap, size_t *got, struct error *err)
{
    int64_t deadline = conn_now_ms() + c->io_timeout_ms;

    *got = 0;
    if (c->ssl) {
        int r = conn_tls_io(c, data, cap, false, err);
        if (r < 0)
            return -1;
        *got = (size_t)r;
        return 0;
    }
    for (;;) {
        ssize_t n = recv(c->fd, data, cap, 0);
        int w;

        if (n >= 0) {
            *got = (size_t)n;
            return 0;
        }
        if (errno == EINTR) {
            if (cancel_requested())
                return error_set(err, ERR_CANCELLED, "cancelled");
            continue;
        }
        if (!conn_errno_is_again(errno))
            return error_errno(err, ERR_NETWORK, "receive from %s", c->peer);
        w = conn_wait(c->fd, POLLIN, deadline, err);
        if (w < 0)
            return -1;
        if (w == 0)
            return conn_timeout_error(c, false, err);
    }
}

void net_conn_set_read_batch(struct net_conn *c, size_t bytes)
{
    int v = bytes > 1 && bytes < INT_MAX ? (int)bytes : 1;

    if (c->ssl)
        return;
    /* Best effort: without it the reads are only smaller. */
    (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
}

void net_conn_set_timeout(struct net_conn *c, int io_timeout_ms)
{
    c->io_timeout_ms = io_timeout_ms > 0 ? io_timeout_ms : CONN_DEFAULT_IO_MS;
}

const char *net_conn_peer(const struct net_conn *c)
{
    return c->peer;
}

void net_conn_close(struct net_conn *c)
{
    if (!c)
        return;
    if (c->ssl) {
        /* Best effort: one non-blocking attempt, no waiting for the peer's reply. */
        ERR_clear_error();
        if (!c->is_broken && SSL_is_init_finished(c->ssl))
            (void)SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->ctx);
    ERR_clear_error();
    if (c->fd >= 0)
        close(c->fd);
    xfree(c);
}

const char *net_conn_tls_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}
