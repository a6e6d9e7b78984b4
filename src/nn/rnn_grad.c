/* The weight and bias gradients of a layer, after its backward time loop,
 * by one of two ways chosen by el__rnn_uses_panels (rnn_tuning.c): from dG
 * packed in panels by the backward steps, through the packed kernel, or
 * from dG row-major, through OpenBLAS; and the gradient of the layer's
 * input. */
#include <string.h>

#include "core/blas.h"
#include "core/ensure.h"
#include "core/internal.h"
#include "core/packed_gemm.h"
#include "core/parallel.h"
#include "nn/rnn_internal.h"

/* out += the column sums of x, and also out2 unless it is NULL: the
 * biases' gradients, which are the same sums wherever dgh is dgx, so x
 * (every step's rows) is read once for both. */
EL__SIMD_CLONES
static void column_sums(float *restrict out, float *restrict out2, const float *restrict x,
                        int rows, int cols, int stride)
{
    for (int i = 0; i < rows; i++) {
        const float *row = x + (size_t)i * stride;
        if (out2)
            for (int j = 0; j < cols; j++) {
                out[j] += row[j];
                out2[j] += row[j];
            }
        else
            for (int j = 0; j < cols; j++) out[j] += row[j];
    }
}

/* to[j] += from[j] for j < n. */
EL__SIMD_CLONES
static void add_floats(float *restrict to, const float *restrict from, int n)
{
    for (int j = 0; j < n; j++) to[j] += from[j];
}

/* dW_ih += dgxᵀ x for one-hot rows x: row r adds its gradient to the
 * column of its id.  Summed as rows of W_ihᵀ (contiguous, vectorised), then
 * added to W_ih's gradient once, over the gate columns [g0, g1).  dgx's
 * element (r, g) lies at r * row_stride + (g / EL__PANEL) * panel_stride +
 * g % EL__PANEL: row-major, or packed in panels. */
static void one_hot_weight_gradient(const el_rnn_cache *c, const float *dgx, size_t row_stride,
                                    size_t panel_stride, float *grad, int in, int G, int g0, int g1)
{
    float *rows = c->dw_ih_rows.data;
    for (int v = 0; v < in; v++)
        memset(rows + (size_t)v * G + g0, 0, (size_t)(g1 - g0) * sizeof(float));
    for (int r = 0; r < c->rows; r++) {
        float *to = rows + (size_t)c->ids[r] * G;
        for (int g = g0; g < g1;) {
            int panel = g / EL__PANEL, column = g % EL__PANEL;
            int n = g1 - g < EL__PANEL - column ? g1 - g : EL__PANEL - column;
            add_floats(to + g, dgx + r * row_stride + panel * panel_stride + column, n);
            g += n;
        }
    }
    for (int g = g0; g < g1; g++)
        for (int v = 0; v < in; v++) grad[(size_t)g * in + v] += rows[(size_t)v * G + g];
}

/* For weights_from_panels, where it does not read them in place, split by
 * rows: inputs_t is the layer's input transposed (none for ids) above the
 * steps' start states transposed. */
void el__rnn_transpose_task(void *context, int index, int count)
{
    const direction_pass *p = context;
    const el_rnn_cache *c = p->c;
    int D = el_rnn_directions(&c->config), H = c->config.hidden_size, N = c->rows, in, r0, r1;
    const float *input = el__rnn_layer_input(c, p->layer, &in);
    const float *hprev = c->tracks[p->layer * D + p->dir].hprev.data;
    int ld = c->inputs_t.shape[1];
    float *hprev_t = c->inputs_t.data + (size_t)(input ? in : 0) * ld;
    el__split(N, index, count, &r0, &r1);
    if (input) el__transpose(r1 - r0, in, input + (size_t)r0 * in, in, c->inputs_t.data + r0, ld);
    el__transpose(r1 - r0, H, hprev + (size_t)r0 * H, H, hprev_t + r0, ld);
}

/* grad (G x width) += the rows [g0, g1) of dGᵀ X, and bias (and bias2
 * unless NULL) += dG's column sums there, computed as the columns of [Xᵀ;
 * 1] dG, for X (N x width) in place (x, row stride ld: to the kernel, Xᵀ
 * given transposed) or transposed (x, Xᵀ's row stride ld), NULL where
 * width is 0, and dg holding dG (N x G) packed.  The ones make the kernel
 * sum dG's columns for the bias along with the products, at the cost of
 * one row more.  OpenBLAS's dGᵀ X packs both operands on every call, dG
 * twice per layer (once for W_ih, once for W_hh); here the backward steps
 * have packed dG while it was in cache, and nothing writes all of dG
 * row-major any more. */
