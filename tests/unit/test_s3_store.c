/* The S3 store and client driven over the loopback against the scripted fake S3 server
 * (tests/lib/fake_s3.py, started per test on a free 127.0.0.1 port), plus the pure checks of
 * s3_client that need no server. Each test is a review finding's regression test. */
#include <signal.h>
#include <time.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stores/s3_client.h"
#include "stores/store.h"
#include "unit.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/xalloc.h"

struct fake {
    pid_t pid;
    char endpoint[64];
    char log_path[512];
};

/* Starts fake_s3.py with a bucket "bkt" (and the given fault script, or none). */
static void fake_start(struct fake *f, const char *script_json)
{
    char py[1024];
    char port_file[512];
    char script_path[512];
    const char *args[16];
    char *argv[16];
    size_t n = 0;
    int port = 0;

    snprintf(py, sizeof(py), "%s/../lib/fake_s3.py", unit_fixture_dir());
    snprintf(port_file, sizeof(port_file), "%s/port", unit_tmp_dir());
    snprintf(f->log_path, sizeof(f->log_path), "%s/requests.log", unit_tmp_dir());
    args[n++] = "python3";
    args[n++] = py;
    args[n++] = "--port";
    args[n++] = "0";
    args[n++] = "--port-file";
    args[n++] = port_file;
    args[n++] = "--log";
    args[n++] = f->log_path;
    args[n++] = "--max-seconds";
    args[n++] = "60";
    args[n++] = "--bucket";
    args[n++] = "bkt";
    if (script_json) {
        FILE *fp;
        snprintf(script_path, sizeof(script_path), "%s/script.json", unit_tmp_dir());
        fp = fopen(script_path, "w");
        CHECK(fp != NULL);
        fputs(script_json, fp);
        fclose(fp);
        args[n++] = "--script";
        args[n++] = script_path;
    }
    for (size_t i = 0; i < n; i++)
        argv[i] = xstrdup(args[i]);
    argv[n] = NULL;
    {
        /* Its output goes to a file, so a pipe reading ours does not wait for an orphaned fake
         * (a failed CHECK ends the test before fake_stop; --max-seconds ends the fake then). */
        char err_path[512];
        posix_spawn_file_actions_t fa;
        snprintf(err_path, sizeof(err_path), "%s/fake_s3.err", unit_tmp_dir());
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        CHECK(posix_spawnp(&f->pid, "python3", &fa, NULL, argv, environ) == 0);
        posix_spawn_file_actions_destroy(&fa);
    }
    for (int i = 0; i < 400 && port == 0; i++) {
        FILE *fp = fopen(port_file, "r");
        if (fp) {
            if (fscanf(fp, "%d", &port) != 1)
                port = 0;
            fclose(fp);
        }
        if (port == 0) {
            struct timespec ts = {0, 25 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    CHECK(port > 0);
    snprintf(f->endpoint, sizeof(f->endpoint), "http://127.0.0.1:%d", port);
}

static void fake_stop(struct fake *f)
{
    int status;

    kill(f->pid, SIGTERM);
    waitpid(f->pid, &status, 0);
}

/* Lines of the fake's request log that contain every one of the given substrings. */
static int fake_count(const struct fake *f, const char *a, const char *b)
{
    FILE *fp = fopen(f->log_path, "r");
    char line[8192];
    int n = 0;

    CHECK(fp != NULL);
    while (fgets(line, sizeof(line), fp))
        if (strstr(line, a) && (!b || strstr(line, b)))
            n++;
    fclose(fp);
    return n;
}

static void opts_for(struct store_options *o, const struct fake *f, struct secret *ak,
                     struct secret *sk)
{
    memset(o, 0, sizeof(*o));
    secret_set(ak, "AKIDFAKE", 8);
    secret_set(sk, "fake-secret", 11);
    o->name = "fake";
    o->type = "s3";
    o->endpoint = f->endpoint;
    o->region = "us-east-1";
    o->bucket = "bkt";
    o->prefix = "pre";
    o->path_style = -1;
    o->access_key = ak;
    o->secret_key = sk;
    o->part_size_bytes = 5u << 20;
    o->concurrency = 2;
}

/* Two DigitalOcean Spaces regions with virtual-hosted addressing share the keys (they are
 * account-wide) and usually the region name "us-east-1": a CopyObject sent to one cannot read a
 * bucket in the other, so they are not the same service. */
static void test_s3_same_service_compares_virtual_hosted_endpoints(void)
{
    struct s3_client_options o;
    struct secret ak = SECRET_INIT, sk = SECRET_INIT;
    struct s3_client *nyc = NULL, *ams = NULL, *nyc2 = NULL;

    secret_set(&ak, "AKID", 4);
    secret_set(&sk, "secret", 6);
    memset(&o, 0, sizeof(o));
    o.name = "x";
    o.region = "us-east-1";
    o.path_style = 0;
    o.access_key = &ak;
    o.secret_key = &sk;
    o.endpoint = "https://nyc3.digitaloceanspaces.com";
    o.bucket = "backups-nyc";
    CHECK_OK(s3_client_new(&o, &nyc, unit_err()));
    o.bucket = "other-nyc";
    CHECK_OK(s3_client_new(&o, &nyc2, unit_err()));
    o.endpoint = "https://ams3.digitaloceanspaces.com";
    o.bucket = "backups-ams";
    CHECK_OK(s3_client_new(&o, &ams, unit_err()));
    CHECK(!s3_client_same_service(nyc, ams));
    CHECK(!s3_client_same_service(ams, nyc));
    CHECK(s3_client_same_service(nyc, nyc2));
    s3_client_free(nyc);
    s3_client_free(nyc2);
    s3_client_free(ams);
    secret_release(&ak);
    secret_release(&sk);
}

struct list_seen {
    char keys[8][256];
    int count;
};

static int list_collect(const struct store_entry *e, void *ctx, struct error *err)
{
    struct list_seen *seen = ctx;

    (void)err;
    CHECK(seen->count < 8);
    snprintf(seen->keys[seen->count++], sizeof(seen->keys[0]), "%s", e->key);
    return 0;
}

/* Keys that need encoding in the path and in the listing's prefix= and continuation-token=. */
static void test_s3_store_round_trips_keys_that_need_encoding(void)
{
    static const char *const keys[] = {
        "d ir/a b", "d ir/a+b", "d ir/a%20b", "d ir/a~b", "d ir/\xc3\xa9t\xc3\xa9", "d ir/x=y&z"};
    const size_t key_count = sizeof(keys) / sizeof(keys[0]);
    struct fake f;
    struct store_options o;
    struct secret ak = SECRET_INIT, sk = SECRET_INIT;
    struct store *s = NULL;
    struct list_seen seen;

    fake_start(&f, "{\"rules\": [], \"settings\": {\"page_size\": 2}}");
    opts_for(&o, &f, &ak, &sk);
    o.prefix = "p re+";
    CHECK_OK(store_open(&o, &s, unit_err()));
    for (size_t i = 0; i < key_count; i++)
        CHECK_OK(store_put_bytes(s, keys[i], keys[i], strlen(keys[i]), unit_err()));
    for (size_t i = 0; i < key_count; i++) {
        struct store_reader *r = NULL;
        struct store_entry e;
        bool exists = false;
        char data[256];
        size_t got = 0;
        CHECK_OK(store_stat(s, keys[i], &e, &exists, unit_err()));
        CHECK(exists);
        CHECK_INT_EQ(e.size_bytes, strlen(keys[i]));
        CHECK_OK(store_get_open(s, keys[i], &r, unit_err()));
        CHECK_OK(store_reader_read(r, data, sizeof(data) - 1, &got, unit_err()));
        data[got] = '\0';
        CHECK_STR_EQ(data, keys[i]);
        store_reader_close(r);
    }
    memset(&seen, 0, sizeof(seen));
    CHECK_OK(store_list_partial(s, "d ir/", list_collect, &seen, unit_err()));
    CHECK_INT_EQ(seen.count, key_count);
    /* Byte order: ' ' < '%' < '+' < '=' (x=y) ... */
    CHECK_STR_EQ(seen.keys[0], "d ir/a b");
    CHECK_STR_EQ(seen.keys[1], "d ir/a%20b");
    CHECK_STR_EQ(seen.keys[2], "d ir/a+b");
    CHECK_STR_EQ(seen.keys[3], "d ir/a~b");
    CHECK_STR_EQ(seen.keys[4], "d ir/x=y&z");
    CHECK_STR_EQ(seen.keys[5], "d ir/\xc3\xa9t\xc3\xa9");
    CHECK_OK(store_remove_prefix(s, "d ir/", unit_err()));
    memset(&seen, 0, sizeof(seen));
    CHECK_OK(store_list(s, "", list_collect, &seen, unit_err()));
    CHECK_INT_EQ(seen.count, 0);
    store_free(s);
    fake_stop(&f);
    secret_release(&ak);
    secret_release(&sk);
}

/* STS session tokens have no documented maximum length; long ones are common with role chaining
 * and session tags. */
static void test_s3_store_takes_a_long_session_token(void)
{
    struct fake f;
    struct store_options o;
    struct secret ak = SECRET_INIT, sk = SECRET_INIT, tok = SECRET_INIT;
    struct store *s = NULL;
    char token[4097];

    memset(token, 'T', sizeof(token) - 1);
    token[sizeof(token) - 1] = '\0';
    secret_set(&tok, token, strlen(token));
    fake_start(&f, NULL);
    opts_for(&o, &f, &ak, &sk);
    o.session_token = &tok;
    CHECK_OK(store_open(&o, &s, unit_err()));
    CHECK_OK(store_put_bytes(s, "k", "x", 1, unit_err()));
    store_free(s);
    fake_stop(&f);
    secret_release(&ak);
    secret_release(&sk);
    secret_release(&tok);
}

/* Fetches the fake's state (buckets, objects, uploads in progress) into a string (xfree). */
static char *fake_state(const struct fake *f)
{
    char url[128];
    char out[512];
    const char *argv[] = {"curl", "-sS", "--max-time", "10", url, NULL};
    FILE *fp;
    char *text = xcalloc(1, 1 << 20);
    size_t n;

    snprintf(url, sizeof(url), "%s/__control/state", f->endpoint);
    snprintf(out, sizeof(out), "%s/state.json", unit_tmp_dir());
    CHECK_INT_EQ(unit_run_cmd(argv, NULL, out), 0);
    fp = fopen(out, "r");
    CHECK(fp != NULL);
    n = fread(text, 1, (1 << 20) - 1, fp);
    text[n] = '\0';
    fclose(fp);
    return text;
}

/* Writes len bytes of a pattern to key through a writer; returns what commit returned (the
 * writer is gone either way), or -1 when a write failed (then the writer was aborted). */
static int put_pattern(struct store *s, const char *key, size_t len, struct error *err)
{
    struct store_writer *w = NULL;
    char chunk[65536];

    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)(i * 7);
    CHECK_OK(store_put_open(s, key, &w, unit_err()));
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);
        if (store_writer_write(w, chunk, n, err) < 0) {
            store_writer_abort(w);
            return -1;
        }
        done += n;
    }
    return store_writer_commit(w, err);
}

