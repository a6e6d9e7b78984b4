#include <criterion/criterion.h>
#include <math.h>

#include "gradcheck.h"

double el_test_weighted_sum(const el_tensor *w, const el_tensor *y)
{
    cr_assert_eq(w->size, y->size, "weighted sum: w has %zu elements, y has %zu", w->size, y->size);
    double s = 0;
    for (size_t i = 0; i < y->size; i++) s += (double)w->data[i] * y->data[i];
    return s;
}

/* The relative error of one element; NaN or infinity counts as the worst. */
static double relative_error(double analytic, double numeric, double least_denominator)
{
    if (!isfinite(analytic) || !isfinite(numeric)) return INFINITY;
    return fabs(analytic - numeric) / fmax(fabs(analytic) + fabs(numeric), least_denominator);
}

el_test_gradcheck_result el_test_gradcheck_compare(el_test_loss_fn loss, void *ctx, el_tensor *x,
                                                   const el_tensor *analytic,
                                                   const el_test_gradcheck_opts *opts)
{
    el_test_gradcheck_opts o = opts ? *opts : EL_TEST_GRADCHECK_DEFAULTS;
    cr_assert_eq(analytic->size, x->size, "gradcheck: the gradient has %zu elements, x has %zu",
                 analytic->size, x->size);
    el_test_gradcheck_result r = {.error = -1};
    double before = loss(ctx);
    for (size_t i = 0; i < x->size; i++) {
        float orig = x->data[i];
        /* x +- eps is rounded to float: divide by the step actually taken. */
        float up = (float)(orig + o.eps), down = (float)(orig - o.eps);
        x->data[i] = up;
        double loss_up = loss(ctx);
        x->data[i] = down;
        double loss_down = loss(ctx);
        x->data[i] = orig;
        double numeric = (loss_up - loss_down) / ((double)up - (double)down);
        double err = relative_error(analytic->data[i], numeric, o.floor);
        if (err > r.error) {
            r.worst = i;
            r.analytic = analytic->data[i];
            r.numeric = numeric;
            r.error = err;
        }
    }
    double after = loss(ctx);
    /* Bitwise equal: the same inputs through the same code give the same
     * float operations, so any difference means hidden state. */
    r.deterministic = before == after;
    if (x->size == 0) r.error = 0;
    return r;
}

void el_test_gradcheck(const char *what, el_test_loss_fn loss, void *ctx, el_tensor *x,
                       const el_tensor *analytic, const el_test_gradcheck_opts *opts)
{
    el_test_gradcheck_opts o = opts ? *opts : EL_TEST_GRADCHECK_DEFAULTS;
    el_test_gradcheck_result r = el_test_gradcheck_compare(loss, ctx, x, analytic, &o);
    char shape[64];
    el_tensor_shape_string(x, shape, sizeof shape);
    cr_assert(r.deterministic,
              "%s: the loss changed between two evaluations at the same point, so it depends "
              "on more than its tensors (a fresh random draw, an unreset accumulator?)",
              what);
    cr_assert(r.error <= o.tolerance,
              "%s: element %zu of %s: analytic %.9g, numeric %.9g, relative error %.3g > %.3g "
              "(eps %g)",
              what, r.worst, shape, r.analytic, r.numeric, r.error, o.tolerance, o.eps);
}
