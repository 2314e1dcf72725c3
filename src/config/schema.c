#include "config/schema.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <strings.h>

#include "config/config.h"
#include "config/ini.h"
#include "util/bech32.h"
#include "util/cron.h"
#include "util/strv.h"
#include "util/xalloc.h"

/* Fields are reached through void pointers (never a cast of char *), so -Wcast-align stays quiet
 * and the table can hold plain offsetof values. */
static void *schema_field(void *obj, size_t offset)
{
    return (char *)obj + offset;
}

static const void *schema_cfield(const void *obj, size_t offset)
{
    return (const char *)obj + offset;
}

static void schema_replace_string(void *obj, size_t offset, const char *value)
{
    char **field = schema_field(obj, offset);
    xfree(*field);
    *field = xstrdup(value);
}

static bool schema_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static struct strv schema_trim(struct strv s)
{
    while (s.len && schema_is_blank(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && schema_is_blank(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

/* ---- shared helpers ---- */

/* schema_printable for a view. */
static const char *schema_printable_view(struct strv s, char *out, size_t cap)
{
    size_t keep = s.len < cap ? s.len : cap - 4;
    size_t i;

    ASSERT(cap >= 8);
    for (i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 0x20 && c < 0x7f)
            out[i] = (char)c;
        else
            out[i] = '?';
    }
    if (keep < s.len) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

const char *schema_printable(const char *s, char *out, size_t cap)
{
    return schema_printable_view(strv_from(s), out, cap);
}

bool schema_name_is_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > SCHEMA_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* Optimal-string-alignment distance (Levenshtein plus adjacent transposition). Both strings are
 * short here: callers skip candidates whose length differs from the word's by more than 2. */
#define SCHEMA_SUGGEST_MAX 64

static size_t schema_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t rows[3][SCHEMA_SUGGEST_MAX + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *t;
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (prev[j - 1] + cost < best)
                best = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *schema_suggest(const char *word, const char *const *candidates, size_t count)
{
    size_t lw = strlen(word);
    const char *best = NULL;
    size_t best_dist = 3;

    for (size_t i = 0; i < count; i++) {
        size_t lc = strlen(candidates[i]);
        size_t d;
        if (lc > SCHEMA_SUGGEST_MAX - 2 || lw > lc + 2 || lc > lw + 2)
            continue;
        d = schema_distance(word, lw, candidates[i], lc);
        if (d < best_dist && d < lc) {
            best = candidates[i];
            best_dist = d;
        }
    }
    return best;
}

/* Parses a decimal integer within [min, max]. */
static bool schema_parse_int(struct strv s, long long min, long long max, int *out)
{
    uint64_t v;

    if (!strv_to_u64(s, &v) || v > (uint64_t)LLONG_MAX)
        return false;
    if ((long long)v < min || (long long)v > max || (long long)v > INT_MAX)
        return false;
    *out = (int)v;
    return true;
}

/* ---- daemon: schedule, listen address, notification events ---- */

/* schedule: checked by util/cron.h, so a typo fails at load rather than never firing. */
static int schema_set_schedule(const struct schema_option *opt, void *obj, const char *value,
                               struct error *err)
{
    struct cron_expr expr;

    if (!*value)
        return error_set(err, ERR_CONFIG,
                         "empty schedule (leave the key out for a job that runs "
                         "only when asked)");
    if (cron_parse(value, &expr, err) < 0)
        return -1;
    schema_replace_string(obj, opt->offset, value);
    return 0;
}

/* A port number 0..65535 (0: any free port, which the daemon logs). */
static bool schema_parse_port(struct strv s, int *out)
{
    return s.len > 0 && s.len <= 5 && schema_parse_int(s, 0, 65535, out);
}

/* An IPv4 address in dotted decimal, four parts of at most 255. */
static bool schema_is_ipv4(struct strv s)
{
    int parts = 0;

    for (;;) {
        struct strv part;
        bool more = strv_cut(&s, '.', &part);
        int v;
        if (!part.len || part.len > 3 || !schema_parse_int(part, 0, 255, &v))
            return false;
        parts++;
        if (!more)
            break;
    }
    return parts == 4;
}

/* metrics_listen: HOST:PORT with HOST an IPv4 address, [IPv6 address] or localhost; or off. */
static int schema_set_listen(const struct schema_option *opt, void *obj, const char *value,
                             struct error *err)
{
    struct strv v = schema_trim(strv_from(value));
    const char *colon = memrchr(v.ptr, ':', v.len);
    struct strv host;
    struct strv port;
    char shown[80];
    int n;

    if (strv_eq_nocase(v, "off") || strv_eq_nocase(v, "no")) {
        char **field = schema_field(obj, opt->offset);
        xfree(*field);
        *field = NULL;
        return 0;
    }
    if (!colon)
        goto bad;
    host = strv_make(v.ptr, (size_t)(colon - v.ptr));
    port = strv_make(colon + 1, v.len - host.len - 1);
    if (!schema_parse_port(port, &n))
        goto bad;
    if (host.len >= 2 && host.ptr[0] == '[' && host.ptr[host.len - 1] == ']') {
        for (size_t i = 1; i + 1 < host.len; i++)
            if (!strchr("0123456789abcdefABCDEF:.", host.ptr[i]))
                goto bad;
    } else if (!schema_is_ipv4(host) && !strv_eq(host, "localhost")) {
        goto bad;
    }
    schema_replace_string(obj, opt->offset, value);
    return 0;
bad:
    error_set(err, ERR_CONFIG,
              "expected HOST:PORT (an IPv4 address, [IPv6] or localhost) or off, "
              "got '%s'",
              schema_printable(value, shown, sizeof(shown)));
    return error_hint(err, "e.g. 127.0.0.1:9187; bind to 0.0.0.0 only behind a firewall");
}

static bool schema_format_listen(const struct schema_option *opt, const void *obj, struct buf *out)
{
    char *const *field = schema_cfield(obj, opt->offset);

    buf_adds(out, *field ? *field : "off");
    return true;
}

static const char *const schema_event_names[] = {"start", "success", "failure", "warning"};

/* on = failure, warning (or all) */
static int schema_set_events(const struct schema_option *opt, void *obj, const char *value,
                             struct error *err)
{
    unsigned *field = schema_field(obj, opt->offset);
    struct strv rest = strv_from(value);
    unsigned bits = 0;
    char shown[80];

    for (;;) {
        struct strv item;
        bool more = strv_cut(&rest, ',', &item);
        unsigned bit = 0;
        item = schema_trim(item);
        if (strv_eq_nocase(item, "all"))
            bit = CFG_NOTIFY_ON_ALL;
        for (size_t i = 0; i < sizeof(schema_event_names) / sizeof(schema_event_names[0]); i++)
            if (strv_eq_nocase(item, schema_event_names[i]))
                bit = 1u << i;
        if (!bit) {
            char *text = strv_dup(item);
            error_set(err, ERR_CONFIG,
                      item.len ? "unknown event '%s' (known: start, success, failure, warning, all)"
                               : "empty item in the list%s",
                      item.len ? schema_printable(text, shown, sizeof(shown)) : "");
            xfree(text);
            return -1;
        }
        bits |= bit;
        if (!more)
            break;
    }
    *field = bits;
    return 0;
}

static bool schema_format_events(const struct schema_option *opt, const void *obj, struct buf *out)
{
    const unsigned *field = schema_cfield(obj, opt->offset);
    bool first = true;

    if (!*field)
        return false;
    for (size_t i = 0; i < sizeof(schema_event_names) / sizeof(schema_event_names[0]); i++) {
        if (*field & (1u << i)) {
            buf_addf(out, "%s%s", first ? "" : ", ", schema_event_names[i]);
            first = false;
        }
    }
    return true;
}

/* ---- strings: path, time zone, conninfo ---- */

static bool schema_format_string(const struct schema_option *opt, const void *obj, struct buf *out)
{
    char *const *field = schema_cfield(obj, opt->offset);

    if (!*field)
        return false;
    buf_adds(out, *field);
    return true;
}

static int schema_set_path(const struct schema_option *opt, void *obj, const char *value,
                           struct error *err)
{
    char shown[80];

    if (!*value)
        return error_set(err, ERR_CONFIG, "empty value");
    if (value[0] != '/')
        return error_set(err, ERR_CONFIG, "'%s' is not an absolute path",
                         schema_printable(value, shown, sizeof(shown)));
    if (strlen(value) >= PATH_MAX)
        return error_set(err, ERR_CONFIG, "path is longer than %d bytes", PATH_MAX - 1);
    schema_replace_string(obj, opt->offset, value);
    return 0;
}

/* True when name could be an IANA zone name: components of [A-Za-z0-9_+-] separated by single '/',
 * so it cannot climb out of the zoneinfo directory or name one of its non-zone files (zone.tab,
 * ...). */
static bool schema_zone_name_is_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 255 || name[0] == '/' || name[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '/' && name[i + 1] == '/')
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '/'))
            return false;
    }
    return true;
}

/* True when path is a readable compiled zone file (TZif magic). */
static bool schema_zone_file_is_valid(const char *path)
{
    char magic[4];
    struct stat st;
    bool ok = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0)
        return false;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read(fd, magic, 4) == 4 &&
        memcmp(magic, "TZif", 4) == 0)
        ok = true;
    close(fd);
    return ok;
}

static int schema_set_timezone(const struct schema_option *opt, void *obj, const char *value,
                               struct error *err)
{
    char shown[80];
    char *path = NULL;
    int rc = -1;

    if (!*value) {
        error_set(err, ERR_CONFIG, "empty value (leave it out to use the machine's time zone)");
        goto out;
    }
    if (strcmp(value, "UTC") != 0) {
        if (schema_zone_name_is_valid(value)) {
            path = xasprintf("%s/%s", SCHEMA_ZONEINFO_DIR, value);
            if (schema_zone_file_is_valid(path)) {
                schema_replace_string(obj, opt->offset, value);
                rc = 0;
                goto out;
            }
        }
        error_set(err, ERR_CONFIG, "unknown time zone '%s' (not found in %s)",
                  schema_printable(value, shown, sizeof(shown)), SCHEMA_ZONEINFO_DIR);
        error_hint(err, "use an IANA name such as 'Europe/Berlin', or 'UTC'");
        goto out;
    }
    schema_replace_string(obj, opt->offset, value);
    rc = 0;
out:
    xfree(path);
    return rc;
}

/* Conninfo checking. libpq accepts "key=value ..." (values bare or single-quoted, backslash
 * escapes) and postgresql:// URIs; a dbname that itself looks like a conninfo or URI is expanded
 * once. */
enum conninfo_verdict { CONNINFO_OK = 0, CONNINFO_HAS_PASSWORD, CONNINFO_INVALID };

static bool conninfo_is_uri(struct strv s)
{
    return strv_starts_with(s, "postgresql://") || strv_starts_with(s, "postgres://");
}

static int conninfo_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* True when the percent-encoded URI component s decodes to "password" or "sslpassword" (the key of
 * a client certificate), in any case. */
static bool conninfo_uri_is_password(struct strv s)
{
    char decoded[16];
    size_t n = 0;

    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (c == '%' && i + 2 < s.len && conninfo_hex(s.ptr[i + 1]) >= 0 &&
            conninfo_hex(s.ptr[i + 2]) >= 0) {
            c = (char)(conninfo_hex(s.ptr[i + 1]) * 16 + conninfo_hex(s.ptr[i + 2]));
            i += 2;
        }
        if (n >= sizeof(decoded) - 1)
            return false;
        decoded[n++] = c;
    }
    return strv_eq_nocase(strv_make(decoded, n), "password") ||
           strv_eq_nocase(strv_make(decoded, n), "sslpassword");
}

static enum conninfo_verdict conninfo_check_uri(struct strv s)
{
    struct strv rest = strv_make(s.ptr, s.len);
    struct strv authority;
    struct strv path;
    size_t end = 0;

