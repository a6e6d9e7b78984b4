#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

/* Validates a shape and computes its element count without overflow. */
static el_status shape_size(const char *fn, int ndim, const int *shape, size_t *size)
{
    if (ndim < 1 || ndim > EL_MAX_DIMS)
        return el__fail(EL_ERR_INVALID, "%s: %d dimensions (1 to %d allowed)", fn, ndim,
                        EL_MAX_DIMS);
    EL_REQUIRE(shape, fn);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return el__fail(EL_ERR_INVALID, "%s: dimension %d is %d (negative)", fn, i, shape[i]);
        if (shape[i] != 0 && n > SIZE_MAX / sizeof(float) / (size_t)shape[i])
            return el__fail(EL_ERR_NOMEM, "%s: shape too large for memory", fn);
        n *= (size_t)shape[i];
    }
    /* Matrix code sees rows * cols with int rows (BLAS's integer), so the
     * leading dimensions together must fit an int. */
    size_t rows = 1;
    for (int i = 0; i < ndim - 1 && rows > 0; i++) {
        rows *= (size_t)shape[i];
        if (rows > INT_MAX)
            return el__fail(EL_ERR_INVALID, "%s: the leading dimensions exceed %d rows", fn,
                            INT_MAX);
    }
    *size = n;
    return EL_OK;
}

