/* The recurrent layer (include/elman/rnn.h) against PyTorch and against
 * finite differences, and its contracts: padded steps, truncated BPTT,
 * dropout between layers, errors and cache reuse.
 *
 * The PyTorch tests read tests/fixtures/rnn.txt (tools/make_rnn_fixtures.py)
 * and compare every output and gradient within rtol 1e-5, atol 1e-6: both
 * sides compute in float32, so they may differ in the last bits where the
 * order of operations differs, but no more.  Shapes are small so that the
 * tests stay quick under ASan.
 *
 * One file of over 700 lines: every section drives the layer through the
 * helpers of the first two (one forward and backward call, the parameters'
 * gradients), and the later ones (threads, the two ways to the weight
 * gradients, one-hot inputs) compare two runs of the same call. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "gradcheck.h"
#include "core/internal.h"
#include "support.h"

#define RTOL 1e-5
#define ATOL 1e-6

enum { MAX_BATCH = 32 };

static const el_cell all_cells[] = {EL_CELL_RNN_TANH, EL_CELL_RNN_RELU, EL_CELL_GRU, EL_CELL_LSTM};

static int directions(const el_rnn_config *cfg) { return cfg->bidirectional ? 2 : 1; }

/* An empty tensor stands for an argument not given (c0 and friends of the
 * cells that have no cell state). */
static el_tensor *given(el_tensor *t) { return t->data ? t : NULL; }

/* ---- one forward and backward call ----------------------------------- */

/* The tensors of one call: inputs, upstream gradients, outputs and input
 * gradients.  The upstream gradients are also the weights of the loss
 * sum(y dy) + sum(hn dhn) + sum(cn dcn) that the finite differences take.
 * c0, cn, dcn and dc0 stay empty except for the LSTM. */
typedef struct rnn_io {
    int lengths[MAX_BATCH];
    int ragged; /* 0: lengths is passed as NULL, every sequence T long */
    el_tensor x, h0, c0;
    el_tensor dy, dhn, dcn;
    el_tensor y, hn, cn;
    el_tensor dx, dh0, dc0;
} rnn_io;

static void io_alloc_results(rnn_io *io, const el_rnn_config *cfg, int steps, int batch)
{
    int states = cfg->num_layers * directions(cfg), H = cfg->hidden_size;
    int state_shape[3] = {states, batch, H};
    EL_TEST_OK(el_tensor_alloc(&io->y, 3, (int[]){steps, batch, directions(cfg) * H}));
    EL_TEST_OK(el_tensor_alloc(&io->hn, 3, state_shape));
    EL_TEST_OK(el_tensor_alloc(&io->dx, 3, (int[]){steps, batch, cfg->input_size}));
    EL_TEST_OK(el_tensor_alloc(&io->dh0, 3, state_shape));
    if (cfg->cell == EL_CELL_LSTM) {
        EL_TEST_OK(el_tensor_alloc(&io->cn, 3, state_shape));
        EL_TEST_OK(el_tensor_alloc(&io->dc0, 3, state_shape));
    }
}

/* Random inputs in [-1, 1) and upstream gradients, the latter at padded
 * steps too, where elman must ignore them.  lengths may be NULL. */
static void io_random(rnn_io *io, const el_rnn_config *cfg, int steps, int batch,
                      const int *lengths, el_rng *rng)
{
    cr_assert(batch <= MAX_BATCH);
    memset(io, 0, sizeof *io);
    io->ragged = lengths != NULL;
    for (int b = 0; b < batch; b++) io->lengths[b] = lengths ? lengths[b] : steps;
    int D = directions(cfg), H = cfg->hidden_size;
    int state_shape[3] = {cfg->num_layers * D, batch, H};
    el_test_random_tensor(&io->x, rng, 3, (int[]){steps, batch, cfg->input_size}, -1, 1);
    el_test_random_tensor(&io->h0, rng, 3, state_shape, -1, 1);
    el_test_random_tensor(&io->dy, rng, 3, (int[]){steps, batch, D * H}, -1, 1);
    el_test_random_tensor(&io->dhn, rng, 3, state_shape, -1, 1);
    if (cfg->cell == EL_CELL_LSTM) {
        el_test_random_tensor(&io->c0, rng, 3, state_shape, -1, 1);
        el_test_random_tensor(&io->dcn, rng, 3, state_shape, -1, 1);
    }
    io_alloc_results(io, cfg, steps, batch);
}

static void io_free(rnn_io *io)
{
    el_tensor *all[] = {&io->x, &io->h0, &io->c0, &io->dy, &io->dhn, &io->dcn,
                        &io->y, &io->hn, &io->cn, &io->dx, &io->dh0, &io->dc0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) el_tensor_free(all[i]);
}

static void io_forward(el_rnn *rnn, el_rnn_cache *cache, el_rng *rng, rnn_io *io)
{
    EL_TEST_OK(el_rnn_forward(rnn, cache, rng, &io->x, io->ragged ? io->lengths : NULL, &io->h0,
                              given(&io->c0), &io->y, &io->hn, given(&io->cn)));
}

static void io_backward(el_rnn *rnn, el_rnn_cache *cache, rnn_io *io)
{
    EL_TEST_OK(el_rnn_backward(rnn, cache, &io->dy, &io->dhn, given(&io->dcn), &io->dx, &io->dh0,
                               given(&io->dc0)));
}

static double io_loss(const rnn_io *io)
{
    double loss = el_test_weighted_sum(&io->dy, &io->y) + el_test_weighted_sum(&io->dhn, &io->hn);
    if (io->cn.data) loss += el_test_weighted_sum(&io->dcn, &io->cn);
    return loss;
}

/* ---- parameters ------------------------------------------------------- */

static void param_list(el_rnn *rnn, el_param_list *list)
{
    *list = (el_param_list){0};
    EL_TEST_OK(el_rnn_params(rnn, list));
}

static void zero_grads(el_rnn *rnn)
{
    el_param_list list;
    param_list(rnn, &list);
    el_param_list_zero_grad(&list);
    el_param_list_free(&list);
}

/* Every parameter gradient, concatenated in el_rnn_params order. */
static void snapshot_grads(el_rnn *rnn, el_tensor *out)
{
    el_param_list list;
    param_list(rnn, &list);
    EL_TEST_OK(el_tensor_alloc(out, 1, (int[]){(int)el_param_list_numel(&list)}));
    size_t at = 0;
    for (int i = 0; i < list.count; i++) {
        const el_tensor *g = &list.items[i]->grad;
        memcpy(out->data + at, g->data, g->size * sizeof *g->data);
        at += g->size;
    }
    el_param_list_free(&list);
}

static void copy_of(el_tensor *dst, const el_tensor *src)
{
    EL_TEST_OK(el_tensor_alloc(dst, src->ndim, src->shape));
    EL_TEST_OK(el_tensor_copy(dst, src));
}

static void expect_same(const char *what, const el_tensor *got, const el_tensor *want, double rtol,
                        double atol)
{
    cr_assert(el_tensor_same_shape(got, want), "%s: shapes differ", what);
    el_test_assert_close(what, got->data, want->data, want->size, rtol, atol);
}

/* ---- PyTorch ------------------------------------------------------------ */

/* A configuration of tools/make_rnn_fixtures.py, named as its arrays are. */
typedef struct torch_config {
    char name[32];
    el_cell cell;
    int layers, bidirectional;
    int equal; /* all lengths T: elman gets NULL lengths */
} torch_config;

/* The SHAPES of tools/make_rnn_fixtures.py, for one cell. */
#define TORCH_SHAPES(cell, name)                                                                   \
    {name "_l1", cell, 1, 0, 0}, {name "_l2", cell, 2, 0, 0}, {name "_bi", cell, 1, 1, 0},         \
        {name "_l2bi", cell, 2, 1, 0}, {name "_l1_equal", cell, 1, 0, 1},                          \
    {                                                                                              \
        name "_l2bi_equal", cell, 2, 1, 1                                                          \
    }

ParameterizedTestParameters(rnn_torch, matches_pytorch)
{
    static torch_config configs[] = {
        TORCH_SHAPES(EL_CELL_RNN_TANH, "rnn_tanh"), TORCH_SHAPES(EL_CELL_RNN_RELU, "rnn_relu"),
        TORCH_SHAPES(EL_CELL_GRU, "gru"), TORCH_SHAPES(EL_CELL_LSTM, "lstm")};
    return cr_make_param_array(torch_config, configs, sizeof configs / sizeof configs[0]);
}

/* Copies the fixture array called name into t, which must have its shape. */
static void load_into(const el_fixture *fx, const char *name, el_tensor *t)
{
    const el_fixture_array *a = el_fixture_get(fx, name);
    int same = a->ndim == t->ndim;
    for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == t->shape[d];
    char shape[64];
    cr_assert(same, "%s: elman's tensor is %s, PyTorch's has another shape", name,
              el_tensor_shape_string(t, shape, sizeof shape));
    memcpy(t->data, a->data, a->size * sizeof *a->data);
}

/* Whether a fixture array is a parameter value of configuration prefix:
 * "<prefix>.weight_*" or "<prefix>.bias_*" (gradients start with "d"). */
