#include "util/fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/xalloc.h"

int fs_mkdir_p(const char *path, mode_t mode, struct error *err)
{
    char *copy = xstrdup(path);
    int rc = -1;
    size_t len = strlen(copy);

    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, mode) < 0 && errno != EEXIST) {
            error_errno(err, ERR_IO, "create directory '%s'", copy);
            goto out;
        }
        *p = '/';
    }
    if (mkdir(copy, mode) < 0 && errno != EEXIST) {
        error_errno(err, ERR_IO, "create directory '%s'", copy);
        goto out;
    }
    rc = 0;
out:
    xfree(copy);
    return rc;
}

int fs_fsync_dir(const char *dir, struct error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return error_errno(err, ERR_IO, "open directory '%s'", dir);
    if (fsync(fd) < 0 && errno != EINVAL)
        rc = error_errno(err, ERR_IO, "fsync directory '%s'", dir);
    close(fd);
    return rc;
}

int fs_write_all(int fd, const void *data, size_t len, const char *what, struct error *err)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return error_errno(err, ERR_IO, "write '%s'", what);
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

char *fs_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

int fs_finish_atomic(int fd, const char *tmp, const char *path, struct error *err)
{
    char *dir = NULL;
    int rc = -1;

    if (fsync(fd) < 0) {
        error_errno(err, ERR_IO, "fsync '%s'", tmp);
        (void)close(fd);
        goto out;
    }
    if (close(fd) < 0) {
        error_errno(err, ERR_IO, "close '%s'", tmp);
        goto out;
    }
    if (rename(tmp, path) < 0) {
        error_errno(err, ERR_IO, "rename '%s' to '%s'", tmp, path);
        goto out;
    }
    dir = fs_dirname(path);
    if (fs_fsync_dir(dir, err) < 0)
        goto out;
    rc = 0;
out:
    xfree(dir);
    return rc;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct error *err)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = -1;
    int rc = -1;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        error_errno(err, ERR_IO, "create '%s'", tmp);
        goto out;
    }
    if (fs_write_all(fd, data, len, tmp, err) < 0)
        goto out;
    rc = fs_finish_atomic(fd, tmp, path, err);
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    xfree(tmp);
    return rc;
}

int fs_read_file(const char *path, struct buf *out, struct error *err)
{
    char chunk[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = -1;

    if (fd < 0)
        return error_errno(err, ERR_IO, "open '%s'", path);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            error_errno(err, ERR_IO, "read '%s'", path);
            goto out;
        }
        if (n == 0)
            break;
        if (!buf_add(out, chunk, (size_t)n)) {
            error_set(err, ERR_IO, "read '%s': file is larger than %zu bytes", path, out->max_len);
            goto out;
        }
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

int fs_remove_tree(const char *path, struct error *err)
{
    struct stat st;
    DIR *d = NULL;
    struct dirent *de;
    int rc = -1;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return error_errno(err, ERR_IO, "stat '%s'", path);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) < 0 && errno != ENOENT)
            return error_errno(err, ERR_IO, "remove '%s'", path);
        return 0;
    }
    d = opendir(path);
    if (!d)
        return error_errno(err, ERR_IO, "open directory '%s'", path);
    while ((de = readdir(d)) != NULL) {
        char *child;
        int r;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        child = xasprintf("%s/%s", path, de->d_name);
        r = fs_remove_tree(child, err);
        xfree(child);
        if (r < 0)
            goto out;
    }
    if (rmdir(path) < 0 && errno != ENOENT) {
        error_errno(err, ERR_IO, "remove directory '%s'", path);
        goto out;
    }
    rc = 0;
out:
    closedir(d);
    return rc;
}

bool fs_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}
