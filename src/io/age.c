/* age v1 on libsodium 1.0.18 (C2SP age.md). Layout of this file: base64 and small helpers, keys
 * (Bech32 recipients and identities, keygen), the header (parse, write), the encrypting filter, the
 * decrypting filter.
 *
 * Error messages name what failed and never include key material, passphrases or file keys. Header
 * problems start with "age: header", so a reader (and the test kit runner) can tell them from
 * payload problems. */
#include "io/age.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "io/digest.h"
#include "util/bech32.h"
#include "util/xalloc.h"

#define AGE_VERSION_LINE       "age-encryption.org/v1"
#define AGE_X25519_INFO        "age-encryption.org/v1/X25519"
#define AGE_SCRYPT_LABEL       "age-encryption.org/v1/scrypt"
#define AGE_TAG_BYTES          16
#define AGE_NONCE_BYTES        16
#define AGE_SCRYPT_SALT        16
#define AGE_WRAPPED_BYTES      (AGE_FILE_KEY_BYTES + AGE_TAG_BYTES)
#define AGE_CT_CHUNK_BYTES     (AGE_CHUNK_BYTES + AGE_TAG_BYTES)
#define AGE_BODY_COLUMNS       64
#define AGE_MAC_B64_LEN        43
#define AGE_IDENTITY_HRP       "age-secret-key-"
#define AGE_RECIPIENT_HRP      "age"
#define AGE_QUOTE_MAX          12
#define AGE_SCRYPT_LOG_N_LIMIT 63 /* larger values are malformed, not merely expensive */

int age_init(struct error *err)
{
    if (sodium_init() < 0)
        return error_set(err, ERR_FAILED, "libsodium failed to initialise");
    return 0;
}

const char *age_sodium_version(void)
{
    return sodium_version_string();
}

/* ---- base64 (unpadded, canonical) ---- */

