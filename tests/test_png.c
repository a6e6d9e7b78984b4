/* PNG files (image.h): gray and RGB images round-trip through el_png_write
 * and el_png_read; PNGs that libpng writes here in other forms (palette,
 * 1-bit and 16-bit gray, alpha, Adam7 interlacing) read as 8-bit gray or
 * RGB with the values the conversions promise; every truncated or damaged
 * file is refused with EL_ERR_FORMAT and one line naming it, never a crash;
 * a failed save leaves the old file; running out of memory is EL_ERR_NOMEM
 * without a leak. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/internal.h"
#include "support.h"

static void assert_message_has(const char *part)
{
    cr_assert(strstr(el_last_error(), part) != NULL, "message \"%s\" lacks \"%s\"", el_last_error(),
              part);
    cr_assert(strchr(el_last_error(), '\n') == NULL, "message \"%s\" is not one line",
              el_last_error());
}

/* ---- a temporary directory per test ------------------------------------ */

static char dir[64];

static void make_dir(void) { el_test_make_dir(dir, "png"); }

static void remove_dir(void)
{
    if (dir[0]) el_test_remove_tree(dir);
}

TestSuite(png, .init = make_dir, .fini = remove_dir);

static char *path_in(char path[static 256], const char *name)
{
    snprintf(path, 256, "%s/%s", dir, name);
    return path;
}

/* ---- PNGs written here by libpng in any form --------------------------- */

typedef struct png_spec {
    int width, height;
    int color_type, bit_depth, interlace;
    const unsigned char *rows; /* height rows of packed samples, big-endian */
    const png_color *palette;
    int palette_size;
} png_spec;

