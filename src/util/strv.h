/* Borrowed string views with cursor parsing (curl's strparse). A view never owns its bytes and need
 * not be NUL-terminated. */
#ifndef PERMAFROST_UTIL_STRV_H
#define PERMAFROST_UTIL_STRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strv {
    const char *ptr;
    size_t len;
};

struct strv strv_from(const char *s);
struct strv strv_make(const char *ptr, size_t len);
/* Strips ASCII blanks (space, tab, CR, LF) at both ends. */
struct strv strv_trim(struct strv s);
/* Splits *rest at the first `sep`: *head gets the part before it, *rest the part after. Returns
 * false (and puts everything in *head, leaving *rest empty) when sep is absent. */
bool strv_cut(struct strv *rest, char sep, struct strv *head);
bool strv_eq(struct strv s, const char *lit);
/* A copy of untrusted text fit for a message, in out (cap >= 8 bytes): bytes outside printable
 * ASCII become '?', and text longer than cap - 1 is cut with "...". Returns out. */
const char *strv_printable(struct strv s, char *out, size_t cap);
bool strv_eq_nocase(struct strv s, const char *lit);
bool strv_starts_with(struct strv s, const char *lit);
/* Strict unsigned decimal: digits only, no sign, no blanks, no overflow. */
bool strv_to_u64(struct strv s, uint64_t *out);
/* Returns a NUL-terminated copy; free with xfree. */
char *strv_dup(struct strv s);

#endif
