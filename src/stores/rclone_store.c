/* type = rclone. Two halves:
 * - a remote of type s3 in a readable rclone.conf is mapped onto the native S3 client's options
 *   (rclone_store_s3_options_init) and opened with s3_store_open;
 * - anything else is served by the rclone binary, one child process per operation, started with an
 *   argv array (never a shell). RCLONE_CONFIG_PASS, when set, reaches rclone through the inherited
 *   environment and never through argv.
 *
 * Atomic writes through the binary: `rclone rcat` writes straight into its destination on
 * file-like backends (local, sftp, webdav...), so a crash would leave a truncated object under the
 * real key. Data is therefore streamed to a temporary key ".<name>.tmp-XXXXXX" beside it and moved
 * into place with `rclone moveto` at commit (a rename where the backend has one, a server-side copy
 * elsewhere). Listings hide temporary keys, or report them as partial, like the local store's.
 *
 * Listing uses `rclone lsjson`, not `rclone lsf`: lsjson escapes every byte of a name and gives
 * ModTime in RFC 3339 with its zone, while lsf separates fields with a character a name may hold
 * (names may even hold newlines) and prints times in the local zone without saying which. */
#include "stores/rclone_store.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/random.h>
#include <unistd.h>

#include "io/proc.h"
#include "stores/s3_store.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/fs.h"
#include "util/strv.h"
#include "util/xalloc.h"

#define RCLONE_TMP_NAME_MAX      200
#define RCLONE_STAT_MAX_BYTES    (64u << 10)
#define RCLONE_JSON_MAX_DEPTH    32
#define RCLONE_JSON_STRING_MAX   (64u << 10)
#define RCLONE_EXIT_DIR_MISSING  3 /* rclone: "directory not found" */
#define RCLONE_EXIT_FILE_MISSING 4 /* rclone: "file not found" */
#define RCLONE_ARGV_MAX          16

struct rclone_store {
    struct store base; /* first, so a struct store * converts back */
    char *binary;      /* "rclone" (searched in PATH) or opts->rclone_binary */
    char *config;      /* passed as --config when the store names one; else NULL */
    char *root;        /* "NAME:path" without a trailing '/' ("NAME:" for the remote's root) */
};

struct rclone_writer {
    struct store_writer base;
    struct rclone_store *rs; /* borrowed: a store outlives its writers */
    struct proc proc;
    char *path;     /* the remote path of the key */
    char *tmp_path; /* the remote path of the temporary key being written */
    bool has_failed;
};

struct rclone_reader {
    struct store_reader base;
    struct rclone_store *rs;
    struct proc proc;
    char *path;
    bool is_done;
};

static const struct store_ops rclone_store_ops;
static const struct store_writer_ops rclone_writer_ops;
static const struct store_reader_ops rclone_reader_ops;

/* ---- rclone.conf s3 sections -> native S3 options ---- */

/* Providers that rclone addresses virtual-hosted whatever force_path_style says (its quirks
 * table). Those it addresses path-style (Ceph, Minio, Cloudflare, IBMCOS, SeaweedFS, StackPath,
 * ChinaMobile, ArvanCloud, Other) and those newer than this table get force_path_style as
 * written, default true: path style works on every S3-compatible server reached through an
 * endpoint. */
static const char *const rclone_virtual_host_providers[] = {
    "AWS",      "Alibaba",  "DigitalOcean", "Dreamhost",  "HuaweiOBS", "LyveCloud", "Netease",
    "RackCorp", "Scaleway", "Storj",        "TencentCOS", "Wasabi",    NULL,
};

static bool rclone_in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* Go's strconv.ParseBool, which rclone uses for boolean options. */
static bool rclone_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True", NULL};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False", NULL};

    if (rclone_in_list(yes, s)) {
        *out = true;
        return true;
    }
    if (rclone_in_list(no, s)) {
        *out = false;
        return true;
    }
    return false;
}

static int rclone_s3_bool(const struct rclone_conf_section *section, const char *remote,
                          const char *key, bool dflt, bool *out, struct error *err)
{
    const char *v = rclone_conf_get(section, key);

    *out = dflt;
    if (v && !rclone_parse_bool(v, out))
        return error_set(err, ERR_CONFIG, "rclone remote '%s': %s = '%s' is not a boolean", remote,
                         key, v);
    return 0;
}

/* An option the native client cannot honour: refusing is safer than silently writing without the
 * server-side encryption or signature scheme the user configured. */
static int rclone_s3_unsupported(const char *remote, const char *key, struct error *err)
{
    error_set(err, ERR_CONFIG,
              "rclone remote '%s': option '%s' is not supported by the native S3 client", remote,
              key);
    return error_hint(err,
                      "remove '%s' from the remote, or use a remote of another type (the "
                      "rclone binary then serves it)",
                      key);
}

/* Splits "bucket/some/prefix" (leading and trailing '/' ignored, as rclone does) into bucket and
 * prefix. Empty, "." and ".." segments are refused: S3 would keep them as literal key bytes. */
static int rclone_s3_split_path(const char *remote, const char *path, char **bucket, char **prefix,
                                struct error *err)
{
    struct strv rest = strv_from(path);
    struct strv seg;
    struct strv b;

    while (rest.len && rest.ptr[0] == '/') {
        rest.ptr++;
        rest.len--;
    }
    while (rest.len && rest.ptr[rest.len - 1] == '/')
        rest.len--;
    if (rest.len == 0) {
        error_set(err, ERR_CONFIG, "rclone remote '%s': no bucket in the path", remote);
        return error_hint(err, "write the remote as NAME:bucket or NAME:bucket/prefix");
    }
    strv_cut(&rest, '/', &b);
    *prefix = strv_dup(rest);
    for (struct strv check = rest; check.len;) {
        strv_cut(&check, '/', &seg);
        if (seg.len == 0 || strv_eq(seg, ".") || strv_eq(seg, ".."))
            return error_set(err, ERR_CONFIG,
                             "rclone remote '%s': path '%s' has an empty, '.' or '..' segment",
                             remote, path);
    }
    *bucket = strv_dup(b);
    return 0;
}