    /* Skip the scheme and "://". */
    while (rest.len && rest.ptr[0] != ':') {
        rest.ptr++;
        rest.len--;
    }
    rest.ptr += 3;
    rest.len -= 3;
    while (end < rest.len && rest.ptr[end] != '/' && rest.ptr[end] != '?')
        end++;
    authority = strv_make(rest.ptr, end);
    for (size_t i = authority.len; i > 0; i--) {
        if (authority.ptr[i - 1] == '@') {
            if (memchr(authority.ptr, ':', i - 1))
                return CONNINFO_HAS_PASSWORD;
            break;
        }
    }
    rest = strv_make(rest.ptr + end, rest.len - end);
    if (strv_cut(&rest, '?', &path)) {
        while (rest.len) {
            struct strv param, key;
            strv_cut(&rest, '&', &param);
            strv_cut(&param, '=', &key);
            if (conninfo_uri_is_password(key))
                return CONNINFO_HAS_PASSWORD;
        }
    }
    return CONNINFO_OK;
}

static bool conninfo_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Checks one "key=value ..." string. expand_dbname: also check a dbname value that is itself a
 * conninfo (libpq expands only the first level, and so does this). */
static enum conninfo_verdict conninfo_check_pairs(struct strv s, bool expand_dbname)
{
    size_t i = 0;

    for (;;) {
        struct strv key;
        struct strv value;
        size_t value_start;
        enum conninfo_verdict v;

        while (i < s.len && conninfo_is_space(s.ptr[i]))
            i++;
        if (i == s.len)
            return CONNINFO_OK;
        key.ptr = s.ptr + i;
        while (i < s.len && s.ptr[i] != '=' && !conninfo_is_space(s.ptr[i]))
            i++;
        key.len = (size_t)(s.ptr + i - key.ptr);
        while (i < s.len && conninfo_is_space(s.ptr[i]))
            i++;
        if (key.len == 0 || i == s.len || s.ptr[i] != '=')
            return CONNINFO_INVALID;
        i++;
        while (i < s.len && conninfo_is_space(s.ptr[i]))
            i++;
        if (strv_eq_nocase(key, "password") || strv_eq_nocase(key, "sslpassword"))
            return CONNINFO_HAS_PASSWORD;
        value_start = i;
        if (i < s.len && s.ptr[i] == '\'') {
            for (i++; i < s.len && s.ptr[i] != '\''; i++)
                if (s.ptr[i] == '\\' && i + 1 < s.len)
                    i++;
            if (i == s.len)
                return CONNINFO_INVALID;
            i++;
        } else {
            for (; i < s.len && !conninfo_is_space(s.ptr[i]); i++)
                if (s.ptr[i] == '\\' && i + 1 < s.len)
                    i++;
        }
        if (!expand_dbname || !strv_eq(key, "dbname"))
            continue;
        /* The raw text of a quoted or escaped nested conninfo still shows "password=". */
        value = strv_make(s.ptr + value_start, i - value_start);
        if (value.len && value.ptr[0] == '\'') {
            value.ptr++;
            value.len -= value.len >= 2 ? 2 : 1;
        }
        if (conninfo_is_uri(value))
            v = conninfo_check_uri(value);
        else if (memchr(value.ptr, '=', value.len))
            v = conninfo_check_pairs(value, false);
        else
            v = CONNINFO_OK;
        if (v != CONNINFO_OK)
            return v;
    }
}

static int schema_set_conninfo(const struct schema_option *opt, void *obj, const char *value,
                               struct error *err)
{
    struct strv s = strv_from(value);
    enum conninfo_verdict v;

    if (!*value)
        return error_set(err, ERR_CONFIG, "empty value");
    v = conninfo_is_uri(s) ? conninfo_check_uri(s) : conninfo_check_pairs(s, true);
    switch (v) {
    case CONNINFO_OK:
        break;
    case CONNINFO_HAS_PASSWORD:
        error_set(err, ERR_CONFIG,
                  "the conninfo contains a password; use 'password = env:NAME' or "
                  "'password = file:PATH' in this job instead");
        return error_hint(err,
                          "a password in the conninfo would show up in 'config show' and in logs");
    case CONNINFO_INVALID:
        /* The text is not echoed: a malformed conninfo may still hold credentials. */
        return error_set(err, ERR_CONFIG,
                         "invalid conninfo (expected 'key=value ...' or a postgresql:// URI)");
    }
    schema_replace_string(obj, opt->offset, value);
    return 0;
}

/* ---- enums and bools ---- */

/* Finds value among opt->choices (any case); sets an "unknown LABEL" error when absent. */
static int schema_parse_choice(const struct schema_option *opt, const char *value, size_t *index,
                               struct error *err)
{
    struct buf known;
    char shown[80];
    size_t count = 0;
    const char *near;

    for (; opt->choices[count]; count++) {
        if (strcasecmp(value, opt->choices[count]) == 0) {
            *index = count;
            return 0;
        }
    }
    buf_init(&known, BUF_NO_CAP);
    for (size_t i = 0; i < count; i++)
        buf_addf(&known, "%s%s", i ? ", " : "", opt->choices[i]);
    error_set(err, ERR_CONFIG, "unknown %s '%s' (known: %s)", opt->choice_label,
              schema_printable(value, shown, sizeof(shown)), known.data);
    buf_release(&known);
    near = schema_suggest(value, opt->choices, count);
    if (near)
        error_hint(err, "did you mean '%s'?", near);
    return -1;
}

static int schema_set_enum_string(const struct schema_option *opt, void *obj, const char *value,
                                  struct error *err)
{
    size_t i;

    if (schema_parse_choice(opt, value, &i, err) < 0)
        return -1;
    schema_replace_string(obj, opt->offset, opt->choices[i]);
    return 0;
}

static int schema_set_job_kind(const struct schema_option *opt, void *obj, const char *value,
                               struct error *err)
{
    enum job_kind *field = schema_field(obj, opt->offset);
    size_t i;

    if (schema_parse_choice(opt, value, &i, err) < 0)
        return -1;
    *field = (enum job_kind)i;
    return 0;
}

static bool schema_format_job_kind(const struct schema_option *opt, const void *obj,
                                   struct buf *out)
{
    const enum job_kind *field = schema_cfield(obj, opt->offset);

    buf_adds(out, opt->choices[*field]);
    return true;
}

static int schema_set_row_counts(const struct schema_option *opt, void *obj, const char *value,
                                 struct error *err)
{
    enum row_counts_mode *field = schema_field(obj, opt->offset);
    size_t i;

    if (schema_parse_choice(opt, value, &i, err) < 0)
        return -1;
    *field = (enum row_counts_mode)i;
    return 0;
}

static bool schema_format_row_counts(const struct schema_option *opt, const void *obj,
                                     struct buf *out)
{
    const enum row_counts_mode *field = schema_cfield(obj, opt->offset);

    buf_adds(out, opt->choices[*field]);
    return true;
}

static int schema_set_redis_method(const struct schema_option *opt, void *obj, const char *value,
                                   struct error *err)
{
    enum redis_method *field = schema_field(obj, opt->offset);
    size_t i;

    if (schema_parse_choice(opt, value, &i, err) < 0)
        return -1;
    *field = (enum redis_method)i;
    return 0;
}

static bool schema_format_redis_method(const struct schema_option *opt, const void *obj,
                                       struct buf *out)
{
    const enum redis_method *field = schema_cfield(obj, opt->offset);

    buf_adds(out, opt->choices[*field]);
    return true;
}

/* redis://[user[:password]@]host[:port][/db] or rediss://: the shape is checked here; the full
 * parse (percent-decoding, port range, IPv6) is the client's, at run time. */
static int schema_set_redis_url(const struct schema_option *opt, void *obj, const char *value,
                                struct error *err)
{
    char shown[80];
    const char *rest;
    const char *at;
    const char *host_end;

    if (strncmp(value, "redis://", 8) == 0)
        rest = value + 8;
    else if (strncmp(value, "rediss://", 9) == 0)
        rest = value + 9;
    else
        /* Only the scheme is echoed: the rest may hold a password. */
        return error_set(err, ERR_CONFIG,
                         "scheme '%.*s' is not redis:// or rediss:// (redis://[user:password@]"
                         "host:port)",
                         (int)strcspn(value, ":/@"), schema_printable(value, shown, sizeof(shown)));
    for (const char *c = value; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return error_set(err, ERR_CONFIG, "the URL has a space or a control character");
    at = strrchr(rest, '@');
    if (at)
        rest = at + 1;
    host_end = rest + strcspn(rest, ":/");
    if (*rest == '[')
        host_end = strchr(rest, ']') ? strchr(rest, ']') + 1 : rest;
    if (host_end == rest)
        return error_set(err, ERR_CONFIG, "the URL has no host (redis://host:port)");
    schema_replace_string(obj, opt->offset, value);
    return 0;
}

/* Shows the URL with its password, if any, as "***". */
static bool schema_format_redis_url(const struct schema_option *opt, const void *obj,
                                    struct buf *out)
{
    char *const *field = schema_cfield(obj, opt->offset);
    const char *v;
    const char *scheme_end;
    const char *at;
    const char *colon;

    if (!*field)
        return false;
    v = *field;
    scheme_end = strstr(v, "://");
    at = strrchr(v, '@');
    if (!scheme_end || !at) {
        buf_adds(out, v);
        return true;
    }
    colon = memchr(scheme_end + 3, ':', (size_t)(at - (scheme_end + 3)));
    if (!colon) {
        buf_adds(out, v);
        return true;
    }
    buf_add(out, v, (size_t)(colon - v));
    buf_adds(out, ":***");
    buf_adds(out, at);
    return true;
}

static int schema_parse_bool(const char *value, bool *out, struct error *err)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    char shown[80];

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return error_set(err, ERR_CONFIG, "expected yes or no (or true/false, on/off, 1/0), got '%s'",
                     schema_printable(value, shown, sizeof(shown)));
}

static int schema_set_bool(const struct schema_option *opt, void *obj, const char *value,
                           struct error *err)
{
    bool *field = schema_field(obj, opt->offset);

    return schema_parse_bool(value, field, err);
}

static bool schema_format_bool(const struct schema_option *opt, const void *obj, struct buf *out)
{
    const bool *field = schema_cfield(obj, opt->offset);

    buf_adds(out, *field ? "yes" : "no");
    return true;
}

static int schema_set_tristate(const struct schema_option *opt, void *obj, const char *value,
                               struct error *err)
{
    enum cfg_tristate *field = schema_field(obj, opt->offset);
    bool b;

    if (schema_parse_bool(value, &b, err) < 0)
        return -1;
    *field = b ? CFG_TRISTATE_YES : CFG_TRISTATE_NO;
    return 0;
}

static bool schema_format_tristate(const struct schema_option *opt, const void *obj,
                                   struct buf *out)
{
    const enum cfg_tristate *field = schema_cfield(obj, opt->offset);

    switch (*field) {
    case CFG_TRISTATE_UNSET:
        return false;
    case CFG_TRISTATE_YES:
        buf_adds(out, "yes");
        return true;
    case CFG_TRISTATE_NO:
        buf_adds(out, "no");
        return true;
    }
    ASSERT(!"unknown tristate");
    return false;
}

/* ---- secrets ---- */

static int schema_set_secret(const struct schema_option *opt, void *obj, const char *value,
                             struct error *err)
{
    struct secret *field = schema_field(obj, opt->offset);
    char **ref = schema_field(obj, opt->offset_extra);
    struct secret s = SECRET_INIT;

    if (!*value)
        return error_set(err, ERR_CONFIG, "empty value");
    if (strncmp(value, "env:", 4) == 0 || strncmp(value, "file:", 5) == 0) {
        if (config_resolve_secret(value, &s, err) < 0)
            return -1;
    } else {
        secret_set(&s, value, strlen(value));
        value = "inline";
    }
    secret_release(field);
    *field = s;
    xfree(*ref);
    *ref = xstrdup(value);
    return 0;
}

