/* The encoder-decoder model: gradients by finite differences in both
 * framings and with each cell, the step-by-step decoder (teacher forcing
 * below 1) against the whole-sequence one, learning to reverse words, and
 * greedy against beam decoding. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "gradcheck.h"
#include "support.h"

enum { MAX_B = 16, MAX_T = 12 };

/* A batch built by hand: time-major ids, as el_loader makes them. */
typedef struct test_batch {
    int inputs[MAX_T * MAX_B], targets[MAX_T * MAX_B];
    int input_lengths[MAX_B], target_lengths[MAX_B], index[MAX_B];
    el_batch batch;
} test_batch;

/* Example b is the sequence words[b] of ids (ended by 0) reversed -> itself. */
static void make_batch(test_batch *tb, const int (*words)[MAX_T], int count)
{
    memset(tb, 0, sizeof *tb);
    int longest = 0;
    for (int b = 0; b < count; b++) {
        int len = 0;
        while (words[b][len]) len++;
        tb->input_lengths[b] = tb->target_lengths[b] = len;
        tb->index[b] = b;
        if (len > longest) longest = len;
    }
    for (int b = 0; b < count; b++) {
        int len = tb->input_lengths[b];
        for (int t = 0; t < longest; t++) {
            tb->inputs[t * count + b] = t < len ? words[b][len - 1 - t] : EL_PAD;
            tb->targets[t * count + b] = t < len ? words[b][t] : EL_PAD;
        }
    }
    tb->batch = (el_batch){
        count,    longest, longest, tb->inputs, tb->input_lengths, tb->targets, tb->target_lengths,
        tb->index};
}

/* Symbols are ids 4.. (after the specials). */
static const int small_words[][MAX_T] = {{4, 5, 6}, {7, 4}, {5, 5, 8, 6}, {6}};

typedef struct fd_case {
    el_seq2seq model;
    test_batch tb;
    el_param_list params;
} fd_case;

static double fd_loss(void *ctx)
{
    fd_case *c = ctx;
    float loss = 0;
    EL_TEST_OK(el_seq2seq_loss_of(&c->model, &c->tb.batch, &loss));
    return loss;
}

static void check_model_gradients(const el_seq2seq_config *cfg)
{
    fd_case c;
    el_rng rng;
    el_rng_seed(&rng, 11);
    EL_TEST_OK(el_seq2seq_init(&c.model, cfg, &rng));
    make_batch(&c.tb, small_words, 4);
    c.params = (el_param_list){0};
    EL_TEST_OK(el_seq2seq_params(&c.model, &c.params));
    el_param_list_zero_grad(&c.params);
    float loss = 0;
    EL_TEST_OK(el_seq2seq_train_step(&c.model, &c.tb.batch, 1.0, NULL, &loss));
    cr_assert(loss > 0, "the loss of an untrained model is %g", (double)loss);
    cr_assert_float_eq(loss, fd_loss(&c), 1e-6, "the training and evaluation losses differ");
    const el_test_gradcheck_opts opts = {.eps = 1e-2, .tolerance = 1e-2, .floor = 1e-2};
    for (int i = 0; i < c.params.count; i++) {
        el_param *p = c.params.items[i];
        el_test_gradcheck(p->name, fd_loss, &c, &p->value, &p->grad, &opts);
    }
    el_param_list_free(&c.params);
    el_seq2seq_free(&c.model);
}

static void check_gradients(el_cell cell, int layers, int bidirectional, int padded_steps)
{
    el_seq2seq_config cfg = {
        cell, 9, 9, 5, layers, bidirectional, 0.0f, padded_steps, EL_ATTENTION_NONE, 0};
    check_model_gradients(&cfg);
}

/* Attention and embeddings, with a target vocabulary of its own size. */
static void check_attention_gradients(el_cell cell, el_attention attention, int layers,
                                      int bidirectional, int embedding, int padded_steps)
{
    el_seq2seq_config cfg = {cell,          9,    10,           5,         layers,
                             bidirectional, 0.0f, padded_steps, attention, embedding};
    check_model_gradients(&cfg);
}

