/* Times one recurrent layer's forward + backward pass in elman, and the
 * bare cblas_sgemm calls of the same shapes (with OpenBLAS's own threads),
 * for bench/rnn.py.
 *
 *   rnn-bench CELL HIDDEN THREADS [STEPS BATCH INPUT]
 *
 * prints one line: "elman_ms=X sgemm_ms=Y gflop=Z", each time the median of
 * repeated runs after a warm-up: enough runs for half a second, at least 9
 * and at most 200 (bench/rnn.py times PyTorch the same way).  With one
 * thread the times are the process's CPU time, which leaves out what the
 * host of a virtual machine took (and equals the wall time where nothing
 * else runs); with more, the wall time, as threads waiting for each other
 * must count.
 *
 *   rnn-bench CELL HIDDEN scaling [STEPS BATCH INPUT]
 *
 * prints "one_ms=X two_ms=Y": the layer on one thread and on two, in wall
 * time both, the runs taking turns (one of each, each after an untimed run
 * as the pool changes), so that whatever else the host runs slows the two
 * alike; each the median of enough pairs for a second, 9 to 100. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "elman/elman.h"

#define MIN_RUNS 9
#define MAX_RUNS 200
#define SECONDS 0.5

/* How many runs of about `seconds` each fill SECONDS. */
static int runs_for(double seconds)
{
    double runs = seconds > 0 ? SECONDS / seconds : MAX_RUNS;
    return runs < MIN_RUNS ? MIN_RUNS : runs > MAX_RUNS ? MAX_RUNS : (int)runs;
}

typedef struct shape {
    int steps, batch, input, hidden, gates;
} shape;

typedef struct layer_run {
    el_rnn rnn;
    el_rnn_cache *cache;
    el_tensor x, y, dy, dx;
} layer_run;

/* CLOCK_PROCESS_CPUTIME_ID with one thread, else CLOCK_MONOTONIC. */
static clockid_t timer = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec t;
    clock_gettime(timer, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return v[n / 2];
}

static void die(const char *what)
{
    fprintf(stderr, "rnn-bench: %s: %s\n", what, el_last_error());
    exit(1);
}

static void setup_layer(layer_run *run, el_cell cell, const shape *s)
{
    el_rng rng;
    el_rng_seed(&rng, 1);
    el_rnn_config config = {cell, s->input, s->hidden, 1, 0, 0.0f};
    if (el_rnn_init(&run->rnn, "rnn", &config, &rng) || el_rnn_cache_create(&run->cache))
        die("init");
    int xs[3] = {s->steps, s->batch, s->input}, ys[3] = {s->steps, s->batch, s->hidden};
    if (el_tensor_alloc(&run->x, 3, xs) || el_tensor_alloc(&run->dx, 3, xs) ||
        el_tensor_alloc(&run->y, 3, ys) || el_tensor_alloc(&run->dy, 3, ys) ||
        el_init_uniform(&run->x, &rng, -1, 1) || el_init_uniform(&run->dy, &rng, -1, 1))
        die("tensors");
}

static void free_layer(layer_run *run)
{
    el_tensor_free(&run->x);
    el_tensor_free(&run->y);
    el_tensor_free(&run->dx);
    el_tensor_free(&run->dy);
    el_rnn_cache_free(run->cache);
    el_rnn_free(&run->rnn);
}

static double time_layer(layer_run *run)
{
    double t0 = now();
    if (el_rnn_forward(&run->rnn, run->cache, NULL, &run->x, NULL, NULL, NULL, &run->y, NULL,
                       NULL) ||
        el_rnn_backward(&run->rnn, run->cache, &run->dy, NULL, NULL, &run->dx, NULL, NULL))
        die("run");
    return now() - t0;
}

static void sgemm(int ta, int tb, int m, int n, int k, const float *a, const float *b, float *c)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, 1.0f, a, ta ? m : k, b, tb ? k : n, 0.0f, c, n);
}

/* The matrix products a layer's forward and backward pass must do, and
 * nothing else: the ceiling that elman's time is compared with. */
