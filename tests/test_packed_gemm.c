/* The packed GEMM of src/core/packed_gemm.h against a double-precision product,
 * on every code path this CPU can run: edge shapes (m, n and k of 0, 1 and
 * around the tile and panel sizes), both ways of giving B, beta 0 and 1,
 * strides wider than the rows, deep k (several blocks, fetched ahead),
 * A packed in panels, a row of ones under A given either way, slices of
 * B's columns, repacking, and running out of memory. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/packed_gemm.h"
#include "support.h"

/* What C's padding columns hold; a write there is a bug. */
#define SENTINEL 12345.0f

/* A seeded generator, so that a failure repeats. */
static float uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return (float)(*state >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
}

static float *floats(size_t count)
{
    float *x = malloc((count ? count : 1) * sizeof *x);
    cr_assert_not_null(x);
    return x;
}

typedef struct problem {
    int m, n, k, transposed, lda, ldc;
    float *a;          /* m x lda, NaN past column k */
    float *w;          /* (n x k) when transposed, else (k x n) */
    float *c0;         /* m x ldc: what C holds before the beta = 1 product */
    double *want;      /* m x n: A B in double */
    double *magnitude; /* m x n: sum over p of |a||b|, the scale of the rounding */
} problem;

static float b_at(const problem *p, int row, int col)
{
    return p->transposed ? p->w[(size_t)col * p->k + row] : p->w[(size_t)row * p->n + col];
}

static problem make_problem(int m, int n, int k, int transposed, uint64_t seed)
{
    problem p = {m, n, k, transposed, k + 3, n + 5, NULL, NULL, NULL, NULL, NULL};
    p.a = floats((size_t)m * p.lda);
    p.w = floats((size_t)n * k);
    p.c0 = floats((size_t)m * p.ldc);
    p.want = calloc((size_t)m * n + 1, sizeof *p.want);
    p.magnitude = calloc((size_t)m * n + 1, sizeof *p.magnitude);
    cr_assert(p.want && p.magnitude);
    for (size_t i = 0; i < (size_t)m * p.lda; i++)
        p.a[i] = (int)(i % (size_t)p.lda) < k ? uniform(&seed) : NAN;
    for (size_t i = 0; i < (size_t)n * k; i++) p.w[i] = uniform(&seed);
    for (size_t i = 0; i < (size_t)m * p.ldc; i++)
        p.c0[i] = (int)(i % (size_t)p.ldc) < n ? uniform(&seed) : SENTINEL;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double sum = 0, size = 0;
            for (int q = 0; q < k; q++) {
                double term = (double)p.a[(size_t)i * p.lda + q] * b_at(&p, q, j);
                sum += term;
                size += fabs(term);
            }
            p.want[(size_t)i * n + j] = sum;
            p.magnitude[(size_t)i * n + j] = size;
        }
    return p;
}

static void free_problem(problem *p)
{
    free(p->a);
    free(p->w);
    free(p->c0);
    free(p->want);
    free(p->magnitude);
}

static el_status pack_problem(el__packed *packed, const problem *p)
{
    return p->transposed ? el__pack(packed, p->w, p->n, p->k, 1)
                         : el__pack(packed, p->w, p->k, p->n, 0);
}

/* Runs one product on path and checks every element of C, padding included.
 * With beta = 0, C starts as NaN: it must be written, never read. */
