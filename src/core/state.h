/* Where local state (the catalog, locks) lives. One precedence everywhere: --state-dir flag >
 * $PERMAFROST_STATE_DIR > [global] state_dir > $XDG_STATE_HOME/permafrost >
 * ~/.local/state/permafrost. */
#ifndef PERMAFROST_CORE_STATE_H
#define PERMAFROST_CORE_STATE_H

#include "config/config.h"
#include "util/error.h"

/* Resolves and creates (0700) the state directory. *out: xfree. cfg may be NULL. */
int state_dir_resolve(const char *flag_dir, const struct config *cfg, char **out,
                      struct error *err);

#endif
