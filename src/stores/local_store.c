#include "stores/local_store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/xalloc.h"

/* Temporary names are ".<name>.tmp-XXXXXX"; the name part is cut to this many bytes so that a key
 * segment close to NAME_MAX still gets a temporary name that fits. */
#define LOCAL_TMP_NAME_MAX 200
#define LOCAL_FILE_MODE    0600
#define LOCAL_DIR_MODE     0700

struct local_store {
    struct store base; /* first, so a struct store * converts back */
    char *root;        /* absolute, no trailing '/' (except for "/" itself) */
};

struct local_writer {
    struct store_writer base;
    struct local_store *ls; /* borrowed: a store outlives its writers */
    int fd;
    char *path; /* the final name */
    char *tmp_path;
    char *dir_rel;   /* the key's directory relative to the root, "" for a top-level key */
    bool is_dir_new; /* put_open created at least one directory */
    bool has_failed; /* a write failed: commit must not publish a short file */
};

struct local_reader {
    struct store_reader base;
    int fd;
    char *path;
};

/* One entry of a directory being listed. Directory names carry a trailing '/', so that sorting the
 * names with strcmp sorts the keys below them: "a/b" must come after "a-b" and "a.b" and before
 * "ab", which comparing "a/" (not "a") with the others gives, since '-' < '.' < '/' < 'b'. */
struct local_list_entry {
    char *name;
    bool is_dir;
    bool is_partial;
    uint64_t size_bytes;
    time_t mtime;
};

static const struct store_ops local_store_ops;
static const struct store_writer_ops local_writer_ops;
static const struct store_reader_ops local_reader_ops;

static struct local_store *local_store_of(struct store *s)
{
    ASSERT(s->ops == &local_store_ops);
    return (struct local_store *)s;
}

static char *local_path(const struct local_store *ls, const char *rel)
{
    if (rel[0] == '\0')
        return xstrdup(ls->root);
    if (strcmp(ls->root, "/") == 0)
        return xasprintf("/%s", rel);
    return xasprintf("%s/%s", ls->root, rel);
}

static int local_check_key(const char *key, struct error *err)
{
    if (key[0] == '\0' || !store_key_is_valid(key, false))
        return store_invalid_key(err, "key", key);
    return 0;
}

/* Removes the directory rel_dir (relative to the root) and then its parents while they are empty,
 * never the root. With do_sync, the directory where removal stopped is fsynced, making the removals
 * durable. */
static int local_prune_dirs(const struct local_store *ls, const char *rel_dir, bool do_sync,
                            struct error *err)
{
    char *rel = xstrdup(rel_dir);
    char *path = NULL;
    int rc = -1;

    while (rel[0] != '\0') {
        char *slash;

        path = local_path(ls, rel);
        if (rmdir(path) < 0) {
            if (errno == ENOTEMPTY || errno == EEXIST)
                break;
            if (errno != ENOENT) {
                error_errno(err, ERR_IO, "remove directory '%s'", path);
                goto out;
            }
        }
        xfree(path);
        path = NULL;
        slash = strrchr(rel, '/');
        if (slash)
            *slash = '\0';
        else
            rel[0] = '\0';
    }
    if (do_sync) {
        xfree(path);
        path = local_path(ls, rel);
        if (fs_fsync_dir(path, err) < 0)
            goto out;
    }
    rc = 0;
out:
    xfree(path);
    xfree(rel);
    return rc;
}

/* ---- writer ---- */

static struct local_writer *local_writer_of(struct store_writer *w)
{
    ASSERT(w->ops == &local_writer_ops);
    return (struct local_writer *)w;
}

/* Ends a writer: unless its data was renamed into place, the temporary file goes, and so do the
 * directories that are left empty. Frees w. */
static void local_writer_end(struct local_writer *w, bool is_published)
{
    struct error ignored = ERROR_INIT;

    if (w->fd >= 0)
        close(w->fd);
    if (!is_published) {
        if (w->tmp_path)
            unlink(w->tmp_path);
        /* Best effort: an empty directory left behind is harmless; remove_prefix collects it. */
        local_prune_dirs(w->ls, w->dir_rel, false, &ignored);
    }
    xfree(w->path);
    xfree(w->tmp_path);
    xfree(w->dir_rel);
    xfree(w);
}

static int local_writer_write(struct store_writer *base, const void *data, size_t len,
                              struct error *err)
{
    struct local_writer *w = local_writer_of(base);

