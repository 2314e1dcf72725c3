/* permafrost daemon: runs scheduled jobs in the foreground. One thread, one poll loop; signals
 * arrive through a self-pipe. Each run is a forked child that runs the job exactly as
 * `permafrost run JOB` does (the same code, lock, catalog rows and notifications), from the
 * configuration the daemon holds in memory, so a reload that failed still runs the old one. The
 * parent keeps no SQLite or curl handle open across fork(): the catalog is opened for one query
 * and closed. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "core/alerts.h"
#include "core/catalog.h"
#include "core/metrics.h"
#include "core/scheduler.h"
#include "core/state.h"
#include "notify/notify.h"
#include "permafrost_version.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/time.h"
#include "util/xalloc.h"

static const char daemon_usage[] =
    "usage: permafrost daemon [--check] [--log-format text|json]\n"
    "\n"
    "Runs every job that has a `schedule` when it falls due, in the foreground, until\n"
    "SIGTERM or SIGINT. Each run is `permafrost run JOB` in a child process: the same\n"
    "job lock (a manual run and the daemon never overlap; a run that finds the job\n"
    "locked is logged as skipped), catalog rows and notifications. A job never runs\n"
    "twice at once: a time that passes while it runs makes it run once afterwards.\n"
    "At most [global] max_concurrent_jobs run at the same time. Logs one line per\n"
    "event on stderr.\n"
    "\n"
    "  --check            load the configuration, print each scheduled job's next\n"
    "                     3 run times in [global] timezone, and exit\n"
    "  --log-format F     'text' (default) or 'json' (one object per line), as the\n"
    "                     global option of that name\n"
    "\n"
    "signals:\n"
    "  SIGHUP             reload the configuration file; a broken file is logged with\n"
    "                     its FILE:LINE error and the running configuration kept\n"
    "  SIGTERM, SIGINT    start no new run, give running jobs shutdown_timeout to\n"
    "                     finish, then cancel them (their partial output is removed)\n"
    "                     and exit 0; a second signal cancels them at once\n"
    "\n"
    "catch_up = yes on a job runs it once at start-up when its last scheduled time\n"
    "passed while the daemon was down; without it the missed run is only logged.\n"
    "\n"
    "examples:\n"
    "  permafrost -c /etc/permafrost/permafrost.conf daemon\n"
    "  permafrost daemon --check                # when does each job run next?\n"
    "  permafrost daemon --log-format=json      # for a log collector\n"
    "  systemctl reload permafrost              # SIGHUP (packaging/permafrost.service)\n"
    "\n"
    "See docs/operations.md, 'Running the daemon'.\n";

/* After SIGTERM to a run that overstayed shutdown_timeout, how long it gets to remove its partial
 * output before SIGKILL. */
#define DAEMON_KILL_GRACE_MS 10000
/* The loop wakes at least this often, so a wall clock that jumped forward is noticed. */
#define DAEMON_MAX_WAIT_MS   60000
#define DAEMON_RESULT_MAX    4096
#define DAEMON_CHECK_TIMES   3

struct daemon_child {
    pid_t pid;
    char *job;
    int64_t started_mono_ms;
    time_t started_at; /* wall clock, to recognise its row in the catalog */
    int result_fd;     /* read end: the child's error message and hint, written before it exits */
    bool is_term_sent;
    bool is_killed;
};

struct daemon {
    struct cli_ctx *ctx;
    char *state_dir;
    struct scheduler sched;
    struct daemon_child *children;
    size_t child_count;
    size_t child_alloc;
    /* PERMAFROST_TEST_CLOCK */
    bool has_test_clock;
    int64_t clock_base_ms;
    int64_t clock_mono_start_ms;
    int64_t clock_speed;
    /* shutdown */
    bool is_stopping;
    int64_t stop_deadline_mono_ms;
    int64_t kill_deadline_mono_ms; /* 0 until the children were sent SIGTERM */
    uint64_t reloads;
    uint64_t reload_failures;
    time_t started_at;
    struct metrics_server *metrics; /* NULL when metrics_listen = off */
    char *metrics_listen;           /* the address it listens on */
};

static int daemon_sig_pipe[2] = {-1, -1};

static void daemon_on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;

    /* A full pipe already holds a wake-up; dropping this byte loses nothing that matters except a
     * repeated signal of the same kind. */
    if (write(daemon_sig_pipe[1], &b, 1) < 0) {
        /* nothing to do in a handler */
    }
    errno = saved;
}

