/* sources/resp.c: the incremental parser (every type, any split of the input, caps, nesting,
 * errors with offsets) and the command encoder. */
#include <string.h>

#include "sources/resp.h"
#include "unit.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* Every RESP2 and RESP3 type the parser knows, as one stream of values. */
static const char resp_stream[] = "+OK\r\n"
                                  "-ERR wrong\r\n"
                                  ":-42\r\n"
                                  "$5\r\nhe\r\no\r\n"
                                  "$0\r\n\r\n"
                                  "$-1\r\n"
                                  "*-1\r\n"
                                  "*0\r\n"
                                  "*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n_\r\n"
                                  "#t\r\n"
                                  "#f\r\n"
                                  ",3.14\r\n"
                                  "(12345678901234567890\r\n"
                                  "!8\r\nSYNTAX x\r\n"
                                  "=7\r\ntxt:abc\r\n"
                                  "%1\r\n+k\r\n:2\r\n"
                                  "~2\r\n:1\r\n:2\r\n"
                                  ">2\r\n+message\r\n$2\r\nhi\r\n";

static const char *const resp_expected[] = {
    "+OK",
    "-ERR wrong",
    ":-42",
    "\"he\\x0d\\x0ao\"",
    "\"\"",
    "(nil)",
    "(nil)",
    "[]",
    "[:1, [+a, \"b\"], (nil)]",
    "#t",
    "#f",
    "\"3.14\"",
    "\"12345678901234567890\"",
    "-SYNTAX x",
    "\"abc\"",
    "[+k, :2]",
    "[:1, :2]",
    "[+message, \"hi\"]",
};

#define RESP_EXPECTED_COUNT (sizeof(resp_expected) / sizeof(resp_expected[0]))

/* Feeds data in pieces of at most chunk bytes (and splits at `split` first when nonzero); appends
 * each value's description and a newline to out. Returns -1 on a parse error. */
static int resp_parse_all(const char *data, size_t len, size_t split, size_t chunk, struct buf *out,
                          struct error *err)
{
    struct resp_parser *p = resp_parser_new(NULL);
    size_t pos = 0;
    int rc = -1;

    while (pos < len) {
        size_t end = len;
        if (split && pos < split)
            end = split;
        if (chunk && end - pos > chunk)
            end = pos + chunk;
        while (pos < end) {
            struct resp_value *v = NULL;
            size_t used = 0;
            int r = resp_parser_feed(p, data + pos, end - pos, &used, &v, err);
            if (r < 0)
                goto out;
            pos += used;
            if (r == 1) {
                resp_value_describe(v, 100, out);
                buf_adds(out, "\n");
                resp_value_free(v);
            }
        }
    }
    CHECK(!resp_parser_is_mid_value(p));
    rc = 0;
out:
    resp_parser_free(p);
    return rc;
}

static void resp_check_expected(const struct buf *got)
{
    struct buf want;

    buf_init(&want, BUF_NO_CAP);
    for (size_t i = 0; i < RESP_EXPECTED_COUNT; i++)
        buf_addf(&want, "%s\n", resp_expected[i]);
    CHECK_STR_EQ(got->data, want.data);
    buf_release(&want);
}

static void test_resp_parses_every_type(void)
{
    struct buf out;

    buf_init(&out, BUF_NO_CAP);
    CHECK_OK(resp_parse_all(resp_stream, sizeof(resp_stream) - 1, 0, 0, &out, unit_err()));
    resp_check_expected(&out);
    buf_release(&out);
}

static void test_resp_split_at_every_byte_gives_the_same_values(void)
{
    size_t len = sizeof(resp_stream) - 1;

    for (size_t split = 1; split < len; split++) {
        struct buf out;
        buf_init(&out, BUF_NO_CAP);
        CHECK_OK(resp_parse_all(resp_stream, len, split, 0, &out, unit_err()));
        resp_check_expected(&out);
        buf_release(&out);
    }
}

static void test_resp_one_byte_at_a_time(void)
{
    struct buf out;

    buf_init(&out, BUF_NO_CAP);
    CHECK_OK(resp_parse_all(resp_stream, sizeof(resp_stream) - 1, 0, 1, &out, unit_err()));
    resp_check_expected(&out);
    buf_release(&out);
}

