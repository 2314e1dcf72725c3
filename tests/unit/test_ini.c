/* Tests of config/ini.c: the pure INI parser and writer. */
#include <string.h>

#include "config/ini.h"
#include "unit.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* Records every event as one line "LINE section "sub" key=[value]" (or "LINE section" for a
 * header). */
static int record(const struct ini_event *ev, void *ctx, struct error *err)
{
    struct buf *out = ctx;

    (void)err;
    buf_addf(out, "%d %s", ev->line, ev->section);
    if (ev->subsection)
        buf_addf(out, " \"%s\"", ev->subsection);
    if (ev->key)
        buf_addf(out, " %s=[%s]", ev->key, ev->value);
    buf_adds(out, "\n");
    return 0;
}

/* Parses text (as a C string) and returns the recorded events; the caller frees the result. */
static char *events_of(const char *text)
{
    struct buf out;

    buf_init(&out, BUF_NO_CAP);
    CHECK_OK(ini_parse_events(NULL, text, strlen(text), record, &out, unit_err()));
    return buf_detach(&out, NULL);
}

#define CHECK_EVENTS(text, want)                                                                   \
    do {                                                                                           \
        char *got_ = events_of(text);                                                              \
        CHECK_STR_EQ(got_, want);                                                                  \
        xfree(got_);                                                                               \
    } while (0)

static int parse_fails(const char *text, size_t len, struct error *err)
{
    struct buf out;
    int rc;

    buf_init(&out, BUF_NO_CAP);
    rc = ini_parse_events(NULL, text, len, record, &out, err);
    buf_release(&out);
    return rc;
}

#define CHECK_PARSE_ERR(text, want)                                                                \
    do {                                                                                           \
        struct error e_ = ERROR_INIT;                                                              \
        CHECK_ERR(parse_fails(text, strlen(text), &e_), e_, ERR_CONFIG, want);                     \
    } while (0)

static void test_plain_and_quoted_sections(void)
{
    CHECK_EVENTS("[global]\nstate_dir = /var/lib/pf\n[store \"local\"]\npath = /b\n",
                 "1 global\n2 global state_dir=[/var/lib/pf]\n3 store \"local\"\n"
                 "4 store \"local\" path=[/b]\n");
}

static void test_section_and_key_are_lowercased_subsection_keeps_case(void)
{
    CHECK_EVENTS("[STORE \"Local-NAS\"]\nPath = /B\n",
                 "1 store \"Local-NAS\"\n2 store \"Local-NAS\" path=[/B]\n");
}

static void test_subsection_unescapes_quote_and_backslash(void)
{
    CHECK_EVENTS("[store \"a\\\"b\\\\c\"]\n", "1 store \"a\"b\\c\"\n");
}

static void test_header_allows_blanks_and_comment(void)
{
    CHECK_EVENTS("[ store   \"x\" ]  ; comment\n[global]# c\n", "1 store \"x\"\n2 global\n");
}

static void test_empty_subsection_is_kept(void)
{
    CHECK_EVENTS("[store \"\"]\n", "1 store \"\"\n");
}

static void test_keys_and_values_are_trimmed(void)
{
    CHECK_EVENTS("[g]\n  \tkey\t =   some value \t \n", "1 g\n2 g key=[some value]\n");
}

static void test_comment_lines_and_blank_lines_are_skipped(void)
{
    CHECK_EVENTS("; top\n# top\n\n[g]\n   ; indented\n\t# tab\n\na = 1\n", "4 g\n8 g a=[1]\n");
}

static void test_inline_comment_needs_a_blank_before_it(void)
{
    CHECK_EVENTS("[g]\n"
                 "a = b;c\n"
                 "b = b ;c\n"
                 "c = http://x/#frag\n"
                 "d = x\t# tab\n"
                 "e = x#y # z\n",
                 "1 g\n2 g a=[b;c]\n3 g b=[b]\n4 g c=[http://x/#frag]\n5 g d=[x]\n6 g e=[x#y]\n");
}

static void test_comment_right_after_equals_gives_empty_value(void)
{
    CHECK_EVENTS("[g]\na = ; nothing\nb =\nc=;x\n", "1 g\n2 g a=[]\n3 g b=[]\n4 g c=[;x]\n");
}