Test(seq2seq, gradients_additive_gru)
{
    check_attention_gradients(EL_CELL_GRU, EL_ATTENTION_ADDITIVE, 1, 0, 0, 0);
}
Test(seq2seq, gradients_additive_gru_bidirectional_embedding)
{
    check_attention_gradients(EL_CELL_GRU, EL_ATTENTION_ADDITIVE, 1, 1, 3, 0);
}
Test(seq2seq, gradients_dot_gru_bidirectional_embedding)
{
    check_attention_gradients(EL_CELL_GRU, EL_ATTENTION_DOT, 1, 1, 3, 0);
}
Test(seq2seq, gradients_general_lstm_two_layers)
{
    check_attention_gradients(EL_CELL_LSTM, EL_ATTENTION_GENERAL, 2, 1, 0, 0);
}
Test(seq2seq, gradients_additive_lstm_two_layers_padded)
{
    check_attention_gradients(EL_CELL_LSTM, EL_ATTENTION_ADDITIVE, 2, 0, 3, 7);
}
Test(seq2seq, gradients_embedding_without_attention)
{
    check_attention_gradients(EL_CELL_GRU, EL_ATTENTION_NONE, 1, 1, 3, 0);
}

Test(seq2seq, gradients_gru) { check_gradients(EL_CELL_GRU, 1, 0, 0); }
Test(seq2seq, gradients_lstm_two_layers_bidirectional) { check_gradients(EL_CELL_LSTM, 2, 1, 0); }
Test(seq2seq, gradients_rnn_bidirectional) { check_gradients(EL_CELL_RNN_TANH, 1, 1, 0); }
Test(seq2seq, gradients_gru_padded_framing) { check_gradients(EL_CELL_GRU, 1, 0, 7); }

/* Teacher forcing below 1 runs the decoder step by step.  At a ratio that
 * always picks the true symbol (a uniform draw is below 1 - 2^-24), it must
 * give the whole-sequence pass's loss and gradients. */
static void check_stepwise(el_cell cell, int padded_steps)
{
    el_rng rng;
    el_rng_seed(&rng, 12);
    el_seq2seq_config cfg = {cell, 9, 9, 6, 2, 1, 0.0f, padded_steps, EL_ATTENTION_NONE, 0};
    el_seq2seq model;
    EL_TEST_OK(el_seq2seq_init(&model, &cfg, &rng));
    test_batch tb;
    make_batch(&tb, small_words, 4);
    el_param_list params = {0};
    EL_TEST_OK(el_seq2seq_params(&model, &params));
    size_t n = el_param_list_numel(&params);
    el_tensor whole = {0}, stepwise = {0};
    EL_TEST_OK(el_tensor_alloc(&whole, 1, (int[]){(int)n}));
    EL_TEST_OK(el_tensor_alloc(&stepwise, 1, (int[]){(int)n}));
    float loss_whole = 0, loss_stepwise = 0;
    for (int pass = 0; pass < 2; pass++) {
        el_param_list_zero_grad(&params);
        float *loss = pass ? &loss_stepwise : &loss_whole;
        EL_TEST_OK(el_seq2seq_train_step(&model, &tb.batch, pass ? 0.9999999 : 1.0, &rng, loss));
        el_tensor *into = pass ? &stepwise : &whole;
        size_t at = 0;
        for (int i = 0; i < params.count; i++) {
            const el_tensor *g = &params.items[i]->grad;
            memcpy(into->data + at, g->data, g->size * sizeof(float));
            at += g->size;
        }
    }
    cr_assert_float_eq(loss_stepwise, loss_whole, 1e-6);
    el_test_assert_close("parameter gradients, step by step", stepwise.data, whole.data, n, 1e-4,
                         1e-6);
    el_tensor_free(&whole);
    el_tensor_free(&stepwise);
    el_param_list_free(&params);
    el_seq2seq_free(&model);
}

