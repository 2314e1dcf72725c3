/* libFuzzer target for the notification URL parsers (src/notify/): the input (cut at its first
 * NUL) is parsed as a channel URL; when it parses, it is described and a message of every event is
 * rendered. Checked as well as memory safety: a failed parse leaves no channel and an ERR_CONFIG
 * message; a description fits its buffer; an e-mail has CRLF line ends only and a header block.
 * Seeds: tests/fuzz/corpus/notify_url/ (one URL of every form, good and bad). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "notify/notify.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_render_all(const struct notify_channel *ch)
{
    static const enum notify_event events[] = {NOTIFY_EVENT_START, NOTIFY_EVENT_SUCCESS,
                                               NOTIFY_EVENT_FAILURE, NOTIFY_EVENT_WARNING,
                                               NOTIFY_EVENT_TEST};
    static const struct notify_store_outcome stores[] = {{"local", true, "written"},
                                                         {"s3", false, "HTTP 403"}};

    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        struct notify_message m;
        struct notify_request r;

        memset(&m, 0, sizeof(m));
        m.event = events[i];
        m.job = "db";
        m.job_kind = "postgres";
        m.host = "host";
        m.duration_ms = 1000;
        m.stores = stores;
        m.store_count = 2;
        m.error = "error\nwith a second line";
        m.log_tail = "log\n";
        m.run_id = "11111111-2222-4333-8444-555555555555";
        m.message_id = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
        notify_request_init(&r);
        notify_render(ch, &m, &r);
        ASSERT(r.method != NULL && r.url != NULL);
        for (size_t h = 0; h < r.header_count; h++)
            ASSERT(!strchr(r.headers[h], '\r') && !strchr(r.headers[h], '\n'));
        if (strcmp(r.method, "SMTP") == 0) {
            ASSERT(strstr(r.body.data, "\r\n\r\n") != NULL);
            for (size_t k = 0; k < r.body.len; k++)
                if (r.body.data[k] == '\n')
                    ASSERT(k > 0 && r.body.data[k - 1] == '\r');
        }
        notify_request_release(&r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = xstrndup((const char *)data, size);
    struct notify_channel *ch = NULL;
    struct error err = ERROR_INIT;
    char desc[64];

    if (notify_channel_parse(url, &ch, &err) == 0) {
        ASSERT(ch != NULL);
        notify_channel_describe(ch, desc, sizeof(desc));
        ASSERT(strlen(desc) < sizeof(desc));
        ASSERT(notify_channel_default_events(ch) != 0);
        fuzz_render_all(ch);
        notify_channel_free(ch);
    } else {
        ASSERT(ch == NULL);
        ASSERT(err.kind == ERR_CONFIG && err.msg[0]);
    }
    xfree(url);
    return 0;
}
