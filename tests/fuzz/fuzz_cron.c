/* libFuzzer target for util/cron.c: the input (cut at its first NUL) is parsed as a schedule, and
 * when it parses, the next and previous runs are computed from a few fixed instants in UTC and in a
 * zone with DST. Checked as well as memory safety: the next run is strictly after its start, the
 * previous run is at or before its instant, and the previous run at a next run is that run. Seeds:
 * tests/fuzz/corpus/cron/ (valid and invalid expressions). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/cron.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 2026-03-08T06:30Z (just before New York springs forward), 2026-11-01T05:30Z (the repeated
     * hour), 2028-02-29T00:00Z, and 0. */
    static const time_t starts[] = {1772951400, 1793511000, 1835395200, 0};
    static const char *const zones[] = {"UTC", "America/New_York"};
    char *s = xstrndup((const char *)data, size);
    struct cron_expr e;
    struct error err = ERROR_INIT;

    if (cron_parse(s, &e, &err) == 0) {
        for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
            for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
                time_t next = 0;
                time_t prev = 0;
                ASSERT(cron_next(&e, zones[z], starts[i], &next, &err) == 0);
                ASSERT(next > starts[i]);
                ASSERT(cron_prev(&e, zones[z], next, &prev, &err) == 0);
                ASSERT(prev == next);
                ASSERT(cron_prev(&e, zones[z], starts[i], &prev, &err) == 0);
                ASSERT(prev <= starts[i]);
            }
        }
    } else {
        ASSERT(err.kind == ERR_CONFIG);
        ASSERT(err.msg[0] != '\0');
        for (const char *p = err.msg; *p; p++)
            ASSERT((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    }
    xfree(s);
    return 0;
}