Test(seq2seq, stepwise_decoder_matches_whole_gru) { check_stepwise(EL_CELL_GRU, 0); }
Test(seq2seq, stepwise_decoder_matches_whole_lstm) { check_stepwise(EL_CELL_LSTM, 0); }
Test(seq2seq, stepwise_decoder_matches_whole_padded) { check_stepwise(EL_CELL_GRU, 7); }

/* Twelve words over five symbols. */
static const int train_words[][MAX_T] = {{4, 5, 6},    {5, 4, 7, 8}, {6, 6, 4},    {7, 8, 5, 4, 6},
                                         {8, 7},       {4, 8, 8, 5}, {5, 6, 7, 8}, {6, 4},
                                         {7, 5, 6, 4}, {8, 4, 5},    {4, 7, 6},    {5, 8, 4, 7, 6}};

static int exact_matches(el_seq2seq *model, const test_batch *tb, int beam)
{
    el_ids out[MAX_B] = {{0}};
    EL_TEST_OK(el_seq2seq_decode(model, &tb->batch, beam, 8, out));
    int right = 0;
    for (int b = 0; b < tb->batch.size; b++) {
        int len = tb->target_lengths[b], same = (int)out[b].count == len;
        for (int t = 0; same && t < len; t++)
            same = out[b].data[t] == tb->targets[t * tb->batch.size + b];
        right += same;
        el_ids_free(&out[b]);
    }
    return right;
}

static void check_learns(el_cell cell, int padded_steps, double teacher_forcing)
{
    el_rng rng;
    el_rng_seed(&rng, 13);
    el_seq2seq_config cfg = {cell, 9, 9, 32, 1, 0, 0.0f, padded_steps, EL_ATTENTION_NONE, 0};
    el_seq2seq model;
    EL_TEST_OK(el_seq2seq_init(&model, &cfg, &rng));
    test_batch tb;
    make_batch(&tb, train_words, 12);
    el_param_list params = {0};
    EL_TEST_OK(el_seq2seq_params(&model, &params));
    el_optimizer *adam;
    el_optimizer_config oc = el_optimizer_defaults(EL_OPT_ADAM);
    oc.lr = 0.02;
    EL_TEST_OK(el_optimizer_create(&adam, &oc, &params));
    float first = 0, loss = 0;
    for (int step = 0; step < 300; step++) {
        el_optimizer_zero_grad(adam);
        EL_TEST_OK(el_seq2seq_train_step(&model, &tb.batch, teacher_forcing, &rng, &loss));
        EL_TEST_OK(el_optimizer_step(adam));
        if (step == 0) first = loss;
    }
    cr_assert(loss < 0.05f * first, "the loss went from %g to %g only", (double)first,
              (double)loss);
    int greedy = exact_matches(&model, &tb, 1), beam = exact_matches(&model, &tb, 3);
    cr_assert_eq(greedy, 12, "greedy decoding got %d of 12 words", greedy);
    cr_assert_eq(beam, 12, "beam decoding got %d of 12 words", beam);
    el_optimizer_free(adam);
    el_param_list_free(&params);
    el_seq2seq_free(&model);
}

Test(seq2seq, learns_to_reverse_gru) { check_learns(EL_CELL_GRU, 0, 1.0); }
Test(seq2seq, learns_to_reverse_lstm_padded) { check_learns(EL_CELL_LSTM, 9, 1.0); }
Test(seq2seq, learns_to_reverse_with_sampled_inputs) { check_learns(EL_CELL_GRU, 0, 0.5); }

