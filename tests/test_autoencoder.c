/* The image autoencoder (include/elman/autoencoder.h) against PyTorch, finite
 * differences and a short training run.
 *
 * tests/fixtures/autoencoder.txt (tools/make_autoencoder_fixtures.py) holds
 * a small conv and a small dense autoencoder as PyTorch modules with
 * `encoder` and `decoder` attributes: their state_dicts under PyTorch's
 * keys, one input, the code, the output, and the gradients of sum(y * dy).
 * The builders' networks load that state by their own names, so every name
 * must be PyTorch's key.  Outputs and gradients match within rtol 1e-5,
 * atol 1e-6, as the layers alone do. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "fixture.h"
#include "gradcheck.h"
#include "support.h"

#define RTOL 1e-5
#define ATOL 1e-6

/* The fixture's networks. */
static void build(el_autoencoder *ae, const char *net, el_rng *rng)
{
    if (!strcmp(net, "conv")) {
        EL_TEST_OK(el_autoencoder_init_conv(ae, 1, 8, 8, 3, rng));
    } else {
        cr_assert_str_eq(net, "dense");
        EL_TEST_OK(el_autoencoder_init_dense(ae, 2, 4, 3, 5, 3, rng));
    }
}

static int count_prefixed(const el_fixture *fx, const char *prefix)
{
    int n = 0;
    for (int i = 0; i < fx->count; i++) n += !strncmp(fx->arrays[i].name, prefix, strlen(prefix));
    return n;
}

static void check_network(const char *net)
{
    el_fixture fx;
    el_fixture_load(&fx, "autoencoder.txt");
    el_autoencoder ae;
    build(&ae, net, NULL);
    char key[EL_FIXTURE_NAME_MAX];
    el_param_list list = {0};
    EL_TEST_OK(el_autoencoder_params(&ae, &list));
    EL_TEST_OK(el_autoencoder_buffers(&ae, &list));
    for (int i = 0; i < list.count; i++) {
        const el_fixture_array *a =
            el_fixture_get(&fx, el_fixture_key(key, "%s.init.%s", net, list.items[i]->name));
        cr_assert_eq(a->size, list.items[i]->value.size, "%s", key);
        memcpy(list.items[i]->value.data, a->data, a->size * sizeof(float));
    }
    cr_expect_eq(list.count, count_prefixed(&fx, el_fixture_key(key, "%s.init.", net)),
                 "%s: the autoencoder has %d tensors, PyTorch's state_dict another count", net,
                 list.count);

    el_tensor x = {0}, dy = {0}, code = {0}, y = {0}, dx = {0};
    el_fixture_tensor(&fx, el_fixture_key(key, "%s.x", net), &x);
    el_fixture_tensor(&fx, el_fixture_key(key, "%s.dy", net), &dy);
    EL_TEST_OK(el_autoencoder_forward(&ae, &x, &y));
    EL_TEST_OK(el_autoencoder_backward(&ae, &dy, &dx));
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.code", net), &ae.code, RTOL, ATOL);
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.y", net), &y, RTOL, ATOL);
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.dx", net), &dx, RTOL, ATOL);
    for (int i = 0; i < list.count; i++)
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.d%s", net, list.items[i]->name),
                                 &list.items[i]->grad, RTOL, ATOL);
    EL_TEST_OK(el_autoencoder_encode(&ae, &x, &code));
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.code", net), &code, RTOL, ATOL);

    el_param_list_free(&list);
    el_tensor_free(&x);
    el_tensor_free(&dy);
    el_tensor_free(&code);
    el_tensor_free(&y);
    el_tensor_free(&dx);
    el_autoencoder_free(&ae);
    el_fixture_free(&fx);
}

Test(autoencoder, conv_matches_pytorch) { check_network("conv"); }
Test(autoencoder, dense_matches_pytorch) { check_network("dense"); }

