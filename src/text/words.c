/* The word list (one word per line of a UTF-8 file) and ReverseWordDataset,
 * the course notebook's task: read a word backwards, write it forwards. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "elman/data.h"
#include "elman/file.h"
#include "core/hash.h"
#include "core/internal.h"
#include "text/clusters.h"

struct el_words {
    int count;
    el_clusters *words; /* views into text and starts; never freed one by one */
    char *text;         /* every kept word's bytes, each followed by a NUL */
    size_t *starts;     /* each word's count + 1 offsets, one word after another */
};

/* A line of the file once trimmed: clusters [first, end) of the whole text. */
typedef struct span {
    size_t first, end;
} span;

/* ---- clusters of the whole file ---------------------------------------- */

static int cluster_is(const el_clusters *c, size_t i, const char *bytes)
{
    size_t len;
    const char *p = el__cluster_bytes(c, i, &len);
    return len == strlen(bytes) && memcmp(p, bytes, len) == 0;
}

/* LF, CR LF (one cluster, UAX #29 rule GB3) or a lone CR ends a line. */
static int is_line_break(const el_clusters *c, size_t i)
{
    return cluster_is(c, i, "\n") || cluster_is(c, i, "\r\n") || cluster_is(c, i, "\r");
}

/* A cluster of one code point with Unicode's White_Space property (ASCII
 * spaces and tabs, U+00A0, U+2000..U+200A, U+3000, ...), or U+FEFF so that a
 * byte-order mark does not become part of the first word.  A space carrying
 * a combining mark is one visible cluster, not white space. */
static int is_blank(const el_clusters *c, size_t i)
{
    size_t len;
    const uint8_t *p = (const uint8_t *)el__cluster_bytes(c, i, &len);
    int32_t at = 0;
    UChar32 cp;
    U8_NEXT(p, at, (int32_t)len, cp);
    return (size_t)at == len && (u_isUWhiteSpace(cp) || cp == 0xFEFF);
}

static size_t span_bytes(const el_clusters *c, span s, const char **bytes)
{
    *bytes = c->text + c->starts[s.first];
    return c->starts[s.end] - c->starts[s.first];
}

/* ---- a hash set of lines, for removing duplicates ----------------------- */

typedef struct line_set {
    size_t *slots; /* 1 + an index into the kept spans; 0: empty */
    size_t mask;   /* slots - 1, a power of two minus one */
} line_set;

/* Room for n keys at most half full, so probes stay short. */
static int line_set_init(line_set *set, size_t n)
{
    size_t slots = 16;
    while (slots / 2 < n) {
        if (slots > SIZE_MAX / 4) return 0;
        slots *= 2;
    }
    set->slots = el__alloc_zero(slots, sizeof *set->slots);
    set->mask = slots - 1;
    return set->slots != NULL;
}

/* Inserts kept[k] unless an equal line is there already; 1 if inserted. */
static int line_set_add(line_set *set, const el_clusters *c, const span *kept, size_t k)
{
    const char *key;
    size_t len = span_bytes(c, kept[k], &key);
    for (size_t i = el__hash_bytes(key, len) & set->mask;; i = (i + 1) & set->mask) {
        if (set->slots[i] == 0) {
            set->slots[i] = k + 1;
            return 1;
        }
        const char *other;
        size_t other_len = span_bytes(c, kept[set->slots[i] - 1], &other);
        if (other_len == len && memcmp(other, key, len) == 0) return 0;
    }
}

/* ---- lines to words ---------------------------------------------------- */

static size_t count_lines(const el_clusters *c)
{
    size_t lines = 1;
    for (size_t i = 0; i < c->count; i++) lines += is_line_break(c, i);
    return lines;
}

static span trim(const el_clusters *c, span s)
{
    while (s.first < s.end && is_blank(c, s.first)) s.first++;
    while (s.end > s.first && is_blank(c, s.end - 1)) s.end--;
    return s;
}

static int length_fits(size_t length, int min_length, int max_length)
{
    return length > 0 && length >= (size_t)min_length &&
           (max_length == 0 || length <= (size_t)max_length);
}

/* Fills kept with the trimmed, non-blank, fitting lines, first occurrences
 * only unless duplicates are kept, in file order; returns how many, or
 * SIZE_MAX when out of memory. */
static size_t keep_lines(const el_clusters *c, span *kept, size_t lines, int min_length,
                         int max_length, int duplicates)
{
    line_set set;
    if (!line_set_init(&set, duplicates ? 1 : lines)) return SIZE_MAX;
    size_t n = 0;
    for (size_t i = 0; i <= c->count;) {
        span line = {i, i};
        while (line.end < c->count && !is_line_break(c, line.end)) line.end++;
        i = line.end + 1;
        kept[n] = trim(c, line);
        if (length_fits(kept[n].end - kept[n].first, min_length, max_length) &&
            (duplicates || line_set_add(&set, c, kept, n)))
            n++;
    }
    el__free(set.slots);
    return n;
}

