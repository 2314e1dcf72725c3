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

/* ---- strings: path, time zone, conninfo ---- */

static bool schema_format_string(const struct schema_option *opt, const void *obj, struct buf *out)
{
    char *const *field = schema_cfield(obj, opt->offset);

    if (!*field)
        return false;
    buf_adds(out, *field);
    return true;
}

/* TODO(#3): minimal setter for rclone's `remote`, added by the rclone helper to test end to end;
 * the lead reconciles it with the full s3/rclone schema. Checked again by rclone_remote_split. */
static int schema_set_remote(const struct schema_option *opt, void *obj, const char *value,
                             struct error *err)
{
    if (!*value)
        return error_set(err, ERR_CONFIG, "empty value");
    if (!strchr(value, ':'))
        return error_set(err, ERR_CONFIG, "expected NAME:path (a remote of rclone.conf)");
    schema_replace_string(obj, opt->offset, value);
    return 0;
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

static int schema_set_bool(const struct schema_option *opt, void *obj, const char *value,
                           struct error *err)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    bool *field = schema_field(obj, opt->offset);
    char shown[80];

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *field = true;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *field = false;
            return 0;
        }
    }
    return error_set(err, ERR_CONFIG, "expected yes or no (or true/false, on/off, 1/0), got '%s'",
                     schema_printable(value, shown, sizeof(shown)));
}

static bool schema_format_bool(const struct schema_option *opt, const void *obj, struct buf *out)
{
    const bool *field = schema_cfield(obj, opt->offset);

    buf_adds(out, *field ? "yes" : "no");
    return true;
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

static bool schema_format_keep(const struct schema_option *opt, const void *obj, struct buf *out)
{
    const struct keep_policy *k = schema_cfield(obj, opt->offset);
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

/* ---- the table ---- */

static const char *const store_types[] = {"local", "rclone", NULL};
static const char *const job_kinds[] = {"postgres", NULL}; /* enum job_kind order */
static const char *const row_counts_modes[] = {"exact", "estimate", "off", NULL}; /* enum order */

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
    {.name = "remote",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "rclone",
     .type = SCHEMA_STRING,
     .is_required = true,
     .help = "rclone remote and path, NAME:path, NAME a section of rclone.conf",
     .example = "b2:mastodon-backups/permafrost",
     .offset = offsetof(struct cfg_store, remote),
     .set = schema_set_remote,
     .format = schema_format_string},
    {.name = "rclone_config",
     .section = SCHEMA_SECTION_STORE,
     .applies_to = "rclone",
     .type = SCHEMA_PATH,
     .unset_doc = "$RCLONE_CONFIG, else ~/.config/rclone/rclone.conf",
     .help = "rclone.conf to read (and to pass to rclone as --config)",
     .example = "/etc/permafrost/rclone.conf",
     .offset = offsetof(struct cfg_store, rclone_config),
     .set = schema_set_path,
     .format = schema_format_string},

    {.name = "kind",
     .section = SCHEMA_SECTION_JOB,
     .type = SCHEMA_ENUM,
     .is_required = true,
     .is_discriminator = true,
     .choices = job_kinds,
     .choice_label = "job kind",
     .help = "what the job backs up",
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
     .applies_to = "postgres",
     .type = SCHEMA_SECRET,
     .unset_doc = "libpq's other methods apply: peer, trust, ~/.pgpass",
     .help = "database password: env:NAME, file:PATH, or inline (discouraged)",
     .example = "env:DB_PASS",
     .offset = offsetof(struct cfg_job, password),
     .offset_extra = offsetof(struct cfg_job, password_ref),
     .set = schema_set_secret,
     .format = schema_format_secret},
    {.name = "targets",
     .section = SCHEMA_SECTION_JOB,
     .type = SCHEMA_LIST,
     .is_required = true,
     .help = "stores that receive each backup, comma-separated",
     .example = "local, offsite",
     .offset = offsetof(struct cfg_job, targets),
     .offset_extra = offsetof(struct cfg_job, target_count),
     .set = schema_set_list,
     .format = schema_format_list},
    {.name = "keep",
     .section = SCHEMA_SECTION_JOB,
     .type = SCHEMA_KEEP,
     .unset_doc = "keep every snapshot",
     .help = "retention policy applied on each store after a backup (restic forget)",
     .example = "last 3, daily 7, weekly 4, monthly 6",
     .offset = offsetof(struct cfg_job, keep),
     .offset_extra = offsetof(struct cfg_job, keep_text),
     .set = schema_set_keep,
     .format = schema_format_keep},
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
     .type = SCHEMA_COMPRESSION,
     .default_value = "zstd:3",
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
    }
    ASSERT(!"unknown schema section");
    return "";
}

bool schema_section_from_name(const char *name, enum schema_section *out)
{
    static const enum schema_section all[] = {SCHEMA_SECTION_GLOBAL, SCHEMA_SECTION_STORE,
                                              SCHEMA_SECTION_JOB};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(name, schema_section_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

bool schema_option_applies(const struct schema_option *opt, enum schema_section section,
                           const char *applies_to)
{
    if (opt->section != section)
        return false;
    return !applies_to || !opt->applies_to || strcmp(opt->applies_to, applies_to) == 0;
}

const struct schema_option *schema_find(enum schema_section section, const char *applies_to,
                                        const char *name)
{
    for (size_t i = 0; i < schema_option_count; i++)
        if (schema_option_applies(&schema_options[i], section, applies_to) &&
            strcmp(schema_options[i].name, name) == 0)
            return &schema_options[i];
    return NULL;
}

const struct schema_option *schema_discriminator(enum schema_section section)
{
    for (size_t i = 0; i < schema_option_count; i++)
        if (schema_options[i].section == section && schema_options[i].is_discriminator)
            return &schema_options[i];
    return NULL;
}
