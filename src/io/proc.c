#include "io/proc.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cancel.h"
#include "util/xalloc.h"

/* Builds the child's environment: ours, with the NAME=VALUE entries of env_add replacing or adding
 * to it, and the bare NAME entries of env_add removing NAME. */
static char **proc_build_env(const char *const *env_add)
{
    size_t n = 0;
    size_t add = 0;
    size_t out = 0;
    char **env;

    while (environ[n])
        n++;
    while (env_add && env_add[add])
        add++;
    env = xcalloc(n + add + 1, sizeof(*env));
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < add; j++) {
            size_t klen = strcspn(env_add[j], "=");
            if (strncmp(environ[i], env_add[j], klen) == 0 && environ[i][klen] == '=')
                replaced = true;
        }
        if (!replaced)
            env[out++] = environ[i];
    }
    for (size_t j = 0; j < add; j++)
        if (strchr(env_add[j], '='))
            env[out++] = (char *)(uintptr_t)env_add[j];
    env[out] = NULL;
    return env;
}

static void proc_close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int proc_spawn(const char *const *argv, const char *const *env_add, int flags, struct proc *p,
               struct error *err)
{
    int in_pipe[2] = {-1, -1};
    int out_pipe[2] = {-1, -1};
    int err_pipe[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    bool fa_init = false;
    char **env = NULL;
    const char *base = strrchr(argv[0], '/');
    int rc = -1;
    int r;

    memset(p, 0, sizeof(*p));
    p->stdin_fd = p->stdout_fd = p->stderr_fd = -1;
    p->pid = 0;
    p->is_waited = true;
    buf_init(&p->stderr_tail, PROC_STDERR_CAP);
    p->name = xstrdup(base ? base + 1 : argv[0]);

    if (((flags & PROC_STDIN_PIPE) && pipe2(in_pipe, O_CLOEXEC) < 0) ||
        ((flags & PROC_STDOUT_PIPE) && pipe2(out_pipe, O_CLOEXEC) < 0) ||
        pipe2(err_pipe, O_CLOEXEC) < 0) {
        error_errno(err, ERR_IO, "start '%s': pipe", p->name);
        goto out;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        error_set(err, ERR_IO, "start '%s': posix_spawn_file_actions_init failed", p->name);
        goto out;
    }
    fa_init = true;
    if (flags & PROC_STDIN_PIPE)
        posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (flags & PROC_STDOUT_PIPE)
        posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);

    env = proc_build_env(env_add);
    r = posix_spawnp(&p->pid, argv[0], &fa, NULL, (char *const *)(uintptr_t)argv, env);
    if (r != 0) {
        errno = r;
        p->pid = 0;
        error_errno(err, ERR_IO, "start '%s'", argv[0]);
        goto out;
    }
    p->is_waited = false;
    /* Our end of the child's stdin never blocks: proc_write waits in poll, draining stderr, so a
     * child that writes much to stderr while we feed it cannot deadlock us. */
    if (in_pipe[1] >= 0)
        (void)fcntl(in_pipe[1], F_SETFL, fcntl(in_pipe[1], F_GETFL) | O_NONBLOCK);
    p->stdin_fd = in_pipe[1];
    in_pipe[1] = -1;
    p->stdout_fd = out_pipe[0];
    out_pipe[0] = -1;
    p->stderr_fd = err_pipe[0];
    err_pipe[0] = -1;
    rc = 0;
out:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    xfree(env);
    for (int i = 0; i < 2; i++) {
        proc_close_fd(&in_pipe[i]);
        proc_close_fd(&out_pipe[i]);
        proc_close_fd(&err_pipe[i]);
    }
    return rc;
}

/* Reads what stderr has (non-blocking use: called only when poll says readable). */
static void proc_drain_stderr(struct proc *p)
{
    char chunk[4096];
    ssize_t n = read(p->stderr_fd, chunk, sizeof(chunk));

    if (n > 0) {
        buf_add_tail(&p->stderr_tail, chunk, (size_t)n);
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        proc_close_fd(&p->stderr_fd);
    }
}

/* Waits until fd is ready for `events`, draining stderr meanwhile. */
static int proc_wait_fd(struct proc *p, int fd, short events, struct error *err)
{
    for (;;) {
        struct pollfd pfd[2];
        nfds_t n = 0;
        int r;

        if (cancel_requested())
            return error_set(err, ERR_CANCELLED, "cancelled while '%s' was running", p->name);
        pfd[n].fd = fd;
        pfd[n].events = events;
        pfd[n].revents = 0;
        n++;
        if (p->stderr_fd >= 0) {
            pfd[n].fd = p->stderr_fd;
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            n++;
        }
        r = poll(pfd, n, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return error_errno(err, ERR_IO, "poll '%s'", p->name);
        }
        if (n == 2 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
            proc_drain_stderr(p);
        if (pfd[0].revents)
            return 0;
    }
}

int proc_read(struct proc *p, void *data, size_t cap, size_t *got, struct error *err)
{
    *got = 0;
    ASSERT(p->stdout_fd >= 0);
    for (;;) {
        ssize_t n;

        if (proc_wait_fd(p, p->stdout_fd, POLLIN, err) < 0)
            return -1;
        n = read(p->stdout_fd, data, cap);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return error_errno(err, ERR_IO, "read output of '%s'", p->name);
        }
        *got = (size_t)n;
        return 0;
    }
}

