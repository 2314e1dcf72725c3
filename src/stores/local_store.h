/* The "local" store: keys are files under a root directory. Writes go to a temporary file beside
 * the target (".<name>.tmp-XXXXXX") that is fsynced and renamed into place at commit, then the
 * directory is fsynced; files are created 0600 and directories 0700. Only regular files are keys
 * (symlinks are not followed), and key segments that look like temporary files are refused. */
#ifndef PERMAFROST_STORES_LOCAL_STORE_H
#define PERMAFROST_STORES_LOCAL_STORE_H

#include "stores/store.h"
#include "util/error.h"

/* Opens the store rooted at opts->path, creating it (0700) when missing; a relative path is
 * resolved to an absolute one, which becomes the store's location. On success *out is owned by the
 * caller (store_free). Fails with ERR_CONFIG when no path is set, ERR_IO when it cannot be created
 * or is not a directory. */
int local_store_open(const struct store_options *opts, struct store **out, struct error *err);

#endif
