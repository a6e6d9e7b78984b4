/* The character language model and what generation runs on: gradients by
 * finite differences, truncated BPTT across chunks against one long call,
 * PyTorch's loss, final state and gradients and a model file PyTorch made
 * (tests/fixtures/charlm*, tools/make_charlm_fixture.py), the stream
 * cutter, the one-step-at-a-time stepper and generator against the
 * whole-sequence forward pass, and the sampler's settings. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "gradcheck.h"
#include "support.h"

enum { V = 9, H = 5, T = 6, B = 3 };

static void random_ids(el_rng *rng, int *ids, int n)
{
    for (int i = 0; i < n; i++) ids[i] = EL_SPECIALS + (int)el_rng_below(rng, V - EL_SPECIALS);
}

static void make_model(el_charlm *m, el_cell cell, int layers, uint64_t seed)
{
    el_rng rng;
    el_rng_seed(&rng, seed);
    el_charlm_config cfg = {cell, V, H, layers, 0.0f};
    EL_TEST_OK(el_charlm_init(m, &cfg, &rng));
}

/* ---- gradients -------------------------------------------------------------- */

typedef struct fd_case {
    el_charlm model;
    int inputs[T * B], targets[T * B];
    el_charlm_state start; /* a non-zero initial state, the same for every evaluation */
} fd_case;

static void copy_state(el_charlm_state *to, const el_charlm_state *from)
{
    EL_TEST_OK(el_tensor_ensure(&to->h, 3, from->h.shape));
    EL_TEST_OK(el_tensor_copy(&to->h, &from->h));
    if (from->c.size) {
        EL_TEST_OK(el_tensor_ensure(&to->c, 3, from->c.shape));
        EL_TEST_OK(el_tensor_copy(&to->c, &from->c));
    }
}

static double fd_loss(void *ctx)
{
    fd_case *c = ctx;
    el_charlm_state state = {0};
    copy_state(&state, &c->start);
    double sum;
    long count;
    EL_TEST_OK(el_charlm_loss_of(&c->model, c->inputs, c->targets, T, B, &state, &sum, &count));
    el_charlm_state_free(&state);
    return sum / count;
}

static void check_gradients(el_cell cell, int layers)
{
    fd_case c = {0};
    el_rng rng;
    el_rng_seed(&rng, 5);
    make_model(&c.model, cell, layers, 3);
    random_ids(&rng, c.inputs, T * B);
    random_ids(&rng, c.targets, T * B);
    c.targets[4] = EL_PAD; /* skipped */
    el_test_random_tensor(&c.start.h, &rng, 3, (int[]){layers, B, H}, -0.5f, 0.5f);
    if (cell == EL_CELL_LSTM)
        el_test_random_tensor(&c.start.c, &rng, 3, (int[]){layers, B, H}, -0.5f, 0.5f);
    el_param_list params = {0};
    EL_TEST_OK(el_charlm_params(&c.model, &params));
    el_param_list_zero_grad(&params);
    el_charlm_state state = {0};
    copy_state(&state, &c.start);
    float loss;
    EL_TEST_OK(el_charlm_train_step(&c.model, c.inputs, c.targets, T, B, &state, NULL, &loss));
    cr_assert_float_eq(loss, fd_loss(&c), 1e-6, "training and evaluation losses differ");
    const el_test_gradcheck_opts opts = {.eps = 1e-2, .tolerance = 1e-2, .floor = 1e-2};
    for (int i = 0; i < params.count; i++)
        el_test_gradcheck(params.items[i]->name, fd_loss, &c, &params.items[i]->value,
                          &params.items[i]->grad, &opts);
    el_charlm_state_free(&state);
    el_charlm_state_free(&c.start);
    el_param_list_free(&params);
    el_charlm_free(&c.model);
}

Test(charlm, gradients_lstm) { check_gradients(EL_CELL_LSTM, 1); }
Test(charlm, gradients_gru_two_layers) { check_gradients(EL_CELL_GRU, 2); }
Test(charlm, gradients_rnn) { check_gradients(EL_CELL_RNN_TANH, 1); }