static void test_resp_consumes_only_the_first_value(void)
{
    struct resp_parser *p = resp_parser_new(NULL);
    struct resp_value *v = NULL;
    size_t used = 0;
    const char in[] = "$3\r\nabc\r\n+NEXT\r\n\n\n";

    CHECK_INT_EQ(resp_parser_feed(p, in, sizeof(in) - 1, &used, &v, unit_err()), 1);
    CHECK_INT_EQ(used, 9);
    CHECK_INT_EQ(v->type, RESP_BULK);
    CHECK_INT_EQ(v->len, 3);
    CHECK_STR_EQ(v->str, "abc");
    resp_value_free(v);
    CHECK_INT_EQ(resp_parser_feed(p, in + 9, sizeof(in) - 1 - 9, &used, &v, unit_err()), 1);
    CHECK_INT_EQ(used, 7);
    CHECK_INT_EQ(v->type, RESP_SIMPLE);
    CHECK_STR_EQ(v->str, "NEXT");
    resp_value_free(v);
    resp_parser_free(p);
}

static void test_resp_binary_bulk_keeps_nul_bytes(void)
{
    struct resp_parser *p = resp_parser_new(NULL);
    struct resp_value *v = NULL;
    size_t used = 0;
    const char in[] = "$4\r\na\0b\xff\r\n";

    CHECK_INT_EQ(resp_parser_feed(p, in, sizeof(in) - 1, &used, &v, unit_err()), 1);
    CHECK_INT_EQ(v->len, 4);
    CHECK(memcmp(v->str, "a\0b\xff", 4) == 0);
    CHECK_INT_EQ(v->str[4], 0);
    resp_value_free(v);
    resp_parser_free(p);
}

static void test_resp_integer_limits(void)
{
    struct resp_parser *p = resp_parser_new(NULL);
    struct resp_value *v = NULL;
    struct error err = ERROR_INIT;
    size_t used = 0;

    CHECK_INT_EQ(resp_parser_feed(p, ":-9223372036854775808\r\n", 23, &used, &v, unit_err()), 1);
    CHECK(v->integer == INT64_MIN);
    resp_value_free(v);
    CHECK_INT_EQ(resp_parser_feed(p, ":9223372036854775807\r\n", 22, &used, &v, unit_err()), 1);
    CHECK(v->integer == INT64_MAX);
    resp_value_free(v);
    CHECK_ERR(resp_parser_feed(p, ":9223372036854775808\r\n", 22, &used, &v, &err), err, ERR_REMOTE,
              "integer expected");
    resp_parser_free(p);
}

/* A huge announced length fails on the header, before any payload arrives or is allocated. */
static void test_resp_huge_bulk_header_fails_at_once(void)
{
    struct resp_parser *p = resp_parser_new(NULL);
    struct resp_value *v = NULL;
    struct error err = ERROR_INIT;
    size_t used = 0;

    CHECK_ERR(resp_parser_feed(p, "$1000000000000\r\n", 16, &used, &v, &err), err, ERR_REMOTE,
              "bulk length 1000000000000 exceeds the cap of 536870912");
    CHECK(strstr(err.msg, "at byte 0"));
    CHECK(v == NULL);
    resp_parser_free(p);
}

static void test_resp_large_bulk_allocates_as_bytes_arrive(void)
{
    struct resp_parser *p = resp_parser_new(NULL);
    struct resp_value *v = NULL;
    size_t used = 0;

    /* 500 MB announced, 10 bytes sent: what is held follows what arrived. */
    CHECK_INT_EQ(resp_parser_feed(p, "$500000000\r\n0123456789", 22, &used, &v, unit_err()), 0);
    CHECK_INT_EQ(used, 22);
    CHECK(resp_parser_is_mid_value(p));
    CHECK_INT_EQ(resp_parser_buffered(p), 10);
    resp_parser_free(p);
}

