/* The seq2seq model with attention and embeddings against PyTorch
 * (tests/fixtures/seq2seq_attention.txt, tools/make_seq2seq_fixtures.py):
 * the loss and every gradient of a teacher-forced step, greedy decoding and
 * its attention weights; then learning to reverse words with each
 * attention, greedy and beam, and the contracts of the decoding calls. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "support.h"

enum { MAX_B = 16, MAX_T = 12 };

typedef struct fixture_case {
    const char *name;
    el_cell cell;
    el_attention attention;
    int layers, bidirectional, embedding;
} fixture_case;

/* tools/make_seq2seq_fixtures.py's CONFIGS. */
static const fixture_case cases[] = {
    {"additive_gru", EL_CELL_GRU, EL_ATTENTION_ADDITIVE, 1, 0, 3},
    {"additive_gru_onehot_bi", EL_CELL_GRU, EL_ATTENTION_ADDITIVE, 1, 1, 0},
    {"dot_gru", EL_CELL_GRU, EL_ATTENTION_DOT, 1, 0, 0},
    {"dot_gru_bi", EL_CELL_GRU, EL_ATTENTION_DOT, 1, 1, 3},
    {"general_gru_bi", EL_CELL_GRU, EL_ATTENTION_GENERAL, 1, 1, 3},
    {"additive_lstm_l2", EL_CELL_LSTM, EL_ATTENTION_ADDITIVE, 2, 0, 3},
};

enum { SOURCE_VOCAB = 8, TARGET_VOCAB = 7, HIDDEN = 4, MAX_LENGTH = 5 };

typedef struct torch_batch {
    int source[MAX_T * MAX_B], target[MAX_T * MAX_B];
    int source_lengths[MAX_B], target_lengths[MAX_B], index[MAX_B];
    el_batch batch;
} torch_batch;

static void read_batch(const el_fixture *fx, const char *cfg, torch_batch *tb)
{
    char key[EL_FIXTURE_NAME_MAX];
    memset(tb, 0, sizeof *tb);
    const el_fixture_array *source = el_fixture_get(fx, el_fixture_key(key, "%s.source", cfg));
    const el_fixture_array *target = el_fixture_get(fx, el_fixture_key(key, "%s.target", cfg));
    int B = source->shape[1];
    el_fixture_ints(fx, key, tb->target, target->size);
    el_fixture_ints(fx, el_fixture_key(key, "%s.source", cfg), tb->source, source->size);
    el_fixture_ints(fx, el_fixture_key(key, "%s.source_lengths", cfg), tb->source_lengths,
                    (size_t)B);
    el_fixture_ints(fx, el_fixture_key(key, "%s.target_lengths", cfg), tb->target_lengths,
                    (size_t)B);
    for (int b = 0; b < B; b++) tb->index[b] = b;
    tb->batch =
        (el_batch){B,          source->shape[0],   target->shape[0], tb->source, tb->source_lengths,
                   tb->target, tb->target_lengths, tb->index};
}

static void load_model(const el_fixture *fx, const fixture_case *k, el_seq2seq *m,
                       el_param_list *params)
{
    el_seq2seq_config cfg = {k->cell,      SOURCE_VOCAB,     TARGET_VOCAB, HIDDEN,
                             k->layers,    k->bidirectional, 0.0f,         0,
                             k->attention, k->embedding};
    EL_TEST_OK(el_seq2seq_init(m, &cfg, NULL));
    EL_TEST_OK(el_seq2seq_params(m, params));
    char key[EL_FIXTURE_NAME_MAX];
    for (int i = 0; i < params->count; i++) {
        el_param *p = params->items[i];
        const el_fixture_array *v =
            el_fixture_get(fx, el_fixture_key(key, "%s.%s", k->name, p->name));
        cr_assert_eq(v->size, p->value.size, "%s: %s", k->name, p->name);
        memcpy(p->value.data, v->data, v->size * sizeof(float));
    }
}

