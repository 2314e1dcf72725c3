/* Matrix (https://spec.matrix.org/v1.9/client-server-api/): PUT
 * /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId} with an access token, body
 * {"msgtype":"m.notice","body":...}. The txnId is the message's id, so a retry of the same message
 * is deduplicated by the server. A room alias (#ops:example.org) is resolved first with GET
 * /_matrix/client/v3/directory/room/{alias}.
 * URL: matrix://TOKEN@host[:port]/ROOM (HTTP) and matrixs:// (HTTPS). The room is everything after
 * the first '/', percent-decoded: '#' starts an alias here, not a URL fragment. */
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"
#include "notify/notify_priv.h"
#include "util/json_writer.h"
#include "util/xalloc.h"

#define MATRIX_WHAT  "matrix URL"
#define MATRIX_FORMS "expected %s://TOKEN@HOST/ROOM, the room as !id:server or #alias:server"

static int matrix_parse(const struct notify_url_parts *u, struct notify_channel *ch,
                        struct error *err)
{
    static const char *const none[] = {NULL};
    const char *token;
    const char *room = u->path[0] == '/' ? u->path + 1 : u->path;

    if (notify_url_check_params(u, MATRIX_WHAT, none, err) < 0)
        return -1;
    if (!u->has_userinfo)
        return error_set(err, ERR_CONFIG, MATRIX_WHAT ": no access token; " MATRIX_FORMS,
                         u->scheme);
    if (u->user[0] && u->has_password)
        return error_set(err, ERR_CONFIG,
                         MATRIX_WHAT ": a user and password login is not supported: use an access "
                                     "token (%s://TOKEN@HOST/ROOM)",
                         u->scheme);
    token = u->user[0] ? u->user : u->password;
    if (!token[0])
        return error_set(err, ERR_CONFIG, MATRIX_WHAT ": the access token is empty");
    ch->room = notify_url_decode(room, strlen(room));
    if (!ch->room)
        return error_set(err, ERR_CONFIG, MATRIX_WHAT ": the room has a malformed %%-escape");
    if ((ch->room[0] != '!' && ch->room[0] != '#') || !strchr(ch->room, ':') ||
        strchr(ch->room, '/'))
        return error_set(err, ERR_CONFIG,
                         MATRIX_WHAT ": the room is not a room id or alias; " MATRIX_FORMS,
                         u->scheme);
    if (ch->room[0] == '!')
        ch->room_id = xstrdup(ch->room);
    secret_set(&ch->token, token, strlen(token));
    ch->endpoint = notify_url_base(u, strcmp(u->scheme, "matrixs") == 0);
    ch->host = notify_url_host_port(u);
    return 0;
}

static void matrix_auth(const struct notify_channel *ch, struct notify_request *req)
{
    char *auth = xasprintf("Bearer %s", ch->token.value);

    notify_request_add_header(req, "Authorization", auth);
    explicit_bzero(auth, strlen(auth));
    xfree(auth);
}

static void matrix_render(const struct notify_channel *ch, const struct notify_message *msg,
                          struct notify_request *req)
{
    struct buf url;
    struct buf text;
    struct json_writer w;

    buf_init(&url, BUF_NO_CAP);
    buf_init(&text, BUF_NO_CAP);
    (void)buf_addf(&url, "%s/_matrix/client/v3/rooms/", ch->endpoint);
    notify_url_escape(&url, ch->room_id ? ch->room_id : ch->room);
    (void)buf_adds(&url, "/send/m.room.message/");
    notify_url_escape(&url, msg->message_id ? msg->message_id : "permafrost");
    req->method = "PUT";
    req->url = buf_detach(&url, NULL);
    matrix_auth(ch, req);
    notify_request_add_header(req, "Content-Type", "application/json");
    notify_render_plain(msg, &text);
    json_writer_init(&w, &req->body);
    json_begin_object(&w);
    json_key_string(&w, "msgtype", "m.notice");
    json_key_string(&w, "body", text.data);
    json_end_object(&w);
    buf_release(&text);
}

/* The "room_id" string of a directory answer ({"room_id":"!x:y","servers":[...]}). A full JSON
 * parser is not needed for one string member whose value holds no escapes. */
static char *matrix_room_id_of(const struct buf *answer)
{
    const char *p = strstr(answer->data, "\"room_id\"");
    const char *end;

    if (!p)
        return NULL;
    p += strlen("\"room_id\"");
    p += strspn(p, " \t\r\n");
    if (*p != ':')
        return NULL;
    p++;
    p += strspn(p, " \t\r\n");
    if (*p != '"')
        return NULL;
    p++;
    end = strpbrk(p, "\"\\");
    if (!end || *end != '"' || p[0] != '!' || end - p > 255)
        return NULL;
    return xstrndup(p, (size_t)(end - p));
}

static int matrix_resolve(struct http_client *http, struct notify_channel *ch, long timeout_ms,
                          bool *is_retryable, struct error *err)
{
    struct notify_request req;
    struct buf url;
    struct buf answer;
    int rc = -1;

    notify_request_init(&req);
    buf_init(&url, BUF_NO_CAP);
    buf_init(&answer, 64u << 10);
    (void)buf_addf(&url, "%s/_matrix/client/v3/directory/room/", ch->endpoint);
    notify_url_escape(&url, ch->room);
    req.method = "GET";
    req.url = buf_detach(&url, NULL);
    matrix_auth(ch, &req);
    if (notify_perform(http, ch, &req, timeout_ms, is_retryable, &answer, err) < 0) {
        error_wrap(err, "resolve room alias '%s'", ch->room);
        goto out;
    }
    ch->room_id = matrix_room_id_of(&answer);
    if (!ch->room_id) {
        error_set(err, ERR_REMOTE, "resolve room alias '%s': the answer has no room_id", ch->room);
        goto out;
    }
    rc = 0;
out:
    buf_release(&answer);
    notify_request_release(&req);
    return rc;
}

static int matrix_send(struct http_client *http, struct notify_channel *ch,
                       const struct notify_message *msg, long timeout_ms, bool *is_retryable,
                       struct error *err)
{
    struct notify_request req;
    int rc;

    if (!ch->room_id && matrix_resolve(http, ch, timeout_ms, is_retryable, err) < 0)
        return -1;
    notify_request_init(&req);
    notify_render(ch, msg, &req);
    rc = notify_perform(http, ch, &req, timeout_ms, is_retryable, NULL, err);
    notify_request_release(&req);
    return rc;
}

static void matrix_describe(const struct notify_channel *ch, char *out, size_t cap)
{
    snprintf(out, cap, "matrix on %s in %s", ch->host, ch->room);
}

const struct notify_ops notify_matrix_ops = {
    .type = NOTIFY_MATRIX,
    .name = "matrix",
    .default_events = NOTIFY_EVENT_FAILURE | NOTIFY_EVENT_WARNING,
    .parse = matrix_parse,
    .render = matrix_render,
    .describe = matrix_describe,
    .send = matrix_send,
};
