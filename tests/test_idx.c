/* IDX files (idx.h): small files built here byte by byte, plain and gzipped
 * through zlib, read back with the right types, dimensions and values;
 * el_idx_write's bytes are the format's; every damaged, truncated or lying
 * file is refused with EL_ERR_FORMAT and one line naming the file, never a
 * crash; running out of memory is EL_ERR_NOMEM without a leak; and the
 * installed Fashion-MNIST labels read as 10000 classes in 0..9. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
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

static void make_dir(void) { el_test_make_dir(dir, "idx"); }

static void remove_dir(void)
{
    if (dir[0]) el_test_remove_tree(dir);
}

TestSuite(idx, .init = make_dir, .fini = remove_dir);

static char *path_in(char path[static 256], const char *name)
{
    snprintf(path, 256, "%s/%s", dir, name);
    return path;
}

/* ---- files made by hand ------------------------------------------------ */

typedef struct bytes {
    unsigned char data[4096];
    size_t n;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    cr_assert_leq(b->n + n, sizeof b->data);
    memcpy(b->data + b->n, p, n);
    b->n += n;
}

static void put_be32(bytes *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(b, p, 4);
}

static void put_header(bytes *b, int type, int ndim, const uint32_t *dims)
{
    unsigned char magic[4] = {0, 0, (unsigned char)type, (unsigned char)ndim};
    put(b, magic, 4);
    for (int i = 0; i < ndim; i++) put_be32(b, dims[i]);
}

/* A 3x2x2 ubyte file of the values 0, 20, 40, ... 220. */
static bytes small_ubyte(void)
{
    bytes b = {0};
    put_header(&b, 0x08, 3, (uint32_t[]){3, 2, 2});
    for (int i = 0; i < 12; i++) put(&b, &(unsigned char){(unsigned char)(20 * i)}, 1);
    return b;
}

/* The n bytes at p as one gzip member (or several, when members > 1,
 * splitting the input evenly). */
static bytes gzip_of(const unsigned char *p, size_t n, int members)
{
    bytes out = {0};
    size_t done = 0;
    for (int m = 0; m < members; m++) {
        size_t part = m == members - 1 ? n - done : n / (size_t)members;
        z_stream z = {0};
        cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = (Bytef *)(p + done);
        z.avail_in = (uInt)part;
        z.next_out = out.data + out.n;
        z.avail_out = (uInt)(sizeof out.data - out.n);
        cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
        out.n = sizeof out.data - z.avail_out;
        deflateEnd(&z);
        done += part;
    }
    return out;
}

static void assert_small_ubyte(const el_idx *x)
{
    cr_assert_eq(x->type, EL_IDX_UBYTE);
    cr_assert_eq(x->ndim, 3);
    cr_assert_eq(x->dims[0], 3);
    cr_assert_eq(x->dims[1], 2);
    cr_assert_eq(x->dims[2], 2);
    cr_assert_eq(x->dims[3], 0);
    cr_assert_eq(x->count, 12);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(((const uint8_t *)x->data)[i], 20 * i, "element %d", i);
}

/* Reading the bytes from memory and from a file both fail with status and
 * a one-line message containing part (and the file's name). */
static void expect_refused_status(const bytes *b, el_status status, const char *part)
{
    el_idx x = {.count = 99};
    el_status s = el_idx_read_memory(&x, b->data, b->n, "bad.idx");
    cr_assert_eq(s, status, "got %s (%s), expected %s", el_status_name(s), el_last_error(),
                 el_status_name(status));
    cr_assert_null(x.data);
    cr_assert_eq(x.count, 0);
    assert_message_has("el_idx_read_memory: bad.idx: ");
    assert_message_has(part);
    char path[256];
    el_test_write_file(path_in(path, "bad.idx"), b->data, b->n);
    s = el_idx_read(&x, path);
    cr_assert_eq(s, status, "file: got %s (%s)", el_status_name(s), el_last_error());
    cr_assert_null(x.data);
    assert_message_has(path);
    assert_message_has(part);
}

