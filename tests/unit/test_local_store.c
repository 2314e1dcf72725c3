/* The local store through the public store_* interface: atomic writes, crash leftovers, modes, key
 * order, cleanup of empty directories, key validation and a full disk. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sched.h>

#include "stores/store.h"
#include "unit.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/xalloc.h"

static struct store *open_local(const char *path)
{
    struct store_options opts = {.name = "test", .type = "local", .path = path};
    struct store *s = NULL;

    CHECK_OK(store_open(&opts, &s, unit_err()));
    CHECK(s != NULL);
    return s;
}

static char *tmp_path(const char *rel)
{
    return xasprintf("%s/%s", unit_tmp_dir(), rel);
}

static void put(struct store *s, const char *key, const char *text)
{
    CHECK_OK(store_put_bytes(s, key, text, strlen(text), unit_err()));
}

static void get(struct store *s, const char *key, struct buf *out)
{
    struct store_reader *r = NULL;
    char chunk[4093];

    CHECK_OK(store_get_open(s, key, &r, unit_err()));
    for (;;) {
        size_t got = 0;

        CHECK_OK(store_reader_read(r, chunk, sizeof(chunk), &got, unit_err()));
        if (got == 0)
            break;
        CHECK(buf_add(out, chunk, got));
    }
    store_reader_close(r);
}

/* Appends each listed key and a newline to a buf. */
static int collect_key(const struct store_entry *e, void *ctx, struct error *err)
{
    struct buf *keys = ctx;

    (void)err;
    CHECK(buf_adds(keys, e->key));
    CHECK(buf_adds(keys, "\n"));
    return 0;
}

static void list_keys(struct store *s, const char *prefix, struct buf *keys)
{
    buf_reset(keys);
    CHECK_OK(store_list(s, prefix, collect_key, keys, unit_err()));
}

/* Every name under dir, recursively (temporary files included); -1 when dir is missing. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int count = 0;

    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char *child;
        struct stat st;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        count++;
        child = xasprintf("%s/%s", dir, de->d_name);
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
            count += count_entries(child);
        xfree(child);
    }
    closedir(d);
    return count;
}

/* Name of the first entry in dir starting with start, or NULL (free with xfree). */
static char *find_entry(const char *dir, const char *start)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char *found = NULL;

    if (!d)
        return NULL;
    while (!found && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, start, strlen(start)) == 0)
            found = xstrdup(de->d_name);
    }
    closedir(d);
    return found;
}

static int mode_of(const char *path)
{
    struct stat st;

    CHECK(lstat(path, &st) == 0);
    return (int)(st.st_mode & 07777);
}

static void test_local_put_commit_get_round_trip(void)
{
    char *root = tmp_path("store");
    struct store *s = open_local(root);
    const char *key = "db/20261124T031500Z-k3f9/mastodon_production.dump.zst";
    size_t len = (size_t)1024 * 1024 + 333;
    char *data = xmalloc(len);
    struct store_writer *w = NULL;
    struct store_entry e;
    bool exists = false;
    char real[PATH_MAX];
    struct buf back;
    size_t pos = 0;

    buf_init(&back, BUF_NO_CAP);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 31 + i / 7);
    CHECK_STR_EQ(store_name(s), "test");
    CHECK(realpath(root, real) != NULL);
    CHECK_STR_EQ(store_location(s), real);

    CHECK_OK(store_put_open(s, key, &w, unit_err()));
    while (pos < len) {
        size_t n = len - pos < 65537 ? len - pos : 65537;
        CHECK_OK(store_writer_write(w, data + pos, n, unit_err()));
        pos += n;
    }
    CHECK_INT_EQ(w->bytes_written, len);
    /* Not visible before commit. */
    CHECK_OK(store_stat(s, key, &e, &exists, unit_err()));
    CHECK(!exists);
    CHECK_OK(store_writer_commit(w, unit_err()));

    CHECK_OK(store_stat(s, key, &e, &exists, unit_err()));
    CHECK(exists);
    CHECK_INT_EQ(e.size_bytes, len);
    CHECK(e.mtime > 0);
    get(s, key, &back);
    CHECK_INT_EQ(back.len, len);
    CHECK(memcmp(back.data, data, len) == 0);

    put(s, "db/20261124T031500Z-k3f9/manifest.json", "{\"v\":1}");
    buf_reset(&back);
    get(s, "db/20261124T031500Z-k3f9/manifest.json", &back);
    CHECK_STR_EQ(back.data, "{\"v\":1}");

    /* An empty object is a key too. */
    put(s, "empty", "");
    buf_reset(&back);
    get(s, "empty", &back);
    CHECK_INT_EQ(back.len, 0);

    store_free(s);
    store_free(NULL);
    buf_release(&back);
    xfree(data);
    xfree(root);
}