    if (w->has_failed)
        return error_set(err, ERR_IO, "write '%s': an earlier write failed", w->path);
    if (fs_write_all(w->fd, data, len, w->path, err) < 0) {
        w->has_failed = true;
        return -1;
    }
    return 0;
}

/* fsyncs the key's directory and, when put_open created directories, each one up to the root: a
 * new directory's own entry must be durable too, or a crash could lose the committed file. */
static int local_writer_sync_dirs(const struct local_writer *w, struct error *err)
{
    char *rel = xstrdup(w->dir_rel);
    char *path = NULL;
    int rc = -1;

    for (;;) {
        char *slash;

        path = local_path(w->ls, rel);
        if (fs_fsync_dir(path, err) < 0)
            goto out;
        xfree(path);
        path = NULL;
        if (!w->is_dir_new || rel[0] == '\0')
            break;
        slash = strrchr(rel, '/');
        if (slash)
            *slash = '\0';
        else
            rel[0] = '\0';
    }
    rc = 0;
out:
    xfree(path);
    xfree(rel);
    return rc;
}

static int local_writer_commit(struct store_writer *base, struct error *err)
{
    struct local_writer *w = local_writer_of(base);
    bool is_published = false;
    int rc = -1;
    int r;

    if (w->has_failed) {
        error_set(err, ERR_IO, "commit '%s': an earlier write failed", w->path);
        goto out;
    }
    if (fsync(w->fd) < 0) {
        error_errno(err, ERR_IO, "fsync '%s'", w->path);
        goto out;
    }
    r = close(w->fd);
    w->fd = -1;
    if (r < 0) {
        error_errno(err, ERR_IO, "close '%s'", w->path);
        goto out;
    }
    if (rename(w->tmp_path, w->path) < 0) {
        error_errno(err, ERR_IO, "rename '%s' to '%s'", w->tmp_path, w->path);
        goto out;
    }
    /* From here the key is visible; a failure below means it may not survive a crash. */
    is_published = true;
    if (local_writer_sync_dirs(w, err) < 0)
        goto out;
    rc = 0;
out:
    local_writer_end(w, is_published);
    return rc;
}

static void local_writer_abort(struct store_writer *base)
{
    local_writer_end(local_writer_of(base), false);
}

static const struct store_writer_ops local_writer_ops = {
    .write = local_writer_write,
    .commit = local_writer_commit,
    .abort = local_writer_abort,
};

/* Creates the directories of key below the root (0700); *is_new tells whether any was created. */
static int local_mkdirs(const struct local_store *ls, const char *key, bool *is_new,
                        struct error *err)
{
    char *rel = xstrdup(key);
    int rc = -1;

    for (char *p = strchr(rel, '/'); p; p = strchr(p + 1, '/')) {
        char *path;

        *p = '\0';
        path = local_path(ls, rel);
        *p = '/';
        if (mkdir(path, LOCAL_DIR_MODE) == 0) {
            *is_new = true;
        } else if (errno != EEXIST) {
            error_errno(err, ERR_IO, "create directory '%s'", path);
            xfree(path);
            goto out;
        }
        xfree(path);
    }
    rc = 0;
out:
    xfree(rel);
    return rc;
}

static int local_put_open(struct store *s, const char *key, struct store_writer **out,
                          struct error *err)
{
    struct local_store *ls = local_store_of(s);
    struct local_writer *w = NULL;
    const char *slash;
    const char *base;
    size_t base_len;
    char *dir_path = NULL;
    int open_errno = 0;
    int rc = -1;

    *out = NULL;
    if (local_check_key(key, err) < 0)
        return -1;
    slash = strrchr(key, '/');
    base = slash ? slash + 1 : key;
    base_len = strlen(base);
    if (base_len > LOCAL_TMP_NAME_MAX)
        base_len = LOCAL_TMP_NAME_MAX;

