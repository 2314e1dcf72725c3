/* Slack incoming webhooks (https://api.slack.com/messaging/webhooks): POST {"text": ...} as JSON.
 * URL forms: Apprise's slack://TokenA/TokenB/TokenC[/#channel], shoutrrr's
 * slack://hook:TokenA-TokenB-TokenC@webhook, and slack+https://HOST/PATH (or slack+http://) for
 * any Slack-compatible incoming webhook (Mattermost's is one). */
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"
#include "notify/notify_priv.h"
#include "util/json_writer.h"
#include "util/strv.h"
#include "util/xalloc.h"

#define SLACK_WHAT "slack URL"
#define SLACK_FORMS                                                                                \
    "expected slack://TokenA/TokenB/TokenC[/#channel] or "                                         \
    "slack://hook:TokenA-TokenB-TokenC@webhook"

static int slack_parse_hook(const struct notify_url_parts *u, struct notify_channel *ch,
                            struct error *err)
{
    char *t = u->password;
    char *parts[3] = {NULL, NULL, NULL};
    size_t n = 0;
    struct strv rest = strv_from(t);
    struct strv seg;
    int rc = -1;

    if (strcmp(u->user, "hook") != 0 || !u->has_password || strcmp(u->host, "webhook") != 0) {
        if (strncmp(u->user, "xox", 3) == 0)
            return error_set(err, ERR_CONFIG,
                             SLACK_WHAT ": bot tokens are not supported; " SLACK_FORMS);
        return error_set(err, ERR_CONFIG, SLACK_WHAT ": " SLACK_FORMS);
    }
    while (rest.len && n < 3) {
        (void)strv_cut(&rest, '-', &seg);
        parts[n++] = strv_dup(seg);
    }
    if (n != 3 || rest.len || !notify_is_token(parts[0]) || !notify_is_token(parts[1]) ||
        !notify_is_token(parts[2])) {
        error_set(err, ERR_CONFIG,
                  SLACK_WHAT ": the token after 'hook:' must be TokenA-TokenB-TokenC (the three "
                             "parts of the webhook URL after /services/)");
        goto out;
    }
    if (u->path[0] && strcmp(u->path, "/") != 0) {
        error_set(err, ERR_CONFIG, SLACK_WHAT ": nothing may follow 'webhook' but a query");
        goto out;
    }
    ch->endpoint =
        xasprintf("https://hooks.slack.com/services/%s/%s/%s", parts[0], parts[1], parts[2]);
    rc = 0;
out:
    for (size_t i = 0; i < n; i++) {
        explicit_bzero(parts[i], strlen(parts[i]));
        xfree(parts[i]);
    }
    return rc;
}

static int slack_parse(const struct notify_url_parts *u, struct notify_channel *ch,
                       struct error *err)
{
    static const char *const none[] = {NULL};
    char **segs = NULL;
    size_t count = 0;
    char *a = NULL;
    int rc = -1;

    if (strcmp(u->scheme, "slack+https") == 0 || strcmp(u->scheme, "slack+http") == 0) {
        if (!u->path[0] || strcmp(u->path, "/") == 0)
            return error_set(err, ERR_CONFIG,
                             SLACK_WHAT ": %s:// needs the webhook's path, as in "
                                        "%s://chat.example.org/hooks/TOKEN",
                             u->scheme, u->scheme);
        ch->endpoint = notify_url_full(u, strcmp(u->scheme, "slack+https") == 0);
        ch->host = notify_url_host_port(u);
        return 0;
    }
    if (notify_url_check_params(u, SLACK_WHAT, none, err) < 0)
        return -1;
    if (u->port)
        return error_set(err, ERR_CONFIG, SLACK_WHAT ": a port is not expected; " SLACK_FORMS);
    ch->host = xstrdup("hooks.slack.com");
    if (u->has_userinfo)
        return slack_parse_hook(u, ch, err);
    a = notify_url_decode(u->host, strlen(u->host));
    if (!a || !notify_is_token(a)) {
        error_set(err, ERR_CONFIG, SLACK_WHAT ": TokenA is malformed; " SLACK_FORMS);
        goto out;
    }
    if (!notify_url_segments(u->path, &segs, &count)) {
        error_set(err, ERR_CONFIG, SLACK_WHAT ": the path has a malformed %%-escape");
        goto out;
    }
    if (count < 2 || count > 3) {
        error_set(err, ERR_CONFIG, SLACK_WHAT ": the path has %zu part%s; " SLACK_FORMS, count,
                  count == 1 ? "" : "s");
        goto out;
    }
    if (!notify_is_token(segs[0]) || !notify_is_token(segs[1])) {
        error_set(err, ERR_CONFIG, SLACK_WHAT ": TokenB or TokenC is malformed; " SLACK_FORMS);
        goto out;
    }
    if (count == 3) {
        const char *c = segs[2];
        ch->slack_channel = c[0] == '#' || c[0] == '@' ? xstrdup(c) : xasprintf("#%s", c);
    }
    ch->endpoint = xasprintf("https://hooks.slack.com/services/%s/%s/%s", a, segs[0], segs[1]);
    rc = 0;
out:
    if (a)
        explicit_bzero(a, strlen(a));
    xfree(a);
    notify_url_segments_free(segs, count);
    return rc;
}

static void slack_render(const struct notify_channel *ch, const struct notify_message *msg,
                         struct notify_request *req)
{
    struct buf text;
    struct json_writer w;

    buf_init(&text, BUF_NO_CAP);
    notify_render_plain(msg, &text);
    req->method = "POST";
    req->url = xstrdup(ch->endpoint);
    notify_request_add_header(req, "Content-Type", "application/json");
    json_writer_init(&w, &req->body);
    json_begin_object(&w);
    json_key_string(&w, "text", text.data);
    if (ch->slack_channel)
        json_key_string(&w, "channel", ch->slack_channel);
    json_end_object(&w);
    buf_release(&text);
}

static void slack_describe(const struct notify_channel *ch, char *out, size_t cap)
{
    if (strcmp(ch->host, "hooks.slack.com") == 0)
        snprintf(out, cap, "slack webhook%s%s", ch->slack_channel ? " to " : "",
                 ch->slack_channel ? ch->slack_channel : "");
    else
        snprintf(out, cap, "slack-compatible webhook on %s", ch->host);
}

const struct notify_ops notify_slack_ops = {
    .type = NOTIFY_SLACK,
    .name = "slack",
    .default_events = NOTIFY_EVENT_FAILURE | NOTIFY_EVENT_WARNING,
    .parse = slack_parse,
    .render = slack_render,
    .describe = slack_describe,
    .send = NULL,
};