static void test_local_commit_replaces_existing_key(void)
{
    char *root = tmp_path("store");
    struct store *s = open_local(root);
    struct buf back;

    buf_init(&back, BUF_NO_CAP);
    put(s, "a/b", "first version, longer");
    put(s, "a/b", "second");
    get(s, "a/b", &back);
    CHECK_STR_EQ(back.data, "second");
    CHECK_INT_EQ(count_entries(root), 2); /* a/ and a/b: no temporary file left */
    store_free(s);
    buf_release(&back);
    xfree(root);
}

static void test_local_abort_leaves_nothing(void)
{
    char *root = tmp_path("store");
    struct store *s = open_local(root);
    struct store_writer *w = NULL;
    struct store_entry e;
    bool exists = true;
    struct buf keys;

    buf_init(&keys, BUF_NO_CAP);
    CHECK_OK(store_put_open(s, "db/snap/artifact", &w, unit_err()));
    CHECK_OK(store_writer_write(w, "partial", 7, unit_err()));
    CHECK_INT_EQ(count_entries(root), 3); /* db/, db/snap/ and the temporary file */
    store_writer_abort(w);
    store_writer_abort(NULL);

    CHECK_OK(store_stat(s, "db/snap/artifact", &e, &exists, unit_err()));
    CHECK(!exists);
    list_keys(s, "", &keys);
    CHECK_STR_EQ(keys.data, "");
    CHECK_INT_EQ(count_entries(root), 0); /* the directories it made went too */
    CHECK(fs_exists(root));
    store_free(s);
    buf_release(&keys);
    xfree(root);
}

/* A process that dies mid-write (no commit, no abort) leaves only a temporary file: never listed,
 * never a key, and removed with its snapshot's prefix. */
static void test_local_crashed_writer_is_invisible_and_removed_by_prefix(void)
{
    char *root = tmp_path("store");
    char *snap_dir = tmp_path("store/db/snap1");
    struct store *s = open_local(root);
    struct store_entry e;
    bool exists = true;
    struct buf keys;
    char *leftover;
    pid_t pid;
    int status = 0;

    buf_init(&keys, BUF_NO_CAP);
    put(s, "db/snap0/manifest.json", "{}");
    put(s, "db/snap1/manifest.jsom", "sibling in the same snapshot");
    (void)fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct store_writer *w = NULL;
        struct store *cs = open_local(root);

        if (store_put_open(cs, "db/snap1/artifact.zst", &w, unit_err()) < 0 ||
            store_writer_write(w, "half of a dump", 14, unit_err()) < 0)
            _exit(2);
        _exit(0); /* the crash: no commit, no abort */
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    leftover = find_entry(snap_dir, ".artifact.zst.tmp-");
    CHECK(leftover != NULL);
    CHECK_OK(store_stat(s, "db/snap1/artifact.zst", &e, &exists, unit_err()));
    CHECK(!exists);
    list_keys(s, "", &keys);
    CHECK_STR_EQ(keys.data, "db/snap0/manifest.json\ndb/snap1/manifest.jsom\n");
    list_keys(s, "db/snap1/", &keys);
    CHECK_STR_EQ(keys.data, "db/snap1/manifest.jsom\n");

    CHECK_OK(store_remove_prefix(s, "db/snap1/", unit_err()));
    CHECK(!fs_exists(snap_dir));
    list_keys(s, "", &keys);
    CHECK_STR_EQ(keys.data, "db/snap0/manifest.json\n");
    /* Removing the last snapshot removes the job directory, never the root. */
    CHECK_OK(store_remove_prefix(s, "db/snap0/", unit_err()));
    CHECK_INT_EQ(count_entries(root), 0);
    CHECK(fs_exists(root));
    /* Removing a prefix that does not exist is fine. */
    CHECK_OK(store_remove_prefix(s, "db/snap9/", unit_err()));
    store_free(s);
    buf_release(&keys);
    xfree(leftover);
    xfree(snap_dir);
    xfree(root);
}