Test(autoencoder, names_and_shapes)
{
    static const char *conv_names[] = {
        "encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
        "encoder.5.weight", "encoder.5.bias", "decoder.0.weight", "decoder.0.bias",
        "decoder.3.weight", "decoder.3.bias", "decoder.5.weight", "decoder.5.bias",
    };
    static const char *dense_names[] = {
        "encoder.1.weight", "encoder.1.bias", "encoder.3.weight", "encoder.3.bias",
        "decoder.0.weight", "decoder.0.bias", "decoder.2.weight", "decoder.2.bias",
    };
    el_rng rng;
    el_rng_seed(&rng, 1);
    el_autoencoder ae;
    el_param_list list = {0};
    EL_TEST_OK(el_autoencoder_init_conv(&ae, 1, 28, 28, 32, &rng));
    EL_TEST_OK(el_autoencoder_params(&ae, &list));
    cr_assert_eq(list.count, 12);
    for (int i = 0; i < 12; i++) cr_expect_str_eq(list.items[i]->name, conv_names[i]);
    cr_expect_eq(el_param_list_find(&list, "encoder.5.weight")->value.shape[1], 32 * 7 * 7);
    cr_expect_eq(ae.encoder.count, 6);
    cr_expect_eq(ae.decoder.count, 7);
    cr_expect_str_eq(ae.decoder.modules[2].ops->kind, "Unflatten");
    cr_expect_str_eq(ae.decoder.modules[3].ops->kind, "ConvTranspose2d");
    el_param_list_free(&list);

    el_tensor x = {0}, code = {0}, y = {0};
    EL_TEST_OK(el_tensor_alloc(&x, 4, (int[]){3, 1, 28, 28}));
    EL_TEST_OK(el_init_uniform(&x, &rng, 0, 1));
    EL_TEST_OK(el_autoencoder_encode(&ae, &x, &code));
    cr_expect(code.ndim == 2 && code.shape[0] == 3 && code.shape[1] == 32);
    EL_TEST_OK(el_autoencoder_forward(&ae, &x, &y));
    cr_expect(el_tensor_same_shape(&x, &y));
    for (size_t i = 0; i < y.size; i++) cr_assert(y.data[i] > 0 && y.data[i] < 1);
    el_autoencoder_free(&ae);

    EL_TEST_OK(el_autoencoder_init_dense(&ae, 1, 28, 28, 256, 32, &rng));
    EL_TEST_OK(el_autoencoder_params(&ae, &list));
    cr_assert_eq(list.count, 8);
    for (int i = 0; i < 8; i++) cr_expect_str_eq(list.items[i]->name, dense_names[i]);
    cr_expect_eq(el_param_list_find(&list, "encoder.1.weight")->value.shape[1], 784);
    cr_expect_eq(el_param_list_find(&list, "decoder.2.weight")->value.shape[0], 784);
    el_param_list_free(&list);
    EL_TEST_OK(el_autoencoder_forward(&ae, &x, &y));
    cr_expect(el_tensor_same_shape(&x, &y));
    el_autoencoder_free(&ae);
    el_tensor_free(&x);
    el_tensor_free(&code);
    el_tensor_free(&y);
}

Test(autoencoder, refuses_bad_sizes_and_order)
{
    el_autoencoder ae;
    EL_TEST_FAILS(el_autoencoder_init_conv(&ae, 1, 10, 8, 4, NULL), EL_ERR_INVALID);
    cr_expect(strstr(el_last_error(), "el_autoencoder_init_conv") != NULL);
    EL_TEST_FAILS(el_autoencoder_init_dense(&ae, 1, 4, 4, 0, 4, NULL), EL_ERR_INVALID);
    EL_TEST_OK(el_autoencoder_init_dense(&ae, 1, 4, 4, 6, 2, NULL));
    el_tensor dy = {0}, x = {0}, y = {0}, wrong = {0};
    EL_TEST_OK(el_tensor_alloc(&dy, 4, (int[]){2, 1, 4, 4}));
    EL_TEST_FAILS(el_autoencoder_backward(&ae, &dy, NULL), EL_ERR_STATE);
    /* Decoding alone leaves nothing to backpropagate into the encoder. */
    EL_TEST_OK(el_tensor_alloc(&x, 2, (int[]){2, 2}));
    EL_TEST_OK(el_autoencoder_decode(&ae, &x, &y));
    EL_TEST_FAILS(el_autoencoder_backward(&ae, &dy, NULL), EL_ERR_STATE);
    /* A code of another width. */
    EL_TEST_OK(el_tensor_alloc(&wrong, 2, (int[]){2, 3}));
    EL_TEST_FAILS(el_autoencoder_decode(&ae, &wrong, &y), EL_ERR_SHAPE);
    el_tensor_free(&dy);
    el_tensor_free(&x);
    el_tensor_free(&y);
    el_tensor_free(&wrong);
    el_autoencoder_free(&ae);
}