static void check_against_torch(const fixture_case *k)
{
    el_fixture fx;
    el_fixture_load(&fx, "seq2seq_attention.txt");
    torch_batch tb;
    read_batch(&fx, k->name, &tb);
    el_seq2seq m;
    el_param_list params = {0};
    load_model(&fx, k, &m, &params);
    char key[EL_FIXTURE_NAME_MAX];

    el_param_list_zero_grad(&params);
    float loss = 0;
    EL_TEST_OK(el_seq2seq_train_step(&m, &tb.batch, 1.0, NULL, &loss));
    el_fixture_expect_scalar(&fx, el_fixture_key(key, "%s.loss", k->name), loss, 1e-5, 1e-6);
    for (int i = 0; i < params.count; i++) {
        el_param *p = params.items[i];
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.d%s", k->name, p->name), &p->grad,
                                 1e-4, 1e-6);
    }

    /* Greedy decoding, with and without the weights, as PyTorch's. */
    int B = tb.batch.size;
    const el_fixture_array *greedy = el_fixture_get(&fx, el_fixture_key(key, "%s.greedy", k->name));
    el_ids out[MAX_B] = {{0}}, again[MAX_B] = {{0}};
    el_tensor weights = {0};
    EL_TEST_OK(el_seq2seq_decode(&m, &tb.batch, 1, MAX_LENGTH, out));
    EL_TEST_OK(el_seq2seq_decode_attention(&m, &tb.batch, MAX_LENGTH, again, &weights));
    int width = greedy->shape[1];
    for (int b = 0; b < B; b++) {
        const float *want = greedy->data + (size_t)b * width;
        int n = 0;
        while (n < width && want[n] >= 0) n++;
        cr_assert_eq((int)out[b].count, n, "%s: example %d decodes %zu symbols, PyTorch %d",
                     k->name, b, out[b].count, n);
        for (int i = 0; i < n; i++) {
            cr_assert_eq(out[b].data[i], (int)want[i], "%s: example %d symbol %d", k->name, b, i);
            cr_assert_eq(again[b].data[i], out[b].data[i]);
        }
        cr_assert_eq(again[b].count, out[b].count);
    }
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.greedy_weights", k->name), &weights, 1e-4,
                             1e-6);
    /* Each step's weights sum to 1 over the example's source symbols. */
    int steps = weights.shape[1], S = weights.shape[2];
    for (int b = 0; b < B; b++)
        for (int t = 0; t <= (int)out[b].count && t < steps; t++) {
            double sum = 0;
            for (int s = 0; s < S; s++) {
                float w = weights.data[((size_t)b * steps + t) * S + s];
                cr_assert(s < tb.source_lengths[b] || w == 0.0f, "weight past the source");
                sum += w;
            }
            cr_assert_float_eq(sum, 1.0, 1e-5, "%s: example %d step %d sums to %g", k->name, b, t,
                               sum);
        }
    for (int b = 0; b < B; b++) {
        el_ids_free(&out[b]);
        el_ids_free(&again[b]);
    }
    el_tensor_free(&weights);
    el_param_list_free(&params);
    el_seq2seq_free(&m);
    el_fixture_free(&fx);
}

Test(seq2seq_attention, additive_gru_matches_pytorch) { check_against_torch(&cases[0]); }
Test(seq2seq_attention, additive_one_hot_bidirectional_matches_pytorch)
{
    check_against_torch(&cases[1]);
}
Test(seq2seq_attention, dot_gru_matches_pytorch) { check_against_torch(&cases[2]); }
Test(seq2seq_attention, dot_bidirectional_matches_pytorch) { check_against_torch(&cases[3]); }
Test(seq2seq_attention, general_bidirectional_matches_pytorch) { check_against_torch(&cases[4]); }
Test(seq2seq_attention, additive_lstm_two_layers_matches_pytorch)
{
    check_against_torch(&cases[5]);
}

/* ---- learning ------------------------------------------------------------ */

/* Example b is words[b] reversed -> itself (ids 4.., ended by 0). */
static void make_reversal(torch_batch *tb, const int (*words)[MAX_T], int count)
{
    memset(tb, 0, sizeof *tb);
    int longest = 0;
    for (int b = 0; b < count; b++) {
        int len = 0;
        while (words[b][len]) len++;
        tb->source_lengths[b] = tb->target_lengths[b] = len;
        tb->index[b] = b;
        if (len > longest) longest = len;
    }
    for (int b = 0; b < count; b++) {
        int len = tb->source_lengths[b];
        for (int t = 0; t < longest; t++) {
            tb->source[t * count + b] = t < len ? words[b][len - 1 - t] : EL_PAD;
            tb->target[t * count + b] = t < len ? words[b][t] : EL_PAD;
        }
    }
    tb->batch = (el_batch){
        count,    longest, longest, tb->source, tb->source_lengths, tb->target, tb->target_lengths,
        tb->index};
}

static const int train_words[][MAX_T] = {{4, 5, 6},    {5, 4, 7, 8}, {6, 6, 4},    {7, 8, 5, 4, 6},
                                         {8, 7},       {4, 8, 8, 5}, {5, 6, 7, 8}, {6, 4},
                                         {7, 5, 6, 4}, {8, 4, 5},    {4, 7, 6},    {5, 8, 4, 7, 6}};