static void expect_refused(const bytes *b, const char *part)
{
    expect_refused_status(b, EL_ERR_FORMAT, part);
}

/* ---- reading ----------------------------------------------------------- */

Test(idx, reads_a_plain_file)
{
    bytes b = small_ubyte();
    char path[256];
    el_test_write_file(path_in(path, "small-idx3-ubyte"), b.data, b.n);
    el_idx x = {0};
    EL_TEST_OK(el_idx_read(&x, path));
    assert_small_ubyte(&x);
    el_idx_free(&x);
    cr_assert_null(x.data);
    el_idx_free(&x); /* a second free is harmless */
}

Test(idx, reads_a_gzipped_file_as_the_plain_one)
{
    bytes plain = small_ubyte();
    char path[256];
    gzFile gz = gzopen(path_in(path, "small-idx3-ubyte.gz"), "wb");
    cr_assert_not_null(gz);
    cr_assert_eq(gzwrite(gz, plain.data, (unsigned)plain.n), (int)plain.n);
    cr_assert_eq(gzclose(gz), Z_OK);
    el_idx x = {0};
    EL_TEST_OK(el_idx_read(&x, path));
    assert_small_ubyte(&x);
    el_idx_free(&x);
}

Test(idx, reads_from_memory_plain_gzipped_and_in_several_gzip_members)
{
    bytes plain = small_ubyte();
    for (int members = 0; members <= 3; members++) {
        bytes b = members ? gzip_of(plain.data, plain.n, members) : plain;
        el_idx x = {0};
        EL_TEST_OK(el_idx_read_memory(&x, b.data, b.n, "small"));
        assert_small_ubyte(&x);
        el_idx_free(&x);
    }
}

Test(idx, reads_every_type_big_endian)
{
    bytes b = {0};
    put_header(&b, 0x0B, 1, (uint32_t[]){2});
    put(&b, (unsigned char[]){0x12, 0x34, 0xFF, 0xFE}, 4);
    el_idx x = {0};
    EL_TEST_OK(el_idx_read_memory(&x, b.data, b.n, "short"));
    cr_assert_eq(((int16_t *)x.data)[0], 0x1234);
    cr_assert_eq(((int16_t *)x.data)[1], -2);
    el_idx_free(&x);

    b = (bytes){0};
    put_header(&b, 0x0D, 1, (uint32_t[]){1});
    put(&b, (unsigned char[]){0x3F, 0xC0, 0x00, 0x00}, 4); /* 1.5f */
    EL_TEST_OK(el_idx_read_memory(&x, b.data, b.n, "float"));
    cr_assert_eq(((float *)x.data)[0], 1.5f);
    el_idx_free(&x);

    b = (bytes){0};
    put_header(&b, 0x0E, 1, (uint32_t[]){1});
    put(&b, (unsigned char[]){0xC0, 0x04, 0, 0, 0, 0, 0, 0}, 8); /* -2.5 */
    EL_TEST_OK(el_idx_read_memory(&x, b.data, b.n, "double"));
    cr_assert_eq(((double *)x.data)[0], -2.5);
    el_idx_free(&x);

    b = (bytes){0};
    put_header(&b, 0x0C, 1, (uint32_t[]){1});
    put(&b, (unsigned char[]){0x80, 0, 0, 1}, 4);
    EL_TEST_OK(el_idx_read_memory(&x, b.data, b.n, "int"));
    cr_assert_eq(((int32_t *)x.data)[0], INT32_MIN + 1);
    el_idx_free(&x);

    b = (bytes){0};
    put_header(&b, 0x09, 1, (uint32_t[]){1});
    put(&b, (unsigned char[]){0x80}, 1);
    EL_TEST_OK(el_idx_read_memory(&x, b.data, b.n, "sbyte"));
    cr_assert_eq(((int8_t *)x.data)[0], -128);
    el_idx_free(&x);
}

