/* Weight initialisers: each draw lies within the documented bound, and the
 * sample statistics match the documented formulas, with fan-in and fan-out
 * read from the shape (out, in, k...) as rng.h says. */
#include <criterion/criterion.h>
#include <math.h>

#include "support.h"

typedef struct stats {
    double mean, std, max_abs, low, high;
} stats;

static stats describe(const el_tensor *t)
{
    stats s = {0, 0, 0, INFINITY, -INFINITY};
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < t->size; i++) {
        double x = t->data[i];
        sum += x;
        sum2 += x * x;
        if (fabs(x) > s.max_abs) s.max_abs = fabs(x);
        if (x < s.low) s.low = x;
        if (x > s.high) s.high = x;
    }
    s.mean = sum / (double)t->size;
    s.std = sqrt(sum2 / (double)t->size - s.mean * s.mean);
    return s;
}

/* Checks a zero-mean U(-bound, bound) sample: inside the bound, reaching
 * close to it (a too-small bound fails here), and with std bound / sqrt(3). */
static void assert_uniform(const el_tensor *t, double bound)
{
    stats s = describe(t);
    cr_assert_leq(s.max_abs, bound, "max |x| %.9g exceeds the bound %.9g", s.max_abs, bound);
    cr_assert_gt(s.max_abs, 0.99 * bound, "max |x| %g stays far below the bound %g", s.max_abs,
                 bound);
    cr_assert_lt(fabs(s.mean), 0.05 * bound, "mean %g", s.mean);
    double want = bound / sqrt(3.0);
    cr_assert_lt(fabs(s.std - want), 0.03 * want, "std %g, expected %g", s.std, want);
}

/* Checks a zero-mean N(0, std^2) sample. */
static void assert_normal(const el_tensor *t, double std)
{
    stats s = describe(t);
    cr_assert_lt(fabs(s.mean), 0.05 * std, "mean %g", s.mean);
    cr_assert_lt(fabs(s.std - std), 0.03 * std, "std %g, expected %g", s.std, std);
}

static el_tensor make(int ndim, const int *shape)
{
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_alloc(&t, ndim, shape));
    return t;
}

Test(init, uniform_covers_low_to_high)
{
    el_rng r;
    el_rng_seed(&r, 1);
    el_tensor t = make(1, (int[]){50000});
    EL_TEST_OK(el_init_uniform(&t, &r, -0.5f, 1.5f));
    stats s = describe(&t);
    cr_assert_geq(s.low, -0.5);
    cr_assert_leq(s.high, 1.5);
    cr_assert_lt(s.low, -0.49);
    cr_assert_gt(s.high, 1.49);
    cr_assert_lt(fabs(s.mean - 0.5), 0.02, "mean %g", s.mean);
    cr_assert_lt(fabs(s.std - 2.0 / sqrt(12.0)), 0.02, "std %g", s.std);

    EL_TEST_OK(el_init_uniform(&t, &r, 3.0f, 3.0f));
    for (size_t i = 0; i < t.size; i++) cr_assert_eq(t.data[i], 3.0f);
    el_tensor_free(&t);
}

Test(init, normal_has_the_mean_and_std)
{
    el_rng r;
    el_rng_seed(&r, 2);
    el_tensor t = make(2, (int[]){200, 250});
    EL_TEST_OK(el_init_normal(&t, &r, 2.0f, 0.5f));
    stats s = describe(&t);
    cr_assert_lt(fabs(s.mean - 2.0), 0.01, "mean %g", s.mean);
    cr_assert_lt(fabs(s.std - 0.5), 0.01, "std %g", s.std);

    EL_TEST_OK(el_init_normal(&t, &r, -1.0f, 0.0f));
    for (size_t i = 0; i < t.size; i++) cr_assert_eq(t.data[i], -1.0f);
    el_tensor_free(&t);
}

Test(init, the_same_seed_gives_the_same_weights)
{
    el_rng a, b;
    el_rng_seed(&a, 5);
    el_rng_seed(&b, 5);
    el_tensor x = make(2, (int[]){30, 20}), y = make(2, (int[]){30, 20});
    EL_TEST_OK(el_init_xavier_uniform(&x, &a, 1.0f));
    EL_TEST_OK(el_init_xavier_uniform(&y, &b, 1.0f));
    el_test_assert_close("same seed", x.data, y.data, x.size, 0.0, 0.0);
    el_tensor_free(&x);
    el_tensor_free(&y);
}

/* A (300, 200) weight: fan_in 200, fan_out 300. */
Test(init, xavier_uniform_bound)
{
    el_rng r;
    el_rng_seed(&r, 3);
    el_tensor t = make(2, (int[]){300, 200});
    EL_TEST_OK(el_init_xavier_uniform(&t, &r, 1.0f));
    assert_uniform(&t, sqrt(6.0 / 500.0));
    EL_TEST_OK(el_init_xavier_uniform(&t, &r, 2.0f));
    assert_uniform(&t, 2.0 * sqrt(6.0 / 500.0));
    el_tensor_free(&t);
}

Test(init, xavier_normal_std)
{
    el_rng r;
    el_rng_seed(&r, 4);
    el_tensor t = make(2, (int[]){300, 200});
    EL_TEST_OK(el_init_xavier_normal(&t, &r, 1.5f));
    assert_normal(&t, 1.5 * sqrt(2.0 / 500.0));
    el_tensor_free(&t);
}