static bool schema_format_secret(const struct schema_option *opt, const void *obj, struct buf *out)
{
    char *const *ref = schema_cfield(obj, opt->offset_extra);

    if (!*ref)
        return false;
    buf_adds(out, strcmp(*ref, "inline") == 0 ? SCHEMA_REDACTED : *ref);
    return true;
}

/* ---- lists ---- */

static int schema_compare_strings(const void *a, const void *b)
{
    const char *const *x = a;
    const char *const *y = b;
    return strcmp(*x, *y);
}

static void schema_free_list(char **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        xfree(items[i]);
    xfree(items);
}

static int schema_set_list(const struct schema_option *opt, void *obj, const char *value,
                           struct error *err)
{
    char ***field = schema_field(obj, opt->offset);
    size_t *field_count = schema_field(obj, opt->offset_extra);
    struct strv rest = strv_from(value);
    char **items = NULL;
    char **sorted = NULL;
    size_t count = 0;
    size_t alloc = 0;
    char shown[80];
    int rc = -1;

    if (!schema_trim(rest).len) {
        error_set(err, ERR_CONFIG, "the list is empty");
        goto out;
    }
    for (;;) {
        struct strv item;
        bool more = strv_cut(&rest, ',', &item);
        item = schema_trim(item);
        if (!item.len) {
            error_set(err, ERR_CONFIG, "empty item in the list");
            goto out;
        }
        XGROW(items, count + 1, alloc);
        items[count++] = strv_dup(item);
        if (!more)
            break;
    }
    /* Sorted copy: repeats are found in O(n log n) however long the list. */
    sorted = xcalloc(count, sizeof(*sorted));
    memcpy(sorted, items, count * sizeof(*sorted));
    qsort(sorted, count, sizeof(*sorted), schema_compare_strings);
    for (size_t i = 1; i < count; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            error_set(err, ERR_CONFIG, "'%s' is listed twice",
                      schema_printable(sorted[i], shown, sizeof(shown)));
            goto out;
        }
    }
    schema_free_list(*field, *field_count);
    *field = items;
    *field_count = count;
    items = NULL;
    count = 0;
    rc = 0;
out:
    xfree(sorted);
    schema_free_list(items, count);
    return rc;
}

static bool schema_format_list(const struct schema_option *opt, const void *obj, struct buf *out)
{
    char **const *field = schema_cfield(obj, opt->offset);
    const size_t *count = schema_cfield(obj, opt->offset_extra);

    if (!*count)
        return false;
    for (size_t i = 0; i < *count; i++)
        buf_addf(out, "%s%s", i ? ", " : "", (*field)[i]);
    return true;
}

/* encrypt: a list of age recipients, each checked here (Bech32, HRP "age", a 32-byte key) so a
 * typo fails at load, not at 3 a.m. in the first encrypted backup. */
static int schema_set_recipients(const struct schema_option *opt, void *obj, const char *value,
                                 struct error *err)
{
    char ***field = schema_field(obj, opt->offset);
    size_t *field_count = schema_field(obj, opt->offset_extra);
    char shown[80];

    if (schema_set_list(opt, obj, value, err) < 0)
        return -1;
    /* Each recipient adds about 110 bytes to every file's header (capped at 1 MiB when read). */
    if (*field_count > SCHEMA_RECIPIENTS_MAX) {
        error_set(err, ERR_CONFIG, "%zu recipients; at most %d", *field_count,
                  SCHEMA_RECIPIENTS_MAX);
        schema_free_list(*field, *field_count);
        *field = NULL;
        *field_count = 0;
        return -1;
    }
    for (size_t i = 0; i < *field_count; i++) {
        const char *r = (*field)[i];
        char hrp[BECH32_HRP_MAX + 1];
        unsigned char key[64];
        size_t key_len = 0;
        struct error inner = ERROR_INIT;

        if (strncmp(r, "age1", 4) != 0) {
            error_set(err, ERR_CONFIG, "'%s' is not an age recipient (they start with age1)",
                      schema_printable(r, shown, 24));
            goto bad;
        }
        if (bech32_decode(r, hrp, key, sizeof(key), &key_len, &inner) < 0) {
            error_set(err, ERR_CONFIG, "recipient '%s': %s", schema_printable(r, shown, 24),
                      inner.msg);
            goto bad;
        }
        if (strcmp(hrp, "age") != 0 || key_len != 32) {
            error_set(err, ERR_CONFIG, "recipient '%s' does not hold a 32-byte X25519 key",
                      schema_printable(r, shown, 24));
            goto bad;
        }
        for (const char *c = r; *c; c++) {
            if (*c >= 'A' && *c <= 'Z') {
                error_set(err, ERR_CONFIG, "recipient '%s' must be lowercase",
                          schema_printable(r, shown, 24));
                goto bad;
            }
        }
        continue;
    bad:
        error_hint(err, "copy the line 'public key: age1...' that `permafrost keygen` or "
                        "`age-keygen` printed");
        schema_free_list(*field, *field_count);
        *field = NULL;
        *field_count = 0;
        return -1;
    }
    return 0;
}

static int schema_set_verify_snapshots(const struct schema_option *opt, void *obj,
                                       const char *value, struct error *err)
{
    enum verify_snapshots *field = schema_field(obj, opt->offset);
    size_t i;

    if (schema_parse_choice(opt, value, &i, err) < 0)
        return -1;
    *field = (enum verify_snapshots)i;
    return 0;
}

static bool schema_format_verify_snapshots(const struct schema_option *opt, const void *obj,
                                           struct buf *out)
{
    const enum verify_snapshots *field = schema_cfield(obj, opt->offset);

    buf_adds(out, opt->choices[*field]);
    return true;
}

/* ---- keep ---- */

static int schema_set_keep(const struct schema_option *opt, void *obj, const char *value,
                           struct error *err)
{
    struct keep_policy *field = schema_field(obj, opt->offset);
    struct keep_policy policy;

    if (config_parse_keep(value, &policy, err) < 0)
        return -1;
    *field = policy;
    schema_replace_string(obj, opt->offset_extra, value);
    return 0;
}

/* Appends the policy in canonical form; false (nothing appended) when it keeps everything. */
static bool schema_format_keep_policy(const struct keep_policy *k, struct buf *out)
{
    const struct {
        const char *unit;
        int count;
    } parts[] = {{"last", k->last},     {"hourly", k->hourly},   {"daily", k->daily},
                 {"weekly", k->weekly}, {"monthly", k->monthly}, {"yearly", k->yearly}};
    bool any = false;

    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (!parts[i].count)
            continue;
        buf_addf(out, "%s%s %d", any ? ", " : "", parts[i].unit, parts[i].count);
        any = true;
    }
    return any;
}

static bool schema_format_keep(const struct schema_option *opt, const void *obj, struct buf *out)
{
    return schema_format_keep_policy(schema_cfield(obj, opt->offset), out);
}

/* keep.STORE: appends an override to the job; config.c checks afterwards that each names a
 * distinct target. */
static int schema_set_keep_item(const struct schema_option *opt, void *obj, const char *item,
                                const char *value, int line, struct error *err)
{
    struct cfg_job *job = obj;
    struct cfg_keep_override *o;
    struct keep_policy policy;

    (void)opt;
    if (config_parse_keep(value, &policy, err) < 0)
        return -1;
    XGROW(job->keep_overrides, job->keep_override_count + 1, job->keep_override_alloc);
    o = &job->keep_overrides[job->keep_override_count++];
    o->store = xstrdup(item);
    o->keep = policy;
    o->keep_text = xstrdup(value);
    o->line = line;
    return 0;
}

static bool schema_format_keep_items(const struct schema_option *opt, const void *obj,
                                     struct buf *out)
{
    const struct cfg_job *job = obj;
    struct buf key;
    struct buf value;

    buf_init(&key, BUF_NO_CAP);
    buf_init(&value, BUF_NO_CAP);
    for (size_t i = 0; i < job->keep_override_count; i++) {
        buf_reset(&key);
        buf_reset(&value);
        buf_addf(&key, "%s%s", opt->key_prefix, job->keep_overrides[i].store);
        /* An empty override keeps everything on that store and is shown as such ("keep.x ="),
         * unlike an absent one, which means the job's keep. */
        schema_format_keep_policy(&job->keep_overrides[i].keep, &value);
        ini_write_entry(out, key.data, value.data);
    }
    buf_release(&key);
    buf_release(&value);
    return job->keep_override_count > 0;
}

/* ---- compression ---- */

static int schema_set_compression(const struct schema_option *opt, void *obj, const char *value,
                                  struct error *err)
{
    int *level_field = schema_field(obj, opt->offset);
    int *threads_field = schema_field(obj, opt->offset_extra);
    struct strv rest = strv_from(value);
    struct strv algo;
    struct strv level_text = {"", 0};
    bool has_level;
    bool has_threads;
    int level = 3;
    int threads = 0;
    char shown[80];

    /* "zstd[:LEVEL[:THREADS]]"; strv_cut leaves the whole remainder in its head when the separator
     * is absent, so level_text is right with or without THREADS, and rest then holds THREADS. */
    has_level = strv_cut(&rest, ':', &algo);
    has_threads = has_level && strv_cut(&rest, ':', &level_text);
    if (!strv_eq_nocase(algo, "zstd"))
        return error_set(err, ERR_CONFIG, "unknown algorithm '%s' (known: zstd)",
                         schema_printable_view(algo, shown, sizeof(shown)));
    if (has_threads && memchr(rest.ptr, ':', rest.len))
        return error_set(err, ERR_CONFIG, "expected zstd, zstd:LEVEL or zstd:LEVEL:THREADS");
    if (has_level && !schema_parse_int(level_text, opt->min, opt->max, &level))
        return error_set(err, ERR_CONFIG, "level must be from %lld to %lld, got '%s'", opt->min,
                         opt->max, schema_printable_view(level_text, shown, sizeof(shown)));
    if (has_threads && !schema_parse_int(rest, 0, SCHEMA_MAX_THREADS, &threads))
        return error_set(err, ERR_CONFIG, "threads must be from 0 to %d, got '%s'",
                         SCHEMA_MAX_THREADS, schema_printable_view(rest, shown, sizeof(shown)));
    *level_field = level;
    *threads_field = threads;
    return 0;
}

static bool schema_format_compression(const struct schema_option *opt, const void *obj,
                                      struct buf *out)
{
    const int *level = schema_cfield(obj, opt->offset);
    const int *threads = schema_cfield(obj, opt->offset_extra);

    buf_addf(out, "zstd:%d", *level);
    if (*threads)
        buf_addf(out, ":%d", *threads);
    return true;
}

/* ---- numbers ---- */

static int schema_set_int(const struct schema_option *opt, void *obj, const char *value,
                          struct error *err)
{
    int *field = schema_field(obj, opt->offset);
    char shown[80];

    if (!schema_parse_int(strv_from(value), opt->min, opt->max, field))
        return error_set(err, ERR_CONFIG, "expected a whole number from %lld to %lld, got '%s'",
                         opt->min, opt->max, schema_printable(value, shown, sizeof(shown)));
    return 0;
}

/* An int that is 0 (the calloc'd state) counts as unset: every SCHEMA_INT option has min >= 1. */
static bool schema_format_int(const struct schema_option *opt, const void *obj, struct buf *out)
{
    const int *field = schema_cfield(obj, opt->offset);

    if (!*field)
        return false;
    buf_addf(out, "%d", *field);
    return true;
}

/* Splits "NUMBER[blanks]UNIT" into the digits and the unit. False when there are no digits. */
static bool schema_split_quantity(const char *value, struct strv *number, struct strv *unit)
{
    struct strv s = schema_trim(strv_from(value));
    size_t n = 0;

    while (n < s.len && s.ptr[n] >= '0' && s.ptr[n] <= '9')
        n++;
    if (n == 0)
        return false;
    *number = strv_make(s.ptr, n);
    *unit = schema_trim(strv_make(s.ptr + n, s.len - n));
    return true;
}

struct schema_unit {
    const char *name;
    uint64_t factor;
};