static int is_parameter_of(const char *name, const char *prefix)
{
    size_t len = strlen(prefix);
    if (strncmp(name, prefix, len) != 0 || name[len] != '.') return 0;
    const char *rest = name + len + 1;
    return strncmp(rest, "weight_", 7) == 0 || strncmp(rest, "bias_", 5) == 0;
}

/* Checks that elman names the parameters as PyTorch does, in PyTorch's
 * order (per layer, per direction: weight_ih, weight_hh, bias_ih, bias_hh),
 * that the fixture has no parameter elman lacks, and loads PyTorch's values. */
static void load_torch_weights(const el_fixture *fx, el_rnn *rnn, const char *prefix)
{
    static const char *const kinds[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    el_param_list list;
    param_list(rnn, &list);
    int D = directions(&rnn->config), i = 0;
    char key[EL_FIXTURE_NAME_MAX];
    for (int l = 0; l < rnn->config.num_layers; l++)
        for (int d = 0; d < D; d++) {
            el_rnn_weights *w = el_rnn_layer(rnn, l, d);
            el_param *own[4] = {&w->weight_ih, &w->weight_hh, &w->bias_ih, &w->bias_hh};
            for (int k = 0; k < 4; k++, i++) {
                el_fixture_key(key, "%s.%s_l%d%s", prefix, kinds[k], l, d ? "_reverse" : "");
                cr_assert(el_param_list_find(&list, key) == own[k],
                          "elman has no parameter %s, or it is not layer %d direction %d's %s", key,
                          l, d, kinds[k]);
                cr_assert(i < list.count && list.items[i] == own[k],
                          "%s is not parameter %d of el_rnn_params, as in PyTorch's order", key, i);
                load_into(fx, key, &own[k]->value);
            }
        }
    cr_assert_eq(list.count, i, "el_rnn_params lists %d parameters, PyTorch's layer has %d",
                 list.count, i);
    int in_fixture = 0;
    for (int a = 0; a < fx->count; a++) in_fixture += is_parameter_of(fx->arrays[a].name, prefix);
    cr_assert_eq(in_fixture, i, "PyTorch's %s has %d parameters, elman's %d", prefix, in_fixture,
                 i);
    el_param_list_free(&list);
}

/* Reads the inputs and upstream gradients of configuration c. */
static void load_torch_io(const el_fixture *fx, const torch_config *c, const el_rnn_config *cfg,
                          rnn_io *io)
{
    char key[EL_FIXTURE_NAME_MAX];
    memset(io, 0, sizeof *io);
    el_fixture_tensor(fx, el_fixture_key(key, "%s.x", c->name), &io->x);
    int steps = io->x.shape[0], batch = io->x.shape[1];
    cr_assert(batch <= MAX_BATCH);
    el_fixture_ints(fx, el_fixture_key(key, "%s.lengths", c->name), io->lengths, (size_t)batch);
    for (int b = 0; c->equal && b < batch; b++)
        cr_assert_eq(io->lengths[b], steps, "%s: lengths[%d] is not T", c->name, b);
    io->ragged = !c->equal;
    el_fixture_tensor(fx, el_fixture_key(key, "%s.h0", c->name), &io->h0);
    el_fixture_tensor(fx, el_fixture_key(key, "%s.dy", c->name), &io->dy);
    el_fixture_tensor(fx, el_fixture_key(key, "%s.dhn", c->name), &io->dhn);
    if (c->cell == EL_CELL_LSTM) {
        el_fixture_tensor(fx, el_fixture_key(key, "%s.c0", c->name), &io->c0);
        el_fixture_tensor(fx, el_fixture_key(key, "%s.dcn", c->name), &io->dcn);
    }
    io_alloc_results(io, cfg, steps, batch);
}

static void expect_torch(const el_fixture *fx, const char *prefix, const char *what,
                         const el_tensor *got)
{
    char key[EL_FIXTURE_NAME_MAX];
    el_fixture_expect_tensor(fx, el_fixture_key(key, "%s.%s", prefix, what), got, RTOL, ATOL);
}

ParameterizedTest(torch_config *c, rnn_torch, matches_pytorch)
{
    el_fixture fx;
    el_fixture_load(&fx, "rnn.txt");
    char key[EL_FIXTURE_NAME_MAX];
    const el_fixture_array *x = el_fixture_get(&fx, el_fixture_key(key, "%s.x", c->name));
    const el_fixture_array *h0 = el_fixture_get(&fx, el_fixture_key(key, "%s.h0", c->name));
    el_rnn_config cfg = {.cell = c->cell,
                         .input_size = x->shape[2],
                         .hidden_size = h0->shape[2],
                         .num_layers = c->layers,
                         .bidirectional = c->bidirectional,
                         .dropout = 0};
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, c->name, &cfg, NULL));
    load_torch_weights(&fx, &rnn, c->name);
    rnn_io io;
    load_torch_io(&fx, c, &cfg, &io);
    el_rnn_cache *cache;
    EL_TEST_OK(el_rnn_cache_create(&cache));

    io_forward(&rnn, cache, NULL, &io);
    expect_torch(&fx, c->name, "y", &io.y);
    expect_torch(&fx, c->name, "hn", &io.hn);
    if (c->cell == EL_CELL_LSTM) expect_torch(&fx, c->name, "cn", &io.cn);

    io_backward(&rnn, cache, &io);
    expect_torch(&fx, c->name, "dx", &io.dx);
    expect_torch(&fx, c->name, "dh0", &io.dh0);
    if (c->cell == EL_CELL_LSTM) expect_torch(&fx, c->name, "dc0", &io.dc0);
    el_param_list list;
    param_list(&rnn, &list);
    size_t skip = strlen(c->name) + 1; /* "gru_l2bi.weight_ih_l0" -> "weight_ih_l0" */
    for (int i = 0; i < list.count; i++) {
        el_fixture_key(key, "d%s", list.items[i]->name + skip);
        expect_torch(&fx, c->name, key, &list.items[i]->grad);
    }

    el_param_list_free(&list);
    el_rnn_cache_free(cache);
    io_free(&io);
    el_rnn_free(&rnn);
    el_fixture_free(&fx);
}

/* ---- finite differences --------------------------------------------------- */

/* A layer and one call's tensors; the loss replays the generator from start
 * before each forward call, so that every evaluation draws the same dropout
 * masks as the one backward went through. */
typedef struct fd_case {
    el_rnn rnn;
    el_rnn_cache *cache;
    el_rng start;
    rnn_io io;
} fd_case;

static double fd_loss(void *ctx)
{
    fd_case *c = ctx;
    el_rng rng = c->start;
    io_forward(&c->rnn, c->cache, &rng, &c->io);
    return io_loss(&c->io);
}

static void fd_setup(fd_case *c, const el_rnn_config *cfg, int steps, int batch, const int *lengths,
                     uint64_t seed)
{
    el_rng rng;
    el_rng_seed(&rng, seed);
    EL_TEST_OK(el_rnn_init(&c->rnn, "rnn", cfg, &rng));
    io_random(&c->io, cfg, steps, batch, lengths, &rng);
    c->start = rng;
    EL_TEST_OK(el_rnn_cache_create(&c->cache));
}

static void fd_free(fd_case *c)
{
    el_rnn_cache_free(c->cache);
    io_free(&c->io);
    el_rnn_free(&c->rnn);
}

/* The loss sums about a hundred float32 outputs, each rounded, so its
 * central differences carry noise of up to about 1e-4 (8e-5 seen); a floor
 * of 1e-2 keeps that from reading as a relative error of the gradients
 * smaller than 1e-2, and still catches an error of more than 1e-4 in any. */
static const el_test_gradcheck_opts fd_opts = {.eps = 1e-2, .tolerance = 1e-2, .floor = 1e-2};

/* Runs backward once, then compares the gradients of x, h0, c0 and every
 * parameter with central differences of the loss. */
static void fd_check_all(fd_case *c, const char *label)
{
    zero_grads(&c->rnn);
    fd_loss(c);
    io_backward(&c->rnn, c->cache, &c->io);
    char what[EL_FIXTURE_NAME_MAX];
    el_test_gradcheck(el_fixture_key(what, "%s: x", label), fd_loss, c, &c->io.x, &c->io.dx,
                      &fd_opts);
    el_test_gradcheck(el_fixture_key(what, "%s: h0", label), fd_loss, c, &c->io.h0, &c->io.dh0,
                      &fd_opts);
    if (c->io.c0.data)
        el_test_gradcheck(el_fixture_key(what, "%s: c0", label), fd_loss, c, &c->io.c0, &c->io.dc0,
                          &fd_opts);
    el_param_list list;
    param_list(&c->rnn, &list);
    for (int i = 0; i < list.count; i++) {
        el_param *p = list.items[i];
        el_test_gradcheck(el_fixture_key(what, "%s: %s", label, p->name), fd_loss, c, &p->value,
                          &p->grad, &fd_opts);
    }
    el_param_list_free(&list);
}

