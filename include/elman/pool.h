/* elman: max and average pooling over 1 or 2 spatial dimensions, as
 * torch.nn.MaxPool1d/2d and AvgPool1d/2d with ceil_mode=False.
 *
 * The last `dims` dimensions of x are spatial and every leading one is a
 * plane that is pooled separately: (N, C, L) or (C, L) for dims 1,
 * (N, C, H, W) or (C, H, W) for dims 2.  Along each spatial dimension the
 * output has floor((in + 2 padding - kernel) / stride) + 1 positions.
 *
 * Max pooling pads with -infinity and its backward pass routes each
 * output's gradient to the element PyTorch's indices name: the first maximum
 * of the window, or its last NaN (a NaN wins over any number).  Average
 * pooling counts the padding in the divisor (PyTorch's
 * count_include_pad=True), so every window divides by the kernel's size.
 *
 * For dims 1 only the first entry of kernel, stride and padding is used. */
#ifndef ELMAN_POOL_H
#define ELMAN_POOL_H

#include <stddef.h>

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum el_pool_kind { EL_POOL_MAX, EL_POOL_AVG } el_pool_kind;

typedef struct el_pool {
    el_pool_kind kind;
    int dims;      /* 1 or 2 spatial dimensions */
    int kernel[2]; /* per spatial dimension, in order (height, width) */
    int stride[2];
    int padding[2];
} el_pool;

/* What backward needs from forward: the input's shape and, for max pooling,
 * the flat input index each output came from.  Zero it before the first
 * forward; its memory is reused while the shapes stay. */
typedef struct el_pool_cache {
    int *argmax;     /* one per output element (max pooling only) */
    size_t capacity; /* ints allocated in argmax */
    int ndim;        /* x's shape */
    int shape[EL_MAX_DIMS];
    int forward_done; /* 1 between a forward and its backward */
} el_pool_cache;

/* kernel, stride and padding hold dims values each; stride NULL means the
 * kernel (PyTorch's default) and padding NULL means 0.  Every kernel and
 * stride must be positive and every padding at most half its kernel, as
 * PyTorch requires. */
EL_API el_status el_pool_init(el_pool *pool, el_pool_kind kind, int dims, const int *kernel,
                              const int *stride, const int *padding);

/* "MaxPool1d", "AvgPool2d", ...: PyTorch's class name for the pool. */
EL_API const char *el_pool_kind_name(const el_pool *pool);

EL_API el_status el_pool_forward(const el_pool *pool, el_pool_cache *cache, const el_tensor *x,
                                 el_tensor *y);
/* dx (x's shape) receives the pooled gradient; dx may be NULL, which only
 * consumes the cache. */
EL_API el_status el_pool_backward(const el_pool *pool, el_pool_cache *cache, const el_tensor *dy,
                                  el_tensor *dx);
EL_API void el_pool_cache_free(el_pool_cache *cache);

#ifdef __cplusplus
}
#endif
#endif
