/* status and metrics without servers: the catalog's schema-3 migration from a schema-2 file, the
 * last run and last success of a job, the derived stale_after of several schedules, status_collect
 * on a catalog filled by hand (stale, not stale, a job never run, an unscheduled one), the exact
 * Prometheus exposition of a small catalog (label escaping, every line valid), the HTTP request
 * head parser, and the metrics server over a real loopback socket (200, HEAD, 404, 405, 400 on
 * garbage, 431 on an oversized head, an address in use). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config/config.h"
#include "core/catalog.h"
#include "core/metrics.h"
#include "core/status.h"
#include "net/http_serve.h"
#include "unit.h"
#include "util/buf.h"
#include "util/cron.h"
#include "util/fs.h"
#include "util/xalloc.h"

#define T0   ((time_t)1795000000) /* 2026-11-17T08:26:40Z, a Tuesday */
#define HOUR 3600
#define DAY  86400

static void add_run(struct catalog *c, const char *job, time_t start, time_t end,
                    const char *result, const char *error, uint64_t stored)
{
    int64_t id = -1;

    CHECK_OK(catalog_run_begin(c, job, NULL, start, &id, unit_err()));
    CHECK_OK(catalog_run_end(c, id, end, result, error, stored, stored * 3, unit_err()));
}

static void test_catalog_migrates_a_schema_2_catalog(void)
{
    char *path = xasprintf("%s/catalog.db", unit_tmp_dir());
    sqlite3 *db = NULL;
    struct catalog *c = NULL;
    struct catalog_run r;
    bool found = false;
    time_t seen = 0;
    time_t started = 0;

    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TABLE runs (id INTEGER PRIMARY KEY, job TEXT NOT NULL,"
                       " snapshot_id TEXT, started_at INTEGER NOT NULL, ended_at INTEGER,"
                       " result TEXT, error TEXT, stored_bytes INTEGER, raw_bytes INTEGER);"
                       "CREATE INDEX runs_job ON runs(job, started_at);"
                       "CREATE TABLE snapshots (job TEXT NOT NULL, id TEXT NOT NULL,"
                       " store TEXT NOT NULL, time INTEGER NOT NULL, stored_bytes INTEGER NOT NULL,"
                       " raw_bytes INTEGER NOT NULL, kind TEXT NOT NULL,"
                       " PRIMARY KEY (job, id, store));"
                       "CREATE TABLE verifications (id INTEGER PRIMARY KEY, job TEXT NOT NULL,"
                       " snapshot_id TEXT NOT NULL, store TEXT NOT NULL, time INTEGER NOT NULL,"
                       " level TEXT NOT NULL, result TEXT NOT NULL, detail TEXT,"
                       " duration_ms INTEGER NOT NULL);"
                       "INSERT INTO snapshots VALUES ('db', '20261117T082640Z-k3f9', 'local',"
                       " 1795000000, 100, 400, 'postgres');"
                       "INSERT INTO runs VALUES (1, 'db', '20261117T082640Z-k3f9', 1795000000,"
                       " 1795000090, 'ok', NULL, 100, 400);"
                       "INSERT INTO runs VALUES (2, 'media', NULL, 1795000500, 1795000502,"
                       " 'failed', 'boom', 0, 0);"
                       "PRAGMA user_version = 2;",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);

    CHECK_OK(catalog_open(unit_tmp_dir(), &c, unit_err()));
    CHECK_OK(catalog_last_run(c, "db", false, &r, &found, unit_err()));
    CHECK(found);
    CHECK_INT_EQ(r.started_at, 1795000000);
    CHECK_STR_EQ(r.kind, "postgres"); /* from its snapshot */
    CHECK_INT_EQ(r.duration_ms, 90000);
    CHECK_STR_EQ(r.result, "ok");
    CHECK_INT_EQ(r.stored_bytes, 100);
    CHECK(!r.has_mirror_counts);
    catalog_run_release(&r);
    CHECK_OK(catalog_last_run(c, "media", false, &r, &found, unit_err()));
    CHECK(found);
    CHECK(r.kind == NULL);
    CHECK_STR_EQ(r.error, "boom");
    catalog_run_release(&r);
    /* A job's first run is its first sighting. */
    CHECK_OK(catalog_job_seen(c, "media", T0 + 9999, &seen, unit_err()));
    CHECK_INT_EQ(seen, 1795000500);
    CHECK_OK(catalog_last_run_started(c, "media", &started, &found, unit_err()));
    CHECK(found);
    CHECK_INT_EQ(started, 1795000500);
    catalog_close(c);

    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    {
        sqlite3_stmt *st = NULL;
        CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(st) == SQLITE_ROW);
        CHECK_INT_EQ(sqlite3_column_int(st, 0), 3);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    xfree(path);
}

/* Two processes opening an old catalog at once (a scrape and a run after an upgrade): the one
 * that waited for the write lock must see that the other migrated, not migrate again. */
