/* Helpers shared by the Criterion tests. */
#ifndef ELMAN_TEST_SUPPORT_H
#define ELMAN_TEST_SUPPORT_H

#include <stddef.h>

#include "elman/elman.h"

/* Asserts that a call returned EL_OK, printing the library's message if not. */
#define EL_TEST_OK(call)                                                                           \
    do {                                                                                           \
        el_status el_test_status_ = (call);                                                        \
        cr_assert_eq(el_test_status_, EL_OK, "%s returned %s: %s", #call,                          \
                     el_status_name(el_test_status_), el_last_error());                            \
    } while (0)

/* Asserts that a call failed with the given status. */
#define EL_TEST_FAILS(call, status)                                                                \
    do {                                                                                           \
        el_status el_test_status_ = (call);                                                        \
        cr_assert_eq(el_test_status_, (status), "%s returned %s, expected %s", #call,              \
                     el_status_name(el_test_status_), el_status_name(status));                     \
    } while (0)

/* Asserts |got[i] - want[i]| <= atol + rtol * |want[i]| for every i, and
 * reports the worst element (index, both values) when it fails. */
void el_test_assert_close(const char *what, const float *got, const float *want, size_t n,
                          double rtol, double atol);

/* Under AddressSanitizer, fails the test if anything has leaked so far:
 * LeakSanitizer's report when a Criterion worker exits does not fail it.
 * Does nothing in other builds. */
void el_test_assert_no_leaks(void);

/* A tensor of the given shape filled with uniform values in [low, high). */
void el_test_random_tensor(el_tensor *t, el_rng *rng, int ndim, const int *shape, float low,
                           float high);

#endif
