/* permafrost run [JOB...] */
#include <stdio.h>
#include <string.h>

#include <getopt.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "core/alerts.h"
#include "core/backup.h"
#include "core/mirror_job.h"
#include "core/state.h"
#include "core/verify.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/json_writer.h"
#include "util/log.h"
#include "util/time.h"
#include "util/xalloc.h"

static const char run_usage[] =
    "usage: permafrost run [--no-prune] [--dry-run] [--checksum] [--max-delete=N|P%]\n"
    "                      [--no-notify] [--json] [JOB...]\n"
    "\n"
    "Runs each named job (every job when none is named), one after the other.\n"
    "\n"
    "A postgres job takes a snapshot: the dump goes through zstd into the job's first\n"
    "target, then is copied to the others; the manifest is written last. Then the\n"
    "job's keep policy is applied (unless --no-prune).\n"
    "\n"
    "A verify job checks the snapshots of its jobs on its stores and, unless\n"
    "restore = no, restores them into scratch databases / throwaway servers (see\n"
    "'permafrost verify --help'); it exits 4 when a copy is damaged.\n"
    "\n"
    "A mirror job makes its destination an exact copy of its source: new and changed\n"
    "objects are copied, then extraneous ones deleted (or moved to the trash), unless\n"
    "that would exceed max_delete or a source listing failed.\n"
    "\n"
    "Each job's start, success, failure or warning goes to the [notify] channels that\n"
    "want it (not for --dry-run); a channel that cannot be reached is logged and does\n"
    "not change the exit status (see 'permafrost notify --help').\n"
    "\n"
    "  --no-prune         postgres: do not apply the keep policy after the run\n"
    "  --dry-run          mirror: list and compare only, print the plan (one line per\n"
    "                     copy, update and deletion, then totals); changes nothing,\n"
    "                     takes no lock, records nothing\n"
    "  --checksum         mirror: compare content hashes (MD5) where the listings\n"
    "                     cannot tell, as with checksum = yes\n"
    "  --max-delete=N|P%  mirror: the deletion guard for this run instead of the job's\n"
    "                     max_delete (e.g. 2000 or 25%), for an intended mass deletion\n"
    "  --no-notify        send no notifications ([notify] channels) for this run\n"
    "  --json             print the results as a JSON array, one element per job\n"
    "\n"
    "--dry-run, --checksum and --max-delete apply to mirror jobs only: naming (or\n"
    "running all jobs with) a postgres job with them is a usage error.\n"
    "\n"
    "exit status: 0 when every job succeeded; 1 when a job failed, a mirror left\n"
    "objects failed or its deletions were refused; 2 usage; 3 config; 5 locked;\n"
    "130 cancelled (see docs/exit-codes.md).\n"
    "\n"
    "examples:\n"
    "  permafrost run                      # every job\n"
    "  permafrost run db                   # one job\n"
    "  permafrost run media                # mirror the media bucket now\n"
    "  permafrost run --dry-run media      # what would the mirror copy and delete?\n"
    "  permafrost run --max-delete=30% media\n"
    "                                      # a cleanup removed many files: allow it once\n"
    "  permafrost run --checksum --json media > media-run.json\n"
    "  permafrost run --no-notify db       # a manual run, without paging anyone\n";

