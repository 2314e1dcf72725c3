/* Shared by the restores of each kind (core only). */
#ifndef PERMAFROST_CORE_RESTORE_PRIV_H
#define PERMAFROST_CORE_RESTORE_PRIV_H

#include "core/manifest.h"
#include "core/restore.h"
#include "io/pipeline.h"
#include "stores/store.h"

/* Finds the snapshot (req->snapshot: an id, "latest" or NULL) on --from or on the first of the
 * job's targets that has it. *out_store: store_free. */
int restore_locate(const struct restore_request *req, struct store **out_store,
                   char id[SNAPSHOT_ID_LEN], struct error *err);
/* Streams the artifact from the store through SHA-256 and zstd into sink; checks the digest and
 * size against the manifest before returning 0 (so a sink must not act on the bytes for good
 * before that: hold back, or write to a file first). */
int restore_stream(const struct restore_request *req, struct store *s, const char *key,
                   const struct manifest_artifact *art, pipeline_sink_fn sink, void *sink_ctx,
                   struct error *err);

#endif