static void check_modes(mode_t mask)
{
    char *root = tmp_path("modes");
    char *dir1 = tmp_path("modes/a");
    char *dir2 = tmp_path("modes/a/b");
    char *file = tmp_path("modes/a/b/c");
    char *top = tmp_path("modes/top");
    struct store *s;

    umask(mask);
    s = open_local(root);
    put(s, "a/b/c", "x");
    put(s, "top", "y");
    CHECK_INT_EQ(mode_of(root), 0700);
    CHECK_INT_EQ(mode_of(dir1), 0700);
    CHECK_INT_EQ(mode_of(dir2), 0700);
    CHECK_INT_EQ(mode_of(file), 0600);
    CHECK_INT_EQ(mode_of(top), 0600);
    store_free(s);
    CHECK_OK(fs_remove_tree(root, unit_err()));
    xfree(root);
    xfree(dir1);
    xfree(dir2);
    xfree(file);
    xfree(top);
}

static void test_local_files_are_0600_and_directories_0700(void)
{
    check_modes(0);
    check_modes(022);
    check_modes(077);
}

static void test_local_missing_root_is_created(void)
{
    char *root = tmp_path("x/y/z");
    char *parent = tmp_path("x");
    char *file = tmp_path("plain-file");
    char real_tmp[PATH_MAX];
    char *want = NULL;
    struct store_options opts = {.name = "offsite", .type = "local", .path = NULL};
    struct error err = ERROR_INIT;
    struct store *s;

    s = open_local(root);
    CHECK_INT_EQ(mode_of(root), 0700);
    CHECK_INT_EQ(mode_of(parent), 0700);
    store_free(s);

    /* A relative path is resolved, so the location stays right whatever the working directory. */
    CHECK(chdir(unit_tmp_dir()) == 0);
    CHECK(realpath(unit_tmp_dir(), real_tmp) != NULL);
    s = open_local("rel/root");
    want = xasprintf("%s/rel/root", real_tmp);
    CHECK_STR_EQ(store_location(s), want);
    CHECK(chdir("/") == 0);
    put(s, "k", "v"); /* still writes into the resolved root */
    xfree(want);
    want = xasprintf("%s/rel/root/k", real_tmp);
    CHECK(fs_exists(want));
    store_free(s);

    CHECK_OK(fs_write_atomic(file, "x", 1, 0600, unit_err()));
    opts.path = file;
    s = NULL;
    CHECK_ERR(store_open(&opts, &s, &err), err, ERR_IO, "is not a directory");
    CHECK(s == NULL);
    CHECK(strstr(err.msg, "store 'offsite'") == err.msg);
    opts.path = "";
    CHECK_ERR(store_open(&opts, &s, &err), err, ERR_CONFIG, "store 'offsite': no path set");
    opts.path = root;
    opts.type = "nfs";
    CHECK_ERR(store_open(&opts, &s, &err), err, ERR_CONFIG,
              "store 'offsite': unknown type 'nfs' (known: local, s3, rclone)");
    CHECK(s == NULL);
    xfree(want);
    xfree(root);
    xfree(parent);
    xfree(file);
}

static int cmp_str(const void *a, const void *b)
{
    const char *const *x = a;
    const char *const *y = b;

    return strcmp(*x, *y);
}

/* Keys sort by bytes: '-' (0x2d) < '.' (0x2e) < '/' (0x2f) < '0' < 'A' < '_' < 'a' < 0xc3 (UTF-8
 * é), so the directory "a" must be listed as if it were "a/", between "a.b" and "ab". */
