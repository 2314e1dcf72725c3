/* permafrost verify [JOB...] [--from STORE] [--snapshot ID|latest] [--restore] [...] */
#include <stdio.h>
#include <string.h>

#include <getopt.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/state.h"
#include "core/verify.h"
#include "util/buf.h"
#include "util/json_writer.h"
#include "util/secret.h"
#include "util/time.h"
#include "util/xalloc.h"

static const char verify_usage[] =
    "usage: permafrost verify [JOB...] [--from STORE] [--snapshot ID|latest] [--restore]\n"
    "                         [--identity FILE] [--tmp-dir DIR] [--json]\n"
    "\n"
    "Reads every complete snapshot of the named jobs (every postgres and redis job when\n"
    "none is named) back from each of the job's stores and checks it: size and SHA-256\n"
    "against the manifest, zstd decoded to the end, age authenticated when an identity\n"
    "is at hand, and the format (a pg_dump archive's PGDMP header and table of contents\n"
    "through 'pg_restore --list'; a Redis RDB file's entries, CRC-64 and keys per\n"
    "database against the manifest). The catalog is not trusted: the stores' own\n"
    "listings and manifests are read. Each result is recorded; 'permafrost list' shows\n"
    "when each snapshot was last verified and how.\n"
    "\n"
    "With --restore, each snapshot is also restored once (from the first store whose copy\n"
    "passed): postgres into a new scratch database (the job's 'scratch' conninfo, else\n"
    "its own server), whose row counts are compared with the manifest before it is\n"
    "dropped; redis into a throwaway redis-server/valkey-server on a free 127.0.0.1 port\n"
    "(when one is installed), whose key counts are compared with the manifest.\n"
    "\n"
    "  --from STORE         check the copies on this store only (any configured store)\n"
    "  --snapshot ID|latest one snapshot, or each store's newest (default: all)\n"
    "  --restore            restore drills as above\n"
    "  --identity FILE      an age identity file to decrypt encrypted snapshots with\n"
    "                       (default: the job's identity or passphrase; without any,\n"
    "                       encrypted artifacts get a size and SHA-256 check only)\n"
    "  --tmp-dir DIR        temporary files (a TOC listing, a redis drill's dump.rdb,\n"
    "                       which needs the raw snapshot size); default $TMPDIR, /tmp\n"
    "  --json               one JSON object: the items and the totals\n"
    "\n"
    "exit status: 0 when every check passed; 4 (integrity) when a copy is damaged or a\n"
    "drill found other counts than the manifest (the message names the snapshot and\n"
    "the store); 1 when a check could not be made (a store or server unreachable);\n"
    "2 usage; 3 config; 5 locked; 130 cancelled (see docs/exit-codes.md).\n"
    "\n"
    "examples:\n"
    "  permafrost verify                          # every snapshot of every job\n"
    "  permafrost verify db --snapshot latest     # the newest on each of db's stores\n"
    "  permafrost verify db --from offsite --restore\n"
    "  permafrost verify cache --restore --snapshot latest\n"
    "  permafrost verify db --identity /root/permafrost.key --json > verify.json\n";

struct verify_out {
    struct cli_ctx *cli;
};

static void verify_print_item(const struct verify_item *it, void *arg)
{
    struct verify_out *o = arg;
    char dur[TIME_ISO_LEN];
    char size[OUTPUT_SIZE_LEN];

    output_progress_end();
    if (o->cli->is_json || (o->cli->is_quiet && it->is_ok))
        return;
    time_format_duration(it->duration_ms, dur);
    output_format_size(it->bytes, size);
    if (it->is_ok)
        printf("ok      job '%s' snapshot %s on '%s' (%s, %s, %s): %s\n", it->job, it->snapshot_id,
               it->store, it->level, size, dur, it->detail ? it->detail : "");
    else if (it->snapshot_id[0])
        printf("FAILED  job '%s' snapshot %s on '%s' (%s): %s\n", it->job, it->snapshot_id,
               it->store[0] ? it->store : "-", it->level, it->detail ? it->detail : "");
    else
        printf("FAILED  job '%s'%s%s%s: %s\n", it->job, it->store[0] ? " on '" : "", it->store,
               it->store[0] ? "'" : "", it->detail ? it->detail : "");
    (void)fflush(stdout);
}

