/* notify/: URL parsing of every channel form, good and bad, with the exact messages (none of which
 * may quote a secret: every secret in these URLs contains "s3cr3t"); the exact request each
 * channel builds for a fixed message; the Discord and Mastodon length cuts on UTF-8 boundaries;
 * and the redaction of a service's answer. */
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"
#include "notify/notify_priv.h"
#include "unit.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define SECRET_MARK "s3cr3t"

/* A good URL: its type, its description and the URL the message would go to. */
struct good_url {
    const char *url;
    const char *type;
    const char *description;
    const char *target; /* request URL for a success event of job db (hc: + "?rid=RUN") */
};

static const struct good_url good_urls[] = {
    {"slack://T00000000/B00000000/XXXXs3cr3tXXXX", "slack", "slack webhook",
     "https://hooks.slack.com/services/T00000000/B00000000/XXXXs3cr3tXXXX"},
    {"slack://T00000000/B00000000/XXXXs3cr3tXXXX/#ops", "slack", "slack webhook to #ops",
     "https://hooks.slack.com/services/T00000000/B00000000/XXXXs3cr3tXXXX"},
    {"slack://T00000000/B00000000/XXXXs3cr3tXXXX/ops", "slack", "slack webhook to #ops",
     "https://hooks.slack.com/services/T00000000/B00000000/XXXXs3cr3tXXXX"},
    {"slack://hook:T00000000-B00000000-XXXXs3cr3tXXXX@webhook", "slack", "slack webhook",
     "https://hooks.slack.com/services/T00000000/B00000000/XXXXs3cr3tXXXX"},
    {"slack+https://chat.example.org/hooks/s3cr3tpath", "slack",
     "slack-compatible webhook on chat.example.org", "https://chat.example.org/hooks/s3cr3tpath"},
    {"slack+http://127.0.0.1:8080/hooks/s3cr3t", "slack",
     "slack-compatible webhook on 127.0.0.1:8080", "http://127.0.0.1:8080/hooks/s3cr3t"},
    {"discord://123456789/s3cr3tTOKEN", "discord", "discord webhook",
     "https://discord.com/api/webhooks/123456789/s3cr3tTOKEN"},
    {"discord://s3cr3tTOKEN@123456789", "discord", "discord webhook",
     "https://discord.com/api/webhooks/123456789/s3cr3tTOKEN"},
    {"discord://123456789/s3cr3tTOKEN?thread_id=42", "discord", "discord webhook",
     "https://discord.com/api/webhooks/123456789/s3cr3tTOKEN?thread_id=42"},
    {"discord+http://127.0.0.1:9/api/webhooks/1/s3cr3t", "discord",
     "discord webhook on 127.0.0.1:9", "http://127.0.0.1:9/api/webhooks/1/s3cr3t"},
    {"matrixs://syt_s3cr3t@matrix.example.org/!abc:example.org", "matrix",
     "matrix on matrix.example.org in !abc:example.org",
     "https://matrix.example.org/_matrix/client/v3/rooms/%21abc%3Aexample.org/send/"
     "m.room.message/aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"},
    {"matrix://syt_s3cr3t@127.0.0.1:8008/#ops:example.org", "matrix",
     "matrix on 127.0.0.1:8008 in #ops:example.org",
     "http://127.0.0.1:8008/_matrix/client/v3/rooms/%23ops%3Aexample.org/send/m.room.message/"
     "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"},
    {"matrix://:syt_s3cr3t@h.example/%23ops%3Aexample.org", "matrix",
     "matrix on h.example in #ops:example.org",
     "http://h.example/_matrix/client/v3/rooms/%23ops%3Aexample.org/send/m.room.message/"
     "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"},
    {"ntfys://ntfy.sh/backups", "ntfy", "ntfy on ntfy.sh", "https://ntfy.sh/backups"},
    {"ntfy://:tk_s3cr3t@127.0.0.1:8080/backups?priority=high&tags=floppy_disk&title=Backups",
     "ntfy", "ntfy on 127.0.0.1:8080", "http://127.0.0.1:8080/backups"},
    {"ntfy://alice:s3cr3t@ntfy.example.org/t", "ntfy", "ntfy on ntfy.example.org",
     "http://ntfy.example.org/t"},
    {"ntfys://ntfy.sh/t?token=tk_s3cr3t", "ntfy", "ntfy on ntfy.sh", "https://ntfy.sh/t"},
    {"mastodons://s3cr3t@mastodon.social/@admin", "mastodon",
     "mastodon on mastodon.social as direct to @admin", "https://mastodon.social/api/v1/statuses"},
    {"mastodon://s3cr3t@127.0.0.1:3000?visibility=unlisted", "mastodon",
     "mastodon on 127.0.0.1:3000 as unlisted", "http://127.0.0.1:3000/api/v1/statuses"},
    {"toots://s3cr3t@m.example/@ops@example.org?visibility=private", "mastodon",
     "mastodon on m.example as private to @ops@example.org", "https://m.example/api/v1/statuses"},
    {"mastodons://s3cr3t@m.example/admin", "mastodon", "mastodon on m.example as direct to @admin",
     "https://m.example/api/v1/statuses"},
    {"smtp://u:s3cr3t@mail.example.org/?from=pf@example.org&to=a@example.org,b@example.org", "smtp",
     "smtp to 2 recipients via mail.example.org:587", "smtp://mail.example.org:587"},
    {"smtps://mail.example.org?from=pf@example.org&to=a@example.org", "smtp",
     "smtp to 1 recipient via mail.example.org:465 (TLS)", "smtps://mail.example.org:465"},
    {"smtp://127.0.0.1:2525/?from=pf@example.org&to=a@example.org&starttls=no", "smtp",
     "smtp to 1 recipient via 127.0.0.1:2525 (no TLS)", "smtp://127.0.0.1:2525"},
    {"hc://0e0a1b8e-s3cr3t", "healthchecks", "healthchecks on hc-ping.com",
     "https://hc-ping.com/0e0a1b8e-s3cr3t?rid=11111111-2222-4333-8444-555555555555"},
    {"hc://s3cr3tkey/db-backup", "healthchecks", "healthchecks on hc-ping.com",
     "https://hc-ping.com/s3cr3tkey/db-backup?rid=11111111-2222-4333-8444-555555555555"},
    {"hc+https://hc.example.org/ping/s3cr3t", "healthchecks", "healthchecks on hc.example.org",
     "https://hc.example.org/ping/s3cr3t?rid=11111111-2222-4333-8444-555555555555"},
    {"hc+http://127.0.0.1:8000/ping/s3cr3t/?create=1", "healthchecks",
     "healthchecks on 127.0.0.1:8000",
     "http://127.0.0.1:8000/ping/s3cr3t?create=1&rid=11111111-2222-4333-8444-555555555555"},
    {"https://hc-ping.com/s3cr3t", "healthchecks", "healthchecks on hc-ping.com",
     "https://hc-ping.com/s3cr3t?rid=11111111-2222-4333-8444-555555555555"},
    {"https://hooks.example.org/s3cr3t", "webhook", "webhook on hooks.example.org",
     "https://hooks.example.org/s3cr3t"},
    {"json://127.0.0.1:9000/hook?s3cr3t=1", "webhook", "webhook on 127.0.0.1:9000",
     "http://127.0.0.1:9000/hook?s3cr3t=1"},
    {"jsons://[::1]:9000/s3cr3t", "webhook", "webhook on [::1]:9000", "https://[::1]:9000/s3cr3t"},
    {"  HTTPS://hooks.example.org/s3cr3t\n", "webhook", "webhook on hooks.example.org",
     "https://hooks.example.org/s3cr3t"},
};

