/* A Redis/Valkey client of our own (RESP over net/conn): connect and AUTH, INFO, the replica
 * handshake that streams an RDB snapshot (SYNC/PSYNC, disk `$<len>` and diskless `$EOF:<mark>`
 * payloads), the logical export (SCAN + DUMP + PTTL, written as RESP RESTORE commands) for
 * services that refuse replication, and pipelined replay of commands into a live server. The
 * password never appears in a message. */
#ifndef PERMAFROST_SOURCES_REDIS_H
#define PERMAFROST_SOURCES_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sources/resp.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/secret.h"

/* redis://[[user]:password@]host[:port][/db] and rediss:// (TLS). Port defaults to 6379; IPv6
 * hosts in brackets; user and password percent-decoded. */
struct redis_url {
    bool tls;
    char *host;
    int port;
    char *user;             /* NULL: no ACL user (AUTH with the password alone) */
    struct secret password; /* unset when the URL has none */
    int db;                 /* from /N; 0 when absent */
};

/* Errors are ERR_CONFIG saying what is wrong, never echoing the password. */
int redis_url_parse(const char *url, struct redis_url *out, struct error *err);
void redis_url_release(struct redis_url *u);
/* The URL with any password replaced by "***" (for messages and manifests); caller frees. */
char *redis_url_redacted(const char *url);

struct redis_options {
    const char *url;
    const char *password;   /* wins over the URL's password; NULL: the URL's, or none */
    const char *ca_file;    /* rediss: PEM bundle; NULL: system store */
    bool tls_verify;        /* rediss: check the certificate and name (default should be true) */
    int connect_timeout_ms; /* 0: 10 s */
    int io_timeout_ms;      /* 0: 60 s */
};

struct redis_conn;

/* Connects and authenticates (AUTH [user] password when one is given). A refused password is
 * ERR_REMOTE "authentication failed: <server's words>" with a hint (password = env:..., ACL user
 * in the URL). *out: redis_close. */
int redis_connect(const struct redis_options *o, struct redis_conn **out, struct error *err);
void redis_close(struct redis_conn *c);
/* "host:port" (borrowed). */
const char *redis_peer(const struct redis_conn *c);

/* Sends one command and reads its reply. Returns -1 only for transport or protocol failures; an
 * error reply comes back as a RESP_ERROR value for the caller to judge. *reply: resp_value_free. */
int redis_command(struct redis_conn *c, size_t argc, const char *const *argv, const size_t *lens,
                  struct resp_value **reply, struct error *err);

struct redis_db_keys {
    int db;
    int64_t keys;
    int64_t expires;
};

struct redis_info {
    char *server_name;   /* "redis" or "valkey" (server_name: field, else "redis") */
    char *version;       /* valkey_version for Valkey, else redis_version */
    char *redis_version; /* as reported (Valkey keeps reporting 7.2.4) */
    char *role;          /* "master" / "slave" */
    int64_t used_memory; /* -1 when absent */
    bool aof_enabled;
    struct redis_db_keys *dbs; /* INFO keyspace, in db order */
    size_t db_count;
};

/* Parses the text of an INFO reply (sections server, memory, persistence, replication (role) and
 * keyspace; others are ignored). Pure: tested and fuzzed without a server. */
int redis_info_parse(const char *text, size_t len, struct redis_info *out, struct error *err);
/* Plain INFO (its default sections hold all of the above on every version) from the server. */
int redis_info_read(struct redis_conn *c, struct redis_info *out, struct error *err);
void redis_info_release(struct redis_info *info);

typedef int (*redis_sink_fn)(void *ctx, const void *data, size_t len, struct error *err);

struct redis_sync_result {
    bool is_diskless;        /* $EOF:<mark> payload */
    bool is_psync;           /* PSYNC ? -1 answered +FULLRESYNC (else plain SYNC) */
    bool is_rdb_only;        /* the server accepted REPLCONF rdb-only 1 */
    char replid[41];         /* from +FULLRESYNC, "" with SYNC */
    int64_t offset;          /* from +FULLRESYNC, -1 with SYNC */
    uint64_t expected_bytes; /* disk payload length, set before the first sink call; 0 diskless */
    uint64_t bytes;          /* payload bytes passed to the sink (the marker never is) */
};

/* What redis_sync returns when the server refuses to act as a replication source for us (NOPERM,
 * unknown or renamed SYNC/PSYNC, "not allowed"): the caller may fall back to the logical export.
 * err holds the server's answer. */
#define REDIS_REFUSED (-2)

/* The replica handshake: REPLCONF capa eof (+ capa psync2), REPLCONF rdb-only 1 where the server
 * knows it, PSYNC ? -1 (SYNC when PSYNC is unknown); skips the newline keep-alives, reads the
 * `$<len>` or `$EOF:<40 chars>` header and passes every payload byte, in order, to sink, holding
 * back the last 40 bytes in EOF mode so the mark never reaches the sink. res->expected_bytes is
 * set before the first sink call. Returns 0 once the whole payload was passed on; -1 on errors
 * (a connection closed early says after how many bytes); REDIS_REFUSED as above. The connection
 * is not usable for commands afterwards. */
int redis_sync(struct redis_conn *c, redis_sink_fn sink, void *ctx, struct redis_sync_result *res,
               struct error *err);

struct redis_logical_stats {
    struct redis_db_keys *dbs; /* keys written per database (expires: those with a TTL) */
    size_t db_count;
    uint64_t keys;      /* RESTORE commands written */
    uint64_t vanished;  /* keys SCAN returned that were gone (expired/deleted) by DUMP */
    uint64_t functions; /* 1 when a FUNCTION RESTORE of the server's libraries was written */
};

/* The logical export: for each database in info->dbs, SELECT, then SCAN (COUNT 1000) and, per
 * batch, pipelined DUMP + PEXPIRETIME (PTTL + the local clock before Redis 7.0); writes to sink a
 * RESP stream that `redis-cli --pipe` replays: "FUNCTION RESTORE <payload> REPLACE" first when the
 * server (7.0+) has function libraries, then "SELECT <db>" then "RESTORE <key> <abs-expiry-ms or
 * 0> <payload> REPLACE ABSTTL" per key. Keys SCAN returns twice are written once. A refused
 * SELECT/SCAN/DUMP is -1 with the server's words. st: redis_logical_stats_release. */
int redis_logical_export(struct redis_conn *c, const struct redis_info *info, redis_sink_fn sink,
                         void *ctx, struct redis_logical_stats *st, struct error *err);
void redis_logical_stats_release(struct redis_logical_stats *st);

/* Pipelined replay of commands into a live server: commands are queued and sent in batches
 * (about 1000 commands or 4 MiB), then their replies read; the first error reply fails the replay
 * with the command's name, its key (escaped, capped) and the server's words. */
struct redis_replay;

struct redis_replay *redis_replay_new(struct redis_conn *c);
int redis_replay_command(struct redis_replay *r, size_t argc, const char *const *argv,
                         const size_t *lens, struct error *err);
/* Sends what is queued and reads every outstanding reply; *commands = commands acknowledged. */
int redis_replay_finish(struct redis_replay *r, uint64_t *commands, struct error *err);
void redis_replay_free(struct redis_replay *r);

#endif
