/* Replays a fuzz target's corpus without libFuzzer (zstd's regression driver): every file under the
 * given directories (or the given files) is fed to LLVMFuzzerTestOneInput once. A crash or
 * sanitizer report fails the test; otherwise prints "replay: N passed, 0 failed". */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>

#include "util/buf.h"
#include "util/fs.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    struct buf b;
    struct error err = ERROR_INIT;
    uint8_t *copy;

    buf_init(&b, 64u * 1024u * 1024u);
    if (fs_read_file(path, &b, &err) < 0) {
        fprintf(stderr, "replay: %s\n", err.msg);
        buf_release(&b);
        return -1;
    }
    /* An exact-size heap copy, so ASan sees reads past the end of the input. */
    copy = xmalloc(b.len ? b.len : 1);
    memcpy(copy, b.data, b.len);
    LLVMFuzzerTestOneInput(copy, b.len);
    xfree(copy);
    buf_release(&b);
    return 0;
}

static int replay_path(const char *path, int *count)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    int rc = 0;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: stat '%s': %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (replay_file(path) < 0)
            return -1;
        (*count)++;
        return 0;
    }
    d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        char *child;
        if (de->d_name[0] == '.')
            continue;
        child = xasprintf("%s/%s", path, de->d_name);
        if (replay_path(child, count) < 0)
            rc = -1;
        xfree(child);
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    int count = 0;
    int rc = 0;

    for (int i = 1; i < argc; i++)
        if (replay_path(argv[i], &count) < 0)
            rc = 1;
    if (count == 0) {
        fprintf(stderr, "replay: no corpus files found\n");
        rc = 1;
    }
    printf("replay: %d passed, %d failed\n", rc ? 0 : count, rc ? 1 : 0);
    return rc;
}