/* A ReLU RNN has no derivative where a pre-activation is 0, and a central
 * difference that steps across 0 measures neither side.  So here every
 * hidden unit has bias_ih +1 or -1 (alternately) and every weight and
 * bias_hh is at most 0.05: with inputs and h0 in [-1, 1] the states stay
 * below 1.8 and the rest of every pre-activation below 0.75 in magnitude,
 * so each one is at least 0.25 from the kink, while a step of eps moves it
 * by less than 0.05.  Half the units are on, half off: both branches of the
 * derivative are checked. */
static void keep_relu_off_kinks(el_rnn *rnn, el_rng *rng)
{
    int D = directions(&rnn->config);
    for (int l = 0; l < rnn->config.num_layers; l++)
        for (int d = 0; d < D; d++) {
            el_rnn_weights *w = el_rnn_layer(rnn, l, d);
            EL_TEST_OK(el_init_uniform(&w->weight_ih.value, rng, -0.05f, 0.05f));
            EL_TEST_OK(el_init_uniform(&w->weight_hh.value, rng, -0.05f, 0.05f));
            EL_TEST_OK(el_init_uniform(&w->bias_hh.value, rng, -0.05f, 0.05f));
            for (size_t j = 0; j < w->bias_ih.value.size; j++)
                w->bias_ih.value.data[j] = j % 2 ? -1.0f : 1.0f;
        }
}

/* The outputs of the last layer bear the margin out: each is 0 (off, or
 * padding) or at least 0.25. */
static void expect_off_kinks(const el_tensor *y)
{
    for (size_t i = 0; i < y->size; i++)
        cr_assert(y->data[i] == 0 || y->data[i] >= 0.25f,
                  "ReLU output %zu is %g, too close to the kink", i, (double)y->data[i]);
}

/* Two bidirectional layers over ragged lengths with an empty sequence. */
static void check_cell_gradients(el_cell cell, uint64_t seed)
{
    el_rnn_config cfg = {
        .cell = cell, .input_size = 3, .hidden_size = 3, .num_layers = 2, .bidirectional = 1};
    fd_case c = {0};
    fd_setup(&c, &cfg, 4, 3, (int[]){2, 4, 0}, seed);
    if (cell == EL_CELL_RNN_RELU) {
        keep_relu_off_kinks(&c.rnn, &c.start);
        fd_loss(&c);
        expect_off_kinks(&c.io.y);
    }
    fd_check_all(&c, el_cell_name(cell));
    fd_free(&c);
}

Test(rnn_gradcheck, rnn_tanh) { check_cell_gradients(EL_CELL_RNN_TANH, 200); }
Test(rnn_gradcheck, rnn_relu) { check_cell_gradients(EL_CELL_RNN_RELU, 201); }
Test(rnn_gradcheck, gru) { check_cell_gradients(EL_CELL_GRU, 202); }
Test(rnn_gradcheck, lstm) { check_cell_gradients(EL_CELL_LSTM, 203); }

/* ---- padded steps ---------------------------------------------------------- */

/* Sequence b of two (layers*D, B, H) state tensors is the same in every slot. */
static void expect_sequence(const char *what, const el_tensor *got, const el_tensor *want, int b)
{
    int states = want->shape[0], batch = want->shape[1], H = want->shape[2];
    for (int s = 0; s < states; s++) {
        size_t at = ((size_t)s * batch + b) * H;
        el_test_assert_close(what, got->data + at, want->data + at, (size_t)H, 0, 0);
    }
}

/* Outputs at t >= length are exactly 0, what x holds there (NaN here)
 * reaches neither the outputs, the final states nor the gradients, and an
 * empty sequence leaves its state alone. */
static void check_padding(el_cell cell, uint64_t seed)
{
    enum { T = 5, B = 4 };
    static const int lengths[B] = {5, 0, 3, 1};
    el_rnn_config cfg = {
        .cell = cell, .input_size = 3, .hidden_size = 3, .num_layers = 2, .bidirectional = 1};
    fd_case c = {0};
    fd_setup(&c, &cfg, T, B, lengths, seed);
    rnn_io *io = &c.io;
    io_forward(&c.rnn, c.cache, NULL, io);
    io_backward(&c.rnn, c.cache, io);
    int width = io->y.shape[2], in = cfg.input_size;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int j = 0; t >= lengths[b] && j < width; j++)
                cr_assert(io->y.data[((size_t)t * B + b) * width + j] == 0,
                          "%s: y[%d][%d][%d] is not 0 beyond length %d", el_cell_name(cell), t, b,
                          j, lengths[b]);
    /* The empty sequence keeps its initial state, and its initial state's
     * gradient is the final state's. */
    expect_sequence("empty sequence: hn = h0", &io->hn, &io->h0, 1);
    expect_sequence("empty sequence: dh0 = dhn", &io->dh0, &io->dhn, 1);
    if (io->cn.data) {
        expect_sequence("empty sequence: cn = c0", &io->cn, &io->c0, 1);
        expect_sequence("empty sequence: dc0 = dcn", &io->dc0, &io->dcn, 1);
    }

    el_tensor y = {0}, hn = {0}, cn = {0}, dx = {0}, dh0 = {0};
    copy_of(&y, &io->y);
    copy_of(&hn, &io->hn);
    copy_of(&dx, &io->dx);
    copy_of(&dh0, &io->dh0);
    if (io->cn.data) copy_of(&cn, &io->cn);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int j = 0; t >= lengths[b] && j < in; j++)
                io->x.data[((size_t)t * B + b) * in + j] = NAN;
    io_forward(&c.rnn, c.cache, NULL, io);
    io_backward(&c.rnn, c.cache, io);
    expect_same("y with NaN padding", &io->y, &y, 0, 0);
    expect_same("hn with NaN padding", &io->hn, &hn, 0, 0);
    if (io->cn.data) expect_same("cn with NaN padding", &io->cn, &cn, 0, 0);
    expect_same("dx with NaN padding", &io->dx, &dx, 0, 0);
    expect_same("dh0 with NaN padding", &io->dh0, &dh0, 0, 0);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int j = 0; t >= lengths[b] && j < in; j++)
                cr_assert(dx.data[((size_t)t * B + b) * in + j] == 0,
                          "%s: dx[%d][%d][%d] is not 0 beyond length %d", el_cell_name(cell), t, b,
                          j, lengths[b]);
    el_tensor *copies[] = {&y, &hn, &cn, &dx, &dh0};
    for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++) el_tensor_free(copies[i]);
    fd_free(&c);
}

Test(rnn, padded_steps)
{
    for (size_t i = 0; i < sizeof all_cells / sizeof all_cells[0]; i++)
        check_padding(all_cells[i], 300 + i);
}

/* ---- truncated BPTT ------------------------------------------------------- */

/* Steps [first, first + count) of a (T, B, ...) tensor, as a view. */
static el_tensor steps_view(const el_tensor *t, int first, int count)
{
    el_tensor v;
    size_t step = t->size / (size_t)t->shape[0];
    EL_TEST_OK(
        el_tensor_view(&v, t, (size_t)first * step, 3, (int[]){count, t->shape[1], t->shape[2]}));
    return v;
}

static void alloc_like(el_tensor *t, const el_tensor *like)
{
    if (like->data) EL_TEST_OK(el_tensor_alloc(t, like->ndim, like->shape));
}

/* Six steps as one call, and as two calls of three where the second starts
 * from the first's final state: the same outputs.  Backward of the second
 * chunk with the final-state gradient gives the gradient of its initial
 * state, and that, as the first chunk's final-state gradient, reproduces the
 * whole sequence's gradients: the state is carried across the edge, and the
 * gradient crosses it only through what is passed by hand. */
