#include "core/verify.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/catalog.h"
#include "core/crypt.h"
#include "core/lock.h"
#include "core/manifest.h"
#include "core/redis_restore.h"
#include "core/restore.h"
#include "core/restore_priv.h"
#include "core/targets.h"
#include "io/proc.h"
#include "sources/pg.h"
#include "sources/pg_dump.h"
#include "sources/rdb.h"
#include "sources/redis.h"
#include "sources/resp.h"
#include "stores/store.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/time.h"
#include "util/xalloc.h"

#define VERIFY_DETAIL_CAP     4096
#define VERIFY_PG_NAME_MAX    63 /* NAMEDATALEN - 1 */
#define VERIFY_REDIS_START_MS 30000

/* ---- names ---- */

char *verify_scratch_name(const char *job, const char *suffix)
{
    const char *prefix = "permafrost_verify_";
    size_t room = VERIFY_PG_NAME_MAX - strlen(prefix) - 1 - strlen(suffix);
    size_t n = strlen(job) < room ? strlen(job) : room;
    char *name = xasprintf("%s%.*s_%s", prefix, (int)n, job, suffix);

    for (char *p = name + strlen(prefix); *p && p < name + strlen(prefix) + n; p++) {
        unsigned char ch = (unsigned char)tolower((unsigned char)*p);
        *p = (char)((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? ch : '_');
    }
    return name;
}

char *verify_conninfo_with_db(const char *conninfo, const char *dbname)
{
    /* libpq takes the last of repeated keywords, and in a URI a dbname query parameter replaces
     * the path's database. The name is ours ([a-z0-9_]), so it needs no quoting. */
    if (strncmp(conninfo, "postgresql://", 13) == 0 || strncmp(conninfo, "postgres://", 11) == 0)
        return xasprintf("%s%sdbname=%s", conninfo, strchr(conninfo, '?') ? "&" : "?", dbname);
    return xasprintf("%s%sdbname=%s", conninfo, conninfo[0] ? " " : "", dbname);
}

/* ---- state of one run ---- */

struct verify_ctx {
    const struct verify_request *req;
    struct verify_result *res;
    struct catalog *catalog; /* NULL: results are not recorded (logged) */
    time_t started_at;
    struct pg_tool pg_restore; /* found on first use */
    bool has_pg_restore;
};

static size_t verify_item_new(struct verify_ctx *v, const char *job, const char *id,
                              const char *store)
{
    struct verify_result *res = v->res;
    struct verify_item *it;

    /* The array moves as it grows, so callers hold indices, not pointers. */
    res->items = xreallocarray(res->items, res->item_count + 1, sizeof(*res->items));
    it = &res->items[res->item_count];
    memset(it, 0, sizeof(*it));
    it->job = xstrdup(job);
    snprintf(it->snapshot_id, sizeof(it->snapshot_id), "%s", id ? id : "");
    it->store = xstrdup(store ? store : "");
    it->level = "integrity";
    it->is_ok = true;
    return res->item_count++;
}

static void verify_item_fail(struct verify_item *it, const struct error *e)
{
    it->is_ok = false;
    it->kind = e->kind == ERR_NONE ? ERR_FAILED : e->kind;
    xfree(it->detail);
    it->detail = xstrdup(e->msg);
}

/* Reports and records a finished item. */
static void verify_item_done(struct verify_ctx *v, size_t index)
{
    struct verify_item *it = &v->res->items[index];

    if (!it->is_ok)
        v->res->failed++;
    if (v->catalog && it->snapshot_id[0]) {
        struct catalog_verification cv;
        struct error cerr = ERROR_INIT;

        memset(&cv, 0, sizeof(cv));
        cv.job = it->job;
        cv.snapshot_id = it->snapshot_id;
        cv.store = it->store;
        cv.time = v->started_at;
        cv.level = it->level;
        cv.result = it->is_ok ? "ok" : "failed";
        cv.detail = it->detail;
        cv.duration_ms = it->duration_ms;
        if (catalog_add_verification(v->catalog, &cv, &cerr) < 0)
            log_warn("job '%s': snapshot '%s': %s", it->job, it->snapshot_id, cerr.msg);
    }
    if (v->req->on_item)
        v->req->on_item(it, v->req->item_ctx);
}

/* ---- sinks: what the decoded bytes of each kind of artifact go through ---- */

/* pg_dump custom format: the header checked here, the table of contents by `pg_restore --list`,
 * which reads only that far and exits; the rest of the stream is still read, so the SHA-256 and
 * zstd checks cover every byte. */
struct verify_pg_sink {
    char magic[5];
    size_t magic_len;
    struct proc child;
    bool is_started;
    bool is_gone; /* stopped reading (EPIPE): the rest is only decoded and hashed */
};

static int verify_pg_write(void *arg, const void *data, size_t len, struct error *err)
{
    struct verify_pg_sink *s = arg;
    const char *p = data;

    while (s->magic_len < sizeof(s->magic) && len > 0) {
        s->magic[s->magic_len++] = *p++;
        len--;
        if (s->magic_len == sizeof(s->magic) && memcmp(s->magic, "PGDMP", 5) != 0)
            return error_set(err, ERR_INTEGRITY,
                             "not a pg_dump custom-format archive (no PGDMP header)");
    }
    if (s->magic_len == sizeof(s->magic) && p != data && !s->is_gone) {
        struct error werr = ERROR_INIT;
        if (proc_write(&s->child, s->magic, sizeof(s->magic), &werr) < 0) {
            if (werr.sys_errno != EPIPE) {
                *err = werr;
                return -1;
            }
            s->is_gone = true;
        }
    }
    if (len == 0 || s->is_gone)
        return 0;
    {
        struct error werr = ERROR_INIT;
        if (proc_write(&s->child, p, len, &werr) < 0) {
            if (werr.sys_errno != EPIPE) {
                *err = werr;
                return -1;
            }
            s->is_gone = true;
        }
    }
    return 0;
}

/* Redis RDB: every entry, the CRC-64 and the keys per database; for a drill the decoded file is
 * also written out, and the expiry deadlines kept to tell which keys the server may drop. */
struct verify_expiry {
    int db;
    int64_t expire_ms;
};

struct verify_rdb_sink {
    struct rdb_reader *rdb;
    int fd; /* the drill's dump.rdb, or -1 */
    const char *path;
    struct verify_expiry *expiries;
    size_t expiry_count;
    size_t expiry_alloc;
};

static int verify_rdb_entry(void *arg, const struct rdb_entry *e, struct error *err)
{
    struct verify_rdb_sink *s = arg;

    (void)err;
    if (s->fd >= 0 && e->expire_ms >= 0) {
        XGROW(s->expiries, s->expiry_count + 1, s->expiry_alloc);
        s->expiries[s->expiry_count].db = e->db;
        s->expiries[s->expiry_count].expire_ms = e->expire_ms;
        s->expiry_count++;
    }
    return 0;
}

static int verify_rdb_write(void *arg, const void *data, size_t len, struct error *err)
{
    struct verify_rdb_sink *s = arg;

    if (rdb_reader_feed(s->rdb, data, len, err) < 0)
        return -1;
    if (s->fd >= 0)
        return fs_write_all(s->fd, data, len, s->path, err);
    return 0;
}

/* A logical redis snapshot: a RESP stream of SELECT / RESTORE / FUNCTION RESTORE commands, whose
 * RESTOREs are counted per database. */
struct verify_resp_sink {
    struct resp_parser *resp;
    int db;
    uint64_t commands;
    struct manifest_redis_db *dbs;
    size_t db_count;
};

static void verify_count_key(struct manifest_redis_db **list, size_t *count, int db)
{
    for (size_t i = 0; i < *count; i++) {
        if ((*list)[i].db == db) {
            (*list)[i].keys++;
            return;
        }
    }
    manifest_add_redis_db(list, count, db, 1, -1);
}

static int verify_resp_write(void *arg, const void *data, size_t len, struct error *err)
{
    struct verify_resp_sink *s = arg;
    const char *at = data;

    while (len > 0) {
        struct resp_value *cmd = NULL;
        size_t used = 0;
        int r = resp_parser_feed(s->resp, at, len, &used, &cmd, err);

        if (r < 0) {
            err->kind = ERR_INTEGRITY;
            return error_wrap(err, "logical snapshot");
        }
        at += used;
        len -= used;
        if (r == 0)
            break;
        s->commands++;
        if (!resp_value_is_command(cmd) || cmd->count == 0) {
            resp_value_free(cmd);
            return error_set(err, ERR_INTEGRITY, "logical snapshot: item %llu is not a command",
                             (unsigned long long)s->commands);
        }
        if (strcasecmp(cmd->items[0].str, "SELECT") == 0 && cmd->count == 2) {
            s->db = (int)strtol(cmd->items[1].str, NULL, 10);
        } else if (strcasecmp(cmd->items[0].str, "RESTORE") == 0 && cmd->count >= 4) {
            verify_count_key(&s->dbs, &s->db_count, s->db);
        } else if (strcasecmp(cmd->items[0].str, "FUNCTION") != 0) {
            resp_value_free(cmd);
            return error_set(err, ERR_INTEGRITY,
                             "logical snapshot: command %llu is not SELECT, RESTORE or FUNCTION "
                             "RESTORE",
                             (unsigned long long)s->commands);
        }
        resp_value_free(cmd);
    }
    return 0;
}

static int verify_discard(void *arg, const void *data, size_t len, struct error *err)
{
    (void)arg;
    (void)data;
    (void)len;
    (void)err;
    return 0;
}

/* Key counts per database read from the artifact against the manifest's. */
static int verify_compare_keys(const struct manifest *m, const struct manifest_redis_db *got,
                               size_t got_count, struct error *err)
{
    for (size_t i = 0; i < m->redis_keys_count; i++) {
        int64_t have = 0;
        for (size_t j = 0; j < got_count; j++)
            if (got[j].db == m->redis_keys[i].db)
                have = got[j].keys;
        if (have != m->redis_keys[i].keys)
            return error_set(err, ERR_INTEGRITY, "db%d holds %lld keys, the manifest says %lld",
                             m->redis_keys[i].db, (long long)have,
                             (long long)m->redis_keys[i].keys);
    }
    for (size_t j = 0; j < got_count; j++) {
        bool listed = false;
        for (size_t i = 0; i < m->redis_keys_count; i++)
            listed = listed || m->redis_keys[i].db == got[j].db;
        if (!listed && got[j].keys > 0)
            return error_set(err, ERR_INTEGRITY, "db%d holds %lld keys, the manifest lists none",
                             got[j].db, (long long)got[j].keys);
    }
    return 0;
}

static void verify_keys_text(const struct manifest_redis_db *dbs, size_t count, struct buf *out)
{
    if (count == 0) {
        (void)buf_addf(out, "no keys");
        return;
    }
    for (size_t i = 0; i < count; i++)
        (void)buf_addf(out, "%sdb%d %lld", i ? ", " : "", dbs[i].db, (long long)dbs[i].keys);
}

/* ---- one snapshot on one store: the integrity check ---- */

/* What the integrity check leaves for a redis drill. */
struct verify_redis_drill {
    char *dir;    /* temporary directory holding dump.rdb; NULL: no drill */
    bool has_rdb; /* dump.rdb was written and checked */
    int rdb_version;
    struct manifest_redis_db *dbs; /* keys per database in the file */
    size_t db_count;
    struct verify_expiry *expiries;
    size_t expiry_count;
};

static void verify_redis_drill_release(struct verify_redis_drill *d)
{
    if (d->dir) {
        struct error e = ERROR_INIT;
        if (fs_remove_tree(d->dir, &e) < 0)
            log_warn("%s", e.msg);
    }
    xfree(d->dir);
    xfree(d->dbs);
    xfree(d->expiries);
    memset(d, 0, sizeof(*d));
}

static int verify_find_pg_restore(struct verify_ctx *v, const struct manifest *m, struct error *err)
{
    if (!v->has_pg_restore) {
        if (pg_tool_find("pg_restore", NULL, &v->pg_restore, err) < 0)
            return -1;
        v->has_pg_restore = true;
    }
    if (m->pg_dump_version) {
        int dump_major = (int)strtol(m->pg_dump_version, NULL, 10);
        if (v->pg_restore.major < dump_major) {
            error_set(err, ERR_FAILED,
                      "pg_restore %s is older than the pg_dump %s that wrote the snapshot, so it "
                      "cannot read its table of contents",
                      v->pg_restore.version, m->pg_dump_version);
            return error_hint(err, "install postgresql-client-%d or newer", dump_major);
        }
    }
    return 0;
}

static const char *verify_tmp_dir(const struct verify_request *req)
{
    const char *t = req->tmp_dir ? req->tmp_dir : getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* Counts the entries (lines that are not comments) of a `pg_restore --list` output file. */
static size_t verify_count_toc(const char *path)
{
    struct buf text;
    struct error ignored = ERROR_INIT;
    size_t n = 0;

    buf_init(&text, (size_t)64 << 20);
    if (fs_read_file(path, &text, &ignored) == 0) {
        const char *p = text.data;
        while (*p) {
            const char *nl = strchr(p, '\n');
            if (*p != ';' && *p != '\n')
                n++;
            if (!nl)
                break;
            p = nl + 1;
        }
    }
    buf_release(&text);
    return n;
}

static int verify_pg_artifact(struct verify_ctx *v, const struct restore_request *rq,
                              struct store *s, const char *key, const struct manifest_artifact *art,
                              const struct manifest *m, struct buf *detail, struct error *err)
{
    struct verify_pg_sink sink;
    char *list_path = NULL;
    char *file_arg = NULL;
    int list_fd = -1;
    int exit_code = 0;
    int rc = -1;

    memset(&sink, 0, sizeof(sink));
    if (verify_find_pg_restore(v, m, err) < 0)
        goto out;
    list_path = xasprintf("%s/permafrost-verify-toc-XXXXXX", verify_tmp_dir(v->req));
    list_fd = mkstemp(list_path);
    if (list_fd < 0) {
        error_errno(err, ERR_IO, "create a temporary file in '%s'", verify_tmp_dir(v->req));
        xfree(list_path);
        list_path = NULL;
        goto out;
    }
    /* The list goes to a file: read from a pipe, it could fill while we are still writing the
     * archive into pg_restore's stdin, and each would wait for the other. */
    file_arg = xasprintf("--file=%s", list_path);
    {
        const char *argv[] = {v->pg_restore.path, "--list", file_arg, NULL};
        if (proc_spawn(argv, NULL, PROC_STDIN_PIPE, &sink.child, err) < 0)
            goto out;
    }
    sink.is_started = true;
    if (restore_stream(rq, s, key, art, verify_pg_write, &sink, err) < 0)
        goto out;
    if (sink.magic_len < sizeof(sink.magic)) {
        error_set(err, ERR_INTEGRITY, "not a pg_dump custom-format archive (%zu bytes)",
                  sink.magic_len);
        goto out;
    }
    proc_close_stdin(&sink.child);
    if (proc_wait(&sink.child, &exit_code, err) < 0)
        goto out;
    if (exit_code != 0) {
        error_set(err, ERR_INTEGRITY,
                  "pg_restore --list cannot read its table of contents "
                  "(exit status %d): %s",
                  exit_code, proc_stderr_text(&sink.child));
        goto out;
    }
    (void)buf_addf(detail, ", PGDMP header, TOC %zu entries", verify_count_toc(list_path));
    rc = 0;
out:
    if (sink.is_started && !sink.child.is_waited) {
        struct error ignored = ERROR_INIT;
        proc_kill(&sink.child, SIGKILL);
        proc_wait(&sink.child, &exit_code, &ignored);
    }
    if (sink.is_started)
        proc_release(&sink.child);
    if (list_fd >= 0)
        close(list_fd);
    if (list_path)
        (void)unlink(list_path);
    xfree(list_path);
    xfree(file_arg);
    return rc;
}

static int verify_rdb_artifact(const struct restore_request *rq, struct store *s, const char *key,
                               const struct manifest_artifact *art, const struct manifest *m,
                               struct verify_redis_drill *drill, struct buf *detail,
                               struct error *err)
{
    struct rdb_callbacks cb = {verify_rdb_entry, NULL};
    struct verify_rdb_sink sink;
    struct manifest_redis_db *dbs = NULL;
    size_t db_count = 0;
    char *path = NULL;
    int rc = -1;

    memset(&sink, 0, sizeof(sink));
    sink.fd = -1;
    if (drill->dir) {
        path = xasprintf("%s/dump.rdb", drill->dir);
        sink.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (sink.fd < 0) {
            error_errno(err, ERR_IO, "create '%s'", path);
            goto out;
        }
        sink.path = path;
    }
    sink.rdb = rdb_reader_new(&cb, &sink, 0);
    if (restore_stream(rq, s, key, art, verify_rdb_write, &sink, err) < 0)
        goto out;
    if (rdb_reader_finish(sink.rdb, err) < 0)
        goto out;
    {
        const struct rdb_summary *sum = rdb_reader_summary(sink.rdb);

        dbs = xcalloc(1, sizeof(*dbs));
        for (size_t i = 0; i < sum->db_count; i++)
            manifest_add_redis_db(&dbs, &db_count, sum->dbs[i].db, (int64_t)sum->dbs[i].keys,
                                  (int64_t)sum->dbs[i].expires);
        if (verify_compare_keys(m, dbs, db_count, err) < 0)
            goto out;
        (void)buf_addf(detail, ", RDB version %d, CRC-64 %s, keys ", sum->version,
                       sum->crc_checked ? "ok" : "not written");
        verify_keys_text(dbs, db_count, detail);
        if (drill->dir) {
            drill->has_rdb = true;
            drill->rdb_version = sum->version;
            drill->dbs = dbs;
            drill->db_count = db_count;
            dbs = NULL;
            drill->expiries = sink.expiries;
            drill->expiry_count = sink.expiry_count;
            sink.expiries = NULL;
        }
    }
    rc = 0;
out:
    if (sink.fd >= 0 && close(sink.fd) < 0 && rc == 0)
        rc = error_errno(err, ERR_IO, "close '%s'", path);
    rdb_reader_free(sink.rdb);
    xfree(sink.expiries);
    xfree(dbs);
    xfree(path);
    return rc;
}

static int verify_resp_artifact(const struct restore_request *rq, struct store *s, const char *key,
                                const struct manifest_artifact *art, const struct manifest *m,
                                struct buf *detail, struct error *err)
{
    struct verify_resp_sink sink;
    int rc = -1;

    memset(&sink, 0, sizeof(sink));
    sink.resp = resp_parser_new(NULL);
    sink.dbs = xcalloc(1, sizeof(*sink.dbs));
    if (restore_stream(rq, s, key, art, verify_resp_write, &sink, err) < 0)
        goto out;
    if (resp_parser_is_mid_value(sink.resp)) {
        error_set(err, ERR_INTEGRITY, "logical snapshot: ends in the middle of a command");
        goto out;
    }
    if (verify_compare_keys(m, sink.dbs, sink.db_count, err) < 0)
        goto out;
    (void)buf_addf(detail, ", %llu commands, keys ", (unsigned long long)sink.commands);
    verify_keys_text(sink.dbs, sink.db_count, detail);
    rc = 0;
out:
    resp_parser_free(sink.resp);
    xfree(sink.dbs);
    return rc;
}

/* Checks every artifact of one snapshot on one store. detail receives what was checked. */
static int verify_snapshot(struct verify_ctx *v, const struct cfg_job *job, struct store *s,
                           const char *id, struct verify_redis_drill *drill, struct verify_item *it,
                           struct buf *detail, struct error *err)
{
    struct manifest m;
    struct restore_request rq;
    char *key = NULL;
    int rc = -1;

    ASSERT(id != NULL);
    memset(&m, 0, sizeof(m));
    memset(&rq, 0, sizeof(rq));
    rq.cfg = v->req->cfg;
    rq.job = job;
    rq.snapshot = id;
    rq.identity = v->req->identity;
    rq.digest_only_if_locked = true;
    rq.tmp_dir = v->req->tmp_dir;
    rq.state_dir = v->req->state_dir;
    rq.progress = v->req->progress;
    rq.progress_ctx = v->req->progress_ctx;
    if (targets_read_manifest(s, job->name, id, &m, err) < 0)
        goto out;
    if (!m.job || strcmp(m.job, job->name) != 0 || !m.snapshot_id ||
        strcmp(m.snapshot_id, id) != 0) {
        error_set(err, ERR_INTEGRITY, "the manifest names snapshot '%s/%s'", m.job ? m.job : "?",
                  m.snapshot_id ? m.snapshot_id : "?");
        goto out;
    }
    if (m.artifact_count == 0) {
        error_set(err, ERR_INTEGRITY, "the manifest lists no artifacts");
        goto out;
    }
    for (size_t i = 0; i < m.artifact_count; i++) {
        const struct manifest_artifact *art = &m.artifacts[i];
        struct store_entry st;
        bool exists = false;
        bool is_locked = art->encryption && !crypt_can_decrypt(job, v->req->identity);

        xfree(key);
        key = xasprintf("%s/%s/%s", job->name, id, art->name);
        if (store_stat(s, key, &st, &exists, err) < 0)
            goto out;
        if (!exists) {
            error_set(err, ERR_INTEGRITY, "missing from the store (a removed part)");
            goto out;
        }
        (void)buf_addf(detail, "%s%s", i ? "; " : "", art->name);
        if (is_locked) {
            /* restore_stream checks the size and SHA-256 only and passes nothing on. */
            if (restore_stream(&rq, s, key, art, verify_discard, NULL, err) < 0)
                goto out;
            (void)buf_addf(detail, ": sha256 only (no identity to decrypt)");
            it->is_digest_only = true;
        } else if (strcmp(art->content, "pg_dump-custom") == 0) {
            (void)buf_addf(detail, ": sha256, zstd");
            if (verify_pg_artifact(v, &rq, s, key, art, &m, detail, err) < 0)
                goto out;
        } else if (strcmp(art->content, REDIS_CONTENT_RDB) == 0) {
            (void)buf_addf(detail, ": sha256, zstd");
            if (verify_rdb_artifact(&rq, s, key, art, &m, drill, detail, err) < 0)
                goto out;
        } else if (strcmp(art->content, REDIS_CONTENT_RESP) == 0) {
            (void)buf_addf(detail, ": sha256, zstd");
            if (verify_resp_artifact(&rq, s, key, art, &m, detail, err) < 0)
                goto out;
        } else {
            /* "sql" (globals) and anything newer: decoded to the end. */
            if (restore_stream(&rq, s, key, art, verify_discard, NULL, err) < 0)
                goto out;
            (void)buf_addf(detail, ": sha256, zstd");
        }
        if (art->encryption && !is_locked)
            (void)buf_addf(detail, ", age");
        it->bytes += art->size_bytes;
    }
    rc = 0;
out:
    if (rc < 0)
        error_wrap(err, "snapshot '%s' on store '%s'%s%s%s", id, store_name(s),
                   key ? ": artifact '" : "", key ? strrchr(key, '/') + 1 : "", key ? "'" : "");
    manifest_release(&m);
    xfree(key);
    return rc;
}

/* ---- drills ---- */

/* Restores the snapshot into a new scratch database, compares the row counts with the manifest,
 * and drops the database whatever happened. */
static int verify_pg_drill(struct verify_ctx *v, const struct cfg_job *job, const char *store,
                           const char *id, struct buf *detail, struct error *err)
{
    const char *base = v->req->scratch ? v->req->scratch : job->scratch;
    const char *password = NULL;
    struct restore_request rq;
    struct restore_result rr;
    struct manifest m;
    struct store *s = NULL;
    struct pg_conn *conn = NULL;
    struct pg_table_count *tables = NULL;
    size_t table_count = 0;
    char suffix[16];
    char *dbname = NULL;
    char *to = NULL;
    char *parsed = NULL;
    bool restored = false;
    size_t checked = 0;
    size_t estimates_off = 0;
    int64_t rows = 0;
    int rc = -1;

    memset(&rq, 0, sizeof(rq));
    memset(&rr, 0, sizeof(rr));
    memset(&m, 0, sizeof(m));
    if (!base) {
        base = job->database;
        if (secret_is_set(&job->password))
            password = job->password.value;
    }
    snprintf(suffix, sizeof(suffix), "%08x", (unsigned)snapshot_id_random());
    dbname = verify_scratch_name(job->name, suffix);
    to = verify_conninfo_with_db(base, dbname);
    parsed = pg_conninfo_dbname(to);
    if (!parsed || strcmp(parsed, dbname) != 0) {
        error_set(err, ERR_CONFIG, "cannot point the scratch conninfo at database '%s'", dbname);
        goto out;
    }
    if (targets_open(v->req->cfg, store, &s, err) < 0 ||
        targets_read_manifest(s, job->name, id, &m, err) < 0)
        goto out;
    rq.cfg = v->req->cfg;
    rq.job = job;
    rq.snapshot = id;
    rq.from_store = store;
    rq.to = to;
    rq.password = password;
    rq.jobs = 1;
    rq.create = true;
    rq.no_owner = true;
    rq.tmp_dir = v->req->tmp_dir;
    rq.state_dir = v->req->state_dir;
    rq.identity = v->req->identity;
    rq.progress = v->req->progress;
    rq.progress_ctx = v->req->progress_ctx;
    log_info("job '%s': restore drill of snapshot '%s' into scratch database '%s'", job->name, id,
             dbname);
    /* restore_run creates the database, and drops it again when the restore fails. */
    if (restore_run(&rq, &rr, err) < 0)
        goto out;
    restored = true;
    if (pg_connect(to, password, &conn, err) < 0 ||
        pg_count_tables(conn, PG_COUNT_EXACT, &tables, &table_count, err) < 0)
        goto out;
    for (size_t i = 0; i < m.table_count; i++) {
        const struct manifest_table *t = &m.tables[i];
        const struct pg_table_count *got = NULL;

        if (t->rows < 0)
            continue;
        for (size_t j = 0; j < table_count && !got; j++)
            if (strcmp(tables[j].schema, t->schema) == 0 && strcmp(tables[j].name, t->name) == 0)
                got = &tables[j];
        if (!got) {
            error_set(err, ERR_INTEGRITY,
                      "table '%s.%s' of the manifest is missing after the "
                      "restore",
                      t->schema, t->name);
            goto out;
        }
        if (t->is_exact && got->rows != t->rows) {
            error_set(err, ERR_INTEGRITY,
                      "table '%s.%s' has %lld rows after the restore, the manifest says %lld",
                      t->schema, t->name, (long long)got->rows, (long long)t->rows);
            goto out;
        }
        if (!t->is_exact && got->rows != t->rows)
            estimates_off++;
        checked++;
        rows += got->rows;
    }
    (void)buf_addf(detail, "; restored into scratch database '%s': %zu tables, %lld rows", dbname,
                   checked, (long long)rows);
    if (m.row_counts && strcmp(m.row_counts, "estimate") == 0)
        (void)buf_addf(detail, " (manifest has estimates; %zu differ, not an error)",
                       estimates_off);
    else
        (void)buf_addf(detail, " match the manifest");
    rc = 0;
out:
    pg_close(conn);
    pg_tables_free(tables, table_count);
    if (restored) {
        struct error derr = ERROR_INIT;
        struct pg_conn *admin = NULL;

        if (pg_connect_db(to, "postgres", password, &admin, &derr) < 0 ||
            pg_drop_database(admin, dbname, &derr) < 0) {
            log_warn("job '%s': could not drop scratch database '%s': %s", job->name, dbname,
                     derr.msg);
            if (rc == 0) {
                error_set(err, ERR_FAILED, "could not drop scratch database '%s': %s", dbname,
                          derr.msg);
                rc = -1;
            }
        }
        pg_close(admin);
    }
    if (rc < 0)
        error_wrap(err, "restore drill of snapshot '%s' from store '%s'", id, store);
    restore_result_release(&rr);
    manifest_release(&m);
    store_free(s);
    xfree(dbname);
    xfree(to);
    xfree(parsed);
    return rc;
}

/* redis-server (or valkey-server) in PATH; NULL when there is none. Caller frees. */
static char *verify_find_redis_server(void)
{
    static const char *const names[] = {"redis-server", "valkey-server"};
    const char *path = getenv("PATH");

    for (size_t n = 0; path && n < 2; n++) {
        const char *p = path;
        while (*p) {
            const char *colon = strchr(p, ':');
            size_t len = colon ? (size_t)(colon - p) : strlen(p);
            char *cand = xasprintf("%.*s/%s", (int)len, len ? p : ".", names[n]);
            if (access(cand, X_OK) == 0)
                return cand;
            xfree(cand);
            if (!colon)
                break;
            p = colon + 1;
        }
    }
    return NULL;
}

/* "redis-7.0" from `redis-server --version` ("Redis server v=7.0.15 sha=..."). */
static char *verify_server_target(const char *bin)
{
    const char *argv[] = {bin, "--version", NULL};
    struct buf out;
    struct buf tail;
    struct error e = ERROR_INIT;
    char *target = NULL;
    int code = 0;

    buf_init(&out, 4096);
    buf_init(&tail, 4096);
    if (proc_run_capture(argv, NULL, &out, &code, &tail, &e) == 0 && code == 0) {
        const char *v = strstr(out.data, "v=");
        if (v) {
            const char *dot = strchr(v + 2, '.');
            const char *dot2 = dot ? strchr(dot + 1, '.') : NULL;
            size_t n = dot2 ? (size_t)(dot2 - v - 2) : strcspn(v + 2, " \n");
            target =
                xasprintf("%s-%.*s", strncasecmp(out.data, "valkey", 6) == 0 ? "valkey" : "redis",
                          (int)n, v + 2);
        }
    }
    buf_release(&out);
    buf_release(&tail);
    return target;
}

static int verify_free_port(int *port, struct error *err)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return error_errno(err, ERR_IO, "socket");
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        error_errno(err, ERR_IO, "find a free loopback port");
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    close(fd);
    return 0;
}

/* Whether the child has exited (a zombie, or gone): /proc/PID/stat's state. */
static bool verify_child_exited(pid_t pid)
{
    char path[64];
    char text[512];
    const char *paren;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true;
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return true;
    text[n] = '\0';
    paren = strrchr(text, ')');
    return !paren || paren[1] == '\0' || paren[2] == 'Z' || paren[2] == 'X';
}

static void verify_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t verify_expired_by(const struct verify_redis_drill *d, int db, int64_t t_ms,
                                 bool inclusive)
{
    int64_t n = 0;
    for (size_t i = 0; i < d->expiry_count; i++)
        if (d->expiries[i].db == db &&
            (inclusive ? d->expiries[i].expire_ms <= t_ms : d->expiries[i].expire_ms < t_ms))
            n++;
    return n;
}

/* Reads the server's log tail for a message. */
static void verify_log_tail(const char *dir, struct buf *out)
{
    char *path = xasprintf("%s/redis.log", dir);
    struct buf text;
    struct error ignored = ERROR_INIT;

    buf_init(&text, (size_t)1 << 20);
    if (fs_read_file(path, &text, &ignored) == 0 && text.len) {
        size_t from = text.len > 400 ? text.len - 400 : 0;
        for (size_t i = from; i < text.len; i++)
            (void)buf_add(out, text.data[i] == '\n' ? " " : &text.data[i], 1);
    }
    buf_release(&text);
    xfree(path);
}

/* The throwaway server's pid from INFO server, or -1. The port was free a moment before the
 * server took it, but another process could have taken it first: the drill must be talking to its
 * own child before it trusts a count or sends SHUTDOWN. */
static long verify_server_pid(struct redis_conn *conn)
{
    const char *cmd[] = {"INFO", "server"};
    struct resp_value *reply = NULL;
    struct error ignored = ERROR_INIT;
    long pid = -1;

    if (redis_command(conn, 2, cmd, NULL, &reply, &ignored) == 0 && reply->str &&
        reply->type == RESP_BULK) {
        const char *p = strstr(reply->str, "\nprocess_id:");
        if (p) {
            char *end = NULL;
            long v = strtol(p + 12, &end, 10);
            if (end && end != p + 12)
                pid = v;
        }
    }
    resp_value_free(reply);
    return pid;
}

/* Writes the throwaway server's configuration, with a random requirepass, to DIR/redis.conf
 * (0600, in the drill's 0700 directory): the decrypted snapshot is served on loopback, and other
 * local users must not read or change it. */
static int verify_redis_conf(const struct verify_redis_drill *d, int port, int databases,
                             char password[33], struct error *err)
{
    unsigned char raw[16];
    char *path = xasprintf("%s/redis.conf", d->dir);
    struct buf text;
    int rc = -1;

    buf_init(&text, BUF_NO_CAP);
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        error_errno(err, ERR_IO, "getrandom");
        goto out;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(password + 2 * i, 3, "%02x", raw[i]);
    buf_addf(&text,
             "port %d\nbind 127.0.0.1\nprotected-mode yes\nsave \"\"\nappendonly no\n"
             "dir \"%s\"\ndbfilename dump.rdb\ndatabases %d\ndaemonize no\n"
             "logfile \"%s/redis.log\"\nrequirepass %s\n",
             port, d->dir, databases, d->dir, password);
    rc = fs_write_atomic(path, text.data, text.len, 0600, err);
out:
    explicit_bzero(raw, sizeof(raw));
    if (text.data)
        explicit_bzero(text.data, text.len);
    buf_release(&text);
    xfree(path);
    return rc;
}

/* Loads the checked dump.rdb into a throwaway server on a free loopback port and compares its key
 * counts per database with the file's (less the keys whose expiry passed meanwhile, which the
 * server drops). Without a server binary, says so in detail and passes. */
static int verify_redis_drill(const struct cfg_job *job, const char *id,
                              const struct verify_redis_drill *d, struct buf *detail,
                              struct error *err)
{
    struct proc child;
    struct redis_options o;
    struct redis_conn *conn = NULL;
    struct redis_info info;
    struct resp_value *reply = NULL;
    char *bin = verify_find_redis_server();
    char *target = NULL;
    char *url = NULL;
    char *conf_path = NULL;
    char password[33] = "";
    bool is_ours = false;
    int max_db = 15;
    int max_version = 0;
    int port = 0;
    int exit_code = 0;
    bool started = false;
    int64_t t_before;
    int64_t t_after;
    int64_t waited = 0;
    int rc = -1;

    memset(&child, 0, sizeof(child));
    memset(&o, 0, sizeof(o));
    memset(&info, 0, sizeof(info));
    if (!bin) {
        (void)buf_addf(detail, "; no redis-server or valkey-server in PATH to load it into");
        rc = 0;
        goto out;
    }
    target = verify_server_target(bin);
    if (target && rdb_target_max_version(target, &max_version, err) == 0 &&
        d->rdb_version > max_version) {
        (void)buf_addf(detail, "; not loaded: %s reads RDB versions up to %d, the snapshot is %d",
                       target, max_version, d->rdb_version);
        rc = 0;
        goto out;
    }
    error_clear(err);
    for (size_t i = 0; i < d->db_count; i++)
        max_db = d->dbs[i].db > max_db ? d->dbs[i].db : max_db;
    if (verify_free_port(&port, err) < 0)
        goto out;
    if (verify_redis_conf(d, port, max_db + 1, password, err) < 0)
        goto out;
    conf_path = xasprintf("%s/redis.conf", d->dir);
    {
        /* The password is in the 0600 file, never in argv. */
        const char *argv[] = {bin, conf_path, NULL};
        t_before = time_now_ms();
        if (proc_spawn(argv, NULL, 0, &child, err) < 0)
            goto out;
    }
    started = true;
    url = xasprintf("redis://127.0.0.1:%d", port);
    o.url = url;
    o.password = password;
    o.connect_timeout_ms = 2000;
    o.io_timeout_ms = 600000;
    /* Up until the port answers PONG, not LOADING. */
    for (;;) {
        struct error cerr = ERROR_INIT;
        const char *ping[] = {"PING"};

        if (cancel_requested()) {
            error_set(err, ERR_CANCELLED, "cancelled");
            goto out;
        }
        if (verify_child_exited(child.pid)) {
            struct buf tail;
            buf_init(&tail, 1024);
            verify_log_tail(d->dir, &tail);
            error_set(err, ERR_INTEGRITY, "%s exited while loading the snapshot: %s", child.name,
                      tail.data);
            buf_release(&tail);
            goto out;
        }
        if (!conn && redis_connect(&o, &conn, &cerr) < 0) {
            if (waited > VERIFY_REDIS_START_MS) {
                *err = cerr;
                error_wrap(err, "throwaway %s on port %d", child.name, port);
                goto out;
            }
        } else if (conn) {
            if (redis_command(conn, 1, ping, NULL, &reply, err) < 0)
                goto out;
            if (reply->type != RESP_ERROR) {
                if (verify_server_pid(conn) != (long)child.pid) {
                    error_set(err, ERR_FAILED,
                              "port %d answers, but not as the throwaway %s (pid %d): another "
                              "process took the port",
                              port, child.name, (int)child.pid);
                    error_hint(err, "run the drill again (it picks a new free port)");
                    goto out;
                }
                is_ours = true;
                break;
            }
            if (strncmp(reply->str, "LOADING", 7) != 0) {
                error_set(err, ERR_FAILED, "throwaway server: PING: %s", reply->str);
                goto out;
            }
            resp_value_free(reply);
            reply = NULL;
        }
        verify_sleep_ms(100);
        waited += 100;
    }
    if (redis_info_read(conn, &info, err) < 0)
        goto out;
    t_after = time_now_ms();
    /* Every database of the file, and any the server reports beyond them. */
    for (size_t i = 0; i < d->db_count; i++) {
        int64_t have = 0;
        int64_t hi = d->dbs[i].keys - verify_expired_by(d, d->dbs[i].db, t_before - 1000, false);
        int64_t lo = d->dbs[i].keys - verify_expired_by(d, d->dbs[i].db, t_after + 1000, true);

        for (size_t j = 0; j < info.db_count; j++)
            if (info.dbs[j].db == d->dbs[i].db)
                have = info.dbs[j].keys;
        if (have < lo || have > hi) {
            error_set(err, ERR_INTEGRITY,
                      "the throwaway server loaded %lld keys into db%d, the snapshot holds %lld "
                      "(%lld of them expired by now)",
                      (long long)have, d->dbs[i].db, (long long)d->dbs[i].keys,
                      (long long)(d->dbs[i].keys - hi));
            goto out;
        }
    }
    for (size_t j = 0; j < info.db_count; j++) {
        bool listed = false;
        for (size_t i = 0; i < d->db_count; i++)
            listed = listed || d->dbs[i].db == info.dbs[j].db;
        if (!listed && info.dbs[j].keys > 0) {
            error_set(err, ERR_INTEGRITY,
                      "the throwaway server has %lld keys in db%d, the "
                      "snapshot none",
                      (long long)info.dbs[j].keys, info.dbs[j].db);
            goto out;
        }
    }
    (void)buf_addf(detail, "; loaded by a throwaway %s %s: key counts match",
                   info.server_name ? info.server_name : "redis",
                   info.version ? info.version : "?");
    rc = 0;
out:
    resp_value_free(reply);
    reply = NULL;
    if (conn && is_ours && !child.is_waited) {
        const char *shutdown[] = {"SHUTDOWN", "NOSAVE"};
        struct error ignored = ERROR_INIT;
        /* The server closes the connection instead of replying. */
        if (redis_command(conn, 2, shutdown, NULL, &reply, &ignored) == 0)
            resp_value_free(reply);
    }
    redis_close(conn);
    if (started && !child.is_waited) {
        struct error ignored = ERROR_INIT;
        for (int i = 0; i < 50 && !verify_child_exited(child.pid); i++)
            verify_sleep_ms(100);
        if (!verify_child_exited(child.pid))
            proc_kill(&child, SIGKILL);
        proc_wait(&child, &exit_code, &ignored);
    }
    if (started)
        proc_release(&child);
    if (rc < 0)
        error_wrap(err, "restore drill of job '%s' snapshot '%s'", job->name, id);
    redis_info_release(&info);
    xfree(bin);
    xfree(target);
    xfree(url);
    xfree(conf_path);
    explicit_bzero(password, sizeof(password));
    return rc;
}

/* ---- one job ---- */

struct verify_ids {
    char (*ids)[SNAPSHOT_ID_LEN];
    size_t count;
    size_t alloc;
    char (*orphans)[SNAPSHOT_ID_LEN]; /* directories without a manifest */
    size_t orphan_count;
    size_t orphan_alloc;
    const char *want; /* an id, or NULL */
};

static int verify_collect(const struct snapshot_dir *d, void *arg, struct error *err)
{
    struct verify_ids *ids = arg;

    (void)err;
    if (ids->want && strcmp(ids->want, d->id) != 0)
        return 0;
    if (!d->has_manifest) {
        XGROW(ids->orphans, ids->orphan_count + 1, ids->orphan_alloc);
        snprintf(ids->orphans[ids->orphan_count++], SNAPSHOT_ID_LEN, "%s", d->id);
        return 0;
    }
    XGROW(ids->ids, ids->count + 1, ids->alloc);
    snprintf(ids->ids[ids->count], SNAPSHOT_ID_LEN, "%s", d->id);
    ids->count++;
    return 0;
}

/* A directory without a manifest is what a killed run leaves, and the next run of the job removes
 * it; one older than a complete snapshot (with the job's lock held, so no run is writing) has most
 * likely lost its manifest. The snapshot asked for by id is reported whatever its age. */
static void verify_report_orphans(struct verify_ctx *v, const struct cfg_job *job,
                                  const char *store, const struct verify_ids *ids)
{
    const char *newest = ids->count ? ids->ids[ids->count - 1] : NULL;

    for (size_t k = 0; k < ids->orphan_count; k++) {
        const char *id = ids->orphans[k];
        struct error e = ERROR_INIT;
        size_t i;

        if (!ids->want && (!newest || strcmp(id, newest) > 0))
            continue;
        i = verify_item_new(v, job->name, id, store);
        error_set(&e, ERR_INTEGRITY,
                  "job '%s': snapshot '%s' on store '%s' has no manifest.json (it was removed, or "
                  "the run that wrote it was killed)",
                  job->name, id, store);
        error_hint(&e, "the files are not a usable backup without it; `permafrost catalog rebuild` "
                       "and `list` show what is complete");
        verify_item_fail(&v->res->items[i], &e);
        verify_item_done(v, i);
    }
}

struct verify_pending {
    size_t item;
    char id[SNAPSHOT_ID_LEN];
    char *store;
};

static bool verify_drilled(char (*done)[SNAPSHOT_ID_LEN], size_t count, const char *id)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(done[i], id) == 0)
            return true;
    return false;
}

