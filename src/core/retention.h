/* The retention planner (restic's `forget` semantics), pure: no I/O, no clock. Given the complete
 * snapshots of one job on one store and a keep policy, decides which to keep and why. */
#ifndef PERMAFROST_CORE_RETENTION_H
#define PERMAFROST_CORE_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config/config.h"
#include "util/error.h"

struct retention_item {
    const char *id; /* snapshot id, borrowed */
    time_t time;    /* snapshot time (UTC seconds) */
};

#define RETENTION_REASON_LEN 96

struct retention_decision {
    bool keep;
    char reason[RETENTION_REASON_LEN]; /* e.g. "last 1, daily 2026-11-24, weekly 2026-W48"; "" if
                                          removed */
};

/* Plans retention for `count` items (any order). decisions[i] is written for items[i].
 * Semantics (restic forget): items are considered newest first; `last N` keeps the N newest; for
 * each bucket kind (hourly, daily, weekly = ISO week, monthly, yearly) the newest item of each of
 * the N newest distinct buckets is kept, buckets computed in local time of `timezone` (IANA name,
 * NULL or "" = the machine's). An item may be kept for several reasons. The newest item is always
 * kept, whatever the policy. An all-zero policy keeps everything. Returns 0, or -1 with ERR_CONFIG
 * on an unknown timezone. */
int retention_plan(const struct retention_item *items, size_t count, const struct keep_policy *keep,
                   const char *timezone, struct retention_decision *decisions, struct error *err);

#endif
