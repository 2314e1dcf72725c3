#include "io/filter.h"

int filter_process(struct filter *f, const void *in, size_t len, struct buf *out, struct error *err)
{
    size_t before = out->len;

    if (f->ops->process(f, in, len, out, err) < 0)
        return -1;
    f->bytes_in += len;
    f->bytes_out += out->len - before;
    return 0;
}

int filter_finish(struct filter *f, struct buf *out, struct error *err)
{
    size_t before = out->len;

    if (f->ops->finish(f, out, err) < 0)
        return -1;
    f->bytes_out += out->len - before;
    return 0;
}

void filter_free(struct filter *f)
{
    if (f)
        f->ops->free(f);
}