int rclone_store_s3_options_init(const struct rclone_conf_section *section, const char *remote,
                                 const char *remote_path, const struct store_options *base,
                                 struct rclone_s3_options *out, struct error *err)
{
    static const char *const unsupported_keys[] = {
        "server_side_encryption", "sse_kms_key_id",          "sse_customer_algorithm",
        "sse_customer_key",       "sse_customer_key_base64", NULL,
    };
    const char *provider = rclone_conf_get(section, "provider");
    const char *endpoint = rclone_conf_get(section, "endpoint");
    const char *region = rclone_conf_get(section, "region");
    const char *access_key = rclone_conf_get(section, "access_key_id");
    const char *secret_key = rclone_conf_get(section, "secret_access_key");
    const char *session_token = rclone_conf_get(section, "session_token");
    bool is_env_auth;
    bool is_path_style;
    bool flag;

    memset(out, 0, sizeof(*out));
    out->opts = *base;
    out->opts.type = "s3";
    for (size_t i = 0; unsupported_keys[i]; i++)
        if (rclone_conf_get(section, unsupported_keys[i]))
            return rclone_s3_unsupported(remote, unsupported_keys[i], err);
    if (rclone_s3_bool(section, remote, "v2_auth", false, &flag, err) < 0)
        return -1;
    if (flag || (region && strcmp(region, "other-v2-signature") == 0))
        return rclone_s3_unsupported(remote, flag ? "v2_auth" : "region", err);
    if (rclone_s3_bool(section, remote, "use_accelerate_endpoint", false, &flag, err) < 0)
        return -1;
    if (flag)
        return rclone_s3_unsupported(remote, "use_accelerate_endpoint", err);
    if (rclone_s3_bool(section, remote, "env_auth", false, &is_env_auth, err) < 0 ||
        rclone_s3_bool(section, remote, "force_path_style", true, &is_path_style, err) < 0)
        return -1;

    if (rclone_s3_split_path(remote, remote_path, &out->bucket, &out->prefix, err) < 0)
        return -1;
    if (endpoint)
        out->endpoint =
            strstr(endpoint, "://") ? xstrdup(endpoint) : xasprintf("https://%s", endpoint);
    if (region)
        out->region = xstrdup(region);
    /* Path-style providers (and unknown ones) keep force_path_style as written. */
    if (provider && rclone_in_list(rclone_virtual_host_providers, provider))
        is_path_style = false;