/* A part refused for good while the next one is in flight: the write fails with the S3 code,
 * the upload is aborted (nothing left in progress) and no object appears. */
static void test_s3_store_part_refused_aborts_the_upload(void)
{
    struct fake f;
    struct store_options o;
    struct secret ak = SECRET_INIT, sk = SECRET_INIT;
    struct store *s = NULL;
    struct error err = ERROR_INIT;
    char *state;

    fake_start(&f, "[{\"method\": \"PUT\", \"query\": \"partNumber=2\", \"status\": 403, "
                   "\"code\": \"AccessDenied\", \"times\": 0}]");
    opts_for(&o, &f, &ak, &sk);
    CHECK_OK(store_open(&o, &s, unit_err()));
    CHECK_ERR(put_pattern(s, "d/big", (17u << 20) + 5, &err), err, ERR_REMOTE, "AccessDenied");
    CHECK(strstr(err.msg, "part 2") != NULL);
    CHECK_INT_EQ(fake_count(&f, "\"DELETE\"", "uploadId="), 1);
    state = fake_state(&f);
    CHECK(strstr(state, "\"uploads\": []") != NULL);
    CHECK(strstr(state, "d/big") == NULL);
    xfree(state);
    /* A small object is a single PUT, which the rule does not touch. */
    CHECK_OK(put_pattern(s, "d/ok", 1000, unit_err()));
    store_free(s);
    fake_stop(&f);
    secret_release(&ak);
    secret_release(&sk);
}