static void test_quoted_value_keeps_blanks_and_comment_chars(void)
{
    CHECK_EVENTS("[g]\na = \"  x ; y # z  \"\n", "1 g\n2 g a=[  x ; y # z  ]\n");
}

static void test_quoted_value_unescapes_and_allows_trailing_comment(void)
{
    CHECK_EVENTS("[g]\na = \"say \\\"hi\\\" \\\\o/\"   ; comment\nb = \"\"\n",
                 "1 g\n2 g a=[say \"hi\" \\o/]\n3 g b=[]\n");
}

static void test_quote_inside_unquoted_value_is_literal(void)
{
    CHECK_EVENTS("[g]\na = it\"s \"x\"\n", "1 g\n2 g a=[it\"s \"x\"]\n");
}

static void test_equals_in_value_is_kept(void)
{
    CHECK_EVENTS("[job \"db\"]\ndatabase = host=db dbname=m\n",
                 "1 job \"db\"\n2 job \"db\" database=[host=db dbname=m]\n");
}

static void test_crlf_line_endings(void)
{
    CHECK_EVENTS("[g]\r\na = 1\r\nb = \"q\"\r\n", "1 g\n2 g a=[1]\n3 g b=[q]\n");
}

static void test_utf8_bom_is_skipped(void)
{
    CHECK_EVENTS("\xEF\xBB\xBF[g]\na = 1\n", "1 g\n2 g a=[1]\n");
}

static void test_last_line_without_newline(void)
{
    CHECK_EVENTS("[g]\na = 1", "1 g\n2 g a=[1]\n");
}

static void test_empty_input_has_no_events(void)
{
    CHECK_EVENTS("", "");
    CHECK_EVENTS("\n\n; only comments\n", "");
}

static void test_non_ascii_value_bytes_pass_through(void)
{
    CHECK_EVENTS("[g]\na = caf\xC3\xA9 \xFF\n", "1 g\n2 g a=[caf\xC3\xA9 \xFF]\n");
}

static void test_unterminated_quote_in_value_reports_line(void)
{
    CHECK_PARSE_ERR("[g]\nok = 1\npassword = \"hunter2\n", "line 3: unterminated quote");
    CHECK_PARSE_ERR("[g]\na = \"ends with backslash\\\n", "line 2: unterminated quote");
}

static void test_unterminated_quote_in_header(void)
{
    CHECK_PARSE_ERR("[store \"local]\n", "line 1: unterminated quote in section header");
    CHECK_PARSE_ERR("[g]\n[store \"a\\\"]\n", "line 2: unterminated quote in section header");
}

static void test_missing_equals(void)
{
    CHECK_PARSE_ERR("[g]\n\njust words\n", "line 3: missing '=' (expected 'key = value')");
}

static void test_key_outside_a_section(void)
{
    CHECK_PARSE_ERR("; header comment\ntype = local\n", "line 2: key 'type' outside a section");
}

static void test_empty_key(void)
{
    CHECK_PARSE_ERR("[g]\n = value\n", "line 2: empty key");
}

static void test_invalid_key_characters(void)
{
    CHECK_PARSE_ERR("[g]\nmy key = 1\n", "line 2: invalid key");
    CHECK_PARSE_ERR("[g]\nk\xC3\xA9y = 1\n", "line 2: invalid key");
}

