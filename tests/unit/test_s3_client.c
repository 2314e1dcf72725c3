/* The pure parts of the S3 client: backoff, which answers are retried, HTTP dates, key encoding,
 * and the option checks of s3_client_new (no request is sent). */
#include <stdlib.h>

#include "io/digest.h"
#include "stores/s3_client.h"
#include "unit.h"
#include "util/xalloc.h"

static void test_s3_backoff_grows_and_is_capped(void)
{
    /* random = UINT32_MAX - 1 sits near the top of each window. */
    long prev = -1;

    for (int attempt = 0; attempt < 20; attempt++) {
        long d = s3_backoff_ms(attempt, 0, UINT32_MAX - 1);
        CHECK(d >= 0);
        CHECK(d < S3_BACKOFF_CAP_MS);
        CHECK(d >= prev || d >= S3_BACKOFF_CAP_MS / 2);
        prev = d;
    }
    /* The window of attempt 0 is [0, base). */
    CHECK(s3_backoff_ms(0, 0, 12345) < S3_BACKOFF_BASE_MS);
    /* Full jitter: a zero random value gives no delay at all. */
    CHECK_INT_EQ(s3_backoff_ms(5, 0, 0), 0);
}

static void test_s3_backoff_honours_retry_after(void)
{
    CHECK_INT_EQ(s3_backoff_ms(0, 3000, 0), 3000);
    CHECK(s3_backoff_ms(0, 3000, UINT32_MAX) >= 3000);
    /* A server asking for an hour is capped, so a job does not hang on one answer. */
    CHECK_INT_EQ(s3_backoff_ms(0, 3600 * 1000L, 0), S3_RETRY_AFTER_CAP_MS);
}

static void test_s3_retryable_classes(void)
{
    CHECK(s3_is_retryable(HTTP_NET_BROKEN, 0, NULL));
    CHECK(s3_is_retryable(HTTP_NET_CONNECT, 0, NULL));
    CHECK(s3_is_retryable(HTTP_NET_TIMEOUT, 0, NULL));
    CHECK(!s3_is_retryable(HTTP_NET_TLS, 0, NULL));
    CHECK(s3_is_retryable(HTTP_NET_OK, 500, "InternalError"));
    CHECK(s3_is_retryable(HTTP_NET_OK, 503, "SlowDown"));
    CHECK(s3_is_retryable(HTTP_NET_OK, 502, ""));
    CHECK(s3_is_retryable(HTTP_NET_OK, 429, ""));
    CHECK(s3_is_retryable(HTTP_NET_OK, 400, "RequestTimeout"));
    CHECK(!s3_is_retryable(HTTP_NET_OK, 403, "SignatureDoesNotMatch"));
    CHECK(!s3_is_retryable(HTTP_NET_OK, 403, "RequestTimeTooSkewed"));
    CHECK(!s3_is_retryable(HTTP_NET_OK, 403, "AccessDenied"));
    CHECK(!s3_is_retryable(HTTP_NET_OK, 404, "NoSuchBucket"));
    CHECK(!s3_is_retryable(HTTP_NET_OK, 400, "BadDigest"));
}

static void test_s3_http_date(void)
{
    time_t t = 0;

    CHECK(s3_parse_http_date("Sun, 29 Nov 2026 08:13:40 GMT", &t));
    CHECK_INT_EQ(t, 1795940020);
    CHECK(!s3_parse_http_date("29 Nov 2026", &t));
    CHECK(!s3_parse_http_date("Sun, 29 Nov 2026 08:13:40 GMT trailing", &t));
}

static void test_s3_encode_keys(void)
{
    struct buf b;

    buf_init(&b, BUF_NO_CAP);
    s3_encode(&b, "db/2026 x+y%~_.-/\xc3\xa9", true);
    CHECK_STR_EQ(b.data, "db/2026%20x%2By%25~_.-/%C3%A9");
    buf_reset(&b);
    s3_encode(&b, "a/b=c&d", false);
    CHECK_STR_EQ(b.data, "a%2Fb%3Dc%26d");
    buf_release(&b);
}

