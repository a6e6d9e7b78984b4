#include <stdio.h>
#include <string.h>

#include "elman/activation.h"
#include "elman/sequential.h"
#include "core/internal.h"

void el_module_free(el_module *m)
{
    if (!m) return;
    if (m->ops && m->ops->free) m->ops->free(m->self);
    memset(m, 0, sizeof *m);
}

/* Allocates a zeroed adapter of size bytes into m with ops. */
static el_status adapter(const char *fn, el_module *m, const el_module_ops *ops, size_t bytes)
{
    EL_REQUIRE(m, fn);
    memset(m, 0, sizeof *m);
    m->self = el__alloc_zero(1, bytes);
    if (!m->self) return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    m->ops = ops;
    return EL_OK;
}

static void free_self(void *self) { el__free(self); }

/* Sizes t as x with its last dimension replaced by last. */
static el_status ensure_last(el_tensor *t, const el_tensor *x, int last)
{
    int shape[EL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = last;
    return el_tensor_ensure(t, x->ndim, shape);
}

/* ---- dense ----------------------------------------------------------- */

static el_status dense_forward(void *self, const el_tensor *x, el_tensor *y)
{
    el_dense *layer = self;
    if (x->ndim < 1) return el__fail(EL_ERR_SHAPE, "el_dense_forward: x is (empty)");
    el_status s = ensure_last(y, x, layer->out_features);
    return s ? s : el_dense_forward(layer, x, y);
}

static el_status dense_backward(void *self, const el_tensor *x, const el_tensor *y,
                                const el_tensor *dy, el_tensor *dx)
{
    (void)y;
    el_status s = dx ? el_tensor_ensure(dx, x->ndim, x->shape) : EL_OK;
    return s ? s : el_dense_backward(self, x, dy, dx);
}

static el_status dense_params(void *self, el_param_list *list)
{
    return el_dense_params(self, list);
}

static void dense_free(void *self)
{
    el_dense_free(self);
    el__free(self);
}

static const el_module_ops dense_ops = {
    .kind = "Linear",
    .forward = dense_forward,
    .backward = dense_backward,
    .params = dense_params,
    .free = dense_free,
};

el_status el_module_dense(el_module *m, int in_features, int out_features, int has_bias,
                          el_rng *rng)
{
    el_status s = adapter("el_module_dense", m, &dense_ops, sizeof(el_dense));
    if (!s) s = el_dense_init(m->self, NULL, in_features, out_features, has_bias, rng);
    if (s) {
        el__free(m->self);
        memset(m, 0, sizeof *m);
    }
    return s;
}

/* ---- activations ----------------------------------------------------- */

#define ACTIVATION(fn_name, kind_name, forward_fn, backward_fn)                                    \
    static el_status fn_name##_forward(void *self, const el_tensor *x, el_tensor *y)               \
    {                                                                                              \
        (void)self;                                                                                \
        el_status s = el_tensor_ensure(y, x->ndim, x->shape);                                      \
        return s ? s : forward_fn(y, x);                                                           \
    }                                                                                              \
    static el_status fn_name##_backward(void *self, const el_tensor *x, const el_tensor *y,        \
                                        const el_tensor *dy, el_tensor *dx)                        \
    {                                                                                              \
        (void)self;                                                                                \
        (void)x;                                                                                   \
        if (!dx) return EL_OK;                                                                     \
        el_status s = el_tensor_ensure(dx, y->ndim, y->shape);                                     \
        return s ? s : backward_fn(dx, y, dy);                                                     \
    }                                                                                              \
    static const el_module_ops fn_name##_ops = {                                                   \
        .kind = kind_name,                                                                         \
        .forward = fn_name##_forward,                                                              \
        .backward = fn_name##_backward,                                                            \
        .free = free_self,                                                                         \
    };                                                                                             \
    el_status el_module_##fn_name(el_module *m)                                                    \
    {                                                                                              \
        /* No state: one byte so that every module has a self. */                                  \
        return adapter("el_module_" #fn_name, m, &fn_name##_ops, 1);                               \
    }

ACTIVATION(relu, "ReLU", el_relu_forward, el_relu_backward)
ACTIVATION(sigmoid, "Sigmoid", el_sigmoid_forward, el_sigmoid_backward)
ACTIVATION(tanh, "Tanh", el_tanh_forward, el_tanh_backward)

/* ---- convolutions -------------------------------------------------------- */

/* The three convolutions share one adapter shape: the layer, then the cache
 * that its forward pass fills for its backward pass.  The layer's own
 * functions size y and dx. */
#define CONV_ADAPTER(class_name, type, config_type, prefix)                                        \
    typedef struct prefix##_module {                                                               \
        type layer;                                                                                \
        el_conv_cache cache;                                                                       \
    } prefix##_module;                                                                             \
    static el_status prefix##_module_forward(void *self, const el_tensor *x, el_tensor *y)         \
    {                                                                                              \
        prefix##_module *c = self;                                                                 \
        return el_##prefix##_forward(&c->layer, &c->cache, x, y);                                  \
    }                                                                                              \
    static el_status prefix##_module_backward(void *self, const el_tensor *x, const el_tensor *y,  \
                                              const el_tensor *dy, el_tensor *dx)                  \
    {                                                                                              \
        prefix##_module *c = self;                                                                 \
        (void)x;                                                                                   \
        (void)y;                                                                                   \
        return el_##prefix##_backward(&c->layer, &c->cache, dy, dx);                               \
    }                                                                                              \
    static el_status prefix##_module_params(void *self, el_param_list *list)                       \
    {                                                                                              \
        return el_##prefix##_params(&((prefix##_module *)self)->layer, list);                      \
    }                                                                                              \
    static void prefix##_module_free(void *self)                                                   \
    {                                                                                              \
        prefix##_module *c = self;                                                                 \
        el_##prefix##_free(&c->layer);                                                             \
        el_conv_cache_free(&c->cache);                                                             \
        el__free(c);                                                                               \
    }                                                                                              \
    static const el_module_ops prefix##_ops = {                                                    \
        .kind = class_name,                                                                        \
        .forward = prefix##_module_forward,                                                        \
        .backward = prefix##_module_backward,                                                      \
        .params = prefix##_module_params,                                                          \
        .free = prefix##_module_free,                                                              \
    };                                                                                             \
    el_status el_module_##prefix(el_module *m, const config_type *config, el_rng *rng)             \
    {                                                                                              \
        el_status s = adapter("el_module_" #prefix, m, &prefix##_ops, sizeof(prefix##_module));    \
        if (!s) s = el_##prefix##_init(m->self, NULL, config, rng);                                \
        if (s) {                                                                                   \
            el__free(m->self);                                                                     \
            memset(m, 0, sizeof *m);                                                               \
        }                                                                                          \
        return s;                                                                                  \
    }

CONV_ADAPTER("Conv1d", el_conv1d, el_conv1d_config, conv1d)
CONV_ADAPTER("Conv2d", el_conv2d, el_conv2d_config, conv2d)
CONV_ADAPTER("ConvTranspose2d", el_conv_transpose2d, el_conv_transpose2d_config, conv_transpose2d)

/* ---- dropout ---------------------------------------------------------- */

typedef struct dropout_module {
    el_dropout layer;
    el_rng *rng;
    el_tensor mask;
} dropout_module;

static el_status dropout_forward(void *self, const el_tensor *x, el_tensor *y)
{
    dropout_module *d = self;
    el_status s = el_tensor_ensure(y, x->ndim, x->shape);
    if (!s && d->layer.training) s = el_tensor_ensure(&d->mask, x->ndim, x->shape);
    return s ? s : el_dropout_forward(&d->layer, d->rng, x, y, d->layer.training ? &d->mask : NULL);
}

static el_status dropout_backward(void *self, const el_tensor *x, const el_tensor *y,
                                  const el_tensor *dy, el_tensor *dx)
{
    dropout_module *d = self;
    (void)y;
    if (!dx) return EL_OK;
    el_status s = el_tensor_ensure(dx, x->ndim, x->shape);
    return s ? s : el_dropout_backward(&d->layer, &d->mask, dy, dx);
}

static void dropout_set_training(void *self, int on)
{
    ((dropout_module *)self)->layer.training = on != 0;
}

static void dropout_free(void *self)
{
    dropout_module *d = self;
    el_tensor_free(&d->mask);
    el__free(d);
}

static const el_module_ops dropout_ops = {
    .kind = "Dropout",
    .forward = dropout_forward,
    .backward = dropout_backward,
    .set_training = dropout_set_training,
    .free = dropout_free,
};

el_status el_module_dropout(el_module *m, float p, el_rng *rng)
{
    const char *fn = "el_module_dropout";
    EL_REQUIRE(rng, fn);
    if (!(p >= 0 && p <= 1)) return el__fail(EL_ERR_INVALID, "%s: p %g outside [0, 1]", fn, p);
    el_status s = adapter(fn, m, &dropout_ops, sizeof(dropout_module));
    if (s) return s;
    dropout_module *d = m->self;
    d->layer = (el_dropout){.p = p, .training = 1};
    d->rng = rng;
    return EL_OK;
}

/* ---- pooling --------------------------------------------------------- */

typedef struct pool_module {
    el_pool pool;
    el_pool_cache cache;
} pool_module;

static el_status pool_forward(void *self, const el_tensor *x, el_tensor *y)
{
    pool_module *p = self;
    return el_pool_forward(&p->pool, &p->cache, x, y);
}

static el_status pool_backward(void *self, const el_tensor *x, const el_tensor *y,
                               const el_tensor *dy, el_tensor *dx)
{
    pool_module *p = self;
    (void)x;
    (void)y;
    return el_pool_backward(&p->pool, &p->cache, dy, dx);
}

static void pool_free(void *self)
{
    pool_module *p = self;
    el_pool_cache_free(&p->cache);
    el__free(p);
}

static const el_module_ops max_pool1d_ops = {"MaxPool1d", pool_forward, pool_backward,
                                             .free = pool_free};
static const el_module_ops max_pool2d_ops = {"MaxPool2d", pool_forward, pool_backward,
                                             .free = pool_free};
static const el_module_ops avg_pool1d_ops = {"AvgPool1d", pool_forward, pool_backward,
                                             .free = pool_free};
static const el_module_ops avg_pool2d_ops = {"AvgPool2d", pool_forward, pool_backward,
                                             .free = pool_free};

el_status el_module_pool(el_module *m, const el_pool *pool)
{
    const char *fn = "el_module_pool";
    EL_REQUIRE(pool, fn);
    if (pool->dims != 1 && pool->dims != 2)
        return el__fail(EL_ERR_INVALID, "%s: the pool is not initialised", fn);
    const el_module_ops *ops = pool->kind == EL_POOL_MAX
                                   ? (pool->dims == 1 ? &max_pool1d_ops : &max_pool2d_ops)
                                   : (pool->dims == 1 ? &avg_pool1d_ops : &avg_pool2d_ops);
    el_status s = adapter(fn, m, ops, sizeof(pool_module));
    if (!s) ((pool_module *)m->self)->pool = *pool;
    return s;
}

/* ---- batch normalisation ---------------------------------------------- */

typedef struct batchnorm_module {
    el_batchnorm bn;
    el_batchnorm_cache cache;
} batchnorm_module;

static el_status batchnorm_forward(void *self, const el_tensor *x, el_tensor *y)
{
    batchnorm_module *b = self;
    return el_batchnorm_forward(&b->bn, &b->cache, x, y);
}

static el_status batchnorm_backward(void *self, const el_tensor *x, const el_tensor *y,
                                    const el_tensor *dy, el_tensor *dx)
{
    batchnorm_module *b = self;
    (void)x;
    (void)y;
    return el_batchnorm_backward(&b->bn, &b->cache, dy, dx);
}

static el_status batchnorm_params(void *self, el_param_list *list)
{
    return el_batchnorm_params(self, list);
}

static el_status batchnorm_buffers(void *self, el_param_list *list)
{
    return el_batchnorm_buffers(self, list);
}

static int64_t *batchnorm_counter(void *self, char **name)
{
    el_batchnorm *bn = self;
    *name = bn->tracked_name;
    return &bn->num_batches_tracked;
}

static void batchnorm_set_training(void *self, int on) { el_batchnorm_set_training(self, on); }

static void batchnorm_free(void *self)
{
    batchnorm_module *b = self;
    el_batchnorm_free(&b->bn);
    el_batchnorm_cache_free(&b->cache);
    el__free(b);
}

#define BATCHNORM_OPS(kind_name)                                                                   \
    {                                                                                              \
        .kind = kind_name, .forward = batchnorm_forward, .backward = batchnorm_backward,           \
        .params = batchnorm_params, .buffers = batchnorm_buffers, .counter = batchnorm_counter,    \
        .set_training = batchnorm_set_training, .free = batchnorm_free,                            \
    }
static const el_module_ops batchnorm1d_ops = BATCHNORM_OPS("BatchNorm1d");
static const el_module_ops batchnorm2d_ops = BATCHNORM_OPS("BatchNorm2d");

el_status el_module_batchnorm(el_module *m, int dims, int num_features)
{
    const char *fn = "el_module_batchnorm";
    if (dims != 1 && dims != 2)
        return el__fail(EL_ERR_INVALID, "%s: %d spatial dimensions (1 or 2)", fn, dims);
    el_status s =
        adapter(fn, m, dims == 1 ? &batchnorm1d_ops : &batchnorm2d_ops, sizeof(batchnorm_module));
    if (!s) s = el_batchnorm_init(m->self, NULL, dims, num_features);
    if (s && m && m->self) {
        el__free(m->self);
        memset(m, 0, sizeof *m);
    }
    return s;
}

/* ---- flatten ---------------------------------------------------------- */

/* A copy rather than a view, so that y sizes itself as every output does. */
static el_status flatten_forward(void *self, const el_tensor *x, el_tensor *y)
{
    (void)self;
    if (x->ndim < 2) {
        char shape[64];
        return el__fail(EL_ERR_SHAPE, "el_module_flatten: x is %s, it needs a batch dimension",
                        el_tensor_shape_string(x, shape, sizeof shape));
    }
    el_status s = el_tensor_ensure(y, 2, (int[]){x->shape[0], (int)(x->size / x->shape[0])});
    return s ? s : el_tensor_copy(y, x);
}

static el_status flatten_backward(void *self, const el_tensor *x, const el_tensor *y,
                                  const el_tensor *dy, el_tensor *dx)
{
    (void)self;
    (void)y;
    if (!dx) return EL_OK;
    el_status s = el_tensor_ensure(dx, x->ndim, x->shape);
    return s ? s : el_tensor_copy(dx, dy);
}

static const el_module_ops flatten_ops = {
    .kind = "Flatten",
    .forward = flatten_forward,
    .backward = flatten_backward,
    .free = free_self,
};

el_status el_module_flatten(el_module *m)
{
    return adapter("el_module_flatten", m, &flatten_ops, 1);
}

/* ---- unflatten -------------------------------------------------------- */

typedef struct unflatten_module {
    int ndim; /* of the shape after the batch dimension */
    int shape[EL_MAX_DIMS - 1];
} unflatten_module;

static el_status unflatten_forward(void *self, const el_tensor *x, el_tensor *y)
{
    const unflatten_module *u = self;
    int shape[EL_MAX_DIMS];
    size_t size = 1;
    for (int i = 0; i < u->ndim; i++) {
        shape[i + 1] = u->shape[i];
        size *= (size_t)u->shape[i];
    }
    if (x->ndim != 2 || (size_t)x->shape[1] != size) {
        char got[64];
        return el__fail(EL_ERR_SHAPE, "el_module_unflatten: x is %s, expected (N, %zu)",
                        el_tensor_shape_string(x, got, sizeof got), size);
    }
    shape[0] = x->shape[0];
    el_status s = el_tensor_ensure(y, u->ndim + 1, shape);
    return s ? s : el_tensor_copy(y, x);
}

static const el_module_ops unflatten_ops = {
    .kind = "Unflatten",
    .forward = unflatten_forward,
    .backward = flatten_backward, /* dx takes x's shape, whatever y's is */
    .free = free_self,
};

el_status el_module_unflatten(el_module *m, int ndim, const int *shape)
{
    const char *fn = "el_module_unflatten";
    if (ndim < 1 || ndim > EL_MAX_DIMS - 1 || !shape)
        return el__fail(EL_ERR_INVALID, "%s: %d dimensions (1 to %d)", fn, ndim, EL_MAX_DIMS - 1);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 1)
            return el__fail(EL_ERR_INVALID, "%s: dimension %d is %d", fn, i, shape[i]);
    el_status s = adapter(fn, m, &unflatten_ops, sizeof(unflatten_module));
    if (s) return s;
    unflatten_module *u = m->self;
    u->ndim = ndim;
    memcpy(u->shape, shape, (size_t)ndim * sizeof *shape);
    return EL_OK;
}

