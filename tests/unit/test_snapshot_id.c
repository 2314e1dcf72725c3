#include <string.h>

#include "core/snapshot_id.h"
#include "unit.h"

/* 2026-11-24T03:15:00Z */
#define T_2026_11_24_031500 ((time_t)1795490100)

static void test_snapshot_id_make_formats_utc_time_and_base32_suffix(void)
{
    char id[SNAPSHOT_ID_LEN];

    /* 0x0, then 31 in every 5-bit group, then the groups 1 2 3 4 most significant first. */
    snapshot_id_make(T_2026_11_24_031500, 0, id);
    CHECK_STR_EQ(id, "20261124T031500Z-aaaa");
    snapshot_id_make(T_2026_11_24_031500, 0xFFFFFu, id);
    CHECK_STR_EQ(id, "20261124T031500Z-7777");
    snapshot_id_make(T_2026_11_24_031500, (1u << 15) | (2u << 10) | (3u << 5) | 4u, id);
    CHECK_STR_EQ(id, "20261124T031500Z-bcde");
    CHECK_INT_EQ(strlen(id), SNAPSHOT_ID_LEN - 1);
}

static void test_snapshot_id_make_uses_only_low_20_bits(void)
{
    char a[SNAPSHOT_ID_LEN];
    char b[SNAPSHOT_ID_LEN];

    snapshot_id_make(T_2026_11_24_031500, 0x12345u, a);
    snapshot_id_make(T_2026_11_24_031500, 0xFFF12345u, b);
    CHECK_STR_EQ(a, b);
}

static void test_snapshot_id_new_is_now_and_parses(void)
{
    char id[SNAPSHOT_ID_LEN];
    time_t before = time(NULL);
    time_t t = 0;

    snapshot_id_new(id);
    CHECK(snapshot_id_parse(id, &t));
    CHECK(t >= before && t <= time(NULL));
}

static void test_snapshot_id_new_suffixes_differ(void)
{
    char id[SNAPSHOT_ID_LEN];
    char suffixes[64][5];
    int distinct = 0;

    /* 20 random bits: 64 draws all colliding with one another is impossible in practice. */
    for (int i = 0; i < 64; i++) {
        snapshot_id_new(id);
        memcpy(suffixes[i], id + 17, 5);
    }
    for (int i = 1; i < 64; i++)
        if (strcmp(suffixes[i], suffixes[0]) != 0)
            distinct++;
    CHECK(distinct > 0);
}

static void test_snapshot_id_round_trips_through_parse(void)
{
    static const time_t times[] = {
        0,          /* 1970-01-01T00:00:00Z */
        951782400,  /* 2000-02-29T00:00:00Z, leap day */
        1795490100, /* 2026-11-24T03:15:00Z */
        1830297599, /* 2027-12-31T23:59:59Z */
        4102444800, /* 2100-01-01T00:00:00Z */
    };
    char id[SNAPSHOT_ID_LEN];

    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        time_t t = -1;

        snapshot_id_make(times[i], (uint32_t)(i * 7919u), id);
        CHECK(snapshot_id_parse(id, &t));
        CHECK_INT_EQ(t, times[i]);
    }
}

static void test_snapshot_id_parse_accepts_null_time_out(void)
{
    CHECK(snapshot_id_parse("20261124T031500Z-k3f9", NULL));
}

static void test_snapshot_id_order_is_time_order_across_boundaries(void)
{
    /* Each pair: one second before and at a second, minute, hour, day, month and year boundary. */
    static const time_t pairs[][2] = {
        {1795490099, 1795490100}, /* 03:14:59 / 03:15:00 */
        {1795478399, 1795478400}, /* 2026-11-23T23:59:59 / 2026-11-24T00:00:00 */
        {1798761599, 1798761600}, /* 2026-12-31T23:59:59 / 2027-01-01T00:00:00 */
        {946684799, 946684800},   /* 1999-12-31T23:59:59 / 2000-01-01T00:00:00 */
        {1000000000, 1000000009}, /* 9 s later: digits that differ in length as numbers */
        {1799999999, 1800000000},
    };
    char a[SNAPSHOT_ID_LEN];
    char b[SNAPSHOT_ID_LEN];

    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        /* The earlier one gets the largest suffix: time must still win. */
        snapshot_id_make(pairs[i][0], 0xFFFFFu, a);
        snapshot_id_make(pairs[i][1], 0, b);
        CHECK_INT_EQ(snapshot_id_cmp(a, b), -1);
        CHECK_INT_EQ(snapshot_id_cmp(b, a), 1);
        CHECK(strcmp(a, b) < 0);
    }
}

static void test_snapshot_id_cmp_breaks_ties_by_suffix(void)
{
    CHECK_INT_EQ(snapshot_id_cmp("20261124T031500Z-aaaa", "20261124T031500Z-aaab"), -1);
    CHECK_INT_EQ(snapshot_id_cmp("20261124T031500Z-7777", "20261124T031500Z-zzzz"), -1);
    CHECK_INT_EQ(snapshot_id_cmp("20261124T031500Z-k3f9", "20261124T031500Z-k3f9"), 0);
}

