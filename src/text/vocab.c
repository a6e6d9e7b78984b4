/* Character vocabularies: grapheme clusters counted in an open-addressing
 * hash table, then given ids by frequency; encoding, decoding, JSON. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "elman/vocab.h"
#include "core/hash.h"
#include "core/internal.h"
#include "text/clusters.h"
#include "text/ids.h"

static const char *const special_names[EL_SPECIALS] = {"<pad>", "<sos>", "<eos>", "<unk>"};
static const char replacement_character[] = "\xEF\xBF\xBD"; /* U+FFFD, for EL_UNK */

#define INITIAL_SLOTS 64 /* a power of two */

typedef struct symbol {
    size_t offset; /* of its bytes in the pool */
    size_t len;
    uint64_t hash;
    size_t count; /* times counted */
} symbol;

struct el_vocab {
    /* Every symbol's bytes, each followed by a NUL so that it is also a C
     * string (clusters hold no NUL: el_clusters_split refuses them). */
    char *pool;
    size_t pool_used, pool_capacity;
    /* While counting, in the order first seen; once finished, in id order:
     * symbols[i] has id EL_SPECIALS + i. */
    symbol *symbols;
    int count, capacity;
    /* Open addressing with linear probing: an index into symbols, or -1.
     * At most half full, so a probe always ends at an empty slot. */
    int *slots;
    size_t slot_count; /* a power of two */
    int finished;
};

static const char *symbol_bytes(const el_vocab *v, const symbol *s) { return v->pool + s->offset; }

/* The slot holding bytes, or the empty slot where they would go. */
static size_t find_slot(const el_vocab *v, const char *bytes, size_t len, uint64_t hash)
{
    size_t mask = v->slot_count - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        int k = v->slots[i];
        if (k < 0) return i;
        const symbol *s = &v->symbols[k];
        if (s->hash == hash && s->len == len && memcmp(symbol_bytes(v, s), bytes, len) == 0)
            return i;
    }
}

/* The index in symbols of bytes, or -1. */
static int find_symbol(const el_vocab *v, const char *bytes, size_t len)
{
    return v->slots[find_slot(v, bytes, len, el__hash_bytes(bytes, len))];
}

/* Puts every symbol back into the (emptied) slots. */
static void rehash(el_vocab *v)
{
    for (size_t i = 0; i < v->slot_count; i++) v->slots[i] = -1;
    for (int k = 0; k < v->count; k++) {
        const symbol *s = &v->symbols[k];
        v->slots[find_slot(v, symbol_bytes(v, s), s->len, s->hash)] = k;
    }
}

static el_status out_of_memory(const char *fn)
{
    return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
}

/* Makes room for one more symbol of len bytes.  Each step either grows an
 * array or leaves it as it was, so a failure leaves v intact. */
static el_status reserve_symbol(el_vocab *v, size_t len, const char *fn)
{
    if (v->count >= INT_MAX - EL_SPECIALS)
        return el__fail(EL_ERR_NOMEM, "%s: more than %d symbols", fn, INT_MAX - EL_SPECIALS);
    if (v->count == v->capacity) {
        int capacity = v->capacity ? (v->capacity > INT_MAX / 2 ? INT_MAX : 2 * v->capacity) : 64;
        symbol *symbols = el__realloc(v->symbols, (size_t)capacity * sizeof *symbols);
        if (!symbols) return out_of_memory(fn);
        v->symbols = symbols;
        v->capacity = capacity;
    }
    if (len + 1 > v->pool_capacity - v->pool_used) {
        size_t capacity = 2 * v->pool_capacity + len + 1;
        char *pool = el__realloc(v->pool, capacity);
        if (!pool) return out_of_memory(fn);
        v->pool = pool;
        v->pool_capacity = capacity;
    }
    if (2 * ((size_t)v->count + 1) > v->slot_count) {
        int *slots = el__alloc(2 * v->slot_count * sizeof *slots);
        if (!slots) return out_of_memory(fn);
        el__free(v->slots);
        v->slots = slots;
        v->slot_count *= 2;
        rehash(v);
    }
    return EL_OK;
}

