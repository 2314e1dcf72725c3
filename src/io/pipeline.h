/* A chain of stream filters ending in a sink: bytes written in go through every filter in order and
 * the last filter's output goes to the sink (a store writer, a child's stdin, ...). */
#ifndef PERMAFROST_IO_PIPELINE_H
#define PERMAFROST_IO_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "io/filter.h"
#include "util/buf.h"
#include "util/error.h"

#define PIPELINE_MAX_FILTERS 8

typedef int (*pipeline_sink_fn)(void *ctx, const void *data, size_t len, struct error *err);

struct pipeline {
    struct filter *filters[PIPELINE_MAX_FILTERS]; /* owned */
    size_t count;
    struct buf stage[2];
    pipeline_sink_fn sink;
    void *sink_ctx;
    uint64_t bytes_in;
    uint64_t bytes_out;
};

void pipeline_init(struct pipeline *p, pipeline_sink_fn sink, void *sink_ctx);
/* Appends a filter; takes ownership. */
void pipeline_take_filter(struct pipeline *p, struct filter *f);
int pipeline_write(struct pipeline *p, const void *data, size_t len, struct error *err);
/* Finishes every filter in order and flushes the rest into the sink. */
int pipeline_finish(struct pipeline *p, struct error *err);
/* Frees the filters and buffers. */
void pipeline_release(struct pipeline *p);

#endif
