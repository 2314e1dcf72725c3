/* libFuzzer target for sources/rdb.c. Each input is read as an RDB file twice, whole and in chunks
 * whose sizes come from the input's first byte, with a callback that builds and checks the DUMP
 * payload of every entry. Checked as well as memory safety: both chunkings reach the same verdict
 * and the same summary, and every payload passes rdb_payload_check. A small entry cap keeps huge
 * declared lengths cheap. Seeds: tests/fuzz/corpus/rdb/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sources/rdb.h"
#include "util/buf.h"
#include "util/error.h"

#define FUZZ_RDB_CAP (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
    struct buf payload;
    uint64_t entries;
    uint64_t functions;
    uint64_t key_bytes;
};

static int fuzz_entry(void *ctx, const struct rdb_entry *e, struct error *err)
{
    struct fuzz_ctx *f = ctx;
    int version = 0;

    buf_reset(&f->payload);
    rdb_entry_payload(e, 10, &f->payload);
    ASSERT(rdb_payload_check((const unsigned char *)f->payload.data, f->payload.len, &version,
                             err) == 0);
    ASSERT(version == 10);
    ASSERT(f->payload.len == e->value_len + 11);
    f->entries++;
    f->key_bytes += e->key_len;
    return 0;
}

static int fuzz_function(void *ctx, const unsigned char *body, size_t len, struct error *err)
{
    struct fuzz_ctx *f = ctx;

    (void)err;
    buf_reset(&f->payload);
    rdb_functions_payload(&body, &len, 1, 10, &f->payload);
    f->functions++;
    return 0;
}

/* Returns the result of finish (or of the failing feed); fills the summary on success. */
static int fuzz_read(const uint8_t *data, size_t size, size_t chunk, struct fuzz_ctx *f,
                     struct rdb_summary *sum)
{
    static const struct rdb_callbacks cb = {fuzz_entry, fuzz_function};
    struct error err = ERROR_INIT;
    struct rdb_reader *r = rdb_reader_new(&cb, f, FUZZ_RDB_CAP);
    int rc = 0;

    for (size_t off = 0; off < size && rc == 0; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        rc = rdb_reader_feed(r, data + off, n, &err);
    }
    if (rc == 0)
        rc = rdb_reader_finish(r, &err);
    if (rc == 0) {
        *sum = *rdb_reader_summary(r);
        sum->dbs = NULL;
    }
    rdb_reader_free(r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_ctx a;
    struct fuzz_ctx b;
    struct rdb_summary sa;
    struct rdb_summary sb;
    size_t chunk = size > 0 ? (size_t)(data[0] % 61) + 1 : 1;
    int ra;
    int rb;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&sa, 0, sizeof(sa));
    memset(&sb, 0, sizeof(sb));
    buf_init(&a.payload, BUF_NO_CAP);
    buf_init(&b.payload, BUF_NO_CAP);
    ra = fuzz_read(data, size, size ? size : 1, &a, &sa);
    rb = fuzz_read(data, size, chunk, &b, &sb);
    ASSERT(ra == rb);
    if (ra == 0) {
        ASSERT(sa.keys == sb.keys && sa.keys == a.entries && b.entries == a.entries);
        ASSERT(sa.bytes == size && sb.bytes == size);
        ASSERT(sa.functions == sb.functions && a.functions == sa.functions);
        ASSERT(a.key_bytes == b.key_bytes);
        ASSERT(sa.version == sb.version);
    }
    buf_release(&a.payload);
    buf_release(&b.payload);
    return 0;
}
