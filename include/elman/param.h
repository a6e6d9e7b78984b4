/* elman: parameters and parameter lists.
 *
 * A parameter is a named value with its gradient of the same shape.  Names
 * follow PyTorch's state_dict keys ("encoder.weight_ih_l0", "fc.bias"),
 * because checkpoints are saved under them.  A module owns its parameters and
 * appends pointers to them to a list; an optimizer updates any list. */
#ifndef ELMAN_PARAM_H
#define ELMAN_PARAM_H

#include <stddef.h>

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EL_NAME_MAX 128

typedef struct el_param {
    char name[EL_NAME_MAX];
    el_tensor value;
    el_tensor grad;
} el_param;

/* Allocates value and grad (both zero) of the given shape.  The name is
 * prefix "." suffix, or just suffix when prefix is NULL or empty. */
EL_API el_status el_param_init(el_param *p, const char *prefix, const char *suffix, int ndim,
                               const int *shape);
EL_API void el_param_free(el_param *p);

typedef struct el_param_list {
    el_param **items;
    int count;
    int capacity;
} el_param_list;

/* Appends p (not a copy: the list points at the caller's parameter).  A name
 * already in the list is refused. */
EL_API el_status el_param_list_add(el_param_list *list, el_param *p);
/* Frees the list's own memory, not the parameters. */
EL_API void el_param_list_free(el_param_list *list);
/* The parameter of that name, or NULL. */
EL_API el_param *el_param_list_find(const el_param_list *list, const char *name);
/* The total number of elements in all values. */
EL_API size_t el_param_list_numel(const el_param_list *list);
/* Sets every gradient to zero. */
EL_API void el_param_list_zero_grad(el_param_list *list);

/* sqrt(sum of all squared gradient elements), accumulated in double: NaN or
 * infinite when any gradient is. */
EL_API double el_grad_norm(const el_param_list *list);

/* Clipping by global gradient norm, as torch.nn.utils.clip_grad_norm_:
 * total = sqrt(sum of all squared gradient elements); when total > max_norm,
 * every gradient is scaled by max_norm / (total + 1e-6).  *total_norm (if not
 * NULL) receives the norm before clipping.  A non-finite norm is an error
 * (EL_ERR_STATE) and leaves the gradients untouched, so a caller can skip the
 * step instead of writing NaN into the weights. */
EL_API el_status el_clip_grad_norm(el_param_list *list, float max_norm, float *total_norm);

#ifdef __cplusplus
}
#endif
#endif