static bool age_is_b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Appends the unpadded standard base64 of bytes to out. */
static void age_b64_append(const uint8_t *bytes, size_t len, struct buf *out)
{
    size_t enc_len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    char *tmp = xmalloc(enc_len);

    sodium_bin2base64(tmp, enc_len, bytes, len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    ASSERT(buf_adds(out, tmp));
    xfree(tmp);
}

/* Decodes s[0..len) into out[0..cap) only if it is canonical unpadded base64: alphabet characters
 * only, no impossible length, and it re-encodes to exactly the same text (so unused trailing bits
 * are zero). Returns false otherwise. */
static bool age_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t bin_len = 0;
    const char *end = NULL;
    struct buf again;
    bool ok;

    if (len % 4 == 1)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!age_is_b64_char(s[i]))
            return false;
    if (len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
        return false;
    if (len == 0) {
        *out_len = 0;
        return true;
    }
    if (sodium_base642bin(out, cap, s, len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
        end != s + len)
        return false;
    buf_init(&again, BUF_NO_CAP);
    age_b64_append(out, bin_len, &again);
    ok = again.len == len && memcmp(again.data, s, len) == 0;
    buf_release(&again);
    if (ok)
        *out_len = bin_len;
    return ok;
}

/* Appends a stanza body: base64 in 64-column lines, the last one shorter (empty when the encoding
 * fills its last line exactly). */
static void age_body_append(const uint8_t *body, size_t len, struct buf *out)
{
    struct buf enc;
    size_t pos = 0;

    buf_init(&enc, BUF_NO_CAP);
    age_b64_append(body, len, &enc);
    for (;;) {
        size_t n = enc.len - pos < AGE_BODY_COLUMNS ? enc.len - pos : AGE_BODY_COLUMNS;
        ASSERT(buf_add(out, enc.data + pos, n));
        ASSERT(buf_add(out, "\n", 1));
        pos += n;
        if (n < AGE_BODY_COLUMNS)
            break;
    }
    buf_release(&enc);
}

/* The 12-byte ChaCha20-Poly1305 nonce of payload chunk `counter`: an 11-byte big-endian counter
 * and the last-chunk flag. */
static void age_chunk_nonce(uint64_t counter, bool last, uint8_t nonce[12])
{
    memset(nonce, 0, 12);
    for (int i = 0; i < 8; i++)
        nonce[10 - i] = (uint8_t)(counter >> (8 * i));
    nonce[11] = last ? 1 : 0;
}

/* ---- keys ---- */

static void age_quote(const char *text, char out[AGE_QUOTE_MAX + 4])
{
    size_t n = strnlen(text, AGE_QUOTE_MAX + 1);

    if (n > AGE_QUOTE_MAX) {
        memcpy(out, text, AGE_QUOTE_MAX);
        memcpy(out + AGE_QUOTE_MAX, "...", 4);
    } else {
        memcpy(out, text, n);
        out[n] = '\0';
    }
    for (size_t i = 0; out[i]; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
            out[i] = '?';
}

int age_recipient_parse(const char *text, struct age_recipient *out, struct error *err)
{
    char hrp[BECH32_HRP_MAX + 1];
    uint8_t key[AGE_KEY_BYTES + 8];
    size_t key_len = 0;
    char quoted[AGE_QUOTE_MAX + 4];

    memset(out, 0, sizeof(*out));
    age_quote(text, quoted);
    if (strncmp(text, "age1", 4) != 0) {
        if (strncmp(text, "AGE-SECRET-KEY-", 15) == 0)
            return error_set(err, ERR_CONFIG,
                             "recipient: this is an identity (secret key), not a recipient; use "
                             "the 'age1...' public key it belongs to");
        if (strncmp(text, "ssh-", 4) == 0)
            return error_set(err, ERR_CONFIG,
                             "recipient '%s': SSH keys are not supported, only 'age1...' X25519 "
                             "recipients",
                             quoted);
        return error_set(err, ERR_CONFIG,
                         "recipient '%s': not an age recipient (expected lowercase 'age1...')",
                         quoted);
    }
    if (bech32_decode(text, hrp, key, sizeof(key), &key_len, err) < 0) {
        /* A bad key in the configuration is a configuration error. */
        err->kind = ERR_CONFIG;
        return error_wrap(err, "recipient '%s'", quoted);
    }
    if (strcmp(hrp, AGE_RECIPIENT_HRP) != 0 || key_len != AGE_KEY_BYTES)
        return error_set(err, ERR_CONFIG, "recipient '%s': not a 32-byte X25519 'age1...' key",
                         quoted);
    memcpy(out->pk, key, AGE_KEY_BYTES);
    return 0;
}

void age_recipient_format(const struct age_recipient *r, char out[AGE_RECIPIENT_TEXT_MAX])
{
    struct buf b;

    buf_init(&b, AGE_RECIPIENT_TEXT_MAX - 1);
    bech32_encode(AGE_RECIPIENT_HRP, r->pk, AGE_KEY_BYTES, false, &b);
    memcpy(out, b.data, b.len + 1);
    buf_release(&b);
}

/* Parses one identity line (no newline) into id. lineno for messages; the key is never quoted. */
static int age_identity_parse_line(const char *line, size_t lineno, struct age_identity *id,
                                   struct error *err)
{
    char hrp[BECH32_HRP_MAX + 1];
    uint8_t key[AGE_KEY_BYTES + 8];
    size_t key_len = 0;
    int rc = -1;

    if (strncmp(line, "AGE-SECRET-KEY-PQ-", 18) == 0) {
        error_set(err, ERR_CONFIG,
                  "line %zu: post-quantum (AGE-SECRET-KEY-PQ-...) identities are not supported",
                  lineno);
        goto out;
    }
    if (strncmp(line, "AGE-PLUGIN-", 11) == 0) {
        error_set(err, ERR_CONFIG, "line %zu: age plugin identities are not supported", lineno);
        goto out;
    }
    if (strncmp(line, "AGE-SECRET-KEY-1", 16) != 0) {
        error_set(err, ERR_CONFIG,
                  "line %zu: not an age identity (expected 'AGE-SECRET-KEY-1...' in uppercase, "
                  "or a '#' comment)",
                  lineno);
        goto out;
    }
    if (bech32_decode(line, hrp, key, sizeof(key), &key_len, err) < 0) {
        err->kind = ERR_CONFIG;
        error_wrap(err, "line %zu: malformed identity", lineno);
        goto out;
    }
    if (strcmp(hrp, AGE_IDENTITY_HRP) != 0 || key_len != AGE_KEY_BYTES) {
        error_set(err, ERR_CONFIG, "line %zu: not a 32-byte X25519 identity", lineno);
        goto out;
    }
    memcpy(id->sk, key, AGE_KEY_BYTES);
    if (crypto_scalarmult_base(id->pk, id->sk) != 0) {
        error_set(err, ERR_CONFIG, "line %zu: unusable X25519 identity", lineno);
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(key, sizeof(key));
    return rc;
}

int age_identities_parse(const char *text, size_t len, struct age_identity **out, size_t *count,
                         struct error *err)
{
    struct age_identity *ids = NULL;
    size_t n = 0;
    size_t lines = 1;
    size_t lineno = 0;
    size_t pos = 0;
    char *line = NULL;
    int rc = -1;

    *out = NULL;
    *count = 0;
    if (age_init(err) < 0)
        goto out;
    line = xmalloc(len + 1);
    /* One allocation for every line that could be a key: growing the array by realloc would
     * leave copies of secret keys in freed memory. */
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    ids = xcalloc(lines, sizeof(*ids));
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t line_len = end - pos;

        lineno++;
        memcpy(line, text + pos, line_len);
        line[line_len] = '\0';
        pos = end + 1;
        /* age-keygen writes LF; a file edited on Windows has CRLF, which we accept. */
        if (line_len > 0 && line[line_len - 1] == '\r')
            line[--line_len] = '\0';
        if (line_len == 0 || line[0] == '#')
            continue;
        if (memchr(line, '\0', line_len)) {
            error_set(err, ERR_CONFIG, "line %zu: contains a NUL byte", lineno);
            goto out;
        }
        ASSERT(n < lines);
        if (age_identity_parse_line(line, lineno, &ids[n], err) < 0) {
            sodium_memzero(&ids[n], sizeof(ids[n]));
            goto out;
        }
        n++;
    }
    if (n == 0) {
        error_set(err, ERR_CONFIG, "no identity found (expected a line 'AGE-SECRET-KEY-1...')");
        goto out;
    }
    *out = ids;
    *count = n;
    ids = NULL;
    n = 0;
    rc = 0;
out:
    if (line) {
        sodium_memzero(line, len + 1);
        xfree(line);
    }
    age_identities_free(ids, n);
    return rc;
}

void age_identities_free(struct age_identity *ids, size_t count)
{
    if (!ids)
        return;
    sodium_memzero(ids, count * sizeof(*ids));
    xfree(ids);
}

void age_identity_recipient(const struct age_identity *id, struct age_recipient *out)
{
    memcpy(out->pk, id->pk, sizeof(out->pk));
}

/* RFC 3339 local time as age-keygen writes it ("2024-05-01T12:00:00+02:00", or "Z" for UTC). */
static void age_format_now(char out[40])
{
    time_t now = time(NULL);
    struct tm tm;
    char date[32];
    long off;

    if (!localtime_r(&now, &tm)) {
        memcpy(out, "unknown", 8);
        return;
    }
    if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        date[0] = '\0';
    off = tm.tm_gmtoff / 60;
    if (off == 0) {
        buf_format_fixed(out, 40, "%sZ", date);
    } else {
        char sign = off < 0 ? '-' : '+';
        if (off < 0)
            off = -off;
        buf_format_fixed(out, 40, "%s%c%02ld:%02ld", date, sign, off / 60, off % 60);
    }
}

int age_keygen(struct buf *text, char recipient[AGE_RECIPIENT_TEXT_MAX], struct error *err)
{
    struct age_identity id;
    struct age_recipient r;
    struct buf sk_text;
    char created[40];
    int rc = -1;

    recipient[0] = '\0';
    buf_init(&sk_text, BUF_NO_CAP);
    /* Room up front in both buffers, so no realloc leaves a copy of the key in freed memory. */
    if (!buf_reserve(&sk_text, 256) || !buf_reserve(text, 512)) {
        error_set(err, ERR_IO, "age: key file exceeds the buffer cap");
        goto out;
    }
    if (age_init(err) < 0)
        goto out;
    randombytes_buf(id.sk, sizeof(id.sk));
    if (crypto_scalarmult_base(id.pk, id.sk) != 0) {
        error_set(err, ERR_FAILED, "age: key generation produced an unusable key");
        goto out;
    }
    age_identity_recipient(&id, &r);
    age_recipient_format(&r, recipient);
    bech32_encode(AGE_IDENTITY_HRP, id.sk, sizeof(id.sk), true, &sk_text);
    age_format_now(created);
    if (!buf_addf(text, "# created: %s\n# public key: %s\n%s\n", created, recipient,
                  sk_text.data)) {
        recipient[0] = '\0';
        error_set(err, ERR_IO, "age: key file exceeds the buffer cap");
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(&id, sizeof(id));
    if (sk_text.alloc)
        sodium_memzero(sk_text.data, sk_text.alloc);
    buf_release(&sk_text);
    return rc;
}

/* ---- header ---- */

void age_header_release(struct age_header *h)
{
    for (size_t i = 0; i < h->stanza_count; i++) {
        struct age_stanza *s = &h->stanzas[i];
        xfree(s->type);
        for (size_t k = 0; k < s->arg_count; k++)
            xfree(s->args[k]);
        if (s->body)
            sodium_memzero(s->body, s->body_len);
        xfree(s->body);
    }
    xfree(h->stanzas);
    memset(h, 0, sizeof(*h));
}

/* Finds the line starting at pos: returns 1 with *line_len (without the newline), or 0 when no
 * newline has arrived yet. */
static int age_next_line(const uint8_t *data, size_t len, size_t pos, size_t *line_len)
{
    const uint8_t *nl = pos < len ? memchr(data + pos, '\n', len - pos) : NULL;

    if (!nl)
        return 0;
    *line_len = (size_t)(nl - (data + pos));
    return 1;
}

/* Parses the argument line "-> type arg..." (without "-> ") into s. */
static int age_parse_stanza_args(const char *line, size_t len, size_t lineno, struct age_stanza *s,
                                 struct error *err)
{
    size_t pos = 0;
    size_t n = 0;

    for (;;) {
        size_t start = pos;
        char *word;

        while (pos < len && line[pos] != ' ') {
            unsigned char c = (unsigned char)line[pos];
            if (c < 33 || c > 126)
                return error_set(err, ERR_INTEGRITY,
                                 "age: header line %zu: stanza argument has a character outside "
                                 "printable ASCII",
                                 lineno);
            pos++;
        }
        if (pos == start)
            return error_set(err, ERR_INTEGRITY,
                             "age: header line %zu: empty stanza argument (a doubled, leading or "
                             "trailing space)",
                             lineno);
        if (n > AGE_STANZA_ARGS_MAX)
            return error_set(err, ERR_INTEGRITY,
                             "age: header line %zu: stanza has more than %d arguments", lineno,
                             AGE_STANZA_ARGS_MAX);
        word = xstrndup(line + start, pos - start);
        if (n == 0)
            s->type = word;
        else
            s->args[s->arg_count++] = word;
        n++;
        if (pos == len)
            return 0;
        pos++; /* the single space */
    }
}

/* The first line may be incomplete: reject early what cannot become the version line. */
static bool age_version_prefix_ok(const uint8_t *data, size_t len)
{
    size_t want = sizeof(AGE_VERSION_LINE) - 1;

    return memcmp(data, AGE_VERSION_LINE, len < want ? len : want) == 0;
}

int age_header_parse(const uint8_t *data, size_t len, struct age_header *h, struct error *err)
{
    struct age_header hdr;
    struct buf body;
    size_t pos = 0;
    size_t line_len = 0;
    size_t lineno = 1;
    size_t stanza_alloc = 0;
    int rc = -1;

    memset(h, 0, sizeof(*h));
    memset(&hdr, 0, sizeof(hdr));
    buf_init(&body, AGE_HEADER_MAX);
    if (len > AGE_HEADER_MAX)
        len = AGE_HEADER_MAX;
    if (!age_version_prefix_ok(data, len)) {
        error_set(err, ERR_INTEGRITY,
                  "age: header: not an age file (it does not start with '" AGE_VERSION_LINE "')");
        goto out;
    }
    if (!age_next_line(data, len, 0, &line_len))
        goto need_more;
    if (line_len != sizeof(AGE_VERSION_LINE) - 1) {
        error_set(err, ERR_INTEGRITY,
                  "age: header: unsupported version line (only '" AGE_VERSION_LINE
                  "' is known; a CRLF line end counts as a different line)");
        goto out;
    }
    pos = line_len + 1;
    for (;;) {
        const char *line;
        struct age_stanza *s;

        lineno++;
        if (!age_next_line(data, len, pos, &line_len))
            goto need_more;
        line = (const char *)data + pos;
        if (line_len >= 3 && memcmp(line, "---", 3) == 0) {
            size_t mac_len = 0;
            if (hdr.stanza_count == 0) {
                error_set(err, ERR_INTEGRITY, "age: header has no recipient stanzas");
                goto out;
            }
            if (line_len != 4 + AGE_MAC_B64_LEN || line[3] != ' ' ||
                !age_b64_decode(line + 4, AGE_MAC_B64_LEN, hdr.mac, sizeof(hdr.mac), &mac_len) ||
                mac_len != sizeof(hdr.mac)) {
                error_set(err, ERR_INTEGRITY,
                          "age: header line %zu: malformed MAC line (expected '--- ' and 43 "
                          "characters of canonical base64)",
                          lineno);
                goto out;
            }
            hdr.mac_input_len = pos + 3;
            hdr.len = pos + line_len + 1;
            break;
        }
        if (line_len < 3 || memcmp(line, "-> ", 3) != 0) {
            error_set(err, ERR_INTEGRITY,
                      "age: header line %zu: expected a stanza ('-> type ...') or the MAC line "
                      "('--- ...')",
                      lineno);
            goto out;
        }
        XGROW(hdr.stanzas, hdr.stanza_count + 1, stanza_alloc);
        s = &hdr.stanzas[hdr.stanza_count++];
        memset(s, 0, sizeof(*s));
        if (age_parse_stanza_args(line + 3, line_len - 3, lineno, s, err) < 0)
            goto out;
        pos += line_len + 1;
        buf_reset(&body);
        for (;;) {
            lineno++;
            if (!age_next_line(data, len, pos, &line_len))
                goto need_more;
            line = (const char *)data + pos;
            if (line_len > AGE_BODY_COLUMNS) {
                error_set(err, ERR_INTEGRITY,
                          "age: header line %zu: stanza body line longer than %d columns", lineno,
                          AGE_BODY_COLUMNS);
                goto out;
            }
            for (size_t i = 0; i < line_len; i++) {
                if (!age_is_b64_char(line[i])) {
                    error_set(err, ERR_INTEGRITY,
                              "age: header line %zu: stanza body is not unpadded base64 (every "
                              "stanza ends with a body line shorter than %d columns, even an "
                              "empty one)",
                              lineno, AGE_BODY_COLUMNS);
                    goto out;
                }
            }
            ASSERT(buf_add(&body, line, line_len));
            pos += line_len + 1;
            if (line_len < AGE_BODY_COLUMNS)
                break;
        }
        s->body = xmalloc(body.len / 4 * 3 + 3);
        if (!age_b64_decode(body.data, body.len, s->body, body.len / 4 * 3 + 3, &s->body_len)) {
            error_set(err, ERR_INTEGRITY,
                      "age: header line %zu: stanza body is not canonical base64", lineno);
            goto out;
        }
    }
    *h = hdr;
    memset(&hdr, 0, sizeof(hdr));
    rc = 1;
    goto out;
need_more:
    if (len >= AGE_HEADER_MAX) {
        error_set(err, ERR_INTEGRITY, "age: header: longer than %zu bytes, refused",
                  AGE_HEADER_MAX);
        goto out;
    }
    rc = 0;
out:
    buf_release(&body);
    age_header_release(&hdr);
    return rc;
}

/* Writes "-> type args...\n" and the body. */
static void age_stanza_append(struct buf *out, const char *type, const char *const *args,
                              size_t arg_count, const uint8_t *body, size_t body_len)
{
    ASSERT(buf_addf(out, "-> %s", type));
    for (size_t i = 0; i < arg_count; i++)
        ASSERT(buf_addf(out, " %s", args[i]));
    ASSERT(buf_add(out, "\n", 1));
    age_body_append(body, body_len, out);
}

/* The header MAC: HMAC-SHA-256 keyed with HKDF(file key, "", "header") over data[0..len). */
static void age_header_mac(const uint8_t file_key[AGE_FILE_KEY_BYTES], const void *data, size_t len,
                           uint8_t mac[32])
{
    uint8_t key[32];

    digest_hkdf_sha256(NULL, 0, file_key, AGE_FILE_KEY_BYTES, "header", 6, key, sizeof(key));
    digest_hmac_sha256(key, sizeof(key), data, len, mac);
    sodium_memzero(key, sizeof(key));
}

static void age_payload_key(const uint8_t file_key[AGE_FILE_KEY_BYTES],
                            const uint8_t nonce[AGE_NONCE_BYTES], uint8_t key[32])
{
    digest_hkdf_sha256(nonce, AGE_NONCE_BYTES, file_key, AGE_FILE_KEY_BYTES, "payload", 7, key, 32);
}

/* The X25519 wrap key from the shared secret, the ephemeral share and the recipient. */
static void age_x25519_wrap_key(const uint8_t shared[32], const uint8_t share[32],
                                const uint8_t recipient[32], uint8_t key[32])
{
    uint8_t salt[64];

    memcpy(salt, share, 32);
    memcpy(salt + 32, recipient, 32);
    digest_hkdf_sha256(salt, sizeof(salt), shared, 32, AGE_X25519_INFO, sizeof(AGE_X25519_INFO) - 1,
                       key, 32);
}

static const uint8_t age_zero_nonce[12];

/* scrypt with age's salt label; -1 when libsodium refuses (out of memory, bad parameters). */
static int age_scrypt_key(const char *pass, size_t pass_len, const uint8_t salt[AGE_SCRYPT_SALT],
                          int log_n, uint8_t key[32])
{
    uint8_t full_salt[sizeof(AGE_SCRYPT_LABEL) - 1 + AGE_SCRYPT_SALT];

    memcpy(full_salt, AGE_SCRYPT_LABEL, sizeof(AGE_SCRYPT_LABEL) - 1);
    memcpy(full_salt + sizeof(AGE_SCRYPT_LABEL) - 1, salt, AGE_SCRYPT_SALT);
    return crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)pass, pass_len, full_salt,
                                                 sizeof(full_salt), (uint64_t)1 << log_n, 8, 1, key,
                                                 32) == 0
               ? 0
               : -1;
}

/* ---- encrypting filter ---- */

struct age_encrypt {
    struct filter base; /* first, so a struct filter * converts back */
    struct buf header;  /* the header and the payload nonce, written before the first chunk */
    bool is_header_written;
    bool is_finished;
    uint8_t key[32]; /* payload key */
    uint64_t counter;
    size_t pending_len;
    /* Plaintext of the chunk being filled. A full chunk is sealed only when more input arrives,
     * since a full chunk followed by the end of the stream is the final one. */
    uint8_t pending[AGE_CHUNK_BYTES];
};

static const struct filter_ops age_encrypt_ops;

static struct age_encrypt *age_encrypt_of(struct filter *f)
{
    ASSERT(f->ops == &age_encrypt_ops);
    return (struct age_encrypt *)f;
}

/* Seals in[0..len) as the next chunk straight into out (no intermediate copy). */
static int age_encrypt_chunk(struct age_encrypt *e, const uint8_t *in, size_t len, bool last,
                             struct buf *out, struct error *err)
{
    uint8_t nonce[12];
    uint8_t *dst;

    if (!buf_reserve(out, len + AGE_TAG_BYTES))
        return error_set(err, ERR_IO, "age: output exceeds the buffer cap of %zu bytes",
                         out->max_len);
    dst = (uint8_t *)out->data + out->len;
    age_chunk_nonce(e->counter, last, nonce);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, in, len, NULL, 0, NULL,
                                                       nonce, e->key);
    out->len += len + AGE_TAG_BYTES;
    out->data[out->len] = '\0';
    e->counter++;
    return 0;
}

