/* Snapshot ids sort by time as plain strings: "20261124T031500Z-k3f9" (UTC, compact ISO 8601, a
 * dash, 4 characters of a lowercase base32 alphabet from a random source). */
#ifndef PERMAFROST_CORE_SNAPSHOT_ID_H
#define PERMAFROST_CORE_SNAPSHOT_ID_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define SNAPSHOT_ID_LEN 22 /* 16 + 1 + 4, plus NUL */

/* Makes an id for time t with the given random bits (tests pass fixed ones). */
void snapshot_id_make(time_t t, uint32_t random_bits, char out[SNAPSHOT_ID_LEN]);
/* Makes an id for now with random bits from getrandom(2). */
void snapshot_id_new(char out[SNAPSHOT_ID_LEN]);
/* 20 random bits from getrandom(2), for snapshot_id_make. */
uint32_t snapshot_id_random(void);
/* True when s has exactly the form above (and a valid date); fills *t when t is not NULL. */
bool snapshot_id_parse(const char *s, time_t *t);
/* strcmp order, which is time order (ties broken by the random suffix). */
int snapshot_id_cmp(const char *a, const char *b);

#endif
