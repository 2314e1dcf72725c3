/* Building blocks of the age format (issue 6) that we write ourselves: Bech32 (util/bech32.c) and
 * HKDF-SHA-256 (io/digest.c). Test vectors: BIP-173 ("Test vectors": valid and invalid Bech32
 * strings, https://github.com/bitcoin/bips/blob/master/bip-0173.mediawiki) and RFC 5869 appendix A
 * (test cases 1-3), copied as data. */
#include <stdint.h>
#include <string.h>

#include "io/digest.h"
#include "unit.h"
#include "util/bech32.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/xalloc.h"

static size_t hex_decode(const char *hex, unsigned char *out)
{
    size_t n = strlen(hex) / 2;

    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + (size_t)k];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        out[i] = (unsigned char)v;
    }
    return n;
}

static void test_bech32_bip173_valid_checksums(void)
{
    static const char *const valid[] = {
        "A12UEL5L",
        "a12uel5l",
        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tg"
        "s",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "11" /* then 82 times q */
        "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
        "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
        "c8247j",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        "?1ezyfcl",
    };
    char hrp[BECH32_HRP_MAX + 1];
    unsigned char words[128];
    size_t count = 0;

    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        const char *sep = strrchr(valid[i], '1');
        struct buf again;
        CHECK_OK(bech32_decode_words(valid[i], hrp, words, sizeof(words), &count, unit_err()));
        CHECK_INT_EQ(strlen(hrp), (size_t)(sep - valid[i]));
        CHECK_INT_EQ(count, strlen(sep + 1) - 6);
        /* Flipping any one data character breaks the checksum. */
        {
            char *bad = xstrdup(valid[i]);
            size_t pos = strlen(bad) - 1;
            struct error err = ERROR_INIT;
            bad[pos] = bad[pos] == 'q' || bad[pos] == 'Q' ? 'p' : 'q';
            if (bad[0] == 'A')
                bad[pos] = bad[pos] == 'Q' ? 'P' : 'Q';
            CHECK_ERR(bech32_decode_words(bad, hrp, words, sizeof(words), &count, &err), err,
                      ERR_INTEGRITY, "checksum");
            xfree(bad);
        }
        /* Vectors whose groups make whole bytes encode back to themselves (lowercase). */
        {
            unsigned char data[128];
            size_t len = 0;
            struct error err = ERROR_INIT;
            if (bech32_decode(valid[i], hrp, data, sizeof(data), &len, &err) == 0) {
                char low[128];
                size_t n = strlen(valid[i]);
                for (size_t k = 0; k <= n; k++)
                    low[k] =
                        (char)(valid[i][k] >= 'A' && valid[i][k] <= 'Z' ? valid[i][k] - 'A' + 'a'
                                                                        : valid[i][k]);
                buf_init(&again, BUF_NO_CAP);
                bech32_encode(hrp, data, len, false, &again);
                CHECK_STR_EQ(again.data, low);
                buf_release(&again);
            }
        }
    }
}

static void test_bech32_bip173_invalid_strings(void)
{
    static const struct {
        const char *s;
        const char *why;
    } invalid[] = {
        {"\x20"
         "1nwldj5",
         "outside the printable"},
        {"\x7f"
         "1axkwrx",
         "outside the printable"},
        {"\x80"
         "1eym55h",
         "outside the printable"},
        {"pzry9x0s0muk", "no '1' separator"},
        {"1pzry9x0s0muk", "empty human-readable"},
        {"x1b4n0q5v", "not in the alphabet"},
        {"li1dgmt3", "shorter than the checksum"},
        {"de1lg7wt\xff", "outside the printable"},
        {"A1G7SGD8", "checksum"},
        {"10a06t8", "empty human-readable"},
        {"1qzzfhee", "empty human-readable"},
        {"a1Qpzry9x8gf2tvdw0s3jn54khce6mua7l", "mixes upper and lower case"},
    };
    char hrp[BECH32_HRP_MAX + 1];
    unsigned char words[128];
    size_t count = 0;
    struct error err = ERROR_INIT;

    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        CHECK_ERR(bech32_decode_words(invalid[i].s, hrp, words, sizeof(words), &count, &err), err,
                  ERR_INTEGRITY, invalid[i].why);
}