static void check_product(const problem *p, const el__packed *packed, el__gemm_path path,
                          float beta)
{
    size_t size = (size_t)p->m * p->ldc;
    float *c = floats(size);
    for (size_t i = 0; i < size; i++)
        c[i] = beta == 0.0f && (int)(i % (size_t)p->ldc) < p->n ? NAN : p->c0[i];
    el__gemm_packed_on(path, p->m, p->a, p->lda, packed, beta, c, p->ldc);
    for (int i = 0; i < p->m; i++) {
        for (int j = 0; j < p->n; j++) {
            size_t at = (size_t)i * p->ldc + j;
            double c0 = beta == 0.0f ? 0.0 : p->c0[at];
            double want = p->want[(size_t)i * p->n + j] + c0;
            double allowed = 1e-5 * (p->magnitude[(size_t)i * p->n + j] + fabs(c0));
            cr_assert(fabs(c[at] - want) <= allowed,
                      "%s, m %d n %d k %d, %s, beta %g: C[%d][%d] is %.9g, expected %.9g",
                      el__gemm_path_name(path), p->m, p->n, p->k,
                      p->transposed ? "B = W^T" : "B = W", beta, i, j, c[at], want);
        }
        for (int j = p->n; j < p->ldc; j++)
            cr_assert_eq(c[(size_t)i * p->ldc + j], SENTINEL,
                         "%s, m %d n %d k %d: padding C[%d][%d] was written",
                         el__gemm_path_name(path), p->m, p->n, p->k, i, j);
    }
    free(c);
}

/* Every path this CPU runs, beta 0 and 1, for one packed problem. */
static void check_all_paths(const problem *p, const el__packed *packed)
{
    for (int path = 0; path < EL__GEMM_PATHS; path++) {
        if (!el__gemm_path_supported(path)) continue;
        check_product(p, packed, path, 0.0f);
        check_product(p, packed, path, 1.0f);
    }
}

static void check_shapes(const int *ms, size_t m_count, const int *ns, size_t n_count,
                         const int *ks, size_t k_count)
{
    el__packed packed = {0};
    uint64_t seed = 1;
    for (size_t a = 0; a < m_count; a++)
        for (size_t b = 0; b < n_count; b++)
            for (size_t d = 0; d < k_count; d++)
                for (int transposed = 0; transposed < 2; transposed++) {
                    problem p = make_problem(ms[a], ns[b], ks[d], transposed, seed++);
                    EL_TEST_OK(pack_problem(&packed, &p));
                    check_all_paths(&p, &packed);
                    free_problem(&p);
                }
    el__packed_free(&packed);
}

#define COUNT(array) (sizeof(array) / sizeof(array)[0])

Test(packed_gemm, generic_path_is_always_there)
{
    cr_assert(el__gemm_path_supported(EL__GEMM_GENERIC));
    cr_assert_str_eq(el__gemm_path_name(EL__GEMM_GENERIC), "generic");
    cr_assert_str_eq(el__gemm_path_name(EL__GEMM_AVX512), "avx512");
    cr_log_info("paths on this CPU:%s%s%s", " generic",
                el__gemm_path_supported(EL__GEMM_AVX2) ? " avx2" : "",
                el__gemm_path_supported(EL__GEMM_AVX512) ? " avx512" : "");
}

Test(packed_gemm, matches_double_precision_at_edge_shapes, .timeout = 60)
{
    static const int ms[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 63, 64, 65, 128};
    static const int ns[] = {1, 15, 16, 17, 33, 384, 512};
    static const int ks[] = {0, 1, 7, 64, 128, 129};
    check_shapes(ms, COUNT(ms), ns, COUNT(ns), ks, COUNT(ks));
}

/* k past one block (1024 rows of a panel), with B over 1 MiB so that the
 * tiles fetch the next block ahead, and the last block of a panel shorter
 * than the first of the next. */
Test(packed_gemm, matches_double_precision_for_deep_k, .timeout = 60)
{
    static const int ms[] = {1, 7, 16};
    static const int ns[] = {130, 384};
    static const int ks[] = {1025, 2100};
    check_shapes(ms, COUNT(ms), ns, COUNT(ns), ks, COUNT(ks));
}

