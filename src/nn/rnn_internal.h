/* The recurrent layers' internals, shared by rnn.c (the API and the
 * forward and backward drivers), rnn_batch.c (the packed layout and the
 * cache that holds it), rnn_grad.c (the weight gradients) and
 * rnn_tuning.c (the thresholds that choose how each pass runs), and by
 * rnn_stepper.c for the sizing of outputs.  Not installed.
 *
 * Layout.  Sequences are sorted by decreasing length (stably) and packed as
 * PyTorch's PackedSequence is: step t holds the batch_sizes[t] longest
 * sequences, contiguous, at row offsets[t] of an (N, ...) matrix, N being
 * the sum of the lengths.  So every per-step GEMM works on a contiguous
 * prefix of rows, padding costs nothing, and the input projection and the
 * weight gradients are each one GEMM over all N rows. */
#ifndef ELMAN_RNN_INTERNAL_H
#define ELMAN_RNN_INTERNAL_H

#include <stddef.h>

#include "elman/rnn.h"
#include "core/packed_gemm.h"
#include "nn/rnn_reuse.h"

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

/* A weight a pass packs (rnn.c's pack_weights), and into which buffer. */
typedef struct weight_pack {
    el__packed *into;
    const float *w;
} weight_pack;

struct el_rnn_cache {
    el_rnn_config config;   /* of the last forward */
    int steps, batch, rows; /* T, B, N */
    int forward_done;
    int backward_done;  /* the last forward was backpropagated: another backward is refused */
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
    /* The packed weights: what this cache's own tracks hold for forward
     * [0] and backward [1] (PACKED_NONE, PACKED_ALL or PACKED_BUT_IH0, the
     * latter without layer 0's W_ih), the cache the next call may take
     * them from (el__rnn_reuse_packed, rnn_reuse.h; cleared by the call), and the
     * tracks the running call reads them from (its own or the owner's). */
    int packed[2];
    const el_rnn_cache *reuse;
    const rnn_track *forward_packs, *backward_packs;
    int layer_slots; /* layers the arrays above were made for */
    int track_slots;
    el_tensor h, c;     /* (B, H) the running state, or its gradient */
    el_tensor gh;       /* (B, G) the state pre-activations of one step */
    el_tensor dgx, dgh; /* (N, G), or (B, G) where every layer uses panels */
    /* For the weight gradients from panels (rnn_grad.c): */
    el__packed dgx_panels, dgh_panels; /* (N, G) dgx and dgh, packed by the backward steps */
    el_tensor inputs_t;  /* (in + H, N + pad) a layer's input and hprev transposed, where
                            they are not read in place (el__rnn_transposed_stride) */
    el_tensor dw_t;      /* (max(in, H) + 1, G) a weight gradient, transposed, and a bias's */
    el_tensor dout, din; /* (N, max width) gradients flowing between layers */
};

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
    int panels;        /* the weight gradients come from dgx_panels (rnn_grad.c) */
    const el_tensor *dhn, *dcn;
    el_tensor *dh0, *dc0;
} direction_pass;

/* What a cache's own packed weights hold (el_rnn_cache's packed). */
enum { PACKED_NONE, PACKED_BUT_IH0, PACKED_ALL };

/* ---- the packed layout (rnn_batch.c) ----------------------------------- */

/* Sorts the sequences by decreasing length (stably, by counting) and lays
 * out the packed steps. */
el_status el__rnn_plan_batch(el_rnn_cache *c, int steps, int batch, const int *lengths);

/* Sizes every buffer forward writes for this batch shape. */
el_status el__rnn_size_forward_buffers(el_rnn_cache *c, const el_rnn_config *cfg);

/* Copies between a (T, B, width) padded tensor and the packed layout;
 * packed to padded sets the padded steps to 0. */
void el__rnn_padded_to_packed(const el_rnn_cache *c, const float *padded, float *packed, int width);
void el__rnn_packed_to_padded(const el_rnn_cache *c, const float *packed, float *padded, int width);

/* Packs the input, x (T, B, in) or one-hot ids (T, B), into the cache. */
void el__rnn_pack_input(el_rnn *rnn, el_rnn_cache *c, const el_tensor *x, const int *ids);

/* Between the (layers*D, B, H) state tensors (NULL: zeros, or nothing to
 * write) and the sorted (B, H) buffers, for the sorted rows [first, end). */
void el__rnn_gather_state(const el_rnn_cache *c, const el_tensor *state, int slot, float *sorted,
                          int hidden, int first, int end);
void el__rnn_scatter_state(const el_rnn_cache *c, const float *sorted, el_tensor *state, int slot,
                           int hidden, int first, int end);

/* The sorted rows [first, end) whose time loop part index of count runs. */
void el__rnn_part_rows(const el_rnn_cache *c, int index, int count, int *first, int *end);

/* How many of the sorted rows [first, end) step t runs (0 outside [0, T)). */
int el__rnn_rows_at_step(const el_rnn_cache *c, int t, int first, int end);

/* The input of layer l as forward saw it: (N, width); NULL for ids. */
const float *el__rnn_layer_input(const el_rnn_cache *c, int l, int *width);

/* ---- the weight gradients (rnn_grad.c) --------------------------------- */

/* Sizes dgx, dgh and the buffers of the layers whose weight gradients come
 * from panels. */
el_status el__rnn_size_gate_gradients(el_rnn_cache *c);

/* Tasks over a direction_pass of backward: the transposes of a layer's
 * input and states where the panels do not read them in place, then the
 * parameter gradients and the input gradient. */
void el__rnn_transpose_task(void *context, int index, int count);
void el__rnn_gradients_task(void *context, int index, int count);

/* ---- the thresholds (rnn_tuning.c) ------------------------------------- */

/* Parts per thread (el__parallel_run) for each kind of pass; in is the
 * width of the layer's input. */
int el__rnn_copy_parts(const el_rnn_cache *c, int width);
int el__rnn_rows_parts(const el_rnn_cache *c, int in);
int el__rnn_time_loop_parts(const el_rnn_cache *c, int in);
int el__rnn_gradient_parts(const el_rnn_cache *c, int in);
int el__rnn_pack_parts(size_t floats);

/* Whether layer l's weight gradients come from panels. */
int el__rnn_uses_panels(const el_rnn_cache *c, int l);

/* Whether the panels read a layer's input and states in place. */
int el__rnn_reads_in_place(const el_rnn_cache *c);

/* The row stride of the transposes for N columns. */
int el__rnn_transposed_stride(int N);

#endif