static void test_invalid_section_headers(void)
{
    static const char *const bad[] = {
        "[\n",
        "[]\n",
        "[ ]\n",
        "[store local]\n",
        "[store \"x\" y]\n",
        "[store \"x\"\n",
        "[global] junk\n",
        "[glo bal]\n",
        "[store \"x\"]]\n",
        "[g\xC3\xA9]\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_PARSE_ERR(bad[i], "line 1: invalid section header");
}

static void test_invalid_escapes(void)
{
    CHECK_PARSE_ERR("[store \"a\\nb\"]\n", "line 1: invalid escape in section header");
    CHECK_PARSE_ERR("[g]\na = \"C:\\temp\"\n", "line 2: invalid escape in quoted value");
}

static void test_text_after_closing_quote(void)
{
    CHECK_PARSE_ERR("[g]\na = \"x\" y\n", "line 2: unexpected text after the closing quote");
}

static void test_nul_byte_is_rejected_with_its_line(void)
{
    static const char text[] = "[g]\na = 1\nb = x\0y\n";
    struct error err = ERROR_INIT;

    CHECK_ERR(parse_fails(text, sizeof(text) - 1, &err), err, ERR_CONFIG, "line 3: NUL byte");
}

static void test_line_of_64_kib_is_accepted_longer_is_not(void)
{
    size_t max = INI_MAX_LINE_LEN;
    char *text = xmalloc(max + 16);
    struct buf out;
    struct error err = ERROR_INIT;

    /* "[g]\n" then "a=" + value, exactly max bytes of line, then "\r\n". */
    memcpy(text, "[g]\na=", 6);
    memset(text + 6, 'v', max - 2);
    memcpy(text + 4 + max, "\r\n", 2);
    buf_init(&out, BUF_NO_CAP);
    CHECK_OK(ini_parse_events(NULL, text, 4 + max + 2, record, &out, unit_err()));
    buf_release(&out);
    /* One byte more, with and without a newline after it. */
    text[4 + max] = 'v';
    text[4 + max + 1] = '\n';
    CHECK_ERR(parse_fails(text, 4 + max + 2, &err), err, ERR_CONFIG,
              "line 2: line is longer than 65536 bytes");
    CHECK_ERR(parse_fails(text, 4 + max + 1, &err), err, ERR_CONFIG,
              "line 2: line is longer than 65536 bytes");
    xfree(text);
}

static void test_huge_single_line_is_refused(void)
{
    size_t len = 64u * 1024u * 1024u;
    char *text = xmalloc(len);
    struct error err = ERROR_INIT;

    memset(text, ';', len);
    CHECK_ERR(parse_fails(text, len, &err), err, ERR_CONFIG, "line 1: line is longer");
    xfree(text);
}

static void test_origin_prefixes_errors(void)
{
    struct error err = ERROR_INIT;
    struct buf out;
    static const char text[] = "[g]\n\nbroken\n";

    buf_init(&out, BUF_NO_CAP);
    CHECK_ERR(ini_parse_events("/etc/permafrost/permafrost.conf", text, sizeof(text) - 1, record,
                               &out, &err),
              err, ERR_CONFIG, "/etc/permafrost/permafrost.conf:3: missing '='");
    buf_release(&out);
}

static void test_errors_do_not_echo_values(void)
{
    struct error err = ERROR_INIT;
    static const char unterminated[] = "[g]\npassword = \"hunter2\n";
    static const char escape[] = "[g]\npassword = \"hun\\ter2\"\n";
    static const char trailing[] = "[g]\npassword = \"hunter2\" x\n";
    static const char noeq[] = "[g]\nhunter2\n";

    CHECK(parse_fails(unterminated, sizeof(unterminated) - 1, &err) < 0);
    CHECK(!strstr(err.msg, "hunter"));
    CHECK(parse_fails(escape, sizeof(escape) - 1, &err) < 0);
    CHECK(!strstr(err.msg, "hun"));
    CHECK(parse_fails(trailing, sizeof(trailing) - 1, &err) < 0);
    CHECK(!strstr(err.msg, "hunter"));
    CHECK(parse_fails(noeq, sizeof(noeq) - 1, &err) < 0);
    CHECK(!strstr(err.msg, "hunter"));
}

struct stop_ctx {
    int calls;
};

static int stop_at_second(const struct ini_event *ev, void *ctx, struct error *err)
{
    struct stop_ctx *s = ctx;

    s->calls++;
    if (s->calls == 2)
        return error_set(err, ERR_CONFIG, "handler refused '%s' on line %d", ev->key, ev->line);
    return 0;
}

static void test_handler_error_stops_the_parse_and_is_kept(void)
{
    static const char text[] = "[g]\na = 1\nb = 2\n";
    struct stop_ctx s = {0};
    struct error err = ERROR_INIT;

    CHECK_ERR(ini_parse_events("f", text, sizeof(text) - 1, stop_at_second, &s, &err), err,
              ERR_CONFIG, "handler refused 'a' on line 2");
    CHECK_INT_EQ(s.calls, 2);
}

static void test_doc_groups_entries_by_section(void)
{
    static const char text[] = "[global]\na = 1\n[store \"x\"]\n[job \"y\"]\nb = 2\nc = 3\n";
    struct ini_doc doc = INI_DOC_INIT;

    CHECK_OK(ini_parse("f", text, sizeof(text) - 1, &doc, unit_err()));
    CHECK_INT_EQ(doc.section_count, 3);
    CHECK_INT_EQ(doc.entry_count, 3);
    CHECK_STR_EQ(doc.sections[0].name, "global");
    CHECK(doc.sections[0].subsection == NULL);
    CHECK_INT_EQ(doc.sections[0].entry_count, 1);
    CHECK_STR_EQ(doc.sections[1].subsection, "x");
    CHECK_INT_EQ(doc.sections[1].line, 3);
    CHECK_INT_EQ(doc.sections[1].entry_count, 0);
    CHECK_INT_EQ(doc.sections[2].first_entry, 1);
    CHECK_INT_EQ(doc.sections[2].entry_count, 2);
    CHECK_STR_EQ(doc.entries[2].key, "c");
    CHECK_STR_EQ(doc.entries[2].value, "3");
    CHECK_INT_EQ(doc.entries[2].line, 6);
    CHECK_INT_EQ(doc.entries[2].section, 2);
    ini_doc_release(&doc);
    CHECK(doc.sections == NULL && doc.section_count == 0 && doc.entry_count == 0);
}

static void test_doc_is_empty_after_an_error(void)
{
    static const char text[] = "[g]\na = 1\n[h]\nbroken\n";
    struct ini_doc doc = INI_DOC_INIT;
    struct error err = ERROR_INIT;

    CHECK_ERR(ini_parse(NULL, text, sizeof(text) - 1, &doc, &err), err, ERR_CONFIG,
              "line 4: missing '='");
    CHECK(doc.sections == NULL && doc.entries == NULL);
    CHECK_INT_EQ(doc.section_count, 0);
}

static void test_many_lines_parse_in_linear_time(void)
{
    /* 200,000 sections and 400,000 keys (about 8 MB): a quadratic step would take minutes. */
    struct buf text;
    struct ini_doc doc = INI_DOC_INIT;

    buf_init(&text, BUF_NO_CAP);
    for (int i = 0; i < 200000; i++)
        buf_addf(&text, "[store \"s%d\"]\ntype = local\npath = /b/%d\n", i, i);
    CHECK_OK(ini_parse(NULL, text.data, text.len, &doc, unit_err()));
    CHECK_INT_EQ(doc.section_count, 200000);
    CHECK_INT_EQ(doc.entry_count, 400000);
    CHECK_STR_EQ(doc.entries[399999].value, "/b/199999");
    ini_doc_release(&doc);
    buf_release(&text);
}

/* Writes key = value, parses it back, and checks the value survived. */
static void check_value_round_trip(const char *value)
{
    struct buf text;
    struct ini_doc doc = INI_DOC_INIT;

    buf_init(&text, BUF_NO_CAP);
    ini_write_section(&text, "g", NULL);
    ini_write_entry(&text, "k", value);
    CHECK_OK(ini_parse(NULL, text.data, text.len, &doc, unit_err()));
    CHECK_INT_EQ(doc.entry_count, 1);
    CHECK_STR_EQ(doc.entries[0].value, value);
    ini_doc_release(&doc);
    buf_release(&text);
}

static void test_written_values_read_back_unchanged(void)
{
    static const char *const values[] = {
        "",   "plain",  "a;b",   "a ;b",  "a #b", " lead", "trail ", "\"quoted\"", ";x", "#x",
        "\\", "a\\\"b", "tab\t", "cr\rx", "x\r",  "\r",    "=",      "a = b",      "\"", "a\t;b",
    };

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        check_value_round_trip(values[i]);
}

static void test_write_entry_leaves_plain_values_bare(void)
{
    struct buf out;

    buf_init(&out, BUF_NO_CAP);
    ini_write_entry(&out, "database", "host=db dbname=mastodon_production");
    ini_write_entry(&out, "x", "a ; b");
    CHECK_STR_EQ(out.data, "database = host=db dbname=mastodon_production\nx = \"a ; b\"\n");
    buf_release(&out);
}

static void test_written_section_reads_back_unchanged(void)
{
    struct buf text;
    struct ini_doc doc = INI_DOC_INIT;

    buf_init(&text, BUF_NO_CAP);
    ini_write_section(&text, "store", "we\"ird\\name");
    ini_write_section(&text, "global", NULL);
    CHECK_STR_EQ(text.data, "[store \"we\\\"ird\\\\name\"]\n[global]\n");
    CHECK_OK(ini_parse(NULL, text.data, text.len, &doc, unit_err()));
    CHECK_STR_EQ(doc.sections[0].subsection, "we\"ird\\name");
    CHECK(doc.sections[1].subsection == NULL);
    ini_doc_release(&doc);
    buf_release(&text);
}

const struct unit_test ini_tests[] = {
    {"test_plain_and_quoted_sections", test_plain_and_quoted_sections},
    {"test_section_and_key_are_lowercased_subsection_keeps_case",
     test_section_and_key_are_lowercased_subsection_keeps_case},
    {"test_subsection_unescapes_quote_and_backslash",
     test_subsection_unescapes_quote_and_backslash},
    {"test_header_allows_blanks_and_comment", test_header_allows_blanks_and_comment},
    {"test_empty_subsection_is_kept", test_empty_subsection_is_kept},
    {"test_keys_and_values_are_trimmed", test_keys_and_values_are_trimmed},
    {"test_comment_lines_and_blank_lines_are_skipped",
     test_comment_lines_and_blank_lines_are_skipped},
    {"test_inline_comment_needs_a_blank_before_it", test_inline_comment_needs_a_blank_before_it},
    {"test_comment_right_after_equals_gives_empty_value",
     test_comment_right_after_equals_gives_empty_value},
    {"test_quoted_value_keeps_blanks_and_comment_chars",
     test_quoted_value_keeps_blanks_and_comment_chars},
    {"test_quoted_value_unescapes_and_allows_trailing_comment",
     test_quoted_value_unescapes_and_allows_trailing_comment},
    {"test_quote_inside_unquoted_value_is_literal", test_quote_inside_unquoted_value_is_literal},
    {"test_equals_in_value_is_kept", test_equals_in_value_is_kept},
    {"test_crlf_line_endings", test_crlf_line_endings},
    {"test_utf8_bom_is_skipped", test_utf8_bom_is_skipped},
    {"test_last_line_without_newline", test_last_line_without_newline},
    {"test_empty_input_has_no_events", test_empty_input_has_no_events},
    {"test_non_ascii_value_bytes_pass_through", test_non_ascii_value_bytes_pass_through},
    {"test_unterminated_quote_in_value_reports_line",
     test_unterminated_quote_in_value_reports_line},
    {"test_unterminated_quote_in_header", test_unterminated_quote_in_header},
    {"test_missing_equals", test_missing_equals},
    {"test_key_outside_a_section", test_key_outside_a_section},
    {"test_empty_key", test_empty_key},
    {"test_invalid_key_characters", test_invalid_key_characters},
    {"test_invalid_section_headers", test_invalid_section_headers},
    {"test_invalid_escapes", test_invalid_escapes},
    {"test_text_after_closing_quote", test_text_after_closing_quote},
    {"test_nul_byte_is_rejected_with_its_line", test_nul_byte_is_rejected_with_its_line},
    {"test_line_of_64_kib_is_accepted_longer_is_not",
     test_line_of_64_kib_is_accepted_longer_is_not},
    {"test_huge_single_line_is_refused", test_huge_single_line_is_refused},
    {"test_origin_prefixes_errors", test_origin_prefixes_errors},
    {"test_errors_do_not_echo_values", test_errors_do_not_echo_values},
    {"test_handler_error_stops_the_parse_and_is_kept",
     test_handler_error_stops_the_parse_and_is_kept},
    {"test_doc_groups_entries_by_section", test_doc_groups_entries_by_section},
    {"test_doc_is_empty_after_an_error", test_doc_is_empty_after_an_error},
    {"test_many_lines_parse_in_linear_time", test_many_lines_parse_in_linear_time},
    {"test_written_values_read_back_unchanged", test_written_values_read_back_unchanged},
    {"test_write_entry_leaves_plain_values_bare", test_write_entry_leaves_plain_values_bare},
    {"test_written_section_reads_back_unchanged", test_written_section_reads_back_unchanged},
    {NULL, NULL},
};