/* ---- the container ---------------------------------------------------- */

el_status el_sequential_init(el_sequential *seq, const char *name)
{
    EL_REQUIRE(seq, "el_sequential_init");
    memset(seq, 0, sizeof *seq);
    int n = snprintf(seq->name, sizeof seq->name, "%s", name ? name : "");
    if (n < 0 || (size_t)n >= sizeof seq->name)
        return el__fail(EL_ERR_INVALID, "el_sequential_init: the name \"%s\" is too long", name);
    seq->training = 1;
    return EL_OK;
}

void el_sequential_free(el_sequential *seq)
{
    if (!seq) return;
    for (int i = 0; i < seq->count; i++) {
        el_module_free(&seq->modules[i]);
        el_tensor_free(&seq->outputs[i]);
    }
    el__free(seq->modules);
    el__free(seq->outputs);
    el_tensor_free(&seq->input);
    el_tensor_free(&seq->grads[0]);
    el_tensor_free(&seq->grads[1]);
    memset(seq, 0, sizeof *seq);
}

/* Writes "<seq name>.<index>.<name>" over name. */
static el_status prefix_name(const el_sequential *seq, int index, char *name)
{
    char full[EL_NAME_MAX];
    int n = seq->name[0] ? snprintf(full, sizeof full, "%s.%d.%s", seq->name, index, name)
                         : snprintf(full, sizeof full, "%d.%s", index, name);
    if (n < 0 || (size_t)n >= sizeof full)
        return el__fail(EL_ERR_INVALID,
                        "el_sequential_add: the name of module %d's \"%s\" is longer than %d bytes",
                        index, name, EL_NAME_MAX - 1);
    memcpy(name, full, (size_t)n + 1);
    return EL_OK;
}

