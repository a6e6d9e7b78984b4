/* el_rnn_stepper: one step at a time, for generation.  A step of a small
 * model takes microseconds, so what matters is what the step does not do:
 * no allocation, no re-packing of the weights (done once, at creation), no
 * product for a one-hot input (its column of W_ih is copied instead), and
 * no threads. */
#include <string.h>

#include "elman/rnn.h"
#include "core/internal.h"
#include "core/packed_gemm.h"
#include "nn/rnn_cell.h"
#include "nn/rnn_internal.h"

typedef struct step_layer {
    el__packed w_ih_t, w_hh_t; /* W_ihᵀ and W_hhᵀ, packed */
    float *b_ih, *b_hh;        /* (G) */
} step_layer;

struct el_rnn_stepper {
    el_cell cell;
    int layers, input, hidden, batch;
    step_layer *layer;
    float *h, *c;            /* (layers, B, H) the state */
    float *hprev, *cprev;    /* (B, H) the state a layer's step starts from */
    float *gates, *gh;       /* (B, G) */
    float *hn_gate, *tanh_c; /* (B, H) what the cell kernels store for backward */
    float *out;              /* (B, H) the output of the layer just run */
};

static int gate_width(const el_rnn_stepper *s) { return el_cell_gates(s->cell) * s->hidden; }

void el_rnn_stepper_free(el_rnn_stepper *s)
{
    if (!s) return;
    for (int l = 0; s->layer && l < s->layers; l++) {
        el__packed_free(&s->layer[l].w_ih_t);
        el__packed_free(&s->layer[l].w_hh_t);
        el__free(s->layer[l].b_ih);
        el__free(s->layer[l].b_hh);
    }
    el__free(s->layer);
    float *arrays[] = {s->h,  s->c,       s->hprev,  s->cprev, s->gates,
                       s->gh, s->hn_gate, s->tanh_c, s->out};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) el__free(arrays[i]);
    el__free(s);
}

static float *copy_of(const el_tensor *t)
{
    float *copy = el__alloc(t->size * sizeof *copy);
    if (copy) memcpy(copy, t->data, t->size * sizeof *copy);
    return copy;
}

static el_status pack_layer(step_layer *to, const el_rnn_weights *w)
{
    const el_tensor *ih = &w->weight_ih.value, *hh = &w->weight_hh.value;
    el_status s = el__pack(&to->w_ih_t, ih->data, ih->shape[0], ih->shape[1], 1);
    if (!s) s = el__pack(&to->w_hh_t, hh->data, hh->shape[0], hh->shape[1], 1);
    if (s) return s;
    to->b_ih = copy_of(&w->bias_ih.value);
    to->b_hh = copy_of(&w->bias_hh.value);
    return to->b_ih && to->b_hh ? EL_OK : EL_ERR_NOMEM;
}

el_status el_rnn_stepper_create(el_rnn_stepper **out, const el_rnn *rnn, int batch)
{
    EL_REQUIRE(out, "el_rnn_stepper_create");
    EL_REQUIRE(rnn, "el_rnn_stepper_create");
    *out = NULL;
    const el_rnn_config *cfg = &rnn->config;
    if (cfg->bidirectional)
        return el__fail(EL_ERR_INVALID,
                        "el_rnn_stepper_create: a bidirectional layer cannot run step by step");
    if (batch < 1)
        return el__fail(EL_ERR_INVALID, "el_rnn_stepper_create: batch %d is below 1", batch);
    el_rnn_stepper *s = el__alloc_zero(1, sizeof *s);
    if (!s) return el__fail(EL_ERR_NOMEM, "el_rnn_stepper_create: out of memory");
    s->cell = cfg->cell;
    s->layers = cfg->num_layers;
    s->input = cfg->input_size;
    s->hidden = cfg->hidden_size;
    s->batch = batch;
    size_t BH = (size_t)batch * cfg->hidden_size, BG = (size_t)batch * gate_width(s);
    size_t state = (size_t)s->layers * BH;
    s->layer = el__alloc_zero((size_t)s->layers, sizeof *s->layer);
    s->h = el__alloc_zero(state, sizeof(float));
    s->c = el__alloc_zero(state, sizeof(float));
    s->hprev = el__alloc(BH * sizeof(float));
    s->cprev = el__alloc(BH * sizeof(float));
    s->hn_gate = el__alloc(BH * sizeof(float));
    s->tanh_c = el__alloc(BH * sizeof(float));
    s->out = el__alloc(BH * sizeof(float));
    s->gates = el__alloc(BG * sizeof(float));
    s->gh = el__alloc(BG * sizeof(float));
    el_status status = s->layer && s->h && s->c && s->hprev && s->cprev && s->hn_gate &&
                               s->tanh_c && s->out && s->gates && s->gh
                           ? EL_OK
                           : EL_ERR_NOMEM;
    for (int l = 0; l < s->layers && !status; l++)
        status = pack_layer(&s->layer[l], &rnn->layers[l]);
    if (status) {
        el_rnn_stepper_free(s);
        return el__fail(EL_ERR_NOMEM, "el_rnn_stepper_create: out of memory for batch %d", batch);
    }
    *out = s;
    return EL_OK;
}

static el_status check_state(const el_rnn_stepper *s, const char *fn, const char *name,
                             const el_tensor *t)
{
    if (t->ndim != 3 || t->shape[0] != s->layers || t->shape[1] != s->batch ||
        t->shape[2] != s->hidden)
        return el__fail(EL_ERR_SHAPE, "%s: %s must be (%d, %d, %d)", fn, name, s->layers, s->batch,
                        s->hidden);
    return EL_OK;
}

