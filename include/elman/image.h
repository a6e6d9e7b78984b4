/* elman: 8-bit images and PNG files.
 *
 * An image is height rows of width pixels, each pixel one byte (gray) or
 * three (red, green, blue), rows one after the other with no padding.
 * PNG files are read and written through libpng.  Reading converts any PNG
 * to the channels asked for: a palette is expanded, gray of 1, 2 or 4 bits
 * widened, 16-bit samples scaled to 8, an alpha channel dropped, colour
 * turned to gray with the ITU-R 709 weights libpng uses by default, and gray
 * repeated into red, green and blue.  A damaged or truncated file is refused
 * with EL_ERR_FORMAT and one line naming the file and libpng's diagnosis; a
 * missing one is EL_ERR_IO.  Writing goes to a temporary file renamed over
 * the target, so an interrupted save leaves the old file intact. */
#ifndef ELMAN_IMAGE_H
#define ELMAN_IMAGE_H

#include <stddef.h>

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The widest and tallest image read or made, and the most pixels, so that a
 * damaged header cannot ask for all memory. */
#define EL_IMAGE_MAX_SIDE 16384
#define EL_IMAGE_MAX_PIXELS ((size_t)1 << 26)

/* A value type: zero it (el_image im = {0}), fill it with el_image_init or
 * el_png_read, release it with el_image_free. */
typedef struct el_image {
    int width;
    int height;
    int channels;          /* 1 (gray) or 3 (RGB) */
    unsigned char *pixels; /* height * width * channels bytes, row by row */
} el_image;

/* Gives a zeroed or freed image the size, with all pixels 0 (black). */
EL_API el_status el_image_init(el_image *image, int width, int height, int channels);

/* Frees the pixels and zeroes image; safe on a zeroed or freed one. */
EL_API void el_image_free(el_image *image);

/* Reads a PNG file into a zeroed or freed out, converted to channels (1 for
 * gray, 3 for RGB). */
EL_API el_status el_png_read(el_image *out, const char *path, int channels);

/* The same from a PNG held in memory; name stands for the file in
 * messages. */
EL_API el_status el_png_read_memory(el_image *out, const void *data, size_t size, const char *name,
                                    int channels);

/* Writes an 8-bit gray or RGB PNG atomically (temporary file, fsync,
 * rename). */
EL_API el_status el_png_write(const el_image *image, const char *path);

/* The image as a (channels, height, width) tensor of pixel / 255, in
 * [0, 1], the layout a convolution takes. */
EL_API el_status el_image_to_tensor(const el_image *image, el_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