static int age_encrypt_write_header(struct age_encrypt *e, struct buf *out, struct error *err)
{
    if (e->is_header_written)
        return 0;
    if (!buf_add(out, e->header.data, e->header.len))
        return error_set(err, ERR_IO, "age: output exceeds the buffer cap of %zu bytes",
                         out->max_len);
    e->is_header_written = true;
    return 0;
}

/* Cuts a stream into chunks of `size` bytes for fn, keeping one back: a full chunk in pending is
 * handed over only once more input follows, because the last chunk is sealed (or opened) with the
 * last-chunk flag at finish. Whole chunks are taken straight from the input when nothing is
 * pending, so the bulk of a stream is never copied. */
typedef int (*age_chunk_fn)(void *ctx, const uint8_t *chunk, struct buf *out, struct error *err);

static int age_chunked(uint8_t *pending, size_t *pending_len, size_t size, const uint8_t *p,
                       size_t len, age_chunk_fn fn, void *ctx, struct buf *out, struct error *err)
{
    while (len > 0) {
        size_t n;

        if (*pending_len == size) {
            if (fn(ctx, pending, out, err) < 0)
                return -1;
            *pending_len = 0;
        }
        if (*pending_len == 0 && len > size) {
            if (fn(ctx, p, out, err) < 0)
                return -1;
            p += size;
            len -= size;
            continue;
        }
        n = size - *pending_len < len ? size - *pending_len : len;
        memcpy(pending + *pending_len, p, n);
        *pending_len += n;
        p += n;
        len -= n;
    }
    return 0;
}

