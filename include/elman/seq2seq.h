/* elman: an encoder-decoder (seq2seq) model over vocabulary ids.
 *
 * The encoder (an el_rnn over one-hot inputs, or over an embedding when
 * embedding_size > 0) reads the source sequence; its
 * final state, summed over directions when it is bidirectional, starts the
 * decoder (an el_rnn of the same cell, layers and hidden size, one
 * direction), which reads <sos> and the target and predicts the target and
 * <eos> through a dense layer.  This is the model of the course notebook
 * (a GRU of hidden 128 both sides, teacher forcing), with PyTorch's names:
 * "encoder.gru.weight_ih_l0", "decoder.gru.weight_hh_l0", "decoder.fc.weight"
 * ("gru" is the cell's name: "rnn", "gru" or "lstm").
 *
 * Training runs the whole batch with teacher forcing: the decoder reads the
 * true previous symbol, or, with a ratio below 1, each example's own
 * previous prediction at a step with probability 1 - ratio (the decoder
 * then runs step by step).
 *
 * With attention (elman/attention.h; docs/library.md, "seq2seq with
 * attention") the decoder runs step by step and looks at the encoder's
 * outputs: additive, as the BahdanauAttention decoder of PyTorch's seq2seq
 * tutorial (the query is the top layer's state before the step, the rnn
 * reads [symbol; context]), or Luong's dot and general (the query is the
 * step's output h, the output layer reads h~ = tanh(W_c [context; h]),
 * "decoder.concat" without bias, and the next step reads [symbol; h~]).
 * The attention's parameters are "decoder.attention.Wa.weight" and so on. */
#ifndef ELMAN_SEQ2SEQ_H
#define ELMAN_SEQ2SEQ_H

#include "attention.h"
#include "data.h"
#include "dense.h"
#include "embedding.h"
#include "param.h"
#include "rng.h"
#include "rnn.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_seq2seq_config {
    el_cell cell;
    int source_vocab_size; /* encoder input ids, specials included (el_vocab_size) */
    int target_vocab_size; /* decoder input and output ids, specials included */
    int hidden_size;
    int num_layers;
    int bidirectional; /* of the encoder */
    float dropout;     /* between stacked layers, in training */
    /* 0: sequences as long as they are (packed, padding never computed),
     * and the loss is the mean over every target symbol and its <eos>.
     * N > 0: the notebook's fixed framing: the encoder reads <sos> source
     * <eos> padded with <pad> to N + 1 steps, the decoder N steps (<sos>
     * target <eos> <pad>...), both without lengths, and the loss is the mean
     * over all N positions of every example, padding included (N = 33 in the
     * notebook). */
    int padded_steps;
    el_attention attention; /* EL_ATTENTION_NONE: no attention */
    /* 0: one-hot inputs; > 0: the inputs go through embedding layers of this
     * size, "encoder.embedding" and "decoder.embedding" (nn.Embedding). */
    int embedding_size;
} el_seq2seq_config;

typedef struct el_seq2seq_cache el_seq2seq_cache;

typedef struct el_seq2seq {
    el_seq2seq_config config;
    el_rnn encoder;
    el_rnn decoder;
    el_dense output;
    el_embedding encoder_embedding; /* when embedding_size > 0 */
    el_embedding decoder_embedding;
    el_attention_layer attention; /* "decoder.attention", unless none */
    el_dense concat;              /* dot and general: "decoder.concat", W_c */
    el_seq2seq_cache *cache;      /* workspaces and what a training step keeps for backward */
} el_seq2seq;

EL_API el_status el_seq2seq_init(el_seq2seq *m, const el_seq2seq_config *config, el_rng *rng);
EL_API void el_seq2seq_free(el_seq2seq *m);
/* The parameters: the encoder's embedding and rnn, then the decoder's
 * embedding, attention, rnn, concat and output layer (those it has). */
EL_API el_status el_seq2seq_params(el_seq2seq *m, el_param_list *list);
/* Training mode (dropout on) or evaluation mode. */
EL_API void el_seq2seq_set_training(el_seq2seq *m, int training);
/* Says that example b of the next training steps' batches is example
 * first_row + b of a larger batch (a data-parallel rank's share): its
 * dropout masks and teacher-forcing choices are then the ones it gets in the
 * whole batch.  0 at init; stays in force until changed. */
EL_API void el_seq2seq_set_first_row(el_seq2seq *m, int first_row);

/* One forward and backward pass over a batch: the loss, and every
 * parameter's gradient accumulated.  rng gives the keys of the dropout
 * masks and of the teacher-forcing choices, two draws (el_rng_u64) for each
 * of the encoder's masks, the choices and the decoder's masks that the step
 * uses, whatever the batch; example b's draws are keyed draws
 * (el_rng_keyed_uniform) of its row first_row + b (el_seq2seq_set_first_row)
 * and the step, so they do not depend on the other examples (the choice at
 * step t: row, t).  A NaN or infinite loss (then no backward pass runs) or
 * gradient norm fails with EL_ERR_NONFINITE. */
EL_API el_status el_seq2seq_train_step(el_seq2seq *m, const el_batch *batch, double teacher_forcing,
                                       el_rng *rng, float *loss);

/* The loss of a batch, teacher-forced, without gradients or dropout. */
EL_API el_status el_seq2seq_loss_of(el_seq2seq *m, const el_batch *batch, float *loss);

/* Decodes every example of a batch (its inputs) greedily, or with a beam of
 * width beam > 1, up to max_length symbols or <eos>.  out[b] receives
 * example b's ids (without <sos>/<eos>); out must hold batch->size el_ids. */
EL_API el_status el_seq2seq_decode(el_seq2seq *m, const el_batch *batch, int beam, int max_length,
                                   el_ids *out);

/* Greedy decoding (as el_seq2seq_decode with beam 1) that also returns the
 * attention weights: weights is sized (B, steps, S), steps the decoder
 * steps run (the longest output and its end symbol), S the encoder's steps
 * (the batch's input_steps, or padded_steps + 1); row t of example b holds
 * its weights over the source symbols at output step t (row out[b].count
 * the step that chose <eos>), zero past its source's end and after its
 * last step.  A model without attention is EL_ERR_INVALID. */
EL_API el_status el_seq2seq_decode_attention(el_seq2seq *m, const el_batch *batch, int max_length,
                                             el_ids *out, el_tensor *weights);

#ifdef __cplusplus
}
#endif
#endif
