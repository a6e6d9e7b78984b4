/* The checkpoint reader: reads a whole safetensors file, or the same bytes
 * from memory, and checks all of it, as the reference implementation
 * (safetensors/src/tensor.rs) does, before anything is handed out. */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io/checkpoint_format.h"
#include "io/checkpoint_stored.h"
#include "core/internal.h"

/* Where the bytes come from: a file, read as they are needed (a checkpoint
 * may be most of the memory there is, so it is not held twice), or the
 * caller's memory.  size is the whole length, at the next byte to read. */
typedef struct source {
    FILE *file; /* NULL for memory */
    const unsigned char *bytes;
    uint64_t size;
    uint64_t at;
} source;

/* Callers never ask for more than size says there is. */
static el_status read_exactly(const el_checkpoint *c, source *src, void *buffer, size_t n)
{
    if (n == 0) return EL_OK;
    if (!src->file) {
        memcpy(buffer, src->bytes + src->at, n);
        src->at += n;
        return EL_OK;
    }
    if (fread(buffer, 1, n, src->file) == n) return EL_OK;
    if (ferror(src->file)) return el__fail(EL_ERR_IO, "%s: %s", c->path, strerror(errno));
    return el__fail(EL_ERR_IO, "%s: the file became shorter while it was read", c->path);
}

/* Reads the 8-byte header length and checks it against the limit and the
 * size. */
static el_status read_header_length(const el_checkpoint *c, source *src, uint64_t *n)
{
    unsigned char bytes[8];
    if (src->size < sizeof bytes)
        return el__fail(EL_ERR_FORMAT, "%s: %" PRIu64 " bytes, too short for the header length",
                        c->path, src->size);
    el_status s = read_exactly(c, src, bytes, sizeof bytes);
    if (s) return s;
    *n = 0;
    for (int i = 7; i >= 0; i--) *n = *n << 8 | bytes[i];
    if (*n > EL__CKPT_MAX_HEADER)
        return el__fail(EL_ERR_FORMAT,
                        "%s: the header length %" PRIu64 " is over the limit of %u "
                        "bytes",
                        c->path, *n, EL__CKPT_MAX_HEADER);
    if (*n > src->size - sizeof bytes)
        return el__fail(EL_ERR_FORMAT,
                        "%s: the header length %" PRIu64 " exceeds the %" PRIu64
                        " bytes that follow it",
                        c->path, *n, src->size - sizeof bytes);
    return EL_OK;
}

static el_status read_header(el_checkpoint *c, source *src, size_t n, uint64_t *data_end)
{
    char *header = el__alloc(n + 1);
    if (!header) return el__fail(EL_ERR_NOMEM, "%s: out of memory for the header", c->path);
    el_status s = read_exactly(c, src, header, n);
    header[n] = '\0';
    if (!s) s = el__ckpt_parse_header(c, header, n, data_end);
    el__free(header);
    return s;
}

/* The data goes into a buffer of its own, 64-byte aligned, so that a tensor
 * at an offset that is a multiple of its element size is aligned whatever
 * the header's length. */
static el_status read_contents(el_checkpoint *c, source *src)
{
    uint64_t n = 0, data_end = 0;
    el_status s = read_header_length(c, src, &n);
    if (!s) s = read_header(c, src, (size_t)n, &data_end);
    if (s) return s;
    c->data_size = src->size - 8 - n;
    if (c->data_size != data_end)
        return el__fail(EL_ERR_FORMAT,
                        "%s: the tensors end at byte %" PRIu64 " of the data, but "
                        "the file holds %" PRIu64 " bytes of data (%s)",
                        c->path, data_end, c->data_size,
                        data_end > c->data_size ? "truncated?" : "trailing bytes");
    if (!c->data_size) return EL_OK;
    c->data = el__alloc((size_t)c->data_size);
    if (!c->data)
        return el__fail(EL_ERR_NOMEM, "%s: out of memory for %" PRIu64 " bytes of data", c->path,
                        c->data_size);
    return read_exactly(c, src, c->data, (size_t)c->data_size);
}

static el_status read_file(el_checkpoint *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return el__fail(EL_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st = {0};
    el_status s = EL_OK;
    if (fstat(fileno(f), &st) != 0)
        s = el__fail(EL_ERR_IO, "%s: %s", c->path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        s = el__fail(EL_ERR_IO, "%s: not a regular file", c->path);
    source src = {.file = f, .size = (uint64_t)st.st_size};
    if (!s) s = read_contents(c, &src);
    fclose(f);
    return s;
}

/* Makes an empty checkpoint called name (for messages), reads it from
 * memory or else from the file at path, and hands it out only if all of it
 * is good. */
static el_status read_checkpoint(el_checkpoint **out, const char *fn, const char *name,
                                 const char *path, source *memory)
{
    el_checkpoint *c = el__alloc_zero(1, sizeof *c);
    size_t length = strlen(name) + 1;
    char *copy = el__alloc(length);
    if (!c || !copy) {
        el__free(c);
        el__free(copy);
        return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    }
    memcpy(copy, name, length);
    c->path = copy;
    el_status s = memory ? read_contents(c, memory) : read_file(c, path);
    if (s) {
        el_checkpoint_free(c);
        return s;
    }
    *out = c;
    return EL_OK;
}

el_status el_checkpoint_read(el_checkpoint **out, const char *path)
{
    EL_REQUIRE(out, "el_checkpoint_read");
    *out = NULL;
    EL_REQUIRE(path, "el_checkpoint_read");
    return read_checkpoint(out, "el_checkpoint_read", path, path, NULL);
}

el_status el_checkpoint_read_memory(el_checkpoint **out, const void *bytes, size_t n,
                                    const char *name)
{
    EL_REQUIRE(out, "el_checkpoint_read_memory");
    *out = NULL;
    if (n > 0) EL_REQUIRE(bytes, "el_checkpoint_read_memory");
    source memory = {.bytes = bytes, .size = (uint64_t)n};
    return read_checkpoint(out, "el_checkpoint_read_memory", name ? name : "(memory)", NULL,
                           &memory);
}

void el_checkpoint_free(el_checkpoint *c)
{
    if (!c) return;
    cJSON_Delete(c->root);
    el__free(c->tensors);
    el__free(c->by_name);
    el__free(c->data);
    el__free(c->path);
    el__free(c);
}

int el_checkpoint_count(const el_checkpoint *c) { return c ? c->count : 0; }

const char *el_checkpoint_name(const el_checkpoint *c, int i)
{
    return c && i >= 0 && i < c->count ? c->tensors[i].name : NULL;
}

const char *el_checkpoint_meta(const el_checkpoint *c, const char *key)
{
    if (!c || !key || !c->metadata) return NULL;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(c->metadata, key);
    return item ? item->valuestring : NULL;
}
