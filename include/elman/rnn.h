/* elman: recurrent layers (Elman RNN, GRU, LSTM) over batches of
 * variable-length sequences, with backpropagation through time.
 *
 * Equations, gate order and parameter names are PyTorch's (nn.RNN, nn.GRU,
 * nn.LSTM), so weights move between the two unchanged:
 *
 *   RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)      (or relu)
 *   GRU   r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
 *         z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 *         n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
 *         h' = (1 - z) * n + z * h
 *   LSTM  i, f, o = sigmoid(W_i* x + b_i* + W_h* h + b_h*),  g = tanh(...)
 *         c' = f * c + i * g,   h' = o * tanh(c')
 *
 * weight_ih_l{k}[_reverse] is (gates*H, in), stacking the gates in the order
 * r,z,n (GRU) or i,f,g,o (LSTM); weight_hh_l{k} is (gates*H, H); bias_ih_l{k}
 * and bias_hh_l{k} are (gates*H).  Layer k > 0 reads the D*H outputs of layer
 * k-1 (D = 2 when bidirectional), with dropout between layers in training.
 *
 * Shapes are time-major, as PyTorch's default: x (T, B, in), y (T, B, D*H),
 * h0/hn and c0/cn (layers*D, B, H).  lengths[b] (0..T) is the length of
 * sequence b; steps at or beyond it neither change its state nor receive
 * gradient, its outputs there are 0, and its final state is the one after its
 * last step (for the reverse direction: after step 0), exactly as PyTorch's
 * pack_padded_sequence gives.  NULL lengths means every sequence has length T.
 *
 * Truncated BPTT is a sequence of forward calls, each starting from the
 * previous call's final state, each followed by a backward call that passes
 * no gradient for the final state: the gradient stops at the chunk edge. */
#ifndef ELMAN_RNN_H
#define ELMAN_RNN_H

#include "param.h"
#include "rng.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum el_cell { EL_CELL_RNN_TANH = 0, EL_CELL_RNN_RELU, EL_CELL_GRU, EL_CELL_LSTM } el_cell;

/* Parses "rnn" (tanh), "rnn_tanh", "rnn_relu", "gru" or "lstm". */
EL_API el_status el_cell_parse(const char *text, el_cell *cell);
EL_API const char *el_cell_name(el_cell cell);
/* Gate blocks in the weights: 1 (RNN), 3 (GRU) or 4 (LSTM). */
EL_API int el_cell_gates(el_cell cell);

typedef struct el_rnn_config {
    el_cell cell;
    int input_size;
    int hidden_size;
    int num_layers;    /* 1 or more */
    int bidirectional; /* 0 or 1 */
    float dropout;     /* on the outputs of every layer but the last, in training */
} el_rnn_config;

/* Directions a layer of this configuration runs, D: 2 when bidirectional,
 * else 1.  Its states are (num_layers * D, B, H), its outputs D*H wide. */
EL_API int el_rnn_directions(const el_rnn_config *config);

/* The four parameters of one layer and direction. */
typedef struct el_rnn_weights {
    el_param weight_ih;
    el_param weight_hh;
    el_param bias_ih;
    el_param bias_hh;
} el_rnn_weights;

typedef struct el_rnn {
    el_rnn_config config;
    int training;           /* 1: dropout between layers is active */
    el_rnn_weights *layers; /* num_layers * directions, layer-major */
    /* Where the next forward call's batch sits, for its dropout masks: its
     * row b is row first_row + b, its step t step first_step + t of the
     * whole batch and sequence (el_rnn_set_position; 0 and 0 at init). */
    int first_row, first_step;
} el_rnn;

/* Allocates the parameters, named "<name>.weight_ih_l0" and so on (no prefix
 * when name is NULL or ""), initialised as PyTorch does: U(-1/sqrt(H),
 * 1/sqrt(H)).  rng may be NULL for zeros.  Training mode is on. */
EL_API el_status el_rnn_init(el_rnn *rnn, const char *name, const el_rnn_config *config,
                             el_rng *rng);
EL_API void el_rnn_free(el_rnn *rnn);
/* Appends the parameters in PyTorch's order: per layer, per direction,
 * weight_ih, weight_hh, bias_ih, bias_hh. */
EL_API el_status el_rnn_params(el_rnn *rnn, el_param_list *list);
/* Switches training mode (on != 0: dropout between layers is active) or
 * evaluation mode (no dropout, no rng needed); the same as setting
 * rnn->training.  NULL is ignored. */
EL_API void el_rnn_set_training(el_rnn *rnn, int on);
/* Says where the batch of the next forward calls sits in a larger one, for
 * the dropout masks: its row b is row first_row + b of the whole batch, its
 * step t step first_step + t of the whole sequence.  Dropout's mask of
 * element j of layer l at (row, step) is a keyed draw (el_rng_keyed_uniform)
 * of those global coordinates, the key two draws (el_rng_u64) from the
 * forward call's rng.  So a row's masks do not depend on the other rows,
 * the batch size, T, or whether the sequence runs whole or one step at a
 * time: a data-parallel rank running rows [first_row, ...) of a batch, or a
 * decoder run step by step (first_step = t, each step given a copy of the
 * same generator), gets the masks of the whole batch run at once.  Stays in
 * force until changed; NULL is ignored. */