/* Sizes: binary units, with the one-letter forms binary as in rclone ("16M"), and the SI units
 * decimal. Any letter case. */
static const struct schema_unit schema_size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1024ULL},
    {"kib", 1024ULL},
    {"kb", 1000ULL},
    {"m", 1024ULL * 1024},
    {"mib", 1024ULL * 1024},
    {"mb", 1000ULL * 1000},
    {"g", 1024ULL * 1024 * 1024},
    {"gib", 1024ULL * 1024 * 1024},
    {"gb", 1000ULL * 1000 * 1000},
    {"t", 1024ULL * 1024 * 1024 * 1024},
    {"tib", 1024ULL * 1024 * 1024 * 1024},
    {"tb", 1000ULL * 1000 * 1000 * 1000},
};

/* Durations in milliseconds; a bare number is seconds. */
static const struct schema_unit schema_time_units[] = {
    {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
};

/* Parses "NUMBER[UNIT]" into number * factor; false on a malformed value, unknown unit or
 * overflow. */
static bool schema_parse_quantity(const char *value, const struct schema_unit *units,
                                  size_t unit_count, uint64_t *out)
{
    struct strv number;
    struct strv unit;
    uint64_t n;

    if (!schema_split_quantity(value, &number, &unit) || !strv_to_u64(number, &n))
        return false;
    for (size_t i = 0; i < unit_count; i++) {
        if (!strv_eq_nocase(unit, units[i].name))
            continue;
        if (n > UINT64_MAX / units[i].factor)
            return false;
        *out = n * units[i].factor;
        return true;
    }
    return false;
}

/* Writes v with the largest unit that divides it exactly, so the text parses back to v. */
static void schema_format_size_value(uint64_t v, struct buf *out)
{
    static const struct schema_unit shown[] = {
        {"TiB", 1024ULL * 1024 * 1024 * 1024},
        {"GiB", 1024ULL * 1024 * 1024},
        {"MiB", 1024ULL * 1024},
        {"KiB", 1024ULL},
        {"TB", 1000ULL * 1000 * 1000 * 1000},
        {"GB", 1000ULL * 1000 * 1000},
        {"MB", 1000ULL * 1000},
        {"KB", 1000ULL},
    };

    for (size_t i = 0; v && i < sizeof(shown) / sizeof(shown[0]); i++) {
        if (v % shown[i].factor == 0) {
            buf_addf(out, "%llu%s", (unsigned long long)(v / shown[i].factor), shown[i].name);
            return;
        }
    }
    buf_addf(out, "%llu", (unsigned long long)v);
}

static int schema_set_bytes(const struct schema_option *opt, void *obj, const char *value,
                            struct error *err)
{
    uint64_t *field = schema_field(obj, opt->offset);
    char shown[80];
    uint64_t v;
    struct buf lo;
    struct buf hi;

    schema_printable(value, shown, sizeof(shown));
    if (!schema_parse_quantity(value, schema_size_units,
                               sizeof(schema_size_units) / sizeof(schema_size_units[0]), &v)) {
        error_set(err, ERR_CONFIG, "expected a size such as 16MiB, got '%s'", shown);
        return error_hint(err, "units: B, KiB, MiB, GiB, TiB (also K, M, G, T), KB, MB, GB, TB");
    }
    if (v < (uint64_t)opt->min || v > (uint64_t)opt->max) {
        buf_init(&lo, BUF_NO_CAP);
        buf_init(&hi, BUF_NO_CAP);
        schema_format_size_value((uint64_t)opt->min, &lo);
        schema_format_size_value((uint64_t)opt->max, &hi);
        error_set(err, ERR_CONFIG, "must be from %s to %s, got '%s'", lo.data, hi.data, shown);
        buf_release(&lo);
        buf_release(&hi);
        return -1;
    }
    *field = v;
    return 0;
}

static bool schema_format_bytes(const struct schema_option *opt, const void *obj, struct buf *out)
{
    const uint64_t *field = schema_cfield(obj, opt->offset);

    if (!*field)
        return false;
    schema_format_size_value(*field, out);
    return true;
}

static void schema_format_ms_value(long long ms, struct buf *out)
{
    if (ms % 3600000LL == 0)
        buf_addf(out, "%lldh", ms / 3600000LL);
    else if (ms % 60000LL == 0)
        buf_addf(out, "%lldm", ms / 60000LL);
    else if (ms % 1000 == 0)
        buf_addf(out, "%llds", ms / 1000);
    else
        buf_addf(out, "%lldms", ms);
}

static int schema_set_duration(const struct schema_option *opt, void *obj, const char *value,
                               struct error *err)
{
    int *field = schema_field(obj, opt->offset);
    char shown[80];
    uint64_t ms;
    struct buf lo;
    struct buf hi;

    schema_printable(value, shown, sizeof(shown));
    if (!schema_parse_quantity(value, schema_time_units,
                               sizeof(schema_time_units) / sizeof(schema_time_units[0]), &ms))
        return error_set(err, ERR_CONFIG,
                         "expected a duration such as 30s, 500ms, 2m or 1h, got '%s'", shown);
    if (ms < (uint64_t)opt->min || ms > (uint64_t)opt->max) {
        buf_init(&lo, BUF_NO_CAP);
        buf_init(&hi, BUF_NO_CAP);
        schema_format_ms_value(opt->min, &lo);
        schema_format_ms_value(opt->max, &hi);
        error_set(err, ERR_CONFIG, "must be from %s to %s, got '%s'", lo.data, hi.data, shown);
        buf_release(&lo);
        buf_release(&hi);
        return -1;
    }
    *field = (int)ms;
    return 0;
}

static bool schema_format_duration(const struct schema_option *opt, const void *obj,
                                   struct buf *out)
{
    const int *field = schema_cfield(obj, opt->offset);

    if (!*field)
        return false;
    schema_format_ms_value(*field, out);
    return true;
}

/* "240", "0.5", "12.125": at most 3 decimals, so config show prints the value back exactly. Parsed
 * by hand: strtod would follow LC_NUMERIC. */
#define SCHEMA_RATE_DECIMALS 3

/* Parses a decimal of at most SCHEMA_RATE_DECIMALS decimals whose whole part is at most max (the
 * caller checks the fraction of max.5). */
static bool schema_parse_decimal(struct strv rest, long long max, double *out)
{
    struct strv whole;
    uint64_t whole_v = 0;
    uint64_t frac_v = 0;
    uint64_t scale = 1;
    bool has_point;

    rest = schema_trim(rest);
    has_point = strv_cut(&rest, '.', &whole);
    if (!strv_to_u64(whole, &whole_v) || whole_v > (uint64_t)max ||
        (has_point && (!strv_to_u64(rest, &frac_v) || rest.len > SCHEMA_RATE_DECIMALS)))
        return false;
    for (size_t i = 0; has_point && i < rest.len; i++)
        scale *= 10;
    *out = (double)whole_v + (double)frac_v / (double)scale;
    return true;
}

/* A rate above 0; with allow_zero, 0 too (it then means "not set"). */
static int schema_parse_rate(const struct schema_option *opt, const char *value, bool allow_zero,
                             double *out, struct error *err)
{
    char shown[80];
    double v;

    schema_printable(value, shown, sizeof(shown));
    if (!schema_parse_decimal(strv_from(value), opt->max, &v))
        return error_set(err, ERR_CONFIG,
                         "expected a number such as 240 or 0.5 (at most %d decimals) up to %lld, "
                         "got '%s'",
                         SCHEMA_RATE_DECIMALS, opt->max, shown);
    if (!(v > 0) && !allow_zero)
        return error_set(err, ERR_CONFIG, "must be more than 0, got '%s'", shown);
    if (v > (double)opt->max)
        return error_set(err, ERR_CONFIG, "must be at most %lld, got '%s'", opt->max, shown);
    *out = v;
    return 0;
}

static int schema_set_rate(const struct schema_option *opt, void *obj, const char *value,
                           struct error *err)
{
    return schema_parse_rate(opt, value, false, schema_field(obj, opt->offset), err);
}

/* A mirror's max_requests_per_second, where 0 means the stores' own setting. */
static int schema_set_rate_or_zero(const struct schema_option *opt, void *obj, const char *value,
                                   struct error *err)
{
    return schema_parse_rate(opt, value, true, schema_field(obj, opt->offset), err);
}

/* Appends v with at most SCHEMA_RATE_DECIMALS decimals and no trailing zeros. */
static void schema_format_decimal(double v, struct buf *out)
{
    size_t len = out->len;

    buf_addf(out, "%.*f", SCHEMA_RATE_DECIMALS, v);
    /* "240.000" reads better as "240", "0.500" as "0.5". */
    while (out->len > len && out->data[out->len - 1] == '0')
        out->data[--out->len] = '\0';
    if (out->len > len && out->data[out->len - 1] == '.')
        out->data[--out->len] = '\0';
}

static bool schema_format_rate(const struct schema_option *opt, const void *obj, struct buf *out)
{
    const double *field = schema_cfield(obj, opt->offset);

    if (!(*field > 0))
        return false;
    schema_format_decimal(*field, out);
    return true;
}

/* ---- S3: endpoint, region, bucket, prefix ---- */

static bool schema_is_alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool schema_is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

/* Checks "host", "host:port", "[v6]" or "[v6]:port". */
static bool schema_authority_is_valid(struct strv a)
{
    size_t i = 0;
    int port;

    if (a.len && a.ptr[0] == '[') {
        for (i = 1; i < a.len && a.ptr[i] != ']'; i++) {
            char c = a.ptr[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == ':' || c == '.'))
                return false;
        }
        if (i == a.len || i == 1)
            return false;
        i++;
    } else {
        while (i < a.len && schema_is_host_char(a.ptr[i]))
            i++;
        if (i == 0)
            return false;
    }
    if (i == a.len)
        return true;
    if (a.ptr[i] != ':')
        return false;
    return schema_parse_int(strv_make(a.ptr + i + 1, a.len - i - 1), 1, 65535, &port);
}

static int schema_set_url(const struct schema_option *opt, void *obj, const char *value,
                          struct error *err)
{
    struct strv rest = strv_from(value);
    struct strv authority;
    const char *scheme;
    char shown[80];
    char *url;

    if (!*value)
        return error_set(err, ERR_CONFIG, "empty value");
    /* The text is not echoed when it might carry credentials (user:secret@host). */
    if (strchr(value, '@'))
        return error_set(err, ERR_CONFIG,
                         "the URL must not contain credentials; use access_key and secret_key");
    schema_printable(value, shown, sizeof(shown));
    if (strncasecmp(value, "https://", 8) == 0) {
        scheme = "https://";
    } else if (strncasecmp(value, "http://", 7) == 0) {
        scheme = "http://";
    } else {
        error_set(err, ERR_CONFIG, "'%s' is not an http:// or https:// URL", shown);
        return error_hint(err, "for example https://nyc3.digitaloceanspaces.com");
    }
    rest.ptr += strlen(scheme);
    rest.len -= strlen(scheme);
    if (rest.len && rest.ptr[rest.len - 1] == '/')
        rest.len--;
    authority = rest;
    for (authority.len = 0; authority.len < rest.len && rest.ptr[authority.len] != '/';
         authority.len++) {
    }
    if (authority.len != rest.len) {
        error_set(err, ERR_CONFIG, "'%s' has a path; give only the scheme, host and port", shown);
        return error_hint(err, "the bucket goes in 'bucket', a folder inside it in 'prefix'");
    }
    if (!schema_authority_is_valid(authority))
        return error_set(err, ERR_CONFIG, "'%s' has an invalid host or port", shown);
    url = xasprintf("%s%.*s", scheme, (int)authority.len, authority.ptr);
    schema_replace_string(obj, opt->offset, url);
    xfree(url);
    return 0;
}

static int schema_set_name(const struct schema_option *opt, void *obj, const char *value,
                           struct error *err)
{
    char shown[80];