static void run_print_text(const struct cfg_job *job, const struct backup_result *r,
                           const struct error *e)
{
    char raw[OUTPUT_SIZE_LEN];
    char stored[OUTPUT_SIZE_LEN];
    char dbsize[OUTPUT_SIZE_LEN];
    char dur[TIME_ISO_LEN];

    time_format_duration(r->duration_ms, dur);
    if (r->is_ok)
        printf("job '%s': snapshot %s ok in %s\n", job->name, r->snapshot_id, dur);
    else
        printf("job '%s': FAILED after %s%s%s\n", job->name, dur,
               r->snapshot_id[0] ? ", snapshot " : "", r->snapshot_id);
    if (r->database) {
        output_format_size((uint64_t)(r->database_size_bytes > 0 ? r->database_size_bytes : 0),
                           dbsize);
        printf("  database  %s (PostgreSQL %s, %s, %zu tables", r->database, r->server_version,
               dbsize, r->table_count);
        if (r->total_rows >= 0)
            printf(", %lld rows", (long long)r->total_rows);
        printf("), pg_dump %s\n", r->pg_dump_version);
    }
    if (r->redis_server) {
        char mem[OUTPUT_SIZE_LEN];

        output_format_size((uint64_t)(r->redis_used_memory > 0 ? r->redis_used_memory : 0), mem);
        printf("  server    %s %s, %s used, %lld keys", r->redis_server,
               r->redis_version ? r->redis_version : "?", mem, (long long)r->redis_keys);
        if (r->redis_rdb_version > 0)
            printf(", RDB version %d", r->redis_rdb_version);
        printf("\n");
    }
    if (r->redis_method) {
        if (r->redis_fallback_reason)
            printf("  method    logical (fell back: %s)\n", r->redis_fallback_reason);
        else if (strcmp(r->redis_method, "sync") == 0)
            printf("  method    sync (%s)\n", r->redis_transfer ? r->redis_transfer : "?");
        else
            printf("  method    %s\n", r->redis_method);
    }
    if (r->raw_bytes) {
        output_format_size(r->raw_bytes, raw);
        output_format_size(r->stored_bytes, stored);
        printf("  dump      %s -> %s zstd%s (%.2fx)\n", raw, stored,
               r->recipient_count || r->passphrase ? " + age" : "",
               r->stored_bytes ? (double)r->raw_bytes / (double)r->stored_bytes : 0.0);
    }
    if (r->recipient_count)
        printf("  encrypted age, to %zu recipient%s\n", r->recipient_count,
               r->recipient_count == 1 ? "" : "s");
    else if (r->passphrase)
        printf("  encrypted age, with the passphrase (scrypt)\n");
    for (size_t i = 0; i < r->target_count; i++) {
        if (r->targets[i].is_ok)
            printf("  store     %s: ok%s\n", r->targets[i].store,
                   i == 0                         ? " (written)"
                   : r->targets[i].is_server_side ? " (server-side copy)"
                                                  : " (copied)");
        else
            printf("  store     %s: failed%s%s\n", r->targets[i].store,
                   r->targets[i].error[0] ? ": " : "", r->targets[i].error);
    }
    if (r->pruned)
        printf("  retention removed %zu snapshot%s\n", r->pruned, r->pruned == 1 ? "" : "s");
    if (r->prune_error[0])
        printf("  retention failed: %s\n", r->prune_error);
    if (!r->is_ok && e->msg[0])
        printf("  error     %s\n", e->msg);
}

/* This process's peak resident memory so far (children such as pg_dump not included), for
 * monitoring and the benchmarks. */
static int64_t run_peak_rss_kb(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return -1;
    return (int64_t)ru.ru_maxrss;
}

static void run_print_json(struct json_writer *w, const struct cfg_job *job,
                           const struct backup_result *r, const struct error *e)
{
    json_begin_object(w);
    json_key_string(w, "job", job->name);
    json_key_string(w, "snapshot", r->snapshot_id[0] ? r->snapshot_id : NULL);
    json_key_string(w, "result", r->is_ok ? "ok" : "failed");
    json_key_int(w, "duration_ms", r->duration_ms);
    json_key_uint(w, "raw_bytes", r->raw_bytes);
    json_key_uint(w, "size_bytes", r->stored_bytes);
    json_key_string(w, "database", r->database);
    json_key_int(w, "database_size_bytes", r->database_size_bytes);
    json_key_uint(w, "tables", r->table_count);
    json_key_int(w, "rows", r->total_rows);
    if (job->kind == JOB_KIND_REDIS) {
        json_key_string(w, "server", r->redis_server);
        json_key_string(w, "server_version", r->redis_version);
        json_key_string(w, "method", r->redis_method);
        json_key_string(w, "transfer", r->redis_transfer);
        json_key_string(w, "fallback_reason", r->redis_fallback_reason);
        json_key_int(w, "rdb_version", r->redis_rdb_version);
        json_key_int(w, "keys", r->redis_keys);
        json_key_int(w, "used_memory", r->redis_used_memory);
    }
    json_key_string(w, "encryption",
                    r->recipient_count ? "age-recipients"
                    : r->passphrase    ? "age-passphrase"
                                       : NULL);
    json_key_uint(w, "recipients", r->recipient_count);
    json_key(w, "stores");
    json_begin_array(w);
    for (size_t i = 0; i < r->target_count; i++) {
        json_begin_object(w);
        json_key_string(w, "store", r->targets[i].store);
        json_key_bool(w, "ok", r->targets[i].is_ok);
        json_key_string(w, "transfer",
                        i == 0                         ? "written"
                        : r->targets[i].is_server_side ? "server-side copy"
                                                       : "copied");
        json_key_string(w, "error", r->targets[i].error[0] ? r->targets[i].error : NULL);
        json_end_object(w);
    }
    json_end_array(w);
    json_key_uint(w, "pruned", r->pruned);
    json_key_int(w, "peak_rss_kb", run_peak_rss_kb());
    json_key_string(w, "error", r->is_ok ? NULL : e->msg);
    json_key_string(w, "hint", !r->is_ok && e->hint[0] ? e->hint : NULL);
    json_end_object(w);
}

