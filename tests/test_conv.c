/* The convolutions (include/elman/conv.h) against PyTorch and against finite
 * differences, and their contracts: initialisation, threads, errors, one
 * backward pass per forward pass, and no allocation after the first call of
 * a shape.
 *
 * Large batches, which go through the blocks of images and the parts of
 * the batch that the small fixtures do not reach, are compared with direct
 * loops in double.
 *
 * The PyTorch tests read tests/fixtures/conv.txt
 * (tools/make_conv_fixtures.py) and compare every output and gradient within
 * rtol 1e-5, atol 1e-5: both sides compute in float32 and sum the products
 * in different orders, which moves results of order 1 by a few units in the
 * last place. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "gradcheck.h"
#include "core/internal.h"
#include "support.h"

#define RTOL 1e-5
#define ATOL 1e-5

typedef enum kind { CONV1D, CONV2D, TRANSPOSED } kind;

/* Any of the three layers, so that one test body covers them all. */
typedef struct layer {
    kind kind;
    el_conv1d c1;
    el_conv2d c2;
    el_conv_transpose2d ct;
} layer;

/* The configurations of tools/make_conv_fixtures.py, in its order. */
typedef struct config {
    const char *name;
    kind kind;
    el_conv1d_config c1;
    el_conv2d_config c2;
    el_conv_transpose2d_config ct;
} config;

static const config configs[] = {
    {"c2d_basic", CONV2D, .c2 = {3, 4, {3, 3}, .padding = {1, 1}, .bias = 1}},
    {"c2d_stride2", CONV2D, .c2 = {2, 3, {3, 3}, {2, 2}, {1, 1}, .bias = 1}},
    {"c2d_dilation2", CONV2D,
     .c2 = {2, 3, {3, 3}, .padding = {2, 2}, .dilation = {2, 2}, .bias = 1}},
    {"c2d_groups2", CONV2D, .c2 = {4, 6, {3, 3}, .padding = {1, 1}, .groups = 2, .bias = 1}},
    {"c2d_nobias", CONV2D, .c2 = {3, 2, {2, 2}}},
    {"c2d_rect", CONV2D, .c2 = {2, 3, {2, 3}, {1, 2}, {1, 0}, {2, 1}, .bias = 1}},
    {"c1d", CONV1D, .c1 = {3, 4, 3, 2, 1, 2, .bias = 1}},
    {"c1d_groups", CONV1D, .c1 = {4, 2, 2, .groups = 2}},
    {"ct2d_s2op1", TRANSPOSED, .ct = {3, 2, {3, 3}, {2, 2}, {1, 1}, {1, 1}, .bias = 1}},
    {"ct2d_groups", TRANSPOSED,
     .ct = {4, 6, {2, 3}, {1, 2}, {0, 1}, {0, 1}, {2, 1}, .groups = 2, .bias = 1}},
    {"ct2d_dil_nobias", TRANSPOSED,
     .ct = {2, 3, {3, 3}, .output_padding = {1, 1}, .dilation = {2, 2}}},
};

enum { CONFIGS = sizeof configs / sizeof configs[0] };

static int in_channels(const config *c)
{
    return c->kind == CONV1D   ? c->c1.in_channels
           : c->kind == CONV2D ? c->c2.in_channels
                               : c->ct.in_channels;
}

static el_status layer_init(layer *l, const config *c, el_rng *rng)
{
    memset(l, 0, sizeof *l);
    l->kind = c->kind;
    switch (c->kind) {
    case CONV1D: return el_conv1d_init(&l->c1, "conv", &c->c1, rng);
    case CONV2D: return el_conv2d_init(&l->c2, "conv", &c->c2, rng);
    default: return el_conv_transpose2d_init(&l->ct, "conv", &c->ct, rng);
    }
}

static void layer_free(layer *l)
{
    el_conv1d_free(&l->c1);
    el_conv2d_free(&l->c2);
    el_conv_transpose2d_free(&l->ct);
}

