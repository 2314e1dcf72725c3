#include "core/mirror_job.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/catalog.h"
#include "core/lock.h"
#include "core/targets.h"
#include "mirror/filter.h"
#include "util/log.h"
#include "util/xalloc.h"

const char *mirror_job_outcome_name(enum mirror_job_outcome o)
{
    switch (o) {
    case MIRROR_JOB_OK:
        return "ok";
    case MIRROR_JOB_FAILED:
        return "failed";
    case MIRROR_JOB_PARTIAL:
        return "partial";
    case MIRROR_JOB_CANCELLED:
        return "cancelled";
    case MIRROR_JOB_REFUSED:
        return "refused";
    }
    ASSERT(!"unknown mirror job outcome");
    return "";
}

static void mirror_job_add_pattern(char ***list, size_t *count, const char *pattern)
{
    *list = xreallocarray(*list, *count + 1, sizeof(**list));
    (*list)[(*count)++] = xstrdup(pattern);
}

/* "media" -> "media/", "" -> "". */
static char *mirror_job_dir_prefix(const char *prefix)
{
    return prefix && prefix[0] ? xasprintf("%s/", prefix) : xstrdup("");
}

static enum mirror_acl mirror_job_acl(const struct cfg_job *job, const struct cfg_store *src)
{
    switch (job->mirror.acl) {
    case CFG_MIRROR_ACL_COPY:
        return MIRROR_ACL_COPY;
    case CFG_MIRROR_ACL_PUBLIC_READ:
        return MIRROR_ACL_PUBLIC_READ;
    case CFG_MIRROR_ACL_PRIVATE:
        return MIRROR_ACL_PRIVATE;
    case CFG_MIRROR_ACL_UNSET:
        break;
    }
    /* Mastodon writes its uploads public-read and serves them from the bucket; a local directory
     * has no ACL to copy, so a mirror of it for Mastodon must be public-read to be usable. */
    if (job->mirror.preset == CFG_MIRROR_PRESET_MASTODON && strcmp(src->type, "local") == 0)
        return MIRROR_ACL_PUBLIC_READ;
    return MIRROR_ACL_DEFAULT;
}

/* Checks every pattern with the mirror's parser, so the error comes before any request. */
static int mirror_job_check_patterns(const struct mirror_job_setup *setup, struct error *err)
{
    struct mirror_filter f;
    int rc = -1;

    memset(&f, 0, sizeof(f));
    for (size_t i = 0; i < setup->include_count; i++)
        if (mirror_filter_add(&f, true, setup->include[i], err) < 0)
            goto out;
    for (size_t i = 0; i < setup->exclude_count; i++)
        if (mirror_filter_add(&f, false, setup->exclude[i], err) < 0)
            goto out;
    rc = 0;
out:
    mirror_filter_release(&f);
    return rc;
}

int mirror_job_setup_init(const struct mirror_job_request *req, struct mirror_job_setup *setup,
                          struct error *err)
{
    const struct cfg_job *job = req->job;
    const struct cfg_mirror *m = &job->mirror;
    const struct cfg_store *src = config_find_store(req->cfg, m->source.store);
    const struct cfg_store *dst = config_find_store(req->cfg, m->destination.store);
    struct mirror_options *o = &setup->opts;

    memset(setup, 0, sizeof(*setup));
    ASSERT(job->kind == JOB_KIND_MIRROR);
    /* config_parse checked both; a config built another way may not have been. */
    if (!src || !dst)
        return error_set(err, ERR_CONFIG, "job '%s': unknown store '%s'", job->name,
                         !src ? m->source.store : m->destination.store);
    targets_store_options(src, &setup->source);
    targets_store_options(dst, &setup->destination);
    setup->source_prefix = mirror_job_dir_prefix(m->source.prefix);
    setup->destination_prefix = mirror_job_dir_prefix(m->destination.prefix);
    for (size_t i = 0; i < m->include_count; i++)
        mirror_job_add_pattern(&setup->include, &setup->include_count, m->include[i]);
    for (size_t i = 0; i < m->exclude_count; i++)
        mirror_job_add_pattern(&setup->exclude, &setup->exclude_count, m->exclude[i]);
    if (m->preset == CFG_MIRROR_PRESET_MASTODON)
        mirror_job_add_pattern(&setup->exclude, &setup->exclude_count, CFG_MIRROR_MASTODON_EXCLUDE);
    /* A trash inside the mirrored tree is left out of both listings by the mirror itself. */
    if (m->trash)
        setup->trash_prefix = xasprintf("%s/", m->trash);

    o->job = job->name;
    o->source = &setup->source;
    o->source_prefix = setup->source_prefix;
    o->destination = &setup->destination;
    o->destination_prefix = setup->destination_prefix;
    o->include = (const char *const *)setup->include;
    o->include_count = setup->include_count;
    o->exclude = (const char *const *)setup->exclude;
    o->exclude_count = setup->exclude_count;
    o->trash_prefix = setup->trash_prefix;
    o->trash_days = m->trash ? (m->trash_days ? m->trash_days : CFG_MIRROR_TRASH_DAYS_DEF) : 0;
    o->concurrency = m->concurrency;
    o->max_requests_per_second = m->max_requests_per_second;
    o->max_delete_count = req->has_max_delete ? req->max_delete_count : m->max_delete_count;
    o->max_delete_percent = req->has_max_delete ? req->max_delete_percent : m->max_delete_percent;
    if (o->max_delete_count >= 0)
        o->max_delete_percent = 0;
    o->acl = mirror_job_acl(job, src);
    o->is_checksum = m->checksum || req->is_checksum;
    o->is_dry_run = req->is_dry_run;
    o->plan = req->plan;
    o->progress = req->progress;
    o->ctx = req->ctx;
    return 0;
}

