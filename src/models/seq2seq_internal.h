/* What the seq2seq model's files share (seq2seq.c: the model, the encoder
 * and the whole-sequence decoder; seq2seq_steps.c: the decoder one step at
 * a time, with attention; seq2seq_decode.c: greedy and beam search).  Not
 * installed. */
#ifndef ELMAN_MODELS_SEQ2SEQ_INTERNAL_H
#define ELMAN_MODELS_SEQ2SEQ_INTERNAL_H

#include "elman/seq2seq.h"
#include "elman/vocab.h"

/* Workspaces, sized on the first batch of a shape and reused, and what a
 * training step's backward reads.  Sequences are time-major throughout:
 * row t * B + b is step t of example b. */
struct el_seq2seq_cache {
    el_rnn_cache *encoder;
    el_rnn_cache **decoder; /* [0] for a whole-sequence call; one per step when
                               the decoder runs step by step */
    int decoder_caches;
    el_attention_cache *attention;
    int source_steps, target_steps, batch;
    const int *source_lengths; /* the encoder's (NULL: all steps), for the attention */
    el_ids source;             /* framed encoder input */
    el_ids target_in, target_out, target_lengths; /* framed decoder input and targets */
    el_ids step_ids, step_lengths;
    el_ids decoder_ids;      /* (T, B): the ids the step-by-step decoder read */
    const el_tensor *keys;   /* the attention's: enc_y, or beam_keys */
    el_tensor enc_x, enc_dx; /* (S, B, E): the embedded source and its gradient */
    el_tensor enc_y, enc_dy, enc_hn, enc_cn, enc_dhn, enc_dcn;
    el_tensor dec_x, dec_dx; /* (T, B, in): the decoder's inputs when it does not read ids */
    el_tensor demb;          /* (T, B, E): the decoder embedding's gradient */
    el_tensor dec_y, dec_dy, h0, c0, dh0, dc0;
    el_tensor context;                   /* (T, B, K): the attention's contexts */
    el_tensor cat;                       /* dot, general: (T, B, K + H), [context; output] */
    el_tensor htilde;                    /* dot, general: (T, B, H), tanh(W_c cat) */
    el_tensor dhtilde, dpre;             /* dot, general: (T, B, H) */
    el_tensor dcat;                      /* (B, K + H) */
    el_tensor dcontext, dquery, weights; /* (B, K), (B, H), (B, S) */
    el_tensor dkeys;                     /* (S, B, K) */
    el_tensor logits, dlogits;
    el_tensor state[2], cell[2]; /* the decoder's state between single steps */
    el_tensor beam_logp, beam_keys;
    el_tensor decoded_weights; /* (T, B, S): greedy decoding's attention weights */
    el_param_list params;      /* the model's, for the gradient check of each step */
};

static inline int el__s2s_lstm(const el_seq2seq *m) { return m->config.cell == EL_CELL_LSTM; }

/* Dot and general: Luong's h~ = tanh(W_c [c; h]) feeds the output layer
 * and the next step's input. */
static inline int el__s2s_luong(const el_seq2seq *m)
{
    return m->config.attention == EL_ATTENTION_DOT || m->config.attention == EL_ATTENTION_GENERAL;
}

/* The keys' width: the encoder's outputs, D * H. */
static inline int el__s2s_keys(const el_seq2seq *m)
{
    return el_rnn_directions(&m->encoder.config) * m->config.hidden_size;
}

/* The width of a decoder input's symbol part: the embedding or one-hot. */
static inline int el__s2s_symbol_width(const el_seq2seq *m)
{
    return m->config.embedding_size ? m->config.embedding_size : m->config.target_vocab_size;
}

/* Whether a training pass runs the decoder step by step: with attention,
 * or with sampled inputs. */
static inline int el__s2s_stepwise(const el_seq2seq *m, double ratio)
{
    return m->config.attention != EL_ATTENTION_NONE || ratio < 1.0;
}

/* Refuses a NULL or empty batch and an uninitialised model, naming fn. */
el_status el__s2s_check_batch(const el_seq2seq *m, const el_batch *batch, const char *fn);
/* Sizes ids to count entries. */
el_status el__s2s_reserve_ids(el_ids *ids, size_t count);
/* At least n decoder caches. */
el_status el__s2s_reserve_decoder_caches(el_seq2seq_cache *c, int n);
/* Runs the encoder over batch (c->batch set) and sets h0 (c0). */
el_status el__s2s_encode(el_seq2seq *m, const el_batch *batch, el_rng *rng);
/* Sizes the decoder's workspaces for T steps (rows) of B examples. */
el_status el__s2s_size_decoder(el_seq2seq *m, int T, int B);
/* Prepares the attention over keys (S, B, K) with lengths, for steps
 * steps, and the step workspaces. */
el_status el__s2s_attention_keys(el_seq2seq *m, const el_tensor *keys, const int *lengths,
                                 int steps);

/* One decoder step over the batch: reads step_ids, state[from] (cell) and,
 * for Luong, row block prev of htilde (prev < 0: zeros); writes
 * state[!from], row block t of dec_y, logits (and context, cat, htilde),
 * and, unless weights is NULL, the step's attention weights (B, S).  The
 * attention's step index is t. */
el_status el__s2s_step(el_seq2seq *m, el_rnn_cache *cache, int t, int prev, int from,
                       const int *lengths, el_rng *rng, el_tensor *weights);

/* Training's decoder step by step over the framed target (each example
 * reading the true previous symbol with probability ratio), and its
 * backward once dlogits is known; the latter leaves dh0 (dc0) and, with
 * attention, dkeys for the encoder. */
el_status el__s2s_steps_forward(el_seq2seq *m, double ratio, el_rng *rng);
el_status el__s2s_steps_backward(el_seq2seq *m);

static inline int el__s2s_argmax(const float *row, int n)
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (row[j] > row[best]) best = j;
    return best;
}

#endif