    w = xcalloc(1, sizeof(*w));
    w->base.ops = &local_writer_ops;
    w->ls = ls;
    w->fd = -1;
    w->path = local_path(ls, key);
    w->dir_rel = slash ? xstrndup(key, (size_t)(slash - key)) : xstrdup("");
    dir_path = local_path(ls, w->dir_rel);
    /* A concurrent remove or abort may prune a directory we just created (it was empty): retry. */
    for (int attempt = 0; attempt < 3; attempt++) {
        char *tmp;
        int fd;

        if (local_mkdirs(ls, key, &w->is_dir_new, err) < 0)
            goto out;
        tmp = xasprintf("%s/.%.*s.tmp-XXXXXX", dir_path, (int)base_len, base);
        fd = mkostemp(tmp, O_CLOEXEC);
        open_errno = errno;
        if (fd >= 0) {
            w->tmp_path = tmp;
            w->fd = fd;
            break;
        }
        xfree(tmp);
        if (open_errno != ENOENT)
            break;
    }
    if (w->fd < 0) {
        errno = open_errno;
        error_errno(err, ERR_IO, "create temporary file for '%s'", w->path);
        goto out;
    }
    /* mkstemp's mode depends on the umask; the contract is exactly 0600. */
    if (fchmod(w->fd, LOCAL_FILE_MODE) < 0) {
        error_errno(err, ERR_IO, "chmod '%s'", w->tmp_path);
        goto out;
    }
    *out = &w->base;
    w = NULL;
    rc = 0;
out:
    if (w)
        local_writer_end(w, false);
    xfree(dir_path);
    return rc;
}

/* ---- reader ---- */

static struct local_reader *local_reader_of(struct store_reader *r)
{
    ASSERT(r->ops == &local_reader_ops);
    return (struct local_reader *)r;
}

static int local_reader_read(struct store_reader *base, void *data, size_t cap, size_t *got,
                             struct error *err)
{
    struct local_reader *r = local_reader_of(base);

    for (;;) {
        ssize_t n = read(r->fd, data, cap);
        if (n >= 0) {
            *got = (size_t)n;
            return 0;
        }
        if (errno != EINTR)
            return error_errno(err, ERR_IO, "read '%s'", r->path);
    }
}

static void local_reader_close(struct store_reader *base)
{
    struct local_reader *r = local_reader_of(base);

    if (r->fd >= 0)
        close(r->fd);
    xfree(r->path);
    xfree(r);
}

static const struct store_reader_ops local_reader_ops = {
    .read = local_reader_read,
    .close = local_reader_close,
};

static int local_not_found(struct error *err, const char *path)
{
    error_set(err, ERR_IO, "open '%s': not found", path);
    err->sys_errno = ENOENT;
    return -1;
}

static int local_get_open(struct store *s, const char *key, struct store_reader **out,
                          struct error *err)
{
    struct local_store *ls = local_store_of(s);
    struct local_reader *r = NULL;
    char *path = NULL;
    struct stat st;
    int fd = -1;
    int rc = -1;

    *out = NULL;
    if (local_check_key(key, err) < 0)
        return -1;
    path = local_path(ls, key);
    /* O_NONBLOCK: opening a FIFO someone left under the root must not hang (it is refused below);
     * it changes nothing for regular files. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            local_not_found(err, path);
        else
            error_errno(err, ERR_IO, "open '%s'", path);
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        error_errno(err, ERR_IO, "stat '%s'", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        local_not_found(err, path);
        goto out;
    }
    r = xcalloc(1, sizeof(*r));
    r->base.ops = &local_reader_ops;
    r->fd = fd;
    r->path = path;
    fd = -1;
    path = NULL;
    *out = &r->base;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    xfree(path);
    return rc;
}

/* ---- list ---- */

static int local_list_entry_cmp(const void *a, const void *b)
{
    const struct local_list_entry *x = a;
    const struct local_list_entry *y = b;

    return strcmp(x->name, y->name);
}

/* True when a key starting with rel_dir + name can match prefix; rel_dir is known to agree with
 * prefix on their common length. A directory matches when either is a prefix of the other. */
static bool local_list_may_match(const char *rel_dir, const char *name, bool is_dir,
                                 const char *prefix)
{
    size_t rel_len = strlen(rel_dir);
    size_t prefix_len = strlen(prefix);
    size_t rest_len;
    size_t name_len;

    if (rel_len >= prefix_len)
        return true;
    rest_len = prefix_len - rel_len;
    name_len = strlen(name);
    if (is_dir)
        return memcmp(name, prefix + rel_len, name_len < rest_len ? name_len : rest_len) == 0;
    return name_len >= rest_len && memcmp(name, prefix + rel_len, rest_len) == 0;
}

static void local_list_entries_free(struct local_list_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++)
        xfree(entries[i].name);
    xfree(entries);
}

/* Reads the entries of one directory that may lead to keys under prefix, sorted. Only this
 * directory is held in memory (closed before the caller descends), so memory follows the widest
 * directory, not the size of the tree. A directory that does not exist (or is not one) has no
 * entries. */
