/* A pure INI parser (no I/O, no environment) for permafrost.conf, with git-style subsections:
 *
 *     [global]                 ; a plain section
 *     [store "local"]          ; a section with a quoted subsection (\" and \\ escape inside the
 * quotes) key = value              # inline comments start with ';' or '#' after a blank key = "
 * kept ; as is "  ; a double-quoted value keeps blanks, ';' and '#'
 *
 * Section names and keys are lowercased; subsections keep their case. Values are trimmed of blanks
 * (space, tab). Lines end in "\n" or "\r\n"; a UTF-8 byte-order mark at the start is skipped.
 * Errors are ERR_CONFIG and read "ORIGIN:LINE: message" (or "line LINE: message" without an
 * origin): unterminated quote, missing '=', empty key, key outside a section, invalid section
 * header, NUL byte, line over INI_MAX_LINE_LEN bytes. The parser runs in one pass over the input,
 * uses no recursion and keeps only the current line's strings, so its time and memory are linear in
 * the input. */
#ifndef PERMAFROST_CONFIG_INI_H
#define PERMAFROST_CONFIG_INI_H

#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"

/* Longest line accepted, in bytes, not counting the line ending. */
#define INI_MAX_LINE_LEN 65536

/* One parser event: a section header (key and value NULL) or a key. All strings are NUL-terminated
 * and borrowed: they are valid only during the callback. */
struct ini_event {
    const char *section;    /* lowercased section name */
    const char *subsection; /* unescaped, case kept; NULL when the header has none */
    const char *key;        /* lowercased; NULL for a section header */
    const char *value;      /* unquoted and trimmed, maybe ""; NULL for a section header */
    int line;               /* 1-based line number */
};

/* Called for each event in input order. Returns 0 to go on, or -1 with err set to stop the parse.
 */
typedef int ini_handler_fn(const struct ini_event *ev, void *ctx, struct error *err);

/* Parses len bytes of text (need not be NUL-terminated) and calls fn for each event. origin
 * (borrowed, may be NULL) prefixes syntax errors. Returns 0, or -1 with err set by the parser or by
 * fn. */
int ini_parse_events(const char *origin, const char *text, size_t len, ini_handler_fn *fn,
                     void *ctx, struct error *err);

/* A whole parsed file: sections in file order, and the entries of section i at
 * entries[sections[i].first_entry .. first_entry + entry_count). */
struct ini_section {
    char *name;         /* lowercased */
    char *subsection;   /* NULL when the header has none */
    int line;           /* line of the header */
    size_t first_entry; /* index into ini_doc.entries */
    size_t entry_count;
};

struct ini_entry {
    char *key;   /* lowercased */
    char *value; /* unquoted and trimmed */
    int line;
    size_t section; /* index into ini_doc.sections */
};

struct ini_doc {
    struct ini_section *sections;
    size_t section_count;
    size_t section_alloc;
    struct ini_entry *entries;
    size_t entry_count;
    size_t entry_alloc;
};

#define INI_DOC_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, NULL, 0, 0                                                                     \
    }

/* Parses text into *doc (which must be empty, e.g. INI_DOC_INIT). On success the caller owns *doc
 * and frees it with ini_doc_release. On failure returns -1 with err set as ini_parse_events does,
 * and *doc is left empty. */
int ini_parse(const char *origin, const char *text, size_t len, struct ini_doc *doc,
              struct error *err);
/* Frees everything in doc, wiping the values first (they may hold inline secrets). Leaves it empty.
 */
void ini_doc_release(struct ini_doc *doc);

/* Appends "[name]\n" or "[name \"subsection\"]\n" (escaping '"' and '\') to out. */
void ini_write_section(struct buf *out, const char *name, const char *subsection);
/* Appends "key = value\n" to out, quoting the value when it would not read back as written (blanks
 * at either end, a leading quote, or a ';'/'#' that would start a comment). value must not hold
 * '\n'. */
void ini_write_entry(struct buf *out, const char *key, const char *value);

#endif
