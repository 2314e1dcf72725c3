/* permafrost restore JOB [SNAPSHOT|latest] --to CONNINFO [...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <getopt.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/redis_restore.h"
#include "core/restore.h"
#include "core/state.h"
#include "sources/redis.h"
#include "util/secret.h"
#include "util/time.h"
#include "util/xalloc.h"

static const char restore_usage[] =
    "usage: permafrost restore JOB [SNAPSHOT|latest] --to CONNINFO [--from STORE]\n"
    "                          [--jobs N] [--create] [--clean] [--no-owner]\n"
    "                          [--password env:NAME|file:PATH] [--tmp-dir DIR]\n"
    "                          [--identity FILE]\n"
    "       permafrost restore REDISJOB [SNAPSHOT|latest] --to-file PATH [--force]\n"
    "                          [--target-version redis-X.Y|valkey-X.Y] [--from STORE]\n"
    "       permafrost restore REDISJOB [SNAPSHOT|latest] --to redis://HOST:PORT\n"
    "                          [--password REF] [--ca-file PEM] [--no-tls-verify]\n"
    "\n"
    "A redis job's snapshot is restored either as a dump.rdb file (--to-file; stop the\n"
    "server, place the file in its dir, start it with appendonly no, then turn AOF back\n"
    "on) or into a running server (--to redis://...), whose keys are replaced by the\n"
    "snapshot's (RESTORE ... REPLACE); other keys are left alone. Either way the\n"
    "artifact is checked (SHA-256, zstd, RDB CRC-64) before anything is written.\n"
    "\n"
    "  --to-file PATH        write the RDB file here (a directory gets PATH/dump.rdb),\n"
    "                        mode 0600; a logical snapshot is turned into an RDB file\n"
    "  --force               replace an existing file\n"
    "  --target-version V    refuse when server V (redis-7.2, valkey-8.0, 7.0) cannot\n"
    "                        load the snapshot's RDB version\n"
    "  --to redis://HOST:PORT  replay into this server; every database of the\n"
    "                        snapshot goes to its own number (a /DB in the URL is ignored)\n"
    "  --password REF        its password as env:NAME or file:PATH; default: the one in\n"
    "                        the URL, else the job's (unused if the server has none)\n"
    "  --ca-file PEM         CA bundle for a rediss:// --to (default: the job's ca_file)\n"
    "  --no-tls-verify       do not check a rediss:// server's certificate (default: the\n"
    "                        job's tls_verify)\n"
    "  --tmp-dir DIR         where --to keeps the checked copy before the replay; it\n"
    "                        needs room for the raw snapshot; default $TMPDIR, /tmp\n"
    "\n"
    "An encrypted snapshot (age) is decrypted with --identity FILE (an age identity file,\n"
    "as age-keygen or 'permafrost keygen' write), else the job's identity or\n"
    "encrypt_passphrase.\n"
    "\n"
    "For a postgres job:\n"
    "Restores a snapshot with pg_restore. The artifact's SHA-256 is checked against\n"
    "the manifest; with one job the restore runs in a single transaction, so a corrupt\n"
    "or failed restore leaves the target as it was. With --jobs N > 1 the dump is first\n"
    "decompressed to a temporary file (it needs the raw dump size free) so pg_restore\n"
    "can work in parallel.\n"
    "\n"
    "  --to CONNINFO   target database (libpq conninfo or URI, without a password)\n"
    "  --from STORE    read from this store (default: the first target that has it)\n"
    "  --jobs N        parallel pg_restore (default 1)\n"
    "  --create        create the target database first (fails if it exists)\n"
    "  --clean         allow a non-empty target: drop the snapshot's objects first\n"
    "  --no-owner      do not restore object ownership (pg_restore --no-owner)\n"
    "  --password REF  target password as env:NAME or file:PATH; default: the job's\n"
    "                  password, or PGPASSWORD / ~/.pgpass when the job has none\n"
    "  --tmp-dir DIR   where --jobs > 1 puts the temporary file (default $TMPDIR, /tmp)\n"
    "\n"
    "examples:\n"
    "  permafrost restore db latest --to 'host=127.0.0.1 dbname=mastodon_restore "
    "user=postgres' --create\n"
    "  permafrost restore db 20261124T031500Z-k3f9 --from offsite \\\n"
    "      --to 'postgresql://mastodon@db/mastodon_production' --clean --jobs 4\n"
    "  permafrost restore redis latest --to-file /var/lib/redis/dump.rdb --force \\\n"
    "      --target-version redis-7.0\n"
    "  permafrost restore redis latest --to redis://127.0.0.1:6380 --password env:REDIS_PASS\n"
    "  permafrost restore db latest --identity /root/age-offline.txt \\\n"
    "      --to 'host=127.0.0.1 dbname=mastodon_restore user=postgres' --create\n";

struct redis_restore_opts {
    const char *to_file;
    bool force;
    const char *target_version;
    const char *ca_file;
    bool no_tls_verify;
    const char *password_ref;
};

static int restore_redis(struct cli_ctx *ctx, struct restore_request *base,
                         const struct redis_restore_opts *o, struct error *err)
{
    struct redis_restore_request req;
    struct redis_restore_result res;
    struct secret password = SECRET_INIT;
    char *state_dir = NULL;
    char *shown_to = NULL;
    int rc = -1;

    memset(&req, 0, sizeof(req));
    memset(&res, 0, sizeof(res));
    if ((o->to_file != NULL) == (base->to != NULL)) {
        error_set(err, ERR_USAGE,
                  "restoring redis job '%s' needs either --to-file PATH or --to "
                  "redis://HOST:PORT",
                  base->job->name);
        error_hint(err, "permafrost restore --help");
        goto out;
    }
    if (base->jobs > 1 || base->create || base->clean || base->no_owner) {
        error_set(err, ERR_USAGE,
                  "--jobs, --create, --clean and --no-owner apply to postgres "
                  "jobs only");
        goto out;
    }
    if (base->to && strncmp(base->to, "redis://", 8) != 0 &&
        strncmp(base->to, "rediss://", 9) != 0) {
        error_set(err, ERR_USAGE, "--to for redis job '%s' must be a redis:// or rediss:// URL",
                  base->job->name);
        error_hint(err, "for example --to redis://127.0.0.1:6379, or --to-file PATH for an RDB "
                        "file");
        goto out;
    }
    if (o->force && !o->to_file) {
        error_set(err, ERR_USAGE, "--force goes with --to-file");
        goto out;
    }
    /* Which password: --password; else the one in the --to URL; else the job's (the usual case
     * of restoring into the server the snapshot came from; a target without a password accepts
     * the connection anyway). */
    if (o->password_ref) {
        if (config_resolve_secret(o->password_ref, &password, err) < 0) {
            error_wrap(err, "--password");
            err->kind = ERR_USAGE;
            goto out;
        }
        req.password = password.value;
    } else if (base->to) {
        struct redis_url u;
        if (redis_url_parse(base->to, &u, err) < 0) {
            error_wrap(err, "--to");
            err->kind = ERR_USAGE;
            goto out;
        }
        if (!secret_is_set(&u.password) && secret_is_set(&base->job->password))
            req.password = base->job->password.value;
        redis_url_release(&u);
    }
    shown_to = base->to ? redis_url_redacted(base->to) : NULL;
    if (state_dir_resolve(ctx->state_dir_flag, ctx->cfg, &state_dir, err) < 0)
        goto out;
    base->state_dir = state_dir;
    base->progress = output_progress;
    base->progress_ctx = ctx;
    req.base = base;
    req.to_file = o->to_file;
    req.force = o->force;
    req.to_url = base->to;
    req.ca_file = o->ca_file ? o->ca_file : base->job->ca_file;
    req.tls_verify = o->no_tls_verify ? false : base->job->tls_verify;
    req.target_version = o->target_version;
    req.tmp_dir = base->tmp_dir;
    if (redis_restore_run(&req, &res, err) < 0)
        goto out;
    output_progress_end();
    if (!ctx->is_quiet) {
        char dur[TIME_ISO_LEN];
        char raw[OUTPUT_SIZE_LEN];

        time_format_duration(res.duration_ms, dur);
        output_format_size(res.raw_bytes, raw);
        if (res.path)
            printf("restored job '%s' snapshot %s from store '%s' to '%s' (%s, RDB version %d, "
                   "%llu keys%s) in %s\n",
                   base->job->name, res.snapshot_id, res.store, res.path, raw, res.rdb_version,
                   (unsigned long long)res.keys,
                   res.is_logical ? ", built from a logical snapshot" : "", dur);
        else
            printf("restored job '%s' snapshot %s from store '%s' into %s (%llu keys replayed, "
                   "%llu already expired) in %s\n",
                   base->job->name, res.snapshot_id, res.store, shown_to,
                   (unsigned long long)res.keys, (unsigned long long)res.expired, dur);
    }
    if (res.path)
        (void)fprintf(stderr,
                      "warning: stop the Redis/Valkey server before placing this file as its "
                      "dump.rdb (the 'dir' and 'dbfilename' settings), owned by the server's "
                      "user. With 'appendonly yes' the server ignores dump.rdb at start: start "
                      "it once with 'appendonly no', then run CONFIG SET appendonly yes (and "
                      "CONFIG REWRITE) so the AOF is rebuilt from the restored data.\n");
    rc = 0;
