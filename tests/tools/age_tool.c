/* A small command-line front end to io/age.c for interoperability tests with Debian's `age` and for
 * bench/age.sh. Not installed.
 *
 *   age_tool encrypt -r RECIPIENT [-r RECIPIENT...] | -p PASSFILE [-n LOGN]
 *   age_tool decrypt -i IDENTITYFILE | -p PASSFILE
 *   age_tool keygen
 *
 * Data goes from stdin to stdout. A PASSFILE holds the passphrase; one trailing newline (LF or
 * CRLF) is dropped. Failures print "age_tool: <error>" (and a "hint:" line) on stderr and exit 1;
 * usage errors exit 2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "io/age.h"
#include "io/filter.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/xalloc.h"

#define AGE_TOOL_READ_BYTES ((size_t)1 << 20)
#define AGE_TOOL_FILE_MAX   ((size_t)1 << 20)
#define AGE_TOOL_RECIPIENTS 64

static void age_tool_usage(void)
{
    (void)fputs("usage: age_tool encrypt -r RECIPIENT [-r RECIPIENT...] | -p PASSFILE [-n LOGN]\n"
                "       age_tool decrypt -i IDENTITYFILE | -p PASSFILE\n"
                "       age_tool keygen\n",
                stderr);
    exit(2);
}

static int age_tool_read_file(const char *path, struct buf *out, struct error *err)
{
    int fd;
    char chunk[4096];
    int rc = -1;

    if (!path)
        return error_set(err, ERR_USAGE, "no file given");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_errno(err, ERR_IO, "open '%s'", path);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error_errno(err, ERR_IO, "read '%s'", path);
            goto out;
        }
        if (n == 0)
            break;
        if (!buf_add(out, chunk, (size_t)n)) {
            error_set(err, ERR_IO, "'%s' is larger than %zu bytes", path, out->max_len);
            goto out;
        }
    }
    rc = 0;
out:
    explicit_bzero(chunk, sizeof(chunk));
    (void)close(fd);
    return rc;
}

static int age_tool_write_all(const char *data, size_t len, struct error *err)
{
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return error_errno(err, ERR_IO, "write to stdout");
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* stdin -> filter -> stdout. */
static int age_tool_pump(struct filter *f, struct error *err)
{
    char *in = xmalloc(AGE_TOOL_READ_BYTES);
    struct buf out;
    int rc = -1;

    buf_init(&out, BUF_NO_CAP);
    for (;;) {
        ssize_t n = read(STDIN_FILENO, in, AGE_TOOL_READ_BYTES);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error_errno(err, ERR_IO, "read stdin");
            goto out;
        }
        if (n == 0)
            break;
        if (filter_process(f, in, (size_t)n, &out, err) < 0)
            goto out;
        if (age_tool_write_all(out.data, out.len, err) < 0)
            goto out;
        buf_reset(&out);
    }
    if (filter_finish(f, &out, err) < 0)
        goto out;
    if (age_tool_write_all(out.data, out.len, err) < 0)
        goto out;
    rc = 0;
out:
    buf_release(&out);
    xfree(in);
    return rc;
}

static int age_tool_read_passphrase(const char *path, struct buf *pass, struct error *err)
{
    if (age_tool_read_file(path, pass, err) < 0)
        return -1;
    if (pass->len > 0 && pass->data[pass->len - 1] == '\n')
        pass->data[--pass->len] = '\0';
    if (pass->len > 0 && pass->data[pass->len - 1] == '\r')
        pass->data[--pass->len] = '\0';
    return 0;
}

