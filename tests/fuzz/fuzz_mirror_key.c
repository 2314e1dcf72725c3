/* libFuzzer target for the mirror's glob matcher and key checks (stub; being written). */
#include <stddef.h>
#include <stdint.h>

#include "mirror/filter.h"
#include "mirror/key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mirror_key_local_problem((const char *)data, size);
    (void)mirror_key_s3_problem((const char *)data, size);
    return 0;
}
