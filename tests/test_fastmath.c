/* The branch-free exp, sigmoid and tanh of src/core/fastmath.h, which the
 * recurrent cells use instead of libm's, against libm's double-precision
 * results: over a dense sweep of the range the cells see, their relative
 * error stays within a few units in the last place of a float (2^-23 is
 * one ulp at 1); at the clamps and at infinities they stay finite and
 * saturate; NaN stays NaN. */
#include <criterion/criterion.h>
#include <math.h>

#include "core/fastmath.h"

#define ULP 1.1920929e-7 /* 2^-23 */

typedef float unary_fn(float);
typedef double reference_fn(double);

static double sigmoid_double(double x) { return 1.0 / (1.0 + exp(-x)); }

/* The largest relative error of f against want over [from, to] in steps
 * of step, reported with where it happened. */
static double worst_relative_error(unary_fn *f, reference_fn *want, float from, float to,
                                   float step, float *where)
{
    double worst = 0;
    for (float x = from; x <= to; x += step) {
        double w = want((double)x), got = f(x);
        double error = w == 0 ? fabs(got) : fabs(got - w) / fabs(w);
        if (error > worst) {
            worst = error;
            *where = x;
        }
    }
    return worst;
}

static float fast_exp(float x) { return el__exp(x); }
static float fast_sigmoid(float x) { return el__sigmoid(x); }
static float fast_tanh(float x) { return el__tanh(x); }

Test(fastmath, exp_is_within_a_few_ulp_where_it_is_a_normal_float)
{
    float where = 0;
    double worst = worst_relative_error(fast_exp, exp, -87.0f, 88.0f, 1.0f / 1024, &where);
    cr_log_info("exp: worst relative error %.3g (%.2f ulp) at %g", worst, worst / ULP, where);
    cr_assert(worst < 4 * ULP, "exp(%g) is off by %.2f ulp", where, worst / ULP);
}

Test(fastmath, sigmoid_is_within_a_few_ulp)
{
    float where = 0;
    double worst =
        worst_relative_error(fast_sigmoid, sigmoid_double, -40.0f, 40.0f, 1.0f / 1024, &where);
    cr_log_info("sigmoid: worst relative error %.3g (%.2f ulp) at %g", worst, worst / ULP, where);
    cr_assert(worst < 4 * ULP, "sigmoid(%g) is off by %.2f ulp", where, worst / ULP);
}

/* Near 0, where 1 - 2 / (1 + e^2x) would cancel, the polynomial takes over;
 * the sweep's fine steps there check the switch at |x| = 0.25. */
Test(fastmath, tanh_is_within_a_few_ulp_near_zero_and_away_from_it)
{
    float where = 0;
    double worst = worst_relative_error(fast_tanh, tanh, -20.0f, 20.0f, 1.0f / 1024, &where);
    cr_log_info("tanh: worst relative error %.3g (%.2f ulp) at %g", worst, worst / ULP, where);
    cr_assert(worst < 4 * ULP, "tanh(%g) is off by %.2f ulp", where, worst / ULP);
    double near = worst_relative_error(fast_tanh, tanh, -0.3f, 0.3f, 1.0f / 65536, &where);
    cr_assert(near < 4 * ULP, "tanh(%g) is off by %.2f ulp", where, near / ULP);
    cr_assert_eq(el__tanh(1e-30f), 1e-30f, "tanh of a tiny x is x");
}

Test(fastmath, saturates_beyond_the_clamps_and_at_infinity)
{
    const float huge[] = {100.0f, 1e10f, INFINITY};
    for (int i = 0; i < 3; i++) {
        float x = huge[i];
        cr_assert(isfinite(el__exp(x)) && el__exp(x) > 1e38f, "exp(%g) = %g", x, el__exp(x));
        cr_assert(el__exp(-x) > 0 && el__exp(-x) < 1e-37f, "exp(%g) = %g", -x, el__exp(-x));
        cr_assert_eq(el__sigmoid(x), 1.0f, "sigmoid(%g) = %g", x, el__sigmoid(x));
        cr_assert(el__sigmoid(-x) >= 0 && el__sigmoid(-x) < 1e-37f, "sigmoid(%g)", -x);
        cr_assert_eq(el__tanh(x), 1.0f, "tanh(%g) = %g", x, el__tanh(x));
        cr_assert_eq(el__tanh(-x), -1.0f, "tanh(%g) = %g", -x, el__tanh(-x));
    }
}

Test(fastmath, nan_stays_nan)
{
    cr_assert(isnan(el__exp(NAN)));
    cr_assert(isnan(el__sigmoid(NAN)));
    cr_assert(isnan(el__tanh(NAN)));
}
