/* Times el__gemm_packed against cblas_sgemm (one thread) at the shapes of a
 * recurrent layer's per-step products, on the same data:
 *
 *   forward   gh (m x G) = h (m x H) W_hhᵀ,  W_hh (G x H):  n = G, k = H
 *   backward  dh (m x H) += dG (m x G) W_hh:                n = H, k = G
 *
 * with G = gates x H.  The weight is packed once, outside the timing, as the
 * layer would pack it once per pass.
 *
 *   packed-gemm [PATH] [M ...]
 *
 * PATH (generic, avx2, avx512) forces a code path, by default the one
 * el__gemm_packed picks; the Ms replace the default batch sizes 1 16 64 128.
 * Prints one line per shape: GFLOP/s of both, their ratio, the largest
 * difference between their results, and the time el__pack takes in calls
 * of el__gemm_packed.  Each rate is the best of a few rounds, the two taken
 * in turn; the machine's load makes them noisy, so compare two runs before
 * trusting a small difference. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/packed_gemm.h"

#define ROUNDS 5
#define ROUND_SECONDS 0.015

typedef struct shape {
    const char *pass; /* "fwd": B = Wᵀ, beta 0; "bwd": B = W, beta 1 */
    int n, k;
} shape;

static const shape shapes[] = {
    {"fwd", 128, 128},   {"fwd", 384, 128},   {"fwd", 512, 128},   {"fwd", 768, 256},
    {"fwd", 1024, 256},  {"fwd", 1536, 512},  {"fwd", 2048, 512},  {"fwd", 1024, 1024},
    {"fwd", 3072, 1024}, {"fwd", 4096, 1024}, {"bwd", 128, 128},   {"bwd", 128, 384},
    {"bwd", 128, 512},   {"bwd", 256, 768},   {"bwd", 256, 1024},  {"bwd", 512, 1536},
    {"bwd", 512, 2048},  {"bwd", 1024, 1024}, {"bwd", 1024, 3072}, {"bwd", 1024, 4096},
};

static const int batches[] = {1, 16, 64, 128};

typedef struct problem {
    int m, n, k, transposed;
    float beta;
    const float *a, *w;
    const el__packed *packed;
    el__gemm_path path;
    float *c;
} problem;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void run_packed(const problem *p)
{
    el__gemm_packed_on(p->path, p->m, p->a, p->k, p->packed, p->beta, p->c, p->n);
}

static void run_blas(const problem *p)
{
    /* fwd: w is (n x k), B = wᵀ; bwd: w is (k x n), B = w. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, p->transposed ? CblasTrans : CblasNoTrans, p->m, p->n,
                p->k, 1.0f, p->a, p->k, p->w, p->transposed ? p->k : p->n, p->beta, p->c, p->n);
}

/* The best rates of both over ROUNDS rounds of ROUND_SECONDS of calls,
 * alternating, so that a burst of load on the machine hits both alike. */
static void rates(const problem *p, double *packed, double *blas)
{
    double flop = 2.0 * p->m * p->n * p->k;
    void (*runs[2])(const problem *) = {run_packed, run_blas};
    double *best[2] = {packed, blas};
    *packed = *blas = 0;
    for (int round = 0; round < ROUNDS; round++)
        for (int which = 0; which < 2; which++) {
            long calls = 0;
            runs[which](p); /* warm the caches */
            double t0 = now(), t;
            do {
                runs[which](p);
                calls++;
            } while ((t = now() - t0) < ROUND_SECONDS);
            double rate = flop * (double)calls / t * 1e-9;
            if (rate > *best[which]) *best[which] = rate;
        }
}

static float *random_floats(size_t count)
{
    float *x = malloc(count * sizeof *x);
    if (!x) {
        fprintf(stderr, "packed-gemm: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < count; i++) x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return x;
}

/* One row of the table: both products from the same C, their rates and
 * how far apart a single call of each leaves C. */
static void compare(el__gemm_path path, int m, const shape *s)
{
    int transposed = strcmp(s->pass, "fwd") == 0;
    size_t cn = (size_t)m * s->n;
    float *a = random_floats((size_t)m * s->k), *w = random_floats((size_t)s->n * s->k);
    float *c0 = random_floats(cn), *c1 = malloc(cn * sizeof *c1);
    int rows = transposed ? s->n : s->k, cols = transposed ? s->k : s->n;
    el__packed packed = {0};
    double pack_seconds = INFINITY;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now();
        if (!c1 || el__pack(&packed, w, rows, cols, transposed) != EL_OK) {
            fprintf(stderr, "packed-gemm: out of memory\n");
            exit(1);
        }
        pack_seconds = fmin(pack_seconds, now() - t0);
    }
    problem p = {m, s->n, s->k, transposed, transposed ? 0.0f : 1.0f, a, w, &packed, path, c1};
    double ours, blas;
    rates(&p, &ours, &blas);

    memcpy(c1, c0, cn * sizeof *c1);
    run_blas(&p);
    p.c = c0;
    run_packed(&p);
    double diff = 0;
    for (size_t i = 0; i < cn; i++) diff = fmax(diff, fabs((double)c0[i] - c1[i]));

    double call_seconds = 2.0 * m * s->n * s->k / (ours * 1e9);
    printf("%-4s %4d %5d %5d %9.1f %9.1f %6.2f %9.1e %9.1f\n", s->pass, m, s->n, s->k, ours, blas,
           ours / blas, diff, pack_seconds / call_seconds);
    fflush(stdout);
    el__packed_free(&packed);
    free(a);
    free(w);
    free(c0);
    free(c1);
}

/* The path named by text, or EL__GEMM_PATHS if none is. */
static el__gemm_path parse_path(const char *text)
{
    for (int i = 0; i < EL__GEMM_PATHS; i++)
        if (strcmp(text, el__gemm_path_name(i)) == 0) return i;
    return EL__GEMM_PATHS;
}

int main(int argc, char **argv)
{
    el__gemm_path path = EL__GEMM_GENERIC;
    for (int i = 0; i < EL__GEMM_PATHS; i++)
        if (el__gemm_path_supported(i)) path = i; /* the best, as el__gemm_packed picks */
    int first = 1;
    if (argc > 1 && parse_path(argv[1]) != EL__GEMM_PATHS) {
        path = parse_path(argv[1]);
        first = 2;
        if (!el__gemm_path_supported(path)) {
            fprintf(stderr, "packed-gemm: this CPU can't run the %s path\n", argv[1]);
            return 2;
        }
    }
    int chosen[16], count = 0;
    for (int i = first; i < argc; i++) {
        int m = atoi(argv[i]);
        if (m <= 0 || count == 16) {
            fprintf(stderr, "usage: packed-gemm [generic|avx2|avx512] [M ...]\n");
            return 2;
        }
        chosen[count++] = m;
    }
    if (count == 0) {
        memcpy(chosen, batches, sizeof batches);
        count = (int)(sizeof batches / sizeof batches[0]);
    }

    openblas_set_num_threads(1);
    printf("path %s, OpenBLAS on 1 thread; GFLOP/s, best of %d x %.0f ms\n",
           el__gemm_path_name(path), ROUNDS, ROUND_SECONDS * 1e3);
    printf("%-4s %4s %5s %5s %9s %9s %6s %9s %9s\n", "pass", "m", "n", "k", "packed", "openblas",
           "ratio", "max|diff|", "pack/call");
    for (int b = 0; b < count; b++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            compare(path, chosen[b], &shapes[s]);
    return 0;
}