static el_param *weight(layer *l)
{
    return l->kind == CONV1D ? &l->c1.weight : l->kind == CONV2D ? &l->c2.weight : &l->ct.weight;
}

static el_param *bias(layer *l)
{
    el_param *b = l->kind == CONV1D ? &l->c1.bias : l->kind == CONV2D ? &l->c2.bias : &l->ct.bias;
    return b->value.data ? b : NULL;
}

static el_status forward(layer *l, el_conv_cache *cache, const el_tensor *x, el_tensor *y)
{
    switch (l->kind) {
    case CONV1D: return el_conv1d_forward(&l->c1, cache, x, y);
    case CONV2D: return el_conv2d_forward(&l->c2, cache, x, y);
    default: return el_conv_transpose2d_forward(&l->ct, cache, x, y);
    }
}

static el_status backward(layer *l, el_conv_cache *cache, const el_tensor *dy, el_tensor *dx)
{
    switch (l->kind) {
    case CONV1D: return el_conv1d_backward(&l->c1, cache, dy, dx);
    case CONV2D: return el_conv2d_backward(&l->c2, cache, dy, dx);
    default: return el_conv_transpose2d_backward(&l->ct, cache, dy, dx);
    }
}

static el_status params(layer *l, el_param_list *list)
{
    switch (l->kind) {
    case CONV1D: return el_conv1d_params(&l->c1, list);
    case CONV2D: return el_conv2d_params(&l->c2, list);
    default: return el_conv_transpose2d_params(&l->ct, list);
    }
}

static void zero_grads(layer *l)
{
    el_tensor_fill(&weight(l)->grad, 0.0f);
    if (bias(l)) el_tensor_fill(&bias(l)->grad, 0.0f);
}

/* ---- PyTorch ------------------------------------------------------------ */

/* Builds configuration c with the fixture's weights and input. */
static void load(const el_fixture *fx, const config *c, layer *l, el_tensor *x)
{
    char key[EL_FIXTURE_NAME_MAX];
    EL_TEST_OK(layer_init(l, c, NULL));
    el_tensor t = {0};
    el_fixture_tensor(fx, el_fixture_key(key, "%s.weight", c->name), &t);
    EL_TEST_OK(el_tensor_copy(&weight(l)->value, &t));
    el_tensor_free(&t);
    if (bias(l)) {
        el_fixture_tensor(fx, el_fixture_key(key, "%s.bias", c->name), &t);
        EL_TEST_OK(el_tensor_copy(&bias(l)->value, &t));
        el_tensor_free(&t);
    }
    el_fixture_tensor(fx, el_fixture_key(key, "%s.x", c->name), x);
}

Test(conv, matches_pytorch)
{
    el_fixture fx;
    el_fixture_load(&fx, "conv.txt");
    for (int i = 0; i < CONFIGS; i++) {
        const config *c = &configs[i];
        char key[EL_FIXTURE_NAME_MAX];
        layer l;
        el_tensor x = {0}, y = {0}, dy = {0}, dx = {0};
        el_conv_cache cache = {0};
        load(&fx, c, &l, &x);
        cr_assert_eq(weight(&l)->value.ndim, c->kind == CONV1D ? 3 : 4, "%s", c->name);
        EL_TEST_OK(forward(&l, &cache, &x, &y));
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.y", c->name), &y, RTOL, ATOL);
        el_fixture_tensor(&fx, el_fixture_key(key, "%s.dy", c->name), &dy);
        EL_TEST_OK(backward(&l, &cache, &dy, &dx));
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.dx", c->name), &dx, RTOL, ATOL);
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.dweight", c->name), &weight(&l)->grad,
                                 RTOL, ATOL);
        if (bias(&l))
            el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.dbias", c->name), &bias(&l)->grad,
                                     RTOL, ATOL);
        el_tensor_free(&x);
        el_tensor_free(&y);
        el_tensor_free(&dy);
        el_tensor_free(&dx);
        el_conv_cache_free(&cache);
        layer_free(&l);
    }
    el_fixture_free(&fx);
}

/* ---- finite differences ------------------------------------------------- */

