/* The Redis/Valkey client: RESP over net/conn with one read buffer shared by the reply parser and
 * the replication payload, so bytes the server sent after a reply (keep-alives, the payload header)
 * are never lost between the two. The payload itself bypasses the parser: it is read straight
 * into a large buffer and handed to the sink from there (one copy, kernel to us). */
#include "sources/redis.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <strings.h>

#include "net/conn.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/time.h"
#include "util/xalloc.h"

#define REDIS_DEFAULT_PORT    6379
#define REDIS_READ_BUF        ((size_t)256 * 1024)  /* replies */
#define REDIS_READ_BATCH      ((size_t)256 * 1024)  /* payload: wake up per this many bytes */
#define REDIS_PAYLOAD_BUF     ((size_t)1024 * 1024) /* replication payload reads */
#define REDIS_EOF_MARK_LEN    40
#define REDIS_SCAN_COUNT      "1000"
#define REDIS_EXPORT_FLUSH    ((size_t)4 * 1024 * 1024)
#define REDIS_REPLAY_COMMANDS 1000
#define REDIS_REPLAY_BYTES    ((size_t)4 * 1024 * 1024)
#define REDIS_DESCRIBE_CHARS  200
#define REDIS_KEY_CHARS       64
#define REDIS_HEADER_LINE_MAX 128

struct redis_conn {
    struct net_conn *net;
    struct resp_parser *parser;
    char *rbuf; /* bytes received and not yet used: rbuf[rpos..rlen) */
    size_t rpos;
    size_t rlen;
    bool has_password;
    bool is_tls;
    bool has_received; /* any byte from the server yet (a plain client on a TLS port gets none) */
    int url_db;
};

/* ---- URL ---- */

static int redis_hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string; false on a bad escape or a NUL byte. */
static bool redis_percent_decode(const char *s, size_t n, char **out, size_t *out_len)
{
    char *d = xmalloc(n + 1);
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            if (i + 2 >= n || redis_hex(s[i + 1]) < 0 || redis_hex(s[i + 2]) < 0) {
                explicit_bzero(d, n + 1);
                xfree(d);
                return false;
            }
            ch = (char)(redis_hex(s[i + 1]) * 16 + redis_hex(s[i + 2]));
            i += 2;
        }
        if (ch == '\0') {
            explicit_bzero(d, n + 1);
            xfree(d);
            return false;
        }
        d[j++] = ch;
    }
    d[j] = '\0';
    *out = d;
    *out_len = j;
    return true;
}

static bool redis_host_char_ok(char ch)
{
    return isalnum((unsigned char)ch) || ch == '.' || ch == '-' || ch == '_';
}

int redis_url_parse(const char *url, struct redis_url *out, struct error *err)
{
    struct redis_url u;
    const char *p;
    const char *at;
    const char *hostport;
    const char *end;
    int rc = -1;

    memset(&u, 0, sizeof(u));
    memset(out, 0, sizeof(*out));
    if (strncasecmp(url, "redis://", 8) == 0) {
        p = url + 8;
    } else if (strncasecmp(url, "rediss://", 9) == 0) {
        u.tls = true;
        p = url + 9;
    } else {
        const char *colon = strstr(url, "://");
        if (colon) {
            error_set(err, ERR_CONFIG, "url: unsupported scheme '%.*s'",
                      (int)(colon - url) > 16 ? 16 : (int)(colon - url), url);
        } else {
            error_set(err, ERR_CONFIG, "url: must start with redis:// or rediss://");
        }
        error_hint(err, "write redis://[user:password@]host[:port][/db] or rediss:// for TLS");
        goto out;
    }
    /* The user info ends at the last '@': host, port and path never contain one, and a password
     * with an unescaped '@' or '/' still parses. */
    at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        char *pw = NULL;
        size_t pw_len = 0;
        /* "user:pass@" and ":pass@" as everywhere; a lone "name@" is a user name, as in RFC 3986
         * user info and the Ruby and Python clients (redis-cli alone reads it as a password), so
         * "rediss://backup@host" plus `password = env:...` means what it says. */
        if (!colon) {
            size_t ulen = 0;
            if (at > p && !redis_percent_decode(p, (size_t)(at - p), &u.user, &ulen)) {
                error_set(err, ERR_CONFIG, "url: bad percent-escape in the user name");
                goto out;
            }
        } else {
            if (colon > p) {
                size_t ulen = 0;
                if (!redis_percent_decode(p, (size_t)(colon - p), &u.user, &ulen)) {
                    error_set(err, ERR_CONFIG, "url: bad percent-escape in the user name");
                    goto out;
                }
            }
            if (!redis_percent_decode(colon + 1, (size_t)(at - colon - 1), &pw, &pw_len)) {
                error_set(err, ERR_CONFIG, "url: bad percent-escape in the password");
                goto out;
            }
        }
        if (pw_len > 0)
            secret_set(&u.password, pw, pw_len);
        if (pw) {
            explicit_bzero(pw, pw_len);
            xfree(pw);
        }
        hostport = at + 1;
    } else {
        hostport = p;
    }
    /* host */
    if (*hostport == '[') {
        const char *close = strchr(hostport, ']');
        if (!close || close == hostport + 1) {
            error_set(err, ERR_CONFIG, "url: unterminated or empty '[' in the host");
            goto out;
        }
        for (const char *c = hostport + 1; c < close; c++) {
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.') {
                error_set(err, ERR_CONFIG, "url: bad IPv6 address '%.*s'",
                          (int)(close - hostport - 1), hostport + 1);
                goto out;
            }
        }
        u.host = xstrndup(hostport + 1, (size_t)(close - hostport - 1));
        end = close + 1;
    } else {
        end = hostport;
        while (*end && redis_host_char_ok(*end))
            end++;
        if (end == hostport) {
            error_set(err, ERR_CONFIG, "url: no host");
            goto out;
        }
        u.host = xstrndup(hostport, (size_t)(end - hostport));
    }
    /* port */
    u.port = REDIS_DEFAULT_PORT;
    if (*end == ':') {
        const char *ps = end + 1;
        uint64_t port = 0;
        end = ps;
        while (*end >= '0' && *end <= '9')
            end++;
        if (end == ps || (size_t)(end - ps) > 5 ||
            !strv_to_u64(strv_make(ps, (size_t)(end - ps)), &port) || port < 1 || port > 65535) {
            error_set(err, ERR_CONFIG, "url: port '%.*s' is not a number from 1 to 65535",
                      (int)(end - ps > 12 ? 12 : end - ps), ps);
            goto out;
        }
        u.port = (int)port;
    }
    /* /db */
    if (*end == '/') {
        const char *ds = end + 1;
        uint64_t db = 0;
        end = ds;
        while (*end >= '0' && *end <= '9')
            end++;
        if (end > ds) {
            if ((size_t)(end - ds) > 9 || !strv_to_u64(strv_make(ds, (size_t)(end - ds)), &db)) {
                error_set(err, ERR_CONFIG, "url: database '%.*s' is not a number",
                          (int)(end - ds > 12 ? 12 : end - ds), ds);
                goto out;
            }
            u.db = (int)db;
        }
    }
    if (*end != '\0') {
        error_set(err, ERR_CONFIG, "url: unexpected '%.32s' after the %s", end,
                  end > hostport && end[-1] >= '0' && end[-1] <= '9' ? "port or database" : "host");
        error_hint(err, "write redis://[user:password@]host[:port][/db]; percent-encode special "
                        "characters");
        goto out;
    }
    *out = u;
    memset(&u, 0, sizeof(u));
    rc = 0;
