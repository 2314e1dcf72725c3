/* ntfy (https://docs.ntfy.sh/publish/): POST the message text to /TOPIC, with the title, priority
 * and tags in headers and an access token (Bearer) or a user and password (Basic).
 * URL: ntfy://[user:pass@|:token@]host[:port]/topic?priority=&tags=&title=&token= (HTTP) and
 * ntfys:// (HTTPS). Without priority=, a failure or warning is sent at 4 (high), a success or test
 * at 3 and a start at 2. */
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"
#include "notify/notify_priv.h"
#include "util/xalloc.h"

#define NTFY_WHAT "ntfy URL"

static int ntfy_parse_priority(const char *p)
{
    static const char *const names[] = {"min", "low", "default", "high", "max"};

    if (p[0] >= '1' && p[0] <= '5' && !p[1])
        return p[0] - '0';
    for (int i = 0; i < 5; i++)
        if (strcmp(p, names[i]) == 0)
            return i + 1;
    if (strcmp(p, "urgent") == 0)
        return 5;
    return 0;
}

static bool ntfy_is_topic(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return false;
    return true;
}

static int ntfy_parse(const struct notify_url_parts *u, struct notify_channel *ch,
                      struct error *err)
{
    static const char *const params[] = {"priority", "tags", "title", "token", NULL};
    const char *priority = notify_url_param(u, "priority");
    const char *tags = notify_url_param(u, "tags");
    const char *title = notify_url_param(u, "title");
    const char *token = notify_url_param(u, "token");
    char **segs = NULL;
    size_t count = 0;
    char *base = NULL;
    int rc = -1;

    if (notify_url_check_params(u, NTFY_WHAT, params, err) < 0)
        return -1;
    if (!notify_url_segments(u->path, &segs, &count))
        return error_set(err, ERR_CONFIG, NTFY_WHAT ": the path has a malformed %%-escape");
    if (count != 1) {
        error_set(err, ERR_CONFIG,
                  NTFY_WHAT ": expected one topic in the path, as in %s://%s/TOPIC", u->scheme,
                  "ntfy.sh");
        goto out;
    }
    if (!ntfy_is_topic(segs[0])) {
        error_set(err, ERR_CONFIG,
                  NTFY_WHAT ": the topic may hold only letters, digits, '-' and '_' (at most 64)");
        goto out;
    }
    if (priority) {
        ch->priority = ntfy_parse_priority(priority);
        if (!ch->priority) {
            error_set(err, ERR_CONFIG,
                      NTFY_WHAT
                      ": priority must be 1 to 5 or min, low, default, high, max, urgent");
            goto out;
        }
    }
    if (u->has_userinfo) {
        if (token) {
            error_set(err, ERR_CONFIG,
                      NTFY_WHAT ": give the credentials once: user:pass@, :TOKEN@ or ?token=");
            goto out;
        }
        if (!u->has_password || !u->password[0]) {
            error_set(err, ERR_CONFIG,
                      NTFY_WHAT ": credentials are user:pass@ or :TOKEN@ (an access token)");
            goto out;
        }
        if (u->user[0]) {
            secret_set(&ch->user, u->user, strlen(u->user));
            secret_set(&ch->password, u->password, strlen(u->password));
        } else {
            secret_set(&ch->token, u->password, strlen(u->password));
        }
    } else if (token) {
        if (!token[0]) {
            error_set(err, ERR_CONFIG, NTFY_WHAT ": token= is empty");
            goto out;
        }
        secret_set(&ch->token, token, strlen(token));
    }
    ch->tags = tags && tags[0] ? xstrdup(tags) : NULL;
    ch->title = title && title[0] ? xstrdup(title) : NULL;
    base = notify_url_base(u, strcmp(u->scheme, "ntfys") == 0);
    ch->endpoint = xasprintf("%s/%s", base, segs[0]);
    ch->host = notify_url_host_port(u);
    rc = 0;
out:
    xfree(base);
    notify_url_segments_free(segs, count);
    return rc;
}

static void ntfy_render(const struct notify_channel *ch, const struct notify_message *msg,
                        struct notify_request *req)
{
    struct buf title;
    struct buf auth;
    char prio[2];
    const char *tags = ch->tags;
    int p = ch->priority;

    buf_init(&title, BUF_NO_CAP);
    buf_init(&auth, BUF_NO_CAP);
    notify_render_text(msg, &title, &req->body);
    while (req->body.len && req->body.data[req->body.len - 1] == '\n')
        req->body.data[--req->body.len] = '\0';
    switch (msg->event) {
    case NOTIFY_EVENT_START:
        p = p ? p : 2;
        tags = tags ? tags : "arrow_forward";
        break;
    case NOTIFY_EVENT_SUCCESS:
        p = p ? p : 3;
        tags = tags ? tags : "white_check_mark";
        break;
    case NOTIFY_EVENT_FAILURE:
        p = p ? p : 4;
        tags = tags ? tags : "rotating_light";
        break;
    case NOTIFY_EVENT_WARNING:
        p = p ? p : 4;
        tags = tags ? tags : "warning";
        break;
    case NOTIFY_EVENT_TEST:
        p = p ? p : 3;
        tags = tags ? tags : "bell";
        break;
    }
    prio[0] = (char)('0' + p);
    prio[1] = '\0';
    req->method = "POST";
    req->url = xstrdup(ch->endpoint);
    notify_request_add_header(req, "Content-Type", "text/plain; charset=utf-8");
    notify_request_add_header(req, "Title", ch->title ? ch->title : title.data);
    notify_request_add_header(req, "Priority", prio);
    notify_request_add_header(req, "Tags", tags);
    if (secret_is_set(&ch->token)) {
        (void)buf_addf(&auth, "Bearer %s", ch->token.value);
        notify_request_add_header(req, "Authorization", auth.data);
    } else if (secret_is_set(&ch->user)) {
        struct buf pair;
        buf_init(&pair, BUF_NO_CAP);
        (void)buf_addf(&pair, "%s:%s", ch->user.value, ch->password.value);
        (void)buf_adds(&auth, "Basic ");
        notify_base64(&auth, (const unsigned char *)pair.data, pair.len);
        notify_request_add_header(req, "Authorization", auth.data);
        explicit_bzero(pair.data, pair.len);
        buf_release(&pair);
    }
    explicit_bzero(auth.data, auth.len);
    buf_release(&auth);
    buf_release(&title);
}

static void ntfy_describe(const struct notify_channel *ch, char *out, size_t cap)
{
    snprintf(out, cap, "ntfy on %s", ch->host);
}

const struct notify_ops notify_ntfy_ops = {
    .type = NOTIFY_NTFY,
    .name = "ntfy",
    .default_events = NOTIFY_EVENT_FAILURE | NOTIFY_EVENT_WARNING,
    .parse = ntfy_parse,
    .render = ntfy_render,
    .describe = ntfy_describe,
    .send = NULL,
};