/* Appends a symbol not yet in v. */
static el_status add_symbol(el_vocab *v, const char *bytes, size_t len, size_t count,
                            const char *fn)
{
    el_status s = reserve_symbol(v, len, fn);
    if (s) return s;
    uint64_t hash = el__hash_bytes(bytes, len);
    symbol *sym = &v->symbols[v->count];
    *sym = (symbol){.offset = v->pool_used, .len = len, .hash = hash, .count = count};
    memcpy(v->pool + v->pool_used, bytes, len);
    v->pool[v->pool_used + len] = '\0';
    v->pool_used += len + 1;
    v->slots[find_slot(v, bytes, len, hash)] = v->count++;
    return EL_OK;
}

el_status el_vocab_create(el_vocab **out)
{
    EL_REQUIRE(out, "el_vocab_create");
    *out = NULL;
    el_vocab *v = el__alloc_zero(1, sizeof *v);
    int *slots = el__alloc(INITIAL_SLOTS * sizeof *slots);
    if (!v || !slots) {
        el__free(v);
        el__free(slots);
        return out_of_memory("el_vocab_create");
    }
    v->slots = slots;
    v->slot_count = INITIAL_SLOTS;
    rehash(v);
    *out = v;
    return EL_OK;
}

void el_vocab_free(el_vocab *v)
{
    if (!v) return;
    el__free(v->pool);
    el__free(v->symbols);
    el__free(v->slots);
    el__free(v);
}

/* Takes back the counting of clusters [0, done) of c, so that a failed
 * el_vocab_add changes nothing: the symbols it added go, the counts it
 * raised fall back.  Needs no memory. */
static void uncount(el_vocab *v, const el_clusters *c, size_t done, int old_count)
{
    for (size_t i = 0; i < done; i++) {
        size_t len;
        const char *bytes = el__cluster_bytes(c, i, &len);
        int k = find_symbol(v, bytes, len);
        if (k < old_count) v->symbols[k].count--;
    }
    v->count = old_count;
    v->pool_used =
        old_count ? v->symbols[old_count - 1].offset + v->symbols[old_count - 1].len + 1 : 0;
    rehash(v);
}

el_status el_vocab_add(el_vocab *v, const el_clusters *c)
{
    EL_REQUIRE(v, "el_vocab_add");
    EL_REQUIRE(c, "el_vocab_add");
    if (v->finished)
        return el__fail(EL_ERR_STATE, "el_vocab_add: the vocabulary is already finished");
    int old_count = v->count;
    for (size_t i = 0; i < c->count; i++) {
        size_t len;
        const char *bytes = el__cluster_bytes(c, i, &len);
        uint64_t hash = el__hash_bytes(bytes, len);
        int k = v->slots[find_slot(v, bytes, len, hash)];
        if (k >= 0) {
            v->symbols[k].count++;
            continue;
        }
        el_status s = add_symbol(v, bytes, len, 1, "el_vocab_add");
        if (s) {
            uncount(v, c, i, old_count);
            return s;
        }
    }
    return EL_OK;
}

/* A counted symbol as finish sorts them. */
typedef struct ranked {
    const char *bytes;
    size_t len;
    size_t count;
} ranked;

/* Most frequent first; ties in byte order, a prefix before what extends it. */
static int compare_ranked(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    int order = memcmp(a->bytes, b->bytes, a->len < b->len ? a->len : b->len);
    if (order) return order;
    return (a->len > b->len) - (a->len < b->len);
}

/* Fills next (empty) with v's symbols counted at least min_count times, in
 * id order. */