out:
    redis_url_release(&u);
    return rc;
}

void redis_url_release(struct redis_url *u)
{
    xfree(u->host);
    xfree(u->user);
    secret_release(&u->password);
    u->host = NULL;
    u->user = NULL;
}

char *redis_url_redacted(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *start;
    const char *at;
    const char *colon;

    if (!scheme)
        return xstrdup(url);
    start = scheme + 3;
    at = strrchr(start, '@');
    if (!at)
        return xstrdup(url);
    colon = memchr(start, ':', (size_t)(at - start));
    /* Without a ':' the user info is a user name alone (redis_url_parse): nothing to hide. */
    if (colon)
        return xasprintf("%.*s:***%s", (int)(colon - url), url, at);
    return xstrdup(url);
}

/* ---- transport ---- */

static struct redis_conn *redis_conn_new(void)
{
    struct redis_conn *c = xcalloc(1, sizeof(*c));

    c->parser = resp_parser_new(NULL);
    c->rbuf = xmalloc(REDIS_READ_BUF);
    return c;
}

void redis_close(struct redis_conn *c)
{
    if (!c)
        return;
    net_conn_close(c->net);
    resp_parser_free(c->parser);
    xfree(c->rbuf);
    xfree(c);
}

const char *redis_peer(const struct redis_conn *c)
{
    return net_conn_peer(c->net);
}

static int redis_closed_error(struct redis_conn *c, const char *when, struct error *err)
{
    error_set(err, ERR_NETWORK, "connection closed by %s%s", redis_peer(c), when);
    if (!c->has_received && !c->is_tls)
        error_hint(err, "if the server accepts only TLS on this port, use rediss://");
    return -1;
}

/* Reads more bytes into rbuf (which must be empty). */
static int redis_fill(struct redis_conn *c, struct error *err)
{
    size_t got = 0;

    c->rpos = 0;
    c->rlen = 0;
    if (net_conn_read(c->net, c->rbuf, REDIS_READ_BUF, &got, err) < 0) {
        /* A TLS port resets a plain client that sent a command instead of a ClientHello. */
        if (!c->has_received && !c->is_tls && !err->hint[0] && err->kind == ERR_NETWORK)
            error_hint(err, "if the server accepts only TLS on this port, use rediss://");
        return -1;
    }
    if (got > 0)
        c->has_received = true;
    c->rlen = got;
    return 0;
}

static int redis_read_reply(struct redis_conn *c, struct resp_value **reply, struct error *err)
{
    *reply = NULL;
    for (;;) {
        if (c->rpos < c->rlen) {
            size_t used = 0;
            int r = resp_parser_feed(c->parser, c->rbuf + c->rpos, c->rlen - c->rpos, &used, reply,
                                     err);
            if (r < 0)
                return error_wrap(err, "reply from %s", redis_peer(c));
            c->rpos += used;
            if (r == 1)
                return 0;
        }
        if (redis_fill(c, err) < 0)
            return -1;
        if (c->rlen == 0)
            return redis_closed_error(
                c, resp_parser_is_mid_value(c->parser) ? " in the middle of a reply" : "", err);
    }
}

static int redis_send(struct redis_conn *c, size_t argc, const char *const *argv,
                      const size_t *lens, struct error *err)
{
    struct buf b;
    int rc;

    buf_init(&b, BUF_NO_CAP);
    resp_append_command(&b, argc, argv, lens);
    rc = net_conn_write_all(c->net, b.data, b.len, err);
    /* AUTH's password passed through here */
    explicit_bzero(b.data, b.len);
    buf_release(&b);
    return rc;
}

int redis_command(struct redis_conn *c, size_t argc, const char *const *argv, const size_t *lens,
                  struct resp_value **reply, struct error *err)
{
    *reply = NULL;
    if (redis_send(c, argc, argv, lens, err) < 0)
        return -1;
    return redis_read_reply(c, reply, err);
}

static bool redis_error_starts(const struct resp_value *v, const char *prefix)
{
    return v->type == RESP_ERROR && strncmp(v->str, prefix, strlen(prefix)) == 0;
}

static bool redis_error_has(const struct resp_value *v, const char *needle)
{
    return v->type == RESP_ERROR && strcasestr(v->str, needle) != NULL;
}

/* "<what>: <reply>" as ERR_REMOTE, with a hint for a missing password. */
static int redis_reply_error(struct redis_conn *c, const char *what, const struct resp_value *v,
                             struct error *err)
{
    struct buf d;

    buf_init(&d, 4096);
    resp_value_describe(v, REDIS_DESCRIBE_CHARS, &d);
    if (redis_error_starts(v, "NOAUTH") && !c->has_password) {
        error_set(err, ERR_REMOTE, "%s: the server needs a password: %s", what, d.data);
        error_hint(err, "set password = env:NAME (or file:PATH) in the job, or put it in the URL");
    } else {
        error_set(err, ERR_REMOTE, "%s: %s", what, d.data);
    }
    buf_release(&d);
    return -1;
}

