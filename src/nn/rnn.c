/* The recurrent layers' public API (rnn.h): configuration, parameters,
 * and the forward and backward drivers, which run each layer and direction
 * as passes over the packed layout (rnn_batch.c): the input projection, the
 * time loop, and after backward's time loop the gradients (rnn_grad.c).
 * How each pass is split over the threads is decided in rnn_tuning.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "elman/dropout.h"
#include "elman/ops.h"
#include "elman/rnn.h"
#include "core/ensure.h"
#include "core/internal.h"
#include "core/packed_gemm.h"
#include "core/parallel.h"
#include "nn/rnn_cell.h"
#include "nn/rnn_internal.h"

int el_rnn_directions(const el_rnn_config *config) { return config->bidirectional ? 2 : 1; }

el_status el_cell_parse(const char *text, el_cell *cell)
{
    EL_REQUIRE(cell, "el_cell_parse");
    static const struct {
        const char *name;
        el_cell cell;
    } names[] = {{"rnn", EL_CELL_RNN_TANH},
                 {"rnn_tanh", EL_CELL_RNN_TANH},
                 {"rnn_relu", EL_CELL_RNN_RELU},
                 {"gru", EL_CELL_GRU},
                 {"lstm", EL_CELL_LSTM}};
    for (size_t i = 0; text && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(text, names[i].name) == 0) {
            *cell = names[i].cell;
            return EL_OK;
        }
    return el__fail(EL_ERR_INVALID, "unknown cell \"%s\" (rnn, rnn_relu, gru or lstm)",
                    text ? text : "(null)");
}

const char *el_cell_name(el_cell cell)
{
    switch (cell) {
    case EL_CELL_RNN_TANH: return "rnn_tanh";
    case EL_CELL_RNN_RELU: return "rnn_relu";
    case EL_CELL_GRU: return "gru";
    case EL_CELL_LSTM: return "lstm";
    }
    return "unknown";
}

int el_cell_gates(el_cell cell) { return cell == EL_CELL_GRU ? 3 : cell == EL_CELL_LSTM ? 4 : 1; }

static el_status check_config(const el_rnn_config *c)
{
    const char *fn = "el_rnn_init";
    if ((unsigned)c->cell > EL_CELL_LSTM)
        return el__fail(EL_ERR_INVALID, "%s: unknown cell %d", fn, (int)c->cell);
    if (c->input_size < 1 || c->hidden_size < 1 || c->num_layers < 1)
        return el__fail(EL_ERR_INVALID, "%s: input %d, hidden %d, layers %d (all must be positive)",
                        fn, c->input_size, c->hidden_size, c->num_layers);
    if (c->bidirectional != 0 && c->bidirectional != 1)
        return el__fail(EL_ERR_INVALID, "%s: bidirectional is %d (0 or 1)", fn, c->bidirectional);
    if (!(c->dropout >= 0 && c->dropout < 1))
        return el__fail(EL_ERR_INVALID, "%s: dropout %g outside [0, 1)", fn, c->dropout);
    return EL_OK;
}

static el_status init_weights(el_rnn_weights *w, const char *name, int layer, int reverse, int in,
                              int hidden, int gates, el_rng *rng)
{
    char suffix[48];
    const char *rev = reverse ? "_reverse" : "";
    el_param *p[4] = {&w->weight_ih, &w->weight_hh, &w->bias_ih, &w->bias_hh};
    const char *kind[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    int shapes[4][2] = {
        {gates * hidden, in}, {gates * hidden, hidden}, {gates * hidden, 0}, {gates * hidden, 0}};
    float bound = 1.0f / sqrtf((float)hidden);
    for (int i = 0; i < 4; i++) {
        snprintf(suffix, sizeof suffix, "%s_l%d%s", kind[i], layer, rev);
        el_status s = el_param_init(p[i], name, suffix, i < 2 ? 2 : 1, shapes[i]);
        if (!s && rng) s = el_init_uniform(&p[i]->value, rng, -bound, bound);
        if (s) return s;
    }
    return EL_OK;
}

el_status el_rnn_init(el_rnn *rnn, const char *name, const el_rnn_config *config, el_rng *rng)
{
    EL_REQUIRE(rnn, "el_rnn_init");
    EL_REQUIRE(config, "el_rnn_init");
    memset(rnn, 0, sizeof *rnn);
    el_status s = check_config(config);
    if (s) return s;
    int D = el_rnn_directions(config), count = config->num_layers * D;
    rnn->layers = el__alloc_zero((size_t)count, sizeof *rnn->layers);
    if (!rnn->layers) return el__fail(EL_ERR_NOMEM, "el_rnn_init: out of memory");
    rnn->config = *config;
    rnn->training = 1;
    for (int l = 0; l < config->num_layers && !s; l++)
        for (int d = 0; d < D && !s; d++) {
            int in = l == 0 ? config->input_size : D * config->hidden_size;
            s = init_weights(&rnn->layers[l * D + d], name, l, d, in, config->hidden_size,
                             el_cell_gates(config->cell), rng);
        }
    if (s) el_rnn_free(rnn);
    return s;
}

void el_rnn_free(el_rnn *rnn)
{
    if (!rnn || !rnn->layers) return;
    int count = rnn->config.num_layers * el_rnn_directions(&rnn->config);
    for (int i = 0; i < count; i++) {
        el_param_free(&rnn->layers[i].weight_ih);
        el_param_free(&rnn->layers[i].weight_hh);
        el_param_free(&rnn->layers[i].bias_ih);
        el_param_free(&rnn->layers[i].bias_hh);
    }
    el__free(rnn->layers);
    memset(rnn, 0, sizeof *rnn);
}

void el_rnn_set_training(el_rnn *rnn, int on)
{
    if (rnn) rnn->training = on != 0;
}

void el_rnn_set_position(el_rnn *rnn, int first_row, int first_step)
{
    if (!rnn) return;
    rnn->first_row = first_row;
    rnn->first_step = first_step;
}

el_status el_rnn_params(el_rnn *rnn, el_param_list *list)
{
    EL_REQUIRE(rnn, "el_rnn_params");
    int count = rnn->config.num_layers * el_rnn_directions(&rnn->config);
    el_status s = EL_OK;
    for (int i = 0; i < count && !s; i++) {
        el_rnn_weights *w = &rnn->layers[i];
        s = el_param_list_add(list, &w->weight_ih);
        if (!s) s = el_param_list_add(list, &w->weight_hh);
        if (!s) s = el_param_list_add(list, &w->bias_ih);
        if (!s) s = el_param_list_add(list, &w->bias_hh);
    }
    return s;
}

el_rnn_weights *el_rnn_layer(el_rnn *rnn, int layer, int direction)
{
    if (!rnn || !rnn->layers || layer < 0 || layer >= rnn->config.num_layers || direction < 0 ||
        direction >= el_rnn_directions(&rnn->config))
        return NULL;
    return &rnn->layers[layer * el_rnn_directions(&rnn->config) + direction];
}

/* Whether two tensors' data share memory (either may be NULL). */
static int overlap(const el_tensor *a, const el_tensor *b)
{
    if (!a || !b || !a->data || !b->data) return 0;
    uintptr_t a0 = (uintptr_t)a->data, b0 = (uintptr_t)b->data;
    return a0 < b0 + b->size * sizeof(float) && b0 < a0 + a->size * sizeof(float);
}

