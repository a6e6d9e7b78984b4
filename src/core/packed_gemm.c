/* C = A B + beta C with B packed in column panels (packed_gemm.h).
 *
 * C is computed in tiles of a few rows by up to a panel's width of columns,
 * each tile's sums held in vector registers for the whole loop over k: per
 * step of k it loads one row of the panel, broadcasts each of its rows' A
 * element and does a multiply-add per register (fused, on AVX2 and
 * AVX-512).  So the panel is read once per tile, in order, and C once at
 * the end.
 *
 * The panels are cut into blocks of up to DEPTH rows, and every row tile of
 * A passes over one block before the next, so a block (256 KiB) is read
 * from memory once and then from L2.  When B is too big to stay in L2
 * between calls, the tiles also fetch the next block into L2 while they
 * compute, so that memory's latency is hidden behind the arithmetic.
 *
 * The AVX-512 and AVX2 tiles are written with intrinsics: GCC 12's
 * vectoriser, given the same loops over plain float arrays, kept some of
 * the sums on the stack or split a row of the tile into odd vector widths,
 * at twice the instructions per step; and GCC's generic vector types, which
 * the plain C tile uses, cannot ask for a fused multiply-add (ISO C mode
 * implies -ffp-contract=off).  Each is compiled with a target attribute and
 * chosen at run time by __builtin_cpu_supports, so the library itself still
 * builds for the baseline x86-64. */
#include "core/packed_gemm.h"

#include <stdint.h>
#include <string.h>

#include "core/internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define EL_GEMM_X86 1
#include <immintrin.h>
#endif

/* How a tile finds its rows of A.  The recurrent layers' weight gradients
 * multiply Xᵀ, a layer's input (or states) transposed, by the packed gate
 * gradients; reading Xᵀ's element (r, p) at x[p * lda + r] spares copying
 * X transposed first.  And the biases' gradients are the gate gradients'
 * column sums, the product with a row of ones under A, which the last tile
 * adds without reading it. */
enum a_layout {
    A_ROWS = 0,    /* A's element (r, p) at a[r * lda + p] */
    A_COLUMNS = 1, /* at a[p * lda + r]: A given transposed */
    A_ONES = 2,    /* a flag on either: the tile's last row is all ones */
    A_ROWS_ONES = A_ROWS | A_ONES,
    A_COLUMNS_ONES = A_COLUMNS | A_ONES
};

static int has_ones(enum a_layout layout) { return (layout & A_ONES) != 0; }
static int reads_columns(enum a_layout layout) { return (layout & A_COLUMNS) != 0; }

/* One tile: rows x cols of C (at most the path's tile), from k columns of
 * A and k rows of a column slice of a panel, EL__PANEL floats apart.
 * Meanwhile it asks for cache lines [fetch_first, fetch_end) of the next
 * block, fetch_step of them per step of k, so that they come from L3 while
 * it computes rather than while the next tiles wait for them. */
typedef struct tile_args {
    int rows, cols, k, lda, ldc;
    enum a_layout layout;
    float beta;
    const float *a, *b;
    float *c;
    const float *next;
    int fetch_first, fetch_end, fetch_step;
} tile_args;

typedef void tile_fn(const tile_args *t);

typedef struct gemm_path {
    const char *name;
    tile_fn *tile;
    int rows, cols; /* the largest tile */
} gemm_path;

/* A cache line of floats. */
#define LINE 16

/* After step p of k: the step's lines of the next block, into L2. */
static inline __attribute__((always_inline)) void fetch_ahead(const tile_args *t, int p)
{
    for (int l = 0; l < t->fetch_step; l++) {
        int line = t->fetch_first + p * t->fetch_step + l;
        if (line < t->fetch_end) __builtin_prefetch(t->next + (size_t)line * LINE, 0, 2);
    }
}

static int min_int(int a, int b) { return a < b ? a : b; }

/* Row r's element of A at step p, in a tile of R rows laid out as layout
 * (both constants where the tiles call it, so this folds to one load). */
static inline __attribute__((always_inline)) float a_at(const int layout, const int R, int r,
                                                        const float *a, size_t lda, int p)
{
    if (has_ones(layout) && r == R - 1) return 1.0f;
    return reads_columns(layout) ? a[p * lda + r] : a[r * lda + p];
}

/* ---- plain C, for any CPU ------------------------------------------------ */

/* GCC's and Clang's generic vectors, which become SSE on baseline x86-64 and
 * NEON on Arm.  The sums are not fused here: without FMA instructions
 * (baseline x86-64), fmaf is a slow library call. */