Test(charlm, parameter_names_follow_pytorch)
{
    el_charlm m;
    make_model(&m, EL_CELL_LSTM, 2, 1);
    el_param_list params = {0};
    EL_TEST_OK(el_charlm_params(&m, &params));
    const char *want[] = {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                          "rnn.bias_hh_l0",   "rnn.weight_ih_l1", "rnn.weight_hh_l1",
                          "rnn.bias_ih_l1",   "rnn.bias_hh_l1",   "fc.weight",
                          "fc.bias"};
    cr_assert_eq(params.count, 10);
    for (int i = 0; i < 10; i++) cr_assert_str_eq(params.items[i]->name, want[i]);
    cr_assert_eq(params.items[0]->value.shape[0], 4 * H);
    cr_assert_eq(params.items[0]->value.shape[1], V);
    cr_assert_eq(params.items[8]->value.shape[0], V);
    el_param_list_free(&params);
    el_charlm_free(&m);
}

/* ---- truncated BPTT --------------------------------------------------------- */

/* Two chunks with the state carried give the loss of one call over both:
 * the state really is carried, and reading it back changes nothing. */
static void check_carried_state(el_cell cell)
{
    el_charlm m;
    make_model(&m, cell, 2, 7);
    el_rng rng;
    el_rng_seed(&rng, 9);
    int inputs[2 * T * B], targets[2 * T * B];
    random_ids(&rng, inputs, 2 * T * B);
    random_ids(&rng, targets, 2 * T * B);
    el_charlm_state whole = {0}, chunked = {0};
    double all, first, second;
    long n_all, n_first, n_second;
    EL_TEST_OK(el_charlm_loss_of(&m, inputs, targets, 2 * T, B, &whole, &all, &n_all));
    EL_TEST_OK(el_charlm_loss_of(&m, inputs, targets, T, B, &chunked, &first, &n_first));
    EL_TEST_OK(
        el_charlm_loss_of(&m, inputs + T * B, targets + T * B, T, B, &chunked, &second, &n_second));
    cr_assert_eq(n_all, n_first + n_second);
    cr_assert(fabs(all - (first + second)) < 1e-4 * fabs(all), "%g against %g + %g", all, first,
              second);
    el_test_assert_close("final h", chunked.h.data, whole.h.data, whole.h.size, 1e-5, 1e-6);
    /* Without the state the second chunk reads differently. */
    el_charlm_state fresh = {0};
    double alone;
    EL_TEST_OK(
        el_charlm_loss_of(&m, inputs + T * B, targets + T * B, T, B, &fresh, &alone, &n_second));
    cr_assert(fabs(alone - second) > 1e-6, "the carried state made no difference");
    el_charlm_state_free(&whole);
    el_charlm_state_free(&chunked);
    el_charlm_state_free(&fresh);
    el_charlm_free(&m);
}

Test(charlm, state_carries_across_chunks_lstm) { check_carried_state(EL_CELL_LSTM); }
Test(charlm, state_carries_across_chunks_gru) { check_carried_state(EL_CELL_GRU); }

/* A NaN weight makes the loss NaN: the step fails before its backward pass,
 * so the gradients stay as they were for the caller's loop to see. */
Test(charlm, a_nonfinite_loss_stops_the_step)
{
    el_charlm m;
    make_model(&m, EL_CELL_GRU, 1, 3);
    int ids[T * B];
    for (int i = 0; i < T * B; i++) ids[i] = EL_SPECIALS + i % (V - EL_SPECIALS);
    m.output.bias.value.data[EL_SPECIALS] = NAN;
    el_charlm_state state = {0};
    float loss = 0;
    EL_TEST_FAILS(el_charlm_train_step(&m, ids, ids, T, B, &state, NULL, &loss), EL_ERR_NONFINITE);
    cr_assert(strstr(el_last_error(), "el_charlm_train_step: the loss is not finite"), "%s",
              el_last_error());
    cr_assert_eq(el_norm(&m.output.weight.grad), 0.0, "the backward pass ran");
    el_charlm_state_free(&state);
    el_charlm_free(&m);
}

