/* Message digests (SHA-256, HMAC-SHA-256, MD5) over OpenSSL's libcrypto: the only file that
 * includes OpenSSL headers. Used by the sha256 pipeline filter, SigV4 signing (stores/s3_sign.c)
 * and Content-MD5. None of these can fail except when libcrypto itself is broken, which aborts. */
#ifndef PERMAFROST_IO_DIGEST_H
#define PERMAFROST_IO_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_SHA256_LEN 32
#define DIGEST_MD5_LEN    16

struct digest_sha256;

/* A streaming SHA-256. Free with digest_sha256_free (NULL-safe). */
struct digest_sha256 *digest_sha256_new(void);
void digest_sha256_update(struct digest_sha256 *d, const void *data, size_t len);
/* Ends the digest; further updates are a bug. */
void digest_sha256_final(struct digest_sha256 *d, unsigned char out[DIGEST_SHA256_LEN]);
void digest_sha256_free(struct digest_sha256 *d);

/* A streaming MD5 (Content-MD5 and S3 ETags of what the mirror reads from files). Free with
 * digest_md5_free (NULL-safe). */
struct digest_md5;
struct digest_md5 *digest_md5_new(void);
void digest_md5_update(struct digest_md5 *d, const void *data, size_t len);
void digest_md5_final(struct digest_md5 *d, unsigned char out[DIGEST_MD5_LEN]);
void digest_md5_free(struct digest_md5 *d);

/* One-shot digests. */
void digest_sha256(const void *data, size_t len, unsigned char out[DIGEST_SHA256_LEN]);
void digest_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        unsigned char out[DIGEST_SHA256_LEN]);
void digest_md5(const void *data, size_t len, unsigned char out[DIGEST_MD5_LEN]);
/* HKDF-SHA-256 (RFC 5869), extract then expand, as age derives its keys: salt may be NULL with
 * salt_len 0 (a string of zeros, per the RFC); out_len at most 255 * 32. Built on the HMAC above.
 */
void digest_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len,
                        const void *info, size_t info_len, unsigned char *out, size_t out_len);

/* Lowercase hex of len bytes into out (2 * len + 1 bytes, NUL-terminated). */
void digest_hex(const unsigned char *bytes, size_t len, char *out);
/* Standard base64 (with padding) of len bytes into out (4 * ((len + 2) / 3) + 1 bytes). */
void digest_base64(const unsigned char *bytes, size_t len, char *out);

/* OpenSSL's version string, for `permafrost version`. */
const char *digest_version(void);

#endif
