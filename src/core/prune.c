#include "core/prune.h"

#include <string.h>

#include "core/lock.h"
#include "core/snapshot_id.h"
#include "core/targets.h"
#include "util/log.h"
#include "util/xalloc.h"

struct prune_scan {
    struct prune_entry *dirs;
    size_t count;
    size_t alloc;
    const char *store;
};

static int prune_collect(const struct snapshot_dir *d, void *ctx, struct error *err)
{
    struct prune_scan *ps = ctx;
    struct prune_entry *e;

    (void)err;
    XGROW(ps->dirs, ps->count + 1, ps->alloc);
    e = &ps->dirs[ps->count++];
    memset(e, 0, sizeof(*e));
    e->job = xstrdup(d->job);
    e->store = xstrdup(ps->store);
    e->id = xstrdup(d->id);
    e->is_incomplete = !d->has_manifest;
    e->bytes = d->bytes;
    return 0;
}

static void prune_report_take(struct prune_report *rep, struct prune_entry *e)
{
    XGROW(rep->entries, rep->count + 1, rep->alloc);
    rep->entries[rep->count++] = *e;
    memset(e, 0, sizeof(*e));
}

static void prune_entry_release(struct prune_entry *e)
{
    xfree(e->job);
    xfree(e->store);
    xfree(e->id);
    memset(e, 0, sizeof(*e));
}

/* Removes one snapshot directory: the manifest first (the commit point), then everything else. */
static int prune_remove(struct store *s, const struct prune_entry *e, struct catalog *catalog,
                        struct error *err)
{
    char *manifest_key = xasprintf("%s/%s/manifest.json", e->job, e->id);
    char *prefix = xasprintf("%s/%s/", e->job, e->id);
    int rc = -1;

    if (!e->is_incomplete && store_remove(s, manifest_key, err) < 0)
        goto out;
    if (store_remove_prefix(s, prefix, err) < 0)
        goto out;
    if (catalog && catalog_remove_snapshot(catalog, e->job, e->id, e->store, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        error_wrap(err, "store '%s': remove snapshot '%s/%s'", store_name(s), e->job, e->id);
    xfree(manifest_key);
    xfree(prefix);
    return rc;
}

int prune_job_store(struct store *s, const struct cfg_job *job, const char *timezone, bool dry_run,
                    struct catalog *catalog, struct prune_report *rep, struct error *err)
{
    struct prune_scan ps;
    struct retention_item *items = NULL;
    struct retention_decision *decisions = NULL;
    size_t *index = NULL;
    size_t complete = 0;
    int rc = -1;

    memset(&ps, 0, sizeof(ps));
    ps.store = store_name(s);
    if (targets_scan(s, job->name, prune_collect, &ps, err) < 0)
        goto out;
    items = xcalloc(ps.count + 1, sizeof(*items));
    decisions = xcalloc(ps.count + 1, sizeof(*decisions));
    index = xcalloc(ps.count + 1, sizeof(*index));
    for (size_t i = 0; i < ps.count; i++) {
        time_t t = 0;
        if (ps.dirs[i].is_incomplete)
            continue;
        snapshot_id_parse(ps.dirs[i].id, &t);
        items[complete].id = ps.dirs[i].id;
        items[complete].time = t;
        index[complete] = i;
        complete++;
    }
    if (complete > 0 && retention_plan(items, complete, config_job_keep_for(job, ps.store),
                                       timezone, decisions, err) < 0)
        goto out;
    for (size_t k = 0; k < complete; k++) {
        struct prune_entry *e = &ps.dirs[index[k]];
        e->is_kept = decisions[k].keep;
        memcpy(e->reason, decisions[k].reason, sizeof(e->reason));
    }
    for (size_t i = 0; i < ps.count; i++) {
        struct prune_entry *e = &ps.dirs[i];
        if (!e->is_kept) {
            if (!dry_run) {
                if (prune_remove(s, e, catalog, err) < 0)
                    goto out;
                log_info("job '%s': store '%s': removed %s snapshot '%s'", e->job, e->store,
                         e->is_incomplete ? "unfinished" : "expired", e->id);
            }
            rep->removed++;
            rep->removed_bytes += e->bytes;
        }
        prune_report_take(rep, e);
    }
    rc = 0;
out:
    for (size_t i = 0; i < ps.count; i++)
        prune_entry_release(&ps.dirs[i]);
    xfree(ps.dirs);
    xfree(items);
    xfree(decisions);
    xfree(index);
    return rc;
}

int prune_run(const struct prune_request *req, struct prune_report *rep, struct error *err)
{
    const struct config *cfg = req->cfg;
    struct catalog *catalog = NULL;
    int rc = -1;

    for (size_t i = 0; i < req->job_count; i++) {
        if (!config_find_job(cfg, req->jobs[i])) {
            error_set(err, ERR_USAGE, "unknown job '%s'", req->jobs[i]);
            goto out;
        }
    }
    if (catalog_open(req->state_dir, &catalog, err) < 0)
        goto out;
    for (size_t j = 0; j < cfg->job_count; j++) {
        const struct cfg_job *job = &cfg->jobs[j];
        struct job_lock *lock = NULL;
        bool wanted = req->job_count == 0;

        for (size_t i = 0; i < req->job_count; i++)
            if (strcmp(req->jobs[i], job->name) == 0)
                wanted = true;
        if (!wanted)
            continue;
        if (lock_acquire(req->state_dir, job->name, "prune", &lock, err) < 0)
            goto out;
        for (size_t t = 0; t < job->target_count; t++) {
            struct store *s = NULL;
            int r = targets_open(cfg, job->targets[t], &s, err);
            if (r == 0)
                r = prune_job_store(s, job, cfg->global.timezone, req->dry_run, catalog, rep, err);
            store_free(s);
            if (r < 0) {
                error_wrap(err, "job '%s'", job->name);
                lock_release(lock);
                goto out;
            }
        }
        lock_release(lock);
    }
    rc = 0;
out:
    catalog_close(catalog);
    return rc;
}

void prune_report_release(struct prune_report *rep)
{
    for (size_t i = 0; i < rep->count; i++)
        prune_entry_release(&rep->entries[i]);
    xfree(rep->entries);
    memset(rep, 0, sizeof(*rep));
}