    if (!schema_name_is_valid(value))
        return error_set(err, ERR_CONFIG,
                         "invalid value '%s' (use 1 to %d letters, digits, '_', '.' or '-')",
                         schema_printable(value, shown, sizeof(shown)), SCHEMA_NAME_MAX);
    schema_replace_string(obj, opt->offset, value);
    return 0;
}

/* S3's naming rules for buckets: 3 to 63 lowercase letters, digits, '.' and '-', starting and
 * ending with a letter or digit, no "..", not an IPv4 address. Virtual-hosted requests put the
 * name in a host name, which is why the rules are DNS's. */
static int schema_set_bucket(const struct schema_option *opt, void *obj, const char *value,
                             struct error *err)
{
    size_t n = strlen(value);
    char shown[80];
    int dots = 0;
    bool all_digits_and_dots = true;

    schema_printable(value, shown, sizeof(shown));
    if (n < 3 || n > 63)
        return error_set(err, ERR_CONFIG, "bucket name '%s' must be 3 to 63 characters long",
                         shown);
    for (size_t i = 0; i < n; i++) {
        char c = value[i];
        if (!schema_is_alnum_lower(c) && c != '.' && c != '-') {
            error_set(err, ERR_CONFIG,
                      "invalid bucket name '%s' (use lowercase letters, digits, '.' and '-')",
                      shown);
            if (c >= 'A' && c <= 'Z')
                return error_hint(err, "bucket names are lowercase");
            return -1;
        }
        if (c == '.')
            dots++;
        if (c != '.' && !(c >= '0' && c <= '9'))
            all_digits_and_dots = false;
    }
    if (!schema_is_alnum_lower(value[0]) || !schema_is_alnum_lower(value[n - 1]))
        return error_set(err, ERR_CONFIG,
                         "bucket name '%s' must start and end with a lowercase letter or digit",
                         shown);
    if (strstr(value, ".."))
        return error_set(err, ERR_CONFIG, "bucket name '%s' must not contain '..'", shown);
    if (all_digits_and_dots && dots == 3)
        return error_set(err, ERR_CONFIG, "bucket name '%s' must not look like an IP address",
                         shown);
    schema_replace_string(obj, opt->offset, value);
    return 0;
}

/* A key prefix: segments of [A-Za-z0-9_.-] joined by single '/', none "." or "..", so it reads the
 * same in every tool (no percent-encoding) and cannot climb out of itself. p is without leading
 * and trailing '/'; shown is the value as written, for messages. */
static int schema_check_prefix(struct strv p, const char *shown, struct error *err)
{
    if (p.len > SCHEMA_PREFIX_MAX)
        return error_set(err, ERR_CONFIG, "prefix is longer than %d bytes", SCHEMA_PREFIX_MAX);
    for (struct strv segs = p, seg; segs.len;) {
        strv_cut(&segs, '/', &seg);
        if (!seg.len || strv_eq(seg, ".") || strv_eq(seg, ".."))
            return error_set(err, ERR_CONFIG, "prefix '%s' has an empty, '.' or '..' segment",
                             shown);
        for (size_t i = 0; i < seg.len; i++) {
            char c = seg.ptr[i];
            if (!(schema_is_host_char(c) || c == '_'))
                return error_set(err, ERR_CONFIG,
                                 "invalid prefix '%s' (use letters, digits, '_', '.', '-' and '/')",
                                 shown);
        }
    }
    return 0;
}

static int schema_set_prefix(const struct schema_option *opt, void *obj, const char *value,
                             struct error *err)
{
    struct strv rest = strv_from(value);
    char shown[80];
    char *prefix;

    while (rest.len && rest.ptr[0] == '/') {
        rest.ptr++;
        rest.len--;
    }
    while (rest.len && rest.ptr[rest.len - 1] == '/')
        rest.len--;
    schema_printable(value, shown, sizeof(shown));
    if (!rest.len)
        return error_set(err, ERR_CONFIG,
                         "empty prefix (leave 'prefix' out to store at the top of the bucket)");
    if (schema_check_prefix(rest, shown, err) < 0)
        return -1;
    prefix = strv_dup(rest);
    schema_replace_string(obj, opt->offset, prefix);
    xfree(prefix);
    return 0;
}

/* ---- rclone ---- */

/* rclone's rule for remote names: letters, digits, '_', '-', '.', '+', '@' and spaces, not starting
 * with '-' or a space, not ending with a space. */
static bool schema_rclone_name_is_valid(struct strv name)
{
    if (!name.len || name.ptr[0] == '-' || name.ptr[0] == ' ' || name.ptr[name.len - 1] == ' ')
        return false;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        if (!(schema_is_host_char(c) || c == '_' || c == '+' || c == '@' || c == ' '))
            return false;
    }
    return true;
}

static int schema_set_remote(const struct schema_option *opt, void *obj, const char *value,
                             struct error *err)
{
    struct strv rest = strv_from(value);
    struct strv name;

    /* The value is not echoed: an rclone connection string (":s3,secret_access_key=...:bucket")
     * carries credentials. */
    if (!strv_cut(&rest, ':', &name)) {
        error_set(err, ERR_CONFIG, "expected NAME:path, with NAME a remote in rclone.conf");
        return error_hint(err, "for example 'b2:mastodon-backups/permafrost'");
    }
    if (!name.len || name.ptr[0] == ':' || memchr(name.ptr, ',', name.len))
        return error_set(err, ERR_CONFIG,
                         "on-the-fly remotes and connection strings are not supported; define the "
                         "remote in rclone.conf and write NAME:path");
    if (!schema_rclone_name_is_valid(name))
        return error_set(err, ERR_CONFIG,
                         "invalid remote name (rclone allows letters, digits, '_', '-', '.', '+', "
                         "'@' and spaces)");
    for (size_t i = 0; i < rest.len; i++)
        if ((unsigned char)rest.ptr[i] < 0x20 || rest.ptr[i] == 0x7f)
            return error_set(err, ERR_CONFIG, "control character in the remote's path");
    schema_replace_string(obj, opt->offset, value);
    return 0;
}

/* ---- mirror jobs ---- */

/* The character at p[*pos] as a code point (invalid UTF-8: 0x110000 + the byte, as the mirror
 * does), advancing *pos. Only the order of class ranges depends on it. */
static uint32_t schema_glob_char(const char *p, size_t len, size_t *pos)
{
    const unsigned char *s = (const unsigned char *)p + *pos;
    size_t avail = len - *pos;
    size_t n = s[0] < 0x80                   ? 1
               : s[0] >= 0xc2 && s[0] < 0xe0 ? 2
               : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
               : s[0] >= 0xf0 && s[0] < 0xf5 ? 4
                                             : 0;
    uint32_t cp;

    if (n == 1) {
        (*pos)++;
        return s[0];
    }
    cp = n == 2 ? s[0] & 0x1fu : n == 3 ? s[0] & 0x0fu : s[0] & 0x07u;
    for (size_t i = 1; n && i < n; i++) {
        if (i >= avail || (s[i] & 0xc0) != 0x80) {
            n = 0;
            break;
        }
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (!n || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        (*pos)++;
        return 0x110000u + s[0];
    }
    *pos += n;
    return cp;
}

/* Walks a character class whose text (after '[') starts at p[*pos], leaving *pos on its ']'.
 * The rules of src/mirror/filter.h: an optional '!' or '^', a ']' right after it is a member, '\'
 * escapes, "a-z" ranges in order. Returns NULL or the problem. */
static const char *schema_glob_class(const char *p, size_t len, size_t *pos)
{
    bool is_first = true;

    if (*pos < len && (p[*pos] == '!' || p[*pos] == '^'))
        (*pos)++;
    for (;;) {
        uint32_t lo;
        uint32_t hi;

        if (*pos >= len)
            return "unterminated character class";
        if (p[*pos] == ']' && !is_first)
            return NULL;
        is_first = false;
        if (p[*pos] == '\\' && ++*pos >= len)
            return "unterminated character class";
        lo = schema_glob_char(p, len, pos);
        if (*pos + 1 < len && p[*pos] == '-' && p[*pos + 1] != ']') {
            (*pos)++;
            if (p[*pos] == '\\' && ++*pos >= len)
                return "unterminated character class";
            hi = schema_glob_char(p, len, pos);
            if (hi < lo)
                return "character class range out of order";
        }
    }
}

const char *config_glob_problem(const char *pattern)
{
    size_t n = strlen(pattern);

    /* The rules of src/mirror/filter.h, repeated here because config depends on util only; the
     * mirror checks the patterns again with its own parser before the first request. */
    if (n == 0)
        return "empty pattern";
    if (n > SCHEMA_GLOB_MAX)
        return "longer than 1024 bytes";
    for (size_t i = 0; i < n; i++) {
        if (pattern[i] == '\\') {
            if (i + 1 == n)
                return "trailing '\\'";
            i++;
        } else if (pattern[i] == '[') {
            const char *problem;
            i++;
            problem = schema_glob_class(pattern, n, &i);
            if (problem)
                return problem;
        } else if (pattern[i] == '{' || pattern[i] == '}') {
            return "'{a,b}' alternatives are not supported (write '\\{' for a literal brace)";
        }
    }
    return NULL;
}

/* The prefix part of STORE:PREFIX: no leading '/', trailing '/' dropped, "" for the top. */
static int schema_parse_key_prefix(struct strv p, const char *shown, char **out, struct error *err)
{
    if (p.len && p.ptr[0] == '/')
        return error_set(err, ERR_CONFIG,
                         "prefix in '%s' must not start with '/' (it is relative to the store)",
                         shown);
    while (p.len && p.ptr[p.len - 1] == '/')
        p.len--;
    if (schema_check_prefix(p, shown, err) < 0)
        return -1;
    *out = strv_dup(p);
    return 0;
}

static int schema_set_location(const struct schema_option *opt, void *obj, const char *value,
                               struct error *err)
{
    struct cfg_mirror_side *side = schema_field(obj, opt->offset);
    struct strv rest = strv_from(value);
    struct strv name;
    char *prefix = NULL;
    char shown[80];

    schema_printable(value, shown, sizeof(shown));
    if (!*value)
        return error_set(err, ERR_CONFIG, "empty value (expected STORE or STORE:PREFIX)");
    strv_cut(&rest, ':', &name);
    if (!name.len || name.len > SCHEMA_NAME_MAX) {
        error_set(err, ERR_CONFIG, "expected STORE or STORE:PREFIX, got '%s'", shown);
        return error_hint(err, "for example 'spaces-nyc:media' or 'public-system'");
    }
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        if (!(schema_is_host_char(c) || c == '_'))
            return error_set(err, ERR_CONFIG,
                             "invalid store name in '%s' (use 1 to %d letters, digits, '_', '.' "
                             "or '-')",
                             shown, SCHEMA_NAME_MAX);
    }
    if (schema_parse_key_prefix(rest, shown, &prefix, err) < 0)
        return -1;
    xfree(side->store);
    xfree(side->prefix);
    side->store = strv_dup(name);
    side->prefix = prefix;
    return 0;
}

static bool schema_format_location(const struct schema_option *opt, const void *obj,
                                   struct buf *out)
{
    const struct cfg_mirror_side *side = schema_cfield(obj, opt->offset);

    if (!side->store)
        return false;
    buf_adds(out, side->store);
    if (side->prefix && side->prefix[0])
        buf_addf(out, ":%s", side->prefix);
    return true;
}

/* Splits value at the commas that are neither inside [...] nor escaped with '\', so a pattern can
 * still match a ','. */
static int schema_set_globs(const struct schema_option *opt, void *obj, const char *value,
                            struct error *err)
{
    char ***field = schema_field(obj, opt->offset);
    size_t *field_count = schema_field(obj, opt->offset_extra);
    char **items = NULL;
    size_t count = 0;
    size_t alloc = 0;
    size_t start = 0;
    char shown[80];
    int rc = -1;

