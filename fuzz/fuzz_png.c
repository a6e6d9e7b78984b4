/* The PNG reader on arbitrary bytes, asked for gray and for RGB: both
 * refuse the bytes with EL_ERR_FORMAT and an empty image, or both read an
 * image of the same size within the limits, whose pixels the conversion
 * to a tensor keeps. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elman/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken property becomes a crash, which libFuzzer reports with the input. */
static void check(int holds, const char *what)
{
    if (holds) return;
    fprintf(stderr, "fuzz_png: %s does not hold (last error: %s)\n", what, el_last_error());
    abort();
}

static void check_image(const el_image *image, int channels)
{
    check(image->channels == channels, "the image has the channels asked for");
    check(image->width >= 1 && image->width <= EL_IMAGE_MAX_SIDE, "the width is in range");
    check(image->height >= 1 && image->height <= EL_IMAGE_MAX_SIDE, "the height is in range");
    check((size_t)image->width * (size_t)image->height <= EL_IMAGE_MAX_PIXELS,
          "the pixel count is in range");
    check(image->pixels != NULL, "an image has pixels");
    el_tensor t = {0};
    check(el_image_to_tensor(image, &t) == EL_OK, "el_image_to_tensor succeeds");
    size_t n = t.size;
    check(n == (size_t)image->width * (size_t)image->height * (size_t)channels,
          "the tensor has every sample");
    /* The last sample, which ASan checks lies inside the pixels. */
    check(t.data[n - 1] == (float)image->pixels[n - 1] / 255.0f, "the last sample converts");
    el_tensor_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    el_image gray, rgb;
    memset(&gray, 0xA5, sizeof gray); /* the reader must reset them */
    memset(&rgb, 0xA5, sizeof rgb);
    el_status s_gray = el_png_read_memory(&gray, data, size, "fuzz", 1);
    el_status s_rgb = el_png_read_memory(&rgb, data, size, "fuzz", 3);
    check(s_gray == s_rgb, "gray and RGB reads agree on the file");
    if (s_gray) {
        check(s_gray == EL_ERR_FORMAT, "a refusal is EL_ERR_FORMAT");
        check(gray.pixels == NULL && gray.width == 0 && rgb.pixels == NULL,
              "a refusal leaves an empty image");
        return 0;
    }
    check_image(&gray, 1);
    check_image(&rgb, 3);
    check(gray.width == rgb.width && gray.height == rgb.height, "both reads have the same size");
    el_image_free(&gray);
    el_image_free(&rgb);
    return 0;
}