typedef struct problem {
    layer l;
    el_conv_cache cache;
    el_tensor x, y, w, dx;
} problem;

/* sum(y w) for the current x and parameters. */
static double loss(void *ctx)
{
    problem *p = ctx;
    EL_TEST_OK(forward(&p->l, &p->cache, &p->x, &p->y));
    return el_test_weighted_sum(&p->w, &p->y);
}

Test(conv, gradients_match_finite_differences)
{
    el_fixture fx;
    el_fixture_load(&fx, "conv.txt");
    el_test_gradcheck_opts opts = EL_TEST_GRADCHECK_DEFAULTS;
    for (int i = 0; i < CONFIGS; i++) {
        const config *c = &configs[i];
        char key[EL_FIXTURE_NAME_MAX], what[128];
        problem p = {0};
        load(&fx, c, &p.l, &p.x);
        el_fixture_tensor(&fx, el_fixture_key(key, "%s.dy", c->name), &p.w);
        loss(&p);
        EL_TEST_OK(backward(&p.l, &p.cache, &p.w, &p.dx));
        snprintf(what, sizeof what, "%s dx", c->name);
        el_test_gradcheck(what, loss, &p, &p.x, &p.dx, &opts);
        snprintf(what, sizeof what, "%s dweight", c->name);
        el_test_gradcheck(what, loss, &p, &weight(&p.l)->value, &weight(&p.l)->grad, &opts);
        if (bias(&p.l)) {
            snprintf(what, sizeof what, "%s dbias", c->name);
            el_test_gradcheck(what, loss, &p, &bias(&p.l)->value, &bias(&p.l)->grad, &opts);
        }
        el_tensor_free(&p.x);
        el_tensor_free(&p.y);
        el_tensor_free(&p.w);
        el_tensor_free(&p.dx);
        el_conv_cache_free(&p.cache);
        layer_free(&p.l);
    }
    el_fixture_free(&fx);
}

/* ---- initialisation and parameters -------------------------------------- */

/* Every element of t lies in [-bound, bound], and they are not all equal. */
static void expect_within(const char *what, const el_tensor *t, float bound)
{
    float lo = t->data[0], hi = t->data[0];
    for (size_t i = 0; i < t->size; i++) {
        cr_assert(fabsf(t->data[i]) <= bound, "%s[%zu] = %g is outside +-%g", what, i,
                  (double)t->data[i], (double)bound);
        lo = fminf(lo, t->data[i]);
        hi = fmaxf(hi, t->data[i]);
    }
    cr_assert(hi - lo > bound / 2, "%s spans only [%g, %g] of +-%g", what, (double)lo, (double)hi,
              (double)bound);
}

Test(conv, init_follows_pytorch)
{
    el_rng rng;
    el_rng_seed(&rng, 7);
    el_conv2d c2;
    EL_TEST_OK(el_conv2d_init(&c2, "features.0",
                              &(el_conv2d_config){8, 6, {3, 2}, .groups = 2, .bias = 1}, &rng));
    cr_assert_str_eq(c2.weight.name, "features.0.weight");
    cr_assert_str_eq(c2.bias.name, "features.0.bias");
    cr_assert_eq(c2.weight.value.ndim, 4);
    cr_assert(c2.weight.value.shape[0] == 6 && c2.weight.value.shape[1] == 4 &&
              c2.weight.value.shape[2] == 3 && c2.weight.value.shape[3] == 2);
    cr_assert(c2.config.stride[0] == 1 && c2.config.dilation[1] == 1, "zeros are taken as 1");
    expect_within("conv2d weight", &c2.weight.value, 1.0f / sqrtf(4 * 3 * 2));
    expect_within("conv2d bias", &c2.bias.value, 1.0f / sqrtf(4 * 3 * 2));
    el_param_list list = {0};
    EL_TEST_OK(el_conv2d_params(&c2, &list));
    cr_assert_eq(list.count, 2);
    el_param_list_free(&list);
    el_conv2d_free(&c2);

    el_conv_transpose2d ct;
    EL_TEST_OK(el_conv_transpose2d_init(
        &ct, "up", &(el_conv_transpose2d_config){8, 6, {3, 3}, {2, 2}, .groups = 2}, &rng));
    cr_assert(ct.weight.value.shape[0] == 8 && ct.weight.value.shape[1] == 3);
    cr_assert_null(ct.bias.value.data, "no bias was asked for");
    expect_within("transposed weight", &ct.weight.value, 1.0f / sqrtf(3 * 3 * 3));
    EL_TEST_OK(el_conv_transpose2d_params(&ct, &list));
    cr_assert_eq(list.count, 1);
    el_param_list_free(&list);
    el_conv_transpose2d_free(&ct);

    el_conv1d c1;
    EL_TEST_OK(el_conv1d_init(&c1, NULL, &(el_conv1d_config){2, 5, 4, .bias = 1}, NULL));
    cr_assert_str_eq(c1.weight.name, "weight");
    cr_assert(c1.weight.value.ndim == 3 && c1.weight.value.shape[2] == 4);
    for (size_t i = 0; i < c1.weight.value.size; i++) cr_assert_eq(c1.weight.value.data[i], 0.0f);
    el_conv1d_free(&c1);
    el_conv1d_free(&c1); /* safe on a freed layer */
}