static void weights_from_panels(const el_rnn_cache *c, const float *x, int ld, int in_place,
                                int width, const el__packed *dg, int g0, int g1, float *grad,
                                float *bias, float *bias2)
{
    int G = dg->n;
    el__packed columns = el__packed_columns(dg, g0, g1);
    el__gemm_packed_sums(width, x, ld, in_place, &columns, 0.0f, c->dw_t.data + g0, G);
    const float *sums = c->dw_t.data + (size_t)width * G, *weights = c->dw_t.data;
    /* grad += the transpose of dw_t's columns [g0, g1), by tiles, so that
     * neither side is walked a float per cache line: the seq2seq decoder
     * with attention runs this once per step, over few rows. */
    enum { TILE = 16 };
    for (int gt = g0; gt < g1; gt += TILE)
        for (int vt = 0; vt < width; vt += TILE) {
            int ge = gt + TILE < g1 ? gt + TILE : g1, ve = vt + TILE < width ? vt + TILE : width;
            for (int g = gt; g < ge; g++)
                for (int v = vt; v < ve; v++)
                    grad[(size_t)g * width + v] += weights[(size_t)v * G + g];
        }
    for (int g = g0; g < g1; g++) {
        bias[g] += sums[g];
        if (bias2) bias2[g] += sums[g];
    }
}

/* What both ways to a layer's parameter gradients read. */
typedef struct layer_grads {
    const el_rnn_cache *c;
    el_rnn_weights *w;
    int H, G, N, in;
    const float *input; /* (N, in) the layer's input; NULL for ids */
    const float *hprev; /* (N, H) the steps' start states */
    int gru;            /* dgh differs from dgx */
} layer_grads;

/* The weight and bias gradients where dG is packed in panels, by
 * weights_from_panels, over whole panels of gate rows. */
static void parameter_gradients_from_panels(const layer_grads *l, int index, int count)
{
    const el_rnn_cache *c = l->c;
    int G = l->G, p0, p1;
    const el__packed *dgx = &c->dgx_panels, *dgh = l->gru ? &c->dgh_panels : dgx;
    el__split((G + EL__PANEL - 1) / EL__PANEL, index, count, &p0, &p1);
    int g0 = p0 * EL__PANEL < G ? p0 * EL__PANEL : G, g1 = p1 * EL__PANEL < G ? p1 * EL__PANEL : G;
    float *bias_ih = l->w->bias_ih.grad.data, *bias_hh = l->w->bias_hh.grad.data;
    /* X and hprev as they lie, or their transposes one above the other. */
    int in_place = el__rnn_reads_in_place(c), ld = c->inputs_t.shape[1];
    const float *x = in_place ? l->input : c->inputs_t.data;
    const float *hprev =
        in_place ? l->hprev : c->inputs_t.data + (size_t)(l->input ? l->in : 0) * ld;
    int x_ld = in_place ? l->in : ld, hprev_ld = in_place ? l->H : ld;
    if (l->input)
        weights_from_panels(c, x, x_ld, in_place, l->in, dgx, g0, g1, l->w->weight_ih.grad.data,
                            bias_ih, NULL);
    else
        one_hot_weight_gradient(c, dgx->data, EL__PANEL, (size_t)EL__PANEL * l->N,
                                l->w->weight_ih.grad.data, l->in, G, g0, g1);
    /* Ids have no product for W_ih, so their bias comes with W_hh's where
     * the two are sums of one dG, and from the ones alone otherwise. */
    weights_from_panels(c, hprev, hprev_ld, in_place, l->H, dgh, g0, g1, l->w->weight_hh.grad.data,
                        bias_hh, !l->input && !l->gru ? bias_ih : NULL);
    if (!l->input && l->gru)
        weights_from_panels(c, NULL, 0, in_place, 0, dgx, g0, g1, NULL, bias_ih, NULL);
}

/* The weight and bias gradients where dG is row-major in dgx and dgh, by
 * OpenBLAS, split by gate rows. */
