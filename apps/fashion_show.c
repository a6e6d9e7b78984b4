/* What the fashion program shows of a trained model: the test set's
 * confusion matrix and misclassified images (classify), reconstructions
 * and decodings between codes (autoencode), and the classes of one's own
 * PNGs (predict). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fashion.h"

/* Each image is drawn at twice its size, with a gap of GAP pixels, so a
 * grid is easy to look at. */
enum { ZOOM = 2, TILE = SIDE * ZOOM, GAP = 4, MISCLASSIFIED_SHOWN = 100, PER_ROW = 10 };

static el_status grid_init(el_image *grid, int rows, int cols)
{
    el_status s = el_image_init(grid, cols * (TILE + GAP) + GAP, rows * (TILE + GAP) + GAP, 1);
    if (!s) memset(grid->pixels, 96, (size_t)grid->width * grid->height);
    return s;
}

/* Draws a 28x28 image of values in [0, 1] at (row, col) of the grid. */
static void grid_put(el_image *grid, int row, int col, const float *pixels)
{
    int top = GAP + row * (TILE + GAP), left = GAP + col * (TILE + GAP);
    for (int y = 0; y < TILE; y++)
        for (int x = 0; x < TILE; x++) {
            float v = pixels[(y / ZOOM) * SIDE + x / ZOOM];
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            grid->pixels[(size_t)(top + y) * grid->width + left + x] =
                (unsigned char)lrintf(v * 255);
        }
}

static void bytes_to_unit(const unsigned char *bytes, float *out)
{
    for (int k = 0; k < PIXELS; k++) out[k] = bytes[k] / 255.0f;
}

static int write_png(const el_image *image, const char *path)
{
    if (el_png_write(image, path)) return cli_library_failure();
    printf("wrote %s\n", path);
    return 0;
}

/* ---- classify --------------------------------------------------------- */

static void print_confusion(const run *r, const int *predicted)
{
    long counts[CLASSES][CLASSES] = {{0}};
    for (int i = 0; i < r->test.count; i++) counts[r->test.labels[i]][predicted[i]]++;
    printf("confusion matrix (rows: true class, columns: predicted class)\n%13s", "");
    for (int c = 0; c < CLASSES; c++) printf(" %5d", c);
    printf("\n");
    for (int t = 0; t < CLASSES; t++) {
        printf("%d %-11s", t, fashion_class_names[t]);
        for (int c = 0; c < CLASSES; c++) printf(" %5ld", counts[t][c]);
        printf("\n");
    }
}

/* The first MISCLASSIFIED_SHOWN misclassified test images, PER_ROW to a
 * row, and a caption per image in a text file beside the PNG. */
static int write_misclassified(run *r, const int *predicted)
{
    int wrong = 0, status = 0;
    for (int i = 0; i < r->test.count; i++) wrong += predicted[i] != r->test.labels[i];
    if (wrong == 0) {
        printf("no test image misclassified\n");
        return 0;
    }
    int shown = wrong < MISCLASSIFIED_SHOWN ? wrong : MISCLASSIFIED_SHOWN;
    int cols = shown < PER_ROW ? shown : PER_ROW, rows = (shown + PER_ROW - 1) / PER_ROW;
    char *png = fashion_beside(r->opts.common.out, "-misclassified.png");
    char *txt = fashion_beside(r->opts.common.out, "-misclassified.txt");
    el_image grid = {0};
    FILE *captions = NULL;
    float pixels[PIXELS];
    if (!png || !txt) {
        cli_error("out of memory");
        status = 1;
    } else if (grid_init(&grid, rows, cols)) {
        status = cli_library_failure();
    } else if (!(captions = fopen(txt, "w"))) {
        cli_error("%s: %s", txt, strerror(errno));
        status = 1;
    }
    if (!status)
        fprintf(captions,
                "# %s, %d of %d misclassified test images: row column index true "
                "predicted\n",
                png, shown, wrong);
    for (int i = 0, k = 0; !status && k < shown; i++) {
        if (predicted[i] == r->test.labels[i]) continue;
        bytes_to_unit(r->test.pixels + (size_t)i * PIXELS, pixels);
        grid_put(&grid, k / PER_ROW, k % PER_ROW, pixels);
        fprintf(captions, "%d %d %d %s -> %s\n", k / PER_ROW + 1, k % PER_ROW + 1, i,
                fashion_class_names[r->test.labels[i]], fashion_class_names[predicted[i]]);
        k++;
    }
    if (captions && fclose(captions) != 0 && !status) {
        cli_error("%s: %s", txt, strerror(errno));
        status = 1;
    }
    if (!status) status = write_png(&grid, png);
    if (!status) printf("wrote %s\n", txt);
    el_image_free(&grid);
    free(png);
    free(txt);
    return status;
}

int fashion_report_classify(run *r)
{
    int *predicted = malloc(sizeof(int) * (size_t)r->test.count);
    double loss, accuracy;
    if (!predicted) {
        cli_error("out of memory");
        return 1;
    }
    int status = fashion_test(r, &loss, &accuracy, predicted);
    if (!status) {
        print_confusion(r, predicted);
        status = write_misclassified(r, predicted);
    }
    if (!status) printf("test loss %.4f\ntest_accuracy: %.4f\n", loss, accuracy);
    free(predicted);
    return status;
}

/* ---- autoencode ------------------------------------------------------- */

