/* Pooling (include/elman/pool.h) against PyTorch and finite differences.
 *
 * The PyTorch results are tests/fixtures/pool.txt (tools/make_pool_fixtures.py)
 * and must match within rtol 1e-5, atol 1e-6: a maximum is exact, and an
 * average sums at most a kernel of float32 values in a possibly different
 * order. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "gradcheck.h"
#include "support.h"

#define RTOL 1e-5
#define ATOL 1e-6

/* The configurations of tools/make_pool_fixtures.py. */
static const char *const configs[] = {
    "max1d",      "max1d_default", "max1d_unbatched", "avg1d",           "max2d",
    "max2d_ties", "avg2d",         "avg2d_default",   "avg2d_unbatched",
};

static void pool_from_fixture(const el_fixture *fx, const char *cfg, el_pool *pool)
{
    char key[EL_FIXTURE_NAME_MAX];
    const el_fixture_array *kernel = el_fixture_get(fx, el_fixture_key(key, "%s.kernel", cfg));
    int dims = (int)kernel->size, k[2], s[2], p[2];
    el_fixture_ints(fx, key, k, (size_t)dims);
    el_fixture_ints(fx, el_fixture_key(key, "%s.stride", cfg), s, (size_t)dims);
    el_fixture_ints(fx, el_fixture_key(key, "%s.padding", cfg), p, (size_t)dims);
    float kind = el_fixture_scalar(fx, el_fixture_key(key, "%s.kind", cfg));
    EL_TEST_OK(el_pool_init(pool, kind == 0 ? EL_POOL_MAX : EL_POOL_AVG, dims, k, s, p));
}

Test(pool, matches_pytorch)
{
    el_fixture fx;
    el_fixture_load(&fx, "pool.txt");
    el_pool_cache cache = {0};
    el_tensor y = {0}, dx = {0};
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        const char *cfg = configs[i];
        char key[EL_FIXTURE_NAME_MAX];
        el_pool pool;
        pool_from_fixture(&fx, cfg, &pool);
        el_tensor x = {0}, dy = {0};
        el_fixture_tensor(&fx, el_fixture_key(key, "%s.x", cfg), &x);
        el_fixture_tensor(&fx, el_fixture_key(key, "%s.dy", cfg), &dy);
        /* One cache and outputs for every shape: they must resize. */
        EL_TEST_OK(el_pool_forward(&pool, &cache, &x, &y));
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.y", cfg), &y, RTOL, ATOL);
        EL_TEST_OK(el_pool_backward(&pool, &cache, &dy, &dx));
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.dx", cfg), &dx, RTOL, ATOL);
        el_tensor_free(&x);
        el_tensor_free(&dy);
    }
    el_tensor_free(&y);
    el_tensor_free(&dx);
    el_pool_cache_free(&cache);
    el_fixture_free(&fx);
}

Test(pool, names)
{
    el_pool pool;
    EL_TEST_OK(el_pool_init(&pool, EL_POOL_MAX, 1, (int[]){2}, NULL, NULL));
    cr_expect_str_eq(el_pool_kind_name(&pool), "MaxPool1d");
    cr_expect_eq(pool.stride[0], 2, "the stride defaults to the kernel");
    EL_TEST_OK(el_pool_init(&pool, EL_POOL_AVG, 2, (int[]){2, 3}, NULL, NULL));
    cr_expect_str_eq(el_pool_kind_name(&pool), "AvgPool2d");
}

/* ---- finite differences --------------------------------------------- */

typedef struct fd_case {
    el_pool pool;
    el_pool_cache cache;
    el_tensor x, y, w, dx;
} fd_case;

static double fd_loss(void *ctx)
{
    fd_case *c = ctx;
    cr_assert_eq(el_pool_forward(&c->pool, &c->cache, &c->x, &c->y), EL_OK, "%s", el_last_error());
    return el_test_weighted_sum(&c->w, &c->y);
}