static int age_encrypt_middle(void *ctx, const uint8_t *chunk, struct buf *out, struct error *err)
{
    return age_encrypt_chunk(ctx, chunk, AGE_CHUNK_BYTES, false, out, err);
}

static int age_encrypt_process(struct filter *f, const void *in, size_t len, struct buf *out,
                               struct error *err)
{
    struct age_encrypt *e = age_encrypt_of(f);
    const uint8_t *p = in;

    ASSERT(!e->is_finished);
    if (len == 0)
        return 0;
    if (age_encrypt_write_header(e, out, err) < 0)
        return -1;
    return age_chunked(e->pending, &e->pending_len, AGE_CHUNK_BYTES, p, len, age_encrypt_middle, e,
                       out, err);
}

static int age_encrypt_finish(struct filter *f, struct buf *out, struct error *err)
{
    struct age_encrypt *e = age_encrypt_of(f);

    ASSERT(!e->is_finished);
    if (age_encrypt_write_header(e, out, err) < 0)
        return -1;
    /* pending is empty only when the whole payload is: then one empty final chunk. */
    if (age_encrypt_chunk(e, e->pending, e->pending_len, true, out, err) < 0)
        return -1;
    e->pending_len = 0;
    e->is_finished = true;
    return 0;
}

static void age_encrypt_free(struct filter *f)
{
    struct age_encrypt *e = age_encrypt_of(f);

    buf_release(&e->header);
    sodium_memzero(e, sizeof(*e));
    xfree(e);
}

static const struct filter_ops age_encrypt_ops = {
    .name = "age-encrypt",
    .process = age_encrypt_process,
    .finish = age_encrypt_finish,
    .free = age_encrypt_free,
};

