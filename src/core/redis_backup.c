/* The redis source of a backup run: INFO for the manifest's facts, then the snapshot by the sync
 * method (the RDB the server streams to a replica, checked entry by entry and by its CRC-64 on the
 * way into the artifact) or the logical one (SCAN + DUMP as RESTORE commands), with `auto`
 * falling back from the first to the second when the server refuses replication. */
#include <stdio.h>
#include <string.h>

#include "core/backup_priv.h"
#include "core/redis_restore.h"
#include "sources/rdb.h"
#include "sources/redis.h"
#include "util/log.h"
#include "util/xalloc.h"

struct redis_sync_sink {
    struct backup_ctx *ctx;
    struct backup_artifact *a;
    struct rdb_reader *rdb;
    const struct redis_sync_result *sres;
    const char *peer;
};

static int redis_sync_sink_write(void *arg, const void *data, size_t len, struct error *err)
{
    struct redis_sync_sink *s = arg;

    if (s->ctx->expected_raw_bytes == 0 && s->sres->expected_bytes > 0)
        s->ctx->expected_raw_bytes = s->sres->expected_bytes;
    /* The RDB is checked as it passes: a damaged stream stops the run before anything is
     * committed. */
    if (rdb_reader_feed(s->rdb, data, len, err) < 0)
        return error_wrap(err, "the RDB snapshot from %s", s->peer);
    return backup_artifact_write(s->a, data, len, err);
}

static int redis_artifact_sink_write(void *arg, const void *data, size_t len, struct error *err)
{
    return backup_artifact_write(arg, data, len, err);
}

/* "redis-7.0" from ("redis", "7.0.15"): the form rdb_target_max_version reads. */
static char *redis_engine_version(const char *server, const char *version)
{
    const char *dot = strchr(version, '.');
    size_t n = strlen(version);

    if (dot && strchr(dot + 1, '.'))
        n = (size_t)(strchr(dot + 1, '.') - version);
    return xasprintf("%s-%.*s", server, (int)n, version);
}

static void redis_note_keys(struct backup_ctx *ctx, const struct redis_info *info)
{
    int64_t in_info = 0;
    int64_t in_snapshot = manifest_redis_total(ctx->m.redis_keys, ctx->m.redis_keys_count);

    for (size_t i = 0; i < info->db_count; i++)
        in_info += info->dbs[i].keys;
    ctx->res->redis_keys = in_snapshot;
    if (in_info != in_snapshot)
        log_info("job '%s': INFO keyspace counted %lld keys before the snapshot, the snapshot "
                 "holds %lld (keys written, deleted or expired in between)",
                 ctx->job->name, (long long)in_info, (long long)in_snapshot);
}

/* Returns 0, -1, or REDIS_REFUSED (nothing written) when the server will not act as a
 * replication source for us. */
static int redis_take_sync(struct backup_ctx *ctx, struct redis_conn *conn, struct error *err)
{
    struct backup_artifact a;
    struct redis_sync_result sres;
    struct redis_sync_sink sink;
    const struct rdb_summary *sum;
    int r;
    int rc = -1;

    memset(&sres, 0, sizeof(sres));
    memset(&sink, 0, sizeof(sink));
    if (backup_artifact_open(ctx, REDIS_ARTIFACT_RDB, &a, err) < 0) {
        backup_artifact_release(&a);
        return -1;
    }
    sink.ctx = ctx;
    sink.a = &a;
    sink.rdb = rdb_reader_new(NULL, NULL, 0);
    sink.sres = &sres;
    sink.peer = redis_peer(conn);
    ctx->phase = "sync";
    r = redis_sync(conn, redis_sync_sink_write, &sink, &sres, err);
    if (r == REDIS_REFUSED) {
        rc = REDIS_REFUSED;
        goto out;
    }
    if (r < 0)
        goto out;
    if (rdb_reader_finish(sink.rdb, err) < 0) {
        error_wrap(err, "the RDB snapshot from %s (%llu bytes)", redis_peer(conn),
                   (unsigned long long)sres.bytes);
        goto out;
    }
    if (backup_artifact_commit(&a, REDIS_CONTENT_RDB, err) < 0)
        goto out;
    sum = rdb_reader_summary(sink.rdb);
    ctx->m.redis_rdb_version = sum->version;
    ctx->m.redis_method = xstrdup("sync");
    ctx->m.redis_transfer = xstrdup(sres.is_diskless ? "diskless" : "disk");
    ctx->m.redis_keys = xcalloc(1, sizeof(*ctx->m.redis_keys));
    for (size_t i = 0; i < sum->db_count; i++)
        manifest_add_redis_db(&ctx->m.redis_keys, &ctx->m.redis_keys_count, sum->dbs[i].db,
                              (int64_t)sum->dbs[i].keys, (int64_t)sum->dbs[i].expires);
    log_debug("job '%s': %s RDB version %d, %llu keys, %llu bytes, CRC %s", ctx->job->name,
              sres.is_diskless ? "diskless" : "disk", sum->version, (unsigned long long)sum->keys,
              (unsigned long long)sum->bytes,
              sum->crc_checked ? "checked" : "absent (rdbchecksum no)");
    rc = 0;
out:
    backup_artifact_release(&a);
    rdb_reader_free(sink.rdb);
    return rc;
}