Test(idx, reads_a_file_with_no_elements)
{
    bytes b = {0};
    put_header(&b, 0x08, 2, (uint32_t[]){0, 28});
    el_idx x = {0};
    EL_TEST_OK(el_idx_read_memory(&x, b.data, b.n, "empty"));
    cr_assert_eq(x.count, 0);
    cr_assert_eq(x.dims[1], 28);
    cr_assert_null(x.data);
    el_idx_free(&x);
}

Test(idx, a_missing_file_is_an_io_error)
{
    char path[256];
    el_idx x = {0};
    EL_TEST_FAILS(el_idx_read(&x, path_in(path, "absent.gz")), EL_ERR_IO);
    assert_message_has(path);
    EL_TEST_FAILS(el_idx_read(&x, dir), EL_ERR_IO);
    EL_TEST_FAILS(el_idx_read(NULL, path), EL_ERR_INVALID);
    EL_TEST_FAILS(el_idx_read(&x, NULL), EL_ERR_INVALID);
}

/* ---- refusals ---------------------------------------------------------- */

Test(idx, refuses_a_wrong_magic_type_or_dimension_count)
{
    bytes b = small_ubyte();
    b.data[0] = 1;
    expect_refused(&b, "not an IDX file (it starts with 01 00, not 00 00)");
    b = small_ubyte();
    b.data[2] = 0x0A;
    expect_refused(&b, "unknown element type 0x0a");
    b = small_ubyte();
    b.data[3] = 0;
    expect_refused(&b, "0 dimensions (1 to 8 allowed)");
    b = small_ubyte();
    b.data[3] = 9;
    expect_refused(&b, "9 dimensions (1 to 8 allowed)");
    /* A PNG or a text is not an IDX file either. */
    b = (bytes){0};
    put(&b, "\x89PNG\r\n\x1a\n", 8);
    expect_refused(&b, "not an IDX file");
}

Test(idx, refuses_lying_dimensions_before_allocating)
{
    bytes b = {0};
    put_header(&b, 0x08, 1, (uint32_t[]){0x80000000u});
    expect_refused(&b, "dimension 0 is 2147483648, over the limit");
    b = (bytes){0};
    put_header(&b, 0x0E, 3, (uint32_t[]){65536, 65536, 65536});
    expect_refused(&b, "the dimensions 65536x65536x65536 hold more than 2147483648 bytes");
    /* A product past the limit stays refused when a later dimension is 0. */
    b = (bytes){0};
    put_header(&b, 0x08, 4, (uint32_t[]){65536, 65536, 65536, 0});
    expect_refused(&b, "hold more than");
    /* Claims 60000 images of 28x28 but holds 12 bytes. */
    b = (bytes){0};
    put_header(&b, 0x08, 3, (uint32_t[]){60000, 28, 28});
    put(&b, small_ubyte().data + 16, 12);
    expect_refused(&b, "the dimensions 60000x28x28 call for 47040000 bytes of data, the file holds "
                       "12 (truncated)");
}

Test(idx, refuses_every_truncation_and_trailing_bytes)
{
    bytes full = small_ubyte();
    for (size_t n = 0; n < full.n; n++) {
        bytes b = full;
        b.n = n;
        expect_refused(&b, n < 16 ? "truncated in the header" : "(truncated)");
    }
    bytes b = full;
    put(&b, "x", 1);
    expect_refused(&b, "call for 12 bytes of data, the file holds 13 (trailing bytes)");
}

Test(idx, refuses_every_truncation_of_a_gzipped_file)
{
    bytes plain = small_ubyte();
    bytes full = gzip_of(plain.data, plain.n, 1);
    for (size_t n = 2; n < full.n; n++) {
        bytes b = full;
        b.n = n;
        el_idx x = {0};
        el_status s = el_idx_read_memory(&x, b.data, b.n, "cut.gz");
        cr_assert_eq(s, EL_ERR_FORMAT, "%zu of %zu bytes: %s (%s)", n, full.n, el_status_name(s),
                     el_last_error());
        cr_assert_null(x.data);
    }
    bytes b = full;
    b.n = full.n - 1;
    expect_refused(&b, "the gzip data is truncated");
}