static void test_resp_caps_from_limits(void)
{
    struct resp_limits lim = {.max_bulk = 8, .max_elements = 3, .max_depth = 2, .max_line = 10};
    struct resp_parser *p;
    struct resp_value *v = NULL;
    struct error err = ERROR_INIT;
    size_t used = 0;

    p = resp_parser_new(&lim);
    CHECK_ERR(resp_parser_feed(p, "$9\r\n", 4, &used, &v, &err), err, ERR_REMOTE,
              "exceeds the cap of 8");
    resp_parser_free(p);

    p = resp_parser_new(&lim);
    CHECK_ERR(resp_parser_feed(p, "*4\r\n", 4, &used, &v, &err), err, ERR_REMOTE,
              "4 elements exceed the cap of 3");
    resp_parser_free(p);

    p = resp_parser_new(&lim);
    CHECK_ERR(resp_parser_feed(p, "%2\r\n", 4, &used, &v, &err), err, ERR_REMOTE,
              "elements exceed the cap");
    resp_parser_free(p);

    p = resp_parser_new(&lim);
    CHECK_ERR(resp_parser_feed(p, "*1\r\n*1\r\n*1\r\n:1\r\n", 16, &used, &v, &err), err, ERR_REMOTE,
              "nesting deeper than 2");
    CHECK(strstr(err.msg, "at byte 8"));
    resp_parser_free(p);

    p = resp_parser_new(&lim);
    CHECK_INT_EQ(resp_parser_feed(p, "*1\r\n*1\r\n:1\r\n", 12, &used, &v, unit_err()), 1);
    resp_value_free(v);
    resp_parser_free(p);

    p = resp_parser_new(&lim);
    CHECK_ERR(resp_parser_feed(p, "+0123456789ab", 13, &used, &v, &err), err, ERR_REMOTE,
              "line longer than the cap of 10");
    resp_parser_free(p);

    /* The total: three bulk strings of 8 bytes are more than twice max_bulk. */
    p = resp_parser_new(&lim);
    CHECK_ERR(resp_parser_feed(p, "*3\r\n$8\r\n12345678\r\n$8\r\n12345678\r\n$8\r\n", 36, &used, &v,
                               &err),
              err, ERR_REMOTE, "reply larger than the cap of 16");
    resp_parser_free(p);
}

static void resp_check_error(const char *in, size_t len, const char *want)
{
    struct resp_parser *p = resp_parser_new(NULL);
    struct resp_value *v = NULL;
    struct error err = ERROR_INIT;
    size_t used = 0;

    CHECK_ERR(resp_parser_feed(p, in, len, &used, &v, &err), err, ERR_REMOTE, want);
    CHECK(v == NULL);
    resp_parser_free(p);
}

static void test_resp_protocol_errors_name_the_offset(void)
{
    /* the first value is complete before the bad one: feed past it */
    {
        struct resp_parser *p = resp_parser_new(NULL);
        struct resp_value *v = NULL;
        struct error err = ERROR_INIT;
        size_t used = 0;
        CHECK_INT_EQ(resp_parser_feed(p, "+OK\r\n:abc\r\n", 11, &used, &v, unit_err()), 1);
        resp_value_free(v);
        CHECK_ERR(resp_parser_feed(p, "+OK\r\n:abc\r\n" + used, 11 - used, &used, &v, &err), err,
                  ERR_REMOTE, "protocol error at byte 5: integer expected after ':'");
        resp_parser_free(p);
    }
    resp_check_error("?x\r\n", 4, "at byte 0: unexpected type byte '?'");
    resp_check_error("\x01x\r\n", 4, "unexpected type byte 0x01");
    resp_check_error("+OK\n", 4, "at byte 3: CRLF expected, got a bare LF");
    resp_check_error("\n", 1, "type byte expected, got LF");
    resp_check_error("\r\n", 2, "type byte expected, got CRLF");
    resp_check_error("+a\rb\r\n", 6, "CR inside a line");
    resp_check_error("$3\r\nabcX", 8, "at byte 7: CRLF expected after the bulk payload");
    resp_check_error("$-2\r\n", 5, "negative bulk length");
    resp_check_error("$\r\n", 3, "length expected");
    resp_check_error("*-5\r\n", 5, "negative element count");
    resp_check_error("~-1\r\n", 5, "negative element count");
    resp_check_error("#x\r\n", 4, "'t' or 'f' expected");
    resp_check_error("_x\r\n", 4, "CRLF expected after '_'");
    resp_check_error("|1\r\n+a\r\n+b\r\n", 12, "attributes");
    resp_check_error("*2\r\n:1\r\n:x\r\n", 12, "at byte 8");
}

static void test_resp_mid_value_and_buffered(void)
{
    struct resp_parser *p = resp_parser_new(NULL);
    struct resp_value *v = NULL;
    size_t used = 0;

    CHECK(!resp_parser_is_mid_value(p));
    CHECK_INT_EQ(resp_parser_feed(p, "*2\r\n$3\r\nab", 10, &used, &v, unit_err()), 0);
    CHECK(resp_parser_is_mid_value(p));
    CHECK(resp_parser_buffered(p) >= 2);
    CHECK_INT_EQ(resp_parser_feed(p, "c\r\n:7\r\n", 7, &used, &v, unit_err()), 1);
    CHECK(!resp_parser_is_mid_value(p));
    CHECK_INT_EQ(resp_parser_buffered(p), 0);
    CHECK_INT_EQ(v->count, 2);
    CHECK_STR_EQ(v->items[0].str, "abc");
    CHECK_INT_EQ(v->items[1].integer, 7);
    resp_value_free(v);
    resp_parser_free(p);
}

