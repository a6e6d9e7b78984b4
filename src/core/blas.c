#include <cblas.h>

#include "core/blas.h"
#include "core/parallel.h"

void el__gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m == 0 || n == 0) return;
    if (k == 0) { /* BLAS leaves this corner to the implementation */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float *x = c + (size_t)i * ldc + j;
                *x = beta == 0 ? 0.0f : beta * *x;
            }
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void el__transpose(int rows, int cols, const float *src, int lds, float *dst, int ldd)
{
    if (rows == 0 || cols == 0) return;
    cblas_somatcopy(CblasRowMajor, CblasTrans, rows, cols, 1.0f, src, lds, dst, ldd);
}

typedef struct gemm_args {
    int trans_a, trans_b, m, n, k;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int lda, ldb, ldc;
} gemm_args;

static void gemm_rows_task(void *context, int index, int count)
{
    const gemm_args *g = context;
    int begin, end;
    el__split(g->m, index, count, &begin, &end);
    const float *a = g->trans_a ? g->a + begin : g->a + (size_t)begin * g->lda;
    el__gemm(g->trans_a, g->trans_b, end - begin, g->n, g->k, g->alpha, a, g->lda, g->b, g->ldb,
             g->beta, g->c + (size_t)begin * g->ldc, g->ldc);
}

static void gemm_columns_task(void *context, int index, int count)
{
    const gemm_args *g = context;
    int begin, end;
    el__split(g->n, index, count, &begin, &end);
    const float *b = g->trans_b ? g->b + (size_t)begin * g->ldb : g->b + begin;
    el__gemm(g->trans_a, g->trans_b, g->m, end - begin, g->k, g->alpha, g->a, g->lda, b, g->ldb,
             g->beta, g->c + begin, g->ldc);
}

void el__gemm_parallel(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                       int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    gemm_args g = {trans_a, trans_b, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc};
    int single = 2.0 * m * n * k < EL__PARALLEL_FLOPS;
    el__parallel_run(m >= n ? gemm_rows_task : gemm_columns_task, &g,
                     single ? 0 : EL__PARTS_PER_THREAD);
}