/* A flipped bit is caught by the deflate stream's structure or by gzip's
 * CRC-32 and length; only bits that gzip does not check (the header's time
 * and system fields, the padding after the last block) may pass, and then
 * the data must be the same. */
Test(idx, refuses_bit_flips_in_gzipped_data_or_reads_the_same)
{
    bytes plain = small_ubyte();
    bytes full = gzip_of(plain.data, plain.n, 1);
    int refused = 0, flips = 0;
    for (size_t i = 0; i < full.n; i++)
        for (int bit = 0; bit < 8; bit++, flips++) {
            bytes b = full;
            b.data[i] ^= (unsigned char)(1 << bit);
            el_idx x = {0};
            el_status s = el_idx_read_memory(&x, b.data, b.n, "flipped.gz");
            if (s == EL_OK) {
                assert_small_ubyte(&x);
                cr_assert_lt(i, full.n - 8, "a flip in the CRC or length at %zu passed", i);
            } else {
                cr_assert_eq(s, EL_ERR_FORMAT, "byte %zu bit %d: %s (%s)", i, bit,
                             el_status_name(s), el_last_error());
                refused++;
            }
            el_idx_free(&x);
        }
    cr_assert_gt(refused, flips * 3 / 4, "only %d of %d flips refused", refused, flips);
}

Test(idx, refuses_gzip_damage_and_what_follows_it)
{
    bytes plain = small_ubyte();
    bytes b = gzip_of(plain.data, plain.n, 1);
    b.data[b.n - 8] ^= 1; /* the CRC-32 */
    expect_refused(&b, "damaged gzip data (incorrect data check)");
    b = gzip_of(plain.data, plain.n, 1);
    put(&b, "junk", 4);
    expect_refused(&b, "4 bytes after the end of the gzip data");
    /* The inflated file holds a byte more than its dimensions. */
    bytes longer = small_ubyte();
    put(&longer, "x", 1);
    b = gzip_of(longer.data, longer.n, 1);
    expect_refused(&b, "the data goes on past 28 bytes, where its dimensions end");
    b = gzip_of(plain.data, 10, 1);
    expect_refused(&b, "truncated in the header: 10 bytes (after gunzip)");
    b = gzip_of(plain.data, plain.n - 1, 1);
    expect_refused(&b, "the file holds 11 (after gunzip) (truncated)");
    /* A header that is wrong is refused from the first inflated bytes. */
    bytes wrong = small_ubyte();
    wrong.data[2] = 0x07;
    b = gzip_of(wrong.data, wrong.n, 1);
    expect_refused(&b, "unknown element type 0x07");
}

/* A small gzip file that inflates to much more than its header declares is
 * stopped one byte past the end of the data, however long it goes on. */
Test(idx, stops_inflating_where_the_data_must_end)
{
    size_t n = 2 << 20;
    unsigned char *big = calloc(n, 1);
    cr_assert_not_null(big);
    bytes header = {0};
    put_header(&header, 0x08, 2, (uint32_t[]){2, 3});
    memcpy(big, header.data, header.n);
    bytes *b = malloc(sizeof *b);
    cr_assert_not_null(b);
    /* Level 9 packs 2 MB of zeros into about 2 kB. */
    z_stream z = {0};
    cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = big;
    z.avail_in = (uInt)n;
    z.next_out = b->data;
    z.avail_out = sizeof b->data;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    b->n = sizeof b->data - z.avail_out;
    deflateEnd(&z);
    expect_refused(b, "the data goes on past 18 bytes, where its dimensions end (trailing bytes)");
    free(b);
    free(big);
}

/* A file longer than any IDX file may be is refused from its size, before
 * anything is read or allocated (a sparse file: no disk space is used). */
Test(idx, refuses_a_file_over_the_limit_by_its_size)
{
    char path[256];
    bytes b = small_ubyte();
    el_test_write_file(path_in(path, "huge-idx3-ubyte"), b.data, b.n);
    cr_assert_eq(truncate(path, (off_t)EL_IDX_MAX_BYTES * 2), 0, "truncate: %s", strerror(errno));
    el_idx x = {0};
    EL_TEST_FAILS(el_idx_read(&x, path), EL_ERR_FORMAT);
    assert_message_has("4294967296 bytes, over the limit of an IDX file");
    cr_assert_null(x.data);
}

