#include "config/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <strings.h>

#include "config/ini.h"
#include "config/schema.h"
#include "util/fs.h"
#include "util/strv.h"
#include "util/xalloc.h"

#define CONFIG_MAX_FILE_LEN ((size_t)1024 * 1024)
#define CONFIG_KEEP_MAX     100000

/* State of one config_parse: the parsed file, the config being filled, and the line of each key of
 * each job, kept for the cross-checks against the stores once every section is read. */
struct config_builder {
    const char *path;
    const struct ini_doc *doc;
    struct config *cfg;
    int *job_lines; /* SCHEMA_MAX_OPTIONS per job: the line of schema_options[i], or 0 */
};

/* One [global], [store "x"] or [job "x"] header, for the duplicate check. */
struct config_header {
    enum schema_section section;
    const char *name; /* "" for [global] */
    int line;
};

static int config_fail(const struct config_builder *b, int line, struct error *err, const char *fmt,
                       ...) PRINTF(4, 5);

static int config_fail(const struct config_builder *b, int line, struct error *err, const char *fmt,
                       ...)
{
    char msg[sizeof(err->msg)];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return error_set(err, ERR_CONFIG, "%s:%d: %s", b->path, line, msg);
}

/* Writes "[name]" or "[name \"sub\"]" for messages; sub is made printable. */
static const char *config_section_label(const char *name, const char *sub, char *out, size_t cap)
{
    char shown[80];

    if (sub)
        (void)snprintf(out, cap, "[%s \"%s\"]", name, schema_printable(sub, shown, sizeof(shown)));
    else
        (void)snprintf(out, cap, "[%s]", name);
    return out;
}

static size_t config_option_index(const struct schema_option *opt)
{
    return (size_t)(opt - schema_options);
}

/* The line of job option name in job j (0 when the key is absent). */
static int config_job_line(const struct config_builder *b, size_t j, const char *name)
{
    const struct schema_option *opt = schema_find(SCHEMA_SECTION_JOB, NULL, name);

    ASSERT(opt);
    return b->job_lines[j * SCHEMA_MAX_OPTIONS + config_option_index(opt)];
}

/* ---- pass 1: section headers ---- */

static int config_check_header(const struct config_builder *b, const struct ini_section *sec,
                               enum schema_section *kind, struct error *err)
{
    static const char *const known[] = {"global", "store", "job", "notify"};
    char label[160];
    char shown[80];
    const char *near;

    config_section_label(sec->name, sec->subsection, label, sizeof(label));
    if (!schema_section_from_name(sec->name, kind)) {
        config_fail(b, sec->line, err, "unknown section %s (known: global, store, job, notify)",
                    label);
        near = schema_suggest(sec->name, known, sizeof(known) / sizeof(known[0]));
        if (near)
            error_hint(err, "did you mean '%s'?", near);
        return -1;
    }
    switch (*kind) {
    case SCHEMA_SECTION_GLOBAL:
        if (sec->subsection)
            return config_fail(b, sec->line, err, "section [global] takes no name, got %s", label);
        return 0;
    case SCHEMA_SECTION_STORE:
    case SCHEMA_SECTION_JOB:
    case SCHEMA_SECTION_NOTIFY:
        if (!sec->subsection)
            return config_fail(b, sec->line, err, "section [%s] needs a name, as in [%s \"NAME\"]",
                               sec->name, sec->name);
        if (!schema_name_is_valid(sec->subsection))
            return config_fail(
                b, sec->line, err,
                "invalid %s name '%s' (use 1 to %d letters, digits, '_', '.' or '-')", sec->name,
                schema_printable(sec->subsection, shown, sizeof(shown)), SCHEMA_NAME_MAX);
        return 0;
    }
    ASSERT(!"unknown schema section");
    return -1;
}

