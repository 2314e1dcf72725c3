/* The util layer: buffers, string views, the JSON writer, file helpers, errors and time. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <sys/stat.h>

#include "unit.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/json_writer.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/time.h"
#include "util/xalloc.h"

static void test_buf_grows_and_stays_nul_terminated(void)
{
    struct buf b;
    char big[5000];

    buf_init(&b, BUF_NO_CAP);
    CHECK(b.data != NULL);
    CHECK_STR_EQ(b.data, "");
    CHECK(buf_adds(&b, "hello"));
    CHECK(buf_addf(&b, " %s %d", "world", 42));
    CHECK_STR_EQ(b.data, "hello world 42");
    CHECK_INT_EQ(b.len, 14);
    memset(big, 'x', sizeof(big));
    CHECK(buf_add(&b, big, sizeof(big)));
    CHECK_INT_EQ(b.len, 14 + sizeof(big));
    CHECK_INT_EQ(b.data[b.len], '\0');
    buf_consume(&b, 6);
    CHECK(strncmp(b.data, "world 42x", 9) == 0);
    buf_consume(&b, b.len + 10);
    CHECK_INT_EQ(b.len, 0);
    CHECK_STR_EQ(b.data, "");
    buf_reset(&b);
    CHECK(buf_add(&b, "", 0));
    CHECK_STR_EQ(b.data, "");
    buf_release(&b);
    CHECK_STR_EQ(b.data, "");
}

static void test_buf_cap_is_respected(void)
{
    struct buf b;

    buf_init(&b, 8);
    CHECK(buf_adds(&b, "12345678"));
    CHECK(!buf_adds(&b, "9"));
    CHECK_STR_EQ(b.data, "12345678");
    buf_reset(&b);
    CHECK(buf_adds(&b, "1234"));
    CHECK(!buf_add(&b, "56789", 5)); /* would exceed: contents unchanged */
    CHECK_STR_EQ(b.data, "1234");
    CHECK(!buf_addf(&b, "%s", "abcde"));
    CHECK_STR_EQ(b.data, "1234");
    CHECK(buf_reserve(&b, 4));
    CHECK(!buf_reserve(&b, 5));
    buf_release(&b);
}

static void test_buf_add_tail_keeps_the_last_bytes(void)
{
    struct buf b;

    buf_init(&b, 5);
    buf_add_tail(&b, "abc", 3);
    CHECK_STR_EQ(b.data, "abc");
    buf_add_tail(&b, "def", 3);
    CHECK_STR_EQ(b.data, "bcdef");
    buf_add_tail(&b, "0123456789", 10);
    CHECK_STR_EQ(b.data, "56789");
    buf_add_tail(&b, "X", 1);
    CHECK_STR_EQ(b.data, "6789X");
    buf_release(&b);
}

static void test_buf_detach_hands_over_storage(void)
{
    struct buf b;
    size_t len = 99;
    char *p;

    buf_init(&b, BUF_NO_CAP);
    p = buf_detach(&b, &len); /* empty: still a string the caller owns */
    CHECK_STR_EQ(p, "");
    CHECK_INT_EQ(len, 0);
    xfree(p);
    CHECK(buf_adds(&b, "owned"));
    p = buf_detach(&b, &len);
    CHECK_STR_EQ(p, "owned");
    CHECK_INT_EQ(len, 5);
    CHECK_INT_EQ(b.len, 0);
    CHECK_STR_EQ(b.data, "");
    CHECK(buf_adds(&b, "again"));
    CHECK_STR_EQ(b.data, "again");
    xfree(p);
    buf_release(&b);
}

static bool strv_is(struct strv v, const char *want)
{
    return strv_eq(v, want);
}

static void test_strv_cut_splits_at_separator(void)
{
    struct strv rest = strv_from("a:b::c");
    struct strv head;

    CHECK(strv_cut(&rest, ':', &head));
    CHECK(strv_is(head, "a"));
    CHECK(strv_cut(&rest, ':', &head));
    CHECK(strv_is(head, "b"));
    CHECK(strv_cut(&rest, ':', &head));
    CHECK(strv_is(head, ""));
    CHECK(!strv_cut(&rest, ':', &head)); /* no separator: all of it in head */
    CHECK(strv_is(head, "c"));
    CHECK_INT_EQ(rest.len, 0);
    CHECK(!strv_cut(&rest, ':', &head));
    CHECK_INT_EQ(head.len, 0);
}