/* Checks that t is (d0, d1, d2), naming it in the message. */
static el_status check_shape3(const char *fn, const char *name, const el_tensor *t, int d0, int d1,
                              int d2)
{
    if (t->ndim == 3 && t->shape[0] == d0 && t->shape[1] == d1 && t->shape[2] == d2) return EL_OK;
    char have[64];
    return el__fail(EL_ERR_SHAPE, "%s: %s is %s, expected %dx%dx%d", fn, name,
                    el_tensor_shape_string(t, have, sizeof have), d0, d1, d2);
}

/* The input projection of every step at once, split by rows. */
static void project_task(void *context, int index, int count)
{
    const direction_pass *p = context;
    const el_rnn_cache *c = p->c;
    int G = el_cell_gates(c->config.cell) * c->config.hidden_size, in, begin, end;
    const float *input = el__rnn_layer_input(c, p->layer, &in);
    int slot = p->layer * el_rnn_directions(&c->config) + p->dir;
    float *gates = c->tracks[slot].gates.data;
    el__split(c->rows, index, count, &begin, &end);
    if (!input) { /* one-hot: the product is W_ih's column of each id */
        const float *rows = c->w_ih_rows[p->dir].data;
        for (int r = begin; r < end; r++)
            memcpy(gates + (size_t)r * G, rows + (size_t)c->ids[r] * G, (size_t)G * sizeof(float));
        return;
    }
    el__gemm_packed(end - begin, input + (size_t)begin * in, in, &c->forward_packs[slot].w_ih_t,
                    0.0f, gates + (size_t)begin * G, G);
}