Test(conv, init_refuses_bad_configurations)
{
    el_conv2d c2;
    EL_TEST_FAILS(el_conv2d_init(&c2, "c", &(el_conv2d_config){3, 4, {3, 3}, .groups = 2}, NULL),
                  EL_ERR_INVALID);
    cr_assert(strstr(el_last_error(), "el_conv2d_init"), "%s", el_last_error());
    EL_TEST_FAILS(el_conv2d_init(&c2, "c", &(el_conv2d_config){3, 4, .kernel = {0, 3}}, NULL),
                  EL_ERR_INVALID);
    EL_TEST_FAILS(
        el_conv2d_init(&c2, "c", &(el_conv2d_config){3, 4, {3, 3}, .padding = {-1, 0}}, NULL),
        EL_ERR_INVALID);
    EL_TEST_FAILS(el_conv2d_init(&c2, "c", &(el_conv2d_config){0, 4, .kernel = {3, 3}}, NULL),
                  EL_ERR_INVALID);
    el_conv1d c1;
    EL_TEST_FAILS(el_conv1d_init(&c1, "c", &(el_conv1d_config){2, 2, 3, .stride = -1}, NULL),
                  EL_ERR_INVALID);
    el_conv_transpose2d ct;
    EL_TEST_FAILS(el_conv_transpose2d_init(
                      &ct, "c",
                      &(el_conv_transpose2d_config){2, 2, {3, 3}, {2, 2}, .output_padding = {2, 0}},
                      NULL),
                  EL_ERR_INVALID);
    cr_assert(strstr(el_last_error(), "output padding"), "%s", el_last_error());
    /* Below the dilation is allowed, as in PyTorch. */
    EL_TEST_OK(el_conv_transpose2d_init(
        &ct, "c",
        &(el_conv_transpose2d_config){2, 2, {3, 3}, .output_padding = {1, 0}, .dilation = {2, 1}},
        NULL));
    el_conv_transpose2d_free(&ct);
}

/* ---- contracts ---------------------------------------------------------- */