static void verify_job(struct verify_ctx *v, const struct cfg_job *job)
{
    const struct verify_request *req = v->req;
    const char *want = req->snapshot && strcmp(req->snapshot, "latest") != 0 ? req->snapshot : NULL;
    bool only_latest = req->snapshot && strcmp(req->snapshot, "latest") == 0;
    size_t store_count = req->from_store    ? 1
                         : req->store_count ? req->store_count
                                            : job->target_count;
    struct job_lock *lock = NULL;
    struct verify_pending *pending = NULL;
    size_t pending_count = 0;
    char(*drilled)[SNAPSHOT_ID_LEN] = NULL;
    size_t drilled_count = 0;
    size_t found = 0;
    bool store_failed = false;
    struct error e = ERROR_INIT;

    /* The job's lock keeps prune (and a restore) away while its snapshots are read. */
    if (lock_acquire(req->state_dir, job->name, "verify", &lock, &e) < 0) {
        size_t i = verify_item_new(v, job->name, NULL, NULL);
        verify_item_fail(&v->res->items[i], &e);
        verify_item_done(v, i);
        return;
    }
    for (size_t si = 0; si < store_count; si++) {
        const char *name = req->from_store    ? req->from_store
                           : req->store_count ? req->stores[si]
                                              : job->targets[si];
        struct store *s = NULL;
        struct verify_ids ids;

        memset(&ids, 0, sizeof(ids));
        ids.want = want;
        error_clear(&e);
        if (targets_open(req->cfg, name, &s, &e) < 0 ||
            targets_scan(s, job->name, verify_collect, &ids, &e) < 0) {
            size_t i = verify_item_new(v, job->name, NULL, name);
            error_wrap(&e, "job '%s': store '%s'", job->name, name);
            verify_item_fail(&v->res->items[i], &e);
            verify_item_done(v, i);
            store_failed = true;
            store_free(s);
            xfree(ids.ids);
            xfree(ids.orphans);
            continue;
        }
        if (ids.count == 0 && !want) {
            size_t i = verify_item_new(v, job->name, NULL, name);
            error_set(&e, ERR_FAILED, "job '%s': no complete snapshot on store '%s'", job->name,
                      name);
            verify_item_fail(&v->res->items[i], &e);
            verify_item_done(v, i);
        }
        found += ids.count + ids.orphan_count;
        if (!only_latest)
            verify_report_orphans(v, job, name, &ids);
        for (size_t k = only_latest && ids.count ? ids.count - 1 : 0; k < ids.count; k++) {
            const char *id = ids.ids[k];
            size_t i;
            struct verify_redis_drill drill;
            struct buf detail;
            int64_t t0 = time_mono_ms();
            bool wants_drill = req->restore && !verify_drilled(drilled, drilled_count, id);
            int r;

            if (cancel_requested())
                break;
            i = verify_item_new(v, job->name, id, name);
            memset(&drill, 0, sizeof(drill));
            buf_init(&detail, VERIFY_DETAIL_CAP);
            error_clear(&e);
            if (wants_drill && job->kind == JOB_KIND_REDIS) {
                char *tmpl = xasprintf("%s/permafrost-verify-XXXXXX", verify_tmp_dir(req));
                if (mkdtemp(tmpl)) {
                    drill.dir = tmpl;
                } else {
                    log_warn("job '%s': create a temporary directory in '%s': %s", job->name,
                             verify_tmp_dir(req), strerror(errno));
                    xfree(tmpl);
                }
            }
            r = verify_snapshot(v, job, s, id, &drill, &v->res->items[i], &detail, &e);
            if (r == 0 && wants_drill && v->res->items[i].is_digest_only) {
                (void)buf_addf(&detail, "; no restore drill: encrypted, and no identity to "
                                        "decrypt");
                wants_drill = false;
            } else if (r == 0 && wants_drill && job->kind == JOB_KIND_REDIS && drill.has_rdb) {
                v->res->items[i].level = "restore";
                r = verify_redis_drill(job, id, &drill, &detail, &e);
                if (r < 0)
                    error_wrap(&e, "store '%s'", name);
            } else if (r == 0 && wants_drill && job->kind == JOB_KIND_REDIS)
                (void)buf_addf(&detail, "; a logical snapshot: its key counts were compared, it "
                                        "was not loaded into a server");
            verify_redis_drill_release(&drill);
            v->res->items[i].detail = buf_detach(&detail, NULL);
            v->res->items[i].duration_ms = time_mono_ms() - t0;
            if (r < 0) {
                verify_item_fail(&v->res->items[i], &e);
            } else if (wants_drill && job->kind == JOB_KIND_REDIS) {
                drilled = xreallocarray(drilled, drilled_count + 1, sizeof(*drilled));
                snprintf(drilled[drilled_count++], SNAPSHOT_ID_LEN, "%s", id);
            } else if (wants_drill && job->kind == JOB_KIND_POSTGRES) {
                /* Drilled after the lock is let go: restore_run takes it itself. */
                pending = xreallocarray(pending, pending_count + 1, sizeof(*pending));
                pending[pending_count].item = i;
                snprintf(pending[pending_count].id, SNAPSHOT_ID_LEN, "%s", id);
                pending[pending_count].store = xstrdup(name);
                pending_count++;
                drilled = xreallocarray(drilled, drilled_count + 1, sizeof(*drilled));
                snprintf(drilled[drilled_count++], SNAPSHOT_ID_LEN, "%s", id);
                continue;
            }
            verify_item_done(v, i);
        }
        store_free(s);
        xfree(ids.ids);
        xfree(ids.orphans);
    }
    if (want && found == 0 && !store_failed) {
        size_t i = verify_item_new(v, job->name, NULL, req->from_store);
        error_set(&e, ERR_FAILED, "job '%s': no complete snapshot '%s' on %s", job->name, want,
                  req->from_store ? req->from_store : "any of its stores");
        verify_item_fail(&v->res->items[i], &e);
        verify_item_done(v, i);
    }
    lock_release(lock);
    for (size_t p = 0; p < pending_count; p++) {
        struct verify_item *it = &v->res->items[pending[p].item];
        struct buf detail;
        int64_t t0 = time_mono_ms();

        buf_init(&detail, VERIFY_DETAIL_CAP);
        (void)buf_addf(&detail, "%s", it->detail ? it->detail : "");
        error_clear(&e);
        it->level = "restore";
        if (cancel_requested()) {
            error_set(&e, ERR_CANCELLED, "cancelled before the restore drill of snapshot '%s'",
                      pending[p].id);
            verify_item_fail(it, &e);
        } else if (verify_pg_drill(v, job, pending[p].store, pending[p].id, &detail, &e) < 0) {
            verify_item_fail(&v->res->items[pending[p].item], &e);
        } else {
            xfree(it->detail);
            it->detail = buf_detach(&detail, NULL);
        }
        buf_release(&detail);
        v->res->items[pending[p].item].duration_ms += time_mono_ms() - t0;
        verify_item_done(v, pending[p].item);
        xfree(pending[p].store);
    }
    xfree(pending);
    xfree(drilled);
}

