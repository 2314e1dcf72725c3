/* Child processes (pg_dump, pg_restore, pg_dumpall): started with posix_spawnp and an argv array,
 * never a shell string. Extra environment entries (PGPASSFILE=...) are added to the child only.
 * stderr is always captured into a capped tail buffer for error messages; stdin/stdout are pipes on
 * request. All reads and writes drain stderr at the same time, so a chatty child cannot deadlock
 * us. */
#ifndef PERMAFROST_IO_PROC_H
#define PERMAFROST_IO_PROC_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/types.h>

#include "util/buf.h"
#include "util/error.h"

#define PROC_STDERR_CAP 8192 /* bytes of a child's stderr kept (the last ones) */

enum proc_flags {
    PROC_STDIN_PIPE = 1 << 0,  /* else /dev/null */
    PROC_STDOUT_PIPE = 1 << 1, /* else /dev/null */
};

struct proc {
    pid_t pid;
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    struct buf stderr_tail;
    char *name; /* argv[0] basename, for messages */
    bool is_waited;
};

/* Starts argv[0] (searched in PATH when it has no '/'). env_add: NULL or a NULL-terminated list of
 * "NAME=VALUE" added to (or replacing in) our environment for the child, or "NAME" to remove it. On
 * success *p must be ended with proc_wait (or proc_kill + proc_wait) and proc_release. */
int proc_spawn(const char *const *argv, const char *const *env_add, int flags, struct proc *p,
               struct error *err);
/* Reads up to cap bytes of the child's stdout; *got = 0 at EOF. Returns ERR_CANCELLED when a
 * cancellation was requested while waiting. */
int proc_read(struct proc *p, void *data, size_t cap, size_t *got, struct error *err);
/* Writes all of data to the child's stdin. When the child has stopped reading, fails with
 * ERR_FAILED and err->sys_errno = EPIPE (the caller may then wait for it and report its stderr). */
int proc_write(struct proc *p, const void *data, size_t len, struct error *err);
void proc_close_stdin(struct proc *p);
/* Closes our pipe ends, drains stderr and waits. *exit_code = the exit status, or 128 + signal
 * number when killed by a signal. A cancellation requested meanwhile is passed on to the child as
 * SIGTERM; callers check cancel_requested() afterwards. */
int proc_wait(struct proc *p, int *exit_code, struct error *err);
void proc_kill(struct proc *p, int sig);
/* Kills (SIGKILL) and reaps a child that was not waited for; closes fds; frees. Safe after
 * proc_wait and on a zeroed struct whose pid is 0. */
void proc_release(struct proc *p);
/* Runs argv to completion, capturing stdout (capped at out's cap) and stderr. *exit_code as above.
 */
int proc_run_capture(const char *const *argv, const char *const *env_add, struct buf *out,
                     int *exit_code, struct buf *err_tail, struct error *err);
/* The last line(s) of stderr, trimmed, for error messages ("" when none). */
const char *proc_stderr_text(struct proc *p);

#endif
