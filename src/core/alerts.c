/* The notification dispatcher (see alerts.h). The retry policy lives here rather than in the
 * channels: a channel makes one attempt and says whether another could help. */
#include "core/alerts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/http.h"
#include "util/cancel.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/time.h"
#include "util/xalloc.h"

struct alerts_channel {
    const struct cfg_notify *cfg; /* borrowed from the config */
    struct notify_channel *ch;
    unsigned events;
};

struct alerts {
    struct alerts_channel *channels;
    size_t count;
    struct http_client *http;
    long attempt_timeout_ms;
};

/* Backoff before attempt 2 and 3. */
static const long alerts_backoff_ms[ALERTS_ATTEMPTS - 1] = {1000, 3000};

static int alerts_parse_one(const struct config *cfg, const struct cfg_notify *n,
                            struct notify_channel **out, struct error *err)
{
    if (!secret_is_set(&n->url) || !n->url.value[0])
        return error_set(err, ERR_CONFIG, "%s:%d: notify '%s': no url", cfg->path, n->line,
                         n->name);
    if (notify_channel_parse(n->url.value, out, err) < 0) {
        error_wrap(err, "%s:%d: notify '%s'", cfg->path, n->line, n->name);
        if (strcmp(n->url_ref ? n->url_ref : "inline", "inline") != 0)
            error_hint(err, "the URL comes from %s; see docs/operations.md, 'Notifications'",
                       n->url_ref);
        else
            error_hint(err, "see docs/operations.md, 'Notifications', for the URL forms");
        return -1;
    }
    return 0;
}

int alerts_check_config(const struct config *cfg, struct error *err)
{
    for (size_t i = 0; i < cfg->notify_count; i++) {
        struct notify_channel *ch = NULL;
        if (alerts_parse_one(cfg, &cfg->notifies[i], &ch, err) < 0)
            return -1;
        notify_channel_free(ch);
    }
    return 0;
}

/* PERMAFROST_NOTIFY_TIMEOUT_MS: a shorter limit per attempt, for the tests of a receiver that
 * hangs. */
static long alerts_attempt_timeout(void)
{
    const char *v = getenv("PERMAFROST_NOTIFY_TIMEOUT_MS");
    uint64_t ms = 0;

    if (v && strv_to_u64(strv_from(v), &ms) && ms >= 100 && ms <= NOTIFY_TIMEOUT_MS)
        return (long)ms;
    return NOTIFY_TIMEOUT_MS;
}

int alerts_open(const struct config *cfg, struct alerts **out, struct error *err)
{
    struct alerts *a = xcalloc(1, sizeof(*a));
    struct http_client_options opts;
    int rc = -1;

    *out = NULL;
    a->channels = xcalloc(cfg->notify_count ? cfg->notify_count : 1, sizeof(*a->channels));
    for (size_t i = 0; i < cfg->notify_count; i++) {
        struct alerts_channel *c = &a->channels[i];
        if (alerts_parse_one(cfg, &cfg->notifies[i], &c->ch, err) < 0)
            goto out;
        a->count++;
        c->cfg = &cfg->notifies[i];
        c->events = c->cfg->on ? c->cfg->on : notify_channel_default_events(c->ch);
    }
    a->attempt_timeout_ms = alerts_attempt_timeout();
    if (a->count) {
        memset(&opts, 0, sizeof(opts));
        opts.connect_timeout_ms = a->attempt_timeout_ms < 5000 ? a->attempt_timeout_ms : 5000;
        opts.low_speed_time_ms = a->attempt_timeout_ms;
        if (http_client_new(&opts, &a->http, err) < 0)
            goto out;
    }
    *out = a;
    a = NULL;
    rc = 0;
out:
    alerts_close(a);
    return rc;
}

void alerts_close(struct alerts *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->count; i++)
        notify_channel_free(a->channels[i].ch);
    xfree(a->channels);
    http_client_free(a->http);
    xfree(a);
}

