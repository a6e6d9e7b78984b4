/* The sequential container (include/elman/sequential.h) against PyTorch's
 * nn.Sequential and finite differences.
 *
 * tests/fixtures/sequential.txt (tools/make_pool_fixtures.py) holds three
 * networks' state_dicts under their PyTorch keys, a training step and an
 * evaluation step.  The container built here loads the state by its own
 * names, so every name must be PyTorch's key, and every key must be
 * filled.  Outputs and gradients match within rtol 1e-5, atol 1e-6, as the
 * single layers do: the layers compute in float32 and only the order of
 * their sums differs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "core/internal.h"
#include "gradcheck.h"
#include "support.h"

#define RTOL 1e-5
#define ATOL 1e-6

static void add(el_sequential *seq, el_status made, el_module *m)
{
    EL_TEST_OK(made);
    EL_TEST_OK(el_sequential_add(seq, m));
}

static void add_pool(el_sequential *seq, el_pool_kind kind, int dims, int kernel, int stride,
                     int padding)
{
    el_pool pool;
    int k[2] = {kernel, kernel}, s[2] = {stride, stride}, p[2] = {padding, padding};
    EL_TEST_OK(el_pool_init(&pool, kind, dims, k, s, p));
    el_module m;
    add(seq, el_module_pool(&m, &pool), &m);
}

/* The networks of tools/make_pool_fixtures.py. */
static void build(el_sequential *seq, const char *net)
{
    el_module m;
    EL_TEST_OK(el_sequential_init(seq, NULL));
    if (!strcmp(net, "mlp")) {
        add(seq, el_module_dense(&m, 5, 8, 1, NULL), &m);
        add(seq, el_module_relu(&m), &m);
        add(seq, el_module_batchnorm(&m, 1, 8), &m);
        add(seq, el_module_dense(&m, 8, 3, 1, NULL), &m);
        add(seq, el_module_tanh(&m), &m);
    } else if (!strcmp(net, "image")) {
        add(seq, el_module_batchnorm(&m, 2, 2), &m);
        add_pool(seq, EL_POOL_MAX, 2, 2, 2, 0);
        add_pool(seq, EL_POOL_AVG, 2, 3, 1, 1);
        add(seq, el_module_flatten(&m), &m);
        add(seq, el_module_dense(&m, 18, 4, 1, NULL), &m);
        add(seq, el_module_sigmoid(&m), &m);
    } else if (!strcmp(net, "conv")) {
        el_conv2d_config conv = {
            .in_channels = 1, .out_channels = 4, .kernel = {3, 3}, .padding = {1, 1}, .bias = 1};
        el_conv_transpose2d_config up = {
            .in_channels = 4, .out_channels = 2, .kernel = {2, 2}, .stride = {2, 2}, .bias = 1};
        add(seq, el_module_conv2d(&m, &conv, NULL), &m);
        add(seq, el_module_relu(&m), &m);
        add_pool(seq, EL_POOL_MAX, 2, 2, 2, 0);
        add(seq, el_module_conv_transpose2d(&m, &up, NULL), &m);
        add(seq, el_module_batchnorm(&m, 2, 2), &m);
        add(seq, el_module_flatten(&m), &m);
        add(seq, el_module_dense(&m, 72, 3, 1, NULL), &m);
    } else {
        cr_assert_str_eq(net, "signal");
        add(seq, el_module_batchnorm(&m, 1, 3), &m);
        add_pool(seq, EL_POOL_MAX, 1, 3, 2, 1);
        add(seq, el_module_relu(&m), &m);
        add_pool(seq, EL_POOL_AVG, 1, 2, 2, 0);
        add(seq, el_module_flatten(&m), &m);
        add(seq, el_module_dense(&m, 6, 2, 1, NULL), &m);
    }
}

