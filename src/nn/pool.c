#include <limits.h>
#include <math.h>
#include <string.h>

#include "elman/pool.h"
#include "core/internal.h"
#include "core/parallel.h"

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

/* A pass over the planes: in is x (forward) or dy (backward), out y or dx;
 * argmax is NULL for average pooling. */
typedef struct pass {
    const geometry *g;
    const float *in;
    float *out;
    int *argmax;
} pass;

/* Whether the windows are 2 x 2, 2 apart, unpadded: MaxPool2d(2), the
 * usual pool of a convolutional network, which takes the fast paths. */
static int halving(const geometry *g)
{
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0;
}

/* PyTorch's rule for a window's maximum: start at the window's first
 * element, move on a strictly larger value or on any NaN (so the first of
 * tied maxima wins, and the last NaN).  The fast path compares the four
 * elements of a 2 x 2 window in the same order without branches, which the
 * compiler turns into vector selects over a row of windows.  It is built
 * for the baseline x86-64 only (vectors of 4 floats), without
 * EL__SIMD_CLONES: the rows of a small image's pool are a few windows wide
 * (14 or 7 for 28 x 28), shorter than one vector of the wider clones, which
 * would then run their scalar remainder loops alone. */
static void max_halving(const geometry *g, const float *xp, float *yp, int *ap)
{
    const int w_in = g->in_w, w_out = g->out_w;
    for (int oh = 0; oh < g->out_h; oh++) {
        const float *r0 = xp + (size_t)2 * oh * w_in, *r1 = r0 + w_in;
        float *y = yp + (size_t)oh * w_out;
        int *a = ap + (size_t)oh * w_out;
        for (int ow = 0; ow < w_out; ow++) {
            float v0 = r0[2 * ow], v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
            int first = 2 * oh * w_in + 2 * ow;
            float max = v0;
            int best = first;
            int take = (v1 > max) | (v1 != v1);
            max = take ? v1 : max;
            best = take ? first + 1 : best;
            take = (v2 > max) | (v2 != v2);
            max = take ? v2 : max;
            best = take ? first + w_in : best;
            take = (v3 > max) | (v3 != v3);
            max = take ? v3 : max;
            best = take ? first + w_in + 1 : best;
            y[ow] = max;
            a[ow] = best;
        }
    }
}

static void forward_plane(const geometry *g, const float *xp, float *yp, int *ap)
{
    if (ap && halving(g)) {
        max_halving(g, xp, yp, ap);
        return;
    }
    for (int oh = 0; oh < g->out_h; oh++)
        for (int ow = 0; ow < g->out_w; ow++) {
            window win = window_at(g, oh, ow);
            int o = oh * g->out_w + ow;
            if (ap) {
                int best = win.h0 * g->in_w + win.w0;
                float max = -INFINITY;
                for (int h = win.h0; h < win.h1; h++)
                    for (int w = win.w0; w < win.w1; w++) {
                        float v = xp[h * g->in_w + w];
                        if (v > max || isnan(v)) {
                            max = v;
                            best = h * g->in_w + w;
                        }
                    }
                yp[o] = max;
                ap[o] = best;
            } else {
                float sum = 0;
                for (int h = win.h0; h < win.h1; h++)
                    for (int w = win.w0; w < win.w1; w++) sum += xp[h * g->in_w + w];
                yp[o] = sum / (float)win.divisor;
            }
        }
}

/* The backward pass of a 2 x 2 max pool writes every input element once:
 * the windows do not overlap, so each element gets its window's gradient
 * when it was the maximum and 0 otherwise (0 + dy, as the general path's
 * sum into zeros, which turns -0 into +0).  A last row or column that no
 * window covers (odd sizes) gets 0.  Baseline x86-64 only, as
 * max_halving. */
