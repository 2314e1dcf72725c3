/* healthchecks.io pings (https://healthchecks.io/docs/http_api/): a start ping (URL/start) when a
 * job begins, a success ping (URL) when it ends well, a failure ping (URL/fail) with the end of the
 * log as body (the service keeps 100 kB), all with ?rid=RUN so start and finish pair up. A warning
 * is a success ping whose body says what needs a look (the run finished); a test message goes to
 * URL/log, which records it without changing the check's state.
 * URL forms: hc://UUID, hc://PING_KEY/SLUG (https://hc-ping.com/...), hc+https://HOST/PATH and
 * hc+http://HOST:PORT/PATH for a self-hosted instance, and a pasted https://hc-ping.com/... URL. */
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"
#include "notify/notify_priv.h"
#include "util/xalloc.h"

#define HC_WHAT "healthchecks URL"

static int healthchecks_parse(const struct notify_url_parts *u, struct notify_channel *ch,
                              struct error *err)
{
    char **segs = NULL;
    size_t count = 0;
    int rc = -1;
    bool is_full = strcmp(u->scheme, "hc") != 0;

    if (u->query[0])
        ch->query = xstrdup(u->query);
    if (is_full) {
        char *full = notify_url_full(u, strcmp(u->scheme, "hc+http") != 0);
        char *q = strchr(full, '?');
        if (q)
            *q = '\0';
        if (!u->path[0] || strcmp(u->path, "/") == 0) {
            xfree(full);
            return error_set(err, ERR_CONFIG,
                             HC_WHAT ": the ping URL needs its path, as in "
                                     "https://hc-ping.com/UUID");
        }
        /* URL/start and URL/fail are appended: no trailing slash. */
        while (full[strlen(full) - 1] == '/')
            full[strlen(full) - 1] = '\0';
        ch->endpoint = full;
        ch->host = notify_url_host_port(u);
        return 0;
    }
    if (u->has_userinfo || u->port)
        return error_set(err, ERR_CONFIG, HC_WHAT ": expected hc://UUID or hc://PING_KEY/SLUG");
    if (!notify_is_token(u->host))
        return error_set(err, ERR_CONFIG, HC_WHAT ": the check's UUID or ping key is malformed");
    if (!notify_url_segments(u->path, &segs, &count))
        return error_set(err, ERR_CONFIG, HC_WHAT ": the path has a malformed %%-escape");
    if (count > 1) {
        error_set(err, ERR_CONFIG, HC_WHAT ": expected hc://UUID or hc://PING_KEY/SLUG");
        goto out;
    }
    if (count == 1 && !notify_is_token(segs[0])) {
        error_set(err, ERR_CONFIG, HC_WHAT ": the slug is malformed");
        goto out;
    }
    ch->endpoint = count ? xasprintf("https://hc-ping.com/%s/%s", u->host, segs[0])
                         : xasprintf("https://hc-ping.com/%s", u->host);
    ch->host = xstrdup("hc-ping.com");
    rc = 0;
out:
    notify_url_segments_free(segs, count);
    return rc;
}

static void healthchecks_render(const struct notify_channel *ch, const struct notify_message *msg,
                                struct notify_request *req)
{
    const char *suffix = "";
    struct buf url;

    switch (msg->event) {
    case NOTIFY_EVENT_START:
        suffix = "/start";
        break;
    case NOTIFY_EVENT_FAILURE:
        suffix = "/fail";
        break;
    case NOTIFY_EVENT_TEST:
        suffix = "/log";
        break;
    case NOTIFY_EVENT_SUCCESS:
    case NOTIFY_EVENT_WARNING:
        break;
    }
    buf_init(&url, BUF_NO_CAP);
    (void)buf_addf(&url, "%s%s", ch->endpoint, suffix);
    if (ch->query)
        (void)buf_addf(&url, "?%s", ch->query);
    if (msg->run_id && msg->event != NOTIFY_EVENT_TEST)
        (void)buf_addf(&url, "%srid=%s", ch->query ? "&" : "?", msg->run_id);
    req->method = "POST";
    req->url = buf_detach(&url, NULL);
    notify_request_add_header(req, "Content-Type", "text/plain; charset=utf-8");
    notify_render_plain(msg, &req->body);
    (void)buf_adds(&req->body, "\n");
    if (msg->event == NOTIFY_EVENT_FAILURE && msg->log_tail && msg->log_tail[0]) {
        /* The service keeps the first 100 kB: the summary above, then the end of the log. */
        const char *tail = msg->log_tail;
        size_t len = strlen(tail);
        size_t room;

        (void)buf_adds(&req->body, "\nlog tail:\n");
        room = req->body.len < NOTIFY_LOG_TAIL_MAX ? NOTIFY_LOG_TAIL_MAX - req->body.len : 0;
        if (len > room) {
            tail += len - room;
            /* Start on a line (or at least a character) boundary. */
            while (*tail && ((unsigned char)*tail & 0xc0) == 0x80)
                tail++;
        }
        (void)buf_adds(&req->body, tail);
    }
}

static void healthchecks_describe(const struct notify_channel *ch, char *out, size_t cap)
{
    snprintf(out, cap, "healthchecks on %s", ch->host);
}

const struct notify_ops notify_healthchecks_ops = {
    .type = NOTIFY_HEALTHCHECKS,
    .name = "healthchecks",
    .default_events =
        NOTIFY_EVENT_START | NOTIFY_EVENT_SUCCESS | NOTIFY_EVENT_FAILURE | NOTIFY_EVENT_WARNING,
    .parse = healthchecks_parse,
    .render = healthchecks_render,
    .describe = healthchecks_describe,
    .send = NULL,
};
