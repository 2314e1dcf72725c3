/* The mirror run: key ranges listed in parallel on both sides and merge-joined, transfers as small
 * state machines over one libcurl multi handle, deletions after the copies behind the guards.
 *
 * Flow: discover key ranges (a few delimiter listings) -> for up to MIRROR_ACTIVE_RANGES ranges at
 * a time, list both sides a page at a time and merge the two sorted streams -> each difference is
 * an action (copy, update) queued for a task, or a deletion written to a spool file (so memory does
 * not grow with the number of deletions) -> when every range is merged and every task ended, the
 * guards decide on the spool -> deletions in DeleteObjects batches -> trash expiry.
 *
 * Memory: at most MIRROR_ACTIVE_RANGES x 2 listing pages, the action queue (2 x concurrency), and
 * the object bytes in flight, capped by MIRROR_MEMORY_BUDGET (objects above the part size move in
 * parts). */
#include "mirror/mirror.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/digest.h"
#include "mirror/filter.h"
#include "mirror/key.h"
#include "mirror/side.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/time.h"
#include "util/xalloc.h"

#define MIRROR_ACTIVE_RANGES 8
#define MIRROR_PART_SIZE     (16ull << 20)
#define MIRROR_MEMORY_BUDGET (192ull << 20)
#define MIRROR_COPY_MAX      (5ull << 30) /* CopyObject's limit; above: UploadPartCopy */
#define MIRROR_COPY_PART     (1ull << 30)
#define MIRROR_MAX_PARTS     10000
#define MIRROR_DELETE_BATCH  1000
#define MIRROR_PROGRESS_MS   250
#define MIRROR_MAX_HEADERS   40
#define MIRROR_CLEANUP_MS    30000
#define MIRROR_PART_SLOTS    4 /* parts of one large object in flight */

const char *mirror_request_name(enum mirror_request r)
{
    static const char *const names[] = {"LIST", "HEAD", "GET", "PUT", "COPY", "DELETE"};

    return (unsigned)r < MIRROR_REQ_COUNT ? names[r] : "?";
}

struct mirror;

/* A request in flight on the shared http client, with the handler its end is reported to. */
struct op {
    void (*on_done)(struct mirror *m, struct op *op, int rc, struct error *err);
    void *owner;
    struct s3_client *client;
    struct s3_call *call;
    int64_t due_ms; /* retry time while waiting on a timer */
    /* A start that failed at once is reported from the timer list, never from inside op_start,
     * so a caller of op_start can go on using what it owns. */
    bool is_start_failed;
    struct error start_err;
};

struct range {
    char *lo;
    char *hi; /* NULL: to the end */
    bool is_skip;
};

struct active {
    struct range *range;
    struct lister src;
    struct lister dst;
    struct op src_op;
    struct op dst_op;
    bool is_used;
};

enum task_kind { TASK_COPY, TASK_DELETE_TRASH, TASK_DELETE_BATCH };

enum task_state {
    T_CHECK_SRC,
    T_CHECK_DST,
    T_ACL,
    T_TRASH,
    T_SERVER_COPY,
    T_META, /* HEAD of the source: the metadata UploadPartCopy does not carry */
    T_READ,
    T_CREATE,
    T_PARTS, /* a multipart upload's parts, MIRROR_PART_SLOTS at a time */
    T_WRITE,
    T_COMPLETE,
    T_FINISH,
    T_DONE,
};

struct task;

/* One part of a multipart transfer in flight: read (ranged GET or pread), then UploadPart. */
struct slot {
    struct op op;
    struct task *t;
    struct s3_call call;
    struct buf data;
    char *key; /* the full key the call names */
    char *query;
    char lines[2][512];
    const char *hdrs[2];
    int part_no;
    uint64_t offset;
    uint64_t len;
    bool is_writing;
    bool is_busy;
};

struct task {
    struct op op;
    struct task *next; /* in m->tasks */
    enum task_kind kind;
    enum task_state state;
    char *key; /* relative */
    uint64_t size;
    time_t src_mtime;
    char src_etag[SIDE_ETAG_MAX];
    char dst_etag[SIDE_ETAG_MAX];
    bool is_update;
    bool is_check; /* checksum mode: compare the content hashes first */
    bool is_server_side;
    bool is_multipart;
    bool is_chunked; /* moved in part_size chunks (ranged GETs) */
    bool is_failed;
    bool is_public;
    char src_md5[48]; /* hex, when known (checksum mode) */
    uint64_t mem;     /* bytes of the memory budget held */

    struct s3_call call;
    /* acl = copy: GetObjectAcl runs beside the GET; the write waits for it (is_parked). */
    struct op acl_op;
    struct s3_call acl_call;
    char *acl_key;
    bool is_acl_pending;
    bool is_parked;
    struct error acl_err;
    struct buf data; /* the chunk in flight */
    uint64_t offset; /* of the chunk */
    uint64_t part_size;
    int part_no;
    char *upload_id;
    char **etags;
    size_t etag_count;
    struct buf lines; /* header lines for the calls, NUL-separated */
    const char *hdrs[MIRROR_MAX_HEADERS];
    size_t hdr_count;
    struct buf meta; /* the source's metadata header lines, NUL-separated */
    char *query;
    char *copy_source;

    int fd_in;
    int fd_out;
    char *tmp_path;
    struct store_reader *reader;
    struct store_writer *writer;

    struct slot *slots; /* T_PARTS */
    int next_part;
    uint64_t next_offset;
    int parts_total;
    int parts_done;

    char **batch; /* TASK_DELETE_BATCH: full keys */
    size_t batch_count;
    uint64_t batch_bytes;
};

struct action {
    char *key;
    uint64_t size;
    time_t mtime;
    char etag[SIDE_ETAG_MAX];
    char dst_etag[SIDE_ETAG_MAX];
    bool is_update;
    bool is_check;
};

struct mirror {
    const struct mirror_options *o;
    struct mirror_stats *st;
    struct http_client *http;
    struct side src;
    struct side dst;
    struct mirror_filter filter;
    bool is_same_service;
    enum mirror_acl acl;
    uint64_t part_size;
    uint64_t copy_max;  /* CopyObject up to this size, UploadPartCopy above */
    uint64_t copy_part; /* UploadPartCopy part size */
    int concurrency;
    char *trash_rel;     /* trash prefix relative to the destination's mirrored tree, when inside */
    char *trash_full;    /* S3: full key prefix of today's trash; local: directory */
    char *mirror_prefix; /* the destination's prefix relative to its store */

    struct range *ranges;
    size_t range_count;
    size_t next_range;
    struct active active[MIRROR_ACTIVE_RANGES];

    struct action *queue; /* ring of pending actions */
    size_t queue_cap;
    size_t queue_head;
    size_t queue_len;

    struct task *tasks;
    size_t task_count;
    uint64_t mem_used;

    struct op **timers;
    size_t timer_count;
    size_t timer_alloc;

    FILE *spool;
    uint64_t spool_count;
    uint64_t spool_bytes;
    bool is_deleting;
    bool is_spool_done;
    char **pending_deletes; /* full keys waiting for a batch */
    size_t pending_count;
    uint64_t pending_bytes;

    bool is_listing_failed;
    struct error listing_err;
    time_t started_at;
    int64_t started_ms;
    int64_t last_progress_ms;
};

/* ---- bookkeeping ---- */

static void count_add(struct mirror_count *c, uint64_t bytes)
{
    c->objects++;
    c->bytes += bytes;
}

static void mirror_note(struct mirror_failure *arr, size_t *n, const char *key, const char *msg)
{
    if (*n >= MIRROR_FAILURES_KEPT)
        return;
    buf_format_fixed(arr[*n].key, sizeof(arr[*n].key), "%s", key);
    buf_format_fixed(arr[*n].error, sizeof(arr[*n].error), "%s", msg);
    (*n)++;
}

static void mirror_fail(struct mirror *m, const char *key, uint64_t bytes, const struct error *e)
{
    count_add(&m->st->failed, bytes);
    mirror_note(m->st->failures, &m->st->failure_count, key, e->msg);
    log_debug("mirror '%s': '%s' failed: %s", m->o->job, key, e->msg);
}

static void mirror_skip(struct mirror *m, const char *key, uint64_t bytes, const char *why)
{
    count_add(&m->st->skipped, bytes);
    mirror_note(m->st->skips, &m->st->skip_count, key, why);
    log_debug("mirror '%s': skipping '%s': %s", m->o->job, key, why);
}

static void mirror_sum_requests(struct mirror *m)
{
    const struct s3_client *cl[2] = {m->src.s3, m->dst.s3};
    static const enum mirror_request map[S3_REQ_KIND_COUNT] = {
        [S3_REQ_LIST] = MIRROR_REQ_LIST, [S3_REQ_HEAD] = MIRROR_REQ_HEAD,
        [S3_REQ_GET] = MIRROR_REQ_GET,   [S3_REQ_PUT] = MIRROR_REQ_PUT,
        [S3_REQ_COPY] = MIRROR_REQ_COPY, [S3_REQ_DELETE] = MIRROR_REQ_DELETE,
    };

    memset(m->st->requests, 0, sizeof(m->st->requests));
    m->st->retries = 0;
    for (size_t i = 0; i < 2; i++) {
        const struct s3_client_counters *c;
        if (!cl[i])
            continue;
        c = s3_client_counters(cl[i]);
        for (size_t k = 0; k < S3_REQ_KIND_COUNT; k++)
            m->st->requests[map[k]] += c->requests[k];
        m->st->retries += c->retries;
    }
}

static void mirror_progress(struct mirror *m, bool is_final)
{
    int64_t now = time_mono_ms();

    if (!is_final && now - m->last_progress_ms < MIRROR_PROGRESS_MS)
        return;
    m->last_progress_ms = now;
    mirror_sum_requests(m);
    m->st->duration_ms = now - m->started_ms;
    if (m->o->progress)
        m->o->progress(m->st, m->o->ctx);
}

/* ---- the loop: requests, retries and timers ---- */

static void op_timer_add(struct mirror *m, struct op *op)
{
    if (m->timer_count == m->timer_alloc) {
        m->timer_alloc = m->timer_alloc ? m->timer_alloc * 2 : 32;
        /* An array of pointers: the element size is a pointer's. */
        /* NOLINTNEXTLINE(bugprone-sizeof-expression) */
        m->timers = xreallocarray(m->timers, m->timer_alloc, sizeof(*m->timers));
    }
    m->timers[m->timer_count++] = op;
}

static void op_timer_remove(struct mirror *m, const struct op *op)
{
    size_t kept = 0;

    for (size_t i = 0; i < m->timer_count; i++)
        if (m->timers[i] != op)
            m->timers[kept++] = m->timers[i];
    m->timer_count = kept;
}

/* Starts op's call. A failure to start is reported to its handler on the next turn of the loop
 * (op_start never calls a handler, which may free the op's owner). */
static void op_start(struct mirror *m, struct op *op)
{
    struct error err = ERROR_INIT;

    op->call->req.user = op;
    if (s3_call_start(op->client, op->call, &err) < 0) {
        op->is_start_failed = true;
        op->start_err = err;
        op->due_ms = 0;
        op_timer_add(m, op);
    }
}

static void op_finished(struct mirror *m, struct op *op)
{
    struct error err = ERROR_INIT;
    long retry_ms = 0;
    int r = s3_call_finish(op->client, op->call, &retry_ms, &err);

    if (r == 1) {
        op->due_ms = time_mono_ms() + retry_ms;
        op_timer_add(m, op);
        return;
    }
    op->on_done(m, op, r, &err);
}

/* Starts (or reports the failed start of) each op whose time has come, one at a time: a handler
 * may end a task whose other ops are in the list too, and task_remove takes them out. */
