/* The channel-independent part of notifications: URL splitting, the scheme table, sending one
 * rendered request and turning the answer into an error that quotes no secret. */
#include "notify/notify.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sys/random.h>

#include "notify/notify_priv.h"
#include "util/strv.h"
#include "util/xalloc.h"

void notify_request_init(struct notify_request *req)
{
    memset(req, 0, sizeof(*req));
    buf_init(&req->body, BUF_NO_CAP);
}

void notify_request_release(struct notify_request *req)
{
    xfree(req->url);
    for (size_t i = 0; i < req->header_count; i++) {
        /* Headers hold tokens: wipe them. */
        explicit_bzero(req->headers[i], strlen(req->headers[i]));
        xfree(req->headers[i]);
    }
    xfree(req->headers);
    buf_release(&req->body);
    memset(req, 0, sizeof(*req));
}

void notify_request_add_header(struct notify_request *req, const char *name, const char *value)
{
    char *line = xasprintf("%s: %s", name, value);

    for (char *p = line + strlen(name) + 2; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    req->headers = xreallocarray(req->headers, req->header_count + 1, sizeof(*req->headers));
    req->headers[req->header_count++] = line;
}

bool notify_is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-._~", *s))
            return false;
    return true;
}

void notify_base64(struct buf *out, const unsigned char *in, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        char q[4];
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        q[0] = tbl[(v >> 18) & 63];
        q[1] = tbl[(v >> 12) & 63];
        q[2] = (char)(i + 1 < len ? tbl[(v >> 6) & 63] : '=');
        q[3] = (char)(i + 2 < len ? tbl[v & 63] : '=');
        (void)buf_add(out, q, 4);
    }
}

/* ---- URLs ---- */

static int notify_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *notify_url_decode(const char *s, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        int hi;
        int lo;

        if (s[i] != '%') {
            out[n++] = s[i];
            continue;
        }
        hi = i + 2 < len ? notify_hex(s[i + 1]) : -1;
        lo = i + 2 < len ? notify_hex(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            xfree(out);
            return NULL;
        }
        out[n++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[n] = '\0';
    return out;
}

void notify_url_escape(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~", (char)c)) {
            (void)buf_add(out, s, 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            (void)buf_add(out, esc, 3);
        }
    }
}

void notify_url_parts_release(struct notify_url_parts *u)
{
    xfree(u->scheme);
    if (u->user)
        explicit_bzero(u->user, strlen(u->user));
    if (u->password)
        explicit_bzero(u->password, strlen(u->password));
    xfree(u->user);
    xfree(u->password);
    xfree(u->host);
    xfree(u->path);
    if (u->query)
        explicit_bzero(u->query, strlen(u->query));
    xfree(u->query);
    if (u->rest)
        explicit_bzero(u->rest, strlen(u->rest));
    xfree(u->rest);
    for (size_t i = 0; i < u->param_count; i++) {
        xfree(u->params[i].name);
        if (u->params[i].value)
            explicit_bzero(u->params[i].value, strlen(u->params[i].value));
        xfree(u->params[i].value);
    }
    xfree(u->params);
    memset(u, 0, sizeof(*u));
}

static bool notify_is_host_char(char c)
{
    return isalnum((unsigned char)c) || strchr("-._~%", c);
}

/* host[:port] or [v6][:port] */
static int notify_url_split_host(struct strv hp, const char *what, struct notify_url_parts *u,
                                 struct error *err)
{
    struct strv host = hp;
    struct strv port = {NULL, 0};
    bool has_port = false;
    uint64_t p = 0;

