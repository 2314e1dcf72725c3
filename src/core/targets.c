#include "core/targets.h"

#include <string.h>

#include "core/snapshot_id.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/xalloc.h"

void targets_store_options(const struct cfg_store *cs, struct store_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->name = cs->name;
    opts->type = cs->type;
    opts->path = cs->path;
    opts->endpoint = cs->endpoint;
    opts->region = cs->region;
    opts->bucket = cs->bucket;
    opts->prefix = cs->prefix;
    switch (cs->path_style) {
    case CFG_TRISTATE_UNSET:
        opts->path_style = -1;
        break;
    case CFG_TRISTATE_YES:
        opts->path_style = 1;
        break;
    case CFG_TRISTATE_NO:
        opts->path_style = 0;
        break;
    }
    /* NULL when not configured: the store then falls back to the AWS_* variables. */
    opts->access_key = secret_is_set(&cs->access_key) ? &cs->access_key : NULL;
    opts->secret_key = secret_is_set(&cs->secret_key) ? &cs->secret_key : NULL;
    opts->session_token = secret_is_set(&cs->session_token) ? &cs->session_token : NULL;
    opts->ca_file = cs->ca_file;
    opts->max_requests_per_second = cs->max_requests_per_second;
    opts->part_size_bytes = cs->part_size_bytes;
    opts->concurrency = cs->concurrency;
    opts->connect_timeout_ms = cs->connect_timeout_ms;
    opts->low_speed_timeout_ms = cs->low_speed_timeout_ms;
    opts->remote = cs->remote;
    opts->rclone_config = cs->rclone_config;
    opts->rclone_binary = cs->rclone_binary;
}

int targets_open(const struct config *cfg, const char *name, struct store **out, struct error *err)
{
    const struct cfg_store *cs = config_find_store(cfg, name);
    struct store_options opts;

    *out = NULL;
    if (!cs)
        return error_set(err, ERR_CONFIG, "unknown store '%s'", name);
    targets_store_options(cs, &opts);
    return store_open(&opts, out, err);
}

struct scan_state {
    snapshot_dir_fn fn;
    void *ctx;
    struct snapshot_dir cur;
    char *cur_job;
    char *cur_id;
    bool has_cur;
};

static int scan_flush(struct scan_state *st, struct error *err)
{
    int r = 0;

    if (st->has_cur) {
        st->cur.job = st->cur_job;
        st->cur.id = st->cur_id;
        r = st->fn(&st->cur, st->ctx, err);
    }
    xfree(st->cur_job);
    xfree(st->cur_id);
    st->cur_job = NULL;
    st->cur_id = NULL;
    st->has_cur = false;
    return r;
}

static int scan_entry(const struct store_entry *e, void *ctx, struct error *err)
{
    struct scan_state *st = ctx;
    const char *slash1 = strchr(e->key, '/');
    const char *slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
    char id[SNAPSHOT_ID_LEN];
    size_t job_len;
    size_t id_len;
    int r;

    if (!slash1 || !slash2)
        return 0;
    job_len = (size_t)(slash1 - e->key);
    id_len = (size_t)(slash2 - slash1 - 1);
    if (id_len != SNAPSHOT_ID_LEN - 1)
        return 0;
    memcpy(id, slash1 + 1, id_len);
    id[id_len] = '\0';
    if (!snapshot_id_parse(id, NULL))
        return 0;
    if (!st->has_cur || strlen(st->cur_job) != job_len ||
        strncmp(st->cur_job, e->key, job_len) != 0 || strcmp(st->cur_id, id) != 0) {
        r = scan_flush(st, err);
        if (r != 0)
            return r;
        st->cur_job = xstrndup(e->key, job_len);
        st->cur_id = xstrdup(id);
        memset(&st->cur, 0, sizeof(st->cur));
        st->has_cur = true;
    }
    st->cur.bytes += e->size_bytes;
    if (!e->is_partial && strcmp(slash2 + 1, "manifest.json") == 0)
        st->cur.has_manifest = true;
    return 0;
}

int targets_scan(struct store *s, const char *job, snapshot_dir_fn fn, void *ctx, struct error *err)
{
    struct scan_state st;
    char *prefix = job ? xasprintf("%s/", job) : xstrdup("");
    int r;

    memset(&st, 0, sizeof(st));
    st.fn = fn;
    st.ctx = ctx;
    /* Unfinished writes count too: a directory holding only the temporary file of a killed run is
     * an unfinished snapshot that must be found to be removed. */
    r = store_list_partial(s, prefix, scan_entry, &st, err);
    if (r == 0) {
        r = scan_flush(&st, err);
    } else {
        st.has_cur = false; /* drop the pending entry without reporting it */
        scan_flush(&st, err);
    }
    xfree(prefix);
    return r < 0 ? -1 : 0;
}

int targets_read_manifest(struct store *s, const char *job, const char *id, struct manifest *m,
                          struct error *err)
{
    char *key = xasprintf("%s/%s/manifest.json", job, id);
    struct store_reader *r = NULL;
    struct buf b;
    char chunk[65536];
    int rc = -1;

    buf_init(&b, MANIFEST_MAX_BYTES);
    if (store_get_open(s, key, &r, err) < 0)
        goto out;
    for (;;) {
        size_t got;
        if (store_reader_read(r, chunk, sizeof(chunk), &got, err) < 0)
            goto out;
        if (got == 0)
            break;
        if (!buf_add(&b, chunk, got)) {
            error_set(err, ERR_INTEGRITY, "manifest is larger than %zu bytes", MANIFEST_MAX_BYTES);
            goto out;
        }
    }
    if (manifest_from_json(b.data, b.len, m, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        error_wrap(err, "store '%s': read '%s'", store_name(s), key);
    store_reader_close(r);
    buf_release(&b);
    xfree(key);
    return rc;
}

int targets_copy_object(struct store *src, struct store *dst, const char *key, bool *is_server_side,
                        struct error *err)
{
    if (store_copy(src, dst, key, is_server_side, err) < 0)
        return error_wrap(err, "copy '%s' from store '%s' to store '%s'", key, store_name(src),
                          store_name(dst));
    return 0;
}
