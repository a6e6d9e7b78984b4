/* A finite-difference gradient checker for the Criterion tests.
 *
 * The caller writes the forward pass as a scalar loss of its tensors, usually
 * sum(w * y) with a fixed random w, so that the upstream gradient dy is w,
 * and computes the analytic gradient of that loss for one tensor x with the
 * backward functions.  The checker moves each element of x by +-eps, takes
 * the central difference of the loss and compares it with the analytic
 * gradient by the relative error |a - n| / max(|a| + |n|, floor).
 *
 * Any tensor can be checked: an input, a parameter's value (with its grad as
 * the analytic gradient), a bias.  The loss must be a function of the
 * tensors' current contents alone (no fresh random draws, no accumulation
 * into a buffer it does not reset); the checker verifies that it returns the
 * same value before and after the perturbations. */
#ifndef ELMAN_TEST_GRADCHECK_H
#define ELMAN_TEST_GRADCHECK_H

#include <stddef.h>

#include "elman/elman.h"

/* The forward pass: evaluates the loss from the tensors ctx points at. */
typedef double (*el_test_loss_fn)(void *ctx);

typedef struct el_test_gradcheck_opts {
    double eps;       /* half the central-difference step */
    double tolerance; /* the largest relative error accepted */
    double floor;     /* the smallest denominator of the relative error, so
                         that float32 rounding noise on a zero gradient is
                         not taken for a relative error of 1 */
} el_test_gradcheck_opts;

/* Suited to float32 losses of order 1 over a few dozen elements. */
#define EL_TEST_GRADCHECK_DEFAULTS ((el_test_gradcheck_opts){1e-2, 1e-2, 1e-3})

typedef struct el_test_gradcheck_result {
    size_t worst;      /* the element with the largest relative error */
    double analytic;   /* its analytic gradient */
    double numeric;    /* its central difference */
    double error;      /* its relative error; infinite when either is not finite */
    int deterministic; /* 1 if the loss was the same before and after */
} el_test_gradcheck_result;

/* The sum of w * y over all elements, accumulated in double: the loss whose
 * gradient with respect to y is w. */
double el_test_weighted_sum(const el_tensor *w, const el_tensor *y);

/* Compares analytic (x's element count) with central differences of loss
 * with respect to every element of x and returns the worst element without
 * asserting anything.  x is restored exactly, and loss is evaluated once
 * more at the end so that whatever it computes matches x again.  opts may be
 * NULL for the defaults. */
el_test_gradcheck_result el_test_gradcheck_compare(el_test_loss_fn loss, void *ctx, el_tensor *x,
                                                   const el_tensor *analytic,
                                                   const el_test_gradcheck_opts *opts);

/* The same, failing the test (naming what, the worst element, both values
 * and the relative error) when the error exceeds the tolerance or the loss
 * is not deterministic. */
void el_test_gradcheck(const char *what, el_test_loss_fn loss, void *ctx, el_tensor *x,
                       const el_tensor *analytic, const el_test_gradcheck_opts *opts);

#endif
