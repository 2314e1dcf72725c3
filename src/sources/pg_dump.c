#include "sources/pg_dump.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fs.h"
#include "util/xalloc.h"

bool pg_tool_parse_version(const char *text, char **version, int *major)
{
    const char *p = strstr(text, "(PostgreSQL) ");
    size_t n = 0;

    if (!p)
        return false;
    p += strlen("(PostgreSQL) ");
    while (p[n] && (isdigit((unsigned char)p[n]) || p[n] == '.'))
        n++;
    if (n == 0 || !isdigit((unsigned char)p[0]))
        return false;
    *major = (int)strtol(p, NULL, 10);
    *version = xstrndup(p, n);
    return true;
}

/* The highest N with /usr/lib/postgresql/N/bin/<name> executable, or NULL. */
static char *pg_tool_newest_installed(const char *name)
{
    DIR *d = opendir("/usr/lib/postgresql");
    struct dirent *de;
    long best = -1;
    char *path = NULL;

    if (!d)
        return NULL;
    while ((de = readdir(d)) != NULL) {
        char *end = NULL;
        long v = strtol(de->d_name, &end, 10);
        char *candidate;

        if (end == de->d_name || *end || v <= best)
            continue;
        candidate = xasprintf("/usr/lib/postgresql/%s/bin/%s", de->d_name, name);
        if (access(candidate, X_OK) == 0) {
            best = v;
            xfree(path);
            path = candidate;
        } else {
            xfree(candidate);
        }
    }
    closedir(d);
    return path;
}

int pg_tool_find(const char *name, const char *explicit_path, struct pg_tool *out,
                 struct error *err)
{
    struct buf so;
    struct buf se;
    int code = 0;
    int rc = -1;
    char *path = NULL;
    const char *argv[3];

    memset(out, 0, sizeof(*out));
    buf_init(&so, 4096);
    buf_init(&se, 4096);
    if (explicit_path)
        path = xstrdup(explicit_path);
    else
        path = pg_tool_newest_installed(name);
    if (!path)
        path = xstrdup(name);
    argv[0] = path;
    argv[1] = "--version";
    argv[2] = NULL;
    if (proc_run_capture(argv, NULL, &so, &code, &se, err) < 0) {
        error_wrap(err, "find %s", name);
        error_hint(err, "install the PostgreSQL client (apt-get install postgresql-client) or set "
                        "'pg_dump = /path/to/pg_dump' in the job");
        goto out;
    }
    if (code != 0 || !pg_tool_parse_version(so.data, &out->version, &out->major)) {
        error_set(err, ERR_FAILED, "'%s --version' failed or printed no version: %s", path,
                  code != 0 ? se.data : so.data);
        goto out;
    }
    out->path = path;
    path = NULL;
    rc = 0;
out:
    xfree(path);
    buf_release(&so);
    buf_release(&se);
    return rc;
}

int pg_tool_find_sibling(const char *name, const struct pg_tool *beside, struct pg_tool *out,
                         struct error *err)
{
    const char *slash = beside->path ? strrchr(beside->path, '/') : NULL;
    char *candidate;
    int rc;

    if (!slash)
        return pg_tool_find(name, NULL, out, err);
    candidate = xasprintf("%.*s/%s", (int)(slash - beside->path), beside->path, name);
    if (access(candidate, X_OK) == 0)
        rc = pg_tool_find(name, candidate, out, err);
    else
        rc = pg_tool_find(name, NULL, out, err);
    xfree(candidate);
    return rc;
}

void pg_tool_release(struct pg_tool *t)
{
    xfree(t->path);
    xfree(t->version);
    memset(t, 0, sizeof(*t));
}

int pg_passfile_create(const char *password, struct pg_passfile *pf, struct error *err)
{
    struct buf line;
    int fd = -1;
    int rc = -1;

    memset(pf, 0, sizeof(*pf));
    pf->fd = -1;
    buf_init(&line, BUF_NO_CAP);
    buf_adds(&line, "*:*:*:*:");
    for (const char *p = password; *p; p++) {
        if (*p == ':' || *p == '\\')
            buf_add(&line, "\\", 1);
        buf_add(&line, p, 1);
    }
    buf_adds(&line, "\n");
    /* Not close-on-exec: the PostgreSQL client programs we start open it by its /proc path. */
    fd = memfd_create("permafrost-pgpass", 0);
    if (fd < 0) {
        error_errno(err, ERR_IO, "create an in-memory passfile");
        goto out;
    }
    /* libpq ignores a passfile that group or others may read. */
    if (fchmod(fd, 0600) < 0) {
        error_errno(err, ERR_IO, "chmod the in-memory passfile");
        goto out;
    }
    if (fs_write_all(fd, line.data, line.len, "in-memory passfile", err) < 0)
        goto out;
    pf->env_entry = xasprintf("PGPASSFILE=/proc/self/fd/%d", fd);
    pf->fd = fd;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    explicit_bzero(line.data, line.len);
    buf_release(&line);
    return rc;
}

void pg_passfile_remove(struct pg_passfile *pf)
{
    if (pf->env_entry && pf->fd >= 0) {
        /* Wipe before closing, in case another process still holds the memfd. */
        if (ftruncate(pf->fd, 0) < 0) {
            /* nothing more to do: close drops our reference either way */
        }
        close(pf->fd);
    }
    xfree(pf->env_entry);
    memset(pf, 0, sizeof(*pf));
    pf->fd = -1;
}