/* ---- the run ---- */

static int verify_severity(enum err_kind k)
{
    switch (k) {
    /* A damaged copy is what monitoring must not miss: it outranks a job that was busy. */
    case ERR_CANCELLED:
        return 5;
    case ERR_INTEGRITY:
        return 4;
    case ERR_LOCKED:
        return 3;
    case ERR_CONFIG:
    case ERR_USAGE:
        return 2;
    case ERR_NONE:
        return 0;
    case ERR_IO:
    case ERR_NETWORK:
    case ERR_REMOTE:
    case ERR_FAILED:
        return 1;
    }
    return 1;
}

static bool verify_job_wanted(const struct verify_request *req, const struct cfg_job *job)
{
    if (req->job_count == 0)
        return job->kind == JOB_KIND_POSTGRES || job->kind == JOB_KIND_REDIS;
    for (size_t i = 0; i < req->job_count; i++)
        if (strcmp(req->jobs[i], job->name) == 0)
            return true;
    return false;
}

static int verify_check_names(const struct verify_request *req, struct error *err)
{
    const struct config *cfg = req->cfg;

    for (size_t i = 0; i < req->job_count; i++) {
        const struct cfg_job *job = config_find_job(cfg, req->jobs[i]);
        if (!job)
            return error_set(err, ERR_USAGE, "unknown job '%s'", req->jobs[i]);
        if (job->kind != JOB_KIND_POSTGRES && job->kind != JOB_KIND_REDIS) {
            error_set(err, ERR_USAGE, "job '%s' is a %s job: it keeps no snapshots to verify",
                      job->name, config_job_kind_name(job->kind));
            return error_hint(err, "name postgres or redis jobs");
        }
    }
    if (req->from_store && !config_find_store(cfg, req->from_store))
        return error_set(err, ERR_USAGE, "unknown store '%s'", req->from_store);
    for (size_t i = 0; i < req->store_count; i++)
        if (!config_find_store(cfg, req->stores[i]))
            return error_set(err, ERR_USAGE, "unknown store '%s'", req->stores[i]);
    return 0;
}

