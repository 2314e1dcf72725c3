/* age v1 on libsodium. PLACEHOLDER while the implementation is written on its own branch: every
 * entry point fails, so nothing can be encrypted by accident with a half-built format. */
#include "io/age.h"

#include <string.h>

#include <sodium.h>

static int age_unbuilt(struct error *err)
{
    return error_set(err, ERR_FAILED, "age: not implemented yet");
}

int age_init(struct error *err)
{
    if (sodium_init() < 0)
        return error_set(err, ERR_FAILED, "libsodium failed to initialise");
    return 0;
}

int age_recipient_parse(const char *text, struct age_recipient *out, struct error *err)
{
    (void)text;
    memset(out, 0, sizeof(*out));
    return age_unbuilt(err);
}

void age_recipient_format(const struct age_recipient *r, char out[AGE_RECIPIENT_TEXT_MAX])
{
    (void)r;
    out[0] = '\0';
}

int age_identities_parse(const char *text, size_t len, struct age_identity **out, size_t *count,
                         struct error *err)
{
    (void)text;
    (void)len;
    *out = NULL;
    *count = 0;
    return age_unbuilt(err);
}

void age_identities_free(struct age_identity *ids, size_t count)
{
    (void)ids;
    (void)count;
}

void age_identity_recipient(const struct age_identity *id, struct age_recipient *out)
{
    memcpy(out->pk, id->pk, sizeof(out->pk));
}

int age_keygen(struct buf *text, char recipient[AGE_RECIPIENT_TEXT_MAX], struct error *err)
{
    (void)text;
    recipient[0] = '\0';
    return age_unbuilt(err);
}

int age_encrypt_new(const struct age_encrypt_params *p, struct filter **out, struct error *err)
{
    (void)p;
    *out = NULL;
    return age_unbuilt(err);
}

int age_decrypt_new(const struct age_decrypt_params *p, struct filter **out, struct error *err)
{
    (void)p;
    *out = NULL;
    return age_unbuilt(err);
}

int age_header_parse(const uint8_t *data, size_t len, struct age_header *h, struct error *err)
{
    (void)data;
    (void)len;
    memset(h, 0, sizeof(*h));
    return age_unbuilt(err);
}

void age_header_release(struct age_header *h)
{
    (void)h;
}

const char *age_sodium_version(void)
{
    return sodium_version_string();
}