Test(conv, errors_name_the_function_and_leave_the_layer_usable)
{
    el_rng rng;
    el_rng_seed(&rng, 3);
    el_conv2d c2;
    EL_TEST_OK(el_conv2d_init(&c2, "enc", &(el_conv2d_config){1, 2, {3, 3}, .bias = 1}, &rng));
    el_conv_cache cache = {0};
    el_tensor x = {0}, y = {0}, dy = {0}, dx = {0}, empty = {0};
    el_test_random_tensor(&x, &rng, 4, (int[]){2, 3, 5, 5}, -1, 1);
    EL_TEST_FAILS(el_conv2d_forward(&c2, &cache, &x, &y), EL_ERR_SHAPE);
    cr_assert(strstr(el_last_error(), "el_conv2d_forward: x is 2x3x5x5"), "%s", el_last_error());
    EL_TEST_FAILS(el_conv2d_forward(&c2, &cache, &empty, &y), EL_ERR_SHAPE);
    cr_assert(strstr(el_last_error(), "(empty)"), "%s", el_last_error());
    el_tensor_free(&x);
    el_test_random_tensor(&x, &rng, 4, (int[]){2, 1, 2, 5}, -1, 1);
    EL_TEST_FAILS(el_conv2d_forward(&c2, &cache, &x, &y), EL_ERR_SHAPE);
    cr_assert(strstr(el_last_error(), "kernel"), "%s", el_last_error());
    el_tensor_free(&x);

    el_test_random_tensor(&x, &rng, 4, (int[]){2, 1, 5, 5}, -1, 1);
    EL_TEST_FAILS(el_conv2d_backward(&c2, &cache, &x, &dx), EL_ERR_STATE);
    EL_TEST_OK(el_conv2d_forward(&c2, &cache, &x, &y));
    cr_assert(y.ndim == 4 && y.shape[0] == 2 && y.shape[1] == 2 && y.shape[2] == 3 &&
              y.shape[3] == 3);
    /* A dy of the wrong shape leaves the gradients and the cache as they were. */
    EL_TEST_FAILS(el_conv2d_backward(&c2, &cache, &x, &dx), EL_ERR_SHAPE);
    cr_assert(strstr(el_last_error(), "el_conv2d_backward: dy is 2x1x5x5, expected 2x2x3x3"), "%s",
              el_last_error());
    for (size_t i = 0; i < c2.weight.grad.size; i++) cr_assert_eq(c2.weight.grad.data[i], 0.0f);
    el_test_random_tensor(&dy, &rng, 4, y.shape, -1, 1);
    EL_TEST_OK(el_conv2d_backward(&c2, &cache, &dy, &dx));
    cr_assert(el_tensor_same_shape(&dx, &x));
    EL_TEST_FAILS(el_conv2d_backward(&c2, &cache, &dy, &dx), EL_ERR_STATE);
    cr_assert(strstr(el_last_error(), "one backward pass per forward pass"), "%s", el_last_error());
    EL_TEST_FAILS(el_conv2d_forward(&c2, &cache, &x, &x), EL_ERR_INVALID);
    cr_assert(strstr(el_last_error(), "y and x share their memory"), "%s", el_last_error());

    /* A cache filled by another layer is refused. */
    el_conv2d other;
    EL_TEST_OK(el_conv2d_init(&other, "dec", &c2.config, &rng));
    EL_TEST_OK(el_conv2d_forward(&other, &cache, &x, &y));
    EL_TEST_FAILS(el_conv2d_backward(&c2, &cache, &dy, NULL), EL_ERR_STATE);
    cr_assert(strstr(el_last_error(), "enc.weight"), "%s", el_last_error());
    EL_TEST_OK(el_conv2d_backward(&other, &cache, &dy, NULL));

    el_conv2d_free(&other);
    el_conv2d_free(&c2);
    el_conv_cache_free(&cache);
    el_conv_cache_free(&cache);
    el_tensor_free(&x);
    el_tensor_free(&y);
    el_tensor_free(&dy);
    el_tensor_free(&dx);
}

/* One forward and backward pass of configuration c on a random batch,
 * from the same weights whatever the thread count. */
typedef struct pass {
    el_tensor y, dx, dweight, dbias;
} pass;

