/* Pairs files (one source<TAB>target per line): reading and checking them,
 * grouping the pairs by source, and the dataset of a subset of them. */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "elman/file.h"
#include "elman/pairs.h"
#include "core/hash.h"
#include "core/internal.h"
#include "text/ids.h"
#include "text/utf8.h"

typedef struct pair {
    el_clusters source, target; /* each its own memory, from el_tokens_split */
    long line;
    int group;
} pair;

struct el_pairs {
    int count, groups;
    pair *pairs;
    int *group_starts;  /* groups + 1: group g is members[group_starts[g] .. group_starts[g + 1]) */
    int *group_members; /* pair indices, group after group, each group in file order */
};

/* ---- a hash table of pairs, by source or by the whole pair -------------- */

typedef struct table {
    int *slots; /* 1 + a pair index; 0: empty */
    size_t mask;
} table;

static int same_symbols(const el_clusters *a, const el_clusters *b)
{
    return a->count == b->count && a->bytes == b->bytes &&
           memcmp(a->text, b->text, a->bytes) == 0 &&
           memcmp(a->starts, b->starts, (a->count + 1) * sizeof *a->starts) == 0;
}

/* The text and the symbol count: "ab c" and "a bc" in spaces mode share the
 * text and the count, and differ only in same_symbols. */
static uint64_t hash_symbols(const el_clusters *c)
{
    return el__hash_bytes(c->text, c->bytes) ^ ((uint64_t)c->count * UINT64_C(0x9E3779B97F4A7C15));
}

/* Room for n keys at most half full, so probes stay short. */
static int table_init(table *t, size_t n)
{
    size_t slots = 16;
    while (slots / 2 < n) {
        if (slots > SIZE_MAX / 4) return 0;
        slots *= 2;
    }
    t->slots = el__alloc_zero(slots, sizeof *t->slots);
    t->mask = slots - 1;
    return t->slots != NULL;
}

/* The pair index already in t equal to pairs[k] (by source alone, or by
 * both sides), or -1 after inserting k. */
static int table_find_or_add(table *t, const pair *pairs, int k, int whole)
{
    const pair *p = &pairs[k];
    uint64_t h = hash_symbols(&p->source);
    if (whole) h = h * UINT64_C(1099511628211) ^ hash_symbols(&p->target);
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        if (t->slots[i] == 0) {
            t->slots[i] = k + 1;
            return -1;
        }
        const pair *q = &pairs[t->slots[i] - 1];
        if (same_symbols(&p->source, &q->source) &&
            (!whole || same_symbols(&p->target, &q->target)))
            return t->slots[i] - 1;
    }
}

/* ---- reading ------------------------------------------------------------ */

typedef struct reader {
    const char *name;
    el_tokens source_tokens, target_tokens;
    el_pairs *pairs;
    table by_pair, by_source;
} reader;

static void pair_free(pair *p)
{
    el_clusters_free(&p->source);
    el_clusters_free(&p->target);
}

void el_pairs_free(el_pairs *pairs)
{
    if (!pairs) return;
    for (int i = 0; i < pairs->count; i++) pair_free(&pairs->pairs[i]);
    el__free(pairs->pairs);
    el__free(pairs->group_starts);
    el__free(pairs->group_members);
    el__free(pairs);
}

static el_status bad_line(const reader *r, long line, const char *what, size_t byte)
{
    return el__fail(EL_ERR_FORMAT, "%s:%ld: %s (byte %zu)", r->name, line, what, byte);
}

/* Valid UTF-8 without NUL bytes, checked here so that the byte named is
 * the file's and not a side's. */
static el_status check_text(const reader *r, const char *text, size_t len, long line, size_t at)
{
    if (len > INT32_MAX) return bad_line(r, line, "a line longer than 2 GiB", at);
    size_t bad = el__utf8_invalid_at(text, len);
    const char *nul = memchr(text, '\0', len);
    size_t nul_at = nul ? (size_t)(nul - text) : len;
    if (bad < nul_at)
        return el__fail(EL_ERR_FORMAT, "%s:%ld: invalid UTF-8 at byte %zu", r->name, line,
                        at + bad);
    if (nul_at < len)
        return el__fail(EL_ERR_FORMAT, "%s:%ld: a NUL byte at byte %zu", r->name, line,
                        at + nul_at);
    return EL_OK;
}

