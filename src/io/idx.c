/* IDX files (idx.h): reading plain and gzipped ones with every size checked
 * before anything is allocated for it, and writing both forms. */
#define _POSIX_C_SOURCE 200809L /* fstat's S_ISREG */

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "elman/idx.h"
#include "io/atomic_write.h"
#include "core/internal.h"

/* The longest valid file: the magic, the most dimensions, the most data. */
#define MAX_FILE_BYTES (4 + 4 * EL_IDX_MAX_DIMS + EL_IDX_MAX_BYTES)

size_t el_idx_type_size(el_idx_type type)
{
    switch (type) {
    case EL_IDX_UBYTE:
    case EL_IDX_SBYTE: return 1;
    case EL_IDX_SHORT: return 2;
    case EL_IDX_INT:
    case EL_IDX_FLOAT: return 4;
    case EL_IDX_DOUBLE: return 8;
    }
    return 0;
}

static uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* "60000x28x28", for messages. */
static const char *dims_string(char buf[static 128], int ndim, const int *dims)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && used < 128; i++)
        used += (size_t)snprintf(buf + used, 128 - used, i ? "x%d" : "%d", dims[i]);
    return buf;
}

/* ---- the header ----------------------------------------------------------- */

typedef struct idx_header {
    el_idx_type type;
    int ndim;
    int dims[EL_IDX_MAX_DIMS];
    size_t count;        /* elements */
    size_t header_bytes; /* 0 while the header is incomplete */
    size_t total_bytes;  /* header and data: where the file must end */
} idx_header;

/* Checks the header at the start of the n bytes at p.  A wrong header fails
 * as soon as the bytes show it; a right one that does not fit in n bytes
 * yet leaves h->header_bytes 0, so that a gzipped file can be checked while
 * it is inflated. */
static el_status check_header(const char *fn, const char *name, const uint8_t *p, size_t n,
                              idx_header *h)
{
    *h = (idx_header){0};
    if (n >= 2 && (p[0] != 0 || p[1] != 0))
        return el__fail(EL_ERR_FORMAT,
                        "%s: %s: not an IDX file (it starts with %02x %02x, not 00 00)", fn, name,
                        p[0], p[1]);
    if (n < 4) return EL_OK;
    h->type = (el_idx_type)p[2];
    size_t size = el_idx_type_size(h->type);
    if (!size)
        return el__fail(EL_ERR_FORMAT, "%s: %s: unknown element type 0x%02x", fn, name, p[2]);
    h->ndim = p[3];
    if (h->ndim < 1 || h->ndim > EL_IDX_MAX_DIMS)
        return el__fail(EL_ERR_FORMAT, "%s: %s: %d dimensions (1 to %d allowed)", fn, name, h->ndim,
                        EL_IDX_MAX_DIMS);
    size_t header_bytes = 4 + 4 * (size_t)h->ndim;
    if (n < header_bytes) return EL_OK;
    size_t count = 1;
    int too_large = 0;
    for (int i = 0; i < h->ndim; i++) {
        uint32_t dim = read_be32(p + 4 + 4 * i);
        if (dim > INT_MAX)
            return el__fail(EL_ERR_FORMAT, "%s: %s: dimension %d is %lu, over the limit of %d", fn,
                            name, i, (unsigned long)dim, INT_MAX);
        h->dims[i] = (int)dim;
        /* Once past the limit the product is not kept: a later 0 would
         * make it small, but a header that large is not trusted. */
        if (!too_large && dim && count > EL_IDX_MAX_BYTES / size / dim) too_large = 1;
        count *= too_large ? 1 : dim;
    }
    char buf[128];
    if (too_large)
        return el__fail(EL_ERR_FORMAT, "%s: %s: the dimensions %s hold more than %zu bytes", fn,
                        name, dims_string(buf, h->ndim, h->dims), (size_t)EL_IDX_MAX_BYTES);
    h->count = count;
    h->header_bytes = header_bytes;
    h->total_bytes = header_bytes + count * size;
    return EL_OK;
}

/* ---- plain files ---------------------------------------------------------- */

