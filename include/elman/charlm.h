/* elman: a character language model, trained on streams of text and
 * sampled one character at a time.
 *
 * Characters are vocabulary ids (grapheme clusters, see vocab.h).  Each id
 * enters as a one-hot vector; a stack of recurrent layers (el_rnn, one
 * direction, dropout between layers in training) reads it, and a dense
 * layer turns the last layer's output into a score (logit) for every id of
 * the next character.  The PyTorch equivalent, whose state_dict has the same
 * names and shapes ("rnn.weight_ih_l0", ..., "fc.weight", "fc.bias"):
 *
 *     self.rnn = nn.LSTM(V, H, num_layers)    # or nn.GRU, nn.RNN
 *     self.fc = nn.Linear(H, V)
 *     forward(ids, state): y, state = self.rnn(F.one_hot(ids, V).float(), state)
 *                          return self.fc(y), state
 *
 * Training is truncated backpropagation through time over B parallel
 * streams (el_charlm_chunk cuts them from a text): each call reads T steps
 * of each stream, starts from the state the previous call left in an
 * el_charlm_state, leaves its final state there for the next call, and
 * backpropagates only within its T steps. */
#ifndef ELMAN_CHARLM_H
#define ELMAN_CHARLM_H

#include <stddef.h>

#include "dense.h"
#include "param.h"
#include "rng.h"
#include "rnn.h"
#include "sample.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_charlm_config {
    el_cell cell;
    int vocab_size; /* ids, specials included (el_vocab_size) */
    int hidden_size;
    int num_layers;
    float dropout; /* between stacked layers, in training */
} el_charlm_config;

typedef struct el_charlm_cache el_charlm_cache;

typedef struct el_charlm {
    el_charlm_config config;
    el_rnn rnn;             /* "rnn.weight_ih_l0", ... */
    el_dense output;        /* "fc.weight", "fc.bias" */
    el_charlm_cache *cache; /* workspaces and what a training step keeps for backward */
} el_charlm;

/* The recurrent state carried between calls: h and c (LSTM) of shape
 * (layers, B, H).  A zeroed struct is the zero state of any batch size;
 * el_charlm_state_free returns it to that. */
typedef struct el_charlm_state {
    el_tensor h, c;
} el_charlm_state;

EL_API void el_charlm_state_free(el_charlm_state *state);

EL_API el_status el_charlm_init(el_charlm *m, const el_charlm_config *config, el_rng *rng);
EL_API void el_charlm_free(el_charlm *m);
/* The recurrent parameters, then fc.weight and fc.bias. */
EL_API el_status el_charlm_params(el_charlm *m, el_param_list *list);
/* Training mode (dropout on) or evaluation mode. */
EL_API void el_charlm_set_training(el_charlm *m, int training);
/* Says that stream b of the next training steps is stream first_row + b of
 * a larger batch (a data-parallel rank's share of the streams): the
 * dropout masks of a stream are then the ones it gets in the whole batch
 * (el_rnn_set_position).  0 at init; stays in force until changed. */
EL_API void el_charlm_set_first_row(el_charlm *m, int first_row);

/* inputs and targets are (steps, batch), time-major: element t * batch + b
 * is step t of stream b.  A target of EL_PAD is skipped (no loss, no
 * gradient).  The loss is cross-entropy in nats, the mean over the targets
 * that count.  state is read as the initial state and replaced by the final
 * one. */

/* A forward and backward pass: the loss, and every parameter's gradient
 * accumulated.  rng gives the dropout masks' key (NULL without dropout; with
 * dropout and more than one layer the call takes two draws from it,
 * whatever the batch, el_rnn_set_position).  A NaN
 * or infinite loss (then no backward pass runs) or gradient norm fails with
 * EL_ERR_NONFINITE. */
EL_API el_status el_charlm_train_step(el_charlm *m, const int *inputs, const int *targets,
                                      int steps, int batch, el_charlm_state *state, el_rng *rng,
                                      float *loss);

/* The loss without gradients or dropout: *loss_sum (nats, summed over the
 * targets that count) and *count (how many counted). */
EL_API el_status el_charlm_loss_of(el_charlm *m, const int *inputs, const int *targets, int steps,
                                   int batch, el_charlm_state *state, double *loss_sum,
                                   long *count);

/* Cuts a text of count ids into batch streams for truncated BPTT.  Stream b
 * is the ids [offset + b L, offset + (b + 1) L] with L = (count - offset - 1)
 * / batch, so the streams are contiguous and each step's target is the next
 * id.  Chunk k holds steps [k T, min((k + 1) T, L)) of every stream (T =
 * max_steps); there are ceil(L / T) chunks.  Writes the chunk's inputs and
 * targets (each max_steps * batch ints, time-major) and *steps.  Fails when
 * a stream would be empty or k is past the last chunk. */
EL_API el_status el_charlm_chunk(const int *ids, size_t count, size_t offset, int batch,
                                 int max_steps, long k, int *inputs, int *targets, int *steps);
/* The number of chunks el_charlm_chunk cuts (0 when a stream would be empty). */
EL_API long el_charlm_chunks(size_t count, size_t offset, int batch, int max_steps);

/* Generation: one stream, one character at a time.  The generator holds a
 * copy of the weights (an el_rnn_stepper), the state and the latest logits;
 * create it after training.  el_charlm_generator_feed reads one id (a
 * character of a prompt, or the one just drawn); el_charlm_generator_draw
 * draws the next id from the latest logits (at least one feed first). */
typedef struct el_charlm_generator el_charlm_generator;
EL_API el_status el_charlm_generator_create(el_charlm_generator **out, const el_charlm *m,
                                            const el_sampling *how);
EL_API void el_charlm_generator_free(el_charlm_generator *g);
EL_API el_status el_charlm_generator_feed(el_charlm_generator *g, int id);
EL_API el_status el_charlm_generator_draw(el_charlm_generator *g, el_rng *rng, int *id);
/* The logits after the latest feed (vocab_size floats), e.g. for scoring. */
EL_API const float *el_charlm_generator_logits(const el_charlm_generator *g);

#ifdef __cplusplus
}
#endif
#endif
