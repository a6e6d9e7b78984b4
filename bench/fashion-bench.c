/* Times FashionSimpleNet training in elman, for bench/fashion.py: one flat
 * nn.Sequential, Conv2d(1, 32, 3, padding 1), ReLU, MaxPool2d(2),
 * Conv2d(32, 64, 3, padding 1), ReLU, MaxPool2d(2), Dropout(0.5), Flatten,
 * Linear(3136, 128), ReLU, Linear(128, 10), trained with cross-entropy and
 * Adam at lr 1e-3 on batches of Fashion-MNIST's training images drawn in a
 * seeded random order (random images when the data set is missing).
 *
 *   fashion-bench [--images FILE] [--labels FILE] [--batch N] [--threads N]
 *                 [--batches N] [--warmup N] [--dump PREFIX]
 *
 * The warm-up batches train with dropout off (evaluation mode; dropout is
 * the only module it changes), so that PyTorch, replaying the same batches
 * from the same weights, reaches the same losses without dropout's random
 * masks; the timed ones train with dropout.  It prints "data=fashion|random
 * losses=L1,L2,... images_per_second=X wall_seconds=W cpu_seconds=C
 * loss=L": the warm-up losses, the training images per second over the
 * timed batches, the wall and process CPU time they took, and their mean
 * loss.
 *
 * With --dump PREFIX it first writes the data set's indices of every batch
 * (warm-up first, one line per batch) to PREFIX.batches, the initial
 * weights to PREFIX.safetensors and, with random images, the images and
 * labels as raw float32 and int32 to PREFIX.images and PREFIX.labels. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "elman/elman.h"

#define DATA "/usr/share/datasets/fashion-mnist/"
/* Random images when the data set is missing: enough for distinct batches. */
#define RANDOM_IMAGES 4096

typedef struct options {
    const char *images, *labels, *dump;
    int batch, threads, batches, warmup;
} options;

typedef struct bench {
    el_tensor images; /* (N, 1, 28, 28) */
    int *labels;
    int count, random;
    int *order; /* the data set's indices, batch after batch */
    el_sequential net;
    el_rng dropout;
    el_param_list params;
    el_optimizer *optimizer;
    el_tensor x, logits, dlogits;
    int *targets;
} bench;

static double seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "fashion-bench: %s: %s\n", what, el_last_error());
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: fashion-bench [--images FILE] [--labels FILE] [--batch N] "
                    "[--threads N] [--batches N] [--warmup N] [--dump PREFIX]\n");
    exit(2);
}

static int integer(const char *flag, const char *text, int least, int most)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || end == text || v < least || v > most) {
        fprintf(stderr, "fashion-bench: %s wants an integer from %d to %d, not '%s'\n", flag, least,
                most, text);
        exit(2);
    }
    return (int)v;
}

static options parse(int argc, char **argv)
{
    options o = {.images = DATA "train-images-idx3-ubyte.gz",
                 .labels = DATA "train-labels-idx1-ubyte.gz",
                 .batch = 256,
                 .threads = 1,
                 .batches = 100,
                 .warmup = 5};
    for (int i = 1; i < argc; i += 2) {
        const char *flag = argv[i], *v = argv[i + 1];
        if (!v) usage();
        if (!strcmp(flag, "--batch"))
            o.batch = integer(flag, v, 1, 4096);
        else if (!strcmp(flag, "--threads"))
            o.threads = integer(flag, v, 1, 64);
        else if (!strcmp(flag, "--batches"))
            o.batches = integer(flag, v, 1, 1000000);
        else if (!strcmp(flag, "--warmup"))
            o.warmup = integer(flag, v, 0, 1000000);
        else if (!strcmp(flag, "--images"))
            o.images = v;
        else if (!strcmp(flag, "--labels"))
            o.labels = v;
        else if (!strcmp(flag, "--dump"))
            o.dump = v;
        else
            usage();
    }
    return o;
}

