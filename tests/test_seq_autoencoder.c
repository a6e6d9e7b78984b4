/* The sequence autoencoder: gradients of every parameter by finite
 * differences with each cell, learning a dozen words until every one comes
 * back from its code, and encode and decode called separately. */
#include <criterion/criterion.h>
#include <string.h>

#include "gradcheck.h"
#include "support.h"

enum { MAX_B = 16, MAX_T = 12 };

/* A batch built by hand, time-major as el_loader makes them; the targets
 * are not read by the autoencoder and are left empty. */
typedef struct test_batch {
    int inputs[MAX_T * MAX_B], input_lengths[MAX_B], index[MAX_B];
    el_batch batch;
} test_batch;

/* Example b is the sequence words[b] of ids, ended by 0. */
static void make_batch(test_batch *tb, const int (*words)[MAX_T], int count)
{
    memset(tb, 0, sizeof *tb);
    int longest = 0;
    for (int b = 0; b < count; b++) {
        while (words[b][tb->input_lengths[b]]) tb->input_lengths[b]++;
        if (tb->input_lengths[b] > longest) longest = tb->input_lengths[b];
        tb->index[b] = b;
    }
    for (int b = 0; b < count; b++)
        for (int t = 0; t < longest; t++)
            tb->inputs[t * count + b] = t < tb->input_lengths[b] ? words[b][t] : EL_PAD;
    tb->batch = (el_batch){.size = count,
                           .input_steps = longest,
                           .inputs = tb->inputs,
                           .input_lengths = tb->input_lengths,
                           .index = tb->index};
}

static const int small_words[][MAX_T] = {{4, 5, 6}, {7, 4}, {5, 5, 8, 6}, {6}};

typedef struct fd_case {
    el_seq_autoencoder model;
    test_batch tb;
} fd_case;

static double fd_loss(void *ctx)
{
    fd_case *c = ctx;
    float loss = 0;
    EL_TEST_OK(el_seq_autoencoder_loss_of(&c->model, &c->tb.batch, &loss));
    return loss;
}

static void check_gradients(el_cell cell)
{
    fd_case c;
    el_rng rng;
    el_rng_seed(&rng, 21);
    EL_TEST_OK(
        el_seq_autoencoder_init(&c.model, &(el_seq_autoencoder_config){cell, 9, 3, 5}, &rng));
    make_batch(&c.tb, small_words, 4);
    el_param_list params = {0};
    EL_TEST_OK(el_seq_autoencoder_params(&c.model, &params));
    cr_assert_eq(params.count, 1 + 4 + 4 + 2);
    cr_assert_str_eq(params.items[0]->name, "embed.weight");
    cr_assert_str_eq(params.items[1]->name, "encoder.weight_ih_l0");
    cr_assert_str_eq(params.items[5]->name, "decoder.weight_ih_l0");
    cr_assert_str_eq(params.items[10]->name, "output.bias");
    el_param_list_zero_grad(&params);
    float loss = 0;
    EL_TEST_OK(el_seq_autoencoder_train_step(&c.model, &c.tb.batch, &loss));
    cr_assert(loss > 0, "the loss of an untrained model is %g", (double)loss);
    cr_assert_float_eq(loss, fd_loss(&c), 1e-6, "the training and evaluation losses differ");
    const el_test_gradcheck_opts opts = {.eps = 1e-2, .tolerance = 1e-2, .floor = 1e-2};
    /* The embedding's <pad> row gets no gradient and moves no loss (a
     * padded position is ignored), so it is checked with the rest. */
    for (int i = 0; i < params.count; i++) {
        el_param *p = params.items[i];
        el_test_gradcheck(p->name, fd_loss, &c, &p->value, &p->grad, &opts);
    }
    el_param_list_free(&params);
    el_seq_autoencoder_free(&c.model);
}

Test(seq_autoencoder, gradients_gru) { check_gradients(EL_CELL_GRU); }
Test(seq_autoencoder, gradients_lstm) { check_gradients(EL_CELL_LSTM); }
Test(seq_autoencoder, gradients_rnn) { check_gradients(EL_CELL_RNN_TANH); }

static const int train_words[][MAX_T] = {{4, 5, 6},    {5, 4, 7, 8}, {6, 6, 4},    {7, 8, 5, 4, 6},
                                         {8, 7},       {4, 8, 8, 5}, {5, 6, 7, 8}, {6, 4},
                                         {7, 5, 6, 4}, {8, 4, 5},    {4, 7, 6},    {5, 8, 4, 7, 6}};

