/* Per-example random draws (issue 23): dropout masks and teacher-forcing
 * choices follow the example and the step, not the batch's layout.  A row
 * run inside a batch of 8 gets the draws it gets alone as a batch of 1 that
 * says which row it is (el_rnn_set_position, el_charlm_set_first_row,
 * el_seq2seq_set_first_row), so a data-parallel rank's share trains as in
 * one process; a sequence run one step at a time (first_step = t) gets the
 * masks of the whole-sequence call; and a step takes the same number of
 * draws from the caller's generator whatever its batch.  Each check also
 * shows that a wrong row gives other draws, so it could fail. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

enum { BATCH = 8, ROW = 5, STEPS = 5, IN = 4, HID = 6 };

/* Whether two float arrays differ anywhere by more than tol. */
static int differ(const float *a, const float *b, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > tol) return 1;
    return 0;
}

/* Element (i, b, j) of a (d0, B, d2) tensor into column b of (d0, 1, d2). */
static void column(const el_tensor *t, int b, float *out)
{
    int d0 = t->shape[0], B = t->shape[1], d2 = t->shape[2];
    for (int i = 0; i < d0; i++)
        memcpy(out + (size_t)i * d2, t->data + ((size_t)i * B + b) * d2, sizeof(float) * d2);
}

/* ---- el_rnn ----------------------------------------------------------------- */

typedef struct rnn_case {
    el_rnn rnn;
    el_rnn_cache *cache;
    el_tensor x, h0, y, hn;
} rnn_case;

static void rnn_setup(rnn_case *c, el_cell cell, int bidirectional, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    el_rng rng;
    el_rng_seed(&rng, seed);
    el_rnn_config cfg = {cell, IN, HID, 2, bidirectional, 0.3f};
    EL_TEST_OK(el_rnn_init(&c->rnn, "rnn", &cfg, &rng));
    EL_TEST_OK(el_rnn_cache_create(&c->cache));
    int D = bidirectional ? 2 : 1;
    el_test_random_tensor(&c->x, &rng, 3, (int[]){STEPS, BATCH, IN}, -1, 1);
    el_test_random_tensor(&c->h0, &rng, 3, (int[]){2 * D, BATCH, HID}, -1, 1);
}

static void rnn_free(rnn_case *c)
{
    el_tensor *t[] = {&c->x, &c->h0, &c->y, &c->hn};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) el_tensor_free(t[i]);
    el_rnn_cache_free(c->cache);
    el_rnn_free(&c->rnn);
}

/* Row ROW alone (its column of x and h0, its length) at first_row row:
 * writes its y and hn columns, and checks the generator advanced as the
 * whole batch's did (to *after). */
static void rnn_alone(rnn_case *c, int row, const int *lengths, uint64_t seed, const el_rng *after,
                      float *y, float *hn)
{
    int D = el_rnn_directions(&c->rnn.config), S = 2 * D;
    el_tensor x = {0}, h0 = {0}, y1 = {0}, hn1 = {0};
    EL_TEST_OK(el_tensor_alloc(&x, 3, (int[]){STEPS, 1, IN}));
    EL_TEST_OK(el_tensor_alloc(&h0, 3, (int[]){S, 1, HID}));
    column(&c->x, ROW, x.data);
    column(&c->h0, ROW, h0.data);
    el_rng rng;
    el_rng_seed(&rng, seed);
    el_rnn_set_position(&c->rnn, row, 0);
    EL_TEST_OK(el_rnn_forward(&c->rnn, c->cache, &rng, &x, lengths ? &lengths[ROW] : NULL, &h0,
                              NULL, &y1, &hn1, NULL));
    cr_assert(memcmp(&rng, after, sizeof rng) == 0,
              "a batch of 1 took another number of draws than a batch of 8");
    el_rnn_set_position(&c->rnn, 0, 0);
    memcpy(y, y1.data, y1.size * sizeof(float));
    memcpy(hn, hn1.data, hn1.size * sizeof(float));
    el_tensor *t[] = {&x, &h0, &y1, &hn1};
    for (size_t i = 0; i < 4; i++) el_tensor_free(t[i]);
}

