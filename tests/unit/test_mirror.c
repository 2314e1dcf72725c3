/* mirror/mirror.c and mirror/side.c on local directories: the walk order, convergence, the
 * deletion guards, dry runs and the trash. The S3 paths run in the integration tests against
 * radosgw and the fault-injecting fake. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mirror/mirror.h"
#include "mirror/side.h"
#include "unit.h"
#include "util/fs.h"
#include "util/xalloc.h"

static char *tmp(const char *rel)
{
    return xasprintf("%s/%s", unit_tmp_dir(), rel);
}

static void put_file(const char *root, const char *key, const char *content)
{
    char *path = xasprintf("%s/%s", root, key);
    char *dir = fs_dirname(path);
    struct error err = ERROR_INIT;

    ASSERT(fs_mkdir_p(dir, 0755, &err) == 0);
    ASSERT(fs_write_atomic(path, content, strlen(content), 0644, &err) == 0);
    xfree(dir);
    xfree(path);
}

static char *read_file(const char *root, const char *key)
{
    char *path = xasprintf("%s/%s", root, key);
    struct buf b;
    struct error err = ERROR_INIT;
    char *out = NULL;

    buf_init(&b, BUF_NO_CAP);
    if (fs_read_file(path, &b, &err) == 0)
        out = xstrdup(b.data);
    buf_release(&b);
    xfree(path);
    return out;
}

static void test_mirror_request_names(void)
{
    CHECK_STR_EQ(mirror_request_name(MIRROR_REQ_LIST), "LIST");
    CHECK_STR_EQ(mirror_request_name(MIRROR_REQ_DELETE), "DELETE");
}

static void test_mirror_etag_md5(void)
{
    CHECK(mirror_etag_is_md5("d41d8cd98f00b204e9800998ecf8427e"));
    CHECK(!mirror_etag_is_md5("d41d8cd98f00b204e9800998ecf8427e-2"));
    CHECK(!mirror_etag_is_md5("d41d8cd98f00b204e9800998ecf8427"));
    CHECK(!mirror_etag_is_md5("z41d8cd98f00b204e9800998ecf8427e"));
}

/* The walk yields keys in strcmp order, as S3 lists them: "a-b" < "a/b" < "a0" although the
 * directory "a" sorts before "a-b" by name. */
static void test_mirror_local_walk_order(void)
{
    static const char *const keys[] = {"a!", "a-b", "a.c", "a/b", "a/c/d", "a0", "b", "z/z/z"};
    char *root = tmp("walk");
    struct store_options o;
    struct side s;
    struct lister l;
    struct error err = ERROR_INIT;
    size_t n = 0;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        put_file(root, keys[i], keys[i]);
    memset(&o, 0, sizeof(o));
    o.name = "w";
    o.type = "local";
    o.path = root;
    CHECK_OK(side_open(&s, "source", &o, "", NULL, 0, unit_err()));
    lister_init(&l, &s, "", NULL, NULL);
    for (;;) {
        const struct mirror_entry *e;
        CHECK_OK(lister_fill_sync(&l, unit_err()));
        e = lister_peek(&l);
        if (!e)
            break;
        CHECK(n < sizeof(keys) / sizeof(keys[0]));
        if (n < sizeof(keys) / sizeof(keys[0]))
            CHECK_STR_EQ(e->key, keys[n]);
        n++;
        lister_next(&l);
    }
    CHECK_INT_EQ(n, sizeof(keys) / sizeof(keys[0]));
    lister_release(&l);

    /* A range: [a/, a0) holds exactly the keys under a/. */
    lister_init(&l, &s, "a/", "a0", NULL);
    n = 0;
    for (;;) {
        const struct mirror_entry *e;
        CHECK_OK(lister_fill_sync(&l, unit_err()));
        e = lister_peek(&l);
        if (!e)
            break;
        CHECK(strncmp(e->key, "a/", 2) == 0);
        n++;
        lister_next(&l);
    }
    CHECK_INT_EQ(n, 2);
    lister_release(&l);
    side_close(&s);
    (void)err;
    xfree(root);
}

struct plan_log {
    int copies;
    int updates;
    int deletes;
};

static void plan_cb(enum mirror_action action, const char *key, uint64_t size, void *ctx)
{
    struct plan_log *p = ctx;

    (void)key;
    (void)size;
    if (action == MIRROR_ACTION_COPY)
        p->copies++;
    else if (action == MIRROR_ACTION_UPDATE)
        p->updates++;
    else
        p->deletes++;
}

