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

/* ---- out-of-memory sweeps ------------------------------------------------ */

/* One attempt of a sweep: makes the call under test, alone, between
 * el_test_arm(n) and el_test_disarm (its own setup runs before the one,
 * its checks and frees after the other), checks what a failure left
 * behind, frees everything and returns the call's status. */
typedef el_status (*el_test_attempt)(long n);

/* Lets n more allocations succeed, then fails every one. */
void el_test_arm(long n);

/* Lets every allocation succeed again and returns s, failing the test
 * unless s is EL_OK or an out-of-memory failure (EL_ERR_NOMEM, with
 * "memory" in its message). */
el_status el_test_disarm(el_status s);

/* Runs attempt for n = 0, 1, 2, ... allocations allowed until it succeeds,
 * at most `most` times: every earlier attempt must fail out of memory, the
 * first one included (so the call does allocate and the hook reached it),
 * and nothing may leak on any path.  what names the call in messages. */
void el_test_sweep(const char *what, el_test_attempt attempt, long most);

/* A test program's temporary directory: made under /tmp with name in it
 * (dir receives its path), removed with everything in it; the entries in
 * it, which shows a leftover temporary file. */
void el_test_make_dir(char dir[static 64], const char *name);
void el_test_remove_tree(const char *path);
int el_test_count_entries(const char *dir);

/* A whole file read into memory (malloc'd, one byte to spare; *size its
 * length) or written from it; any failure fails the test. */
unsigned char *el_test_read_file(const char *path, size_t *size);
void el_test_write_file(const char *path, const void *bytes, size_t n);

#endif
