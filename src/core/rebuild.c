#include "core/rebuild.h"

#include <string.h>

#include "core/catalog.h"
#include "core/manifest.h"
#include "core/targets.h"
#include "util/log.h"
#include "util/xalloc.h"

struct rebuild_row {
    char *store;
    struct manifest m;
};

struct rebuild_ctx {
    struct store *store;
    struct rebuild_report *rep;
    struct rebuild_row *rows;
    size_t count;
    size_t alloc;
};

static int rebuild_one(const struct snapshot_dir *d, void *arg, struct error *err)
{
    struct rebuild_ctx *rc = arg;
    struct manifest m;
    struct error merr = ERROR_INIT;

    (void)err;
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
        manifest_release(&m);
        return 0;
    }
    XGROW(rc->rows, rc->count + 1, rc->alloc);
    rc->rows[rc->count].store = xstrdup(store_name(rc->store));
    rc->rows[rc->count].m = m;
    rc->count++;
    return 0;
}

int rebuild_catalog(const struct config *cfg, const char *state_dir, struct rebuild_report *rep,
                    struct error *err)
{
    struct catalog *catalog = NULL;
    struct rebuild_ctx ctx;
    int rc = -1;

    memset(rep, 0, sizeof(*rep));
    memset(&ctx, 0, sizeof(ctx));
    ctx.rep = rep;
    /* Read every store first, then write in one short transaction: a slow store never holds the
     * catalog's write lock (runs keep recording), and a store that fails leaves the catalog as it
     * was. */
    for (size_t i = 0; i < cfg->store_count; i++) {
        struct store *s = NULL;

        if (targets_open(cfg, cfg->stores[i].name, &s, err) < 0)
            goto out;
        ctx.store = s;
        if (targets_scan(s, NULL, rebuild_one, &ctx, err) < 0) {
            error_wrap(err, "store '%s'", cfg->stores[i].name);
            store_free(s);
            goto out;
        }
        store_free(s);
    }
    if (catalog_open(state_dir, &catalog, err) < 0)
        goto out;
    if (catalog_begin(catalog, err) < 0)
        goto out;
    if (catalog_clear_snapshots(catalog, err) < 0)
        goto out;
    for (size_t i = 0; i < ctx.count; i++) {
        if (catalog_add_snapshot(catalog, ctx.rows[i].store, &ctx.rows[i].m, err) < 0)
            goto out;
        rep->snapshots++;
    }
    if (catalog_commit(catalog, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0 && catalog) {
        struct error ignored = ERROR_INIT;
        catalog_rollback(catalog, &ignored);
        rep->snapshots = 0;
    }
    for (size_t i = 0; i < ctx.count; i++) {
        xfree(ctx.rows[i].store);
        manifest_release(&ctx.rows[i].m);
    }
    xfree(ctx.rows);
    catalog_close(catalog);
    return rc;
}