Test(charlm, refuses_bad_arguments)
{
    el_charlm m;
    make_model(&m, EL_CELL_LSTM, 1, 1);
    int ids[T * B] = {0}, bad[T * B];
    for (int i = 0; i < T * B; i++) ids[i] = bad[i] = EL_SPECIALS;
    bad[5] = V;
    el_charlm_state state = {0};
    float loss;
    EL_TEST_FAILS(el_charlm_train_step(&m, ids, bad, T, B, &state, NULL, &loss), EL_ERR_INVALID);
    EL_TEST_FAILS(el_charlm_train_step(&m, bad, ids, T, B, &state, NULL, &loss), EL_ERR_INVALID);
    EL_TEST_FAILS(el_charlm_train_step(&m, ids, ids, 0, B, &state, NULL, &loss), EL_ERR_INVALID);
    EL_TEST_OK(el_charlm_train_step(&m, ids, ids, T, B, &state, NULL, &loss));
    /* A state of another batch size is refused, not silently reset. */
    EL_TEST_FAILS(el_charlm_train_step(&m, ids, ids, T, B - 1, &state, NULL, &loss), EL_ERR_SHAPE);
    el_charlm_config tiny = {EL_CELL_GRU, EL_SPECIALS, H, 1, 0};
    el_charlm other;
    EL_TEST_FAILS(el_charlm_init(&other, &tiny, NULL), EL_ERR_INVALID);
    el_charlm_state_free(&state);
    el_charlm_free(&m);
}

/* ---- against PyTorch -------------------------------------------------------- */

/* tools/make_charlm_fixture.py's model: V, H, T and B are this file's. */
enum { TORCH_LAYERS = 2 };
#define TORCH_RTOL 1e-5
#define TORCH_ATOL 1e-6
/* The gradients of a mean over 17 targets are at most a few 1e-3, where an
 * atol of 1e-6 would pass errors of 1e-3 relative; 1e-8 leaves the rtol in
 * charge for all but the gradients near 0. */
#define TORCH_GRAD_ATOL 1e-8

/* The fixture's first chunk: ids, and the state it starts from. */
typedef struct torch_chunk {
    int inputs[T * B], targets[T * B];
    el_charlm_state state;
} torch_chunk;

static void load_torch_chunk(const el_fixture *fx, torch_chunk *chunk)
{
    el_fixture_ints(fx, "inputs", chunk->inputs, T * B);
    el_fixture_ints(fx, "targets", chunk->targets, T * B);
    memset(&chunk->state, 0, sizeof chunk->state);
    el_fixture_tensor(fx, "h0", &chunk->state.h);
    el_fixture_tensor(fx, "c0", &chunk->state.c);
}

/* Copies PyTorch's value of every parameter, by name, and checks that the
 * fixture has no parameter elman lacks. */
static void load_torch_params(const el_fixture *fx, const el_param_list *params)
{
    for (int i = 0; i < params->count; i++) {
        el_tensor *value = &params->items[i]->value;
        const el_fixture_array *a = el_fixture_get(fx, params->items[i]->name);
        int same = a->ndim == value->ndim;
        for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == value->shape[d];
        char shape[64];
        cr_assert(same, "%s: elman's is %s, PyTorch's has another shape", params->items[i]->name,
                  el_tensor_shape_string(value, shape, sizeof shape));
        memcpy(value->data, a->data, a->size * sizeof *a->data);
    }
    int in_fixture = 0;
    for (int a = 0; a < fx->count; a++)
        in_fixture += strncmp(fx->arrays[a].name, "rnn.", 4) == 0 ||
                      strncmp(fx->arrays[a].name, "fc.", 3) == 0;
    cr_assert_eq(in_fixture, params->count, "PyTorch's model has %d parameters, elman's %d",
                 in_fixture, params->count);
}