static void check_gradient(const char *what, el_pool_kind kind, int dims, const int *kernel,
                           const int *stride, const int *padding, int ndim, const int *shape)
{
    fd_case c = {0};
    el_rng rng;
    el_rng_seed(&rng, 31);
    EL_TEST_OK(el_pool_init(&c.pool, kind, dims, kernel, stride, padding));
    el_test_random_tensor(&c.x, &rng, ndim, shape, -1, 1);
    if (kind == EL_POOL_MAX) {
        /* Distinct values 0.1 apart: the central differences' steps cannot
         * move a window's maximum to another element. */
        int *perm = malloc(c.x.size * sizeof *perm);
        el_rng_permutation(&rng, perm, (int)c.x.size);
        for (size_t i = 0; i < c.x.size; i++) c.x.data[i] = 0.1f * (float)perm[i];
        free(perm);
    }
    EL_TEST_OK(el_pool_forward(&c.pool, &c.cache, &c.x, &c.y));
    el_test_random_tensor(&c.w, &rng, c.y.ndim, c.y.shape, -1, 1);
    EL_TEST_OK(el_pool_backward(&c.pool, &c.cache, &c.w, &c.dx));
    el_test_gradcheck(what, fd_loss, &c, &c.x, &c.dx, NULL);
    el_tensor_free(&c.x);
    el_tensor_free(&c.y);
    el_tensor_free(&c.w);
    el_tensor_free(&c.dx);
    el_pool_cache_free(&c.cache);
}

Test(pool, gradcheck)
{
    check_gradient("max 1-D", EL_POOL_MAX, 1, (int[]){3}, (int[]){2}, (int[]){1}, 3,
                   (int[]){2, 2, 9});
    check_gradient("avg 1-D", EL_POOL_AVG, 1, (int[]){3}, (int[]){1}, (int[]){1}, 3,
                   (int[]){2, 2, 7});
    check_gradient("max 2-D", EL_POOL_MAX, 2, (int[]){2, 3}, (int[]){1, 2}, (int[]){1, 1}, 4,
                   (int[]){2, 2, 5, 6});
    check_gradient("avg 2-D", EL_POOL_AVG, 2, (int[]){3, 3}, (int[]){2, 2}, (int[]){1, 1}, 4,
                   (int[]){1, 3, 6, 5});
}

/* ---- contracts -------------------------------------------------------- */

Test(pool, max_pads_with_minus_infinity)
{
    /* All negative: a zero padding would win, -infinity never does. */
    el_pool pool;
    EL_TEST_OK(el_pool_init(&pool, EL_POOL_MAX, 1, (int[]){3}, (int[]){1}, (int[]){1}));
    el_tensor x = {0}, y = {0}, dx = {0};
    EL_TEST_OK(el_tensor_alloc(&x, 2, (int[]){1, 3}));
    memcpy(x.data, (float[]){-3, -1, -2}, sizeof(float[3]));
    el_pool_cache cache = {0};
    EL_TEST_OK(el_pool_forward(&pool, &cache, &x, &y));
    el_test_assert_close("y", y.data, (float[]){-1, -1, -1}, 3, 0, 0);
    EL_TEST_OK(el_pool_backward(&pool, &cache, &y, &dx));
    el_test_assert_close("dx", dx.data, (float[]){0, -3, 0}, 3, 0, 0);
    el_tensor_free(&x);
    el_tensor_free(&y);
    el_tensor_free(&dx);
    el_pool_cache_free(&cache);
}

/* PyTorch's indices, seen from torch.nn.functional.max_pool1d with
 * return_indices: ties go to the first maximum, NaNs to the last NaN. */
