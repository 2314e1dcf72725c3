/* Tests of config/config.c and config/schema.c: validation against the option table, every error
 * with its PATH:LINE, secrets (env:, file:, inline) and their redaction, defaults, keep policies,
 * mirror jobs (and how core/mirror_job.c turns them into mirror_options), config show. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/schema.h"
#include "core/mirror_job.h"
#include "core/prune.h"
#include "core/targets.h"
#include "mirror/filter.h"
#include "unit.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/xalloc.h"

/* A store on lines 1-3 and a complete job on lines 4-7, so a case can append line 8 onwards. */
#define STORE "[store \"local\"]\ntype = local\npath = /b\n"
#define JOB   "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\ntargets = local\n"

static int parse(const char *text, struct config *cfg, struct error *err)
{
    return config_parse("test.conf", text, strlen(text), cfg, err);
}

/* The text must fail with exactly this message and hint ("" for none). */
static void check_parse_error(const char *text, const char *want_msg, const char *want_hint)
{
    struct config cfg;
    struct error err = ERROR_INIT;

    CHECK(parse(text, &cfg, &err) < 0);
    CHECK_INT_EQ(err.kind, ERR_CONFIG);
    CHECK_STR_EQ(err.msg, want_msg);
    CHECK_STR_EQ(err.hint, want_hint);
    CHECK(cfg.path == NULL && cfg.stores == NULL && cfg.jobs == NULL && cfg.job_count == 0);
}

static char *tmp_file(const char *name, const char *data, size_t len)
{
    char *path = xasprintf("%s/%s", unit_tmp_dir(), name);
    CHECK_OK(fs_write_atomic(path, data, len, 0600, unit_err()));
    return path;
}

/* The environment the mastodon.conf fixture reads its secrets from. */
static void set_fixture_env(void)
{
    setenv("PERMAFROST_TEST_DB_PASS", "pg-s3cret", 1);
    setenv("PERMAFROST_TEST_SPACES_KEY", "DO00KEYID", 1);
    setenv("PERMAFROST_TEST_SPACES_SECRET", "spaces-s3cret", 1);
    setenv("PERMAFROST_TEST_SPACES_TOKEN", "token-s3cret", 1);
    setenv("PERMAFROST_TEST_B2_KEY", "B2KEYID", 1);
    setenv("PERMAFROST_TEST_B2_SECRET", "b2-s3cret", 1);
    setenv("PERMAFROST_TEST_AGE_IDENTITY", "AGE-SECRET-KEY-1TEST", 1);
    setenv("PERMAFROST_TEST_AGE_PASSPHRASE", "age-s3cret", 1);
    setenv("PERMAFROST_TEST_OPS_URL", "discord://123/discord-s3cret", 1);
    setenv("PERMAFROST_TEST_HC_URL", "hc://hc-s3cret", 1);
}

static char *show(const struct config *cfg)
{
    struct buf out;

    buf_init(&out, BUF_NO_CAP);
    config_show(cfg, &out);
    return buf_detach(&out, NULL);
}

/* ---- valid configs and defaults ---- */

static void test_minimal_config_gets_defaults(void)
{
    struct config cfg;
    const struct cfg_job *job;

    CHECK_OK(parse(STORE JOB, &cfg, unit_err()));
    CHECK_STR_EQ(cfg.path, "test.conf");
    CHECK_INT_EQ(cfg.store_count, 1);
    CHECK_STR_EQ(cfg.stores[0].name, "local");
    CHECK_STR_EQ(cfg.stores[0].type, "local");
    CHECK_STR_EQ(cfg.stores[0].path, "/b");
    CHECK_INT_EQ(cfg.stores[0].line, 1);
    CHECK_INT_EQ(cfg.job_count, 1);
    job = &cfg.jobs[0];
    CHECK_STR_EQ(job->name, "db");
    CHECK_INT_EQ(job->line, 4);
    CHECK_INT_EQ(job->kind, JOB_KIND_POSTGRES);
    CHECK_STR_EQ(job->database, "dbname=m");
    CHECK(!secret_is_set(&job->password));
    CHECK(job->password_ref == NULL);
    CHECK_INT_EQ(job->target_count, 1);
    CHECK_STR_EQ(job->targets[0], "local");
    CHECK(job->keep_text == NULL);
    CHECK_INT_EQ(job->keep.last + job->keep.hourly + job->keep.daily + job->keep.weekly +
                     job->keep.monthly + job->keep.yearly,
                 0);
    CHECK(!job->globals);
    CHECK_INT_EQ(job->compression_level, 3);
    CHECK_INT_EQ(job->compression_threads, 0);
    CHECK_INT_EQ(job->row_counts, ROW_COUNTS_EXACT);
    CHECK(job->pg_dump == NULL);
    CHECK(cfg.global.state_dir == NULL);
    CHECK(cfg.global.timezone == NULL);
    CHECK_INT_EQ(cfg.global.line, 0);
    config_release(&cfg);
    CHECK(cfg.stores == NULL && cfg.store_count == 0 && cfg.path == NULL);
}

static void test_empty_file_is_a_valid_config(void)
{
    struct config cfg;

    CHECK_OK(parse("", &cfg, unit_err()));
    CHECK_INT_EQ(cfg.store_count, 0);
    CHECK_INT_EQ(cfg.job_count, 0);
    config_release(&cfg);
    CHECK_OK(parse("; nothing but a comment\n", &cfg, unit_err()));
    config_release(&cfg);
}

static void test_config_without_jobs_is_valid(void)
{
    struct config cfg;

    CHECK_OK(parse("[global]\nstate_dir = /s\n" STORE, &cfg, unit_err()));
    CHECK_INT_EQ(cfg.job_count, 0);
    CHECK_INT_EQ(cfg.store_count, 1);
    CHECK_STR_EQ(cfg.global.state_dir, "/s");
    CHECK_INT_EQ(cfg.global.line, 1);
    config_release(&cfg);
}

static void test_mastodon_fixture_loads_every_option(void)
{
    char *path = xasprintf("%s/config/mastodon.conf", unit_fixture_dir());
    struct config cfg;
    const struct cfg_job *job;
    const struct cfg_store *spaces;

    set_fixture_env();
    CHECK_OK(config_load(path, &cfg, unit_err()));
    CHECK_STR_EQ(cfg.path, path);
    CHECK_STR_EQ(cfg.global.state_dir, "/var/lib/permafrost");
    CHECK_STR_EQ(cfg.global.timezone, "Europe/Berlin");
    CHECK_INT_EQ(cfg.store_count, 6);
    CHECK_STR_EQ(cfg.stores[0].path, "/var/backups/permafrost");
    CHECK_STR_EQ(cfg.stores[1].name, "nas");
    CHECK_STR_EQ(cfg.stores[1].path, "/mnt/nas/mastodon backups");
    spaces = &cfg.stores[2];
    CHECK_STR_EQ(spaces->name, "spaces-nyc");
    CHECK_STR_EQ(spaces->type, "s3");
    CHECK(spaces->path == NULL);
    CHECK_STR_EQ(spaces->endpoint, "https://nyc3.digitaloceanspaces.com");
    CHECK_STR_EQ(spaces->region, "nyc3");
    CHECK_STR_EQ(spaces->bucket, "social-example-backups");
    CHECK_STR_EQ(spaces->prefix, "permafrost/db");
    CHECK_INT_EQ(spaces->path_style, CFG_TRISTATE_NO);
    CHECK_STR_EQ(spaces->access_key.value, "DO00KEYID");
    CHECK_STR_EQ(spaces->access_key_ref, "env:PERMAFROST_TEST_SPACES_KEY");
    CHECK_STR_EQ(spaces->secret_key.value, "spaces-s3cret");
    CHECK_STR_EQ(spaces->secret_key_ref, "env:PERMAFROST_TEST_SPACES_SECRET");
    CHECK_STR_EQ(spaces->session_token.value, "token-s3cret");
    CHECK_STR_EQ(spaces->ca_file, "/etc/ssl/certs/ca-certificates.crt");
    CHECK(spaces->max_requests_per_second > 239.999 && spaces->max_requests_per_second < 240.001);
    CHECK(spaces->part_size_bytes == 64ULL * 1024 * 1024);
    CHECK_INT_EQ(spaces->concurrency, 8);
    CHECK_INT_EQ(spaces->connect_timeout_ms, 10000);
    CHECK_INT_EQ(spaces->low_speed_timeout_ms, 120000);
    CHECK(spaces->remote == NULL);
    CHECK_STR_EQ(cfg.stores[3].type, "rclone");
    CHECK_STR_EQ(cfg.stores[3].remote, "b2:social-example-backups/permafrost");
    CHECK_STR_EQ(cfg.stores[3].rclone_config, "/etc/permafrost/rclone.conf");
    CHECK_STR_EQ(cfg.stores[3].rclone_binary, "/usr/bin/rclone");
    CHECK(cfg.stores[3].bucket == NULL);
    job = config_find_job(&cfg, "db");
    CHECK(job != NULL);
    CHECK_STR_EQ(job->database,
                 "host=localhost port=5432 dbname=mastodon_production user=mastodon");
    CHECK_STR_EQ(job->password.value, "pg-s3cret");
    CHECK_INT_EQ(job->password.len, 9);
    CHECK_STR_EQ(job->password_ref, "env:PERMAFROST_TEST_DB_PASS");
    CHECK_INT_EQ(job->target_count, 4);
    CHECK_STR_EQ(job->targets[1], "nas");
    CHECK_INT_EQ(job->keep_override_count, 2);
    CHECK_STR_EQ(job->keep_overrides[0].store, "spaces-nyc");
    CHECK_STR_EQ(job->keep_overrides[0].keep_text, "daily 14, monthly 12");
    CHECK_INT_EQ(job->keep_overrides[0].line, 52);
    CHECK_INT_EQ(config_job_keep_for(job, "spaces-nyc")->daily, 14);
    CHECK_INT_EQ(config_job_keep_for(job, "spaces-nyc")->monthly, 12);
    CHECK_INT_EQ(config_job_keep_for(job, "spaces-nyc")->last, 0);
    CHECK_INT_EQ(config_job_keep_for(job, "b2")->daily, 30);
    CHECK(config_job_keep_for(job, "local") == &job->keep);
    CHECK(config_job_keep_for(job, "nas") == &job->keep);
    CHECK_STR_EQ(job->keep_text, "last 3, daily 7, weekly 4, monthly 6, yearly 2");
    CHECK_INT_EQ(job->keep.last, 3);
    CHECK_INT_EQ(job->keep.hourly, 0);
    CHECK_INT_EQ(job->keep.daily, 7);
    CHECK_INT_EQ(job->keep.weekly, 4);
    CHECK_INT_EQ(job->keep.monthly, 6);
    CHECK_INT_EQ(job->keep.yearly, 2);
    CHECK(job->globals);
    CHECK_INT_EQ(job->compression_level, 6);
    CHECK_INT_EQ(job->compression_threads, 2);
    CHECK_INT_EQ(job->row_counts, ROW_COUNTS_ESTIMATE);
    CHECK_STR_EQ(job->pg_dump, "/usr/lib/postgresql/15/bin/pg_dump");
    /* [global]'s recipients and identity reach the job */
    CHECK_INT_EQ(job->crypt.recipient_count, 1);
    CHECK_STR_EQ(job->crypt.recipients[0],
                 "age1ndedzva9nktrgcx8ttj08eleg2flt0zqk3hrnkyl94ejcaxm3qcqdhy572");
    CHECK(!secret_is_set(&job->crypt.passphrase));
    CHECK_STR_EQ(job->crypt.identity.value, "AGE-SECRET-KEY-1TEST");
    CHECK_STR_EQ(job->crypt.identity_ref, "env:PERMAFROST_TEST_AGE_IDENTITY");

    /* the redis job's passphrase replaces [global]'s recipients; the identity is inherited */
    job = config_find_job(&cfg, "redis");
    CHECK(job != NULL);
    CHECK_INT_EQ(job->crypt.recipient_count, 0);
    CHECK_STR_EQ(job->crypt.passphrase.value, "age-s3cret");
    CHECK_STR_EQ(job->crypt.identity.value, "AGE-SECRET-KEY-1TEST");

    job = config_find_job(&cfg, "drill");
    CHECK(job != NULL);
    CHECK_INT_EQ(job->kind, JOB_KIND_VERIFY);
    CHECK_INT_EQ(job->verify_job_count, 2);
    CHECK_STR_EQ(job->verify_jobs[1], "redis");
    CHECK_INT_EQ(job->target_count, 1);
    CHECK(job->verify_restore);
    CHECK_INT_EQ(job->verify_snapshots, VERIFY_SNAPSHOTS_LATEST);
    CHECK_STR_EQ(job->scratch, "host=localhost port=5433 dbname=postgres user=permafrost");

    job = config_find_job(&cfg, "media");
    CHECK(job != NULL);
    CHECK_INT_EQ(job->kind, JOB_KIND_MIRROR);
    CHECK_INT_EQ(job->target_count, 0);
    CHECK_STR_EQ(job->mirror.source.store, "media");
    CHECK_STR_EQ(job->mirror.source.prefix, "");
    CHECK_STR_EQ(job->mirror.destination.store, "media-mirror");
    CHECK_STR_EQ(job->mirror.destination.prefix, "");
    CHECK_INT_EQ(job->mirror.include_count, 5);
    CHECK_STR_EQ(job->mirror.include[0], "/accounts/**");
    CHECK_STR_EQ(job->mirror.include[4], "/site_uploads/**");
    CHECK_INT_EQ(job->mirror.exclude_count, 2);
    CHECK_STR_EQ(job->mirror.exclude[0], "*.tmp");
    CHECK_STR_EQ(job->mirror.exclude[1], "/backups/**");
    CHECK_INT_EQ(job->mirror.preset, CFG_MIRROR_PRESET_MASTODON);
    CHECK_STR_EQ(job->mirror.trash, ".trash");
    CHECK_INT_EQ(job->mirror.trash_days, 14);
    CHECK_INT_EQ(job->mirror.concurrency, 128);
    CHECK(job->mirror.max_requests_per_second > 399.999 &&
          job->mirror.max_requests_per_second < 400.001);
    CHECK_INT_EQ(job->mirror.max_delete_count, -1);
    CHECK(job->mirror.max_delete_percent > 4.999 && job->mirror.max_delete_percent < 5.001);
    CHECK_INT_EQ(job->mirror.acl, CFG_MIRROR_ACL_PUBLIC_READ);
    CHECK(!job->mirror.checksum);
    config_release(&cfg);
    xfree(path);
}

static void test_minimal_fixture_loads(void)
{
    char *path = xasprintf("%s/config/minimal.conf", unit_fixture_dir());
    struct config cfg;

    CHECK_OK(config_load(path, &cfg, unit_err()));
    CHECK_INT_EQ(cfg.job_count, 1);
    CHECK(config_find_store(&cfg, "local") == &cfg.stores[0]);
    config_release(&cfg);
    xfree(path);
}

static void test_targets_may_name_a_store_defined_later(void)
{
    struct config cfg;

    CHECK_OK(parse(JOB STORE, &cfg, unit_err()));
    CHECK_STR_EQ(cfg.jobs[0].targets[0], "local");
    config_release(&cfg);
}

static void test_find_store_and_job_by_name(void)
{
    struct config cfg;

    CHECK_OK(parse(STORE "[store \"nas\"]\ntype = local\npath = /n\n" JOB, &cfg, unit_err()));
    CHECK(config_find_store(&cfg, "nas") == &cfg.stores[1]);
    CHECK(config_find_store(&cfg, "NAS") == NULL);
    CHECK(config_find_store(&cfg, "offsite") == NULL);
    CHECK(config_find_job(&cfg, "db") == &cfg.jobs[0]);
    CHECK(config_find_job(&cfg, "media") == NULL);
    config_release(&cfg);
}

static void test_enum_values_are_case_insensitive_and_stored_canonical(void)
{
    struct config cfg;

    CHECK_OK(parse("[store \"local\"]\ntype = LOCAL\npath = /b\n"
                   "[job \"db\"]\nkind = Postgres\ndatabase = dbname=m\ntargets = local\n"
                   "row_counts = OFF\n",
                   &cfg, unit_err()));
    CHECK_STR_EQ(cfg.stores[0].type, "local");
    CHECK_INT_EQ(cfg.jobs[0].kind, JOB_KIND_POSTGRES);
    CHECK_INT_EQ(cfg.jobs[0].row_counts, ROW_COUNTS_OFF);
    config_release(&cfg);
}

static void test_store_and_job_names_of_64_chars_are_accepted(void)
{
    struct config cfg;
    char text[512];
    const char *name = "A-very_long.name-01234567890123456789012345678901234567890123456";

    CHECK_INT_EQ(strlen(name), 64);
    snprintf(text, sizeof(text), "[store \"%s\"]\ntype = local\npath = /b\n", name);
    CHECK_OK(parse(text, &cfg, unit_err()));
    CHECK_STR_EQ(cfg.stores[0].name, name);
    config_release(&cfg);
}

/* ---- every error, with its line ---- */

static void test_unknown_key_suggests_nearest(void)
{
    check_parse_error(STORE JOB "pasword = env:X\n",
                      "test.conf:8: unknown key 'pasword' in [job \"db\"]",
                      "did you mean 'password'?");
    check_parse_error(STORE JOB "targest = local\n",
                      "test.conf:8: unknown key 'targest' in [job \"db\"]",
                      "did you mean 'targets'?");
    check_parse_error("[store \"x\"]\ntpye = local\n",
                      "test.conf:2: unknown key 'tpye' in [store \"x\"]", "did you mean 'type'?");
    check_parse_error("[job \"db\"]\nknid = postgres\n",
                      "test.conf:2: unknown key 'knid' in [job \"db\"]", "did you mean 'kind'?");
    check_parse_error("[global]\nstatedir = /s\n",
                      "test.conf:2: unknown key 'statedir' in [global]",
                      "did you mean 'state_dir'?");
}

static void test_unknown_key_far_from_every_key_has_no_hint(void)
{
    check_parse_error(STORE JOB "frobnicate = 1\n",
                      "test.conf:8: unknown key 'frobnicate' in [job \"db\"]", "");
    check_parse_error(STORE JOB "path = /x\n", "test.conf:8: unknown key 'path' in [job \"db\"]",
                      "");
    check_parse_error(STORE "kind = postgres\n",
                      "test.conf:4: unknown key 'kind' in [store \"local\"]", "");
}

static void test_unknown_section_suggests_nearest(void)
{
    check_parse_error(
        STORE "[jobs \"db\"]\nkind = postgres\n",
        "test.conf:4: unknown section [jobs \"db\"] (known: global, store, job, notify)",
        "did you mean 'job'?");
    check_parse_error("[Globl]\n",
                      "test.conf:1: unknown section [globl] (known: global, store, job, notify)",
                      "did you mean 'global'?");
    check_parse_error("[notice \"ops\"]\n",
                      "test.conf:1: unknown section [notice \"ops\"] (known: global, store, job, "
                      "notify)",
                      "did you mean 'notify'?");
}

static void test_notify_sections(void)
{
    struct config cfg;
    const struct cfg_notify *n;

    setenv("PERMAFROST_TEST_NTFY", "ntfys://tk_s3cret@ntfy.example/ops", 1);
    CHECK_OK(parse(STORE JOB "[notify \"ops\"]\nurl = env:PERMAFROST_TEST_NTFY\n"
                             "on = failure, SUCCESS\njobs = db\n"
                             "[notify \"all\"]\nurl = slack://a/b/c\non = all\n"
                             "[notify \"quiet\"]\nurl = hc://x\n",
                   &cfg, unit_err()));
    CHECK_INT_EQ((int)cfg.notify_count, 3);
    n = config_find_notify(&cfg, "ops");
    CHECK(n != NULL);
    CHECK_STR_EQ(n->url.value, "ntfys://tk_s3cret@ntfy.example/ops");
    CHECK_STR_EQ(n->url_ref, "env:PERMAFROST_TEST_NTFY");
    CHECK_INT_EQ((int)n->on, CFG_NOTIFY_ON_FAILURE | CFG_NOTIFY_ON_SUCCESS);
    CHECK_INT_EQ((int)n->job_count, 1);
    CHECK_STR_EQ(n->jobs[0], "db");
    CHECK_INT_EQ((int)config_find_notify(&cfg, "all")->on, (int)CFG_NOTIFY_ON_ALL);
    CHECK_INT_EQ((int)config_find_notify(&cfg, "quiet")->on, 0);
    CHECK(config_find_notify(&cfg, "nope") == NULL);
    {
        char *out = show(&cfg);
        CHECK(strstr(out, "[notify \"ops\"]\nurl = env:PERMAFROST_TEST_NTFY\n"
                          "on = success, failure\njobs = db\n"));
        CHECK(!strstr(out, "s3cret"));
        CHECK(!strstr(out, "slack://"));
        xfree(out);
    }
    config_release(&cfg);

    check_parse_error(STORE JOB "[notify \"ops\"]\non = failure\n",
                      "test.conf:8: missing required key 'url' in [notify \"ops\"]", "");
    check_parse_error(STORE JOB "[notify \"ops\"]\nurl = hc://x\non = failure, sucess\n",
                      "test.conf:10: on: unknown event 'sucess' (known: start, success, failure, "
                      "warning, all)",
                      "");
    check_parse_error(STORE JOB "[notify \"ops\"]\nurl = hc://x\njobs = db, dbb\n",
                      "test.conf:8: notify 'ops': unknown job 'dbb' in jobs", "");
    check_parse_error(STORE JOB "[notify]\nurl = hc://x\n",
                      "test.conf:8: section [notify] needs a name, as in [notify \"NAME\"]", "");
    check_parse_error(STORE JOB "[notify \"a\"]\nurl = hc://x\n[notify \"a\"]\nurl = hc://y\n",
                      "test.conf:10: duplicate section [notify \"a\"] (first at line 8)", "");
    check_parse_error(STORE JOB "[notify \"a\"]\nurl = hc://x\nschedule = @daily\n",
                      "test.conf:10: unknown key 'schedule' in [notify \"a\"]", "");
}

