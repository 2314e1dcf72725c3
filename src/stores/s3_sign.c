#include "stores/s3_sign.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/digest.h"
#include "util/strv.h"
#include "util/xalloc.h"

/* Implementation notes.
 *
 * The work per request is linear in its size apart from two qsorts (headers, query parameters):
 * names are lowercased while they are written, never copied, and duplicates are found as equal
 * neighbours after sorting. The canonical request is the only large string built; it is hashed
 * once.
 *
 * Inputs are checked rather than repaired. The server rebuilds the canonical request from what
 * arrives on the wire (decoding and re-encoding path and query), so anything we would sign
 * differently from that (a raw space, "%2f" in lower case, a '=' inside a query value) can only
 * end in 403 SignatureDoesNotMatch; failing here names the culprit instead. */

#define SIGN_ALGORITHM "AWS4-HMAC-SHA256"
/* Our canonical requests are a path, a short query and a handful of headers: one this large is a
 * caller bug, not a request. */
#define SIGN_MAX_TEXT  ((size_t)256 * 1024)

struct sign_header {
    struct strv name;  /* as given; lowercased when written */
    struct strv value; /* trimmed; inner blanks collapsed when written */
};

struct sign_param {
    struct strv name;
    struct strv value;
};

static bool sign_is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static bool sign_is_upper_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static bool sign_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool sign_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 token characters: what a header field name may contain. */
static bool sign_is_tchar(unsigned char c)
{
    return sign_is_unreserved(c) || (c != '\0' && strchr("!#$%&'*+^`|", c) != NULL);
}

static unsigned char sign_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive order; header names are tokens, so this is the order of their lowercase
 * forms that SigV4 asks for. */
static int sign_cmp_nocase(struct strv a, struct strv b)
{
    size_t n = a.len < b.len ? a.len : b.len;

    for (size_t i = 0; i < n; i++) {
        unsigned char ca = sign_lower((unsigned char)a.ptr[i]);
        unsigned char cb = sign_lower((unsigned char)b.ptr[i]);
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return (a.len > b.len) - (a.len < b.len);
}

static int sign_cmp_bytes(struct strv a, struct strv b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;

    if (c != 0)
        return c;
    return (a.len > b.len) - (a.len < b.len);
}

static int sign_header_cmp(const void *pa, const void *pb)
{
    const struct sign_header *a = pa;
    const struct sign_header *b = pb;

    return sign_cmp_nocase(a->name, b->name);
}

static int sign_param_cmp(const void *pa, const void *pb)
{
    const struct sign_param *a = pa;
    const struct sign_param *b = pb;
    int c = sign_cmp_bytes(a->name, b->name);

    return c != 0 ? c : sign_cmp_bytes(a->value, b->value);
}

/* Checks that s is in the form s3_sign_uri_encode produces: unreserved bytes, "%XY" with upper-case
 * hex, and '/' when allow_slash. Returns the offset of the first offending byte, or s.len. */
static size_t sign_find_unencoded(struct strv s, bool allow_slash)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (sign_is_unreserved(c) || (allow_slash && c == '/'))
            continue;
        if (c == '%' && s.len - i > 2 && sign_is_upper_hex((unsigned char)s.ptr[i + 1]) &&
            sign_is_upper_hex((unsigned char)s.ptr[i + 2])) {
            i += 2;
            continue;
        }
        return i;
    }
    return s.len;
}

/* "YYYYMMDDTHHMMSSZ" with plausible field ranges. */
static bool sign_is_amz_date(const char *s)
{
    int month, day, hour, minute, second;

    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++) {
        if (i != 8 && !sign_is_digit(s[i]))
            return false;
    }
    month = (s[4] - '0') * 10 + (s[5] - '0');
    day = (s[6] - '0') * 10 + (s[7] - '0');
    hour = (s[9] - '0') * 10 + (s[10] - '0');
    minute = (s[11] - '0') * 10 + (s[12] - '0');
    second = (s[13] - '0') * 10 + (s[14] - '0');
    return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 &&
           second <= 60;
}

static bool sign_is_payload_hash(const char *s)
{
    size_t n = strlen(s);

    if (strcmp(s, S3_SIGN_UNSIGNED_PAYLOAD) == 0)
        return true;
    if (n != (size_t)2 * DIGEST_SHA256_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!sign_is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return false;
    }
    return true;
}

/* Every scalar field must be present and non-empty; amz_date, path and payload_hash must also have
 * the right form. No message quotes the secret key. */