static void test_local_list_is_in_strict_key_order(void)
{
    static const char *const keys_in[] = {
        "ab",        "a-b",     "a.b",     "a/b",    "a/b-c",
        "a/b.c",     "a/bc",    "a/b_/x",  "a/b0/y", "a/b/z",
        "a/A",       "a0",      "A",       "_x",     "\xc3\xa9t\xc3\xa9",
        "b/a/b/c/d", "b/a-b",   "b/a/b-c", "b/ab",   "b/a.b/x",
        "0",         "a/b /sp", "z/9/10",  "z/9/9",  "z/10/1",
    };
    size_t count = sizeof(keys_in) / sizeof(keys_in[0]);
    const char **sorted = xcalloc(count, sizeof(*sorted));
    char *root = tmp_path("store");
    struct store *s = NULL;
    struct buf want;
    struct buf got;

    buf_init(&want, BUF_NO_CAP);
    buf_init(&got, BUF_NO_CAP);
    /* "a/b" is a file while "a/b-c" etc. sit beside it; "a/b/z" needs a directory "a/b": use a
     * second store for that combination. */
    s = open_local(root);
    for (size_t i = 0; i < count; i++) {
        sorted[i] = keys_in[i];
        if (strcmp(keys_in[i], "a/b/z") != 0)
            put(s, keys_in[i], keys_in[i]);
    }
    qsort(sorted, count, sizeof(*sorted), cmp_str);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(sorted[i], "a/b/z") == 0)
            continue;
        buf_adds(&want, sorted[i]);
        buf_adds(&want, "\n");
    }
    list_keys(s, "", &got);
    CHECK_STR_EQ(got.data, want.data);

    /* Prefixes are byte prefixes of keys, not directory names. */
    list_keys(s, "a", &got);
    CHECK_STR_EQ(got.data,
                 "a-b\na.b\na/A\na/b\na/b /sp\na/b-c\na/b.c\na/b0/y\na/b_/x\na/bc\na0\nab\n");
    list_keys(s, "a/", &got);
    CHECK_STR_EQ(got.data, "a/A\na/b\na/b /sp\na/b-c\na/b.c\na/b0/y\na/b_/x\na/bc\n");
    list_keys(s, "a/b", &got);
    CHECK_STR_EQ(got.data, "a/b\na/b /sp\na/b-c\na/b.c\na/b0/y\na/b_/x\na/bc\n");
    list_keys(s, "a/b/", &got);
    CHECK_STR_EQ(got.data, "");
    list_keys(s, "b/a", &got);
    CHECK_STR_EQ(got.data, "b/a-b\nb/a.b/x\nb/a/b-c\nb/a/b/c/d\nb/ab\n");
    list_keys(s, "z/", &got);
    CHECK_STR_EQ(got.data, "z/10/1\nz/9/10\nz/9/9\n");
    list_keys(s, "nothing/here/", &got);
    CHECK_STR_EQ(got.data, "");
    list_keys(s, "ab", &got);
    CHECK_STR_EQ(got.data, "ab\n");
    store_free(s);

    /* The directory-versus-file case: "a/b/z" beside "a/b-c", "a/b.c", "a/bc". */
    {
        char *root2 = tmp_path("store2");

        s = open_local(root2);
        put(s, "a/bc", "");
        put(s, "a/b/z", "");
        put(s, "a/b.c", "");
        put(s, "a/b-c", "");
        put(s, "a/b0", "");
        list_keys(s, "", &got);
        CHECK_STR_EQ(got.data, "a/b-c\na/b.c\na/b/z\na/b0\na/bc\n");
        store_free(s);
        xfree(root2);
    }
    buf_release(&want);
    buf_release(&got);
    xfree(sorted);
    xfree(root);
}

struct stop_ctx {
    int seen;
    int stop_after;
    bool is_failing;
};

static int stop_or_fail(const struct store_entry *e, void *ctx, struct error *err)
{
    struct stop_ctx *c = ctx;

    (void)e;
    c->seen++;
    if (c->seen < c->stop_after)
        return 0;
    if (c->is_failing)
        return error_set(err, ERR_CANCELLED, "callback gave up");
    return 1;
}

static void test_local_list_stops_early_and_passes_errors(void)
{
    char *root = tmp_path("store");
    struct store *s = open_local(root);
    struct stop_ctx c = {0, 2, false};
    struct error err = ERROR_INIT;

    put(s, "a/1", "");
    put(s, "a/2", "");
    put(s, "b/1", "");
    CHECK_OK(store_list(s, "", stop_or_fail, &c, unit_err()));
    CHECK_INT_EQ(c.seen, 2);
    c.seen = 0;
    c.is_failing = true;
    CHECK_ERR(store_list(s, "", stop_or_fail, &c, &err), err, ERR_CANCELLED, "callback gave up");
    CHECK_INT_EQ(c.seen, 2);
    store_free(s);
    xfree(root);
}

