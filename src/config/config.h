/* The typed configuration: one INI file (git-style subsections) parsed by ini.c, checked against
 * the one option table in schema.c, secrets resolved (env:NAME, file:PATH), cross-references
 * checked (targets, a mirror's source and destination name existing stores). Every error is
 * reported as "FILE:LINE: message". */
#ifndef PERMAFROST_CONFIG_CONFIG_H
#define PERMAFROST_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/secret.h"

/* keep = last 3, hourly 24, daily 7, weekly 4, monthly 6, yearly 2 (restic's forget policy). A
 * field is 0 when not given. An unset or all-zero policy means "keep everything". */
struct keep_policy {
    int last;
    int hourly;
    int daily;
    int weekly;
    int monthly;
    int yearly;
};

enum job_kind { JOB_KIND_POSTGRES = 0, JOB_KIND_MIRROR, JOB_KIND_REDIS, JOB_KIND_VERIFY };
enum redis_method { REDIS_METHOD_AUTO = 0, REDIS_METHOD_SYNC, REDIS_METHOD_LOGICAL };
enum row_counts_mode { ROW_COUNTS_EXACT = 0, ROW_COUNTS_ESTIMATE, ROW_COUNTS_OFF };
enum verify_snapshots { VERIFY_SNAPSHOTS_LATEST = 0, VERIFY_SNAPSHOTS_ALL };

/* Encryption (age) of a job's artifacts: recipients or a passphrase (never both), and the identity
 * that decrypts them (restore, verify). Set in [global] as the default of every job, or in a job
 * (which then replaces all three of [global]'s). */
struct cfg_crypt {
    char **recipients; /* "age1..." (checked Bech32), file order; NULL when none */
    size_t recipient_count;
    struct secret passphrase; /* encrypt_passphrase: scrypt; unset when none */
    char *passphrase_ref;     /* "env:NAME", "file:PATH", "inline", or NULL */
    struct secret identity;   /* the text of an age identity file; unset when none */
    char *identity_ref;
};

struct cfg_global {
    char *state_dir;        /* NULL when not set in the file */
    char *timezone;         /* IANA name; NULL: the machine's */
    struct cfg_crypt crypt; /* the default of every postgres and redis job */
    /* the daemon */
    int max_concurrent_jobs; /* 1..64, default 2 */
    int shutdown_timeout_ms; /* how long running jobs get to finish on SIGTERM; default 30 s */
    char *metrics_listen;    /* "HOST:PORT" for /metrics and /healthz; NULL: off */
    int line;
};

/* [notify "NAME"] on = ...: the events a channel is sent. */
enum cfg_notify_on {
    CFG_NOTIFY_ON_START = 1,
    CFG_NOTIFY_ON_SUCCESS = 2,
    CFG_NOTIFY_ON_FAILURE = 4,
    CFG_NOTIFY_ON_WARNING = 8,
};
#define CFG_NOTIFY_ON_ALL 15u

/* [notify "NAME"]: one notification channel. */
struct cfg_notify {
    char *name;
    struct secret url; /* url = the channel URL, or env:NAME / file:PATH holding it */
    char *url_ref;     /* "env:NAME", "file:PATH", "inline" (for config show) */
    unsigned on;       /* CFG_NOTIFY_ON_* bits; 0 when not set: the channel type's default */
    char **jobs;       /* jobs = a, b: only these jobs; NULL: every job */
    size_t job_count;
    int line; /* line of the [notify "NAME"] header */
};

/* A yes/no option whose absence means "decide from the other options" (path_style). */
enum cfg_tristate { CFG_TRISTATE_UNSET = 0, CFG_TRISTATE_YES, CFG_TRISTATE_NO };

struct cfg_store {
    char *name;
    char *type; /* "local", "s3" or "rclone" */
    char *path; /* local: the directory */