static el_status build_finished(el_vocab *next, const el_vocab *v, size_t min_count)
{
    ranked *order = el__alloc_zero((size_t)v->count, sizeof *order);
    if (!order) return out_of_memory("el_vocab_finish");
    size_t kept = 0;
    for (int k = 0; k < v->count; k++) {
        const symbol *s = &v->symbols[k];
        if (s->count >= min_count)
            order[kept++] = (ranked){.bytes = symbol_bytes(v, s), .len = s->len, .count = s->count};
    }
    qsort(order, kept, sizeof *order, compare_ranked);
    el_status status = EL_OK;
    for (size_t i = 0; i < kept && !status; i++)
        status = add_symbol(next, order[i].bytes, order[i].len, order[i].count, "el_vocab_finish");
    el__free(order);
    next->finished = 1;
    return status;
}

el_status el_vocab_finish(el_vocab *v, int min_count)
{
    EL_REQUIRE(v, "el_vocab_finish");
    if (v->finished)
        return el__fail(EL_ERR_STATE, "el_vocab_finish: the vocabulary is already finished");
    if (min_count < 0)
        return el__fail(EL_ERR_INVALID, "el_vocab_finish: min_count %d is negative", min_count);
    /* Built aside and swapped in, so that a failure leaves v counting. */
    el_vocab *next = NULL;
    el_status s = el_vocab_create(&next);
    if (s) return out_of_memory("el_vocab_finish");
    s = build_finished(next, v, (size_t)min_count);
    if (!s) {
        el_vocab old = *v;
        *v = *next;
        *next = old;
    }
    el_vocab_free(next);
    return s;
}

/* The symbols that have ids: none until the vocabulary is finished. */
static int id_symbols(const el_vocab *v) { return v->finished ? v->count : 0; }

int el_vocab_size(const el_vocab *v) { return v ? EL_SPECIALS + id_symbols(v) : 0; }

const char *el_vocab_symbol(const el_vocab *v, int id, size_t *len)
{
    const char *bytes = NULL;
    size_t n = 0;
    if (v && id >= 0 && id < EL_SPECIALS) {
        bytes = special_names[id];
        n = strlen(bytes);
    } else if (v && id >= EL_SPECIALS && id - EL_SPECIALS < id_symbols(v)) {
        const symbol *s = &v->symbols[id - EL_SPECIALS];
        bytes = symbol_bytes(v, s);
        n = s->len;
    }
    if (len) *len = n;
    return bytes;
}

int el_vocab_id(const el_vocab *v, const char *cluster, size_t len)
{
    if (!v || !v->finished || !cluster) return EL_UNK;
    int k = find_symbol(v, cluster, len);
    return k < 0 ? EL_UNK : EL_SPECIALS + k;
}

el_status el__ids_reserve(el_ids *ids, size_t total, const char *fn)
{
    if (total > SIZE_MAX / sizeof(int)) return out_of_memory(fn);
    if (total <= ids->capacity) return EL_OK;
    size_t capacity = ids->capacity < SIZE_MAX / sizeof(int) / 2 ? 2 * ids->capacity : total;
    if (capacity < total) capacity = total;
    if (capacity < 16) capacity = 16;
    int *data = el__realloc(ids->data, capacity * sizeof *data);
    if (!data) return out_of_memory(fn);
    ids->data = data;
    ids->capacity = capacity;
    return EL_OK;
}

el_status el_vocab_encode(const el_vocab *v, const el_clusters *c, size_t first, size_t count,
                          el_ids *out)
{
    EL_REQUIRE(v, "el_vocab_encode");
    EL_REQUIRE(c, "el_vocab_encode");
    EL_REQUIRE(out, "el_vocab_encode");
    if (!v->finished)
        return el__fail(EL_ERR_STATE, "el_vocab_encode: the vocabulary is not finished");
    if (first > c->count || count > c->count - first)
        return el__fail(
            EL_ERR_INVALID,
            "el_vocab_encode: clusters [%zu, %zu + %zu) are outside the %zu of the text", first,
            first, count, c->count);
    if (count > SIZE_MAX / sizeof(int) - out->count) return out_of_memory("el_vocab_encode");
    el_status s = el__ids_reserve(out, out->count + count, "el_vocab_encode");
    if (s) return s;
    for (size_t i = first; i < first + count; i++) {
        size_t len;
        const char *bytes = el__cluster_bytes(c, i, &len);
        out->data[out->count++] = el_vocab_id(v, bytes, len);
    }
    return EL_OK;
}