static int sign_check_fields(const struct s3_sign_request *req, struct error *err)
{
    const struct {
        const char *name;
        const char *value;
    } fields[] = {
        {"method", req->method},
        {"path", req->path},
        {"payload_hash", req->payload_hash},
        {"access_key", req->access_key},
        {"secret_key", req->secret_key},
        {"region", req->region},
        {"service", req->service},
        {"amz_date", req->amz_date},
    };

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (!fields[i].value || !*fields[i].value)
            return error_set(err, ERR_USAGE, "sigv4: missing '%s'", fields[i].name);
    }
    if (!sign_is_amz_date(req->amz_date))
        return error_set(err, ERR_USAGE,
                         "sigv4: amz_date '%.40s' is not in the form YYYYMMDDTHHMMSSZ",
                         req->amz_date);
    if (!sign_is_payload_hash(req->payload_hash))
        return error_set(err, ERR_USAGE,
                         "sigv4: payload_hash is neither 64 lowercase hex digits nor %s",
                         S3_SIGN_UNSIGNED_PAYLOAD);
    if (req->path[0] != '/')
        return error_set(err, ERR_USAGE, "sigv4: path '%.200s' does not start with '/'", req->path);
    if (sign_find_unencoded(strv_from(req->path), true) != strlen(req->path))
        return error_set(err, ERR_USAGE, "sigv4: path '%.200s' is not URI-encoded", req->path);
    if (req->header_count && !req->headers)
        return error_set(err, ERR_USAGE, "sigv4: missing 'headers'");
    return 0;
}

/* Returns the header named lit (lowercase), or NULL. headers is sorted, but the lookups are few and
 * the list short, so a scan is simplest. */
static const struct sign_header *sign_find_header(const struct sign_header *headers, size_t count,
                                                  const char *lit)
{
    for (size_t i = 0; i < count; i++) {
        if (sign_cmp_nocase(headers[i].name, strv_from(lit)) == 0)
            return &headers[i];
    }
    return NULL;
}

/* Fills headers (header_count entries) from req, sorted by lowercase name, and checks names,
 * values, duplicates and the headers SigV4 needs. */
static int sign_collect_headers(const struct s3_sign_request *req, struct sign_header *headers,
                                struct error *err)
{
    size_t count = req->header_count;
    const struct sign_header *h;

    for (size_t i = 0; i < count; i++) {
        const char *name = req->headers[i].name;
        const char *value = req->headers[i].value;

        if (!name || !*name)
            return error_set(err, ERR_USAGE, "sigv4: header %zu has no name", i);
        for (const char *p = name; *p; p++) {
            if (!sign_is_tchar((unsigned char)*p))
                return error_set(err, ERR_USAGE, "sigv4: header name '%.100s' is not a token",
                                 name);
        }
        if (!value)
            return error_set(err, ERR_USAGE, "sigv4: header '%.100s' has no value", name);
        if (strpbrk(value, "\r\n"))
            return error_set(err, ERR_USAGE, "sigv4: header '%.100s' contains a line break", name);
        headers[i].name = strv_from(name);
        headers[i].value = strv_trim(strv_from(value));
    }
    if (count > 1)
        qsort(headers, count, sizeof(*headers), sign_header_cmp);
    for (size_t i = 1; i < count; i++) {
        if (sign_cmp_nocase(headers[i - 1].name, headers[i].name) == 0)
            return error_set(err, ERR_USAGE, "sigv4: duplicate header '%.*s'",
                             (int)headers[i].name.len, headers[i].name.ptr);
    }

    if (!sign_find_header(headers, count, "host"))
        return error_set(err, ERR_USAGE, "sigv4: missing header 'host'");
    h = sign_find_header(headers, count, "x-amz-date");
    if (!h)
        return error_set(err, ERR_USAGE, "sigv4: missing header 'x-amz-date'");
    if (!strv_eq(h->value, req->amz_date))
        return error_set(err, ERR_USAGE, "sigv4: header 'x-amz-date' differs from amz_date '%s'",
                         req->amz_date);
    /* S3 refuses a request without it; other services (the generic test vectors) do not use it. */
    h = sign_find_header(headers, count, "x-amz-content-sha256");
    if (!h && strcmp(req->service, "s3") == 0)
        return error_set(err, ERR_USAGE, "sigv4: missing header 'x-amz-content-sha256'");
    if (h && !strv_eq(h->value, req->payload_hash))
        return error_set(err, ERR_USAGE,
                         "sigv4: header 'x-amz-content-sha256' differs from payload_hash");
    return 0;
}

/* Splits query at '&' into *params_out (owned by the caller, xfree), sorted by name then value.
 * Empty segments ("a=1&&b=2") are skipped; a segment without '=' has an empty value. */
static int sign_collect_params(const char *query, struct sign_param **params_out, size_t *count_out,
                               struct error *err)
{
    struct sign_param *params = NULL;
    size_t count = 0;
    size_t max_count = 1;
    struct strv rest = strv_from(query ? query : "");
    int rc = -1;

