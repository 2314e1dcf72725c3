/* libFuzzer target for the pure text parsers of sources/redis.c: the INFO reply parser and the URL
 * parser, both fed the whole input. A URL that parses must parse again after redis_url_redacted
 * to the same scheme, host, port, user and database, and the redacted form never holds a password
 * longer than the "***" that replaces it. Seeds: tests/fuzz/corpus/redis_text/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sources/redis.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_url(const char *url)
{
    struct redis_url u;
    struct redis_url again;
    struct error err = ERROR_INIT;
    char *redacted;

    if (redis_url_parse(url, &u, &err) < 0) {
        ASSERT(err.kind == ERR_CONFIG);
        return;
    }
    ASSERT(u.host && u.host[0]);
    ASSERT(u.port >= 1 && u.port <= 65535);
    ASSERT(u.db >= 0);
    redacted = redis_url_redacted(url);
    ASSERT(redis_url_parse(redacted, &again, &err) == 0);
    ASSERT(again.tls == u.tls);
    ASSERT(strcmp(again.host, u.host) == 0);
    ASSERT(again.port == u.port);
    ASSERT(again.db == u.db);
    ASSERT((!again.user && !u.user) || (again.user && u.user && strcmp(again.user, u.user) == 0));
    if (secret_is_set(&u.password) || secret_is_set(&again.password))
        ASSERT(again.password.value && strcmp(again.password.value, "***") == 0);
    redis_url_release(&again);
    redis_url_release(&u);
    xfree(redacted);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct redis_info info;
    struct error err = ERROR_INIT;
    char *text = xstrndup((const char *)data, size);

    if (redis_info_parse((const char *)data, size, &info, &err) == 0) {
        ASSERT(info.server_name && info.version && info.redis_version);
        for (size_t i = 1; i < info.db_count; i++)
            ASSERT(info.dbs[i - 1].db < info.dbs[i].db);
        redis_info_release(&info);
    } else {
        ASSERT(err.kind == ERR_REMOTE);
    }
    fuzz_check_url(text);
    xfree(text);
    return 0;
}