static void check_truncated_bptt(el_cell cell, uint64_t seed)
{
    enum { T = 6, HALF = 3, B = 3 };
    el_rnn_config cfg = {.cell = cell, .input_size = 3, .hidden_size = 4, .num_layers = 2};
    fd_case whole = {0};
    fd_setup(&whole, &cfg, T, B, NULL, seed);
    rnn_io *io = &whole.io;
    io_forward(&whole.rnn, whole.cache, NULL, io);
    io_backward(&whole.rnn, whole.cache, io);
    el_tensor grads = {0};
    snapshot_grads(&whole.rnn, &grads);
    zero_grads(&whole.rnn);

    el_rnn_cache *first, *second;
    EL_TEST_OK(el_rnn_cache_create(&first));
    EL_TEST_OK(el_rnn_cache_create(&second));
    el_tensor y = {0}, dx = {0}, h_mid = {0}, c_mid = {0}, hn = {0}, cn = {0};
    el_tensor dh_mid = {0}, dc_mid = {0}, dh0 = {0}, dc0 = {0};
    alloc_like(&y, &io->y);
    alloc_like(&dx, &io->dx);
    el_tensor *states[] = {&h_mid, &hn, &dh_mid, &dh0};
    for (size_t i = 0; i < 4; i++) alloc_like(states[i], &io->hn);
    el_tensor *cell_states[] = {&c_mid, &cn, &dc_mid, &dc0};
    for (size_t i = 0; i < 4; i++) alloc_like(cell_states[i], &io->cn);
    el_tensor x1 = steps_view(&io->x, 0, HALF), x2 = steps_view(&io->x, HALF, HALF);
    el_tensor y1 = steps_view(&y, 0, HALF), y2 = steps_view(&y, HALF, HALF);
    el_tensor dy1 = steps_view(&io->dy, 0, HALF), dy2 = steps_view(&io->dy, HALF, HALF);
    el_tensor dx1 = steps_view(&dx, 0, HALF), dx2 = steps_view(&dx, HALF, HALF);

    EL_TEST_OK(el_rnn_forward(&whole.rnn, first, NULL, &x1, NULL, &io->h0, given(&io->c0), &y1,
                              &h_mid, given(&c_mid)));
    EL_TEST_OK(el_rnn_forward(&whole.rnn, second, NULL, &x2, NULL, &h_mid, given(&c_mid), &y2, &hn,
                              given(&cn)));
    /* Not bit for bit: the chunks' input projections are GEMMs over fewer
     * rows, which BLAS may split into blocks with differently fused
     * multiply-adds; every step's arithmetic is otherwise the same. */
    expect_same("chunked y", &y, &io->y, 1e-6, 1e-7);
    expect_same("chunked hn", &hn, &io->hn, 1e-6, 1e-7);
    if (cn.data) expect_same("chunked cn", &cn, &io->cn, 1e-6, 1e-7);

    EL_TEST_OK(el_rnn_backward(&whole.rnn, second, &dy2, &io->dhn, given(&io->dcn), &dx2, &dh_mid,
                               given(&dc_mid)));
    EL_TEST_OK(
        el_rnn_backward(&whole.rnn, first, &dy1, &dh_mid, given(&dc_mid), &dx1, &dh0, given(&dc0)));
    el_tensor chunk_grads = {0};
    snapshot_grads(&whole.rnn, &chunk_grads);
    expect_same("chunked dx", &dx, &io->dx, RTOL, ATOL);
    expect_same("chunked dh0", &dh0, &io->dh0, RTOL, ATOL);
    if (dc0.data) expect_same("chunked dc0", &dc0, &io->dc0, RTOL, ATOL);
    /* Each chunk's weight gradient is one GEMM over its own rows, added to
     * the other's: another summation order than one GEMM over all rows. */
    expect_same("chunked parameter gradients", &chunk_grads, &grads, RTOL, ATOL);

    el_tensor *owned[] = {&y,      &dx,     &h_mid, &c_mid, &hn,    &cn,
                          &dh_mid, &dc_mid, &dh0,   &dc0,   &grads, &chunk_grads};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) el_tensor_free(owned[i]);
    el_rnn_cache_free(first);
    el_rnn_cache_free(second);
    fd_free(&whole);
}

Test(rnn, truncated_bptt)
{
    for (size_t i = 0; i < sizeof all_cells / sizeof all_cells[0]; i++)
        check_truncated_bptt(all_cells[i], 400 + i);
}

/* ---- dropout between layers ----------------------------------------------- */

static int differs(const el_tensor *a, const el_tensor *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a->data[i] != b->data[i]) return 1;
    return 0;
}

/* Dropout 0.5 on the first layer's outputs: training differs from
 * evaluation, the same seed gives the same outputs, another seed others,
 * the first layer's final states are untouched (dropout acts between
 * layers, not on the recurrence), and the gradients through the masks are
 * right. */
Test(rnn, dropout_between_layers)
{
    el_rnn_config cfg = {.cell = EL_CELL_LSTM,
                         .input_size = 3,
                         .hidden_size = 3,
                         .num_layers = 2,
                         .bidirectional = 1,
                         .dropout = 0.5f};
    fd_case c = {0};
    fd_setup(&c, &cfg, 4, 3, (int[]){4, 1, 3}, 500);
    el_tensor y = {0}, hn = {0};
    fd_loss(&c);
    copy_of(&y, &c.io.y);
    copy_of(&hn, &c.io.hn);

    fd_loss(&c);
    expect_same("y, same seed", &c.io.y, &y, 0, 0);
    expect_same("hn, same seed", &c.io.hn, &hn, 0, 0);
    el_rng other;
    el_rng_seed(&other, 501);
    io_forward(&c.rnn, c.cache, &other, &c.io);
    cr_assert(differs(&c.io.y, &y, y.size), "another seed gave the same outputs");

    c.rnn.training = 0;
    io_forward(&c.rnn, c.cache, NULL, &c.io);
    cr_assert(differs(&c.io.y, &y, y.size), "training and evaluation gave the same outputs");
    size_t first_layer = hn.size / 2; /* slots 0 and 1 of (layers*D, B, H) */
    el_test_assert_close("first layer's hn, training vs evaluation", c.io.hn.data, hn.data,
                         first_layer, 0, 0);
    c.rnn.training = 1;

    fd_check_all(&c, "lstm, dropout 0.5");
    el_tensor_free(&y);
    el_tensor_free(&hn);
    fd_free(&c);
}

/* ---- errors ---------------------------------------------------------------- */

static void expect_failure(const char *what, el_status got, el_status want, const char *mention)
{
    cr_assert_eq(got, want, "%s: returned %s, expected %s", what, el_status_name(got),
                 el_status_name(want));
    cr_assert(strstr(el_last_error(), mention), "%s: the message \"%s\" does not mention %s", what,
              el_last_error(), mention);
}

Test(rnn, errors)
{
    enum { T = 5, B = 2 };
    el_rnn_config cfg = {.cell = EL_CELL_GRU,
                         .input_size = 3,
                         .hidden_size = 4,
                         .num_layers = 2,
                         .bidirectional = 1};
    fd_case c = {0};
    fd_setup(&c, &cfg, T, B, (int[]){5, 3}, 600);
    rnn_io *io = &c.io;
    el_rnn *rnn = &c.rnn;
    el_tensor bad = {0}, c0 = {0};

    el_clear_error();
    expect_failure("backward before forward",
                   el_rnn_backward(rnn, c.cache, &io->dy, NULL, NULL, &io->dx, NULL, NULL),
                   EL_ERR_STATE, "el_rnn_backward");

    EL_TEST_OK(el_tensor_alloc(&bad, 3, (int[]){T, B, 4}));
    el_clear_error();
    expect_failure("x with 4 features",
                   el_rnn_forward(rnn, c.cache, NULL, &bad, NULL, NULL, NULL, &io->y, NULL, NULL),
                   EL_ERR_SHAPE, "x is 5x2x4");
    el_tensor_free(&bad);
    EL_TEST_OK(el_tensor_alloc(&bad, 2, (int[]){T * B, 3}));
    el_clear_error();
    expect_failure("2-D x",
                   el_rnn_forward(rnn, c.cache, NULL, &bad, NULL, NULL, NULL, &io->y, NULL, NULL),
                   EL_ERR_SHAPE, "x is 10x3");
    el_tensor_free(&bad);

    EL_TEST_OK(el_tensor_alloc(&bad, 3, (int[]){2, B, 4})); /* needs layers*D = 4 */
    el_clear_error();
    expect_failure("h0 with 2 states",
                   el_rnn_forward(rnn, c.cache, NULL, &io->x, NULL, &bad, NULL, &io->y, NULL, NULL),
                   EL_ERR_SHAPE, "h0 is 2x2x4");
    el_tensor_free(&bad);

    int too_long[B] = {5, 6}, negative[B] = {-1, 5};
    el_clear_error();
    expect_failure(
        "length T + 1",
        el_rnn_forward(rnn, c.cache, NULL, &io->x, too_long, NULL, NULL, &io->y, NULL, NULL),
        EL_ERR_INVALID, "lengths[1] is 6");
    el_clear_error();
    expect_failure(
        "length -1",
        el_rnn_forward(rnn, c.cache, NULL, &io->x, negative, NULL, NULL, &io->y, NULL, NULL),
        EL_ERR_INVALID, "lengths[0] is -1");

    copy_of(&c0, &io->h0);
    el_clear_error();
    expect_failure(
        "c0 given to a GRU",
        el_rnn_forward(rnn, c.cache, NULL, &io->x, NULL, &io->h0, &c0, &io->y, NULL, NULL),
        EL_ERR_INVALID, "gru");

    /* None of that left the cache half-filled: a whole call still works. */
    io_forward(rnn, c.cache, NULL, io);
    el_clear_error();
    expect_failure("dcn given to a GRU",
                   el_rnn_backward(rnn, c.cache, &io->dy, NULL, &c0, &io->dx, NULL, NULL),
                   EL_ERR_INVALID, "gru");
    io_backward(rnn, c.cache, io);
    el_tensor_free(&c0);
    fd_free(&c);
}

/* ---- cache reuse ------------------------------------------------------------ */

/* One cache through a long, a short and again a long batch gives, bit for
 * bit, what a fresh cache gives for each: no stale sizes or contents carry
 * over (dropout included, so the masks' buffers are reused too). */