static void test_daemon_options(void)
{
    struct config cfg;

    CHECK_OK(parse("[global]\nmax_concurrent_jobs = 4\nshutdown_timeout = 1m\n"
                   "metrics_listen = [::1]:9300\n" STORE JOB
                   "schedule = 0 3 * * *\njitter = 10m\nstale_after = 26h\ncatch_up = yes\n",
                   &cfg, unit_err()));
    CHECK_INT_EQ(cfg.global.max_concurrent_jobs, 4);
    CHECK_INT_EQ(cfg.global.shutdown_timeout_ms, 60000);
    CHECK_STR_EQ(cfg.global.metrics_listen, "[::1]:9300");
    CHECK_STR_EQ(cfg.jobs[0].schedule, "0 3 * * *");
    CHECK_INT_EQ(cfg.jobs[0].jitter_ms, 600000);
    CHECK_INT_EQ(cfg.jobs[0].stale_after_ms, 26 * 3600 * 1000);
    CHECK(cfg.jobs[0].catch_up);
    config_release(&cfg);

    CHECK_OK(parse(STORE JOB, &cfg, unit_err()));
    CHECK_INT_EQ(cfg.global.max_concurrent_jobs, 2);
    CHECK_INT_EQ(cfg.global.shutdown_timeout_ms, 30000);
    CHECK_STR_EQ(cfg.global.metrics_listen, "127.0.0.1:9187");
    CHECK(cfg.jobs[0].schedule == NULL);
    CHECK_INT_EQ(cfg.jobs[0].jitter_ms, 0);
    CHECK(!cfg.jobs[0].catch_up);
    config_release(&cfg);

    CHECK_OK(parse("[global]\nmetrics_listen = off\n" STORE JOB, &cfg, unit_err()));
    CHECK(cfg.global.metrics_listen == NULL);
    config_release(&cfg);

    check_parse_error("[global]\nmetrics_listen = 9187\n",
                      "test.conf:2: metrics_listen: expected HOST:PORT (an IPv4 address, [IPv6] or "
                      "localhost) or off, got '9187'",
                      "e.g. 127.0.0.1:9187; bind to 0.0.0.0 only behind a firewall");
    check_parse_error("[global]\nmetrics_listen = 127.0.0.1:65536\n",
                      "test.conf:2: metrics_listen: expected HOST:PORT (an IPv4 address, [IPv6] or "
                      "localhost) or off, got '127.0.0.1:65536'",
                      "e.g. 127.0.0.1:9187; bind to 0.0.0.0 only behind a firewall");
    check_parse_error("[global]\nmetrics_listen = example.org:80\n",
                      "test.conf:2: metrics_listen: expected HOST:PORT (an IPv4 address, [IPv6] or "
                      "localhost) or off, got 'example.org:80'",
                      "e.g. 127.0.0.1:9187; bind to 0.0.0.0 only behind a firewall");
    check_parse_error("[global]\nmax_concurrent_jobs = 0\n",
                      "test.conf:2: max_concurrent_jobs: expected a whole number from 1 to 64, got "
                      "'0'",
                      "");
    check_parse_error(STORE JOB "schedule = 0 24 * * *\n",
                      "test.conf:8: schedule: hour field: '24' is out of range (0-23)", "");
    check_parse_error(
        STORE JOB "schedule = 0 0 31 2 *\n",
        "test.conf:8: schedule: day-of-month field: '31' never occurs in month field '2', so "
        "the schedule would never run",
        "");
    check_parse_error(STORE JOB "schedule = @reboot\n",
                      "test.conf:8: schedule: '@reboot' is not supported: jobs run on a schedule, "
                      "not when the daemon starts (catch_up = yes runs a missed job at start-up)",
                      "");
    check_parse_error(STORE JOB "stale_after = 10s\n",
                      "test.conf:8: stale_after: must be from 1m to 576h, got '10s'", "");
}

static void test_section_names_are_checked(void)
{
    check_parse_error("[store]\ntype = local\n",
                      "test.conf:1: section [store] needs a name, as in [store \"NAME\"]", "");
    check_parse_error("[global \"x\"]\n",
                      "test.conf:1: section [global] takes no name, got [global \"x\"]", "");
    check_parse_error(
        "[store \"bad name\"]\n",
        "test.conf:1: invalid store name 'bad name' (use 1 to 64 letters, digits, '_', '.' or '-')",
        "");
    check_parse_error(
        "[job \"\"]\n",
        "test.conf:1: invalid job name '' (use 1 to 64 letters, digits, '_', '.' or '-')", "");
    check_parse_error(
        "[job \"a\\\"b\"]\n",
        "test.conf:1: invalid job name 'a\"b' (use 1 to 64 letters, digits, '_', '.' or '-')", "");
    check_parse_error("[store "
                      "\"x1234567890123456789012345678901234567890123456789012345678901234\"]\n",
                      "test.conf:1: invalid store name "
                      "'x1234567890123456789012345678901234567890123456789012345678901234' (use 1 "
                      "to 64 letters, digits, '_', '.' or '-')",
                      "");
}

static void test_invalid_name_is_shown_printable(void)
{
    check_parse_error(
        "[store \"\x1b[31mred\"]\n",
        "test.conf:1: invalid store name '?[31mred' (use 1 to 64 letters, digits, '_', '.' or '-')",
        "");
}

static void test_duplicate_key_names_both_lines(void)
{
    check_parse_error(STORE JOB "keep = daily 7\nkeep = weekly 4\n",
                      "test.conf:9: duplicate key 'keep' in [job \"db\"] (first at line 8)", "");
    check_parse_error(STORE JOB "kind = postgres\n",
                      "test.conf:8: duplicate key 'kind' in [job \"db\"] (first at line 5)", "");
    check_parse_error("[store \"x\"]\nPATH = /a\ntype = local\npath = /b\n",
                      "test.conf:4: duplicate key 'path' in [store \"x\"] (first at line 2)", "");
}

static void test_duplicate_sections_name_both_lines(void)
{
    check_parse_error(STORE JOB "[store \"local\"]\ntype = local\npath = /c\n",
                      "test.conf:8: duplicate section [store \"local\"] (first at line 1)", "");
    check_parse_error(STORE JOB "\n" JOB,
                      "test.conf:9: duplicate section [job \"db\"] (first at line 4)", "");
    check_parse_error("[global]\n\n[global]\n",
                      "test.conf:3: duplicate section [global] (first at line 1)", "");
    /* The earliest repeat in the file is the one reported. */
    check_parse_error("[job \"b\"]\n[job \"a\"]\n[job \"b\"]\n[job \"a\"]\n",
                      "test.conf:3: duplicate section [job \"b\"] (first at line 1)", "");
}

static void test_same_name_for_a_store_and_a_job_is_allowed(void)
{
    struct config cfg;

    CHECK_OK(parse("[store \"db\"]\ntype = local\npath = /b\n"
                   "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\ntargets = db\n",
                   &cfg, unit_err()));
    config_release(&cfg);
}

static void test_required_keys_are_reported_at_the_header(void)
{
    check_parse_error("[store \"x\"]\npath = /b\n",
                      "test.conf:1: missing required key 'type' in [store \"x\"]", "");
    check_parse_error("[store \"x\"]\ntype = local\n",
                      "test.conf:1: missing required key 'path' in [store \"x\"]", "");
    check_parse_error(STORE "[job \"db\"]\ndatabase = dbname=m\ntargets = local\n",
                      "test.conf:4: missing required key 'kind' in [job \"db\"]", "");
    check_parse_error(STORE "[job \"db\"]\nkind = postgres\ntargets = local\n",
                      "test.conf:4: missing required key 'database' in [job \"db\"]", "");
    check_parse_error(STORE "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\n",
                      "test.conf:4: missing required key 'targets' in [job \"db\"]", "");
}

static void test_unknown_store_type_lists_known_types(void)
{
    check_parse_error(STORE "[store \"offsite\"]\ntype = ftp\n",
                      "test.conf:5: type: unknown store type 'ftp' (known: local, s3, rclone)", "");
    check_parse_error("[store \"x\"]\ntype = locl\npath = /b\n",
                      "test.conf:2: type: unknown store type 'locl' (known: local, s3, rclone)",
                      "did you mean 'local'?");
    check_parse_error("[store \"x\"]\ntype = rclon\n",
                      "test.conf:2: type: unknown store type 'rclon' (known: local, s3, rclone)",
                      "did you mean 'rclone'?");
}

static void test_unknown_job_kind_lists_known_kinds(void)
{
    check_parse_error(
        STORE "[job \"db\"]\nkind = mysql\n",
        "test.conf:5: kind: unknown job kind 'mysql' (known: postgres, mirror, redis, verify)", "");
    check_parse_error(
        STORE "[job \"db\"]\nkind = postgre\n",
        "test.conf:5: kind: unknown job kind 'postgre' (known: postgres, mirror, redis, verify)",
        "did you mean 'postgres'?");
}

static void test_unknown_target_lists_known_stores(void)
{
    check_parse_error(
        STORE "[store \"nas\"]\ntype = local\npath = /n\n"
              "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\n"
              "targets = local, offsite\n",
        "test.conf:10: job 'db': unknown store 'offsite' in targets (known: local, nas)", "");
    check_parse_error(STORE "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\ntargets = locl\n",
                      "test.conf:7: job 'db': unknown store 'locl' in targets (known: local)",
                      "did you mean 'local'?");
    check_parse_error("[job \"db\"]\nkind = postgres\ndatabase = dbname=m\ntargets = local\n",
                      "test.conf:4: job 'db': unknown store 'local' in targets (no stores are "
                      "defined)",
                      "");
}

static void test_unknown_target_with_many_stores_shortens_the_list(void)
{
    struct buf text;
    struct config cfg;
    struct error err = ERROR_INIT;

    buf_init(&text, BUF_NO_CAP);
    for (int i = 0; i < 100; i++)
        buf_addf(&text, "[store \"store-number-%d\"]\ntype = local\npath = /b\n", i);
    buf_adds(&text, "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\ntargets = nope\n");
    CHECK_ERR(parse(text.data, &cfg, &err), err, ERR_CONFIG,
              "test.conf:304: job 'db': unknown store 'nope' in targets (known: store-number-0, "
              "store-number-1, ");
    CHECK(strstr(err.msg, ", ...)"));
    CHECK(!strstr(err.msg, "store-number-99"));
    buf_release(&text);
}

static void test_targets_list_errors(void)
{
    check_parse_error(STORE "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\n"
                            "targets = local, local\n",
                      "test.conf:7: targets: 'local' is listed twice", "");
    check_parse_error(STORE "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\n"
                            "targets = local,,x\n",
                      "test.conf:7: targets: empty item in the list", "");
    check_parse_error(STORE "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\n"
                            "targets = local,\n",
                      "test.conf:7: targets: empty item in the list", "");
    check_parse_error(STORE "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\ntargets =\n",
                      "test.conf:7: targets: the list is empty", "");
}

static void test_targets_are_trimmed_and_kept_in_order(void)
{
    struct config cfg;

    CHECK_OK(
        parse("[store \"b\"]\ntype = local\npath = /b\n[store \"a\"]\ntype = local\npath = /a\n"
              "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\ntargets =  b ,a\t\n",
              &cfg, unit_err()));
    CHECK_INT_EQ(cfg.jobs[0].target_count, 2);
    CHECK_STR_EQ(cfg.jobs[0].targets[0], "b");
    CHECK_STR_EQ(cfg.jobs[0].targets[1], "a");
    config_release(&cfg);
}

static void test_paths_must_be_absolute(void)
{
    check_parse_error("[global]\nstate_dir = relative/dir\n",
                      "test.conf:2: state_dir: 'relative/dir' is not an absolute path", "");
    check_parse_error("[store \"x\"]\ntype = local\npath =\n", "test.conf:3: path: empty value",
                      "");
    check_parse_error(STORE JOB "pg_dump = pg_dump\n",
                      "test.conf:8: pg_dump: 'pg_dump' is not an absolute path", "");
}

static void test_syntax_errors_carry_path_and_line(void)
{
    check_parse_error("[store \"x\"]\ntype = \"local\n", "test.conf:2: unterminated quote", "");
    check_parse_error("[store \"x\"]\ntype local\n",
                      "test.conf:2: missing '=' (expected 'key = value')", "");
    check_parse_error("type = local\n", "test.conf:1: key 'type' outside a section", "");
    check_parse_error("[store \"x\"]\n= local\n", "test.conf:2: empty key", "");
    check_parse_error(
        "[store x]\n",
        "test.conf:1: invalid section header (expected [name] or [name \"subsection\"])", "");
}

static void test_nul_byte_in_config_is_an_error(void)
{
    static const char text[] = "[global]\nstate_dir = /a\0b\n";
    struct config cfg;
    struct error err = ERROR_INIT;

    CHECK_ERR(config_parse("test.conf", text, sizeof(text) - 1, &cfg, &err), err, ERR_CONFIG,
              "test.conf:2: NUL byte");
}

static void test_failed_parse_leaves_config_empty(void)
{
    struct config cfg;
    struct error err = ERROR_INIT;

    memset(&cfg, 0x5a, sizeof(cfg));
    CHECK(parse(STORE JOB "bogus = 1\n", &cfg, &err) < 0);
    CHECK(cfg.path == NULL && cfg.stores == NULL && cfg.store_count == 0 && cfg.jobs == NULL &&
          cfg.job_count == 0 && cfg.global.state_dir == NULL);
    config_release(&cfg);
}

/* ---- option types ---- */

static void test_bool_accepts_every_spelling(void)
{
    static const char *const yes[] = {"yes", "true", "on", "1", "YES", "True"};
    static const char *const no[] = {"no", "false", "off", "0", "No", "OFF"};
    char text[256];
    struct config cfg;

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        snprintf(text, sizeof(text), STORE JOB "globals = %s\n", yes[i]);
        CHECK_OK(parse(text, &cfg, unit_err()));
        CHECK(cfg.jobs[0].globals);
        config_release(&cfg);
        snprintf(text, sizeof(text), STORE JOB "globals = %s\n", no[i]);
        CHECK_OK(parse(text, &cfg, unit_err()));
        CHECK(!cfg.jobs[0].globals);
        config_release(&cfg);
    }
    check_parse_error(STORE JOB "globals = maybe\n",
                      "test.conf:8: globals: expected yes or no (or true/false, on/off, 1/0), got "
                      "'maybe'",
                      "");
    check_parse_error(
        STORE JOB "globals =\n",
        "test.conf:8: globals: expected yes or no (or true/false, on/off, 1/0), got ''", "");
}

static void check_compression(const char *value, int level, int threads)
{
    char text[256];
    struct config cfg;

    snprintf(text, sizeof(text), STORE JOB "compression = %s\n", value);
    CHECK_OK(parse(text, &cfg, unit_err()));
    CHECK_INT_EQ(cfg.jobs[0].compression_level, level);
    CHECK_INT_EQ(cfg.jobs[0].compression_threads, threads);
    config_release(&cfg);
}

static void test_compression_accepts_level_and_threads(void)
{
    check_compression("zstd", 3, 0);
    check_compression("ZSTD", 3, 0);
    check_compression("zstd:1", 1, 0);
    check_compression("zstd:19", 19, 0);
    check_compression("zstd:19:8", 19, 8);
    check_compression("zstd:3:0", 3, 0);
    check_compression("zstd:3:256", 3, 256);
}

static void test_compression_rejects_bad_values(void)
{
    check_parse_error(STORE JOB "compression = zstd:0\n",
                      "test.conf:8: compression: level must be from 1 to 19, got '0'", "");
    check_parse_error(STORE JOB "compression = zstd:20\n",
                      "test.conf:8: compression: level must be from 1 to 19, got '20'", "");
    check_parse_error(STORE JOB "compression = zstd:\n",
                      "test.conf:8: compression: level must be from 1 to 19, got ''", "");
    check_parse_error(STORE JOB "compression = zstd:-1\n",
                      "test.conf:8: compression: level must be from 1 to 19, got '-1'", "");
    check_parse_error(STORE JOB "compression = zstd:99999999999999999999\n",
                      "test.conf:8: compression: level must be from 1 to 19, got "
                      "'99999999999999999999'",
                      "");
    check_parse_error(STORE JOB "compression = zstd:3:257\n",
                      "test.conf:8: compression: threads must be from 0 to 256, got '257'", "");
    check_parse_error(STORE JOB "compression = zstd:3:x\n",
                      "test.conf:8: compression: threads must be from 0 to 256, got 'x'", "");
    check_parse_error(STORE JOB "compression = zstd:3:1:1\n",
                      "test.conf:8: compression: expected zstd, zstd:LEVEL or zstd:LEVEL:THREADS",
                      "");
    check_parse_error(STORE JOB "compression = gzip:6\n",
                      "test.conf:8: compression: unknown algorithm 'gzip' (known: zstd)", "");
    check_parse_error(STORE JOB "compression =\n",
                      "test.conf:8: compression: unknown algorithm '' (known: zstd)", "");
}

static void test_row_counts_modes(void)
{
    struct config cfg;

    CHECK_OK(parse(STORE JOB "row_counts = estimate\n", &cfg, unit_err()));
    CHECK_INT_EQ(cfg.jobs[0].row_counts, ROW_COUNTS_ESTIMATE);
    config_release(&cfg);
    check_parse_error(
        STORE JOB "row_counts = approx\n",
        "test.conf:8: row_counts: unknown mode 'approx' (known: exact, estimate, off)", "");
    check_parse_error(STORE JOB "row_counts = exakt\n",
                      "test.conf:8: row_counts: unknown mode 'exakt' (known: exact, estimate, off)",
                      "did you mean 'exact'?");
}

static void test_timezone_accepts_utc_and_iana_names(void)
{
    struct config cfg;

    CHECK_OK(parse("[global]\ntimezone = UTC\n", &cfg, unit_err()));
    CHECK_STR_EQ(cfg.global.timezone, "UTC");
    config_release(&cfg);
    if (!fs_exists(SCHEMA_ZONEINFO_DIR "/America/Argentina/Buenos_Aires")) {
        printf("    (no tzdata installed: only UTC checked)\n");
        return;
    }
    CHECK_OK(parse("[global]\ntimezone = America/Argentina/Buenos_Aires\n", &cfg, unit_err()));
    CHECK_STR_EQ(cfg.global.timezone, "America/Argentina/Buenos_Aires");
    config_release(&cfg);
    CHECK_OK(parse("[global]\ntimezone = Etc/GMT+5\n", &cfg, unit_err()));
    config_release(&cfg);
}

static void test_timezone_rejects_unknown_names_and_non_zone_files(void)
{
    static const char *const bad[] = {"Europe/Berln", "../../etc/passwd", "/etc/localtime",
                                      "zone.tab",     "Europe",           "Europe//Berlin",
                                      "Europe/",      "posix/../UTC"};
    char text[256];
    char want[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "[global]\ntimezone = %s\n", bad[i]);
        snprintf(want, sizeof(want),
                 "test.conf:2: timezone: unknown time zone '%s' (not found in /usr/share/zoneinfo)",
                 bad[i]);
        check_parse_error(text, want, "use an IANA name such as 'Europe/Berlin', or 'UTC'");
    }
    check_parse_error(
        "[global]\ntimezone =\n",
        "test.conf:2: timezone: empty value (leave it out to use the machine's time zone)", "");
}

/* ---- conninfo ---- */

static void test_conninfo_with_a_password_is_rejected(void)
{
    static const char *const bad[] = {
        "host=db password=s3cret dbname=m",
        "host=db password = 's3 cret'",
        "host=db PASSWORD=s3cret",
        "password=",
        "postgresql://mastodon:s3cret@db:5432/mastodon_production",
        "postgres://mastodon:@db/m",
        "postgresql://db/m?sslmode=require&password=s3cret",
        "postgresql://db/m?%70assword=s3cret",
        "dbname='host=db password=s3cret'",
        "dbname=postgresql://u:s3cret@db/m",
        "host=db sslpassword=s3cret sslkey=/k",
        "postgresql://db/m?SSLPassword=s3cret",
        "postgresql://db/m?ssl%70assword=s3cret",
    };
    char text[512];
    struct config cfg;
    struct error err = ERROR_INIT;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text),
                 STORE "[job \"db\"]\nkind = postgres\ntargets = local\ndatabase = \"%s\"\n",
                 bad[i]);
        CHECK_ERR(parse(text, &cfg, &err), err, ERR_CONFIG,
                  "test.conf:7: database: the conninfo contains a password; use 'password = "
                  "env:NAME' or 'password = file:PATH' in this job instead");
        CHECK(!strstr(err.msg, "s3"));
        CHECK(!strstr(err.hint, "s3"));
    }
}

