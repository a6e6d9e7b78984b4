#include <math.h>
#include <string.h>

#include "elman/pool.h"
#include "core/internal.h"

el_status el_pool_init(el_pool *pool, el_pool_kind kind, int dims, const int *kernel,
                       const int *stride, const int *padding)
{
    const char *fn = "el_pool_init";
    EL_REQUIRE(pool, fn);
    EL_REQUIRE(kernel, fn);
    memset(pool, 0, sizeof *pool);
    if (kind != EL_POOL_MAX && kind != EL_POOL_AVG)
        return el__fail(EL_ERR_INVALID, "%s: unknown pool kind %d", fn, (int)kind);
    if (dims != 1 && dims != 2)
        return el__fail(EL_ERR_INVALID, "%s: %d spatial dimensions (1 or 2)", fn, dims);
    for (int d = 0; d < dims; d++) {
        int k = kernel[d], s = stride ? stride[d] : k, p = padding ? padding[d] : 0;
        if (k < 1 || s < 1)
            return el__fail(EL_ERR_INVALID, "%s: kernel %d and stride %d must be positive", fn, k,
                            s);
        /* A larger padding would make windows of padding alone. */
        if (p < 0 || p > k / 2)
            return el__fail(EL_ERR_INVALID, "%s: padding %d outside [0, kernel / 2 = %d]", fn, p,
                            k / 2);
        pool->kernel[d] = k;
        pool->stride[d] = s;
        pool->padding[d] = p;
    }
    pool->kind = kind;
    pool->dims = dims;
    return EL_OK;
}

const char *el_pool_kind_name(const el_pool *pool)
{
    if (!pool) return "(null)";
    if (pool->kind == EL_POOL_MAX) return pool->dims == 1 ? "MaxPool1d" : "MaxPool2d";
    return pool->dims == 1 ? "AvgPool1d" : "AvgPool2d";
}

/* A 1-D pool is a 2-D one over planes of height 1. */
typedef struct geometry {
    size_t planes;
    int in_h, in_w, out_h, out_w;
    int kh, kw, sh, sw, ph, pw;
} geometry;

static el_status plan(const char *fn, const el_pool *pool, const el_tensor *x, geometry *g)
{
    if (pool->dims != 1 && pool->dims != 2)
        return el__fail(EL_ERR_STATE, "%s: the pool is not initialised", fn);
    char shape[64];
    if (x->ndim < pool->dims + 1 || x->ndim > pool->dims + 2)
        return el__fail(EL_ERR_SHAPE, "%s: x is %s, a %s takes %d or %d dimensions", fn,
                        el_tensor_shape_string(x, shape, sizeof shape), el_pool_kind_name(pool),
                        pool->dims + 1, pool->dims + 2);
    int spatial = x->ndim - pool->dims;
    g->planes = 1;
    for (int d = 0; d < spatial; d++) g->planes *= (size_t)x->shape[d];
    int two = pool->dims == 2;
    g->in_h = two ? x->shape[spatial] : 1;
    g->in_w = x->shape[x->ndim - 1];
    g->kh = two ? pool->kernel[0] : 1;
    g->sh = two ? pool->stride[0] : 1;
    g->ph = two ? pool->padding[0] : 0;
    int last = pool->dims - 1;
    g->kw = pool->kernel[last];
    g->sw = pool->stride[last];
    g->pw = pool->padding[last];
    int span_h = g->in_h + 2 * g->ph - g->kh, span_w = g->in_w + 2 * g->pw - g->kw;
    if (span_h < 0 || span_w < 0)
        return el__fail(EL_ERR_SHAPE, "%s: x is %s, smaller than the padded kernel of a %s", fn,
                        el_tensor_shape_string(x, shape, sizeof shape), el_pool_kind_name(pool));
    g->out_h = span_h / g->sh + 1;
    g->out_w = span_w / g->sw + 1;
    return EL_OK;
}

/* The window of output (oh, ow): its first padded coordinates, clipped to
 * the input, and PyTorch's divisor for count_include_pad (the window clipped
 * to the padded input, which with ceil_mode=False is the whole kernel). */
typedef struct window {
    int h0, h1, w0, w1, divisor;
} window;

static window window_at(const geometry *g, int oh, int ow)
{
    int h0 = oh * g->sh - g->ph, w0 = ow * g->sw - g->pw;
    int h1 = h0 + g->kh < g->in_h + g->ph ? h0 + g->kh : g->in_h + g->ph;
    int w1 = w0 + g->kw < g->in_w + g->pw ? w0 + g->kw : g->in_w + g->pw;
    window win = {.divisor = (h1 - h0) * (w1 - w0)};
    win.h0 = h0 > 0 ? h0 : 0;
    win.w0 = w0 > 0 ? w0 : 0;
    win.h1 = h1 < g->in_h ? h1 : g->in_h;
    win.w1 = w1 < g->in_w ? w1 : g->in_w;
    return win;
}