static void test_catalog_migration_waits_and_rereads_the_version(void)
{
    char *path = xasprintf("%s/catalog.db", unit_tmp_dir());
    sqlite3 *db = NULL;
    pid_t pid;
    int status = 0;
    int go[2];

    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "PRAGMA journal_mode = WAL;"
                       "CREATE TABLE runs (id INTEGER PRIMARY KEY, job TEXT NOT NULL,"
                       " snapshot_id TEXT, started_at INTEGER NOT NULL, ended_at INTEGER,"
                       " result TEXT, error TEXT, stored_bytes INTEGER, raw_bytes INTEGER);"
                       "CREATE INDEX runs_job ON runs(job, started_at);"
                       "CREATE TABLE snapshots (job TEXT NOT NULL, id TEXT NOT NULL,"
                       " store TEXT NOT NULL, time INTEGER NOT NULL, stored_bytes INTEGER NOT NULL,"
                       " raw_bytes INTEGER NOT NULL, kind TEXT NOT NULL,"
                       " PRIMARY KEY (job, id, store));"
                       "CREATE TABLE verifications (id INTEGER PRIMARY KEY, job TEXT NOT NULL,"
                       " snapshot_id TEXT NOT NULL, store TEXT NOT NULL, time INTEGER NOT NULL,"
                       " level TEXT NOT NULL, result TEXT NOT NULL, detail TEXT,"
                       " duration_ms INTEGER NOT NULL);"
                       "PRAGMA user_version = 2;",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    db = NULL;
    /* The child forks with no connection open (SQLite's locks do not survive a fork), and opens
     * the catalog once this process holds the write lock. */
    CHECK(pipe(go) == 0);
    (void)fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct catalog *c = NULL;
        struct error err = ERROR_INIT;
        char byte;
        int rc;

        close(go[1]);
        if (read(go[0], &byte, 1) != 1)
            _exit(2);
        rc = catalog_open(unit_tmp_dir(), &c, &err);
        if (rc < 0)
            (void)fprintf(stderr, "child: %s\n", err.msg);
        catalog_close(c);
        _exit(rc == 0 ? 0 : 1);
    }
    close(go[0]);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(write(go[1], "g", 1) == 1);
    close(go[1]);
    /* Let the child read the old version and queue for the write lock, then migrate as another
     * permafrost would. */
    {
        struct timespec ts = {0, 500 * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    CHECK(sqlite3_exec(db,
                       "ALTER TABLE runs ADD COLUMN kind TEXT;"
                       "ALTER TABLE runs ADD COLUMN duration_ms INTEGER;"
                       "ALTER TABLE runs ADD COLUMN mirror_copied_objects INTEGER;"
                       "ALTER TABLE runs ADD COLUMN mirror_copied_bytes INTEGER;"
                       "ALTER TABLE runs ADD COLUMN mirror_deleted_objects INTEGER;"
                       "ALTER TABLE runs ADD COLUMN mirror_deleted_bytes INTEGER;"
                       "CREATE INDEX runs_job_result ON runs(job, result, started_at);"
                       "CREATE TABLE jobs_seen (job TEXT PRIMARY KEY, first_seen INTEGER NOT NULL);"
                       "PRAGMA user_version = 3;"
                       "COMMIT;",
                       NULL, NULL, NULL) == SQLITE_OK);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_INT_EQ(WEXITSTATUS(status), 0);
    sqlite3_close(db);
    xfree(path);
}

static void test_catalog_last_run_and_last_success(void)
{
    struct catalog *c = NULL;
    struct catalog_run r;
    struct catalog_mirror_counts m = {3, 300, 1, 10};
    struct catalog_mirror_counts total;
    struct catalog_run_count *counts = NULL;
    size_t count = 0;
    int64_t id = -1;
    bool found = true;
    time_t t = 0;

    CHECK_OK(catalog_open(unit_tmp_dir(), &c, unit_err()));
    CHECK_OK(catalog_last_run(c, "db", false, &r, &found, unit_err()));
    CHECK(!found);
    CHECK_OK(catalog_last_run_started(c, "db", &t, &found, unit_err()));
    CHECK(!found);
    add_run(c, "db", T0, T0 + 60, "ok", NULL, 1000);
    add_run(c, "db", T0 + DAY, T0 + DAY + 70, "ok", NULL, 2000);
    add_run(c, "db", T0 + 2 * DAY, T0 + 2 * DAY + 5, "failed", "pg_dump exited 1", 0);
    add_run(c, "other", T0 + 3 * DAY, T0 + 3 * DAY + 5, "ok", NULL, 1);
    CHECK_OK(catalog_last_run(c, "db", false, &r, &found, unit_err()));
    CHECK(found);
    CHECK_STR_EQ(r.result, "failed");
    CHECK_STR_EQ(r.error, "pg_dump exited 1");
    CHECK(r.duration_ms >= 0);
    catalog_run_release(&r);
    CHECK_OK(catalog_last_run(c, "db", true, &r, &found, unit_err()));
    CHECK(found);
    CHECK_INT_EQ(r.started_at, T0 + DAY);
    CHECK_INT_EQ(r.ended_at, T0 + DAY + 70);
    CHECK_INT_EQ(r.stored_bytes, 2000);
    catalog_run_release(&r);
    CHECK_OK(catalog_last_run_started(c, "db", &t, &found, unit_err()));
    CHECK(found);
    CHECK_INT_EQ(t, T0 + 2 * DAY);

    /* A run still going counts as the last run, with no result. */
    CHECK_OK(catalog_run_begin(c, "media", NULL, T0, &id, unit_err()));
    CHECK_OK(catalog_last_run(c, "media", false, &r, &found, unit_err()));
    CHECK(found && r.result == NULL && r.ended_at == 0 && r.duration_ms == -1);
    catalog_run_release(&r);
    CHECK_OK(catalog_run_set_mirror_counts(c, id, &m, unit_err()));
    CHECK_OK(catalog_run_end(c, id, T0 + 1, "ok", NULL, 300, 300, unit_err()));
    CHECK_OK(catalog_last_run(c, "media", false, &r, &found, unit_err()));
    CHECK(r.has_mirror_counts);
    CHECK_STR_EQ(r.kind, "mirror");
    CHECK_INT_EQ(r.mirror.copied_objects, 3);
    CHECK_INT_EQ(r.mirror.deleted_bytes, 10);
    catalog_run_release(&r);
    CHECK_OK(catalog_mirror_totals(c, "media", &total, unit_err()));
    CHECK_INT_EQ(total.copied_bytes, 300);

    CHECK_OK(catalog_run_counts(c, &counts, &count, unit_err()));
    CHECK_INT_EQ(count, 4); /* db failed, db ok, media ok, other ok */
    CHECK_STR_EQ(counts[0].job, "db");
    CHECK_STR_EQ(counts[0].result, "failed");
    CHECK_INT_EQ(counts[0].count, 1);
    CHECK_STR_EQ(counts[1].result, "ok");
    CHECK_INT_EQ(counts[1].count, 2);
    catalog_run_counts_free(counts, count);
    catalog_close(c);
}

static int64_t max_gap(const char *schedule)
{
    struct cron_expr e;
    int64_t gap = -1;

    CHECK_OK(cron_parse(schedule, &e, unit_err()));
    CHECK_OK(status_max_gap_seconds(&e, T0, &gap, unit_err()));
    return gap;
}

static void test_status_max_gap_of_schedules(void)
{
    CHECK_INT_EQ(max_gap("@daily"), DAY);
    CHECK_INT_EQ(max_gap("0 3,15 * * *"), 12 * HOUR);
    CHECK_INT_EQ(max_gap("0 1,2,23 * * *"), 21 * HOUR);
    CHECK_INT_EQ(max_gap("@weekly"), 7 * DAY);
    CHECK_INT_EQ(max_gap("*/15 * * * *"), 900);
    CHECK_INT_EQ(max_gap("30 2 * * 1-5"), 3 * DAY); /* Friday to Monday */
    CHECK_INT_EQ(max_gap("0 0 31 * *"), 61 * DAY);  /* 31 Aug .. 31 Oct, 31 Dec .. 31 Jan ... */
    CHECK_INT_EQ(max_gap("@yearly"), 365 * DAY);
}

static void test_status_derived_stale_after(void)
{
    struct cfg_job job;
    int64_t ms = -1;
    bool is_derived = false;

    memset(&job, 0, sizeof(job));
    job.name = (char *)(uintptr_t) "db";
    CHECK_OK(status_stale_after_ms(&job, "UTC", T0, &ms, &is_derived, unit_err()));
    CHECK_INT_EQ(ms, 0); /* no schedule, not set: never stale */
    job.schedule = (char *)(uintptr_t) "@daily";
    CHECK_OK(status_stale_after_ms(&job, "UTC", T0, &ms, &is_derived, unit_err()));
    CHECK_INT_EQ(ms, 36LL * HOUR * 1000);
    CHECK(is_derived);
    job.schedule = (char *)(uintptr_t) "0 3,15 * * *";
    CHECK_OK(status_stale_after_ms(&job, "UTC", T0, &ms, &is_derived, unit_err()));
    CHECK_INT_EQ(ms, 18LL * HOUR * 1000);
    job.schedule = (char *)(uintptr_t) "0 4 * * sun";
    CHECK_OK(status_stale_after_ms(&job, "UTC", T0, &ms, &is_derived, unit_err()));
    CHECK_INT_EQ(ms, 21LL * DAY * 1000 / 2);
    /* A zone with DST adds its clock change. */
    job.schedule = (char *)(uintptr_t) "@hourly";
    CHECK_OK(status_stale_after_ms(&job, "Europe/Berlin", T0, &ms, &is_derived, unit_err()));
    CHECK_INT_EQ(ms, (3LL * HOUR / 2 + HOUR) * 1000);
    CHECK_OK(status_stale_after_ms(&job, "Asia/Tokyo", T0, &ms, &is_derived, unit_err()));
    CHECK_INT_EQ(ms, 3LL * HOUR / 2 * 1000);
    job.stale_after_ms = 26 * HOUR * 1000;
    CHECK_OK(status_stale_after_ms(&job, "UTC", T0, &ms, &is_derived, unit_err()));
    CHECK_INT_EQ(ms, 26LL * HOUR * 1000);
    CHECK(!is_derived);
}

static void test_status_format_age(void)
{
    char s[32];

    status_format_age(DAY, s, sizeof(s));
    CHECK_STR_EQ(s, "1 day");
    status_format_age(3 * DAY + 5 * HOUR, s, sizeof(s));
    CHECK_STR_EQ(s, "3 days");
    status_format_age(36 * HOUR, s, sizeof(s));
    CHECK_STR_EQ(s, "36 h");
    status_format_age(90, s, sizeof(s));
    CHECK_STR_EQ(s, "90 s");
    status_format_age(600, s, sizeof(s));
    CHECK_STR_EQ(s, "10 min");
}

static const char status_conf[] = "timezone = UTC\n"
                                  "[store \"local\"]\n"
                                  "type = local\n"
                                  "path = STORE\n"
                                  "[job \"db\"]\n"
                                  "kind = postgres\n"
                                  "database = host=127.0.0.1 dbname=x\n"
                                  "targets = local\n"
                                  "schedule = @daily\n"
                                  "[job \"old\"]\n"
                                  "kind = postgres\n"
                                  "database = host=127.0.0.1 dbname=y\n"
                                  "targets = local\n"
                                  "schedule = 0 3,15 * * *\n"
                                  "[job \"new\"]\n"
                                  "kind = postgres\n"
                                  "database = host=127.0.0.1 dbname=z\n"
                                  "targets = local\n"
                                  "schedule = @weekly\n"
                                  "[job \"manual\"]\n"
                                  "kind = postgres\n"
                                  "database = host=127.0.0.1 dbname=w\n"
                                  "targets = local\n";

/* conf is one of the texts above, with a state and a store directory to fill in. */
static void load_config(struct config *cfg, const char *conf)
{
    const char *store_line = strstr(conf, "path = ");
    char *text;

    CHECK(store_line != NULL);
    text = xasprintf("[global]\nstate_dir = %s/state\n%.*spath = %s/store\n%s", unit_tmp_dir(),
                     (int)(store_line - conf), conf, unit_tmp_dir(), strchr(store_line, '\n') + 1);

    memset(cfg, 0, sizeof(*cfg));
    CHECK_OK(config_parse("test.conf", text, strlen(text), cfg, unit_err()));
    CHECK_OK(fs_mkdir_p(cfg->global.state_dir, 0700, unit_err()));
    xfree(text);
}

static void add_snapshot(struct catalog *c, const char *job, const char *id, time_t t)
{
    struct manifest m;

    memset(&m, 0, sizeof(m));
    m.job = (char *)(uintptr_t)job;
    m.snapshot_id = (char *)(uintptr_t)id;
    m.kind = (char *)(uintptr_t) "postgres";
    m.started_at = t;
    CHECK_OK(catalog_add_snapshot(c, "local", &m, unit_err()));
}

static void test_status_collect_picks_runs_and_judges_staleness(void)
{
    struct config cfg;
    struct status_report r;
    struct catalog *c = NULL;
    time_t now = T0 + 10 * DAY;

    load_config(&cfg, status_conf);
    CHECK_OK(catalog_open(cfg.global.state_dir, &c, unit_err()));
    add_run(c, "db", now - 10 * HOUR, now - 10 * HOUR + 65, "ok", NULL, 5000);
    add_run(c, "db", now - HOUR, now - HOUR + 3, "failed", "pg_dump: connection refused", 0);
    add_run(c, "old", now - 3 * DAY - 10, now - 3 * DAY, "ok", NULL, 7);
    add_snapshot(c, "db", "20261127T000000Z-aaaa", now - 10 * HOUR);
    add_snapshot(c, "old", "20261124T000000Z-bbbb", now - 3 * DAY);
    catalog_close(c);

    CHECK_OK(status_collect(&cfg, cfg.global.state_dir, now, &r, unit_err()));
    CHECK_INT_EQ(r.job_count, 4);
    /* db: the failed run is the last run, the one before it the last success; 10 h < 36 h. */
    CHECK(r.jobs[0].has_last_run && r.jobs[0].has_last_success);
    CHECK_STR_EQ(r.jobs[0].last_run.result, "failed");
    CHECK_INT_EQ(r.jobs[0].last_success.stored_bytes, 5000);
    CHECK(r.jobs[0].is_last_run_failed);
    CHECK(!r.jobs[0].is_stale);
    CHECK(r.jobs[0].has_next_run);
    CHECK_INT_EQ(r.jobs[0].next_run, now - (now % DAY) + DAY);
    CHECK_INT_EQ(r.jobs[0].stale_after_ms, 36LL * HOUR * 1000);
    /* old: last success 3 days ago, every 12 h at most. */
    CHECK(r.jobs[1].is_stale);
    CHECK_STR_EQ(r.jobs[1].stale_reason, "last success 3 days ago, expected every 12 h");
    /* new: never ran, and first seen just now: not stale before its first period. */
    CHECK(!r.jobs[2].has_last_run);
    CHECK(!r.jobs[2].is_stale);
    CHECK_INT_EQ(r.jobs[2].first_seen, now);
    /* manual: no schedule, no stale_after: never stale, no next run. */
    CHECK(!r.jobs[3].has_next_run);
    CHECK_INT_EQ(r.jobs[3].stale_after_ms, 0);
    CHECK(!r.jobs[3].is_stale);
    CHECK_INT_EQ(r.stale_count, 1);
    CHECK_INT_EQ(r.failed_count, 1);
    CHECK_INT_EQ(r.store_count, 1);
    CHECK_INT_EQ(r.stores[0].snapshot_count, 2);
    CHECK_INT_EQ(r.stores[0].newest, now - 10 * HOUR);
    status_report_release(&r);

    /* Eleven days later the new weekly job has had more than 10.5 days to run once. */
    CHECK_OK(status_collect(&cfg, cfg.global.state_dir, now + 11 * DAY, &r, unit_err()));
    CHECK(r.jobs[2].is_stale);
    CHECK_STR_EQ(r.jobs[2].stale_reason, "never ran in 11 days, expected every 7 days");
    CHECK(r.jobs[0].is_stale);
    status_report_release(&r);
    config_release(&cfg);
}

static const char dst_conf[] = "timezone = Europe/Berlin\n"
                               "[store \"local\"]\n"
                               "type = local\n"
                               "path = STORE\n"
                               "[job \"hourly\"]\n"
                               "kind = postgres\n"
                               "database = host=127.0.0.1 dbname=x\n"
                               "targets = local\n"
                               "schedule = 0 * * * *\n";

/* When clocks go back, the repeated hour does not run again, so an hourly job's gap is two hours
 * of real time once a year: no run was missed, and the job must not be reported stale. */
static void test_status_not_stale_across_a_fall_back(void)
{
    struct config cfg;
    struct status_report r;
    struct catalog *c = NULL;
    /* 2026-10-25 in Berlin: 03:00 CEST becomes 02:00 CET at 01:00 UTC. The run of 02:00 CEST
     * (00:00 UTC) is the last before 03:00 CET (02:00 UTC). */
    time_t last = (time_t)1792886400; /* 2026-10-25T00:00:00Z */
    time_t now = last + 105 * 60;     /* 01:45 UTC, 02:45 CET: the next run is at 02:00 UTC */

    load_config(&cfg, dst_conf);
    CHECK_OK(catalog_open(cfg.global.state_dir, &c, unit_err()));
    add_run(c, "hourly", last - 10 * DAY, last - 10 * DAY + 30, "ok", NULL, 1);
    add_run(c, "hourly", last, last + 30, "ok", NULL, 1);
    catalog_close(c);
    CHECK_OK(status_collect(&cfg, cfg.global.state_dir, now, &r, unit_err()));
    CHECK(r.jobs[0].has_next_run);
    CHECK_INT_EQ(r.jobs[0].next_run, last + 2 * HOUR);
    CHECK(!r.jobs[0].is_stale);
    status_report_release(&r);
    config_release(&cfg);
}

static const char metrics_conf[] = "timezone = UTC\n"
                                   "[store \"local\"]\n"
                                   "type = local\n"
                                   "path = STORE\n"
                                   "[job \"db\"]\n"
                                   "kind = postgres\n"
                                   "database = host=127.0.0.1 dbname=x\n"
                                   "targets = local\n"
                                   "schedule = @daily\n";

/* The exposition of a fixed catalog, byte for byte. The odd result text of the second run shows
 * the label escaping (a result is only ever ok/failed/..., but the catalog is a file). */
static const char metrics_expected[] =
    "# HELP permafrost_job_info Configured job (always 1), with its kind and schedule (\"\" when "
    "none).\n"
    "# TYPE permafrost_job_info gauge\n"
    "permafrost_job_info{job=\"db\",kind=\"postgres\",schedule=\"@daily\"} 1\n"
    "# HELP permafrost_job_last_run_timestamp_seconds Start time of the job's most recent run "
    "(finished or not).\n"
    "# TYPE permafrost_job_last_run_timestamp_seconds gauge\n"
    "permafrost_job_last_run_timestamp_seconds{job=\"db\"} 1795003600\n"
    "# HELP permafrost_job_last_run_success 1 when the job's most recent finished run succeeded, "
    "else 0.\n"
    "# TYPE permafrost_job_last_run_success gauge\n"
    "permafrost_job_last_run_success{job=\"db\"} 0\n"
    "# HELP permafrost_job_last_run_duration_seconds Duration of the job's most recent finished "
    "run.\n"
    "# TYPE permafrost_job_last_run_duration_seconds gauge\n"
    "permafrost_job_last_run_duration_seconds{job=\"db\"} 2.500\n"
    "# HELP permafrost_job_last_run_stored_bytes Bytes stored by the job's most recent finished "
    "run (per target; for a mirror, bytes copied).\n"
    "# TYPE permafrost_job_last_run_stored_bytes gauge\n"
    "permafrost_job_last_run_stored_bytes{job=\"db\"} 0\n"
    "# HELP permafrost_job_last_success_timestamp_seconds End time of the job's most recent "
    "successful run.\n"
    "# TYPE permafrost_job_last_success_timestamp_seconds gauge\n"
    "permafrost_job_last_success_timestamp_seconds{job=\"db\"} 1795000065\n"
    "# HELP permafrost_job_runs_total Finished runs of the job recorded in the catalog, by result "
    "(ok, failed, partial, cancelled).\n"
    "# TYPE permafrost_job_runs_total counter\n"
    "permafrost_job_runs_total{job=\"db\",result=\"ok\"} 1\n"
    "permafrost_job_runs_total{job=\"db\",result=\"we\\\"ird\\\\\\n\"} 1\n"
    "# HELP permafrost_job_errors_total Runs of the job that failed or were partial.\n"
    "# TYPE permafrost_job_errors_total counter\n"
    "permafrost_job_errors_total{job=\"db\"} 0\n"
    "# HELP permafrost_job_stale 1 when the job's last success is older than its stale_after (or "
    "it never succeeded in that long), else 0.\n"
    "# TYPE permafrost_job_stale gauge\n"
    "permafrost_job_stale{job=\"db\"} 0\n"
    "# HELP permafrost_job_stale_after_seconds The stale_after in effect (configured, or derived "
    "from the schedule).\n"
    "# TYPE permafrost_job_stale_after_seconds gauge\n"
    "permafrost_job_stale_after_seconds{job=\"db\"} 129600.000\n"
    "# HELP permafrost_job_next_run_timestamp_seconds When the job's schedule runs it next.\n"
    "# TYPE permafrost_job_next_run_timestamp_seconds gauge\n"
    "permafrost_job_next_run_timestamp_seconds{job=\"db\"} 1795046400\n"
    "# HELP permafrost_job_last_verification_timestamp_seconds When the snapshot of the job's last "
    "success was last verified.\n"
    "# TYPE permafrost_job_last_verification_timestamp_seconds gauge\n"
    "# HELP permafrost_job_last_verification_success 1 when that verification passed, else 0.\n"
    "# TYPE permafrost_job_last_verification_success gauge\n";

static const char metrics_expected_tail[] =
    "# HELP permafrost_snapshots Complete snapshots of the job on the store, as the catalog knows "
    "them.\n"
    "# TYPE permafrost_snapshots gauge\n"
    "permafrost_snapshots{job=\"db\",store=\"local\"} 1\n"
    "# HELP permafrost_snapshot_bytes Bytes stored by the job's snapshots on the store.\n"
    "# TYPE permafrost_snapshot_bytes gauge\n"
    "permafrost_snapshot_bytes{job=\"db\",store=\"local\"} 0\n"
    "# HELP permafrost_snapshot_newest_timestamp_seconds Time of the job's newest snapshot on the "
    "store.\n"
    "# TYPE permafrost_snapshot_newest_timestamp_seconds gauge\n"
    "permafrost_snapshot_newest_timestamp_seconds{job=\"db\",store=\"local\"} 1795000000\n"
    "# HELP permafrost_daemon_start_time_seconds When the daemon started.\n"
    "# TYPE permafrost_daemon_start_time_seconds gauge\n"
    "permafrost_daemon_start_time_seconds 1794990000\n"
    "# HELP permafrost_daemon_running_jobs Jobs running now.\n"
    "# TYPE permafrost_daemon_running_jobs gauge\n"
    "permafrost_daemon_running_jobs 1\n"
    "# HELP permafrost_job_running 1 while the job runs, else 0.\n"
    "# TYPE permafrost_job_running gauge\n"
    "permafrost_job_running{job=\"db\"} 1\n"
    "# HELP permafrost_daemon_config_reloads_total Configuration reloads (SIGHUP) by result; a "
    "failed one kept the old configuration.\n"
    "# TYPE permafrost_daemon_config_reloads_total counter\n"
    "permafrost_daemon_config_reloads_total{result=\"ok\"} 2\n"
    "permafrost_daemon_config_reloads_total{result=\"failed\"} 1\n"
    "# HELP permafrost_build_info The permafrost version (always 1).\n"
    "# TYPE permafrost_build_info gauge\n";

static void fill_metrics_catalog(struct config *cfg)
{
    struct catalog *c = NULL;
    int64_t id = -1;

    load_config(cfg, metrics_conf);
    CHECK_OK(catalog_open(cfg->global.state_dir, &c, unit_err()));
    add_run(c, "db", T0, T0 + 65, "ok", NULL, 0);
    add_snapshot(c, "db", "20261117T082640Z-k3f9", T0);
    CHECK_OK(catalog_run_begin(c, "db", NULL, T0 + HOUR, &id, unit_err()));
    catalog_close(c);
    /* Ended on another handle: the duration comes from the wall clock; then set it exactly. */
    CHECK_OK(catalog_open(cfg->global.state_dir, &c, unit_err()));
    CHECK_OK(catalog_run_end(c, id, T0 + HOUR + 2, "we\"ird\\\n", NULL, 0, 0, unit_err()));
    catalog_close(c);
    {
        char *path = xasprintf("%s/catalog.db", cfg->global.state_dir);
        sqlite3 *db = NULL;
        CHECK(sqlite3_open(path, &db) == SQLITE_OK);
        CHECK(sqlite3_exec(db, "UPDATE runs SET duration_ms = 2500 WHERE result <> 'ok'", NULL,
                           NULL, NULL) == SQLITE_OK);
        sqlite3_close(db);
        xfree(path);
    }
}

static void test_metrics_render_exact_text(void)
{
    struct config cfg;
    struct metrics_source src;
    const char *running[] = {"db"};
    struct buf out;
    const char *tail;

    fill_metrics_catalog(&cfg);
    memset(&src, 0, sizeof(src));
    src.cfg = &cfg;
    src.state_dir = cfg.global.state_dir;
    src.now = T0 + 2 * HOUR;
    src.daemon_started_at = T0 - 10000;
    src.running_jobs = running;
    src.running_count = 1;
    src.config_reloads = 2;
    src.config_reload_failures = 1;
    buf_init(&out, BUF_NO_CAP);
    CHECK_OK(metrics_render(&src, &out, unit_err()));
    if (strncmp(out.data, metrics_expected, sizeof(metrics_expected) - 1) != 0)
        unit_fail(__FILE__, __LINE__, "exposition differs; got:\n%s", out.data);
    /* The mirror families (no mirror job: HELP and TYPE only) sit between the two parts. */
    tail = strstr(out.data, "# HELP permafrost_snapshots ");
    CHECK(tail != NULL);
    CHECK(strncmp(tail, metrics_expected_tail, sizeof(metrics_expected_tail) - 1) == 0);
    CHECK(strstr(tail, "permafrost_build_info{version=\"") != NULL);
    CHECK(out.data[out.len - 1] == '\n');
    buf_release(&out);
    config_release(&cfg);
}

static bool is_metric_name(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':' ||
                  (i > 0 && ch >= '0' && ch <= '9');
        if (!ok)
            return false;
    }
    return true;
}