/* Copies the big-endian elements into out->data in the machine's order. */
static void decode_elements(el_idx *out, const uint8_t *p)
{
    size_t size = el_idx_type_size(out->type);
    uint8_t *dst = out->data;
    if (size == 1) {
        memcpy(dst, p, out->count);
        return;
    }
    for (size_t i = 0; i < out->count; i++, p += size, dst += size) {
        uint64_t v = 0;
        for (size_t b = 0; b < size; b++) v = v << 8 | p[b];
        if (size == 2) {
            uint16_t x = (uint16_t)v;
            memcpy(dst, &x, 2);
        } else if (size == 4) {
            uint32_t x = (uint32_t)v;
            memcpy(dst, &x, 4);
        } else {
            memcpy(dst, &v, 8);
        }
    }
}

/* form is "" for a plain file and " (after gunzip)" for a gzipped one. */
static el_status parse_plain(const char *fn, const char *name, const char *form, const uint8_t *p,
                             size_t n, el_idx *out)
{
    idx_header h;
    el_status s = check_header(fn, name, p, n, &h);
    if (s) return s;
    char buf[128];
    if (!h.header_bytes)
        return el__fail(EL_ERR_FORMAT, "%s: %s: truncated in the header: %zu bytes%s", fn, name, n,
                        form);
    if (n != h.total_bytes)
        return el__fail(EL_ERR_FORMAT,
                        "%s: %s: the dimensions %s call for %zu bytes of data, the file holds "
                        "%zu%s (%s)",
                        fn, name, dims_string(buf, h.ndim, h.dims), h.total_bytes - h.header_bytes,
                        n - h.header_bytes, form,
                        n < h.total_bytes ? "truncated" : "trailing bytes");
    el_idx idx = {.type = h.type, .ndim = h.ndim, .count = h.count};
    memcpy(idx.dims, h.dims, sizeof idx.dims);
    if (h.count) {
        idx.data = el__alloc(h.count * el_idx_type_size(h.type));
        if (!idx.data)
            return el__fail(EL_ERR_NOMEM, "%s: %s: out of memory for %s elements", fn, name,
                            dims_string(buf, h.ndim, h.dims));
        decode_elements(&idx, p + h.header_bytes);
    }
    *out = idx;
    return EL_OK;
}

/* ---- gzipped files -------------------------------------------------------- */

typedef struct inflated {
    uint8_t *data;
    size_t length;
    size_t capacity;
} inflated;

/* Grows the buffer geometrically up to limit, so that memory follows the
 * data actually inflated. */
static int grow(inflated *b, size_t limit)
{
    size_t capacity = b->capacity < 4096 ? 4096 : 2 * b->capacity;
    if (capacity > limit) capacity = limit;
    uint8_t *bigger = el__realloc(b->data, capacity);
    if (!bigger) return 0;
    b->data = bigger;
    b->capacity = capacity;
    return 1;
}

/* Inflates every gzip member of the input into b, checking the header as
 * soon as it is out and stopping one byte past where the data must end. */
static el_status inflate_members(const char *fn, const char *name, z_stream *z, inflated *b)
{
    size_t limit = MAX_FILE_BYTES + 1;
    int have_header = 0;
    for (;;) {
        if (b->length == b->capacity) {
            if (b->capacity >= limit) break;
            if (!grow(b, limit)) return el__fail(EL_ERR_NOMEM, "%s: %s: out of memory", fn, name);
        }
        z->next_out = b->data + b->length;
        z->avail_out = (uInt)(b->capacity - b->length);
        int ret = inflate(z, Z_NO_FLUSH);
        b->length = b->capacity - z->avail_out;
        if (!have_header) {
            idx_header h;
            el_status s = check_header(fn, name, b->data, b->length, &h);
            if (s) return s;
            if (h.header_bytes) {
                have_header = 1;
                limit = h.total_bytes + 1;
            }
        }
        if (b->length >= limit) break;
        if (ret == Z_STREAM_END) {
            if (z->avail_in == 0) return EL_OK;
            /* gzip allows several members one after the other. */
            if (z->avail_in >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b) {
                inflateReset(z);
                continue;
            }
            return el__fail(EL_ERR_FORMAT, "%s: %s: %u bytes after the end of the gzip data", fn,
                            name, z->avail_in);
        }
        if (ret == Z_BUF_ERROR && z->avail_out > 0)
            return el__fail(EL_ERR_FORMAT, "%s: %s: the gzip data is truncated", fn, name);
        if (ret == Z_MEM_ERROR) return el__fail(EL_ERR_NOMEM, "%s: %s: out of memory", fn, name);
        if (ret != Z_OK && ret != Z_BUF_ERROR)
            return el__fail(EL_ERR_FORMAT, "%s: %s: damaged gzip data (%s)", fn, name,
                            z->msg ? z->msg : zError(ret));
    }
    return el__fail(EL_ERR_FORMAT, "%s: %s: the data goes on past %zu bytes%s", fn, name, limit - 1,
                    have_header ? ", where its dimensions end (trailing bytes)" : "");
}