/* The time loop over one part's sequences (el__rnn_part_rows).  A sequence's steps
 * depend only on its own earlier steps, so the threads never wait for each
 * other here, and the results do not depend on how the rows are split. */
static void forward_steps_task(void *context, int index, int count)
{
    const direction_pass *p = context;
    el_rnn_cache *c = p->c;
    const el_rnn_config *cfg = &c->config;
    int D = el_rnn_directions(cfg), H = cfg->hidden_size, G = el_cell_gates(cfg->cell) * H;
    int lstm = cfg->cell == EL_CELL_LSTM, slot = p->layer * D + p->dir;
    const el_rnn_weights *w = &p->rnn->layers[slot];
    rnn_track *track = &c->tracks[slot];
    int first, end;
    el__rnn_part_rows(c, index, count, &first, &end);
    float *h = c->h.data + (size_t)first * H, *cs = c->c.data + (size_t)first * H;
    float *gh = c->gh.data + (size_t)first * G;
    el__rnn_gather_state(c, p->h0, slot, c->h.data, H, first, end);
    if (lstm) el__rnn_gather_state(c, p->c0, slot, c->c.data, H, first, end);
    cell_rows step = {.cell = cfg->cell,
                      .hidden = H,
                      .b_ih = w->bias_ih.value.data,
                      .b_hh = w->bias_hh.value.data,
                      .gh = gh,
                      .h_end = h,
                      .c_end = cs,
                      .out_stride = D * H};
    int carried = 0; /* rows whose state the last step wrote to this one's hprev */
    for (int i = 0; i < c->steps; i++) {
        int t = p->dir == 0 ? i : c->steps - 1 - i, next = p->dir == 0 ? t + 1 : t - 1;
        int mine = el__rnn_rows_at_step(c, t, first, end);
        if (mine == 0) continue;
        size_t off = (size_t)c->offsets[t] + first;
        if (mine > carried) { /* sequences that start here (all, at the first step) */
            size_t row = (size_t)carried * H, bytes = (size_t)(mine - carried) * H * sizeof(float);
            memcpy(track->hprev.data + off * H + row, h + row, bytes);
            if (lstm) memcpy(track->cprev.data + off * H + row, cs + row, bytes);
        }
        /* The step writes the new state of the sequences that go on
         * straight into the next step's hprev (and cprev), instead of
         * copying it there then, and of those that end into h and c. */
        int going_on = el__rnn_rows_at_step(c, next, first, end);
        /* Without h0, the sequences that start here start from zeros,
         * whose product with W_hh is zero: only the others are multiplied
         * (the rows of a step whose sequences start there come last). */
        int multiplied = p->h0 ? mine : carried;
        step.continuing = carried = going_on < mine ? going_on : mine;
        if (carried > 0) {
            size_t next_off = (size_t)c->offsets[next] + first;
            step.h = track->hprev.data + next_off * H;
            step.c = lstm ? track->cprev.data + next_off * H : NULL;
        }
        el__gemm_packed(multiplied, track->hprev.data + off * H, H, &c->forward_packs[slot].w_hh_t,
                        0.0f, gh, G);
        memset(gh + (size_t)multiplied * G, 0, (size_t)(mine - multiplied) * G * sizeof(float));
        step.rows = mine;
        step.gates = track->gates.data + off * G;
        step.hprev = track->hprev.data + off * H;
        step.hn_gate = cfg->cell == EL_CELL_GRU ? track->hn_gate.data + off * H : NULL;
        step.cprev = lstm ? track->cprev.data + off * H : NULL;
        step.tanh_c = lstm ? track->tanh_c.data + off * H : NULL;
        step.out = p->out + off * D * H + (size_t)p->dir * H;
        el__cell_forward(&step);
    }
    el__rnn_scatter_state(c, c->h.data, p->hn, slot, H, first, end);
    if (lstm) el__rnn_scatter_state(c, c->c.data, p->cn, slot, H, first, end);
}

