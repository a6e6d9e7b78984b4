/* Learning-rate schedules: the documented formulas at chosen steps, and the
 * descriptions el_lr_schedule_check refuses. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "support.h"

/* Rates are doubles; the formulas agree to a few rounding errors. */
static void assert_lr(const el_lr_schedule *s, long step, double want)
{
    double got = el_lr_at(s, step);
    cr_assert_leq(fabs(got - want), 1e-12 * fabs(want) + 1e-15, "step %ld: %.17g, expected %.17g",
                  step, got, want);
}

Test(schedule, constant_is_base_lr)
{
    el_lr_schedule s = {.kind = EL_LR_CONSTANT, .base_lr = 0.3};
    EL_TEST_OK(el_lr_schedule_check(&s));
    assert_lr(&s, 0, 0.3);
    assert_lr(&s, 1000000, 0.3);
}

Test(schedule, warmup_rises_linearly_to_base_lr)
{
    el_lr_schedule s = {.kind = EL_LR_CONSTANT, .base_lr = 0.1, .warmup_steps = 4};
    EL_TEST_OK(el_lr_schedule_check(&s));
    for (long step = 0; step < 4; step++) assert_lr(&s, step, (step + 1) / 4.0 * 0.1);
    assert_lr(&s, 4, 0.1);
    assert_lr(&s, 50, 0.1);
}

Test(schedule, step_decay_multiplies_by_gamma_every_step_size)
{
    el_lr_schedule s = {.kind = EL_LR_STEP, .base_lr = 1.0, .step_size = 3, .gamma = 0.5};
    EL_TEST_OK(el_lr_schedule_check(&s));
    assert_lr(&s, 0, 1.0);
    assert_lr(&s, 2, 1.0);
    assert_lr(&s, 3, 0.5);
    assert_lr(&s, 5, 0.5);
    assert_lr(&s, 6, 0.25);
    assert_lr(&s, 30, pow(0.5, 10));
}

/* The decay counts steps from the end of the warm-up. */
Test(schedule, step_decay_starts_after_warmup)
{
    el_lr_schedule s = {
        .kind = EL_LR_STEP, .base_lr = 0.8, .warmup_steps = 2, .step_size = 2, .gamma = 0.1};
    EL_TEST_OK(el_lr_schedule_check(&s));
    assert_lr(&s, 0, 0.4);
    assert_lr(&s, 1, 0.8);
    assert_lr(&s, 2, 0.8);
    assert_lr(&s, 3, 0.8);
    assert_lr(&s, 4, 0.8 * 0.1);
    assert_lr(&s, 6, 0.8 * 0.1 * 0.1);
}

Test(schedule, cosine_endpoints_midpoint_and_floor)
{
    el_lr_schedule s = {.kind = EL_LR_COSINE, .base_lr = 1.0, .total_steps = 100, .min_lr = 0.1};
    EL_TEST_OK(el_lr_schedule_check(&s));
    assert_lr(&s, 0, 1.0);
    assert_lr(&s, 50, 0.55);
    assert_lr(&s, 25, 0.1 + 0.9 * (1.0 + cos(3.14159265358979323846 / 4)) / 2);
    assert_lr(&s, 100, 0.1);
    assert_lr(&s, 1000, 0.1);
    double previous = el_lr_at(&s, 0);
    for (long step = 1; step <= 100; step++) {
        double lr = el_lr_at(&s, step);
        cr_assert_leq(lr, previous, "step %ld rises from %g to %g", step, previous, lr);
        cr_assert_geq(lr, 0.1);
        previous = lr;
    }
}

Test(schedule, cosine_after_warmup)
{
    el_lr_schedule s = {.kind = EL_LR_COSINE,
                        .base_lr = 2.0,
                        .warmup_steps = 10,
                        .total_steps = 110,
                        .min_lr = 0.0};
    EL_TEST_OK(el_lr_schedule_check(&s));
    assert_lr(&s, 0, 0.2);
    assert_lr(&s, 9, 2.0);
    assert_lr(&s, 10, 2.0);
    assert_lr(&s, 60, 1.0);
    assert_lr(&s, 110, 0.0);
    assert_lr(&s, 500, 0.0);
}

