/* elman: a sequence autoencoder over vocabulary ids.
 *
 * Sequences (a word's characters, say) go through a fixed-size code and
 * back: an embedding feeds an encoder (an el_rnn), whose last hidden state
 * after each sequence's own length is the code (the latent vector, of
 * hidden_size); a decoder of the same cell starts from the code, reads
 * <sos> and the sequence, and predicts the sequence and <eos> through a
 * dense layer.  There is no attention: everything the decoder knows passes
 * through the code.  With an LSTM, the code is h and the decoder's cell
 * state starts at zero, so that the code alone decides the output.
 *
 * Names, as a PyTorch module with these attributes would have them:
 * "embed.weight", "encoder.weight_ih_l0" ..., "decoder.weight_ih_l0" ...,
 * "output.weight", "output.bias".  Encoder and decoder share the embedding
 * (the same vocabulary on both sides).
 *
 * el_seq_autoencoder_encode and _decode are callable separately, to look at
 * codes or to decode points between them. */
#ifndef ELMAN_SEQ_AUTOENCODER_H
#define ELMAN_SEQ_AUTOENCODER_H

#include "data.h"
#include "dense.h"
#include "embedding.h"
#include "param.h"
#include "rng.h"
#include "rnn.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_seq_autoencoder_config {
    el_cell cell;
    int vocab_size; /* ids, specials included (el_vocab_size) */
    int embed_size;
    int hidden_size; /* also the size of the code */
} el_seq_autoencoder_config;

typedef struct el_seq_autoencoder_cache el_seq_autoencoder_cache;

typedef struct el_seq_autoencoder {
    el_seq_autoencoder_config config;
    el_embedding embed;
    el_rnn encoder;
    el_rnn decoder;
    el_dense output;
    el_seq_autoencoder_cache *cache; /* workspaces, and what backward reads */
} el_seq_autoencoder;

EL_API el_status el_seq_autoencoder_init(el_seq_autoencoder *m,
                                         const el_seq_autoencoder_config *config, el_rng *rng);
EL_API void el_seq_autoencoder_free(el_seq_autoencoder *m);
/* Embedding, encoder, decoder and output parameters, in that order. */
EL_API el_status el_seq_autoencoder_params(el_seq_autoencoder *m, el_param_list *list);

/* The codes of a batch's inputs: code (B, hidden_size), sized here. */
EL_API el_status el_seq_autoencoder_encode(el_seq_autoencoder *m, const el_batch *batch,
                                           el_tensor *code);

/* Greedy decoding of codes (B, hidden_size), up to max_length symbols or
 * <eos>: out[b] receives sequence b's ids (without <sos> and <eos>); out
 * must hold B el_ids. */
EL_API el_status el_seq_autoencoder_decode(el_seq_autoencoder *m, const el_tensor *code,
                                           int max_length, el_ids *out);

/* One forward and backward pass over a batch whose targets are its inputs
 * (any el_batch works: the inputs are encoded, the inputs are the targets):
 * the mean cross-entropy over every symbol and <eos>, and every parameter's
 * gradient accumulated.  A NaN or infinite loss (checked before the
 * backward pass) or gradient norm fails with EL_ERR_NONFINITE. */
EL_API el_status el_seq_autoencoder_train_step(el_seq_autoencoder *m, const el_batch *batch,
                                               float *loss);

/* The same loss without gradients. */
EL_API el_status el_seq_autoencoder_loss_of(el_seq_autoencoder *m, const el_batch *batch,
                                            float *loss);

#ifdef __cplusplus
}
#endif
#endif