typedef struct packing {
    const weight_pack *packs;
    int count, panels, transposed;
} packing;

/* A share of all the panels of a pass's weights, which may cross from one
 * matrix into the next. */
static void pack_task(void *context, int index, int count)
{
    const packing *k = context;
    int begin, end;
    el__split(k->panels, index, count, &begin, &end);
    for (int i = 0, first = 0; i < k->count && first < end; i++) {
        const weight_pack *m = &k->packs[i];
        int last = first + el__packed_panels(m->into);
        int b = begin > first ? begin : first, e = end < last ? end : last;
        if (b < e) el__pack_panels(m->into, m->w, k->transposed, b - first, e - first);
        first = last;
    }
}

void el__rnn_reuse_packed(el_rnn_cache *cache, const el_rnn_cache *owner) { cache->reuse = owner; }

/* Packs the weights once for all of a pass's products with them (each step
 * multiplies a few rows by W_hh, and cblas_sgemm would re-pack it every
 * time): W_ihᵀ and W_hhᵀ for forward, W_ih and W_hh for backward.  W_ih is
 * left out where it is not multiplied: layer 0's for ids, and for the input
 * gradient when with_input_grad is 0.  All the buffers are sized before
 * anything is written, so that running out of memory here changes
 * nothing.  Large weights are split by panels over the threads
 * (el__rnn_pack_parts).  Where the caller has named a cache whose packing
 * covers this call (el__rnn_reuse_packed), its packed weights are read
 * instead. */
static el_status pack_weights(el_rnn *rnn, el_rnn_cache *c, int for_backward, int with_input_grad)
{
    const el_rnn_cache *owner = c->reuse;
    c->reuse = NULL;
    int needs_ih0 = for_backward ? with_input_grad : !c->one_hot;
    const rnn_track **use = for_backward ? &c->backward_packs : &c->forward_packs;
    if (owner && owner->tracks && memcmp(&owner->config, &rnn->config, sizeof rnn->config) == 0 &&
        (owner->packed[for_backward] == PACKED_ALL ||
         (owner->packed[for_backward] == PACKED_BUT_IH0 && !needs_ih0))) {
        *use = owner->tracks;
        return EL_OK;
    }
    *use = c->tracks;
    c->packed[for_backward] = PACKED_NONE;
    int D = el_rnn_directions(&rnn->config), count = rnn->config.num_layers * D, n = 0, panels = 0;
    size_t floats = 0;
    for (int i = 0; i < count; i++) {
        rnn_track *t = &c->tracks[i];
        int first = i < D;
        int ih = for_backward ? !first || with_input_grad : !first || !c->one_hot;
        const el_tensor *ws[2] = {ih ? &rnn->layers[i].weight_ih.value : NULL,
                                  &rnn->layers[i].weight_hh.value};
        el__packed *into[2] = {for_backward ? &t->w_ih : &t->w_ih_t,
                               for_backward ? &t->w_hh : &t->w_hh_t};
        for (int m = 0; m < 2; m++) {
            if (!ws[m]) continue;
            int rows = ws[m]->shape[0], cols = ws[m]->shape[1];
            el_status s = for_backward ? el__packed_reserve(into[m], rows, cols)
                                       : el__packed_reserve(into[m], cols, rows);
            if (s) return s;
            c->packs[n++] = (weight_pack){into[m], ws[m]->data};
            panels += el__packed_panels(into[m]);
            floats += (size_t)rows * cols;
        }
    }
    packing k = {c->packs, n, panels, !for_backward};
    el__parallel_run(pack_task, &k, el__rnn_pack_parts(floats));
    c->packed[for_backward] = needs_ih0 ? PACKED_ALL : PACKED_BUT_IH0;
    return EL_OK;
}

/* Dropout on layer l's outputs (packed rows): element j of sorted row r at
 * step t is kept with the keyed draw of the batch row's global number and
 * (global step, layer, j), so the mask follows the example, not its place
 * in the packed layout (el_rnn_set_position). */
