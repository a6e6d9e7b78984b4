/* Batch normalisation (include/elman/batchnorm.h) against PyTorch and finite
 * differences, with its running statistics and modes.
 *
 * tests/fixtures/batchnorm.txt (tools/make_pool_fixtures.py) holds a
 * training step and then an evaluation step of BatchNorm1d/2d from a random
 * state.  Outputs and gradients match within rtol 1e-5, atol 1e-6: elman
 * sums a channel's statistics in double and PyTorch in float32, which
 * differ only in float32 rounding. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "fixture.h"
#include "gradcheck.h"
#include "support.h"

#define RTOL 1e-5
#define ATOL 1e-6

static const char *const configs[] = {"bn1d_nc", "bn1d_ncl", "bn2d"};

static void load_state(const el_fixture *fx, const char *cfg, el_batchnorm *bn)
{
    char key[EL_FIXTURE_NAME_MAX];
    el_param_list list = {0};
    EL_TEST_OK(el_batchnorm_params(bn, &list));
    EL_TEST_OK(el_batchnorm_buffers(bn, &list));
    for (int i = 0; i < list.count; i++) {
        const el_fixture_array *a =
            el_fixture_get(fx, el_fixture_key(key, "%s.%s", cfg, list.items[i]->name));
        cr_assert_eq(a->size, list.items[i]->value.size, "%s", key);
        memcpy(list.items[i]->value.data, a->data, a->size * sizeof(float));
    }
    bn->num_batches_tracked =
        (int64_t)el_fixture_scalar(fx, el_fixture_key(key, "%s.%s", cfg, bn->tracked_name));
    el_param_list_free(&list);
}

static void zero_grads(el_batchnorm *bn)
{
    el_tensor_fill(&bn->weight.grad, 0);
    el_tensor_fill(&bn->bias.grad, 0);
}

Test(batchnorm, matches_pytorch)
{
    el_fixture fx;
    el_fixture_load(&fx, "batchnorm.txt");
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        const char *cfg = configs[i];
        char key[EL_FIXTURE_NAME_MAX];
        el_tensor x = {0}, dy = {0}, y = {0}, dx = {0};
        el_fixture_tensor(&fx, el_fixture_key(key, "%s.x", cfg), &x);
        el_fixture_tensor(&fx, el_fixture_key(key, "%s.dy", cfg), &dy);
        el_batchnorm bn;
        el_batchnorm_cache cache = {0};
        EL_TEST_OK(el_batchnorm_init(&bn, NULL, x.ndim == 4 ? 2 : 1, x.shape[1]));
        load_state(&fx, cfg, &bn);

        EL_TEST_OK(el_batchnorm_forward(&bn, &cache, &x, &y));
        EL_TEST_OK(el_batchnorm_backward(&bn, &cache, &dy, &dx));
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.train.y", cfg), &y, RTOL, ATOL);
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.train.dx", cfg), &dx, RTOL, ATOL);
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.train.dweight", cfg), &bn.weight.grad,
                                 RTOL, ATOL);
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.train.dbias", cfg), &bn.bias.grad,
                                 RTOL, ATOL);
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.train.running_mean", cfg),
                                 &bn.running_mean.value, RTOL, ATOL);
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.train.running_var", cfg),
                                 &bn.running_var.value, RTOL, ATOL);
        cr_expect_eq(bn.num_batches_tracked,
                     (int64_t)el_fixture_scalar(
                         &fx, el_fixture_key(key, "%s.train.num_batches_tracked", cfg)));

        el_batchnorm_set_training(&bn, 0);
        zero_grads(&bn);
        int64_t tracked = bn.num_batches_tracked;
        float mean0 = bn.running_mean.value.data[0];
        EL_TEST_OK(el_batchnorm_forward(&bn, &cache, &x, &y));
        EL_TEST_OK(el_batchnorm_backward(&bn, &cache, &dy, &dx));
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.eval.y", cfg), &y, RTOL, ATOL);
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.eval.dx", cfg), &dx, RTOL, ATOL);
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.eval.dweight", cfg), &bn.weight.grad,
                                 RTOL, ATOL);
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.eval.dbias", cfg), &bn.bias.grad,
                                 RTOL, ATOL);
        cr_expect_eq(bn.num_batches_tracked, tracked, "evaluation changes no state");
        cr_expect_eq(bn.running_mean.value.data[0], mean0, "evaluation changes no state");

        el_batchnorm_cache_free(&cache);
        el_batchnorm_free(&bn);
        el_tensor_free(&x);
        el_tensor_free(&dy);
        el_tensor_free(&y);
        el_tensor_free(&dx);
    }
    el_fixture_free(&fx);
}

Test(batchnorm, names_and_defaults)
{
    el_batchnorm bn;
    EL_TEST_OK(el_batchnorm_init(&bn, "features.1", 2, 3));
    el_param_list params = {0}, buffers = {0};
    EL_TEST_OK(el_batchnorm_params(&bn, &params));
    EL_TEST_OK(el_batchnorm_buffers(&bn, &buffers));
    cr_assert_eq(params.count, 2);
    cr_assert_eq(buffers.count, 2);
    cr_expect_str_eq(params.items[0]->name, "features.1.weight");
    cr_expect_str_eq(params.items[1]->name, "features.1.bias");
    cr_expect_str_eq(buffers.items[0]->name, "features.1.running_mean");
    cr_expect_str_eq(buffers.items[1]->name, "features.1.running_var");
    cr_expect_str_eq(bn.tracked_name, "features.1.num_batches_tracked");
    cr_expect_null(buffers.items[0]->grad.data, "a buffer has no gradient");
    cr_expect_eq(bn.weight.value.data[2], 1.0f);
    cr_expect_eq(bn.running_var.value.data[2], 1.0f);
    cr_expect_eq(bn.running_mean.value.data[2], 0.0f);
    cr_expect_eq(bn.num_batches_tracked, 0);
    cr_expect_float_eq(bn.eps, 1e-5f, 0);
    cr_expect_float_eq(bn.momentum, 0.1f, 0);
    cr_expect_eq(bn.training, 1);
    el_param_list_free(&params);
    el_param_list_free(&buffers);
    el_batchnorm_free(&bn);
    el_batchnorm_free(&bn); /* safe twice */
}

