#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "elman/conv.h"
#include "core/internal.h"
#include "nn/conv_engine.h"

void el_conv_cache_free(el_conv_cache *cache)
{
    if (!cache) return;
    el_tensor_free(&cache->input);
    el_tensor_free(&cache->work);
    memset(cache, 0, sizeof *cache);
}

/* Fails when the output would overwrite the input it is computed from. */
static el_status check_distinct(const char *fn, const char *in_name, const el_tensor *in,
                                const char *out_name, const el_tensor *out)
{
    if (out == in || (out->data && out->data == in->data))
        return el__fail(EL_ERR_INVALID, "%s: %s and %s share their memory", fn, out_name, in_name);
    return EL_OK;
}

/* A zero stride, dilation or groups stands for PyTorch's default of 1. */
static int or_one(int v) { return v == 0 ? 1 : v; }

/* The checks and initialisation that the layers share; kernel has dims
 * entries (weight dims 2 and up).  A transposed layer's weight is (in,
 * out/groups, ...), a convolution's (out, in/groups, ...); PyTorch takes
 * fan_in from dimension 1 either way. */
static el_status init_conv(const char *fn, el_param *weight, el_param *bias, const char *name,
                           int in, int out, int groups, int has_bias, int transposed, int dims,
                           const int *kernel, const int *stride, const int *padding,
                           const int *dilation, el_rng *rng)
{
    if (in < 1 || out < 1 || groups < 1 || in % groups || out % groups)
        return el__fail(EL_ERR_INVALID,
                        "%s: %d input and %d output channels in %d groups (all positive, and "
                        "the groups must divide both)",
                        fn, in, out, groups);
    for (int d = 0; d < dims; d++)
        if (kernel[d] < 1 || stride[d] < 1 || padding[d] < 0 || dilation[d] < 1)
            return el__fail(EL_ERR_INVALID,
                            "%s: kernel %d, stride %d, padding %d, dilation %d in dimension %d "
                            "(padding may be 0, the others must be positive)",
                            fn, kernel[d], stride[d], padding[d], dilation[d], d);
    int shape[4] = {transposed ? in : out, (transposed ? out : in) / groups, 1, 1};
    int fan_in = shape[1];
    for (int d = 0; d < dims; d++) {
        shape[2 + d] = kernel[d];
        fan_in *= kernel[d];
    }
    el_status s = el_param_init(weight, name, "weight", 2 + dims, shape);
    if (!s && has_bias) s = el_param_init(bias, name, "bias", 1, (int[]){out});
    if (!s && rng) {
        float bound = 1.0f / sqrtf((float)fan_in);
        s = el_init_uniform(&weight->value, rng, -bound, bound);
        if (!s && has_bias) s = el_init_uniform(&bias->value, rng, -bound, bound);
    }
    return s;
}

static el_status add_params(el_param *weight, el_param *bias, int has_bias, el_param_list *list)
{
    el_status s = el_param_list_add(list, weight);
    if (!s && has_bias) s = el_param_list_add(list, bias);
    return s;
}

/* The geometry of x (N, C, H, W), or (N, C, L) with H = 1, for a layer of
 * the given configuration; fails when x does not fit it. */
static el_status geometry_of(const char *fn, const char *layer, const el_tensor *x, int dims,
                             int in, int out, const int *kernel, const int *stride,
                             const int *padding, const int *dilation, int groups,
                             el__conv_geometry *g)
{
    char shape[64];
    el_tensor_shape_string(x, shape, sizeof shape);
    if (x->ndim != 2 + dims || x->shape[1] != in)
        return el__fail(EL_ERR_SHAPE, "%s: x is %s, expected (N, %d%s) for %s", fn, shape, in,
                        dims == 2 ? ", H, W" : ", L", layer);
    *g = (el__conv_geometry){.batch = x->shape[0], .channels = in, .maps = out, .groups = groups};
    g->height = dims == 2 ? x->shape[2] : 1;
    g->width = x->shape[1 + dims];
    int at = 2 - dims; /* conv1d's one dimension is the width */
    g->kernel[0] = g->stride[0] = g->dilation[0] = 1;
    for (int d = 0; d < dims; d++) {
        g->kernel[at + d] = kernel[d];
        g->stride[at + d] = stride[d];
        g->padding[at + d] = padding[d];
        g->dilation[at + d] = dilation[d];
    }
    g->out_height =
        el__conv_out_size(g->height, g->kernel[0], g->stride[0], g->padding[0], g->dilation[0]);
    g->out_width =
        el__conv_out_size(g->width, g->kernel[1], g->stride[1], g->padding[1], g->dilation[1]);
    if (g->out_height < 1 || g->out_width < 1)
        return el__fail(EL_ERR_SHAPE, "%s: x is %s, smaller than the dilated kernel of %s", fn,
                        shape, layer);
    return EL_OK;
}