typedef float vec4 __attribute__((vector_size(16)));

/* 4 rows x 8 columns: 8 of SSE's 16 registers hold the sums. */
#define GENERIC_ROWS 4
#define GENERIC_VECS 2 /* 4-float vectors per row of the tile */

static inline vec4 load4(const float *p)
{
    vec4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* R is a constant at every call, so the loops over it unroll and acc lives
 * in registers. */
static inline __attribute__((always_inline)) void tile_generic_rows(const int R, const int layout,
                                                                    const tile_args *t)
{
    const float *a = t->a;
    size_t lda = (size_t)t->lda;
    vec4 acc[GENERIC_ROWS][GENERIC_VECS];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < GENERIC_VECS; v++) acc[r][v] = (vec4){0};
    for (int p = 0; p < t->k; p++) {
        vec4 bv[GENERIC_VECS];
        for (int v = 0; v < GENERIC_VECS; v++) bv[v] = load4(t->b + (size_t)p * EL__PANEL + 4 * v);
        for (int r = 0; r < R; r++)
            for (int v = 0; v < GENERIC_VECS; v++)
                acc[r][v] += a_at(layout, R, r, a, lda, p) * bv[v];
        fetch_ahead(t, p);
    }
    for (int r = 0; r < R; r++) {
        float sum[4 * GENERIC_VECS], *c = t->c + (size_t)r * t->ldc;
        for (int v = 0; v < GENERIC_VECS; v++) {
            vec4 x = acc[r][v];
            memcpy(sum + 4 * v, &x, sizeof x);
        }
        for (int j = 0; j < t->cols; j++) c[j] = t->beta == 0.0f ? sum[j] : sum[j] + t->beta * c[j];
    }
}

static inline __attribute__((always_inline)) void tile_generic_layout(const int layout,
                                                                      const tile_args *t)
{
    switch (t->rows) {
    case 1: tile_generic_rows(1, layout, t); break;
    case 2: tile_generic_rows(2, layout, t); break;
    case 3: tile_generic_rows(3, layout, t); break;
    default: tile_generic_rows(GENERIC_ROWS, layout, t); break;
    }
}

static void tile_generic(const tile_args *t)
{
    switch (t->layout) {
    case A_ROWS: tile_generic_layout(A_ROWS, t); break;
    case A_COLUMNS: tile_generic_layout(A_COLUMNS, t); break;
    case A_ROWS_ONES: tile_generic_layout(A_ROWS_ONES, t); break;
    case A_COLUMNS_ONES: tile_generic_layout(A_COLUMNS_ONES, t); break;
    }
}

/* ---- AVX-512 ------------------------------------------------------------- */

#ifdef EL_GEMM_X86

/* 6 rows x 64 columns: 24 of the 32 zmm registers hold the sums, 4 the
 * panel's row and 1 the broadcast element of A.  (12 x 32 holds as many
 * sums, but its 12 rows of A share one L1 set when lda is a multiple of
 * 1024 floats, as hidden sizes are, and it was slower.) */
#define AVX512_ROWS 6
#define AVX512_VECS 4 /* 16-float vectors per row of the tile */

/* Row r of the tile: C = sum + beta C, in the columns within t->cols. */
__attribute__((target("avx512f"), always_inline)) static inline void
store_avx512(const tile_args *t, int r, const __m512 *sum)
{
    for (int v = 0; v < AVX512_VECS; v++) {
        float *c = t->c + (size_t)r * t->ldc + 16 * v;
        int left = t->cols - 16 * v;
        __mmask16 lanes = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
        __m512 x = sum[v];
        if (t->beta != 0.0f)
            x = _mm512_fmadd_ps(_mm512_set1_ps(t->beta), _mm512_maskz_loadu_ps(lanes, c), x);
        _mm512_mask_storeu_ps(c, lanes, x);
    }
}

