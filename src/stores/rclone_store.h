/* type = rclone: a remote from rclone.conf. A remote whose section is type = s3 is served by the
 * native S3 client with that section's provider, endpoint, region and keys; any other remote type
 * (or an encrypted rclone.conf) goes through the rclone binary (rcat, cat, lsjson, deletefile,
 * purge) behind the same store interface. */
#ifndef PERMAFROST_STORES_RCLONE_STORE_H
#define PERMAFROST_STORES_RCLONE_STORE_H

#include "stores/store.h"

/* Opens the store for opts->remote ("NAME:path"). *out: store_free. ERR_CONFIG when the remote is
 * not in rclone.conf or its s3 section lacks what the native client needs. */
int rclone_store_open(const struct store_options *opts, struct store **out, struct error *err);

#endif
