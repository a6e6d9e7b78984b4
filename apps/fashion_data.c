/* fashion's data: an IDX set's training and test images and labels, the
 * validation part drawn by the seed, the classifier's normalisation, and
 * the batches the models take. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "fashion.h"

void fashion_free_set(image_set *set)
{
    free(set->pixels);
    free(set->labels);
    *set = (image_set){0};
}

/* dir/name.gz, else dir/name unzipped; NULL (with *path the .gz name, for
 * the message) when neither exists. */
static char *data_file(const char *dir, const char *name, int *found)
{
    size_t size = strlen(dir) + strlen(name) + 8;
    char *path = malloc(size);
    struct stat st;
    if (!path) return NULL;
    snprintf(path, size, "%s/%s", dir, name);
    *found = stat(path, &st) == 0;
    if (*found) return path;
    snprintf(path, size, "%s/%s.gz", dir, name);
    *found = stat(path, &st) == 0;
    return path;
}

/* Reads images and labels of 28x28 ubyte images into set; 0, or -1 after
 * one line. */
static int load_set(const char *dir, const char *images_name, const char *labels_name,
                    image_set *set)
{
    int found_images, found_labels;
    char *images_path = data_file(dir, images_name, &found_images);
    char *labels_path = data_file(dir, labels_name, &found_labels);
    el_idx images = {0}, labels = {0};
    int bad = 0;
    if (!images_path || !labels_path) {
        cli_error("out of memory");
        bad = 1;
    } else if (!found_images || !found_labels) {
        cli_error("%s: missing; install the Debian package dataset-fashion-mnist, or give --data "
                  "DIR of an IDX set with its file names",
                  found_images ? labels_path : images_path);
        bad = 1;
    } else if (el_idx_read(&images, images_path) || el_idx_read(&labels, labels_path)) {
        bad = cli_library_failure();
    } else if (images.type != EL_IDX_UBYTE || images.ndim != 3 || images.dims[1] != SIDE ||
               images.dims[2] != SIDE || images.dims[0] < 1) {
        cli_error("%s: not 8-bit images of %dx%d pixels", images_path, SIDE, SIDE);
        bad = 1;
    } else if (labels.type != EL_IDX_UBYTE || labels.ndim != 1 ||
               labels.dims[0] != images.dims[0]) {
        cli_error("%s: not %d 8-bit labels, one per image of %s", labels_path, images.dims[0],
                  images_path);
        bad = 1;
    } else {
        set->count = images.dims[0];
        set->pixels = malloc((size_t)set->count * PIXELS);
        set->labels = malloc(sizeof(int) * (size_t)set->count);
        if (!set->pixels || !set->labels) {
            cli_error("out of memory for %d images", set->count);
            bad = 1;
        } else if (el_idx_to_labels(&labels, CLASSES, set->labels, (size_t)set->count)) {
            bad = cli_library_failure();
        } else {
            memcpy(set->pixels, images.data, (size_t)set->count * PIXELS);
        }
    }
    el_idx_free(&images);
    el_idx_free(&labels);
    free(images_path);
    free(labels_path);
    return bad ? -1 : 0;
}

/* The validation part is a function of the seed alone, so a resumed run
 * holds out the same images. */
static int split(run *r)
{
    const options *o = &r->opts;
    int n = r->train_all.count;
    r->val_count = (int)((double)n * o->validation_fraction);
    r->train_count = n - r->val_count;
    if (r->val_count < 1 || r->train_count < 1) {
        cli_error("%d training images: too few to hold out %g%% for validation", n,
                  100.0 * o->validation_fraction);
        return -1;
    }
    int *perm = malloc(sizeof(int) * (size_t)n);
    r->order = malloc(sizeof(int) * (size_t)r->train_count);
    if (!perm || !r->order) {
        free(perm);
        cli_error("out of memory");
        return -1;
    }
    el_rng rng;
    el_rng_seed(&rng, o->common.seed * 2654435761u + 17);
    el_rng_permutation(&rng, perm, n);
    r->train_index = perm;
    r->val_index = perm + r->train_count;
    return 0;
}

/* The training part's pixel mean and deviation, in [0, 1] units. */
static int pixel_statistics(run *r)
{
    double sum = 0, squares = 0;
    for (int i = 0; i < r->train_count; i++) {
        const unsigned char *p = r->train_all.pixels + (size_t)r->train_index[i] * PIXELS;
        for (int k = 0; k < PIXELS; k++) {
            double v = p[k] / 255.0;
            sum += v;
            squares += v * v;
        }
    }
    double count = (double)r->train_count * PIXELS, mean = sum / count;
    double variance = squares / count - mean * mean;
    if (!(variance > 1e-12)) {
        cli_error("every training pixel is %g: nothing to learn", mean * 255);
        return -1;
    }
    r->mean = (float)mean;
    r->std = (float)sqrt(variance);
    return 0;
}

void fashion_data_fingerprint(const image_set *set, char *out, size_t size)
{
    uint64_t hash = 14695981039346656037u;
    for (size_t i = 0; i < (size_t)set->count * PIXELS; i++) {
        hash ^= set->pixels[i];
        hash *= 1099511628211u;
    }
    for (int i = 0; i < set->count; i++) {
        hash ^= (uint64_t)set->labels[i];
        hash *= 1099511628211u;
    }
    snprintf(out, size, "%016llx", (unsigned long long)hash);
}

int fashion_load_data(run *r)
{
    const char *dir = r->opts.data ? r->opts.data : FASHION_DEFAULT_DATA;
    if (load_set(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", &r->train_all) ||
        load_set(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", &r->test) || split(r))
        return -1;
    r->opts.data = dir;
    return r->opts.mode == MODE_CLASSIFY ? pixel_statistics(r) : 0;
}

el_status fashion_batch(const run *r, const image_set *set, const int *index, int first, int n,
                        el_tensor *x, int *targets)
{
    el_status s = el_tensor_ensure(x, 4, (int[]){n, 1, SIDE, SIDE});
    if (s) return s;
    /* The classifier takes standardised pixels, the autoencoders pixels in
     * [0, 1], which their sigmoid output can reach. */
    int classify = r->opts.mode != MODE_AUTOENCODE;
    float scale = classify ? 1.0f / (255.0f * r->std) : 1.0f / 255.0f;
    float shift = classify ? r->mean / r->std : 0.0f;
    for (int i = 0; i < n; i++) {
        int k = index ? index[first + i] : first + i;
        const unsigned char *p = set->pixels + (size_t)k * PIXELS;
        float *out = x->data + (size_t)i * PIXELS;
        for (int j = 0; j < PIXELS; j++) out[j] = p[j] * scale - shift;
        if (targets) targets[i] = set->labels[k];
    }
    return EL_OK;
}
