/* Stream filters: zstd against the real `zstd` command, SHA-256 against FIPS 180-2 vectors, and the
 * two chained the way the backup pipeline chains them. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/filter.h"
#include "unit.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/xalloc.h"

#define KIB ((size_t)1024)
#define MIB ((size_t)1024 * 1024)

/* Chunk sizes fed to filters, cycled: odd sizes, single bytes, and chunks larger than zstd's
 * blocks. */
static const size_t odd_chunks[] = {1, 7, 4093, 65537, 13, 300001, 2, 131071};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static char *make_random(size_t len)
{
    char *p = xmalloc(len ? len : 1);

    for (size_t i = 0; i < len; i++)
        p[i] = (char)(rng_next() >> 56);
    return p;
}

/* Text-like bytes that compress several times over, like a SQL dump. */
static char *make_compressible(size_t len)
{
    static const char *const words[] = {"INSERT",     "INTO",
                                        "statuses",   "VALUES",
                                        "(",          ")",
                                        ",",          "'hello'",
                                        "NULL",       "true",
                                        "2026-11-24", "\n",
                                        "accounts",   "https://example.social/@alice",
                                        "42",         "COPY"};
    char *p = xmalloc(len ? len : 1);
    size_t i = 0;

    while (i < len) {
        uint64_t r = rng_next();
        const char *w = words[r % (sizeof(words) / sizeof(words[0]))];
        char num[24];
        size_t n;

        if ((r >> 8) % 5 == 0) {
            (void)snprintf(num, sizeof(num), "%u ", (unsigned)((r >> 16) % 100000));
            w = num;
        }
        n = strlen(w);
        for (size_t k = 0; k < n && i < len; k++)
            p[i++] = w[k];
        if (i < len)
            p[i++] = ' ';
    }
    return p;
}

/* Feeds data through f in chunks cycling through odd_chunks, then finishes. */
static int filter_run(struct filter *f, const void *data, size_t len, struct buf *out,
                      struct error *err)
{
    const char *p = data;
    size_t pos = 0;
    size_t k = 0;

    while (pos < len) {
        size_t n = odd_chunks[k++ % (sizeof(odd_chunks) / sizeof(odd_chunks[0]))];
        if (n > len - pos)
            n = len - pos;
        if (filter_process(f, p + pos, n, out, err) < 0)
            return -1;
        pos += n;
    }
    return filter_finish(f, out, err);
}

static void zstd_compress_buf(const void *data, size_t len, int level, int threads, struct buf *out)
{
    struct filter *f = zstd_compress_new(level, threads);
    size_t before = out->len;

    CHECK_OK(filter_run(f, data, len, out, unit_err()));
    CHECK_INT_EQ(f->bytes_in, len);
    CHECK_INT_EQ(f->bytes_out, out->len - before);
    filter_free(f);
}

static int zstd_decompress_buf(const void *data, size_t len, struct buf *out, struct error *err)
{
    struct filter *f = zstd_decompress_new();
    int r = filter_run(f, data, len, out, err);

    filter_free(f);
    return r;
}

static void check_round_trip(const char *data, size_t len, int level, int threads)
{
    struct buf z;
    struct buf plain;

    buf_init(&z, BUF_NO_CAP);
    buf_init(&plain, BUF_NO_CAP);
    zstd_compress_buf(data, len, level, threads, &z);
    CHECK(z.len > 0); /* even empty input makes a frame */
    CHECK_OK(zstd_decompress_buf(z.data, z.len, &plain, unit_err()));
    CHECK_INT_EQ(plain.len, len);
    CHECK(len == 0 || memcmp(plain.data, data, len) == 0);
    buf_release(&z);
    buf_release(&plain);
}

static char *tmp_file(const char *name)
{
    return xasprintf("%s/%s", unit_tmp_dir(), name);
}