/* R is a constant at every call, so the loops over it unroll and acc lives
 * in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
tile_avx512_rows(const int R, const int layout, const tile_args *t)
{
    const float *a = t->a;
    size_t lda = (size_t)t->lda;
    __m512 acc[AVX512_ROWS][AVX512_VECS];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < AVX512_VECS; v++) acc[r][v] = _mm512_setzero_ps();
    for (int p = 0; p < t->k; p++) {
        const float *bp = t->b + (size_t)p * EL__PANEL;
        __m512 bv[AVX512_VECS];
        for (int v = 0; v < AVX512_VECS; v++) bv[v] = _mm512_loadu_ps(bp + 16 * v);
        for (int r = 0; r < R; r++) {
            __m512 av = _mm512_set1_ps(a_at(layout, R, r, a, lda, p));
            for (int v = 0; v < AVX512_VECS; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
        fetch_ahead(t, p);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) store_avx512(t, r, acc[r]);
}

__attribute__((target("avx512f"), always_inline)) static inline void
tile_avx512_layout(const int layout, const tile_args *t)
{
    switch (t->rows) {
    case 1: tile_avx512_rows(1, layout, t); break;
    case 2: tile_avx512_rows(2, layout, t); break;
    case 3: tile_avx512_rows(3, layout, t); break;
    case 4: tile_avx512_rows(4, layout, t); break;
    case 5: tile_avx512_rows(5, layout, t); break;
    default: tile_avx512_rows(AVX512_ROWS, layout, t); break;
    }
}

__attribute__((target("avx512f"))) static void tile_avx512(const tile_args *t)
{
    switch (t->layout) {
    case A_ROWS: tile_avx512_layout(A_ROWS, t); break;
    case A_COLUMNS: tile_avx512_layout(A_COLUMNS, t); break;
    case A_ROWS_ONES: tile_avx512_layout(A_ROWS_ONES, t); break;
    case A_COLUMNS_ONES: tile_avx512_layout(A_COLUMNS_ONES, t); break;
    }
}

/* ---- AVX2 ---------------------------------------------------------------- */

/* 6 rows x 16 columns: 12 of the 16 ymm registers hold the sums, 2 the
 * panel's row and 1 the broadcast element of A. */
#define AVX2_ROWS 6
#define AVX2_VECS 2 /* 8-float vectors per row of the tile */

/* Row r of the tile: C = sum + beta C, in the columns within t->cols
 * (maskload and maskstore take the lanes' sign bits). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
store_avx2(const tile_args *t, int r, const __m256 *sum)
{
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int v = 0; v < AVX2_VECS; v++) {
        float *c = t->c + (size_t)r * t->ldc + 8 * v;
        __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(t->cols - 8 * v), lane);
        __m256 x = sum[v];
        if (t->beta != 0.0f)
            x = _mm256_fmadd_ps(_mm256_set1_ps(t->beta), _mm256_maskload_ps(c, lanes), x);
        _mm256_maskstore_ps(c, lanes, x);
    }
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
tile_avx2_rows(const int R, const int layout, const tile_args *t)
{
    const float *a = t->a;
    size_t lda = (size_t)t->lda;
    __m256 acc[AVX2_ROWS][AVX2_VECS];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < AVX2_VECS; v++) acc[r][v] = _mm256_setzero_ps();
    for (int p = 0; p < t->k; p++) {
        const float *bp = t->b + (size_t)p * EL__PANEL;
        __m256 bv[AVX2_VECS];
        for (int v = 0; v < AVX2_VECS; v++) bv[v] = _mm256_loadu_ps(bp + 8 * v);
        for (int r = 0; r < R; r++) {
            __m256 av = _mm256_set1_ps(a_at(layout, R, r, a, lda, p));
            for (int v = 0; v < AVX2_VECS; v++) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
        fetch_ahead(t, p);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) store_avx2(t, r, acc[r]);
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
tile_avx2_layout(const int layout, const tile_args *t)
{
    switch (t->rows) {
    case 1: tile_avx2_rows(1, layout, t); break;
    case 2: tile_avx2_rows(2, layout, t); break;
    case 3: tile_avx2_rows(3, layout, t); break;
    case 4: tile_avx2_rows(4, layout, t); break;
    case 5: tile_avx2_rows(5, layout, t); break;
    default: tile_avx2_rows(AVX2_ROWS, layout, t); break;
    }
}

__attribute__((target("avx2,fma"))) static void tile_avx2(const tile_args *t)
{
    switch (t->layout) {
    case A_ROWS: tile_avx2_layout(A_ROWS, t); break;
    case A_COLUMNS: tile_avx2_layout(A_COLUMNS, t); break;
    case A_ROWS_ONES: tile_avx2_layout(A_ROWS_ONES, t); break;
    case A_COLUMNS_ONES: tile_avx2_layout(A_COLUMNS_ONES, t); break;
    }
}

#endif /* EL_GEMM_X86 */

/* ---- choosing a path ----------------------------------------------------- */