/* Every int64 entry of the container's state. */
static int counters(el_sequential *seq, const char **names, int64_t **values, int max)
{
    int n = 0;
    for (int i = 0; i < seq->count; i++) {
        const char *name;
        int64_t *value = el_sequential_counter(seq, i, &name);
        if (!value) continue;
        cr_assert(n < max);
        names[n] = name;
        values[n++] = value;
    }
    return n;
}

static int count_prefixed(const el_fixture *fx, const char *prefix)
{
    int n = 0;
    for (int i = 0; i < fx->count; i++) n += !strncmp(fx->arrays[i].name, prefix, strlen(prefix));
    return n;
}

/* Loads <net>.init.<name> into every tensor and counter by the container's
 * names, and checks that these are all the keys PyTorch's state_dict has. */
static void load_state(const el_fixture *fx, const char *net, el_sequential *seq)
{
    char key[EL_FIXTURE_NAME_MAX];
    el_param_list list = {0};
    EL_TEST_OK(el_sequential_params(seq, &list));
    EL_TEST_OK(el_sequential_buffers(seq, &list));
    for (int i = 0; i < list.count; i++) {
        const el_fixture_array *a =
            el_fixture_get(fx, el_fixture_key(key, "%s.init.%s", net, list.items[i]->name));
        cr_assert_eq(a->size, list.items[i]->value.size, "%s", key);
        memcpy(list.items[i]->value.data, a->data, a->size * sizeof(float));
    }
    const char *names[8];
    int64_t *values[8];
    int n = counters(seq, names, values, 8);
    for (int i = 0; i < n; i++)
        *values[i] =
            (int64_t)el_fixture_scalar(fx, el_fixture_key(key, "%s.init.%s", net, names[i]));
    cr_expect_eq(list.count + n, count_prefixed(fx, el_fixture_key(key, "%s.init.", net)),
                 "%s: the container has %d tensors and counters, PyTorch's state_dict more", net,
                 list.count + n);
    el_param_list_free(&list);
}

static void expect_grads(const el_fixture *fx, const char *net, const char *mode,
                         el_sequential *seq)
{
    char key[EL_FIXTURE_NAME_MAX];
    el_param_list list = {0};
    EL_TEST_OK(el_sequential_params(seq, &list));
    for (int i = 0; i < list.count; i++)
        el_fixture_expect_tensor(fx,
                                 el_fixture_key(key, "%s.%s.d%s", net, mode, list.items[i]->name),
                                 &list.items[i]->grad, RTOL, ATOL);
    el_param_list_zero_grad(&list);
    el_param_list_free(&list);
}

static void check_network(const char *net)
{
    el_fixture fx;
    el_fixture_load(&fx, "sequential.txt");
    el_sequential seq;
    build(&seq, net);
    load_state(&fx, net, &seq);
    char key[EL_FIXTURE_NAME_MAX];
    el_tensor x = {0}, dy = {0}, y = {0}, dx = {0};

    el_fixture_tensor(&fx, el_fixture_key(key, "%s.x", net), &x);
    el_fixture_tensor(&fx, el_fixture_key(key, "%s.dy", net), &dy);
    EL_TEST_OK(el_sequential_forward(&seq, &x, &y));
    EL_TEST_OK(el_sequential_backward(&seq, &dy, &dx));
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.train.y", net), &y, RTOL, ATOL);
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.train.dx", net), &dx, RTOL, ATOL);
    expect_grads(&fx, net, "train", &seq);
    el_param_list buffers = {0};
    EL_TEST_OK(el_sequential_buffers(&seq, &buffers));
    for (int i = 0; i < buffers.count; i++)
        el_fixture_expect_tensor(&fx,
                                 el_fixture_key(key, "%s.train.%s", net, buffers.items[i]->name),
                                 &buffers.items[i]->value, RTOL, ATOL);
    el_param_list_free(&buffers);
    const char *names[8];
    int64_t *values[8];
    int n = counters(&seq, names, values, 8);
    for (int i = 0; i < n; i++)
        cr_expect_eq(
            *values[i],
            (int64_t)el_fixture_scalar(&fx, el_fixture_key(key, "%s.train.%s", net, names[i])),
            "%s", names[i]);

    el_sequential_set_training(&seq, 0);
    el_tensor_free(&x);
    el_tensor_free(&dy);
    el_fixture_tensor(&fx, el_fixture_key(key, "%s.eval_x", net), &x);
    el_fixture_tensor(&fx, el_fixture_key(key, "%s.eval_dy", net), &dy);
    EL_TEST_OK(el_sequential_forward(&seq, &x, &y));
    EL_TEST_OK(el_sequential_backward(&seq, &dy, &dx));
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.eval.y", net), &y, RTOL, ATOL);
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.eval.dx", net), &dx, RTOL, ATOL);
    expect_grads(&fx, net, "eval", &seq);

    el_tensor_free(&x);
    el_tensor_free(&dy);
    el_tensor_free(&y);
    el_tensor_free(&dx);
    el_sequential_free(&seq);
    el_fixture_free(&fx);
}