void el_ids_free(el_ids *ids)
{
    if (!ids) return;
    el__free(ids->data);
    memset(ids, 0, sizeof *ids);
}

void el_ids_clear(el_ids *ids)
{
    if (ids) ids->count = 0;
}

/* Text to clusters for the *_text functions: split, with the function's
 * name as the source in messages, then folded if flags say so. */
static el_status text_clusters(el_clusters *c, const char *text, size_t len, unsigned flags,
                               const char *fn)
{
    if (flags & ~(unsigned)EL_TEXT_FOLD_CASE)
        return el__fail(EL_ERR_INVALID, "%s: unknown flags 0x%x (EL_TEXT_FOLD_CASE is 0x%x)", fn,
                        flags, (unsigned)EL_TEXT_FOLD_CASE);
    el_status s = el_clusters_split(c, text, len, fn, 1);
    if (!s && (flags & EL_TEXT_FOLD_CASE)) s = el_clusters_fold_case(c);
    return s;
}

el_status el_vocab_add_text(el_vocab *v, const char *text, size_t len, unsigned flags)
{
    const char *fn = "el_vocab_add_text";
    EL_REQUIRE(v, fn);
    if (len > 0) EL_REQUIRE(text, fn);
    if (v->finished) return el__fail(EL_ERR_STATE, "%s: the vocabulary is already finished", fn);
    el_clusters c = {0};
    el_status s = text_clusters(&c, text, len, flags, fn);
    if (!s) s = el_vocab_add(v, &c);
    el_clusters_free(&c);
    return s;
}

el_status el_vocab_encode_text(const el_vocab *v, const char *text, size_t len, el_ids *out,
                               unsigned flags)
{
    const char *fn = "el_vocab_encode_text";
    EL_REQUIRE(v, fn);
    if (len > 0) EL_REQUIRE(text, fn);
    EL_REQUIRE(out, fn);
    if (!v->finished) return el__fail(EL_ERR_STATE, "%s: the vocabulary is not finished", fn);
    el_clusters c = {0};
    el_status s = text_clusters(&c, text, len, flags, fn);
    if (!s) s = el_vocab_encode(v, &c, 0, c.count, out);
    el_clusters_free(&c);
    return s;
}

/* The text id decodes to (PAD, SOS, EOS: none; UNK: U+FFFD), or NULL for an
 * id outside the vocabulary. */
static const char *decoded_text(const el_vocab *v, int id, size_t *len)
{
    if (id == EL_PAD || id == EL_SOS || id == EL_EOS) {
        *len = 0;
        return "";
    }
    if (id == EL_UNK) {
        *len = sizeof replacement_character - 1;
        return replacement_character;
    }
    return id > EL_UNK ? el_vocab_symbol(v, id, len) : NULL;
}

el_status el_vocab_decode(const el_vocab *v, const int *ids, size_t count, char *buf, size_t cap,
                          size_t *len)
{
    EL_REQUIRE(v, "el_vocab_decode");
    if (count > 0) EL_REQUIRE(ids, "el_vocab_decode");
    if (cap > 0) EL_REQUIRE(buf, "el_vocab_decode");
    size_t need = 0, piece;
    for (size_t i = 0; i < count; i++) {
        if (!decoded_text(v, ids[i], &piece))
            return el__fail(EL_ERR_INVALID,
                            "el_vocab_decode: id %d at position %zu is outside [0, %d)", ids[i], i,
                            el_vocab_size(v));
        need += piece;
    }
    if (len) *len = need;
    /* Whole clusters only, so what is written is valid UTF-8 even when the
     * buffer is too small. */
    size_t used = 0;
    for (size_t i = 0; i < count && cap > 0; i++) {
        const char *text = decoded_text(v, ids[i], &piece);
        if (piece >= cap - used) break;
        memcpy(buf + used, text, piece);
        used += piece;
    }
    if (cap > 0) buf[used] = '\0';
    if (need >= cap)
        return el__fail(EL_ERR_INVALID,
                        "el_vocab_decode: the text needs %zu bytes and a NUL; the buffer holds %zu",
                        need, cap);
    return EL_OK;
}

