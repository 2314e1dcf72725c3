#include "core/metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <unistd.h>

#include "core/status.h"
#include "net/http_serve.h"
#include "net/tcp_listen.h"
#include "permafrost_version.h"
#include "util/log.h"
#include "util/xalloc.h"

/* A slow or silent client holds the daemon's loop at most this long, per connection served in
 * one call. */
#define METRICS_CLIENT_DEADLINE_MS   1000
#define METRICS_CONNECTIONS_PER_CALL 4

struct metrics_server {
    struct tcp_listener *listener;
    int spare_fd; /* given up to drop a connection when out of descriptors */
};

/* Label values escape backslash, double quote and newline; HELP text backslash and newline. */
static void metrics_escape(struct buf *out, const char *s, bool is_label)
{
    for (; *s; s++) {
        if (*s == '\\')
            (void)buf_adds(out, "\\\\");
        else if (*s == '\n')
            (void)buf_adds(out, "\\n");
        else if (*s == '"' && is_label)
            (void)buf_adds(out, "\\\"");
        else
            (void)buf_add(out, s, 1);
    }
}

static void metrics_family(struct buf *out, const char *name, const char *type, const char *help)
{
    (void)buf_addf(out, "# HELP %s ", name);
    metrics_escape(out, help, false);
    (void)buf_addf(out, "\n# TYPE %s %s\n", name, type);
}

/* name{k1="v1",k2="v2"} (labels with a NULL key are left out) */
static void metrics_series(struct buf *out, const char *name, const char *k1, const char *v1,
                           const char *k2, const char *v2)
{
    (void)buf_adds(out, name);
    if (!k1)
        return;
    (void)buf_addf(out, "{%s=\"", k1);
    metrics_escape(out, v1, true);
    (void)buf_adds(out, "\"");
    if (k2) {
        (void)buf_addf(out, ",%s=\"", k2);
        metrics_escape(out, v2, true);
        (void)buf_adds(out, "\"");
    }
    (void)buf_adds(out, "}");
}

static void metrics_u64(struct buf *out, const char *name, const char *k1, const char *v1,
                        const char *k2, const char *v2, uint64_t value)
{
    metrics_series(out, name, k1, v1, k2, v2);
    (void)buf_addf(out, " %" PRIu64 "\n", value);
}

static void metrics_i64(struct buf *out, const char *name, const char *k1, const char *v1,
                        const char *k2, const char *v2, int64_t value)
{
    metrics_series(out, name, k1, v1, k2, v2);
    (void)buf_addf(out, " %" PRId64 "\n", value);
}

static void metrics_ms(struct buf *out, const char *name, const char *k1, const char *v1,
                       int64_t ms)
{
    metrics_series(out, name, k1, v1, NULL, NULL);
    (void)buf_addf(out, " %" PRId64 ".%03" PRId64 "\n", ms / 1000, ms % 1000);
}

static bool metrics_is_finished(const struct status_job *sj)
{
    return sj->has_last_run && sj->last_run.result != NULL;
}