/* Copies the kept lines into a word list of their own: one block of text
 * and one of offsets, each word an el_clusters viewing them. */
static el_status build_words(el_words **out, const el_clusters *c, const span *kept, size_t n)
{
    size_t bytes = 0, offsets = 0;
    for (size_t k = 0; k < n; k++) {
        bytes += c->starts[kept[k].end] - c->starts[kept[k].first] + 1;
        offsets += kept[k].end - kept[k].first + 1;
    }
    el_words *words = el__alloc_zero(1, sizeof *words);
    if (words) {
        words->words = el__alloc_zero(n, sizeof *words->words);
        words->text = el__alloc(bytes);
        words->starts = el__alloc_zero(offsets, sizeof *words->starts);
    }
    if (!words || !words->words || !words->text || !words->starts) {
        el_words_free(words);
        return el__fail(EL_ERR_NOMEM, "el_words_parse: out of memory for %zu words", n);
    }
    char *text = words->text;
    size_t *starts = words->starts;
    for (size_t k = 0; k < n; k++) {
        const char *src;
        size_t len = span_bytes(c, kept[k], &src);
        memcpy(text, src, len);
        text[len] = '\0';
        size_t clusters = kept[k].end - kept[k].first;
        for (size_t j = 0; j <= clusters; j++)
            starts[j] = c->starts[kept[k].first + j] - c->starts[kept[k].first];
        words->words[k] = (el_clusters){text, len, starts, clusters};
        text += len + 1;
        starts += clusters + 1;
    }
    words->count = (int)n;
    *out = words;
    return EL_OK;
}

/* The whole text is split into clusters at once, so that an invalid byte is
 * reported with its line and its offset from the start of the file; the
 * lines are then cut at line-break clusters. */
el_status el_words_parse(el_words **out, const char *text, size_t len, const char *source,
                         int min_length, int max_length)
{
    return el_words_parse_flags(out, text, len, source, min_length, max_length, 0);
}

el_status el_words_parse_flags(el_words **out, const char *text, size_t len, const char *source,
                               int min_length, int max_length, unsigned flags)
{
    EL_REQUIRE(out, "el_words_parse");
    *out = NULL;
    if (len > 0) EL_REQUIRE(text, "el_words_parse");
    if (flags & ~(unsigned)EL_WORDS_KEEP_DUPLICATES)
        return el__fail(EL_ERR_INVALID, "el_words_parse: unknown flags 0x%x", flags);
    if (min_length < 0 || max_length < 0 || (max_length > 0 && max_length < min_length))
        return el__fail(EL_ERR_INVALID,
                        "el_words_parse: the lengths %d..%d are not a range (0: no limit)",
                        min_length, max_length);
    el_clusters c = {0};
    el_status s = el_clusters_split(&c, len > 0 ? text : "", len, source, 1);
    if (s) return s;
    size_t lines = count_lines(&c);
    if (lines > INT_MAX) {
        el_clusters_free(&c);
        return el__fail(EL_ERR_INVALID, "el_words_parse: %s has more than %d lines",
                        source ? source : "text", INT_MAX);
    }
    span *kept = el__alloc_zero(lines, sizeof *kept);
    size_t n = kept ? keep_lines(&c, kept, lines, min_length, max_length,
                                 (flags & EL_WORDS_KEEP_DUPLICATES) != 0)
                    : SIZE_MAX;
    if (n == SIZE_MAX)
        s = el__fail(EL_ERR_NOMEM, "el_words_parse: out of memory for %zu lines", lines);
    else
        s = build_words(out, &c, kept, n);
    el__free(kept);
    el_clusters_free(&c);
    return s;
}

el_status el_words_read(el_words **out, const char *path, int min_length, int max_length)
{
    return el_words_read_flags(out, path, min_length, max_length, 0);
}

el_status el_words_read_flags(el_words **out, const char *path, int min_length, int max_length,
                              unsigned flags)
{
    EL_REQUIRE(out, "el_words_read");
    *out = NULL;
    EL_REQUIRE(path, "el_words_read");
    char *text = NULL;
    size_t len = 0;
    el_status s = el_read_file(path, &text, &len);
    if (s) return s;
    s = el_words_parse_flags(out, text, len, path, min_length, max_length, flags);
    el__free(text);
    return s;
}

void el_words_free(el_words *words)
{
    if (!words) return;
    el__free(words->words);
    el__free(words->text);
    el__free(words->starts);
    el__free(words);
}

int el_words_count(const el_words *words) { return words ? words->count : 0; }

const el_clusters *el_words_get(const el_words *words, int i)
{
    if (!words || i < 0 || i >= words->count) return NULL;
    return &words->words[i];
}

el_status el_vocab_add_words(el_vocab *vocab, const el_words *words)
{
    EL_REQUIRE(words, "el_vocab_add_words");
    EL_REQUIRE(vocab, "el_vocab_add_words");
    for (int i = 0; i < words->count; i++) {
        el_status s = el_vocab_add(vocab, &words->words[i]);
        if (s) return s;
    }
    return EL_OK;
}

