#include <math.h>
#include <stdio.h>
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

/* op(X)'s shape for a message: "(empty)" as el_tensor_shape_string writes
 * it, else rows x cols. */
static const char *op_string(const el_tensor *x, int rows, int cols, char *buf, size_t size)
{
    if (x->ndim == 0) return el_tensor_shape_string(x, buf, size);
    snprintf(buf, size, "%dx%d", rows, cols);
    return buf;
}

/* Checks that op(A) * op(B) is defined and gives its M x N (K inner). */
static el_status product_dims(const char *fn, const el_tensor *a, el_transpose trans_a,
                              const el_tensor *b, el_transpose trans_b, int *m, int *n, int *k)
{
    int ar, ac, br, bc;
    op_dims(a, trans_a, &ar, &ac);
    op_dims(b, trans_b, &br, &bc);
    if (ac != br) {
        char sa[64], sb[64];
        return el__fail(EL_ERR_SHAPE, "%s: inner dimensions differ: op(A) is %s, op(B) is %s", fn,
                        op_string(a, ar, ac, sa, sizeof sa), op_string(b, br, bc, sb, sizeof sb));
    }
    *m = ar;
    *n = bc;
    *k = ac;
    return EL_OK;
}

/* Sizes a matrix output of m x n: with beta == 0 it is only written, so one
 * whose rows and columns (all leading dimensions as rows) already match is
 * reused and any other is sized (el__size_output); with beta != 0 it is read
 * too, so it must already match. */
static el_status size_matrix(const char *fn, const char *name, el_tensor *t, int m, int n,
                             float beta)
{
    if (t->ndim > 0 && el_tensor_rows(t) == m && el_tensor_cols(t) == n) return EL_OK;
    if (beta == 0) return el__size_output(fn, name, t, 2, (int[]){m, n});
    char have[64];
    return el__fail(EL_ERR_SHAPE, "%s: %s is %s but must be %dx%d (beta != 0 reads it)", fn, name,
                    el_tensor_shape_string(t, have, sizeof have), m, n);
}

el_status el_matmul(const el_tensor *a, el_transpose trans_a, const el_tensor *b,
                    el_transpose trans_b, el_tensor *c, float alpha, float beta)
{
    EL_REQUIRE(a, "el_matmul");
    EL_REQUIRE(b, "el_matmul");
    EL_REQUIRE(c, "el_matmul");
    int m = 0, n = 0, k = 0;
    el_status s = product_dims("el_matmul", a, trans_a, b, trans_b, &m, &n, &k);
    if (!s) s = size_matrix("el_matmul", "C", c, m, n, beta);
    if (s) return s;
    el__gemm_parallel(trans_a, trans_b, m, n, k, alpha, a->data, el_tensor_cols(a), b->data,
                      el_tensor_cols(b), beta, c->data, n);
    return EL_OK;
}

el_status el_matmul_backward(const el_tensor *a, el_transpose trans_a, const el_tensor *b,
                             el_transpose trans_b, const el_tensor *dc, el_tensor *da,
                             el_tensor *db, float alpha, float beta)
{
    static const char fn[] = "el_matmul_backward";
    EL_REQUIRE(a, fn);
    EL_REQUIRE(b, fn);
    EL_REQUIRE(dc, fn);
    int m = 0, n = 0, k = 0;
    el_status s = product_dims(fn, a, trans_a, b, trans_b, &m, &n, &k);
    if (s) return s;
    if (el_tensor_rows(dc) != m || el_tensor_cols(dc) != n) {
        char have[64];
        return el__fail(EL_ERR_SHAPE, "%s: dC is %s but C is %dx%d", fn,
                        el_tensor_shape_string(dc, have, sizeof have), m, n);
    }
    /* Both gradients are checked and sized before either is written, so a
     * failure leaves their values as they were. */
    if (da && (s = size_matrix(fn, "dA", da, el_tensor_rows(a), el_tensor_cols(a), beta))) return s;
    if (db && (s = size_matrix(fn, "dB", db, el_tensor_rows(b), el_tensor_cols(b), beta))) return s;
    /* d op(A) = alpha dC op(B)^T and d op(B) = alpha op(A)^T dC; a transposed
     * operand takes the transpose of its gradient. */
    if (da) {
        s = trans_a ? el_matmul(b, trans_b, dc, EL_TRANS, da, alpha, beta)
                    : el_matmul(dc, EL_NO_TRANS, b, !trans_b, da, alpha, beta);
        if (s) return s;
    }
    if (db) {
        s = trans_b ? el_matmul(dc, EL_TRANS, a, trans_a, db, alpha, beta)
                    : el_matmul(a, !trans_a, dc, EL_NO_TRANS, db, alpha, beta);
        if (s) return s;
    }
    return EL_OK;
}

