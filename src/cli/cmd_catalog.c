/* permafrost catalog rebuild */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/rebuild.h"
#include "core/state.h"
#include "util/xalloc.h"

static const char catalog_usage[] =
    "usage: permafrost catalog rebuild\n"
    "\n"
    "Recreates the local catalog (a cache) from the manifests in every configured\n"
    "store: after losing the machine, or when 'list' looks out of date.\n"
    "\n"
    "example:\n"
    "  PERMAFROST_STATE_DIR=/tmp/new-state permafrost catalog rebuild && permafrost list\n";

int cmd_catalog(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    struct rebuild_report rep;
    char *state_dir = NULL;
    int rc = -1;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        (void)fputs(catalog_usage, stdout);
        return 0;
    }
    if (argc != 2 || strcmp(argv[1], "rebuild") != 0) {
        error_set(err, ERR_USAGE, "'catalog' takes 'rebuild'");
        return error_hint(err, "permafrost catalog --help");
    }
    if (state_dir_resolve(ctx->state_dir_flag, ctx->cfg, &state_dir, err) < 0)
        goto out;
    if (rebuild_catalog(ctx->cfg, state_dir, &rep, err) < 0) {
        error_wrap(err, "catalog rebuild");
        goto out;
    }
    if (!ctx->is_quiet)
        printf("catalog rebuilt: %zu snapshot copies from %zu store%s (%zu unfinished and %zu "
               "unreadable ignored)\n",
               rep.snapshots, ctx->cfg->store_count, ctx->cfg->store_count == 1 ? "" : "s",
               rep.unfinished, rep.bad);
    rc = 0;
out:
    xfree(state_dir);
    return rc;
}
