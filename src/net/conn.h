/* A blocking TCP stream to a server, plain or TLS (OpenSSL's libssl, only here): what the Redis
 * client speaks over. Every call has a timeout; nothing waits forever on a silent server. */
#ifndef PERMAFROST_NET_CONN_H
#define PERMAFROST_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

struct net_conn;

struct net_conn_options {
    const char *host;       /* name or address; IPv6 without brackets */
    int port;               /* 1..65535 */
    bool tls;               /* TLS 1.2+ with SNI = host (when host is a name) */
    const char *ca_file;    /* PEM bundle; NULL: the system's default store */
    bool tls_verify;        /* false: no certificate or name check (an explicit escape hatch) */
    int connect_timeout_ms; /* 0: 10 s; covers DNS, TCP and the TLS handshake */
    int io_timeout_ms;      /* 0: 60 s; a read or write that makes no progress this long fails */
};

/* Connects (each resolved address in turn). Errors are ERR_NETWORK naming host:port, with a hint
 * (server down, wrong port, TLS on a plain port or the reverse, an untrusted certificate and
 * ca_file). *out: net_conn_close. */
int net_conn_open(const struct net_conn_options *o, struct net_conn **out, struct error *err);
/* Writes all len bytes or fails (ERR_NETWORK). */
int net_conn_write_all(struct net_conn *c, const void *data, size_t len, struct error *err);
/* Reads what is available, at most cap bytes, waiting up to the I/O timeout for the first byte.
 * *got = 0 means the peer closed the connection cleanly. */
int net_conn_read(struct net_conn *c, void *data, size_t cap, size_t *got, struct error *err);
/* Asks the kernel to report the socket readable only once `bytes` are waiting (SO_RCVLOWAT), so a
 * bulk transfer is read in large pieces instead of one wakeup per segment. Only for a peer that
 * closes the connection when it is done (else a tail shorter than `bytes` would wait for the I/O
 * timeout). 0 or 1: back to the default. A no-op on TLS connections. */
void net_conn_set_read_batch(struct net_conn *c, size_t bytes);
/* Changes the I/O timeout (0: back to the default). */
void net_conn_set_timeout(struct net_conn *c, int io_timeout_ms);
/* "host:port" for messages (borrowed). */
const char *net_conn_peer(const struct net_conn *c);
/* NULL-safe; closes the socket (TLS close_notify best effort). */
void net_conn_close(struct net_conn *c);

/* "OpenSSL 3.0.x ..." for `permafrost version` (static string). */
const char *net_conn_tls_version(void);

#endif