/* Starts a multipart upload of bucket key with curl (the fake checks no signature). */
static void fake_start_upload(const struct fake *f, const char *key)
{
    char url[512];
    const char *argv[] = {"curl",
                          "-sS",
                          "--fail",
                          "--max-time",
                          "10",
                          "-X",
                          "POST",
                          "-H",
                          "Authorization: AWS4-HMAC-SHA256 Credential=AKID/x",
                          "-H",
                          "x-amz-content-sha256: "
                          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                          url,
                          NULL};

    snprintf(url, sizeof(url), "%s/bkt/%s?uploads", f->endpoint, key);
    CHECK_INT_EQ(unit_run_cmd(argv, NULL, NULL), 0);
}

/* Unfinished uploads sort in among the objects, across listing pages. */
static void test_s3_store_lists_unfinished_uploads_in_key_order(void)
{
    struct fake f;
    struct store_options o;
    struct secret ak = SECRET_INIT, sk = SECRET_INIT;
    struct store *s = NULL;
    struct list_seen seen;

    fake_start(&f, "{\"rules\": [], \"settings\": {\"page_size\": 1}}");
    opts_for(&o, &f, &ak, &sk);
    CHECK_OK(store_open(&o, &s, unit_err()));
    CHECK_OK(store_put_bytes(s, "d/a", "a", 1, unit_err()));
    CHECK_OK(store_put_bytes(s, "d/c", "c", 1, unit_err()));
    fake_start_upload(&f, "pre/d/b");
    fake_start_upload(&f, "pre/d/d");
    fake_start_upload(&f, "pre/e/x"); /* outside the listed prefix */
    memset(&seen, 0, sizeof(seen));
    CHECK_OK(store_list_partial(s, "d/", list_collect, &seen, unit_err()));
    CHECK_INT_EQ(seen.count, 4);
    CHECK_STR_EQ(seen.keys[0], "d/a");
    CHECK_STR_EQ(seen.keys[1], "d/b");
    CHECK_STR_EQ(seen.keys[2], "d/c");
    CHECK_STR_EQ(seen.keys[3], "d/d");
    memset(&seen, 0, sizeof(seen));
    CHECK_OK(store_list(s, "d/", list_collect, &seen, unit_err()));
    CHECK_INT_EQ(seen.count, 2);
    /* remove_prefix also aborts the unfinished uploads under the prefix, and only those. */
    CHECK_OK(store_remove_prefix(s, "d/", unit_err()));
    memset(&seen, 0, sizeof(seen));
    CHECK_OK(store_list_partial(s, "", list_collect, &seen, unit_err()));
    CHECK_INT_EQ(seen.count, 1);
    CHECK_STR_EQ(seen.keys[0], "e/x");
    store_free(s);
    fake_stop(&f);
    secret_release(&ak);
    secret_release(&sk);
}