    *params_out = NULL;
    *count_out = 0;
    if (!rest.len)
        return 0;
    for (size_t i = 0; i < rest.len; i++)
        max_count += rest.ptr[i] == '&';
    params = xcalloc(max_count, sizeof(*params));
    while (rest.len) {
        struct strv seg;
        struct strv name;

        strv_cut(&rest, '&', &seg);
        if (!seg.len)
            continue;
        strv_cut(&seg, '=', &name);
        if (!name.len) {
            error_set(err, ERR_USAGE, "sigv4: query has a parameter without a name");
            goto out;
        }
        if (sign_find_unencoded(name, false) != name.len ||
            sign_find_unencoded(seg, false) != seg.len) {
            error_set(err, ERR_USAGE, "sigv4: query parameter '%.*s' is not URI-encoded",
                      (int)(name.len < 100 ? name.len : 100), name.ptr);
            goto out;
        }
        params[count].name = name;
        params[count].value = seg;
        count++;
    }
    if (count > 1)
        qsort(params, count, sizeof(*params), sign_param_cmp);
    *params_out = params;
    *count_out = count;
    params = NULL;
    rc = 0;
out:
    xfree(params);
    return rc;
}

/* Appends s lowercased. */
static bool sign_add_lower(struct buf *b, struct strv s)
{
    if (!buf_reserve(b, s.len))
        return false;
    for (size_t i = 0; i < s.len; i++)
        b->data[b->len + i] = (char)sign_lower((unsigned char)s.ptr[i]);
    b->len += s.len;
    b->data[b->len] = '\0';
    return true;
}

/* Appends an already trimmed header value with each inner run of blanks written as one space. */
static bool sign_add_collapsed(struct buf *b, struct strv v)
{
    size_t n = 0;

    if (!buf_reserve(b, v.len))
        return false;
    for (size_t i = 0; i < v.len; i++) {
        if (sign_is_blank(v.ptr[i])) {
            if (i > 0 && sign_is_blank(v.ptr[i - 1]))
                continue;
            b->data[b->len + n++] = ' ';
        } else {
            b->data[b->len + n++] = v.ptr[i];
        }
    }
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

/* Writes "host;range;x-amz-date" into b. */
static bool sign_add_signed_headers(struct buf *b, const struct sign_header *headers, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if ((i > 0 && !buf_add(b, ";", 1)) || !sign_add_lower(b, headers[i].name))
            return false;
    }
    return true;
}

static bool sign_add_canonical_request(struct buf *b, const struct s3_sign_request *req,
                                       const struct sign_header *headers,
                                       const struct sign_param *params, size_t param_count,
                                       const struct buf *signed_headers)
{
    bool ok = buf_adds(b, req->method) && buf_add(b, "\n", 1) && buf_adds(b, req->path) &&
              buf_add(b, "\n", 1);

    for (size_t i = 0; ok && i < param_count; i++) {
        ok = (i == 0 || buf_add(b, "&", 1)) && buf_add(b, params[i].name.ptr, params[i].name.len) &&
             buf_add(b, "=", 1) && buf_add(b, params[i].value.ptr, params[i].value.len);
    }
    ok = ok && buf_add(b, "\n", 1);
    for (size_t i = 0; ok && i < req->header_count; i++) {
        ok = sign_add_lower(b, headers[i].name) && buf_add(b, ":", 1) &&
             sign_add_collapsed(b, headers[i].value) && buf_add(b, "\n", 1);
    }
    return ok && buf_add(b, "\n", 1) && buf_add(b, signed_headers->data, signed_headers->len) &&
           buf_add(b, "\n", 1) && buf_adds(b, req->payload_hash);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). Every
 * intermediate key is wiped. */
static void sign_derive_key(const char *secret, const char *date8, const char *region,
                            const char *service, unsigned char key[DIGEST_SHA256_LEN])
{
    char *k0 = xasprintf("AWS4%s", secret);
    size_t k0_len = strlen(k0);
    unsigned char tmp[DIGEST_SHA256_LEN];

    digest_hmac_sha256(k0, k0_len, date8, 8, key);
    explicit_bzero(k0, k0_len);
    xfree(k0);
    digest_hmac_sha256(key, DIGEST_SHA256_LEN, region, strlen(region), tmp);
    digest_hmac_sha256(tmp, DIGEST_SHA256_LEN, service, strlen(service), key);
    digest_hmac_sha256(key, DIGEST_SHA256_LEN, "aws4_request", strlen("aws4_request"), tmp);
    memcpy(key, tmp, DIGEST_SHA256_LEN);
    explicit_bzero(tmp, sizeof(tmp));
}

