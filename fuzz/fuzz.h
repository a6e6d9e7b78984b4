/* What the fuzz targets share: libFuzzer's entry point and the check that
 * turns a broken property into a crash, which libFuzzer reports and keeps
 * the input of.  Sanitizers catch memory errors, leaks and undefined
 * behaviour; FUZZ_CHECK catches answers that are wrong without crashing. */
#ifndef ELMAN_FUZZ_H
#define ELMAN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "elman/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(condition)                                                                      \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "%s:%d: %s does not hold (last error: %s)\n", __FILE__, __LINE__,      \
                    #condition, el_last_error());                                                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
