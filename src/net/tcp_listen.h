/* A listening TCP socket for small local services (the metrics endpoint): "HOST:PORT" parsed,
 * bound with SO_REUSEADDR, non-blocking and close-on-exec. */
#ifndef PERMAFROST_NET_TCP_LISTEN_H
#define PERMAFROST_NET_TCP_LISTEN_H

#include <stddef.h>

#include "util/error.h"

#define TCP_LISTEN_ADDR_LEN 80 /* "[IPv6]:port" */

struct tcp_listener;

/* Splits address into host and port: "127.0.0.1:9187", "[::1]:9187", "localhost:0", ":9187"
 * (every interface). The port is 0..65535 (0: any free port). host_out gets the host without
 * brackets ("" for every interface). Fails (ERR_CONFIG) naming the address. */
int tcp_listen_split(const char *address, char *host_out, size_t host_cap, int *port_out,
                     struct error *err);

/* Binds and listens on address (see tcp_listen_split; a name is resolved and its first address
 * that binds is used). Fails with ERR_IO naming the address; when it is in use, the message says
 * so (EADDRINUSE). *out: tcp_listen_close. */
int tcp_listen_open(const char *address, struct tcp_listener **out, struct error *err);
int tcp_listen_fd(const struct tcp_listener *l);
int tcp_listen_port(const struct tcp_listener *l);
/* The bound address as "127.0.0.1:9187" or "[::1]:9187" (borrowed). */
const char *tcp_listen_address(const struct tcp_listener *l);
/* Closes the socket and frees l. NULL-safe. */
void tcp_listen_close(struct tcp_listener *l);

#endif