Test(packed_gemm, default_path_is_the_best_supported)
{
    int best = EL__GEMM_GENERIC;
    for (int path = 0; path < EL__GEMM_PATHS; path++)
        if (el__gemm_path_supported(path)) best = path;
    problem p = make_problem(13, 100, 70, 1, 7);
    el__packed packed = {0};
    EL_TEST_OK(pack_problem(&packed, &p));
    float *c = floats((size_t)p.m * p.ldc), *d = floats((size_t)p.m * p.ldc);
    memcpy(c, p.c0, (size_t)p.m * p.ldc * sizeof *c);
    memcpy(d, p.c0, (size_t)p.m * p.ldc * sizeof *d);
    el__gemm_packed(p.m, p.a, p.lda, &packed, 1.0f, c, p.ldc);
    el__gemm_packed_on(best, p.m, p.a, p.lda, &packed, 1.0f, d, p.ldc);
    cr_assert(memcmp(c, d, (size_t)p.m * p.ldc * sizeof *c) == 0,
              "el__gemm_packed differs from the %s path", el__gemm_path_name(best));
    free(c);
    free(d);
    el__packed_free(&packed);
    free_problem(&p);
}

/* C's rows [first, m) from A's rows packed in panels (el__packed_reserve,
 * then el__packed_set_rows a few rows at a time, as the recurrent layers'
 * backward steps pack dG), checked as check_product checks them. */
static void check_panels_product(const problem *p, const el__packed *b, int first,
                                 el__gemm_path path, float beta)
{
    el__packed a = {0};
    EL_TEST_OK(el__packed_reserve(&a, p->m, p->k));
    for (int row = 0; row < p->m; row += 3) {
        int rows = p->m - row < 3 ? p->m - row : 3;
        el__packed_set_rows(&a, row, rows, p->a + (size_t)row * p->lda, p->lda);
    }
    size_t size = (size_t)p->m * p->ldc;
    float *c = floats(size);
    for (size_t i = 0; i < size; i++)
        c[i] = beta == 0.0f && (int)(i % (size_t)p->ldc) < p->n ? NAN : p->c0[i];
    el__gemm_packed_panels_on(path, p->m - first, &a, first, b, beta, c + (size_t)first * p->ldc,
                              p->ldc);
    for (int i = first; i < p->m; i++)
        for (int j = 0; j < p->ldc; j++) {
            size_t at = (size_t)i * p->ldc + j;
            if (j >= p->n) {
                cr_assert_eq(c[at], SENTINEL, "padding C[%d][%d] was written", i, j);
                continue;
            }
            double c0 = beta == 0.0f ? 0.0 : p->c0[at];
            double want = p->want[(size_t)i * p->n + j] + c0;
            double allowed = 1e-5 * (p->magnitude[(size_t)i * p->n + j] + fabs(c0));
            cr_assert(fabs(c[at] - want) <= allowed,
                      "%s, A in panels, m %d n %d k %d from row %d, beta %g: C[%d][%d] is %.9g, "
                      "expected %.9g",
                      el__gemm_path_name(path), p->m, p->n, p->k, first, beta, i, j, c[at], want);
        }
    free(c);
    el__packed_free(&a);
}

/* Every path this CPU runs, for each of shapes (m, n, k), with B = W. */
typedef void path_check(const problem *p, const el__packed *b, el__gemm_path path);

static void check_on_every_path(const int (*shapes)[3], size_t count, uint64_t seed,
                                path_check *check)
{
    for (size_t i = 0; i < count; i++) {
        problem p = make_problem(shapes[i][0], shapes[i][1], shapes[i][2], 0, seed++);
        el__packed b = {0};
        EL_TEST_OK(pack_problem(&b, &p));
        for (int path = 0; path < EL__GEMM_PATHS; path++)
            if (el__gemm_path_supported(path)) check(&p, &b, path);
        el__packed_free(&b);
        free_problem(&p);
    }
}

/* A packed in panels, as the input gradient reads the gate gradients: k
 * within one panel, across several and not a multiple of their width, and
 * over a block's depth; the product of rows that begin past the first. */
static void check_panels_products(const problem *p, const el__packed *b, el__gemm_path path)
{
    for (int first = 0; first < p->m; first += 5) {
        check_panels_product(p, b, first, path, 0.0f);
        check_panels_product(p, b, first, path, 1.0f);
    }
}

