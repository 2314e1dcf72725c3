/* Prometheus metrics: the text exposition format 0.0.4 of what the catalog and the config say
 * (per job, per store, the daemon), and the small HTTP server the daemon polls from its loop to
 * serve /metrics and /healthz. Everything comes from the catalog and the config: rendering never
 * contacts a store. */
#ifndef PERMAFROST_CORE_METRICS_H
#define PERMAFROST_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "util/buf.h"
#include "util/error.h"

/* What one rendering reads. All pointers are borrowed for the duration of the call. A source
 * without a daemon (`status --metrics`) has daemon_started_at = 0: the daemon metrics are left
 * out. */
struct metrics_source {
    const struct config *cfg;
    const char *state_dir;
    time_t now;
    time_t daemon_started_at;        /* 0: not rendered by a daemon */
    const char *const *running_jobs; /* names of the jobs running now (daemon only) */
    size_t running_count;
    uint64_t config_reloads;         /* SIGHUP reloads that succeeded */
    uint64_t config_reload_failures; /* SIGHUP reloads refused (old config kept) */
};

/* Appends the exposition of src to out (text format 0.0.4). Returns 0, or -1 with err set when
 * the catalog cannot be read; out then holds nothing new. */
int metrics_render(const struct metrics_source *src, struct buf *out, struct error *err);

struct metrics_server;

/* Listens on listen ("HOST:PORT" as documented for metrics_listen; HOST may be an IPv4 address,
 * "[IPv6]" or a name; PORT 0 picks a free port) with a non-blocking socket, and logs the bound
 * address. *out: metrics_server_stop. Fails (ERR_IO, or ERR_CONFIG for a malformed address)
 * naming the address, with a hint when it is in use. */
int metrics_server_start(const char *listen, struct metrics_server **out, struct error *err);
/* The listening socket: poll it for POLLIN and call metrics_server_handle when it is readable. */
int metrics_server_fd(const struct metrics_server *s);
/* The port actually bound (useful with port 0). */
int metrics_server_port(const struct metrics_server *s);
/* Accepts the pending connections and answers each: GET/HEAD /metrics (200, text/plain;
 * version=0.0.4), /healthz (200 "ok"), other paths 404, other methods 405, malformed 400. Each
 * client gets a short deadline (about a second) to send its request, so a slow client stalls the
 * caller only briefly. Never fails: problems are logged at debug level and the client dropped. */
void metrics_server_handle(struct metrics_server *s, const struct metrics_source *src);
/* Closes the socket and frees s. NULL-safe. */
void metrics_server_stop(struct metrics_server *s);

#endif