Test(pool, max_ties_and_nan)
{
    el_pool pool;
    EL_TEST_OK(el_pool_init(&pool, EL_POOL_MAX, 1, (int[]){5}, NULL, NULL));
    el_tensor x = {0}, y = {0}, dx = {0}, dy = {0};
    el_pool_cache cache = {0};
    EL_TEST_OK(el_tensor_alloc(&x, 3, (int[]){2, 1, 5}));
    memcpy(x.data, (float[]){-1, 2, -3, 2, 0, 1, NAN, 3, NAN, 2}, sizeof(float[10]));
    EL_TEST_OK(el_pool_forward(&pool, &cache, &x, &y));
    cr_expect_eq(y.data[0], 2.0f);
    cr_expect(isnan(y.data[1]));
    EL_TEST_OK(el_tensor_alloc(&dy, 3, (int[]){2, 1, 1}));
    el_tensor_fill(&dy, 1.0f);
    EL_TEST_OK(el_pool_backward(&pool, &cache, &dy, &dx));
    el_test_assert_close("dx", dx.data, (float[]){0, 1, 0, 0, 0, 0, 0, 0, 1, 0}, 10, 0, 0);
    el_tensor_free(&x);
    el_tensor_free(&y);
    el_tensor_free(&dx);
    el_tensor_free(&dy);
    el_pool_cache_free(&cache);
}

/* MaxPool2d(2) takes a fast path, and a large batch runs over the
 * threads: both must keep PyTorch's rule (first of tied maxima, last NaN,
 * -infinity kept) that the loop below states, leave an odd last row and
 * column out of every window, and give the same bits on 1 and 2 threads. */
static void halving_reference(const float *x, int planes, int h, int w, float *y, int *at)
{
    int oh_n = h / 2, ow_n = w / 2;
    for (int p = 0; p < planes; p++)
        for (int oh = 0; oh < oh_n; oh++)
            for (int ow = 0; ow < ow_n; ow++) {
                float max = -INFINITY;
                int best = 2 * oh * w + 2 * ow;
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++) {
                        int e = (2 * oh + i) * w + 2 * ow + j;
                        float v = x[(size_t)p * h * w + e];
                        if (v > max || isnan(v)) {
                            max = v;
                            best = e;
                        }
                    }
                y[((size_t)p * oh_n + oh) * ow_n + ow] = max;
                at[((size_t)p * oh_n + oh) * ow_n + ow] = best;
            }
}

Test(pool, max_halving_matches_the_rule_on_any_threads)
{
    enum { N = 64, C = 32, H = 9, W = 11, OUT = N * C * (H / 2) * (W / 2) };
    static const float values[] = {-INFINITY, -1, 0, 1, 1, 2, NAN};
    el_pool pool;
    EL_TEST_OK(el_pool_init(&pool, EL_POOL_MAX, 2, (int[]){2, 2}, NULL, NULL));
    el_tensor x = {0}, dy = {0};
    EL_TEST_OK(el_tensor_alloc(&x, 4, (int[]){N, C, H, W}));
    EL_TEST_OK(el_tensor_alloc(&dy, 4, (int[]){N, C, H / 2, W / 2}));
    unsigned state = 7;
    for (size_t i = 0; i < x.size; i++) {
        state = state * 1103515245u + 12345u;
        x.data[i] = values[(state >> 16) % (sizeof values / sizeof *values)];
    }
    for (size_t i = 0; i < dy.size; i++) dy.data[i] = (float)(i % 13) - 6.0f;
    float *want = malloc(sizeof(float) * OUT);
    int *at = malloc(sizeof(int) * OUT);
    cr_assert(want && at);
    halving_reference(x.data, N * C, H, W, want, at);
    el_tensor y[2] = {{0}}, dx[2] = {{0}};
    for (int t = 0; t < 2; t++) {
        EL_TEST_OK(el_set_threads(t + 1));
        el_pool_cache cache = {0};
        for (int n = 0; n < 2; n++) { /* the second pass writes over the first */
            EL_TEST_OK(el_pool_forward(&pool, &cache, &x, &y[t]));
            EL_TEST_OK(el_pool_backward(&pool, &cache, &dy, &dx[t]));
        }
        el_pool_cache_free(&cache);
    }
    EL_TEST_OK(el_set_threads(1));
    cr_assert_eq(memcmp(y[0].data, y[1].data, sizeof(float) * OUT), 0);
    cr_assert_eq(memcmp(dx[0].data, dx[1].data, sizeof(float) * x.size), 0);
    for (int o = 0; o < OUT; o++)
        cr_assert(isnan(want[o]) ? isnan(y[0].data[o]) : y[0].data[o] == want[o],
                  "y[%d] = %g, expected %g", o, y[0].data[o], want[o]);
    for (size_t i = 0; i < x.size; i++) {
        size_t p = i / (H * W);
        int e = (int)(i % (H * W)), h = e / W, w = e % W;
        float expect = 0.0f;
        if (h < H / 2 * 2 && w < W / 2 * 2) {
            size_t o = (p * (H / 2) + h / 2) * (W / 2) + w / 2;
            if (at[o] == e) expect = dy.data[o];
        }
        cr_assert_eq(dx[0].data[i], expect, "dx[%zu] = %g, expected %g", i, dx[0].data[i], expect);
    }
    free(want);
    free(at);
    el_tensor_free(&x);
    el_tensor_free(&dy);
    for (int t = 0; t < 2; t++) {
        el_tensor_free(&y[t]);
        el_tensor_free(&dx[t]);
    }
}

