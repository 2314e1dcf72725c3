/* permafrost status [--json | --metrics] */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <getopt.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/metrics.h"
#include "core/state.h"
#include "core/status.h"
#include "util/buf.h"
#include "util/json_writer.h"
#include "util/time.h"
#include "util/xalloc.h"

static const char status_usage[] =
    "usage: permafrost status [--json | --metrics]\n"
    "\n"
    "Shows each job's last run (start time, result, duration, stored size), its next\n"
    "scheduled run and whether it is stale: its last success is older than its\n"
    "stale_after (by default one and a half times the longest gap of its schedule),\n"
    "or it never succeeded since it was configured that long ago. Then each store's\n"
    "snapshot count, size and newest snapshot. Times are UTC. Read from the catalog\n"
    "only (no store is contacted); 'permafrost catalog rebuild' refreshes it.\n"
    "\n"
    "  --json      one JSON object on stdout\n"
    "  --metrics   the Prometheus text exposition (format 0.0.4), as the daemon serves\n"
    "              it at /metrics, e.g. for node_exporter's textfile collector\n"
    "\n"
    "exit status: 0 when every job is fine; 1 when a job is stale or its last run\n"
    "failed (or was partial), so 'permafrost status' works as a monitoring check.\n"
    "--metrics exits 0 either way (the metrics carry it).\n"
    "\n"
    "examples:\n"
    "  permafrost status\n"
    "  permafrost status --json | jq '.jobs[] | select(.stale)'\n"
    "  permafrost status --metrics > /var/lib/node_exporter/permafrost.prom.$$ &&\n"
    "    mv /var/lib/node_exporter/permafrost.prom.$$ /var/lib/node_exporter/permafrost.prom\n";

static void status_format_time(time_t t, char out[TIME_ISO_LEN])
{
    struct tm tm;

    snprintf(out, TIME_ISO_LEN, "-");
    if (t && gmtime_r(&t, &tm))
        (void)strftime(out, TIME_ISO_LEN, "%Y-%m-%d %H:%M", &tm);
}

static void status_json_time(struct json_writer *w, const char *key, time_t t)
{
    char iso[TIME_ISO_LEN];

    json_key(w, key);
    if (!t) {
        json_null(w);
        return;
    }
    time_format_iso(t, iso);
    json_string(w, iso);
}

static void status_json_run(struct json_writer *w, const char *key, bool has,
                            const struct catalog_run *r)
{
    json_key(w, key);
    if (!has) {
        json_null(w);
        return;
    }
    json_begin_object(w);
    status_json_time(w, "started_at", r->started_at);
    status_json_time(w, "ended_at", r->ended_at);
    json_key_string(w, "result", r->result);
    json_key(w, "duration_ms");
    if (r->duration_ms >= 0)
        json_int(w, r->duration_ms);
    else
        json_null(w);
    json_key_uint(w, "stored_bytes", r->stored_bytes);
    json_key_string(w, "snapshot_id", r->snapshot_id);
    json_key_string(w, "error", r->error);
    if (r->has_mirror_counts) {
        json_key(w, "mirror");
        json_begin_object(w);
        json_key_uint(w, "copied_objects", r->mirror.copied_objects);
        json_key_uint(w, "copied_bytes", r->mirror.copied_bytes);
        json_key_uint(w, "deleted_objects", r->mirror.deleted_objects);
        json_key_uint(w, "deleted_bytes", r->mirror.deleted_bytes);
        json_end_object(w);
    }
    json_end_object(w);
}

