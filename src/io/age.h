/* age v1 (age-encryption.org/v1, C2SP age.md) on libsodium: X25519 recipients and scrypt
 * passphrases, the header MAC, and the STREAM payload (ChaCha20-Poly1305 in 64 KiB chunks), as
 * stream filters for the pipeline (zstd -> age -> sha256 -> store). Output is the binary format
 * (no armor), which `age -d` reads. io/age.c is the only file that includes sodium.h; HKDF-SHA-256
 * (io/digest.h) and Bech32 (util/bech32.h) are ours because libsodium 1.0.18 lacks them.
 *
 * Errors: a file that is not age, a malformed header, a bad header MAC, a tampered, truncated or
 * over-long payload fail with ERR_INTEGRITY; no identity or passphrase that opens the file, and a
 * scrypt work factor above the cap, fail with ERR_CONFIG (the fix is the configuration). */
#ifndef PERMAFROST_IO_AGE_H
#define PERMAFROST_IO_AGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/filter.h"
#include "util/buf.h"
#include "util/error.h"

#define AGE_KEY_BYTES            32
#define AGE_FILE_KEY_BYTES       16
#define AGE_CHUNK_BYTES          65536
#define AGE_RECIPIENT_TEXT_MAX   96 /* "age1" + 58 Bech32 characters + NUL is 63 */
#define AGE_SCRYPT_LOG_N_DEFAULT 18 /* what `age -p` writes: about 1 s and 256 MiB */
#define AGE_SCRYPT_LOG_N_MAX     22 /* the cap when decrypting (age's own default cap) */
#define AGE_HEADER_MAX           ((size_t)1 << 20) /* larger headers are refused */
#define AGE_STANZA_ARGS_MAX      16

/* Initialises libsodium; idempotent, cheap after the first call. Every other function calls it. */
int age_init(struct error *err);

struct age_recipient {
    uint8_t pk[AGE_KEY_BYTES]; /* X25519 public key */
};

struct age_identity {
    uint8_t sk[AGE_KEY_BYTES]; /* X25519 secret key (wiped by age_identities_free) */
    uint8_t pk[AGE_KEY_BYTES]; /* its public key */
};

/* Parses one "age1..." recipient (lowercase Bech32, HRP "age", 32-byte key). The message quotes at
 * most the start of text. */
int age_recipient_parse(const char *text, struct age_recipient *out, struct error *err);
/* Writes "age1..." for r into out. */
void age_recipient_format(const struct age_recipient *r, char out[AGE_RECIPIENT_TEXT_MAX]);

/* Parses the text of an identity file as age-keygen writes it: one AGE-SECRET-KEY-1... per line,
 * lines starting with '#' and blank lines ignored, at least one key. Messages give the line number,
 * never a key. *out: age_identities_free. */
int age_identities_parse(const char *text, size_t len, struct age_identity **out, size_t *count,
                         struct error *err);
/* Wipes and frees. NULL-safe. */
void age_identities_free(struct age_identity *ids, size_t count);
/* The recipient of an identity. */
void age_identity_recipient(const struct age_identity *id, struct age_recipient *out);

/* A new random identity: appends to text the file contents in age-keygen's layout ("# created:
 * <RFC 3339 time>", "# public key: age1...", "AGE-SECRET-KEY-1..."), and writes the recipient. */
int age_keygen(struct buf *text, char recipient[AGE_RECIPIENT_TEXT_MAX], struct error *err);

struct age_encrypt_params {
    const struct age_recipient *recipients; /* one X25519 stanza each */
    size_t recipient_count;
    const char *passphrase; /* instead of recipients: one scrypt stanza (age allows no other) */
    size_t passphrase_len;
    int scrypt_log_n; /* 0: AGE_SCRYPT_LOG_N_DEFAULT */
};

/* An encrypting filter: bytes in are plaintext, bytes out a binary age file (header first). Either
 * recipients or a passphrase, not both, not neither (ERR_CONFIG). Everything needed is taken from
 * p during the call (the caller may wipe and free p's arrays right after). Free with filter_free.
 */
int age_encrypt_new(const struct age_encrypt_params *p, struct filter **out, struct error *err);

struct age_decrypt_params {
    const struct age_identity *identities;
    size_t identity_count;
    const char *passphrase; /* for a scrypt stanza; NULL when none */
    size_t passphrase_len;
    int max_scrypt_log_n; /* 0: AGE_SCRYPT_LOG_N_MAX */
};

/* A decrypting filter: bytes in are an age file, bytes out the plaintext, released one chunk at a
 * time once authenticated (the last chunk only at finish, when it is known to be last). finish
 * fails if the file ended before its final chunk. The identities and passphrase are copied from p
 * (into wiped memory) during the call. Free with filter_free. */
int age_decrypt_new(const struct age_decrypt_params *p, struct filter **out, struct error *err);

/* The header on its own (tests, the fuzz target, verify's report). */
struct age_stanza {
    char *type;
    char *args[AGE_STANZA_ARGS_MAX];
    size_t arg_count;
    uint8_t *body;
    size_t body_len;
};

struct age_header {
    struct age_stanza *stanzas;
    size_t stanza_count;
    size_t mac_input_len; /* bytes covered by the MAC: up to and including "---" */
    uint8_t mac[32];
    size_t len; /* the whole header, through the newline after the MAC */
};

/* Parses the header at the start of data[0..len). Returns 1 when a complete header was parsed (*h
 * filled, h->len bytes used), 0 when data is a valid start of a header that needs more bytes, -1
 * with ERR_INTEGRITY when it cannot be one (not age, bad line, non-canonical base64, over
 * AGE_HEADER_MAX). Checks the syntax only, not the MAC. *h: age_header_release. */
int age_header_parse(const uint8_t *data, size_t len, struct age_header *h, struct error *err);
void age_header_release(struct age_header *h);

/* "1.0.18" (static). */
const char *age_sodium_version(void);

#endif
