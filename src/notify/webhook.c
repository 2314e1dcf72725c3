/* Plain JSON webhooks: http:// and https:// URLs (and Apprise's json:// and jsons://) get a POST of
 * one JSON object describing the event (docs/operations.md lists the fields). */
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"
#include "notify/notify_priv.h"
#include "util/json_writer.h"
#include "util/time.h"
#include "util/xalloc.h"

static int webhook_parse(const struct notify_url_parts *u, struct notify_channel *ch,
                         struct error *err)
{
    (void)err;
    ch->endpoint =
        notify_url_full(u, strcmp(u->scheme, "https") == 0 || strcmp(u->scheme, "jsons") == 0);
    ch->host = notify_url_host_port(u);
    return 0;
}

static const char *webhook_result(enum notify_event e)
{
    switch (e) {
    case NOTIFY_EVENT_START:
        return "started";
    case NOTIFY_EVENT_SUCCESS:
        return "ok";
    case NOTIFY_EVENT_FAILURE:
        return "failed";
    case NOTIFY_EVENT_WARNING:
        return "warning";
    case NOTIFY_EVENT_TEST:
        return "test";
    }
    return "unknown";
}

static void webhook_render(const struct notify_channel *ch, const struct notify_message *msg,
                           struct notify_request *req)
{
    struct buf title;
    struct buf body;
    struct json_writer w;
    char when[TIME_ISO_LEN];

    buf_init(&title, BUF_NO_CAP);
    buf_init(&body, BUF_NO_CAP);
    notify_render_text(msg, &title, &body);
    time_format_iso(msg->time, when);
    req->method = "POST";
    req->url = xstrdup(ch->endpoint);
    notify_request_add_header(req, "Content-Type", "application/json");
    json_writer_init(&w, &req->body);
    json_begin_object(&w);
    json_key_string(&w, "event", notify_event_name(msg->event));
    json_key_string(&w, "job", msg->job);
    json_key_string(&w, "kind", msg->job_kind);
    json_key_string(&w, "result", webhook_result(msg->event));
    json_key_string(&w, "host", msg->host);
    json_key_string(&w, "snapshot",
                    msg->snapshot_id && msg->snapshot_id[0] ? msg->snapshot_id : NULL);
    if (msg->duration_ms >= 0)
        json_key_int(&w, "duration_ms", msg->duration_ms);
    else
        json_key_string(&w, "duration_ms", NULL);
    json_key_uint(&w, "raw_bytes", msg->raw_bytes);
    json_key_uint(&w, "stored_bytes", msg->stored_bytes);
    json_key(&w, "stores");
    json_begin_array(&w);
    for (size_t i = 0; i < msg->store_count; i++) {
        json_begin_object(&w);
        json_key_string(&w, "store", msg->stores[i].store);
        json_key_bool(&w, "ok", msg->stores[i].is_ok);
        json_key_string(&w, "detail", msg->stores[i].detail);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_key_string(&w, "summary", msg->summary);
    json_key_string(&w, "warning", msg->warning);
    json_key_string(&w, "error", msg->error);
    json_key_string(&w, "hint", msg->hint);
    json_key_int(&w, "exit_code", msg->exit_code);
    json_key_string(&w, "time", when);
    json_key_string(&w, "run_id", msg->run_id);
    json_key_string(&w, "message_id", msg->message_id);
    json_key_string(&w, "title", title.data);
    json_key_string(&w, "text", body.data);
    json_end_object(&w);
    buf_release(&title);
    buf_release(&body);
}

static void webhook_describe(const struct notify_channel *ch, char *out, size_t cap)
{
    snprintf(out, cap, "webhook on %s", ch->host);
}

const struct notify_ops notify_webhook_ops = {
    .type = NOTIFY_WEBHOOK,
    .name = "webhook",
    .default_events = NOTIFY_EVENT_FAILURE | NOTIFY_EVENT_WARNING,
    .parse = webhook_parse,
    .render = webhook_render,
    .describe = webhook_describe,
    .send = NULL,
};