static void metrics_render_jobs(const struct status_report *r, struct buf *out)
{
    metrics_family(out, "permafrost_job_info", "gauge",
                   "Configured job (always 1), with its kind and schedule (\"\" when none).");
    for (size_t i = 0; i < r->job_count; i++) {
        const struct status_job *sj = &r->jobs[i];
        (void)buf_adds(out, "permafrost_job_info{job=\"");
        metrics_escape(out, sj->job->name, true);
        (void)buf_adds(out, "\",kind=\"");
        metrics_escape(out, sj->kind, true);
        (void)buf_adds(out, "\",schedule=\"");
        metrics_escape(out, sj->job->schedule ? sj->job->schedule : "", true);
        (void)buf_adds(out, "\"} 1\n");
    }
    metrics_family(out, "permafrost_job_last_run_timestamp_seconds", "gauge",
                   "Start time of the job's most recent run (finished or not).");
    for (size_t i = 0; i < r->job_count; i++)
        if (r->jobs[i].has_last_run)
            metrics_i64(out, "permafrost_job_last_run_timestamp_seconds", "job",
                        r->jobs[i].job->name, NULL, NULL, (int64_t)r->jobs[i].last_run.started_at);
    metrics_family(out, "permafrost_job_last_run_success", "gauge",
                   "1 when the job's most recent finished run succeeded, else 0.");
    for (size_t i = 0; i < r->job_count; i++)
        if (metrics_is_finished(&r->jobs[i]))
            metrics_u64(out, "permafrost_job_last_run_success", "job", r->jobs[i].job->name, NULL,
                        NULL, strcmp(r->jobs[i].last_run.result, "ok") == 0 ? 1 : 0);
    metrics_family(out, "permafrost_job_last_run_duration_seconds", "gauge",
                   "Duration of the job's most recent finished run.");
    for (size_t i = 0; i < r->job_count; i++)
        if (metrics_is_finished(&r->jobs[i]) && r->jobs[i].last_run.duration_ms >= 0)
            metrics_ms(out, "permafrost_job_last_run_duration_seconds", "job", r->jobs[i].job->name,
                       r->jobs[i].last_run.duration_ms);
    metrics_family(out, "permafrost_job_last_run_stored_bytes", "gauge",
                   "Bytes stored by the job's most recent finished run (per target; for a mirror, "
                   "bytes copied).");
    for (size_t i = 0; i < r->job_count; i++)
        if (metrics_is_finished(&r->jobs[i]))
            metrics_u64(out, "permafrost_job_last_run_stored_bytes", "job", r->jobs[i].job->name,
                        NULL, NULL, r->jobs[i].last_run.stored_bytes);
    metrics_family(out, "permafrost_job_last_success_timestamp_seconds", "gauge",
                   "End time of the job's most recent successful run.");
    for (size_t i = 0; i < r->job_count; i++) {
        const struct status_job *sj = &r->jobs[i];
        if (sj->has_last_success)
            metrics_i64(out, "permafrost_job_last_success_timestamp_seconds", "job", sj->job->name,
                        NULL, NULL,
                        (int64_t)(sj->last_success.ended_at ? sj->last_success.ended_at
                                                            : sj->last_success.started_at));
    }
    metrics_family(out, "permafrost_job_runs_total", "counter",
                   "Finished runs of the job recorded in the catalog, by result (ok, failed, "
                   "partial, cancelled).");
    for (size_t i = 0; i < r->run_count_count; i++) {
        const struct catalog_run_count *rc = &r->run_counts[i];
        for (size_t j = 0; j < r->job_count; j++)
            if (strcmp(r->jobs[j].job->name, rc->job) == 0)
                metrics_u64(out, "permafrost_job_runs_total", "job", rc->job, "result", rc->result,
                            rc->count);
    }
    metrics_family(out, "permafrost_job_errors_total", "counter",
                   "Runs of the job that failed or were partial.");
    for (size_t j = 0; j < r->job_count; j++) {
        uint64_t errors = 0;
        for (size_t i = 0; i < r->run_count_count; i++)
            if (strcmp(r->jobs[j].job->name, r->run_counts[i].job) == 0 &&
                (strcmp(r->run_counts[i].result, "failed") == 0 ||
                 strcmp(r->run_counts[i].result, "partial") == 0))
                errors += r->run_counts[i].count;
        metrics_u64(out, "permafrost_job_errors_total", "job", r->jobs[j].job->name, NULL, NULL,
                    errors);
    }
    metrics_family(out, "permafrost_job_stale", "gauge",
                   "1 when the job's last success is older than its stale_after (or it never "
                   "succeeded in that long), else 0.");
    for (size_t i = 0; i < r->job_count; i++)
        metrics_u64(out, "permafrost_job_stale", "job", r->jobs[i].job->name, NULL, NULL,
                    r->jobs[i].is_stale ? 1 : 0);
    metrics_family(out, "permafrost_job_stale_after_seconds", "gauge",
                   "The stale_after in effect (configured, or derived from the schedule).");
    for (size_t i = 0; i < r->job_count; i++)
        if (r->jobs[i].stale_after_ms > 0)
            metrics_ms(out, "permafrost_job_stale_after_seconds", "job", r->jobs[i].job->name,
                       r->jobs[i].stale_after_ms);
    metrics_family(out, "permafrost_job_next_run_timestamp_seconds", "gauge",
                   "When the job's schedule runs it next.");
    for (size_t i = 0; i < r->job_count; i++)
        if (r->jobs[i].has_next_run)
            metrics_i64(out, "permafrost_job_next_run_timestamp_seconds", "job",
                        r->jobs[i].job->name, NULL, NULL, (int64_t)r->jobs[i].next_run);
    metrics_family(out, "permafrost_job_last_verification_timestamp_seconds", "gauge",
                   "When the snapshot of the job's last success was last verified.");
    for (size_t i = 0; i < r->job_count; i++)
        if (r->jobs[i].has_verification)
            metrics_i64(out, "permafrost_job_last_verification_timestamp_seconds", "job",
                        r->jobs[i].job->name, NULL, NULL, (int64_t)r->jobs[i].verification.time);
    metrics_family(out, "permafrost_job_last_verification_success", "gauge",
                   "1 when that verification passed, else 0.");
    for (size_t i = 0; i < r->job_count; i++)
        if (r->jobs[i].has_verification)
            metrics_u64(out, "permafrost_job_last_verification_success", "job",
                        r->jobs[i].job->name, NULL, NULL,
                        strcmp(r->jobs[i].verification.result, "ok") == 0 ? 1 : 0);
}

