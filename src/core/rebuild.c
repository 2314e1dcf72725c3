#include "core/rebuild.h"

#include <string.h>

#include "core/catalog.h"
#include "core/manifest.h"
#include "core/targets.h"
#include "util/log.h"

struct rebuild_ctx {
    struct catalog *catalog;
    struct store *store;
    struct rebuild_report *rep;
};

static int rebuild_one(const struct snapshot_dir *d, void *arg, struct error *err)
{
    struct rebuild_ctx *rc = arg;
    struct manifest m;
    struct error merr = ERROR_INIT;
    int r = 0;

    if (!d->has_manifest) {
        rc->rep->unfinished++;
        return 0;
    }
    memset(&m, 0, sizeof(m));
    if (targets_read_manifest(rc->store, d->job, d->id, &m, &merr) < 0) {
        log_warn("%s", merr.msg);
        rc->rep->bad++;
        return 0;
    }
    if (strcmp(m.job, d->job) != 0 || strcmp(m.snapshot_id, d->id) != 0) {
        log_warn("store '%s': manifest of '%s/%s' names snapshot '%s/%s'; ignored",
                 store_name(rc->store), d->job, d->id, m.job, m.snapshot_id);
        rc->rep->bad++;
    } else {
        r = catalog_add_snapshot(rc->catalog, store_name(rc->store), &m, err);
        if (r == 0)
            rc->rep->snapshots++;
    }
    manifest_release(&m);
    return r;
}

int rebuild_catalog(const struct config *cfg, const char *state_dir, struct rebuild_report *rep,
                    struct error *err)
{
    struct catalog *catalog = NULL;
    struct rebuild_ctx ctx;
    int rc = -1;

    memset(rep, 0, sizeof(*rep));
    if (catalog_open(state_dir, &catalog, err) < 0)
        return -1;
    if (catalog_begin(catalog, err) < 0)
        goto out;
    if (catalog_clear_snapshots(catalog, err) < 0)
        goto out;
    for (size_t i = 0; i < cfg->store_count; i++) {
        struct store *s = NULL;

        if (targets_open(cfg, cfg->stores[i].name, &s, err) < 0)
            goto out;
        ctx.catalog = catalog;
        ctx.store = s;
        ctx.rep = rep;
        if (targets_scan(s, NULL, rebuild_one, &ctx, err) < 0) {
            error_wrap(err, "store '%s'", cfg->stores[i].name);
            store_free(s);
            goto out;
        }
        store_free(s);
    }
    if (catalog_commit(catalog, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0) {
        struct error ignored = ERROR_INIT;
        catalog_rollback(catalog, &ignored);
    }
    catalog_close(catalog);
    return rc;
}
