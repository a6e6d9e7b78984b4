/* PNG files (image.h) through libpng.
 *
 * libpng reports an error by calling the error function, which must not
 * return; ours records the message and longjmps back to the setjmp in
 * decode or encode.  Everything those functions allocate, and everything
 * they change that the caller reads after a longjmp, lives in a png_job of
 * the caller's, reached through a pointer: C leaves the value of an
 * automatic variable of the setjmp's own function that changed before the
 * longjmp unspecified (unless volatile), but not memory elsewhere.  The
 * caller then frees libpng's structures and the buffers whether or not the
 * longjmp happened, so no path leaks. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "elman/image.h"
#include "io/atomic_write.h"
#include "core/internal.h"

/* The weights of red, green and blue in gray, in units of 1/100000: ITU-R
 * BT.709's, fixed here so that a cHRM chunk does not change them. */
#define RED_WEIGHT 21268
#define GREEN_WEIGHT 71514

typedef struct png_job {
    const char *fn;
    const char *name;
    char message[200]; /* libpng's last error */
    int out_of_memory;
    png_structp png;
    png_infop info;
    /* reading */
    const uint8_t *in;
    size_t in_size;
    size_t in_pos;
    int channels;
    int width;
    int height;
    unsigned char *pixels;
    png_bytep *rows;
    /* writing */
    const el_image *image;
    uint8_t *out;
    size_t out_size;
    size_t out_capacity;
} png_job;

static void on_error(png_structp png, png_const_charp message)
{
    png_job *job = png_get_error_ptr(png);
    snprintf(job->message, sizeof job->message, "%s", message);
    png_longjmp(png, 1);
}

/* Warnings are about chunks libpng skips; the image is still right. */
static void on_warning(png_structp png, png_const_charp message) {}

static el_status check_size(const char *fn, int width, int height, int channels)
{
    if (channels != 1 && channels != 3)
        return el__fail(EL_ERR_INVALID, "%s: channels is %d, expected 1 (gray) or 3 (RGB)", fn,
                        channels);
    if (width < 1 || height < 1 || width > EL_IMAGE_MAX_SIDE || height > EL_IMAGE_MAX_SIDE ||
        (size_t)width * (size_t)height > EL_IMAGE_MAX_PIXELS)
        return el__fail(EL_ERR_INVALID, "%s: %dx%d pixels (1 to %d a side, %zu in all)", fn, width,
                        height, EL_IMAGE_MAX_SIDE, (size_t)EL_IMAGE_MAX_PIXELS);
    return EL_OK;
}

el_status el_image_init(el_image *image, int width, int height, int channels)
{
    const char *fn = "el_image_init";
    EL_REQUIRE(image, fn);
    el_status s = check_size(fn, width, height, channels);
    if (s) return s;
    unsigned char *pixels = el__alloc_zero((size_t)width * (size_t)height, (size_t)channels);
    if (!pixels) return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    *image = (el_image){width, height, channels, pixels};
    return EL_OK;
}

void el_image_free(el_image *image)
{
    if (!image) return;
    el__free(image->pixels);
    *image = (el_image){0};
}

/* ---- reading -------------------------------------------------------------- */

static void read_bytes(png_structp png, png_bytep out, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    if (n > job->in_size - job->in_pos) png_error(png, "the file is truncated");
    memcpy(out, job->in + job->in_pos, n);
    job->in_pos += n;
}

/* Asks libpng for 8-bit samples in job->channels channels, whatever the
 * file holds. */
static void set_transforms(png_job *job)
{
    png_structp png = job->png;
    int color = png_get_color_type(png, job->info);
    int depth = png_get_bit_depth(png, job->info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_scale_16(png);
    png_set_strip_alpha(png);
    int colored = color & (PNG_COLOR_MASK_COLOR | PNG_COLOR_MASK_PALETTE);
    if (job->channels == 1 && colored) png_set_rgb_to_gray_fixed(png, 1, RED_WEIGHT, GREEN_WEIGHT);
    if (job->channels == 3 && !colored) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, job->info);
}