int redis_connect(const struct redis_options *o, struct redis_conn **out, struct error *err)
{
    struct redis_url u;
    struct redis_conn *c = NULL;
    struct net_conn_options no;
    struct resp_value *reply = NULL;
    const char *password;
    int rc = -1;

    *out = NULL;
    if (redis_url_parse(o->url, &u, err) < 0)
        return -1;
    password = o->password ? o->password : u.password.value;
    memset(&no, 0, sizeof(no));
    no.host = u.host;
    no.port = u.port;
    no.tls = u.tls;
    no.ca_file = o->ca_file;
    no.tls_verify = o->tls_verify;
    no.connect_timeout_ms = o->connect_timeout_ms;
    no.io_timeout_ms = o->io_timeout_ms;
    if (u.user && !password) {
        error_set(err, ERR_CONFIG, "url names the ACL user '%s' but no password is given", u.user);
        error_hint(err, "set password = env:NAME (or file:PATH), or put it in the URL");
        goto out;
    }
    c = redis_conn_new();
    c->is_tls = u.tls;
    c->url_db = u.db;
    c->has_password = password != NULL;
    if (net_conn_open(&no, &c->net, err) < 0)
        goto out;
    if (password) {
        const char *argv[3] = {"AUTH", NULL, NULL};
        size_t argc = 0;
        argv[0] = "AUTH";
        argc = 1;
        if (u.user)
            argv[argc++] = u.user;
        argv[argc++] = password;
        if (redis_command(c, argc, argv, NULL, &reply, err) < 0) {
            error_wrap(err, "AUTH");
            goto out;
        }
        if (reply->type == RESP_ERROR && !u.user &&
            redis_error_has(reply, "without any password configured")) {
            /* A password for a server that has none (a fresh restore target, say): the
             * connection works as it is. */
            log_info("%s has no password set; going on without AUTH", redis_peer(c));
        } else if (reply->type == RESP_ERROR) {
            struct buf d;
            buf_init(&d, 4096);
            resp_value_describe(reply, REDIS_DESCRIBE_CHARS, &d);
            error_set(err, ERR_REMOTE, "%s: authentication failed: %s", redis_peer(c), d.data);
            buf_release(&d);
            error_hint(err, "check the password (password = env:NAME or file:PATH) and, for an "
                            "ACL user, the user name in the URL (redis://user@host)");
            goto out;
        }
        resp_value_free(reply);
        reply = NULL;
    }
    /* PING proves the protocol works (and finds a missing password) before any real work. */
    {
        const char *argv[1] = {"PING"};
        if (redis_command(c, 1, argv, NULL, &reply, err) < 0)
            goto out;
        if (reply->type == RESP_ERROR) {
            redis_reply_error(c, "PING", reply, err);
            error_wrap(err, "%s", redis_peer(c));
            goto out;
        }
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    resp_value_free(reply);
    redis_close(c);
    redis_url_release(&u);
    return rc;
}

/* ---- INFO ---- */

static bool redis_parse_i64_field(struct strv s, int64_t *out)
{
    uint64_t v = 0;

    if (!strv_to_u64(s, &v) || v > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)v;
    return true;
}

static int redis_info_parse_db(struct strv key, struct strv value, struct redis_info *info,
                               size_t *db_alloc, struct error *err)
{
    struct redis_db_keys k = {0, 0, 0};
    uint64_t db = 0;
    bool has_keys = false;
    struct strv rest = value;

    key.ptr += 2;
    key.len -= 2;
    if (!strv_to_u64(key, &db) || db > INT_MAX)
        return error_set(err, ERR_REMOTE, "INFO keyspace: bad database number 'db%.*s'",
                         (int)(key.len > 16 ? 16 : key.len), key.ptr);
    k.db = (int)db;
    while (rest.len > 0) {
        struct strv item;
        struct strv name;
        strv_cut(&rest, ',', &item);
        if (!strv_cut(&item, '=', &name))
            return error_set(err, ERR_REMOTE, "INFO keyspace: malformed entry for db%d", k.db);
        if (strv_eq(name, "keys")) {
            if (!redis_parse_i64_field(item, &k.keys))
                return error_set(err, ERR_REMOTE, "INFO keyspace: bad key count for db%d", k.db);
            has_keys = true;
        } else if (strv_eq(name, "expires")) {
            if (!redis_parse_i64_field(item, &k.expires))
                return error_set(err, ERR_REMOTE, "INFO keyspace: bad expires count for db%d",
                                 k.db);
        }
    }
    if (!has_keys)
        return error_set(err, ERR_REMOTE, "INFO keyspace: no key count for db%d", k.db);
    /* In db order, without duplicates. */
    size_t pos = info->db_count;
    while (pos > 0 && info->dbs[pos - 1].db > k.db)
        pos--;
    if (pos > 0 && info->dbs[pos - 1].db == k.db)
        return error_set(err, ERR_REMOTE, "INFO keyspace: db%d listed twice", k.db);
    XGROW(info->dbs, info->db_count + 1, *db_alloc);
    memmove(&info->dbs[pos + 1], &info->dbs[pos], (info->db_count - pos) * sizeof(*info->dbs));
    info->dbs[pos] = k;
    info->db_count++;
    return 0;
}

int redis_info_parse(const char *text, size_t len, struct redis_info *out, struct error *err)
{
    struct redis_info info;
    struct strv rest = strv_make(text, len);
    char section[32] = "";
    size_t db_alloc = 0;
    char *valkey_version = NULL;
    int rc = -1;

    memset(&info, 0, sizeof(info));
    memset(out, 0, sizeof(*out));
    info.used_memory = -1;
    while (rest.len > 0) {
        struct strv line;
        struct strv key;
        struct strv value;

        strv_cut(&rest, '\n', &line);
        if (line.len > 0 && line.ptr[line.len - 1] == '\r')
            line.len--;
        if (line.len == 0)
            continue;
        if (line.ptr[0] == '#') {
            struct strv name = strv_trim(strv_make(line.ptr + 1, line.len - 1));
            size_t n = name.len < sizeof(section) - 1 ? name.len : sizeof(section) - 1;
            for (size_t i = 0; i < n; i++)
                section[i] = (char)tolower((unsigned char)name.ptr[i]);
            section[n] = '\0';
            continue;
        }
        value = line;
        if (!strv_cut(&value, ':', &key))
            continue; /* not a field: ignored like any unknown line */
        if (strcmp(section, "server") == 0) {
            if (strv_eq(key, "redis_version")) {
                xfree(info.redis_version);
                info.redis_version = strv_dup(value);
            } else if (strv_eq(key, "valkey_version")) {
                xfree(valkey_version);
                valkey_version = strv_dup(value);
            } else if (strv_eq(key, "server_name")) {
                xfree(info.server_name);
                info.server_name = strv_dup(value);
            }
        } else if (strcmp(section, "memory") == 0) {
            if (strv_eq(key, "used_memory") && !redis_parse_i64_field(value, &info.used_memory)) {
                error_set(err, ERR_REMOTE, "INFO memory: bad used_memory");
                goto out;
            }
        } else if (strcmp(section, "persistence") == 0) {
            if (strv_eq(key, "aof_enabled"))
                info.aof_enabled = strv_eq(value, "1");
        } else if (strcmp(section, "replication") == 0) {
            if (strv_eq(key, "role")) {
                xfree(info.role);
                info.role = strv_dup(value);
            }
        } else if (strcmp(section, "keyspace") == 0) {
            if (key.len > 2 && strv_starts_with(key, "db") &&
                redis_info_parse_db(key, value, &info, &db_alloc, err) < 0)
                goto out;
        }
    }
    if (!info.redis_version) {
        error_set(err, ERR_REMOTE, "INFO has no redis_version in its server section");
        goto out;
    }
    if (!info.server_name)
        info.server_name = xstrdup(valkey_version ? "valkey" : "redis");
    if (valkey_version) {
        info.version = valkey_version;
        valkey_version = NULL;
    } else {
        info.version = xstrdup(info.redis_version);
    }
    *out = info;
    memset(&info, 0, sizeof(info));
    rc = 0;
out:
    xfree(valkey_version);
    redis_info_release(&info);
    return rc;
}

int redis_info_read(struct redis_conn *c, struct redis_info *out, struct error *err)
{
    /* Plain INFO: its default sections include all we read, on every version (INFO with several
     * section names needs 7.0). */
    const char *argv[1] = {"INFO"};
    struct resp_value *reply = NULL;
    int rc = -1;

    if (redis_command(c, 1, argv, NULL, &reply, err) < 0)
        return -1;
    if (reply->type != RESP_BULK) {
        redis_reply_error(c, "INFO", reply, err);
        goto out;
    }
    rc = redis_info_parse(reply->str, reply->len, out, err);
out:
    resp_value_free(reply);
    return rc;
}

void redis_info_release(struct redis_info *info)
{
    xfree(info->server_name);
    xfree(info->version);
    xfree(info->redis_version);
    xfree(info->role);
    xfree(info->dbs);
    memset(info, 0, sizeof(*info));
    info->used_memory = -1;
}

/* ---- replication ---- */

static bool redis_is_refusal(const struct resp_value *v)
{
    return redis_error_starts(v, "NOPERM") || redis_error_starts(v, "NOAUTH") ||
           redis_error_has(v, "unknown command") || redis_error_has(v, "not allowed");
}

/* Drops the bare newlines a master sends while its snapshot is being prepared. */
static int redis_skip_keepalives(struct redis_conn *c, struct error *err)
{
    for (;;) {
        while (c->rpos < c->rlen && c->rbuf[c->rpos] == '\n')
            c->rpos++;
        if (c->rpos < c->rlen)
            return 0;
        if (redis_fill(c, err) < 0)
            return -1;
        if (c->rlen == 0)
            return redis_closed_error(c, " before the snapshot started", err);
    }
}

/* The payload header line ("$<len>" or "$EOF:<mark>"), without CRLF, into line. */
static int redis_read_header_line(struct redis_conn *c, char *line, size_t cap, struct error *err)
{
    size_t n = 0;

    if (redis_skip_keepalives(c, err) < 0)
        return -1;
    for (;;) {
        while (c->rpos < c->rlen) {
            char ch = c->rbuf[c->rpos++];
            if (ch == '\n') {
                if (n > 0 && line[n - 1] == '\r')
                    n--;
                line[n] = '\0';
                return 0;
            }
            if (n + 1 >= cap)
                return error_set(err, ERR_REMOTE, "%s: snapshot header line too long",
                                 redis_peer(c));
            line[n++] = ch;
        }
        if (redis_fill(c, err) < 0)
            return -1;
        if (c->rlen == 0)
            return redis_closed_error(c, " before the snapshot header", err);
    }
}

/* Sends a replication command and reads its reply, keep-alives first skipped. */
static int redis_repl_command(struct redis_conn *c, size_t argc, const char *const *argv,
                              struct resp_value **reply, struct error *err)
{
    if (redis_send(c, argc, argv, NULL, err) < 0)
        return -1;
    if (redis_skip_keepalives(c, err) < 0)
        return -1;
    return redis_read_reply(c, reply, err);
}

static int redis_refused(struct redis_conn *c, const char *what, const struct resp_value *v,
                         struct error *err)
{
    redis_reply_error(c, what, v, err);
    error_wrap(err, "%s refuses replication", redis_peer(c));
    if (!err->hint[0])
        error_hint(err, "use method = logical (or auto) for servers that refuse SYNC");
    return REDIS_REFUSED;
}

static int redis_sync_handshake(struct redis_conn *c, struct redis_sync_result *res,
                                struct error *err)
{
    const char *capa[5] = {"REPLCONF", "capa", "eof", "capa", "psync2"};
    const char *rdb_only[3] = {"REPLCONF", "rdb-only", "1"};
    const char *psync[3] = {"PSYNC", "?", "-1"};
    const char *sync[1] = {"SYNC"};
    struct resp_value *reply = NULL;
    int rc = -1;

    if (redis_repl_command(c, 5, capa, &reply, err) < 0)
        goto out;
    if (reply->type == RESP_ERROR) {
        rc = redis_is_refusal(reply) ? redis_refused(c, "REPLCONF", reply, err)
                                     : redis_reply_error(c, "REPLCONF capa eof", reply, err);
        goto out;
    }
    resp_value_free(reply);
    reply = NULL;
    /* An error only means a server older than 6.2: it will stream the replication feed after the
     * payload, which we stop reading at the payload's end. */
    if (redis_repl_command(c, 3, rdb_only, &reply, err) < 0)
        goto out;
    res->is_rdb_only = reply->type != RESP_ERROR;
    resp_value_free(reply);
    reply = NULL;

    if (redis_repl_command(c, 3, psync, &reply, err) < 0)
        goto out;
    if (redis_error_has(reply, "unknown command")) {
        resp_value_free(reply);
        reply = NULL;
        /* SYNC answers with the payload itself, not a reply line. */
        if (redis_send(c, 1, sync, NULL, err) < 0)
            goto out;
        if (redis_skip_keepalives(c, err) < 0)
            goto out;
        if (c->rbuf[c->rpos] == '-') {
            if (redis_read_reply(c, &reply, err) < 0)
                goto out;
            rc = redis_is_refusal(reply) ? redis_refused(c, "SYNC", reply, err)
                                         : redis_reply_error(c, "SYNC", reply, err);
            goto out;
        }
        res->is_psync = false;
        res->offset = -1;
        rc = 0;
        goto out;
    }
    if (reply->type == RESP_ERROR) {
        rc = redis_is_refusal(reply) ? redis_refused(c, "PSYNC", reply, err)
                                     : redis_reply_error(c, "PSYNC", reply, err);
        goto out;
    }
    if (reply->type != RESP_SIMPLE || strncmp(reply->str, "FULLRESYNC ", 11) != 0) {
        redis_reply_error(c, "PSYNC: expected +FULLRESYNC", reply, err);
        goto out;
    }
    {
        struct strv rest = strv_make(reply->str + 11, reply->len - 11);
        struct strv id;
        uint64_t off = 0;
        if (!strv_cut(&rest, ' ', &id) || id.len != 40 || !strv_to_u64(rest, &off) ||
            off > (uint64_t)INT64_MAX) {
            redis_reply_error(c, "PSYNC: malformed +FULLRESYNC", reply, err);
            goto out;
        }
        memcpy(res->replid, id.ptr, 40);
        res->replid[40] = '\0';
        res->offset = (int64_t)off;
        res->is_psync = true;
    }
    rc = 0;
out:
    resp_value_free(reply);
    return rc;
}

/* Streams the payload after its header: rbuf's leftover first, then large reads. */
static int redis_sync_payload(struct redis_conn *c, const char *mark, redis_sink_fn sink, void *ctx,
                              struct redis_sync_result *res, struct error *err)
{
    bool is_eof = mark != NULL;
    size_t cap = REDIS_PAYLOAD_BUF;
    char *buf = xmalloc(cap + REDIS_EOF_MARK_LEN);
    size_t held = 0; /* EOF mode: bytes at buf[0..held) not yet passed (the possible mark) */
    size_t batch = 0;
    int rc = -1;

    /* Wake up per REDIS_READ_BATCH bytes, not per TCP segment: a tenth of the system calls and of
     * the hand-offs between us and the server's child on a busy machine. Safe where the end is
     * known (the length, less what is left) or the server closes after the mark (rdb-only). */
    if (is_eof && res->is_rdb_only) {
        batch = REDIS_READ_BATCH;
        net_conn_set_read_batch(c->net, batch);
    }
    for (;;) {
        size_t got = 0;
        size_t total;

        if (!is_eof && res->bytes == res->expected_bytes)
            break;
        if (!is_eof) {
            uint64_t left = res->expected_bytes - res->bytes;
            size_t want_batch = left < REDIS_READ_BATCH ? (size_t)left : REDIS_READ_BATCH;
            if (want_batch != batch) {
                batch = want_batch;
                net_conn_set_read_batch(c->net, batch);
            }
        }
        if (c->rpos < c->rlen) {
            got = c->rlen - c->rpos;
            if (got > cap)
                got = cap;
            memcpy(buf + held, c->rbuf + c->rpos, got);
            c->rpos += got;
        } else {
            size_t want = cap;
            if (!is_eof && res->expected_bytes - res->bytes < want)
                want = (size_t)(res->expected_bytes - res->bytes);
            if (net_conn_read(c->net, buf + held, want, &got, err) < 0)
                goto out;
            if (got == 0) {
                if (is_eof)
                    error_set(err, ERR_NETWORK,
                              "%s: connection closed after %" PRIu64 " bytes, before the end mark",
                              redis_peer(c), res->bytes + held);
                else
                    error_set(err, ERR_NETWORK,
                              "%s: connection closed after %" PRIu64 " of %" PRIu64 " bytes",
                              redis_peer(c), res->bytes, res->expected_bytes);
                goto out;
            }
        }
        if (!is_eof) {
            if (got > res->expected_bytes - res->bytes)
                got = (size_t)(res->expected_bytes - res->bytes);
            if (sink(ctx, buf, got, err) < 0)
                goto out;
            res->bytes += got;
            continue;
        }
        total = held + got;
        if (!res->is_rdb_only) {
            /* A pre-6.2 server goes on with the replication feed right after the mark, possibly
             * in the same read: look for the mark anywhere in what is new. */
            const char *m = memmem(buf, total, mark, REDIS_EOF_MARK_LEN);
            if (m) {
                size_t n = (size_t)(m - buf);
                if (n > 0 && sink(ctx, buf, n, err) < 0)
                    goto out;
                res->bytes += n;
                break;
            }
        } else if (total >= REDIS_EOF_MARK_LEN &&
                   memcmp(buf + total - REDIS_EOF_MARK_LEN, mark, REDIS_EOF_MARK_LEN) == 0) {
            size_t n = total - REDIS_EOF_MARK_LEN;
            if (n > 0 && sink(ctx, buf, n, err) < 0)
                goto out;
            res->bytes += n;
            break;
        }
        if (total <= REDIS_EOF_MARK_LEN) {
            held = total;
            continue;
        }
        if (sink(ctx, buf, total - REDIS_EOF_MARK_LEN, err) < 0)
            goto out;
        res->bytes += total - REDIS_EOF_MARK_LEN;
        memmove(buf, buf + total - REDIS_EOF_MARK_LEN, REDIS_EOF_MARK_LEN);
        held = REDIS_EOF_MARK_LEN;
    }
    rc = 0;
out:
    if (batch > 1)
        net_conn_set_read_batch(c->net, 1);
    xfree(buf);
    return rc;
}

int redis_sync(struct redis_conn *c, redis_sink_fn sink, void *ctx, struct redis_sync_result *res,
               struct error *err)
{
    char line[REDIS_HEADER_LINE_MAX];
    char mark[REDIS_EOF_MARK_LEN + 1];
    int r;

    memset(res, 0, sizeof(*res));
    res->offset = -1;
    r = redis_sync_handshake(c, res, err);
    if (r != 0)
        return r;
    if (redis_read_header_line(c, line, sizeof(line), err) < 0)
        return error_wrap(err, "snapshot from %s", redis_peer(c));
    if (line[0] == '-')
        return error_set(err, ERR_REMOTE, "snapshot from %s: the server failed: %.200s",
                         redis_peer(c), line + 1);
    if (strncmp(line, "$EOF:", 5) == 0) {
        if (strlen(line + 5) != REDIS_EOF_MARK_LEN)
            return error_set(err, ERR_REMOTE, "snapshot from %s: malformed end mark header",
                             redis_peer(c));
        memcpy(mark, line + 5, REDIS_EOF_MARK_LEN + 1);
        res->is_diskless = true;
        r = redis_sync_payload(c, mark, sink, ctx, res, err);
    } else {
        uint64_t n = 0;
        if (line[0] != '$' || !strv_to_u64(strv_from(line + 1), &n))
            return error_set(err, ERR_REMOTE,
                             "snapshot from %s: expected '$<length>' or '$EOF:<mark>', got '%.40s'",
                             redis_peer(c), line);
        res->expected_bytes = n;
        r = redis_sync_payload(c, NULL, sink, ctx, res, err);
    }
    return r;
}

/* ---- logical export ---- */

/* A set of 64-bit key hashes (open addressing; 0 stands for empty, so hash 0 is stored as 1). */
struct redis_hash_set {
    uint64_t *slots;
    size_t cap; /* power of two */
    size_t count;
};

static uint64_t redis_key_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a, then a 64-bit finaliser (splitmix64) */

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3u;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebu;
    h ^= h >> 31;
    return h ? h : 1;
}

