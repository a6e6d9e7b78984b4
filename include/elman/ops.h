/* elman: tensor operations.
 *
 * Matrix products go to OpenBLAS (cblas_sgemm).  Element-wise operations take
 * tensors with the same number of elements and allow the output to be one of
 * the inputs.  A backward function writes (overwrites) the gradient of its
 * inputs unless it says it accumulates.
 *
 * Arguments follow the API convention (docs/library.md): inputs, then
 * outputs, then options (alpha, beta).  An output that is only written sizes
 * itself: empty or of another shape, it is (re)allocated like its input (a
 * matrix product's as rows x cols; one whose rows and columns already match
 * keeps its shape); a view must already have the shape.  An output that is
 * also read (beta != 0) must already have its shape.  el_axpy, el_add_row,
 * el_sum_backward and el_mean_backward update their first argument in place:
 * that tensor is their object, so it comes first. */
#ifndef ELMAN_OPS_H
#define ELMAN_OPS_H

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum el_transpose { EL_NO_TRANS = 0, EL_TRANS = 1 } el_transpose;

/* C = alpha * op(A) * op(B) + beta * C, where op(X) is X or its transpose and
 * every operand is taken as a matrix (see tensor.h).  With beta = 0 the old
 * contents of C are ignored (NaN included). */
EL_API el_status el_matmul(const el_tensor *a, el_transpose trans_a, const el_tensor *b,
                           el_transpose trans_b, el_tensor *c, float alpha, float beta);

/* The gradients of C = alpha * op(A) * op(B) given dC:
 * dA = beta * dA + (gradient), and the same for dB.  beta = 0 overwrites,
 * beta = 1 accumulates.  Either of da and db may be NULL. */
EL_API el_status el_matmul_backward(const el_tensor *a, el_transpose trans_a, const el_tensor *b,
                                    el_transpose trans_b, const el_tensor *dc, el_tensor *da,
                                    el_tensor *db, float alpha, float beta);

/* y = a + b, y = a - b, y = a * b (element-wise). */
EL_API el_status el_add(const el_tensor *a, const el_tensor *b, el_tensor *y);
EL_API el_status el_sub(const el_tensor *a, const el_tensor *b, el_tensor *y);
EL_API el_status el_mul(const el_tensor *a, const el_tensor *b, el_tensor *y);
/* The gradients of y = a * b: da = dy * b, db = dy * a (either may be NULL). */
EL_API el_status el_mul_backward(const el_tensor *a, const el_tensor *b, const el_tensor *dy,
                                 el_tensor *da, el_tensor *db);

/* y = s * x. */
EL_API el_status el_scale(const el_tensor *x, float s, el_tensor *y);
/* y += alpha * x (y is updated in place, so it is the object). */
EL_API el_status el_axpy(el_tensor *y, float alpha, const el_tensor *x);

/* y[i, :] += bias[:] for every row i of y (bias has cols(y) elements). */
EL_API el_status el_add_row(el_tensor *y, const el_tensor *bias);
/* out[j] = beta * out[j] + sum over rows i of x[i, j]: the gradient of
 * el_add_row's bias.  beta is an option, as el_matmul's: with 0, out sizes
 * itself (cols(x) elements); otherwise it accumulates and must already hold
 * cols(x) elements. */
EL_API el_status el_sum_rows(const el_tensor *x, el_tensor *out, float beta);

/* The sum and the mean of all elements, accumulated in double. */
EL_API double el_sum(const el_tensor *x);
EL_API double el_mean(const el_tensor *x);
/* The gradient of s = sum(x) (dx = ds everywhere) and of m = mean(x).  dx
 * already has x's shape and is filled in place (as el_tensor_fill). */
EL_API void el_sum_backward(el_tensor *dx, float ds);
EL_API void el_mean_backward(el_tensor *dx, float dm);

/* sqrt(sum of squares), accumulated in double. */
EL_API double el_norm(const el_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
