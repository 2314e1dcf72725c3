/* The documented, stable exit codes (docs/exit-codes.md). The only place error kinds become codes.
 */
#ifndef PERMAFROST_CLI_EXIT_CODES_H
#define PERMAFROST_CLI_EXIT_CODES_H

#include "util/error.h"

enum exit_code {
    EXIT_OK = 0,
    EXIT_FAILURE_ = 1,
    EXIT_USAGE = 2,
    EXIT_CONFIG = 3,
    EXIT_INTEGRITY = 4,
    EXIT_LOCKED = 5,
    EXIT_CANCELLED = 130,
};

int exit_code_for(enum err_kind kind);

#endif