static void write_file(const char *path, const void *data, size_t len)
{
    CHECK_OK(fs_write_atomic(path, data, len, 0600, unit_err()));
}

static void test_zstd_round_trip_small_and_block_edge_sizes(void)
{
    static const size_t sizes[] = {0, 1, 64 * KIB - 1, 64 * KIB, 64 * KIB + 1};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *text = make_compressible(sizes[i]);
        char *noise = make_random(sizes[i]);

        check_round_trip(text, sizes[i], 3, 1);
        check_round_trip(noise, sizes[i], 3, 1);
        check_round_trip(text, sizes[i], 1, 0);
        check_round_trip(noise, sizes[i], 19, 2);
        xfree(text);
        xfree(noise);
    }
}

static void test_zstd_round_trip_mebibytes_compressible(void)
{
    size_t len = 5 * MIB + 3;
    char *text = make_compressible(len);
    struct buf z;

    buf_init(&z, BUF_NO_CAP);
    zstd_compress_buf(text, len, 3, 0, &z);
    CHECK(z.len < len / 3);
    buf_release(&z);
    check_round_trip(text, len, 3, 0);
    check_round_trip(text, len, 3, 1);
    check_round_trip(text, len, 1, 2);
    xfree(text);
}

static void test_zstd_round_trip_mebibytes_random(void)
{
    size_t len = 3 * MIB + 11;
    char *noise = make_random(len);

    check_round_trip(noise, len, 3, 0);
    check_round_trip(noise, len, 1, 1);
    xfree(noise);
}

/* Our output must restore with stock tools alone (DESIGN.md: nothing locked in). */
static void test_zstd_output_is_verified_and_decoded_by_zstd_command(void)
{
    static const size_t sizes[] = {0, 1, 3 * MIB + 5};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *text = make_compressible(sizes[i]);
        char *zst = tmp_file("out.zst");
        char *plain = tmp_file("out.plain");
        const char *test_argv[] = {"zstd", "-q", "-t", zst, NULL};
        const char *decode_argv[] = {"zstd", "-q", "-d", "-c", zst, NULL};
        struct buf z;
        struct buf back;

        buf_init(&z, BUF_NO_CAP);
        buf_init(&back, BUF_NO_CAP);
        zstd_compress_buf(text, sizes[i], 3, 0, &z);
        write_file(zst, z.data, z.len);
        CHECK_INT_EQ(unit_run_cmd(test_argv, NULL, NULL), 0);
        CHECK_INT_EQ(unit_run_cmd(decode_argv, NULL, plain), 0);
        CHECK_OK(fs_read_file(plain, &back, unit_err()));
        CHECK_INT_EQ(back.len, sizes[i]);
        CHECK(sizes[i] == 0 || memcmp(back.data, text, sizes[i]) == 0);
        buf_release(&z);
        buf_release(&back);
        xfree(zst);
        xfree(plain);
        xfree(text);
    }
}

/* Two frames written by the zstd command, concatenated (as `cat a.zst b.zst` would). */
static void test_zstd_decodes_concatenated_frames_of_zstd_command(void)
{
    size_t len_a = 300 * KIB + 1;
    size_t len_b = 70 * KIB;
    char *a = make_compressible(len_a);
    char *b = make_random(len_b);
    char *path_a = tmp_file("a");
    char *path_b = tmp_file("b");
    char *zst_a = tmp_file("a.zst");
    char *zst_b = tmp_file("b.zst");
    const char *argv_a[] = {"zstd", "-q", "-c", "-19", path_a, NULL};
    const char *argv_b[] = {"zstd", "-q", "-c", "--no-check", path_b, NULL};
    struct buf both;
    struct buf out;

    buf_init(&both, BUF_NO_CAP);
    buf_init(&out, BUF_NO_CAP);
    write_file(path_a, a, len_a);
    write_file(path_b, b, len_b);
    CHECK_INT_EQ(unit_run_cmd(argv_a, NULL, zst_a), 0);
    CHECK_INT_EQ(unit_run_cmd(argv_b, NULL, zst_b), 0);
    CHECK_OK(fs_read_file(zst_a, &both, unit_err()));
    CHECK_OK(fs_read_file(zst_b, &both, unit_err()));
    CHECK_OK(zstd_decompress_buf(both.data, both.len, &out, unit_err()));
    CHECK_INT_EQ(out.len, len_a + len_b);
    CHECK(memcmp(out.data, a, len_a) == 0);
    CHECK(memcmp(out.data + len_a, b, len_b) == 0);
    buf_release(&both);
    buf_release(&out);
    xfree(a);
    xfree(b);
    xfree(path_a);
    xfree(path_b);
    xfree(zst_a);
    xfree(zst_b);
}

