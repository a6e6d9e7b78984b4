/* elman: activation functions, each a forward/backward pair.
 *
 * The backward functions take the forward output y (not the input): it is
 * all they need, and it lets forward run in place (y == x).  dx may be dy.
 * Inputs come first, then the output, which sizes itself: y takes x's shape
 * and dx y's, (re)allocated when empty or of another shape (a view must
 * already have it).  dy must hold as many elements as y. */
#ifndef ELMAN_ACTIVATION_H
#define ELMAN_ACTIVATION_H

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = max(x, 0); dx = dy where y > 0, else 0. */
EL_API el_status el_relu_forward(const el_tensor *x, el_tensor *y);
EL_API el_status el_relu_backward(const el_tensor *y, const el_tensor *dy, el_tensor *dx);

/* y = 1 / (1 + exp(-x)), computed without overflow; dx = dy * y * (1 - y). */
EL_API el_status el_sigmoid_forward(const el_tensor *x, el_tensor *y);
EL_API el_status el_sigmoid_backward(const el_tensor *y, const el_tensor *dy, el_tensor *dx);

/* y = tanh(x); dx = dy * (1 - y^2). */
EL_API el_status el_tanh_forward(const el_tensor *x, el_tensor *y);
EL_API el_status el_tanh_backward(const el_tensor *y, const el_tensor *dy, el_tensor *dx);

/* Softmax over each row (the last dimension), stable for any finite input:
 * the row maximum is subtracted first.  dx = y * (dy - sum(dy * y)). */
EL_API el_status el_softmax_forward(const el_tensor *x, el_tensor *y);
EL_API el_status el_softmax_backward(const el_tensor *y, const el_tensor *dy, el_tensor *dx);

/* log(softmax(x)) over each row, as x - max - log(sum(exp(x - max))).
 * dx = dy - exp(y) * sum(dy). */
EL_API el_status el_log_softmax_forward(const el_tensor *x, el_tensor *y);
EL_API el_status el_log_softmax_backward(const el_tensor *y, const el_tensor *dy, el_tensor *dx);

#ifdef __cplusplus
}
#endif
#endif
