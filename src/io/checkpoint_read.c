/* The checkpoint reader: reads a whole safetensors file and checks all of
 * it, as the reference implementation (safetensors/src/tensor.rs) does,
 * before anything is handed out; then loads parameters and optimizer state,
 * checking every name and shape before the first copy. */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/checkpoint_format.h"
#include "elman/checkpoint.h"
#include "core/internal.h"

/* The dtypes of safetensors' Dtype enum with their sizes in bits.  Files
 * may hold any of them; elman's tensors are F32. */
typedef struct dtype_info {
    const char *name;
    unsigned bits;
} dtype_info;

static const dtype_info dtypes[] = {
    {"BOOL", 8},        {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
    {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
    {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
    {"I32", 32},        {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},
    {"I64", 64},        {"U64", 64},
};

/* Integers a double holds exactly, the most cJSON can give. */
#define EXACT_INTEGER_LIMIT 9007199254740992.0 /* 2^53 */

typedef struct stored_tensor {
    const char *name; /* owned by the parsed header */
    const dtype_info *dtype;
    const cJSON *shape; /* the checked JSON array of dimensions */
    int rank;
    uint64_t begin; /* byte offsets into the data */
    uint64_t end;
} stored_tensor;

struct el_checkpoint {
    char *path; /* for messages */
    cJSON *root;
    const cJSON *metadata;   /* NULL when the file has none */
    stored_tensor *tensors;  /* in the order of their data */
    stored_tensor **by_name; /* sorted by name, for lookups */
    int count;
    unsigned char *data; /* the bytes after the header; NULL when there are none */
    uint64_t data_size;
};

/* ---- UTF-8 --------------------------------------------------------------- */

size_t el__utf8_check(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t length = 1;
        unsigned char low = 0x80, high = 0xBF; /* the range of the second byte */
        if (c >= 0xC2 && c <= 0xDF)
            length = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            length = 3;
        else if (c >= 0xF0 && c <= 0xF4)
            length = 4;
        else if (c >= 0x80)
            return i;
        if (c == 0xE0) low = 0xA0;  /* overlong */
        if (c == 0xED) high = 0x9F; /* surrogates */
        if (c == 0xF0) low = 0x90;  /* overlong */
        if (c == 0xF4) high = 0x8F; /* above U+10FFFF */
        if (length > n - i) return i;
        if (length > 1 && (s[i + 1] < low || s[i + 1] > high)) return i;
        for (size_t k = 2; k < length; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += length;
    }
    return n;
}

/* ---- JSON ---------------------------------------------------------------- */

static int is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static const char *json_kind(const cJSON *item)
{
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    if (cJSON_IsBool(item)) return "a boolean";
    return "null";
}

static el_status parse_json(el_checkpoint *c, const char *header, size_t n)
{
    /* cJSON allocates with malloc: its allocator is process-wide, and a
     * library must not replace the one an application may have set.  So
     * cJSON running out of memory reads here as a parse failure. */
    const char *end = header;
    c->root = cJSON_ParseWithLengthOpts(header, n, &end, 0);
    if (!c->root)
        return el__fail(EL_ERR_FORMAT,
                        "%s: the header is not valid JSON (byte %zu of %zu), or memory ran out",
                        c->path, (size_t)(end - header), n);
    /* Writers pad the JSON with spaces; anything else after it is wrong. */
    size_t rest = (size_t)(end - header);
    while (rest < n && is_json_space(header[rest])) rest++;
    if (rest < n)
        return el__fail(EL_ERR_FORMAT, "%s: the header has more after its JSON value (byte %zu)",
                        c->path, rest);
    return EL_OK;
}

static int is_hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Checks the string starting at the quote text[*at] and moves *at past it. */
static el_status check_json_string(const el_checkpoint *c, const char *text, size_t n, size_t *at)
{
    size_t i = *at + 1;
    while (i < n && text[i] != '"') {
        unsigned char ch = (unsigned char)text[i];
        if (ch < 0x20)
            return el__fail(EL_ERR_FORMAT,
                            "%s: the header has a raw control character in a "
                            "string (byte %zu)",
                            c->path, i);
        if (ch != '\\') {
            i++;
            continue;
        }
        if (i + 1 < n && text[i + 1] == 'u') {
            int valid = i + 5 < n && is_hex_digit(text[i + 2]) && is_hex_digit(text[i + 3]) &&
                        is_hex_digit(text[i + 4]) && is_hex_digit(text[i + 5]);
            if (!valid || strncmp(text + i + 2, "0000", 4) == 0)
                return el__fail(EL_ERR_FORMAT,
                                "%s: the header has the escape \\u%.4s, which "
                                "elman cannot keep in a string (byte %zu)",
                                c->path, text + i + 2, i);
            i += 6;
        } else {
            i += 2;
        }
    }
    *at = i + 1;
    return EL_OK;
}

/* Checks the number starting at text[*at] and moves *at past it. */
static el_status check_json_number(const el_checkpoint *c, const char *text, size_t n, size_t *at)
{
    size_t start = *at, i = start;
    int digits_only = 1;
    while (i < n && text[i] != '\0' && strchr("0123456789+-.eE", text[i])) {
        digits_only = digits_only && text[i] >= '0' && text[i] <= '9';
        i++;
    }
    if (!digits_only || (i - start > 1 && text[start] == '0'))
        return el__fail(EL_ERR_FORMAT,
                        "%s: the header holds the number %.*s (byte %zu); a "
                        "safetensors header holds only non-negative integers",
                        c->path, (int)(i - start < 32 ? i - start : 32), text + start, start);
    *at = i;
    return EL_OK;
}

/* cJSON is laxer than JSON and than serde_json, the reference reader's
 * parser: it takes any control character for whitespace, skips a byte
 * order mark, keeps raw control characters in strings, decodes a malformed
 * \u escape as U+0000 (which a C string cannot hold) and reads numbers with
 * strtod.  This pass over text cJSON has accepted refuses all of that, and
 * any number not written as a plain non-negative integer. */
static el_status check_json_text(const el_checkpoint *c, const char *text, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)text[i];
        el_status s = EL_OK;
        if (ch == '"')
            s = check_json_string(c, text, n, &i);
        else if (ch == '-' || (ch >= '0' && ch <= '9'))
            s = check_json_number(c, text, n, &i);
        else if ((ch < 0x20 && !is_json_space((char)ch)) || ch >= 0x80)
            return el__fail(EL_ERR_FORMAT,
                            "%s: the header has the byte 0x%02x outside a string "
                            "(byte %zu)",
                            c->path, ch, i);
        else
            i++;
        if (s) return s;
    }
    return EL_OK;
}

/* ---- the header's entries ------------------------------------------------ */

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static el_status check_metadata(const el_checkpoint *c, const cJSON *meta)
{
    if (!cJSON_IsObject(meta))
        return el__fail(EL_ERR_FORMAT, "%s: \"%s\" is %s, not an object", c->path,
                        EL__CKPT_METADATA_KEY, json_kind(meta));
    size_t count = 0;
    for (const cJSON *item = meta->child; item; item = item->next) {
        if (!cJSON_IsString(item))
            return el__fail(EL_ERR_FORMAT, "%s: metadata '%s' is %s, not a string", c->path,
                            item->string, json_kind(item));
        count++;
    }
    /* cJSON keeps repeated keys; safetensors allows none. */
    const char **keys = el__alloc_zero(count, sizeof *keys);
    if (!keys) return el__fail(EL_ERR_NOMEM, "%s: out of memory", c->path);
    size_t k = 0;
    for (const cJSON *item = meta->child; item; item = item->next) keys[k++] = item->string;
    qsort(keys, count, sizeof *keys, compare_strings);
    el_status s = EL_OK;
    for (k = 1; k < count && !s; k++)
        if (strcmp(keys[k - 1], keys[k]) == 0)
            s = el__fail(EL_ERR_FORMAT, "%s: metadata '%s' appears twice", c->path, keys[k]);
    el__free(keys);
    return s;
}

/* A shape entry or an offset: a JSON integer that a double holds exactly. */
static el_status get_integer(const el_checkpoint *c, const char *tensor, const char *what,
                             const cJSON *item, uint64_t *value)
{
    if (!cJSON_IsNumber(item))
        return el__fail(EL_ERR_FORMAT, "%s: tensor '%s': %s is %s, not an integer", c->path, tensor,
                        what, json_kind(item));
    double v = item->valuedouble;
    if (!(v >= 0 && v < EXACT_INTEGER_LIMIT && v == (double)(uint64_t)v))
        return el__fail(EL_ERR_FORMAT, "%s: tensor '%s': %s %.17g is not an integer in [0, 2^53)",
                        c->path, tensor, what, v);
    *value = (uint64_t)v;
    return EL_OK;
}

static uint64_t dimension(const stored_tensor *t, int i)
{
    return (uint64_t)cJSON_GetArrayItem(t->shape, i)->valuedouble;
}

/* "5x6", or "[]" for a scalar, for messages. */
static const char *shape_text(const stored_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    snprintf(buf, size, "[]");
    for (int i = 0; i < t->rank && used < size; i++) {
        int n = snprintf(buf + used, size - used, i ? "x%" PRIu64 : "%" PRIu64, dimension(t, i));
        if (n < 0) break;
        used += (size_t)n;
    }
    return buf;
}

/* Finds the fields of a tensor's entry: exactly dtype, shape and
 * data_offsets, each once. */
static el_status get_fields(const el_checkpoint *c, const cJSON *entry, const cJSON *fields[3])
{
    static const char *const names[3] = {"dtype", "shape", "data_offsets"};
    if (!cJSON_IsObject(entry))
        return el__fail(EL_ERR_FORMAT, "%s: tensor '%s' is %s, not an object", c->path,
                        entry->string, json_kind(entry));
    for (const cJSON *field = entry->child; field; field = field->next) {
        int k = 0;
        while (k < 3 && strcmp(field->string, names[k]) != 0) k++;
        if (k == 3)
            return el__fail(EL_ERR_FORMAT, "%s: tensor '%s' has the unknown field '%s'", c->path,
                            entry->string, field->string);
        if (fields[k])
            return el__fail(EL_ERR_FORMAT, "%s: tensor '%s' has '%s' twice", c->path, entry->string,
                            names[k]);
        fields[k] = field;
    }
    for (int k = 0; k < 3; k++)
        if (!fields[k])
            return el__fail(EL_ERR_FORMAT, "%s: tensor '%s' has no '%s'", c->path, entry->string,
                            names[k]);
    return EL_OK;
}

static el_status get_dtype(const el_checkpoint *c, stored_tensor *t, const cJSON *dtype)
{
    if (!cJSON_IsString(dtype))
        return el__fail(EL_ERR_FORMAT, "%s: tensor '%s': dtype is %s, not a string", c->path,
                        t->name, json_kind(dtype));
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtype->valuestring, dtypes[i].name) == 0) {
            t->dtype = &dtypes[i];
            return EL_OK;
        }
    return el__fail(EL_ERR_FORMAT, "%s: tensor '%s' has the unknown dtype '%s'", c->path, t->name,
                    dtype->valuestring);
}