static void test_zstd_decodes_concatenated_frames_of_filter(void)
{
    char *a = make_compressible(100 * KIB);
    struct buf z;
    struct buf out;

    buf_init(&z, BUF_NO_CAP);
    buf_init(&out, BUF_NO_CAP);
    zstd_compress_buf(a, 100 * KIB, 3, 1, &z);
    zstd_compress_buf("", 0, 3, 1, &z);
    zstd_compress_buf(a, 1, 3, 1, &z);
    CHECK_OK(zstd_decompress_buf(z.data, z.len, &out, unit_err()));
    CHECK_INT_EQ(out.len, 100 * KIB + 1);
    CHECK(memcmp(out.data, a, 100 * KIB) == 0);
    CHECK_INT_EQ(out.data[100 * KIB], a[0]);
    buf_release(&z);
    buf_release(&out);
    xfree(a);
}

/* The frame header descriptor (RFC 8878 3.1.1.1.1) has Content_Checksum_flag, bit 2, set. */
static void test_zstd_frame_declares_checksum(void)
{
    struct buf z;

    buf_init(&z, BUF_NO_CAP);
    zstd_compress_buf("abc", 3, 3, 1, &z);
    CHECK(z.len > 5);
    CHECK(memcmp(z.data, "\x28\xb5\x2f\xfd", 4) == 0);
    CHECK((z.data[4] & 0x04) != 0);
    buf_release(&z);
}

/* Random bytes are stored in raw blocks, so a flipped byte in the middle is caught only by the
 * frame checksum: this proves the checksum is written and verified. */
static void test_zstd_flipped_byte_fails_integrity(void)
{
    size_t len = 200 * KIB;
    char *noise = make_random(len);
    const size_t flips[] = {len / 2, len / 3 + 17};
    struct error err = ERROR_INIT;
    struct buf z;

    buf_init(&z, BUF_NO_CAP);
    zstd_compress_buf(noise, len, 3, 1, &z);
    for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        struct buf out;

        buf_init(&out, BUF_NO_CAP);
        z.data[flips[i]] ^= 0x01;
        CHECK_ERR(zstd_decompress_buf(z.data, z.len, &out, &err), err, ERR_INTEGRITY,
                  "zstd: Restored data doesn't match checksum");
        z.data[flips[i]] ^= 0x01;
        buf_release(&out);
    }
    /* The checksum itself: the frame's last byte. */
    {
        struct buf out;

        buf_init(&out, BUF_NO_CAP);
        z.data[z.len - 1] = (char)(z.data[z.len - 1] ^ 0x40);
        CHECK_ERR(zstd_decompress_buf(z.data, z.len, &out, &err), err, ERR_INTEGRITY, "checksum");
        buf_release(&out);
    }
    buf_release(&z);
    xfree(noise);
}

