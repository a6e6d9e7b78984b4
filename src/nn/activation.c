#include <math.h>

#include "elman/activation.h"
#include "core/internal.h"

/* Sizes y like x (the API convention: outputs size themselves). */
static el_status check_forward(const char *fn, const el_tensor *x, el_tensor *y)
{
    if (!x || !y) return el__fail(EL_ERR_INVALID, "%s: a tensor is NULL", fn);
    return el__size_output(fn, "y", y, x->ndim, x->shape);
}

/* Checks dy against y and sizes dx like y. */
static el_status check_backward(const char *fn, const el_tensor *y, const el_tensor *dy,
                                el_tensor *dx)
{
    if (!y || !dy || !dx) return el__fail(EL_ERR_INVALID, "%s: a tensor is NULL", fn);
    el_status s = el__check_same_size(fn, "dy", dy, "y", y);
    return s ? s : el__size_output(fn, "dx", dx, y->ndim, y->shape);
}

el_status el_relu_forward(const el_tensor *x, el_tensor *y)
{
    el_status s = check_forward("el_relu_forward", x, y);
    if (s) return s;
    for (size_t i = 0; i < x->size; i++) y->data[i] = x->data[i] > 0 ? x->data[i] : 0.0f;
    return EL_OK;
}

el_status el_relu_backward(const el_tensor *y, const el_tensor *dy, el_tensor *dx)
{
    el_status s = check_backward("el_relu_backward", y, dy, dx);
    if (s) return s;
    for (size_t i = 0; i < y->size; i++) dx->data[i] = y->data[i] > 0 ? dy->data[i] : 0.0f;
    return EL_OK;
}

/* Exp of a non-positive number only, so neither branch overflows. */
static float sigmoid(float x)
{
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

el_status el_sigmoid_forward(const el_tensor *x, el_tensor *y)
{
    el_status s = check_forward("el_sigmoid_forward", x, y);
    if (s) return s;
    for (size_t i = 0; i < x->size; i++) y->data[i] = sigmoid(x->data[i]);
    return EL_OK;
}

el_status el_sigmoid_backward(const el_tensor *y, const el_tensor *dy, el_tensor *dx)
{
    el_status s = check_backward("el_sigmoid_backward", y, dy, dx);
    if (s) return s;
    for (size_t i = 0; i < y->size; i++)
        dx->data[i] = dy->data[i] * y->data[i] * (1.0f - y->data[i]);
    return EL_OK;
}

el_status el_tanh_forward(const el_tensor *x, el_tensor *y)
{
    el_status s = check_forward("el_tanh_forward", x, y);
    if (s) return s;
    for (size_t i = 0; i < x->size; i++) y->data[i] = tanhf(x->data[i]);
    return EL_OK;
}

el_status el_tanh_backward(const el_tensor *y, const el_tensor *dy, el_tensor *dx)
{
    el_status s = check_backward("el_tanh_backward", y, dy, dx);
    if (s) return s;
    for (size_t i = 0; i < y->size; i++)
        dx->data[i] = dy->data[i] * (1.0f - y->data[i] * y->data[i]);
    return EL_OK;
}

static float row_max(const float *x, int n)
{
    float m = -INFINITY;
    for (int j = 0; j < n; j++)
        if (x[j] > m) m = x[j];
    return m;
}

el_status el_softmax_forward(const el_tensor *x, el_tensor *y)
{
    el_status s = check_forward("el_softmax_forward", x, y);
    if (s) return s;
    int rows = el_tensor_rows(x), cols = el_tensor_cols(x);
    for (int i = 0; i < rows; i++) {
        const float *xi = x->data + (size_t)i * cols;
        float *yi = y->data + (size_t)i * cols;
        float m = row_max(xi, cols);
        float sum = 0;
        for (int j = 0; j < cols; j++) {
            yi[j] = expf(xi[j] - m);
            sum += yi[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < cols; j++) yi[j] *= inv;
    }
    return EL_OK;
}

el_status el_softmax_backward(const el_tensor *y, const el_tensor *dy, el_tensor *dx)
{
    el_status s = check_backward("el_softmax_backward", y, dy, dx);
    if (s) return s;
    int rows = el_tensor_rows(y), cols = el_tensor_cols(y);
    for (int i = 0; i < rows; i++) {
        const float *yi = y->data + (size_t)i * cols, *dyi = dy->data + (size_t)i * cols;
        float *dxi = dx->data + (size_t)i * cols;
        float dot = 0;
        for (int j = 0; j < cols; j++) dot += dyi[j] * yi[j];
        for (int j = 0; j < cols; j++) dxi[j] = yi[j] * (dyi[j] - dot);
    }
    return EL_OK;
}

el_status el_log_softmax_forward(const el_tensor *x, el_tensor *y)
{
    el_status s = check_forward("el_log_softmax_forward", x, y);
    if (s) return s;
    int rows = el_tensor_rows(x), cols = el_tensor_cols(x);
    for (int i = 0; i < rows; i++) {
        const float *xi = x->data + (size_t)i * cols;
        float *yi = y->data + (size_t)i * cols;
        float m = row_max(xi, cols);
        float sum = 0;
        for (int j = 0; j < cols; j++) sum += expf(xi[j] - m);
        float shift = m + logf(sum);
        for (int j = 0; j < cols; j++) yi[j] = xi[j] - shift;
    }
    return EL_OK;
}

el_status el_log_softmax_backward(const el_tensor *y, const el_tensor *dy, el_tensor *dx)
{
    el_status s = check_backward("el_log_softmax_backward", y, dy, dx);
    if (s) return s;
    int rows = el_tensor_rows(y), cols = el_tensor_cols(y);
    for (int i = 0; i < rows; i++) {
        const float *yi = y->data + (size_t)i * cols, *dyi = dy->data + (size_t)i * cols;
        float *dxi = dx->data + (size_t)i * cols;
        float sum = 0;
        for (int j = 0; j < cols; j++) sum += dyi[j];
        for (int j = 0; j < cols; j++) dxi[j] = dyi[j] - expf(yi[j]) * sum;
    }
    return EL_OK;
}