static void test_local_remove_cleans_empty_parents(void)
{
    char *root = tmp_path("store");
    char *x = tmp_path("store/x");
    char *xy = tmp_path("store/x/y");
    struct store *s = open_local(root);
    struct store_entry e;
    bool exists = true;

    put(s, "x/y/z/f", "1");
    put(s, "x/keep", "2");
    put(s, "top", "3");
    CHECK_OK(store_remove(s, "x/y/z/f", unit_err()));
    CHECK_OK(store_stat(s, "x/y/z/f", &e, &exists, unit_err()));
    CHECK(!exists);
    CHECK(!fs_exists(xy));
    CHECK(fs_exists(x));
    CHECK_OK(store_remove(s, "x/keep", unit_err()));
    CHECK(!fs_exists(x));
    CHECK_OK(store_remove(s, "top", unit_err()));
    CHECK(fs_exists(root));
    CHECK_INT_EQ(count_entries(root), 0);
    /* A missing key, or a path under a missing directory, is not an error. */
    CHECK_OK(store_remove(s, "top", unit_err()));
    CHECK_OK(store_remove(s, "no/such/key", unit_err()));
    store_free(s);
    xfree(root);
    xfree(x);
    xfree(xy);
}

static void test_local_invalid_keys_are_rejected(void)
{
    static const char *const bad[] = {
        "",
        "../x",
        "/abs",
        "a//b",
        "a/./b",
        "a/..",
        "..",
        ".",
        "a/",
        "a\n",
        "a\tb",
        "x\x7f",
        "db/.artifact.tmp-abc123",
    };
    char *root = tmp_path("store");
    char *outside = tmp_path("x");
    struct store *s = open_local(root);
    char *long_key = xmalloc(1026);
    struct error err = ERROR_INIT;
    struct store_writer *w = NULL;
    struct store_reader *r = NULL;
    struct store_entry e;
    bool exists = false;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_ERR(store_put_open(s, bad[i], &w, &err), err, ERR_IO, "invalid key");
        CHECK(w == NULL);
        CHECK_ERR(store_get_open(s, bad[i], &r, &err), err, ERR_IO, "invalid key");
        CHECK(r == NULL);
        CHECK_ERR(store_stat(s, bad[i], &e, &exists, &err), err, ERR_IO, "invalid key");
        CHECK_ERR(store_remove(s, bad[i], &err), err, ERR_IO, "invalid key");
        CHECK_ERR(store_put_bytes(s, bad[i], "x", 1, &err), err, ERR_IO, "invalid key");
    }
    CHECK(!fs_exists(outside));
    /* Control characters are not echoed into the message. */
    CHECK_ERR(store_stat(s, "a\nb", &e, &exists, &err), err, ERR_IO, "invalid key 'a?b'");

    memset(long_key, 'k', 1025);
    long_key[1025] = '\0';
    CHECK_ERR(store_put_open(s, long_key, &w, &err), err, ERR_IO, "invalid key");
    long_key[1024] = '\0';
    for (size_t i = 200; i < 1024; i += 201)
        long_key[i] = '/'; /* 1024 bytes in segments under NAME_MAX: valid */
    put(s, long_key, "long");

    CHECK_ERR(store_list(s, "../", collect_key, NULL, &err), err, ERR_IO, "invalid prefix");
    CHECK_ERR(store_list(s, "/a", collect_key, NULL, &err), err, ERR_IO, "invalid prefix");
    CHECK_ERR(store_list(s, "a//", collect_key, NULL, &err), err, ERR_IO, "invalid prefix");
    CHECK_ERR(store_remove_prefix(s, "", &err), err, ERR_USAGE, "must be non-empty");
    CHECK_ERR(store_remove_prefix(s, "db", &err), err, ERR_USAGE, "end in '/'");
    CHECK_ERR(store_remove_prefix(s, "../", &err), err, ERR_IO, "invalid prefix");
    CHECK_ERR(store_remove_prefix(s, "a/../", &err), err, ERR_IO, "invalid prefix");
    CHECK_ERR(store_remove_prefix(s, "/", &err), err, ERR_IO, "invalid prefix");

    /* The prefix "db/" does not cover the key "db". */
    put(s, "db", "a key, not a directory");
    CHECK_OK(store_remove_prefix(s, "db/", unit_err()));
    CHECK_OK(store_stat(s, "db", &e, &exists, unit_err()));
    CHECK(exists);
    store_free(s);
    xfree(long_key);
    xfree(outside);
    xfree(root);
}