static void write_png_with_libpng(const char *path, const png_spec *spec)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    cr_assert_not_null(png);
    png_infop info = png_create_info_struct(png);
    cr_assert_not_null(info);
    if (setjmp(png_jmpbuf(png))) cr_assert_fail("libpng could not write %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)spec->width, (png_uint_32)spec->height, spec->bit_depth,
                 spec->color_type, spec->interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (spec->palette) png_set_PLTE(png, info, spec->palette, spec->palette_size);
    png_write_info(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    png_bytep rows[64];
    cr_assert_leq(spec->height, 64);
    for (int y = 0; y < spec->height; y++) rows[y] = (png_bytep)spec->rows + (size_t)y * row_bytes;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    cr_assert_eq(fclose(f), 0);
}

static el_image read_ok(const char *path, int channels)
{
    el_image image = {0};
    EL_TEST_OK(el_png_read(&image, path, channels));
    cr_assert_eq(image.channels, channels);
    return image;
}

/* A gray gradient of width x height. */
static el_image gradient(int width, int height, int channels)
{
    el_image image = {0};
    EL_TEST_OK(el_image_init(&image, width, height, channels));
    size_t n = (size_t)width * (size_t)height * (size_t)channels;
    for (size_t i = 0; i < n; i++) image.pixels[i] = (unsigned char)(i * 37 + 11);
    return image;
}

/* ---- round trips -------------------------------------------------------- */

Test(png, gray_and_rgb_round_trip)
{
    for (int channels = 1; channels <= 3; channels += 2) {
        el_image image = gradient(7, 5, channels);
        char path[256];
        EL_TEST_OK(el_png_write(&image, path_in(path, "image.png")));
        size_t n = 0;
        unsigned char *raw = el_test_read_file(path, &n);
        cr_assert_eq(memcmp(raw, "\x89PNG\r\n\x1a\n", 8), 0);
        cr_assert_eq(raw[25], channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB);
        free(raw);
        el_image back = read_ok(path, channels);
        cr_assert_eq(back.width, 7);
        cr_assert_eq(back.height, 5);
        cr_assert_eq(memcmp(back.pixels, image.pixels, 7 * 5 * (size_t)channels), 0);
        el_image_free(&back);
        el_image_free(&image);
        el_image_free(&image); /* a second free is harmless */
    }
    cr_assert_eq(el_test_count_entries(dir), 1, "a temporary file was left");
}

Test(png, gray_reads_as_rgb_and_rgb_as_gray)
{
    el_image gray = gradient(4, 3, 1);
    char path[256];
    EL_TEST_OK(el_png_write(&gray, path_in(path, "gray.png")));
    el_image rgb = read_ok(path, 3);
    for (int i = 0; i < 12; i++)
        for (int c = 0; c < 3; c++) cr_assert_eq(rgb.pixels[3 * i + c], gray.pixels[i]);
    el_image_free(&rgb);
    el_image_free(&gray);

    rgb = gradient(4, 3, 3);
    EL_TEST_OK(el_png_write(&rgb, path_in(path, "rgb.png")));
    gray = read_ok(path, 1);
    for (int i = 0; i < 12; i++) {
        const unsigned char *p = rgb.pixels + 3 * i;
        double want = 0.21268 * p[0] + 0.71514 * p[1] + 0.07218 * p[2];
        cr_assert(abs(gray.pixels[i] - (int)(want + 0.5)) <= 1, "pixel %d: %d, expected %.1f", i,
                  gray.pixels[i], want);
    }
    el_image_free(&rgb);
    el_image_free(&gray);
}

Test(png, palette_images_read_as_their_colours)
{
    const png_color palette[3] = {{255, 0, 0}, {0, 0, 255}, {255, 255, 255}};
    const unsigned char indices[2 * 3] = {0, 1, 2, 2, 1, 0};
    png_spec spec = {3, 2, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, indices, palette, 3};
    char path[256];
    write_png_with_libpng(path_in(path, "palette.png"), &spec);
    el_image rgb = read_ok(path, 3);
    for (int i = 0; i < 6; i++) {
        const png_color *want = &palette[indices[i]];
        cr_assert_eq(rgb.pixels[3 * i], want->red, "pixel %d", i);
        cr_assert_eq(rgb.pixels[3 * i + 1], want->green, "pixel %d", i);
        cr_assert_eq(rgb.pixels[3 * i + 2], want->blue, "pixel %d", i);
    }
    el_image_free(&rgb);
    el_image gray = read_ok(path, 1);
    cr_assert_eq(gray.pixels[2], 255); /* white */
    cr_assert(abs(gray.pixels[0] - 54) <= 1, "red as gray: %d", gray.pixels[0]);
    cr_assert(abs(gray.pixels[1] - 18) <= 1, "blue as gray: %d", gray.pixels[1]);
    el_image_free(&gray);
}

Test(png, sixteen_bit_gray_scales_to_eight)
{
    unsigned char samples[2 * 4 * 2];
    for (int i = 0; i < 8; i++) {
        unsigned v = (unsigned)(i * 31) * 257; /* 8-bit i * 31 widened exactly */
        samples[2 * i] = (unsigned char)(v >> 8);
        samples[2 * i + 1] = (unsigned char)v;
    }
    png_spec spec = {4, 2, PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE, samples, NULL, 0};
    char path[256];
    write_png_with_libpng(path_in(path, "gray16.png"), &spec);
    el_image gray = read_ok(path, 1);
    cr_assert_eq(gray.width, 4);
    cr_assert_eq(gray.height, 2);
    for (int i = 0; i < 8; i++) cr_assert_eq(gray.pixels[i], i * 31, "pixel %d", i);
    el_image_free(&gray);
}

Test(png, one_bit_gray_widens_to_black_and_white)
{
    const unsigned char bits[2] = {0xA0, 0x50}; /* rows 1010, 0101 */
    png_spec spec = {4, 2, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE, bits, NULL, 0};
    char path[256];
    write_png_with_libpng(path_in(path, "bits.png"), &spec);
    el_image gray = read_ok(path, 1);
    const unsigned char want[8] = {255, 0, 255, 0, 0, 255, 0, 255};
    cr_assert_arr_eq(gray.pixels, want, 8);
    el_image_free(&gray);
}

Test(png, alpha_is_dropped)
{
    const unsigned char ga[4] = {10, 255, 200, 0}; /* gray, alpha */
    png_spec spec = {2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE, ga, NULL, 0};
    char path[256];
    write_png_with_libpng(path_in(path, "ga.png"), &spec);
    el_image gray = read_ok(path, 1);
    cr_assert_eq(gray.pixels[0], 10);
    cr_assert_eq(gray.pixels[1], 200);
    el_image_free(&gray);

    unsigned char rgba16[8 * 2] = {0};
    for (int c = 0; c < 3; c++) rgba16[2 * c] = rgba16[2 * c + 1] = (unsigned char)(50 + 60 * c);
    rgba16[6] = rgba16[7] = 0x80;
    spec = (png_spec){1, 1, PNG_COLOR_TYPE_RGB_ALPHA, 16, PNG_INTERLACE_NONE, rgba16, NULL, 0};
    write_png_with_libpng(path_in(path, "rgba16.png"), &spec);
    el_image rgb = read_ok(path, 3);
    cr_assert_eq(rgb.pixels[0], 50);
    cr_assert_eq(rgb.pixels[1], 110);
    cr_assert_eq(rgb.pixels[2], 170);
    el_image_free(&rgb);
}

Test(png, interlaced_images_read_whole)
{
    unsigned char pixels[9 * 9];
    for (int i = 0; i < 81; i++) pixels[i] = (unsigned char)(i * 3);
    png_spec spec = {9, 9, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_ADAM7, pixels, NULL, 0};
    char path[256];
    write_png_with_libpng(path_in(path, "adam7.png"), &spec);
    el_image gray = read_ok(path, 1);
    cr_assert_arr_eq(gray.pixels, pixels, 81);
    el_image_free(&gray);
}

Test(png, reads_from_memory)
{
    el_image image = gradient(6, 2, 1);
    char path[256];
    EL_TEST_OK(el_png_write(&image, path_in(path, "m.png")));
    size_t n = 0;
    unsigned char *raw = el_test_read_file(path, &n);
    el_image back = {0};
    EL_TEST_OK(el_png_read_memory(&back, raw, n, "m.png", 1));
    cr_assert_arr_eq(back.pixels, image.pixels, 12);
    el_image_free(&back);
    el_image_free(&image);
    free(raw);
}

/* ---- refusals ----------------------------------------------------------- */

Test(png, a_missing_file_or_bad_arguments_are_refused)
{
    char path[256];
    el_image image = {0};
    EL_TEST_FAILS(el_png_read(&image, path_in(path, "absent.png"), 1), EL_ERR_IO);
    assert_message_has(path);
    EL_TEST_FAILS(el_png_read(&image, path, 2), EL_ERR_IO);
    EL_TEST_FAILS(el_png_read_memory(&image, "x", 1, "x", 2), EL_ERR_INVALID);
    assert_message_has("channels is 2, expected 1 (gray) or 3 (RGB)");
    EL_TEST_FAILS(el_png_read(NULL, path, 1), EL_ERR_INVALID);
    EL_TEST_FAILS(el_image_init(&image, 0, 3, 1), EL_ERR_INVALID);
    EL_TEST_FAILS(el_image_init(&image, 3, 3, 4), EL_ERR_INVALID);
    EL_TEST_FAILS(el_image_init(&image, 16385, 1, 1), EL_ERR_INVALID);
    EL_TEST_FAILS(el_image_init(&image, 16384, 16384, 1), EL_ERR_INVALID);
    cr_assert_null(image.pixels);
}

/* Reads must fail with EL_ERR_FORMAT and a message naming the file. */
static void expect_refused(const unsigned char *data, size_t n, const char *part)
{
    el_image image = {.width = 3};
    el_status s = el_png_read_memory(&image, data, n, "bad.png", 1);
    cr_assert_eq(s, EL_ERR_FORMAT, "%zu bytes: got %s (%s)", n, el_status_name(s), el_last_error());
    cr_assert_null(image.pixels);
    cr_assert_eq(image.width, 0);
    assert_message_has("el_png_read_memory: bad.png: ");
    assert_message_has(part);
}

Test(png, refuses_what_is_not_a_png)
{
    expect_refused((const unsigned char *)"", 0, "not a PNG file");
    expect_refused((const unsigned char *)"\x89PNG", 4, "not a PNG file");
    expect_refused((const unsigned char *)"\0\0\x08\x01\0\0\0\x01\x05", 9, "not a PNG file");
}

Test(png, refuses_every_truncation)
{
    el_image image = gradient(5, 4, 3);
    char path[256];
    EL_TEST_OK(el_png_write(&image, path_in(path, "t.png")));
    size_t n = 0;
    unsigned char *raw = el_test_read_file(path, &n);
    for (size_t cut = 0; cut < n; cut++) expect_refused(raw, cut, cut < 8 ? "not a PNG file" : "");
    expect_refused(raw, 8 + 8 + 13, "damaged PNG: the file is truncated");
    free(raw);
    el_image_free(&image);
}

/* A flipped bit is caught by a chunk's CRC or by the zlib stream's checks;
 * the one exception libpng allows is a changed image-data length that still
 * inflates, which must then still give an image of the same size. */
Test(png, refuses_bit_flips)
{
    el_image image = gradient(5, 4, 1);
    char path[256];
    EL_TEST_OK(el_png_write(&image, path_in(path, "f.png")));
    size_t n = 0;
    unsigned char *raw = el_test_read_file(path, &n);
    int refused = 0, flips = 0;
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++, flips++) {
            raw[i] ^= (unsigned char)(1 << bit);
            el_image back = {0};
            el_status s = el_png_read_memory(&back, raw, n, "flipped.png", 1);
            raw[i] ^= (unsigned char)(1 << bit);
            if (s == EL_OK) {
                cr_assert_eq(back.width, 5, "byte %zu bit %d", i, bit);
                cr_assert_eq(back.height, 4, "byte %zu bit %d", i, bit);
            } else {
                cr_assert_eq(s, EL_ERR_FORMAT, "byte %zu bit %d: %s (%s)", i, bit,
                             el_status_name(s), el_last_error());
                refused++;
            }
            el_image_free(&back);
        }
    cr_assert_gt(refused, flips * 9 / 10, "only %d of %d flips refused", refused, flips);
    free(raw);
    el_image_free(&image);
}

