#include "elman/dropout.h"
#include "core/internal.h"

el_status el_dropout_forward(const el_dropout *layer, el_rng *rng, const el_tensor *x, el_tensor *y,
                             el_tensor *mask)
{
    EL_REQUIRE(layer, "el_dropout_forward");
    EL_REQUIRE(x, "el_dropout_forward");
    EL_REQUIRE(y, "el_dropout_forward");
    if (!(layer->p >= 0 && layer->p <= 1))
        return el__fail(EL_ERR_INVALID, "el_dropout_forward: p %g outside [0, 1]", layer->p);
    if (layer->training && layer->p != 0) {
        EL_REQUIRE(rng, "el_dropout_forward");
        EL_REQUIRE(mask, "el_dropout_forward");
    }
    el_status s = el__size_output("el_dropout_forward", "y", y, x->ndim, x->shape);
    if (!s && layer->training && mask)
        s = el__size_output("el_dropout_forward", "mask", mask, x->ndim, x->shape);
    if (s) return s;
    if (!layer->training || layer->p == 0) {
        if (y != x) s = el_tensor_copy(y, x);
        if (!s && layer->training && mask) el_tensor_fill(mask, 1.0f);
        return s;
    }
    /* p == 1 drops everything; PyTorch also returns zeros there. */
    float scale = layer->p < 1 ? 1.0f / (1.0f - layer->p) : 0.0f;
    for (size_t i = 0; i < x->size; i++) {
        float m = el_rng_uniform(rng) >= layer->p ? scale : 0.0f;
        mask->data[i] = m;
        y->data[i] = x->data[i] * m;
    }
    return EL_OK;
}

el_status el_dropout_backward(const el_dropout *layer, const el_tensor *mask, const el_tensor *dy,
                              el_tensor *dx)
{
    EL_REQUIRE(layer, "el_dropout_backward");
    EL_REQUIRE(dy, "el_dropout_backward");
    EL_REQUIRE(dx, "el_dropout_backward");
    if (layer->training) {
        EL_REQUIRE(mask, "el_dropout_backward");
        el_status s = el__check_same_size("el_dropout_backward", "mask", mask, "dy", dy);
        if (s) return s;
    }
    el_status s = el__size_output("el_dropout_backward", "dx", dx, dy->ndim, dy->shape);
    if (s) return s;
    if (!layer->training) return dx == dy ? EL_OK : el_tensor_copy(dx, dy);
    for (size_t i = 0; i < dy->size; i++) dx->data[i] = dy->data[i] * mask->data[i];
    return EL_OK;
}
