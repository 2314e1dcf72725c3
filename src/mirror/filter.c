/* The glob matcher runs the pattern as a set of states (Thompson's construction, as RE2 and Go's
 * regexp do) instead of backtracking: state i means "the key so far matched tokens 0..i-1", and
 * each key character moves every live state at once. The work is O(key characters x tokens) in
 * the worst case whatever the pattern ("**a**a**a**b" included), and the state set is a bitset of
 * at most 1026 bits on the stack, so nothing is allocated while matching.
 *
 * Unanchored patterns (rclone matches them against the end of the path, from any directory level)
 * re-inject the start state after every '/' of the key, which is the same as prefixing the pattern
 * with an optional "**" + "/". A trailing '/' is compiled as the '/' followed by a "**".
 *
 * '?' and classes consume one character: a well-formed UTF-8 sequence, or else one byte, so that
 * "caf?" matches "café" as it does in rclone. Literal characters compare by bytes. */
#include "mirror/filter.h"

#include <stdint.h>
#include <string.h>

#include "mirror/key.h"
#include "util/xalloc.h"

enum glob_kind { GLOB_CHAR, GLOB_ANY, GLOB_CLASS, GLOB_STAR, GLOB_STARSTAR };

struct glob_token {
    enum glob_kind kind;
    uint16_t off; /* GLOB_CHAR: the character's bytes in the pattern; GLOB_CLASS: the text */
    uint16_t len; /* between '[' and the closing ']' */
};

/* One token per pattern character at most, plus the "**" of a trailing '/'. */
#define GLOB_TOKENS_MAX (MIRROR_PATTERN_MAX + 1)
/* States: one per token, plus the accepting state (all tokens matched). */
#define GLOB_WORDS      ((GLOB_TOKENS_MAX + 1 + 63) / 64)
/* Invalid UTF-8 bytes become these "code points", distinct from every real one. */
#define GLOB_RAW_BYTE   0x110000u

struct glob {
    struct glob_token tokens[GLOB_TOKENS_MAX];
    size_t count;
    size_t fixed_end; /* tokens from here on are all stars */
    bool is_anchored;
};

/* The character at s (len > 0 bytes): its length, and its code point in *cp. */
static size_t glob_char(const char *s, size_t len, uint32_t *cp)
{
    size_t n = mirror_key_decode_utf8(s, len, cp);

    if (n > 0)
        return n;
    *cp = GLOB_RAW_BYTE + (unsigned char)s[0];
    return 1;
}

/* One member character of a class at *pos (after an optional '\'); false when the text ends. */
static bool glob_class_char(const char *p, size_t len, size_t *pos, uint32_t *cp)
{
    if (*pos < len && p[*pos] == '\\')
        (*pos)++;
    if (*pos >= len)
        return false;
    *pos += glob_char(p + *pos, len - *pos, cp);
    return true;
}

/* Walks the class whose text (after '[') starts at p[*pos], leaving *pos on the closing ']'. When
 * cp is not NULL, *is_member tells whether the class holds cp (negation applied). Returns NULL or
 * the problem. */
static const char *glob_class_walk(const char *p, size_t len, size_t *pos, const uint32_t *cp,
                                   bool *is_member)
{
    bool is_negated = false;
    bool is_found = false;
    bool is_first = true;

    if (*pos < len && (p[*pos] == '!' || p[*pos] == '^')) {
        is_negated = true;
        (*pos)++;
    }
    for (;;) {
        uint32_t lo;
        uint32_t hi;

        if (*pos >= len)
            return "unterminated character class";
        /* A ']' right after '[' or "[!" is a member (POSIX), so "[]]" and "[!]]" work. */
        if (p[*pos] == ']' && !is_first)
            break;
        is_first = false;
        if (!glob_class_char(p, len, pos, &lo))
            return "unterminated character class";
        hi = lo;
        if (*pos + 1 < len && p[*pos] == '-' && p[*pos + 1] != ']') {
            (*pos)++;
            if (!glob_class_char(p, len, pos, &hi))
                return "unterminated character class";
            if (hi < lo)
                return "character class range out of order";
        }
        if (cp && *cp >= lo && *cp <= hi)
            is_found = true;
    }
    if (is_member)
        *is_member = is_found != is_negated;
    return NULL;
}

