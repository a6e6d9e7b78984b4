#include <math.h>
#include <string.h>

#include "core/blas.h"
#include "elman/ops.h"
#include "core/internal.h"

/* The dimensions of op(X) for a tensor taken as a matrix. */
static void op_dims(const el_tensor *x, el_transpose trans, int *rows, int *cols)
{
    int r = el_tensor_rows(x), c = el_tensor_cols(x);
    *rows = trans ? c : r;
    *cols = trans ? r : c;
}

/* Checks that op(A) * op(B) is defined and gives its M x N (K inner). */
static el_status product_dims(const char *fn, const el_tensor *a, el_transpose trans_a,
                              const el_tensor *b, el_transpose trans_b, int *m, int *n, int *k)
{
    int ar, ac, br, bc;
    op_dims(a, trans_a, &ar, &ac);
    op_dims(b, trans_b, &br, &bc);
    if (ac != br)
        return el__fail(EL_ERR_SHAPE, "%s: inner dimensions differ: op(A) is %dx%d, op(B) is %dx%d",
                        fn, ar, ac, br, bc);
    *m = ar;
    *n = bc;
    *k = ac;
    return EL_OK;
}

el_status el_matmul(el_tensor *c, const el_tensor *a, el_transpose trans_a, const el_tensor *b,
                    el_transpose trans_b, float alpha, float beta)
{
    EL_REQUIRE(c, "el_matmul");
    EL_REQUIRE(a, "el_matmul");
    EL_REQUIRE(b, "el_matmul");
    int m = 0, n = 0, k = 0;
    el_status s = product_dims("el_matmul", a, trans_a, b, trans_b, &m, &n, &k);
    if (s) return s;
    if (el_tensor_rows(c) != m || el_tensor_cols(c) != n)
        return el__fail(EL_ERR_SHAPE, "el_matmul: C is %dx%d but op(A) * op(B) is %dx%d",
                        el_tensor_rows(c), el_tensor_cols(c), m, n);
    el__gemm_parallel(trans_a, trans_b, m, n, k, alpha, a->data, el_tensor_cols(a), b->data,
                      el_tensor_cols(b), beta, c->data, n);
    return EL_OK;
}

static el_status check_same_matrix(const char *fn, const char *name_g, const el_tensor *g,
                                   const char *name_x, const el_tensor *x)
{
    if (el_tensor_rows(g) == el_tensor_rows(x) && el_tensor_cols(g) == el_tensor_cols(x))
        return EL_OK;
    return el__fail(EL_ERR_SHAPE, "%s: %s is %dx%d but %s is %dx%d", fn, name_g, el_tensor_rows(g),
                    el_tensor_cols(g), name_x, el_tensor_rows(x), el_tensor_cols(x));
}

el_status el_matmul_backward(el_tensor *da, el_tensor *db, const el_tensor *a, el_transpose trans_a,
                             const el_tensor *b, el_transpose trans_b, const el_tensor *dc,
                             float alpha, float beta)
{
    EL_REQUIRE(a, "el_matmul_backward");
    EL_REQUIRE(b, "el_matmul_backward");
    EL_REQUIRE(dc, "el_matmul_backward");
    int m = 0, n = 0, k = 0;
    el_status s = product_dims("el_matmul_backward", a, trans_a, b, trans_b, &m, &n, &k);
    if (s) return s;
    if (el_tensor_rows(dc) != m || el_tensor_cols(dc) != n)
        return el__fail(EL_ERR_SHAPE, "el_matmul_backward: dC is %dx%d but C is %dx%d",
                        el_tensor_rows(dc), el_tensor_cols(dc), m, n);
    /* Both gradients are checked before either is written, so a failure
     * leaves them as they were. */
    if (da && (s = check_same_matrix("el_matmul_backward", "dA", da, "A", a))) return s;
    if (db && (s = check_same_matrix("el_matmul_backward", "dB", db, "B", b))) return s;
    /* d op(A) = alpha dC op(B)^T and d op(B) = alpha op(A)^T dC; a transposed
     * operand takes the transpose of its gradient. */
    if (da) {
        s = trans_a ? el_matmul(da, b, trans_b, dc, EL_TRANS, alpha, beta)
                    : el_matmul(da, dc, EL_NO_TRANS, b, !trans_b, alpha, beta);
        if (s) return s;
    }
    if (db) {
        s = trans_b ? el_matmul(db, dc, EL_TRANS, a, trans_a, alpha, beta)
                    : el_matmul(db, a, !trans_a, dc, EL_NO_TRANS, alpha, beta);
        if (s) return s;
    }
    return EL_OK;
}

static el_status check_binary(const char *fn, const el_tensor *y, const el_tensor *a,
                              const el_tensor *b)
{
    if (!y || !a || !b) return el__fail(EL_ERR_INVALID, "%s: a tensor is NULL", fn);
    el_status s = el__check_same_size(fn, "a", a, "b", b);
    if (s) return s;
    return el__check_same_size(fn, "y", y, "a", a);
}