static void test_resp_describe_escapes_and_truncates(void)
{
    struct resp_value v;
    struct buf out;
    char s[] = "a\"b\\c\x01 long tail";

    memset(&v, 0, sizeof(v));
    v.type = RESP_BULK;
    v.str = s;
    v.len = sizeof(s) - 1;
    buf_init(&out, BUF_NO_CAP);
    resp_value_describe(&v, 6, &out);
    CHECK_STR_EQ(out.data, "\"a\\\"b\\\\c\\x01...\"");
    buf_release(&out);
}

static void test_resp_encoder_round_trips(void)
{
    const char *argv[] = {"RESTORE", "key with space", "0", "bin\r\n\0x", "REPLACE"};
    size_t lens[] = {7, 14, 1, 8, 7};
    struct buf b;
    struct resp_parser *p = resp_parser_new(NULL);
    struct resp_value *v = NULL;
    size_t used = 0;

    buf_init(&b, BUF_NO_CAP);
    resp_append_command(&b, 5, argv, lens);
    CHECK(strncmp(b.data, "*5\r\n$7\r\nRESTORE\r\n$14\r\n", 22) == 0);
    CHECK_INT_EQ(resp_parser_feed(p, b.data, b.len, &used, &v, unit_err()), 1);
    CHECK_INT_EQ(used, b.len);
    CHECK(resp_value_is_command(v));
    CHECK_INT_EQ(v->count, 5);
    for (size_t i = 0; i < 5; i++) {
        CHECK_INT_EQ(v->items[i].len, lens[i]);
        CHECK(memcmp(v->items[i].str, argv[i], lens[i]) == 0);
    }
    resp_value_free(v);

    /* C strings without lens */
    buf_reset(&b);
    resp_append_command(&b, 2, argv, NULL);
    CHECK_STR_EQ(b.data, "*2\r\n$7\r\nRESTORE\r\n$14\r\nkey with space\r\n");
    buf_release(&b);
    resp_parser_free(p);
}

static void test_resp_is_command_needs_bulk_strings(void)
{
    struct resp_parser *p = resp_parser_new(NULL);
    struct resp_value *v = NULL;
    size_t used = 0;

    CHECK_INT_EQ(resp_parser_feed(p, "*2\r\n$1\r\na\r\n:1\r\n", 15, &used, &v, unit_err()), 1);
    CHECK(!resp_value_is_command(v));
    resp_value_free(v);
    CHECK_INT_EQ(resp_parser_feed(p, "*0\r\n", 4, &used, &v, unit_err()), 1);
    CHECK(!resp_value_is_command(v));
    resp_value_free(v);
    resp_parser_free(p);
}

const struct unit_test resp_tests[] = {
    {"test_resp_parses_every_type", test_resp_parses_every_type},
    {"test_resp_split_at_every_byte_gives_the_same_values",
     test_resp_split_at_every_byte_gives_the_same_values},
    {"test_resp_one_byte_at_a_time", test_resp_one_byte_at_a_time},
    {"test_resp_consumes_only_the_first_value", test_resp_consumes_only_the_first_value},
    {"test_resp_binary_bulk_keeps_nul_bytes", test_resp_binary_bulk_keeps_nul_bytes},
    {"test_resp_integer_limits", test_resp_integer_limits},
    {"test_resp_huge_bulk_header_fails_at_once", test_resp_huge_bulk_header_fails_at_once},
    {"test_resp_large_bulk_allocates_as_bytes_arrive",
     test_resp_large_bulk_allocates_as_bytes_arrive},
    {"test_resp_caps_from_limits", test_resp_caps_from_limits},
    {"test_resp_protocol_errors_name_the_offset", test_resp_protocol_errors_name_the_offset},
    {"test_resp_mid_value_and_buffered", test_resp_mid_value_and_buffered},
    {"test_resp_describe_escapes_and_truncates", test_resp_describe_escapes_and_truncates},
    {"test_resp_encoder_round_trips", test_resp_encoder_round_trips},
    {"test_resp_is_command_needs_bulk_strings", test_resp_is_command_needs_bulk_strings},
    {NULL, NULL},
};
