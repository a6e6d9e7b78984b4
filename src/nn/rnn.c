#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "elman/dropout.h"
#include "elman/ops.h"
#include "elman/rnn.h"
#include "core/blas.h"
#include "core/internal.h"
#include "core/packed_gemm.h"
#include "core/parallel.h"
#include "nn/rnn_cell.h"

/* Layout.  Sequences are sorted by decreasing length (stably) and packed as
 * PyTorch's PackedSequence is: step t holds the batch_sizes[t] longest
 * sequences, contiguous, at row offsets[t] of an (N, ...) matrix, N being
 * the sum of the lengths.  So every per-step GEMM works on a contiguous
 * prefix of rows, padding costs nothing, and the input projection and the
 * weight gradients are each one GEMM over all N rows. */

/* What forward stores for one layer and direction. */
typedef struct rnn_track {
    el_tensor gates;   /* (N, G) activated gates */
    el_tensor hprev;   /* (N, H) the state each step started from */
    el_tensor hn_gate; /* GRU (N, H): W_hn h + b_hn */
    el_tensor cprev;   /* LSTM (N, H) */
    el_tensor tanh_c;  /* LSTM (N, H) */
    el__packed w_ih_t; /* W_ihᵀ packed for the input projection (not for ids) */
    el__packed w_hh_t; /* W_hhᵀ packed for the forward steps' products */
    el__packed w_ih;   /* W_ih packed for the input gradient (when wanted) */
    el__packed w_hh;   /* W_hh packed for the backward steps' products */
} rnn_track;

/* A weight a pass packs (pack_weights), and into which buffer. */
typedef struct weight_pack {
    el__packed *into;
    const float *w;
} weight_pack;

struct el_rnn_cache {
    el_rnn_config config;   /* of the last forward */
    int steps, batch, rows; /* T, B, N */
    int forward_done;
    int dropout_active; /* dropout was applied between layers */
    int *perm;          /* (B) sorted position -> batch index */
    int *steps_before;  /* (B + 1) the steps of the sorted rows before each */
    int *batch_sizes;   /* (T) */
    int *offsets;       /* (T + 1) */
    int *counts;        /* (T + 1) sequences of each length, for the sort */
    int capacity_batch, capacity_steps;
    int padded_is_packed; /* every sequence runs all T steps: the layouts agree */
    el_tensor x;          /* (N, in) packed input */
    int one_hot;          /* the input was ids (el_rnn_forward_ids), not x */
    int *ids;             /* (N) packed input ids, when one_hot */
    int capacity_ids;
    el_tensor w_ih_rows[2]; /* one_hot: W_ihᵀ (in, G) of layer 0, per direction */
    el_tensor dw_ih_rows;   /* one_hot: (in, G) the gradient of W_ihᵀ being summed */
    el_tensor *out;         /* per layer (N, D*H): its output */
    el_tensor *dropped;     /* per layer but the last (N, D*H): out after dropout */
    el_tensor *mask;        /* per layer but the last (N, D*H) */
    rnn_track *tracks;      /* per layer and direction */
    weight_pack *packs;     /* two per track: what pack_weights packs */
    int layer_slots;        /* layers the arrays above were made for */
    int track_slots;
    el_tensor h, c;     /* (B, H) the running state, or its gradient */
    el_tensor gh;       /* (B, G) the state pre-activations of one step */
    el_tensor dgx, dgh; /* (N, G), or (B, G) where every layer uses panels */
    /* For weights_from_panels: */
    el__packed dgx_panels, dgh_panels; /* (N, G) dgx and dgh, packed by the backward steps */
    el_tensor inputs_t;  /* (in + H, N + pad) a layer's input and hprev transposed, where
                            weights_from_panels does not read them in place (transposed_stride) */
    el_tensor dw_t;      /* (max(in, H) + 1, G) a weight gradient, transposed, and a bias's */
    el_tensor dout, din; /* (N, max width) gradients flowing between layers */
};

static int directions(const el_rnn_config *c) { return c->bidirectional ? 2 : 1; }

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
    int D = directions(config), count = config->num_layers * D;
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
    int count = rnn->config.num_layers * directions(&rnn->config);
    for (int i = 0; i < count; i++) {
        el_param_free(&rnn->layers[i].weight_ih);
        el_param_free(&rnn->layers[i].weight_hh);
        el_param_free(&rnn->layers[i].bias_ih);
        el_param_free(&rnn->layers[i].bias_hh);
    }
    el__free(rnn->layers);
    memset(rnn, 0, sizeof *rnn);
}

el_status el_rnn_params(el_rnn *rnn, el_param_list *list)
{
    EL_REQUIRE(rnn, "el_rnn_params");
    int count = rnn->config.num_layers * directions(&rnn->config);
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
        direction >= directions(&rnn->config))
        return NULL;
    return &rnn->layers[layer * directions(&rnn->config) + direction];
}

el_status el_rnn_cache_create(el_rnn_cache **out)
{
    EL_REQUIRE(out, "el_rnn_cache_create");
    *out = el__alloc_zero(1, sizeof **out);
    return *out ? EL_OK : el__fail(EL_ERR_NOMEM, "el_rnn_cache_create: out of memory");
}

