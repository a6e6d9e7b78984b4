/* elman: drawing an id from a model's output scores (logits), for text
 * generation.
 *
 * The logits are divided by the temperature and turned into probabilities
 * by softmax.  Top-k keeps the k most probable ids, top-p (nucleus) the
 * fewest most probable ids whose probabilities sum to at least p; both may
 * be on, top-k first.  The kept probabilities are renormalised and one id is
 * drawn with the rng, so the same seed gives the same ids.  A temperature of
 * 0 takes the most probable id every time (ties: the lowest id).  Ids below
 * first_id are never drawn: with first_id = EL_SPECIALS, a character model
 * never emits <pad>, <sos>, <eos> or <unk>. */
#ifndef ELMAN_SAMPLE_H
#define ELMAN_SAMPLE_H

#include "rng.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_sampling {
    double temperature; /* 0 (greedy) or more; 1 draws from the model's distribution */
    int top_k;          /* 0: no limit */
    double top_p;       /* in (0, 1]; 1: no limit */
    int first_id;       /* ids [0, first_id) are never drawn */
} el_sampling;

/* Temperature 1, no top-k or top-p, every id allowed. */
EL_API el_sampling el_sampling_defaults(void);

/* A sampler for classes ids; it owns the workspace a draw needs, so drawing
 * never allocates.  The settings are checked here. */
typedef struct el_sampler el_sampler;
EL_API el_status el_sampler_create(el_sampler **out, int classes, const el_sampling *how);
EL_API void el_sampler_free(el_sampler *s);

/* Draws an id from logits (classes floats).  NaN logits are refused. */
EL_API el_status el_sampler_draw(el_sampler *s, const float *logits, el_rng *rng, int *id);

#ifdef __cplusplus
}
#endif
#endif