static void test_strv_trim_and_compare(void)
{
    struct strv v = strv_trim(strv_from(" \t key = value \r\n"));
    char *copy;

    CHECK(strv_is(v, "key = value"));
    CHECK(strv_is(strv_trim(strv_from(" \t\r\n")), ""));
    CHECK(strv_eq_nocase(strv_from("Content-Length"), "content-length"));
    CHECK(!strv_eq(strv_from("abc"), "abcd"));
    CHECK(strv_starts_with(strv_from("db/2026"), "db/"));
    CHECK(!strv_starts_with(strv_from("d"), "db/"));
    copy = strv_dup(strv_make("abcdef", 3));
    CHECK_STR_EQ(copy, "abc");
    xfree(copy);
}

static void test_strv_to_u64_is_strict(void)
{
    uint64_t v = 7;

    CHECK(strv_to_u64(strv_from("0"), &v));
    CHECK_INT_EQ(v, 0);
    CHECK(strv_to_u64(strv_from("18446744073709551615"), &v));
    CHECK(v == UINT64_MAX);
    v = 7;
    CHECK(!strv_to_u64(strv_from("18446744073709551616"), &v)); /* overflow */
    CHECK(!strv_to_u64(strv_from("99999999999999999999"), &v));
    CHECK(!strv_to_u64(strv_from(""), &v));
    CHECK(!strv_to_u64(strv_from("-1"), &v));
    CHECK(!strv_to_u64(strv_from("+1"), &v));
    CHECK(!strv_to_u64(strv_from(" 1"), &v));
    CHECK(!strv_to_u64(strv_from("1 "), &v));
    CHECK(!strv_to_u64(strv_from("12a"), &v));
    CHECK(!strv_to_u64(strv_from("0x10"), &v));
    CHECK_INT_EQ(v, 7); /* untouched on failure */
    CHECK(strv_to_u64(strv_make("123456", 3), &v));
    CHECK_INT_EQ(v, 123);
}