/* "  copied       1234 objects, 1.2 GiB" */
static void run_print_count(const char *label, const struct mirror_count *c, const char *extra)
{
    char size[OUTPUT_SIZE_LEN];

    output_format_size(c->bytes, size);
    printf("  %-12s %llu object%s, %s%s\n", label, (unsigned long long)c->objects,
           c->objects == 1 ? "" : "s", size, extra);
}

static void run_print_mirror_text(const struct cfg_job *job, const struct mirror_job_result *r,
                                  const struct output_mirror *om, bool is_dry_run,
                                  const struct error *e)
{
    const struct mirror_stats *st = &r->stats;
    char dur[TIME_ISO_LEN];
    char extra[64];

    time_format_duration(st->duration_ms, dur);
    switch (r->outcome) {
    case MIRROR_JOB_OK:
        printf("job '%s': %s ok in %s\n", job->name, is_dry_run ? "mirror plan" : "mirror", dur);
        break;
    case MIRROR_JOB_PARTIAL:
        printf("job '%s': mirror PARTIAL after %s: %llu object%s failed\n", job->name, dur,
               (unsigned long long)st->failed.objects, st->failed.objects == 1 ? "" : "s");
        break;
    case MIRROR_JOB_REFUSED:
        printf("job '%s': mirror copied, deletions REFUSED, after %s\n", job->name, dur);
        break;
    case MIRROR_JOB_CANCELLED:
        printf("job '%s': mirror cancelled after %s\n", job->name, dur);
        break;
    case MIRROR_JOB_FAILED:
        printf("job '%s': mirror FAILED after %s\n", job->name, dur);
        break;
    }
    printf("  from         %s%s%s\n  to           %s%s%s\n", job->mirror.source.store,
           job->mirror.source.prefix[0] ? ":" : "", job->mirror.source.prefix,
           job->mirror.destination.store, job->mirror.destination.prefix[0] ? ":" : "",
           job->mirror.destination.prefix);
    if (!r->has_started) {
        /* Locked, or a setup error: there are no numbers to show. */
        printf("  error        %s\n", e->msg);
        if (e->hint[0])
            printf("  hint         %s\n", e->hint);
        return;
    }
    run_print_count("source", &st->source, st->is_listing_complete ? "" : " (listing incomplete)");
    run_print_count("destination", &st->destination, "");
    if (is_dry_run) {
        run_print_count("would copy", &om->plan_copy, "");
        run_print_count("would update", &om->plan_update, "");
        run_print_count("would delete", &om->plan_delete,
                        job->mirror.trash ? " (to the trash)" : "");
    } else {
        run_print_count("unchanged", &st->unchanged, "");
        snprintf(extra, sizeof(extra), " (%llu server-side)",
                 (unsigned long long)st->server_side_copies);
        run_print_count("copied", &st->copied, st->server_side_copies ? extra : "");
        run_print_count("updated", &st->updated, "");
        run_print_count("deleted", &st->deleted, "");
        if (st->trashed.objects)
            run_print_count("to trash", &st->trashed, "");
        if (st->expired.objects)
            run_print_count("expired", &st->expired, " (trash older than trash_days)");
    }
    if (st->skipped.objects)
        run_print_count("skipped", &st->skipped, " (named in the warnings above)");
    if (st->failed.objects)
        run_print_count("failed", &st->failed, "");
    if (!is_dry_run) {
        char moved[OUTPUT_SIZE_LEN];
        output_format_size(st->bytes_transferred, moved);
        printf("  transferred  %s through this host\n", moved);
    }
    printf("  requests    ");
    for (int i = 0; i < MIRROR_REQ_COUNT; i++)
        printf(" %s %llu", mirror_request_name((enum mirror_request)i),
               (unsigned long long)st->requests[i]);
    printf(", %llu retr%s\n", (unsigned long long)st->retries, st->retries == 1 ? "y" : "ies");
    if (st->failure_count) {
        printf("  failures:\n");
        for (size_t i = 0; i < st->failure_count; i++) {
            struct buf key;
            buf_init(&key, BUF_NO_CAP);
            output_escape_key(st->failures[i].key, &key);
            printf("    %s: %s\n", key.data, st->failures[i].error);
            buf_release(&key);
        }
        if (st->failed.objects > st->failure_count)
            printf("    ... and %llu more\n",
                   (unsigned long long)(st->failed.objects - st->failure_count));
    }
    if (st->is_deletion_refused)
        printf("  deletions %s: %s\n", is_dry_run ? "would be refused" : "refused",
               st->deletion_refusal);
    /* A refusal is the line above; the hint says what to do. */
    if (r->outcome != MIRROR_JOB_OK && r->outcome != MIRROR_JOB_REFUSED && e->msg[0])
        printf("  error        %s\n", e->msg);
    if (r->outcome != MIRROR_JOB_OK && e->hint[0])
        printf("  hint         %s\n", e->hint);
}

