/* The two sides of a mirror and their sorted listings. An S3 side lists with ListObjectsV2 from a
 * start-after key, so a key range can be listed on its own; a local side walks its directory tree
 * in the same byte order S3 uses (a directory's entries sorted as if each directory name ended in
 * '/'), pruning the subtrees outside the range; any other store is listed once through the store
 * interface. */
#include "mirror/side.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mirror/key.h"
#include "stores/rclone_store.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/xalloc.h"

struct walk_item {
    char *name;
    bool is_dir;
    uint64_t size_bytes;
    time_t mtime;
};

struct walk_frame {
    char *rel; /* "" for the root, else "a/b/" */
    struct walk_item *items;
    size_t count;
    size_t pos;
};

void mirror_entry_release(struct mirror_entry *e)
{
    xfree(e->key);
    e->key = NULL;
}

bool mirror_etag_is_md5(const char *etag)
{
    size_t n = strlen(etag);

    if (n != 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((etag[i] >= '0' && etag[i] <= '9') || (etag[i] >= 'a' && etag[i] <= 'f') ||
              (etag[i] >= 'A' && etag[i] <= 'F')))
            return false;
    return true;
}

/* "a/b" -> "a/b/", "" stays "", leading '/' dropped. */
static char *side_norm_prefix(const char *p)
{
    size_t n;

    while (p && *p == '/')
        p++;
    if (!p || !*p)
        return xstrdup("");
    n = strlen(p);
    return p[n - 1] == '/' ? xstrdup(p) : xasprintf("%s/", p);
}

static int side_open_s3(struct side *s, const struct store_options *o, const char *prefix,
                        struct http_client *http, double max_rps, struct error *err)
{
    struct s3_client_options co;
    char *mp = side_norm_prefix(prefix);

    memset(&co, 0, sizeof(co));
    co.name = o->name;
    co.endpoint = o->endpoint;
    co.region = o->region;
    co.bucket = o->bucket;
    co.path_style = o->path_style;
    co.access_key = o->access_key;
    co.secret_key = o->secret_key;
    co.session_token = o->session_token;
    co.ca_file = o->ca_file;
    co.max_requests_per_second = max_rps > 0 ? max_rps : o->max_requests_per_second;
    co.connect_timeout_ms = o->connect_timeout_ms;
    co.low_speed_time_ms = o->low_speed_timeout_ms;
    co.http = http;
    s->type = SIDE_S3;
    s->store_prefix = side_norm_prefix(o->prefix);
    s->prefix = xasprintf("%s%s", s->store_prefix, mp);
    xfree(mp);
    if (s3_client_new(&co, &s->s3, err) < 0)
        return error_wrap(err, "%s store '%s'", s->what, s->name);
    s->location = xasprintf("%s/%s", s3_client_location(s->s3), s->prefix);
    return 0;
}

int side_open(struct side *s, const char *what, const struct store_options *o, const char *prefix,
              struct http_client *http, double max_rps, struct error *err)
{
    const char *type = o->type ? o->type : "";

    memset(s, 0, sizeof(*s));
    s->what = what;
    s->name = xstrdup(o->name ? o->name : "");
    if (strcmp(type, "s3") == 0)
        return side_open_s3(s, o, prefix, http, max_rps, err);
    if (strcmp(type, "local") == 0) {
        char *mp = side_norm_prefix(prefix);
        size_t n;

        if (!o->path || !*o->path)
            return error_set(err, ERR_CONFIG, "%s store '%s': no path", what, s->name);
        s->type = SIDE_LOCAL;
        s->store_root = xstrdup(o->path);
        n = strlen(s->store_root);
        while (n > 1 && s->store_root[n - 1] == '/')
            s->store_root[--n] = '\0';
        s->root = xasprintf("%s%s%s", s->store_root, *mp ? "/" : "", mp);
        n = strlen(s->root);
        while (n > 1 && s->root[n - 1] == '/')
            s->root[--n] = '\0';
        xfree(mp);
        s->location = xasprintf("%s/", s->root);
        /* A destination not made yet is fine (mirror_run makes it, unless in a dry run). */
        if (access(s->root, R_OK | X_OK) < 0 &&
            !(errno == ENOENT && strcmp(what, "destination") == 0))
            return error_errno(err, ERR_IO, "%s store '%s': cannot read directory '%s'", what,
                               s->name, s->root);
        return 0;
    }
    if (strcmp(type, "rclone") == 0) {
        struct rclone_s3_options rs;
        bool is_s3 = false;
        int rc;

        if (rclone_store_resolve(o, &rs, &is_s3, err) < 0) {
            rclone_store_s3_options_release(&rs);
            return -1;
        }
        if (is_s3) {
            rc = side_open_s3(s, &rs.opts, prefix, http, max_rps, err);
            rclone_store_s3_options_release(&rs);
            return rc;
        }
        rclone_store_s3_options_release(&rs);
        s->type = SIDE_STORE;
        s->store_key_prefix = side_norm_prefix(prefix);
        if (store_open(o, &s->store, err) < 0)
            return error_wrap(err, "%s store '%s'", what, s->name);
        s->location = xasprintf("%s/%s", store_location(s->store), s->store_key_prefix);
        return 0;
    }
    return error_set(err, ERR_CONFIG, "%s store '%s': type '%s' cannot be mirrored", what, s->name,
                     type);
}