static int age_tool_encrypt(int argc, char **argv, struct error *err)
{
    struct age_recipient recipients[AGE_TOOL_RECIPIENTS];
    struct age_encrypt_params p = {0};
    struct filter *f = NULL;
    struct buf pass;
    const char *pass_path = NULL;
    size_t count = 0;
    int opt;
    int rc = -1;

    buf_init(&pass, AGE_TOOL_FILE_MAX);
    while ((opt = getopt(argc, argv, "r:p:n:")) != -1) {
        switch (opt) {
        case 'r':
            if (count == AGE_TOOL_RECIPIENTS) {
                error_set(err, ERR_USAGE, "more than %d recipients", AGE_TOOL_RECIPIENTS);
                goto out;
            }
            if (age_recipient_parse(optarg, &recipients[count], err) < 0)
                goto out;
            count++;
            break;
        case 'p':
            pass_path = optarg;
            break;
        case 'n': {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > AGE_SCRYPT_LOG_N_MAX) {
                error_set(err, ERR_USAGE, "-n: a work factor from 1 to %d", AGE_SCRYPT_LOG_N_MAX);
                goto out;
            }
            p.scrypt_log_n = (int)v;
            break;
        }
        default:
            age_tool_usage();
        }
    }
    if (optind != argc || (count == 0) == (pass_path == NULL))
        age_tool_usage();
    if (pass_path) {
        if (age_tool_read_passphrase(pass_path, &pass, err) < 0)
            goto out;
        p.passphrase = pass.data;
        p.passphrase_len = pass.len;
    }
    p.recipients = recipients;
    p.recipient_count = count;
    if (age_encrypt_new(&p, &f, err) < 0)
        goto out;
    rc = age_tool_pump(f, err);
out:
    filter_free(f);
    if (pass.alloc)
        explicit_bzero(pass.data, pass.alloc);
    buf_release(&pass);
    return rc;
}

static int age_tool_decrypt(int argc, char **argv, struct error *err)
{
    struct age_decrypt_params p = {0};
    struct age_identity *ids = NULL;
    size_t id_count = 0;
    struct filter *f = NULL;
    struct buf pass;
    struct buf id_text;
    const char *pass_path = NULL;
    const char *id_path = NULL;
    int opt;
    int rc = -1;

    buf_init(&pass, AGE_TOOL_FILE_MAX);
    buf_init(&id_text, AGE_TOOL_FILE_MAX);
    while ((opt = getopt(argc, argv, "i:p:")) != -1) {
        switch (opt) {
        case 'i':
            id_path = optarg;
            break;
        case 'p':
            pass_path = optarg;
            break;
        default:
            age_tool_usage();
        }
    }
    if (optind != argc || (id_path == NULL) == (pass_path == NULL))
        age_tool_usage();
    if (id_path) {
        if (age_tool_read_file(id_path, &id_text, err) < 0)
            goto out;
        if (age_identities_parse(id_text.data, id_text.len, &ids, &id_count, err) < 0) {
            error_wrap(err, "identity file '%s'", id_path);
            goto out;
        }
        p.identities = ids;
        p.identity_count = id_count;
    } else {
        if (age_tool_read_passphrase(pass_path, &pass, err) < 0)
            goto out;
        p.passphrase = pass.data;
        p.passphrase_len = pass.len;
    }
    if (age_decrypt_new(&p, &f, err) < 0)
        goto out;
    rc = age_tool_pump(f, err);
out:
    filter_free(f);
    age_identities_free(ids, id_count);
    if (pass.alloc)
        explicit_bzero(pass.data, pass.alloc);
    if (id_text.alloc)
        explicit_bzero(id_text.data, id_text.alloc);
    buf_release(&pass);
    buf_release(&id_text);
    return rc;
}

static int age_tool_keygen(int argc, struct error *err)
{
    struct buf text;
    char recipient[AGE_RECIPIENT_TEXT_MAX];
    int rc = -1;

    if (argc != 1)
        age_tool_usage();
    buf_init(&text, BUF_NO_CAP);
    if (age_keygen(&text, recipient, err) < 0)
        goto out;
    if (age_tool_write_all(text.data, text.len, err) < 0)
        goto out;
    (void)fprintf(stderr, "Public key: %s\n", recipient);
    rc = 0;
out:
    if (text.alloc)
        explicit_bzero(text.data, text.alloc);
    buf_release(&text);
    return rc;
}

int main(int argc, char **argv)
{
    struct error err = ERROR_INIT;
    int rc;

    if (argc < 2)
        age_tool_usage();
    if (strcmp(argv[1], "encrypt") == 0)
        rc = age_tool_encrypt(argc - 1, argv + 1, &err);
    else if (strcmp(argv[1], "decrypt") == 0)
        rc = age_tool_decrypt(argc - 1, argv + 1, &err);
    else if (strcmp(argv[1], "keygen") == 0)
        rc = age_tool_keygen(argc - 1, &err);
    else
        age_tool_usage();
    if (rc < 0) {
        (void)fprintf(stderr, "age_tool: %s\n", err.msg);
        if (err.hint[0])
            (void)fprintf(stderr, "hint: %s\n", err.hint);
        return err.kind == ERR_USAGE ? 2 : 1;
    }
    return 0;
}