/* An upper bound on the JSON text: cJSON writes a byte as at most 6
 * ("\u001f"), a string adds its quotes and a comma, and cJSON asks for a few
 * bytes more than it writes. */
static size_t json_bound(const el_vocab *v)
{
    size_t bound = 64;
    for (int id = 0; id < el_vocab_size(v); id++) {
        size_t len;
        el_vocab_symbol(v, id, &len);
        bound += 6 * len + 8;
    }
    return bound;
}

/* The JSON tree of v, or NULL when cJSON runs out of memory. */
static cJSON *vocab_tree(const el_vocab *v)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *symbols = NULL;
    if (!cJSON_AddNumberToObject(root, "version", 1) ||
        !(symbols = cJSON_AddArrayToObject(root, "symbols"))) {
        cJSON_Delete(root);
        return NULL;
    }
    for (int id = 0; id < el_vocab_size(v); id++)
        /* Symbols are C strings: the pool ends each with a NUL. */
        if (!cJSON_AddItemToArray(symbols, cJSON_CreateString(el_vocab_symbol(v, id, NULL)))) {
            cJSON_Delete(root);
            return NULL;
        }
    return root;
}

el_status el_vocab_to_json(const el_vocab *v, char **json)
{
    EL_REQUIRE(v, "el_vocab_to_json");
    EL_REQUIRE(json, "el_vocab_to_json");
    *json = NULL;
    if (!v->finished)
        return el__fail(EL_ERR_STATE, "el_vocab_to_json: the vocabulary is not finished");
    size_t bound = json_bound(v);
    if (bound > INT_MAX)
        return el__fail(EL_ERR_NOMEM, "el_vocab_to_json: the JSON would exceed %d bytes", INT_MAX);
    /* The text goes in our own memory, the tree (freed here) in cJSON's. */
    char *text = el__alloc(bound);
    cJSON *tree = text ? vocab_tree(v) : NULL;
    int printed = tree && cJSON_PrintPreallocated(tree, text, (int)bound, 0);
    cJSON_Delete(tree);
    if (!printed) {
        el__free(text);
        return out_of_memory("el_vocab_to_json");
    }
    *json = text;
    return EL_OK;
}

void el_vocab_json_free(char *json) { el__free(json); }

static el_status malformed(const char *why, int index)
{
    if (index < 0) return el__fail(EL_ERR_FORMAT, "el_vocab_from_json: %s", why);
    return el__fail(EL_ERR_FORMAT, "el_vocab_from_json: symbol %d %s", index, why);
}

/* A cluster of one code point with Unicode's White_Space property. */
static int is_space_cluster(const el_clusters *c, size_t i)
{
    size_t len;
    const char *bytes = el__cluster_bytes(c, i, &len);
    int32_t at = 0;
    UChar32 cp;
    U8_NEXT(bytes, at, (int32_t)len, cp);
    return (size_t)at == len && u_isUWhiteSpace(cp);
}

/* Checks that text is a symbol a vocabulary can hold: valid UTF-8 in NFC,
 * and either one grapheme cluster (a character, a space among them) or
 * several with no white space (a token of elman/pairs.h's spaces mode). */
static el_status check_symbol(const char *text, size_t len, int index)
{
    el_clusters c;
    el_status s = el_clusters_split(&c, text, len, NULL, 1);
    if (s == EL_ERR_NOMEM) return s;
    int ok = !s && c.count >= 1 && c.bytes == len && memcmp(c.text, text, len) == 0;
    for (size_t i = 0; ok && c.count > 1 && i < c.count; i++) ok = !is_space_cluster(&c, i);
    el_clusters_free(&c);
    return ok ? EL_OK
              : malformed("is not one grapheme cluster, or a token of several without white "
                          "space, in valid UTF-8 and NFC",
                          index);
}

