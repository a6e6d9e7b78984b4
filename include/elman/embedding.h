/* elman: the embedding layer, a lookup table from ids to vectors.
 *
 * weight has PyTorch's nn.Embedding layout (num_embeddings, embedding_dim)
 * and name ("<name>.weight"), and the same initialisation, N(0, 1), so
 * tables move between the two unchanged.  Row i of the output is row ids[i]
 * of the weight.  With a padding id (>= 0) that row starts at zero and never
 * receives a gradient, as nn.Embedding's padding_idx; -1 means none.
 *
 * The backward pass needs only the ids of the forward pass, which the caller
 * keeps; ids are not differentiable, so there is no input gradient. */
#ifndef ELMAN_EMBEDDING_H
#define ELMAN_EMBEDDING_H

#include "param.h"
#include "rng.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_embedding {
    int num_embeddings;
    int embedding_dim;
    int padding_id;  /* -1 for none */
    el_param weight; /* "<name>.weight", (num_embeddings, embedding_dim) */
} el_embedding;

/* Allocates and initialises the table; rng may be NULL for zero weights. */
EL_API el_status el_embedding_init(el_embedding *layer, const char *name, int num_embeddings,
                                   int embedding_dim, int padding_id, el_rng *rng);
EL_API void el_embedding_free(el_embedding *layer);

/* Appends weight to list. */
EL_API el_status el_embedding_params(el_embedding *layer, el_param_list *list);

/* y = the rows ids[0 .. count) of the weight.  y keeps its shape when it
 * has count rows of embedding_dim columns (a (T, B, dim) tensor for T*B
 * ids, say), and is sized (count, embedding_dim) otherwise.  An id outside
 * [0, num_embeddings) is refused before anything is written. */
EL_API el_status el_embedding_forward(const el_embedding *layer, const int *ids, int count,
                                      el_tensor *y);

/* Accumulates dy's rows into the weight gradient's rows ids[0 .. count),
 * except the padding id's. */
EL_API el_status el_embedding_backward(el_embedding *layer, const int *ids, int count,
                                       const el_tensor *dy);

#ifdef __cplusplus
}
#endif

#endif
