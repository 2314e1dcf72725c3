/* rclone reads its config with github.com/unknwon/goconfig, after config.Decrypt has looked for the
 * encrypted form. The rules followed here are those two readers':
 * - each line is trimmed; blank lines and lines starting with '#' or ';' are skipped;
 * - "[name]" (any line starting with '[' and ending with ']') starts a section; the name is
 *   trimmed; keys before the first section belong to the section "DEFAULT";
 * - any other line is "key = value" or "key : value", split at the first '=' or ':'; key and value
 *   are trimmed; a key may be quoted with '"', '"""' or '`', a value with '`' or '"""' (the quotes
 *   are removed; a lone '"' around a value is kept, as goconfig keeps it); the key "-" stands for
 *   "#1", "#2"... in its section;
 * - an empty value removes the key; a section named twice is one section; a key set twice keeps
 *   the last value;
 * - a key line while the current section has an empty name ("[]") is an error, as is a line with
 *   neither '=' nor ':';
 * - the first line that is neither blank nor a comment being "RCLONE_ENCRYPT_V0:" marks the
 *   encrypted form; another "RCLONE_ENCRYPT_V..." is a version rclone itself may not read.
 * Not reproduced: goconfig's "%(name)s" substitution and its fallback from a section "a.b" to "a"
 * for a missing key; rclone configs written by rclone use neither. */
#include "stores/rclone_conf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/strv.h"
#include "util/xalloc.h"

/* A real rclone.conf has a handful of remotes with a few dozen keys each. The caps bound the work
 * of the linear lookups below on a hostile file. */
#define RCLONE_CONF_MAX_SECTIONS 1024
#define RCLONE_CONF_MAX_KEYS     1024
#define RCLONE_CONF_ENCRYPT_V0   "RCLONE_ENCRYPT_V0:"