EL_API void el_rnn_set_position(el_rnn *rnn, int first_row, int first_step);
/* The weights of a layer and direction (0 forward, 1 reverse). */
EL_API el_rnn_weights *el_rnn_layer(el_rnn *rnn, int layer, int direction);

/* What forward keeps for backward, and the workspaces; sized on the first
 * forward call of a batch shape and reused after. */
typedef struct el_rnn_cache el_rnn_cache;
EL_API el_status el_rnn_cache_create(el_rnn_cache **out);
EL_API void el_rnn_cache_free(el_rnn_cache *cache);

/* Runs the layers over x.  h0 and c0 (LSTM only) may be NULL for zeros.
 * The outputs are y (T, B, D*H), hn and cn (layers*D, B, H); each may be
 * NULL when not wanted (a classifier reading only hn passes no y: the
 * layer keeps what backward needs in the cache either way), and each sizes
 * itself: an empty tensor or one of another shape is (re)allocated with
 * el_tensor_ensure, one of the right shape is reused (a view must already
 * have the shape).  rng gives the dropout masks' key (only needed when
 * training with dropout > 0 and more than one layer; then the call takes
 * exactly two draws from it, whatever the batch: see el_rnn_set_position). */
EL_API el_status el_rnn_forward(el_rnn *rnn, el_rnn_cache *cache, el_rng *rng, const el_tensor *x,
                                const int *lengths, const el_tensor *h0, const el_tensor *c0,
                                el_tensor *y, el_tensor *hn, el_tensor *cn);

/* The same on one-hot inputs: ids (T, B), time-major, each in [0,
 * input_size), stand for x = el_one_hot(ids).  The input projection copies
 * W_ih's columns instead of multiplying by x, and backward adds to them
 * (a character model's inputs are ids, and the product costs as much as the
 * recurrence at a vocabulary of a few hundred).  el_rnn_backward after it
 * takes no dx.  y, hn and cn are as el_rnn_forward's: optional, and sized
 * by the call. */
EL_API el_status el_rnn_forward_ids(el_rnn *rnn, el_rnn_cache *cache, el_rng *rng, const int *ids,
                                    int steps, int batch, const int *lengths, const el_tensor *h0,
                                    const el_tensor *c0, el_tensor *y, el_tensor *hn,
                                    el_tensor *cn);

/* Backpropagates through the last forward call.  dy (T, B, D*H), dhn and dcn
 * (layers*D, B, H) may each be NULL for zero; dy may be given even when
 * forward wrote no y (backward reads the cache, never y).  Writes dx, dh0
 * and dc0 (each may be NULL when not wanted, and sizes itself as forward's
 * outputs do) and accumulates every parameter's gradient.  One backward per
 * forward: a second call over the same forward would add the same
 * gradients again, so it is refused with EL_ERR_STATE (a failure before
 * anything accumulated, such as running out of memory, may be retried). */
EL_API el_status el_rnn_backward(el_rnn *rnn, el_rnn_cache *cache, const el_tensor *dy,
                                 const el_tensor *dhn, const el_tensor *dcn, el_tensor *dx,
                                 el_tensor *dh0, el_tensor *dc0);

/* Inference one step at a time, for generation and streaming: each call
 * advances every layer by one step for a batch of B sequences, carrying the
 * state, with no cache and no allocation.  One direction only (a reverse
 * direction needs the whole sequence); no dropout.  The stepper keeps a
 * copy of the weights taken at creation, packed for the one-row products
 * (so the el_rnn may change or be freed after); create another when the
 * weights change.  The state starts at zero. */
typedef struct el_rnn_stepper el_rnn_stepper;
EL_API el_status el_rnn_stepper_create(el_rnn_stepper **out, const el_rnn *rnn, int batch);
EL_API void el_rnn_stepper_free(el_rnn_stepper *s);
/* Sets the state: h0 and c0 (LSTM) are (layers, B, H), or NULL for zeros. */
EL_API el_status el_rnn_stepper_reset(el_rnn_stepper *s, const el_tensor *h0, const el_tensor *c0);
/* Copies the state out; hn and cn (each may be NULL) are (layers, B, H),
 * sized by the call as el_rnn_forward's outputs are. */
EL_API el_status el_rnn_stepper_state(const el_rnn_stepper *s, el_tensor *hn, el_tensor *cn);
/* One step on x (B, input_size); y (B, H) receives the last layer's output
 * (may be NULL; sized by the call as el_rnn_forward's outputs are, so a
 * step allocates only the first time it fills an empty y). */
EL_API el_status el_rnn_step(el_rnn_stepper *s, const el_tensor *x, el_tensor *y);
/* One step on one-hot inputs: ids[b] in [0, input_size) is the hot index of
 * sequence b.  The same as el_rnn_step on el_one_hot(ids), without the
 * product: W_ih's column is read directly. */
EL_API el_status el_rnn_step_ids(el_rnn_stepper *s, const int *ids, el_tensor *y);

#ifdef __cplusplus
}
#endif
#endif
