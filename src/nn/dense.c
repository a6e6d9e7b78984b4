#include <math.h>
#include <string.h>

#include "elman/dense.h"
#include "elman/ops.h"
#include "core/internal.h"

el_status el_dense_init(el_dense *layer, const char *name, int in_features, int out_features,
                        int has_bias, el_rng *rng)
{
    EL_REQUIRE(layer, "el_dense_init");
    memset(layer, 0, sizeof *layer);
    if (in_features < 1 || out_features < 1)
        return el__fail(EL_ERR_INVALID,
                        "el_dense_init: %d inputs and %d outputs (both must be positive)",
                        in_features, out_features);
    layer->in_features = in_features;
    layer->out_features = out_features;
    layer->has_bias = has_bias != 0;
    el_status s =
        el_param_init(&layer->weight, name, "weight", 2, (int[]){out_features, in_features});
    if (!s && layer->has_bias)
        s = el_param_init(&layer->bias, name, "bias", 1, (int[]){out_features});
    if (!s && rng) {
        float bound = 1.0f / sqrtf((float)in_features);
        s = el_init_uniform(&layer->weight.value, rng, -bound, bound);
        if (!s && layer->has_bias) s = el_init_uniform(&layer->bias.value, rng, -bound, bound);
    }
    if (s) el_dense_free(layer);
    return s;
}

void el_dense_free(el_dense *layer)
{
    if (!layer) return;
    el_param_free(&layer->weight);
    el_param_free(&layer->bias);
}

el_status el_dense_params(el_dense *layer, el_param_list *list)
{
    EL_REQUIRE(layer, "el_dense_params");
    el_status s = el_param_list_add(list, &layer->weight);
    if (!s && layer->has_bias) s = el_param_list_add(list, &layer->bias);
    return s;
}

static el_status check_input(const char *fn, const el_dense *layer, const el_tensor *x)
{
    if (el_tensor_cols(x) != layer->in_features) {
        char shape[64];
        return el__fail(EL_ERR_SHAPE, "%s: %s expects %d input features, x is %s", fn,
                        layer->weight.name, layer->in_features,
                        el_tensor_shape_string(x, shape, sizeof shape));
    }
    return EL_OK;
}

/* Sizes an output with x's leading dimensions and cols last; one with the
 * right rows and columns (all leading dimensions taken as rows) is reused as
 * it is. */
static el_status size_like_x(const char *fn, const char *name, el_tensor *t, const el_tensor *x,
                             int cols)
{
    if (t->ndim > 0 && el_tensor_rows(t) == el_tensor_rows(x) && el_tensor_cols(t) == cols)
        return EL_OK;
    int shape[EL_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[x->ndim - 1] = cols;
    return el__size_output(fn, name, t, x->ndim, shape);
}

el_status el_dense_forward(const el_dense *layer, const el_tensor *x, el_tensor *y)
{
    EL_REQUIRE(layer, "el_dense_forward");
    EL_REQUIRE(x, "el_dense_forward");
    EL_REQUIRE(y, "el_dense_forward");
    el_status s = check_input("el_dense_forward", layer, x);
    if (s) return s;
    s = size_like_x("el_dense_forward", "y", y, x, layer->out_features);
    if (s) return s;
    s = el_matmul(x, EL_NO_TRANS, &layer->weight.value, EL_TRANS, y, 1.0f, 0.0f);
    if (!s && layer->has_bias) s = el_add_row(y, &layer->bias.value);
    return s;
}

el_status el_dense_backward(el_dense *layer, const el_tensor *x, const el_tensor *dy, el_tensor *dx)
{
    EL_REQUIRE(layer, "el_dense_backward");
    EL_REQUIRE(x, "el_dense_backward");
    EL_REQUIRE(dy, "el_dense_backward");
    el_status s = check_input("el_dense_backward", layer, x);
    if (s) return s;
    if (el_tensor_rows(dy) != el_tensor_rows(x) || el_tensor_cols(dy) != layer->out_features) {
        char have[64];
        return el__fail(EL_ERR_SHAPE, "el_dense_backward: dy is %s, expected %dx%d",
                        el_tensor_shape_string(dy, have, sizeof have), el_tensor_rows(x),
                        layer->out_features);
    }
    /* Every shape is checked before the gradients accumulate, so a failure
     * leaves them as they were. */
    if (dx && (s = size_like_x("el_dense_backward", "dx", dx, x, layer->in_features))) return s;
    s = el_matmul(dy, EL_TRANS, x, EL_NO_TRANS, &layer->weight.grad, 1.0f, 1.0f);
    if (!s && layer->has_bias) s = el_sum_rows(dy, &layer->bias.grad, 1.0f);
    if (!s && dx) s = el_matmul(dy, EL_NO_TRANS, &layer->weight.value, EL_NO_TRANS, dx, 1.0f, 0.0f);
    return s;
}
