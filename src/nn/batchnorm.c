#include <math.h>
#include <stdio.h>
#include <string.h>

#include "elman/batchnorm.h"
#include "core/internal.h"

/* A buffer is a parameter without a gradient. */
static el_status buffer_init(el_param *p, const char *name, const char *suffix, int n, float value)
{
    el_status s = el_param_init(p, name, suffix, 1, (int[]){n});
    if (s) return s;
    el_tensor_free(&p->grad);
    el_tensor_fill(&p->value, value);
    return EL_OK;
}

el_status el_batchnorm_init(el_batchnorm *bn, const char *name, int dims, int num_features)
{
    const char *fn = "el_batchnorm_init";
    EL_REQUIRE(bn, fn);
    memset(bn, 0, sizeof *bn);
    if (dims != 1 && dims != 2)
        return el__fail(EL_ERR_INVALID, "%s: %d spatial dimensions (1 or 2)", fn, dims);
    if (num_features < 1)
        return el__fail(EL_ERR_INVALID, "%s: %d features (must be positive)", fn, num_features);
    bn->dims = dims;
    bn->num_features = num_features;
    bn->eps = 1e-5f;
    bn->momentum = 0.1f;
    bn->training = 1;
    int n =
        name && *name
            ? snprintf(bn->tracked_name, sizeof bn->tracked_name, "%s.num_batches_tracked", name)
            : snprintf(bn->tracked_name, sizeof bn->tracked_name, "num_batches_tracked");
    if (n < 0 || (size_t)n >= sizeof bn->tracked_name)
        return el__fail(EL_ERR_INVALID, "%s: the name \"%s\" is too long", fn, name);
    el_status s = el_param_init(&bn->weight, name, "weight", 1, (int[]){num_features});
    if (!s) s = el_param_init(&bn->bias, name, "bias", 1, (int[]){num_features});
    if (!s) s = buffer_init(&bn->running_mean, name, "running_mean", num_features, 0.0f);
    if (!s) s = buffer_init(&bn->running_var, name, "running_var", num_features, 1.0f);
    if (s) {
        el_batchnorm_free(bn);
        return s;
    }
    el_tensor_fill(&bn->weight.value, 1.0f);
    return EL_OK;
}

void el_batchnorm_free(el_batchnorm *bn)
{
    if (!bn) return;
    el_param_free(&bn->weight);
    el_param_free(&bn->bias);
    el_param_free(&bn->running_mean);
    el_param_free(&bn->running_var);
}

el_status el_batchnorm_params(el_batchnorm *bn, el_param_list *list)
{
    EL_REQUIRE(bn, "el_batchnorm_params");
    el_status s = el_param_list_add(list, &bn->weight);
    return s ? s : el_param_list_add(list, &bn->bias);
}

el_status el_batchnorm_buffers(el_batchnorm *bn, el_param_list *list)
{
    EL_REQUIRE(bn, "el_batchnorm_buffers");
    el_status s = el_param_list_add(list, &bn->running_mean);
    return s ? s : el_param_list_add(list, &bn->running_var);
}

void el_batchnorm_set_training(el_batchnorm *bn, int on)
{
    if (bn) bn->training = on != 0;
}

/* x as (outer, C, inner): batch, channels, and the spatial elements. */
typedef struct layout {
    size_t outer, inner;
    int channels;
} layout;

static el_status plan(const char *fn, const el_batchnorm *bn, const el_tensor *x, layout *l)
{
    if (bn->dims != 1 && bn->dims != 2)
        return el__fail(EL_ERR_STATE, "%s: the layer is not initialised", fn);
    char shape[64];
    int ok = bn->dims == 1 ? x->ndim == 2 || x->ndim == 3 : x->ndim == 4;
    if (!ok || x->shape[1] != bn->num_features)
        return el__fail(EL_ERR_SHAPE, "%s: x is %s, %s expects %s with C = %d", fn,
                        el_tensor_shape_string(x, shape, sizeof shape), bn->weight.name,
                        bn->dims == 1 ? "(N, C) or (N, C, L)" : "(N, C, H, W)", bn->num_features);
    l->outer = (size_t)x->shape[0];
    l->channels = x->shape[1];
    l->inner = 1;
    for (int d = 2; d < x->ndim; d++) l->inner *= (size_t)x->shape[d];
    return EL_OK;
}