/* ---- writing ----------------------------------------------------------- */

/* An idx of type with elements 0, -1, 2, -3 ... (unsigned ones wrap). */
static void fill_idx(el_idx *x, el_idx_type type)
{
    EL_TEST_OK(el_idx_init(x, type, 2, (int[]){3, 5}));
    for (size_t i = 0; i < x->count; i++) {
        double v = (i % 2 ? -1.0 : 1.0) * (double)i * 37.25;
        switch (type) {
        case EL_IDX_UBYTE: ((uint8_t *)x->data)[i] = (uint8_t)(i * 17); break;
        case EL_IDX_SBYTE: ((int8_t *)x->data)[i] = (int8_t)(i % 2 ? -(int)i : (int)i); break;
        case EL_IDX_SHORT: ((int16_t *)x->data)[i] = (int16_t)v; break;
        case EL_IDX_INT: ((int32_t *)x->data)[i] = (int32_t)(v * 1000); break;
        case EL_IDX_FLOAT: ((float *)x->data)[i] = (float)v; break;
        case EL_IDX_DOUBLE: ((double *)x->data)[i] = v / 3; break;
        }
    }
}

Test(idx, round_trips_every_type_plain_and_gzipped)
{
    el_idx_type types[] = {EL_IDX_UBYTE, EL_IDX_SBYTE, EL_IDX_SHORT,
                           EL_IDX_INT,   EL_IDX_FLOAT, EL_IDX_DOUBLE};
    for (int t = 0; t < 6; t++)
        for (int gzip = 0; gzip <= 1; gzip++) {
            el_idx x = {0}, y = {0};
            fill_idx(&x, types[t]);
            char path[256];
            EL_TEST_OK(el_idx_write(&x, path_in(path, "out.idx"), gzip));
            size_t n = 0;
            unsigned char *raw = el_test_read_file(path, &n);
            cr_assert_eq(raw[0] == 0x1f && raw[1] == 0x8b, gzip, "type %x gzip %d", types[t], gzip);
            free(raw);
            EL_TEST_OK(el_idx_read(&y, path));
            cr_assert_eq(y.type, x.type);
            cr_assert_eq(y.ndim, 2);
            cr_assert_eq(y.dims[0], 3);
            cr_assert_eq(y.dims[1], 5);
            cr_assert_eq(y.count, x.count);
            cr_assert_eq(memcmp(x.data, y.data, x.count * el_idx_type_size(x.type)), 0,
                         "type %x gzip %d", types[t], gzip);
            el_idx_free(&x);
            el_idx_free(&y);
        }
    cr_assert_eq(el_test_count_entries(dir), 1, "a temporary file was left");
}

Test(idx, writes_the_formats_bytes)
{
    el_idx x = {0};
    EL_TEST_OK(el_idx_init(&x, EL_IDX_SHORT, 2, (int[]){1, 2}));
    ((int16_t *)x.data)[0] = 0x0102;
    ((int16_t *)x.data)[1] = -2;
    char path[256];
    EL_TEST_OK(el_idx_write(&x, path_in(path, "short.idx"), 0));
    size_t n = 0;
    unsigned char *raw = el_test_read_file(path, &n);
    const unsigned char want[] = {0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE};
    cr_assert_eq(n, sizeof want);
    cr_assert_eq(memcmp(raw, want, n), 0);
    free(raw);
    /* The gzipped file inflates, with zlib's own reader, to the same bytes. */
    EL_TEST_OK(el_idx_write(&x, path_in(path, "short.idx.gz"), 1));
    gzFile gz = gzopen(path, "rb");
    cr_assert_not_null(gz);
    unsigned char got[64];
    cr_assert_eq(gzread(gz, got, sizeof got), (int)sizeof want);
    gzclose(gz);
    cr_assert_eq(memcmp(got, want, sizeof want), 0);
    el_idx_free(&x);
}