/* Compiles pattern into g. Returns NULL, or the problem for the error message. */
static const char *glob_compile(const char *pattern, struct glob *g)
{
    size_t len = strlen(pattern);
    size_t i = 0;
    bool is_dir = false;

    g->count = 0;
    g->fixed_end = 0;
    g->is_anchored = false;
    if (len == 0)
        return "empty pattern";
    if (len > MIRROR_PATTERN_MAX)
        return "longer than 1024 bytes";
    if (pattern[0] == '/') {
        g->is_anchored = true;
        i = 1;
        is_dir = true; /* "/" alone: the whole tree */
    }
    while (i < len) {
        struct glob_token *t = &g->tokens[g->count];
        char c = pattern[i];
        uint32_t cp;

        is_dir = false;
        t->off = (uint16_t)i;
        t->len = 0;
        if (c == '*') {
            size_t run = 0;

            while (i < len && pattern[i] == '*') {
                i++;
                run++;
            }
            t->kind = run == 1 ? GLOB_STAR : GLOB_STARSTAR;
        } else if (c == '?') {
            t->kind = GLOB_ANY;
            i++;
        } else if (c == '[') {
            size_t body = i + 1;
            const char *problem;

            i = body;
            problem = glob_class_walk(pattern, len, &i, NULL, NULL);
            if (problem)
                return problem;
            t->kind = GLOB_CLASS;
            t->off = (uint16_t)body;
            t->len = (uint16_t)(i - body);
            i++; /* the ']' */
        } else if (c == '{' || c == '}') {
            /* rclone's "{a,b}" alternatives: refused rather than taken literally, so a filter
             * carried over from rclone never silently matches something else. */
            return "'{a,b}' alternatives are not supported (write '\\{' for a literal brace)";
        } else {
            if (c == '\\') {
                if (i + 1 >= len)
                    return "trailing '\\'";
                i++;
            } else {
                is_dir = c == '/';
            }
            t->kind = GLOB_CHAR;
            t->off = (uint16_t)i;
            t->len = (uint16_t)glob_char(pattern + i, len - i, &cp);
            i += t->len;
        }
        g->count++;
        if (t->kind != GLOB_STAR && t->kind != GLOB_STARSTAR)
            g->fixed_end = g->count;
    }
    if (is_dir) {
        g->tokens[g->count].kind = GLOB_STARSTAR;
        g->tokens[g->count].off = 0;
        g->tokens[g->count].len = 0;
        g->count++;
    }
    return NULL;
}

static bool glob_is_star(const struct glob *g, size_t i)
{
    return i < g->count && (g->tokens[i].kind == GLOB_STAR || g->tokens[i].kind == GLOB_STARSTAR);
}

static bool glob_has(const uint64_t *set, size_t i)
{
    return (set[i / 64] >> (i % 64)) & 1u;
}

/* Adds state i and the states after the stars that follow it (a star may match nothing). A state
 * already present had its followers added then, which bounds the work per key character. */
static void glob_add(const struct glob *g, uint64_t *set, size_t i)
{
    for (;;) {
        if (glob_has(set, i))
            return;
        set[i / 64] |= (uint64_t)1 << (i % 64);
        if (!glob_is_star(g, i))
            return;
        i++;
    }
}

/* Whether token i (not a star) matches the key character ch (ch_len bytes, code point cp). */
static bool glob_token_matches(const struct glob *g, const char *pattern, size_t i, const char *ch,
                               size_t ch_len, uint32_t cp)
{
    const struct glob_token *t = &g->tokens[i];
    bool is_member = false;
    size_t pos = t->off;

    switch (t->kind) {
    case GLOB_CHAR:
        return t->len == ch_len && pattern[t->off] == ch[0] &&
               (ch_len == 1 || memcmp(pattern + t->off, ch, ch_len) == 0);
    case GLOB_ANY:
        return cp != '/';
    case GLOB_CLASS:
        /* A class never matches '/', like '?': it stands for part of one name. */
        if (cp == '/')
            return false;
        /* The text ends after the closing ']', which the walk stops on. */
        (void)glob_class_walk(pattern, (size_t)t->off + t->len + 1, &pos, &cp, &is_member);
        return is_member;
    case GLOB_STAR:
    case GLOB_STARSTAR:
        break;
    }
    return false;
}

static bool glob_is_empty(const uint64_t *set, size_t words)
{
    for (size_t w = 0; w < words; w++)
        if (set[w])
            return false;
    return true;
}

/* Feeds key (len bytes) to the states in set. */
static void glob_feed(const struct glob *g, const char *pattern, uint64_t *set, const char *key,
                      size_t len)
{
    size_t words = (g->count + 1 + 63) / 64;
    size_t i = 0;

    while (i < len) {
        uint64_t next[GLOB_WORDS];
        uint32_t cp;
        size_t n;

        if (glob_is_empty(set, words)) {
            const char *slash;

            if (g->is_anchored)
                return;
            /* Nothing can match before the next directory level starts. A '/' is always a
             * character boundary, since it is never part of a multi-byte sequence. */
            slash = memchr(key + i, '/', len - i);
            if (!slash)
                return;
            i = (size_t)(slash - key);
        }
        n = glob_char(key + i, len - i, &cp);
        memset(next, 0, words * sizeof(next[0]));
        for (size_t w = 0; w < words; w++) {
            uint64_t bits = set[w];

            while (bits) {
                size_t s = w * 64 + (size_t)__builtin_ctzll(bits);

                bits &= bits - 1;
                if (s == g->count)
                    continue; /* accepting, with characters left: a dead end */
                if (g->tokens[s].kind == GLOB_STARSTAR ||
                    (g->tokens[s].kind == GLOB_STAR && cp != '/'))
                    glob_add(g, next, s);
                else if (!glob_is_star(g, s) && glob_token_matches(g, pattern, s, key + i, n, cp))
                    glob_add(g, next, s + 1);
            }
        }
        if (!g->is_anchored && cp == '/')
            glob_add(g, next, 0);
        memcpy(set, next, words * sizeof(next[0]));
        i += n;
    }
}