/* Runs forward then backward of sum(w * y) and returns the gradients of x
 * and every parameter, after zeroing the parameters' gradients. */
static void forward_backward(el_autoencoder *ae, const el_tensor *x, const el_tensor *w,
                             el_tensor *y, el_tensor *dx, int separately)
{
    el_param_list list = {0};
    EL_TEST_OK(el_autoencoder_params(ae, &list));
    el_param_list_zero_grad(&list);
    el_param_list_free(&list);
    if (separately) {
        el_tensor code = {0};
        EL_TEST_OK(el_autoencoder_encode(ae, x, &code));
        EL_TEST_OK(el_autoencoder_decode(ae, &code, y));
        el_tensor_free(&code);
    } else {
        EL_TEST_OK(el_autoencoder_forward(ae, x, y));
    }
    EL_TEST_OK(el_autoencoder_backward(ae, w, dx));
}

Test(autoencoder, encode_then_decode_is_forward)
{
    el_rng rng;
    el_rng_seed(&rng, 7);
    el_autoencoder ae;
    EL_TEST_OK(el_autoencoder_init_conv(&ae, 2, 8, 4, 5, &rng));
    el_tensor x = {0}, w = {0}, y1 = {0}, y2 = {0}, dx1 = {0}, dx2 = {0};
    EL_TEST_OK(el_tensor_alloc(&x, 4, (int[]){3, 2, 8, 4}));
    EL_TEST_OK(el_init_uniform(&x, &rng, 0, 1));
    EL_TEST_OK(el_tensor_alloc(&w, 4, (int[]){3, 2, 8, 4}));
    EL_TEST_OK(el_init_normal(&w, &rng, 0, 1));

    forward_backward(&ae, &x, &w, &y1, &dx1, 0);
    el_param_list list = {0};
    EL_TEST_OK(el_autoencoder_params(&ae, &list));
    el_tensor grads[16] = {{0}};
    cr_assert(list.count <= 16);
    for (int i = 0; i < list.count; i++) {
        EL_TEST_OK(el_tensor_alloc(&grads[i], list.items[i]->grad.ndim, list.items[i]->grad.shape));
        EL_TEST_OK(el_tensor_copy(&grads[i], &list.items[i]->grad));
    }
    forward_backward(&ae, &x, &w, &y2, &dx2, 1);
    cr_expect_eq(memcmp(y1.data, y2.data, y1.size * sizeof(float)), 0);
    cr_expect_eq(memcmp(dx1.data, dx2.data, dx1.size * sizeof(float)), 0);
    for (int i = 0; i < list.count; i++) {
        cr_expect_eq(memcmp(grads[i].data, list.items[i]->grad.data, grads[i].size * sizeof(float)),
                     0, "%s", list.items[i]->name);
        el_tensor_free(&grads[i]);
    }
    el_param_list_free(&list);
    el_tensor_free(&x);
    el_tensor_free(&w);
    el_tensor_free(&y1);
    el_tensor_free(&y2);
    el_tensor_free(&dx1);
    el_tensor_free(&dx2);
    el_autoencoder_free(&ae);
}

typedef struct gradcheck_ctx {
    el_autoencoder *ae;
    el_tensor *x, *w, *y;
} gradcheck_ctx;