static int verify_check_request(const struct verify_request *req, struct error *err)
{
    const struct config *cfg = req->cfg;

    if (verify_check_names(req, err) < 0) {
        /* In a verify job the names come from the file. */
        if (req->run_job) {
            err->kind = ERR_CONFIG;
            error_wrap(err, "%s:%d: job '%s'", cfg->path ? cfg->path : "config", req->run_job->line,
                       req->run_job->name);
        }
        return -1;
    }
    if (req->snapshot && strcmp(req->snapshot, "latest") != 0 &&
        !snapshot_id_parse(req->snapshot, NULL)) {
        error_set(err, ERR_USAGE, "'%s' is not a snapshot id", req->snapshot);
        return error_hint(err, "use 'latest' or an id from 'permafrost list'");
    }
    return 0;
}

int verify_run(const struct verify_request *req, struct verify_result *res, struct error *err)
{
    struct verify_ctx v;
    struct job_lock *run_lock = NULL;
    struct error worst = ERROR_INIT;
    int64_t run_id = -1;
    int64_t start = time_mono_ms();
    size_t jobs = 0;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    memset(&v, 0, sizeof(v));
    v.req = req;
    v.res = res;
    v.started_at = time(NULL);
    if (verify_check_request(req, err) < 0)
        goto out;
    if (req->run_job && lock_acquire(req->state_dir, req->run_job->name, "run", &run_lock, err) < 0)
        goto out;
    if (req->state_dir) {
        struct error cerr = ERROR_INIT;
        if (catalog_open(req->state_dir, &v.catalog, &cerr) < 0)
            log_warn("results will not be recorded: %s", cerr.msg);
        else if (req->run_job && catalog_run_begin(v.catalog, req->run_job->name, NULL,
                                                   v.started_at, &run_id, &cerr) < 0)
            log_warn("%s", cerr.msg);
    }
    for (size_t j = 0; j < req->cfg->job_count && !cancel_requested(); j++) {
        const struct cfg_job *job = &req->cfg->jobs[j];
        if (!verify_job_wanted(req, job))
            continue;
        jobs++;
        verify_job(&v, job);
    }
    for (size_t i = 0; i < res->item_count; i++) {
        const struct verify_item *it = &res->items[i];
        if (!it->is_ok && verify_severity(it->kind) > verify_severity(worst.kind)) {
            worst.kind = it->kind;
            snprintf(worst.msg, sizeof(worst.msg), "%s", it->detail ? it->detail : "failed");
        }
    }
    if (cancel_requested() && worst.kind != ERR_CANCELLED) {
        error_set(err, ERR_CANCELLED, "cancelled after %zu checks", res->item_count);
        goto out;
    }
    if (jobs == 0) {
        error_set(err, ERR_CONFIG, "there are no postgres or redis jobs to verify");
        goto out;
    }
    if (res->failed) {
        *err = worst;
        if (res->item_count > 1)
            error_wrap(err, "%zu of %zu checks failed, the worst", res->failed, res->item_count);
        goto out;
    }
    rc = 0;
out:
    res->duration_ms = time_mono_ms() - start;
    if (v.catalog && run_id >= 0) {
        struct error cerr = ERROR_INIT;
        if (catalog_run_end(v.catalog, run_id, time(NULL),
                            rc == 0                      ? "ok"
                            : err->kind == ERR_CANCELLED ? "cancelled"
                                                         : "failed",
                            rc == 0 ? NULL : err->msg, 0, 0, &cerr) < 0)
            log_warn("%s", cerr.msg);
    }
    catalog_close(v.catalog);
    if (v.has_pg_restore)
        pg_tool_release(&v.pg_restore);
    lock_release(run_lock);
    return rc;
}

void verify_result_release(struct verify_result *res)
{
    for (size_t i = 0; i < res->item_count; i++) {
        xfree(res->items[i].job);
        xfree(res->items[i].store);
        xfree(res->items[i].detail);
    }
    xfree(res->items);
    memset(res, 0, sizeof(*res));
}