/* Checks the shape and computes the tensor's size in bytes with checked
 * arithmetic, as the reference reader does. */
static el_status get_shape(const el_checkpoint *c, stored_tensor *t, const cJSON *shape,
                           uint64_t *bytes)
{
    if (!cJSON_IsArray(shape))
        return el__fail(EL_ERR_FORMAT, "%s: tensor '%s': shape is %s, not an array", c->path,
                        t->name, json_kind(shape));
    uint64_t bits = t->dtype->bits;
    int overflow = 0;
    for (const cJSON *item = shape->child; item; item = item->next) {
        uint64_t d = 0;
        el_status s = get_integer(c, t->name, "a shape entry", item, &d);
        if (s) return s;
        overflow = overflow || (d && bits > UINT64_MAX / d);
        bits *= d;
        t->rank++;
    }
    t->shape = shape;
    char text[128];
    if (overflow)
        return el__fail(EL_ERR_FORMAT, "%s: tensor '%s': shape %s is too large to count", c->path,
                        t->name, shape_text(t, text, sizeof text));
    if (bits % 8)
        return el__fail(EL_ERR_FORMAT,
                        "%s: tensor '%s': shape %s of %s is not a whole number "
                        "of bytes",
                        c->path, t->name, shape_text(t, text, sizeof text), t->dtype->name);
    *bytes = bits / 8;
    return EL_OK;
}