/* Adds the symbols of a JSON array, specials first, to the empty v. */
static el_status add_json_symbols(el_vocab *v, const cJSON *symbols)
{
    if (!cJSON_IsArray(symbols)) return malformed("\"symbols\" is not an array", -1);
    int index = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, symbols)
    {
        if (!cJSON_IsString(item)) return malformed("is not a string", index);
        const char *text = item->valuestring;
        if (index < EL_SPECIALS) {
            if (strcmp(text, special_names[index]) != 0)
                return el__fail(EL_ERR_FORMAT, "el_vocab_from_json: symbol %d is not \"%s\"", index,
                                special_names[index]);
        } else {
            size_t len = strlen(text);
            el_status s = check_symbol(text, len, index);
            if (s) return s;
            if (find_symbol(v, text, len) >= 0) return malformed("is listed twice", index);
            s = add_symbol(v, text, len, 0, "el_vocab_from_json");
            if (s) return s;
        }
        index++;
    }
    if (index < EL_SPECIALS)
        return malformed("\"symbols\" lacks the four specials <pad> <sos> <eos> <unk>", -1);
    return EL_OK;
}

static el_status read_json_vocab(el_vocab *v, const cJSON *root)
{
    if (!cJSON_IsObject(root)) return malformed("the JSON is not an object", -1);
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsNumber(version)) return malformed("\"version\" is missing or not a number", -1);
    if (version->valuedouble != 1)
        return el__fail(EL_ERR_FORMAT, "el_vocab_from_json: version %g is not 1",
                        version->valuedouble);
    el_status s = add_json_symbols(v, cJSON_GetObjectItemCaseSensitive(root, "symbols"));
    if (!s) v->finished = 1;
    return s;
}

el_status el_vocab_from_json(el_vocab **out, const char *json)
{
    EL_REQUIRE(out, "el_vocab_from_json");
    *out = NULL;
    EL_REQUIRE(json, "el_vocab_from_json");
    /* cJSON turns "\u0000" into a NUL that would silently end its string;
     * no symbol holds one, so the escape can only mean malformed text. */
    if (strstr(json, "\\u0000")) return malformed("a string holds \\u0000", -1);
    el_vocab *v = NULL;
    el_status s = el_vocab_create(&v);
    if (s) return out_of_memory("el_vocab_from_json");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root)
        s = el__fail(EL_ERR_FORMAT, "el_vocab_from_json: not JSON (stopped at byte %td)",
                     end ? end - json : (ptrdiff_t)0);
    else
        s = read_json_vocab(v, root);
    cJSON_Delete(root);
    if (s) {
        el_vocab_free(v);
        return s;
    }
    *out = v;
    return EL_OK;
}

el_status el_one_hot(const int *ids, size_t count, int classes, el_tensor *out)
{
    EL_REQUIRE(out, "el_one_hot");
    if (count > 0) EL_REQUIRE(ids, "el_one_hot");
    if (classes <= 0)
        return el__fail(EL_ERR_INVALID, "el_one_hot: classes is %d, not positive", classes);
    if (count > INT_MAX)
        return el__fail(EL_ERR_INVALID, "el_one_hot: %zu ids exceed %d rows", count, INT_MAX);
    for (size_t i = 0; i < count; i++)
        if (ids[i] < 0 || ids[i] >= classes)
            return el__fail(EL_ERR_INVALID, "el_one_hot: id %d at position %zu is outside [0, %d)",
                            ids[i], i, classes);
    /* out sizes itself; one with count rows and classes columns keeps its
     * shape. */
    if (out->ndim == 0 || (size_t)el_tensor_rows(out) != count || el_tensor_cols(out) != classes) {
        el_status s = el__size_output("el_one_hot", "out", out, 2, (int[]){(int)count, classes});
        if (s) return s;
    }
    el_tensor_fill(out, 0.0f);
    for (size_t i = 0; i < count; i++) out->data[i * (size_t)classes + (size_t)ids[i]] = 1.0f;
    return EL_OK;
}