    if (hp.len && hp.ptr[0] == '[') {
        const char *close = memchr(hp.ptr, ']', hp.len);
        if (!close)
            return error_set(err, ERR_CONFIG, "%s: the IPv6 address lacks its closing ']'", what);
        host = strv_make(hp.ptr, (size_t)(close - hp.ptr) + 1);
        for (const char *c = hp.ptr + 1; c < close; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
                return error_set(err, ERR_CONFIG, "%s: the IPv6 address is malformed", what);
        if (host.len < hp.len) {
            if (hp.ptr[host.len] != ':')
                return error_set(err, ERR_CONFIG, "%s: unexpected text after the IPv6 address",
                                 what);
            port = strv_make(hp.ptr + host.len + 1, hp.len - host.len - 1);
            has_port = true;
        }
    } else {
        const char *colon = hp.len ? memchr(hp.ptr, ':', hp.len) : NULL;
        if (colon) {
            host = strv_make(hp.ptr, (size_t)(colon - hp.ptr));
            port = strv_make(colon + 1, hp.len - host.len - 1);
            has_port = true;
        }
        for (size_t i = 0; i < host.len; i++)
            if (!notify_is_host_char(host.ptr[i]))
                return error_set(err, ERR_CONFIG,
                                 "%s: the host contains a character that is not allowed there "
                                 "(percent-encode it)",
                                 what);
    }
    if (host.len == 0)
        return error_set(err, ERR_CONFIG, "%s: no host", what);
    if (has_port && (!strv_to_u64(port, &p) || p == 0 || p > 65535))
        return error_set(err, ERR_CONFIG, "%s: the port is not a number from 1 to 65535", what);
    u->host = strv_dup(host);
    u->port = (int)p;
    return 0;
}

static int notify_url_split_query(struct strv q, const char *what, struct notify_url_parts *u,
                                  struct error *err)
{
    struct strv item;

    while (q.len) {
        struct strv name;
        char *dn;
        char *dv;

        (void)strv_cut(&q, '&', &item);
        if (item.len == 0)
            continue;
        name = item;
        if (!strv_cut(&item, '=', &name))
            item = strv_make("", 0);
        dn = notify_url_decode(name.ptr, name.len);
        dv = notify_url_decode(item.ptr, item.len);
        if (!dn || !dv) {
            bool is_named = dn && notify_is_token(dn) && strlen(dn) <= 32;
            if (is_named)
                error_set(err, ERR_CONFIG, "%s: query parameter '%s' has a malformed %%-escape",
                          what, dn);
            else
                error_set(err, ERR_CONFIG, "%s: a query parameter has a malformed %%-escape", what);
            xfree(dn);
            xfree(dv);
            return -1;
        }
        u->params = xreallocarray(u->params, u->param_count + 1, sizeof(*u->params));
        u->params[u->param_count].name = dn;
        u->params[u->param_count].value = dv;
        u->param_count++;
    }
    return 0;
}

int notify_url_split(const char *url, const char *what, struct notify_url_parts *u,
                     struct error *err)
{
    struct strv rest;
    struct strv auth;
    struct strv query = {NULL, 0};
    const char *sep = strstr(url, "://");
    const char *end;
    const char *at;
    int rc = -1;