Test(rnn, cache_reused_across_shapes)
{
    static const struct {
        int steps, batch;
        int lengths[4];
    } shapes[] = {{6, 4, {6, 2, 0, 5}}, {3, 2, {1, 3}}, {5, 3, {2, 5, 4}}};
    el_rnn_config cfg = {.cell = EL_CELL_LSTM,
                         .input_size = 3,
                         .hidden_size = 4,
                         .num_layers = 2,
                         .bidirectional = 1,
                         .dropout = 0.3f};
    el_rng rng;
    el_rng_seed(&rng, 700);
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, "rnn", &cfg, &rng));
    el_rnn_cache *reused;
    EL_TEST_OK(el_rnn_cache_create(&reused));
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        /* a and b: the same inputs, and the same masks from the same seed. */
        rnn_io a, b;
        el_rng start = rng, masks_a, masks_b;
        io_random(&a, &cfg, shapes[s].steps, shapes[s].batch, shapes[s].lengths, &rng);
        masks_a = rng;
        io_random(&b, &cfg, shapes[s].steps, shapes[s].batch, shapes[s].lengths, &start);
        masks_b = start;

        zero_grads(&rnn);
        io_forward(&rnn, reused, &masks_a, &a);
        io_backward(&rnn, reused, &a);
        el_tensor grads_a = {0}, grads_b = {0};
        snapshot_grads(&rnn, &grads_a);

        el_rnn_cache *fresh;
        EL_TEST_OK(el_rnn_cache_create(&fresh));
        zero_grads(&rnn);
        io_forward(&rnn, fresh, &masks_b, &b);
        io_backward(&rnn, fresh, &b);
        snapshot_grads(&rnn, &grads_b);
        el_rnn_cache_free(fresh);

        expect_same("y", &a.y, &b.y, 0, 0);
        expect_same("hn", &a.hn, &b.hn, 0, 0);
        expect_same("cn", &a.cn, &b.cn, 0, 0);
        expect_same("dx", &a.dx, &b.dx, 0, 0);
        expect_same("dh0", &a.dh0, &b.dh0, 0, 0);
        expect_same("dc0", &a.dc0, &b.dc0, 0, 0);
        expect_same("parameter gradients", &grads_a, &grads_b, 0, 0);
        el_tensor_free(&grads_a);
        el_tensor_free(&grads_b);
        io_free(&a);
        io_free(&b);
    }
    el_rnn_cache_free(reused);
    el_rnn_free(&rnn);
}

/* ---- threads -------------------------------------------------------------- */

/* One call at the current thread count: the outputs, input gradients and
 * parameter gradients, in *io and *grads. */
/* One forward and backward call on cache, from zeroed parameter gradients,
 * which it leaves zeroed again with a copy in grads. */
static void run_on(el_rnn *rnn, el_rnn_cache *cache, rnn_io *io, el_tensor *grads)
{
    zero_grads(rnn);
    io_forward(rnn, cache, NULL, io);
    io_backward(rnn, cache, io);
    snapshot_grads(rnn, grads);
    zero_grads(rnn);
}

static void run_once(el_rnn *rnn, rnn_io *io, el_tensor *grads)
{
    el_rnn_cache *cache;
    EL_TEST_OK(el_rnn_cache_create(&cache));
    run_on(rnn, cache, io, grads);
    el_rnn_cache_free(cache);
}

/* Two threads split the work in parts, each taking the next part as it
 * comes free (blocks of sequences holding a quarter of the steps through
 * the time loop, quarters of the large products, of the weights' panels
 * to pack), so which thread runs a part changes from run to run and must
 * not change the result.  The shapes here are large enough to be split
 * (the weights, with the hook), the batch is odd and the lengths ragged
 * (some empty), so the parts differ in size; the quarters of the panels
 * cross from one weight matrix into the next. */
static void check_threads(el_cell cell, uint64_t seed)
{
    enum { T = 20, B = 31 };
    int lengths[B];
    for (int b = 0; b < B; b++) lengths[b] = (b * 7) % (T + 1);
    el_rnn_config cfg = {
        .cell = cell, .input_size = 64, .hidden_size = 96, .num_layers = 2, .bidirectional = 1};
    el_rng rng;
    el_rng_seed(&rng, seed);
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, "rnn", &cfg, &rng));
    rnn_io one, two, again, alone;
    el_rng inputs = rng;
    io_random(&one, &cfg, T, B, lengths, &rng);
    rng = inputs;
    io_random(&two, &cfg, T, B, lengths, &rng);
    rng = inputs;
    io_random(&again, &cfg, T, B, lengths, &rng);
    rng = inputs;
    io_random(&alone, &cfg, T, B, lengths, &rng);
    el_tensor grads_one = {0}, grads_two = {0}, grads_again = {0}, grads_alone = {0};

    EL_TEST_OK(el_set_threads(1));
    run_once(&rnn, &one, &grads_one);
    EL_TEST_OK(el_set_threads(2));
    cr_assert_eq(el_get_threads(), 2);
    size_t pack_limit = el__rnn_set_pack_alone_limit(0);
    run_once(&rnn, &two, &grads_two);
    run_once(&rnn, &again, &grads_again);
    el_set_thread_sharing(0);
    run_once(&rnn, &alone, &grads_alone);
    el_set_thread_sharing(1);
    el__rnn_set_pack_alone_limit(pack_limit);
    EL_TEST_OK(el_set_threads(1));

    /* Against one thread: the same within rounding.  OpenBLAS rounds a
     * product over a quarter of the rows differently (other edge kernels), the
     * backward recurrence carries that through the steps, and a weight
     * gradient then sums ~300 such rows with cancellation: hence the looser
     * bound on parameter gradients.  A race would break the exact check of
     * two runs below. */
    expect_same("y", &two.y, &one.y, 1e-5, 1e-6);
    expect_same("hn", &two.hn, &one.hn, 1e-5, 1e-6);
    expect_same("dx", &two.dx, &one.dx, 1e-5, 1e-6);
    expect_same("dh0", &two.dh0, &one.dh0, 1e-5, 1e-6);
    expect_same("parameter gradients", &grads_two, &grads_one, 1e-4, 2e-5);
    if (cell == EL_CELL_LSTM) {
        expect_same("cn", &two.cn, &one.cn, 1e-5, 1e-6);
        expect_same("dc0", &two.dc0, &one.dc0, 1e-5, 1e-6);
    }
    /* The same thread count twice: exactly the same. */
    expect_same("y, twice", &again.y, &two.y, 0, 0);
    expect_same("dx, twice", &again.dx, &two.dx, 0, 0);
    expect_same("parameter gradients, twice", &grads_again, &grads_two, 0, 0);
    /* The same split run by the caller alone (el_set_thread_sharing): the
     * same again. */
    expect_same("y, alone", &alone.y, &two.y, 0, 0);
    expect_same("hn, alone", &alone.hn, &two.hn, 0, 0);
    expect_same("dx, alone", &alone.dx, &two.dx, 0, 0);
    expect_same("dh0, alone", &alone.dh0, &two.dh0, 0, 0);
    expect_same("parameter gradients, alone", &grads_alone, &grads_two, 0, 0);

    el_tensor_free(&grads_one);
    el_tensor_free(&grads_two);
    el_tensor_free(&grads_again);
    el_tensor_free(&grads_alone);
    io_free(&one);
    io_free(&two);
    io_free(&again);
    io_free(&alone);
    el_rnn_free(&rnn);
}

Test(rnn_threads, rnn_tanh) { check_threads(EL_CELL_RNN_TANH, 900); }
Test(rnn_threads, gru) { check_threads(EL_CELL_GRU, 901); }
Test(rnn_threads, lstm) { check_threads(EL_CELL_LSTM, 902); }

/* ---- the two ways to the weight gradients --------------------------------- */

/* A small layer takes its weight gradients from the gate gradients packed
 * in panels, through the packed kernel; a large one from them row-major,
 * through OpenBLAS (src/nn/rnn_grad.c; the limit in rnn_tuning.c).  The
 * two agree within rounding, and the input gradient, read from either
 * layout, too: with every layer on one path, and with the first layer on
 * panels and the second (its input twice as wide) not; stacked and
 * bidirectional, ragged lengths with empty sequences, G not a multiple of
 * the panel width, one thread and two. */
static void check_gradient_paths(el_cell cell, uint64_t seed)
{
    enum { T = 9, B = 7 };
    const int lengths[B] = {9, 0, 3, 9, 1, 6, 2}; /* N = 30 rows */
    el_rnn_config cfg = {
        .cell = cell, .input_size = 70, .hidden_size = 67, .num_layers = 2, .bidirectional = 1};
    /* Layer 0's input and states take (70 + 67) * 30 floats, layer 1's
     * (134 + 67) * 30: limits for all rows, the first on panels, all. */
    const size_t limits[] = {0, 200 * 30 * sizeof(float), SIZE_MAX};
    el_rng rng;
    el_rng_seed(&rng, seed);
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, "rnn", &cfg, &rng));
    for (int threads = 1; threads <= 2; threads++) {
        rnn_io io[3];
        el_tensor grads[3] = {{0}};
        EL_TEST_OK(el_set_threads(threads));
        for (int i = 0; i < 3; i++) {
            el_rng inputs = rng;
            io_random(&io[i], &cfg, T, B, lengths, &inputs);
            size_t limit = el__rnn_set_panel_limit(limits[i]);
            run_once(&rnn, &io[i], &grads[i]);
            el__rnn_set_panel_limit(limit);
        }
        EL_TEST_OK(el_set_threads(1));
        for (int i = 1; i < 3; i++) {
            cr_log_info("limit %zu against rows, %d threads", limits[i], threads);
            expect_same("y", &io[i].y, &io[0].y, 0, 0);
            expect_same("dx", &io[i].dx, &io[0].dx, 1e-5, 1e-6);
            expect_same("dh0", &io[i].dh0, &io[0].dh0, 1e-5, 1e-6);
            expect_same("parameter gradients", &grads[i], &grads[0], 1e-5, 1e-6);
        }
        for (int i = 0; i < 3; i++) {
            el_tensor_free(&grads[i]);
            io_free(&io[i]);
        }
    }
    el_rnn_free(&rnn);
}

