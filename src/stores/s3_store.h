/* The native S3 store (SigV4 over libcurl): PutObject and streaming multipart upload, streaming
 * GetObject resumed with Range, ListObjectsV2, DeleteObjects, CopyObject/UploadPartCopy, retries
 * with backoff. Only store.c (and rclone_store.c, for rclone remotes of type s3) open it. */
#ifndef PERMAFROST_STORES_S3_STORE_H
#define PERMAFROST_STORES_S3_STORE_H

#include "stores/store.h"

/* Opens an s3 store from opts (endpoint, region, bucket, prefix, keys, ...). Checks the options
 * only; no request is sent until the first operation. *out: store_free. ERR_CONFIG when an option
 * is missing or malformed (no bucket, no credentials anywhere). */
int s3_store_open(const struct store_options *opts, struct store **out, struct error *err);

#endif