static const gemm_path paths[EL__GEMM_PATHS] = {
    [EL__GEMM_GENERIC] = {"generic", tile_generic, GENERIC_ROWS, 4 * GENERIC_VECS},
#ifdef EL_GEMM_X86
    [EL__GEMM_AVX2] = {"avx2", tile_avx2, AVX2_ROWS, 8 * AVX2_VECS},
    [EL__GEMM_AVX512] = {"avx512", tile_avx512, AVX512_ROWS, 16 * AVX512_VECS},
#else
    [EL__GEMM_AVX2] = {"avx2", NULL, 0, 0},
    [EL__GEMM_AVX512] = {"avx512", NULL, 0, 0},
#endif
};

int el__gemm_path_supported(el__gemm_path path)
{
#ifdef EL_GEMM_X86
    /* libgcc's checks include the OS's support for the wider registers. */
    switch (path) {
    case EL__GEMM_GENERIC: return 1;
    case EL__GEMM_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case EL__GEMM_AVX512: return __builtin_cpu_supports("avx512f");
    case EL__GEMM_PATHS: break;
    }
    return 0;
#else
    return path == EL__GEMM_GENERIC;
#endif
}

const char *el__gemm_path_name(el__gemm_path path)
{
    return (int)path >= 0 && path < EL__GEMM_PATHS ? paths[path].name : "unknown";
}

/* The CPU check is a load and a bit test, cheaper than keeping the choice in
 * a global that threads would have to agree on. */
static el__gemm_path best_path(void)
{
    el__gemm_path path = EL__GEMM_PATHS - 1;
    while (path > EL__GEMM_GENERIC && !el__gemm_path_supported(path)) path--;
    return path;
}

/* ---- the product --------------------------------------------------------- */

/* C = beta C, for k = 0; beta = 0 overwrites whatever C held. */
static void scale_rows(int m, int n, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        for (int j = 0; j < n; j++) ci[j] = beta == 0.0f ? 0.0f : beta * ci[j];
    }
}

/* Half of the L2 of the CPUs this was tuned on (2 MiB per core), leaving
 * room for A and C. */
#define FETCH_AHEAD_BYTES ((size_t)1 << 20)

/* Rows of a panel multiplied as one block, 256 KiB, so that a block and
 * the next one, fetched meanwhile, fit in L2 together. */
#define DEPTH 1024

/* One block: C += (or beta C +) A's columns [p, p + depth) times rows
 * [p, p + depth) of a panel, tile by tile, each tile asking for its share
 * of the next block's `lines` lines.  A single tile streams the block once,
 * as fast as memory allows, and fetching ahead only slowed it. */
static void multiply_block(const gemm_path *path, int m, const float *a, int lda,
                           enum a_layout layout, const float *block, int depth, int lines,
                           int panel_cols, float beta, float *c, int ldc)
{
    size_t tiles = (size_t)((m + path->rows - 1) / path->rows) *
                   (size_t)((panel_cols + path->cols - 1) / path->cols);
    if (tiles == 1) lines = 0;
    /* Enough lines per step of k that the tiles cover all. */
    size_t steps = tiles * (size_t)depth;
    int step = (int)(((size_t)lines + steps - 1) / steps);
    tile_args t = {.k = depth,
                   .lda = lda,
                   .ldc = ldc,
                   .beta = beta,
                   .next = block + (size_t)depth * EL__PANEL,
                   .fetch_step = step};
    int fetched = 0;
    for (int j = 0; j < panel_cols; j += path->cols) {
        t.cols = min_int(path->cols, panel_cols - j);
        t.b = block + j;
        for (int i = 0; i < m; i += path->rows) {
            t.rows = min_int(path->rows, m - i);
            /* Only the last tile holds the row of ones. */
            t.layout = i + t.rows < m ? layout & ~A_ONES : layout;
            t.a = !a ? a : reads_columns(layout) ? a + i : a + (size_t)i * lda;
            t.c = c + (size_t)i * ldc + j;
            t.fetch_first = fetched;
            t.fetch_end = fetched = min_int(lines, fetched + step * depth);
            path->tile(&t);
        }
    }
}

/* C = A B + beta C, A laid out as layout says (with A_ONES, C's last row of
 * m is the ones') or, where a_panel_stride is not 0, in panels of EL__PANEL
 * columns that far apart, each row-major with row stride lda.  Then the
 * blocks of B are as deep as A's panels are wide. */
