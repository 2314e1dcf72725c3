/* The RDB file format of Redis 6-7.4 and Valkey 7.2-8.x (RDB versions 9-12): a streaming reader
 * that walks every entry (every value type and encoding, expiries, LRU/LFU hints, aux fields,
 * functions, module aux, slot info), counts keys per database, and checks the trailing CRC-64;
 * the conversion of one entry into a DUMP/RESTORE payload; a writer that builds an RDB file from
 * DUMP payloads (a logical snapshot placed as dump.rdb); and which server versions load which RDB
 * version. Input is outside data: every length is checked against caps and the bytes present. */
#ifndef PERMAFROST_SOURCES_RDB_H
#define PERMAFROST_SOURCES_RDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

#define RDB_VERSION_MIN 9
#define RDB_VERSION_MAX 12

/* One key as read from the file. Pointers are valid only during the callback. */
struct rdb_entry {
    int db;
    const unsigned char *key;
    size_t key_len;
    uint8_t type;               /* RDB value type (0 string, 4 hash, 18 quicklist2, ...) */
    const unsigned char *value; /* the value's serialization as in the file, after the type byte */
    size_t value_len;
    int64_t expire_ms; /* absolute unix ms; -1 when the key does not expire */
    int64_t idle_s;    /* LRU idle seconds (opcode IDLE); -1 when absent */
    int lfu_freq;      /* LFU counter (opcode FREQ); -1 when absent */
};

struct rdb_callbacks {
    /* Each key, in file order. May be NULL. A non-zero return stops the reader with that error. */
    int (*entry)(void *ctx, const struct rdb_entry *e, struct error *err);
    /* Each function library (opcode FUNCTION2): body is its code (decompressed if stored LZF).
     * May be NULL. */
    int (*function)(void *ctx, const unsigned char *body, size_t len, struct error *err);
};

struct rdb_db_count {
    int db;
    uint64_t keys;
    uint64_t expires; /* keys with an expiry */
};

struct rdb_summary {
    int version;              /* 9..12 */
    char redis_ver[32];       /* aux redis-ver ("" when absent) */
    int64_t ctime;            /* aux ctime, -1 when absent */
    int64_t used_mem;         /* aux used-mem, -1 when absent */
    struct rdb_db_count *dbs; /* databases with at least one key, ascending */
    size_t db_count;
    uint64_t keys;       /* total */
    uint64_t functions;  /* function libraries */
    uint64_t module_aux; /* module aux records seen */
    uint64_t stored_crc; /* the file's trailing CRC-64 (0: written with rdbchecksum no) */
    bool crc_checked;    /* false only when the stored CRC is 0 */
    uint64_t bytes;      /* file length including the CRC */
};

struct rdb_reader;

/* cb may be NULL (walk and count only). max_entry_bytes caps one key's serialized size (the
 * reader holds one entry in memory at a time); 0: 1 GiB. */
struct rdb_reader *rdb_reader_new(const struct rdb_callbacks *cb, void *ctx,
                                  size_t max_entry_bytes);
/* Feeds the next bytes of the file, in any chunk sizes. Errors are ERR_INTEGRITY naming the byte
 * offset and what was wrong (bad magic, unsupported version "RDB version 13 is newer than this
 * reader (9-12)", unknown type/opcode, a length past a cap, trailing bytes after the checksum). */
int rdb_reader_feed(struct rdb_reader *r, const void *data, size_t len, struct error *err);
/* The end of the input: fails (ERR_INTEGRITY) unless the EOF opcode and the 8-byte CRC-64 were
 * read and the CRC matches ("checksum mismatch: file says X, computed Y"), or the input was
 * truncated ("truncated at byte N, inside <what>"). */
int rdb_reader_finish(struct rdb_reader *r, struct error *err);
/* Valid after a successful finish (and, for the version, after the header). Borrowed. */
const struct rdb_summary *rdb_reader_summary(const struct rdb_reader *r);
void rdb_reader_free(struct rdb_reader *r);

/* Appends the DUMP payload of an entry, which RESTORE accepts: type byte, value, the RDB version
 * as 2 bytes little-endian, and the CRC-64 of all that, 8 bytes little-endian. */
void rdb_entry_payload(const struct rdb_entry *e, int rdb_version, struct buf *out);
/* Appends a FUNCTION RESTORE payload for function libraries (FUNCTION2 records + footer). */
void rdb_functions_payload(const unsigned char *const *bodies, const size_t *lens, size_t count,
                           int rdb_version, struct buf *out);
/* Checks a DUMP payload's footer (length, CRC) and reads its RDB version; ERR_INTEGRITY if bad. */
int rdb_payload_check(const unsigned char *payload, size_t len, int *rdb_version,
                      struct error *err);

/* Builds an RDB file from DUMP payloads: rdb_writer_begin writes the header (REDIS00vv, aux
 * redis-ver "permafrost", ctime); keys with rdb_writer_key (SELECTDB when db changes, EXPIRETIME_MS
 * when expire_ms >= 0, the payload's type and value); rdb_writer_end writes EOF and the CRC-64.
 * Output goes to the sink as it is produced. */
struct rdb_writer;
typedef int (*rdb_sink_fn)(void *ctx, const void *data, size_t len, struct error *err);
struct rdb_writer *rdb_writer_begin(int rdb_version, rdb_sink_fn sink, void *ctx,
                                    struct error *err);
int rdb_writer_key(struct rdb_writer *w, int db, const unsigned char *key, size_t key_len,
                   int64_t expire_ms, const unsigned char *payload, size_t payload_len,
                   struct error *err);
/* Writes the function libraries of a FUNCTION DUMP payload (checked: CRC, version, FUNCTION2
 * records only). */
int rdb_writer_functions(struct rdb_writer *w, const unsigned char *payload, size_t payload_len,
                         struct error *err);
int rdb_writer_end(struct rdb_writer *w, struct error *err);
void rdb_writer_free(struct rdb_writer *w);

/* Which RDB versions a server can load: target is "redis-X.Y", "valkey-X.Y" or a bare "X.Y"
 * (Redis). *max_version is the newest RDB version it reads (Redis 6.x: 9, 7.0: 10, 7.2: 11,
 * 7.4 and 8.x: 12; Valkey 7.2-8.x: 11, Valkey 9: 11 plus its own 80). ERR_USAGE on an unknown
 * engine or a malformed version. */
int rdb_target_max_version(const char *target, int *max_version, struct error *err);

#endif
