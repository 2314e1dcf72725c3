/* The age stage of a job's pipelines, from its configuration (core only): the encrypting filter of
 * a backup and the decrypting filter of a restore or a verify. */
#ifndef PERMAFROST_CORE_CRYPT_H
#define PERMAFROST_CORE_CRYPT_H

#include <stdbool.h>

#include "config/config.h"
#include "io/filter.h"
#include "util/error.h"
#include "util/secret.h"

/* True when the job's new artifacts are encrypted (recipients or a passphrase configured). */
bool crypt_job_encrypts(const struct cfg_job *job);

/* The encrypting filter for job's artifacts; *out is NULL (and 0 returned) when the job does not
 * encrypt. */
int crypt_encrypt_filter(const struct cfg_job *job, struct filter **out, struct error *err);

/* True when an identity (identity_override, the text of an identity file, or the job's identity)
 * or the job's encrypt_passphrase is available to decrypt with. */
bool crypt_can_decrypt(const struct cfg_job *job, const struct secret *identity_override);

/* The decrypting filter for an encrypted artifact of job: with identity_override when not NULL,
 * else the job's identity and encrypt_passphrase. ERR_CONFIG with a hint when neither is
 * configured or the identity text does not parse. */
int crypt_decrypt_filter(const struct cfg_job *job, const struct secret *identity_override,
                         struct filter **out, struct error *err);

#endif