static double time_gemms(const shape *s, float *a, float *b, float *c)
{
    int T = s->steps, B = s->batch, In = s->input, H = s->hidden, G = s->gates * H;
    double t0 = now();
    sgemm(0, 1, T * B, G, In, a, b, c);                        /* input projection */
    for (int t = 0; t < T; t++) sgemm(0, 1, B, G, H, a, b, c); /* recurrence */
    for (int t = 0; t < T; t++) sgemm(0, 0, B, H, G, a, b, c); /* state gradient */
    sgemm(1, 0, G, In, T * B, a, b, c);                        /* dW_ih */
    sgemm(1, 0, G, H, T * B, a, b, c);                         /* dW_hh */
    sgemm(0, 0, T * B, In, G, a, b, c);                        /* dx */
    return now() - t0;
}

/* The layer's time on the given number of threads, after an untimed run
 * that gives a new worker its first task and refills the caches. */
static double time_on_threads(layer_run *run, int threads)
{
    if (el_set_threads(threads)) die("threads");
    time_layer(run);
    return time_layer(run);
}

/* One thread against two, in turns: see the comment at the top. */
static void time_scaling(layer_run *run)
{
    enum { MAX_PAIRS = 100 };
    double one[MAX_PAIRS], two[MAX_PAIRS];
    timer = CLOCK_MONOTONIC;
    double pair = time_on_threads(run, 1) + time_on_threads(run, 2);
    int pairs = pair > 0 ? (int)(1.0 / pair) : MAX_PAIRS;
    pairs = pairs < MIN_RUNS ? MIN_RUNS : pairs > MAX_PAIRS ? MAX_PAIRS : pairs;
    for (int i = 0; i < pairs; i++) {
        one[i] = time_on_threads(run, 1);
        two[i] = time_on_threads(run, 2);
    }
    printf("one_ms=%.4f two_ms=%.4f\n", 1e3 * median(one, pairs), 1e3 * median(two, pairs));
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 7) {
        fprintf(stderr, "usage: rnn-bench CELL HIDDEN THREADS|scaling [STEPS BATCH INPUT]\n");
        return 2;
    }
    el_cell cell;
    if (el_cell_parse(argv[1], &cell)) die("cell");
    shape s = {32, 64, 64, atoi(argv[2]), el_cell_gates(cell)};
    if (argc == 7) {
        s.steps = atoi(argv[4]);
        s.batch = atoi(argv[5]);
        s.input = atoi(argv[6]);
    }
    layer_run run = {0};
    setup_layer(&run, cell, &s);
    if (strcmp(argv[3], "scaling") == 0) {
        time_scaling(&run);
        free_layer(&run);
        return 0;
    }
    if (el_set_threads(atoi(argv[3]))) die("threads");
    if (atoi(argv[3]) == 1) timer = CLOCK_PROCESS_CPUTIME_ID;

    size_t big = (size_t)s.steps * s.batch + (size_t)s.gates * s.hidden + (size_t)s.hidden;
    big *= (size_t)(s.gates * s.hidden > s.input ? s.gates * s.hidden : s.input) + s.hidden;
    float *a = calloc(big, sizeof(float)), *b = calloc(big, sizeof(float)),
          *c = calloc(big, sizeof(float));
    if (!a || !b || !c) die("memory");
    /* Real values in every page: calloc's untouched pages all map the one
     * zero page, which stays in cache, so the products would read their
     * operands from there instead of from memory as the layer does. */
    for (size_t i = 0; i < big; i++) {
        a[i] = 1e-3f * (float)(i % 997);
        b[i] = 1e-3f * (float)(i % 991);
        c[i] = 0.0f;
    }

    /* The layer's runs first, then the bare products with OpenBLAS's own
     * threads: one pool's idle threads spin for a while and would slow the
     * other's if the two were interleaved. */
    double layer[MAX_RUNS], gemms[MAX_RUNS];
    int layer_runs = runs_for(time_layer(&run));
    for (int i = 0; i < layer_runs; i++) layer[i] = time_layer(&run);
    openblas_set_num_threads(atoi(argv[3]));
    int gemm_runs = runs_for(time_gemms(&s, a, b, c));
    for (int i = 0; i < gemm_runs; i++) gemms[i] = time_gemms(&s, a, b, c);
    double flop = 6.0 * s.steps * s.batch * (double)s.gates * s.hidden * (s.input + s.hidden);
    printf("elman_ms=%.4f sgemm_ms=%.4f gflop=%.6f\n", 1e3 * median(layer, layer_runs),
           1e3 * median(gemms, gemm_runs), flop * 1e-9);
    free(a);
    free(b);
    free(c);
    free_layer(&run);
    return 0;
}
