/* The checkpoint header's parser: checks the JSON as strictly as the
 * reference implementation (safetensors/src/tensor.rs, with serde_json)
 * does, then each tensor's dtype, shape and offsets, that names are unique
 * and that the tensors tile the data exactly. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint_format.h"
#include "io/checkpoint_stored.h"
#include "core/internal.h"
#include "text/utf8.h"

/* The dtypes of safetensors' Dtype enum with their sizes in bits.  Files
 * may hold any of them; elman hands out F32 and I64 tensors. */
static const el__ckpt_dtype dtypes[] = {
    {"BOOL", 8},        {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
    {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
    {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
    {"I32", 32},        {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},
    {"I64", 64},        {"U64", 64},
};

/* Integers a double holds exactly, the most cJSON can give. */
#define EXACT_INTEGER_LIMIT 9007199254740992.0 /* 2^53 */

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

uint64_t el__ckpt_dimension(const el__ckpt_tensor *t, int i)
{
    return (uint64_t)cJSON_GetArrayItem(t->shape, i)->valuedouble;
}

const char *el__ckpt_shape_text(const el__ckpt_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    snprintf(buf, size, "[]");
    for (int i = 0; i < t->rank && used < size; i++) {
        int n = snprintf(buf + used, size - used, i ? "x%" PRIu64 : "%" PRIu64,
                         el__ckpt_dimension(t, i));
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

static el_status get_dtype(const el_checkpoint *c, el__ckpt_tensor *t, const cJSON *dtype)
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
static el_status get_shape(const el_checkpoint *c, el__ckpt_tensor *t, const cJSON *shape,
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
                        t->name, el__ckpt_shape_text(t, text, sizeof text));
    if (bits % 8)
        return el__fail(EL_ERR_FORMAT,
                        "%s: tensor '%s': shape %s of %s is not a whole number "
                        "of bytes",
                        c->path, t->name, el__ckpt_shape_text(t, text, sizeof text),
                        t->dtype->name);
    *bytes = bits / 8;
    return EL_OK;
}

static el_status get_offsets(const el_checkpoint *c, el__ckpt_tensor *t, const cJSON *offsets)
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

static el_status get_tensor(const el_checkpoint *c, const cJSON *entry, el__ckpt_tensor *t)
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
                        el__ckpt_shape_text(t, text, sizeof text), t->dtype->name, bytes);
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
    const el__ckpt_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int compare_by_name(const void *a, const void *b)
{
    return strcmp((*(el__ckpt_tensor *const *)a)->name, (*(el__ckpt_tensor *const *)b)->name);
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
        const el__ckpt_tensor *t = &c->tensors[i];
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

el_status el__ckpt_parse_header(el_checkpoint *c, const char *header, size_t n, uint64_t *data_end)
{
    size_t bad = el__utf8_invalid_at(header, n);
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

const el__ckpt_tensor *el__ckpt_find(const el_checkpoint *c, const char *name)
{
    el__ckpt_tensor key = {.name = name};
    const el__ckpt_tensor *key_ptr = &key;
    el__ckpt_tensor *const *found = c->count ? bsearch(&key_ptr, c->by_name, (size_t)c->count,
                                                       sizeof *c->by_name, compare_by_name)
                                             : NULL;
    return found ? *found : NULL;
}
