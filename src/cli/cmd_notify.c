/* permafrost notify test|list: the [notify "NAME"] channels, described without their secrets. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <getopt.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/alerts.h"
#include "notify/notify.h"
#include "util/buf.h"
#include "util/json_writer.h"
#include "util/xalloc.h"

static const char notify_usage[] =
    "usage: permafrost notify test [NAME...]\n"
    "       permafrost notify list [--json]\n"
    "\n"
    "The notification channels of the [notify \"NAME\"] sections. A channel's URL\n"
    "usually holds a token, so channels are shown by their service and host only\n"
    "('discord webhook', 'ntfy on ntfy.sh').\n"
    "\n"
    "  test   send a test message to each channel (or the named ones), whatever its\n"
    "         'on' and 'jobs'; prints 'ok' or the error per channel; a healthchecks\n"
    "         channel gets a /log ping, which does not change the check's state.\n"
    "         Each channel is tried up to 3 times (429, 5xx and network errors).\n"
    "         Exit status 1 when any channel failed.\n"
    "  list   one line per channel: name, description, events, jobs\n"
    "\n"
    "examples:\n"
    "  permafrost notify list\n"
    "  permafrost notify test              # every channel\n"
    "  permafrost notify test ops deadman  # two of them\n";

static void notify_events_text(unsigned events, struct buf *out)
{
    static const enum notify_event all[] = {NOTIFY_EVENT_START, NOTIFY_EVENT_SUCCESS,
                                            NOTIFY_EVENT_FAILURE, NOTIFY_EVENT_WARNING};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (events & (unsigned)all[i])
            (void)buf_addf(out, "%s%s", out->len ? "," : "", notify_event_name(all[i]));
}

static int notify_list(struct alerts *a, bool is_json)
{
    struct buf out;
    struct json_writer w;

    buf_init(&out, BUF_NO_CAP);
    json_writer_init(&w, &out);
    w.indent = 2;
    if (is_json)
        json_begin_array(&w);
    else if (alerts_count(a) == 0)
        printf("no [notify] channels configured\n");
    for (size_t i = 0; i < alerts_count(a); i++) {
        struct alerts_channel_info info;
        struct buf ev;

        alerts_describe(a, i, &info);
        buf_init(&ev, BUF_NO_CAP);
        notify_events_text(info.events, &ev);
        if (is_json) {
            json_begin_object(&w);
            json_key_string(&w, "name", info.name);
            json_key_string(&w, "type", info.type);
            json_key_string(&w, "description", info.description);
            json_key_string(&w, "on", ev.data);
            json_key_bool(&w, "on_default", info.is_default_events);
            json_key(&w, "jobs");
            if (info.jobs) {
                json_begin_array(&w);
                for (size_t j = 0; j < info.job_count; j++)
                    json_string(&w, info.jobs[j]);
                json_end_array(&w);
            } else {
                json_null(&w);
            }
            json_end_object(&w);
        } else {
            printf("%-16s %s\n", info.name, info.description);
            printf("%-16s on %s%s; jobs ", "", ev.data, info.is_default_events ? " (default)" : "");
            if (!info.jobs)
                printf("all");
            for (size_t j = 0; info.jobs && j < info.job_count; j++)
                printf("%s%s", j ? ", " : "", info.jobs[j]);
            printf("\n");
        }
        buf_release(&ev);
    }
    if (is_json) {
        json_end_array(&w);
        printf("%s\n", out.data);
    }
    buf_release(&out);
    return 0;
}

static int notify_test(struct alerts *a, char **names, int count, struct error *err)
{
    struct notify_message m;
    char host[256];
    char run_id[NOTIFY_ID_LEN];
    size_t failed = 0;
    size_t sent = 0;

    for (int i = 0; i < count; i++) {
        if (alerts_find(a, names[i]) < 0) {
            error_set(err, ERR_USAGE, "unknown notification channel '%s'", names[i]);
            return error_hint(err, "'permafrost notify list' shows the channels");
        }
    }
    if (alerts_count(a) == 0) {
        error_set(err, ERR_CONFIG, "no [notify \"NAME\"] channels configured");
        return error_hint(err, "see docs/operations.md, 'Notifications'");
    }
    if (gethostname(host, sizeof(host)) < 0)
        buf_format_fixed(host, sizeof(host), "%s", "unknown");
    host[sizeof(host) - 1] = '\0';
    notify_new_id(run_id);
    memset(&m, 0, sizeof(m));
    m.event = NOTIFY_EVENT_TEST;
    m.host = host;
    m.duration_ms = -1;
    m.time = time(NULL);
    m.run_id = run_id;
    for (size_t i = 0; i < alerts_count(a); i++) {
        struct alerts_channel_info info;
        struct error e = ERROR_INIT;
        char msg_id[NOTIFY_ID_LEN];
        bool is_wanted = count == 0;

        alerts_describe(a, i, &info);
        for (int j = 0; j < count; j++)
            if (strcmp(names[j], info.name) == 0)
                is_wanted = true;
        if (!is_wanted)
            continue;
        notify_new_id(msg_id);
        m.message_id = msg_id;
        sent++;
        if (alerts_send_to(a, i, &m, &e) == 0) {
            printf("%-16s ok      %s\n", info.name, info.description);
        } else {
            failed++;
            printf("%-16s FAILED  %s: %s\n", info.name, info.description, e.msg);
        }
        (void)fflush(stdout);
    }
    if (failed)
        return error_set(err, ERR_FAILED, "%zu of %zu notification channels failed", failed, sent);
    return 0;
}

int cmd_notify(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct alerts *a = NULL;
    const char *sub;
    int rc = -1;
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            ctx->is_json = true;
            break;
        case 'h':
            (void)fputs(notify_usage, stdout);
            return 0;
        default:
            error_set(err, ERR_USAGE, "invalid arguments to 'notify'");
            return error_hint(err, "permafrost notify --help");
        }
    }
    if (optind >= argc) {
        error_set(err, ERR_USAGE, "'notify' needs a subcommand: test or list");
        return error_hint(err, "permafrost notify --help");
    }
    sub = argv[optind++];
    /* Options after the subcommand ("notify list --json"). */
    while (optind < argc && strcmp(argv[optind], "--json") == 0) {
        ctx->is_json = true;
        optind++;
    }
    if (strcmp(sub, "test") != 0 && strcmp(sub, "list") != 0) {
        error_set(err, ERR_USAGE, "unknown 'notify' subcommand '%s'", sub);
        return error_hint(err, "permafrost notify --help");
    }
    if (strcmp(sub, "list") == 0 && optind < argc) {
        error_set(err, ERR_USAGE, "'notify list' takes no arguments");
        return error_hint(err, "permafrost notify --help");
    }
    if (alerts_open(ctx->cfg, &a, err) < 0)
        return -1;
    if (strcmp(sub, "list") == 0)
        rc = notify_list(a, ctx->is_json);
    else
        rc = notify_test(a, argv + optind, argc - optind, err);
    alerts_close(a);
    return rc;
}