struct bad_url {
    const char *url;
    const char *error; /* the whole message */
};

#define SLACK_FORMS_TEXT                                                                           \
    "expected slack://TokenA/TokenB/TokenC[/#channel] or "                                         \
    "slack://hook:TokenA-TokenB-TokenC@webhook"

static const struct bad_url bad_urls[] = {
    {"", "notify URL: empty"},
    {"s3cr3t", "notify URL: no scheme (such as slack:// or https://)"},
    {"gotify://h/s3cr3t", "notify URL: unknown scheme 'gotify' (supported: slack, discord, matrix, "
                          "matrixs, ntfy, ntfys, "
                          "mastodon, mastodons, smtp, smtps, hc, http, https, json, jsons)"},
    {"s3cr3t/x://h/", "notify URL: the scheme is malformed"},
    {"https://h.example:99999/s3cr3t", "notify URL: the port is not a number from 1 to 65535"},
    {"https://h.example:0/s3cr3t", "notify URL: the port is not a number from 1 to 65535"},
    {"https://[::1/s3cr3t", "notify URL: the IPv6 address lacks its closing ']'"},
    {"https://h.example/s3cr3t x", "notify URL: contains a space or a control character "
                                   "(percent-encode it)"},
    {"https://us%zzer:s3cr3t@h.example/", "notify URL: the user information has a malformed "
                                          "%-escape"},
    {"https://s3cr3t@/x", "notify URL: no host"},
    {"https://h.example/x?a=%zz", "notify URL: query parameter 'a' has a malformed %-escape"},
    {"slack://T0/B0s3cr3t", "slack URL: the path has 1 part; " SLACK_FORMS_TEXT},
    {"slack://T0/B0/C0/#ops/extra", "slack URL: the path has 4 parts; " SLACK_FORMS_TEXT},
    {"slack://xoxb:s3cr3t@C0123", "slack URL: bot tokens are not supported; " SLACK_FORMS_TEXT},
    {"slack://hook:A-s3cr3t@webhook",
     "slack URL: the token after 'hook:' must be TokenA-TokenB-TokenC (the three parts of the "
     "webhook URL after /services/)"},
    {"slack://T0:8080/B0/s3cr3t", "slack URL: a port is not expected; " SLACK_FORMS_TEXT},
    {"slack://T0/B0/s3cr3t?channel=x",
     "slack URL: unknown query parameter 'channel' (known: none)"},
    {"slack+https://chat.example.org", "slack URL: slack+https:// needs the webhook's path, as in "
                                       "slack+https://chat.example.org/hooks/TOKEN"},
    {"discord://abc/s3cr3t", "discord URL: the webhook id must be a number; expected "
                             "discord://WEBHOOK_ID/WEBHOOK_TOKEN or discord://TOKEN@WEBHOOK_ID"},
    {"discord://123/s3cr3t/extra", "discord URL: expected discord://WEBHOOK_ID/WEBHOOK_TOKEN or "
                                   "discord://TOKEN@WEBHOOK_ID"},
    {"discord://123/s3cr3t?thread_id=x", "discord URL: thread_id must be a number"},
    {"discord://123/s3cr3t?foo=1", "discord URL: unknown query parameter 'foo' (known: thread_id)"},
    {"discord://123/s3cr3t?s3cr3t=1", "discord URL: unknown query parameter 's3cr3t' (known: "
                                      "thread_id)"},
    {"matrix://matrix.example.org/!abc:example.org",
     "matrix URL: no access token; expected matrix://TOKEN@HOST/ROOM, the room as !id:server or "
     "#alias:server"},
    {"matrix://bob:s3cr3t@h.example/!a:b",
     "matrix URL: a user and password login is not supported: use an access token "
     "(matrix://TOKEN@HOST/ROOM)"},
    {"matrixs://s3cr3t@h.example/ops",
     "matrix URL: the room is not a room id or alias; expected matrixs://TOKEN@HOST/ROOM, the room "
     "as !id:server or #alias:server"},
    {"matrixs://s3cr3t@h.example/%zz", "matrix URL: the room has a malformed %-escape"},
    {"ntfy://ntfy.sh/", "ntfy URL: expected one topic in the path, as in ntfy://ntfy.sh/TOPIC"},
    {"ntfys://ntfy.sh/a/b",
     "ntfy URL: expected one topic in the path, as in ntfys://ntfy.sh/TOPIC"},
    {"ntfy://ntfy.sh/t?priority=9",
     "ntfy URL: priority must be 1 to 5 or min, low, default, high, max, urgent"},
    {"ntfy://s3cr3t@ntfy.sh/t",
     "ntfy URL: credentials are user:pass@ or :TOKEN@ (an access token)"},
    {"ntfy://:s3cr3t@ntfy.sh/t?token=s3cr3t",
     "ntfy URL: give the credentials once: user:pass@, :TOKEN@ or ?token="},
    {"ntfy://ntfy.sh/bad.topic",
     "ntfy URL: the topic may hold only letters, digits, '-' and '_' (at most 64)"},
    {"mastodons://s3cr3t@mastodon.social",
     "mastodon URL: a direct message needs the account to mention, as in "
     "mastodons://TOKEN@HOST/@admin (or set visibility=private, unlisted or public)"},
    {"mastodons://s3cr3t@m.example/@admin?visibility=secret",
     "mastodon URL: visibility must be direct, private, unlisted or public"},
    {"mastodons://m.example/@admin",
     "mastodon URL: expected mastodons://ACCESS_TOKEN@HOST/@ACCOUNT"},
    {"mastodons://s3cr3t@m.example/@a/b",
     "mastodon URL: the path is the account to mention (/@admin), nothing more"},
    {"mastodons://s3cr3t@m.example/@a@b@c",
     "mastodon URL: the account to mention is malformed (expected /@user or /@user@server)"},
    {"smtp://u:s3cr3t@m.example/?to=a@example.org", "smtp URL: no from= address"},
    {"smtp://m.example/?from=pf@example.org", "smtp URL: no to= address"},
    {"smtp://m.example/?from=pf@example.org&to=a@example.org,s3cr3t",
     "smtp URL: to= recipient 2 is not an address"},
    {"smtp://m.example/?from=s3cr3t&to=a@example.org", "smtp URL: from= is not an address"},
    {"smtps://m.example/?from=a@b.example&to=c@d.example&starttls=no",
     "smtp URL: starttls applies to smtp:// (smtps:// is TLS throughout)"},
    {"smtp://m.example/?from=a@b.example&to=c@d.example&starttls=maybe",
     "smtp URL: starttls must be yes or no"},
    {"smtp://s3cr3t@m.example/?from=a@b.example&to=c@d.example",
     "smtp URL: credentials are user:pass@"},
    {"smtp://m.example/inbox?from=a@b.example&to=c@d.example",
     "smtp URL: expected smtp://[user:pass@]HOST[:PORT]/?from=ADDR&to=ADDR"},
    {"hc://s3cr3t/a/b", "healthchecks URL: expected hc://UUID or hc://PING_KEY/SLUG"},
    {"hc://s3cr3t@x", "healthchecks URL: expected hc://UUID or hc://PING_KEY/SLUG"},
    {"hc+https://hc.example.org",
     "healthchecks URL: the ping URL needs its path, as in https://hc-ping.com/UUID"},
};

