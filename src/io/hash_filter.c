/* SHA-256 through OpenSSL's EVP interface: the only file that includes OpenSSL headers for now. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "io/filter.h"
#include "util/xalloc.h"

#define SHA256_FILTER_DIGEST_LEN 32

struct sha256_filter {
    struct filter base; /* first, so a struct filter * converts back */
    EVP_MD_CTX *ctx;
    unsigned char digest[SHA256_FILTER_DIGEST_LEN];
    bool is_finished;
};

static const struct filter_ops sha256_filter_ops;

static struct sha256_filter *sha256_filter_of(struct filter *f)
{
    ASSERT(f->ops == &sha256_filter_ops);
    return (struct sha256_filter *)f;
}

static int sha256_filter_process(struct filter *f, const void *in, size_t len, struct buf *out,
                                 struct error *err)
{
    struct sha256_filter *h = sha256_filter_of(f);

    ASSERT(!h->is_finished);
    if (len == 0)
        return 0;
    if (EVP_DigestUpdate(h->ctx, in, len) != 1)
        return error_set(err, ERR_FAILED, "sha256: digest update failed");
    if (!buf_add(out, in, len))
        return error_set(err, ERR_IO, "sha256: output exceeds the buffer cap of %zu bytes",
                         out->max_len);
    return 0;
}

static int sha256_filter_finish(struct filter *f, struct buf *out, struct error *err)
{
    struct sha256_filter *h = sha256_filter_of(f);
    unsigned int len = 0;

    (void)out;
    ASSERT(!h->is_finished);
    if (EVP_DigestFinal_ex(h->ctx, h->digest, &len) != 1)
        return error_set(err, ERR_FAILED, "sha256: digest final failed");
    ASSERT(len == SHA256_FILTER_DIGEST_LEN);
    h->is_finished = true;
    return 0;
}

static void sha256_filter_free(struct filter *f)
{
    struct sha256_filter *h = sha256_filter_of(f);

    EVP_MD_CTX_free(h->ctx);
    xfree(h);
}

static const struct filter_ops sha256_filter_ops = {
    .name = "sha256",
    .process = sha256_filter_process,
    .finish = sha256_filter_finish,
    .free = sha256_filter_free,
};

struct filter *sha256_filter_new(void)
{
    struct sha256_filter *h = xcalloc(1, sizeof(*h));
    int r;

    h->base.ops = &sha256_filter_ops;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx) {
        (void)fprintf(stderr, "fatal: out of memory creating a sha256 context\n");
        abort();
    }
    /* Fails only when libcrypto cannot provide SHA-256 at all (a broken install or provider
     * config); there is nothing to back up safely then. */
    r = EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
    ASSERT(r == 1);
    return &h->base;
}

void sha256_filter_hex(const struct filter *f, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    const struct sha256_filter *h;

    ASSERT(f->ops == &sha256_filter_ops);
    h = (const struct sha256_filter *)f;
    ASSERT(h->is_finished);
    for (size_t i = 0; i < SHA256_FILTER_DIGEST_LEN; i++) {
        out[2 * i] = hex[h->digest[i] >> 4];
        out[2 * i + 1] = hex[h->digest[i] & 0x0f];
    }
    out[64] = '\0';
}

const char *sha256_filter_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}
