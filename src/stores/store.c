/* The public store_* functions: type dispatch, argument checks shared by every store, and the
 * writer's byte count. Each store implements only its ops table. */
#include "stores/store.h"

#include <string.h>

#include "stores/local_store.h"
#include "stores/rclone_store.h"
#include "stores/s3_store.h"
#include "util/cancel.h"
#include "util/log.h"
#include "util/xalloc.h"

int store_open(const struct store_options *opts, struct store **out, struct error *err)
{
    const char *name = opts->name ? opts->name : "";
    const char *type = opts->type ? opts->type : "";

    *out = NULL;
    if (strcmp(type, "local") == 0) {
        if (local_store_open(opts, out, err) < 0)
            return error_wrap(err, "store '%s'", name);
        return 0;
    }
    if (strcmp(type, "s3") == 0)
        return s3_store_open(opts, out, err);
    if (strcmp(type, "rclone") == 0)
        return rclone_store_open(opts, out, err);
    return error_set(err, ERR_CONFIG, "store '%s': unknown type '%s' (known: local, s3, rclone)",
                     name, type);
}

void store_free(struct store *s)
{
    if (s)
        s->ops->free(s);
}

const char *store_name(const struct store *s)
{
    return s->name;
}

const char *store_location(const struct store *s)
{
    return s->location;
}

void store_base_init(struct store *s, const struct store_ops *ops, const struct store_options *opts,
                     const char *location)
{
    s->ops = ops;
    s->name = xstrdup(opts->name ? opts->name : "");
    s->type = xstrdup(opts->type ? opts->type : "");
    s->location = xstrdup(location);
}

void store_base_release(struct store *s)
{
    xfree(s->name);
    xfree(s->type);
    xfree(s->location);
    s->name = NULL;
    s->type = NULL;
    s->location = NULL;
}

int store_put_open(struct store *s, const char *key, struct store_writer **out, struct error *err)
{
    *out = NULL;
    return s->ops->put_open(s, key, out, err);
}

/* bytes_written is kept here, so every store reports it the same way. */
int store_writer_write(struct store_writer *w, const void *data, size_t len, struct error *err)
{
    if (len == 0)
        return 0;
    if (w->ops->write(w, data, len, err) < 0)
        return -1;
    w->bytes_written += len;
    return 0;
}

int store_writer_commit(struct store_writer *w, struct error *err)
{
    return w->ops->commit(w, err);
}

void store_writer_abort(struct store_writer *w)
{
    if (w)
        w->ops->abort(w);
}

int store_get_open(struct store *s, const char *key, struct store_reader **out, struct error *err)
{
    *out = NULL;
    return s->ops->get_open(s, key, out, err);
}

int store_reader_read(struct store_reader *r, void *data, size_t cap, size_t *got,
                      struct error *err)
{
    *got = 0;
    return r->ops->read(r, data, cap, got, err);
}

void store_reader_close(struct store_reader *r)
{
    if (r)
        r->ops->close(r);
}

int store_list(struct store *s, const char *prefix, store_list_fn fn, void *ctx, struct error *err)
{
    return s->ops->list(s, prefix, 0, fn, ctx, err);
}

int store_list_partial(struct store *s, const char *prefix, store_list_fn fn, void *ctx,
                       struct error *err)
{
    return s->ops->list(s, prefix, STORE_LIST_PARTIAL, fn, ctx, err);
}

int store_stat(struct store *s, const char *key, struct store_entry *out, bool *exists,
               struct error *err)
{
    *exists = false;
    return s->ops->stat(s, key, out, exists, err);
}

int store_remove(struct store *s, const char *key, struct error *err)
{
    return s->ops->remove(s, key, err);
}

/* Checked here for every store: an empty prefix, or one not ending in '/', would remove far more
 * than one snapshot ("" is everything; "db/2026" also matches "db/20261" and a key named
 * "db/2026"). */
int store_remove_prefix(struct store *s, const char *prefix, struct error *err)
{
    size_t len = strlen(prefix);

    if (len == 0 || prefix[len - 1] != '/')
        return error_set(err, ERR_USAGE,
                         "remove prefix '%s': prefix must be non-empty and end in '/'", prefix);
    return s->ops->remove_prefix(s, prefix, err);
}

int store_put_bytes(struct store *s, const char *key, const void *data, size_t len,
                    struct error *err)
{
    struct store_writer *w = NULL;

    if (store_put_open(s, key, &w, err) < 0)
        return -1;
    if (store_writer_write(w, data, len, err) < 0) {
        store_writer_abort(w);
        return -1;
    }
    return store_writer_commit(w, err);
}

int store_copy(struct store *src, struct store *dst, const char *key, bool *is_server_side,
               struct error *err)
{
    struct store_reader *r = NULL;
    struct store_writer *w = NULL;
    size_t chunk_len = 1u << 20;
    char *chunk = NULL;
    int rc = -1;

    if (is_server_side)
        *is_server_side = false;
    if (dst->ops->copy_from) {
        int r0 = dst->ops->copy_from(dst, src, key, err);
        if (r0 == 0 && is_server_side)
            *is_server_side = true;
        if (r0 == 0 || (r0 < 0 && err->kind != ERR_REMOTE))
            return r0;
        /* The service refused the copy (the destination's key may not read the source bucket, or
         * the provider does not support it): the bytes can still go through us. */
        if (r0 < 0) {
            log_debug("copy '%s' from store '%s' to store '%s' server-side: %s; streaming instead",
                      key, store_name(src), store_name(dst), err->msg);
            error_clear(err);
        }
    }
    chunk = xmalloc(chunk_len);
    if (store_get_open(src, key, &r, err) < 0)
        goto out;
    if (store_put_open(dst, key, &w, err) < 0)
        goto out;
    for (;;) {
        size_t got;
        if (cancel_requested()) {
            error_set(err, ERR_CANCELLED, "cancelled");
            goto out;
        }
        if (store_reader_read(r, chunk, chunk_len, &got, err) < 0)
            goto out;
        if (got == 0)
            break;
        if (store_writer_write(w, chunk, got, err) < 0)
            goto out;
    }
    rc = store_writer_commit(w, err);
    w = NULL;
out:
    store_writer_abort(w);
    store_reader_close(r);
    xfree(chunk);
    return rc;
}

bool store_is_tmp_name(const char *name, size_t len)
{
    return len > 0 && name[0] == '.' && memmem(name, len, ".tmp-", 5) != NULL;
}

bool store_key_is_valid(const char *s, bool is_last_partial)
{
    size_t len = strlen(s);
    size_t start = 0;

    if (len > STORE_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    for (size_t i = 0; i <= len; i++) {
        const char *seg = s + start;
        size_t seg_len = i - start;

        if (i < len && s[i] != '/')
            continue;
        start = i + 1;
        if (i == len && is_last_partial)
            break;
        if (seg_len == 0 || (seg_len == 1 && seg[0] == '.') ||
            (seg_len == 2 && seg[0] == '.' && seg[1] == '.') || store_is_tmp_name(seg, seg_len))
            return false;
    }
    return true;
}

int store_invalid_key(struct error *err, const char *what, const char *key)
{
    char shown[257];
    size_t n = 0;

    for (; key[n] && n < sizeof(shown) - 1; n++) {
        unsigned char c = (unsigned char)key[n];
        if (c < 0x20 || c == 0x7f)
            shown[n] = '?';
        else
            shown[n] = key[n];
    }
    shown[n] = '\0';
    return error_set(err, ERR_IO, "invalid %s '%s%s'", what, shown, key[n] ? "..." : "");
}