static void gemm_packed(el__gemm_path which, int m, const float *a, int lda, size_t a_panel_stride,
                        enum a_layout layout, const el__packed *b, float beta, float *c, int ldc)
{
    int n = b->n, k = b->k, block_depth = a_panel_stride ? EL__PANEL : DEPTH;
    if (m <= 0 || n <= 0) return;
    if (k == 0) {
        scale_rows(m, n, beta, c, ldc);
        return;
    }
    /* A packed B that fits in L2 is there from the last call, and fetching
     * it ahead only takes load slots. */
    int fetch = (size_t)n * k * sizeof(float) > FETCH_AHEAD_BYTES;
    /* The blocks lie one after another in b->data: panel by panel, and
     * within a panel by rows. */
    for (int col = 0; col < n; col += EL__PANEL)
        for (int p = 0; p < k; p += block_depth) {
            int depth = min_int(block_depth, k - p);
            int next = p + depth < k         ? min_int(block_depth, k - p - depth)
                       : col + EL__PANEL < n ? min_int(block_depth, k)
                                             : 0;
            const float *block = b->data + (size_t)col * k + (size_t)p * EL__PANEL;
            const float *a_block = !a                      ? a
                                   : a_panel_stride        ? a + p / EL__PANEL * a_panel_stride
                                   : reads_columns(layout) ? a + (size_t)p * lda
                                                           : a + p;
            multiply_block(&paths[which], m, a_block, lda, layout, block, depth,
                           fetch ? next * (EL__PANEL / LINE) : 0, min_int(EL__PANEL, n - col),
                           p == 0 ? beta : 1.0f, c + col, ldc);
        }
}

void el__gemm_packed_on(el__gemm_path which, int m, const float *a, int lda, const el__packed *b,
                        float beta, float *c, int ldc)
{
    gemm_packed(which, m, a, lda, 0, A_ROWS, b, beta, c, ldc);
}

void el__gemm_packed(int m, const float *a, int lda, const el__packed *b, float beta, float *c,
                     int ldc)
{
    gemm_packed(best_path(), m, a, lda, 0, A_ROWS, b, beta, c, ldc);
}

void el__gemm_packed_panels_on(el__gemm_path which, int m, const el__packed *a, int first_row,
                               const el__packed *b, float beta, float *c, int ldc)
{
    gemm_packed(which, m, a->data + (size_t)first_row * EL__PANEL, EL__PANEL,
                (size_t)EL__PANEL * a->k, A_ROWS, b, beta, c, ldc);
}

void el__gemm_packed_sums_on(el__gemm_path which, int m, const float *a, int lda, int a_transposed,
                             const el__packed *b, float beta, float *c, int ldc)
{
    gemm_packed(which, m + 1, a, lda, 0, a_transposed ? A_COLUMNS_ONES : A_ROWS_ONES, b, beta, c,
                ldc);
}

void el__gemm_packed_sums(int m, const float *a, int lda, int a_transposed, const el__packed *b,
                          float beta, float *c, int ldc)
{
    el__gemm_packed_sums_on(best_path(), m, a, lda, a_transposed, b, beta, c, ldc);
}

void el__gemm_packed_panels(int m, const el__packed *a, int first_row, const el__packed *b,
                            float beta, float *c, int ldc)
{
    el__gemm_packed_panels_on(best_path(), m, a, first_row, b, beta, c, ldc);
}

/* ---- packing ------------------------------------------------------------- */

/* Rows [first, first + rows) of B, columns [c0, c1), from src (row stride
 * lds, its first row B's row first).  Row p of B is row p of every panel:
 * going down src's rows reads it in order and writes (c1 - c0) / 64
 * streams. */
static void copy_rows(el__packed *b, int first, int rows, const float *src, int lds, int c0, int c1)
{
    int k = b->k;
    for (int p = first; p < first + rows; p++) {
        const float *from = src + (size_t)(p - first) * lds;
        for (int col = c0; col < c1; col += EL__PANEL) {
            float *row = b->data + (size_t)col * k + (size_t)p * EL__PANEL;
            int cols = min_int(EL__PANEL, c1 - col);
            memcpy(row, from + col, (size_t)cols * sizeof(float));
            memset(row + cols, 0, (size_t)(EL__PANEL - cols) * sizeof(float));
        }
    }
}

void el__packed_set_rows(el__packed *b, int first, int rows, const float *src, int lds)
{
    copy_rows(b, first, rows, src, lds, 0, b->n);
}

