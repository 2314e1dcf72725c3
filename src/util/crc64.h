/* CRC-64 as Redis computes it over RDB files and DUMP payloads (the reveng catalogue's
 * CRC-64/REDIS: "Jones" polynomial 0xad93d23594c935a9, reflected in and out, init 0, xorout 0;
 * check value for "123456789" is 0xe9c6d914c4b8d9ca). Incremental, slice-by-8 tables built once. */
#ifndef PERMAFROST_UTIL_CRC64_H
#define PERMAFROST_UTIL_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc (0 to start) over data[0..len). */
uint64_t crc64_update(uint64_t crc, const void *data, size_t len);

#endif
