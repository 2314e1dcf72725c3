/* Shared by the files of src/notify/ only: the channel struct, a small URL splitter and the table
 * of channel types. */
#ifndef PERMAFROST_NOTIFY_NOTIFY_PRIV_H
#define PERMAFROST_NOTIFY_NOTIFY_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "notify/notify.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/secret.h"

#define NOTIFY_URL_MAX 4096

enum notify_type {
    NOTIFY_SLACK,
    NOTIFY_DISCORD,
    NOTIFY_MATRIX,
    NOTIFY_NTFY,
    NOTIFY_MASTODON,
    NOTIFY_SMTP,
    NOTIFY_HEALTHCHECKS,
    NOTIFY_WEBHOOK,
};

struct notify_param {
    char *name;  /* decoded */
    char *value; /* decoded */
};

/* A URL split into parts (RFC 3986 shaped, without fragments: '#' is an ordinary character here,
 * since Slack channels and Matrix aliases start with it). */
struct notify_url_parts {
    char *scheme; /* lowercased */
    bool has_userinfo;
    bool has_password; /* "user:pass@" (also ":pass@") */
    char *user;        /* decoded; "" when absent */
    char *password;    /* decoded; "" when absent */
    char *host;        /* as written ("[::1]" keeps its brackets) */
    int port;          /* 0 when absent */
    char *path;        /* as written, from its '/' ("" when none), without the query */
    char *query;       /* as written, after the '?' ("" when none) */
    char *rest;        /* everything after "scheme://", as written */
    struct notify_param *params;
    size_t param_count;
};

struct notify_channel {
    const struct notify_ops *ops;
    /* Where messages go, secrets included: the webhook URL (slack, discord, webhook), the ping URL
     * (healthchecks), the topic URL (ntfy), the server's base URL (matrix, mastodon, smtp). */
    char *endpoint;
    char *host;             /* host[:port], for descriptions */
    struct secret token;    /* matrix, mastodon, ntfy: a bearer token */
    struct secret user;     /* ntfy (basic), smtp */
    struct secret password; /* ntfy (basic), smtp */
    const char *ca_file;    /* borrowed */
    char *query;            /* healthchecks: the ping URL's own query ("create=1"), or NULL */
    /* slack */
    char *slack_channel; /* "#ops" or NULL */
    /* matrix */
    char *room;    /* as given, decoded: "!id:server" or "#alias:server" */
    char *room_id; /* the room id once known */
    /* ntfy */
    int priority; /* 1..5; 0: by event */
    char *tags;
    char *title;
    /* mastodon */
    char *mention;    /* "@admin" or "@admin@example.org", or NULL */
    char *visibility; /* direct, private, unlisted, public */
    /* smtp */
    char *from;
    char **to;
    size_t to_count;
    bool is_implicit_tls; /* smtps:// */
    bool is_starttls;     /* STARTTLS required (smtp://, unless starttls=no) */
};

struct notify_ops {
    enum notify_type type;
    const char *name;
    unsigned default_events;
    int (*parse)(const struct notify_url_parts *u, struct notify_channel *ch, struct error *err);
    void (*render)(const struct notify_channel *ch, const struct notify_message *msg,
                   struct notify_request *req);
    void (*describe)(const struct notify_channel *ch, char *out, size_t cap);
    /* Optional: sends by other means than one HTTP request (matrix: resolves an alias first; smtp).
     * NULL: notify_send renders and performs the request. */
    int (*send)(struct http_client *http, struct notify_channel *ch,
                const struct notify_message *msg, long timeout_ms, bool *is_retryable,
                struct error *err);
};

extern const struct notify_ops notify_slack_ops;
extern const struct notify_ops notify_discord_ops;
extern const struct notify_ops notify_matrix_ops;
extern const struct notify_ops notify_ntfy_ops;
extern const struct notify_ops notify_mastodon_ops;
extern const struct notify_ops notify_smtp_ops;
extern const struct notify_ops notify_healthchecks_ops;
extern const struct notify_ops notify_webhook_ops;

/* Splits url; what ("slack URL") prefixes errors, which never quote the URL's parts. */
int notify_url_split(const char *url, const char *what, struct notify_url_parts *u,
                     struct error *err);
void notify_url_parts_release(struct notify_url_parts *u);
/* The decoded value of query parameter name, or NULL. */
const char *notify_url_param(const struct notify_url_parts *u, const char *name);
/* Fails unless every query parameter is one of the NULL-terminated names. */
int notify_url_check_params(const struct notify_url_parts *u, const char *what,
                            const char *const *names, struct error *err);
/* Percent-decodes len bytes of s; NULL when an escape is malformed or decodes to NUL. */
char *notify_url_decode(const char *s, size_t len);
/* Appends s percent-encoded (everything but RFC 3986 unreserved characters). */
void notify_url_escape(struct buf *out, const char *s);
/* "http://host:port" or "https://host" for the parts' host and port. */
char *notify_url_base(const struct notify_url_parts *u, bool is_tls);
/* "http[s]://" and the rest of the URL as written (for channels given a full webhook URL). */
char *notify_url_full(const struct notify_url_parts *u, bool is_tls);
/* The host[:port] of the parts, for descriptions. */
char *notify_url_host_port(const struct notify_url_parts *u);
/* Splits a path into its non-empty segments, decoded; false on a malformed escape. *out: each
 * and the array with xfree. */
bool notify_url_segments(const char *path, char ***out, size_t *count);
void notify_url_segments_free(char **segs, size_t count);

/* Adds a "Name: value" header to req, with CR and LF in the value replaced by spaces. */
void notify_request_add_header(struct notify_request *req, const char *name, const char *value);
/* Title and body joined by a newline (the text of chat channels). */
void notify_render_plain(const struct notify_message *msg, struct buf *out);
/* The printable start of a service's answer (blanks squeezed, other bytes dropped, cut to
 * NOTIFY_EXCERPT_LEN) with the channel's secrets replaced by "***" in case the service echoes
 * them. */
void notify_answer_excerpt(const struct notify_channel *ch, const struct buf *body, char *out,
                           size_t cap);
/* Performs one rendered HTTP request (see notify_send for the errors); a 2xx answer's body is
 * appended to answer when not NULL. */
int notify_perform(struct http_client *http, const struct notify_channel *ch,
                   const struct notify_request *nr, long timeout_ms, bool *is_retryable,
                   struct buf *answer, struct error *err);
/* Appends len bytes of in, base64-encoded (RFC 4648, with padding). */
void notify_base64(struct buf *out, const unsigned char *in, size_t len);
/* Whether s is made only of characters a token may hold (RFC 3986 unreserved). */
bool notify_is_token(const char *s);

#endif