/* Reads one non-empty line, starting at byte `at` of the file, into pair
 * k (a new one, or freed again when the same pair came before). */
static el_status read_line(reader *r, const char *text, size_t len, long line, size_t at)
{
    el_status s = check_text(r, text, len, line, at);
    if (s) return s;
    const char *tab = memchr(text, '\t', len);
    if (!tab) return bad_line(r, line, "no tab between source and target", at);
    size_t split = (size_t)(tab - text);
    const char *second = memchr(tab + 1, '\t', len - split - 1);
    if (second) return bad_line(r, line, "more than one tab", at + (size_t)(second - text));
    pair *p = &r->pairs->pairs[r->pairs->count];
    *p = (pair){.line = line};
    s = el_tokens_split(&p->source, r->source_tokens, text, split, r->name, line);
    if (!s)
        s = el_tokens_split(&p->target, r->target_tokens, tab + 1, len - split - 1, r->name, line);
    if (!s && p->source.count == 0) s = bad_line(r, line, "an empty source", at);
    if (!s && p->target.count == 0) s = bad_line(r, line, "an empty target", at + split + 1);
    if (!s && (p->source.count > INT_MAX || p->target.count > INT_MAX))
        s = bad_line(r, line, "a side of more than INT_MAX symbols", at);
    if (s || table_find_or_add(&r->by_pair, r->pairs->pairs, r->pairs->count, 1) >= 0) {
        pair_free(p);
        return s;
    }
    int earlier = table_find_or_add(&r->by_source, r->pairs->pairs, r->pairs->count, 0);
    p->group = earlier >= 0 ? r->pairs->pairs[earlier].group : r->pairs->groups++;
    r->pairs->count++;
    return EL_OK;
}

static el_status read_lines(reader *r, const char *text, size_t len)
{
    long line = 1;
    for (size_t at = 0; at < len; line++) {
        const char *newline = memchr(text + at, '\n', len - at);
        size_t end = newline ? (size_t)(newline - text) : len, stop = end;
        if (stop > at && text[stop - 1] == '\r') stop--;
        if (stop > at) {
            el_status s = read_line(r, text + at, stop - at, line, at);
            if (s) return s;
        }
        at = end + 1;
    }
    return EL_OK;
}

/* group_starts and group_members from each pair's group: a counting sort,
 * which keeps file order within a group. */
static el_status list_groups(el_pairs *p)
{
    p->group_starts = el__alloc_zero((size_t)p->groups + 1, sizeof *p->group_starts);
    p->group_members = el__alloc_zero((size_t)p->count + 1, sizeof *p->group_members);
    if (!p->group_starts || !p->group_members)
        return el__fail(EL_ERR_NOMEM, "el_pairs_parse: out of memory for %d groups", p->groups);
    for (int i = 0; i < p->count; i++) p->group_starts[p->pairs[i].group + 1]++;
    for (int g = 0; g < p->groups; g++) p->group_starts[g + 1] += p->group_starts[g];
    int *next = el__alloc_zero((size_t)p->groups + 1, sizeof *next);
    if (!next)
        return el__fail(EL_ERR_NOMEM, "el_pairs_parse: out of memory for %d groups", p->groups);
    memcpy(next, p->group_starts, ((size_t)p->groups + 1) * sizeof *next);
    for (int i = 0; i < p->count; i++) p->group_members[next[p->pairs[i].group]++] = i;
    el__free(next);
    return EL_OK;
}