static void run_json_count(struct json_writer *w, const char *key, const struct mirror_count *c)
{
    json_key(w, key);
    json_begin_object(w);
    json_key_uint(w, "objects", c->objects);
    json_key_uint(w, "bytes", c->bytes);
    json_end_object(w);
}

static void run_print_mirror_json(struct json_writer *w, const struct cfg_job *job,
                                  const struct mirror_job_result *r, bool is_dry_run,
                                  const struct error *e)
{
    const struct mirror_stats *st = &r->stats;

    json_begin_object(w);
    json_key_string(w, "job", job->name);
    json_key_string(w, "kind", "mirror");
    json_key_bool(w, "ok", r->outcome == MIRROR_JOB_OK);
    json_key_string(w, "result", mirror_job_outcome_name(r->outcome));
    json_key_int(w, "duration_ms", st->duration_ms);
    run_json_count(w, "source", &st->source);
    run_json_count(w, "destination", &st->destination);
    run_json_count(w, "unchanged", &st->unchanged);
    run_json_count(w, "copied", &st->copied);
    run_json_count(w, "updated", &st->updated);
    run_json_count(w, "deleted", &st->deleted);
    run_json_count(w, "trashed", &st->trashed);
    run_json_count(w, "expired", &st->expired);
    run_json_count(w, "skipped", &st->skipped);
    run_json_count(w, "failed", &st->failed);
    json_key_uint(w, "server_side_copies", st->server_side_copies);
    json_key_uint(w, "bytes_transferred", st->bytes_transferred);
    if (st->first_transfer_ms >= 0)
        json_key_int(w, "first_transfer_ms", st->first_transfer_ms);
    else
        json_key_string(w, "first_transfer_ms", NULL);
    json_key(w, "requests");
    json_begin_object(w);
    for (int i = 0; i < MIRROR_REQ_COUNT; i++)
        json_key_uint(w, mirror_request_name((enum mirror_request)i), st->requests[i]);
    json_end_object(w);
    json_key_uint(w, "retries", st->retries);
    json_key_bool(w, "listing_complete", st->is_listing_complete);
    json_key_string(w, "deletions_refused", st->is_deletion_refused ? st->deletion_refusal : NULL);
    json_key(w, "failures");
    json_begin_array(w);
    for (size_t i = 0; i < st->failure_count; i++) {
        json_begin_object(w);
        json_key_string(w, "key", st->failures[i].key);
        json_key_string(w, "error", st->failures[i].error);
        json_end_object(w);
    }
    json_end_array(w);
    json_key(w, "skips");
    json_begin_array(w);
    for (size_t i = 0; i < st->skip_count; i++) {
        json_begin_object(w);
        json_key_string(w, "key", st->skips[i].key);
        json_key_string(w, "reason", st->skips[i].error);
        json_end_object(w);
    }
    json_end_array(w);
    json_key_string(w, "error", r->outcome == MIRROR_JOB_OK ? NULL : e->msg);
    json_key_bool(w, "dry_run", is_dry_run);
    json_end_object(w);
}

/* When several jobs fail, the exit code follows the most telling failure. */
static int run_severity(enum err_kind k)
{
    switch (k) {
    case ERR_CANCELLED:
        return 5;
    case ERR_LOCKED:
        return 4;
    case ERR_INTEGRITY:
        return 3;
    case ERR_CONFIG:
    case ERR_USAGE:
        return 2;
    case ERR_NONE:
        return 0;
    case ERR_IO:
    case ERR_NETWORK:
    case ERR_REMOTE:
    case ERR_FAILED:
        return 1;
    }
    return 1;
}

/* Options of one `run` invocation. */
struct run_flags {
    bool skip_prune;
    bool is_dry_run;
    bool is_checksum;
    bool has_max_delete;
    int64_t max_delete_count;
    double max_delete_percent;
    bool is_no_notify;
};

/* What a notification says about one job's run, kept from the results before they are released. */
#define RUN_NOTE_STORES 16
struct run_note {
    char snapshot_id[64];
    int64_t duration_ms;
    uint64_t raw_bytes;
    uint64_t stored_bytes;
    struct notify_store_outcome stores[RUN_NOTE_STORES];
    char store_names[RUN_NOTE_STORES][128];
    char store_details[RUN_NOTE_STORES][512];
    size_t store_count;
    char summary[512];
    char warning[1536];
};

static void run_note_add_store(struct run_note *n, const char *store, bool is_ok,
                               const char *detail)
{
    size_t i = n->store_count;

    if (i == RUN_NOTE_STORES)
        return;
    buf_format_fixed(n->store_names[i], sizeof(n->store_names[i]), "%s", store);
    buf_format_fixed(n->store_details[i], sizeof(n->store_details[i]), "%s", detail);
    n->stores[i].store = n->store_names[i];
    n->stores[i].is_ok = is_ok;
    n->stores[i].detail = n->store_details[i];
    n->store_count++;
}