static void load(bench *b, const options *o)
{
    el_idx images = {0}, labels = {0};
    if (!el_idx_read(&images, o->images) && !el_idx_read(&labels, o->labels)) {
        b->count = images.dims[0];
        b->labels = malloc((size_t)b->count * sizeof *b->labels);
        if (!b->labels || el_idx_to_images(&images, &b->images) ||
            el_idx_to_labels(&labels, 10, b->labels, (size_t)b->count))
            die(o->images);
    } else {
        el_rng rng;
        el_rng_seed(&rng, 2);
        b->random = 1;
        b->count = RANDOM_IMAGES;
        b->labels = malloc((size_t)b->count * sizeof *b->labels);
        if (!b->labels || el_tensor_alloc(&b->images, 4, (int[]){b->count, 1, 28, 28}) ||
            el_init_uniform(&b->images, &rng, 0, 1))
            die("random images");
        for (int i = 0; i < b->count; i++) b->labels[i] = (int)el_rng_below(&rng, 10);
    }
    el_idx_free(&images);
    el_idx_free(&labels);
    if (b->count < o->batch) {
        fprintf(stderr, "fashion-bench: %d images make no batch of %d\n", b->count, o->batch);
        exit(2);
    }
    /* Epochs of seeded permutations, as a shuffling loader draws them;
     * every batch is full. */
    size_t per_epoch = (size_t)(b->count / o->batch) * (size_t)o->batch;
    size_t total = (size_t)(o->warmup + o->batches) * (size_t)o->batch;
    int *perm = malloc((size_t)b->count * sizeof *perm);
    b->order = malloc(total * sizeof *b->order);
    if (!perm || !b->order) die("memory");
    el_rng rng;
    el_rng_seed(&rng, 1);
    for (size_t i = 0; i < total; i++) {
        if (i % per_epoch == 0) el_rng_permutation(&rng, perm, b->count);
        b->order[i] = perm[i % per_epoch];
    }
    free(perm);
}

static void add(bench *b, el_status made, el_module *m)
{
    if (made || el_sequential_add(&b->net, m)) die("model");
}

static void make_model(bench *b, const options *o)
{
    el_rng init;
    el_rng_seed(&init, 1);
    el_rng_seed(&b->dropout, 3);
    el_conv2d_config conv1 = {
        .in_channels = 1, .out_channels = 32, .kernel = {3, 3}, .padding = {1, 1}, .bias = 1};
    el_conv2d_config conv2 = {
        .in_channels = 32, .out_channels = 64, .kernel = {3, 3}, .padding = {1, 1}, .bias = 1};
    el_pool pool;
    el_module m;
    if (el_sequential_init(&b->net, NULL) ||
        el_pool_init(&pool, EL_POOL_MAX, 2, (int[]){2, 2}, NULL, NULL))
        die("model");
    add(b, el_module_conv2d(&m, &conv1, &init), &m);
    add(b, el_module_relu(&m), &m);
    add(b, el_module_pool(&m, &pool), &m);
    add(b, el_module_conv2d(&m, &conv2, &init), &m);
    add(b, el_module_relu(&m), &m);
    add(b, el_module_pool(&m, &pool), &m);
    add(b, el_module_dropout(&m, 0.5f, &b->dropout), &m);
    add(b, el_module_flatten(&m), &m);
    add(b, el_module_dense(&m, 64 * 7 * 7, 128, 1, &init), &m);
    add(b, el_module_relu(&m), &m);
    add(b, el_module_dense(&m, 128, 10, 1, &init), &m);
    el_optimizer_config adam = el_optimizer_defaults(EL_OPT_ADAM);
    adam.lr = 1e-3;
    if (el_sequential_params(&b->net, &b->params) ||
        el_optimizer_create(&b->optimizer, &adam, &b->params) ||
        el_tensor_alloc(&b->x, 4, (int[]){o->batch, 1, 28, 28}))
        die("model");
    b->targets = malloc((size_t)o->batch * sizeof *b->targets);
    if (!b->targets) die("memory");
}