Test(packed_gemm, a_packed_in_panels_matches_double_precision, .timeout = 60)
{
    static const int shapes[][3] = {{1, 1, 1},     {7, 16, 64},   {13, 33, 65},
                                    {20, 64, 200}, {6, 130, 512}, {9, 17, 1100}};
    check_on_every_path(shapes, COUNT(shapes), 40, check_panels_products);
}

/* el__gemm_packed_sums on path: C's rows [0, m) = A B + beta C, from A as it
 * lies or given transposed (k x m, stride m + 2, NaN in the gap: never
 * read), and row m = B's column sums + beta C.  Checked against double
 * precision, and bit for bit against el__gemm_packed on A with a row of
 * ones written out under it (the same sums in the same order), padding
 * included. */
static void check_sums_product(const problem *p, const el__packed *b, el__gemm_path path,
                               int a_transposed, float beta)
{
    int rows = p->m + 1, ldt = p->m + 2;
    float *at = floats((size_t)p->k * ldt), *a1 = floats((size_t)rows * p->lda);
    for (int q = 0; q < p->k; q++)
        for (int r = 0; r < ldt; r++)
            at[(size_t)q * ldt + r] = r < p->m ? p->a[(size_t)r * p->lda + q] : NAN;
    memcpy(a1, p->a, (size_t)p->m * p->lda * sizeof *a1);
    for (int q = 0; q < p->lda; q++) a1[(size_t)p->m * p->lda + q] = 1.0f;
    size_t size = (size_t)rows * p->ldc;
    float *c = floats(size), *d = floats(size);
    for (size_t i = 0; i < size; i++) {
        int col = (int)(i % (size_t)p->ldc);
        float c0 = i < (size_t)p->m * p->ldc ? p->c0[i] : 0.5f * (float)col;
        c[i] = col >= p->n ? SENTINEL : beta == 0.0f ? NAN : c0;
        d[i] = c[i];
    }
    const float *a = !p->m ? NULL : a_transposed ? at : p->a;
    el__gemm_packed_sums_on(path, p->m, a, a_transposed ? ldt : p->lda, a_transposed, b, beta, c,
                            p->ldc);
    el__gemm_packed_on(path, rows, a1, p->lda, b, beta, d, p->ldc);
    const char *how = a_transposed ? "A given transposed" : "A as it lies";
    cr_assert(memcmp(c, d, size * sizeof *c) == 0,
              "%s, %s, m %d n %d k %d, beta %g: differs from the product with the ones written out",
              el__gemm_path_name(path), how, p->m, p->n, p->k, beta);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < p->ldc; j++) {
            size_t at_ij = (size_t)i * p->ldc + j;
            if (j >= p->n) {
                cr_assert_eq(c[at_ij], SENTINEL, "padding C[%d][%d] was written", i, j);
                continue;
            }
            double c0 = beta == 0.0f ? 0.0 : i < p->m ? p->c0[at_ij] : 0.5 * j;
            double want = 0, magnitude = 0;
            if (i < p->m) {
                want = p->want[(size_t)i * p->n + j];
                magnitude = p->magnitude[(size_t)i * p->n + j];
            } else {
                for (int q = 0; q < p->k; q++) {
                    want += b_at(p, q, j);
                    magnitude += fabs(b_at(p, q, j));
                }
            }
            cr_assert(fabs(c[at_ij] - (want + c0)) <= 1e-5 * (magnitude + fabs(c0)),
                      "%s, %s, m %d n %d k %d, beta %g: C[%d][%d] is %.9g, expected %.9g",
                      el__gemm_path_name(path), how, p->m, p->n, p->k, beta, i, j, c[at_ij],
                      want + c0);
        }
    free(at);
    free(a1);
    free(c);
    free(d);
}