Test(sequential, mlp_matches_pytorch) { check_network("mlp"); }
Test(sequential, image_matches_pytorch) { check_network("image"); }
Test(sequential, signal_matches_pytorch) { check_network("signal"); }
Test(sequential, conv_matches_pytorch) { check_network("conv"); }

Test(sequential, names_and_kinds)
{
    el_sequential seq;
    el_module m;
    EL_TEST_OK(el_sequential_init(&seq, "features"));
    add(&seq, el_module_dense(&m, 2, 3, 0, NULL), &m);
    el_rng rng;
    el_rng_seed(&rng, 1);
    add(&seq, el_module_dropout(&m, 0.5f, &rng), &m);
    add(&seq, el_module_batchnorm(&m, 1, 3), &m);
    el_param_list list = {0};
    EL_TEST_OK(el_sequential_params(&seq, &list));
    EL_TEST_OK(el_sequential_buffers(&seq, &list));
    const char *want[] = {"features.0.weight", "features.2.weight", "features.2.bias",
                          "features.2.running_mean", "features.2.running_var"};
    cr_assert_eq(list.count, 5);
    for (int i = 0; i < 5; i++) cr_expect_str_eq(list.items[i]->name, want[i]);
    el_param_list_free(&list);
    const char *name = NULL;
    cr_expect_null(el_sequential_counter(&seq, 1, &name));
    cr_expect_null(el_sequential_counter(&seq, 3, &name));
    cr_assert_not_null(el_sequential_counter(&seq, 2, &name));
    cr_expect_str_eq(name, "features.2.num_batches_tracked");
    cr_expect_str_eq(el_sequential_module(&seq, 0)->ops->kind, "Linear");
    cr_expect_str_eq(el_sequential_module(&seq, 1)->ops->kind, "Dropout");
    cr_expect_str_eq(el_sequential_module(&seq, 2)->ops->kind, "BatchNorm1d");
    cr_expect_eq(((el_dense *)el_sequential_module(&seq, 0)->self)->out_features, 3);
    el_sequential_free(&seq);
    el_sequential_free(&seq); /* safe twice */
}

/* Dropout in the container: in training, dx is dy scaled by the same mask
 * that scaled x into y; in evaluation, the identity. */
