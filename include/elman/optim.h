/* elman: optimizers.
 *
 * One el_optimizer updates every parameter of a list with the gradients they
 * hold.  The update rules are PyTorch's (torch.optim.SGD, Adam and AdamW), so
 * the same numbers give the same weights.
 *
 * The optimizer's state is addressable by name for checkpoints: each state
 * tensor is called "<parameter name>.<slot>", with PyTorch's slot names
 * momentum_buffer (SGD with momentum), exp_avg and exp_avg_sq (Adam, AdamW);
 * the step count is kept separately. */
#ifndef ELMAN_OPTIM_H
#define ELMAN_OPTIM_H

#include "param.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum el_optimizer_kind { EL_OPT_SGD = 0, EL_OPT_ADAM, EL_OPT_ADAMW } el_optimizer_kind;

/* The hyperparameters are doubles, as PyTorch's (Python floats) are: a
 * float 0.999 would make 1 - beta2 differ from PyTorch's in the fifth digit. */
typedef struct el_optimizer_config {
    el_optimizer_kind kind;
    double lr;
    double weight_decay; /* SGD and Adam: L2 added to the gradient; AdamW: decoupled */
    /* SGD */
    double momentum;
    double dampening;
    int nesterov; /* needs momentum > 0 and dampening == 0, as in PyTorch */
    /* Adam and AdamW */
    double beta1;
    double beta2;
    double eps;
} el_optimizer_config;

/* PyTorch's defaults for the kind: lr 0.01 for SGD (PyTorch has none),
 * 1e-3 for Adam and AdamW; betas (0.9, 0.999); eps 1e-8; weight decay 0,
 * or 0.01 for AdamW. */
EL_API el_optimizer_config el_optimizer_defaults(el_optimizer_kind kind);

/* Parses "sgd", "adam" or "adamw". */
EL_API el_status el_optimizer_kind_parse(const char *text, el_optimizer_kind *kind);
EL_API const char *el_optimizer_kind_name(el_optimizer_kind kind);

typedef struct el_optimizer el_optimizer;

/* Creates an optimizer over the parameters of list, which must outlive it
 * and keep its parameters in the same order. */
EL_API el_status el_optimizer_create(el_optimizer **out, const el_optimizer_config *config,
                                     const el_param_list *list);
EL_API void el_optimizer_free(el_optimizer *opt);

/* Applies one update with the gradients the parameters hold now. */
EL_API el_status el_optimizer_step(el_optimizer *opt);
/* Sets every gradient of the list to zero. */
EL_API void el_optimizer_zero_grad(el_optimizer *opt);

EL_API double el_optimizer_lr(const el_optimizer *opt);
EL_API void el_optimizer_set_lr(el_optimizer *opt, double lr);
EL_API const el_optimizer_config *el_optimizer_get_config(const el_optimizer *opt);

/* Updates applied so far (PyTorch's "step"); settable for resuming. */
EL_API long el_optimizer_step_count(const el_optimizer *opt);
EL_API void el_optimizer_set_step_count(el_optimizer *opt, long steps);

/* The state tensors, in a fixed order: count, then each by index or name. */
EL_API int el_optimizer_state_count(const el_optimizer *opt);
EL_API el_status el_optimizer_state_at(el_optimizer *opt, int index, const char **name,
                                       el_tensor **value);
/* The state tensor called name ("fc.weight.exp_avg"), or NULL. */
EL_API el_tensor *el_optimizer_find_state(el_optimizer *opt, const char *name);

#ifdef __cplusplus
}
#endif
#endif