/* Trains on the index-th batch and returns its loss. */
static float train_step(bench *b, const options *o, int index)
{
    const int *ids = b->order + (size_t)index * (size_t)o->batch;
    for (int k = 0; k < o->batch; k++) {
        memcpy(b->x.data + (size_t)k * 784, b->images.data + (size_t)ids[k] * 784,
               784 * sizeof(float));
        b->targets[k] = b->labels[ids[k]];
    }
    float loss = 0;
    el_optimizer_zero_grad(b->optimizer);
    if (el_sequential_forward(&b->net, &b->x, &b->logits) ||
        el_tensor_ensure(&b->dlogits, b->logits.ndim, b->logits.shape) ||
        el_cross_entropy_loss(&b->logits, b->targets, NULL, EL_IGNORE_NONE, &loss, &b->dlogits) ||
        el_sequential_backward(&b->net, &b->dlogits, NULL) || el_optimizer_step(b->optimizer))
        die("training");
    return loss;
}

static FILE *open_or_die(const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    return f;
}

static void close_or_die(FILE *f, const char *path)
{
    if (ferror(f) | fclose(f)) {
        perror(path);
        exit(1);
    }
}

static void dump(bench *b, const options *o)
{
    size_t n = strlen(o->dump) + sizeof ".safetensors";
    char *path = malloc(n);
    if (!path) die("memory");
    snprintf(path, n, "%s.batches", o->dump);
    FILE *f = open_or_die(path);
    for (int i = 0; i < o->warmup + o->batches; i++) {
        for (int k = 0; k < o->batch; k++)
            fprintf(f, k ? " %d" : "%d", b->order[(size_t)i * (size_t)o->batch + (size_t)k]);
        fputc('\n', f);
    }
    close_or_die(f, path);
    if (b->random) {
        snprintf(path, n, "%s.images", o->dump);
        f = open_or_die(path);
        fwrite(b->images.data, sizeof(float), b->images.size, f);
        close_or_die(f, path);
        snprintf(path, n, "%s.labels", o->dump);
        f = open_or_die(path);
        fwrite(b->labels, sizeof(int), (size_t)b->count, f);
        close_or_die(f, path);
    }
    snprintf(path, n, "%s.safetensors", o->dump);
    el_checkpoint_writer *w = NULL;
    if (el_checkpoint_writer_create(&w) || el_checkpoint_add_params(w, &b->params) ||
        el_checkpoint_write(w, path))
        die(path);
    el_checkpoint_writer_free(w);
    free(path);
}

static void train(bench *b, const options *o)
{
    el_sequential_set_training(&b->net, 0);
    printf("data=%s losses=", b->random ? "random" : "fashion");
    for (int i = 0; i < o->warmup; i++) printf(i ? ",%.6f" : "%.6f", (double)train_step(b, o, i));
    el_sequential_set_training(&b->net, 1);
    double sum = 0, wall = seconds(CLOCK_MONOTONIC), cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < o->batches; i++) sum += train_step(b, o, o->warmup + i);
    wall = seconds(CLOCK_MONOTONIC) - wall;
    cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    printf(" images_per_second=%.1f wall_seconds=%.3f cpu_seconds=%.3f loss=%.4f\n",
           (double)o->batches * o->batch / wall, wall, cpu, sum / o->batches);
}

int main(int argc, char **argv)
{
    options o = parse(argc, argv);
    if (el_set_threads(o.threads)) die("--threads");
    bench b = {0};
    load(&b, &o);
    make_model(&b, &o);
    if (o.dump) dump(&b, &o);
    train(&b, &o);
    el_optimizer_free(b.optimizer);
    el_param_list_free(&b.params);
    el_sequential_free(&b.net);
    el_tensor_free(&b.images);
    el_tensor_free(&b.x);
    el_tensor_free(&b.logits);
    el_tensor_free(&b.dlogits);
    free(b.labels);
    free(b.order);
    free(b.targets);
    return 0;
}