/* Appends an X25519 stanza wrapping file_key to r. */
static int age_x25519_wrap(const struct age_recipient *r, const uint8_t file_key[16],
                           struct buf *out, struct error *err)
{
    uint8_t eph[32];
    uint8_t share[32];
    uint8_t shared[32];
    uint8_t key[32];
    uint8_t body[AGE_WRAPPED_BYTES];
    struct buf share_b64;
    const char *args[1];
    int rc = -1;

    buf_init(&share_b64, BUF_NO_CAP);
    randombytes_buf(eph, sizeof(eph));
    if (crypto_scalarmult_base(share, eph) != 0 || crypto_scalarmult(shared, eph, r->pk) != 0) {
        char text[AGE_RECIPIENT_TEXT_MAX];
        age_recipient_format(r, text);
        error_set(err, ERR_CONFIG,
                  "age: recipient %s is a low-order point (no shared secret); it is not a real key",
                  text);
        goto out;
    }
    age_x25519_wrap_key(shared, share, r->pk, key);
    crypto_aead_chacha20poly1305_ietf_encrypt(body, NULL, file_key, AGE_FILE_KEY_BYTES, NULL, 0,
                                              NULL, age_zero_nonce, key);
    age_b64_append(share, sizeof(share), &share_b64);
    args[0] = share_b64.data;
    age_stanza_append(out, "X25519", args, 1, body, sizeof(body));
    rc = 0;
out:
    sodium_memzero(eph, sizeof(eph));
    sodium_memzero(shared, sizeof(shared));
    sodium_memzero(key, sizeof(key));
    buf_release(&share_b64);
    return rc;
}

static int age_scrypt_wrap(const char *pass, size_t pass_len, int log_n, const uint8_t file_key[16],
                           struct buf *out, struct error *err)
{
    uint8_t salt[AGE_SCRYPT_SALT];
    uint8_t key[32];
    uint8_t body[AGE_WRAPPED_BYTES];
    struct buf salt_b64;
    char log_n_text[8];
    const char *args[2];
    int rc = -1;

    buf_init(&salt_b64, BUF_NO_CAP);
    randombytes_buf(salt, sizeof(salt));
    if (age_scrypt_key(pass, pass_len, salt, log_n, key) < 0) {
        error_set(err, ERR_FAILED,
                  "age: scrypt with work factor 2^%d failed (out of memory? it needs %llu MiB)",
                  log_n, (unsigned long long)1 << (log_n > 13 ? log_n - 13 : 0));
        goto out;
    }
    crypto_aead_chacha20poly1305_ietf_encrypt(body, NULL, file_key, AGE_FILE_KEY_BYTES, NULL, 0,
                                              NULL, age_zero_nonce, key);
    age_b64_append(salt, sizeof(salt), &salt_b64);
    buf_format_fixed(log_n_text, sizeof(log_n_text), "%d", log_n);
    args[0] = salt_b64.data;
    args[1] = log_n_text;
    age_stanza_append(out, "scrypt", args, 2, body, sizeof(body));
    rc = 0;
out:
    sodium_memzero(key, sizeof(key));
    buf_release(&salt_b64);
    return rc;
}

int age_encrypt_new(const struct age_encrypt_params *p, struct filter **out, struct error *err)
{
    struct age_encrypt *e = NULL;
    uint8_t file_key[AGE_FILE_KEY_BYTES];
    uint8_t nonce[AGE_NONCE_BYTES];
    uint8_t mac[32];
    int log_n = p->scrypt_log_n ? p->scrypt_log_n : AGE_SCRYPT_LOG_N_DEFAULT;
    int rc = -1;

    *out = NULL;
    if (age_init(err) < 0)
        goto out;
    if (p->passphrase && p->recipient_count > 0) {
        error_set(err, ERR_CONFIG,
                  "age: both recipients and a passphrase given; age allows only one of them per "
                  "file");
        goto out;
    }
    if (!p->passphrase && p->recipient_count == 0) {
        error_set(err, ERR_CONFIG, "age: no recipient and no passphrase to encrypt to");
        goto out;
    }
    /* Above the decryption cap a file could not be opened with the default settings. */
    if (p->passphrase && (log_n < 1 || log_n > AGE_SCRYPT_LOG_N_MAX)) {
        error_set(err, ERR_CONFIG, "age: scrypt work factor 2^%d out of range (2^1..2^%d)", log_n,
                  AGE_SCRYPT_LOG_N_MAX);
        goto out;
    }
    e = xcalloc(1, sizeof(*e));
    e->base.ops = &age_encrypt_ops;
    buf_init(&e->header, AGE_HEADER_MAX);
    randombytes_buf(file_key, sizeof(file_key));
    ASSERT(buf_adds(&e->header, AGE_VERSION_LINE "\n"));
    if (p->passphrase) {
        if (age_scrypt_wrap(p->passphrase, p->passphrase_len, log_n, file_key, &e->header, err) < 0)
            goto out;
    } else {
        for (size_t i = 0; i < p->recipient_count; i++)
            if (age_x25519_wrap(&p->recipients[i], file_key, &e->header, err) < 0)
                goto out;
    }
    ASSERT(buf_adds(&e->header, "---"));
    age_header_mac(file_key, e->header.data, e->header.len, mac);
    ASSERT(buf_add(&e->header, " ", 1));
    age_b64_append(mac, sizeof(mac), &e->header);
    ASSERT(buf_add(&e->header, "\n", 1));
    randombytes_buf(nonce, sizeof(nonce));
    ASSERT(buf_add(&e->header, nonce, sizeof(nonce)));
    age_payload_key(file_key, nonce, e->key);
    *out = &e->base;
    e = NULL;
    rc = 0;
out:
    sodium_memzero(file_key, sizeof(file_key));
    if (e)
        age_encrypt_free(&e->base);
    return rc;
}

/* ---- decrypting filter ---- */

enum age_decrypt_phase {
    AGE_PHASE_HEADER,
    AGE_PHASE_NONCE,
    AGE_PHASE_PAYLOAD,
    AGE_PHASE_DONE,
    AGE_PHASE_FAILED,
};

struct age_decrypt {
    struct filter base; /* first, so a struct filter * converts back */
    enum age_decrypt_phase phase;
    struct age_identity *identities;
    size_t identity_count;
    char *passphrase;
    size_t passphrase_len;
    int max_log_n;
    struct buf header;    /* bytes of the header until it is complete */
    size_t header_scan;   /* where to look next for the MAC line in header */
    bool is_header_tried; /* the parser has seen the start (a non-age file fails at once) */
    uint8_t nonce[AGE_NONCE_BYTES];
    size_t nonce_len;
    uint8_t key[32]; /* payload key */
    uint64_t counter;
    size_t ct_len;
    /* Ciphertext of the chunk being collected. A full chunk is opened as a non-final one only
     * when more input follows; what is here at finish is the final chunk. */
    uint8_t ct[AGE_CT_CHUNK_BYTES];
};

static const struct filter_ops age_decrypt_ops;

static struct age_decrypt *age_decrypt_of(struct filter *f)
{
    ASSERT(f->ops == &age_decrypt_ops);
    return (struct age_decrypt *)f;
}

#define AGE_DESCRIBE_MAX 32