Test(seq2seq, parameter_names_follow_pytorch)
{
    el_rng rng;
    el_rng_seed(&rng, 14);
    el_seq2seq_config cfg = {EL_CELL_GRU, 29, 29, 8, 1, 0, 0.0f, 0, EL_ATTENTION_NONE, 0};
    el_seq2seq model;
    EL_TEST_OK(el_seq2seq_init(&model, &cfg, &rng));
    el_param_list params = {0};
    EL_TEST_OK(el_seq2seq_params(&model, &params));
    const char *names[] = {"encoder.gru.weight_ih_l0", "encoder.gru.weight_hh_l0",
                           "encoder.gru.bias_ih_l0",   "encoder.gru.bias_hh_l0",
                           "decoder.gru.weight_ih_l0", "decoder.gru.weight_hh_l0",
                           "decoder.gru.bias_ih_l0",   "decoder.gru.bias_hh_l0",
                           "decoder.fc.weight",        "decoder.fc.bias"};
    cr_assert_eq(params.count, 10);
    for (int i = 0; i < 10; i++) cr_assert_str_eq(params.items[i]->name, names[i]);
    cr_assert_eq(params.items[0]->value.shape[0], 3 * 8);
    cr_assert_eq(params.items[0]->value.shape[1], 29);
    el_param_list_free(&params);
    el_seq2seq_free(&model);
}

/* A NaN weight makes the loss NaN: the step fails before its backward pass. */
Test(seq2seq, a_nonfinite_loss_stops_the_step)
{
    el_rng rng;
    el_rng_seed(&rng, 16);
    el_seq2seq_config cfg = {EL_CELL_GRU, 9, 9, 5, 1, 0, 0.0f, 0, EL_ATTENTION_NONE, 0};
    el_seq2seq model;
    EL_TEST_OK(el_seq2seq_init(&model, &cfg, &rng));
    test_batch tb;
    make_batch(&tb, small_words, 4);
    model.output.bias.value.data[5] = INFINITY;
    model.output.bias.value.data[6] = -INFINITY;
    float loss = 0;
    EL_TEST_FAILS(el_seq2seq_train_step(&model, &tb.batch, 1.0, NULL, &loss), EL_ERR_NONFINITE);
    cr_assert(strstr(el_last_error(), "the loss is not finite"), "%s", el_last_error());
    cr_assert_eq(el_norm(&model.output.weight.grad), 0.0, "the backward pass ran");
    el_seq2seq_free(&model);
}

Test(seq2seq, refuses_bad_arguments)
{
    el_rng rng;
    el_rng_seed(&rng, 15);
    el_seq2seq model;
    el_seq2seq_config cfg = {EL_CELL_GRU, 4, 4, 8, 1, 0, 0.0f, 0, EL_ATTENTION_NONE, 0};
    EL_TEST_FAILS(el_seq2seq_init(&model, &cfg, &rng), EL_ERR_INVALID);
    cfg.source_vocab_size = cfg.target_vocab_size = 9;
    cfg.padded_steps = 3;
    EL_TEST_OK(el_seq2seq_init(&model, &cfg, &rng));
    test_batch tb;
    make_batch(&tb, small_words, 4); /* a target of 4 symbols and <eos> need 5 steps */
    float loss;
    EL_TEST_FAILS(el_seq2seq_train_step(&model, &tb.batch, 1.0, NULL, &loss), EL_ERR_INVALID);
    cr_assert(strstr(el_last_error(), "does not fit") != NULL, "message: %s", el_last_error());
    EL_TEST_FAILS(el_seq2seq_train_step(&model, &tb.batch, 1.5, &rng, &loss), EL_ERR_INVALID);
    el_seq2seq_free(&model);
}

/* Decoding needs no training call first: a fresh model decodes (badly) with
 * either search, and stops within max_length. */