static void test_s3_client_checks_options(void)
{
    struct s3_client_options o;
    struct s3_client *c = NULL;
    struct error err = ERROR_INIT;
    struct secret ak = SECRET_INIT;
    struct secret sk = SECRET_INIT;

    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    memset(&o, 0, sizeof(o));
    o.name = "spaces";
    o.endpoint = "https://nyc3.digitaloceanspaces.com";
    o.path_style = -1;
    CHECK_ERR(s3_client_new(&o, &c, &err), err, ERR_CONFIG, "no bucket");
    o.bucket = "example-backups";
    CHECK_ERR(s3_client_new(&o, &c, &err), err, ERR_CONFIG, "no credentials");
    secret_set(&ak, "AKID", 4);
    secret_set(&sk, "SECRET", 6);
    o.access_key = &ak;
    o.secret_key = &sk;
    o.endpoint = "ftp://example.com";
    CHECK_ERR(s3_client_new(&o, &c, &err), err, ERR_CONFIG, "must start with https://");
    o.endpoint = "https://example.com/bucket";
    CHECK_ERR(s3_client_new(&o, &c, &err), err, ERR_CONFIG, "no path");
    o.endpoint = "https://nyc3.digitaloceanspaces.com/";
    CHECK_OK(s3_client_new(&o, &c, unit_err()));
    CHECK_STR_EQ(s3_client_location(c), "https://nyc3.digitaloceanspaces.com/example-backups");
    s3_client_free(c);

    /* No endpoint: AWS, virtual-hosted, keys from the standard environment variables. */
    o.endpoint = NULL;
    o.region = "eu-west-1";
    o.access_key = NULL;
    o.secret_key = NULL;
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRETENV", 1);
    CHECK_OK(s3_client_new(&o, &c, unit_err()));
    CHECK_STR_EQ(s3_client_location(c), "s3://example-backups (s3.eu-west-1.amazonaws.com)");
    s3_client_free(c);
    secret_release(&ak);
    secret_release(&sk);
}

/* The digests SigV4 and Content-MD5 rest on, against published vectors: RFC 4648 section 10
 * (base64), RFC 1321 appendix A.5 (MD5), RFC 4231 test case 2 (HMAC-SHA-256). */
static void test_digest_vectors(void)
{
    static const char *const b64_in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const b64_out[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                          "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    unsigned char md5[DIGEST_MD5_LEN];
    unsigned char mac[DIGEST_SHA256_LEN];
    char hex[2 * DIGEST_SHA256_LEN + 1];
    char b64[16];

    for (size_t i = 0; i < sizeof(b64_in) / sizeof(b64_in[0]); i++) {
        digest_base64((const unsigned char *)b64_in[i], strlen(b64_in[i]), b64);
        CHECK_STR_EQ(b64, b64_out[i]);
    }
    digest_md5("", 0, md5);
    digest_hex(md5, sizeof(md5), hex);
    CHECK_STR_EQ(hex, "d41d8cd98f00b204e9800998ecf8427e");
    digest_md5("message digest", 14, md5);
    digest_hex(md5, sizeof(md5), hex);
    CHECK_STR_EQ(hex, "f96b697d7cb7938d525a2f31aaf161d0");
    digest_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    digest_hex(mac, sizeof(mac), hex);
    CHECK_STR_EQ(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

const struct unit_test s3_client_tests[] = {
    {"test_digest_vectors", test_digest_vectors},
    {"test_s3_backoff_grows_and_is_capped", test_s3_backoff_grows_and_is_capped},
    {"test_s3_backoff_honours_retry_after", test_s3_backoff_honours_retry_after},
    {"test_s3_retryable_classes", test_s3_retryable_classes},
    {"test_s3_http_date", test_s3_http_date},
    {"test_s3_encode_keys", test_s3_encode_keys},
    {"test_s3_client_checks_options", test_s3_client_checks_options},
    {NULL, NULL},
};