/* Counts stanza types for the "no identity matches" message: "2 recipients (X25519)",
 * "3 recipients (2 X25519, 1 mlkem768x25519)". */
static void age_describe_recipients(const struct age_header *h, char *out, size_t cap)
{
    struct buf b;
    size_t distinct = 0;

    /* Only the first stanzas are described: a hostile header may hold 100,000 of them, and the
     * pairwise comparison below is quadratic. */
    size_t shown = h->stanza_count < AGE_DESCRIBE_MAX ? h->stanza_count : AGE_DESCRIBE_MAX;

    buf_init(&b, cap - 1);
    (void)buf_addf(&b, "%zu recipient%s (", h->stanza_count, h->stanza_count == 1 ? "" : "s");
    for (size_t i = 0; i < shown; i++) {
        size_t n = 0;
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            seen = seen || strcmp(h->stanzas[k].type, h->stanzas[i].type) == 0;
        if (seen)
            continue;
        for (size_t k = i; k < shown; k++)
            n += strcmp(h->stanzas[k].type, h->stanzas[i].type) == 0;
        /* Room for this entry, and for ", ...)" after it. */
        if (b.len + AGE_QUOTE_MAX + 40 >= cap) {
            (void)buf_adds(&b, ", ...");
            break;
        }
        distinct++;
        if (distinct > 1)
            (void)buf_adds(&b, ", ");
        if (n == h->stanza_count && shown == h->stanza_count) {
            char t[AGE_QUOTE_MAX + 4];
            age_quote(h->stanzas[i].type, t);
            (void)buf_adds(&b, t);
        } else {
            char t[AGE_QUOTE_MAX + 4];
            age_quote(h->stanzas[i].type, t);
            (void)buf_addf(&b, "%zu %s", n, t);
        }
    }
    if (shown < h->stanza_count)
        (void)buf_addf(&b, ", first %zu shown", shown);
    (void)buf_adds(&b, ")");
    buf_format_fixed(out, cap, "%s", b.data);
    buf_release(&b);
}

/* Tries the identities on an X25519 stanza. 1 with file_key set, 0 when none matches, -1 on a
 * malformed stanza or a low-order share. */
static int age_x25519_unwrap(const struct age_decrypt *d, const struct age_stanza *s, size_t index,
                             uint8_t file_key[AGE_FILE_KEY_BYTES], struct error *err)
{
    uint8_t share[32];
    uint8_t shared[32];
    uint8_t key[32];
    size_t share_len = 0;
    int rc = -1;

    if (s->arg_count != 1 ||
        !age_b64_decode(s->args[0], strlen(s->args[0]), share, sizeof(share), &share_len) ||
        share_len != sizeof(share)) {
        error_set(err, ERR_INTEGRITY,
                  "age: header: X25519 stanza %zu is malformed (expected one argument, a 32-byte "
                  "share in canonical base64)",
                  index + 1);
        goto out;
    }
    if (s->body_len != AGE_WRAPPED_BYTES) {
        error_set(err, ERR_INTEGRITY,
                  "age: header: X25519 stanza %zu has a %zu-byte body (expected %d)", index + 1,
                  s->body_len, AGE_WRAPPED_BYTES);
        goto out;
    }
    for (size_t i = 0; i < d->identity_count; i++) {
        const struct age_identity *id = &d->identities[i];
        /* libsodium returns -1 for an all-zero shared secret, age's abort rule. */
        if (crypto_scalarmult(shared, id->sk, share) != 0) {
            error_set(err, ERR_INTEGRITY,
                      "age: header: X25519 stanza %zu has a low-order share (an all-zero shared "
                      "secret); the file is malicious or corrupt",
                      index + 1);
            goto out;
        }
        age_x25519_wrap_key(shared, share, id->pk, key);
        if (crypto_aead_chacha20poly1305_ietf_decrypt(file_key, NULL, NULL, s->body, s->body_len,
                                                      NULL, 0, age_zero_nonce, key) == 0) {
            rc = 1;
            goto out;
        }
    }
    rc = 0;
out:
    sodium_memzero(shared, sizeof(shared));
    sodium_memzero(key, sizeof(key));
    return rc;
}

/* The scrypt work factor argument: decimal, no sign, no leading zero. -1 when malformed. */
static int age_parse_log_n(const char *s)
{
    int v = 0;

    if (s[0] < '1' || s[0] > '9')
        return -1;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > AGE_SCRYPT_LOG_N_LIMIT)
            return -1;
    }
    return v;
}

