/* include/exclude globs of the media mirror, with rclone's matching rules so operators can carry
 * their filters over: a pattern that starts with '/' is anchored at the top of the mirrored tree,
 * any other pattern matches at any directory level ("*.tmp" matches "a/b/c.tmp"); '*' matches any
 * run of characters except '/', '**' any run including '/', '?' one character except '/',
 * "[a-z]" / "[!a-z]" a character class, '\' escapes the next character; a pattern ending in '/'
 * matches everything under that directory (so "cache/" means every key under cache). Matching is on
 * bytes. A key passes when it matches no exclude pattern and, if there are include patterns,
 * matches one of them. Keys are relative to the mirror's prefix, without a leading '/'. Pure;
 * fuzzed. */
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

/* Checks and adds one pattern. ERR_CONFIG ("exclude pattern 'x[': unterminated character class")
 * for an empty pattern, one over MIRROR_PATTERN_MAX bytes, an unterminated '[' or a trailing '\'.
 */
int mirror_filter_add(struct mirror_filter *f, bool is_include, const char *pattern,
                      struct error *err);
/* Frees the patterns; safe on a zeroed filter. */
void mirror_filter_release(struct mirror_filter *f);

/* Whether one (valid) pattern matches key, with the rules above. Linear-ish time: no exponential
 * backtracking on patterns like "**a**a**a**b". */
bool mirror_glob_match(const char *pattern, const char *key);
/* Whether key passes the filter. */
bool mirror_filter_allows(const struct mirror_filter *f, const char *key);
/* True only when no key starting with prefix (a directory prefix ending in '/', e.g. "cache/")
 * can pass the filter, so the mirror may skip listing that subtree on both sides. Conservative:
 * false whenever unsure (it is an optimisation; correctness never depends on it). */
bool mirror_filter_skips_prefix(const struct mirror_filter *f, const char *prefix);

#endif
