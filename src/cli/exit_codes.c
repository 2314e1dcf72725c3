#include "cli/exit_codes.h"

int exit_code_for(enum err_kind kind)
{
    switch (kind) {
    case ERR_NONE:
        return EXIT_OK;
    case ERR_USAGE:
        return EXIT_USAGE;
    case ERR_CONFIG:
        return EXIT_CONFIG;
    case ERR_INTEGRITY:
        return EXIT_INTEGRITY;
    case ERR_LOCKED:
        return EXIT_LOCKED;
    case ERR_CANCELLED:
        return EXIT_CANCELLED;
    case ERR_IO:
    case ERR_NETWORK:
    case ERR_REMOTE:
    case ERR_FAILED:
        return EXIT_FAILURE_;
    }
    return EXIT_FAILURE_;
}