/* A with a row of ones under it, as the recurrent layers' weight gradients
 * take the biases' along: A as it lies and given transposed (as they read
 * a layer's input and states in place); m of 0 (only the ones) and around
 * the tile heights, so that the ones fall in a full tile, a partial one
 * and one of their own; k of 0 and past one block. */
static void check_sums_products(const problem *p, const el__packed *b, el__gemm_path path)
{
    for (int a_transposed = 0; a_transposed < 2; a_transposed++) {
        check_sums_product(p, b, path, a_transposed, 0.0f);
        check_sums_product(p, b, path, a_transposed, 1.0f);
    }
}

Test(packed_gemm, a_row_of_ones_under_a_given_either_way, .timeout = 60)
{
    static const int shapes[][3] = {{0, 17, 9},   {1, 64, 1},     {5, 33, 70},
                                    {6, 65, 64},  {7, 130, 40},   {11, 16, 0},
                                    {12, 384, 3}, {23, 20, 1030}, {64, 128, 2048}};
    check_on_every_path(shapes, COUNT(shapes), 60, check_sums_products);
}

/* el__packed_columns: a product with a panel-aligned slice of B's columns
 * equals those columns of the whole product, bit for bit. */
Test(packed_gemm, column_slices_of_a_packed_operand)
{
    problem p = make_problem(11, 200, 37, 1, 50);
    el__packed b = {0};
    EL_TEST_OK(pack_problem(&b, &p));
    float *whole = floats((size_t)p.m * p.ldc), *part = floats((size_t)p.m * p.ldc);
    el__gemm_packed(p.m, p.a, p.lda, &b, 0.0f, whole, p.ldc);
    for (int first = 0; first < p.n; first += EL__PANEL)
        for (int end = first + 1; end <= p.n; end += 37) {
            el__packed slice = el__packed_columns(&b, first, end);
            cr_assert_eq(slice.n, end - first);
            cr_assert_eq(slice.k, p.k);
            for (size_t i = 0; i < (size_t)p.m * p.ldc; i++) part[i] = SENTINEL;
            el__gemm_packed(p.m, p.a, p.lda, &slice, 0.0f, part + first, p.ldc);
            for (int i = 0; i < p.m; i++)
                for (int j = 0; j < p.n; j++) {
                    size_t at = (size_t)i * p.ldc + j;
                    if (j < first || j >= end)
                        cr_assert_eq(part[at], SENTINEL, "columns [%d, %d): C[%d][%d] written",
                                     first, end, i, j);
                    else
                        cr_assert_eq(part[at], whole[at], "columns [%d, %d): C[%d][%d]", first, end,
                                     i, j);
                }
        }
    free(whole);
    free(part);
    el__packed_free(&b);
    free_problem(&p);
}

Test(packed_gemm, packed_layout_is_column_panels_padded_with_zeros)
{
    for (int transposed = 0; transposed < 2; transposed++) {
        int n = 70, k = 21;
        problem p = make_problem(1, n, k, transposed, 3);
        el__packed packed = {0};
        EL_TEST_OK(pack_problem(&packed, &p));
        cr_assert_eq(packed.n, n);
        cr_assert_eq(packed.k, k);
        cr_assert_eq((uintptr_t)packed.data % 64, 0);
        cr_assert_geq(packed.capacity, (size_t)2 * EL__PANEL * k);
        for (int panel = 0; panel < 2; panel++)
            for (int row = 0; row < k; row++)
                for (int j = 0; j < EL__PANEL; j++) {
                    int col = panel * EL__PANEL + j;
                    float want = col < n ? b_at(&p, row, col) : 0.0f;
                    cr_assert_eq(packed.data[((size_t)panel * k + row) * EL__PANEL + j], want,
                                 "transposed %d: panel %d row %d column %d", transposed, panel, row,
                                 j);
                }
        el__packed_free(&packed);
        free_problem(&p);
    }
}

/* The recurrent layers pack their weights by panels on several threads at
 * once: packing panel ranges in any order, after el__packed_reserve, gives
 * what el__pack gives, and a range writes only its own panels. */