void side_close(struct side *s)
{
    s3_client_free(s->s3);
    store_free(s->store);
    xfree(s->name);
    xfree(s->location);
    xfree(s->prefix);
    xfree(s->store_prefix);
    xfree(s->root);
    xfree(s->store_root);
    xfree(s->store_key_prefix);
    memset(s, 0, sizeof(*s));
}

char *side_local_path(const struct side *s, const char *key)
{
    return xasprintf("%s/%s", s->root, key);
}

/* ---- listing ---- */

void lister_init(struct lister *l, struct side *side, const char *lo, const char *hi,
                 const char *skip)
{
    memset(l, 0, sizeof(*l));
    l->side = side;
    l->lo = xstrdup(lo ? lo : "");
    l->hi = hi ? xstrdup(hi) : NULL;
    l->skip = skip && *skip ? skip : NULL;
    s3_call_init(&l->call);
}

static void lister_clear_buffer(struct lister *l)
{
    for (size_t i = 0; i < l->count; i++)
        mirror_entry_release(&l->ents[i]);
    l->count = 0;
    l->pos = 0;
}

static void walk_frame_release(struct walk_frame *f)
{
    for (size_t i = 0; i < f->count; i++)
        xfree(f->items[i].name);
    xfree(f->items);
    xfree(f->rel);
    memset(f, 0, sizeof(*f));
}

void lister_release(struct lister *l)
{
    lister_clear_buffer(l);
    xfree(l->ents);
    for (size_t i = 0; i < l->depth; i++)
        walk_frame_release(&l->frames[i]);
    xfree(l->frames);
    for (size_t i = 0; i < l->all_count; i++)
        mirror_entry_release(&l->all[i]);
    xfree(l->all);
    s3_call_release(&l->call);
    xfree(l->token);
    xfree(l->query);
    xfree(l->lo);
    xfree(l->hi);
    memset(l, 0, sizeof(*l));
}

const struct mirror_entry *lister_peek(const struct lister *l)
{
    return l->pos < l->count ? &l->ents[l->pos] : NULL;
}

void lister_next(struct lister *l)
{
    if (l->pos < l->count)
        l->pos++;
    if (l->pos == l->count)
        lister_clear_buffer(l);
}

/* Whether a relative key belongs to this listing; sets *is_past when it is at or beyond hi. */
static bool lister_wants(const struct lister *l, const char *key, bool *is_past)
{
    *is_past = false;
    if (strcmp(key, l->lo) < 0)
        return false;
    if (l->hi && strcmp(key, l->hi) >= 0) {
        *is_past = true;
        return false;
    }
    if (l->skip && strncmp(key, l->skip, strlen(l->skip)) == 0)
        return false;
    return true;
}

static struct mirror_entry *lister_push(struct lister *l)
{
    struct mirror_entry *e;

    if (l->count == 0)
        l->pos = 0;
    l->ents = xreallocarray(l->ents, l->count + 1, sizeof(*l->ents));
    e = &l->ents[l->count++];
    memset(e, 0, sizeof(*e));
    return e;
}