static double loss_of(void *p)
{
    gradcheck_ctx *c = p;
    EL_TEST_OK(el_autoencoder_forward(c->ae, c->x, c->y));
    return el_test_weighted_sum(c->w, c->y);
}

/* Checks the input's and every parameter's gradient of sum(w * y) against
 * central differences, with every parameter drawn from U(-scale, scale):
 * wider than the default initialisation, so that gradients stand well above
 * float32's rounding of the loss. */
static void gradcheck_network(el_autoencoder *ae, el_rng *rng, float scale, int n, int c, int h,
                              int w_, const el_test_gradcheck_opts *opts)
{
    el_param_list list = {0};
    EL_TEST_OK(el_autoencoder_params(ae, &list));
    for (int i = 0; i < list.count; i++)
        EL_TEST_OK(el_init_uniform(&list.items[i]->value, rng, -scale, scale));
    el_tensor x = {0}, w = {0}, y = {0}, dx = {0};
    EL_TEST_OK(el_tensor_alloc(&x, 4, (int[]){n, c, h, w_}));
    EL_TEST_OK(el_init_uniform(&x, rng, 0, 1));
    EL_TEST_OK(el_tensor_alloc(&w, 4, (int[]){n, c, h, w_}));
    EL_TEST_OK(el_init_normal(&w, rng, 0, 1));
    forward_backward(ae, &x, &w, &y, &dx, 0);
    gradcheck_ctx ctx = {ae, &x, &w, &y};
    el_test_gradcheck("x", loss_of, &ctx, &x, &dx, opts);
    for (int i = 0; i < list.count; i++)
        el_test_gradcheck(list.items[i]->name, loss_of, &ctx, &list.items[i]->value,
                          &list.items[i]->grad, opts);
    el_param_list_free(&list);
    el_tensor_free(&x);
    el_tensor_free(&w);
    el_tensor_free(&y);
    el_tensor_free(&dx);
}

/* The dense builder's network: its ReLUs' kinks are the only places a
 * difference could cross, and with this seed none does. */
Test(autoencoder, dense_gradients_match_finite_differences)
{
    el_rng rng;
    el_rng_seed(&rng, 11);
    el_autoencoder ae;
    EL_TEST_OK(el_autoencoder_init_dense(&ae, 1, 3, 4, 6, 2, &rng));
    el_test_gradcheck_opts opts = EL_TEST_GRADCHECK_DEFAULTS;
    gradcheck_network(&ae, &rng, 1, 2, 1, 3, 4, &opts);
    el_autoencoder_free(&ae);
}

static void add(el_sequential *seq, el_status made, el_module *m)
{
    EL_TEST_OK(made);
    EL_TEST_OK(el_sequential_add(seq, m));
}

/* A conv autoencoder as small as the conv builder's is in shape, with tanh
 * for ReLU: the conv builder's 16 and 32 channels of ReLUs hold too many
 * kinks for differences to step over (the builder itself is checked against
 * PyTorch above).  Gradients under 1e-2 are compared by their absolute
 * error, as in test_sequential.c. */
Test(autoencoder, conv_gradients_match_finite_differences)
{
    el_rng rng;
    el_rng_seed(&rng, 12);
    el_autoencoder ae;
    el_module m;
    el_conv2d_config down = {.in_channels = 1,
                             .out_channels = 2,
                             .kernel = {3, 3},
                             .stride = {2, 2},
                             .padding = {1, 1},
                             .bias = 1};
    el_conv_transpose2d_config up = {.in_channels = 2,
                                     .out_channels = 1,
                                     .kernel = {3, 3},
                                     .stride = {2, 2},
                                     .padding = {1, 1},
                                     .output_padding = {1, 1},
                                     .bias = 1};
    EL_TEST_OK(el_autoencoder_init(&ae));
    add(&ae.encoder, el_module_conv2d(&m, &down, NULL), &m);
    add(&ae.encoder, el_module_tanh(&m), &m);
    add(&ae.encoder, el_module_flatten(&m), &m);
    add(&ae.encoder, el_module_dense(&m, 8, 3, 1, NULL), &m);
    add(&ae.decoder, el_module_dense(&m, 3, 8, 1, NULL), &m);
    add(&ae.decoder, el_module_tanh(&m), &m);
    add(&ae.decoder, el_module_unflatten(&m, 3, (int[]){2, 2, 2}), &m);
    add(&ae.decoder, el_module_conv_transpose2d(&m, &up, NULL), &m);
    add(&ae.decoder, el_module_sigmoid(&m), &m);
    el_test_gradcheck_opts opts = {3e-3, 1e-2, 1e-2};
    gradcheck_network(&ae, &rng, 1, 2, 1, 4, 4, &opts);
    el_autoencoder_free(&ae);
}

