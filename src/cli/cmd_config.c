/* permafrost config check|show */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/alerts.h"
#include "util/buf.h"

static const char config_usage[] =
    "usage: permafrost config check|show\n"
    "\n"
    "  check   validate the configuration file, notification URLs included (errors as\n"
    "          FILE:LINE: message; exit 3)\n"
    "  show    print the effective configuration, defaults filled in, secrets redacted\n"
    "\n"
    "examples:\n"
    "  permafrost -c /etc/permafrost/permafrost.conf config check\n"
    "  PERMAFROST_CONFIG=./permafrost.conf permafrost config show\n";

int cmd_config(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    struct buf out;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        (void)fputs(config_usage, stdout);
        return 0;
    }
    if (argc != 2 || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "show") != 0)) {
        error_set(err, ERR_USAGE, "'config' takes 'check' or 'show'");
        return error_hint(err, "permafrost config --help");
    }
    /* main.c has loaded and validated the file already; a failure never gets here. The
     * notification URLs are parsed by notify/, above config, so they are checked here. */
    if (strcmp(argv[1], "check") == 0) {
        const struct config *cfg = ctx->cfg;
        if (alerts_check_config(cfg, err) < 0)
            return -1;
        if (!ctx->is_quiet)
            printf("%s: ok (%zu store%s, %zu job%s, %zu notification channel%s)\n",
                   ctx->config_path, cfg->store_count, cfg->store_count == 1 ? "" : "s",
                   cfg->job_count, cfg->job_count == 1 ? "" : "s", cfg->notify_count,
                   cfg->notify_count == 1 ? "" : "s");
        return 0;
    }
    buf_init(&out, BUF_NO_CAP);
    config_show(ctx->cfg, &out);
    (void)fputs(out.data, stdout);
    buf_release(&out);
    return 0;
}