static void run_pass(const config *c, int batch, int size, int threads, int with_dx, pass *out)
{
    el_rng rng;
    el_rng_seed(&rng, 11);
    layer l;
    EL_TEST_OK(layer_init(&l, c, &rng));
    int in = in_channels(c);
    el_tensor x = {0}, dy = {0};
    if (c->kind == CONV1D)
        el_test_random_tensor(&x, &rng, 3, (int[]){batch, in, size}, -1, 1);
    else
        el_test_random_tensor(&x, &rng, 4, (int[]){batch, in, size, size}, -1, 1);
    EL_TEST_OK(el_set_threads(threads));
    el_conv_cache cache = {0};
    EL_TEST_OK(forward(&l, &cache, &x, &out->y));
    el_test_random_tensor(&dy, &rng, out->y.ndim, out->y.shape, -1, 1);
    EL_TEST_OK(backward(&l, &cache, &dy, with_dx ? &out->dx : NULL));
    EL_TEST_OK(el_set_threads(1));
    EL_TEST_OK(el_tensor_alloc(&out->dweight, weight(&l)->grad.ndim, weight(&l)->grad.shape));
    EL_TEST_OK(el_tensor_copy(&out->dweight, &weight(&l)->grad));
    if (bias(&l)) {
        EL_TEST_OK(el_tensor_alloc(&out->dbias, 1, bias(&l)->grad.shape));
        EL_TEST_OK(el_tensor_copy(&out->dbias, &bias(&l)->grad));
    }
    el_conv_cache_free(&cache);
    el_tensor_free(&x);
    el_tensor_free(&dy);
    layer_free(&l);
}

static void pass_free(pass *p)
{
    el_tensor_free(&p->y);
    el_tensor_free(&p->dx);
    el_tensor_free(&p->dweight);
    el_tensor_free(&p->dbias);
}

/* Batches large enough to be split over the threads give the results of one
 * thread, up to the order in which the parts' gradients are added. */
Test(conv, two_threads_agree_with_one)
{
    static const config big[] = {
        {"conv2d", CONV2D, .c2 = {8, 16, {3, 3}, .padding = {1, 1}, .groups = 2, .bias = 1}},
        {"conv1d", CONV1D, .c1 = {8, 16, 5, 2, 2, .bias = 1}},
        {"transposed", TRANSPOSED, .ct = {16, 8, {3, 3}, {2, 2}, {1, 1}, {1, 1}, .bias = 1}},
    };
    for (int i = 0; i < 3; i++) {
        pass one = {0}, two = {0};
        int size = big[i].kind == CONV1D ? 400 : 16;
        run_pass(&big[i], 37, size, 1, 1, &one);
        run_pass(&big[i], 37, size, 2, 1, &two);
        cr_assert(el_tensor_same_shape(&one.y, &two.y));
        el_test_assert_close(big[i].name, two.y.data, one.y.data, one.y.size, 0, 0);
        el_test_assert_close(big[i].name, two.dx.data, one.dx.data, one.dx.size, 0, 0);
        el_test_assert_close(big[i].name, two.dweight.data, one.dweight.data, one.dweight.size,
                             1e-5, 1e-5);
        el_test_assert_close(big[i].name, two.dbias.data, one.dbias.data, one.dbias.size, 1e-5,
                             1e-5);
        pass_free(&two);
        /* Without dx, the parameter gradients are the same. */
        run_pass(&big[i], 37, size, 1, 0, &two);
        el_test_assert_close(big[i].name, two.dweight.data, one.dweight.data, one.dweight.size, 0,
                             0);
        pass_free(&one);
        pass_free(&two);
    }
}

/* After the first call of a shape, forward and backward allocate nothing,
 * and the gradients of two passes add up. */
