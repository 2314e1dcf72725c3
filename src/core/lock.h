/* One lock per job (flock on <state>/locks/<job>.lock), held for a whole run, prune or restore of
 * that job, so two runs of a job never overlap. The file names the holder, so the refusal can say
 * who. */
#ifndef PERMAFROST_CORE_LOCK_H
#define PERMAFROST_CORE_LOCK_H

#include "util/error.h"

struct job_lock;

/* Takes the lock without waiting. When another process holds it: ERR_LOCKED naming the holder ("pid
 * 1234 on host db1, running 'run' since 2026-11-24T03:15:00Z"). *out: release with lock_release. */
int lock_acquire(const char *state_dir, const char *job, const char *what, struct job_lock **out,
                 struct error *err);
/* Releases and frees; NULL-safe. */
void lock_release(struct job_lock *l);

#endif