static double mean_loss_of(el_charlm *m, const int *inputs, const int *targets,
                           el_charlm_state *state, long want_count)
{
    double sum;
    long count;
    EL_TEST_OK(el_charlm_loss_of(m, inputs, targets, T, B, state, &sum, &count));
    cr_assert_eq(count, want_count, "%ld targets counted, not %ld", count, want_count);
    return sum / count;
}

/* One training step from a non-zero state, with a <pad> target, gives
 * PyTorch's loss, final state and gradients; the next chunk, read from the
 * state that step left, gives PyTorch's loss from its detached state. */
Test(charlm, matches_pytorch_lstm_two_layers)
{
    el_fixture fx;
    el_fixture_load(&fx, "charlm.txt");
    el_charlm m;
    make_model(&m, EL_CELL_LSTM, TORCH_LAYERS, 1);
    el_param_list params = {0};
    EL_TEST_OK(el_charlm_params(&m, &params));
    load_torch_params(&fx, &params);
    torch_chunk chunk;
    load_torch_chunk(&fx, &chunk);
    int padded = 0;
    for (int i = 0; i < T * B; i++) padded += chunk.targets[i] == EL_PAD;
    cr_assert_eq(padded, 1, "the fixture should skip one target");

    el_param_list_zero_grad(&params);
    float loss;
    EL_TEST_OK(
        el_charlm_train_step(&m, chunk.inputs, chunk.targets, T, B, &chunk.state, NULL, &loss));
    el_fixture_expect_scalar(&fx, "loss", loss, TORCH_RTOL, TORCH_ATOL);
    el_fixture_expect_tensor(&fx, "hn", &chunk.state.h, TORCH_RTOL, TORCH_ATOL);
    el_fixture_expect_tensor(&fx, "cn", &chunk.state.c, TORCH_RTOL, TORCH_ATOL);
    char key[EL_FIXTURE_NAME_MAX];
    for (int i = 0; i < params.count; i++)
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "grad.%s", params.items[i]->name),
                                 &params.items[i]->grad, TORCH_RTOL, TORCH_GRAD_ATOL);

    int inputs2[T * B], targets2[T * B];
    el_fixture_ints(&fx, "chunk2.inputs", inputs2, T * B);
    el_fixture_ints(&fx, "chunk2.targets", targets2, T * B);
    float loss2 = (float)mean_loss_of(&m, inputs2, targets2, &chunk.state, T * B);
    el_fixture_expect_scalar(&fx, "chunk2.loss", loss2, TORCH_RTOL, TORCH_ATOL);

    el_charlm_state_free(&chunk.state);
    el_param_list_free(&params);
    el_charlm_free(&m);
    el_fixture_free(&fx);
}

/* A metadata value that must be there. */
static const char *required_meta(const el_checkpoint *c, const char *key)
{
    const char *value = el_checkpoint_meta(c, key);
    cr_assert_not_null(value, "charlm-torch.safetensors has no metadata \"%s\"", key);
    return value;
}

static int meta_int(const el_checkpoint *c, const char *key)
{
    const char *text = required_meta(c, key);
    char *end;
    long value = strtol(text, &end, 10);
    cr_assert(end != text && *end == '\0', "metadata \"%s\" is \"%s\", not an integer", key, text);
    return (int)value;
}

/* A model file PyTorch's side wrote, weights under PyTorch's names and the
 * configuration and vocabulary in the metadata, loads as charlm loads it
 * and scores the fixture's chunk as PyTorch did. */
