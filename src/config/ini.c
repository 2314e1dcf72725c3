#include "config/ini.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/strv.h"
#include "util/xalloc.h"

/* State of one parse. The current section's names are owned copies (they outlive their line); the
 * key and value of the current line are unescaped into `scratch`, which is sized for the longest
 * line once, so the parser allocates O(longest line) whatever the input size. */
struct ini_parser {
    const char *origin;
    ini_handler_fn *fn;
    void *ctx;
    char *section;    /* NULL before the first header */
    char *subsection; /* NULL when the current header has none */
    char *scratch;    /* INI_MAX_LINE_LEN + 2 bytes */
    int line;
};

static int ini_fail(const struct ini_parser *p, struct error *err, const char *fmt, ...)
    PRINTF(3, 4);

static int ini_fail(const struct ini_parser *p, struct error *err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->origin)
        return error_set(err, ERR_CONFIG, "%s:%d: %s", p->origin, p->line, msg);
    return error_set(err, ERR_CONFIG, "line %d: %s", p->line, msg);
}

static bool ini_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool ini_is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

static char ini_lower(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c;
}

static struct strv ini_trim(struct strv s)
{
    while (s.len && ini_is_blank(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && ini_is_blank(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

/* Copies s lowercased into dst as a C string; returns dst. */
static char *ini_copy_lower(char *dst, struct strv s)
{
    for (size_t i = 0; i < s.len; i++)
        dst[i] = ini_lower(s.ptr[i]);
    dst[s.len] = '\0';
    return dst;
}

/* Unescapes a double-quoted string starting just after its opening quote at s[*pos] into dst (NUL-
 * terminated). Only \" and \\ are escapes. On success *pos is just past the closing quote. Returns
 * 0, 1 on a missing closing quote, 2 on any other backslash sequence. */
static int ini_unquote(struct strv s, size_t *pos, char *dst)
{
    size_t out = 0;

    for (size_t i = *pos; i < s.len; i++) {
        char c = s.ptr[i];
        if (c == '"') {
            dst[out] = '\0';
            *pos = i + 1;
            return 0;
        }
        if (c == '\\') {
            if (i + 1 == s.len)
                return 1;
            if (s.ptr[i + 1] != '"' && s.ptr[i + 1] != '\\')
                return 2;
            c = s.ptr[++i];
        }
        dst[out++] = c;
    }
    return 1;
}

static int ini_parse_header(struct ini_parser *p, struct strv s, struct error *err)
{
    static const char invalid[] =
        "invalid section header (expected [name] or [name \"subsection\"])";
    struct ini_event ev;
    struct strv name;
    size_t i = 1; /* past '[' */
    bool has_sub = false;

    while (i < s.len && ini_is_blank(s.ptr[i]))
        i++;
    name.ptr = s.ptr + i;
    while (i < s.len && ini_is_name_char(s.ptr[i]))
        i++;
    name.len = (size_t)(s.ptr + i - name.ptr);
    if (name.len == 0)
        return ini_fail(p, err, "%s", invalid);
    while (i < s.len && ini_is_blank(s.ptr[i]))
        i++;
    if (i < s.len && s.ptr[i] == '"') {
        int r;
        i++;
        r = ini_unquote(s, &i, p->scratch);
        if (r == 1)
            return ini_fail(p, err, "unterminated quote in section header");
        if (r == 2)
            return ini_fail(p, err,
                            "invalid escape in section header (only \\\" and \\\\ are allowed)");
        has_sub = true;
        while (i < s.len && ini_is_blank(s.ptr[i]))
            i++;
    }
    if (i >= s.len || s.ptr[i] != ']')
        return ini_fail(p, err, "%s", invalid);
    i++;
    while (i < s.len && ini_is_blank(s.ptr[i]))
        i++;
    if (i < s.len && s.ptr[i] != ';' && s.ptr[i] != '#')
        return ini_fail(p, err, "%s", invalid);

    xfree(p->section);
    xfree(p->subsection);
    p->section = ini_copy_lower(xmalloc(name.len + 1), name);
    p->subsection = has_sub ? xstrdup(p->scratch) : NULL;
    ev.section = p->section;
    ev.subsection = p->subsection;
    ev.key = NULL;
    ev.value = NULL;
    ev.line = p->line;
    return p->fn(&ev, p->ctx, err);
}

/* Parses the text after '=' into dst (NUL-terminated). */
static int ini_parse_value(struct ini_parser *p, struct strv raw, char *dst, struct error *err)
{
    size_t i = 0;
    size_t end;

    while (i < raw.len && ini_is_blank(raw.ptr[i]))
        i++;
    if (i < raw.len && raw.ptr[i] == '"') {
        int r;
        i++;
        r = ini_unquote(raw, &i, dst);
        if (r == 1)
            return ini_fail(p, err, "unterminated quote");
        if (r == 2)
            return ini_fail(p, err,
                            "invalid escape in quoted value (only \\\" and \\\\ are allowed)");
        while (i < raw.len && ini_is_blank(raw.ptr[i]))
            i++;
        if (i < raw.len && raw.ptr[i] != ';' && raw.ptr[i] != '#')
            return ini_fail(p, err, "unexpected text after the closing quote");
        return 0;
    }
    /* An unquoted value ends at a ';' or '#' that follows a blank. raw starts right after '=', so a
     * ';' at raw.ptr[0] follows '=' and is part of the value. */
    for (end = i; end < raw.len; end++) {
        char c = raw.ptr[end];
        if ((c == ';' || c == '#') && end > 0 && ini_is_blank(raw.ptr[end - 1]))
            break;
    }
    raw = ini_trim(strv_make(raw.ptr + i, end - i));
    memcpy(dst, raw.ptr, raw.len);
    dst[raw.len] = '\0';
    return 0;
}

static int ini_parse_entry(struct ini_parser *p, struct strv s, struct error *err)
{
    const char *eq = memchr(s.ptr, '=', s.len);
    struct ini_event ev;
    struct strv key;
    char *key_dst = p->scratch;
    char *value_dst;

    if (!eq)
        return ini_fail(p, err, "missing '=' (expected 'key = value')");
    key = ini_trim(strv_make(s.ptr, (size_t)(eq - s.ptr)));
    if (key.len == 0)
        return ini_fail(p, err, "empty key");
    for (size_t i = 0; i < key.len; i++)
        if (!ini_is_name_char(key.ptr[i]))
            return ini_fail(p, err, "invalid key (keys use letters, digits, '_', '-' and '.')");
    ini_copy_lower(key_dst, key);
    if (!p->section)
        return ini_fail(p, err, "key '%s' outside a section", key_dst);
    /* The key and the value both come from this line, so together they fit the scratch buffer. */
    value_dst = key_dst + key.len + 1;
    if (ini_parse_value(p, strv_make(eq + 1, s.len - (size_t)(eq + 1 - s.ptr)), value_dst, err) < 0)
        return -1;
    ev.section = p->section;
    ev.subsection = p->subsection;
    ev.key = key_dst;
    ev.value = value_dst;
    ev.line = p->line;
    return p->fn(&ev, p->ctx, err);
}

static int ini_parse_line(struct ini_parser *p, struct strv s, struct error *err)
{
    s = ini_trim(s);
    if (s.len == 0 || s.ptr[0] == ';' || s.ptr[0] == '#')
        return 0;
    if (s.ptr[0] == '[')
        return ini_parse_header(p, s, err);
    return ini_parse_entry(p, s, err);
}

int ini_parse_events(const char *origin, const char *text, size_t len, ini_handler_fn *fn,
                     void *ctx, struct error *err)
{
    struct ini_parser p = {origin, fn, ctx, NULL, NULL, NULL, 0};
    size_t pos = 0;
    int rc = -1;

    p.scratch = xmalloc(INI_MAX_LINE_LEN + 2);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (pos < len) {
        /* Look for the newline only as far as the longest allowed line (plus "\r\n"), so a huge
         * line costs no more than a short one before it is refused. */
        size_t rest = len - pos;
        size_t scan = rest < INI_MAX_LINE_LEN + 2 ? rest : INI_MAX_LINE_LEN + 2;
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', scan);
        struct strv line;

        if (p.line == INT_MAX) {
            ini_fail(&p, err, "too many lines");
            goto out;
        }
        p.line++;
        line = strv_make(start, nl ? (size_t)(nl - start) : scan);
        pos += line.len + (nl ? 1 : 0);
        if (line.len && line.ptr[line.len - 1] == '\r')
            line.len--;
        if (line.len > INI_MAX_LINE_LEN) {
            ini_fail(&p, err, "line is longer than %d bytes", INI_MAX_LINE_LEN);
            goto out;
        }
        if (memchr(line.ptr, '\0', line.len)) {
            ini_fail(&p, err, "NUL byte");
            goto out;
        }
        if (ini_parse_line(&p, line, err) < 0)
            goto out;
    }
    rc = 0;
out:
    xfree(p.section);
    xfree(p.subsection);
    xfree(p.scratch);
    return rc;
}

static int ini_doc_add(const struct ini_event *ev, void *ctx, struct error *err)
{
    struct ini_doc *doc = ctx;

    (void)err;
    if (!ev->key) {
        struct ini_section *sec;
        XGROW(doc->sections, doc->section_count + 1, doc->section_alloc);
        sec = &doc->sections[doc->section_count++];
        sec->name = xstrdup(ev->section);
        sec->subsection = ev->subsection ? xstrdup(ev->subsection) : NULL;
        sec->line = ev->line;
        sec->first_entry = doc->entry_count;
        sec->entry_count = 0;
    } else {
        struct ini_entry *entry;
        /* A key event always follows a header event, so the section exists. */
        ASSERT(doc->section_count > 0);
        XGROW(doc->entries, doc->entry_count + 1, doc->entry_alloc);
        entry = &doc->entries[doc->entry_count++];
        entry->key = xstrdup(ev->key);
        entry->value = xstrdup(ev->value);
        entry->line = ev->line;
        entry->section = doc->section_count - 1;
        doc->sections[doc->section_count - 1].entry_count++;
    }
    return 0;
}

int ini_parse(const char *origin, const char *text, size_t len, struct ini_doc *doc,
              struct error *err)
{
    if (ini_parse_events(origin, text, len, ini_doc_add, doc, err) < 0) {
        ini_doc_release(doc);
        return -1;
    }
    return 0;
}

void ini_doc_release(struct ini_doc *doc)
{
    for (size_t i = 0; i < doc->section_count; i++) {
        xfree(doc->sections[i].name);
        xfree(doc->sections[i].subsection);
    }
    for (size_t i = 0; i < doc->entry_count; i++) {
        xfree(doc->entries[i].key);
        explicit_bzero(doc->entries[i].value, strlen(doc->entries[i].value));
        xfree(doc->entries[i].value);
    }
    xfree(doc->sections);
    xfree(doc->entries);
    memset(doc, 0, sizeof(*doc));
}

/* Appends s in double quotes, escaping '"' and '\'. */
static void ini_write_quoted(struct buf *out, const char *s)
{
    buf_adds(out, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_adds(out, "\\");
        buf_add(out, s, 1);
    }
    buf_adds(out, "\"");
}

void ini_write_section(struct buf *out, const char *name, const char *subsection)
{
    buf_addf(out, "[%s", name);
    if (subsection) {
        buf_adds(out, " ");
        ini_write_quoted(out, subsection);
    }
    buf_adds(out, "]\n");
}

/* True when value, written bare after "key = ", would not parse back to itself. */
static bool ini_needs_quotes(const char *value)
{
    size_t len = strlen(value);

    if (len == 0)
        return false;
    if (ini_is_blank(value[0]) || ini_is_blank(value[len - 1]))
        return true;
    if (value[0] == '"' || value[0] == ';' || value[0] == '#')
        return true;
    /* A '\r' anywhere could be taken for part of a "\r\n" line ending. */
    if (strchr(value, '\r'))
        return true;
    for (size_t i = 1; i < len; i++)
        if ((value[i] == ';' || value[i] == '#') && ini_is_blank(value[i - 1]))
            return true;
    return false;
}

void ini_write_entry(struct buf *out, const char *key, const char *value)
{
    ASSERT(!strchr(value, '\n'));
    buf_addf(out, "%s = ", key);
    if (ini_needs_quotes(value))
        ini_write_quoted(out, value);
    else
        buf_adds(out, value);
    buf_adds(out, "\n");
}