static el_status rename_module(el_sequential *seq, int index, el_module *m)
{
    el_param_list list = {0};
    el_status s = m->ops->params ? m->ops->params(m->self, &list) : EL_OK;
    if (!s && m->ops->buffers) s = m->ops->buffers(m->self, &list);
    for (int i = 0; !s && i < list.count; i++) s = prefix_name(seq, index, list.items[i]->name);
    el_param_list_free(&list);
    char *name;
    if (!s && m->ops->counter && m->ops->counter(m->self, &name)) s = prefix_name(seq, index, name);
    return s;
}

el_status el_sequential_add(el_sequential *seq, el_module *m)
{
    const char *fn = "el_sequential_add";
    el_status s = EL_OK;
    if (!seq || !m || !m->ops || !m->self) {
        s = el__fail(EL_ERR_INVALID, "%s: %s", fn,
                     !seq ? "seq is NULL"
                     : !m ? "m is NULL"
                          : "m is not a module");
    } else if (seq->count == seq->capacity) {
        int capacity = seq->capacity ? 2 * seq->capacity : 8;
        el_module *modules = el__realloc(seq->modules, (size_t)capacity * sizeof *modules);
        if (modules) seq->modules = modules;
        el_tensor *outputs =
            modules ? el__realloc(seq->outputs, (size_t)capacity * sizeof *outputs) : NULL;
        if (outputs) {
            seq->outputs = outputs;
            seq->capacity = capacity;
        } else {
            s = el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
        }
    }
    if (!s) s = rename_module(seq, seq->count, m);
    if (s) {
        el_module_free(m);
        return s;
    }
    if (m->ops->set_training) m->ops->set_training(m->self, seq->training);
    seq->modules[seq->count] = *m;
    memset(&seq->outputs[seq->count], 0, sizeof seq->outputs[0]);
    seq->count++;
    seq->forward_done = 0;
    memset(m, 0, sizeof *m);
    return EL_OK;
}