static int config_compare_headers(const void *a, const void *b)
{
    const struct config_header *x = a;
    const struct config_header *y = b;
    int c;

    if (x->section != y->section)
        return x->section < y->section ? -1 : 1;
    c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Checks every header and that none repeats (sorted, so O(n log n) for any number of sections).
 * Counts the stores and jobs. */
static int config_check_headers(const struct config_builder *b, size_t *store_count,
                                size_t *job_count, size_t *notify_count, struct error *err)
{
    const struct ini_doc *doc = b->doc;
    struct config_header *headers = xcalloc(doc->section_count, sizeof(*headers));
    const struct config_header *dup = NULL;
    int rc = -1;

    *store_count = 0;
    *job_count = 0;
    *notify_count = 0;
    for (size_t i = 0; i < doc->section_count; i++) {
        const struct ini_section *sec = &doc->sections[i];
        enum schema_section kind;
        if (config_check_header(b, sec, &kind, err) < 0)
            goto out;
        headers[i].section = kind;
        headers[i].name = sec->subsection ? sec->subsection : "";
        headers[i].line = sec->line;
        if (kind == SCHEMA_SECTION_STORE)
            (*store_count)++;
        if (kind == SCHEMA_SECTION_JOB)
            (*job_count)++;
        if (kind == SCHEMA_SECTION_NOTIFY)
            (*notify_count)++;
    }
    qsort(headers, doc->section_count, sizeof(*headers), config_compare_headers);
    /* Report the repeat that comes first in the file. */
    for (size_t i = 1; i < doc->section_count; i++)
        if (headers[i].section == headers[i - 1].section &&
            strcmp(headers[i].name, headers[i - 1].name) == 0 &&
            (!dup || headers[i].line < dup->line))
            dup = &headers[i];
    if (dup) {
        char label[160];
        config_section_label(schema_section_name(dup->section),
                             dup->section == SCHEMA_SECTION_GLOBAL ? NULL : dup->name, label,
                             sizeof(label));
        config_fail(b, dup->line, err, "duplicate section %s (first at line %d)", label,
                    (dup - 1)->line);
        goto out;
    }
    rc = 0;
out:
    xfree(headers);
    return rc;
}

/* ---- pass 2: keys ---- */

/* The keys valid in a section, for did-you-mean. */
static size_t config_known_keys(enum schema_section kind, const char *applies_to,
                                const char **names)
{
    size_t n = 0;

    /* A family (keep.STORE) is not suggested: its documented name is not a key. */
    for (size_t i = 0; i < schema_option_count; i++)
        if (schema_option_applies(&schema_options[i], kind, applies_to) &&
            !schema_options[i].key_prefix)
            names[n++] = schema_options[i].name;
    return n;
}

static int config_unknown_key(const struct config_builder *b, const struct ini_entry *e,
                              enum schema_section kind, const char *applies_to, const char *label,
                              struct error *err)
{
    const char *names[SCHEMA_MAX_OPTIONS];
    size_t n = config_known_keys(kind, applies_to, names);
    const struct schema_option *other = applies_to ? schema_find(kind, NULL, e->key) : NULL;
    const char *near;

    /* A key of another store type (path on s3, bucket on local) is named as such. */
    if (other) {
        const struct schema_option *disc = schema_discriminator(kind);
        const char *bar = strchr(other->applies_to, '|');
        config_fail(b, e->line, err, "key '%s' does not apply to %s '%s' in %s", e->key,
                    disc->choice_label, applies_to, label);
        if (bar) {
            char kinds[128];
            size_t o = 0;
            for (const char *c = other->applies_to; *c && o + 3 < sizeof(kinds); c++) {
                if (*c == '|') {
                    kinds[o++] = ',';
                    kinds[o++] = ' ';
                } else {
                    kinds[o++] = *c;
                }
            }
            kinds[o] = '\0';
            return error_hint(err, "'%s' is an option of these %ss: %s", e->key, disc->choice_label,
                              kinds);
        }
        return error_hint(err, "'%s' is an option of %s '%s'", e->key, disc->choice_label,
                          other->applies_to);
    }
    config_fail(b, e->line, err, "unknown key '%s' in %s", e->key, label);
    near = schema_suggest(e->key, names, n);
    if (near)
        error_hint(err, "did you mean '%s'?", near);
    return -1;
}

/* The canonical text of the section's discriminator (store type, job kind) as stored in obj. */
static void config_discriminator_text(const struct schema_option *disc, const void *obj,
                                      struct buf *out)
{
    buf_reset(out);
    ASSERT(disc->format(disc, obj, out));
}

static int config_set(const struct config_builder *b, const struct schema_option *opt, void *obj,
                      const struct ini_entry *e, struct error *err)
{
    if (opt->set(opt, obj, e->value, err) < 0)
        return error_wrap(err, "%s:%d: %s", b->path, e->line, opt->name);
    return 0;
}

/* The default of opt in a section whose discriminator is applies_to (may be NULL). */
static const char *config_default_for(const struct schema_option *opt, const char *applies_to)
{
    const char *eq = opt->default_for_kind ? strchr(opt->default_for_kind, '=') : NULL;

    if (eq && applies_to && strlen(applies_to) == (size_t)(eq - opt->default_for_kind) &&
        strncmp(opt->default_for_kind, applies_to, (size_t)(eq - opt->default_for_kind)) == 0)
        return eq + 1;
    return opt->default_value;
}

/* Reads the keys of one section into obj (a struct cfg_global, cfg_store or cfg_job), then applies
 * defaults and checks required keys. seen[i] ends up holding the line that set schema_options[i].
 */
static int config_read_section(const struct config_builder *b, const struct ini_section *sec,
                               enum schema_section kind, void *obj, int *seen, struct error *err)
{
    const struct schema_option *disc = schema_discriminator(kind);
    /* entries is NULL when no section has a key; NULL + 0 is undefined. */
    const struct ini_entry *entries = sec->entry_count ? b->doc->entries + sec->first_entry : NULL;
    const struct ini_entry *disc_entry = NULL;
    const char *applies_to = NULL;
    struct buf disc_text;
    char label[160];
    int rc = -1;

    buf_init(&disc_text, BUF_NO_CAP);
    config_section_label(sec->name, sec->subsection, label, sizeof(label));
    /* The type or kind decides which other keys are valid, so it is read first. */
    if (disc) {
        for (size_t i = 0; i < sec->entry_count && !disc_entry; i++)
            if (strcmp(entries[i].key, disc->name) == 0)
                disc_entry = &entries[i];
        if (!disc_entry) {
            /* A misspelt "kind" reads better as an unknown key than as a missing one. */
            for (size_t i = 0; i < sec->entry_count; i++)
                if (!schema_find(kind, NULL, entries[i].key)) {
                    config_unknown_key(b, &entries[i], kind, NULL, label, err);
                    goto out;
                }
            config_fail(b, sec->line, err, "missing required key '%s' in %s", disc->name, label);
            goto out;
        }
        if (config_set(b, disc, obj, disc_entry, err) < 0)
            goto out;
        seen[config_option_index(disc)] = disc_entry->line;
        config_discriminator_text(disc, obj, &disc_text);
        applies_to = disc_text.data;
    }
    for (size_t i = 0; i < sec->entry_count; i++) {
        const struct ini_entry *e = &entries[i];
        const struct schema_option *opt = schema_find(kind, applies_to, e->key);
        size_t idx;
        if (!opt) {
            config_unknown_key(b, e, kind, applies_to, label, err);
            goto out;
        }
        if (e == disc_entry)
            continue;
        if (opt->key_prefix) {
            /* Repeats of a family's key are found by the cross-checks, in O(n log n). */
            if (opt->set_item(opt, obj, e->key + strlen(opt->key_prefix), e->value, e->line, err) <
                0) {
                error_wrap(err, "%s:%d: %s", b->path, e->line, e->key);
                goto out;
            }
            continue;
        }
        idx = config_option_index(opt);
        if (seen[idx]) {
            config_fail(b, e->line, err, "duplicate key '%s' in %s (first at line %d)", e->key,
                        label, seen[idx]);
            goto out;
        }
        seen[idx] = e->line;
        if (config_set(b, opt, obj, e, err) < 0)
            goto out;
    }
    for (size_t i = 0; i < schema_option_count; i++) {
        const struct schema_option *opt = &schema_options[i];
        if (seen[i] || !schema_option_applies(opt, kind, applies_to))
            continue;
        if (schema_option_required(opt, applies_to)) {
            config_fail(b, sec->line, err, "missing required key '%s' in %s", opt->name, label);
            goto out;
        }
        /* Defaults are constants of the table; one that fails to parse is a bug. */
        if (opt->default_value)
            ASSERT(opt->set(opt, obj, config_default_for(opt, applies_to), err) == 0);
    }
    rc = 0;
out:
    buf_release(&disc_text);
    return rc;
}

/* Applies the defaults of a section that is absent from the file (only [global] can be). */
static void config_apply_defaults(enum schema_section kind, void *obj)
{
    struct error err = ERROR_INIT;

    for (size_t i = 0; i < schema_option_count; i++) {
        const struct schema_option *opt = &schema_options[i];
        if (opt->section == kind && opt->default_value)
            ASSERT(opt->set(opt, obj, opt->default_value, &err) == 0);
    }
}

static int config_read_sections(struct config_builder *b, struct error *err)
{
    struct config *cfg = b->cfg;
    bool has_global = false;

    ASSERT(schema_option_count <= SCHEMA_MAX_OPTIONS);
    for (size_t i = 0; i < b->doc->section_count; i++) {
        const struct ini_section *sec = &b->doc->sections[i];
        int seen[SCHEMA_MAX_OPTIONS] = {0};
        enum schema_section kind;
        void *obj = NULL;

        ASSERT(schema_section_from_name(sec->name, &kind));
        switch (kind) {
        case SCHEMA_SECTION_GLOBAL:
            has_global = true;
            cfg->global.line = sec->line;
            obj = &cfg->global;
            break;
        case SCHEMA_SECTION_STORE: {
            struct cfg_store *store = &cfg->stores[cfg->store_count++];
            store->name = xstrdup(sec->subsection);
            store->line = sec->line;
            obj = store;
            break;
        }
        case SCHEMA_SECTION_JOB: {
            struct cfg_job *job = &cfg->jobs[cfg->job_count++];
            job->name = xstrdup(sec->subsection);
            job->line = sec->line;
            obj = job;
            break;
        }
        case SCHEMA_SECTION_NOTIFY: {
            struct cfg_notify *n = &cfg->notifies[cfg->notify_count++];
            n->name = xstrdup(sec->subsection);
            n->line = sec->line;
            obj = n;
            break;
        }
        }
        if (config_read_section(b, sec, kind, obj, seen, err) < 0)
            return -1;
        if (kind == SCHEMA_SECTION_JOB)
            memcpy(b->job_lines + (cfg->job_count - 1) * SCHEMA_MAX_OPTIONS, seen, sizeof(seen));
    }
    if (!has_global)
        config_apply_defaults(SCHEMA_SECTION_GLOBAL, &cfg->global);
    return 0;
}

/* ---- pass 3: cross-references ---- */

static int config_compare_names(const void *a, const void *b)
{
    const char *const *x = a;
    const char *const *y = b;
    return strcmp(*x, *y);
}

/* what: the key that names the store ("targets", "source", "destination"). */
static int config_unknown_target(const struct config_builder *b, const struct cfg_job *job,
                                 int line, const char *target, const char *what, struct error *err)
{
    const struct config *cfg = b->cfg;
    const char **names = xcalloc(cfg->store_count, sizeof(*names));
    struct buf known;
    const char *near;
    char shown[80];
    size_t listed;

    /* A long list is cut after about two lines of names. */
    buf_init(&known, BUF_NO_CAP);
    for (listed = 0; listed < cfg->store_count && known.len < 160; listed++)
        buf_addf(&known, "%s%s", listed ? ", " : "", cfg->stores[listed].name);
    if (listed < cfg->store_count)
        buf_adds(&known, ", ...");
    schema_printable(target, shown, sizeof(shown));
    if (cfg->store_count)
        config_fail(b, line, err, "job '%s': unknown store '%s' in %s (known: %s)", job->name,
                    shown, what, known.data);
    else
        config_fail(b, line, err, "job '%s': unknown store '%s' in %s (no stores are defined)",
                    job->name, shown, what);
    buf_release(&known);
    for (size_t i = 0; i < cfg->store_count; i++)
        names[i] = cfg->stores[i].name;
    near = schema_suggest(target, names, cfg->store_count);
    if (near)
        error_hint(err, "did you mean '%s'?", near);
    xfree(names);
    return -1;
}

/* Every target names a defined store: one sort, then a binary search per target. */
static int config_check_targets(const struct config_builder *b, struct error *err)
{
    const struct config *cfg = b->cfg;
    const char **sorted = xcalloc(cfg->store_count, sizeof(*sorted));
    int rc = -1;

    for (size_t i = 0; i < cfg->store_count; i++)
        sorted[i] = cfg->stores[i].name;
    qsort(sorted, cfg->store_count, sizeof(*sorted), config_compare_names);
    for (size_t j = 0; j < cfg->job_count; j++) {
        const struct cfg_job *job = &cfg->jobs[j];
        for (size_t t = 0; t < job->target_count; t++) {
            const char *target = job->targets[t];
            if (bsearch(&target, sorted, cfg->store_count, sizeof(*sorted), config_compare_names))
                continue;
            config_unknown_target(b, job, config_job_line(b, j, "targets"), target, "targets", err);
            goto out;
        }
    }
    rc = 0;
out:
    xfree(sorted);
    return rc;
}

/* Case-insensitive: keys are lowercased by the parser, store names are not. */
static int config_compare_names_nocase(const void *a, const void *b)
{
    const char *const *x = a;
    const char *const *y = b;
    return strcasecmp(*x, *y);
}

static int config_compare_overrides(const void *a, const void *b)
{
    const struct cfg_keep_override *const *x = a;
    const struct cfg_keep_override *const *y = b;
    int c = strcmp((*x)->store, (*y)->store);

    if (c)
        return c;
    return (*x)->line < (*y)->line ? -1 : (*x)->line > (*y)->line;
}

static int config_unknown_keep_target(const struct config_builder *b, const struct cfg_job *job,
                                      const struct cfg_keep_override *o, struct error *err)
{
    char **lowered = xcalloc(job->target_count, sizeof(*lowered));
    struct buf known;
    const char *near;
    char shown[80];
    size_t listed;

    buf_init(&known, BUF_NO_CAP);
    for (listed = 0; listed < job->target_count && known.len < 160; listed++)
        buf_addf(&known, "%s%s", listed ? ", " : "", job->targets[listed]);
    if (listed < job->target_count)
        buf_adds(&known, ", ...");
    config_fail(b, o->line, err,
                "job '%s': keep.%s names a store that is not in targets (targets: %s)", job->name,
                schema_printable(o->store, shown, sizeof(shown)), known.data);
    buf_release(&known);
    for (size_t i = 0; i < job->target_count; i++) {
        lowered[i] = xstrdup(job->targets[i]);
        for (char *p = lowered[i]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    near = schema_suggest(o->store, (const char *const *)lowered, job->target_count);
    if (near)
        error_hint(err, "did you mean 'keep.%s'?", near);
    for (size_t i = 0; i < job->target_count; i++)
        xfree(lowered[i]);
    xfree(lowered);
    return -1;
}

/* Each keep.STORE of a job names one of its targets (in any letter case, since keys are
 * lowercased), at most once; the override then takes the target's spelling. */
static int config_check_job_keep(const struct config_builder *b, struct cfg_job *job,
                                 struct error *err)
{
    const char **targets = xcalloc(job->target_count, sizeof(*targets));
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized as such */
    struct cfg_keep_override **sorted = xcalloc(job->keep_override_count, sizeof(*sorted));
    size_t dup = 0; /* index in sorted of the repeat that comes first in the file; 0: none */
    int rc = -1;

    for (size_t i = 0; i < job->keep_override_count; i++)
        sorted[i] = &job->keep_overrides[i];
    /* Sorted by name, then line: the entry before a repeat is its first occurrence. */
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized as such */
    qsort(sorted, job->keep_override_count, sizeof(*sorted), config_compare_overrides);
    for (size_t i = 1; i < job->keep_override_count; i++)
        if (strcmp(sorted[i]->store, sorted[i - 1]->store) == 0 &&
            (!dup || sorted[i]->line < sorted[dup]->line))
            dup = i;
    if (dup) {
        config_fail(b, sorted[dup]->line, err,
                    "duplicate key 'keep.%s' in [job \"%s\"] (first at line %d)",
                    sorted[dup]->store, job->name, sorted[dup - 1]->line);
        goto out;
    }
    for (size_t i = 0; i < job->target_count; i++)
        targets[i] = job->targets[i];
    qsort(targets, job->target_count, sizeof(*targets), config_compare_names_nocase);
    for (size_t i = 0; i < job->keep_override_count; i++) {
        struct cfg_keep_override *o = &job->keep_overrides[i];
        const char *key = o->store;
        const char **hit = bsearch(&key, targets, job->target_count, sizeof(*targets),
                                   config_compare_names_nocase);
        size_t at;
        if (!hit) {
            config_unknown_keep_target(b, job, o, err);
            goto out;
        }
        at = (size_t)(hit - targets);
        if ((at > 0 && strcasecmp(targets[at - 1], key) == 0) ||
            (at + 1 < job->target_count && strcasecmp(targets[at + 1], key) == 0)) {
            config_fail(b, o->line, err,
                        "job '%s': keep.%s matches more than one target (store names differ "
                        "only in letter case)",
                        job->name, o->store);
            error_hint(err, "rename one of the stores: keys such as keep.NAME are not "
                            "case-sensitive");
            goto out;
        }
        xfree(o->store);
        o->store = xstrdup(*hit);
    }
    rc = 0;
out:
    xfree(sorted);
    xfree(targets);
    return rc;
}

static int config_check_keep_overrides(const struct config_builder *b, struct error *err)
{
    for (size_t j = 0; j < b->cfg->job_count; j++)
        if (config_check_job_keep(b, &b->cfg->jobs[j], err) < 0)
            return -1;
    return 0;
}

/* ---- mirror jobs ---- */

/* Where a store keeps its keys, as one comparable string ("s3:ENDPOINT/BUCKET/PREFIX",
 * "local:/srv/media"), so two store names that reach the same place are found to overlap. */
static void config_store_root(const struct cfg_store *s, struct buf *out)
{
    buf_reset(out);
    if (strcmp(s->type, "local") == 0) {
        buf_addf(out, "local:%s", s->path);
    } else if (strcmp(s->type, "s3") == 0) {
        if (s->endpoint)
            buf_addf(out, "s3:%s", s->endpoint);
        else
            buf_addf(out, "s3:aws:%s", s->region ? s->region : "us-east-1");
        buf_addf(out, "/%s", s->bucket);
        if (s->prefix)
            buf_addf(out, "/%s", s->prefix);
    } else {
        buf_addf(out, "%s:%s", s->type, s->remote ? s->remote : s->name);
    }
    while (out->len && out->data[out->len - 1] == '/')
        out->data[--out->len] = '\0';
}

/* Appends "/prefix" to a root (nothing for ""). */
static void config_join(struct buf *out, const char *prefix)
{
    if (prefix && prefix[0])
        buf_addf(out, "/%s", prefix);
}

/* True when a is b, or one is inside the other ('/'-separated segments). */
static bool config_paths_overlap(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t n = la < lb ? la : lb;

    if (strncmp(a, b, n) != 0)
        return false;
    return la == lb || (la < lb ? b[la] : a[lb]) == '/';
}

/* True when inner is outer or inside it. */
static bool config_path_within(const char *inner, const char *outer)
{
    size_t lo = strlen(outer);

    return strncmp(inner, outer, lo) == 0 && (inner[lo] == '\0' || inner[lo] == '/');
}

static void config_format_side(const struct cfg_mirror_side *side, char *out, size_t cap)
{
    char shown[80];

    if (side->prefix && side->prefix[0])
        (void)snprintf(out, cap, "%s:%s", side->store,
                       schema_printable(side->prefix, shown, sizeof(shown)));
    else
        (void)snprintf(out, cap, "%s", side->store);
}

/* The store named by one side of a mirror; an error at line when it is unknown or of a type the
 * mirror cannot read or write. */
static int config_mirror_store(const struct config_builder *b, const struct cfg_job *job,
                               const struct cfg_mirror_side *side, const char *what, int line,
                               const struct cfg_store **out, struct error *err)
{
    const struct cfg_store *s = config_find_store(b->cfg, side->store);

    if (!s)
        return config_unknown_target(b, job, line, side->store, what, err);
    if (strcmp(s->type, "local") != 0 && strcmp(s->type, "s3") != 0 &&
        strcmp(s->type, "rclone") != 0)
        return config_fail(b, line, err,
                           "job '%s': store '%s' in %s is of type '%s'; a mirror needs a local, "
                           "s3 or rclone store",
                           job->name, s->name, what, s->type);
    *out = s;
    return 0;
}

/* A mirror's source and destination name usable stores and do not overlap; the trash is not in
 * the source and does not hold the destination; trash_days goes with trash. */
static int config_check_mirror(const struct config_builder *b, size_t j, struct error *err)
{
    struct cfg_job *job = &b->cfg->jobs[j];
    struct cfg_mirror *m = &job->mirror;
    const struct cfg_store *src = NULL;
    const struct cfg_store *dst = NULL;
    int dst_line = config_job_line(b, j, "destination");
    struct buf src_path;
    struct buf dst_path;
    struct buf trash_path;
    char src_shown[160];
    char dst_shown[160];
    int rc = -1;

    buf_init(&src_path, BUF_NO_CAP);
    buf_init(&dst_path, BUF_NO_CAP);
    buf_init(&trash_path, BUF_NO_CAP);
    if (config_mirror_store(b, job, &m->source, "source", config_job_line(b, j, "source"), &src,
                            err) < 0 ||
        config_mirror_store(b, job, &m->destination, "destination", dst_line, &dst, err) < 0)
        goto out;
    ASSERT(src && dst); /* config_mirror_store sets them when it succeeds */
    config_format_side(&m->source, src_shown, sizeof(src_shown));
    config_format_side(&m->destination, dst_shown, sizeof(dst_shown));
    config_store_root(src, &src_path);
    config_join(&src_path, m->source.prefix);
    config_store_root(dst, &dst_path);
    config_join(&dst_path, m->destination.prefix);
    if (config_paths_overlap(src_path.data, dst_path.data)) {
        config_fail(b, dst_line, err, "job '%s': source '%s' and destination '%s' overlap",
                    job->name, src_shown, dst_shown);
        error_hint(err, src == dst ? "a mirror must not write into the tree it reads: use "
                                     "prefixes that are not inside each other"
                                   : "the two stores point at the same place");
        goto out;
    }
    if (!m->trash && m->trash_days) {
        config_fail(b, config_job_line(b, j, "trash_days"), err,
                    "job '%s': trash_days needs trash (a prefix in the destination store)",
                    job->name);
        goto out;
    }
    if (m->trash) {
        int trash_line = config_job_line(b, j, "trash");
        if (!m->trash_days)
            m->trash_days = CFG_MIRROR_TRASH_DAYS_DEF;
        config_store_root(dst, &trash_path);
        config_join(&trash_path, m->trash);
        if (config_paths_overlap(trash_path.data, src_path.data)) {
            config_fail(b, trash_line, err, "job '%s': trash '%s' overlaps the source '%s'",
                        job->name, m->trash, src_shown);
            goto out;
        }
        if (config_path_within(dst_path.data, trash_path.data)) {
            config_fail(b, trash_line, err,
                        "job '%s': the destination '%s' is inside the trash '%s'", job->name,
                        dst_shown, m->trash);
            error_hint(err, "the trash is a prefix of the destination store, e.g. '.trash'");
            goto out;
        }
    }
    rc = 0;
out:
    buf_release(&src_path);
    buf_release(&dst_path);
    buf_release(&trash_path);
    return rc;
}

static int config_check_mirrors(const struct config_builder *b, struct error *err)
{
    for (size_t j = 0; j < b->cfg->job_count; j++)
        if (b->cfg->jobs[j].kind == JOB_KIND_MIRROR && config_check_mirror(b, j, err) < 0)
            return -1;
    return 0;
}

static void config_copy_list(char ***dst, size_t *dst_count, char *const *src, size_t count)
{
    *dst = count ? xcalloc(count, sizeof(**dst)) : NULL;
    for (size_t i = 0; i < count; i++)
        (*dst)[i] = xstrdup(src[i]);
    *dst_count = count;
}

static void config_copy_secret(struct secret *dst, char **dst_ref, const struct secret *src,
                               const char *src_ref)
{
    if (!secret_is_set(src))
        return;
    secret_set(dst, src->value, src->len);
    *dst_ref = xstrdup(src_ref);
}

static int config_check_crypt_pair(const struct config_builder *b, const struct cfg_crypt *c,
                                   int line, const char *where, struct error *err)
{
    if (c->recipient_count && secret_is_set(&c->passphrase)) {
        config_fail(b, line, err, "%s: encrypt and encrypt_passphrase are both set", where);
        return error_hint(err, "age puts a passphrase in a file alone: choose recipients "
                               "(encrypt = age1...) or encrypt_passphrase");
    }
    return 0;
}

/* Encryption: [global] holds the default. A job that sets encrypt or encrypt_passphrase replaces
 * the default's choice (both of them, so a job can switch from recipients to a passphrase); a job
 * without identity uses [global]'s. A verify job names existing backup jobs. */
static int config_check_crypt(const struct config_builder *b, struct error *err)
{
    struct config *cfg = b->cfg;
    const struct cfg_crypt *g = &cfg->global.crypt;

    if (config_check_crypt_pair(b, g, cfg->global.line, "[global]", err) < 0)
        return -1;
    for (size_t j = 0; j < cfg->job_count; j++) {
        struct cfg_job *job = &cfg->jobs[j];
        struct cfg_crypt *c = &job->crypt;
        char where[SCHEMA_NAME_MAX + 16];

        if (job->kind == JOB_KIND_VERIFY) {
            for (size_t i = 0; i < job->verify_job_count; i++) {
                const struct cfg_job *other = config_find_job(cfg, job->verify_jobs[i]);
                char shown[80];
                if (other && (other->kind == JOB_KIND_POSTGRES || other->kind == JOB_KIND_REDIS))
                    continue;
                schema_printable(job->verify_jobs[i], shown, sizeof(shown));
                return config_fail(b, config_job_line(b, j, "jobs"), err,
                                   other ? "job '%s': '%s' in jobs is a %s job; verify checks "
                                           "postgres and redis jobs"
                                         : "job '%s': unknown job '%s' in jobs%s",
                                   job->name, shown,
                                   other ? config_job_kind_name(other->kind) : "");
            }
            continue;
        }
        if (job->kind != JOB_KIND_POSTGRES && job->kind != JOB_KIND_REDIS)
            continue;
        (void)snprintf(where, sizeof(where), "job '%s'", job->name);
        if (config_check_crypt_pair(b, c, config_job_line(b, j, "encrypt"), where, err) < 0)
            return -1;
        if (!c->recipient_count && !secret_is_set(&c->passphrase)) {
            config_copy_list(&c->recipients, &c->recipient_count, g->recipients,
                             g->recipient_count);
            config_copy_secret(&c->passphrase, &c->passphrase_ref, &g->passphrase,
                               g->passphrase_ref);
        }
        if (!secret_is_set(&c->identity))
            config_copy_secret(&c->identity, &c->identity_ref, &g->identity, g->identity_ref);
    }
    return 0;
}

/* Every job a [notify] section names exists. */
static int config_check_notifies(const struct config_builder *b, struct error *err)
{
    const struct config *cfg = b->cfg;

    for (size_t i = 0; i < cfg->notify_count; i++) {
        const struct cfg_notify *n = &cfg->notifies[i];
        for (size_t j = 0; j < n->job_count; j++) {
            char shown[80];
            if (config_find_job(cfg, n->jobs[j]))
                continue;
            schema_printable(n->jobs[j], shown, sizeof(shown));
            return config_fail(b, n->line, err, "notify '%s': unknown job '%s' in jobs", n->name,
                               shown);
        }
    }
    return 0;
}

const char *config_job_kind_name(enum job_kind kind)
{
    switch (kind) {
    case JOB_KIND_POSTGRES:
        return "postgres";
    case JOB_KIND_MIRROR:
        return "mirror";
    case JOB_KIND_REDIS:
        return "redis";
    case JOB_KIND_VERIFY:
        return "verify";
    }
    ASSERT(!"unknown job kind");
    return "";
}

/* ---- public ---- */

int config_parse(const char *path, const char *text, size_t len, struct config *cfg,
                 struct error *err)
{
    struct ini_doc doc = INI_DOC_INIT;
    struct config tmp;
    struct config_builder b;
    size_t store_count = 0;
    size_t job_count = 0;
    size_t notify_count = 0;
    int rc = -1;

    memset(cfg, 0, sizeof(*cfg));
    memset(&tmp, 0, sizeof(tmp));
    b.path = path ? path : "config";
    b.doc = &doc;
    b.cfg = &tmp;
    b.job_lines = NULL;
    tmp.path = xstrdup(b.path);
    if (ini_parse(b.path, text, len, &doc, err) < 0)
        goto out;
    if (config_check_headers(&b, &store_count, &job_count, &notify_count, err) < 0)
        goto out;
    tmp.stores = xcalloc(store_count, sizeof(*tmp.stores));
    tmp.jobs = xcalloc(job_count, sizeof(*tmp.jobs));
    tmp.notifies = xcalloc(notify_count, sizeof(*tmp.notifies));
    b.job_lines = xcalloc(job_count * SCHEMA_MAX_OPTIONS, sizeof(*b.job_lines));
    if (config_read_sections(&b, err) < 0)
        goto out;
    if (config_check_targets(&b, err) < 0)
        goto out;
    if (config_check_keep_overrides(&b, err) < 0)
        goto out;
    if (config_check_mirrors(&b, err) < 0)
        goto out;
    if (config_check_crypt(&b, err) < 0)
        goto out;
    if (config_check_notifies(&b, err) < 0)
        goto out;
    *cfg = tmp;
    memset(&tmp, 0, sizeof(tmp));
    rc = 0;
out:
    config_release(&tmp);
    xfree(b.job_lines);
    ini_doc_release(&doc);
    return rc;
}

int config_load(const char *path, struct config *cfg, struct error *err)
{
    struct buf text;
    int rc = -1;

    memset(cfg, 0, sizeof(*cfg));
    buf_init(&text, CONFIG_MAX_FILE_LEN);
    if (fs_read_file(path, &text, err) < 0) {
        if (err->sys_errno) {
            errno = err->sys_errno;
            error_errno(err, ERR_CONFIG, "cannot read config '%s'", path);
            if (err->sys_errno == ENOENT)
                error_hint(err, "pass -c FILE or set PERMAFROST_CONFIG");
        } else {
            error_set(err, ERR_CONFIG, "cannot read config '%s': larger than %zu bytes", path,
                      CONFIG_MAX_FILE_LEN);
        }
        goto out;
    }
    rc = config_parse(path, text.data, text.len, cfg, err);
out:
    /* The text may hold inline secrets. */
    explicit_bzero(text.data, text.len);
    buf_release(&text);
    return rc;
}

static void config_release_crypt(struct cfg_crypt *c)
{
    for (size_t i = 0; i < c->recipient_count; i++)
        xfree(c->recipients[i]);
    xfree(c->recipients);
    secret_release(&c->passphrase);
    xfree(c->passphrase_ref);
    secret_release(&c->identity);
    xfree(c->identity_ref);
}

static void config_release_job(struct cfg_job *job)
{
    xfree(job->name);
    xfree(job->database);
    secret_release(&job->password);
    xfree(job->password_ref);
    for (size_t i = 0; i < job->target_count; i++)
        xfree(job->targets[i]);
    xfree(job->targets);
    xfree(job->keep_text);
    for (size_t i = 0; i < job->keep_override_count; i++) {
        xfree(job->keep_overrides[i].store);
        xfree(job->keep_overrides[i].keep_text);
    }
    xfree(job->keep_overrides);
    xfree(job->pg_dump);
    if (job->url)
        explicit_bzero(job->url, strlen(job->url));
    xfree(job->url);
    xfree(job->ca_file);
    xfree(job->mirror.source.store);
    xfree(job->mirror.source.prefix);
    xfree(job->mirror.destination.store);
    xfree(job->mirror.destination.prefix);
    for (size_t i = 0; i < job->mirror.include_count; i++)
        xfree(job->mirror.include[i]);
    xfree(job->mirror.include);
    for (size_t i = 0; i < job->mirror.exclude_count; i++)
        xfree(job->mirror.exclude[i]);
    xfree(job->mirror.exclude);
    xfree(job->mirror.trash);
    config_release_crypt(&job->crypt);
    xfree(job->scratch);
    for (size_t i = 0; i < job->verify_job_count; i++)
        xfree(job->verify_jobs[i]);
    xfree(job->verify_jobs);
    xfree(job->schedule);
}

static void config_release_notify(struct cfg_notify *n)
{
    xfree(n->name);
    secret_release(&n->url);
    xfree(n->url_ref);
    for (size_t i = 0; i < n->job_count; i++)
        xfree(n->jobs[i]);
    xfree(n->jobs);
}

static void config_release_store(struct cfg_store *store)
{
    xfree(store->name);
    xfree(store->type);
    xfree(store->path);
    xfree(store->endpoint);
    xfree(store->region);
    xfree(store->bucket);
    xfree(store->prefix);
    secret_release(&store->access_key);
    xfree(store->access_key_ref);
    secret_release(&store->secret_key);
    xfree(store->secret_key_ref);
    secret_release(&store->session_token);
    xfree(store->session_token_ref);
    xfree(store->ca_file);
    xfree(store->remote);
    xfree(store->rclone_config);
    xfree(store->rclone_binary);
}

void config_release(struct config *cfg)
{
    xfree(cfg->path);
    xfree(cfg->global.state_dir);
    xfree(cfg->global.timezone);
    xfree(cfg->global.metrics_listen);
    config_release_crypt(&cfg->global.crypt);
    for (size_t i = 0; i < cfg->notify_count; i++)
        config_release_notify(&cfg->notifies[i]);
    xfree(cfg->notifies);
    for (size_t i = 0; i < cfg->store_count; i++)
        config_release_store(&cfg->stores[i]);
    xfree(cfg->stores);
    for (size_t i = 0; i < cfg->job_count; i++)
        config_release_job(&cfg->jobs[i]);
    xfree(cfg->jobs);
    memset(cfg, 0, sizeof(*cfg));
}

const struct cfg_store *config_find_store(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->store_count; i++)
        if (strcmp(cfg->stores[i].name, name) == 0)
            return &cfg->stores[i];
    return NULL;
}

const struct keep_policy *config_job_keep_for(const struct cfg_job *job, const char *store)
{
    for (size_t i = 0; i < job->keep_override_count; i++)
        if (strcmp(job->keep_overrides[i].store, store) == 0)
            return &job->keep_overrides[i].keep;
    return &job->keep;
}

const struct cfg_job *config_find_job(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->job_count; i++)
        if (strcmp(cfg->jobs[i].name, name) == 0)
            return &cfg->jobs[i];
    return NULL;
}

const struct cfg_notify *config_find_notify(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->notify_count; i++)
        if (strcmp(cfg->notifies[i].name, name) == 0)
            return &cfg->notifies[i];
    return NULL;
}