/* Checks that a and b hold as many elements and sizes y like a. */
static el_status check_binary(const char *fn, const el_tensor *a, const el_tensor *b, el_tensor *y)
{
    if (!y || !a || !b) return el__fail(EL_ERR_INVALID, "%s: a tensor is NULL", fn);
    el_status s = el__check_same_size(fn, "a", a, "b", b);
    return s ? s : el__size_output(fn, "y", y, a->ndim, a->shape);
}

el_status el_add(const el_tensor *a, const el_tensor *b, el_tensor *y)
{
    el_status s = check_binary("el_add", a, b, y);
    if (s) return s;
    for (size_t i = 0; i < y->size; i++) y->data[i] = a->data[i] + b->data[i];
    return EL_OK;
}

el_status el_sub(const el_tensor *a, const el_tensor *b, el_tensor *y)
{
    el_status s = check_binary("el_sub", a, b, y);
    if (s) return s;
    for (size_t i = 0; i < y->size; i++) y->data[i] = a->data[i] - b->data[i];
    return EL_OK;
}

el_status el_mul(const el_tensor *a, const el_tensor *b, el_tensor *y)
{
    el_status s = check_binary("el_mul", a, b, y);
    if (s) return s;
    for (size_t i = 0; i < y->size; i++) y->data[i] = a->data[i] * b->data[i];
    return EL_OK;
}

el_status el_mul_backward(const el_tensor *a, const el_tensor *b, const el_tensor *dy,
                          el_tensor *da, el_tensor *db)
{
    static const char fn[] = "el_mul_backward";
    if (!a || !b || !dy) return el__fail(EL_ERR_INVALID, "%s: a tensor is NULL", fn);
    el_status s = el__check_same_size(fn, "a", a, "b", b);
    if (!s) s = el__check_same_size(fn, "dy", dy, "a", a);
    if (!s && da) s = el__size_output(fn, "da", da, a->ndim, a->shape);
    if (!s && db) s = el__size_output(fn, "db", db, b->ndim, b->shape);
    if (s) return s;
    /* da and db may alias dy, so neither is written before both are read. */
    for (size_t i = 0; i < dy->size; i++) {
        float g = dy->data[i], ai = a->data[i], bi = b->data[i];
        if (da) da->data[i] = g * bi;
        if (db) db->data[i] = g * ai;
    }
    return EL_OK;
}

el_status el_scale(const el_tensor *x, float s, el_tensor *y)
{
    EL_REQUIRE(x, "el_scale");
    EL_REQUIRE(y, "el_scale");
    el_status st = el__size_output("el_scale", "y", y, x->ndim, x->shape);
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

el_status el_sum_rows(const el_tensor *x, el_tensor *out, float beta)
{
    EL_REQUIRE(x, "el_sum_rows");
    EL_REQUIRE(out, "el_sum_rows");
    int rows = el_tensor_rows(x), cols = el_tensor_cols(x);
    /* With beta == 0 out is only written and sizes itself; otherwise it is
     * read too and must already hold cols elements. */
    if (out->size != (size_t)cols || out->ndim == 0) {
        if (beta != 0)
            return el__fail(EL_ERR_SHAPE,
                            "el_sum_rows: x has %d columns but out has %zu elements (beta != 0 "
                            "reads it)",
                            cols, out->size);
        el_status s = el__size_output("el_sum_rows", "out", out, 1, (int[]){cols});
        if (s) return s;
    }
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