static void test_zstd_truncated_input_fails_at_finish(void)
{
    size_t len = 300 * KIB;
    char *text = make_compressible(len);
    struct error err = ERROR_INIT;
    struct buf z;

    buf_init(&z, BUF_NO_CAP);
    zstd_compress_buf(text, len, 3, 1, &z);
    {
        const size_t cuts[] = {1, 4, 6, z.len / 2, z.len - 4, z.len - 1};

        for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
            struct filter *f = zstd_decompress_new();
            struct buf out;

            buf_init(&out, BUF_NO_CAP);
            CHECK_OK(filter_process(f, z.data, cuts[i], &out, unit_err()));
            CHECK_ERR(filter_finish(f, &out, &err), err, ERR_INTEGRITY, "zstd: truncated input");
            filter_free(f);
            buf_release(&out);
        }
    }
    /* A whole frame followed by the start of another is truncated too. */
    {
        size_t one = z.len;
        char head[10];
        struct buf out;

        buf_init(&out, BUF_NO_CAP);
        memcpy(head, z.data, sizeof(head));
        buf_add(&z, head, sizeof(head));
        CHECK_ERR(zstd_decompress_buf(z.data, z.len, &out, &err), err, ERR_INTEGRITY,
                  "zstd: truncated input");
        CHECK_INT_EQ(out.len, len); /* the whole first frame came out before the error */
        buf_release(&out);
        z.len = one;
    }
    buf_release(&z);
    xfree(text);
}

/* Like the zstd command: zero bytes are not a zstd stream (a compressed artifact always has a
 * frame). */
static void test_zstd_empty_input_is_truncated(void)
{
    struct error err = ERROR_INIT;
    struct buf out;

    buf_init(&out, BUF_NO_CAP);
    CHECK_ERR(zstd_decompress_buf("", 0, &out, &err), err, ERR_INTEGRITY, "zstd: truncated input");
    buf_release(&out);
}

static void test_zstd_garbage_fails_integrity_and_stays_failed(void)
{
    const char garbage[] = "this is not a zstd frame, just text";
    struct filter *f = zstd_decompress_new();
    struct error err = ERROR_INIT;
    struct buf out;

    buf_init(&out, BUF_NO_CAP);
    CHECK_ERR(filter_process(f, garbage, sizeof(garbage) - 1, &out, &err), err, ERR_INTEGRITY,
              "zstd: Unknown frame descriptor");
    CHECK_ERR(filter_process(f, "x", 1, &out, &err), err, ERR_INTEGRITY, "zstd:");
    CHECK_ERR(filter_finish(f, &out, &err), err, ERR_INTEGRITY, "zstd:");
    CHECK_INT_EQ(out.len, 0);
    filter_free(f);
    buf_release(&out);
}

/* A frame that needs a 256 MiB window (`zstd --zstd=wlog=28` from a pipe) is refused: the cap
 * holds. */
static void test_zstd_refuses_window_over_128_mib(void)
{
    char *src = tmp_file("src");
    char *zst = tmp_file("big-window.zst");
    char *data = make_random(4 * KIB);
    const char *argv[] = {"zstd", "-q", "-c", "--zstd=wlog=28", NULL};
    struct error err = ERROR_INIT;
    struct buf z;
    struct buf out;

    buf_init(&z, BUF_NO_CAP);
    buf_init(&out, BUF_NO_CAP);
    write_file(src, data, 4 * KIB);
    CHECK_INT_EQ(unit_run_cmd(argv, src, zst), 0);
    CHECK_OK(fs_read_file(zst, &z, unit_err()));
    CHECK_ERR(zstd_decompress_buf(z.data, z.len, &out, &err), err, ERR_INTEGRITY,
              "Frame requires too much memory");
    buf_release(&z);
    buf_release(&out);
    xfree(data);
    xfree(src);
    xfree(zst);
}

