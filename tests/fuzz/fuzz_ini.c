/* libFuzzer target for config/ini.c and the config layer on top of it. Each input is parsed as
 * events, as a document and as a whole config. Two properties are checked as well as memory safety:
 * - what ini_write_* writes for a parsed document parses back to the same document;
 * - `config show` output parses back to a config that shows the same.
 * Secrets named by the input (env:NAME, file:PATH) are resolved for real; unset ones are ordinary
 * errors. Seeds: tests/fuzz/corpus/ini/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"
#include "config/ini.h"
#include "util/buf.h"
#include "util/error.h"

/* A written line may be twice its source (escaped backslashes and quotes), so the round trips are
 * only checked where that cannot cross INI_MAX_LINE_LEN. */
#define FUZZ_ROUND_TRIP_MAX (INI_MAX_LINE_LEN / 2 - 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_count_event(const struct ini_event *ev, void *ctx, struct error *err)
{
    size_t *bytes = ctx;

    (void)err;
    *bytes += strlen(ev->section) + (ev->subsection ? strlen(ev->subsection) : 0);
    if (ev->key)
        *bytes += strlen(ev->key) + strlen(ev->value);
    return 0;
}

static void fuzz_write_doc(const struct ini_doc *doc, struct buf *out)
{
    for (size_t i = 0; i < doc->section_count; i++) {
        const struct ini_section *sec = &doc->sections[i];
        ini_write_section(out, sec->name, sec->subsection);
        for (size_t j = 0; j < sec->entry_count; j++) {
            const struct ini_entry *e = &doc->entries[sec->first_entry + j];
            ini_write_entry(out, e->key, e->value);
        }
    }
}

static bool fuzz_str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void fuzz_check_doc_round_trip(const struct ini_doc *doc)
{
    struct ini_doc again = INI_DOC_INIT;
    struct error err = ERROR_INIT;
    struct buf text;

    buf_init(&text, BUF_NO_CAP);
    fuzz_write_doc(doc, &text);
    ASSERT(ini_parse("written", text.data, text.len, &again, &err) == 0);
    ASSERT(again.section_count == doc->section_count);
    ASSERT(again.entry_count == doc->entry_count);
    for (size_t i = 0; i < doc->section_count; i++) {
        ASSERT(strcmp(again.sections[i].name, doc->sections[i].name) == 0);
        ASSERT(fuzz_str_eq(again.sections[i].subsection, doc->sections[i].subsection));
        ASSERT(again.sections[i].entry_count == doc->sections[i].entry_count);
    }
    for (size_t i = 0; i < doc->entry_count; i++) {
        ASSERT(strcmp(again.entries[i].key, doc->entries[i].key) == 0);
        ASSERT(strcmp(again.entries[i].value, doc->entries[i].value) == 0);
    }
    ini_doc_release(&again);
    buf_release(&text);
}

static void fuzz_check_show_round_trip(const struct config *cfg)
{
    struct config again;
    struct error err = ERROR_INIT;
    struct buf first;
    struct buf second;

    buf_init(&first, BUF_NO_CAP);
    buf_init(&second, BUF_NO_CAP);
    config_show(cfg, &first);
    ASSERT(config_parse(cfg->path, first.data, first.len, &again, &err) == 0);
    config_show(&again, &second);
    ASSERT(second.len == first.len && memcmp(second.data, first.data, first.len) == 0);
    config_release(&again);
    buf_release(&second);
    buf_release(&first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct error err = ERROR_INIT;
    struct ini_doc doc = INI_DOC_INIT;
    struct config cfg;
    size_t bytes = 0;

    (void)ini_parse_events("fuzz.conf", text, size, fuzz_count_event, &bytes, &err);
    if (ini_parse("fuzz.conf", text, size, &doc, &err) == 0) {
        if (size <= FUZZ_ROUND_TRIP_MAX)
            fuzz_check_doc_round_trip(&doc);
        ini_doc_release(&doc);
    }
    if (config_parse("fuzz.conf", text, size, &cfg, &err) == 0) {
        if (size <= FUZZ_ROUND_TRIP_MAX)
            fuzz_check_show_round_trip(&cfg);
        config_release(&cfg);
    }
    return 0;
}
