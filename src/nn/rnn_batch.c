/* The packed layout of a batch (rnn_internal.h): the cache that holds it,
 * the plan of its steps, the copies between it and the caller's padded
 * tensors, and which rows of it each part of a time loop takes. */
#include <string.h>

#include "core/ensure.h"
#include "core/internal.h"
#include "core/packed_gemm.h"
#include "core/parallel.h"
#include "nn/rnn_internal.h"

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
    c->packed[0] = c->packed[1] = PACKED_NONE;
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
el_status el__rnn_plan_batch(el_rnn_cache *c, int steps, int batch, const int *lengths)
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

/* Sizes every buffer forward writes for this batch shape. */
el_status el__rnn_size_forward_buffers(el_rnn_cache *c, const el_rnn_config *cfg)
{
    int L = cfg->num_layers, D = el_rnn_directions(cfg), H = cfg->hidden_size;
    int G = el_cell_gates(cfg->cell) * H, N = c->rows, B = c->batch;
    el_status s = alloc_layer_arrays(c, L, L * D);
    if (!s && !c->one_hot) s = el__ensure2(&c->x, N, cfg->input_size);
    if (!s && c->one_hot && N > c->capacity_ids) {
        s = grow_int_array(&c->ids, (size_t)N);
        if (!s) c->capacity_ids = N;
    }
    for (int d = 0; d < D && c->one_hot && !s; d++)
        s = el__ensure2(&c->w_ih_rows[d], cfg->input_size, G);
    if (!s) s = el__ensure2(&c->h, B, H);
    if (!s) s = el__ensure2(&c->c, B, H);
    if (!s) s = el__ensure2(&c->gh, B, G);
    for (int l = 0; l < L && !s; l++) {
        s = el__ensure2(&c->out[l], N, D * H);
        if (!s && c->dropout_active && l < L - 1) {
            s = el__ensure2(&c->dropped[l], N, D * H);
            if (!s) s = el__ensure2(&c->mask[l], N, D * H);
        }
    }
    for (int i = 0; i < L * D && !s; i++) {
        rnn_track *t = &c->tracks[i];
        s = el__ensure2(&t->gates, N, G);
        if (!s) s = el__ensure2(&t->hprev, N, H);
        if (!s && cfg->cell == EL_CELL_GRU) s = el__ensure2(&t->hn_gate, N, H);
        if (!s && cfg->cell == EL_CELL_LSTM) s = el__ensure2(&t->cprev, N, H);
        if (!s && cfg->cell == EL_CELL_LSTM) s = el__ensure2(&t->tanh_c, N, H);
    }
    return s;
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
    el__parallel_run(row_copy_task, &copy, el__rnn_copy_parts(c, width));
}

void el__rnn_padded_to_packed(const el_rnn_cache *c, const float *padded, float *packed, int width)
{
    copy_rows_between(c, padded, packed, width, 0);
}

void el__rnn_packed_to_padded(const el_rnn_cache *c, const float *packed, float *padded, int width)
{
    copy_rows_between(c, packed, padded, width, 1);
}

/* Between the (layers*D, B, H) state tensors and the sorted (B, H) buffers,
 * for the sorted rows [first, end). */
void el__rnn_gather_state(const el_rnn_cache *c, const el_tensor *state, int slot, float *sorted,
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

void el__rnn_scatter_state(const el_rnn_cache *c, const float *sorted, el_tensor *state, int slot,
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
 * rows a part read and wrote were whole pages apart.  The sequences are
 * sorted by length, so the blocks are cut where they hold equal numbers
 * of steps rather than of sequences. */
void el__rnn_part_rows(const el_rnn_cache *c, int index, int count, int *first, int *end)
{
    *first = row_at_share(c, index, count);
    *end = row_at_share(c, index + 1, count);
}

/* How many of the sorted rows [first, end) step t runs: none for a t
 * outside [0, T), the step before the first or after the last. */
int el__rnn_rows_at_step(const el_rnn_cache *c, int t, int first, int end)
{
    if (t < 0 || t >= c->steps) return 0;
    int n = c->batch_sizes[t] < end ? c->batch_sizes[t] : end;
    return n > first ? n - first : 0;
}

/* The input of layer l as forward saw it: (N, width). */
const float *el__rnn_layer_input(const el_rnn_cache *c, int l, int *width)
{
    if (l == 0) {
        *width = c->one_hot ? c->config.input_size : el_tensor_cols(&c->x);
        return c->one_hot ? NULL : c->x.data;
    }
    *width = el_tensor_cols(&c->out[l - 1]);
    return c->dropout_active ? c->dropped[l - 1].data : c->out[l - 1].data;
}

/* Packs the input, x (T, B, in) or one-hot ids (T, B), into the cache. */
void el__rnn_pack_input(el_rnn *rnn, el_rnn_cache *c, const el_tensor *x, const int *ids)
{
    if (x) {
        el__rnn_padded_to_packed(c, x->data, c->x.data, rnn->config.input_size);
        return;
    }
    for (int t = 0; t < c->steps; t++)
        for (int r = 0; r < c->batch_sizes[t]; r++)
            c->ids[c->offsets[t] + r] = ids[(size_t)t * c->batch + c->perm[r]];
    int G = el_cell_gates(rnn->config.cell) * rnn->config.hidden_size, in = rnn->config.input_size;
    for (int d = 0; d < el_rnn_directions(&rnn->config); d++) {
        const float *w = rnn->layers[d].weight_ih.value.data;
        float *rows = c->w_ih_rows[d].data;
        for (int g = 0; g < G; g++)
            for (int v = 0; v < in; v++) rows[(size_t)v * G + g] = w[(size_t)g * in + v];
    }
}
