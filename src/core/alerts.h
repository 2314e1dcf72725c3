/* The notification dispatcher: the [notify "NAME"] channels of a configuration, each parsed from
 * its URL, and the policy around notify_send: which events and jobs a channel gets, retries (three
 * attempts, 1 s then 3 s apart, for 429, 5xx and network failures only) within a time limit per
 * channel, and a log_warn naming the channel (redacted) when it could not be reached. Sending
 * never fails a job: alerts_send returns a count, not an error. */
#ifndef PERMAFROST_CORE_ALERTS_H
#define PERMAFROST_CORE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "notify/notify.h"
#include "util/error.h"

#define ALERTS_ATTEMPTS         3
#define ALERTS_CHANNEL_LIMIT_MS 30000 /* all attempts at one channel, backoff included */
#define ALERTS_DESCRIPTION_LEN  160

struct alerts;

/* One channel as `notify list` shows it. Borrowed from the alerts. */
struct alerts_channel_info {
    const char *name;
    const char *type; /* notify_channel_type */
    char description[ALERTS_DESCRIPTION_LEN];
    unsigned events;         /* NOTIFY_EVENT_* bits in effect */
    bool is_default_events;  /* `on` was not set */
    const char *const *jobs; /* NULL: every job */
    size_t job_count;
};

/* Checks every channel's URL (for `config check`). ERR_CONFIG "PATH:LINE: notify 'NAME': ..." for
 * the first that does not parse; the message never quotes the URL. */
int alerts_check_config(const struct config *cfg, struct error *err);

/* Parses every channel of cfg (errors as alerts_check_config) and sets up an HTTP client. cfg is
 * borrowed and must outlive the alerts. *out: alerts_close. With no channels, *out is still set
 * (sending is then a no-op). */
int alerts_open(const struct config *cfg, struct alerts **out, struct error *err);
void alerts_close(struct alerts *a);

size_t alerts_count(const struct alerts *a);
void alerts_describe(const struct alerts *a, size_t i, struct alerts_channel_info *info);
/* The index of the channel named name, or -1. */
long alerts_find(const struct alerts *a, const char *name);

/* Sends msg to every channel whose events and jobs include it (msg->message_id is generated when
 * NULL, the same for every attempt). Failures are logged with log_warn. Returns the number of
 * channels that could not be reached. Nothing to do (no alerts, NULL a): returns 0. */
size_t alerts_send(struct alerts *a, const struct notify_message *msg);

/* Sends msg to channel i whatever its events and jobs, with the retry policy (for `notify test`).
 * Returns 0, or -1 with the last attempt's error (prefixed with the attempt count when retried). */
int alerts_send_to(struct alerts *a, size_t i, const struct notify_message *msg, struct error *err);

#endif
