/* The checkpoint writer: collects named tensors and metadata, then writes a
 * safetensors file as the reference implementation's serializer does, so
 * that a file elman writes is byte for byte the one safetensors.torch's
 * save_file writes for the same tensors and metadata (up to the order of
 * several metadata keys, which the reference takes from a hash map). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_write.h"
#include "io/checkpoint_format.h"
#include "elman/checkpoint.h"
#include "core/internal.h"
#include "text/utf8.h"

/* An F32 tensor (tensor set) or an I64 one (tensor NULL, i64 and the
 * shape set); either's data is the caller's, read when the file is
 * written. */
typedef struct named_tensor {
    char *name;
    const el_tensor *tensor;
    const int64_t *i64;
    int ndim; /* I64 only: the shape, copied when added */
    int shape[EL_MAX_DIMS];
    size_t size;
} named_tensor;

typedef struct meta_entry {
    char *key;
    char *value;
} meta_entry;

struct el_checkpoint_writer {
    named_tensor *tensors;
    int tensor_count;
    int tensor_capacity;
    meta_entry *meta;
    int meta_count;
    int meta_capacity;
};

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = el__alloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

/* Makes room for one more item in a growing array. */
static int reserve_one(void **items, int *capacity, int count, size_t item_size)
{
    if (count < *capacity) return 1;
    int grown = *capacity ? 2 * *capacity : 16;
    void *bigger = el__realloc(*items, (size_t)grown * item_size);
    if (!bigger) return 0;
    *items = bigger;
    *capacity = grown;
    return 1;
}

el_status el_checkpoint_writer_create(el_checkpoint_writer **out)
{
    EL_REQUIRE(out, "el_checkpoint_writer_create");
    *out = el__alloc_zero(1, sizeof **out);
    if (!*out) return el__fail(EL_ERR_NOMEM, "el_checkpoint_writer_create: out of memory");
    return EL_OK;
}

/* Forgets the tensors added after the first `keep`, so that a call adding
 * several either adds them all or none. */
static void drop_tensors_after(el_checkpoint_writer *w, int keep)
{
    while (w->tensor_count > keep) el__free(w->tensors[--w->tensor_count].name);
}

void el_checkpoint_writer_free(el_checkpoint_writer *w)
{
    if (!w) return;
    drop_tensors_after(w, 0);
    for (int i = 0; i < w->meta_count; i++) {
        el__free(w->meta[i].key);
        el__free(w->meta[i].value);
    }
    el__free(w->tensors);
    el__free(w->meta);
    el__free(w);
}

/* Names and metadata go into the JSON header, which must be UTF-8 and at
 * most EL__CKPT_MAX_HEADER bytes long. */
static el_status check_utf8(const char *fn, const char *what, const char *text)
{
    size_t n = strlen(text);
    if (n > EL__CKPT_MAX_HEADER)
        return el__fail(EL_ERR_INVALID, "%s: the %s of %zu bytes is over the header's limit of %u",
                        fn, what, n, EL__CKPT_MAX_HEADER);
    size_t bad = el__utf8_invalid_at(text, n);
    if (bad < n)
        return el__fail(EL_ERR_INVALID, "%s: the %s \"%s\" is not valid UTF-8 (byte %zu)", fn, what,
                        text, bad);
    return EL_OK;
}

/* Checked when a tensor is added and again when it is written, since the
 * caller may have freed or reshaped it in between. */
static el_status check_tensor(const char *fn, const char *name, const el_tensor *t)
{
    if (t->ndim < 1 || t->ndim > EL_MAX_DIMS)
        return el__fail(EL_ERR_INVALID, "%s: tensor \"%s\" has %d dimensions (1 to %d allowed)", fn,
                        name, t->ndim, EL_MAX_DIMS);
    int valid = 1;
    size_t size = 1;
    for (int i = 0; i < t->ndim; i++) {
        valid = valid && t->shape[i] >= 0;
        size *= (size_t)t->shape[i];
    }
    if (!valid || size != t->size || (size && !t->data))
        return el__fail(EL_ERR_INVALID, "%s: tensor \"%s\" is not a valid tensor (freed?)", fn,
                        name);
    return EL_OK;
}

static int find_tensor(const el_checkpoint_writer *w, const char *name)
{
    for (int i = 0; i < w->tensor_count; i++)
        if (strcmp(w->tensors[i].name, name) == 0) return i;
    return -1;
}