out:
    redis_restore_result_release(&res);
    secret_release(&password);
    xfree(state_dir);
    xfree(shown_to);
    return rc;
}

int cmd_restore(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 't'},
        {"from", required_argument, NULL, 'f'},
        {"jobs", required_argument, NULL, 'j'},
        {"create", no_argument, NULL, 'C'},
        {"clean", no_argument, NULL, 'x'},
        {"no-owner", no_argument, NULL, 'O'},
        {"password", required_argument, NULL, 'p'},
        {"tmp-dir", required_argument, NULL, 'T'},
        {"to-file", required_argument, NULL, 'F'},
        {"force", no_argument, NULL, 'Y'},
        {"target-version", required_argument, NULL, 'V'},
        {"ca-file", required_argument, NULL, 'A'},
        {"no-tls-verify", no_argument, NULL, 'N'},
        {"identity", required_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *to_file = NULL;
    const char *target_version = NULL;
    const char *ca_file = NULL;
    bool force = false;
    bool no_tls_verify = false;
    struct restore_request req;
    struct restore_result res;
    struct secret password = SECRET_INIT;
    struct secret identity = SECRET_INIT;
    const char *password_ref = NULL;
    const char *identity_path = NULL;
    char *state_dir = NULL;
    int rc = -1;
    int c;

    memset(&req, 0, sizeof(req));
    memset(&res, 0, sizeof(res));
    req.cfg = ctx->cfg;
    req.jobs = 1;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            req.to = optarg;
            break;
        case 'f':
            req.from_store = optarg;
            break;
        case 'j': {
            char *end = NULL;
            long n = strtol(optarg, &end, 10);
            if (!end || *end || n < 1 || n > 64) {
                error_set(err, ERR_USAGE, "--jobs: '%s' is not a number from 1 to 64", optarg);
                goto out;
            }
            req.jobs = (int)n;
            break;
        }
        case 'C':
            req.create = true;
            break;
        case 'x':
            req.clean = true;
            break;
        case 'O':
            req.no_owner = true;
            break;
        case 'p':
            password_ref = optarg;
            break;
        case 'T':
            req.tmp_dir = optarg;
            break;
        case 'F':
            to_file = optarg;
            break;
        case 'Y':
            force = true;
            break;
        case 'V':
            target_version = optarg;
            break;
        case 'A':
            ca_file = optarg;
            break;
        case 'N':
            no_tls_verify = true;
            break;
        case 'I':
            identity_path = optarg;
            break;
        case 'h':
            (void)fputs(restore_usage, stdout);
            rc = 0;
            goto out;
        default:
            error_set(err, ERR_USAGE, "invalid arguments to 'restore'");
            error_hint(err, "permafrost restore --help");
            goto out;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        error_set(err, ERR_USAGE, "'restore' takes a job and optionally a snapshot id or 'latest'");
        error_hint(err, "permafrost restore --help");
        goto out;
    }
    req.job = config_find_job(ctx->cfg, argv[optind]);
    if (!req.job) {
        error_set(err, ERR_USAGE, "unknown job '%s'", argv[optind]);
        goto out;
    }
    if (req.job->kind == JOB_KIND_MIRROR) {
        error_set(err, ERR_USAGE, "job '%s' is a mirror: it keeps no snapshots to restore",
                  req.job->name);
        error_hint(err, "its destination '%s' is the copy; see docs/operations.md, 'Media mirror'",
                   req.job->mirror.destination.store);
        goto out;
    }
    req.snapshot = optind + 1 < argc ? argv[optind + 1] : "latest";
    if (identity_path && cli_read_identity(identity_path, &identity, err) < 0)
        goto out;
    req.identity = identity_path ? &identity : NULL;
    if (req.job->kind == JOB_KIND_REDIS) {
        struct redis_restore_opts ro = {to_file, force,         target_version,
                                        ca_file, no_tls_verify, password_ref};
        rc = restore_redis(ctx, &req, &ro, err);
        goto out;
    }
    if (to_file || force || target_version || ca_file || no_tls_verify) {
        error_set(err, ERR_USAGE,
                  "--to-file, --force, --target-version, --ca-file and --no-tls-verify apply to "
                  "redis jobs, and job '%s' is a %s job",
                  req.job->name, config_job_kind_name(req.job->kind));
        goto out;
    }
    if (!req.to) {
        error_set(err, ERR_USAGE, "'restore' needs --to CONNINFO (the target database)");
        error_hint(err, "for example --to 'host=127.0.0.1 dbname=mastodon_restore user=postgres'");
        goto out;
    }
    if (req.create && req.clean) {
        error_set(err, ERR_USAGE, "--create and --clean do not go together");
        goto out;
    }
    if (password_ref) {
        if (config_resolve_secret(password_ref, &password, err) < 0) {
            error_wrap(err, "--password");
            err->kind = ERR_USAGE;
            goto out;
        }
        req.password = password.value;
    } else if (secret_is_set(&req.job->password)) {
        req.password = req.job->password.value;
    }
    if (state_dir_resolve(ctx->state_dir_flag, ctx->cfg, &state_dir, err) < 0)
        goto out;
    req.state_dir = state_dir;
    req.progress = output_progress;
    req.progress_ctx = ctx;
    if (restore_run(&req, &res, err) < 0)
        goto out;
    output_progress_end();
    if (!ctx->is_quiet) {
        char dur[TIME_ISO_LEN];
        char raw[OUTPUT_SIZE_LEN];

        time_format_duration(res.duration_ms, dur);
        output_format_size(res.raw_bytes, raw);
        printf("restored job '%s' snapshot %s from store '%s' into database '%s' (%s) in %s\n",
               req.job->name, res.snapshot_id, res.store, res.database, raw, dur);
        printf("hint: run ANALYZE (vacuumdb --analyze-in-stages) on the restored database; for "
               "Mastodon, then 'tootctl feeds build' and 'tootctl search deploy'\n");
    }
    rc = 0;
out:
    restore_result_release(&res);
    secret_release(&password);
    secret_release(&identity);
    xfree(state_dir);
    return rc;
}