static void timers_run(struct mirror *m, int64_t *next_due)
{
    int64_t now = time_mono_ms();

    for (;;) {
        struct op *op = NULL;
        size_t at = 0;

        for (size_t i = 0; i < m->timer_count; i++) {
            if (m->timers[i]->due_ms <= now) {
                op = m->timers[i];
                at = i;
                break;
            }
        }
        if (!op)
            break;
        m->timers[at] = m->timers[--m->timer_count];
        if (op->is_start_failed) {
            struct error err = op->start_err;
            op->is_start_failed = false;
            op->on_done(m, op, -1, &err);
        } else {
            op_start(m, op);
        }
    }
    *next_due = -1;
    for (size_t i = 0; i < m->timer_count; i++)
        if (*next_due < 0 || m->timers[i]->due_ms < *next_due)
            *next_due = m->timers[i]->due_ms;
}

/* ---- key ranges ---- */

static char *prefix_succ(const char *p)
{
    char *s = xstrdup(p);
    size_t n = strlen(s);

    ASSERT(n > 0 && s[n - 1] == '/');
    s[n - 1] = '0'; /* '/' + 1: the first key after every key starting with p */
    return s;
}

static void ranges_add(struct mirror *m, const char *lo, const char *hi, bool is_skip)
{
    struct range *r;

    m->ranges = xreallocarray(m->ranges, m->range_count + 1, sizeof(*m->ranges));
    r = &m->ranges[m->range_count++];
    r->lo = xstrdup(lo);
    r->hi = hi ? xstrdup(hi) : NULL;
    r->is_skip = is_skip;
}

/* Contiguous ranges covering every key: boundaries at the discovered prefixes; a skipped prefix P
 * is the range [P, succ(P)) exactly. */
static int ranges_build(struct mirror *m, struct error *err)
{
    struct side *s = m->src.type == SIDE_S3 ? &m->src : m->dst.type == SIDE_S3 ? &m->dst : NULL;

    /* A store behind the rclone binary is listed whole for each range: one range then. */
    if (m->src.type == SIDE_STORE || m->dst.type == SIDE_STORE)
        s = NULL;
    char **pre = NULL;
    char **skip = NULL;
    size_t pre_count = 0;
    size_t skip_count = 0;
    char **points = NULL;
    bool *is_skip_start = NULL;
    size_t np = 0;
    const char *lo = "";
    int rc = -1;

    if (s && side_discover(s, &m->filter, &pre, &pre_count, &skip, &skip_count, err) < 0) {
        m->is_listing_failed = true;
        goto out;
    }
    points = xcalloc(pre_count + 2 * skip_count + 1, sizeof(*points));
    is_skip_start = xcalloc(pre_count + 2 * skip_count + 1, sizeof(*is_skip_start));
    /* Merge the two sorted lists; a skipped prefix contributes P (skip start) and succ(P). */
    for (size_t i = 0, j = 0; i < pre_count || j < skip_count;) {
        if (j >= skip_count || (i < pre_count && strcmp(pre[i], skip[j]) < 0)) {
            points[np++] = xstrdup(pre[i++]);
        } else {
            is_skip_start[np] = true;
            points[np++] = xstrdup(skip[j]);
            points[np++] = prefix_succ(skip[j++]);
        }
    }
    for (size_t i = 0; i < np; i++) {
        if (strcmp(points[i], lo) > 0 || (i == 0 && *points[i])) {
            ranges_add(m, lo, points[i], false);
        }
        lo = points[i];
        if (is_skip_start[i]) {
            ranges_add(m, points[i], points[i + 1], true);
            lo = points[i + 1];
            i++;
        }
    }
    ranges_add(m, lo, NULL, false);
    rc = 0;
out:
    for (size_t i = 0; i < pre_count; i++)
        xfree(pre[i]);
    for (size_t i = 0; i < skip_count; i++)
        xfree(skip[i]);
    for (size_t i = 0; i < np; i++)
        xfree(points[i]);
    xfree(pre);
    xfree(skip);
    xfree(points);
    xfree(is_skip_start);
    return rc;
}

/* ---- change detection ---- */

enum change { CHANGE_NONE, CHANGE_YES, CHANGE_CHECK };

static enum change mirror_compare(const struct mirror_entry *s, const struct mirror_entry *d,
                                  bool is_checksum)
{
    if (s->size_bytes != d->size_bytes)
        return CHANGE_YES;
    if (s->is_md5 && d->is_md5)
        return strcasecmp(s->etag, d->etag) == 0 ? CHANGE_NONE : CHANGE_YES;
    if (is_checksum)
        return CHANGE_CHECK;
    /* A one-way mirror's copy is always written after its source was. */
    return d->mtime >= s->mtime ? CHANGE_NONE : CHANGE_YES;
}

/* ---- the merge ---- */

static bool queue_full(const struct mirror *m)
{
    return m->queue_len >= m->queue_cap;
}

static void queue_push(struct mirror *m, const struct mirror_entry *e, const struct mirror_entry *d,
                       bool is_update, bool is_check)
{
    struct action *a = &m->queue[(m->queue_head + m->queue_len++) % m->queue_cap];

    memset(a, 0, sizeof(*a));
    a->key = xstrdup(e->key);
    a->size = e->size_bytes;
    a->mtime = e->mtime;
    memcpy(a->etag, e->etag, sizeof(a->etag));
    if (d)
        memcpy(a->dst_etag, d->etag, sizeof(a->dst_etag));
    a->is_update = is_update;
    a->is_check = is_check;
}

static void spool_add(struct mirror *m, const struct mirror_entry *d)
{
    uint32_t n = (uint32_t)strlen(d->key);

    if (!m->spool) {
        m->spool = tmpfile();
        if (!m->spool) {
            struct error e = ERROR_INIT;
            error_errno(&e, ERR_IO, "deletion list: cannot create a temporary file");
            if (!m->is_listing_failed)
                m->listing_err = e;
            m->is_listing_failed = true; /* no deletion without the full list */
            return;
        }
    }
    if (fwrite(&n, sizeof(n), 1, m->spool) != 1 || fwrite(d->key, 1, n, m->spool) != n ||
        fwrite(&d->size_bytes, sizeof(d->size_bytes), 1, m->spool) != 1) {
        struct error e = ERROR_INIT;
        error_errno(&e, ERR_IO, "deletion list: cannot write the temporary file");
        if (!m->is_listing_failed)
            m->listing_err = e;
        m->is_listing_failed = true;
        return;
    }
    m->spool_count++;
    m->spool_bytes += d->size_bytes;
    m->st->to_delete++;
}

/* Whether a source key may be written at the destination; records the skip when not. */
static bool mirror_key_ok(struct mirror *m, const struct mirror_entry *e)
{
    const char *why = NULL;

    if (m->dst.type == SIDE_LOCAL)
        why = mirror_key_local_problem(e->key, strlen(e->key));
    else if (m->dst.type == SIDE_S3 && strlen(m->dst.prefix) + strlen(e->key) > MIRROR_KEY_S3_MAX)
        why = "key longer than 1024 bytes with the destination prefix";
    else if (m->src.type == SIDE_LOCAL && m->dst.type == SIDE_S3)
        why = mirror_key_s3_problem(e->key, strlen(e->key));
    if (!why)
        return true;
    mirror_skip(m, e->key, e->size_bytes, why);
    return false;
}

static void mirror_emit(struct mirror *m, const struct mirror_entry *s,
                        const struct mirror_entry *d, bool is_update, bool is_check)
{
    if (m->o->is_dry_run)
        is_check = false; /* a dry run compares no content: a possible update is listed */
    if (!is_check) {
        m->st->to_copy++;
        m->st->to_copy_bytes += s->size_bytes;
    }
    if (m->o->is_dry_run) {
        if (!is_check && m->o->plan)
            m->o->plan(is_update ? MIRROR_ACTION_UPDATE : MIRROR_ACTION_COPY, s->key, s->size_bytes,
                       m->o->ctx);
        count_add(is_update ? &m->st->updated : &m->st->copied, s->size_bytes);
        return;
    }
    queue_push(m, s, d, is_update, is_check);
}

/* Merges what both listings of a range have buffered. Returns true when the range is done. */
static bool merge_range(struct mirror *m, struct active *a)
{
    for (;;) {
        const struct mirror_entry *s;
        const struct mirror_entry *d;
        int c;

        /* After a failed listing a missing key proves nothing: stop deciding. */
        if (queue_full(m) || m->is_listing_failed)
            return false;
        s = lister_peek(&a->src);
        d = lister_peek(&a->dst);
        if ((!s && !a->src.is_end) || (!d && !a->dst.is_end))
            return false; /* wait for a page */
        if (!s && !d)
            return true;
        c = !s ? 1 : !d ? -1 : strcmp(s->key, d->key);
        if (c < 0) {
            if (mirror_filter_allows(&m->filter, s->key)) {
                count_add(&m->st->source, s->size_bytes);
                if (mirror_key_ok(m, s))
                    mirror_emit(m, s, NULL, false, false);
            }
            lister_next(&a->src);
        } else if (c > 0) {
            if (mirror_filter_allows(&m->filter, d->key)) {
                count_add(&m->st->destination, d->size_bytes);
                spool_add(m, d);
            }
            lister_next(&a->dst);
        } else {
            if (mirror_filter_allows(&m->filter, s->key)) {
                enum change ch = mirror_compare(s, d, m->o->is_checksum);
                count_add(&m->st->source, s->size_bytes);
                count_add(&m->st->destination, d->size_bytes);
                if (ch == CHANGE_NONE)
                    count_add(&m->st->unchanged, s->size_bytes);
                else
                    mirror_emit(m, s, d, true, ch == CHANGE_CHECK);
            }
            lister_next(&a->src);
            lister_next(&a->dst);
        }
    }
}

static void list_on_done(struct mirror *m, struct op *op, int rc, struct error *err)
{
    struct lister *l = op->owner;

    if (rc == 0 && lister_take_page(l, err) == 0)
        return;
    l->is_fetching = false;
    l->is_end = true;
    if (!m->is_listing_failed) {
        m->listing_err = *err;
        error_wrap(&m->listing_err, "listing %s '%s'", l->side->what, l->side->location);
    }
    m->is_listing_failed = true;
}

/* Makes sure l has data or a fetch in flight. */
static void lister_feed(struct mirror *m, struct lister *l, struct op *op)
{
    struct error err = ERROR_INIT;

    if (l->is_end || lister_peek(l) || l->is_fetching)
        return;
    if (l->side->type != SIDE_S3) {
        if (lister_fill_sync(l, &err) < 0) {
            l->is_end = true;
            if (!m->is_listing_failed)
                m->listing_err = err;
            m->is_listing_failed = true;
        }
        return;
    }
    lister_prepare_call(l);
    op->on_done = list_on_done;
    op->owner = l;
    op->client = l->side->s3;
    op->call = &l->call;
    op_start(m, op);
}

static void active_release(struct mirror *m, struct active *a)
{
    http_cancel(m->http, &a->src.call.req);
    http_cancel(m->http, &a->dst.call.req);
    lister_release(&a->src);
    lister_release(&a->dst);
    memset(a, 0, sizeof(*a));
}

/* Advances the listings and merges; returns true when every range is merged. */
static bool mirror_list_step(struct mirror *m)
{
    bool is_all_done = true;

    for (size_t i = 0; i < MIRROR_ACTIVE_RANGES; i++) {
        struct active *a = &m->active[i];

        while (!a->is_used && m->next_range < m->range_count && !cancel_requested()) {
            struct range *r = &m->ranges[m->next_range++];
            if (r->is_skip)
                continue;
            a->is_used = true;
            a->range = r;
            lister_init(&a->src, &m->src, r->lo, r->hi, m->trash_rel);
            lister_init(&a->dst, &m->dst, r->lo, r->hi, m->trash_rel);
            /* A dry run changes nothing, and may overlap a real run writing such a file. */
            if (!m->o->is_dry_run)
                a->dst.stale_before = m->started_at;
        }
        if (!a->is_used)
            continue;
        is_all_done = false;
        for (;;) {
            bool is_done;
            lister_feed(m, &a->src, &a->src_op);
            lister_feed(m, &a->dst, &a->dst_op);
            is_done = merge_range(m, a);
            if (is_done && !a->src.is_fetching && !a->dst.is_fetching) {
                active_release(m, a);
                break;
            }
            /* Keep going while local listings (synchronous) can make progress. */
            if (queue_full(m) || a->src.is_fetching || a->dst.is_fetching ||
                (!lister_peek(&a->src) && !a->src.is_end) ||
                (!lister_peek(&a->dst) && !a->dst.is_end))
                break;
        }
        if (!a->is_used)
            i--; /* refill this slot with the next range */
        if (m->is_listing_failed || cancel_requested())
            break;
    }
    return is_all_done && m->next_range >= m->range_count;
}

