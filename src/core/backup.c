#include "core/backup.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include "core/backup_priv.h"
#include "core/catalog.h"
#include "core/crypt.h"
#include "core/lock.h"
#include "core/manifest.h"
#include "core/prune.h"
#include "core/targets.h"
#include "io/filter.h"
#include "io/pipeline.h"
#include "io/proc.h"
#include "permafrost_version.h"
#include "sources/pg.h"
#include "sources/pg_dump.h"
#include "stores/store.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/log.h"
#include "util/time.h"
#include "util/xalloc.h"

#define BACKUP_CHUNK_BYTES (1u << 20)
#define BACKUP_PROGRESS_MS 500

static void backup_report_progress(struct backup_ctx *ctx, uint64_t raw, uint64_t stored,
                                   bool force)
{
    struct backup_progress p;
    int64_t now = time_mono_ms();

    if (!ctx->req->progress || (!force && now - ctx->last_progress_ms < BACKUP_PROGRESS_MS))
        return;
    ctx->last_progress_ms = now;
    p.job = ctx->job->name;
    p.phase = ctx->phase;
    p.raw_bytes = raw;
    p.stored_bytes = stored;
    p.expected_raw_bytes = ctx->expected_raw_bytes;
    p.elapsed_ms = now - ctx->start_mono_ms;
    ctx->req->progress(&p, ctx->req->progress_ctx);
}

static int backup_sink(void *arg, const void *data, size_t len, struct error *err)
{
    struct store_writer *w = arg;
    return store_writer_write(w, data, len, err);
}

struct backup_scan {
    struct store *store;
    time_t newest; /* time of the newest snapshot id seen, complete or not */
};

/* Removes snapshot directories of this job that have no manifest: leftovers of runs that were
 * killed. Safe because we hold the job's lock. Also notes the newest id, so the new one sorts after
 * it. */
static int backup_clean_unfinished_one(const struct snapshot_dir *d, void *arg, struct error *err)
{
    struct backup_scan *scan = arg;
    struct store *s = scan->store;
    time_t t = 0;
    char *prefix;
    int r;

    if (snapshot_id_parse(d->id, &t) && t > scan->newest)
        scan->newest = t;
    if (d->has_manifest)
        return 0;
    prefix = xasprintf("%s/%s/", d->job, d->id);
    r = store_remove_prefix(s, prefix, err);
    if (r == 0)
        log_info("job '%s': store '%s': removed unfinished snapshot '%s'", d->job, store_name(s),
                 d->id);
    xfree(prefix);
    return r;
}

void backup_progress_tick(struct backup_ctx *ctx, uint64_t raw, uint64_t stored, bool force)
{
    backup_report_progress(ctx, raw, stored, force);
}

int backup_artifact_open(struct backup_ctx *ctx, const char *file_name, struct backup_artifact *a,
                         struct error *err)
{
    struct filter *age = NULL;

    memset(a, 0, sizeof(*a));
    a->ctx = ctx;
    /* Built first, so a bad recipient fails before anything is written. */
    if (crypt_encrypt_filter(ctx->job, &age, err) < 0)
        return -1;
    a->is_encrypted = age != NULL;
    /* x.dump.zst.age: what `age -d | zstd -d` undoes, in order. */
    a->file_name = age ? xasprintf("%s.age", file_name) : xstrdup(file_name);
    a->key = xasprintf("%s%s", ctx->prefix, a->file_name);
    pipeline_init(&a->pl, backup_sink, NULL);
    if (store_put_open(ctx->stores[0], a->key, &a->w, err) < 0) {
        error_wrap(err, "store '%s': write '%s'", store_name(ctx->stores[0]), a->key);
        filter_free(age);
        return -1;
    }
    a->pl.sink_ctx = a->w;
    pipeline_take_filter(
        &a->pl, zstd_compress_new(ctx->job->compression_level, ctx->job->compression_threads));
    if (age)
        pipeline_take_filter(&a->pl, age);
    a->hash = sha256_filter_new();
    pipeline_take_filter(&a->pl, a->hash);
    return 0;
}