static void drop_layer(const el_rnn *rnn, el_rnn_cache *c, int l, uint64_t key)
{
    const el_rnn_config *cfg = &rnn->config;
    int width = el_rnn_directions(cfg) * cfg->hidden_size, gaps = cfg->num_layers - 1;
    float p = cfg->dropout, scale = 1.0f / (1.0f - p);
    for (int t = 0; t < c->steps; t++) {
        uint64_t step = (uint64_t)((int64_t)rnn->first_step + t);
        uint64_t first = (step * (uint64_t)gaps + (uint64_t)l) * (uint64_t)width;
        for (int r = 0; r < c->batch_sizes[t]; r++) {
            size_t at = ((size_t)c->offsets[t] + r) * width;
            uint64_t row = (uint64_t)((int64_t)rnn->first_row + c->perm[r]);
            const float *x = c->out[l].data + at;
            float *y = c->dropped[l].data + at, *mask = c->mask[l].data + at;
            for (int j = 0; j < width; j++) {
                mask[j] = el_rng_keyed_uniform(key, row, first + (uint64_t)j) >= p ? scale : 0.0f;
                y[j] = x[j] * mask[j];
            }
        }
    }
}

/* Runs layer pass->layer in direction pass->dir. */
static void forward_direction(direction_pass *pass)
{
    el_rnn_cache *c = pass->c;
    int in;
    el__rnn_layer_input(c, pass->layer, &in);
    el__parallel_run(project_task, pass, el__rnn_rows_parts(c, in));
    el__parallel_run(forward_steps_task, pass, el__rnn_time_loop_parts(c, in));
}

static el_status size_output(const char *fn, const char *name, el_tensor *t, int d0, int d1, int d2)
{
    return el__size_output(fn, name, t, 3, (int[]){d0, d1, d2});
}

/* Checks the inputs, then sizes the outputs: a call refused for its inputs
 * leaves the outputs as they were. */
static el_status check_forward_args(const char *fn, const el_rnn *rnn, int T, int B,
                                    const int *lengths, const el_tensor *h0, const el_tensor *c0,
                                    el_tensor *y, el_tensor *hn, el_tensor *cn)
{
    const el_rnn_config *cfg = &rnn->config;
    int D = el_rnn_directions(cfg), H = cfg->hidden_size;
    int states = cfg->num_layers * D;
    if ((c0 || cn) && cfg->cell != EL_CELL_LSTM)
        return el__fail(EL_ERR_INVALID, "%s: a cell state was given to a %s layer", fn,
                        el_cell_name(cfg->cell));
    el_status s = EL_OK;
    if (h0) s = check_shape3(fn, "h0", h0, states, B, H);
    if (!s && c0) s = check_shape3(fn, "c0", c0, states, B, H);
    for (int b = 0; !s && lengths && b < B; b++)
        if (lengths[b] < 0 || lengths[b] > T)
            return el__fail(EL_ERR_INVALID, "%s: lengths[%d] is %d, outside [0, %d]", fn, b,
                            lengths[b], T);
    if (!s && y) s = size_output(fn, "y", y, T, B, D * H);
    if (!s && hn) s = size_output(fn, "hn", hn, states, B, H);
    if (!s && cn) s = size_output(fn, "cn", cn, states, B, H);
    return s;
}

