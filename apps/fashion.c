/* fashion: image classification and autoencoders on Fashion-MNIST.
 *
 *   fashion classify [options]                  train FashionSimpleNet
 *   fashion autoencode [--kind conv|dense]      train an autoencoder
 *   fashion predict --model MODEL IMAGE.png...  classify one's own images
 *
 * The data is an IDX set (train-images-idx3-ubyte.gz and its three
 * siblings), by default the Debian package dataset-fashion-mnist's.  A
 * validation part is drawn from the training images by the seed (the test
 * set is only looked at after training); training stops early when its
 * loss has not improved for --patience epochs.  The model is one flat
 * nn.Sequential (classify) or an encoder and a decoder (autoencode), saved
 * after every epoch and on Ctrl-C or SIGTERM (apps/train_run.h) with the
 * optimizer, the position, the early-stopping state and the random
 * generator, so --resume continues exactly.
 *
 * This file is one program's command line, models and training hooks; the
 * data (reading the IDX set, the validation part, normalisation) is in
 * fashion_data.c, and what it shows the user (the confusion matrix, the
 * PNG grids, predict) in fashion_show.c. */
#define _POSIX_C_SOURCE 200809L

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fashion.h"
#include "meta.h"
#include "train_run.h"

static const char *const mode_names[] = {"classify", "autoencode", "predict", NULL};
static const char *const kind_names[] = {"conv", "dense", NULL};
static const char *const model_kinds[] = {"fashion-classifier", "fashion-autoencoder"};
/* The autoencoders' code size, and the dense one's hidden layer. */
enum { LATENT = 32, DENSE_HIDDEN = 256 };
/* Images per forward pass when evaluating. */
enum { EVAL_CHUNK = 500 };

const char *const fashion_class_names[CLASSES] = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                  "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                  "Bag",         "Ankle boot"};

/* ---- command line ------------------------------------------------------- */

static void print_usage(void)
{
    printf("Usage: fashion classify [--data DIR] [--out MODEL] [training options]\n"
           "       fashion autoencode [--kind conv|dense] [--data DIR] [--out MODEL] [training "
           "options]\n"
           "       fashion predict --model MODEL [--invert] IMAGE.png...\n"
           "Convolutional networks on Fashion-MNIST (or any IDX set with its file names).\n"
           "\n"
           "classify trains FashionSimpleNet (two convolutions, dropout, two dense layers),\n"
           "prints the test set's confusion matrix, writes the misclassified test images\n"
           "to MODEL-misclassified.png (captions in MODEL-misclassified.txt) and ends with\n"
           "test_accuracy.  autoencode trains a convolutional or dense autoencoder with\n"
           "MSE, writes MODEL-reconstructions.png (originals above reconstructions) and\n"
           "MODEL-interpolation.png (decodings between two images' codes) and ends with\n"
           "test_mse.\n"
           "\n"
           "Training:\n"
           "  --data DIR              train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,\n"
           "                          t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (or\n"
           "                          unzipped); default %s\n"
           "  --out MODEL             where the model is saved (default fashion.safetensors,\n"
           "                          or fashion-ae.safetensors)\n"
           "  --kind conv|dense       autoencode's network (default conv)\n"
           "  --epochs N              at most N passes (default 50 classify, 10 autoencode)\n"
           "  --steps N               exactly N updates (batches) instead\n"
           "  --minutes M             alone: N updates fitting M minutes, measured on the\n"
           "                          first batches and printed; with --epochs, a time limit\n"
           "  --batch N               images per batch (default 256)\n"
           "  --lr X                  Adam's learning rate (default 0.001)\n"
           "  --validation X          the fraction of the training images held out for\n"
           "                          early stopping (default 0.1)\n"
           "  --patience N            stop after N epochs without a better validation loss\n"
           "                          (default 5)\n"
           "  --seed N                weights, the validation part, order and dropout (default 1)\n"
           "  --resume MODEL          continue training MODEL where it stopped\n"
           "  --metrics FILE.csv      write one line of figures per epoch\n"
           "  --mpi-timeout S         under mpirun: end the job when the ranks wait for one\n"
           "                          another longer than S seconds (default 60; 0: never)\n"
           "\n"
           "predict:\n"
           "  --model MODEL           a model fashion classify saved\n"
           "  --invert                the images are dark on light (Fashion-MNIST is light on\n"
           "                          dark)\n"
           "  IMAGE.png...            28x28 PNGs, gray or colour (turned gray)\n"
           "\n"
           "All:\n"
           "  --threads N             threads, 1 to 64 (default 2, or 1 on one core)\n"
           "  --help                  show this help and exit\n"
           "\n"
           "Ctrl-C (or SIGTERM) during training saves the model and exits with 130 (143);\n"
           "--resume MODEL continues.  A NaN or infinite loss stops training (exit 3)\n"
           "without saving.  mpirun -np N fashion classify|autoencode trains on N ranks\n"
           "(docs/distributed.md).\n",
           FASHION_DEFAULT_DATA);
}