/* ---- ReverseWordDataset ------------------------------------------------ */

struct el_reverse_words {
    int count;
    size_t *offsets; /* count + 1: example i is ids [offsets[i], offsets[i + 1]) */
    el_ids ids;      /* the listed words' ids, one word after another */
    int *reversed;   /* the same, each word's ids in reverse order */
};

void el_reverse_words_free(el_reverse_words *data)
{
    if (!data) return;
    el__free(data->offsets);
    el_ids_free(&data->ids);
    el__free(data->reversed);
    el__free(data);
}

/* Checks the indices and fills offsets with the running cluster counts. */
static el_status lay_out(el_reverse_words *data, const el_words *words, const int *indices)
{
    data->offsets[0] = 0;
    for (int k = 0; k < data->count; k++) {
        int i = indices[k];
        if (i < 0 || i >= words->count)
            return el__fail(EL_ERR_INVALID,
                            "el_reverse_words_create: indices[%d] = %d is outside 0..%d", k, i,
                            words->count - 1);
        size_t length = words->words[i].count;
        if (length > INT_MAX)
            return el__fail(EL_ERR_INVALID, "el_reverse_words_create: word %d has %zu clusters", i,
                            length);
        data->offsets[k + 1] = data->offsets[k] + length;
    }
    return EL_OK;
}

static el_status allocate_reverse_words(el_reverse_words **out, int count)
{
    el_reverse_words *data = el__alloc_zero(1, sizeof *data);
    if (data) {
        data->count = count;
        data->offsets = el__alloc_zero((size_t)count + 1, sizeof *data->offsets);
    }
    if (!data || !data->offsets) {
        el_reverse_words_free(data);
        return el__fail(EL_ERR_NOMEM, "el_reverse_words_create: out of memory");
    }
    *out = data;
    return EL_OK;
}

/* The id arrays, sized from the offsets; ids gets all its room here so that
 * encoding appends without growing it. */
static el_status allocate_ids(el_reverse_words *data)
{
    size_t total = data->offsets[data->count];
    data->ids.data = el__alloc_zero(total, sizeof *data->ids.data);
    data->ids.capacity = data->ids.data ? total : 0;
    data->reversed = el__alloc_zero(total, sizeof *data->reversed);
    if (!data->ids.data || !data->reversed)
        return el__fail(EL_ERR_NOMEM, "el_reverse_words_create: out of memory for %zu ids", total);
    return EL_OK;
}

/* Example k's target is the word's cluster ids; its input the same ids
 * reversed, so a cluster such as e + U+0301 stays one symbol. */
static el_status encode_words(el_reverse_words *data, const el_words *words, const int *indices,
                              const el_vocab *vocab)
{
    for (int k = 0; k < data->count; k++) {
        const el_clusters *word = &words->words[indices[k]];
        el_status s = el_vocab_encode(vocab, word, 0, word->count, &data->ids);
        if (s) return s;
        size_t first = data->offsets[k], length = word->count;
        for (size_t j = 0; j < length; j++)
            data->reversed[first + j] = data->ids.data[first + length - 1 - j];
    }
    return EL_OK;
}

el_status el_reverse_words_create(el_reverse_words **out, const el_words *words, const int *indices,
                                  int count, const el_vocab *vocab)
{
    EL_REQUIRE(out, "el_reverse_words_create");
    *out = NULL;
    EL_REQUIRE(words, "el_reverse_words_create");
    EL_REQUIRE(vocab, "el_reverse_words_create");
    if (count < 0)
        return el__fail(EL_ERR_INVALID, "el_reverse_words_create: count %d is negative", count);
    if (count > 0) EL_REQUIRE(indices, "el_reverse_words_create");
    el_reverse_words *data = NULL;
    el_status s = allocate_reverse_words(&data, count);
    if (!s) s = lay_out(data, words, indices);
    if (!s) s = allocate_ids(data);
    if (!s) s = encode_words(data, words, indices, vocab);
    if (s) {
        el_reverse_words_free(data);
        return s;
    }
    *out = data;
    return EL_OK;
}

static int reverse_words_count(void *self) { return ((el_reverse_words *)self)->count; }

static el_status reverse_words_get(void *self, int index, el_example *out)
{
    const el_reverse_words *data = self;
    if (index < 0 || index >= data->count)
        return el__fail(EL_ERR_INVALID, "ReverseWordDataset: index %d is outside 0..%d", index,
                        data->count - 1);
    size_t first = data->offsets[index];
    int length = (int)(data->offsets[index + 1] - first);
    *out = (el_example){data->reversed + first, length, data->ids.data + first, length};
    return EL_OK;
}

el_dataset el_reverse_words_dataset(el_reverse_words *data)
{
    if (!data) return (el_dataset){0};
    return (el_dataset){data, reverse_words_count, reverse_words_get};
}