Test(idx, a_failed_write_leaves_the_old_file)
{
    el_idx x = {0};
    fill_idx(&x, EL_IDX_UBYTE);
    char path[256];
    EL_TEST_OK(el_idx_write(&x, path_in(path, "keep.idx"), 0));
    el_idx bad = x;
    bad.count = 7; /* not 3 x 5 */
    EL_TEST_FAILS(el_idx_write(&bad, path, 1), EL_ERR_INVALID);
    assert_message_has("el_idx_write: the idx is not a valid one");
    el_idx y = {0};
    EL_TEST_OK(el_idx_read(&y, path));
    cr_assert_eq(y.count, 15);
    el_idx_free(&y);
    char missing[256];
    snprintf(missing, sizeof missing, "%s/no/such/dir.idx", dir);
    EL_TEST_FAILS(el_idx_write(&x, missing, 0), EL_ERR_IO);
    assert_message_has("el_idx_write: cannot create");
    cr_assert_eq(el_test_count_entries(dir), 1);
    el_idx_free(&x);
}

Test(idx, init_checks_its_arguments)
{
    el_idx x = {0};
    EL_TEST_FAILS(el_idx_init(&x, (el_idx_type)0x0A, 1, (int[]){1}), EL_ERR_INVALID);
    EL_TEST_FAILS(el_idx_init(&x, EL_IDX_UBYTE, 0, (int[]){1}), EL_ERR_INVALID);
    EL_TEST_FAILS(el_idx_init(&x, EL_IDX_UBYTE, 9, (int[9]){1}), EL_ERR_INVALID);
    EL_TEST_FAILS(el_idx_init(&x, EL_IDX_UBYTE, 2, (int[]){2, -1}), EL_ERR_INVALID);
    EL_TEST_FAILS(el_idx_init(&x, EL_IDX_DOUBLE, 2, (int[]){65536, 65536}), EL_ERR_INVALID);
    cr_assert_null(x.data);
    cr_assert_eq(el_idx_type_size(EL_IDX_DOUBLE), 8);
    cr_assert_eq(el_idx_type_size((el_idx_type)0x0A), 0);
}

/* ---- for networks ------------------------------------------------------ */

Test(idx, images_become_n_1_h_w_floats_in_0_1)
{
    bytes b = small_ubyte();
    el_idx x = {0};
    EL_TEST_OK(el_idx_read_memory(&x, b.data, b.n, "small"));
    el_tensor images = {0};
    EL_TEST_OK(el_idx_to_images(&x, &images));
    cr_assert_eq(images.ndim, 4);
    cr_assert_eq(images.shape[0], 3);
    cr_assert_eq(images.shape[1], 1);
    cr_assert_eq(images.shape[2], 2);
    cr_assert_eq(images.shape[3], 2);
    for (int i = 0; i < 12; i++) cr_assert_eq(images.data[i], (float)(20 * i) / 255.0f);
    el_tensor_free(&images);
    el_idx_free(&x);

    EL_TEST_OK(el_idx_init(&x, EL_IDX_UBYTE, 2, (int[]){3, 4}));
    EL_TEST_FAILS(el_idx_to_images(&x, &images), EL_ERR_SHAPE);
    assert_message_has("3x4 elements of type 0x08, expected N x H x W");
    el_idx_free(&x);
}