static int daemon_install_signals(struct error *err)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD};
    struct sigaction sa;

    if (pipe2(daemon_sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return error_errno(err, ERR_IO, "create the signal pipe");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = daemon_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return error_errno(err, ERR_IO, "install the handler of signal %d", sigs[i]);
    return 0;
}

static uint64_t daemon_random(void *ctx)
{
    uint64_t v = 0;

    (void)ctx;
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
        v = (uint64_t)time_mono_ms() * UINT64_C(6364136223846793005) + (uint64_t)getpid();
    return v;
}

/* PERMAFROST_TEST_CLOCK="2026-03-08T06:58:00Z*60": the daemon's wall clock starts at that instant
 * and runs 60 times faster (driven by the monotonic clock). A test hook (docs/testing.md). */
static int daemon_parse_test_clock(struct daemon *d, const char *text, struct error *err)
{
    char stamp[TIME_ISO_LEN];
    const char *star = strchr(text, '*');
    size_t n = star ? (size_t)(star - text) : strlen(text);
    time_t t = 0;
    uint64_t speed = 1;

    if (n >= sizeof(stamp))
        goto bad;
    memcpy(stamp, text, n);
    stamp[n] = '\0';
    if (!time_parse_utc(stamp, &t))
        goto bad;
    if (star && (!strv_to_u64(strv_from(star + 1), &speed) || speed < 1 || speed > 100000))
        goto bad;
    d->has_test_clock = true;
    d->clock_base_ms = (int64_t)t * 1000;
    d->clock_mono_start_ms = time_mono_ms();
    d->clock_speed = (int64_t)speed;
    return 0;
bad:
    return error_set(err, ERR_USAGE,
                     "PERMAFROST_TEST_CLOCK '%s': expected a UTC time and an optional speed, "
                     "as in 2026-03-08T06:58:00Z*60",
                     text);
}

/* The daemon's idea of the wall clock, in ms since the epoch. */
static int64_t daemon_now_ms(const struct daemon *d)
{
    if (!d->has_test_clock)
        return time_now_ms();
    return d->clock_base_ms + (time_mono_ms() - d->clock_mono_start_ms) * d->clock_speed;
}

/* Real milliseconds until the daemon's clock reaches due_ms. */
static int64_t daemon_wait_ms(const struct daemon *d, int64_t due_ms, int64_t now_ms)
{
    int64_t speed = d->has_test_clock ? d->clock_speed : 1;

    if (due_ms <= now_ms)
        return 0;
    if (due_ms == INT64_MAX)
        return DAEMON_MAX_WAIT_MS;
    return (due_ms - now_ms + speed - 1) / speed;
}

/* "db next 2026-11-30 03:00 CET, media next ..., verify unscheduled" */
static void daemon_describe_jobs(const struct daemon *d, struct buf *out)
{
    for (size_t i = 0; i < d->sched.job_count; i++) {
        const struct sched_job *j = &d->sched.jobs[i];
        char when[SCHED_TIME_LEN];

        if (!j->is_configured)
            continue;
        if (out->len)
            (void)buf_addf(out, ", ");
        if (!j->schedule) {
            buf_addf(out, "%s unscheduled", j->name);
            continue;
        }
        scheduler_format_time(&d->sched, j->due_ms, when);
        buf_addf(out, "%s next %s (%s)", j->name, when, j->schedule);
    }
    if (!out->len)
        (void)buf_addf(out, "no jobs");
}

static void daemon_describe_running(const struct daemon *d, struct buf *out)
{
    for (size_t i = 0; i < d->child_count; i++)
        buf_addf(out, "%s%s", i ? ", " : "", d->children[i].job);
}

/* ---- the child: `permafrost run JOB` ---- */

static void daemon_child_write_result(int fd, const struct error *e)
{
    char msg[DAEMON_RESULT_MAX];
    size_t n;
    size_t off = 0;

    buf_format_fixed(msg, sizeof(msg), "%s\n%s", e->msg, e->hint);
    n = strlen(msg);
    while (off < n) {
        ssize_t w = write(fd, msg + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}

static void daemon_child_setup(struct daemon *d, const sigset_t *old);

/* Runs in the forked child and never returns. Signals are blocked on entry (old is the mask to
 * restore), so nothing reaches the daemon's handlers between fork() and the reset below. */
static void __attribute__((noreturn))
daemon_child_main(struct daemon *d, const char *job, int result_fd, const sigset_t *old)
{
    char *argv[] = {(char *)(uintptr_t) "run", (char *)(uintptr_t)job, NULL};
    struct cli_ctx ctx = *d->ctx;
    struct error err = ERROR_INIT;
    int code = EXIT_OK;

    daemon_child_setup(d, old);
    /* No progress bars and no report on stdout: the daemon logs the outcome. */
    ctx.is_tty = false;
    ctx.is_quiet = true;
    ctx.is_json = false;
    if (cmd_run(2, argv, &ctx, &err) < 0) {
        if (cancel_requested() && err.kind != ERR_CANCELLED) {
            error_wrap(&err, "cancelled by signal %d", cancel_signal());
            err.kind = ERR_CANCELLED;
        }
        code = exit_code_for(err.kind == ERR_NONE ? ERR_FAILED : err.kind);
        daemon_child_write_result(result_fd, &err);
    }
    close(result_fd);
    (void)fflush(NULL);
    _exit(code);
}

/* The common start of a forked child (a run, or a notice about one): signals are blocked on entry
 * (old is the mask to restore), so nothing reaches the daemon's handlers before the reset. */
static void daemon_child_setup(struct daemon *d, const sigset_t *old)
{
    int fd;

    /* Its own process group: a Ctrl-C on the daemon's terminal reaches the daemon only, which
     * decides when the runs are cancelled; SIGKILL goes to the whole group (pg_dump too). */
    (void)setpgid(0, 0);
    (void)signal(SIGHUP, SIG_DFL);
    (void)signal(SIGCHLD, SIG_DFL);
    cancel_install_handlers();
    cancel_reset();
    close(daemon_sig_pipe[0]);
    close(daemon_sig_pipe[1]);
    for (size_t i = 0; i < d->child_count; i++)
        close(d->children[i].result_fd);
    if (d->metrics)
        close(metrics_server_fd(d->metrics));
    fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        (void)dup2(fd, STDIN_FILENO);
        (void)dup2(fd, STDOUT_FILENO);
        close(fd);
    }
    sigprocmask(SIG_SETMASK, old, NULL);
}

static int daemon_start_job(struct daemon *d, const char *job, struct error *err)
{
    struct daemon_child *c;
    int result_pipe[2];
    sigset_t all;
    sigset_t old;
    pid_t pid;

    if (pipe2(result_pipe, O_CLOEXEC) < 0)
        return error_errno(err, ERR_IO, "job '%s': create a pipe", job);
    if (d->child_count == d->child_alloc) {
        d->child_alloc = d->child_alloc ? d->child_alloc * 2 : 4;
        d->children = xreallocarray(d->children, d->child_alloc, sizeof(*d->children));
    }
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    (void)fflush(NULL);
    pid = fork();
    if (pid == 0)
        daemon_child_main(d, job, result_pipe[1], &old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(result_pipe[1]);
    if (pid < 0) {
        close(result_pipe[0]);
        return error_errno(err, ERR_IO, "job '%s': fork", job);
    }
    (void)fcntl(result_pipe[0], F_SETFL, O_NONBLOCK);
    c = &d->children[d->child_count++];
    memset(c, 0, sizeof(*c));
    c->pid = pid;
    c->job = xstrdup(job);
    c->started_mono_ms = time_mono_ms();
    c->started_at = time(NULL);
    c->result_fd = result_pipe[0];
    log_info("job '%s' started (pid %d)", job, (int)pid);
    return 0;
}

/* ---- a run ended ---- */

/* The child's error message and hint ("" when it succeeded). */
static void daemon_read_result(struct daemon_child *c, char *msg, size_t msg_cap, char *hint,
                               size_t hint_cap)
{
    char raw[DAEMON_RESULT_MAX + 1];
    size_t n = 0;
    char *nl;

    msg[0] = '\0';
    hint[0] = '\0';
    while (n < DAEMON_RESULT_MAX) {
        ssize_t r = read(c->result_fd, raw + n, DAEMON_RESULT_MAX - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    raw[n] = '\0';
    nl = strchr(raw, '\n');
    if (nl) {
        *nl = '\0';
        buf_format_fixed(hint, hint_cap, "%s", nl + 1);
    }
    buf_format_fixed(msg, msg_cap, "%s", raw);
}

/* The catalog's row of this run (its start at or after the fork, give or take a second). */
static bool daemon_catalog_row(const struct daemon *d, const struct daemon_child *c,
                               struct catalog_run *row)
{
    struct catalog *cat = NULL;
    struct error e = ERROR_INIT;
    bool found = false;

    if (catalog_open(d->state_dir, &cat, &e) < 0 ||
        catalog_last_run(cat, c->job, false, row, &found, &e) < 0) {
        log_debug("job '%s': catalog: %s", c->job, e.msg);
        found = false;
    } else if (found && row->started_at + 1 < c->started_at) {
        catalog_run_release(row);
        found = false;
    }
    catalog_close(cat);
    return found;
}

/* A run that died of a signal (the OOM killer, an operator's kill -9) could neither close its
 * catalog row nor send its failure notice. The daemon closes the row as failed, so status and
 * /metrics show the failure, and a forked child sends the notice (retries must not hold the loop).
 */
static void daemon_report_killed(struct daemon *d, const struct daemon_child *c,
                                 const struct catalog_run *row, int sig)
{
    char text[256];
    sigset_t all;
    sigset_t old;
    pid_t pid;

    buf_format_fixed(text, sizeof(text),
                     "the run was killed by signal %d (%s) before it finished; whatever it wrote "
                     "has no manifest and is not a snapshot",
                     sig, strsignal(sig));
    if (row && !row->result) {
        struct catalog *cat = NULL;
        struct error e = ERROR_INIT;
        if (catalog_open(d->state_dir, &cat, &e) < 0 ||
            catalog_run_end(cat, row->id, time(NULL), "failed", text, 0, 0, &e) < 0)
            log_warn("job '%s': cannot record the killed run in the catalog: %s", c->job, e.msg);
        catalog_close(cat);
    }
    if (!d->ctx->cfg->notify_count)
        return;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    (void)fflush(NULL);
    pid = fork();
    if (pid == 0) {
        const struct cfg_job *job = config_find_job(d->ctx->cfg, c->job);
        struct alerts *alerts = NULL;
        struct error e = ERROR_INIT;
        struct notify_message m;
        char host[256];

        daemon_child_setup(d, &old);
        if (gethostname(host, sizeof(host)) < 0)
            buf_format_fixed(host, sizeof(host), "%s", "unknown");
        host[sizeof(host) - 1] = '\0';
        memset(&m, 0, sizeof(m));
        m.event = NOTIFY_EVENT_FAILURE;
        m.job = c->job;
        m.job_kind = job ? config_job_kind_name(job->kind) : NULL;
        m.host = host;
        m.duration_ms = time_mono_ms() - c->started_mono_ms;
        m.time = time(NULL);
        m.error = text;
        m.hint = "was it the kernel's OOM killer? look for 'Killed process' in 'journalctl -k' "
                 "or dmesg; the next run removes the leftovers";
        m.exit_code = 128 + sig;
        if (alerts_open(d->ctx->cfg, &alerts, &e) == 0)
            (void)alerts_send(alerts, &m);
        alerts_close(alerts);
        (void)fflush(NULL);
        _exit(0);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
        log_warn("job '%s': cannot fork to send the failure notice: %s", c->job, strerror(errno));
}

static void daemon_log_finished(struct daemon *d, struct daemon_child *c, int status)
{
    char msg[DAEMON_RESULT_MAX];
    char hint[DAEMON_RESULT_MAX];
    char dur[TIME_ISO_LEN];
    char size[OUTPUT_SIZE_LEN];
    char next[SCHED_TIME_LEN];
    char exit_text[48];
    struct catalog_run row;
    struct buf extra;
    const struct sched_job *j;
    const char *result;
    bool has_row;
    int code = -1;

    memset(&row, 0, sizeof(row));
    buf_init(&extra, BUF_NO_CAP);
    daemon_read_result(c, msg, sizeof(msg), hint, sizeof(hint));
    time_format_duration(time_mono_ms() - c->started_mono_ms, dur);
    if (WIFEXITED(status)) {
        code = WEXITSTATUS(status);
        buf_format_fixed(exit_text, sizeof(exit_text), "exit %d", code);
    } else {
        buf_format_fixed(exit_text, sizeof(exit_text), "killed by signal %d",
                         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    j = scheduler_find(&d->sched, c->job);
    if (j && j->schedule && j->is_configured && !d->is_stopping) {
        scheduler_format_time(&d->sched, j->due_ms, next);
        buf_addf(&extra, "; next %s", next);
    }
    if (code == EXIT_LOCKED) {
        log_warn("job '%s' skipped: %s (%s, after %s)%s", c->job, msg[0] ? msg : "locked",
                 exit_text, dur, extra.data);
        goto out;
    }
    has_row = daemon_catalog_row(d, c, &row);
    /* At shutdown the daemon killed it itself, and says so in the log. */
    if (WIFSIGNALED(status) && !d->is_stopping)
        daemon_report_killed(d, c, has_row ? &row : NULL, WTERMSIG(status));
    result = has_row && row.result    ? row.result
             : code == EXIT_OK        ? "ok"
             : code == EXIT_CANCELLED ? "cancelled"
                                      : "failed";
    if (code == EXIT_OK) {
        struct buf what;
        buf_init(&what, BUF_NO_CAP);
        if (has_row && row.snapshot_id)
            buf_addf(&what, ", snapshot %s", row.snapshot_id);
        if (has_row && row.has_mirror_counts) {
            output_format_size(row.mirror.copied_bytes, size);
            (void)buf_addf(&what, ", %llu copied (%s), %llu deleted",
                           (unsigned long long)row.mirror.copied_objects, size,
                           (unsigned long long)row.mirror.deleted_objects);
        } else if (has_row && row.stored_bytes) {
            output_format_size(row.stored_bytes, size);
            (void)buf_addf(&what, ", %s stored", size);
        }
        log_info("job '%s' finished: %s in %s (%s%s)%s", c->job, result, dur, exit_text, what.data,
                 extra.data);
        buf_release(&what);
    } else {
        const char *why = msg[0] ? msg : has_row && row.error ? row.error : "no error message";
        /* A cancel is what a stop asked for; anything else needs a look. */
        log_write(code == EXIT_CANCELLED ? LOG_WARN : LOG_ERROR, __FILE__,
                  "job '%s' finished: %s after %s (%s): %s%s%s%s", c->job, result, dur, exit_text,
                  why, hint[0] ? "; hint: " : "", hint, extra.data);
    }
out:
    catalog_run_release(&row);
    buf_release(&extra);
}

static void daemon_reap(struct daemon *d)
{
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        size_t i;

        if (pid <= 0)
            return;
        for (i = 0; i < d->child_count && d->children[i].pid != pid; i++)
            ;
        if (i == d->child_count)
            continue; /* an orphan reparented to us (the daemon as PID 1 in a container) */
        {
            struct daemon_child c = d->children[i];
            d->children[i] = d->children[--d->child_count];
            scheduler_finished(&d->sched, c.job);
            daemon_log_finished(d, &c, status);
            close(c.result_fd);
            xfree(c.job);
        }
    }
}

/* ---- metrics ---- */

/* Listens on the configured metrics_listen (when it differs from the current one): the new socket
 * first, so a failure keeps the old one serving. */
static int daemon_metrics_listen(struct daemon *d, struct error *err)
{
    const char *listen = d->ctx->cfg->global.metrics_listen;
    struct metrics_server *next = NULL;

    if (listen && d->metrics_listen && strcmp(listen, d->metrics_listen) == 0)
        return 0;
    if (!listen && !d->metrics)
        return 0;
    if (listen) {
        /* The same port on another host address would collide with the old socket. */
        metrics_server_stop(d->metrics);
        d->metrics = NULL;
        if (metrics_server_start(listen, &next, err) < 0) {
            xfree(d->metrics_listen);
            d->metrics_listen = NULL;
            return error_wrap(err, "metrics_listen");
        }
    } else {
        metrics_server_stop(d->metrics);
        log_info("metrics: no longer served (metrics_listen = off)");
    }
    d->metrics = next;
    xfree(d->metrics_listen);
    d->metrics_listen = listen ? xstrdup(listen) : NULL;
    return 0;
}

static void daemon_metrics_serve(struct daemon *d)
{
    const char **running = xcalloc(d->child_count + 1, sizeof(*running));
    struct metrics_source src;

    for (size_t i = 0; i < d->child_count; i++)
        running[i] = d->children[i].job;
    memset(&src, 0, sizeof(src));
    src.cfg = d->ctx->cfg;
    src.state_dir = d->state_dir;
    /* The catalog's times are the real clock's, whatever PERMAFROST_TEST_CLOCK says. */
    src.now = time(NULL);
    src.daemon_started_at = d->started_at;
    src.running_jobs = running;
    src.running_count = d->child_count;
    src.config_reloads = d->reloads;
    src.config_reload_failures = d->reload_failures;
    metrics_server_handle(d->metrics, &src);
    xfree(running);
}

/* ---- start-up, reload, shutdown ---- */

static void daemon_check_missed(struct daemon *d, int64_t now_ms)
{
    struct catalog *cat = NULL;
    struct error e = ERROR_INIT;

    if (catalog_open(d->state_dir, &cat, &e) < 0) {
        log_warn("cannot read the catalog to look for missed runs: %s", e.msg);
        return;
    }
    for (size_t i = 0; i < d->sched.job_count; i++) {
        struct sched_job *j = &d->sched.jobs[i];
        time_t last = 0;
        bool found = false;
        enum sched_missed m = SCHED_MISSED_NONE;
        time_t slot = 0;
        char when[SCHED_TIME_LEN];
        char next[SCHED_TIME_LEN];

        if (!j->schedule)
            continue;
        if (catalog_last_run_started(cat, j->name, &last, &found, &e) < 0) {
            log_warn("job '%s': cannot read its last run: %s", j->name, e.msg);
            continue;
        }
        if (scheduler_check_missed(&d->sched, j, found, last, now_ms, &m, &slot, &e) < 0)
            log_warn("job '%s': %s", j->name, e.msg);
        if (m == SCHED_MISSED_NONE)
            continue;
        scheduler_format_time(&d->sched, (int64_t)slot * 1000, when);
        scheduler_format_time(&d->sched, j->due_ms, next);
        if (m == SCHED_MISSED_CAUGHT_UP)
            log_info("job '%s': missed %s while down; catching up now (catch_up = yes)", j->name,
                     when);
        else
            log_info("job '%s': missed %s while down; next %s", j->name, when, next);
    }
    catalog_close(cat);
}

static void daemon_reload(struct daemon *d)
{
    struct config next;
    struct error e = ERROR_INIT;
    char *state_dir = NULL;
    struct buf jobs;

    memset(&next, 0, sizeof(next));
    buf_init(&jobs, BUF_NO_CAP);
    if (d->is_stopping) {
        log_info("reload ignored: shutting down");
        goto out;
    }
    if (config_load(d->ctx->config_path, &next, &e) < 0 || alerts_check_config(&next, &e) < 0 ||
        state_dir_resolve(d->ctx->state_dir_flag, &next, &state_dir, &e) < 0 ||
        scheduler_configure(&d->sched, &next, daemon_now_ms(d), &e) < 0) {
        d->reload_failures++;
        log_error("reload failed: %s%s%s; keeping the previous configuration", e.msg,
                  e.hint[0] ? "; hint: " : "", e.hint);
        goto out;
    }
    /* The children forked so far have their own copy; new runs use the new file. */
    config_release(d->ctx->cfg);
    *d->ctx->cfg = next;
    memset(&next, 0, sizeof(next));
    xfree(d->state_dir);
    d->state_dir = state_dir;
    state_dir = NULL;
    d->reloads++;
    daemon_describe_jobs(d, &jobs);
    log_info("reloaded '%s': %s", d->ctx->config_path, jobs.data);
    if (daemon_metrics_listen(d, &e) < 0)
        log_error("%s; /metrics and /healthz are not served", e.msg);
out:
    config_release(&next);
    xfree(state_dir);
    buf_release(&jobs);
}

static void daemon_begin_stop(struct daemon *d, int sig)
{
    struct buf names;
    char limit[TIME_ISO_LEN];

    buf_init(&names, BUF_NO_CAP);
    d->is_stopping = true;
    scheduler_clear_queue(&d->sched);
    d->stop_deadline_mono_ms = time_mono_ms() + d->ctx->cfg->global.shutdown_timeout_ms;
    if (d->child_count) {
        daemon_describe_running(d, &names);
        time_format_duration(d->ctx->cfg->global.shutdown_timeout_ms, limit);
        log_info("shutdown begun (signal %d): waiting up to %s for %zu running job%s (%s)", sig,
                 limit, d->child_count, d->child_count == 1 ? "" : "s", names.data);
    } else {
        log_info("shutdown begun (signal %d): no job running", sig);
    }
    buf_release(&names);
}

static void daemon_cancel_children(struct daemon *d, const char *why)
{
    struct buf names;

    if (d->kill_deadline_mono_ms || !d->child_count)
        return;
    buf_init(&names, BUF_NO_CAP);
    daemon_describe_running(d, &names);
    log_warn("shutdown: cancelling %zu job%s (%s): %s", d->child_count,
             d->child_count == 1 ? "" : "s", names.data, why);
    for (size_t i = 0; i < d->child_count; i++) {
        kill(d->children[i].pid, SIGTERM);
        d->children[i].is_term_sent = true;
    }
    d->kill_deadline_mono_ms = time_mono_ms() + DAEMON_KILL_GRACE_MS;
    buf_release(&names);
}

static void daemon_kill_children(struct daemon *d)
{
    for (size_t i = 0; i < d->child_count; i++) {
        struct daemon_child *c = &d->children[i];
        if (c->is_killed)
            continue;
        log_error("shutdown: job '%s' (pid %d) still runs %d s after SIGTERM; killing it and its "
                  "processes (SIGKILL)",
                  c->job, (int)c->pid, DAEMON_KILL_GRACE_MS / 1000);
        kill(-c->pid, SIGKILL);
        kill(c->pid, SIGKILL);
        c->is_killed = true;
    }
}

static void daemon_on_signals(struct daemon *d)
{
    unsigned char sigs[64];
    ssize_t n;

    while ((n = read(daemon_sig_pipe[0], sigs, sizeof(sigs))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            switch (sigs[i]) {
            case SIGCHLD:
                daemon_reap(d);
                break;
            case SIGHUP:
                daemon_reload(d);
                break;
            case SIGINT:
            case SIGTERM:
                if (!d->is_stopping)
                    daemon_begin_stop(d, sigs[i]);
                else
                    daemon_cancel_children(d, "second stop signal");
                break;
            default:
                break;
            }
        }
    }
}

/* ---- the loop ---- */

static int daemon_loop(struct daemon *d, struct error *err)
{
    for (;;) {
        int64_t now;
        int64_t wait_ms;
        struct pollfd pfd[2];
        nfds_t nfds = 1;
        struct sched_job *j;
        struct error e = ERROR_INIT;

        /* A signal that interrupted poll() (EINTR: revents unset) or came during start-up is
         * handled before any due job starts: a SIGTERM must not be followed by a new run. */
        daemon_on_signals(d);
        now = daemon_now_ms(d);
        if (!d->is_stopping) {
            scheduler_advance(&d->sched, now, &e);
            if (e.msg[0])
                log_error("%s", e.msg);
            while ((j = scheduler_take(&d->sched)) != NULL) {
                char *name = xstrdup(j->name);
                if (daemon_start_job(d, name, &e) < 0) {
                    log_error("%s", e.msg);
                    scheduler_finished(&d->sched, name);
                }
                xfree(name);
            }
            wait_ms = daemon_wait_ms(d, scheduler_next_due_ms(&d->sched), now);
        } else {
            int64_t mono = time_mono_ms();
            if (!d->child_count)
                break;
            if (!d->kill_deadline_mono_ms && mono >= d->stop_deadline_mono_ms)
                daemon_cancel_children(d, "shutdown_timeout passed");
            if (d->kill_deadline_mono_ms && mono >= d->kill_deadline_mono_ms)
                daemon_kill_children(d);
            wait_ms = d->kill_deadline_mono_ms ? d->kill_deadline_mono_ms - mono
                                               : d->stop_deadline_mono_ms - mono;
            if (wait_ms < 0)
                wait_ms = 1000; /* killed: waiting for SIGCHLD */
        }
        if (wait_ms > DAEMON_MAX_WAIT_MS)
            wait_ms = DAEMON_MAX_WAIT_MS;
        memset(pfd, 0, sizeof(pfd));
        pfd[0].fd = daemon_sig_pipe[0];
        pfd[0].events = POLLIN;
        if (d->metrics) {
            pfd[1].fd = metrics_server_fd(d->metrics);
            pfd[1].events = POLLIN;
            nfds = 2;
        }
        if (poll(pfd, nfds, (int)wait_ms) < 0 && errno != EINTR)
            return error_errno(err, ERR_IO, "poll");
        if (nfds == 2 && d->metrics && (pfd[1].revents & POLLIN))
            daemon_metrics_serve(d);
    }
    return 0;
}

/* --check: the next times of every scheduled job, on stdout. */
static void daemon_print_check(struct daemon *d, int64_t now_ms)
{
    printf("timezone %s, max_concurrent_jobs %d\n",
           d->ctx->cfg->global.timezone ? d->ctx->cfg->global.timezone : "(the machine's)",
           d->sched.max_concurrent);
    for (size_t i = 0; i < d->sched.job_count; i++) {
        const struct sched_job *j = &d->sched.jobs[i];
        time_t times[DAEMON_CHECK_TIMES];
        struct error e = ERROR_INIT;

        if (!j->schedule) {
            printf("%-16s unscheduled (runs only with 'permafrost run %s')\n", j->name, j->name);
            continue;
        }
        printf("%-16s %s", j->name, j->schedule);
        if (j->jitter_ms)
            printf(" (jitter up to %d s)", j->jitter_ms / 1000);
        if (scheduler_upcoming(&d->sched, j, (time_t)(now_ms / 1000), times, DAEMON_CHECK_TIMES,
                               &e) < 0) {
            printf(": %s\n", e.msg);
            continue;
        }
        printf("\n");
        for (size_t k = 0; k < DAEMON_CHECK_TIMES; k++) {
            char when[SCHED_TIME_LEN];
            scheduler_format_time(&d->sched, (int64_t)times[k] * 1000, when);
            printf("  %s\n", when);
        }
    }
}

int cmd_daemon(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    static const struct option opts[] = {
        {"check", no_argument, NULL, 'k'},
        {"log-format", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct daemon d;
    const char *clock_env = getenv("PERMAFROST_TEST_CLOCK");
    bool is_check = false;
    struct buf jobs;
    int rc = -1;
    int c;

    memset(&d, 0, sizeof(d));
    d.ctx = ctx;
    buf_init(&jobs, BUF_NO_CAP);
    scheduler_init(&d.sched, daemon_random, NULL);
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            is_check = true;
            break;
        case 'L':
            if (strcmp(optarg, "json") == 0) {
                log_setup(log_max_level(), LOG_FORMAT_JSON);
            } else if (strcmp(optarg, "text") == 0) {
                log_setup(log_max_level(), LOG_FORMAT_TEXT);
            } else {
                error_set(err, ERR_USAGE, "unknown log format '%s' (known: text, json)", optarg);
                goto out;
            }
            break;
        case 'h':
            (void)fputs(daemon_usage, stdout);
            rc = 0;
            goto out;
        default:
            error_set(err, ERR_USAGE, "invalid arguments to 'daemon'");
            error_hint(err, "permafrost daemon --help");
            goto out;
        }
    }
    if (optind < argc) {
        error_set(err, ERR_USAGE, "unexpected argument '%s' to 'daemon'", argv[optind]);
        error_hint(err,
                   "the daemon runs every job with a schedule; see 'permafrost daemon --help'");
        goto out;
    }
    if (clock_env && *clock_env && daemon_parse_test_clock(&d, clock_env, err) < 0)
        goto out;
    /* Every run would stop at a broken notification URL: refuse it before the first. */
    if (alerts_check_config(ctx->cfg, err) < 0)
        goto out;
    if (scheduler_configure(&d.sched, ctx->cfg, daemon_now_ms(&d), err) < 0)
        goto out;
    if (is_check) {
        daemon_print_check(&d, daemon_now_ms(&d));
        rc = 0;
        goto out;
    }
    if (state_dir_resolve(ctx->state_dir_flag, ctx->cfg, &d.state_dir, err) < 0)
        goto out;
    if (daemon_install_signals(err) < 0)
        goto out;
    d.started_at = time(NULL);
    if (d.has_test_clock) {
        char start[TIME_ISO_LEN];
        time_format_iso((time_t)(d.clock_base_ms / 1000), start);
        log_warn("PERMAFROST_TEST_CLOCK: the daemon's clock starts at %s and runs %" PRId64
                 "x fast (a test hook)",
                 start, d.clock_speed);
    }
    daemon_describe_jobs(&d, &jobs);
    log_info("daemon started: permafrost %s, config '%s', state '%s', timezone %s, "
             "max_concurrent_jobs %d; %s",
             PERMAFROST_VERSION, ctx->config_path, d.state_dir,
             ctx->cfg->global.timezone ? ctx->cfg->global.timezone : "local",
             d.sched.max_concurrent, jobs.data);
    if (scheduler_next_due_ms(&d.sched) == INT64_MAX)
        log_warn("no job has a schedule: the daemon will only serve metrics until a reload adds "
                 "one (see 'schedule' in docs/configuration.md)");
    if (daemon_metrics_listen(&d, err) < 0)
        goto out;
    daemon_check_missed(&d, daemon_now_ms(&d));
    if (daemon_loop(&d, err) < 0)
        goto out;
    log_info("daemon exiting");
    rc = 0;
out:
    for (size_t i = 0; i < d.child_count; i++) {
        close(d.children[i].result_fd);
        xfree(d.children[i].job);
    }
    xfree(d.children);
    xfree(d.state_dir);
    metrics_server_stop(d.metrics);
    xfree(d.metrics_listen);
    scheduler_release(&d.sched);
    buf_release(&jobs);
    return rc;
}