/* The message of the rendering tests. */
static const struct notify_store_outcome one_store[] = {{"local", true, "written"}};

static void fixed_message(struct notify_message *m, enum notify_event event)
{
    memset(m, 0, sizeof(*m));
    m->event = event;
    m->job = "db";
    m->job_kind = "postgres";
    m->host = "h1";
    m->snapshot_id = "20261124T031500Z-k3f9";
    m->duration_ms = 1500;
    m->raw_bytes = 2048;
    m->stored_bytes = 1024;
    m->stores = one_store;
    m->store_count = 1;
    m->time = 1795490100; /* 2026-11-24T03:15:00Z */
    m->run_id = "11111111-2222-4333-8444-555555555555";
    m->message_id = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
}

#define PLAIN_OK                                                                                   \
    "permafrost: job 'db' ok on h1\njob: db (postgres)\nresult: ok\nhost: h1\nsnapshot: "          \
    "20261124T031500Z-k3f9\nduration: 1.5 s\nsize: 2.0 KiB, stored 1.0 KiB\nstore local: ok "      \
    "(written)\ntime: 2026-11-24T03:15:00Z"
#define PLAIN_OK_JSON                                                                              \
    "permafrost: job 'db' ok on h1\\njob: db (postgres)\\nresult: ok\\nhost: h1\\nsnapshot: "      \
    "20261124T031500Z-k3f9\\nduration: 1.5 s\\nsize: 2.0 KiB, stored 1.0 KiB\\nstore local: ok "   \
    "(written)\\ntime: 2026-11-24T03:15:00Z"

static struct notify_channel *parse_ok(const char *url)
{
    struct notify_channel *ch = NULL;

    CHECK_OK(notify_channel_parse(url, &ch, unit_err()));
    return ch;
}

/* The request as one string: "METHOD URL\nheader\n...\n\nbody". */
static char *render_text(const char *url, const struct notify_message *m)
{
    struct notify_channel *ch = parse_ok(url);
    struct notify_request r;
    struct buf out;

    notify_request_init(&r);
    notify_render(ch, m, &r);
    buf_init(&out, BUF_NO_CAP);
    CHECK(buf_addf(&out, "%s %s\n", r.method, r.url));
    for (size_t i = 0; i < r.header_count; i++)
        CHECK(buf_addf(&out, "%s\n", r.headers[i]));
    CHECK(buf_addf(&out, "\n%s", r.body.data));
    notify_request_release(&r);
    notify_channel_free(ch);
    return buf_detach(&out, NULL);
}

static void check_render(const char *url, enum notify_event event, const char *want)
{
    struct notify_message m;
    char *got;

    fixed_message(&m, event);
    got = render_text(url, &m);
    CHECK_STR_EQ(got, want);
    xfree(got);
}