static el_status forward(el_rnn *rnn, el_rnn_cache *cache, el_rng *rng, const el_tensor *x,
                         const int *ids, int T, int B, const int *lengths, const el_tensor *h0,
                         const el_tensor *c0, el_tensor *y, el_tensor *hn, el_tensor *cn,
                         const char *fn)
{
    if (!rnn->layers) return el__fail(EL_ERR_STATE, "%s: the layer is not initialised", fn);
    el_status s = check_forward_args(fn, rnn, T, B, lengths, h0, c0, y, hn, cn);
    if (s) return s;
    const el_rnn_config *cfg = &rnn->config;
    int L = cfg->num_layers, D = el_rnn_directions(cfg);
    int dropout_active = rnn->training && cfg->dropout > 0 && L > 1;
    if (dropout_active) EL_REQUIRE(rng, fn);
    cache->forward_done = 0;
    cache->backward_done = 0;
    cache->config = *cfg;
    cache->dropout_active = dropout_active;
    cache->one_hot = ids != NULL;
    s = el__rnn_plan_batch(cache, T, B, lengths);
    if (!s) s = el__rnn_size_forward_buffers(cache, cfg);
    if (!s) s = pack_weights(rnn, cache, 0, 0);
    if (s) return s;
    el__rnn_pack_input(rnn, cache, x, ids);
    /* Where the layouts agree, the last layer writes y itself instead of a
     * copy of it (backward never reads it back), unless y shares memory
     * with a state that is still to be read or written.  Without y the
     * last layer's outputs stay in the cache, unread by backward too. */
    int direct = y && cache->padded_is_packed && !overlap(y, h0) && !overlap(y, c0) &&
                 !overlap(y, hn) && !overlap(y, cn);
    uint64_t key = dropout_active ? el_rng_u64(rng) : 0;
    direction_pass pass = {.rnn = rnn, .c = cache, .h0 = h0, .c0 = c0, .hn = hn, .cn = cn};
    for (int l = 0; l < L; l++) {
        pass.layer = l;
        pass.out = l == L - 1 && direct ? y->data : cache->out[l].data;
        for (pass.dir = 0; pass.dir < D; pass.dir++) forward_direction(&pass);
        if (dropout_active && l < L - 1) drop_layer(rnn, cache, l, key);
    }
    if (y && !direct)
        el__rnn_packed_to_padded(cache, cache->out[L - 1].data, y->data, D * cfg->hidden_size);
    cache->forward_done = 1;
    return EL_OK;
}

el_status el_rnn_forward(el_rnn *rnn, el_rnn_cache *cache, el_rng *rng, const el_tensor *x,
                         const int *lengths, const el_tensor *h0, const el_tensor *c0, el_tensor *y,
                         el_tensor *hn, el_tensor *cn)
{
    const char *fn = "el_rnn_forward";
    EL_REQUIRE(rnn, fn);
    EL_REQUIRE(cache, fn);
    EL_REQUIRE(x, fn);
    if (x->ndim != 3 || x->shape[2] != rnn->config.input_size) {
        char have[64];
        return el__fail(EL_ERR_SHAPE, "%s: x is %s, expected (T, B, %d)", fn,
                        el_tensor_shape_string(x, have, sizeof have), rnn->config.input_size);
    }
    return forward(rnn, cache, rng, x, NULL, x->shape[0], x->shape[1], lengths, h0, c0, y, hn, cn,
                   fn);
}

el_status el_rnn_forward_ids(el_rnn *rnn, el_rnn_cache *cache, el_rng *rng, const int *ids,
                             int steps, int batch, const int *lengths, const el_tensor *h0,
                             const el_tensor *c0, el_tensor *y, el_tensor *hn, el_tensor *cn)
{
    const char *fn = "el_rnn_forward_ids";
    EL_REQUIRE(rnn, fn);
    EL_REQUIRE(cache, fn);
    EL_REQUIRE(ids, fn);
    if (steps < 1 || batch < 1)
        return el__fail(EL_ERR_INVALID, "%s: %d steps of %d sequences", fn, steps, batch);
    for (size_t i = 0; i < (size_t)steps * batch; i++)
        if (ids[i] < 0 || ids[i] >= rnn->config.input_size) {
            /* Padded steps are never read, but an id there is still checked:
             * a caller's bad id is a bug to report, not to skip. */
            return el__fail(EL_ERR_INVALID, "%s: ids[%zu] = %d outside [0, %d)", fn, i, ids[i],
                            rnn->config.input_size);
        }
    return forward(rnn, cache, rng, NULL, ids, steps, batch, lengths, h0, c0, y, hn, cn, fn);
}

/* The backward time loop over the sequences this thread owns, in the
 * reverse of forward's order. */
