/* E-mail through an SMTP submission server, with libcurl's SMTP client (net/http.c). The message
 * is rendered here: RFC 5322 headers (Date, From, To, Subject, Message-ID, MIME-Version,
 * Content-Type text/plain; charset=utf-8), CRLF line ends, lines folded below 998 bytes.
 * URL: smtp://[user:pass@]host[:port]/?from=ADDR&to=A,B[&starttls=yes|no]: port 587, STARTTLS
 * required unless starttls=no (for a relay on the same machine only); smtps:// is TLS from the
 * first byte, port 465. */
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"
#include "notify/notify_priv.h"
#include "util/strv.h"
#include "util/xalloc.h"

#define SMTP_WHAT           "smtp URL"
#define SMTP_MAX_RECIPIENTS 50
#define SMTP_LINE_MAX       900 /* RFC 5322 allows 998 bytes per line */

/* A bare address: local@domain, no blanks, angle brackets, quotes, commas or control bytes. */
static bool smtp_is_address(const char *s)
{
    const char *at = strchr(s, '@');

    if (!at || at == s || !at[1] || strchr(at + 1, '@') || strlen(s) > 254)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || strchr("<>\",;()[]\\", *s) || *s == 0x7f)
            return false;
    return true;
}

static int smtp_parse(const struct notify_url_parts *u, struct notify_channel *ch,
                      struct error *err)
{
    static const char *const params[] = {"from", "to", "starttls", NULL};
    const char *from = notify_url_param(u, "from");
    const char *to = notify_url_param(u, "to");
    const char *starttls = notify_url_param(u, "starttls");
    bool is_smtps = strcmp(u->scheme, "smtps") == 0;
    struct strv rest;
    struct strv item;

    if (notify_url_check_params(u, SMTP_WHAT, params, err) < 0)
        return -1;
    if (u->path[0] && strcmp(u->path, "/") != 0)
        return error_set(err, ERR_CONFIG,
                         SMTP_WHAT ": expected %s://[user:pass@]HOST[:PORT]/?from=ADDR&to=ADDR",
                         u->scheme);
    if (u->has_userinfo && (!u->user[0] || !u->has_password))
        return error_set(err, ERR_CONFIG, SMTP_WHAT ": credentials are user:pass@");
    if (!from || !smtp_is_address(from))
        return error_set(err, ERR_CONFIG, SMTP_WHAT ": %s",
                         from ? "from= is not an address" : "no from= address");
    if (!to || !to[0])
        return error_set(err, ERR_CONFIG, SMTP_WHAT ": no to= address");
    if (starttls && strcmp(starttls, "yes") != 0 && strcmp(starttls, "no") != 0)
        return error_set(err, ERR_CONFIG, SMTP_WHAT ": starttls must be yes or no");
    if (starttls && is_smtps)
        return error_set(err, ERR_CONFIG,
                         SMTP_WHAT ": starttls applies to smtp:// (smtps:// is TLS throughout)");
    rest = strv_from(to);
    while (rest.len) {
        char *addr;
        (void)strv_cut(&rest, ',', &item);
        item = strv_trim(item);
        if (!item.len)
            continue;
        addr = strv_dup(item);
        if (!smtp_is_address(addr)) {
            xfree(addr);
            return error_set(err, ERR_CONFIG, SMTP_WHAT ": to= recipient %zu is not an address",
                             ch->to_count + 1);
        }
        if (ch->to_count == SMTP_MAX_RECIPIENTS) {
            xfree(addr);
            return error_set(err, ERR_CONFIG, SMTP_WHAT ": more than %d recipients",
                             SMTP_MAX_RECIPIENTS);
        }
        ch->to = xreallocarray(ch->to, ch->to_count + 1, sizeof(*ch->to));
        ch->to[ch->to_count++] = addr;
    }
    if (!ch->to_count)
        return error_set(err, ERR_CONFIG, SMTP_WHAT ": no to= address");
    if (u->has_userinfo) {
        secret_set(&ch->user, u->user, strlen(u->user));
        secret_set(&ch->password, u->password, strlen(u->password));
    }
    ch->from = xstrdup(from);
    ch->is_implicit_tls = is_smtps;
    ch->is_starttls = !is_smtps && !(starttls && strcmp(starttls, "no") == 0);
    ch->host =
        u->port ? notify_url_host_port(u) : xasprintf("%s:%d", u->host, is_smtps ? 465 : 587);
    ch->endpoint = xasprintf("%s://%s", is_smtps ? "smtps" : "smtp", ch->host);
    return 0;
}

