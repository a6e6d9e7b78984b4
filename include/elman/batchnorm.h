/* elman: batch normalisation, as torch.nn.BatchNorm1d and BatchNorm2d
 * (affine, track_running_stats, eps 1e-5 and momentum 0.1 by default).
 *
 * Channels are dimension 1: BatchNorm1d takes (N, C) or (N, C, L),
 * BatchNorm2d takes (N, C, H, W), and each channel is normalised over all
 * its other elements.  In training mode the batch's mean and biased variance
 * normalise x, y = weight * (x - mean) / sqrt(var + eps) + bias, and the
 * running statistics move towards the batch's:
 * running = (1 - momentum) * running + momentum * batch, where the variance
 * that enters running_var is the unbiased one (PyTorch's rule), and
 * num_batches_tracked grows by one.  In evaluation mode the running
 * statistics normalise and nothing changes.
 *
 * running_mean and running_var are buffers: state without gradients that
 * checkpoints carry and optimizers never see.  They are el_params whose grad
 * is empty, listed by el_batchnorm_buffers and not by el_batchnorm_params.
 * num_batches_tracked is an int64 in PyTorch's state_dict, kept here as an
 * int64_t under the name in tracked_name. */
#ifndef ELMAN_BATCHNORM_H
#define ELMAN_BATCHNORM_H

#include <stdint.h>

#include "param.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_batchnorm {
    int dims;              /* 1: BatchNorm1d, 2: BatchNorm2d */
    int num_features;      /* C */
    float eps;             /* 1e-5 */
    float momentum;        /* 0.1 */
    int training;          /* 1 after init */
    el_param weight;       /* "<name>.weight", (C), ones */
    el_param bias;         /* "<name>.bias", (C), zeros */
    el_param running_mean; /* "<name>.running_mean", (C), zeros; grad empty */
    el_param running_var;  /* "<name>.running_var", (C), ones; grad empty */
    int64_t num_batches_tracked;
    char tracked_name[EL_NAME_MAX]; /* "<name>.num_batches_tracked" */
} el_batchnorm;

/* What backward needs from forward.  Zero it before the first forward. */
typedef struct el_batchnorm_cache {
    el_tensor xhat;    /* the normalised input, x's shape */
    el_tensor inv_std; /* (C): 1 / sqrt(var + eps) of the statistics used */
    int training;      /* the mode forward ran in */
    int forward_done;  /* 1 between a forward and its backward */
} el_batchnorm_cache;

/* dims is 1 or 2; name may be NULL or "" for unprefixed names. */
EL_API el_status el_batchnorm_init(el_batchnorm *bn, const char *name, int dims, int num_features);
EL_API void el_batchnorm_free(el_batchnorm *bn);
/* Appends weight and bias. */
EL_API el_status el_batchnorm_params(el_batchnorm *bn, el_param_list *list);
/* Appends running_mean and running_var. */
EL_API el_status el_batchnorm_buffers(el_batchnorm *bn, el_param_list *list);
EL_API void el_batchnorm_set_training(el_batchnorm *bn, int on);

/* In training mode a channel needs more than one value (N * L * H * W > 1),
 * as in PyTorch, for its variance. */
EL_API el_status el_batchnorm_forward(el_batchnorm *bn, el_batchnorm_cache *cache,
                                      const el_tensor *x, el_tensor *y);
/* Accumulates the weight and bias gradients and writes dx (x's shape; may
 * be NULL).  After a training forward dx includes the path through the
 * batch statistics; after an evaluation forward they are constants. */
EL_API el_status el_batchnorm_backward(el_batchnorm *bn, el_batchnorm_cache *cache,
                                       const el_tensor *dy, el_tensor *dx);
EL_API void el_batchnorm_cache_free(el_batchnorm_cache *cache);

#ifdef __cplusplus
}
#endif
#endif