static void test_snapshot_id_parse_rejects_wrong_length(void)
{
    CHECK(!snapshot_id_parse("", NULL));
    CHECK(!snapshot_id_parse(NULL, NULL));
    CHECK(!snapshot_id_parse("20261124T031500Z-k3f", NULL));
    CHECK(!snapshot_id_parse("20261124T031500Z-k3f99", NULL));
    CHECK(!snapshot_id_parse("20261124T031500Z", NULL));
    CHECK(!snapshot_id_parse("020261124T031500Z-k3f9", NULL));
    CHECK(!snapshot_id_parse("20261124T031500Z-k3f9 ", NULL));
}

static void test_snapshot_id_parse_rejects_wrong_characters(void)
{
    CHECK(!snapshot_id_parse("20261124t031500Z-k3f9", NULL));
    CHECK(!snapshot_id_parse("20261124T031500z-k3f9", NULL));
    CHECK(!snapshot_id_parse("20261124T031500Z_k3f9", NULL));
    CHECK(!snapshot_id_parse("20261124 031500Z-k3f9", NULL));
    CHECK(!snapshot_id_parse("2026112AT031500Z-k3f9", NULL));
    CHECK(!snapshot_id_parse("2026-1124T31500Z-k3f9", NULL));
    CHECK(!snapshot_id_parse("+2026124T031500Z-k3f9", NULL));
    /* Uppercase, punctuation and non-ASCII are refused in the suffix. */
    CHECK(!snapshot_id_parse("20261124T031500Z-K3F9", NULL));
    CHECK(!snapshot_id_parse("20261124T031500Z-k3F9", NULL));
    CHECK(!snapshot_id_parse("20261124T031500Z-k3f/", NULL));
    CHECK(!snapshot_id_parse("20261124T031500Z-k3f\xc3", NULL));
    CHECK(!snapshot_id_parse("20261124T031500Z-k3f-", NULL));
    CHECK(!snapshot_id_parse("20261124T031500Z-k.f9", NULL));
}

static void test_snapshot_id_parse_accepts_any_lowercase_alnum_suffix(void)
{
    /* We generate from a-z2-7 only, but 0, 1, 8 and 9 are as safe (the documented example id,
     * k3f9, has a 9). */
    CHECK(snapshot_id_parse("20261124T031500Z-k3f9", NULL));
    CHECK(snapshot_id_parse("20261124T031500Z-0189", NULL));
    CHECK(snapshot_id_parse("20261124T031500Z-zzzz", NULL));
}

static void test_snapshot_id_parse_rejects_impossible_dates(void)
{
    CHECK(!snapshot_id_parse("20261332T031500Z-k3f9", NULL)); /* month 13, day 32 */
    CHECK(!snapshot_id_parse("20261301T031500Z-k3f9", NULL));
    CHECK(!snapshot_id_parse("20260001T031500Z-k3f9", NULL));
    CHECK(!snapshot_id_parse("20261100T031500Z-k3f9", NULL));
    CHECK(!snapshot_id_parse("20261131T031500Z-k3f9", NULL)); /* November has 30 days */
    CHECK(!snapshot_id_parse("20260229T031500Z-k3f9", NULL)); /* 2026 is not a leap year */
    CHECK(!snapshot_id_parse("21000229T031500Z-k3f9", NULL)); /* nor is 2100 */
    CHECK(!snapshot_id_parse("20261124T241500Z-k3f9", NULL));
    CHECK(!snapshot_id_parse("20261124T036000Z-k3f9", NULL));
    CHECK(!snapshot_id_parse("20261124T235960Z-k3f9", NULL)); /* no leap seconds */
    CHECK(snapshot_id_parse("20280229T031500Z-k3f9", NULL));  /* 2028 is */
    CHECK(snapshot_id_parse("20000229T000000Z-aaaa", NULL));  /* and 2000 is */
}

const struct unit_test snapshot_id_tests[] = {
    {"test_snapshot_id_make_formats_utc_time_and_base32_suffix",
     test_snapshot_id_make_formats_utc_time_and_base32_suffix},
    {"test_snapshot_id_make_uses_only_low_20_bits", test_snapshot_id_make_uses_only_low_20_bits},
    {"test_snapshot_id_new_is_now_and_parses", test_snapshot_id_new_is_now_and_parses},
    {"test_snapshot_id_new_suffixes_differ", test_snapshot_id_new_suffixes_differ},
    {"test_snapshot_id_round_trips_through_parse", test_snapshot_id_round_trips_through_parse},
    {"test_snapshot_id_parse_accepts_null_time_out", test_snapshot_id_parse_accepts_null_time_out},
    {"test_snapshot_id_order_is_time_order_across_boundaries",
     test_snapshot_id_order_is_time_order_across_boundaries},
    {"test_snapshot_id_cmp_breaks_ties_by_suffix", test_snapshot_id_cmp_breaks_ties_by_suffix},
    {"test_snapshot_id_parse_rejects_wrong_length", test_snapshot_id_parse_rejects_wrong_length},
    {"test_snapshot_id_parse_rejects_wrong_characters",
     test_snapshot_id_parse_rejects_wrong_characters},
    {"test_snapshot_id_parse_accepts_any_lowercase_alnum_suffix",
     test_snapshot_id_parse_accepts_any_lowercase_alnum_suffix},
    {"test_snapshot_id_parse_rejects_impossible_dates",
     test_snapshot_id_parse_rejects_impossible_dates},
    {NULL, NULL},
};
