/* elman: the sequential container, as torch.nn.Sequential, and the module
 * interface it holds.
 *
 * A module is any layer behind a small table of functions (el_module_ops).
 * The container runs its modules in order forward and in reverse backward,
 * keeping every module's output (and each module its own cache) inside, sized
 * once per input shape.  It names its modules' tensors by position as a flat
 * nn.Sequential's state_dict does: the i-th module's "weight" is "i.weight"
 * ("<name>.i.weight" for a container made with a name), and modules without
 * tensors (ReLU, pooling, flatten) still take an index.  So a checkpoint of
 * an elman container loads into the same nn.Sequential in PyTorch and back.
 *
 * How a module joins: write a struct that starts with the layer and holds
 * whatever its backward needs (its cache), and an el_module_ops for it:
 *   - forward(self, x, y): sizes y with el_tensor_ensure and fills it;
 *   - backward(self, x, y, dy, dx): x and y are the forward's input and
 *     output, kept by the container; accumulates into the parameters'
 *     gradients and sizes and writes dx (NULL when not wanted);
 *   - params / buffers (el_param_list, NULL when there are none): tensors
 *     with gradients, and float state without them (grad empty);
 *   - counter (NULL when there is none): an int64 entry of the state_dict
 *     (batch norm's num_batches_tracked), with its writable name buffer
 *     (EL_NAME_MAX bytes);
 *   - set_training (NULL when train and eval behave alike);
 *   - free: releases the layer, the cache and self itself;
 *   - kind: PyTorch's class name ("Linear", "ReLU", "BatchNorm1d").
 *
 * A constructor allocates self, builds the layer with no name prefix (names
 * "weight", "bias", ...) and fills an el_module; el_sequential_add prefixes
 * the names with the module's index.  The constructors below are written this
 * way (src/nn/sequential.c); each adapter's self starts with its layer, so
 * (el_dense *)module->self is the dense layer of el_module_dense. */
#ifndef ELMAN_SEQUENTIAL_H
#define ELMAN_SEQUENTIAL_H

#include <stdint.h>

#include "batchnorm.h"
#include "conv.h"
#include "dense.h"
#include "dropout.h"
#include "param.h"
#include "pool.h"
#include "rng.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_module_ops {
    const char *kind;
    el_status (*forward)(void *self, const el_tensor *x, el_tensor *y);
    el_status (*backward)(void *self, const el_tensor *x, const el_tensor *y, const el_tensor *dy,
                          el_tensor *dx);
    el_status (*params)(void *self, el_param_list *list);
    el_status (*buffers)(void *self, el_param_list *list);
    int64_t *(*counter)(void *self, char **name);
    void (*set_training)(void *self, int on);
    void (*free)(void *self);
} el_module_ops;

typedef struct el_module {
    const el_module_ops *ops;
    void *self;
} el_module;

/* Frees the module (safe on a zeroed one) and zeroes it. */
EL_API void el_module_free(el_module *m);

/* The adapters of elman's layers.  Each fills m, which the caller passes to
 * el_sequential_add (or frees with el_module_free). */

/* nn.Linear(in, out, bias); rng may be NULL for zero weights. */
EL_API el_status el_module_dense(el_module *m, int in_features, int out_features, int has_bias,
                                 el_rng *rng);
/* nn.Conv1d, nn.Conv2d and nn.ConvTranspose2d as configured (conv.h). */
EL_API el_status el_module_conv1d(el_module *m, const el_conv1d_config *config, el_rng *rng);
EL_API el_status el_module_conv2d(el_module *m, const el_conv2d_config *config, el_rng *rng);
EL_API el_status el_module_conv_transpose2d(el_module *m, const el_conv_transpose2d_config *config,
                                            el_rng *rng);
/* nn.ReLU, nn.Sigmoid, nn.Tanh. */
EL_API el_status el_module_relu(el_module *m);
EL_API el_status el_module_sigmoid(el_module *m);
EL_API el_status el_module_tanh(el_module *m);
/* nn.Dropout(p), drawing its masks from rng, which must outlive m. */
EL_API el_status el_module_dropout(el_module *m, float p, el_rng *rng);
/* nn.MaxPool1d/2d or AvgPool1d/2d as configured by el_pool_init. */
EL_API el_status el_module_pool(el_module *m, const el_pool *pool);
/* nn.BatchNorm1d (dims 1) or BatchNorm2d (dims 2) of num_features. */
EL_API el_status el_module_batchnorm(el_module *m, int dims, int num_features);
/* nn.Flatten(): (N, ...) -> (N, product of the rest). */
EL_API el_status el_module_flatten(el_module *m);
/* nn.Unflatten(1, shape): (N, product of shape) -> (N, shape...), with
 * ndim 1 to EL_MAX_DIMS - 1 (a copy, as flatten's). */
EL_API el_status el_module_unflatten(el_module *m, int ndim, const int *shape);

typedef struct el_sequential {
    char name[EL_NAME_MAX]; /* the prefix of every tensor's name, or "" */
    el_module *modules;
    int count;
    int capacity;
    int training;       /* 1 after init */
    int forward_done;   /* 1 between a forward and its backward */
    el_tensor input;    /* the forward's x, copied */
    el_tensor *outputs; /* each module's forward output */
    el_tensor grads[2]; /* the gradients between modules, alternately */
} el_sequential;

/* name may be NULL or "" for names "0.weight", ...; in training mode. */
EL_API el_status el_sequential_init(el_sequential *seq, const char *name);
EL_API void el_sequential_free(el_sequential *seq);

/* Appends m, taking it over: the container frees it, also when the call
 * fails, and zeroes *m.  Its tensors are renamed "<index>.<name>" (after the
 * container's prefix) and the container's mode is applied to it. */
EL_API el_status el_sequential_add(el_sequential *seq, el_module *m);
/* The module at index (NULL when out of range). */
EL_API el_module *el_sequential_module(el_sequential *seq, int index);

/* Appends every module's parameters, in order. */
EL_API el_status el_sequential_params(el_sequential *seq, el_param_list *list);
/* Appends every module's buffers, in order. */
EL_API el_status el_sequential_buffers(el_sequential *seq, el_param_list *list);
/* The int64 state of the module at index and its name, or NULL when the
 * module has none (name is then untouched; it may be NULL). */
EL_API int64_t *el_sequential_counter(el_sequential *seq, int index, const char **name);
/* Switches every module between training (on) and evaluation.  Switch
 * after a backward, not between a forward and its backward: dropout's
 * backward follows the mode it finds. */
EL_API void el_sequential_set_training(el_sequential *seq, int on);

/* Runs the modules on x and writes the last one's output into y.  x is
 * copied, so the caller may change it before backward. */
EL_API el_status el_sequential_forward(el_sequential *seq, const el_tensor *x, el_tensor *y);
/* Backpropagates dy (the shape of the forward's y) through every module,
 * accumulating into their parameters' gradients, and writes dx (the shape
 * of x; may be NULL). */
EL_API el_status el_sequential_backward(el_sequential *seq, const el_tensor *dy, el_tensor *dx);

#ifdef __cplusplus
}
#endif
#endif
