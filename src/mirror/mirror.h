/* The media mirror: makes a destination (an S3 bucket, a local directory or another store, with an
 * optional key prefix) an exact copy of the included keys of a source. Both sides are listed as
 * sorted streams, split into key ranges listed in parallel, and merge-joined, so memory stays
 * bounded whatever the object count and the first copy starts after the first pages. Changes are
 * found from the listings alone (size + MD5 ETag, else size + LastModified); transfers are
 * server-side CopyObject when both sides are the same S3 service and credentials, else GET→PUT
 * through memory (multipart for large objects), never through the local disk. Deletions run after
 * the copies, in batches, behind guards. Everything runs on one thread over one libcurl multi
 * handle (STYLE.md: the multi interface, not threads). core/ calls mirror_run; mirror never prints.
 */
#ifndef PERMAFROST_MIRROR_MIRROR_H
#define PERMAFROST_MIRROR_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stores/store.h"
#include "util/error.h"

#define MIRROR_CONCURRENCY_DEFAULT    64
#define MIRROR_MAX_DELETE_PERCENT_DEF 10.0
#define MIRROR_FAILURES_KEPT          20 /* failures listed in the result; the rest only counted */

enum mirror_acl {
    MIRROR_ACL_DEFAULT = 0, /* copy when the source is S3, else private */
    MIRROR_ACL_COPY,        /* read the source object's ACL: public-read when AllUsers may READ */
    MIRROR_ACL_PUBLIC_READ,
    MIRROR_ACL_PRIVATE,
};

/* Request types counted in the statistics (per side, then summed). */
enum mirror_request {
    MIRROR_REQ_LIST = 0,
    MIRROR_REQ_HEAD,
    MIRROR_REQ_GET,
    MIRROR_REQ_PUT, /* PutObject, UploadPart, and multipart create/complete/abort (POST) */
    MIRROR_REQ_COPY,
    MIRROR_REQ_DELETE, /* DeleteObject and DeleteObjects batches */
    MIRROR_REQ_COUNT,
};
const char *mirror_request_name(enum mirror_request r); /* "LIST", "HEAD", ... */

/* Objects and bytes of one action. */
struct mirror_count {
    uint64_t objects;
    uint64_t bytes;
};

struct mirror_failure {
    char key[1100];
    char error[1024];
};

struct mirror_stats {
    struct mirror_count source;      /* listed and included on the source */
    struct mirror_count destination; /* listed and included on the destination */
    struct mirror_count unchanged;
    struct mirror_count copied;  /* new at the destination */
    struct mirror_count updated; /* overwritten because they changed */
    struct mirror_count deleted; /* extraneous, deleted (or moved to the trash) */
    struct mirror_count trashed; /* of copied+deleted: older versions kept in the trash */
    struct mirror_count expired; /* trash entries older than trash_days removed */
    struct mirror_count skipped; /* keys that cannot be written at the destination (warned) */
    struct mirror_count failed;  /* copies, updates or deletions that failed for good */
    uint64_t server_side_copies; /* of copied+updated: done by the S3 service itself */
    uint64_t to_copy;            /* found so far to copy or update (for progress) */
    uint64_t to_copy_bytes;
    uint64_t to_delete; /* found so far to delete */
    uint64_t requests[MIRROR_REQ_COUNT];
    uint64_t retries;
    uint64_t bytes_transferred; /* bytes that went through us (GET→PUT) */
    int64_t duration_ms;
    int64_t first_transfer_ms; /* from the start to the first copy started; -1: none */
    bool is_listing_complete;  /* every listing of both sides ended without error */
    bool is_deletion_refused;  /* the guards stopped the deletions (deletion_refusal says why) */
    char deletion_refusal[512];
    struct mirror_failure failures[MIRROR_FAILURES_KEPT];
    size_t failure_count; /* kept in failures[] (failed.objects may be larger) */
    /* Keys skipped with a warning (the reason in .error): the first ones, skipped.objects counts
     * them all. */
    struct mirror_failure skips[MIRROR_FAILURES_KEPT];
    size_t skip_count;
};

/* A planned action, reported to the plan callback in --dry-run mode (and never otherwise). */
enum mirror_action { MIRROR_ACTION_COPY, MIRROR_ACTION_UPDATE, MIRROR_ACTION_DELETE };
typedef void (*mirror_plan_fn)(enum mirror_action action, const char *key, uint64_t size_bytes,
                               void *ctx);
/* Called about four times a second while the mirror runs, and once at the end. */
typedef void (*mirror_progress_fn)(const struct mirror_stats *st, void *ctx);

struct mirror_options {
    const char *job; /* for messages */
    /* The two sides: a store's options (type local, s3 or rclone) and a key prefix inside it ("" or
     * "media/", without a leading '/'; a trailing '/' is added when missing). Borrowed. */
    const struct store_options *source;
    const char *source_prefix;
    const struct store_options *destination;
    const char *destination_prefix;

    /* Filters, matched against keys relative to the prefixes (see mirror/filter.h). */
    const char *const *include;
    size_t include_count;
    const char *const *exclude;
    size_t exclude_count;

    /* Trash: replaced and deleted destination objects are moved under trash_prefix (a prefix of
     * the destination, relative to destination_prefix's store, e.g. ".trash/") as
     * <trash_prefix><UTC date>/<key>, and removed after trash_days. NULL: delete outright. */
    const char *trash_prefix;
    int trash_days;

    int concurrency;                /* transfers in flight; 0: MIRROR_CONCURRENCY_DEFAULT */
    double max_requests_per_second; /* per side; 0: the stores' own setting (unlimited) */
    /* Deletion guard: at most max_delete_count objects (when >= 0), else at most
     * max_delete_percent of the destination's included objects (< 0: the default 10%). */
    int64_t max_delete_count;
    double max_delete_percent;
    enum mirror_acl acl;
    bool is_checksum; /* compare content hashes (MD5) instead of size + time when ETags say no */
    bool is_dry_run;  /* list and compare only; report the plan */

    mirror_plan_fn plan;
    mirror_progress_fn progress;
    void *ctx; /* for plan and progress */
};

/* Runs the mirror. Returns 0 when every included source key is at the destination, unchanged, and
 * the extraneous keys are deleted (or, in dry-run mode, when the plan is complete). Returns -1
 * with err set otherwise: ERR_CONFIG for bad options (unknown store type, a malformed filter);
 * ERR_REMOTE/ERR_NETWORK/ERR_IO when a listing failed (then nothing was deleted) or some objects
 * failed (stats->failures names them; the rest was done); ERR_FAILED when the deletion guard
 * refused (stats->deletion_refusal has the numbers); ERR_CANCELLED on SIGINT/SIGTERM (in-flight
 * uploads are aborted, so no partial object is ever visible). stats is filled in every case. */
int mirror_run(const struct mirror_options *opts, struct mirror_stats *stats, struct error *err);

#endif