static int age_scrypt_unwrap(const struct age_decrypt *d, const struct age_stanza *s,
                             uint8_t file_key[AGE_FILE_KEY_BYTES], struct error *err)
{
    uint8_t salt[AGE_SCRYPT_SALT];
    uint8_t key[32];
    size_t salt_len = 0;
    int log_n;
    int rc = -1;

    if (s->arg_count != 2 ||
        !age_b64_decode(s->args[0], strlen(s->args[0]), salt, sizeof(salt), &salt_len) ||
        salt_len != sizeof(salt)) {
        error_set(err, ERR_INTEGRITY,
                  "age: header: scrypt stanza is malformed (expected a 16-byte salt in canonical "
                  "base64 and a work factor)");
        goto out;
    }
    log_n = age_parse_log_n(s->args[1]);
    if (log_n < 0) {
        error_set(err, ERR_INTEGRITY,
                  "age: header: scrypt work factor is not a decimal number from 1 to %d",
                  AGE_SCRYPT_LOG_N_LIMIT);
        goto out;
    }
    if (s->body_len != AGE_WRAPPED_BYTES) {
        error_set(err, ERR_INTEGRITY,
                  "age: header: scrypt stanza has a %zu-byte body (expected %d)", s->body_len,
                  AGE_WRAPPED_BYTES);
        goto out;
    }
    if (!d->passphrase) {
        error_set(err, ERR_CONFIG, "age: the file is passphrase-encrypted; set encrypt_passphrase");
        error_hint(err, "an identity file cannot open a passphrase-encrypted file");
        goto out;
    }
    /* Refused before scrypt runs: the work factor comes from the file, and 2^N costs 2^N KiB of
     * memory and as much time. */
    if (log_n > d->max_log_n) {
        error_set(err, ERR_CONFIG, "age: scrypt work factor 2^%d above the cap 2^%d", log_n,
                  d->max_log_n);
        error_hint(err,
                   "opening it would take %llu MiB and minutes of CPU; permafrost writes 2^%d, so "
                   "this file was written elsewhere or altered",
                   (unsigned long long)1 << (log_n - 10 > 0 ? log_n - 10 : 0),
                   AGE_SCRYPT_LOG_N_DEFAULT);
        goto out;
    }
    if (age_scrypt_key(d->passphrase, d->passphrase_len, salt, log_n, key) < 0) {
        error_set(err, ERR_FAILED,
                  "age: scrypt with work factor 2^%d failed (out of memory? it needs %llu MiB)",
                  log_n, (unsigned long long)1 << (log_n - 13 > 0 ? log_n - 13 : 0));
        goto out;
    }
    if (crypto_aead_chacha20poly1305_ietf_decrypt(file_key, NULL, NULL, s->body, s->body_len, NULL,
                                                  0, age_zero_nonce, key) != 0) {
        error_set(err, ERR_CONFIG,
                  "age: the passphrase does not open this file (wrong passphrase)");
        error_hint(err, "check encrypt_passphrase against the one the file was written with");
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(key, sizeof(key));
    return rc;
}

/* Finds the file key for a parsed header and checks the header MAC. */
static int age_decrypt_open_header(struct age_decrypt *d, const struct age_header *h,
                                   const uint8_t *raw, struct error *err)
{
    uint8_t file_key[AGE_FILE_KEY_BYTES];
    uint8_t mac[32];
    bool found = false;
    bool has_scrypt = false;
    size_t x25519_count = 0;
    int rc = -1;

    for (size_t i = 0; i < h->stanza_count; i++) {
        has_scrypt = has_scrypt || strcmp(h->stanzas[i].type, "scrypt") == 0;
        x25519_count += strcmp(h->stanzas[i].type, "X25519") == 0;
    }
    if (has_scrypt && h->stanza_count != 1) {
        error_set(err, ERR_INTEGRITY,
                  "age: header: a scrypt stanza must be the only one, and this header has %zu",
                  h->stanza_count);
        goto out;
    }
    if (has_scrypt) {
        if (age_scrypt_unwrap(d, &h->stanzas[0], file_key, err) < 0)
            goto out;
        found = true;
    }
    for (size_t i = 0; !found && i < h->stanza_count && d->identity_count > 0; i++) {
        int r;
        if (strcmp(h->stanzas[i].type, "X25519") != 0)
            continue; /* unknown types are skipped, as age does */
        r = age_x25519_unwrap(d, &h->stanzas[i], i, file_key, err);
        if (r < 0)
            goto out;
        found = r == 1;
    }
    if (!found) {
        char what[200];
        age_describe_recipients(h, what, sizeof(what));
        if (d->identity_count == 0) {
            error_set(err, ERR_CONFIG,
                      "age: the file is encrypted to %s, not to a passphrase; set identity = "
                      "file:... to the matching key",
                      what);
        } else {
            error_set(err, ERR_CONFIG,
                      "age: no identity matches: the file is encrypted to %s; set identity = "
                      "file:... to the matching key",
                      what);
            if (x25519_count == 0)
                error_hint(err,
                           "none of its recipient types is supported (only X25519 and scrypt)");
            else
                error_hint(err,
                           "%zu identit%s tried; compare 'age-keygen -y' of the key file "
                           "with the job's recipients",
                           d->identity_count, d->identity_count == 1 ? "y was" : "ies were");
        }
        goto out;
    }
    age_header_mac(file_key, raw, h->mac_input_len, mac);
    if (sodium_memcmp(mac, h->mac, sizeof(mac)) != 0) {
        error_set(err, ERR_INTEGRITY,
                  "age: header MAC does not match (the file was altered, or the key is wrong)");
        goto out;
    }
    /* The payload key needs the nonce that follows; keep the file key until then. */
    memcpy(d->key, file_key, AGE_FILE_KEY_BYTES);
    rc = 0;
out:
    sodium_memzero(file_key, sizeof(file_key));
    sodium_memzero(mac, sizeof(mac));
    return rc;
}

/* Opens chunk c[0..len) (len >= tag) into out. Returns 0, or -1 when it does not authenticate
 * (out->len unchanged, no error set). */
static int age_decrypt_chunk_try(struct age_decrypt *d, const uint8_t *c, size_t len, bool last,
                                 struct buf *out)
{
    uint8_t nonce[12];
    size_t plain = len - AGE_TAG_BYTES;
    uint8_t *dst = (uint8_t *)out->data + out->len;

    age_chunk_nonce(d->counter, last, nonce);
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, c, plain, c + plain, NULL, 0,
                                                           nonce, d->key) != 0) {
        out->data[out->len] = '\0';
        return -1;
    }
    out->len += plain;
    out->data[out->len] = '\0';
    return 0;
}

static int age_decrypt_reserve(struct buf *out, size_t len, struct error *err)
{
    if (!buf_reserve(out, len))
        return error_set(err, ERR_IO, "age: output exceeds the buffer cap of %zu bytes",
                         out->max_len);
    return 0;
}

/* A full chunk with more input after it: must open as a non-final chunk. */
static int age_decrypt_middle(struct age_decrypt *d, const uint8_t *c, struct buf *out,
                              struct error *err)
{
    if (age_decrypt_reserve(out, AGE_CHUNK_BYTES, err) < 0)
        return -1;
    if (age_decrypt_chunk_try(d, c, AGE_CT_CHUNK_BYTES, false, out) < 0) {
        if (age_decrypt_chunk_try(d, c, AGE_CT_CHUNK_BYTES, true, out) == 0) {
            /* An authentic final chunk with data after it: its plaintext is released (as age
             * does; the test kit expects it), and the stream fails. */
            return error_set(err, ERR_INTEGRITY,
                             "age: data follows the final payload chunk (chunk %llu; trailing "
                             "data or a spliced file)",
                             (unsigned long long)d->counter + 1);
        }
        return error_set(err, ERR_INTEGRITY,
                         "age: payload chunk %llu failed authentication (altered or truncated)",
                         (unsigned long long)d->counter + 1);
    }
    d->counter++;
    return 0;
}

static int age_decrypt_middle_cb(void *ctx, const uint8_t *chunk, struct buf *out,
                                 struct error *err)
{
    return age_decrypt_middle(ctx, chunk, out, err);
}

static int age_decrypt_payload(struct age_decrypt *d, const uint8_t *p, size_t len, struct buf *out,
                               struct error *err)
{
    if (d->phase == AGE_PHASE_NONCE) {
        size_t n = AGE_NONCE_BYTES - d->nonce_len < len ? AGE_NONCE_BYTES - d->nonce_len : len;
        uint8_t file_key[AGE_FILE_KEY_BYTES];

        memcpy(d->nonce + d->nonce_len, p, n);
        d->nonce_len += n;
        p += n;
        len -= n;
        if (d->nonce_len < AGE_NONCE_BYTES)
            return 0;
        memcpy(file_key, d->key, sizeof(file_key));
        age_payload_key(file_key, d->nonce, d->key);
        sodium_memzero(file_key, sizeof(file_key));
        d->phase = AGE_PHASE_PAYLOAD;
    }
    return age_chunked(d->ct, &d->ct_len, AGE_CT_CHUNK_BYTES, p, len, age_decrypt_middle_cb, d, out,
                       err);
}

/* Whether the header buffer may now hold a complete header: a line starting with "---" that has
 * its newline. Avoids re-parsing a large header for every small piece of input. */
