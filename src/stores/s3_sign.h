/* AWS Signature Version 4 for S3, as a pure function: no clock, no network, no environment. The
 * caller supplies the time and every header to sign; the result is the Authorization header value.
 * Checked against AWS's published SigV4 test vectors (tests/fixtures/sigv4/, source named there).
 *
 * S3 differs from the generic SigV4 rules in two ways that matter here: the path is not
 * normalised ("a/../b" and "//" are signed as given) and it is URI-encoded once, not twice. */
#ifndef PERMAFROST_STORES_S3_SIGN_H
#define PERMAFROST_STORES_S3_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"

#define S3_SIGN_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string: the payload hash of every request without a body. */
#define S3_SIGN_EMPTY_SHA256     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_sign_header {
    const char *name;  /* any case; signed lowercased */
    const char *value; /* signed trimmed, with inner runs of blanks collapsed to one space */
};

struct s3_sign_request {
    const char *method; /* "GET", "PUT", ... */
    /* The path exactly as it goes on the wire, already URI-encoded ("/bucket/my%20key"): only
     * unreserved characters, '/' and %XY with upper-case hex (what s3_sign_uri_encode makes). */
    const char *path;
    /* The query string as it goes on the wire, without '?': "list-type=2&prefix=db%2F", or NULL
     * or "" for none. A parameter without '=' ("uploads") signs as "uploads=". Canonicalisation
     * sorts the parameters by name (then value); names and values must be encoded already
     * (s3_sign_uri_encode, without keep_slash) and are not re-encoded. Empty segments ("a&&b")
     * are skipped. */
    const char *query;
    /* Every header to sign. Must include host and x-amz-date (equal to amz_date), and for service
     * "s3" x-amz-content-sha256 (equal to payload_hash); add x-amz-security-token with temporary
     * credentials. SignedHeaders lists exactly these. Names must be unique (case-insensitively)
     * tokens; values must not contain CR or LF. */
    const struct s3_sign_header *headers;
    size_t header_count;
    const char *payload_hash; /* lowercase hex SHA-256 of the body, or S3_SIGN_UNSIGNED_PAYLOAD */
    const char *access_key;
    const char *secret_key;
    const char *region;   /* "us-east-1" */
    const char *service;  /* "s3" */
    const char *amz_date; /* "20130524T000000Z": the x-amz-date value, UTC */
};

/* The intermediate strings, for tests and for --trace. They never contain the secret key, but the
 * canonical request does contain every signed header value, x-amz-security-token included: redact
 * that before logging it. */
struct s3_sign_debug {
    struct buf canonical_request;
    struct buf string_to_sign;
};

/* Computes the Authorization header value ("AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/
 * s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=<64 hex>")
 * and appends it to out (which should be empty). debug may be NULL; when given, its buffers
 * (initialised by the caller) receive the canonical request and the string to sign. Fails with
 * ERR_USAGE on a malformed request (missing field, amz_date not in the basic ISO 8601 form,
 * duplicate header names, a required header missing or disagreeing with its field, path or query
 * not in encoded form) or when out reaches its cap; out is then unchanged. No error message
 * contains the secret key. */
int s3_sign(const struct s3_sign_request *req, struct buf *out, struct s3_sign_debug *debug,
            struct error *err);

/* Appends the URI encoding of len bytes of s to out as SigV4 requires: unreserved characters
 * (A-Z a-z 0-9 - . _ ~) as they are, every other byte as %XY with upper-case hex; '/' is kept
 * when keep_slash (paths) and encoded otherwise (query names and values). Returns false only when
 * out reaches its cap. */
bool s3_sign_uri_encode(struct buf *out, const char *s, size_t len, bool keep_slash);

/* Formats t (seconds since the epoch) as the x-amz-date value "YYYYMMDDTHHMMSSZ" (UTC). t must lie
 * in the years 0000 to 9999 (ASSERT). */
void s3_sign_format_date(long long t, char out[17]);

#endif
