#include "core/restore.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "core/crypt.h"
#include "core/lock.h"
#include "core/manifest.h"
#include "core/restore_priv.h"
#include "core/targets.h"
#include "io/filter.h"
#include "io/pipeline.h"
#include "io/proc.h"
#include "sources/pg.h"
#include "sources/pg_dump.h"
#include "stores/store.h"
#include "util/cancel.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/time.h"
#include "util/xalloc.h"

#define RESTORE_CHUNK_BYTES (1u << 20)

struct latest_state {
    char id[SNAPSHOT_ID_LEN];
    const char *want;
};

static int restore_pick(const struct snapshot_dir *d, void *arg, struct error *err)
{
    struct latest_state *st = arg;

    (void)err;
    if (!d->has_manifest)
        return 0;
    if (st->want && strcmp(st->want, d->id) != 0)
        return 0;
    if (strcmp(d->id, st->id) > 0)
        snprintf(st->id, sizeof(st->id), "%s", d->id);
    return 0;
}

/* Finds the snapshot (latest or by id) on the first store that has it. */
int restore_locate(const struct restore_request *req, struct store **out_store,
                   char id[SNAPSHOT_ID_LEN], struct error *err)
{
    const struct cfg_job *job = req->job;
    const char *want = req->snapshot && strcmp(req->snapshot, "latest") != 0 ? req->snapshot : NULL;
    struct error first_err = ERROR_INIT;

    *out_store = NULL;
    if (want && !snapshot_id_parse(want, NULL)) {
        error_set(err, ERR_USAGE, "'%s' is not a snapshot id", want);
        return error_hint(err, "use 'latest' or an id from 'permafrost list %s'", job->name);
    }
    /* --from may name any configured store, not only the job's targets: after an incident the copy
     * may be somewhere the job never wrote to (a store synced by hand). */
    if (req->from_store && !config_find_store(req->cfg, req->from_store))
        return error_set(err, ERR_USAGE, "unknown store '%s'", req->from_store);
    for (size_t i = 0; i < (req->from_store ? 1 : job->target_count); i++) {
        const char *name = req->from_store ? req->from_store : job->targets[i];
        struct store *s = NULL;
        struct latest_state st;
        struct error e = ERROR_INIT;

        memset(&st, 0, sizeof(st));
        st.want = want;
        if (targets_open(req->cfg, name, &s, &e) < 0 ||
            targets_scan(s, job->name, restore_pick, &st, &e) < 0) {
            log_warn("job '%s': store '%s': %s", job->name, name, e.msg);
            if (first_err.kind == ERR_NONE)
                first_err = e;
            store_free(s);
            continue;
        }
        if (st.id[0]) {
            memcpy(id, st.id, SNAPSHOT_ID_LEN);
            *out_store = s;
            return 0;
        }
        store_free(s);
    }
    if (first_err.kind != ERR_NONE) {
        *err = first_err;
        return error_wrap(err, "find a snapshot of job '%s'", job->name);
    }
    if (want)
        return error_set(err, ERR_FAILED, "no complete snapshot '%s' of job '%s' on %s", want,
                         job->name, req->from_store ? req->from_store : "any of its stores");
    return error_set(err, ERR_FAILED, "no complete snapshot of job '%s' on %s", job->name,
                     req->from_store ? req->from_store : "any of its stores");
}

/* Streaming into pg_restore holds back the last bytes of the dump until the artifact's digest has
 * been checked: without them pg_restore cannot finish, so it cannot commit a restore of data that
 * turns out not to match the manifest. */
#define RESTORE_HOLDBACK_BYTES ((size_t)1 << 20)

struct restore_sink {
    struct proc *child; /* streaming: pg_restore's stdin */
    struct buf held;    /* streaming: decompressed bytes not yet passed on */
    int fd;             /* to file: the temporary file */
    const char *path;
};

static int restore_sink_write(void *arg, const void *data, size_t len, struct error *err)
{
    struct restore_sink *s = arg;

    if (!s->child)
        return fs_write_all(s->fd, data, len, s->path, err);
    ASSERT(buf_add(&s->held, data, len));
    if (s->held.len > 2 * RESTORE_HOLDBACK_BYTES) {
        size_t n = s->held.len - RESTORE_HOLDBACK_BYTES;
        if (proc_write(s->child, s->held.data, n, err) < 0)
            return -1;
        buf_consume(&s->held, n);
    }
    return 0;
}

/* Passes on what was held back (after the digest matched). */
static int restore_sink_flush(struct restore_sink *s, struct error *err)
{
    if (!s->child || s->held.len == 0)
        return 0;
    if (proc_write(s->child, s->held.data, s->held.len, err) < 0)
        return -1;
    buf_reset(&s->held);
    return 0;
}

