#include "core/snapshot_id.h"

#include <errno.h>
#include <string.h>

#include <sys/random.h>
#include <unistd.h>

#include "util/error.h"
#include "util/time.h"

/* RFC 4648 base32 in lowercase: no characters that sort oddly or need escaping in S3 keys. */
static const char snapshot_id_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

#define SNAPSHOT_ID_TIME_LEN   16 /* "20261124T031500Z" */
#define SNAPSHOT_ID_SUFFIX_LEN 4

void snapshot_id_make(time_t t, uint32_t random_bits, char out[SNAPSHOT_ID_LEN])
{
    char stamp[TIME_ISO_LEN];

    time_format_compact(t, stamp);
    /* Only years 0000-9999 give the fixed width that makes string order equal time order. */
    ASSERT(strlen(stamp) == SNAPSHOT_ID_TIME_LEN);
    memcpy(out, stamp, SNAPSHOT_ID_TIME_LEN);
    out[SNAPSHOT_ID_TIME_LEN] = '-';
    for (int i = 0; i < SNAPSHOT_ID_SUFFIX_LEN; i++) {
        unsigned shift = (unsigned)(5 * (SNAPSHOT_ID_SUFFIX_LEN - 1 - i));
        out[SNAPSHOT_ID_TIME_LEN + 1 + i] = snapshot_id_alphabet[(random_bits >> shift) & 31u];
    }
    out[SNAPSHOT_ID_LEN - 1] = '\0';
}

uint32_t snapshot_id_random(void)
{
    uint32_t bits = 0;
    ssize_t n;

    do {
        n = getrandom(&bits, sizeof(bits), 0);
    } while (n < 0 && errno == EINTR);
    /* Only a kernel without getrandom fails here. The suffix only separates ids of different jobs'
     * snapshots (a job's own ids differ by their second, see backup.c), so a weaker source will do.
     */
    if (n != (ssize_t)sizeof(bits))
        bits = (uint32_t)time_now_ms() ^ ((uint32_t)getpid() << 10); /* LCOV_EXCL_LINE: see above */
    return bits;
}

void snapshot_id_new(char out[SNAPSHOT_ID_LEN])
{
    snapshot_id_make(time(NULL), snapshot_id_random(), out);
}

static bool snapshot_id_digits(const char *s, size_t len, int *out)
{
    int v = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool snapshot_id_parse(const char *s, time_t *t)
{
    int year, month, day, hour, minute, second;
    struct tm tm;
    struct tm check;
    time_t when;

    if (!s || strlen(s) != SNAPSHOT_ID_LEN - 1)
        return false;
    if (s[8] != 'T' || s[15] != 'Z' || s[16] != '-')
        return false;
    if (!snapshot_id_digits(s, 4, &year) || !snapshot_id_digits(s + 4, 2, &month) ||
        !snapshot_id_digits(s + 6, 2, &day) || !snapshot_id_digits(s + 9, 2, &hour) ||
        !snapshot_id_digits(s + 11, 2, &minute) || !snapshot_id_digits(s + 13, 2, &second))
        return false;
    /* Any lowercase letter or digit, not just the alphabet we generate from: the example id in
     * snapshot_id.h and DESIGN.md ("k3f9") has a 9, and an id typed by hand into a test or a doc
     * should not make a manifest look corrupt. Such ids are just as safe in a path and sort the
     * same way. */
    for (size_t i = SNAPSHOT_ID_TIME_LEN + 1; i < SNAPSHOT_ID_LEN - 1; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return false;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    when = timegm(&tm);
    /* timegm normalises 2026-02-30 to March 2; a real date comes back unchanged. This also refuses
     * leap seconds (:60), which no UTC clock reading of ours produces. */
    if (!gmtime_r(&when, &check))
        return false; /* LCOV_EXCL_LINE: years 0000-9999 always fit */
    if (check.tm_year != year - 1900 || check.tm_mon != month - 1 || check.tm_mday != day ||
        check.tm_hour != hour || check.tm_min != minute || check.tm_sec != second)
        return false;
    if (t)
        *t = when;
    return true;
}

int snapshot_id_cmp(const char *a, const char *b)
{
    int c = strcmp(a, b);

    return (c > 0) - (c < 0);
}