Test(charlm, loads_a_model_file_made_by_pytorch)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", EL_FIXTURE_DIR, "charlm-torch.safetensors");
    el_checkpoint *c = NULL;
    EL_TEST_OK(el_checkpoint_read(&c, path));
    cr_assert_str_eq(required_meta(c, "elman.kind"), "charlm");
    el_vocab *vocab = NULL;
    EL_TEST_OK(el_vocab_from_json(&vocab, required_meta(c, "elman.vocab")));
    cr_assert_eq(el_vocab_size(vocab), V);
    for (int id = EL_SPECIALS; id < V; id++) {
        const char want[2] = {(char)('a' + id - EL_SPECIALS), '\0'};
        cr_assert_str_eq(el_vocab_symbol(vocab, id, NULL), want);
    }
    el_charlm_config cfg = {0};
    EL_TEST_OK(el_cell_parse(required_meta(c, "charlm.cell"), &cfg.cell));
    cfg.vocab_size = el_vocab_size(vocab);
    cfg.hidden_size = meta_int(c, "charlm.hidden");
    cfg.num_layers = meta_int(c, "charlm.layers");
    cfg.dropout = strtof(required_meta(c, "charlm.dropout"), NULL);
    cr_assert(cfg.cell == EL_CELL_LSTM && cfg.hidden_size == H && cfg.num_layers == TORCH_LAYERS &&
                  cfg.dropout == 0.0f,
              "the metadata's configuration is not the fixture's");

    el_charlm m;
    el_rng rng;
    el_rng_seed(&rng, 1);
    EL_TEST_OK(el_charlm_init(&m, &cfg, &rng));
    el_param_list params = {0};
    EL_TEST_OK(el_charlm_params(&m, &params));
    EL_TEST_OK(el_checkpoint_load_params(c, &params));
    cr_assert_eq(el_checkpoint_count(c), params.count, "the file has tensors elman does not read");
    el_charlm_set_training(&m, 0);

    el_fixture fx;
    el_fixture_load(&fx, "charlm.txt");
    torch_chunk chunk;
    load_torch_chunk(&fx, &chunk);
    float loss = (float)mean_loss_of(&m, chunk.inputs, chunk.targets, &chunk.state, T * B - 1);
    el_fixture_expect_scalar(&fx, "loss", loss, TORCH_RTOL, TORCH_ATOL);

    el_charlm_state_free(&chunk.state);
    el_fixture_free(&fx);
    el_param_list_free(&params);
    el_charlm_free(&m);
    el_vocab_free(vocab);
    el_checkpoint_free(c);
}

/* ---- streams ---------------------------------------------------------------- */

Test(charlm, chunks_cut_contiguous_streams)
{
    int text[103];
    for (int i = 0; i < 103; i++) text[i] = i;
    /* offset 2: 100 targets, 4 streams of 25, chunks of 10, 10, 5 steps. */
    cr_assert_eq(el_charlm_chunks(103, 2, 4, 10), 3);
    int inputs[40], targets[40], steps, next_input[4];
    for (long k = 0; k < 3; k++) {
        EL_TEST_OK(el_charlm_chunk(text, 103, 2, 4, 10, k, inputs, targets, &steps));
        cr_assert_eq(steps, k < 2 ? 10 : 5);
        for (int b = 0; b < 4; b++) {
            if (k == 0)
                cr_assert_eq(inputs[b], 2 + 25 * b, "stream %d starts at %d", b, inputs[b]);
            else
                cr_assert_eq(inputs[b], next_input[b], "stream %d jumps between chunks", b);
            for (int t = 0; t < steps; t++) cr_assert_eq(targets[t * 4 + b], inputs[t * 4 + b] + 1);
            next_input[b] = targets[(steps - 1) * 4 + b];
        }
    }
    cr_assert_eq(next_input[3], 102, "the last target is the text's last id");
    EL_TEST_FAILS(el_charlm_chunk(text, 103, 2, 4, 10, 3, inputs, targets, &steps), EL_ERR_INVALID);
    cr_assert_eq(el_charlm_chunks(5, 0, 8, 10), 0, "8 streams of 5 ids are empty");
    EL_TEST_FAILS(el_charlm_chunk(text, 5, 0, 8, 10, 0, inputs, targets, &steps), EL_ERR_INVALID);
}

/* ---- the stepper and the generator ---------------------------------------- */

/* Steps one at a time through a sequence and compares every output and the
 * final state with one el_rnn_forward call over it. */