static int local_list_read_dir(const struct local_store *ls, const char *rel_dir,
                               const char *prefix, int flags, struct local_list_entry **entries_out,
                               size_t *count_out, struct error *err)
{
    struct local_list_entry *entries = NULL;
    size_t count = 0;
    size_t alloc = 0;
    char *path = local_path(ls, rel_dir);
    DIR *d = NULL;
    int fd;
    int rc = -1;

    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
            rc = 0;
            goto out;
        }
        error_errno(err, ERR_IO, "open directory '%s'", path);
        goto out;
    }
    d = fdopendir(fd);
    if (!d) {
        error_errno(err, ERR_IO, "open directory '%s'", path);
        close(fd);
        goto out;
    }
    for (;;) {
        struct dirent *de;
        struct stat st;
        bool is_dir;
        char *name;

        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno != 0) {
                error_errno(err, ERR_IO, "read directory '%s'", path);
                goto out;
            }
            break;
        }
        bool is_partial = false;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (store_is_tmp_name(de->d_name, strlen(de->d_name))) {
            if (!(flags & STORE_LIST_PARTIAL))
                continue;
            is_partial = true;
        }
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) /* removed while we list */
                continue;
            error_errno(err, ERR_IO, "stat '%s/%s'", path, de->d_name);
            goto out;
        }
        if (S_ISDIR(st.st_mode))
            is_dir = true;
        else if (S_ISREG(st.st_mode))
            is_dir = false;
        else
            continue; /* symlinks, sockets, ...: not keys */
        if (is_partial && is_dir)
            continue;
        if (is_partial) /* ".<name>.tmp-XXXXXX" reports as "<name>" */
            name = xstrndup(de->d_name + 1, (size_t)(strstr(de->d_name, ".tmp-") - de->d_name - 1));
        else
            name = is_dir ? xasprintf("%s/", de->d_name) : xstrdup(de->d_name);
        if (!local_list_may_match(rel_dir, name, is_dir, prefix)) {
            xfree(name);
            continue;
        }
        XGROW(entries, count + 1, alloc);
        entries[count].name = name;
        entries[count].is_dir = is_dir;
        entries[count].is_partial = is_partial;
        entries[count].size_bytes = (uint64_t)st.st_size;
        entries[count].mtime = st.st_mtim.tv_sec;
        count++;
    }
    if (count > 1)
        qsort(entries, count, sizeof(entries[0]), local_list_entry_cmp);
    *entries_out = entries;
    *count_out = count;
    entries = NULL;
    count = 0;
    rc = 0;
out:
    if (d)
        closedir(d);
    local_list_entries_free(entries, count);
    xfree(path);
    return rc;
}

/* Lists rel_dir ("" or "a/b/") depth first. Returns -1 on error, 0 to go on, 1 when fn asked to
 * stop. */
static int local_list_dir(const struct local_store *ls, const char *rel_dir, const char *prefix,
                          int flags, store_list_fn fn, void *ctx, struct error *err)
{
    struct local_list_entry *entries = NULL;
    size_t count = 0;
    int rc = -1;

    if (local_list_read_dir(ls, rel_dir, prefix, flags, &entries, &count, err) < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        char *key = xasprintf("%s%s", rel_dir, entries[i].name);
        int r;

        if (entries[i].is_dir) {
            r = local_list_dir(ls, key, prefix, flags, fn, ctx, err);
        } else {
            struct store_entry e = {key, entries[i].size_bytes, entries[i].mtime,
                                    entries[i].is_partial};
            r = fn(&e, ctx, err);
        }
        xfree(key);
        if (r != 0) {
            rc = r < 0 ? -1 : 1;
            goto out;
        }
    }
    rc = 0;
out:
    local_list_entries_free(entries, count);
    return rc;
}

static int local_list(struct store *s, const char *prefix, int flags, store_list_fn fn, void *ctx,
                      struct error *err)
{
    struct local_store *ls = local_store_of(s);
    const char *slash;
    char *start = NULL;
    int r;

    if (!store_key_is_valid(prefix, true))
        return store_invalid_key(err, "prefix", prefix);
    /* Start at the deepest directory the prefix names completely. */
    slash = strrchr(prefix, '/');
    start = slash ? xstrndup(prefix, (size_t)(slash - prefix) + 1) : xstrdup("");
    r = local_list_dir(ls, start, prefix, flags, fn, ctx, err);
    xfree(start);
    return r < 0 ? -1 : 0;
}

/* ---- stat, remove ---- */