static void free_tensors(el_tensor *t, int n)
{
    for (int i = 0; t && i < n; i++) el_tensor_free(&t[i]);
    el__free(t);
}

static void free_layer_arrays(el_rnn_cache *c)
{
    free_tensors(c->out, c->layer_slots);
    free_tensors(c->dropped, c->layer_slots);
    free_tensors(c->mask, c->layer_slots);
    for (int i = 0; c->tracks && i < c->track_slots; i++) {
        rnn_track *t = &c->tracks[i];
        el_tensor_free(&t->gates);
        el_tensor_free(&t->hprev);
        el_tensor_free(&t->hn_gate);
        el_tensor_free(&t->cprev);
        el_tensor_free(&t->tanh_c);
        el__packed_free(&t->w_ih_t);
        el__packed_free(&t->w_hh_t);
        el__packed_free(&t->w_ih);
        el__packed_free(&t->w_hh);
    }
    el__free(c->tracks);
    el__free(c->packs);
    c->out = c->dropped = c->mask = NULL;
    c->tracks = NULL;
    c->packs = NULL;
    c->layer_slots = c->track_slots = 0;
}

void el_rnn_cache_free(el_rnn_cache *c)
{
    if (!c) return;
    free_layer_arrays(c);
    el__free(c->perm);
    el__free(c->steps_before);
    el__free(c->batch_sizes);
    el__free(c->offsets);
    el__free(c->counts);
    el__free(c->ids);
    el_tensor *own[] = {&c->x,          &c->h,        &c->c,   &c->gh,           &c->dgx,
                        &c->dgh,        &c->dout,     &c->din, &c->w_ih_rows[0], &c->w_ih_rows[1],
                        &c->dw_ih_rows, &c->inputs_t, &c->dw_t};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) el_tensor_free(own[i]);
    el__packed_free(&c->dgx_panels);
    el__packed_free(&c->dgh_panels);
    el__free(c);
}

static el_status grow_int_array(int **array, size_t count)
{
    int *p = el__realloc(*array, count * sizeof *p);
    if (!p) return el__fail(EL_ERR_NOMEM, "el_rnn_forward: out of memory");
    *array = p;
    return EL_OK;
}

/* Sorts the sequences by decreasing length (stably, by counting) and lays
 * out the packed steps. */
static el_status plan_batch(el_rnn_cache *c, int steps, int batch, const int *lengths)
{
    el_status s = EL_OK;
    if (batch > c->capacity_batch) {
        if ((s = grow_int_array(&c->perm, (size_t)batch)) ||
            (s = grow_int_array(&c->steps_before, (size_t)batch + 1)))
            return s;
        c->capacity_batch = batch;
    }
    if (steps > c->capacity_steps || !c->offsets) {
        if ((s = grow_int_array(&c->batch_sizes, (size_t)steps + 1)) ||
            (s = grow_int_array(&c->offsets, (size_t)steps + 1)) ||
            (s = grow_int_array(&c->counts, (size_t)steps + 1)))
            return s;
        c->capacity_steps = steps;
    }
    int *counts = c->counts;
    for (int len = 0; len <= steps; len++) counts[len] = 0;
    for (int b = 0; b < batch; b++) counts[lengths ? lengths[b] : steps]++;
    /* counts[len] becomes the first sorted position of that length. */
    int position = 0;
    for (int len = steps; len >= 0; len--) {
        int n = counts[len];
        counts[len] = position;
        position += n;
    }
    for (int b = 0; b < batch; b++) c->perm[counts[lengths ? lengths[b] : steps]++] = b;
    c->offsets[0] = 0;
    int active = batch;
    for (int t = 0; t < steps; t++) {
        while (active > 0 && (lengths ? lengths[c->perm[active - 1]] : steps) <= t) active--;
        c->batch_sizes[t] = active;
        c->offsets[t + 1] = c->offsets[t] + active;
    }
    c->steps_before[0] = 0;
    for (int r = 0; r < batch; r++)
        c->steps_before[r + 1] = c->steps_before[r] + (lengths ? lengths[c->perm[r]] : steps);
    c->steps = steps;
    c->batch = batch;
    c->rows = c->offsets[steps];
    c->padded_is_packed = c->rows == steps * batch;
    for (int b = 0; b < batch && c->padded_is_packed; b++) c->padded_is_packed = c->perm[b] == b;
    return EL_OK;
}

static el_status alloc_layer_arrays(el_rnn_cache *c, int layers, int tracks)
{
    if (c->layer_slots == layers && c->track_slots == tracks) return EL_OK;
    free_layer_arrays(c);
    c->out = el__alloc_zero((size_t)layers, sizeof *c->out);
    c->dropped = el__alloc_zero((size_t)layers, sizeof *c->dropped);
    c->mask = el__alloc_zero((size_t)layers, sizeof *c->mask);
    c->tracks = el__alloc_zero((size_t)tracks, sizeof *c->tracks);
    c->packs = el__alloc_zero((size_t)tracks * 2, sizeof *c->packs);
    if (!c->out || !c->dropped || !c->mask || !c->tracks || !c->packs) {
        free_layer_arrays(c);
        return el__fail(EL_ERR_NOMEM, "el_rnn_forward: out of memory");
    }
    c->layer_slots = layers;
    c->track_slots = tracks;
    return EL_OK;
}

