/* Reference results stored as text fixtures, the files in tests/fixtures.
 *
 * tools/make_fixtures.py writes them with PyTorch, so the tests compare with
 * PyTorch without needing it.  A file is a sequence of blocks:
 *
 *     # a comment, only at the start of a line
 *     name ndim d0 d1 ...
 *     v v v ...
 *
 * The header line gives a name without spaces and the shape (ndim 0 .. 4;
 * ndim 0 is a scalar holding one value).  The values follow on the next
 * non-blank lines, whitespace-separated, in row-major order; integers such as
 * class indices are stored as floats.
 *
 * Every function here fails the calling Criterion test with a message naming
 * the file (and line, or array) when the file is missing or malformed or an
 * array is absent, instead of returning an error. */
#ifndef ELMAN_TEST_FIXTURE_H
#define ELMAN_TEST_FIXTURE_H

#include <stddef.h>

#include "elman/elman.h"

#define EL_FIXTURE_NAME_MAX 96

/* Formats an array name into key (EL_FIXTURE_NAME_MAX characters) and
 * returns key; a name that does not fit fails the test. */
const char *el_fixture_key(char *key, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

typedef struct el_fixture_array {
    char name[EL_FIXTURE_NAME_MAX];
    int ndim; /* 0 for a scalar */
    int shape[EL_MAX_DIMS];
    size_t size;
    float *data;
} el_fixture_array;

typedef struct el_fixture {
    char path[1024];
    el_fixture_array *arrays;
    int count;
} el_fixture;

/* Reads file, a name inside the fixture directory (EL_FIXTURE_DIR, set by
 * tests/meson.build to the source tree's tests/fixtures). */
void el_fixture_load(el_fixture *fx, const char *file);
void el_fixture_free(el_fixture *fx);

/* The array called name. */
const el_fixture_array *el_fixture_get(const el_fixture *fx, const char *name);

/* Allocates t as a copy of the array called name (a scalar becomes a tensor
 * of shape (1)); the caller frees it. */
void el_fixture_tensor(const el_fixture *fx, const char *name, el_tensor *t);

/* The value of the scalar called name. */
float el_fixture_scalar(const el_fixture *fx, const char *name);

/* Copies the array called name, which must hold n whole numbers, into out. */
void el_fixture_ints(const el_fixture *fx, const char *name, int *out, size_t n);

/* Asserts that got has the shape of the array called name and that its
 * values are close to it (el_test_assert_close, reporting under the name). */
void el_fixture_expect_tensor(const el_fixture *fx, const char *name, const el_tensor *got,
                              double rtol, double atol);

/* Asserts that got is close to the scalar called name. */
void el_fixture_expect_scalar(const el_fixture *fx, const char *name, float got, double rtol,
                              double atol);

#endif