static void check_stepper(el_cell cell, int layers, int one_hot)
{
    enum { IN = 7, SB = 2, ST = 5 };
    el_rng rng;
    el_rng_seed(&rng, 21);
    el_rnn rnn;
    el_rnn_config cfg = {cell, IN, H, layers, 0, 0.0f};
    EL_TEST_OK(el_rnn_init(&rnn, NULL, &cfg, &rng));
    el_tensor x = {0}, y = {0}, h0 = {0}, c0 = {0}, hn = {0}, cn = {0}, step_y = {0}, state = {0};
    int ids[ST * SB];
    if (one_hot) {
        for (int i = 0; i < ST * SB; i++) ids[i] = (int)el_rng_below(&rng, IN);
        EL_TEST_OK(el_tensor_alloc(&x, 3, (int[]){ST, SB, IN}));
        EL_TEST_OK(el_one_hot(ids, ST * SB, IN, &x));
    } else {
        el_test_random_tensor(&x, &rng, 3, (int[]){ST, SB, IN}, -1, 1);
    }
    el_test_random_tensor(&h0, &rng, 3, (int[]){layers, SB, H}, -0.5f, 0.5f);
    el_test_random_tensor(&c0, &rng, 3, (int[]){layers, SB, H}, -0.5f, 0.5f);
    EL_TEST_OK(el_tensor_alloc(&y, 3, (int[]){ST, SB, H}));
    EL_TEST_OK(el_tensor_alloc(&hn, 3, (int[]){layers, SB, H}));
    EL_TEST_OK(el_tensor_alloc(&cn, 3, (int[]){layers, SB, H}));
    EL_TEST_OK(el_tensor_alloc(&state, 3, (int[]){layers, SB, H}));
    EL_TEST_OK(el_tensor_alloc(&step_y, 2, (int[]){SB, H}));
    el_rnn_cache *cache;
    EL_TEST_OK(el_rnn_cache_create(&cache));
    int lstm = cell == EL_CELL_LSTM;
    rnn.training = 0;
    EL_TEST_OK(el_rnn_forward(&rnn, cache, NULL, &x, NULL, &h0, lstm ? &c0 : NULL, &y, &hn,
                              lstm ? &cn : NULL));
    el_rnn_stepper *s;
    EL_TEST_OK(el_rnn_stepper_create(&s, &rnn, SB));
    /* The stepper keeps its own copy: changing the layer after changes nothing. */
    el_tensor_fill(&rnn.layers[0].weight_hh.value, 100.0f);
    EL_TEST_OK(el_rnn_stepper_reset(s, &h0, lstm ? &c0 : NULL));
    for (int t = 0; t < ST; t++) {
        if (one_hot) {
            EL_TEST_OK(el_rnn_step_ids(s, ids + t * SB, &step_y));
        } else {
            el_tensor xt;
            EL_TEST_OK(el_tensor_view(&xt, &x, (size_t)t * SB * IN, 2, (int[]){SB, IN}));
            EL_TEST_OK(el_rnn_step(s, &xt, &step_y));
        }
        el_test_assert_close("step output", step_y.data, y.data + (size_t)t * SB * H, SB * H, 1e-5,
                             1e-6);
    }
    EL_TEST_OK(el_rnn_stepper_state(s, &state, NULL));
    el_test_assert_close("final h", state.data, hn.data, hn.size, 1e-5, 1e-6);
    if (lstm) {
        EL_TEST_OK(el_rnn_stepper_state(s, NULL, &state));
        el_test_assert_close("final c", state.data, cn.data, cn.size, 1e-5, 1e-6);
    }
    int bad = IN;
    EL_TEST_FAILS(el_rnn_step_ids(s, (int[]){0, bad}, NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_rnn_step(s, &step_y, NULL), EL_ERR_SHAPE);
    el_rnn_stepper_free(s);
    el_rnn_cache_free(cache);
    el_tensor *all[] = {&x, &y, &h0, &c0, &hn, &cn, &step_y, &state};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) el_tensor_free(all[i]);
    el_rnn_free(&rnn);
}