/* Appends "; text" to the note's warning. */
static void run_note_warn(struct run_note *n, const char *text)
{
    size_t len = strlen(n->warning);

    buf_format_fixed(n->warning + len, sizeof(n->warning) - len, "%s%s", len ? "; " : "", text);
}

static void run_note_backup(struct run_note *n, const struct backup_result *r)
{
    char text[1200];

    buf_format_fixed(n->snapshot_id, sizeof(n->snapshot_id), "%s", r->snapshot_id);
    n->duration_ms = r->duration_ms;
    n->raw_bytes = r->raw_bytes;
    n->stored_bytes = r->stored_bytes;
    for (size_t i = 0; i < r->target_count; i++)
        run_note_add_store(n, r->targets[i].store, r->targets[i].is_ok,
                           !r->targets[i].is_ok           ? r->targets[i].error
                           : i == 0                       ? "written"
                           : r->targets[i].is_server_side ? "server-side copy"
                                                          : "copied");
    if (r->pruned)
        buf_format_fixed(n->summary, sizeof(n->summary), "retention removed %zu snapshot%s",
                         r->pruned, r->pruned == 1 ? "" : "s");
    if (r->prune_error[0]) {
        buf_format_fixed(text, sizeof(text), "retention failed: %s", r->prune_error);
        run_note_warn(n, text);
    }
    if (r->redis_fallback_reason) {
        buf_format_fixed(text, sizeof(text), "redis fell back to the logical method: %s",
                         r->redis_fallback_reason);
        run_note_warn(n, text);
    }
}

static void run_note_mirror(struct run_note *n, const struct mirror_job_result *r)
{
    const struct mirror_stats *st = &r->stats;
    char copied[OUTPUT_SIZE_LEN];
    char text[256];

    n->duration_ms = st->duration_ms;
    n->raw_bytes = 0;
    output_format_size(st->copied.bytes + st->updated.bytes, copied);
    buf_format_fixed(n->summary, sizeof(n->summary),
                     "%s: copied %llu objects, updated %llu (%s), deleted %llu%s, failed %llu",
                     mirror_job_outcome_name(r->outcome), (unsigned long long)st->copied.objects,
                     (unsigned long long)st->updated.objects, copied,
                     (unsigned long long)st->deleted.objects,
                     st->is_deletion_refused ? " (deletions refused)" : "",
                     (unsigned long long)st->failed.objects);
    if (st->skipped.objects) {
        buf_format_fixed(text, sizeof(text),
                         "%llu object%s skipped (keys the destination cannot hold; see the log)",
                         (unsigned long long)st->skipped.objects,
                         st->skipped.objects == 1 ? "" : "s");
        run_note_warn(n, text);
    }
}

/* Sends a job's event to the channels; the alerts log their own failures. */
static void run_notify(struct alerts *alerts, const struct cfg_job *job, enum notify_event event,
                       const char *run_id, const struct run_note *note, const struct error *jerr)
{
    struct notify_message m;
    struct buf tail;
    char host[256];

    if (!alerts_count(alerts))
        return;
    buf_init(&tail, BUF_NO_CAP);
    if (gethostname(host, sizeof(host)) < 0)
        buf_format_fixed(host, sizeof(host), "%s", "unknown");
    host[sizeof(host) - 1] = '\0';
    memset(&m, 0, sizeof(m));
    m.event = event;
    m.job = job->name;
    m.job_kind = config_job_kind_name(job->kind);
    m.host = host;
    m.duration_ms = -1;
    m.time = time(NULL);
    m.run_id = run_id;
    if (note) {
        m.snapshot_id = note->snapshot_id[0] ? note->snapshot_id : NULL;
        m.duration_ms = note->duration_ms;
        m.raw_bytes = note->raw_bytes;
        m.stored_bytes = note->stored_bytes;
        m.stores = note->stores;
        m.store_count = note->store_count;
        m.summary = note->summary[0] ? note->summary : NULL;
        m.warning = note->warning[0] ? note->warning : NULL;
    }
    if (event == NOTIFY_EVENT_FAILURE && jerr) {
        m.error = jerr->msg[0] ? jerr->msg : NULL;
        m.hint = jerr->hint[0] ? jerr->hint : NULL;
        m.exit_code = exit_code_for(jerr->kind);
        /* What the job logged before it failed (healthchecks keeps it with the ping). */
        log_tail_copy(&tail);
        m.log_tail = tail.len ? tail.data : NULL;
    }
    (void)alerts_send(alerts, &m);
    buf_release(&tail);
}

