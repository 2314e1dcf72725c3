#include "sources/pg_dump.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <fcntl.h>
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

void pg_tool_release(struct pg_tool *t)
{
    xfree(t->path);
    xfree(t->version);
    memset(t, 0, sizeof(*t));
}

int pg_passfile_create(const char *password, struct pg_passfile *pf, struct error *err)
{
    const char *tmp = getenv("TMPDIR");
    struct buf line;
    int fd = -1;
    int rc = -1;

    memset(pf, 0, sizeof(*pf));
    buf_init(&line, BUF_NO_CAP);
    pf->dir = xasprintf("%s/permafrost-pg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(pf->dir)) {
        error_errno(err, ERR_IO, "create a private directory for the passfile in '%s'",
                    tmp && *tmp ? tmp : "/tmp");
        xfree(pf->dir);
        pf->dir = NULL;
        goto out;
    }
    pf->path = xasprintf("%s/pgpass", pf->dir);
    buf_adds(&line, "*:*:*:*:");
    for (const char *p = password; *p; p++) {
        if (*p == ':' || *p == '\\')
            buf_add(&line, "\\", 1);
        buf_add(&line, p, 1);
    }
    buf_adds(&line, "\n");
    fd = open(pf->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        error_errno(err, ERR_IO, "create passfile '%s'", pf->path);
        goto out;
    }
    if (fs_write_all(fd, line.data, line.len, pf->path, err) < 0)
        goto out;
    pf->env_entry = xasprintf("PGPASSFILE=%s", pf->path);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    explicit_bzero(line.data, line.len);
    buf_release(&line);
    if (rc < 0)
        pg_passfile_remove(pf);
    return rc;
}

void pg_passfile_remove(struct pg_passfile *pf)
{
    if (pf->path) {
        /* Overwrite before unlinking, so the password does not linger in a freed block. */
        int fd = open(pf->path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            struct stat st;
            if (fstat(fd, &st) == 0 && st.st_size > 0) {
                char zero[256];
                off_t left = st.st_size;
                memset(zero, 0, sizeof(zero));
                while (left > 0) {
                    size_t n = left > (off_t)sizeof(zero) ? sizeof(zero) : (size_t)left;
                    if (write(fd, zero, n) < 0)
                        break;
                    left -= (off_t)n;
                }
            }
            close(fd);
        }
        unlink(pf->path);
    }
    if (pf->dir)
        rmdir(pf->dir);
    xfree(pf->dir);
    xfree(pf->path);
    xfree(pf->env_entry);
    memset(pf, 0, sizeof(*pf));
}