el_status el_add(el_tensor *y, const el_tensor *a, const el_tensor *b)
{
    el_status s = check_binary("el_add", y, a, b);
    if (s) return s;
    for (size_t i = 0; i < y->size; i++) y->data[i] = a->data[i] + b->data[i];
    return EL_OK;
}

el_status el_sub(el_tensor *y, const el_tensor *a, const el_tensor *b)
{
    el_status s = check_binary("el_sub", y, a, b);
    if (s) return s;
    for (size_t i = 0; i < y->size; i++) y->data[i] = a->data[i] - b->data[i];
    return EL_OK;
}

el_status el_mul(el_tensor *y, const el_tensor *a, const el_tensor *b)
{
    el_status s = check_binary("el_mul", y, a, b);
    if (s) return s;
    for (size_t i = 0; i < y->size; i++) y->data[i] = a->data[i] * b->data[i];
    return EL_OK;
}

el_status el_mul_backward(el_tensor *da, el_tensor *db, const el_tensor *a, const el_tensor *b,
                          const el_tensor *dy)
{
    /* da and db may alias dy, so neither is written before both are read. */
    el_status s = check_binary("el_mul_backward", dy, a, b);
    if (s) return s;
    if (da && (s = el__check_same_size("el_mul_backward", "da", da, "a", a))) return s;
    if (db && (s = el__check_same_size("el_mul_backward", "db", db, "b", b))) return s;
    for (size_t i = 0; i < dy->size; i++) {
        float g = dy->data[i], ai = a->data[i], bi = b->data[i];
        if (da) da->data[i] = g * bi;
        if (db) db->data[i] = g * ai;
    }
    return EL_OK;
}

el_status el_scale(el_tensor *y, const el_tensor *x, float s)
{
    EL_REQUIRE(y, "el_scale");
    EL_REQUIRE(x, "el_scale");
    el_status st = el__check_same_size("el_scale", "y", y, "x", x);
    if (st) return st;
    for (size_t i = 0; i < y->size; i++) y->data[i] = s * x->data[i];
    return EL_OK;
}

el_status el_axpy(el_tensor *y, float alpha, const el_tensor *x)
{
    EL_REQUIRE(y, "el_axpy");
    EL_REQUIRE(x, "el_axpy");
    el_status s = el__check_same_size("el_axpy", "y", y, "x", x);
    if (s) return s;
    for (size_t i = 0; i < y->size; i++) y->data[i] += alpha * x->data[i];
    return EL_OK;
}

el_status el_add_row(el_tensor *y, const el_tensor *bias)
{
    EL_REQUIRE(y, "el_add_row");
    EL_REQUIRE(bias, "el_add_row");
    int rows = el_tensor_rows(y), cols = el_tensor_cols(y);
    if (bias->size != (size_t)cols)
        return el__fail(EL_ERR_SHAPE, "el_add_row: y has %d columns but bias has %zu elements",
                        cols, bias->size);
    for (int i = 0; i < rows; i++) {
        float *row = y->data + (size_t)i * cols;
        for (int j = 0; j < cols; j++) row[j] += bias->data[j];
    }
    return EL_OK;
}

el_status el_sum_rows(el_tensor *out, const el_tensor *x, float beta)
{
    EL_REQUIRE(out, "el_sum_rows");
    EL_REQUIRE(x, "el_sum_rows");
    int rows = el_tensor_rows(x), cols = el_tensor_cols(x);
    if (out->size != (size_t)cols)
        return el__fail(EL_ERR_SHAPE, "el_sum_rows: x has %d columns but out has %zu elements",
                        cols, out->size);
    for (int j = 0; j < cols; j++) out->data[j] = beta == 0 ? 0 : beta * out->data[j];
    for (int i = 0; i < rows; i++) {
        const float *row = x->data + (size_t)i * cols;
        for (int j = 0; j < cols; j++) out->data[j] += row[j];
    }
    return EL_OK;
}

double el_sum(const el_tensor *x)
{
    double s = 0;
    if (x)
        for (size_t i = 0; i < x->size; i++) s += x->data[i];
    return s;
}

double el_mean(const el_tensor *x) { return x && x->size ? el_sum(x) / (double)x->size : 0.0; }

void el_sum_backward(el_tensor *dx, float ds) { el_tensor_fill(dx, ds); }

void el_mean_backward(el_tensor *dx, float dm)
{
    if (dx && dx->size) el_tensor_fill(dx, dm / (float)dx->size);
}

double el_norm(const el_tensor *x)
{
    double s = 0;
    if (x)
        for (size_t i = 0; i < x->size; i++) s += (double)x->data[i] * x->data[i];
    return sqrt(s);
}