/* Adds h; false when it was already there. */
static bool redis_hash_set_add(struct redis_hash_set *s, uint64_t h)
{
    size_t i;

    if ((s->count + 1) * 4 > s->cap * 3) {
        size_t ncap = s->cap ? s->cap * 2 : 1024;
        uint64_t *n = xcalloc(ncap, sizeof(*n));
        for (size_t j = 0; j < s->cap; j++) {
            if (!s->slots[j])
                continue;
            i = (size_t)s->slots[j] & (ncap - 1);
            while (n[i])
                i = (i + 1) & (ncap - 1);
            n[i] = s->slots[j];
        }
        xfree(s->slots);
        s->slots = n;
        s->cap = ncap;
    }
    i = (size_t)h & (s->cap - 1);
    while (s->slots[i]) {
        if (s->slots[i] == h)
            return false;
        i = (i + 1) & (s->cap - 1);
    }
    s->slots[i] = h;
    s->count++;
    return true;
}

static void redis_hash_set_release(struct redis_hash_set *s)
{
    xfree(s->slots);
    memset(s, 0, sizeof(*s));
}

static void redis_describe_key(const char *key, size_t len, char *dst, size_t cap)
{
    struct buf b;

    buf_init(&b, 1024);
    struct resp_value v;
    memset(&v, 0, sizeof(v));
    v.type = RESP_BULK;
    v.str = (char *)(uintptr_t)key;
    v.len = len;
    resp_value_describe(&v, REDIS_KEY_CHARS, &b);
    buf_format_fixed(dst, cap, "%s", b.data);
    buf_release(&b);
}

