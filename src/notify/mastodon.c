/* Mastodon statuses (https://docs.joinmastodon.org/methods/statuses/#create): POST
 * /api/v1/statuses with a Bearer access token (scope write:statuses), JSON {"status", "visibility"}
 * and an Idempotency-Key header (the message's id, so a retry does not post twice). The status is
 * cut to 500 characters. By default it is a direct message, which must mention its reader: the
 * admin account is given in the path.
 * URL: mastodon://TOKEN@host[:port][/@user]?visibility=direct|private|unlisted|public (HTTP) and
 * mastodons:// (HTTPS); toot:// and toots:// are aliases (Apprise). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"
#include "notify/notify_priv.h"
#include "util/json_writer.h"
#include "util/xalloc.h"

#define MASTODON_WHAT "mastodon URL"

static bool mastodon_is_account(const char *s)
{
    int ats = 0;

    if (!s[0])
        return false;
    for (; *s; s++) {
        if (*s == '@')
            ats++;
        else if (!isalnum((unsigned char)*s) && !strchr("-._~", *s))
            return false;
    }
    return ats <= 1;
}

static int mastodon_parse(const struct notify_url_parts *u, struct notify_channel *ch,
                          struct error *err)
{
    static const char *const params[] = {"visibility", NULL};
    static const char *const visibilities[] = {"direct", "private", "unlisted", "public", NULL};
    const char *vis = notify_url_param(u, "visibility");
    bool is_tls = strcmp(u->scheme, "mastodons") == 0 || strcmp(u->scheme, "toots") == 0;
    char **segs = NULL;
    size_t count = 0;
    const char *token;
    bool is_known = false;
    int rc = -1;

    if (notify_url_check_params(u, MASTODON_WHAT, params, err) < 0)
        return -1;
    vis = vis ? vis : "direct";
    for (size_t i = 0; visibilities[i]; i++)
        if (strcmp(vis, visibilities[i]) == 0)
            is_known = true;
    if (!is_known)
        return error_set(err, ERR_CONFIG,
                         MASTODON_WHAT ": visibility must be direct, private, unlisted or public");
    if (!u->has_userinfo || (u->user[0] && u->has_password))
        return error_set(err, ERR_CONFIG,
                         MASTODON_WHAT ": expected %s://ACCESS_TOKEN@HOST/@ACCOUNT", u->scheme);
    token = u->user[0] ? u->user : u->password;
    if (!token[0])
        return error_set(err, ERR_CONFIG, MASTODON_WHAT ": the access token is empty");
    if (!notify_url_segments(u->path, &segs, &count))
        return error_set(err, ERR_CONFIG, MASTODON_WHAT ": the path has a malformed %%-escape");
    if (count > 1) {
        error_set(err, ERR_CONFIG,
                  MASTODON_WHAT ": the path is the account to mention (/@admin), nothing more");
        goto out;
    }
    if (count == 1) {
        const char *acct = segs[0][0] == '@' ? segs[0] + 1 : segs[0];
        if (!mastodon_is_account(acct)) {
            error_set(err, ERR_CONFIG,
                      MASTODON_WHAT ": the account to mention is malformed (expected /@user or "
                                    "/@user@server)");
            goto out;
        }
        ch->mention = xasprintf("@%s", acct);
    }
    if (strcmp(vis, "direct") == 0 && !ch->mention) {
        error_set(err, ERR_CONFIG,
                  MASTODON_WHAT ": a direct message needs the account to mention, as in "
                                "%s://TOKEN@HOST/@admin (or set visibility=private, unlisted or "
                                "public)",
                  u->scheme);
        goto out;
    }
    ch->visibility = xstrdup(vis);
    secret_set(&ch->token, token, strlen(token));
    ch->endpoint = notify_url_base(u, is_tls);
    ch->host = notify_url_host_port(u);
    rc = 0;
out:
    notify_url_segments_free(segs, count);
    return rc;
}

static void mastodon_render(const struct notify_channel *ch, const struct notify_message *msg,
                            struct notify_request *req)
{
    struct buf status;
    struct json_writer w;
    char *auth = xasprintf("Bearer %s", ch->token.value);

    buf_init(&status, BUF_NO_CAP);
    if (ch->mention)
        (void)buf_addf(&status, "%s ", ch->mention);
    notify_render_plain(msg, &status);
    notify_cut_chars(&status, NOTIFY_MASTODON_CHARS);
    req->method = "POST";
    req->url = xasprintf("%s/api/v1/statuses", ch->endpoint);
    notify_request_add_header(req, "Authorization", auth);
    notify_request_add_header(req, "Content-Type", "application/json");
    notify_request_add_header(req, "Idempotency-Key",
                              msg->message_id ? msg->message_id : "permafrost");
    json_writer_init(&w, &req->body);
    json_begin_object(&w);
    json_key_string(&w, "status", status.data);
    json_key_string(&w, "visibility", ch->visibility);
    json_end_object(&w);
    explicit_bzero(auth, strlen(auth));
    xfree(auth);
    buf_release(&status);
}

static void mastodon_describe(const struct notify_channel *ch, char *out, size_t cap)
{
    snprintf(out, cap, "mastodon on %s as %s%s%s", ch->host, ch->visibility,
             ch->mention ? " to " : "", ch->mention ? ch->mention : "");
}

const struct notify_ops notify_mastodon_ops = {
    .type = NOTIFY_MASTODON,
    .name = "mastodon",
    .default_events = NOTIFY_EVENT_FAILURE | NOTIFY_EVENT_WARNING,
    .parse = mastodon_parse,
    .render = mastodon_render,
    .describe = mastodon_describe,
    .send = NULL,
};