Test(packed_gemm, packing_by_panels_matches_packing_at_once)
{
    for (int transposed = 0; transposed < 2; transposed++) {
        problem p = make_problem(1, 200, 21, transposed, 31); /* 4 panels, the last partial */
        el__packed whole = {0}, parts = {0};
        EL_TEST_OK(pack_problem(&whole, &p));
        EL_TEST_OK(el__packed_reserve(&parts, p.k, p.n));
        cr_assert_eq(el__packed_panels(&parts), 4);
        size_t floats = (size_t)4 * EL__PANEL * p.k;
        for (size_t i = 0; i < floats; i++) parts.data[i] = SENTINEL;
        const float *w = p.w;
        el__pack_panels(&parts, w, transposed, 3, 4);
        el__pack_panels(&parts, w, transposed, 1, 1); /* empty */
        for (size_t i = 0; i < (size_t)3 * EL__PANEL * p.k; i++)
            cr_assert_eq(parts.data[i], SENTINEL, "transposed %d: float %zu written", transposed,
                         i);
        el__pack_panels(&parts, w, transposed, 1, 3);
        el__pack_panels(&parts, w, transposed, 0, 1);
        cr_assert_eq(memcmp(parts.data, whole.data, floats * sizeof(float)), 0, "transposed %d",
                     transposed);
        el__packed_free(&whole);
        el__packed_free(&parts);
        free_problem(&p);
    }
}

Test(packed_gemm, repacking_reuses_memory_and_grows)
{
    el__packed packed = {0};
    problem big = make_problem(5, 200, 50, 1, 11);
    EL_TEST_OK(pack_problem(&packed, &big));
    check_all_paths(&big, &packed);
    float *data = packed.data;
    size_t capacity = packed.capacity;

    /* A smaller shape fits: no allocation, so it succeeds with none allowed. */
    problem small = make_problem(3, 20, 10, 0, 12);
    el__fail_allocations_after(0);
    el_status status = pack_problem(&packed, &small);
    el__fail_allocations_after(-1);
    EL_TEST_OK(status);
    cr_assert_eq(packed.data, data);
    cr_assert_eq(packed.capacity, capacity);
    check_all_paths(&small, &packed);

    problem larger = make_problem(4, 300, 80, 1, 13);
    EL_TEST_OK(pack_problem(&packed, &larger));
    cr_assert_geq(packed.capacity, (size_t)5 * EL__PANEL * 80);
    check_all_paths(&larger, &packed);

    el__packed_free(&packed);
    cr_assert_null(packed.data);
    cr_assert_eq(packed.capacity, 0);
    cr_assert_eq(packed.n, 0);
    free_problem(&big);
    free_problem(&small);
    free_problem(&larger);
}

Test(packed_gemm, out_of_memory_leaves_the_packed_operand_as_it_was)
{
    el__packed packed = {0};
    problem small = make_problem(2, 10, 4, 1, 21), big = make_problem(2, 100, 40, 0, 22);

    el__fail_allocations_after(0);
    el_status status = pack_problem(&packed, &small);
    el__fail_allocations_after(-1);
    cr_assert_eq(status, EL_ERR_NOMEM);
    cr_assert(strstr(el_last_error(), "el__pack") != NULL, "message: %s", el_last_error());
    cr_assert_null(packed.data);
    cr_assert_eq(packed.n, 0);
    cr_assert_eq(packed.k, 0);

    EL_TEST_OK(pack_problem(&packed, &small));
    el__fail_allocations_after(0);
    status = pack_problem(&packed, &big);
    el__fail_allocations_after(-1);
    cr_assert_eq(status, EL_ERR_NOMEM);
    cr_assert_eq(packed.n, 10);
    cr_assert_eq(packed.k, 4);
    check_all_paths(&small, &packed);

    el__packed_free(&packed);
    el__packed_free(&packed); /* freeing an empty one is harmless */
    free_problem(&small);
    free_problem(&big);
}