static void test_conninfo_without_a_password_is_accepted(void)
{
    static const char *const good[] = {
        "dbname=password_db user=password",
        "host=db application_name='password=no' dbname=m",
        "host = db   dbname = 'my db' user=mastodon",
        "host=/var/run/postgresql dbname=m",
        "postgresql://mastodon@db:5432/mastodon_production?sslmode=require",
        "postgresql://db/m?application_name=password",
        "postgresql:///m?host=/var/run/postgresql",
        "dbname='it\\'s' user=x",
    };
    char text[512];
    struct config cfg;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(text, sizeof(text),
                 STORE "[job \"db\"]\nkind = postgres\ntargets = local\ndatabase = %s\n", good[i]);
        CHECK_OK(parse(text, &cfg, unit_err()));
        config_release(&cfg);
    }
}

static void test_malformed_conninfo_is_rejected_without_echoing_it(void)
{
    static const char *const bad[] = {"host=db hunter2", "mastodon_production hunter2",
                                      "host='db hunter2", "=hunter2"};
    char text[512];
    struct config cfg;
    struct error err = ERROR_INIT;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), STORE JOB "[job \"x\"]\nkind = postgres\ndatabase = %s\n",
                 bad[i]);
        CHECK_ERR(parse(text, &cfg, &err), err, ERR_CONFIG,
                  "test.conf:10: database: invalid conninfo (expected 'key=value ...' or a "
                  "postgresql:// URI)");
        CHECK(!strstr(err.msg, "hunter2"));
    }
    check_parse_error(STORE "[job \"db\"]\nkind = postgres\ntargets = local\ndatabase =\n",
                      "test.conf:7: database: empty value", "");
}

/* ---- secrets ---- */

static void test_password_from_env(void)
{
    struct config cfg;

    setenv("PF_TEST_DB_PASS", "from env ; with # chars", 1);
    CHECK_OK(parse(STORE JOB "password = env:PF_TEST_DB_PASS\n", &cfg, unit_err()));
    CHECK_STR_EQ(cfg.jobs[0].password.value, "from env ; with # chars");
    CHECK_STR_EQ(cfg.jobs[0].password_ref, "env:PF_TEST_DB_PASS");
    config_release(&cfg);
}

static void test_password_env_errors(void)
{
    unsetenv("PF_TEST_UNSET");
    setenv("PF_TEST_EMPTY", "", 1);
    check_parse_error(STORE JOB "password = env:PF_TEST_UNSET\n",
                      "test.conf:8: password: environment variable 'PF_TEST_UNSET' is not set", "");
    check_parse_error(STORE JOB "password = env:PF_TEST_EMPTY\n",
                      "test.conf:8: password: environment variable 'PF_TEST_EMPTY' is empty", "");
    check_parse_error(STORE JOB "password = env:\n",
                      "test.conf:8: password: invalid environment variable name ''", "");
    check_parse_error(STORE JOB "password = env:1BAD-NAME\n",
                      "test.conf:8: password: invalid environment variable name '1BAD-NAME'", "");
}

static void test_password_from_file_strips_one_newline(void)
{
    static const struct {
        const char *content;
        const char *want;
    } cases[] = {
        {"s3cret\n", "s3cret"},   {"s3cret", "s3cret"},           {"s3cret\n\n", "s3cret\n"},
        {"s3cret\r\n", "s3cret"}, {"  spaced  \n", "  spaced  "}, {"a\nb\n", "a\nb"},
    };
    char text[512];
    struct config cfg;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = tmp_file("pass", cases[i].content, strlen(cases[i].content));
        snprintf(text, sizeof(text), STORE JOB "password = file:%s\n", path);
        CHECK_OK(parse(text, &cfg, unit_err()));
        CHECK_STR_EQ(cfg.jobs[0].password.value, cases[i].want);
        CHECK_INT_EQ(cfg.jobs[0].password.len, strlen(cases[i].want));
        CHECK(strncmp(cfg.jobs[0].password_ref, "file:", 5) == 0);
        CHECK_STR_EQ(cfg.jobs[0].password_ref + 5, path);
        config_release(&cfg);
        xfree(path);
    }
}

static void test_password_file_errors_include_strerror(void)
{
    char text[512];
    char want[512];
    char *empty = tmp_file("empty", "\n", 1);

    check_parse_error(STORE JOB "password = file:/nonexistent/db_pass\n",
                      "test.conf:8: password: cannot read '/nonexistent/db_pass': No such file or "
                      "directory",
                      "");
    snprintf(text, sizeof(text), STORE JOB "password = file:%s\n", unit_tmp_dir());
    snprintf(want, sizeof(want), "test.conf:8: password: cannot read '%s': not a regular file",
             unit_tmp_dir());
    check_parse_error(text, want, "");
    snprintf(text, sizeof(text), STORE JOB "password = file:%s\n", empty);
    snprintf(want, sizeof(want), "test.conf:8: password: file '%s' is empty", empty);
    check_parse_error(text, want, "");
    check_parse_error(STORE JOB "password = file:\n", "test.conf:8: password: 'file:' needs a path",
                      "");
    xfree(empty);
}

static void test_password_file_unreadable_reports_permission_denied(void)
{
    char text[512];
    char want[512];
    char *path = tmp_file("locked", "s3cret\n", 7);

    CHECK(chmod(path, 0) == 0);
    /* root reads any file: this test runs in its own forked child, so it can become 'nobody'. */
    if (geteuid() == 0) {
        CHECK(setgid(65534) == 0);
        CHECK(setuid(65534) == 0);
    }
    snprintf(text, sizeof(text), STORE JOB "password = file:%s\n", path);
    snprintf(want, sizeof(want), "test.conf:8: password: cannot read '%s': Permission denied",
             path);
    check_parse_error(text, want, "");
    xfree(path);
}

static void test_password_file_is_capped_at_64_kib(void)
{
    size_t cap = SCHEMA_SECRET_MAX;
    char *data = xmalloc(cap + 1);
    char text[512];
    char want[512];
    char *path;
    struct config cfg;
    struct error err = ERROR_INIT;

    memset(data, 'K', cap + 1);
    path = tmp_file("big", data, cap);
    snprintf(text, sizeof(text), STORE JOB "password = file:%s\n", path);
    CHECK_OK(parse(text, &cfg, unit_err()));
    CHECK_INT_EQ(cfg.jobs[0].password.len, cap);
    config_release(&cfg);
    xfree(path);

    path = tmp_file("bigger", data, cap + 1);
    snprintf(text, sizeof(text), STORE JOB "password = file:%s\n", path);
    snprintf(want, sizeof(want), "test.conf:8: password: cannot read '%s': larger than 65536 bytes",
             path);
    CHECK_ERR(parse(text, &cfg, &err), err, ERR_CONFIG, want);
    CHECK(!strstr(err.msg, "KKKK"));
    xfree(path);
    xfree(data);
}

static void test_inline_password_is_accepted_and_recorded_as_inline(void)
{
    struct config cfg;

    CHECK_OK(parse(STORE JOB "password = \"correct horse ; battery\"\n", &cfg, unit_err()));
    CHECK_STR_EQ(cfg.jobs[0].password.value, "correct horse ; battery");
    CHECK_STR_EQ(cfg.jobs[0].password_ref, "inline");
    config_release(&cfg);
}

static void test_secret_values_never_reach_error_messages(void)
{
    struct config cfg;
    struct error err = ERROR_INIT;
    char text[512];
    char *path = tmp_file("pass", "file-s3cret\n", 12);

    setenv("PF_TEST_DB_PASS", "env-s3cret", 1);
    /* A repeated inline password, and errors after each kind of secret was read. */
    CHECK(parse(STORE JOB "password = inline-s3cret\npassword = inline-s3cret\n", &cfg, &err) < 0);
    CHECK(strstr(err.msg, "duplicate key 'password'"));
    CHECK(!strstr(err.msg, "s3cret") && !strstr(err.hint, "s3cret"));
    CHECK(parse(STORE JOB "password = env:PF_TEST_DB_PASS\nbogus = 1\n", &cfg, &err) < 0);
    CHECK(!strstr(err.msg, "env-s3cret") && !strstr(err.hint, "s3cret"));
    snprintf(text, sizeof(text), STORE JOB "password = file:%s\nbogus = 1\n", path);
    CHECK(parse(text, &cfg, &err) < 0);
    CHECK(!strstr(err.msg, "file-s3cret") && !strstr(err.hint, "s3cret"));
    CHECK(parse(STORE "[job \"db\"]\npassword = inline-s3cret\nkind = postgres\ndatabase = x=y\n",
                &cfg, &err) < 0);
    CHECK(!strstr(err.msg, "s3cret"));
    CHECK(parse(STORE JOB "pasword = inline-s3cret\n", &cfg, &err) < 0);
    CHECK(!strstr(err.msg, "s3cret") && !strstr(err.hint, "s3cret"));
    xfree(path);
}

static void test_resolve_secret_outside_the_file(void)
{
    struct secret s = SECRET_INIT;
    struct error err = ERROR_INIT;
    char ref[512];
    char *path = tmp_file("pass", "file-s3cret\n", 12);

    setenv("PF_TEST_DB_PASS", "env-s3cret", 1);
    CHECK_OK(config_resolve_secret("env:PF_TEST_DB_PASS", &s, unit_err()));
    CHECK_STR_EQ(s.value, "env-s3cret");
    snprintf(ref, sizeof(ref), "file:%s", path);
    CHECK_OK(config_resolve_secret(ref, &s, unit_err()));
    CHECK_STR_EQ(s.value, "file-s3cret");
    /* An inline value is refused (it would sit in argv) and not echoed; *out is left as it was. */
    CHECK_ERR(config_resolve_secret("inline-s3cret", &s, &err), err, ERR_CONFIG,
              "expected env:NAME or file:PATH");
    CHECK(!strstr(err.msg, "s3cret"));
    CHECK_STR_EQ(s.value, "file-s3cret");
    unsetenv("PF_TEST_UNSET");
    CHECK_ERR(config_resolve_secret("env:PF_TEST_UNSET", &s, &err), err, ERR_CONFIG,
              "environment variable 'PF_TEST_UNSET' is not set");
    CHECK_ERR(config_resolve_secret("file:/nonexistent/x", &s, &err), err, ERR_CONFIG,
              "cannot read '/nonexistent/x': No such file or directory");
    CHECK_STR_EQ(s.value, "file-s3cret");
    secret_release(&s);
    xfree(path);
}

/* ---- keep ---- */

static void test_keep_parses_every_unit(void)
{
    struct keep_policy k;

    CHECK_OK(config_parse_keep("last 3, hourly 24, daily 7, weekly 4, monthly 6, yearly 2", &k,
                               unit_err()));
    CHECK_INT_EQ(k.last, 3);
    CHECK_INT_EQ(k.hourly, 24);
    CHECK_INT_EQ(k.daily, 7);
    CHECK_INT_EQ(k.weekly, 4);
    CHECK_INT_EQ(k.monthly, 6);
    CHECK_INT_EQ(k.yearly, 2);
}

static void test_keep_accepts_any_order_case_and_spacing(void)
{
    struct keep_policy k;

    CHECK_OK(config_parse_keep("  Monthly\t12 ,DAILY   1,last 100000  ", &k, unit_err()));
    CHECK_INT_EQ(k.monthly, 12);
    CHECK_INT_EQ(k.daily, 1);
    CHECK_INT_EQ(k.last, 100000);
    CHECK_INT_EQ(k.hourly + k.weekly + k.yearly, 0);
}

static void test_keep_empty_keeps_everything(void)
{
    struct keep_policy k = {1, 1, 1, 1, 1, 1};

    CHECK_OK(config_parse_keep("", &k, unit_err()));
    CHECK_INT_EQ(k.last + k.hourly + k.daily + k.weekly + k.monthly + k.yearly, 0);
    k.daily = 5;
    CHECK_OK(config_parse_keep("   ", &k, unit_err()));
    CHECK_INT_EQ(k.daily, 0);
}

#define CHECK_KEEP_ERR(text, want)                                                                 \
    do {                                                                                           \
        struct keep_policy k_ = {9, 9, 9, 9, 9, 9};                                                \
        struct error e_ = ERROR_INIT;                                                              \
        CHECK(config_parse_keep(text, &k_, &e_) < 0);                                              \
        CHECK_INT_EQ(e_.kind, ERR_CONFIG);                                                         \
        CHECK_STR_EQ(e_.msg, want);                                                                \
        CHECK_INT_EQ(k_.daily, 9); /* untouched on failure */                                      \
    } while (0)

static void test_keep_unknown_unit_suggests_nearest(void)
{
    CHECK_KEEP_ERR("dayly 7", "unknown unit 'dayly' (did you mean 'daily'?)");
    CHECK_KEEP_ERR("daily 7, wekly 4", "unknown unit 'wekly' (did you mean 'weekly'?)");
    CHECK_KEEP_ERR("Monthy 2", "unknown unit 'monthy' (did you mean 'monthly'?)");
    CHECK_KEEP_ERR("dialy 7", "unknown unit 'dialy' (did you mean 'daily'?)");
    CHECK_KEEP_ERR("forever 1",
                   "unknown unit 'forever' (known: last, hourly, daily, weekly, monthly, yearly)");
    CHECK_KEEP_ERR("7 daily",
                   "unknown unit '7' (known: last, hourly, daily, weekly, monthly, yearly)");
}

static void test_keep_count_must_be_1_to_100000(void)
{
    CHECK_KEEP_ERR("daily 0", "'daily' count must be from 1 to 100000, got '0'");
    CHECK_KEEP_ERR("daily 100001", "'daily' count must be from 1 to 100000, got '100001'");
    CHECK_KEEP_ERR("daily -1", "'daily' count must be from 1 to 100000, got '-1'");
    CHECK_KEEP_ERR("daily 7x", "'daily' count must be from 1 to 100000, got '7x'");
    CHECK_KEEP_ERR("daily 7 weekly 4", "'daily' count must be from 1 to 100000, got '7 weekly 4'");
    CHECK_KEEP_ERR("daily 99999999999999999999999",
                   "'daily' count must be from 1 to 100000, got '99999999999999999999999'");
    CHECK_KEEP_ERR("daily", "'daily' needs a count, as in 'daily 7'");
}

static void test_keep_unit_may_appear_once(void)
{
    CHECK_KEEP_ERR("daily 7, weekly 4, daily 3", "'daily' is given twice");
    CHECK_KEEP_ERR("last 1, LAST 2", "'last' is given twice");
}

static void test_keep_rejects_empty_items(void)
{
    CHECK_KEEP_ERR("daily 7,,weekly 4", "empty item (expected 'UNIT COUNT, ...', as in 'daily 7')");
    CHECK_KEEP_ERR("daily 7,", "empty item (expected 'UNIT COUNT, ...', as in 'daily 7')");
    CHECK_KEEP_ERR(",daily 7", "empty item (expected 'UNIT COUNT, ...', as in 'daily 7')");
    CHECK_KEEP_ERR(",", "empty item (expected 'UNIT COUNT, ...', as in 'daily 7')");
}

static void test_keep_errors_in_config_carry_path_and_line(void)
{
    check_parse_error(STORE JOB "keep = daily 7, dayly 3\n",
                      "test.conf:8: keep: unknown unit 'dayly' (did you mean 'daily'?)", "");
    check_parse_error(STORE JOB "keep = daily 0\n",
                      "test.conf:8: keep: 'daily' count must be from 1 to 100000, got '0'", "");
}

static void test_keep_in_config_empty_means_keep_all(void)
{
    struct config cfg;

    CHECK_OK(parse(STORE JOB "keep =\n", &cfg, unit_err()));
    CHECK_INT_EQ(cfg.jobs[0].keep.daily + cfg.jobs[0].keep.last, 0);
    CHECK_STR_EQ(cfg.jobs[0].keep_text, "");
    config_release(&cfg);
}

/* ---- s3 and rclone stores ---- */

/* An s3 store on lines 1-3; a case appends its options from line 4 on. */
#define S3 "[store \"spaces-nyc\"]\ntype = s3\nbucket = social-backups\n"

/* Parses S3 plus one "key = value" line (line 4) and returns the store; the caller releases cfg. */
static const struct cfg_store *parse_s3(const char *line, struct config *cfg)
{
    char text[1024];

    snprintf(text, sizeof(text), S3 "%s\n", line);
    CHECK_OK(parse(text, cfg, unit_err()));
    return &cfg->stores[0];
}

/* S3 plus one line must fail at line 4 with "test.conf:4: " + want_msg. */
static void check_s3_error(const char *line, const char *want_msg, const char *want_hint)
{
    char text[1024];
    char want[1024];

    snprintf(text, sizeof(text), S3 "%s\n", line);
    snprintf(want, sizeof(want), "test.conf:4: %s", want_msg);
    check_parse_error(text, want, want_hint);
}

static void test_s3_store_with_only_a_bucket_leaves_the_rest_unset(void)
{
    struct config cfg;
    const struct cfg_store *s = parse_s3("", &cfg);
    char *out;

    CHECK_STR_EQ(s->type, "s3");
    CHECK_STR_EQ(s->bucket, "social-backups");
    CHECK(s->path == NULL && s->endpoint == NULL && s->region == NULL && s->prefix == NULL);
    CHECK_INT_EQ(s->path_style, CFG_TRISTATE_UNSET);
    CHECK(!secret_is_set(&s->access_key) && !secret_is_set(&s->secret_key) &&
          !secret_is_set(&s->session_token));
    CHECK(s->access_key_ref == NULL && s->ca_file == NULL);
    CHECK(!(s->max_requests_per_second > 0));
    CHECK(s->part_size_bytes == 0);
    CHECK_INT_EQ(s->concurrency + s->connect_timeout_ms + s->low_speed_timeout_ms, 0);
    out = show(&cfg);
    CHECK(strstr(out, "[store \"spaces-nyc\"]\n"
                      "type = s3\n"
                      "# endpoint = (not set: AWS S3 for the region: "
                      "https://s3.REGION.amazonaws.com)\n"
                      "# region = (not set: us-east-1)\n"
                      "bucket = social-backups\n"
                      "# prefix = (not set: the top of the bucket)\n"
                      "# path_style = (not set: yes when endpoint is set, else no)\n"
                      "# access_key = (not set: $AWS_ACCESS_KEY_ID when the store is opened)\n"
                      "# secret_key = (not set: $AWS_SECRET_ACCESS_KEY when the store is opened)\n"
                      "# session_token = (not set: $AWS_SESSION_TOKEN when the store is opened "
                      "and it is set)\n"
                      "# ca_file = (not set: the system's trusted certificates)\n"
                      "# max_requests_per_second = (not set: no limit)\n"
                      "# part_size = (not set: 16MiB)\n"
                      "# concurrency = (not set: 4)\n"
                      "# connect_timeout = (not set: 10s)\n"
                      "# low_speed_timeout = (not set: 60s)\n"));
    CHECK(!strstr(out, "remote") && !strstr(out, "# path ="));
    xfree(out);
    config_release(&cfg);
}

static void test_rclone_store_options(void)
{
    struct config cfg;
    char *out;

    CHECK_OK(
        parse("[store \"b2\"]\ntype = rclone\nremote = b2:bucket/perma frost\n", &cfg, unit_err()));
    CHECK_STR_EQ(cfg.stores[0].remote, "b2:bucket/perma frost");
    CHECK(cfg.stores[0].rclone_config == NULL && cfg.stores[0].rclone_binary == NULL);
    out = show(&cfg);
    CHECK(strstr(out, "[store \"b2\"]\ntype = rclone\nremote = b2:bucket/perma frost\n"
                      "# rclone_config = (not set: $RCLONE_CONFIG, else "
                      "~/.config/rclone/rclone.conf)\n"
                      "# rclone = (not set: rclone from PATH)\n"));
    xfree(out);
    config_release(&cfg);
    CHECK_OK(parse("[store \"gd\"]\ntype = RCLONE\nremote = my drive.2+x@y:\n"
                   "rclone_config = /etc/rclone.conf\nrclone = /opt/rclone\n",
                   &cfg, unit_err()));
    CHECK_STR_EQ(cfg.stores[0].type, "rclone");
    CHECK_STR_EQ(cfg.stores[0].remote, "my drive.2+x@y:");
    CHECK_STR_EQ(cfg.stores[0].rclone_config, "/etc/rclone.conf");
    CHECK_STR_EQ(cfg.stores[0].rclone_binary, "/opt/rclone");
    config_release(&cfg);
}

static void test_s3_and_rclone_required_keys(void)
{
    check_parse_error("[store \"x\"]\ntype = s3\nregion = nyc3\n",
                      "test.conf:1: missing required key 'bucket' in [store \"x\"]", "");
    check_parse_error("[store \"x\"]\ntype = rclone\nrclone = /usr/bin/rclone\n",
                      "test.conf:1: missing required key 'remote' in [store \"x\"]", "");
}

