/* One side of a mirror (internal to mirror/): where its objects live (an S3 bucket through the
 * native client, a local directory, or any other store through the store interface), and sorted
 * listings of a key range of it. Keys here are relative to the side's prefix. */
#ifndef PERMAFROST_MIRROR_SIDE_H
#define PERMAFROST_MIRROR_SIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mirror/filter.h"
#include "net/http.h"
#include "stores/s3_client.h"
#include "stores/store.h"
#include "util/error.h"

#define SIDE_ETAG_MAX     72
#define SIDE_LOCAL_TMP    ".mirror.tmp-" /* unfinished files: a store_is_tmp_name() name */
#define SIDE_PAGE_KEYS    1000
#define SIDE_DISCOVER_MIN 16 /* key ranges wanted before the listings start */
#define SIDE_DISCOVER_MAX 64

struct mirror_entry {
    char *key; /* relative to the side's prefix */
    uint64_t size_bytes;
    time_t mtime;             /* LastModified, or the file's mtime */
    char etag[SIDE_ETAG_MAX]; /* without quotes; "" when unknown (local files) */
    bool is_md5;              /* etag is a plain MD5 of the content (32 hex digits) */
};

enum side_type { SIDE_S3, SIDE_LOCAL, SIDE_STORE };

struct side {
    enum side_type type;
    const char *what; /* "source" or "destination" */
    char *name;       /* the store's name */
    char *location;   /* for messages: "s3://bucket/prefix/", "/srv/media/" */

    /* SIDE_S3 */
    struct s3_client *s3;
    char *prefix;       /* full key prefix in the bucket: "" or ending in '/' */
    char *store_prefix; /* the store's own prefix: "" or ending in '/' (the trash lives there) */
    /* SIDE_LOCAL */
    char *root;       /* the mirrored directory, no trailing '/' */
    char *store_root; /* the store's directory */
    /* SIDE_STORE */
    struct store *store;
    char *store_key_prefix; /* "" or ending in '/' */
};

/* Opens a side for store o with the mirror prefix (relative to the store's root; "" for all).
 * http is the shared client S3 sides send through; max_rps overrides the store's rate when > 0.
 * A missing local destination directory is not an error (it lists as empty; the caller makes
 * it). */
int side_open(struct side *s, const char *what, const struct store_options *o, const char *prefix,
              struct http_client *http, double max_rps, struct error *err);
void side_close(struct side *s);

void mirror_entry_release(struct mirror_entry *e);
bool mirror_etag_is_md5(const char *etag);

/* A sorted listing of the keys in [lo, hi) of a side (hi NULL: no end), fetched a page at a time.
 * Keys under skip (a relative prefix, NULL for none) are left out: the trash inside a destination.
 */
struct lister {
    struct side *side;
    char *lo;
    char *hi;
    const char *skip;
    struct mirror_entry *ents;
    size_t count;
    size_t pos;
    bool is_end; /* nothing more to fetch (what is in ents is the rest) */
    uint64_t pages;

    /* SIDE_S3 */
    char *token;
    char *query; /* of the call in flight */
    bool is_fetching;
    struct s3_call call;
    /* SIDE_LOCAL */
    struct walk_frame *frames;
    size_t depth;
    size_t frame_alloc;
    bool is_walk_started;
    time_t stale_before; /* our temporary files older than this are removed (0: never) */
    /* SIDE_STORE */
    struct mirror_entry *all;
    size_t all_count;
    size_t all_pos;
    bool is_all_loaded;
};

void lister_init(struct lister *l, struct side *side, const char *lo, const char *hi,
                 const char *skip);
void lister_release(struct lister *l);
/* The current entry, or NULL when the buffer is empty (then either is_end, or more must be
 * fetched). */
const struct mirror_entry *lister_peek(const struct lister *l);
void lister_next(struct lister *l);
/* For local and store sides: fills the buffer synchronously. */
int lister_fill_sync(struct lister *l, struct error *err);
/* For S3 sides: prepares l->call for the next ListObjectsV2 page; then, when it has completed,
 * lister_take_page consumes the body. */
void lister_prepare_call(struct lister *l);
int lister_take_page(struct lister *l, struct error *err);

/* The key ranges to list in parallel. A side that fits in one listing page gets none (it is
 * listed as one range). Otherwise boundaries are found by listing with the '/' delimiter, the
 * shallowest prefix first, until there are SIDE_DISCOVER_MIN of them (at most 4 levels down, at
 * most SIDE_DISCOVER_MAX kept). Prefixes the filter skips as a whole come back in *skipped. Both
 * arrays are sorted relative prefixes (xfree each and the array). Blocking requests. */
int side_discover(struct side *s, const struct mirror_filter *f, char ***prefixes, size_t *count,
                  char ***skipped, size_t *skipped_count, struct error *err);

/* One ListObjectsV2 page of bucket c for query (encoded, without '?'), blocking. *page:
 * s3_xml_list_release, also after a failure. */
int side_list_page(struct s3_client *c, const char *query, struct s3_xml_list *page,
                   struct error *err);

/* Local files: the absolute path of a relative key (xfree). */
char *side_local_path(const struct side *s, const char *key);

#endif