static void parameter_gradients_from_rows(const layer_grads *l, int index, int count)
{
    const el_rnn_cache *c = l->c;
    int G = l->G, N = l->N, in = l->in, g0, g1;
    const float *dgx = c->dgx.data, *dgh = l->gru ? c->dgh.data : dgx;
    el__split(G, index, count, &g0, &g1);
    if (l->input)
        el__gemm(1, 0, g1 - g0, in, N, 1.0f, dgx + g0, G, l->input, in, 1.0f,
                 l->w->weight_ih.grad.data + (size_t)g0 * in, in);
    else
        one_hot_weight_gradient(c, dgx, G, EL__PANEL, l->w->weight_ih.grad.data, in, G, g0, g1);
    el__gemm(1, 0, g1 - g0, l->H, N, 1.0f, dgh + g0, G, l->hprev, l->H, 1.0f,
             l->w->weight_hh.grad.data + (size_t)g0 * l->H, l->H);
    float *bias_ih = l->w->bias_ih.grad.data + g0, *bias_hh = l->w->bias_hh.grad.data + g0;
    if (!l->gru) {
        column_sums(bias_ih, bias_hh, dgx + g0, N, g1 - g0, G);
    } else {
        column_sums(bias_ih, NULL, dgx + g0, N, g1 - g0, G);
        column_sums(bias_hh, NULL, dgh + g0, N, g1 - g0, G);
    }
}

/* Every step's weight and bias gradients at once, after the time loop, and
 * the gradient of the layer's input, split by rows; dG is read from the
 * panels or from dgx as the backward steps left it (p->panels). */
void el__rnn_gradients_task(void *context, int index, int count)
{
    const direction_pass *p = context;
    const el_rnn_cache *c = p->c;
    int slot = p->layer * el_rnn_directions(&c->config) + p->dir, r0, r1;
    layer_grads l = {.c = c,
                     .w = &p->rnn->layers[slot],
                     .H = c->config.hidden_size,
                     .G = el_cell_gates(c->config.cell) * c->config.hidden_size,
                     .N = c->rows,
                     .hprev = c->tracks[slot].hprev.data,
                     .gru = c->config.cell == EL_CELL_GRU};
    l.input = el__rnn_layer_input(c, p->layer, &l.in);
    if (p->panels)
        parameter_gradients_from_panels(&l, index, count);
    else
        parameter_gradients_from_rows(&l, index, count);
    if (!p->din) return; /* the first layer's input gradient, not wanted */
    el__split(l.N, index, count, &r0, &r1);
    const el__packed *w_ih = &c->backward_packs[slot].w_ih;
    float *din = p->din + (size_t)r0 * l.in;
    if (p->panels)
        el__gemm_packed_panels(r1 - r0, &c->dgx_panels, r0, w_ih, p->beta, din, l.in);
    else
        el__gemm_packed(r1 - r0, c->dgx.data + (size_t)r0 * l.G, l.G, w_ih, p->beta, din, l.in);
}

/* Sizes dgx and dgh, which hold every step's rows unless all layers take
 * their weight gradients from panels (then one step's at a time), and the
 * buffers of weights_from_panels for the layers that do. */
el_status el__rnn_size_gate_gradients(el_rnn_cache *c)
{
    const el_rnn_config *cfg = &c->config;
    int H = cfg->hidden_size, G = el_cell_gates(cfg->cell) * H, widest = -1, all = 1;
    for (int l = 0; l < cfg->num_layers; l++) {
        int in;
        const float *input = el__rnn_layer_input(c, l, &in);
        if (!el__rnn_uses_panels(c, l))
            all = 0;
        else if ((input ? in : 0) > widest)
            widest = input ? in : 0;
    }
    /* A layer that uses panels takes its step's rows at their sorted
     * positions, below B, which may exceed N where sequences are empty. */
    int rows = all || c->batch > c->rows ? c->batch : c->rows;
    el_status s = el__ensure2(&c->dgx, rows, G);
    if (!s && cfg->cell == EL_CELL_GRU) s = el__ensure2(&c->dgh, rows, G);
    if (s || widest < 0) return s;
    s = el__packed_reserve(&c->dgx_panels, c->rows, G);
    if (!s && cfg->cell == EL_CELL_GRU) s = el__packed_reserve(&c->dgh_panels, c->rows, G);
    if (!s && !el__rnn_reads_in_place(c))
        s = el__ensure2(&c->inputs_t, widest + H, el__rnn_transposed_stride(c->rows));
    if (!s) s = el__ensure2(&c->dw_t, (widest > H ? widest : H) + 1, G);
    return s;
}
