#include "core/lock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fs.h"
#include "util/time.h"
#include "util/xalloc.h"

struct job_lock {
    int fd;
    char *path;
};

int lock_acquire(const char *state_dir, const char *job, const char *what, struct job_lock **out,
                 struct error *err)
{
    char *dir = xasprintf("%s/locks", state_dir);
    char *path = xasprintf("%s/%s.lock", dir, job);
    char host[256] = "unknown";
    char stamp[TIME_ISO_LEN];
    struct buf info;
    int fd = -1;
    int rc = -1;

    *out = NULL;
    buf_init(&info, 4096);
    if (fs_mkdir_p(dir, 0700, err) < 0)
        goto out;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        error_errno(err, ERR_IO, "open lock file '%s'", path);
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) {
            ssize_t n;
            char text[512];

            n = pread(fd, text, sizeof(text) - 1, 0);
            text[n > 0 ? n : 0] = '\0';
            text[strcspn(text, "\n")] = '\0';
            error_set(err, ERR_LOCKED, "job '%s' is locked by %s", job,
                      *text ? text : "another process");
            error_hint(err,
                       "wait for it to finish; the lock is released when that process exits "
                       "(lock file '%s')",
                       path);
        } else {
            error_errno(err, ERR_IO, "lock '%s'", path);
        }
        goto out;
    }
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    time_format_iso(time(NULL), stamp);
    buf_addf(&info, "pid %ld on host %s, running '%s' since %s\n", (long)getpid(), host, what,
             stamp);
    if (ftruncate(fd, 0) < 0 || pwrite(fd, info.data, info.len, 0) < 0) {
        error_errno(err, ERR_IO, "write lock file '%s'", path);
        goto out;
    }
    *out = xcalloc(1, sizeof(**out));
    (*out)->fd = fd;
    (*out)->path = path;
    fd = -1;
    path = NULL;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    buf_release(&info);
    xfree(dir);
    xfree(path);
    return rc;
}

void lock_release(struct job_lock *l)
{
    if (!l)
        return;
    /* The file stays (unlinking would race with a waiter that opened it); its text is cleared. */
    if (ftruncate(l->fd, 0) < 0) {
        /* Harmless: the text only names the last holder. */
    }
    close(l->fd);
    xfree(l->path);
    xfree(l);
}