size_t alerts_count(const struct alerts *a)
{
    return a ? a->count : 0;
}

void alerts_describe(const struct alerts *a, size_t i, struct alerts_channel_info *info)
{
    const struct alerts_channel *c = &a->channels[i];

    ASSERT(i < a->count);
    memset(info, 0, sizeof(*info));
    info->name = c->cfg->name;
    info->type = notify_channel_type(c->ch);
    notify_channel_describe(c->ch, info->description, sizeof(info->description));
    info->events = c->events;
    info->is_default_events = c->cfg->on == 0;
    info->jobs = (const char *const *)c->cfg->jobs;
    info->job_count = c->cfg->job_count;
}

long alerts_find(const struct alerts *a, const char *name)
{
    for (size_t i = 0; a && i < a->count; i++)
        if (strcmp(a->channels[i].cfg->name, name) == 0)
            return (long)i;
    return -1;
}

static void alerts_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    /* A signal cuts the wait short; the caller looks at cancel_requested. */
    (void)nanosleep(&ts, NULL);
}

int alerts_send_to(struct alerts *a, size_t i, const struct notify_message *msg, struct error *err)
{
    struct alerts_channel *c = &a->channels[i];
    int64_t deadline = time_mono_ms() + ALERTS_CHANNEL_LIMIT_MS;
    int attempt = 0;

    ASSERT(i < a->count);
    for (;;) {
        bool is_retryable = false;
        int64_t left = deadline - time_mono_ms();
        long timeout = a->attempt_timeout_ms < left ? a->attempt_timeout_ms : (long)left;

        error_clear(err);
        attempt++;
        if (notify_send(a->http, c->ch, msg, timeout, &is_retryable, err) == 0)
            return 0;
        if (!is_retryable || attempt == ALERTS_ATTEMPTS || cancel_requested())
            break;
        left = deadline - time_mono_ms();
        /* Another attempt needs its backoff and a useful time to run. */
        if (left < alerts_backoff_ms[attempt - 1] + 1000)
            break;
        log_debug("notify '%s': attempt %d failed (%s); again in %ld ms", c->cfg->name, attempt,
                  err->msg, alerts_backoff_ms[attempt - 1]);
        alerts_sleep_ms(alerts_backoff_ms[attempt - 1]);
        if (cancel_requested())
            break;
    }
    if (attempt > 1)
        error_wrap(err, "after %d attempts", attempt);
    return -1;
}

static bool alerts_wants(const struct alerts_channel *c, const struct notify_message *msg)
{
    if (!(c->events & (unsigned)msg->event))
        return false;
    if (!c->cfg->jobs)
        return true;
    for (size_t j = 0; msg->job && j < c->cfg->job_count; j++)
        if (strcmp(c->cfg->jobs[j], msg->job) == 0)
            return true;
    return false;
}

size_t alerts_send(struct alerts *a, const struct notify_message *msg)
{
    struct notify_message m = *msg;
    char id[NOTIFY_ID_LEN];
    size_t failed = 0;

    if (!a)
        return 0;
    if (!m.message_id) {
        notify_new_id(id);
        m.message_id = id;
    }
    for (size_t i = 0; i < a->count; i++) {
        struct alerts_channel *c = &a->channels[i];
        struct error err = ERROR_INIT;
        char desc[ALERTS_DESCRIPTION_LEN];

        if (!alerts_wants(c, &m))
            continue;
        notify_channel_describe(c->ch, desc, sizeof(desc));
        if (alerts_send_to(a, i, &m, &err) < 0) {
            failed++;
            log_warn("notify '%s' (%s): %s notice for job '%s' not sent: %s", c->cfg->name, desc,
                     notify_event_name(m.event), m.job ? m.job : "-", err.msg);
        } else {
            log_debug("notify '%s' (%s): %s notice for job '%s' sent", c->cfg->name, desc,
                      notify_event_name(m.event), m.job ? m.job : "-");
        }
    }
    return failed;
}
