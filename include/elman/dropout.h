/* elman: dropout (inverted, as torch.nn.Dropout).
 *
 * In training mode each element is zeroed with probability p and the rest
 * are scaled by 1 / (1 - p); the mask of factors (0 or 1 / (1 - p)) is the
 * cache that backward reads.  In evaluation mode y = x and the mask is not
 * touched. */
#ifndef ELMAN_DROPOUT_H
#define ELMAN_DROPOUT_H

#include "rng.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_dropout {
    float p;      /* drop probability, 0 <= p <= 1 */
    int training; /* 1: drop, 0: identity */
} el_dropout;

/* y and mask size themselves to x's shape (a view must already have it);
 * mask may be NULL in evaluation mode.  y may be x. */
EL_API el_status el_dropout_forward(const el_dropout *layer, el_rng *rng, const el_tensor *x,
                                    el_tensor *y, el_tensor *mask);
/* dx = dy * mask in training mode, dy otherwise.  dx sizes itself to dy's
 * shape; mask must have dy's element count.  dx may be dy. */
EL_API el_status el_dropout_backward(const el_dropout *layer, const el_tensor *mask,
                                     const el_tensor *dy, el_tensor *dx);

#ifdef __cplusplus
}
#endif
#endif