static void test_notify_good_urls_parse_and_describe_without_secrets(void)
{
    for (size_t i = 0; i < sizeof(good_urls) / sizeof(good_urls[0]); i++) {
        const struct good_url *g = &good_urls[i];
        struct notify_channel *ch = NULL;
        struct notify_request r;
        struct notify_message m;
        char desc[200];
        struct error err = ERROR_INIT;

        if (notify_channel_parse(g->url, &ch, &err) < 0)
            unit_fail(__FILE__, __LINE__, "'%s': %s", g->url, err.msg);
        CHECK_STR_EQ(notify_channel_type(ch), g->type);
        notify_channel_describe(ch, desc, sizeof(desc));
        CHECK_STR_EQ(desc, g->description);
        CHECK(!strstr(desc, SECRET_MARK));
        fixed_message(&m, NOTIFY_EVENT_SUCCESS);
        notify_request_init(&r);
        notify_render(ch, &m, &r);
        CHECK_STR_EQ(r.url, g->target);
        notify_request_release(&r);
        notify_channel_free(ch);
    }
}

static void test_notify_bad_urls_say_which_part_without_secrets(void)
{
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        struct notify_channel *ch = NULL;
        struct error err = ERROR_INIT;

        if (notify_channel_parse(bad_urls[i].url, &ch, &err) == 0)
            unit_fail(__FILE__, __LINE__, "'%s' parsed", bad_urls[i].url);
        CHECK(ch == NULL);
        CHECK_INT_EQ(err.kind, ERR_CONFIG);
        CHECK_STR_EQ(err.msg, bad_urls[i].error);
        /* An unknown query parameter's name is quoted: only the value is secret there. */
        if (!strstr(bad_urls[i].url, "?s3cr3t="))
            CHECK(!strstr(err.msg, SECRET_MARK));
    }
}

static void test_notify_default_events_per_type(void)
{
    struct notify_channel *hc = parse_ok("hc://uuid");
    struct notify_channel *slack = parse_ok("slack://A/B/C");

    CHECK_INT_EQ(notify_channel_default_events(hc), NOTIFY_EVENT_START | NOTIFY_EVENT_SUCCESS |
                                                        NOTIFY_EVENT_FAILURE |
                                                        NOTIFY_EVENT_WARNING);
    CHECK_INT_EQ(notify_channel_default_events(slack), NOTIFY_EVENT_FAILURE | NOTIFY_EVENT_WARNING);
    notify_channel_free(hc);
    notify_channel_free(slack);
}

static void test_notify_text_of_a_failure_names_stores_error_and_hint(void)
{
    static const struct notify_store_outcome stores[] = {
        {"local", true, "written"},
        {"offsite", false, "s3 PUT returned 403 AccessDenied"},
        {"third", true, NULL},
    };
    struct notify_message m;
    struct buf title;
    struct buf body;

    fixed_message(&m, NOTIFY_EVENT_FAILURE);
    m.stores = stores;
    m.store_count = 3;
    m.error = "job 'db': 1 of 3 stores failed";
    m.hint = "check the offsite store's credentials";
    m.exit_code = 1;
    m.summary = "retention removed 2 snapshots";
    buf_init(&title, BUF_NO_CAP);
    buf_init(&body, BUF_NO_CAP);
    notify_render_text(&m, &title, &body);
    CHECK_STR_EQ(title.data, "permafrost: job 'db' FAILED on h1");
    CHECK_STR_EQ(body.data, "job: db (postgres)\n"
                            "result: failed (exit 1)\n"
                            "host: h1\n"
                            "snapshot: 20261124T031500Z-k3f9\n"
                            "duration: 1.5 s\n"
                            "size: 2.0 KiB, stored 1.0 KiB\n"
                            "store local: ok (written)\n"
                            "store offsite: FAILED: s3 PUT returned 403 AccessDenied\n"
                            "store third: ok\n"
                            "summary: retention removed 2 snapshots\n"
                            "error: job 'db': 1 of 3 stores failed\n"
                            "hint: check the offsite store's credentials\n"
                            "time: 2026-11-24T03:15:00Z\n");
    buf_release(&title);
    buf_release(&body);
}

static void test_notify_text_of_start_warning_and_test(void)
{
    struct notify_message m;
    struct buf title;
    struct buf body;

    buf_init(&title, BUF_NO_CAP);
    buf_init(&body, BUF_NO_CAP);
    memset(&m, 0, sizeof(m));
    m.event = NOTIFY_EVENT_START;
    m.job = "media";
    m.job_kind = "mirror";
    m.duration_ms = -1;
    m.time = 1795490100;
    notify_render_text(&m, &title, &body);
    CHECK_STR_EQ(title.data, "permafrost: job 'media' started");
    CHECK_STR_EQ(body.data, "job: media (mirror)\nresult: started\ntime: 2026-11-24T03:15:00Z\n");
    buf_reset(&title);
    buf_reset(&body);
    m.event = NOTIFY_EVENT_WARNING;
    m.duration_ms = 61000;
    m.summary = "ok: copied 12 objects, updated 0 (3.1 MiB), deleted 2, failed 0";
    m.warning = "1 object skipped";
    notify_render_text(&m, &title, &body);
    CHECK_STR_EQ(title.data, "permafrost: job 'media' ok with a warning");
    CHECK_STR_EQ(body.data,
                 "job: media (mirror)\nresult: ok, with a warning\nduration: 1 min 1 s\n"
                 "summary: ok: copied 12 objects, updated 0 (3.1 MiB), deleted 2, failed 0\n"
                 "warning: 1 object skipped\ntime: 2026-11-24T03:15:00Z\n");
    buf_reset(&title);
    buf_reset(&body);
    memset(&m, 0, sizeof(m));
    m.event = NOTIFY_EVENT_TEST;
    m.host = "h1";
    m.time = 1795490100;
    notify_render_text(&m, &title, &body);
    CHECK_STR_EQ(title.data, "permafrost: test notification from h1");
    CHECK_STR_EQ(body.data, "This is a test message from permafrost: this channel works.\n"
                            "host: h1\ntime: 2026-11-24T03:15:00Z\n");
    buf_release(&title);
    buf_release(&body);
}

