/* The text of a notification, rendered once for every channel: what an operator woken at 3 a.m.
 * needs to decide what to do, in a title and a few "label: value" lines. Everything here comes from
 * the job's results, which hold no secrets (errors are written without them). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"
#include "notify/notify_priv.h"
#include "util/time.h"

const char *notify_event_name(enum notify_event event)
{
    switch (event) {
    case NOTIFY_EVENT_START:
        return "start";
    case NOTIFY_EVENT_SUCCESS:
        return "success";
    case NOTIFY_EVENT_FAILURE:
        return "failure";
    case NOTIFY_EVENT_WARNING:
        return "warning";
    case NOTIFY_EVENT_TEST:
        return "test";
    }
    return "unknown";
}

/* "3.1 MiB", "512 B" */
static void notify_format_size(uint64_t bytes, char out[32])
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    size_t u = 0;

    if (bytes < 1024) {
        snprintf(out, 32, "%" PRIu64 " B", bytes);
        return;
    }
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    buf_format_fixed(out, 32, "%.1f %s", v, units[u]);
}

static const char *notify_result_word(enum notify_event event)
{
    switch (event) {
    case NOTIFY_EVENT_START:
        return "started";
    case NOTIFY_EVENT_SUCCESS:
        return "ok";
    case NOTIFY_EVENT_FAILURE:
        return "FAILED";
    case NOTIFY_EVENT_WARNING:
        return "ok with a warning";
    case NOTIFY_EVENT_TEST:
        return "test";
    }
    return "?";
}

void notify_render_text(const struct notify_message *msg, struct buf *title, struct buf *body)
{
    char when[TIME_ISO_LEN];
    char dur[TIME_ISO_LEN];
    char raw[32];
    char stored[32];
    const char *job = msg->job ? msg->job : "?";

    time_format_iso(msg->time, when);
    if (msg->event == NOTIFY_EVENT_TEST) {
        (void)buf_addf(title, "permafrost: test notification%s%s", msg->host ? " from " : "",
                       msg->host ? msg->host : "");
        (void)buf_adds(body, "This is a test message from permafrost: this channel works.\n");
        if (msg->host)
            (void)buf_addf(body, "host: %s\n", msg->host);
        (void)buf_addf(body, "time: %s\n", when);
        return;
    }
    (void)buf_addf(title, "permafrost: job '%s' %s%s%s", job, notify_result_word(msg->event),
                   msg->host ? " on " : "", msg->host ? msg->host : "");
    (void)buf_addf(body, "job: %s%s%s%s\n", job, msg->job_kind ? " (" : "",
                   msg->job_kind ? msg->job_kind : "", msg->job_kind ? ")" : "");
    if (msg->event == NOTIFY_EVENT_FAILURE && msg->exit_code)
        (void)buf_addf(body, "result: failed (exit %d)\n", msg->exit_code);
    else if (msg->event == NOTIFY_EVENT_FAILURE)
        (void)buf_adds(body, "result: failed\n");
    else if (msg->event == NOTIFY_EVENT_WARNING)
        (void)buf_adds(body, "result: ok, with a warning\n");
    else if (msg->event == NOTIFY_EVENT_SUCCESS)
        (void)buf_adds(body, "result: ok\n");
    else
        (void)buf_adds(body, "result: started\n");
    if (msg->host)
        (void)buf_addf(body, "host: %s\n", msg->host);
    if (msg->snapshot_id && msg->snapshot_id[0])
        (void)buf_addf(body, "snapshot: %s\n", msg->snapshot_id);
    if (msg->duration_ms >= 0 && msg->event != NOTIFY_EVENT_START) {
        time_format_duration(msg->duration_ms, dur);
        (void)buf_addf(body, "duration: %s\n", dur);
    }
    if (msg->raw_bytes || msg->stored_bytes) {
        notify_format_size(msg->raw_bytes, raw);
        notify_format_size(msg->stored_bytes, stored);
        (void)buf_addf(body, "size: %s, stored %s\n", raw, stored);
    }
    for (size_t i = 0; i < msg->store_count; i++) {
        const struct notify_store_outcome *s = &msg->stores[i];
        bool has_detail = s->detail && s->detail[0];
        if (!has_detail)
            (void)buf_addf(body, "store %s: %s\n", s->store, s->is_ok ? "ok" : "FAILED");
        else if (s->is_ok)
            (void)buf_addf(body, "store %s: ok (%s)\n", s->store, s->detail);
        else
            (void)buf_addf(body, "store %s: FAILED: %s\n", s->store, s->detail);
    }
    if (msg->summary && msg->summary[0])
        (void)buf_addf(body, "summary: %s\n", msg->summary);
    if (msg->warning && msg->warning[0])
        (void)buf_addf(body, "warning: %s\n", msg->warning);
    if (msg->error && msg->error[0])
        (void)buf_addf(body, "error: %s\n", msg->error);
    if (msg->hint && msg->hint[0])
        (void)buf_addf(body, "hint: %s\n", msg->hint);
    (void)buf_addf(body, "time: %s\n", when);
}

void notify_render_plain(const struct notify_message *msg, struct buf *out)
{
    struct buf title;
    struct buf body;

    buf_init(&title, BUF_NO_CAP);
    buf_init(&body, BUF_NO_CAP);
    notify_render_text(msg, &title, &body);
    (void)buf_addf(out, "%s\n%s", title.data, body.data);
    /* No trailing newline: chat services show it as an empty line. */
    while (out->len && out->data[out->len - 1] == '\n')
        out->data[--out->len] = '\0';
    buf_release(&title);
    buf_release(&body);
}