Test(rnn, weight_gradient_paths_agree)
{
    for (size_t i = 0; i < sizeof all_cells / sizeof all_cells[0]; i++)
        check_gradient_paths(all_cells[i], 950 + i);
}

/* From the panels, the weight gradients read a layer's input and states in
 * place where the layer has few gate columns, and transposed first where
 * it has more (src/nn/rnn_tuning.c, el__rnn_reads_in_place).  Both sum the
 * same products in the same order, so they agree bit for bit: stacked and
 * bidirectional, ragged lengths with empty sequences, one thread and two. */
static void check_in_place_reads(el_cell cell, uint64_t seed)
{
    enum { T = 9, B = 7 };
    const int lengths[B] = {9, 0, 3, 9, 1, 6, 2};
    el_rnn_config cfg = {
        .cell = cell, .input_size = 70, .hidden_size = 67, .num_layers = 2, .bidirectional = 1};
    const int limits[2] = {0, INT_MAX}; /* transposed, in place */
    el_rng rng;
    el_rng_seed(&rng, seed);
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, "rnn", &cfg, &rng));
    for (int threads = 1; threads <= 2; threads++) {
        rnn_io io[2];
        el_tensor grads[2] = {{0}};
        EL_TEST_OK(el_set_threads(threads));
        for (int i = 0; i < 2; i++) {
            el_rng inputs = rng;
            io_random(&io[i], &cfg, T, B, lengths, &inputs);
            int limit = el__rnn_set_in_place_limit(limits[i]);
            run_once(&rnn, &io[i], &grads[i]);
            el__rnn_set_in_place_limit(limit);
        }
        EL_TEST_OK(el_set_threads(1));
        cr_log_info("%s, %d threads", el_cell_name(cell), threads);
        expect_same("y", &io[1].y, &io[0].y, 0, 0);
        expect_same("dx", &io[1].dx, &io[0].dx, 0, 0);
        expect_same("dh0", &io[1].dh0, &io[0].dh0, 0, 0);
        expect_same("parameter gradients", &grads[1], &grads[0], 0, 0);
        for (int i = 0; i < 2; i++) {
            el_tensor_free(&grads[i]);
            io_free(&io[i]);
        }
    }
    el_rnn_free(&rnn);
}

Test(rnn, weight_gradients_read_in_place_or_transposed_agree)
{
    for (size_t i = 0; i < sizeof all_cells / sizeof all_cells[0]; i++)
        check_in_place_reads(all_cells[i], 970 + i);
}

/* ---- initial states left out ---------------------------------------------- */

/* Without h0, the time loops multiply only the rows of sequences that do
 * not start at a step (the others start from zeros), and without dh0 the
 * backward steps leave out the rows whose gradient would go to it.  So
 * leaving out h0 and c0 must give exactly what zeros give, and leaving out
 * dh0 and dc0 must change no other result: for every cell, stacked and
 * bidirectional (the reverse direction's sequences start at different
 * steps), ragged lengths with an empty sequence, one thread and two, on a
 * cache that has just run with the states given (so that nothing stale
 * stands in for a skipped product). */
static void check_states_left_out(el_cell cell, uint64_t seed)
{
    enum { T = 6, B = 5 };
    const int lengths[B] = {6, 2, 0, 5, 1};
    el_rnn_config cfg = {
        .cell = cell, .input_size = 4, .hidden_size = 9, .num_layers = 2, .bidirectional = 1};
    el_rng rng;
    el_rng_seed(&rng, seed);
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, NULL, &cfg, &rng));
    el_rnn_cache *cache;
    EL_TEST_OK(el_rnn_cache_create(&cache));
    int lstm = cell == EL_CELL_LSTM;
    for (int threads = 1; threads <= 2; threads++) {
        EL_TEST_OK(el_set_threads(threads));
        rnn_io zeros, none;
        el_rng inputs = rng;
        io_random(&zeros, &cfg, T, B, lengths, &inputs);
        inputs = rng;
        io_random(&none, &cfg, T, B, lengths, &inputs);
        el_tensor_fill(&zeros.h0, 0.0f);
        if (lstm) el_tensor_fill(&zeros.c0, 0.0f);
        el_tensor want_grads, got_grads;
        run_on(&rnn, cache, &zeros, &want_grads);
        EL_TEST_OK(el_rnn_forward(&rnn, cache, NULL, &none.x, lengths, NULL, NULL, &none.y,
                                  &none.hn, given(&none.cn)));
        EL_TEST_OK(el_rnn_backward(&rnn, cache, &none.dy, &none.dhn, given(&none.dcn), &none.dx,
                                   NULL, NULL));
        snapshot_grads(&rnn, &got_grads);
        EL_TEST_OK(el_set_threads(1));
        cr_log_info("%s, %d threads", el_cell_name(cell), threads);
        expect_same("y", &none.y, &zeros.y, 0, 0);
        expect_same("hn", &none.hn, &zeros.hn, 0, 0);
        if (lstm) expect_same("cn", &none.cn, &zeros.cn, 0, 0);
        expect_same("dx", &none.dx, &zeros.dx, 0, 0);
        expect_same("parameter gradients", &got_grads, &want_grads, 0, 0);
        el_tensor_free(&want_grads);
        el_tensor_free(&got_grads);
        io_free(&zeros);
        io_free(&none);
    }
    el_rnn_cache_free(cache);
    el_rnn_free(&rnn);
}

Test(rnn, initial_states_left_out)
{
    for (size_t i = 0; i < sizeof all_cells / sizeof all_cells[0]; i++)
        check_states_left_out(all_cells[i], 970 + i);
}

/* ---- one-hot inputs ------------------------------------------------------ */

/* el_rnn_forward_ids equals el_rnn_forward on el_one_hot of the ids: the
 * outputs, final states, and every gradient but the input's, with ragged
 * lengths, stacked and bidirectional layers. */
static void check_one_hot_ids(el_cell cell, uint64_t seed)
{
    enum { T = 5, B = 4, IN = 7 };
    el_rng rng;
    el_rng_seed(&rng, seed);
    el_rnn_config cfg = {cell, IN, 70, 2, 1, 0.0f}; /* G over one panel of 64 */
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, NULL, &cfg, &rng));
    const int lengths[B] = {5, 2, 4, 0};
    int ids[T * B];
    for (int i = 0; i < T * B; i++) ids[i] = (int)el_rng_below(&rng, IN);
    rnn_io dense, hot;
    io_random(&dense, &cfg, T, B, lengths, &rng);
    EL_TEST_OK(el_one_hot(ids, T * B, IN, &dense.x));
    io_random(&hot, &cfg, T, B, lengths, &rng);
    EL_TEST_OK(el_tensor_copy(&hot.h0, &dense.h0));
    EL_TEST_OK(el_tensor_copy(&hot.dy, &dense.dy));
    EL_TEST_OK(el_tensor_copy(&hot.dhn, &dense.dhn));
    if (cell == EL_CELL_LSTM) {
        EL_TEST_OK(el_tensor_copy(&hot.c0, &dense.c0));
        EL_TEST_OK(el_tensor_copy(&hot.dcn, &dense.dcn));
    }
    el_rnn_cache *cache;
    EL_TEST_OK(el_rnn_cache_create(&cache));
    el_tensor want_grads, got_grads;
    run_on(&rnn, cache, &dense, &want_grads);
    EL_TEST_OK(el_rnn_forward_ids(&rnn, cache, NULL, ids, T, B, lengths, &hot.h0, given(&hot.c0),
                                  &hot.y, &hot.hn, given(&hot.cn)));
    EL_TEST_FAILS(el_rnn_backward(&rnn, cache, &hot.dy, &hot.dhn, given(&hot.dcn), &hot.dx,
                                  &hot.dh0, given(&hot.dc0)),
                  EL_ERR_INVALID);
    EL_TEST_OK(el_rnn_backward(&rnn, cache, &hot.dy, &hot.dhn, given(&hot.dcn), NULL, &hot.dh0,
                               given(&hot.dc0)));
    snapshot_grads(&rnn, &got_grads);
    expect_same("y", &hot.y, &dense.y, 1e-6, 1e-7);
    expect_same("hn", &hot.hn, &dense.hn, 1e-6, 1e-7);
    expect_same("dh0", &hot.dh0, &dense.dh0, 1e-5, 1e-6);
    expect_same("parameter gradients", &got_grads, &want_grads, 1e-5, 1e-6);
    if (cell == EL_CELL_LSTM) expect_same("dc0", &hot.dc0, &dense.dc0, 1e-5, 1e-6);
    ids[3] = IN;
    EL_TEST_FAILS(
        el_rnn_forward_ids(&rnn, cache, NULL, ids, T, B, lengths, NULL, NULL, &hot.y, NULL, NULL),
        EL_ERR_INVALID);
    el_tensor_free(&want_grads);
    el_tensor_free(&got_grads);
    el_rnn_cache_free(cache);
    io_free(&dense);
    io_free(&hot);
    el_rnn_free(&rnn);
}