static void test_notify_render_slack(void)
{
    check_render("slack://T0/B0/C0/#ops", NOTIFY_EVENT_SUCCESS,
                 "POST https://hooks.slack.com/services/T0/B0/C0\n"
                 "Content-Type: application/json\n\n"
                 "{\"text\":\"" PLAIN_OK_JSON "\",\"channel\":\"#ops\"}");
}

static void test_notify_render_discord(void)
{
    check_render("discord://123/tok", NOTIFY_EVENT_SUCCESS,
                 "POST https://discord.com/api/webhooks/123/tok\n"
                 "Content-Type: application/json\n\n"
                 "{\"content\":\"" PLAIN_OK_JSON "\"}");
}

static void test_notify_render_matrix(void)
{
    check_render("matrixs://syt_tok@matrix.example.org/!room:example.org", NOTIFY_EVENT_SUCCESS,
                 "PUT https://matrix.example.org/_matrix/client/v3/rooms/%21room%3Aexample.org/"
                 "send/m.room.message/aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\n"
                 "Authorization: Bearer syt_tok\n"
                 "Content-Type: application/json\n\n"
                 "{\"msgtype\":\"m.notice\",\"body\":\"" PLAIN_OK_JSON "\"}");
}

static void test_notify_render_ntfy_headers_by_event(void)
{
    check_render("ntfy://:tk_abc@127.0.0.1:8080/backups", NOTIFY_EVENT_FAILURE,
                 "POST http://127.0.0.1:8080/backups\n"
                 "Content-Type: text/plain; charset=utf-8\n"
                 "Title: permafrost: job 'db' FAILED on h1\n"
                 "Priority: 4\n"
                 "Tags: rotating_light\n"
                 "Authorization: Bearer tk_abc\n\n"
                 "job: db (postgres)\nresult: failed\nhost: h1\nsnapshot: "
                 "20261124T031500Z-k3f9\nduration: 1.5 s\nsize: 2.0 KiB, stored 1.0 KiB\nstore "
                 "local: ok (written)\ntime: 2026-11-24T03:15:00Z");
    check_render("ntfys://alice:s3cr3t@ntfy.example.org/t?tags=floppy_disk", NOTIFY_EVENT_START,
                 "POST https://ntfy.example.org/t\n"
                 "Content-Type: text/plain; charset=utf-8\n"
                 "Title: permafrost: job 'db' started on h1\n"
                 "Priority: 2\n"
                 "Tags: floppy_disk\n"
                 "Authorization: Basic YWxpY2U6czNjcjN0\n\n"
                 "job: db (postgres)\nresult: started\nhost: h1\nsnapshot: "
                 "20261124T031500Z-k3f9\nsize: 2.0 KiB, stored 1.0 KiB\nstore local: ok "
                 "(written)\ntime: 2026-11-24T03:15:00Z");
    check_render("ntfy://ntfy.sh/t?priority=urgent&title=Backups&token=tk_x", NOTIFY_EVENT_SUCCESS,
                 "POST http://ntfy.sh/t\n"
                 "Content-Type: text/plain; charset=utf-8\n"
                 "Title: Backups\n"
                 "Priority: 5\n"
                 "Tags: white_check_mark\n"
                 "Authorization: Bearer tk_x\n\n"
                 "job: db (postgres)\nresult: ok\nhost: h1\nsnapshot: "
                 "20261124T031500Z-k3f9\nduration: 1.5 s\nsize: 2.0 KiB, stored 1.0 KiB\nstore "
                 "local: ok (written)\ntime: 2026-11-24T03:15:00Z");
}

static void test_notify_render_mastodon(void)
{
    check_render("mastodons://tok@mastodon.social/@admin", NOTIFY_EVENT_SUCCESS,
                 "POST https://mastodon.social/api/v1/statuses\n"
                 "Authorization: Bearer tok\n"
                 "Content-Type: application/json\n"
                 "Idempotency-Key: aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\n\n"
                 "{\"status\":\"@admin " PLAIN_OK_JSON "\",\"visibility\":\"direct\"}");
    check_render("mastodon://tok@127.0.0.1:3000?visibility=public", NOTIFY_EVENT_SUCCESS,
                 "POST http://127.0.0.1:3000/api/v1/statuses\n"
                 "Authorization: Bearer tok\n"
                 "Content-Type: application/json\n"
                 "Idempotency-Key: aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\n\n"
                 "{\"status\":\"" PLAIN_OK_JSON "\",\"visibility\":\"public\"}");
}

static void test_notify_render_smtp_message(void)
{
    check_render("smtp://u:p@mail.example.org/?from=pf@example.org&to=a@example.org,b@example.org",
                 NOTIFY_EVENT_SUCCESS,
                 "SMTP smtp://mail.example.org:587\n\n"
                 "Date: Tue, 24 Nov 2026 03:15:00 +0000\r\n"
                 "From: pf@example.org\r\n"
                 "To: a@example.org, b@example.org\r\n"
                 "Subject: permafrost: job 'db' ok on h1\r\n"
                 "Message-ID: <aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee@h1>\r\n"
                 "MIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n"
                 "Auto-Submitted: auto-generated\r\n"
                 "\r\n"
                 "job: db (postgres)\r\nresult: ok\r\nhost: h1\r\nsnapshot: "
                 "20261124T031500Z-k3f9\r\nduration: 1.5 s\r\nsize: 2.0 KiB, stored 1.0 KiB\r\n"
                 "store local: ok (written)\r\ntime: 2026-11-24T03:15:00Z\r\n");
}

