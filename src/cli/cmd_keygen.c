/* permafrost keygen [-o FILE]: a new age identity, in age-keygen's layout, so either tool can read
 * the other's keys; and the --identity FILE reader of restore and verify. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include "cli/commands.h"
#include "io/age.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json_writer.h"
#include "util/xalloc.h"

static const char keygen_usage[] =
    "usage: permafrost keygen [-o FILE]\n"
    "\n"
    "Generates an age identity (an X25519 key pair) for encrypting backups, in the same\n"
    "format as age-keygen. With -o the identity is written to FILE (mode 0600; an\n"
    "existing file is never replaced) and the recipient (age1...) is printed; without\n"
    "it the identity goes to stdout and the recipient to stderr.\n"
    "\n"
    "Put the recipient in the configuration (encrypt = age1...). The identity decrypts\n"
    "every backup: keep a copy off the server (a password manager, a safe), and give it\n"
    "to restores with --identity FILE or identity = file:FILE.\n"
    "\n"
    "  -o, --output FILE   write the identity to FILE\n"
    "\n"
    "examples:\n"
    "  permafrost keygen -o /etc/permafrost/age-identity.txt\n"
    "  age-keygen -y /etc/permafrost/age-identity.txt    # the same recipient, from age\n";

int cli_read_identity(const char *path, struct secret *out, struct error *err)
{
    char *ref = xasprintf("file:%s", path);
    int rc = config_resolve_secret(ref, out, err);

    xfree(ref);
    if (rc < 0) {
        error_wrap(err, "--identity");
        err->kind = ERR_USAGE;
    }
    return rc;
}

static int keygen_write_file(const char *path, const struct buf *text, struct error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc = -1;

    if (fd < 0) {
        if (errno == EEXIST) {
            error_set(err, ERR_USAGE, "'%s' exists; keygen never replaces an identity", path);
            return error_hint(err, "choose another file, or move the old one away if you are "
                                   "sure no backup needs it");
        }
        return error_errno(err, ERR_IO, "cannot create '%s'", path);
    }
    if (fs_write_all(fd, text->data, text->len, path, err) < 0)
        goto out;
    if (fsync(fd) < 0) {
        error_errno(err, ERR_IO, "fsync '%s'", path);
        goto out;
    }
    rc = 0;
out:
    if (close(fd) < 0 && rc == 0)
        rc = error_errno(err, ERR_IO, "close '%s'", path);
    if (rc < 0)
        (void)unlink(path);
    return rc;
}

int cmd_keygen(int argc, char **argv, struct cli_ctx *ctx, struct error *err)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL;
    char recipient[AGE_RECIPIENT_TEXT_MAX];
    struct buf text;
    int rc = -1;
    int c;

    buf_init(&text, BUF_NO_CAP);
    optind = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'h':
            (void)fputs(keygen_usage, stdout);
            rc = 0;
            goto out;
        default:
            error_set(err, ERR_USAGE, "invalid arguments to 'keygen'");
            error_hint(err, "permafrost keygen --help");
            goto out;
        }
    }
    if (optind != argc) {
        error_set(err, ERR_USAGE, "'keygen' takes no arguments besides -o FILE");
        error_hint(err, "permafrost keygen --help");
        goto out;
    }
    if (age_keygen(&text, recipient, err) < 0)
        goto out;
    if (output) {
        if (keygen_write_file(output, &text, err) < 0)
            goto out;
        if (ctx->is_json) {
            struct buf json;
            struct json_writer w;

            buf_init(&json, BUF_NO_CAP);
            json_writer_init(&w, &json);
            json_begin_object(&w);
            json_key_string(&w, "recipient", recipient);
            json_key_string(&w, "identity_file", output);
            json_end_object(&w);
            printf("%s\n", json.data);
            buf_release(&json);
        } else {
            printf("%s\n", recipient);
            if (!ctx->is_quiet)
                fprintf(stderr,
                        "wrote the identity to %s (0600); put the recipient above in encrypt = "
                        "and keep a copy of the file off this server\n",
                        output);
        }
    } else {
        /* The identity itself on stdout, as age-keygen does; the recipient beside it on stderr. */
        if (fwrite(text.data, 1, text.len, stdout) != text.len || fflush(stdout) != 0) {
            error_errno(err, ERR_IO, "write the identity to stdout");
            goto out;
        }
        fprintf(stderr, "Public key: %s\n", recipient);
    }
    rc = 0;
out:
    /* The buffer held the secret key. */
    if (text.data)
        explicit_bzero(text.data, text.len);
    buf_release(&text);
    return rc;
}
