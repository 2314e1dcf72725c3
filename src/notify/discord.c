/* Discord webhooks (https://discord.com/developers/docs/resources/webhook#execute-webhook): POST
 * {"content": ...} as JSON, at most 2000 characters. URL forms: Apprise's
 * discord://WEBHOOK_ID/WEBHOOK_TOKEN, shoutrrr's discord://TOKEN@WEBHOOK_ID, and
 * discord+https://HOST/PATH (or discord+http://) for a full webhook URL. ?thread_id= posts into a
 * thread. */
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"
#include "notify/notify_priv.h"
#include "util/json_writer.h"
#include "util/xalloc.h"

#define DISCORD_WHAT  "discord URL"
#define DISCORD_FORMS "expected discord://WEBHOOK_ID/WEBHOOK_TOKEN or discord://TOKEN@WEBHOOK_ID"

static bool discord_is_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static int discord_parse(const struct notify_url_parts *u, struct notify_channel *ch,
                         struct error *err)
{
    static const char *const params[] = {"thread_id", NULL};
    const char *thread = notify_url_param(u, "thread_id");
    char **segs = NULL;
    size_t count = 0;
    const char *token;
    int rc = -1;

    if (strcmp(u->scheme, "discord+https") == 0 || strcmp(u->scheme, "discord+http") == 0) {
        if (!u->path[0] || strcmp(u->path, "/") == 0)
            return error_set(err, ERR_CONFIG,
                             DISCORD_WHAT ": %s:// needs the webhook's path, as in "
                                          "%s://discord.com/api/webhooks/ID/TOKEN",
                             u->scheme, u->scheme);
        ch->endpoint = notify_url_full(u, strcmp(u->scheme, "discord+https") == 0);
        ch->host = notify_url_host_port(u);
        return 0;
    }
    if (notify_url_check_params(u, DISCORD_WHAT, params, err) < 0)
        return -1;
    if (thread && !discord_is_digits(thread))
        return error_set(err, ERR_CONFIG, DISCORD_WHAT ": thread_id must be a number");
    if (u->port || u->has_password)
        return error_set(err, ERR_CONFIG, DISCORD_WHAT ": " DISCORD_FORMS);
    if (!discord_is_digits(u->host))
        return error_set(err, ERR_CONFIG,
                         DISCORD_WHAT ": the webhook id must be a number; " DISCORD_FORMS);
    if (!notify_url_segments(u->path, &segs, &count))
        return error_set(err, ERR_CONFIG, DISCORD_WHAT ": the path has a malformed %%-escape");
    if (u->has_userinfo ? count != 0 : count != 1) {
        error_set(err, ERR_CONFIG, DISCORD_WHAT ": " DISCORD_FORMS);
        goto out;
    }
    token = u->has_userinfo ? u->user : segs[0];
    if (!notify_is_token(token)) {
        error_set(err, ERR_CONFIG, DISCORD_WHAT ": the webhook token is malformed");
        goto out;
    }
    ch->endpoint = xasprintf("https://discord.com/api/webhooks/%s/%s%s%s", u->host, token,
                             thread ? "?thread_id=" : "", thread ? thread : "");
    ch->host = xstrdup("discord.com");
    rc = 0;
out:
    notify_url_segments_free(segs, count);
    return rc;
}

static void discord_render(const struct notify_channel *ch, const struct notify_message *msg,
                           struct notify_request *req)
{
    struct buf text;
    struct json_writer w;

    buf_init(&text, BUF_NO_CAP);
    notify_render_plain(msg, &text);
    notify_cut_chars(&text, NOTIFY_DISCORD_CHARS);
    req->method = "POST";
    req->url = xstrdup(ch->endpoint);
    notify_request_add_header(req, "Content-Type", "application/json");
    json_writer_init(&w, &req->body);
    json_begin_object(&w);
    json_key_string(&w, "content", text.data);
    json_end_object(&w);
    buf_release(&text);
}

static void discord_describe(const struct notify_channel *ch, char *out, size_t cap)
{
    if (strcmp(ch->host, "discord.com") == 0)
        snprintf(out, cap, "discord webhook");
    else
        snprintf(out, cap, "discord webhook on %s", ch->host);
}

const struct notify_ops notify_discord_ops = {
    .type = NOTIFY_DISCORD,
    .name = "discord",
    .default_events = NOTIFY_EVENT_FAILURE | NOTIFY_EVENT_WARNING,
    .parse = discord_parse,
    .render = discord_render,
    .describe = discord_describe,
    .send = NULL,
};