int restore_stream(const struct restore_request *req, struct store *s, const char *key,
                   const struct manifest_artifact *art, pipeline_sink_fn sink, void *sink_ctx,
                   struct error *err)
{
    struct store_reader *r = NULL;
    struct filter *hash = sha256_filter_new();
    struct pipeline pl;
    char *chunk = xmalloc(RESTORE_CHUNK_BYTES);
    char hex[65];
    uint64_t stored = 0;
    int64_t start = time_mono_ms();
    int64_t last = 0;
    bool digest_only = false;
    bool decode_failed = false;
    struct error decode_err = ERROR_INIT;
    int rc = -1;

    pipeline_init(&pl, sink, sink_ctx);
    if (art->encryption) {
        struct filter *age = NULL;

        /* verify without a key still reads every byte and checks the digest */
        if (req->digest_only_if_locked && !crypt_can_decrypt(req->job, req->identity)) {
            digest_only = true;
        } else {
            if (crypt_decrypt_filter(req->job, req->identity, &age, err) < 0)
                goto out;
            pipeline_take_filter(&pl, age);
        }
    }
    if (!digest_only)
        pipeline_take_filter(&pl, zstd_decompress_new());
    if (store_get_open(s, key, &r, err) < 0)
        goto out;
    for (;;) {
        size_t got;

        if (cancel_requested()) {
            error_set(err, ERR_CANCELLED, "cancelled");
            goto out;
        }
        if (store_reader_read(r, chunk, RESTORE_CHUNK_BYTES, &got, err) < 0)
            goto out;
        if (got == 0)
            break;
        stored += got;
        if (stored > art->size_bytes) {
            error_set(err, ERR_INTEGRITY,
                      "'%s' on store '%s' is larger than its manifest says (%llu bytes)", key,
                      store_name(s), (unsigned long long)art->size_bytes);
            goto out;
        }
        /* The digest is over the stored bytes, so it is taken before decompression. */
        if (filter_process(hash, chunk, got, &pl.stage[0], err) < 0)
            goto out;
        buf_reset(&pl.stage[0]);
        if (!digest_only && !decode_failed && pipeline_write(&pl, chunk, got, &decode_err) < 0) {
            if (decode_err.kind != ERR_CONFIG) {
                *err = decode_err;
                goto out;
            }
            /* "No identity matches" is also what a damaged age header looks like: read on, and
             * let the digest say which it is. */
            decode_failed = true;
        }
        if (req->progress && time_mono_ms() - last >= 500) {
            struct backup_progress p = {req->job->name, "restore",      pl.bytes_out,
                                        stored,         art->raw_bytes, time_mono_ms() - start};
            last = time_mono_ms();
            req->progress(&p, req->progress_ctx);
        }
    }
    /* The digest is compared first: a mismatch says more than the decoder's error would. The
     * decoders end here, and a sink acts for good only after this returns 0. */
    if (filter_finish(hash, &pl.stage[0], err) < 0)
        goto out;
    sha256_filter_hex(hash, hex);
    if (stored != art->size_bytes || strcmp(hex, art->sha256) != 0) {
        error_set(err, ERR_INTEGRITY,
                  "'%s' on store '%s' does not match its manifest (size %llu, expected %llu; "
                  "sha256 %s, expected %s)",
                  key, store_name(s), (unsigned long long)stored,
                  (unsigned long long)art->size_bytes, hex, art->sha256);
        error_hint(err, "restore another snapshot, or the same one from another store with --from");
        goto out;
    }
    if (decode_failed) {
        *err = decode_err;
        error_wrap(err, "'%s' on store '%s' (the file is intact: its SHA-256 matches the manifest)",
                   key, store_name(s));
        goto out;
    }
    buf_reset(&pl.stage[0]);
    if (!digest_only && pipeline_finish(&pl, err) < 0)
        goto out;
    rc = 0;
out:
    store_reader_close(r);
    filter_free(hash);
    pipeline_release(&pl);
    xfree(chunk);
    return rc;
}

#define RESTORE_MAX_ARGS 12

/* pg_restore's argv: stop at the first error (a partial restore must not look like a success). */
static void restore_build_argv(const struct restore_request *req, const char *path,
                               const char *dbname_arg, const char *mode_arg, const char *file,
                               const char *argv[RESTORE_MAX_ARGS])
{
    int n = 0;

    argv[n++] = path;
    argv[n++] = dbname_arg;
    argv[n++] = "--exit-on-error";
    argv[n++] = "--no-password";
    argv[n++] = mode_arg;
    if (req->clean) {
        argv[n++] = "--clean";
        argv[n++] = "--if-exists";
    }
    if (req->no_owner)
        argv[n++] = "--no-owner";
    if (file)
        argv[n++] = file;
    argv[n] = NULL;
}

/* Makes sure the target database is there (creating it with --create) and empty (unless --clean).
 */
