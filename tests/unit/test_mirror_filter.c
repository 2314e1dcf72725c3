/* mirror/filter.c (the include/exclude globs) and mirror/key.c (which keys may be written where):
 * tables of pattern, key and expected result; a comparison of the matcher with a naive
 * backtracking reference on generated patterns; the safety property of
 * mirror_filter_skips_prefix checked by brute force; and the key checks' reasons. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mirror/filter.h"
#include "mirror/key.h"
#include "unit.h"
#include "util/xalloc.h"

struct glob_case {
    const char *pattern;
    const char *key;
    bool is_match;
};

static void check_glob_cases(const struct glob_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        bool got = mirror_glob_match(cases[i].pattern, cases[i].key);
        if (got != cases[i].is_match)
            unit_fail(__FILE__, __LINE__, "mirror_glob_match(\"%s\", \"%s\") = %d, wanted %d",
                      cases[i].pattern, cases[i].key, got, cases[i].is_match);
    }
}

#define CHECK_GLOB_CASES(cases) check_glob_cases((cases), sizeof(cases) / sizeof((cases)[0]))

static void test_mirror_glob_unanchored_matches_at_any_level(void)
{
    static const struct glob_case cases[] = {
        {"file.jpg", "file.jpg", true},
        {"file.jpg", "dir/file.jpg", true},
        {"file.jpg", "a/b/c/file.jpg", true},
        {"file.jpg", "afile.jpg", false}, /* only at a segment boundary */
        {"file.jpg", "file.jpg/x", false},
        {"file.jpg", "file.jpgx", false},
        {"*.jpg", "a.jpg", true},
        {"*.jpg", "x/y/a.jpg", true},
        {"*.jpg", ".jpg", true},
        {"*.jpg", "a.jpg.png", false},
        {"*.jpg", "ajpg", false},
        {"*.tmp", "a/b/c.tmp", true},
        {"dir/*.jpg", "dir/a.jpg", true},
        {"dir/*.jpg", "x/dir/a.jpg", true},
        {"dir/*.jpg", "xdir/a.jpg", false},
        {"dir/*.jpg", "dir/sub/a.jpg", false},
        {"b/c", "a/b/c", true},
        {"b/c", "ab/c", false},
        {"original/*",
         "media_attachments/files/109/348/123/456/789/000/original/1a2b3c4d5e6f7a8b.jpg", true},
        {"small/*", "media_attachments/files/109/348/123/456/789/000/original/1a2b3c4d5e6f7a8b.jpg",
         false},
    };
    CHECK_GLOB_CASES(cases);
}

static void test_mirror_glob_leading_slash_anchors_at_the_root(void)
{
    static const struct glob_case cases[] = {
        {"/file.jpg", "file.jpg", true},
        {"/file.jpg", "dir/file.jpg", false},
        {"/dir/*.jpg", "dir/a.jpg", true},
        {"/dir/*.jpg", "x/dir/a.jpg", false},
        {"/*", "abc", true},
        {"/*", "a/b", false},
        {"/media_attachments/files/*/*/*/*/*/*/original/*",
         "media_attachments/files/109/348/123/456/789/000/original/1a2b3c4d5e6f7a8b.jpg", true},
        {"/media_attachments/files/*/*/*/*/*/*/original/*",
         "media_attachments/files/109/348/123/456/789/original/1a2b3c4d5e6f7a8b.jpg", false},
        {"/accounts/avatars/**", "accounts/avatars/000/000/001/original/a.png", true},
        {"/accounts/avatars/**", "x/accounts/avatars/000/a.png", false},
    };
    CHECK_GLOB_CASES(cases);
}