static void test_json_writer_escapes_strings(void)
{
    struct buf out;
    struct json_writer w;

    buf_init(&out, BUF_NO_CAP);
    json_writer_init(&w, &out);
    json_begin_array(&w);
    json_string(&w, "say \"hi\"\\");
    json_string(&w, "\n\r\t\x01\x1f\x7f");
    json_string_len(&w, "a\0b", 3);
    json_string(&w, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x98"); /* valid UTF-8 passes through */
    json_string(&w, "bad \xff \xc3 \xed\xa0\x80 \xc0\xaf end");   /* invalid bytes and sequences */
    json_string(&w, NULL);
    json_end_array(&w);
    CHECK_STR_EQ(out.data, "[\"say \\\"hi\\\"\\\\\","
                           "\"\\n\\r\\t\\u0001\\u001f\\u007f\","
                           "\"a\\u0000b\","
                           "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x98\","
                           "\"bad \\ufffd \\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd end\","
                           "null]");
    buf_release(&out);
}

static void test_json_writer_nests_with_commas(void)
{
    struct buf out;
    struct json_writer w;

    buf_init(&out, BUF_NO_CAP);
    json_writer_init(&w, &out);
    json_begin_object(&w);
    json_key_string(&w, "job", "db");
    json_key_int(&w, "delta", -5);
    json_key_uint(&w, "size", UINT64_MAX);
    json_key_bool(&w, "ok", true);
    json_key(&w, "tables");
    json_begin_array(&w);
    json_begin_object(&w);
    json_end_object(&w);
    json_begin_array(&w);
    json_end_array(&w);
    json_null(&w);
    json_double(&w, 1.5);
    json_end_array(&w);
    json_key(&w, "empty");
    json_begin_object(&w);
    json_end_object(&w);
    json_end_object(&w);
    CHECK_STR_EQ(out.data, "{\"job\":\"db\",\"delta\":-5,\"size\":18446744073709551615,\"ok\":true,"
                           "\"tables\":[{},[],null,1.5],\"empty\":{}}");

    buf_reset(&out);
    json_writer_init(&w, &out);
    w.indent = 2;
    json_begin_object(&w);
    json_key_int(&w, "a", 1);
    json_key(&w, "b");
    json_begin_array(&w);
    json_bool(&w, false);
    json_end_array(&w);
    json_end_object(&w);
    CHECK_STR_EQ(out.data, "{\n  \"a\": 1,\n  \"b\": [\n    false\n  ]\n}");
    buf_release(&out);
}

static void test_fs_write_atomic_then_read_back(void)
{
    char *path = xasprintf("%s/file", unit_tmp_dir());
    struct error err = ERROR_INIT;
    struct stat st;
    struct buf b;
    struct buf capped;

    buf_init(&b, BUF_NO_CAP);
    buf_init(&capped, 3);
    CHECK_OK(fs_write_atomic(path, "first", 5, 0640, unit_err()));
    CHECK_OK(fs_write_atomic(path, "contents", 8, 0600, unit_err()));
    CHECK_OK(fs_read_file(path, &b, unit_err()));
    CHECK_STR_EQ(b.data, "contents");
    CHECK(stat(path, &st) == 0);
    CHECK_INT_EQ(st.st_mode & 0777, 0600);
    CHECK_ERR(fs_read_file(path, &capped, &err), err, ERR_IO, "larger than 3 bytes");
    CHECK_ERR(fs_read_file("/nonexistent/x", &b, &err), err, ERR_IO, "No such file or directory");
    CHECK_INT_EQ(err.sys_errno, ENOENT);
    CHECK(fs_exists(path));
    CHECK(!fs_exists("/nonexistent/x"));
    buf_release(&b);
    buf_release(&capped);
    xfree(path);
}

static void test_fs_mkdir_p_and_remove_tree(void)
{
    char *deep = xasprintf("%s/a/b/c/", unit_tmp_dir());
    char *top = xasprintf("%s/a", unit_tmp_dir());
    char *file = xasprintf("%s/a/b/f", unit_tmp_dir());
    struct stat st;

    CHECK_OK(fs_mkdir_p(deep, 0700, unit_err()));
    CHECK_OK(fs_mkdir_p(deep, 0700, unit_err())); /* existing: fine */
    CHECK(stat(deep, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_INT_EQ(st.st_mode & 0777, 0700);
    CHECK_OK(fs_write_atomic(file, "x", 1, 0600, unit_err()));
    CHECK_OK(fs_fsync_dir(top, unit_err()));
    CHECK_OK(fs_remove_tree(top, unit_err()));
    CHECK(!fs_exists(top));
    CHECK_OK(fs_remove_tree(top, unit_err())); /* missing: fine */
    xfree(deep);
    xfree(top);
    xfree(file);
}

static void test_fs_dirname(void)
{
    char *d;

    d = fs_dirname("a/b/c");
    CHECK_STR_EQ(d, "a/b");
    xfree(d);
    d = fs_dirname("c");
    CHECK_STR_EQ(d, ".");
    xfree(d);
    d = fs_dirname("/c");
    CHECK_STR_EQ(d, "/");
    xfree(d);
}

static int fails_inner(struct error *err)
{
    return error_set(err, ERR_INTEGRITY, "checksum mismatch for '%s'", "x.zst");
}

static void test_error_wrap_prepends_context(void)
{
    struct error err = ERROR_INIT;

    CHECK_INT_EQ(fails_inner(&err), -1);
    error_hint(&err, "re-run with %s", "--verify");
    CHECK_INT_EQ(error_wrap(&err, "store '%s'", "local"), -1);
    CHECK_INT_EQ(error_wrap(&err, "job '%s'", "db"), -1);
    CHECK_STR_EQ(err.msg, "job 'db': store 'local': checksum mismatch for 'x.zst'");
    CHECK_INT_EQ(err.kind, ERR_INTEGRITY); /* the root cause's kind survives */
    CHECK_STR_EQ(err.hint, "re-run with --verify");
    error_clear(&err);
    CHECK_INT_EQ(err.kind, ERR_NONE);
    CHECK_STR_EQ(err.msg, "");
    CHECK_STR_EQ(err.hint, "");
    error_wrap(&err, "outer");
    CHECK_INT_EQ(err.kind, ERR_FAILED);
}

static void test_error_errno_appends_strerror(void)
{
    struct error err = ERROR_INIT;

    errno = ENOSPC;
    CHECK_INT_EQ(error_errno(&err, ERR_IO, "write '%s'", "/backups/x"), -1);
    CHECK_STR_EQ(err.msg, "write '/backups/x': No space left on device");
    CHECK_INT_EQ(err.sys_errno, ENOSPC);
    CHECK_INT_EQ(err.kind, ERR_IO);
    error_set(&err, ERR_CONFIG, "plain");
    CHECK_INT_EQ(err.sys_errno, 0);
}

static void test_time_format_parse_round_trip(void)
{
    char iso[TIME_ISO_LEN];
    char compact[TIME_ISO_LEN];
    time_t t = 1795490100; /* 2026-11-24T03:15:00Z */
    time_t back = 0;

    time_format_iso(t, iso);
    CHECK_STR_EQ(iso, "2026-11-24T03:15:00Z");
    time_format_compact(t, compact);
    CHECK_STR_EQ(compact, "20261124T031500Z");
    CHECK(time_parse_utc(iso, &back));
    CHECK_INT_EQ(back, t);
    back = 0;
    CHECK(time_parse_utc(compact, &back));
    CHECK_INT_EQ(back, t);
    CHECK(time_parse_utc("1970-01-01T00:00:00Z", &back));
    CHECK_INT_EQ(back, 0);
    CHECK(time_mono_ms() > 0);
    CHECK(time_now_ms() > (int64_t)1700000000 * 1000);
}

static void test_time_parse_rejects_garbage(void)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "2026-11-24",
        "2026-11-24T03:15:00",
        "2026-11-24T03:15:00+01:00",
        "2026-11-24T03:15:00Zjunk",
        "20261124T0315Z",
        "2026-11-24 03:15:00Z",
    };
    time_t t = 0;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (time_parse_utc(bad[i], &t))
            unit_fail(__FILE__, __LINE__, "time_parse_utc accepted \"%s\"", bad[i]);
    }
}