/* The column side's shape: (N, maps, out_height, out_width), or (N, maps,
 * out_width) for conv1d. */
static int column_shape(const el__conv_geometry *g, int dims, int *shape)
{
    shape[0] = g->batch;
    shape[1] = g->maps;
    shape[2] = dims == 2 ? g->out_height : g->out_width;
    shape[3] = g->out_width;
    return 2 + dims;
}

static el_status forward(const char *fn, const void *layer, const el__conv_geometry *g,
                         el_conv_cache *cache, const el_tensor *x, const el_param *weight,
                         const el_param *bias, int has_bias, int dims, el_tensor *y)
{
    int shape[4];
    el_status s = el__size_output(fn, "y", y, column_shape(g, dims, shape), shape);
    if (!s) s = el_tensor_ensure(&cache->input, x->ndim, x->shape);
    if (s) return s;
    /* Until this forward pass has finished, the cache holds no pass to
     * backpropagate through. */
    cache->pending = 0;
    cache->layer = layer;
    memcpy(cache->input.data, x->data, sizeof *x->data * x->size);
    el__conv_job job = {.weight = weight->value.data,
                        .image_in = x->data,
                        .col_out = y->data,
                        .col_bias = has_bias ? bias->value.data : NULL};
    s = el__conv_run(fn, g, &job, &cache->work);
    if (!s) cache->pending = 1;
    return s;
}

/* Fails unless the cache holds a forward pass of layer not yet
 * backpropagated through. */
static el_status check_pending(const char *fn, const void *layer, const char *name,
                               const el_conv_cache *cache)
{
    if (cache->layer != layer || !cache->pending)
        return el__fail(EL_ERR_STATE,
                        "%s: the cache holds no forward pass of %s to backpropagate through "
                        "(one backward pass per forward pass)",
                        fn, name);
    return EL_OK;
}

/* Fails unless dy has the shape want of ndim dimensions. */
static el_status check_dy(const char *fn, const el_tensor *dy, int ndim, const int *want)
{
    int same = dy->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = dy->shape[d] == want[d];
    if (same) return EL_OK;
    char got[64], expected[64] = "";
    el_tensor_shape_string(dy, got, sizeof got);
    for (int d = 0, used = 0; d < ndim; d++)
        used +=
            snprintf(expected + used, sizeof expected - (size_t)used, d ? "x%d" : "%d", want[d]);
    return el__fail(EL_ERR_SHAPE, "%s: dy is %s, expected %s", fn, got, expected);
}

static el_status backward(const char *fn, const el__conv_geometry *g, el_conv_cache *cache,
                          el_param *weight, el_param *bias, int has_bias, const el_tensor *dy,
                          el_tensor *dx)
{
    if (dx) {
        el_status s = el__size_output(fn, "dx", dx, cache->input.ndim, cache->input.shape);
        if (s) return s;
    }
    el__conv_job job = {.weight = weight->value.data,
                        .image_in = cache->input.data,
                        .col_grad = dy->data,
                        .weight_grad = weight->grad.data,
                        .col_src = dx ? dy->data : NULL,
                        .image_out = dx ? dx->data : NULL,
                        .bias_src = dy->data,
                        .bias_grad = has_bias ? bias->grad.data : NULL};
    el_status s = el__conv_run(fn, g, &job, &cache->work);
    if (!s) cache->pending = 0;
    return s;
}

/* ---- conv2d ------------------------------------------------------------ */

