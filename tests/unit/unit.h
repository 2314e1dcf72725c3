/* The unit-test harness. Each test_<module>.c exports `const struct unit_test <module>_tests[]`,
 * ended by {NULL, NULL}, and is listed in unit_main.c. Every test runs in a forked child, so a
 * crash or an abort fails that one named test; a CHECK failure prints file:line and the values, and
 * ends the test. */
#ifndef PERMAFROST_TESTS_UNIT_H
#define PERMAFROST_TESTS_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

struct unit_test {
    const char *name;
    void (*fn)(void);
};

/* Directory of committed fixtures (tests/fixtures), and a scratch directory made fresh for each
 * test. */
const char *unit_fixture_dir(void);
const char *unit_tmp_dir(void);

/* Runs argv[0] from PATH without a shell, stdin and stdout on the given files (NULL: /dev/null).
 * Returns the exit status, or -1 when it could not start or died by a signal. */
int unit_run_cmd(const char *const *argv, const char *stdin_path, const char *stdout_path);

__attribute__((noreturn)) void unit_fail(const char *file, int line, const char *fmt, ...)
    PRINTF(3, 4);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            unit_fail(__FILE__, __LINE__, "CHECK(%s)", #x);                                        \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ != check_b_)                                                                  \
            unit_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, check_a_, check_b_);   \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0)                             \
            unit_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                    \
                      check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");             \
    } while (0)

/* The call must return 0; on failure prints the error message. Uses a local `struct error`. */
#define CHECK_OK(call)                                                                             \
    do {                                                                                           \
        if ((call) != 0)                                                                           \
            unit_fail(__FILE__, __LINE__, "%s failed: %s", #call, unit_last_error()->msg);         \
    } while (0)

/* The call (which must use `&err` as its error argument, a `struct error err` in scope) must fail
 * with the given kind and a message containing substr. */
#define CHECK_ERR(call, err, want_kind, substr)                                                    \
    do {                                                                                           \
        error_clear(&(err));                                                                       \
        if ((call) == 0)                                                                           \
            unit_fail(__FILE__, __LINE__, "%s succeeded, wanted an error", #call);                 \
        if ((err).kind != (want_kind))                                                             \
            unit_fail(__FILE__, __LINE__, "%s: error kind %d, wanted %d (%s): %s", #call,          \
                      (int)(err).kind, (int)(want_kind), #want_kind, (err).msg);                   \
        if (!strstr((err).msg, (substr)))                                                          \
            unit_fail(__FILE__, __LINE__, "%s: message \"%s\" lacks \"%s\"", #call, (err).msg,     \
                      (substr));                                                                   \
    } while (0)

/* An error struct that CHECK_OK reports from; tests pass unit_err() to calls checked with CHECK_OK.
 */
struct error *unit_last_error(void);
#define unit_err() unit_last_error()

#endif
