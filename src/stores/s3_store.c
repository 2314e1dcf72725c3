#include "stores/s3_store.h"

/* TODO(#3): the native client (in progress). */
int s3_store_open(const struct store_options *opts, struct store **out, struct error *err)
{
    *out = NULL;
    return error_set(err, ERR_CONFIG, "store '%s': type s3 is not built yet", opts->name);
}