/* Sets IHDR's width in a PNG that el_png_write made, with a right CRC. */
static void set_width(unsigned char *raw, uint32_t width)
{
    for (int b = 0; b < 4; b++) raw[16 + b] = (unsigned char)(width >> (24 - 8 * b));
    uint32_t crc = (uint32_t)crc32(0, raw + 12, 4 + 13);
    for (int b = 0; b < 4; b++) raw[29 + b] = (unsigned char)(crc >> (24 - 8 * b));
}

Test(png, refuses_huge_or_lying_sizes)
{
    el_image image = gradient(2, 2, 1);
    char path[256];
    EL_TEST_OK(el_png_write(&image, path_in(path, "s.png")));
    size_t n = 0;
    unsigned char *raw = el_test_read_file(path, &n);
    set_width(raw, 20000);
    expect_refused(raw, n, "damaged PNG: ");
    set_width(raw, 0);
    expect_refused(raw, n, "damaged PNG: ");
    /* Wider than the data that follows: the image data runs out. */
    set_width(raw, 300);
    expect_refused(raw, n, "damaged PNG: ");
    free(raw);
    el_image_free(&image);
}

/* ---- writing ------------------------------------------------------------ */

Test(png, a_failed_write_leaves_the_old_file)
{
    el_image image = gradient(3, 3, 1);
    char path[256];
    EL_TEST_OK(el_png_write(&image, path_in(path, "keep.png")));
    el_image bad = image;
    bad.channels = 2;
    EL_TEST_FAILS(el_png_write(&bad, path), EL_ERR_INVALID);
    bad = image;
    bad.pixels = NULL;
    EL_TEST_FAILS(el_png_write(&bad, path), EL_ERR_INVALID);
    assert_message_has("el_png_write: the image has no pixels");
    char missing[256];
    snprintf(missing, sizeof missing, "%s/no/such/dir.png", dir);
    EL_TEST_FAILS(el_png_write(&image, missing), EL_ERR_IO);
    assert_message_has("el_png_write: cannot create");
    el_image back = read_ok(path, 1);
    cr_assert_arr_eq(back.pixels, image.pixels, 9);
    cr_assert_eq(el_test_count_entries(dir), 1);
    el_image_free(&back);
    el_image_free(&image);
}