static void mirror_opts(struct mirror_options *mo, struct store_options *so,
                        struct store_options *do_, const char *src, const char *dst)
{
    memset(so, 0, sizeof(*so));
    memset(do_, 0, sizeof(*do_));
    memset(mo, 0, sizeof(*mo));
    so->name = "src";
    so->type = "local";
    so->path = src;
    do_->name = "dst";
    do_->type = "local";
    do_->path = dst;
    mo->job = "media";
    mo->source = so;
    mo->source_prefix = "";
    mo->destination = do_;
    mo->destination_prefix = "";
    mo->max_delete_count = -1;
    mo->max_delete_percent = -1;
}

static void test_mirror_local_converges(void)
{
    char *src = tmp("m-src");
    char *dst = tmp("m-dst");
    struct store_options so;
    struct store_options dso;
    struct mirror_options mo;
    struct mirror_stats st;
    struct error err = ERROR_INIT;
    char *got;
    struct plan_log plan = {0, 0, 0};

    put_file(src, "media_attachments/files/109/348/original/a.jpg", "jpeg bytes");
    put_file(src, "accounts/avatars/1/x.png", "png");
    put_file(src, "cache/remote/1.jpg", "cached");
    put_file(src, "name with spaces+%.txt", "odd");
    put_file(src, "empty", "");
    mirror_opts(&mo, &so, &dso, src, dst);

    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.copied.objects, 5);
    CHECK_INT_EQ(st.source.objects, 5);
    got = read_file(dst, "media_attachments/files/109/348/original/a.jpg");
    CHECK(got && strcmp(got, "jpeg bytes") == 0);
    xfree(got);
    got = read_file(dst, "empty");
    CHECK(got && strcmp(got, "") == 0);
    xfree(got);

    /* Nothing changed: nothing copied. */
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.copied.objects, 0);
    CHECK_INT_EQ(st.updated.objects, 0);
    CHECK_INT_EQ(st.unchanged.objects, 5);

    /* Changed size, a new file, a deleted one (one of five: 20% > the default 10%). */
    put_file(src, "accounts/avatars/1/x.png", "png, larger");
    put_file(src, "new/file", "n");
    {
        char *p = xasprintf("%s/cache/remote/1.jpg", src);
        CHECK(unlink(p) == 0);
        xfree(p);
    }
    mo.is_dry_run = true;
    mo.plan = plan_cb;
    mo.ctx = &plan;
    /* The plan says the real run would refuse the deletion. */
    CHECK_ERR(mirror_run(&mo, &st, &err), err, ERR_FAILED, "above max_delete");
    CHECK_INT_EQ(plan.copies, 1);
    CHECK_INT_EQ(plan.updates, 1);
    CHECK_INT_EQ(plan.deletes, 0); /* refused by the guard, so not planned */
    CHECK(st.is_deletion_refused);
    got = read_file(dst, "accounts/avatars/1/x.png");
    CHECK(got && strcmp(got, "png") == 0); /* a dry run changes nothing */
    xfree(got);
    mo.is_dry_run = false;
    mo.plan = NULL;

    CHECK_ERR(mirror_run(&mo, &st, &err), err, ERR_FAILED, "would delete 1 of 5");
    CHECK(st.is_deletion_refused);
    CHECK_INT_EQ(st.copied.objects, 1);
    CHECK_INT_EQ(st.updated.objects, 1);
    got = read_file(dst, "cache/remote/1.jpg");
    CHECK(got != NULL); /* kept */
    xfree(got);

    mo.max_delete_count = 1;
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.deleted.objects, 1);
    got = read_file(dst, "cache/remote/1.jpg");
    CHECK(got == NULL);
    got = read_file(dst, "accounts/avatars/1/x.png");
    CHECK(got && strcmp(got, "png, larger") == 0);
    xfree(got);
    {
        char *p = xasprintf("%s/cache", dst);
        CHECK(!fs_exists(p)); /* emptied directories go too */
        xfree(p);
    }
    xfree(src);
    xfree(dst);
}

static void test_mirror_guards_empty_source(void)
{
    char *src = tmp("g-src");
    char *dst = tmp("g-dst");
    struct store_options so;
    struct store_options dso;
    struct mirror_options mo;
    struct mirror_stats st;
    struct error err = ERROR_INIT;
    struct error e2 = ERROR_INIT;
    char *got;

    CHECK(fs_mkdir_p(src, 0755, &e2) == 0);
    put_file(dst, "keep/me", "x");
    mirror_opts(&mo, &so, &dso, src, dst);
    mo.max_delete_percent = 100;
    CHECK_ERR(mirror_run(&mo, &st, &err), err, ERR_FAILED, "lists no object");
    got = read_file(dst, "keep/me");
    CHECK(got != NULL);
    xfree(got);
    xfree(src);
    xfree(dst);
}