    if (!schema_trim(strv_from(value)).len) {
        error_set(err, ERR_CONFIG, "the list is empty");
        goto out;
    }
    for (size_t i = 0;; i++) {
        char c = value[i];
        struct strv item;
        const char *problem;
        if (c == '\\' && value[i + 1]) {
            i++;
            continue;
        }
        if (c == '[') {
            /* The class's own rules find its end; an unterminated one swallows the rest, and the
             * pattern check then names it. */
            size_t end = i + 1;
            if (schema_glob_class(value, strlen(value), &end) == NULL)
                i = end;
            else
                i = strlen(value) - 1;
            continue;
        }
        if (c != '\0' && c != ',')
            continue;
        item = schema_trim(strv_make(value + start, i - start));
        XGROW(items, count + 1, alloc);
        items[count++] = strv_dup(item);
        problem = config_glob_problem(items[count - 1]);
        if (problem) {
            if (!item.len)
                error_set(err, ERR_CONFIG, "empty pattern in the list");
            else
                error_set(err, ERR_CONFIG, "pattern '%s': %s",
                          schema_printable(items[count - 1], shown, sizeof(shown)), problem);
            goto out;
        }
        if (c == '\0')
            break;
        start = i + 1;
    }
    schema_free_list(*field, *field_count);
    *field = items;
    *field_count = count;
    items = NULL;
    count = 0;
    rc = 0;
out:
    schema_free_list(items, count);
    return rc;
}

static int schema_set_preset(const struct schema_option *opt, void *obj, const char *value,
                             struct error *err)
{
    enum cfg_mirror_preset *field = schema_field(obj, opt->offset);
    size_t i;

    if (schema_parse_choice(opt, value, &i, err) < 0)
        return -1;
    *field = (enum cfg_mirror_preset)i;
    return 0;
}

static bool schema_format_preset(const struct schema_option *opt, const void *obj, struct buf *out)
{
    const enum cfg_mirror_preset *field = schema_cfield(obj, opt->offset);

    buf_adds(out, opt->choices[*field]);
    return true;
}

/* choices are in enum cfg_mirror_acl order after UNSET. */
static int schema_set_acl(const struct schema_option *opt, void *obj, const char *value,
                          struct error *err)
{
    enum cfg_mirror_acl *field = schema_field(obj, opt->offset);
    size_t i;

    if (schema_parse_choice(opt, value, &i, err) < 0)
        return -1;
    *field = (enum cfg_mirror_acl)(i + 1);
    return 0;
}

static bool schema_format_acl(const struct schema_option *opt, const void *obj, struct buf *out)
{
    const enum cfg_mirror_acl *field = schema_cfield(obj, opt->offset);

    if (*field == CFG_MIRROR_ACL_UNSET)
        return false;
    buf_adds(out, opt->choices[*field - 1]);
    return true;
}

static int schema_set_trash(const struct schema_option *opt, void *obj, const char *value,
                            struct error *err)
{
    char shown[80];
    char *prefix = NULL;

    schema_printable(value, shown, sizeof(shown));
    if (!*value || strspn(value, "/") == strlen(value))
        return error_set(err, ERR_CONFIG, "empty prefix (leave 'trash' out to delete outright)");
    if (schema_parse_key_prefix(strv_from(value), shown, &prefix, err) < 0)
        return -1;
    schema_replace_string(obj, opt->offset, prefix);
    xfree(prefix);
    return 0;
}

/* max_delete: "500" (a count) or "10%" (of the destination's objects). */
static int schema_set_limit(const struct schema_option *opt, void *obj, const char *value,
                            struct error *err)
{
    int64_t *count_field = schema_field(obj, opt->offset);
    double *percent_field = schema_field(obj, opt->offset_extra);
    struct strv v = schema_trim(strv_from(value));
    char shown[80];
    uint64_t count;
    double percent;

    schema_printable(value, shown, sizeof(shown));
    if (v.len && v.ptr[v.len - 1] == '%') {
        v.len--;
        if (!schema_parse_decimal(v, 100, &percent) || percent > 100.0)
            return error_set(err, ERR_CONFIG,
                             "expected a percentage from 0%% to 100%% with at most %d decimals, "
                             "got '%s'",
                             SCHEMA_RATE_DECIMALS, shown);
        *count_field = -1;
        *percent_field = percent;
        return 0;
    }
    if (!strv_to_u64(v, &count) || count > (uint64_t)opt->max) {
        error_set(err, ERR_CONFIG, "expected a count (0 to %lld) or a percentage, got '%s'",
                  opt->max, shown);
        return error_hint(err, "for example 'max_delete = 500' or 'max_delete = 10%%'");
    }
    *count_field = (int64_t)count;
    *percent_field = 0;
    return 0;
}

static bool schema_format_limit(const struct schema_option *opt, const void *obj, struct buf *out)
{
    const int64_t *count_field = schema_cfield(obj, opt->offset);
    const double *percent_field = schema_cfield(obj, opt->offset_extra);

    if (*count_field >= 0) {
        buf_addf(out, "%lld", (long long)*count_field);
        return true;
    }
    schema_format_decimal(*percent_field, out);
    buf_adds(out, "%");
    return true;
}

/* ---- the table ---- */

static const char *const store_types[] = {"local", "s3", "rclone", NULL};
static const char *const job_kinds[] = {"postgres", "mirror", "redis", "verify",
                                        NULL};                          /* enum job_kind order */
static const char *const mirror_presets[] = {"none", "mastodon", NULL}; /* enum order */
static const char *const mirror_acls[] = {"copy", "public-read", "private", NULL}; /* enum - 1 */
static const char *const row_counts_modes[] = {"exact", "estimate", "off", NULL};  /* enum order */
static const char *const redis_methods[] = {"auto", "sync", "logical", NULL};      /* enum order */
static const char *const verify_snapshot_modes[] = {"latest", "all", NULL};        /* enum order */