struct metrics_mirror_field {
    const char *name;
    const char *help;
    size_t offset; /* in struct catalog_mirror_counts */
};

static const struct metrics_mirror_field metrics_mirror_fields[] = {
    {"copied_objects", "objects copied (new or changed)",
     offsetof(struct catalog_mirror_counts, copied_objects)},
    {"copied_bytes", "bytes copied", offsetof(struct catalog_mirror_counts, copied_bytes)},
    {"deleted_objects", "objects deleted (or moved to the trash)",
     offsetof(struct catalog_mirror_counts, deleted_objects)},
    {"deleted_bytes", "bytes deleted (or moved to the trash)",
     offsetof(struct catalog_mirror_counts, deleted_bytes)},
};

static uint64_t metrics_mirror_value(const struct catalog_mirror_counts *m, size_t offset)
{
    uint64_t v;
    memcpy(&v, (const char *)m + offset, sizeof(v));
    return v;
}

static void metrics_render_mirror(const struct status_report *r, struct buf *out)
{
    for (size_t f = 0; f < sizeof(metrics_mirror_fields) / sizeof(metrics_mirror_fields[0]); f++) {
        const struct metrics_mirror_field *mf = &metrics_mirror_fields[f];
        char name[96];
        char help[160];

        snprintf(name, sizeof(name), "permafrost_mirror_last_run_%s", mf->name);
        snprintf(help, sizeof(help), "Mirror jobs: %s by the most recent finished run.", mf->help);
        metrics_family(out, name, "gauge", help);
        for (size_t i = 0; i < r->job_count; i++) {
            const struct status_job *sj = &r->jobs[i];
            if (metrics_is_finished(sj) && sj->last_run.has_mirror_counts)
                metrics_u64(out, name, "job", sj->job->name, NULL, NULL,
                            metrics_mirror_value(&sj->last_run.mirror, mf->offset));
        }
        snprintf(name, sizeof(name), "permafrost_mirror_%s_total", mf->name);
        snprintf(help, sizeof(help), "Mirror jobs: %s by every recorded run.", mf->help);
        metrics_family(out, name, "counter", help);
        for (size_t i = 0; i < r->job_count; i++)
            if (r->jobs[i].job->kind == JOB_KIND_MIRROR)
                metrics_u64(out, name, "job", r->jobs[i].job->name, NULL, NULL,
                            metrics_mirror_value(&r->jobs[i].mirror_totals, mf->offset));
    }
}

static void metrics_render_snapshots(const struct status_report *r, struct buf *out)
{
    metrics_family(out, "permafrost_snapshots", "gauge",
                   "Complete snapshots of the job on the store, as the catalog knows them.");
    for (size_t i = 0; i < r->usage_count; i++)
        metrics_u64(out, "permafrost_snapshots", "job", r->usage[i].job, "store", r->usage[i].store,
                    r->usage[i].snapshot_count);
    metrics_family(out, "permafrost_snapshot_bytes", "gauge",
                   "Bytes stored by the job's snapshots on the store.");
    for (size_t i = 0; i < r->usage_count; i++)
        metrics_u64(out, "permafrost_snapshot_bytes", "job", r->usage[i].job, "store",
                    r->usage[i].store, r->usage[i].stored_bytes);
    metrics_family(out, "permafrost_snapshot_newest_timestamp_seconds", "gauge",
                   "Time of the job's newest snapshot on the store.");
    for (size_t i = 0; i < r->usage_count; i++)
        metrics_i64(out, "permafrost_snapshot_newest_timestamp_seconds", "job", r->usage[i].job,
                    "store", r->usage[i].store, (int64_t)r->usage[i].newest);
}

