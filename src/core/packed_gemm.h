/* A single-precision GEMM whose right-hand operand is packed once and then
 * multiplied many times, for the recurrent layers' time loops: every step
 * multiplies a few rows (the batch) by the same weight matrix, and
 * cblas_sgemm re-packs that whole matrix on every call.  Internal, not
 * installed.
 *
 * Results differ from cblas_sgemm's only by rounding: the sums run over k
 * in order, with fused multiply-adds on the AVX2 and AVX-512 paths. */
#ifndef ELMAN_PACKED_GEMM_H
#define ELMAN_PACKED_GEMM_H

#include <stddef.h>

#include "elman/status.h"

/* Columns in one packed panel. */
#define EL__PANEL 64

/* B (k x n) in column panels of EL__PANEL: panel p holds columns
 * [p * EL__PANEL, p * EL__PANEL + EL__PANEL) as k rows of EL__PANEL floats,
 * at data + p * EL__PANEL * k, with zeros past column n.  So a kernel reads
 * each panel front to back, a 64-byte aligned row at a time.  An all-zero
 * el__packed is a valid empty one. */
typedef struct el__packed {
    float *data; /* 64-byte aligned; NULL while nothing is packed */
    int n, k;
    size_t capacity; /* floats data can hold */
} el__packed;

/* Packs B for C = A B from a row-major w of rows x cols: with transposed = 1,
 * w is (n x k) and B = wᵀ (a weight used as x Wᵀ); with transposed = 0, w is
 * (k x n) and B = w.  Reuses p's memory when it is large enough.  Returns
 * EL_OK, or EL_ERR_NOMEM leaving p as it was (this and el__packed_reserve
 * are the only functions here that allocate).  rows and cols must not be negative. */
el_status el__pack(el__packed *p, const float *w, int rows, int cols, int transposed);

/* Makes p hold a B of k x n whose values are still to be set, by
 * el__packed_set_rows or el__pack_panels; reuses p's memory when it is
 * large enough.  Returns EL_OK, or EL_ERR_NOMEM leaving p as it was. */
el_status el__packed_reserve(el__packed *p, int k, int n);

/* The panels p holds: n / EL__PANEL rounded up. */
static inline int el__packed_panels(const el__packed *p)
{
    return (p->n + EL__PANEL - 1) / EL__PANEL;
}

/* Packs panels [first, end) of the B that p was reserved for (k x n), from
 * w as el__pack takes it: el__pack by parts, which may run on different
 * threads at once. */
void el__pack_panels(el__packed *p, const float *w, int transposed, int first, int end);

/* Sets rows [first, first + rows) of the B (k x n) that b holds, from a
 * row-major src (rows x n, row stride lds): for a B whose rows are computed
 * a few at a time, packed while they are still in cache. */
void el__packed_set_rows(el__packed *b, int first, int rows, const float *src, int lds);

/* Columns [first, end) of the B that b holds, as a B of its own that shares
 * b's memory (so it is never freed); first must be a multiple of
 * EL__PANEL. */
el__packed el__packed_columns(const el__packed *b, int first, int end);

/* Frees p's memory and leaves it empty. */
void el__packed_free(el__packed *p);

/* C (m x n, row stride ldc >= n) = A (m x k, row stride lda >= k) B + beta C,
 * for the B packed in b; C must not overlap A.  With beta = 0, C is only
 * written (it may hold NaN).  Single-threaded, no allocation, no alignment
 * needed of A or C; any number of threads may share one b. */
void el__gemm_packed(int m, const float *a, int lda, const el__packed *b, float beta, float *c,
                     int ldc);

/* C (m x n, row stride ldc >= n) = A B + beta C, for A the rows [first_row,
 * first_row + m) of a matrix held packed in a (a->k rows of a->n, a->n =
 * b->k), and the B packed in b; otherwise as el__gemm_packed.  For a
 * product with the recurrent layers' gate gradients, which their backward
 * steps pack for the weight gradients. */
void el__gemm_packed_panels(int m, const el__packed *a, int first_row, const el__packed *b,
                            float beta, float *c, int ldc);

/* C ((m + 1) x n, row stride ldc >= n) = [A; 1] B + beta C: C's first m
 * rows are A B, for A (m x k) as it lies (row stride lda >= k) or, with
 * a_transposed, given as Aᵀ (k x m, row stride lda >= m), and its last row
 * is B's column sums (the product with a row of ones).  a may be NULL where
 * m is 0.  Otherwise as el__gemm_packed.  For the recurrent layers' weight
 * gradients, (dGᵀ X)ᵀ = Xᵀ dG with the biases' gradients, dG's column sums,
 * in the same pass over the packed dG. */
void el__gemm_packed_sums(int m, const float *a, int lda, int a_transposed, const el__packed *b,
                          float beta, float *c, int ldc);

/* The code paths el__gemm_packed chooses between, by what the CPU supports;
 * it takes the highest. */
typedef enum el__gemm_path {
    EL__GEMM_GENERIC, /* plain C, for any CPU */
    EL__GEMM_AVX2,    /* x86-64 with AVX2 and FMA */
    EL__GEMM_AVX512,  /* x86-64 with AVX-512F */
    EL__GEMM_PATHS
} el__gemm_path;

/* Whether this CPU (and build) can run path. */
int el__gemm_path_supported(el__gemm_path path);

/* "generic", "avx2" or "avx512". */
const char *el__gemm_path_name(el__gemm_path path);

/* el__gemm_packed on the given path, which must be supported: for tests and
 * benchmarks that compare the paths. */
void el__gemm_packed_on(el__gemm_path path, int m, const float *a, int lda, const el__packed *b,
                        float beta, float *c, int ldc);

/* el__gemm_packed_sums on the given path. */
void el__gemm_packed_sums_on(el__gemm_path path, int m, const float *a, int lda, int a_transposed,
                             const el__packed *b, float beta, float *c, int ldc);

/* el__gemm_packed_panels on the given path. */
void el__gemm_packed_panels_on(el__gemm_path path, int m, const el__packed *a, int first_row,
                               const el__packed *b, float beta, float *c, int ldc);

#endif