Test(idx, labels_are_checked_against_the_classes)
{
    bytes b = {0};
    put_header(&b, 0x08, 1, (uint32_t[]){4});
    put(&b, (unsigned char[]){9, 0, 3, 9}, 4);
    el_idx x = {0};
    EL_TEST_OK(el_idx_read_memory(&x, b.data, b.n, "labels"));
    int labels[4] = {0};
    EL_TEST_OK(el_idx_to_labels(&x, 10, labels, 4));
    cr_assert_arr_eq(labels, ((int[]){9, 0, 3, 9}), sizeof labels);
    EL_TEST_FAILS(el_idx_to_labels(&x, 9, labels, 4), EL_ERR_FORMAT);
    assert_message_has("el_idx_to_labels: label 0 is 9, not a class in 0..8");
    EL_TEST_FAILS(el_idx_to_labels(&x, 10, labels, 3), EL_ERR_SHAPE);
    EL_TEST_FAILS(el_idx_to_labels(&x, 0, labels, 4), EL_ERR_INVALID);
    el_idx_free(&x);

    EL_TEST_OK(el_idx_init(&x, EL_IDX_SBYTE, 1, (int[]){2}));
    ((int8_t *)x.data)[1] = -1;
    EL_TEST_FAILS(el_idx_to_labels(&x, 10, labels, 2), EL_ERR_FORMAT);
    assert_message_has("label 1 is -1");
    el_idx_free(&x);
    EL_TEST_OK(el_idx_init(&x, EL_IDX_FLOAT, 1, (int[]){2}));
    EL_TEST_FAILS(el_idx_to_labels(&x, 10, labels, 2), EL_ERR_SHAPE);
    el_idx_free(&x);
}

Test(idx, any_type_becomes_a_float_tensor)
{
    el_idx x = {0};
    fill_idx(&x, EL_IDX_SHORT);
    el_tensor t = {0};
    EL_TEST_OK(el_idx_to_tensor(&x, &t));
    cr_assert_eq(t.ndim, 2);
    cr_assert_eq(t.shape[0], 3);
    cr_assert_eq(t.shape[1], 5);
    for (size_t i = 0; i < x.count; i++) cr_assert_eq(t.data[i], ((int16_t *)x.data)[i]);
    el_idx_free(&x);
    EL_TEST_OK(el_idx_init(&x, EL_IDX_UBYTE, 5, (int[]){1, 1, 1, 1, 1}));
    EL_TEST_FAILS(el_idx_to_tensor(&x, &t), EL_ERR_SHAPE);
    el_idx_free(&x);
    el_tensor_free(&t);
}

/* ---- running out of memory --------------------------------------------- */

Test(idx, out_of_memory_anywhere_is_nomem_without_a_leak)
{
    bytes plain = small_ubyte();
    bytes gz = gzip_of(plain.data, plain.n, 1);
    char path[256];
    el_test_write_file(path_in(path, "small.gz"), gz.data, gz.n);
    int failures = 0;
    for (long n = 0; n < 20; n++) {
        el_idx x = {0};
        el__fail_allocations_after(n);
        el_status s = el_idx_read(&x, path);
        el__fail_allocations_after(-1);
        if (s == EL_OK) {
            assert_small_ubyte(&x);
            el_idx_free(&x);
            break;
        }
        cr_assert_eq(s, EL_ERR_NOMEM, "after %ld allocations: %s", n, el_last_error());
        cr_assert_null(x.data);
        failures++;
        el_test_assert_no_leaks();
    }
    cr_assert_geq(failures, 3, "every allocation of the read should have failed once");
    el_test_assert_no_leaks();
}

/* ---- the real data set ------------------------------------------------- */

#define FASHION_LABELS "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"

Test(idx, reads_the_installed_fashion_mnist_labels)
{
    if (access(FASHION_LABELS, R_OK) != 0)
        cr_skip_test("%s is not installed (Debian's dataset-fashion-mnist)", FASHION_LABELS);
    el_idx x = {0};
    EL_TEST_OK(el_idx_read(&x, FASHION_LABELS));
    cr_assert_eq(x.type, EL_IDX_UBYTE);
    cr_assert_eq(x.ndim, 1);
    cr_assert_eq(x.dims[0], 10000);
    int *labels = malloc(10000 * sizeof *labels);
    cr_assert_not_null(labels);
    EL_TEST_OK(el_idx_to_labels(&x, 10, labels, x.count));
    int seen[10] = {0};
    for (int i = 0; i < 10000; i++) seen[labels[i]]++;
    /* The test set is balanced: 1000 of each class. */
    for (int c = 0; c < 10; c++) cr_assert_eq(seen[c], 1000, "class %d", c);
    free(labels);
    el_idx_free(&x);
}
