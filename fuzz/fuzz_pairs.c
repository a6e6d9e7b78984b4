/* The pairs-file parser on arbitrary bytes.  The first byte chooses the
 * token modes (bit 0: the sources', bit 1: the targets', spaces when set),
 * the rest is the file: it is refused with EL_ERR_FORMAT and a message
 * naming a line, or every pair has a non-empty source and target, pairs
 * are listed once, the groups partition the pairs with one source each,
 * and vocabularies built from the pairs decode each side's ids back to its
 * symbols. */
#include <string.h>

#include "elman/pairs.h"
#include "fuzz.h"

static int same(const el_clusters *a, const el_clusters *b)
{
    return a->count == b->count && a->bytes == b->bytes &&
           memcmp(a->text, b->text, a->bytes) == 0 &&
           memcmp(a->starts, b->starts, (a->count + 1) * sizeof *a->starts) == 0;
}

static void check_side(const el_clusters *c, el_tokens tokens)
{
    FUZZ_CHECK(c->count > 0 && c->bytes > 0);
    FUZZ_CHECK(c->starts[0] == 0 && c->starts[c->count] == c->bytes);
    for (size_t i = 0; i < c->count; i++) FUZZ_CHECK(c->starts[i] < c->starts[i + 1]);
    FUZZ_CHECK(memchr(c->text, '\n', c->bytes) == NULL && memchr(c->text, '\t', c->bytes) == NULL);
    /* A token holds no lone space (a space with a combining mark is one
     * visible cluster, and may be part of one). */
    for (size_t i = 0; tokens == EL_TOKENS_SPACES && i < c->count; i++)
        FUZZ_CHECK(c->starts[i + 1] - c->starts[i] != 1 || c->text[c->starts[i]] != ' ');
}

/* Encodes c with v and decodes it: the symbols come back, joined as the
 * mode joins them. */
static void check_round_trip(const el_vocab *v, const el_clusters *c, el_tokens tokens)
{
    el_ids ids = {0};
    FUZZ_CHECK(el_vocab_encode(v, c, 0, c->count, &ids) == EL_OK && ids.count == c->count);
    size_t cap = c->bytes + c->count + 1, len = 0;
    char *buf = malloc(cap);
    FUZZ_CHECK(buf != NULL);
    FUZZ_CHECK(el_tokens_decode(v, tokens, ids.data, ids.count, buf, cap, &len) == EL_OK);
    size_t at = 0;
    for (size_t i = 0; i < c->count; i++) {
        size_t n = c->starts[i + 1] - c->starts[i];
        if (i > 0 && tokens == EL_TOKENS_SPACES) FUZZ_CHECK(buf[at++] == ' ');
        FUZZ_CHECK(memcmp(buf + at, c->text + c->starts[i], n) == 0);
        at += n;
    }
    FUZZ_CHECK(at == len);
    free(buf);
    el_ids_free(&ids);
}

static void check_groups(const el_pairs *p)
{
    int n = el_pairs_count(p), seen = 0;
    for (int g = 0; g < el_pairs_groups(p); g++) {
        int count = 0;
        const int *members = el_pairs_group(p, g, &count);
        FUZZ_CHECK(members != NULL && count >= 1);
        seen += count;
        for (int k = 0; k < count; k++) {
            FUZZ_CHECK(el_pairs_group_of(p, members[k]) == g);
            FUZZ_CHECK(same(el_pairs_source(p, members[k]), el_pairs_source(p, members[0])));
            FUZZ_CHECK(k == 0 || members[k] > members[k - 1]);
        }
    }
    FUZZ_CHECK(seen == n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    el_tokens source_tokens = (el_tokens)(data[0] & 1),
              target_tokens = (el_tokens)(data[0] >> 1 & 1);
    el_pairs *p = NULL;
    el_status s =
        el_pairs_parse(&p, (const char *)data + 1, size - 1, "fuzz", source_tokens, target_tokens);
    if (s) {
        FUZZ_CHECK(s == EL_ERR_FORMAT && p == NULL);
        FUZZ_CHECK(strncmp(el_last_error(), "fuzz:", 5) == 0);
        return 0;
    }
    int n = el_pairs_count(p);
    for (int i = 0; i < n; i++) {
        check_side(el_pairs_source(p, i), source_tokens);
        check_side(el_pairs_target(p, i), target_tokens);
        FUZZ_CHECK(el_pairs_line(p, i) >= 1 &&
                   (i == 0 || el_pairs_line(p, i) > el_pairs_line(p, i - 1)));
        for (int j = 0; j < i; j++)
            FUZZ_CHECK(!same(el_pairs_source(p, i), el_pairs_source(p, j)) ||
                       !same(el_pairs_target(p, i), el_pairs_target(p, j)));
    }
    check_groups(p);
    el_vocab *sv = NULL, *tv = NULL;
    FUZZ_CHECK(el_vocab_create(&sv) == EL_OK && el_vocab_create(&tv) == EL_OK);
    el_ids all = {0};
    for (int g = 0; g < el_pairs_groups(p); g++)
        FUZZ_CHECK(el_pairs_of_groups(p, &g, 1, &all) == EL_OK);
    FUZZ_CHECK(all.count == (size_t)n);
    FUZZ_CHECK(el_vocab_add_pairs(sv, tv, p, all.data, n) == EL_OK);
    FUZZ_CHECK(el_vocab_finish(sv, 1) == EL_OK && el_vocab_finish(tv, 1) == EL_OK);
    for (int i = 0; i < n; i++) {
        check_round_trip(sv, el_pairs_source(p, i), source_tokens);
        check_round_trip(tv, el_pairs_target(p, i), target_tokens);
    }
    el_pair_data *d = NULL;
    FUZZ_CHECK(el_pair_data_create(&d, p, all.data, n, sv, tv) == EL_OK);
    el_dataset set = el_pair_data_dataset(d);
    for (int k = 0; k < n; k++) {
        el_example e;
        FUZZ_CHECK(set.get(set.self, k, &e) == EL_OK);
        FUZZ_CHECK((size_t)e.input_length == el_pairs_source(p, all.data[k])->count);
        FUZZ_CHECK((size_t)e.target_length == el_pairs_target(p, all.data[k])->count);
    }
    el_pair_data_free(d);
    el_ids_free(&all);
    el_vocab_free(sv);
    el_vocab_free(tv);
    el_pairs_free(p);
    return 0;
}