void lister_prepare_call(struct lister *l)
{
    struct side *s = l->side;
    struct buf q;

    buf_init(&q, BUF_NO_CAP);
    buf_adds(&q, "encoding-type=url&list-type=2");
    if (l->token) {
        buf_adds(&q, "&continuation-token=");
        s3_encode(&q, l->token, false);
    }
    buf_addf(&q, "&max-keys=%d", SIDE_PAGE_KEYS);
    if (*s->prefix) {
        buf_adds(&q, "&prefix=");
        s3_encode(&q, s->prefix, false);
    }
    if (!l->token && *l->lo) {
        /* Just before lo: lo with its last byte (ASCII: '/' or the '0' after a skipped prefix)
         * one less, followed by U+10FFFF, the highest code point. Every key of the range before
         * sorts before it (but keys starting with that very sequence, which lister_wants drops),
         * so the server does not list them again: after the skipped range [cache/, cache0), a
         * start-after of "cache" would list the whole skipped subtree. */
        size_t n = strlen(l->lo);
        unsigned char last = (unsigned char)l->lo[n - 1];
        char *after = last > 0x20 && last < 0x80
                          ? xasprintf("%s%.*s%c\xf4\x8f\xbf\xbf", s->prefix, (int)(n - 1), l->lo,
                                      (char)(last - 1))
                          : xasprintf("%s%.*s", s->prefix, (int)(n - 1), l->lo);
        buf_adds(&q, "&start-after=");
        s3_encode(&q, after, false);
        xfree(after);
    }
    s3_call_release(&l->call);
    s3_call_init(&l->call);
    l->call.method = "GET";
    l->call.key = NULL;
    xfree(l->query);
    l->query = xstrdup(q.data);
    l->call.query = l->query;
    buf_release(&q);
    buf_release(&l->call.req.body);
    buf_init(&l->call.req.body, S3_XML_MAX_BODY);
    l->is_fetching = true;
}

int lister_take_page(struct lister *l, struct error *err)
{
    struct side *s = l->side;
    struct s3_xml_list page;
    size_t plen = strlen(s->prefix);
    bool is_past = false;
    int rc = -1;

    memset(&page, 0, sizeof(page));
    l->is_fetching = false;
    if (s3_xml_parse_list(l->call.req.body.data, l->call.req.body.len, &page, err) < 0) {
        error_wrap(err, "listing %s '%s'", s->what, s->location);
        goto out;
    }
    l->pages++;
    for (size_t i = 0; i < page.object_count && !is_past; i++) {
        const struct s3_xml_object *o = &page.objects[i];
        const char *rel;
        struct mirror_entry *e;

        if (strncmp(o->key, s->prefix, plen) != 0)
            continue; /* not ours: a server ignoring the prefix */
        rel = o->key + plen;
        if (!*rel || !lister_wants(l, rel, &is_past))
            continue;
        e = lister_push(l);
        e->key = xstrdup(rel);
        e->size_bytes = o->size_bytes;
        e->mtime = o->last_modified;
        if (o->etag && strlen(o->etag) < sizeof(e->etag))
            memcpy(e->etag, o->etag, strlen(o->etag) + 1);
        e->is_md5 = mirror_etag_is_md5(e->etag);
    }
    xfree(l->token);
    l->token = NULL;
    if (is_past || !page.is_truncated) {
        l->is_end = true;
    } else if (!page.next_continuation_token) {
        error_set(err, ERR_REMOTE, "listing %s '%s': truncated page without a continuation token",
                  s->what, s->location);
        goto out;
    } else {
        l->token = xstrdup(page.next_continuation_token);
    }
    rc = 0;
out:
    s3_xml_list_release(&page);
    return rc;
}

/* Byte order of keys: a directory sorts as its name followed by '/'. */
static int walk_item_cmp(const void *pa, const void *pb)
{
    const struct walk_item *a = pa;
    const struct walk_item *b = pb;
    const unsigned char *x = (const unsigned char *)a->name;
    const unsigned char *y = (const unsigned char *)b->name;

    for (;; x++, y++) {
        int cx = *x ? *x : (a->is_dir ? '/' : 0);
        int cy = *y ? *y : (b->is_dir ? '/' : 0);
        if (cx != cy)
            return cx - cy;
        if (!*x || !*y)
            return (*x ? 1 : 0) - (*y ? 1 : 0); /* "a" dir vs "a/"-prefixed name: cannot occur */
    }
}

