/* include/exclude globs of the media mirror, with rclone's matching rules so operators can carry
 * their filters over:
 * - a pattern that starts with '/' is anchored at the top of the mirrored tree; any other pattern
 *   matches at any directory level, against the end of the key ("*.tmp" matches "a/b/c.tmp",
 *   "b/c" matches "a/b/c" but not "ab/c");
 * - '*' matches any run of characters except '/', '**' any run including '/' (so a '**' between
 *   two slashes needs at least one directory there, as in rclone), '?' one character except '/';
 * - "[a-z]", "[!a-z]" or "[^a-z]" is a character class; it never matches '/'; a ']' right after
 *   the '[' (or "[!") is a member, '-' first or last is a member, '\' escapes inside it too;
 * - '\' makes the next character literal;
 * - a pattern ending in '/' matches everything under that directory ("cache/" means every key
 *   under any directory named cache, "/cache/" only the top one);
 * - rclone's "{a,b}" alternatives are not supported: '{' and '}' must be escaped.
 * '?' and classes consume one character, a well-formed UTF-8 sequence or else a single byte;
 * everything else compares bytes. A key passes when it matches no exclude pattern and, if there
 * are include patterns, matches one of them. Keys are relative to the mirror's prefix, without a
 * leading '/'. Pure; fuzzed (tests/fuzz/fuzz_mirror_key.c). */
#ifndef PERMAFROST_MIRROR_FILTER_H
#define PERMAFROST_MIRROR_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define MIRROR_PATTERN_MAX 1024 /* bytes of one pattern */

struct mirror_filter {
    char **include;
    size_t include_count;
    char **exclude;
    size_t exclude_count;
};

/* Checks and adds a copy of pattern (include or exclude). Returns 0, or -1 with ERR_CONFIG naming
 * the pattern ("exclude pattern 'x[': unterminated character class") for an empty pattern, one
 * over MIRROR_PATTERN_MAX bytes, an unterminated '[', a class range out of order ("[z-a]"), a
 * trailing '\' or an unescaped '{' or '}'; f is unchanged then. */
int mirror_filter_add(struct mirror_filter *f, bool is_include, const char *pattern,
                      struct error *err);
/* Frees the patterns; safe on a zeroed filter. */
void mirror_filter_release(struct mirror_filter *f);

/* Whether one valid pattern matches key, with the rules above (an invalid pattern matches
 * nothing). Time O(key length x pattern length) at worst, with no allocation: no exponential
 * backtracking on patterns like "**a**a**a**b". */
bool mirror_glob_match(const char *pattern, const char *key);
/* Whether key passes the filter. */
bool mirror_filter_allows(const struct mirror_filter *f, const char *key);
/* True only when no key starting with prefix (usually a directory prefix ending in '/', e.g.
 * "cache/"; the key equal to prefix included) can pass the filter, so the mirror may skip listing
 * that subtree on both sides. That is when an exclude pattern matches whatever follows prefix
 * (for "cache/": "cache/", "/cache/", or either of them followed by "**"), or when there are
 * include patterns and each is anchored and can match nothing under prefix (for "cache/":
 * "/media_attachments/" followed by "**").
 * Conservative: false whenever unsure, and always for a prefix whose last byte is not ASCII (it is
 * an optimisation; correctness never depends on it). */
bool mirror_filter_skips_prefix(const struct mirror_filter *f, const char *prefix);

#endif
