#include "core/redis_restore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/lock.h"
#include "core/manifest.h"
#include "core/restore_priv.h"
#include "core/targets.h"
#include "sources/rdb.h"
#include "sources/redis.h"
#include "sources/resp.h"
#include "util/cancel.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/time.h"
#include "util/xalloc.h"

#define RR_CHUNK_BYTES ((size_t)1 << 20)

/* What the artifact's bytes pass through on their way to the checked file. */
struct rr_file_sink {
    int fd;
    const char *path;          /* for messages */
    struct rdb_reader *rdb;    /* RDB artifact: every entry and the CRC checked */
    struct resp_parser *resp;  /* logical artifact: parsed into commands */
    struct rdb_writer *writer; /* logical artifact to a file: rebuilt as an RDB */
    int db;                    /* logical: the database of the last SELECT */
    bool to_rdb;               /* logical to a file: rebuild it as an RDB */
    int writer_version;        /* logical to a file: the RDB version; 0 until the first payload */
    uint64_t keys;
    uint64_t commands; /* logical: commands read so far (for messages) */
};

static int rr_fd_write(void *arg, const void *data, size_t len, struct error *err)
{
    struct rr_file_sink *s = arg;
    return fs_write_all(s->fd, data, len, s->path, err);
}

/* A logical snapshot holds only SELECT, RESTORE and FUNCTION RESTORE commands: anything else (a
 * FLUSHALL slipped into a store) is refused, not replayed. */
static int rr_check_command(const struct resp_value *v, uint64_t index, struct error *err)
{
    const char *name;

    if (!resp_value_is_command(v) || v->count == 0)
        return error_set(err, ERR_INTEGRITY,
                         "logical snapshot: item %llu is not a command (an array of strings)",
                         (unsigned long long)index);
    name = v->items[0].str;
    if (strcasecmp(name, "SELECT") == 0 && v->count == 2)
        return 0;
    if (strcasecmp(name, "RESTORE") == 0 && v->count >= 4)
        return 0;
    if (strcasecmp(name, "FUNCTION") == 0 && v->count == 4 &&
        strcasecmp(v->items[1].str, "RESTORE") == 0 && strcasecmp(v->items[3].str, "REPLACE") == 0)
        return 0;
    return error_set(err, ERR_INTEGRITY,
                     "logical snapshot: command %llu is '%.32s' with %zu arguments; only SELECT, "
                     "RESTORE and FUNCTION RESTORE belong in one",
                     (unsigned long long)index, name, v->count - 1);
}