/* Reads one directory (relative prefix rel) into a new frame, sorted. */
static int walk_push(struct lister *l, const char *rel, struct error *err)
{
    struct side *s = l->side;
    char *path =
        *rel ? xasprintf("%s/%.*s", s->root, (int)(strlen(rel) - 1), rel) : xstrdup(s->root);
    struct walk_frame *f;
    struct dirent *de;
    DIR *d;
    int dfd;
    size_t alloc = 0;

    d = opendir(path);
    if (!d) {
        int e = errno;
        /* A destination not made yet is empty; a source directory that vanished is an error
         * (an empty range would let the destination's keys in it be deleted). */
        if (e == ENOENT && !*rel && strcmp(s->what, "destination") == 0) {
            xfree(path);
            return 0;
        }
        error_errno(err, ERR_IO, "listing %s: cannot open directory '%s'", s->what, path);
        xfree(path);
        return -1;
    }
    dfd = dirfd(d);
    if (l->depth == l->frame_alloc) {
        l->frame_alloc = l->frame_alloc ? l->frame_alloc * 2 : 16;
        l->frames = xreallocarray(l->frames, l->frame_alloc, sizeof(*l->frames));
    }
    f = &l->frames[l->depth++];
    memset(f, 0, sizeof(*f));
    f->rel = xstrdup(rel);
    while ((errno = 0, de = readdir(d)) != NULL) {
        struct stat st;
        struct walk_item *it;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* removed meanwhile */
        if (store_is_tmp_name(de->d_name, strlen(de->d_name))) {
            /* Left by a killed run: only our own names (others are not ours to delete). */
            if (S_ISREG(st.st_mode) && l->stale_before && st.st_mtime < l->stale_before &&
                strncmp(de->d_name, SIDE_LOCAL_TMP, strlen(SIDE_LOCAL_TMP)) == 0)
                (void)unlinkat(dfd, de->d_name, 0);
            continue;
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
            log_debug("mirror: %s: skipping '%s%s' (not a file or directory)", s->what, rel,
                      de->d_name);
            continue;
        }
        if (f->count == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            f->items = xreallocarray(f->items, alloc, sizeof(*f->items));
        }
        it = &f->items[f->count++];
        it->name = xstrdup(de->d_name);
        it->is_dir = S_ISDIR(st.st_mode);
        it->size_bytes = (uint64_t)st.st_size;
        it->mtime = st.st_mtime;
    }
    if (errno != 0) {
        error_errno(err, ERR_IO, "listing %s: reading directory '%s'", s->what, path);
        closedir(d);
        xfree(path);
        return -1;
    }
    closedir(d);
    xfree(path);
    if (f->count > 1)
        qsort(f->items, f->count, sizeof(*f->items), walk_item_cmp);
    return 0;
}

/* Produces up to a page of entries from the directory walk. */
static int lister_walk(struct lister *l, struct error *err)
{
    if (!l->is_walk_started) {
        l->is_walk_started = true;
        if (walk_push(l, "", err) < 0)
            return -1;
    }
    while (l->depth > 0 && l->count < SIDE_PAGE_KEYS) {
        struct walk_frame *f = &l->frames[l->depth - 1];
        struct walk_item *it;
        char *key;
        bool is_past = false;

        if (f->pos == f->count) {
            walk_frame_release(f);
            l->depth--;
            continue;
        }
        it = &f->items[f->pos++];
        if (it->is_dir) {
            char *sub = xasprintf("%s%s/", f->rel, it->name);
            size_t sn = strlen(sub);
            int rc = 0;

            if (l->hi && strcmp(sub, l->hi) >= 0) {
                is_past = true; /* everything after is beyond the range */
            } else if (strcmp(sub, l->lo) >= 0 || strncmp(l->lo, sub, sn) == 0) {
                if (!(l->skip && strncmp(sub, l->skip, strlen(l->skip)) == 0))
                    rc = walk_push(l, sub, err);
            }
            xfree(sub);
            if (rc < 0)
                return -1;
            if (is_past) {
                while (l->depth > 0)
                    walk_frame_release(&l->frames[--l->depth]);
            }
            continue;
        }
        key = xasprintf("%s%s", f->rel, it->name);
        if (lister_wants(l, key, &is_past)) {
            struct mirror_entry *e = lister_push(l);
            e->key = key;
            key = NULL;
            e->size_bytes = it->size_bytes;
            e->mtime = it->mtime;
        }
        xfree(key);
        if (is_past) {
            while (l->depth > 0)
                walk_frame_release(&l->frames[--l->depth]);
        }
    }
    if (l->depth == 0)
        l->is_end = true;
    return 0;
}

struct store_collect {
    struct lister *l;
    size_t alloc;
    size_t plen;
};

