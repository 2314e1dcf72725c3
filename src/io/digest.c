#include "io/digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util/error.h"
#include "util/xalloc.h"

struct digest_sha256 {
    EVP_MD_CTX *ctx;
};

/* libcrypto fails here only when it cannot provide the algorithm at all (a broken install or
 * provider configuration); nothing can be backed up safely then. */
static void digest_die(const char *what)
{
    (void)fprintf(stderr, "fatal: libcrypto: %s failed\n", what);
    abort();
}

struct digest_sha256 *digest_sha256_new(void)
{
    struct digest_sha256 *d = xcalloc(1, sizeof(*d));

    d->ctx = EVP_MD_CTX_new();
    if (!d->ctx)
        digest_die("EVP_MD_CTX_new");
    if (EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1)
        digest_die("sha256 init");
    return d;
}

void digest_sha256_update(struct digest_sha256 *d, const void *data, size_t len)
{
    if (len > 0 && EVP_DigestUpdate(d->ctx, data, len) != 1)
        digest_die("sha256 update");
}

void digest_sha256_final(struct digest_sha256 *d, unsigned char out[DIGEST_SHA256_LEN])
{
    unsigned int len = 0;

    if (EVP_DigestFinal_ex(d->ctx, out, &len) != 1 || len != DIGEST_SHA256_LEN)
        digest_die("sha256 final");
}

void digest_sha256_free(struct digest_sha256 *d)
{
    if (!d)
        return;
    EVP_MD_CTX_free(d->ctx);
    xfree(d);
}

struct digest_md5 {
    EVP_MD_CTX *ctx;
};

struct digest_md5 *digest_md5_new(void)
{
    struct digest_md5 *d = xcalloc(1, sizeof(*d));

    d->ctx = EVP_MD_CTX_new();
    if (!d->ctx)
        digest_die("EVP_MD_CTX_new");
    if (EVP_DigestInit_ex(d->ctx, EVP_md5(), NULL) != 1)
        digest_die("md5 init");
    return d;
}

void digest_md5_update(struct digest_md5 *d, const void *data, size_t len)
{
    if (len > 0 && EVP_DigestUpdate(d->ctx, data, len) != 1)
        digest_die("md5 update");
}

void digest_md5_final(struct digest_md5 *d, unsigned char out[DIGEST_MD5_LEN])
{
    unsigned int len = 0;

    if (EVP_DigestFinal_ex(d->ctx, out, &len) != 1 || len != DIGEST_MD5_LEN)
        digest_die("md5 final");
}

void digest_md5_free(struct digest_md5 *d)
{
    if (!d)
        return;
    EVP_MD_CTX_free(d->ctx);
    xfree(d);
}

void digest_sha256(const void *data, size_t len, unsigned char out[DIGEST_SHA256_LEN])
{
    unsigned int out_len = 0;

    if (EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) != 1 ||
        out_len != DIGEST_SHA256_LEN)
        digest_die("sha256");
}

void digest_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        unsigned char out[DIGEST_SHA256_LEN])
{
    unsigned int out_len = 0;

    ASSERT(key_len <= (size_t)INT32_MAX);
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len) ||
        out_len != DIGEST_SHA256_LEN)
        digest_die("hmac-sha256");
}

void digest_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len,
                        const void *info, size_t info_len, unsigned char *out, size_t out_len)
{
    static const unsigned char zeros[DIGEST_SHA256_LEN];
    unsigned char prk[DIGEST_SHA256_LEN];
    unsigned char t[DIGEST_SHA256_LEN];
    unsigned char *msg = xmalloc(DIGEST_SHA256_LEN + info_len + 1);
    size_t t_len = 0;

    ASSERT(out_len <= (size_t)255 * DIGEST_SHA256_LEN);
    if (salt_len == 0)
        digest_hmac_sha256(zeros, sizeof(zeros), ikm, ikm_len, prk);
    else
        digest_hmac_sha256(salt, salt_len, ikm, ikm_len, prk);
    for (size_t done = 0, i = 1; done < out_len; i++) {
        size_t n = out_len - done < DIGEST_SHA256_LEN ? out_len - done : DIGEST_SHA256_LEN;
        /* T(i) = HMAC(PRK, T(i-1) | info | i) */
        memcpy(msg, t, t_len);
        if (info_len)
            memcpy(msg + t_len, info, info_len);
        msg[t_len + info_len] = (unsigned char)i;
        digest_hmac_sha256(prk, sizeof(prk), msg, t_len + info_len + 1, t);
        t_len = DIGEST_SHA256_LEN;
        memcpy(out + done, t, n);
        done += n;
    }
    explicit_bzero(prk, sizeof(prk));
    explicit_bzero(t, sizeof(t));
    explicit_bzero(msg, DIGEST_SHA256_LEN + info_len + 1);
    xfree(msg);
}

void digest_md5(const void *data, size_t len, unsigned char out[DIGEST_MD5_LEN])
{
    unsigned int out_len = 0;

    if (EVP_Digest(data, len, out, &out_len, EVP_md5(), NULL) != 1 || out_len != DIGEST_MD5_LEN)
        digest_die("md5");
}

void digest_hex(const unsigned char *bytes, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

void digest_base64(const unsigned char *bytes, size_t len, char *out)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    size_t i = 0;

    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8 | bytes[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)bytes[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)bytes[i + 1] << 8;
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = b64[(v >> 6) & 63];
        else
            out[o++] = '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

const char *digest_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}
