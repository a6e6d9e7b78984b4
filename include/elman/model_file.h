/* elman: whole models in checkpoints.
 *
 * A model file is a checkpoint (elman/checkpoint.h) holding a model's
 * parameters under their PyTorch names and, in its metadata, what it takes
 * to build the model again: "elman.kind" ("charlm", "seq2seq"), the
 * vocabulary as JSON under "elman.vocab" and the configuration under
 * "<kind>.<field>":
 *
 *   charlm:  cell (rnn, rnn_relu, gru, lstm), hidden, layers, dropout
 *   seq2seq: cell, hidden, layers, bidirectional (0 or 1), dropout,
 *            padded_steps, attention (none, additive, dot, general),
 *            embedding_size, and target_vocab (JSON) when the target
 *            vocabulary is not the source's
 *
 * Saving adds those to a writer, so a program adds its own (optimizer
 * state, training position under "train.") before it writes the file.
 * Loading checks the kind, reads the configuration and the vocabulary,
 * checks that the stored output layer matches them (so a file cannot make
 * the loader allocate more than its size suggests), builds the model and
 * loads every parameter.  Besides the model's parameters the file may hold
 * tensors under "optimizer." (el_checkpoint_add_optimizer) and "train."
 * (a program's own), nothing else.  Anything missing or inconsistent is
 * EL_ERR_FORMAT with one message naming the file and what is wrong, and
 * nothing is handed out. */
#ifndef ELMAN_MODEL_FILE_H
#define ELMAN_MODEL_FILE_H

#include "charlm.h"
#include "checkpoint.h"
#include "seq2seq.h"
#include "status.h"
#include "vocab.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The pieces, for a model of one's own: el_checkpoint_add_params, these,
 * and its configuration through el_checkpoint_set_int and the like.
 * el_checkpoint_set_kind sets "elman.kind"; el_checkpoint_check_kind
 * refuses a file of another kind (or none) with EL_ERR_FORMAT and the
 * message above.  el_checkpoint_set_vocab keeps vocab under "elman.vocab";
 * el_checkpoint_get_vocab builds *vocab from it (free it with
 * el_vocab_free), EL_ERR_FORMAT naming the file when it is missing or
 * malformed, *vocab NULL on failure. */
EL_API el_status el_checkpoint_set_kind(el_checkpoint_writer *w, const char *kind);
EL_API el_status el_checkpoint_set_vocab(el_checkpoint_writer *w, const el_vocab *vocab);
EL_API el_status el_checkpoint_check_kind(const el_checkpoint *c, const char *kind);
EL_API el_status el_checkpoint_get_vocab(const el_checkpoint *c, el_vocab **vocab);

/* Adds m's parameters, kind, configuration and vocab (whose size must be
 * m's vocab_size) to w.  The parameters' values are read when w is
 * written, so m must live until then.  A seq2seq model has a source and a
 * target vocabulary (sizes source_vocab_size and target_vocab_size); target
 * NULL (or the same as source) stores one vocabulary serving both, as 0.2.0
 * wrote, and a distinct target is stored under "seq2seq.target_vocab". */
EL_API el_status el_checkpoint_add_charlm(el_checkpoint_writer *w, el_charlm *m,
                                          const el_vocab *vocab);
EL_API el_status el_checkpoint_add_seq2seq(el_checkpoint_writer *w, el_seq2seq *m,
                                           const el_vocab *source, const el_vocab *target);

/* Builds *m (not yet initialized; free it with el_charlm_free) and *vocab
 * (free it with el_vocab_free) from c.  A checkpoint of another kind is
 * EL_ERR_FORMAT: "PATH: a seq2seq model, not a charlm model".  On failure
 * *m and *vocab are left zeroed and NULL. */
EL_API el_status el_charlm_load(el_charlm *m, const el_checkpoint *c, el_vocab **vocab);
/* The same for a seq2seq model, with its two vocabularies: *target always
 * gets a vocabulary of its own (a copy of the source's when the file holds
 * one shared vocabulary, as every file before separate vocabularies does);
 * the caller frees both.  A file without "seq2seq.attention" or
 * "seq2seq.embedding_size" has none (one-hot inputs); an attention name
 * el_attention_parse does not know is EL_ERR_FORMAT. */
EL_API el_status el_seq2seq_load(el_seq2seq *m, const el_checkpoint *c, el_vocab **source,
                                 el_vocab **target);

#ifdef __cplusplus
}
#endif
#endif
