/* Bech32 (BIP-173), as age uses it for recipients ("age1...") and identities
 * ("AGE-SECRET-KEY-1..."): the checksum, the 8-to-5-bit regrouping, all-lowercase or all-uppercase
 * strings. Unlike BIP-173 there is no 90-character limit (age drops it); a caller-given capacity
 * bounds the output instead. Pure functions of their input. */
#ifndef PERMAFROST_UTIL_BECH32_H
#define PERMAFROST_UTIL_BECH32_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"

#define BECH32_HRP_MAX 83

/* Appends hrp + '1' + data (as 5-bit groups, zero-padded) + the 6-character checksum, in lowercase
 * (upper: in uppercase, as age writes identities). hrp: 1..BECH32_HRP_MAX characters 33..126. */
void bech32_encode(const char *hrp, const unsigned char *data, size_t len, bool upper,
                   struct buf *out);

/* Decodes s: the human-readable part into hrp (lowercased, NUL-terminated), the data part's 5-bit
 * groups (without the checksum) into words[0..*word_count). Errors are ERR_INTEGRITY saying what is
 * wrong (mixed case, no separator, an empty or bad human-readable part, a character outside the
 * alphabet, a short data part, a bad checksum), never echoing s. */
int bech32_decode_words(const char *s, char hrp[BECH32_HRP_MAX + 1], unsigned char *words,
                        size_t words_cap, size_t *word_count, struct error *err);

/* bech32_decode_words, then the 5-bit groups regrouped into bytes; padding of more than 4 bits, or
 * non-zero padding bits, is an error. */
int bech32_decode(const char *s, char hrp[BECH32_HRP_MAX + 1], unsigned char *data, size_t data_cap,
                  size_t *data_len, struct error *err);

#endif