/* ---- finite differences --------------------------------------------- */

typedef struct fd_case {
    el_batchnorm bn;
    el_batchnorm_cache cache;
    el_tensor x, y, w, dx;
} fd_case;

/* The running statistics are restored after every training forward, so the
 * loss depends on the checked tensor alone. */
static double fd_loss(void *ctx)
{
    fd_case *c = ctx;
    float mean[8], var[8];
    int n = c->bn.num_features;
    memcpy(mean, c->bn.running_mean.value.data, (size_t)n * sizeof(float));
    memcpy(var, c->bn.running_var.value.data, (size_t)n * sizeof(float));
    cr_assert_eq(el_batchnorm_forward(&c->bn, &c->cache, &c->x, &c->y), EL_OK, "%s",
                 el_last_error());
    memcpy(c->bn.running_mean.value.data, mean, (size_t)n * sizeof(float));
    memcpy(c->bn.running_var.value.data, var, (size_t)n * sizeof(float));
    return el_test_weighted_sum(&c->w, &c->y);
}

static void check_gradients(const char *mode, int training, int dims, int ndim, const int *shape)
{
    fd_case c = {0};
    el_rng rng;
    el_rng_seed(&rng, 77);
    cr_assert(shape[1] <= 8);
    EL_TEST_OK(el_batchnorm_init(&c.bn, "bn", dims, shape[1]));
    el_batchnorm_set_training(&c.bn, training);
    el_test_random_tensor(&c.x, &rng, ndim, shape, -2, 2);
    EL_TEST_OK(el_init_uniform(&c.bn.weight.value, &rng, 0.5f, 1.5f));
    EL_TEST_OK(el_init_uniform(&c.bn.bias.value, &rng, -1, 1));
    EL_TEST_OK(el_init_uniform(&c.bn.running_mean.value, &rng, -1, 1));
    EL_TEST_OK(el_init_uniform(&c.bn.running_var.value, &rng, 0.5f, 1.5f));
    el_test_random_tensor(&c.w, &rng, ndim, shape, -1, 1);
    fd_loss(&c);
    EL_TEST_OK(el_batchnorm_backward(&c.bn, &c.cache, &c.w, &c.dx));
    char what[64];
    el_test_gradcheck(el_fixture_key(what, "%s %dd: x", mode, dims), fd_loss, &c, &c.x, &c.dx,
                      NULL);
    el_test_gradcheck(el_fixture_key(what, "%s %dd: weight", mode, dims), fd_loss, &c,
                      &c.bn.weight.value, &c.bn.weight.grad, NULL);
    el_test_gradcheck(el_fixture_key(what, "%s %dd: bias", mode, dims), fd_loss, &c,
                      &c.bn.bias.value, &c.bn.bias.grad, NULL);
    el_batchnorm_cache_free(&c.cache);
    el_batchnorm_free(&c.bn);
    el_tensor_free(&c.x);
    el_tensor_free(&c.y);
    el_tensor_free(&c.w);
    el_tensor_free(&c.dx);
}

