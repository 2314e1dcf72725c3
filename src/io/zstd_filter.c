/* The zstd wrapper, the only file that includes <zstd.h> (STYLE.md section 7): one context per
 * stream, frame checksums on, every result through ZSTD_isError, the decoder's window capped. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <unistd.h>

#include <zstd.h>

#include "io/filter.h"
#include "util/xalloc.h"

/* 2^27 = 128 MiB: what the zstd command accepts without --long, so anything it writes by default
 * (and everything we write) decodes, while a hostile frame cannot make us allocate more. */
#define ZSTD_FILTER_WINDOW_LOG_MAX 27

/* Input per worker job. zstd's default is 4 windows (8 MiB at level 3), and its buffers scale with
 * jobs times workers: 1 GB at level 3 with 2 workers peaked at 71 MB RSS by default and 22 MB with
 * 2 MiB jobs, at the same speed and a ratio 0.005% lower; with 16 workers, 284 MB against 59 MB. */
#define ZSTD_FILTER_JOB_SIZE (2 * 1024 * 1024)

struct zstd_filter {
    struct filter base; /* first, so a struct filter * converts back */
    ZSTD_CCtx *cctx;    /* compressor, or NULL */
    ZSTD_DCtx *dctx;    /* decompressor, or NULL */
    /* Decompression: true while the bytes fed so far end inside a frame. */
    bool is_in_frame;
    /* Decompression: true once a whole frame was decoded (zero bytes are not a zstd stream). */
    bool saw_frame;
    /* A failed zstd call leaves the context in an unspecified state: later calls fail rather than
     * emit bytes that may be wrong. */
    bool has_failed;
};

static struct zstd_filter *zstd_filter_of(struct filter *f)
{
    return (struct zstd_filter *)f;
}

static int zstd_filter_fail(struct zstd_filter *z, size_t code, struct error *err)
{
    z->has_failed = true;
    return error_set(err, ERR_INTEGRITY, "zstd: %s", ZSTD_getErrorName(code));
}

static int zstd_filter_check_usable(const struct zstd_filter *z, struct error *err)
{
    if (z->has_failed)
        return error_set(err, ERR_INTEGRITY, "zstd: stream already failed");
    return 0;
}

/* Points o at free space at the end of out (at most `want` bytes, fewer near the cap). Fails when
 * out is at its cap, so a capped buffer bounds what a small, hostile input can expand to. */
static int zstd_filter_out_space(struct zstd_filter *z, struct buf *out, size_t want,
                                 ZSTD_outBuffer *o, struct error *err)
{
    size_t room = out->max_len - out->len;

    if (want > room)
        want = room;
    if (want == 0 || !buf_reserve(out, want)) {
        z->has_failed = true;
        return error_set(err, ERR_IO, "zstd: output exceeds the buffer cap of %zu bytes",
                         out->max_len);
    }
    /* buf_reserve may have allocated more than asked; zstd may use all of it but the NUL's byte. */
    o->dst = out->data + out->len;
    o->size = out->alloc - out->len - 1;
    if (o->size > room)
        o->size = room;
    o->pos = 0;
    return 0;
}

static void zstd_filter_out_commit(struct buf *out, const ZSTD_outBuffer *o)
{
    out->len += o->pos;
    out->data[out->len] = '\0';
}

/* ---- compression ---- */

static int zstd_compress_run(struct zstd_filter *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode,
                             struct buf *out, struct error *err)
{
    for (;;) {
        ZSTD_outBuffer o;
        size_t remaining;

        if (zstd_filter_out_space(z, out, ZSTD_CStreamOutSize(), &o, err) < 0)
            return -1;
        remaining = ZSTD_compressStream2(z->cctx, &o, in, mode);
        zstd_filter_out_commit(out, &o);
        if (ZSTD_isError(remaining))
            return zstd_filter_fail(z, remaining, err);
        if (mode == ZSTD_e_end) {
            /* Done only when the frame epilogue (checksum included) is fully written. */
            if (remaining == 0)
                return 0;
        } else if (in->pos == in->size) {
            /* All input is inside the context; with workers, output may still be pending, which
             * later calls (or finish) collect. */
            return 0;
        }
    }
}

static int zstd_compress_process(struct filter *f, const void *in, size_t len, struct buf *out,
                                 struct error *err)
{
    struct zstd_filter *z = zstd_filter_of(f);
    ZSTD_inBuffer ib = {in, len, 0};

    if (zstd_filter_check_usable(z, err) < 0)
        return -1;
    if (len == 0)
        return 0;
    return zstd_compress_run(z, &ib, ZSTD_e_continue, out, err);
}

static int zstd_compress_finish(struct filter *f, struct buf *out, struct error *err)
{
    struct zstd_filter *z = zstd_filter_of(f);
    ZSTD_inBuffer ib = {NULL, 0, 0};

    if (zstd_filter_check_usable(z, err) < 0)
        return -1;
    return zstd_compress_run(z, &ib, ZSTD_e_end, out, err);
}