Test(conv, reuses_its_memory_and_accumulates)
{
    el_rng rng;
    el_rng_seed(&rng, 5);
    for (int i = 0; i < CONFIGS; i++) {
        layer l;
        EL_TEST_OK(layer_init(&l, &configs[i], &rng));
        el_tensor x = {0}, y = {0}, dy = {0}, dx = {0}, first = {0};
        int in = in_channels(&configs[i]);
        if (l.kind == CONV1D)
            el_test_random_tensor(&x, &rng, 3, (int[]){3, in, 9}, -1, 1);
        else
            el_test_random_tensor(&x, &rng, 4, (int[]){3, in, 7, 6}, -1, 1);
        el_conv_cache cache = {0};
        EL_TEST_OK(forward(&l, &cache, &x, &y));
        el_test_random_tensor(&dy, &rng, y.ndim, y.shape, -1, 1);
        EL_TEST_OK(backward(&l, &cache, &dy, &dx));
        EL_TEST_OK(el_tensor_alloc(&first, weight(&l)->grad.ndim, weight(&l)->grad.shape));
        EL_TEST_OK(el_tensor_copy(&first, &weight(&l)->grad));
        el__fail_allocations_after(0);
        el_status s1 = forward(&l, &cache, &x, &y), s2 = backward(&l, &cache, &dy, &dx);
        el__fail_allocations_after(-1);
        EL_TEST_OK(s1);
        EL_TEST_OK(s2);
        for (size_t k = 0; k < first.size; k++)
            cr_assert(fabsf(weight(&l)->grad.data[k] - 2 * first.data[k]) <=
                          1e-5f * (1 + fabsf(first.data[k])),
                      "%s: the second pass's gradient was not added", configs[i].name);
        zero_grads(&l);
        el_param_list list = {0};
        EL_TEST_OK(params(&l, &list));
        cr_assert_eq(list.count, bias(&l) ? 2 : 1);
        el_param_list_free(&list);
        el_tensor_free(&x);
        el_tensor_free(&y);
        el_tensor_free(&dy);
        el_tensor_free(&dx);
        el_tensor_free(&first);
        el_conv_cache_free(&cache);
        layer_free(&l);
    }
}

/* ---- a direct reference ------------------------------------------------- */

/* The geometry of a convolution from the image side (C, H, W) to the column
 * side (M, OH, OW), for the direct loops below. */
typedef struct direct {
    int n, c, h, w, m, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, groups;
} direct;

/* Visits every product of the convolution, weight element times image
 * element into column element, and does what mode says with it in double:
 * 0 col += w img, 1 img += w col, 2 dw += col img. */
static void direct_pass(const direct *d, int mode, const float *weight, double *img, double *col,
                        double *dw)
{
    int cg = d->c / d->groups, mg = d->m / d->groups;
    for (int n = 0; n < d->n; n++)
        for (int m = 0; m < d->m; m++)
            for (int oh = 0; oh < d->oh; oh++)
                for (int ow = 0; ow < d->ow; ow++) {
                    size_t y = (((size_t)n * d->m + m) * d->oh + oh) * d->ow + ow;
                    for (int c = 0; c < cg; c++)
                        for (int i = 0; i < d->kh; i++)
                            for (int j = 0; j < d->kw; j++) {
                                int ih = oh * d->sh - d->ph + i * d->dh;
                                int iw = ow * d->sw - d->pw + j * d->dw;
                                if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w) continue;
                                int channel = m / mg * cg + c;
                                size_t x = (((size_t)n * d->c + channel) * d->h + ih) * d->w + iw;
                                size_t k = (((size_t)m * cg + c) * d->kh + i) * d->kw + j;
                                if (mode == 0) col[y] += weight[k] * img[x];
                                if (mode == 1) img[x] += weight[k] * col[y];
                                if (mode == 2) dw[k] += col[y] * img[x];
                            }
                }
}

static double *to_double(const el_tensor *t)
{
    double *d = calloc(t->size, sizeof *d);
    cr_assert(d);
    for (size_t i = 0; i < t->size; i++) d[i] = t->data[i];
    return d;
}

/* Asserts that got is within 1e-4 relative (1e-4 absolute near 0) of the
 * direct result: float sums of a few hundred products against double. */
static void expect_direct(const char *what, const el_tensor *got, const double *want)
{
    float *f = malloc(got->size * sizeof *f);
    cr_assert(f);
    for (size_t i = 0; i < got->size; i++) f[i] = (float)want[i];
    el_test_assert_close(what, got->data, f, got->size, 1e-4, 1e-4);
    free(f);
}

/* Batches of several blocks of images (on one thread, and split over two),
 * with and without the stride-1 "same" shortcut of im2col, against the direct loops:
 * every image's place in the blocks and parts must be right. */