static int rr_parse_int(const struct resp_value *v, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    long long n;

    if (v->len == 0 || v->len > 20)
        return -1;
    errno = 0;
    n = strtoll(v->str, &end, 10);
    if (errno || !end || *end || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

/* Feeds a logical artifact's bytes through the RESP parser; each whole command goes to fn. */
typedef int (*rr_command_fn)(void *ctx, const struct resp_value *cmd, struct error *err);

static int rr_feed_commands(struct resp_parser *p, const void *data, size_t len, uint64_t *count,
                            rr_command_fn fn, void *ctx, struct error *err)
{
    const char *at = data;

    while (len > 0) {
        struct resp_value *v = NULL;
        size_t used = 0;
        int r = resp_parser_feed(p, at, len, &used, &v, err);

        if (r < 0)
            return error_wrap(err, "logical snapshot");
        at += used;
        len -= used;
        if (r == 0)
            break;
        r = rr_check_command(v, *count, err);
        if (r == 0)
            r = fn(ctx, v, err);
        (*count)++;
        resp_value_free(v);
        if (r < 0)
            return -1;
    }
    return 0;
}

/* The RDB writer of a logical snapshot written as a file starts with the first payload: its RDB
 * version is the manifest's, or, when the manifest does not know it, the payload's own. */
static int rr_writer_start(struct rr_file_sink *s, const struct resp_value *payload,
                           struct error *err)
{
    int version = s->writer_version;

    if (s->writer)
        return 0;
    if (version <= 0) {
        if (!payload)
            version = RDB_VERSION_MIN; /* no key at all: any version loads it */
        else if (rdb_payload_check((const unsigned char *)payload->str, payload->len, &version,
                                   err) < 0)
            return error_wrap(err, "logical snapshot");
    }
    if (version < RDB_VERSION_MIN || version > RDB_VERSION_MAX)
        return error_set(err, ERR_INTEGRITY,
                         "logical snapshot: its payloads are RDB version %d; an RDB file can be "
                         "written for versions %d to %d only",
                         version, RDB_VERSION_MIN, RDB_VERSION_MAX);
    s->writer_version = version;
    s->writer = rdb_writer_begin(version, rr_fd_write, s, err);
    return s->writer ? 0 : -1;
}

static bool rr_is_function(const struct resp_value *cmd)
{
    return strcasecmp(cmd->items[0].str, "FUNCTION") == 0;
}

/* Logical -> RDB file: each RESTORE becomes an RDB entry, FUNCTION RESTORE its libraries. */
static int rr_command_to_rdb(void *arg, const struct resp_value *cmd, struct error *err)
{
    struct rr_file_sink *s = arg;
    int64_t n = 0;

    if (rr_is_function(cmd))
        return rr_writer_start(s, &cmd->items[2], err) < 0
                   ? -1
                   : rdb_writer_functions(s->writer, (const unsigned char *)cmd->items[2].str,
                                          cmd->items[2].len, err);
    if (strcasecmp(cmd->items[0].str, "SELECT") == 0) {
        if (rr_parse_int(&cmd->items[1], 0, 1 << 20, &n) < 0)
            return error_set(err, ERR_INTEGRITY, "logical snapshot: SELECT of a bad database");
        s->db = (int)n;
        return 0;
    }
    if (rr_parse_int(&cmd->items[2], 0, INT64_MAX, &n) < 0)
        return error_set(err, ERR_INTEGRITY, "logical snapshot: RESTORE with a bad expiry");
    if (rr_writer_start(s, &cmd->items[3], err) < 0)
        return -1;
    s->keys++;
    return rdb_writer_key(s->writer, s->db, (const unsigned char *)cmd->items[1].str,
                          cmd->items[1].len, n > 0 ? n : -1,
                          (const unsigned char *)cmd->items[3].str, cmd->items[3].len, err);
}

static int rr_count_command(void *arg, const struct resp_value *cmd, struct error *err)
{
    struct rr_file_sink *s = arg;

    (void)err;
    if (strcasecmp(cmd->items[0].str, "RESTORE") == 0)
        s->keys++;
    return 0;
}

static int rr_sink_write(void *arg, const void *data, size_t len, struct error *err)
{
    struct rr_file_sink *s = arg;

    if (s->rdb) {
        if (rdb_reader_feed(s->rdb, data, len, err) < 0)
            return -1;
        return fs_write_all(s->fd, data, len, s->path, err);
    }
    if (s->to_rdb)
        return rr_feed_commands(s->resp, data, len, &s->commands, rr_command_to_rdb, s, err);
    if (rr_feed_commands(s->resp, data, len, &s->commands, rr_count_command, s, err) < 0)
        return -1;
    return fs_write_all(s->fd, data, len, s->path, err);
}

/* The artifact of a redis snapshot, and whether it is logical. */
static const struct manifest_artifact *rr_artifact(const struct manifest *m, bool *is_logical)
{
    for (size_t i = 0; i < m->artifact_count; i++) {
        if (strcmp(m->artifacts[i].content, REDIS_CONTENT_RDB) == 0) {
            *is_logical = false;
            return &m->artifacts[i];
        }
        if (strcmp(m->artifacts[i].content, REDIS_CONTENT_RESP) == 0) {
            *is_logical = true;
            return &m->artifacts[i];
        }
    }
    return NULL;
}

static int rr_check_version(const char *target, int rdb_version, const struct manifest *m,
                            const char *id, struct error *err)
{
    int max_version = 0;

    if (rdb_target_max_version(target, &max_version, err) < 0)
        return -1;
    if (rdb_version > max_version) {
        error_set(err, ERR_FAILED,
                  "snapshot '%s' holds RDB version %d (written by %s %s); %s loads RDB versions "
                  "up to %d",
                  id, rdb_version, m->redis_server ? m->redis_server : "redis",
                  m->redis_version ? m->redis_version : "?", target, max_version);
        return error_hint(err,
                          "restore into a server at least as new as the one the snapshot came "
                          "from (%s %s), or, for a logical snapshot, replay it with --to into a "
                          "running server",
                          m->redis_server ? m->redis_server : "redis",
                          m->redis_version ? m->redis_version : "?");
    }
    return 0;
}

static char *rr_target_path(const char *to_file)
{
    struct stat st;

    if (stat(to_file, &st) == 0 && S_ISDIR(st.st_mode))
        return xasprintf("%s%sdump.rdb", to_file, to_file[strlen(to_file) - 1] == '/' ? "" : "/");
    return xstrdup(to_file);
}

static int rr_to_file(const struct redis_restore_request *req, struct store *s, const char *key,
                      const struct manifest_artifact *art, const struct manifest *m,
                      bool is_logical, struct redis_restore_result *res, struct error *err)
{
    struct rr_file_sink sink;
    char *path = rr_target_path(req->to_file);
    char *dir = fs_dirname(path);
    char *tmp = NULL;
    int rc = -1;

    memset(&sink, 0, sizeof(sink));
    sink.fd = -1;
    if (fs_exists(path) && !req->force) {
        error_set(err, ERR_USAGE, "'%s' exists", path);
        error_hint(err, "stop the server that uses it and pass --force to replace it, or write "
                        "somewhere else");
        goto out;
    }
    tmp = xasprintf("%s/.permafrost-restore-XXXXXX", dir);
    sink.fd = mkstemp(tmp);
    if (sink.fd < 0) {
        error_errno(err, ERR_IO, "create a temporary file in '%s'", dir);
        xfree(tmp);
        tmp = NULL;
        goto out;
    }
    if (fchmod(sink.fd, 0600) < 0) {
        error_errno(err, ERR_IO, "chmod '%s'", tmp);
        goto out;
    }
    sink.path = tmp;
    if (is_logical) {
        sink.resp = resp_parser_new(NULL);
        sink.to_rdb = true;
        sink.writer_version = m->redis_rdb_version;
    } else {
        sink.rdb = rdb_reader_new(NULL, NULL, 0);
    }
    if (restore_stream(req->base, s, key, art, rr_sink_write, &sink, err) < 0)
        goto out;
    if (is_logical) {
        if (resp_parser_is_mid_value(sink.resp)) {
            error_set(err, ERR_INTEGRITY, "logical snapshot: ends in the middle of a command");
            goto out;
        }
        if (!sink.writer && rr_writer_start(&sink, NULL, err) < 0) /* an empty server */
            goto out;
        if (rdb_writer_end(sink.writer, err) < 0)
            goto out;
        res->keys = sink.keys;
        res->rdb_version = sink.writer_version;
    } else {
        const struct rdb_summary *sum;
        if (rdb_reader_finish(sink.rdb, err) < 0)
            goto out;
        sum = rdb_reader_summary(sink.rdb);
        res->keys = sum->keys;
        res->rdb_version = sum->version;
    }
    {
        int fd = sink.fd;
        sink.fd = -1;
        if (fs_finish_atomic(fd, tmp, path, err) < 0)
            goto out;
    }
    res->path = path;
    path = NULL;
    rc = 0;
out:
    if (sink.fd >= 0)
        close(sink.fd);
    if (rc < 0 && tmp)
        (void)unlink(tmp);
    rdb_reader_free(sink.rdb);
    rdb_writer_free(sink.writer);
    resp_parser_free(sink.resp);
    xfree(tmp);
    xfree(dir);
    xfree(path);
    return rc;
}

/* ---- replay into a running server ---- */

struct rr_replay {
    struct redis_replay *replay;
    int db;
    int rdb_version;
    uint64_t keys;
    uint64_t expired;
    int64_t now_ms;
    struct buf payload;
    unsigned char **functions; /* function library bodies, sent at the end */
    size_t *function_lens;
    size_t function_count;
    const struct redis_restore_request *req;
    int64_t start_ms;
    int64_t last_ms;
};

static int rr_select(struct rr_replay *r, int db, struct error *err)
{
    char num[16];
    const char *argv[2] = {"SELECT", num};

    if (db == r->db)
        return 0;
    (void)snprintf(num, sizeof(num), "%d", db);
    r->db = db;
    return redis_replay_command(r->replay, 2, argv, NULL, err);
}

static void rr_progress(struct rr_replay *r)
{
    const struct restore_request *base = r->req->base;
    struct backup_progress p;

    if (!base->progress || time_mono_ms() - r->last_ms < 500)
        return;
    r->last_ms = time_mono_ms();
    memset(&p, 0, sizeof(p));
    p.job = base->job->name;
    p.phase = "replay";
    p.raw_bytes = r->keys;
    p.elapsed_ms = r->last_ms - r->start_ms;
    base->progress(&p, base->progress_ctx);
}

static int rr_restore_key(struct rr_replay *r, const unsigned char *key, size_t key_len,
                          int64_t expire_ms, const void *payload, size_t payload_len,
                          struct error *err)
{
    char ttl[24];
    const char *argv[6] = {"RESTORE", (const char *)key, ttl, payload, "REPLACE", "ABSTTL"};
    size_t lens[6] = {7, key_len, 0, payload_len, 7, 6};

    /* RESTORE reads 0 as "no expiry": a key that expired at the epoch still goes as expired. */
    (void)snprintf(ttl, sizeof(ttl), "%lld",
                   (long long)(expire_ms < 0   ? 0
                               : expire_ms > 0 ? expire_ms
                                               : 1));
    lens[2] = strlen(ttl);
    if (expire_ms >= 0 && expire_ms <= r->now_ms)
        r->expired++;
    r->keys++;
    rr_progress(r);
    if (cancel_requested())
        return error_set(err, ERR_CANCELLED, "cancelled after %llu keys",
                         (unsigned long long)r->keys);
    return redis_replay_command(r->replay, 6, argv, lens, err);
}

static int rr_replay_entry(void *arg, const struct rdb_entry *e, struct error *err)
{
    struct rr_replay *r = arg;

    if (rr_select(r, e->db, err) < 0)
        return -1;
    buf_reset(&r->payload);
    rdb_entry_payload(e, r->rdb_version, &r->payload);
    return rr_restore_key(r, e->key, e->key_len, e->expire_ms, r->payload.data, r->payload.len,
                          err);
}

static int rr_replay_function(void *arg, const unsigned char *body, size_t len, struct error *err)
{
    struct rr_replay *r = arg;

    (void)err;
    r->functions = xreallocarray(r->functions, r->function_count + 1, sizeof(*r->functions));
    r->function_lens =
        xreallocarray(r->function_lens, r->function_count + 1, sizeof(*r->function_lens));
    r->functions[r->function_count] = xmalloc(len ? len : 1);
    memcpy(r->functions[r->function_count], body, len);
    r->function_lens[r->function_count++] = len;
    return 0;
}

static int rr_replay_command(void *arg, const struct resp_value *cmd, struct error *err)
{
    struct rr_replay *r = arg;
    int64_t n = 0;

    if (strcasecmp(cmd->items[0].str, "SELECT") == 0) {
        if (rr_parse_int(&cmd->items[1], 0, 1 << 20, &n) < 0)
            return error_set(err, ERR_INTEGRITY, "logical snapshot: SELECT of a bad database");
        return rr_select(r, (int)n, err);
    }
    if (rr_is_function(cmd)) {
        const char *argv[4];
        size_t lens[4];
        for (size_t i = 0; i < 4; i++) {
            argv[i] = cmd->items[i].str;
            lens[i] = cmd->items[i].len;
        }
        return redis_replay_command(r->replay, 4, argv, lens, err);
    }
    if (rr_parse_int(&cmd->items[2], 0, INT64_MAX, &n) < 0)
        return error_set(err, ERR_INTEGRITY, "logical snapshot: RESTORE with a bad expiry");
    /* In the logical stream 0 is "no expiry". */
    return rr_restore_key(r, (const unsigned char *)cmd->items[1].str, cmd->items[1].len,
                          n > 0 ? n : -1, cmd->items[3].str, cmd->items[3].len, err);
}

/* Reads the checked file again and replays it. */
static int rr_replay_file(struct rr_replay *r, int fd, bool is_logical, struct error *err)
{
    struct rdb_callbacks cb = {rr_replay_entry, rr_replay_function};
    struct rdb_reader *rdb = NULL;
    struct resp_parser *resp = NULL;
    char *chunk = xmalloc(RR_CHUNK_BYTES);
    uint64_t index = 0;
    int rc = -1;

    if (lseek(fd, 0, SEEK_SET) < 0) {
        error_errno(err, ERR_IO, "rewind the temporary file");
        goto out;
    }
    if (is_logical)
        resp = resp_parser_new(NULL);
    else
        rdb = rdb_reader_new(&cb, r, 0);
    for (;;) {
        ssize_t got = read(fd, chunk, RR_CHUNK_BYTES);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            error_errno(err, ERR_IO, "read the temporary file");
            goto out;
        }
        if (got == 0)
            break;
        if (is_logical
                ? rr_feed_commands(resp, chunk, (size_t)got, &index, rr_replay_command, r, err)
                : rdb_reader_feed(rdb, chunk, (size_t)got, err))
            goto out;
    }
    if (!is_logical && rdb_reader_finish(rdb, err) < 0)
        goto out;
    if (r->function_count > 0) {
        struct buf fp;
        const char *argv[4] = {"FUNCTION", "RESTORE", NULL, "REPLACE"};
        size_t lens[4] = {8, 7, 0, 7};

        buf_init(&fp, BUF_NO_CAP);
        rdb_functions_payload((const unsigned char *const *)r->functions, r->function_lens,
                              r->function_count, r->rdb_version, &fp);
        argv[2] = fp.data;
        lens[2] = fp.len;
        rc = redis_replay_command(r->replay, 4, argv, lens, err);
        buf_release(&fp);
        if (rc < 0)
            goto out;
    }
    rc = 0;
out:
    rdb_reader_free(rdb);
    resp_parser_free(resp);
    xfree(chunk);
    return rc;
}

static int rr_to_server(const struct redis_restore_request *req, struct store *s, const char *key,
                        const struct manifest_artifact *art, const struct manifest *m,
                        bool is_logical, const char *id, struct redis_restore_result *res,
                        struct error *err)
{
    struct redis_options o;
    struct redis_conn *conn = NULL;
    struct redis_info info;
    struct rr_file_sink sink;
    struct rr_replay r;
    char *tmp = NULL;
    char *engine = NULL;
    const char *tdir = req->tmp_dir ? req->tmp_dir : getenv("TMPDIR");
    uint64_t acked = 0;
    int rc = -1;

    memset(&o, 0, sizeof(o));
    memset(&info, 0, sizeof(info));
    memset(&sink, 0, sizeof(sink));
    memset(&r, 0, sizeof(r));
    sink.fd = -1;
    buf_init(&r.payload, BUF_NO_CAP);
    o.url = req->to_url;
    o.password = req->password;
    o.ca_file = req->ca_file;
    o.tls_verify = req->tls_verify;
    if (redis_connect(&o, &conn, err) < 0)
        goto out;
    if (redis_info_read(conn, &info, err) < 0)
        goto out;
    /* The server says what it is: a snapshot it cannot load is refused before any key is sent. */
    {
        const char *v = info.version ? info.version : "0.0";
        const char *dot = strchr(v, '.');
        size_t n = dot && strchr(dot + 1, '.') ? (size_t)(strchr(dot + 1, '.') - v) : strlen(v);
        engine = xasprintf("%s-%.*s", info.server_name ? info.server_name : "redis", (int)n, v);
    }
    if (m->redis_rdb_version > 0 && rr_check_version(engine, m->redis_rdb_version, m, id, err) < 0)
        goto out;

    /* Checked first, replayed after: the artifact goes to an unlinked temporary file so that a
     * snapshot that fails its SHA-256 or CRC never reaches the server, and no plaintext copy
     * outlives us. */
    tmp = xasprintf("%s/permafrost-restore-XXXXXX", tdir && *tdir ? tdir : "/tmp");
    sink.fd = mkstemp(tmp);
    if (sink.fd < 0) {
        error_errno(err, ERR_IO, "create a temporary file in '%s'", tdir && *tdir ? tdir : "/tmp");
        goto out;
    }
    if (unlink(tmp) < 0) {
        error_errno(err, ERR_IO, "unlink temporary file '%s'", tmp);
        goto out;
    }
    sink.path = tmp;
    if (is_logical)
        sink.resp = resp_parser_new(NULL);
    else
        sink.rdb = rdb_reader_new(NULL, NULL, 0);
    if (restore_stream(req->base, s, key, art, rr_sink_write, &sink, err) < 0)
        goto out;
    if (is_logical && resp_parser_is_mid_value(sink.resp)) {
        error_set(err, ERR_INTEGRITY, "logical snapshot: ends in the middle of a command");
        goto out;
    }
    if (!is_logical) {
        if (rdb_reader_finish(sink.rdb, err) < 0)
            goto out;
        res->rdb_version = rdb_reader_summary(sink.rdb)->version;
    } else {
        res->rdb_version = m->redis_rdb_version;
    }

    /* The download may have taken long enough for the server (or a proxy in front of it) to drop
     * an idle connection: replay over a fresh one. */
    redis_close(conn);
    conn = NULL;
    if (redis_connect(&o, &conn, err) < 0)
        goto out;
    log_info("job '%s': replaying snapshot '%s' into %s (%s %s)", req->base->job->name, id,
             redis_peer(conn), info.server_name, info.version);
    r.replay = redis_replay_new(conn);
    r.db = -1;
    r.rdb_version = res->rdb_version;
    r.now_ms = time_now_ms();
    r.req = req;
    r.start_ms = time_mono_ms();
    if (rr_replay_file(&r, sink.fd, is_logical, err) < 0 ||
        redis_replay_finish(r.replay, &acked, err) < 0) {
        error_wrap(err, "replay into %s after %llu keys", redis_peer(conn),
                   (unsigned long long)r.keys);
        goto out;
    }
    res->keys = r.keys;
    res->expired = r.expired;
    rc = 0;
out:
    redis_replay_free(r.replay);
    for (size_t i = 0; i < r.function_count; i++)
        xfree(r.functions[i]);
    xfree(r.functions);
    xfree(r.function_lens);
    buf_release(&r.payload);
    if (sink.fd >= 0)
        close(sink.fd);
    rdb_reader_free(sink.rdb);
    resp_parser_free(sink.resp);
    redis_info_release(&info);
    redis_close(conn);
    xfree(tmp);
    xfree(engine);
    return rc;
}

int redis_restore_run(const struct redis_restore_request *req, struct redis_restore_result *res,
                      struct error *err)
{
    const struct cfg_job *job = req->base->job;
    struct store *s = NULL;
    struct job_lock *lock = NULL;
    struct manifest m;
    const struct manifest_artifact *art = NULL;
    char id[SNAPSHOT_ID_LEN] = "";
    char *key = NULL;
    bool is_logical = false;
    int64_t start = time_mono_ms();
    int rc = -1;

    memset(res, 0, sizeof(*res));
    memset(&m, 0, sizeof(m));
    ASSERT((req->to_file != NULL) != (req->to_url != NULL));
    if (lock_acquire(req->base->state_dir, job->name, "restore", &lock, err) < 0)
        goto out;
    if (restore_locate(req->base, &s, id, err) < 0)
        goto out;
    if (targets_read_manifest(s, job->name, id, &m, err) < 0)
        goto out;
    art = rr_artifact(&m, &is_logical);
    if (!art) {
        error_set(err, ERR_INTEGRITY, "snapshot '%s' has no redis artifact (%s or %s)", id,
                  REDIS_ARTIFACT_RDB, REDIS_ARTIFACT_RESP);
        goto out;
    }
    if (req->target_version && m.redis_rdb_version > 0 &&
        rr_check_version(req->target_version, m.redis_rdb_version, &m, id, err) < 0)
        goto out;
    key = xasprintf("%s/%s/%s", job->name, id, art->name);
    res->is_logical = is_logical;
    if (req->to_file) {
        log_info("job '%s': writing snapshot '%s' from store '%s' as an RDB file", job->name, id,
                 store_name(s));
        if (rr_to_file(req, s, key, art, &m, is_logical, res, err) < 0)
            goto out;
    } else if (rr_to_server(req, s, key, art, &m, is_logical, id, res, err) < 0) {
        goto out;
    }
    snprintf(res->snapshot_id, sizeof(res->snapshot_id), "%s", id);
    res->store = xstrdup(store_name(s));
    res->stored_bytes = art->size_bytes;
    res->raw_bytes = art->raw_bytes;
    rc = 0;
out:
    if (rc < 0)
        error_wrap(err, "restore job '%s'%s%s", job->name, id[0] ? " snapshot " : "", id);
    manifest_release(&m);
    store_free(s);
    lock_release(lock);
    xfree(key);
    res->duration_ms = time_mono_ms() - start;
    return rc;
}

void redis_restore_result_release(struct redis_restore_result *res)
{
    xfree(res->store);
    xfree(res->path);
    memset(res, 0, sizeof(*res));
}
