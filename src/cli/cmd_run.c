/* permafrost run [JOB...] */
#include <stdio.h>
#include <string.h>

#include <getopt.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/backup.h"
#include "core/state.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/json_writer.h"
#include "util/time.h"
#include "util/xalloc.h"

static const char run_usage[] =
    "usage: permafrost run [--no-prune] [--json] [JOB...]\n"
    "\n"
    "Takes a snapshot of each named job (every job when none is named): the dump goes\n"
    "through zstd into the job's first target, then is copied to the others; the\n"
    "manifest is written last. Then applies the job's keep policy (unless --no-prune).\n"
    "\n"
    "  --no-prune   do not apply the keep policy after the run\n"
    "  --json       print the results as a JSON array\n"
    "\n"
    "examples:\n"
    "  permafrost run            # every job\n"
    "  permafrost run db         # one job\n";

static void run_print_text(const struct cfg_job *job, const struct backup_result *r,
                           const struct error *e)
{
    char raw[OUTPUT_SIZE_LEN];
    char stored[OUTPUT_SIZE_LEN];
    char dbsize[OUTPUT_SIZE_LEN];
    char dur[TIME_ISO_LEN];

    time_format_duration(r->duration_ms, dur);
    if (r->is_ok)
        printf("job '%s': snapshot %s ok in %s\n", job->name, r->snapshot_id, dur);
    else
        printf("job '%s': FAILED after %s%s%s\n", job->name, dur,
               r->snapshot_id[0] ? ", snapshot " : "", r->snapshot_id);
    if (r->database) {
        output_format_size((uint64_t)(r->database_size_bytes > 0 ? r->database_size_bytes : 0),
                           dbsize);
        printf("  database  %s (PostgreSQL %s, %s, %zu tables", r->database, r->server_version,
               dbsize, r->table_count);
        if (r->total_rows >= 0)
            printf(", %lld rows", (long long)r->total_rows);
        printf("), pg_dump %s\n", r->pg_dump_version);
    }
    if (r->raw_bytes) {
        output_format_size(r->raw_bytes, raw);
        output_format_size(r->stored_bytes, stored);
        printf("  dump      %s -> %s zstd (%.2fx)\n", raw, stored,
               r->stored_bytes ? (double)r->raw_bytes / (double)r->stored_bytes : 0.0);
    }
    for (size_t i = 0; i < r->target_count; i++) {
        if (r->targets[i].is_ok)
            printf("  store     %s: ok%s\n", r->targets[i].store,
                   i == 0                         ? " (written)"
                   : r->targets[i].is_server_side ? " (server-side copy)"
                                                  : " (copied)");
        else
            printf("  store     %s: failed%s%s\n", r->targets[i].store,
                   r->targets[i].error[0] ? ": " : "", r->targets[i].error);
    }
    if (r->pruned)
        printf("  retention removed %zu snapshot%s\n", r->pruned, r->pruned == 1 ? "" : "s");
    if (r->prune_error[0])
        printf("  retention failed: %s\n", r->prune_error);
    if (!r->is_ok && e->msg[0])
        printf("  error     %s\n", e->msg);
}

static void run_print_json(struct json_writer *w, const struct cfg_job *job,
                           const struct backup_result *r, const struct error *e)
{
    json_begin_object(w);
    json_key_string(w, "job", job->name);
    json_key_string(w, "snapshot", r->snapshot_id[0] ? r->snapshot_id : NULL);
    json_key_string(w, "result", r->is_ok ? "ok" : "failed");
    json_key_int(w, "duration_ms", r->duration_ms);
    json_key_uint(w, "raw_bytes", r->raw_bytes);
    json_key_uint(w, "size_bytes", r->stored_bytes);
    json_key_string(w, "database", r->database);
    json_key_int(w, "database_size_bytes", r->database_size_bytes);
    json_key_uint(w, "tables", r->table_count);
    json_key_int(w, "rows", r->total_rows);
    json_key(w, "stores");
    json_begin_array(w);
    for (size_t i = 0; i < r->target_count; i++) {
        json_begin_object(w);
        json_key_string(w, "store", r->targets[i].store);
        json_key_bool(w, "ok", r->targets[i].is_ok);
        json_key_string(w, "transfer",
                        i == 0                         ? "written"
                        : r->targets[i].is_server_side ? "server-side copy"
                                                       : "copied");
        json_key_string(w, "error", r->targets[i].error[0] ? r->targets[i].error : NULL);
        json_end_object(w);
    }
    json_end_array(w);
    json_key_uint(w, "pruned", r->pruned);
    json_key_string(w, "error", r->is_ok ? NULL : e->msg);
    json_key_string(w, "hint", !r->is_ok && e->hint[0] ? e->hint : NULL);
    json_end_object(w);
}