/* Checks an I64 tensor's shape and gives its number of elements. */
static el_status check_i64(const char *fn, const char *name, const int64_t *data, int ndim,
                           const int *shape, size_t *size)
{
    if (ndim < 0 || ndim > EL_MAX_DIMS)
        return el__fail(EL_ERR_INVALID, "%s: tensor \"%s\" has %d dimensions (0 to %d allowed)", fn,
                        name, ndim, EL_MAX_DIMS);
    if (ndim > 0 && !shape) return el__fail(EL_ERR_INVALID, "%s: shape is NULL", fn);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return el__fail(EL_ERR_INVALID, "%s: tensor \"%s\" has the dimension %d", fn, name,
                            shape[i]);
        if (shape[i] && n > SIZE_MAX / sizeof(int64_t) / (size_t)shape[i])
            return el__fail(EL_ERR_INVALID, "%s: tensor \"%s\" is too large", fn, name);
        n *= (size_t)shape[i];
    }
    if (n && !data) return el__fail(EL_ERR_INVALID, "%s: data is NULL", fn);
    *size = n;
    return EL_OK;
}

/* Checks the name and adds entry (its name not yet set) under a copy of it. */
static el_status add_entry(el_checkpoint_writer *w, const char *fn, const char *name,
                           named_tensor entry)
{
    el_status s = check_utf8(fn, "tensor name", name);
    if (s) return s;
    if (strcmp(name, EL__CKPT_METADATA_KEY) == 0)
        return el__fail(EL_ERR_INVALID, "%s: \"%s\" is the metadata's key, not a tensor name", fn,
                        name);
    if (find_tensor(w, name) >= 0)
        return el__fail(EL_ERR_INVALID, "%s: a tensor named \"%s\" was already added", fn, name);
    if (!reserve_one((void **)&w->tensors, &w->tensor_capacity, w->tensor_count,
                     sizeof *w->tensors))
        return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    entry.name = copy_string(name);
    if (!entry.name) return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    w->tensors[w->tensor_count++] = entry;
    return EL_OK;
}

el_status el_checkpoint_add(el_checkpoint_writer *w, const char *name, const el_tensor *t)
{
    const char *fn = "el_checkpoint_add";
    EL_REQUIRE(w, fn);
    EL_REQUIRE(name, fn);
    EL_REQUIRE(t, fn);
    el_status s = check_tensor(fn, name, t);
    return s ? s : add_entry(w, fn, name, (named_tensor){.tensor = t});
}

el_status el_checkpoint_add_i64(el_checkpoint_writer *w, const char *name, const int64_t *data,
                                int ndim, const int *shape)
{
    const char *fn = "el_checkpoint_add_i64";
    EL_REQUIRE(w, fn);
    EL_REQUIRE(name, fn);
    named_tensor entry = {.i64 = data, .ndim = ndim};
    el_status s = check_i64(fn, name, data, ndim, shape, &entry.size);
    if (s) return s;
    if (ndim > 0) memcpy(entry.shape, shape, (size_t)ndim * sizeof *shape);
    return add_entry(w, fn, name, entry);
}

el_status el_checkpoint_add_params(el_checkpoint_writer *w, const el_param_list *list)
{
    EL_REQUIRE(w, "el_checkpoint_add_params");
    EL_REQUIRE(list, "el_checkpoint_add_params");
    int before = w->tensor_count;
    for (int i = 0; i < list->count; i++) {
        el_status s = el_checkpoint_add(w, list->items[i]->name, &list->items[i]->value);
        if (s) {
            drop_tensors_after(w, before);
            return s;
        }
    }
    return EL_OK;
}

static el_status add_optimizer_state(el_checkpoint_writer *w, el_optimizer *opt)
{
    for (int i = 0; i < el_optimizer_state_count(opt); i++) {
        const char *name;
        el_tensor *value;
        el_status s = el_optimizer_state_at(opt, i, &name, &value);
        if (s) return s;
        /* State names are at most EL_NAME_MAX + 32 bytes (optim.c). */
        char key[sizeof EL__CKPT_OPTIMIZER_PREFIX + EL_NAME_MAX + 64];
        snprintf(key, sizeof key, "%s%s", EL__CKPT_OPTIMIZER_PREFIX, name);
        s = el_checkpoint_add(w, key, value);
        if (s) return s;
    }
    char steps[32];
    snprintf(steps, sizeof steps, "%ld", el_optimizer_step_count(opt));
    return el_checkpoint_set_meta(w, EL__CKPT_STEP_KEY, steps);
}