static el_status parse_gzip(const char *fn, const char *name, const uint8_t *p, size_t n,
                            el_idx *out)
{
    if (n > UINT_MAX)
        return el__fail(EL_ERR_FORMAT, "%s: %s: %zu bytes of gzip data, too many", fn, name, n);
    z_stream z = {0};
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return el__fail(EL_ERR_NOMEM, "%s: %s: out of memory", fn, name);
    inflated b = {0};
    el_status s = inflate_members(fn, name, &z, &b);
    inflateEnd(&z);
    if (!s) s = parse_plain(fn, name, " (after gunzip)", b.data, b.length, out);
    el__free(b.data);
    return s;
}

static el_status read_memory(const char *fn, el_idx *out, const uint8_t *p, size_t n,
                             const char *name)
{
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) return parse_gzip(fn, name, p, n, out);
    return parse_plain(fn, name, "", p, n, out);
}

el_status el_idx_read_memory(el_idx *out, const void *data, size_t size, const char *name)
{
    const char *fn = "el_idx_read_memory";
    EL_REQUIRE(out, fn);
    *out = (el_idx){0};
    if (!data && size) return el__fail(EL_ERR_INVALID, "%s: data is NULL", fn);
    return read_memory(fn, out, data ? data : (const void *)"", size, name ? name : "(memory)");
}

/* ---- files ---------------------------------------------------------------- */

static el_status read_whole_file(const char *fn, const char *path, FILE *f, uint8_t **data,
                                 size_t *size)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        return el__fail(EL_ERR_IO, "%s: %s: %s", fn, path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return el__fail(EL_ERR_IO, "%s: %s: not a regular file", fn, path);
    /* A gzipped file is never longer than the plain one, give or take
     * gzip's own header and stored blocks. */
    if ((uint64_t)st.st_size > MAX_FILE_BYTES + MAX_FILE_BYTES / 64)
        return el__fail(EL_ERR_FORMAT, "%s: %s: %lld bytes, over the limit of an IDX file", fn,
                        path, (long long)st.st_size);
    *size = (size_t)st.st_size;
    *data = el__alloc(*size);
    if (!*data) return el__fail(EL_ERR_NOMEM, "%s: %s: out of memory", fn, path);
    if (*size && fread(*data, 1, *size, f) != *size) {
        int error = ferror(f) ? errno : 0;
        el__free(*data);
        *data = NULL;
        return el__fail(EL_ERR_IO, "%s: %s: %s", fn, path,
                        error ? strerror(error) : "the file became shorter while it was read");
    }
    return EL_OK;
}

el_status el_idx_read(el_idx *out, const char *path)
{
    const char *fn = "el_idx_read";
    EL_REQUIRE(out, fn);
    *out = (el_idx){0};
    EL_REQUIRE(path, fn);
    FILE *f = fopen(path, "rb");
    if (!f) return el__fail(EL_ERR_IO, "%s: %s: %s", fn, path, strerror(errno));
    uint8_t *data = NULL;
    size_t size = 0;
    el_status s = read_whole_file(fn, path, f, &data, &size);
    fclose(f);
    if (!s) s = read_memory(fn, out, data, size, path);
    el__free(data);
    return s;
}

/* ---- values --------------------------------------------------------------- */

/* Checks type, ndim and dims, and returns the element count in *count. */
static el_status check_shape(const char *fn, el_idx_type type, int ndim, const int *dims,
                             size_t *count)
{
    size_t size = el_idx_type_size(type);
    if (!size) return el__fail(EL_ERR_INVALID, "%s: unknown element type 0x%02x", fn, (int)type);
    if (ndim < 1 || ndim > EL_IDX_MAX_DIMS)
        return el__fail(EL_ERR_INVALID, "%s: %d dimensions (1 to %d allowed)", fn, ndim,
                        EL_IDX_MAX_DIMS);
    *count = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return el__fail(EL_ERR_INVALID, "%s: dimension %d is %d", fn, i, dims[i]);
        if (dims[i] && *count > EL_IDX_MAX_BYTES / size / (size_t)dims[i])
            return el__fail(EL_ERR_INVALID, "%s: the dimensions hold more than %zu bytes", fn,
                            (size_t)EL_IDX_MAX_BYTES);
        *count *= (size_t)dims[i];
    }
    return EL_OK;
}

