/* Optimizers and parameters as a caller sees them: the named state, the
 * step count, configuration checks, gradient clipping, and that SGD with
 * momentum and Adam actually minimise something.  The update formulas
 * themselves are compared with PyTorch elsewhere. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "support.h"

/* A dense layer "fc" (3 -> 2, with bias) and the list of its parameters. */
typedef struct model {
    el_dense fc;
    el_param_list list;
} model;

static void model_init(model *m)
{
    memset(m, 0, sizeof *m);
    el_rng rng;
    el_rng_seed(&rng, 1);
    EL_TEST_OK(el_dense_init(&m->fc, "fc", 3, 2, 1, &rng));
    EL_TEST_OK(el_dense_params(&m->fc, &m->list));
}

static void model_free(model *m)
{
    el_param_list_free(&m->list);
    el_dense_free(&m->fc);
}

static el_optimizer *create(el_optimizer_config config, const el_param_list *list)
{
    el_optimizer *opt = NULL;
    EL_TEST_OK(el_optimizer_create(&opt, &config, list));
    cr_assert_not_null(opt);
    return opt;
}

static el_optimizer_config sgd_momentum(double lr, double momentum)
{
    el_optimizer_config c = el_optimizer_defaults(EL_OPT_SGD);
    c.lr = lr;
    c.momentum = momentum;
    return c;
}

/* Asserts the state names in order and that each has its parameter's shape. */
static void assert_state_names(el_optimizer *opt, const model *m, const char *const *want,
                               int count)
{
    cr_assert_eq(el_optimizer_state_count(opt), count);
    for (int i = 0; i < count; i++) {
        const char *name = NULL;
        el_tensor *value = NULL;
        EL_TEST_OK(el_optimizer_state_at(opt, i, &name, &value));
        cr_assert_str_eq(name, want[i]);
        cr_assert_eq(el_optimizer_find_state(opt, want[i]), value, "find_state(\"%s\")", want[i]);
        const el_param *p = i < count / 2 ? &m->fc.weight : &m->fc.bias;
        cr_assert(el_tensor_same_shape(value, &p->value), "%s has the shape of %s", name, p->name);
        for (size_t j = 0; j < value->size; j++) cr_assert_eq(value->data[j], 0.0f);
    }
}

Test(optim, adam_state_is_named_as_in_pytorch)
{
    static const char *const want[] = {"fc.weight.exp_avg", "fc.weight.exp_avg_sq",
                                       "fc.bias.exp_avg", "fc.bias.exp_avg_sq"};
    model m;
    model_init(&m);
    el_optimizer *adam = create(el_optimizer_defaults(EL_OPT_ADAM), &m.list);
    assert_state_names(adam, &m, want, 4);
    el_optimizer *adamw = create(el_optimizer_defaults(EL_OPT_ADAMW), &m.list);
    assert_state_names(adamw, &m, want, 4);
    el_optimizer_free(adam);
    el_optimizer_free(adamw);
    model_free(&m);
}

Test(optim, sgd_state_exists_only_with_momentum)
{
    static const char *const want[] = {"fc.weight.momentum_buffer", "fc.bias.momentum_buffer"};
    model m;
    model_init(&m);
    el_optimizer *with = create(sgd_momentum(0.1, 0.9), &m.list);
    assert_state_names(with, &m, want, 2);
    el_optimizer *without = create(sgd_momentum(0.1, 0.0), &m.list);
    cr_assert_eq(el_optimizer_state_count(without), 0);
    cr_assert_null(el_optimizer_find_state(without, "fc.weight.momentum_buffer"));
    el_optimizer_free(with);
    el_optimizer_free(without);
    model_free(&m);
}

