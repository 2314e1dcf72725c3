/* Runs every unit test in a forked child and prints one line each, then
 * "unit: N passed, N failed". Arguments filter tests by substring of "suite/test". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "util/fs.h"
#include "util/xalloc.h"

#ifndef UNIT_SUITES_DEF
#define UNIT_SUITES_DEF "suites.def"
#endif

#define SUITE(name) extern const struct unit_test name##_tests[];
#include UNIT_SUITES_DEF
#undef SUITE

struct unit_suite {
    const char *name;
    const struct unit_test *tests;
};

static const struct unit_suite suites[] = {
#define SUITE(name) {#name, name##_tests},
#include UNIT_SUITES_DEF
#undef SUITE
};

static struct error unit_error = ERROR_INIT;
static char unit_tmp[4096];

struct error *unit_last_error(void)
{
    return &unit_error;
}

const char *unit_fixture_dir(void)
{
    const char *d = getenv("PERMAFROST_FIXTURES");
    return d ? d : FIXTURE_DIR;
}

const char *unit_tmp_dir(void)
{
    return unit_tmp;
}

void unit_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fflush(stderr);
    _exit(1);
}

/* Runs argv[0] from PATH with stdin and stdout on files (NULL: /dev/null), without a shell. Returns
 * the exit status, or -1 when it could not start or died by a signal. */
int unit_run_cmd(const char *const *argv, const char *stdin_path, const char *stdout_path)
{
    posix_spawn_file_actions_t fa;
    char *args[16];
    size_t n = 0;
    pid_t pid;
    int status = 0;
    int r;

    for (; argv[n]; n++) {
        CHECK(n < sizeof(args) / sizeof(args[0]) - 1);
        args[n] = xstrdup(argv[n]);
    }
    args[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, stdin_path ? stdin_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, stdout_path ? stdout_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    r = posix_spawnp(&pid, args[0], &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    for (size_t i = 0; i < n; i++)
        xfree(args[i]);
    if (r != 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int unit_run_one(const struct unit_suite *s, const struct unit_test *t)
{
    char tmpl[] = "/tmp/permafrost-unit-XXXXXX";
    struct error err = ERROR_INIT;
    pid_t pid;
    int status = 0;

    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "unit: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(unit_tmp, sizeof(unit_tmp), "%s", tmpl);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        error_clear(&unit_error);
        t->fn();
        fflush(stdout);
        _exit(0);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    fs_remove_tree(tmpl, &err);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok   %s/%s\n", s->name, t->name);
        return 0;
    }
    if (WIFSIGNALED(status))
        printf("FAIL %s/%s (signal %d)\n", s->name, t->name, WTERMSIG(status));
    else
        printf("FAIL %s/%s\n", s->name, t->name);
    return 1;
}

static int unit_matches(int argc, char **argv, const char *suite, const char *test)
{
    char full[512];

    if (argc < 2)
        return 1;
    snprintf(full, sizeof(full), "%s/%s", suite, test);
    for (int i = 1; i < argc; i++)
        if (strstr(full, argv[i]))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int passed = 0;
    int failed = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        for (const struct unit_test *t = suites[i].tests; t->name; t++) {
            if (!unit_matches(argc, argv, suites[i].name, t->name))
                continue;
            if (unit_run_one(&suites[i], t) == 0)
                passed++;
            else
                failed++;
        }
    }
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