el_status el_idx_init(el_idx *idx, el_idx_type type, int ndim, const int *dims)
{
    const char *fn = "el_idx_init";
    EL_REQUIRE(idx, fn);
    EL_REQUIRE(dims, fn);
    size_t count = 0;
    el_status s = check_shape(fn, type, ndim, dims, &count);
    if (s) return s;
    el_idx made = {.type = type, .ndim = ndim, .count = count};
    memcpy(made.dims, dims, (size_t)ndim * sizeof *dims);
    if (count) {
        made.data = el__alloc_zero(count, el_idx_type_size(type));
        if (!made.data) return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    }
    *idx = made;
    return EL_OK;
}

void el_idx_free(el_idx *idx)
{
    if (!idx) return;
    el__free(idx->data);
    *idx = (el_idx){0};
}

/* Checks an idx handed in by the caller: its count must be its dims'
 * product and its data present, else it was never set up or freed. */
static el_status check_idx(const char *fn, const el_idx *idx)
{
    size_t count = 0;
    el_status s = check_shape(fn, idx->type, idx->ndim, idx->dims, &count);
    if (s) return s;
    if (count != idx->count || (count && !idx->data))
        return el__fail(EL_ERR_INVALID, "%s: the idx is not a valid one (freed?)", fn);
    return EL_OK;
}

/* ---- writing -------------------------------------------------------------- */

static void encode(const el_idx *idx, uint8_t *p)
{
    p[0] = p[1] = 0;
    p[2] = (uint8_t)idx->type;
    p[3] = (uint8_t)idx->ndim;
    p += 4;
    for (int i = 0; i < idx->ndim; i++, p += 4)
        for (int b = 0; b < 4; b++) p[b] = (uint8_t)((uint32_t)idx->dims[i] >> (24 - 8 * b));
    size_t size = el_idx_type_size(idx->type);
    const uint8_t *src = idx->data;
    for (size_t i = 0; i < idx->count; i++, src += size, p += size) {
        uint64_t v = 0;
        if (size == 1) v = src[0];
        if (size == 2) {
            uint16_t x;
            memcpy(&x, src, 2);
            v = x;
        }
        if (size == 4) {
            uint32_t x;
            memcpy(&x, src, 4);
            v = x;
        }
        if (size == 8) memcpy(&v, src, 8);
        for (size_t b = 0; b < size; b++) p[b] = (uint8_t)(v >> (8 * (size - 1 - b)));
    }
}

/* Compresses the n bytes at plain into a gzip member in *out. */
static el_status gzip_bytes(const char *fn, const uint8_t *plain, size_t n, uint8_t **out,
                            size_t *out_size)
{
    z_stream z = {0};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    size_t bound = deflateBound(&z, (uLong)n);
    *out = el__alloc(bound);
    if (!*out) {
        deflateEnd(&z);
        return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    }
    z.next_in = (Bytef *)plain;
    z.avail_in = (uInt)n;
    z.next_out = *out;
    z.avail_out = (uInt)bound;
    int ret = deflate(&z, Z_FINISH);
    *out_size = bound - z.avail_out;
    deflateEnd(&z);
    if (ret != Z_STREAM_END) {
        el__free(*out);
        *out = NULL;
        return el__fail(EL_ERR_NOMEM, "%s: zlib could not compress the data (%s)", fn, zError(ret));
    }
    return EL_OK;
}

el_status el_idx_write(const el_idx *idx, const char *path, int gzip)
{
    const char *fn = "el_idx_write";
    EL_REQUIRE(idx, fn);
    EL_REQUIRE(path, fn);
    el_status s = check_idx(fn, idx);
    if (s) return s;
    size_t n = 4 + 4 * (size_t)idx->ndim + idx->count * el_idx_type_size(idx->type);
    uint8_t *plain = el__alloc(n);
    if (!plain) return el__fail(EL_ERR_NOMEM, "%s: out of memory for %zu bytes", fn, n);
    encode(idx, plain);
    if (gzip) {
        uint8_t *packed = NULL;
        size_t packed_size = 0;
        s = gzip_bytes(fn, plain, n, &packed, &packed_size);
        if (!s) s = el__write_file_atomically(fn, path, packed, packed_size);
        el__free(packed);
    } else {
        s = el__write_file_atomically(fn, path, plain, n);
    }
    el__free(plain);
    return s;
}