static size_t count_lines(const char *text, size_t len)
{
    size_t lines = 1;
    for (const char *p = text, *end = text + len; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        lines++;
    return lines;
}

el_status el_pairs_parse(el_pairs **out, const char *text, size_t len, const char *name,
                         el_tokens source_tokens, el_tokens target_tokens)
{
    EL_REQUIRE(out, "el_pairs_parse");
    *out = NULL;
    if (len > 0) EL_REQUIRE(text, "el_pairs_parse");
    if (!el_tokens_name(source_tokens) || !el_tokens_name(target_tokens))
        return el__fail(EL_ERR_INVALID, "el_pairs_parse: the tokens %d and %d are not modes",
                        (int)source_tokens, (int)target_tokens);
    size_t lines = len > 0 ? count_lines(text, len) : 0;
    if (lines > INT_MAX)
        return el__fail(EL_ERR_INVALID, "el_pairs_parse: %s has more than %d lines",
                        name ? name : "text", INT_MAX);
    reader r = {name ? name : "text", source_tokens, target_tokens, NULL, {0}, {0}};
    el_status s = EL_OK;
    r.pairs = el__alloc_zero(1, sizeof *r.pairs);
    if (r.pairs) r.pairs->pairs = el__alloc_zero(lines + 1, sizeof *r.pairs->pairs);
    if (!r.pairs || !r.pairs->pairs || !table_init(&r.by_pair, lines) ||
        !table_init(&r.by_source, lines))
        s = el__fail(EL_ERR_NOMEM, "el_pairs_parse: out of memory for %zu lines", lines);
    if (!s) s = read_lines(&r, text, len);
    if (!s) s = list_groups(r.pairs);
    el__free(r.by_pair.slots);
    el__free(r.by_source.slots);
    if (s) {
        el_pairs_free(r.pairs);
        return s;
    }
    *out = r.pairs;
    return EL_OK;
}

el_status el_pairs_read(el_pairs **out, const char *path, el_tokens source_tokens,
                        el_tokens target_tokens)
{
    EL_REQUIRE(out, "el_pairs_read");
    *out = NULL;
    EL_REQUIRE(path, "el_pairs_read");
    char *text = NULL;
    size_t len = 0;
    el_status s = el_read_file(path, &text, &len);
    if (s) return s;
    s = el_pairs_parse(out, text, len, path, source_tokens, target_tokens);
    el__free(text);
    return s;
}

/* ---- reading the pairs and their groups --------------------------------- */

int el_pairs_count(const el_pairs *pairs) { return pairs ? pairs->count : 0; }

static const pair *pair_at(const el_pairs *pairs, int i)
{
    return pairs && i >= 0 && i < pairs->count ? &pairs->pairs[i] : NULL;
}

const el_clusters *el_pairs_source(const el_pairs *pairs, int i)
{
    const pair *p = pair_at(pairs, i);
    return p ? &p->source : NULL;
}

const el_clusters *el_pairs_target(const el_pairs *pairs, int i)
{
    const pair *p = pair_at(pairs, i);
    return p ? &p->target : NULL;
}

long el_pairs_line(const el_pairs *pairs, int i)
{
    const pair *p = pair_at(pairs, i);
    return p ? p->line : 0;
}

int el_pairs_groups(const el_pairs *pairs) { return pairs ? pairs->groups : 0; }

int el_pairs_group_of(const el_pairs *pairs, int i)
{
    const pair *p = pair_at(pairs, i);
    return p ? p->group : -1;
}

const int *el_pairs_group(const el_pairs *pairs, int g, int *count)
{
    if (count) *count = 0;
    if (!pairs || g < 0 || g >= pairs->groups) return NULL;
    if (count) *count = pairs->group_starts[g + 1] - pairs->group_starts[g];
    return pairs->group_members + pairs->group_starts[g];
}

el_status el_pairs_of_groups(const el_pairs *pairs, const int *groups, int count, el_ids *out)
{
    EL_REQUIRE(pairs, "el_pairs_of_groups");
    EL_REQUIRE(out, "el_pairs_of_groups");
    if (count > 0) EL_REQUIRE(groups, "el_pairs_of_groups");
    for (int k = 0; k < count; k++) {
        int n;
        const int *members = el_pairs_group(pairs, groups[k], &n);
        if (!members)
            return el__fail(EL_ERR_INVALID, "el_pairs_of_groups: groups[%d] = %d is outside 0..%d",
                            k, groups[k], pairs->groups - 1);
        el_status s = el__ids_reserve(out, out->count + (size_t)n, "el_pairs_of_groups");
        if (s) return s;
        memcpy(out->data + out->count, members, (size_t)n * sizeof *members);
        out->count += (size_t)n;
    }
    return EL_OK;
}

static el_status check_indices(const el_pairs *pairs, const int *indices, int count, const char *fn)
{
    if (count < 0) return el__fail(EL_ERR_INVALID, "%s: count %d is negative", fn, count);
    if (count > 0 && !indices) return el__fail(EL_ERR_INVALID, "%s: indices is NULL", fn);
    for (int k = 0; k < count; k++)
        if (indices[k] < 0 || indices[k] >= pairs->count)
            return el__fail(EL_ERR_INVALID, "%s: indices[%d] = %d is outside 0..%d", fn, k,
                            indices[k], pairs->count - 1);
    return EL_OK;
}

el_status el_vocab_add_pairs(el_vocab *source, el_vocab *target, const el_pairs *pairs,
                             const int *indices, int count)
{
    EL_REQUIRE(pairs, "el_vocab_add_pairs");
    el_status s = check_indices(pairs, indices, count, "el_vocab_add_pairs");
    for (int k = 0; k < count && !s; k++) {
        const pair *p = &pairs->pairs[indices[k]];
        if (source) s = el_vocab_add(source, &p->source);
        if (!s && target) s = el_vocab_add(target, &p->target);
    }
    return s;
}

/* ---- the dataset -------------------------------------------------------- */

struct el_pair_data {
    int count;
    size_t *source_starts, *target_starts; /* count + 1 each, into the ids */
    el_ids source_ids, target_ids;
};

void el_pair_data_free(el_pair_data *data)
{
    if (!data) return;
    el__free(data->source_starts);
    el__free(data->target_starts);
    el_ids_free(&data->source_ids);
    el_ids_free(&data->target_ids);
    el__free(data);
}

static el_status encode_pairs(el_pair_data *data, const el_pairs *pairs, const int *indices,
                              const el_vocab *source_vocab, const el_vocab *target_vocab)
{
    for (int k = 0; k < data->count; k++) {
        const pair *p = &pairs->pairs[indices[k]];
        el_status s =
            el_vocab_encode(source_vocab, &p->source, 0, p->source.count, &data->source_ids);
        if (!s)
            s = el_vocab_encode(target_vocab, &p->target, 0, p->target.count, &data->target_ids);
        if (s) return s;
        data->source_starts[k + 1] = data->source_ids.count;
        data->target_starts[k + 1] = data->target_ids.count;
    }
    return EL_OK;
}

el_status el_pair_data_create(el_pair_data **out, const el_pairs *pairs, const int *indices,
                              int count, const el_vocab *source_vocab, const el_vocab *target_vocab)
{
    static const char fn[] = "el_pair_data_create";
    EL_REQUIRE(out, fn);
    *out = NULL;
    EL_REQUIRE(pairs, fn);
    EL_REQUIRE(source_vocab, fn);
    EL_REQUIRE(target_vocab, fn);
    el_status s = check_indices(pairs, indices, count, fn);
    if (s) return s;
    el_pair_data *data = el__alloc_zero(1, sizeof *data);
    if (data) {
        data->count = count;
        data->source_starts = el__alloc_zero((size_t)count + 1, sizeof *data->source_starts);
        data->target_starts = el__alloc_zero((size_t)count + 1, sizeof *data->target_starts);
    }
    if (!data || !data->source_starts || !data->target_starts)
        s = el__fail(EL_ERR_NOMEM, "%s: out of memory for %d pairs", fn, count);
    if (!s) s = encode_pairs(data, pairs, indices, source_vocab, target_vocab);
    if (s) {
        el_pair_data_free(data);
        return s;
    }
    *out = data;
    return EL_OK;
}

static int pair_data_count(void *self) { return ((el_pair_data *)self)->count; }

static el_status pair_data_get(void *self, int index, el_example *out)
{
    const el_pair_data *data = self;
    if (index < 0 || index >= data->count)
        return el__fail(EL_ERR_INVALID, "el_pair_data: index %d is outside 0..%d", index,
                        data->count - 1);
    size_t s0 = data->source_starts[index], t0 = data->target_starts[index];
    *out = (el_example){data->source_ids.data + s0, (int)(data->source_starts[index + 1] - s0),
                        data->target_ids.data + t0, (int)(data->target_starts[index + 1] - t0)};
    return EL_OK;
}

el_dataset el_pair_data_dataset(el_pair_data *data)
{
    if (!data) return (el_dataset){0};
    return (el_dataset){data, pair_data_count, pair_data_get};
}