/* Go's strings.TrimSpace, ASCII part. */
static bool rclone_conf_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static struct strv rclone_conf_trim(struct strv s)
{
    while (s.len && rclone_conf_is_space(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && rclone_conf_is_space(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

/* First occurrence of needle in s, or -1. */
static long rclone_conf_find_str(struct strv s, const char *needle)
{
    size_t n = strlen(needle);
    const char *p = s.len >= n ? memmem(s.ptr, s.len, needle, n) : NULL;

    return p ? (long)(p - s.ptr) : -1;
}

/* Last occurrence of needle in s, or -1. */
static long rclone_conf_find_last(struct strv s, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = s.len >= n ? s.len - n + 1 : 0; i > 0; i--)
        if (memcmp(s.ptr + i - 1, needle, n) == 0)
            return (long)(i - 1);
    return -1;
}

/* Index of the first '=' or ':' in s at or after from, or -1. */
static long rclone_conf_find_sep(struct strv s, size_t from)
{
    for (size_t i = from; i < s.len; i++)
        if (s.ptr[i] == '=' || s.ptr[i] == ':')
            return (long)i;
    return -1;
}

/* Grows an array whose capacity is implied by its count: powers of two, at least 4. */
static void *rclone_conf_grow(void *ptr, size_t count, size_t size)
{
    if (count < 4)
        return count == 0 ? xreallocarray(ptr, 4, size) : ptr;
    if ((count & (count - 1)) != 0)
        return ptr;
    return xreallocarray(ptr, count * 2, size);
}

static void rclone_conf_section_release(struct rclone_conf_section *s)
{
    for (size_t i = 0; i < s->entry_count; i++) {
        xfree(s->entries[i].key);
        /* Values are often keys: wipe them. */
        if (s->entries[i].value)
            explicit_bzero(s->entries[i].value, strlen(s->entries[i].value));
        xfree(s->entries[i].value);
    }
    xfree(s->entries);
    xfree(s->name);
}

void rclone_conf_release(struct rclone_conf *c)
{
    for (size_t i = 0; i < c->section_count; i++)
        rclone_conf_section_release(&c->sections[i]);
    xfree(c->sections);
    c->sections = NULL;
    c->section_count = 0;
    c->is_encrypted = false;
}

/* The section named name, created at the end when missing. NULL when the cap is reached. */
static struct rclone_conf_section *rclone_conf_section_get(struct rclone_conf *c, struct strv name)
{
    struct rclone_conf_section *s;

    for (size_t i = 0; i < c->section_count; i++)
        if (strv_eq(name, c->sections[i].name))
            return &c->sections[i];
    if (c->section_count >= RCLONE_CONF_MAX_SECTIONS)
        return NULL;
    c->sections = rclone_conf_grow(c->sections, c->section_count, sizeof(*c->sections));
    s = &c->sections[c->section_count++];
    memset(s, 0, sizeof(*s));
    s->name = strv_dup(name);
    return s;
}

/* goconfig's SetValue: replaces, appends, or (for an empty value) removes. false at the cap. */
static bool rclone_conf_set(struct rclone_conf_section *s, const char *key, struct strv value)
{
    size_t i;

    for (i = 0; i < s->entry_count; i++)
        if (strcmp(s->entries[i].key, key) == 0)
            break;
    if (value.len == 0) {
        if (i < s->entry_count) {
            struct rclone_conf_entry gone = s->entries[i];
            memmove(&s->entries[i], &s->entries[i + 1],
                    (s->entry_count - i - 1) * sizeof(s->entries[0]));
            s->entry_count--;
            explicit_bzero(gone.value, strlen(gone.value));
            xfree(gone.key);
            xfree(gone.value);
        }
        return true;
    }
    if (i < s->entry_count) {
        explicit_bzero(s->entries[i].value, strlen(s->entries[i].value));
        xfree(s->entries[i].value);
        s->entries[i].value = strv_dup(value);
        return true;
    }
    if (s->entry_count >= RCLONE_CONF_MAX_KEYS)
        return false;
    s->entries = rclone_conf_grow(s->entries, s->entry_count, sizeof(*s->entries));
    s->entries[s->entry_count].key = xstrdup(key);
    s->entries[s->entry_count].value = strv_dup(value);
    s->entry_count++;
    return true;
}

/* Splits a trimmed key line into key and value as goconfig does. false on a malformed line. */
static bool rclone_conf_split_line(struct strv line, struct strv *key, struct strv *value)
{
    const char *key_quote = NULL;
    struct strv right;
    long sep;

    if (line.ptr[0] == '"')
        key_quote = line.len >= 6 && strv_starts_with(line, "\"\"\"") ? "\"\"\"" : "\"";
    else if (line.ptr[0] == '`')
        key_quote = "`";
    if (key_quote) {
        size_t qlen = strlen(key_quote);
        long close = rclone_conf_find_str(strv_make(line.ptr + qlen, line.len - qlen), key_quote);
        if (close < 0)
            return false;
        sep = rclone_conf_find_sep(line, qlen + (size_t)close);
        if (sep <= 0)
            return false;
        /* Blanks inside the quotes are part of the key. */
        *key = strv_make(line.ptr + qlen, (size_t)close);
    } else {
        sep = rclone_conf_find_sep(line, 0);
        if (sep <= 0)
            return false;
        *key = rclone_conf_trim(strv_make(line.ptr, (size_t)sep));
    }
    right = rclone_conf_trim(strv_make(line.ptr + sep + 1, line.len - (size_t)sep - 1));
    if (right.len >= 2 && right.ptr[0] == '`') {
        long close = rclone_conf_find_last(strv_make(right.ptr + 1, right.len - 1), "`");
        if (close < 0)
            return false;
        *value = strv_make(right.ptr + 1, (size_t)close);
    } else if (right.len >= 6 && strv_starts_with(right, "\"\"\"")) {
        long close = rclone_conf_find_last(strv_make(right.ptr + 3, right.len - 3), "\"\"\"");
        if (close < 0)
            return false;
        *value = strv_make(right.ptr + 3, (size_t)close);
    } else {
        *value = right;
    }
    return true;
}

int rclone_conf_parse(const char *origin, const char *text, size_t len, struct rclone_conf *out,
                      struct error *err)
{
    struct rclone_conf c = {NULL, 0, false};
    struct rclone_conf_section *section = NULL;
    struct strv rest = strv_make(text, len);
    bool is_first = true;
    bool is_blank_section = false;
    unsigned auto_key = 1;
    size_t line_no = 0;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (memchr(text, '\0', len)) {
        error_set(err, ERR_CONFIG, "%s: holds a NUL byte (not a text file)", origin);
        goto out;
    }
    while (rest.len > 0) {
        struct strv raw;
        struct strv line;
        struct strv key;
        struct strv value;
        char *key_text;
        bool is_set;

        strv_cut(&rest, '\n', &raw);
        line_no++;
        line = rclone_conf_trim(raw);
        if (line.len == 0 || line.ptr[0] == '#' || line.ptr[0] == ';')
            continue;
        if (is_first) {
            is_first = false;
            if (strv_eq(line, RCLONE_CONF_ENCRYPT_V0)) {
                c.is_encrypted = true;
                break;
            }
            if (strv_starts_with(line, "RCLONE_ENCRYPT_V")) {
                error_set(err, ERR_CONFIG, "%s:%zu: unsupported rclone config encryption '%.*s'",
                          origin, line_no, (int)(line.len > 40 ? 40 : line.len), line.ptr);
                goto out;
            }
        }
        if (line.ptr[0] == '[' && line.ptr[line.len - 1] == ']' && line.len >= 2) {
            struct strv name = rclone_conf_trim(strv_make(line.ptr + 1, line.len - 2));
            is_blank_section = name.len == 0;
            section = NULL;
            if (!is_blank_section) {
                section = rclone_conf_section_get(&c, name);
                if (!section) {
                    error_set(err, ERR_CONFIG, "%s:%zu: more than %d sections", origin, line_no,
                              RCLONE_CONF_MAX_SECTIONS);
                    goto out;
                }
            }
            auto_key = 1;
            continue;
        }
        if (is_blank_section) {
            error_set(err, ERR_CONFIG, "%s:%zu: key in a section with an empty name", origin,
                      line_no);
            goto out;
        }
        if (!rclone_conf_split_line(line, &key, &value)) {
            /* The line is not quoted: it may be a value with its key missing. */
            error_set(err, ERR_CONFIG, "%s:%zu: expected '[name]' or 'key = value'", origin,
                      line_no);
            goto out;
        }
        if (!section) {
            section = rclone_conf_section_get(&c, strv_from("DEFAULT"));
            if (!section) {
                error_set(err, ERR_CONFIG, "%s:%zu: more than %d sections", origin, line_no,
                          RCLONE_CONF_MAX_SECTIONS);
                goto out;
            }
        }
        if (strv_eq(key, "-"))
            key_text = xasprintf("#%u", auto_key++);
        else
            key_text = strv_dup(key);
        is_set = rclone_conf_set(section, key_text, value);
        xfree(key_text);
        if (!is_set) {
            error_set(err, ERR_CONFIG, "%s:%zu: more than %d keys in section '%s'", origin, line_no,
                      RCLONE_CONF_MAX_KEYS, section->name);
            goto out;
        }
    }
    *out = c;
    memset(&c, 0, sizeof(c));
    rc = 0;
out:
    rclone_conf_release(&c);
    return rc;
}

const struct rclone_conf_section *rclone_conf_find(const struct rclone_conf *c, const char *name)
{
    for (size_t i = 0; i < c->section_count; i++)
        if (strcmp(c->sections[i].name, name) == 0)
            return &c->sections[i];
    return NULL;
}

const char *rclone_conf_get(const struct rclone_conf_section *s, const char *key)
{
    for (size_t i = 0; i < s->entry_count; i++)
        if (strcmp(s->entries[i].key, key) == 0)
            return s->entries[i].value;
    return NULL;
}

char *rclone_conf_default_path(const char *explicit_path)
{
    const char *env;

    if (explicit_path && explicit_path[0] != '\0')
        return xstrdup(explicit_path);
    env = getenv("RCLONE_CONFIG");
    if (env && env[0] != '\0')
        return xstrdup(env);
    env = getenv("XDG_CONFIG_HOME");
    if (env && env[0] != '\0')
        return xasprintf("%s/rclone/rclone.conf", env);
    env = getenv("HOME");
    return xasprintf("%s/.config/rclone/rclone.conf", env && env[0] != '\0' ? env : ".");
}

/* rclone's rule (fs/fspath, rclone >= 1.61): Unicode letters and digits, '_', '-', '.', '+', '@'
 * and space; not starting with '-' or space, not ending with space. Bytes >= 0x80 are accepted as
 * parts of UTF-8 letters without classifying them: rclone itself refuses a name that is not
 * letters, and a remote name is only ever looked up, never used as a path. */
static bool rclone_remote_name_is_valid(const char *name, size_t len)
{
    if (len == 0 || name[0] == '-' || name[0] == ' ' || name[len - 1] == ' ')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        bool is_ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.' || ch == '+' ||
                     ch == '@' || ch == ' ' || ch >= 0x80;
        if (!is_ok)
            return false;
    }
    return true;
}

int rclone_remote_split(const char *remote, char **name, char **path, struct error *err)
{
    const char *colon = strchr(remote, ':');
    size_t name_len;

    *name = NULL;
    *path = NULL;
    if (remote[0] == ':')
        return error_set(err, ERR_CONFIG,
                         "remote '%s': on-the-fly backends (':backend:') are not supported; name a "
                         "remote from rclone.conf",
                         remote);
    if (!colon)
        return error_set(err, ERR_CONFIG, "remote '%s': expected 'NAME:path'", remote);
    name_len = (size_t)(colon - remote);
    /* "name,param=value:" is rclone's connection-string syntax; its ',' fails the check below. */
    if (!rclone_remote_name_is_valid(remote, name_len))
        return error_set(err, ERR_CONFIG,
                         "remote '%s': invalid remote name (letters, digits, '_', '-', '.', '+', "
                         "'@' and inner spaces; not starting with '-')",
                         remote);
    *name = xstrndup(remote, name_len);
    *path = xstrdup(colon + 1);
    return 0;
}