/* Also with the weight gradients through OpenBLAS, which takes those of
 * one-hot inputs from dG row-major instead of from its panels, and from
 * the panels with the states read in place and transposed. */
Test(rnn, one_hot_ids_match_one_hot_tensors)
{
    for (int way = 0; way < 3; way++) {
        size_t limit = way ? el__rnn_set_panel_limit(SIZE_MAX) : el__rnn_set_panel_limit(0);
        int in_place = el__rnn_set_in_place_limit(way == 2 ? 0 : INT_MAX);
        for (size_t i = 0; i < sizeof all_cells / sizeof all_cells[0]; i++)
            check_one_hot_ids(all_cells[i], 300 + i);
        el__rnn_set_panel_limit(limit);
        el__rnn_set_in_place_limit(in_place);
    }
}

/* ---- outputs sharing memory with inputs ------------------------------------ */

/* Where every sequence runs all T steps, the layer writes y and dx and
 * reads dy in place instead of through copies.  A caller may still pass
 * one buffer for dy and dx (input size = 2H here, so the shapes agree),
 * as an in-place backward, or h0 and hn as one state carried in place:
 * the results must be those of separate tensors.  With one layer, the
 * backward direction still reads dy after the forward one wrote dx. */
static void check_shared_buffers(el_cell cell, int layers, uint64_t seed)
{
    enum { T = 6, B = 5, H = 8 };
    el_rnn_config cfg = {.cell = cell,
                         .input_size = 2 * H,
                         .hidden_size = H,
                         .num_layers = layers,
                         .bidirectional = 1};
    el_rng rng;
    el_rng_seed(&rng, seed);
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, "rnn", &cfg, &rng));
    rnn_io apart, shared;
    el_rng inputs = rng;
    io_random(&apart, &cfg, T, B, NULL, &rng);
    rng = inputs;
    io_random(&shared, &cfg, T, B, NULL, &rng);
    el_rnn_cache *cache;
    EL_TEST_OK(el_rnn_cache_create(&cache));
    el_tensor grads_apart = {0}, grads_shared = {0};

    zero_grads(&rnn);
    io_forward(&rnn, cache, NULL, &apart);
    io_backward(&rnn, cache, &apart);
    snapshot_grads(&rnn, &grads_apart);

    /* h0 is also hn (and c0 cn), dy is also dx. */
    zero_grads(&rnn);
    el_tensor *c0 = given(&shared.c0);
    EL_TEST_OK(el_rnn_forward(&rnn, cache, NULL, &shared.x, NULL, &shared.h0, c0, &shared.y,
                              &shared.h0, c0));
    EL_TEST_OK(el_rnn_backward(&rnn, cache, &shared.dy, &shared.dhn, given(&shared.dcn), &shared.dy,
                               &shared.dh0, given(&shared.dc0)));
    snapshot_grads(&rnn, &grads_shared);

    expect_same("y", &shared.y, &apart.y, 0, 0);
    expect_same("hn written over h0", &shared.h0, &apart.hn, 0, 0);
    if (c0) expect_same("cn written over c0", &shared.c0, &apart.cn, 0, 0);
    expect_same("dx written over dy", &shared.dy, &apart.dx, 0, 0);
    expect_same("dh0", &shared.dh0, &apart.dh0, 0, 0);
    expect_same("parameter gradients", &grads_shared, &grads_apart, 0, 0);
    el_tensor_free(&grads_apart);
    el_tensor_free(&grads_shared);
    el_rnn_cache_free(cache);
    io_free(&apart);
    io_free(&shared);
    el_rnn_free(&rnn);
}

Test(rnn, outputs_may_share_memory_with_inputs)
{
    for (size_t i = 0; i < sizeof all_cells / sizeof all_cells[0]; i++)
        for (int layers = 1; layers <= 2; layers++)
            check_shared_buffers(all_cells[i], layers, 1000 + 10 * i + layers);
}

/* ---- optional outputs, outputs that size themselves, one backward ----------- */

/* The outputs and input gradients of one forward and backward call with
 * y given or not and dy given or not, on fresh, empty tensors: a caller
 * that wants only hn passes no y, and backward still works (it reads the
 * cache, never y). */
typedef struct optional_run {
    el_tensor y, hn, cn, dx, dh0, dc0, grads;
} optional_run;

static void run_optional(el_rnn *rnn, el_rnn_cache *cache, rnn_io *io, int with_y, int with_dy,
                         optional_run *out)
{
    int lstm = rnn->config.cell == EL_CELL_LSTM;
    memset(out, 0, sizeof *out);
    zero_grads(rnn);
    EL_TEST_OK(el_rnn_forward(rnn, cache, NULL, &io->x, io->lengths, &io->h0, given(&io->c0),
                              with_y ? &out->y : NULL, &out->hn, lstm ? &out->cn : NULL));
    EL_TEST_OK(el_rnn_backward(rnn, cache, with_dy ? &io->dy : NULL, &io->dhn, given(&io->dcn),
                               &out->dx, &out->dh0, lstm ? &out->dc0 : NULL));
    snapshot_grads(rnn, &out->grads);
    if (with_y) expect_same("y sized by forward", &out->y, &io->y, 0, 0);
}

static void optional_free(optional_run *r)
{
    el_tensor *all[] = {&r->y, &r->hn, &r->cn, &r->dx, &r->dh0, &r->dc0, &r->grads};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) el_tensor_free(all[i]);
}

static void expect_same_runs(const char *what, const optional_run *got, const optional_run *want)
{
    char label[96];
    const el_tensor *g[] = {&got->hn, &got->cn, &got->dx, &got->dh0, &got->dc0, &got->grads};
    const el_tensor *w[] = {&want->hn, &want->cn, &want->dx, &want->dh0, &want->dc0, &want->grads};
    const char *names[] = {"hn", "cn", "dx", "dh0", "dc0", "parameter gradients"};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        snprintf(label, sizeof label, "%s: %s", what, names[i]);
        if (w[i]->data) expect_same(label, g[i], w[i], 0, 0);
    }
}

static void check_optional_outputs(el_cell cell, int ragged, uint64_t seed)
{
    enum { T = 5, B = 3 };
    el_rnn_config cfg = {
        .cell = cell, .input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = 1};
    fd_case c = {0};
    fd_setup(&c, &cfg, T, B, ragged ? (int[]){5, 2, 0} : NULL, seed);
    rnn_io *io = &c.io;
    io_forward(&c.rnn, c.cache, NULL, io); /* io->y: the reference outputs */
    optional_run all, no_y, no_dy, neither;
    run_optional(&c.rnn, c.cache, io, 1, 1, &all);
    run_optional(&c.rnn, c.cache, io, 0, 1, &no_y);
    run_optional(&c.rnn, c.cache, io, 1, 0, &no_dy);
    run_optional(&c.rnn, c.cache, io, 0, 0, &neither);
    expect_same_runs("no y, dy given", &no_y, &all);
    expect_same_runs("no y, no dy", &neither, &no_dy);
    char shape[64];
    cr_assert_str_eq(el_tensor_shape_string(&all.hn, shape, sizeof shape), "4x3x4",
                     "hn was sized to %s", shape);
    cr_assert_str_eq(el_tensor_shape_string(&all.dx, shape, sizeof shape), "5x3x3",
                     "dx was sized to %s", shape);
    optional_free(&all);
    optional_free(&no_y);
    optional_free(&no_dy);
    optional_free(&neither);
    fd_free(&c);
}

Test(rnn, outputs_are_optional)
{
    for (size_t i = 0; i < sizeof all_cells / sizeof all_cells[0]; i++)
        for (int ragged = 0; ragged <= 1; ragged++)
            check_optional_outputs(all_cells[i], ragged, 1100 + 2 * i + ragged);
}

/* Only hn from ids, as a classifier over characters reads it: the same as
 * with y, and backward from dhn alone. */
Test(rnn, ids_without_y)
{
    enum { T = 4, B = 3, IN = 6 };
    el_rng rng;
    el_rng_seed(&rng, 1120);
    el_rnn_config cfg = {EL_CELL_GRU, IN, 5, 1, 0, 0.0f};
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, NULL, &cfg, &rng));
    const int ids[T * B] = {4, 1, 2, 5, 0, 3, 1, 1, 2, 0, 5, 4}, lengths[B] = {4, 1, 3};
    el_rnn_cache *cache;
    EL_TEST_OK(el_rnn_cache_create(&cache));
    el_tensor y = {0}, hn = {0}, hn_alone = {0}, dhn = {0}, with_y = {0}, alone = {0};
    el_test_random_tensor(&dhn, &rng, 3, (int[]){1, B, 5}, -1, 1);
    EL_TEST_OK(
        el_rnn_forward_ids(&rnn, cache, NULL, ids, T, B, lengths, NULL, NULL, &y, &hn, NULL));
    EL_TEST_OK(el_rnn_backward(&rnn, cache, NULL, &dhn, NULL, NULL, NULL, NULL));
    snapshot_grads(&rnn, &with_y);
    zero_grads(&rnn);
    EL_TEST_OK(el_rnn_forward_ids(&rnn, cache, NULL, ids, T, B, lengths, NULL, NULL, NULL,
                                  &hn_alone, NULL));
    EL_TEST_OK(el_rnn_backward(&rnn, cache, NULL, &dhn, NULL, NULL, NULL, NULL));
    snapshot_grads(&rnn, &alone);
    expect_same("hn without y", &hn_alone, &hn, 0, 0);
    expect_same("parameter gradients without y", &alone, &with_y, 0, 0);
    el_tensor *all[] = {&y, &hn, &hn_alone, &dhn, &with_y, &alone};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) el_tensor_free(all[i]);
    el_rnn_cache_free(cache);
    el_rnn_free(&rnn);
}