const struct schema_option schema_options[] = {
    {.name = "state_dir",
     .section = SCHEMA_SECTION_GLOBAL,
     .type = SCHEMA_PATH,
     .unset_doc = "--state-dir, $PERMAFROST_STATE_DIR, $XDG_STATE_HOME/permafrost or "
                  "~/.local/state/permafrost",
     .help = "directory for the catalog, locks and temporary files",
     .example = "/var/lib/permafrost",
     .offset = offsetof(struct cfg_global, state_dir),
     .set = schema_set_path,
     .format = schema_format_string},
    {.name = "timezone",
     .section = SCHEMA_SECTION_GLOBAL,
     .type = SCHEMA_TIMEZONE,
     .unset_doc = "the machine's time zone",
     .help = "time zone for schedules and for the hourly/daily/... buckets of keep",
     .example = "Europe/Berlin",
     .offset = offsetof(struct cfg_global, timezone),
     .set = schema_set_timezone,
     .format = schema_format_string},
    {.name = "max_concurrent_jobs",
     .section = SCHEMA_SECTION_GLOBAL,
     .type = SCHEMA_INT,
     .default_value = "2",
     .min = 1,
     .max = 64,
     .help = "the daemon runs at most this many jobs at once (each job never twice at once)",
     .example = "2",
     .offset = offsetof(struct cfg_global, max_concurrent_jobs),
     .set = schema_set_int,
     .format = schema_format_int},
    {.name = "shutdown_timeout",
     .section = SCHEMA_SECTION_GLOBAL,
     .type = SCHEMA_DURATION,
     .default_value = "30s",
     .min = 0,
     .max = 3600000,
     .help = "on SIGTERM the daemon lets running jobs finish this long, then cancels them",
     .example = "2m",
     .offset = offsetof(struct cfg_global, shutdown_timeout_ms),
     .set = schema_set_duration,
     .format = schema_format_duration},
    {.name = "metrics_listen",
     .section = SCHEMA_SECTION_GLOBAL,
     .type = SCHEMA_LISTEN,
     .default_value = "127.0.0.1:9187",
     .help = "where the daemon serves Prometheus /metrics and /healthz (off: nowhere)",
     .example = "127.0.0.1:9187",
     .offset = offsetof(struct cfg_global, metrics_listen),
     .set = schema_set_listen,
     .format = schema_format_listen},
    {.name = "encrypt",
     .section = SCHEMA_SECTION_GLOBAL,
     .type = SCHEMA_LIST,
     .unset_doc = "not encrypted",
     .help = "age recipients every artifact is encrypted to (X25519 public keys), comma-separated",
     .example = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
     .offset = offsetof(struct cfg_global, crypt.recipients),
     .offset_extra = offsetof(struct cfg_global, crypt.recipient_count),
     .set = schema_set_recipients,
     .format = schema_format_list},
    {.name = "encrypt_passphrase",
     .section = SCHEMA_SECTION_GLOBAL,
     .type = SCHEMA_SECRET,
     .unset_doc = "no passphrase",
     .help = "encrypt with an age scrypt passphrase instead of recipients (and decrypt with it)",
     .example = "env:BACKUP_PASSPHRASE",
     .offset = offsetof(struct cfg_global, crypt.passphrase),
     .offset_extra = offsetof(struct cfg_global, crypt.passphrase_ref),
     .set = schema_set_secret,
     .format = schema_format_secret},
    {.name = "identity",
     .section = SCHEMA_SECTION_GLOBAL,
     .type = SCHEMA_SECRET,
     .unset_doc = "none: encrypted snapshots are checked by SHA-256 only",
     .help = "age identity file that decrypts the artifacts (restore, verify)",
     .example = "env:AGE_IDENTITY",
     .offset = offsetof(struct cfg_global, crypt.identity),
     .offset_extra = offsetof(struct cfg_global, crypt.identity_ref),
     .set = schema_set_secret,
     .format = schema_format_secret},

    {.name = "type",
     .section = SCHEMA_SECTION_STORE,
     .type = SCHEMA_ENUM,
     .is_required = true,
     .is_discriminator = true,
     .choices = store_types,
     .choice_label = "store type",
     .help = "kind of storage",
     .example = "local",
     .offset = offsetof(struct cfg_store, type),
     .set = schema_set_enum_string,
     .format = schema_format_string},
    {.name = "path",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "local",
     .type = SCHEMA_PATH,
     .is_required = true,
     .help = "directory that holds the backups (created when missing)",
     .example = "/var/backups/permafrost",
     .offset = offsetof(struct cfg_store, path),
     .set = schema_set_path,
     .format = schema_format_string},

    {.name = "endpoint",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_URL,
     .unset_doc = "AWS S3 for the region: https://s3.REGION.amazonaws.com",
     .help = "S3 service URL, http:// or https:// with host and optional port",
     .example = "https://nyc3.digitaloceanspaces.com",
     .offset = offsetof(struct cfg_store, endpoint),
     .set = schema_set_url,
     .format = schema_format_string},
    {.name = "region",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_NAME,
     .unset_doc = "us-east-1",
     .help = "region used in request signatures (SigV4)",
     .example = "nyc3",
     .offset = offsetof(struct cfg_store, region),
     .set = schema_set_name,
     .format = schema_format_string},
    {.name = "bucket",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_BUCKET,
     .is_required = true,
     .help = "bucket that holds the backups (it must exist)",
     .example = "mastodon-backups",
     .offset = offsetof(struct cfg_store, bucket),
     .set = schema_set_bucket,
     .format = schema_format_string},
    {.name = "prefix",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_PREFIX,
     .unset_doc = "the top of the bucket",
     .help = "folder inside the bucket for the backups",
     .example = "permafrost/social.example",
     .offset = offsetof(struct cfg_store, prefix),
     .set = schema_set_prefix,
     .format = schema_format_string},
    {.name = "path_style",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_BOOL,
     .unset_doc = "yes when endpoint is set, else no",
     .help = "address the bucket in the URL path (endpoint/bucket/key) instead of the host name "
             "(bucket.endpoint/key)",
     .example = "no",
     .offset = offsetof(struct cfg_store, path_style),
     .set = schema_set_tristate,
     .format = schema_format_tristate},
    {.name = "access_key",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_SECRET,
     .unset_doc = "$AWS_ACCESS_KEY_ID when the store is opened",
     .help = "access key id: env:NAME, file:PATH, or inline",
     .example = "env:SPACES_KEY",
     .offset = offsetof(struct cfg_store, access_key),
     .offset_extra = offsetof(struct cfg_store, access_key_ref),
     .set = schema_set_secret,
     .format = schema_format_secret},
    {.name = "secret_key",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_SECRET,
     .unset_doc = "$AWS_SECRET_ACCESS_KEY when the store is opened",
     .help = "secret access key: env:NAME, file:PATH, or inline (discouraged)",
     .example = "env:SPACES_SECRET",
     .offset = offsetof(struct cfg_store, secret_key),
     .offset_extra = offsetof(struct cfg_store, secret_key_ref),
     .set = schema_set_secret,
     .format = schema_format_secret},
    {.name = "session_token",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_SECRET,
     .unset_doc = "$AWS_SESSION_TOKEN when the store is opened and it is set",
     .help = "session token of temporary credentials: env:NAME, file:PATH, or inline",
     .example = "env:AWS_SESSION_TOKEN",
     .offset = offsetof(struct cfg_store, session_token),
     .offset_extra = offsetof(struct cfg_store, session_token_ref),
     .set = schema_set_secret,
     .format = schema_format_secret},
    {.name = "ca_file",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_PATH,
     .unset_doc = "the system's trusted certificates",
     .help = "PEM file of the certificate authorities to trust for https",
     .example = "/etc/permafrost/minio-ca.pem",
     .offset = offsetof(struct cfg_store, ca_file),
     .set = schema_set_path,
     .format = schema_format_string},
    {.name = "max_requests_per_second",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_RATE,
     .max = 1000000,
     .unset_doc = "no limit",
     .help = "ceiling on requests per second to the service, for providers that throttle",
     .example = "240",
     .offset = offsetof(struct cfg_store, max_requests_per_second),
     .set = schema_set_rate,
     .format = schema_format_rate},
    {.name = "part_size",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_BYTES,
     .min = 5LL * 1024 * 1024,
     .max = 5LL * 1024 * 1024 * 1024,
     .unset_doc = "16MiB",
     .help = "size of each part of a multipart upload, grown when 10000 parts would not hold the "
             "artifact",
     .example = "64MiB",
     .offset = offsetof(struct cfg_store, part_size_bytes),
     .set = schema_set_bytes,
     .format = schema_format_bytes},
    {.name = "concurrency",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_INT,
     .min = 1,
     .max = 64,
     .unset_doc = "4",
     .help = "parts or requests in flight at once; memory used is about concurrency x part_size",
     .example = "8",
     .offset = offsetof(struct cfg_store, concurrency),
     .set = schema_set_int,
     .format = schema_format_int},
    {.name = "connect_timeout",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_DURATION,
     .min = 100,
     .max = 600000,
     .unset_doc = "10s",
     .help = "how long to wait for a connection to the service",
     .example = "10s",
     .offset = offsetof(struct cfg_store, connect_timeout_ms),
     .set = schema_set_duration,
     .format = schema_format_duration},
    {.name = "low_speed_timeout",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "s3",
     .type = SCHEMA_DURATION,
     .min = 1000,
     .max = 3600000,
     .unset_doc = "60s",
     .help = "fail (and retry) a transfer that has moved no data for this long",
     .example = "60s",
     .offset = offsetof(struct cfg_store, low_speed_timeout_ms),
     .set = schema_set_duration,
     .format = schema_format_duration},

    {.name = "remote",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "rclone",
     .type = SCHEMA_REMOTE,
     .is_required = true,
     .help = "rclone remote and path, NAME:path, with NAME a section of rclone.conf",
     .example = "b2:mastodon-backups/permafrost",
     .offset = offsetof(struct cfg_store, remote),
     .set = schema_set_remote,
     .format = schema_format_string},
    {.name = "rclone_config",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "rclone",
     .type = SCHEMA_PATH,
     .unset_doc = "$RCLONE_CONFIG, else ~/.config/rclone/rclone.conf",
     .help = "rclone.conf to read the remote from",
     .example = "/etc/permafrost/rclone.conf",
     .offset = offsetof(struct cfg_store, rclone_config),
     .set = schema_set_path,
     .format = schema_format_string},
    {.name = "rclone",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "rclone",
     .type = SCHEMA_PATH,
     .unset_doc = "rclone from PATH",
     .help = "rclone binary, for remotes that are not type s3",
     .example = "/usr/bin/rclone",
     .offset = offsetof(struct cfg_store, rclone_binary),
     .set = schema_set_path,
     .format = schema_format_string},

    {.name = "kind",
     .section = SCHEMA_SECTION_JOB,
     .type = SCHEMA_ENUM,
     .is_required = true,
     .is_discriminator = true,
     .choices = job_kinds,
     .choice_label = "job kind",
     .help = "what the job does: postgres backs up a database, redis snapshots a Redis/Valkey "
             "server, mirror copies a media tree, verify checks and drills other jobs' snapshots",
     .example = "postgres",
     .offset = offsetof(struct cfg_job, kind),
     .set = schema_set_job_kind,
     .format = schema_format_job_kind},
    {.name = "database",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres",
     .type = SCHEMA_CONNINFO,
     .is_required = true,
     .help = "libpq connection string or postgresql:// URI, without the password",
     .example = "host=localhost dbname=mastodon_production user=mastodon",
     .offset = offsetof(struct cfg_job, database),
     .set = schema_set_conninfo,
     .format = schema_format_string},
    {.name = "password",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres|redis",
     .type = SCHEMA_SECRET,
     .unset_doc = "libpq's other methods apply: peer, trust, ~/.pgpass",
     .help = "database or Redis password: env:NAME, file:PATH, or inline (discouraged)",
     .example = "env:DB_PASS",
     .offset = offsetof(struct cfg_job, password),
     .offset_extra = offsetof(struct cfg_job, password_ref),
     .set = schema_set_secret,
     .format = schema_format_secret},
    {.name = "targets",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres|redis|verify",
     .required_for = "postgres|redis",
     .type = SCHEMA_LIST,
     .unset_doc = "required for postgres and redis jobs; for a verify job, each checked job's own "
                  "targets",
     .help = "stores that receive each backup (for a verify job: the stores checked)",
     .example = "local, offsite",
     .offset = offsetof(struct cfg_job, targets),
     .offset_extra = offsetof(struct cfg_job, target_count),
     .set = schema_set_list,
     .format = schema_format_list},
    {.name = "keep",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres|redis",
     .type = SCHEMA_KEEP,
     .unset_doc = "keep every snapshot",
     .help = "retention policy applied on each store after a backup (restic forget)",
     .example = "last 3, daily 7, weekly 4, monthly 6",
     .offset = offsetof(struct cfg_job, keep),
     .offset_extra = offsetof(struct cfg_job, keep_text),
     .set = schema_set_keep,
     .format = schema_format_keep},
    {.name = "keep.STORE",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres|redis",
     .type = SCHEMA_KEEP,
     .unset_doc = "keep applies on every target",
     .help = "retention policy for one target store, instead of keep",
     .example = "daily 14",
     .key_prefix = "keep.",
     .set_item = schema_set_keep_item,
     .format_items = schema_format_keep_items},
    {.name = "globals",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres",
     .type = SCHEMA_BOOL,
     .default_value = "no",
     .help = "also dump roles and tablespaces (pg_dumpall --globals-only)",
     .example = "yes",
     .offset = offsetof(struct cfg_job, globals),
     .set = schema_set_bool,
     .format = schema_format_bool},
    {.name = "compression",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres|redis",
     .type = SCHEMA_COMPRESSION,
     .default_value = "zstd:3",
     /* Measured on RDB files (docs/benchmarks.md): level 1 is smaller than 3 there, and about
      * half the CPU, which the server's own fork competes for. */
     .default_for_kind = "redis=zstd:1",
     .min = 1,
     .max = 19,
     .help = "zstd level (1-19) and worker threads (0: all cores)",
     .example = "zstd:6:4",
     .offset = offsetof(struct cfg_job, compression_level),
     .offset_extra = offsetof(struct cfg_job, compression_threads),
     .set = schema_set_compression,
     .format = schema_format_compression},
    {.name = "row_counts",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres",
     .type = SCHEMA_ENUM,
     .default_value = "exact",
     .choices = row_counts_modes,
     .choice_label = "mode",
     .help = "row counts recorded per table in the manifest: exact (count(*)), estimate, or off",
     .example = "estimate",
     .offset = offsetof(struct cfg_job, row_counts),
     .set = schema_set_row_counts,
     .format = schema_format_row_counts},
    {.name = "pg_dump",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres",
     .type = SCHEMA_PATH,
     .unset_doc = "the newest pg_dump installed",
     .help = "pg_dump binary to run",
     .example = "/usr/lib/postgresql/16/bin/pg_dump",
     .offset = offsetof(struct cfg_job, pg_dump),
     .set = schema_set_path,
     .format = schema_format_string},
    {.name = "url",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "redis",
     .type = SCHEMA_STRING,
     .is_required = true,
     .help = "the Redis or Valkey server: redis://[user[:password]@]host[:port], rediss:// for TLS",
     .example = "redis://127.0.0.1:6379",
     .offset = offsetof(struct cfg_job, url),
     .set = schema_set_redis_url,
     .format = schema_format_redis_url},
    {.name = "method",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "redis",
     .type = SCHEMA_ENUM,
     .default_value = "auto",
     .choices = redis_methods,
     .choice_label = "method",
     .help = "sync: stream an RDB snapshot as a replica does; logical: SCAN + DUMP each key (for "
             "services that refuse SYNC); auto: sync, else logical",
     .example = "logical",
     .offset = offsetof(struct cfg_job, redis_method),
     .set = schema_set_redis_method,
     .format = schema_format_redis_method},
    {.name = "ca_file",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "redis",
     .type = SCHEMA_PATH,
     .unset_doc = "the system's trusted certificates",
     .help = "PEM file of the certificate authorities to trust for rediss://",
     .example = "/etc/permafrost/redis-ca.pem",
     .offset = offsetof(struct cfg_job, ca_file),
     .set = schema_set_path,
     .format = schema_format_string},
    {.name = "tls_verify",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "redis",
     .type = SCHEMA_BOOL,
     .default_value = "yes",
     .help = "check the server's certificate and name for rediss:// (no: encrypted but "
             "unauthenticated)",
     .example = "no",
     .offset = offsetof(struct cfg_job, tls_verify),
     .set = schema_set_bool,
     .format = schema_format_bool},

    {.name = "encrypt",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres|redis",
     .type = SCHEMA_LIST,
     .unset_doc = "[global]'s encrypt, else not encrypted",
     .help = "age recipients every artifact is encrypted to (X25519 public keys), comma-separated",
     .example = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
     .offset = offsetof(struct cfg_job, crypt.recipients),
     .offset_extra = offsetof(struct cfg_job, crypt.recipient_count),
     .set = schema_set_recipients,
     .format = schema_format_list},
    {.name = "encrypt_passphrase",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres|redis",
     .type = SCHEMA_SECRET,
     .unset_doc = "[global]'s, else none",
     .help = "encrypt with an age scrypt passphrase instead of recipients (and decrypt with it)",
     .example = "env:BACKUP_PASSPHRASE",
     .offset = offsetof(struct cfg_job, crypt.passphrase),
     .offset_extra = offsetof(struct cfg_job, crypt.passphrase_ref),
     .set = schema_set_secret,
     .format = schema_format_secret},
    {.name = "identity",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres|redis",
     .type = SCHEMA_SECRET,
     .unset_doc = "[global]'s identity",
     .help = "age identity file that decrypts the artifacts (restore, verify)",
     .example = "env:AGE_IDENTITY",
     .offset = offsetof(struct cfg_job, crypt.identity),
     .offset_extra = offsetof(struct cfg_job, crypt.identity_ref),
     .set = schema_set_secret,
     .format = schema_format_secret},
    {.name = "scratch",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "postgres|verify",
     .type = SCHEMA_CONNINFO,
     .unset_doc = "the job's own server (database), where the user may CREATE DATABASE",
     .help = "server for restore drills: a temporary database is created there and dropped",
     .example = "host=127.0.0.1 port=5433 dbname=postgres user=permafrost",
     .offset = offsetof(struct cfg_job, scratch),
     .set = schema_set_conninfo,
     .format = schema_format_string},
    {.name = "jobs",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "verify",
     .type = SCHEMA_LIST,
     .unset_doc = "every postgres and redis job",
     .help = "the backup jobs whose snapshots this verify job checks",
     .example = "mastodon-db, mastodon-redis",
     .offset = offsetof(struct cfg_job, verify_jobs),
     .offset_extra = offsetof(struct cfg_job, verify_job_count),
     .set = schema_set_list,
     .format = schema_format_list},
    {.name = "restore",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "verify",
     .type = SCHEMA_BOOL,
     .default_value = "yes",
     .help = "also run restore drills (a scratch database, a throwaway redis-server)",
     .example = "no",
     .offset = offsetof(struct cfg_job, verify_restore),
     .set = schema_set_bool,
     .format = schema_format_bool},
    {.name = "snapshots",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "verify",
     .type = SCHEMA_ENUM,
     .default_value = "latest",
     .choices = verify_snapshot_modes,
     .choice_label = "snapshot selection",
     .help = "which snapshots of each job are checked: the latest, or all",
     .example = "all",
     .offset = offsetof(struct cfg_job, verify_snapshots),
     .set = schema_set_verify_snapshots,
     .format = schema_format_verify_snapshots},
    {.name = "source",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "mirror",
     .type = SCHEMA_LOCATION,
     .is_required = true,
     .help = "store (local, s3 or rclone) and optional key prefix to mirror from, STORE[:PREFIX]",
     .example = "spaces-nyc:media",
     .offset = offsetof(struct cfg_job, mirror.source),
     .set = schema_set_location,
     .format = schema_format_location},
    {.name = "destination",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "mirror",
     .type = SCHEMA_LOCATION,
     .is_required = true,
     .help = "store and optional key prefix that becomes an exact copy of the source, "
             "STORE[:PREFIX]",
     .example = "b2-media",
     .offset = offsetof(struct cfg_job, mirror.destination),
     .set = schema_set_location,
     .format = schema_format_location},
    {.name = "include",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "mirror",
     .type = SCHEMA_GLOBS,
     .unset_doc = "every key",
     .help = "glob patterns of the keys to mirror (rclone's syntax, '**' crosses '/'), "
             "comma-separated",
     .example = "/media_attachments/**, /accounts/**",
     .offset = offsetof(struct cfg_job, mirror.include),
     .offset_extra = offsetof(struct cfg_job, mirror.include_count),
     .set = schema_set_globs,
     .format = schema_format_list},
    {.name = "exclude",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "mirror",
     .type = SCHEMA_GLOBS,
     .unset_doc = "no key is excluded (but see preset)",
     .help = "glob patterns of the keys to leave alone on both sides, comma-separated",
     .example = "*.tmp, /backups/**",
     .offset = offsetof(struct cfg_job, mirror.exclude),
     .offset_extra = offsetof(struct cfg_job, mirror.exclude_count),
     .set = schema_set_globs,
     .format = schema_format_list},
    {.name = "preset",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "mirror",
     .type = SCHEMA_ENUM,
     .default_value = "none",
     .choices = mirror_presets,
     .choice_label = "preset",
     .help = "mastodon: exclude /cache/** (re-fetchable remote media), public-read from a local "
             "source",
     .example = "mastodon",
     .offset = offsetof(struct cfg_job, mirror.preset),
     .set = schema_set_preset,
     .format = schema_format_preset},
    {.name = "trash",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "mirror",
     .type = SCHEMA_PREFIX,
     .unset_doc = "deleted and replaced objects are gone at once",
     .help = "prefix in the destination store that keeps deleted and replaced objects for "
             "trash_days",
     .example = ".trash",
     .offset = offsetof(struct cfg_job, mirror.trash),
     .set = schema_set_trash,
     .format = schema_format_string},
    {.name = "trash_days",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "mirror",
     .type = SCHEMA_INT,
     .min = 1,
     .max = 3650,
     .unset_doc = "30 when trash is set",
     .help = "days an object stays in the trash before a run removes it",
     .example = "14",
     .offset = offsetof(struct cfg_job, mirror.trash_days),
     .set = schema_set_int,
     .format = schema_format_int},
    {.name = "concurrency",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "mirror",
     .type = SCHEMA_INT,
     .min = 1,
     .max = 1024,
     .default_value = "64",
     .help = "transfers in flight at once (one thread, one libcurl multi handle)",
     .example = "128",
     .offset = offsetof(struct cfg_job, mirror.concurrency),
     .set = schema_set_int,
     .format = schema_format_int},
    {.name = "max_requests_per_second",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "mirror",
     .type = SCHEMA_RATE,
     .max = 1000000,
     .unset_doc = "0: each store's own max_requests_per_second",
     .help = "ceiling on requests per second to each side, instead of the stores' own",
     .example = "400",
     .offset = offsetof(struct cfg_job, mirror.max_requests_per_second),
     .set = schema_set_rate_or_zero,
     .format = schema_format_rate},
    {.name = "max_delete",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "mirror",
     .type = SCHEMA_LIMIT,
     .max = 1000000000000LL,
     .default_value = "10%",
     .help = "most deletions one run may make, a count or a percentage of the destination; above "
             "it no deletion is made",
     .example = "500",
     .offset = offsetof(struct cfg_job, mirror.max_delete_count),
     .offset_extra = offsetof(struct cfg_job, mirror.max_delete_percent),
     .set = schema_set_limit,
     .format = schema_format_limit},
    {.name = "acl",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "mirror",
     .type = SCHEMA_ENUM,
     .choices = mirror_acls,
     .choice_label = "acl",
     .unset_doc = "copy from an S3 source, private from a local one (public-read with "
                  "preset = mastodon)",
     .help = "ACL of the objects written to an S3 destination",
     .example = "public-read",
     .offset = offsetof(struct cfg_job, mirror.acl),
     .set = schema_set_acl,
     .format = schema_format_acl},
    {.name = "checksum",
     .section = SCHEMA_SECTION_JOB,
     .applies_to = "mirror",
     .type = SCHEMA_BOOL,
     .default_value = "no",
     .help = "compare content hashes (MD5) when the listings cannot tell (multipart ETags, local "
             "files)",
     .example = "yes",
     .offset = offsetof(struct cfg_job, mirror.checksum),
     .set = schema_set_bool,
     .format = schema_format_bool},
    {.name = "schedule",
     .section = SCHEMA_SECTION_JOB,
     .type = SCHEMA_SCHEDULE,
     .unset_doc = "none: the job runs only through 'permafrost run'",
     .help = "when the daemon runs the job: a 5-field cron expression or @hourly/@daily/...",
     .example = "0 3 * * *",
     .offset = offsetof(struct cfg_job, schedule),
     .set = schema_set_schedule,
     .format = schema_format_string},
    {.name = "jitter",
     .section = SCHEMA_SECTION_JOB,
     .type = SCHEMA_DURATION,
     .min = 0,
     .max = 86400000,
     .unset_doc = "0: exactly on time",
     .help = "delay each scheduled run by a random time up to this (spreads load on shared stores)",
     .example = "10m",
     .offset = offsetof(struct cfg_job, jitter_ms),
     .set = schema_set_duration,
     .format = schema_format_duration},
    {.name = "stale_after",
     .section = SCHEMA_SECTION_JOB,
     .type = SCHEMA_DURATION,
     .min = 60000,
     .max = 2073600000,
     .unset_doc = "1.5 times the longest gap between two runs of the schedule, plus any DST shift",
     .help = "status and /metrics flag the job when its last success is older than this",
     .example = "26h",
     .offset = offsetof(struct cfg_job, stale_after_ms),
     .set = schema_set_duration,
     .format = schema_format_duration},
    {.name = "catch_up",
     .section = SCHEMA_SECTION_JOB,
     .type = SCHEMA_BOOL,
     .default_value = "no",
     .help = "when the daemon starts after missing a scheduled run, run the job once at start-up",
     .example = "yes",
     .offset = offsetof(struct cfg_job, catch_up),
     .set = schema_set_bool,
     .format = schema_format_bool},
    {.name = "url",
     .section = SCHEMA_SECTION_NOTIFY,
     .type = SCHEMA_SECRET,
     .is_required = true,
     .help = "the channel as a URL (slack://, discord://, matrixs://, ntfys://, mastodons://, "
             "smtp://, hc://, https://)",
     .example = "env:OPS_DISCORD_URL",
     .offset = offsetof(struct cfg_notify, url),
     .offset_extra = offsetof(struct cfg_notify, url_ref),
     .set = schema_set_secret,
     .format = schema_format_secret},
    {.name = "on",
     .section = SCHEMA_SECTION_NOTIFY,
     .type = SCHEMA_EVENTS,
     .unset_doc = "failure, warning; start, success, failure for healthchecks channels",
     .help = "the events sent to this channel: start, success, failure, warning, or all",
     .example = "failure, warning, success",
     .offset = offsetof(struct cfg_notify, on),
     .set = schema_set_events,
     .format = schema_format_events},
    {.name = "jobs",
     .section = SCHEMA_SECTION_NOTIFY,
     .type = SCHEMA_LIST,
     .unset_doc = "every job",
     .help = "only the events of these jobs go to this channel",
     .example = "mastodon-db, media",
     .offset = offsetof(struct cfg_notify, jobs),
     .offset_extra = offsetof(struct cfg_notify, job_count),
     .set = schema_set_list,
     .format = schema_format_list},
};