    /* s3. A NULL string, unset secret or zero number means "not set": the store applies its own
     * default when it is opened (AWS_* environment variables for the keys, 16 MiB parts, ...). */
    char *endpoint; /* "http(s)://host[:port]", no trailing '/' */
    char *region;
    char *bucket;
    char *prefix; /* without leading or trailing '/' */
    enum cfg_tristate path_style;
    struct secret access_key;
    char *access_key_ref; /* "env:NAME", "file:PATH", "inline", or NULL (for config show) */
    struct secret secret_key;
    char *secret_key_ref;
    struct secret session_token;
    char *session_token_ref;
    char *ca_file;
    double max_requests_per_second; /* 0: unlimited */
    uint64_t part_size_bytes;       /* 0: the store's default */
    int concurrency;                /* 0: the store's default */
    int connect_timeout_ms;         /* 0: the store's default */
    int low_speed_timeout_ms;       /* 0: the store's default */

    /* rclone */
    char *remote;        /* "NAME:path" */
    char *rclone_config; /* NULL: $RCLONE_CONFIG, else rclone's default */
    char *rclone_binary; /* NULL: "rclone" from PATH */

    int line; /* line of the [store "name"] header */
};

/* preset of a mirror job: a named set of defaults for a kind of tree. */
enum cfg_mirror_preset { CFG_MIRROR_PRESET_NONE = 0, CFG_MIRROR_PRESET_MASTODON };
/* acl of a mirror job; UNSET lets core pick (see mirror_job.c). */
enum cfg_mirror_acl {
    CFG_MIRROR_ACL_UNSET = 0,
    CFG_MIRROR_ACL_COPY,
    CFG_MIRROR_ACL_PUBLIC_READ,
    CFG_MIRROR_ACL_PRIVATE,
};

/* Exclude pattern added by preset = mastodon: Mastodon re-fetches remote media under cache/. */
#define CFG_MIRROR_MASTODON_EXCLUDE "/cache/**"
#define CFG_MIRROR_TRASH_DAYS_DEF   30

/* One side of a mirror: STORE[:PREFIX]. */
struct cfg_mirror_side {
    char *store;  /* a [store] name; NULL when unset */
    char *prefix; /* key prefix inside the store, without leading or trailing '/'; "" for the top */
};

/* The options of a kind = mirror job. Numbers at 0 / strings at NULL mean "not set" where the
 * comment says so; defaults from the table are filled in at parse time. */
struct cfg_mirror {
    struct cfg_mirror_side source;
    struct cfg_mirror_side destination;
    char **include; /* glob patterns, file order */
    size_t include_count;
    char **exclude;
    size_t exclude_count;
    enum cfg_mirror_preset preset;
    char *trash;                    /* prefix in the destination store, or NULL: delete outright */
    int trash_days;                 /* 1..3650; 30 when trash is set and this is not; 0 otherwise */
    int concurrency;                /* 1..1024, default 64 */
    double max_requests_per_second; /* 0: the stores' own setting */
    int64_t max_delete_count;       /* >= 0: at most this many deletions; -1: use the percentage */
    double max_delete_percent;      /* of the destination's objects, when max_delete_count < 0 */
    enum cfg_mirror_acl acl;
    bool checksum;
};

/* keep.STORE = ...: the retention of one target, instead of the job's keep. */
struct cfg_keep_override {
    char *store;             /* the target as spelt in `targets` */
    struct keep_policy keep; /* all zero: keep everything on that store */
    char *keep_text;         /* as written */
    int line;
};