static void test_mirror_trash_and_filters(void)
{
    char *src = tmp("t-src");
    char *dst = tmp("t-dst");
    struct store_options so;
    struct store_options dso;
    struct mirror_options mo;
    struct mirror_stats st;
    static const char *const excl[] = {"/cache/**"};
    char *got;
    char day[16];
    time_t now = time(NULL);
    struct tm tm;

    put_file(src, "a/1", "one");
    put_file(src, "a/2", "two");
    put_file(src, "cache/c", "cached");
    mirror_opts(&mo, &so, &dso, src, dst);
    mo.exclude = excl;
    mo.exclude_count = 1;
    mo.trash_prefix = ".trash/";
    mo.trash_days = 7;
    mo.max_delete_percent = 100;
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.copied.objects, 2);
    got = read_file(dst, "cache/c");
    CHECK(got == NULL); /* excluded */

    put_file(src, "a/1", "one, changed");
    {
        char *p = xasprintf("%s/a/2", src);
        CHECK(unlink(p) == 0);
        xfree(p);
    }
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.updated.objects, 1);
    CHECK_INT_EQ(st.deleted.objects, 1);
    CHECK_INT_EQ(st.trashed.objects, 2);
    gmtime_r(&now, &tm);
    (void)strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    {
        char *k1 = xasprintf(".trash/%s/a/1", day);
        char *k2 = xasprintf(".trash/%s/a/2", day);
        got = read_file(dst, k1);
        CHECK(got && strcmp(got, "one") == 0);
        xfree(got);
        got = read_file(dst, k2);
        CHECK(got && strcmp(got, "two") == 0);
        xfree(got);
        xfree(k1);
        xfree(k2);
    }
    /* The trash is not part of the mirror: a third run changes nothing. */
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.copied.objects + st.updated.objects + st.deleted.objects, 0);
    xfree(src);
    xfree(dst);
}

/* A store reached only through the rclone binary (here an rclone "local" remote): listed once
 * through the store interface, written and read with rcat and cat. */
static void test_mirror_rclone_remote(void)
{
    char *src = tmp("r-src");
    char *back = tmp("r-back");
    char *rdir = tmp("r-remote");
    char *conf = tmp("r-rclone.conf");
    char *remote = xasprintf("loc:%s", rdir);
    struct store_options so;
    struct store_options dso;
    struct mirror_options mo;
    struct mirror_stats st;
    struct error err = ERROR_INIT;
    char *got;

    CHECK(fs_write_atomic(conf, "[loc]\ntype = local\n", 19, 0600, &err) == 0);
    put_file(src, "media_attachments/files/1/a.jpg", "aaa");
    put_file(src, "accounts/b.png", "bb");
    mirror_opts(&mo, &so, &dso, src, NULL);
    dso.type = "rclone";
    dso.path = NULL;
    dso.remote = remote;
    dso.rclone_config = conf;
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.copied.objects, 2);
    got = read_file(rdir, "media_attachments/files/1/a.jpg");
    CHECK(got && strcmp(got, "aaa") == 0);
    xfree(got);
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.unchanged.objects, 2);
    CHECK_INT_EQ(st.copied.objects + st.updated.objects, 0);

    /* And back out of the remote into a directory. */
    mirror_opts(&mo, &so, &dso, NULL, back);
    so.type = "rclone";
    so.path = NULL;
    so.remote = remote;
    so.rclone_config = conf;
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.copied.objects, 2);
    got = read_file(back, "accounts/b.png");
    CHECK(got && strcmp(got, "bb") == 0);
    xfree(got);
    xfree(src);
    xfree(back);
    xfree(rdir);
    xfree(conf);
    xfree(remote);
}

/* Sets a file's mtime one hour back: older than the start of the next run. */
static void age_file(const char *root, const char *key)
{
    char *path = xasprintf("%s/%s", root, key);
    struct timespec ts[2];

    ts[0].tv_sec = time(NULL) - 3600;
    ts[0].tv_nsec = 0;
    ts[1] = ts[0];
    ASSERT(utimensat(AT_FDCWD, path, ts, 0) == 0);
    xfree(path);
}

static bool file_exists(const char *root, const char *key)
{
    char *path = xasprintf("%s/%s", root, key);
    bool is_there = fs_exists(path);

    xfree(path);
    return is_there;
}

