#include "io/pipeline.h"

#include <string.h>

void pipeline_init(struct pipeline *p, pipeline_sink_fn sink, void *sink_ctx)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->stage[0], BUF_NO_CAP);
    buf_init(&p->stage[1], BUF_NO_CAP);
    p->sink = sink;
    p->sink_ctx = sink_ctx;
}

void pipeline_take_filter(struct pipeline *p, struct filter *f)
{
    ASSERT(p->count < PIPELINE_MAX_FILTERS);
    p->filters[p->count++] = f;
}

/* Pushes data into filter `from` and everything after it; with finish, also finishes them. */
static int pipeline_push(struct pipeline *p, size_t from, const void *data, size_t len, bool finish,
                         struct error *err)
{
    const void *cur = data;
    size_t cur_len = len;
    int which = 0;

    for (size_t i = from; i < p->count; i++) {
        struct buf *out = &p->stage[which];

        buf_reset(out);
        if (cur_len && filter_process(p->filters[i], cur, cur_len, out, err) < 0)
            return error_wrap(err, "%s", p->filters[i]->ops->name);
        if (finish && filter_finish(p->filters[i], out, err) < 0)
            return error_wrap(err, "%s", p->filters[i]->ops->name);
        cur = out->data;
        cur_len = out->len;
        which ^= 1;
    }
    if (cur_len) {
        if (p->sink(p->sink_ctx, cur, cur_len, err) < 0)
            return -1;
        p->bytes_out += cur_len;
    }
    return 0;
}

int pipeline_write(struct pipeline *p, const void *data, size_t len, struct error *err)
{
    p->bytes_in += len;
    return pipeline_push(p, 0, data, len, false, err);
}

int pipeline_finish(struct pipeline *p, struct error *err)
{
    return pipeline_push(p, 0, NULL, 0, true, err);
}

void pipeline_release(struct pipeline *p)
{
    for (size_t i = 0; i < p->count; i++)
        filter_free(p->filters[i]);
    p->count = 0;
    buf_release(&p->stage[0]);
    buf_release(&p->stage[1]);
}
