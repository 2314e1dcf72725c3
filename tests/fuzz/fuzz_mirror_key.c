/* libFuzzer target for the mirror's glob matcher (mirror/filter.c) and key checks (mirror/key.c).
 * The input is "PATTERN\0KEY" (without a NUL, the whole input is both). Beyond memory safety, and
 * bounded time on any pattern, it checks what the mirror relies on:
 * - mirror_filter_add succeeds and keeps the pattern, or fails with ERR_CONFIG naming it, and an
 *   invalid pattern matches nothing;
 * - a filter of one exclude (include) pattern allows exactly the keys it does not (does) match;
 * - an unanchored pattern that matches a key also matches it one directory down, and a pattern
 *   anchored with '/' matches only what the unanchored one does;
 * - the key, with its special characters escaped and a leading '/', is a pattern that matches it;
 * - when mirror_filter_skips_prefix says a prefix can be skipped, no key under it passes;
 * - a key that mirror_key_local_problem accepts has no empty, '.' or '..' segment, no leading
 *   '/', no control byte, and fits the length limits; one that mirror_key_s3_problem accepts is
 *   1..1024 bytes of UTF-8 without C0 controls other than tab, LF and CR;
 * - mirror_key_decode_utf8 returns characters that re-encode to the same bytes.
 * Seeds: tests/fuzz/corpus/mirror_key/. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mirror/filter.h"
#include "mirror/key.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encodes cp as UTF-8 into out (4 bytes); returns the length. Independent of the decoder. */
static size_t fuzz_encode_utf8(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

static void fuzz_check_utf8(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = 0;
        size_t n = mirror_key_decode_utf8(s + i, len - i, &cp);
        unsigned char again[4];

        if (n == 0)
            continue;
        ASSERT(n <= len - i && n <= 4);
        ASSERT(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff));
        /* Shortest form: re-encoding gives back the same bytes, so no overlong form passed. */
        ASSERT(fuzz_encode_utf8(cp, again) == n);
        ASSERT(memcmp(again, s + i, n) == 0);
    }
}

static void fuzz_check_local(const char *key, size_t len)
{
    size_t start = 0;

    if (mirror_key_local_problem(key, len) != NULL)
        return;
    ASSERT(len >= 1 && len <= MIRROR_KEY_LOCAL_MAX);
    ASSERT(key[0] != '/');
    for (size_t i = 0; i < len; i++)
        ASSERT((unsigned char)key[i] >= 0x20 && key[i] != 0x7f);
    for (size_t i = 0; i <= len; i++) {
        size_t seg_len = i - start;

        if (i < len && key[i] != '/')
            continue;
        ASSERT(seg_len >= 1 && seg_len <= 255);
        ASSERT(!(seg_len == 1 && key[start] == '.'));
        ASSERT(!(seg_len == 2 && key[start] == '.' && key[start + 1] == '.'));
        start = i + 1;
    }
}

static void fuzz_check_s3(const char *key, size_t len)
{
    if (mirror_key_s3_problem(key, len) != NULL)
        return;
    ASSERT(len >= 1 && len <= MIRROR_KEY_S3_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];

        ASSERT(c >= 0x20 || c == '\t' || c == '\n' || c == '\r');
        ASSERT(c != 0xc0 && c != 0xc1 && c < 0xf5);
    }
}

/* Escapes the glob's special characters of key, anchored: a pattern matching key itself. */
static char *fuzz_literal_pattern(const char *key)
{
    size_t len = strlen(key);
    char *pattern = xmalloc(2 * len + 2);
    size_t n = 0;

    pattern[n++] = '/';
    for (size_t i = 0; i < len; i++) {
        if (strchr("*?[]\\{}", key[i]))
            pattern[n++] = '\\';
        pattern[n++] = key[i];
    }
    pattern[n] = '\0';
    return pattern;
}

static void fuzz_check_glob(const char *pattern, const char *key)
{
    bool is_match = mirror_glob_match(pattern, key);
    size_t pattern_len = strlen(pattern);
    char *literal = fuzz_literal_pattern(key);

    if (is_match && pattern[0] != '/') {
        char *deeper = xasprintf("dir/%s", key);
        ASSERT(mirror_glob_match(pattern, deeper));
        xfree(deeper);
    }
    if (pattern_len > 0 && pattern[0] != '/' && pattern_len < MIRROR_PATTERN_MAX) {
        char *anchored = xasprintf("/%s", pattern);
        ASSERT(!mirror_glob_match(anchored, key) || is_match);
        xfree(anchored);
    }
    if (strlen(literal) <= MIRROR_PATTERN_MAX)
        ASSERT(mirror_glob_match(literal, key));
    xfree(literal);
}