el_status el_pool_forward(const el_pool *pool, el_pool_cache *cache, const el_tensor *x,
                          el_tensor *y)
{
    const char *fn = "el_pool_forward";
    EL_REQUIRE(pool, fn);
    EL_REQUIRE(cache, fn);
    EL_REQUIRE(x, fn);
    EL_REQUIRE(y, fn);
    geometry g;
    el_status s = plan(fn, pool, x, &g);
    if (s) return s;
    int shape[EL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    if (pool->dims == 2) shape[x->ndim - 2] = g.out_h;
    shape[x->ndim - 1] = g.out_w;
    size_t out_plane = (size_t)g.out_h * g.out_w, in_plane = (size_t)g.in_h * g.in_w;
    size_t outputs = g.planes * out_plane;
    if (pool->kind == EL_POOL_MAX && cache->capacity < outputs) {
        int *argmax = el__alloc(outputs * sizeof *argmax);
        if (!argmax)
            return el__fail(EL_ERR_NOMEM, "%s: out of memory for %zu indices", fn, outputs);
        el__free(cache->argmax);
        cache->argmax = argmax;
        cache->capacity = outputs;
    }
    s = el__size_output(fn, "y", y, x->ndim, shape);
    if (s) return s;
    for (size_t p = 0; p < g.planes; p++) {
        const float *xp = x->data + p * in_plane;
        float *yp = y->data + p * out_plane;
        int *ap = pool->kind == EL_POOL_MAX ? cache->argmax + p * out_plane : NULL;
        for (int oh = 0; oh < g.out_h; oh++)
            for (int ow = 0; ow < g.out_w; ow++) {
                window win = window_at(&g, oh, ow);
                int o = oh * g.out_w + ow;
                if (ap) {
                    /* PyTorch's rule: start at the window's first element,
                     * move on a strictly larger value or on any NaN. */
                    int best = win.h0 * g.in_w + win.w0;
                    float max = -INFINITY;
                    for (int h = win.h0; h < win.h1; h++)
                        for (int w = win.w0; w < win.w1; w++) {
                            float v = xp[h * g.in_w + w];
                            if (v > max || isnan(v)) {
                                max = v;
                                best = h * g.in_w + w;
                            }
                        }
                    yp[o] = max;
                    ap[o] = best;
                } else {
                    float sum = 0;
                    for (int h = win.h0; h < win.h1; h++)
                        for (int w = win.w0; w < win.w1; w++) sum += xp[h * g.in_w + w];
                    yp[o] = sum / (float)win.divisor;
                }
            }
    }
    cache->ndim = x->ndim;
    memcpy(cache->shape, x->shape, sizeof cache->shape);
    cache->forward_done = 1;
    return EL_OK;
}

el_status el_pool_backward(const el_pool *pool, el_pool_cache *cache, const el_tensor *dy,
                           el_tensor *dx)
{
    const char *fn = "el_pool_backward";
    EL_REQUIRE(pool, fn);
    EL_REQUIRE(cache, fn);
    EL_REQUIRE(dy, fn);
    if (!cache->forward_done)
        return el__fail(EL_ERR_STATE, "%s: no forward call to backpropagate through", fn);
    el_tensor x_shape = {.ndim = cache->ndim};
    memcpy(x_shape.shape, cache->shape, sizeof x_shape.shape);
    geometry g;
    el_status s = plan(fn, pool, &x_shape, &g);
    if (s) return s;
    size_t out_plane = (size_t)g.out_h * g.out_w, in_plane = (size_t)g.in_h * g.in_w;
    if (dy->size != g.planes * out_plane) {
        char shape[64];
        return el__fail(EL_ERR_SHAPE, "%s: dy is %s, the forward output had %zu elements", fn,
                        el_tensor_shape_string(dy, shape, sizeof shape), g.planes * out_plane);
    }
    if (dx) {
        s = el__size_output(fn, "dx", dx, cache->ndim, cache->shape);
        if (s) return s;
        el_tensor_fill(dx, 0.0f);
        for (size_t p = 0; p < g.planes; p++) {
            const float *dyp = dy->data + p * out_plane;
            float *dxp = dx->data + p * in_plane;
            if (pool->kind == EL_POOL_MAX) {
                const int *ap = cache->argmax + p * out_plane;
                for (size_t o = 0; o < out_plane; o++) dxp[ap[o]] += dyp[o];
                continue;
            }
            for (int oh = 0; oh < g.out_h; oh++)
                for (int ow = 0; ow < g.out_w; ow++) {
                    window win = window_at(&g, oh, ow);
                    float share = dyp[oh * g.out_w + ow] / (float)win.divisor;
                    for (int h = win.h0; h < win.h1; h++)
                        for (int w = win.w0; w < win.w1; w++) dxp[h * g.in_w + w] += share;
                }
        }
    }
    cache->forward_done = 0;
    return EL_OK;
}

void el_pool_cache_free(el_pool_cache *cache)
{
    if (!cache) return;
    el__free(cache->argmax);
    memset(cache, 0, sizeof *cache);
}