static el_status get_offsets(const el_checkpoint *c, stored_tensor *t, const cJSON *offsets)
{
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2)
        return el__fail(EL_ERR_FORMAT, "%s: tensor '%s': data_offsets is not a pair [begin, end]",
                        c->path, t->name);
    el_status s = get_integer(c, t->name, "an offset", offsets->child, &t->begin);
    if (!s) s = get_integer(c, t->name, "an offset", offsets->child->next, &t->end);
    if (!s && t->end < t->begin)
        return el__fail(EL_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                        "] end before they begin",
                        c->path, t->name, t->begin, t->end);
    return s;
}

static el_status get_tensor(const el_checkpoint *c, const cJSON *entry, stored_tensor *t)
{
    const cJSON *fields[3] = {NULL, NULL, NULL};
    uint64_t bytes = 0;
    t->name = entry->string;
    el_status s = get_fields(c, entry, fields);
    if (!s) s = get_dtype(c, t, fields[0]);
    if (!s) s = get_shape(c, t, fields[1], &bytes);
    if (!s) s = get_offsets(c, t, fields[2]);
    if (s) return s;
    if (t->end - t->begin != bytes) {
        char text[128];
        return el__fail(EL_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                        " bytes, shape %s %s needs %" PRIu64,
                        c->path, t->name, t->begin, t->end, t->end - t->begin,
                        shape_text(t, text, sizeof text), t->dtype->name, bytes);
    }
    return EL_OK;
}

