/* `catalog rebuild`: the catalog is only a cache of the stores' manifests, so it can be recreated
 * from them (after losing the machine, or after copying stores around). */
#ifndef PERMAFROST_CORE_REBUILD_H
#define PERMAFROST_CORE_REBUILD_H

#include <stddef.h>

#include "config/config.h"
#include "util/error.h"

struct rebuild_report {
    size_t snapshots;  /* (store, snapshot) pairs recorded */
    size_t unfinished; /* snapshot directories without a manifest (ignored) */
    size_t bad;        /* manifests that could not be read or parsed (ignored, logged) */
};

/* Forgets every snapshot row and re-reads the manifests of every store in cfg. A store that cannot
 * be read makes the rebuild fail (nothing is committed), so a flaky store does not empty the
 * catalog. */
int rebuild_catalog(const struct config *cfg, const char *state_dir, struct rebuild_report *rep,
                    struct error *err);

#endif