/* ---- tasks ---- */

static void task_free(struct task *t)
{
    if (t->fd_in >= 0)
        close(t->fd_in);
    if (t->fd_out >= 0)
        close(t->fd_out);
    if (t->tmp_path) {
        (void)unlink(t->tmp_path);
        xfree(t->tmp_path);
    }
    store_reader_close(t->reader);
    store_writer_abort(t->writer);
    s3_call_release(&t->call);
    s3_call_release(&t->acl_call);
    xfree(t->acl_key);
    buf_release(&t->data);
    buf_release(&t->lines);
    buf_release(&t->meta);
    for (size_t i = 0; i < t->etag_count || i < (size_t)t->parts_total; i++)
        xfree(t->etags[i]);
    xfree(t->etags);
    for (int i = 0; t->slots && i < MIRROR_PART_SLOTS; i++) {
        s3_call_release(&t->slots[i].call);
        buf_release(&t->slots[i].data);
        xfree(t->slots[i].key);
        xfree(t->slots[i].query);
    }
    xfree(t->slots);
    for (size_t i = 0; i < t->batch_count; i++)
        xfree(t->batch[i]);
    xfree(t->batch);
    xfree(t->upload_id);
    xfree(t->query);
    xfree(t->copy_source);
    xfree(t->key);
    xfree(t);
}

static struct task *task_new(struct mirror *m, enum task_kind kind)
{
    struct task *t = xcalloc(1, sizeof(*t));

    t->kind = kind;
    t->fd_in = -1;
    t->fd_out = -1;
    t->op.owner = t;
    t->op.call = &t->call;
    s3_call_init(&t->call);
    s3_call_init(&t->acl_call);
    buf_init(&t->data, BUF_NO_CAP);
    buf_init(&t->lines, BUF_NO_CAP);
    buf_init(&t->meta, 64u << 10);
    t->next = m->tasks;
    m->tasks = t;
    m->task_count++;
    return t;
}

static void task_remove(struct mirror *m, struct task *t)
{
    struct task **pp = &m->tasks;

    http_cancel(m->http, &t->call.req);
    op_timer_remove(m, &t->op);
    http_cancel(m->http, &t->acl_call.req);
    op_timer_remove(m, &t->acl_op);
    for (int i = 0; t->slots && i < MIRROR_PART_SLOTS; i++) {
        http_cancel(m->http, &t->slots[i].call.req);
        op_timer_remove(m, &t->slots[i].op);
    }
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
    m->task_count--;
    m->mem_used -= t->mem;
    task_free(t);
}

/* Header lines for the next call: reset, then add. */
static void hdr_reset(struct task *t)
{
    buf_reset(&t->lines);
    t->hdr_count = 0;
}

static void hdr_add(struct task *t, const char *fmt, ...) PRINTF(2, 3);
static void hdr_add(struct task *t, const char *fmt, ...)
{
    va_list ap;
    char line[2048];
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ASSERT(n >= 0 && (size_t)n < sizeof(line) && t->hdr_count < MIRROR_MAX_HEADERS);
    ASSERT(buf_add(&t->lines, line, (size_t)n + 1));
    t->hdr_count++;
}

static void hdr_fix(struct task *t)
{
    const char *p = t->lines.data;

    for (size_t i = 0; i < t->hdr_count; i++) {
        t->hdrs[i] = p;
        p += strlen(p) + 1;
    }
    t->call.headers = t->hdrs;
    t->call.header_count = t->hdr_count;
}

/* x-amz-copy-source for CopyObject / UploadPartCopy: "/BUCKET/KEY", both encoded. */
static void hdr_add_copy_source(struct task *t, struct s3_client *c, const char *full_key)
{
    struct buf src;

    buf_init(&src, BUF_NO_CAP);
    buf_adds(&src, "/");
    s3_encode(&src, s3_client_bucket(c), false);
    buf_adds(&src, "/");
    s3_encode(&src, full_key, true);
    hdr_add(t, "x-amz-copy-source: %s", src.data);
    buf_release(&src);
}

/* Prepares t->call afresh for a request on client. */
static void task_call(struct task *t, struct s3_client *client, const char *method,
                      const char *full_key, const char *query)
{
    s3_call_release(&t->call);
    s3_call_init(&t->call);
    xfree(t->query);
    t->query = query ? xstrdup(query) : NULL;
    xfree(t->copy_source);
    t->copy_source = full_key ? xstrdup(full_key) : NULL; /* owns the key string */
    t->call.method = method;
    t->call.key = t->copy_source;
    t->call.query = t->query;
    t->op.client = client;
    t->op.call = &t->call;
    hdr_fix(t);
}

static char *src_full_key(const struct mirror *m, const char *key)
{
    return xasprintf("%s%s", m->src.prefix, key);
}

static char *dst_full_key(const struct mirror *m, const char *key)
{
    return xasprintf("%s%s", m->dst.prefix, key);
}

/* Prepares t->call as the copy of the destination's key into today's trash. */
static void task_call_trash_copy(struct mirror *m, struct task *t, const char *key)
{
    char *fk = dst_full_key(m, key);
    char *tk = xasprintf("%s%s%s", m->trash_full, m->mirror_prefix, key);

    hdr_reset(t);
    hdr_add_copy_source(t, m->dst.s3, fk);
    hdr_add(t, "x-amz-metadata-directive: COPY");
    task_call(t, m->dst.s3, "PUT", tk, NULL);
    xfree(fk);
    xfree(tk);
}

/* The canned ACL for the destination object. */
static const char *task_acl(const struct mirror *m, const struct task *t)
{
    switch (m->acl) {
    case MIRROR_ACL_PUBLIC_READ:
        return "public-read";
    case MIRROR_ACL_COPY:
        return t->is_public ? "public-read" : "private";
    case MIRROR_ACL_PRIVATE:
    case MIRROR_ACL_DEFAULT:
        break;
    }
    return "private";
}

/* Keeps the response headers worth carrying to the copy: content headers and user metadata. */
static void task_keep_meta(struct task *t, const struct http_request *r)
{
    static const char *const keep[] = {"content-type:",        "cache-control:",
                                       "content-disposition:", "content-encoding:",
                                       "content-language:",    "expires:",
                                       "x-amz-meta-",          "x-amz-website-redirect-location:"};
    const char *p = r->header_block.data;
    size_t kept = 0;

    buf_reset(&t->meta);
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
            if (n > strlen(keep[i]) && strncasecmp(p, keep[i], strlen(keep[i])) == 0 &&
                kept < MIRROR_MAX_HEADERS - 8 && n < 2000) {
                if (buf_add(&t->meta, p, n) && buf_add(&t->meta, "", 1))
                    kept++;
                break;
            }
        }
        p = eol ? eol + 2 : p + n;
    }
}

static const char *mime_for(const char *key)
{
    static const char *const map[][2] = {
        {".jpg", "image/jpeg"},        {".jpeg", "image/jpeg"},
        {".png", "image/png"},         {".gif", "image/gif"},
        {".webp", "image/webp"},       {".avif", "image/avif"},
        {".heic", "image/heic"},       {".svg", "image/svg+xml"},
        {".mp4", "video/mp4"},         {".webm", "video/webm"},
        {".mov", "video/quicktime"},   {".mp3", "audio/mpeg"},
        {".ogg", "audio/ogg"},         {".oga", "audio/ogg"},
        {".opus", "audio/ogg"},        {".wav", "audio/wav"},
        {".flac", "audio/flac"},       {".m4a", "audio/mp4"},
        {".json", "application/json"}, {".txt", "text/plain"},
        {".css", "text/css"},          {".html", "text/html"},
        {".ico", "image/x-icon"},      {".bin", "application/octet-stream"},
    };
    const char *dot = strrchr(key, '.');

    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            if (strcasecmp(dot, map[i][0]) == 0)
                return map[i][1];
    return "application/octet-stream";
}

/* The metadata lines for a PUT or CreateMultipartUpload. */
static void hdr_add_meta(struct mirror *m, struct task *t)
{
    const char *p = t->meta.data;
    const char *end = t->meta.data + t->meta.len;
    bool has_type = false;

    while (p < end) {
        if (strncasecmp(p, "content-type:", 13) == 0)
            has_type = true;
        hdr_add(t, "%s", p);
        p += strlen(p) + 1;
    }
    if (!has_type)
        hdr_add(t, "Content-Type: %s", mime_for(t->key));
    if (m->dst.type == SIDE_S3)
        hdr_add(t, "x-amz-acl: %s", task_acl(m, t));
}

static void task_done(struct mirror *m, struct task *t)
{
    if (t->kind == TASK_COPY && !t->is_failed) {
        if (t->state == T_DONE && t->is_update)
            count_add(&m->st->updated, t->size);
        else if (t->state == T_DONE)
            count_add(&m->st->copied, t->size);
        if (t->is_server_side && t->state == T_DONE)
            m->st->server_side_copies++;
    }
    task_remove(m, t);
}

/* Aborts t's multipart upload, if any, so no part lingers; sent once even after a signal. */
static void task_abort_upload(struct mirror *m, struct task *t)
{
    if (t->upload_id) {
        /* Abort the upload so no part lingers; once, even after a signal. */
        struct s3_call c;
        struct error e2 = ERROR_INIT;
        char *q = xasprintf("uploadId=%s", t->upload_id);
        char *fk = dst_full_key(m, t->key);
        s3_call_init(&c);
        c.method = "DELETE";
        c.key = fk;
        c.query = q;
        c.is_404_ok = true;
        c.is_cleanup = true;
        c.timeout_ms = MIRROR_CLEANUP_MS;
        http_cancel(m->http, &t->call.req);
        for (int i = 0; t->slots && i < MIRROR_PART_SLOTS; i++)
            http_cancel(m->http, &t->slots[i].call.req);
        (void)s3_call_run(m->dst.s3, &c, &e2);
        s3_call_release(&c);
        xfree(q);
        xfree(fk);
        xfree(t->upload_id);
        t->upload_id = NULL;
    }
}

static void task_failed(struct mirror *m, struct task *t, struct error *err)
{
    t->is_failed = true;
    if (t->kind == TASK_DELETE_BATCH) {
        for (size_t i = 0; i < t->batch_count; i++)
            mirror_fail(m, t->batch[i], 0, err);
    } else {
        mirror_fail(m, t->key, t->size, err);
    }
    task_abort_upload(m, t);
    task_remove(m, t);
}

static void task_advance(struct mirror *m, struct task *t);

/* Checksum mode: the content hashes agree, nothing to copy; ends t. */
static void task_end_unchanged(struct mirror *m, struct task *t)
{
    count_add(&m->st->unchanged, t->size);
    t->is_failed = true; /* nothing copied: not counted as a copy */
    task_remove(m, t);
}

/* Checksum mode: the hashes differ, or one cannot be known without reading it all: copy. */
static void task_check_copy(struct mirror *m, struct task *t)
{
    m->st->to_copy++;
    m->st->to_copy_bytes += t->size;
    t->is_check = false;
    t->state = T_ACL;
}