static bool age_decrypt_header_ready(struct age_decrypt *d)
{
    const char *data = d->header.data;
    size_t len = d->header.len;

    /* Small headers are cheap to parse again; the first try rejects a file that is not age. */
    if (!d->is_header_tried || len < 4096)
        return true;
    while (d->header_scan + 4 < len) {
        const char *hit = memmem(data + d->header_scan, len - d->header_scan, "\n---", 4);
        if (!hit) {
            d->header_scan = len - 3;
            return len >= AGE_HEADER_MAX;
        }
        if (memchr(hit + 1, '\n', len - (size_t)(hit + 1 - data)))
            return true;
        d->header_scan = (size_t)(hit - data);
        return len >= AGE_HEADER_MAX;
    }
    return len >= AGE_HEADER_MAX;
}

static int age_decrypt_process(struct filter *f, const void *in, size_t len, struct buf *out,
                               struct error *err)
{
    struct age_decrypt *d = age_decrypt_of(f);
    const uint8_t *p = in;
    int rc = -1;

    if (d->phase == AGE_PHASE_FAILED)
        return error_set(err, ERR_INTEGRITY, "age: the stream already failed");
    ASSERT(d->phase != AGE_PHASE_DONE);
    if (d->phase == AGE_PHASE_HEADER) {
        struct age_header h;
        size_t room = AGE_HEADER_MAX - d->header.len;
        size_t take = len < room ? len : room;
        int r;

        ASSERT(buf_add(&d->header, p, take));
        if (!age_decrypt_header_ready(d)) {
            if (take == len)
                return 0;
        }
        d->is_header_tried = true;
        r = age_header_parse((const uint8_t *)d->header.data, d->header.len, &h, err);
        if (r < 0)
            goto out;
        if (r == 0) {
            ASSERT(take == len);
            return 0;
        }
        r = age_decrypt_open_header(d, &h, (const uint8_t *)d->header.data, err);
        if (r == 0) {
            size_t extra = d->header.len - h.len;
            d->phase = AGE_PHASE_NONCE;
            /* The bytes after the header in the buffer, then the rest of this input. */
            r = age_decrypt_payload(d, (const uint8_t *)d->header.data + h.len, extra, out, err);
            if (r == 0)
                r = age_decrypt_payload(d, p + take, len - take, out, err);
        }
        age_header_release(&h);
        buf_release(&d->header);
        if (r < 0)
            goto out;
        return 0;
    }
    if (age_decrypt_payload(d, p, len, out, err) < 0)
        goto out;
    return 0;
out:
    d->phase = AGE_PHASE_FAILED;
    return rc;
}

static int age_decrypt_finish(struct filter *f, struct buf *out, struct error *err)
{
    struct age_decrypt *d = age_decrypt_of(f);
    int rc = -1;

    if (d->phase == AGE_PHASE_FAILED)
        return error_set(err, ERR_INTEGRITY, "age: the stream already failed");
    ASSERT(d->phase != AGE_PHASE_DONE);
    if (d->phase == AGE_PHASE_HEADER) {
        struct age_header h;
        int r;
        if (d->header.len == 0) {
            error_set(err, ERR_INTEGRITY, "age: header: the file is empty");
            goto out;
        }
        r = age_header_parse((const uint8_t *)d->header.data, d->header.len, &h, err);
        if (r < 0)
            goto out;
        age_header_release(&h);
        ASSERT(r == 0); /* a complete header would have been taken by process */
        error_set(err, ERR_INTEGRITY, "age: header: the file ends inside the header (truncated)");
        goto out;
    }
    if (d->phase == AGE_PHASE_NONCE) {
        error_set(err, ERR_INTEGRITY,
                  "age: header: the file ends before the 16-byte payload nonce (truncated)");
        goto out;
    }
    if (d->ct_len == 0) {
        error_set(err, ERR_INTEGRITY, "age: file ends before its final chunk (truncated)");
        goto out;
    }
    if (d->ct_len < AGE_TAG_BYTES) {
        error_set(err, ERR_INTEGRITY,
                  "age: payload chunk %llu is shorter than its 16-byte tag (truncated)",
                  (unsigned long long)d->counter + 1);
        goto out;
    }
    if (age_decrypt_reserve(out, d->ct_len - AGE_TAG_BYTES, err) < 0)
        goto out;
    if (age_decrypt_chunk_try(d, d->ct, d->ct_len, true, out) < 0) {
        if (d->ct_len == AGE_CT_CHUNK_BYTES &&
            age_decrypt_chunk_try(d, d->ct, d->ct_len, false, out) == 0) {
            /* An authentic middle chunk: its plaintext is released (as age does), and the
             * stream is still cut short. */
            error_set(err, ERR_INTEGRITY, "age: file ends before its final chunk (truncated)");
            goto out;
        }
        error_set(err, ERR_INTEGRITY,
                  "age: payload chunk %llu failed authentication (altered or truncated)",
                  (unsigned long long)d->counter + 1);
        goto out;
    }
    if (d->ct_len == AGE_TAG_BYTES && d->counter > 0) {
        error_set(err, ERR_INTEGRITY,
                  "age: payload chunk %llu is an empty final chunk, which only an empty file may "
                  "have",
                  (unsigned long long)d->counter + 1);
        goto out;
    }
    d->ct_len = 0;
    d->phase = AGE_PHASE_DONE;
    return 0;
out:
    d->phase = AGE_PHASE_FAILED;
    return rc;
}

static void age_decrypt_free(struct filter *f)
{
    struct age_decrypt *d = age_decrypt_of(f);

    age_identities_free(d->identities, d->identity_count);
    if (d->passphrase) {
        sodium_memzero(d->passphrase, d->passphrase_len);
        xfree(d->passphrase);
    }
    buf_release(&d->header);
    sodium_memzero(d, sizeof(*d));
    xfree(d);
}

static const struct filter_ops age_decrypt_ops = {
    .name = "age-decrypt",
    .process = age_decrypt_process,
    .finish = age_decrypt_finish,
    .free = age_decrypt_free,
};

int age_decrypt_new(const struct age_decrypt_params *p, struct filter **out, struct error *err)
{
    struct age_decrypt *d;

    *out = NULL;
    if (age_init(err) < 0)
        return -1;
    if (p->identity_count == 0 && !p->passphrase)
        return error_set(err, ERR_CONFIG, "age: no identity and no passphrase to decrypt with");
    d = xcalloc(1, sizeof(*d));
    d->base.ops = &age_decrypt_ops;
    d->phase = AGE_PHASE_HEADER;
    buf_init(&d->header, AGE_HEADER_MAX);
    if (p->identity_count > 0) {
        d->identities = xcalloc(p->identity_count, sizeof(*d->identities));
        memcpy(d->identities, p->identities, p->identity_count * sizeof(*d->identities));
        d->identity_count = p->identity_count;
    }
    if (p->passphrase) {
        d->passphrase = xmalloc(p->passphrase_len + 1);
        memcpy(d->passphrase, p->passphrase, p->passphrase_len);
        d->passphrase[p->passphrase_len] = '\0';
        d->passphrase_len = p->passphrase_len;
    }
    d->max_log_n = p->max_scrypt_log_n ? p->max_scrypt_log_n : AGE_SCRYPT_LOG_N_MAX;
    *out = &d->base;
    return 0;
}
