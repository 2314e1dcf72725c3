#include "stores/s3_xml.h"