el_status el_checkpoint_add_optimizer(el_checkpoint_writer *w, el_optimizer *opt)
{
    EL_REQUIRE(w, "el_checkpoint_add_optimizer");
    EL_REQUIRE(opt, "el_checkpoint_add_optimizer");
    int before = w->tensor_count;
    el_status s = add_optimizer_state(w, opt);
    if (s) drop_tensors_after(w, before);
    return s;
}

el_status el_checkpoint_set_meta(el_checkpoint_writer *w, const char *key, const char *value)
{
    const char *fn = "el_checkpoint_set_meta";
    EL_REQUIRE(w, fn);
    EL_REQUIRE(key, fn);
    EL_REQUIRE(value, fn);
    el_status s = check_utf8(fn, "metadata key", key);
    if (!s) s = check_utf8(fn, "metadata value", value);
    if (s) return s;
    char *value_copy = copy_string(value);
    if (!value_copy) return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    for (int i = 0; i < w->meta_count; i++)
        if (strcmp(w->meta[i].key, key) == 0) {
            el__free(w->meta[i].value);
            w->meta[i].value = value_copy;
            return EL_OK;
        }
    char *key_copy = copy_string(key);
    if (!key_copy ||
        !reserve_one((void **)&w->meta, &w->meta_capacity, w->meta_count, sizeof *w->meta)) {
        el__free(key_copy);
        el__free(value_copy);
        return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    }
    w->meta[w->meta_count++] = (meta_entry){key_copy, value_copy};
    return EL_OK;
}

/* ---- the header ---------------------------------------------------------- */

/* A growing string; after a failed allocation every append does nothing and
 * out_of_memory says so, so a builder checks once at the end. */
typedef struct text {
    char *data;
    size_t length;
    size_t capacity;
    int out_of_memory;
} text;

static void append(text *t, const char *s, size_t n)
{
    if (t->out_of_memory || n == 0) return;
    if (n > t->capacity - t->length) {
        size_t capacity = t->capacity ? t->capacity : 256;
        while (n > capacity - t->length && capacity <= SIZE_MAX / 2) capacity *= 2;
        char *bigger = n <= capacity - t->length ? el__realloc(t->data, capacity) : NULL;
        if (!bigger) {
            t->out_of_memory = 1;
            return;
        }
        t->data = bigger;
        t->capacity = capacity;
    }
    memcpy(t->data + t->length, s, n);
    t->length += n;
}

static void append_str(text *t, const char *s) { append(t, s, strlen(s)); }

/* Escapes as serde_json (the reference writer's JSON) does: only the quote,
 * the backslash and control characters, with lowercase \u00XX where no
 * short form exists; everything else, UTF-8 included, as it is. */
static void append_json_string(text *t, const char *s)
{
    append(t, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char escape[8];
        switch (*p) {
        case '"': append_str(t, "\\\""); break;
        case '\\': append_str(t, "\\\\"); break;
        case '\b': append_str(t, "\\b"); break;
        case '\f': append_str(t, "\\f"); break;
        case '\n': append_str(t, "\\n"); break;
        case '\r': append_str(t, "\\r"); break;
        case '\t': append_str(t, "\\t"); break;
        default:
            if (*p < 0x20) {
                snprintf(escape, sizeof escape, "\\u%04x", *p);
                append_str(t, escape);
            } else {
                append(t, (const char *)p, 1);
            }
        }
    }
    append(t, "\"", 1);
}

/* The size in bytes of an entry's data. */
static uint64_t entry_bytes(const named_tensor *entry)
{
    return entry->tensor ? (uint64_t)entry->tensor->size * sizeof(float)
                         : (uint64_t)entry->size * sizeof(int64_t);
}

static void append_tensor_entry(text *t, const named_tensor *entry, uint64_t begin, uint64_t end)
{
    char number[48];
    int ndim = entry->tensor ? entry->tensor->ndim : entry->ndim;
    const int *shape = entry->tensor ? entry->tensor->shape : entry->shape;
    append_json_string(t, entry->name);
    append_str(t, entry->tensor ? ":{\"dtype\":\"F32\",\"shape\":["
                                : ":{\"dtype\":\"I64\",\"shape\":[");
    for (int i = 0; i < ndim; i++) {
        snprintf(number, sizeof number, i ? ",%d" : "%d", shape[i]);
        append_str(t, number);
    }
    snprintf(number, sizeof number, "%" PRIu64 ",%" PRIu64, begin, end);
    append_str(t, "],\"data_offsets\":[");
    append_str(t, number);
    append_str(t, "]}");
}