int s3_sign(const struct s3_sign_request *req, struct buf *out, struct s3_sign_debug *debug,
            struct error *err)
{
    int rc = -1;
    struct sign_header *headers = NULL;
    struct sign_param *params = NULL;
    size_t param_count = 0;
    struct buf signed_headers;
    struct buf creq;
    struct buf sts;
    struct buf auth;
    char date8[9];
    unsigned char digest[DIGEST_SHA256_LEN];
    unsigned char key[DIGEST_SHA256_LEN];
    char hex[2 * DIGEST_SHA256_LEN + 1];

    buf_init(&signed_headers, SIGN_MAX_TEXT);
    buf_init(&creq, SIGN_MAX_TEXT);
    buf_init(&sts, SIGN_MAX_TEXT);
    buf_init(&auth, SIGN_MAX_TEXT);

    if (sign_check_fields(req, err) < 0)
        goto out;
    headers = xcalloc(req->header_count ? req->header_count : 1, sizeof(*headers));
    if (sign_collect_headers(req, headers, err) < 0)
        goto out;
    if (sign_collect_params(req->query, &params, &param_count, err) < 0)
        goto out;
    if (!sign_add_signed_headers(&signed_headers, headers, req->header_count) ||
        !sign_add_canonical_request(&creq, req, headers, params, param_count, &signed_headers)) {
        error_set(err, ERR_USAGE, "sigv4: canonical request exceeds %zu bytes", SIGN_MAX_TEXT);
        goto out;
    }

    memcpy(date8, req->amz_date, 8);
    date8[8] = '\0';
    digest_sha256(creq.data, creq.len, digest);
    digest_hex(digest, sizeof(digest), hex);
    if (!buf_addf(&sts, SIGN_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", req->amz_date, date8,
                  req->region, req->service, hex)) {
        error_set(err, ERR_USAGE, "sigv4: string to sign exceeds %zu bytes", SIGN_MAX_TEXT);
        goto out;
    }

    sign_derive_key(req->secret_key, date8, req->region, req->service, key);
    digest_hmac_sha256(key, sizeof(key), sts.data, sts.len, digest);
    explicit_bzero(key, sizeof(key));
    digest_hex(digest, sizeof(digest), hex);

    if (!buf_addf(&auth,
                  SIGN_ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                                 "Signature=%s",
                  req->access_key, date8, req->region, req->service, signed_headers.data, hex) ||
        !buf_add(out, auth.data, auth.len)) {
        error_set(err, ERR_USAGE, "sigv4: authorization header does not fit its buffer");
        goto out;
    }
    if (debug) {
        /* A trace that does not fit is cut short; the signature itself is fine. */
        (void)buf_add(&debug->canonical_request, creq.data, creq.len);
        (void)buf_add(&debug->string_to_sign, sts.data, sts.len);
    }
    rc = 0;
out:
    xfree(headers);
    xfree(params);
    buf_release(&signed_headers);
    buf_release(&creq);
    buf_release(&sts);
    buf_release(&auth);
    return rc;
}

bool s3_sign_uri_encode(struct buf *out, const char *s, size_t len, bool keep_slash)
{
    static const char hex_digits[] = "0123456789ABCDEF";
    size_t out_len = 0;
    char *p;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        out_len += (sign_is_unreserved(c) || (keep_slash && c == '/')) ? 1 : 3;
    }
    if (!buf_reserve(out, out_len))
        return false;
    p = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (sign_is_unreserved(c) || (keep_slash && c == '/')) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex_digits[c >> 4];
            *p++ = hex_digits[c & 0x0F];
        }
    }
    out->len += out_len;
    out->data[out->len] = '\0';
    return true;
}

/* Writes v as exactly n decimal digits. */
static void sign_put_digits(char *p, long long v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void s3_sign_format_date(long long t, char out[17])
{
    /* Days to civil date in the proleptic Gregorian calendar (Howard Hinnant's days_from_civil,
     * inverted), so no time_t range or locale is involved. */
    long long days = t / 86400;
    long long secs = t % 86400;
    long long z, era, doe, yoe, doy, mp, year, month, day;

    if (secs < 0) {
        secs += 86400;
        days -= 1;
    }
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    day = doy - (153 * mp + 2) / 5 + 1;
    month = mp < 10 ? mp + 3 : mp - 9;
    year = yoe + era * 400 + (month <= 2);
    /* x-amz-date has four year digits; a clock outside that is a bug, not a date to sign. */
    ASSERT(year >= 0 && year <= 9999);

    sign_put_digits(out, year, 4);
    sign_put_digits(out + 4, month, 2);
    sign_put_digits(out + 6, day, 2);
    out[8] = 'T';
    sign_put_digits(out + 9, secs / 3600, 2);
    sign_put_digits(out + 11, secs / 60 % 60, 2);
    sign_put_digits(out + 13, secs % 60, 2);
    out[15] = 'Z';
    out[16] = '\0';
}