    memset(u, 0, sizeof(*u));
    if (strlen(url) > NOTIFY_URL_MAX)
        return error_set(err, ERR_CONFIG, "%s: longer than %d bytes", what, NOTIFY_URL_MAX);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return error_set(err, ERR_CONFIG,
                             "%s: contains a space or a control character (percent-encode it)",
                             what);
    if (!sep || sep == url)
        return error_set(err, ERR_CONFIG, "%s: no scheme (such as slack:// or https://)", what);
    for (const char *p = url; p < sep; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return error_set(err, ERR_CONFIG, "%s: the scheme is malformed", what);
    u->scheme = xstrndup(url, (size_t)(sep - url));
    for (char *p = u->scheme; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    rest = strv_from(sep + 3);
    u->rest = xstrdup(sep + 3);
    end = rest.ptr + strcspn(rest.ptr, "/?");
    auth = strv_make(rest.ptr, (size_t)(end - rest.ptr));
    rest = strv_from(end);
    at = NULL;
    for (size_t i = 0; i < auth.len; i++)
        if (auth.ptr[i] == '@')
            at = auth.ptr + i;
    u->user = xstrdup("");
    u->password = xstrdup("");
    if (at) {
        struct strv ui = strv_make(auth.ptr, (size_t)(at - auth.ptr));
        struct strv user = ui;
        char *du;
        char *dp = NULL;

        u->has_userinfo = true;
        if (strv_cut(&ui, ':', &user)) {
            u->has_password = true;
            dp = notify_url_decode(ui.ptr, ui.len);
        }
        du = notify_url_decode(user.ptr, user.len);
        if (!du || (u->has_password && !dp)) {
            xfree(du);
            xfree(dp);
            error_set(err, ERR_CONFIG, "%s: the user information has a malformed %%-escape", what);
            goto out;
        }
        xfree(u->user);
        xfree(u->password);
        u->user = du;
        u->password = dp ? dp : xstrdup("");
        auth = strv_make(at + 1, auth.len - (size_t)(at - auth.ptr) - 1);
    }
    if (notify_url_split_host(auth, what, u, err) < 0)
        goto out;
    {
        const char *q = memchr(rest.ptr, '?', rest.len);
        size_t path_len = q ? (size_t)(q - rest.ptr) : rest.len;
        u->path = xstrndup(rest.ptr, path_len);
        if (q)
            query = strv_make(q + 1, rest.len - path_len - 1);
        u->query = strv_dup(query);
    }
    if (notify_url_split_query(query, what, u, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        notify_url_parts_release(u);
    return rc;
}

const char *notify_url_param(const struct notify_url_parts *u, const char *name)
{
    const char *v = NULL;

    /* The last one wins, as in most URL libraries. */
    for (size_t i = 0; i < u->param_count; i++)
        if (strcmp(u->params[i].name, name) == 0)
            v = u->params[i].value;
    return v;
}

int notify_url_check_params(const struct notify_url_parts *u, const char *what,
                            const char *const *names, struct error *err)
{
    for (size_t i = 0; i < u->param_count; i++) {
        bool is_known = false;
        struct buf list;

        for (size_t j = 0; names[j]; j++)
            if (strcmp(u->params[i].name, names[j]) == 0)
                is_known = true;
        if (is_known)
            continue;
        buf_init(&list, 512);
        for (size_t j = 0; names[j]; j++)
            (void)buf_addf(&list, "%s%s", j ? ", " : "", names[j]);
        if (notify_is_token(u->params[i].name) && strlen(u->params[i].name) <= 32)
            error_set(err, ERR_CONFIG, "%s: unknown query parameter '%s' (known: %s)", what,
                      u->params[i].name, list.len ? list.data : "none");
        else
            error_set(err, ERR_CONFIG, "%s: unknown query parameter (known: %s)", what,
                      list.len ? list.data : "none");
        buf_release(&list);
        return -1;
    }
    return 0;
}

char *notify_url_host_port(const struct notify_url_parts *u)
{
    if (u->port)
        return xasprintf("%s:%d", u->host, u->port);
    return xstrdup(u->host);
}

char *notify_url_full(const struct notify_url_parts *u, bool is_tls)
{
    return xasprintf("%s://%s", is_tls ? "https" : "http", u->rest);
}

char *notify_url_base(const struct notify_url_parts *u, bool is_tls)
{
    if (u->port)
        return xasprintf("%s://%s:%d", is_tls ? "https" : "http", u->host, u->port);
    return xasprintf("%s://%s", is_tls ? "https" : "http", u->host);
}

void notify_url_segments_free(char **segs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (segs[i])
            explicit_bzero(segs[i], strlen(segs[i]));
        xfree(segs[i]);
    }
    xfree(segs);
}

bool notify_url_segments(const char *path, char ***out, size_t *count)
{
    struct strv rest = strv_from(path);
    struct strv seg;
    char **segs = NULL;
    size_t n = 0;

    *out = NULL;
    *count = 0;
    while (rest.len) {
        char *d;
        (void)strv_cut(&rest, '/', &seg);
        if (seg.len == 0)
            continue;
        d = notify_url_decode(seg.ptr, seg.len);
        if (!d) {
            notify_url_segments_free(segs, n);
            return false;
        }
        segs = xreallocarray(segs, n + 1, sizeof(*segs));
        segs[n++] = d;
    }
    *out = segs;
    *count = n;
    return true;
}

/* ---- channels ---- */

struct notify_scheme {
    const char *scheme;
    const struct notify_ops *ops;
};

static const struct notify_scheme notify_schemes[] = {
    {"slack", &notify_slack_ops},
    {"slack+https", &notify_slack_ops},
    {"slack+http", &notify_slack_ops},
    {"discord", &notify_discord_ops},
    {"discord+https", &notify_discord_ops},
    {"discord+http", &notify_discord_ops},
    {"matrix", &notify_matrix_ops},
    {"matrixs", &notify_matrix_ops},
    {"ntfy", &notify_ntfy_ops},
    {"ntfys", &notify_ntfy_ops},
    {"mastodon", &notify_mastodon_ops},
    {"mastodons", &notify_mastodon_ops},
    {"toot", &notify_mastodon_ops},
    {"toots", &notify_mastodon_ops},
    {"smtp", &notify_smtp_ops},
    {"smtps", &notify_smtp_ops},
    {"hc", &notify_healthchecks_ops},
    {"hc+https", &notify_healthchecks_ops},
    {"hc+http", &notify_healthchecks_ops},
    {"http", &notify_webhook_ops},
    {"https", &notify_webhook_ops},
    {"json", &notify_webhook_ops},
    {"jsons", &notify_webhook_ops},
};

int notify_channel_parse(const char *url, struct notify_channel **out, struct error *err)
{
    struct notify_url_parts u;
    struct notify_channel *ch = NULL;
    const struct notify_ops *ops = NULL;
    char *trimmed = NULL;
    struct strv t = strv_trim(strv_from(url));
    int rc = -1;

    *out = NULL;
    memset(&u, 0, sizeof(u));
    trimmed = strv_dup(t);
    if (!*trimmed) {
        error_set(err, ERR_CONFIG, "notify URL: empty");
        goto out;
    }
    if (notify_url_split(trimmed, "notify URL", &u, err) < 0)
        goto out;
    ASSERT(u.scheme); /* set by every successful split */
    for (size_t i = 0; i < sizeof(notify_schemes) / sizeof(notify_schemes[0]); i++)
        if (strcmp(u.scheme, notify_schemes[i].scheme) == 0)
            ops = notify_schemes[i].ops;
    if (!ops) {
        bool is_named = notify_is_token(u.scheme) && strlen(u.scheme) <= 24;
        error_set(err, ERR_CONFIG,
                  "notify URL: unknown scheme%s%s%s (supported: slack, discord, matrix, matrixs, "
                  "ntfy, ntfys, mastodon, mastodons, smtp, smtps, hc, http, https, json, jsons)",
                  is_named ? " '" : "", is_named ? u.scheme : "", is_named ? "'" : "");
        goto out;
    }
    /* A healthchecks ping URL pasted as it is. */
    if (ops == &notify_webhook_ops && strcmp(u.scheme, "https") == 0 &&
        strcasecmp(u.host, "hc-ping.com") == 0)
        ops = &notify_healthchecks_ops;
    ch = xcalloc(1, sizeof(*ch));
    ch->ops = ops;
    if (ops->parse(&u, ch, err) < 0)
        goto out;
    *out = ch;
    ch = NULL;
    rc = 0;
out:
    notify_channel_free(ch);
    notify_url_parts_release(&u);
    if (trimmed)
        explicit_bzero(trimmed, strlen(trimmed));
    xfree(trimmed);
    return rc;
}

void notify_channel_free(struct notify_channel *ch)
{
    if (!ch)
        return;
    if (ch->endpoint)
        explicit_bzero(ch->endpoint, strlen(ch->endpoint));
    xfree(ch->endpoint);
    xfree(ch->host);
    secret_release(&ch->token);
    secret_release(&ch->user);
    secret_release(&ch->password);
    xfree(ch->slack_channel);
    xfree(ch->room);
    xfree(ch->room_id);
    xfree(ch->query);
    xfree(ch->tags);
    xfree(ch->title);
    xfree(ch->mention);
    xfree(ch->visibility);
    xfree(ch->from);
    for (size_t i = 0; i < ch->to_count; i++)
        xfree(ch->to[i]);
    xfree(ch->to);
    xfree(ch);
}

const char *notify_channel_type(const struct notify_channel *ch)
{
    return ch->ops->name;
}

void notify_channel_describe(const struct notify_channel *ch, char *out, size_t cap)
{
    ch->ops->describe(ch, out, cap);
}

unsigned notify_channel_default_events(const struct notify_channel *ch)
{
    return ch->ops->default_events;
}

void notify_channel_set_ca_file(struct notify_channel *ch, const char *ca_file)
{
    ch->ca_file = ca_file;
}

void notify_render(const struct notify_channel *ch, const struct notify_message *msg,
                   struct notify_request *req)
{
    ch->ops->render(ch, msg, req);
}

/* ---- sending ---- */

/* Replaces every occurrence of secret (when long enough to mean something) in s by "***". */
static void notify_redact(char *s, size_t cap, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    char *p;

    if (n < 4)
        return;
    while ((p = strstr(s, secret)) != NULL) {
        size_t tail = strlen(p + n);
        ASSERT(cap > 3);
        p[0] = '*';
        p[1] = '*';
        p[2] = '*';
        memmove(p + 3, p + n, tail + 1);
    }
}

/* Redacts in s every value of the endpoint URL that may be a secret: the password, and the path
 * segments and query values of 8 bytes or more, both as written and decoded (a service may echo
 * either). */
static void notify_redact_endpoint(char *s, size_t cap, const char *endpoint)
{
    struct notify_url_parts u;
    struct error err = ERROR_INIT;
    char **segs = NULL;
    size_t count = 0;

    if (notify_url_split(endpoint, "endpoint", &u, &err) < 0)
        return;
    notify_redact(s, cap, u.password);
    if (notify_url_segments(u.path, &segs, &count)) {
        for (size_t i = 0; i < count; i++)
            if (strlen(segs[i]) >= 8)
                notify_redact(s, cap, segs[i]);
        notify_url_segments_free(segs, count);
    }
    for (size_t i = 0; i < u.param_count; i++)
        if (strlen(u.params[i].value) >= 8)
            notify_redact(s, cap, u.params[i].value);
    {
        /* The raw forms: segments and query items as written. */
        char *raw = xstrdup(u.rest);
        char *save = NULL;

        for (char *tok = strtok_r(raw, "/?&=@:", &save); tok; tok = strtok_r(NULL, "/?&=@:", &save))
            if (strlen(tok) >= 8 && (!u.host || strcmp(tok, u.host) != 0))
                notify_redact(s, cap, tok);
        explicit_bzero(raw, strlen(raw));
        xfree(raw);
    }
    notify_url_parts_release(&u);
}

/* The printable start of an answer: blanks squeezed, control and non-ASCII bytes dropped, the
 * channel's secrets removed in case the service echoes them, then cut. Redaction comes before the
 * cut: a secret straddling the cut would otherwise leave its start behind. */
void notify_answer_excerpt(const struct notify_channel *ch, const struct buf *body, char *out,
                           size_t cap)
{
    size_t room = body->len + 1;
    char *all = xmalloc(room);
    size_t n = 0;
    bool was_space = true;

    for (size_t i = 0; i < body->len; i++) {
        unsigned char c = (unsigned char)body->data[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (!was_space)
                all[n++] = ' ';
            was_space = true;
        } else if (c > ' ' && c < 0x7f) {
            all[n++] = (char)c;
            was_space = false;
        }
    }
    while (n && all[n - 1] == ' ')
        n--;
    all[n] = '\0';
    if (room > 3) {
        notify_redact(all, room, ch->token.value);
        notify_redact(all, room, ch->password.value);
        if (ch->endpoint)
            notify_redact_endpoint(all, room, ch->endpoint);
    }
    n = strlen(all);
    if (cap < 5) {
        if (cap)
            out[0] = '\0';
    } else if (n + 4 >= cap || n > NOTIFY_EXCERPT_LEN) {
        size_t keep = n < NOTIFY_EXCERPT_LEN ? n : NOTIFY_EXCERPT_LEN;
        if (keep + 4 > cap)
            keep = cap - 4;
        memcpy(out, all, keep);
        memcpy(out + keep, "...", 4);
    } else {
        memcpy(out, all, n + 1);
    }
    explicit_bzero(all, room);
    xfree(all);
}

int notify_perform(struct http_client *http, const struct notify_channel *ch,
                   const struct notify_request *nr, long timeout_ms, bool *is_retryable,
                   struct buf *answer, struct error *err)
{
    struct http_request r;
    char excerpt[NOTIFY_EXCERPT_LEN + 8];
    int rc = -1;

    *is_retryable = false;
    http_request_init(&r);
    buf_init(&r.body, 64u << 10);
    r.method = nr->method;
    r.url = nr->url;
    r.headers = (const char *const *)nr->headers;
    r.header_count = nr->header_count;
    r.send_data = nr->body.len ? nr->body.data : NULL;
    r.send_len = nr->body.len;
    r.timeout_ms = timeout_ms > 0 ? timeout_ms : NOTIFY_TIMEOUT_MS;
    /* A failure notice after SIGTERM still goes out, within its time limit. */
    r.is_cleanup = true;
    if (http_perform(http, &r, err) < 0)
        goto out;
    if (r.net_code != HTTP_NET_OK) {
        *is_retryable = r.net_code != HTTP_NET_TLS;
        error_set(err, ERR_NETWORK, "%s %s: %s", nr->method, ch->host,
                  http_net_code_text(r.net_code));
        goto out;
    }
    if (r.status < 200 || r.status > 299) {
        notify_answer_excerpt(ch, &r.body, excerpt, sizeof(excerpt));
        *is_retryable = r.status == 408 || r.status == 429 || r.status >= 500;
        error_set(err, ERR_REMOTE, "%s %s: HTTP %ld%s%s", nr->method, ch->host, r.status,
                  excerpt[0] ? ": " : "", excerpt);
        goto out;
    }
    if (answer)
        (void)buf_add(answer, r.body.data, r.body.len);
    rc = 0;
out:
    http_request_release(&r);
    return rc;
}

int notify_send(struct http_client *http, struct notify_channel *ch,
                const struct notify_message *msg, long timeout_ms, bool *is_retryable,
                struct error *err)
{
    struct notify_request req;
    int rc;

    *is_retryable = false;
    if (ch->ops->send)
        return ch->ops->send(http, ch, msg, timeout_ms, is_retryable, err);
    notify_request_init(&req);
    notify_render(ch, msg, &req);
    rc = notify_perform(http, ch, &req, timeout_ms, is_retryable, NULL, err);
    notify_request_release(&req);
    return rc;
}

void notify_new_id(char out[NOTIFY_ID_LEN])
{
    unsigned char b[16];
    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        ASSERT(n > 0 || errno == EINTR);
        if (n > 0)
            got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, NOTIFY_ID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

void notify_cut_chars(struct buf *b, size_t max_chars)
{
    size_t chars = 0;
    size_t keep = 0; /* bytes of the first max_chars - 1 characters */

    ASSERT(max_chars >= 2);
    for (size_t i = 0; i < b->len; i++) {
        if (((unsigned char)b->data[i] & 0xc0) == 0x80)
            continue;
        if (chars == max_chars - 1)
            keep = i;
        chars++;
        if (chars > max_chars) {
            /* Too long: keep max_chars - 1 characters and the ellipsis. */
            b->len = keep;
            b->data[keep] = '\0';
            (void)buf_adds(b, "\xe2\x80\xa6");
            return;
        }
    }
}