static void task_on_done(struct mirror *m, struct op *op, int rc, struct error *err)
{
    struct task *t = op->owner;
    struct error e2 = ERROR_INIT;

    if (rc < 0) {
        /* A source object deleted since the listing: nothing to copy any more. */
        if ((t->state == T_READ || t->state == T_SERVER_COPY || t->state == T_META ||
             t->state == T_CHECK_SRC) &&
            t->call.req.status == 404 && t->kind == TASK_COPY) {
            mirror_skip(m, t->key, t->size, "gone from the source since the listing");
            t->is_failed = true; /* not counted as copied */
            task_abort_upload(m, t);
            task_remove(m, t);
            return;
        }
        if (t->call.req.status == 412)
            error_hint(err, "the source object changed during the copy; the next run copies it");
        task_failed(m, t, err);
        return;
    }
    switch (t->state) {
    case T_CHECK_SRC: {
        char v[128] = "";
        if (s3_call_header(&t->call, "x-amz-meta-md5chksum", v, sizeof(v)))
            buf_format_fixed(t->src_md5, sizeof(t->src_md5), "%s", v);
        t->state = T_CHECK_DST;
        break;
    }
    case T_CHECK_DST: {
        char v[128] = "";
        (void)s3_call_header(&t->call, "x-amz-meta-md5chksum", v, sizeof(v));
        if (t->src_md5[0] && v[0] && strcmp(t->src_md5, v) == 0) {
            task_end_unchanged(m, t);
            return;
        }
        task_check_copy(m, t);
        break;
    }
    case T_TRASH: {
        char *etag = NULL;
        if (s3_xml_parse_copy(t->call.req.body.data, t->call.req.body.len, &etag, NULL, &e2) < 0) {
            error_wrap(&e2, "moving the old version to the trash");
            task_failed(m, t, &e2);
            return;
        }
        xfree(etag);
        count_add(&m->st->trashed, t->size);
        t->state = t->is_server_side ? T_SERVER_COPY : T_READ;
        break;
    }
    case T_SERVER_COPY:
        if (!t->is_multipart) {
            char *etag = NULL;
            if (s3_xml_parse_copy(t->call.req.body.data, t->call.req.body.len, &etag, NULL, &e2) <
                0) {
                task_failed(m, t, &e2);
                return;
            }
            xfree(etag);
            t->state = T_DONE;
        } else {
            char *etag = NULL;
            if (s3_xml_parse_copy(t->call.req.body.data, t->call.req.body.len, &etag, NULL, &e2) <
                0) {
                task_failed(m, t, &e2);
                return;
            }
            t->etags = xreallocarray(t->etags, t->etag_count + 1, sizeof(*t->etags));
            t->etags[t->etag_count++] = etag;
            t->offset += t->part_size;
            t->part_no++;
            if (t->offset >= t->size)
                t->state = T_COMPLETE;
        }
        break;
    case T_META:
        task_keep_meta(t, &t->call.req);
        t->state = T_CREATE;
        break;
    case T_READ:
        if (t->call.req.is_body_truncated ||
            t->call.req.body.len !=
                (t->size - t->offset < t->part_size ? t->size - t->offset : t->part_size)) {
            error_set(&e2, ERR_REMOTE,
                      "source object '%s' is not the size the listing gave (%" PRIu64
                      " bytes); it changed during the copy",
                      t->key, t->size);
            error_hint(&e2, "the next run copies it");
            task_failed(m, t, &e2);
            return;
        }
        if (t->offset == 0)
            task_keep_meta(t, &t->call.req);
        /* The chunk: hand the body over instead of copying it. */
        buf_release(&t->data);
        t->data = t->call.req.body;
        buf_init(&t->call.req.body, BUF_NO_CAP);
        m->st->bytes_transferred += t->data.len;
        t->state = t->is_multipart && t->part_no == 1 && !t->upload_id ? T_CREATE : T_WRITE;
        break;
    case T_CREATE:
        if (s3_xml_parse_initiate(t->call.req.body.data, t->call.req.body.len, &t->upload_id, &e2) <
            0) {
            task_failed(m, t, &e2);
            return;
        }
        t->state = t->is_server_side ? T_SERVER_COPY : T_PARTS;
        break;
    case T_WRITE:
        if (t->is_multipart) {
            char etag[256] = "";
            if (!s3_call_header(&t->call, "ETag", etag, sizeof(etag)) || !etag[0]) {
                error_set(&e2, ERR_REMOTE, "UploadPart of '%s' answered without an ETag", t->key);
                task_failed(m, t, &e2);
                return;
            }
            t->etags = xreallocarray(t->etags, t->etag_count + 1, sizeof(*t->etags));
            t->etags[t->etag_count++] = xstrdup(etag);
        }
        t->offset += t->data.len;
        t->part_no++;
        buf_release(&t->data);
        buf_init(&t->data, BUF_NO_CAP);
        t->state = t->offset >= t->size ? (t->is_multipart ? T_COMPLETE : T_DONE) : T_READ;
        break;
    case T_COMPLETE: {
        char *etag = NULL;
        if (s3_xml_parse_complete(t->call.req.body.data, t->call.req.body.len, &etag, NULL, &e2) <
            0) {
            task_failed(m, t, &e2);
            return;
        }
        xfree(etag);
        xfree(t->upload_id);
        t->upload_id = NULL;
        t->state = T_DONE;
        break;
    }
    default:
        ASSERT(!"unexpected task state");
    }
    task_advance(m, t);
}

static void acl_on_done(struct mirror *m, struct op *op, int rc, struct error *err)
{
    struct task *t = op->owner;

    t->is_acl_pending = false;
    if (rc < 0)
        t->acl_err = *err;
    else if (s3_xml_parse_acl(t->acl_call.req.body.data, t->acl_call.req.body.len, &t->is_public,
                              &t->acl_err) < 0)
        error_wrap(&t->acl_err, "reading the ACL of '%s'", t->key);
    if (t->is_parked) {
        t->is_parked = false;
        task_advance(m, t);
    }
}

/* Whether t may send the request that sets the destination's ACL; parks t until GetObjectAcl
 * has answered. Returns -1 with err when GetObjectAcl failed. */
static int task_acl_ready(struct task *t, bool *is_ready, struct error *err)
{
    *is_ready = !t->is_acl_pending;
    if (t->is_acl_pending) {
        t->is_parked = true;
        return 0;
    }
    if (t->acl_err.kind != ERR_NONE) {
        *err = t->acl_err;
        return -1;
    }
    return 0;
}

/* ---- local and store I/O (synchronous) ---- */

static int local_read_chunk(struct mirror *m, struct task *t, uint64_t len, struct error *err)
{
    if (t->fd_in < 0) {
        char *path = side_local_path(&m->src, t->key);
        t->fd_in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (t->fd_in < 0) {
            int e = errno;
            error_errno(err, ERR_IO, "cannot open '%s'", path);
            xfree(path);
            return e == ENOENT ? 1 : -1;
        }
        xfree(path);
    }
    buf_reset(&t->data);
    ASSERT(buf_reserve(&t->data, len));
    while (t->data.len < len) {
        ssize_t n = pread(t->fd_in, t->data.data + t->data.len, len - t->data.len,
                          (off_t)(t->offset + t->data.len));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return error_errno(err, ERR_IO, "reading '%s'", t->key);
        if (n == 0)
            return error_set(err, ERR_IO, "'%s' shrank while being copied", t->key);
        t->data.len += (size_t)n;
    }
    t->data.data[t->data.len] = '\0';
    return 0;
}

static int store_read_chunk(struct mirror *m, struct task *t, uint64_t len, struct error *err)
{
    if (!t->reader) {
        char *k = xasprintf("%s%s", m->src.store_key_prefix, t->key);
        int rc = store_get_open(m->src.store, k, &t->reader, err);
        xfree(k);
        if (rc < 0)
            return -1;
    }
    buf_reset(&t->data);
    ASSERT(buf_reserve(&t->data, len));
    while (t->data.len < len) {
        size_t got = 0;
        if (store_reader_read(t->reader, t->data.data + t->data.len, len - t->data.len, &got, err) <
            0)
            return -1;
        if (got == 0)
            return error_set(err, ERR_IO, "'%s' shrank while being copied", t->key);
        t->data.len += got;
    }
    return 0;
}

/* Makes the directories of a local destination path (0755: a web server serves them). */
static int local_mkdirs(const char *path, struct error *err)
{
    char *dir = fs_dirname(path);
    int rc = fs_mkdir_p(dir, 0755, err);

    xfree(dir);
    return rc;
}

static int local_write_chunk(struct mirror *m, struct task *t, struct error *err)
{
    if (t->fd_out < 0) {
        char *path = side_local_path(&m->dst, t->key);
        char *dir = fs_dirname(path);
        int rc = local_mkdirs(path, err);
        xfree(path);
        if (rc < 0) {
            xfree(dir);
            return -1;
        }
        t->tmp_path = xasprintf("%s/" SIDE_LOCAL_TMP "XXXXXX", dir);
        xfree(dir);
        t->fd_out = mkostemp(t->tmp_path, O_CLOEXEC);
        if (t->fd_out < 0) {
            error_errno(err, ERR_IO, "cannot create a file in the destination for '%s'", t->key);
            xfree(t->tmp_path);
            t->tmp_path = NULL;
            return -1;
        }
    }
    return fs_write_all(t->fd_out, t->data.data, t->data.len, t->tmp_path, err);
}

static int local_trash(struct mirror *m, const char *key, struct error *err);

static int local_finish(struct mirror *m, struct task *t, struct error *err)
{
    struct timespec times[2];
    mode_t mask = umask(0);
    char *path;

    umask(mask);
    if (t->fd_out < 0 && local_write_chunk(m, t, err) < 0) /* a zero-byte file */
        return -1;
    times[0].tv_sec = t->src_mtime;
    times[0].tv_nsec = 0;
    times[1] = times[0];
    if (fchmod(t->fd_out, 0666 & ~mask) < 0 || futimens(t->fd_out, times) < 0)
        return error_errno(err, ERR_IO, "setting the mode and time of '%s'", t->tmp_path);
    if (close(t->fd_out) < 0) {
        t->fd_out = -1;
        return error_errno(err, ERR_IO, "writing '%s'", t->tmp_path);
    }
    t->fd_out = -1;
    /* The old version leaves for the trash only now that the new one is complete, so a failed
     * copy never leaves the key without an object. */
    if (t->is_update && m->trash_full) {
        if (local_trash(m, t->key, err) < 0)
            return -1;
        count_add(&m->st->trashed, t->size);
    }
    path = side_local_path(&m->dst, t->key);
    if (rename(t->tmp_path, path) < 0) {
        error_errno(err, ERR_IO, "cannot rename '%s' to '%s'", t->tmp_path, path);
        xfree(path);
        return -1;
    }
    xfree(path);
    xfree(t->tmp_path);
    t->tmp_path = NULL;
    return 0;
}

/* Moves a destination object to today's trash (local destinations). */
static int local_trash(struct mirror *m, const char *key, struct error *err)
{
    char *from = side_local_path(&m->dst, key);
    char *to = xasprintf("%s/%s%s", m->trash_full, m->mirror_prefix, key);
    int rc = -1;

    if (local_mkdirs(to, err) < 0)
        goto out;
    if (rename(from, to) < 0 && errno != ENOENT) {
        error_errno(err, ERR_IO, "cannot move '%s' to the trash '%s'", from, to);
        goto out;
    }
    rc = 0;
out:
    xfree(from);
    xfree(to);
    return rc;
}

/* Removes now-empty directories from path's parent up to (not including) the root. */
static void local_prune_dirs(const struct side *s, const char *path)
{
    char *dir = fs_dirname(path);
    size_t root_len = strlen(s->root);

    while (strlen(dir) > root_len && rmdir(dir) == 0) {
        char *up = fs_dirname(dir);
        xfree(dir);
        dir = up;
    }
    xfree(dir);
}

static uint64_t task_chunk_len(const struct task *t)
{
    uint64_t left = t->size - t->offset;

    return left < t->part_size ? left : t->part_size;
}