/* --max-delete=500 or --max-delete=12.5% */
static int run_parse_max_delete(const char *text, struct run_flags *f, struct error *err)
{
    size_t n = strlen(text);
    const char *p = text;
    uint64_t whole = 0;
    uint64_t frac = 0;
    uint64_t scale = 1;
    bool is_percent = n > 0 && text[n - 1] == '%';
    size_t digits = 0;

    if (is_percent)
        n--;
    for (; (size_t)(p - text) < n && *p >= '0' && *p <= '9' && whole < 1000000000000ULL; p++) {
        whole = whole * 10 + (uint64_t)(*p - '0');
        digits++;
    }
    if (is_percent && (size_t)(p - text) < n && *p == '.') {
        for (p++; (size_t)(p - text) < n && *p >= '0' && *p <= '9' && scale < 1000; p++) {
            frac = frac * 10 + (uint64_t)(*p - '0');
            scale *= 10;
        }
    }
    if (!digits || (size_t)(p - text) != n || whole >= 1000000000000ULL ||
        (is_percent && (double)whole + (double)frac / (double)scale > 100.0)) {
        error_set(err, ERR_USAGE,
                  "invalid --max-delete '%s' (a count such as 500, or a "
                  "percentage such as 25%%)",
                  text);
        return error_hint(err, "permafrost run --help");
    }
    f->has_max_delete = true;
    f->max_delete_count = is_percent ? -1 : (int64_t)whole;
    f->max_delete_percent = is_percent ? (double)whole + (double)frac / (double)scale : 0.0;
    return 0;
}

static int run_postgres_job(struct cli_ctx *ctx, struct json_writer *w, const struct cfg_job *job,
                            const char *state_dir, const struct run_flags *f, struct run_note *note,
                            struct error *jerr)
{
    struct backup_request req;
    struct backup_result res;
    int r;

    memset(&req, 0, sizeof(req));
    req.cfg = ctx->cfg;
    req.job = job;
    req.state_dir = state_dir;
    req.skip_prune = f->skip_prune;
    req.progress = output_progress;
    req.progress_ctx = ctx;
    r = backup_run(&req, &res, jerr);
    output_progress_end();
    if (ctx->is_json)
        run_print_json(w, job, &res, jerr);
    else if (!ctx->is_quiet || !res.is_ok)
        run_print_text(job, &res, jerr);
    run_note_backup(note, &res);
    backup_result_release(&res);
    return r;
}

static int run_mirror_job(struct cli_ctx *ctx, struct json_writer *w, const struct cfg_job *job,
                          const char *state_dir, const struct run_flags *f, struct run_note *note,
                          struct error *jerr)
{
    struct mirror_job_request req;
    struct mirror_job_result res;
    struct output_mirror om;
    int r;

    memset(&om, 0, sizeof(om));
    om.cli = ctx;
    om.job = job->name;
    om.start_ms = time_mono_ms();
    om.is_plan_printed = f->is_dry_run && !ctx->is_json;
    memset(&req, 0, sizeof(req));
    req.cfg = ctx->cfg;
    req.job = job;
    req.state_dir = state_dir;
    req.is_dry_run = f->is_dry_run;
    req.is_checksum = f->is_checksum;
    req.has_max_delete = f->has_max_delete;
    req.max_delete_count = f->max_delete_count;
    req.max_delete_percent = f->max_delete_percent;
    req.plan = output_mirror_plan;
    req.progress = output_mirror_progress;
    req.ctx = &om;
    r = mirror_job_run(&req, &res, jerr);
    output_progress_end();
    /* Only the max_delete guard can be lifted for one run; an empty source must be looked at. */
    if (res.outcome == MIRROR_JOB_REFUSED && res.stats.source.objects > 0)
        error_hint(jerr,
                   "check the source first (docs/operations.md, 'Media mirror'); if the %llu "
                   "deletions are wanted, allow them once: permafrost run --max-delete=%llu %s",
                   (unsigned long long)res.stats.to_delete, (unsigned long long)res.stats.to_delete,
                   job->name);
    if (f->is_dry_run) {
        /* The plan is the truth of a dry run: what it would copy, update and delete. */
        res.stats.copied = om.plan_copy;
        res.stats.updated = om.plan_update;
        res.stats.deleted = om.plan_delete;
    }
    if (res.stats.duration_ms == 0)
        res.stats.duration_ms = time_mono_ms() - om.start_ms;
    if (ctx->is_json)
        run_print_mirror_json(w, job, &res, f->is_dry_run, jerr);
    else if (!ctx->is_quiet || res.outcome != MIRROR_JOB_OK || f->is_dry_run)
        run_print_mirror_text(job, &res, &om, f->is_dry_run, jerr);
    run_note_mirror(note, &res);
    return r;
}