static void test_local_get_missing_key_is_not_found(void)
{
    char *root = tmp_path("store");
    struct store *s = open_local(root);
    struct store_reader *r = NULL;
    struct store_entry e;
    bool exists = true;
    struct error err = ERROR_INIT;

    put(s, "dir/file", "x");
    CHECK_ERR(store_get_open(s, "nope", &r, &err), err, ERR_IO, "not found");
    CHECK(r == NULL);
    CHECK_ERR(store_get_open(s, "dir/file/below", &r, &err), err, ERR_IO, "not found");
    CHECK_ERR(store_get_open(s, "dir", &r, &err), err, ERR_IO, "not found");
    CHECK_OK(store_stat(s, "dir", &e, &exists, unit_err()));
    CHECK(!exists);
    CHECK_OK(store_remove(s, "dir", unit_err()));
    CHECK_OK(store_stat(s, "dir/file", &e, &exists, unit_err()));
    CHECK(exists);
    store_free(s);
    xfree(root);
}

/* A segment near NAME_MAX still gets a temporary name that fits. */
static void test_local_long_segment_gets_short_temp_name(void)
{
    char *root = tmp_path("store");
    struct store *s = open_local(root);
    char name[256];
    struct buf back;

    buf_init(&back, BUF_NO_CAP);
    memset(name, 'n', 255);
    name[255] = '\0';
    put(s, name, "fits");
    get(s, name, &back);
    CHECK_STR_EQ(back.data, "fits");
    store_free(s);
    buf_release(&back);
    xfree(root);
}

/* A full disk: the error carries errno's text and the file's name, commit refuses the short file,
 * and abort leaves nothing. Needs root for a 1 MiB tmpfs (CI runs as root); the mount lives in a
 * private mount namespace, so it goes away with this test's process even if a check fails. */
