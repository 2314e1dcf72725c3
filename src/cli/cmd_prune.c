/* permafrost prune [--dry-run] [--json] [JOB...] */
#include <stdio.h>
#include <string.h>

#include <getopt.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/prune.h"
#include "core/state.h"
#include "util/buf.h"
#include "util/json_writer.h"
#include "util/xalloc.h"

static const char prune_usage[] =
    "usage: permafrost prune [--dry-run] [--json] [JOB...]\n"
    "\n"
    "Applies each job's keep policy on each of its stores (restic's forget rules:\n"
    "last, hourly, daily, weekly, monthly, yearly, in [global] timezone) and removes\n"
    "unfinished snapshots left by failed runs. A store with a keep.STORE line in the\n"
    "job uses that policy instead of keep. The newest complete snapshot of a job\n"
    "on a store is never removed. 'run' does this after each snapshot too.\n"
    "\n"
    "  --dry-run   show what would be removed, remove nothing\n"
    "  --json      print the decisions as a JSON array\n"
    "\n"
    "examples:\n"
    "  permafrost prune --dry-run\n"
    "  permafrost prune db\n";

int cmd_prune(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    static const struct option opts[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct prune_request req;
    struct prune_report rep;
    char *state_dir = NULL;
    struct buf out;
    int rc = -1;
    int c;

    memset(&req, 0, sizeof(req));
    memset(&rep, 0, sizeof(rep));
    buf_init(&out, BUF_NO_CAP);
    optind = 0;
    while ((c = getopt_long(argc, argv, "nh", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            req.dry_run = true;
            break;
        case 'j':
            ctx->is_json = true;
            break;
        case 'h':
            (void)fputs(prune_usage, stdout);
            rc = 0;
            goto out;
        default:
            error_set(err, ERR_USAGE, "invalid arguments to 'prune'");
            error_hint(err, "permafrost prune --help");
            goto out;
        }
    }
    if (state_dir_resolve(ctx->state_dir_flag, ctx->cfg, &state_dir, err) < 0)
        goto out;
    req.cfg = ctx->cfg;
    req.jobs = (const char *const *)(argv + optind);
    req.job_count = (size_t)(argc - optind);
    req.state_dir = state_dir;
    if (prune_run(&req, &rep, err) < 0)
        goto out;
    if (ctx->is_json) {
        struct json_writer w;
        json_writer_init(&w, &out);
        w.indent = 2;
        json_begin_array(&w);
        for (size_t i = 0; i < rep.count; i++) {
            const struct prune_entry *e = &rep.entries[i];
            json_begin_object(&w);
            json_key_string(&w, "job", e->job);
            json_key_string(&w, "store", e->store);
            json_key_string(&w, "id", e->id);
            json_key_string(&w, "action", e->is_kept ? "keep" : "remove");
            json_key_string(&w, "reason", e->is_incomplete ? "unfinished" : e->reason);
            json_key_uint(&w, "size_bytes", e->bytes);
            json_end_object(&w);
        }
        json_end_array(&w);
        printf("%s\n", out.data);
    } else {
        char size[OUTPUT_SIZE_LEN];
        for (size_t i = 0; i < rep.count; i++) {
            const struct prune_entry *e = &rep.entries[i];
            output_format_size(e->bytes, size);
            printf("%-7s %-12s %-12s %-22s %10s  %s\n",
                   e->is_kept ? "keep" : (req.dry_run ? "would remove" : "removed"), e->job,
                   e->store, e->id, size,
                   e->is_incomplete ? "unfinished snapshot" : (e->is_kept ? e->reason : ""));
        }
        output_format_size(rep.removed_bytes, size);
        printf("%s %zu snapshot%s (%s)\n", req.dry_run ? "would remove" : "removed", rep.removed,
               rep.removed == 1 ? "" : "s", size);
    }
    rc = 0;
out:
    prune_report_release(&rep);
    buf_release(&out);
    xfree(state_dir);
    return rc;
}