    /* rclone uses the keys when both are set, whatever env_auth says; env_auth only matters when
     * they are blank. Without either, rclone would go anonymous: useless for writing backups. */
    if (!access_key != !secret_key)
        return error_set(err, ERR_CONFIG, "rclone remote '%s': %s is set but %s is not", remote,
                         access_key ? "access_key_id" : "secret_access_key",
                         access_key ? "secret_access_key" : "access_key_id");
    if (access_key) {
        secret_set(&out->access_key, access_key, strlen(access_key));
        secret_set(&out->secret_key, secret_key, strlen(secret_key));
    } else if (!is_env_auth) {
        error_set(err, ERR_CONFIG,
                  "rclone remote '%s': no access_key_id/secret_access_key and "
                  "env_auth is not true",
                  remote);
        return error_hint(err, "set the keys in rclone.conf, or env_auth = true to take them from "
                               "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    }
    if (session_token)
        secret_set(&out->session_token, session_token, strlen(session_token));

    out->opts.endpoint = out->endpoint;
    out->opts.region = out->region;
    out->opts.bucket = out->bucket;
    out->opts.prefix = out->prefix;
    out->opts.path_style = is_path_style ? 1 : 0;
    out->opts.access_key = secret_is_set(&out->access_key) ? &out->access_key : NULL;
    out->opts.secret_key = secret_is_set(&out->secret_key) ? &out->secret_key : NULL;
    out->opts.session_token = secret_is_set(&out->session_token) ? &out->session_token : NULL;
    return 0;
}

void rclone_store_s3_options_release(struct rclone_s3_options *o)
{
    xfree(o->endpoint);
    xfree(o->region);
    xfree(o->bucket);
    xfree(o->prefix);
    secret_release(&o->access_key);
    secret_release(&o->secret_key);
    secret_release(&o->session_token);
    memset(o, 0, sizeof(*o));
}

/* ---- lsjson output ---- */

struct rclone_json {
    const char *p;
    const char *end;
};

static void rclone_json_ws(struct rclone_json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int rclone_json_fail(const struct rclone_json *j, const char *start, const char *what,
                            struct error *err)
{
    return error_set(err, ERR_REMOTE, "lsjson output: %s at byte %zu", what,
                     (size_t)(j->p - start));
}

static bool rclone_json_take(struct rclone_json *j, char c)
{
    rclone_json_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

static int rclone_json_hex4(struct rclone_json *j, unsigned *out)
{
    unsigned v = 0;

    if (j->end - j->p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = *j->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void rclone_json_utf8(struct buf *out, unsigned cp, bool *is_full)
{
    char b[4];
    size_t n;

    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (!buf_add(out, b, n))
        *is_full = true;
}

/* Reads a string; decoded into out (reset first) unless out is NULL. */
static int rclone_json_string(struct rclone_json *j, const char *start, struct buf *out,
                              struct error *err)
{
    bool is_full = false;

    if (out)
        buf_reset(out);
    if (!rclone_json_take(j, '"'))
        return rclone_json_fail(j, start, "expected a string", err);
    for (;;) {
        unsigned char c;

        if (j->p >= j->end)
            return rclone_json_fail(j, start, "unterminated string", err);
        c = (unsigned char)*j->p++;
        if (c == '"')
            break;
        if (c < 0x20)
            return rclone_json_fail(j, start, "control character in a string", err);
        if (c != '\\') {
            if (out && !buf_add(out, &c, 1))
                is_full = true;
            continue;
        }
        if (j->p >= j->end)
            return rclone_json_fail(j, start, "unterminated string", err);
        c = (unsigned char)*j->p++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            break;
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        case 'u': {
            unsigned cp;
            unsigned low;

            if (rclone_json_hex4(j, &cp) < 0)
                return rclone_json_fail(j, start, "bad \\u escape", err);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
                    return rclone_json_fail(j, start, "lone surrogate", err);
                j->p += 2;
                if (rclone_json_hex4(j, &low) < 0 || low < 0xdc00 || low > 0xdfff)
                    return rclone_json_fail(j, start, "bad surrogate pair", err);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return rclone_json_fail(j, start, "lone surrogate", err);
            }
            if (out)
                rclone_json_utf8(out, cp, &is_full);
            continue;
        }
        default:
            return rclone_json_fail(j, start, "bad escape", err);
        }
        if (out && !buf_add(out, &c, 1))
            is_full = true;
    }
    if (is_full)
        return rclone_json_fail(j, start, "string too long", err);
    return 0;
}

/* A JSON number; *is_int tells whether it is a plain (optionally negative) integer, then in *v. */
static int rclone_json_number(struct rclone_json *j, const char *start, int64_t *v, bool *is_int,
                              struct error *err)
{
    bool is_neg = false;
    uint64_t mag = 0;
    bool is_overflow = false;
    const char *digits;

    rclone_json_ws(j);
    *is_int = true;
    if (j->p < j->end && *j->p == '-') {
        is_neg = true;
        j->p++;
    }
    digits = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned d = (unsigned)(*j->p - '0');
        if (mag > (UINT64_MAX - d) / 10)
            is_overflow = true;
        else
            mag = mag * 10 + d;
        j->p++;
    }
    if (j->p == digits)
        return rclone_json_fail(j, start, "expected a value", err);
    if (j->p < j->end && *j->p == '.') {
        *is_int = false;
        j->p++;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        *is_int = false;
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (is_overflow || mag > (uint64_t)INT64_MAX)
        *is_int = false;
    if (*is_int)
        *v = is_neg ? -(int64_t)mag : (int64_t)mag;
    return 0;
}

static bool rclone_json_literal(struct rclone_json *j, const char *lit)
{
    size_t n = strlen(lit);

    rclone_json_ws(j);
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, lit, n) == 0) {
        j->p += n;
        return true;
    }
    return false;
}

static int rclone_json_skip(struct rclone_json *j, const char *start, int depth, struct error *err)
{
    int64_t ignored_v;
    bool ignored_int;

    if (depth > RCLONE_JSON_MAX_DEPTH)
        return rclone_json_fail(j, start, "nested too deep", err);
    rclone_json_ws(j);
    if (j->p >= j->end)
        return rclone_json_fail(j, start, "unexpected end", err);
    if (*j->p == '"')
        return rclone_json_string(j, start, NULL, err);
    if (*j->p == '{' || *j->p == '[') {
        char close = *j->p == '{' ? '}' : ']';
        bool is_object = *j->p == '{';

        j->p++;
        if (rclone_json_take(j, close))
            return 0;
        do {
            if (is_object) {
                if (rclone_json_string(j, start, NULL, err) < 0)
                    return -1;
                if (!rclone_json_take(j, ':'))
                    return rclone_json_fail(j, start, "expected ':'", err);
            }
            if (rclone_json_skip(j, start, depth + 1, err) < 0)
                return -1;
        } while (rclone_json_take(j, ','));
        if (!rclone_json_take(j, close))
            return rclone_json_fail(j, start, "expected ',' or a closing bracket", err);
        return 0;
    }
    if (rclone_json_literal(j, "true") || rclone_json_literal(j, "false") ||
        rclone_json_literal(j, "null"))
        return 0;
    return rclone_json_number(j, start, &ignored_v, &ignored_int, err);
}

static int rclone_digits(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339 as Go writes it: "2006-01-02T15:04:05[.frac](Z|+hh:mm|-hh:mm)". */
static bool rclone_parse_time(const char *s, size_t len, time_t *out)
{
    struct tm tm;
    size_t i = 19;
    int off_min = 0;
    time_t t;

    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return false;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = rclone_digits(s, 4) - 1900;
    tm.tm_mon = rclone_digits(s + 5, 2) - 1;
    tm.tm_mday = rclone_digits(s + 8, 2);
    tm.tm_hour = rclone_digits(s + 11, 2);
    tm.tm_min = rclone_digits(s + 14, 2);
    tm.tm_sec = rclone_digits(s + 17, 2);
    if (tm.tm_year < -1900 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
        tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 ||
        tm.tm_sec < 0 || tm.tm_sec > 60)
        return false;
    if (s[i] == '.') {
        i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return false;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
        off_min = 0;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int h = rclone_digits(s + i + 1, 2);
        int m = rclone_digits(s + i + 4, 2);
        if (h < 0 || h > 23 || m < 0 || m > 59)
            return false;
        off_min = (h * 60 + m) * (s[i] == '-' ? -1 : 1);
    } else {
        return false;
    }
    t = timegm(&tm);
    *out = t - (time_t)off_min * 60;
    return true;
}

static bool rclone_path_has_control(const struct buf *b)
{
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

/* One object of the listing. *keep is false for one that is not a usable file name. */
static int rclone_lsjson_object(struct rclone_json *j, const char *start,
                                struct rclone_lsjson_entry *e, bool *keep, struct error *err)
{
    struct buf key;
    struct buf val;
    bool has_path = false;
    int rc = -1;

    buf_init(&key, RCLONE_JSON_STRING_MAX);
    buf_init(&val, RCLONE_JSON_STRING_MAX);
    memset(e, 0, sizeof(*e));
    *keep = true;
    if (!rclone_json_take(j, '{')) {
        rclone_json_fail(j, start, "expected an object", err);
        goto out;
    }
    if (rclone_json_take(j, '}')) {
        rclone_json_fail(j, start, "object without Path", err);
        goto out;
    }
    do {
        if (rclone_json_string(j, start, &key, err) < 0)
            goto out;
        if (!rclone_json_take(j, ':')) {
            rclone_json_fail(j, start, "expected ':'", err);
            goto out;
        }
        if (strcmp(key.data, "Path") == 0) {
            if (rclone_json_string(j, start, &val, err) < 0)
                goto out;
            if (val.len == 0 || strlen(val.data) != val.len || rclone_path_has_control(&val))
                *keep = false;
            xfree(e->path);
            e->path = xstrdup(val.data);
            has_path = true;
        } else if (strcmp(key.data, "Size") == 0) {
            int64_t v = 0;
            bool is_int;
            if (rclone_json_number(j, start, &v, &is_int, err) < 0)
                goto out;
            if (!is_int) {
                rclone_json_fail(j, start, "Size is not an integer", err);
                goto out;
            }
            /* -1: the backend does not know the size. */
            e->size_bytes = v < 0 ? 0 : (uint64_t)v;
        } else if (strcmp(key.data, "ModTime") == 0) {
            if (rclone_json_string(j, start, &val, err) < 0)
                goto out;
            if (!rclone_parse_time(val.data, val.len, &e->mtime)) {
                rclone_json_fail(j, start, "ModTime is not RFC 3339", err);
                goto out;
            }
        } else if (strcmp(key.data, "IsDir") == 0) {
            if (rclone_json_literal(j, "true")) {
                e->is_dir = true;
            } else if (rclone_json_literal(j, "false")) {
                e->is_dir = false;
            } else {
                rclone_json_fail(j, start, "IsDir is not a boolean", err);
                goto out;
            }
        } else if (rclone_json_skip(j, start, 1, err) < 0) {
            goto out;
        }
    } while (rclone_json_take(j, ','));
    if (!rclone_json_take(j, '}')) {
        rclone_json_fail(j, start, "expected ',' or '}'", err);
        goto out;
    }
    if (!has_path) {
        rclone_json_fail(j, start, "object without Path", err);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        xfree(e->path);
        e->path = NULL;
    }
    buf_release(&key);
    buf_release(&val);
    return rc;
}

void rclone_lsjson_free(struct rclone_lsjson_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++)
        xfree(entries[i].path);
    xfree(entries);
}

int rclone_lsjson_parse(const char *text, size_t len, struct rclone_lsjson_entry **entries,
                        size_t *count, struct error *err)
{
    struct rclone_json j = {text, text + len};
    struct rclone_lsjson_entry *list = NULL;
    size_t n = 0;
    size_t alloc = 0;
    bool is_array;
    int rc = -1;

    *entries = NULL;
    *count = 0;
    rclone_json_ws(&j);
    is_array = j.p < j.end && *j.p == '[';
    if (is_array) {
        j.p++;
        if (rclone_json_take(&j, ']'))
            goto done;
    }
    do {
        struct rclone_lsjson_entry e;
        bool keep;

        if (rclone_lsjson_object(&j, text, &e, &keep, err) < 0)
            goto out;
        if (!keep) {
            xfree(e.path);
            continue;
        }
        XGROW(list, n + 1, alloc);
        list[n++] = e;
    } while (is_array && rclone_json_take(&j, ','));
    if (is_array && !rclone_json_take(&j, ']')) {
        rclone_json_fail(&j, text, "expected ',' or ']'", err);
        goto out;
    }
done:
    rclone_json_ws(&j);
    if (j.p != j.end) {
        rclone_json_fail(&j, text, "trailing data", err);
        goto out;
    }
    *entries = list;
    *count = n;
    list = NULL;
    n = 0;
    rc = 0;
out:
    rclone_lsjson_free(list, n);
    return rc;
}

/* ---- running rclone ---- */

static struct rclone_store *rclone_store_of(struct store *s)
{
    ASSERT(s->ops == &rclone_store_ops);
    return (struct rclone_store *)s;
}

/* The remote path of rel ("" for the root itself). */
static char *rclone_path(const struct rclone_store *rs, const char *rel)
{
    size_t len = strlen(rs->root);

    if (rel[0] == '\0')
        return xstrdup(rs->root);
    if (rs->root[len - 1] == ':' || rs->root[len - 1] == '/')
        return xasprintf("%s%s", rs->root, rel);
    return xasprintf("%s/%s", rs->root, rel);
}

/* Starts an argv: binary, command, then the flags every command gets. --ask-password=false: an
 * encrypted config without RCLONE_CONFIG_PASS must fail, not prompt on a terminal (or, for rcat,
 * read the password from our data). */
static size_t rclone_argv_start(const struct rclone_store *rs, const char *cmd, const char **argv)
{
    size_t n = 0;

    argv[n++] = rs->binary;
    argv[n++] = cmd;
    if (rs->config) {
        argv[n++] = "--config";
        argv[n++] = rs->config;
    }
    argv[n++] = "--ask-password=false";
    return n;
}

/* The last line of rclone's stderr without its "2026/11/24 03:15:00 " time stamp. */
static void rclone_tail_line(const char *text, char *out, size_t cap)
{
    size_t len = strlen(text);
    const char *line;

    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    line = text + len;
    while (line > text && line[-1] != '\n')
        line--;
    if (text + len - line > 20 && line[4] == '/' && line[7] == '/' && line[10] == ' ' &&
        line[13] == ':' && line[16] == ':' && line[19] == ' ')
        line += 20;
    buf_format_fixed(out, cap, "%.*s", (int)(text + len - line), line);
}

/* Like the local store's, these messages do not name the store: core adds "store 'NAME': " to
 * what an operation reports. */
static int rclone_fail(const struct rclone_store *rs, struct error *err, const char *cmd,
                       const char *path, int exit_code, const char *stderr_text)
{
    char tail[512];

    rclone_tail_line(stderr_text, tail, sizeof(tail));
    error_set(err, ERR_REMOTE, "rclone %s '%s' failed (exit %d)%s%s", cmd, path, exit_code,
              tail[0] ? ": " : "", tail);
    return error_hint(err, "check the remote by hand: rclone lsf %s%s%s'%s'",
                      rs->config ? "--config '" : "", rs->config ? rs->config : "",
                      rs->config ? "' " : "", rs->root);
}

static int rclone_start_failed(const struct rclone_store *rs, struct error *err)
{
    (void)rs;
    return error_hint(err, "install rclone (Debian: apt install rclone) or set rclone_binary");
}

/* Runs one rclone command to completion. out (may be NULL) receives stdout up to its cap. */
static int rclone_run(const struct rclone_store *rs, const char *const *argv, struct buf *out,
                      int *exit_code, struct buf *err_tail, struct error *err)
{
    struct buf ignored;
    int rc;

    buf_init(&ignored, RCLONE_STAT_MAX_BYTES);
    rc = proc_run_capture(argv, NULL, out ? out : &ignored, exit_code, err_tail, err);
    buf_release(&ignored);
    if (rc < 0 && err->kind == ERR_IO && err->sys_errno == ENOENT)
        return rclone_start_failed(rs, err);
    return rc;
}

/* Runs `rclone CMD [flags...] path`; exit codes in ok_codes (0-terminated list beyond 0) count as
 * success and are returned in *exit_code. */
static int rclone_simple(const struct rclone_store *rs, const char *cmd, const char *flag,
                         const char *path, int ok_code, int *exit_code, struct error *err)
{
    const char *argv[RCLONE_ARGV_MAX];
    struct buf tail;
    size_t n = rclone_argv_start(rs, cmd, argv);
    int code = 0;
    int rc = -1;

    buf_init(&tail, PROC_STDERR_CAP);
    if (flag)
        argv[n++] = flag;
    argv[n++] = path;
    argv[n] = NULL;
    if (rclone_run(rs, argv, NULL, &code, &tail, err) < 0)
        goto out;
    if (code != 0 && code != ok_code) {
        rclone_fail(rs, err, cmd, path, code, tail.data);
        goto out;
    }
    if (exit_code)
        *exit_code = code;
    rc = 0;
out:
    buf_release(&tail);
    return rc;
}

/* ---- keys ---- */

static int rclone_check_key(const char *key, struct error *err)
{
    if (key[0] == '\0' || !store_key_is_valid(key, false))
        return store_invalid_key(err, "key", key);
    return 0;
}

/* ".<name>.tmp-XXXXXX" beside key. */
static char *rclone_tmp_key(const char *key)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[6] = {0};
    char suffix[7];
    const char *slash = strrchr(key, '/');
    const char *base = slash ? slash + 1 : key;
    size_t base_len = strlen(base);
    size_t dir_len = slash ? (size_t)(slash - key) + 1 : 0;

    if (base_len > RCLONE_TMP_NAME_MAX)
        base_len = RCLONE_TMP_NAME_MAX;
    /* Only a kernel without getrandom fails; the pid and a counter still separate writers. */
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        static unsigned counter;
        unsigned v = (unsigned)getpid() * 31u + counter++;
        for (size_t i = 0; i < sizeof(rnd); i++)
            rnd[i] = (unsigned char)(v >> (i * 5));
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        suffix[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    suffix[6] = '\0';
    return xasprintf("%.*s.%.*s.tmp-%s", (int)dir_len, key, (int)base_len, base, suffix);
}

/* ---- stat ---- */

/* *exists = false for a missing key (rclone exits 3 or 4) or a directory. */
static int rclone_stat_path(const struct rclone_store *rs, const char *path, uint64_t *size,
                            time_t *mtime, bool *exists, struct error *err)
{
    const char *argv[RCLONE_ARGV_MAX];
    struct rclone_lsjson_entry *entries = NULL;
    size_t count = 0;
    struct buf out;
    struct buf tail;
    size_t n = rclone_argv_start(rs, "lsjson", argv);
    int code = 0;
    int rc = -1;

    *exists = false;
    buf_init(&out, RCLONE_STAT_MAX_BYTES);
    buf_init(&tail, PROC_STDERR_CAP);
    argv[n++] = "--stat";
    argv[n++] = "--no-mimetype";
    argv[n++] = path;
    argv[n] = NULL;
    if (rclone_run(rs, argv, &out, &code, &tail, err) < 0)
        goto out;
    if (code == RCLONE_EXIT_DIR_MISSING || code == RCLONE_EXIT_FILE_MISSING) {
        rc = 0;
        goto out;
    }
    if (code != 0) {
        rclone_fail(rs, err, "lsjson --stat", path, code, tail.data);
        goto out;
    }
    if (rclone_lsjson_parse(out.data, out.len, &entries, &count, err) < 0) {
        error_wrap(err, "rclone lsjson --stat '%s'", path);
        goto out;
    }
    if (count == 1 && !entries[0].is_dir) {
        *size = entries[0].size_bytes;
        *mtime = entries[0].mtime;
        *exists = true;
    }
    rc = 0;
out:
    rclone_lsjson_free(entries, count);
    buf_release(&out);
    buf_release(&tail);
    return rc;
}

static int rclone_stat(struct store *s, const char *key, struct store_entry *out, bool *exists,
                       struct error *err)
{
    struct rclone_store *rs = rclone_store_of(s);
    uint64_t size = 0;
    time_t mtime = 0;
    char *path;
    int rc;

    *exists = false;
    if (rclone_check_key(key, err) < 0)
        return -1;
    path = rclone_path(rs, key);
    rc = rclone_stat_path(rs, path, &size, &mtime, exists, err);
    xfree(path);
    if (rc == 0 && *exists) {
        out->key = key;
        out->size_bytes = size;
        out->mtime = mtime;
        out->is_partial = false;
    }
    return rc;
}

/* ---- writer ---- */

static struct rclone_writer *rclone_writer_of(struct store_writer *w)
{
    ASSERT(w->ops == &rclone_writer_ops);
    return (struct rclone_writer *)w;
}

/* Best effort: a temporary key left behind is collected by remove_prefix (purge) with its
 * snapshot. --retries 1: it usually does not exist, and rclone would try three times. */
static void rclone_remove_quietly(const struct rclone_store *rs, const char *path)
{
    const char *argv[RCLONE_ARGV_MAX];
    struct error ignored = ERROR_INIT;
    struct buf out;
    size_t n = rclone_argv_start(rs, "deletefile", argv);
    int code;

    buf_init(&out, 4096);
    argv[n++] = "--retries";
    argv[n++] = "1";
    argv[n++] = path;
    argv[n] = NULL;
    (void)proc_run_capture(argv, NULL, &out, &code, NULL, &ignored);
    buf_release(&out);
}

static void rclone_writer_free(struct rclone_writer *w)
{
    proc_release(&w->proc);
    xfree(w->path);
    xfree(w->tmp_path);
    xfree(w);
}

/* Waits for rcat after an error and reports why it stopped. */
static int rclone_writer_report(struct rclone_writer *w, struct error *err)
{
    struct error wait_err = ERROR_INIT;
    int code = 0;

    if (proc_wait(&w->proc, &code, &wait_err) < 0 || code == 0)
        return -1;
    return rclone_fail(w->rs, err, "rcat", w->tmp_path, code, proc_stderr_text(&w->proc));
}

static int rclone_writer_write(struct store_writer *base, const void *data, size_t len,
                               struct error *err)
{
    struct rclone_writer *w = rclone_writer_of(base);

    if (w->has_failed)
        return error_set(err, ERR_IO, "write '%s': an earlier write failed", w->path);
    if (proc_write(&w->proc, data, len, err) < 0) {
        w->has_failed = true;
        if (err->sys_errno == EPIPE)
            rclone_writer_report(w, err);
        return -1;
    }
    return 0;
}

static int rclone_writer_commit(struct store_writer *base, struct error *err)
{
    struct rclone_writer *w = rclone_writer_of(base);
    const char *argv[RCLONE_ARGV_MAX];
    struct buf tail;
    size_t n;
    int code = 0;
    int rc = -1;

    buf_init(&tail, PROC_STDERR_CAP);
    if (w->has_failed) {
        error_set(err, ERR_IO, "commit '%s': an earlier write failed", w->path);
        goto out;
    }
    proc_close_stdin(&w->proc);
    if (proc_wait(&w->proc, &code, err) < 0)
        goto out;
    if (code != 0) {
        rclone_fail(w->rs, err, "rcat", w->tmp_path, code, proc_stderr_text(&w->proc));
        goto out;
    }
    n = rclone_argv_start(w->rs, "moveto", argv);
    argv[n++] = w->tmp_path;
    argv[n++] = w->path;
    argv[n] = NULL;
    if (rclone_run(w->rs, argv, NULL, &code, &tail, err) < 0)
        goto out;
    if (code != 0) {
        rclone_fail(w->rs, err, "moveto", w->path, code, tail.data);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0 && !cancel_requested())
        rclone_remove_quietly(w->rs, w->tmp_path);
    buf_release(&tail);
    rclone_writer_free(w);
    return rc;
}

static void rclone_writer_abort(struct store_writer *base)
{
    struct rclone_writer *w = rclone_writer_of(base);
    struct error ignored = ERROR_INIT;
    int code;

    proc_kill(&w->proc, SIGKILL);
    (void)proc_wait(&w->proc, &code, &ignored);
    if (!cancel_requested())
        rclone_remove_quietly(w->rs, w->tmp_path);
    rclone_writer_free(w);
}

static const struct store_writer_ops rclone_writer_ops = {
    .write = rclone_writer_write,
    .commit = rclone_writer_commit,
    .abort = rclone_writer_abort,
};

static int rclone_put_open(struct store *s, const char *key, struct store_writer **out,
                           struct error *err)
{
    struct rclone_store *rs = rclone_store_of(s);
    const char *argv[RCLONE_ARGV_MAX];
    struct rclone_writer *w;
    char *tmp_key;
    size_t n;

    *out = NULL;
    if (rclone_check_key(key, err) < 0)
        return -1;
    w = xcalloc(1, sizeof(*w));
    w->base.ops = &rclone_writer_ops;
    w->rs = rs;
    w->path = rclone_path(rs, key);
    tmp_key = rclone_tmp_key(key);
    w->tmp_path = rclone_path(rs, tmp_key);
    xfree(tmp_key);
    n = rclone_argv_start(rs, "rcat", argv);
    argv[n++] = w->tmp_path;
    argv[n] = NULL;
    if (proc_spawn(argv, NULL, PROC_STDIN_PIPE, &w->proc, err) < 0) {
        rclone_start_failed(rs, err);
        rclone_writer_free(w);
        return -1;
    }
    *out = &w->base;
    return 0;
}

/* ---- reader ---- */

static struct rclone_reader *rclone_reader_of(struct store_reader *r)
{
    ASSERT(r->ops == &rclone_reader_ops);
    return (struct rclone_reader *)r;
}

/* End of data counts only when rclone exits 0: a failure mid-stream must not look like a short
 * object. */
static int rclone_reader_read(struct store_reader *base, void *data, size_t cap, size_t *got,
                              struct error *err)
{
    struct rclone_reader *r = rclone_reader_of(base);
    int code = 0;

    *got = 0;
    if (r->is_done)
        return 0;
    if (proc_read(&r->proc, data, cap, got, err) < 0)
        return -1;
    if (*got > 0)
        return 0;
    if (proc_wait(&r->proc, &code, err) < 0)
        return -1;
    if (code != 0)
        return rclone_fail(r->rs, err, "cat", r->path, code, proc_stderr_text(&r->proc));
    r->is_done = true;
    return 0;
}

static void rclone_reader_close(struct store_reader *base)
{
    struct rclone_reader *r = rclone_reader_of(base);

    proc_release(&r->proc);
    xfree(r->path);
    xfree(r);
}

static const struct store_reader_ops rclone_reader_ops = {
    .read = rclone_reader_read,
    .close = rclone_reader_close,
};

/* `rclone cat` of a missing file prints nothing and may exit 0 (a filter that matched nothing), so
 * the key is looked up first: "not found" must be an error at open, as on every store. */
static int rclone_get_open(struct store *s, const char *key, struct store_reader **out,
                           struct error *err)
{
    struct rclone_store *rs = rclone_store_of(s);
    const char *argv[RCLONE_ARGV_MAX];
    struct rclone_reader *r = NULL;
    char *path = NULL;
    uint64_t size = 0;
    time_t mtime = 0;
    bool exists = false;
    size_t n;
    int rc = -1;

    *out = NULL;
    if (rclone_check_key(key, err) < 0)
        return -1;
    path = rclone_path(rs, key);
    if (rclone_stat_path(rs, path, &size, &mtime, &exists, err) < 0)
        goto out;
    if (!exists) {
        error_set(err, ERR_IO, "open '%s': not found", path);
        err->sys_errno = ENOENT;
        goto out;
    }
    r = xcalloc(1, sizeof(*r));
    r->base.ops = &rclone_reader_ops;
    r->rs = rs;
    n = rclone_argv_start(rs, "cat", argv);
    argv[n++] = path;
    argv[n] = NULL;
    if (proc_spawn(argv, NULL, PROC_STDOUT_PIPE, &r->proc, err) < 0) {
        rclone_start_failed(rs, err);
        goto out;
    }
    r->path = path;
    path = NULL;
    *out = &r->base;
    r = NULL;
    rc = 0;
out:
    if (r)
        rclone_reader_close(&r->base);
    xfree(path);
    return rc;
}

/* ---- list ---- */

struct rclone_list_item {
    char *key;
    uint64_t size_bytes;
    time_t mtime;
    bool is_partial;
};

static int rclone_list_item_cmp(const void *a, const void *b)
{
    const struct rclone_list_item *x = a;
    const struct rclone_list_item *y = b;

    return strcmp(x->key, y->key);
}

static int rclone_list(struct store *s, const char *prefix, int flags, store_list_fn fn, void *ctx,
                       struct error *err)
{
    struct rclone_store *rs = rclone_store_of(s);
    const char *argv[RCLONE_ARGV_MAX];
    struct rclone_lsjson_entry *entries = NULL;
    struct rclone_list_item *items = NULL;
    size_t entry_count = 0;
    size_t item_count = 0;
    const char *slash = strrchr(prefix, '/');
    size_t dir_len = slash ? (size_t)(slash - prefix) + 1 : 0;
    char *dir = NULL;
    char *path = NULL;
    struct buf out;
    struct buf tail;
    size_t n;
    int code = 0;
    int rc = -1;

    buf_init(&out, RCLONE_STORE_LIST_MAX_BYTES);
    buf_init(&tail, PROC_STDERR_CAP);
    if (!store_key_is_valid(prefix, true)) {
        store_invalid_key(err, "prefix", prefix);
        goto out;
    }
    /* List the deepest directory the prefix names completely; keys are filtered below. */
    dir = xstrndup(prefix, dir_len > 0 ? dir_len - 1 : 0);
    path = rclone_path(rs, dir);
    n = rclone_argv_start(rs, "lsjson", argv);
    argv[n++] = "-R";
    argv[n++] = "--files-only";
    argv[n++] = "--no-mimetype";
    argv[n++] = path;
    argv[n] = NULL;
    if (rclone_run(rs, argv, &out, &code, &tail, err) < 0)
        goto out;
    if (code == RCLONE_EXIT_DIR_MISSING) {
        rc = 0;
        goto out;
    }
    if (code != 0) {
        rclone_fail(rs, err, "lsjson", path, code, tail.data);
        goto out;
    }
    if (rclone_lsjson_parse(out.data, out.len, &entries, &entry_count, err) < 0) {
        error_wrap(err, "rclone lsjson '%s'", path);
        goto out;
    }
    items = xcalloc(entry_count ? entry_count : 1, sizeof(*items));
    for (size_t i = 0; i < entry_count; i++) {
        const char *p = entries[i].path;
        const char *leaf = strrchr(p, '/');
        size_t leaf_len;
        char *key;
        bool is_partial = false;

        if (entries[i].is_dir)
            continue;
        leaf = leaf ? leaf + 1 : p;
        leaf_len = strlen(leaf);
        if (store_is_tmp_name(leaf, leaf_len)) {
            if (!(flags & STORE_LIST_PARTIAL))
                continue;
            is_partial = true;
            /* ".<name>.tmp-XXXXXX" reports as "<name>" */
            key = xasprintf("%.*s%.*s%.*s", (int)dir_len, prefix, (int)(leaf - p), p,
                            (int)(strstr(leaf, ".tmp-") - leaf - 1), leaf + 1);
        } else {
            key = xasprintf("%.*s%s", (int)dir_len, prefix, p);
        }
        if (strncmp(key, prefix, strlen(prefix)) != 0 || !store_key_is_valid(key, is_partial)) {
            xfree(key);
            continue;
        }
        items[item_count].key = key;
        items[item_count].size_bytes = entries[i].size_bytes;
        items[item_count].mtime = entries[i].mtime;
        items[item_count].is_partial = is_partial;
        item_count++;
    }
    if (item_count > 1)
        qsort(items, item_count, sizeof(items[0]), rclone_list_item_cmp);
    for (size_t i = 0; i < item_count; i++) {
        struct store_entry e = {items[i].key, items[i].size_bytes, items[i].mtime,
                                items[i].is_partial};
        int r = fn(&e, ctx, err);
        if (r < 0)
            goto out;
        if (r > 0)
            break;
    }
    rc = 0;
out:
    for (size_t i = 0; i < item_count; i++)
        xfree(items[i].key);
    xfree(items);
    rclone_lsjson_free(entries, entry_count);
    xfree(dir);
    xfree(path);
    buf_release(&out);
    buf_release(&tail);
    return rc;
}

/* ---- remove ---- */

/* `rclone deletefile` of a missing file fails (after three attempts) with a generic exit code, so
 * the key is looked up first. */
static int rclone_remove(struct store *s, const char *key, struct error *err)
{
    struct rclone_store *rs = rclone_store_of(s);
    uint64_t size = 0;
    time_t mtime = 0;
    bool exists = false;
    char *path;
    int rc = -1;

    if (rclone_check_key(key, err) < 0)
        return -1;
    path = rclone_path(rs, key);
    if (rclone_stat_path(rs, path, &size, &mtime, &exists, err) < 0)
        goto out;
    if (exists && rclone_simple(rs, "deletefile", NULL, path, 0, NULL, err) < 0)
        goto out;
    rc = 0;
out:
    xfree(path);
    return rc;
}

static int rclone_remove_prefix(struct store *s, const char *prefix, struct error *err)
{
    struct rclone_store *rs = rclone_store_of(s);
    size_t len = strlen(prefix);
    char *dir = NULL;
    char *path = NULL;
    int rc = -1;

    if (len < 2 || prefix[len - 1] != '/')
        return store_invalid_key(err, "prefix", prefix);
    dir = xstrndup(prefix, len - 1);
    if (!store_key_is_valid(dir, false)) {
        store_invalid_key(err, "prefix", prefix);
        goto out;
    }
    path = rclone_path(rs, dir);
    /* purge removes the directory with everything in it, temporary keys included; exit 3 is a
     * prefix that does not exist. */
    if (rclone_simple(rs, "purge", NULL, path, RCLONE_EXIT_DIR_MISSING, NULL, err) < 0)
        goto out;
    rc = 0;
out:
    xfree(dir);
    xfree(path);
    return rc;
}

static void rclone_store_free(struct store *s)
{
    struct rclone_store *rs = rclone_store_of(s);

    store_base_release(&rs->base);
    xfree(rs->binary);
    xfree(rs->config);
    xfree(rs->root);
    xfree(rs);
}

static const struct store_ops rclone_store_ops = {
    .put_open = rclone_put_open,
    .get_open = rclone_get_open,
    .list = rclone_list,
    .stat = rclone_stat,
    .remove = rclone_remove,
    .remove_prefix = rclone_remove_prefix,
    .free = rclone_store_free,
};

/* ---- open ---- */

static int rclone_binary_open(const struct store_options *opts, const char *name, const char *path,
                              struct store **out)
{
    struct rclone_store *rs = xcalloc(1, sizeof(*rs));
    size_t len = strlen(path);
    char *location;

    /* Trailing '/' would double up when keys are appended; "NAME:/" (a root) keeps it. */
    while (len > 1 && path[len - 1] == '/')
        len--;
    rs->root = xasprintf("%s:%.*s", name, (int)len, path);
    rs->binary =
        xstrdup(opts->rclone_binary && opts->rclone_binary[0] ? opts->rclone_binary : "rclone");
    rs->config =
        opts->rclone_config && opts->rclone_config[0] ? xstrdup(opts->rclone_config) : NULL;
    location = xasprintf("rclone:%s", rs->root);
    store_base_init(&rs->base, &rclone_store_ops, opts, location);
    xfree(location);
    *out = &rs->base;
    return 0;
}

/* rclone also takes a whole remote from RCLONE_CONFIG_<NAME>_TYPE and friends. */
static bool rclone_remote_in_env(const char *name)
{
    char *var = xasprintf("RCLONE_CONFIG_%s_TYPE", name);
    bool is_set;

    for (char *p = var; *p; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (*p == '-')
            *p = '_';
    }
    is_set = getenv(var) != NULL;
    xfree(var);
    return is_set;
}

int rclone_store_resolve(const struct store_options *opts, struct rclone_s3_options *s3,
                         bool *is_s3, struct error *err)
{
    const char *store_name = opts->name ? opts->name : "";
    const struct rclone_conf_section *section;
    struct rclone_conf conf = {NULL, 0, false};
    char *conf_path = NULL;
    char *name = NULL;
    char *path = NULL;
    const char *type;
    bool is_missing = false;
    struct buf text;
    int rc = -1;

    *is_s3 = false;
    memset(s3, 0, sizeof(*s3));
    buf_init(&text, RCLONE_CONF_MAX_BYTES);
    if (!opts->remote || opts->remote[0] == '\0') {
        error_set(err, ERR_CONFIG, "store '%s': no remote set", store_name);
        error_hint(err, "set remote = NAME:path, NAME a remote of rclone.conf");
        goto out;
    }
    if (rclone_remote_split(opts->remote, &name, &path, err) < 0) {
        error_wrap(err, "store '%s'", store_name);
        goto out;
    }
    conf_path = rclone_conf_default_path(opts->rclone_config);
    if (fs_read_file(conf_path, &text, err) < 0) {
        if (err->sys_errno != ENOENT) {
            error_wrap(err, "store '%s': rclone config", store_name);
            goto out;
        }
        is_missing = true;
    } else if (rclone_conf_parse(conf_path, text.data, text.len, &conf, err) < 0) {
        error_wrap(err, "store '%s': rclone config", store_name);
        goto out;
    }
    if (conf.is_encrypted) {
        /* Only rclone can decrypt it (with RCLONE_CONFIG_PASS from our environment). */
        rc = 0;
        goto out;
    }
    section = rclone_conf_find(&conf, name);
    if (!section) {
        if (rclone_remote_in_env(name)) {
            rc = 0;
            goto out;
        }
        if (is_missing)
            error_set(err, ERR_CONFIG, "store '%s': rclone config '%s' does not exist", store_name,
                      conf_path);
        else
            error_set(err, ERR_CONFIG, "store '%s': remote '%s' is not in rclone config '%s'",
                      store_name, name, conf_path);
        error_hint(err,
                   "'rclone listremotes --config %s' lists the remotes; rclone_config names "
                   "another file",
                   conf_path);
        goto out;
    }
    type = rclone_conf_get(section, "type");
    if (!type) {
        error_set(err, ERR_CONFIG, "store '%s': remote '%s' in '%s' has no type", store_name, name,
                  conf_path);
        goto out;
    }
    if (strcmp(type, "s3") != 0) {
        rc = 0;
        goto out;
    }
    if (rclone_store_s3_options_init(section, name, path, opts, s3, err) < 0) {
        error_wrap(err, "store '%s'", store_name);
        goto out;
    }
    *is_s3 = true;
    rc = 0;
out:
    rclone_conf_release(&conf);
    if (text.len)
        explicit_bzero(text.data, text.len);
    buf_release(&text);
    xfree(conf_path);
    xfree(name);
    xfree(path);
    return rc;
}

int rclone_store_open(const struct store_options *opts, struct store **out, struct error *err)
{
    struct rclone_s3_options s3;
    char *name = NULL;
    char *path = NULL;
    bool is_s3 = false;
    int rc = -1;

    *out = NULL;
    if (rclone_store_resolve(opts, &s3, &is_s3, err) < 0)
        goto out;
    if (is_s3) {
        rc = s3_store_open(&s3.opts, out, err);
        goto out;
    }
    if (rclone_remote_split(opts->remote, &name, &path, err) < 0)
        goto out;
    rc = rclone_binary_open(opts, name, path, out);
out:
    rclone_store_s3_options_release(&s3);
    xfree(name);
    xfree(path);
    return rc;
}
