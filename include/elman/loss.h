/* elman: loss functions.
 *
 * Each computes the loss and, when the gradient tensor is not NULL, writes
 * the gradient of the loss with respect to its input there (shape of the
 * input).  The reductions are PyTorch's unless said otherwise. */
#ifndef ELMAN_LOSS_H
#define ELMAN_LOSS_H

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PyTorch's default ignore_index: a value no class index takes, so nothing
 * is ignored. */
#define EL_IGNORE_NONE (-100)

/* Each loss writes *loss and, unless the gradient is NULL, the gradient of
 * its input, which sizes itself to that input's shape (an empty or other
 * owned tensor is (re)allocated; a view must already have the shape). */

/* Mean squared error over all elements: mean((pred - target)^2). */
EL_API el_status el_mse_loss(const el_tensor *pred, const el_tensor *target, float *loss,
                             el_tensor *dpred);

/* Softmax cross-entropy of logits (N rows of C classes, as a matrix) against
 * class indices targets[0..N-1].  A row whose target is ignore_index (e.g. a
 * padding position) contributes neither loss nor gradient.  weights (N, or
 * NULL for all 1) weighs each row: loss = sum(w_i * l_i) / sum(w_i) over the
 * rows not ignored, which is torch.nn.CrossEntropyLoss's mean when every
 * weight is 1.  When no row counts, the loss and gradient are 0 (PyTorch
 * gives NaN).  A target outside [0, C) that is not ignore_index is an error
 * naming the row. */
EL_API el_status el_cross_entropy_loss(const el_tensor *logits, const int *targets,
                                       const float *weights, int ignore_index, float *loss,
                                       el_tensor *dlogits);

/* Binary cross-entropy with logits, as torch.nn.BCEWithLogitsLoss with
 * weight=weights: mean(w * (max(x, 0) - x * t + log(1 + exp(-|x|)))), stable
 * for any x.  targets has logits' element count and lies in [0, 1]; weights
 * has the same count, or is NULL for all 1. */
EL_API el_status el_bce_with_logits_loss(const el_tensor *logits, const el_tensor *targets,
                                         const float *weights, float *loss, el_tensor *dlogits);

#ifdef __cplusplus
}
#endif
#endif