int backup_artifact_write(struct backup_artifact *a, const void *data, size_t len,
                          struct error *err)
{
    if (pipeline_write(&a->pl, data, len, err) < 0)
        return error_wrap(err, "store '%s': write '%s'", store_name(a->ctx->stores[0]), a->key);
    backup_report_progress(a->ctx, a->pl.bytes_in, a->ctx->stored_so_far + a->pl.bytes_out, false);
    return 0;
}

int backup_artifact_commit(struct backup_artifact *a, const char *content, struct error *err)
{
    struct backup_ctx *ctx = a->ctx;
    struct store *first = ctx->stores[0];
    struct manifest_artifact art;

    if (pipeline_finish(&a->pl, err) < 0)
        return error_wrap(err, "store '%s': write '%s'", store_name(first), a->key);
    if (cancel_requested())
        return error_set(err, ERR_CANCELLED, "cancelled");
    if (store_writer_commit(a->w, err) < 0) {
        a->w = NULL;
        return error_wrap(err, "store '%s': commit '%s'", store_name(first), a->key);
    }
    a->w = NULL;
    memset(&art, 0, sizeof(art));
    art.name = a->file_name;
    art.content = (char *)(uintptr_t)content;
    art.compression = (char *)(uintptr_t) "zstd";
    art.compression_level = ctx->job->compression_level;
    art.encryption = a->is_encrypted ? (char *)(uintptr_t) "age" : NULL;
    art.size_bytes = a->pl.bytes_out;
    art.raw_bytes = a->pl.bytes_in;
    sha256_filter_hex(a->hash, art.sha256);
    manifest_add_artifact(&ctx->m, &art);
    ctx->stored_so_far += a->pl.bytes_out;
    backup_report_progress(ctx, a->pl.bytes_in, ctx->stored_so_far, true);
    return 0;
}

void backup_artifact_release(struct backup_artifact *a)
{
    store_writer_abort(a->w);
    a->w = NULL;
    pipeline_release(&a->pl);
    xfree(a->key);
    xfree(a->file_name);
    memset(a, 0, sizeof(*a));
}

/* Streams one child process's stdout through zstd + sha256 into key on the first target, and
 * records the artifact in the manifest. The artifact is committed only if the stream ended and the
 * child exited 0. */