Test(charlm, stepper_matches_forward_lstm) { check_stepper(EL_CELL_LSTM, 2, 0); }
Test(charlm, stepper_matches_forward_gru) { check_stepper(EL_CELL_GRU, 2, 1); }
Test(charlm, stepper_matches_forward_rnn_relu) { check_stepper(EL_CELL_RNN_RELU, 1, 1); }
Test(charlm, stepper_matches_forward_rnn_tanh) { check_stepper(EL_CELL_RNN_TANH, 3, 0); }

Test(charlm, stepper_refuses_bidirectional)
{
    el_rnn rnn;
    el_rnn_config cfg = {EL_CELL_GRU, 3, 4, 1, 1, 0.0f};
    EL_TEST_OK(el_rnn_init(&rnn, NULL, &cfg, NULL));
    el_rnn_stepper *s = NULL;
    EL_TEST_FAILS(el_rnn_stepper_create(&s, &rnn, 1), EL_ERR_INVALID);
    cr_assert_null(s);
    el_rnn_free(&rnn);
}

/* The generator's logits after each fed id are the model's logits at that
 * step of a whole-sequence pass: compared through the loss of every target. */
Test(charlm, generator_matches_model)
{
    el_charlm m;
    make_model(&m, EL_CELL_LSTM, 2, 4);
    el_rng rng;
    el_rng_seed(&rng, 2);
    int ids[T + 1];
    random_ids(&rng, ids, T + 1);
    el_sampling how = el_sampling_defaults();
    el_charlm_generator *g;
    EL_TEST_OK(el_charlm_generator_create(&g, &m, &how));
    int draw;
    EL_TEST_FAILS(el_charlm_generator_draw(g, &rng, &draw), EL_ERR_STATE);
    for (int t = 0; t < T; t++) {
        EL_TEST_OK(el_charlm_generator_feed(g, ids[t]));
        const float *logits = el_charlm_generator_logits(g);
        double top = logits[0], sum = 0;
        for (int v = 1; v < V; v++) top = logits[v] > top ? logits[v] : top;
        for (int v = 0; v < V; v++) sum += exp(logits[v] - top);
        double want = -(logits[ids[t + 1]] - top - log(sum)), got;
        long n;
        el_charlm_state state = {0};
        int target[T];
        for (int k = 0; k < T; k++) target[k] = k == t ? ids[t + 1] : EL_PAD;
        EL_TEST_OK(el_charlm_loss_of(&m, ids, target, T, 1, &state, &got, &n));
        cr_assert_eq(n, 1);
        cr_assert(fabs(got - want) < 1e-4, "step %d: %g against %g", t, got, want);
        el_charlm_state_free(&state);
    }
    EL_TEST_OK(el_charlm_generator_draw(g, &rng, &draw));
    cr_assert(draw >= 0 && draw < V);
    el_charlm_generator_free(g);
    el_charlm_free(&m);
}

/* ---- sampling ------------------------------------------------------------- */

static int draw_once(el_sampler *s, const float *logits, el_rng *rng)
{
    int id = -1;
    EL_TEST_OK(el_sampler_draw(s, logits, rng, &id));
    return id;
}

/* Frequencies of n draws, in counts[5]. */
static void frequencies(const el_sampling *how, const float *logits, int n, int *counts)
{
    el_sampler *s;
    el_rng rng;
    el_rng_seed(&rng, 77);
    EL_TEST_OK(el_sampler_create(&s, 5, how));
    memset(counts, 0, 5 * sizeof *counts);
    for (int i = 0; i < n; i++) counts[draw_once(s, logits, &rng)]++;
    el_sampler_free(s);
}

/* Probabilities 0.05, 0.1, 0.15, 0.3, 0.4 as logits. */
static const float logits5[5] = {-2.9957323f, -2.3025851f, -1.8971200f, -1.2039728f, -0.9162907f};

Test(sample, draws_in_proportion)
{
    int counts[5], n = 40000;
    el_sampling how = el_sampling_defaults();
    frequencies(&how, logits5, n, counts);
    const double want[5] = {0.05, 0.1, 0.15, 0.3, 0.4};
    for (int i = 0; i < 5; i++)
        cr_assert(fabs(counts[i] / (double)n - want[i]) < 0.01, "id %d: %d of %d", i, counts[i], n);
}