static void max_halving_backward(const geometry *g, const float *dyp, const int *ap, float *dxp)
{
    const int w_in = g->in_w, w_out = g->out_w;
    for (int oh = 0; oh < g->out_h; oh++) {
        float *r0 = dxp + (size_t)2 * oh * w_in, *r1 = r0 + w_in;
        const float *dy = dyp + (size_t)oh * w_out;
        const int *a = ap + (size_t)oh * w_out;
        for (int ow = 0; ow < w_out; ow++) {
            float v = dy[ow] + 0.0f;
            int first = 2 * oh * w_in + 2 * ow, best = a[ow];
            r0[2 * ow] = best == first ? v : 0.0f;
            r0[2 * ow + 1] = best == first + 1 ? v : 0.0f;
            r1[2 * ow] = best == first + w_in ? v : 0.0f;
            r1[2 * ow + 1] = best == first + w_in + 1 ? v : 0.0f;
        }
        for (int w = 2 * w_out; w < w_in; w++) r0[w] = r1[w] = 0.0f;
    }
    for (size_t i = (size_t)2 * g->out_h * w_in; i < (size_t)g->in_h * w_in; i++) dxp[i] = 0.0f;
}

static void backward_plane(const geometry *g, const float *dyp, const int *ap, float *dxp)
{
    if (ap && halving(g)) {
        max_halving_backward(g, dyp, ap, dxp);
        return;
    }
    size_t out_plane = (size_t)g->out_h * g->out_w, in_plane = (size_t)g->in_h * g->in_w;
    for (size_t i = 0; i < in_plane; i++) dxp[i] = 0.0f;
    if (ap) {
        for (size_t o = 0; o < out_plane; o++) dxp[ap[o]] += dyp[o];
        return;
    }
    for (int oh = 0; oh < g->out_h; oh++)
        for (int ow = 0; ow < g->out_w; ow++) {
            window win = window_at(g, oh, ow);
            float share = dyp[oh * g->out_w + ow] / (float)win.divisor;
            for (int h = win.h0; h < win.h1; h++)
                for (int w = win.w0; w < win.w1; w++) dxp[h * g->in_w + w] += share;
        }
}

static void forward_part(void *context, int index, int count)
{
    const pass *t = context;
    const geometry *g = t->g;
    size_t out_plane = (size_t)g->out_h * g->out_w, in_plane = (size_t)g->in_h * g->in_w;
    int p0, p1;
    el__split((int)g->planes, index, count, &p0, &p1);
    for (size_t p = (size_t)p0; p < (size_t)p1; p++)
        forward_plane(g, t->in + p * in_plane, t->out + p * out_plane,
                      t->argmax ? t->argmax + p * out_plane : NULL);
}

static void backward_part(void *context, int index, int count)
{
    const pass *t = context;
    const geometry *g = t->g;
    size_t out_plane = (size_t)g->out_h * g->out_w, in_plane = (size_t)g->in_h * g->in_w;
    int p0, p1;
    el__split((int)g->planes, index, count, &p0, &p1);
    for (size_t p = (size_t)p0; p < (size_t)p1; p++)
        backward_plane(g, t->in + p * out_plane, t->argmax ? t->argmax + p * out_plane : NULL,
                       t->out + p * in_plane);
}

/* Planes are independent, so a pass splits them over elman's threads, with
 * the same result on any number; below this many input elements the
 * threads' start costs more than they save. */
enum { PARALLEL_ELEMENTS = 1 << 15 };

static int parts_per_thread(const geometry *g)
{
    size_t elements = g->planes * (size_t)g->in_h * g->in_w;
    return elements < PARALLEL_ELEMENTS || g->planes < 2 || g->planes > INT_MAX
               ? 0
               : EL__PARTS_PER_THREAD;
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
    size_t outputs = g.planes * (size_t)g.out_h * g.out_w;
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
    pass t = {.g = &g,
              .in = x->data,
              .out = y->data,
              .argmax = pool->kind == EL_POOL_MAX ? cache->argmax : NULL};
    el__parallel_run(forward_part, &t, parts_per_thread(&g));
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
    size_t out_plane = (size_t)g.out_h * g.out_w;
    if (dy->size != g.planes * out_plane) {
        char shape[64];
        return el__fail(EL_ERR_SHAPE, "%s: dy is %s, the forward output had %zu elements", fn,
                        el_tensor_shape_string(dy, shape, sizeof shape), g.planes * out_plane);
    }
    if (dx) {
        s = el__size_output(fn, "dx", dx, cache->ndim, cache->shape);
        if (s) return s;
        pass t = {.g = &g,
                  .in = dy->data,
                  .out = dx->data,
                  .argmax = pool->kind == EL_POOL_MAX ? cache->argmax : NULL};
        el__parallel_run(backward_part, &t, parts_per_thread(&g));
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