el_module *el_sequential_module(el_sequential *seq, int index)
{
    return seq && index >= 0 && index < seq->count ? &seq->modules[index] : NULL;
}

el_status el_sequential_params(el_sequential *seq, el_param_list *list)
{
    EL_REQUIRE(seq, "el_sequential_params");
    el_status s = EL_OK;
    for (int i = 0; !s && i < seq->count; i++)
        if (seq->modules[i].ops->params)
            s = seq->modules[i].ops->params(seq->modules[i].self, list);
    return s;
}

el_status el_sequential_buffers(el_sequential *seq, el_param_list *list)
{
    EL_REQUIRE(seq, "el_sequential_buffers");
    el_status s = EL_OK;
    for (int i = 0; !s && i < seq->count; i++)
        if (seq->modules[i].ops->buffers)
            s = seq->modules[i].ops->buffers(seq->modules[i].self, list);
    return s;
}

int64_t *el_sequential_counter(el_sequential *seq, int index, const char **name)
{
    el_module *m = el_sequential_module(seq, index);
    if (!m || !m->ops->counter) return NULL;
    char *own;
    int64_t *value = m->ops->counter(m->self, &own);
    if (value && name) *name = own;
    return value;
}

void el_sequential_set_training(el_sequential *seq, int on)
{
    if (!seq) return;
    seq->training = on != 0;
    for (int i = 0; i < seq->count; i++)
        if (seq->modules[i].ops->set_training)
            seq->modules[i].ops->set_training(seq->modules[i].self, seq->training);
}