static el_status get_entries(el_checkpoint *c)
{
    size_t count = 0;
    for (const cJSON *item = c->root->child; item; item = item->next)
        count += strcmp(item->string, EL__CKPT_METADATA_KEY) != 0;
    c->tensors = el__alloc_zero(count, sizeof *c->tensors);
    c->by_name = el__alloc_zero(count, sizeof *c->by_name);
    if (!c->tensors || !c->by_name) return el__fail(EL_ERR_NOMEM, "%s: out of memory", c->path);
    for (const cJSON *item = c->root->child; item; item = item->next) {
        el_status s = EL_OK;
        if (strcmp(item->string, EL__CKPT_METADATA_KEY) != 0) {
            s = get_tensor(c, item, &c->tensors[c->count++]);
        } else if (c->metadata) {
            s = el__fail(EL_ERR_FORMAT, "%s: \"%s\" appears twice", c->path, EL__CKPT_METADATA_KEY);
        } else {
            c->metadata = item;
            s = check_metadata(c, item);
        }
        if (s) return s;
    }
    return EL_OK;
}

/* The file's order is the data's (the JSON's may be any other). */
static int compare_by_offsets(const void *a, const void *b)
{
    const stored_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int compare_by_name(const void *a, const void *b)
{
    return strcmp((*(stored_tensor *const *)a)->name, (*(stored_tensor *const *)b)->name);
}

/* Indexes the tensors by name, once they are in their final order. */
static el_status check_unique_names(el_checkpoint *c)
{
    qsort(c->tensors, (size_t)c->count, sizeof *c->tensors, compare_by_offsets);
    for (int i = 0; i < c->count; i++) c->by_name[i] = &c->tensors[i];
    qsort(c->by_name, (size_t)c->count, sizeof *c->by_name, compare_by_name);
    for (int i = 1; i < c->count; i++)
        if (strcmp(c->by_name[i - 1]->name, c->by_name[i]->name) == 0)
            return el__fail(EL_ERR_FORMAT, "%s: tensor '%s' appears twice", c->path,
                            c->by_name[i]->name);
    return EL_OK;
}

/* Sorted by offset, the tensors must cover [0, end of the data) without a
 * gap or an overlap; *end receives where the last one ends. */
static el_status check_tiling(el_checkpoint *c, uint64_t *end)
{
    uint64_t start = 0;
    for (int i = 0; i < c->count; i++) {
        const stored_tensor *t = &c->tensors[i];
        if (t->begin != start && i == 0)
            return el__fail(EL_ERR_FORMAT,
                            "%s: the first tensor, '%s', begins at byte %" PRIu64
                            " of the data, not 0",
                            c->path, t->name, t->begin);
        if (t->begin > start)
            return el__fail(EL_ERR_FORMAT,
                            "%s: a gap: tensor '%s' ends at byte %" PRIu64
                            ", the next, '%s', begins at %" PRIu64,
                            c->path, t[-1].name, start, t->name, t->begin);
        if (t->begin < start)
            return el__fail(EL_ERR_FORMAT,
                            "%s: tensors '%s' [%" PRIu64 ", %" PRIu64 ") and '%s' [%" PRIu64
                            ", %" PRIu64 ") overlap",
                            c->path, t[-1].name, t[-1].begin, t[-1].end, t->name, t->begin, t->end);
        start = t->end;
    }
    *end = start;
    return EL_OK;
}

static el_status parse_header(el_checkpoint *c, const char *header, size_t n, uint64_t *data_end)
{
    size_t bad = el__utf8_check((const unsigned char *)header, n);
    if (bad < n)
        return el__fail(EL_ERR_FORMAT, "%s: the header is not valid UTF-8 (byte %zu)", c->path,
                        bad);
    el_status s = parse_json(c, header, n);
    if (!s) s = check_json_text(c, header, n);
    if (!s && !cJSON_IsObject(c->root))
        s = el__fail(EL_ERR_FORMAT, "%s: the header is %s, not a JSON object", c->path,
                     json_kind(c->root));
    if (!s) s = get_entries(c);
    if (!s) s = check_unique_names(c);
    if (!s) s = check_tiling(c, data_end);
    return s;
}

/* ---- the file ------------------------------------------------------------ */

static el_status read_exactly(const el_checkpoint *c, FILE *f, void *buffer, size_t n)
{
    if (n == 0 || fread(buffer, 1, n, f) == n) return EL_OK;
    if (ferror(f)) return el__fail(EL_ERR_IO, "%s: %s", c->path, strerror(errno));
    return el__fail(EL_ERR_IO, "%s: the file became shorter while it was read", c->path);
}

static el_status file_size(const el_checkpoint *c, FILE *f, uint64_t *size)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0) return el__fail(EL_ERR_IO, "%s: %s", c->path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return el__fail(EL_ERR_IO, "%s: not a regular file", c->path);
    *size = (uint64_t)st.st_size;
    return EL_OK;
}