/* Every line is "# HELP name text", "# TYPE name type" or a sample of the family whose TYPE came
 * last, with a valid name, well-formed escaped labels and a number. */
static void test_metrics_every_line_is_valid(void)
{
    struct config cfg;
    struct metrics_source src;
    struct buf out;
    char family[128] = "";
    const char *p;
    size_t samples = 0;

    fill_metrics_catalog(&cfg);
    memset(&src, 0, sizeof(src));
    src.cfg = &cfg;
    src.state_dir = cfg.global.state_dir;
    src.now = T0 + 2 * HOUR;
    buf_init(&out, BUF_NO_CAP);
    CHECK_OK(metrics_render(&src, &out, unit_err()));
    CHECK(strstr(out.data, "permafrost_daemon") == NULL); /* not a daemon */
    for (p = out.data; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len;
        size_t name_len;

        CHECK(nl != NULL);
        len = (size_t)(nl - p);
        if (strncmp(p, "# HELP ", 7) == 0 || strncmp(p, "# TYPE ", 7) == 0) {
            const char *name = p + 7;
            const char *sp = memchr(name, ' ', len - 7);
            CHECK(sp != NULL);
            name_len = (size_t)(sp - name);
            CHECK(is_metric_name(name, name_len));
            CHECK(strncmp(name, "permafrost_", 11) == 0);
            if (p[2] == 'T') {
                CHECK(strncmp(sp + 1, "gauge\n", 6) == 0 || strncmp(sp + 1, "counter\n", 8) == 0);
                CHECK(name_len < sizeof(family));
                memcpy(family, name, name_len);
                family[name_len] = '\0';
            }
        } else {
            const char *q = p;
            while (q < nl && *q != '{' && *q != ' ')
                q++;
            name_len = (size_t)(q - p);
            CHECK(is_metric_name(p, name_len));
            CHECK(family[0] && strlen(family) == name_len && strncmp(p, family, name_len) == 0);
            if (*q == '{') {
                q++;
                while (*q != '}') {
                    const char *eq = q;
                    while (*eq != '=' && eq < nl)
                        eq++;
                    CHECK(is_metric_name(q, (size_t)(eq - q)));
                    CHECK(eq[1] == '"');
                    for (q = eq + 2; *q != '"'; q++) {
                        CHECK(q < nl);
                        if (*q == '\\') {
                            CHECK(q[1] == '\\' || q[1] == '"' || q[1] == 'n');
                            q++;
                        }
                    }
                    q++;
                    CHECK(*q == ',' || *q == '}');
                    if (*q == ',')
                        q++;
                }
                q++;
            }
            CHECK(*q == ' ');
            q++;
            CHECK(q < nl);
            for (; q < nl; q++)
                CHECK((*q >= '0' && *q <= '9') || *q == '.' || *q == '-');
            samples++;
        }
        p = nl + 1;
    }
    CHECK(samples > 10);
    buf_release(&out);
    config_release(&cfg);
}

