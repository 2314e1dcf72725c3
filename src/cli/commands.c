#include "cli/commands.h"

#include <string.h>

static const struct command commands[] = {
    {"run", cmd_run, "take a snapshot of jobs now (all jobs when none are named)", NEEDS_CONFIG},
    {"list", cmd_list, "list snapshots (--json for a JSON array)", NEEDS_CONFIG},
    {"restore", cmd_restore, "restore a snapshot into a database", NEEDS_CONFIG},
    {"verify", cmd_verify, "check snapshots on their stores; --restore for restore drills",
     NEEDS_CONFIG},
    {"status", cmd_status, "each job's last run, next run and staleness; stores' snapshots",
     NEEDS_CONFIG},
    {"prune", cmd_prune, "apply the keep policies and remove unfinished snapshots", NEEDS_CONFIG},
    {"config", cmd_config, "check the configuration, or show it with secrets redacted",
     NEEDS_CONFIG},
    {"catalog", cmd_catalog, "rebuild the local catalog from the stores' manifests", NEEDS_CONFIG},
    {"store", cmd_store, "put, get, list or remove the objects of a store (for operators)",
     NEEDS_CONFIG},
    {"daemon", cmd_daemon, "run the jobs that have a schedule when due, in the foreground",
     NEEDS_CONFIG},
    {"notify", cmd_notify, "send a test message to the notification channels, or list them",
     NEEDS_CONFIG},
    {"keygen", cmd_keygen, "generate an age identity for encrypted backups (-o FILE)", 0},
    {"version", cmd_version, "print versions of permafrost, its libraries and pg_dump", 0},
};

const struct command *commands_find(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

void commands_print_usage(FILE *out)
{
    fprintf(out, "usage: permafrost [-c FILE] [-v|-q] [--json] [--state-dir DIR] [--log-format "
                 "text|json] COMMAND [ARGS]\n"
                 "\n"
                 "Backups of a Mastodon server's PostgreSQL database and Redis to several stores,\n"
                 "a mirror of its media bucket, retention, verification and restores, in stock\n"
                 "formats (pg_dump custom format, RDB, zstd, age).\n"
                 "\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "options:\n"
            "  -c, --config FILE     configuration file (default $PERMAFROST_CONFIG, else\n"
            "                        /etc/permafrost/permafrost.conf)\n"
            "      --state-dir DIR   catalog and locks (default $PERMAFROST_STATE_DIR, else\n"
            "                        [global] state_dir, else ~/.local/state/permafrost)\n"
            "      --json            machine-readable output where the output is data\n"
            "  -v, --verbose         more log output (twice for trace)\n"
            "  -q, --quiet           only errors; no progress\n"
            "      --log-format F    'text' (default) or 'json' (one object per line on stderr)\n"
            "  -h, --help            this help; 'permafrost COMMAND --help' for a command\n"
            "\n"
            "examples:\n"
            "  permafrost -c /etc/permafrost/permafrost.conf config check\n"
            "  permafrost run db\n"
            "  permafrost list db --json\n"
            "  permafrost restore db latest --to 'host=127.0.0.1 dbname=mastodon_restore "
            "user=postgres' --create --jobs 4\n"
            "  permafrost verify db --snapshot latest --restore\n"
            "  permafrost prune --dry-run\n"
            "  permafrost daemon --check\n"
            "  permafrost keygen -o /etc/permafrost/age-identity.txt\n"
            "  permafrost store ls spaces-nyc db/\n"
            "  permafrost notify test\n"
            "\n"
            "exit codes: 0 ok, 1 failure, 2 usage, 3 config, 4 integrity, 5 locked, 130 "
            "cancelled\n"
            "documentation: docs/ (configuration.md, operations.md, exit-codes.md)\n");
}