/* Writes one section: every option that applies, with its value or a comment saying what unset
 * means. */
static void config_show_section(struct buf *out, enum schema_section kind, const char *name,
                                const void *obj)
{
    const struct schema_option *disc = schema_discriminator(kind);
    struct buf applies_to;
    struct buf value;

    buf_init(&applies_to, BUF_NO_CAP);
    buf_init(&value, BUF_NO_CAP);
    if (disc)
        config_discriminator_text(disc, obj, &applies_to);
    ini_write_section(out, schema_section_name(kind), name);
    for (size_t i = 0; i < schema_option_count; i++) {
        const struct schema_option *opt = &schema_options[i];
        if (!schema_option_applies(opt, kind, disc ? applies_to.data : NULL))
            continue;
        buf_reset(&value);
        if (opt->key_prefix) {
            if (!opt->format_items(opt, obj, out))
                buf_addf(out, "# %s = (not set: %s)\n", opt->name, opt->unset_doc);
            continue;
        }
        if (opt->format(opt, obj, &value))
            ini_write_entry(out, opt->name, value.data);
        else
            buf_addf(out, "# %s = (not set: %s)\n", opt->name,
                     opt->unset_doc ? opt->unset_doc : "no default");
    }
    buf_release(&value);
    buf_release(&applies_to);
}