static enum http_serve_parse parse(const char *text, struct http_serve_head *h)
{
    memset(h, 0, sizeof(*h));
    return http_serve_parse_head(text, strlen(text), h);
}

static void test_http_serve_parses_request_heads(void)
{
    struct http_serve_head h;
    char big[HTTP_SERVE_HEAD_MAX + 100];

    CHECK_INT_EQ(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nrest", &h), HTTP_SERVE_COMPLETE);
    CHECK_STR_EQ(h.method, "GET");
    CHECK_STR_EQ(h.path, "/metrics");
    CHECK_INT_EQ(h.version_minor, 1);
    CHECK_INT_EQ(h.len, strlen("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK_INT_EQ(parse("HEAD /healthz?x=1 HTTP/1.0\n\n", &h), HTTP_SERVE_COMPLETE);
    CHECK_STR_EQ(h.path, "/healthz");
    CHECK_INT_EQ(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n", &h), HTTP_SERVE_INCOMPLETE);
    CHECK_INT_EQ(parse("GE", &h), HTTP_SERVE_INCOMPLETE);
    CHECK_INT_EQ(parse("\x16\x03\x01", &h), HTTP_SERVE_MALFORMED); /* TLS to a plain port */
    CHECK_INT_EQ(parse("get / HTTP/1.1\r\n\r\n", &h), HTTP_SERVE_MALFORMED);
    CHECK_INT_EQ(parse("GET metrics HTTP/1.1\r\n\r\n", &h), HTTP_SERVE_MALFORMED);
    CHECK_INT_EQ(parse("GET / HTTP/2.0\r\n\r\n", &h), HTTP_SERVE_MALFORMED);
    CHECK_INT_EQ(parse("GET / HTTP/1.1\r\n folded\r\n\r\n", &h), HTTP_SERVE_MALFORMED);
    CHECK_INT_EQ(parse("GET / HTTP/1.1\r\nNo colon\r\n\r\n", &h), HTTP_SERVE_MALFORMED);
    CHECK_INT_EQ(parse("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", &h), HTTP_SERVE_MALFORMED);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "GET /", 5);
    CHECK_INT_EQ(parse(big, &h), HTTP_SERVE_TOO_LARGE);
    {
        struct buf many;
        buf_init(&many, BUF_NO_CAP);
        (void)buf_adds(&many, "GET / HTTP/1.1\r\n");
        for (int i = 0; i < HTTP_SERVE_HEADERS_MAX + 1; i++)
            (void)buf_adds(&many, "X: y\r\n");
        (void)buf_adds(&many, "\r\n");
        CHECK_INT_EQ(parse(many.data, &h), HTTP_SERVE_TOO_LARGE);
        buf_release(&many);
    }
}

/* A client on the loopback: connects to port, sends request, lets the server answer, and returns
 * the whole answer (the server closes after one). */
static char *exchange(struct metrics_server *s, const struct metrics_source *src,
                      const void *request, size_t len)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct buf answer;
    char chunk[4096];
    ssize_t n;

    CHECK(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)metrics_server_port(s));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    if (len)
        CHECK(send(fd, request, len, MSG_NOSIGNAL) == (ssize_t)len);
    {
        struct pollfd p = {.fd = metrics_server_fd(s), .events = POLLIN, .revents = 0};
        CHECK(poll(&p, 1, 5000) == 1);
    }
    metrics_server_handle(s, src);
    buf_init(&answer, BUF_NO_CAP);
    while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
        (void)buf_add(&answer, chunk, (size_t)n);
    close(fd);
    return buf_detach(&answer, NULL);
}

static void test_metrics_server_answers_on_loopback(void)
{
    struct config cfg;
    struct metrics_source src;
    struct metrics_server *s = NULL;
    struct metrics_server *s2 = NULL;
    struct error err = ERROR_INIT;
    char *a;
    char *addr;
    static const char garbage[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage";

    fill_metrics_catalog(&cfg);
    memset(&src, 0, sizeof(src));
    src.cfg = &cfg;
    src.state_dir = cfg.global.state_dir;
    src.now = T0 + 2 * HOUR;
    src.daemon_started_at = T0;
    CHECK_OK(metrics_server_start("127.0.0.1:0", &s, unit_err()));
    CHECK(metrics_server_port(s) > 0);

    a = exchange(s, &src, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 34);
    CHECK(strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(a, "Content-Type: text/plain; version=0.0.4") != NULL);
    CHECK(strstr(a, "\r\n\r\n# HELP permafrost_job_info ") != NULL);
    CHECK(strstr(a, "permafrost_daemon_start_time_seconds 1795000000\n") != NULL);
    xfree(a);
    a = exchange(s, &src, "HEAD /metrics HTTP/1.0\r\n\r\n", 26);
    CHECK(strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(a, "Content-Length: 0\r\n") == NULL);
    CHECK(strcmp(strstr(a, "\r\n\r\n"), "\r\n\r\n") == 0); /* no body */
    xfree(a);
    a = exchange(s, &src, "GET /healthz HTTP/1.1\r\n\r\n", 25);
    CHECK(strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK_STR_EQ(strstr(a, "\r\n\r\n"), "\r\n\r\nok\n");
    xfree(a);
    a = exchange(s, &src, "GET /nope HTTP/1.1\r\n\r\n", 22);
    CHECK(strncmp(a, "HTTP/1.1 404 ", 13) == 0);
    xfree(a);
    a = exchange(s, &src, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 48);
    CHECK(strncmp(a, "HTTP/1.1 405 ", 13) == 0);
    xfree(a);
    a = exchange(s, &src, garbage, sizeof(garbage) - 1);
    CHECK(strncmp(a, "HTTP/1.1 400 ", 13) == 0);
    xfree(a);
    {
        struct buf big;
        buf_init(&big, BUF_NO_CAP);
        (void)buf_adds(&big, "GET /metrics HTTP/1.1\r\n");
        while (big.len < 3 * HTTP_SERVE_HEAD_MAX)
            (void)buf_adds(&big, "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        a = exchange(s, &src, big.data, big.len);
        CHECK(strncmp(a, "HTTP/1.1 431 ", 13) == 0);
        xfree(a);
        buf_release(&big);
    }
    /* A client that sends nothing is answered 408 once its deadline passes. */
    a = exchange(s, &src, "", 0);
    CHECK(strncmp(a, "HTTP/1.1 408 ", 13) == 0);
    xfree(a);

    addr = xasprintf("127.0.0.1:%d", metrics_server_port(s));
    CHECK_ERR(metrics_server_start(addr, &s2, &err), err, ERR_IO, "address in use");
    CHECK(strstr(err.msg, addr) != NULL);
    CHECK(strstr(err.hint, "another permafrost daemon") != NULL);
    CHECK_ERR(metrics_server_start("127.0.0.1", &s2, &err), err, ERR_CONFIG, "HOST:PORT");
    CHECK_ERR(metrics_server_start("127.0.0.1:99999", &s2, &err), err, ERR_CONFIG, "0..65535");
    CHECK_ERR(metrics_server_start("::1:9187", &s2, &err), err, ERR_CONFIG, "brackets");
    xfree(addr);
    metrics_server_stop(s);
    config_release(&cfg);
}

/* Out of file descriptors, a pending connection cannot be accepted; left pending, it keeps the
 * listening socket readable and the daemon's poll loop spinning. It must be dropped. */
static void test_metrics_server_drops_a_connection_when_out_of_descriptors(void)
{
    struct config cfg;
    struct metrics_source src;
    struct metrics_server *s = NULL;
    struct sockaddr_in a;
    struct rlimit saved;
    struct rlimit low;
    int fd;
    int probe;
    char byte;

    fill_metrics_catalog(&cfg);
    memset(&src, 0, sizeof(src));
    src.cfg = &cfg;
    src.state_dir = cfg.global.state_dir;
    src.now = T0;
    CHECK_OK(metrics_server_start("127.0.0.1:0", &s, unit_err()));
    fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)metrics_server_port(s));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    {
        struct pollfd p = {.fd = metrics_server_fd(s), .events = POLLIN, .revents = 0};
        CHECK(poll(&p, 1, 5000) == 1);
    }
    /* No descriptor above the lowest free one may be allocated now. */
    probe = dup(0);
    CHECK(probe >= 0);
    close(probe);
    CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    low = saved;
    low.rlim_cur = (rlim_t)probe;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    metrics_server_handle(s, &src);
    CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
    {
        struct pollfd p = {.fd = metrics_server_fd(s), .events = POLLIN, .revents = 0};
        CHECK_INT_EQ(poll(&p, 1, 0), 0);
    }
    /* The client sees its connection closed. */
    CHECK(recv(fd, &byte, 1, 0) <= 0);
    close(fd);
    metrics_server_stop(s);
    config_release(&cfg);
}

const struct unit_test status_tests[] = {
    {"test_catalog_migrates_a_schema_2_catalog", test_catalog_migrates_a_schema_2_catalog},
    {"catalog_migration_waits_and_rereads_the_version",
     test_catalog_migration_waits_and_rereads_the_version},
    {"test_catalog_last_run_and_last_success", test_catalog_last_run_and_last_success},
    {"test_status_max_gap_of_schedules", test_status_max_gap_of_schedules},
    {"test_status_derived_stale_after", test_status_derived_stale_after},
    {"test_status_format_age", test_status_format_age},
    {"status_not_stale_across_a_fall_back", test_status_not_stale_across_a_fall_back},
    {"test_status_collect_picks_runs_and_judges_staleness",
     test_status_collect_picks_runs_and_judges_staleness},
    {"test_metrics_render_exact_text", test_metrics_render_exact_text},
    {"test_metrics_every_line_is_valid", test_metrics_every_line_is_valid},
    {"test_http_serve_parses_request_heads", test_http_serve_parses_request_heads},
    {"metrics_server_drops_a_connection_when_out_of_descriptors",
     test_metrics_server_drops_a_connection_when_out_of_descriptors},
    {"test_metrics_server_answers_on_loopback", test_metrics_server_answers_on_loopback},
    {NULL, NULL},
};