/* Local file MD5 (checksum mode). */
static int local_md5(const struct side *s, const char *key, char out[33], struct error *err)
{
    char *path = side_local_path(s, key);
    struct digest_md5 *d = digest_md5_new();
    unsigned char h[DIGEST_MD5_LEN];
    char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int rc = -1;

    if (fd < 0) {
        error_errno(err, ERR_IO, "cannot open '%s'", path);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error_errno(err, ERR_IO, "reading '%s'", path);
            goto out;
        }
        if (n == 0)
            break;
        digest_md5_update(d, buf, (size_t)n);
    }
    digest_md5_final(d, h);
    digest_hex(h, sizeof(h), out);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    digest_md5_free(d);
    xfree(path);
    return rc;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* base64 of a hex MD5, as rclone's X-Amz-Meta-Md5chksum holds it. */
static void md5_hex_to_b64(const char *hex, char out[48])
{
    unsigned char b[16];

    for (size_t i = 0; i < 16; i++) {
        int hi = hex_digit(hex[2 * i]);
        int lo = hex_digit(hex[2 * i + 1]);
        b[i] = (unsigned char)((hi < 0 ? 0 : hi) * 16 + (lo < 0 ? 0 : lo));
    }
    digest_base64(b, sizeof(b), out);
}

static void slot_on_done(struct mirror *m, struct op *op, int rc, struct error *err);

/* Sends the UploadPart of a slot whose data is read. */
static void slot_write(struct mirror *m, struct slot *sl)
{
    struct task *t = sl->t;
    unsigned char h[DIGEST_MD5_LEN];
    char b64[32];

    digest_md5(sl->data.data, sl->data.len, h);
    digest_base64(h, sizeof(h), b64);
    s3_call_release(&sl->call);
    s3_call_init(&sl->call);
    xfree(sl->query);
    sl->query = xasprintf("partNumber=%d&uploadId=%s", sl->part_no, t->upload_id);
    xfree(sl->key);
    sl->key = dst_full_key(m, t->key);
    (void)snprintf(sl->lines[0], sizeof(sl->lines[0]), "Content-MD5: %s", b64);
    sl->hdrs[0] = sl->lines[0];
    sl->call.method = "PUT";
    sl->call.key = sl->key;
    sl->call.query = sl->query;
    sl->call.headers = sl->hdrs;
    sl->call.header_count = 1;
    sl->call.body = sl->data.data;
    sl->call.body_len = sl->data.len;
    sl->is_writing = true;
    sl->op.client = m->dst.s3;
    sl->op.call = &sl->call;
    op_start(m, &sl->op);
}

/* Gives a free slot the next part; false when every part is handed out. A local read error is
 * left in err. */
static bool slot_next(struct mirror *m, struct slot *sl, struct error *err)
{
    struct task *t = sl->t;
    int r;

    if (t->next_offset >= t->size)
        return false;
    sl->is_busy = true;
    sl->is_writing = false;
    sl->part_no = t->next_part++;
    sl->offset = t->next_offset;
    sl->len = t->size - sl->offset < t->part_size ? t->size - sl->offset : t->part_size;
    t->next_offset += sl->len;
    if (m->src.type == SIDE_S3) {
        s3_call_release(&sl->call);
        s3_call_init(&sl->call);
        xfree(sl->key);
        sl->key = src_full_key(m, t->key);
        (void)snprintf(sl->lines[0], sizeof(sl->lines[0]), "Range: bytes=%" PRIu64 "-%" PRIu64,
                       sl->offset, sl->offset + sl->len - 1);
        sl->hdrs[0] = sl->lines[0];
        sl->call.header_count = 1;
        if (t->src_etag[0]) {
            (void)snprintf(sl->lines[1], sizeof(sl->lines[1]), "If-Match: \"%s\"", t->src_etag);
            sl->hdrs[1] = sl->lines[1];
            sl->call.header_count = 2;
        }
        sl->call.method = "GET";
        sl->call.key = sl->key;
        sl->call.headers = sl->hdrs;
        buf_release(&sl->call.req.body);
        buf_init(&sl->call.req.body, (size_t)sl->len + 1 > 65536 ? (size_t)sl->len + 1 : 65536);
        sl->op.client = m->src.s3;
        sl->op.call = &sl->call;
        op_start(m, &sl->op);
        return true;
    }
    /* A local or store source: read now (t->offset tells the reader where). */
    t->offset = sl->offset;
    r = m->src.type == SIDE_LOCAL ? local_read_chunk(m, t, sl->len, err)
                                  : store_read_chunk(m, t, sl->len, err);
    if (r != 0) {
        if (err->kind == ERR_NONE)
            error_set(err, ERR_IO, "'%s' vanished while being copied", t->key);
        return true;
    }
    buf_release(&sl->data);
    sl->data = t->data;
    buf_init(&t->data, BUF_NO_CAP);
    m->st->bytes_transferred += sl->data.len;
    slot_write(m, sl);
    return true;
}

/* Fills the free slots of t; fails t on a read error. */
static void slots_fill(struct mirror *m, struct task *t)
{
    for (int i = 0; i < MIRROR_PART_SLOTS; i++) {
        struct slot *sl = &t->slots[i];
        struct error err = ERROR_INIT;

        if (sl->is_busy)
            continue;
        if (!slot_next(m, sl, &err))
            break;
        if (err.kind != ERR_NONE) {
            task_failed(m, t, &err);
            return;
        }
    }
}

static void slot_on_done(struct mirror *m, struct op *op, int rc, struct error *err)
{
    struct slot *sl = op->owner;
    struct task *t = sl->t;
    struct error e2 = ERROR_INIT;
    char etag[256] = "";

    if (rc < 0) {
        if (!sl->is_writing && sl->call.req.status == 412)
            error_hint(err, "the source object changed during the copy; the next run copies it");
        task_failed(m, t, err);
        return;
    }
    if (!sl->is_writing) {
        if (sl->call.req.is_body_truncated || sl->call.req.body.len != sl->len) {
            error_set(&e2, ERR_REMOTE,
                      "source object '%s' is not the size the listing gave (%" PRIu64
                      " bytes); it changed during the copy",
                      t->key, t->size);
            error_hint(&e2, "the next run copies it");
            task_failed(m, t, &e2);
            return;
        }
        buf_release(&sl->data);
        sl->data = sl->call.req.body;
        buf_init(&sl->call.req.body, BUF_NO_CAP);
        m->st->bytes_transferred += sl->data.len;
        slot_write(m, sl);
        return;
    }
    if (!s3_call_header(&sl->call, "ETag", etag, sizeof(etag)) || !etag[0]) {
        error_set(&e2, ERR_REMOTE, "UploadPart of '%s' answered without an ETag", t->key);
        task_failed(m, t, &e2);
        return;
    }
    ASSERT(sl->part_no >= 1 && sl->part_no <= t->parts_total);
    xfree(t->etags[sl->part_no - 1]);
    t->etags[sl->part_no - 1] = xstrdup(etag);
    buf_release(&sl->data);
    buf_init(&sl->data, BUF_NO_CAP);
    sl->is_busy = false;
    t->parts_done++;
    if (t->parts_done == t->parts_total) {
        t->etag_count = (size_t)t->parts_total;
        t->state = T_COMPLETE;
        task_advance(m, t);
        return;
    }
    slots_fill(m, t);
}

/* Enters T_PARTS: part 1 (read before the upload was created) goes first. */
static void parts_begin(struct mirror *m, struct task *t)
{
    t->parts_total = (int)((t->size + t->part_size - 1) / t->part_size);
    t->etags = xcalloc((size_t)t->parts_total, sizeof(*t->etags));
    t->etag_count = 0;
    t->slots = xcalloc(MIRROR_PART_SLOTS, sizeof(*t->slots));
    for (int i = 0; i < MIRROR_PART_SLOTS; i++) {
        struct slot *sl = &t->slots[i];
        sl->t = t;
        sl->op.owner = sl;
        sl->op.on_done = slot_on_done;
        s3_call_init(&sl->call);
        buf_init(&sl->data, BUF_NO_CAP);
    }
    t->slots[0].is_busy = true;
    t->slots[0].part_no = 1;
    t->slots[0].offset = 0;
    t->slots[0].len = t->data.len;
    buf_release(&t->slots[0].data);
    t->slots[0].data = t->data;
    buf_init(&t->data, BUF_NO_CAP);
    t->next_part = 2;
    t->next_offset = t->slots[0].len;
    slot_write(m, &t->slots[0]);
    slots_fill(m, t);
}

/* Runs t until it starts a request or ends. */

