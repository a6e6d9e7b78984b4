/* The safetensors reader on arbitrary bytes: it refuses them with
 * EL_ERR_FORMAT, or every tensor it then lists can be looked up by name
 * and every view it hands out lies within the data (AddressSanitizer
 * checks each element read). */
#include <string.h>

#include "elman/checkpoint.h"
#include "fuzz.h"

/* Every element read goes here, so that the reads are not optimised away. */
static volatile float float_sink;
static volatile int64_t int_sink;

static void read_views(const el_checkpoint *c, const char *name)
{
    el_tensor view;
    el_status s = el_checkpoint_tensor(c, name, &view);
    FUZZ_CHECK(s == EL_OK || s == EL_ERR_FORMAT);
    for (size_t i = 0; !s && i < view.size; i++) float_sink = view.data[i];
    el_checkpoint_i64 ints;
    el_status t = el_checkpoint_tensor_i64(c, name, &ints);
    FUZZ_CHECK(t == EL_OK || t == EL_ERR_FORMAT);
    FUZZ_CHECK(s || t); /* a tensor has one dtype */
    for (size_t i = 0; !t && i < ints.size; i++) int_sink = ints.data[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    el_checkpoint *c = NULL;
    el_status s = el_checkpoint_read_memory(&c, data, size, "fuzz");
    if (s) {
        FUZZ_CHECK(s == EL_ERR_FORMAT && c == NULL);
        return 0;
    }
    int count = el_checkpoint_count(c);
    FUZZ_CHECK(el_checkpoint_name(c, count) == NULL);
    for (int i = 0; i < count; i++) {
        const char *name = el_checkpoint_name(c, i);
        FUZZ_CHECK(name != NULL);
        read_views(c, name);
    }
    const char *meta = el_checkpoint_meta(c, "format");
    FUZZ_CHECK(meta == NULL || strlen(meta) < size);
    el_checkpoint_free(c);
    return 0;
}
