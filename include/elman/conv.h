/* elman: convolutions, as torch.nn.Conv1d, Conv2d and ConvTranspose2d.
 *
 * PyTorch's semantics, layouts and parameter names, so that weights move
 * between the two unchanged:
 *
 *   conv2d            x (N, C_in, H, W) -> y (N, C_out, H_out, W_out), a
 *                     cross-correlation with weight (C_out, C_in/groups, kh,
 *                     kw) and bias (C_out);
 *                     H_out = (H + 2 pad - dilation (kh - 1) - 1) / stride + 1
 *   conv1d            the same on x (N, C_in, L), weight (C_out,
 *                     C_in/groups, k)
 *   conv_transpose2d  the input gradient of a conv2d, for decoders: x (N,
 *                     C_in, H, W) -> y (N, C_out, H_out, W_out) with weight
 *                     (C_in, C_out/groups, kh, kw) and bias (C_out);
 *                     H_out = (H - 1) stride - 2 pad + dilation (kh - 1)
 *                             + output_padding + 1
 *
 * Initialisation is PyTorch's too: weight and bias ~ U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), where fan_in is the weight's dimension 1 times its kernel
 * size (C_in/groups kh kw for a convolution, C_out/groups kh kw for a
 * transposed one).
 *
 * A zero stride, dilation or groups in a configuration is taken as 1, so
 * that a designated initialiser need name only what differs from PyTorch's
 * defaults (bias, on by default in PyTorch, must be asked for here).
 *
 * The layers make im2col's columns for blocks of images and multiply them
 * by the weight in one product per block and group; the blocks are split
 * over elman's threads (el_set_threads).  Results depend on the number of
 * threads only through the order in which the weight and bias gradients of
 * the threads' images are added. */
#ifndef ELMAN_CONV_H
#define ELMAN_CONV_H

#include "param.h"
#include "rng.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a forward pass keeps for its backward pass (a copy of the input),
 * and the workspaces; sized on the first call of a batch shape and reused
 * after.  One cache serves one layer at a time, of any of the kinds here.
 * Zero it before use (el_conv_cache cache = {0}) and free it with
 * el_conv_cache_free; its fields are the layers' own. */
typedef struct el_conv_cache {
    el_tensor input;   /* the forward pass's x */
    el_tensor work;    /* per part of the batch: columns and partial gradients */
    const void *layer; /* the layer whose forward pass filled it */
    int pending;       /* 1 from a forward pass until its backward pass */
} el_conv_cache;

EL_API void el_conv_cache_free(el_conv_cache *cache);

/* ---- conv2d ------------------------------------------------------------ */

typedef struct el_conv2d_config {
    int in_channels;
    int out_channels;
    int kernel[2];   /* (kh, kw) */
    int stride[2];   /* 0 is taken as 1 */
    int padding[2];  /* zeros on both sides */
    int dilation[2]; /* 0 is taken as 1 */
    int groups;      /* 0 is taken as 1; divides both channel counts */
    int bias;        /* 1: a bias per output channel */
} el_conv2d_config;

typedef struct el_conv2d {
    el_conv2d_config config; /* as given, with the zeros taken as 1 */
    el_param weight;         /* "<name>.weight", (C_out, C_in/groups, kh, kw) */
    el_param bias;           /* "<name>.bias", (C_out); empty without bias */
} el_conv2d;

/* Allocates and initialises the layer; rng may be NULL for zero weights. */
EL_API el_status el_conv2d_init(el_conv2d *layer, const char *name, const el_conv2d_config *config,
                                el_rng *rng);
EL_API void el_conv2d_free(el_conv2d *layer);
/* Appends weight (and bias) to list. */
EL_API el_status el_conv2d_params(el_conv2d *layer, el_param_list *list);

/* y = conv(x) + bias, x (N, C_in, H, W); y is sized (N, C_out, H_out,
 * W_out). */
EL_API el_status el_conv2d_forward(const el_conv2d *layer, el_conv_cache *cache, const el_tensor *x,
                                   el_tensor *y);
/* Given dy of y's shape, accumulates the weight and bias gradients and
 * writes dx, sized as x (dx may be NULL). */
EL_API el_status el_conv2d_backward(el_conv2d *layer, el_conv_cache *cache, const el_tensor *dy,
                                    el_tensor *dx);

/* ---- conv1d ------------------------------------------------------------ */

typedef struct el_conv1d_config {
    int in_channels;
    int out_channels;
    int kernel;
    int stride;   /* 0 is taken as 1 */
    int padding;  /* zeros on both sides */
    int dilation; /* 0 is taken as 1 */
    int groups;   /* 0 is taken as 1; divides both channel counts */
    int bias;     /* 1: a bias per output channel */
} el_conv1d_config;

typedef struct el_conv1d {
    el_conv1d_config config; /* as given, with the zeros taken as 1 */
    el_param weight;         /* "<name>.weight", (C_out, C_in/groups, k) */
    el_param bias;           /* "<name>.bias", (C_out); empty without bias */
} el_conv1d;

EL_API el_status el_conv1d_init(el_conv1d *layer, const char *name, const el_conv1d_config *config,
                                el_rng *rng);
EL_API void el_conv1d_free(el_conv1d *layer);
EL_API el_status el_conv1d_params(el_conv1d *layer, el_param_list *list);

/* y = conv(x) + bias, x (N, C_in, L); y is sized (N, C_out, L_out). */
EL_API el_status el_conv1d_forward(const el_conv1d *layer, el_conv_cache *cache, const el_tensor *x,
                                   el_tensor *y);
EL_API el_status el_conv1d_backward(el_conv1d *layer, el_conv_cache *cache, const el_tensor *dy,
                                    el_tensor *dx);

/* ---- conv_transpose2d -------------------------------------------------- */

typedef struct el_conv_transpose2d_config {
    int in_channels;
    int out_channels;
    int kernel[2];         /* (kh, kw) */
    int stride[2];         /* 0 is taken as 1 */
    int padding[2];        /* taken off both sides of the output */
    int output_padding[2]; /* added to one side; below the stride or the dilation */
    int dilation[2];       /* 0 is taken as 1 */
    int groups;            /* 0 is taken as 1; divides both channel counts */
    int bias;              /* 1: a bias per output channel */
} el_conv_transpose2d_config;

typedef struct el_conv_transpose2d {
    el_conv_transpose2d_config config; /* as given, with the zeros taken as 1 */
    el_param weight;                   /* "<name>.weight", (C_in, C_out/groups, kh, kw) */
    el_param bias;                     /* "<name>.bias", (C_out); empty without bias */
} el_conv_transpose2d;

EL_API el_status el_conv_transpose2d_init(el_conv_transpose2d *layer, const char *name,
                                          const el_conv_transpose2d_config *config, el_rng *rng);
EL_API void el_conv_transpose2d_free(el_conv_transpose2d *layer);
EL_API el_status el_conv_transpose2d_params(el_conv_transpose2d *layer, el_param_list *list);

/* x (N, C_in, H, W); y is sized (N, C_out, H_out, W_out). */
EL_API el_status el_conv_transpose2d_forward(const el_conv_transpose2d *layer, el_conv_cache *cache,
                                             const el_tensor *x, el_tensor *y);
EL_API el_status el_conv_transpose2d_backward(el_conv_transpose2d *layer, el_conv_cache *cache,
                                              const el_tensor *dy, el_tensor *dx);

#ifdef __cplusplus
}
#endif
#endif
