/* Parsers for the XML bodies S3 sends back (ListObjectsV2, errors, multipart, DeleteObjects,
 * CopyObject), over expat: the only file that includes expat.h. Every parser takes a complete
 * body of at most S3_XML_MAX_BODY bytes, fails with ERR_REMOTE and a message naming what was
 * wrong on malformed input (never crashes, never reads past len), ignores unknown elements, and
 * matches elements by local name whatever the namespace. Strings are unescaped (&amp; &lt; ...
 * and numeric character references) and owned by the result; each result has a release function
 * that frees everything and is safe on a zeroed struct. */
#ifndef PERMAFROST_STORES_S3_XML_H
#define PERMAFROST_STORES_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/error.h"

#define S3_XML_MAX_BODY      (16u << 20) /* a 1000-key listing is ~300 KB; a cap, not a target */
#define S3_XML_MAX_KEY_BYTES 4096        /* S3 allows 1024; longer values are refused */

/* <Error><Code>NoSuchKey</Code><Message>...</Message><RequestId>...</RequestId>...</Error>.
 * Empty or missing elements give empty strings (radosgw sends an empty <Message/>). */
struct s3_xml_error {
    char code[128];
    char message[512]; /* cut to fit */
    char request_id[128];
    char resource[256]; /* <Resource> or <Key>, cut to fit */
    char region[64];    /* <Region> of AuthorizationHeaderMalformed / PermanentRedirect */
};
/* Returns 0 and fills out when body is an <Error> document; -1 (ERR_REMOTE) otherwise. */
int s3_xml_parse_error(const char *body, size_t len, struct s3_xml_error *out, struct error *err);

struct s3_xml_object {
    char *key;
    uint64_t size_bytes;
    time_t last_modified; /* <LastModified> 2026-11-24T03:15:00.000Z, UTC; 0 when missing */
    char *etag;           /* with the quotes removed; NULL when missing */
    char *storage_class;  /* NULL when missing */
};

/* <ListBucketResult> of ListObjectsV2 (list-type=2). */
struct s3_xml_list {
    struct s3_xml_object *objects; /* in the order of the body */
    size_t object_count;
    char **common_prefixes; /* <CommonPrefixes><Prefix> when a delimiter was sent */
    size_t common_prefix_count;
    bool is_truncated;
    char *next_continuation_token; /* NULL when absent or empty */
    char *next_marker;             /* ListObjects V1 NextMarker, NULL when absent or empty */
    char *key_count_text;          /* unused by callers; NULL allowed */
    /* The request asked for encoding-type=url and the server applied it (<EncodingType>url): the
     * keys and prefixes above have been decoded already. Keys with characters XML 1.0 cannot
     * carry (control characters) can only be listed that way. */
    bool is_url_encoded;
};
int s3_xml_parse_list(const char *body, size_t len, struct s3_xml_list *out, struct error *err);
void s3_xml_list_release(struct s3_xml_list *l);

/* <InitiateMultipartUploadResult><UploadId>. *upload_id: xfree. */
int s3_xml_parse_initiate(const char *body, size_t len, char **upload_id, struct error *err);

/* CompleteMultipartUpload answers 200 and may still carry an <Error> (the S3 docs say so), so the
 * caller must check: on <CompleteMultipartUploadResult> returns 0 with *etag (xfree; quotes
 * removed; NULL when the element is empty, as radosgw sends it); on an <Error> body returns -1 with
 * ERR_REMOTE, the code and message in err->msg and *s3err filled (s3err may be NULL). */
int s3_xml_parse_complete(const char *body, size_t len, char **etag, struct s3_xml_error *s3err,
                          struct error *err);

/* <CopyObjectResult> or <CopyPartResult>: the ETag (quotes removed; xfree), or an <Error> body as
 * for s3_xml_parse_complete. */
int s3_xml_parse_copy(const char *body, size_t len, char **etag, struct s3_xml_error *s3err,
                      struct error *err);

/* <ListMultipartUploadsResult>: the in-progress uploads. */
struct s3_xml_upload {
    char *key;
    char *upload_id;
    time_t initiated; /* 0 when missing */
};
struct s3_xml_uploads {
    struct s3_xml_upload *uploads;
    size_t upload_count;
    bool is_truncated;
    char *next_key_marker;       /* NULL when absent or empty */
    char *next_upload_id_marker; /* NULL when absent or empty */
};
int s3_xml_parse_uploads(const char *body, size_t len, struct s3_xml_uploads *out,
                         struct error *err);
void s3_xml_uploads_release(struct s3_xml_uploads *u);

/* <AccessControlPolicy> of GetObjectAcl: *is_public_read is true when a grant gives the AllUsers
 * group READ (or FULL_CONTROL), which is what the canned ACL public-read sets. */
int s3_xml_parse_acl(const char *body, size_t len, bool *is_public_read, struct error *err);

/* <DeleteResult>: keys that failed (<Error><Key><Code><Message>) are returned; deleted ones are
 * only counted. */
struct s3_xml_delete_failure {
    char *key; /* never NULL: "" when the server named no key */
    char code[128];
    char message[512];
};
struct s3_xml_delete_result {
    size_t deleted_count;
    struct s3_xml_delete_failure *failures;
    size_t failure_count;
};
int s3_xml_parse_delete(const char *body, size_t len, struct s3_xml_delete_result *out,
                        struct error *err);
void s3_xml_delete_result_release(struct s3_xml_delete_result *r);

/* Request bodies. Appends to out (keys XML-escaped; characters XML 1.0 cannot carry, such as
 * control characters, are refused with ERR_USAGE since S3 could not take them either). On any
 * failure (ERR_USAGE, also when out's cap is reached) out is left as it was. Part numbers must be
 * 1..10000 and ascending, ETags non-empty and at most S3_XML_MAX_KEY_BYTES. */
struct s3_xml_part {
    int part_number;
    const char *etag; /* as returned by UploadPart, quotes included or not */
};
struct buf;
int s3_xml_write_complete(struct buf *out, const struct s3_xml_part *parts, size_t part_count,
                          struct error *err);
/* <Delete><Quiet>true</Quiet><Object><Key>..</Key></Object>...</Delete>; at most 1000 keys. */
int s3_xml_write_delete(struct buf *out, const char *const *keys, size_t key_count,
                        struct error *err);

/* Parses "2026-11-24T03:15:00.000Z" (fraction optional) to a UTC time_t; false when malformed. */
bool s3_xml_parse_time(const char *text, time_t *out);

/* expat's version, for `permafrost version`. */
const char *s3_xml_version(void);

#endif
