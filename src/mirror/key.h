/* Which keys may be written where. A bucket accepts almost any key, a directory does not: the
 * mirror checks every key before it becomes a path under a local destination, and every local
 * file name before it becomes an S3 key. Pure; fuzzed (tests/fuzz/fuzz_mirror_key.c). */
#ifndef PERMAFROST_MIRROR_KEY_H
#define PERMAFROST_MIRROR_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIRROR_KEY_LOCAL_MAX 4000 /* bytes of a key written under a local directory */
#define MIRROR_KEY_S3_MAX    1024 /* S3's limit on a key, in UTF-8 bytes */

/* NULL when key (len bytes, not necessarily NUL-terminated) can be written as a file under a local
 * directory without escaping it; else a short static reason for the warning, the first problem
 * found in this order: "empty key", "key longer than 4000 bytes", "NUL byte", "control character"
 * (bytes 0x01-0x1f and 0x7f), "absolute path" (a leading '/'), then per segment from the left:
 * "empty segment" (a//b, or a trailing '/': a directory marker), "'.' segment", "'..' segment",
 * "segment longer than 255 bytes", "temporary-file name" (a segment shaped like the stores'
 * unfinished writes, ".<name>.tmp-XXXXXX": see store_is_tmp_name). So a key that passes has no
 * ".." segment, does not start with '/', and holds no byte below 0x20. */
const char *mirror_key_local_problem(const char *key, size_t len);

/* NULL when key (len bytes) can be an S3 key: 1..1024 bytes of well-formed UTF-8 (no overlong
 * forms, surrogates or code points above U+10FFFF) holding only characters XML 1.0 can carry in a
 * listing; else a short static reason: "empty key", "key longer than 1024 bytes", "invalid UTF-8",
 * "NUL byte", "control character" (U+0001-U+001F other than tab, LF and CR), "character U+FFFE or
 * U+FFFF". */
const char *mirror_key_s3_problem(const char *key, size_t len);

/* Length in bytes (1-4) of the well-formed UTF-8 character that starts s (len bytes available),
 * with its code point in *cp; 0 when s does not start with one (len 0, a stray or truncated
 * sequence, an overlong form, a surrogate, a code point above U+10FFFF). Shared with the glob
 * matcher so that '?' and character classes see the same characters as the S3 check. */
size_t mirror_key_decode_utf8(const char *s, size_t len, uint32_t *cp);

#endif
