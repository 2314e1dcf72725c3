#include "stores/s3_sign.h"