static void test_notify_smtp_subject_encoded_and_long_lines_folded(void)
{
    struct notify_channel *ch = parse_ok("smtps://m.example/?from=a@b.example&to=c@d.example");
    struct notify_message m;
    struct notify_request r;
    char *long_error = xmalloc(3001);
    const char *p;

    memset(long_error, 'x', 3000);
    long_error[3000] = '\0';
    fixed_message(&m, NOTIFY_EVENT_FAILURE);
    m.job = "db\xc3\xa9"; /* "dbé" */
    m.error = long_error;
    notify_request_init(&r);
    notify_render(ch, &m, &r);
    /* "permafrost: job 'dbé' FAILED on h1" in base64 */
    CHECK(strstr(r.body.data,
                 "\r\nSubject: =?UTF-8?B?cGVybWFmcm9zdDogam9iICdkYsOpJyBGQUlMRUQgb24gaDE=?=\r\n"));
    for (p = r.body.data; *p;) {
        size_t n = strcspn(p, "\r\n");
        CHECK(n <= 998);
        p += n;
        CHECK(*p == '\0' || strncmp(p, "\r\n", 2) == 0);
        if (*p)
            p += 2;
    }
    notify_request_release(&r);
    notify_channel_free(ch);
    xfree(long_error);
}

static void test_notify_smtp_no_bare_cr_or_header_injection(void)
{
    struct notify_channel *ch = parse_ok("smtps://m.example/?from=a@b.example&to=c@d.example");
    struct notify_message m;
    struct notify_request r;
    const char *body;

    fixed_message(&m, NOTIFY_EVENT_FAILURE);
    m.host = "h1\r\nBcc: evil@example.org";
    m.error = "server said\rX-Injected: 1\r\n.\r\nand more";
    notify_request_init(&r);
    notify_render(ch, &m, &r);
    /* Every CR is part of a CRLF, and no line starts a header of its own. */
    for (const char *p = r.body.data; *p; p++)
        if (*p == '\r')
            CHECK(p[1] == '\n');
        else if (*p == '\n')
            CHECK(p > r.body.data && p[-1] == '\r');
    body = strstr(r.body.data, "\r\n\r\n");
    CHECK(body != NULL);
    /* In the head, the host name stays inside the Subject line. */
    {
        char *head = xstrndup(r.body.data, (size_t)(body - r.body.data) + 2);
        CHECK(strstr(head, "\r\nBcc:") == NULL);
        CHECK(strstr(head, "\r\nSubject: permafrost: job 'db' FAILED on h1  Bcc: evil@") != NULL);
        xfree(head);
    }
    CHECK(strstr(body, "\r\nX-Injected") == NULL);
    /* The lone dot stays a line of its own: libcurl dot-stuffs it on the wire. */
    CHECK(strstr(body, "\r\n.\r\n") != NULL);
    notify_request_release(&r);
    notify_channel_free(ch);
}

static void test_notify_render_healthchecks_per_event(void)
{
    check_render("hc+http://127.0.0.1:8000/ping/uuid", NOTIFY_EVENT_START,
                 "POST http://127.0.0.1:8000/ping/uuid/start?rid=11111111-2222-4333-8444-"
                 "555555555555\n"
                 "Content-Type: text/plain; charset=utf-8\n\n"
                 "permafrost: job 'db' started on h1\njob: db (postgres)\nresult: started\n"
                 "host: h1\nsnapshot: 20261124T031500Z-k3f9\nsize: 2.0 KiB, stored 1.0 KiB\n"
                 "store local: ok (written)\ntime: 2026-11-24T03:15:00Z\n");
    check_render("hc://uuid", NOTIFY_EVENT_SUCCESS,
                 "POST https://hc-ping.com/uuid?rid=11111111-2222-4333-8444-555555555555\n"
                 "Content-Type: text/plain; charset=utf-8\n\n" PLAIN_OK "\n");
    check_render("hc://key/slug?create=1", NOTIFY_EVENT_TEST,
                 "POST https://hc-ping.com/key/slug/log?create=1\n"
                 "Content-Type: text/plain; charset=utf-8\n\n"
                 "permafrost: test notification from h1\n"
                 "This is a test message from permafrost: this channel works.\n"
                 "host: h1\ntime: 2026-11-24T03:15:00Z\n");
}

static void test_notify_healthchecks_failure_carries_the_log_tail(void)
{
    struct notify_channel *ch = parse_ok("hc://uuid");
    struct notify_message m;
    struct notify_request r;
    size_t n = 300u << 10;
    char *log = xmalloc(n + 1);

    for (size_t i = 0; i < n; i++)
        log[i] = (char)('a' + i % 26);
    memcpy(log + n - 8, "THE-END\n", 8);
    log[n] = '\0';
    fixed_message(&m, NOTIFY_EVENT_FAILURE);
    m.error = "pg_dump exited with status 1";
    m.log_tail = log;
    notify_request_init(&r);
    notify_render(ch, &m, &r);
    CHECK_STR_EQ(r.url, "https://hc-ping.com/uuid/fail?rid=11111111-2222-4333-8444-555555555555");
    CHECK(r.body.len <= NOTIFY_LOG_TAIL_MAX);
    CHECK(r.body.len > NOTIFY_LOG_TAIL_MAX - 100);
    CHECK(strncmp(r.body.data, "permafrost: job 'db' FAILED on h1\n", 34) == 0);
    CHECK(strstr(r.body.data, "error: pg_dump exited with status 1\n"));
    CHECK(strstr(r.body.data, "\nlog tail:\n"));
    CHECK(strcmp(r.body.data + r.body.len - 8, "THE-END\n") == 0);
    notify_request_release(&r);
    notify_channel_free(ch);
    xfree(log);
}

static void test_notify_render_webhook_json(void)
{
    check_render(
        "https://hooks.example.org/x", NOTIFY_EVENT_SUCCESS,
        "POST https://hooks.example.org/x\n"
        "Content-Type: application/json\n\n"
        "{\"event\":\"success\",\"job\":\"db\",\"kind\":\"postgres\",\"result\":\"ok\",\"host\":"
        "\"h1\",\"snapshot\":\"20261124T031500Z-k3f9\",\"duration_ms\":1500,\"raw_bytes\":2048,"
        "\"stored_bytes\":1024,\"stores\":[{\"store\":\"local\",\"ok\":true,\"detail\":"
        "\"written\"}],\"summary\":null,\"warning\":null,\"error\":null,\"hint\":null,"
        "\"exit_code\":0,\"time\":\"2026-11-24T03:15:00Z\",\"run_id\":\"11111111-2222-4333-8444-"
        "555555555555\",\"message_id\":\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\",\"title\":"
        "\"permafrost: job 'db' ok on h1\",\"text\":\"job: db (postgres)\\nresult: ok\\nhost: "
        "h1\\nsnapshot: 20261124T031500Z-k3f9\\nduration: 1.5 s\\nsize: 2.0 KiB, stored 1.0 "
        "KiB\\nstore local: ok (written)\\ntime: 2026-11-24T03:15:00Z\\n\"}");
}