static int exact_matches(el_seq2seq *m, const torch_batch *tb, int beam)
{
    el_ids out[MAX_B] = {{0}};
    EL_TEST_OK(el_seq2seq_decode(m, &tb->batch, beam, 8, out));
    int right = 0;
    for (int b = 0; b < tb->batch.size; b++) {
        int len = tb->target_lengths[b], same = (int)out[b].count == len;
        for (int t = 0; same && t < len; t++)
            same = out[b].data[t] == tb->target[t * tb->batch.size + b];
        right += same;
        el_ids_free(&out[b]);
    }
    return right;
}

static void check_learns(el_cell cell, el_attention attention, int embedding, double forcing)
{
    el_rng rng;
    el_rng_seed(&rng, 13);
    el_seq2seq_config cfg = {cell, 9, 9, 24, 1, 1, 0.0f, 0, attention, embedding};
    el_seq2seq m;
    EL_TEST_OK(el_seq2seq_init(&m, &cfg, &rng));
    torch_batch tb;
    make_reversal(&tb, train_words, 12);
    el_param_list params = {0};
    EL_TEST_OK(el_seq2seq_params(&m, &params));
    el_optimizer *adam;
    el_optimizer_config oc = el_optimizer_defaults(EL_OPT_ADAM);
    oc.lr = 0.02;
    EL_TEST_OK(el_optimizer_create(&adam, &oc, &params));
    float first = 0, loss = 0;
    for (int step = 0; step < 250; step++) {
        el_optimizer_zero_grad(adam);
        EL_TEST_OK(el_seq2seq_train_step(&m, &tb.batch, forcing, &rng, &loss));
        EL_TEST_OK(el_optimizer_step(adam));
        if (step == 0) first = loss;
    }
    cr_assert(loss < 0.05f * first, "%s: the loss went from %g to %g only",
              el_attention_name(attention), (double)first, (double)loss);
    int greedy = exact_matches(&m, &tb, 1), beam = exact_matches(&m, &tb, 3);
    cr_assert_eq(greedy, 12, "greedy decoding got %d of 12 words", greedy);
    cr_assert_eq(beam, 12, "beam decoding got %d of 12 words", beam);
    el_optimizer_free(adam);
    el_param_list_free(&params);
    el_seq2seq_free(&m);
}

Test(seq2seq_attention, additive_learns_to_reverse)
{
    check_learns(EL_CELL_GRU, EL_ATTENTION_ADDITIVE, 8, 1.0);
}
Test(seq2seq_attention, dot_learns_to_reverse_with_sampled_inputs)
{
    check_learns(EL_CELL_GRU, EL_ATTENTION_DOT, 0, 0.7);
}
Test(seq2seq_attention, general_lstm_learns_to_reverse)
{
    check_learns(EL_CELL_LSTM, EL_ATTENTION_GENERAL, 8, 1.0);
}

/* ---- contracts ------------------------------------------------------------ */

Test(seq2seq_attention, weights_need_attention)
{
    el_seq2seq_config cfg = {EL_CELL_GRU, 9, 9, 4, 1, 0, 0.0f, 0, EL_ATTENTION_NONE, 0};
    el_seq2seq m;
    EL_TEST_OK(el_seq2seq_init(&m, &cfg, NULL));
    torch_batch tb;
    make_reversal(&tb, train_words, 3);
    el_ids out[3] = {{0}};
    el_tensor weights = {0};
    EL_TEST_FAILS(el_seq2seq_decode_attention(&m, &tb.batch, 5, out, &weights), EL_ERR_INVALID);
    cr_assert(strstr(el_last_error(), "no attention"), "%s", el_last_error());
    el_seq2seq_free(&m);
}

/* An example decodes alone as it does in its batch (the attention of one
 * never reads another's keys), and a beam search over it ends in time. */