static void test_time_format_duration(void)
{
    char out[TIME_ISO_LEN];

    time_format_duration(1200, out);
    CHECK_STR_EQ(out, "1.2 s");
    time_format_duration(184000, out);
    CHECK_STR_EQ(out, "3 min 4 s");
    time_format_duration(7500000, out);
    CHECK_STR_EQ(out, "2 h 5 min");
}

static void test_log_tail_keeps_the_last_whole_lines(void)
{
    enum log_level saved = log_max_level();
    struct buf out;
    char big[1000];
    size_t lines = 0;

    buf_init(&out, BUF_NO_CAP);
    log_setup(LOG_ERROR, LOG_FORMAT_TEXT); /* kept, not printed */
    log_info("before the start");
    log_tail_start();
    log_info("dump started");
    log_debug("not kept: below info");
    log_warn("retention of '%s' failed", "offsite");
    log_tail_copy(&out);
    CHECK(strstr(out.data, " info  test_util: dump started\n") != NULL);
    CHECK(strstr(out.data, " warn  test_util: retention of 'offsite' failed\n") != NULL);
    CHECK(strstr(out.data, "before the start") == NULL);
    CHECK(strstr(out.data, "below info") == NULL);

    /* Past LOG_TAIL_CAP the oldest lines go, whole. */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 100; i++)
        log_info("line %03d %s", i, big);
    buf_reset(&out);
    log_tail_copy(&out);
    CHECK(out.len <= LOG_TAIL_CAP);
    CHECK(strstr(out.data, "dump started") == NULL);
    CHECK(strstr(out.data, "line 099 ") != NULL);
    CHECK(strncmp(out.data, "20", 2) == 0); /* starts on a line: its timestamp */
    for (size_t i = 0; i < out.len; i++)
        lines += out.data[i] == '\n';
    CHECK(lines >= 30 && lines < 100);

    log_tail_stop();
    buf_reset(&out);
    log_tail_copy(&out);
    CHECK_INT_EQ((int)out.len, 0);
    log_setup(saved, LOG_FORMAT_TEXT);
    buf_release(&out);
}

const struct unit_test util_tests[] = {
    {"test_log_tail_keeps_the_last_whole_lines", test_log_tail_keeps_the_last_whole_lines},
    {"test_buf_grows_and_stays_nul_terminated", test_buf_grows_and_stays_nul_terminated},
    {"test_buf_cap_is_respected", test_buf_cap_is_respected},
    {"test_buf_add_tail_keeps_the_last_bytes", test_buf_add_tail_keeps_the_last_bytes},
    {"test_buf_detach_hands_over_storage", test_buf_detach_hands_over_storage},
    {"test_strv_cut_splits_at_separator", test_strv_cut_splits_at_separator},
    {"test_strv_trim_and_compare", test_strv_trim_and_compare},
    {"test_strv_to_u64_is_strict", test_strv_to_u64_is_strict},
    {"test_json_writer_escapes_strings", test_json_writer_escapes_strings},
    {"test_json_writer_nests_with_commas", test_json_writer_nests_with_commas},
    {"test_fs_write_atomic_then_read_back", test_fs_write_atomic_then_read_back},
    {"test_fs_mkdir_p_and_remove_tree", test_fs_mkdir_p_and_remove_tree},
    {"test_fs_dirname", test_fs_dirname},
    {"test_error_wrap_prepends_context", test_error_wrap_prepends_context},
    {"test_error_errno_appends_strerror", test_error_errno_appends_strerror},
    {"test_time_format_parse_round_trip", test_time_format_parse_round_trip},
    {"test_time_parse_rejects_garbage", test_time_parse_rejects_garbage},
    {"test_time_format_duration", test_time_format_duration},
    {NULL, NULL},
};