static void zstd_filter_free(struct filter *f)
{
    struct zstd_filter *z = zstd_filter_of(f);

    ZSTD_freeCCtx(z->cctx);
    ZSTD_freeDCtx(z->dctx);
    xfree(z);
}

static const struct filter_ops zstd_compress_ops = {
    .name = "zstd-compress",
    .process = zstd_compress_process,
    .finish = zstd_compress_finish,
    .free = zstd_filter_free,
};

static int zstd_filter_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    if (n > 256)
        return 256;
    return (int)n;
}

struct filter *zstd_compress_new(int level, int threads)
{
    struct zstd_filter *z = xcalloc(1, sizeof(*z));
    size_t r;

    ASSERT(level >= 1 && level <= 19);
    ASSERT(threads >= 0);
    z->base.ops = &zstd_compress_ops;
    z->cctx = ZSTD_createCCtx();
    if (!z->cctx) {
        /* zstd allocates with malloc; treat failure like xalloc does. */
        (void)fprintf(stderr, "fatal: out of memory creating a zstd compression context\n");
        abort();
    }
    r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
    ASSERT(!ZSTD_isError(r));
    r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1);
    ASSERT(!ZSTD_isError(r));
    if (threads == 0)
        threads = zstd_filter_online_cpus();
    /* A libzstd built without multithreading refuses nbWorkers >= 1: compress in this thread. */
    r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_nbWorkers, threads);
    if (ZSTD_isError(r)) {
        r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_nbWorkers, 0);
        ASSERT(!ZSTD_isError(r));
    } else {
        r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_jobSize, ZSTD_FILTER_JOB_SIZE);
        ASSERT(!ZSTD_isError(r));
    }
    return &z->base;
}

/* ---- decompression ---- */

/* Feeds in to the decoder until it is consumed and the decoder has flushed all it can. */
static int zstd_decompress_run(struct zstd_filter *z, ZSTD_inBuffer *in, struct buf *out,
                               struct error *err)
{
    for (;;) {
        ZSTD_outBuffer o;
        size_t in_before = in->pos;
        size_t hint;

        if (zstd_filter_out_space(z, out, ZSTD_DStreamOutSize(), &o, err) < 0)
            return -1;
        hint = ZSTD_decompressStream(z->dctx, &o, in);
        zstd_filter_out_commit(out, &o);
        if (ZSTD_isError(hint))
            return zstd_filter_fail(z, hint, err);
        if (hint == 0) {
            /* A frame ended here and is fully flushed (its checksum verified). */
            z->is_in_frame = false;
            z->saw_frame = true;
        } else if (in->pos > in_before) {
            /* Called with no new input right after a frame ended, the decoder reports the size of
             * the next frame's header: that is not a frame in progress, so only progress counts. */
            z->is_in_frame = true;
        }
        /* Output space left over means the decoder had nothing more to give for this input. */
        if (in->pos == in->size && o.pos < o.size)
            return 0;
    }
}

static int zstd_decompress_process(struct filter *f, const void *in, size_t len, struct buf *out,
                                   struct error *err)
{
    struct zstd_filter *z = zstd_filter_of(f);
    ZSTD_inBuffer ib = {in, len, 0};

    if (zstd_filter_check_usable(z, err) < 0)
        return -1;
    if (len == 0)
        return 0;
    return zstd_decompress_run(z, &ib, out, err);
}

static int zstd_decompress_finish(struct filter *f, struct buf *out, struct error *err)
{
    struct zstd_filter *z = zstd_filter_of(f);
    ZSTD_inBuffer ib = {NULL, 0, 0};

    if (zstd_filter_check_usable(z, err) < 0)
        return -1;
    if (zstd_decompress_run(z, &ib, out, err) < 0)
        return -1;
    /* Like the zstd command, an empty stream counts as truncated: a compressed artifact always
     * holds at least one frame, so zero bytes mean the data was lost. */
    if (z->is_in_frame || !z->saw_frame) {
        z->has_failed = true;
        return error_set(err, ERR_INTEGRITY, "zstd: truncated input");
    }
    return 0;
}

static const struct filter_ops zstd_decompress_ops = {
    .name = "zstd-decompress",
    .process = zstd_decompress_process,
    .finish = zstd_decompress_finish,
    .free = zstd_filter_free,
};

struct filter *zstd_decompress_new(void)
{
    struct zstd_filter *z = xcalloc(1, sizeof(*z));
    size_t r;

    z->base.ops = &zstd_decompress_ops;
    z->dctx = ZSTD_createDCtx();
    if (!z->dctx) {
        (void)fprintf(stderr, "fatal: out of memory creating a zstd decompression context\n");
        abort();
    }
    r = ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax, ZSTD_FILTER_WINDOW_LOG_MAX);
    ASSERT(!ZSTD_isError(r));
    return &z->base;
}

const char *zstd_filter_version(void)
{
    return ZSTD_versionString();
}
