/* permafrost store put|get|ls|rm: the objects of one store, with the job's own credentials */
#include <stdio.h>
#include <string.h>

#include <getopt.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/store_tool.h"
#include "util/buf.h"
#include "util/json_writer.h"
#include "util/time.h"

static const char store_usage[] =
    "usage: permafrost store put STORE KEY FILE\n"
    "       permafrost store get STORE KEY FILE\n"
    "       permafrost store ls [--json] STORE [PREFIX]\n"
    "       permafrost store rm STORE KEY\n"
    "\n"
    "Reads and writes the objects of a configured store directly, with the same\n"
    "endpoint, credentials and options the jobs use: to look inside a bucket during an\n"
    "incident, or to fetch one artifact without the catalog. KEY is relative to the\n"
    "store's root (its prefix for S3): 'db/20261124T031500Z-k3f9/manifest.json'.\n"
    "Changing keys under a job's directory can break that job's snapshots.\n"
    "\n"
    "  put   upload FILE ('-': standard input) to KEY; the object appears only when\n"
    "        complete (S3: multipart, 'part_size' and 'concurrency' of the store)\n"
    "  get   download KEY to FILE ('-': standard output); FILE is written to a\n"
    "        temporary file (mode 0600) and renamed, so it is whole or unchanged\n"
    "  ls    one line per key under PREFIX: size in bytes, time (UTC), key\n"
    "        --json   a JSON array of {key, size_bytes, mtime}\n"
    "  rm    remove KEY (a missing key is not an error)\n"
    "\n"
    "examples:\n"
    "  permafrost store ls spaces-nyc db/\n"
    "  permafrost store get spaces-nyc db/20261124T031500Z-k3f9/manifest.json - | jq .\n"
    "  permafrost store put spaces-nyc scratch/test.bin /tmp/test.bin\n";

static int store_usage_error(struct error *err, const char *msg)
{
    error_set(err, ERR_USAGE, "%s", msg);
    return error_hint(err, "permafrost store --help");
}

static double store_rate_mib_s(uint64_t bytes, int64_t ms)
{
    return ms > 0 ? (double)bytes / 1048576.0 / ((double)ms / 1000.0) : 0.0;
}

/* An unknown store is a usage error whose hint lists the configured ones. */
static int store_check_name(const struct config *cfg, const char *name, struct error *err)
{
    struct buf names;

    if (config_find_store(cfg, name))
        return 0;
    buf_init(&names, BUF_NO_CAP);
    for (size_t i = 0; i < cfg->store_count; i++)
        buf_addf(&names, "%s'%s'", i ? ", " : "", cfg->stores[i].name);
    error_set(err, ERR_USAGE, "unknown store '%s'", name);
    if (cfg->store_count)
        error_hint(err, "configured stores: %s", names.data);
    else
        error_hint(err, "the configuration has no [store \"NAME\"] section");
    buf_release(&names);
    return -1;
}

struct store_ls_state {
    struct json_writer *w; /* NULL: text */
    size_t count;
};

static int store_ls_entry(const struct store_tool_entry *e, void *arg, struct error *err)
{
    struct store_ls_state *st = arg;
    char t[TIME_ISO_LEN];

    (void)err;
    time_format_iso(e->mtime, t);
    st->count++;
    if (st->w) {
        json_begin_object(st->w);
        json_key_string(st->w, "key", e->key);
        json_key_uint(st->w, "size_bytes", e->size_bytes);
        json_key_string(st->w, "mtime", t);
        json_end_object(st->w);
    } else {
        printf("%12llu  %s  %s\n", (unsigned long long)e->size_bytes, t, e->key);
    }
    return 0;
}

static int store_ls(const char *store, const char *prefix, struct cli_ctx *ctx, struct error *err)
{
    struct store_ls_state st = {NULL, 0};
    struct json_writer w;
    struct buf out;
    int rc = -1;

    buf_init(&out, BUF_NO_CAP);
    if (ctx->is_json) {
        json_writer_init(&w, &out);
        w.indent = 2;
        json_begin_array(&w);
        st.w = &w;
    }
    if (store_tool_list(ctx->cfg, store, prefix, store_ls_entry, &st, err) < 0)
        goto out;
    if (ctx->is_json) {
        json_end_array(&w);
        printf("%s\n", out.data);
    } else if (st.count == 0 && !ctx->is_quiet) {
        fprintf(stderr, "no keys under '%s' in store '%s'\n", prefix, store);
    }
    rc = 0;
out:
    buf_release(&out);
    return rc;
}

int cmd_store(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *verb;
    char **args;
    int nargs;
    int c;

    if (argc < 2)
        return store_usage_error(err, "'store' takes put, get, ls or rm");
    verb = argv[1];
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
        (void)fputs(store_usage, stdout);
        return 0;
    }
    /* The options follow the verb: argv + 1 makes the verb getopt's program name. */
    optind = 0;
    while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            ctx->is_json = true;
            break;
        case 'h':
            (void)fputs(store_usage, stdout);
            return 0;
        default:
            return store_usage_error(err, "invalid arguments to 'store'");
        }
    }
    args = argv + 1 + optind;
    nargs = argc - 1 - optind;
    if (nargs >= 1 && store_check_name(ctx->cfg, args[0], err) < 0)
        return -1;

    if (strcmp(verb, "put") == 0 || strcmp(verb, "get") == 0) {
        bool is_put = verb[0] == 'p';
        int64_t t0 = time_mono_ms();
        uint64_t bytes = 0;
        char size[OUTPUT_SIZE_LEN];

        if (nargs != 3)
            return store_usage_error(err, is_put ? "'store put' takes STORE KEY FILE"
                                                 : "'store get' takes STORE KEY FILE");
        if (is_put) {
            if (store_tool_put(ctx->cfg, args[0], args[1], args[2], &bytes, err) < 0)
                return -1;
        } else {
            if (store_tool_get(ctx->cfg, args[0], args[1], args[2], &bytes, err) < 0)
                return -1;
        }
        if (!ctx->is_quiet) {
            int64_t ms = time_mono_ms() - t0;
            output_format_size(bytes, size);
            /* stderr: with FILE '-' stdout carries the object. */
            fprintf(stderr, "%s '%s' %s store '%s': %llu bytes (%s) in %.1f s, %.1f MiB/s\n",
                    is_put ? "put" : "got", args[1], is_put ? "into" : "from", args[0],
                    (unsigned long long)bytes, size, (double)ms / 1000.0,
                    store_rate_mib_s(bytes, ms));
        }
        return 0;
    }
    if (strcmp(verb, "ls") == 0) {
        if (nargs < 1 || nargs > 2)
            return store_usage_error(err, "'store ls' takes STORE [PREFIX]");
        return store_ls(args[0], nargs == 2 ? args[1] : "", ctx, err);
    }
    if (strcmp(verb, "rm") == 0) {
        bool existed = false;

        if (nargs != 2)
            return store_usage_error(err, "'store rm' takes STORE KEY");
        if (store_tool_remove(ctx->cfg, args[0], args[1], &existed, err) < 0)
            return -1;
        if (!ctx->is_quiet)
            fprintf(stderr,
                    existed ? "removed '%s' from store '%s'\n" : "'%s' was not in store '%s'\n",
                    args[1], args[0]);
        return 0;
    }
    error_set(err, ERR_USAGE, "unknown 'store' command '%s' (known: put, get, ls, rm)", verb);
    return error_hint(err, "permafrost store --help");
}