static void run_verify_item(const struct verify_item *it, void *arg)
{
    struct cli_ctx *ctx = arg;
    char dur[TIME_ISO_LEN];

    output_progress_end();
    if (ctx->is_json || (ctx->is_quiet && it->is_ok))
        return;
    time_format_duration(it->duration_ms, dur);
    printf("  %-6s %s %s on '%s' (%s, %s): %s\n", it->is_ok ? "ok" : "FAILED", it->job,
           it->snapshot_id[0] ? it->snapshot_id : "-", it->store[0] ? it->store : "-", it->level,
           dur, it->detail ? it->detail : "");
}

/* kind = verify: verify_run over the job's verify_jobs on its targets (each job's own when it
 * has none), with drills unless restore = no. */
static int run_verify_job(struct cli_ctx *ctx, struct json_writer *w, const struct cfg_job *job,
                          const char *state_dir, struct run_note *note, struct error *jerr)
{
    struct verify_request req;
    struct verify_result res;
    char dur[TIME_ISO_LEN];
    int r;

    memset(&req, 0, sizeof(req));
    req.cfg = ctx->cfg;
    req.jobs = (const char *const *)job->verify_jobs;
    req.job_count = job->verify_job_count;
    req.stores = (const char *const *)job->targets;
    req.store_count = job->target_count;
    req.snapshot = job->verify_snapshots == VERIFY_SNAPSHOTS_ALL ? NULL : "latest";
    req.restore = job->verify_restore;
    req.scratch = job->scratch;
    req.state_dir = state_dir;
    req.run_job = job;
    req.on_item = run_verify_item;
    req.item_ctx = ctx;
    req.progress = output_progress;
    req.progress_ctx = ctx;
    if (!ctx->is_json && !ctx->is_quiet)
        printf("job '%s': verify\n", job->name);
    r = verify_run(&req, &res, jerr);
    output_progress_end();
    time_format_duration(res.duration_ms, dur);
    if (ctx->is_json) {
        json_begin_object(w);
        json_key_string(w, "job", job->name);
        json_key_string(w, "kind", "verify");
        json_key_string(w, "result", r == 0 ? "ok" : "failed");
        json_key_int(w, "duration_ms", res.duration_ms);
        json_key_uint(w, "checked", res.item_count);
        json_key_uint(w, "failed", res.failed);
        json_key(w, "items");
        json_begin_array(w);
        for (size_t i = 0; i < res.item_count; i++) {
            const struct verify_item *it = &res.items[i];
            json_begin_object(w);
            json_key_string(w, "job", it->job);
            json_key_string(w, "snapshot", it->snapshot_id[0] ? it->snapshot_id : NULL);
            json_key_string(w, "store", it->store[0] ? it->store : NULL);
            json_key_string(w, "level", it->level);
            json_key_string(w, "result", it->is_ok ? "ok" : "failed");
            json_key_string(w, "detail", it->detail);
            json_end_object(w);
        }
        json_end_array(w);
        json_key_string(w, "error", r == 0 ? NULL : jerr->msg);
        json_end_object(w);
    } else if (r == 0) {
        if (!ctx->is_quiet)
            printf("job '%s': verify ok, %zu checks in %s\n", job->name, res.item_count, dur);
    } else {
        printf("job '%s': verify FAILED after %s: %zu of %zu checks failed\n", job->name, dur,
               res.failed, res.item_count);
        if (jerr->msg[0])
            printf("  error  %s\n", jerr->msg);
    }
    note->duration_ms = res.duration_ms;
    buf_format_fixed(note->summary, sizeof(note->summary), "%zu check%s, %zu failed",
                     res.item_count, res.item_count == 1 ? "" : "s", res.failed);
    verify_result_release(&res);
    return r;
}

/* Runs one job with its notifications: start before, then failure, warning or success. */
static int run_one_job(struct cli_ctx *ctx, struct json_writer *w, const struct cfg_job *job,
                       const char *state_dir, const struct run_flags *f, struct alerts *alerts,
                       struct error *jerr)
{
    struct run_note *note = xcalloc(1, sizeof(*note));
    char run_id[NOTIFY_ID_LEN];
    int r;

    note->duration_ms = -1;
    notify_new_id(run_id);
    run_notify(alerts, job, NOTIFY_EVENT_START, run_id, NULL, NULL);
    log_tail_start();
    if (job->kind == JOB_KIND_MIRROR)
        r = run_mirror_job(ctx, w, job, state_dir, f, note, jerr);
    else if (job->kind == JOB_KIND_VERIFY)
        r = run_verify_job(ctx, w, job, state_dir, note, jerr);
    else
        r = run_postgres_job(ctx, w, job, state_dir, f, note, jerr);
    run_notify(alerts, job,
               r < 0              ? NOTIFY_EVENT_FAILURE
               : note->warning[0] ? NOTIFY_EVENT_WARNING
                                  : NOTIFY_EVENT_SUCCESS,
               run_id, note, jerr);
    log_tail_stop();
    xfree(note);
    return r;
}