/* Reads the 8-byte header length and checks it against the limit and the
 * file's size. */
static el_status read_header_length(const el_checkpoint *c, FILE *f, uint64_t size, uint64_t *n)
{
    unsigned char bytes[8];
    if (size < sizeof bytes)
        return el__fail(EL_ERR_FORMAT, "%s: %" PRIu64 " bytes, too short for the header length",
                        c->path, size);
    el_status s = read_exactly(c, f, bytes, sizeof bytes);
    if (s) return s;
    *n = 0;
    for (int i = 7; i >= 0; i--) *n = *n << 8 | bytes[i];
    if (*n > EL__CKPT_MAX_HEADER)
        return el__fail(EL_ERR_FORMAT,
                        "%s: the header length %" PRIu64 " is over the limit of %u "
                        "bytes",
                        c->path, *n, EL__CKPT_MAX_HEADER);
    if (*n > size - sizeof bytes)
        return el__fail(EL_ERR_FORMAT,
                        "%s: the header length %" PRIu64 " exceeds the %" PRIu64
                        " bytes that follow it",
                        c->path, *n, size - sizeof bytes);
    return EL_OK;
}

static el_status read_header(el_checkpoint *c, FILE *f, size_t n, uint64_t *data_end)
{
    char *header = el__alloc(n + 1);
    if (!header) return el__fail(EL_ERR_NOMEM, "%s: out of memory for the header", c->path);
    el_status s = read_exactly(c, f, header, n);
    header[n] = '\0';
    if (!s) s = parse_header(c, header, n, data_end);
    el__free(header);
    return s;
}

/* The data goes into a buffer of its own, 64-byte aligned, so that an F32
 * tensor at an offset that is a multiple of 4 is aligned whatever the
 * header's length. */
static el_status read_contents(el_checkpoint *c, FILE *f)
{
    uint64_t size = 0, n = 0, data_end = 0;
    el_status s = file_size(c, f, &size);
    if (!s) s = read_header_length(c, f, size, &n);
    if (!s) s = read_header(c, f, (size_t)n, &data_end);
    if (s) return s;
    c->data_size = size - 8 - n;
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
    return read_exactly(c, f, c->data, (size_t)c->data_size);
}

