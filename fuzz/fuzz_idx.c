/* The IDX reader on arbitrary bytes, plain or gzipped: it refuses them with
 * EL_ERR_FORMAT and an empty result, or its result is consistent (count the
 * product of the dimensions, data present exactly when count is not 0, a
 * plain input exactly as long as its header and elements), and the
 * conversions to floats and labels keep every element. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "elman/idx.h"

static void check_conversions(const el_idx *x)
{
    if (x->ndim <= EL_MAX_DIMS) {
        el_tensor t = {0};
        /* A tensor's rows are an int: an empty idx of 2097152x1024x0 has
         * too many for one, and a full one that large is beyond a fuzzer. */
        el_status s = el_idx_to_tensor(x, &t);
        FUZZ_CHECK(s == EL_OK || x->count == 0);
        FUZZ_CHECK(s || t.size == x->count);
        if (x->type == EL_IDX_UBYTE)
            for (size_t i = 0; i < x->count; i++)
                FUZZ_CHECK(t.data[i] == ((const uint8_t *)x->data)[i]);
        el_tensor_free(&t);
    }
    if (x->ndim == 1 && x->type == EL_IDX_UBYTE) {
        int *labels = malloc(x->count * sizeof *labels + 1);
        FUZZ_CHECK(labels != NULL);
        FUZZ_CHECK(el_idx_to_labels(x, 256, labels, x->count) == EL_OK);
        for (size_t i = 0; i < x->count; i++)
            FUZZ_CHECK(labels[i] == ((const uint8_t *)x->data)[i]);
        free(labels);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    el_idx x;
    memset(&x, 0xA5, sizeof x); /* the reader must reset it */
    el_status s = el_idx_read_memory(&x, data, size, "fuzz");
    if (s) {
        FUZZ_CHECK(s == EL_ERR_FORMAT);
        FUZZ_CHECK(x.data == NULL && x.count == 0 && x.ndim == 0);
        return 0;
    }
    FUZZ_CHECK(x.ndim >= 1 && x.ndim <= EL_IDX_MAX_DIMS);
    size_t count = 1;
    for (int i = 0; i < x.ndim; i++) {
        FUZZ_CHECK(x.dims[i] >= 0);
        count *= (size_t)x.dims[i];
    }
    for (int i = x.ndim; i < EL_IDX_MAX_DIMS; i++) FUZZ_CHECK(x.dims[i] == 0);
    FUZZ_CHECK(count == x.count);
    FUZZ_CHECK((x.data != NULL) == (x.count != 0));
    size_t bytes = 4 + 4 * (size_t)x.ndim + x.count * el_idx_type_size(x.type);
    int gzipped = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gzipped) FUZZ_CHECK(size == bytes);
    check_conversions(&x);
    el_idx_free(&x);
    return 0;
}