void config_show(const struct config *cfg, struct buf *out)
{
    buf_adds(out, "# permafrost configuration: effective values, defaults filled in, secrets "
                  "redacted\n");
    if (cfg->path)
        buf_addf(out, "# read from %s\n", cfg->path);
    buf_adds(out, "\n");
    config_show_section(out, SCHEMA_SECTION_GLOBAL, NULL, &cfg->global);
    for (size_t i = 0; i < cfg->store_count; i++) {
        buf_adds(out, "\n");
        config_show_section(out, SCHEMA_SECTION_STORE, cfg->stores[i].name, &cfg->stores[i]);
    }
    for (size_t i = 0; i < cfg->job_count; i++) {
        buf_adds(out, "\n");
        config_show_section(out, SCHEMA_SECTION_JOB, cfg->jobs[i].name, &cfg->jobs[i]);
    }
    for (size_t i = 0; i < cfg->notify_count; i++) {
        buf_adds(out, "\n");
        config_show_section(out, SCHEMA_SECTION_NOTIFY, cfg->notifies[i].name, &cfg->notifies[i]);
    }
}

/* ---- secrets ---- */

static bool config_env_name_is_valid(const char *name)
{
    if (!((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z') ||
          name[0] == '_'))
        return false;
    for (size_t i = 1; name[i]; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

/* Reads the secret file at path into s, without one trailing newline ("\n" or "\r\n"). The bytes go
 * straight into one buffer reserved at the cap, so no stray copy of the secret is left in freed
 * memory. */
static int config_read_secret_file(const char *path, struct secret *s, struct error *err)
{
    struct buf b;
    struct stat st;
    char shown[160];
    int fd = -1;
    int rc = -1;

    buf_init(&b, SCHEMA_SECRET_MAX);
    schema_printable(path, shown, sizeof(shown));
    /* O_NONBLOCK: opening a FIFO must not hang the parse; it is then refused as not a regular file.
     */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) < 0) {
        error_errno(err, ERR_CONFIG, "cannot read '%s'", shown);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        error_set(err, ERR_CONFIG, "cannot read '%s': not a regular file", shown);
        goto out;
    }
    ASSERT(buf_reserve(&b, SCHEMA_SECRET_MAX));
    for (;;) {
        size_t room = SCHEMA_SECRET_MAX - b.len;
        char extra = 0;
        ssize_t n = room ? read(fd, b.data + b.len, room) : read(fd, &extra, 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            error_errno(err, ERR_CONFIG, "cannot read '%s'", shown);
            goto out;
        }
        if (n == 0)
            break;
        if (!room) {
            explicit_bzero(&extra, sizeof(extra));
            error_set(err, ERR_CONFIG, "cannot read '%s': larger than %d bytes", shown,
                      SCHEMA_SECRET_MAX);
            goto out;
        }
        b.len += (size_t)n;
    }
    if (b.len && b.data[b.len - 1] == '\n') {
        b.len--;
        if (b.len && b.data[b.len - 1] == '\r')
            b.len--;
    }
    if (b.len == 0) {
        error_set(err, ERR_CONFIG, "file '%s' is empty", shown);
        goto out;
    }
    secret_set(s, b.data, b.len);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (b.alloc)
        explicit_bzero(b.data, b.alloc);
    buf_release(&b);
    return rc;
}

int config_resolve_secret(const char *ref, struct secret *out, struct error *err)
{
    struct secret s = SECRET_INIT;
    char shown[80];

    if (strncmp(ref, "env:", 4) == 0) {
        const char *name = ref + 4;
        const char *value;
        if (!config_env_name_is_valid(name))
            return error_set(err, ERR_CONFIG, "invalid environment variable name '%s'",
                             schema_printable(name, shown, sizeof(shown)));
        value = getenv(name);
        if (!value)
            return error_set(err, ERR_CONFIG, "environment variable '%s' is not set", name);
        if (!*value)
            return error_set(err, ERR_CONFIG, "environment variable '%s' is empty", name);
        secret_set(&s, value, strlen(value));
    } else if (strncmp(ref, "file:", 5) == 0) {
        if (!ref[5])
            return error_set(err, ERR_CONFIG, "'file:' needs a path");
        if (config_read_secret_file(ref + 5, &s, err) < 0)
            return -1;
    } else {
        /* The text is not echoed: it is most likely the secret itself. */
        return error_set(err, ERR_CONFIG, "expected env:NAME or file:PATH");
    }
    secret_release(out);
    *out = s;
    return 0;
}

/* ---- keep ---- */

int config_parse_keep(const char *text, struct keep_policy *out, struct error *err)
{
    static const char *const units[] = {"last", "hourly", "daily", "weekly", "monthly", "yearly"};
    struct keep_policy k = {0, 0, 0, 0, 0, 0};
    int *fields[] = {&k.last, &k.hourly, &k.daily, &k.weekly, &k.monthly, &k.yearly};
    const size_t unit_count = sizeof(units) / sizeof(units[0]);
    struct strv rest = strv_trim(strv_from(text));
    char *unit_text = NULL;
    char shown[80];
    int rc = -1;

    /* An empty policy keeps everything; otherwise every comma-separated item, including one after a
     * trailing comma, must be "UNIT COUNT". */
    for (bool more = rest.len > 0; more;) {
        struct strv item, unit, count_text;
        const char *near;
        uint64_t count;
        size_t u;

        more = strv_cut(&rest, ',', &item);
        item = strv_trim(item);
        if (!item.len) {
            error_set(err, ERR_CONFIG, "empty item (expected 'UNIT COUNT, ...', as in 'daily 7')");
            goto out;
        }
        unit = item;
        for (unit.len = 0;
             unit.len < item.len && item.ptr[unit.len] != ' ' && item.ptr[unit.len] != '\t';
             unit.len++) {
        }
        count_text = strv_trim(strv_make(item.ptr + unit.len, item.len - unit.len));
        xfree(unit_text);
        unit_text = strv_dup(unit);
        for (char *p = unit_text; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        for (u = 0; u < unit_count && strcmp(unit_text, units[u]) != 0; u++) {
        }
        if (u == unit_count) {
            schema_printable(unit_text, shown, sizeof(shown));
            near = schema_suggest(unit_text, units, unit_count);
            if (near)
                error_set(err, ERR_CONFIG, "unknown unit '%s' (did you mean '%s'?)", shown, near);
            else
                error_set(err, ERR_CONFIG,
                          "unknown unit '%s' (known: last, hourly, daily, weekly, monthly, yearly)",
                          shown);
            goto out;
        }
        if (!count_text.len) {
            error_set(err, ERR_CONFIG, "'%s' needs a count, as in '%s 7'", units[u], units[u]);
            goto out;
        }
        if (!strv_to_u64(count_text, &count) || count < 1 || count > CONFIG_KEEP_MAX) {
            char *c = strv_dup(count_text);
            error_set(err, ERR_CONFIG, "'%s' count must be from 1 to %d, got '%s'", units[u],
                      CONFIG_KEEP_MAX, schema_printable(c, shown, sizeof(shown)));
            xfree(c);
            goto out;
        }
        if (*fields[u]) {
            error_set(err, ERR_CONFIG, "'%s' is given twice", units[u]);
            goto out;
        }
        *fields[u] = (int)count;
    }
    *out = k;
    rc = 0;
out:
    xfree(unit_text);
    return rc;
}
