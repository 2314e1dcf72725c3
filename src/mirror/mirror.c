/* Stub: being written (issue 4). */
#include "mirror/mirror.h"

#include <string.h>

const char *mirror_request_name(enum mirror_request r)
{
    static const char *const names[] = {"LIST", "HEAD", "GET", "PUT", "COPY", "DELETE"};

    return (unsigned)r < MIRROR_REQ_COUNT ? names[r] : "?";
}

int mirror_run(const struct mirror_options *opts, struct mirror_stats *stats, struct error *err)
{
    (void)opts;
    memset(stats, 0, sizeof(*stats));
    return error_set(err, ERR_FAILED, "mirror is not implemented yet");
}
