/* The SHA-256 pass-through filter, over io/digest.h. */
#include <stdbool.h>

#include "io/digest.h"
#include "io/filter.h"
#include "util/xalloc.h"

#define SHA256_FILTER_DIGEST_LEN 32

struct sha256_filter {
    struct filter base; /* first, so a struct filter * converts back */
    struct digest_sha256 *ctx;
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
    digest_sha256_update(h->ctx, in, len);
    if (!buf_add(out, in, len))
        return error_set(err, ERR_IO, "sha256: output exceeds the buffer cap of %zu bytes",
                         out->max_len);
    return 0;
}

static int sha256_filter_finish(struct filter *f, struct buf *out, struct error *err)
{
    struct sha256_filter *h = sha256_filter_of(f);

    (void)out;
    (void)err;
    ASSERT(!h->is_finished);
    digest_sha256_final(h->ctx, h->digest);
    h->is_finished = true;
    return 0;
}

static void sha256_filter_free(struct filter *f)
{
    struct sha256_filter *h = sha256_filter_of(f);

    digest_sha256_free(h->ctx);
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

    h->base.ops = &sha256_filter_ops;
    h->ctx = digest_sha256_new();
    return &h->base;
}

void sha256_filter_hex(const struct filter *f, char out[65])
{
    const struct sha256_filter *h;

    ASSERT(f->ops == &sha256_filter_ops);
    h = (const struct sha256_filter *)f;
    ASSERT(h->is_finished);
    digest_hex(h->digest, SHA256_FILTER_DIGEST_LEN, out);
}

const char *sha256_filter_version(void)
{
    return digest_version();
}