/* The first test image of each class (or of as many as there are). */
static int one_per_class(const run *r, int *index)
{
    int found = 0, seen[CLASSES] = {0};
    for (int i = 0; i < r->test.count && found < CLASSES; i++)
        if (!seen[r->test.labels[i]]) {
            seen[r->test.labels[i]] = 1;
            index[found++] = i;
        }
    return found;
}

/* Originals in the first row, their reconstructions in the second. */
static el_status reconstructions(run *r, const int *index, int n, el_image *grid)
{
    el_status s = fashion_batch(r, &r->test, index, 0, n, &r->x, NULL);
    if (!s) s = fashion_forward(r, &r->x, &r->y);
    if (!s) s = grid_init(grid, 2, n);
    for (int i = 0; i < n && !s; i++) {
        grid_put(grid, 0, i, r->x.data + (size_t)i * PIXELS);
        grid_put(grid, 1, i, r->y.data + (size_t)i * PIXELS);
    }
    return s;
}

enum { STEPS = 10 };

/* Two images at the ends and, between them, the decodings of STEPS points
 * evenly along the line from the first's code to the second's. */
static el_status interpolation(run *r, const int *index, el_image *grid)
{
    el_tensor codes = {0}, line = {0};
    el_status s = fashion_batch(r, &r->test, index, 0, 2, &r->x, NULL);
    if (!s) s = el_autoencoder_encode(&r->ae, &r->x, &codes);
    int latent = codes.ndim == 2 ? codes.shape[1] : 0;
    if (!s) s = el_tensor_ensure(&line, 2, (int[]){STEPS, latent});
    for (int k = 0; k < STEPS && !s; k++) {
        float t = (float)k / (STEPS - 1);
        for (int j = 0; j < latent; j++)
            line.data[(size_t)k * latent + j] =
                (1 - t) * codes.data[j] + t * codes.data[(size_t)latent + j];
    }
    if (!s) s = el_autoencoder_decode(&r->ae, &line, &r->y);
    if (!s) s = grid_init(grid, 1, STEPS + 2);
    if (!s) {
        grid_put(grid, 0, 0, r->x.data);
        for (int k = 0; k < STEPS; k++) grid_put(grid, 0, k + 1, r->y.data + (size_t)k * PIXELS);
        grid_put(grid, 0, STEPS + 1, r->x.data + PIXELS);
    }
    el_tensor_free(&codes);
    el_tensor_free(&line);
    return s;
}

int fashion_report_autoencode(run *r)
{
    double mse, unused;
    int index[CLASSES];
    int status = fashion_test(r, &mse, &unused, NULL);
    if (status) return status;
    int n = one_per_class(r, index);
    char *recon = fashion_beside(r->opts.common.out, "-reconstructions.png");
    char *between = fashion_beside(r->opts.common.out, "-interpolation.png");
    el_image grid = {0};
    if (!recon || !between) {
        cli_error("out of memory");
        status = 1;
    }
    if (!status) status = reconstructions(r, index, n, &grid) ? cli_library_failure() : 0;
    if (!status) status = write_png(&grid, recon);
    el_image_free(&grid);
    /* From the first class's image to the second's (or to another image of
     * the same class when the test set has one class). */
    int ends[2] = {index[0], n > 1 ? index[1] : (r->test.count > 1 ? 1 : 0)};
    if (!status) status = interpolation(r, ends, &grid) ? cli_library_failure() : 0;
    if (!status) status = write_png(&grid, between);
    el_image_free(&grid);
    free(recon);
    free(between);
    if (!status) printf("test_mse: %.6f\n", mse);
    return status;
}

/* ---- predict ---------------------------------------------------------- */

/* One image as the model takes it: 28x28 gray, light on dark. */
static int read_image(const run *r, const char *path, el_tensor *x)
{
    el_image image = {0};
    if (el_png_read(&image, path, 1)) return cli_library_failure();
    if (image.width != SIDE || image.height != SIDE) {
        cli_error("%s: %dx%d pixels; the model takes %dx%d images (as Fashion-MNIST's)", path,
                  image.width, image.height, SIDE, SIDE);
        el_image_free(&image);
        return 1;
    }
    el_status s = el_tensor_ensure(x, 4, (int[]){1, 1, SIDE, SIDE});
    for (int k = 0; k < PIXELS && !s; k++) {
        float v = image.pixels[k] / 255.0f;
        if (r->opts.invert) v = 1 - v;
        x->data[k] = (v - r->mean) / r->std;
    }
    el_image_free(&image);
    return s ? cli_library_failure() : 0;
}

int fashion_predict(run *r)
{
    if (fashion_load_for_use(r)) return 1;
    for (int i = 0; i < r->opts.image_count; i++) {
        const char *path = r->opts.images[i];
        if (read_image(r, path, &r->x)) return 1;
        if (fashion_forward(r, &r->x, &r->y)) return cli_library_failure();
        const float *logits = r->y.data;
        int best = 0;
        for (int c = 1; c < CLASSES; c++)
            if (logits[c] > logits[best]) best = c;
        double sum = 0;
        for (int c = 0; c < CLASSES; c++) sum += exp((double)logits[c] - logits[best]);
        printf("%s: %s (class %d, probability %.3f)\n", path, fashion_class_names[best], best,
               1 / sum);
    }
    return 0;
}
