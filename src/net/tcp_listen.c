#include "net/tcp_listen.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/strv.h"
#include "util/xalloc.h"

#define TCP_LISTEN_BACKLOG 16

struct tcp_listener {
    int fd;
    int port;
    char address[TCP_LISTEN_ADDR_LEN];
};

int tcp_listen_split(const char *address, char *host_out, size_t host_cap, int *port_out,
                     struct error *err)
{
    const char *colon;
    const char *host = address;
    size_t host_len;
    uint64_t port;

    if (!address || !*address)
        return error_set(err, ERR_CONFIG, "listen address is empty: expected HOST:PORT");
    if (address[0] == '[') {
        const char *close = strchr(address, ']');
        if (!close || close[1] != ':')
            return error_set(err, ERR_CONFIG,
                             "listen address '%s': expected [IPv6]:PORT, e.g. [::1]:9187", address);
        host = address + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(address, ':');
        if (!colon)
            return error_set(err, ERR_CONFIG,
                             "listen address '%s': expected HOST:PORT, e.g. 127.0.0.1:9187",
                             address);
        host_len = (size_t)(colon - address);
        if (memchr(address, ':', host_len))
            return error_set(err, ERR_CONFIG,
                             "listen address '%s': write an IPv6 address in brackets, e.g. "
                             "[::1]:9187",
                             address);
    }
    if (host_len >= host_cap)
        return error_set(err, ERR_CONFIG, "listen address '%s': host name too long", address);
    if (!strv_to_u64(strv_from(colon + 1), &port) || port > 65535)
        return error_set(err, ERR_CONFIG, "listen address '%s': port must be 0..65535", address);
    memcpy(host_out, host, host_len);
    host_out[host_len] = '\0';
    *port_out = (int)port;
    return 0;
}

static void tcp_listen_format(const struct sockaddr_storage *ss, char *out, size_t cap, int *port)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
        (void)inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        *port = ntohs(a->sin6_port);
        snprintf(out, cap, "[%s]:%d", ip, *port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;
        (void)inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        *port = ntohs(a->sin_port);
        snprintf(out, cap, "%s:%d", ip, *port);
    }
}

int tcp_listen_open(const char *address, struct tcp_listener **out, struct error *err)
{
    char host[256] = "";
    char port_text[16];
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct tcp_listener *l = NULL;
    int fd = -1;
    int saved_errno = 0;
    int port = 0;
    int r;
    int rc = -1;

    *out = NULL;
    if (tcp_listen_split(address, host, sizeof(host), &port, err) < 0)
        goto out;
    snprintf(port_text, sizeof(port_text), "%d", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    r = getaddrinfo(host[0] ? host : NULL, port_text, &hints, &res);
    if (r != 0) {
        error_set(err, ERR_CONFIG, "listen address '%s': cannot resolve '%s': %s", address, host,
                  gai_strerror(r));
        goto out;
    }
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int one = 1;

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved_errno = errno;
            continue;
        }
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, TCP_LISTEN_BACKLOG) == 0)
            break;
        saved_errno = errno;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        errno = saved_errno;
        if (saved_errno == EADDRINUSE)
            error_set(err, ERR_IO, "listen on '%s': address in use", address);
        else
            error_errno(err, ERR_IO, "listen on '%s'", address);
        goto out;
    }
    l = xcalloc(1, sizeof(*l));
    l->fd = fd;
    {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        memset(&ss, 0, sizeof(ss));
        if (getsockname(l->fd, (struct sockaddr *)(void *)&ss, &len) == 0)
            tcp_listen_format(&ss, l->address, sizeof(l->address), &l->port);
        else
            snprintf(l->address, sizeof(l->address), "%s", address);
    }
    *out = l;
    l = NULL;
    rc = 0;
out:
    if (res)
        freeaddrinfo(res);
    tcp_listen_close(l);
    return rc;
}

int tcp_listen_fd(const struct tcp_listener *l)
{
    return l->fd;
}

int tcp_listen_port(const struct tcp_listener *l)
{
    return l->port;
}

const char *tcp_listen_address(const struct tcp_listener *l)
{
    return l->address;
}

void tcp_listen_close(struct tcp_listener *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    xfree(l);
}