el_status el_conv2d_init(el_conv2d *layer, const char *name, const el_conv2d_config *config,
                         el_rng *rng)
{
    EL_REQUIRE(layer, "el_conv2d_init");
    memset(layer, 0, sizeof *layer);
    EL_REQUIRE(config, "el_conv2d_init");
    el_conv2d_config c = *config;
    for (int d = 0; d < 2; d++) {
        c.stride[d] = or_one(c.stride[d]);
        c.dilation[d] = or_one(c.dilation[d]);
    }
    c.groups = or_one(c.groups);
    c.bias = c.bias != 0;
    layer->config = c;
    el_status s = init_conv("el_conv2d_init", &layer->weight, &layer->bias, name, c.in_channels,
                            c.out_channels, c.groups, c.bias, 0, 2, c.kernel, c.stride, c.padding,
                            c.dilation, rng);
    if (s) el_conv2d_free(layer);
    return s;
}

void el_conv2d_free(el_conv2d *layer)
{
    if (!layer) return;
    el_param_free(&layer->weight);
    el_param_free(&layer->bias);
}

el_status el_conv2d_params(el_conv2d *layer, el_param_list *list)
{
    EL_REQUIRE(layer, "el_conv2d_params");
    return add_params(&layer->weight, &layer->bias, layer->config.bias, list);
}

static el_status conv2d_geometry(const char *fn, const el_conv2d *layer, const el_tensor *x,
                                 el__conv_geometry *g)
{
    const el_conv2d_config *c = &layer->config;
    return geometry_of(fn, layer->weight.name, x, 2, c->in_channels, c->out_channels, c->kernel,
                       c->stride, c->padding, c->dilation, c->groups, g);
}

el_status el_conv2d_forward(const el_conv2d *layer, el_conv_cache *cache, const el_tensor *x,
                            el_tensor *y)
{
    static const char fn[] = "el_conv2d_forward";
    EL_REQUIRE(layer, fn);
    EL_REQUIRE(cache, fn);
    EL_REQUIRE(x, fn);
    EL_REQUIRE(y, fn);
    el__conv_geometry g;
    el_status s = check_distinct(fn, "x", x, "y", y);
    if (!s) s = conv2d_geometry(fn, layer, x, &g);
    if (s) return s;
    return forward(fn, layer, &g, cache, x, &layer->weight, &layer->bias, layer->config.bias, 2, y);
}

el_status el_conv2d_backward(el_conv2d *layer, el_conv_cache *cache, const el_tensor *dy,
                             el_tensor *dx)
{
    static const char fn[] = "el_conv2d_backward";
    EL_REQUIRE(layer, fn);
    EL_REQUIRE(cache, fn);
    EL_REQUIRE(dy, fn);
    el__conv_geometry g;
    int shape[4];
    el_status s = dx ? check_distinct(fn, "dy", dy, "dx", dx) : EL_OK;
    if (!s) s = check_pending(fn, layer, layer->weight.name, cache);
    if (!s) s = conv2d_geometry(fn, layer, &cache->input, &g);
    if (!s) s = check_dy(fn, dy, column_shape(&g, 2, shape), shape);
    if (s) return s;
    return backward(fn, &g, cache, &layer->weight, &layer->bias, layer->config.bias, dy, dx);
}

/* ---- conv1d ------------------------------------------------------------ */

el_status el_conv1d_init(el_conv1d *layer, const char *name, const el_conv1d_config *config,
                         el_rng *rng)
{
    EL_REQUIRE(layer, "el_conv1d_init");
    memset(layer, 0, sizeof *layer);
    EL_REQUIRE(config, "el_conv1d_init");
    el_conv1d_config c = *config;
    c.stride = or_one(c.stride);
    c.dilation = or_one(c.dilation);
    c.groups = or_one(c.groups);
    c.bias = c.bias != 0;
    layer->config = c;
    el_status s = init_conv("el_conv1d_init", &layer->weight, &layer->bias, name, c.in_channels,
                            c.out_channels, c.groups, c.bias, 0, 1, &c.kernel, &c.stride,
                            &c.padding, &c.dilation, rng);
    if (s) el_conv1d_free(layer);
    return s;
}

void el_conv1d_free(el_conv1d *layer)
{
    if (!layer) return;
    el_param_free(&layer->weight);
    el_param_free(&layer->bias);
}

el_status el_conv1d_params(el_conv1d *layer, el_param_list *list)
{
    EL_REQUIRE(layer, "el_conv1d_params");
    return add_params(&layer->weight, &layer->bias, layer->config.bias, list);
}

