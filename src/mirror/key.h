/* Which keys may be written where. A bucket accepts almost any key, a directory does not: the
 * mirror checks every key before it becomes a path under a local destination, and every local
 * file name before it becomes an S3 key. Pure; fuzzed. */
#ifndef PERMAFROST_MIRROR_KEY_H
#define PERMAFROST_MIRROR_KEY_H

#include <stdbool.h>
#include <stddef.h>

#define MIRROR_KEY_LOCAL_MAX 4000 /* bytes of a key written under a local directory */
#define MIRROR_KEY_S3_MAX    1024 /* S3's limit on a key, in UTF-8 bytes */

/* NULL when key (len bytes, not necessarily NUL-terminated) can be written as a file under a local
 * directory without escaping it; else a short reason for the warning: "empty key", "absolute
 * path", "'..' segment", "'.' segment", "empty segment" (a//b, or a trailing '/': a directory
 * marker), "NUL byte", "control character", "segment longer than 255 bytes", "key longer than
 * 4000 bytes", "temporary-file name" (a segment starting with ".permafrost-tmp-", which the local
 * store uses for unfinished writes). */
const char *mirror_key_local_problem(const char *key, size_t len);

/* NULL when key can be an S3 key: 1..1024 bytes of valid UTF-8 (no overlong forms or surrogates)
 * without characters XML 1.0 cannot carry in a listing (controls other than tab, LF and CR), else
 * a short reason ("invalid UTF-8", "key longer than 1024 bytes", ...). */
const char *mirror_key_s3_problem(const char *key, size_t len);

#endif