static el_status ensure2(el_tensor *t, int rows, int cols)
{
    return el_tensor_ensure(t, 2, (int[]){rows, cols});
}

/* Sizes every buffer forward writes for this batch shape. */
static el_status size_forward_buffers(el_rnn_cache *c, const el_rnn_config *cfg)
{
    int L = cfg->num_layers, D = directions(cfg), H = cfg->hidden_size;
    int G = el_cell_gates(cfg->cell) * H, N = c->rows, B = c->batch;
    el_status s = alloc_layer_arrays(c, L, L * D);
    if (!s && !c->one_hot) s = ensure2(&c->x, N, cfg->input_size);
    if (!s && c->one_hot && N > c->capacity_ids) {
        s = grow_int_array(&c->ids, (size_t)N);
        if (!s) c->capacity_ids = N;
    }
    for (int d = 0; d < D && c->one_hot && !s; d++)
        s = ensure2(&c->w_ih_rows[d], cfg->input_size, G);
    if (!s) s = ensure2(&c->h, B, H);
    if (!s) s = ensure2(&c->c, B, H);
    if (!s) s = ensure2(&c->gh, B, G);
    for (int l = 0; l < L && !s; l++) {
        s = ensure2(&c->out[l], N, D * H);
        if (!s && c->dropout_active && l < L - 1) {
            s = ensure2(&c->dropped[l], N, D * H);
            if (!s) s = ensure2(&c->mask[l], N, D * H);
        }
    }
    for (int i = 0; i < L * D && !s; i++) {
        rnn_track *t = &c->tracks[i];
        s = ensure2(&t->gates, N, G);
        if (!s) s = ensure2(&t->hprev, N, H);
        if (!s && cfg->cell == EL_CELL_GRU) s = ensure2(&t->hn_gate, N, H);
        if (!s && cfg->cell == EL_CELL_LSTM) s = ensure2(&t->cprev, N, H);
        if (!s && cfg->cell == EL_CELL_LSTM) s = ensure2(&t->tanh_c, N, H);
    }
    return s;
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

/* A copy between a (T, B, width) padded tensor and the packed layout, split
 * by steps among the threads: a serial copy of every step's rows left the
 * other threads idle long enough to fall asleep before the next task. */
typedef struct row_copy {
    const el_rnn_cache *c;
    const float *from;
    float *to;
    int width;
    int to_padded; /* 0: padded -> packed; 1: packed -> padded, padded steps set to 0 */
} row_copy;

static void row_copy_task(void *context, int index, int count)
{
    const row_copy *copy = context;
    const el_rnn_cache *c = copy->c;
    size_t row_bytes = (size_t)copy->width * sizeof(float);
    int first, end;
    el__split(c->steps, index, count, &first, &end);
    for (int t = first; t < end; t++) {
        for (int r = 0; r < c->batch; r++) {
            size_t padded_row = ((size_t)t * c->batch + c->perm[r]) * copy->width;
            if (r >= c->batch_sizes[t]) {
                if (copy->to_padded) memset(copy->to + padded_row, 0, row_bytes);
                continue;
            }
            size_t packed_row = (size_t)(c->offsets[t] + r) * copy->width;
            if (copy->to_padded)
                memcpy(copy->to + padded_row, copy->from + packed_row, row_bytes);
            else
                memcpy(copy->to + packed_row, copy->from + padded_row, row_bytes);
        }
    }
}

static void copy_rows_between(const el_rnn_cache *c, const float *from, float *to, int width,
                              int to_padded)
{
    row_copy copy = {c, from, to, width, to_padded};
    /* Below 256 KiB a copy takes less time than waking a thread. */
    int single = (size_t)c->steps * c->batch * width < 65536;
    el__parallel_run(row_copy_task, &copy, single ? 0 : EL__PARTS_PER_THREAD);
}

static void pack_rows(const el_rnn_cache *c, const float *padded, float *packed, int width)
{
    copy_rows_between(c, padded, packed, width, 0);
}

static void unpack_rows(const el_rnn_cache *c, const float *packed, float *padded, int width)
{
    copy_rows_between(c, packed, padded, width, 1);
}

/* Between the (layers*D, B, H) state tensors and the sorted (B, H) buffers,
 * for the sorted rows [first, end). */
static void gather_state(const el_rnn_cache *c, const el_tensor *state, int slot, float *sorted,
                         int hidden, int first, int end)
{
    for (int r = first; r < end; r++) {
        float *dst = sorted + (size_t)r * hidden;
        if (state)
            memcpy(dst, state->data + ((size_t)slot * c->batch + c->perm[r]) * hidden,
                   (size_t)hidden * sizeof(float));
        else
            memset(dst, 0, (size_t)hidden * sizeof(float));
    }
}

static void scatter_state(const el_rnn_cache *c, const float *sorted, el_tensor *state, int slot,
                          int hidden, int first, int end)
{
    if (!state) return;
    for (int r = first; r < end; r++)
        memcpy(state->data + ((size_t)slot * c->batch + c->perm[r]) * hidden,
               sorted + (size_t)r * hidden, (size_t)hidden * sizeof(float));
}

/* The first sorted row of the part that begins share / count of the way
 * through all the sequences' steps; the last part ends after every row,
 * the empty sequences included (their final state is the initial one). */
static int row_at_share(const el_rnn_cache *c, int share, int count)
{
    if (share >= count) return c->batch;
    long long target = (long long)c->rows * share;
    int r = 0;
    while (r < c->batch && (long long)c->steps_before[r] * count < target) r++;
    return r;
}

/* The sorted rows [first, end) whose time loop part index of count runs.
 * A part takes a block of neighbouring sequences, not every count-th one,
 * so that its rows of each step lie together: with rows interleaved, the
 * rows a part read and wrote were whole pages apart, and the LSTM's
 * forward loop at hidden 128 ran 20-30% slower on two threads.  The
 * sequences are sorted by length, so the blocks are cut where they hold
 * equal numbers of steps rather than of sequences. */
static void part_rows(const el_rnn_cache *c, int index, int count, int *first, int *end)
{
    *first = row_at_share(c, index, count);
    *end = row_at_share(c, index + 1, count);
}

/* How many of the sorted rows [first, end) step t runs: none for a t
 * outside [0, T), the step before the first or after the last. */
static int rows_at_step(const el_rnn_cache *c, int t, int first, int end)
{
    if (t < 0 || t >= c->steps) return 0;
    int n = c->batch_sizes[t] < end ? c->batch_sizes[t] : end;
    return n > first ? n - first : 0;
}

/* The input of layer l as forward saw it: (N, width). */
static const float *layer_input(const el_rnn_cache *c, int l, int *width)
{
    if (l == 0) {
        *width = c->one_hot ? c->config.input_size : el_tensor_cols(&c->x);
        return c->one_hot ? NULL : c->x.data;
    }
    *width = el_tensor_cols(&c->out[l - 1]);
    return c->dropout_active ? c->dropped[l - 1].data : c->out[l - 1].data;
}

/* One layer and direction of a forward or backward call, shared by the
 * threads that run it. */
typedef struct direction_pass {
    el_rnn *rnn;
    el_rnn_cache *c;
    int layer, dir;
    const el_tensor *h0, *c0; /* forward */
    el_tensor *hn, *cn;
    float *out;        /* forward: (N, D*H) the layer's outputs */
    const float *dout; /* backward: (N, D*H) gradient of the layer's outputs */
    float *din;        /* backward: (N, in) gradient of its input; NULL: not wanted */
    float beta;        /* 0: din is written, 1: added to */
    int panels;        /* the weight gradients come from dgx_panels (weights_from_panels) */
    const el_tensor *dhn, *dcn;
    el_tensor *dh0, *dc0;
} direction_pass;

/* Parts per thread for a time loop: each part multiplies its rows by the
 * whole of W_hh at every step, which stays in the core's cache (2 MiB of
 * L2 on the machines this was tuned on) up to about 1 MiB; past that every
 * part streams it from memory again, and at hidden 1024 a second part per
 * thread cost 10% (the LSTM on two threads). */
static int time_loop_parts(const el_rnn_cache *c)
{
    size_t weight = (size_t)el_cell_gates(c->config.cell) * c->config.hidden_size *
                    c->config.hidden_size * sizeof(float);
    return weight <= ((size_t)1 << 20) ? EL__PARTS_PER_THREAD : 1;
}

static int too_small_to_split(const el_rnn_cache *c, int in)
{
    int G = el_cell_gates(c->config.cell) * c->config.hidden_size;
    return 2.0 * c->rows * G * (in + c->config.hidden_size) < EL__PARALLEL_FLOPS;
}

/* The input projection of every step at once, split by rows. */
static void project_task(void *context, int index, int count)
{
    const direction_pass *p = context;
    const el_rnn_cache *c = p->c;
    int G = el_cell_gates(c->config.cell) * c->config.hidden_size, in, begin, end;
    const float *input = layer_input(c, p->layer, &in);
    const rnn_track *track = &c->tracks[p->layer * directions(&c->config) + p->dir];
    float *gates = track->gates.data;
    el__split(c->rows, index, count, &begin, &end);
    if (!input) { /* one-hot: the product is W_ih's column of each id */
        const float *rows = c->w_ih_rows[p->dir].data;
        for (int r = begin; r < end; r++)
            memcpy(gates + (size_t)r * G, rows + (size_t)c->ids[r] * G, (size_t)G * sizeof(float));
        return;
    }
    el__gemm_packed(end - begin, input + (size_t)begin * in, in, &track->w_ih_t, 0.0f,
                    gates + (size_t)begin * G, G);
}

/* The time loop over one part's sequences (part_rows).  A sequence's steps
 * depend only on its own earlier steps, so the threads never wait for each
 * other here, and the results do not depend on how the rows are split. */
static void forward_steps_task(void *context, int index, int count)
{
    const direction_pass *p = context;
    el_rnn_cache *c = p->c;
    const el_rnn_config *cfg = &c->config;
    int D = directions(cfg), H = cfg->hidden_size, G = el_cell_gates(cfg->cell) * H;
    int lstm = cfg->cell == EL_CELL_LSTM, slot = p->layer * D + p->dir;
    const el_rnn_weights *w = &p->rnn->layers[slot];
    rnn_track *track = &c->tracks[slot];
    int first, end;
    part_rows(c, index, count, &first, &end);
    float *h = c->h.data + (size_t)first * H, *cs = c->c.data + (size_t)first * H;
    float *gh = c->gh.data + (size_t)first * G;
    gather_state(c, p->h0, slot, c->h.data, H, first, end);
    if (lstm) gather_state(c, p->c0, slot, c->c.data, H, first, end);
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
        int mine = rows_at_step(c, t, first, end);
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
        int going_on = rows_at_step(c, next, first, end);
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
        el__gemm_packed(multiplied, track->hprev.data + off * H, H, &track->w_hh_t, 0.0f, gh, G);
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
    scatter_state(c, c->h.data, p->hn, slot, H, first, end);
    if (lstm) scatter_state(c, c->c.data, p->cn, slot, H, first, end);
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

/* Up to this many floats of weights (1 MiB), a pass packs them on one
 * thread.  A variable only for the test hook. */
static size_t pack_alone_floats = (size_t)1 << 18;

size_t el__rnn_set_pack_alone_limit(size_t floats)
{
    size_t old = pack_alone_floats;
    pack_alone_floats = floats;
    return old;
}

/* Packs the weights once for all of a pass's products with them (each step
 * multiplies a few rows by W_hh, and cblas_sgemm would re-pack it every
 * time): W_ihᵀ and W_hhᵀ for forward, W_ih and W_hh for backward.  W_ih is
 * left out where it is not multiplied: layer 0's for ids, and for the input
 * gradient when with_input_grad is 0.  All the buffers are sized before
 * anything is written, so that running out of memory here changes
 * nothing.  Split by panels over the threads: in the RNN's forward pass
 * at hidden 1024 (T = 32, B = 64), packing took 2.3 ms on one thread and
 * on two alike (7% of the forward pass on two threads), and 1.1-1.4 ms
 * once split (W_hhᵀ alone packs in 0.7 ms where it was just packed). */
static el_status pack_weights(el_rnn *rnn, el_rnn_cache *c, int for_backward, int with_input_grad)
{
    int D = directions(&rnn->config), count = rnn->config.num_layers * D, n = 0, panels = 0;
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
    el__parallel_run(pack_task, &k, floats <= pack_alone_floats ? 0 : EL__PARTS_PER_THREAD);
    return EL_OK;
}

static void forward_direction(el_rnn *rnn, el_rnn_cache *c, int l, int d, float *out,
                              const el_tensor *h0, const el_tensor *c0, el_tensor *hn,
                              el_tensor *cn)
{
    direction_pass pass = {.rnn = rnn,
                           .c = c,
                           .layer = l,
                           .dir = d,
                           .out = out,
                           .h0 = h0,
                           .c0 = c0,
                           .hn = hn,
                           .cn = cn};
    int in;
    layer_input(c, l, &in);
    int single = too_small_to_split(c, in);
    el__parallel_run(project_task, &pass, single ? 0 : EL__PARTS_PER_THREAD);
    el__parallel_run(forward_steps_task, &pass, single ? 0 : time_loop_parts(c));
}

static el_status check_forward_args(const char *fn, const el_rnn *rnn, int T, int B,
                                    const int *lengths, const el_tensor *h0, const el_tensor *c0,
                                    const el_tensor *y, const el_tensor *hn, const el_tensor *cn)
{
    const el_rnn_config *cfg = &rnn->config;
    int D = directions(cfg), H = cfg->hidden_size;
    int states = cfg->num_layers * D;
    el_status s = check_shape3(fn, "y", y, T, B, D * H);
    if (!s && h0) s = check_shape3(fn, "h0", h0, states, B, H);
    if (!s && hn) s = check_shape3(fn, "hn", hn, states, B, H);
    if (!s && (c0 || cn) && cfg->cell != EL_CELL_LSTM)
        return el__fail(EL_ERR_INVALID, "%s: a cell state was given to a %s layer", fn,
                        el_cell_name(cfg->cell));
    if (!s && c0) s = check_shape3(fn, "c0", c0, states, B, H);
    if (!s && cn) s = check_shape3(fn, "cn", cn, states, B, H);
    for (int b = 0; !s && lengths && b < B; b++)
        if (lengths[b] < 0 || lengths[b] > T)
            return el__fail(EL_ERR_INVALID, "%s: lengths[%d] is %d, outside [0, %d]", fn, b,
                            lengths[b], T);
    return s;
}

/* Packs the input, x (T, B, in) or one-hot ids (T, B), into the cache. */
static void pack_input(el_rnn *rnn, el_rnn_cache *c, const el_tensor *x, const int *ids)
{
    if (x) {
        pack_rows(c, x->data, c->x.data, rnn->config.input_size);
        return;
    }
    for (int t = 0; t < c->steps; t++)
        for (int r = 0; r < c->batch_sizes[t]; r++)
            c->ids[c->offsets[t] + r] = ids[(size_t)t * c->batch + c->perm[r]];
    int G = el_cell_gates(rnn->config.cell) * rnn->config.hidden_size, in = rnn->config.input_size;
    for (int d = 0; d < directions(&rnn->config); d++) {
        const float *w = rnn->layers[d].weight_ih.value.data;
        float *rows = c->w_ih_rows[d].data;
        for (int g = 0; g < G; g++)
            for (int v = 0; v < in; v++) rows[(size_t)v * G + g] = w[(size_t)g * in + v];
    }
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
    int L = cfg->num_layers, D = directions(cfg);
    int dropout_active = rnn->training && cfg->dropout > 0 && L > 1;
    if (dropout_active) EL_REQUIRE(rng, fn);
    cache->forward_done = 0;
    cache->config = *cfg;
    cache->dropout_active = dropout_active;
    cache->one_hot = ids != NULL;
    s = plan_batch(cache, T, B, lengths);
    if (!s) s = size_forward_buffers(cache, cfg);
    if (!s) s = pack_weights(rnn, cache, 0, 0);
    if (s) return s;
    pack_input(rnn, cache, x, ids);
    /* Where the layouts agree, the last layer writes y itself instead of a
     * copy of it (backward never reads it back), unless y shares memory
     * with a state that is still to be read or written. */
    int direct = cache->padded_is_packed && !overlap(y, h0) && !overlap(y, c0) && !overlap(y, hn) &&
                 !overlap(y, cn);
    el_dropout dropout = {cfg->dropout, 1};
    for (int l = 0; l < L; l++) {
        float *out = l == L - 1 && direct ? y->data : cache->out[l].data;
        for (int d = 0; d < D; d++) forward_direction(rnn, cache, l, d, out, h0, c0, hn, cn);
        if (dropout_active && l < L - 1) {
            s = el_dropout_forward(&dropout, rng, &cache->out[l], &cache->dropped[l],
                                   &cache->mask[l]);
            if (s) return s;
        }
    }
    if (!direct) unpack_rows(cache, cache->out[L - 1].data, y->data, D * cfg->hidden_size);
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
    EL_REQUIRE(y, fn);
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
    EL_REQUIRE(y, fn);
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
    int D = directions(cfg), H = cfg->hidden_size, G = el_cell_gates(cfg->cell) * H;
    int lstm = cfg->cell == EL_CELL_LSTM, gru = cfg->cell == EL_CELL_GRU;
    int slot = p->layer * D + p->dir;
    rnn_track *track = &c->tracks[slot];
    float *dgh = gru ? c->dgh.data : c->dgx.data;
    int first, end;
    part_rows(c, index, count, &first, &end);
    gather_state(c, p->dhn, slot, c->h.data, H, first, end);
    if (lstm) gather_state(c, p->dcn, slot, c->c.data, H, first, end);
    cell_rows step = {.cell = cfg->cell,
                     .hidden = H,
                     .h = c->h.data + (size_t)first * H,
                     .c = c->c.data + (size_t)first * H,
                     .out_stride = D * H};
    for (int i = 0; i < c->steps; i++) {
        int t = p->dir == 0 ? c->steps - 1 - i : i;
        int mine = rows_at_step(c, t, first, end);
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
        int carried = rows_at_step(c, p->dir == 0 ? t - 1 : t + 1, first, end);
        int multiplied = p->dh0 || carried > mine ? mine : carried;
        el__gemm_packed(multiplied, step.dgh, G, &track->w_hh, 1.0f, step.h, H);
    }
    scatter_state(c, c->h.data, p->dh0, slot, H, first, end);
    if (lstm) scatter_state(c, c->c.data, p->dc0, slot, H, first, end);
}

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

/* Up to this size of a layer's input and hprev together, its weight
 * gradients go through weights_from_panels.  The packed kernel reads all of
 * them again for every panel of dG, well while they stay in L2 (2 MiB per
 * core on the machines this was tuned on) and not once they spill: with
 * T = 32 and B = 64, one thread, the LSTM's backward pass took 6-15% less
 * time at hidden 128 and 256 (1.5 and 2.6 MiB), the same at 512 (4.7 MiB)
 * and 35% more at 1024 (8.9 MiB).  A variable only for the test hook. */
static size_t panel_gradients_bytes = (size_t)4 << 20;

size_t el__rnn_set_panel_limit(size_t bytes)
{
    size_t old = panel_gradients_bytes;
    panel_gradients_bytes = bytes;
    return old;
}

/* Whether layer l's weight gradients go through weights_from_panels. */
static int uses_panels(const el_rnn_cache *c, int l)
{
    int in;
    const float *input = layer_input(c, l, &in);
    size_t floats = (size_t)((input ? in : 0) + c->config.hidden_size) * c->rows;
    return floats * sizeof(float) <= panel_gradients_bytes;
}

/* Up to this many gate columns (eight panels), weights_from_panels reads a
 * layer's input and states as they lie; for more, it reads them transposed
 * by transpose_task.  In place, the kernel's tiles take a few floats from a
 * cache line of X at each step of k, and again for every panel of dG;
 * transposed, they read whole lines, but the transposes are a pass over
 * cold memory.  Against transposing, one thread, T = 32, B = 64: at
 * hidden 128 the backward pass took 11-13% less time (RNN), 4-5% (GRU)
 * and 3% (LSTM, eight panels); at hidden 256, 7-16% less for the RNN (four
 * panels) and 4-5% more for the GRU and the LSTM (12 and 16).  A variable
 * only for the test hook. */
static int in_place_gate_limit = 8 * EL__PANEL;

int el__rnn_set_in_place_limit(int gates)
{
    int old = in_place_gate_limit;
    in_place_gate_limit = gates;
    return old;
}

static int reads_in_place(const el_rnn_cache *c)
{
    return el_cell_gates(c->config.cell) * c->config.hidden_size <= in_place_gate_limit;
}

/* The row stride of inputs_t for N columns: a cache line more than N
 * rounded up to one, so that its rows do not all fall in the same L1 sets
 * when N is a multiple of 1024 (T = 32, B = 64 is 2048), as the transposes
 * write them and the kernel's tiles read six at a time.  The transposes
 * alone took 20-30% less time. */
static int transposed_stride(int N) { return (N + 15) / 16 * 16 + 16; }

/* For weights_from_panels, where it does not read them in place, split by
 * rows: inputs_t is the layer's input transposed (none for ids) above the
 * steps' start states transposed. */
static void transpose_task(void *context, int index, int count)
{
    const direction_pass *p = context;
    const el_rnn_cache *c = p->c;
    int D = directions(&c->config), H = c->config.hidden_size, N = c->rows, in, r0, r1;
    const float *input = layer_input(c, p->layer, &in);
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
 * row-major any more.  At hidden 128 on one thread the backward pass took
 * 12% less time for the LSTM and 22% for the GRU. */
static void weights_from_panels(const el_rnn_cache *c, const float *x, int ld, int in_place,
                                int width, const el__packed *dg, int g0, int g1, float *grad,
                                float *bias, float *bias2)
{
    int G = dg->n;
    el__packed columns = el__packed_columns(dg, g0, g1);
    el__gemm_packed_sums(width, x, ld, in_place, &columns, 0.0f, c->dw_t.data + g0, G);
    const float *sums = c->dw_t.data + (size_t)width * G, *weights = c->dw_t.data;
    for (int g = g0; g < g1; g++) {
        for (int v = 0; v < width; v++) grad[(size_t)g * width + v] += weights[(size_t)v * G + g];
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
    int in_place = reads_in_place(c), ld = c->inputs_t.shape[1];
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
static void gradients_task(void *context, int index, int count)
{
    const direction_pass *p = context;
    const el_rnn_cache *c = p->c;
    int slot = p->layer * directions(&c->config) + p->dir, r0, r1;
    layer_grads l = {.c = c,
                     .w = &p->rnn->layers[slot],
                     .H = c->config.hidden_size,
                     .G = el_cell_gates(c->config.cell) * c->config.hidden_size,
                     .N = c->rows,
                     .hprev = c->tracks[slot].hprev.data,
                     .gru = c->config.cell == EL_CELL_GRU};
    l.input = layer_input(c, p->layer, &l.in);
    if (p->panels)
        parameter_gradients_from_panels(&l, index, count);
    else
        parameter_gradients_from_rows(&l, index, count);
    if (!p->din) return; /* the first layer's input gradient, not wanted */
    el__split(l.N, index, count, &r0, &r1);
    const el__packed *w_ih = &c->tracks[slot].w_ih;
    float *din = p->din + (size_t)r0 * l.in;
    if (p->panels)
        el__gemm_packed_panels(r1 - r0, &c->dgx_panels, r0, w_ih, p->beta, din, l.in);
    else
        el__gemm_packed(r1 - r0, c->dgx.data + (size_t)r0 * l.G, l.G, w_ih, p->beta, din, l.in);
}

static void backward_direction(el_rnn *rnn, el_rnn_cache *c, int l, int d, const float *dout,
                               float *din, float beta, const el_tensor *dhn, const el_tensor *dcn,
                               el_tensor *dh0, el_tensor *dc0)
{
    direction_pass pass = {.rnn = rnn,
                           .c = c,
                           .layer = l,
                           .dir = d,
                           .dout = dout,
                           .din = din,
                           .beta = beta,
                           .dhn = dhn,
                           .dcn = dcn,
                           .dh0 = dh0,
                           .dc0 = dc0,
                           .panels = uses_panels(c, l)};
    int in;
    layer_input(c, l, &in);
    int single = too_small_to_split(c, in);
    el__parallel_run(backward_steps_task, &pass, single ? 0 : time_loop_parts(c));
    if (pass.panels && !reads_in_place(c))
        el__parallel_run(transpose_task, &pass, single ? 0 : EL__PARTS_PER_THREAD);
    /* One part per thread: each part's OpenBLAS products pack all of the
     * layer's inputs again, and two parts per thread were 3-7% slower at
     * hidden 128. */
    el__parallel_run(gradients_task, &pass, single ? 0 : 1);
}

static el_status check_backward_args(const el_rnn *rnn, const el_rnn_cache *c, const el_tensor *dy,
                                     const el_tensor *dhn, const el_tensor *dcn,
                                     const el_tensor *dx, const el_tensor *dh0,
                                     const el_tensor *dc0)
{
    const char *fn = "el_rnn_backward";
    const el_rnn_config *cfg = &rnn->config;
    if (!c->forward_done)
        return el__fail(EL_ERR_STATE, "%s: no forward call to backpropagate through", fn);
    if (memcmp(&c->config, cfg, sizeof *cfg) != 0)
        return el__fail(EL_ERR_STATE,
                        "%s: the cache was filled by a layer of another configuration", fn);
    int T = c->steps, B = c->batch, D = directions(cfg), H = cfg->hidden_size;
    int states = cfg->num_layers * D;
    el_status s = EL_OK;
    if (dy) s = check_shape3(fn, "dy", dy, T, B, D * H);
    if (!s && dx) s = check_shape3(fn, "dx", dx, T, B, cfg->input_size);
    if (!s && dhn) s = check_shape3(fn, "dhn", dhn, states, B, H);
    if (!s && dh0) s = check_shape3(fn, "dh0", dh0, states, B, H);
    if (!s && (dcn || dc0) && cfg->cell != EL_CELL_LSTM)
        return el__fail(EL_ERR_INVALID, "%s: a cell state gradient was given to a %s layer", fn,
                        el_cell_name(cfg->cell));
    if (!s && dcn) s = check_shape3(fn, "dcn", dcn, states, B, H);
    if (!s && dc0) s = check_shape3(fn, "dc0", dc0, states, B, H);
    return s;
}

/* Sizes dgx and dgh, which hold every step's rows unless all layers take
 * their weight gradients from panels (then one step's at a time), and the
 * buffers of weights_from_panels for the layers that do. */
static el_status size_gate_gradients(el_rnn_cache *c)
{
    const el_rnn_config *cfg = &c->config;
    int H = cfg->hidden_size, G = el_cell_gates(cfg->cell) * H, widest = -1, all = 1;
    for (int l = 0; l < cfg->num_layers; l++) {
        int in;
        const float *input = layer_input(c, l, &in);
        if (!uses_panels(c, l))
            all = 0;
        else if ((input ? in : 0) > widest)
            widest = input ? in : 0;
    }
    /* A layer that uses panels takes its step's rows at their sorted
     * positions, below B, which may exceed N where sequences are empty. */
    int rows = all || c->batch > c->rows ? c->batch : c->rows;
    el_status s = ensure2(&c->dgx, rows, G);
    if (!s && cfg->cell == EL_CELL_GRU) s = ensure2(&c->dgh, rows, G);
    if (s || widest < 0) return s;
    s = el__packed_reserve(&c->dgx_panels, c->rows, G);
    if (!s && cfg->cell == EL_CELL_GRU) s = el__packed_reserve(&c->dgh_panels, c->rows, G);
    if (!s && !reads_in_place(c)) s = ensure2(&c->inputs_t, widest + H, transposed_stride(c->rows));
    if (!s) s = ensure2(&c->dw_t, (widest > H ? widest : H) + 1, G);
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
    int L = cfg->num_layers, D = directions(cfg), H = cfg->hidden_size;
    int G = el_cell_gates(cfg->cell) * H, N = cache->rows;
    int width = cfg->input_size > D * H ? cfg->input_size : D * H;
    if (cache->one_hot && dx)
        return el__fail(EL_ERR_INVALID,
                        "%s: the input was ids (el_rnn_forward_ids), which have no gradient", fn);
    if (cache->one_hot && (s = ensure2(&cache->dw_ih_rows, cfg->input_size, G))) return s;
    if ((s = size_gate_gradients(cache)) || (s = ensure2(&cache->dout, N, width)) ||
        (s = ensure2(&cache->din, N, width)) || (s = pack_weights(rnn, cache, 1, dx != NULL)))
        return s;
    /* Where the layouts agree, the last layer reads dy itself and the first
     * writes dx itself, instead of copies, unless they share memory with
     * something written or read in between. */
    int direct_dy =
        cache->padded_is_packed && dy && !overlap(dy, dx) && !overlap(dy, dh0) && !overlap(dy, dc0);
    int direct_dx = cache->padded_is_packed && dx && !overlap(dx, dy) && !overlap(dx, dhn) &&
                    !overlap(dx, dcn) && !overlap(dx, dh0) && !overlap(dx, dc0);
    float *dout = cache->dout.data, *din = cache->din.data;
    if (dy && !direct_dy)
        pack_rows(cache, dy->data, dout, D * H);
    else if (!dy)
        memset(dout, 0, (size_t)N * D * H * sizeof(float));
    el_dropout dropout = {cfg->dropout, 1};
    for (int l = L - 1; l >= 0; l--) {
        const float *layer_dout = l == L - 1 && direct_dy ? dy->data : dout;
        float *layer_din = l > 0 ? din : !dx ? NULL : direct_dx ? dx->data : din;
        for (int d = 0; d < D; d++)
            backward_direction(rnn, cache, l, d, layer_dout, layer_din, d == 0 ? 0.0f : 1.0f, dhn,
                               dcn, dh0, dc0);
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
    if (dx && !direct_dx) unpack_rows(cache, din, dx->data, cfg->input_size);
    return EL_OK;
}