/* (50, 400): the two fan modes differ by a factor sqrt(8), so a swapped
 * mode cannot pass. */
Test(init, kaiming_uniform_uses_the_chosen_fan)
{
    el_rng r;
    el_rng_seed(&r, 6);
    el_tensor t = make(2, (int[]){50, 400});
    EL_TEST_OK(el_init_kaiming_uniform(&t, &r, sqrtf(2.0f), EL_FAN_IN));
    assert_uniform(&t, sqrt(2.0) * sqrt(3.0 / 400.0));
    EL_TEST_OK(el_init_kaiming_uniform(&t, &r, sqrtf(2.0f), EL_FAN_OUT));
    assert_uniform(&t, sqrt(2.0) * sqrt(3.0 / 50.0));
    el_tensor_free(&t);
}

Test(init, kaiming_normal_uses_the_chosen_fan)
{
    el_rng r;
    el_rng_seed(&r, 7);
    el_tensor t = make(2, (int[]){50, 400});
    EL_TEST_OK(el_init_kaiming_normal(&t, &r, 1.0f, EL_FAN_IN));
    assert_normal(&t, 1.0 / sqrt(400.0));
    EL_TEST_OK(el_init_kaiming_normal(&t, &r, 1.0f, EL_FAN_OUT));
    assert_normal(&t, 1.0 / sqrt(50.0));
    el_tensor_free(&t);
}

/* (out, in, k1, k2) = (32, 16, 3, 3): the kernel size multiplies both fans,
 * fan_in = 144 and fan_out = 288. */
Test(init, fans_include_the_receptive_field)
{
    el_rng r;
    el_rng_seed(&r, 8);
    el_tensor t = make(4, (int[]){32, 16, 3, 3});
    EL_TEST_OK(el_init_xavier_uniform(&t, &r, 1.0f));
    assert_uniform(&t, sqrt(6.0 / (144.0 + 288.0)));
    EL_TEST_OK(el_init_kaiming_uniform(&t, &r, 1.0f, EL_FAN_IN));
    assert_uniform(&t, sqrt(3.0 / 144.0));
    EL_TEST_OK(el_init_kaiming_uniform(&t, &r, 1.0f, EL_FAN_OUT));
    assert_uniform(&t, sqrt(3.0 / 288.0));
    el_tensor_free(&t);
}

/* A 1-D tensor has fan_in = fan_out = its length. */
Test(init, one_dimensional_fan_is_the_length)
{
    el_rng r;
    el_rng_seed(&r, 9);
    el_tensor t = make(1, (int[]){20000});
    EL_TEST_OK(el_init_kaiming_uniform(&t, &r, 1.0f, EL_FAN_OUT));
    assert_uniform(&t, sqrt(3.0 / 20000.0));
    EL_TEST_OK(el_init_xavier_normal(&t, &r, 1.0f));
    assert_normal(&t, sqrt(2.0 / 40000.0));
    el_tensor_free(&t);
}

Test(init, bad_arguments_are_refused)
{
    el_rng r;
    el_rng_seed(&r, 10);
    el_tensor t = make(2, (int[]){4, 3});
    el_tensor empty = {0}, no_fan = {0};
    EL_TEST_OK(el_tensor_wrap(&no_fan, NULL, 2, (int[]){0, 3}));

    EL_TEST_FAILS(el_init_uniform(&t, &r, 1.0f, -1.0f), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_uniform(&t, &r, NAN, 1.0f), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_normal(&t, &r, 0.0f, -1.0f), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_normal(&t, &r, 0.0f, NAN), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_uniform(NULL, &r, 0.0f, 1.0f), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_uniform(&t, NULL, 0.0f, 1.0f), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_normal(&t, NULL, 0.0f, 1.0f), EL_ERR_INVALID);

    EL_TEST_FAILS(el_init_xavier_uniform(&empty, &r, 1.0f), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_xavier_normal(&no_fan, &r, 1.0f), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_kaiming_uniform(&no_fan, &r, 1.0f, EL_FAN_IN), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_kaiming_normal(&empty, &r, 1.0f, EL_FAN_OUT), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_kaiming_normal(NULL, &r, 1.0f, EL_FAN_IN), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_xavier_uniform(&t, NULL, 1.0f), EL_ERR_INVALID);
    /* A negative or NaN gain makes an empty range or a negative std. */
    EL_TEST_FAILS(el_init_xavier_uniform(&t, &r, -1.0f), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_kaiming_normal(&t, &r, NAN, EL_FAN_IN), EL_ERR_INVALID);

    el_tensor_free(&t);
}

Test(init, a_refused_call_leaves_the_tensor_alone)
{
    el_rng r;
    el_rng_seed(&r, 11);
    el_tensor t = make(1, (int[]){8});
    el_tensor_fill(&t, 7.0f);
    EL_TEST_FAILS(el_init_uniform(&t, &r, 2.0f, 1.0f), EL_ERR_INVALID);
    EL_TEST_FAILS(el_init_xavier_normal(&t, &r, -2.0f), EL_ERR_INVALID);
    for (size_t i = 0; i < t.size; i++) cr_assert_eq(t.data[i], 7.0f);
    el_tensor_free(&t);
}