Test(sequential, dropout_modes)
{
    el_sequential seq;
    el_module m;
    el_rng rng, data;
    el_rng_seed(&rng, 5);
    el_rng_seed(&data, 6);
    EL_TEST_OK(el_sequential_init(&seq, NULL));
    add(&seq, el_module_dropout(&m, 0.5f, &rng), &m);
    el_tensor x = {0}, dy = {0}, y = {0}, dx = {0};
    el_test_random_tensor(&x, &data, 2, (int[]){8, 16}, 1, 2);
    el_test_random_tensor(&dy, &data, 2, (int[]){8, 16}, 1, 2);
    EL_TEST_OK(el_sequential_forward(&seq, &x, &y));
    EL_TEST_OK(el_sequential_backward(&seq, &dy, &dx));
    int dropped = 0;
    for (size_t i = 0; i < x.size; i++) {
        float scale = y.data[i] / x.data[i];
        cr_assert(scale == 0.0f || fabsf(scale - 2.0f) < 1e-6f, "element %zu scaled by %g", i,
                  scale);
        cr_assert_float_eq(dx.data[i], dy.data[i] * scale, 1e-6f, "element %zu", i);
        dropped += scale == 0.0f;
    }
    cr_expect(dropped > 0 && dropped < (int)x.size, "%d of %zu dropped", dropped, x.size);
    el_sequential_set_training(&seq, 0);
    EL_TEST_OK(el_sequential_forward(&seq, &x, &y));
    EL_TEST_OK(el_sequential_backward(&seq, &dy, &dx));
    el_test_assert_close("eval y", y.data, x.data, x.size, 0, 0);
    el_test_assert_close("eval dx", dx.data, dy.data, x.size, 0, 0);
    el_tensor_free(&x);
    el_tensor_free(&dy);
    el_tensor_free(&y);
    el_tensor_free(&dx);
    el_sequential_free(&seq);
}

/* ---- finite differences --------------------------------------------- */

typedef struct fd_case {
    el_sequential seq;
    el_tensor x, y, w, dx;
} fd_case;

static double fd_loss(void *ctx)
{
    fd_case *c = ctx;
    cr_assert_eq(el_sequential_forward(&c->seq, &c->x, &c->y), EL_OK, "%s", el_last_error());
    return el_test_weighted_sum(&c->w, &c->y);
}

/* Smooth modules only, so that no step of the differences crosses a kink
 * (ReLU's and max pooling's are checked on their own).  Batch norm makes the
 * loss curved enough that the default step's truncation error exceeds 1e-2
 * of the smallest weight gradients (~2e-3), so the step is smaller and
 * gradients under 1e-2 are compared by their absolute error. */
static const el_test_gradcheck_opts fd_opts = {3e-3, 1e-2, 1e-2};

static void check_gradients(const char *what, int image, int training)
{
    fd_case c = {0};
    el_module m;
    el_rng rng;
    el_rng_seed(&rng, 11);
    EL_TEST_OK(el_sequential_init(&c.seq, NULL));
    if (image) {
        add(&c.seq, el_module_batchnorm(&m, 2, 2), &m);
        add_pool(&c.seq, EL_POOL_AVG, 2, 2, 2, 1);
        add(&c.seq, el_module_flatten(&m), &m);
        add(&c.seq, el_module_dense(&m, 18, 3, 1, &rng), &m);
        add(&c.seq, el_module_sigmoid(&m), &m);
        el_test_random_tensor(&c.x, &rng, 4, (int[]){2, 2, 4, 4}, -2, 2);
    } else {
        add(&c.seq, el_module_dense(&m, 4, 5, 1, &rng), &m);
        add(&c.seq, el_module_tanh(&m), &m);
        add(&c.seq, el_module_batchnorm(&m, 1, 5), &m);
        add(&c.seq, el_module_dense(&m, 5, 2, 1, &rng), &m);
        el_test_random_tensor(&c.x, &rng, 2, (int[]){6, 4}, -2, 2);
    }
    el_sequential_set_training(&c.seq, training);
    EL_TEST_OK(el_sequential_forward(&c.seq, &c.x, &c.y));
    el_test_random_tensor(&c.w, &rng, c.y.ndim, c.y.shape, -1, 1);
    EL_TEST_OK(el_sequential_backward(&c.seq, &c.w, &c.dx));
    char label[96];
    el_test_gradcheck(el_fixture_key(label, "%s: x", what), fd_loss, &c, &c.x, &c.dx, &fd_opts);
    el_param_list list = {0};
    EL_TEST_OK(el_sequential_params(&c.seq, &list));
    for (int i = 0; i < list.count; i++)
        el_test_gradcheck(el_fixture_key(label, "%s: %s", what, list.items[i]->name), fd_loss, &c,
                          &list.items[i]->value, &list.items[i]->grad, &fd_opts);
    el_param_list_free(&list);
    el_tensor_free(&c.x);
    el_tensor_free(&c.y);
    el_tensor_free(&c.w);
    el_tensor_free(&c.dx);
    el_sequential_free(&c.seq);
}