const size_t schema_option_count = sizeof(schema_options) / sizeof(schema_options[0]);

const char *schema_section_name(enum schema_section section)
{
    switch (section) {
    case SCHEMA_SECTION_GLOBAL:
        return "global";
    case SCHEMA_SECTION_STORE:
        return "store";
    case SCHEMA_SECTION_JOB:
        return "job";
    case SCHEMA_SECTION_NOTIFY:
        return "notify";
    }
    ASSERT(!"unknown schema section");
    return "";
}

bool schema_section_from_name(const char *name, enum schema_section *out)
{
    static const enum schema_section all[] = {SCHEMA_SECTION_GLOBAL, SCHEMA_SECTION_STORE,
                                              SCHEMA_SECTION_JOB, SCHEMA_SECTION_NOTIFY};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(name, schema_section_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

static bool schema_name_listed(const char *list, const char *name)
{
    struct strv rest;
    struct strv item;

    for (rest = strv_from(list); rest.len;) {
        strv_cut(&rest, '|', &item);
        if (strv_eq(item, name))
            return true;
    }
    return false;
}

bool schema_option_applies(const struct schema_option *opt, enum schema_section section,
                           const char *applies_to)
{
    if (opt->section != section)
        return false;
    if (!applies_to || !opt->applies_to)
        return true;
    return schema_name_listed(opt->applies_to, applies_to);
}

bool schema_option_required(const struct schema_option *opt, const char *applies_to)
{
    if (opt->is_required)
        return true;
    return opt->required_for && applies_to && schema_name_listed(opt->required_for, applies_to);
}

const struct schema_option *schema_find(enum schema_section section, const char *applies_to,
                                        const char *name)
{
    for (size_t i = 0; i < schema_option_count; i++) {
        const struct schema_option *opt = &schema_options[i];
        size_t n = opt->key_prefix ? strlen(opt->key_prefix) : 0;
        if (!schema_option_applies(opt, section, applies_to))
            continue;
        if (opt->key_prefix ? strncmp(name, opt->key_prefix, n) == 0 && name[n] != '\0'
                            : strcmp(opt->name, name) == 0)
            return opt;
    }
    return NULL;
}

const struct schema_option *schema_discriminator(enum schema_section section)
{
    for (size_t i = 0; i < schema_option_count; i++)
        if (schema_options[i].section == section && schema_options[i].is_discriminator)
            return &schema_options[i];
    return NULL;
}