Test(seq2seq_attention, an_example_alone_decodes_as_in_its_batch)
{
    el_rng rng;
    el_rng_seed(&rng, 21);
    for (el_attention a = EL_ATTENTION_ADDITIVE; a <= EL_ATTENTION_GENERAL; a++) {
        el_seq2seq_config cfg = {EL_CELL_GRU, 9, 11, 6, 2, 1, 0.0f, 0, a, 5};
        el_seq2seq m;
        EL_TEST_OK(el_seq2seq_init(&m, &cfg, &rng));
        torch_batch tb;
        make_reversal(&tb, train_words, 12);
        el_ids greedy[12] = {{0}}, beam[12] = {{0}};
        EL_TEST_OK(el_seq2seq_decode(&m, &tb.batch, 1, 6, greedy));
        for (int b = 0; b < 12; b++) {
            torch_batch one = tb;
            /* Example b alone, as a batch of one. */
            int len = tb.source_lengths[b];
            for (int t = 0; t < len; t++) one.source[t] = tb.source[t * 12 + b];
            one.batch.size = 1;
            one.batch.input_steps = len;
            one.batch.inputs = one.source;
            one.batch.input_lengths = &one.source_lengths[b];
            EL_TEST_OK(el_seq2seq_decode(&m, &one.batch, 2, 6, &beam[b]));
            el_ids alone = {0};
            EL_TEST_OK(el_seq2seq_decode(&m, &one.batch, 1, 6, &alone));
            cr_assert_eq(alone.count, greedy[b].count, "%s: example %d alone", el_attention_name(a),
                         b);
            for (size_t i = 0; i < alone.count; i++) cr_assert_eq(alone.data[i], greedy[b].data[i]);
            cr_assert_leq(beam[b].count, 7);
            el_ids_free(&alone);
            el_ids_free(&greedy[b]);
            el_ids_free(&beam[b]);
        }
        el_seq2seq_free(&m);
    }
}

/* An empty source attends to nothing: zero weights, and no NaN in the
 * decoding of the other examples or its own. */
Test(seq2seq_attention, an_empty_source_decodes)
{
    el_rng rng;
    el_rng_seed(&rng, 22);
    for (el_attention a = EL_ATTENTION_ADDITIVE; a <= EL_ATTENTION_GENERAL; a++) {
        el_seq2seq_config cfg = {EL_CELL_GRU, 9, 9, 6, 1, 1, 0.0f, 0, a, 4};
        el_seq2seq m;
        EL_TEST_OK(el_seq2seq_init(&m, &cfg, &rng));
        int lengths[] = {0, 3}, index[] = {0, 1};
        int inputs[] = {EL_PAD, 4, EL_PAD, 5, EL_PAD, 6};
        el_batch batch = {2, 3, 0, inputs, lengths, NULL, NULL, index};
        el_ids out[2] = {{0}};
        el_tensor weights = {0};
        EL_TEST_OK(el_seq2seq_decode_attention(&m, &batch, 4, out, &weights));
        for (size_t i = 0; i < weights.size; i++) cr_assert(isfinite(weights.data[i]));
        int steps = weights.shape[1];
        for (int t = 0; t < steps; t++)
            for (int s = 0; s < 3; s++)
                cr_assert(weights.data[(size_t)t * 3 + s] == 0.0f, "the empty source has weight");
        EL_TEST_OK(el_seq2seq_decode(&m, &batch, 3, 4, out));
        for (int b = 0; b < 2; b++) el_ids_free(&out[b]);
        el_tensor_free(&weights);
        el_seq2seq_free(&m);
    }
}

/* ---- out of memory ------------------------------------------------------- */

static const el_seq2seq_config oom_config = {EL_CELL_LSTM,         9, 10, 4, 1, 1, 0.0f, 0,
                                             EL_ATTENTION_GENERAL, 3};

static el_status try_init(long n)
{
    el_seq2seq m;
    el_test_arm(n);
    el_status s = el_test_disarm(el_seq2seq_init(&m, &oom_config, NULL));
    if (s)
        cr_assert_null(m.cache, "a model that failed to initialise was handed out");
    else
        el_seq2seq_free(&m);
    return s;
}

/* The first call of a batch shape sizes every workspace. */
static el_status try_first_call(long n, int decode)
{
    el_seq2seq m;
    EL_TEST_OK(el_seq2seq_init(&m, &oom_config, NULL));
    torch_batch tb;
    make_reversal(&tb, train_words, 4);
    float loss = 0;
    el_ids out[4] = {{0}};
    el_tensor weights = {0};
    el_test_arm(n);
    el_status s = decode ? el_seq2seq_decode_attention(&m, &tb.batch, 4, out, &weights)
                         : el_seq2seq_train_step(&m, &tb.batch, 1.0, NULL, &loss);
    s = el_test_disarm(s);
    for (int b = 0; b < 4; b++) el_ids_free(&out[b]);
    el_tensor_free(&weights);
    el_seq2seq_free(&m);
    return s;
}

static el_status try_train_step(long n) { return try_first_call(n, 0); }
static el_status try_decode_attention(long n) { return try_first_call(n, 1); }

Test(seq2seq_attention, out_of_memory_leaves_nothing_behind)
{
    el_test_sweep("el_seq2seq_init (attention)", try_init, 200);
    el_test_sweep("el_seq2seq_train_step (attention, first call)", try_train_step, 2000);
    el_test_sweep("el_seq2seq_decode_attention (first call)", try_decode_attention, 2000);
}