/* Every word comes back from its code, and decoding the codes one at a time
 * gives what decoding them together does. */
Test(seq_autoencoder, learns_words_and_decodes_their_codes)
{
    el_rng rng;
    el_rng_seed(&rng, 23);
    el_seq_autoencoder model;
    EL_TEST_OK(
        el_seq_autoencoder_init(&model, &(el_seq_autoencoder_config){EL_CELL_GRU, 9, 8, 32}, &rng));
    test_batch tb;
    make_batch(&tb, train_words, 12);
    el_param_list params = {0};
    EL_TEST_OK(el_seq_autoencoder_params(&model, &params));
    el_optimizer *adam;
    el_optimizer_config oc = el_optimizer_defaults(EL_OPT_ADAM);
    oc.lr = 0.02;
    EL_TEST_OK(el_optimizer_create(&adam, &oc, &params));
    float first = 0, loss = 0;
    for (int step = 0; step < 300; step++) {
        el_optimizer_zero_grad(adam);
        EL_TEST_OK(el_seq_autoencoder_train_step(&model, &tb.batch, &loss));
        EL_TEST_OK(el_optimizer_step(adam));
        if (step == 0) first = loss;
    }
    cr_assert(loss < 0.05f * first, "the loss went from %g to %g only", (double)first,
              (double)loss);

    el_tensor code = {0}, one = {0};
    EL_TEST_OK(el_seq_autoencoder_encode(&model, &tb.batch, &code));
    cr_assert_eq(code.ndim, 2);
    cr_assert_eq(code.shape[0], 12);
    cr_assert_eq(code.shape[1], 32);
    el_ids out[MAX_B] = {{0}}, single[1] = {{0}};
    EL_TEST_OK(el_seq_autoencoder_decode(&model, &code, 8, out));
    for (int b = 0; b < 12; b++) {
        int len = tb.input_lengths[b];
        cr_assert_eq((int)out[b].count, len, "word %d: %d symbols, not %d", b, (int)out[b].count,
                     len);
        for (int t = 0; t < len; t++) cr_assert_eq(out[b].data[t], train_words[b][t]);
        EL_TEST_OK(el_tensor_view(&one, &code, (size_t)b * 32, 2, (int[]){1, 32}));
        EL_TEST_OK(el_seq_autoencoder_decode(&model, &one, 8, single));
        cr_assert_eq(single[0].count, out[b].count);
        cr_assert_arr_eq(single[0].data, out[b].data, out[b].count * sizeof(int));
    }
    /* A short limit cuts every word there. */
    EL_TEST_OK(el_seq_autoencoder_decode(&model, &code, 2, out));
    for (int b = 0; b < 12; b++) cr_assert_leq(out[b].count, 2);

    for (int b = 0; b < MAX_B; b++) el_ids_free(&out[b]);
    el_ids_free(&single[0]);
    el_tensor_free(&code);
    el_optimizer_free(adam);
    el_param_list_free(&params);
    el_seq_autoencoder_free(&model);
}

Test(seq_autoencoder, refuses_bad_arguments)
{
    el_seq_autoencoder model;
    EL_TEST_FAILS(
        el_seq_autoencoder_init(&model, &(el_seq_autoencoder_config){EL_CELL_GRU, 4, 3, 5}, NULL),
        EL_ERR_INVALID);
    EL_TEST_OK(
        el_seq_autoencoder_init(&model, &(el_seq_autoencoder_config){EL_CELL_GRU, 9, 3, 5}, NULL));
    el_tensor code = {0};
    el_ids out[2] = {{0}};
    EL_TEST_OK(el_tensor_alloc(&code, 2, (int[]){2, 4}));
    EL_TEST_FAILS(el_seq_autoencoder_decode(&model, &code, 5, out), EL_ERR_SHAPE);
    cr_assert(strstr(el_last_error(), "expected B x 5"), "%s", el_last_error());
    el_batch empty = {0};
    float loss;
    EL_TEST_FAILS(el_seq_autoencoder_train_step(&model, &empty, &loss), EL_ERR_INVALID);
    el_tensor_free(&code);
    el_seq_autoencoder_free(&model);
}