/* Images of a bright square of side 3 to 5 at a random place on a dark 8x8
 * background: few degrees of freedom, which a small code can hold. */
static void squares(el_rng *rng, el_tensor *images, int n)
{
    EL_TEST_OK(el_tensor_alloc(images, 4, (int[]){n, 1, 8, 8}));
    el_tensor_fill(images, 0);
    for (int i = 0; i < n; i++) {
        int side = 3 + (int)el_rng_below(rng, 3);
        int top = (int)el_rng_below(rng, (uint32_t)(9 - side));
        int left = (int)el_rng_below(rng, (uint32_t)(9 - side));
        for (int r = top; r < top + side; r++)
            for (int c = left; c < left + side; c++) images->data[(size_t)i * 64 + r * 8 + c] = 1;
    }
}

static float mse_of(el_autoencoder *ae, const el_tensor *x, el_tensor *y)
{
    float loss;
    EL_TEST_OK(el_autoencoder_forward(ae, x, y));
    EL_TEST_OK(el_mse_loss(y, x, &loss, NULL));
    return loss;
}

static void trains(int conv)
{
    el_rng rng;
    el_rng_seed(&rng, 21);
    el_autoencoder ae;
    if (conv)
        EL_TEST_OK(el_autoencoder_init_conv(&ae, 1, 8, 8, 8, &rng));
    else
        EL_TEST_OK(el_autoencoder_init_dense(&ae, 1, 8, 8, 32, 8, &rng));
    el_tensor train = {0}, batch = {0}, y = {0}, dy = {0};
    squares(&rng, &train, 320);
    el_param_list list = {0};
    EL_TEST_OK(el_autoencoder_params(&ae, &list));
    el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
    config.lr = 3e-3;
    el_optimizer *opt;
    EL_TEST_OK(el_optimizer_create(&opt, &config, &list));
    float before = mse_of(&ae, &train, &y);
    for (int epoch = 0; epoch < 20; epoch++) {
        for (int start = 0; start < 320; start += 32) {
            EL_TEST_OK(el_tensor_view(&batch, &train, (size_t)start * 64, 4, (int[]){32, 1, 8, 8}));
            float loss;
            EL_TEST_OK(el_autoencoder_forward(&ae, &batch, &y));
            EL_TEST_OK(el_tensor_ensure(&dy, y.ndim, y.shape));
            EL_TEST_OK(el_mse_loss(&y, &batch, &loss, &dy));
            el_optimizer_zero_grad(opt);
            EL_TEST_OK(el_autoencoder_backward(&ae, &dy, NULL));
            EL_TEST_OK(el_optimizer_step(opt));
        }
    }
    float after = mse_of(&ae, &train, &y);
    cr_expect(after < 0.5f * before, "MSE %g before training, %g after", before, after);
    el_optimizer_free(opt);
    el_param_list_free(&list);
    el_tensor_free(&train);
    el_tensor_free(&y);
    el_tensor_free(&dy);
    el_autoencoder_free(&ae);
}

Test(autoencoder, dense_training_lowers_the_mse) { trains(0); }
Test(autoencoder, conv_training_lowers_the_mse) { trains(1); }