/* Code points of the JSON string value of key in body (escapes count as one). */
static size_t json_value_chars(const char *body, const char *key, bool *ends_with_ellipsis)
{
    char pat[64];
    const char *p;
    size_t chars = 0;
    const char *last = NULL;

    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    p = strstr(body, pat);
    CHECK(p != NULL);
    for (p += strlen(pat); *p && *p != '"'; p++) {
        if (((unsigned char)*p & 0xc0) == 0x80)
            continue;
        last = p;
        if (*p == '\\')
            p++;
        chars++;
    }
    *ends_with_ellipsis = last && strncmp(last, "\xe2\x80\xa6\"", 4) == 0;
    return chars;
}

/* Valid UTF-8 throughout (no split character, no U+FFFD from the JSON writer). */
static void check_utf8(const char *s)
{
    CHECK(!strstr(s, "\xef\xbf\xbd"));
    while (*s) {
        unsigned char c = (unsigned char)*s;
        int n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : 3;
        CHECK(c < 0x80 || (c & 0xc0) == 0xc0);
        s++;
        for (int i = 0; i < n; i++, s++)
            CHECK(((unsigned char)*s & 0xc0) == 0x80);
    }
}

static void check_cut(const char *url, const char *key, size_t max_chars)
{
    struct notify_channel *ch = parse_ok(url);
    struct notify_message m;
    struct notify_request r;
    struct buf err_text;
    bool is_cut = false;

    buf_init(&err_text, BUF_NO_CAP);
    for (int i = 0; i < 3000; i++)
        CHECK(buf_adds(&err_text, i % 3 ? "\xc3\xa9" : "\xe2\x82\xac")); /* é and € */
    fixed_message(&m, NOTIFY_EVENT_FAILURE);
    m.error = err_text.data;
    notify_request_init(&r);
    notify_render(ch, &m, &r);
    check_utf8(r.body.data);
    CHECK_INT_EQ(json_value_chars(r.body.data, key, &is_cut), max_chars);
    CHECK(is_cut);
    notify_request_release(&r);
    /* A short message is not cut. */
    fixed_message(&m, NOTIFY_EVENT_FAILURE);
    notify_request_init(&r);
    notify_render(ch, &m, &r);
    CHECK(json_value_chars(r.body.data, key, &is_cut) < max_chars);
    CHECK(!is_cut);
    notify_request_release(&r);
    buf_release(&err_text);
    notify_channel_free(ch);
}

static void test_notify_discord_cut_at_2000_chars_on_a_character(void)
{
    check_cut("discord://1/t", "content", NOTIFY_DISCORD_CHARS);
}

static void test_notify_mastodon_cut_at_500_chars_on_a_character(void)
{
    check_cut("mastodons://t@m.example/@admin", "status", NOTIFY_MASTODON_CHARS);
}

static void test_notify_cut_chars_edges(void)
{
    struct buf b;

    buf_init(&b, BUF_NO_CAP);
    CHECK(buf_adds(&b, "abcd"));
    notify_cut_chars(&b, 4);
    CHECK_STR_EQ(b.data, "abcd");
    notify_cut_chars(&b, 3);
    CHECK_STR_EQ(b.data, "ab\xe2\x80\xa6");
    buf_reset(&b);
    CHECK(buf_adds(&b, "\xf0\x9f\x92\xbe\xf0\x9f\x92\xbe\xf0\x9f\x92\xbe")); /* 3 floppies */
    notify_cut_chars(&b, 2);
    CHECK_STR_EQ(b.data, "\xf0\x9f\x92\xbe\xe2\x80\xa6");
    buf_release(&b);
}

static void test_notify_answer_excerpt_is_printable_cut_and_redacted(void)
{
    struct notify_channel *ch = parse_ok("ntfy://:tk_s3cr3t_value@h.example/t");
    struct notify_channel *slack = parse_ok("slack://T0/B0/C0s3cr3tpath");
    struct buf body;
    char out[NOTIFY_EXCERPT_LEN + 8];

    buf_init(&body, BUF_NO_CAP);
    CHECK(buf_adds(&body, "{\"error\":  \"bad token tk_s3cr3t_value\"}\r\n\x01\x02"));
    notify_answer_excerpt(ch, &body, out, sizeof(out));
    CHECK_STR_EQ(out, "{\"error\": \"bad token ***\"}");
    buf_reset(&body);
    CHECK(buf_adds(&body, "no such hook C0s3cr3tpath"));
    notify_answer_excerpt(slack, &body, out, sizeof(out));
    CHECK_STR_EQ(out, "no such hook ***");
    buf_reset(&body);
    for (int i = 0; i < 500; i++)
        CHECK(buf_adds(&body, "y"));
    notify_answer_excerpt(ch, &body, out, sizeof(out));
    CHECK_INT_EQ(strlen(out), NOTIFY_EXCERPT_LEN + 3);
    CHECK(strcmp(out + NOTIFY_EXCERPT_LEN, "...") == 0);
    buf_release(&body);
    notify_channel_free(ch);
    notify_channel_free(slack);
}