Test(sequential, gradcheck)
{
    check_gradients("mlp train", 0, 1);
    check_gradients("mlp eval", 0, 0);
    check_gradients("image train", 1, 1);
    check_gradients("image eval", 1, 0);
}

/* ---- contracts -------------------------------------------------------- */

Test(sequential, errors)
{
    el_sequential seq;
    el_module m;
    EL_TEST_OK(el_sequential_init(&seq, NULL));
    el_tensor x = {0}, y = {0}, dx = {0};
    EL_TEST_OK(el_tensor_alloc(&x, 2, (int[]){3, 4}));
    EL_TEST_FAILS(el_sequential_forward(&seq, &x, &y), EL_ERR_STATE);
    EL_TEST_FAILS(el_sequential_add(&seq, NULL), EL_ERR_INVALID);
    memset(&m, 0, sizeof m);
    EL_TEST_FAILS(el_sequential_add(&seq, &m), EL_ERR_INVALID);
    cr_expect_eq(seq.count, 0);

    add(&seq, el_module_dense(&m, 5, 2, 1, NULL), &m);
    EL_TEST_FAILS(el_sequential_forward(&seq, &x, &y), EL_ERR_SHAPE);
    EL_TEST_FAILS(el_sequential_backward(&seq, &x, &dx), EL_ERR_STATE);
    cr_expect(strstr(el_last_error(), "no forward call"), "%s", el_last_error());
    el_tensor_free(&x);

    EL_TEST_OK(el_tensor_alloc(&x, 2, (int[]){3, 5}));
    EL_TEST_OK(el_sequential_forward(&seq, &x, &y));
    cr_expect(y.ndim == 2 && y.shape[0] == 3 && y.shape[1] == 2);
    EL_TEST_FAILS(el_sequential_backward(&seq, &x, &dx), EL_ERR_SHAPE);
    EL_TEST_OK(el_sequential_backward(&seq, &y, NULL));
    EL_TEST_FAILS(el_sequential_backward(&seq, &y, &dx), EL_ERR_STATE);

    /* A name too long for the index prefix: the module is freed, not added. */
    el_sequential long_named;
    char name[EL_NAME_MAX];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = 0;
    name[sizeof name - 5] = 0;
    EL_TEST_OK(el_sequential_init(&long_named, name));
    EL_TEST_OK(el_module_dense(&m, 2, 2, 1, NULL));
    EL_TEST_FAILS(el_sequential_add(&long_named, &m), EL_ERR_INVALID);
    cr_expect_null(m.self, "the container took the module over");
    cr_expect_eq(long_named.count, 0);
    el_sequential_free(&long_named);

    el_tensor_free(&x);
    el_tensor_free(&y);
    el_tensor_free(&dx);
    el_sequential_free(&seq);
    el_test_assert_no_leaks();
}

/* Every output and cache is sized by the first call of a shape: with every
 * allocation failing after it, the same calls still succeed. */