static void backward_steps_task(void *context, int index, int count)
{
    const direction_pass *p = context;
    el_rnn_cache *c = p->c;
    const el_rnn_config *cfg = &c->config;
    int D = el_rnn_directions(cfg), H = cfg->hidden_size, G = el_cell_gates(cfg->cell) * H;
    int lstm = cfg->cell == EL_CELL_LSTM, gru = cfg->cell == EL_CELL_GRU;
    int slot = p->layer * D + p->dir;
    rnn_track *track = &c->tracks[slot];
    float *dgh = gru ? c->dgh.data : c->dgx.data;
    int first, end;
    el__rnn_part_rows(c, index, count, &first, &end);
    el__rnn_gather_state(c, p->dhn, slot, c->h.data, H, first, end);
    if (lstm) el__rnn_gather_state(c, p->dcn, slot, c->c.data, H, first, end);
    cell_rows step = {.cell = cfg->cell,
                      .hidden = H,
                      .h = c->h.data + (size_t)first * H,
                      .c = c->c.data + (size_t)first * H,
                      .out_stride = D * H};
    for (int i = 0; i < c->steps; i++) {
        int t = p->dir == 0 ? c->steps - 1 - i : i;
        int mine = el__rnn_rows_at_step(c, t, first, end);
        if (mine == 0) continue;
        size_t off = (size_t)c->offsets[t] + first;
        step.rows = mine;
        step.gates = track->gates.data + off * G;
        step.hprev = track->hprev.data + off * H;
        step.hn_gate = gru ? track->hn_gate.data + off * H : NULL;
        step.cprev = lstm ? track->cprev.data + off * H : NULL;
        step.tanh_c = lstm ? track->tanh_c.data + off * H : NULL;
        step.out = (float *)p->dout + off * D * H + (size_t)p->dir * H;
        /* With panels, dgx and dgh hold only the step's rows, which are
         * then packed: writing all steps' rows twice cost more than the
         * packing saved. */
        size_t row = p->panels ? (size_t)first : off;
        step.dgx = c->dgx.data + row * G;
        step.dgh = dgh + row * G;
        el__cell_backward(&step);
        if (p->panels) {
            el__packed_set_rows(&c->dgx_panels, (int)off, mine, step.dgx, G);
            if (gru) el__packed_set_rows(&c->dgh_panels, (int)off, mine, step.dgh, G);
        }
        /* The state gradient flows on to the step before only for the
         * sequences that have one; for those that start here it is dh0's,
         * not wanted without dh0. */
        int carried = el__rnn_rows_at_step(c, p->dir == 0 ? t - 1 : t + 1, first, end);
        int multiplied = p->dh0 || carried > mine ? mine : carried;
        el__gemm_packed(multiplied, step.dgh, G, &c->backward_packs[slot].w_hh, 1.0f, step.h, H);
    }
    el__rnn_scatter_state(c, c->h.data, p->dh0, slot, H, first, end);
    if (lstm) el__rnn_scatter_state(c, c->c.data, p->dc0, slot, H, first, end);
}

/* Runs layer pass->layer backward in direction pass->dir. */
static void backward_direction(direction_pass *pass)
{
    el_rnn_cache *c = pass->c;
    int in;
    el__rnn_layer_input(c, pass->layer, &in);
    el__parallel_run(backward_steps_task, pass, el__rnn_time_loop_parts(c, in));
    if (pass->panels && !el__rnn_reads_in_place(c))
        el__parallel_run(el__rnn_transpose_task, pass, el__rnn_rows_parts(c, in));
    el__parallel_run(el__rnn_gradients_task, pass, el__rnn_gradient_parts(c, in));
}

/* Checks the call and the upstream gradients, then sizes the input
 * gradients (dx, dh0, dc0). */
static el_status check_backward_args(const el_rnn *rnn, const el_rnn_cache *c, const el_tensor *dy,
                                     const el_tensor *dhn, const el_tensor *dcn, el_tensor *dx,
                                     el_tensor *dh0, el_tensor *dc0)
{
    const char *fn = "el_rnn_backward";
    const el_rnn_config *cfg = &rnn->config;
    if (!c->forward_done)
        return el__fail(EL_ERR_STATE, "%s: no forward call to backpropagate through", fn);
    if (c->backward_done)
        return el__fail(EL_ERR_STATE,
                        "%s: the last forward call was already backpropagated; a new forward "
                        "call is needed (a second backward would add its gradients again)",
                        fn);
    if (memcmp(&c->config, cfg, sizeof *cfg) != 0)
        return el__fail(EL_ERR_STATE,
                        "%s: the cache was filled by a layer of another configuration", fn);
    if (c->one_hot && dx)
        return el__fail(EL_ERR_INVALID,
                        "%s: the input was ids (el_rnn_forward_ids), which have no gradient", fn);
    if ((dcn || dc0) && cfg->cell != EL_CELL_LSTM)
        return el__fail(EL_ERR_INVALID, "%s: a cell state gradient was given to a %s layer", fn,
                        el_cell_name(cfg->cell));
    int T = c->steps, B = c->batch, D = el_rnn_directions(cfg), H = cfg->hidden_size;
    int states = cfg->num_layers * D;
    el_status s = EL_OK;
    if (dy) s = check_shape3(fn, "dy", dy, T, B, D * H);
    if (!s && dhn) s = check_shape3(fn, "dhn", dhn, states, B, H);
    if (!s && dcn) s = check_shape3(fn, "dcn", dcn, states, B, H);
    if (!s && dx) s = size_output(fn, "dx", dx, T, B, cfg->input_size);
    if (!s && dh0) s = size_output(fn, "dh0", dh0, states, B, H);
    if (!s && dc0) s = size_output(fn, "dc0", dc0, states, B, H);
    return s;
}