Test(conv, large_batches_match_direct_loops)
{
    static const config cases[] = {
        {"same", CONV2D, .c2 = {6, 8, {3, 3}, .padding = {1, 1}, .groups = 2, .bias = 1}},
        {"strided", CONV2D, .c2 = {4, 6, {3, 2}, {2, 1}, {1, 1}, {1, 2}, .bias = 1}},
        {"transposed", TRANSPOSED,
         .ct = {6, 4, {3, 3}, {2, 2}, {1, 1}, {1, 1}, .groups = 2, .bias = 1}},
    };
    for (int t = 0; t < 6; t++) {
        const config *c = &cases[t % 3];
        EL_TEST_OK(el_set_threads(t < 3 ? 1 : 2));
        el_rng rng;
        el_rng_seed(&rng, 21);
        layer l;
        EL_TEST_OK(layer_init(&l, c, &rng));
        el_tensor x = {0}, y = {0}, dy = {0}, dx = {0};
        el_test_random_tensor(&x, &rng, 4, (int[]){23, in_channels(c), 13, 11}, -1, 1);
        el_conv_cache cache = {0};
        EL_TEST_OK(forward(&l, &cache, &x, &y));
        el_test_random_tensor(&dy, &rng, 4, y.shape, -1, 1);
        EL_TEST_OK(backward(&l, &cache, &dy, &dx));
        int transposed = c->kind == TRANSPOSED;
        const el_tensor *image = transposed ? &y : &x, *column = transposed ? &x : &y;
        const int *k = transposed ? c->ct.kernel : c->c2.kernel;
        const int *s = transposed ? c->ct.stride : c->c2.stride;
        const int *p = transposed ? c->ct.padding : c->c2.padding;
        const int *dil = transposed ? c->ct.dilation : c->c2.dilation;
        int groups = transposed ? c->ct.groups : c->c2.groups;
        direct d = {.n = image->shape[0],
                    .c = image->shape[1],
                    .h = image->shape[2],
                    .w = image->shape[3],
                    .m = column->shape[1],
                    .oh = column->shape[2],
                    .ow = column->shape[3],
                    .kh = k[0],
                    .kw = k[1],
                    .sh = s[0] ? s[0] : 1,
                    .sw = s[1] ? s[1] : 1,
                    .ph = p[0],
                    .pw = p[1],
                    .dh = dil[0] ? dil[0] : 1,
                    .dw = dil[1] ? dil[1] : 1,
                    .groups = groups ? groups : 1};
        const float *w = weight(&l)->value.data, *b = bias(&l)->value.data;
        double *out = calloc(y.size, sizeof *out), *din = calloc(x.size, sizeof *din);
        double *dw = calloc(weight(&l)->value.size, sizeof *dw), *xd = to_double(&x);
        double *dyd = to_double(&dy);
        cr_assert(out && din && dw);
        size_t plane = (size_t)y.shape[2] * y.shape[3];
        for (size_t i = 0; i < y.size; i++) out[i] = b[i / plane % (size_t)y.shape[1]];
        /* conv2d: y = conv(x), dx = conv's adjoint of dy, dw from x and dy;
         * the transposed layer the other way round. */
        direct_pass(&d, transposed ? 1 : 0, w, transposed ? out : xd, transposed ? xd : out, NULL);
        direct_pass(&d, transposed ? 0 : 1, w, transposed ? dyd : din, transposed ? din : dyd,
                    NULL);
        direct_pass(&d, 2, w, transposed ? dyd : xd, transposed ? xd : dyd, dw);
        expect_direct(c->name, &y, out);
        expect_direct(c->name, &dx, din);
        expect_direct(c->name, &weight(&l)->grad, dw);
        free(out);
        free(din);
        free(dw);
        free(xd);
        free(dyd);
        el_tensor_free(&x);
        el_tensor_free(&y);
        el_tensor_free(&dy);
        el_tensor_free(&dx);
        el_conv_cache_free(&cache);
        layer_free(&l);
    }
    EL_TEST_OK(el_set_threads(1));
}