static int redis_export_refused(struct redis_conn *c, const char *what, const struct resp_value *v,
                                struct error *err)
{
    redis_reply_error(c, what, v, err);
    if (redis_error_starts(v, "NOPERM"))
        error_hint(err,
                   "the logical export needs the ACL rights +@keyspace +@read +dump +scan "
                   "+select +info (e.g. ACL SETUSER backup on >... ~* +@read +@keyspace +dump)");
    return -1;
}

static bool redis_version_at_least(const char *version, int major)
{
    uint64_t v = 0;
    struct strv rest = strv_from(version ? version : "");
    struct strv head;

    strv_cut(&rest, '.', &head);
    return strv_to_u64(head, &v) && v >= (uint64_t)major;
}

struct redis_export {
    struct redis_conn *c;
    redis_sink_fn sink;
    void *ctx;
    struct buf out; /* RESP commands not yet passed to the sink */
    bool has_pexpiretime;
    struct redis_logical_stats *st;
    struct redis_db_keys *dbst;
};

static int redis_export_flush(struct redis_export *x, struct error *err)
{
    int rc = 0;

    if (x->out.len > 0)
        rc = x->sink(x->ctx, x->out.data, x->out.len, err);
    buf_reset(&x->out);
    return rc;
}

/* One SCAN batch: DUMP + expiry for every key not seen before, pipelined, then the replies. */
static int redis_export_batch(struct redis_export *x, const struct resp_value *keys, int db,
                              struct redis_hash_set *seen, struct error *err)
{
    struct buf req;
    size_t *idx = xcalloc(keys->count ? keys->count : 1, sizeof(*idx));
    size_t n = 0;
    struct resp_value *dump = NULL;
    struct resp_value *ttl = NULL;
    int rc = -1;