struct cfg_job {
    char *name;
    enum job_kind kind;
    char *database;         /* libpq conninfo without a password */
    struct secret password; /* resolved from env:/file:/inline; unset when not configured */
    char *password_ref; /* "env:DB_PASS", "file:/run/...", "inline", or NULL (for config show) */
    char **targets;     /* store names, in order */
    size_t target_count;
    struct keep_policy keep;                  /* all zero: keep everything */
    char *keep_text;                          /* the keep value as written, or NULL */
    struct cfg_keep_override *keep_overrides; /* file order; each names a distinct target */
    size_t keep_override_count;
    size_t keep_override_alloc;
    bool globals;            /* also pg_dumpall --globals-only */
    int compression_level;   /* zstd level, 1..19, default 3 */
    int compression_threads; /* 0: all cores */
    enum row_counts_mode row_counts;
    char *pg_dump;            /* explicit pg_dump path, or NULL to pick the newest installed */
    struct cfg_mirror mirror; /* kind = mirror */
    /* kind = redis */
    char *url;                      /* redis://[user[:password]@]host[:port] or rediss:// */
    enum redis_method redis_method; /* default auto: sync, logical when the server refuses */
    char *ca_file;                  /* rediss: PEM file; NULL: the system's store */
    bool tls_verify;                /* rediss: default yes */
    /* postgres, redis: encryption (from [global] unless the job sets any of its options) */
    struct cfg_crypt crypt;
    /* postgres: where verify --restore restores (a conninfo whose server lets the user CREATE
     * DATABASE); NULL: the job's own server. kind = verify: overrides the jobs' scratch. */
    char *scratch;
    /* kind = verify: the jobs to check (NULL: every postgres and redis job), on `targets` (NULL:
     * each job's own targets) */
    char **verify_jobs;
    size_t verify_job_count;
    bool verify_restore;                    /* also restore drills; default yes */
    enum verify_snapshots verify_snapshots; /* default latest */
    /* every kind: the daemon's schedule */
    char *schedule;     /* a cron expression (util/cron.h) as written; NULL: run only when asked */
    int jitter_ms;      /* a random delay of up to this much before each scheduled run; 0: none */
    int stale_after_ms; /* status flags the job when its last success is older; 0: from schedule */
    bool catch_up;      /* the daemon runs a run missed while it was down once at start-up */
    int line;           /* line of the [job "name"] header */
};

struct config {
    char *path; /* the file it was read from */
    struct cfg_global global;
    struct cfg_store *stores;
    size_t store_count;
    struct cfg_job *jobs;
    size_t job_count;
    struct cfg_notify *notifies; /* file order */
    size_t notify_count;
};

/* Parses text (the contents of the file named path, used in messages). On success fills *cfg
 * (release with config_release). On failure returns -1 with err->kind ERR_CONFIG and err->msg
 * "PATH:LINE: message", with a did-you-mean hint for unknown keys; *cfg is left empty. Reads the
 * environment and secret files. */
int config_parse(const char *path, const char *text, size_t len, struct config *cfg,
                 struct error *err);
/* Reads the file at path and parses it. */
int config_load(const char *path, struct config *cfg, struct error *err);
/* Frees everything (wipes secrets). Safe on a zeroed struct. */
void config_release(struct config *cfg);

const struct cfg_store *config_find_store(const struct config *cfg, const char *name);
const struct cfg_job *config_find_job(const struct config *cfg, const char *name);
const struct cfg_notify *config_find_notify(const struct config *cfg, const char *name);

/* Writes the effective configuration (defaults filled in) as INI to out, every secret redacted: the
 * reference (env:NAME / file:PATH) is shown, never the value. */
void config_show(const struct config *cfg, struct buf *out);

/* The retention policy of job on target store: its keep.STORE override when there is one, else the
 * job's keep. Borrowed from job. */
const struct keep_policy *config_job_keep_for(const struct cfg_job *job, const char *store);

/* "postgres", "mirror" or "redis". */
const char *config_job_kind_name(enum job_kind kind);

/* Why pattern is not a valid include/exclude glob (see src/mirror/filter.h: empty, longer than
 * 1024 bytes, an unterminated '[' or a trailing '\'), or NULL when it is valid. */
const char *config_glob_problem(const char *pattern);

/* Parses a keep policy ("last 3, daily 7"). */
int config_parse_keep(const char *text, struct keep_policy *out, struct error *err);

/* Resolves a secret reference given outside the file (e.g. a command-line flag): "env:NAME" or
 * "file:PATH" (one trailing newline stripped). Inline values are refused here, so secrets never
 * have to pass through argv. The value never appears in an error message. */
int config_resolve_secret(const char *ref, struct secret *out, struct error *err);

#endif