static int local_stat(struct store *s, const char *key, struct store_entry *out, bool *exists,
                      struct error *err)
{
    struct local_store *ls = local_store_of(s);
    char *path = NULL;
    struct stat st;
    int rc = -1;

    *exists = false;
    if (local_check_key(key, err) < 0)
        return -1;
    path = local_path(ls, key);
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            rc = 0;
            goto out;
        }
        error_errno(err, ERR_IO, "stat '%s'", path);
        goto out;
    }
    if (S_ISREG(st.st_mode)) {
        out->key = key;
        out->size_bytes = (uint64_t)st.st_size;
        out->mtime = st.st_mtim.tv_sec;
        *exists = true;
    }
    rc = 0;
out:
    xfree(path);
    return rc;
}

static int local_remove(struct store *s, const char *key, struct error *err)
{
    struct local_store *ls = local_store_of(s);
    const char *slash;
    char *path = NULL;
    char *dir_rel = NULL;
    int rc = -1;

    if (local_check_key(key, err) < 0)
        return -1;
    path = local_path(ls, key);
    if (unlink(path) < 0) {
        /* Missing, or a directory (not a key): nothing to remove. */
        if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) {
            rc = 0;
            goto out;
        }
        error_errno(err, ERR_IO, "remove '%s'", path);
        goto out;
    }
    slash = strrchr(key, '/');
    dir_rel = slash ? xstrndup(key, (size_t)(slash - key)) : xstrdup("");
    if (local_prune_dirs(ls, dir_rel, true, err) < 0)
        goto out;
    rc = 0;
out:
    xfree(dir_rel);
    xfree(path);
    return rc;
}

static int local_remove_prefix(struct store *s, const char *prefix, struct error *err)
{
    struct local_store *ls = local_store_of(s);
    size_t len = strlen(prefix);
    char *dir_rel = NULL;
    char *path = NULL;
    char *slash;
    struct stat st;
    int rc = -1;

    if (len < 2 || prefix[len - 1] != '/')
        return store_invalid_key(err, "prefix", prefix);
    dir_rel = xstrndup(prefix, len - 1);
    if (!store_key_is_valid(dir_rel, false)) {
        store_invalid_key(err, "prefix", prefix);
        goto out;
    }
    path = local_path(ls, dir_rel);
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            rc = 0;
            goto out;
        }
        error_errno(err, ERR_IO, "stat '%s'", path);
        goto out;
    }
    /* A file (the key "db" for the prefix "db/") or a symlink is not under the prefix. */
    if (!S_ISDIR(st.st_mode)) {
        rc = 0;
        goto out;
    }
    if (fs_remove_tree(path, err) < 0)
        goto out;
    slash = strrchr(dir_rel, '/');
    if (slash)
        *slash = '\0';
    else
        dir_rel[0] = '\0';
    if (local_prune_dirs(ls, dir_rel, true, err) < 0)
        goto out;
    rc = 0;
out:
    xfree(path);
    xfree(dir_rel);
    return rc;
}

static void local_store_free(struct store *s)
{
    struct local_store *ls = local_store_of(s);

    store_base_release(&ls->base);
    xfree(ls->root);
    xfree(ls);
}

static const struct store_ops local_store_ops = {
    .put_open = local_put_open,
    .get_open = local_get_open,
    .list = local_list,
    .stat = local_stat,
    .remove = local_remove,
    .remove_prefix = local_remove_prefix,
    .free = local_store_free,
};

int local_store_open(const struct store_options *opts, struct store **out, struct error *err)
{
    char resolved[PATH_MAX];
    struct local_store *ls;
    struct stat st;

    *out = NULL;
    if (!opts->path || opts->path[0] == '\0')
        return error_set(err, ERR_CONFIG, "no path set");
    if (fs_mkdir_p(opts->path, LOCAL_DIR_MODE, err) < 0)
        return -1;
    if (!realpath(opts->path, resolved))
        return error_errno(err, ERR_IO, "resolve '%s'", opts->path);
    if (stat(resolved, &st) < 0)
        return error_errno(err, ERR_IO, "stat '%s'", resolved);
    if (!S_ISDIR(st.st_mode))
        return error_set(err, ERR_IO, "'%s' is not a directory", resolved);
    ls = xcalloc(1, sizeof(*ls));
    store_base_init(&ls->base, &local_store_ops, opts, resolved);
    ls->root = xstrdup(resolved);
    *out = &ls->base;
    return 0;
}
