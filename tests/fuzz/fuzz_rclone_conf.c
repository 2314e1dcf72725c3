/* libFuzzer target for the rclone formats: each input is parsed as an rclone.conf, as `rclone
 * lsjson` output and as a "NAME:path" remote. Beyond memory safety it checks what callers rely on:
 * - a parsed config has unique, non-empty section names, unique keys and non-empty values, and no
 *   sections at all when it is the encrypted form;
 * - every s3 section either maps onto native options with a bucket or fails with ERR_CONFIG;
 * - lsjson entries have non-empty paths without control characters;
 * - a remote that splits joins back to the input.
 * Seeds: tests/fuzz/corpus/rclone_conf/ (configs, lsjson listings, remotes). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stores/rclone_conf.h"
#include "stores/rclone_store.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_conf(const struct rclone_conf *c)
{
    if (c->is_encrypted)
        ASSERT(c->section_count == 0);
    for (size_t i = 0; i < c->section_count; i++) {
        const struct rclone_conf_section *s = &c->sections[i];

        ASSERT(s->name[0] != '\0');
        ASSERT(rclone_conf_find(c, s->name) == s);
        for (size_t k = 0; k < s->entry_count; k++) {
            ASSERT(s->entries[k].value[0] != '\0');
            ASSERT(rclone_conf_get(s, s->entries[k].key) == s->entries[k].value);
        }
    }
}

static void fuzz_map_s3(const struct rclone_conf *c)
{
    static const char *const paths[] = {"bucket/prefix/x", "", "/b/", "b//c"};
    struct store_options base = {.name = "fuzz", .type = "rclone"};

    for (size_t i = 0; i < c->section_count; i++) {
        const char *type = rclone_conf_get(&c->sections[i], "type");

        if (!type || strcmp(type, "s3") != 0)
            continue;
        for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
            struct rclone_s3_options o;
            struct error err = ERROR_INIT;

            if (rclone_store_s3_options_init(&c->sections[i], c->sections[i].name, paths[p], &base,
                                             &o, &err) == 0) {
                ASSERT(o.opts.bucket && o.opts.bucket[0] != '\0');
                ASSERT(!strchr(o.opts.bucket, '/'));
                ASSERT(o.opts.path_style == 0 || o.opts.path_style == 1);
                ASSERT(!o.opts.endpoint || strstr(o.opts.endpoint, "://"));
                ASSERT((o.opts.access_key == NULL) == (o.opts.secret_key == NULL));
            } else {
                ASSERT(err.kind == ERR_CONFIG);
            }
            rclone_store_s3_options_release(&o);
        }
    }
}

static void fuzz_lsjson(const uint8_t *data, size_t size)
{
    struct rclone_lsjson_entry *entries = NULL;
    struct error err = ERROR_INIT;
    size_t count = 0;

    if (rclone_lsjson_parse((const char *)data, size, &entries, &count, &err) == 0) {
        for (size_t i = 0; i < count; i++) {
            ASSERT(entries[i].path[0] != '\0');
            for (const char *p = entries[i].path; *p; p++)
                ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
        }
    } else {
        ASSERT(err.kind == ERR_REMOTE && entries == NULL && count == 0);
    }
    rclone_lsjson_free(entries, count);
}

static void fuzz_remote(const uint8_t *data, size_t size)
{
    char *text = xstrndup((const char *)data, size);
    struct error err = ERROR_INIT;
    char *name = NULL;
    char *path = NULL;

    if (rclone_remote_split(text, &name, &path, &err) == 0) {
        char *joined = xasprintf("%s:%s", name, path);
        ASSERT(strcmp(joined, text) == 0);
        ASSERT(name[0] != '\0' && name[0] != '-' && name[0] != ' ');
        xfree(joined);
    } else {
        ASSERT(err.kind == ERR_CONFIG && name == NULL && path == NULL);
    }
    xfree(name);
    xfree(path);
    xfree(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rclone_conf c;
    struct error err = ERROR_INIT;

    if (size > RCLONE_CONF_MAX_BYTES)
        return 0;
    if (rclone_conf_parse("fuzz", (const char *)data, size, &c, &err) == 0) {
        fuzz_check_conf(&c);
        fuzz_map_s3(&c);
        rclone_conf_release(&c);
    } else {
        ASSERT(err.kind == ERR_CONFIG);
        ASSERT(c.section_count == 0 && c.sections == NULL);
    }
    fuzz_lsjson(data, size);
    fuzz_remote(data, size);
    return 0;
}