static void test_local_full_disk_reports_enospc_and_leaves_nothing(void)
{
    char *mnt = tmp_path("mnt");
    const char *private_argv[] = {"mount", "--make-rprivate", "/", NULL};
    const char *mount_argv[] = {"mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt, NULL};
    const char *umount_argv[] = {"umount", mnt, NULL};
    struct error write_err = ERROR_INIT;
    struct error commit_err = ERROR_INIT;
    struct store_writer *w = NULL;
    struct store *s = NULL;
    const size_t chunk_len = (size_t)64 * 1024;
    char *chunk = xcalloc(1, chunk_len);
    struct buf keys;
    bool is_private;
    bool did_fail = false;
    int commit_rc;
    int left;
    int umount_rc;

    buf_init(&keys, BUF_NO_CAP);
    if (geteuid() != 0)
        unit_fail(__FILE__, __LINE__,
                  "needs root to mount a tmpfs (CI runs the unit tests as root)");
    CHECK(mkdir(mnt, 0700) == 0);
    is_private = unshare(CLONE_NEWNS) == 0 && unit_run_cmd(private_argv, NULL, NULL) == 0;
    if (unit_run_cmd(mount_argv, NULL, NULL) != 0)
        unit_fail(__FILE__, __LINE__, "mount -t tmpfs failed: this test needs root");

    /* No CHECK until the tmpfs is unmounted, so a failure cannot leave it mounted. */
    {
        struct store_options opts = {.name = "small", .type = "local", .path = mnt};
        if (store_open(&opts, &s, &write_err) == 0 &&
            store_put_open(s, "db/snap/big.bin", &w, &write_err) == 0) {
            for (int i = 0; i < 32 && !did_fail; i++)
                did_fail = store_writer_write(w, chunk, chunk_len, &write_err) < 0;
            /* commit after a failed write must refuse (and clean up, like abort) */
            commit_rc = store_writer_commit(w, &commit_err);
        } else {
            commit_rc = -2;
        }
    }
    left = count_entries(mnt);
    if (s)
        store_list(s, "", collect_key, &keys, &commit_err);
    store_free(s);
    umount_rc = unit_run_cmd(umount_argv, NULL, NULL);

    CHECK(is_private || umount_rc == 0);
    CHECK(did_fail);
    CHECK_INT_EQ(write_err.kind, ERR_IO);
    CHECK_INT_EQ(write_err.sys_errno, ENOSPC);
    CHECK(strstr(write_err.msg, "No space left on device") != NULL);
    CHECK(strstr(write_err.msg, "db/snap/big.bin") != NULL);
    CHECK_INT_EQ(commit_rc, -1);
    CHECK(strstr(commit_err.msg, "an earlier write failed") != NULL);
    CHECK_INT_EQ(left, 0);
    CHECK_STR_EQ(keys.data, "");
    buf_release(&keys);
    xfree(chunk);
    xfree(mnt);
}

/* Appends "key partial|done" lines. */
static int collect_partial(const struct store_entry *e, void *ctx, struct error *err)
{
    struct buf *keys = ctx;

    (void)err;
    CHECK(buf_addf(keys, "%s %s\n", e->key, e->is_partial ? "partial" : "done"));
    return 0;
}

static void test_local_list_partial_reports_unfinished_writes(void)
{
    char *root = xasprintf("%s/store", unit_tmp_dir());
    struct store *s = open_local(root);
    struct store_writer *w = NULL;
    struct buf keys;

    buf_init(&keys, BUF_NO_CAP);
    CHECK_OK(store_put_bytes(s, "db/a/done.txt", "x", 1, unit_err()));
    CHECK_OK(store_put_open(s, "db/b/dump.zst", &w, unit_err()));
    CHECK_OK(store_writer_write(w, "partial", 7, unit_err()));

    /* the plain listing hides the write in progress ... */
    list_keys(s, "db/", &keys);
    CHECK_STR_EQ(keys.data, "db/a/done.txt\n");
    /* ... the partial listing names it, in key order, marked */
    CHECK_OK(store_list_partial(s, "db/", collect_partial, &keys, unit_err()));
    CHECK_STR_EQ(keys.data, "db/a/done.txt\ndb/a/done.txt done\ndb/b/dump.zst partial\n");

    store_writer_abort(w);
    buf_reset(&keys);
    CHECK_OK(store_list_partial(s, "db/", collect_partial, &keys, unit_err()));
    CHECK_STR_EQ(keys.data, "db/a/done.txt done\n");
    buf_release(&keys);
    store_free(s);
    xfree(root);
}

const struct unit_test local_store_tests[] = {
    {"test_local_list_partial_reports_unfinished_writes",
     test_local_list_partial_reports_unfinished_writes},
    {"test_local_put_commit_get_round_trip", test_local_put_commit_get_round_trip},
    {"test_local_commit_replaces_existing_key", test_local_commit_replaces_existing_key},
    {"test_local_abort_leaves_nothing", test_local_abort_leaves_nothing},
    {"test_local_crashed_writer_is_invisible_and_removed_by_prefix",
     test_local_crashed_writer_is_invisible_and_removed_by_prefix},
    {"test_local_files_are_0600_and_directories_0700",
     test_local_files_are_0600_and_directories_0700},
    {"test_local_missing_root_is_created", test_local_missing_root_is_created},
    {"test_local_list_is_in_strict_key_order", test_local_list_is_in_strict_key_order},
    {"test_local_list_stops_early_and_passes_errors",
     test_local_list_stops_early_and_passes_errors},
    {"test_local_remove_cleans_empty_parents", test_local_remove_cleans_empty_parents},
    {"test_local_invalid_keys_are_rejected", test_local_invalid_keys_are_rejected},
    {"test_local_get_missing_key_is_not_found", test_local_get_missing_key_is_not_found},
    {"test_local_long_segment_gets_short_temp_name", test_local_long_segment_gets_short_temp_name},
    {"test_local_full_disk_reports_enospc_and_leaves_nothing",
     test_local_full_disk_reports_enospc_and_leaves_nothing},
    {NULL, NULL},
};