static void status_print_json(const struct status_report *r, struct buf *out)
{
    struct json_writer w;

    json_writer_init(&w, out);
    w.indent = 2;
    json_begin_object(&w);
    status_json_time(&w, "time", r->now);
    json_key_bool(&w, "ok", r->stale_count == 0 && r->failed_count == 0);
    json_key_uint(&w, "stale_jobs", r->stale_count);
    json_key_uint(&w, "failed_jobs", r->failed_count);
    json_key(&w, "jobs");
    json_begin_array(&w);
    for (size_t i = 0; i < r->job_count; i++) {
        const struct status_job *sj = &r->jobs[i];

        json_begin_object(&w);
        json_key_string(&w, "job", sj->job->name);
        json_key_string(&w, "kind", sj->kind);
        json_key_string(&w, "schedule", sj->job->schedule);
        status_json_run(&w, "last_run", sj->has_last_run, &sj->last_run);
        status_json_run(&w, "last_success", sj->has_last_success, &sj->last_success);
        status_json_time(&w, "next_run", sj->has_next_run ? sj->next_run : 0);
        json_key_int(&w, "stale_after_ms", sj->stale_after_ms);
        json_key_bool(&w, "stale_after_derived", sj->is_stale_after_derived);
        json_key_bool(&w, "stale", sj->is_stale);
        json_key_string(&w, "stale_reason", sj->is_stale ? sj->stale_reason : NULL);
        json_key_bool(&w, "last_run_failed", sj->is_last_run_failed);
        json_key(&w, "last_verification");
        if (sj->has_verification) {
            json_begin_object(&w);
            status_json_time(&w, "time", sj->verification.time);
            json_key_string(&w, "snapshot_id", sj->verification.snapshot_id);
            json_key_string(&w, "level", sj->verification.level);
            json_key_string(&w, "result", sj->verification.result);
            json_key_string(&w, "store", sj->verification.store);
            json_end_object(&w);
        } else {
            json_null(&w);
        }
        json_end_object(&w);
    }
    json_end_array(&w);
    json_key(&w, "stores");
    json_begin_array(&w);
    for (size_t i = 0; i < r->store_count; i++) {
        const struct status_store *ss = &r->stores[i];

        json_begin_object(&w);
        json_key_string(&w, "store", ss->store->name);
        json_key_string(&w, "type", ss->store->type);
        json_key_uint(&w, "snapshots", ss->snapshot_count);
        json_key_uint(&w, "size_bytes", ss->stored_bytes);
        status_json_time(&w, "newest", ss->newest);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_end_object(&w);
}

/* A store that holds no snapshot but is a mirror's source or destination: its row says so (a
 * bucket of media showing "0 snapshots, 0 B" would read as empty). False when it is neither. */
static bool status_print_mirror_role(const struct status_report *r, const struct status_store *ss)
{
    for (size_t j = 0; j < r->job_count; j++) {
        const struct cfg_job *job = r->jobs[j].job;
        const char *role = NULL;
        if (job->kind != JOB_KIND_MIRROR)
            continue;
        if (job->mirror.source.store && strcmp(job->mirror.source.store, ss->store->name) == 0)
            role = "source";
        else if (job->mirror.destination.store &&
                 strcmp(job->mirror.destination.store, ss->store->name) == 0)
            role = "destination";
        if (role) {
            printf("%-14s %-7s %9s %10s  %s (mirror %s of job '%s')\n", ss->store->name,
                   ss->store->type, "-", "-", "-", role, job->name);
            return true;
        }
    }
    return false;
}

static void status_print_table(const struct status_report *r)
{
    printf("%-14s %-9s %-17s %-10s %-11s %10s  %-17s %s\n", "JOB", "KIND", "LAST-RUN (UTC)",
           "RESULT", "DURATION", "SIZE", "NEXT-RUN (UTC)", "STALE");
    for (size_t i = 0; i < r->job_count; i++) {
        const struct status_job *sj = &r->jobs[i];
        char last[TIME_ISO_LEN];
        char next[TIME_ISO_LEN];
        char duration[TIME_ISO_LEN] = "-";
        char size[OUTPUT_SIZE_LEN] = "-";
        const char *result = "never";

        status_format_time(sj->has_last_run ? sj->last_run.started_at : 0, last);
        status_format_time(sj->has_next_run ? sj->next_run : 0, next);
        if (sj->has_last_run) {
            result = sj->last_run.result ? sj->last_run.result : "unfinished";
            if (sj->last_run.duration_ms >= 0)
                time_format_duration(sj->last_run.duration_ms, duration);
            if (sj->last_run.result)
                output_format_size(sj->last_run.stored_bytes, size);
        }
        printf("%-14s %-9s %-17s %-10s %-11s %10s  %-17s %s%s\n", sj->job->name, sj->kind, last,
               result, duration, size, next, sj->is_stale ? "STALE: " : "-",
               sj->is_stale ? sj->stale_reason : "");
    }
    for (size_t i = 0; i < r->job_count; i++) {
        const struct status_job *sj = &r->jobs[i];
        if (sj->is_last_run_failed)
            printf("job '%s': last run %s: %s\n", sj->job->name, sj->last_run.result,
                   sj->last_run.error ? sj->last_run.error : "(no message)");
    }
    if (r->store_count == 0)
        return;
    printf("\n%-14s %-7s %9s %10s  %s\n", "STORE", "TYPE", "SNAPSHOTS", "SIZE", "NEWEST (UTC)");
    for (size_t i = 0; i < r->store_count; i++) {
        const struct status_store *ss = &r->stores[i];
        char size[OUTPUT_SIZE_LEN];
        char newest[TIME_ISO_LEN];

        output_format_size(ss->stored_bytes, size);
        status_format_time(ss->newest, newest);
        if (ss->snapshot_count == 0 && status_print_mirror_role(r, ss))
            continue;
        printf("%-14s %-7s %9llu %10s  %s\n", ss->store->name, ss->store->type,
               (unsigned long long)ss->snapshot_count, size, newest);
    }
}

int cmd_status(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"metrics", no_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct status_report report;
    char *state_dir = NULL;
    bool is_metrics = false;
    struct buf out;
    int rc = -1;
    int c;

    memset(&report, 0, sizeof(report));
    buf_init(&out, BUF_NO_CAP);
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            ctx->is_json = true;
            break;
        case 'm':
            is_metrics = true;
            break;
        case 'h':
            (void)fputs(status_usage, stdout);
            rc = 0;
            goto out;
        default:
            error_set(err, ERR_USAGE, "invalid arguments to 'status'");
            error_hint(err, "permafrost status --help");
            goto out;
        }
    }
    if (optind < argc) {
        error_set(err, ERR_USAGE, "'status' takes no arguments");
        goto out;
    }
    if (is_metrics && ctx->is_json) {
        error_set(err, ERR_USAGE, "--metrics and --json exclude each other");
        goto out;
    }
    if (state_dir_resolve(ctx->state_dir_flag, ctx->cfg, &state_dir, err) < 0)
        goto out;
    if (is_metrics) {
        struct metrics_source src;

        memset(&src, 0, sizeof(src));
        src.cfg = ctx->cfg;
        src.state_dir = state_dir;
        src.now = time(NULL);
        if (metrics_render(&src, &out, err) < 0)
            goto out;
        (void)fwrite(out.data, 1, out.len, stdout);
        rc = 0;
        goto out;
    }
    if (status_collect(ctx->cfg, state_dir, time(NULL), &report, err) < 0)
        goto out;
    if (ctx->is_json) {
        status_print_json(&report, &out);
        printf("%s\n", out.data);
    } else {
        status_print_table(&report);
    }
    if (report.stale_count || report.failed_count) {
        struct buf msg;

        buf_init(&msg, sizeof(err->msg) - 1);
        for (size_t i = 0; i < report.job_count; i++) {
            const struct status_job *sj = &report.jobs[i];
            if (sj->is_stale)
                (void)buf_addf(&msg, "%sjob '%s' is stale (%s)", msg.len ? "; " : "", sj->job->name,
                               sj->stale_reason);
            if (sj->is_last_run_failed)
                (void)buf_addf(&msg, "%sjob '%s': last run %s", msg.len ? "; " : "", sj->job->name,
                               sj->last_run.result);
        }
        error_set(err, ERR_FAILED, "%s", msg.data);
        buf_release(&msg);
        goto out;
    }
    rc = 0;
out:
    (void)fflush(stdout);
    status_report_release(&report);
    buf_release(&out);
    xfree(state_dir);
    return rc;
}