static void test_option_of_another_store_type_names_the_type(void)
{
    check_s3_error("path = /b",
                   "key 'path' does not apply to store type 's3' in [store \"spaces-nyc\"]",
                   "'path' is an option of store type 'local'");
    check_s3_error("remote = b2:x",
                   "key 'remote' does not apply to store type 's3' in [store \"spaces-nyc\"]",
                   "'remote' is an option of store type 'rclone'");
    check_parse_error(STORE "bucket = b\n",
                      "test.conf:4: key 'bucket' does not apply to store type 'local' in [store "
                      "\"local\"]",
                      "'bucket' is an option of store type 's3'");
    check_parse_error("[store \"r\"]\ntype = rclone\nremote = b2:x\nendpoint = https://h\n",
                      "test.conf:4: key 'endpoint' does not apply to store type 'rclone' in "
                      "[store \"r\"]",
                      "'endpoint' is an option of store type 's3'");
    /* A job key in a store is just unknown. */
    check_s3_error("keep = last 3", "unknown key 'keep' in [store \"spaces-nyc\"]", "");
    /* A misspelt option still gets its suggestion among the type's own keys. */
    check_s3_error("bukcet = b", "unknown key 'bukcet' in [store \"spaces-nyc\"]",
                   "did you mean 'bucket'?");
}

static void test_endpoint_accepts_http_and_https_urls(void)
{
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"https://nyc3.digitaloceanspaces.com", "https://nyc3.digitaloceanspaces.com"},
        {"https://s3.us-west-004.backblazeb2.com/", "https://s3.us-west-004.backblazeb2.com"},
        {"http://127.0.0.1:7480", "http://127.0.0.1:7480"},
        {"HTTP://minio.lan:9000/", "http://minio.lan:9000"},
        {"https://[::1]:8443", "https://[::1]:8443"},
        {"https://[fd00::1]", "https://[fd00::1]"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char line[256];
        snprintf(line, sizeof(line), "endpoint = %s", cases[i].in);
        CHECK_STR_EQ(parse_s3(line, &cfg)->endpoint, cases[i].want);
        config_release(&cfg);
    }
}

static void test_endpoint_rejects_other_urls(void)
{
    check_s3_error("endpoint = ftp://h", "endpoint: 'ftp://h' is not an http:// or https:// URL",
                   "for example https://nyc3.digitaloceanspaces.com");
    check_s3_error("endpoint = nyc3.digitaloceanspaces.com",
                   "endpoint: 'nyc3.digitaloceanspaces.com' is not an http:// or https:// URL",
                   "for example https://nyc3.digitaloceanspaces.com");
    check_s3_error("endpoint = https://h/bucket",
                   "endpoint: 'https://h/bucket' has a path; give only the scheme, host and port",
                   "the bucket goes in 'bucket', a folder inside it in 'prefix'");
    check_s3_error("endpoint = https://h?x=1",
                   "endpoint: 'https://h?x=1' has an invalid host or port", "");
    check_s3_error("endpoint = https://", "endpoint: 'https://' has an invalid host or port", "");
    check_s3_error("endpoint = https://h:0", "endpoint: 'https://h:0' has an invalid host or port",
                   "");
    check_s3_error("endpoint = https://h:65536",
                   "endpoint: 'https://h:65536' has an invalid host or port", "");
    check_s3_error("endpoint = https://[::1",
                   "endpoint: 'https://[::1' has an invalid host or port", "");
    check_s3_error("endpoint =", "endpoint: empty value", "");
    /* Credentials in the URL are refused without echoing them. */
    check_s3_error("endpoint = https://AKIA:hunter2@h",
                   "endpoint: the URL must not contain credentials; use access_key and secret_key",
                   "");
}

static void test_region_is_a_name(void)
{
    struct config cfg;

    CHECK_STR_EQ(parse_s3("region = us-west-004", &cfg)->region, "us-west-004");
    config_release(&cfg);
    check_s3_error("region = us east",
                   "region: invalid value 'us east' (use 1 to 64 letters, digits, '_', '.' or '-')",
                   "");
    check_s3_error("region = a/b",
                   "region: invalid value 'a/b' (use 1 to 64 letters, digits, '_', '.' or '-')",
                   "");
}

static void test_bucket_names_follow_s3_rules(void)
{
    static const char *const good[] = {
        "abc", "my.bucket-2026", "0ab",
        "a23456789012345678901234567890123456789012345678901234567890123"};

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct config cfg;
        char text[256];
        snprintf(text, sizeof(text), "[store \"x\"]\ntype = s3\nbucket = %s\n", good[i]);
        CHECK_OK(parse(text, &cfg, unit_err()));
        CHECK_STR_EQ(cfg.stores[0].bucket, good[i]);
        config_release(&cfg);
    }
    check_parse_error("[store \"x\"]\ntype = s3\nbucket = ab\n",
                      "test.conf:3: bucket: bucket name 'ab' must be 3 to 63 characters long", "");
    check_parse_error(
        "[store \"x\"]\ntype = s3\nbucket = a234567890123456789012345678901234567890123456789012345"
        "678901234\n",
        "test.conf:3: bucket: bucket name "
        "'a234567890123456789012345678901234567890123456789012345678901234' must be 3 to 63 "
        "characters long",
        "");
    check_parse_error("[store \"x\"]\ntype = s3\nbucket = My-Bucket\n",
                      "test.conf:3: bucket: invalid bucket name 'My-Bucket' (use lowercase "
                      "letters, digits, '.' and '-')",
                      "bucket names are lowercase");
    check_parse_error("[store \"x\"]\ntype = s3\nbucket = my_bucket\n",
                      "test.conf:3: bucket: invalid bucket name 'my_bucket' (use lowercase "
                      "letters, digits, '.' and '-')",
                      "");
    check_parse_error("[store \"x\"]\ntype = s3\nbucket = -bucket\n",
                      "test.conf:3: bucket: bucket name '-bucket' must start and end with a "
                      "lowercase letter or digit",
                      "");
    check_parse_error("[store \"x\"]\ntype = s3\nbucket = bucket.\n",
                      "test.conf:3: bucket: bucket name 'bucket.' must start and end with a "
                      "lowercase letter or digit",
                      "");
    check_parse_error("[store \"x\"]\ntype = s3\nbucket = my..bucket\n",
                      "test.conf:3: bucket: bucket name 'my..bucket' must not contain '..'", "");
    check_parse_error("[store \"x\"]\ntype = s3\nbucket = 192.168.5.4\n",
                      "test.conf:3: bucket: bucket name '192.168.5.4' must not look like an IP "
                      "address",
                      "");
}

static void test_prefix_is_stripped_of_slashes_and_checked(void)
{
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"permafrost", "permafrost"},
        {"/permafrost/", "permafrost"},
        {"//a/b.c/d_e-f//", "a/b.c/d_e-f"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char line[256];
        snprintf(line, sizeof(line), "prefix = %s", cases[i].in);
        CHECK_STR_EQ(parse_s3(line, &cfg)->prefix, cases[i].want);
        config_release(&cfg);
    }
    check_s3_error("prefix = /",
                   "prefix: empty prefix (leave 'prefix' out to store at the top of the bucket)",
                   "");
    check_s3_error("prefix = a//b", "prefix: prefix 'a//b' has an empty, '.' or '..' segment", "");
    check_s3_error("prefix = a/../b", "prefix: prefix 'a/../b' has an empty, '.' or '..' segment",
                   "");
    check_s3_error("prefix = ./a", "prefix: prefix './a' has an empty, '.' or '..' segment", "");
    check_s3_error("prefix = a b",
                   "prefix: invalid prefix 'a b' (use letters, digits, '_', '.', '-' and '/')", "");
}

static void test_prefix_is_capped_at_512_bytes(void)
{
    char line[600];
    struct config cfg;

    memcpy(line, "prefix = ", 9);
    memset(line + 9, 'a', 512);
    line[9 + 512] = '\0';
    CHECK_INT_EQ(strlen(parse_s3(line, &cfg)->prefix), 512);
    config_release(&cfg);
    line[9 + 512] = 'a';
    line[9 + 513] = '\0';
    check_s3_error(line, "prefix: prefix is longer than 512 bytes", "");
}

static void test_path_style_is_unset_yes_or_no(void)
{
    struct config cfg;

    CHECK_INT_EQ(parse_s3("path_style = yes", &cfg)->path_style, CFG_TRISTATE_YES);
    config_release(&cfg);
    CHECK_INT_EQ(parse_s3("path_style = OFF", &cfg)->path_style, CFG_TRISTATE_NO);
    config_release(&cfg);
    check_s3_error("path_style = maybe",
                   "path_style: expected yes or no (or true/false, on/off, 1/0), got 'maybe'", "");
}

static void test_s3_keys_from_env_file_and_inline_are_redacted_in_show(void)
{
    char *path = tmp_file("secret_key", "file-s3cret\n", 12);
    struct config cfg;
    char text[1024];
    char want[512];
    char *out;

    setenv("PF_TEST_S3_KEY", "AKIDEXAMPLE", 1);
    snprintf(text, sizeof(text),
             S3 "access_key = env:PF_TEST_S3_KEY\nsecret_key = file:%s\nsession_token = "
                "inline-s3cret\n",
             path);
    CHECK_OK(parse(text, &cfg, unit_err()));
    CHECK_STR_EQ(cfg.stores[0].access_key.value, "AKIDEXAMPLE");
    CHECK_STR_EQ(cfg.stores[0].secret_key.value, "file-s3cret");
    CHECK_INT_EQ(cfg.stores[0].secret_key.len, 11);
    CHECK_STR_EQ(cfg.stores[0].session_token.value, "inline-s3cret");
    CHECK_STR_EQ(cfg.stores[0].session_token_ref, "inline");
    out = show(&cfg);
    CHECK(strstr(out, "\naccess_key = env:PF_TEST_S3_KEY\n"));
    snprintf(want, sizeof(want), "\nsecret_key = file:%s\n", path);
    CHECK(strstr(out, want));
    CHECK(strstr(out, "\nsession_token = <redacted>\n"));
    CHECK(!strstr(out, "s3cret"));
    CHECK(!strstr(out, "AKIDEXAMPLE"));
    xfree(out);
    config_release(&cfg);
    xfree(path);
}

static void test_s3_key_errors_carry_path_and_line(void)
{
    unsetenv("PF_TEST_UNSET_KEY");
    check_s3_error("access_key = env:PF_TEST_UNSET_KEY",
                   "access_key: environment variable 'PF_TEST_UNSET_KEY' is not set", "");
    check_s3_error("secret_key = file:/nonexistent/secret",
                   "secret_key: cannot read '/nonexistent/secret': No such file or directory", "");
    check_s3_error("session_token =", "session_token: empty value", "");
}