/* A capped output buffer bounds what a small input may expand to. */
static void test_zstd_decompress_respects_output_cap(void)
{
    size_t len = 1 * MIB;
    char *zeros = xcalloc(1, len);
    struct filter *f = zstd_decompress_new();
    struct error err = ERROR_INIT;
    struct buf z;
    struct buf out;

    buf_init(&z, BUF_NO_CAP);
    buf_init(&out, 64 * KIB);
    zstd_compress_buf(zeros, len, 3, 1, &z);
    CHECK(z.len < 1000);
    CHECK_ERR(filter_process(f, z.data, z.len, &out, &err), err, ERR_IO, "buffer cap");
    CHECK(out.len <= 64 * KIB);
    filter_free(f);
    buf_release(&z);
    buf_release(&out);
    xfree(zeros);
}

static void check_sha256(const void *data, size_t len, const char *want)
{
    struct filter *f = sha256_filter_new();
    char hex[65];
    struct buf out;

    buf_init(&out, BUF_NO_CAP);
    CHECK_OK(filter_run(f, data, len, &out, unit_err()));
    sha256_filter_hex(f, hex);
    CHECK_STR_EQ(hex, want);
    /* A pass-through: output is the input, byte for byte. */
    CHECK_INT_EQ(out.len, len);
    CHECK(len == 0 || memcmp(out.data, data, len) == 0);
    CHECK_INT_EQ(f->bytes_in, len);
    CHECK_INT_EQ(f->bytes_out, len);
    filter_free(f);
    buf_release(&out);
}