static void set_shape(el_tensor *t, int ndim, const int *shape, size_t size)
{
    t->ndim = ndim;
    for (int i = 0; i < EL_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 0;
    t->size = size;
}

el_status el_tensor_alloc(el_tensor *t, int ndim, const int *shape)
{
    EL_REQUIRE(t, "el_tensor_alloc");
    size_t size;
    el_status s = shape_size("el_tensor_alloc", ndim, shape, &size);
    if (s) return s;
    /* An empty tensor holds no memory, so that capacity 0 with data still
     * means a view, and an empty workspace can grow later. */
    float *data = NULL;
    if (size) {
        data = el__alloc_zero(size, sizeof(float));
        if (!data)
            return el__fail(EL_ERR_NOMEM, "el_tensor_alloc: out of memory for %zu floats", size);
    }
    t->data = data;
    t->capacity = size;
    set_shape(t, ndim, shape, size);
    return EL_OK;
}

el_status el_tensor_ensure(el_tensor *t, int ndim, const int *shape)
{
    EL_REQUIRE(t, "el_tensor_ensure");
    size_t size;
    el_status s = shape_size("el_tensor_ensure", ndim, shape, &size);
    if (s) return s;
    if (t->data && t->capacity == 0)
        return el__fail(EL_ERR_INVALID, "el_tensor_ensure: the tensor is a view");
    if (size > t->capacity) {
        float *data = el__alloc_zero(size, sizeof(float));
        if (!data)
            return el__fail(EL_ERR_NOMEM, "el_tensor_ensure: out of memory for %zu floats", size);
        el__free(t->data);
        t->data = data;
        t->capacity = size;
    }
    set_shape(t, ndim, shape, size);
    return EL_OK;
}

void el_tensor_free(el_tensor *t)
{
    if (!t) return;
    if (t->capacity) el__free(t->data);
    memset(t, 0, sizeof *t);
}

el_status el_tensor_view(el_tensor *view, const el_tensor *base, size_t offset, int ndim,
                         const int *shape)
{
    EL_REQUIRE(view, "el_tensor_view");
    EL_REQUIRE(base, "el_tensor_view");
    size_t size;
    el_status s = shape_size("el_tensor_view", ndim, shape, &size);
    if (s) return s;
    if (offset > base->size || size > base->size - offset)
        return el__fail(EL_ERR_SHAPE,
                        "el_tensor_view: elements [%zu, %zu) lie outside the base's %zu", offset,
                        offset + size, base->size);
    view->data = base->data ? base->data + offset : NULL;
    view->capacity = 0;
    set_shape(view, ndim, shape, size);
    return EL_OK;
}

el_status el_tensor_wrap(el_tensor *t, float *data, int ndim, const int *shape)
{
    EL_REQUIRE(t, "el_tensor_wrap");
    size_t size;
    el_status s = shape_size("el_tensor_wrap", ndim, shape, &size);
    if (s) return s;
    if (!data && size)
        return el__fail(EL_ERR_INVALID, "el_tensor_wrap: data is NULL for %zu elements", size);
    t->data = data;
    t->capacity = 0;
    set_shape(t, ndim, shape, size);
    return EL_OK;
}

el_status el_tensor_reshape(el_tensor *t, int ndim, const int *shape)
{
    EL_REQUIRE(t, "el_tensor_reshape");
    size_t size;
    el_status s = shape_size("el_tensor_reshape", ndim, shape, &size);
    if (s) return s;
    if (size != t->size) {
        char have[64];
        return el__fail(EL_ERR_SHAPE, "el_tensor_reshape: %s has %zu elements, the new shape %zu",
                        el_tensor_shape_string(t, have, sizeof have), t->size, size);
    }
    set_shape(t, ndim, shape, size);
    return EL_OK;
}

el_status el_tensor_copy(el_tensor *dst, const el_tensor *src)
{
    EL_REQUIRE(dst, "el_tensor_copy");
    EL_REQUIRE(src, "el_tensor_copy");
    el_status s = el__check_same_size("el_tensor_copy", "dst", dst, "src", src);
    if (s) return s;
    if (src->size) memmove(dst->data, src->data, src->size * sizeof(float));
    return EL_OK;
}

void el_tensor_fill(el_tensor *t, float value)
{
    if (!t) return;
    for (size_t i = 0; i < t->size; i++) t->data[i] = value;
}

int el_tensor_cols(const el_tensor *t) { return t && t->ndim > 0 ? t->shape[t->ndim - 1] : 0; }

int el_tensor_rows(const el_tensor *t)
{
    if (!t || t->ndim == 0) return 0;
    int rows = 1;
    for (int i = 0; i < t->ndim - 1; i++) rows *= t->shape[i];
    return rows;
}

int el_tensor_same_shape(const el_tensor *a, const el_tensor *b)
{
    if (!a || !b || a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

char *el_tensor_shape_string(const el_tensor *t, char *buf, size_t bufsize)
{
    if (!buf || bufsize == 0) return buf;
    buf[0] = '\0';
    if (!t || t->ndim == 0) {
        snprintf(buf, bufsize, "(empty)");
        return buf;
    }
    size_t used = 0;
    for (int i = 0; i < t->ndim && used < bufsize; i++) {
        int n = snprintf(buf + used, bufsize - used, i ? "x%d" : "%d", t->shape[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    return buf;
}

el_status el__check_same_size(const char *fn, const char *name_a, const el_tensor *a,
                              const char *name_b, const el_tensor *b)
{
    if (a->size == b->size) return EL_OK;
    char sa[64], sb[64];
    return el__fail(EL_ERR_SHAPE, "%s: %s is %s but %s is %s", fn, name_a,
                    el_tensor_shape_string(a, sa, sizeof sa), name_b,
                    el_tensor_shape_string(b, sb, sizeof sb));
}

el_status el__size_output(const char *fn, const char *name, el_tensor *t, int ndim,
                          const int *shape)
{
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (same) return EL_OK;
    if (t->data && t->capacity == 0) {
        char have[64], want[64];
        el_tensor wanted = {.ndim = ndim};
        memcpy(wanted.shape, shape, (size_t)ndim * sizeof *shape);
        return el__fail(EL_ERR_SHAPE, "%s: %s is %s, expected %s (a view cannot be resized)", fn,
                        name, el_tensor_shape_string(t, have, sizeof have),
                        el_tensor_shape_string(&wanted, want, sizeof want));
    }
    return el_tensor_ensure(t, ndim, shape);
}