/* ---- for networks --------------------------------------------------------- */

/* Element i of any type as a double (exact for all of them). */
static double element(const el_idx *idx, size_t i)
{
    switch (idx->type) {
    case EL_IDX_UBYTE: return ((const uint8_t *)idx->data)[i];
    case EL_IDX_SBYTE: return ((const int8_t *)idx->data)[i];
    case EL_IDX_SHORT: return ((const int16_t *)idx->data)[i];
    case EL_IDX_INT: return ((const int32_t *)idx->data)[i];
    case EL_IDX_FLOAT: return ((const float *)idx->data)[i];
    case EL_IDX_DOUBLE: return ((const double *)idx->data)[i];
    }
    return 0;
}

el_status el_idx_to_images(const el_idx *idx, el_tensor *images)
{
    const char *fn = "el_idx_to_images";
    EL_REQUIRE(idx, fn);
    EL_REQUIRE(images, fn);
    el_status s = check_idx(fn, idx);
    if (s) return s;
    char buf[128];
    if (idx->type != EL_IDX_UBYTE || idx->ndim != 3)
        return el__fail(EL_ERR_SHAPE,
                        "%s: the idx holds %s elements of type 0x%02x, expected N x H x W of "
                        "ubyte (0x08)",
                        fn, dims_string(buf, idx->ndim, idx->dims), (int)idx->type);
    int shape[4] = {idx->dims[0], 1, idx->dims[1], idx->dims[2]};
    s = el__size_output(fn, "images", images, 4, shape);
    if (s) return s;
    const uint8_t *p = idx->data;
    /* As torchvision's ToTensor: pixel / 255. */
    for (size_t i = 0; i < idx->count; i++) images->data[i] = (float)p[i] / 255.0f;
    return EL_OK;
}

el_status el_idx_to_tensor(const el_idx *idx, el_tensor *out)
{
    const char *fn = "el_idx_to_tensor";
    EL_REQUIRE(idx, fn);
    EL_REQUIRE(out, fn);
    el_status s = check_idx(fn, idx);
    if (s) return s;
    char buf[128];
    if (idx->ndim > EL_MAX_DIMS)
        return el__fail(EL_ERR_SHAPE, "%s: the idx is %s, a tensor has at most %d dimensions", fn,
                        dims_string(buf, idx->ndim, idx->dims), EL_MAX_DIMS);
    s = el__size_output(fn, "out", out, idx->ndim, idx->dims);
    if (s) return s;
    for (size_t i = 0; i < idx->count; i++) out->data[i] = (float)element(idx, i);
    return EL_OK;
}

el_status el_idx_to_labels(const el_idx *idx, int num_classes, int *labels, size_t count)
{
    const char *fn = "el_idx_to_labels";
    EL_REQUIRE(idx, fn);
    el_status s = check_idx(fn, idx);
    if (s) return s;
    if (count && !labels) return el__fail(EL_ERR_INVALID, "%s: labels is NULL", fn);
    if (num_classes < 1)
        return el__fail(EL_ERR_INVALID, "%s: num_classes is %d, expected at least 1", fn,
                        num_classes);
    char buf[128];
    int integer = idx->type == EL_IDX_UBYTE || idx->type == EL_IDX_SBYTE ||
                  idx->type == EL_IDX_SHORT || idx->type == EL_IDX_INT;
    if (!integer || idx->ndim != 1)
        return el__fail(EL_ERR_SHAPE,
                        "%s: the idx holds %s elements of type 0x%02x, expected one dimension "
                        "of integers",
                        fn, dims_string(buf, idx->ndim, idx->dims), (int)idx->type);
    if (count != idx->count)
        return el__fail(EL_ERR_SHAPE, "%s: the idx holds %zu labels, the array %zu", fn, idx->count,
                        count);
    for (size_t i = 0; i < count; i++) {
        double v = element(idx, i);
        if (v < 0 || v >= num_classes)
            return el__fail(EL_ERR_FORMAT, "%s: label %zu is %.0f, not a class in 0..%d", fn, i, v,
                            num_classes - 1);
        labels[i] = (int)v;
    }
    return EL_OK;
}