/* Under prefix, no key may pass when the filter says the prefix can be skipped. */
static void fuzz_check_skip(const struct mirror_filter *f, const char *prefix)
{
    static const char *const suffixes[] = {"", "x", "/x", "a/b.jpg", "cache/x", "\xc3\xa9"};

    if (!mirror_filter_skips_prefix(f, prefix))
        return;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char *key = xasprintf("%s%s", prefix, suffixes[i]);
        ASSERT(!mirror_filter_allows(f, key));
        xfree(key);
    }
}

/* Builds a filter of pattern (as an include or an exclude) and the given extra rules. Returns
 * whether pattern was valid. */
static bool fuzz_filter(struct mirror_filter *f, const char *pattern, bool is_include,
                        const char *extra, bool is_extra_include)
{
    struct error err = ERROR_INIT;
    bool is_valid;

    memset(f, 0, sizeof(*f));
    if (extra)
        ASSERT(mirror_filter_add(f, is_extra_include, extra, &err) == 0);
    is_valid = mirror_filter_add(f, is_include, pattern, &err) == 0;
    if (is_valid) {
        char **list = is_include ? f->include : f->exclude;
        size_t count = is_include ? f->include_count : f->exclude_count;

        ASSERT(count >= 1 && strcmp(list[count - 1], pattern) == 0);
    } else {
        ASSERT(err.kind == ERR_CONFIG);
        ASSERT(strstr(err.msg, is_include ? "include pattern '" : "exclude pattern '"));
        ASSERT(f->include_count + f->exclude_count == (extra ? 1u : 0u));
    }
    return is_valid;
}

static void fuzz_filters(const char *pattern, const char *key)
{
    struct mirror_filter f;
    bool is_match = mirror_glob_match(pattern, key);

    if (fuzz_filter(&f, pattern, false, NULL, false)) {
        ASSERT(mirror_filter_allows(&f, key) == !is_match);
        fuzz_check_glob(pattern, key);
    } else {
        ASSERT(!is_match);
    }
    fuzz_check_skip(&f, key);
    fuzz_check_skip(&f, "");
    fuzz_check_skip(&f, "cache/");
    mirror_filter_release(&f);

    if (fuzz_filter(&f, pattern, true, NULL, false))
        ASSERT(mirror_filter_allows(&f, key) == is_match);
    fuzz_check_skip(&f, key);
    fuzz_check_skip(&f, "cache/");
    mirror_filter_release(&f);

    (void)fuzz_filter(&f, pattern, true, "cache/", false);
    fuzz_check_skip(&f, key);
    fuzz_check_skip(&f, "cache/");
    mirror_filter_release(&f);

    (void)fuzz_filter(&f, pattern, false, "/media_attachments/**", true);
    fuzz_check_skip(&f, key);
    fuzz_check_skip(&f, "media_attachments/");
    fuzz_check_skip(&f, "cache/");
    mirror_filter_release(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(data, '\0', size);
    size_t key_off = nul ? (size_t)(nul - text) + 1 : 0;
    char *pattern = xstrndup(text, nul ? key_off - 1 : size);
    char *key = xstrndup(text + key_off, size - key_off); /* cut at a further NUL */

    /* The key checks see every byte, NULs included. */
    fuzz_check_local(text + key_off, size - key_off);
    fuzz_check_s3(text + key_off, size - key_off);
    fuzz_check_utf8(text, size);
    /* The matcher's work grows with pattern x key; past the limits that the mirror ever feeds it
     * one match shows it copes, and the many checks would only slow the fuzzer down. */
    if (strlen(key) <= MIRROR_KEY_LOCAL_MAX && strlen(pattern) <= MIRROR_PATTERN_MAX + 1)
        fuzz_filters(pattern, key);
    else
        (void)mirror_glob_match(pattern, key);
    xfree(pattern);
    xfree(key);
    return 0;
}