static int store_collect_fn(const struct store_entry *entry, void *ctx, struct error *err)
{
    struct store_collect *c = ctx;
    struct lister *l = c->l;
    struct mirror_entry *e;

    (void)err;
    if (strlen(entry->key) <= c->plen)
        return 0;
    if (l->all_count == c->alloc) {
        c->alloc = c->alloc ? c->alloc * 2 : 256;
        l->all = xreallocarray(l->all, c->alloc, sizeof(*l->all));
    }
    e = &l->all[l->all_count++];
    memset(e, 0, sizeof(*e));
    e->key = xstrdup(entry->key + c->plen);
    e->size_bytes = entry->size_bytes;
    e->mtime = entry->mtime;
    return 0;
}

int lister_fill_sync(struct lister *l, struct error *err)
{
    struct side *s = l->side;

    if (l->is_end || l->count > 0)
        return 0;
    if (s->type == SIDE_LOCAL)
        return lister_walk(l, err);
    ASSERT(s->type == SIDE_STORE);
    if (!l->is_all_loaded) {
        struct store_collect c = {l, 0, strlen(s->store_key_prefix)};
        l->is_all_loaded = true;
        if (store_list(s->store, s->store_key_prefix, store_collect_fn, &c, err) < 0)
            return error_wrap(err, "listing %s '%s'", s->what, s->location);
    }
    while (l->all_pos < l->all_count && l->count < SIDE_PAGE_KEYS) {
        struct mirror_entry *src = &l->all[l->all_pos++];
        bool is_past = false;
        if (lister_wants(l, src->key, &is_past)) {
            struct mirror_entry *e = lister_push(l);
            *e = *src;
            src->key = NULL;
        }
        if (is_past) {
            l->all_pos = l->all_count;
            break;
        }
    }
    if (l->all_pos == l->all_count)
        l->is_end = true;
    return 0;
}

/* ---- key ranges ---- */

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int side_list_page(struct s3_client *c, const char *query, struct s3_xml_list *page,
                   struct error *err)
{
    struct s3_call call;
    int rc = -1;

    memset(page, 0, sizeof(*page));
    s3_call_init(&call);
    call.method = "GET";
    call.query = query;
    buf_release(&call.req.body);
    buf_init(&call.req.body, S3_XML_MAX_BODY);
    if (s3_call_run(c, &call, err) < 0 ||
        s3_xml_parse_list(call.req.body.data, call.req.body.len, page, err) < 0)
        goto out;
    rc = 0;
out:
    s3_call_release(&call);
    return rc;
}

/* Lists the common prefixes directly under rel (one page: enough to split the key space). */
static int side_children(struct side *s, const char *rel, char ***out, size_t *count,
                         struct error *err)
{
    struct s3_xml_list page;
    struct buf q;
    char *full = xasprintf("%s%s", s->prefix, rel);
    size_t plen = strlen(s->prefix);
    int rc = -1;

    memset(&page, 0, sizeof(page));
    buf_init(&q, BUF_NO_CAP);
    buf_adds(&q, "delimiter=%2F&encoding-type=url&list-type=2&max-keys=1000");
    if (*full) {
        buf_adds(&q, "&prefix=");
        s3_encode(&q, full, false);
    }
    if (side_list_page(s->s3, q.data, &page, err) < 0) {
        error_wrap(err, "listing %s '%s'", s->what, s->location);
        goto out;
    }
    for (size_t i = 0; i < page.common_prefix_count; i++) {
        const char *p = page.common_prefixes[i];
        if (strncmp(p, s->prefix, plen) != 0 || strlen(p) <= plen)
            continue;
        *out = xreallocarray(*out, *count + 1, sizeof(**out));
        (*out)[(*count)++] = xstrdup(p + plen);
    }
    rc = 0;
out:
    s3_xml_list_release(&page);
    buf_release(&q);
    xfree(full);
    return rc;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        xfree(v[i]);
    xfree(v);
}

/* Whether the side holds more than one page of keys (one LIST): a small tree is listed as one
 * range, with no discovery. */
static int side_is_large(struct side *s, bool *is_large, struct error *err)
{
    struct s3_xml_list page;
    struct buf q;
    int rc = -1;

    buf_init(&q, BUF_NO_CAP);
    buf_addf(&q, "encoding-type=url&list-type=2&max-keys=%d", SIDE_PAGE_KEYS);
    if (*s->prefix) {
        buf_adds(&q, "&prefix=");
        s3_encode(&q, s->prefix, false);
    }
    if (side_list_page(s->s3, q.data, &page, err) < 0) {
        error_wrap(err, "listing %s '%s'", s->what, s->location);
        goto out;
    }
    *is_large = page.is_truncated;
    rc = 0;
out:
    s3_xml_list_release(&page);
    buf_release(&q);
    return rc;
}