static int restore_prepare_target(const struct restore_request *req, const struct manifest *m,
                                  const char *dbname, bool *created, struct error *err)
{
    struct pg_conn *conn = NULL;
    int64_t relations = 0;
    bool exists = false;
    int rc = -1;

    if (req->create) {
        if (pg_connect_db(req->to, "postgres", req->password, &conn, err) < 0)
            goto out;
        if (pg_database_exists(conn, dbname, &exists, err) < 0)
            goto out;
        if (exists) {
            error_set(err, ERR_FAILED, "database '%s' already exists", dbname);
            error_hint(err, "drop it, or restore into it without --create (with --clean if it is "
                            "not empty)");
            goto out;
        }
        if (pg_create_database(conn, dbname, m->pg_encoding, err) < 0)
            goto out;
        *created = true;
        pg_close(conn);
        conn = NULL;
    }
    if (pg_connect(req->to, req->password, &conn, err) < 0) {
        if (!req->create)
            error_hint(err, "does database '%s' exist? pass --create to create it", dbname);
        goto out;
    }
    if (pg_count_user_relations(conn, &relations, err) < 0)
        goto out;
    if (relations > 0 && !req->clean) {
        error_set(err, ERR_FAILED, "database '%s' is not empty (%lld tables, views or sequences)",
                  dbname, (long long)relations);
        error_hint(err, "restore into a new database (--create), or pass --clean to drop and "
                        "replace the objects in the snapshot");
        goto out;
    }
    rc = 0;
out:
    pg_close(conn);
    return rc;
}