/* Builds the JSON as the reference writer serialises it: no spaces,
 * "__metadata__" first, then the tensors in data order, padded with spaces
 * to a multiple of 8 bytes so that the data starts aligned.  The reference
 * orders metadata keys as a hash map iterates; elman sorts them, so that
 * the same checkpoint gives the same bytes.  Tensors and keys must be
 * sorted already. */
static void build_header(const el_checkpoint_writer *w, text *t)
{
    append(t, "{", 1);
    if (w->meta_count) {
        append_json_string(t, EL__CKPT_METADATA_KEY);
        append(t, ":{", 2);
        for (int i = 0; i < w->meta_count; i++) {
            if (i) append(t, ",", 1);
            append_json_string(t, w->meta[i].key);
            append(t, ":", 1);
            append_json_string(t, w->meta[i].value);
        }
        append(t, "}", 1);
    }
    uint64_t offset = 0;
    for (int i = 0; i < w->tensor_count; i++) {
        uint64_t bytes = entry_bytes(&w->tensors[i]);
        if (i || w->meta_count) append(t, ",", 1);
        append_tensor_entry(t, &w->tensors[i], offset, offset + bytes);
        offset += bytes;
    }
    append(t, "}", 1);
    append(t, "       ", (8 - t->length % 8) % 8);
}

/* The reference writer orders tensors by their dtype's alignment, largest
 * first (I64 before F32), then by name (byte order, as Rust's String). */
static int compare_tensors(const void *a, const void *b)
{
    const named_tensor *x = a, *y = b;
    if (!x->tensor != !y->tensor) return x->tensor ? 1 : -1;
    return strcmp(x->name, y->name);
}

static int compare_meta_keys(const void *a, const void *b)
{
    return strcmp(((const meta_entry *)a)->key, ((const meta_entry *)b)->key);
}

/* ---- the file ------------------------------------------------------------ */

/* What el__write_atomically's callback needs: the header and the writer. */
typedef struct contents {
    const text *header;
    const el_checkpoint_writer *w;
} contents;

/* The length, the header, then each tensor's bytes straight from where
 * they live: the file is never assembled in memory. */
static int write_contents(int fd, const void *context)
{
    const contents *c = context;
    const text *header = c->header;
    unsigned char length[8];
    for (int i = 0; i < 8; i++) length[i] = (unsigned char)((uint64_t)header->length >> (8 * i));
    if (!el__write_all(fd, length, sizeof length) ||
        !el__write_all(fd, header->data, header->length))
        return 0;
    for (int i = 0; i < c->w->tensor_count; i++) {
        const named_tensor *entry = &c->w->tensors[i];
        const void *data = entry->tensor ? (const void *)entry->tensor->data : entry->i64;
        size_t bytes = (size_t)entry_bytes(entry);
        if (bytes && !el__write_all(fd, data, bytes)) return 0;
    }
    return 1;
}

el_status el_checkpoint_write(el_checkpoint_writer *w, const char *path)
{
    const char *fn = "el_checkpoint_write";
    EL_REQUIRE(w, fn);
    EL_REQUIRE(path, fn);
    if (!*path) return el__fail(EL_ERR_INVALID, "%s: the path is empty", fn);
    for (int i = 0; i < w->tensor_count; i++) {
        if (!w->tensors[i].tensor) continue; /* an I64 shape is the writer's own copy */
        el_status s = check_tensor(fn, w->tensors[i].name, w->tensors[i].tensor);
        if (s) return s;
    }
    if (w->tensor_count)
        qsort(w->tensors, (size_t)w->tensor_count, sizeof *w->tensors, compare_tensors);
    if (w->meta_count) qsort(w->meta, (size_t)w->meta_count, sizeof *w->meta, compare_meta_keys);
    text header = {0};
    build_header(w, &header);
    el_status s = EL_OK;
    if (header.out_of_memory)
        s = el__fail(EL_ERR_NOMEM, "%s: out of memory for the header of %s", fn, path);
    else if (header.length > EL__CKPT_MAX_HEADER)
        s = el__fail(EL_ERR_INVALID,
                     "%s: the header of %s would take %zu bytes, over the %u "
                     "that safetensors reads",
                     fn, path, header.length, EL__CKPT_MAX_HEADER);
    else
        s = el__write_atomically(fn, path, write_contents, &(contents){&header, w});
    el__free(header.data);
    return s;
}