static void check_rnn_row(el_cell cell, int bidirectional, const int *lengths, uint64_t seed)
{
    rnn_case c;
    rnn_setup(&c, cell, bidirectional, seed);
    el_rng rng;
    el_rng_seed(&rng, seed + 1);
    EL_TEST_OK(
        el_rnn_forward(&c.rnn, c.cache, &rng, &c.x, lengths, &c.h0, NULL, &c.y, &c.hn, NULL));
    int D = el_rnn_directions(&c.rnn.config);
    size_t ny = (size_t)STEPS * D * HID, nh = (size_t)2 * D * HID;
    float want_y[STEPS * 2 * HID], want_hn[4 * HID], y[STEPS * 2 * HID], hn[4 * HID];
    column(&c.y, ROW, want_y);
    column(&c.hn, ROW, want_hn);
    rnn_alone(&c, ROW, lengths, seed + 1, &rng, y, hn);
    el_test_assert_close("row 5 alone at first_row 5: y", y, want_y, ny, 1e-5, 1e-6);
    el_test_assert_close("row 5 alone at first_row 5: hn", hn, want_hn, nh, 1e-5, 1e-6);
    rnn_alone(&c, ROW - 1, lengths, seed + 1, &rng, y, hn);
    cr_assert(differ(hn, want_hn, nh, 1e-3), "row 5 alone at first_row 4 got row 5's masks");
    rnn_free(&c);
}

Test(draws, rnn_row_masks_do_not_depend_on_the_batch)
{
    check_rnn_row(EL_CELL_GRU, 0, NULL, 10);
    check_rnn_row(EL_CELL_LSTM, 1, NULL, 20);
    /* Ragged lengths: the packed layout sorts the rows by length. */
    check_rnn_row(EL_CELL_RNN_TANH, 1, (int[]){2, 5, 1, 4, 3, 4, 5, 2}, 30);
}

/* The whole sequence in one call, and one step per call at first_step t,
 * each from a copy of the same generator, give the same outputs: the
 * decoder run step by step drops what the whole-sequence one does. */
Test(draws, stepwise_masks_equal_whole_sequence_masks)
{
    rnn_case c;
    rnn_setup(&c, EL_CELL_LSTM, 0, 40);
    el_rng start, rng;
    el_rng_seed(&start, 41);
    rng = start;
    el_tensor c0 = {0};
    el_test_random_tensor(&c0, &rng, 3, (int[]){2, BATCH, HID}, -1, 1);
    start = rng;
    EL_TEST_OK(el_rnn_forward(&c.rnn, c.cache, &rng, &c.x, NULL, &c.h0, &c0, &c.y, &c.hn, NULL));
    el_rng whole_after = rng;
    el_tensor h = {0}, cs = {0}, hn = {0}, cn = {0}, x = {0}, y = {0};
    EL_TEST_OK(el_tensor_alloc(&h, 3, c.h0.shape));
    EL_TEST_OK(el_tensor_copy(&h, &c.h0));
    EL_TEST_OK(el_tensor_alloc(&cs, 3, c0.shape));
    EL_TEST_OK(el_tensor_copy(&cs, &c0));
    size_t per_step = (size_t)BATCH * HID;
    for (int t = 0; t < STEPS; t++) {
        EL_TEST_OK(el_tensor_view(&x, &c.x, (size_t)t * BATCH * IN, 3, (int[]){1, BATCH, IN}));
        rng = start;
        el_rnn_set_position(&c.rnn, 0, t);
        EL_TEST_OK(el_rnn_forward(&c.rnn, c.cache, &rng, &x, NULL, &h, &cs, &y, &hn, &cn));
        cr_assert(memcmp(&rng, &whole_after, sizeof rng) == 0, "step %d took other draws", t);
        el_test_assert_close("a step's y against the whole sequence's", y.data,
                             c.y.data + t * per_step, per_step, 1e-5, 1e-6);
        EL_TEST_OK(el_tensor_copy(&h, &hn));
        EL_TEST_OK(el_tensor_copy(&cs, &cn));
    }
    el_test_assert_close("the final state", hn.data, c.hn.data, hn.size, 1e-5, 1e-6);
    /* Without first_step, every step would reuse step 0's masks. */
    EL_TEST_OK(el_tensor_copy(&h, &c.h0));
    EL_TEST_OK(el_tensor_copy(&cs, &c0));
    el_rnn_set_position(&c.rnn, 0, 0);
    for (int t = 0; t < STEPS; t++) {
        EL_TEST_OK(el_tensor_view(&x, &c.x, (size_t)t * BATCH * IN, 3, (int[]){1, BATCH, IN}));
        rng = start;
        EL_TEST_OK(el_rnn_forward(&c.rnn, c.cache, &rng, &x, NULL, &h, &cs, &y, &hn, &cn));
        EL_TEST_OK(el_tensor_copy(&h, &hn));
        EL_TEST_OK(el_tensor_copy(&cs, &cn));
    }
    cr_assert(differ(hn.data, c.hn.data, hn.size, 1e-3), "first_step changed nothing");
    el_tensor *t[] = {&c0, &h, &cs, &hn, &cn, &y};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) el_tensor_free(t[i]);
    rnn_free(&c);
}

/* ---- charlm ------------------------------------------------------------------ */

enum { VOCAB = 10 };

