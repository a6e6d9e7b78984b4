/* elman: the dense (fully connected) layer, y = x W^T + b.
 *
 * W has PyTorch's nn.Linear layout (out_features, in_features), so weights
 * move between the two unchanged, and the same initialisation:
 * W and b ~ U(-1/sqrt(in), 1/sqrt(in)).
 *
 * x may have any number of leading dimensions: (..., in) -> (..., out).
 * The backward pass needs only the forward input x, which the caller keeps. */
#ifndef ELMAN_DENSE_H
#define ELMAN_DENSE_H

#include "param.h"
#include "rng.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_dense {
    int in_features;
    int out_features;
    int has_bias;
    el_param weight; /* "<name>.weight", (out, in) */
    el_param bias;   /* "<name>.bias", (out); empty when has_bias is 0 */
} el_dense;

/* Allocates and initialises the layer; rng may be NULL for zero weights. */
EL_API el_status el_dense_init(el_dense *layer, const char *name, int in_features, int out_features,
                               int has_bias, el_rng *rng);
EL_API void el_dense_free(el_dense *layer);
/* Appends weight (and bias) to list. */
EL_API el_status el_dense_params(el_dense *layer, el_param_list *list);

/* y = x W^T + b.  y sizes itself: x's leading dimensions with out_features
 * last; one that already has x's rows and out_features columns keeps its
 * shape (a view must already have them). */
EL_API el_status el_dense_forward(const el_dense *layer, const el_tensor *x, el_tensor *y);

/* Given dy, accumulates dW += dy^T x and db += sum of dy's rows into the
 * parameters' gradients, and writes dx = dy W (dx may be NULL), which sizes
 * itself as y does in forward, with in_features last. */
EL_API el_status el_dense_backward(el_dense *layer, const el_tensor *x, const el_tensor *dy,
                                   el_tensor *dx);

#ifdef __cplusplus
}
#endif
#endif
