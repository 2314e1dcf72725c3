#include "stores/rclone_conf.h"
