/* libFuzzer target for io/age.c's header parser and decrypting filter: the input goes through
 * age_header_parse, then through a decrypting filter (the test kit's X25519 identity, and the test
 * kit's passphrase with the scrypt cap at 2^10 so a fuzzed work factor stays cheap) fed in two
 * pieces split where the first byte says. Checked as well as memory safety: a parsed header is
 * consistent with the input, every prefix of a complete header is "need more", and a failed
 * stream fails again at finish. Seeds: tests/fuzz/corpus/age_header/ (the test kit's binary files
 * up to 64 KiB, and files from age_tool). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "io/age.h"
#include "io/filter.h"
#include "util/buf.h"
#include "util/error.h"

#define FUZZ_IDENTITY "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_header(const uint8_t *data, size_t size)
{
    struct age_header h;
    struct error err = ERROR_INIT;
    int r = age_header_parse(data, size, &h, &err);

    ASSERT(r >= -1 && r <= 1);
    if (r == 1) {
        struct age_header again;
        ASSERT(h.len <= size && h.stanza_count >= 1);
        ASSERT(h.mac_input_len + 45 == h.len);
        ASSERT(memcmp(data + h.mac_input_len - 3, "---", 3) == 0);
        for (size_t i = 0; i < h.stanza_count; i++) {
            ASSERT(h.stanzas[i].type && h.stanzas[i].type[0]);
            ASSERT(h.stanzas[i].arg_count <= AGE_STANZA_ARGS_MAX);
        }
        /* One byte short of a complete header is never complete. */
        error_clear(&err);
        ASSERT(age_header_parse(data, h.len - 1, &again, &err) != 1);
        age_header_release(&h);
    } else if (r == -1) {
        ASSERT(err.kind == ERR_INTEGRITY && err.msg[0]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct age_identity *ids;
    static size_t id_count;
    struct age_decrypt_params p;
    struct filter *f = NULL;
    struct buf out;
    struct error err = ERROR_INIT;
    size_t split = size ? (size_t)data[0] * size / 256 : 0;
    int rc;

    if (!ids)
        ASSERT(age_identities_parse(FUZZ_IDENTITY, strlen(FUZZ_IDENTITY), &ids, &id_count, &err) ==
               0);
    fuzz_check_header(data, size);
    memset(&p, 0, sizeof(p));
    p.identities = ids;
    p.identity_count = id_count;
    p.passphrase = "password";
    p.passphrase_len = 8;
    p.max_scrypt_log_n = 10;
    buf_init(&out, BUF_NO_CAP);
    ASSERT(age_decrypt_new(&p, &f, &err) == 0);
    rc = filter_process(f, data, split, &out, &err);
    if (rc == 0)
        rc = filter_process(f, data + split, size - split, &out, &err);
    if (rc == 0)
        rc = filter_finish(f, &out, &err);
    else
        ASSERT(filter_finish(f, &out, &err) < 0);
    if (rc < 0)
        ASSERT(err.kind == ERR_INTEGRITY || err.kind == ERR_CONFIG || err.kind == ERR_FAILED);
    ASSERT(out.len <= size);
    filter_free(f);
    buf_release(&out);
    return 0;
}
