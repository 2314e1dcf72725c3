#include "unit.h"

const struct unit_test s3_xml_tests[] = {
    {NULL, NULL},
};
