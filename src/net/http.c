/* placeholder */
#include <curl/curl.h>