/* Returns 0 when libpng failed, with its message in job->message. */
static int decode(png_job *job)
{
    if (setjmp(png_jmpbuf(job->png))) return 0;
    png_structp png = job->png;
    png_set_read_fn(png, job, read_bytes);
    png_set_user_limits(png, EL_IMAGE_MAX_SIDE, EL_IMAGE_MAX_SIDE);
    png_read_info(png, job->info);
    set_transforms(job);
    png_uint_32 width = png_get_image_width(png, job->info);
    png_uint_32 height = png_get_image_height(png, job->info);
    if ((size_t)width * height > EL_IMAGE_MAX_PIXELS) png_error(png, "too many pixels");
    size_t row_bytes = (size_t)width * (size_t)job->channels;
    if (png_get_bit_depth(png, job->info) != 8 ||
        png_get_channels(png, job->info) != job->channels ||
        png_get_rowbytes(png, job->info) != row_bytes)
        png_error(png, "libpng could not convert the pixels");
    job->width = (int)width;
    job->height = (int)height;
    job->pixels = el__alloc(row_bytes * height);
    job->rows = el__alloc(height * sizeof *job->rows);
    if (!job->pixels || !job->rows) {
        job->out_of_memory = 1;
        png_error(png, "out of memory");
    }
    for (png_uint_32 y = 0; y < height; y++) job->rows[y] = job->pixels + y * row_bytes;
    png_read_image(png, job->rows);
    png_read_end(png, NULL);
    return 1;
}

static el_status read_png(png_job *job, el_image *out)
{
    if (job->in_size < 8 || png_sig_cmp(job->in, 0, 8) != 0)
        return el__fail(EL_ERR_FORMAT, "%s: %s: not a PNG file (it lacks the PNG signature)",
                        job->fn, job->name);
    job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
    if (job->png) job->info = png_create_info_struct(job->png);
    el_status s = EL_OK;
    if (!job->png || !job->info)
        s = el__fail(EL_ERR_NOMEM, "%s: %s: out of memory", job->fn, job->name);
    else if (!decode(job))
        s = el__fail(job->out_of_memory ? EL_ERR_NOMEM : EL_ERR_FORMAT, "%s: %s: %s%s", job->fn,
                     job->name, job->out_of_memory ? "" : "damaged PNG: ", job->message);
    png_destroy_read_struct(&job->png, &job->info, NULL);
    el__free(job->rows);
    if (s) {
        el__free(job->pixels);
        return s;
    }
    *out = (el_image){job->width, job->height, job->channels, job->pixels};
    return EL_OK;
}

static el_status read_memory(const char *fn, el_image *out, const void *data, size_t size,
                             const char *name, int channels)
{
    if (channels != 1 && channels != 3)
        return el__fail(EL_ERR_INVALID, "%s: channels is %d, expected 1 (gray) or 3 (RGB)", fn,
                        channels);
    png_job job = {.fn = fn, .name = name, .in = data, .in_size = size, .channels = channels};
    return read_png(&job, out);
}

el_status el_png_read_memory(el_image *out, const void *data, size_t size, const char *name,
                             int channels)
{
    const char *fn = "el_png_read_memory";
    EL_REQUIRE(out, fn);
    *out = (el_image){0};
    if (!data && size) return el__fail(EL_ERR_INVALID, "%s: data is NULL", fn);
    return read_memory(fn, out, data ? data : (const void *)"", size, name ? name : "(memory)",
                       channels);
}

