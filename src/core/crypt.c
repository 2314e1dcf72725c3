/* The age stage of a job's pipelines (see crypt.h). Keys and passphrases stay in struct secret
 * and libsodium's wiped buffers; nothing here formats one into a message. */
#include "core/crypt.h"

#include <string.h>

#include "io/age.h"
#include "util/xalloc.h"

bool crypt_job_encrypts(const struct cfg_job *job)
{
    return job->crypt.recipient_count > 0 || secret_is_set(&job->crypt.passphrase);
}

int crypt_encrypt_filter(const struct cfg_job *job, struct filter **out, struct error *err)
{
    const struct cfg_crypt *c = &job->crypt;
    struct age_encrypt_params p;
    struct age_recipient *recipients = NULL;
    int rc = -1;

    *out = NULL;
    if (!crypt_job_encrypts(job))
        return 0;
    memset(&p, 0, sizeof(p));
    if (c->recipient_count) {
        recipients = xcalloc(c->recipient_count, sizeof(*recipients));
        for (size_t i = 0; i < c->recipient_count; i++) {
            if (age_recipient_parse(c->recipients[i], &recipients[i], err) < 0) {
                error_wrap(err, "job '%s': encrypt", job->name);
                goto out;
            }
        }
        p.recipients = recipients;
        p.recipient_count = c->recipient_count;
    } else {
        p.passphrase = c->passphrase.value;
        p.passphrase_len = c->passphrase.len;
    }
    if (age_encrypt_new(&p, out, err) < 0) {
        error_wrap(err, "job '%s': age encryption", job->name);
        goto out;
    }
    rc = 0;
out:
    xfree(recipients);
    return rc;
}

bool crypt_can_decrypt(const struct cfg_job *job, const struct secret *identity_override)
{
    if (identity_override && secret_is_set(identity_override))
        return true;
    return secret_is_set(&job->crypt.identity) || secret_is_set(&job->crypt.passphrase);
}

int crypt_decrypt_filter(const struct cfg_job *job, const struct secret *identity_override,
                         struct filter **out, struct error *err)
{
    const struct secret *identity = NULL;
    struct age_decrypt_params p;
    struct age_identity *ids = NULL;
    size_t id_count = 0;
    int rc = -1;

    ASSERT(job != NULL);
    *out = NULL;
    memset(&p, 0, sizeof(p));
    if (identity_override && secret_is_set(identity_override))
        identity = identity_override;
    else if (secret_is_set(&job->crypt.identity))
        identity = &job->crypt.identity;
    if (!identity && !secret_is_set(&job->crypt.passphrase)) {
        error_set(err, ERR_CONFIG, "job '%s': the snapshot is encrypted and no identity is set",
                  job->name);
        error_hint(err, "pass --identity FILE (an age identity file), or set identity = file:... "
                        "in the job or in [global]");
        return -1;
    }
    if (identity) {
        if (age_identities_parse(identity->value, identity->len, &ids, &id_count, err) < 0) {
            error_wrap(err, "job '%s': identity", job->name);
            goto out;
        }
        p.identities = ids;
        p.identity_count = id_count;
    }
    /* The passphrase opens a scrypt stanza; identities open X25519 ones. Both may be offered. */
    if (secret_is_set(&job->crypt.passphrase)) {
        p.passphrase = job->crypt.passphrase.value;
        p.passphrase_len = job->crypt.passphrase.len;
    }
    if (age_decrypt_new(&p, out, err) < 0) {
        error_wrap(err, "job '%s': age decryption", job->name);
        goto out;
    }
    rc = 0;
out:
    age_identities_free(ids, id_count);
    return rc;
}