static void verify_print_json(const struct verify_result *res, const struct error *e, int rc)
{
    struct buf out;
    struct json_writer w;

    buf_init(&out, BUF_NO_CAP);
    json_writer_init(&w, &out);
    w.indent = 2;
    json_begin_object(&w);
    json_key_bool(&w, "ok", rc == 0);
    json_key_uint(&w, "checked", res->item_count);
    json_key_uint(&w, "failed", res->failed);
    json_key_int(&w, "duration_ms", res->duration_ms);
    json_key(&w, "items");
    json_begin_array(&w);
    for (size_t i = 0; i < res->item_count; i++) {
        const struct verify_item *it = &res->items[i];
        json_begin_object(&w);
        json_key_string(&w, "job", it->job);
        json_key_string(&w, "snapshot", it->snapshot_id[0] ? it->snapshot_id : NULL);
        json_key_string(&w, "store", it->store[0] ? it->store : NULL);
        json_key_string(&w, "level", it->level);
        json_key_string(&w, "result", it->is_ok ? "ok" : "failed");
        json_key_bool(&w, "digest_only", it->is_digest_only);
        json_key_uint(&w, "size_bytes", it->bytes);
        json_key_int(&w, "duration_ms", it->duration_ms);
        json_key_string(&w, "detail", it->detail);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_key_string(&w, "error", rc == 0 ? NULL : e->msg);
    json_end_object(&w);
    printf("%s\n", out.data);
    buf_release(&out);
}

int cmd_verify(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},    {"snapshot", required_argument, NULL, 's'},
        {"restore", no_argument, NULL, 'r'},       {"identity", required_argument, NULL, 'i'},
        {"tmp-dir", required_argument, NULL, 'T'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    struct verify_request req;
    struct verify_result res;
    struct verify_out vo;
    struct secret identity = SECRET_INIT;
    const char *identity_path = NULL;
    char *state_dir = NULL;
    int rc = -1;
    int c;

    memset(&req, 0, sizeof(req));
    memset(&res, 0, sizeof(res));
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            req.from_store = optarg;
            break;
        case 's':
            req.snapshot = optarg;
            break;
        case 'r':
            req.restore = true;
            break;
        case 'i':
            identity_path = optarg;
            break;
        case 'T':
            req.tmp_dir = optarg;
            break;
        case 'j':
            ctx->is_json = true;
            break;
        case 'h':
            (void)fputs(verify_usage, stdout);
            rc = 0;
            goto out;
        default:
            error_set(err, ERR_USAGE, "invalid arguments to 'verify'");
            error_hint(err, "permafrost verify --help");
            goto out;
        }
    }
    if (identity_path) {
        if (cli_read_identity(identity_path, &identity, err) < 0)
            goto out;
        req.identity = &identity;
    }
    req.cfg = ctx->cfg;
    req.jobs = (const char *const *)(argv + optind);
    req.job_count = (size_t)(argc - optind);
    if (state_dir_resolve(ctx->state_dir_flag, ctx->cfg, &state_dir, err) < 0)
        goto out;
    req.state_dir = state_dir;
    vo.cli = ctx;
    req.on_item = verify_print_item;
    req.item_ctx = &vo;
    req.progress = output_progress;
    req.progress_ctx = ctx;
    rc = verify_run(&req, &res, err);
    output_progress_end();
    if (rc < 0 && res.item_count == 0 && err->kind != ERR_CANCELLED) {
        /* A usage or config error: nothing was checked, main reports it. */
        goto out;
    }
    if (ctx->is_json) {
        verify_print_json(&res, err, rc);
    } else if (!ctx->is_quiet || rc < 0) {
        char dur[TIME_ISO_LEN];
        time_format_duration(res.duration_ms, dur);
        printf("verify: %zu check%s, %zu ok, %zu failed, in %s\n", res.item_count,
               res.item_count == 1 ? "" : "s", res.item_count - res.failed, res.failed, dur);
    }
out:
    verify_result_release(&res);
    secret_release(&identity);
    xfree(state_dir);
    return rc;
}