Test(schedule, check_refuses_bad_descriptions)
{
    const el_lr_schedule bad[] = {
        {.kind = EL_LR_CONSTANT, .base_lr = -0.1},
        {.kind = EL_LR_CONSTANT, .base_lr = NAN},
        {.kind = EL_LR_CONSTANT, .base_lr = 0.1, .warmup_steps = -1},
        {.kind = EL_LR_STEP, .base_lr = 0.1, .step_size = 0, .gamma = 0.5},
        {.kind = EL_LR_STEP, .base_lr = 0.1, .step_size = 5, .gamma = 0.0},
        {.kind = EL_LR_STEP, .base_lr = 0.1, .step_size = 5, .gamma = -0.5},
        {.kind = EL_LR_COSINE, .base_lr = 0.1, .total_steps = 0},
        {.kind = EL_LR_COSINE, .base_lr = 0.1, .warmup_steps = 10, .total_steps = 10},
        {.kind = EL_LR_COSINE, .base_lr = 0.1, .total_steps = 10, .min_lr = 0.2},
        {.kind = EL_LR_COSINE, .base_lr = 0.1, .total_steps = 10, .min_lr = -0.01},
        {.kind = (el_lr_kind)42, .base_lr = 0.1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        el_clear_error();
        cr_assert_eq(el_lr_schedule_check(&bad[i]), EL_ERR_INVALID, "description %zu accepted", i);
        cr_assert(strstr(el_last_error(), "el_lr_schedule_check") != NULL,
                  "description %zu: message \"%s\"", i, el_last_error());
    }
    EL_TEST_FAILS(el_lr_schedule_check(NULL), EL_ERR_INVALID);
}

Test(schedule, check_accepts_edge_descriptions)
{
    const el_lr_schedule good[] = {
        {.kind = EL_LR_CONSTANT, .base_lr = 0.0},
        {.kind = EL_LR_STEP, .base_lr = 0.1, .step_size = 1, .gamma = 1.0},
        {.kind = EL_LR_COSINE, .base_lr = 0.1, .warmup_steps = 9, .total_steps = 10, .min_lr = 0.1},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        EL_TEST_OK(el_lr_schedule_check(&good[i]));
}

Test(schedule, defaults_are_valid_and_span_the_steps)
{
    el_lr_schedule c = el_lr_schedule_defaults(EL_LR_CONSTANT, 0.01, 90);
    cr_assert_eq(el_lr_schedule_check(&c), EL_OK);
    cr_assert_float_eq(el_lr_at(&c, 89), 0.01, 1e-12);

    el_lr_schedule st = el_lr_schedule_defaults(EL_LR_STEP, 0.01, 90);
    cr_assert_eq(el_lr_schedule_check(&st), EL_OK);
    cr_assert_float_eq(el_lr_at(&st, 29), 0.01, 1e-12);
    cr_assert_float_eq(el_lr_at(&st, 30), 0.001, 1e-12);
    el_lr_schedule one = el_lr_schedule_defaults(EL_LR_STEP, 0.01, 1);
    cr_assert_eq(el_lr_schedule_check(&one), EL_OK);

    el_lr_schedule cos = el_lr_schedule_defaults(EL_LR_COSINE, 0.01, 90);
    cr_assert_eq(el_lr_schedule_check(&cos), EL_OK);
    cr_assert_float_eq(el_lr_at(&cos, 0), 0.01, 1e-12);
    cr_assert_float_eq(el_lr_at(&cos, 45), 0.005, 1e-9);
    cr_assert_float_eq(el_lr_at(&cos, 90), 0.0, 1e-12);
}