static void task_advance(struct mirror *m, struct task *t)
{
    struct error err = ERROR_INIT;

    for (;;) {
        if (cancel_requested()) {
            error_set(&err, ERR_CANCELLED, "cancelled");
            task_failed(m, t, &err);
            return;
        }
        switch (t->state) {
        case T_CHECK_SRC:
            if (!t->is_check) {
                t->state = T_ACL;
                continue;
            }
            if (m->src.type == SIDE_LOCAL) {
                char hex[33];
                if (local_md5(&m->src, t->key, hex, &err) < 0)
                    goto fail;
                md5_hex_to_b64(hex, t->src_md5);
                t->state = T_CHECK_DST;
                continue;
            }
            if (m->src.type == SIDE_S3 && mirror_etag_is_md5(t->src_etag)) {
                md5_hex_to_b64(t->src_etag, t->src_md5);
                t->state = T_CHECK_DST;
                continue;
            }
            if (m->src.type != SIDE_S3) {
                t->state = T_CHECK_DST;
                continue;
            }
            hdr_reset(t);
            {
                char *fk = src_full_key(m, t->key);
                task_call(t, m->src.s3, "HEAD", fk, NULL);
                xfree(fk);
            }
            op_start(m, &t->op);
            return;
        case T_CHECK_DST:
            if (m->dst.type == SIDE_LOCAL) {
                char hex[33];
                char b64[48];
                if (local_md5(&m->dst, t->key, hex, &err) < 0)
                    goto fail;
                md5_hex_to_b64(hex, b64);
                if (t->src_md5[0] && strcmp(b64, t->src_md5) == 0) {
                    task_end_unchanged(m, t);
                    return;
                }
                task_check_copy(m, t);
                continue;
            }
            if (m->dst.type == SIDE_S3 && mirror_etag_is_md5(t->dst_etag)) {
                char b64[48];
                md5_hex_to_b64(t->dst_etag, b64);
                if (t->src_md5[0] && strcmp(b64, t->src_md5) == 0) {
                    task_end_unchanged(m, t);
                    return;
                }
            }
            if (m->dst.type != SIDE_S3 || !t->src_md5[0] || mirror_etag_is_md5(t->dst_etag)) {
                /* Different, or one side's hash cannot be known without reading it all. */
                task_check_copy(m, t);
                continue;
            }
            hdr_reset(t);
            {
                char *fk = dst_full_key(m, t->key);
                task_call(t, m->dst.s3, "HEAD", fk, NULL);
                xfree(fk);
            }
            op_start(m, &t->op);
            return;
        case T_ACL:
            if (m->acl != MIRROR_ACL_COPY || m->src.type != SIDE_S3 || m->dst.type != SIDE_S3) {
                t->state = T_TRASH;
                continue;
            }
            xfree(t->acl_key);
            t->acl_key = src_full_key(m, t->key);
            s3_call_release(&t->acl_call);
            s3_call_init(&t->acl_call);
            t->acl_call.method = "GET";
            t->acl_call.key = t->acl_key;
            t->acl_call.query = "acl";
            t->acl_op.owner = t;
            t->acl_op.on_done = acl_on_done;
            t->acl_op.client = m->src.s3;
            t->acl_op.call = &t->acl_call;
            t->is_acl_pending = true;
            t->state = T_TRASH;
            /* A start that fails at once is reported to acl_on_done, which only records it (the
             * task is not parked yet). */
            op_start(m, &t->acl_op);
            continue;
        case T_TRASH:
            if (!t->is_update || !m->trash_full) {
                t->state = t->is_server_side ? T_SERVER_COPY : T_READ;
                continue;
            }
            if (m->dst.type == SIDE_LOCAL) {
                t->state = T_READ; /* the old file goes to the trash just before the rename */
                continue;
            }
            if (m->dst.type != SIDE_S3) {
                t->state = T_READ;
                continue;
            }
            task_call_trash_copy(m, t, t->key);
            op_start(m, &t->op);
            return;
        case T_SERVER_COPY: {
            char *fk;
            char *dk;
            bool is_ready = false;

            if (task_acl_ready(t, &is_ready, &err) < 0)
                goto fail;
            if (!is_ready)
                return;
            fk = src_full_key(m, t->key);
            dk = dst_full_key(m, t->key);

            if (t->size > m->copy_max && !t->upload_id) {
                t->is_multipart = true;
                t->part_size = m->copy_part;
                while (t->size / t->part_size >= MIRROR_MAX_PARTS)
                    t->part_size *= 2;
                t->part_no = 1;
                t->offset = 0;
                xfree(fk);
                xfree(dk);
                t->state = T_META;
                continue;
            }
            hdr_reset(t);
            hdr_add_copy_source(t, m->src.s3, fk);
            if (t->src_etag[0])
                hdr_add(t, "x-amz-copy-source-if-match: \"%s\"", t->src_etag);
            if (!t->is_multipart) {
                hdr_add(t, "x-amz-metadata-directive: COPY");
                hdr_add(t, "x-amz-acl: %s", task_acl(m, t));
                task_call(t, m->dst.s3, "PUT", dk, NULL);
            } else {
                uint64_t end = t->offset + t->part_size - 1;
                char *q;
                if (end >= t->size)
                    end = t->size - 1;
                hdr_add(t, "x-amz-copy-source-range: bytes=%" PRIu64 "-%" PRIu64, t->offset, end);
                q = xasprintf("partNumber=%d&uploadId=%s", t->part_no, t->upload_id);
                task_call(t, m->dst.s3, "PUT", dk, q);
                xfree(q);
            }
            xfree(fk);
            xfree(dk);
            op_start(m, &t->op);
            return;
        }
        case T_META: {
            char *fk = src_full_key(m, t->key);
            hdr_reset(t);
            task_call(t, m->src.s3, "HEAD", fk, NULL);
            xfree(fk);
            op_start(m, &t->op);
            return;
        }
        case T_READ: {
            uint64_t len = task_chunk_len(t);
            int r;

            if (m->src.type == SIDE_S3) {
                char *fk = src_full_key(m, t->key);
                hdr_reset(t);
                if (t->src_etag[0])
                    hdr_add(t, "If-Match: \"%s\"", t->src_etag);
                if (t->is_chunked)
                    hdr_add(t, "Range: bytes=%" PRIu64 "-%" PRIu64, t->offset, t->offset + len - 1);
                task_call(t, m->src.s3, "GET", fk, NULL);
                xfree(fk);
                /* Room for the object and one byte more (a grown object shows), and for an
                 * error document. */
                buf_release(&t->call.req.body);
                buf_init(&t->call.req.body, (size_t)len + 1 > 65536 ? (size_t)len + 1 : 65536);
                op_start(m, &t->op);
                return;
            }
            r = m->src.type == SIDE_LOCAL ? local_read_chunk(m, t, len, &err)
                                          : store_read_chunk(m, t, len, &err);
            if (r == 1) {
                mirror_skip(m, t->key, t->size, "gone from the source since the listing");
                t->is_failed = true;
                task_remove(m, t);
                return;
            }
            if (r < 0)
                goto fail;
            m->st->bytes_transferred += t->data.len;
            t->state = t->is_multipart && t->part_no == 1 && !t->upload_id ? T_CREATE : T_WRITE;
            continue;
        }
        case T_CREATE: {
            char *dk;
            bool is_ready = false;

            if (task_acl_ready(t, &is_ready, &err) < 0)
                goto fail;
            if (!is_ready)
                return;
            dk = dst_full_key(m, t->key);
            hdr_reset(t);
            /* Server-side: the metadata read by T_META, since UploadPartCopy carries none. */
            hdr_add_meta(m, t);
            task_call(t, m->dst.s3, "POST", dk, "uploads");
            xfree(dk);
            op_start(m, &t->op);
            return;
        }
        case T_PARTS:
            parts_begin(m, t);
            return;
        case T_WRITE:
            if (m->dst.type == SIDE_S3) {
                char *dk;
                unsigned char h[DIGEST_MD5_LEN];
                char b64[32];
                bool is_ready = false;

                if (!t->is_multipart && task_acl_ready(t, &is_ready, &err) < 0)
                    goto fail;
                if (!t->is_multipart && !is_ready)
                    return;
                dk = dst_full_key(m, t->key);

                digest_md5(t->data.data, t->data.len, h);
                digest_base64(h, sizeof(h), b64);
                hdr_reset(t);
                hdr_add(t, "Content-MD5: %s", b64);
                if (!t->is_multipart) {
                    hdr_add_meta(m, t);
                    task_call(t, m->dst.s3, "PUT", dk, NULL);
                } else {
                    char *q = xasprintf("partNumber=%d&uploadId=%s", t->part_no, t->upload_id);
                    task_call(t, m->dst.s3, "PUT", dk, q);
                    xfree(q);
                }
                t->call.body = t->data.data;
                t->call.body_len = t->data.len;
                xfree(dk);
                op_start(m, &t->op);
                return;
            }
            if (m->dst.type == SIDE_LOCAL) {
                if (local_write_chunk(m, t, &err) < 0)
                    goto fail;
            } else {
                if (!t->writer) {
                    char *k = xasprintf("%s%s", m->dst.store_key_prefix, t->key);
                    int rc = store_put_open(m->dst.store, k, &t->writer, &err);
                    xfree(k);
                    if (rc < 0)
                        goto fail;
                }
                if (store_writer_write(t->writer, t->data.data, t->data.len, &err) < 0)
                    goto fail;
            }
            t->offset += t->data.len;
            buf_reset(&t->data);
            t->state = t->offset >= t->size ? T_FINISH : T_READ;
            continue;
        case T_COMPLETE: {
            struct s3_xml_part *parts = xcalloc(t->etag_count, sizeof(*parts));
            char *dk = dst_full_key(m, t->key);
            char *q = xasprintf("uploadId=%s", t->upload_id);
            int rc;

            for (size_t i = 0; i < t->etag_count; i++) {
                parts[i].part_number = (int)i + 1;
                parts[i].etag = t->etags[i];
            }
            buf_release(&t->data);
            buf_init(&t->data, BUF_NO_CAP);
            rc = s3_xml_write_complete(&t->data, parts, t->etag_count, &err);
            xfree(parts);
            if (rc < 0) {
                xfree(dk);
                xfree(q);
                goto fail;
            }
            hdr_reset(t);
            task_call(t, m->dst.s3, "POST", dk, q);
            t->call.body = t->data.data;
            t->call.body_len = t->data.len;
            xfree(dk);
            xfree(q);
            op_start(m, &t->op);
            return;
        }
        case T_FINISH:
            if (m->dst.type == SIDE_LOCAL) {
                if (local_finish(m, t, &err) < 0)
                    goto fail;
            } else if (m->dst.type == SIDE_STORE) {
                if (!t->writer) { /* a zero-byte object */
                    char *k = xasprintf("%s%s", m->dst.store_key_prefix, t->key);
                    int rc = store_put_open(m->dst.store, k, &t->writer, &err);
                    xfree(k);
                    if (rc < 0)
                        goto fail;
                }
                {
                    struct store_writer *w = t->writer;
                    t->writer = NULL;
                    if (store_writer_commit(w, &err) < 0)
                        goto fail;
                }
            }
            t->state = T_DONE;
            continue;
        case T_DONE:
            task_done(m, t);
            return;
        }
    }
fail:
    task_failed(m, t, &err);
}

/* Starts the copy of one queued action. */
static void task_start_copy(struct mirror *m, struct action *a)
{
    struct task *t = task_new(m, TASK_COPY);

    if (m->st->first_transfer_ms < 0)
        m->st->first_transfer_ms = time_mono_ms() - m->started_ms;
    t->key = a->key;
    a->key = NULL;
    t->size = a->size;
    t->src_mtime = a->mtime;
    memcpy(t->src_etag, a->etag, sizeof(t->src_etag));
    memcpy(t->dst_etag, a->dst_etag, sizeof(t->dst_etag));
    t->is_update = a->is_update;
    t->is_check = a->is_check;
    t->is_server_side = m->is_same_service;
    t->part_size = m->part_size;
    while (t->size / t->part_size >= MIRROR_MAX_PARTS)
        t->part_size *= 2;
    t->is_chunked = !t->is_server_side && t->size > t->part_size;
    t->is_multipart = t->is_chunked && m->dst.type == SIDE_S3;
    t->part_no = 1;
    t->mem = t->is_server_side ? 0
             : t->is_multipart ? t->part_size * MIRROR_PART_SLOTS
                               : task_chunk_len(t);
    m->mem_used += t->mem;
    t->op.on_done = task_on_done;
    t->state = T_CHECK_SRC;
    task_advance(m, t);
}

/* Starts queued copies while there is room. */
static void tasks_fill(struct mirror *m)
{
    while (m->queue_len > 0 && (int)m->task_count < m->concurrency && !cancel_requested()) {
        struct action *a = &m->queue[m->queue_head];
        uint64_t ps = m->part_size;
        uint64_t need;

        while (a->size / ps >= MIRROR_MAX_PARTS)
            ps *= 2;
        need = m->is_same_service ? 0 : a->size <= ps ? a->size : ps * MIRROR_PART_SLOTS;

        if (m->mem_used > 0 && m->mem_used + need > MIRROR_MEMORY_BUDGET)
            break;
        m->queue_head = (m->queue_head + 1) % m->queue_cap;
        m->queue_len--;
        task_start_copy(m, a);
        xfree(a->key);
    }
}

/* ---- deletions ---- */

static void batch_on_done(struct mirror *m, struct op *op, int rc, struct error *err)
{
    struct task *t = op->owner;
    struct s3_xml_delete_result r;
    struct error e2 = ERROR_INIT;

    if (rc < 0) {
        task_failed(m, t, err);
        return;
    }
    memset(&r, 0, sizeof(r));
    if (s3_xml_parse_delete(t->call.req.body.data, t->call.req.body.len, &r, &e2) < 0) {
        task_failed(m, t, &e2);
        return;
    }
    for (size_t i = 0; i < r.failure_count; i++) {
        struct error fe = ERROR_INIT;
        error_set(&fe, ERR_REMOTE, "DeleteObjects: %s: %s", r.failures[i].code,
                  r.failures[i].message);
        mirror_fail(m, r.failures[i].key, 0, &fe);
    }
    if (t->batch_count >= r.failure_count) {
        m->st->deleted.objects += t->batch_count - r.failure_count;
        m->st->deleted.bytes += r.failure_count ? 0 : t->batch_bytes;
    }
    s3_xml_delete_result_release(&r);
    task_remove(m, t);
}

/* Sends the pending deletions as one DeleteObjects request. */
static void batch_flush(struct mirror *m)
{
    struct task *t;
    struct error err = ERROR_INIT;
    unsigned char h[DIGEST_MD5_LEN];
    char b64[32];

    if (m->pending_count == 0)
        return;
    t = task_new(m, TASK_DELETE_BATCH);
    t->batch = m->pending_deletes;
    t->batch_count = m->pending_count;
    t->batch_bytes = m->pending_bytes;
    m->pending_deletes = NULL;
    m->pending_count = 0;
    m->pending_bytes = 0;
    t->op.on_done = batch_on_done;
    if (s3_xml_write_delete(&t->data, (const char *const *)t->batch, t->batch_count, &err) < 0) {
        task_failed(m, t, &err);
        return;
    }
    digest_md5(t->data.data, t->data.len, h);
    digest_base64(h, sizeof(h), b64);
    hdr_reset(t);
    hdr_add(t, "Content-MD5: %s", b64);
    task_call(t, m->dst.s3, "POST", NULL, "delete");
    t->call.body = t->data.data;
    t->call.body_len = t->data.len;
    op_start(m, &t->op);
}