/* FIPS 180-2, appendix B (and the empty message). */
static void test_sha256_known_vectors(void)
{
    char *million_a = xmalloc(1000000);

    check_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_sha256("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    memset(million_a, 'a', 1000000);
    check_sha256(million_a, 1000000,
                 "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    xfree(million_a);
}

static void test_sha256_multi_chunk_equals_one_shot(void)
{
    size_t len = 2 * MIB + 77;
    char *noise = make_random(len);
    struct filter *chunked = sha256_filter_new();
    struct filter *whole = sha256_filter_new();
    char hex_chunked[65];
    char hex_whole[65];
    struct buf out;

    buf_init(&out, BUF_NO_CAP);
    CHECK_OK(filter_run(chunked, noise, len, &out, unit_err()));
    buf_reset(&out);
    CHECK_OK(filter_process(whole, noise, len, &out, unit_err()));
    CHECK_OK(filter_finish(whole, &out, unit_err()));
    sha256_filter_hex(chunked, hex_chunked);
    sha256_filter_hex(whole, hex_whole);
    CHECK_STR_EQ(hex_chunked, hex_whole);
    filter_free(chunked);
    filter_free(whole);
    buf_release(&out);
    xfree(noise);
}

/* The backup pipeline: data -> zstd -> sha256 -> store. The digest must be that of the compressed
 * bytes (what the manifest records), `sha256sum` must agree, and the bytes must restore. */
static void test_compress_then_sha256_pipeline(void)
{
    size_t len = 3 * MIB + 1;
    char *text = make_compressible(len);
    struct filter *zstd = zstd_compress_new(3, 0);
    struct filter *sha = sha256_filter_new();
    struct filter *check = sha256_filter_new();
    struct buf mid;
    struct buf sink;
    struct buf ignored;
    struct buf plain;
    char hex[65];
    char hex_check[65];
    char *zst = tmp_file("pipe.zst");
    char *sum = tmp_file("pipe.sum");
    const char *sum_argv[] = {"sha256sum", zst, NULL};
    size_t pos = 0;
    size_t k = 0;

    buf_init(&mid, BUF_NO_CAP);
    buf_init(&sink, BUF_NO_CAP);
    buf_init(&ignored, BUF_NO_CAP);
    buf_init(&plain, BUF_NO_CAP);
    while (pos < len) {
        size_t n = odd_chunks[k++ % (sizeof(odd_chunks) / sizeof(odd_chunks[0]))];
        if (n > len - pos)
            n = len - pos;
        CHECK_OK(filter_process(zstd, text + pos, n, &mid, unit_err()));
        CHECK_OK(filter_process(sha, mid.data, mid.len, &sink, unit_err()));
        buf_reset(&mid);
        pos += n;
    }
    CHECK_OK(filter_finish(zstd, &mid, unit_err()));
    CHECK_OK(filter_process(sha, mid.data, mid.len, &sink, unit_err()));
    CHECK_OK(filter_finish(sha, &sink, unit_err()));
    sha256_filter_hex(sha, hex);
    CHECK_INT_EQ(sha->bytes_in, zstd->bytes_out);
    CHECK_INT_EQ(sink.len, zstd->bytes_out);

    CHECK_OK(filter_process(check, sink.data, sink.len, &ignored, unit_err()));
    CHECK_OK(filter_finish(check, &ignored, unit_err()));
    sha256_filter_hex(check, hex_check);
    CHECK_STR_EQ(hex, hex_check);

    write_file(zst, sink.data, sink.len);
    CHECK_INT_EQ(unit_run_cmd(sum_argv, NULL, sum), 0);
    buf_reset(&ignored);
    CHECK_OK(fs_read_file(sum, &ignored, unit_err()));
    CHECK(ignored.len > 64);
    CHECK(memcmp(ignored.data, hex, 64) == 0);

    CHECK_OK(zstd_decompress_buf(sink.data, sink.len, &plain, unit_err()));
    CHECK_INT_EQ(plain.len, len);
    CHECK(memcmp(plain.data, text, len) == 0);

    filter_free(zstd);
    filter_free(sha);
    filter_free(check);
    buf_release(&mid);
    buf_release(&sink);
    buf_release(&ignored);
    buf_release(&plain);
    xfree(zst);
    xfree(sum);
    xfree(text);
}

static void test_filter_versions_name_the_libraries(void)
{
    CHECK(strchr(zstd_filter_version(), '.') != NULL);
    CHECK(strstr(sha256_filter_version(), "OpenSSL") != NULL);
    filter_free(NULL);
}

const struct unit_test filters_tests[] = {
    {"test_zstd_round_trip_small_and_block_edge_sizes",
     test_zstd_round_trip_small_and_block_edge_sizes},
    {"test_zstd_round_trip_mebibytes_compressible", test_zstd_round_trip_mebibytes_compressible},
    {"test_zstd_round_trip_mebibytes_random", test_zstd_round_trip_mebibytes_random},
    {"test_zstd_output_is_verified_and_decoded_by_zstd_command",
     test_zstd_output_is_verified_and_decoded_by_zstd_command},
    {"test_zstd_decodes_concatenated_frames_of_zstd_command",
     test_zstd_decodes_concatenated_frames_of_zstd_command},
    {"test_zstd_decodes_concatenated_frames_of_filter",
     test_zstd_decodes_concatenated_frames_of_filter},
    {"test_zstd_frame_declares_checksum", test_zstd_frame_declares_checksum},
    {"test_zstd_flipped_byte_fails_integrity", test_zstd_flipped_byte_fails_integrity},
    {"test_zstd_truncated_input_fails_at_finish", test_zstd_truncated_input_fails_at_finish},
    {"test_zstd_empty_input_is_truncated", test_zstd_empty_input_is_truncated},
    {"test_zstd_garbage_fails_integrity_and_stays_failed",
     test_zstd_garbage_fails_integrity_and_stays_failed},
    {"test_zstd_refuses_window_over_128_mib", test_zstd_refuses_window_over_128_mib},
    {"test_zstd_decompress_respects_output_cap", test_zstd_decompress_respects_output_cap},
    {"test_sha256_known_vectors", test_sha256_known_vectors},
    {"test_sha256_multi_chunk_equals_one_shot", test_sha256_multi_chunk_equals_one_shot},
    {"test_compress_then_sha256_pipeline", test_compress_then_sha256_pipeline},
    {"test_filter_versions_name_the_libraries", test_filter_versions_name_the_libraries},
    {NULL, NULL},
};