int proc_write(struct proc *p, const void *data, size_t len, struct error *err)
{
    const char *ptr = data;

    ASSERT(p->stdin_fd >= 0);
    while (len > 0) {
        ssize_t n;

        if (proc_wait_fd(p, p->stdin_fd, POLLOUT, err) < 0)
            return -1;
        n = write(p->stdin_fd, ptr, len);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            if (errno == EPIPE) {
                error_set(err, ERR_FAILED, "'%s' stopped reading its input", p->name);
                err->sys_errno = EPIPE;
                return -1;
            }
            return error_errno(err, ERR_IO, "write input of '%s'", p->name);
        }
        ptr += n;
        len -= (size_t)n;
    }
    return 0;
}

void proc_close_stdin(struct proc *p)
{
    proc_close_fd(&p->stdin_fd);
}

/* A cancel (SIGINT/SIGTERM to us) is passed on to the child once, as SIGTERM, so that it stops
 * (pg_restore rolls back) instead of running on unsupervised. */
static void proc_forward_cancel(struct proc *p, bool *forwarded)
{
    if (cancel_requested() && !*forwarded && p->pid > 0 && !p->is_waited) {
        kill(p->pid, SIGTERM);
        *forwarded = true;
    }
}

int proc_wait(struct proc *p, int *exit_code, struct error *err)
{
    int status = 0;
    bool forwarded = false;

    proc_close_fd(&p->stdin_fd);
    proc_close_fd(&p->stdout_fd);
    /* Read stderr to EOF, so its last lines are in the tail. A signal interrupts the poll. */
    while (p->stderr_fd >= 0) {
        struct pollfd pfd = {p->stderr_fd, POLLIN, 0};
        int r;

        proc_forward_cancel(p, &forwarded);
        r = poll(&pfd, 1, forwarded ? 5000 : -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        proc_drain_stderr(p);
    }
    proc_close_fd(&p->stderr_fd);
    for (;;) {
        proc_forward_cancel(p, &forwarded);
        if (waitpid(p->pid, &status, 0) >= 0)
            break;
        if (errno != EINTR)
            return error_errno(err, ERR_IO, "wait for '%s'", p->name);
    }
    p->is_waited = true;
    if (WIFEXITED(status))
        *exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        *exit_code = 128 + WTERMSIG(status);
    else
        *exit_code = 255;
    return 0;
}

void proc_kill(struct proc *p, int sig)
{
    if (p->pid > 0 && !p->is_waited)
        kill(p->pid, sig);
}

void proc_release(struct proc *p)
{
    if (p->pid > 0 && !p->is_waited) {
        int status;
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {
        }
        p->is_waited = true;
    }
    proc_close_fd(&p->stdin_fd);
    proc_close_fd(&p->stdout_fd);
    proc_close_fd(&p->stderr_fd);
    buf_release(&p->stderr_tail);
    xfree(p->name);
    p->name = NULL;
}

const char *proc_stderr_text(struct proc *p)
{
    struct buf *b = &p->stderr_tail;

    while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r' ||
                      b->data[b->len - 1] == ' '))
        b->data[--b->len] = '\0';
    return b->data;
}

int proc_run_capture(const char *const *argv, const char *const *env_add, struct buf *out,
                     int *exit_code, struct buf *err_tail, struct error *err)
{
    struct proc p;
    char chunk[4096];
    int rc = -1;

    if (proc_spawn(argv, env_add, PROC_STDOUT_PIPE, &p, err) < 0) {
        proc_release(&p);
        return -1;
    }
    for (;;) {
        size_t got;
        if (proc_read(&p, chunk, sizeof(chunk), &got, err) < 0)
            goto out;
        if (got == 0)
            break;
        if (!buf_add(out, chunk, got)) {
            error_set(err, ERR_IO, "output of '%s' is larger than %zu bytes", p.name, out->max_len);
            goto out;
        }
    }
    if (proc_wait(&p, exit_code, err) < 0)
        goto out;
    if (err_tail)
        buf_add_tail(err_tail, p.stderr_tail.data, p.stderr_tail.len);
    rc = 0;
out:
    proc_release(&p);
    return rc;
}