static void glob_start(const struct glob *g, uint64_t *set)
{
    memset(set, 0, GLOB_WORDS * sizeof(set[0]));
    glob_add(g, set, 0);
}

static bool glob_match_compiled(const struct glob *g, const char *pattern, const char *key)
{
    uint64_t set[GLOB_WORDS];

    glob_start(g, set);
    glob_feed(g, pattern, set, key, strlen(key));
    return glob_has(set, g->count);
}

/* Copies pattern into shown (size bytes) for an error message: cut, control characters as '?'. */
static void glob_show(const char *pattern, char *shown, size_t size)
{
    size_t n = 0;

    for (; pattern[n] && n + 4 < size; n++) {
        unsigned char c = (unsigned char)pattern[n];
        shown[n] = c < 0x20 || c == 0x7f ? '?' : pattern[n];
    }
    if (pattern[n]) {
        memcpy(shown + n, "...", 3);
        n += 3;
    }
    shown[n] = '\0';
}

int mirror_filter_add(struct mirror_filter *f, bool is_include, const char *pattern,
                      struct error *err)
{
    struct glob *g = xmalloc(sizeof(*g));
    const char *problem = glob_compile(pattern, g);
    char ***list = is_include ? &f->include : &f->exclude;
    size_t *count = is_include ? &f->include_count : &f->exclude_count;

    xfree(g);
    if (problem) {
        char shown[204];

        glob_show(pattern, shown, sizeof(shown));
        return error_set(err, ERR_CONFIG, "%s pattern '%s': %s", is_include ? "include" : "exclude",
                         shown, problem);
    }
    *list = xreallocarray(*list, *count + 1, sizeof(**list));
    (*list)[*count] = xstrdup(pattern);
    (*count)++;
    return 0;
}

void mirror_filter_release(struct mirror_filter *f)
{
    for (size_t i = 0; i < f->include_count; i++)
        xfree(f->include[i]);
    for (size_t i = 0; i < f->exclude_count; i++)
        xfree(f->exclude[i]);
    xfree(f->include);
    xfree(f->exclude);
    memset(f, 0, sizeof(*f));
}

bool mirror_glob_match(const char *pattern, const char *key)
{
    struct glob g;

    if (glob_compile(pattern, &g))
        return false;
    return glob_match_compiled(&g, pattern, key);
}

bool mirror_filter_allows(const struct mirror_filter *f, const char *key)
{
    for (size_t i = 0; i < f->exclude_count; i++)
        if (mirror_glob_match(f->exclude[i], key))
            return false;
    if (f->include_count == 0)
        return true;
    for (size_t i = 0; i < f->include_count; i++)
        if (mirror_glob_match(f->include[i], key))
            return true;
    return false;
}

/* Whether pattern, after reading prefix, matches every continuation: a live "**" with only stars
 * after it. */
static bool glob_excludes_all_under(const char *pattern, const char *prefix)
{
    struct glob g;
    uint64_t set[GLOB_WORDS];

    if (glob_compile(pattern, &g))
        return false;
    glob_start(&g, set);
    glob_feed(&g, pattern, set, prefix, strlen(prefix));
    for (size_t i = g.fixed_end; i < g.count; i++)
        if (g.tokens[i].kind == GLOB_STARSTAR && glob_has(set, i))
            return true;
    return false;
}

/* Whether pattern can match no key that starts with prefix: it is anchored (an unanchored one may
 * start again at any '/' further down) and no state survived reading prefix. */
static bool glob_matches_none_under(const char *pattern, const char *prefix)
{
    struct glob g;
    uint64_t set[GLOB_WORDS];

    if (glob_compile(pattern, &g) || !g.is_anchored)
        return false;
    glob_start(&g, set);
    glob_feed(&g, pattern, set, prefix, strlen(prefix));
    return glob_is_empty(set, GLOB_WORDS);
}

bool mirror_filter_skips_prefix(const struct mirror_filter *f, const char *prefix)
{
    size_t len = strlen(prefix);

    /* The states after prefix hold for every longer key only when prefix ends on a character
     * boundary that more bytes cannot move: after an ASCII byte, no UTF-8 sequence can be open. */
    if (len > 0 && (unsigned char)prefix[len - 1] >= 0x80)
        return false;
    for (size_t i = 0; i < f->exclude_count; i++)
        if (glob_excludes_all_under(f->exclude[i], prefix))
            return true;
    if (f->include_count == 0)
        return false;
    for (size_t i = 0; i < f->include_count; i++)
        if (!glob_matches_none_under(f->include[i], prefix))
            return false;
    return true;
}
