/* What the checkpoint reader's files share: a read checkpoint
 * (checkpoint_read.c reads it, checkpoint_header.c parses its header,
 * checkpoint_load.c hands its tensors out); not installed. */
#ifndef ELMAN_CHECKPOINT_STORED_H
#define ELMAN_CHECKPOINT_STORED_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "elman/checkpoint.h"

/* A dtype of safetensors' Dtype enum with its size in bits. */
typedef struct el__ckpt_dtype {
    const char *name;
    unsigned bits;
} el__ckpt_dtype;

typedef struct el__ckpt_tensor {
    const char *name; /* owned by the parsed header */
    const el__ckpt_dtype *dtype;
    const cJSON *shape; /* the checked JSON array of dimensions */
    int rank;
    uint64_t begin; /* byte offsets into the data */
    uint64_t end;
} el__ckpt_tensor;

struct el_checkpoint {
    char *path; /* the file's path or the caller's name for the bytes, for messages */
    cJSON *root;
    const cJSON *metadata;     /* NULL when the file has none */
    el__ckpt_tensor *tensors;  /* in the order of their data */
    el__ckpt_tensor **by_name; /* sorted by name, for lookups */
    int count;
    unsigned char *data; /* the bytes after the header; NULL when there are none */
    uint64_t data_size;
};

/* Parses and checks the n bytes of header into c (root, metadata, tensors,
 * by_name, count); *data_end receives where the last tensor ends. */
el_status el__ckpt_parse_header(el_checkpoint *c, const char *header, size_t n, uint64_t *data_end);

/* Dimension i of t. */
uint64_t el__ckpt_dimension(const el__ckpt_tensor *t, int i);

/* t's shape as "5x6", or "[]" for a scalar, for messages. */
const char *el__ckpt_shape_text(const el__ckpt_tensor *t, char *buf, size_t size);

/* The tensor called name, or NULL. */
const el__ckpt_tensor *el__ckpt_find(const el_checkpoint *c, const char *name);

#endif