/* A dry run changes nothing at the destination, not even the temporary files a killed run left:
 * a dry run may overlap a real run (no job lock), whose file in progress has such a name. */
static void test_mirror_dry_run_keeps_tmp_files(void)
{
    char *src = tmp("dt-src");
    char *dst = tmp("dt-dst");
    struct store_options so;
    struct store_options dso;
    struct mirror_options mo;
    struct mirror_stats st;

    put_file(src, "a/1", "one");
    put_file(dst, "a/" SIDE_LOCAL_TMP "abc123", "half a file");
    age_file(dst, "a/" SIDE_LOCAL_TMP "abc123");
    mirror_opts(&mo, &so, &dso, src, dst);
    mo.is_dry_run = true;
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.copied.objects, 1);
    CHECK(file_exists(dst, "a/" SIDE_LOCAL_TMP "abc123"));
    CHECK(!file_exists(dst, "a/1"));

    /* A real run removes it. */
    mo.is_dry_run = false;
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK(!file_exists(dst, "a/" SIDE_LOCAL_TMP "abc123"));
    CHECK(file_exists(dst, "a/1"));
    xfree(src);
    xfree(dst);
}

/* Only the mirror's own temporary files are removed: another dot-file with ".tmp-" in its name is
 * not the mirror's to delete (it is left out of the listings, and kept). */
static void test_mirror_keeps_foreign_tmp_names(void)
{
    char *src = tmp("ft-src");
    char *dst = tmp("ft-dst");
    struct store_options so;
    struct store_options dso;
    struct mirror_options mo;
    struct mirror_stats st;

    put_file(src, "a/1", "one");
    put_file(dst, "a/.notes.tmp-1", "someone's file");
    age_file(dst, "a/.notes.tmp-1");
    mirror_opts(&mo, &so, &dso, src, dst);
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.deleted.objects, 0);
    CHECK(file_exists(dst, "a/.notes.tmp-1"));
    xfree(src);
    xfree(dst);
}

/* A source directory that is gone when the walk starts is an error, not an empty source: with
 * several key ranges (an S3 destination), the ranges listed after it vanished would otherwise
 * look empty and their destination keys be deleted. */
static void test_mirror_source_root_gone(void)
{
    char *root = tmp("gone-src");
    struct store_options o;
    struct side s;
    struct lister l;
    struct error err = ERROR_INIT;

    put_file(root, "k", "v");
    memset(&o, 0, sizeof(o));
    o.name = "g";
    o.type = "local";
    o.path = root;
    CHECK_OK(side_open(&s, "source", &o, "", NULL, 0, unit_err()));
    {
        char *p = xasprintf("%s/k", root);
        CHECK(unlink(p) == 0);
        CHECK(rmdir(root) == 0);
        xfree(p);
    }
    lister_init(&l, &s, "", NULL, NULL);
    CHECK_ERR(lister_fill_sync(&l, &err), err, ERR_IO, "gone-src");
    lister_release(&l);
    side_close(&s);
    xfree(root);
}

/* A dry run into a destination directory that does not exist yet does not make it. */
static void test_mirror_dry_run_makes_no_directory(void)
{
    char *src = tmp("dd-src");
    char *dst = tmp("dd-dst");
    struct store_options so;
    struct store_options dso;
    struct mirror_options mo;
    struct mirror_stats st;

    put_file(src, "a/1", "one");
    mirror_opts(&mo, &so, &dso, src, dst);
    mo.is_dry_run = true;
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.copied.objects, 1);
    CHECK(!fs_exists(dst));
    mo.is_dry_run = false;
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK(file_exists(dst, "a/1"));
    xfree(src);
    xfree(dst);
}

/* Files larger than the part size move in chunks (reads at increasing offsets). */
static void test_mirror_local_chunked(void)
{
    char *src = tmp("ch-src");
    char *dst = tmp("ch-dst");
    struct store_options so;
    struct store_options dso;
    struct mirror_options mo;
    struct mirror_stats st;
    char *got;

    put_file(src, "big", "0123456789abcdefghij");
    put_file(src, "exact", "012345");
    mirror_opts(&mo, &so, &dso, src, dst);
    dso.part_size_bytes = 3;
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.copied.objects, 2);
    CHECK_INT_EQ(st.bytes_transferred, 26);
    got = read_file(dst, "big");
    CHECK(got && strcmp(got, "0123456789abcdefghij") == 0);
    xfree(got);
    got = read_file(dst, "exact");
    CHECK(got && strcmp(got, "012345") == 0);
    xfree(got);
    xfree(src);
    xfree(dst);
}

