#include "util/bech32.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "util/xalloc.h"

static const char bech32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t bech32_polymod_step(uint32_t chk, unsigned v)
{
    static const uint32_t gen[5] = {0x3b6a57b2u, 0x26508e6du, 0x1ea119fau, 0x3d4233ddu,
                                    0x2a1462b3u};
    uint32_t top = chk >> 25;

    chk = ((chk & 0x1ffffffu) << 5) ^ v;
    for (int i = 0; i < 5; i++)
        if ((top >> i) & 1u)
            chk ^= gen[i];
    return chk;
}

/* The checksum state after the expanded human-readable part (lowercase). */
static uint32_t bech32_hrp_state(const char *hrp, size_t n)
{
    uint32_t chk = 1;

    for (size_t i = 0; i < n; i++)
        chk = bech32_polymod_step(chk, (unsigned)((unsigned char)hrp[i] >> 5));
    chk = bech32_polymod_step(chk, 0);
    for (size_t i = 0; i < n; i++)
        chk = bech32_polymod_step(chk, (unsigned)((unsigned char)hrp[i] & 31u));
    return chk;
}

/* ASCII case mapping: permafrost never calls setlocale, so these run in the C locale. */
static char bech32_lower(char c)
{
    return (char)tolower((unsigned char)c);
}

static char bech32_upper(char c)
{
    return (char)toupper((unsigned char)c);
}

void bech32_encode(const char *hrp, const unsigned char *data, size_t len, bool upper,
                   struct buf *out)
{
    size_t n = strlen(hrp);
    char low[BECH32_HRP_MAX + 1];
    uint32_t chk;
    uint32_t acc = 0;
    int bits = 0;

    ASSERT(n >= 1 && n <= BECH32_HRP_MAX);
    for (size_t i = 0; i < n; i++) {
        ASSERT((unsigned char)hrp[i] >= 33 && (unsigned char)hrp[i] <= 126);
        low[i] = bech32_lower(hrp[i]);
        ASSERT(buf_add(out, upper ? &(char){bech32_upper(hrp[i])} : &low[i], 1));
    }
    chk = bech32_hrp_state(low, n);
    ASSERT(buf_add(out, "1", 1));
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | data[i];
        bits += 8;
        while (bits >= 5) {
            unsigned v = (acc >> (bits - 5)) & 31u;
            char c = bech32_charset[v];
            bits -= 5;
            chk = bech32_polymod_step(chk, v);
            ASSERT(buf_add(out, upper ? &(char){bech32_upper(c)} : &c, 1));
        }
        acc &= (1u << bits) - 1u;
    }
    if (bits > 0) {
        unsigned v = (acc << (5 - bits)) & 31u;
        char c = bech32_charset[v];
        chk = bech32_polymod_step(chk, v);
        ASSERT(buf_add(out, upper ? &(char){bech32_upper(c)} : &c, 1));
    }
    for (int i = 0; i < 6; i++)
        chk = bech32_polymod_step(chk, 0);
    chk ^= 1;
    for (int i = 0; i < 6; i++) {
        char c = bech32_charset[(chk >> (5 * (5 - i))) & 31u];
        ASSERT(buf_add(out, upper ? &(char){bech32_upper(c)} : &c, 1));
    }
}

int bech32_decode_words(const char *s, char hrp[BECH32_HRP_MAX + 1], unsigned char *words,
                        size_t words_cap, size_t *word_count, struct error *err)
{
    size_t n = strlen(s);
    const char *sep = strrchr(s, '1');
    bool has_lower = false;
    bool has_upper = false;
    size_t hrp_len;
    size_t data_len;
    uint32_t chk;

    *word_count = 0;
    hrp[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126)
            return error_set(err, ERR_INTEGRITY,
                             "bech32: character %zu is outside the printable ASCII range", i);
        has_lower = has_lower || (c >= 'a' && c <= 'z');
        has_upper = has_upper || (c >= 'A' && c <= 'Z');
    }
    if (has_lower && has_upper)
        return error_set(err, ERR_INTEGRITY, "bech32: mixes upper and lower case");
    if (!sep)
        return error_set(err, ERR_INTEGRITY, "bech32: no '1' separator");
    hrp_len = (size_t)(sep - s);
    data_len = n - hrp_len - 1;
    if (hrp_len == 0)
        return error_set(err, ERR_INTEGRITY, "bech32: empty human-readable part");
    if (hrp_len > BECH32_HRP_MAX)
        return error_set(err, ERR_INTEGRITY,
                         "bech32: human-readable part longer than %d characters", BECH32_HRP_MAX);
    if (data_len < 6)
        return error_set(err, ERR_INTEGRITY, "bech32: data part shorter than the checksum");
    if (data_len - 6 > words_cap)
        return error_set(err, ERR_INTEGRITY, "bech32: data part longer than %zu characters",
                         words_cap + 6);
    for (size_t i = 0; i < hrp_len; i++)
        hrp[i] = bech32_lower(s[i]);
    hrp[hrp_len] = '\0';
    chk = bech32_hrp_state(hrp, hrp_len);
    for (size_t i = 0; i < data_len; i++) {
        const char *p = strchr(bech32_charset, bech32_lower(sep[1 + i]));
        unsigned v;
        if (!p || !*p)
            return error_set(err, ERR_INTEGRITY,
                             "bech32: character %zu of the data part is not in the alphabet", i);
        v = (unsigned)(p - bech32_charset);
        chk = bech32_polymod_step(chk, v);
        if (i < data_len - 6)
            words[i] = (unsigned char)v;
    }
    if (chk != 1) {
        hrp[0] = '\0';
        return error_set(err, ERR_INTEGRITY, "bech32: bad checksum (a typo, or a cut string?)");
    }
    *word_count = data_len - 6;
    return 0;
}

int bech32_decode(const char *s, char hrp[BECH32_HRP_MAX + 1], unsigned char *data, size_t data_cap,
                  size_t *data_len, struct error *err)
{
    size_t cap = strlen(s);
    unsigned char *words = xmalloc(cap ? cap : 1);
    size_t count = 0;
    uint32_t acc = 0;
    int bits = 0;
    size_t out = 0;
    int rc = -1;

    *data_len = 0;
    if (bech32_decode_words(s, hrp, words, cap, &count, err) < 0)
        goto out;
    for (size_t i = 0; i < count; i++) {
        acc = ((acc << 5) | words[i]) & 0xfffu;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (out == data_cap) {
                error_set(err, ERR_INTEGRITY, "bech32: more than %zu bytes of data", data_cap);
                goto out;
            }
            data[out++] = (unsigned char)(acc >> bits);
        }
    }
    if (bits >= 5 || (acc & ((1u << bits) - 1u)) != 0) {
        error_set(err, ERR_INTEGRITY, "bech32: bad padding at the end of the data part");
        goto out;
    }
    *data_len = out;
    rc = 0;
out:
    xfree(words);
    return rc;
}
