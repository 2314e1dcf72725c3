/* permafrost list [JOB] [--json] */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <getopt.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/catalog.h"
#include "core/state.h"
#include "util/buf.h"
#include "util/json_writer.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/time.h"
#include "util/xalloc.h"

static const char list_usage[] =
    "usage: permafrost list [--json] [JOB]\n"
    "\n"
    "Lists the complete snapshots in the catalog, oldest first: job, id, time (UTC),\n"
    "stored size, compression ratio, when it was last verified and how ('permafrost\n"
    "verify': \"integrity ok ...\", \"restore ok ...\" after a restore drill, \"... FAILED\n"
    "...\", or \"never\"), and the stores holding it. The catalog is a cache of the\n"
    "stores' manifests; 'permafrost catalog rebuild' refreshes it (and keeps the\n"
    "verification history).\n"
    "\n"
    "  --json   a JSON array on stdout, one object per snapshot\n"
    "\n"
    "examples:\n"
    "  permafrost list\n"
    "  permafrost list db --json\n";

void list_format_verified(const struct catalog_verification *v, char out[LIST_VERIFIED_LEN])
{
    struct tm tm;
    char when[32] = "?";

    if (!v) {
        snprintf(out, LIST_VERIFIED_LEN, "never");
        return;
    }
    if (gmtime_r(&v->time, &tm))
        (void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
    snprintf(out, LIST_VERIFIED_LEN, "%s %s %s", v->level,
             strcmp(v->result, "ok") == 0 ? "ok" : "FAILED", when);
}

/* The snapshot's last verification, or NULL (never verified, or unreadable: a warning). */
static struct catalog_verification *list_verified(struct catalog *catalog,
                                                  const struct catalog_snapshot *snap,
                                                  struct catalog_verification *v)
{
    struct error e = ERROR_INIT;
    bool found = false;

    if (catalog_last_verification(catalog, snap->job, snap->id, v, &found, &e) < 0) {
        log_warn("%s", e.msg);
        return NULL;
    }
    return found ? v : NULL;
}

int cmd_list(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct catalog *catalog = NULL;
    struct catalog_snapshot *snaps = NULL;
    size_t count = 0;
    char *state_dir = NULL;
    const char *job = NULL;
    struct buf out;
    struct json_writer w;
    int rc = -1;
    int c;

    buf_init(&out, BUF_NO_CAP);
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            ctx->is_json = true;
            break;
        case 'h':
            (void)fputs(list_usage, stdout);
            rc = 0;
            goto out;
        default:
            error_set(err, ERR_USAGE, "invalid arguments to 'list'");
            error_hint(err, "permafrost list --help");
            goto out;
        }
    }
    if (argc - optind > 1) {
        error_set(err, ERR_USAGE, "'list' takes at most one job name");
        goto out;
    }
    if (optind < argc) {
        job = argv[optind];
        if (!config_find_job(ctx->cfg, job)) {
            error_set(err, ERR_USAGE, "unknown job '%s'", job);
            goto out;
        }
    }
    if (state_dir_resolve(ctx->state_dir_flag, ctx->cfg, &state_dir, err) < 0)
        goto out;
    if (catalog_open(state_dir, &catalog, err) < 0)
        goto out;
    if (catalog_list(catalog, job, &snaps, &count, err) < 0)
        goto out;
    if (ctx->is_json) {
        json_writer_init(&w, &out);
        w.indent = 2;
        json_begin_array(&w);
        for (size_t i = 0; i < count; i++) {
            char t[TIME_ISO_LEN];
            struct strv rest;

            time_format_iso(snaps[i].time, t);
            json_begin_object(&w);
            json_key_string(&w, "job", snaps[i].job);
            json_key_string(&w, "id", snaps[i].id);
            json_key_string(&w, "time", t);
            json_key_uint(&w, "size_bytes", snaps[i].stored_bytes);
            json_key_uint(&w, "raw_bytes", snaps[i].raw_bytes);
            json_key(&w, "ratio");
            json_double(&w, snaps[i].stored_bytes
                                ? (double)snaps[i].raw_bytes / (double)snaps[i].stored_bytes
                                : 0.0);
            json_key(&w, "stores");
            json_begin_array(&w);
            rest = strv_from(snaps[i].stores);
            while (rest.len) {
                struct strv name;
                strv_cut(&rest, ',', &name);
                json_string_len(&w, name.ptr, name.len);
            }
            json_end_array(&w);
            json_key_string(&w, "state", "complete");
            json_key(&w, "verified");
            {
                struct catalog_verification v;
                const struct catalog_verification *lv = list_verified(catalog, &snaps[i], &v);
                if (!lv) {
                    json_null(&w);
                } else {
                    char vt[TIME_ISO_LEN];
                    time_format_iso(lv->time, vt);
                    json_begin_object(&w);
                    json_key_string(&w, "time", vt);
                    json_key_string(&w, "level", lv->level);
                    json_key_string(&w, "result", lv->result);
                    json_key_string(&w, "store", lv->store);
                    json_key_string(&w, "detail", lv->detail);
                    json_key_int(&w, "duration_ms", lv->duration_ms);
                    json_end_object(&w);
                    catalog_verification_release(&v);
                }
            }
            json_end_object(&w);
        }
        json_end_array(&w);
        printf("%s\n", out.data);
    } else if (count == 0) {
        printf("no snapshots%s%s%s\n", job ? " of job '" : "", job ? job : "", job ? "'" : "");
    } else {
        printf("%-12s %-22s %-20s %10s %6s  %-33s %s\n", "JOB", "SNAPSHOT", "TIME (UTC)", "SIZE",
               "RATIO", "VERIFIED (UTC)", "STORES");
        for (size_t i = 0; i < count; i++) {
            char t[TIME_ISO_LEN];
            char size[OUTPUT_SIZE_LEN];
            char verified[LIST_VERIFIED_LEN];
            struct catalog_verification v;
            const struct catalog_verification *lv = list_verified(catalog, &snaps[i], &v);

            time_format_iso(snaps[i].time, t);
            output_format_size(snaps[i].stored_bytes, size);
            list_format_verified(lv, verified);
            if (lv)
                catalog_verification_release(&v);
            printf("%-12s %-22s %-20s %10s %5.2fx  %-33s %s\n", snaps[i].job, snaps[i].id, t, size,
                   snaps[i].stored_bytes
                       ? (double)snaps[i].raw_bytes / (double)snaps[i].stored_bytes
                       : 0.0,
                   verified, snaps[i].stores);
        }
    }
    rc = 0;
out:
    catalog_snapshots_free(snaps, count);
    catalog_close(catalog);
    buf_release(&out);
    xfree(state_dir);
    return rc;
}