int restore_run(const struct restore_request *req, struct restore_result *res, struct error *err)
{
    const struct cfg_job *job = req->job;
    struct store *s = NULL;
    struct job_lock *lock = NULL;
    struct manifest m;
    struct pg_tool pg_restore;
    struct pg_passfile passfile;
    struct proc child;
    struct restore_sink sink;
    const struct manifest_artifact *art = NULL;
    char *key = NULL;
    char *dbname = NULL;
    char *dbname_arg = NULL;
    char *jobs_arg = NULL;
    char *tmp_path = NULL;
    char id[SNAPSHOT_ID_LEN] = "";
    const char *argv[RESTORE_MAX_ARGS];
    int64_t start = time_mono_ms();
    bool child_started = false;
    bool created = false;
    char fd_path[64];
    int exit_code = 0;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    memset(&m, 0, sizeof(m));
    memset(&pg_restore, 0, sizeof(pg_restore));
    memset(&passfile, 0, sizeof(passfile));
    memset(&child, 0, sizeof(child));
    memset(&sink, 0, sizeof(sink));
    sink.fd = -1;
    buf_init(&sink.held, BUF_NO_CAP);

    dbname = pg_conninfo_dbname(req->to);
    if (!dbname) {
        error_set(err, ERR_USAGE, "--to '%s' names no database", req->to);
        error_hint(err, "for example --to 'host=127.0.0.1 dbname=mastodon_restore user=postgres'");
        goto out;
    }
    /* The lock keeps prune from removing the snapshot while it is being read. */
    if (lock_acquire(req->state_dir, job->name, "restore", &lock, err) < 0)
        goto out;
    if (restore_locate(req, &s, id, err) < 0)
        goto out;
    if (targets_read_manifest(s, job->name, id, &m, err) < 0)
        goto out;
    for (size_t i = 0; i < m.artifact_count; i++)
        if (strcmp(m.artifacts[i].content, "pg_dump-custom") == 0)
            art = &m.artifacts[i];
    if (!art) {
        error_set(err, ERR_INTEGRITY, "snapshot '%s' has no pg_dump artifact", id);
        goto out;
    }
    if (pg_tool_find("pg_restore", NULL, &pg_restore, err) < 0)
        goto out;
    if (m.pg_dump_version) {
        int dump_major = (int)strtol(m.pg_dump_version, NULL, 10);
        if (pg_restore.major < dump_major) {
            error_set(err, ERR_FAILED,
                      "pg_restore %s is older than the pg_dump %s that wrote "
                      "snapshot '%s'",
                      pg_restore.version, m.pg_dump_version, id);
            error_hint(err, "install postgresql-client-%d or newer", dump_major);
            goto out;
        }
    }
    if (restore_prepare_target(req, &m, dbname, &created, err) < 0)
        goto out;
    if (req->password && pg_passfile_create(req->password, &passfile, err) < 0)
        goto out;

    key = xasprintf("%s/%s/%s", job->name, id, art->name);
    dbname_arg = xasprintf("--dbname=%s", req->to);
    log_info("job '%s': restoring snapshot '%s' from store '%s' into database '%s'", job->name, id,
             store_name(s), dbname);
    if (req->jobs > 1) {
        const char *tmp = req->tmp_dir ? req->tmp_dir : getenv("TMPDIR");
        const char *env[3] = {passfile.env_entry, "PGPASSWORD", NULL};

        tmp_path = xasprintf("%s/permafrost-restore-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        sink.fd = mkstemp(tmp_path);
        if (sink.fd < 0) {
            error_errno(err, ERR_IO, "create temporary file in '%s'", tmp && *tmp ? tmp : "/tmp");
            goto out;
        }
        /* The plaintext dump must not outlive us, even after kill -9: the file is unlinked at once
         * and pg_restore (and its parallel workers, which inherit the descriptor) open it as
         * /proc/self/fd/N. */
        if (unlink(tmp_path) < 0) {
            error_errno(err, ERR_IO, "unlink temporary file '%s'", tmp_path);
            goto out;
        }
        snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", sink.fd);
        sink.path = tmp_path;
        if (restore_stream(req, s, key, art, restore_sink_write, &sink, err) < 0)
            goto out;
        jobs_arg = xasprintf("--jobs=%d", req->jobs);
        restore_build_argv(req, pg_restore.path, dbname_arg, jobs_arg, fd_path, argv);
        if (proc_spawn(argv, env[0] ? env : NULL, 0, &child, err) < 0)
            goto out;
        child_started = true;
        if (proc_wait(&child, &exit_code, err) < 0)
            goto out;
    } else {
        const char *env[3] = {passfile.env_entry, "PGPASSWORD", NULL};

        restore_build_argv(req, pg_restore.path, dbname_arg, "--single-transaction", NULL, argv);
        if (proc_spawn(argv, env[0] ? env : NULL, PROC_STDIN_PIPE, &child, err) < 0)
            goto out;
        child_started = true;
        sink.child = &child;
        /* One transaction: when the stream turns out corrupt, pg_restore is killed before it
         * commits, so the target is left as it was. */
        if (restore_stream(req, s, key, art, restore_sink_write, &sink, err) < 0 ||
            restore_sink_flush(&sink, err) < 0) {
            if (err->sys_errno == EPIPE) {
                /* pg_restore quit on an error of its own: its message says more than the pipe. */
                struct error werr = ERROR_INIT;
                if (proc_wait(&child, &exit_code, &werr) == 0 && exit_code != 0)
                    error_set(err, ERR_FAILED, "pg_restore exited with status %d: %s", exit_code,
                              proc_stderr_text(&child));
                goto out;
            }
            proc_kill(&child, SIGKILL);
            goto out;
        }
        proc_close_stdin(&child);
        if (proc_wait(&child, &exit_code, err) < 0)
            goto out;
    }
    if (cancel_requested() && exit_code != 0) {
        error_set(err, ERR_CANCELLED, "cancelled; pg_restore stopped (exit status %d)", exit_code);
        goto out;
    }
    if (exit_code != 0) {
        error_set(err, ERR_FAILED, "pg_restore exited with status %d: %s", exit_code,
                  proc_stderr_text(&child));
        goto out;
    }
    snprintf(res->snapshot_id, sizeof(res->snapshot_id), "%s", id);
    res->store = xstrdup(store_name(s));
    res->database = dbname;
    dbname = NULL;
    res->stored_bytes = art->size_bytes;
    res->raw_bytes = art->raw_bytes;
    rc = 0;
out:
    if (rc < 0 && child_started && !child.is_waited) {
        struct error ignored = ERROR_INIT;
        proc_kill(&child, SIGKILL);
        proc_wait(&child, &exit_code, &ignored);
    }
    if (rc < 0)
        error_wrap(err, "restore job '%s'%s%s", job->name, id[0] ? " snapshot " : "", id);
    proc_release(&child);
    if (sink.fd >= 0)
        close(sink.fd);
    buf_release(&sink.held);
    if (rc < 0 && created) {
        /* --create made it, so a failed restore takes it away again: a retry must not find it. */
        struct error derr = ERROR_INIT;
        struct pg_conn *conn = NULL;
        if (pg_connect_db(req->to, "postgres", req->password, &conn, &derr) < 0 ||
            pg_drop_database(conn, dbname, &derr) < 0)
            log_warn("could not drop database '%s' created for the failed restore: %s", dbname,
                     derr.msg);
        pg_close(conn);
    }
    pg_passfile_remove(&passfile);
    pg_tool_release(&pg_restore);
    manifest_release(&m);
    store_free(s);
    lock_release(lock);
    xfree(key);
    xfree(dbname);
    xfree(dbname_arg);
    xfree(jobs_arg);
    xfree(tmp_path);
    res->duration_ms = time_mono_ms() - start;
    return rc;
}

void restore_result_release(struct restore_result *res)
{
    xfree(res->store);
    xfree(res->database);
    memset(res, 0, sizeof(*res));
}
