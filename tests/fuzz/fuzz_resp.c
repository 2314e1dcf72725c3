/* libFuzzer target for sources/resp.c. The input is parsed twice, whole and one byte at a time,
 * with small caps so they are reached; both runs must yield the same values (compared by their
 * descriptions) and end the same way. Each command value is re-encoded and must parse back to the
 * same command. Seeds: tests/fuzz/corpus/resp/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sources/resp.h"
#include "util/buf.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct resp_limits fuzz_limits = {
    .max_bulk = 4096, .max_elements = 64, .max_depth = 8, .max_line = 256};

static void fuzz_check_command_round_trip(const struct resp_value *v)
{
    const char *argv[64];
    size_t lens[64];
    struct buf b;
    struct resp_parser *p = resp_parser_new(NULL);
    struct resp_value *again = NULL;
    struct error err = ERROR_INIT;
    size_t used = 0;

    ASSERT(v->count <= 64);
    for (size_t i = 0; i < v->count; i++) {
        argv[i] = v->items[i].str;
        lens[i] = v->items[i].len;
    }
    buf_init(&b, BUF_NO_CAP);
    resp_append_command(&b, v->count, argv, lens);
    ASSERT(resp_parser_feed(p, b.data, b.len, &used, &again, &err) == 1);
    ASSERT(used == b.len);
    ASSERT(again->count == v->count);
    for (size_t i = 0; i < v->count; i++) {
        ASSERT(again->items[i].len == lens[i]);
        ASSERT(memcmp(again->items[i].str, argv[i], lens[i]) == 0);
    }
    resp_value_free(again);
    resp_parser_free(p);
    buf_release(&b);
}

/* Parses data in pieces of at most chunk bytes (0: whole); appends each value's description to
 * out. Returns 0 at a value boundary, 1 mid-value, -1 on an error. */
static int fuzz_parse(const uint8_t *data, size_t size, size_t chunk, struct buf *out)
{
    struct resp_parser *p = resp_parser_new(&fuzz_limits);
    struct error err = ERROR_INIT;
    size_t pos = 0;
    int rc = 0;

    while (pos < size) {
        size_t end = chunk && size - pos > chunk ? pos + chunk : size;
        while (pos < end) {
            struct resp_value *v = NULL;
            size_t used = 0;
            int r = resp_parser_feed(p, data + pos, end - pos, &used, &v, &err);
            if (r < 0) {
                ASSERT(err.kind == ERR_REMOTE);
                rc = -1;
                goto out;
            }
            ASSERT(used <= end - pos);
            pos += used;
            if (r == 1) {
                ASSERT(used > 0);
                resp_value_describe(v, 64, out);
                buf_adds(out, "\n");
                if (resp_value_is_command(v))
                    fuzz_check_command_round_trip(v);
                resp_value_free(v);
            }
        }
    }
    rc = resp_parser_is_mid_value(p) ? 1 : 0;
out:
    resp_parser_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf whole;
    struct buf bytes;
    int a;
    int b;

    buf_init(&whole, BUF_NO_CAP);
    buf_init(&bytes, BUF_NO_CAP);
    a = fuzz_parse(data, size, 0, &whole);
    b = fuzz_parse(data, size, 1, &bytes);
    ASSERT(a == b);
    ASSERT(whole.len == bytes.len && memcmp(whole.data, bytes.data, whole.len) == 0);
    buf_release(&bytes);
    buf_release(&whole);
    return 0;
}
