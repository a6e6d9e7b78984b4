/* elman's calls of cblas_sgemm.  Not installed. */
#ifndef ELMAN_BLAS_H
#define ELMAN_BLAS_H

/* C = alpha op(A) op(B) + beta C on raw row-major matrices, op(X) = X or Xᵀ
 * as trans_x says; op(A) is m x k, op(B) k x n, C m x n.  The callers have
 * checked every dimension.  Single-threaded (OpenBLAS is kept at one
 * thread); safe to call from several threads on disjoint C. */
void el__gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);

/* The same, split across elman's threads (by rows of C, or by columns when
 * it has more columns) when the product is large enough to pay for it. */
void el__gemm_parallel(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                       int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* dst (cols x rows, row stride ldd) = srcᵀ, for a row-major src (rows x
 * cols, row stride lds) that dst does not overlap.  OpenBLAS's copy: 4 x 4
 * and 8 x 8 SIMD transposes were no faster, as the stores to dst's rows,
 * whole pages apart, limit them all. */
void el__transpose(int rows, int cols, const float *src, int lds, float *dst, int ldd);

/* Work below this many floating-point operations runs on one thread:
 * waking the others would cost more than it saves. */
#define EL__PARALLEL_FLOPS 8e6

#endif