static el_status conv1d_geometry(const char *fn, const el_conv1d *layer, const el_tensor *x,
                                 el__conv_geometry *g)
{
    const el_conv1d_config *c = &layer->config;
    return geometry_of(fn, layer->weight.name, x, 1, c->in_channels, c->out_channels, &c->kernel,
                       &c->stride, &c->padding, &c->dilation, c->groups, g);
}

el_status el_conv1d_forward(const el_conv1d *layer, el_conv_cache *cache, const el_tensor *x,
                            el_tensor *y)
{
    static const char fn[] = "el_conv1d_forward";
    EL_REQUIRE(layer, fn);
    EL_REQUIRE(cache, fn);
    EL_REQUIRE(x, fn);
    EL_REQUIRE(y, fn);
    el__conv_geometry g;
    el_status s = check_distinct(fn, "x", x, "y", y);
    if (!s) s = conv1d_geometry(fn, layer, x, &g);
    if (s) return s;
    return forward(fn, layer, &g, cache, x, &layer->weight, &layer->bias, layer->config.bias, 1, y);
}

el_status el_conv1d_backward(el_conv1d *layer, el_conv_cache *cache, const el_tensor *dy,
                             el_tensor *dx)
{
    static const char fn[] = "el_conv1d_backward";
    EL_REQUIRE(layer, fn);
    EL_REQUIRE(cache, fn);
    EL_REQUIRE(dy, fn);
    el__conv_geometry g;
    int shape[4];
    el_status s = dx ? check_distinct(fn, "dy", dy, "dx", dx) : EL_OK;
    if (!s) s = check_pending(fn, layer, layer->weight.name, cache);
    if (!s) s = conv1d_geometry(fn, layer, &cache->input, &g);
    if (!s) s = check_dy(fn, dy, column_shape(&g, 1, shape), shape);
    if (s) return s;
    return backward(fn, &g, cache, &layer->weight, &layer->bias, layer->config.bias, dy, dx);
}

/* ---- conv_transpose2d -------------------------------------------------- */

el_status el_conv_transpose2d_init(el_conv_transpose2d *layer, const char *name,
                                   const el_conv_transpose2d_config *config, el_rng *rng)
{
    static const char fn[] = "el_conv_transpose2d_init";
    EL_REQUIRE(layer, fn);
    memset(layer, 0, sizeof *layer);
    EL_REQUIRE(config, fn);
    el_conv_transpose2d_config c = *config;
    for (int d = 0; d < 2; d++) {
        c.stride[d] = or_one(c.stride[d]);
        c.dilation[d] = or_one(c.dilation[d]);
    }
    c.groups = or_one(c.groups);
    c.bias = c.bias != 0;
    layer->config = c;
    /* PyTorch's rule: otherwise the output's last rows would be reached by
     * no input element, and a convolution of the output would not give back
     * the input's size. */
    for (int d = 0; d < 2; d++)
        if (c.output_padding[d] < 0 ||
            (c.output_padding[d] >= c.stride[d] && c.output_padding[d] >= c.dilation[d]))
            return el__fail(EL_ERR_INVALID,
                            "%s: output padding %d in dimension %d (at least 0, and below the "
                            "stride %d or the dilation %d)",
                            fn, c.output_padding[d], d, c.stride[d], c.dilation[d]);
    el_status s = init_conv(fn, &layer->weight, &layer->bias, name, c.in_channels, c.out_channels,
                            c.groups, c.bias, 1, 2, c.kernel, c.stride, c.padding, c.dilation, rng);
    if (s) el_conv_transpose2d_free(layer);
    return s;
}

void el_conv_transpose2d_free(el_conv_transpose2d *layer)
{
    if (!layer) return;
    el_param_free(&layer->weight);
    el_param_free(&layer->bias);
}

el_status el_conv_transpose2d_params(el_conv_transpose2d *layer, el_param_list *list)
{
    EL_REQUIRE(layer, "el_conv_transpose2d_params");
    return add_params(&layer->weight, &layer->bias, layer->config.bias, list);
}

/* x is the column side of the convolution whose input gradient the layer
 * computes, and y its image side. */