static void test_part_size_accepts_units_within_s3_bounds(void)
{
    static const struct {
        const char *in;
        uint64_t want;
        const char *shown;
    } cases[] = {
        {"16MiB", 16ULL << 20, "16MiB"},  {"16M", 16ULL << 20, "16MiB"},
        {"64 mib", 64ULL << 20, "64MiB"}, {"5MiB", 5ULL << 20, "5MiB"},
        {"5GiB", 5ULL << 30, "5GiB"},     {"1G", 1ULL << 30, "1GiB"},
        {"100MB", 100000000ULL, "100MB"}, {"5242881", 5242881ULL, "5242881"},
        {"6144KiB", 6ULL << 20, "6MiB"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char line[128];
        char want[128];
        char *out;
        snprintf(line, sizeof(line), "part_size = %s", cases[i].in);
        CHECK(parse_s3(line, &cfg)->part_size_bytes == cases[i].want);
        out = show(&cfg);
        snprintf(want, sizeof(want), "\npart_size = %s\n", cases[i].shown);
        CHECK(strstr(out, want));
        xfree(out);
        config_release(&cfg);
    }
    check_s3_error("part_size = 4MiB", "part_size: must be from 5MiB to 5GiB, got '4MiB'", "");
    check_s3_error("part_size = 5242879", "part_size: must be from 5MiB to 5GiB, got '5242879'",
                   "");
    check_s3_error("part_size = 6GiB", "part_size: must be from 5MiB to 5GiB, got '6GiB'", "");
    check_s3_error("part_size = 16 XB", "part_size: expected a size such as 16MiB, got '16 XB'",
                   "units: B, KiB, MiB, GiB, TiB (also K, M, G, T), KB, MB, GB, TB");
    check_s3_error("part_size = -16MiB", "part_size: expected a size such as 16MiB, got '-16MiB'",
                   "units: B, KiB, MiB, GiB, TiB (also K, M, G, T), KB, MB, GB, TB");
    check_s3_error("part_size = 1.5GiB", "part_size: expected a size such as 16MiB, got '1.5GiB'",
                   "units: B, KiB, MiB, GiB, TiB (also K, M, G, T), KB, MB, GB, TB");
    check_s3_error("part_size = 99999999999TiB",
                   "part_size: expected a size such as 16MiB, got '99999999999TiB'",
                   "units: B, KiB, MiB, GiB, TiB (also K, M, G, T), KB, MB, GB, TB");
}

static void test_concurrency_is_1_to_64(void)
{
    struct config cfg;

    CHECK_INT_EQ(parse_s3("concurrency = 64", &cfg)->concurrency, 64);
    config_release(&cfg);
    CHECK_INT_EQ(parse_s3("concurrency = 1", &cfg)->concurrency, 1);
    config_release(&cfg);
    check_s3_error("concurrency = 0", "concurrency: expected a whole number from 1 to 64, got '0'",
                   "");
    check_s3_error("concurrency = 65",
                   "concurrency: expected a whole number from 1 to 64, got '65'", "");
    check_s3_error("concurrency = four",
                   "concurrency: expected a whole number from 1 to 64, got 'four'", "");
}

static void test_timeouts_are_durations(void)
{
    static const struct {
        const char *in;
        int want_ms;
        const char *shown;
    } cases[] = {
        {"10s", 10000, "10s"}, {"30", 30000, "30s"},    {"1500ms", 1500, "1500ms"},
        {"2m", 120000, "2m"},  {"10 M", 600000, "10m"}, {"120s", 120000, "2m"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char line[128];
        char want[128];
        char *out;
        snprintf(line, sizeof(line), "connect_timeout = %s", cases[i].in);
        CHECK_INT_EQ(parse_s3(line, &cfg)->connect_timeout_ms, cases[i].want_ms);
        out = show(&cfg);
        snprintf(want, sizeof(want), "\nconnect_timeout = %s\n", cases[i].shown);
        CHECK(strstr(out, want));
        xfree(out);
        config_release(&cfg);
    }
    {
        struct config cfg;
        CHECK_INT_EQ(parse_s3("low_speed_timeout = 1h", &cfg)->low_speed_timeout_ms, 3600000);
        config_release(&cfg);
    }
    check_s3_error("connect_timeout = 50ms",
                   "connect_timeout: must be from 100ms to 10m, got '50ms'", "");
    check_s3_error("connect_timeout = 11m", "connect_timeout: must be from 100ms to 10m, got '11m'",
                   "");
    check_s3_error("low_speed_timeout = 2h", "low_speed_timeout: must be from 1s to 1h, got '2h'",
                   "");
    check_s3_error("low_speed_timeout = soon",
                   "low_speed_timeout: expected a duration such as 30s, 500ms, 2m or 1h, got "
                   "'soon'",
                   "");
    check_s3_error("low_speed_timeout = 1d",
                   "low_speed_timeout: expected a duration such as 30s, 500ms, 2m or 1h, got '1d'",
                   "");
}

static void test_max_requests_per_second_is_a_positive_number(void)
{
    static const struct {
        const char *in;
        double want;
        const char *shown;
    } cases[] = {
        {"240", 240.0, "240"},
        {"0.5", 0.5, "0.5"},
        {"12.125", 12.125, "12.125"},
        {"3.10", 3.1, "3.1"},
        {"1000000", 1000000.0, "1000000"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char line[128];
        char want[128];
        char *out;
        double got;
        snprintf(line, sizeof(line), "max_requests_per_second = %s", cases[i].in);
        got = parse_s3(line, &cfg)->max_requests_per_second;
        CHECK(got > cases[i].want - 1e-9 && got < cases[i].want + 1e-9);
        out = show(&cfg);
        snprintf(want, sizeof(want), "\nmax_requests_per_second = %s\n", cases[i].shown);
        CHECK(strstr(out, want));
        xfree(out);
        config_release(&cfg);
    }
    check_s3_error("max_requests_per_second = 0",
                   "max_requests_per_second: must be more than 0, got '0'", "");
    check_s3_error("max_requests_per_second = 0.000",
                   "max_requests_per_second: must be more than 0, got '0.000'", "");
    check_s3_error("max_requests_per_second = 1000000.5",
                   "max_requests_per_second: must be at most 1000000, got '1000000.5'", "");
    static const char *const bad[] = {"-1", "1e3", "1.2345", ".5", "5.", "fast", "1,5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char line[128];
        char want[256];
        snprintf(line, sizeof(line), "max_requests_per_second = %s", bad[i]);
        snprintf(want, sizeof(want),
                 "max_requests_per_second: expected a number such as 240 or 0.5 (at most 3 "
                 "decimals) up to 1000000, got '%s'",
                 bad[i]);
        check_s3_error(line, want, "");
    }
}

static void test_rclone_remote_must_be_name_colon_path(void)
{
    check_parse_error("[store \"r\"]\ntype = rclone\nremote = /srv/backups\n",
                      "test.conf:3: remote: expected NAME:path, with NAME a remote in rclone.conf",
                      "for example 'b2:mastodon-backups/permafrost'");
    check_parse_error("[store \"r\"]\ntype = rclone\nremote = -b2:x\n",
                      "test.conf:3: remote: invalid remote name (rclone allows letters, digits, "
                      "'_', '-', '.', '+', '@' and spaces)",
                      "");
    check_parse_error("[store \"r\"]\ntype = rclone\nremote = b2/x:y\n",
                      "test.conf:3: remote: invalid remote name (rclone allows letters, digits, "
                      "'_', '-', '.', '+', '@' and spaces)",
                      "");
    /* Connection strings may carry keys: refused without echoing them. */
    check_parse_error("[store \"r\"]\ntype = rclone\nremote = :s3,secret_access_key=hunter2:b\n",
                      "test.conf:3: remote: on-the-fly remotes and connection strings are not "
                      "supported; define the remote in rclone.conf and write NAME:path",
                      "");
    check_parse_error("[store \"r\"]\ntype = rclone\nremote = b2,key=hunter2:b\n",
                      "test.conf:3: remote: on-the-fly remotes and connection strings are not "
                      "supported; define the remote in rclone.conf and write NAME:path",
                      "");
    check_parse_error("[store \"r\"]\ntype = rclone\nremote = b2:x\nrclone = rclone\n",
                      "test.conf:4: rclone: 'rclone' is not an absolute path", "");
}

static void test_show_of_s3_and_rclone_stores_parses_back(void)
{
    char *path = xasprintf("%s/config/mastodon.conf", unit_fixture_dir());
    struct config cfg;
    struct config again;
    char *first;
    char *second;

    set_fixture_env();
    CHECK_OK(config_load(path, &cfg, unit_err()));
    first = show(&cfg);
    CHECK_OK(config_parse("again.conf", first, strlen(first), &again, unit_err()));
    CHECK_STR_EQ(again.stores[2].endpoint, cfg.stores[2].endpoint);
    CHECK(again.stores[2].part_size_bytes == cfg.stores[2].part_size_bytes);
    CHECK_INT_EQ(again.stores[2].low_speed_timeout_ms, cfg.stores[2].low_speed_timeout_ms);
    CHECK_INT_EQ(again.stores[2].path_style, CFG_TRISTATE_NO);
    CHECK_STR_EQ(again.stores[2].session_token.value, "token-s3cret");
    CHECK_STR_EQ(again.stores[3].remote, cfg.stores[3].remote);
    second = show(&again);
    /* Everything after "# read from PATH" is the same. */
    CHECK_STR_EQ(strchr(strchr(second, '\n') + 1, '\n'), strchr(strchr(first, '\n') + 1, '\n'));
    xfree(second);
    xfree(first);
    config_release(&again);
    config_release(&cfg);
    xfree(path);
}

/* ---- keep per target ---- */

/* A local store, an s3 store and a job replicating to both: lines 1-10; a case appends keys. */
#define TWO                                                                                        \
    STORE "[store \"spaces-nyc\"]\ntype = s3\nbucket = bkt\n"                                      \
          "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\ntargets = local, spaces-nyc\n"

static void test_keep_override_applies_to_its_target_only(void)
{
    struct config cfg;
    const struct cfg_job *job;
    char *out;

    CHECK_OK(parse(TWO "keep = last 3\nkeep.spaces-nyc = daily 14\n", &cfg, unit_err()));
    job = &cfg.jobs[0];
    CHECK_INT_EQ(job->keep_override_count, 1);
    CHECK_STR_EQ(job->keep_overrides[0].store, "spaces-nyc");
    CHECK_STR_EQ(job->keep_overrides[0].keep_text, "daily 14");
    CHECK_INT_EQ(job->keep_overrides[0].line, 12);
    CHECK(config_job_keep_for(job, "spaces-nyc") == &job->keep_overrides[0].keep);
    CHECK_INT_EQ(config_job_keep_for(job, "spaces-nyc")->daily, 14);
    CHECK_INT_EQ(config_job_keep_for(job, "spaces-nyc")->last, 0);
    CHECK(config_job_keep_for(job, "local") == &job->keep);
    CHECK_INT_EQ(config_job_keep_for(job, "local")->last, 3);
    /* Not a target of the job: its keep (a caller error, but harmless). */
    CHECK(config_job_keep_for(job, "elsewhere") == &job->keep);
    out = show(&cfg);
    CHECK(strstr(out, "\nkeep = last 3\nkeep.spaces-nyc = daily 14\nglobals = no\n"));
    xfree(out);
    config_release(&cfg);
}

static void test_keep_override_without_job_keep(void)
{
    struct config cfg;
    const struct cfg_job *job;

    /* The override may come before targets: it is checked once the section is read. */
    CHECK_OK(parse(STORE "[store \"spaces-nyc\"]\ntype = s3\nbucket = bkt\n"
                         "[job \"db\"]\nkind = postgres\nkeep.local = last 2, weekly 4\n"
                         "database = dbname=m\ntargets = local, spaces-nyc\n",
                   &cfg, unit_err()));
    job = &cfg.jobs[0];
    CHECK_INT_EQ(config_job_keep_for(job, "local")->last, 2);
    CHECK_INT_EQ(config_job_keep_for(job, "local")->weekly, 4);
    CHECK(config_job_keep_for(job, "spaces-nyc") == &job->keep);
    CHECK_INT_EQ(job->keep.last + job->keep.daily, 0);
    config_release(&cfg);
}

static void test_empty_keep_override_keeps_everything_on_that_target(void)
{
    struct config cfg;
    const struct keep_policy *k;
    struct config again;
    char *out;

    CHECK_OK(parse(TWO "keep = last 3\nkeep.local =\n", &cfg, unit_err()));
    k = config_job_keep_for(&cfg.jobs[0], "local");
    CHECK(k != &cfg.jobs[0].keep);
    CHECK_INT_EQ(k->last + k->hourly + k->daily + k->weekly + k->monthly + k->yearly, 0);
    out = show(&cfg);
    CHECK(strstr(out, "\nkeep.local = \n"));
    CHECK_OK(config_parse("again", out, strlen(out), &again, unit_err()));
    CHECK_INT_EQ(again.jobs[0].keep_override_count, 1);
    config_release(&again);
    xfree(out);
    config_release(&cfg);
}

static void test_keep_override_matches_target_in_any_case(void)
{
    struct config cfg;
    char *out;

    CHECK_OK(parse("[store \"Spaces-NYC\"]\ntype = s3\nbucket = bkt\n"
                   "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\ntargets = Spaces-NYC\n"
                   "KEEP.Spaces-NYC = daily 14\n",
                   &cfg, unit_err()));
    CHECK_STR_EQ(cfg.jobs[0].keep_overrides[0].store, "Spaces-NYC");
    CHECK_INT_EQ(config_job_keep_for(&cfg.jobs[0], "Spaces-NYC")->daily, 14);
    out = show(&cfg);
    CHECK(strstr(out, "\nkeep.Spaces-NYC = daily 14\n"));
    xfree(out);
    config_release(&cfg);
    check_parse_error("[store \"a\"]\ntype = local\npath = /a\n[store \"A\"]\ntype = local\n"
                      "path = /b\n[job \"db\"]\nkind = postgres\ndatabase = dbname=m\n"
                      "targets = a, A\nkeep.a = last 1\n",
                      "test.conf:11: job 'db': keep.a matches more than one target (store names "
                      "differ only in letter case)",
                      "rename one of the stores: keys such as keep.NAME are not case-sensitive");
}

static void test_keep_override_for_a_store_not_in_targets_is_an_error(void)
{
    check_parse_error(TWO "keep.spaces-nyk = daily 14\n",
                      "test.conf:11: job 'db': keep.spaces-nyk names a store that is not in "
                      "targets (targets: local, spaces-nyc)",
                      "did you mean 'keep.spaces-nyc'?");
    /* A store that exists but is not a target of this job. */
    check_parse_error(STORE "[store \"nas\"]\ntype = local\npath = /n\n" JOB "keep.nas = daily 1\n",
                      "test.conf:11: job 'db': keep.nas names a store that is not in targets "
                      "(targets: local)",
                      "");
    check_parse_error(TWO "keep.offsite = daily 14\n",
                      "test.conf:11: job 'db': keep.offsite names a store that is not in targets "
                      "(targets: local, spaces-nyc)",
                      "");
    check_parse_error(TWO "keep. = daily 14\n", "test.conf:11: unknown key 'keep.' in [job \"db\"]",
                      "did you mean 'keep'?");
}

static void test_keep_override_errors_carry_path_and_line(void)
{
    check_parse_error(TWO "keep.local = dayly 7\n",
                      "test.conf:11: keep.local: unknown unit 'dayly' (did you mean 'daily'?)", "");
    check_parse_error(TWO "keep.local = daily 7\nkeep.spaces-nyc = last 1\nkeep.local = daily 8\n",
                      "test.conf:13: duplicate key 'keep.local' in [job \"db\"] (first at line 11)",
                      "");
    /* Keys are lowercased, so a repeat in another case is a repeat too. */
    check_parse_error(TWO "keep.LOCAL = daily 7\nkeep.local = daily 8\n",
                      "test.conf:12: duplicate key 'keep.local' in [job \"db\"] (first at line 11)",
                      "");
}

static void test_many_keep_overrides_each_find_their_target(void)
{
    /* 2000 targets with an override each, in reverse order (the checks sort and binary-search). */
    struct buf text;
    struct config cfg;

    buf_init(&text, BUF_NO_CAP);
    for (int i = 0; i < 2000; i++)
        buf_addf(&text, "[store \"s%d\"]\ntype = local\npath = /s\n", i);
    buf_adds(&text, "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\ntargets = s0");
    for (int i = 1; i < 2000; i++)
        buf_addf(&text, ", s%d", i);
    buf_adds(&text, "\n");
    for (int i = 1999; i >= 0; i--)
        buf_addf(&text, "keep.s%d = last %d\n", i, i + 1);
    CHECK_OK(config_parse("many.conf", text.data, text.len, &cfg, unit_err()));
    CHECK_INT_EQ(cfg.jobs[0].keep_override_count, 2000);
    CHECK_INT_EQ(config_job_keep_for(&cfg.jobs[0], "s1234")->last, 1235);
    config_release(&cfg);
    buf_release(&text);
}

/* Snapshot directories on a local store: ids are timestamps one day apart, each with a manifest. */
static void make_snapshots(const char *root, int count)
{
    for (int i = 0; i < count; i++) {
        char *dir = xasprintf("%s/db/202611%02dT031500Z-k3f9", root, i + 1);
        char *file = xasprintf("%s/manifest.json", dir);
        char *parent = xasprintf("%s/db", root);
        (void)mkdir(root, 0700);
        (void)mkdir(parent, 0700);
        CHECK(mkdir(dir, 0700) == 0);
        CHECK_OK(fs_write_atomic(file, "{}", 2, 0600, unit_err()));
        xfree(parent);
        xfree(file);
        xfree(dir);
    }
}

static size_t count_kept(const struct prune_report *rep, const char *store)
{
    size_t n = 0;

    for (size_t i = 0; i < rep->count; i++)
        if (strcmp(rep->entries[i].store, store) == 0 && rep->entries[i].is_kept)
            n++;
    return n;
}

static void test_prune_applies_each_targets_policy(void)
{
    char *a = xasprintf("%s/a", unit_tmp_dir());
    char *b = xasprintf("%s/b", unit_tmp_dir());
    char *text = xasprintf("[store \"a\"]\ntype = local\npath = %s\n"
                           "[store \"b\"]\ntype = local\npath = %s\n"
                           "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\ntargets = a, b\n"
                           "keep = last 2\nkeep.b = last 5\n",
                           a, b);
    struct config cfg;
    struct prune_report rep;
    struct store *sa = NULL;
    struct store *sb = NULL;

    memset(&rep, 0, sizeof(rep));
    make_snapshots(a, 8);
    make_snapshots(b, 8);
    CHECK_OK(parse(text, &cfg, unit_err()));
    CHECK_OK(targets_open(&cfg, "a", &sa, unit_err()));
    CHECK_OK(targets_open(&cfg, "b", &sb, unit_err()));
    CHECK_OK(prune_job_store(sa, &cfg.jobs[0], "UTC", true, NULL, &rep, unit_err()));
    CHECK_OK(prune_job_store(sb, &cfg.jobs[0], "UTC", true, NULL, &rep, unit_err()));
    CHECK_INT_EQ(rep.count, 16);
    CHECK_INT_EQ(count_kept(&rep, "a"), 2);
    CHECK_INT_EQ(count_kept(&rep, "b"), 5);
    CHECK_INT_EQ(rep.removed, 6 + 3);
    prune_report_release(&rep);
    store_free(sa);
    store_free(sb);
    config_release(&cfg);
    xfree(text);
    xfree(b);
    xfree(a);
}

static void test_targets_open_passes_s3_options_to_the_store(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct error err = ERROR_INIT;

    /* Until the s3 store is built, store_open refuses it; either way the options reach it with the
     * store's name, and nothing is opened for an unknown name. */
    CHECK_OK(parse(S3, &cfg, unit_err()));
    if (targets_open(&cfg, "spaces-nyc", &s, &err) == 0) {
        CHECK_STR_EQ(store_name(s), "spaces-nyc");
        store_free(s);
    } else {
        CHECK(strstr(err.msg, "spaces-nyc") != NULL);
        CHECK(s == NULL);
    }
    CHECK(targets_open(&cfg, "nowhere", &s, &err) < 0);
    CHECK_STR_EQ(err.msg, "unknown store 'nowhere'");
    config_release(&cfg);
}

static void test_replicated_example_is_valid(void)
{
    char *path = xasprintf("%s/../../examples/replicated.conf", unit_fixture_dir());
    struct config cfg;
    const struct cfg_job *job;

    setenv("DB_PASS", "example", 1);
    setenv("SPACES_KEY", "example", 1);
    setenv("SPACES_SECRET", "example", 1);
    setenv("B2_KEY_ID", "example", 1);
    setenv("B2_APPLICATION_KEY", "example", 1);
    CHECK_OK(config_load(path, &cfg, unit_err()));
    job = config_find_job(&cfg, "db");
    CHECK(job != NULL);
    CHECK_INT_EQ(job->target_count, 3);
    CHECK_STR_EQ(config_find_store(&cfg, job->targets[0])->type, "local");
    CHECK_STR_EQ(config_find_store(&cfg, job->targets[1])->type, "s3");
    CHECK_STR_EQ(config_find_store(&cfg, job->targets[2])->type, "s3");
    CHECK(strcmp(config_find_store(&cfg, "spaces-nyc")->region,
                 config_find_store(&cfg, "b2-eu")->region) != 0);
    CHECK(config_job_keep_for(job, "local") == &job->keep);
    CHECK_INT_EQ(config_job_keep_for(job, "spaces-nyc")->daily, 14);
    CHECK_INT_EQ(config_job_keep_for(job, "b2-eu")->daily, 30);
    config_release(&cfg);
    xfree(path);
}

/* ---- mirror jobs ---- */

/* Two S3 stores on lines 1-6 and a complete mirror job on lines 7-10; a case appends line 11 on. */
#define MSTORES                                                                                    \
    "[store \"src\"]\ntype = s3\nbucket = media-src\n[store \"dst\"]\ntype = s3\nbucket = "        \
    "media-dst\n"
#define MJOB "[job \"media\"]\nkind = mirror\nsource = src\ndestination = dst\n"

/* MSTORES MJOB plus line 11, which must fail with "test.conf:11: " want_msg. */
static void check_mirror_error(const char *line, const char *want_msg, const char *want_hint)
{
    char text[4096];
    char want[1024];

    snprintf(text, sizeof(text), MSTORES MJOB "%s\n", line);
    snprintf(want, sizeof(want), "test.conf:11: %s", want_msg);
    check_parse_error(text, want, want_hint);
}

/* Parses MSTORES MJOB plus lines; returns the mirror job. */
static const struct cfg_job *parse_mirror(const char *lines, struct config *cfg)
{
    char text[4096];

    snprintf(text, sizeof(text), MSTORES MJOB "%s", lines);
    CHECK_OK(parse(text, cfg, unit_err()));
    CHECK_INT_EQ(cfg->job_count, 1);
    return &cfg->jobs[0];
}

static void test_mirror_job_gets_defaults(void)
{
    struct config cfg;
    const struct cfg_job *job = parse_mirror("", &cfg);
    char *out;

    CHECK_INT_EQ(job->kind, JOB_KIND_MIRROR);
    CHECK_STR_EQ(config_job_kind_name(job->kind), "mirror");
    CHECK_STR_EQ(config_job_kind_name(JOB_KIND_POSTGRES), "postgres");
    CHECK_INT_EQ(job->target_count, 0);
    CHECK_STR_EQ(job->mirror.source.store, "src");
    CHECK_STR_EQ(job->mirror.source.prefix, "");
    CHECK_STR_EQ(job->mirror.destination.store, "dst");
    CHECK_INT_EQ(job->mirror.include_count, 0);
    CHECK_INT_EQ(job->mirror.exclude_count, 0);
    CHECK_INT_EQ(job->mirror.preset, CFG_MIRROR_PRESET_NONE);
    CHECK(job->mirror.trash == NULL);
    CHECK_INT_EQ(job->mirror.trash_days, 0);
    CHECK_INT_EQ(job->mirror.concurrency, 64);
    CHECK(!(job->mirror.max_requests_per_second > 0));
    CHECK_INT_EQ(job->mirror.max_delete_count, -1);
    CHECK(job->mirror.max_delete_percent > 9.999 && job->mirror.max_delete_percent < 10.001);
    CHECK_INT_EQ(job->mirror.acl, CFG_MIRROR_ACL_UNSET);
    CHECK(!job->mirror.checksum);
    out = show(&cfg);
    CHECK(strstr(out, "[job \"media\"]\n"
                      "kind = mirror\n"
                      "source = src\n"
                      "destination = dst\n"
                      "# include = (not set: every key)\n"
                      "# exclude = (not set: no key is excluded (but see preset))\n"
                      "preset = none\n"
                      "# trash = (not set: deleted and replaced objects are gone at once)\n"
                      "# trash_days = (not set: 30 when trash is set)\n"
                      "concurrency = 64\n"
                      "# max_requests_per_second = (not set: 0: each store's own "
                      "max_requests_per_second)\n"
                      "max_delete = 10%\n"
                      "# acl = (not set: copy from an S3 source, private from a local one "
                      "(public-read with preset = mastodon))\n"
                      "checksum = no\n"));
    /* No option of a postgres job is shown for a mirror. */
    CHECK(!strstr(out, "targets"));
    CHECK(!strstr(out, "compression"));
    CHECK(!strstr(out, "keep"));
    xfree(out);
    config_release(&cfg);
}

static void test_mirror_sides_take_a_prefix(void)
{
    struct config cfg;
    const struct cfg_job *job;

    job = parse_mirror("", &cfg);
    config_release(&cfg);
    CHECK_OK(parse(MSTORES "[job \"media\"]\nkind = mirror\nsource = src:media/\n"
                           "destination = dst:mirror/social.example\n",
                   &cfg, unit_err()));
    job = &cfg.jobs[0];
    CHECK_STR_EQ(job->mirror.source.store, "src");
    CHECK_STR_EQ(job->mirror.source.prefix, "media");
    CHECK_STR_EQ(job->mirror.destination.prefix, "mirror/social.example");
    config_release(&cfg);
    /* "STORE:" is the top of the store. */
    CHECK_OK(parse(MSTORES "[job \"media\"]\nkind = mirror\nsource = src:\ndestination = dst\n",
                   &cfg, unit_err()));
    CHECK_STR_EQ(cfg.jobs[0].mirror.source.prefix, "");
    config_release(&cfg);
}

static void test_mirror_side_errors_carry_path_and_line(void)
{
    const char *head = MSTORES "[job \"media\"]\nkind = mirror\ndestination = dst\n";
    char text[1024];

    snprintf(text, sizeof(text), "%ssource = src:/media\n", head);
    check_parse_error(text,
                      "test.conf:10: source: prefix in 'src:/media' must not start with '/' (it "
                      "is relative to the store)",
                      "");
    snprintf(text, sizeof(text), "%ssource = src:a//b\n", head);
    check_parse_error(
        text, "test.conf:10: source: prefix 'src:a//b' has an empty, '.' or '..' segment", "");
    snprintf(text, sizeof(text), "%ssource = src:a/../b\n", head);
    check_parse_error(
        text, "test.conf:10: source: prefix 'src:a/../b' has an empty, '.' or '..' segment", "");
    snprintf(text, sizeof(text), "%ssource = src:a b\n", head);
    check_parse_error(text,
                      "test.conf:10: source: invalid prefix 'src:a b' (use letters, digits, '_', "
                      "'.', '-' and '/')",
                      "");
    snprintf(text, sizeof(text), "%ssource = :media\n", head);
    check_parse_error(text, "test.conf:10: source: expected STORE or STORE:PREFIX, got ':media'",
                      "for example 'spaces-nyc:media' or 'public-system'");
    snprintf(text, sizeof(text), "%ssource = s/rc:media\n", head);
    check_parse_error(text,
                      "test.conf:10: source: invalid store name in 's/rc:media' (use 1 to 64 "
                      "letters, digits, '_', '.' or '-')",
                      "");
    snprintf(text, sizeof(text), "%ssource =\n", head);
    check_parse_error(text, "test.conf:10: source: empty value (expected STORE or STORE:PREFIX)",
                      "");
}

static void test_mirror_requires_source_and_destination(void)
{
    check_parse_error(MSTORES "[job \"media\"]\nkind = mirror\ndestination = dst\n",
                      "test.conf:7: missing required key 'source' in [job \"media\"]", "");
    check_parse_error(MSTORES "[job \"media\"]\nkind = mirror\nsource = src\n",
                      "test.conf:7: missing required key 'destination' in [job \"media\"]", "");
}

static void test_mirror_unknown_store_is_named_with_the_key(void)
{
    check_parse_error(MSTORES "[job \"media\"]\nkind = mirror\nsource = srx:media\n"
                              "destination = dst\n",
                      "test.conf:9: job 'media': unknown store 'srx' in source (known: src, dst)",
                      "did you mean 'src'?");
    check_parse_error(MSTORES "[job \"media\"]\nkind = mirror\nsource = src\n"
                              "destination = elsewhere\n",
                      "test.conf:10: job 'media': unknown store 'elsewhere' in destination "
                      "(known: src, dst)",
                      "");
}

static void test_mirror_source_and_destination_must_not_overlap(void)
{
    static const char *const overlapping[][2] = {
        {"src", "src"},         {"src:media", "src:media"}, {"src:media", "src:media/copy"},
        {"src:a/b/c", "src:a"}, {"src", "src:mirror"},      {"src:x", "src"},
    };
    static const char *const apart[][2] = {
        {"src", "dst"},
        {"src:media", "src:mirror"},
        {"src:a", "src:ab"},
        {"src:a/b", "src:a/c"},
    };
    char text[1024];
    char want[512];
    struct config cfg;

    for (size_t i = 0; i < sizeof(overlapping) / sizeof(overlapping[0]); i++) {
        snprintf(text, sizeof(text),
                 MSTORES "[job \"media\"]\nkind = mirror\nsource = %s\ndestination = %s\n",
                 overlapping[i][0], overlapping[i][1]);
        snprintf(want, sizeof(want),
                 "test.conf:10: job 'media': source '%s' and destination '%s' overlap",
                 overlapping[i][0], overlapping[i][1]);
        check_parse_error(text, want,
                          "a mirror must not write into the tree it reads: use prefixes that are "
                          "not inside each other");
    }
    for (size_t i = 0; i < sizeof(apart) / sizeof(apart[0]); i++) {
        snprintf(text, sizeof(text),
                 MSTORES "[job \"media\"]\nkind = mirror\nsource = %s\ndestination = %s\n",
                 apart[i][0], apart[i][1]);
        CHECK_OK(parse(text, &cfg, unit_err()));
        config_release(&cfg);
    }
}

static void test_mirror_stores_that_reach_the_same_place_overlap(void)
{
    const char *hint = "the two stores point at the same place";

    /* Two names for one bucket (and one store prefix inside the other). */
    check_parse_error("[store \"a\"]\ntype = s3\nbucket = media\n"
                      "[store \"b\"]\ntype = s3\nbucket = media\nprefix = /mirror/\n"
                      "[job \"m\"]\nkind = mirror\nsource = a\ndestination = b\n",
                      "test.conf:11: job 'm': source 'a' and destination 'b' overlap", hint);
    /* A local store inside another local store's directory. */
    check_parse_error("[store \"a\"]\ntype = local\npath = /srv/media/\n"
                      "[store \"b\"]\ntype = local\npath = /srv\n"
                      "[job \"m\"]\nkind = mirror\nsource = a\ndestination = b:media/x\n",
                      "test.conf:10: job 'm': source 'a' and destination 'b:media/x' overlap",
                      hint);
    /* The same bucket name at two services is two places. */
    {
        struct config cfg;
        CHECK_OK(parse("[store \"a\"]\ntype = s3\nbucket = media\n"
                       "[store \"b\"]\ntype = s3\nbucket = media\nendpoint = https://s3.example\n"
                       "[store \"c\"]\ntype = local\npath = /srv/a\n"
                       "[store \"d\"]\ntype = local\npath = /srv/ab\n"
                       "[job \"m\"]\nkind = mirror\nsource = a\ndestination = b\n"
                       "[job \"n\"]\nkind = mirror\nsource = c\ndestination = d\n",
                       &cfg, unit_err()));
        config_release(&cfg);
    }
}

static void test_redis_job_options(void)
{
    struct config cfg;
    struct error err = ERROR_INIT;
    const struct cfg_job *job;

    CHECK_OK(parse(STORE "[job \"r\"]\nkind = redis\nurl = redis://127.0.0.1:6380\n"
                         "targets = local\n",
                   &cfg, unit_err()));
    job = config_find_job(&cfg, "r");
    CHECK(job != NULL && job->kind == JOB_KIND_REDIS);
    CHECK_STR_EQ(job->url, "redis://127.0.0.1:6380");
    CHECK(job->redis_method == REDIS_METHOD_AUTO);
    CHECK(job->tls_verify);
    CHECK(job->ca_file == NULL);
    CHECK_INT_EQ(job->compression_level, 1); /* redis jobs: zstd:1 */
    config_release(&cfg);

    CHECK_OK(parse(STORE "[job \"r\"]\nkind = redis\nurl = rediss://[::1]:6380\n"
                         "method = LOGICAL\ntls_verify = no\nca_file = /etc/ca.pem\n"
                         "targets = local\nkeep = last 2\ncompression = zstd:6\n",
                   &cfg, unit_err()));
    job = config_find_job(&cfg, "r");
    CHECK(job->redis_method == REDIS_METHOD_LOGICAL);
    CHECK(!job->tls_verify);
    CHECK_STR_EQ(job->ca_file, "/etc/ca.pem");
    CHECK_INT_EQ(job->keep.last, 2);
    CHECK_INT_EQ(job->compression_level, 6);
    config_release(&cfg);

    /* A wrong scheme is named without echoing the rest, which may hold a password. */
    CHECK(parse(STORE "[job \"r\"]\nkind = redis\nurl = http://u:hunter2@h:6379\n"
                      "targets = local\n",
                &cfg, &err) < 0);
    CHECK(strstr(err.msg, "scheme 'http' is not redis://") != NULL);
    CHECK(strstr(err.msg, "hunter2") == NULL);
    error_clear(&err);
    CHECK(parse(STORE "[job \"r\"]\nkind = redis\nurl = redis://:pw@\ntargets = local\n", &cfg,
                &err) < 0);
    CHECK(strstr(err.msg, "no host") != NULL);
    CHECK(strstr(err.msg, ":pw") == NULL);
    error_clear(&err);
    check_parse_error(STORE "[job \"r\"]\nkind = redis\ntargets = local\n",
                      "test.conf:4: missing required key 'url' in [job \"r\"]", "");
    check_parse_error(STORE "[job \"r\"]\nkind = redis\nurl = redis://h\nmethod = bgsave\n"
                            "targets = local\n",
                      "test.conf:7: method: unknown method 'bgsave' (known: auto, sync, logical)",
                      "");
    check_parse_error(STORE "[job \"r\"]\nkind = redis\nurl = redis://h\ntargets = local\n"
                            "database = dbname=m\n",
                      "test.conf:8: key 'database' does not apply to job kind 'redis' in [job "
                      "\"r\"]",
                      "'database' is an option of job kind 'postgres'");
}

static void test_kind_specific_options_are_refused_in_other_kinds(void)
{
    check_mirror_error("targets = src",
                       "key 'targets' does not apply to job kind 'mirror' in [job \"media\"]",
                       "'targets' is an option of these job kinds: postgres, redis, verify");
    check_mirror_error("database = dbname=m",
                       "key 'database' does not apply to job kind 'mirror' in [job \"media\"]",
                       "'database' is an option of job kind 'postgres'");
    check_mirror_error("keep = daily 7",
                       "key 'keep' does not apply to job kind 'mirror' in [job \"media\"]",
                       "'keep' is an option of these job kinds: postgres, redis");
    check_mirror_error("compression = zstd",
                       "key 'compression' does not apply to job kind 'mirror' in [job \"media\"]",
                       "'compression' is an option of these job kinds: postgres, redis");
    check_parse_error(STORE JOB "source = local\n",
                      "test.conf:8: key 'source' does not apply to job kind 'postgres' in [job "
                      "\"db\"]",
                      "'source' is an option of job kind 'mirror'");
    check_parse_error(STORE JOB "max_delete = 5\n",
                      "test.conf:8: key 'max_delete' does not apply to job kind 'postgres' in "
                      "[job \"db\"]",
                      "'max_delete' is an option of job kind 'mirror'");
    /* A mirror has no targets, so none is required. */
    check_parse_error(STORE "[job \"db\"]\nkind = postgres\ndatabase = dbname=m\n",
                      "test.conf:4: missing required key 'targets' in [job \"db\"]", "");
}

static void test_applies_to_may_list_several_kinds(void)
{
    struct schema_option opt;

    memset(&opt, 0, sizeof(opt));
    opt.section = SCHEMA_SECTION_JOB;
    opt.applies_to = "postgres|mirror";
    CHECK(schema_option_applies(&opt, SCHEMA_SECTION_JOB, "postgres"));
    CHECK(schema_option_applies(&opt, SCHEMA_SECTION_JOB, "mirror"));
    CHECK(schema_option_applies(&opt, SCHEMA_SECTION_JOB, NULL));
    CHECK(!schema_option_applies(&opt, SCHEMA_SECTION_JOB, "redis"));
    CHECK(!schema_option_applies(&opt, SCHEMA_SECTION_JOB, "postgre"));
    CHECK(!schema_option_applies(&opt, SCHEMA_SECTION_JOB, "mirrors"));
    CHECK(!schema_option_applies(&opt, SCHEMA_SECTION_STORE, "mirror"));
    opt.applies_to = "mirror";
    CHECK(!schema_option_applies(&opt, SCHEMA_SECTION_JOB, "postgres"));
    CHECK(schema_option_applies(&opt, SCHEMA_SECTION_JOB, "mirror"));
}

static void test_mirror_globs_split_at_commas_outside_classes(void)
{
    struct config cfg;
    const struct cfg_job *job =
        parse_mirror("include = /media_attachments/** , a[,]b, c\\,d,*.jpg,[],]x\n"
                     "exclude = [!a-z]*.tmp\n",
                     &cfg);

    CHECK_INT_EQ(job->mirror.include_count, 5);
    CHECK_STR_EQ(job->mirror.include[4], "[],]x");
    CHECK_STR_EQ(job->mirror.include[0], "/media_attachments/**");
    CHECK_STR_EQ(job->mirror.include[1], "a[,]b");
    CHECK_STR_EQ(job->mirror.include[2], "c\\,d");
    CHECK_STR_EQ(job->mirror.include[3], "*.jpg");
    CHECK_INT_EQ(job->mirror.exclude_count, 1);
    CHECK_STR_EQ(job->mirror.exclude[0], "[!a-z]*.tmp");
    config_release(&cfg);
}

static void test_mirror_bad_glob_is_reported_with_path_and_line(void)
{
    char text[2048];
    char *long_pattern = xcalloc(1, 1100);

    check_mirror_error("include = a, x[", "include: pattern 'x[': unterminated character class",
                       "");
    check_mirror_error("exclude = *.jpg, a\\", "exclude: pattern 'a\\': trailing '\\'", "");
    check_mirror_error("exclude = a,,b", "exclude: empty pattern in the list", "");
    check_mirror_error("exclude = a,", "exclude: empty pattern in the list", "");
    check_mirror_error("include =", "include: the list is empty", "");
    check_mirror_error("exclude = {a,b}/**",
                       "exclude: pattern '{a': '{a,b}' alternatives are not supported (write '\\{' "
                       "for a literal brace)",
                       "");
    memset(long_pattern, 'a', 1025);
    snprintf(text, sizeof(text), "include = %s", long_pattern);
    check_mirror_error(
        text,
        "include: pattern "
        "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "...': longer than 1024 bytes",
        "");
    xfree(long_pattern);
}

static void test_glob_problem_follows_the_filter_syntax(void)
{
    char *p = xcalloc(1, 1100);

    CHECK(config_glob_problem("*.jpg") == NULL);
    CHECK(config_glob_problem("/cache/**") == NULL);
    CHECK(config_glob_problem("a[b-d]?") == NULL);
    CHECK(config_glob_problem("[!0-9]x") == NULL);
    CHECK(config_glob_problem("a\\[b") == NULL);
    CHECK(config_glob_problem("[\\]]") == NULL);
    CHECK(config_glob_problem("cache/") == NULL);
    CHECK_STR_EQ(config_glob_problem(""), "empty pattern");
    CHECK_STR_EQ(config_glob_problem("["), "unterminated character class");
    CHECK_STR_EQ(config_glob_problem("a[bc"), "unterminated character class");
    CHECK_STR_EQ(config_glob_problem("[\\]"), "unterminated character class");
    CHECK_STR_EQ(config_glob_problem("ab\\"), "trailing '\\'");
    CHECK(config_glob_problem("[]]") == NULL);
    CHECK(config_glob_problem("[!]a]") == NULL);
    CHECK(config_glob_problem("[^a-]") == NULL);
    CHECK(config_glob_problem("\\{a\\}") == NULL);
    CHECK_STR_EQ(config_glob_problem("[]"), "unterminated character class");
    CHECK_STR_EQ(config_glob_problem("[z-a]"), "character class range out of order");
    CHECK_STR_EQ(config_glob_problem("{a,b}"),
                 "'{a,b}' alternatives are not supported (write '\\{' for a literal brace)");
    CHECK_STR_EQ(config_glob_problem("a}"),
                 "'{a,b}' alternatives are not supported (write '\\{' for a literal brace)");
    memset(p, 'x', 1024);
    CHECK(config_glob_problem(p) == NULL);
    p[1024] = 'x';
    CHECK_STR_EQ(config_glob_problem(p), "longer than 1024 bytes");
    xfree(p);
}

/* The config's copy of the syntax rules must agree with the mirror's own parser. */
static void test_glob_problem_agrees_with_the_mirror_filter(void)
{
    static const char *const patterns[] = {
        "*.jpg",
        "/cache/**",
        "cache/",
        "a[b-d]?",
        "[!0-9]x",
        "[^x]",
        "a\\[b",
        "[\\]]",
        "[]]",
        "[!]a]",
        "[a-]",
        "[-a]",
        "[",
        "[]",
        "[!]",
        "a[bc",
        "[\\]",
        "ab\\",
        "\\",
        "[z-a]",
        "[\\z-a]",
        "[a-\\]]",
        "{a,b}",
        "a}",
        "\\{a\\}",
        "\xc3\xa9*",
        "[\xc3\xa9-\xc3\xbf]",
        "[\xc3\xbf-\xc3\xa9]",
        "[\xff-a]",
        "[a-\xff]",
        "**/x/**",
        "/",
        "x/",
        "?",
        "[[]",
        "[]-]",
        "a[!-]b",
    };
    char *long_ok = xcalloc(1, 1100);
    char *long_bad = xcalloc(1, 1100);

    memset(long_ok, 'a', 1024);
    memset(long_bad, 'a', 1025);
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]) + 3; i++) {
        const char *p =
            i < sizeof(patterns) / sizeof(patterns[0])
                ? patterns[i]
                : (const char *[]){"", long_ok,
                                   long_bad}[i - sizeof(patterns) / sizeof(patterns[0])];
        struct mirror_filter f;
        struct error err = ERROR_INIT;
        const char *mine = config_glob_problem(p);
        int r;

        memset(&f, 0, sizeof(f));
        r = mirror_filter_add(&f, false, p, &err);
        mirror_filter_release(&f);
        if ((mine == NULL) != (r == 0))
            unit_fail(__FILE__, __LINE__, "pattern '%.40s': config says %s, the mirror %s", p,
                      mine ? mine : "valid", r == 0 ? "valid" : err.msg);
        else if (mine && !strstr(err.msg, mine))
            unit_fail(__FILE__, __LINE__, "pattern '%.40s': config says '%s', the mirror '%s'", p,
                      mine, err.msg);
    }
    xfree(long_ok);
    xfree(long_bad);
}