el_status el_sequential_forward(el_sequential *seq, const el_tensor *x, el_tensor *y)
{
    const char *fn = "el_sequential_forward";
    EL_REQUIRE(seq, fn);
    EL_REQUIRE(x, fn);
    EL_REQUIRE(y, fn);
    if (seq->count == 0) return el__fail(EL_ERR_STATE, "%s: the container has no modules", fn);
    if (x->ndim < 1) return el__fail(EL_ERR_SHAPE, "%s: x is (empty)", fn);
    seq->forward_done = 0;
    el_status s = el_tensor_ensure(&seq->input, x->ndim, x->shape);
    if (!s) s = el_tensor_copy(&seq->input, x);
    for (int i = 0; !s && i < seq->count; i++) {
        const el_tensor *in = i ? &seq->outputs[i - 1] : &seq->input;
        s = seq->modules[i].ops->forward(seq->modules[i].self, in, &seq->outputs[i]);
    }
    const el_tensor *last = &seq->outputs[seq->count - 1];
    if (!s) s = el_tensor_ensure(y, last->ndim, last->shape);
    if (!s) s = el_tensor_copy(y, last);
    if (!s) seq->forward_done = 1;
    return s;
}

el_status el_sequential_backward(el_sequential *seq, const el_tensor *dy, el_tensor *dx)
{
    const char *fn = "el_sequential_backward";
    EL_REQUIRE(seq, fn);
    EL_REQUIRE(dy, fn);
    if (!seq->forward_done)
        return el__fail(EL_ERR_STATE, "%s: no forward call to backpropagate through", fn);
    const el_tensor *last = &seq->outputs[seq->count - 1];
    if (!el_tensor_same_shape(dy, last)) {
        char got[64], want[64];
        return el__fail(EL_ERR_SHAPE, "%s: dy is %s, the forward output was %s", fn,
                        el_tensor_shape_string(dy, got, sizeof got),
                        el_tensor_shape_string(last, want, sizeof want));
    }
    /* One backward per forward, whether or not this one succeeds. */
    seq->forward_done = 0;
    const el_tensor *grad = dy;
    el_status s = EL_OK;
    for (int i = seq->count - 1; !s && i >= 0; i--) {
        const el_tensor *in = i ? &seq->outputs[i - 1] : &seq->input;
        el_tensor *out = i ? &seq->grads[i % 2] : dx;
        s = seq->modules[i].ops->backward(seq->modules[i].self, in, &seq->outputs[i], grad, out);
        grad = out;
    }
    return s;
}