/* Trains one step on streams [row, row + n) of inputs (STEPS x BATCH),
 * as a batch of n at first_row row, from a generator seeded with seed;
 * returns the final state h (2, n, HID) and the generator after. */
static void charlm_step(el_charlm *m, const int *inputs, const int *targets, int row, int n,
                        el_charlm_state *state, el_rng *rng)
{
    int in[STEPS * BATCH], out[STEPS * BATCH];
    for (int t = 0; t < STEPS; t++)
        for (int b = 0; b < n; b++) {
            in[t * n + b] = inputs[t * BATCH + row + b];
            out[t * n + b] = targets[t * BATCH + row + b];
        }
    float loss;
    el_charlm_set_first_row(m, row);
    EL_TEST_OK(el_charlm_train_step(m, in, out, STEPS, n, state, rng, &loss));
}

Test(draws, charlm_stream_masks_do_not_depend_on_the_batch)
{
    el_rng rng;
    el_rng_seed(&rng, 50);
    el_charlm m;
    el_charlm_config cfg = {EL_CELL_GRU, VOCAB, HID, 2, 0.3f};
    EL_TEST_OK(el_charlm_init(&m, &cfg, &rng));
    int inputs[STEPS * BATCH], targets[STEPS * BATCH];
    for (int i = 0; i < STEPS * BATCH; i++) {
        inputs[i] = EL_SPECIALS + (int)el_rng_below(&rng, VOCAB - EL_SPECIALS);
        targets[i] = EL_SPECIALS + (int)el_rng_below(&rng, VOCAB - EL_SPECIALS);
    }
    el_charlm_state all = {0}, one = {0};
    el_rng batch_rng, alone_rng;
    el_rng_seed(&batch_rng, 51);
    el_rng_seed(&alone_rng, 51);
    /* Two steps, so the second also starts from the state the first left. */
    for (int k = 0; k < 2; k++) {
        charlm_step(&m, inputs, targets, 0, BATCH, &all, &batch_rng);
        charlm_step(&m, inputs, targets, ROW, 1, &one, &alone_rng);
        cr_assert(memcmp(&batch_rng, &alone_rng, sizeof batch_rng) == 0,
                  "a stream alone took other draws than the batch");
    }
    float want[2 * HID];
    column(&all.h, ROW, want);
    el_test_assert_close("stream 5's state alone at first_row 5", one.h.data, want, 2 * HID, 1e-5,
                         1e-6);
    el_charlm_state_free(&one);
    el_rng_seed(&alone_rng, 51);
    /* Stream 5's text at first_row 4: other masks. */
    int shifted[STEPS * BATCH], shifted_targets[STEPS * BATCH];
    for (int t = 0; t < STEPS; t++)
        for (int b = 0; b < BATCH; b++) {
            shifted[t * BATCH + b] = inputs[t * BATCH + (b == ROW - 1 ? ROW : b)];
            shifted_targets[t * BATCH + b] = targets[t * BATCH + (b == ROW - 1 ? ROW : b)];
        }
    for (int k = 0; k < 2; k++)
        charlm_step(&m, shifted, shifted_targets, ROW - 1, 1, &one, &alone_rng);
    cr_assert(differ(one.h.data, want, 2 * HID, 1e-3), "first_row 4 gave stream 5's masks");
    el_charlm_state_free(&all);
    el_charlm_state_free(&one);
    el_charlm_free(&m);
}

/* ---- seq2seq ----------------------------------------------------------------- */

enum { MAX_T = 6 };

/* Examples [first, first + n) of words (each ended by 0) as a batch,
 * time-major: input the word reversed, target the word. */
typedef struct words_batch {
    int inputs[MAX_T * BATCH], targets[MAX_T * BATCH];
    int input_lengths[BATCH], target_lengths[BATCH], index[BATCH];
    el_batch batch;
} words_batch;

static void make_batch(words_batch *wb, const int (*words)[MAX_T], int first, int n)
{
    memset(wb, 0, sizeof *wb);
    int longest = 0;
    for (int b = 0; b < n; b++) {
        int len = 0;
        while (words[first + b][len]) len++;
        wb->input_lengths[b] = wb->target_lengths[b] = len;
        wb->index[b] = first + b;
        longest = len > longest ? len : longest;
    }
    for (int b = 0; b < n; b++)
        for (int t = 0; t < longest; t++) {
            int len = wb->input_lengths[b];
            wb->inputs[t * n + b] = t < len ? words[first + b][len - 1 - t] : EL_PAD;
            wb->targets[t * n + b] = t < len ? words[first + b][t] : EL_PAD;
        }
    wb->batch = (el_batch){
        n,        longest, longest, wb->inputs, wb->input_lengths, wb->targets, wb->target_lengths,
        wb->index};
}