static void pending_add(struct mirror *m, const char *key, uint64_t size)
{
    m->pending_deletes =
        xreallocarray(m->pending_deletes, m->pending_count + 1, sizeof(*m->pending_deletes));
    m->pending_deletes[m->pending_count++] = dst_full_key(m, key);
    m->pending_bytes += size;
    if (m->pending_count == MIRROR_DELETE_BATCH)
        batch_flush(m);
}

static void trash_on_done(struct mirror *m, struct op *op, int rc, struct error *err)
{
    struct task *t = op->owner;
    struct error e2 = ERROR_INIT;
    char *etag = NULL;

    if (rc < 0 && t->call.req.status == 404) { /* already gone */
        task_remove(m, t);
        return;
    }
    if (rc < 0) {
        error_wrap(err, "moving to the trash");
        task_failed(m, t, err);
        return;
    }
    if (s3_xml_parse_copy(t->call.req.body.data, t->call.req.body.len, &etag, NULL, &e2) < 0) {
        task_failed(m, t, &e2);
        return;
    }
    xfree(etag);
    count_add(&m->st->trashed, t->size);
    pending_add(m, t->key, t->size);
    task_remove(m, t);
}

/* Reads the next deletion from the spool; false at its end. */
static bool spool_next(struct mirror *m, char **key, uint64_t *size)
{
    uint32_t n;
    char *k;

    if (fread(&n, sizeof(n), 1, m->spool) != 1)
        return false;
    k = xmalloc((size_t)n + 1);
    if (fread(k, 1, n, m->spool) != n || fread(size, sizeof(*size), 1, m->spool) != 1) {
        xfree(k);
        return false;
    }
    k[n] = '\0';
    *key = k;
    return true;
}

/* One deletion on a local or store destination (synchronous). */
static void delete_sync(struct mirror *m, const char *key, uint64_t size)
{
    struct error err = ERROR_INIT;

    if (m->dst.type == SIDE_LOCAL) {
        char *path = side_local_path(&m->dst, key);
        if (m->trash_full) {
            if (local_trash(m, key, &err) < 0) {
                mirror_fail(m, key, size, &err);
                xfree(path);
                return;
            }
            count_add(&m->st->trashed, size);
        } else if (unlink(path) < 0 && errno != ENOENT) {
            error_errno(&err, ERR_IO, "cannot delete '%s'", path);
            mirror_fail(m, key, size, &err);
            xfree(path);
            return;
        }
        local_prune_dirs(&m->dst, path);
        xfree(path);
    } else {
        char *k = xasprintf("%s%s", m->dst.store_key_prefix, key);
        int rc = store_remove(m->dst.store, k, &err);
        xfree(k);
        if (rc < 0) {
            mirror_fail(m, key, size, &err);
            return;
        }
    }
    count_add(&m->st->deleted, size);
}

/* Starts deletions while there is room; returns true when the spool is exhausted. */
static bool deletions_fill(struct mirror *m)
{
    while (!m->is_spool_done && (int)m->task_count < m->concurrency && !cancel_requested()) {
        char *key = NULL;
        uint64_t size = 0;

        if (!spool_next(m, &key, &size)) {
            m->is_spool_done = true;
            break;
        }
        if (m->dst.type != SIDE_S3) {
            delete_sync(m, key, size);
        } else if (m->trash_full) {
            struct task *t = task_new(m, TASK_DELETE_TRASH);
            t->key = key;
            key = NULL;
            t->size = size;
            t->op.on_done = trash_on_done;
            task_call_trash_copy(m, t, t->key);
            op_start(m, &t->op);
        } else {
            pending_add(m, key, size);
        }
        xfree(key);
    }
    return m->is_spool_done;
}

/* The guards: returns true when the deletions may run; else says why in the stats. */
static bool deletions_allowed(struct mirror *m)
{
    struct mirror_stats *st = m->st;
    const struct mirror_options *o = m->o;
    uint64_t limit;

    if (m->spool_count == 0)
        return true;
    if (m->is_listing_failed) {
        buf_format_fixed(st->deletion_refusal, sizeof(st->deletion_refusal),
                         "a listing failed, so nothing was deleted (%" PRIu64
                         " extraneous object%s left at the destination)",
                         m->spool_count, m->spool_count == 1 ? "" : "s");
        return false;
    }
    if (st->source.objects == 0) {
        buf_format_fixed(st->deletion_refusal, sizeof(st->deletion_refusal),
                         "the source '%s' lists no object while the destination holds %" PRIu64
                         "; refusing to delete them all (is the source bucket or prefix right?)",
                         m->src.location, st->destination.objects);
        return false;
    }
    if (o->max_delete_count >= 0) {
        limit = (uint64_t)o->max_delete_count;
    } else {
        double pct =
            o->max_delete_percent >= 0 ? o->max_delete_percent : MIRROR_MAX_DELETE_PERCENT_DEF;
        limit = (uint64_t)((double)st->destination.objects * pct / 100.0);
    }
    if (m->spool_count > limit) {
        double share = st->destination.objects
                           ? 100.0 * (double)m->spool_count / (double)st->destination.objects
                           : 100.0;
        if (o->max_delete_count >= 0)
            buf_format_fixed(st->deletion_refusal, sizeof(st->deletion_refusal),
                             "would delete %" PRIu64 " of %" PRIu64
                             " destination objects (%.1f%%), above max_delete = %" PRId64
                             "; nothing was deleted",
                             m->spool_count, st->destination.objects, share, o->max_delete_count);
        else
            buf_format_fixed(st->deletion_refusal, sizeof(st->deletion_refusal),
                             "would delete %" PRIu64 " of %" PRIu64
                             " destination objects (%.1f%%), above max_delete = %g%%; nothing "
                             "was deleted",
                             m->spool_count, st->destination.objects, share,
                             o->max_delete_percent >= 0 ? o->max_delete_percent
                                                        : MIRROR_MAX_DELETE_PERCENT_DEF);
        return false;
    }
    return true;
}

/* ---- trash expiry ---- */

static bool trash_day_expired(const char *name, int days, time_t now)
{
    struct tm tm;
    char day[16];
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (strlen(name) < 10)
        return false;
    memcpy(day, name, 10);
    day[10] = '\0';
    if (!strptime(day, "%Y-%m-%d", &tm))
        return false;
    t = timegm(&tm);
    return t + (time_t)days * 86400 <= now - 86400; /* whole days past trash_days */
}

static uint64_t local_remove_counting(const char *path, uint64_t *bytes)
{
    struct stat st;
    uint64_t n = 0;

    if (lstat(path, &st) < 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        if (d) {
            while ((de = readdir(d)) != NULL) {
                char *sub;
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                    continue;
                sub = xasprintf("%s/%s", path, de->d_name);
                n += local_remove_counting(sub, bytes);
                xfree(sub);
            }
            closedir(d);
        }
        (void)rmdir(path);
        return n;
    }
    if (unlink(path) == 0) {
        *bytes += (uint64_t)st.st_size;
        return 1;
    }
    return 0;
}

static int trash_expire_s3(struct mirror *m, const char *base, struct error *err)
{
    struct s3_xml_list page;
    struct buf q;
    time_t now = time(NULL);
    int rc = -1;

    buf_init(&q, BUF_NO_CAP);
    buf_adds(&q, "delimiter=%2F&encoding-type=url&list-type=2&max-keys=1000&prefix=");
    s3_encode(&q, base, false);
    if (side_list_page(m->dst.s3, q.data, &page, err) < 0)
        goto out;
    for (size_t i = 0; i < page.common_prefix_count; i++) {
        const char *day = page.common_prefixes[i] + strlen(base);
        char *token = NULL;
        if (!trash_day_expired(day, m->o->trash_days, now))
            continue;
        /* Everything under the day, in DeleteObjects batches. */
        for (;;) {
            struct s3_xml_list lp;
            struct buf lq;
            char **keys;
            size_t nk = 0;
            bool more;

            buf_init(&lq, BUF_NO_CAP);
            buf_adds(&lq, "encoding-type=url&list-type=2&max-keys=1000&prefix=");
            s3_encode(&lq, page.common_prefixes[i], false);
            if (token) {
                buf_adds(&lq, "&continuation-token=");
                s3_encode(&lq, token, false);
            }
            if (side_list_page(m->dst.s3, lq.data, &lp, err) < 0) {
                buf_release(&lq);
                s3_xml_list_release(&lp);
                xfree(token);
                goto out;
            }
            keys = xcalloc(lp.object_count + 1, sizeof(*keys));
            for (size_t k = 0; k < lp.object_count; k++) {
                keys[nk++] = lp.objects[k].key;
                count_add(&m->st->expired, lp.objects[k].size_bytes);
            }
            if (nk > 0) {
                struct s3_call dc;
                struct buf body;
                unsigned char h[DIGEST_MD5_LEN];
                char b64[32];
                char md5line[64];
                const char *hl[1];
                int r;

                buf_init(&body, BUF_NO_CAP);
                r = s3_xml_write_delete(&body, (const char *const *)keys, nk, err);
                digest_md5(body.data, body.len, h);
                digest_base64(h, sizeof(h), b64);
                (void)snprintf(md5line, sizeof(md5line), "Content-MD5: %s", b64);
                hl[0] = md5line;
                s3_call_init(&dc);
                dc.method = "POST";
                dc.query = "delete";
                dc.headers = hl;
                dc.header_count = 1;
                dc.body = body.data;
                dc.body_len = body.len;
                if (r == 0)
                    r = s3_call_run(m->dst.s3, &dc, err);
                s3_call_release(&dc);
                buf_release(&body);
                if (r < 0) {
                    xfree(keys);
                    buf_release(&lq);
                    s3_xml_list_release(&lp);
                    xfree(token);
                    goto out;
                }
            }
            xfree(keys);
            more = lp.is_truncated && lp.next_continuation_token;
            xfree(token);
            token = more ? xstrdup(lp.next_continuation_token) : NULL;
            buf_release(&lq);
            s3_xml_list_release(&lp);
            if (!more)
                break;
        }
    }
    rc = 0;
out:
    s3_xml_list_release(&page);
    buf_release(&q);
    return rc;
}

static int trash_expire(struct mirror *m, struct error *err)
{
    const char *trash = m->o->trash_prefix;

    if (!trash || !*trash || m->o->trash_days <= 0)
        return 0;
    if (m->dst.type == SIDE_S3) {
        /* Always a directory: "old" must not match "old2021-05-01-x/". */
        char *base = xasprintf("%s%s%s", m->dst.store_prefix, trash,
                               trash[strlen(trash) - 1] == '/' ? "" : "/");
        int rc = trash_expire_s3(m, base, err);
        xfree(base);
        return rc < 0 ? error_wrap(err, "expiring the trash") : 0;
    }
    if (m->dst.type == SIDE_LOCAL) {
        char *base = xasprintf("%s/%s", m->dst.store_root, trash);
        DIR *d = opendir(base);
        struct dirent *de;
        time_t now = time(NULL);

        if (d) {
            while ((de = readdir(d)) != NULL) {
                char *p;
                uint64_t bytes = 0;
                uint64_t n;
                if (de->d_name[0] == '.' || !trash_day_expired(de->d_name, m->o->trash_days, now))
                    continue;
                p = xasprintf("%s/%s", base, de->d_name);
                n = local_remove_counting(p, &bytes);
                m->st->expired.objects += n;
                m->st->expired.bytes += bytes;
                xfree(p);
            }
            closedir(d);
        }
        xfree(base);
    }
    return 0;
}

/* Aborts multipart uploads a killed run left under the destination prefix (invisible, but
 * billed). The job lock rules out a concurrent run; uploads started after ours began are left. */