static int hex_val(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c - 'a' + 10;
}

/* The start-after value of a prepared ListObjectsV2 query, decoded ("" when absent). */
static char *start_after_of(const char *query)
{
    const char *p = strstr(query, "start-after=");
    struct buf b;
    char *out;

    buf_init(&b, BUF_NO_CAP);
    for (p = p ? p + strlen("start-after=") : ""; *p && *p != '&'; p++) {
        char c = *p;
        if (c == '%' && p[1] && p[2]) {
            c = (char)(hex_val(p[1]) * 16 + hex_val(p[2]));
            p += 2;
        }
        ASSERT(buf_add(&b, &c, 1));
    }
    out = xstrdup(b.data);
    buf_release(&b);
    return out;
}

/* A range listed from lo starts just before lo, so the server skips what belongs to the ranges
 * before it: after a skipped subtree ("cache/", range [cache/, cache0)), the next range must not
 * make the server list the whole subtree again. */
static void test_mirror_range_start_after(void)
{
    struct side s;
    struct lister l;
    static const char *const los[] = {"cache0", "media_attachments/", "a0", "z/"};
    static const char *const before[] = {"m/cache/zzz\x7f", "m/media_attachments.zzz", "m/a/zz",
                                         "m/z.q"};

    memset(&s, 0, sizeof(s));
    s.type = SIDE_S3;
    s.what = "source";
    s.prefix = xstrdup("m/");
    for (size_t i = 0; i < sizeof(los) / sizeof(los[0]); i++) {
        char *after;
        char *lo_full = xasprintf("m/%s", los[i]);
        lister_init(&l, &s, los[i], NULL, NULL);
        lister_prepare_call(&l);
        after = start_after_of(l.query);
        CHECK(strcmp(after, before[i]) > 0); /* keys of the previous range are not listed */
        CHECK(strcmp(after, lo_full) < 0);   /* lo itself is */
        xfree(after);
        xfree(lo_full);
        lister_release(&l);
    }
    xfree(s.prefix);
}

/* Same size, destination newer: unchanged by size and time; checksum = yes reads both files and
 * copies the one whose content differs, and only that one. */
static void test_mirror_checksum_mode(void)
{
    char *src = tmp("c-src");
    char *dst = tmp("c-dst");
    struct store_options so;
    struct store_options dso;
    struct mirror_options mo;
    struct mirror_stats st;
    char *got;

    put_file(src, "a/same", "same bytes");
    put_file(src, "a/differs", "new content");
    mirror_opts(&mo, &so, &dso, src, dst);
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.copied.objects, 2);
    /* Same size, other bytes, written after the source: size + time cannot see it. */
    put_file(dst, "a/differs", "old content");
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.updated.objects, 0);
    CHECK_INT_EQ(st.unchanged.objects, 2);
    mo.is_checksum = true;
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.updated.objects, 1);
    CHECK_INT_EQ(st.unchanged.objects, 1);
    got = read_file(dst, "a/differs");
    CHECK(got && strcmp(got, "new content") == 0);
    xfree(got);
    CHECK_OK(mirror_run(&mo, &st, unit_err()));
    CHECK_INT_EQ(st.updated.objects, 0);
    CHECK_INT_EQ(st.unchanged.objects, 2);
    xfree(src);
    xfree(dst);
}

const struct unit_test mirror_tests[] = {
    {"mirror_request_names", test_mirror_request_names},
    {"mirror_etag_md5", test_mirror_etag_md5},
    {"mirror_local_walk_order", test_mirror_local_walk_order},
    {"mirror_local_converges", test_mirror_local_converges},
    {"mirror_guards_empty_source", test_mirror_guards_empty_source},
    {"mirror_trash_and_filters", test_mirror_trash_and_filters},
    {"mirror_rclone_remote", test_mirror_rclone_remote},
    {"mirror_checksum_mode", test_mirror_checksum_mode},
    {"mirror_dry_run_keeps_tmp_files", test_mirror_dry_run_keeps_tmp_files},
    {"mirror_keeps_foreign_tmp_names", test_mirror_keeps_foreign_tmp_names},
    {"mirror_source_root_gone", test_mirror_source_root_gone},
    {"mirror_dry_run_makes_no_directory", test_mirror_dry_run_makes_no_directory},
    {"mirror_local_chunked", test_mirror_local_chunked},
    {"mirror_range_start_after", test_mirror_range_start_after},
    {NULL, NULL},
};
