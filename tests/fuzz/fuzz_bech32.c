/* libFuzzer target for util/bech32.c: the input (cut at its first NUL) is decoded as words and as
 * bytes. Checked as well as memory safety: a string that decodes to bytes encodes back to itself in
 * lowercase, and a decode never reports more than the capacity it was given. Seeds:
 * tests/fuzz/corpus/bech32/ (BIP-173 vectors and age-shaped keys). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/bech32.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = xstrndup((const char *)data, size);
    char hrp[BECH32_HRP_MAX + 1];
    unsigned char words[256];
    unsigned char bytes[160];
    size_t count = 0;
    size_t len = 0;
    struct error err = ERROR_INIT;

    if (bech32_decode_words(s, hrp, words, sizeof(words), &count, &err) == 0) {
        ASSERT(count <= sizeof(words));
        for (size_t i = 0; i < count; i++)
            ASSERT(words[i] < 32);
    }
    error_clear(&err);
    if (bech32_decode(s, hrp, bytes, sizeof(bytes), &len, &err) == 0) {
        struct buf again;
        size_t n = strlen(s);
        ASSERT(len <= sizeof(bytes));
        buf_init(&again, BUF_NO_CAP);
        bech32_encode(hrp, bytes, len, false, &again);
        ASSERT(again.len == n);
        for (size_t i = 0; i < n; i++) {
            char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
            ASSERT(again.data[i] == c);
        }
        buf_release(&again);
    }
    xfree(s);
    return 0;
}