/* SIGINT in the middle of a multipart upload: the write fails as cancelled, and the upload is
 * still aborted on the way out, so no unfinished upload is left to bill for. */
static void test_s3_store_sigint_still_aborts_the_upload(void)
{
    struct fake f;
    struct store_options o;
    struct secret ak = SECRET_INIT, sk = SECRET_INIT;
    struct store *s = NULL;
    struct store_writer *w = NULL;
    struct error err = ERROR_INIT;
    char *chunk = xcalloc(1, 6u << 20);
    char *state;

    /* Part 1 is held by the server, so the upload is in progress when the signal comes. */
    fake_start(&f, "[{\"method\": \"PUT\", \"query\": \"partNumber=1\", \"stall_seconds\": 30}]");
    opts_for(&o, &f, &ak, &sk);
    CHECK_OK(store_open(&o, &s, unit_err()));
    cancel_install_handlers();
    CHECK_OK(store_put_open(s, "d/big", &w, unit_err()));
    CHECK_OK(store_writer_write(w, chunk, 6u << 20, unit_err())); /* initiate, part 1 in flight */
    raise(SIGINT);
    CHECK(cancel_requested());
    CHECK_ERR(store_writer_commit(w, &err), err, ERR_CANCELLED, "cancelled");
    CHECK_INT_EQ(fake_count(&f, "\"DELETE\"", "uploadId="), 1);
    state = fake_state(&f);
    CHECK(strstr(state, "\"uploads\": []") != NULL);
    xfree(state);
    xfree(chunk);
    store_free(s);
    fake_stop(&f);
    secret_release(&ak);
    secret_release(&sk);
}

