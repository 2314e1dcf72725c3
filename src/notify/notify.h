/* Notifications: one interface over every channel (Slack, Discord, Matrix, ntfy, Mastodon, SMTP,
 * healthchecks, plain JSON webhooks), each configured by one URL in the Apprise / shoutrrr shapes
 * (docs/operations.md, "Notifications").
 *
 * A channel URL usually carries a secret (a webhook token, an access token, a password), so
 * nothing here ever prints one: parse errors say which part of the URL is wrong without quoting it,
 * notify_channel_describe gives a redacted description, and send errors quote only the status and
 * a short excerpt of the answer. The text of a message is rendered once (message.c) and each
 * channel wraps it in its service's documented shape. */
#ifndef PERMAFROST_NOTIFY_NOTIFY_H
#define PERMAFROST_NOTIFY_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "net/http.h"
#include "util/buf.h"
#include "util/error.h"

/* Events, as bits (the same values as config's CFG_NOTIFY_ON_*). A test message is sent by
 * `permafrost notify test` whatever a channel's event set. */
enum notify_event {
    NOTIFY_EVENT_START = 1,
    NOTIFY_EVENT_SUCCESS = 2,
    NOTIFY_EVENT_FAILURE = 4,
    NOTIFY_EVENT_WARNING = 8,
    NOTIFY_EVENT_TEST = 16,
};

#define NOTIFY_ID_LEN         37           /* a UUID in text form and its NUL */
#define NOTIFY_LOG_TAIL_MAX   (100u << 10) /* healthchecks keeps the first 100 kB of a ping body */
#define NOTIFY_EXCERPT_LEN    160          /* of a service's answer, in send errors */
#define NOTIFY_TIMEOUT_MS     10000        /* default whole-request limit of one attempt */
#define NOTIFY_DISCORD_CHARS  2000
#define NOTIFY_MASTODON_CHARS 500

struct notify_store_outcome {
    const char *store;
    bool is_ok;
    const char *detail; /* "written", "copied", or the error; NULL when none */
};

/* What happened, for every channel. All pointers are borrowed; NULL means "not known / none". */
struct notify_message {
    enum notify_event event;
    const char *job;
    const char *job_kind; /* "postgres", "redis", "mirror", "verify" */
    const char *host;     /* this machine's name */
    const char *snapshot_id;
    int64_t duration_ms; /* -1: not known (a start event) */
    uint64_t raw_bytes;  /* 0: not known */
    uint64_t stored_bytes;
    const struct notify_store_outcome *stores;
    size_t store_count;
    const char *summary;  /* one line, e.g. a mirror's "copied 12 objects (3.1 MiB), deleted 2" */
    const char *warning;  /* what needs a look (a warning event) */
    const char *error;    /* the job's error (a failure event) */
    const char *hint;     /* what to try */
    const char *log_tail; /* the end of the job's log (healthchecks failure bodies) */
    time_t time;          /* when the event happened */
    int exit_code;        /* the job's exit code (0 for start and success) */
    const char *run_id;   /* a UUID shared by a run's start and finish events (healthchecks rid) */
    const char *message_id; /* unique per message, the same across retries: Matrix txnId,
                             * Mastodon Idempotency-Key, the e-mail's Message-ID */
};

/* A request as a channel would send it, built without any I/O (for notify_send and the tests).
 * For SMTP, method is "SMTP", url the server's smtp[s]://host:port and body the whole RFC 5322
 * message; headers are empty. The url and headers may hold the channel's secrets. */
struct notify_request {
    const char *method; /* "POST", "PUT", "GET" or "SMTP" (static strings) */
    char *url;
    char **headers; /* "Name: value" */
    size_t header_count;
    struct buf body;
};

void notify_request_init(struct notify_request *req);
void notify_request_release(struct notify_request *req);

struct notify_channel;

/* Parses a channel URL. *out: notify_channel_free. On failure ERR_CONFIG with a message saying
 * which part of the URL is wrong and what was expected; the message never quotes the URL, its
 * user information, path or query values. */
int notify_channel_parse(const char *url, struct notify_channel **out, struct error *err);
void notify_channel_free(struct notify_channel *ch);
/* "slack", "discord", "matrix", "ntfy", "mastodon", "smtp", "healthchecks", "webhook". */
const char *notify_channel_type(const struct notify_channel *ch);
/* A redacted description ("ntfy on ntfy.sh", "smtp to 2 recipients via mail.example.org:587"):
 * the service and host, never a token, password, topic or webhook path. Cut to cap. */
void notify_channel_describe(const struct notify_channel *ch, char *out, size_t cap);
/* The events a channel gets when its configuration does not say (NOTIFY_EVENT_* bits):
 * healthchecks start, success, failure and warning (a warning run is a finished run, and a start
 * without a finish would page as a hung job); every other channel failure and warning. */
unsigned notify_channel_default_events(const struct notify_channel *ch);
/* The CA bundle for HTTPS and SMTP over TLS (NULL: the system's). Borrowed until the channel is
 * freed. */
void notify_channel_set_ca_file(struct notify_channel *ch, const char *ca_file);

/* Builds the request that delivers msg (the main one: for a Matrix room alias that has not been
 * resolved yet, the message is addressed to the alias; notify_send resolves it first). */
void notify_render(const struct notify_channel *ch, const struct notify_message *msg,
                   struct notify_request *req);

/* Sends msg once (no retries), each request limited to timeout_ms (0: NOTIFY_TIMEOUT_MS).
 * Returns 0 when the service accepted it; -1 with ERR_NETWORK (no answer; *is_retryable unless a
 * TLS failure), ERR_REMOTE ("HTTP 500: <excerpt>"; *is_retryable for 429 and 5xx) or
 * ERR_CANCELLED. The error never contains a secret of the channel. */
int notify_send(struct http_client *http, struct notify_channel *ch,
                const struct notify_message *msg, long timeout_ms, bool *is_retryable,
                struct error *err);

/* Renders the text every channel starts from: a one-line title and body lines ('\n'-separated)
 * with job, result, duration, sizes, each store's outcome, summary, warning, error and hint. */
void notify_render_text(const struct notify_message *msg, struct buf *title, struct buf *body);
/* "start", "success", "failure", "warning", "test". */
const char *notify_event_name(enum notify_event event);
/* A random UUID (version 4) in text form. */
void notify_new_id(char out[NOTIFY_ID_LEN]);
/* Cuts the UTF-8 text in b to at most max_chars (>= 2) code points, the last one "…" when cut;
 * never splits a character. */
void notify_cut_chars(struct buf *b, size_t max_chars);

#endif