el_status el_rnn_backward(el_rnn *rnn, el_rnn_cache *cache, const el_tensor *dy,
                          const el_tensor *dhn, const el_tensor *dcn, el_tensor *dx, el_tensor *dh0,
                          el_tensor *dc0)
{
    const char *fn = "el_rnn_backward";
    EL_REQUIRE(rnn, fn);
    EL_REQUIRE(cache, fn);
    el_status s = check_backward_args(rnn, cache, dy, dhn, dcn, dx, dh0, dc0);
    if (s) return s;
    const el_rnn_config *cfg = &rnn->config;
    int L = cfg->num_layers, D = el_rnn_directions(cfg), H = cfg->hidden_size;
    int G = el_cell_gates(cfg->cell) * H, N = cache->rows;
    int width = cfg->input_size > D * H ? cfg->input_size : D * H;
    if (cache->one_hot && (s = el__ensure2(&cache->dw_ih_rows, cfg->input_size, G))) return s;
    if ((s = el__rnn_size_gate_gradients(cache)) || (s = el__ensure2(&cache->dout, N, width)) ||
        (s = el__ensure2(&cache->din, N, width)) || (s = pack_weights(rnn, cache, 1, dx != NULL)))
        return s;
    /* From here nothing allocates and the gradients accumulate: a failure
     * before this may be retried, a second call after it is refused. */
    cache->backward_done = 1;
    /* Where the layouts agree, the last layer reads dy itself and the first
     * writes dx itself, instead of copies, unless they share memory with
     * something written or read in between. */
    int direct_dy =
        cache->padded_is_packed && dy && !overlap(dy, dx) && !overlap(dy, dh0) && !overlap(dy, dc0);
    int direct_dx = cache->padded_is_packed && dx && !overlap(dx, dy) && !overlap(dx, dhn) &&
                    !overlap(dx, dcn) && !overlap(dx, dh0) && !overlap(dx, dc0);
    float *dout = cache->dout.data, *din = cache->din.data;
    if (dy && !direct_dy)
        el__rnn_padded_to_packed(cache, dy->data, dout, D * H);
    else if (!dy)
        memset(dout, 0, (size_t)N * D * H * sizeof(float));
    el_dropout dropout = {cfg->dropout, 1};
    direction_pass pass = {.rnn = rnn, .c = cache, .dhn = dhn, .dcn = dcn, .dh0 = dh0, .dc0 = dc0};
    for (int l = L - 1; l >= 0; l--) {
        pass.layer = l;
        pass.dout = l == L - 1 && direct_dy ? dy->data : dout;
        pass.din = l > 0 ? din : !dx ? NULL : direct_dx ? dx->data : din;
        pass.panels = el__rnn_uses_panels(cache, l);
        for (pass.dir = 0; pass.dir < D; pass.dir++) {
            pass.beta = pass.dir == 0 ? 0.0f : 1.0f;
            backward_direction(&pass);
        }
        if (l == 0) break;
        if (cache->dropout_active) {
            el_tensor grad, mask = cache->mask[l - 1];
            if ((s = el_tensor_wrap(&grad, din, 2, (int[]){N, D * H})) ||
                (s = el_dropout_backward(&dropout, &mask, &grad, &grad)))
                return s;
        }
        float *swap = dout;
        dout = din;
        din = swap;
    }
    if (dx && !direct_dx) el__rnn_packed_to_padded(cache, din, dx->data, cfg->input_size);
    return EL_OK;
}
