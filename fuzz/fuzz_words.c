/* The word-list parser on arbitrary bytes.  The first two bytes choose the
 * length limits (min_length 0-3, max_length 0-7), the rest is the list: it
 * is refused with EL_ERR_FORMAT, or every word is non-empty, within the
 * limits, listed once, free of line breaks and surrounding white space, and
 * a vocabulary built from the words decodes each word's ids back to it. */
#include <string.h>

#include "elman/data.h"
#include "elman/vocab.h"
#include "fuzz.h"

static int is_space_cluster(const char *s, size_t n)
{
    return n == 1 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r');
}

static void check_word(const el_clusters *w, int min_length, int max_length)
{
    FUZZ_CHECK(w->count > 0 && w->bytes > 0);
    FUZZ_CHECK(min_length == 0 || w->count >= (size_t)min_length);
    FUZZ_CHECK(max_length == 0 || w->count <= (size_t)max_length);
    FUZZ_CHECK(w->starts[0] == 0 && w->starts[w->count] == w->bytes);
    FUZZ_CHECK(memchr(w->text, '\n', w->bytes) == NULL && memchr(w->text, '\r', w->bytes) == NULL);
    FUZZ_CHECK(!is_space_cluster(w->text, w->starts[1]));
    size_t last = w->starts[w->count - 1];
    FUZZ_CHECK(!is_space_cluster(w->text + last, w->bytes - last));
}

/* Encodes word with v and decodes it: the same bytes come back. */
static void check_round_trip(const el_vocab *v, const el_clusters *w)
{
    el_ids ids = {0};
    FUZZ_CHECK(el_vocab_encode(v, w, 0, w->count, &ids) == EL_OK && ids.count == w->count);
    size_t len = 0;
    char *buf = malloc(w->bytes + 1);
    FUZZ_CHECK(buf != NULL);
    FUZZ_CHECK(el_vocab_decode(v, ids.data, ids.count, buf, w->bytes + 1, &len) == EL_OK);
    FUZZ_CHECK(len == w->bytes && memcmp(buf, w->text, len) == 0);
    free(buf);
    el_ids_free(&ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    int min_length = data[0] % 4, max_length = data[1] % 8;
    if (max_length && max_length < min_length) max_length = min_length;
    el_words *words = NULL;
    el_status s =
        el_words_parse(&words, (const char *)data + 2, size - 2, "fuzz", min_length, max_length);
    if (s) {
        FUZZ_CHECK(s == EL_ERR_FORMAT && words == NULL);
        return 0;
    }
    int n = el_words_count(words);
    for (int i = 0; i < n; i++) {
        const el_clusters *w = el_words_get(words, i);
        check_word(w, min_length, max_length);
        for (int j = 0; j < i; j++) {
            const el_clusters *u = el_words_get(words, j);
            FUZZ_CHECK(u->bytes != w->bytes || memcmp(u->text, w->text, w->bytes) != 0);
        }
    }
    el_vocab *v = NULL;
    FUZZ_CHECK(el_vocab_create(&v) == EL_OK);
    FUZZ_CHECK(el_vocab_add_words(v, words) == EL_OK);
    FUZZ_CHECK(el_vocab_finish(v, 1) == EL_OK);
    for (int i = 0; i < n; i++) check_round_trip(v, el_words_get(words, i));
    el_vocab_free(v);
    el_words_free(words);
    return 0;
}
