/* Wall-clock helpers. Timestamps in manifests and the catalog are UTC, RFC 3339 with a Z suffix. */
#ifndef PERMAFROST_UTIL_TIME_H
#define PERMAFROST_UTIL_TIME_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define TIME_ISO_LEN 32

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t time_now_ms(void);
/* Milliseconds from a monotonic clock, for durations. */
int64_t time_mono_ms(void);
/* "2026-11-24T03:15:00Z" */
void time_format_iso(time_t t, char out[TIME_ISO_LEN]);
/* "20261124T031500Z" (the snapshot-id form) */
void time_format_compact(time_t t, char out[TIME_ISO_LEN]);
/* Parses either form above (UTC only). False on anything else. */
bool time_parse_utc(const char *s, time_t *out);
/* "1.2 s", "3 min 4 s", "2 h 5 min" */
void time_format_duration(int64_t ms, char out[TIME_ISO_LEN]);

#endif