static void metrics_render_daemon(const struct metrics_source *src, struct buf *out)
{
    metrics_family(out, "permafrost_daemon_start_time_seconds", "gauge",
                   "When the daemon started.");
    metrics_i64(out, "permafrost_daemon_start_time_seconds", NULL, NULL, NULL, NULL,
                (int64_t)src->daemon_started_at);
    metrics_family(out, "permafrost_daemon_running_jobs", "gauge", "Jobs running now.");
    metrics_u64(out, "permafrost_daemon_running_jobs", NULL, NULL, NULL, NULL,
                (uint64_t)src->running_count);
    metrics_family(out, "permafrost_job_running", "gauge", "1 while the job runs, else 0.");
    for (size_t i = 0; i < src->cfg->job_count; i++) {
        bool is_running = false;
        for (size_t j = 0; j < src->running_count; j++)
            if (src->running_jobs[j] && strcmp(src->running_jobs[j], src->cfg->jobs[i].name) == 0)
                is_running = true;
        metrics_u64(out, "permafrost_job_running", "job", src->cfg->jobs[i].name, NULL, NULL,
                    is_running ? 1 : 0);
    }
    metrics_family(out, "permafrost_daemon_config_reloads_total", "counter",
                   "Configuration reloads (SIGHUP) by result; a failed one kept the old "
                   "configuration.");
    metrics_u64(out, "permafrost_daemon_config_reloads_total", "result", "ok", NULL, NULL,
                src->config_reloads);
    metrics_u64(out, "permafrost_daemon_config_reloads_total", "result", "failed", NULL, NULL,
                src->config_reload_failures);
}

int metrics_render(const struct metrics_source *src, struct buf *out, struct error *err)
{
    struct status_report r;
    struct buf text;
    int rc = -1;

    buf_init(&text, BUF_NO_CAP);
    memset(&r, 0, sizeof(r));
    if (status_collect(src->cfg, src->state_dir, src->now, &r, err) < 0)
        goto out;
    metrics_render_jobs(&r, &text);
    metrics_render_mirror(&r, &text);
    metrics_render_snapshots(&r, &text);
    if (src->daemon_started_at)
        metrics_render_daemon(src, &text);
    metrics_family(&text, "permafrost_build_info", "gauge", "The permafrost version (always 1).");
    metrics_u64(&text, "permafrost_build_info", "version", PERMAFROST_VERSION, NULL, NULL, 1);
    if (!buf_add(out, text.data, text.len)) {
        error_set(err, ERR_IO, "metrics: the exposition exceeds its buffer");
        goto out;
    }
    rc = 0;
out:
    status_report_release(&r);
    buf_release(&text);
    return rc;
}

struct metrics_request {
    const struct metrics_source *src;
};

static void metrics_handle_request(const struct http_serve_head *req,
                                   struct http_serve_response *res, void *ctx)
{
    const struct metrics_request *mr = ctx;
    bool is_metrics = strcmp(req->path, "/metrics") == 0;
    bool is_healthz = strcmp(req->path, "/healthz") == 0;

    res->content_type = "text/plain; charset=utf-8";
    if (!is_metrics && !is_healthz) {
        res->status = 404;
        (void)buf_adds(&res->body, "not found: try /metrics or /healthz\n");
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        res->status = 405;
        (void)buf_adds(&res->body, "method not allowed: GET or HEAD\n");
        return;
    }
    if (is_healthz) {
        res->status = 200;
        (void)buf_adds(&res->body, "ok\n");
        return;
    }
    {
        struct error err = ERROR_INIT;
        if (metrics_render(mr->src, &res->body, &err) < 0) {
            /* The scrape fails visibly (Prometheus records up = 0) and the daemon says why. */
            log_warn("%s", err.msg);
            buf_reset(&res->body);
            res->status = 500;
            (void)buf_addf(&res->body, "%s\n", err.msg);
            return;
        }
    }
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

int metrics_server_start(const char *listen, struct metrics_server **out, struct error *err)
{
    struct tcp_listener *l = NULL;
    struct metrics_server *s;

    *out = NULL;
    if (tcp_listen_open(listen, &l, err) < 0) {
        if (strstr(err->msg, "address in use"))
            error_hint(err, "is another permafrost daemon running? set metrics_listen to another "
                            "port, or to off");
        return error_wrap(err, "metrics_listen");
    }
    s = xcalloc(1, sizeof(*s));
    s->listener = l;
    s->spare_fd = http_serve_spare_open();
    log_info("serving /metrics and /healthz on http://%s", tcp_listen_address(l));
    *out = s;
    return 0;
}

int metrics_server_fd(const struct metrics_server *s)
{
    return tcp_listen_fd(s->listener);
}

int metrics_server_port(const struct metrics_server *s)
{
    return tcp_listen_port(s->listener);
}

void metrics_server_handle(struct metrics_server *s, const struct metrics_source *src)
{
    struct metrics_request mr = {.src = src};

    (void)http_serve_pending(tcp_listen_fd(s->listener), METRICS_CLIENT_DEADLINE_MS,
                             METRICS_CONNECTIONS_PER_CALL, &s->spare_fd, metrics_handle_request,
                             &mr);
}

void metrics_server_stop(struct metrics_server *s)
{
    if (!s)
        return;
    tcp_listen_close(s->listener);
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    xfree(s);
}
