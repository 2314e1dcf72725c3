#include "unit.h"

const struct unit_test s3_sign_tests[] = {
    {NULL, NULL},
};
