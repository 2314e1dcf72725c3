/* sources/redis.c: URL and INFO parsing (pure), and the client against real redis-server processes
 * that each test starts on a free 127.0.0.1 port in its scratch directory: AUTH (password and ACL
 * user), refusals, the replica handshake in disk and diskless mode (the payload checked with
 * redis-check-rdb and against `redis-cli --rdb`), the logical export replayed into a second server
 * (DEBUG DIGEST, DBSIZE and expiries equal), and TLS with a throwaway CA. A missing redis-server
 * fails these tests: they are the point of the suite. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sources/redis.h"
#include "unit.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/xalloc.h"

/* Runs argv without a shell, stdout and stderr on /dev/null (redis-cli and openssl are chatty).
 * Returns the exit status, or -1. */
static int test_run_quiet(const char *const *argv)
{
    pid_t pid = fork();
    int status = 0;

    CHECK(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            (void)dup2(devnull, 0);
            (void)dup2(devnull, 1);
            (void)dup2(devnull, 2);
        }
        execvp(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- URL ---- */

static void test_redis_url_parse_accepts_the_documented_forms(void)
{
    struct redis_url u;

    CHECK_OK(redis_url_parse("redis://localhost", &u, unit_err()));
    CHECK(!u.tls);
    CHECK_STR_EQ(u.host, "localhost");
    CHECK_INT_EQ(u.port, 6379);
    CHECK(u.user == NULL);
    CHECK(!secret_is_set(&u.password));
    CHECK_INT_EQ(u.db, 0);
    redis_url_release(&u);

    CHECK_OK(
        redis_url_parse("rediss://backup:p%40ss%2Fw:rd@cache.example.org:6380/3", &u, unit_err()));
    CHECK(u.tls);
    CHECK_STR_EQ(u.host, "cache.example.org");
    CHECK_INT_EQ(u.port, 6380);
    CHECK_STR_EQ(u.user, "backup");
    CHECK_STR_EQ(u.password.value, "p@ss/w:rd");
    CHECK_INT_EQ(u.db, 3);
    redis_url_release(&u);

    /* ":pass@" carries no user; a lone "name@" is a user with no password (RFC 3986 user info,
     * as redis-rb and redis-py read it) */
    CHECK_OK(redis_url_parse("redis://:secret@10.0.0.1:7000/", &u, unit_err()));
    CHECK(u.user == NULL);
    CHECK_STR_EQ(u.password.value, "secret");
    CHECK_STR_EQ(u.host, "10.0.0.1");
    CHECK_INT_EQ(u.port, 7000);
    redis_url_release(&u);
    CHECK_OK(redis_url_parse("redis://backup@h", &u, unit_err()));
    CHECK_STR_EQ(u.user, "backup");
    CHECK(!secret_is_set(&u.password));
    redis_url_release(&u);

    /* an unescaped '@' in the password: the user info ends at the last '@' */
    CHECK_OK(redis_url_parse("redis://u:a@b@h:1", &u, unit_err()));
    CHECK_STR_EQ(u.password.value, "a@b");
    CHECK_STR_EQ(u.host, "h");
    redis_url_release(&u);

    CHECK_OK(redis_url_parse("redis://[::1]:6390/15", &u, unit_err()));
    CHECK_STR_EQ(u.host, "::1");
    CHECK_INT_EQ(u.port, 6390);
    CHECK_INT_EQ(u.db, 15);
    redis_url_release(&u);

    CHECK_OK(redis_url_parse("REDIS://[fe80::1]", &u, unit_err()));
    CHECK_STR_EQ(u.host, "fe80::1");
    CHECK_INT_EQ(u.port, 6379);
    redis_url_release(&u);
}

static void test_redis_url_parse_rejects_junk_without_the_password(void)
{
    struct redis_url u;
    struct error err = ERROR_INIT;

    CHECK_ERR(redis_url_parse("http://h", &u, &err), err, ERR_CONFIG, "unsupported scheme 'http'");
    CHECK_ERR(redis_url_parse("unix:///tmp/redis.sock", &u, &err), err, ERR_CONFIG,
              "unsupported scheme 'unix'");
    CHECK_ERR(redis_url_parse("localhost:6379", &u, &err), err, ERR_CONFIG,
              "must start with redis://");
    CHECK_ERR(redis_url_parse("redis://", &u, &err), err, ERR_CONFIG, "no host");
    CHECK_ERR(redis_url_parse("redis://:pw@", &u, &err), err, ERR_CONFIG, "no host");
    CHECK_ERR(redis_url_parse("redis://h:0", &u, &err), err, ERR_CONFIG,
              "port '0' is not a number from 1 to 65535");
    CHECK_ERR(redis_url_parse("redis://h:65536", &u, &err), err, ERR_CONFIG, "port '65536'");
    CHECK_ERR(redis_url_parse("redis://h:", &u, &err), err, ERR_CONFIG, "port ''");
    CHECK_ERR(redis_url_parse("redis://h:99999999999999999999", &u, &err), err, ERR_CONFIG, "port");
    CHECK_ERR(redis_url_parse("redis://h:6379/x", &u, &err), err, ERR_CONFIG, "unexpected 'x'");
    CHECK_ERR(redis_url_parse("redis://h/1?timeout=3", &u, &err), err, ERR_CONFIG,
              "unexpected '?timeout=3'");
    CHECK_ERR(redis_url_parse("redis://h/12345678901", &u, &err), err, ERR_CONFIG,
              "database '12345678901'");
    CHECK_ERR(redis_url_parse("redis://[::1", &u, &err), err, ERR_CONFIG, "unterminated");
    CHECK_ERR(redis_url_parse("redis://[zz]:1", &u, &err), err, ERR_CONFIG, "bad IPv6");
    CHECK_ERR(redis_url_parse("redis://u:hunter%2@h", &u, &err), err, ERR_CONFIG,
              "bad percent-escape in the password");
    CHECK(!strstr(err.msg, "hunter"));
    CHECK_ERR(redis_url_parse("redis://u:hunter%00@h", &u, &err), err, ERR_CONFIG,
              "bad percent-escape in the password");
    CHECK_ERR(redis_url_parse("redis://u%zz:pw@h", &u, &err), err, ERR_CONFIG,
              "bad percent-escape in the user name");
    CHECK_ERR(redis_url_parse("redis://u:hunter2@h h", &u, &err), err, ERR_CONFIG, "unexpected");
    CHECK(!strstr(err.msg, "hunter2"));
}

static void test_redis_url_redacted_hides_the_password(void)
{
    char *s;

    s = redis_url_redacted("rediss://backup:hunter2@h:6380/1");
    CHECK_STR_EQ(s, "rediss://backup:***@h:6380/1");
    xfree(s);
    s = redis_url_redacted("redis://:a@b@h");
    CHECK_STR_EQ(s, "redis://:***@h");
    xfree(s);
    /* a lone "name@" is a user name, shown as it is */
    s = redis_url_redacted("redis://backup@h");
    CHECK_STR_EQ(s, "redis://backup@h");
    xfree(s);
    s = redis_url_redacted("redis://h:1");
    CHECK_STR_EQ(s, "redis://h:1");
    xfree(s);
}

/* ---- INFO ---- */

/* The shape of Redis 7.0.15's INFO (fields trimmed), as Debian's redis-server prints it. */
static const char info_redis7[] = "# Server\r\n"
                                  "redis_version:7.0.15\r\n"
                                  "redis_git_sha1:00000000\r\n"
                                  "redis_mode:standalone\r\n"
                                  "os:Linux 6.1.0-26-amd64 x86_64\r\n"
                                  "tcp_port:6379\r\n"
                                  "\r\n"
                                  "# Clients\r\n"
                                  "connected_clients:1\r\n"
                                  "\r\n"
                                  "# Memory\r\n"
                                  "used_memory:1145832\r\n"
                                  "used_memory_human:1.09M\r\n"
                                  "\r\n"
                                  "# Persistence\r\n"
                                  "loading:0\r\n"
                                  "rdb_last_bgsave_status:ok\r\n"
                                  "aof_enabled:0\r\n"
                                  "\r\n"
                                  "# Replication\r\n"
                                  "role:master\r\n"
                                  "connected_slaves:0\r\n"
                                  "\r\n"
                                  "# Keyspace\r\n"
                                  "db3:keys=2,expires=1,avg_ttl=5000\r\n"
                                  "db0:keys=120,expires=7,avg_ttl=0\r\n";

/* Valkey 8's server section as published in percona/pmm's TestExtractValkeyVersion sample
 * (server_name, valkey_version 8.1.1 next to the frozen redis_version 7.2.4), with memory,
 * persistence and keyspace sections in Valkey's layout (Redis 7.4 / Valkey 8 add subexpiry). */
static const char info_valkey8[] = "# Server\n"
                                   "redis_version:7.2.4\n"
                                   "server_name:valkey\n"
                                   "valkey_version:8.1.1\n"
                                   "valkey_release_stage:ga\n"
                                   "redis_git_sha1:00000000\n"
                                   "server_mode:standalone\n"
                                   "tcp_port:6379\n"
                                   "\n"
                                   "# Memory\n"
                                   "used_memory:987654\n"
                                   "\n"
                                   "# Persistence\n"
                                   "aof_enabled:1\n"
                                   "\n"
                                   "# Replication\n"
                                   "role:slave\n"
                                   "\n"
                                   "# Keyspace\n"
                                   "db0:keys=5,expires=0,avg_ttl=0,subexpiry=0\n";

static void test_redis_info_parse_redis_7(void)
{
    struct redis_info info;

    CHECK_OK(redis_info_parse(info_redis7, sizeof(info_redis7) - 1, &info, unit_err()));
    CHECK_STR_EQ(info.server_name, "redis");
    CHECK_STR_EQ(info.version, "7.0.15");
    CHECK_STR_EQ(info.redis_version, "7.0.15");
    CHECK_STR_EQ(info.role, "master");
    CHECK_INT_EQ(info.used_memory, 1145832);
    CHECK(!info.aof_enabled);
    CHECK_INT_EQ(info.db_count, 2);
    CHECK_INT_EQ(info.dbs[0].db, 0);
    CHECK_INT_EQ(info.dbs[0].keys, 120);
    CHECK_INT_EQ(info.dbs[0].expires, 7);
    CHECK_INT_EQ(info.dbs[1].db, 3);
    CHECK_INT_EQ(info.dbs[1].keys, 2);
    CHECK_INT_EQ(info.dbs[1].expires, 1);
    redis_info_release(&info);
}

static void test_redis_info_parse_valkey_8(void)
{
    struct redis_info info;
    const char valkey72[] = "# Server\nredis_version:7.2.4\nvalkey_version:7.2.5\n";

    CHECK_OK(redis_info_parse(info_valkey8, sizeof(info_valkey8) - 1, &info, unit_err()));
    CHECK_STR_EQ(info.server_name, "valkey");
    CHECK_STR_EQ(info.version, "8.1.1");
    CHECK_STR_EQ(info.redis_version, "7.2.4");
    CHECK_STR_EQ(info.role, "slave");
    CHECK_INT_EQ(info.used_memory, 987654);
    CHECK(info.aof_enabled);
    CHECK_INT_EQ(info.db_count, 1);
    CHECK_INT_EQ(info.dbs[0].keys, 5);
    redis_info_release(&info);

    /* valkey_version without server_name (Valkey 7.2.5 before the field) still says valkey */
    CHECK_OK(redis_info_parse(valkey72, sizeof(valkey72) - 1, &info, unit_err()));
    CHECK_STR_EQ(info.server_name, "valkey");
    CHECK_STR_EQ(info.version, "7.2.5");
    CHECK_INT_EQ(info.used_memory, -1);
    CHECK_INT_EQ(info.db_count, 0);
    redis_info_release(&info);
}

static void test_redis_info_parse_rejects_bad_fields(void)
{
    struct redis_info info;
    struct error err = ERROR_INIT;
    const char no_version[] = "# Server\nredis_mode:standalone\n";
    const char bad_db[] = "# Server\nredis_version:7.0.0\n# Keyspace\ndbx:keys=1\n";
    const char bad_keys[] = "# Server\nredis_version:7.0.0\n# Keyspace\ndb0:keys=-1,expires=0\n";
    const char twice[] = "# Server\nredis_version:7.0.0\n# Keyspace\ndb0:keys=1\ndb0:keys=2\n";
    const char no_keys[] = "# Server\nredis_version:7.0.0\n# Keyspace\ndb0:expires=2\n";
    const char bad_mem[] = "# Server\nredis_version:7.0.0\n# Memory\nused_memory:lots\n";

    CHECK_ERR(redis_info_parse(no_version, sizeof(no_version) - 1, &info, &err), err, ERR_REMOTE,
              "no redis_version");
    CHECK_ERR(redis_info_parse(bad_db, sizeof(bad_db) - 1, &info, &err), err, ERR_REMOTE,
              "bad database number");
    CHECK_ERR(redis_info_parse(bad_keys, sizeof(bad_keys) - 1, &info, &err), err, ERR_REMOTE,
              "bad key count for db0");
    CHECK_ERR(redis_info_parse(twice, sizeof(twice) - 1, &info, &err), err, ERR_REMOTE,
              "db0 listed twice");
    CHECK_ERR(redis_info_parse(no_keys, sizeof(no_keys) - 1, &info, &err), err, ERR_REMOTE,
              "no key count");
    CHECK_ERR(redis_info_parse(bad_mem, sizeof(bad_mem) - 1, &info, &err), err, ERR_REMOTE,
              "used_memory");
}

/* ---- real servers ---- */

struct test_server {
    pid_t pid;
    int port;
    char dir[512];
    char url[128];
};

static int test_free_port(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    CHECK(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts redis-server with the base options plus extra (NULL-terminated) and waits until it
 * answers. When tls_dir is set, the server listens with TLS only on the port, using the files made
 * by test_make_certs there. */
static void test_server_start(struct test_server *s, const char *name, const char *tls_dir,
                              const char *password, const char *const *extra)
{
    char port[16];
    char log[600];
    char cert[600], key[600], ca[600];
    const char *argv[48];
    size_t n = 0;
    struct stat st;

    memset(s, 0, sizeof(*s));
    s->port = test_free_port();
    buf_format_fixed(s->dir, sizeof(s->dir), "%s/%s", unit_tmp_dir(), name);
    CHECK(mkdir(s->dir, 0700) == 0);
    buf_format_fixed(port, sizeof(port), "%d", s->port);
    buf_format_fixed(log, sizeof(log), "%s/server.log", s->dir);
    argv[n++] = "redis-server";
    if (tls_dir) {
        buf_format_fixed(cert, sizeof(cert), "%s/server.crt", tls_dir);
        buf_format_fixed(key, sizeof(key), "%s/server.key", tls_dir);
        buf_format_fixed(ca, sizeof(ca), "%s/ca.crt", tls_dir);
        argv[n++] = "--port";
        argv[n++] = "0";
        argv[n++] = "--tls-port";
        argv[n++] = port;
        argv[n++] = "--tls-cert-file";
        argv[n++] = cert;
        argv[n++] = "--tls-key-file";
        argv[n++] = key;
        argv[n++] = "--tls-ca-cert-file";
        argv[n++] = ca;
        argv[n++] = "--tls-auth-clients";
        argv[n++] = "no";
        argv[n++] = "--tls-replication";
        argv[n++] = "yes";
    } else {
        argv[n++] = "--port";
        argv[n++] = port;
    }
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--dir";
    argv[n++] = s->dir;
    argv[n++] = "--logfile";
    argv[n++] = log;
    argv[n++] = "--enable-debug-command";
    argv[n++] = "yes";
    for (size_t i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    CHECK(n < sizeof(argv) / sizeof(argv[0]));

    s->pid = fork();
    CHECK(s->pid >= 0);
    if (s->pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        /* dies with the test, whatever way the test ends */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (devnull >= 0) {
            (void)dup2(devnull, 0);
            (void)dup2(devnull, 1);
        }
        execvp("redis-server", (char *const *)(uintptr_t)argv);
        fprintf(stderr, "    exec redis-server: %s (is redis-server installed?)\n",
                strerror(errno));
        _exit(127);
    }
    buf_format_fixed(s->url, sizeof(s->url), "%s://127.0.0.1:%d", tls_dir ? "rediss" : "redis",
                     s->port);
    for (int i = 0; i < 300; i++) {
        struct redis_options o;
        struct redis_conn *c = NULL;
        struct error err = ERROR_INIT;
        int status = 0;
        char cafile[600];

        if (waitpid(s->pid, &status, WNOHANG) == s->pid)
            unit_fail(__FILE__, __LINE__, "redis-server exited (status %d); see %s", status, log);
        memset(&o, 0, sizeof(o));
        o.url = s->url;
        o.password = password;
        o.tls_verify = false;
        o.connect_timeout_ms = 1000;
        o.io_timeout_ms = 2000;
        if (tls_dir) {
            buf_format_fixed(cafile, sizeof(cafile), "%s/ca.crt", tls_dir);
            o.ca_file = cafile;
        }
        if (redis_connect(&o, &c, &err) == 0) {
            redis_close(c);
            return;
        }
        test_sleep_ms(50);
    }
    (void)stat(log, &st);
    unit_fail(__FILE__, __LINE__, "redis-server on port %d did not answer; see %s", s->port, log);
}

static void test_server_stop(struct test_server *s)
{
    int status = 0;

    if (s->pid <= 0)
        return;
    (void)kill(s->pid, SIGKILL);
    (void)waitpid(s->pid, &status, 0);
    s->pid = 0;
}

static struct redis_conn *test_connect(const struct test_server *s, const char *url,
                                       const char *password)
{
    struct redis_options o;
    struct redis_conn *c = NULL;

    memset(&o, 0, sizeof(o));
    o.url = url ? url : s->url;
    o.password = password;
    o.tls_verify = true;
    o.io_timeout_ms = 20000;
    CHECK_OK(redis_connect(&o, &c, unit_err()));
    return c;
}

/* Runs a command given as words (NULL-terminated); returns the reply. */
static struct resp_value *test_cmd_v(struct redis_conn *c, const char *const *words)
{
    struct resp_value *reply = NULL;
    size_t n = 0;

    while (words[n])
        n++;
    CHECK_OK(redis_command(c, n, words, NULL, &reply, unit_err()));
    return reply;
}

#define TEST_CMD(c, ...) test_cmd_v((c), (const char *const[]){__VA_ARGS__, NULL})

/* Runs a command that must not fail. */
static void test_cmd_ok(struct redis_conn *c, const char *const *words)
{
    struct resp_value *r = test_cmd_v(c, words);
    if (r->type == RESP_ERROR)
        unit_fail(__FILE__, __LINE__, "%s: -%s", words[0], r->str);
    resp_value_free(r);
}

#define TEST_OK(c, ...) test_cmd_ok((c), (const char *const[]){__VA_ARGS__, NULL})

static int64_t test_cmd_int(struct redis_conn *c, const char *const *words)
{
    struct resp_value *r = test_cmd_v(c, words);
    int64_t v;

    if (r->type != RESP_INTEGER)
        unit_fail(__FILE__, __LINE__, "%s: not an integer reply", words[0]);
    v = r->integer;
    resp_value_free(r);
    return v;
}

#define TEST_INT(c, ...) test_cmd_int((c), (const char *const[]){__VA_ARGS__, NULL})

static char *test_cmd_str(struct redis_conn *c, const char *const *words)
{
    struct resp_value *r = test_cmd_v(c, words);
    char *s;

    if (r->type != RESP_BULK && r->type != RESP_SIMPLE)
        unit_fail(__FILE__, __LINE__, "%s: not a string reply", words[0]);
    s = xstrdup(r->str);
    resp_value_free(r);
    return s;
}

#define TEST_STR(c, ...) test_cmd_str((c), (const char *const[]){__VA_ARGS__, NULL})

/* A small dataset shaped like Mastodon's, in db 0 and db 3: feeds as sorted sets, queues as
 * lists, hashes, sets, a stream, strings with and without TTL, and one 300 KB value. */
static void test_fill(struct redis_conn *c)
{
    char key[64], member[64], score[32];
    char *big = xmalloc(300001);

    TEST_OK(c, "SELECT", "0");
    for (int i = 0; i < 40; i++) {
        buf_format_fixed(key, sizeof(key), "feed:home:%d", i);
        for (int j = 0; j < 20; j++) {
            buf_format_fixed(member, sizeof(member), "1099%08d", i * 100 + j);
            buf_format_fixed(score, sizeof(score), "%d", j);
            TEST_OK(c, "ZADD", key, score, member);
        }
    }
    for (int i = 0; i < 30; i++) {
        buf_format_fixed(member, sizeof(member), "{\"class\":\"Job\",\"jid\":\"%d\"}", i);
        TEST_OK(c, "RPUSH", "queue:default", member);
    }
    TEST_OK(c, "HSET", "account:1", "name", "ada", "note", "bin\r\n\x01");
    TEST_OK(c, "SADD", "tags", "a", "b", "c");
    TEST_OK(c, "XADD", "stream:1", "*", "f", "v");
    for (int i = 0; i < 50; i++) {
        buf_format_fixed(key, sizeof(key), "cache:%d", i);
        TEST_OK(c, "SET", key, "value", "EX", "3600");
    }
    TEST_OK(c, "SET", "plain", "no ttl");
    /* not compressible, so the payload spans many reads */
    uint32_t x = 12345;
    for (int i = 0; i < 300000; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (char)('!' + (x >> 16) % 90);
    }
    big[300000] = '\0';
    TEST_OK(c, "SET", "big", big);
    TEST_OK(c, "SELECT", "3");
    TEST_OK(c, "SET", "other", "db three", "PX", "7200000");
    TEST_OK(c, "LPUSH", "list3", "x", "y");
    TEST_OK(c, "SELECT", "0");
    xfree(big);
}

static void test_check_digest_equal(struct redis_conn *a, struct redis_conn *b)
{
    char *da = TEST_STR(a, "DEBUG", "DIGEST");
    char *db = TEST_STR(b, "DEBUG", "DIGEST");

    CHECK_STR_EQ(da, db);
    CHECK(strcmp(da, "0000000000000000000000000000000000000000") != 0);
    xfree(da);
    xfree(db);
    for (int i = 0; i < 16; i++) {
        char n[8];
        buf_format_fixed(n, sizeof(n), "%d", i);
        TEST_OK(a, "SELECT", n);
        TEST_OK(b, "SELECT", n);
        CHECK_INT_EQ(TEST_INT(a, "DBSIZE"), TEST_INT(b, "DBSIZE"));
    }
    TEST_OK(a, "SELECT", "0");
    TEST_OK(b, "SELECT", "0");
}

static void test_redis_connect_auth_and_wrong_password(void)
{
    const char *extra[] = {"--requirepass", "s3cr3t pw", NULL};
    struct test_server s;
    struct redis_options o;
    struct redis_conn *c = NULL;
    struct error err = ERROR_INIT;
    char url[200];

    test_server_start(&s, "auth", NULL, "s3cr3t pw", extra);
    /* the password from the options, then from the URL (percent-encoded) */
    c = test_connect(&s, NULL, "s3cr3t pw");
    CHECK_STR_EQ(redis_peer(c), s.url + 8);
    TEST_OK(c, "ACL", "SETUSER", "backup", "on", ">bk pw", "~*", "+@all");
    redis_close(c);
    buf_format_fixed(url, sizeof(url), "redis://:s3cr3t%%20pw@127.0.0.1:%d", s.port);
    c = test_connect(&s, url, NULL);
    redis_close(c);
    buf_format_fixed(url, sizeof(url), "redis://backup:bk%%20pw@127.0.0.1:%d", s.port);
    c = test_connect(&s, url, NULL);
    {
        char *who = TEST_STR(c, "ACL", "WHOAMI");
        CHECK_STR_EQ(who, "backup");
        xfree(who);
    }
    redis_close(c);

    memset(&o, 0, sizeof(o));
    o.url = s.url;
    o.password = "wrong";
    o.tls_verify = true;
    CHECK_ERR(redis_connect(&o, &c, &err), err, ERR_REMOTE, "authentication failed: -WRONGPASS");
    CHECK(strstr(err.hint, "password = env:"));
    CHECK(!strstr(err.msg, "wrong\""));
    buf_format_fixed(url, sizeof(url), "redis://backup:nope@127.0.0.1:%d", s.port);
    o.url = url;
    o.password = NULL;
    CHECK_ERR(redis_connect(&o, &c, &err), err, ERR_REMOTE, "authentication failed");
    CHECK(!strstr(err.msg, "nope"));

    /* no password at all: the server's NOAUTH becomes "needs a password" */
    o.url = s.url;
    o.password = NULL;
    CHECK_ERR(redis_connect(&o, &c, &err), err, ERR_REMOTE, "the server needs a password");
    CHECK(strstr(err.hint, "password = env:NAME"));
    test_server_stop(&s);
}

static void test_redis_connect_refused_names_host_and_hint(void)
{
    struct redis_options o;
    struct redis_conn *c = NULL;
    struct error err = ERROR_INIT;
    char url[64];
    int port = test_free_port();

    buf_format_fixed(url, sizeof(url), "redis://127.0.0.1:%d", port);
    memset(&o, 0, sizeof(o));
    o.url = url;
    CHECK_ERR(redis_connect(&o, &c, &err), err, ERR_NETWORK, url + 8);
    CHECK(strstr(err.msg, "Connection refused"));
    CHECK_STR_EQ(err.hint, "is the server running? check host and port");
}

/* A server that accepts (the kernel's backlog does) but never answers: the I/O timeout ends the
 * wait, naming the peer. */
static void test_redis_silent_server_times_out(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct redis_options o;
    struct redis_conn *c = NULL;
    struct error err = ERROR_INIT;
    char url[64];
    char want[96];

    CHECK(lfd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK(listen(lfd, 4) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
    buf_format_fixed(url, sizeof(url), "redis://127.0.0.1:%d", ntohs(a.sin_port));
    buf_format_fixed(want, sizeof(want), "no data from 127.0.0.1:%d for 300 ms", ntohs(a.sin_port));
    memset(&o, 0, sizeof(o));
    o.url = url;
    o.io_timeout_ms = 300;
    CHECK_ERR(redis_connect(&o, &c, &err), err, ERR_NETWORK, want);
    close(lfd);
}

struct test_file_sink {
    FILE *f;
    uint64_t calls;
};

static int test_file_sink_write(void *ctx, const void *data, size_t len, struct error *err)
{
    struct test_file_sink *s = ctx;

    (void)err;
    CHECK(len > 0);
    s->calls++;
    CHECK(fwrite(data, 1, len, s->f) == len);
    return 0;
}

static long test_file_size(const char *path)
{
    struct stat st;

    CHECK(stat(path, &st) == 0);
    return (long)st.st_size;
}

static void test_sync_one_mode(bool is_diskless)
{
    const char *extra[] = {"--repl-diskless-sync", is_diskless ? "yes" : "no",
                           "--repl-diskless-sync-delay", "0", NULL};
    struct test_server s;
    struct redis_conn *c;
    struct redis_sync_result res;
    struct test_file_sink sink = {NULL, 0};
    char ours[600], theirs[600], port[16];
    const char *check[] = {"redis-check-rdb", ours, NULL};
    const char *cli[] = {"redis-cli", "-h", "127.0.0.1", "-p", port, "--rdb", theirs, NULL};

    test_server_start(&s, "sync", NULL, NULL, extra);
    c = test_connect(&s, NULL, NULL);
    test_fill(c);
    redis_close(c);

    buf_format_fixed(ours, sizeof(ours), "%s/ours.rdb", unit_tmp_dir());
    buf_format_fixed(theirs, sizeof(theirs), "%s/theirs.rdb", unit_tmp_dir());
    buf_format_fixed(port, sizeof(port), "%d", s.port);
    sink.f = fopen(ours, "wb");
    CHECK(sink.f != NULL);
    c = test_connect(&s, NULL, NULL);
    CHECK_OK(redis_sync(c, test_file_sink_write, &sink, &res, unit_err()));
    redis_close(c);
    CHECK(fclose(sink.f) == 0);
    CHECK(res.is_diskless == is_diskless);
    CHECK(res.is_psync);
    CHECK(res.is_rdb_only);
    CHECK_INT_EQ(strlen(res.replid), 40);
    CHECK(res.offset >= 0);
    CHECK(res.bytes > 300000);
    CHECK_INT_EQ(test_file_size(ours), (long)res.bytes);
    if (!is_diskless)
        CHECK_INT_EQ(res.expected_bytes, res.bytes);
    else
        CHECK_INT_EQ(res.expected_bytes, 0);
    CHECK(sink.calls >= 1);

    CHECK_INT_EQ(test_run_quiet(check), 0);
    CHECK_INT_EQ(test_run_quiet(cli), 0);
    CHECK_INT_EQ(test_file_size(ours), test_file_size(theirs));
    {
        /* the mark never reaches the sink: the file ends with the EOF opcode and CRC-64 */
        struct buf b;
        buf_init(&b, BUF_NO_CAP);
        CHECK_OK(fs_read_file(ours, &b, unit_err()));
        CHECK(memcmp(b.data, "REDIS0010", 9) == 0);
        CHECK((unsigned char)b.data[b.len - 9] == 0xff);
        buf_release(&b);
    }
    test_server_stop(&s);
}

static void test_redis_sync_disk_mode_matches_redis_cli(void)
{
    test_sync_one_mode(false);
}

static void test_redis_sync_diskless_mode_strips_the_mark(void)
{
    test_sync_one_mode(true);
}

static void test_redis_sync_refused_for_user_without_rights(void)
{
    struct test_server s;
    struct redis_conn *c;
    struct redis_sync_result res;
    struct test_file_sink sink = {NULL, 0};
    struct error err = ERROR_INIT;
    char url[128];

    test_server_start(&s, "refuse", NULL, NULL, NULL);
    c = test_connect(&s, NULL, NULL);
    TEST_OK(c, "ACL", "SETUSER", "norepl", "on", ">pw", "~*", "+@all", "-@admin");
    redis_close(c);
    buf_format_fixed(url, sizeof(url), "redis://norepl:pw@127.0.0.1:%d", s.port);
    c = test_connect(&s, url, NULL);
    sink.f = NULL;
    error_clear(&err);
    CHECK_INT_EQ(redis_sync(c, test_file_sink_write, &sink, &res, &err), REDIS_REFUSED);
    CHECK(strstr(err.msg, "refuses replication"));
    CHECK(strstr(err.msg, "-NOPERM"));
    CHECK_INT_EQ(sink.calls, 0);
    redis_close(c);
    test_server_stop(&s);
}

struct test_buf_sink {
    struct buf b;
};

static int test_buf_sink_write(void *ctx, const void *data, size_t len, struct error *err)
{
    struct test_buf_sink *s = ctx;

    (void)err;
    CHECK(buf_add(&s->b, data, len));
    return 0;
}

/* Replays a RESP command stream through redis_replay. */
static void test_replay_stream(struct redis_conn *c, const struct buf *stream, uint64_t *commands)
{
    struct resp_parser *p = resp_parser_new(NULL);
    struct redis_replay *r = redis_replay_new(c);
    size_t pos = 0;

    while (pos < stream->len) {
        struct resp_value *v = NULL;
        size_t used = 0;
        const char *argv[8];
        size_t lens[8];
        CHECK_INT_EQ(
            resp_parser_feed(p, stream->data + pos, stream->len - pos, &used, &v, unit_err()), 1);
        pos += used;
        CHECK(resp_value_is_command(v));
        CHECK(v->count <= 8);
        for (size_t i = 0; i < v->count; i++) {
            argv[i] = v->items[i].str;
            lens[i] = v->items[i].len;
        }
        CHECK_OK(redis_replay_command(r, v->count, argv, lens, unit_err()));
        resp_value_free(v);
    }
    CHECK_OK(redis_replay_finish(r, commands, unit_err()));
    redis_replay_free(r);
    resp_parser_free(p);
}

static void test_redis_logical_export_replays_to_an_equal_server(void)
{
    struct test_server src, dst;
    struct redis_conn *a, *b, *user;
    struct redis_info info;
    struct redis_logical_stats st;
    struct test_buf_sink sink;
    uint64_t commands = 0;
    char url[128];

    test_server_start(&src, "src", NULL, NULL, NULL);
    test_server_start(&dst, "dst", NULL, NULL, NULL);
    a = test_connect(&src, NULL, NULL);
    test_fill(a);
    /* the export runs as a user without replication rights, as on a managed service */
    TEST_OK(a, "ACL", "SETUSER", "norepl", "on", ">pw", "~*", "+@all", "-@admin");
    buf_format_fixed(url, sizeof(url), "redis://norepl:pw@127.0.0.1:%d", src.port);
    user = test_connect(&src, url, NULL);
    CHECK_OK(redis_info_read(user, &info, unit_err()));
    CHECK_STR_EQ(info.server_name, "redis");
    CHECK_INT_EQ(info.db_count, 2);
    buf_init(&sink.b, BUF_NO_CAP);
    CHECK_OK(redis_logical_export(user, &info, test_buf_sink_write, &sink, &st, unit_err()));
    CHECK_INT_EQ(st.keys, 98);
    CHECK_INT_EQ(st.vanished, 0);
    CHECK_INT_EQ(st.db_count, 2);
    CHECK_INT_EQ(st.dbs[0].db, 0);
    CHECK_INT_EQ(st.dbs[0].keys, 96);
    CHECK_INT_EQ(st.dbs[0].expires, 50);
    CHECK_INT_EQ(st.dbs[1].db, 3);
    CHECK_INT_EQ(st.dbs[1].keys, 2);
    CHECK_INT_EQ(st.dbs[1].expires, 1);
    CHECK(strncmp(sink.b.data, "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*6\r\n$7\r\nRESTORE\r\n", 39) ==
          0);
    redis_close(user);

    b = test_connect(&dst, NULL, NULL);
    test_replay_stream(b, &sink.b, &commands);
    CHECK_INT_EQ(commands, 100); /* 2 SELECT + 98 RESTORE */
    test_check_digest_equal(a, b);
    CHECK_INT_EQ(TEST_INT(a, "PEXPIRETIME", "cache:7"), TEST_INT(b, "PEXPIRETIME", "cache:7"));
    CHECK(TEST_INT(b, "PEXPIRETIME", "cache:7") > 0);
    CHECK_INT_EQ(TEST_INT(b, "PEXPIRETIME", "plain"), -1);
    TEST_OK(a, "SELECT", "3");
    TEST_OK(b, "SELECT", "3");
    CHECK_INT_EQ(TEST_INT(a, "PEXPIRETIME", "other"), TEST_INT(b, "PEXPIRETIME", "other"));

    /* the same stream through `redis-cli --pipe` */
    {
        char path[600], out[600], port[16];
        const char *pipe_cmd[] = {"redis-cli", "-h", "127.0.0.1", "-p", port, "--pipe", NULL};
        buf_format_fixed(path, sizeof(path), "%s/export.resp", unit_tmp_dir());
        buf_format_fixed(out, sizeof(out), "%s/pipe.out", unit_tmp_dir());
        buf_format_fixed(port, sizeof(port), "%d", dst.port);
        CHECK_OK(fs_write_atomic(path, sink.b.data, sink.b.len, 0600, unit_err()));
        TEST_OK(b, "FLUSHALL");
        CHECK_INT_EQ(unit_run_cmd(pipe_cmd, path, out), 0);
        test_check_digest_equal(a, b);
    }

    buf_release(&sink.b);
    redis_logical_stats_release(&st);
    redis_info_release(&info);
    redis_close(a);
    redis_close(b);
    test_server_stop(&src);
    test_server_stop(&dst);
}

static void test_redis_logical_export_refused_names_the_acl_rights(void)
{
    struct test_server s;
    struct redis_conn *a, *user;
    struct redis_info info;
    struct redis_logical_stats st;
    struct test_buf_sink sink;
    struct error err = ERROR_INIT;
    char url[128];

    test_server_start(&s, "nodump", NULL, NULL, NULL);
    a = test_connect(&s, NULL, NULL);
    TEST_OK(a, "SET", "k", "v");
    TEST_OK(a, "ACL", "SETUSER", "nodump", "on", ">pw", "~*", "+@all", "-dump");
    buf_format_fixed(url, sizeof(url), "redis://nodump:pw@127.0.0.1:%d", s.port);
    user = test_connect(&s, url, NULL);
    CHECK_OK(redis_info_read(user, &info, unit_err()));
    buf_init(&sink.b, BUF_NO_CAP);
    CHECK_ERR(redis_logical_export(user, &info, test_buf_sink_write, &sink, &st, &err), err,
              ERR_REMOTE, "DUMP \"k\" in db 0: -NOPERM");
    CHECK(strstr(err.hint, "+dump"));
    buf_release(&sink.b);
    redis_info_release(&info);
    redis_close(user);
    redis_close(a);
    test_server_stop(&s);
}

static void test_redis_replay_error_names_command_key_and_words(void)
{
    struct test_server s;
    struct redis_conn *c;
    struct redis_replay *r;
    struct error err = ERROR_INIT;
    uint64_t n = 0;
    const char *ok[] = {"SET", "a", "1"};
    const char *bad[] = {"RESTORE", "bad\nkey", "0", "not a dump payload"};

    test_server_start(&s, "replay", NULL, NULL, NULL);
    c = test_connect(&s, NULL, NULL);
    r = redis_replay_new(c);
    CHECK_OK(redis_replay_command(r, 3, ok, NULL, unit_err()));
    CHECK_OK(redis_replay_command(r, 4, bad, NULL, unit_err()));
    CHECK_OK(redis_replay_command(r, 3, ok, NULL, unit_err()));
    CHECK_ERR(redis_replay_finish(r, &n, &err), err, ERR_REMOTE,
              "replay: RESTORE \"bad\\x0akey\" (command 2): -ERR DUMP payload version or "
              "checksum are wrong");
    CHECK(strstr(err.hint, "older than the snapshot"));
    redis_replay_free(r);
    redis_close(c);
    test_server_stop(&s);
}

/* ---- a scripted fake master, for what a real server will not do on demand ---- */

struct fake_script {
    const char *const *replies; /* one per command received, in order (raw bytes, C strings) */
    const char *trailer;        /* sent after the last reply, then the connection is closed */
    size_t trailer_len;
};

/* Serves one connection on a free port in a child process; returns the port. */
static int fake_master_start(const struct fake_script *sc, pid_t *pid)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;

    CHECK(lfd >= 0);
    (void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK(listen(lfd, 1) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
    *pid = fork();
    CHECK(*pid >= 0);
    if (*pid == 0) {
        struct resp_parser *p = resp_parser_new(NULL);
        struct error err = ERROR_INIT;
        char in[4096];
        size_t next = 0;
        int fd;

        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            _exit(2);
        while (sc->replies[next]) {
            ssize_t n = read(fd, in, sizeof(in));
            size_t pos = 0;
            if (n <= 0)
                _exit(3);
            while (pos < (size_t)n) {
                struct resp_value *v = NULL;
                size_t used = 0;
                int r = resp_parser_feed(p, in + pos, (size_t)n - pos, &used, &v, &err);
                if (r < 0)
                    _exit(4);
                pos += used;
                if (r == 1) {
                    const char *reply = sc->replies[next++];
                    resp_value_free(v);
                    if (write(fd, reply, strlen(reply)) < 0)
                        _exit(5);
                    if (!sc->replies[next])
                        break;
                }
            }
        }
        if (sc->trailer_len && write(fd, sc->trailer, sc->trailer_len) < 0)
            _exit(6);
        (void)shutdown(fd, SHUT_WR);
        /* wait for the client to hang up, so it reads everything before a reset */
        while (read(fd, in, sizeof(in)) > 0) {
        }
        _exit(0);
    }
    close(lfd);
    return ntohs(a.sin_port);
}

static void fake_master_wait(pid_t pid)
{
    int status = 0;

    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int fake_sync(const struct fake_script *sc, struct buf *payload,
                     struct redis_sync_result *res, struct error *err)
{
    struct redis_options o;
    struct redis_conn *c = NULL;
    struct test_buf_sink sink;
    char url[64];
    pid_t pid = 0;
    int port = fake_master_start(sc, &pid);
    int rc;

    buf_format_fixed(url, sizeof(url), "redis://127.0.0.1:%d", port);
    memset(&o, 0, sizeof(o));
    o.url = url;
    o.io_timeout_ms = 5000;
    CHECK_OK(redis_connect(&o, &c, unit_err()));
    buf_init(&sink.b, BUF_NO_CAP);
    rc = redis_sync(c, test_buf_sink_write, &sink, res, err);
    redis_close(c);
    fake_master_wait(pid);
    buf_reset(payload);
    buf_add(payload, sink.b.data, sink.b.len);
    buf_release(&sink.b);
    return rc;
}

#define FAKE_MARK "0123456789abcdef0123456789abcdef01234567"

static const char fake_fullresync_0[] = "+FULLRESYNC " FAKE_MARK " 0\r\n";
static const char fake_fullresync_42[] = "\n\n+FULLRESYNC " FAKE_MARK " 42\r\n";

static void test_redis_sync_falls_back_to_sync_and_reports_a_short_payload(void)
{
    const char *replies[] = {"+PONG\r\n",
                             "+OK\r\n",
                             "-ERR Unrecognized REPLCONF option: rdb-only\r\n",
                             "-ERR unknown command 'PSYNC'\r\n",
                             "\n",
                             NULL};
    const char trailer[] = "\n\n$100\r\n0123456789";
    struct fake_script sc = {replies, trailer, sizeof(trailer) - 1};
    struct redis_sync_result res;
    struct buf got;
    struct error err = ERROR_INIT;

    buf_init(&got, BUF_NO_CAP);
    CHECK_ERR(fake_sync(&sc, &got, &res, &err), err, ERR_NETWORK,
              "connection closed after 10 of 100 bytes");
    CHECK(!res.is_psync);
    CHECK(!res.is_rdb_only);
    CHECK_INT_EQ(res.offset, -1);
    CHECK_INT_EQ(res.expected_bytes, 100);
    CHECK_INT_EQ(got.len, 10);
    CHECK(memcmp(got.data, "0123456789", 10) == 0);
    buf_release(&got);
}

/* A pre-6.2 server (no rdb-only) goes on with the replication feed right after the mark. */
static void test_redis_sync_eof_mark_followed_by_the_feed(void)
{
    const char *replies[] = {"+PONG\r\n", "+OK\r\n", "-ERR Unrecognized REPLCONF option\r\n",
                             fake_fullresync_42, NULL};
    const char trailer[] =
        "\n$EOF:" FAKE_MARK "\r\nREDIS0009payload" FAKE_MARK "*1\r\n$4\r\nPING\r\n";
    struct fake_script sc = {replies, trailer, sizeof(trailer) - 1};
    struct redis_sync_result res;
    struct buf got;

    buf_init(&got, BUF_NO_CAP);
    CHECK_OK(fake_sync(&sc, &got, &res, unit_err()));
    CHECK(res.is_psync);
    CHECK(res.is_diskless);
    CHECK(!res.is_rdb_only);
    CHECK_STR_EQ(res.replid, FAKE_MARK);
    CHECK_INT_EQ(res.offset, 42);
    CHECK_STR_EQ(got.data, "REDIS0009payload");
    CHECK_INT_EQ(res.bytes, 16);
    buf_release(&got);
}

static void test_redis_sync_eof_mode_closed_before_the_mark(void)
{
    const char *replies[] = {"+PONG\r\n", "+OK\r\n", "+OK\r\n", fake_fullresync_0, NULL};
    const char trailer[] = "$EOF:" FAKE_MARK "\r\nREDIS0010 and then nothing more, no mark";
    struct fake_script sc = {replies, trailer, sizeof(trailer) - 1};
    struct redis_sync_result res;
    struct buf got;
    struct error err = ERROR_INIT;

    buf_init(&got, BUF_NO_CAP);
    CHECK_ERR(fake_sync(&sc, &got, &res, &err), err, ERR_NETWORK, "before the end mark");
    CHECK(res.is_rdb_only);
    CHECK(strstr(err.msg, "after 40 bytes"));
    buf_release(&got);
}

static void test_redis_sync_bad_header_and_refusals(void)
{
    const char *bad_header[] = {"+PONG\r\n", "+OK\r\n", "+OK\r\n", fake_fullresync_0, NULL};
    const char junk[] = "\n*3\r\n";
    const char *not_allowed[] = {"+PONG\r\n", "+OK\r\n", "+OK\r\n",
                                 "-ERR PSYNC not allowed for this user\r\n", NULL};
    const char *unknown[] = {"+PONG\r\n", "-ERR unknown command 'REPLCONF'\r\n", NULL};
    struct fake_script sc = {bad_header, junk, sizeof(junk) - 1};
    struct redis_sync_result res;
    struct buf got;
    struct error err = ERROR_INIT;

    buf_init(&got, BUF_NO_CAP);
    CHECK_ERR(fake_sync(&sc, &got, &res, &err), err, ERR_REMOTE,
              "expected '$<length>' or '$EOF:<mark>', got '*3'");
    sc.replies = not_allowed;
    sc.trailer_len = 0;
    error_clear(&err);
    CHECK_INT_EQ(fake_sync(&sc, &got, &res, &err), REDIS_REFUSED);
    CHECK(strstr(err.msg, "PSYNC: -ERR PSYNC not allowed"));
    sc.replies = unknown;
    error_clear(&err);
    CHECK_INT_EQ(fake_sync(&sc, &got, &res, &err), REDIS_REFUSED);
    CHECK(strstr(err.msg, "unknown command 'REPLCONF'"));
    buf_release(&got);
}

/* ---- TLS ---- */

static void test_make_certs(const char *dir)
{
    char ca_key[600], ca_crt[600], key[600], csr[600], crt[600], ext[600];
    const char *ca[] = {"openssl", "req",     "-x509", "-newkey",     "rsa:2048",
                        "-nodes",  "-keyout", ca_key,  "-out",        ca_crt,
                        "-days",   "2",       "-subj", "/CN=test CA", NULL};
    const char *req[] = {"openssl", "req",  "-newkey", "rsa:2048", "-nodes",        "-keyout",
                         key,       "-out", csr,       "-subj",    "/CN=localhost", NULL};
    const char *sign[] = {"openssl", "x509", "-req",     "-in",  csr,
                          "-CA",     ca_crt, "-CAkey",   ca_key, "-CAcreateserial",
                          "-out",    crt,    "-extfile", ext,    NULL};
    const char ext_text[] = "subjectAltName=DNS:localhost,IP:127.0.0.1\n";

    buf_format_fixed(ca_key, sizeof(ca_key), "%s/ca.key", dir);
    buf_format_fixed(ca_crt, sizeof(ca_crt), "%s/ca.crt", dir);
    buf_format_fixed(key, sizeof(key), "%s/server.key", dir);
    buf_format_fixed(csr, sizeof(csr), "%s/server.csr", dir);
    buf_format_fixed(crt, sizeof(crt), "%s/server.crt", dir);
    buf_format_fixed(ext, sizeof(ext), "%s/san.ext", dir);
    CHECK_OK(fs_write_atomic(ext, ext_text, sizeof(ext_text) - 1, 0600, unit_err()));
    CHECK_INT_EQ(test_run_quiet(ca), 0);
    CHECK_INT_EQ(test_run_quiet(req), 0);
    CHECK_INT_EQ(test_run_quiet(sign), 0);
}

static void test_redis_tls_verifies_the_certificate(void)
{
    struct test_server s;
    struct test_server plain;
    struct redis_options o;
    struct redis_conn *c = NULL;
    struct error err = ERROR_INIT;
    char certs[600], ca[600], url[128];
    struct redis_sync_result res;
    struct test_buf_sink sink;

    buf_format_fixed(certs, sizeof(certs), "%s/certs", unit_tmp_dir());
    CHECK(mkdir(certs, 0700) == 0);
    test_make_certs(certs);
    buf_format_fixed(ca, sizeof(ca), "%s/ca.crt", certs);
    test_server_start(&s, "tls", certs, NULL, NULL);

    memset(&o, 0, sizeof(o));
    o.url = s.url;
    o.ca_file = ca;
    o.tls_verify = true;
    /* by IP address (the certificate's IP SAN) and by name (SNI + host name check) */
    CHECK_OK(redis_connect(&o, &c, unit_err()));
    redis_close(c);
    buf_format_fixed(url, sizeof(url), "rediss://localhost:%d", s.port);
    o.url = url;
    CHECK_OK(redis_connect(&o, &c, unit_err()));
    /* the replica handshake works over TLS too */
    buf_init(&sink.b, BUF_NO_CAP);
    CHECK_OK(redis_sync(c, test_buf_sink_write, &sink, &res, unit_err()));
    CHECK(memcmp(sink.b.data, "REDIS0010", 9) == 0);
    CHECK_INT_EQ(sink.b.len, res.bytes);
    buf_release(&sink.b);
    redis_close(c);

    /* without the CA: the system store does not know it */
    o.url = s.url;
    o.ca_file = NULL;
    CHECK_ERR(redis_connect(&o, &c, &err), err, ERR_NETWORK, "certificate verify failed");
    CHECK(strstr(err.msg, s.url + 9));
    CHECK(strstr(err.hint, "ca_file"));
    CHECK(strstr(err.hint, "tls_verify = no"));
    /* the escape hatch */
    o.tls_verify = false;
    CHECK_OK(redis_connect(&o, &c, unit_err()));
    redis_close(c);

    /* plain client on the TLS port */
    buf_format_fixed(url, sizeof(url), "redis://127.0.0.1:%d", s.port);
    o.url = url;
    o.io_timeout_ms = 3000;
    CHECK_ERR(redis_connect(&o, &c, &err), err, ERR_NETWORK, "");
    CHECK(strstr(err.hint, "use rediss://"));

    /* TLS client on a plain port */
    test_server_start(&plain, "plain", NULL, NULL, NULL);
    buf_format_fixed(url, sizeof(url), "rediss://127.0.0.1:%d", plain.port);
    o.url = url;
    o.tls_verify = true;
    o.ca_file = ca;
    CHECK_ERR(redis_connect(&o, &c, &err), err, ERR_NETWORK, "TLS handshake with");
    CHECK(strstr(err.hint, "is the port TLS-enabled?"));
    test_server_stop(&plain);
    test_server_stop(&s);
}

const struct unit_test redis_tests[] = {
    {"test_redis_url_parse_accepts_the_documented_forms",
     test_redis_url_parse_accepts_the_documented_forms},
    {"test_redis_url_parse_rejects_junk_without_the_password",
     test_redis_url_parse_rejects_junk_without_the_password},
    {"test_redis_url_redacted_hides_the_password", test_redis_url_redacted_hides_the_password},
    {"test_redis_info_parse_redis_7", test_redis_info_parse_redis_7},
    {"test_redis_info_parse_valkey_8", test_redis_info_parse_valkey_8},
    {"test_redis_info_parse_rejects_bad_fields", test_redis_info_parse_rejects_bad_fields},
    {"test_redis_connect_auth_and_wrong_password", test_redis_connect_auth_and_wrong_password},
    {"test_redis_connect_refused_names_host_and_hint",
     test_redis_connect_refused_names_host_and_hint},
    {"test_redis_silent_server_times_out", test_redis_silent_server_times_out},
    {"test_redis_sync_disk_mode_matches_redis_cli", test_redis_sync_disk_mode_matches_redis_cli},
    {"test_redis_sync_diskless_mode_strips_the_mark",
     test_redis_sync_diskless_mode_strips_the_mark},
    {"test_redis_sync_refused_for_user_without_rights",
     test_redis_sync_refused_for_user_without_rights},
    {"test_redis_logical_export_replays_to_an_equal_server",
     test_redis_logical_export_replays_to_an_equal_server},
    {"test_redis_logical_export_refused_names_the_acl_rights",
     test_redis_logical_export_refused_names_the_acl_rights},
    {"test_redis_replay_error_names_command_key_and_words",
     test_redis_replay_error_names_command_key_and_words},
    {"test_redis_sync_falls_back_to_sync_and_reports_a_short_payload",
     test_redis_sync_falls_back_to_sync_and_reports_a_short_payload},
    {"test_redis_sync_eof_mark_followed_by_the_feed",
     test_redis_sync_eof_mark_followed_by_the_feed},
    {"test_redis_sync_eof_mode_closed_before_the_mark",
     test_redis_sync_eof_mode_closed_before_the_mark},
    {"test_redis_sync_bad_header_and_refusals", test_redis_sync_bad_header_and_refusals},
    {"test_redis_tls_verifies_the_certificate", test_redis_tls_verifies_the_certificate},
    {NULL, NULL},
};