/* The whole file in memory: PNG files are small next to their pixels. */
static el_status read_whole_file(const char *fn, const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return el__fail(EL_ERR_IO, "%s: %s: %s", fn, path, strerror(errno));
    uint8_t *buffer = NULL;
    size_t length = 0, capacity = 0;
    el_status s = EL_OK;
    for (;;) {
        if (length == capacity) {
            capacity = capacity ? 2 * capacity : 65536;
            uint8_t *bigger = el__realloc(buffer, capacity);
            if (!bigger) {
                s = el__fail(EL_ERR_NOMEM, "%s: %s: out of memory", fn, path);
                break;
            }
            buffer = bigger;
        }
        size_t got = fread(buffer + length, 1, capacity - length, f);
        length += got;
        if (got == 0) {
            if (ferror(f)) s = el__fail(EL_ERR_IO, "%s: %s: %s", fn, path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (s) {
        el__free(buffer);
        return s;
    }
    *data = buffer;
    *size = length;
    return EL_OK;
}

el_status el_png_read(el_image *out, const char *path, int channels)
{
    const char *fn = "el_png_read";
    EL_REQUIRE(out, fn);
    *out = (el_image){0};
    EL_REQUIRE(path, fn);
    uint8_t *data = NULL;
    size_t size = 0;
    el_status s = read_whole_file(fn, path, &data, &size);
    if (!s) s = read_memory(fn, out, data, size, path, channels);
    el__free(data);
    return s;
}

/* ---- writing -------------------------------------------------------------- */

static void write_bytes(png_structp png, png_bytep data, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    if (n > job->out_capacity - job->out_size) {
        size_t capacity = job->out_capacity ? job->out_capacity : 65536;
        while (capacity - job->out_size < n) capacity *= 2;
        uint8_t *bigger = el__realloc(job->out, capacity);
        if (!bigger) {
            job->out_of_memory = 1;
            png_error(png, "out of memory");
        }
        job->out = bigger;
        job->out_capacity = capacity;
    }
    memcpy(job->out + job->out_size, data, n);
    job->out_size += n;
}

static void flush_nothing(png_structp png) {}

/* Returns 0 when libpng failed, with its message in job->message. */
static int encode(png_job *job)
{
    if (setjmp(png_jmpbuf(job->png))) return 0;
    png_structp png = job->png;
    const el_image *image = job->image;
    png_set_write_fn(png, job, write_bytes, flush_nothing);
    png_set_IHDR(png, job->info, (png_uint_32)image->width, (png_uint_32)image->height, 8,
                 image->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, job->info);
    size_t row_bytes = (size_t)image->width * (size_t)image->channels;
    for (int y = 0; y < image->height; y++) png_write_row(png, image->pixels + y * row_bytes);
    png_write_end(png, NULL);
    return 1;
}

el_status el_png_write(const el_image *image, const char *path)
{
    const char *fn = "el_png_write";
    EL_REQUIRE(image, fn);
    EL_REQUIRE(path, fn);
    el_status s = check_size(fn, image->width, image->height, image->channels);
    if (s) return s;
    if (!image->pixels) return el__fail(EL_ERR_INVALID, "%s: the image has no pixels (freed?)", fn);
    png_job job = {.fn = fn, .name = path, .image = image};
    job.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job, on_error, on_warning);
    if (job.png) job.info = png_create_info_struct(job.png);
    if (!job.png || !job.info)
        s = el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    else if (!encode(&job))
        s = el__fail(job.out_of_memory ? EL_ERR_NOMEM : EL_ERR_INVALID, "%s: %s: libpng: %s", fn,
                     path, job.message);
    png_destroy_write_struct(&job.png, &job.info);
    if (!s) s = el__write_file_atomically(fn, path, job.out, job.out_size);
    el__free(job.out);
    return s;
}

/* ---- for networks --------------------------------------------------------- */

el_status el_image_to_tensor(const el_image *image, el_tensor *out)
{
    const char *fn = "el_image_to_tensor";
    EL_REQUIRE(image, fn);
    EL_REQUIRE(out, fn);
    el_status s = check_size(fn, image->width, image->height, image->channels);
    if (s) return s;
    if (!image->pixels) return el__fail(EL_ERR_INVALID, "%s: the image has no pixels (freed?)", fn);
    int shape[3] = {image->channels, image->height, image->width};
    s = el__size_output(fn, "out", out, 3, shape);
    if (s) return s;
    size_t plane = (size_t)image->width * (size_t)image->height;
    for (int c = 0; c < image->channels; c++)
        for (size_t i = 0; i < plane; i++)
            out->data[(size_t)c * plane + i] =
                (float)image->pixels[i * (size_t)image->channels + (size_t)c] / 255.0f;
    return EL_OK;
}