struct disc_item {
    char *prefix;
    int depth;
    bool is_leaf; /* listed: no sub-prefix */
};

static int disc_cmp(const void *a, const void *b)
{
    return strcmp(((const struct disc_item *)a)->prefix, ((const struct disc_item *)b)->prefix);
}

int side_discover(struct side *s, const struct mirror_filter *f, char ***prefixes, size_t *count,
                  char ***skipped, size_t *skipped_count, struct error *err)
{
    struct disc_item *items = NULL;
    size_t n = 0;
    char **kids = NULL;
    size_t kid_count = 0;
    bool is_large = false;
    int rc = -1;

    *prefixes = NULL;
    *count = 0;
    *skipped = NULL;
    *skipped_count = 0;
    if (s->type != SIDE_S3)
        return 0;
    if (side_is_large(s, &is_large, err) < 0)
        return -1;
    if (!is_large)
        return 0;
    /* Breadth first: expand the shallowest prefix not yet expanded (one delimiter listing each)
     * until there are SIDE_DISCOVER_MIN boundaries; subtrees the filter skips become ranges of
     * their own and are never expanded. */
    items = xcalloc(1, sizeof(*items));
    items[0].prefix = xstrdup("");
    n = 1;
    for (;;) {
        size_t pick = n;
        size_t live = 0;

        for (size_t i = 0; i < n; i++)
            if (items[i].prefix[0])
                live++;
        if (live >= SIDE_DISCOVER_MIN)
            break;
        for (size_t i = 0; i < n; i++)
            if (!items[i].is_leaf && items[i].depth < 4 &&
                (pick == n || items[i].depth < items[pick].depth))
                pick = i;
        if (pick == n)
            break;
        if (side_children(s, items[pick].prefix, &kids, &kid_count, err) < 0)
            goto out;
        if (kid_count == 0) {
            items[pick].is_leaf = true;
            continue;
        }
        {
            int depth = items[pick].depth + 1;
            /* The parent's own keys (next to its sub-prefixes) stay in the range before its
             * first child: the parent is replaced by its children. */
            xfree(items[pick].prefix);
            items[pick] = items[--n];
            for (size_t k = 0; k < kid_count; k++) {
                if (f && mirror_filter_skips_prefix(f, kids[k])) {
                    *skipped = xreallocarray(*skipped, *skipped_count + 1, sizeof(**skipped));
                    (*skipped)[(*skipped_count)++] = kids[k];
                    continue;
                }
                items = xreallocarray(items, n + 1, sizeof(*items));
                items[n].prefix = kids[k];
                items[n].depth = depth;
                items[n].is_leaf = false;
                n++;
            }
            xfree(kids);
            kids = NULL;
            kid_count = 0;
        }
    }
    if (n > 1)
        qsort(items, n, sizeof(*items), disc_cmp);
    if (*skipped_count > 1)
        qsort(*skipped, *skipped_count, sizeof(**skipped), strp_cmp);
    /* At most SIDE_DISCOVER_MAX boundaries, evenly spread: any subset still covers every key. */
    {
        size_t live = 0;
        size_t step;
        size_t taken = 0;

        for (size_t i = 0; i < n; i++)
            if (items[i].prefix[0])
                live++;
        step = live > SIDE_DISCOVER_MAX ? (live + SIDE_DISCOVER_MAX - 1) / SIDE_DISCOVER_MAX : 1;
        *prefixes = xcalloc(live + 1, sizeof(**prefixes));
        for (size_t i = 0, j = 0; i < n; i++) {
            if (!items[i].prefix[0])
                continue;
            if (j++ % step == 0)
                (*prefixes)[taken++] = items[i].prefix;
            else
                xfree(items[i].prefix);
            items[i].prefix = NULL;
        }
        *count = taken;
    }
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        xfree(items[i].prefix);
    xfree(items);
    strv_free(kids, kid_count);
    if (rc < 0) {
        strv_free(*skipped, *skipped_count);
        *skipped = NULL;
        *skipped_count = 0;
    }
    return rc;
}