/* RFC 5322 date in UTC, independent of the locale: "Tue, 24 Nov 2026 03:15:00 +0000". */
static void smtp_date(time_t t, struct buf *out)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    gmtime_r(&t, &tm);
    (void)buf_addf(out, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
                   months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The subject as it is when ASCII, else an RFC 2047 encoded word in UTF-8 base64. */
static void smtp_subject(const char *s, struct buf *out)
{
    bool is_ascii = true;

    for (const char *p = s; *p; p++)
        if ((unsigned char)*p >= 0x80)
            is_ascii = false;
    if (is_ascii) {
        (void)buf_adds(out, s);
        return;
    }
    (void)buf_adds(out, "=?UTF-8?B?");
    notify_base64(out, (const unsigned char *)s, strlen(s));
    (void)buf_adds(out, "?=");
}

/* Appends len bytes of s with each CR (one not ending a line: a bare CR, which servers refuse or
 * read as a line end) made a space. */
static void smtp_add_text(struct buf *out, const char *s, size_t len)
{
    size_t start = out->len;

    (void)buf_add(out, s, len);
    for (size_t i = start; i < out->len; i++)
        if (out->data[i] == '\r')
            out->data[i] = ' ';
}

/* Appends text with CRLF line ends, folding lines longer than SMTP_LINE_MAX bytes at a character
 * boundary. */
static void smtp_add_body(struct buf *out, const char *text)
{
    while (*text) {
        size_t n = strcspn(text, "\n");
        while (n > SMTP_LINE_MAX) {
            size_t cut = SMTP_LINE_MAX;
            while (cut > 1 && ((unsigned char)text[cut] & 0xc0) == 0x80)
                cut--;
            smtp_add_text(out, text, cut);
            (void)buf_adds(out, "\r\n");
            text += cut;
            n -= cut;
        }
        smtp_add_text(out, text, n && text[n - 1] == '\r' ? n - 1 : n);
        (void)buf_adds(out, "\r\n");
        text += n;
        if (*text == '\n')
            text++;
    }
}

static void smtp_render(const struct notify_channel *ch, const struct notify_message *msg,
                        struct notify_request *req)
{
    struct buf title;
    struct buf body;
    struct buf *m = &req->body;
    const char *domain = msg->host && notify_is_token(msg->host) ? msg->host : "permafrost";

    buf_init(&title, BUF_NO_CAP);
    buf_init(&body, BUF_NO_CAP);
    notify_render_text(msg, &title, &body);
    /* The subject is one header line: no control byte of a host name or job may end it. */
    for (size_t i = 0; i < title.len; i++)
        if ((unsigned char)title.data[i] < 0x20 || title.data[i] == 0x7f)
            title.data[i] = ' ';
    req->method = "SMTP";
    req->url = xstrdup(ch->endpoint);
    (void)buf_adds(m, "Date: ");
    smtp_date(msg->time, m);
    (void)buf_addf(m, "\r\nFrom: %s\r\nTo: ", ch->from);
    for (size_t i = 0; i < ch->to_count; i++)
        (void)buf_addf(m, "%s%s", i ? ", " : "", ch->to[i]);
    (void)buf_adds(m, "\r\nSubject: ");
    smtp_subject(title.data, m);
    (void)buf_addf(m, "\r\nMessage-ID: <%s@%s>\r\n",
                   msg->message_id ? msg->message_id : "permafrost", domain);
    (void)buf_adds(m, "MIME-Version: 1.0\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: 8bit\r\n"
                      "Auto-Submitted: auto-generated\r\n"
                      "\r\n");
    smtp_add_body(m, body.data);
    buf_release(&title);
    buf_release(&body);
}

static int smtp_send(struct http_client *http, struct notify_channel *ch,
                     const struct notify_message *msg, long timeout_ms, bool *is_retryable,
                     struct error *err)
{
    struct notify_request req;
    struct http_smtp_request s;
    int rc;

    (void)http;
    notify_request_init(&req);
    notify_render(ch, msg, &req);
    memset(&s, 0, sizeof(s));
    s.url = req.url;
    s.user = secret_is_set(&ch->user) ? ch->user.value : NULL;
    s.password = secret_is_set(&ch->password) ? ch->password.value : NULL;
    s.from = ch->from;
    s.recipients = (const char *const *)ch->to;
    s.recipient_count = ch->to_count;
    s.message = req.body.data;
    s.message_len = req.body.len;
    s.ca_file = ch->ca_file;
    s.is_tls_required = ch->is_starttls;
    s.timeout_ms = timeout_ms > 0 ? timeout_ms : NOTIFY_TIMEOUT_MS;
    rc = http_smtp_send(&s, err);
    if (rc < 0) {
        *is_retryable = s.is_retryable;
        error_wrap(err, "%s", ch->host);
    }
    notify_request_release(&req);
    return rc;
}

static void smtp_describe(const struct notify_channel *ch, char *out, size_t cap)
{
    snprintf(out, cap, "smtp to %zu recipient%s via %s%s", ch->to_count,
             ch->to_count == 1 ? "" : "s", ch->host,
             ch->is_implicit_tls ? " (TLS)"
             : ch->is_starttls   ? ""
                                 : " (no TLS)");
}

const struct notify_ops notify_smtp_ops = {
    .type = NOTIFY_SMTP,
    .name = "smtp",
    .default_events = NOTIFY_EVENT_FAILURE | NOTIFY_EVENT_WARNING,
    .parse = smtp_parse,
    .render = smtp_render,
    .describe = smtp_describe,
    .send = smtp_send,
};