static void test_mirror_glob_double_star_crosses_slashes(void)
{
    static const struct glob_case cases[] = {
        /* at the start */
        {"**.tmp", "a/b/c.tmp", true},
        {"**.tmp", "c.tmp", true},
        {"**/x", "a/b/x", true},
        {"**/x", "x", false}, /* the '/' must be there, as in rclone's regexp */
        {"**", "", true},
        {"**", "anything/at/all", true},
        {"/**", "a/b", true},
        /* in the middle */
        {"/a/**/b", "a/x/b", true},
        {"/a/**/b", "a/x/y/z/b", true},
        {"/a/**/b", "a/b", false},
        {"/a/**b", "a/b", true},
        {"/a/**b", "a/x/yb", true},
        {"/a**b", "a/x/b", true},
        {"/a**b", "a/x/bc", false},
        /* at the end */
        {"/cache/**", "cache/a/b/c.png", true},
        {"/cache/**", "cache/", true},
        {"/cache/**", "cache", false},
        {"/cache/**", "x/cache/a", false},
        {"cache/**", "x/cache/a", true},
        {"cache/**", "xcache/a", false},
        /* more than two stars are one "**" */
        {"/a***z", "a/b/z", true},
        /* '*' alone stays within one name */
        {"/a/*", "a/b", true},
        {"/a/*", "a/", true},
        {"/a/*", "a/b/c", false},
        {"/a*z", "a/z", false},
        {"/*/*", "a/b", true},
        {"/*/*", "a/b/c", false},
        {"/*/**", "a/b/c", true},
        /* patterns that make backtracking matchers exponential */
        {"**a**a**a**b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
        {"**a**a**a**b", "a/a/a/b", true},
        {"*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", true},
        {"*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
    };
    CHECK_GLOB_CASES(cases);
}

static void test_mirror_glob_question_mark_and_classes(void)
{
    static const struct glob_case cases[] = {
        {"/a?c", "abc", true},
        {"/a?c", "a/c", false},
        {"/a?c", "ac", false},
        {"/a?c", "abbc", false},
        {"/caf?", "caf\xc3\xa9", true}, /* "café": '?' is one UTF-8 character */
        {"/caf??", "caf\xc3\xa9", false},
        {"/caf?", "caf\xff", true},      /* an invalid byte is one character */
        {"/caf??", "caf\xc3\x28", true}, /* a broken sequence: two characters */
        {"/\xc3\xa9", "\xc3\xa9", true}, /* literal UTF-8 */
        {"/\xc3*", "\xc3\xa9", false},   /* a lone lead byte is not the start of "é" */
        {"/[abc]", "b", true},
        {"/[abc]", "d", false},
        {"/[abc]", "", false},
        {"/[abc]", "ab", false},
        {"/[a-z]x", "qx", true},
        {"/[a-z]x", "Qx", false},
        {"/[a-cx-z]", "y", true},
        {"/[a-cx-z]", "d", false},
        {"/[0-9][0-9][0-9]/*", "109/x", true},
        {"/[0-9][0-9][0-9]/*", "10a/x", false},
        {"/[!a-z]", "Q", true},
        {"/[!a-z]", "q", false},
        {"/[^a-z]", "Q", true},
        {"/[^a-z]", "q", false},
        {"/[!a-z]", "/", false}, /* a class never matches '/' */
        {"/x[!a]y", "x/y", false},
        {"/[]]", "]", true}, /* ']' first is a member */
        {"/[]a]", "a", true},
        {"/[!]]", "]", false},
        {"/[!]]", "a", true},
        {"/[a-]", "-", true}, /* '-' first or last is a member */
        {"/[-a]", "-", true},
        {"/[a-]", "b", false},
        {"/[\\]]", "]", true}, /* '\' escapes inside a class */
        {"/[\\!a]", "!", true},
        {"/[\\-]", "-", true},
        {"/[*?]", "*", true},
        {"/[*?]", "a", false},
        {"/[\xc3\xa9]", "\xc3\xa9", true},           /* [é] */
        {"/[\xc3\xa0-\xc3\xbf]", "\xc3\xa9", true},  /* [à-ÿ] holds é */
        {"/[\xc3\xa0-\xc3\xbf]", "\xc3\x80", false}, /* but not À */
        {"/[!\xc3\xa9]", "\xc3\xa9", false},
        {"/[!\xc3\xa9]", "e", true},
    };
    CHECK_GLOB_CASES(cases);
}

static void test_mirror_glob_backslash_escapes(void)
{
    static const struct glob_case cases[] = {
        {"/\\*", "*", true},       {"/\\*", "a", false},     {"/a\\?", "a?", true},
        {"/a\\?", "ab", false},    {"/\\[a]", "[a]", true},  {"/\\[a]", "a", false},
        {"/\\\\", "\\", true},     {"/\\{a}", "{a}", false}, /* '}' unescaped: refused */
        {"/\\{a\\}", "{a}", true}, {"\\/x", "/x", true},     /* an escaped '/' does not anchor */
        {"\\/x", "a//x", true},    {"\\/x", "a/x", false},   {"/a\\b", "ab", true},
    };
    CHECK_GLOB_CASES(cases);
}

static void test_mirror_glob_trailing_slash_means_the_subtree(void)
{
    static const struct glob_case cases[] = {
        {"cache/", "cache/a", true},
        {"cache/", "cache/media_attachments/files/1/2/original/a.png", true},
        {"cache/", "cache/", true}, /* a directory marker */
        {"cache/", "cache", false},
        {"cache/", "x/cache/y", true},
        {"cache/", "cachex/y", false},
        {"cache/", "xcache/y", false},
        {"/cache/", "cache/y", true},
        {"/cache/", "x/cache/y", false},
        {"/", "anything/at/all", true},
        {"/", "", true},
        {"*/", "a/b", true},
        {"/*/", "a/b/c", true},
        {"/a/*/", "a/b", false},
    };
    CHECK_GLOB_CASES(cases);
}

static void test_mirror_glob_empty_and_long_keys(void)
{
    static const struct glob_case cases[] = {
        {"*", "", true},        {"/*", "", true}, {"a", "", false},
        {"/cache/", "", false}, {"?", "", false},
    };
    size_t len = 4000;
    char *key = xmalloc(len + 1);
    char *pattern = xmalloc(MIRROR_PATTERN_MAX + 2);

    CHECK_GLOB_CASES(cases);
    memset(key, 'a', len);
    key[len] = '\0';
    CHECK(mirror_glob_match("**a", key));
    CHECK(mirror_glob_match("*a", key));
    CHECK(!mirror_glob_match("**a**a**a**b", key));
    CHECK(!mirror_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", key));
    for (size_t i = 0; i < len; i += 100)
        key[i] = '/';
    CHECK(mirror_glob_match("**a", key));
    CHECK(!mirror_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", key));
    CHECK(mirror_glob_match("a", key) == false); /* the last name is 99 'a's */
    /* A pattern of exactly MIRROR_PATTERN_MAX bytes of "*a" pairs, against the 4000-byte key. */
    for (size_t i = 0; i < MIRROR_PATTERN_MAX; i += 2)
        memcpy(pattern + i, "*a", 2);
    pattern[MIRROR_PATTERN_MAX] = '\0';
    CHECK(!mirror_glob_match(pattern, key));
    memset(key, 'a', len); /* 4000 'a's hold 512 "*a" */
    CHECK(mirror_glob_match(pattern, key));
    key[511] = '\0';
    CHECK(!mirror_glob_match(pattern, key));
    /* One byte over the limit: not a valid pattern, so it matches nothing. */
    pattern[MIRROR_PATTERN_MAX] = '*';
    pattern[MIRROR_PATTERN_MAX + 1] = '\0';
    key[511] = 'a';
    CHECK(!mirror_glob_match(pattern, key));
    xfree(pattern);
    xfree(key);
}

/* A naive reference: backtracking, exponential in the worst case, fine on short inputs. It knows
 * only what gen_pattern produces (literals, '*', '**', '?', "[ab]", "[!a]", a trailing '/'). */
static bool ref_match_here(const char *p, const char *k)
{
    if (*p == '\0')
        return *k == '\0';
    if (p[0] == '*' && p[1] == '*') {
        while (*p == '*')
            p++;
        for (;; k++) {
            if (ref_match_here(p, k))
                return true;
            if (*k == '\0')
                return false;
        }
    }
    if (*p == '*') {
        for (;; k++) {
            if (ref_match_here(p + 1, k))
                return true;
            if (*k == '\0' || *k == '/')
                return false;
        }
    }
    if (*k == '\0')
        return false;
    if (*p == '?')
        return *k != '/' && ref_match_here(p + 1, k + 1);
    if (*p == '[') {
        bool is_negated = p[1] == '!';
        const char *end = strchr(p, ']');
        bool is_found = false;

        for (const char *c = p + 1 + is_negated; c < end; c++)
            if (*c == *k)
                is_found = true;
        return *k != '/' && is_found != is_negated && ref_match_here(end + 1, k + 1);
    }
    return *p == *k && ref_match_here(p + 1, k + 1);
}

static bool ref_match(const char *pattern, const char *key)
{
    bool is_anchored = pattern[0] == '/';
    char *body =
        xasprintf("%s%s", pattern + is_anchored, pattern[strlen(pattern) - 1] == '/' ? "**" : "");
    bool is_match = ref_match_here(body, key);

    for (const char *k = key; !is_match && !is_anchored && (k = strchr(k, '/')) != NULL;)
        is_match = ref_match_here(body, ++k);
    xfree(body);
    return is_match;
}

static uint32_t rng_next(uint32_t *state)
{
    /* xorshift32: deterministic, so a failure reproduces */
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

static void gen_pattern(uint32_t *rng, char *out, size_t size)
{
    static const char *const pieces[] = {"a", "b", "/", "*", "**", "?", "[ab]", "[!a]", "a", "/"};
    size_t count = 1 + rng_next(rng) % 6;

    out[0] = '\0';
    if (rng_next(rng) % 3 == 0)
        strncat(out, "/", size - strlen(out) - 1);
    for (size_t i = 0; i < count; i++)
        strncat(out, pieces[rng_next(rng) % 10], size - strlen(out) - 1);
}

static void gen_key(uint32_t *rng, char *out, size_t size)
{
    static const char alphabet[] = "ab/";
    size_t len = rng_next(rng) % 9;

    ASSERT(len < size);
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[rng_next(rng) % 3];
    out[len] = '\0';
}

static void test_mirror_glob_agrees_with_a_backtracking_reference(void)
{
    uint32_t rng = 20261124;

    for (int round = 0; round < 4000; round++) {
        char pattern[64];
        char key[16];

        gen_pattern(&rng, pattern, sizeof(pattern));
        for (int k = 0; k < 25; k++) {
            bool got;
            bool want;

            gen_key(&rng, key, sizeof(key));
            got = mirror_glob_match(pattern, key);
            want = ref_match(pattern, key);
            if (got != want)
                unit_fail(__FILE__, __LINE__,
                          "mirror_glob_match(\"%s\", \"%s\") = %d, reference %d", pattern, key, got,
                          want);
        }
    }
}

static void test_mirror_filter_add_rejects_bad_patterns(void)
{
    struct mirror_filter f = {0};
    struct error err = ERROR_INIT;
    char *long_pattern = xmalloc(MIRROR_PATTERN_MAX + 2);

    CHECK_ERR(mirror_filter_add(&f, false, "x[", &err), err, ERR_CONFIG,
              "exclude pattern 'x[': unterminated character class");
    CHECK_ERR(mirror_filter_add(&f, true, "a/[!abc", &err), err, ERR_CONFIG,
              "include pattern 'a/[!abc': unterminated character class");
    CHECK_ERR(mirror_filter_add(&f, true, "[]", &err), err, ERR_CONFIG,
              "unterminated character class");
    CHECK_ERR(mirror_filter_add(&f, true, "[a\\]", &err), err, ERR_CONFIG,
              "unterminated character class");
    CHECK_ERR(mirror_filter_add(&f, false, "a\\", &err), err, ERR_CONFIG,
              "exclude pattern 'a\\': trailing '\\'");
    CHECK_ERR(mirror_filter_add(&f, false, "", &err), err, ERR_CONFIG,
              "exclude pattern '': empty pattern");
    CHECK_ERR(mirror_filter_add(&f, false, "[z-a]", &err), err, ERR_CONFIG,
              "exclude pattern '[z-a]': character class range out of order");
    CHECK_ERR(mirror_filter_add(&f, true, "*.{jpg,png}", &err), err, ERR_CONFIG,
              "include pattern '*.{jpg,png}': '{a,b}' alternatives are not supported");
    CHECK_ERR(mirror_filter_add(&f, true, "a}", &err), err, ERR_CONFIG, "not supported");
    /* Control characters are not echoed into the message. */
    CHECK_ERR(mirror_filter_add(&f, true, "a\n[", &err), err, ERR_CONFIG, "include pattern 'a?['");
    memset(long_pattern, 'a', MIRROR_PATTERN_MAX + 1);
    long_pattern[MIRROR_PATTERN_MAX + 1] = '\0';
    CHECK_ERR(mirror_filter_add(&f, false, long_pattern, &err), err, ERR_CONFIG,
              "...': longer than 1024 bytes");
    CHECK(strlen(err.msg) < 300);
    CHECK_INT_EQ(f.include_count + f.exclude_count, 0);
    long_pattern[MIRROR_PATTERN_MAX] = '\0'; /* exactly at the limit: fine */
    CHECK_OK(mirror_filter_add(&f, false, long_pattern, unit_err()));
    CHECK_INT_EQ(f.exclude_count, 1);
    mirror_filter_release(&f);
    mirror_filter_release(&f); /* safe twice */
    xfree(long_pattern);
}

static void test_mirror_filter_allows_by_excludes_then_includes(void)
{
    struct mirror_filter f = {0};

    CHECK(mirror_filter_allows(&f, "anything")); /* nothing is filtered unless configured */
    CHECK(mirror_filter_allows(&f, "cache/x"));
    CHECK_OK(mirror_filter_add(&f, false, "cache/", unit_err()));
    CHECK_OK(mirror_filter_add(&f, false, "*.tmp", unit_err()));
    CHECK(!mirror_filter_allows(&f, "cache/media_attachments/files/1/original/a.png"));
    CHECK(!mirror_filter_allows(&f, "media_attachments/x.tmp"));
    CHECK(mirror_filter_allows(&f, "media_attachments/x.png"));
    CHECK(mirror_filter_allows(&f, "cachet/x.png"));
    CHECK_INT_EQ(f.exclude_count, 2);
    CHECK_STR_EQ(f.exclude[1], "*.tmp");

    /* With includes, a key must match one of them too; excludes still win. */
    CHECK_OK(mirror_filter_add(&f, true, "/media_attachments/**", unit_err()));
    CHECK_OK(mirror_filter_add(&f, true, "/accounts/**", unit_err()));
    CHECK_INT_EQ(f.include_count, 2);
    CHECK(mirror_filter_allows(&f, "media_attachments/files/109/348/123/456/789/000/original/"
                                   "1a2b3c4d5e6f7a8b.jpg"));
    CHECK(mirror_filter_allows(&f, "accounts/avatars/000/000/001/original/a.png"));
    CHECK(!mirror_filter_allows(&f, "site_uploads/files/000/000/001/original/a.png"));
    CHECK(!mirror_filter_allows(&f, "media_attachments/x.tmp"));
    CHECK(!mirror_filter_allows(&f, "cache/accounts/a.png"));
    mirror_filter_release(&f);
    CHECK_INT_EQ(f.include_count + f.exclude_count, 0);
    CHECK(f.include == NULL && f.exclude == NULL);
}

/* Builds a filter from "+pattern" (include) and "-pattern" (exclude) strings. */
static void filter_build(struct mirror_filter *f, const char *const *rules, size_t count)
{
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < count; i++)
        CHECK_OK(mirror_filter_add(f, rules[i][0] == '+', rules[i] + 1, unit_err()));
}

struct skip_case {
    const char *rules[3];
    const char *prefix;
    bool is_skipped;
};

static void test_mirror_filter_skips_excluded_and_never_included_subtrees(void)
{
    static const struct skip_case cases[] = {
        {{"-cache/"}, "cache/", true},
        {{"-/cache/**"}, "cache/", true},
        {{"-cache/**"}, "cache/", true},
        {{"-cache/"}, "x/cache/", true},
        {{"-cache/"}, "cache/sub/", true},
        {{"-**"}, "", true},
        {{"-/"}, "", true},
        {{"-/cache/"}, "x/cache/", false},
        {{"-/cache/**"}, "cache", false}, /* "cachet/x" is not excluded */
        {{"-/cache/*"}, "cache/", false}, /* "cache/a/b" is not excluded */
        {{"-*.tmp"}, "cache/", false},
        {{"-cache/"}, "", false},
        {{"+/media_attachments/**"}, "cache/", true},
        {{"+/media_attachments/**"}, "media_attachments/", false},
        {{"+/media_attachments/**"}, "media_", false},
        {{"+/media_attachments/**"}, "", false},
        {{"+*.jpg"}, "cache/", false}, /* unanchored: cache/x.jpg is included */
        {{"+/accounts/**", "+/media_attachments/**"}, "cache/", true},
        {{"+/accounts/**", "+/media_attachments/**"}, "accounts/", false},
        {{"+/accounts/**", "+*.png"}, "cache/", false},
        {{"+/a/*/b"}, "a/x/", false},
        {{"+/a/*/b"}, "a/x/y/", true},
        {{"+/a/**/b"}, "a/x/y/", false},
        {{"+/**", "-/cache/"}, "cache/", true},
        {{"+/[!c]*/**"}, "cache/", true},
        {{"+/[!c]*/**"}, "media/", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mirror_filter f;
        size_t count = 0;
        bool got;

        while (count < 3 && cases[i].rules[count])
            count++;
        filter_build(&f, cases[i].rules, count);
        got = mirror_filter_skips_prefix(&f, cases[i].prefix);
        if (got != cases[i].is_skipped)
            unit_fail(__FILE__, __LINE__, "case %zu (%s...): skips_prefix(\"%s\") = %d, wanted %d",
                      i, cases[i].rules[0], cases[i].prefix, got, cases[i].is_skipped);
        mirror_filter_release(&f);
    }
}

/* The property the mirror relies on: when skips_prefix says yes, no key under prefix passes. */
static void check_skip_is_safe(const struct mirror_filter *f, const char *prefix)
{
    static const char *const suffixes[] = {
        "",          "x",        "a",     "b",       "/",
        "x/",        "a/b",      "ab/ba", "cache/x", "x.tmp",
        "x.jpg",     "\xc3\xa9", "\xa9",  "\xff",    "media_attachments/files/109/original/1.jpg",
        "a/b/c/d/e", "*",        "[",
    };

    if (!mirror_filter_skips_prefix(f, prefix))
        return;
    for (size_t s = 0; s < sizeof(suffixes) / sizeof(suffixes[0]); s++) {
        char *key = xasprintf("%s%s", prefix, suffixes[s]);
        if (mirror_filter_allows(f, key))
            unit_fail(__FILE__, __LINE__, "skips_prefix(\"%s\") but allows(\"%s\")", prefix, key);
        xfree(key);
    }
}

static void test_mirror_filter_skips_prefix_only_when_no_key_under_it_passes(void)
{
    uint32_t rng = 4;
    size_t skipped = 0;

    for (int round = 0; round < 3000; round++) {
        struct mirror_filter f = {0};
        size_t rule_count = 1 + rng_next(&rng) % 3;

        for (size_t r = 0; r < rule_count; r++) {
            char pattern[64];

            gen_pattern(&rng, pattern, sizeof(pattern));
            CHECK_OK(mirror_filter_add(&f, rng_next(&rng) % 2, pattern, unit_err()));
        }
        for (int p = 0; p < 10; p++) {
            char prefix[16];

            gen_key(&rng, prefix, sizeof(prefix));
            check_skip_is_safe(&f, prefix);
            skipped += mirror_filter_skips_prefix(&f, prefix);
        }
        mirror_filter_release(&f);
    }
    /* The generated filters do skip now and then, so the check above has teeth. */
    CHECK(skipped > 100);
}

static void test_mirror_key_decode_utf8_rejects_malformed_sequences(void)
{
    uint32_t cp = 0;

    CHECK_INT_EQ(mirror_key_decode_utf8("a", 1, &cp), 1);
    CHECK_INT_EQ(cp, 'a');
    CHECK_INT_EQ(mirror_key_decode_utf8("\xc2\x80", 2, &cp), 2);
    CHECK_INT_EQ(cp, 0x80);
    CHECK_INT_EQ(mirror_key_decode_utf8("\xdf\xbf", 2, &cp), 2);
    CHECK_INT_EQ(cp, 0x7ff);
    CHECK_INT_EQ(mirror_key_decode_utf8("\xe0\xa0\x80", 3, &cp), 3);
    CHECK_INT_EQ(cp, 0x800);
    CHECK_INT_EQ(mirror_key_decode_utf8("\xe2\x82\xac", 3, &cp), 3); /* € */
    CHECK_INT_EQ(cp, 0x20ac);
    CHECK_INT_EQ(mirror_key_decode_utf8("\xed\x9f\xbf", 3, &cp), 3);
    CHECK_INT_EQ(cp, 0xd7ff);
    CHECK_INT_EQ(mirror_key_decode_utf8("\xee\x80\x80", 3, &cp), 3);
    CHECK_INT_EQ(cp, 0xe000);
    CHECK_INT_EQ(mirror_key_decode_utf8("\xf0\x90\x80\x80", 4, &cp), 4);
    CHECK_INT_EQ(cp, 0x10000);
    CHECK_INT_EQ(mirror_key_decode_utf8("\xf0\x9f\x98\x80", 4, &cp), 4); /* 😀 */
    CHECK_INT_EQ(cp, 0x1f600);
    CHECK_INT_EQ(mirror_key_decode_utf8("\xf4\x8f\xbf\xbf", 4, &cp), 4);
    CHECK_INT_EQ(cp, 0x10ffff);

    CHECK_INT_EQ(mirror_key_decode_utf8("", 0, &cp), 0);
    CHECK_INT_EQ(mirror_key_decode_utf8("\x80", 1, &cp), 0);             /* stray continuation */
    CHECK_INT_EQ(mirror_key_decode_utf8("\xc0\xaf", 2, &cp), 0);         /* overlong '/' */
    CHECK_INT_EQ(mirror_key_decode_utf8("\xc1\xbf", 2, &cp), 0);         /* overlong */
    CHECK_INT_EQ(mirror_key_decode_utf8("\xe0\x80\xaf", 3, &cp), 0);     /* overlong */
    CHECK_INT_EQ(mirror_key_decode_utf8("\xe0\x9f\xbf", 3, &cp), 0);     /* overlong */
    CHECK_INT_EQ(mirror_key_decode_utf8("\xf0\x80\x80\xaf", 4, &cp), 0); /* overlong */
    CHECK_INT_EQ(mirror_key_decode_utf8("\xf0\x8f\xbf\xbf", 4, &cp), 0); /* overlong */
    CHECK_INT_EQ(mirror_key_decode_utf8("\xed\xa0\x80", 3, &cp), 0);     /* surrogate D800 */
    CHECK_INT_EQ(mirror_key_decode_utf8("\xed\xbf\xbf", 3, &cp), 0);     /* surrogate DFFF */
    CHECK_INT_EQ(mirror_key_decode_utf8("\xf4\x90\x80\x80", 4, &cp), 0); /* U+110000 */
    CHECK_INT_EQ(mirror_key_decode_utf8("\xf5\x80\x80\x80", 4, &cp), 0);
    CHECK_INT_EQ(mirror_key_decode_utf8("\xff", 1, &cp), 0);
    CHECK_INT_EQ(mirror_key_decode_utf8("\xe2\x82", 2, &cp), 0);     /* truncated */
    CHECK_INT_EQ(mirror_key_decode_utf8("\xe2\x82\xac", 2, &cp), 0); /* cut by len */
    CHECK_INT_EQ(mirror_key_decode_utf8("\xe2\x28\xac", 3, &cp), 0); /* bad continuation */
}

struct key_case {
    const char *key;
    size_t len; /* 0: strlen */
    const char *problem;
};

static void check_key_cases(const struct key_case *cases, size_t count, bool is_local)
{
    for (size_t i = 0; i < count; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].key);
        const char *got = is_local ? mirror_key_local_problem(cases[i].key, len)
                                   : mirror_key_s3_problem(cases[i].key, len);
        const char *want = cases[i].problem;

        if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
            unit_fail(__FILE__, __LINE__, "%s check, case %zu (\"%s\"): \"%s\", wanted \"%s\"",
                      is_local ? "local" : "s3", i, cases[i].key, got ? got : "(null)",
                      want ? want : "(null)");
    }
}

static char *repeat(char c, size_t count)
{
    char *s = xmalloc(count + 1);

    memset(s, c, count);
    s[count] = '\0';
    return s;
}

static void test_mirror_key_local_problem_reasons(void)
{
    static const struct key_case cases[] = {
        {"media_attachments/files/109/348/123/456/789/000/original/1a2b3c4d5e6f7a8b.jpg", 0, NULL},
        {"cache/accounts/avatars/109/000/001/original/a.png", 0, NULL},
        {"a b+c%d/e=f&g", 0, NULL},
        {"caf\xc3\xa9/\xe2\x82\xac.png", 0, NULL},
        {"\xff\xfe", 0, NULL}, /* file names are bytes */
        {".hidden", 0, NULL},
        {"..a", 0, NULL},
        {"a..", 0, NULL},
        {"a/.../b", 0, NULL},
        {"a\\..\\b", 0, NULL}, /* a backslash is an ordinary byte on Linux */
        {"a.tmp-1", 0, NULL},
        {"", 0, "empty key"},
        {"a\0b", 3, "NUL byte"},
        {"a\x01"
         "b",
         0, "control character"},
        {"a\nb", 0, "control character"},
        {"a\x1f", 0, "control character"},
        {"a\x7f", 0, "control character"},
        {"/etc/passwd", 0, "absolute path"},
        {"/", 0, "absolute path"},
        {"a//b", 0, "empty segment"},
        {"a/", 0, "empty segment"},
        {".", 0, "'.' segment"},
        {"./a", 0, "'.' segment"},
        {"a/./b", 0, "'.' segment"},
        {"..", 0, "'..' segment"},
        {"../x", 0, "'..' segment"},
        {"a/../../b", 0, "'..' segment"},
        {"a/..", 0, "'..' segment"},
        {".a.tmp-123456", 0, "temporary-file name"},
        {"media/.x.jpg.tmp-AbC123", 0, "temporary-file name"},
    };
    char *seg255 = repeat('s', 255);
    char *seg256 = repeat('s', 256);
    char *key4000 = repeat('k', 4000);
    char *key4001 = repeat('k', 4001);

    check_key_cases(cases, sizeof(cases) / sizeof(cases[0]), true);
    CHECK(mirror_key_local_problem(seg255, 255) == NULL);
    CHECK_STR_EQ(mirror_key_local_problem(seg256, 256), "segment longer than 255 bytes");
    for (size_t i = 200; i < 4000; i += 200)
        key4000[i] = '/';
    CHECK(mirror_key_local_problem(key4000, 4000) == NULL);
    CHECK_STR_EQ(mirror_key_local_problem(key4001, 4001), "key longer than 4000 bytes");
    /* Only len bytes count: the rest of the buffer may hold anything. */
    CHECK(mirror_key_local_problem("ab/../c", 2) == NULL);
    CHECK_STR_EQ(mirror_key_local_problem("ab/../c", 5), "'..' segment");
    xfree(seg255);
    xfree(seg256);
    xfree(key4000);
    xfree(key4001);
}

static void test_mirror_key_s3_problem_reasons(void)
{
    static const struct key_case cases[] = {
        {"media_attachments/files/109/348/123/456/789/000/original/1a2b3c4d5e6f7a8b.jpg", 0, NULL},
        {"a b+c%d/e=f&g<h>'\"", 0, NULL},
        {"caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80.png", 0, NULL},
        {"tab\there", 0, NULL},
        {"lf\nand cr\r", 0, NULL},
        {"del\x7f", 0, NULL},
        {"/leading/slash", 0, NULL}, /* S3 allows it */
        {"../x", 0, NULL},
        {"a//b/", 0, NULL},
        {"\xef\xbf\xbd", 0, NULL},     /* U+FFFD */
        {"\xee\x80\x80", 0, NULL},     /* U+E000 */
        {"\xf4\x8f\xbf\xbf", 0, NULL}, /* U+10FFFF */
        {"", 0, "empty key"},
        {"a\0b", 3, "NUL byte"},
        {"\x01", 0, "control character"},
        {"a\x1f", 0, "control character"},
        {"\x0b", 0, "control character"},
        {"\xef\xbf\xbe", 0, "character U+FFFE or U+FFFF"},
        {"\xef\xbf\xbf", 0, "character U+FFFE or U+FFFF"},
        {"\xc0\xaf", 0, "invalid UTF-8"},
        {"a\xe0\x80\xaf", 0, "invalid UTF-8"},
        {"\xf0\x80\x80\xaf", 0, "invalid UTF-8"},
        {"\xed\xa0\x80", 0, "invalid UTF-8"},
        {"\xf4\x90\x80\x80", 0, "invalid UTF-8"},
        {"\xff", 0, "invalid UTF-8"},
        {"\x80", 0, "invalid UTF-8"},
        {"caf\xc3", 0, "invalid UTF-8"},
        {"caf\xe9", 0, "invalid UTF-8"}, /* Latin-1 */
    };
    char *key1024 = repeat('k', 1024);
    char *key1025 = repeat('k', 1025);

    check_key_cases(cases, sizeof(cases) / sizeof(cases[0]), false);
    CHECK(mirror_key_s3_problem(key1024, 1024) == NULL);
    CHECK_STR_EQ(mirror_key_s3_problem(key1025, 1025), "key longer than 1024 bytes");
    /* A sequence cut by len is invalid even when the buffer goes on. */
    CHECK_STR_EQ(mirror_key_s3_problem("caf\xc3\xa9", 4), "invalid UTF-8");
    CHECK(mirror_key_s3_problem("caf\xc3\xa9", 5) == NULL);
    xfree(key1024);
    xfree(key1025);
}

const struct unit_test mirror_filter_tests[] = {
    {"mirror_glob_unanchored_matches_at_any_level",
     test_mirror_glob_unanchored_matches_at_any_level},
    {"mirror_glob_leading_slash_anchors_at_the_root",
     test_mirror_glob_leading_slash_anchors_at_the_root},
    {"mirror_glob_double_star_crosses_slashes", test_mirror_glob_double_star_crosses_slashes},
    {"mirror_glob_question_mark_and_classes", test_mirror_glob_question_mark_and_classes},
    {"mirror_glob_backslash_escapes", test_mirror_glob_backslash_escapes},
    {"mirror_glob_trailing_slash_means_the_subtree",
     test_mirror_glob_trailing_slash_means_the_subtree},
    {"mirror_glob_empty_and_long_keys", test_mirror_glob_empty_and_long_keys},
    {"mirror_glob_agrees_with_a_backtracking_reference",
     test_mirror_glob_agrees_with_a_backtracking_reference},
    {"mirror_filter_add_rejects_bad_patterns", test_mirror_filter_add_rejects_bad_patterns},
    {"mirror_filter_allows_by_excludes_then_includes",
     test_mirror_filter_allows_by_excludes_then_includes},
    {"mirror_filter_skips_excluded_and_never_included_subtrees",
     test_mirror_filter_skips_excluded_and_never_included_subtrees},
    {"mirror_filter_skips_prefix_only_when_no_key_under_it_passes",
     test_mirror_filter_skips_prefix_only_when_no_key_under_it_passes},
    {"mirror_key_decode_utf8_rejects_malformed_sequences",
     test_mirror_key_decode_utf8_rejects_malformed_sequences},
    {"mirror_key_local_problem_reasons", test_mirror_key_local_problem_reasons},
    {"mirror_key_s3_problem_reasons", test_mirror_key_s3_problem_reasons},
    {NULL, NULL},
};