/* Outputs follow the API convention: an owning tensor of another shape is
 * resized, one of the right shape is reused in place (no new memory), a
 * view of the right shape is written, a view of another shape is refused
 * (it cannot grow), and a refused call leaves the outputs alone. */
Test(rnn, outputs_size_themselves)
{
    enum { T = 3, B = 2, H = 4 };
    el_rnn_config cfg = {EL_CELL_LSTM, 2, H, 1, 0, 0.0f};
    fd_case c = {0};
    fd_setup(&c, &cfg, T, B, NULL, 1130);
    rnn_io *io = &c.io;
    io_forward(&c.rnn, c.cache, NULL, io);
    el_tensor y = {0}, hn = {0}, cn = {0}, dx = {0};
    EL_TEST_OK(el_tensor_alloc(&y, 1, (int[]){1}));
    EL_TEST_OK(el_tensor_alloc(&hn, 3, (int[]){2, 7, 1}));
    EL_TEST_OK(el_rnn_forward(&c.rnn, c.cache, NULL, &io->x, NULL, &io->h0, &io->c0, &y, &hn, &cn));
    expect_same("y resized", &y, &io->y, 0, 0);
    expect_same("hn resized", &hn, &io->hn, 0, 0);
    expect_same("cn from empty", &cn, &io->cn, 0, 0);
    const float *kept = y.data;
    EL_TEST_OK(el_rnn_forward(&c.rnn, c.cache, NULL, &io->x, NULL, &io->h0, &io->c0, &y, &hn, &cn));
    cr_assert_eq(y.data, kept, "a y of the right shape was reallocated");
    EL_TEST_OK(el_rnn_backward(&c.rnn, c.cache, &io->dy, NULL, NULL, &dx, NULL, NULL));
    cr_assert(dx.ndim == 3 && dx.shape[0] == T && dx.shape[1] == B && dx.shape[2] == 2,
              "dx was not sized to 3x2x2");

    float memory[T * B * H + 1];
    el_tensor view, wrong;
    EL_TEST_OK(el_tensor_wrap(&view, memory, 3, (int[]){T, B, H}));
    EL_TEST_OK(
        el_rnn_forward(&c.rnn, c.cache, NULL, &io->x, NULL, &io->h0, &io->c0, &view, NULL, NULL));
    expect_same("y into a view", &view, &io->y, 0, 0);
    EL_TEST_OK(el_tensor_wrap(&wrong, memory, 3, (int[]){T, B, H - 1}));
    el_clear_error();
    expect_failure(
        "a view of another shape",
        el_rnn_forward(&c.rnn, c.cache, NULL, &io->x, NULL, &io->h0, &io->c0, &wrong, NULL, NULL),
        EL_ERR_SHAPE, "y is 3x2x3, expected 3x2x4");
    /* h0 of the wrong shape: refused before hn is touched. */
    el_tensor bad_h0 = {0};
    EL_TEST_OK(el_tensor_alloc(&bad_h0, 3, (int[]){1, B, H + 1}));
    el_tensor untouched = {0};
    expect_failure(
        "h0 of another shape",
        el_rnn_forward(&c.rnn, c.cache, NULL, &io->x, NULL, &bad_h0, &io->c0, &y, &untouched, NULL),
        EL_ERR_SHAPE, "h0 is 1x2x5");
    cr_assert_null(untouched.data, "a refused call allocated hn");
    el_tensor *all[] = {&y, &hn, &cn, &dx, &bad_h0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) el_tensor_free(all[i]);
    fd_free(&c);
}

/* A second backward over one forward would add the same gradients again:
 * it is refused, says a new forward is needed, and leaves the gradients as
 * they were; after a new forward, backward works again. */
Test(rnn, second_backward_is_refused)
{
    el_rnn_config cfg = {EL_CELL_GRU, 3, 4, 2, 1, 0.0f};
    fd_case c = {0};
    fd_setup(&c, &cfg, 4, 2, (int[]){4, 2}, 1140);
    rnn_io *io = &c.io;
    zero_grads(&c.rnn);
    io_forward(&c.rnn, c.cache, NULL, io);
    io_backward(&c.rnn, c.cache, io);
    el_tensor once = {0}, after = {0};
    snapshot_grads(&c.rnn, &once);
    el_clear_error();
    expect_failure("second backward",
                   el_rnn_backward(&c.rnn, c.cache, &io->dy, &io->dhn, NULL, &io->dx, NULL, NULL),
                   EL_ERR_STATE, "a new forward call is needed");
    snapshot_grads(&c.rnn, &after);
    expect_same("gradients after a refused backward", &after, &once, 0, 0);
    el_tensor_free(&after);
    io_forward(&c.rnn, c.cache, NULL, io);
    io_backward(&c.rnn, c.cache, io);
    snapshot_grads(&c.rnn, &after);
    for (size_t i = 0; i < once.size; i++) once.data[i] *= 2;
    expect_same("gradients of two forward and backward calls", &after, &once, 1e-6, 0);
    el_tensor_free(&once);
    el_tensor_free(&after);
    fd_free(&c);
}

/* el_rnn_set_training switches what dropout reads: in evaluation no rng is
 * needed and the outputs are deterministic, in training the rng is
 * required. */
Test(rnn, set_training)
{
    el_rnn_config cfg = {EL_CELL_LSTM, 3, 3, 2, 0, 0.5f};
    fd_case c = {0};
    fd_setup(&c, &cfg, 4, 2, NULL, 1150);
    rnn_io *io = &c.io;
    cr_assert_eq(c.rnn.training, 1, "a new layer is in training mode");
    el_rnn_set_training(&c.rnn, 0);
    cr_assert_eq(c.rnn.training, 0);
    EL_TEST_OK(el_rnn_forward(&c.rnn, c.cache, NULL, &io->x, NULL, NULL, NULL, &io->y, NULL, NULL));
    el_rnn_set_training(&c.rnn, 7);
    cr_assert_eq(c.rnn.training, 1);
    el_clear_error();
    expect_failure(
        "training with dropout and no rng",
        el_rnn_forward(&c.rnn, c.cache, NULL, &io->x, NULL, NULL, NULL, &io->y, NULL, NULL),
        EL_ERR_INVALID, "el_rnn_forward");
    el_rnn_set_training(NULL, 0);
    fd_free(&c);
}

/* The stepper's outputs size themselves too: an empty y and empty states
 * are sized by the first call and reused after; a view of another shape
 * is refused. */
Test(rnn, stepper_outputs_size_themselves)
{
    enum { B = 2, H = 3, IN = 4 };
    el_rnn_config cfg = {EL_CELL_LSTM, IN, H, 2, 0, 0.0f};
    el_rng rng;
    el_rng_seed(&rng, 1160);
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, NULL, &cfg, &rng));
    el_rnn_stepper *s;
    EL_TEST_OK(el_rnn_stepper_create(&s, &rnn, B));
    el_tensor y = {0}, hn = {0}, cn = {0};
    EL_TEST_OK(el_rnn_step_ids(s, (int[]){1, 3}, &y));
    cr_assert(y.ndim == 2 && y.shape[0] == B && y.shape[1] == H, "y was not sized to 2x3");
    const float *kept = y.data;
    EL_TEST_OK(el_rnn_step_ids(s, (int[]){0, 2}, &y));
    cr_assert_eq(y.data, kept, "a y of the right shape was reallocated");
    EL_TEST_OK(el_rnn_stepper_state(s, &hn, &cn));
    cr_assert(hn.ndim == 3 && hn.shape[0] == 2 && hn.shape[1] == B && hn.shape[2] == H);
    cr_assert(el_tensor_same_shape(&cn, &hn));
    /* The last layer's state is the step's output. */
    el_test_assert_close("hn of the last layer", hn.data + B * H, y.data, B * H, 0, 0);
    float memory[B * H];
    el_tensor view;
    EL_TEST_OK(el_tensor_wrap(&view, memory, 2, (int[]){B, H - 1}));
    el_clear_error();
    expect_failure("a view of another shape", el_rnn_step_ids(s, (int[]){0, 2}, &view),
                   EL_ERR_SHAPE, "y is 2x2, expected 2x3");
    el_rnn_stepper_free(s);
    el_tensor *all[] = {&y, &hn, &cn};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) el_tensor_free(all[i]);
    el_rnn_free(&rnn);
}