Test(png, images_become_planar_tensors_in_0_1)
{
    el_image image = gradient(2, 2, 3);
    el_tensor t = {0};
    EL_TEST_OK(el_image_to_tensor(&image, &t));
    cr_assert_eq(t.ndim, 3);
    cr_assert_eq(t.shape[0], 3);
    cr_assert_eq(t.shape[1], 2);
    cr_assert_eq(t.shape[2], 2);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++)
            cr_assert_eq(t.data[4 * c + i], (float)image.pixels[3 * i + c] / 255.0f);
    el_tensor_free(&t);
    el_image_free(&image);
}

/* ---- running out of memory ---------------------------------------------- */

Test(png, out_of_memory_anywhere_is_nomem_without_a_leak)
{
    el_image image = gradient(8, 8, 3);
    char path[256];
    path_in(path, "oom.png");
    int failures = 0;
    for (long n = 0; n < 20; n++) {
        el__fail_allocations_after(n);
        el_status s = el_png_write(&image, path);
        el__fail_allocations_after(-1);
        if (s == EL_OK) break;
        cr_assert_eq(s, EL_ERR_NOMEM, "write after %ld allocations: %s", n, el_last_error());
        failures++;
        el_test_assert_no_leaks();
    }
    cr_assert_geq(failures, 1);
    failures = 0;
    for (long n = 0; n < 20; n++) {
        el_image back = {0};
        el__fail_allocations_after(n);
        el_status s = el_png_read(&back, path, 3);
        el__fail_allocations_after(-1);
        if (s == EL_OK) {
            cr_assert_arr_eq(back.pixels, image.pixels, 8 * 8 * 3);
            el_image_free(&back);
            break;
        }
        cr_assert_eq(s, EL_ERR_NOMEM, "read after %ld allocations: %s", n, el_last_error());
        cr_assert_null(back.pixels);
        failures++;
        el_test_assert_no_leaks();
    }
    cr_assert_geq(failures, 3, "every allocation of the read should have failed once");
    el_image_free(&image);
    el_test_assert_no_leaks();
}