static int redis_take_logical(struct backup_ctx *ctx, struct redis_conn *conn,
                              const struct redis_info *info, struct error *err)
{
    struct backup_artifact a;
    struct redis_logical_stats st;
    char *engine = NULL;
    int max_version = 0;
    int rc = -1;

    memset(&st, 0, sizeof(st));
    if (backup_artifact_open(ctx, REDIS_ARTIFACT_RESP, &a, err) < 0)
        goto out;
    ctx->phase = "export";
    if (redis_logical_export(conn, info, redis_artifact_sink_write, &a, &st, err) < 0)
        goto out;
    if (backup_artifact_commit(&a, REDIS_CONTENT_RESP, err) < 0)
        goto out;
    ctx->m.redis_method = xstrdup("logical");
    ctx->m.redis_transfer = xstrdup("logical");
    /* DUMP payloads carry the RDB version the server writes. */
    engine = redis_engine_version(info->server_name, info->version);
    {
        struct error verr = ERROR_INIT;
        if (rdb_target_max_version(engine, &max_version, &verr) == 0)
            ctx->m.redis_rdb_version = max_version;
    }
    ctx->m.redis_keys = xcalloc(1, sizeof(*ctx->m.redis_keys));
    for (size_t i = 0; i < st.db_count; i++)
        manifest_add_redis_db(&ctx->m.redis_keys, &ctx->m.redis_keys_count, st.dbs[i].db,
                              st.dbs[i].keys, st.dbs[i].expires);
    if (st.vanished > 0)
        log_info("job '%s': %llu keys expired or were deleted during the export", ctx->job->name,
                 (unsigned long long)st.vanished);
    rc = 0;
out:
    backup_artifact_release(&a);
    redis_logical_stats_release(&st);
    xfree(engine);
    return rc;
}

static int redis_open(const struct cfg_job *job, struct redis_conn **conn, struct error *err)
{
    struct redis_options o;

    memset(&o, 0, sizeof(o));
    o.url = job->url;
    o.password = secret_is_set(&job->password) ? job->password.value : NULL;
    o.ca_file = job->ca_file;
    o.tls_verify = job->tls_verify;
    return redis_connect(&o, conn, err);
}

int backup_redis(struct backup_ctx *ctx, struct error *err)
{
    const struct cfg_job *job = ctx->job;
    struct redis_conn *conn = NULL;
    struct redis_info info;
    int rc = -1;

    memset(&info, 0, sizeof(info));
    ctx->phase = "connect";
    if (redis_open(job, &conn, err) < 0)
        goto out;
    if (redis_info_read(conn, &info, err) < 0)
        goto out;
    ctx->m.redis_server = xstrdup(info.server_name);
    ctx->m.redis_version = xstrdup(info.version);
    ctx->m.redis_used_memory = info.used_memory;
    ctx->m.redis_keyspace = xcalloc(1, sizeof(*ctx->m.redis_keyspace));
    for (size_t i = 0; i < info.db_count; i++)
        manifest_add_redis_db(&ctx->m.redis_keyspace, &ctx->m.redis_keyspace_count, info.dbs[i].db,
                              info.dbs[i].keys, info.dbs[i].expires);
    if (info.role && strcmp(info.role, "master") != 0)
        log_info("job '%s': %s is a replica (role %s): the snapshot is as current as its "
                 "replication",
                 job->name, redis_peer(conn), info.role);

    if (job->redis_method != REDIS_METHOD_LOGICAL) {
        int r = redis_take_sync(ctx, conn, err);

        if (r == 0) {
            rc = 0;
            goto done;
        }
        if (r != REDIS_REFUSED || job->redis_method == REDIS_METHOD_SYNC) {
            if (r == REDIS_REFUSED)
                error_hint(err,
                           "grant the user the replication commands (ACL SETUSER NAME "
                           "+psync +sync +replconf), or set 'method = logical' (or auto) in "
                           "[job \"%s\"]",
                           job->name);
            goto out;
        }
        ctx->m.redis_fallback_reason = xasprintf("the server refused SYNC: %s", err->msg);
        log_warn("job '%s': %s refused replication (%s); falling back to the logical export "
                 "(SCAN + DUMP)",
                 job->name, redis_peer(conn), err->msg);
        error_clear(err);
        /* The refused handshake may leave the connection in any state: start afresh. */
        redis_close(conn);
        conn = NULL;
        if (redis_open(job, &conn, err) < 0)
            goto out;
    }
    if (redis_take_logical(ctx, conn, &info, err) < 0)
        goto out;
    rc = 0;
done:
    redis_note_keys(ctx, &info);
    ctx->res->redis_server = xstrdup(ctx->m.redis_server);
    ctx->res->redis_version = xstrdup(ctx->m.redis_version);
    ctx->res->redis_method = xstrdup(ctx->m.redis_method);
    ctx->res->redis_transfer = xstrdup(ctx->m.redis_transfer);
    ctx->res->redis_fallback_reason =
        ctx->m.redis_fallback_reason ? xstrdup(ctx->m.redis_fallback_reason) : NULL;
    ctx->res->redis_rdb_version = ctx->m.redis_rdb_version;
    ctx->res->redis_used_memory = ctx->m.redis_used_memory;
out:
    redis_info_release(&info);
    redis_close(conn);
    return rc;
}