static el_status transpose_geometry(const char *fn, const el_conv_transpose2d *layer,
                                    const el_tensor *x, el__conv_geometry *g)
{
    const el_conv_transpose2d_config *c = &layer->config;
    char shape[64];
    el_tensor_shape_string(x, shape, sizeof shape);
    if (x->ndim != 4 || x->shape[1] != c->in_channels)
        return el__fail(EL_ERR_SHAPE, "%s: x is %s, expected (N, %d, H, W) for %s", fn, shape,
                        c->in_channels, layer->weight.name);
    *g = (el__conv_geometry){.batch = x->shape[0],
                             .channels = c->out_channels,
                             .maps = c->in_channels,
                             .out_height = x->shape[2],
                             .out_width = x->shape[3],
                             .groups = c->groups};
    long long size[2];
    for (int d = 0; d < 2; d++) {
        g->kernel[d] = c->kernel[d];
        g->stride[d] = c->stride[d];
        g->padding[d] = c->padding[d];
        g->dilation[d] = c->dilation[d];
        size[d] = (long long)(x->shape[2 + d] - 1) * c->stride[d] - 2LL * c->padding[d] +
                  (long long)c->dilation[d] * (c->kernel[d] - 1) + c->output_padding[d] + 1;
        if (size[d] < 1 || size[d] > INT_MAX)
            return el__fail(EL_ERR_SHAPE, "%s: x is %s, which gives %s an output size of %lld", fn,
                            shape, layer->weight.name, size[d]);
    }
    g->height = (int)size[0];
    g->width = (int)size[1];
    return EL_OK;
}

el_status el_conv_transpose2d_forward(const el_conv_transpose2d *layer, el_conv_cache *cache,
                                      const el_tensor *x, el_tensor *y)
{
    static const char fn[] = "el_conv_transpose2d_forward";
    EL_REQUIRE(layer, fn);
    EL_REQUIRE(cache, fn);
    EL_REQUIRE(x, fn);
    EL_REQUIRE(y, fn);
    el__conv_geometry g;
    el_status s = check_distinct(fn, "x", x, "y", y);
    if (!s) s = transpose_geometry(fn, layer, x, &g);
    if (!s) s = el__size_output(fn, "y", y, 4, (int[]){g.batch, g.channels, g.height, g.width});
    if (!s) s = el_tensor_ensure(&cache->input, 4, x->shape);
    if (s) return s;
    cache->pending = 0;
    cache->layer = layer;
    memcpy(cache->input.data, x->data, sizeof *x->data * x->size);
    el__conv_job job = {.weight = layer->weight.value.data,
                        .col_src = x->data,
                        .image_out = y->data,
                        .image_bias = layer->config.bias ? layer->bias.value.data : NULL};
    s = el__conv_run(fn, &g, &job, &cache->work);
    if (!s) cache->pending = 1;
    return s;
}

el_status el_conv_transpose2d_backward(el_conv_transpose2d *layer, el_conv_cache *cache,
                                       const el_tensor *dy, el_tensor *dx)
{
    static const char fn[] = "el_conv_transpose2d_backward";
    EL_REQUIRE(layer, fn);
    EL_REQUIRE(cache, fn);
    EL_REQUIRE(dy, fn);
    el__conv_geometry g;
    el_status s = dx ? check_distinct(fn, "dy", dy, "dx", dx) : EL_OK;
    if (!s) s = check_pending(fn, layer, layer->weight.name, cache);
    if (!s) s = transpose_geometry(fn, layer, &cache->input, &g);
    if (!s) s = check_dy(fn, dy, 4, (int[]){g.batch, g.channels, g.height, g.width});
    if (!s && dx) s = el__size_output(fn, "dx", dx, 4, cache->input.shape);
    if (s) return s;
    el__conv_job job = {.weight = layer->weight.value.data,
                        .image_in = dy->data,
                        .col_out = dx ? dx->data : NULL,
                        .col_grad = cache->input.data,
                        .weight_grad = layer->weight.grad.data,
                        .bias_src = dy->data,
                        .bias_on_image = 1,
                        .bias_grad = layer->config.bias ? layer->bias.grad.data : NULL};
    s = el__conv_run(fn, &g, &job, &cache->work);
    if (!s) cache->pending = 0;
    return s;
}
