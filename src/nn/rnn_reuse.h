/* Reusing a recurrent layer's packed weights across calls (rnn.c), for
 * the models that run a layer one step at a time.  Not installed. */
#ifndef ELMAN_NN_RNN_REUSE_H
#define ELMAN_NN_RNN_REUSE_H

#include "elman/rnn.h"

/* Lets cache's next forward or backward call (only the next) multiply by
 * the weights that owner's last call of the same kind packed, instead of
 * packing them again; owner may be cache itself.  For a caller that runs
 * one layer a step at a time through many calls within one pass (the
 * seq2seq decoder with attention), which would otherwise pack the same
 * weights again for every step's few rows.  The caller guarantees that the weights
 * have not changed since owner's call and that owner served the same
 * layer; a call the owner's packing does not cover (no such call yet, or
 * without layer 0's W_ih where it is needed) packs afresh.  Every call not
 * preceded by this one packs afresh, so whoever changes the weights
 * (optimizer steps, gradient checks, loading) needs to know nothing of it. */
void el__rnn_reuse_packed(el_rnn_cache *cache, const el_rnn_cache *owner);

#endif