/* Copies rows x depth floats of w (rows k apart) to depth x rows of a
 * panel, transposed.  On x86-64, 4 x 4 squares go through SSE registers (a
 * baseline instruction set), four times fewer loads and stores than one
 * float at a time. */
static void transpose_block(float *dst, const float *src, int k, int rows, int depth)
{
    int q = 0;
#ifdef EL_GEMM_X86
    for (; rows == 4 && q + 4 <= depth; q += 4) {
        const float *s = src + q;
        __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + k);
        __m128 r2 = _mm_loadu_ps(s + 2 * (size_t)k), r3 = _mm_loadu_ps(s + 3 * (size_t)k);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        float *d = dst + (size_t)q * EL__PANEL;
        _mm_storeu_ps(d, r0);
        _mm_storeu_ps(d + EL__PANEL, r1);
        _mm_storeu_ps(d + 2 * EL__PANEL, r2);
        _mm_storeu_ps(d + 3 * EL__PANEL, r3);
    }
#endif
    for (; q < depth; q++)
        for (int j = 0; j < rows; j++) dst[(size_t)q * EL__PANEL + j] = src[(size_t)j * k + q];
}

/* Columns [first, end) of B = wᵀ, a row-major (n x k) w: row j of w is
 * column j of B.  A block of LINE steps of k at a time takes a whole cache
 * line from each of the panel's rows of w and fills LINE rows of the panel
 * (4 KiB, in L1). */
static void pack_rows(float *data, const float *w, int n, int k, int first, int end)
{
    for (int col = first; col < end; col += EL__PANEL) {
        float *panel = data + (size_t)col * k;
        int cols = min_int(EL__PANEL, n - col);
        for (int p = 0; p < k; p += LINE) {
            int depth = min_int(LINE, k - p);
            for (int j = 0; j < cols; j += 4)
                transpose_block(panel + (size_t)p * EL__PANEL + j, w + (size_t)(col + j) * k + p, k,
                                min_int(4, cols - j), depth);
            for (int q = p; q < p + depth; q++)
                memset(panel + (size_t)q * EL__PANEL + cols, 0,
                       (size_t)(EL__PANEL - cols) * sizeof(float));
        }
    }
}

el_status el__packed_reserve(el__packed *p, int k, int n)
{
    size_t panels = ((size_t)n + EL__PANEL - 1) / EL__PANEL;
    if (k != 0 && panels > SIZE_MAX / sizeof(float) / EL__PANEL / (size_t)k)
        return el__fail(EL_ERR_NOMEM, "el__packed_reserve: %d x %d floats overflow a size", n, k);
    size_t need = panels * EL__PANEL * (size_t)k;
    if (need > p->capacity) {
        /* Zeroed, which touches its pages in address order.  The kernel
         * gives a page its memory at the first write, and
         * el__packed_set_rows writes a row of every panel at a time, so
         * left to it a panel's pages were every n/64th page given out,
         * most likely in a few sets of L2 only, and products with the
         * packed matrix ran slower than with one whose pages were given
         * in order.  (Huge pages, through madvise, gained nothing
         * more.) */
        float *data = el__alloc_zero(need, sizeof(float));
        if (!data)
            return el__fail(EL_ERR_NOMEM, "el__packed_reserve: out of memory for %d x %d", n, k);
        el__free(p->data);
        p->data = data;
        p->capacity = need;
    }
    p->n = n;
    p->k = k;
    return EL_OK;
}

void el__pack_panels(el__packed *p, const float *w, int transposed, int first, int end)
{
    int n = p->n, c0 = min_int(first * EL__PANEL, n), c1 = min_int(end * EL__PANEL, n);
    if (c0 >= c1 || p->k == 0) return;
    if (transposed)
        pack_rows(p->data, w, n, p->k, c0, c1);
    else
        copy_rows(p, 0, p->k, w, n, c0, c1);
}

el_status el__pack(el__packed *p, const float *w, int rows, int cols, int transposed)
{
    int n = transposed ? rows : cols, k = transposed ? cols : rows;
    el_status s = el__packed_reserve(p, k, n);
    if (!s) el__pack_panels(p, w, transposed, 0, el__packed_panels(p));
    return s;
}

el__packed el__packed_columns(const el__packed *b, int first, int end)
{
    return (el__packed){.data = b->data + (size_t)first * b->k, .n = end - first, .k = b->k};
}

void el__packed_free(el__packed *p)
{
    el__free(p->data);
    *p = (el__packed){0};
}
