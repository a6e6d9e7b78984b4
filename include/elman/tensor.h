/* elman: the float32 tensor.
 *
 * A tensor is contiguous, row-major float32 data with 1 to 4 dimensions.  It
 * is a small value type: declare one, zero it (el_tensor t = {0}) and give it
 * memory with el_tensor_alloc; free it with el_tensor_free.  A view shares
 * another tensor's memory and never frees it.
 *
 * Many functions treat a tensor as a matrix: its last dimension is the
 * columns and all the leading ones together are the rows, so a (T, B, H)
 * tensor is a (T*B) x H matrix. */
#ifndef ELMAN_TENSOR_H
#define ELMAN_TENSOR_H

#include <stddef.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EL_MAX_DIMS 4

typedef struct el_tensor {
    float *data;
    size_t size;            /* number of elements: the product of shape[] */
    size_t capacity;        /* elements allocated; 0 for a view */
    int ndim;               /* 1 .. EL_MAX_DIMS (0 only for an empty tensor) */
    int shape[EL_MAX_DIMS]; /* unused trailing entries are 0 */
} el_tensor;

/* Allocates a zero-filled tensor.  t must be empty (zeroed) or freed. */
EL_API el_status el_tensor_alloc(el_tensor *t, int ndim, const int *shape);

/* Gives t the shape, reusing its memory when it is large enough and growing
 * it otherwise; the contents are unspecified afterwards.  This is how
 * workspaces are sized once per batch shape.  t must not be a view. */
EL_API el_status el_tensor_ensure(el_tensor *t, int ndim, const int *shape);

/* Frees the memory of an owning tensor and empties it.  Safe on an empty
 * tensor and on a view (which is only emptied). */
EL_API void el_tensor_free(el_tensor *t);

/* Makes view a tensor of the given shape over base's elements starting at
 * element offset.  The view must lie inside base. */
EL_API el_status el_tensor_view(el_tensor *view, const el_tensor *base, size_t offset, int ndim,
                                const int *shape);

/* Wraps caller-owned memory of the given shape; el_tensor_free won't free it. */
EL_API el_status el_tensor_wrap(el_tensor *t, float *data, int ndim, const int *shape);

/* Changes the shape in place; the element count must stay the same. */
EL_API el_status el_tensor_reshape(el_tensor *t, int ndim, const int *shape);

/* Copies src's elements into dst; both must hold the same number. */
EL_API el_status el_tensor_copy(el_tensor *dst, const el_tensor *src);

/* Sets every element to value. */
EL_API void el_tensor_fill(el_tensor *t, float value);

/* The matrix view described above. */
EL_API int el_tensor_rows(const el_tensor *t);
EL_API int el_tensor_cols(const el_tensor *t);

/* 1 if a and b have the same dimensions, 0 otherwise. */
EL_API int el_tensor_same_shape(const el_tensor *a, const el_tensor *b);

/* Writes the shape as "3x4" into buf (always NUL-terminated); returns buf. */
EL_API char *el_tensor_shape_string(const el_tensor *t, char *buf, size_t bufsize);

#ifdef __cplusplus
}
#endif
#endif