static void test_bech32_round_trips_age_shaped_keys(void)
{
    unsigned char key[32];
    unsigned char back[64];
    char hrp[BECH32_HRP_MAX + 1];
    size_t len = 0;
    struct buf s;
    struct error err = ERROR_INIT;

    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char)(i * 37 + 11);
    buf_init(&s, BUF_NO_CAP);
    bech32_encode("age", key, sizeof(key), false, &s);
    CHECK_INT_EQ(s.len, 62); /* the length of every age X25519 recipient */
    /* The same bytes through BIP-173's reference code (Python, segwit_addr.py's bech32_encode). */
    CHECK_STR_EQ(s.data, "age1pvc9275lcn5suv6c0k3v0mq3xedcpfw2au2rjh5r4rxly9euvxrqkg9q2z");
    CHECK(strncmp(s.data, "age1", 4) == 0);
    CHECK_OK(bech32_decode(s.data, hrp, back, sizeof(back), &len, unit_err()));
    CHECK_STR_EQ(hrp, "age");
    CHECK_INT_EQ(len, sizeof(key));
    CHECK(memcmp(back, key, sizeof(key)) == 0);
    /* A capacity too small for the data is an error, not an overflow. */
    CHECK_ERR(bech32_decode(s.data, hrp, back, 16, &len, &err), err, ERR_INTEGRITY,
              "more than 16 bytes");
    buf_reset(&s);
    bech32_encode("AGE-SECRET-KEY-", key, sizeof(key), true, &s);
    CHECK_INT_EQ(s.len, 74);
    CHECK(strncmp(s.data, "AGE-SECRET-KEY-1", 16) == 0);
    CHECK_OK(bech32_decode(s.data, hrp, back, sizeof(back), &len, unit_err()));
    CHECK_STR_EQ(hrp, "age-secret-key-");
    CHECK(memcmp(back, key, sizeof(key)) == 0);
    buf_release(&s);
}

static void test_bech32_rejects_bad_padding(void)
{
    /* Checksums computed with BIP-173's reference code: groups [31, 28] are the byte 0xff with two
     * zero padding bits; [31, 31] leave two non-zero padding bits; [0, 0, 0] leave 7 bits, a whole
     * group of padding. The checksums are right, so only the padding can be wrong. */
    char hrp[BECH32_HRP_MAX + 1];
    unsigned char back[4];
    size_t len = 0;
    struct error err = ERROR_INIT;
    struct buf s;
    unsigned char ff = 0xff;

    CHECK_OK(bech32_decode("age1luyvfgxs", hrp, back, sizeof(back), &len, unit_err()));
    CHECK_INT_EQ(len, 1);
    CHECK_INT_EQ(back[0], 0xff);
    buf_init(&s, BUF_NO_CAP);
    bech32_encode("age", &ff, 1, false, &s);
    CHECK_STR_EQ(s.data, "age1luyvfgxs");
    buf_release(&s);
    CHECK_ERR(bech32_decode("age1ll2lu7g0", hrp, back, sizeof(back), &len, &err), err,
              ERR_INTEGRITY, "bad padding");
    CHECK_ERR(bech32_decode("age1qqqyst3gn", hrp, back, sizeof(back), &len, &err), err,
              ERR_INTEGRITY, "bad padding");
}

static void test_hkdf_sha256_rfc5869_vectors(void)
{
    static const struct {
        const char *ikm, *salt, *info, *okm;
    } v[] = {
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
         "f0f1f2f3f4f5f6f7f8f9",
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
        {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
         "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
         "404142434445464748494a4b4c4d4e4f",
         "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
         "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
         "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
         "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
         "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
         "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
         "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
         "cc30c58179ec3e87c14c01d5c1f3434f1d87"},
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        unsigned char ikm[128], salt[128], info[128], okm[128], got[128];
        size_t ikm_len = hex_decode(v[i].ikm, ikm);
        size_t salt_len = hex_decode(v[i].salt, salt);
        size_t info_len = hex_decode(v[i].info, info);
        size_t okm_len = hex_decode(v[i].okm, okm);
        digest_hkdf_sha256(salt_len ? salt : NULL, salt_len, ikm, ikm_len, info, info_len, got,
                           okm_len);
        CHECK(memcmp(got, okm, okm_len) == 0);
        /* A shorter output is a prefix of the longer one. */
        digest_hkdf_sha256(salt_len ? salt : NULL, salt_len, ikm, ikm_len, info, info_len, got,
                           okm_len / 2);
        CHECK(memcmp(got, okm, okm_len / 2) == 0);
    }
}

const struct unit_test crypto_tests[] = {
    {"test_bech32_bip173_valid_checksums", test_bech32_bip173_valid_checksums},
    {"test_bech32_bip173_invalid_strings", test_bech32_bip173_invalid_strings},
    {"test_bech32_round_trips_age_shaped_keys", test_bech32_round_trips_age_shaped_keys},
    {"test_bech32_rejects_bad_padding", test_bech32_rejects_bad_padding},
    {"test_hkdf_sha256_rfc5869_vectors", test_hkdf_sha256_rfc5869_vectors},
    {NULL, NULL},
};