static const int words8[BATCH][MAX_T] = {{4, 5, 6},    {7, 4},       {5, 5, 8, 6}, {6},
                                         {8, 7, 6, 5}, {4, 9, 9, 7}, {9, 5},       {7, 8, 4}};

/* One step over examples [first, first + n) at first_row row; returns the
 * loss, the gradients in grads (summed into, weighted by weight) and the
 * generator after in *rng. */
static float seq2seq_step(el_seq2seq *m, el_param_list *params, int first, int n, int row,
                          double ratio, el_rng *rng)
{
    words_batch wb;
    make_batch(&wb, words8, first, n);
    el_param_list_zero_grad(params);
    el_seq2seq_set_first_row(m, row);
    float loss = 0;
    EL_TEST_OK(el_seq2seq_train_step(m, &wb.batch, ratio, rng, &loss));
    return loss;
}

/* The batch's loss is the mean over its target symbols (each word's and
 * its <eos>), so it is the mean of the examples' own losses weighted by
 * their symbols, and its gradient likewise: run alone at first_row b,
 * example b must give its share of both.  With all examples alone at
 * first_row 0 the draws, and so the loss, differ. */
static void check_seq2seq(el_cell cell, int bidirectional, el_attention attention, double ratio)
{
    el_rng rng;
    el_rng_seed(&rng, 60);
    el_seq2seq_config cfg = {.cell = cell,
                             .source_vocab_size = 10,
                             .target_vocab_size = 10,
                             .hidden_size = HID,
                             .num_layers = 2,
                             .bidirectional = bidirectional,
                             .dropout = 0.3f,
                             .attention = attention};
    el_seq2seq m;
    EL_TEST_OK(el_seq2seq_init(&m, &cfg, &rng));
    el_param_list params = {0};
    EL_TEST_OK(el_seq2seq_params(&m, &params));
    size_t total = 0;
    for (int i = 0; i < params.count; i++) total += params.items[i]->grad.size;
    float *want = calloc(total, sizeof(float)), *sum = calloc(total, sizeof(float));
    cr_assert(want && sum);

    el_rng batch_rng;
    el_rng_seed(&batch_rng, 61);
    float batch_loss = seq2seq_step(&m, &params, 0, BATCH, 0, ratio, &batch_rng);
    for (int i = 0, at = 0; i < params.count; at += (int)params.items[i]->grad.size, i++)
        memcpy(want + at, params.items[i]->grad.data, params.items[i]->grad.size * sizeof(float));
    double symbols = 0, loss_sum = 0, wrong_sum = 0;
    for (int b = 0; b < BATCH; b++) {
        words_batch one;
        make_batch(&one, words8, b, 1);
        double weight = one.target_lengths[0] + 1;
        symbols += weight;
        el_rng alone_rng;
        el_rng_seed(&alone_rng, 61);
        loss_sum += weight * seq2seq_step(&m, &params, b, 1, b, ratio, &alone_rng);
        cr_assert(memcmp(&alone_rng, &batch_rng, sizeof alone_rng) == 0,
                  "example %d alone took other draws than the batch", b);
        for (int i = 0, at = 0; i < params.count; at += (int)params.items[i]->grad.size, i++)
            for (size_t k = 0; k < params.items[i]->grad.size; k++)
                sum[at + k] += (float)weight * params.items[i]->grad.data[k];
        el_rng_seed(&alone_rng, 61);
        wrong_sum += weight * seq2seq_step(&m, &params, b, 1, 0, ratio, &alone_rng);
    }
    for (size_t k = 0; k < total; k++) sum[k] /= (float)symbols;
    cr_assert(fabs(loss_sum / symbols - batch_loss) < 1e-5 * batch_loss,
              "the examples alone give a loss of %.7f, the batch %.7f", loss_sum / symbols,
              (double)batch_loss);
    el_test_assert_close("the gradients, the examples alone against the batch", sum, want, total,
                         1e-4, 1e-6);
    cr_assert(fabs(wrong_sum / symbols - batch_loss) > 1e-4,
              "at first_row 0 the examples still gave the batch's loss %.7f", (double)batch_loss);
    free(want);
    free(sum);
    el_param_list_free(&params);
    el_seq2seq_free(&m);
}

Test(draws, seq2seq_example_draws_do_not_depend_on_the_batch)
{
    /* The step-by-step decoder, with teacher forcing 0.5. */
    check_seq2seq(EL_CELL_GRU, 0, EL_ATTENTION_NONE, 0.5);
    /* The whole-sequence decoder, and a bidirectional encoder. */
    check_seq2seq(EL_CELL_LSTM, 1, EL_ATTENTION_NONE, 1.0);
    /* Attention: step by step even with every input the true one. */
    check_seq2seq(EL_CELL_GRU, 0, EL_ATTENTION_GENERAL, 0.5);
}