Test(seq2seq, decodes_without_training)
{
    el_rng rng;
    el_rng_seed(&rng, 16);
    el_seq2seq_config cfg = {EL_CELL_LSTM, 9, 9, 8, 2, 1, 0.0f, 0, EL_ATTENTION_NONE, 0};
    for (int beam = 1; beam <= 4; beam += 3) {
        el_seq2seq model;
        EL_TEST_OK(el_seq2seq_init(&model, &cfg, &rng));
        test_batch tb;
        make_batch(&tb, small_words, 4);
        el_ids out[4] = {{0}};
        EL_TEST_OK(el_seq2seq_decode(&model, &tb.batch, beam, 5, out));
        for (int b = 0; b < 4; b++) {
            cr_assert_leq(out[b].count, 5, "beam %d: %zu symbols", beam, out[b].count);
            for (size_t i = 0; i < out[b].count; i++)
                cr_assert(out[b].data[i] >= EL_SPECIALS || out[b].data[i] == EL_UNK);
            el_ids_free(&out[b]);
        }
        el_seq2seq_free(&model);
    }
}

/* At most max_length symbols come out, however unlikely <eos> is: the step
 * after max_length symbols may only end the output, with either search,
 * with and without attention.  The ends are made very unlikely, so that
 * greedy search decodes exactly max_length symbols for every example;
 * beam search, which scores the end too, may prefer a shorter output. */
Test(seq2seq, decodes_at_most_max_length_symbols)
{
    el_rng rng;
    el_rng_seed(&rng, 21);
    for (int attention = EL_ATTENTION_NONE; attention <= EL_ATTENTION_DOT; attention++) {
        el_seq2seq_config cfg = {EL_CELL_GRU, 9, 9, 8, 1, 1, 0.0f, 0, (el_attention)attention, 0};
        el_seq2seq model;
        EL_TEST_OK(el_seq2seq_init(&model, &cfg, &rng));
        for (int id = 0; id < EL_SPECIALS; id++) model.output.bias.value.data[id] = -100.0f;
        test_batch tb;
        make_batch(&tb, small_words, 4);
        for (int max_length = 1; max_length <= 2; max_length++)
            for (int beam = 1; beam <= 3; beam += 2) {
                el_ids out[4] = {{0}};
                EL_TEST_OK(el_seq2seq_decode(&model, &tb.batch, beam, max_length, out));
                for (int b = 0; b < 4; b++) {
                    int n = (int)out[b].count;
                    cr_expect(beam == 1 ? n == max_length : n <= max_length,
                              "%s attention, beam %d, max_length %d: %d symbols",
                              el_attention_name(cfg.attention), beam, max_length, n);
                    el_ids_free(&out[b]);
                }
            }
        if (attention != EL_ATTENTION_NONE) {
            el_ids out[4] = {{0}};
            el_tensor weights = {0};
            EL_TEST_OK(el_seq2seq_decode_attention(&model, &tb.batch, 1, out, &weights));
            /* The symbol's step and the step that ended the output. */
            cr_expect_eq(weights.shape[1], 2, "%d steps of weights", weights.shape[1]);
            for (int b = 0; b < 4; b++) {
                cr_expect_eq((int)out[b].count, 1, "%zu symbols", out[b].count);
                el_ids_free(&out[b]);
            }
            el_tensor_free(&weights);
        }
        el_seq2seq_free(&model);
    }
}

Test(seq2seq, attention_names_read_back)
{
    for (int i = EL_ATTENTION_NONE; i <= EL_ATTENTION_GENERAL; i++) {
        el_attention a = EL_ATTENTION_NONE;
        EL_TEST_OK(el_attention_parse(el_attention_name((el_attention)i), &a));
        cr_assert_eq((int)a, i);
    }
    cr_assert_str_eq(el_attention_name(EL_ATTENTION_ADDITIVE), "additive");
    el_attention a;
    EL_TEST_FAILS(el_attention_parse("luong", &a), EL_ERR_INVALID);
    cr_assert(strstr(el_last_error(), "'luong'"), "%s", el_last_error());
    cr_assert_str_eq(el_attention_name((el_attention)9), "unknown");
}