    buf_init(&req, BUF_NO_CAP);
    for (size_t i = 0; i < keys->count; i++) {
        const struct resp_value *k = &keys->items[i];
        const char *argv[2];
        size_t lens[2];
        if (k->type != RESP_BULK) {
            error_set(err, ERR_REMOTE, "SCAN in db %d: a key is not a string", db);
            goto out;
        }
        if (!redis_hash_set_add(seen, redis_key_hash(k->str, k->len)))
            continue;
        argv[0] = "DUMP";
        argv[1] = k->str;
        lens[0] = 4;
        lens[1] = k->len;
        resp_append_command(&req, 2, argv, lens);
        argv[0] = x->has_pexpiretime ? "PEXPIRETIME" : "PTTL";
        lens[0] = strlen(argv[0]);
        resp_append_command(&req, 2, argv, lens);
        idx[n++] = i;
    }
    if (n == 0) {
        rc = 0;
        goto out;
    }
    if (net_conn_write_all(x->c->net, req.data, req.len, err) < 0)
        goto out;
    for (size_t j = 0; j < n; j++) {
        const struct resp_value *k = &keys->items[idx[j]];
        char kd[REDIS_KEY_CHARS * 4 + 8];
        char what[REDIS_KEY_CHARS * 4 + 64];
        int64_t expiry = 0;
        char expiry_text[24];

        if (redis_read_reply(x->c, &dump, err) < 0 || redis_read_reply(x->c, &ttl, err) < 0)
            goto out;
        redis_describe_key(k->str, k->len, kd, sizeof(kd));
        if (dump->type == RESP_ERROR) {
            buf_format_fixed(what, sizeof(what), "DUMP %s in db %d", kd, db);
            redis_export_refused(x->c, what, dump, err);
            goto out;
        }
        if (ttl->type == RESP_ERROR) {
            buf_format_fixed(what, sizeof(what), "%s %s in db %d",
                             x->has_pexpiretime ? "PEXPIRETIME" : "PTTL", kd, db);
            redis_export_refused(x->c, what, ttl, err);
            goto out;
        }
        if (dump->type == RESP_NIL || (ttl->type == RESP_INTEGER && ttl->integer == -2)) {
            x->st->vanished++;
        } else if (dump->type != RESP_BULK || ttl->type != RESP_INTEGER) {
            buf_format_fixed(what, sizeof(what), "DUMP %s in db %d: unexpected reply", kd, db);
            redis_reply_error(x->c, what, dump->type != RESP_BULK ? dump : ttl, err);
            goto out;
        } else {
            const char *argv[6];
            size_t lens[6];
            if (ttl->integer >= 0)
                expiry = x->has_pexpiretime ? ttl->integer : time_now_ms() + ttl->integer;
            /* A key that expires at 0 would mean "no expiry" to RESTORE: keep it already due. */
            if (ttl->integer >= 0 && expiry <= 0)
                expiry = 1;
            buf_format_fixed(expiry_text, sizeof(expiry_text), "%" PRId64, expiry);
            argv[0] = "RESTORE";
            argv[1] = k->str;
            argv[2] = expiry_text;
            argv[3] = dump->str;
            argv[4] = "REPLACE";
            argv[5] = "ABSTTL";
            lens[0] = 7;
            lens[1] = k->len;
            lens[2] = strlen(expiry_text);
            lens[3] = dump->len;
            lens[4] = 7;
            lens[5] = 6;
            resp_append_command(&x->out, 6, argv, lens);
            x->st->keys++;
            x->dbst->keys++;
            if (expiry > 0)
                x->dbst->expires++;
            if (x->out.len >= REDIS_EXPORT_FLUSH && redis_export_flush(x, err) < 0)
                goto out;
        }
        resp_value_free(dump);
        resp_value_free(ttl);
        dump = NULL;
        ttl = NULL;
    }
    rc = 0;
out:
    resp_value_free(dump);
    resp_value_free(ttl);
    buf_release(&req);
    xfree(idx);
    return rc;
}

