/* Fuzzes manifest_from_json. Whatever parses must survive manifest_to_json and parse again to the
 * same values, and writing the re-parsed manifest must give the same bytes (the writer is a fixed
 * point after one round). */
#include <stdint.h>
#include <string.h>

#include "core/manifest.h"
#include "util/buf.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fuzz_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static void fuzz_check_same(const struct manifest *a, const struct manifest *b)
{
    ASSERT(a->format_version == b->format_version);
    ASSERT(fuzz_str_eq(a->job, b->job));
    ASSERT(fuzz_str_eq(a->kind, b->kind));
    ASSERT(fuzz_str_eq(a->snapshot_id, b->snapshot_id));
    ASSERT(a->started_at == b->started_at);
    ASSERT(a->ended_at == b->ended_at);
    ASSERT(fuzz_str_eq(a->host, b->host));
    ASSERT(a->artifact_count == b->artifact_count);
    for (size_t i = 0; i < a->artifact_count; i++) {
        ASSERT(fuzz_str_eq(a->artifacts[i].name, b->artifacts[i].name));
        ASSERT(a->artifacts[i].size_bytes == b->artifacts[i].size_bytes);
        ASSERT(a->artifacts[i].raw_bytes == b->artifacts[i].raw_bytes);
        ASSERT(a->artifacts[i].compression_level == b->artifacts[i].compression_level);
        ASSERT(strcmp(a->artifacts[i].sha256, b->artifacts[i].sha256) == 0);
    }
    ASSERT(a->pg_server_version_num == b->pg_server_version_num);
    ASSERT(a->pg_database_size_bytes == b->pg_database_size_bytes);
    ASSERT(fuzz_str_eq(a->pg_database, b->pg_database));
    ASSERT(a->table_count == b->table_count);
    for (size_t i = 0; i < a->table_count; i++) {
        ASSERT(fuzz_str_eq(a->tables[i].schema, b->tables[i].schema));
        ASSERT(fuzz_str_eq(a->tables[i].name, b->tables[i].name));
        ASSERT(a->tables[i].rows == b->tables[i].rows);
        ASSERT(a->tables[i].is_exact == b->tables[i].is_exact);
    }
    ASSERT(manifest_stored_bytes(a) == manifest_stored_bytes(b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct manifest first;
    struct manifest second;
    struct error err = ERROR_INIT;
    struct buf json1;
    struct buf json2;

    memset(&first, 0, sizeof(first));
    memset(&second, 0, sizeof(second));
    buf_init(&json1, BUF_NO_CAP);
    buf_init(&json2, BUF_NO_CAP);
    if (manifest_from_json((const char *)data, size, &first, &err) != 0) {
        ASSERT(err.kind == ERR_INTEGRITY && err.msg[0] != '\0');
        return 0;
    }
    manifest_to_json(&first, &json1);
    /* Pretty-printing can push a manifest near the cap over it; real ones are a few KiB. */
    if (json1.len <= (size_t)MANIFEST_MAX_BYTES) {
        if (manifest_from_json(json1.data, json1.len, &second, &err) != 0)
            error_assert_fail(__FILE__, __LINE__, err.msg);
        fuzz_check_same(&first, &second);
        manifest_to_json(&second, &json2);
        ASSERT(json1.len == json2.len && memcmp(json1.data, json2.data, json1.len) == 0);
    }
    buf_release(&json2);
    buf_release(&json1);
    manifest_release(&second);
    manifest_release(&first);
    return 0;
}