static void test_notify_answer_excerpt_redacts_before_cutting(void)
{
    struct notify_channel *ch = parse_ok("ntfy://:tk_s3cr3t_value@h.example/t");
    struct notify_channel *hook =
        parse_ok("https://user:pw_s3cr3t_pass@h.example/in?key=k_s3cr3t_key");
    struct buf body;
    char out[NOTIFY_EXCERPT_LEN + 8];

    buf_init(&body, BUF_NO_CAP);
    /* The token straddles the cut: no part of it may remain. */
    for (int i = 0; i < NOTIFY_EXCERPT_LEN - 10; i++)
        CHECK(buf_adds(&body, "x"));
    CHECK(buf_adds(&body, " tk_s3cr3t_value and more text after it"));
    notify_answer_excerpt(ch, &body, out, sizeof(out));
    CHECK(strstr(out, "s3cr3t") == NULL);
    CHECK(strstr(out, "tk_s3") == NULL);
    CHECK(strlen(out) <= NOTIFY_EXCERPT_LEN + 3);
    /* A plain webhook's query value and password, echoed by the receiver. */
    buf_reset(&body);
    CHECK(buf_adds(&body, "bad key k_s3cr3t_key for user:pw_s3cr3t_pass"));
    notify_answer_excerpt(hook, &body, out, sizeof(out));
    CHECK(strstr(out, "s3cr3t") == NULL);
    CHECK_STR_EQ(out, "bad key *** for user:***");
    buf_release(&body);
    notify_channel_free(ch);
    notify_channel_free(hook);
}

static void test_notify_new_id_is_a_v4_uuid(void)
{
    char a[NOTIFY_ID_LEN];
    char b[NOTIFY_ID_LEN];

    notify_new_id(a);
    notify_new_id(b);
    CHECK_INT_EQ(strlen(a), 36);
    CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
    CHECK(a[14] == '4');
    CHECK(strchr("89ab", a[19]) != NULL);
    CHECK(strcmp(a, b) != 0);
}

static void test_notify_url_split_parts(void)
{
    struct notify_url_parts u;
    struct error err = ERROR_INIT;

    CHECK_OK(
        notify_url_split("NTFYS://us%40er:p%3Ass@[::1]:8443/a/b?x=1&y=%26&z", "t", &u, unit_err()));
    CHECK_STR_EQ(u.scheme, "ntfys");
    CHECK_STR_EQ(u.user, "us@er");
    CHECK_STR_EQ(u.password, "p:ss");
    CHECK_STR_EQ(u.host, "[::1]");
    CHECK_INT_EQ(u.port, 8443);
    CHECK_STR_EQ(u.path, "/a/b");
    CHECK_STR_EQ(notify_url_param(&u, "y"), "&");
    CHECK_STR_EQ(notify_url_param(&u, "z"), "");
    CHECK(notify_url_param(&u, "w") == NULL);
    notify_url_parts_release(&u);
    /* '#' is not a fragment here, and a '@' in the password is allowed when escaped or last. */
    CHECK_OK(notify_url_split("matrix://a:b@c@h/#room:x", "t", &u, unit_err()));
    CHECK_STR_EQ(u.password, "b@c");
    CHECK_STR_EQ(u.path, "/#room:x");
    notify_url_parts_release(&u);
    CHECK_ERR(notify_url_split("x://h:1:2/", "t", &u, &err), err, ERR_CONFIG,
              "t: the port is not a number from 1 to 65535");
}

static void test_notify_url_decode_refuses_bad_escapes(void)
{
    char *s = notify_url_decode("%41%2f+", 7);

    CHECK_STR_EQ(s, "A/+");
    xfree(s);
    CHECK(notify_url_decode("%00", 3) == NULL); /* a NUL would cut the value short */
    CHECK(notify_url_decode("%4", 2) == NULL);
    CHECK(notify_url_decode("%", 1) == NULL);
    CHECK(notify_url_decode("%g1", 3) == NULL);
}

const struct unit_test notify_tests[] = {
    {"good_urls_parse_and_describe_without_secrets",
     test_notify_good_urls_parse_and_describe_without_secrets},
    {"bad_urls_say_which_part_without_secrets",
     test_notify_bad_urls_say_which_part_without_secrets},
    {"default_events_per_type", test_notify_default_events_per_type},
    {"text_of_a_failure_names_stores_error_and_hint",
     test_notify_text_of_a_failure_names_stores_error_and_hint},
    {"text_of_start_warning_and_test", test_notify_text_of_start_warning_and_test},
    {"render_slack", test_notify_render_slack},
    {"render_discord", test_notify_render_discord},
    {"render_matrix", test_notify_render_matrix},
    {"render_ntfy_headers_by_event", test_notify_render_ntfy_headers_by_event},
    {"render_mastodon", test_notify_render_mastodon},
    {"render_smtp_message", test_notify_render_smtp_message},
    {"smtp_subject_encoded_and_long_lines_folded",
     test_notify_smtp_subject_encoded_and_long_lines_folded},
    {"smtp_no_bare_cr_or_header_injection", test_notify_smtp_no_bare_cr_or_header_injection},
    {"render_healthchecks_per_event", test_notify_render_healthchecks_per_event},
    {"healthchecks_failure_carries_the_log_tail",
     test_notify_healthchecks_failure_carries_the_log_tail},
    {"render_webhook_json", test_notify_render_webhook_json},
    {"discord_cut_at_2000_chars_on_a_character",
     test_notify_discord_cut_at_2000_chars_on_a_character},
    {"mastodon_cut_at_500_chars_on_a_character",
     test_notify_mastodon_cut_at_500_chars_on_a_character},
    {"cut_chars_edges", test_notify_cut_chars_edges},
    {"answer_excerpt_is_printable_cut_and_redacted",
     test_notify_answer_excerpt_is_printable_cut_and_redacted},
    {"answer_excerpt_redacts_before_cutting", test_notify_answer_excerpt_redacts_before_cutting},
    {"new_id_is_a_v4_uuid", test_notify_new_id_is_a_v4_uuid},
    {"url_split_parts", test_notify_url_split_parts},
    {"url_decode_refuses_bad_escapes", test_notify_url_decode_refuses_bad_escapes},
    {NULL, NULL},
};
