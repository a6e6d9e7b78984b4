/* Times the convolutions of FashionSimpleNet (28x28 images): conv1, 1 -> 32
 * channels, 3x3, padding 1, on 28x28 (no input gradient: it reads the
 * images), and conv2, 32 -> 64, 3x3, padding 1, on 14x14 (with it), one
 * forward and backward pass each, in wall time.
 *
 *   conv-bench [BATCH [RUNS]]
 *
 * prints for one thread and for two the median over RUNS (default 15) of
 * each layer's pass, and the fastest, the runs of the two thread counts
 * taking turns so that whatever else the machine runs slows both alike; on
 * a busy machine the fastest run is the nearest to what the pass costs
 * alone. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "elman/elman.h"

#define MAX_RUNS 101

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void check(el_status s, const char *what)
{
    if (s) {
        fprintf(stderr, "conv-bench: %s: %s\n", what, el_last_error());
        exit(1);
    }
}

typedef struct layer_run {
    el_conv2d conv;
    el_conv_cache cache;
    el_tensor x, y, dy, dx;
    int want_dx;
} layer_run;

static void setup(layer_run *r, el_rng *rng, const el_conv2d_config *config, int batch, int size,
                  int want_dx)
{
    check(el_conv2d_init(&r->conv, "conv", config, rng), "init");
    check(el_tensor_alloc(&r->x, 4, (int[]){batch, config->in_channels, size, size}), "alloc");
    check(el_init_uniform(&r->x, rng, -1, 1), "x");
    check(el_conv2d_forward(&r->conv, &r->cache, &r->x, &r->y), "forward");
    check(el_tensor_alloc(&r->dy, r->y.ndim, r->y.shape), "alloc");
    check(el_init_uniform(&r->dy, rng, -1, 1), "dy");
    check(el_conv2d_backward(&r->conv, &r->cache, &r->dy, want_dx ? &r->dx : NULL), "backward");
    r->want_dx = want_dx;
}

static double time_pass(layer_run *r)
{
    double start = now();
    check(el_conv2d_forward(&r->conv, &r->cache, &r->x, &r->y), "forward");
    check(el_conv2d_backward(&r->conv, &r->cache, &r->dy, r->want_dx ? &r->dx : NULL), "backward");
    return now() - start;
}

int main(int argc, char **argv)
{
    int batch = argc > 1 ? atoi(argv[1]) : 256, runs = argc > 2 ? atoi(argv[2]) : 15;
    if (batch < 1 || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: conv-bench [BATCH [RUNS (1 to %d)]]\n", MAX_RUNS);
        return 2;
    }
    el_rng rng;
    el_rng_seed(&rng, 1);
    layer_run runs_of[2] = {0};
    setup(&runs_of[0], &rng, &(el_conv2d_config){1, 32, {3, 3}, .padding = {1, 1}, .bias = 1},
          batch, 28, 0);
    setup(&runs_of[1], &rng, &(el_conv2d_config){32, 64, {3, 3}, .padding = {1, 1}, .bias = 1},
          batch, 14, 1);
    static double times[2][2][MAX_RUNS]; /* [layer][threads - 1][run] */
    for (int i = 0; i < runs; i++)
        for (int t = 1; t <= 2; t++) {
            check(el_set_threads(t), "threads");
            for (int l = 0; l < 2; l++) {
                time_pass(&runs_of[l]); /* untimed, as the pool changes */
                times[l][t - 1][i] = time_pass(&runs_of[l]);
            }
        }
    static const char *names[2] = {"conv1 1->32 28x28", "conv2 32->64 14x14"};
    for (int l = 0; l < 2; l++)
        for (int t = 0; t < 2; t++) {
            qsort(times[l][t], (size_t)runs, sizeof(double), by_value);
            printf("%s batch %d threads %d: forward+backward %.2f ms (fastest %.2f)\n", names[l],
                   batch, t + 1, 1e3 * times[l][t][runs / 2], 1e3 * times[l][t][0]);
        }
    for (int l = 0; l < 2; l++) {
        el_conv2d_free(&runs_of[l].conv);
        el_conv_cache_free(&runs_of[l].cache);
        el_tensor_free(&runs_of[l].x);
        el_tensor_free(&runs_of[l].y);
        el_tensor_free(&runs_of[l].dy);
        el_tensor_free(&runs_of[l].dx);
    }
    return 0;
}
