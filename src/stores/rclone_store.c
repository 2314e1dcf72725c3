#include "stores/rclone_store.h"

/* TODO(#3): rclone remotes (in progress). */
int rclone_store_open(const struct store_options *opts, struct store **out, struct error *err)
{
    *out = NULL;
    return error_set(err, ERR_CONFIG, "store '%s': type rclone is not built yet", opts->name);
}
