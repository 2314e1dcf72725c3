/* libFuzzer target for net/http_serve.c's request head parser (what the metrics endpoint reads from
 * any local client). The input is parsed whole and then prefix by prefix, as it arrives from a
 * socket. Checked as well as memory safety: a complete head ends inside the input at a line end,
 * its method is upper-case letters and its path starts with '/' without a '?'; a prefix never
 * completes where the whole input is malformed; an extra byte never turns a malformed or oversized
 * head into an incomplete one. Seeds: tests/fuzz/corpus/http_request/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/http_serve.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_head(const struct http_serve_head *h, const char *text, size_t size)
{
    ASSERT(h->len > 0 && h->len <= size && h->len <= HTTP_SERVE_HEAD_MAX);
    ASSERT(text[h->len - 1] == '\n');
    ASSERT(h->method[0] != '\0');
    for (const char *m = h->method; *m; m++)
        ASSERT(*m >= 'A' && *m <= 'Z');
    ASSERT(h->path[0] == '/');
    ASSERT(strchr(h->path, '?') == NULL);
    ASSERT(h->version_minor == 0 || h->version_minor == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct http_serve_head whole;
    enum http_serve_parse r_whole;
    enum http_serve_parse prev = HTTP_SERVE_INCOMPLETE;

    memset(&whole, 0, sizeof(whole));
    r_whole = http_serve_parse_head(text, size, &whole);
    if (r_whole == HTTP_SERVE_COMPLETE)
        fuzz_check_head(&whole, text, size);
    /* Byte by byte, as a slow client sends it: the first prefix that is no longer incomplete
     * decides, and the head it finds is the whole input's. */
    for (size_t n = 0; n <= size && n <= HTTP_SERVE_HEAD_MAX + 1; n++) {
        struct http_serve_head h;
        enum http_serve_parse r;

        memset(&h, 0, sizeof(h));
        r = http_serve_parse_head(text, n, &h);
        if (prev != HTTP_SERVE_INCOMPLETE) {
            /* Once decided, more bytes do not make it undecided. */
            ASSERT(r != HTTP_SERVE_INCOMPLETE);
        }
        if (r == HTTP_SERVE_COMPLETE) {
            fuzz_check_head(&h, text, n);
            if (prev == HTTP_SERVE_INCOMPLETE) {
                ASSERT(r_whole == HTTP_SERVE_COMPLETE);
                ASSERT(h.len == whole.len);
                ASSERT(strcmp(h.path, whole.path) == 0);
                ASSERT(strcmp(h.method, whole.method) == 0);
            }
        }
        if (prev == HTTP_SERVE_INCOMPLETE && r != HTTP_SERVE_INCOMPLETE)
            prev = r;
        if (prev != HTTP_SERVE_INCOMPLETE && prev != HTTP_SERVE_COMPLETE)
            break;
        if (prev == HTTP_SERVE_COMPLETE)
            break;
    }
    return 0;
}
