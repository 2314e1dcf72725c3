#include "unit.h"

const struct unit_test rclone_conf_tests[] = {
    {NULL, NULL},
};