void mirror_job_setup_release(struct mirror_job_setup *setup)
{
    xfree(setup->source_prefix);
    xfree(setup->destination_prefix);
    for (size_t i = 0; i < setup->include_count; i++)
        xfree(setup->include[i]);
    xfree(setup->include);
    for (size_t i = 0; i < setup->exclude_count; i++)
        xfree(setup->exclude[i]);
    xfree(setup->exclude);
    xfree(setup->trash_prefix);
    memset(setup, 0, sizeof(*setup));
}

static enum mirror_job_outcome mirror_job_outcome_of(int rc, const struct mirror_stats *st,
                                                     const struct error *err)
{
    if (rc == 0)
        return MIRROR_JOB_OK;
    if (err->kind == ERR_CANCELLED)
        return MIRROR_JOB_CANCELLED;
    if (st->is_deletion_refused && st->failed.objects == 0)
        return MIRROR_JOB_REFUSED;
    if (st->is_listing_complete && st->failed.objects > 0)
        return MIRROR_JOB_PARTIAL;
    return MIRROR_JOB_FAILED;
}

/* One warning per key the mirror skipped (the first MIRROR_FAILURES_KEPT), control characters
 * shown as \xNN so the log line stays one line. */
static void mirror_job_warn_skips(const char *job, const struct mirror_stats *st)
{
    for (size_t i = 0; i < st->skip_count; i++) {
        char shown[sizeof(st->skips[i].key) * 4];
        size_t w = 0;

        for (const unsigned char *p = (const unsigned char *)st->skips[i].key;
             *p && w + 5 < sizeof(shown); p++) {
            if (*p < 0x20 || *p == 0x7f)
                w += (size_t)snprintf(shown + w, sizeof(shown) - w, "\\x%02x", *p);
            else
                shown[w++] = (char)*p;
        }
        shown[w] = '\0';
        log_warn("job '%s': skipped '%s': %s", job, shown, st->skips[i].error);
    }
    if (st->skipped.objects > st->skip_count)
        log_warn("job '%s': ... and %llu more keys skipped", job,
                 (unsigned long long)(st->skipped.objects - st->skip_count));
}

int mirror_job_run(const struct mirror_job_request *req, struct mirror_job_result *res,
                   struct error *err)
{
    const struct cfg_job *job = req->job;
    struct mirror_job_setup setup;
    struct job_lock *lock = NULL;
    struct catalog *catalog = NULL;
    int64_t run_id = -1;
    bool has_run = false;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    res->outcome = MIRROR_JOB_FAILED;
    if (mirror_job_setup_init(req, &setup, err) < 0)
        goto out;
    /* The mirror's own parser is the authority on patterns; asking it now puts a bad one before
     * the lock and any request. */
    if (mirror_job_check_patterns(&setup, err) < 0) {
        error_wrap(err, "job '%s'", job->name);
        goto out;
    }
    /* A dry run changes nothing: it may overlap a real run, and is not a run of the job. */
    if (!req->is_dry_run) {
        struct error cerr = ERROR_INIT;
        if (lock_acquire(req->state_dir, job->name, "run", &lock, err) < 0)
            goto out;
        /* The catalog is a record, not a requirement: a problem with it never costs a mirror. */
        if (catalog_open(req->state_dir, &catalog, &cerr) < 0)
            log_warn("job '%s': %s; the run goes on without it", job->name, cerr.msg);
        else if (catalog_run_begin(catalog, job->name, NULL, time(NULL), &run_id, &cerr) < 0)
            log_warn("job '%s': %s", job->name, cerr.msg);
    }
    log_info("job '%s': mirror '%s%s%s' to '%s%s%s'%s", job->name, job->mirror.source.store,
             job->mirror.source.prefix[0] ? ":" : "", job->mirror.source.prefix,
             job->mirror.destination.store, job->mirror.destination.prefix[0] ? ":" : "",
             job->mirror.destination.prefix, req->is_dry_run ? " (dry run)" : "");
    has_run = true;
    res->has_started = true;
    rc = mirror_run(&setup.opts, &res->stats, err);
    mirror_job_warn_skips(job->name, &res->stats);
    if (rc < 0) {
        error_wrap(err, "job '%s'", job->name);
        goto out;
    }
    rc = 0;
out:
    if (has_run)
        res->outcome = mirror_job_outcome_of(rc, &res->stats, err);
    else if (err->kind == ERR_CANCELLED)
        res->outcome = MIRROR_JOB_CANCELLED;
    if (catalog && run_id >= 0) {
        struct error cerr = ERROR_INIT;
        /* The catalog knows ok, failed, partial and cancelled: a refusal left the copies done and
         * the deletions undone, which is partial. */
        const char *result =
            res->outcome == MIRROR_JOB_REFUSED ? "partial" : mirror_job_outcome_name(res->outcome);
        struct catalog_mirror_counts counts = {
            .copied_objects = res->stats.copied.objects + res->stats.updated.objects,
            .copied_bytes = res->stats.copied.bytes + res->stats.updated.bytes,
            .deleted_objects = res->stats.deleted.objects,
            .deleted_bytes = res->stats.deleted.bytes,
        };
        if (catalog_run_set_mirror_counts(catalog, run_id, &counts, &cerr) < 0)
            log_warn("%s", cerr.msg);
        error_clear(&cerr);
        if (catalog_run_end(catalog, run_id, time(NULL), result, rc == 0 ? NULL : err->msg,
                            res->stats.copied.bytes + res->stats.updated.bytes,
                            res->stats.destination.bytes, &cerr) < 0)
            log_warn("%s", cerr.msg);
    }
    catalog_close(catalog);
    lock_release(lock);
    mirror_job_setup_release(&setup);
    return rc;
}
