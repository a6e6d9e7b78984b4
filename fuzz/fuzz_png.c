/* The PNG reader on arbitrary bytes, asked for gray and for RGB: both
 * refuse the bytes with EL_ERR_FORMAT and an empty image, or both read an
 * image of the same size within the limits, whose pixels the conversion
 * to a tensor keeps. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "elman/image.h"

static void check_image(const el_image *image, int channels)
{
    FUZZ_CHECK(image->channels == channels);
    FUZZ_CHECK(image->width >= 1 && image->width <= EL_IMAGE_MAX_SIDE);
    FUZZ_CHECK(image->height >= 1 && image->height <= EL_IMAGE_MAX_SIDE);
    FUZZ_CHECK((size_t)image->width * (size_t)image->height <= EL_IMAGE_MAX_PIXELS);
    FUZZ_CHECK(image->pixels != NULL);
    el_tensor t = {0};
    FUZZ_CHECK(el_image_to_tensor(image, &t) == EL_OK);
    size_t n = t.size;
    FUZZ_CHECK(n == (size_t)image->width * (size_t)image->height * (size_t)channels);
    /* The last sample, which ASan checks lies inside the pixels. */
    FUZZ_CHECK(t.data[n - 1] == (float)image->pixels[n - 1] / 255.0f);
    el_tensor_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    el_image gray, rgb;
    memset(&gray, 0xA5, sizeof gray); /* the reader must reset them */
    memset(&rgb, 0xA5, sizeof rgb);
    el_status s_gray = el_png_read_memory(&gray, data, size, "fuzz", 1);
    el_status s_rgb = el_png_read_memory(&rgb, data, size, "fuzz", 3);
    FUZZ_CHECK(s_gray == s_rgb);
    if (s_gray) {
        FUZZ_CHECK(s_gray == EL_ERR_FORMAT);
        FUZZ_CHECK(gray.pixels == NULL && gray.width == 0 && rgb.pixels == NULL);
        return 0;
    }
    check_image(&gray, 1);
    check_image(&rgb, 3);
    FUZZ_CHECK(gray.width == rgb.width && gray.height == rgb.height);
    el_image_free(&gray);
    el_image_free(&rgb);
    return 0;
}