el_status el_rnn_stepper_reset(el_rnn_stepper *s, const el_tensor *h0, const el_tensor *c0)
{
    EL_REQUIRE(s, "el_rnn_stepper_reset");
    el_status st = h0 ? check_state(s, "el_rnn_stepper_reset", "h0", h0) : EL_OK;
    if (!st && c0) st = check_state(s, "el_rnn_stepper_reset", "c0", c0);
    if (st) return st;
    size_t bytes = (size_t)s->layers * s->batch * s->hidden * sizeof(float);
    if (h0)
        memcpy(s->h, h0->data, bytes);
    else
        memset(s->h, 0, bytes);
    if (c0 && s->cell == EL_CELL_LSTM)
        memcpy(s->c, c0->data, bytes);
    else
        memset(s->c, 0, bytes);
    return EL_OK;
}

el_status el_rnn_stepper_state(const el_rnn_stepper *s, el_tensor *hn, el_tensor *cn)
{
    const char *fn = "el_rnn_stepper_state";
    EL_REQUIRE(s, fn);
    int shape[3] = {s->layers, s->batch, s->hidden};
    el_status st = hn ? el__size_output(fn, "hn", hn, 3, shape) : EL_OK;
    if (!st && cn) st = el__size_output(fn, "cn", cn, 3, shape);
    if (st) return st;
    size_t bytes = (size_t)s->layers * s->batch * s->hidden * sizeof(float);
    if (hn) memcpy(hn->data, s->h, bytes);
    if (cn) memcpy(cn->data, s->c, bytes);
    return EL_OK;
}

/* Copies row id of the packed W_ihᵀ (k rows in panels of EL__PANEL
 * columns) into each sequence's gate row. */
static void gather_columns(const el_rnn_stepper *s, const int *ids)
{
    const el__packed *p = &s->layer[0].w_ih_t;
    int G = gate_width(s);
    for (int b = 0; b < s->batch; b++) {
        float *row = s->gates + (size_t)b * G;
        for (int first = 0; first < G; first += EL__PANEL) {
            int width = G - first < EL__PANEL ? G - first : EL__PANEL;
            const float *panel = p->data + (size_t)first * p->k;
            memcpy(row + first, panel + (size_t)ids[b] * EL__PANEL, (size_t)width * sizeof *row);
        }
    }
}

/* Runs every layer; the first layer's input projection is already in
 * s->gates when x is NULL. */
static void run_layers(el_rnn_stepper *s, const float *x, el_tensor *y)
{
    int B = s->batch, H = s->hidden, G = gate_width(s), lstm = s->cell == EL_CELL_LSTM;
    size_t BH = (size_t)B * H;
    for (int l = 0; l < s->layers; l++) {
        step_layer *w = &s->layer[l];
        if (l > 0)
            el__gemm_packed(B, s->out, H, &w->w_ih_t, 0.0f, s->gates, G);
        else if (x)
            el__gemm_packed(B, x, s->input, &w->w_ih_t, 0.0f, s->gates, G);
        float *h = s->h + l * BH, *c = s->c + l * BH;
        memcpy(s->hprev, h, BH * sizeof *h);
        if (lstm) memcpy(s->cprev, c, BH * sizeof *c);
        el__gemm_packed(B, s->hprev, H, &w->w_hh_t, 0.0f, s->gh, G);
        cell_rows step = {.cell = s->cell,
                          .rows = B,
                          .hidden = H,
                          .b_ih = w->b_ih,
                          .b_hh = w->b_hh,
                          .gates = s->gates,
                          .gh = s->gh,
                          .hn_gate = s->hn_gate,
                          .hprev = s->hprev,
                          .cprev = s->cprev,
                          .tanh_c = s->tanh_c,
                          .h = h,
                          .c = c,
                          .out = s->out,
                          .out_stride = H};
        el__cell_forward(&step);
    }
    if (y) memcpy(y->data, s->out, BH * sizeof *s->out);
}

/* Sizes y (B, H) when given: once it has the shape, a step allocates
 * nothing. */
static el_status size_step_output(const el_rnn_stepper *s, const char *fn, el_tensor *y)
{
    return y ? el__size_output(fn, "y", y, 2, (int[]){s->batch, s->hidden}) : EL_OK;
}

el_status el_rnn_step(el_rnn_stepper *s, const el_tensor *x, el_tensor *y)
{
    EL_REQUIRE(s, "el_rnn_step");
    EL_REQUIRE(x, "el_rnn_step");
    if (x->ndim != 2 || x->shape[0] != s->batch || x->shape[1] != s->input)
        return el__fail(EL_ERR_SHAPE, "el_rnn_step: x must be (%d, %d)", s->batch, s->input);
    el_status st = size_step_output(s, "el_rnn_step", y);
    if (st) return st;
    run_layers(s, x->data, y);
    return EL_OK;
}

el_status el_rnn_step_ids(el_rnn_stepper *s, const int *ids, el_tensor *y)
{
    EL_REQUIRE(s, "el_rnn_step_ids");
    EL_REQUIRE(ids, "el_rnn_step_ids");
    for (int b = 0; b < s->batch; b++)
        if (ids[b] < 0 || ids[b] >= s->input)
            return el__fail(EL_ERR_INVALID, "el_rnn_step_ids: ids[%d] = %d outside [0, %d)", b,
                            ids[b], s->input);
    el_status st = size_step_output(s, "el_rnn_step_ids", y);
    if (st) return st;
    gather_columns(s, ids);
    run_layers(s, NULL, y);
    return EL_OK;
}
