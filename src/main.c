/* permafrost: shared flags, logging, signals, config loading, dispatch to cli/commands.c, and the
 * one place a failure is printed and turned into an exit code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <getopt.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "config/config.h"
#include "util/cancel.h"
#include "util/log.h"

#define DEFAULT_CONFIG "/etc/permafrost/permafrost.conf"

static void main_print_error(const struct error *err)
{
    output_progress_end();
    fprintf(stderr, "error: %s\n", err->msg[0] ? err->msg : "failed");
    if (err->hint[0])
        fprintf(stderr, "hint: %s\n", err->hint);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"state-dir", required_argument, NULL, 'S'},
        {"json", no_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"log-format", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct cli_ctx ctx;
    struct config cfg;
    struct error err = ERROR_INIT;
    const struct command *cmd;
    enum log_format log_format = LOG_FORMAT_TEXT;
    const char *env_config = getenv("PERMAFROST_CONFIG");
    int code;
    int c;

    memset(&ctx, 0, sizeof(ctx));
    memset(&cfg, 0, sizeof(cfg));
    /* '+': stop at the command name; its own options are parsed by the command. */
    while ((c = getopt_long(argc, argv, "+c:vqh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            ctx.config_path = optarg;
            break;
        case 'S':
            ctx.state_dir_flag = optarg;
            break;
        case 'j':
            ctx.is_json = true;
            break;
        case 'v':
            ctx.verbosity++;
            break;
        case 'q':
            ctx.is_quiet = true;
            break;
        case 'L':
            if (strcmp(optarg, "json") == 0) {
                log_format = LOG_FORMAT_JSON;
            } else if (strcmp(optarg, "text") != 0) {
                fprintf(stderr, "error: unknown log format '%s' (known: text, json)\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            commands_print_usage(stdout);
            return EXIT_OK;
        case 'V':
            argv[optind - 1] = (char *)(uintptr_t) "version";
            optind--;
            goto dispatch;
        default:
            commands_print_usage(stderr);
            return EXIT_USAGE;
        }
    }
dispatch:
    if (optind >= argc) {
        commands_print_usage(stderr);
        return EXIT_USAGE;
    }
    log_setup(ctx.is_quiet         ? LOG_ERROR
              : ctx.verbosity >= 2 ? LOG_TRACE
              : ctx.verbosity == 1 ? LOG_DEBUG
                                   : LOG_INFO,
              log_format);
    ctx.is_tty = isatty(STDERR_FILENO) && log_format == LOG_FORMAT_TEXT;
    cancel_install_handlers();

    cmd = commands_find(argv[optind]);
    if (!cmd) {
        fprintf(stderr, "error: unknown command '%s'\n", argv[optind]);
        fprintf(stderr, "hint: 'permafrost --help' lists the commands\n");
        return EXIT_USAGE;
    }
    if (!ctx.config_path)
        ctx.config_path = env_config && *env_config ? env_config : DEFAULT_CONFIG;
    if (cmd->flags & NEEDS_CONFIG) {
        bool wants_help = false;
        for (int i = optind + 1; i < argc; i++)
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                wants_help = true;
        if (!wants_help) {
            if (config_load(ctx.config_path, &cfg, &err) < 0) {
                main_print_error(&err);
                return exit_code_for(err.kind == ERR_IO ? ERR_CONFIG : err.kind);
            }
            ctx.cfg = &cfg;
        }
    }
    optind++;
    code = EXIT_OK;
    if (cmd->fn(argc - optind + 1, argv + optind - 1, &ctx, &err) < 0) {
        /* Whatever failed last, a requested stop is what the operator needs to see. */
        if (cancel_requested() && err.kind != ERR_CANCELLED) {
            error_wrap(&err, "cancelled by signal %d", cancel_signal());
            err.kind = ERR_CANCELLED;
        }
        main_print_error(&err);
        code = exit_code_for(err.kind == ERR_NONE ? ERR_FAILED : err.kind);
    }
    output_progress_end();
    config_release(&cfg);
    return code;
}