static el_status read_checkpoint(el_checkpoint *c, const char *path)
{
    size_t length = strlen(path) + 1;
    c->path = el__alloc(length);
    if (!c->path) return el__fail(EL_ERR_NOMEM, "el_checkpoint_read: out of memory");
    memcpy(c->path, path, length);
    FILE *f = fopen(path, "rb");
    if (!f) return el__fail(EL_ERR_IO, "%s: %s", path, strerror(errno));
    el_status s = read_contents(c, f);
    fclose(f);
    return s;
}

el_status el_checkpoint_read(el_checkpoint **out, const char *path)
{
    EL_REQUIRE(out, "el_checkpoint_read");
    *out = NULL;
    EL_REQUIRE(path, "el_checkpoint_read");
    el_checkpoint *c = el__alloc_zero(1, sizeof *c);
    if (!c) return el__fail(EL_ERR_NOMEM, "el_checkpoint_read: out of memory");
    el_status s = read_checkpoint(c, path);
    if (s) {
        el_checkpoint_free(c);
        return s;
    }
    *out = c;
    return EL_OK;
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

/* ---- access -------------------------------------------------------------- */

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

static const stored_tensor *find_tensor(const el_checkpoint *c, const char *name)
{
    stored_tensor key = {.name = name};
    const stored_tensor *key_ptr = &key;
    stored_tensor *const *found = c->count ? bsearch(&key_ptr, c->by_name, (size_t)c->count,
                                                     sizeof *c->by_name, compare_by_name)
                                           : NULL;
    return found ? *found : NULL;
}

static el_status check_f32(const el_checkpoint *c, const stored_tensor *t)
{
    if (strcmp(t->dtype->name, "F32") == 0) return EL_OK;
    return el__fail(EL_ERR_FORMAT, "%s: tensor '%s' is %s; elman reads only F32", c->path, t->name,
                    t->dtype->name);
}

/* Wraps an F32 tensor's data in a view, if el_tensor can hold its shape. */
static el_status make_view(const el_checkpoint *c, const stored_tensor *t, el_tensor *view)
{
    if (t->rank < 1 || t->rank > EL_MAX_DIMS)
        return el__fail(EL_ERR_FORMAT,
                        "%s: tensor '%s' has %d dimensions; elman's tensors have "
                        "1 to %d",
                        c->path, t->name, t->rank, EL_MAX_DIMS);
    int shape[EL_MAX_DIMS];
    for (int i = 0; i < t->rank; i++) {
        uint64_t d = dimension(t, i);
        if (d > INT_MAX)
            return el__fail(EL_ERR_FORMAT,
                            "%s: tensor '%s' has a dimension of %" PRIu64
                            ", over elman's limit of %d",
                            c->path, t->name, d, INT_MAX);
        shape[i] = (int)d;
    }
    if (t->begin % sizeof(float))
        return el__fail(EL_ERR_FORMAT,
                        "%s: tensor '%s' begins at byte %" PRIu64 ", not aligned "
                        "for F32",
                        c->path, t->name, t->begin);
    float *data = c->data ? (float *)(void *)(c->data + t->begin) : NULL;
    el_tensor wrapped = {0};
    if (el_tensor_wrap(&wrapped, data, t->rank, shape) != EL_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", el_last_error());
        return el__fail(EL_ERR_FORMAT, "%s: tensor '%s' does not fit an el_tensor (%s)", c->path,
                        t->name, why);
    }
    *view = wrapped;
    return EL_OK;
}

el_status el_checkpoint_tensor(const el_checkpoint *c, const char *name, el_tensor *view)
{
    EL_REQUIRE(c, "el_checkpoint_tensor");
    EL_REQUIRE(name, "el_checkpoint_tensor");
    EL_REQUIRE(view, "el_checkpoint_tensor");
    const stored_tensor *t = find_tensor(c, name);
    if (!t) return el__fail(EL_ERR_INVALID, "%s: no tensor '%s'", c->path, name);
    el_status s = check_f32(c, t);
    return s ? s : make_view(c, t, view);
}

/* The view of the tensor called name, which must be F32 and have the shape
 * of target (what will be copied into). */
static el_status matching_view(const el_checkpoint *c, const char *name, const el_tensor *target,
                               el_tensor *view)
{
    const stored_tensor *t = find_tensor(c, name);
    if (!t) return el__fail(EL_ERR_INVALID, "%s: no tensor '%s'", c->path, name);
    el_status s = check_f32(c, t);
    if (s) return s;
    int same = t->rank == target->ndim;
    for (int i = 0; same && i < t->rank; i++) same = dimension(t, i) == (uint64_t)target->shape[i];
    if (!same) {
        char stored[128], wanted[64];
        return el__fail(EL_ERR_SHAPE, "%s: tensor '%s' is %s, but elman's is %s", c->path, name,
                        shape_text(t, stored, sizeof stored),
                        el_tensor_shape_string(target, wanted, sizeof wanted));
    }
    return make_view(c, t, view);
}

static void copy_values(el_tensor *target, const el_tensor *view)
{
    if (view->size) memcpy(target->data, view->data, view->size * sizeof(float));
}

el_status el_checkpoint_load_params(const el_checkpoint *c, el_param_list *list)
{
    EL_REQUIRE(c, "el_checkpoint_load_params");
    EL_REQUIRE(list, "el_checkpoint_load_params");
    el_tensor view;
    for (int i = 0; i < list->count; i++) {
        el_status s = matching_view(c, list->items[i]->name, &list->items[i]->value, &view);
        if (s) return s;
    }
    /* Every view was checked above, so none fails now. */
    for (int i = 0; i < list->count; i++) {
        matching_view(c, list->items[i]->name, &list->items[i]->value, &view);
        copy_values(&list->items[i]->value, &view);
    }
    return EL_OK;
}

/* The step count from the metadata: decimal digits that fit a long. */
static el_status stored_step_count(const el_checkpoint *c, long *steps)
{
    const char *text = el_checkpoint_meta(c, EL__CKPT_STEP_KEY);
    if (!text)
        return el__fail(EL_ERR_FORMAT, "%s: no metadata '%s' (the optimizer's step count)", c->path,
                        EL__CKPT_STEP_KEY);
    long value = 0;
    int valid = *text != '\0';
    for (const char *p = text; valid && *p; p++) {
        valid = *p >= '0' && *p <= '9' && value <= (LONG_MAX - (*p - '0')) / 10;
        value = valid ? value * 10 + (*p - '0') : value;
    }
    if (!valid)
        return el__fail(EL_ERR_FORMAT, "%s: metadata '%s' is \"%s\", not a step count", c->path,
                        EL__CKPT_STEP_KEY, text);
    *steps = value;
    return EL_OK;
}

/* The view of state tensor i, stored as "optimizer.<name>". */
static el_status optimizer_view(const el_checkpoint *c, el_optimizer *opt, int i, el_tensor **state,
                                el_tensor *view)
{
    const char *name;
    el_status s = el_optimizer_state_at(opt, i, &name, state);
    if (s) return s;
    char key[sizeof EL__CKPT_OPTIMIZER_PREFIX + EL_NAME_MAX + 64];
    snprintf(key, sizeof key, "%s%s", EL__CKPT_OPTIMIZER_PREFIX, name);
    return matching_view(c, key, *state, view);
}

el_status el_checkpoint_load_optimizer(const el_checkpoint *c, el_optimizer *opt)
{
    EL_REQUIRE(c, "el_checkpoint_load_optimizer");
    EL_REQUIRE(opt, "el_checkpoint_load_optimizer");
    long steps = 0;
    el_status s = stored_step_count(c, &steps);
    if (s) return s;
    el_tensor *state, view;
    for (int i = 0; i < el_optimizer_state_count(opt); i++) {
        s = optimizer_view(c, opt, i, &state, &view);
        if (s) return s;
    }
    /* Every view was checked above, so none fails now. */
    for (int i = 0; i < el_optimizer_state_count(opt); i++) {
        optimizer_view(c, opt, i, &state, &view);
        copy_values(state, &view);
    }
    el_optimizer_set_step_count(opt, steps);
    return EL_OK;
}