Test(pool, errors)
{
    el_pool pool;
    EL_TEST_FAILS(el_pool_init(&pool, EL_POOL_MAX, 1, (int[]){2}, NULL, (int[]){2}),
                  EL_ERR_INVALID);
    cr_expect(strstr(el_last_error(), "padding 2"), "%s", el_last_error());
    EL_TEST_FAILS(el_pool_init(&pool, EL_POOL_AVG, 3, (int[]){2, 2, 2}, NULL, NULL),
                  EL_ERR_INVALID);
    EL_TEST_FAILS(el_pool_init(&pool, EL_POOL_AVG, 1, (int[]){0}, NULL, NULL), EL_ERR_INVALID);

    EL_TEST_OK(el_pool_init(&pool, EL_POOL_MAX, 2, (int[]){3, 3}, NULL, NULL));
    el_tensor x = {0}, y = {0}, dx = {0};
    el_pool_cache cache = {0};
    EL_TEST_OK(el_tensor_alloc(&x, 4, (int[]){1, 1, 2, 4}));
    EL_TEST_FAILS(el_pool_forward(&pool, &cache, &x, &y), EL_ERR_SHAPE);
    cr_expect(strstr(el_last_error(), "el_pool_forward: x is 1x1x2x4"), "%s", el_last_error());
    EL_TEST_FAILS(el_pool_backward(&pool, &cache, &x, &dx), EL_ERR_STATE);
    el_tensor_free(&x);

    EL_TEST_OK(el_tensor_alloc(&x, 2, (int[]){3, 3}));
    EL_TEST_FAILS(el_pool_forward(&pool, &cache, &x, &y), EL_ERR_SHAPE);
    el_tensor_free(&x);

    EL_TEST_OK(el_tensor_alloc(&x, 3, (int[]){2, 3, 3}));
    EL_TEST_OK(el_pool_forward(&pool, &cache, &x, &y));
    cr_expect_eq(y.ndim, 3);
    cr_expect_eq(y.size, 2u, "one window per plane");
    el_tensor bad = {0};
    EL_TEST_OK(el_tensor_alloc(&bad, 1, (int[]){3}));
    EL_TEST_FAILS(el_pool_backward(&pool, &cache, &bad, &dx), EL_ERR_SHAPE);
    EL_TEST_OK(el_pool_backward(&pool, &cache, &y, &dx));
    EL_TEST_FAILS(el_pool_backward(&pool, &cache, &y, &dx), EL_ERR_STATE);
    cr_expect(strstr(el_last_error(), "no forward call"), "%s", el_last_error());
    el_tensor_free(&bad);
    el_tensor_free(&x);
    el_tensor_free(&y);
    el_tensor_free(&dx);
    el_pool_cache_free(&cache);
}