Test(sequential, no_allocation_after_the_first_call)
{
    el_fixture fx;
    el_fixture_load(&fx, "sequential.txt");
    el_sequential seq;
    build(&seq, "image");
    el_tensor x = {0}, dy = {0}, y = {0}, dx = {0};
    el_fixture_tensor(&fx, "image.x", &x);
    el_fixture_tensor(&fx, "image.dy", &dy);
    for (int training = 1; training >= 0; training--) {
        el_sequential_set_training(&seq, training);
        EL_TEST_OK(el_sequential_forward(&seq, &x, &y));
        EL_TEST_OK(el_sequential_backward(&seq, &dy, &dx));
        el__fail_allocations_after(0);
        el_status forward = el_sequential_forward(&seq, &x, &y);
        el_status backward = el_sequential_backward(&seq, &dy, &dx);
        el__fail_allocations_after(-1);
        cr_expect_eq(forward, EL_OK, "training %d: %s", training, el_last_error());
        cr_expect_eq(backward, EL_OK, "training %d: %s", training, el_last_error());
    }
    el_tensor_free(&x);
    el_tensor_free(&dy);
    el_tensor_free(&y);
    el_tensor_free(&dx);
    el_sequential_free(&seq);
    el_fixture_free(&fx);
}

/* Building and running a network with the n-th allocation failing, for
 * every n: the failing call says EL_ERR_NOMEM and nothing leaks. */
Test(sequential, out_of_memory)
{
    el_rng rng;
    el_rng_seed(&rng, 9);
    el_tensor x = {0}, dy = {0};
    el_test_random_tensor(&x, &rng, 4, (int[]){2, 2, 4, 4}, -1, 1);
    el_test_random_tensor(&dy, &rng, 2, (int[]){2, 3}, -1, 1);
    int completed = 0;
    for (long n = 0; n < 200 && !completed; n++) {
        el_sequential seq;
        el_module m;
        el_pool pool;
        el_tensor y = {0}, dx = {0};
        el__fail_allocations_after(n);
        el_status s = el_sequential_init(&seq, "net");
        if (!s) s = el_module_batchnorm(&m, 2, 2);
        if (!s) s = el_sequential_add(&seq, &m);
        if (!s) s = el_pool_init(&pool, EL_POOL_MAX, 2, (int[]){2, 2}, NULL, NULL);
        if (!s) s = el_module_pool(&m, &pool);
        if (!s) s = el_sequential_add(&seq, &m);
        if (!s) s = el_module_flatten(&m);
        if (!s) s = el_sequential_add(&seq, &m);
        if (!s) s = el_module_dense(&m, 8, 3, 1, &rng);
        if (!s) s = el_sequential_add(&seq, &m);
        if (!s) s = el_module_dropout(&m, 0.5f, &rng);
        if (!s) s = el_sequential_add(&seq, &m);
        if (!s) s = el_sequential_forward(&seq, &x, &y);
        if (!s) s = el_sequential_backward(&seq, &dy, &dx);
        el__fail_allocations_after(-1);
        cr_expect(s == EL_OK || s == EL_ERR_NOMEM, "after %ld allocations: %s: %s", n,
                  el_status_name(s), el_last_error());
        completed = s == EL_OK;
        el_tensor_free(&y);
        el_tensor_free(&dx);
        el_sequential_free(&seq);
    }
    cr_expect(completed, "the network never ran in 200 allocations");
    el_tensor_free(&x);
    el_tensor_free(&dy);
    el_test_assert_no_leaks();
}

/* ---- the whole state in a checkpoint ------------------------------------- */

/* nn.Sequential(Linear(4, 3), ReLU, BatchNorm1d(3), Linear(3, 2)), as
 * tools/make_sequential_checkpoint.py builds it. */
static void build_small(el_sequential *seq)
{
    el_module m;
    EL_TEST_OK(el_sequential_init(seq, NULL));
    add(seq, el_module_dense(&m, 4, 3, 1, NULL), &m);
    add(seq, el_module_relu(&m), &m);
    add(seq, el_module_batchnorm(&m, 1, 3), &m);
    add(seq, el_module_dense(&m, 3, 2, 1, NULL), &m);
}

/* PyTorch's state_dict after three training batches loads, counter
 * included, and the container then gives PyTorch's evaluation output; what
 * elman writes back holds the same tensors, the counter an int64 scalar. */
