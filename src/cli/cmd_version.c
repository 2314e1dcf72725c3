/* permafrost version [--json] */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/catalog.h"
#include "core/manifest.h"
#include "io/age.h"
#include "io/filter.h"
#include "net/conn.h"
#include "permafrost_version.h"
#include "sources/pg.h"
#include "sources/pg_dump.h"
#include "util/buf.h"
#include "util/json_writer.h"

static const char *const version_tools[] = {"pg_dump", "pg_restore", "pg_dumpall"};

int cmd_version(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    struct pg_tool tools[3];
    struct error terr[3];
    struct buf out;
    struct json_writer w;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            ctx->is_json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: permafrost version [--json]\n\nPrints the versions of permafrost, "
                   "the libraries it uses and the PostgreSQL client programs it found.\n");
            return 0;
        } else {
            error_set(err, ERR_USAGE, "unknown argument '%s' to 'version'", argv[i]);
            return -1;
        }
    }
    for (size_t i = 0; i < 3; i++) {
        error_clear(&terr[i]);
        pg_tool_find(version_tools[i], NULL, &tools[i], &terr[i]);
    }
    buf_init(&out, BUF_NO_CAP);
    if (ctx->is_json) {
        json_writer_init(&w, &out);
        w.indent = 2;
        json_begin_object(&w);
        json_key_string(&w, "permafrost", PERMAFROST_VERSION);
        json_key(&w, "libraries");
        json_begin_object(&w);
        json_key_string(&w, "zstd", zstd_filter_version());
        json_key_string(&w, "openssl", sha256_filter_version());
        json_key_string(&w, "libssl", net_conn_tls_version());
        json_key_string(&w, "sqlite", catalog_sqlite_version());
        json_key_string(&w, "libpq", pg_client_version());
        json_key_string(&w, "jansson", manifest_json_library_version());
        json_key_string(&w, "libsodium", age_sodium_version());
        json_end_object(&w);
        json_key(&w, "tools");
        json_begin_object(&w);
        for (size_t i = 0; i < 3; i++) {
            json_key(&w, version_tools[i]);
            json_begin_object(&w);
            json_key_string(&w, "version", tools[i].version);
            json_key_string(&w, "path", tools[i].path);
            json_key_string(&w, "error", tools[i].path ? NULL : terr[i].msg);
            json_end_object(&w);
        }
        json_end_object(&w);
        json_end_object(&w);
        buf_adds(&out, "\n");
    } else {
        buf_addf(&out, "permafrost %s\n", PERMAFROST_VERSION);
        buf_addf(&out, "  zstd      %s\n", zstd_filter_version());
        buf_addf(&out, "  openssl   %s\n", sha256_filter_version());
        buf_addf(&out, "  libssl    %s (TLS for rediss://)\n", net_conn_tls_version());
        buf_addf(&out, "  sqlite    %s\n", catalog_sqlite_version());
        buf_addf(&out, "  libpq     %s\n", pg_client_version());
        buf_addf(&out, "  jansson   %s\n", manifest_json_library_version());
        buf_addf(&out, "  libsodium %s (age encryption)\n", age_sodium_version());
        for (size_t i = 0; i < 3; i++) {
            if (tools[i].path)
                buf_addf(&out, "  %-11s %s (%s)\n", version_tools[i], tools[i].version,
                         tools[i].path);
            else
                buf_addf(&out, "  %-11s not found\n", version_tools[i]);
        }
    }
    (void)fputs(out.data, stdout);
    buf_release(&out);
    for (size_t i = 0; i < 3; i++)
        pg_tool_release(&tools[i]);
    return 0;
}
