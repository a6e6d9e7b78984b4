/* elman: attention of a decoder over an encoder's outputs, batched, with
 * the padded source steps masked.
 *
 * The keys are the encoder's outputs, K wide (H, or 2H from a
 * bidirectional encoder: the two directions' outputs concatenated); a
 * query is the decoder's state, H wide.  At each decoder step, example b's
 * scores over its source steps s < lengths[b] go through a softmax to give
 * the weights a_s, and the context is sum_s a_s k_s (K wide).  The scores:
 *
 *   additive (Bahdanau)  score = Va(tanh(Wa q + Ua k)), as the BahdanauAttention
 *                        of PyTorch's seq2seq tutorial: Wa (H -> H), Ua
 *                        (K -> H) and Va (H -> 1) nn.Linear with bias,
 *                        "<name>.Wa.weight", "<name>.Ua.bias", ...
 *   dot (Luong)          score = q . k; where K = 2H the two directions are
 *                        summed first, q . (k_forward + k_backward)
 *   general (Luong)      score = q . (W k), W (K -> H) an nn.Linear without
 *                        bias, "<name>.W.weight"
 *
 * Steps at or past lengths[b] get weight 0 (the score -inf before the
 * softmax); an example of length 0 gets all-zero weights and a zero
 * context, and no gradient.
 *
 * The key side (Ua k, W k or the directions' sum) is computed once per
 * batch by el_attention_forward_keys, one product over all source steps;
 * each decoder step then calls el_attention_forward_step.  Backward runs
 * el_attention_backward_step for every step that ran (in reverse order, as
 * a decoder does), then el_attention_backward_keys once, which writes the
 * keys' gradient and accumulates every parameter's gradient (the products
 * over all steps at once).  Keys are time-major (S, B, K): row s * B + b is
 * source step s of example b, as el_rnn's outputs. */
#ifndef ELMAN_ATTENTION_H
#define ELMAN_ATTENTION_H

#include "dense.h"
#include "param.h"
#include "rng.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a decoder looks back at the encoder's outputs: not at all,
 * Bahdanau's additive score, or Luong's dot or general score. */
typedef enum el_attention {
    EL_ATTENTION_NONE,
    EL_ATTENTION_ADDITIVE,
    EL_ATTENTION_DOT,
    EL_ATTENTION_GENERAL
} el_attention;

/* Parses "none", "additive", "dot" or "general"; anything else is
 * EL_ERR_INVALID naming the text. */
EL_API el_status el_attention_parse(const char *text, el_attention *out);
/* The name el_attention_parse reads back; "unknown" outside the enum. */
EL_API const char *el_attention_name(el_attention a);

typedef struct el_attention_layer {
    el_attention kind;   /* never EL_ATTENTION_NONE */
    int query_size;      /* H */
    int key_size;        /* K: H, or 2H (two directions) */
    el_dense Wa, Ua, Va; /* additive only */
    el_dense W;          /* general only */
} el_attention_layer;

/* Allocates the parameters under "<name>.Wa.weight" and so on, initialised
 * as nn.Linear is (rng may be NULL for zeros).  Dot needs key_size to be
 * query_size or twice it; additive and general take any. */
EL_API el_status el_attention_layer_init(el_attention_layer *a, const char *name, el_attention kind,
                                         int query_size, int key_size, el_rng *rng);
EL_API void el_attention_layer_free(el_attention_layer *a);
/* Appends the parameters: Wa, Ua, Va (weight, bias each), or W. */
EL_API el_status el_attention_layer_params(el_attention_layer *a, el_param_list *list);

/* The key side, each step's weights and what backward reads; sized on the
 * first batch of a shape and reused (no allocation in a step loop). */
typedef struct el_attention_cache el_attention_cache;
EL_API el_status el_attention_cache_create(el_attention_cache **out);
EL_API void el_attention_cache_free(el_attention_cache *c);

/* Prepares a batch: keys (S, B, K), lengths[b] in [0, S] (NULL: all S),
 * and room for steps decoder steps (0 .. steps - 1).  The caller keeps
 * keys unchanged until backward is done. */
EL_API el_status el_attention_forward_keys(const el_attention_layer *a, el_attention_cache *c,
                                           const el_tensor *keys, const int *lengths, int steps);

/* Decoder step t: query (B, H) gives context (B, K) and, when weights is
 * not NULL, the weights (B, S); both size themselves. */
EL_API el_status el_attention_forward_step(const el_attention_layer *a, el_attention_cache *c,
                                           int t, const el_tensor *keys, const el_tensor *query,
                                           el_tensor *context, el_tensor *weights);

/* Backward through step t's forward: dcontext (B, K) gives dquery (B, H),
 * which sizes itself; the keys' share is kept for el_attention_backward_keys. */
EL_API el_status el_attention_backward_step(el_attention_layer *a, el_attention_cache *c, int t,
                                            const el_tensor *keys, const el_tensor *dcontext,
                                            el_tensor *dquery);

/* After the backward steps: writes dkeys (S, B, K; sizes itself) and
 * accumulates the parameters' gradients. */
EL_API el_status el_attention_backward_keys(el_attention_layer *a, el_attention_cache *c,
                                            const el_tensor *keys, el_tensor *dkeys);

#ifdef __cplusplus
}
#endif
#endif