Test(sequential, state_from_pytorch_and_back)
{
    el_checkpoint *c;
    EL_TEST_OK(el_checkpoint_read(&c, EL_FIXTURE_DIR "/torch-sequential.safetensors"));
    el_sequential seq;
    build_small(&seq);
    EL_TEST_OK(el_checkpoint_load_sequential(c, &seq));
    const char *name;
    int64_t *count = el_sequential_counter(&seq, 2, &name);
    cr_assert_str_eq(name, "2.num_batches_tracked");
    cr_assert_eq(*count, 3);
    el_tensor x, expected, y = {0};
    EL_TEST_OK(el_checkpoint_tensor(c, "test.x", &x));
    EL_TEST_OK(el_checkpoint_tensor(c, "test.y", &expected));
    el_sequential_set_training(&seq, 0);
    EL_TEST_OK(el_sequential_forward(&seq, &x, &y));
    for (size_t i = 0; i < y.size; i++)
        cr_assert_float_eq(y.data[i], expected.data[i], 1e-5, "y[%zu]", i);

    char path[64];
    snprintf(path, sizeof path, "/tmp/elman-sequential-%ld.st", (long)getpid());
    el_checkpoint_writer *w;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add_sequential(w, &seq));
    EL_TEST_OK(el_checkpoint_write(w, path));
    el_checkpoint_writer_free(w);
    el_checkpoint *back;
    EL_TEST_OK(el_checkpoint_read(&back, path));
    cr_assert_eq(el_checkpoint_count(back), 9, "8 float tensors and the counter");
    el_checkpoint_i64 tracked;
    EL_TEST_OK(el_checkpoint_tensor_i64(back, "2.num_batches_tracked", &tracked));
    cr_assert_eq(tracked.ndim, 0);
    cr_assert_eq(tracked.data[0], 3);
    el_tensor a, b;
    for (int i = 0; i < el_checkpoint_count(back); i++) {
        const char *key = el_checkpoint_name(back, i);
        if (!strcmp(key, "2.num_batches_tracked")) continue;
        EL_TEST_OK(el_checkpoint_tensor(back, key, &a));
        EL_TEST_OK(el_checkpoint_tensor(c, key, &b));
        cr_assert_arr_eq(a.data, b.data, a.size * sizeof(float), "%s", key);
    }
    el_checkpoint_free(back);
    remove(path);
    el_tensor_free(&y);
    el_sequential_free(&seq);
    el_checkpoint_free(c);
}

/* A counter that is missing or negative is refused before anything loads. */
Test(sequential, state_refusals_change_nothing)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/elman-sequential-bad-%ld.st", (long)getpid());
    el_sequential seq, other;
    build_small(&seq);
    build_small(&other);
    int64_t *count = el_sequential_counter(&seq, 2, NULL);
    *count = -1;
    el_param_list list = {0};
    EL_TEST_OK(el_sequential_params(&seq, &list));
    el_tensor_fill(&list.items[0]->value, 0.5f);
    el_checkpoint_writer *w;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add_sequential(w, &seq));
    EL_TEST_OK(el_checkpoint_write(w, path));
    el_checkpoint_writer_free(w);
    el_checkpoint *c;
    EL_TEST_OK(el_checkpoint_read(&c, path));
    EL_TEST_FAILS(el_checkpoint_load_sequential(c, &other), EL_ERR_FORMAT);
    cr_assert(strstr(el_last_error(), "2.num_batches_tracked"), "%s", el_last_error());
    el_param_list olist = {0};
    EL_TEST_OK(el_sequential_params(&other, &olist));
    cr_assert_eq(olist.items[0]->value.data[0], 0.0f, "a refused load changed a weight");
    cr_assert_eq(*el_sequential_counter(&other, 2, NULL), 0);
    el_param_list_free(&list);
    el_param_list_free(&olist);
    el_checkpoint_free(c);
    remove(path);
    el_sequential_free(&seq);
    el_sequential_free(&other);
}