/* On AWS a dotted bucket is addressed path-style by default (TLS certificates cover one label). */
static void test_s3_dotted_bucket_defaults_to_path_style_on_aws(void)
{
    struct s3_client_options o;
    struct secret ak = SECRET_INIT, sk = SECRET_INIT;
    struct s3_client *c = NULL;

    secret_set(&ak, "AKID", 4);
    secret_set(&sk, "secret", 6);
    memset(&o, 0, sizeof(o));
    o.name = "x";
    o.region = "eu-west-1";
    o.path_style = -1;
    o.access_key = &ak;
    o.secret_key = &sk;
    o.bucket = "backups.example.org";
    CHECK_OK(s3_client_new(&o, &c, unit_err()));
    CHECK_STR_EQ(s3_client_location(c), "https://s3.eu-west-1.amazonaws.com/backups.example.org");
    s3_client_free(c);
    o.bucket = "backups-example";
    CHECK_OK(s3_client_new(&o, &c, unit_err()));
    CHECK_STR_EQ(s3_client_location(c), "s3://backups-example (s3.eu-west-1.amazonaws.com)");
    s3_client_free(c);
    o.bucket = "backups.example.org";
    o.path_style = 0; /* asked for explicitly: kept */
    CHECK_OK(s3_client_new(&o, &c, unit_err()));
    CHECK_STR_EQ(s3_client_location(c), "s3://backups.example.org (s3.eu-west-1.amazonaws.com)");
    s3_client_free(c);
    secret_release(&ak);
    secret_release(&sk);
}

const struct unit_test s3_store_tests[] = {
    {"test_s3_dotted_bucket_defaults_to_path_style_on_aws",
     test_s3_dotted_bucket_defaults_to_path_style_on_aws},
    {"test_s3_store_sigint_still_aborts_the_upload", test_s3_store_sigint_still_aborts_the_upload},
    {"test_s3_store_part_refused_aborts_the_upload", test_s3_store_part_refused_aborts_the_upload},
    {"test_s3_store_lists_unfinished_uploads_in_key_order",
     test_s3_store_lists_unfinished_uploads_in_key_order},
    {"test_s3_same_service_compares_virtual_hosted_endpoints",
     test_s3_same_service_compares_virtual_hosted_endpoints},
    {"test_s3_store_round_trips_keys_that_need_encoding",
     test_s3_store_round_trips_keys_that_need_encoding},
    {"test_s3_store_takes_a_long_session_token", test_s3_store_takes_a_long_session_token},
    {NULL, NULL},
};