Test(sample, temperature_sharpens_and_flattens)
{
    int cold[5], hot[5], n = 20000;
    el_sampling how = el_sampling_defaults();
    how.temperature = 0.5;
    frequencies(&how, logits5, n, cold);
    how.temperature = 2.0;
    frequencies(&how, logits5, n, hot);
    /* At T = 0.5 the probabilities go as p^2: 0.4^2 / sum(p^2) = 0.5614. */
    cr_assert(fabs(cold[4] / (double)n - 0.5614) < 0.012, "%d", cold[4]);
    cr_assert(hot[0] > cold[0] * 3, "T = 2 should draw the rare id far more: %d, %d", hot[0],
              cold[0]);
    how.temperature = 0;
    frequencies(&how, logits5, 100, cold);
    cr_assert_eq(cold[4], 100, "temperature 0 takes the likeliest every time");
}

Test(sample, top_k_and_top_p_cut_the_tail)
{
    int counts[5], n = 20000;
    el_sampling how = el_sampling_defaults();
    how.top_k = 2;
    frequencies(&how, logits5, n, counts);
    cr_assert_eq(counts[0] + counts[1] + counts[2], 0, "top-k 2 drew outside the two likeliest");
    cr_assert(fabs(counts[4] / (double)n - 0.4 / 0.7) < 0.012, "%d", counts[4]);
    how.top_k = 0;
    how.top_p = 0.65; /* 0.4 + 0.3 = 0.7 is the first sum at or above 0.65 */
    frequencies(&how, logits5, n, counts);
    cr_assert_eq(counts[0] + counts[1] + counts[2], 0, "top-p 0.65 kept more than two");
    how.top_p = 0.75; /* needs 0.4 + 0.3 + 0.15 */
    frequencies(&how, logits5, n, counts);
    cr_assert_eq(counts[0] + counts[1], 0);
    cr_assert(counts[2] > 0);
    how.top_p = 1e-6;
    frequencies(&how, logits5, 100, counts);
    cr_assert_eq(counts[4], 100, "a tiny top-p keeps only the likeliest");
}

Test(sample, never_draws_below_first_id_and_repeats_by_seed)
{
    int counts[5];
    el_sampling how = el_sampling_defaults();
    how.first_id = 4;
    frequencies(&how, logits5, 500, counts);
    cr_assert_eq(counts[4], 500);
    how.first_id = 2;
    el_sampler *s;
    EL_TEST_OK(el_sampler_create(&s, 5, &how));
    el_rng a, b;
    el_rng_seed(&a, 5);
    el_rng_seed(&b, 5);
    for (int i = 0; i < 200; i++) {
        int x = draw_once(s, logits5, &a);
        cr_assert(x >= 2);
        cr_assert_eq(x, draw_once(s, logits5, &b), "the same seed drew differently at %d", i);
    }
    float with_nan[5] = {0, 0, 0, NAN, 0};
    int id;
    EL_TEST_FAILS(el_sampler_draw(s, with_nan, &a, &id), EL_ERR_INVALID);
    el_sampler_free(s);
}

Test(sample, refuses_bad_settings)
{
    el_sampler *s = NULL;
    el_sampling how = el_sampling_defaults();
    how.temperature = -1;
    EL_TEST_FAILS(el_sampler_create(&s, 5, &how), EL_ERR_INVALID);
    how = el_sampling_defaults();
    how.top_p = 0;
    EL_TEST_FAILS(el_sampler_create(&s, 5, &how), EL_ERR_INVALID);
    how = el_sampling_defaults();
    how.top_k = -3;
    EL_TEST_FAILS(el_sampler_create(&s, 5, &how), EL_ERR_INVALID);
    how = el_sampling_defaults();
    how.first_id = 5;
    EL_TEST_FAILS(el_sampler_create(&s, 5, &how), EL_ERR_INVALID);
    cr_assert_null(s);
}