Test(optim, find_state_returns_null_for_unknown_names)
{
    model m;
    model_init(&m);
    el_optimizer *opt = create(el_optimizer_defaults(EL_OPT_ADAM), &m.list);
    cr_assert_null(el_optimizer_find_state(opt, "fc.weight.momentum_buffer"));
    cr_assert_null(el_optimizer_find_state(opt, "fc.weight"));
    cr_assert_null(el_optimizer_find_state(opt, "fc.weight.exp_avg.x"));
    cr_assert_null(el_optimizer_find_state(opt, ""));
    cr_assert_null(el_optimizer_find_state(opt, NULL));
    cr_assert_null(el_optimizer_find_state(NULL, "fc.weight.exp_avg"));

    const char *name = "untouched";
    EL_TEST_FAILS(el_optimizer_state_at(opt, 4, &name, NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_optimizer_state_at(opt, -1, &name, NULL), EL_ERR_INVALID);
    cr_assert_str_eq(name, "untouched");
    el_optimizer_free(opt);
    model_free(&m);
}

/* Fills every gradient of the model with value. */
static void set_grads(model *m, float value)
{
    el_tensor_fill(&m->fc.weight.grad, value);
    el_tensor_fill(&m->fc.bias.grad, value);
}

/* After one step each named state holds what its name says: the momentum
 * buffer starts at the gradient, Adam's averages at (1 - beta) g and g^2. */
Test(optim, named_state_holds_its_slot)
{
    model m;
    model_init(&m);
    set_grads(&m, 2.0f);
    el_optimizer *sgd = create(sgd_momentum(0.1, 0.9), &m.list);
    EL_TEST_OK(el_optimizer_step(sgd));
    el_tensor *buffer = el_optimizer_find_state(sgd, "fc.bias.momentum_buffer");
    for (size_t j = 0; j < buffer->size; j++) cr_assert_float_eq(buffer->data[j], 2.0f, 1e-6);

    el_optimizer *adam = create(el_optimizer_defaults(EL_OPT_ADAM), &m.list);
    EL_TEST_OK(el_optimizer_step(adam));
    el_tensor *avg = el_optimizer_find_state(adam, "fc.weight.exp_avg");
    el_tensor *avg_sq = el_optimizer_find_state(adam, "fc.weight.exp_avg_sq");
    for (size_t j = 0; j < avg->size; j++) {
        cr_assert_float_eq(avg->data[j], 0.1f * 2.0f, 1e-6);
        cr_assert_float_eq(avg_sq->data[j], 0.001f * 4.0f, 1e-7);
    }
    el_optimizer_free(sgd);
    el_optimizer_free(adam);
    model_free(&m);
}

/* Loading a checkpoint writes the named state and the step count; the next
 * step must use them.  With a zero gradient and a buffer of 1, SGD moves
 * each weight by lr * momentum. */
Test(optim, written_state_is_used_by_the_next_step)
{
    model m;
    model_init(&m);
    el_optimizer *opt = create(sgd_momentum(0.5, 0.9), &m.list);
    el_tensor_fill(el_optimizer_find_state(opt, "fc.weight.momentum_buffer"), 1.0f);
    el_optimizer_set_step_count(opt, 1);
    float before = m.fc.weight.value.data[0];
    set_grads(&m, 0.0f);
    EL_TEST_OK(el_optimizer_step(opt));
    cr_assert_float_eq(m.fc.weight.value.data[0], before - 0.5f * 0.9f, 1e-6);
    el_optimizer_free(opt);
    model_free(&m);
}

Test(optim, step_count_increments_and_is_settable)
{
    model m;
    model_init(&m);
    el_optimizer *opt = create(el_optimizer_defaults(EL_OPT_ADAM), &m.list);
    cr_assert_eq(el_optimizer_step_count(opt), 0);
    for (long i = 1; i <= 3; i++) {
        EL_TEST_OK(el_optimizer_step(opt));
        cr_assert_eq(el_optimizer_step_count(opt), i);
    }
    el_optimizer_set_step_count(opt, 1000);
    cr_assert_eq(el_optimizer_step_count(opt), 1000);
    EL_TEST_OK(el_optimizer_step(opt));
    cr_assert_eq(el_optimizer_step_count(opt), 1001);
    el_optimizer_free(opt);
    model_free(&m);
}

/* Adam's first step moves every weight by lr against its gradient's sign
 * (bias correction makes m / sqrt(v) = g / |g|); resumed at step 1000 the
 * same state and gradient give a different step, so the count is used. */
Test(optim, adam_bias_correction_follows_the_step_count)
{
    model a, b;
    model_init(&a);
    model_init(&b);
    set_grads(&a, -3.0f);
    set_grads(&b, -3.0f);
    el_optimizer *fresh = create(el_optimizer_defaults(EL_OPT_ADAM), &a.list);
    el_optimizer *resumed = create(el_optimizer_defaults(EL_OPT_ADAM), &b.list);
    el_optimizer_set_step_count(resumed, 1000);
    float before = a.fc.weight.value.data[0];
    EL_TEST_OK(el_optimizer_step(fresh));
    EL_TEST_OK(el_optimizer_step(resumed));
    cr_assert_float_eq(a.fc.weight.value.data[0] - before, 1e-3f, 1e-7);
    cr_assert_gt(fabsf(b.fc.weight.value.data[0] - before - 1e-3f), 1e-4f);
    el_optimizer_free(fresh);
    el_optimizer_free(resumed);
    model_free(&a);
    model_free(&b);
}

Test(optim, set_lr_takes_effect)
{
    model m;
    model_init(&m);
    el_optimizer *opt = create(sgd_momentum(0.1, 0.0), &m.list);
    cr_assert_eq(el_optimizer_lr(opt), 0.1);
    set_grads(&m, 1.0f);
    float w0 = m.fc.bias.value.data[1];
    EL_TEST_OK(el_optimizer_step(opt));
    cr_assert_float_eq(m.fc.bias.value.data[1], w0 - 0.1f, 1e-6);

    el_optimizer_set_lr(opt, 0.5);
    cr_assert_eq(el_optimizer_lr(opt), 0.5);
    cr_assert_eq(el_optimizer_get_config(opt)->lr, 0.5);
    EL_TEST_OK(el_optimizer_step(opt));
    cr_assert_float_eq(m.fc.bias.value.data[1], w0 - 0.6f, 1e-6);
    el_optimizer_free(opt);
    model_free(&m);
}

Test(optim, kind_names_round_trip)
{
    static const char *const names[] = {"sgd", "adam", "adamw"};
    static const el_optimizer_kind kinds[] = {EL_OPT_SGD, EL_OPT_ADAM, EL_OPT_ADAMW};
    for (int i = 0; i < 3; i++) {
        el_optimizer_kind kind = (el_optimizer_kind)-1;
        EL_TEST_OK(el_optimizer_kind_parse(names[i], &kind));
        cr_assert_eq(kind, kinds[i]);
        cr_assert_str_eq(el_optimizer_kind_name(kinds[i]), names[i]);
    }
    el_optimizer_kind kind = EL_OPT_ADAM;
    EL_TEST_FAILS(el_optimizer_kind_parse("adamx", &kind), EL_ERR_INVALID);
    EL_TEST_FAILS(el_optimizer_kind_parse("", &kind), EL_ERR_INVALID);
    EL_TEST_FAILS(el_optimizer_kind_parse("sgd ", &kind), EL_ERR_INVALID);
    EL_TEST_FAILS(el_optimizer_kind_parse(NULL, &kind), EL_ERR_INVALID);
    EL_TEST_FAILS(el_optimizer_kind_parse("sgd", NULL), EL_ERR_INVALID);
    cr_assert_eq(kind, EL_OPT_ADAM, "a refused parse leaves the kind alone");
    cr_assert_not_null(el_optimizer_kind_name((el_optimizer_kind)7));
}

Test(optim, defaults_are_pytorchs)
{
    el_optimizer_config sgd = el_optimizer_defaults(EL_OPT_SGD);
    cr_assert_eq(sgd.kind, EL_OPT_SGD);
    cr_assert_eq(sgd.lr, 0.01);
    cr_assert_eq(sgd.momentum, 0.0);
    cr_assert_eq(sgd.dampening, 0.0);
    cr_assert_eq(sgd.nesterov, 0);
    el_optimizer_config adam = el_optimizer_defaults(EL_OPT_ADAM);
    cr_assert_eq(adam.lr, 1e-3);
    cr_assert_eq(adam.beta1, 0.9);
    cr_assert_eq(adam.beta2, 0.999);
    cr_assert_eq(adam.eps, 1e-8);
    cr_assert_eq(adam.weight_decay, 0.0);
    el_optimizer_config adamw = el_optimizer_defaults(EL_OPT_ADAMW);
    cr_assert_eq(adamw.kind, EL_OPT_ADAMW);
    cr_assert_eq(adamw.lr, 1e-3);
    cr_assert_eq(adamw.weight_decay, 0.01);
}

/* Each config is valid but for one field. */
Test(optim, invalid_configs_are_refused)
{
    static const el_optimizer_config bad[] = {
        {.kind = EL_OPT_SGD, .lr = 0.1, .nesterov = 1},
        {.kind = EL_OPT_SGD, .lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = 1},
        {.kind = EL_OPT_SGD, .lr = -0.1},
        {.kind = EL_OPT_SGD, .lr = NAN},
        {.kind = EL_OPT_SGD, .lr = 0.1, .momentum = -0.5},
        {.kind = EL_OPT_SGD, .lr = 0.1, .weight_decay = -0.01},
        {.kind = EL_OPT_ADAM, .lr = 1e-3, .beta1 = 1.0, .beta2 = 0.999},
        {.kind = EL_OPT_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 1.0},
        {.kind = EL_OPT_ADAMW, .lr = 1e-3, .beta1 = -0.1, .beta2 = 0.999},
        {.kind = EL_OPT_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = -1e-8},
        {.kind = EL_OPT_ADAM, .lr = -1e-3, .beta1 = 0.9, .beta2 = 0.999},
        {.kind = (el_optimizer_kind)9, .lr = 0.1},
    };
    const int n = (int)(sizeof bad / sizeof bad[0]);
    model m;
    model_init(&m);
    for (int i = 0; i < n; i++) {
        el_optimizer *opt = NULL;
        el_clear_error();
        cr_assert_eq(el_optimizer_create(&opt, &bad[i], &m.list), EL_ERR_INVALID,
                     "config %d accepted", i);
        cr_assert_null(opt, "config %d", i);
        cr_assert(strstr(el_last_error(), "el_optimizer_create") != NULL, "config %d: \"%s\"", i,
                  el_last_error());
    }
    model_free(&m);
}

/* The limits of the checks above are inclusive where PyTorch's are. */
Test(optim, edge_configs_are_accepted)
{
    static const el_optimizer_config good[] = {
        {.kind = EL_OPT_SGD, .lr = 0.0},
        {.kind = EL_OPT_SGD, .lr = 0.1, .momentum = 0.9, .nesterov = 1},
        {.kind = EL_OPT_ADAM, .lr = 1e-3, .beta1 = 0.0, .beta2 = 0.0, .eps = 0.0},
    };
    model m;
    model_init(&m);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        el_optimizer_free(create(good[i], &m.list));
    model_free(&m);
}

Test(optim, a_list_that_grew_makes_step_fail)
{
    model m;
    model_init(&m);
    el_optimizer *opt = create(el_optimizer_defaults(EL_OPT_ADAM), &m.list);
    el_param extra;
    EL_TEST_OK(el_param_init(&extra, "head", "weight", 1, (int[]){4}));
    EL_TEST_OK(el_param_list_add(&m.list, &extra));
    set_grads(&m, 1.0f);
    float before = m.fc.weight.value.data[0];
    EL_TEST_FAILS(el_optimizer_step(opt), EL_ERR_STATE);
    cr_assert_eq(m.fc.weight.value.data[0], before, "a refused step updates nothing");
    cr_assert_eq(el_optimizer_step_count(opt), 0);
    el_optimizer_free(opt);
    el_param_free(&extra);
    model_free(&m);
}

Test(optim, a_parameter_that_changed_size_makes_step_fail)
{
    model m;
    model_init(&m);
    el_optimizer *opt = create(sgd_momentum(0.1, 0.9), &m.list);
    EL_TEST_OK(el_tensor_ensure(&m.fc.bias.value, 1, (int[]){5}));
    EL_TEST_OK(el_tensor_ensure(&m.fc.bias.grad, 1, (int[]){5}));
    EL_TEST_FAILS(el_optimizer_step(opt), EL_ERR_STATE);
    cr_assert(strstr(el_last_error(), "fc.bias") != NULL, "\"%s\"", el_last_error());
    el_optimizer_free(opt);
    model_free(&m);
}

Test(optim, zero_grad_clears_every_gradient)
{
    model m;
    model_init(&m);
    el_optimizer *opt = create(el_optimizer_defaults(EL_OPT_SGD), &m.list);
    set_grads(&m, 4.0f);
    el_optimizer_zero_grad(opt);
    cr_assert_eq(el_norm(&m.fc.weight.grad), 0.0);
    cr_assert_eq(el_norm(&m.fc.bias.grad), 0.0);
    set_grads(&m, -1.0f);
    el_param_list_zero_grad(&m.list);
    cr_assert_eq(el_norm(&m.fc.weight.grad) + el_norm(&m.fc.bias.grad), 0.0);
    el_optimizer_free(opt);
    model_free(&m);
}

/* Two one-element parameters with gradients 3 and 4: a global norm of 5. */
typedef struct pair {
    el_param a, b;
    el_param_list list;
} pair;

static void pair_init(pair *p, float ga, float gb)
{
    memset(p, 0, sizeof *p);
    EL_TEST_OK(el_param_init(&p->a, NULL, "a", 1, (int[]){1}));
    EL_TEST_OK(el_param_init(&p->b, NULL, "b", 1, (int[]){1}));
    p->a.grad.data[0] = ga;
    p->b.grad.data[0] = gb;
    EL_TEST_OK(el_param_list_add(&p->list, &p->a));
    EL_TEST_OK(el_param_list_add(&p->list, &p->b));
}

static void pair_free(pair *p)
{
    el_param_list_free(&p->list);
    el_param_free(&p->a);
    el_param_free(&p->b);
}

Test(optim, clip_grad_norm_scales_by_the_global_norm)
{
    pair p;
    pair_init(&p, 3.0f, 4.0f);
    float total = 0;
    EL_TEST_OK(el_clip_grad_norm(&p.list, 10.0f, &total));
    cr_assert_float_eq(total, 5.0f, 1e-6);
    cr_assert_eq(p.a.grad.data[0], 3.0f, "a norm under the limit is left alone");
    cr_assert_eq(p.b.grad.data[0], 4.0f);

    EL_TEST_OK(el_clip_grad_norm(&p.list, 1.0f, &total));
    cr_assert_float_eq(total, 5.0f, 1e-6);
    cr_assert_float_eq(p.a.grad.data[0], 0.6f, 1e-6);
    cr_assert_float_eq(p.b.grad.data[0], 0.8f, 1e-6);
    EL_TEST_OK(el_clip_grad_norm(&p.list, 1.0f, NULL));

    EL_TEST_FAILS(el_clip_grad_norm(&p.list, 0.0f, NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_clip_grad_norm(&p.list, -1.0f, NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_clip_grad_norm(&p.list, NAN, NULL), EL_ERR_INVALID);
    pair_free(&p);
}

Test(optim, clip_grad_norm_refuses_a_non_finite_gradient)
{
    static const float poison[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        pair p;
        pair_init(&p, 30.0f, poison[i]);
        float total = 0;
        EL_TEST_FAILS(el_clip_grad_norm(&p.list, 1.0f, &total), EL_ERR_STATE);
        cr_assert(!isfinite(total), "the reported norm is %g", total);
        cr_assert_eq(p.a.grad.data[0], 30.0f, "the finite gradient is untouched");
        cr_assert(memcmp(&p.b.grad.data[0], &poison[i], sizeof(float)) == 0);
        pair_free(&p);
    }
}

Test(optim, param_list_refuses_a_duplicate_name)
{
    model m;
    model_init(&m);
    el_param twin;
    EL_TEST_OK(el_param_init(&twin, "fc", "bias", 1, (int[]){2}));
    EL_TEST_FAILS(el_param_list_add(&m.list, &twin), EL_ERR_INVALID);
    cr_assert(strstr(el_last_error(), "fc.bias") != NULL, "\"%s\"", el_last_error());
    cr_assert_eq(m.list.count, 2);
    cr_assert_eq(el_param_list_find(&m.list, "fc.bias"), &m.fc.bias, "the original stays");
    cr_assert_null(el_param_list_find(&m.list, "fc"));
    cr_assert_eq(el_param_list_numel(&m.list), 3 * 2 + 2);
    el_param_free(&twin);
    model_free(&m);
}

Test(optim, param_names_join_prefix_and_suffix)
{
    el_param p;
    EL_TEST_OK(el_param_init(&p, "encoder", "weight_ih_l0", 2, (int[]){8, 3}));
    cr_assert_str_eq(p.name, "encoder.weight_ih_l0");
    cr_assert(el_tensor_same_shape(&p.value, &p.grad));
    cr_assert_eq(p.value.size, 24);
    cr_assert_neq(p.value.data, p.grad.data);
    el_param_free(&p);

    EL_TEST_OK(el_param_init(&p, NULL, "scale", 1, (int[]){1}));
    cr_assert_str_eq(p.name, "scale");
    el_param_free(&p);
    EL_TEST_OK(el_param_init(&p, "", "scale", 1, (int[]){1}));
    cr_assert_str_eq(p.name, "scale");
    el_param_free(&p);
}

/* EL_NAME_MAX counts the NUL: 127 characters fit, 128 do not. */
Test(optim, param_name_longer_than_the_limit_is_refused)
{
    char prefix[EL_NAME_MAX];
    memset(prefix, 'p', sizeof prefix);
    prefix[EL_NAME_MAX - 1 - 2] = '\0'; /* "ppp...p" + ".w" = 127 characters */
    el_param p;
    EL_TEST_OK(el_param_init(&p, prefix, "w", 1, (int[]){2}));
    cr_assert_eq(strlen(p.name), EL_NAME_MAX - 1);
    el_param_free(&p);

    EL_TEST_FAILS(el_param_init(&p, prefix, "wx", 1, (int[]){2}), EL_ERR_INVALID);
    cr_assert(strstr(el_last_error(), "el_param_init") != NULL, "\"%s\"", el_last_error());
    cr_assert_null(p.value.data, "nothing is allocated for a refused name");
    cr_assert_null(p.grad.data);
}

/* Minimises ||W - T||^2 (gradient 2 (W - T)) from W = 0 and returns the
 * final distance ||W - T||. */
static double minimise_quadratic(el_optimizer_config config, int steps)
{
    el_rng rng;
    el_rng_seed(&rng, 21);
    el_param w;
    el_param_list list = {0};
    el_tensor target = {0};
    EL_TEST_OK(el_param_init(&w, NULL, "w", 2, (int[]){4, 5}));
    el_test_random_tensor(&target, &rng, 2, (int[]){4, 5}, -1.0f, 1.0f);
    EL_TEST_OK(el_param_list_add(&list, &w));
    el_optimizer *opt = create(config, &list);
    for (int i = 0; i < steps; i++) {
        EL_TEST_OK(el_sub(&w.value, &target, &w.grad));
        EL_TEST_OK(el_scale(&w.grad, 2.0f, &w.grad));
        EL_TEST_OK(el_optimizer_step(opt));
    }
    EL_TEST_OK(el_sub(&w.value, &target, &w.grad));
    double distance = el_norm(&w.grad);
    el_optimizer_free(opt);
    el_param_list_free(&list);
    el_param_free(&w);
    el_tensor_free(&target);
    return distance;
}

Test(optim, sgd_with_momentum_minimises_a_quadratic)
{
    double distance = minimise_quadratic(sgd_momentum(0.05, 0.9), 300);
    cr_assert_lt(distance, 1e-4, "||W - T|| = %g after 300 steps", distance);
}

Test(optim, adam_minimises_a_quadratic)
{
    el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
    config.lr = 0.05;
    double distance = minimise_quadratic(config, 400);
    cr_assert_lt(distance, 1e-4, "||W - T|| = %g after 400 steps", distance);
}

/* The gradient norm is NaN or infinite when one gradient is, and the
 * training steps' check then names the function that found it. */
Test(optim, grad_norm_and_the_finite_check)
{
    el_param a, b;
    EL_TEST_OK(el_param_init(&a, NULL, "a", 1, (int[]){3}));
    EL_TEST_OK(el_param_init(&b, NULL, "b", 1, (int[]){4}));
    el_param_list list = {0};
    EL_TEST_OK(el_param_list_add(&list, &a));
    EL_TEST_OK(el_param_list_add(&list, &b));
    a.grad.data[0] = 3;
    b.grad.data[3] = 4;
    cr_assert_float_eq(el_grad_norm(&list), 5.0, 1e-12);
    EL_TEST_OK(el__check_finite_grads(&list, "step"));
    b.grad.data[1] = INFINITY;
    cr_assert(isinf(el_grad_norm(&list)));
    EL_TEST_FAILS(el__check_finite_grads(&list, "step"), EL_ERR_NONFINITE);
    cr_assert(strstr(el_last_error(), "step: the gradient norm is not finite"), "%s",
              el_last_error());
    EL_TEST_FAILS(el__check_finite_loss(NAN, "step"), EL_ERR_NONFINITE);
    EL_TEST_OK(el__check_finite_loss(2.5f, "step"));
    el_param_list_free(&list);
    el_param_free(&a);
    el_param_free(&b);
}