/* When several jobs fail, the exit code follows the most telling failure. */
static int run_severity(enum err_kind k)
{
    switch (k) {
    case ERR_CANCELLED:
        return 5;
    case ERR_LOCKED:
        return 4;
    case ERR_INTEGRITY:
        return 3;
    case ERR_CONFIG:
    case ERR_USAGE:
        return 2;
    case ERR_NONE:
        return 0;
    case ERR_IO:
    case ERR_NETWORK:
    case ERR_REMOTE:
    case ERR_FAILED:
        return 1;
    }
    return 1;
}

int cmd_run(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    static const struct option opts[] = {
        {"no-prune", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct config *cfg = ctx->cfg;
    char *state_dir = NULL;
    bool skip_prune = false;
    struct buf json;
    struct json_writer w;
    size_t failed = 0;
    size_t ran = 0;
    struct error worst = ERROR_INIT;
    int rc = -1;
    int c;

    buf_init(&json, BUF_NO_CAP);
    json_writer_init(&w, &json);
    w.indent = 2;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            skip_prune = true;
            break;
        case 'j':
            ctx->is_json = true;
            break;
        case 'h':
            (void)fputs(run_usage, stdout);
            rc = 0;
            goto out;
        default:
            error_set(err, ERR_USAGE, "invalid arguments to 'run'");
            error_hint(err, "permafrost run --help");
            goto out;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (!config_find_job(cfg, argv[i])) {
            error_set(err, ERR_USAGE, "unknown job '%s'", argv[i]);
            error_hint(err, "'permafrost config show' lists the jobs in '%s'", cfg->path);
            goto out;
        }
    }
    if (cfg->job_count == 0) {
        error_set(err, ERR_CONFIG, "'%s' defines no jobs", cfg->path);
        error_hint(err, "add a [job \"NAME\"] section; see docs/configuration.md");
        goto out;
    }
    if (state_dir_resolve(ctx->state_dir_flag, cfg, &state_dir, err) < 0)
        goto out;

    if (ctx->is_json)
        json_begin_array(&w);
    for (size_t j = 0; j < cfg->job_count; j++) {
        const struct cfg_job *job = &cfg->jobs[j];
        struct backup_request req;
        struct backup_result res;
        struct error jerr = ERROR_INIT;
        bool wanted = optind >= argc;

        for (int i = optind; i < argc; i++)
            if (strcmp(argv[i], job->name) == 0)
                wanted = true;
        if (!wanted)
            continue;
        memset(&req, 0, sizeof(req));
        req.cfg = cfg;
        req.job = job;
        req.state_dir = state_dir;
        req.skip_prune = skip_prune;
        req.progress = output_progress;
        req.progress_ctx = ctx;
        ran++;
        if (backup_run(&req, &res, &jerr) < 0) {
            failed++;
            if (run_severity(jerr.kind) > run_severity(worst.kind))
                worst = jerr;
        }
        output_progress_end();
        if (ctx->is_json)
            run_print_json(&w, job, &res, &jerr);
        else if (!ctx->is_quiet || !res.is_ok)
            run_print_text(job, &res, &jerr);
        backup_result_release(&res);
        if (worst.kind == ERR_CANCELLED || cancel_requested())
            break;
    }
    if (ctx->is_json) {
        json_end_array(&w);
        printf("%s\n", json.data);
    }
    if (failed) {
        *err = worst;
        if (ran > 1) {
            error_wrap(err, "%zu of %zu jobs failed", failed, ran);
        }
        goto out;
    }
    rc = 0;
out:
    buf_release(&json);
    xfree(state_dir);
    return rc;
}