Test(batchnorm, gradcheck)
{
    check_gradients("train", 1, 1, 2, (int[]){5, 3});
    check_gradients("train", 1, 1, 3, (int[]){3, 2, 4});
    check_gradients("train", 1, 2, 4, (int[]){2, 3, 3, 2});
    check_gradients("eval", 0, 1, 2, (int[]){5, 3});
    check_gradients("eval", 0, 2, 4, (int[]){2, 3, 3, 2});
}

Test(batchnorm, errors)
{
    el_batchnorm bn;
    EL_TEST_FAILS(el_batchnorm_init(&bn, NULL, 3, 4), EL_ERR_INVALID);
    EL_TEST_FAILS(el_batchnorm_init(&bn, NULL, 1, 0), EL_ERR_INVALID);
    EL_TEST_OK(el_batchnorm_init(&bn, "bn", 1, 4));
    el_batchnorm_cache cache = {0};
    el_tensor x = {0}, y = {0}, dx = {0};
    EL_TEST_OK(el_tensor_alloc(&x, 2, (int[]){3, 5}));
    EL_TEST_FAILS(el_batchnorm_forward(&bn, &cache, &x, &y), EL_ERR_SHAPE);
    cr_expect(strstr(el_last_error(), "el_batchnorm_forward: x is 3x5"), "%s", el_last_error());
    el_tensor_free(&x);
    EL_TEST_OK(el_tensor_alloc(&x, 4, (int[]){2, 4, 1, 1}));
    EL_TEST_FAILS(el_batchnorm_forward(&bn, &cache, &x, &y), EL_ERR_SHAPE);
    el_tensor_free(&x);
    /* One value per channel: no variance to train with, but evaluation works. */
    EL_TEST_OK(el_tensor_alloc(&x, 2, (int[]){1, 4}));
    EL_TEST_FAILS(el_batchnorm_forward(&bn, &cache, &x, &y), EL_ERR_SHAPE);
    cr_expect_eq(bn.num_batches_tracked, 0);
    EL_TEST_FAILS(el_batchnorm_backward(&bn, &cache, &x, &dx), EL_ERR_STATE);
    el_batchnorm_set_training(&bn, 0);
    EL_TEST_OK(el_batchnorm_forward(&bn, &cache, &x, &y));
    EL_TEST_OK(el_batchnorm_backward(&bn, &cache, &y, NULL));
    EL_TEST_FAILS(el_batchnorm_backward(&bn, &cache, &y, &dx), EL_ERR_STATE);
    el_tensor_free(&x);
    el_tensor_free(&y);
    el_tensor_free(&dx);
    el_batchnorm_cache_free(&cache);
    el_batchnorm_free(&bn);
}