static void test_mirror_preset_and_acl(void)
{
    struct config cfg;
    const struct cfg_job *job;

    job = parse_mirror("preset = Mastodon\nacl = PUBLIC-READ\n", &cfg);
    CHECK_INT_EQ(job->mirror.preset, CFG_MIRROR_PRESET_MASTODON);
    CHECK_INT_EQ(job->mirror.acl, CFG_MIRROR_ACL_PUBLIC_READ);
    config_release(&cfg);
    job = parse_mirror("preset = none\nacl = copy\n", &cfg);
    CHECK_INT_EQ(job->mirror.preset, CFG_MIRROR_PRESET_NONE);
    CHECK_INT_EQ(job->mirror.acl, CFG_MIRROR_ACL_COPY);
    config_release(&cfg);
    job = parse_mirror("acl = private\n", &cfg);
    CHECK_INT_EQ(job->mirror.acl, CFG_MIRROR_ACL_PRIVATE);
    config_release(&cfg);
    check_mirror_error("preset = mastodn",
                       "preset: unknown preset 'mastodn' (known: none, mastodon)",
                       "did you mean 'mastodon'?");
    check_mirror_error("acl = public",
                       "acl: unknown acl 'public' (known: copy, public-read, private)", "");
}

static void test_mirror_trash(void)
{
    struct config cfg;
    const struct cfg_job *job;

    job = parse_mirror("trash = .trash/\n", &cfg);
    CHECK_STR_EQ(job->mirror.trash, ".trash");
    CHECK_INT_EQ(job->mirror.trash_days, 30);
    config_release(&cfg);
    job = parse_mirror("trash_days = 3650\ntrash = old/media\n", &cfg);
    CHECK_STR_EQ(job->mirror.trash, "old/media");
    CHECK_INT_EQ(job->mirror.trash_days, 3650);
    config_release(&cfg);
    check_mirror_error("trash_days = 7",
                       "job 'media': trash_days needs trash (a prefix in the destination store)",
                       "");
    check_mirror_error("trash_days = 0",
                       "trash_days: expected a whole number from 1 to 3650, got '0'", "");
    check_mirror_error("trash_days = 3651",
                       "trash_days: expected a whole number from 1 to 3650, got '3651'", "");
    check_mirror_error("trash = /.trash",
                       "trash: prefix in '/.trash' must not start with '/' (it is relative to "
                       "the store)",
                       "");
    check_mirror_error("trash =", "trash: empty prefix (leave 'trash' out to delete outright)", "");
    check_mirror_error("trash = a/../b", "trash: prefix 'a/../b' has an empty, '.' or '..' segment",
                       "");
    /* In one store: the trash must not be in the source, nor hold the destination. */
    check_parse_error(MSTORES "[job \"media\"]\nkind = mirror\nsource = src:media\n"
                              "destination = src:mirror\ntrash = media/.trash\n",
                      "test.conf:11: job 'media': trash 'media/.trash' overlaps the source "
                      "'src:media'",
                      "");
    check_parse_error(MSTORES "[job \"media\"]\nkind = mirror\nsource = src\n"
                              "destination = dst:.trash/x\ntrash = .trash\n",
                      "test.conf:11: job 'media': the destination 'dst:.trash/x' is inside the "
                      "trash '.trash'",
                      "the trash is a prefix of the destination store, e.g. '.trash'");
    /* The trash inside the mirrored tree is fine: core leaves it out of the mirror. */
    job = parse_mirror("trash = .trash\n", &cfg);
    CHECK_STR_EQ(job->mirror.destination.prefix, "");
    config_release(&cfg);
}

static void test_mirror_numbers(void)
{
    struct config cfg;
    const struct cfg_job *job;

    job = parse_mirror("concurrency = 1024\nmax_requests_per_second = 0\nmax_delete = 0\n"
                       "checksum = yes\n",
                       &cfg);
    CHECK_INT_EQ(job->mirror.concurrency, 1024);
    CHECK(!(job->mirror.max_requests_per_second > 0));
    CHECK_INT_EQ(job->mirror.max_delete_count, 0);
    CHECK(job->mirror.checksum);
    config_release(&cfg);
    job = parse_mirror("concurrency = 1\nmax_requests_per_second = 0.5\nmax_delete = 500\n", &cfg);
    CHECK_INT_EQ(job->mirror.concurrency, 1);
    CHECK(job->mirror.max_requests_per_second > 0.499 &&
          job->mirror.max_requests_per_second < 0.501);
    CHECK_INT_EQ(job->mirror.max_delete_count, 500);
    config_release(&cfg);
    job = parse_mirror("max_delete = 0.5%\n", &cfg);
    CHECK_INT_EQ(job->mirror.max_delete_count, -1);
    CHECK(job->mirror.max_delete_percent > 0.499 && job->mirror.max_delete_percent < 0.501);
    config_release(&cfg);
    job = parse_mirror("max_delete = 100%\n", &cfg);
    CHECK(job->mirror.max_delete_percent > 99.999);
    config_release(&cfg);
    check_mirror_error("concurrency = 0",
                       "concurrency: expected a whole number from 1 to 1024, got '0'", "");
    check_mirror_error("concurrency = 1025",
                       "concurrency: expected a whole number from 1 to 1024, got '1025'", "");
    check_mirror_error("max_requests_per_second = -1",
                       "max_requests_per_second: expected a number such as 240 or 0.5 (at most "
                       "3 decimals) up to 1000000, got '-1'",
                       "");
    check_mirror_error("max_delete = 100.5%",
                       "max_delete: expected a percentage from 0% to 100% with at most 3 "
                       "decimals, got '100.5%'",
                       "");
    check_mirror_error("max_delete = 10 percent",
                       "max_delete: expected a count (0 to 1000000000000) or a percentage, got "
                       "'10 percent'",
                       "for example 'max_delete = 500' or 'max_delete = 10%'");
    check_mirror_error("max_delete = -5",
                       "max_delete: expected a count (0 to 1000000000000) or a percentage, got "
                       "'-5'",
                       "for example 'max_delete = 500' or 'max_delete = 10%'");
    check_mirror_error("checksum = maybe",
                       "checksum: expected yes or no (or true/false, on/off, 1/0), got 'maybe'",
                       "");
}

static void test_show_of_a_mirror_job_parses_back(void)
{
    struct config cfg;
    struct config again;
    char *first;
    char *second;

    parse_mirror("include = a[,]b, c\\,d\nexclude = /cache/**\npreset = mastodon\n"
                 "trash = .trash\nconcurrency = 8\nmax_requests_per_second = 12.5\n"
                 "max_delete = 0.25%\nacl = private\nchecksum = yes\n",
                 &cfg);
    first = show(&cfg);
    CHECK(strstr(first, "\ninclude = a[,]b, c\\,d\n"));
    CHECK(strstr(first, "\ntrash = .trash\ntrash_days = 30\n"));
    CHECK(strstr(first, "\nmax_requests_per_second = 12.5\nmax_delete = 0.25%\nacl = private\n"));
    CHECK_OK(config_parse("show.conf", first, strlen(first), &again, unit_err()));
    second = show(&again);
    /* Only the "read from" line differs. */
    CHECK_STR_EQ(strstr(second, "\n\n"), strstr(first, "\n\n"));
    xfree(first);
    xfree(second);
    config_release(&again);
    config_release(&cfg);
}

/* ---- mirror jobs: from the configuration to mirror_options ---- */

static int setup_of(const char *text, const struct mirror_job_request *overrides,
                    struct config *cfg, struct mirror_job_setup *setup)
{
    struct mirror_job_request req;

    CHECK_OK(parse(text, cfg, unit_err()));
    if (overrides)
        req = *overrides;
    else
        memset(&req, 0, sizeof(req));
    req.cfg = cfg;
    req.job = &cfg->jobs[cfg->job_count - 1];
    return mirror_job_setup_init(&req, setup, unit_err());
}

static void test_mirror_setup_passes_stores_prefixes_and_defaults(void)
{
    struct config cfg;
    struct mirror_job_setup setup;
    const struct mirror_options *o = &setup.opts;

    CHECK_OK(setup_of(MSTORES "[job \"media\"]\nkind = mirror\nsource = src:media\n"
                              "destination = dst:mirror/x\n",
                      NULL, &cfg, &setup));
    CHECK_STR_EQ(o->job, "media");
    CHECK_STR_EQ(o->source->name, "src");
    CHECK_STR_EQ(o->source->type, "s3");
    CHECK_STR_EQ(o->source->bucket, "media-src");
    CHECK_STR_EQ(o->destination->bucket, "media-dst");
    CHECK_INT_EQ(o->source->path_style, -1);
    CHECK_STR_EQ(o->source_prefix, "media/");
    CHECK_STR_EQ(o->destination_prefix, "mirror/x/");
    CHECK_INT_EQ(o->include_count, 0);
    CHECK_INT_EQ(o->exclude_count, 0);
    CHECK(o->trash_prefix == NULL);
    CHECK_INT_EQ(o->trash_days, 0);
    CHECK_INT_EQ(o->concurrency, 64);
    CHECK(!(o->max_requests_per_second > 0));
    CHECK_INT_EQ(o->max_delete_count, -1);
    CHECK(o->max_delete_percent > 9.999 && o->max_delete_percent < 10.001);
    CHECK_INT_EQ(o->acl, MIRROR_ACL_DEFAULT);
    CHECK(!o->is_checksum);
    CHECK(!o->is_dry_run);
    mirror_job_setup_release(&setup);
    config_release(&cfg);
}

