/* Stream filters (pgBackRest's filter idea): each stage takes bytes in and appends bytes out, so
 * the pipeline source -> zstd -> [age] -> sha256 -> store is a list of filters, and adding a stage
 * is adding a file. A filter may buffer internally; finish() flushes what is left and ends the
 * stream. */
#ifndef PERMAFROST_IO_FILTER_H
#define PERMAFROST_IO_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

struct filter;

struct filter_ops {
    const char *name;
    /* Consumes all of in[0..len) and appends any output to out. */
    int (*process)(struct filter *f, const void *in, size_t len, struct buf *out,
                   struct error *err);
    /* Ends the stream: appends the remaining output to out. Called once. */
    int (*finish)(struct filter *f, struct buf *out, struct error *err);
    void (*free)(struct filter *f);
};

struct filter {
    const struct filter_ops *ops;
    uint64_t bytes_in; /* maintained by filter_process/filter_finish */
    uint64_t bytes_out;
};

int filter_process(struct filter *f, const void *in, size_t len, struct buf *out,
                   struct error *err);
int filter_finish(struct filter *f, struct buf *out, struct error *err);
/* NULL-safe. */
void filter_free(struct filter *f);

/* zstd compression: level 1..19, threads 0 = all online cores; frame checksum on. Free with
 * filter_free. */
struct filter *zstd_compress_new(int level, int threads);
/* zstd decompression, window capped at 2^27 (128 MiB, what `zstd` itself accepts without --long);
 * fails with ERR_INTEGRITY on corrupt input, a bad frame checksum, or input that ends mid-frame. */
struct filter *zstd_decompress_new(void);

/* SHA-256 over the bytes passing through; output equals input. */
struct filter *sha256_filter_new(void);
/* After finish: the digest as 64 lowercase hex characters plus NUL. */
void sha256_filter_hex(const struct filter *f, char out[65]);

/* Library versions for `permafrost version` (static strings). */
const char *zstd_filter_version(void);
const char *sha256_filter_version(void);

#endif
