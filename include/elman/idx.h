/* elman: IDX files, the format of MNIST and Fashion-MNIST.
 *
 * An IDX file is two zero bytes, a type byte, a dimension count n, then n
 * big-endian 32-bit sizes and the elements, big-endian, in row-major order
 * (http://yann.lecun.com/exdb/mnist/).  The data sets are usually gzipped
 * (train-images-idx3-ubyte.gz); the reader recognises gzip by its magic
 * bytes 1f 8b and inflates it with zlib, so either form reads the same.
 *
 * Reading checks everything before it hands anything out: the magic, the
 * type, the dimension count, each size, that the product of the sizes
 * neither overflows nor passes EL_IDX_MAX_BYTES, and that the file ends
 * exactly where the data does.  A damaged, truncated or lying file is
 * refused with EL_ERR_FORMAT and one line naming the file and the fault; a
 * missing one is EL_ERR_IO.  Memory grows with the data actually inflated,
 * never with what a header claims. */
#ifndef ELMAN_IDX_H
#define ELMAN_IDX_H

#include <stddef.h>

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The element types, by their type byte. */
typedef enum el_idx_type {
    EL_IDX_UBYTE = 0x08,  /* uint8_t */
    EL_IDX_SBYTE = 0x09,  /* int8_t */
    EL_IDX_SHORT = 0x0B,  /* int16_t */
    EL_IDX_INT = 0x0C,    /* int32_t */
    EL_IDX_FLOAT = 0x0D,  /* float */
    EL_IDX_DOUBLE = 0x0E, /* double */
} el_idx_type;

/* The most dimensions a file may have (MNIST's images have 3). */
#define EL_IDX_MAX_DIMS 8

/* The most bytes of elements a file may hold (Fashion-MNIST's training
 * images take 47 MB), so that a damaged size cannot ask for all memory. */
#define EL_IDX_MAX_BYTES ((size_t)1 << 31)

/* A value type: zero it (el_idx x = {0}), fill it with el_idx_read or
 * el_idx_init, release it with el_idx_free.  The elements are in the
 * machine's byte order, as an array of the type's C type. */
typedef struct el_idx {
    el_idx_type type;
    int ndim;                  /* 1 .. EL_IDX_MAX_DIMS */
    int dims[EL_IDX_MAX_DIMS]; /* unused trailing entries are 0 */
    size_t count;              /* number of elements: the product of dims[] */
    void *data;                /* count elements of type; NULL when count is 0 */
} el_idx;

/* The size in bytes of one element of type, or 0 for an unknown type. */
EL_API size_t el_idx_type_size(el_idx_type type);

/* Gives a zeroed or freed idx the type and dimensions, with zeroed
 * elements, e.g. to fill and write a data set. */
EL_API el_status el_idx_init(el_idx *idx, el_idx_type type, int ndim, const int *dims);

/* Frees the elements and zeroes idx; safe on a zeroed or freed one. */
EL_API void el_idx_free(el_idx *idx);

/* Reads a plain or gzipped IDX file into a zeroed or freed out. */
EL_API el_status el_idx_read(el_idx *out, const char *path);

/* Reads an IDX file held in memory (plain or gzipped); name stands for the
 * file in messages. */
EL_API el_status el_idx_read_memory(el_idx *out, const void *data, size_t size, const char *name);

/* Writes idx atomically (temporary file, fsync, rename); gzipped (zlib's
 * default level) when gzip is nonzero, plain otherwise. */
EL_API el_status el_idx_write(const el_idx *idx, const char *path, int gzip);

/* Images for a network: a ubyte idx of (N, H, W) becomes an (N, 1, H, W)
 * tensor of pixel / 255, in [0, 1]. */
EL_API el_status el_idx_to_images(const el_idx *idx, el_tensor *images);

/* Any idx of 1 to 4 dimensions as a float32 tensor of the same shape. */
EL_API el_status el_idx_to_tensor(const el_idx *idx, el_tensor *out);

/* Class labels: a ubyte idx of one dimension, each element below
 * num_classes, copied into labels[0 .. count - 1]; count must be the
 * idx's element count. */
EL_API el_status el_idx_to_labels(const el_idx *idx, int num_classes, int *labels, size_t count);

#ifdef __cplusplus
}
#endif
#endif