static int redis_export_db(struct redis_export *x, int db, int *current_db, struct error *err)
{
    char dbtext[16];
    char cursor[32] = "0";
    const char *argv[4];
    struct resp_value *reply = NULL;
    struct redis_hash_set seen = {NULL, 0, 0};
    char what[64];
    int rc = -1;

    buf_format_fixed(dbtext, sizeof(dbtext), "%d", db);
    argv[0] = "SELECT";
    argv[1] = dbtext;
    /* A fresh connection is on db 0: not selecting it keeps cluster-mode servers (no SELECT) happy.
     */
    if (db != *current_db) {
        if (redis_command(x->c, 2, argv, NULL, &reply, err) < 0)
            goto out;
        if (reply->type == RESP_ERROR) {
            buf_format_fixed(what, sizeof(what), "SELECT %d", db);
            redis_export_refused(x->c, what, reply, err);
            goto out;
        }
        resp_value_free(reply);
        reply = NULL;
        *current_db = db;
    }
    resp_append_command(&x->out, 2, argv, NULL);
    do {
        const struct resp_value *next;
        const struct resp_value *keys;
        argv[0] = "SCAN";
        argv[1] = cursor;
        argv[2] = "COUNT";
        argv[3] = REDIS_SCAN_COUNT;
        if (redis_command(x->c, 4, argv, NULL, &reply, err) < 0)
            goto out;
        if (reply->type == RESP_ERROR) {
            buf_format_fixed(what, sizeof(what), "SCAN in db %d", db);
            redis_export_refused(x->c, what, reply, err);
            goto out;
        }
        if (reply->type != RESP_ARRAY || reply->count != 2 || reply->items[0].type != RESP_BULK ||
            reply->items[0].len >= sizeof(cursor) || reply->items[1].type != RESP_ARRAY) {
            buf_format_fixed(what, sizeof(what), "SCAN in db %d: unexpected reply", db);
            redis_reply_error(x->c, what, reply, err);
            goto out;
        }
        next = &reply->items[0];
        keys = &reply->items[1];
        memcpy(cursor, next->str, next->len + 1);
        if (redis_export_batch(x, keys, db, &seen, err) < 0)
            goto out;
        resp_value_free(reply);
        reply = NULL;
    } while (strcmp(cursor, "0") != 0);
    rc = 0;
out:
    resp_value_free(reply);
    redis_hash_set_release(&seen);
    return rc;
}

