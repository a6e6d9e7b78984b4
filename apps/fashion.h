/* What the parts of the fashion program share (apps/fashion.c: the command
 * line, the models and training; apps/fashion_data.c: the data;
 * apps/fashion_show.c: the confusion matrix, the PNG grids and predict). */
#ifndef ELMAN_APPS_FASHION_H
#define ELMAN_APPS_FASHION_H

#include <stdint.h>

#include "elman/autoencoder.h"
#include "elman/elman.h"
#include "train_options.h"
#include "train_run.h"

enum { MODE_CLASSIFY, MODE_AUTOENCODE, MODE_PREDICT };
enum { KIND_CONV, KIND_DENSE };
enum { CLASSES = 10, SIDE = 28, PIXELS = SIDE * SIDE };
/* The data without --data: the Debian package dataset-fashion-mnist's. */
#define FASHION_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

typedef struct options {
    int mode, kind;
    /* --out, --model, --resume, --metrics, --batch, --threads, --lr,
     * --mpi-timeout, --seed and the budget: --epochs, --steps, --minutes,
     * --patience (train_options.h). */
    train_options common;
    const char *data;
    /* --epochs, or the mode's default; --patience, fashion's own early
     * stopping (end_epoch), or its default. */
    int epochs, patience;
    int invert;
    float validation_fraction;
    char **images; /* predict's PNG files */
    int image_count;
} options;

/* A data set's images (count of 28x28 bytes) and labels. */
typedef struct image_set {
    int count;
    unsigned char *pixels;
    int *labels;
} image_set;

typedef struct run {
    options opts;
    char *saved_data; /* the data folder a resumed run read from its checkpoint */
    image_set train_all, test;
    int *train_index, *val_index; /* into train_all: the training and validation parts */
    int train_count, val_count;
    float mean, std;   /* of the training part's pixels in [0, 1]; classify only */
    el_sequential net; /* classify */
    el_autoencoder ae; /* autoencode */
    int model_ready;
    el_param_list params;
    el_optimizer *optimizer;
    el_thread_check threads;
    el_rng rng; /* dropout */
    int *order; /* the current epoch's order of the training part */
    el_tensor x, y, dy;
    int *targets;
    double best_val, val_loss, val_accuracy;
    int bad_epochs; /* since the best validation loss */
    train_run train;
} run;

/* The class names of Fashion-MNIST, by label. */
extern const char *const fashion_class_names[CLASSES];

/* Reads the training and test sets of --data (or FASHION_DEFAULT_DATA,
 * then set as --data), draws the validation part by the seed and, for
 * classify, the training part's pixel mean and deviation; 0, or -1 after
 * one line. */
int fashion_load_data(run *r);

void fashion_free_set(image_set *set);

/* A fingerprint of the training images and labels (64-bit FNV-1a), so that
 * --resume can tell the data it is given from the data it was trained on:
 * 16 hex digits and a NUL into out. */
void fashion_data_fingerprint(const image_set *set, char *out, size_t size);

/* Fills x (n, 1, 28, 28) with images index[0 .. n - 1] of set (all of
 * them in order when index is NULL, from first), normalised as the model
 * takes them, and targets (may be NULL) with their labels. */
el_status fashion_batch(const run *r, const image_set *set, const int *index, int first, int n,
                        el_tensor *x, int *targets);

/* Loads a saved model (of r->opts.model) for use, in evaluation mode; 0, or
 * -1 after reporting. */
int fashion_load_for_use(run *r);

/* The model's output for x in evaluation mode. */
el_status fashion_forward(run *r, const el_tensor *x, el_tensor *y);

/* The test set's mean loss and accuracy in evaluation mode, with each
 * image's predicted class (may be NULL); 0, or 1 after reporting.  With
 * several ranks every rank calls it (each evaluates its share), predicted
 * NULL on all or on none. */
int fashion_test(run *r, double *loss, double *accuracy, int *predicted);

/* After classify: the test set's confusion matrix, the misclassified
 * images' grid and captions beside the checkpoint, and test_accuracy. */
int fashion_report_classify(run *r);
/* After autoencode: originals above reconstructions, decodings between two
 * codes, and test_mse. */
int fashion_report_autoencode(run *r);
/* fashion predict: each PNG's class under a saved classifier. */
int fashion_predict(run *r);

/* The checkpoint's path without ".safetensors", then suffix (free it). */
char *fashion_beside(const char *checkpoint, const char *suffix);

#endif