el_status el_batchnorm_forward(el_batchnorm *bn, el_batchnorm_cache *cache, const el_tensor *x,
                               el_tensor *y)
{
    const char *fn = "el_batchnorm_forward";
    EL_REQUIRE(bn, fn);
    EL_REQUIRE(cache, fn);
    EL_REQUIRE(x, fn);
    EL_REQUIRE(y, fn);
    layout l;
    el_status s = plan(fn, bn, x, &l);
    if (s) return s;
    size_t count = l.outer * l.inner;
    if (bn->training && count < 2)
        return el__fail(EL_ERR_SHAPE,
                        "%s: a channel has %zu value in training mode, it needs more than one", fn,
                        count);
    s = el_tensor_ensure(&cache->xhat, x->ndim, x->shape);
    if (!s) s = el_tensor_ensure(&cache->inv_std, 1, (int[]){l.channels});
    if (!s) s = el__size_output(fn, "y", y, x->ndim, x->shape);
    if (s) return s;
    size_t stride = (size_t)l.channels * l.inner;
    for (int c = 0; c < l.channels; c++) {
        double mean, var;
        if (bn->training) {
            /* Two passes in double: the variance without cancellation. */
            double sum = 0, squares = 0;
            for (size_t o = 0; o < l.outer; o++) {
                const float *xc = x->data + o * stride + (size_t)c * l.inner;
                for (size_t i = 0; i < l.inner; i++) sum += xc[i];
            }
            mean = sum / (double)count;
            for (size_t o = 0; o < l.outer; o++) {
                const float *xc = x->data + o * stride + (size_t)c * l.inner;
                for (size_t i = 0; i < l.inner; i++) squares += (xc[i] - mean) * (xc[i] - mean);
            }
            var = squares / (double)count;
            float m = bn->momentum;
            float *rm = bn->running_mean.value.data, *rv = bn->running_var.value.data;
            rm[c] = (1 - m) * rm[c] + m * (float)mean;
            rv[c] = (1 - m) * rv[c] + m * (float)(squares / (double)(count - 1));
        } else {
            mean = bn->running_mean.value.data[c];
            var = bn->running_var.value.data[c];
        }
        float inv_std = (float)(1.0 / sqrt(var + (double)bn->eps));
        float w = bn->weight.value.data[c], b = bn->bias.value.data[c];
        cache->inv_std.data[c] = inv_std;
        for (size_t o = 0; o < l.outer; o++) {
            size_t at = o * stride + (size_t)c * l.inner;
            for (size_t i = 0; i < l.inner; i++) {
                float xhat = ((float)(x->data[at + i] - mean)) * inv_std;
                cache->xhat.data[at + i] = xhat;
                y->data[at + i] = w * xhat + b;
            }
        }
    }
    if (bn->training) bn->num_batches_tracked++;
    cache->training = bn->training;
    cache->forward_done = 1;
    return EL_OK;
}

el_status el_batchnorm_backward(el_batchnorm *bn, el_batchnorm_cache *cache, const el_tensor *dy,
                                el_tensor *dx)
{
    const char *fn = "el_batchnorm_backward";
    EL_REQUIRE(bn, fn);
    EL_REQUIRE(cache, fn);
    EL_REQUIRE(dy, fn);
    if (!cache->forward_done)
        return el__fail(EL_ERR_STATE, "%s: no forward call to backpropagate through", fn);
    layout l;
    el_status s = plan(fn, bn, &cache->xhat, &l);
    if (s) return s;
    if (!el_tensor_same_shape(dy, &cache->xhat)) {
        char got[64], want[64];
        return el__fail(EL_ERR_SHAPE, "%s: dy is %s, the forward output was %s", fn,
                        el_tensor_shape_string(dy, got, sizeof got),
                        el_tensor_shape_string(&cache->xhat, want, sizeof want));
    }
    if (dx) {
        s = el__size_output(fn, "dx", dx, dy->ndim, dy->shape);
        if (s) return s;
    }
    size_t count = l.outer * l.inner, stride = (size_t)l.channels * l.inner;
    for (int c = 0; c < l.channels; c++) {
        double sum_dy = 0, sum_dy_xhat = 0;
        for (size_t o = 0; o < l.outer; o++) {
            size_t at = o * stride + (size_t)c * l.inner;
            for (size_t i = 0; i < l.inner; i++) {
                sum_dy += dy->data[at + i];
                sum_dy_xhat += (double)dy->data[at + i] * cache->xhat.data[at + i];
            }
        }
        bn->weight.grad.data[c] += (float)sum_dy_xhat;
        bn->bias.grad.data[c] += (float)sum_dy;
        if (!dx) continue;
        float scale = bn->weight.value.data[c] * cache->inv_std.data[c];
        /* With batch statistics, x also moves the mean and the variance:
         * dx = w inv_std (dy - mean(dy) - xhat mean(dy xhat)). */
        float mean_dy = cache->training ? (float)(sum_dy / (double)count) : 0.0f;
        float mean_dy_xhat = cache->training ? (float)(sum_dy_xhat / (double)count) : 0.0f;
        for (size_t o = 0; o < l.outer; o++) {
            size_t at = o * stride + (size_t)c * l.inner;
            for (size_t i = 0; i < l.inner; i++)
                dx->data[at + i] =
                    scale * (dy->data[at + i] - mean_dy - cache->xhat.data[at + i] * mean_dy_xhat);
        }
    }
    cache->forward_done = 0;
    return EL_OK;
}

void el_batchnorm_cache_free(el_batchnorm_cache *cache)
{
    if (!cache) return;
    el_tensor_free(&cache->xhat);
    el_tensor_free(&cache->inv_std);
    memset(cache, 0, sizeof *cache);
}