/* Whether the job is one of the names (every job when there are none). */
static bool run_is_wanted(const struct cfg_job *job, char **names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(names[i], job->name) == 0)
            return true;
    return count == 0;
}

int cmd_run(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    static const struct option opts[] = {
        {"no-prune", no_argument, NULL, 'n'}, {"dry-run", no_argument, NULL, 'd'},
        {"checksum", no_argument, NULL, 'c'}, {"max-delete", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},     {"no-notify", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0},
    };
    const struct config *cfg = ctx->cfg;
    char *state_dir = NULL;
    struct run_flags flags;
    const char *mirror_flag = NULL; /* the first mirror-only flag given, for the usage error */
    struct buf json;
    struct json_writer w;
    size_t failed = 0;
    size_t ran = 0;
    struct error worst = ERROR_INIT;
    struct alerts *alerts = NULL;
    int rc = -1;
    int c;

    memset(&flags, 0, sizeof(flags));
    buf_init(&json, BUF_NO_CAP);
    json_writer_init(&w, &json);
    w.indent = 2;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            flags.skip_prune = true;
            break;
        case 'd':
            flags.is_dry_run = true;
            mirror_flag = mirror_flag ? mirror_flag : "--dry-run";
            break;
        case 'c':
            flags.is_checksum = true;
            mirror_flag = mirror_flag ? mirror_flag : "--checksum";
            break;
        case 'm':
            if (run_parse_max_delete(optarg, &flags, err) < 0)
                goto out;
            mirror_flag = mirror_flag ? mirror_flag : "--max-delete";
            break;
        case 'j':
            ctx->is_json = true;
            break;
        case 'N':
            flags.is_no_notify = true;
            break;
        case 'h':
            (void)fputs(run_usage, stdout);
            rc = 0;
            goto out;
        default:
            error_set(err, ERR_USAGE, "invalid arguments to 'run'");
            error_hint(err, "permafrost run --help");
            goto out;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (!config_find_job(cfg, argv[i])) {
            error_set(err, ERR_USAGE, "unknown job '%s'", argv[i]);
            error_hint(err, "'permafrost config show' lists the jobs in '%s'", cfg->path);
            goto out;
        }
    }
    if (cfg->job_count == 0) {
        error_set(err, ERR_CONFIG, "'%s' defines no jobs", cfg->path);
        error_hint(err, "add a [job \"NAME\"] section; see docs/configuration.md");
        goto out;
    }
    /* A dry run that quietly backed a database up would be worse than a refusal. */
    for (size_t j = 0; mirror_flag && j < cfg->job_count; j++) {
        const struct cfg_job *job = &cfg->jobs[j];
        if (job->kind != JOB_KIND_MIRROR && run_is_wanted(job, argv + optind, argc - optind)) {
            error_set(err, ERR_USAGE, "%s applies to mirror jobs only, and job '%s' is a %s job",
                      mirror_flag, job->name, config_job_kind_name(job->kind));
            error_hint(err, "name the mirror jobs, as in 'permafrost run %s JOB'", mirror_flag);
            goto out;
        }
    }
    if (state_dir_resolve(ctx->state_dir_flag, cfg, &state_dir, err) < 0)
        goto out;
    /* A dry run changes nothing: nobody needs to hear of it. */
    if (!flags.is_no_notify && !flags.is_dry_run && alerts_open(cfg, &alerts, err) < 0)
        goto out;

    if (ctx->is_json)
        json_begin_array(&w);
    for (size_t j = 0; j < cfg->job_count; j++) {
        const struct cfg_job *job = &cfg->jobs[j];
        struct error jerr = ERROR_INIT;
        int r;

        if (!run_is_wanted(job, argv + optind, argc - optind))
            continue;
        ran++;
        r = run_one_job(ctx, &w, job, state_dir, &flags, alerts, &jerr);
        if (r < 0) {
            failed++;
            if (run_severity(jerr.kind) > run_severity(worst.kind))
                worst = jerr;
        }
        if (worst.kind == ERR_CANCELLED || cancel_requested())
            break;
    }
    if (ctx->is_json) {
        json_end_array(&w);
        printf("%s\n", json.data);
    }
    if (failed) {
        *err = worst;
        if (ran > 1) {
            error_wrap(err, "%zu of %zu jobs failed", failed, ran);
        }
        goto out;
    }
    rc = 0;
out:
    alerts_close(alerts);
    buf_release(&json);
    xfree(state_dir);
    return rc;
}