static int parse_flag(int argc, char **argv, int *i, options *o)
{
    const char *v;
    int common = train_options_flag(argc, argv, i, &o->common, 65536);
    if (common) return common;
    if (cli_flag_value(argc, argv, i, "--data", &v)) return v ? (o->data = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--kind", &v))
        return cli_parse_choice("--kind", v, kind_names, &o->kind) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--validation", &v))
        return cli_parse_float("--validation", v, 0.001, 0.5, &o->validation_fraction) ? -1 : 1;
    if (strcmp(argv[*i], "--invert") == 0) return o->invert = 1;
    return 0;
}

/* 0 to go on, -1 after --help, or the exit status of an error. */
static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.common = {.batch = 256, .lr = 1e-3f, TRAIN_OPTIONS_DEFAULTS},
                   .validation_fraction = 0.1f};
    int command = cli_command(argc, argv, mode_names, print_usage, &o->mode);
    if (command) return command;
    o->images = malloc(sizeof(char *) * (size_t)argc);
    if (!o->images) {
        cli_error("out of memory");
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            print_usage();
            return -1;
        }
        int r = parse_flag(argc, argv, &i, o);
        if (r < 0) return CLI_EXIT_USAGE;
        if (r == 0 && o->mode == MODE_PREDICT && strncmp(argv[i], "--", 2) != 0) {
            o->images[o->image_count++] = argv[i];
            continue;
        }
        if (r == 0) {
            cli_error("unknown argument '%s' (see --help)", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (o->mode == MODE_PREDICT && (!o->common.model || o->image_count == 0)) {
        cli_error("predict needs --model MODEL and at least one IMAGE.png");
        return CLI_EXIT_USAGE;
    }
    if (o->mode != MODE_PREDICT && (o->common.model || o->invert)) {
        cli_error("--model and --invert are predict's; %s takes --resume", mode_names[o->mode]);
        return CLI_EXIT_USAGE;
    }
    /* --patience counts fashion's epochs without a better validation loss
     * (end_epoch), not the run's checks (train_run.h), which stay off. */
    o->patience = o->common.budget.patience > 0 ? o->common.budget.patience : 5;
    o->common.budget.patience = -1;
    o->epochs = o->common.budget.epochs    ? o->common.budget.epochs
                : o->mode == MODE_CLASSIFY ? 50
                                           : 10;
    const char *out = o->mode == MODE_AUTOENCODE ? "fashion-ae.safetensors" : "fashion.safetensors";
    return train_options_finish(&o->common, out) ? CLI_EXIT_USAGE : 0;
}

/* ---- the models ----------------------------------------------------------- */

static el_status add(el_sequential *net, el_status s, el_module *m)
{
    return s ? (el_module_free(m), s) : el_sequential_add(net, m);
}

/* FashionSimpleNet as one flat nn.Sequential, so its tensors are "0.weight"
 * (the first convolution), "3.weight" (the second), "8.weight" and
 * "10.weight" (the dense layers). */
static el_status make_classifier(run *r, el_rng *init)
{
    el_sequential *net = &r->net;
    el_status s = el_sequential_init(net, NULL);
    if (s) return s;
    r->model_ready = 1;
    el_pool pool;
    el_conv2d_config c1 = {
        .in_channels = 1, .out_channels = 32, .kernel = {3, 3}, .padding = {1, 1}, .bias = 1};
    el_conv2d_config c2 = c1;
    c2.in_channels = 32;
    c2.out_channels = 64;
    s = el_pool_init(&pool, EL_POOL_MAX, 2, (int[]){2, 2}, NULL, NULL);
    for (int i = 0; i < 11 && !s; i++) {
        el_module m = {0};
        switch (i) {
        case 0: s = add(net, el_module_conv2d(&m, &c1, init), &m); break;
        case 3: s = add(net, el_module_conv2d(&m, &c2, init), &m); break;
        case 1:
        case 4:
        case 9: s = add(net, el_module_relu(&m), &m); break;
        case 2:
        case 5: s = add(net, el_module_pool(&m, &pool), &m); break;
        case 6: s = add(net, el_module_dropout(&m, 0.5f, &r->rng), &m); break;
        case 7: s = add(net, el_module_flatten(&m), &m); break;
        case 8: s = add(net, el_module_dense(&m, 64 * 7 * 7, 128, 1, init), &m); break;
        default: s = add(net, el_module_dense(&m, 128, CLASSES, 1, init), &m); break;
        }
    }
    return s ? s : el_sequential_params(net, &r->params);
}

static el_status make_model(run *r, el_rng *init)
{
    if (r->opts.mode != MODE_AUTOENCODE) return make_classifier(r, init);
    el_status s =
        r->opts.kind == KIND_CONV
            ? el_autoencoder_init_conv(&r->ae, 1, SIDE, SIDE, LATENT, init)
            : el_autoencoder_init_dense(&r->ae, 1, SIDE, SIDE, DENSE_HIDDEN, LATENT, init);
    if (s) return s;
    r->model_ready = 1;
    return el_autoencoder_params(&r->ae, &r->params);
}

static void set_training(run *r, int on)
{
    if (r->opts.mode == MODE_AUTOENCODE)
        el_autoencoder_set_training(&r->ae, on);
    else
        el_sequential_set_training(&r->net, on);
}

el_status fashion_forward(run *r, const el_tensor *x, el_tensor *y)
{
    return r->opts.mode == MODE_AUTOENCODE ? el_autoencoder_forward(&r->ae, x, y)
                                           : el_sequential_forward(&r->net, x, y);
}

/* The images in chunk k of n images: EVAL_CHUNK, fewer in the last. */
static int chunk_images(int n, long k)
{
    int left = n - (int)k * EVAL_CHUNK;
    return left < EVAL_CHUNK ? left : EVAL_CHUNK;
}

/* The mean loss (cross-entropy, or MSE per pixel) and the accuracy of
 * images index[0 .. n - 1] of set (all in order when index is NULL), in
 * evaluation mode; each image's predicted class goes into predicted (may
 * be NULL).  The images are evaluated in chunks of EVAL_CHUNK, each giving
 * its mean loss and its correct count.  With several ranks each evaluates
 * its share of the chunks (train_run_share) and the ranks sum every
 * chunk's figures (and predicted classes), which one rank alone computed,
 * so the sums are exact; every rank then adds them up in chunk order as
 * one process does, and the figures are one process's to the bit.  Every
 * rank calls it the same times, with predicted NULL or not alike. */
static el_status evaluate(run *r, const image_set *set, const int *index, int n, double *loss,
                          double *accuracy, int *predicted)
{
    int classify = r->opts.mode != MODE_AUTOENCODE;
    long chunks = (n + EVAL_CHUNK - 1) / EVAL_CHUNK, first, count;
    train_run_share(&r->train, chunks, &first, &count);
    /* Each chunk's mean loss and correct count, then each image's class. */
    size_t size = 2 * (size_t)chunks + (predicted ? (size_t)n : 0);
    float *figures = calloc(size ? size : 1, sizeof *figures);
    if (!figures) return el_set_error(EL_ERR_NOMEM, "out of memory for %d images' figures", n);
    el_status s = EL_OK;
    set_training(r, 0);
    for (long k = first; k < first + count && !s; k++) {
        int start = (int)k * EVAL_CHUNK, m = chunk_images(n, k);
        s = fashion_batch(r, set, index, start, m, &r->x, r->targets);
        if (!s) s = fashion_forward(r, &r->x, &r->y);
        if (!s)
            s = classify ? el_cross_entropy_loss(&r->y, r->targets, NULL, EL_IGNORE_NONE,
                                                 &figures[2 * k], NULL)
                         : el_mse_loss(&r->y, &r->x, &figures[2 * k], NULL);
        for (int i = 0; !s && classify && i < m; i++) {
            const float *row = r->y.data + (size_t)i * CLASSES;
            int best = 0;
            for (int c = 1; c < CLASSES; c++)
                if (row[c] > row[best]) best = c;
            figures[2 * k + 1] += best == r->targets[i];
            if (predicted) figures[2 * chunks + start + i] = (float)best;
        }
    }
    set_training(r, 1);
    /* Every rank sums, also after a failure of its own, so none waits. */
    if (r->train.rank_count > 1) {
        el_status summed = train_ranks_sum(r->train.ranks, figures, size);
        if (!s) s = summed;
    }
    double sum = 0;
    long correct = 0;
    for (long k = 0; k < chunks; k++) {
        sum += (double)figures[2 * k] * chunk_images(n, k);
        correct += (long)figures[2 * k + 1];
    }
    for (int i = 0; predicted && i < n; i++) predicted[i] = (int)figures[2 * chunks + i];
    free(figures);
    *loss = sum / n;
    *accuracy = (double)correct / n;
    return s;
}

/* ---- checkpoints ---------------------------------------------------------- */

static el_status save(void *context, const char *path)
{
    run *r = context;
    const options *o = &r->opts;
    el_checkpoint_writer *w = NULL;
    char fingerprint[17];
    fashion_data_fingerprint(&r->train_all, fingerprint, sizeof fingerprint);
    el_status s = el_checkpoint_writer_create(&w);
    if (!s) s = el_checkpoint_add_params(w, &r->params);
    if (!s) s = el_checkpoint_add_optimizer(w, r->optimizer);
    if (!s) s = el_checkpoint_set_kind(w, model_kinds[o->mode]);
    if (!s && o->mode == MODE_AUTOENCODE)
        s = el_checkpoint_set_meta(w, "fashion.kind", kind_names[o->kind]);
    if (!s) s = el_checkpoint_set_float(w, "fashion.mean", r->mean);
    if (!s) s = el_checkpoint_set_float(w, "fashion.std", r->std);
    if (!s) s = el_checkpoint_set_meta(w, "train.data", o->data);
    if (!s) s = el_checkpoint_set_meta(w, "train.data_fingerprint", fingerprint);
    if (!s) s = el_checkpoint_set_int(w, "train.batch_size", o->common.batch);
    if (!s) s = el_checkpoint_set_float(w, "train.lr", o->common.lr);
    if (!s) s = el_checkpoint_set_float(w, "train.validation_fraction", o->validation_fraction);
    if (!s) s = el_checkpoint_set_int(w, "train.patience", o->patience);
    if (!s) s = el_checkpoint_set_int(w, "train.epochs", o->epochs);
    if (!s) s = el_checkpoint_set_int(w, "train.seed", (long long)o->common.seed);
    /* Before the first epoch's end there is no best loss yet (infinite),
     * which a checkpoint cannot hold: the largest double compares the same. */
    if (!s)
        s = el_checkpoint_set_double(w, "train.best_val_loss",
                                     isfinite(r->best_val) ? r->best_val : DBL_MAX);
    if (!s) s = el_checkpoint_set_int(w, "train.bad_epochs", r->bad_epochs);
    if (!s) s = train_run_save_position(&r->train, w, &r->rng);
    if (!s) s = el_checkpoint_write(w, path);
    el_checkpoint_writer_free(w);
    return s;
}

/* The model's kind and normalisation, checked against the command. */
static int load_model_config(run *r, const el_checkpoint *c, const char *path, int mode)
{
    if (el_checkpoint_check_kind(c, model_kinds[mode])) return -cli_library_failure();
    if (mode == MODE_AUTOENCODE) {
        const char *kind = meta_get(c, "fashion.kind");
        if (!kind || cli_parse_choice("the model's kind", kind, kind_names, &r->opts.kind))
            return -1;
    }
    return meta_get_float(c, "fashion.mean", &r->mean) || meta_get_float(c, "fashion.std", &r->std)
               ? -1
               : 0;
}

int fashion_load_for_use(run *r)
{
    const char *path = r->opts.common.model;
    el_checkpoint *c = NULL;
    if (el_checkpoint_read(&c, path)) return (void)cli_library_failure(), -1;
    int bad = load_model_config(r, c, path, MODE_CLASSIFY);
    if (!bad && !(r->std > 0)) {
        cli_error("%s: metadata \"fashion.std\" is %g, not above 0", path, r->std);
        bad = 1;
    }
    if (!bad && (make_model(r, NULL) || el_checkpoint_load_params(c, &r->params)))
        bad = cli_library_failure();
    el_checkpoint_free(c);
    if (!bad) set_training(r, 0);
    return bad ? -1 : 0;
}

/* Everything a resumed run needs to continue as the first would have. */
static int load_training_state(run *r, const el_checkpoint *c, const char *path)
{
    options *o = &r->opts;
    long long seed;
    const char *data = meta_get(c, "train.data");
    if (!data || meta_get_int(c, "train.batch_size", &o->common.batch) ||
        meta_get_float(c, "train.lr", &o->common.lr) ||
        meta_get_float(c, "train.validation_fraction", &o->validation_fraction) ||
        meta_get_int(c, "train.patience", &o->patience) || meta_get_long(c, "train.seed", &seed) ||
        meta_get_double(c, "train.best_val_loss", &r->best_val) ||
        meta_get_int(c, "train.bad_epochs", &r->bad_epochs) ||
        train_run_load_position(&r->train, c, path, &r->rng))
        return -1;
    if (o->common.batch < 1 || o->patience < 1 || !(o->common.lr > 0) ||
        !(o->validation_fraction > 0 && o->validation_fraction < 1)) {
        cli_error("%s: a training configuration out of range", path);
        return -1;
    }
    if (!o->data) {
        if (!(r->saved_data = meta_keep(data))) return -1;
        o->data = r->saved_data;
    }
    o->common.seed = (uint64_t)seed;
    return 0;
}

/* ---- training --------------------------------------------------------------- */

static long epoch_batches(void *context, long epoch)
{
    run *r = context;
    (void)epoch;
    return (r->train_count + r->opts.common.batch - 1) / r->opts.common.batch;
}

/* The epoch's order is a function of the seed and the epoch alone, so a
 * resumed run reads the same batches. */
static el_status start_epoch(void *context, long epoch, long first)
{
    run *r = context;
    (void)first;
    el_rng rng;
    el_rng_seed(&rng, r->opts.common.seed * 1000003u + (uint64_t)epoch);
    el_rng_permutation(&rng, r->order, r->train_count);
    for (int i = 0; i < r->train_count; i++) r->order[i] = r->train_index[r->order[i]];
    return EL_OK;
}

/* Forward and backward over images [first, first + n) of the epoch's
 * order: the loss is their mean. */
static el_status train_images(run *r, int first, int n, float *loss)
{
    el_status s = fashion_batch(r, &r->train_all, r->order, first, n, &r->x, r->targets);
    if (r->opts.mode == MODE_AUTOENCODE) {
        if (!s) s = el_autoencoder_forward(&r->ae, &r->x, &r->y);
        if (!s) s = el_tensor_ensure(&r->dy, r->y.ndim, r->y.shape);
        if (!s) s = el_mse_loss(&r->y, &r->x, loss, &r->dy);
        if (!s) s = el_autoencoder_backward(&r->ae, &r->dy, NULL);
    } else {
        if (!s) s = el_sequential_forward(&r->net, &r->x, &r->y);
        if (!s) s = el_tensor_ensure(&r->dy, r->y.ndim, r->y.shape);
        if (!s) s = el_cross_entropy_loss(&r->y, r->targets, NULL, EL_IGNORE_NONE, loss, &r->dy);
        if (!s) s = el_sequential_backward(&r->net, &r->dy, NULL);
    }
    return s;
}

/* FashionSimpleNet's dropout draws one number for each of an image's
 * 64x7x7 features, image after image. */
enum { DROPOUT_DRAWS = 64 * 7 * 7 };

/* This rank's share of the batch (all of it in one process); its loss is
 * the mean over the share, and its units the share's images.  The share's
 * dropout starts where one process's would be at the share's first image,
 * and every rank then moves past the whole batch, so the masks, and the
 * generator a checkpoint saves, do not depend on the number of ranks. */
static el_status train_batch(void *context, float *loss, long *units)
{
    run *r = context;
    int first = (int)(r->train.batch * r->opts.common.batch);
    int n = r->train_count - first < r->opts.common.batch ? r->train_count - first
                                                          : r->opts.common.batch;
    if (r->train.rank_count <= 1) {
        el_status s = train_images(r, first, n, loss);
        if (!s) *units = n;
        return s;
    }
    long share_first, share;
    train_run_share(&r->train, n, &share_first, &share);
    int dropout = r->opts.mode == MODE_CLASSIFY;
    el_rng batch_rng = r->rng;
    if (dropout) el_rng_advance(&r->rng, (uint64_t)share_first * DROPOUT_DRAWS);
    *loss = 0;
    el_status s = share > 0 ? train_images(r, first + (int)share_first, (int)share, loss) : EL_OK;
    if (dropout) {
        r->rng = batch_rng;
        el_rng_advance(&r->rng, (uint64_t)n * DROPOUT_DRAWS);
    }
    if (!s) *units = share;
    return s;
}

/* The validation loss, and early stopping on it. */
static int end_epoch(void *context, train_epoch_figures *f, char *csv, size_t size, int *stop)
{
    run *r = context;
    if (evaluate(r, &r->train_all, r->val_index, r->val_count, &r->val_loss, &r->val_accuracy,
                 NULL))
        return (void)cli_library_failure(), -1;
    double rate = f->units / (f->seconds + 1e-9);
    f->score = -r->val_loss;
    f->loss = r->val_loss;
    if (r->opts.mode == MODE_AUTOENCODE)
        printf("epoch %ld: train mse %.5f, validation mse %.5f, %.0f images/s\n", f->epoch,
               f->mean_loss, r->val_loss, rate);
    else
        printf("epoch %ld: train loss %.4f, validation loss %.4f, accuracy %.4f, %.0f images/s\n",
               f->epoch, f->mean_loss, r->val_loss, r->val_accuracy, rate);
    if (r->val_loss < r->best_val) {
        r->best_val = r->val_loss;
        r->bad_epochs = 0;
    } else if (++r->bad_epochs >= r->opts.patience) {
        printf("no better validation loss for %d epochs: stopping early\n", r->bad_epochs);
        *stop = 1;
    }
    fflush(stdout);
    snprintf(csv, size, "%ld,%.6f,%.6f,%.6f,%.1f,%.1f", f->epoch, f->mean_loss, r->val_loss,
             r->val_accuracy, rate, f->elapsed);
    return 0;
}

static const train_hooks hooks = {epoch_batches, start_epoch, train_batch, end_epoch,
                                  save,          NULL,        NULL};

static int make_optimizer(run *r)
{
    el_optimizer_config adam = el_optimizer_defaults(EL_OPT_ADAM);
    adam.lr = r->opts.common.lr;
    return el_optimizer_create(&r->optimizer, &adam, &r->params) ? cli_library_failure() : 0;
}

/* Sets up a new run, or a resumed one from its checkpoint. */
static int prepare_training(run *r)
{
    options *o = &r->opts;
    r->best_val = INFINITY;
    if (!o->common.resume) {
        el_rng init;
        el_rng_seed(&init, o->common.seed);
        el_rng_seed(&r->rng, o->common.seed + 1);
        if (fashion_load_data(r)) return -1;
        if (make_model(r, &init) || make_optimizer(r)) return (void)cli_library_failure(), -1;
    } else {
        el_checkpoint *c = NULL;
        if (el_checkpoint_read(&c, o->common.resume)) return (void)cli_library_failure(), -1;
        const char *trained_on = NULL;
        float mean = 0, std = 0;
        int bad = load_model_config(r, c, o->common.resume, o->mode) ||
                  load_training_state(r, c, o->common.resume) ||
                  !(trained_on = meta_get(c, "train.data_fingerprint"));
        if (!bad) {
            mean = r->mean;
            std = r->std;
            bad = fashion_load_data(r);
        }
        char fingerprint[17];
        if (!bad) fashion_data_fingerprint(&r->train_all, fingerprint, sizeof fingerprint);
        if (!bad && strcmp(fingerprint, trained_on) != 0) {
            cli_error("%s: not the data %s was trained on (its fingerprint differs)", o->data,
                      o->common.resume);
            bad = 1;
        }
        r->mean = mean;
        r->std = std;
        if (!bad && (make_model(r, NULL) || el_checkpoint_load_params(c, &r->params)))
            bad = cli_library_failure();
        if (!bad) bad = make_optimizer(r);
        if (!bad && el_checkpoint_load_optimizer(c, r->optimizer)) bad = cli_library_failure();
        el_checkpoint_free(c);
        if (bad) return -1;
    }
    r->targets =
        malloc(sizeof(int) * (size_t)(o->common.batch > EVAL_CHUNK ? o->common.batch : EVAL_CHUNK));
    if (!r->targets) {
        cli_error("out of memory for a batch of %d", o->common.batch);
        return -1;
    }
    r->train.schedule = el_lr_schedule_defaults(EL_LR_CONSTANT, o->common.lr, 1);
    return 0;
}

/* A rank other than 0's part in the evaluation of the test set that rank
 * 0's report starts with (fashion_test): with each image's class when it
 * classifies, as rank 0 then gathers them. */
static int test_share(run *r)
{
    double loss, accuracy;
    int *predicted = NULL;
    if (r->opts.mode != MODE_AUTOENCODE &&
        !(predicted = malloc(sizeof(int) * (size_t)r->test.count))) {
        cli_error("out of memory");
        return 1;
    }
    int status = fashion_test(r, &loss, &accuracy, predicted);
    free(predicted);
    return status;
}

static int train(run *r)
{
    options *o = &r->opts;
    train_run *t = &r->train;
    const train_setup setup = {
        .hooks = &hooks,
        .context = r,
        .params = &r->params,
        .threads = &r->threads,
        .batch_name = "batch",
        .unit_name = "images",
        .loss_name = o->mode == MODE_AUTOENCODE ? "mse" : "loss",
        .loss_scale = 1,
        .metrics_header =
            "epoch,train_loss,val_loss,val_accuracy,images_per_second,elapsed_seconds"};
    if (train_run_setup(t, &setup, &o->common) || prepare_training(r)) return 1;
    t->optimizer = r->optimizer;
    train_budget_apply(&o->common.budget, t, o->epochs, 0, 0, o->epochs);
    printf("%s: %d training images (%d held out for validation), %d test images; %s, %zu "
           "parameters, batch %d\n",
           o->data, r->train_count, r->val_count, r->test.count,
           o->mode == MODE_AUTOENCODE
               ? (o->kind == KIND_CONV ? "conv autoencoder" : "dense autoencoder")
               : "FashionSimpleNet",
           el_param_list_numel(&r->params), o->common.batch);
    fflush(stdout);
    if (r->bad_epochs >= o->patience) {
        printf("%s stopped early at epoch %ld already\n", o->common.resume, t->epoch);
    } else {
        int status = train_run_go(t);
        if (status) return status;
        printf("trained on %ld images in %.1f s: %.0f images/s\n", t->units_trained,
               t->training_seconds, t->units_trained / (t->training_seconds + 1e-9));
    }
    /* Rank 0 alone reports, and writes the report's images; the others
     * evaluate their share of its test set. */
    if (t->rank != 0) return test_share(r);
    printf("saved %s\n", o->common.out);
    fflush(stdout);
    return o->mode == MODE_AUTOENCODE ? fashion_report_autoencode(r) : fashion_report_classify(r);
}

/* ---- reports -------------------------------------------------------------- */

/* Evaluation of the test set for the reports, with each image's class. */
int fashion_test(run *r, double *loss, double *accuracy, int *predicted)
{
    return evaluate(r, &r->test, NULL, r->test.count, loss, accuracy, predicted)
               ? cli_library_failure()
               : 0;
}

char *fashion_beside(const char *checkpoint, const char *suffix)
{
    size_t len = strlen(checkpoint);
    const char ext[] = ".safetensors";
    if (len >= sizeof ext - 1 && strcmp(checkpoint + len - (sizeof ext - 1), ext) == 0)
        len -= sizeof ext - 1;
    char *path = malloc(len + strlen(suffix) + 1);
    if (!path) return NULL;
    memcpy(path, checkpoint, len);
    strcpy(path + len, suffix);
    return path;
}

static void run_free(run *r)
{
    free(r->saved_data);
    free(r->opts.images);
    fashion_free_set(&r->train_all);
    fashion_free_set(&r->test);
    free(r->train_index);
    free(r->order);
    free(r->targets);
    el_optimizer_free(r->optimizer);
    el_param_list_free(&r->params);
    if (r->model_ready && r->opts.mode == MODE_AUTOENCODE) el_autoencoder_free(&r->ae);
    if (r->model_ready && r->opts.mode != MODE_AUTOENCODE) el_sequential_free(&r->net);
    el_tensor_free(&r->x);
    el_tensor_free(&r->y);
    el_tensor_free(&r->dy);
    train_run_free(&r->train);
}

int main(int argc, char **argv)
{
    cli_set_program_name("fashion");
    run r = {0};
    int status = parse_options(argc, argv, &r.opts);
    if (!status) status = cli_set_threads(r.opts.common.threads, 0, 0);
    if (!status) status = r.opts.mode == MODE_PREDICT ? fashion_predict(&r) : train(&r);
    run_free(&r);
    return status < 0 ? 0 : status;
}