static int backup_stream_child(struct backup_ctx *ctx, const char *const *argv,
                               const char *file_name, const char *content, struct error *err)
{
    /* With our passfile, a PGPASSWORD from the environment must not win over it. */
    const char *env[3] = {ctx->passfile.env_entry, "PGPASSWORD", NULL};
    struct backup_artifact a;
    struct proc child;
    bool child_started = false;
    char *chunk = xmalloc(BACKUP_CHUNK_BYTES);
    int exit_code = -1;
    int rc = -1;

    memset(&child, 0, sizeof(child));
    if (backup_artifact_open(ctx, file_name, &a, err) < 0)
        goto out;
    if (proc_spawn(argv, env[0] ? env : NULL, PROC_STDOUT_PIPE, &child, err) < 0)
        goto out;
    child_started = true;
    for (;;) {
        size_t got;

        if (proc_read(&child, chunk, BACKUP_CHUNK_BYTES, &got, err) < 0)
            goto out;
        if (got == 0)
            break;
        if (backup_artifact_write(&a, chunk, got, err) < 0)
            goto out;
    }
    if (proc_wait(&child, &exit_code, err) < 0)
        goto out;
    if (cancel_requested()) {
        error_set(err, ERR_CANCELLED, "cancelled");
        goto out;
    }
    if (exit_code != 0) {
        const char *text = proc_stderr_text(&child);
        error_set(err, ERR_FAILED, "%s exited with status %d%s%s", child.name, exit_code,
                  *text ? ": " : "", text);
        goto out;
    }
    if (backup_artifact_commit(&a, content, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0 && child_started && !child.is_waited) {
        /* Stop the dump: a failed store write or a cancel must not leave pg_dump running. */
        proc_kill(&child, SIGTERM);
        proc_wait(&child, &exit_code, &(struct error)ERROR_INIT);
    }
    proc_release(&child);
    backup_artifact_release(&a);
    xfree(chunk);
    return rc;
}

/* pg_dump and pg_dumpall refuse a server newer than themselves: say so before starting, with both
 * versions named. */
static int backup_check_version(struct backup_ctx *ctx, const struct pg_tool *tool,
                                const char *name, const struct pg_facts *facts, struct error *err)
{
    int server_major = facts->server_version_num / 10000;

    if (tool->major < server_major) {
        error_set(err, ERR_FAILED,
                  "%s %s ('%s') is older than the server (PostgreSQL %s): %s cannot dump a newer "
                  "server",
                  name, tool->version, tool->path, facts->server_version, name);
        return error_hint(err,
                          "install postgresql-client-%d (or newer) or set 'pg_dump = PATH' in "
                          "[job \"%s\"]",
                          server_major, ctx->job->name);
    }
    return 0;
}

static int backup_dump(struct backup_ctx *ctx, struct error *err)
{
    const struct cfg_job *job = ctx->job;
    const char *password = secret_is_set(&job->password) ? job->password.value : NULL;
    struct pg_conn *conn = NULL;
    struct pg_facts facts;
    struct pg_table_count *tables = NULL;
    size_t table_count = 0;
    char *snapshot = NULL;
    char *snapshot_arg = NULL;
    char *dbname_arg = NULL;
    char *file_name = NULL;
    enum pg_count_mode mode = job->row_counts == ROW_COUNTS_EXACT      ? PG_COUNT_EXACT
                              : job->row_counts == ROW_COUNTS_ESTIMATE ? PG_COUNT_ESTIMATE
                                                                       : PG_COUNT_OFF;
    int rc = -1;

    memset(&facts, 0, sizeof(facts));
    if (pg_tool_find("pg_dump", job->pg_dump, &ctx->pg_dump, err) < 0)
        goto out;
    ctx->phase = "connect";
    if (pg_connect(job->database, password, &conn, err) < 0)
        goto out;
    if (pg_read_facts(conn, &facts, err) < 0)
        goto out;
    if (backup_check_version(ctx, &ctx->pg_dump, "pg_dump", &facts, err) < 0)
        goto out;
    ctx->expected_raw_bytes =
        facts.database_size_bytes > 0 ? (uint64_t)facts.database_size_bytes : 0;
    if (pg_export_snapshot(conn, &snapshot, err) < 0)
        goto out;
    ctx->phase = "count rows";
    if (pg_count_tables(conn, mode, &tables, &table_count, err) < 0)
        goto out;
    log_debug("job '%s': PostgreSQL %s, database '%s' (%lld bytes), %zu tables, snapshot %s",
              job->name, facts.server_version, facts.database, (long long)facts.database_size_bytes,
              table_count, snapshot);

    if (password && pg_passfile_create(password, &ctx->passfile, err) < 0)
        goto out;

    ctx->phase = "dump";
    snapshot_arg = xasprintf("--snapshot=%s", snapshot);
    dbname_arg = xasprintf("--dbname=%s", job->database);
    file_name = xasprintf("%s.dump.zst", facts.database);
    {
        const char *argv[] = {ctx->pg_dump.path,
                              "--format=custom",
                              "--compress=0",
                              snapshot_arg,
                              "--no-password",
                              dbname_arg,
                              NULL};
        if (backup_stream_child(ctx, argv, file_name, "pg_dump-custom", err) < 0) {
            error_wrap(err, "dump database '%s'", facts.database);
            goto out;
        }
    }
    if (job->globals) {
        ctx->phase = "globals";
        if (pg_tool_find_sibling("pg_dumpall", &ctx->pg_dump, &ctx->pg_dumpall, err) < 0 ||
            backup_check_version(ctx, &ctx->pg_dumpall, "pg_dumpall", &facts, err) < 0)
            goto out;
        {
            /* Reading role passwords needs a superuser (pg_authid). Mastodon's own role usually is
             * not one: then the roles are dumped without their passwords, and the run says so. */
            const char *argv[] = {ctx->pg_dumpall.path,
                                  "--globals-only",
                                  "--no-password",
                                  dbname_arg,
                                  facts.is_superuser ? NULL : "--no-role-passwords",
                                  NULL};
            if (!facts.is_superuser)
                log_info("job '%s': '%s' is not a superuser: roles are dumped without passwords",
                         job->name, facts.user);
            if (backup_stream_child(ctx, argv, "globals.sql.zst", "sql-globals", err) < 0) {
                error_wrap(err, "dump globals (roles, tablespaces)");
                goto out;
            }
        }
    }
    if (pg_end_transaction(conn, err) < 0)
        goto out;

    ctx->m.pg_database = xstrdup(facts.database);
    ctx->m.pg_server_version = xstrdup(facts.server_version);
    ctx->m.pg_server_version_num = facts.server_version_num;
    ctx->m.pg_dump_version = xstrdup(ctx->pg_dump.version);
    ctx->m.pg_database_size_bytes = facts.database_size_bytes;
    ctx->m.pg_encoding = facts.encoding ? xstrdup(facts.encoding) : NULL;
    ctx->m.pg_collate = facts.collate ? xstrdup(facts.collate) : NULL;
    ctx->m.pg_ctype = facts.ctype ? xstrdup(facts.ctype) : NULL;
    ctx->m.pg_schema_migrations_head =
        facts.schema_migrations_head ? xstrdup(facts.schema_migrations_head) : NULL;
    ctx->m.row_counts = xstrdup(mode == PG_COUNT_EXACT      ? "exact"
                                : mode == PG_COUNT_ESTIMATE ? "estimate"
                                                            : "off");
    ctx->res->total_rows = mode == PG_COUNT_OFF ? -1 : 0;
    for (size_t i = 0; i < table_count; i++) {
        manifest_add_table(&ctx->m, tables[i].schema, tables[i].name, tables[i].rows,
                           tables[i].is_exact);
        if (ctx->res->total_rows >= 0 && tables[i].rows >= 0)
            ctx->res->total_rows += tables[i].rows;
    }
    ctx->res->database = xstrdup(facts.database);
    ctx->res->server_version = xstrdup(facts.server_version);
    ctx->res->pg_dump_version = xstrdup(ctx->pg_dump.version);
    ctx->res->database_size_bytes = facts.database_size_bytes;
    ctx->res->table_count = table_count;
    rc = 0;
out:
    pg_passfile_remove(&ctx->passfile);
    pg_tables_free(tables, table_count);
    pg_facts_release(&facts);
    pg_close(conn);
    xfree(snapshot);
    xfree(snapshot_arg);
    xfree(dbname_arg);
    xfree(file_name);
    return rc;
}

/* Copies the complete snapshot from the first target to target i: artifacts first, manifest last.
 */
static int backup_replicate(struct backup_ctx *ctx, size_t i, struct error *err)
{
    struct store *src = ctx->stores[0];
    struct store *dst = ctx->stores[i];
    char *key = NULL;
    bool server_side = true;
    bool this_server_side = false;
    int rc = -1;

    for (size_t a = 0; a < ctx->m.artifact_count; a++) {
        key = xasprintf("%s%s", ctx->prefix, ctx->m.artifacts[a].name);
        if (targets_copy_object(src, dst, key, &this_server_side, err) < 0)
            goto out;
        server_side = server_side && this_server_side;
        xfree(key);
        key = NULL;
    }
    key = xasprintf("%smanifest.json", ctx->prefix);
    if (targets_copy_object(src, dst, key, &this_server_side, err) < 0)
        goto out;
    ctx->res->targets[i].is_server_side = server_side && this_server_side;
    rc = 0;
out:
    if (rc < 0) {
        struct error ignored = ERROR_INIT;
        store_remove_prefix(dst, ctx->prefix, &ignored);
    }
    xfree(key);
    return rc;
}

/* Each target gets its own tries: a store that is briefly unreachable (a network blip between
 * geographies) should not cost the snapshot its second copy, and the other targets are not held
 * up. Requests are already retried inside the store; this covers a copy that failed as a whole. */
#define BACKUP_REPLICATE_ATTEMPTS 3

static int backup_replicate_retrying(struct backup_ctx *ctx, size_t i, struct error *err)
{
    for (int attempt = 1;; attempt++) {
        struct timespec pause = {(time_t)(2 * attempt), 0};
        if (backup_replicate(ctx, i, err) == 0)
            return 0;
        if (attempt >= BACKUP_REPLICATE_ATTEMPTS ||
            (err->kind != ERR_NETWORK && err->kind != ERR_REMOTE) || cancel_requested())
            return -1;
        log_warn("job '%s': store '%s': copy attempt %d of %d failed: %s; trying again",
                 ctx->job->name, store_name(ctx->stores[i]), attempt, BACKUP_REPLICATE_ATTEMPTS,
                 err->msg);
        (void)nanosleep(&pause, NULL);
        error_clear(err);
    }
}

static void backup_catalog_add(struct catalog *catalog, const struct cfg_job *job,
                               const char *store, const struct manifest *m)
{
    struct error cerr = ERROR_INIT;

    if (catalog && catalog_add_snapshot(catalog, store, m, &cerr) < 0)
        log_warn("job '%s': %s; 'permafrost catalog rebuild' will pick the snapshot up", job->name,
                 cerr.msg);
}

static void backup_set_target(struct backup_result *res, size_t i, bool ok, const struct error *e)
{
    res->targets[i].is_ok = ok;
    if (!ok && e)
        buf_format_fixed(res->targets[i].error, sizeof(res->targets[i].error), "%s", e->msg);
}

int backup_run(const struct backup_request *req, struct backup_result *res, struct error *err)
{
    const struct cfg_job *job = req->job;
    struct backup_ctx ctx;
    struct job_lock *lock = NULL;
    struct catalog *catalog = NULL;
    struct buf json;
    struct backup_scan scan = {NULL, 0};
    char host[256] = "unknown";
    int64_t run_id = -1;
    time_t started = 0;
    size_t ok_targets = 0;
    bool manifest_written = false;
    int rc = -1;

    memset(&ctx, 0, sizeof(ctx));
    memset(res, 0, sizeof(*res));
    buf_init(&json, MANIFEST_MAX_BYTES);
    ctx.req = req;
    ctx.job = job;
    ctx.res = res;
    ctx.start_mono_ms = time_mono_ms();
    ctx.phase = "start";
    res->total_rows = -1;
    res->redis_keys = -1;
    res->redis_used_memory = -1;
    res->targets = xcalloc(job->target_count ? job->target_count : 1, sizeof(*res->targets));
    res->target_count = job->target_count;
    for (size_t i = 0; i < job->target_count; i++)
        res->targets[i].store = xstrdup(job->targets[i]);

    if (job->target_count == 0) {
        error_set(err, ERR_CONFIG, "job '%s' has no targets", job->name);
        goto out;
    }
    if (lock_acquire(req->state_dir, job->name, "run", &lock, err) < 0)
        goto out;
    /* The catalog is a cache of the manifests (catalog rebuild recreates it): a problem with it is
     * reported, but never costs a backup. */
    {
        struct error cerr = ERROR_INIT;
        if (catalog_open(req->state_dir, &catalog, &cerr) < 0)
            log_warn("job '%s': %s; the run goes on without it", job->name, cerr.msg);
    }

    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of store pointers */
    ctx.stores = xcalloc(job->target_count, sizeof(*ctx.stores));
    for (size_t i = 0; i < job->target_count; i++) {
        if (targets_open(req->cfg, job->targets[i], &ctx.stores[i], err) < 0)
            goto out;
        scan.store = ctx.stores[i];
        if (targets_scan(ctx.stores[i], job->name, backup_clean_unfinished_one, &scan, err) < 0) {
            error_wrap(err, "store '%s': clean up unfinished snapshots", job->targets[i]);
            goto out;
        }
    }
    /* Ids sort by their second; a run in the same second as the newest snapshot (quick retries,
     * tests) waits for the next one, so "newest" by id is always newest by creation. */
    started = time(NULL);
    if (scan.newest > started + 2) {
        /* An id from the future (the clock was ahead, or went back): the new snapshot must still
         * sort newest, or retention would take it for an old one and remove it. */
        log_warn("job '%s': a snapshot on a store is dated %lld s in the future; is the clock "
                 "right? the new snapshot's id is dated after it",
                 job->name, (long long)(scan.newest - started));
        started = scan.newest + 1;
    } else {
        while (time(NULL) <= scan.newest && !cancel_requested())
            usleep(50000);
        started = time(NULL);
    }
    snapshot_id_make(started, snapshot_id_random(), res->snapshot_id);
    if (catalog) {
        struct error cerr = ERROR_INIT;
        if (catalog_run_begin(catalog, job->name, res->snapshot_id, started, &run_id, &cerr) < 0)
            log_warn("job '%s': %s", job->name, cerr.msg);
    }
    ctx.prefix = xasprintf("%s/%s/", job->name, res->snapshot_id);
    log_info("job '%s': snapshot '%s' to %s", job->name, res->snapshot_id,
             store_location(ctx.stores[0]));

    ctx.m.format_version = MANIFEST_FORMAT_VERSION;
    ctx.m.pg_database_size_bytes = -1;
    ctx.m.redis_used_memory = -1;
    ctx.m.job = xstrdup(job->name);
    ctx.m.kind = xstrdup(config_job_kind_name(job->kind));
    ctx.m.snapshot_id = xstrdup(res->snapshot_id);
    ctx.m.started_at = started;
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    ctx.m.host = xstrdup(host);
    ctx.m.permafrost_version = xstrdup(PERMAFROST_VERSION);
    if (crypt_job_encrypts(job)) {
        /* The recipients are public keys; the passphrase is recorded only as a fact. */
        ctx.m.recipient_count = job->crypt.recipient_count;
        ctx.m.recipients = xcalloc(job->crypt.recipient_count + 1, sizeof(*ctx.m.recipients));
        for (size_t i = 0; i < job->crypt.recipient_count; i++)
            ctx.m.recipients[i] = xstrdup(job->crypt.recipients[i]);
        ctx.m.passphrase = job->crypt.recipient_count == 0;
        res->recipient_count = ctx.m.recipient_count;
        res->passphrase = ctx.m.passphrase;
    }

    if ((job->kind == JOB_KIND_REDIS ? backup_redis(&ctx, err) : backup_dump(&ctx, err)) < 0) {
        error_wrap(err, "job '%s'", job->name);
        goto out;
    }

    /* The commit point: the manifest, written after every artifact is durable. */
    ctx.m.ended_at = time(NULL);
    manifest_to_json(&ctx.m, &json);
    {
        char *key = xasprintf("%smanifest.json", ctx.prefix);
        int r = store_put_bytes(ctx.stores[0], key, json.data, json.len, err);
        if (r < 0)
            error_wrap(err, "job '%s': store '%s': write '%s'", job->name, job->targets[0], key);
        xfree(key);
        if (r < 0)
            goto out;
    }
    manifest_written = true;
    backup_set_target(res, 0, true, NULL);
    ok_targets = 1;
    backup_catalog_add(catalog, job, job->targets[0], &ctx.m);

    for (size_t i = 1; i < job->target_count; i++) {
        struct error terr = ERROR_INIT;
        char phase[128];

        if (cancel_requested()) {
            error_set(err, ERR_CANCELLED, "job '%s': cancelled before the copy to store '%s'",
                      job->name, job->targets[i]);
            goto out;
        }
        snprintf(phase, sizeof(phase), "copy to '%s'", job->targets[i]);
        ctx.phase = phase;
        backup_report_progress(&ctx, manifest_raw_bytes(&ctx.m), ctx.stored_so_far, true);
        if (backup_replicate_retrying(&ctx, i, &terr) < 0) {
            log_error("job '%s': store '%s': %s", job->name, job->targets[i], terr.msg);
            backup_set_target(res, i, false, &terr);
            continue;
        }
        backup_set_target(res, i, true, NULL);
        backup_catalog_add(catalog, job, job->targets[i], &ctx.m);
        ok_targets++;
    }

    res->raw_bytes = manifest_raw_bytes(&ctx.m);
    res->stored_bytes = manifest_stored_bytes(&ctx.m);

    if (cancel_requested()) {
        error_set(err, ERR_CANCELLED, "job '%s': cancelled after snapshot '%s' was written",
                  job->name, res->snapshot_id);
        goto out;
    }
    if (!req->skip_prune) {
        struct prune_report rep;

        ctx.phase = "prune";
        memset(&rep, 0, sizeof(rep));
        for (size_t i = 0; i < job->target_count; i++) {
            struct error perr = ERROR_INIT;
            if (!res->targets[i].is_ok)
                continue;
            if (prune_job_store(ctx.stores[i], job, req->cfg->global.timezone, false, catalog, &rep,
                                &perr) < 0) {
                log_warn("job '%s': store '%s': retention: %s", job->name, job->targets[i],
                         perr.msg);
                buf_format_fixed(res->prune_error, sizeof(res->prune_error), "store '%s': %s",
                                 job->targets[i], perr.msg);
            }
        }
        res->pruned = rep.removed;
        prune_report_release(&rep);
    }

    if (ok_targets != job->target_count) {
        error_set(err, ERR_FAILED, "job '%s': snapshot '%s' is complete on %zu of %zu stores",
                  job->name, res->snapshot_id, ok_targets, job->target_count);
        goto out;
    }
    res->is_ok = true;
    rc = 0;
out:
    if (!manifest_written && ctx.stores && ctx.stores[0] && ctx.prefix) {
        /* Nothing of a failed run may look like a snapshot; what is left is removed now (or, after
         * a kill -9, by the next run or prune). */
        struct error ignored = ERROR_INIT;
        store_remove_prefix(ctx.stores[0], ctx.prefix, &ignored);
        if (res->target_count)
            backup_set_target(res, 0, false, err);
    }
    res->duration_ms = time_mono_ms() - ctx.start_mono_ms;
    if (catalog && run_id >= 0) {
        struct error cerr = ERROR_INIT;
        const char *result = rc == 0                      ? "ok"
                             : err->kind == ERR_CANCELLED ? "cancelled"
                             : ok_targets > 0             ? "partial"
                                                          : "failed";
        if (catalog_run_end(catalog, run_id, time(NULL), result, rc == 0 ? NULL : err->msg,
                            res->stored_bytes, res->raw_bytes, &cerr) < 0)
            log_warn("%s", cerr.msg);
    }
    for (size_t i = 0; ctx.stores && i < job->target_count; i++)
        store_free(ctx.stores[i]);
    xfree(ctx.stores);
    xfree(ctx.prefix);
    manifest_release(&ctx.m);
    pg_tool_release(&ctx.pg_dump);
    pg_tool_release(&ctx.pg_dumpall);
    catalog_close(catalog);
    lock_release(lock);
    buf_release(&json);
    return rc;
}

void backup_result_release(struct backup_result *res)
{
    for (size_t i = 0; i < res->target_count; i++)
        xfree(res->targets[i].store);
    xfree(res->targets);
    xfree(res->database);
    xfree(res->server_version);
    xfree(res->pg_dump_version);
    xfree(res->redis_server);
    xfree(res->redis_version);
    xfree(res->redis_method);
    xfree(res->redis_transfer);
    xfree(res->redis_fallback_reason);
    memset(res, 0, sizeof(*res));
}