static void abort_stale_uploads(struct mirror *m)
{
    struct s3_call call;
    struct s3_xml_uploads u;
    struct buf q;
    struct error err = ERROR_INIT;

    if (m->dst.type != SIDE_S3 || m->o->is_dry_run)
        return;
    memset(&u, 0, sizeof(u));
    buf_init(&q, BUF_NO_CAP);
    if (*m->dst.prefix) {
        buf_adds(&q, "prefix=");
        s3_encode(&q, m->dst.prefix, false);
        buf_adds(&q, "&");
    }
    buf_adds(&q, "uploads");
    s3_call_init(&call);
    call.method = "GET";
    call.query = q.data;
    buf_release(&call.req.body);
    buf_init(&call.req.body, S3_XML_MAX_BODY);
    if (s3_call_run(m->dst.s3, &call, &err) == 0 &&
        s3_xml_parse_uploads(call.req.body.data, call.req.body.len, &u, &err) == 0) {
        for (size_t i = 0; i < u.upload_count; i++) {
            struct s3_call a;
            char *aq;
            if (u.uploads[i].initiated && u.uploads[i].initiated >= m->started_at)
                continue;
            aq = xasprintf("uploadId=%s", u.uploads[i].upload_id);
            s3_call_init(&a);
            a.method = "DELETE";
            a.key = u.uploads[i].key;
            a.query = aq;
            a.is_404_ok = true;
            if (s3_call_run(m->dst.s3, &a, &err) == 0)
                log_debug("mirror '%s': aborted an unfinished upload of '%s'", m->o->job,
                          u.uploads[i].key);
            s3_call_release(&a);
            xfree(aq);
        }
    } else {
        log_debug("mirror '%s': listing unfinished uploads: %s", m->o->job, err.msg);
    }
    s3_xml_uploads_release(&u);
    s3_call_release(&call);
    buf_release(&q);
}

/* ---- the run ---- */

static int mirror_setup(struct mirror *m, struct error *err)
{
    const struct mirror_options *o = m->o;
    struct http_client_options ho;
    double rps = o->max_requests_per_second;

    for (size_t i = 0; i < o->include_count; i++)
        if (mirror_filter_add(&m->filter, true, o->include[i], err) < 0)
            return -1;
    for (size_t i = 0; i < o->exclude_count; i++)
        if (mirror_filter_add(&m->filter, false, o->exclude[i], err) < 0)
            return -1;
    memset(&ho, 0, sizeof(ho));
    ho.ca_file = o->source->ca_file ? o->source->ca_file : o->destination->ca_file;
    ho.connect_timeout_ms = o->source->connect_timeout_ms;
    ho.low_speed_time_ms = o->source->low_speed_timeout_ms;
    if (http_client_new(&ho, &m->http, err) < 0)
        return -1;
    if (side_open(&m->src, "source", o->source, o->source_prefix, m->http, rps, err) < 0 ||
        side_open(&m->dst, "destination", o->destination, o->destination_prefix, m->http, rps,
                  err) < 0)
        return -1;
    /* A dry run makes nothing, not even the destination directory. */
    if (m->dst.type == SIDE_LOCAL && !o->is_dry_run && fs_mkdir_p(m->dst.root, 0755, err) < 0)
        return error_wrap(err, "destination store '%s'", m->dst.name);
    m->is_same_service = m->src.type == SIDE_S3 && m->dst.type == SIDE_S3 &&
                         s3_client_same_service(m->src.s3, m->dst.s3);
    m->acl = o->acl;
    if (m->acl == MIRROR_ACL_DEFAULT)
        m->acl = m->src.type == SIDE_S3 ? MIRROR_ACL_COPY : MIRROR_ACL_PRIVATE;
    m->part_size =
        o->destination->part_size_bytes ? o->destination->part_size_bytes : MIRROR_PART_SIZE;
    m->concurrency = o->concurrency > 0 ? o->concurrency : MIRROR_CONCURRENCY_DEFAULT;
    m->copy_max = MIRROR_COPY_MAX;
    m->copy_part = MIRROR_COPY_PART;
    {
        /* For tests only (as in the S3 store): exercise UploadPartCopy without 5 GiB objects. */
        const char *limit = getenv("PERMAFROST_TEST_S3_COPY_LIMIT");
        unsigned long long v = limit ? strtoull(limit, NULL, 10) : 0;
        if (v >= (5ull << 20)) {
            m->copy_max = v;
            m->copy_part = v;
        }
    }
    m->queue_cap = (size_t)m->concurrency * 2;
    m->queue = xcalloc(m->queue_cap, sizeof(*m->queue));

    /* The destination's mirrored tree relative to its store, and the trash. */
    if (m->dst.type == SIDE_S3)
        m->mirror_prefix = xstrdup(m->dst.prefix + strlen(m->dst.store_prefix));
    else if (m->dst.type == SIDE_LOCAL)
        m->mirror_prefix = xstrdup(m->dst.root[strlen(m->dst.store_root)] == '/'
                                       ? m->dst.root + strlen(m->dst.store_root) + 1
                                       : "");
    else
        m->mirror_prefix = xstrdup(m->dst.store_key_prefix);
    if (m->dst.type == SIDE_LOCAL && *m->mirror_prefix) {
        char *p = xasprintf("%s/", m->mirror_prefix);
        xfree(m->mirror_prefix);
        m->mirror_prefix = p;
    }
    if (o->trash_prefix && *o->trash_prefix) {
        char day[16];
        struct tm tm;
        time_t now = time(NULL);
        const char *tp = o->trash_prefix;
        size_t mpl = strlen(m->mirror_prefix);
        char *trash = tp[strlen(tp) - 1] == '/' ? xstrdup(tp) : xasprintf("%s/", tp);

        gmtime_r(&now, &tm);
        (void)strftime(day, sizeof(day), "%Y-%m-%d", &tm);
        if (strncmp(trash, m->mirror_prefix, mpl) == 0)
            m->trash_rel = xstrdup(trash + mpl);
        if (m->dst.type == SIDE_S3)
            m->trash_full = xasprintf("%s%s%s/", m->dst.store_prefix, trash, day);
        else if (m->dst.type == SIDE_LOCAL)
            m->trash_full = xasprintf("%s/%s%s", m->dst.store_root, trash, day);
        xfree(trash);
    }
    return 0;
}

static void mirror_teardown(struct mirror *m)
{
    for (struct task *t = m->tasks; t; t = t->next)
        task_abort_upload(m, t);
    while (m->tasks)
        task_remove(m, m->tasks);
    for (size_t i = 0; i < MIRROR_ACTIVE_RANGES; i++)
        if (m->active[i].is_used)
            active_release(m, &m->active[i]);
    for (size_t i = 0; i < m->queue_len; i++)
        xfree(m->queue[(m->queue_head + i) % (m->queue_cap ? m->queue_cap : 1)].key);
    xfree(m->queue);
    for (size_t i = 0; i < m->range_count; i++) {
        xfree(m->ranges[i].lo);
        xfree(m->ranges[i].hi);
    }
    xfree(m->ranges);
    for (size_t i = 0; i < m->pending_count; i++)
        xfree(m->pending_deletes[i]);
    xfree(m->pending_deletes);
    xfree(m->timers);
    if (m->spool)
        (void)fclose(m->spool); /* a temporary file, gone when closed */
    side_close(&m->src);
    side_close(&m->dst);
    http_client_free(m->http);
    mirror_filter_release(&m->filter);
    xfree(m->trash_rel);
    xfree(m->trash_full);
    xfree(m->mirror_prefix);
}

/* Drives the requests in flight for up to the next timer or progress tick. */
static int mirror_wait(struct mirror *m, struct error *err)
{
    int64_t next_due = -1;
    long timeout = MIRROR_PROGRESS_MS;
    struct http_request *done = NULL;

    timers_run(m, &next_due);
    if (next_due >= 0) {
        int64_t d = next_due - time_mono_ms();
        if (d < timeout)
            timeout = d < 0 ? 0 : (long)d;
    }
    if (http_in_flight(m->http) == 0) {
        if (m->timer_count > 0 && timeout > 0) {
            struct timespec ts = {0, timeout * 1000000L};
            (void)nanosleep(&ts, NULL);
        }
        return 0;
    }
    if (http_wait(m->http, timeout, &done, err) < 0)
        return -1;
    while (done) {
        op_finished(m, done->user);
        done = NULL;
        if (http_in_flight(m->http) == 0 || http_wait(m->http, 0, &done, err) < 0)
            break;
    }
    return 0;
}

static bool mirror_idle(const struct mirror *m)
{
    return m->task_count == 0 && m->timer_count == 0 && http_in_flight(m->http) == 0;
}

int mirror_run(const struct mirror_options *opts, struct mirror_stats *stats, struct error *err)
{
    struct mirror m;
    struct error werr = ERROR_INIT;
    int rc = -1;

    memset(stats, 0, sizeof(*stats));
    stats->first_transfer_ms = -1;
    memset(&m, 0, sizeof(m));
    m.o = opts;
    m.st = stats;
    m.started_at = time(NULL);
    m.started_ms = time_mono_ms();
    if (mirror_setup(&m, err) < 0)
        goto out;
    abort_stale_uploads(&m);
    if (ranges_build(&m, err) < 0)
        goto out;

    /* Phase 1: list, merge, copy. */
    for (;;) {
        bool is_listed = m.is_listing_failed ? true : mirror_list_step(&m);
        tasks_fill(&m);
        if (is_listed && m.queue_len == 0 && mirror_idle(&m))
            break;
        if (cancel_requested())
            break;
        if (mirror_wait(&m, &werr) < 0)
            break;
        mirror_progress(&m, false);
    }
    if (cancel_requested() || werr.kind == ERR_CANCELLED) {
        error_set(err, ERR_CANCELLED, "cancelled");
        goto out;
    }
    if (werr.kind != ERR_NONE) {
        *err = werr;
        goto out;
    }
    stats->is_listing_complete = !m.is_listing_failed;

    /* Phase 2: deletions behind the guards. */
    if (m.spool_count > 0 && !deletions_allowed(&m)) {
        stats->is_deletion_refused = true;
    } else if (m.spool_count > 0) {
        if (fflush(m.spool) != 0 || fseek(m.spool, 0, SEEK_SET) != 0) {
            error_errno(err, ERR_IO, "deletion list: cannot read the temporary file back");
            goto out;
        }
        if (opts->is_dry_run) {
            char *key = NULL;
            uint64_t size = 0;
            while (spool_next(&m, &key, &size)) {
                if (opts->plan)
                    opts->plan(MIRROR_ACTION_DELETE, key, size, opts->ctx);
                count_add(&stats->deleted, size);
                xfree(key);
            }
        } else {
            for (;;) {
                bool is_drained = deletions_fill(&m);
                if (is_drained && m.dst.type == SIDE_S3 && m.pending_count > 0 && m.task_count == 0)
                    batch_flush(&m);
                if (is_drained && m.pending_count == 0 && mirror_idle(&m))
                    break;
                if (cancel_requested())
                    break;
                if (mirror_wait(&m, &werr) < 0)
                    break;
                mirror_progress(&m, false);
            }
            if (cancel_requested() || werr.kind == ERR_CANCELLED) {
                error_set(err, ERR_CANCELLED, "cancelled");
                goto out;
            }
        }
    }
    if (!opts->is_dry_run && !m.is_listing_failed && trash_expire(&m, &werr) < 0)
        mirror_fail(&m, opts->trash_prefix, 0, &werr);

    if (m.is_listing_failed) {
        *err = m.listing_err;
        if (err->kind == ERR_NONE)
            error_set(err, ERR_REMOTE, "a listing failed");
        error_hint(err, "nothing was deleted; fix the cause and run the mirror again");
        goto out;
    }
    if (stats->failed.objects > 0) {
        error_set(err, ERR_REMOTE, "%" PRIu64 " object%s failed (first: '%s': %s)",
                  stats->failed.objects, stats->failed.objects == 1 ? "" : "s",
                  stats->failures[0].key, stats->failures[0].error);
        error_hint(err, "the rest was mirrored; the next run retries what failed");
        goto out;
    }
    if (stats->is_deletion_refused) {
        error_set(err, ERR_FAILED, "deletions refused: %s", stats->deletion_refusal);
        error_hint(err, "check the source; if the deletions are wanted, raise max_delete for "
                        "one run");
        goto out;
    }
    rc = 0;
out:
    if (m.st)
        mirror_progress(&m, true);
    mirror_teardown(&m);
    return rc;
}