int redis_logical_export(struct redis_conn *c, const struct redis_info *info, redis_sink_fn sink,
                         void *ctx, struct redis_logical_stats *st, struct error *err)
{
    struct redis_export x;
    struct redis_logical_stats s;
    int current_db = 0;
    int rc = -1;

    memset(st, 0, sizeof(*st));
    memset(&s, 0, sizeof(s));
    memset(&x, 0, sizeof(x));
    x.c = c;
    x.sink = sink;
    x.ctx = ctx;
    x.st = &s;
    /* PEXPIRETIME (7.0) gives the absolute expiry the server holds; PTTL + our clock would shift
     * it by the clock difference and the time between the two calls. Valkey reports 7.2.4. */
    x.has_pexpiretime = redis_version_at_least(info->redis_version, 7);
    buf_init(&x.out, BUF_NO_CAP);
    /* Function libraries (7.0+) are not keys: FUNCTION DUMP gives them all as one payload, written
     * first so they exist before any key; a payload of only the footer means there are none. */
    if (x.has_pexpiretime) {
        const char *argv[4] = {"FUNCTION", "DUMP", NULL, "REPLACE"};
        size_t lens[4] = {8, 4, 0, 7};
        struct resp_value *reply = NULL;

        if (redis_command(c, 2, argv, NULL, &reply, err) < 0)
            goto out;
        if (reply->type == RESP_BULK && reply->len > 10) {
            argv[1] = "RESTORE";
            lens[1] = 7;
            argv[2] = reply->str;
            lens[2] = reply->len;
            resp_append_command(&x.out, 4, argv, lens);
            s.functions = 1;
        } else if (reply->type == RESP_ERROR) {
            struct buf d;
            buf_init(&d, 1024);
            resp_value_describe(reply, REDIS_DESCRIBE_CHARS, &d);
            log_warn("%s: FUNCTION DUMP refused (%s): function libraries, if any, are not in the "
                     "snapshot",
                     redis_peer(c), d.data);
            buf_release(&d);
        }
        resp_value_free(reply);
    }
    s.dbs = xcalloc(info->db_count ? info->db_count : 1, sizeof(*s.dbs));
    for (size_t i = 0; i < info->db_count; i++) {
        s.dbs[i].db = info->dbs[i].db;
        s.db_count++;
        x.dbst = &s.dbs[i];
        if (redis_export_db(&x, info->dbs[i].db, &current_db, err) < 0) {
            error_wrap(err, "logical export from %s", redis_peer(c));
            goto out;
        }
        if (redis_export_flush(&x, err) < 0)
            goto out;
    }
    *st = s;
    memset(&s, 0, sizeof(s));
    rc = 0;
out:
    buf_release(&x.out);
    redis_logical_stats_release(&s);
    return rc;
}

void redis_logical_stats_release(struct redis_logical_stats *st)
{
    xfree(st->dbs);
    memset(st, 0, sizeof(*st));
}

/* ---- replay ---- */

struct redis_replay_cmd {
    char what[REDIS_KEY_CHARS * 4 + 48]; /* "RESTORE \"key\"" for messages */
};

struct redis_replay {
    struct redis_conn *c;
    struct buf out;
    struct redis_replay_cmd *cmds; /* sent or queued, not yet acknowledged, in order */
    size_t count;
    size_t inflight; /* the first inflight of cmds are sent; the rest are queued in out */
    size_t alloc;
    uint64_t acked;
    bool has_failed;
};

struct redis_replay *redis_replay_new(struct redis_conn *c)
{
    struct redis_replay *r = xcalloc(1, sizeof(*r));

    r->c = c;
    buf_init(&r->out, BUF_NO_CAP);
    return r;
}

void redis_replay_free(struct redis_replay *r)
{
    if (!r)
        return;
    buf_release(&r->out);
    xfree(r->cmds);
    xfree(r);
}

/* Reads the replies of the first n commands of r->cmds and drops those commands. */
static int redis_replay_read(struct redis_replay *r, size_t n, struct error *err)
{
    struct resp_value *reply = NULL;

    for (size_t i = 0; i < n; i++) {
        if (redis_read_reply(r->c, &reply, err) < 0)
            return -1;
        if (reply->type == RESP_ERROR) {
            char what[sizeof(r->cmds[i].what) + 48];
            buf_format_fixed(what, sizeof(what), "replay: %s (command %" PRIu64 ")",
                             r->cmds[i].what, r->acked + i + 1);
            redis_reply_error(r->c, what, reply, err);
            if (redis_error_has(reply, "payload version"))
                error_hint(err, "the target server is older than the snapshot's RDB version: "
                                "restore into a server at least as new as the source");
            resp_value_free(reply);
            return -1;
        }
        resp_value_free(reply);
        reply = NULL;
    }
    r->acked += n;
    r->count -= n;
    memmove(r->cmds, r->cmds + n, r->count * sizeof(*r->cmds));
    return 0;
}

/* Sends the queued batch, then reads the replies of the batch sent before it: one batch is always
 * on its way while the server works through the other, as `redis-cli --pipe` keeps it busy. A
 * batch is bounded (REDIS_REPLAY_BYTES or one command) and the server keeps reading while its
 * replies wait in its output buffer, so writing before reading cannot deadlock. */
static int redis_replay_flush(struct redis_replay *r, bool is_last, struct error *err)
{
    size_t before = r->inflight;
    int rc = -1;

    if (r->out.len > 0 && net_conn_write_all(r->c->net, r->out.data, r->out.len, err) < 0)
        goto out;
    buf_reset(&r->out);
    r->inflight = r->count;
    if (redis_replay_read(r, is_last ? r->inflight : before, err) < 0)
        goto out;
    r->inflight -= is_last ? r->inflight : before;
    rc = 0;
out:
    if (rc < 0)
        r->has_failed = true;
    return rc;
}

int redis_replay_command(struct redis_replay *r, size_t argc, const char *const *argv,
                         const size_t *lens, struct error *err)
{
    struct redis_replay_cmd *cmd;

    if (r->has_failed)
        return error_set(err, ERR_REMOTE, "replay: already failed");
    if (argc == 0)
        return error_set(err, ERR_REMOTE, "replay: empty command");
    XGROW(r->cmds, r->count + 1, r->alloc);
    cmd = &r->cmds[r->count];
    {
        size_t n0 = lens ? lens[0] : strlen(argv[0]);
        char name[40];
        redis_describe_key(argv[0], n0 > 32 ? 32 : n0, name, sizeof(name));
        /* describe quotes the name: drop the quotes for a command name */
        size_t nl = strlen(name);
        if (nl >= 2) {
            memmove(name, name + 1, nl - 2);
            name[nl - 2] = '\0';
        }
        if (argc > 1) {
            char key[REDIS_KEY_CHARS * 4 + 8];
            redis_describe_key(argv[1], lens ? lens[1] : strlen(argv[1]), key, sizeof(key));
            buf_format_fixed(cmd->what, sizeof(cmd->what), "%s %s", name, key);
        } else {
            buf_format_fixed(cmd->what, sizeof(cmd->what), "%s", name);
        }
    }
    resp_append_command(&r->out, argc, argv, lens);
    r->count++;
    if (r->count - r->inflight >= REDIS_REPLAY_COMMANDS || r->out.len >= REDIS_REPLAY_BYTES)
        return redis_replay_flush(r, false, err);
    return 0;
}

int redis_replay_finish(struct redis_replay *r, uint64_t *commands, struct error *err)
{
    if (r->has_failed)
        return error_set(err, ERR_REMOTE, "replay: already failed");
    if (redis_replay_flush(r, true, err) < 0)
        return -1;
    *commands = r->acked;
    return 0;
}