static void test_mirror_setup_preset_mastodon_excludes_cache_and_sets_acl(void)
{
    struct config cfg;
    struct mirror_job_setup setup;
    const struct mirror_options *o = &setup.opts;

    /* From a local directory: public-read, as Mastodon's own uploads. */
    CHECK_OK(
        setup_of("[store \"sys\"]\ntype = local\npath = /home/mastodon/live/public/system\n" MSTORES
                 "[job \"media\"]\nkind = mirror\nsource = sys\ndestination = dst\n"
                 "exclude = *.tmp\npreset = mastodon\n",
                 NULL, &cfg, &setup));
    CHECK_INT_EQ(o->exclude_count, 2);
    CHECK_STR_EQ(o->exclude[0], "*.tmp");
    CHECK_STR_EQ(o->exclude[1], "/cache/**");
    CHECK_INT_EQ(o->acl, MIRROR_ACL_PUBLIC_READ);
    mirror_job_setup_release(&setup);
    config_release(&cfg);
    /* From S3 the default (copy each object's ACL) stays; an explicit acl always wins. */
    CHECK_OK(setup_of(MSTORES MJOB "preset = mastodon\n", NULL, &cfg, &setup));
    CHECK_INT_EQ(o->acl, MIRROR_ACL_DEFAULT);
    CHECK_INT_EQ(o->exclude_count, 1);
    mirror_job_setup_release(&setup);
    config_release(&cfg);
    CHECK_OK(setup_of("[store \"sys\"]\ntype = local\npath = /srv/system\n" MSTORES
                      "[job \"media\"]\nkind = mirror\nsource = sys\ndestination = dst\n"
                      "preset = mastodon\nacl = private\n",
                      NULL, &cfg, &setup));
    CHECK_INT_EQ(o->acl, MIRROR_ACL_PRIVATE);
    mirror_job_setup_release(&setup);
    config_release(&cfg);
    CHECK_OK(setup_of(MSTORES MJOB "acl = copy\ninclude = /a/**\n", NULL, &cfg, &setup));
    CHECK_INT_EQ(o->acl, MIRROR_ACL_COPY);
    CHECK_INT_EQ(o->include_count, 1);
    CHECK_STR_EQ(o->include[0], "/a/**");
    mirror_job_setup_release(&setup);
    config_release(&cfg);
}

static void test_mirror_setup_passes_the_trash(void)
{
    struct config cfg;
    struct mirror_job_setup setup;
    const struct mirror_options *o = &setup.opts;

    /* Inside the mirrored tree: the mirror leaves it out of both listings; no filter is added. */
    CHECK_OK(setup_of(MSTORES MJOB "trash = .trash\n", NULL, &cfg, &setup));
    CHECK_STR_EQ(o->trash_prefix, ".trash/");
    CHECK_INT_EQ(o->trash_days, 30);
    CHECK_INT_EQ(o->exclude_count, 0);
    mirror_job_setup_release(&setup);
    config_release(&cfg);
    CHECK_OK(setup_of(MSTORES "[job \"media\"]\nkind = mirror\nsource = src\n"
                              "destination = dst:media\ntrash = media-trash\ntrash_days = 7\n",
                      NULL, &cfg, &setup));
    CHECK_STR_EQ(o->trash_prefix, "media-trash/");
    CHECK_INT_EQ(o->trash_days, 7);
    mirror_job_setup_release(&setup);
    config_release(&cfg);
}

static void test_mirror_setup_takes_command_line_overrides(void)
{
    struct config cfg;
    struct mirror_job_setup setup;
    struct mirror_job_request over;
    const struct mirror_options *o = &setup.opts;

    memset(&over, 0, sizeof(over));
    over.is_dry_run = true;
    over.is_checksum = true;
    over.has_max_delete = true;
    over.max_delete_count = 2000;
    CHECK_OK(setup_of(MSTORES MJOB "max_delete = 3%\nconcurrency = 8\n"
                                   "max_requests_per_second = 50\n",
                      &over, &cfg, &setup));
    CHECK(o->is_dry_run);
    CHECK(o->is_checksum);
    CHECK_INT_EQ(o->max_delete_count, 2000);
    CHECK(!(o->max_delete_percent > 0));
    CHECK_INT_EQ(o->concurrency, 8);
    CHECK(o->max_requests_per_second > 49.999 && o->max_requests_per_second < 50.001);
    mirror_job_setup_release(&setup);
    config_release(&cfg);
    over.max_delete_count = -1;
    over.max_delete_percent = 25.0;
    over.is_checksum = false;
    CHECK_OK(setup_of(MSTORES MJOB "max_delete = 3\nchecksum = yes\n", &over, &cfg, &setup));
    CHECK_INT_EQ(o->max_delete_count, -1);
    CHECK(o->max_delete_percent > 24.999 && o->max_delete_percent < 25.001);
    CHECK(o->is_checksum);
    mirror_job_setup_release(&setup);
    config_release(&cfg);
    /* Without an override the job's count stands. */
    CHECK_OK(setup_of(MSTORES MJOB "max_delete = 3\n", NULL, &cfg, &setup));
    CHECK_INT_EQ(o->max_delete_count, 3);
    mirror_job_setup_release(&setup);
    config_release(&cfg);
}

static void test_mirror_job_outcome_names(void)
{
    CHECK_STR_EQ(mirror_job_outcome_name(MIRROR_JOB_OK), "ok");
    CHECK_STR_EQ(mirror_job_outcome_name(MIRROR_JOB_FAILED), "failed");
    CHECK_STR_EQ(mirror_job_outcome_name(MIRROR_JOB_PARTIAL), "partial");
    CHECK_STR_EQ(mirror_job_outcome_name(MIRROR_JOB_CANCELLED), "cancelled");
    CHECK_STR_EQ(mirror_job_outcome_name(MIRROR_JOB_REFUSED), "refused");
}

/* ---- encryption and verify jobs ---- */

#define RECIPIENT_A "age1ndedzva9nktrgcx8ttj08eleg2flt0zqk3hrnkyl94ejcaxm3qcqdhy572"

static void test_encrypt_recipients_are_checked_at_load(void)
{
    const char *hint = "copy the line 'public key: age1...' that `permafrost keygen` or "
                       "`age-keygen` printed";

    check_parse_error(
        STORE JOB "encrypt = age1qqqq\n",
        "test.conf:8: encrypt: recipient 'age1qqqq': bech32: data part shorter than the checksum",
        hint);
    check_parse_error(STORE JOB "encrypt = ssh-ed25519 AAAAC3Nza\n",
                      "test.conf:8: encrypt: 'ssh-ed25519 AAAAC3Nza' is not an age recipient (they "
                      "start with age1)",
                      hint);
    /* one changed character breaks the checksum */
    check_parse_error(STORE JOB "encrypt = "
                                "age1ndedzva9nktrgcx8ttj08eleg2flt0zqk3hrnkyl94ejcaxm3qcqdhy573\n",
                      "test.conf:8: encrypt: recipient 'age1ndedzva9nktrgcx8...': bech32: bad "
                      "checksum (a typo, or a cut string?)",
                      hint);
    check_parse_error(STORE JOB "encrypt = " RECIPIENT_A ", " RECIPIENT_A "\n",
                      "test.conf:8: encrypt: '" RECIPIENT_A "' is listed twice", "");
    {
        struct buf text;
        buf_init(&text, BUF_NO_CAP);
        buf_adds(&text, STORE JOB "encrypt = ");
        for (int i = 0; i < SCHEMA_RECIPIENTS_MAX + 1; i++)
            buf_addf(&text, "%sage1x%d", i ? ", " : "", i);
        buf_adds(&text, "\n");
        check_parse_error(text.data, "test.conf:8: encrypt: 257 recipients; at most 256", "");
        buf_release(&text);
    }
}

static void test_encrypt_and_passphrase_exclude_each_other(void)
{
    setenv("PERMAFROST_TEST_PP", "pp", 1);
    check_parse_error(STORE JOB "encrypt = " RECIPIENT_A
                                "\nencrypt_passphrase = env:PERMAFROST_TEST_PP\n",
                      "test.conf:8: job 'db': encrypt and encrypt_passphrase are both set",
                      "age puts a passphrase in a file alone: choose recipients (encrypt = "
                      "age1...) or encrypt_passphrase");
    check_parse_error("[global]\nencrypt = " RECIPIENT_A
                      "\nencrypt_passphrase = env:PERMAFROST_TEST_PP\n" STORE JOB,
                      "test.conf:1: [global]: encrypt and encrypt_passphrase are both set",
                      "age puts a passphrase in a file alone: choose recipients (encrypt = "
                      "age1...) or encrypt_passphrase");
}

static void test_job_encryption_replaces_global_and_identity_is_inherited(void)
{
    struct config cfg;

    setenv("PERMAFROST_TEST_PP", "pp", 1);
    setenv("PERMAFROST_TEST_ID", "AGE-SECRET-KEY-1X", 1);
    CHECK_OK(parse("[global]\nencrypt = " RECIPIENT_A
                   "\nidentity = env:PERMAFROST_TEST_ID\n" STORE JOB
                   "[job \"db2\"]\nkind = postgres\ndatabase = dbname=m\ntargets = local\n"
                   "encrypt_passphrase = env:PERMAFROST_TEST_PP\n",
                   &cfg, unit_err()));
    CHECK_INT_EQ(cfg.jobs[0].crypt.recipient_count, 1);
    CHECK(!secret_is_set(&cfg.jobs[0].crypt.passphrase));
    CHECK_STR_EQ(cfg.jobs[0].crypt.identity.value, "AGE-SECRET-KEY-1X");
    CHECK_INT_EQ(cfg.jobs[1].crypt.recipient_count, 0);
    CHECK_STR_EQ(cfg.jobs[1].crypt.passphrase.value, "pp");
    CHECK_STR_EQ(cfg.jobs[1].crypt.passphrase_ref, "env:PERMAFROST_TEST_PP");
    CHECK_STR_EQ(cfg.jobs[1].crypt.identity.value, "AGE-SECRET-KEY-1X");
    config_release(&cfg);
}

static void test_verify_job_options(void)
{
    struct config cfg;

    CHECK_OK(parse(STORE JOB "[job \"drill\"]\nkind = verify\n", &cfg, unit_err()));
    CHECK_INT_EQ(cfg.jobs[1].kind, JOB_KIND_VERIFY);
    CHECK_INT_EQ(cfg.jobs[1].verify_job_count, 0);
    CHECK_INT_EQ(cfg.jobs[1].target_count, 0);
    CHECK(cfg.jobs[1].verify_restore);
    CHECK_INT_EQ(cfg.jobs[1].verify_snapshots, VERIFY_SNAPSHOTS_LATEST);
    config_release(&cfg);
    check_parse_error(STORE JOB "[job \"drill\"]\nkind = verify\njobs = db, dbb\n",
                      "test.conf:10: job 'drill': unknown job 'dbb' in jobs", "");
    check_parse_error(STORE JOB "[job \"m\"]\nkind = mirror\nsource = local:a\n"
                                "destination = local:b\n"
                                "[job \"drill\"]\nkind = verify\njobs = m\n",
                      "test.conf:14: job 'drill': 'm' in jobs is a mirror job; verify checks "
                      "postgres and redis jobs",
                      "");
    check_parse_error(
        STORE JOB "[job \"drill\"]\nkind = verify\ntargets = nowhere\n",
        "test.conf:10: job 'drill': unknown store 'nowhere' in targets (known: local)", "");
    check_parse_error(STORE JOB "[job \"drill\"]\nkind = verify\nsnapshots = some\n",
                      "test.conf:10: snapshots: unknown snapshot selection 'some' (known: latest, "
                      "all)",
                      "");
    check_parse_error(STORE JOB "[job \"drill\"]\nkind = verify\nencrypt = " RECIPIENT_A "\n",
                      "test.conf:10: key 'encrypt' does not apply to job kind 'verify' in [job "
                      "\"drill\"]",
                      "'encrypt' is an option of these job kinds: postgres, redis");
}

/* ---- config show ---- */

static void test_show_fills_in_defaults(void)
{
    struct config cfg;
    char *out;

    CHECK_OK(parse(STORE JOB, &cfg, unit_err()));
    out = show(&cfg);
    CHECK_STR_EQ(out,
                 "# permafrost configuration: effective values, defaults filled in, secrets "
                 "redacted\n"
                 "# read from test.conf\n"
                 "\n"
                 "[global]\n"
                 "# state_dir = (not set: --state-dir, $PERMAFROST_STATE_DIR, "
                 "$XDG_STATE_HOME/permafrost or ~/.local/state/permafrost)\n"
                 "# timezone = (not set: the machine's time zone)\n"
                 "max_concurrent_jobs = 2\n"
                 "shutdown_timeout = 30s\n"
                 "metrics_listen = 127.0.0.1:9187\n"
                 "# encrypt = (not set: not encrypted)\n"
                 "# encrypt_passphrase = (not set: no passphrase)\n"
                 "# identity = (not set: none: encrypted snapshots are checked by SHA-256 only)\n"
                 "\n"
                 "[store \"local\"]\n"
                 "type = local\n"
                 "path = /b\n"
                 "\n"
                 "[job \"db\"]\n"
                 "kind = postgres\n"
                 "database = dbname=m\n"
                 "# password = (not set: libpq's other methods apply: peer, trust, ~/.pgpass)\n"
                 "targets = local\n"
                 "# keep = (not set: keep every snapshot)\n"
                 "# keep.STORE = (not set: keep applies on every target)\n"
                 "globals = no\n"
                 "compression = zstd:3\n"
                 "row_counts = exact\n"
                 "# pg_dump = (not set: the newest pg_dump installed)\n"
                 "# encrypt = (not set: [global]'s encrypt, else not encrypted)\n"
                 "# encrypt_passphrase = (not set: [global]'s, else none)\n"
                 "# identity = (not set: [global]'s identity)\n"
                 "# scratch = (not set: the job's own server (database), where the user may "
                 "CREATE DATABASE)\n"
                 "# schedule = (not set: none: the job runs only through 'permafrost run')\n"
                 "# jitter = (not set: 0: exactly on time)\n"
                 "# stale_after = (not set: 1.5 times the longest gap between two runs of the "
                 "schedule, plus any DST shift)\n"
                 "catch_up = no\n");
    xfree(out);
    config_release(&cfg);
}

static void test_show_lists_every_schema_option(void)
{
    char *path = xasprintf("%s/config/mastodon.conf", unit_fixture_dir());
    struct config cfg;
    char *out;

    set_fixture_env();
    CHECK_OK(config_load(path, &cfg, unit_err()));
    out = show(&cfg);
    for (size_t i = 0; i < schema_option_count; i++) {
        char line[128];
        /* A family shows as its items: keep.spaces-nyc = ... */
        if (schema_options[i].key_prefix)
            snprintf(line, sizeof(line), "\n%s", schema_options[i].key_prefix);
        else
            snprintf(line, sizeof(line), "\n%s = ", schema_options[i].name);
        if (!strstr(out, line))
            unit_fail(__FILE__, __LINE__, "'%s' missing from config show:\n%s",
                      schema_options[i].name, out);
    }
    CHECK(strstr(out, "\nkeep = last 3, daily 7, weekly 4, monthly 6, yearly 2\n"));
    CHECK(strstr(out, "\ncompression = zstd:6:2\n"));
    CHECK(strstr(out, "\npath = /mnt/nas/mastodon backups\n"));
    CHECK(strstr(out, "\ntargets = local, nas, spaces-nyc, b2\n"));
    CHECK(strstr(out, "\nkeep.spaces-nyc = daily 14, monthly 12\nkeep.b2 = daily 30\n"));
    CHECK(strstr(out, "\nendpoint = https://nyc3.digitaloceanspaces.com\n"));
    CHECK(strstr(out, "\nprefix = permafrost/db\n"));
    CHECK(strstr(out, "\npath_style = no\n"));
    CHECK(strstr(out, "\naccess_key = env:PERMAFROST_TEST_SPACES_KEY\n"));
    CHECK(strstr(out, "\nmax_requests_per_second = 240\n"));
    CHECK(strstr(out, "\npart_size = 64MiB\n"));
    CHECK(strstr(out, "\nconnect_timeout = 10s\n"));
    CHECK(strstr(out, "\nlow_speed_timeout = 2m\n"));
    CHECK(strstr(out, "\nremote = b2:social-example-backups/permafrost\n"));
    CHECK(!strstr(out, "s3cret"));
    CHECK(strstr(out, "\nglobals = yes\n"));
    CHECK(strstr(out, "\nrow_counts = estimate\n"));
    CHECK(strstr(out, "\ntimezone = Europe/Berlin\n"));
    CHECK(strstr(out, "\nurl = rediss://backup:***@redis.internal:6380\n"));
    CHECK(strstr(out, "\nmethod = auto\n"));
    CHECK(strstr(out, "\ntls_verify = no\n"));
    xfree(out);
    config_release(&cfg);
    xfree(path);
}

static void test_show_never_prints_a_secret_value(void)
{
    struct config cfg;
    char text[512];
    char *out;
    char *path = tmp_file("pass", "file-s3cret\n", 12);

    CHECK_OK(parse(STORE JOB "password = inline-s3cret\n", &cfg, unit_err()));
    out = show(&cfg);
    CHECK(strstr(out, "\npassword = <redacted>\n"));
    CHECK(!strstr(out, "s3cret"));
    xfree(out);
    config_release(&cfg);

    setenv("PF_TEST_DB_PASS", "env-s3cret", 1);
    CHECK_OK(parse(STORE JOB "password = env:PF_TEST_DB_PASS\n", &cfg, unit_err()));
    out = show(&cfg);
    CHECK(strstr(out, "\npassword = env:PF_TEST_DB_PASS\n"));
    CHECK(!strstr(out, "s3cret"));
    xfree(out);
    config_release(&cfg);

    snprintf(text, sizeof(text), STORE JOB "password = file:%s\n", path);
    CHECK_OK(parse(text, &cfg, unit_err()));
    out = show(&cfg);
    snprintf(text, sizeof(text), "\npassword = file:%s\n", path);
    CHECK(strstr(out, text));
    CHECK(!strstr(out, "s3cret"));
    xfree(out);
    config_release(&cfg);
    xfree(path);
}

static void test_show_output_parses_back_to_the_same_config(void)
{
    char *path = xasprintf("%s/config/mastodon.conf", unit_fixture_dir());
    struct config cfg;
    struct config again;
    char *first;
    char *second;

    set_fixture_env();
    CHECK_OK(config_load(path, &cfg, unit_err()));
    first = show(&cfg);
    CHECK_OK(config_parse(path, first, strlen(first), &again, unit_err()));
    second = show(&again);
    CHECK_STR_EQ(second, first);
    CHECK_STR_EQ(again.jobs[0].password.value, "pg-s3cret");
    CHECK_STR_EQ(again.stores[2].secret_key.value, "spaces-s3cret");
    CHECK_INT_EQ(again.jobs[0].keep_override_count, 2);
    config_release(&again);
    xfree(second);
    xfree(first);
    config_release(&cfg);
    xfree(path);
}

static void test_show_quotes_values_that_need_it(void)
{
    struct config cfg;
    char *out;

    CHECK_OK(parse(STORE "[job \"db\"]\nkind = postgres\ntargets = local\n"
                         "database = \"host=db application_name='a ;b'\"\n",
                   &cfg, unit_err()));
    out = show(&cfg);
    CHECK(strstr(out, "\ndatabase = \"host=db application_name='a ;b'\"\n"));
    xfree(out);
    config_release(&cfg);
}

/* ---- config_load ---- */

static void test_load_missing_file_gives_hint(void)
{
    struct config cfg;
    struct error err = ERROR_INIT;

    CHECK(config_load("/nonexistent/permafrost.conf", &cfg, &err) < 0);
    CHECK_INT_EQ(err.kind, ERR_CONFIG);
    CHECK_STR_EQ(err.msg,
                 "cannot read config '/nonexistent/permafrost.conf': No such file or directory");
    CHECK_STR_EQ(err.hint, "pass -c FILE or set PERMAFROST_CONFIG");
}

static void test_load_directory_is_an_error(void)
{
    struct config cfg;
    struct error err = ERROR_INIT;
    char want[512];

    snprintf(want, sizeof(want), "cannot read config '%s': Is a directory", unit_tmp_dir());
    CHECK(config_load(unit_tmp_dir(), &cfg, &err) < 0);
    CHECK_INT_EQ(err.kind, ERR_CONFIG);
    CHECK_STR_EQ(err.msg, want);
    CHECK_STR_EQ(err.hint, "");
}

