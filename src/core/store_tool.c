#include "core/store_tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "core/targets.h"
#include "util/cancel.h"
#include "util/fs.h"
#include "util/xalloc.h"

/* "-" is standard input or output, as for most Unix tools. */
static bool store_tool_is_stdio(const char *path)
{
    return strcmp(path, "-") == 0;
}

/* read(2) until the buffer is full or the end of the file: the store's writer then sees whole
 * chunks even from a pipe. EINTR is retried unless a signal asked us to stop. */
static int store_tool_read_chunk(int fd, const char *path, char *data, size_t cap, size_t *got,
                                 struct error *err)
{
    size_t n = 0;

    while (n < cap) {
        ssize_t r = read(fd, data + n, cap - n);
        if (r < 0 && errno == EINTR && !cancel_requested())
            continue;
        if (r < 0 && errno == EINTR)
            return error_set(err, ERR_CANCELLED, "cancelled");
        if (r < 0)
            return error_errno(err, ERR_IO, "read '%s'", path);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *got = n;
    return 0;
}

int store_tool_put(const struct config *cfg, const char *store_name, const char *key,
                   const char *path, uint64_t *bytes, struct error *err)
{
    struct store *s = NULL;
    struct store_writer *w = NULL;
    char *chunk = NULL;
    uint64_t total = 0;
    int fd = -1;
    int rc = -1;

    if (store_tool_is_stdio(path)) {
        fd = STDIN_FILENO;
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            error_errno(err, ERR_IO, "store '%s': put '%s': open '%s'", store_name, key, path);
            goto out;
        }
    }
    if (targets_open(cfg, store_name, &s, err) < 0)
        goto out;
    if (store_put_open(s, key, &w, err) < 0) {
        error_wrap(err, "store '%s': put '%s'", store_name, key);
        goto out;
    }
    chunk = xmalloc(STORE_TOOL_CHUNK_BYTES);
    for (;;) {
        size_t got = 0;

        if (cancel_requested()) {
            error_set(err, ERR_CANCELLED, "store '%s': put '%s': cancelled", store_name, key);
            goto out;
        }
        if (store_tool_read_chunk(fd, path, chunk, STORE_TOOL_CHUNK_BYTES, &got, err) < 0) {
            error_wrap(err, "store '%s': put '%s'", store_name, key);
            goto out;
        }
        if (got == 0)
            break;
        if (store_writer_write(w, chunk, got, err) < 0) {
            error_wrap(err, "store '%s': put '%s'", store_name, key);
            goto out;
        }
        total += got;
    }
    /* commit frees the writer whatever it returns. */
    {
        struct store_writer *committing = w;
        w = NULL;
        if (store_writer_commit(committing, err) < 0) {
            error_wrap(err, "store '%s': put '%s'", store_name, key);
            goto out;
        }
    }
    if (bytes)
        *bytes = total;
    rc = 0;
out:
    store_writer_abort(w);
    xfree(chunk);
    store_free(s);
    if (fd >= 0 && !store_tool_is_stdio(path))
        close(fd);
    return rc;
}

/* Copies the reader to fd; *total gets the byte count. */
static int store_tool_copy_out(struct store_reader *r, int fd, const char *what, uint64_t *total,
                               struct error *err)
{
    char *chunk = xmalloc(STORE_TOOL_CHUNK_BYTES);
    int rc = -1;

    *total = 0;
    for (;;) {
        size_t got = 0;

        if (cancel_requested()) {
            error_set(err, ERR_CANCELLED, "cancelled");
            goto out;
        }
        if (store_reader_read(r, chunk, STORE_TOOL_CHUNK_BYTES, &got, err) < 0)
            goto out;
        if (got == 0)
            break;
        if (fs_write_all(fd, chunk, got, what, err) < 0)
            goto out;
        *total += got;
    }
    rc = 0;
out:
    xfree(chunk);
    return rc;
}

int store_tool_get(const struct config *cfg, const char *store_name, const char *key,
                   const char *path, uint64_t *bytes, struct error *err)
{
    struct store *s = NULL;
    struct store_reader *r = NULL;
    char *dir = NULL;
    char *tmp = NULL;
    const char *base;
    uint64_t total = 0;
    int fd = -1;
    int finished;
    int rc = -1;

    if (targets_open(cfg, store_name, &s, err) < 0)
        goto out;
    /* Opened before the temporary file, so a missing key leaves nothing behind. */
    if (store_get_open(s, key, &r, err) < 0) {
        error_wrap(err, "store '%s': get '%s'", store_name, key);
        goto out;
    }
    if (store_tool_is_stdio(path)) {
        if (store_tool_copy_out(r, STDOUT_FILENO, "standard output", &total, err) < 0) {
            error_wrap(err, "store '%s': get '%s'", store_name, key);
            goto out;
        }
        if (bytes)
            *bytes = total;
        rc = 0;
        goto out;
    }
    dir = fs_dirname(path);
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    tmp = xasprintf("%s/.%s.tmp-XXXXXX", dir, base);
    /* mkostemp creates the file with mode 0600: the object may be a database dump. */
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        error_errno(err, ERR_IO, "store '%s': get '%s': create a temporary file in '%s'",
                    store_name, key, dir);
        xfree(tmp);
        tmp = NULL;
        goto out;
    }
    if (store_tool_copy_out(r, fd, tmp, &total, err) < 0) {
        error_wrap(err, "store '%s': get '%s'", store_name, key);
        goto out;
    }
    finished = fs_finish_atomic(fd, tmp, path, err);
    fd = -1; /* closed by fs_finish_atomic whatever the result */
    if (finished < 0)
        goto out;
    xfree(tmp);
    tmp = NULL;
    if (bytes)
        *bytes = total;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (tmp)
        (void)unlink(tmp);
    xfree(tmp);
    xfree(dir);
    store_reader_close(r);
    store_free(s);
    return rc;
}

struct store_tool_list_state {
    store_tool_list_fn fn;
    void *ctx;
};

static int store_tool_list_entry(const struct store_entry *e, void *ctx, struct error *err)
{
    const struct store_tool_list_state *st = ctx;
    struct store_tool_entry te = {e->key, e->size_bytes, e->mtime};

    if (cancel_requested())
        return error_set(err, ERR_CANCELLED, "cancelled");
    return st->fn(&te, st->ctx, err);
}

int store_tool_list(const struct config *cfg, const char *store_name, const char *prefix,
                    store_tool_list_fn fn, void *ctx, struct error *err)
{
    struct store_tool_list_state st = {fn, ctx};
    struct store *s = NULL;
    int rc = -1;

    if (targets_open(cfg, store_name, &s, err) < 0)
        goto out;
    if (store_list(s, prefix, store_tool_list_entry, &st, err) < 0) {
        error_wrap(err, "store '%s': list '%s'", store_name, prefix);
        goto out;
    }
    rc = 0;
out:
    store_free(s);
    return rc;
}

int store_tool_remove(const struct config *cfg, const char *store_name, const char *key,
                      bool *existed, struct error *err)
{
    struct store *s = NULL;
    struct store_entry e;
    bool exists = false;
    int rc = -1;

    if (targets_open(cfg, store_name, &s, err) < 0)
        goto out;
    if (store_stat(s, key, &e, &exists, err) < 0) {
        error_wrap(err, "store '%s': remove '%s'", store_name, key);
        goto out;
    }
    if (exists && store_remove(s, key, err) < 0) {
        error_wrap(err, "store '%s': remove '%s'", store_name, key);
        goto out;
    }
    if (existed)
        *existed = exists;
    rc = 0;
out:
    store_free(s);
    return rc;
}