static void test_load_caps_the_file_at_1_mib(void)
{
    size_t cap = 1024 * 1024;
    char *data = xmalloc(cap + 1);
    struct config cfg;
    struct error err = ERROR_INIT;
    char want[512];
    char *path;

    /* Lines of 1023 '#' and a newline: a valid, comment-only config of exactly 1 MiB. */
    for (size_t i = 0; i < cap + 1; i++)
        data[i] = (i % 1024 == 1023) ? '\n' : '#';
    path = tmp_file("full.conf", data, cap);
    CHECK_OK(config_load(path, &cfg, unit_err()));
    config_release(&cfg);
    xfree(path);
    path = tmp_file("over.conf", data, cap + 1);
    snprintf(want, sizeof(want), "cannot read config '%s': larger than 1048576 bytes", path);
    CHECK(config_load(path, &cfg, &err) < 0);
    CHECK_INT_EQ(err.kind, ERR_CONFIG);
    CHECK_STR_EQ(err.msg, want);
    xfree(path);
    xfree(data);
}

static void test_load_reports_errors_with_the_file_path(void)
{
    static const char text[] = "[store \"x\"]\ntype = local\npth = /b\n";
    char *path = tmp_file("bad.conf", text, sizeof(text) - 1);
    struct config cfg;
    struct error err = ERROR_INIT;
    char want[512];

    snprintf(want, sizeof(want), "%s:3: unknown key 'pth' in [store \"x\"]", path);
    CHECK(config_load(path, &cfg, &err) < 0);
    CHECK_STR_EQ(err.msg, want);
    CHECK_STR_EQ(err.hint, "did you mean 'path'?");
    xfree(path);
}

/* ---- the schema itself ---- */

static void test_schema_table_is_consistent(void)
{
    static const enum schema_section sections[] = {SCHEMA_SECTION_GLOBAL, SCHEMA_SECTION_STORE,
                                                   SCHEMA_SECTION_JOB};

    CHECK(schema_option_count <= SCHEMA_MAX_OPTIONS);
    for (size_t i = 0; i < schema_option_count; i++) {
        const struct schema_option *o = &schema_options[i];
        CHECK(o->name && o->help && o->example);
        if (o->key_prefix)
            CHECK(o->set_item && o->format_items && !o->set && !o->format && !o->is_required &&
                  strncmp(o->name, o->key_prefix, strlen(o->key_prefix)) == 0);
        else
            CHECK(o->set && o->format && !o->set_item && !o->format_items);
        /* Required options have no default; optional ones either have one or say what unset means.
         */
        if (o->is_required)
            CHECK(o->default_value == NULL);
        else
            CHECK(o->default_value != NULL || o->unset_doc != NULL);
        if (o->type == SCHEMA_ENUM)
            CHECK(o->choices && o->choices[0] && o->choice_label);
        for (size_t j = 0; j < i; j++)
            CHECK(!(schema_options[j].section == o->section &&
                    strcmp(schema_options[j].name, o->name) == 0));
    }
    CHECK(schema_discriminator(SCHEMA_SECTION_GLOBAL) == NULL);
    CHECK_STR_EQ(schema_discriminator(SCHEMA_SECTION_STORE)->name, "type");
    CHECK_STR_EQ(schema_discriminator(SCHEMA_SECTION_JOB)->name, "kind");
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        enum schema_section s;
        CHECK(schema_section_from_name(schema_section_name(sections[i]), &s));
        CHECK_INT_EQ(s, sections[i]);
    }
    CHECK(schema_find(SCHEMA_SECTION_JOB, "postgres", "database") != NULL);
    CHECK(schema_find(SCHEMA_SECTION_JOB, "mysql", "database") == NULL);
    CHECK(schema_find(SCHEMA_SECTION_JOB, "mysql", "targets") == NULL);
    CHECK(schema_find(SCHEMA_SECTION_JOB, "postgres", "targets") != NULL);
    CHECK(schema_find(SCHEMA_SECTION_JOB, "mirror", "targets") == NULL);
    CHECK(schema_find(SCHEMA_SECTION_JOB, "mirror", "source") != NULL);
    CHECK(schema_find(SCHEMA_SECTION_JOB, "postgres", "source") == NULL);
    CHECK(schema_find(SCHEMA_SECTION_JOB, "mirror", "kind") != NULL);
    CHECK_STR_EQ(schema_find(SCHEMA_SECTION_JOB, "mirror", "concurrency")->applies_to, "mirror");
    CHECK_STR_EQ(schema_find(SCHEMA_SECTION_STORE, "s3", "concurrency")->applies_to, "s3");
    CHECK(schema_find(SCHEMA_SECTION_STORE, NULL, "database") == NULL);
    CHECK(schema_find(SCHEMA_SECTION_STORE, "s3", "bucket") != NULL);
    CHECK(schema_find(SCHEMA_SECTION_STORE, "local", "bucket") == NULL);
    CHECK(schema_find(SCHEMA_SECTION_STORE, "rclone", "remote") != NULL);
    CHECK_STR_EQ(schema_find(SCHEMA_SECTION_JOB, "postgres", "keep.offsite")->name, "keep.STORE");
    CHECK_STR_EQ(schema_find(SCHEMA_SECTION_JOB, NULL, "keep")->name, "keep");
    CHECK(schema_find(SCHEMA_SECTION_JOB, NULL, "keep.") == NULL);
    CHECK(schema_find(SCHEMA_SECTION_STORE, NULL, "keep.offsite") == NULL);
}

static void test_every_schema_example_is_accepted(void)
{
    struct config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.stores = xcalloc(1, sizeof(*cfg.stores));
    cfg.store_count = 1;
    cfg.jobs = xcalloc(1, sizeof(*cfg.jobs));
    cfg.job_count = 1;
    cfg.notifies = xcalloc(1, sizeof(*cfg.notifies));
    cfg.notify_count = 1;
    setenv("OPS_DISCORD_URL", "discord://1/example", 1);
    setenv("DB_PASS", "example", 1);
    setenv("SPACES_KEY", "example", 1);
    setenv("SPACES_SECRET", "example", 1);
    setenv("AWS_SESSION_TOKEN", "example", 1);
    setenv("BACKUP_PASSPHRASE", "example", 1);
    setenv("AGE_IDENTITY", "example", 1);
    for (size_t i = 0; i < schema_option_count; i++) {
        const struct schema_option *o = &schema_options[i];
        void *obj = o->section == SCHEMA_SECTION_GLOBAL  ? (void *)&cfg.global
                    : o->section == SCHEMA_SECTION_STORE ? (void *)cfg.stores
                    : o->section == SCHEMA_SECTION_JOB   ? (void *)cfg.jobs
                                                         : (void *)cfg.notifies;
        int r = o->key_prefix ? o->set_item(o, obj, "offsite", o->example, 1, unit_err())
                              : o->set(o, obj, o->example, unit_err());
        if (r != 0)
            unit_fail(__FILE__, __LINE__, "example of '%s' rejected: %s", o->name, unit_err()->msg);
    }
    config_release(&cfg);
}

static void test_every_schema_option_is_documented(void)
{
    char *path = xasprintf("%s/../../docs/configuration.md", unit_fixture_dir());
    struct buf doc;

    buf_init(&doc, BUF_NO_CAP);
    CHECK_OK(fs_read_file(path, &doc, unit_err()));
    for (size_t i = 0; i < schema_option_count; i++) {
        char heading[128];
        snprintf(heading, sizeof(heading), "\n### `%s`", schema_options[i].name);
        if (!strstr(doc.data, heading))
            unit_fail(__FILE__, __LINE__, "docs/configuration.md lacks a '### `%s`' section",
                      schema_options[i].name);
        if (schema_options[i].default_value) {
            char def[128];
            snprintf(def, sizeof(def), "`%s`", schema_options[i].default_value);
            CHECK(strstr(doc.data, def));
        }
    }
    buf_release(&doc);
    xfree(path);
}

static void test_suggest_uses_edit_distance_with_transpositions(void)
{
    static const char *const keys[] = {"kind",    "database",    "password",   "targets", "keep",
                                       "globals", "compression", "row_counts", "pg_dump"};
    const size_t n = sizeof(keys) / sizeof(keys[0]);

    CHECK_STR_EQ(schema_suggest("pasword", keys, n), "password");
    CHECK_STR_EQ(schema_suggest("passwrod", keys, n), "password");
    CHECK_STR_EQ(schema_suggest("pg_dupm", keys, n), "pg_dump");
    CHECK_STR_EQ(schema_suggest("rowcounts", keys, n), "row_counts");
    CHECK_STR_EQ(schema_suggest("keeep", keys, n), "keep");
    CHECK(schema_suggest("schedule", keys, n) == NULL);
    CHECK(schema_suggest("k", keys, n) == NULL);
    CHECK(schema_suggest("", keys, n) == NULL);
    CHECK(schema_suggest("passwordxyz", keys, n) == NULL);
}

static void test_printable_masks_control_bytes_and_cuts_long_text(void)
{
    char out[16];

    CHECK_STR_EQ(schema_printable("a\x1b[1mb\n", out, sizeof(out)), "a?[1mb?");
    CHECK_STR_EQ(schema_printable("0123456789abcdefghij", out, sizeof(out)), "0123456789ab...");
    CHECK_STR_EQ(schema_printable("0123456789abcde", out, sizeof(out)), "0123456789abcde");
}

const struct unit_test config_tests[] = {
    {"test_minimal_config_gets_defaults", test_minimal_config_gets_defaults},
    {"test_empty_file_is_a_valid_config", test_empty_file_is_a_valid_config},
    {"test_config_without_jobs_is_valid", test_config_without_jobs_is_valid},
    {"test_mastodon_fixture_loads_every_option", test_mastodon_fixture_loads_every_option},
    {"test_minimal_fixture_loads", test_minimal_fixture_loads},
    {"test_targets_may_name_a_store_defined_later", test_targets_may_name_a_store_defined_later},
    {"test_find_store_and_job_by_name", test_find_store_and_job_by_name},
    {"test_enum_values_are_case_insensitive_and_stored_canonical",
     test_enum_values_are_case_insensitive_and_stored_canonical},
    {"test_store_and_job_names_of_64_chars_are_accepted",
     test_store_and_job_names_of_64_chars_are_accepted},
    {"test_unknown_key_suggests_nearest", test_unknown_key_suggests_nearest},
    {"test_unknown_key_far_from_every_key_has_no_hint",
     test_unknown_key_far_from_every_key_has_no_hint},
    {"test_unknown_section_suggests_nearest", test_unknown_section_suggests_nearest},
    {"test_notify_sections", test_notify_sections},
    {"test_daemon_options", test_daemon_options},
    {"test_section_names_are_checked", test_section_names_are_checked},
    {"test_invalid_name_is_shown_printable", test_invalid_name_is_shown_printable},
    {"test_duplicate_key_names_both_lines", test_duplicate_key_names_both_lines},
    {"test_duplicate_sections_name_both_lines", test_duplicate_sections_name_both_lines},
    {"test_same_name_for_a_store_and_a_job_is_allowed",
     test_same_name_for_a_store_and_a_job_is_allowed},
    {"test_required_keys_are_reported_at_the_header",
     test_required_keys_are_reported_at_the_header},
    {"test_unknown_store_type_lists_known_types", test_unknown_store_type_lists_known_types},
    {"test_unknown_job_kind_lists_known_kinds", test_unknown_job_kind_lists_known_kinds},
    {"test_unknown_target_lists_known_stores", test_unknown_target_lists_known_stores},
    {"test_unknown_target_with_many_stores_shortens_the_list",
     test_unknown_target_with_many_stores_shortens_the_list},
    {"test_targets_list_errors", test_targets_list_errors},
    {"test_targets_are_trimmed_and_kept_in_order", test_targets_are_trimmed_and_kept_in_order},
    {"test_paths_must_be_absolute", test_paths_must_be_absolute},
    {"test_syntax_errors_carry_path_and_line", test_syntax_errors_carry_path_and_line},
    {"test_nul_byte_in_config_is_an_error", test_nul_byte_in_config_is_an_error},
    {"test_failed_parse_leaves_config_empty", test_failed_parse_leaves_config_empty},
    {"test_bool_accepts_every_spelling", test_bool_accepts_every_spelling},
    {"test_compression_accepts_level_and_threads", test_compression_accepts_level_and_threads},
    {"test_compression_rejects_bad_values", test_compression_rejects_bad_values},
    {"test_row_counts_modes", test_row_counts_modes},
    {"test_timezone_accepts_utc_and_iana_names", test_timezone_accepts_utc_and_iana_names},
    {"test_timezone_rejects_unknown_names_and_non_zone_files",
     test_timezone_rejects_unknown_names_and_non_zone_files},
    {"test_conninfo_with_a_password_is_rejected", test_conninfo_with_a_password_is_rejected},
    {"test_conninfo_without_a_password_is_accepted", test_conninfo_without_a_password_is_accepted},
    {"test_malformed_conninfo_is_rejected_without_echoing_it",
     test_malformed_conninfo_is_rejected_without_echoing_it},
    {"test_password_from_env", test_password_from_env},
    {"test_password_env_errors", test_password_env_errors},
    {"test_password_from_file_strips_one_newline", test_password_from_file_strips_one_newline},
    {"test_password_file_errors_include_strerror", test_password_file_errors_include_strerror},
    {"test_password_file_unreadable_reports_permission_denied",
     test_password_file_unreadable_reports_permission_denied},
    {"test_password_file_is_capped_at_64_kib", test_password_file_is_capped_at_64_kib},
    {"test_inline_password_is_accepted_and_recorded_as_inline",
     test_inline_password_is_accepted_and_recorded_as_inline},
    {"test_secret_values_never_reach_error_messages",
     test_secret_values_never_reach_error_messages},
    {"test_resolve_secret_outside_the_file", test_resolve_secret_outside_the_file},
    {"test_keep_parses_every_unit", test_keep_parses_every_unit},
    {"test_keep_accepts_any_order_case_and_spacing", test_keep_accepts_any_order_case_and_spacing},
    {"test_keep_empty_keeps_everything", test_keep_empty_keeps_everything},
    {"test_keep_unknown_unit_suggests_nearest", test_keep_unknown_unit_suggests_nearest},
    {"test_keep_count_must_be_1_to_100000", test_keep_count_must_be_1_to_100000},
    {"test_keep_unit_may_appear_once", test_keep_unit_may_appear_once},
    {"test_keep_rejects_empty_items", test_keep_rejects_empty_items},
    {"test_keep_errors_in_config_carry_path_and_line",
     test_keep_errors_in_config_carry_path_and_line},
    {"test_keep_in_config_empty_means_keep_all", test_keep_in_config_empty_means_keep_all},
    {"test_s3_store_with_only_a_bucket_leaves_the_rest_unset",
     test_s3_store_with_only_a_bucket_leaves_the_rest_unset},
    {"test_rclone_store_options", test_rclone_store_options},
    {"test_s3_and_rclone_required_keys", test_s3_and_rclone_required_keys},
    {"test_option_of_another_store_type_names_the_type",
     test_option_of_another_store_type_names_the_type},
    {"test_endpoint_accepts_http_and_https_urls", test_endpoint_accepts_http_and_https_urls},
    {"test_endpoint_rejects_other_urls", test_endpoint_rejects_other_urls},
    {"test_region_is_a_name", test_region_is_a_name},
    {"test_bucket_names_follow_s3_rules", test_bucket_names_follow_s3_rules},
    {"test_prefix_is_stripped_of_slashes_and_checked",
     test_prefix_is_stripped_of_slashes_and_checked},
    {"test_prefix_is_capped_at_512_bytes", test_prefix_is_capped_at_512_bytes},
    {"test_path_style_is_unset_yes_or_no", test_path_style_is_unset_yes_or_no},
    {"test_s3_keys_from_env_file_and_inline_are_redacted_in_show",
     test_s3_keys_from_env_file_and_inline_are_redacted_in_show},
    {"test_s3_key_errors_carry_path_and_line", test_s3_key_errors_carry_path_and_line},
    {"test_part_size_accepts_units_within_s3_bounds",
     test_part_size_accepts_units_within_s3_bounds},
    {"test_concurrency_is_1_to_64", test_concurrency_is_1_to_64},
    {"test_timeouts_are_durations", test_timeouts_are_durations},
    {"test_max_requests_per_second_is_a_positive_number",
     test_max_requests_per_second_is_a_positive_number},
    {"test_rclone_remote_must_be_name_colon_path", test_rclone_remote_must_be_name_colon_path},
    {"test_show_of_s3_and_rclone_stores_parses_back",
     test_show_of_s3_and_rclone_stores_parses_back},
    {"test_keep_override_applies_to_its_target_only",
     test_keep_override_applies_to_its_target_only},
    {"test_keep_override_without_job_keep", test_keep_override_without_job_keep},
    {"test_empty_keep_override_keeps_everything_on_that_target",
     test_empty_keep_override_keeps_everything_on_that_target},
    {"test_keep_override_matches_target_in_any_case",
     test_keep_override_matches_target_in_any_case},
    {"test_keep_override_for_a_store_not_in_targets_is_an_error",
     test_keep_override_for_a_store_not_in_targets_is_an_error},
    {"test_keep_override_errors_carry_path_and_line",
     test_keep_override_errors_carry_path_and_line},
    {"test_many_keep_overrides_each_find_their_target",
     test_many_keep_overrides_each_find_their_target},
    {"test_prune_applies_each_targets_policy", test_prune_applies_each_targets_policy},
    {"test_targets_open_passes_s3_options_to_the_store",
     test_targets_open_passes_s3_options_to_the_store},
    {"test_replicated_example_is_valid", test_replicated_example_is_valid},
    {"test_mirror_job_gets_defaults", test_mirror_job_gets_defaults},
    {"test_mirror_sides_take_a_prefix", test_mirror_sides_take_a_prefix},
    {"test_mirror_side_errors_carry_path_and_line", test_mirror_side_errors_carry_path_and_line},
    {"test_mirror_requires_source_and_destination", test_mirror_requires_source_and_destination},
    {"test_mirror_unknown_store_is_named_with_the_key",
     test_mirror_unknown_store_is_named_with_the_key},
    {"test_mirror_source_and_destination_must_not_overlap",
     test_mirror_source_and_destination_must_not_overlap},
    {"test_mirror_stores_that_reach_the_same_place_overlap",
     test_mirror_stores_that_reach_the_same_place_overlap},
    {"test_redis_job_options", test_redis_job_options},
    {"test_kind_specific_options_are_refused_in_other_kinds",
     test_kind_specific_options_are_refused_in_other_kinds},
    {"test_applies_to_may_list_several_kinds", test_applies_to_may_list_several_kinds},
    {"test_encrypt_recipients_are_checked_at_load", test_encrypt_recipients_are_checked_at_load},
    {"test_encrypt_and_passphrase_exclude_each_other",
     test_encrypt_and_passphrase_exclude_each_other},
    {"test_job_encryption_replaces_global_and_identity_is_inherited",
     test_job_encryption_replaces_global_and_identity_is_inherited},
    {"test_verify_job_options", test_verify_job_options},
    {"test_mirror_globs_split_at_commas_outside_classes",
     test_mirror_globs_split_at_commas_outside_classes},
    {"test_mirror_bad_glob_is_reported_with_path_and_line",
     test_mirror_bad_glob_is_reported_with_path_and_line},
    {"test_glob_problem_follows_the_filter_syntax", test_glob_problem_follows_the_filter_syntax},
    {"test_glob_problem_agrees_with_the_mirror_filter",
     test_glob_problem_agrees_with_the_mirror_filter},
    {"test_mirror_preset_and_acl", test_mirror_preset_and_acl},
    {"test_mirror_trash", test_mirror_trash},
    {"test_mirror_numbers", test_mirror_numbers},
    {"test_show_of_a_mirror_job_parses_back", test_show_of_a_mirror_job_parses_back},
    {"test_mirror_setup_passes_stores_prefixes_and_defaults",
     test_mirror_setup_passes_stores_prefixes_and_defaults},
    {"test_mirror_setup_preset_mastodon_excludes_cache_and_sets_acl",
     test_mirror_setup_preset_mastodon_excludes_cache_and_sets_acl},
    {"test_mirror_setup_passes_the_trash", test_mirror_setup_passes_the_trash},
    {"test_mirror_setup_takes_command_line_overrides",
     test_mirror_setup_takes_command_line_overrides},
    {"test_mirror_job_outcome_names", test_mirror_job_outcome_names},
    {"test_show_fills_in_defaults", test_show_fills_in_defaults},
    {"test_show_lists_every_schema_option", test_show_lists_every_schema_option},
    {"test_show_never_prints_a_secret_value", test_show_never_prints_a_secret_value},
    {"test_show_output_parses_back_to_the_same_config",
     test_show_output_parses_back_to_the_same_config},
    {"test_show_quotes_values_that_need_it", test_show_quotes_values_that_need_it},
    {"test_load_missing_file_gives_hint", test_load_missing_file_gives_hint},
    {"test_load_directory_is_an_error", test_load_directory_is_an_error},
    {"test_load_caps_the_file_at_1_mib", test_load_caps_the_file_at_1_mib},
    {"test_load_reports_errors_with_the_file_path", test_load_reports_errors_with_the_file_path},
    {"test_schema_table_is_consistent", test_schema_table_is_consistent},
    {"test_every_schema_example_is_accepted", test_every_schema_example_is_accepted},
    {"test_every_schema_option_is_documented", test_every_schema_option_is_documented},
    {"test_suggest_uses_edit_distance_with_transpositions",
     test_suggest_uses_edit_distance_with_transpositions},
    {"test_printable_masks_control_bytes_and_cuts_long_text",
     test_printable_masks_control_bytes_and_cuts_long_text},
    {NULL, NULL},
};
